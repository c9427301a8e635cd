"""Factories for handler tests: real Lambda events and a LambdaContext fake.

Thin wrappers over local/shapes.py, the one definition of each AWS shape that the local cloud
and the benchmarks use too, so a handler that passes here meets the same fields in Lambda and in
the local cloud. What they add is test convenience: JSON bodies from dicts, realistic defaults,
moto round trips. Nothing here imports the functions under test. Import as
`from factories import ...` with tests/ on sys.path.
"""

import base64
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from local import shapes
from local.shapes import (
    LISTENER_ATTRIBUTE_NAMES,
    LambdaContext,
    listener_attributes,
    md5_of_message_attributes,
    queue_arn,
    queue_arn_from_url,
    sqs_event,
)

__all__ = [
    "LISTENER_ATTRIBUTE_NAMES",
    "LambdaContext",
    "listener_attributes",
    "md5_of_message_attributes",
    "queue_arn",
    "queue_arn_from_url",
    "sqs_event",
]

ACCOUNT_ID = shapes.DEFAULT_ACCOUNT_ID
REGION = shapes.DEFAULT_REGION
API_ID = shapes.EXAMPLE_URL_ID
EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"

Body = str | bytes | Mapping[str, Any] | list[Any]


def load_event(name: str) -> Any:
    """A sample from events/ by file name, with or without ".json"."""
    path = EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def event_body(name: str) -> str:
    """A sample event as the compact JSON text a sender would POST."""
    return json.dumps(load_event(name), separators=(",", ":"))


def _body_text(body: Body) -> str:
    if isinstance(body, bytes):
        raise TypeError("bytes bodies are base64-encoded by the caller of this helper")
    if isinstance(body, str):
        return body
    return json.dumps(body, separators=(",", ":"))


def function_url_event(
    *,
    body: Body | None = None,
    account_id: str = shapes.ANONYMOUS_ACCOUNT,
    api_id: str = API_ID,
    region: str = REGION,
    **kwargs: Any,
) -> dict[str, Any]:
    """A Lambda Function URL request event, payload format 2.0 (shapes.deployed_function_url_event).

    body: str is sent as is (set is_base64_encoded=True if it is already base64 text), bytes are
    base64-encoded with isBase64Encoded true, a dict or list is compact JSON. The other keywords
    (method, path, content_type, headers, query, source_ip, user_agent, request_id,
    time_epoch_ms, cookies, lowercase_headers...) are those of the shared builder.
    """
    text = body if body is None or isinstance(body, bytes) else _body_text(body)
    return shapes.deployed_function_url_event(
        body=text, account_id=account_id, url_id=api_id, region=region, **kwargs
    )


def post_event(body: Body, **kwargs: Any) -> dict[str, Any]:
    """A POST to the listener (default path /append_queue, JSON)."""
    return function_url_event(method="POST", body=body, **kwargs)


def handshake_event(
    *,
    verify_token: str | None = "local-dev-verify-token",  # noqa: S107 - the sample token
    challenge: str | None = "9c3f1e7a52d84b06a1e5f0c2d7b94e13",
    mode: str | None = "subscribe",
    path: str = "/append_queue",
    **kwargs: Any,
) -> dict[str, Any]:
    """The GET Strava sends to validate a subscription callback; None leaves a parameter out."""
    query = {
        name: value
        for name, value in (
            ("hub.verify_token", verify_token),
            ("hub.challenge", challenge),
            ("hub.mode", mode),
        )
        if value is not None
    }
    return function_url_event(
        method="GET", path=path, query=query, content_type=None, user_agent="Strava", **kwargs
    )


