"""The AWS shapes this project emulates, fakes and measures, each written once.

The local cloud builds Function URL events and SQS records from these builders and reads handler
results with these rules; the tests and the benchmarks build their events with the same ones, so
the three cannot drift apart on AWS behaviour (docs/design.md, 'The local cloud'). Standard
library only: the benchmarks import it into cold processes and the operator commands next to
nothing else.

Where the shapes come from (AWS Lambda Developer Guide):
- "Invoking Lambda function URLs": the request event and the response, payload format 2.0;
- "Using Lambda with Amazon SQS": the event record an SQS event source mapping delivers;
- "Handling errors for an SQS event source in Lambda" (partial batch responses): which
  ``batchItemFailures`` responses are a success, a partial failure or a complete failure;
- "Using the Lambda context object to retrieve Python function information": LambdaContext.

The listener (functions/listener) and the processor (functions/processor) are packaged alone and
cannot import this module; tests tie the attribute names they write and read to
``LISTENER_ATTRIBUTE_NAMES``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
import sys
import time
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
"""The account id of AWS's own examples."""
ANONYMOUS_ACCOUNT = "anonymous"
"""requestContext.accountId of a Function URL with auth type NONE (no caller to name)."""
EXAMPLE_URL_ID = "p4k2x7qv3hzm5w8n6r1t9y0bcdefgh2j"
"""A 32-character url id, the shape of a deployed Function URL's host name prefix."""
EXAMPLE_SOURCE_IP = "203.0.113.17"
EXAMPLE_USER_AGENT = "Strava Webhooks/1.0"

# ---- Function URL request: payload format 2.0 -------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_APPLICATION_TYPES = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/ecmascript"}
)


def is_text_content_type(content_type: str | None) -> bool:
    """Whether a Function URL passes a body with this content type as text (else base64).

    text/*, JSON, XML and JavaScript (including ``+json`` / ``+xml`` suffixes) are text; anything
    else, a missing content type and ``application/x-www-form-urlencoded`` included, is binary.
    """
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_APPLICATION_TYPES
        or media_type.endswith(("+json", "+xml"))
    )


def request_time(epoch_ms: int) -> str:
    """requestContext.time, the access-log format ``12/Mar/2020:19:03:58 +0000``, locale-free."""
    t = time.gmtime(epoch_ms // 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:" + time.strftime(
        "%H:%M:%S +0000", t
    )


def trace_id(epoch_ms: int) -> str:
    """An X-Ray ``x-amzn-trace-id`` root, as the Function URL front end adds to each request."""
    return f"Root=1-{epoch_ms // 1000:08x}-{uuid.uuid4().hex[:24]}"


