"""Part 4: the local cloud (`python -m local up`) serving the repository's dev stack.

- start-up: `LocalCloud.start()` in a fresh interpreter (imports timed apart), and the
  `python -m local up --port 0` process from spawn to its "Ready" line and to the first 200 from
  listener_url (that one includes the listener's cold start). Floor: the embedded moto server's
  own start, which every start-up waits for.
- end-to-end latency: one POST at a time; latency = time stamp of the processor's "message
  processed" log line for the message id the listener returned, minus the wall clock just before
  the POST was written. Floor: the same moto server with no Lambda in between, SendMessage then a
  long-polling ReceiveMessage that is already waiting.
- sustained throughput: N POSTs from C keep-alive clients, counted as done when the message id
  shows in the processor's log; against the raw ceiling of the same moto server doing the same
  SQS work with no Lambda (C senders, receivers as many as the mapping's pollers, each
  ReceiveMessage(10) + DeleteMessageBatch).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    PartResult,
    Row,
    check_at_least,
    interleaved,
    median,
    percentile,
    ratio,
    run_child,
    summarize,
)
from bench.context import Context
from bench.events import numbered_body
from bench.http_load import Client, post_all
from bench.served import LogTail, Processed, ServedStack, wait_for_messages

TARGET_THROUGHPUT_RATIO = 0.7
WAIT_SECONDS = 30.0

_LOCAL_CLOUD_CHILD = f"""
import io, json, sys, tempfile, time
t0 = time.perf_counter()
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from local.cloud import LocalCloud
t1 = time.perf_counter()
with tempfile.TemporaryDirectory(prefix="bench-local-cloud-") as state:
    cloud = LocalCloud(
        Path({str(ROOT)!r}), stack="dev", port=0, stream=io.StringIO(), fresh=True,
        state_root=Path(state),
    )
    try:
        outputs = cloud.start()
        t2 = time.perf_counter()
        assert outputs["listener_url"].startswith("http://127.0.0.1:")
    finally:
        cloud.stop()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "start_ms": (t2 - t1) * 1000}}))
