"""The listener against moto: routes, statuses, what lands in the queue, and SQS failures."""

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from environments import listener_env
from factories import (
    LambdaContext,
    event_body,
    function_url_event,
    post_event,
    receive_messages,
)

EPOCH_MS = 1732867200123
RECEIVED_AT = "2024-11-29T08:00:00.123Z"
REQUEST_ID = "c2a7b4e0-5d3f-4b8e-9a61-0f2d3c4b5a69"
LoadFunction = Callable[..., Any]  # conftest.load_function
JSON_TYPES = ("application/json", "application/vnd.strava+json", "application/octet-stream")


def invoke(listener: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    return listener.handler(event, LambdaContext(function_name="listener"))


def body_of(response: dict[str, Any]) -> Any:
    assert response["headers"]["content-type"] == "application/json"
    return json.loads(response["body"])


def queued(sqs: Any, queue_url: str) -> list[Any]:
    return receive_messages(sqs, queue_url)


def fixed_post(body: Any, **kwargs: Any) -> dict[str, Any]:
    """A POST whose metadata is fixed, so the attributes (and their size) are known."""
    defaults: dict[str, Any] = {
        "request_id": REQUEST_ID,
        "time_epoch_ms": EPOCH_MS,
        "user_agent": "Strava Webhooks/1.0",
        "source_ip": "203.0.113.17",
    }
    return post_event(body, **{**defaults, **kwargs})


def sqs_size(message: dict[str, Any]) -> int:
    """Size of a received message the way SQS counts it: body + attribute names, types, values."""
    attributes = message.get("MessageAttributes", {})
    return len(message["Body"].encode()) + sum(
        len(name.encode()) + len(a["DataType"].encode()) + len(a["StringValue"].encode())
        for name, a in attributes.items()
    )


def expected_attribute_bytes(content_type: str = "application/json") -> int:
    attributes = {
        "path": "/append_queue",
        "route": "demo",
        "source": "none",
        "contentType": content_type,
        "receivedAt": RECEIVED_AT,
        "requestId": REQUEST_ID,
        "bodyEncoding": "text",
        "userAgent": "Strava Webhooks/1.0",
        "sourceIp": "203.0.113.17",
    }
    return sum(len(n) + len("String") + len(v.encode()) for n, v in attributes.items())


# --- POST: the happy path ------------------------------------------------------------------------


def test_post_enqueues_the_body_exactly_and_answers_with_the_message_id(
    listener: ModuleType, sqs: Any, queue_url: str
) -> None:
    # GIVEN a JSON body with odd spacing and non-ASCII text
    body = '{ "object_type" : "activity",\n  "title": "Café ✓ 😀", "n": 1.50 }'
    # WHEN it is posted
    response = invoke(listener, fixed_post(body))
    # THEN 200 names the message, and the queue holds the body byte for byte
    assert response["statusCode"] == 200
    answer = body_of(response)
    assert answer == {"timestamp": RECEIVED_AT, "message_id": answer["message_id"]}
    [message] = queued(sqs, queue_url)
    assert message["MessageId"] == answer["message_id"]
    assert message["Body"].encode("utf-8") == body.encode("utf-8")
    assert message["MD5OfBody"] == hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def test_post_sets_every_message_attribute(listener: ModuleType, sqs: Any, queue_url: str) -> None:
    # GIVEN a Strava event with a charset parameter on its content type
    event = fixed_post(
        event_body("strava-activity-create"), content_type="application/json; charset=utf-8"
    )
    # WHEN it is posted
    assert invoke(listener, event)["statusCode"] == 200
    # THEN the request metadata travels as String attributes
    [message] = queued(sqs, queue_url)
    attributes = message["MessageAttributes"]
    assert {a["DataType"] for a in attributes.values()} == {"String"}
    assert {name: a["StringValue"] for name, a in attributes.items()} == {
        "path": "/append_queue",
        "route": "demo",
        "source": "none",
        "contentType": "application/json; charset=utf-8",
        "receivedAt": RECEIVED_AT,
        "requestId": REQUEST_ID,
        "bodyEncoding": "text",
        "userAgent": "Strava Webhooks/1.0",
        "sourceIp": "203.0.113.17",
    }


def test_timestamp_falls_back_to_now_without_time_epoch(
    listener: ModuleType, sqs: Any, queue_url: str
) -> None:
    # GIVEN an event without requestContext.timeEpoch
    event = post_event({"a": 1})
    del event["requestContext"]["timeEpoch"]
    before = datetime.now(UTC)
    # WHEN it is posted
    answer = body_of(invoke(listener, event))
    # THEN the timestamp is the time of receipt, in UTC ISO-8601
    stamp = datetime.fromisoformat(answer["timestamp"])
    assert stamp.utcoffset() is not None
    assert stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert before.timestamp() - 0.01 <= stamp.timestamp() <= datetime.now(UTC).timestamp() + 0.01
    assert len(queued(sqs, queue_url)) == 1


def test_base64_json_body_is_queued_as_received_base64_text(
    listener: ModuleType, sqs: Any, queue_url: str
) -> None:
    # GIVEN a JSON body the Function URL delivered base64-encoded
    raw = json.dumps({"aspect_type": "create", "title": "Ünïcode"}).encode()
    event = fixed_post(raw)
    assert event["isBase64Encoded"] is True
    # WHEN it is posted
    assert invoke(listener, event)["statusCode"] == 200
    # THEN the queue holds the base64 text as received, marked as such
    [message] = queued(sqs, queue_url)
    assert message["Body"] == event["body"]
    assert base64.b64decode(message["Body"]) == raw
    assert message["MessageAttributes"]["bodyEncoding"]["StringValue"] == "base64"


def test_binary_body_of_an_accepted_type_is_queued_base64(
    load_function: LoadFunction, sqs: Any, queue_url: str
) -> None:
    # GIVEN a listener accepting octet-stream, and bytes that are not text
    listener = load_function(
        "listener", listener_env(queue_url, accepted_content_types=JSON_TYPES)
    ).handler
    raw = bytes(range(256))
    # WHEN they are posted
    response = invoke(listener, post_event(raw, content_type="application/octet-stream"))
    # THEN they arrive intact, base64-encoded
    assert response["statusCode"] == 200
    [message] = queued(sqs, queue_url)
    assert base64.b64decode(message["Body"]) == raw
    assert message["MessageAttributes"]["bodyEncoding"]["StringValue"] == "base64"
    assert message["MessageAttributes"]["contentType"]["StringValue"] == "application/octet-stream"


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; charset=UTF-8", " application/json "]
)
def test_content_type_matching_ignores_case_and_parameters(
    listener: ModuleType, sqs: Any, queue_url: str, content_type: str
) -> None:
    # GIVEN a JSON content type spelled in another case or with a parameter
    # WHEN a JSON body is posted with it
    response = invoke(listener, post_event({"a": 1}, content_type=content_type))
    # THEN it is accepted
    assert response["statusCode"] == 200
    assert len(queued(sqs, queue_url)) == 1


