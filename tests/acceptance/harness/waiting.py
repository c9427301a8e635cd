"""The clock, and waiting for a condition with a deadline (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from harness.errors import DeadlineExceeded

T = TypeVar("T")


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def time(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def wait_until(
    check: Callable[[], T | None],
    *,
    what: str,
    timeout: float,
    interval: float,
    clock: Clock,
) -> T:
    """`check()`'s first truthy result; DeadlineExceeded naming `what` after `timeout` s."""
    deadline = clock.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"{what}: not within {timeout:g} s")
        clock.sleep(min(interval, remaining))


@dataclass(frozen=True, kw_only=True)
class Deadlines:
    """How long a brand-new stack gets for each step (generous: a run costs minutes anyway)."""

    accepted_seconds: float = 120.0
    """POST until the listener answers 200: new permissions and roles take a while."""
    processed_seconds: float = 180.0
    """The marker in the processor's log group and the queue drained: CloudWatch Logs shows
    events seconds after they happen, SQS's approximate counts lag up to a minute."""
    interval_seconds: float = 5.0
    """Between polls: well under CloudWatch Logs' FilterLogEvents quota of 5 per second."""
