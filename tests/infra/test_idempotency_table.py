"""`idempotency: true`: the table Powertools needs, the processor's exact access, the rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import parse_config
from infra.idempotency import ITEM_ACTIONS, TABLE_VARIABLE, TTL_VARIABLE
from infra.settings import ConfigError
from tests.infra.test_rules import _actions, _resources, _role_of, _statements_of


def _dynamodb_statements(stack: Any, function: str) -> list[dict[str, Any]]:
    return [
        s
        for s in _statements_of(stack, _role_of(stack, function))
        if any(a.startswith("dynamodb:") for a in _actions(s))
    ]


def test_off_by_default_no_table_and_no_dynamodb_access(dev_stack):
    # GIVEN the dev stack (idempotency: false) WHEN the program runs
    stack = dev_stack
    # THEN no table, no DynamoDB permission, and nothing about it in the processor's environment
    assert stack.of_type("dynamodb/table:Table") == []
    assert _dynamodb_statements(stack, "processor") == []
    environment = (stack.one(":Function", "processor").inputs.get("environment") or {}).get(
        "variables", {}
    )
    assert TABLE_VARIABLE not in environment


@pytest.mark.parametrize("protect", [False, True])
def test_on_the_table_is_what_powertools_writes_to(run_program, protect):
    # GIVEN idempotency on, with and without protectData, and a user tag
    stack = run_program({"idempotency": True, "protectData": protect, "tags": {"team": "x"}})
    table = stack.one("dynamodb/table:Table")
    i = table.inputs
    # THEN on-demand, keyed and expiring on Powertools' default attributes, encrypted
    assert i["billingMode"] == "PAY_PER_REQUEST"
    assert i["hashKey"] == "id"
    assert i["attributes"] == [{"name": "id", "type": "S"}]
    assert i["ttl"] == {"attributeName": "expiration", "enabled": True}
    assert i["serverSideEncryption"] == {"enabled": True}
    assert i["name"] == "async-webhook-dev-processor-idempotency"
    # AND tagged like every resource, protected exactly when protectData is on
    assert i["tags"] == {"project": "async-webhook", "stack": "dev", "team": "x"}
    assert table.protect is protect
    # AND a child of the consumer
    assert "async-webhook:index:Consumer" in table.urn


def test_on_the_processor_may_use_exactly_the_item_actions_on_that_table_only(run_program):
    stack = run_program({"idempotency": True})
    table = stack.one("dynamodb/table:Table")
    [statement] = _dynamodb_statements(stack, "processor")
    assert (
        _actions(statement)
        == set(ITEM_ACTIONS)
        == {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        }
    )
    assert _resources(statement) == {table.state["arn"]}
    assert _dynamodb_statements(stack, "listener") == []


def test_on_the_processor_is_told_the_table_and_the_time_to_live(run_program):
    stack = run_program({"idempotency": True, "idempotencyTtlSeconds": 900000})
    variables = stack.one(":Function", "processor").inputs["environment"]["variables"]
    assert variables[TABLE_VARIABLE] == stack.one("dynamodb/table:Table").inputs["name"]
    assert variables[TTL_VARIABLE] == "900000"


def parse(raw: dict[str, str]) -> Any:
    return parse_config(raw, project="async-webhook", stack="dev")


def test_settings_default_to_off_and_seven_days():
    config = parse({})
    assert config.processor.idempotency is False
    assert config.processor.idempotency_ttl_seconds == 7 * 24 * 3600


@pytest.mark.parametrize(
    ("raw", "value", "rule_part"),
    [
        ({"idempotencyTtlSeconds": "60"}, 60, "between 3600 and 31536000"),
        ({"idempotencyTtlSeconds": "31536001"}, 31536001, "between 3600 and 31536000"),
        ({"idempotencyTtlSeconds": "week"}, "week", "whole number"),
        (
            {"idempotency": "true", "idempotencyTtlSeconds": "86400"},
            86400,
            "at least messageRetentionSeconds (345600)",
        ),
        (
            {"idempotency": "true", "messageRetentionSeconds": "864000"},
            604800,
            "at least messageRetentionSeconds (864000)",
        ),
    ],
)
def test_time_to_live_rules_name_key_value_and_rule(raw, value, rule_part):
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    [problem] = caught.value.problems
    assert (problem.key, problem.value) == ("idempotencyTtlSeconds", value)
    assert rule_part in problem.rule
    assert f"async-webhook:idempotencyTtlSeconds = {json.dumps(value)}" in str(caught.value)


def test_a_short_time_to_live_is_fine_while_idempotency_is_off():
    assert parse({"idempotencyTtlSeconds": "86400"}).processor.idempotency is False


def test_idempotency_must_be_a_boolean():
    with pytest.raises(ConfigError, match='idempotency = "yes": must be true or false'):
        parse({"idempotency": "yes"})
