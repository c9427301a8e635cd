"""What every part of the benchmark shares: paths, statistics, result rows, progress, AWS env."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the Pulumi project of async-webhook)."""
FUNCTIONS = ROOT / "functions"
LISTENER_DIR = FUNCTIONS / "listener"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


def run_child(
    script: str,
    *,
    env: Mapping[str, str] | None = None,
    isolated: bool = False,
    timeout: float = 120,
) -> tuple[dict[str, Any], float]:
    """Runs `script` in a fresh interpreter; (the JSON object its last stdout line holds, the
    whole process's wall time in ms as the parent sees it). Cold starts are measured this way."""
    flags = ["-I"] if isolated else []
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *flags, "-c", script],
        env=None if env is None else dict(env),
        cwd=None if isolated else ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-3000:]}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data, wall_ms


DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def aws_environment(endpoint_url: str) -> dict[str, str]:
    """A Lambda-like AWS environment pointing at a local endpoint, with dummy credentials.

    Config and credential files are pointed at /dev/null so the developer's ~/.aws can neither
    change what is measured nor leak into a benchmark.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **DUMMY_CREDENTIALS,
    }


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """A child environment built from scratch: PATH, locale and `extra`, nothing inherited."""
    return {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", **extra}


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block, restoring the old values."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


# ---- statistics ----------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: Sequence[float]) -> float:
    return percentile(samples, 50)


def summarize(samples: Sequence[float], digits: int = 3) -> dict[str, float]:
    """n, min, p50, p95, p99, max and mean of samples (rounded for the results file)."""
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "min": round(min(samples), digits),
        "p50": round(percentile(samples, 50), digits),
        "p95": round(percentile(samples, 95), digits),
        "p99": round(percentile(samples, 99), digits),
        "max": round(max(samples), digits),
        "mean": round(sum(samples) / len(samples), digits),
    }


def ratio(value: float, floor: float) -> float:
    return value / floor if floor > 0 else math.inf


# ---- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table: a figure, the floor it is compared with, and the target."""

    metric: str
    value: float
    unit: str
    floor: float | None = None
    floor_label: str = ""
    target: str = ""
    """e.g. "ratio <= 1.10" or "< 10240 B"; empty when the figure is for information."""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.floor is None:
            return None
        return ratio(self.value, self.floor)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        value_ratio = self.ratio
        data["ratio"] = None if value_ratio is None else round(value_ratio, 3)
        for key in ("value", "floor"):
            if isinstance(data[key], float):
                data[key] = round(data[key], 3)
        return data


@dataclass
class PartResult:
    """What one part measured: table rows, the full statistics, and notes on method."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "seconds": round(self.seconds, 2),
            "rows": [row.as_dict() for row in self.rows],
            "details": self.details,
            "notes": self.notes,
        }


def check_at_most(value: float, limit: float) -> bool:
    return math.isfinite(value) and value <= limit


def check_at_least(value: float, limit: float) -> bool:
    return math.isfinite(value) and value >= limit


# ---- progress ----------------------------------------------------------------------------------


class Progress:
    """One line per step on stderr, so a slow part never looks hung; stdout keeps the table."""

    def __init__(self, enabled: bool = True, stream: Any = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self.started
            print(f"[bench {elapsed:6.1f}s] {text}", file=self.stream, flush=True)


def interleaved(count: int, runners: Sequence[Callable[[], float]]) -> list[list[float]]:
    """Run each runner `count` times, alternating the order every round (A B, B A, ...).

    Drift (thermal, a neighbour's job) then hits every variant alike instead of the one that
    happened to run last.
    """
    results: list[list[float]] = [[] for _ in runners]
    indices = list(range(len(runners)))
    for round_number in range(count):
        order = indices if round_number % 2 == 0 else indices[::-1]
        for index in order:
            results[index].append(runners[index]())
    return results


def listener_environment(endpoint_url: str, queue_url: str) -> dict[str, str]:
    """What the program gives the listener with the default settings (built by
    infra/listener.py itself), plus Lambda's AWS variables."""
    from infra.listener import ListenerArgs
    from infra.listener import listener_environment as program_environment

    return {
        **aws_environment(endpoint_url),
        **program_environment(ListenerArgs(), queue_url=queue_url),
    }
