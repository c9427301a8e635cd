"""Part "cold": the listener's cold start to its first message, against two floors.

Each sample is a fresh interpreter (`python -I`, environment built from scratch as Lambda does)
that times, with perf_counter inside the child, the init phase AND the first request: importing
the handler (its settings, its standard-library SQS client) and answering one POST, which sends
one message to the embedded moto. The listener's folder is copied without bytecode and imported
without writing any, because a Lambda package has no __pycache__ and /var/task is read-only:
every cold start compiles it. Its floors, interleaved with it (A B C, B C A, ...) so that drift
on a noisy machine hits all alike:

- boto3's: `import boto3; boto3.client("sqs").send_message(...)`, what a boto3-based listener
  cannot go below (boto3 comes precompiled, as the Lambda runtime ships it);
- the interpreter's: importing just the standard-library modules the listener's three files
  import, read from their source: what no Python listener can go below.

Each child reports the id of the message it sent; every id is then looked for in the queue, so a
sample that sent nothing cannot pass.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.client import (
    BOTO3_FLOOR,
    COLD_VS_BOTO3,
    COLD_VS_INTERPRETER,
    INTERPRETER_FLOOR,
    client_imports,
    fill_script,
)
from bench.common import (
    LISTENER_DIR,
    PartResult,
    Row,
    check_at_most,
    clean_environment,
    interleaved,
    listener_environment,
    median,
    ratio,
    run_child,
    summarize,
)
from bench.context import Context
from bench.events import function_url_post, sample_body

# The child prints one JSON line: its window from first import to the POST answered (ms), the
# init part of it, its peak RSS (KB, VmHWM: ru_maxrss would be the parent's) and the message id.
_LISTENER = """
import json, sys, time
t0 = time.perf_counter()
sys.dont_write_bytecode = True
sys.path.insert(0, DIRECTORY)
import handler
init = time.perf_counter()
answer = handler.handler(json.loads(EVENT), None)
t1 = time.perf_counter()
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({
    "first_ms": (t1 - t0) * 1000,
    "init_ms": (init - t0) * 1000,
    "peak_kb": peak_kb,
    "message_id": json.loads(answer["body"]).get("message_id", ""),
}))
"""


def listener_imports(folder: Path = LISTENER_DIR) -> list[str]:
    """The standard-library modules the listener's files import (not each other)."""
    own = {path.stem for path in folder.glob("*.py")}
    modules = [m for path in sorted(folder.glob("*.py")) for m in client_imports(path)]
    return [m for m in dict.fromkeys(modules) if m.split(".")[0] not in own]


def run(ctx: Context) -> PartResult:
    result = PartResult("cold", "Listener cold start to its first message (fresh interpreter)")
    runs = ctx.count(15, 2)
    sqs = ctx.sqs_client()
    queue_url = sqs.create_queue(QueueName="bench-cold")["QueueUrl"]
    env = clean_environment(listener_environment(ctx.endpoint_url, queue_url))
    event = json.dumps(function_url_post(sample_body()))
    modules = listener_imports()
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch:
        folder = Path(scratch) / "listener"
        shutil.copytree(LISTENER_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
        scripts = {
            "listener": fill_script(_LISTENER, DIRECTORY=repr(str(folder)), EVENT=repr(event)),
            "boto3": fill_script(BOTO3_FLOOR, QUEUE_URL=repr(queue_url)),
            "interpreter": fill_script(INTERPRETER_FLOOR, MODULES=", ".join(modules)),
        }
        samples: dict[str, list[dict[str, float | str]]] = {name: [] for name in scripts}
        walls: dict[str, list[float]] = {name: [] for name in scripts}

        def sampler(name: str) -> Callable[[], float]:
            def sample() -> float:
                data, wall_ms = run_child(scripts[name], env=env, isolated=True, timeout=60)
                samples[name].append(data)
                walls[name].append(wall_ms)
                return float(data["first_ms"])

            return sample

        ctx.progress(f"cold start: {runs} interleaved runs each of listener / boto3 / interpreter")
        run_child(scripts["boto3"], env=env, isolated=True, timeout=60)  # warm the page cache
        listener, boto3, interpreter = interleaved(runs, [sampler(n) for n in scripts])

    sent = [str(s["message_id"]) for name in ("listener", "boto3") for s in samples[name]]
    found = _message_ids(sqs, queue_url)
    missing = [message_id for message_id in sent if message_id not in found]
    if missing or not all(sent):
        raise RuntimeError(f"cold-start samples whose message is not in the queue: {missing}")
    init = [float(s["init_ms"]) for s in samples["listener"]]
    peak = {name: median([float(s["peak_kb"]) / 1024 for s in samples[name]]) for name in scripts}
    result.rows = [
        Row(
            "listener cold start to first message",
            median(listener),
            "ms",
            floor=median(boto3),
            floor_label="import boto3; client('sqs'); send_message",
            target=f"ratio <= {COLD_VS_BOTO3}",
            met=check_at_most(ratio(median(listener), median(boto3)), COLD_VS_BOTO3),
        ),
        Row(
            "listener cold start to first message, vs the interpreter",
            median(listener),
            "ms",
            floor=median(interpreter),
            floor_label="python importing the listener's standard-library modules",
            target=f"ratio <= {COLD_VS_INTERPRETER}",
            met=check_at_most(ratio(median(listener), median(interpreter)), COLD_VS_INTERPRETER),
        ),
        Row("listener init (import + settings + client)", median(init), "ms"),
        Row(
            "listener process, start to exit",
            median(walls["listener"]),
            "ms",
            floor=median(walls["boto3"]),
            floor_label="the boto3 floor, whole process",
        ),
        Row(
            "listener peak memory",
            round(peak["listener"], 1),
            "MB",
            floor=round(peak["boto3"], 1),
            floor_label="the boto3 floor's",
        ),
    ]
    result.details = {
        "runs_each": runs,
        "first_message_ms": {
            "listener": summarize(listener),
            "boto3": summarize(boto3),
            "interpreter": summarize(interpreter),
        },
        "init_ms": summarize(init),
        "process_ms": {name: summarize(values) for name, values in walls.items()},
        "peak_mb": {name: round(value, 1) for name, value in peak.items()},
        "interpreter_floor_imports": modules,
    }
    result.notes = [
        "first message = perf_counter from before `import handler` until the handler answered "
        "its first POST (one SendMessage to the embedded moto), inside a fresh `python -I` "
        "child whose environment is built from scratch (LISTENER_CONFIG, AWS_ENDPOINT_URL, "
        "dummy credentials); the listener's files compiled on import, as on Lambda.",
    ]
    return result


def _message_ids(sqs: object, queue_url: str) -> set[str]:
    """Every message id in the queue (drained: the part's queue is its own)."""
    found: set[str] = set()
    while True:
        messages = sqs.receive_message(  # type: ignore[attr-defined]
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.add(message["MessageId"])
            sqs.delete_message(  # type: ignore[attr-defined]
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
