"""Smoke test of part 4 of `python -m bench` (the local cloud), apart because it is the slow one."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from quick_bench import run_bench

ROOT = Path(__file__).resolve().parents[2]


def test_local_cloud_part_measures_startup_latency_and_throughput(tmp_path: Path) -> None:
    document, _ = run_bench(tmp_path, ("cloud",))
    part = document["parts"]["cloud"]
    rows = {row["metric"]: row for row in part["rows"]}
    for row in part["rows"]:
        assert math.isfinite(row["value"]) and row["value"] > 0, row
        assert row["unit"] == ("msg/s" if "throughput" in row["metric"] else "ms"), row
        if row["floor"] is not None:
            assert row["ratio"] == pytest.approx(row["value"] / row["floor"], rel=0.01)
    details = part["details"]
    startup = details["startup"]["local_up_ms"]
    # one `local up` measured from spawn: its first 200 comes after its Ready line, and the
    # time it reports (from its own start, in s, printed to 10 ms) fits inside the spawn time
    assert (
        rows["`local up` spawn -> first 200"]["value"]
        >= rows["`local up` spawn -> Ready line"]["value"]
    )
    assert startup["self_reported_ready"]["p50"] <= startup["ready"]["p50"] + 5
    # latency rows are the medians and p95s of the same 5 requests (and of 5 bare hops)
    assert details["end_to_end_ms"]["n"] == 5
    assert details["sqs_hop_floor_ms"]["n"] == 5
    p50, p95 = rows["POST -> processor ran, p50"], rows["POST -> processor ran, p95"]
    assert p50["value"] == pytest.approx(details["end_to_end_ms"]["p50"], abs=0.01)
    assert p95["value"] >= p50["value"] and p95["floor"] >= p50["floor"]
    assert rows["POST -> 200 over HTTP, p50"]["value"] == pytest.approx(
        details["post_to_200_ms"]["p50"], abs=0.01
    )
    flow = details["throughput"]["pipeline"]
    # every accepted POST was found processed in the processor's log, by message id
    assert flow["ok"] == flow["requests"] == flow["processed"]
    assert flow["all_processed"] is True
    assert details["throughput"]["ceiling"]["deleted"] == flow["requests"]
    throughput = next(row for name, row in rows.items() if "throughput" in name)
    assert throughput["value"] == pytest.approx(flow["processed_per_s"], rel=0.001)
    assert throughput["floor"] == pytest.approx(
        details["throughput"]["ceiling"]["per_s"], rel=0.001
    )
