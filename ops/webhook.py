"""`send` and `strava handshake`: talk to the listener the way a webhook sender does.

Plain stdlib HTTP, one connection per request, so the latency shown is what a sender such as
Strava sees (connect included) and nothing is shared with the code under test.
"""

from __future__ import annotations

import http.client
import json
import secrets
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit, urlunsplit

from ops.errors import OpsError, UsageError

DEFAULT_PATH = "/append_queue"
DEFAULT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    seconds: float
    headers: Mapping[str, str] = field(default_factory=dict)
    """Response headers, names lower-cased."""

    def json(self) -> dict[str, Any]:
        """The JSON object the listener answers with, or {} when it is not one."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def endpoint(listener_url: str, path: str) -> str:
    """listener_url ends with "/" (a Function URL); path starts with "/": join without "//"."""
    return listener_url.rstrip("/") + "/" + path.lstrip("/")


def without_query(url: str) -> str:
    """The URL as errors show it: a query may hold a token or a client secret."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def request(
    url: str,
    method: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Answer:
    """One request on a fresh connection; an unreachable URL is an OpsError, not a traceback.

    Errors name the URL without its query string, which may carry a secret.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not an http(s) URL: {without_query(url)!r}")
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise OpsError(f"cannot reach {without_query(url)}: {exc or type(exc).__name__}") from exc
    finally:
        connection.close()
    return Answer(
        status=response.status,
        body=data,
        seconds=time.perf_counter() - started,
        headers={name.lower(): value for name, value in response.getheaders()},
    )


def load_events(files: Sequence[Path]) -> list[tuple[Path, bytes]]:
    """Every file read and parsed before the first request, so a typo sends nothing."""
    events = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        try:
            json.loads(data)
        except ValueError as exc:
            raise UsageError(f"{path} is not valid JSON: {exc}") from exc
        events.append((path, data))
    return events


Signer = Callable[[bytes], Mapping[str, str]]
"""The headers that sign one body as the route's sender would (ops/signing.py), made afresh
for each request: a new timestamp and delivery id, as a sender's own retries would not have."""


def send(
    listener_url: str,
    files: Sequence[Path],
    *,
    path: str = DEFAULT_PATH,
    count: int = 1,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    sign: Signer | None = None,
    out: TextIO,
) -> int:
    """POST each event `count` times, signed by `sign` when given; 0 when every answer was 200,
    else 1."""
    if count < 1:
        raise UsageError(f"--count must be at least 1, not {count}")
    events = load_events(files)
    url = endpoint(listener_url, path)
    headers = {"content-type": "application/json"}
    latencies: list[float] = []
    failed = 0
    for _ in range(count):
        for file, data in events:
            signed = {**headers, **(sign(data) if sign is not None else {})}
            answer = request(url, "POST", data, signed, timeout)
            latencies.append(answer.seconds)
            payload = answer.json()
            if answer.status == 200:
                detail = f"message_id={payload.get('message_id', '?')}"
            else:
                failed += 1
                detail = f"error={payload.get('error', answer.body[:200].decode(errors='replace'))}"
            ms = answer.seconds * 1000
            print(f"{answer.status} {ms:8.1f} ms  {detail}  {file}", file=out, flush=True)
    total = len(latencies)
    print(
        f"{total - failed}/{total} answered 200 from {url}; latency ms "
        f"min {min(latencies) * 1000:.1f} median {statistics.median(latencies) * 1000:.1f} "
        f"max {max(latencies) * 1000:.1f}",
        file=out,
    )
    return 1 if failed else 0


@dataclass(frozen=True)
class Handshake:
    """What the listener made of a subscription handshake."""

    ok: bool
    answer: Answer
    reason: str
    """Why it failed; empty when ok."""


def check_handshake(url: str, token: str, *, timeout: float) -> Handshake:
    """Strava's subscription check: GET with a random challenge, which must come back as is.

    An unreachable URL raises OpsError (without the query, which holds the token).
    """
    challenge = secrets.token_hex(16)
    query = urlencode(
        {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": token}
    )
    answer = request(f"{url}?{query}", "GET", timeout=timeout)
    payload = answer.json()
    if answer.status == 200 and payload.get("hub.challenge") == challenge:
        return Handshake(ok=True, answer=answer, reason="")
    if answer.status == 200:
        echoed = payload.get("hub.challenge")
        reason = f"answered 200 but echoed {echoed!r} instead of the challenge {challenge!r}"
    else:
        reason = f"answered {answer.status}: {payload.get('error') or answer.body[:200]!r}"
    return Handshake(ok=False, answer=answer, reason=reason)


def handshake(
    listener_url: str,
    token: str,
    *,
    path: str = DEFAULT_PATH,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    out: TextIO,
) -> int:
    """`strava handshake`: 0 when the listener echoes the challenge, else 1."""
    url = endpoint(listener_url, path)
    result = check_handshake(url, token, timeout=timeout)
    if result.ok:
        ms = result.answer.seconds * 1000
        print(f"handshake ok: {url} echoed the challenge in {ms:.1f} ms", file=out)
        return 0
    print(
        f"handshake FAILED: {url} {result.reason}; Strava would refuse the subscription",
        file=out,
    )
    return 1
