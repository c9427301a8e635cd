"""Factories for handler tests: real Lambda events and a LambdaContext fake.

The shapes follow what AWS actually delivers: Function URL events in payload format 2.0 and SQS
event-source-mapping records, so a handler that passes here meets the same fields in Lambda and in
the local cloud. Everything is keyword-driven with realistic defaults; nothing here imports the
functions under test. Import as `from factories import ...` with tests/ on sys.path.
"""

import base64
import binascii
import hashlib
import json
import struct
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
API_ID = "p4k2x7qv3hzm5w8n6r1t9y0bcdefgh2j"
EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
LISTENER_ATTRIBUTE_NAMES = (
    "path",
    "contentType",
    "receivedAt",
    "requestId",
    "bodyEncoding",
    "userAgent",
    "sourceIp",
)
"""The message attributes the listener sets (userAgent and sourceIp when the request has them)."""

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


def _clf_time(epoch_ms: int) -> str:
    """requestContext.time uses the access-log format: 12/Mar/2020:19:03:58 +0000."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def function_url_event(
    *,
    method: str = "POST",
    path: str = "/append_queue",
    body: Body | None = None,
    content_type: str | None = "application/json",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | str | None = None,
    is_base64_encoded: bool | None = None,
    source_ip: str = "203.0.113.17",
    user_agent: str | None = "Strava Webhooks/1.0",
    request_id: str | None = None,
    time_epoch_ms: int | None = None,
    account_id: str = ACCOUNT_ID,
    api_id: str = API_ID,
    region: str = REGION,
    cookies: list[str] | None = None,
    lowercase_headers: bool = True,
) -> dict[str, Any]:
    """A Lambda Function URL request event, payload format 2.0.

    body: str is sent as is (set is_base64_encoded=True if it is already base64 text), bytes are
    base64-encoded with isBase64Encoded true (what Function URLs do for binary content), a dict or
    list is compact JSON. content_type is only sent when there is a body, unless headers say
    otherwise. query: a mapping (repeated keys impossible) or a raw query string. Header names are
    lower-cased as AWS does; lowercase_headers=False keeps them as given, to test odd senders.
    """
    domain = f"{api_id}.lambda-url.{region}.on.aws"
    epoch_ms = time_epoch_ms if time_epoch_ms is not None else int(time.time() * 1000)
    text: str | None = None
    encoded = bool(is_base64_encoded)
    if isinstance(body, bytes):
        text = base64.b64encode(body).decode("ascii")
        encoded = True if is_base64_encoded is None else is_base64_encoded
    elif body is not None:
        text = _body_text(body)

    all_headers: dict[str, str] = {
        "host": domain,
        "accept": "*/*",
        "x-amzn-tls-version": "TLSv1.3",
        "x-amzn-tls-cipher-suite": "TLS_AES_128_GCM_SHA256",
        "x-amzn-trace-id": f"Root=1-{epoch_ms // 1000:08x}-{uuid.uuid4().hex[:24]}",
        "x-forwarded-for": source_ip,
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
    }
    if user_agent is not None:
        all_headers["user-agent"] = user_agent
    if text is not None:
        try:
            raw = base64.b64decode(text) if encoded else text.encode("utf-8", "surrogatepass")
        except binascii.Error:  # deliberately broken base64: count the text
            raw = text.encode("ascii", "replace")
        all_headers["content-length"] = str(len(raw))
        if content_type is not None:
            all_headers["content-type"] = content_type
    for name, value in (headers or {}).items():
        all_headers[name.lower() if lowercase_headers else name] = value

    raw_query = ""
    params: dict[str, str] | None = None
    if isinstance(query, str):
        raw_query = query
        pairs = parse_qsl(query, keep_blank_values=True)
    elif query is not None:
        raw_query = urlencode(query)
        pairs = list(query.items())
    else:
        pairs = []
    if pairs:
        params = {}
        for key, value in pairs:  # payload 2.0 joins repeated keys with commas
            params[key] = f"{params[key]},{value}" if key in params else value

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": all_headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id or str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": _clf_time(epoch_ms),
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": encoded,
    }
    if user_agent is None:
        del event["requestContext"]["http"]["userAgent"]
    if cookies:
        event["cookies"] = list(cookies)
    if params is not None:
        event["queryStringParameters"] = params
    if text is not None:
        event["body"] = text
    return event


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


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that handlers use."""

    function_name: str = "async-webhook-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    timeout_ms: int = 3000
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = REGION
    account_id: str = ACCOUNT_ID
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_ms / 1000
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"
        self.invoked_function_arn = self.invoked_function_arn or arn
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def md5_of_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's MD5OfMessageAttributes over {name: {"DataType", "StringValue" | "BinaryValue"}}."""
    digest = hashlib.md5(usedforsecurity=False)

    def put(data: bytes) -> None:
        digest.update(struct.pack("!I", len(data)) + data)

    for name in sorted(attributes):
        attribute = attributes[name]
        put(name.encode("utf-8"))
        put(attribute["DataType"].encode("utf-8"))
        if "BinaryValue" in attribute:
            digest.update(b"\x02")
            put(bytes(attribute["BinaryValue"]))
        else:
            digest.update(b"\x01")
            put(str(attribute["StringValue"]).encode("utf-8"))
    return digest.hexdigest()


