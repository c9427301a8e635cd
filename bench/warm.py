"""Part 2: a warm listener answering a POST, against a bare SendMessage of the same body.

All three variants talk to the same embedded moto queue, in this process, interleaved:

- listener: the real handler (module imported once, as in a warm Lambda container) on a real
  payload-2.0 event; its per-request JSON log line goes to /dev/null, as Lambda ships stdout;
- floor: `sqs.send_message(QueueUrl, MessageBody=<same body>)` on a client configured exactly
  with the listener's timeouts and no retries, already warm;
- floor + attributes: the same call with the seven message attributes the listener attaches,
  which splits the gap into "SQS work for the metadata" and "the handler's own Python";
- per-request client: what the original demo did, `boto3.client("sqs")` inside the handler.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
from botocore.config import Config

from bench.common import (
    LISTENER_DIR,
    PartResult,
    Row,
    check_at_most,
    interleaved,
    listener_environment,
    patched_environ,
    percentile,
    ratio,
    summarize,
)
from bench.context import Context
from bench.events import LambdaContext, function_url_post, listener_message_attributes, sample_body

TARGET_RATIO = 1.10
MODULE_NAME = "bench_listener_handler"
PURGE_EVERY = 25


def load_listener(env: dict[str, str]) -> ModuleType:
    """Import functions/listener/handler.py under its own module name with `env` set."""
    sys.modules.pop(MODULE_NAME, None)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, LISTENER_DIR / "handler.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(LISTENER_DIR))  # its sibling modules (senders), as Lambda finds them
    try:
        with patched_environ(env):
            spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(LISTENER_DIR))
    sys.modules[MODULE_NAME] = module
    return module


def naive_handler(queue_url: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The original demo's shape: a new boto3 client on every request, then SendMessage."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        sqs = boto3.client("sqs")
        sqs.send_message(QueueUrl=queue_url, MessageBody=event["body"])
        return {"statusCode": 200, "body": ""}

    return handler


def drain(client: Any, queue_url: str) -> int:
    """Receive and delete until the queue is empty (PurgeQueue is allowed once a minute)."""
    removed = 0
    while True:
        messages = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return removed
        client.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        removed += len(messages)


def _timed(call: Callable[[], object]) -> Callable[[], float]:
    def sample() -> float:
        started = time.perf_counter()
        call()
        return (time.perf_counter() - started) * 1000

    return sample


def run(ctx: Context) -> PartResult:
    result = PartResult("warm", "Listener warm latency (in-process, embedded moto)")
    count = ctx.count(600, 20)
    naive_count = ctx.count(40, 3)
    warmup = ctx.count(30, 3)
    body = sample_body()

    bootstrap = ctx.sqs_client()
    queue_url = bootstrap.create_queue(QueueName="bench-warm")["QueueUrl"]
    env = listener_environment(ctx.endpoint_url, queue_url)
    listener = load_listener(env)
    # The floor: one bare boto3 SendMessage with the listener's timeouts and no retries.
    settings = listener.SETTINGS
    floor_client = ctx.sqs_client(
        config=Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
    )
    naive = naive_handler(queue_url)
    context = LambdaContext()

    events = [function_url_post(body) for _ in range(count + warmup)]
    cursor = iter(events)

    def call_listener() -> None:
        response = listener.handler(next(cursor), context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"listener answered {response}")

    def call_floor() -> None:
        floor_client.send_message(QueueUrl=queue_url, MessageBody=body)

    attributes = listener_message_attributes(events[0])

    def call_floor_attributes() -> None:
        floor_client.send_message(
            QueueUrl=queue_url, MessageBody=body, MessageAttributes=attributes
        )

    def call_naive() -> None:
        naive(events[0], context)

    ctx.progress(
        f"warm latency: {count} interleaved requests each, {naive_count} per-request-client"
    )
    with (
        patched_environ(env),  # the naive handler's boto3.client("sqs") reads the environment
        open(os.devnull, "w") as devnull,
        contextlib.redirect_stdout(devnull),
    ):
        for _ in range(warmup):
            call_listener()
            call_floor()
        call_naive()
        listener_ms: list[float] = []
        floor_ms: list[float] = []
        attributes_ms: list[float] = []
        naive_ms: list[float] = []
        done = 0
        while done < count:
            # moto's SendMessage costs O(messages in the queue) (it evaluates every queue
            # attribute, approximate counts included, on each send): keep the queue short, as
            # a drained production queue is, so depth does not drift the figures.
            drain(bootstrap, queue_url)
            rounds = min(PURGE_EVERY, count - done)
            a, b, c = interleaved(
                rounds,
                [_timed(call_listener), _timed(call_floor), _timed(call_floor_attributes)],
            )
            listener_ms += a
            floor_ms += b
            attributes_ms += c
            if len(naive_ms) < naive_count:
                naive_ms += interleaved(1, [_timed(call_naive)])[0]
            done += rounds
        while len(naive_ms) < naive_count:
            naive_ms += interleaved(1, [_timed(call_naive)])[0]
        drain(bootstrap, queue_url)

    p50_ratio = ratio(percentile(listener_ms, 50), percentile(floor_ms, 50))
    speedup = ratio(percentile(naive_ms, 50), percentile(listener_ms, 50))
    result.rows = [
        Row(
            "POST -> 200 (handler) p50",
            percentile(listener_ms, 50),
            "ms",
            floor=percentile(floor_ms, 50),
            floor_label="bare send_message, same body/config",
            target=f"ratio <= {TARGET_RATIO:.2f}",
            met=check_at_most(p50_ratio, TARGET_RATIO),
        ),
        Row(
            "send_message + listener's 7 attributes p50",
            percentile(attributes_ms, 50),
            "ms",
            floor=percentile(floor_ms, 50),
            floor_label="bare send_message p50",
        ),
        Row(
            "POST -> 200 (handler) p99",
            percentile(listener_ms, 99),
            "ms",
            floor=percentile(floor_ms, 99),
            floor_label="bare send_message p99",
        ),
        Row(
            "client per request (original demo) p50",
            percentile(naive_ms, 50),
            "ms",
            floor=percentile(listener_ms, 50),
            floor_label=f"listener p50 (speed-up x{speedup:.1f})",
        ),
    ]
    result.details = {
        "requests_each": count,
        "latency_ms": {
            "listener": summarize(listener_ms),
            "floor_send_message": summarize(floor_ms),
            "send_message_with_attributes": summarize(attributes_ms),
            "client_per_request": summarize(naive_ms),
        },
        "p50_ratio": round(p50_ratio, 3),
        "p99_ratio": round(ratio(percentile(listener_ms, 99), percentile(floor_ms, 99)), 3),
        "speedup_vs_client_per_request": round(speedup, 2),
        "body_bytes": len(body.encode("utf-8")),
    }
    result.notes = [
        "The listener also sends 7 message attributes (path, content type, receive time, "
        "request id, encoding, user agent, source IP) that the bare floor does not; the "
        "'send_message + attributes' row prices them.",
        f"The queue is drained every {PURGE_EVERY} rounds, outside the timed calls: moto's "
        "SendMessage evaluates every queue attribute (approximate counts included) on each "
        "send, so its cost grows with the queue's depth.",
    ]
    floor_client.close()
    bootstrap.close()
    return result
