"""POSTs to a local Function URL from concurrent clients with keep-alive connections (stdlib).

Each client thread owns one `http.client.HTTPConnection` and takes the next request from a shared
counter, as a pool of webhook senders would. Latency is measured from just before the request is
written to the end of the response body; `sent_at` is the wall clock at the same moment, so it
can be compared with the time stamps of the local cloud's log files.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Reply:
    """One request's outcome."""

    index: int
    status: int
    """HTTP status, or 0 when no response came (connection error, timeout)."""
    latency_s: float
    sent_at: float
    """time.time() just before the request was written."""
    message_id: str | None = None
    error: str | None = None


class Client:
    """One keep-alive connection to a Function URL; reconnects after a connection error."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.base_path = parts.path.rstrip("/")
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, index: int = 0) -> Reply:
        headers = {"content-type": "application/json", "user-agent": "bench/1.0"}
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self.host, self.port, self.timeout)
        sent_at = time.time()
        started = time.perf_counter()
        try:
            self._connection.request("POST", self.base_path + path, body=body, headers=headers)
            response = self._connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Reply(index, 0, time.perf_counter() - started, sent_at, error=type(exc).__name__)
        latency = time.perf_counter() - started
        if response.will_close:
            self.close()
        message_id = None
        if response.status == 200:
            try:
                message_id = json.loads(payload)["message_id"]
            except (ValueError, KeyError, TypeError):
                return Reply(index, response.status, latency, sent_at, error="bad 200 body")
        return Reply(index, response.status, latency, sent_at, message_id=message_id)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def post_all(
    url: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int,
    path: str = "/append_queue",
    deadline: float | None = None,
    timeout: float = 10.0,
) -> list[Reply]:
    """POST every body with `concurrency` clients; replies in request order.

    Requests not started by `deadline` (time.monotonic()) are not sent and have no reply, so a
    stuck server cannot hold the caller past its time budget.
    """
    replies: list[Reply | None] = [None] * len(bodies)
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))

    def work() -> None:
        client = Client(url, timeout=timeout)
        try:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None or (deadline is not None and time.monotonic() > deadline):
                    return
                replies[index] = client.post(path, bodies[index], index)
        finally:
            client.close()

    threads = [
        threading.Thread(target=work, name=f"bench-client-{i}", daemon=True)
        for i in range(max(1, concurrency))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [reply for reply in replies if reply is not None]
