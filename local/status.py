"""What the status page shows: per-function counts and recent invocations, and the queues.

The local cloud has only scrolling log lines to tell what happened; the status page
(``local/status_page.py``) reads what this module keeps. Two cheap hooks feed it while the
stack is served (docs/design.md, 'The local cloud'):

- ``StatusCollector.record_invocation``, called by ``LocalFunction.invoke`` once an
  invocation's outcome is known (the Function URL server and the poller both go through it);
- ``StatusCollector.record_lines``, the ``LogSink``'s tee: every line a function writes.

Everything is kept in bounded ring buffers per function, so a stack that serves for days holds
as much as one that just started. The counts follow CloudWatch's Lambda metrics ("Types of
metrics for Lambda functions" in the AWS Lambda developer guide): ``Invocations`` leaves out
throttled requests, ``Errors`` counts the invocations that ended in a function error, timeouts
included, ``Throttles`` the requests refused for concurrency.

Queue counts are read on demand from the embedded SQS with the deployer's client, with the
same ``GetQueueAttributes`` call as `python -m ops dlq count` (``ops/dlq.py``).
"""

from __future__ import annotations

import io
import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local.lambda_runtime import Invocation
from ops import dlq
from ops.errors import OpsError

__all__ = [
    "DURATION_SAMPLES",
    "LOG_LINES",
    "MAX_LINE_CHARS",
    "RECENT_INVOCATIONS",
    "FunctionView",
    "InvocationRecord",
    "LogLine",
    "QueueView",
    "StatusCollector",
    "percentile",
    "read_queues",
    "redrive",
]

RECENT_INVOCATIONS = 10
"""Invocations kept per function for the page's table."""
DURATION_SAMPLES = 200
"""Durations kept per function: p50 and p99 are over these, the most recent ones."""
LOG_LINES = 400
"""Log lines kept per function (some 50 invocations of the dev stack's processor at DEBUG)."""
MAX_LINE_CHARS = 2000
"""A longer line is kept cut to this many characters; the log file has it whole."""
_OPEN_REQUESTS = 64
"""Started invocations whose REPORT line has not arrived yet, tracked per function."""

_START = "START RequestId: "
_END = "END RequestId: "
_REPORT = "REPORT RequestId: "


@dataclass(frozen=True, kw_only=True)
class LogLine:
    """One line a function wrote, and the invocation it belongs to when that is known."""

    at: float
    """Wall clock (epoch seconds), as the log file's time stamp."""
    text: str
    request_id: str | None


@dataclass(frozen=True, kw_only=True)
class InvocationRecord:
    """What the page shows of one invocation."""

    request_id: str
    at: float
    """Wall clock when the outcome was known."""
    outcome: str
    """``ok``, ``error``, ``timeout`` or ``throttled``."""
    detail: str
    """The error type, the HTTP status a Function URL answered, or the records a batch
    reported failed; empty when there is nothing to add."""
    duration_ms: float
    init_ms: float | None
    """Set on a cold start."""


