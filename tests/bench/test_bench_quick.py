"""Smoke tests of `python -m bench --quick`: each part runs, measures what it claims and keeps
the results file's shape. Tiny counts: these check that the benchmarks cannot rot, never how fast
anything is. One run of every part serves all the tests here (each run of the harness is an
interpreter with its own embedded AWS); the load test is test_bench_load.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from quick_bench import run_bench

from bench.client import client_imports

QuickRun = tuple[dict[str, Any], str]
"""The results document and the printed table of the module's one quick run."""

FAST_PARTS = ("cold", "warm", "size", "program")
QUICK_PARTS = (*FAST_PARTS, "client", "cloud")

METRICS = {
    "first message sent, fresh interpreter (process)",
    "first message sent vs bare interpreter (process)",
    "import + client + first send (in the child)",
    "peak RSS after the first send",
    "peak RSS, bare interpreter + those imports",
    "warm CPU per send_message, embedded moto",
    "warm CPU per send_message, kept-alive SQS double",
}


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


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    return run_bench(tmp_path_factory.mktemp("bench"), QUICK_PARTS)


def test_quick_run_writes_every_selected_part(quick_run: QuickRun) -> None:
    # GIVEN the harness with tiny counts WHEN it runs its parts
    document, stdout = quick_run

    # THEN the results carry the machine, the date and each part's figures with their floors
    assert document["schema"] == 1
    assert document["quick"] is True
    assert document["date"].endswith("Z")
    machine = document["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["python"].count(".") == 2
    assert set(machine["packages"]) == {"boto3", "botocore", "moto", "pulumi", "pulumi-aws"}
    assert all(machine["packages"].values())
    assert set(document["parts"]) == set(QUICK_PARTS)
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
    for name in QUICK_PARTS:
        for row in document["parts"][name]["rows"]:
            assert row["metric"] in stdout


def test_quick_client_part_measures_real_sends(quick_run: QuickRun) -> None:
    # GIVEN the client part with tiny counts
    document, stdout = quick_run

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


def test_local_cloud_part_measures_startup_latency_and_throughput(quick_run: QuickRun) -> None:
    document, _ = quick_run
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


def test_interpreter_floor_imports_what_the_client_imports() -> None:
    modules = client_imports()
    assert {"hashlib", "hmac", "http.client", "json", "ssl", "urllib.parse"} <= set(modules)
    assert "typing" not in modules  # imported for type checking only
    assert "__future__" not in modules