def test_header_names_in_odd_case_are_understood(
    listener: ModuleType, sqs: Any, queue_url: str
) -> None:
    # GIVEN an event whose header names were not lower-cased
    event = function_url_event(
        body={"a": 1},
        content_type=None,
        headers={"CONTENT-TYPE": "application/json"},
        lowercase_headers=False,
    )
    assert "content-type" not in event["headers"]
    # WHEN it is posted
    # THEN the content type is found anyway
    assert invoke(listener, event)["statusCode"] == 200
    assert len(queued(sqs, queue_url)) == 1


def test_trailing_slash_reaches_the_same_route(
    listener: ModuleType, sqs: Any, queue_url: str
) -> None:
    # GIVEN the configured path with a trailing slash
    # WHEN a body is posted there
    response = invoke(listener, post_event({"a": 1}, path="/append_queue/"))
    # THEN it is enqueued under the configured path
    assert response["statusCode"] == 200
    [message] = queued(sqs, queue_url)
    assert message["MessageAttributes"]["path"]["StringValue"] == "/append_queue"


def test_every_configured_path_is_served(
    load_function: LoadFunction, sqs: Any, queue_url: str
) -> None:
    # GIVEN two configured routes
    routes = [
        {"name": "a", "path": "/strava", "source": "none"},
        {"name": "b", "path": "/github", "source": "none"},
    ]
    listener = load_function("listener", listener_env(queue_url, routes=routes)).handler
    # WHEN each gets a POST, and the default path one too
    statuses = [
        invoke(listener, post_event({"p": p}, path=p))["statusCode"]
        for p in ("/strava", "/github", "/append_queue")
    ]
    # THEN only the configured ones are served, each message tagged with its path
    assert statuses == [200, 200, 404]
    paths = sorted(m["MessageAttributes"]["path"]["StringValue"] for m in queued(sqs, queue_url))
    assert paths == ["/github", "/strava"]


# --- Bad input: statuses, and never a message ----------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET", "PUT"])
@pytest.mark.parametrize("path", ["/", "/other", "/append_queue/x", "/APPEND_QUEUE", ""])
def test_unknown_path_is_404(
    listener: ModuleType, sqs: Any, queue_url: str, method: str, path: str
) -> None:
    # GIVEN a path that is not configured
    event = function_url_event(method=method, path=path, body={"a": 1})
    # WHEN it is requested
    response = invoke(listener, event)
    # THEN 404 and nothing is queued
    assert response["statusCode"] == 404
    assert body_of(response) == {"error": "not found"}
    assert queued(sqs, queue_url) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post-ish"])
