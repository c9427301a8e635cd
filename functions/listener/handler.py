"""Webhook listener: validate the request, put it on SQS, answer within milliseconds.

Runs behind a Lambda Function URL (payload format 2.0). Senders such as Strava give a hard
deadline (a 200 within 2 s, cold start included), so this function only validates and enqueues;
the processor does the real work later. A 200 always means the message is in the queue; every
other answer leaves the queue untouched. Contract: DESIGN.md section 3.

Environment (read once at import; a bad value fails the cold start, because it is a deploy bug):
  QUEUE_URL                     required
  LISTENER_PATHS                JSON list of paths, default ["/append_queue"]
  ACCEPTED_CONTENT_TYPES        JSON list of media types, default ["application/json"]
  MAX_MESSAGE_BYTES             whole SQS message (body + attributes), default 1048576
  FIFO                          "true" / "false", default false
  MESSAGE_GROUP_FIELD           FIFO only: top-level JSON field giving the MessageGroupId
  VERIFY_TOKEN_PARAMETER        name of the SSM SecureString holding the Strava verify token
  SQS_CONNECT_TIMEOUT_SECONDS   default 0.2
  SQS_READ_TIMEOUT_SECONDS      default 0.3
  SQS_MAX_ATTEMPTS              default 2
Region and endpoint come from the standard AWS variables (AWS_REGION, AWS_ENDPOINT_URL).
"""

import base64
import hashlib
import hmac
import json
import os
import random
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

SQS_MAX_BYTES = 1_048_576
"""The SQS hard limit for one message (body plus attributes)."""

# Worst case of one request's SQS work, with the defaults (connect 0.2 s, read 0.3 s, 2 attempts):
#   attempt 1: connect_timeout + read_timeout      = 0.2 + 0.3 = 0.50 s
#   backoff:   uniform(0, _BACKOFF_MAX_SECONDS)    <= 0.05 s
#   attempt 2: connect_timeout + read_timeout      = 0.50 s
#   total                                          <= 1.05 s  (< _SEND_BUDGET_SECONDS = 1.2 s)
# botocore's own retries are off (total_max_attempts=1): its backoff for throttling is up to 1 s
# and it honours x-amz-retry-after for up to 5 s more, which no 2 s deadline can afford. Retries
# happen in _send() instead, which starts another attempt only if that attempt's worst case still
# fits in _SEND_BUDGET_SECONDS since the send began, so larger SQS_* overrides cannot push a
# request past the budget either (the first attempt always runs). read_timeout bounds each socket
# read; a SendMessage response is well under 1 KB and arrives in one read. DNS resolution is not
# covered by connect_timeout (the Lambda resolver answers in milliseconds). A cold start (import +
# client, ~0.3-0.5 s on arm64) plus 1.05 s stays under Strava's 2 s.
_SEND_BUDGET_SECONDS = 1.2
_BACKOFF_MAX_SECONDS = 0.05
_RETRYABLE_ERROR_CODES = frozenset(
    {
        "RequestThrottled",
        "Throttling",
        "ThrottlingException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KMS.ThrottlingException",
    }
)

# Characters SQS accepts in a message body or attribute value; SQS rejects anything else.
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# MessageGroupId: 1-128 characters, alphanumeric and punctuation.
_GROUP_ID = re.compile("[\x21-\x7e]{1,128}")
_DEFAULT_GROUP = "default"
_MAX_HEADER_ATTRIBUTE_CHARS = 256
_ALLOW = "GET, POST"


class ConfigError(RuntimeError):
    """The environment set by the program is missing or malformed: a deploy bug, not bad input."""


