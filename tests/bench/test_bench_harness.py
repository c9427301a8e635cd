"""Smoke tests of `python -m bench`: the harness runs and its results file keeps its shape.

Tiny counts (--quick): these check that the benchmark cannot rot, never how fast anything is.
Part 4 (the local cloud) has its own test in test_bench_cloud.py.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.common import Row, interleaved, percentile, summarize
from bench.report import build_document, table
from bench.served import LogTail, Processed, parse_stamp

ROOT = Path(__file__).resolve().parents[2]
FAST_PARTS = ("cold", "warm", "size", "program")


def run_bench(tmp_path: Path, parts: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--quiet",
            "--only",
            ",".join(parts),
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(output.read_text()), done.stdout


def assert_rows_sane(part: dict[str, Any]) -> None:
    assert part["rows"], "a part without figures"
    for row in part["rows"]:
        assert isinstance(row["metric"], str) and row["metric"]
        assert math.isfinite(row["value"]) and row["value"] > 0, row
        if row["floor"] is not None:
            assert math.isfinite(row["floor"]) and row["floor"] > 0, row
            assert math.isfinite(row["ratio"]) and row["ratio"] > 0, row
            assert row["ratio"] == pytest.approx(row["value"] / row["floor"], rel=0.01)
        if row["target"]:
            assert isinstance(row["met"], bool), row
        else:
            assert row["met"] is None, row


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
        assert_rows_sane(document["parts"][name])
        assert document["parts"][name]["seconds"] >= 0
    # the targets of the brief are all present
    targets = {t["metric"] for ts in document["targets"].values() for t in ts}
    assert "listener init (import + settings + client)" in targets
    assert "POST -> 200 (handler) p50" in targets
    assert "listener package" in targets
    # and the table shows every figure
    for name in FAST_PARTS:
        for row in document["parts"][name]["rows"]:
            assert row["metric"] in stdout
    # cold start: every variant sampled as often, the init window inside the process time
    details = document["parts"]["cold"]["details"]
    assert details["init_ms"]["listener"]["n"] == details["runs_each"]
    assert details["init_ms"]["floor"]["n"] == details["runs_each"]
    # the init window excludes interpreter start-up: it is shorter than the whole process
    assert details["init_ms"]["listener"]["p50"] < details["process_ms"]["listener"]["p50"]


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
