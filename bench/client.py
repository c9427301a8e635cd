"""Part "client": the listener's standard-library AWS client (functions/listener/aws.py) vs boto3.

- cold start to the first message sent: a fresh `python -I` that imports the client, builds it
  and sends one message to the embedded moto, against two floors run interleaved with it:
  boto3's (`import boto3; boto3.client("sqs"); send_message`) and the interpreter's (`python -c`
  importing only the standard-library modules aws.py imports, read from its source). aws.py is
  copied to a fresh directory and imported without writing bytecode, because a Lambda package
  has no __pycache__ and /var/task is read-only: every cold start compiles it. boto3 is imported
  from the venv's compiled site-packages, as the Lambda runtime ships it. Each child reports its
  peak RSS and the id of the message it sent; every id is then found in the queue, so a sample
  that sent nothing cannot pass.
- warm CPU per send: in this process, process_time() around batches of sends (the same body and
  the listener's seven attributes), the client's and a bare boto3 send_message interleaved;
  against the embedded moto (which closes every connection, so both reconnect per call) and
  against a small kept-alive SQS double in a child process (as SQS keeps connections alive).
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.config import Config

from bench.common import (
    LISTENER_DIR,
    PartResult,
    Row,
    aws_environment,
    check_at_most,
    clean_environment,
    interleaved,
    median,
    ratio,
    run_child,
    summarize,
)
from bench.context import Context
from bench.events import function_url_post, listener_message_attributes, sample_body
from bench.warm import drain

COLD_VS_BOTO3 = 0.35
"""Cold start to the first message: about a quarter of boto3's (docs/design.md, 'The listener')
...and within half again of what the interpreter alone needs for the same imports."""
COLD_VS_INTERPRETER = 1.5
WARM_CPU_VS_BOTO3 = 0.5
CLIENT_SOURCE = LISTENER_DIR / "aws.py"
TIMEOUTS = {"connect_timeout": 1.0, "read_timeout": 2.0}
"""Generous: a loaded machine must not turn a slow moto into a failed sample."""

# Each child prints one JSON line: its window from first import to message sent (ms), its peak
# RSS (KB) and the id of the message it sent. Placeholders are replaced with repr()'d values.
# Peak RSS is VmHWM: ru_maxrss would report the parent's, as Linux keeps it across exec.
REPORT = """
import json
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"first_ms": (t1 - t0) * 1000, "peak_kb": peak_kb, "message_id": message_id}))
"""
CLIENT_SCRIPT = (
    """
import sys, time
t0 = time.perf_counter()
sys.dont_write_bytecode = True
sys.path.insert(0, DIRECTORY)
import aws
sqs = aws.SQS(connect_timeout=1.0, read_timeout=2.0)
message_id = sqs.send_message(QUEUE_URL, "cold").message_id
t1 = time.perf_counter()
"""
    + REPORT
)
BOTO3_FLOOR = (
    """
import time
t0 = time.perf_counter()
import boto3
message_id = boto3.client("sqs").send_message(QueueUrl=QUEUE_URL, MessageBody="cold")["MessageId"]
t1 = time.perf_counter()
"""
    + REPORT
)
INTERPRETER_FLOOR = (
    """