def outcome(invocation: Invocation) -> tuple[str, str]:
    """(outcome, detail) of an invocation, as the page words them."""
    if invocation.throttled:
        return "throttled", invocation.error.error_type if invocation.error else ""
    if invocation.error is not None:
        return ("timeout" if invocation.timed_out else "error"), invocation.error.error_type
    payload = invocation.payload
    if isinstance(payload, dict):
        status = payload.get("statusCode")
        if isinstance(status, int):
            return "ok", f"HTTP {status}"
        failures = payload.get("batchItemFailures")
        if isinstance(failures, list) and failures:
            return "ok", f"{len(failures)} record(s) reported failed"
    return "ok", ""


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` 0-100): a duration that was measured, never a blend."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, kw_only=True)
class FunctionView:
    """A consistent copy of one function's figures, for rendering outside the lock."""

    name: str
    invocations: int
    errors: int
    timeouts: int
    throttles: int
    cold_starts: int
    durations_ms: tuple[float, ...]
    """Oldest first, at most ``DURATION_SAMPLES``."""
    recent: tuple[InvocationRecord, ...]
    """Newest first, at most ``RECENT_INVOCATIONS``."""
    lines: tuple[LogLine, ...]
    """Oldest first, at most ``LOG_LINES``."""

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.durations_ms, 50)

    @property
    def p99_ms(self) -> float | None:
        return percentile(self.durations_ms, 99)

    def lines_of(self, request_id: str) -> list[LogLine]:
        return [line for line in self.lines if line.request_id == request_id]

    @property
    def unattributed(self) -> list[LogLine]:
        """Lines of no known invocation: init output, the poller's notes, interleaved output."""
        return [line for line in self.lines if line.request_id is None]


@dataclass
class _Stats:
    invocations: int = 0
    errors: int = 0
    timeouts: int = 0
    throttles: int = 0
    cold_starts: int = 0
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=DURATION_SAMPLES))
    recent: deque[InvocationRecord] = field(
        default_factory=lambda: deque(maxlen=RECENT_INVOCATIONS)
    )
    lines: deque[LogLine] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    open: dict[str, None] = field(default_factory=dict)
    """Request ids between START and REPORT, oldest first (a dict keeps insertion order)."""


class StatusCollector:
    """Thread-safe, bounded figures per function; both hooks only append under a lock."""

    def __init__(self, *, clock: Any = time.time) -> None:
        self._lock = threading.Lock()
        self._functions: dict[str, _Stats] = {}
        self._clock = clock

    def register(self, names: Iterable[str]) -> None:
        """Functions to show before their first invocation."""
        with self._lock:
            for name in names:
                self._functions.setdefault(name, _Stats())

    def record_invocation(self, name: str, invocation: Invocation) -> None:
        """The hook ``LocalFunction.invoke`` calls with each outcome (throttles included)."""
        kind, detail = outcome(invocation)
        record = InvocationRecord(
            request_id=invocation.request_id,
            at=self._clock(),
            outcome=kind,
            detail=detail,
            duration_ms=invocation.duration_ms,
            init_ms=invocation.init_duration_ms,
        )
        with self._lock:
            stats = self._functions.get(name)
            if stats is None:
                stats = self._functions[name] = _Stats()
            stats.recent.append(record)
            if invocation.throttled:
                stats.throttles += 1
                return
            stats.invocations += 1
            stats.durations.append(invocation.duration_ms)
            if invocation.error is not None:
                stats.errors += 1
                stats.timeouts += int(invocation.timed_out)
            if invocation.init_duration_ms is not None:
                stats.cold_starts += 1

    def record_lines(self, name: str, lines: Sequence[str], at: float) -> None:
        """The ``LogSink``'s tee: lines of one write, in the order the log file has them.

        A line goes with an invocation when it names its request id (Lambda's START, END and
        REPORT lines; the functions' JSON lines carry it too) or, while exactly one invocation
        of the function is between START and REPORT, with that one: that is how a Lambda log
        stream reads. Lines of overlapping invocations that name neither stay unattributed.
        """
        with self._lock:
            stats = self._functions.get(name)
            if stats is None:
                stats = self._functions[name] = _Stats()
            open_ids = stats.open
            for text in lines:
                request_id = _lambda_line_id(text)
                if request_id is not None:
                    if text.startswith(_START):
                        open_ids[request_id] = None
                        if len(open_ids) > _OPEN_REQUESTS:  # a REPORT that never came
                            del open_ids[next(iter(open_ids))]
                    elif text.startswith(_REPORT):
                        open_ids.pop(request_id, None)
                elif len(open_ids) == 1 and not text.startswith("[local] SQS"):
                    # (the poller's notes come after the invocation they are about)
                    request_id = next(iter(open_ids))
                elif open_ids:
                    request_id = next((rid for rid in open_ids if rid in text), None)
                stats.lines.append(
                    LogLine(at=at, text=text[:MAX_LINE_CHARS], request_id=request_id)
                )

    def snapshot(self) -> list[FunctionView]:
        """Every function's figures, by name."""
        with self._lock:
            return [
                FunctionView(
                    name=name,
                    invocations=stats.invocations,
                    errors=stats.errors,
                    timeouts=stats.timeouts,
                    throttles=stats.throttles,
                    cold_starts=stats.cold_starts,
                    durations_ms=tuple(stats.durations),
                    recent=tuple(reversed(stats.recent)),
                    lines=tuple(stats.lines),
                )
                for name, stats in sorted(self._functions.items())
            ]


def _lambda_line_id(text: str) -> str | None:
    """The request id of Lambda's own START / END / REPORT line, else None."""
    for prefix in (_START, _END, _REPORT):
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            return rest.split(None, 1)[0] if rest else None
    return None


# -- queues ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class QueueView:
    """One queue of the embedded SQS, its counts and where it sends what keeps failing."""

    name: str
    url: str
    arn: str
    visible: int
    in_flight: int
    delayed: int
    dead_letter_arn: str | None = None
    """The queue's redrive policy target: its dead-letter queue."""
    max_receive_count: int | None = None
    consumers: tuple[str, ...] = ()
    """Functions whose event source mapping reads this queue."""
    sources: tuple[str, ...] = ()
    """URLs of the queues whose dead-letter queue this one is."""

    @property
    def is_dead_letter_queue(self) -> bool:
        return bool(self.sources)


def read_queues(sqs: Any, consumers: Mapping[str, Sequence[str]]) -> list[QueueView]:
    """Every queue of the embedded SQS with its counts, linked to its dead-letter queue.

    ``consumers``: queue URL -> names of the functions that poll it. Raises OpsError when
    the embedded SQS cannot be read.
    """
    try:
        urls = sorted(sqs.list_queues().get("QueueUrls", []))
    except (BotoCoreError, ClientError) as exc:
        raise OpsError(f"cannot list the queues: {exc}") from exc
    described: list[tuple[str, dict[str, Any], dict[str, int]]] = []
    for url in urls:
        try:
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy", *dlq.COUNT_ATTRIBUTES]
            )["Attributes"]
        except (BotoCoreError, ClientError) as exc:
            raise OpsError(f"cannot read {url}: {exc}") from exc
        described.append((url, attributes, dlq.counts_from(attributes)))
    url_of = {attributes.get("QueueArn", ""): url for url, attributes, _ in described}
    policies = {url: _redrive_policy(attributes) for url, attributes, _ in described}
    sources: dict[str, list[str]] = {}
    for url, (target, _) in policies.items():
        if target in url_of:
            sources.setdefault(url_of[target], []).append(url)
    return [
        QueueView(
            name=url.rstrip("/").rsplit("/", 1)[-1],
            url=url,
            arn=str(attributes.get("QueueArn", "")),
            visible=counts["visible"],
            in_flight=counts["in_flight"],
            delayed=counts["delayed"],
            dead_letter_arn=policies[url][0],
            max_receive_count=policies[url][1],
            consumers=tuple(consumers.get(url, ())),
            sources=tuple(sources.get(url, ())),
        )
        for url, attributes, counts in described
    ]


def _redrive_policy(attributes: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """(dead-letter target ARN, maxReceiveCount) of a queue's RedrivePolicy, if it has one."""
    try:
        policy = json.loads(attributes.get("RedrivePolicy") or "{}")
    except ValueError:
        return None, None
    if not isinstance(policy, dict):
        return None, None
    target = policy.get("deadLetterTargetArn")
    receives = policy.get("maxReceiveCount")
    return (
        str(target) if target else None,
        int(receives) if isinstance(receives, int | str) and str(receives).isdigit() else None,
    )


def redrive(sqs: Any, queue_url: str, dlq_url: str) -> tuple[bool, str]:
    """Every message of ``dlq_url`` back to ``queue_url``, by `python -m ops dlq redrive`'s
    own code (send, then delete: never a gap); (whether it succeeded, what it said)."""
    out = io.StringIO()
    try:
        status = dlq.redrive(sqs, queue_url, dlq_url, max_count=None, confirm=None, out=out)
    except OpsError as exc:
        return False, f"{out.getvalue()}{exc}".strip()
    return status == 0, out.getvalue().strip()
