"""A local Lambda Function URL: an HTTP endpoint speaking payload format 2.0 both ways.

The request becomes the event a Function URL would send (``version`` "2.0", ``rawPath``,
comma-joined repeated headers and query keys, ``cookies``, base64 for non-text bodies...) and the
handler's return value is mapped back to HTTP as Lambda does: a dict with ``statusCode`` is an
HTTP response; any other JSON value is a 200 ``application/json`` body. Errors and timeouts are
502, throttles 429, and an event over 6 MB is 413 without invoking, like AWS. Those shapes
and rules live in local/shapes.py, shared with the tests; this module is the HTTP server.
"""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.lambda_runtime import (
    MAX_PAYLOAD_BYTES,
    FunctionClosedError,
    Invocation,
    LocalFunction,
    RequestTooLargeError,
)
from local.serving import BackgroundServer
from local.shapes import (
    HttpResponse,
    bad_gateway_response,
    event_from_http_request,
    http_response,
    throttled_response,
    too_large_response,
)

__all__ = ["FunctionUrlServer", "HttpResponse", "response_from_invocation"]

_DRAIN_LIMIT = 64 * 1024 * 1024
"""Bodies up to this size are read and dropped before a 413, so the client sees the answer."""


def response_from_invocation(invocation: Invocation) -> HttpResponse:
    """Map an invocation's outcome to the HTTP response a Function URL would send."""
    if invocation.throttled:
        return throttled_response()
    if invocation.error is not None:
        return bad_gateway_response()
    return http_response(invocation.payload, invocation.payload_json)


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
            self._send(too_large_response(MAX_PAYLOAD_BYTES), request_id)
            return
        except ValueError:
            self.close_connection = True
            self._send(HttpResponse(400, [("Content-Type", "application/json")]), request_id)
            return
        event = event_from_http_request(
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
            response = too_large_response(MAX_PAYLOAD_BYTES)
        except FunctionClosedError:
            response = bad_gateway_response()
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


class FunctionUrlServer(BackgroundServer):
    """Serves one LocalFunction at ``http://127.0.0.1:<port>/`` (auth type NONE)."""

    def __init__(
        self,
        function: LocalFunction,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        url_id: str | None = None,
    ) -> None:
        super().__init__(f"function-url-{function.name}")
        self.function = function
        self.url_id = url_id or hashlib.sha256(function.arn.encode()).hexdigest()[:32]
        self._address = (host, port)

    def _bind(self) -> _Server:
        return _Server(self._address, self.function, self.url_id)

    @property
    def url(self) -> str:
        """Like a Function URL, it ends with a slash."""
        return f"http://{self._address[0]}:{self.port}/"
