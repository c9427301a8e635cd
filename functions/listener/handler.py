"""Webhook listener: verify the sender, put the request on SQS, answer within milliseconds.

Runs behind a Lambda Function URL (payload format 2.0). Senders such as Strava give a hard
deadline (a 200 within 2 s, cold start included), so this function only verifies and enqueues;
the processor does the real work later. A 200 always means the message is in the queue; every
other answer leaves the queue untouched. Contract: docs/design.md, "The listener".

Configuration: one JSON environment variable, LISTENER_CONFIG, written by the program
(`infra/listener.py::listener_config`); every key is always present, so a missing or malformed
one is a deploy bug and fails the cold start. Route secrets come from SSM SecureStrings named in
it, never from the environment. Tuning knobs with defaults (tests and operators only):
  SQS_CONNECT_TIMEOUT_SECONDS   default 0.2
  SQS_READ_TIMEOUT_SECONDS      default 0.3
  SQS_MAX_ATTEMPTS              default 2
  SECRET_REFRESH_SECONDS        default 300: how long a route secret is cached
Region and endpoint come from the standard AWS variables (AWS_REGION, AWS_ENDPOINT_URL).
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import random
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import aws
import senders

SQS_MAX_BYTES = 1_048_576
"""The SQS hard limit for one message (body plus attributes)."""

# Worst case of one request's SQS work, with the defaults (connect 0.2 s, read 0.3 s, 2 attempts):
#   attempt 1: connect_timeout + read_timeout      = 0.2 + 0.3 = 0.50 s
#   backoff:   uniform(0, _BACKOFF_MAX_SECONDS)    <= 0.05 s
#   attempt 2: connect_timeout + read_timeout      = 0.50 s
#   total                                          <= 1.05 s  (< _SEND_BUDGET_SECONDS = 1.2 s)
# The client (aws.py, standard library: a fraction of boto3's cold start) makes ONE attempt per
# call and says whether an error is worth retrying. Retries happen in _send(), which starts another
# attempt only if that attempt's worst case still fits in _SEND_BUDGET_SECONDS since the send
# began, so larger SQS_* overrides cannot push a request past the budget either (the first attempt
# always runs); a client with retries of its own (botocore backs off up to 1 s on throttling and
# honours x-amz-retry-after for 5 s more) could not keep a 2 s deadline. read_timeout bounds each
# socket read; a SendMessage response is well under 1 KB and arrives in one read. DNS resolution is
# not covered by connect_timeout (the Lambda resolver answers in milliseconds). A cold start
# (import + client, ~0.1 s with this client) plus 1.05 s stays under Strava's 2 s. A route secret
# read from SSM (first request of a container, then every SECRET_REFRESH_SECONDS) is one more
# attempt of the same bounds.
_SEND_BUDGET_SECONDS = 1.2
_BACKOFF_MAX_SECONDS = 0.05

# Characters SQS rejects in a message body or attribute value: all but #x9, #xA, #xD,
# #x20-#xD7FF, #xE000-#xFFFD and #x10000-#x10FFFF. Written as the short list of what is left out
# (the same set over every code point, tested) because the long negated class costs 3.8 ms to
# compile at every cold start, a tenth of it.
_NOT_SQS_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# MessageGroupId and MessageDeduplicationId: 1-128 characters, alphanumeric and punctuation.
_SQS_ID = re.compile("[\x21-\x7e]{1,128}")
_DEFAULT_GROUP = "default"
_MAX_HEADER_ATTRIBUTE_CHARS = 256
_HANDSHAKE_SOURCES = frozenset({"strava"})
_REFUSALS = {
    400: "not an event this route accepts",
    401: "missing or invalid signature",
    403: "sender not allowed",
}
"""What a refused sender is told; the precise reason goes to the log only."""


class ConfigError(RuntimeError):
    """The environment set by the program is missing or malformed: a deploy bug, not bad input."""


class Route(NamedTuple):
    """One path the listener answers, and how it verifies who sends to it."""

    name: str
    path: str
    source: str
    options: Mapping[str, Any]
    """The route exactly as the program wrote it (what `senders.verify` reads)."""
    secret_parameter: str | None


class Settings(NamedTuple):
    """Configuration read once per container."""

    queue_url: str
    routes: Mapping[str, Route]
    """Canonical path -> route."""
    accepted_types: frozenset[str]
    max_message_bytes: int
    fifo: bool
    group_field: str | None
    connect_timeout: float
    read_timeout: float
    max_attempts: int
    secret_refresh_seconds: float


def _canonical_path(path: str) -> str:
    """One trailing slash is ignored, so "/append_queue/" reaches the "/append_queue" route."""
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def _media_type(content_type: str) -> str:
    """The media type without parameters, lower-cased: "Application/JSON; charset=x" -> ..."""
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse the environment, reporting every problem in one ConfigError."""
    errors: list[str] = []

    def number(name: str, default: float, kind: type[int] | type[float], low: float) -> Any:
        raw = env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or not value >= low:  # "not >=" also rejects NaN
            errors.append(f"{name}={raw!r}: expected {kind.__name__} >= {low}")
            return default
        return value

    connect_timeout = number("SQS_CONNECT_TIMEOUT_SECONDS", 0.2, float, 0.001)
    read_timeout = number("SQS_READ_TIMEOUT_SECONDS", 0.3, float, 0.001)
    max_attempts = number("SQS_MAX_ATTEMPTS", 2, int, 1)
    refresh = number("SECRET_REFRESH_SECONDS", 300.0, float, 0.0)

    raw = env.get("LISTENER_CONFIG", "")
    try:
        config = json.loads(raw) if raw.strip() else None
    except ValueError:
        config = None
    if not isinstance(config, dict):
        errors.append("LISTENER_CONFIG is required: the JSON object the program writes")
        config = {}

    def field(name: str, kind: type | tuple[type, ...], rule: str) -> Any:
        value = config.get(name) if config else None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            if config:
                errors.append(f"LISTENER_CONFIG.{name}={value!r}: expected {rule}")
            return None
        return value

    queue_url = field("queueUrl", str, "the queue's URL") or ""
    fifo = field("fifo", bool, "true or false")
    max_bytes = field("maxMessageBytes", int, f"bytes, at most {SQS_MAX_BYTES}")
    if isinstance(max_bytes, int) and not 1 <= max_bytes <= SQS_MAX_BYTES:
        errors.append(f"LISTENER_CONFIG.maxMessageBytes={max_bytes}: SQS allows 1-{SQS_MAX_BYTES}")
    accepted = field("acceptedContentTypes", list, "a list of media types") or []
    group_field = config.get("messageGroupField") if config else None
    if group_field is not None and not isinstance(group_field, str):
        errors.append(f"LISTENER_CONFIG.messageGroupField={group_field!r}: expected a field name")
    if queue_url.endswith(".fifo") and fifo is False:
        errors.append("LISTENER_CONFIG.fifo is false but queueUrl names a FIFO queue (.fifo)")
    routes: dict[str, Route] = {}
    for entry in field("routes", list, "a list of routes") or []:
        route = _route(entry, errors)
        if route is not None:
            if route.path in routes:
                errors.append(f"LISTENER_CONFIG.routes: path {route.path!r} appears twice")
            routes[route.path] = route
    if config and not routes:
        errors.append("LISTENER_CONFIG.routes: expected at least one route")
    if errors:
        raise ConfigError("invalid listener configuration: " + "; ".join(errors))
    return Settings(
        queue_url=queue_url,
        routes=routes,
        accepted_types=frozenset(_media_type(str(t)) for t in accepted),
        max_message_bytes=max_bytes,
        fifo=bool(fifo),
        group_field=group_field or None,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_attempts=max_attempts,
        secret_refresh_seconds=refresh,
    )


