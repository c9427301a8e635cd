"""Duplicates processed once (`idempotency: true`): the processor against moto's DynamoDB.

The table is created as infra/idempotency.py declares it, and the processor gets the
environment the program gives it (the same variable names and the default time to live).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from factories import REGION, LambdaContext, listener_record, sqs_event

from infra.consumer import ConsumerArgs
from infra.idempotency import EXPIRY_ATTRIBUTE, KEY_ATTRIBUTE, TABLE_VARIABLE, TTL_VARIABLE

TABLE = "async-webhook-dev-processor-idempotency"
WAIT = 10.0
"""A bound on every wait for another thread: a test that would hang fails instead."""


@pytest.fixture
def table(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": EXPIRY_ATTRIBUTE},
    )
    return client


@pytest.fixture
def guarded(load_function: Callable[..., Any], table: Any) -> Any:
    """The processor with idempotency on, as the program configures it."""
    ttl = str(ConsumerArgs(idempotency=True).idempotency_ttl_seconds)
    return load_function(
        "processor",
        {TABLE_VARIABLE: TABLE, TTL_VARIABLE: ttl, "AWS_LAMBDA_FUNCTION_NAME": "processor"},
    )


class Effects:
    """process() stand-in: counts each delivery it handled, fails the first `fail` calls."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.calls: list[str] = []
        self.done: list[str] = []

    def __call__(self, message: Any) -> None:
        self.calls.append(message.message_id)
        if len(self.calls) <= self.fail:
            raise RuntimeError("downstream unavailable")
        self.done.append(message.message_id)


def invoke(processor: Any, *records: dict[str, Any]) -> list[str]:
    result = processor.handler.handler(sqs_event(records), LambdaContext(function_name="processor"))
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def delivery(message_id: str, body: Any = None, delivery_id: str | None = "evt_1") -> Any:
    attributes = {"deliveryId": delivery_id} if delivery_id else {}
    return listener_record(body or {"id": "evt_1"}, message_id=message_id, attributes=attributes)


def items(table: Any) -> list[dict[str, Any]]:
    return list(table.scan(TableName=TABLE)["Items"])


def test_the_same_delivery_three_times_has_one_effect(guarded, table, monkeypatch):
    # GIVEN the processor with idempotency on
    effects = Effects()
    monkeypatch.setattr(guarded.handler, "process", effects)
    # WHEN a sender's delivery arrives three times (new SQS messages, one delivery id), once
    # in a batch of its own and twice together
    assert invoke(guarded, delivery("m-1")) == []
    assert invoke(guarded, delivery("m-2"), delivery("m-3")) == []
    # THEN process() ran once, and every record succeeded (the duplicates are done, not failed)
    assert effects.done == ["m-1"]
    # AND one record is kept, done, expiring on the attribute the table's TTL reads
    [item] = items(table)
    assert item["status"] == {"S": "COMPLETED"}
    assert EXPIRY_ATTRIBUTE in item


def test_without_a_delivery_id_the_body_hash_is_the_key(guarded, table, monkeypatch):
    # GIVEN the processor with idempotency on and messages without a delivery id
    effects = Effects()
    monkeypatch.setattr(guarded.handler, "process", effects)
    same = {"object_id": 1}
    # WHEN one body arrives twice and another body once
    assert invoke(guarded, delivery("m-1", same, None), delivery("m-2", same, None)) == []
    assert invoke(guarded, delivery("m-3", {"object_id": 2}, None)) == []
    # THEN each body was processed once
    assert effects.done == ["m-1", "m-3"]
    assert len(items(table)) == 2
    # AND the key is the SHA-256 of the body (a delivery id names its kind apart)
    key_of = guarded.modules["idempotency"].idempotency_key
    message = guarded.modules["message"].Message.from_sqs_record(delivery("m-1", same, None))
    assert key_of(message) == {"bodySha256": hashlib.sha256(message.data).hexdigest()}


def test_a_failure_leaves_nothing_behind_so_the_retry_runs_and_then_it_is_done_once(
    guarded, table, monkeypatch
):
    # GIVEN business logic that fails the first time
    effects = Effects(fail=1)
    monkeypatch.setattr(guarded.handler, "process", effects)
    # WHEN the delivery fails
    assert invoke(guarded, delivery("m-1")) == ["m-1"]
    # THEN no record of it is kept
    assert items(table) == []
    # WHEN SQS hands it out again, and the sender retries it later
    assert invoke(guarded, delivery("m-1")) == []
    assert invoke(guarded, delivery("m-9")) == []
    # THEN the retry ran it, and the later duplicate did not
    assert effects.calls == ["m-1", "m-1"]
    assert effects.done == ["m-1"]


def test_a_key_in_progress_elsewhere_fails_the_record_until_that_invocation_is_done(
    guarded, table, monkeypatch
):
    # GIVEN one invocation inside process() for a delivery, held there
    entered, release = threading.Event(), threading.Event()
    done: list[str] = []

    def slow(message: Any) -> None:
        if message.message_id == "m-1":
            entered.set()
            assert release.wait(WAIT), "never released"
        done.append(message.message_id)

    monkeypatch.setattr(guarded.handler, "process", slow)
    first: list[list[str]] = []
    worker = threading.Thread(target=lambda: first.append(invoke(guarded, delivery("m-1"))))
    worker.start()
    try:
        assert entered.wait(WAIT), "the first invocation never reached process()"
        # WHEN a second invocation gets the same delivery meanwhile
        second = invoke(guarded, delivery("m-2"))
    finally:
        release.set()
        worker.join(WAIT)
    # THEN the second reports its record failed (SQS retries it later) without running it
    assert second == ["m-2"]
    assert first == [[]]
    assert done == ["m-1"]
    # AND when SQS retries it, it is done already and nothing runs twice
    assert invoke(guarded, delivery("m-2")) == []
    assert done == ["m-1"]


def test_off_by_default_no_table_is_used_and_the_utility_is_not_loaded(load_function, monkeypatch):
    # GIVEN the processor as the program gives it with idempotency off (no table named)
    processor = load_function("processor")
    effects = Effects()
    monkeypatch.setattr(processor.handler, "process", effects)
    # WHEN the same delivery arrives twice
    assert invoke(processor, delivery("m-1"), delivery("m-2")) == []
    # THEN both are processed, and the idempotency module (with boto3) was never imported
    assert effects.done == ["m-1", "m-2"]
    assert processor.handler._once is None
    assert "idempotency" not in processor.modules


@pytest.mark.parametrize("ttl", ["", "soon", "0"])
def test_a_table_without_a_usable_time_to_live_fails_at_start_up(load_function, table, ttl):
    # GIVEN a table name but a broken time to live (the program always sets both)
    # WHEN the processor starts THEN it refuses clearly, naming the variable
    with pytest.raises(RuntimeError, match=TTL_VARIABLE):
        load_function("processor", {TABLE_VARIABLE: TABLE, TTL_VARIABLE: ttl})
