"""What is posted to which route, and posting it until the listener accepts it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.errors import AcceptanceFailure, DeadlineExceeded
from harness.waiting import Clock, Deadlines, wait_until
from infra.config import StackConfig
from infra.routes import Route
from ops.errors import OpsError, UsageError
from ops.webhook import Answer, endpoint, request

RETRYABLE_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
"""Answers a brand-new stack gives for a while: a Function URL's public permission and the
roles' policies take seconds to propagate (403 from the URL, 503 from an SQS AccessDenied)."""

Signer = Callable[[Mapping[str, Any], str, bytes, float], dict[str, str]]
"""`ops.signing.sign(route, secret, body, now)`: the headers a sender adds to sign `body`."""


def load_signer() -> Signer | None:
    """ops/signing.py's signer, or None where it is not part of the project yet."""
    try:
        from ops.signing import sign  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    signer: Signer = sign
    return signer


@dataclass(frozen=True)
class Probe:
    """One marked POST to one route."""

    route: str
    path: str
    spec: Mapping[str, Any]
    """The route as the listener reads it (options complete), as the signer takes it."""
    marker: str
    """Letters and digits only, so it is one term to CloudWatch Logs' filter patterns."""
    body: bytes
    content_type: str
    secret: str | None = field(default=None, repr=False)

    def headers(self, signer: Signer | None, now: float) -> dict[str, str]:
        """Signed at `now`, per attempt: timestamped schemes refuse old signatures."""
        headers = {"content-type": self.content_type}
        if self.secret is not None and signer is not None:
            headers.update(signer(self.spec, self.secret, self.body, now))
        return headers


def plan_probes(
    config: StackConfig, run_token: str, *, signer: Signer | None
) -> tuple[list[Probe], list[str]]:
    """A probe for each route this harness can speak for, and why each other one is left out.

    Open (`none`) routes take a plain POST; a signed route needs its secret in the config and
    a signer. Strava routes are left out: Strava signs nothing and its POSTs must be Strava
    events, which the processor summarises without the marker.
    """
    accepted = config.listener.accepted_content_types
    content_type = "application/json" if "application/json" in accepted else accepted[0]
    secrets_by_route = config.listener.secrets
    probes: list[Probe] = []
    left_out: list[str] = []
    for index, route in enumerate(config.listener.routes):
        reason = _unprobed(route, secrets_by_route, signer)
        if reason:
            left_out.append(f"{route.name} ({route.source}, {route.path}): {reason}")
            continue
        marker = f"accept{run_token}r{index}"
        body = json.dumps({"acceptance": marker, "route": route.name}).encode()
        secret = secrets_by_route[route.name][0] if route.needs_secret == "required" else None
        probes.append(
            Probe(
                route=route.name,
                path=route.path,
                spec=route.to_listener(),
                marker=marker,
                body=body,
                content_type=content_type,
                secret=secret,
            )
        )
    return probes, left_out


def _unprobed(route: Route, secrets_by_route: Mapping[str, Any], signer: Signer | None) -> str:
    if route.source == "none":
        return ""
    if route.source == "strava":
        return "Strava signs nothing and posts only Strava events; not probed"
    if route.name not in secrets_by_route:
        return "no secret in the config (routeSecrets); not probed"
    if signer is None:
        return "no signer (ops/signing.py) to sign for it; not probed"
    return ""


class Poster(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """One POST; raises OpsError when the URL cannot be reached."""
        ...


class HttpPoster:
    """Plain HTTPS from this machine, one connection per request, as a webhook sender."""

    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self.timeout_seconds = timeout_seconds

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        return request(url, "POST", body, dict(headers), self.timeout_seconds)


@dataclass(frozen=True)
class Delivery:
    probe: Probe
    message_id: str
    attempts: int
    sent_at: float
    """Epoch seconds of the accepted attempt."""


def deliver(
    probe: Probe,
    listener_url: str,
    *,
    poster: Poster,
    signer: Signer | None,
    clock: Clock,
    deadlines: Deadlines,
) -> Delivery:
    """POST `probe` until the listener answers 200 with a message id.

    Retries only what a new stack answers while it settles (RETRYABLE_STATUSES, an unreachable
    URL); any other answer fails at once. A retry may enqueue a second copy: SQS delivers at
    least once anyway, and the checks look for at least one.
    """
    url = endpoint(listener_url, probe.path)
    attempts = 0
    last = ""

    def attempt() -> Delivery | None:
        nonlocal attempts, last
        attempts += 1
        now = clock.time()
        try:
            answer = poster.post(url, probe.body, probe.headers(signer, now))
        except UsageError as exc:  # not an http(s) URL: waiting will not fix it
            raise AcceptanceFailure(f"listener_url {listener_url!r}: {exc}") from exc
        except OpsError as exc:
            last = str(exc)
            return None
        if answer.status == 200:
            payload = answer.json()
            message_id, timestamp = payload.get("message_id"), payload.get("timestamp")
            if not (isinstance(message_id, str) and message_id and isinstance(timestamp, str)):
                raise AcceptanceFailure(
                    f"POST {probe.path} ({probe.route}) answered 200 without a message_id and "
                    f"a timestamp (docs/design.md, 'The listener'): {answer.body[:200]!r}"
                )
            return Delivery(probe, message_id, attempts, now)
        last = f"{answer.status} {answer.body[:200]!r}"
        if answer.status not in RETRYABLE_STATUSES:
            raise AcceptanceFailure(f"POST {probe.path} ({probe.route}) answered {last}")
        return None

    try:
        return wait_until(
            attempt,
            what=f"POST {url} ({probe.route}) answered 200",
            timeout=deadlines.accepted_seconds,
            interval=deadlines.interval_seconds,
            clock=clock,
        )
    except DeadlineExceeded as exc:
        raise DeadlineExceeded(f"{exc} (after {attempts} attempts; last: {last})") from None