def query_parameters(raw_query: str) -> dict[str, str]:
    """queryStringParameters: repeated keys are joined with commas, blank values kept."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def function_url_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: str | None,
    is_base64_encoded: bool,
    source_ip: str,
    user_agent: str | None,
    request_id: str,
    url_id: str,
    domain: str,
    time_epoch_ms: int,
    account_id: str = ANONYMOUS_ACCOUNT,
    protocol: str = "HTTP/1.1",
    cookies: Sequence[str] = (),
) -> dict[str, Any]:
    """The request event of a Function URL, payload format 2.0, from values already decided.

    The two builders below decide them: one from a raw HTTP request (the local cloud), one from
    plain values with the headers a deployed HTTPS Function URL adds (tests and benchmarks).
    ``cookies``, ``queryStringParameters`` and ``body`` are left out when empty, as AWS does;
    ``requestContext.http.userAgent`` is left out when ``user_agent`` is None.
    """
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = list(cookies)
    event["headers"] = dict(headers)
    if raw_query:
        event["queryStringParameters"] = query_parameters(raw_query)
    http: dict[str, str] = {
        "method": method,
        "path": raw_path,
        "protocol": protocol,
        "sourceIp": source_ip,
    }
    if user_agent is not None:
        http["userAgent"] = user_agent
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": url_id,
        "domainName": domain,
        "domainPrefix": url_id,
        "http": http,
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": request_time(time_epoch_ms),
        "timeEpoch": time_epoch_ms,
    }
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64_encoded
    return event


def event_from_http_request(
    *,
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    source_ip: str,
    url_id: str,
    request_id: str,
    protocol: str = "HTTP/1.1",
    now: float | None = None,
) -> dict[str, Any]:
    """The event a Function URL with auth type NONE builds for this HTTP request.

    Header names are lower-cased and repeated headers joined with commas; ``Cookie`` headers
    become ``cookies``; the body is text for text content types (valid UTF-8), else base64.
    """
    epoch_ms = int((time.time() if now is None else now) * 1000)
    if target.startswith(("http://", "https://")):  # absolute-form request target
        parts = urlsplit(target)
        raw_path, raw_query = parts.path or "/", parts.query
    else:
        raw_path, _, raw_query = target.partition("?")
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    domain = joined.get("host", "")
    joined.setdefault("x-forwarded-for", source_ip)
    joined.setdefault("x-forwarded-proto", "http")
    if ":" in domain:
        joined.setdefault("x-forwarded-port", domain.rsplit(":", 1)[1])
    joined.setdefault("x-amzn-trace-id", trace_id(epoch_ms))

    text: str | None = None
    if body and is_text_content_type(joined.get("content-type")):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None  # not valid text after all: deliver it losslessly
    encoded = bool(body) and text is None
    if encoded:
        text = base64.b64encode(body).decode("ascii")
    return function_url_event(
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=joined,
        body=text,
        is_base64_encoded=encoded,
        source_ip=source_ip,
        user_agent=joined.get("user-agent", ""),
        request_id=request_id,
        url_id=url_id,
        domain=domain,
        time_epoch_ms=epoch_ms,
        protocol=protocol,
        cookies=cookies,
    )


def deployed_function_url_event(
    *,
    method: str = "POST",
    path: str = "/append_queue",
    body: str | bytes | None = None,
    content_type: str | None = "application/json",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | str | None = None,
    is_base64_encoded: bool | None = None,
    source_ip: str = EXAMPLE_SOURCE_IP,
    user_agent: str | None = EXAMPLE_USER_AGENT,
    request_id: str | None = None,
    time_epoch_ms: int | None = None,
    account_id: str = ANONYMOUS_ACCOUNT,
    url_id: str = EXAMPLE_URL_ID,
    region: str = DEFAULT_REGION,
    cookies: Sequence[str] | None = None,
    lowercase_headers: bool = True,
) -> dict[str, Any]:
    """The event a deployed (HTTPS) Function URL hands the function, from plain values.

    body: str is sent as is (is_base64_encoded=True if it is already base64 text), bytes are
    base64-encoded with isBase64Encoded true. content_type is only sent with a body. query: a
    mapping or a raw query string. Header names are lower-cased as AWS does; headers override the
    defaults; lowercase_headers=False keeps the given names as they are, to play odd senders.
    """
    domain = f"{url_id}.lambda-url.{region}.on.aws"
    epoch_ms = time_epoch_ms if time_epoch_ms is not None else int(time.time() * 1000)
    text: str | None = None
    encoded = bool(is_base64_encoded)
    if isinstance(body, bytes):
        text = base64.b64encode(body).decode("ascii")
        encoded = True if is_base64_encoded is None else is_base64_encoded
    elif body is not None:
        text = body

    all_headers: dict[str, str] = {
        "host": domain,
        "accept": "*/*",
        "x-amzn-tls-version": "TLSv1.3",
        "x-amzn-tls-cipher-suite": "TLS_AES_128_GCM_SHA256",
        "x-amzn-trace-id": trace_id(epoch_ms),
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

    raw_query = query if isinstance(query, str) else urlencode(query or {})
    return function_url_event(
        method=method,
        raw_path=path,
        raw_query=raw_query,
        headers=all_headers,
        body=text,
        is_base64_encoded=encoded,
        source_ip=source_ip,
        user_agent=user_agent,
        request_id=request_id or str(uuid.uuid4()),
        url_id=url_id,
        domain=domain,
        time_epoch_ms=epoch_ms,
        account_id=account_id,
        cookies=cookies or (),
    )


# ---- Function URL response --------------------------------------------------------------------

_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True)
class HttpResponse:
    """What a Function URL sends back on the wire."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def bad_gateway_response() -> HttpResponse:
    """A function error, a timeout or a malformed response."""
    return HttpResponse(
        502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
    )


def throttled_response() -> HttpResponse:
    """Reserved concurrency or the account limit reached."""
    return HttpResponse(
        429,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException")],
        b'{"Message":"Rate Exceeded."}',
    )


def too_large_response(limit_bytes: int) -> HttpResponse:
    """A request whose event would not fit in an invocation payload; the function never runs."""
    message = f"Request must be smaller than {limit_bytes} bytes for the InvokeFunction operation"
    return HttpResponse(
        413,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "RequestEntityTooLargeException"),
        ],
        json.dumps({"Message": message}).encode(),
    )


