"""The packaged-alone functions against local/shapes.py, which they cannot import.

The listener and the processor ship without the rest of the repository, so the attribute names
and response shapes they use are tied to the shared module here: a name added on one side and not
the other, or a response the Function URL could not map, fails these tests.
"""

import ast
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from factories import (
    LambdaContext,
    function_url_event,
    post_event,
    receive_messages,
    sqs_event_from_receive,
)

from local import shapes

ROOT = Path(__file__).resolve().parents[2]


def test_the_listener_sets_exactly_the_shared_attributes(
    listener: ModuleType, sqs: Any, queue_url: str
) -> None:
    # GIVEN a POST carrying a user agent and a source IP (so every attribute applies)
    event = post_event({"object_id": 1}, content_type="application/json; charset=utf-8")
    # WHEN the listener enqueues it
    response = listener.handler(event, LambdaContext(function_name="listener"))
    assert response["statusCode"] == 200
    [message] = receive_messages(sqs, queue_url)
    sent = {name: a["StringValue"] for name, a in message["MessageAttributes"].items()}
    # THEN its attributes are the shared names (an open route's sender gives no delivery id),
    # with the values the shared builder gives the benchmarks and the tests for that event
    assert set(sent) == set(shapes.LISTENER_ATTRIBUTE_NAMES) - {"deliveryId"}
    assert {a["DataType"] for a in message["MessageAttributes"].values()} == {"String"}
    assert sent == shapes.listener_attributes_of(event, received_at=sent["receivedAt"])
    assert json.loads(response["body"])["timestamp"] == sent["receivedAt"]


def test_without_user_agent_the_listener_leaves_out_only_the_optional_attributes(
    listener: ModuleType, sqs: Any, queue_url: str
) -> None:
    event = post_event({"object_id": 1}, user_agent=None)

    assert listener.handler(event, LambdaContext())["statusCode"] == 200

    [message] = receive_messages(sqs, queue_url)
    missing = set(shapes.LISTENER_ATTRIBUTE_NAMES) - set(message["MessageAttributes"])
    assert missing == {"userAgent", "deliveryId"}
    assert missing <= shapes.OPTIONAL_LISTENER_ATTRIBUTES


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (post_event({"object_id": 1}), 200),
        (post_event("{", content_type="application/json"), 400),
        (post_event({"a": 1}, path="/nope"), 404),
        (function_url_event(method="PUT", body={"a": 1}), 405),
        (post_event("x", content_type="text/plain"), 415),
    ],
)
def test_every_listener_answer_maps_to_http_as_the_function_url_sends_it(
    listener: ModuleType, event: dict[str, Any], status: int
) -> None:
    # GIVEN the listener's answer to a request WHEN a Function URL maps it to HTTP
    answer = listener.handler(event, LambdaContext())
    response = shapes.http_response(json.loads(json.dumps(answer)))
    # THEN the client gets that status and JSON body, never a 502 for a malformed response
    assert response.status == status
    assert ("Content-Type", "application/json") in [
        (name.title(), value) for name, value in response.headers
    ]
    assert json.loads(response.body) == json.loads(answer["body"])


def test_the_processor_reads_no_attribute_the_listener_does_not_set() -> None:
    # GIVEN every attribute name functions/processor/message.py looks up by a literal
    tree = ast.parse((ROOT / "functions/processor/message.py").read_text())
    read = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "attributes"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    # THEN each is one the listener sets
    assert read, "no attribute lookups found: has message.py changed how it reads them?"
    assert read <= set(shapes.LISTENER_ATTRIBUTE_NAMES), read - set(shapes.LISTENER_ATTRIBUTE_NAMES)


def test_what_the_listener_enqueues_the_processor_reads_from_a_shared_record(
    listener: ModuleType, processor: Any, sqs: Any, queue_url: str
) -> None:
    # GIVEN a message the real listener enqueued, delivered as the shared SQS record
    message_module = processor.modules["message"]
    event = post_event({"object_id": 7}, request_id="req-7")
    assert listener.handler(event, LambdaContext())["statusCode"] == 200
    [record] = sqs_event_from_receive(receive_messages(sqs, queue_url), queue_url=queue_url)[
        "Records"
    ]
    # WHEN the processor's Message is built from it
    message = message_module.Message.from_sqs_record(record)
    # THEN every field the listener's attributes carry arrives
    attributes = shapes.listener_attributes_of(
        event, received_at=record["messageAttributes"]["receivedAt"]["stringValue"]
    )
    assert message.attributes == attributes
    assert message.path == attributes["path"]
    assert message.content_type == attributes["contentType"]
    assert message.request_id == "req-7"
    assert message.body_encoding == attributes["bodyEncoding"]
    assert message.received_at is not None
    assert message.json() == {"object_id": 7}
