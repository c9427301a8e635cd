"""Message: what business logic sees of one SQS record."""

import base64
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from factories import event_body, listener_attributes, listener_record, sqs_record


@pytest.fixture
def message_module(processor: Any) -> Any:
    return processor.modules["message"]


def test_fields_from_a_listener_record(message_module: Any) -> None:
    # GIVEN a FIFO record the listener enqueued, received for the third time
    body = event_body("strava-activity-update")
    attributes = listener_attributes(
        content_type="application/json; charset=utf-8",
        received_at="2024-11-29T08:00:00.123Z",
        request_id="req-1",
    )
    record = sqs_record(
        body,
        message_id="m-1",
        message_attributes={**attributes, "custom": "yes"},
        receive_count=3,
        queue_name="async-webhook-queue.fifo",
        group_id="4567890",
    )
    # WHEN it becomes a Message
    message = message_module.Message.from_sqs_record(record)
    # THEN every field is decoded
    assert message.message_id == "m-1"
    assert message.body == body
    assert message.data == body.encode()
    assert message.text == body
    assert message.size == len(body.encode())
    assert message.body_encoding == "text"
    assert message.path == "/append_queue"
    assert message.content_type == "application/json; charset=utf-8"
    assert message.received_at == datetime(2024, 11, 29, 8, 0, 0, 123000, tzinfo=UTC)
    assert message.request_id == "req-1"
    assert message.receive_count == 3
    assert message.group_id == "4567890"
    assert message.attributes == {**attributes, "custom": "yes"}
    assert message.json()["updates"]["type"] == "Ride"
    assert message.record is record


def test_base64_record_decodes_to_the_original_bytes(message_module: Any) -> None:
    # GIVEN a binary request the listener enqueued as base64
    raw = bytes(range(256))
    record = listener_record(raw)
    # WHEN it becomes a Message
    message = message_module.Message.from_sqs_record(record)
    # THEN data is the original bytes, body the base64 text
    assert message.data == raw
    assert message.body == base64.b64encode(raw).decode()
    assert message.body_encoding == "base64"
    assert message.group_id is None


def test_text_and_json_raise_a_clear_value_error(message_module: Any) -> None:
    # GIVEN bytes that are not UTF-8, and text that is not JSON
    binary = message_module.Message.from_sqs_record(listener_record(b"\xff\xfe", message_id="b"))
    text = message_module.Message.from_sqs_record(listener_record("not json", message_id="t"))
    error = message_module.MessageDecodeError
    # WHEN they are read as text / JSON
    # THEN MessageDecodeError, a ValueError naming the message
    assert issubclass(error, ValueError)
    with pytest.raises(error, match="message b: body is not UTF-8"):
        _ = binary.text
    with pytest.raises(error, match="message b"):
        binary.json()
    with pytest.raises(error, match="message t: body is not JSON"):
        text.json()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"body": None}, id="no body"),
        pytest.param({"messageAttributes": {"bodyEncoding": {"stringValue": "base64"}}}, id="b64"),
        pytest.param(
            {"body": "é", "messageAttributes": {"bodyEncoding": {"stringValue": "base64"}}},
            id="non-ascii b64",
        ),
    ],
)
def test_unreadable_records_raise_message_decode_error(
    message_module: Any, change: dict[str, Any]
) -> None:
    # GIVEN a record whose body cannot be read
    record = {**sqs_record("?!", message_id="m-x"), **change}
    # WHEN it becomes a Message
    # THEN MessageDecodeError names it
    with pytest.raises(message_module.MessageDecodeError, match="m-x"):
        message_module.Message.from_sqs_record(record)


def test_a_plain_record_gets_sensible_defaults(message_module: Any) -> None:
    # GIVEN a record without the listener's attributes, and odd system attributes
    record = sqs_record("hello")
    record["attributes"]["ApproximateReceiveCount"] = "not a number"
    # WHEN it becomes a Message
    message = message_module.Message.from_sqs_record(record)
    # THEN text encoding is assumed and missing metadata is None
    assert (message.data, message.body_encoding, message.receive_count) == (b"hello", "text", 1)
    assert (message.path, message.content_type, message.received_at, message.request_id) == (
        None,
        None,
        None,
        None,
    )


def test_messages_are_frozen(message_module: Any) -> None:
    # GIVEN a Message
    message = message_module.Message.from_sqs_record(sqs_record("x"))
    # WHEN business logic tries to change it
    # THEN it cannot
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.message_id = "other"


def test_route_source_and_delivery_id_come_from_the_listener(message_module: Any) -> None:
    # GIVEN a record the listener enqueued from a verified GitHub route
    attributes = {
        **listener_attributes(path="/github"),
        "route": "gh",
        "source": "github",
        "deliveryId": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }
    record = sqs_record('{"zen": "x"}', message_attributes=attributes)
    # WHEN it becomes a Message
    message = message_module.Message.from_sqs_record(record)
    # THEN the route it came by and the sender's own delivery id are fields
    assert (message.route, message.source) == ("gh", "github")
    assert message.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def test_a_record_without_listener_attributes_has_none_of_them(message_module: Any) -> None:
    message = message_module.Message.from_sqs_record(sqs_record("plain"))
    assert (message.route, message.source, message.delivery_id) == (None, None, None)


def test_a_generated_body_is_text(message_module: Any) -> None:
    # GIVEN the body the listener made for an empty POST on an open route (the receive time)
    attributes = {**listener_attributes(body_encoding="generated")}
    record = sqs_record("2026-12-01T07:00:00.000Z", message_attributes=attributes)
    # WHEN it becomes a Message
    message = message_module.Message.from_sqs_record(record)
    # THEN it reads as that text
    assert (message.body_encoding, message.text) == ("generated", "2026-12-01T07:00:00.000Z")
