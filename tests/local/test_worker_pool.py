"""Warm pools and the machine's worker capacity, with fake workers (no processes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from local.worker_pool import (
    CapacityTimeoutError,
    Lease,
    MachineCapacity,
    PoolClosedError,
    WorkerPool,
    default_capacity,
)


@dataclass(eq=False)
class FakeWorker:
    """Hashable by identity, like a real worker."""

    name: str
    alive: bool = True


def _start(pool: WorkerPool[FakeWorker], name: str, version: int = 1) -> FakeWorker:
    """Check out a slot (never waiting) and start a fake worker in it."""
    lease = pool.checkout(version, timeout=0)
    assert lease.worker is None, "expected a slot, got a warm worker"
    worker = FakeWorker(name)
    assert pool.started(worker, version)
    return worker


class InThread:
    """Runs a call in a thread; ``result()`` waits for it with a deadline."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                self._error = exc
            finally:
                self._done.set()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def result(self, timeout: float = 5.0) -> Any:
        assert self._done.wait(timeout), "the call did not finish in time"
        if self._error is not None:
            raise self._error
        return self._value


def _wait_until_waiting(machine: MachineCapacity, waiters: int) -> None:
    """Until ``waiters`` threads are blocked on the machine's condition (deadline 5 s)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with machine.cond:
            if len(machine.cond._waiters) >= waiters:  # type: ignore[attr-defined]
                return
        time.sleep(0.005)
    raise AssertionError("no checkout started waiting")


def test_a_released_worker_is_reused_most_recently_used_first() -> None:
    # GIVEN a function with two workers, released one after the other
    machine = MachineCapacity(4)
    pool: WorkerPool[FakeWorker] = machine.pool("fn")
    first, second = _start(pool, "first"), _start(pool, "second")
    assert pool.release(first) and pool.release(second)
    # WHEN an invocation checks out THEN it gets the warmest (last released) worker
    lease = pool.checkout(1, timeout=0)
    assert lease.worker is second
    assert (lease.stale, lease.dead, lease.retired) == ([], [], [])
    assert machine.in_use == 2  # reuse takes no new slot


def test_workers_on_old_code_or_dead_are_handed_back_and_free_their_slots() -> None:
    machine = MachineCapacity(2)
    pool: WorkerPool[FakeWorker] = machine.pool("fn")
    old, gone = _start(pool, "old", version=1), _start(pool, "gone", version=2)
    pool.release(old)
    pool.release(gone)
    gone.alive = False
    # WHEN the code is now at version 2
    lease = pool.checkout(2, timeout=0)
    # THEN both idle workers leave the pool (one stale, one dead) and a new one may start
    assert lease.stale == [old]
    assert lease.dead == [gone]
    assert lease.worker is None
    assert machine.in_use == 1
    assert pool.workers() == []


def test_past_capacity_an_idle_worker_of_another_function_is_retired_least_recent_first() -> None:
    # GIVEN a full machine of 4: idle workers of b (used first and last) and of a (in between),
    # and c's one worker
    clock = FakeClock()
    machine = MachineCapacity(4, clock=clock)
    a: WorkerPool[FakeWorker] = machine.pool("a")
    b: WorkerPool[FakeWorker] = machine.pool("b")
    c: WorkerPool[FakeWorker] = machine.pool("c")
    b1, a1, b2, wc = _start(b, "b1"), _start(a, "a1"), _start(b, "b2"), _start(c, "wc")
    for pool, worker in ((b, b1), (a, a1), (b, b2), (c, wc)):
        clock.now += 1
        pool.release(worker)
    # WHEN c needs workers THEN it first reuses its own idle one
    assert c.checkout(1, timeout=0).worker is wc
    # AND then the least recently used idle worker of another function makes room: b's first
    lease = c.checkout(1, timeout=0)
    assert lease.worker is None
    assert lease.retired == [("b", b1)]
    assert b.workers() == [b2] and a.workers() == [a1]
    assert c.checkout(1, timeout=0).retired == [("a", a1)]
    assert machine.in_use == 4


def test_a_function_with_busy_workers_waits_for_its_own_before_retiring_another() -> None:
    # GIVEN a full machine: an idle worker of a, and a busy worker of b
    machine = MachineCapacity(2, retire_grace=5.0)
    a: WorkerPool[FakeWorker] = machine.pool("a")
    b: WorkerPool[FakeWorker] = machine.pool("b")
    idle_a, busy_b = _start(a, "idle-a"), _start(b, "busy-b")
    a.release(idle_a)
    # WHEN b needs a second worker THEN it waits (within the grace) instead of retiring a's
    waiting = InThread(lambda: b.checkout(1, timeout=10))
    _wait_until_waiting(machine, 1)
    # AND when b's own worker is released, b reuses it: no cold start, a keeps its warm worker
    b.release(busy_b)
    assert waiting.result().worker is busy_b
    assert a.workers() == [idle_a]


def test_past_the_grace_another_functions_idle_worker_is_retired_once_settled() -> None:
    machine = MachineCapacity(2, retire_grace=0.05, settled_idle=0.3)
    a: WorkerPool[FakeWorker] = machine.pool("a")
    b: WorkerPool[FakeWorker] = machine.pool("b")
    idle_a = _start(a, "idle-a")
    _start(b, "busy-b")
    started = time.monotonic()  # before the release, where the idle time starts counting
    a.release(idle_a)
    lease = b.checkout(1, timeout=10)
    assert time.monotonic() - started >= 0.3  # a's worker was fair game once a stopped using it
    assert lease.retired == [("a", idle_a)]


def _busy_pools(clock: FakeClock, **sizes: int) -> tuple[MachineCapacity, dict[str, Any]]:
    """A full machine; each function has ``size`` workers, all busy but one idle (just used)."""
    machine = MachineCapacity(sum(sizes.values()), clock=clock)
    pools: dict[str, Any] = {}
    for name, size in sizes.items():
        pool: WorkerPool[FakeWorker] = machine.pool(name)
        workers = [_start(pool, f"{name}{i}") for i in range(size)]
        pool.release(workers[0])
        pools[name] = pool
    return machine, pools


def test_two_busy_functions_of_similar_size_do_not_retire_each_others_workers() -> None:
    # GIVEN a busy function of 2 workers next to one of 3, each with one worker idle just now
    clock = FakeClock()
    machine, pools = _busy_pools(clock, small=2, big=3)
    pools["small"].checkout(1, timeout=0)  # its idle one: all of small's are busy now
    # WHEN small needs a third worker THEN big's idle worker is not fair game (3 < 2 + 2)
    with pytest.raises(CapacityTimeoutError):
        pools["small"].checkout(1, timeout=0)
    # AND once big holds two more than small, or its idle worker has settled, it is
    clock.now += 1.0
    assert pools["small"].checkout(1, timeout=0).retired[0][0] == "big"
    assert machine.in_use == 5


def test_a_function_without_any_worker_takes_one_at_once() -> None:
    # GIVEN a machine of 1 whose worker (of a) went idle just now
    clock = FakeClock()
    machine, _ = _busy_pools(clock, a=1)
    starving: WorkerPool[FakeWorker] = machine.pool("starving")
    # WHEN a function with no worker at all needs one THEN it retires a's, without waiting
    assert starving.checkout(1, timeout=0).retired[0][0] == "a"


def test_a_function_two_workers_bigger_gives_one_to_a_smaller_busy_one() -> None:
    clock = FakeClock()
    _, pools = _busy_pools(clock, small=1, big=3)
    pools["small"].checkout(1, timeout=0)  # its only worker, now busy
    assert pools["small"].checkout(1, timeout=0).retired[0][0] == "big"


def test_with_every_worker_busy_a_checkout_fails_after_its_timeout() -> None:
    machine = MachineCapacity(2)
    a: WorkerPool[FakeWorker] = machine.pool("a")
    b: WorkerPool[FakeWorker] = machine.pool("b")
    _start(a, "1"), _start(a, "2")
    started = time.monotonic()
    with pytest.raises(CapacityTimeoutError) as caught:
        b.checkout(1, timeout=0.1)
    assert time.monotonic() - started >= 0.1
    assert caught.value.capacity == 2
    assert "--max-workers" in str(caught.value)


def _waiting_on_a_full_machine() -> tuple[
    MachineCapacity, WorkerPool[FakeWorker], FakeWorker, InThread
]:
    """A machine of one worker, busy with function a, and function b waiting for a worker."""
    machine = MachineCapacity(1)
    a: WorkerPool[FakeWorker] = machine.pool("a")
    b: WorkerPool[FakeWorker] = machine.pool("b")
    busy = _start(a, "busy")
    waiting = InThread(lambda: b.checkout(1, timeout=5))
    _wait_until_waiting(machine, 1)
    return machine, a, busy, waiting


def test_a_waiting_checkout_gets_the_worker_that_becomes_idle() -> None:
    # GIVEN a machine of 1 whose only worker (of a) is busy, and b waiting for a worker
    machine, a, busy, waiting = _waiting_on_a_full_machine()
    assert not waiting.done
    # WHEN a's invocation ends
    a.release(busy)
    # THEN b retires a's now idle worker and starts its own in that slot
    lease: Lease[FakeWorker] = waiting.result()
    assert lease.worker is None
    assert lease.retired == [("a", busy)]
    assert machine.in_use == 1


def test_a_discarded_worker_frees_its_slot_for_a_waiter() -> None:
    machine, a, crashed, waiting = _waiting_on_a_full_machine()
    a.discard(crashed)
    lease = waiting.result()
    assert lease.worker is None and lease.retired == []
    assert machine.in_use == 1


def test_a_waiting_checkout_of_the_same_function_reuses_the_released_worker() -> None:
    machine = MachineCapacity(1)
    pool: WorkerPool[FakeWorker] = machine.pool("fn")
    busy = _start(pool, "busy")
    waiting = InThread(lambda: pool.checkout(1, timeout=5))
    _wait_until_waiting(machine, 1)
    pool.release(busy)
    assert waiting.result().worker is busy


def test_a_slot_whose_worker_did_not_start_is_given_back() -> None:
    machine = MachineCapacity(1)
    pool: WorkerPool[FakeWorker] = machine.pool("fn")
    assert pool.checkout(1, timeout=0).worker is None
    pool.abandon()
    assert machine.in_use == 0
    _start(pool, "next")


def test_close_wakes_waiters_and_hands_back_every_worker() -> None:
    # GIVEN a function with one idle and one busy worker, and a checkout waiting for more
    machine = MachineCapacity(2)
    pool: WorkerPool[FakeWorker] = machine.pool("fn")
    idle, busy = _start(pool, "idle"), _start(pool, "busy")
    pool.release(idle)
    pool.checkout(1, timeout=0)  # takes idle: both are busy now
    waiting = InThread(lambda: pool.checkout(1, timeout=5))
    _wait_until_waiting(machine, 1)
    # WHEN the pool closes
    workers = pool.close()
    # THEN the waiter fails at once, every worker is handed back and the slots are free
    with pytest.raises(PoolClosedError):
        waiting.result()
    assert set(workers) == {idle, busy}
    assert machine.in_use == 0
    # AND a worker finishing late, or starting late, is not taken back
    assert not pool.release(busy)
    other: WorkerPool[FakeWorker] = machine.pool("fn")  # the name is free again
    new = _start(other, "new")
    assert other.close() == [new]
    assert machine.in_use == 0


def test_a_worker_started_after_close_is_refused_and_its_slot_freed() -> None:
    machine = MachineCapacity(1)
    pool: WorkerPool[FakeWorker] = machine.pool("fn")
    assert pool.checkout(1, timeout=0).worker is None
    pool.close()
    assert not pool.started(FakeWorker("late"), 1)
    assert machine.in_use == 0


def test_capacity_defaults_to_four_per_cpu_with_a_floor() -> None:
    assert default_capacity(1) == 8
    assert default_capacity(2) == 8
    assert default_capacity(4) == 16
    assert MachineCapacity().capacity == default_capacity()
    with pytest.raises(ValueError, match="at least 1"):
        MachineCapacity(0)
    machine = MachineCapacity(1)
    machine.pool("fn")
    with pytest.raises(ValueError, match="already has"):
        machine.pool("fn")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_waiting_invocations_are_served_in_arrival_order_before_a_newcomer() -> None:
    # GIVEN a function whose only worker is busy, and three invocations waiting for it in turn
    machine = MachineCapacity(1, retire_grace=0)
    pool: WorkerPool[FakeWorker] = machine.pool("fn")
    worker = _start(pool, "only")
    waiting = []
    for count in (1, 2, 3):
        waiting.append(InThread(lambda: pool.checkout(1, timeout=10)))
        _wait_until_waiting(machine, count)
    served: list[int] = []
    for turn in range(3):
        # WHEN the worker is released and, at once, a newcomer asks without waiting
        assert pool.release(worker)
        with pytest.raises(CapacityTimeoutError):
            pool.checkout(1, timeout=0)
        # THEN the longest waiter gets it, never the newcomer
        deadline = time.monotonic() + 5
        while not any(w.done for i, w in enumerate(waiting) if i not in served):
            assert time.monotonic() < deadline, "no waiter was served"
            time.sleep(0.005)
        served += [i for i, w in enumerate(waiting) if w.done and i not in served]
        assert served == list(range(turn + 1))
        assert waiting[turn].result().worker is worker