import time
t0 = time.perf_counter()
import MODULES
t1 = time.perf_counter()
message_id = ""
"""
    + REPORT
)


def fill_script(template: str, **values: str) -> str:
    for name, value in values.items():
        template = template.replace(name, value)
    return template


# SendMessage over a kept-alive HTTP/1.1 connection with SQS's MD5s: the warm path as it is on
# AWS, without moto's per-request cost and connection close. Prints its port, serves until stdin
# closes.
_KEEPALIVE_SQS = """
import hashlib, json, socket, struct, sys, threading, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def md5_attributes(attributes):
    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        raw = value["StringValue"].encode()
        for part in (name.encode(), value["DataType"].encode()):
            digest.update(struct.pack("!I", len(part)) + part)
        digest.update(b"\\x01" + struct.pack("!I", len(raw)) + raw)
    return digest.hexdigest()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = {"MessageId": str(uuid.uuid4()),
                  "MD5OfMessageBody": hashlib.md5(request["MessageBody"].encode()).hexdigest()}
        if request.get("MessageAttributes"):
            answer["MD5OfMessageAttributes"] = md5_attributes(request["MessageAttributes"])
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(server.server_port, flush=True)
sys.stdin.read()
"""


def client_imports(source: Path = CLIENT_SOURCE) -> list[str]:
    """The modules aws.py imports at run time (top level, outside `if TYPE_CHECKING:`)."""
    modules: list[str] = []
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            modules.append(node.module)
    return list(dict.fromkeys(modules))


def _target_row(metric: str, figures: tuple[float, float], floor_label: str, limit: float) -> Row:
    """A figure in ms against its floor, with the target ratio <= limit."""
    value, floor = figures
    return Row(
        metric,
        value,
        "ms",
        floor=floor,
        floor_label=floor_label,
        target=f"ratio <= {limit:.2f}",
        met=check_at_most(ratio(value, floor), limit),
    )


def _cold(ctx: Context, queue_url: str, runs: int) -> tuple[list[Row], dict[str, Any]]:
    env = clean_environment(aws_environment(ctx.endpoint_url))
    modules = client_imports()
    with tempfile.TemporaryDirectory(prefix="bench-client-") as directory:
        shutil.copy(CLIENT_SOURCE, Path(directory) / "aws.py")  # no __pycache__ beside it
        scripts = {
            "client": fill_script(
                CLIENT_SCRIPT, DIRECTORY=repr(directory), QUEUE_URL=repr(queue_url)
            ),
            "boto3": fill_script(BOTO3_FLOOR, QUEUE_URL=repr(queue_url)),
            "interpreter": fill_script(INTERPRETER_FLOOR, MODULES=", ".join(modules)),
        }
        reports: dict[str, list[dict[str, Any]]] = {name: [] for name in scripts}

        def sampler(name: str) -> Callable[[], float]:
            def sample() -> float:
                data, wall_ms = run_child(scripts[name], env=env, isolated=True, timeout=60)
                reports[name].append(data)
                return wall_ms

            return sample

        if not ctx.quick:  # page cache warm, so the first measured run is not an outlier
            run_child(scripts["boto3"], env=env, isolated=True)
        ctx.progress(f"client cold start: {runs} interleaved runs of client / boto3 / interpreter")
        walls = dict(
            zip(scripts, interleaved(runs, [sampler(name) for name in scripts]), strict=True)
        )
    sent_ids = {report["message_id"] for name in ("client", "boto3") for report in reports[name]}
    found = _received_ids(ctx, queue_url, sent_ids)
    if found != sent_ids:
        raise RuntimeError(f"{len(sent_ids - found)} cold-start message(s) not found in the queue")
    first = {name: [float(r["first_ms"]) for r in reports[name]] for name in scripts}
    peak_mb = {name: [r["peak_kb"] / 1024 for r in reports[name]] for name in scripts}
    cold = median(walls["client"])
    rows = [
        _target_row(
            "first message sent, fresh interpreter (process)",
            (cold, median(walls["boto3"])),
            "import boto3; client('sqs'); send_message",
            COLD_VS_BOTO3,
        ),
        _target_row(
            "first message sent vs bare interpreter (process)",
            (cold, median(walls["interpreter"])),
            "python -I importing aws.py's stdlib modules",
            COLD_VS_INTERPRETER,
        ),
        Row(
            "import + client + first send (in the child)",
            median(first["client"]),
            "ms",
            floor=median(first["boto3"]),
            floor_label="the same window for boto3",
        ),
        Row(
            "peak RSS after the first send",
            round(median(peak_mb["client"]), 1),
            "MB",
            floor=round(median(peak_mb["boto3"]), 1),
            floor_label="boto3's",
        ),
        Row(
            "peak RSS, bare interpreter + those imports",
            round(median(peak_mb["interpreter"]), 1),
            "MB",
        ),
    ]
    details = {
        "runs_each": runs,
        "process_ms": {name: summarize(samples) for name, samples in walls.items()},
        "first_send_ms": {name: summarize(first[name]) for name in ("client", "boto3")},
        "peak_rss_mb": {name: summarize(samples, 1) for name, samples in peak_mb.items()},
        "interpreter_floor_imports": modules,
        "messages_found_in_queue": len(found),
    }
    return rows, details


def _received_ids(ctx: Context, queue_url: str, wanted: set[str]) -> set[str]:
    """The wanted message ids found in the queue, received and deleted until none are left."""
    client = ctx.sqs_client()
    found: set[str] = set()
    try:
        deadline = time.monotonic() + 10
        while found != wanted and time.monotonic() < deadline:
            messages = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            batch = messages.get("Messages", [])
            if not batch:
                break
            found |= {m["MessageId"] for m in batch} & wanted
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ]
            client.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    finally:
        client.close()
    return found


class KeepAliveSqs:
    """The kept-alive SQS double in a child process (so its CPU is not this process's)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-c", _KEEPALIVE_SQS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self._process.stdout.readline())}"

    def stop(self) -> None:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.close()
        self._process.wait(10)
        self._process.stdout.close()


def _load_client() -> Any:
    """functions/listener/aws.py under a name of its own (the listener imports it as `aws`)."""
    spec = importlib.util.spec_from_file_location("bench_listener_aws", CLIENT_SOURCE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _warm_cpu(
    ctx: Context, endpoint: str, queue_url: str | None, batches: int, batch: int
) -> dict[str, Any]:
    """CPU ms per send of each client, batches interleaved; queue_url None: the keep-alive double
    (which takes any URL and keeps no messages)."""
    aws = _load_client()
    url = queue_url or f"{endpoint}/123456789012/bench-client"
    env = aws_environment(endpoint)
    ours = aws.SQS(environ=env, **TIMEOUTS)
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=2)
    boto = ctx.sqs_client(config=config, endpoint_url=endpoint)
    body = sample_body()
    boto_attributes = listener_message_attributes(function_url_post(body))
    attributes = {name: value["StringValue"] for name, value in boto_attributes.items()}
    sent = {"client": 0, "boto3": 0}

    def client_send() -> None:
        ours.send_message(url, body, attributes)
        sent["client"] += 1

    def boto3_send() -> None:
        boto.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=boto_attributes)
        sent["boto3"] += 1

    def cpu_per_send(send: Callable[[], None]) -> Callable[[], float]:
        def sample() -> float:
            if queue_url is not None:
                drain(boto, queue_url)  # outside the timed window: moto slows as a queue grows
            started = time.process_time()
            for _ in range(batch):
                send()
            return (time.process_time() - started) * 1000 / batch

        return sample

    for _ in range(max(3, batch)):  # warm: connections, signing key, lazy imports
        client_send()
        boto3_send()
    before = dict(sent)
    client_cpu, boto3_cpu = interleaved(
        batches, [cpu_per_send(client_send), cpu_per_send(boto3_send)]
    )
    if queue_url is not None:
        drain(boto, queue_url)
    ours.close()
    boto.close()
    return {
        "client_ms": client_cpu,
        "boto3_ms": boto3_cpu,
        "sends_each": sent["client"] - before["client"],
        "connections_opened": ours.connection(ours.endpoint(url)).connects,
    }


