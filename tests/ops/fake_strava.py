"""A fake of Strava's push subscription API on 127.0.0.1, as Strava documents it.

One subscription per application. POST /push_subscriptions takes the form fields client_id,
client_secret, callback_url and verify_token; before it answers, Strava GETs the callback with
hub.mode=subscribe, hub.challenge and hub.verify_token and expects a 200 with
{"hub.challenge": <the challenge>} within two seconds. GET /push_subscriptions lists,
DELETE /push_subscriptions/{id} answers 204. The handshake here is a real HTTP call to the
callback, so the listener under test answers it as it would answer Strava.

Answers have Strava's shapes: 201 with the whole subscription on a create (as the real API
answers), errors as Strava's Fault {"message", "errors": [{"resource", "field", "code"}]} with
the X-RateLimit-Limit / X-RateLimit-Usage headers Strava sends on every answer. Strava documents
no error bodies for this API: "already exists" and "callback url" / "not verifiable" are what it
is seen to answer; 401 "Authorization Error" for bad credentials, 404 for an unknown id and the
429 body are assumptions in the same shape.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

CLIENT_ID = "24523"
CLIENT_SECRET = "fake-client-secret-0123456789abcdef"
HANDSHAKE_TIMEOUT_SECONDS = 2.0
"""Strava's documented deadline for the callback's answer to the handshake."""
RATE_LIMIT = "600,30000"
_ITEM = re.compile(r"/push_subscriptions/(\d+)")


@dataclass
class FakeStrava:
    """The fake's state; tests read what it was asked and set how it misbehaves."""

    url: str = ""
    """The API base URL, like https://www.strava.com/api/v3 (no trailing slash)."""
    subscriptions: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every request: method, path, and its fields (query or form), secrets included."""
    handshakes: list[dict[str, Any]] = field(default_factory=list)
    """Each handshake the fake made: callback URL, challenge, outcome."""
    rate_limited: bool = False
    handshake_timeout: float = HANDSHAKE_TIMEOUT_SECONDS
    next_id: int = 131300

    def creates(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST"]

    def add(self, callback_url: str) -> dict[str, Any]:
        """A subscription that already exists, as if made earlier."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        subscription = {
            "id": self.next_id,
            "resource_state": 2,
            "application_id": int(CLIENT_ID),
            "callback_url": callback_url,
            "created_at": now,
            "updated_at": now,
        }
        self.subscriptions[self.next_id] = subscription
        self.next_id += 1
        return subscription

    def verify(self, callback_url: str, token: str) -> bool:
        """Strava's check: GET the callback, which must echo the challenge in time."""
        challenge = secrets.token_hex(8)
        query = urlencode(
            {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": token}
        )
        parts = urlsplit(callback_url)
        record: dict[str, Any] = {"callback_url": callback_url, "challenge": challenge}
        self.handshakes.append(record)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(
            parts.hostname or "", parts.port, timeout=self.handshake_timeout
        )
        try:
            connection.request("GET", f"{parts.path or '/'}?{query}")
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            record["outcome"] = f"unreachable: {exc!r}"
            return False
        finally:
            connection.close()
        try:
            echoed = json.loads(body).get("hub.challenge")
        except (ValueError, AttributeError):
            echoed = None
        record["outcome"] = f"{response.status} echoed={echoed!r}"
        return response.status == 200 and echoed == challenge


def _fault(message: str, resource: str, field_name: str, code: str) -> dict[str, Any]:
    return {
        "message": message,
        "errors": [{"resource": resource, "field": field_name, "code": code}],
    }


def serve_strava() -> Iterator[FakeStrava]:
    fake = FakeStrava()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, payload: Any = None) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-ratelimit-limit", RATE_LIMIT)
            usage = (
                "692,29300" if fake.rate_limited else f"{len(fake.requests)},{len(fake.requests)}"
            )
            self.send_header("x-ratelimit-usage", usage)
            self.end_headers()
            self.wfile.write(data)

        def _fields(self) -> tuple[str, dict[str, str]]:
            parts = urlsplit(self.path)
            fields = dict(parse_qsl(parts.query))
            length = int(self.headers.get("content-length") or 0)
            if length:
                body = self.rfile.read(length).decode()
                if self.headers.get("content-type", "").startswith(
                    "application/x-www-form-urlencoded"
                ):
                    fields.update(parse_qsl(body))
            fake.requests.append({"method": self.command, "path": parts.path, "fields": fields})
            return parts.path, fields

        def _refused(self, fields: dict[str, str]) -> bool:
            """Rate limit first, then the application's credentials, as an API gateway does."""
            if fake.rate_limited:
                self._answer(
                    429, _fault("Rate Limit Exceeded", "Application", "rate limit", "exceeded")
                )
                return True
            if fields.get("client_id") != CLIENT_ID or fields.get("client_secret") != CLIENT_SECRET:
                self._answer(
                    401, _fault("Authorization Error", "Application", "client_id", "invalid")
                )
                return True
            return False

        def do_POST(self) -> None:
            path, fields = self._fields()
            if path != "/api/v3/push_subscriptions":
                self._answer(404, _fault("Record Not Found", "Resource", "path", "invalid"))
                return
            if self._refused(fields):
                return
            for name in ("callback_url", "verify_token"):
                if not fields.get(name):
                    self._answer(400, _fault("Bad Request", "PushSubscription", name, "missing"))
                    return
            if fake.subscriptions:
                self._answer(400, _fault("Bad Request", "PushSubscription", "", "already exists"))
                return
            if not fake.verify(fields["callback_url"], fields["verify_token"]):
                self._answer(
                    400, _fault("Bad Request", "PushSubscription", "callback url", "not verifiable")
                )
                return
            self._answer(201, fake.add(fields["callback_url"]))

        def do_GET(self) -> None:
            path, fields = self._fields()
            if path != "/api/v3/push_subscriptions":
                self._answer(404, _fault("Record Not Found", "Resource", "path", "invalid"))
                return
            if not self._refused(fields):
                self._answer(200, list(fake.subscriptions.values()))

        def do_DELETE(self) -> None:
            path, fields = self._fields()
            match = _ITEM.fullmatch(path.removeprefix("/api/v3"))
            if match is None:
                self._answer(404, _fault("Record Not Found", "Resource", "path", "invalid"))
                return
            if self._refused(fields):
                return
            if fake.subscriptions.pop(int(match.group(1)), None) is None:
                self._answer(404, _fault("Record Not Found", "PushSubscription", "id", "not found"))
                return
            self._answer(204)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api/v3"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
