"""Smoke tests of `python -m bench`: the harness runs and its results file keeps its shape.

Tiny counts (--quick): these check that the benchmark cannot rot, never how fast anything is.
Part 4 (the local cloud) has its own test in test_bench_cloud.py.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from quick_bench import run_bench

from bench.common import Row, interleaved, percentile, summarize
from bench.report import build_document, table
from bench.served import LogTail, Processed, parse_stamp

ROOT = Path(__file__).resolve().parents[2]
FAST_PARTS = ("cold", "warm", "size", "program")


UNITS = {"cold": {"ms", "MB"}, "warm": {"ms"}, "size": {"B"}, "program": {"ms"}}
SAME_WORK = (0.05, 20.0)
"""Bounds of value/floor where the floor does the same work as what it floors (the same SQS
call, the same imports), measured interleaved on the same machine: a unit slip (x1000) or a
part that skipped its work falls out. They are orders of magnitude, not a speed target: a quick
run's medians of 20 samples moved a ratio near 1 to 0.3 beside a CPU-bound process (seen)."""


def assert_rows_sane(name: str, part: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every row well-formed, in the part's units, its ratio value/floor; rows by metric."""
    assert part["rows"], "a part without figures"
    for row in part["rows"]:
        assert isinstance(row["metric"], str) and row["metric"]
        assert row["unit"] in UNITS[name], row
        assert math.isfinite(row["value"]) and row["value"] > 0, row
        if row["floor"] is not None:
            assert math.isfinite(row["floor"]) and row["floor"] > 0, row
            assert row["ratio"] == pytest.approx(row["value"] / row["floor"], rel=0.01)
        if row["target"]:
            assert isinstance(row["met"], bool), row
        else:
            assert row["met"] is None, row
    return {row["metric"]: row for row in part["rows"]}


def assert_cold_is_measured(part: dict[str, Any]) -> None:
    rows = assert_rows_sane("cold", part)
    details = part["details"]
    to_first = rows["listener cold start to first message"]
    vs_interpreter = rows["listener cold start to first message, vs the interpreter"]
    init = rows["listener init (import + settings + client)"]
    process = rows["listener process, start to exit"]
    # every variant sampled as often, and the rows are those samples' medians
    for variant in ("listener", "boto3", "interpreter"):
        assert details["first_message_ms"][variant]["n"] == details["runs_each"]
    assert to_first["value"] == pytest.approx(
        details["first_message_ms"]["listener"]["p50"], abs=0.01
    )
    assert vs_interpreter["floor"] == pytest.approx(
        details["first_message_ms"]["interpreter"]["p50"], abs=0.01
    )
    # the init is part of the window that ends with the first message, which is part of the
    # child's whole process: the three are ordered by construction
    assert details["init_ms"]["max"] < details["first_message_ms"]["listener"]["max"]
    assert init["value"] <= to_first["value"] < process["value"]
    # the interpreter floor imports a subset of what the listener imports, and sends nothing
    assert set(details["interpreter_floor_imports"]) >= {"hmac", "hashlib", "http.client", "json"}
    assert "boto3" not in details["interpreter_floor_imports"]
    assert rows["listener peak memory"]["unit"] == "MB"


def assert_warm_is_measured(part: dict[str, Any]) -> None:
    rows = assert_rows_sane("warm", part)
    latency = part["details"]["latency_ms"]
    p50 = rows["POST -> 200 (handler) p50"]
    p99 = rows["POST -> 200 (handler) p99"]
    per_request = rows["client per request (original demo) p50"]
    for variant in ("listener", "floor_send_message", "send_message_with_attributes"):
        assert latency[variant]["n"] == part["details"]["requests_each"]
    assert p50["value"] == pytest.approx(latency["listener"]["p50"], abs=0.01)
    # the listener's request is the floor's SendMessage plus a little Python
    assert SAME_WORK[0] <= p50["ratio"] <= SAME_WORK[1], p50
    assert (
        SAME_WORK[0] <= rows["send_message + listener's 7 attributes p50"]["ratio"] <= SAME_WORK[1]
    )
    # p99 and p50 of the same samples
    assert p99["value"] >= p50["value"] and p99["floor"] >= p50["floor"]
    assert per_request["floor"] == p50["value"]  # compared with the listener's own p50


def assert_size_is_measured(part: dict[str, Any]) -> None:
    rows = assert_rows_sane("size", part)
    for name in ("listener", "processor"):
        row = rows[f"{name} package"]
        details = part["details"][name]
        assert row["value"] == details["zip_bytes"] == int(row["value"])  # whole bytes
        assert "handler.py" in details["files"]
        # the package holds handler.py's member and maybe more: never smaller than it alone
        if details["files"] == ["handler.py"]:
            assert row["value"] == row["floor"]
        else:
            assert row["value"] > row["floor"]
    listener = rows["listener package"]
    assert listener["met"] is (listener["value"] < 32 * 1024)


def assert_program_is_measured(part: dict[str, Any]) -> None:
    rows = assert_rows_sane("program", part)
    details = part["details"]
    warm = rows["evaluate, in-process (median after the first)"]
    declared = details["resources_declared"]
    assert declared > 0
    assert warm["floor_label"].startswith(f"{declared} bare resources")
    # the floor declares as many resources under the same mocks
    assert SAME_WORK[0] <= warm["ratio"] <= SAME_WORK[1], warm
    # an empty program declares nothing; a fresh interpreter imports Pulumi first
    assert rows["evaluate an empty program, in-process"]["value"] < warm["value"]
    assert rows["evaluate, cold (fresh interpreter)"]["value"] > warm["value"]


MEASURED = {
    "cold": assert_cold_is_measured,
    "warm": assert_warm_is_measured,
    "size": assert_size_is_measured,
    "program": assert_program_is_measured,
}


def test_quick_run_writes_every_selected_part(tmp_path: Path) -> None:
    # GIVEN the harness with tiny counts WHEN it runs the fast parts
    document, stdout = run_bench(tmp_path, FAST_PARTS)

    # THEN the results carry the machine, the date and each part's figures with their floors
    assert document["schema"] == 1
    assert document["quick"] is True
    assert document["date"].endswith("Z")
    machine = document["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["python"].count(".") == 2
    assert set(machine["packages"]) == {"boto3", "botocore", "moto", "pulumi", "pulumi-aws"}
    assert all(machine["packages"].values())
    assert set(document["parts"]) == set(FAST_PARTS)
    for name in FAST_PARTS:
        MEASURED[name](document["parts"][name])
        assert document["parts"][name]["seconds"] >= 0
    # the targets of the brief are all present
    targets = {t["metric"] for ts in document["targets"].values() for t in ts}
    assert "listener cold start to first message" in targets
    assert "listener cold start to first message, vs the interpreter" in targets
    assert "POST -> 200 (handler) p50" in targets
    assert "listener package" in targets
    # and the table shows every figure
    for name in FAST_PARTS:
        for row in document["parts"][name]["rows"]:
            assert row["metric"] in stdout


def test_unknown_part_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "cold,nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "nope" in done.stderr


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))
    assert summarize([3.0, 1.0, 2.0])["p50"] == 2.0


