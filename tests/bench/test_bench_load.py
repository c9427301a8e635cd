"""The load test (`python -m bench.load`) at CI size, and the checks it relies on.

The CI run is small (N=20, C=4) and takes poison down the fast path (`--retry immediate`: the
fixture processor sets a poison message's visibility to 0 before failing, so its five receives
take well under a second instead of five 6-second visibility timeouts).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import FUNCTIONS
from bench.load import STACK, ListenerLog, LoadRun, at_least_once
from bench.poison import FIXTURE_DIR, build_processor
from bench.served import LogLine, LogTail, Processed
from local.state import StackState

ROOT = Path(__file__).resolve().parents[2]
REQUESTS, CLIENTS = 20, 4
"""CI size: every phase and check of the full run, with a few workers to start."""


def test_small_load_run_loses_nothing_dead_letters_poison_and_spares_developer_state(
    tmp_path: Path,
) -> None:
    # GIVEN a developer's own session state of the fixture stack (outputs of a `make up` of it,
    # a queue snapshot its last stop left)
    state = StackState.of(FIXTURE_DIR, STACK)
    state.dir.mkdir(parents=True, exist_ok=True)
    planted = {
        state.outputs_file: b'{"listener_url": "http://127.0.0.1:1/"}\n',
        state.snapshot_file: b'{"version": 1, "queues": {}}',
    }
    kept = {path: path.read_bytes() for path in planted if path.exists()}
    for path, content in planted.items():
        path.write_bytes(content)
    # WHEN the load test serves the same stack (in a state folder of its own) at CI size
    output = tmp_path / "load.json"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.load", "--requests", str(REQUESTS),
             "--concurrency", str(CLIENTS),
             "--retry", "immediate", "--timeout", "45", "--quiet", "--output", str(output)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=55,
            check=False,
        )  # fmt: skip
        # THEN the developer's files are as they were, byte for byte
        assert {path: path.read_bytes() for path in planted} == planted
    finally:
        for path in planted:
            if path in kept:
                path.write_bytes(kept[path])
            else:
                path.unlink(missing_ok=True)
    # AND every check passed: nothing lost, duplicates only after redeliveries, poison in the DLQ
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(output.read_text())
    assert result["passed"] is True
    assert [c["name"] for c in result["checks"] if not c["ok"]] == []
    assert result["burst"]["statuses"] == {"200": REQUESTS}
    assert result["cold_wave"]["statuses"] == {"200": CLIENTS}
    # the latency figures are the burst requests' own, in ms: ordered, and each one inside
    # the time the burst took to be accepted (a unit or sampling slip breaks one of these)
    burst = result["burst"]
    latency = burst["latency_ms"]
    assert latency["n"] == REQUESTS
    assert 0 < latency["min"] <= latency["p50"] <= latency["p95"] <= latency["p99"]
    assert latency["p99"] <= latency["max"] <= burst["seconds_to_accept"] * 1000 + 1
    # each client posts one request at a time, so together they were busy at most CLIENTS x
    # that time
    assert latency["mean"] * latency["n"] <= CLIENTS * (burst["seconds_to_accept"] * 1000 + 1)
    assert burst["accepted_per_s"] == pytest.approx(REQUESTS / burst["seconds_to_accept"], rel=0.01)
    drain = result["drain"]
    assert drain["poison"] == drain["dead_lettered"] == 1
    assert drain["poison_failures_logged"] == result["stack"]["max_receive_count"] == 5
    # AND the stack served is the fixture's as configured (bench/fixture/Pulumi.load.yaml), not
    # the defaults: a setting the program ignored would pass every check above at this size
    assert result["stack"] == {
        "processor_timeout_s": 1,
        "visibility_timeout_s": 6,
        "max_receive_count": 5,
        "listener_reserved_concurrency": 50,
    }
    # at least once: one line per accepted or enqueued message, more only after a redelivery
    # (which the checks above explained)
    assert result["processed_lines"] >= REQUESTS + CLIENTS + REQUESTS - 1
    assert "PASSED" in done.stdout


def _line(at: float, message: str, message_id: str, receive_count: int | None = 1) -> LogLine:
    fields = {"message": message, "message_id": message_id, "receive_count": receive_count}
    return LogLine(at, json.dumps(fields))


def _processed(*counts: tuple[str, int | None]) -> Processed:
    """What the processor's log says: one "message processed" line per (id, receive count)."""
    seen = Processed.empty()
    seen.add([_line(float(i), "message processed", m, c) for i, (m, c) in enumerate(counts)])
    return seen


