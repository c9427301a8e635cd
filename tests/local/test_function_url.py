"""The local Function URL: payload format 2.0 requests in, HTTP responses out."""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.function_url import FunctionUrlServer, response_from_invocation
from local.lambda_runtime import MAX_PAYLOAD_BYTES, FunctionError, Invocation, LocalFunction
from local.shapes import event_from_http_request as build_event
from local.shapes import is_text_content_type

MakeFunction = Callable[..., LocalFunction]
Serve = Callable[[LocalFunction], FunctionUrlServer]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[FunctionUrlServer] = []

    def start(function: LocalFunction) -> FunctionUrlServer:
        server = FunctionUrlServer(function, port=0)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def request(
    server: FunctionUrlServer,
    method: str,
    target: str,
    *,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One HTTP request; repeated header names are sent as separate header lines."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers or []:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _invocation(payload: Any = None, **fields: Any) -> Invocation:
    payload_json = json.dumps(payload) if "error" not in fields else None
    return Invocation(
        request_id="req-1", duration_ms=1.0, payload=payload, payload_json=payload_json, **fields
    )


# -- the request event ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "is_text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/plain", True),
        ("TEXT/HTML", True),
        ("application/xml", True),
        ("application/vnd.api+json", True),
        ("application/atom+xml", True),
        ("application/javascript", True),
        ("application/x-www-form-urlencoded", False),
        ("application/octet-stream", False),
        ("image/png", False),
        ("multipart/form-data; boundary=x", False),
        (None, False),
        ("", False),
    ],
)
def test_which_bodies_are_passed_as_text(content_type: str | None, is_text: bool) -> None:
    assert is_text_content_type(content_type) is is_text


