"""A fake listener on 127.0.0.1 for the operator commands' tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "s3cret"


@dataclass
class FakeListener:
    """Answers like the listener (DESIGN.md section 3) and records what it was sent."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    echo: str | None = None
    """When set, the handshake echoes this instead of the challenge (a broken listener)."""


def serve_listener() -> Iterator[FakeListener]:
    fake = FakeListener()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            number = len(fake.requests)
            fake.requests.append(
                {"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body}
            )
            if self.path != "/append_queue":
                self._answer(404, {"error": "not found"})
                return
            try:
                json.loads(body)
            except ValueError:
                self._answer(400, {"error": "body is not valid JSON"})
                return
            self._answer(200, {"timestamp": "2026-11-29T10:00:00.000Z", "message_id": f"m{number}"})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            fake.requests.append({"method": "GET", "path": parts.path, "query": query})
            if query.get("hub.mode") != "subscribe" or query.get("hub.verify_token") != TOKEN:
                self._answer(403, {"error": "verify token mismatch"})
                return
            challenge = fake.echo if fake.echo is not None else query.get("hub.challenge")
            self._answer(200, {"hub.challenge": challenge})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(5)
