"""Warm workers per function, and the machine's capacity for worker processes across functions.

AWS gives each concurrent invocation an execution environment of its own and keeps idle ones
warm for reuse. This machine cannot run a thousand interpreters, so the local cloud has a
capacity of worker processes shared by every function (``MachineCapacity``). An invocation
that needs a worker:

1. reuses an idle warm worker of its function (the most recently used: the warmest);
2. else starts one if the machine is below capacity (a cold start);
3. else retires the least recently used idle worker of another function and starts one in its
   place, so one function's warm pool cannot starve another. Only workers that are fair game:
   settled (idle for ``SETTLED_IDLE_SECONDS``: their function is not using them), or of a
   function holding at least two workers more than this one (or this one holds none). Two
   busy functions therefore share the machine instead of retiring each other's workers between
   invocations, each time paying two cold starts. A function with busy workers of its own
   first waits ``RETIRE_GRACE_SECONDS`` for one of them, which usually frees in milliseconds;
4. else waits for a worker to become idle or to exit, up to a deadline (the function's timeout),
   and fails with ``CapacityTimeoutError`` past it.

Throttling is not decided here (see ``local/concurrency.py``): waiting for capacity is the
local stand-in for AWS having room. The pool holds no processes of its own: it hands workers to
its caller and gets them back, and whatever it removes (stale, dead, retired) is returned for
the caller to kill outside the lock, so it is tested with fake workers.
See docs/design.md, 'The local cloud'.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "CAPACITY_FLAG",
    "CapacityTimeoutError",
    "Lease",
    "MachineCapacity",
    "PoolClosedError",
    "WorkerPool",
    "default_capacity",
]

CAPACITY_FLAG = "--max-workers"
"""The `python -m local up` flag that sets the machine's capacity."""

WORKERS_PER_CPU = 4
"""Handlers mostly wait on I/O (SQS, HTTP), so several workers share a core; but each costs
some 50-100 MB of memory, and on a small machine more of them mostly add cold starts and load
on the embedded SQS (see SETTLED_IDLE_SECONDS for the measurements)."""

MINIMUM_CAPACITY = 8

RETIRE_GRACE_SECONDS = 0.2
"""About one cold start of a function that imports boto3 on a laptop."""

SETTLED_IDLE_SECONDS = 1.0
"""An idle worker unused for this long belongs to a function that is not busy now.

Measured with 300 POSTs from 20 clients to the dev stack on 2 CPUs, a CPU hog beside it (the
listener and the processor compete for workers): retiring any idle worker, a capacity of 8
retired 69-89 workers and took 10-12 s; with these rules it retires 5-6 and takes 3.6-4.2 s,
like a capacity of 16 (3.5-3.7 s, 15-20 cold starts against 13-14)."""


def default_capacity(cpu_count: int | None = None) -> int:
    """Worker processes this machine runs at once by default: 4 per CPU, at least 8."""
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(MINIMUM_CAPACITY, WORKERS_PER_CPU * cpus)


class Worker(Protocol):
    @property
    def alive(self) -> bool: ...


W = TypeVar("W", bound=Worker)


class PoolClosedError(RuntimeError):
    """The function's pool was closed (the local cloud is stopping)."""


class CapacityTimeoutError(TimeoutError):
    """No worker became available before the deadline: the machine's capacity is in use."""

    def __init__(self, capacity: int, waited: float) -> None:
        super().__init__(
            f"all {capacity} worker processes were busy for {waited:.2f} s "
            f"(raise the capacity with {CAPACITY_FLAG} N)"
        )
        self.capacity = capacity
        self.waited = waited


@dataclass
class Lease(Generic[W]):
    """What ``checkout`` grants: a warm worker, or a slot to start one in."""

    worker: W | None
    """A warm worker of this function, now busy; ``None``: start one and hand it to ``started``."""
    stale: list[W] = field(default_factory=list)
    """Idle workers of this function that run code older than the current version: kill them."""
    dead: list[W] = field(default_factory=list)
    """Idle workers found exited: reap them."""
    retired: list[tuple[str, W]] = field(default_factory=list)
    """(function, worker): an idle worker of another function retired to make room: kill it."""


@dataclass
class _Idle(Generic[W]):
    worker: W
    version: int
    since: float