def _route(entry: Any, errors: list[str]) -> Route | None:
    if not isinstance(entry, dict):
        errors.append(f"LISTENER_CONFIG.routes: {entry!r} is not an object")
        return None
    name, path, source = entry.get("name"), entry.get("path"), entry.get("source")
    parameter = entry.get("secretParameter")
    problem = None
    if not isinstance(name, str) or not name:
        problem = "a name"
    elif not isinstance(path, str) or not path.startswith("/"):
        problem = "a path starting with '/'"
    elif source not in senders.SOURCES:
        problem = f"a source among {', '.join(sorted(senders.SOURCES))}"
    elif parameter is not None and not isinstance(parameter, str):
        problem = "secretParameter as a parameter name or null"
    elif source not in senders.UNSIGNED and not parameter:
        problem = f"a secretParameter (source {source} verifies with a secret)"
    if problem is not None:
        errors.append(f"LISTENER_CONFIG.routes: route {name!r} needs {problem}")
        return None
    problems = senders.route_problems(entry)  # its options, so no request meets a bad route
    if problems:
        errors.extend(f"LISTENER_CONFIG.routes: {p}" for p in problems)
        return None
    return Route(str(name), _canonical_path(str(path)), str(source), entry, parameter or None)


SETTINGS = load_settings(os.environ)
_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
_sqs = aws.SQS(
    connect_timeout=SETTINGS.connect_timeout, read_timeout=SETTINGS.read_timeout, region=_REGION
)
_ssm: aws.SSM | None = None  # made on the first request that needs a secret: open routes never do
_secrets: dict[str, tuple[tuple[str, ...], float]] = {}
"""Route name -> (its secrets, monotonic time they were read); refreshed after a while so a
rotated secret takes effect without a redeploy."""
# Indirections so tests can drive time without sleeping.
_monotonic = time.monotonic
_sleep = time.sleep
_now = time.time


