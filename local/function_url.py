"""A local Lambda Function URL: an HTTP endpoint speaking payload format 2.0 both ways.

The request becomes the event a Function URL would send (``version`` "2.0", ``rawPath``,
comma-joined repeated headers and query keys, ``cookies``, base64 for non-text bodies...) and the
handler's return value is mapped back to HTTP as Lambda does: a dict with ``statusCode`` is an
HTTP response; any other JSON value is a 200 ``application/json`` body. Errors and timeouts are
502, throttles 429, and an event over 6 MB is 413 without invoking, like AWS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.lambda_runtime import (
    MAX_PAYLOAD_BYTES,
    FunctionClosedError,
    Invocation,
    LocalFunction,
    RequestTooLargeError,
)

__all__ = [
    "FunctionUrlServer",
    "HttpResponse",
    "build_event",
    "is_text_content_type",
    "response_from_invocation",
]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DRAIN_LIMIT = 64 * 1024 * 1024
"""Bodies up to this size are read and dropped before a 413, so the client sees the answer."""
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
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


def _request_time(epoch: float) -> str:
    """``12/Mar/2020:19:03:58 +0000``, independent of the process locale."""
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:" + time.strftime(
        "%H:%M:%S +0000", t
    )


def build_event(
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
    """The payload-2.0 event a Function URL with auth type NONE builds for this request."""
    now = time.time() if now is None else now
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
    joined.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}")

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if raw_query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": "anonymous",
        "apiId": url_id,
        "domainName": domain,
        "domainPrefix": url_id,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": _request_time(now),
        "timeEpoch": int(now * 1000),
    }
    is_text = is_text_content_type(joined.get("content-type"))
    if body and is_text:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            is_text = False  # not valid text after all: deliver it losslessly
    if body and not is_text:
        event["body"] = base64.b64encode(body).decode("ascii")
    event["isBase64Encoded"] = bool(body) and not is_text
    return event


@dataclass(frozen=True)
class HttpResponse:
    """What goes back on the wire."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _bad_gateway() -> HttpResponse:
    return HttpResponse(
        502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
    )


def response_from_invocation(invocation: Invocation) -> HttpResponse:
    """Map an invocation's outcome to the HTTP response a Function URL would send."""
    if invocation.throttled:
        return HttpResponse(
            429,
            [
                ("Content-Type", "application/json"),
                ("x-amzn-ErrorType", "TooManyRequestsException"),
            ],
            b'{"Message":"Rate Exceeded."}',
        )
    if invocation.error is not None:
        return _bad_gateway()
    payload = invocation.payload
    if not (isinstance(payload, dict) and "statusCode" in payload):
        text = invocation.payload_json
        if text is None:
            text = json.dumps(payload)
        return HttpResponse(200, [("Content-Type", "application/json")], text.encode())
    try:
        return _structured_response(payload)
    except (TypeError, ValueError, binascii.Error):
        return _bad_gateway()  # a malformed response is a 502 on AWS too


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


class _PayloadTooLargeError(Exception):
    """The declared or streamed body cannot fit in a 6 MB invocation payload."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the stdlib's backlog of 5 resets connections under a burst

    def __init__(self, address: tuple[str, int], function: LocalFunction, url_id: str) -> None:
        super().__init__(address, _Handler)
        self.function = function
        self.url_id = url_id

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Report to the function's log instead of a bare traceback on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return  # the client went away; nothing to tell anyone
        self.function.logs.write(
            self.function.name, f"[local] function URL: error serving {client_address}: {error!r}"
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server_version = "LocalFunctionUrl"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's per-request stderr line; functions log what matters."""

    def _serve(self) -> None:
        request_id = str(uuid.uuid4())
        now = time.time()
        try:
            body = self._read_body()
        except _PayloadTooLargeError:
            self._send(_too_large(), request_id)
            return
        except ValueError:
            self.close_connection = True
            self._send(HttpResponse(400, [("Content-Type", "application/json")]), request_id)
            return
        event = build_event(
            method=self.command,
            target=self.path,
            headers=self.headers.items(),
            body=body,
            source_ip=self.client_address[0],
            url_id=self.server.url_id,
            request_id=request_id,
            protocol=self.request_version,
            now=now,
        )
        try:
            invocation = self.server.function.invoke(event, request_id=request_id)
        except RequestTooLargeError:
            response = _too_large()
        except FunctionClosedError:
            response = _bad_gateway()
        else:
            response = response_from_invocation(invocation)
        self._send(response, request_id)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        length = int(length_header)  # ValueError -> 400
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True
            while 0 < length <= _DRAIN_LIMIT:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    break
                length -= len(chunk)
            raise _PayloadTooLargeError
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_PAYLOAD_BYTES:
                self.close_connection = True
                raise _PayloadTooLargeError
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, response: HttpResponse, request_id: str) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() != "x-amzn-requestid":
                self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


for _method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
    setattr(_Handler, f"do_{_method}", _Handler._serve)


def _too_large() -> HttpResponse:
    return HttpResponse(
        413,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "RequestEntityTooLargeException"),
        ],
        json.dumps(
            {
                "Message": f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the "
                "InvokeFunction operation"
            }
        ).encode(),
    )


class FunctionUrlServer:
    """Serves one LocalFunction at ``http://127.0.0.1:<port>/`` (auth type NONE)."""

    def __init__(
        self,
        function: LocalFunction,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        url_id: str | None = None,
    ) -> None:
        self.function = function
        self.url_id = url_id or hashlib.sha256(function.arn.encode()).hexdigest()[:32]
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FunctionUrlServer is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Like a Function URL, it ends with a slash."""
        return f"http://{self._address[0]}:{self.port}/"

    def start(self) -> None:
        """Bind and serve in a background thread; idempotent."""
        if self._server is not None:
            return
        self._server = _Server(self._address, self.function, self.url_id)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"function-url-{self.function.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and release the port; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def __enter__(self) -> FunctionUrlServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