class MachineCapacity:
    """Worker-process slots of this machine, shared by every function's pool.

    A slot is held from the moment a start is granted until the worker is discarded or retired.
    """

    def __init__(
        self,
        capacity: int | None = None,
        *,
        retire_grace: float = RETIRE_GRACE_SECONDS,
        settled_idle: float = SETTLED_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        capacity = default_capacity() if capacity is None else capacity
        if capacity < 1:
            raise ValueError(f"machine capacity must be at least 1 worker, got {capacity}")
        self.capacity = capacity
        self.retire_grace = retire_grace
        self.settled_idle = settled_idle
        self.clock = clock
        self.cond = threading.Condition()
        self.slots_used = 0
        self._pools: dict[str, WorkerPool[Any]] = {}

    def pool(self, name: str) -> WorkerPool[W]:
        """The pool of function ``name`` (one per function)."""
        with self.cond:
            if name in self._pools:
                raise ValueError(f"function {name!r} already has a worker pool")
            created: WorkerPool[W] = WorkerPool(name, self)
            self._pools[name] = created
            return created

    def forget(self, name: str) -> None:
        with self.cond:
            self._pools.pop(name, None)

    @property
    def in_use(self) -> int:
        with self.cond:
            return self.slots_used

    def _take_least_recently_used(
        self, requester: WorkerPool[Any]
    ) -> tuple[tuple[str, Any] | None, float | None]:
        """Remove the least recently used idle worker that is fair game (lock held).

        Returns it (function name, worker), or None and when the first idle worker that is not
        fair game yet will have settled (None: there is none).
        """
        mine = requester.size
        settled_before = self.clock() - self.settled_idle
        oldest: tuple[WorkerPool[Any], _Idle[Any]] | None = None
        settles_at: float | None = None
        for pool in self._pools.values():
            if pool is requester or not pool._idle:
                continue
            candidate = pool._idle[0]  # each pool's idle list is oldest first
            if mine == 0 or pool.size >= mine + 2 or candidate.since <= settled_before:
                if oldest is None or candidate.since < oldest[1].since:
                    oldest = (pool, candidate)
            else:
                when = candidate.since + self.settled_idle
                settles_at = when if settles_at is None else min(settles_at, when)
        if oldest is None:
            return None, settles_at
        pool, entry = oldest
        pool._idle.remove(entry)
        return (pool.name, entry.worker), None


class WorkerPool(Generic[W]):
    """The workers of one function: idle (warm, oldest first) and busy."""

    def __init__(self, name: str, machine: MachineCapacity) -> None:
        self.name = name
        self._machine = machine
        self._cond = machine.cond
        self._idle: list[_Idle[W]] = []
        self._busy: dict[W, int] = {}  # worker -> code version
        self._waiting: deque[object] = deque()
        """Invocations waiting for a worker, first come first served (without it, whichever
        waiter woke first took a freed worker: under 50 clients on 8 workers some waited 1.7 s
        while the median waited 0.13 s)."""
        self._closed = False

    @property
    def capacity(self) -> int:
        return self._machine.capacity

    @property
    def size(self) -> int:
        """Workers of this function, idle or busy (read under the machine's lock)."""
        return len(self._idle) + len(self._busy)

    def workers(self) -> list[W]:
        """Every worker of this pool, idle or busy."""
        with self._cond:
            return [entry.worker for entry in self._idle] + list(self._busy)

    def idle_count(self) -> int:
        with self._cond:
            return len(self._idle)

    def checkout(self, version: int, timeout: float) -> Lease[W]:
        """A worker running ``version`` of the code, or a slot to start one; may wait, served in
        the order the invocations of this function arrived.

        Raises CapacityTimeoutError after ``timeout`` seconds without either, PoolClosedError
        once the pool is closed.
        """
        machine = self._machine
        started = machine.clock()
        deadline = started + timeout
        lease: Lease[W] = Lease(worker=None)
        ticket = object()
        with self._cond:
            try:
                while True:
                    if self._closed:
                        raise PoolClosedError(f"function {self.name!r} is closed")
                    now = machine.clock()
                    wake = deadline
                    if not self._waiting or self._waiting[0] is ticket:
                        self._sweep(version, lease)  # only the one whose turn it is
                        if self._idle:
                            entry = self._idle.pop()  # most recently used: the warmest
                            self._busy[entry.worker] = entry.version
                            lease.worker = entry.worker
                            return lease
                        if machine.slots_used < machine.capacity:
                            machine.slots_used += 1
                            return lease
                        patience_ends = min(started + machine.retire_grace, deadline)
                        if bool(self._busy) and now < patience_ends:
                            wake = patience_ends
                        else:
                            victim, settles_at = machine._take_least_recently_used(self)
                            if victim is not None:  # its slot passes to us
                                lease.retired.append(victim)
                                return lease
                            if settles_at is not None:
                                wake = min(wake, settles_at)
                    if now >= deadline:
                        raise CapacityTimeoutError(machine.capacity, now - started)
                    if ticket not in self._waiting:
                        self._waiting.append(ticket)
                    self._cond.wait(max(0.0, wake - now))
            finally:
                if ticket in self._waiting:  # served, timed out or closed: the next one's turn
                    self._waiting.remove(ticket)
                    self._cond.notify_all()

    def started(self, worker: W, version: int) -> bool:
        """A worker was started in a granted slot; False if the pool closed meanwhile (the
        slot is freed and the caller kills the worker)."""
        with self._cond:
            if self._closed:
                self._free_slot()
                return False
            self._busy[worker] = version
            return True

    def abandon(self) -> None:
        """A granted slot whose worker could not be started."""
        with self._cond:
            self._free_slot()

    def release(self, worker: W) -> bool:
        """A busy worker finished an invocation and is idle again; False if it is not ours any
        more (the pool closed): the caller kills it."""
        with self._cond:
            version = self._busy.pop(worker, None)
            if version is None or self._closed:
                return False
            self._idle.append(_Idle(worker, version, self._machine.clock()))
            self._cond.notify_all()
            return True

    def discard(self, worker: W) -> None:
        """A busy worker is gone (it crashed or timed out and was killed): free its slot."""
        with self._cond:
            if self._busy.pop(worker, None) is not None:
                self._free_slot()

    def close(self) -> list[W]:
        """Refuse further checkouts, wake waiters; returns every worker, for the caller to kill."""
        with self._cond:
            self._closed = True
            workers = [entry.worker for entry in self._idle] + list(self._busy)
            self._machine.slots_used -= len(workers)
            self._idle.clear()
            self._busy.clear()
            self._cond.notify_all()
        self._machine.forget(self.name)
        return workers

    def _sweep(self, version: int, lease: Lease[W]) -> None:
        """Take idle workers that exited or run old code out of the pool (lock held)."""
        kept: list[_Idle[W]] = []
        for entry in self._idle:
            if not entry.worker.alive:
                lease.dead.append(entry.worker)
            elif entry.version != version:
                lease.stale.append(entry.worker)
            else:
                kept.append(entry)
                continue
            self._free_slot()
        self._idle = kept

    def _free_slot(self) -> None:
        self._machine.slots_used -= 1
        self._cond.notify_all()
