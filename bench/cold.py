"""Part 1: the listener's cold start against its floor, `import boto3; boto3.client("sqs")`.

Each sample is a fresh interpreter (`python -I`, environment built from scratch as Lambda does)
that times, with perf_counter inside the child, exactly the init phase: importing the handler
module, which reads its settings and creates its SQS client. Interpreter start-up is outside that
window and identical for both; the whole process time is reported too. Variants alternate
(A B, B A, ...) so drift on a noisy machine hits both alike.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.common import (
    LISTENER_DIR,
    PartResult,
    Row,
    aws_environment,
    check_at_most,
    clean_environment,
    interleaved,
    median,
    run_child,
    summarize,
)
from bench.context import Context

TARGET_RATIO = 1.10

# The child prints one JSON line: the init phase in ms, measured around the import alone.
_LISTENER = f"""
import sys, time
sys.path.insert(0, {str(LISTENER_DIR)!r})
t0 = time.perf_counter()
import handler
t1 = time.perf_counter()
assert handler._sqs is not None
print('{{"init_ms": %.4f}}' % ((t1 - t0) * 1000))
"""

_FLOOR = """
import time
t0 = time.perf_counter()
import boto3
boto3.client("sqs")
t1 = time.perf_counter()
print('{"init_ms": %.4f}' % ((t1 - t0) * 1000))
"""

_BARE = "print('{\"init_ms\": 0}')"


def listener_environment(endpoint_url: str, queue_url: str) -> dict[str, str]:
    """What the program gives the listener with the default settings (built by
    infra/listener.py itself), plus Lambda's AWS variables."""
    from infra.listener import ListenerArgs
    from infra.listener import listener_environment as program_environment

    return {
        **aws_environment(endpoint_url),
        **program_environment(ListenerArgs(), queue_url=queue_url),
    }


def _child(script: str, env: dict[str, str]) -> tuple[float, float]:
    """(init ms measured inside the child, whole process ms measured by the parent)."""
    data, wall_ms = run_child(script, env=env, isolated=True, timeout=60)
    return float(data["init_ms"]), wall_ms


def run(ctx: Context) -> PartResult:
    result = PartResult("cold", "Listener cold start (fresh interpreter)")
    runs = ctx.count(15, 3)
    endpoint = ctx.endpoint_url
    queue_url = f"{endpoint}/123456789012/bench-cold"
    env = clean_environment(listener_environment(endpoint, queue_url))
    ctx.progress(f"cold start: {runs} interleaved runs each of listener / floor / bare python")

    walls: dict[str, list[float]] = {"listener": [], "floor": [], "bare": []}

    def sampler(name: str, script: str) -> Callable[[], float]:
        def sample() -> float:
            init_ms, wall_ms = _child(script, env)
            walls[name].append(wall_ms)
            return init_ms

        return sample

    _child(_FLOOR, env)  # warm the page cache so the first measured run is not an outlier
    listener, floor, _bare = interleaved(
        runs,
        [
            sampler("listener", _LISTENER),
            sampler("floor", _FLOOR),
            sampler("bare", _BARE),
        ],
    )
    init_ratio = median(listener) / median(floor)
    wall_ratio = median(walls["listener"]) / median(walls["floor"])
    result.rows = [
        Row(
            "listener init (import + settings + client)",
            median(listener),
            "ms",
            floor=median(floor),
            floor_label="import boto3; boto3.client('sqs')",
            target=f"ratio <= {TARGET_RATIO:.2f}",
            met=check_at_most(init_ratio, TARGET_RATIO),
        ),
        Row(
            "listener process, start to exit",
            median(walls["listener"]),
            "ms",
            floor=median(walls["floor"]),
            floor_label="same floor, whole process",
        ),
        Row("bare interpreter, start to exit", median(walls["bare"]), "ms"),
    ]
    result.details = {
        "runs_each": runs,
        "init_ms": {"listener": summarize(listener), "floor": summarize(floor)},
        "process_ms": {name: summarize(samples) for name, samples in walls.items()},
        "init_ratio_of_medians": round(init_ratio, 3),
        "process_ratio_of_medians": round(wall_ratio, 3),
    }
    result.notes = [
        "init = perf_counter around `import handler` inside a fresh `python -I` child whose "
        "environment is built from scratch (LISTENER_CONFIG, AWS_ENDPOINT_URL at the embedded "
        "moto, dummy credentials); creating the client makes no request.",
    ]
    return result