def _checks(seen: Processed, answered: set[str]) -> dict[str, bool]:
    run = LoadRun(requests=len(answered), concurrency=1, poison_percent=0, retry="immediate")
    at_least_once(run, seen, answered=answered, good=set(), listener=ListenerLog())
    return {c.name: c.ok for c in run.checks}


PROCESSED = "every accepted or enqueued message was processed at least once"
REDELIVERED = "every duplicate processing followed a redelivery (a higher receive count)"
SENT = (
    "every other processed message was sent by the listener (an attempt whose answer was "
    "lost: at-least-once)"
)


def test_a_duplicate_after_a_redelivery_is_at_least_once() -> None:
    # GIVEN a message processed again after SQS handed it out a second time
    seen = _processed(("a", 1), ("a", 2), ("b", 1))
    seen.add([LogLine(1.5, "[local] SQS q: batch of 1 failed (Sandbox.Timedout); ...")])
    # THEN every check passes, and the redelivery is counted
    assert _checks(seen, {"a", "b"}) == {PROCESSED: True, REDELIVERED: True, SENT: True}
    assert seen.receive_counts == {"a": [1, 2], "b": [1]}
    assert len(seen.poller_notes) == 1


def test_at_least_once_flags_missing_unexplained_duplicates_and_strays() -> None:
    # GIVEN one message processed twice from the same receive, one never, one nobody sent
    seen = _processed(("a", 1), ("a", 1), ("stray", 1))
    # THEN each is its own failed check
    assert _checks(seen, {"a", "b"}) == {PROCESSED: False, REDELIVERED: False, SENT: False}


def test_a_duplicate_whose_receive_count_is_not_logged_is_unexplained() -> None:
    assert _checks(_processed(("a", 1), ("a", None)), {"a"})[REDELIVERED] is False


def test_extra_messages_are_accepted_only_up_to_the_listener_attempts_without_a_200(
    tmp_path: Path,
) -> None:
    log = tmp_path / "listener.log"
    log.write_text("")
    tail = LogTail(log)
    lines = [
        {"message": "request handled", "status": 200, "attempts": 2, "message_id": "a"},
        {"message": "request handled", "status": 503, "attempts": 2, "reason": "timeout"},
    ]
    log.write_text("".join(f"2026-01-01T00:00:00.000Z {json.dumps(x)}\n" for x in lines))
    listener = ListenerLog()
    listener.add(tail)
    assert listener.unanswered_attempts == 3
    assert listener.reasons == {"timeout": 1}

    seen = Processed.empty()
    seen.add([_line(1.0, "message processed", m) for m in ("a", "x1", "x2", "x3")])
    run = LoadRun(requests=1, concurrency=1, poison_percent=0, retry="immediate")
    at_least_once(run, seen, answered={"a"}, good=set(), listener=listener)
    assert run.passed  # three extras, three attempts that may have enqueued

    seen.add([_line(2.0, "message processed", "x4")])
    run = LoadRun(requests=1, concurrency=1, poison_percent=0, retry="immediate")
    at_least_once(run, seen, answered={"a"}, good=set(), listener=listener)
    assert not run.passed


def test_fixture_processor_is_the_real_one_with_process_wrapped(tmp_path: Path) -> None:
    built = build_processor(tmp_path / "processor")
    names = sorted(p.name for p in built.iterdir())
    real = FUNCTIONS / "processor"
    shipped = {p.name for p in real.iterdir() if p.is_file() and p.suffix in (".py", ".txt")}
    assert names == sorted({*shipped, "default_process.py"})
    assert "requirements.txt" in names  # its bundled packages come along
    assert (built / "handler.py").read_bytes() == (real / "handler.py").read_bytes()
    assert (built / "default_process.py").read_bytes() == (real / "process.py").read_bytes()
    assert b"PoisonMessageError" in (built / "process.py").read_bytes()