def run(ctx: Context) -> PartResult:
    result = PartResult("client", "Standard-library AWS client vs boto3 (cold and warm)")
    runs = ctx.count(15, 2)
    batches, batch = ctx.count(30, 3), ctx.count(20, 4)
    bootstrap = ctx.sqs_client()
    cold_queue = bootstrap.create_queue(QueueName="bench-client-cold")["QueueUrl"]
    warm_queue = bootstrap.create_queue(QueueName="bench-client-warm")["QueueUrl"]
    bootstrap.close()
    cold_rows, cold = _cold(ctx, cold_queue, runs)

    ctx.progress(f"client warm CPU: {batches} interleaved batches of {batch} sends, moto")
    moto = _warm_cpu(ctx, ctx.endpoint_url, warm_queue, batches, batch)
    ctx.progress(f"client warm CPU: {batches} interleaved batches of {batch} sends, kept alive")
    double = KeepAliveSqs()
    try:
        kept = _warm_cpu(ctx, double.url, None, batches, batch)
    finally:
        double.stop()
    warm_rows = [
        _target_row(
            f"warm CPU per send_message, {label}",
            (median(figures["client_ms"]), median(figures["boto3_ms"])),
            "boto3 send_message, same body and attributes",
            WARM_CPU_VS_BOTO3,
        )
        for label, figures in (("embedded moto", moto), ("kept-alive SQS double", kept))
    ]
    result.rows = cold_rows + warm_rows
    result.details = {
        "cold": cold,
        "warm_cpu_ms": {
            label: {
                "client": summarize(figures["client_ms"]),
                "boto3": summarize(figures["boto3_ms"]),
                "sends_each": figures["sends_each"],
                "client_connections_opened": figures["connections_opened"],
            }
            for label, figures in (("moto", moto), ("keepalive", kept))
        },
    }
    result.notes = [
        "Cold: whole-process wall time as the parent sees it (spawn to exit), medians; the client "
        "is compiled from source on every run (no bytecode cache), boto3 comes compiled.",
        "Warm: process_time of this process only (moto and the double run in child processes).",
        "moto answers every request with `Connection: close`, so against it both clients "
        "reconnect on every send; the kept-alive double shows the warm path as on AWS.",
    ]
    return result