def http_response(result: Any, result_json: str | None = None) -> HttpResponse:
    """How a Function URL maps a function's return value to HTTP (payload format 2.0).

    An object with ``statusCode`` is a response: status, headers (hop-by-hop ones dropped,
    ``Content-Type`` defaulting to JSON), ``cookies`` as Set-Cookie, ``body`` (decoded when
    ``isBase64Encoded`` is true; a non-string body is sent as JSON). Any other JSON value is a
    200 ``application/json`` whose body is that JSON (``result_json``, the text the function's
    runtime produced, when known). A malformed response is a 502, as on AWS.
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        text = json.dumps(result) if result_json is None else result_json
        return HttpResponse(200, [("Content-Type", "application/json")], text.encode())
    try:
        return _structured_response(result)
    except (TypeError, ValueError, binascii.Error):
        return bad_gateway_response()


def _structured_response(payload: dict[str, Any]) -> HttpResponse:
    status = payload["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int | str):
        raise TypeError("statusCode must be an integer")
    status = int(status)
    if not 100 <= status <= 599:
        raise ValueError(f"statusCode {status} out of range")
    raw_headers = payload.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise TypeError("headers must be an object")
    headers = [
        (str(name), _header_value(value))
        for name, value in raw_headers.items()
        if str(name).lower() not in _HOP_BY_HOP
    ]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    cookies = payload.get("cookies") or []
    if not isinstance(cookies, list):
        raise TypeError("cookies must be a list")
    headers.extend(("Set-Cookie", str(cookie)) for cookie in cookies)
    body = payload.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        data = json.dumps(body).encode()
    elif payload.get("isBase64Encoded") is True:
        data = base64.b64decode(body, validate=True)
    else:
        data = body.encode()
    return HttpResponse(status, headers, data)


def _header_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- SQS: messages, attributes and event records ---------------------------------------------


def queue_arn(
    queue_name: str, *, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT_ID
) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{queue_name}"


def queue_arn_from_url(queue_url: str, *, region: str = DEFAULT_REGION) -> str:
    """A queue's ARN from its URL (``https://sqs.<region>.amazonaws.com/<account>/<name>``; a
    local endpoint's URL names no region, so ``region`` is used)."""
    parts = urlsplit(queue_url)
    account_id, name = parts.path.strip("/").split("/")[-2:]
    host = parts.hostname or ""
    if host.startswith("sqs.") and host.count(".") >= 3:
        region = host.split(".")[1]
    return queue_arn(name, region=region, account_id=account_id)


