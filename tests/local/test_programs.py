"""The local cloud on a small fixture program: payload 2.0, errors, environment, IAM, batches,
one server per stack."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloud_helpers import (
    FIXTURE_PROGRAM,
    aws_client,
    burst,
    log_text,
    quiet,
    redelivered_only,
    request,
    wait_for,
    worker_receive_counts,
)

from local.cloud import LocalCloud, StackBusyError


@pytest.fixture(scope="module")
def fixture_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud(
        FIXTURE_PROGRAM,
        stack="test",
        port=0,
        stream=quiet(),
        state_root=tmp_path_factory.mktemp("state"),
        account_concurrency=500,
        max_workers=12,
    )
    cloud.start()
    yield cloud
    cloud.stop()


def test_functions_share_the_account_and_machine_limits_given(fixture_cloud: LocalCloud):
    functions = list(fixture_cloud._provider.deployment.functions.values())
    assert len(functions) == 3
    assert {id(f.account) for f in functions} == {id(functions[0].account)}
    assert {id(f.machine) for f in functions} == {id(functions[0].machine)}
    assert functions[0].account.limit == 500
    assert functions[0].account.unreserved_limit == 499  # one reserved by "reserved"
    assert functions[0].machine.capacity == 12


def test_reserved_concurrency_of_one_throttles_a_burst_with_429s(fixture_cloud: LocalCloud):
    # GIVEN a function with reserved concurrency 1 whose invocations take 20 ms
    url = fixture_cloud.outputs["reserved_url"]
    # WHEN 100 POSTs arrive from 20 clients at once
    answers = burst(url, "nap", total=100, clients=20)
    # THEN the excess is throttled with Lambda's 429, the rest is served
    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) == {200, 429}, statuses
    throttled = next(a for a in answers if a[0] == 429)
    assert throttled[1]["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert json.loads(throttled[2]) == {"Message": "Rate Exceeded."}


def test_function_url_speaks_payload_2_0_both_ways(fixture_cloud: LocalCloud):
    url = fixture_cloud.outputs["echo_url"]
    status, headers, body = request(
        url,
        "POST",
        "some/path?b=2&a=1&a=3",
        b'{"x": 1}',
        {"Content-Type": "application/json", "X-Custom": "v", "User-Agent": "tester/1.0"},
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    event = json.loads(body)
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/some/path"
    assert event["rawQueryString"] == "b=2&a=1&a=3"
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2"}
    assert event["headers"]["x-custom"] == "v"
    assert all(name == name.lower() for name in event["headers"])
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["http"]["userAgent"] == "tester/1.0"
    assert event["requestContext"]["requestId"]
    assert isinstance(event["requestContext"]["timeEpoch"], int)
    assert event["body"] == '{"x": 1}'
    assert event["isBase64Encoded"] is False


def test_binary_bodies_arrive_base64_encoded(fixture_cloud: LocalCloud):
    url = fixture_cloud.outputs["echo_url"]
    raw = bytes(range(256))
    _, _, body = request(url, "POST", "bin", raw, {"content-type": "application/octet-stream"})
    event = json.loads(body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_function_errors_and_timeouts_are_502(fixture_cloud: LocalCloud):
    url = fixture_cloud.outputs["echo_url"]
    assert request(url, "GET", "boom")[0] == 502
    status, _, _ = request(url, "GET", "slow")
    assert status == 502
    # The function still works after its worker was killed for the timeout.
    assert request(url, "GET", "fine")[0] == 200


def test_function_sees_its_declared_environment(fixture_cloud: LocalCloud):
    _, _, body = request(fixture_cloud.outputs["echo_url"], "GET", "env")
    assert json.loads(body) == {"greeting": "hello", "token": "none", "has_role_keys": True}


def test_a_call_the_role_does_not_allow_is_denied_as_on_aws(fixture_cloud: LocalCloud):
    # GIVEN a function whose role may consume the queue but not send to it
    # WHEN it sends to the queue THEN the embedded AWS refuses, as AWS would
    _, _, body = request(fixture_cloud.outputs["echo_url"], "GET", "send")
    assert json.loads(body) == {"denied": True}


def test_without_iam_enforcement_the_same_call_goes_through(tmp_path: Path):
    with LocalCloud(
        FIXTURE_PROGRAM,
        stack="test",
        port=0,
        stream=quiet(),
        state_root=tmp_path,
        enforce_iam=False,
        fresh=True,
    ) as cloud:
        _, _, body = request(cloud.outputs["echo_url"], "GET", "send")
        assert json.loads(body) == {"denied": False}


def test_partial_batch_failure_retries_only_failed_records_then_dead_letters(
    fixture_cloud: LocalCloud,
):
    # GIVEN a queue with maxReceiveCount 2 and a 2 s visibility timeout
    sqs = aws_client("sqs", fixture_cloud, "eu-west-1")
    queue_url = fixture_cloud.outputs["queue_url"]
    # WHEN one good and one failing record are sent
    sqs.send_message(QueueUrl=queue_url, MessageBody="ok-partial")
    sqs.send_message(QueueUrl=queue_url, MessageBody="fail-partial")
    worker = fixture_cloud.outputs["worker_name"]
    # THEN the failing one reaches the DLQ after 2 receives, the good one is processed once
    dlq_url = fixture_cloud.outputs["dlq_url"]
    message = wait_for(
        lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages"),
        timeout=30,
        what="the failing record in the DLQ",
    )
    assert message[0]["Body"] == "fail-partial"
    log = log_text(fixture_cloud.log_dir, worker)
    # (at least once: the good one again only if its batch outlived the visibility timeout)
    assert redelivered_only(worker_receive_counts(log, "ok-partial"))
    assert "worker got fail-partial receive=1" in log
    assert "worker got fail-partial receive=2" in log
    assert "worker got fail-partial receive=3" not in log


def test_a_stack_is_served_once_and_the_second_try_leaves_the_first_alone(
    fixture_cloud: LocalCloud,
):
    # GIVEN the fixture stack served from a state folder WHEN a second local cloud of the same
    # stack and folder starts THEN it is refused
    second = LocalCloud(
        FIXTURE_PROGRAM,
        stack="test",
        port=0,
        stream=quiet(),
        state_root=fixture_cloud.state_dir.parent,
    )
    with pytest.raises(StackBusyError, match="already being served"):
        second.start()
    second.stop()
    # AND the first one's state is untouched and it still serves
    assert (fixture_cloud.state_dir / "outputs.json").exists()
    assert request(fixture_cloud.outputs["echo_url"], "GET", "fine")[0] == 200