_LEVELS = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
_LOG_THRESHOLD = _LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper(), 0)
"""Lambda sets AWS_LAMBDA_LOG_LEVEL from the function's application log level; a line below it
would be dropped by Lambda anyway, so it is not even formatted."""


def _log(level: str, message: str, **fields: Any) -> None:
    """One JSON object per line on stdout, with the level and RFC 3339 timestamp Lambda's JSON
    log format reads (without a timestamp Lambda files every line as INFO)."""
    if _LEVELS[level] < _LOG_THRESHOLD:
        return
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    line = {"timestamp": stamp, "level": level, "message": message, **fields}
    print(json.dumps(line, default=str), flush=True)


def _response(status: int, payload: Mapping[str, Any], **headers: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **headers},
        "body": json.dumps(payload),
    }


def _error(status: int, reason: str, **headers: str) -> dict[str, Any]:
    return _response(status, {"error": reason}, **headers)


def _too_large(limit: int) -> dict[str, Any]:
    return _error(413, f"message too large for the queue (limit {limit} bytes)")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _sqs_safe(value: str, limit: int | None = None) -> str:
    """Caller-controlled text made acceptable to SQS, so it can never turn a request into a 503."""
    return _NOT_SQS_TEXT.sub("\ufffd", value[:limit] if limit else value)


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def message_size(body: str, attributes: Mapping[str, str]) -> int:
    """Bytes SQS counts against its limit: the body plus each attribute's name, type and value."""
    return _utf8_len(body) + sum(
        _utf8_len(name) + len("String") + _utf8_len(value) for name, value in attributes.items()
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _received_at(context_fields: Mapping[str, Any]) -> tuple[str, float]:
    """ISO-8601 UTC time of receipt, and its epoch seconds: the Function URL's timeEpoch (ms),
    else now."""
    epoch_ms = context_fields.get("timeEpoch")
    if (
        isinstance(epoch_ms, bool)
        or not isinstance(epoch_ms, int | float)
        or not 0 <= epoch_ms < 253_402_300_800_000  # year 10000; also rejects NaN
    ):
        epoch_ms = _now() * 1000
    when = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z"), epoch_ms / 1000


def _sqs_id(text: str) -> str:
    """A value SQS accepts as a group or deduplication id: itself, or its SHA-256, so equal
    values still map to equal ids and the request is not turned into a 503."""
    if _SQS_ID.fullmatch(text):
        return text
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _group_id(document: Any) -> str:
    """The FIFO group: the configured field's value, or "default"."""
    field = SETTINGS.group_field
    if field is None or not isinstance(document, dict):
        return _DEFAULT_GROUP
    value = document.get(field)
    if value is None or value == "":
        return _DEFAULT_GROUP
    return _sqs_id(value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))


def _reason(service: str, exc: aws.AwsError) -> str:
    """What failed, for the log: the service's error code, or how the connection failed."""
    if isinstance(exc, aws.ServiceError):
        return f"{service} error {exc.code}"
    if isinstance(exc, aws.TransportError):
        return f"{service} unreachable: {type(exc).__name__}"
    return f"{service} client error: {type(exc).__name__}"


def _send(params: dict[str, Any], request_id: str) -> tuple[str | None, str, int]:
    """SendMessage with the bounded retries described above: (message id | None, reason, tries)."""
    deadline = _monotonic() + _SEND_BUDGET_SECONDS
    worst_attempt = SETTINGS.connect_timeout + SETTINGS.read_timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            sent = _sqs.send_message(
                params["QueueUrl"],
                params["MessageBody"],
                params["MessageAttributes"],
                group_id=params.get("MessageGroupId"),
                deduplication_id=params.get("MessageDeduplicationId"),
            )
            return sent.message_id, "", attempt
        except aws.AwsError as exc:  # throttling, 5xx, timeouts, refused, access denied, ...
            reason = _reason("sqs", exc)
            retry = exc.retryable
        backoff = random.uniform(0, _BACKOFF_MAX_SECONDS)  # noqa: S311 - jitter, not a secret
        if (
            not retry
            or attempt >= SETTINGS.max_attempts
            or _monotonic() + backoff + worst_attempt > deadline
        ):
            return None, reason, attempt
        _log("WARN", "retrying SendMessage", request_id=request_id, attempt=attempt, reason=reason)
        _sleep(backoff)