def sqs_record(
    body: Body = "{}",
    *,
    queue_name: str = "async-webhook-queue",
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
    **kwargs: Any,
) -> dict[str, Any]:
    """One record of an SQS event as the event source mapping delivers it.

    The keywords (message_id, message_attributes as String attributes {name: value},
    receive_count, group_id, deduplication_id, sequence_number, sent_timestamp_ms, sender_id) are
    those of shapes.received_message. A queue name ending in ".fifo" gives the FIFO system
    attributes. bytes bodies are base64-encoded (and should come with bodyEncoding=base64, see
    listener_record).
    """
    text = base64.b64encode(body).decode("ascii") if isinstance(body, bytes) else _body_text(body)
    message = shapes.received_message(text, fifo=queue_name.endswith(".fifo"), **kwargs)
    arn = queue_arn(queue_name, region=region, account_id=account_id)
    return shapes.sqs_record(message, queue_arn=arn)


def listener_record(
    body: Body, *, attributes: Mapping[str, str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """An SQS record as the listener would have enqueued body (bytes travel as base64)."""
    defaults = listener_attributes(body_encoding="base64" if isinstance(body, bytes) else "text")
    if isinstance(body, bytes):
        defaults["contentType"] = "application/octet-stream"
    return sqs_record(body, message_attributes={**defaults, **(attributes or {})}, **kwargs)


def receive_messages(client: Any, queue_url: str, *, max_messages: int = 10) -> list[Any]:
    """ReceiveMessage with every system and message attribute, without waiting."""
    response = client.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max_messages,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
        WaitTimeSeconds=0,
    )
    messages: list[Any] = response.get("Messages", [])
    return messages


def sqs_event_from_receive(
    received: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    *,
    queue_url: str,
    region: str = REGION,
) -> dict[str, Any]:
    """Turn a real ReceiveMessage result (or its "Messages" list) into the SQS event Lambda sends.

    Receive with MessageSystemAttributeNames=["All"] and MessageAttributeNames=["All"] (see
    receive_messages) so the records carry what the event source mapping would deliver.
    """
    messages = received.get("Messages", []) if isinstance(received, Mapping) else received
    arn = queue_arn_from_url(queue_url, region=region)
    return sqs_event(shapes.sqs_record(message, queue_arn=arn) for message in messages)


class Delivery(NamedTuple):
    """What one poll of an event source mapping did (see deliver_batch)."""

    received: list[str]
    """Message ids handed to the function, in order."""
    failed: list[str]
    """Message ids left in the queue: reported failures, or the whole batch on a function error."""
    deleted: list[str]
    """Message ids deleted from the queue."""
    event: dict[str, Any]
    """The SQS event the function was invoked with."""


def deliver_batch(
    client: Any,
    queue_url: str,
    handler: Any,
    *,
    batch_size: int = 10,
    context: Any = None,
) -> Delivery:
    """One poll of an SQS event source mapping with ReportBatchItemFailures, played honestly.

    ReceiveMessage (every attribute), invoke handler(event, context) with the event Lambda would
    build, then delete every record the response did not return. A function error (an exception
    out of handler) or an invalid response leaves the whole batch in the queue, to come back after
    the visibility timeout, exactly like Lambda.
    """
    messages = receive_messages(client, queue_url, max_messages=batch_size)
    event = sqs_event_from_receive(messages, queue_url=queue_url)
    ids = [message["MessageId"] for message in messages]
    if not messages:
        return Delivery(received=[], failed=[], deleted=[], event=event)
    try:
        failed = shapes.failed_message_ids(handler(event, context or LambdaContext()), ids)
    except Exception:  # noqa: BLE001 - any function error returns the whole batch
        failed = None
    kept = set(ids if failed is None else failed)
    done = [message for message in messages if message["MessageId"] not in kept]
    if done:
        client.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(done)
            ],
        )
    return Delivery(
        received=ids,
        failed=[i for i in ids if i in kept],
        deleted=[message["MessageId"] for message in done],
        event=event,
    )


def queue_counts(client: Any, queue_url: str) -> tuple[int, int, int]:
    """(visible, in flight, delayed) messages of a queue, from GetQueueAttributes."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
    values = attributes["Attributes"]
    return int(values[names[0]]), int(values[names[1]]), int(values[names[2]])