def string_attributes(values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``{name: value}`` as SendMessage's MessageAttributes (every one a String)."""
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def md5_of_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's MD5OfMessageAttributes over ``{name: {"DataType", "StringValue" | "BinaryValue"}}``:
    per attribute in name order, length-prefixed name, type, then 1 + string or 2 + bytes."""
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


def received_message(
    body: str,
    *,
    message_id: str | None = None,
    message_attributes: Mapping[str, str] | None = None,
    receive_count: int = 1,
    fifo: bool = False,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    sequence_number: str | None = None,
    sent_timestamp_ms: int | None = None,
    sender_id: str = "AROAEXAMPLEROLEID:async-webhook-listener",
) -> dict[str, Any]:
    """One entry of a ReceiveMessage answer (every attribute asked for), from plain values.

    message_attributes are String attributes ``{name: value}``. A FIFO message has a group
    ("default" unless given), a sequence number and a deduplication id (content-based unless
    given); a standard queue's message has a group only when ``group_id`` is given.
    """
    sent = sent_timestamp_ms if sent_timestamp_ms is not None else int(time.time() * 1000)
    system: dict[str, str] = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": str(sent),
        "SenderId": sender_id,
        "ApproximateFirstReceiveTimestamp": str(sent + 5),
    }
    if fifo or group_id is not None:
        system["MessageGroupId"] = group_id or "default"
    if fifo:
        system["SequenceNumber"] = sequence_number or f"{sent:020d}"
        system["MessageDeduplicationId"] = (
            deduplication_id or hashlib.sha256(body.encode("utf-8")).hexdigest()
        )
    message: dict[str, Any] = {
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": base64.b64encode(uuid.uuid4().bytes * 4).decode("ascii"),
        "MD5OfBody": md5_of_body(body),
        "Body": body,
        "Attributes": system,
    }
    if message_attributes:
        typed = string_attributes(message_attributes)
        message["MD5OfMessageAttributes"] = md5_of_message_attributes(typed)
        message["MessageAttributes"] = typed
    return message


def sqs_record(message: Mapping[str, Any], *, queue_arn: str) -> dict[str, Any]:
    """The record Lambda puts in an SQS event for one ReceiveMessage entry.

    Message attributes turn camelCase, with binary values in base64 and both list fields always
    present; ``md5OfMessageAttributes`` appears only when the message has attributes.
    """
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _record_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["md5OfBody"] = message.get("MD5OfBody", "")
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = queue_arn.split(":")[3]
    return record


def _record_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(bytes(value["BinaryValue"])).decode("ascii")
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [
        base64.b64encode(bytes(item)).decode("ascii") for item in value.get("BinaryListValues", [])
    ]
    attribute["dataType"] = value.get("DataType", "String")
    return attribute


def sqs_event(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """An SQS event: ``{"Records": [...]}``."""
    return {"Records": [dict(record) for record in records]}


# ---- ReportBatchItemFailures ------------------------------------------------------------------


def failed_message_ids(response: Any, batch_ids: Collection[str]) -> list[str] | None:
    """The message ids a partial batch response returns to the queue; None: the whole batch.

    Complete success (``[]``): a null response, an object without ``batchItemFailures``, or a
    null or empty list. Complete failure (None): a response that is not an object, a list that
    is not a list, an entry that is not an object, or an ``itemIdentifier`` that is missing,
    null, empty or not a message id of the batch. Ids come once each, in reported order.
    """
    if response is None:
        return []
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return None
    failed: list[str] = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return None
        if identifier not in failed:
            failed.append(identifier)
    return failed


# ---- the Lambda context object ----------------------------------------------------------------


class CognitoIdentity:
    """Always empty for Function URL and SQS invocations."""

    def __init__(self) -> None:
        self.cognito_identity_id: str | None = None
        self.cognito_identity_pool_id: str | None = None


class LambdaContext:
    """A fake of the Python runtime's context object, with every attribute and method it has.

    As in the runtime, ``memory_limit_in_mb`` is a string and the remaining time counts down
    from the invocation's deadline. (The local cloud's worker has its own, import-free copy;
    a test keeps the two alike.)
    """

    def __init__(
        self,
        *,
        function_name: str = "async-webhook-function",
        aws_request_id: str | None = None,
        timeout_ms: int = 3000,
        memory_limit_in_mb: str = "128",
        function_version: str = "$LATEST",
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        log_stream_name: str = "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
    ) -> None:
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name: str | None = f"/aws/lambda/{function_name}"
        self.log_stream_name: str | None = log_stream_name
        self.function_name: str | None = function_name
        self.memory_limit_in_mb: str | None = memory_limit_in_mb
        self.function_version: str | None = function_version
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.client_context: object | None = None
        self.identity = CognitoIdentity()
        self.tenant_id: str | None = None
        self._deadline_ms = int(time.time() * 1000) + timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


# ---- the listener's message attributes --------------------------------------------------------

LISTENER_ATTRIBUTE_NAMES = (
    "path",
    "route",
    "source",
    "contentType",
    "receivedAt",
    "requestId",
    "bodyEncoding",
    "userAgent",
    "sourceIp",
    "deliveryId",
)
"""The message attributes the listener sets on each message (functions/listener/handler.py;
docs/design.md, 'The message'), and the only ones functions/processor/message.py reads by name."""
OPTIONAL_LISTENER_ATTRIBUTES = frozenset({"userAgent", "sourceIp", "deliveryId"})
"""Set only when the request has them (SQS refuses empty attribute values); deliveryId only
when the route's sender gives its delivery an id."""


def listener_attributes(
    *,
    path: str = "/append_queue",
    route: str = "demo",
    source: str = "none",
    content_type: str = "application/json",
    received_at: str = "2024-11-29T08:00:00.000Z",
    request_id: str | None = None,
    body_encoding: str = "text",
    user_agent: str | None = EXAMPLE_USER_AGENT,
    source_ip: str | None = EXAMPLE_SOURCE_IP,
    delivery_id: str | None = None,
) -> dict[str, str]:
    """The listener's message attributes, ``{name: value}``, for a request with these values.

    None leaves an attribute out; any string is kept as given, so tests can play odd values.
    """
    values = {
        "path": path,
        "route": route,
        "source": source,
        "contentType": content_type,
        "receivedAt": received_at,
        "requestId": request_id or str(uuid.uuid4()),
        "bodyEncoding": body_encoding,
        "userAgent": user_agent,
        "sourceIp": source_ip,
        "deliveryId": delivery_id,
    }
    return {name: value for name, value in values.items() if value is not None}


def listener_attributes_of(
    event: Mapping[str, Any], *, received_at: str, route: str = "demo", source: str = "none"
) -> dict[str, str]:
    """The attributes the listener sets for a well-formed POST event on an open route (receivedAt
    given; route and source name the route it arrives on)."""
    context = event["requestContext"]
    return listener_attributes(
        path=event["rawPath"],
        route=route,
        source=source,
        content_type=event["headers"].get("content-type", ""),
        received_at=received_at,
        request_id=context["requestId"],
        body_encoding="base64" if event.get("isBase64Encoded") is True else "text",
        user_agent=context["http"].get("userAgent") or None,  # SQS refuses empty values
        source_ip=context["http"].get("sourceIp") or None,
    )