class Settings(NamedTuple):
    """Configuration read once per container."""

    queue_url: str
    paths: frozenset[str]
    accepted_types: frozenset[str]
    max_message_bytes: int
    fifo: bool
    group_field: str | None
    verify_token_parameter: str | None
    connect_timeout: float
    read_timeout: float
    max_attempts: int


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

    def json_list(name: str, default: list[str]) -> list[str]:
        raw = env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            errors.append(f"{name}={raw!r}: expected a non-empty JSON list of strings")
            return default
        return value

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

    queue_url = env.get("QUEUE_URL", "").strip()
    if not queue_url:
        errors.append("QUEUE_URL is required (the URL of the SQS queue to send to)")
    paths = json_list("LISTENER_PATHS", ["/append_queue"])
    if not all(p.startswith("/") for p in paths):
        errors.append(f"LISTENER_PATHS={paths!r}: every path must start with '/'")
    accepted = json_list("ACCEPTED_CONTENT_TYPES", ["application/json"])
    max_bytes = number("MAX_MESSAGE_BYTES", SQS_MAX_BYTES, int, 1)
    if max_bytes > SQS_MAX_BYTES:
        errors.append(f"MAX_MESSAGE_BYTES={max_bytes}: SQS allows at most {SQS_MAX_BYTES}")
    fifo_raw = env.get("FIFO", "").strip().lower() or "false"
    if fifo_raw not in ("true", "false"):
        errors.append(f"FIFO={env.get('FIFO')!r}: expected 'true' or 'false'")
    fifo = fifo_raw == "true"
    if queue_url.endswith(".fifo") and not fifo:
        errors.append("FIFO is false but QUEUE_URL names a FIFO queue (.fifo)")
    connect_timeout = number("SQS_CONNECT_TIMEOUT_SECONDS", 0.2, float, 0.001)
    read_timeout = number("SQS_READ_TIMEOUT_SECONDS", 0.3, float, 0.001)
    max_attempts = number("SQS_MAX_ATTEMPTS", 2, int, 1)
    if errors:
        raise ConfigError("invalid listener configuration: " + "; ".join(errors))
    return Settings(
        queue_url=queue_url,
        paths=frozenset(_canonical_path(p) for p in paths),
        accepted_types=frozenset(_media_type(t) for t in accepted),
        max_message_bytes=max_bytes,
        fifo=fifo,
        group_field=env.get("MESSAGE_GROUP_FIELD", "").strip() or None,
        verify_token_parameter=env.get("VERIFY_TOKEN_PARAMETER", "").strip() or None,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_attempts=max_attempts,
    )


def client_config(settings: Settings) -> Config:
    """Short timeouts and no botocore retries: _send() owns the retry budget."""
    return Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


SETTINGS = load_settings(os.environ)
_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
_sqs = boto3.client("sqs", region_name=_REGION, config=client_config(SETTINGS))
_ssm: Any = None  # created on the first handshake: most containers never see one
_verify_token: str | None = None  # cached for the container's life once read
# Indirections so tests can drive time without sleeping.
_monotonic = time.monotonic
_sleep = time.sleep


def _log(level: str, message: str, **fields: Any) -> None:
    """One JSON object per line on stdout; CloudWatch and the local cloud both read it."""
    print(json.dumps({"level": level, "message": message, **fields}, default=str), flush=True)


def _response(status: int, payload: Mapping[str, Any], **headers: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **headers},
        "body": json.dumps(payload),
    }


def _error(status: int, reason: str, **headers: str) -> dict[str, Any]:
    return _response(status, {"error": reason}, **headers)


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


