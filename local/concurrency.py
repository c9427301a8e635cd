"""Lambda's concurrency accounting: when an invocation is throttled, and when it is not.

On AWS an account runs up to its concurrency limit (1,000 by default) at once, across all its
functions. A function with reserved concurrency N runs at most N at once and is guaranteed
them; functions without a reservation share what the reservations leave, and AWS refuses a
reservation that would leave fewer than 100 unreserved. Anything past those limits is throttled
(``TooManyRequestsException``, a 429 at a Function URL). Nothing else throttles: how many
invocations this machine can run at once is a different question (``local/worker_pool.py``).
See docs/design.md, 'The local cloud'.
"""

from __future__ import annotations

import threading

__all__ = [
    "ACCOUNT_CONCURRENCY",
    "UNRESERVED_MINIMUM",
    "ConcurrencyAccount",
    "ConcurrencyLimitError",
]

ACCOUNT_CONCURRENCY = 1000
"""AWS's default concurrency limit per account and region."""

UNRESERVED_MINIMUM = 100
"""PutFunctionConcurrency fails if the account would keep fewer unreserved executions."""

ACCOUNT_FLAG = "--account-concurrency"


class ConcurrencyLimitError(ValueError):
    """A reservation that AWS would refuse (negative, or leaving too little unreserved)."""


class ConcurrencyAccount:
    """In-flight invocations per function, checked against reservations and the account limit.

    Thread-safe; ``try_start`` and ``finish`` are a few dictionary operations under a lock.
    """

    def __init__(self, limit: int = ACCOUNT_CONCURRENCY) -> None:
        if limit < 1:
            raise ConcurrencyLimitError(f"account concurrency must be at least 1, got {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._reserved: dict[str, int | None] = {}
        self._in_flight: dict[str, int] = {}
        self._unreserved_in_flight = 0

    @property
    def unreserved_limit(self) -> int:
        """What functions without a reservation share."""
        with self._lock:
            return self._unreserved_limit()

    def register(self, name: str, reserved: int | None) -> None:
        """Add a function; ``reserved=None`` puts it on the shared, unreserved pool."""
        with self._lock:
            if name in self._reserved:
                raise ConcurrencyLimitError(f"function {name!r} is already registered")
            if reserved is not None:
                if reserved < 0:
                    raise ConcurrencyLimitError(
                        f"function {name!r}: reserved concurrency {reserved} is negative"
                    )
                left = self._unreserved_limit() - reserved
                if reserved and left < UNRESERVED_MINIMUM:
                    raise ConcurrencyLimitError(
                        f"function {name!r}: reserved concurrency {reserved} would leave {left} "
                        f"of the account's {self.limit} unreserved; AWS keeps at least "
                        f"{UNRESERVED_MINIMUM} unreserved (the local account limit is set "
                        f"with {ACCOUNT_FLAG} N)"
                    )
            self._reserved[name] = reserved
            self._in_flight[name] = 0

    def unregister(self, name: str) -> None:
        """Remove a function (its reservation goes back to the shared pool)."""
        with self._lock:
            if name not in self._reserved:
                return
            reserved = self._reserved.pop(name)
            running = self._in_flight.pop(name)
            if reserved is None:
                self._unreserved_in_flight -= running

    def try_start(self, name: str) -> bool:
        """Count one more invocation of ``name``, or return False: it is throttled."""
        with self._lock:
            reserved = self._reserved[name]
            if reserved is not None:
                if self._in_flight[name] >= reserved:
                    return False
            elif self._unreserved_in_flight >= self._unreserved_limit():
                return False
            else:
                self._unreserved_in_flight += 1
            self._in_flight[name] += 1
            return True

    def finish(self, name: str) -> None:
        """An invocation that ``try_start`` admitted has ended."""
        with self._lock:
            if self._in_flight.get(name, 0) <= 0:
                return  # unregistered meanwhile
            self._in_flight[name] -= 1
            if self._reserved[name] is None:
                self._unreserved_in_flight -= 1

    def in_flight(self, name: str) -> int:
        with self._lock:
            return self._in_flight.get(name, 0)

    def _unreserved_limit(self) -> int:
        return self.limit - sum(r for r in self._reserved.values() if r)