def queue_arn(queue_name: str, *, region: str = REGION, account_id: str = ACCOUNT_ID) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{queue_name}"


def queue_arn_from_url(queue_url: str, *, region: str = REGION) -> str:
    """ARN of a queue from its URL (https://sqs.<region>.amazonaws.com/<account>/<name>)."""
    parts = urlsplit(queue_url)
    account_id, name = parts.path.strip("/").split("/")[-2:]
    host = parts.hostname or ""
    if host.startswith("sqs.") and host.count(".") >= 3:
        region = host.split(".")[1]
    return queue_arn(name, region=region, account_id=account_id)


def _event_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """SendMessage/ReceiveMessage attribute shape -> the camelCase shape of Lambda events."""
    converted: dict[str, Any] = {}
    for name, attribute in attributes.items():
        item: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": attribute["DataType"],
        }
        if "BinaryValue" in attribute:
            item["binaryValue"] = base64.b64encode(bytes(attribute["BinaryValue"])).decode()
        else:
            item["stringValue"] = attribute["StringValue"]
        converted[name] = item
    return converted


def sqs_record(
    body: Body = "{}",
    *,
    message_id: str | None = None,
    message_attributes: Mapping[str, str] | None = None,
    receive_count: int = 1,
    queue_name: str = "async-webhook-queue",
    group_id: str | None = None,
    deduplication_id: str | None = None,
    sequence_number: str | None = None,
    sent_timestamp_ms: int | None = None,
    sender_id: str = "AROAEXAMPLEROLEID:async-webhook-listener",
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
) -> dict[str, Any]:
    """One record of an SQS event as the event source mapping delivers it.

    message_attributes are String attributes {name: value}. A queue name ending in ".fifo" gives
    the FIFO system attributes (group "default" unless given, content-based deduplication id).
    bytes bodies are base64-encoded (and should come with bodyEncoding=base64, see listener_record).
    """
    text = base64.b64encode(body).decode("ascii") if isinstance(body, bytes) else _body_text(body)
    sent = sent_timestamp_ms if sent_timestamp_ms is not None else int(time.time() * 1000)
    attributes: dict[str, str] = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": str(sent),
        "SenderId": sender_id,
        "ApproximateFirstReceiveTimestamp": str(sent + 5),
    }
    if queue_name.endswith(".fifo") or group_id is not None:
        attributes["MessageGroupId"] = group_id or "default"
    if queue_name.endswith(".fifo"):
        attributes["SequenceNumber"] = sequence_number or f"{sent:020d}"
        attributes["MessageDeduplicationId"] = (
            deduplication_id or hashlib.sha256(text.encode("utf-8")).hexdigest()
        )
    record: dict[str, Any] = {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": base64.b64encode(uuid.uuid4().bytes * 4).decode("ascii"),
        "body": text,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(queue_name, region=region, account_id=account_id),
        "awsRegion": region,
    }
    if message_attributes:
        typed = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in message_attributes.items()
        }
        record["messageAttributes"] = _event_message_attributes(typed)
        record["md5OfMessageAttributes"] = md5_of_message_attributes(typed)
    return record


def listener_attributes(
    *,
    path: str = "/append_queue",
    content_type: str = "application/json",
    body_encoding: str = "text",
    received_at: str = "2024-11-29T08:00:00.000Z",
    request_id: str | None = None,
    user_agent: str | None = "Strava Webhooks/1.0",
    source_ip: str | None = "203.0.113.17",
) -> dict[str, str]:
    """The message attributes the listener attaches to an enqueued request."""
    attributes = {
        "path": path,
        "contentType": content_type,
        "receivedAt": received_at,
        "requestId": request_id or str(uuid.uuid4()),
        "bodyEncoding": body_encoding,
    }
    if user_agent is not None:
        attributes["userAgent"] = user_agent
    if source_ip is not None:
        attributes["sourceIp"] = source_ip
    return attributes


def listener_record(
    body: Body, *, attributes: Mapping[str, str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """An SQS record as the listener would have enqueued body (bytes travel as base64)."""
    defaults = listener_attributes(body_encoding="base64" if isinstance(body, bytes) else "text")
    if isinstance(body, bytes):
        defaults["contentType"] = "application/octet-stream"
    return sqs_record(body, message_attributes={**defaults, **(attributes or {})}, **kwargs)


def sqs_event(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """An SQS event: {"Records": [...]}."""
    return {"Records": [dict(record) for record in records]}


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
    region = arn.split(":")[3]
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": _event_message_attributes(message.get("MessageAttributes", {})),
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


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


def reported_failures(result: Any, batch_ids: list[str]) -> list[str] | None:
    """The ids a ReportBatchItemFailures response returns to the queue, as Lambda reads it.

    None, {} or an empty/null batchItemFailures list is complete success ([]). A malformed
    response, or an itemIdentifier that is null, empty or not in the batch, is a complete
    failure (None). (AWS Lambda docs: "Implementing partial batch responses".)
    """
    if result is None or result == {}:
        return []
    if not isinstance(result, Mapping):
        return None
    items = result.get("batchItemFailures")
    if items is None:
        return []
    if not isinstance(items, list):
        return None
    failed: list[str] = []
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return None
        failed.append(identifier)
    return failed


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
        failed = reported_failures(handler(event, context or LambdaContext()), ids)
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