def test_interleaved_alternates_order() -> None:
    calls: list[str] = []
    interleaved(3, [lambda: calls.append("a") or 0.0, lambda: calls.append("b") or 0.0])
    assert calls == ["a", "b", "b", "a", "a", "b"]


def test_only_keeps_the_other_parts_of_a_full_run() -> None:
    from bench.common import PartResult

    previous = build_document(
        [PartResult("cold", "c", rows=[Row("x", 1.0, "ms")])],
        machine={},
        date="2026-01-01T00:00:00Z",
        quick=False,
        duration_s=1,
    )
    updated = build_document(
        [PartResult("size", "s", rows=[Row("y", 2.0, "B")])],
        machine={},
        date="2026-01-02T00:00:00Z",
        quick=False,
        duration_s=1,
        previous=previous,
    )
    assert set(updated["parts"]) == {"cold", "size"}
    assert updated["parts"]["cold"]["date"] == "2026-01-01T00:00:00Z"
    assert "y" in table([PartResult("size", "s", rows=[Row("y", 2.0, "B")])])


def test_log_tail_reads_only_new_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "f.log"
    log.write_text('2026-01-01T00:00:00.000Z {"message": "old", "message_id": "a"}\n')
    tail = LogTail(log)
    with log.open("a") as file:
        file.write(
            '2026-01-01T00:00:01.250Z {"message": "message processed", "message_id": "b"}\n'
            '2026-01-01T00:00:02.000Z {"message": "record failed", "message_id": "c"}\n'
            '2026-01-01T00:00:03.000Z {"message": "message pro'
        )
    seen = Processed.empty()
    seen.add(tail.read())
    assert seen.processed == {"b": [parse_stamp("2026-01-01T00:00:01.250Z")]}
    assert seen.failed == {"c": [parse_stamp("2026-01-01T00:00:02.000Z")]}
    assert parse_stamp("2026-01-01T00:00:01.250Z") - parse_stamp("2026-01-01T00:00:00.000Z") == (
        pytest.approx(1.25)
    )
    with log.open("a") as file:
        file.write('cessed", "message_id": "d"}\n')
    seen.add(tail.read())
    assert seen.processed["d"] == [parse_stamp("2026-01-01T00:00:03.000Z")]