"""

_MOTO_CHILD = f"""
import json, sys, time
sys.path.insert(0, {str(ROOT)!r})
from local.moto_server import EmbeddedAws
t0 = time.perf_counter()
aws = EmbeddedAws()
aws.endpoint_url
t1 = time.perf_counter()
aws.stop()
print(json.dumps({{"start_ms": (t1 - t0) * 1000}}))
"""


def served_startup(project_dir: Any = ROOT, stack: str = "dev") -> dict[str, float]:
    """Spawn `python -m local up`; seconds to its Ready line and to the first 200."""
    served = ServedStack(project_dir, stack)
    started = time.perf_counter()
    try:
        served.start()
        ready = time.perf_counter() - started
        client = Client(served.outputs["listener_url"], timeout=30)
        reply = client.post("/append_queue", numbered_body(0).encode())
        client.close()
        if reply.status != 200:
            raise RuntimeError(f"first POST answered {reply.status}: {served.last_lines()}")
        answered = time.perf_counter() - started
    finally:
        served.stop()
    return {
        "ready_s": ready,
        "first_200_s": answered,
        "reported_ready_s": served.reported_ready_seconds,
    }


def end_to_end(served: ServedStack, count: int) -> tuple[list[float], list[float]]:
    """(POST -> processed ms, POST -> 200 ms) for `count` requests sent one at a time."""
    tail = LogTail(served.log_path("processor_function_name"))
    seen = Processed.empty()
    client = Client(served.outputs["listener_url"], timeout=30)
    e2e: list[float] = []
    http: list[float] = []
    try:
        for index in range(count):
            # Arrive at a random point of the poller's cycle, as real senders do; a fixed rhythm
            # would lock onto its 50 ms short-poll interval.
            time.sleep(random.uniform(0, 0.1))
            reply = client.post("/append_queue", numbered_body(index).encode(), index)
            if reply.status != 200 or reply.message_id is None:
                raise RuntimeError(f"POST answered {reply.status} {reply.error}")
            deadline = time.monotonic() + WAIT_SECONDS
            if not wait_for_messages(
                tail, seen, {reply.message_id}, deadline=deadline, poll_seconds=0.001
            ):
                raise RuntimeError(f"message {reply.message_id} was not processed in time")
            e2e.append((seen.processed[reply.message_id][0] - reply.sent_at) * 1000)
            http.append(reply.latency_s * 1000)
    finally:
        client.close()
    return e2e, http


def sqs_hop_floor(served: ServedStack, count: int) -> list[float]:
    """ms from SendMessage to a waiting long-poll ReceiveMessage returning it (same moto)."""
    sender = served.client("sqs")
    receiver = served.client("sqs")
    queue_url = sender.create_queue(QueueName=f"bench-hop-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    received: dict[str, float] = {}
    arrived = threading.Condition()
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            messages = receiver.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            now = time.time()
            with arrived:
                for message in messages:
                    received[message["MessageId"]] = now
                arrived.notify_all()
            for message in messages:
                receiver.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    thread = threading.Thread(target=receive, name="bench-hop-receiver", daemon=True)
    thread.start()
    latencies: list[float] = []
    try:
        for index in range(count + 2):
            time.sleep(0.01)  # let the receiver re-enter its long poll
            sent_at = time.time()
            message_id = sender.send_message(QueueUrl=queue_url, MessageBody=numbered_body(index))[
                "MessageId"
            ]
            with arrived:
                if not arrived.wait_for(
                    lambda wanted=message_id: wanted in received,  # type: ignore[misc]
                    timeout=WAIT_SECONDS,
                ):
                    raise RuntimeError("the hop floor's receiver did not get its message")
            if index >= 2:  # the first two warm the connections
                latencies.append((received[message_id] - sent_at) * 1000)
    finally:
        stop.set()
        thread.join(3)
        sender.delete_queue(QueueUrl=queue_url)
        sender.close()
        receiver.close()
    return latencies


def pipeline(served: ServedStack, count: int, concurrency: int) -> dict[str, Any]:
    """N POSTs at C clients; accepted and processed rates, everything counted by message id."""
    tail = LogTail(served.log_path("processor_function_name"))
    seen = Processed.empty()
    bodies = [numbered_body(i).encode() for i in range(count)]
    started = time.time()
    deadline = time.monotonic() + 60
    replies = post_all(
        served.outputs["listener_url"], bodies, concurrency=concurrency, deadline=deadline
    )
    accepted_at = max(r.sent_at + r.latency_s for r in replies) if replies else started
    ok = {r.message_id for r in replies if r.status == 200 and r.message_id}
    complete = wait_for_messages(tail, seen, ok, deadline=time.monotonic() + WAIT_SECONDS)
    done_times = [seen.processed[m][0] for m in ok if m in seen.processed]
    processed_at = max(done_times) if done_times else time.time()
    return {
        "requests": count,
        "concurrency": concurrency,
        "ok": len(ok),
        "statuses": _count_statuses(replies),
        "processed": len(done_times),
        "all_processed": complete,
        "accepted_per_s": len(ok) / max(accepted_at - started, 1e-9),
        "processed_per_s": len(done_times) / max(processed_at - started, 1e-9),
        "post_latency_ms": summarize([r.latency_s * 1000 for r in replies]),
    }


def _count_statuses(replies: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reply in replies:
        counts[str(reply.status)] = counts.get(str(reply.status), 0) + 1
    return counts


def sqs_ceiling(
    served: ServedStack,
    count: int,
    concurrency: int,
    receivers: int = 0,
    receiver_role: str = "poll",
) -> dict[str, Any]:
    """The pipeline's SQS work with no Lambda, on the same moto server, from `concurrency`
    processes (bench/sqs_worker.py). receivers=0: each process loops send + receive + delete;
    else `concurrency` senders and `receivers` receive+delete processes. Messages per second
    from go to the last delete."""
    admin = served.client("sqs")
    env = {**os.environ, **served.aws_environment}
    queue_url = admin.create_queue(QueueName=f"bench-ceiling-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp:
        stop_file = str(Path(tmp, "all-sent"))
        shares = [
            count // concurrency + (1 if i < count % concurrency else 0) for i in range(concurrency)
        ]
        offsets = [sum(shares[:i]) for i in range(concurrency)]
        role = "send" if receivers else "loop"
        sending = [
            _worker(env, role, queue_url, str(share), str(offset))
            for share, offset in zip(shares, offsets, strict=True)
        ]
        receiving = [_worker(env, receiver_role, queue_url, stop_file) for _ in range(receivers)]
        workers = sending + receiving
        try:
            for worker in workers:
                _expect_ready(worker)
            started = time.time()
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            sent = [_result(worker) for worker in sending]
            Path(stop_file).touch()
            received = [_result(worker) for worker in receiving] if receivers else sent
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                worker.wait()
                for pipe in (worker.stdin, worker.stdout):
                    if pipe is not None:
                        pipe.close()
    admin.delete_queue(QueueUrl=queue_url)
    admin.close()
    deleted = int(sum(r["done"] for r in received))
    last = max(r["last"] for r in received)
    return {
        "messages": count,
        "arrangement": f"{concurrency} senders + {receivers} {receiver_role}"
        if receivers
        else f"{concurrency} send+receive+delete loops",
        "deleted": deleted,
        "per_s": deleted / max(last - started, 1e-9),
    }


def ceiling_arrangements(concurrency: int) -> list[tuple[int, int, str]]:
    """(senders, receivers, receiver role) tried for the raw ceiling; the best one counts.

    On two cores, C busy sender processes and moto contend for the CPU, so the raw rate at C
    can be lower than at C/2: taking the best keeps the ceiling an upper bound.
    """
    return [
        (concurrency, 1, "poll"),
        (max(1, concurrency // 2), 1, "poll"),
        (concurrency, 0, "loop"),
    ]


def _worker(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """A ceiling process; the stack's endpoint and keys travel in its environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.sqs_worker", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _expect_ready(worker: subprocess.Popen[str]) -> None:
    assert worker.stdout is not None
    line = worker.stdout.readline()
    if line.strip() != "READY":
        raise RuntimeError(f"SQS ceiling worker did not start: {line!r}")