def _received_at(context_fields: Mapping[str, Any]) -> str:
    """ISO-8601 UTC time of receipt: the Function URL's timeEpoch (ms), else now."""
    epoch_ms = context_fields.get("timeEpoch")
    if (
        isinstance(epoch_ms, bool)
        or not isinstance(epoch_ms, int | float)
        or not 0 <= epoch_ms < 253_402_300_800_000  # year 10000; also rejects NaN
    ):
        epoch_ms = time.time() * 1000
    when = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _group_id(document: Any) -> str:
    """The FIFO group: the configured field's value, or "default".

    A value SQS would refuse as a group id (too long, spaces, non-ASCII) becomes its SHA-256, so
    equal values still share a group and the request is not turned into a 503.
    """
    field = SETTINGS.group_field
    if field is None or not isinstance(document, dict):
        return _DEFAULT_GROUP
    value = document.get(field)
    if value is None or value == "":
        return _DEFAULT_GROUP
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if _GROUP_ID.fullmatch(text):
        return text
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _retryable(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.get("Code") in _RETRYABLE_ERROR_CODES or status >= 500


def _send(params: dict[str, Any], request_id: str) -> tuple[str | None, str, int]:
    """SendMessage with the bounded retries described above: (message id | None, reason, tries)."""
    deadline = _monotonic() + _SEND_BUDGET_SECONDS
    worst_attempt = SETTINGS.connect_timeout + SETTINGS.read_timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            return _sqs.send_message(**params)["MessageId"], "", attempt
        except ClientError as exc:
            reason = f"sqs error {exc.response.get('Error', {}).get('Code', 'unknown')}"
            retry = _retryable(exc)
        except (BotoConnectionError, HTTPClientError) as exc:  # timeouts, refused, reset
            reason = f"sqs unreachable: {type(exc).__name__}"
            retry = True
        except BotoCoreError as exc:  # credentials, parameter validation, ...
            reason = f"sqs client error: {type(exc).__name__}"
            retry = False
        backoff = random.uniform(0, _BACKOFF_MAX_SECONDS)  # noqa: S311 - jitter, not a secret
        if (
            not retry
            or attempt >= SETTINGS.max_attempts
            or _monotonic() + backoff + worst_attempt > deadline
        ):
            return None, reason, attempt
        _log(
            "WARNING", "retrying SendMessage", request_id=request_id, attempt=attempt, reason=reason
        )
        _sleep(backoff)


def _enqueue(
    event: Mapping[str, Any],
    headers: Mapping[str, str],
    path: str,
    request_id: str,
    context_fields: Mapping[str, Any],
    http: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST: validate, then ONE SendMessage. Returns the response and the fields to log."""
    content_type = headers.get("content-type", "").strip()
    media_type = _media_type(content_type)
    if not media_type or media_type not in SETTINGS.accepted_types:
        accepted = ", ".join(sorted(SETTINGS.accepted_types))
        return _error(415, f"unsupported content type; accepted: {accepted}"), {}
    body = event.get("body")
    base64_encoded = event.get("isBase64Encoded") is True
    if not isinstance(body, str) or not body:
        return _error(400, "empty body"), {}

    received_at = _received_at(context_fields)
    attributes = {
        "path": path,
        "contentType": _sqs_safe(content_type, _MAX_HEADER_ATTRIBUTE_CHARS),
        "receivedAt": received_at,
        "requestId": _sqs_safe(request_id, _MAX_HEADER_ATTRIBUTE_CHARS),
        "bodyEncoding": "base64" if base64_encoded else "text",
    }
    for name, value in (("userAgent", http.get("userAgent")), ("sourceIp", http.get("sourceIp"))):
        if isinstance(value, str) and value.strip():
            attributes[name] = _sqs_safe(value, _MAX_HEADER_ATTRIBUTE_CHARS)
    attributes = {name: value for name, value in attributes.items() if value}  # SQS refuses ""
    size = message_size(body, attributes)
    limit = SETTINGS.max_message_bytes
    if size > limit:
        return _error(413, f"message too large for the queue (limit {limit} bytes)"), {"size": size}

    text: str | None = body
    if base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error, or a non-ASCII str
            return _error(400, "body is not valid base64"), {}
        text = None
        if _is_json(media_type):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return _error(400, "body is not UTF-8"), {}
    elif _NOT_SQS_TEXT.search(body):
        return _error(400, "body contains characters a queue message cannot carry"), {}
    document: Any = None
    if _is_json(media_type) and text is not None:
        try:
            document = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return _error(400, "body is not valid JSON"), {}

    params: dict[str, Any] = {
        "QueueUrl": SETTINGS.queue_url,
        "MessageBody": body,
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    }
    if SETTINGS.fifo:
        params["MessageGroupId"] = _group_id(document)
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


def _load_verify_token() -> tuple[str | None, str]:
    """The verify token from SSM, read once per container; (None, reason) when SSM fails."""
    global _ssm, _verify_token
    if _verify_token is not None:
        return _verify_token, ""
    try:
        if _ssm is None:
            _ssm = boto3.client("ssm", region_name=_REGION, config=client_config(SETTINGS))
        result = _ssm.get_parameter(Name=SETTINGS.verify_token_parameter, WithDecryption=True)
    except ClientError as exc:
        return None, f"ssm error {exc.response.get('Error', {}).get('Code', 'unknown')}"
    except BotoCoreError as exc:
        return None, f"ssm unreachable: {type(exc).__name__}"
    value = result.get("Parameter", {}).get("Value")
    if not isinstance(value, str) or not value:
        return None, "ssm parameter has no value"
    _verify_token = value
    return value, ""


def _handshake(event: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """GET: the Strava subscription handshake. Never enqueues."""
    query = _query(event)
    challenge = query.get("hub.challenge", "")
    offered = query.get("hub.verify_token", "")
    if query.get("hub.mode") != "subscribe" or not challenge or not offered:
        return _error(403, "not a subscription handshake"), {}
    if SETTINGS.verify_token_parameter is None:
        return _error(403, "no verify token configured"), {}
    expected, reason = _load_verify_token()
    if expected is None:
        return _error(503, "verify token unavailable, retry later"), {"reason": reason}
    if not hmac.compare_digest(
        offered.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    ):
        return _error(403, "verify token mismatch"), {}
    return _response(200, {"hub.challenge": challenge}), {}


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

    path = _canonical_path(raw_path)
    fields: dict[str, Any] = {}
    if path not in SETTINGS.paths:
        response = _error(404, "not found")
    elif method == "POST":
        response, fields = _enqueue(event, headers, path, request_id, context_fields, http)
    elif method == "GET":
        response, fields = _handshake(event)
    else:
        response = _error(405, "method not allowed", allow=_ALLOW)
    status = response["statusCode"]
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
