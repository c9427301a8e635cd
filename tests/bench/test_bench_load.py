"""The load test (`python -m bench.load`) at CI size, and the checks it relies on.

The CI run is small (N=40, C=8) and takes poison down the fast path (`--retry immediate`: the
fixture processor sets a poison message's visibility to 0 before failing, so its five receives
take well under a second instead of five 6-second visibility timeouts).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.common import FUNCTIONS
from bench.load import STACK, ListenerLog, LoadRun, exactly_once
from bench.poison import FIXTURE_DIR, build_processor
from bench.served import LogLine, LogTail, Processed, ServedStack

ROOT = Path(__file__).resolve().parents[2]


def test_small_load_run_loses_nothing_and_dead_letters_the_poison(tmp_path: Path) -> None:
    output = tmp_path / "load.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--requests", "40", "--concurrency", "8",
         "--retry", "immediate", "--timeout", "45", "--quiet", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(output.read_text())
    assert result["passed"] is True
    assert [c["name"] for c in result["checks"] if not c["ok"]] == []
    assert result["burst"]["statuses"] == {"200": 40}
    assert result["cold_wave"]["statuses"] == {"200": 8}
    for q in ("p50", "p95", "p99"):
        assert result["burst"]["latency_ms"][q] > 0
    drain = result["drain"]
    assert drain["poison"] == drain["dead_lettered"] == 1
    assert drain["poison_failures_logged"] == result["stack"]["max_receive_count"] == 5
    assert result["processed_lines"] == 40 + 8 + 40 - 1
    assert "PASSED" in done.stdout


def _line(at: float, message: str, message_id: str) -> LogLine:
    return LogLine(at, json.dumps({"message": message, "message_id": message_id}))


def test_exactly_once_flags_duplicates_missing_and_unexplained_messages() -> None:
    seen = Processed.empty()
    seen.add(
        [
            _line(1.0, "message processed", "a"),
            _line(2.0, "message processed", "a"),  # a redelivery
            _line(3.0, "message processed", "stray"),  # nobody sent it
        ]
    )
    run = LoadRun(requests=2, concurrency=1, poison_percent=0, retry="immediate")
    exactly_once(run, seen, answered={"a", "b"}, good=set(), listener=ListenerLog())
    assert not run.passed
    assert [c.ok for c in run.checks] == [False, False]
    assert "1 missing, 1 processed more than once" in run.checks[0].detail


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
    exactly_once(run, seen, answered={"a"}, good=set(), listener=listener)
    assert run.passed  # three extras, three attempts that may have enqueued

    seen.add([_line(2.0, "message processed", "x4")])
    run = LoadRun(requests=1, concurrency=1, poison_percent=0, retry="immediate")
    exactly_once(run, seen, answered={"a"}, good=set(), listener=listener)
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


def test_serving_a_stack_leaves_its_developer_state_as_it_was() -> None:
    # GIVEN a developer's own session state of the fixture stack
    state = FIXTURE_DIR / ".local" / STACK
    state.mkdir(parents=True, exist_ok=True)
    planted = {
        "outputs.json": b'{"listener_url": "http://127.0.0.1:1/"}\n',
        "queues.json": b'{"version": 1, "queues": {}}',
    }
    for name, content in planted.items():
        (state / name).write_bytes(content)
    try:
        # WHEN the benchmark serves (and stops) the same stack
        served = ServedStack(FIXTURE_DIR, STACK)
        served.start()
        assert served.outputs["listener_url"].startswith("http://127.0.0.1:")
        served.stop()
        # THEN the developer's files are back, byte for byte
        assert {name: (state / name).read_bytes() for name in planted} == planted
    finally:
        for name in planted:
            (state / name).unlink(missing_ok=True)
