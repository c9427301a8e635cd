"""Listener -> SQS (moto) -> processor: what the listener enqueues is what the processor reads."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from environments import listener_env
from factories import (
    LambdaContext,
    event_body,
    md5_of_message_attributes,
    post_event,
    receive_messages,
    sqs_event_from_receive,
    sqs_record,
)

LoadFunction = Callable[..., Any]  # conftest.load_function


def test_a_strava_event_travels_intact_and_is_logged_by_id(
    load_function: LoadFunction, sqs: Any, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the listener and the processor, wired through a moto queue
    listener = load_function("listener", listener_env(queue_url)).handler
    processor = load_function("processor")
    body = event_body("strava-activity-create")
    event = post_event(body, request_id="req-e2e")
    # WHEN Strava posts an event and the mapping hands the queued message to the processor
    answer = json.loads(listener.handler(event, LambdaContext())["body"])
    sqs_event = sqs_event_from_receive(receive_messages(sqs, queue_url), queue_url=queue_url)
    result = processor.handler.handler(sqs_event, LambdaContext(function_name="processor"))
    # THEN the batch succeeds and the processor's log names the very SQS message id
    assert result == {"batchItemFailures": []}
    [record] = sqs_event["Records"]
    assert record["messageId"] == answer["message_id"]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [processed] = [line for line in logged if line["message"] == "message processed"]
    assert processed["message_id"] == answer["message_id"]
    assert processed["request_id"] == "req-e2e"
    assert processed["strava"]["object_id"] == json.loads(body)["object_id"]
    # AND the Message carries the request as it was sent
    message = processor.modules["message"].Message.from_sqs_record(record)
    assert message.data == body.encode()
    assert message.path == "/append_queue"
    assert message.receive_count == 1
    assert message.received_at is not None


def test_binary_bodies_round_trip(
    load_function: LoadFunction, sqs: Any, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a listener accepting octet-stream, and a processor recording its messages
    listener = load_function(
        "listener",
        listener_env(queue_url, accepted_content_types=("application/octet-stream",)),
    ).handler
    processor = load_function("processor")
    seen: list[Any] = []
    monkeypatch.setattr(processor.handler, "process", seen.append)
    raw = bytes(range(255, -1, -1))
    # WHEN the bytes are posted and processed
    event = post_event(raw, content_type="application/octet-stream")
    assert listener.handler(event, LambdaContext())["statusCode"] == 200
    sqs_event = sqs_event_from_receive(receive_messages(sqs, queue_url), queue_url=queue_url)
    assert processor.handler.handler(sqs_event, LambdaContext()) == {"batchItemFailures": []}
    # THEN the processor sees the original bytes
    [message] = seen
    assert message.data == raw
    assert message.content_type == "application/octet-stream"


def test_fifo_group_reaches_the_processor(
    load_function: LoadFunction, sqs: Any, fifo_queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a FIFO pipeline grouping by owner_id, and a processor failing the first message
    listener = load_function(
        "listener",
        listener_env(fifo_queue_url, fifo=True, message_group_field="owner_id"),
    ).handler
    processor = load_function("processor")
    for name in ("strava-activity-create", "strava-activity-update"):
        assert listener.handler(post_event(event_body(name)), LambdaContext())["statusCode"] == 200
    seen: list[Any] = []

    def fail_first(message: Any) -> None:
        seen.append(message)
        raise ValueError("downstream unavailable")

    monkeypatch.setattr(processor.handler, "process", fail_first)
    # WHEN the batch is processed
    sqs_event = sqs_event_from_receive(
        receive_messages(sqs, fifo_queue_url), queue_url=fifo_queue_url
    )
    result = processor.handler.handler(sqs_event, LambdaContext())
    # THEN the group id came through, and FIFO order held: both returned, one attempted
    assert [m.group_id for m in seen] == ["4567890"]
    ids = [r["messageId"] for r in sqs_event["Records"]]
    assert len(ids) == 2
    assert result == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def test_factory_records_match_what_sqs_computes(sqs: Any, queue_url: str) -> None:
    # GIVEN a message sent with String attributes
    attributes = {"path": "/append_queue", "requestId": "r-1", "bodyEncoding": "text"}
    typed = {n: {"DataType": "String", "StringValue": v} for n, v in attributes.items()}
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody="é{}", MessageAttributes=typed)
    # WHEN the factories describe the same message
    record = sqs_record("é{}", message_attributes=attributes)
    [received] = sqs_event_from_receive(receive_messages(sqs, queue_url), queue_url=queue_url)[
        "Records"
    ]
    # THEN the checksums agree with SQS's, and received records have the Lambda shape
    assert md5_of_message_attributes(typed) == sent["MD5OfMessageAttributes"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert received["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:async-webhook-queue"
    assert received["messageAttributes"]["path"] == {
        "stringValue": "/append_queue",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert set(received["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