def test_other_methods_are_405_with_allow(
    listener: ModuleType, sqs: Any, queue_url: str, method: str
) -> None:
    # GIVEN a method other than POST on an open route (GET only answers Strava's handshake)
    # WHEN it is requested with a valid body
    response = invoke(listener, function_url_event(method=method, body={"a": 1}))
    # THEN 405 names the allowed methods, and nothing is queued
    assert response["statusCode"] == 405
    assert {m.strip() for m in response["headers"]["allow"].split(",")} == {"POST"}
    assert "error" in body_of(response)
    assert queued(sqs, queue_url) == []


@pytest.mark.parametrize(("source", "allowed"), [("strava", {"GET", "POST"}), ("none", {"POST"})])
def test_get_is_allowed_only_where_a_handshake_is_answered(
    load_function: LoadFunction, sqs: Any, queue_url: str, source: str, allowed: set[str]
) -> None:
    # GIVEN a route of each kind
    routes = [{"name": "r", "path": "/append_queue", "source": source}]
    listener = load_function("listener", listener_env(queue_url, routes=routes)).handler
    # WHEN a PUT and a plain GET arrive
    put = invoke(listener, function_url_event(method="PUT", body={"a": 1}))
    get = invoke(listener, function_url_event(method="GET"))
    # THEN the 405 lists what the route answers; the GET is a handshake (403) or a 405
    assert {m.strip() for m in put["headers"]["allow"].split(",")} == allowed
    assert get["statusCode"] == (403 if "GET" in allowed else 405)
    assert queued(sqs, queue_url) == []


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/jsonx", "json"])
def test_missing_or_unaccepted_content_type_is_415(
    listener: ModuleType, sqs: Any, queue_url: str, content_type: str | None
) -> None:
    # GIVEN a JSON body without an accepted content type
    # WHEN it is posted
    response = invoke(listener, post_event({"a": 1}, content_type=content_type))
    # THEN 415 and nothing is queued
    assert response["statusCode"] == 415
    assert "error" in body_of(response)
    assert queued(sqs, queue_url) == []


@pytest.mark.parametrize(
    ("body", "base64_encoded"),
    [
        pytest.param(None, False, id="no body"),
        pytest.param("", False, id="empty"),
        pytest.param("", True, id="empty base64"),
        pytest.param("{", False, id="truncated"),
        pytest.param("   ", False, id="whitespace"),
        pytest.param("{'single': 'quotes'}", False, id="not json"),
        pytest.param('{"a": NaN}', False, id="NaN"),
        pytest.param("[" * 100_000 + "]" * 100_000, False, id="too deep"),
        pytest.param("eyJhIjog*!!", True, id="invalid base64"),
        pytest.param(base64.b64encode(b'{"a": "\xff\xfe"}').decode(), True, id="not utf-8"),
        pytest.param(base64.b64encode(b"{nope").decode(), True, id="base64 not json"),
    ],
)
def test_empty_or_malformed_json_body_is_400(
    listener: ModuleType, sqs: Any, queue_url: str, body: str | None, base64_encoded: bool
) -> None:
    # GIVEN a JSON content type with a body that is not JSON
    event = post_event("placeholder", is_base64_encoded=base64_encoded)
    if body is None:
        del event["body"]
    else:
        event["body"] = body
    # WHEN it is posted
    response = invoke(listener, event)
    # THEN 400 and nothing is queued
    assert response["statusCode"] == 400
    assert "error" in body_of(response)
    assert queued(sqs, queue_url) == []


def test_plus_json_types_are_validated_as_json(
    load_function: LoadFunction, sqs: Any, queue_url: str
) -> None:
    # GIVEN a listener accepting a vendor +json type and octet-stream
    listener = load_function(
        "listener", listener_env(queue_url, accepted_content_types=JSON_TYPES)
    ).handler
    vendor = "application/vnd.strava+json"
    # WHEN malformed text is posted as +json and as octet-stream (not JSON)
    bad_json = invoke(listener, post_event("{oops", content_type=vendor))
    good_json = invoke(listener, post_event({"a": 1}, content_type=vendor))
    binary = invoke(listener, post_event("{oops", content_type="application/octet-stream"))
    # THEN only the +json one is held to JSON
    assert [bad_json["statusCode"], good_json["statusCode"], binary["statusCode"]] == [
        400,
        200,
        200,
    ]
    assert len(queued(sqs, queue_url)) == 2