def _route_secrets(route: Route) -> tuple[tuple[str, ...] | None, str]:
    """The route's secrets from SSM (one per line), cached for SECRET_REFRESH_SECONDS.

    When a refresh fails, the secrets read before keep serving (a rotation is rare; an SSM
    hiccup must not turn every request into a 503); (None, reason) only when none were ever read.
    """
    global _ssm
    cached = _secrets.get(route.name)
    if cached is not None and _monotonic() - cached[1] < SETTINGS.secret_refresh_seconds:
        return cached[0], ""
    value: str | None = None
    try:
        if _ssm is None:
            _ssm = aws.SSM(
                connect_timeout=SETTINGS.connect_timeout,
                read_timeout=SETTINGS.read_timeout,
                region=_REGION,
            )
        assert route.secret_parameter is not None
        value = _ssm.get_parameter(route.secret_parameter, with_decryption=True).value
        reason = "" if value.strip() else "ssm parameter has no value"
    except aws.AwsError as exc:
        reason = _reason("ssm", exc)
    if reason:
        if cached is not None:
            _log(
                "WARN",
                "route secret refresh failed; using the cached one",
                route=route.name,
                reason=reason,
            )
            return cached[0], ""
        return None, reason
    assert isinstance(value, str)
    secrets = tuple(line for line in value.splitlines() if line)
    _secrets[route.name] = (secrets, _monotonic())
    return secrets, ""


def _decode_body(event: Mapping[str, Any]) -> tuple[bytes | None, str, bool]:
    """(raw bytes as the sender sent them | None if undecodable, the body text, base64?)"""
    body = event.get("body")
    text = body if isinstance(body, str) else ""
    if event.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(text, validate=True), text, True
        except (binascii.Error, ValueError):  # or a non-ASCII str
            return None, text, True
    return text.encode("utf-8", "surrogatepass"), text, False


