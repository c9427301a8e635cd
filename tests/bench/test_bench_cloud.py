"""Smoke test of part 4 of `python -m bench` (the local cloud), apart because it is the slow one."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_local_cloud_part_measures_startup_latency_and_throughput(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--quiet",
            "--only",
            "cloud",
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
    part = json.loads(output.read_text())["parts"]["cloud"]
    for row in part["rows"]:
        assert math.isfinite(row["value"]) and row["value"] > 0, row
    details = part["details"]
    assert details["end_to_end_ms"]["n"] == 5
    assert details["sqs_hop_floor_ms"]["n"] == 5
    flow = details["throughput"]["pipeline"]
    # every accepted POST was found processed in the processor's log, by message id
    assert flow["ok"] == flow["requests"] == flow["processed"]
    assert flow["all_processed"] is True
    assert details["throughput"]["ceiling"]["deleted"] == flow["requests"]