def test_non_json_types_still_need_valid_base64_and_sqs_text(
    load_function: LoadFunction, sqs: Any, queue_url: str
) -> None:
    # GIVEN a listener accepting octet-stream
    listener = load_function(
        "listener", listener_env(queue_url, accepted_content_types=JSON_TYPES)
    ).handler
    octet = "application/octet-stream"
    # WHEN invalid base64, or text SQS cannot carry (NUL), is posted
    bad_base64 = post_event("not base64!", content_type=octet, is_base64_encoded=True)
    nul = post_event("a\x00b", content_type=octet)
    # THEN both are 400 and nothing is queued
    assert invoke(listener, bad_base64)["statusCode"] == 400
    assert invoke(listener, nul)["statusCode"] == 400
    assert queued(sqs, queue_url) == []


# --- 413 at the exact SQS boundary ---------------------------------------------------------------


def padded_json(total_bytes: int, *, wide: bool = False) -> str:
    """A JSON document of exactly total_bytes UTF-8 bytes, padded with "x" or two-byte "é"."""
    room = total_bytes - len('{"pad":""}')
    pad = "x" * (room % 2) + "é" * (room // 2) if wide else "x" * room
    body = '{"pad":"' + pad + '"}'
    assert len(body.encode()) == total_bytes
    return body


@pytest.mark.parametrize(("delta", "status"), [(-1, 200), (0, 200), (1, 413)])
def test_413_boundary_at_one_mebibyte_counts_attributes(
    listener: ModuleType, sqs: Any, queue_url: str, delta: int, status: int
) -> None:
    # GIVEN a body that makes the whole SQS message (body + attributes) max - 1 / max / max + 1
    limit = 1_048_576
    body = padded_json(limit - expected_attribute_bytes() + delta)
    # WHEN it is posted
    response = invoke(listener, fixed_post(body))
    # THEN it fits up to the limit and is refused beyond it, never queued then
    assert response["statusCode"] == status
    messages = queued(sqs, queue_url)
    if status == 200:
        [message] = messages
        assert sqs_size(message) == limit + delta
        assert message["Body"] == body
    else:
        assert messages == []
        assert "error" in body_of(response)


@pytest.mark.parametrize(("delta", "status"), [(-1, 200), (0, 200), (1, 413)])
def test_413_boundary_counts_utf8_bytes_not_characters(
    load_function: LoadFunction,
    sqs: Any,
    queue_url: str,
    delta: int,
    status: int,
) -> None:
    # GIVEN a small limit and a body of two-byte characters around it
    limit = 4096
    listener = load_function("listener", listener_env(queue_url, max_message_bytes=limit)).handler
    body = padded_json(limit - expected_attribute_bytes() + delta, wide=True)
    assert len(body) < len(body.encode())
    # WHEN it is posted
    response = invoke(listener, fixed_post(body))
    # THEN bytes, not characters, decide
    assert response["statusCode"] == status
    assert len(queued(sqs, queue_url)) == (1 if status == 200 else 0)


def test_413_counts_the_base64_text_that_is_queued(
    load_function: LoadFunction, sqs: Any, queue_url: str
) -> None:
    # GIVEN a binary body whose base64 text is just over the limit, though the raw bytes fit
    limit = 4096
    listener = load_function(
        "listener",
        listener_env(queue_url, max_message_bytes=limit, accepted_content_types=JSON_TYPES),
    ).handler
    raw = b"\x00" * 3000  # 4000 base64 characters
    # WHEN it is posted
    response = invoke(listener, fixed_post(raw, content_type="application/octet-stream"))
    # THEN the queued size (base64 + attributes) decides: 413
    assert response["statusCode"] == 413
    assert queued(sqs, queue_url) == []


# --- SQS failures: 503, never 200, never a raise -------------------------------------------------


def count_sends(listener: ModuleType) -> list[dict[str, Any]]:
    """Record every SendMessage request the listener's client makes (retries included), as the
    JSON document it signs and sends, then let it go on to (moto's) SQS."""
    calls: list[dict[str, Any]] = []
    call = listener._sqs.call

    def record(operation: str, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        if operation == "SendMessage":
            calls.append(dict(payload))
        result: dict[str, Any] = call(operation, endpoint, payload)
        return result

    listener._sqs.call = record
    return calls


def fail_every_send(listener: ModuleType, make_error: Callable[[str], Exception]) -> list[str]:
    """A fake network: every SendMessage attempt raises before it reaches (moto's) SQS."""
    attempts: list[str] = []

    def send(operation: str, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        attempts.append(endpoint)
        raise make_error(endpoint)

    listener._sqs.call = send
    return attempts


def sqs_answers(listener: ModuleType, status: int, code: str) -> Callable[[str], Exception]:
    """The error the client makes of SQS's JSON-protocol error answer (its own parsing)."""
    body = json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": "no"}).encode()
    return lambda endpoint: listener.aws.service_error("SendMessage", status, {}, body)


@pytest.fixture
def budget_listener(load_function: LoadFunction, queue_url: str) -> ModuleType:
    """The listener with its own timeouts (0.2 s connect, 0.3 s read): its retry budget."""
    listener: ModuleType = load_function("listener", listener_env(queue_url), patient=False).handler
    return listener


@pytest.fixture
def no_sleep(budget_listener: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    sleeps: list[float] = []
    monkeypatch.setattr(budget_listener, "_sleep", sleeps.append)
    return sleeps


@pytest.mark.parametrize(
    ("code", "http_status", "calls"),
    [
        ("ThrottlingException", 400, 2),
        ("RequestThrottled", 403, 2),
        ("InternalError", 500, 2),
        ("AccessDenied", 403, 1),
        ("KMS.AccessDeniedException", 400, 1),
        ("InvalidParameterValue", 400, 1),
    ],
)
def test_sqs_client_errors_are_503_and_only_transient_ones_retried(
    budget_listener: ModuleType,
    sqs: Any,
    queue_url: str,
    no_sleep: list[float],
    code: str,
    http_status: int,
    calls: int,
) -> None:
    # GIVEN SQS answering every SendMessage with an error
    listener = budget_listener
    sends = fail_every_send(listener, sqs_answers(listener, http_status, code))
    # WHEN a valid request arrives
    response = invoke(listener, post_event({"a": 1}))
    # THEN 503 after the expected number of calls, and nothing is queued
    assert response["statusCode"] == 503
    assert "error" in body_of(response)
    assert len(sends) == calls
    assert queued(sqs, queue_url) == []


def test_missing_queue_is_503(load_function: LoadFunction, sqs: Any, queue_url: str) -> None:
    # GIVEN a listener pointed at a queue that does not exist
    listener = load_function("listener", listener_env(queue_url + "-gone")).handler
    sends = count_sends(listener)
    # WHEN a valid request arrives
    response = invoke(listener, post_event({"a": 1}))
    # THEN 503 at once (no retry can help), nothing anywhere
    assert response["statusCode"] == 503
    assert len(sends) == 1
    assert queued(sqs, queue_url) == []


@pytest.mark.parametrize(
    "make_error",
    [
        pytest.param("ConnectError", id="connect timeout or refused"),
        pytest.param("ReadTimeoutError", id="read timeout"),
        pytest.param("NoResponseError", id="reset after sending"),
    ],
)
@pytest.mark.parametrize("max_attempts", [1, 2, 3])
def test_network_failures_are_503_after_exactly_the_configured_attempts(
    load_function: LoadFunction,
    sqs: Any,
    queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_error: str,
    max_attempts: int,
) -> None:
    # GIVEN a network where every SendMessage attempt fails, and SQS_MAX_ATTEMPTS set
    listener = load_function(
        "listener", listener_env(queue_url, SQS_MAX_ATTEMPTS=str(max_attempts)), patient=False
    ).handler
    monkeypatch.setattr(listener, "_sleep", lambda seconds: None)
    error = getattr(listener.aws, make_error)
    attempts = fail_every_send(listener, lambda endpoint: error(f"{endpoint}: no"))
    # WHEN a valid request arrives
    response = invoke(listener, post_event({"a": 1}))
    # THEN 503 after exactly that many HTTP attempts, logged with the reason, nothing queued
    assert response["statusCode"] == 503
    assert len(attempts) == max_attempts
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    final = lines[-1]
    assert final["status"] == 503
    assert final["attempts"] == max_attempts
    assert final["reason"].startswith("sqs unreachable")
    assert queued(sqs, queue_url) == []


def test_a_transient_failure_then_success_is_one_message_and_200(
    budget_listener: ModuleType, sqs: Any, queue_url: str, no_sleep: list[float]
) -> None:
    # GIVEN a connection reset on the first attempt only
    listener = budget_listener
    attempts: list[str] = []
    call = listener._sqs.call

    def flaky(operation: str, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        attempts.append(endpoint)
        if len(attempts) == 1:
            raise listener.aws.ConnectError(f"{endpoint}: connection reset")
        result: dict[str, Any] = call(operation, endpoint, payload)
        return result

    listener._sqs.call = flaky
    # WHEN a request arrives
    response = invoke(listener, post_event({"a": 1}))
    # THEN the retry lands it: 200, one message, after a short jittered backoff
    assert response["statusCode"] == 200
    assert len(attempts) == 2
    [message] = queued(sqs, queue_url)
    assert message["MessageId"] == body_of(response)["message_id"]
    assert len(no_sleep) == 1
    assert 0 <= no_sleep[0] <= listener._BACKOFF_MAX_SECONDS


def test_default_client_config_keeps_the_worst_case_under_the_budget(
    budget_listener: ModuleType,
) -> None:
    # GIVEN the listener with default settings
    listener = budget_listener
    config = listener._sqs
    settings = listener.SETTINGS
    # THEN the client has short timeouts (it makes one attempt per call: retries are ours)
    assert (config.connect_timeout, config.read_timeout) == (0.2, 0.3)
    assert settings.max_attempts == 2
    # AND the worst case of one request's SQS work stays well under 1.5 s
    worst = (
        settings.max_attempts * (config.connect_timeout + config.read_timeout)
        + (settings.max_attempts - 1) * listener._BACKOFF_MAX_SECONDS
    )
    assert worst == pytest.approx(1.05)
    assert worst <= listener._SEND_BUDGET_SECONDS < 1.5


def test_timeouts_and_attempts_come_from_the_environment(
    load_function: LoadFunction, queue_url: str
) -> None:
    # GIVEN overrides for the SQS timeouts and attempts
    listener = load_function(
        "listener",
        listener_env(
            queue_url,
            SQS_CONNECT_TIMEOUT_SECONDS="0.1",
            SQS_READ_TIMEOUT_SECONDS="0.25",
            SQS_MAX_ATTEMPTS="3",
        ),
    ).handler
    # THEN the client and the retry loop use them
    assert (listener._sqs.connect_timeout, listener._sqs.read_timeout) == (0.1, 0.25)
    assert listener.SETTINGS.max_attempts == 3


@pytest.mark.parametrize(
    ("connect", "read", "max_attempts", "expected_attempts"),
    [
        ("0.5", "0.5", "5", 1),  # a second 1 s attempt would overrun the 1.2 s budget
        ("0.1", "0.1", "5", 5),  # five 0.2 s attempts fit
        ("0.1", "0.1", "10", 5),  # ... and the sixth would not, whatever SQS_MAX_ATTEMPTS says
    ],
)
def test_retries_stop_when_another_attempt_could_overrun_the_budget(
    load_function: LoadFunction,
    sqs: Any,
    queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
    connect: str,
    read: str,
    max_attempts: str,
    expected_attempts: int,
) -> None:
    # GIVEN a fake clock, and attempts that each time out after their full worst case
    listener = load_function(
        "listener",
        listener_env(
            queue_url,
            SQS_CONNECT_TIMEOUT_SECONDS=connect,
            SQS_READ_TIMEOUT_SECONDS=read,
            SQS_MAX_ATTEMPTS=max_attempts,
        ),
    ).handler
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(listener, "_monotonic", lambda: now[0])
    monkeypatch.setattr(listener, "_sleep", sleep)
    attempt_time = float(connect) + float(read)

    def time_out(url: str) -> Exception:
        now[0] += attempt_time
        error: Exception = listener.aws.ReadTimeoutError(f"{url}: no answer")
        return error

    attempts = fail_every_send(listener, time_out)
    # WHEN a request arrives
    response = invoke(listener, post_event({"a": 1}))
    # THEN 503 after as many attempts as the budget allows, and no later than the budget
    assert response["statusCode"] == 503
    assert len(attempts) == expected_attempts
    assert now[0] <= max(listener._SEND_BUDGET_SECONDS, attempt_time)
    assert queued(sqs, queue_url) == []


# --- FIFO ----------------------------------------------------------------------------------------


@pytest.fixture
def fifo_listener(load_function: LoadFunction, fifo_queue_url: str) -> Callable[..., ModuleType]:
    def load(group_field: str | None = "owner_id", **settings: Any) -> ModuleType:
        env = listener_env(fifo_queue_url, fifo=True, message_group_field=group_field, **settings)
        return load_function("listener", env).handler

    return load


@pytest.mark.parametrize(
    ("group_field", "body", "group"),
    [
        ("owner_id", event_body("strava-activity-create"), "4567890"),
        ("owner_id", {"owner_id": "athlete-7"}, "athlete-7"),
        ("owner_id", {"owner_id": {"b": 2, "a": [1]}}, '{"b":2,"a":[1]}'),
        ("owner_id", {"object_id": 1}, "default"),
        ("owner_id", {"owner_id": None}, "default"),
        ("owner_id", [1, 2], "default"),
        (None, event_body("strava-activity-create"), "default"),
        ("owner_id", {"owner_id": "has spaces"}, hashlib.sha256(b"has spaces").hexdigest()),
        ("owner_id", {"owner_id": "x" * 129}, hashlib.sha256(b"x" * 129).hexdigest()),
    ],
)
def test_fifo_group_id_comes_from_the_configured_field(
    fifo_listener: Callable[..., ModuleType],
    sqs: Any,
    fifo_queue_url: str,
    group_field: str | None,
    body: Any,
    group: str,
) -> None:
    # GIVEN a FIFO listener with (or without) MESSAGE_GROUP_FIELD
    listener = fifo_listener(group_field)
    # WHEN a body is posted
    assert invoke(listener, post_event(body))["statusCode"] == 200
    # THEN its group is the field's value, "default", or the hash of a value SQS would refuse
    [message] = queued(sqs, fifo_queue_url)
    assert message["Attributes"]["MessageGroupId"] == group


def test_fifo_non_json_body_goes_to_the_default_group(
    fifo_listener: Callable[..., ModuleType], sqs: Any, fifo_queue_url: str
) -> None:
    # GIVEN a FIFO listener also accepting octet-stream
    listener = fifo_listener(accepted_content_types=JSON_TYPES)
    # WHEN a binary body is posted
    event = post_event(b'{"owner_id": 1}', content_type="application/octet-stream")
    assert invoke(listener, event)["statusCode"] == 200
    # THEN it is not parsed for a group
    [message] = queued(sqs, fifo_queue_url)
    assert message["Attributes"]["MessageGroupId"] == "default"


def test_fifo_base64_json_body_is_parsed_for_the_group(
    fifo_listener: Callable[..., ModuleType], sqs: Any, fifo_queue_url: str
) -> None:
    # GIVEN a FIFO listener and a JSON body that arrived base64-encoded
    event = post_event(b'{"owner_id": 42}')
    # WHEN it is posted
    assert invoke(fifo_listener(), event)["statusCode"] == 200
    # THEN the group comes from the decoded JSON
    [message] = queued(sqs, fifo_queue_url)
    assert message["Attributes"]["MessageGroupId"] == "42"


def test_fifo_identical_posts_are_deduplicated_by_content(
    fifo_listener: Callable[..., ModuleType], sqs: Any, fifo_queue_url: str
) -> None:
    # GIVEN a FIFO queue with content-based deduplication
    listener = fifo_listener()
    body = event_body("strava-activity-update")
    # WHEN Strava retries the same event (new request id, new time) and a different one follows
    first = invoke(listener, post_event(body, time_epoch_ms=EPOCH_MS))
    retry = invoke(listener, post_event(body, time_epoch_ms=EPOCH_MS + 60_000))
    other = invoke(listener, post_event(event_body("strava-activity-delete")))
    # THEN all are acknowledged, the retry is dropped by SQS, and the dedup id is the body's hash
    assert [first["statusCode"], retry["statusCode"], other["statusCode"]] == [200, 200, 200]
    messages = queued(sqs, fifo_queue_url)
    assert [m["Body"] for m in messages] == [body, event_body("strava-activity-delete")]
    expected = hashlib.sha256(body.encode()).hexdigest()
    assert messages[0]["Attributes"]["MessageDeduplicationId"] == expected


def test_fifo_send_has_a_group_and_never_a_deduplication_id(
    fifo_listener: Callable[..., ModuleType], fifo_queue_url: str
) -> None:
    # GIVEN a FIFO listener whose SendMessage parameters are recorded
    listener = fifo_listener()
    sends = count_sends(listener)
    # WHEN a Strava event is posted
    assert invoke(listener, post_event(event_body("strava-activity-create")))["statusCode"] == 200
    # THEN ONE SendMessage carried a group id and no deduplication id
    [params] = sends
    assert params["MessageGroupId"] == "4567890"
    assert "MessageDeduplicationId" not in params
    assert params["QueueUrl"] == fifo_queue_url


def test_standard_queue_send_has_no_group_id(listener: ModuleType) -> None:
    # GIVEN the default (standard queue) listener
    sends = count_sends(listener)
    # WHEN a request is posted
    assert invoke(listener, post_event({"owner_id": 1}))["statusCode"] == 200
    # THEN no FIFO parameters are sent
    [params] = sends
    assert "MessageGroupId" not in params
    assert "MessageDeduplicationId" not in params


# --- Configuration -------------------------------------------------------------------------------


GOOD_CONFIG = {
    "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
    "fifo": False,
    "maxMessageBytes": 1048576,
    "acceptedContentTypes": ["application/json"],
    "messageGroupField": None,
    "routes": [
        {"name": "demo", "path": "/append_queue", "source": "none", "secretParameter": None}
    ],
}


def _config(**changes: Any) -> dict[str, str]:
    return {"LISTENER_CONFIG": json.dumps({**GOOD_CONFIG, **changes})}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, ["LISTENER_CONFIG is required"]),
        ({"LISTENER_CONFIG": "{not json"}, ["LISTENER_CONFIG is required"]),
        (
            {
                "LISTENER_CONFIG": json.dumps(
                    {"queueUrl": 5, "fifo": "yes", "maxMessageBytes": 2_000_000, "routes": []}
                ),
                "SQS_MAX_ATTEMPTS": "0",
                "SQS_READ_TIMEOUT_SECONDS": "nan",
            },
            [
                "queueUrl",
                "fifo",
                "maxMessageBytes",
                "acceptedContentTypes",
                "at least one route",
                "SQS_MAX_ATTEMPTS",
                "SQS_READ_TIMEOUT_SECONDS",
            ],
        ),
        (_config(queueUrl="https://sqs.us-east-1.amazonaws.com/1/q.fifo"), ["FIFO queue"]),
        (
            _config(routes=[{"name": "x", "path": "no-slash", "source": "none"}]),
            ["route 'x' needs a path"],
        ),
        (
            _config(routes=[{"name": "x", "path": "/x", "source": "gitlab"}]),
            ["route 'x' needs a source"],
        ),
        (
            _config(routes=[{"name": "g", "path": "/g", "source": "github"}]),
            ["route 'g' needs a secretParameter"],
        ),
    ],
)
def test_bad_configuration_fails_the_import_naming_every_problem(
    load_function: LoadFunction, env: dict[str, str], names: list[str]
) -> None:
    # GIVEN an environment the program should never set
    # WHEN the listener is imported
    with pytest.raises(RuntimeError) as raised:
        load_function("listener", env)
    # THEN one ConfigError names every offending setting
    assert type(raised.value).__name__ == "ConfigError"
    for name in names:
        assert name in str(raised.value)


def test_the_program_written_configuration_loads(load_function: LoadFunction) -> None:
    # GIVEN the configuration the program's own code writes, with every source in it
    routes = [
        {"name": "strava", "path": "/strava", "source": "strava", "ownerIds": [1]},
        {"name": "gh", "path": "/github", "source": "github"},
        {"name": "stripe", "path": "/stripe", "source": "stripe"},
        {"name": "slack", "path": "/slack", "source": "slack"},
        {"name": "shop", "path": "/shopify", "source": "shopify"},
        {"name": "sw", "path": "/std", "source": "standard-webhooks"},
        {"name": "h", "path": "/h", "source": "hmac", "header": "X-Sig", "encoding": "base64"},
        {"name": "t", "path": "/t", "source": "token"},
        {"name": "open", "path": "/open", "source": "none"},
    ]
    parameters = {r["name"]: f"/p/routes/{r['name']}" for r in routes if r["source"] != "none"}
    env = listener_env(GOOD_CONFIG["queueUrl"], routes=routes, secret_parameters=parameters)
    # WHEN the listener starts with it
    listener = load_function("listener", env).handler
    # THEN it serves every route, each with the parameter of its secret
    assert {r.name: r.secret_parameter for r in listener.SETTINGS.routes.values()} == {
        r["name"]: parameters.get(r["name"]) for r in routes
    }


def test_import_creates_no_ssm_client(listener: ModuleType) -> None:
    # GIVEN a freshly imported listener
    # THEN only the SQS client exists: SSM waits for a handshake
    assert listener._ssm is None
    assert listener._secrets == {}
    assert isinstance(listener._sqs, listener.aws.SQS)


# --- Logs ----------------------------------------------------------------------------------------


def test_logs_are_json_lines_with_the_request_id_and_no_payload(
    listener: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a body with a recognisable secret-ish value
    marker = "do-not-log-3f9a7c"
    # WHEN it is posted, and a bad request follows
    ok = invoke(listener, fixed_post({"title": marker}))
    bad = invoke(listener, fixed_post("{" + marker))
    # THEN each request logs one JSON line with its request id and status, never the body
    out = capsys.readouterr().out
    assert marker not in out
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["request_id"], line["status"]) for line in lines] == [
        (REQUEST_ID, 200),
        (REQUEST_ID, 400),
    ]
    assert lines[0]["message_id"] == body_of(ok)["message_id"]
    assert bad["statusCode"] == 400


def test_the_listener_verifies_every_source_the_program_configures(listener: ModuleType) -> None:
    from infra.routes import SOURCES

    assert set(listener.senders.SOURCES) == set(SOURCES)


# SQS's SendMessage reference: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
SQS_ALLOWED = ((0x9, 0x9), (0xA, 0xA), (0xD, 0xD), (0x20, 0xD7FF), (0xE000, 0xFFFD))


def test_the_listeners_rejected_characters_are_exactly_those_sqs_refuses(
    load_function: LoadFunction, queue_url: str
) -> None:
    """The listener lists what SQS leaves out (cheaper to compile than SQS's own list): the two
    agree on every code point, each range's edges included."""
    rejected = load_function("listener", listener_env(queue_url)).handler._NOT_SQS_TEXT
    every = "".join(map(chr, range(0x110000)))
    allowed = "".join(chr(c) for low, high in SQS_ALLOWED for c in range(low, high + 1))
    allowed += "".join(map(chr, range(0x10000, 0x110000)))
    kept = rejected.sub("", every)
    assert kept == allowed, "the listener rejects a character SQS accepts, or keeps one it refuses"
