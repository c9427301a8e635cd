"""The benchmark harness's pieces: its command line, statistics, results file and log reading.
Its quick runs, part by part, are in test_bench_quick.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.__main__ import main as bench_main
from bench.common import Row, interleaved, percentile, summarize
from bench.report import build_document, table
from bench.served import LogTail, Processed, parse_stamp


def test_unknown_part_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        bench_main(["--only", "cold,nope"])
    assert refused.value.code == 2
    assert "nope" in capsys.readouterr().err


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