def test_request_event_has_every_payload_2_0_field() -> None:
    now = 1583348638.390
    event = build_event(
        method="POST",
        target="/my/path?parameter1=value1&parameter1=value2&parameter2=a%20b",
        headers=[
            ("Host", "127.0.0.1:9000"),
            ("User-Agent", "agent/1.0"),
            ("X-Repeated", "one"),
            ("x-repeated", "two"),
            ("Cookie", "cookie1=a; cookie2=b"),
            ("Content-Type", "application/json"),
        ],
        body=b'{"k": "v"}',
        source_ip="127.0.0.1",
        url_id="abcdefg",
        request_id="req-42",
        now=now,
    )

    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path"
    assert event["rawQueryString"] == "parameter1=value1&parameter1=value2&parameter2=a%20b"
    assert event["cookies"] == ["cookie1=a", "cookie2=b"]
    assert event["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "a b"}
    headers = event["headers"]
    assert headers["x-repeated"] == "one,two"
    assert headers["user-agent"] == "agent/1.0"
    assert "cookie" not in headers
    assert all(name == name.lower() for name in headers)
    assert event["requestContext"] == {
        "accountId": "anonymous",
        "apiId": "abcdefg",
        "domainName": "127.0.0.1:9000",
        "domainPrefix": "abcdefg",
        "http": {
            "method": "POST",
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "agent/1.0",
        },
        "requestId": "req-42",
        "routeKey": "$default",
        "stage": "$default",
        "time": "04/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    }
    assert event["body"] == '{"k": "v"}'
    assert event["isBase64Encoded"] is False


def test_request_without_query_or_body_omits_them() -> None:
    event = build_event(
        method="GET",
        target="/",
        headers=[("Host", "h")],
        body=b"",
        source_ip="127.0.0.1",
        url_id="u",
        request_id="r",
    )

    assert "queryStringParameters" not in event
    assert "body" not in event
    assert "cookies" not in event
    assert event["isBase64Encoded"] is False


def test_binary_and_undecodable_bodies_are_base64() -> None:
    common: dict[str, Any] = {
        "method": "POST",
        "target": "/",
        "source_ip": "127.0.0.1",
        "url_id": "u",
        "request_id": "r",
    }
    form = build_event(
        headers=[("Content-Type", "application/x-www-form-urlencoded")], body=b"a=1", **common
    )
    not_utf8 = build_event(headers=[("Content-Type", "text/plain")], body=b"\xff\xfe", **common)

    assert form["isBase64Encoded"] is True
    assert base64.b64decode(form["body"]) == b"a=1"
    assert not_utf8["isBase64Encoded"] is True
    assert base64.b64decode(not_utf8["body"]) == b"\xff\xfe"


# -- the response mapping ------------------------------------------------------------------


def test_structured_response_maps_status_headers_cookies_and_body() -> None:
    response = response_from_invocation(
        _invocation(
            {
                "statusCode": 201,
                "headers": {"Content-Type": "text/plain", "X-Custom": "yes", "X-Number": 7},
                "cookies": ["a=1; Max-Age=60", "b=2"],
                "body": "created",
            }
        )
    )

    assert response.status == 201
    assert ("Content-Type", "text/plain") in response.headers
    assert ("X-Custom", "yes") in response.headers
    assert ("X-Number", "7") in response.headers
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1; Max-Age=60", "b=2"]
    assert response.body == b"created"


def test_base64_response_body_is_decoded() -> None:
    raw = bytes(range(256))
    response = response_from_invocation(
        _invocation(
            {"statusCode": 200, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
        )
    )

    assert response.body == raw


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        ({"message": "Hello, world!"}, b'{"message": "Hello, world!"}'),
        ("Hello, world!", b'"Hello, world!"'),
        ([1, 2], b"[1, 2]"),
        (42, b"42"),
        (None, b"null"),
    ],
)
def test_any_other_json_value_is_a_200_json_body(payload: Any, body: bytes) -> None:
    response = response_from_invocation(_invocation(payload))

    assert response.status == 200
    assert response.headers == [("Content-Type", "application/json")]
    assert response.body == body


@pytest.mark.parametrize(
    ("invocation", "status"),
    [
        (_invocation(error=FunctionError(error_type="ValueError", error_message="x")), 502),
        (
            _invocation(
                error=FunctionError(error_type="Sandbox.Timedout", error_message="t"),
                timed_out=True,
            ),
            502,
        ),
        (
            _invocation(
                error=FunctionError(error_type="TooManyRequestsException", error_message="r"),
                throttled=True,
            ),
            429,
        ),
        (_invocation({"statusCode": "not a number"}), 502),
        (_invocation({"statusCode": 200, "headers": ["not", "a", "dict"]}), 502),
        (_invocation({"statusCode": 200, "body": "%%%", "isBase64Encoded": True}), 502),
    ],
)
def test_errors_throttles_and_malformed_responses(invocation: Invocation, status: int) -> None:
    assert response_from_invocation(invocation).status == status


# -- over HTTP ---------------------------------------------------------------------------------


def test_http_request_reaches_the_function_as_a_payload_2_0_event(
    make_function: MakeFunction, serve: Serve
) -> None:
    server = serve(make_function("echo"))
    before_ms = int(time.time() * 1000)

    status, headers, body = request(
        server,
        "GET",
        "/hooks/strava?a=1&a=2&b=x",
        headers=[
            ("User-Agent", "tests/1.0"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Cookie", "session=abc; theme=dark"),
        ],
    )

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    event = json.loads(body)
    context = event["requestContext"]
    assert server.url.endswith("/")
    assert context["http"]["method"] == "GET"
    assert event["rawPath"] == "/hooks/strava"
    assert event["rawQueryString"] == "a=1&a=2&b=x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["headers"]["x-multi"] == "one,two"
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["http"]["userAgent"] == "tests/1.0"
    assert context["domainName"] == f"127.0.0.1:{server.port}"
    assert context["requestId"] == headers["x-amzn-RequestId"]
    assert before_ms <= context["timeEpoch"] <= int(time.time() * 1000)
    assert "body" not in event and event["isBase64Encoded"] is False


def test_json_body_arrives_as_text(make_function: MakeFunction, serve: Serve) -> None:
    server = serve(make_function("echo"))
    payload = '{"aspect_type": "create", "object_id": 1}'

    status, _, body = request(
        server,
        "POST",
        "/append_queue",
        headers=[("Content-Type", "application/json")],
        body=payload.encode(),
    )

    event = json.loads(body)
    assert status == 200
    assert event["body"] == payload
    assert event["isBase64Encoded"] is False


def test_binary_body_round_trips_through_base64(make_function: MakeFunction, serve: Serve) -> None:
    server = serve(make_function("mirror"))
    raw = bytes(range(256)) * 4

    status, headers, body = request(
        server, "PUT", "/", headers=[("Content-Type", "application/octet-stream")], body=raw
    )

    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"
    assert body == raw


def test_structured_response_over_http(make_function: MakeFunction, serve: Serve) -> None:
    server = serve(make_function())
    command = {
        "action": "return",
        "value": {
            "statusCode": 418,
            "headers": {"X-Teapot": "short and stout"},
            "cookies": ["a=1", "b=2"],
            "body": "I'm a teapot",
        },
    }

    status, headers, body = request(
        server,
        "POST",
        "/",
        headers=[("Content-Type", "application/json")],
        body=json.dumps(command).encode(),
    )

    assert status == 418
    assert headers["X-Teapot"] == "short and stout"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert body == b"I'm a teapot"


def test_function_error_is_a_502_with_a_request_id(
    make_function: MakeFunction, serve: Serve
) -> None:
    server = serve(make_function())

    status, headers, _ = request(
        server,
        "POST",
        "/",
        headers=[("Content-Type", "application/json")],
        body=b'{"action": "raise"}',
    )

    assert status == 502
    assert headers["x-amzn-RequestId"]


def test_timeout_is_a_502_within_the_timeout(make_function: MakeFunction, serve: Serve) -> None:
    server = serve(make_function(timeout_seconds=1.0))

    started = time.monotonic()
    status, _, _ = request(
        server,
        "POST",
        "/",
        headers=[("Content-Type", "application/json")],
        body=b'{"action": "sleep", "seconds": 10}',
    )

    assert status == 502
    assert time.monotonic() - started < 1.8


def test_throttled_request_is_a_429(make_function: MakeFunction, serve: Serve) -> None:
    server = serve(make_function(reserved_concurrency=0))

    status, headers, _ = request(server, "GET", "/")

    assert status == 429
    assert headers["x-amzn-ErrorType"] == "TooManyRequestsException"


def test_oversized_request_is_a_413_without_invoking(
    make_function: MakeFunction, serve: Serve
) -> None:
    function = make_function("echo")
    server = serve(function)

    too_big = request(
        server,
        "POST",
        "/",
        headers=[("Content-Type", "text/plain")],
        body=b"x" * (MAX_PAYLOAD_BYTES + 1),
    )
    # 4.8 MB of binary fits the body but not the event: base64 makes it 6.4 MB.
    too_big_once_encoded = request(
        server,
        "POST",
        "/",
        headers=[("Content-Type", "application/octet-stream")],
        body=b"\0" * (MAX_PAYLOAD_BYTES * 4 // 5),
    )

    assert too_big[0] == 413
    assert too_big_once_encoded[0] == 413
    assert function.worker_pids() == []


def test_keep_alive_requests_are_answered_in_milliseconds(
    make_function: MakeFunction, serve: Serve
) -> None:
    # GIVEN a warm function behind the URL and one keep-alive connection
    server = serve(make_function("echo"))
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    latencies: list[float] = []
    try:
        # WHEN a webhook sender posts ten events on it
        for _ in range(10):
            started = time.perf_counter()
            connection.request(
                "POST", "/", body=b"{}", headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
    finally:
        connection.close()

    # THEN they are answered in milliseconds (Nagle + delayed ACK would add 40 ms to each)
    assert response.status == 200
    assert sorted(latencies)[5] < 0.02


def test_server_stops_and_releases_its_port(make_function: MakeFunction) -> None:
    server = FunctionUrlServer(make_function("echo"))
    server.start()
    port = server.port

    server.stop()
    server.stop()

    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).connect()