def _enqueue(
    route: Route,
    event: Mapping[str, Any],
    headers: Mapping[str, str],
    request_id: str,
    context_fields: Mapping[str, Any],
    http: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST: verify, validate, then ONE SendMessage. Returns the response and the log fields."""
    content_type = headers.get("content-type", "").strip()
    media_type = _media_type(content_type)
    received_at, received_epoch = _received_at(context_fields)
    raw, body, base64_encoded = _decode_body(event)
    encoding = "base64" if base64_encoded else "text"
    if not body and not media_type and route.source == "none":
        # The original demo's request: an empty POST on an open route enqueues the time.
        body, raw, encoding = received_at, received_at.encode(), "generated"
    elif not body:
        return _error(400, "empty body"), {}
    if raw is None:
        return _error(400, "body is not valid base64"), {}

    attributes = {
        "path": route.path,
        "route": route.name,
        "source": route.source,
        "contentType": _sqs_safe(content_type, _MAX_HEADER_ATTRIBUTE_CHARS),
        "receivedAt": received_at,
        "requestId": _sqs_safe(request_id, _MAX_HEADER_ATTRIBUTE_CHARS),
        "bodyEncoding": encoding,
    }
    for name, value in (("userAgent", http.get("userAgent")), ("sourceIp", http.get("sourceIp"))):
        if isinstance(value, str) and value.strip():
            attributes[name] = _sqs_safe(value, _MAX_HEADER_ATTRIBUTE_CHARS)
    limit = SETTINGS.max_message_bytes
    if len(body) > limit:  # before verifying: no HMAC over a body that cannot be queued
        return _too_large(limit), {"size": len(body)}

    delivery_id: str | None = None
    if route.source != "none":
        secrets: Sequence[str] = ()
        if route.secret_parameter is not None and route.source not in _HANDSHAKE_SOURCES:
            loaded, reason = _route_secrets(route)
            if loaded is None:
                return _error(503, "verification unavailable, retry later"), {"reason": reason}
            secrets = loaded
        verdict = senders.verify(route.options, headers, raw, secrets, received_epoch)
        if verdict.challenge is not None:
            return _response(200, {"challenge": verdict.challenge}), {"handshake": True}
        if not verdict.ok:
            public = _REFUSALS.get(verdict.status, "request refused")
            return _error(verdict.status, public), {"reason": verdict.reason}
        delivery_id = verdict.delivery_id

    if encoding != "generated":
        if not media_type or media_type not in SETTINGS.accepted_types:
            accepted = ", ".join(sorted(SETTINGS.accepted_types))
            return _error(415, f"unsupported content type; accepted: {accepted}"), {}
        if not base64_encoded and _NOT_SQS_TEXT.search(body):
            return _error(400, "body contains characters a queue message cannot carry"), {}
    document: Any = None
    if _is_json(media_type):
        try:
            document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            return _error(400, "body is not UTF-8"), {}
        except (ValueError, RecursionError):
            return _error(400, "body is not valid JSON"), {}

    if delivery_id is not None:
        attributes["deliveryId"] = _sqs_safe(delivery_id, 128)
    attributes = {name: value for name, value in attributes.items() if value}  # SQS refuses ""
    size = message_size(body, attributes)
    if size > limit:
        return _too_large(limit), {"size": size}
    params: dict[str, Any] = {
        "QueueUrl": SETTINGS.queue_url,
        "MessageBody": body,
        "MessageAttributes": attributes,
    }
    if SETTINGS.fifo:
        params["MessageGroupId"] = _group_id(document)
        if delivery_id is not None:
            # The sender's own id: its retries collapse even when a body differs (a resend may
            # carry a new timestamp inside it). Prefixed with the route, so that two senders'
            # ids on one queue can never collide.
            params["MessageDeduplicationId"] = _sqs_id(f"{route.name}:{delivery_id}")
    message_id, reason, attempts = _send(params, request_id)
    fields = {"size": size, "attempts": attempts}
    if message_id is None:
        return _error(503, "queue unavailable, retry later"), {**fields, "reason": reason}
    payload = {"timestamp": received_at, "message_id": message_id}
    return _response(200, payload), {**fields, "message_id": message_id}


def _query(event: Mapping[str, Any]) -> dict[str, str]:
    params = event.get("queryStringParameters")
    if isinstance(params, dict):
        return {str(k): v for k, v in params.items() if isinstance(v, str)}
    return dict(parse_qsl(_text(event.get("rawQueryString")), keep_blank_values=True))


def _handshake(route: Route, event: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """GET: the Strava subscription handshake. Never enqueues."""
    query = _query(event)
    challenge = query.get("hub.challenge", "")
    offered = query.get("hub.verify_token", "")
    if query.get("hub.mode") != "subscribe" or not challenge or not offered:
        return _error(403, "not a subscription handshake"), {}
    if route.secret_parameter is None:
        return _error(403, "no verify token configured"), {}
    expected, reason = _route_secrets(route)
    if expected is None:
        return _error(503, "verify token unavailable, retry later"), {"reason": reason}
    offered_bytes = offered.encode("utf-8", "surrogatepass")
    matched = False
    for token in expected:  # every candidate compared, so timing says nothing of which one
        matched |= hmac.compare_digest(offered_bytes, token.encode("utf-8", "surrogatepass"))
    if not matched:
        return _error(403, "verify token mismatch"), {"reason": "strava: verify token mismatch"}
    return _response(200, {"hub.challenge": challenge}), {}


def _allowed_methods(route: Route) -> str:
    return "GET, POST" if route.source in _HANDSHAKE_SOURCES else "POST"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Function URL entry point; returns a payload-2.0 response and never raises for bad input."""
    started = time.monotonic()
    event = event if isinstance(event, dict) else {}
    context_fields = event.get("requestContext")
    context_fields = context_fields if isinstance(context_fields, dict) else {}
    http = context_fields.get("http")
    http = http if isinstance(http, dict) else {}
    request_id = _text(context_fields.get("requestId")) or _text(
        getattr(context, "aws_request_id", "")
    )
    method = _text(http.get("method")).upper()
    raw_path = _text(event.get("rawPath")) or _text(http.get("path"))
    raw_headers = event.get("headers")
    headers = (
        {str(k).lower(): str(v) for k, v in raw_headers.items()}
        if isinstance(raw_headers, dict)
        else {}
    )

    route = SETTINGS.routes.get(_canonical_path(raw_path))
    fields: dict[str, Any] = {}
    if route is None:
        response = _error(404, "not found")
    elif method == "POST":
        response, fields = _enqueue(route, event, headers, request_id, context_fields, http)
    elif method == "GET" and route.source in _HANDSHAKE_SOURCES:
        response, fields = _handshake(route, event)
    else:
        response = _error(405, "method not allowed", allow=_allowed_methods(route))
    status = response["statusCode"]
    if route is not None:
        fields = {"route": route.name, **fields}
    _log(
        "INFO" if status < 500 else "ERROR",
        "request handled",
        request_id=request_id,
        method=method,
        path=raw_path[:_MAX_HEADER_ATTRIBUTE_CHARS],
        status=status,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        **fields,
    )
    return response