def _result(worker: subprocess.Popen[str]) -> dict[str, float]:
    assert worker.stdout is not None
    line = worker.stdout.readline()
    worker.wait(60)
    if not line:
        raise RuntimeError("SQS ceiling worker ended without a result")
    result: dict[str, float] = json.loads(line)
    return result


def run(ctx: Context) -> PartResult:
    result = PartResult("cloud", "Local cloud (python -m local up, dev stack)")
    startups = ctx.count(3, 1)
    latency_count = ctx.count(40, 5)
    throughput_count = ctx.count(400, 30)
    # Under the dev stack's local concurrency limit (10), so nothing is throttled; --quick: one
    # client, so one sender process for the ceiling (each is an interpreter with boto3).
    concurrency = ctx.count(8, 1)

    ctx.progress(f"local cloud: {startups} start-ups each (LocalCloud, local up, moto alone)")
    cloud_starts: list[dict[str, float]] = []
    served_starts: list[dict[str, float]] = []
    moto_starts: list[float] = []

    def one_cloud() -> float:
        cloud_starts.append(run_child(_LOCAL_CLOUD_CHILD)[0])
        return 0.0

    def one_served() -> float:
        served_starts.append(served_startup())
        return 0.0

    def one_moto() -> float:
        moto_starts.append(run_child(_MOTO_CHILD)[0]["start_ms"])
        return 0.0

    # A quick run takes the `local up` start-up from the stack it serves anyway (one fewer
    # start of the whole local cloud, the costliest step of the smoke test).
    interleaved(startups, [one_cloud, one_moto] if ctx.quick else [one_cloud, one_served, one_moto])

    served = ServedStack(ROOT, "dev")
    spawned = time.perf_counter()
    served.start()
    try:
        if ctx.quick:
            ready = time.perf_counter() - spawned
            client = Client(served.outputs["listener_url"], timeout=30)
            reply = client.post("/append_queue", numbered_body(0).encode())
            client.close()
            if reply.status != 200:
                raise RuntimeError(f"first POST answered {reply.status}: {served.last_lines()}")
            served_starts.append(
                {
                    "ready_s": ready,
                    "first_200_s": time.perf_counter() - spawned,
                    "reported_ready_s": served.reported_ready_seconds,
                }
            )
        ctx.progress(f"local cloud: end-to-end latency, {latency_count} requests one at a time")
        end_to_end(served, 3)  # cold starts of both functions, then warm
        e2e_ms, post_ms = end_to_end(served, latency_count)
        hop_ms = sqs_hop_floor(served, latency_count)
        ctx.progress(
            f"local cloud: throughput, {throughput_count} POSTs at {concurrency} clients "
            "vs the raw SQS ceiling"
        )
        warmup = pipeline(served, concurrency * 2, concurrency)  # a worker per client
        flows = []
        ceilings = []
        arrangements = ceiling_arrangements(concurrency)
        for arrangement in arrangements[:1] if ctx.quick else arrangements:
            flows.append(pipeline(served, throughput_count, concurrency))
            ceilings.append(sqs_ceiling(served, throughput_count, *arrangement))
    finally:
        served.stop()

    # Best demonstrated rate on each side: the raw arrangements are the ceiling's candidates,
    # and the pipeline gets as many tries, interleaved with them.
    flow = max(flows, key=lambda f: float(f["processed_per_s"]))
    ceiling = max(ceilings, key=lambda c: float(c["per_s"]))
    throughput_ratio = ratio(flow["processed_per_s"], ceiling["per_s"])
    start_ms = median([s["start_ms"] for s in cloud_starts])
    result.rows = [
        Row(
            "LocalCloud.start() (imports apart)",
            start_ms,
            "ms",
            floor=median(moto_starts),
            floor_label="embedded moto server start alone",
        ),
        Row(
            "`local up` spawn -> Ready line",
            median([s["ready_s"] * 1000 for s in served_starts]),
            "ms",
        ),
        Row(
            "`local up` spawn -> first 200",
            median([s["first_200_s"] * 1000 for s in served_starts]),
            "ms",
        ),
        Row(
            "POST -> processor ran, p50",
            percentile(e2e_ms, 50),
            "ms",
            floor=percentile(hop_ms, 50),
            floor_label="SendMessage -> waiting ReceiveMessage",
        ),
        Row(
            "POST -> processor ran, p95",
            percentile(e2e_ms, 95),
            "ms",
            floor=percentile(hop_ms, 95),
            floor_label="same floor, p95",
        ),
        Row("POST -> 200 over HTTP, p50", percentile(post_ms, 50), "ms"),
        Row(
            f"pipeline throughput (C={concurrency}, accepted+processed)",
            flow["processed_per_s"],
            "msg/s",
            floor=ceiling["per_s"],
            floor_label=f"raw SQS ceiling, best: {ceiling['arrangement']}",
            target=f"ratio >= {TARGET_THROUGHPUT_RATIO}",
            met=check_at_least(throughput_ratio, TARGET_THROUGHPUT_RATIO)
            and all(f["all_processed"] for f in flows),
        ),
    ]
    result.details = {
        "startup": {
            "local_cloud_child_ms": {
                "import": summarize([s["import_ms"] for s in cloud_starts]),
                "start": summarize([s["start_ms"] for s in cloud_starts]),
            },
            "local_up_ms": {
                "ready": summarize([s["ready_s"] * 1000 for s in served_starts]),
                "first_200": summarize([s["first_200_s"] * 1000 for s in served_starts]),
                "self_reported_ready": summarize(
                    [s["reported_ready_s"] * 1000 for s in served_starts]
                ),
            },
            "moto_start_ms": summarize(moto_starts),
        },
        "end_to_end_ms": summarize(e2e_ms),
        "post_to_200_ms": summarize(post_ms),
        "sqs_hop_floor_ms": summarize(hop_ms),
        "throughput": {
            "warmup": warmup,
            "pipeline": flow,
            "pipeline_runs": flows,
            "ceiling": ceiling,
            "ceiling_runs": ceilings,
            "ratio": round(throughput_ratio, 3),
        },
    }
    result.notes = [
        "End-to-end time stamps: the processor's log line is stamped (ms, truncated) by the "
        "local cloud when the line arrives from the worker, on the same clock as the client's "
        "time.time() before the POST; error <= 1 ms plus pipe transfer.",
        "The poller short-polls every 50 ms while traffic is recent and long-polls when idle, "
        "so one-at-a-time latency includes on average half a poll interval.",
    ]
    return result
