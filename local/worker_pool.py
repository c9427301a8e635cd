"""Warm workers per function, and the machine's capacity for worker processes across functions.

AWS gives each concurrent invocation an execution environment of its own and keeps idle ones
warm for reuse. This machine cannot run a thousand interpreters, so the local cloud has a
capacity of worker processes shared by every function (``MachineCapacity``). An invocation
that needs a worker:

1. reuses an idle warm worker of its function (the most recently used: the warmest);
2. else starts one if the machine is below capacity (a cold start);
3. else retires the least recently used idle worker of another function and starts one in its
   place, so one function's warm pool cannot starve another; a function that has busy workers
   of its own first waits ``RETIRE_GRACE_SECONDS`` for one of them, because reusing it takes
   microseconds where retiring costs two cold starts (ours now, the other function's later);
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

WORKERS_PER_CPU = 8
"""Handlers mostly wait on I/O (SQS, HTTP), so several workers share a core well; each costs
some 30-50 MB of memory, which is what really bounds them."""

MINIMUM_CAPACITY = 16

RETIRE_GRACE_SECONDS = 0.2
"""About one cold start of a function that imports boto3 on a laptop. Measured with 300 POSTs
from 20 clients to the dev stack at capacity 16 on 2 CPUs: without the grace the listener and
the processor kept retiring each other's workers (15-24 retired, 36-40 cold starts, burst served
in 3.7-4.4 s); with it, 4-5 retired (the processor taking its 5 from the listener once), 20-21
cold starts, 3.1-3.6 s, as fast as a capacity of 32 that never retires."""


def default_capacity(cpu_count: int | None = None) -> int:
    """Worker processes this machine runs at once by default: 8 per CPU, at least 16."""
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        capacity = default_capacity() if capacity is None else capacity
        if capacity < 1:
            raise ValueError(f"machine capacity must be at least 1 worker, got {capacity}")
        self.capacity = capacity
        self.retire_grace = retire_grace
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

    def _take_least_recently_used(self, excluding: WorkerPool[Any]) -> tuple[str, Any] | None:
        """Remove the idle worker of another pool that was used longest ago (lock held)."""
        oldest: tuple[WorkerPool[Any], _Idle[Any]] | None = None
        for pool in self._pools.values():
            if pool is excluding or not pool._idle:
                continue
            candidate = pool._idle[0]  # each pool's idle list is oldest first
            if oldest is None or candidate.since < oldest[1].since:
                oldest = (pool, candidate)
        if oldest is None:
            return None
        pool, entry = oldest
        pool._idle.remove(entry)
        return pool.name, entry.worker


class WorkerPool(Generic[W]):
    """The workers of one function: idle (warm, oldest first) and busy."""

    def __init__(self, name: str, machine: MachineCapacity) -> None:
        self.name = name
        self._machine = machine
        self._cond = machine.cond
        self._idle: list[_Idle[W]] = []
        self._busy: dict[W, int] = {}  # worker -> code version
        self._closed = False

    @property
    def capacity(self) -> int:
        return self._machine.capacity

    def workers(self) -> list[W]:
        """Every worker of this pool, idle or busy."""
        with self._cond:
            return [entry.worker for entry in self._idle] + list(self._busy)

    def idle_count(self) -> int:
        with self._cond:
            return len(self._idle)

    def checkout(self, version: int, timeout: float) -> Lease[W]:
        """A worker running ``version`` of the code, or a slot to start one; may wait.

        Raises CapacityTimeoutError after ``timeout`` seconds without either, PoolClosedError
        once the pool is closed.
        """
        machine = self._machine
        started = machine.clock()
        deadline = started + timeout
        lease: Lease[W] = Lease(worker=None)
        with self._cond:
            while True:
                if self._closed:
                    raise PoolClosedError(f"function {self.name!r} is closed")
                self._sweep(version, lease)
                if self._idle:
                    entry = self._idle.pop()  # most recently used: the warmest
                    self._busy[entry.worker] = entry.version
                    lease.worker = entry.worker
                    return lease
                if machine.slots_used < machine.capacity:
                    machine.slots_used += 1
                    return lease
                now = machine.clock()
                patience_ends = min(started + machine.retire_grace, deadline)
                patient = bool(self._busy) and now < patience_ends
                if not patient:
                    victim = machine._take_least_recently_used(excluding=self)
                    if victim is not None:  # its slot passes to us
                        lease.retired.append(victim)
                        return lease
                if now >= deadline:
                    raise CapacityTimeoutError(machine.capacity, now - started)
                self._cond.wait((patience_ends if patient else deadline) - now)

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
