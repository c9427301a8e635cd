"""Smoke test of `python -m bench --only client`: tiny counts, checks that the figures measure
what they claim (messages really sent, peak RSS per process, kept-alive connections), not speed."""

from __future__ import annotations

import math
from pathlib import Path

from quick_bench import run_bench

from bench.client import client_imports

ROOT = Path(__file__).resolve().parents[2]
METRICS = {
    "first message sent, fresh interpreter (process)",
    "first message sent vs bare interpreter (process)",
    "import + client + first send (in the child)",
    "peak RSS after the first send",
    "peak RSS, bare interpreter + those imports",
    "warm CPU per send_message, embedded moto",
    "warm CPU per send_message, kept-alive SQS double",
}


def test_interpreter_floor_imports_what_the_client_imports() -> None:
    modules = client_imports()
    assert {"hashlib", "hmac", "http.client", "json", "ssl", "urllib.parse"} <= set(modules)
    assert "typing" not in modules  # imported for type checking only
    assert "__future__" not in modules


def test_quick_client_part_measures_real_sends(tmp_path: Path) -> None:
    # GIVEN the client part with tiny counts
    document, stdout = run_bench(tmp_path, ("client",))

    # THEN it succeeds and every figure is there, finite, with its target where it has one
    part = document["parts"]["client"]
    rows = {row["metric"]: row for row in part["rows"]}
    assert set(rows) == METRICS
    for row in rows.values():
        assert math.isfinite(row["value"]) and row["value"] > 0, row
        assert row["metric"] in stdout
    assert {rows[m]["target"] for m in METRICS if "process" in m} == {
        "ratio <= 0.35",
        "ratio <= 1.50",
    }

    cold = part["details"]["cold"]
    runs = cold["runs_each"]
    # every cold child of the client and of boto3 sent a message that is in the queue
    assert cold["messages_found_in_queue"] == 2 * runs
    # the in-child window sits inside the whole process, for both
    for name in ("client", "boto3"):
        assert cold["first_send_ms"][name]["n"] == runs
        assert cold["first_send_ms"][name]["max"] < cold["process_ms"][name]["max"]
    # peak RSS is each child's own (not the parent's, which Linux's ru_maxrss would report)
    rss = {name: cold["peak_rss_mb"][name]["p50"] for name in ("interpreter", "client", "boto3")}
    assert rss["interpreter"] <= rss["client"] * 1.05
    assert rss["client"] < 0.8 * rss["boto3"]
    assert cold["interpreter_floor_imports"] == client_imports()

    warm = part["details"]["warm_cpu_ms"]
    for setting in ("moto", "keepalive"):
        sends = warm[setting]["sends_each"]
        assert sends == warm[setting]["client"]["n"] * 4  # --quick: batches of 4
        assert 0 < warm[setting]["client"]["p50"] < 100
        assert 0 < warm[setting]["boto3"]["p50"] < 100
    # moto closes every connection; the double keeps one alive for every send
    assert warm["keepalive"]["client_connections_opened"] == 1
    assert warm["moto"]["client_connections_opened"] > warm["moto"]["sends_each"]
