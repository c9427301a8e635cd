"""`python -m bench.load`: prove that nothing is lost, under load, through the local cloud.

Serves the fixture stack (bench/fixture, stack `load`: the repository's program with a processor
that fails on poison) with `python -m local up`, then:

1. cold-start wave: one POST per client at once (each client's first request meets a cold
   listener); reported apart so the burst's latencies are those of warm listeners;
2. burst: N valid POSTs from C keep-alive clients. Zero 5xx (and zero connection errors), and
   every 200 matched by a "message processed" line in the processor's log (found by the SQS
   message id the listener returned);
3. drain: N messages with `poison %` poison put straight on the queue (SendMessageBatch, with
   the listener's attributes) so the processor drains a backlog. Every poison message fails
   exactly maxReceiveCount times and ends in the dead-letter queue, the DLQ holds exactly the
   poison messages, every other message is processed, and the queue ends empty.

Delivery is at least once, and so are the checks: every accepted or enqueued message is
processed at least once; a message processed twice must have been redelivered in between (its
second "message processed" line logs a higher SQS receive count); a processed message nobody was
answered 200 for must be explained by a listener attempt that ended without a 200.

Everything is bounded: N and C are given, each phase has a deadline, and a watchdog stops the
stack and exits with status 3 if the whole run overruns --timeout. Figures go to
bench/load-results.json and a table; the exit status is 0 only when every check passed.

Poison retries: `--retry visibility` (default) lets each failed receive wait out the visibility
timeout (6 x the 1 s processor timeout), about 30 s for maxReceiveCount 5; `--retry immediate`
marks poison bodies so the fixture processor sets their visibility to 0 before failing, which
takes the same path in well under a second (what the CI-sized run uses).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ROOT, summarize
from bench.events import listener_message_attributes, numbered_body
from bench.http_load import Reply, post_all
from bench.machine import describe, utc_now
from bench.poison import FIXTURE_DIR
from bench.report import write_document
from bench.served import LogTail, Processed, ServedStack, wait_for_messages

STACK = "load"
RESULTS = ROOT / "bench" / "load-results.json"
EXIT_TIMEOUT = 3
POISON_ERROR = "process.PoisonMessageError"
"""How the processor's "record failed" line names the fixture's exception."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class LoadRun:
    """Everything one run measured and checked."""

    requests: int
    concurrency: int
    poison_percent: float
    retry: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(ok), detail))
        return bool(ok)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def stack_settings(project_dir: Path = FIXTURE_DIR, stack: str = STACK) -> dict[str, int]:
    """The fixture stack's settings that bound the run, read by the program's own config."""
    from infra.config import parse_stack_values
    from local.stackfile import load_stack_config

    values = load_stack_config(project_dir, stack)
    config = parse_stack_values(
        values.values, project=values.project, stack=stack, secret_keys=values.secret_keys
    )
    return {
        "processor_timeout_s": config.processor.timeout_seconds,
        "visibility_timeout_s": config.processor.visibility_timeout_seconds,
        "max_receive_count": config.queue.max_receive_count,
        "listener_reserved_concurrency": config.listener.reserved_concurrency or 10,
    }


def _statuses(replies: Sequence[Reply]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reply in replies:
        key = str(reply.status) if reply.status else f"error:{reply.error}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _queue_depth(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _dlq_ids(sqs: Any, dlq_url: str) -> list[str]:
    """Every message id in the dead-letter queue (read once, at the end of the run)."""
    ids: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return ids
        ids += [m["MessageId"] for m in messages]


def _post_phase(
    served: ServedStack, bodies: list[bytes], concurrency: int, deadline: float
) -> tuple[list[Reply], float, float]:
    started = time.time()
    replies = post_all(
        served.outputs["listener_url"], bodies, concurrency=concurrency, deadline=deadline
    )
    ended = max((r.sent_at + r.latency_s for r in replies), default=started)
    return replies, started, ended


def burst_phase(
    run: LoadRun, served: ServedStack, tail: LogTail, seen: Processed, deadline: float
) -> set[str]:
    """Cold-start wave + burst; returns the message ids answered 200."""
    n, c = run.requests, run.concurrency
    wave_bodies = [numbered_body(i).encode() for i in range(c)]
    wave, _, _ = _post_phase(served, wave_bodies, c, deadline)
    bodies = [numbered_body(c + i).encode() for i in range(n)]
    replies, started, accepted_at = _post_phase(served, bodies, c, deadline)

    everything = wave + replies
    ok = [r for r in everything if r.status == 200 and r.message_id]
    ids = {r.message_id for r in ok if r.message_id}
    server_errors = [r for r in everything if r.status >= 500]
    no_answer = [r for r in everything if r.status == 0]
    burst_ok = [r for r in replies if r.status == 200]
    processed_all = wait_for_messages(tail, seen, ids, deadline=deadline)
    burst_ids = {r.message_id for r in burst_ok if r.message_id}
    done_times = [seen.processed[m][0] for m in burst_ids if m in seen.processed]
    processed_at = max(done_times, default=time.time())
    latencies = [r.latency_s * 1000 for r in replies]

    run.check("every request was sent", len(everything) == n + c, f"{len(everything)} of {n + c}")
    run.check("zero 5xx", not server_errors, f"{_statuses(server_errors) or 'none'}")
    run.check("zero connection errors", not no_answer, f"{_statuses(no_answer) or 'none'}")
    run.check(
        "every 200 carried a distinct message id",
        len(ids) == len(ok),
        f"{len(ok)} answers, {len(ids)} ids",
    )
    run.check(
        "every 200 was processed",
        processed_all,
        f"{len(ids & set(seen.processed))} of {len(ids)}",
    )
    failures = [r for r in everything if r.status != 200]
    run.figures["failure_samples"] = [
        {
            "phase": "wave" if r in wave else "burst",
            "index": r.index,
            "status": r.status,
            "error": r.error,
            "seconds_after_burst_start": round(r.sent_at - started, 3),
            "latency_ms": round(r.latency_s * 1000, 1),
        }
        for r in failures[:10]
    ]
    run.figures["cold_wave"] = {
        "requests": c,
        "statuses": _statuses(wave),
        "latency_ms": summarize([r.latency_s * 1000 for r in wave]),
    }
    run.figures["burst"] = {
        "requests": n,
        "concurrency": c,
        "statuses": _statuses(replies),
        "latency_ms": summarize(latencies),
        "accepted_per_s": round(len(burst_ok) / max(accepted_at - started, 1e-9), 1),
        "processed_per_s": round(len(done_times) / max(processed_at - started, 1e-9), 1),
        "seconds_to_accept": round(accepted_at - started, 3),
        "seconds_to_process": round(processed_at - started, 3),
    }
    return ids


def drain_phase(
    run: LoadRun,
    served: ServedStack,
    tail: LogTail,
    seen: Processed,
    settings: dict[str, int],
    deadline: float,
) -> tuple[set[str], set[str]]:
    """A backlog of N with poison; returns (good ids, poison ids)."""
    n = run.requests
    poison_count = max(1, round(n * run.poison_percent / 100)) if run.poison_percent > 0 else 0
    step = n / poison_count if poison_count else 0
    poison_at = {int(i * step + step / 2) for i in range(poison_count)}
    retry = "immediate" if run.retry == "immediate" else None
    bodies = [numbered_body(10**6 + i, poison=i in poison_at, retry=retry) for i in range(n)]
    attributes = listener_message_attributes()
    sqs = served.client("sqs")
    queue_url = served.outputs["queue_url"]
    dlq_url = served.outputs["dlq_url"]

    good: set[str] = set()
    poison: set[str] = set()
    started = time.time()
    for start in range(0, n, 10):
        entries = [
            {"Id": str(i), "MessageBody": bodies[start + i], "MessageAttributes": attributes}
            for i in range(min(10, n - start))
        ]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            run.check("the backlog was enqueued", False, str(response["Failed"][:3]))
            return good, poison
        for item in response["Successful"]:
            index = start + int(item["Id"])
            (poison if index in poison_at else good).add(item["MessageId"])
    enqueued_at = time.time()

    good_done = wait_for_messages(tail, seen, good, deadline=deadline)
    good_times = [seen.processed[m][0] for m in good if m in seen.processed]
    drained_at = max(good_times, default=time.time())
    # Poison: maxReceiveCount failures each, then the redrive on the next receive.
    dlq_depth = 0
    while time.monotonic() < deadline:
        seen.add(tail.read())
        dlq_depth = _queue_depth(sqs, dlq_url)
        if dlq_depth >= len(poison) and _queue_depth(sqs, queue_url) == 0:
            break
        time.sleep(0.1)
    dead_lettered_at = time.time()
    main_depth = _queue_depth(sqs, queue_url)
    dlq = _dlq_ids(sqs, dlq_url)
    sqs.close()
    seen.add(tail.read())

    max_receives = settings["max_receive_count"]
    tries = {m: len(seen.failed.get(m, [])) for m in poison}
    run.check(
        "every non-poison message was processed",
        good_done,
        f"{len(good & set(seen.processed))} of {len(good)}",
    )
    run.check(
        "dead-letter count equals poison count",
        len(dlq) == len(poison),
        f"DLQ {len(dlq)}, poison {len(poison)}",
    )
    run.check(
        "the dead-letter queue holds exactly the poison messages",
        set(dlq) == poison and len(set(dlq)) == len(dlq),
        f"{len(set(dlq) & poison)} poison of {len(dlq)} dead-lettered",
    )
    run.check(
        f"each poison message failed exactly maxReceiveCount ({max_receives}) times",
        all(count == max_receives for count in tries.values()),
        f"failures per poison message: {sorted(set(tries.values())) or 'none'}",
    )
    run.check(
        "every failure was the fixture's PoisonMessageError",
        set(seen.errors) <= {POISON_ERROR},
        f"{seen.errors or 'no failures'}",
    )
    run.check(
        "no poison message was reported processed",
        not (poison & set(seen.processed)),
        f"{len(poison & set(seen.processed))}",
    )
    run.check("the queue ended empty", main_depth == 0, f"{main_depth} left")
    run.figures["drain"] = {
        "messages": n,
        "poison": len(poison),
        "retry": run.retry,
        "seconds_to_enqueue": round(enqueued_at - started, 3),
        "seconds_to_drain_good": round(drained_at - started, 3),
        "drain_per_s": round(len(good_times) / max(drained_at - started, 1e-9), 1),
        "seconds_until_dead_lettered": round(dead_lettered_at - started, 3),
        "dead_lettered": len(dlq),
        "poison_failures_logged": sum(tries.values()),
        "dlq_depth_seen": dlq_depth,
    }
    return good, poison


@dataclass
class ListenerLog:
    """What the listener's own log says it did: per request its status and SendMessage tries."""

    answered_200: set[str] = field(default_factory=set)
    requests: int = 0
    attempts: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, tail: LogTail) -> None:
        for line in tail.read():
            data = line.json()
            if data is None or data.get("message") != "request handled":
                continue
            self.requests += 1
            self.attempts += int(data.get("attempts") or 0)
            status = str(data.get("status"))
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == "200" and isinstance(data.get("message_id"), str):
                self.answered_200.add(data["message_id"])
            if data.get("reason"):
                reason = str(data["reason"])
                self.reasons[reason] = self.reasons.get(reason, 0) + 1

    @property
    def unanswered_attempts(self) -> int:
        """SendMessage attempts that did not end in a 200: each may still have enqueued (a
        timeout after SQS stored the message), which is how at-least-once delivery looks."""
        return self.attempts - len(self.answered_200)


def unexplained_duplicates(seen: Processed, ids: set[str]) -> list[str]:
    """Messages processed more than once without a redelivery in between.

    SQS counts every receive of a message (ApproximateReceiveCount, which the processor logs),
    so a message processed again after a redelivery (a visibility timeout that ran out, a failed
    batch, a lost delete) logs a receive count it did not log before. Two processings with the
    same count came from one receive: the local event source mapping ran a batch twice.
    """
    unexplained = []
    for message_id in sorted(ids):
        counts = seen.receive_counts.get(message_id, [])
        if len(counts) > 1 and (None in counts or len(set(counts)) < len(counts)):
            unexplained.append(message_id)
    return unexplained


def at_least_once(
    run: LoadRun, seen: Processed, answered: set[str], good: set[str], listener: ListenerLog
) -> None:
    """After both phases (so a late redelivery would have shown): every accepted or enqueued
    message processed at least once, a second processing only after a redelivery, and every
    extra processed message accounted for by the listener's own log.

    SQS and Lambda's event source mapping deliver at least once ("Using Lambda with Amazon
    SQS"): a duplicate is allowed, an unexplained one is not.
    """
    expected = answered | good
    missing = sorted(m for m in expected if not seen.processed.get(m))
    duplicated = sorted(m for m in expected if len(seen.processed.get(m, [])) > 1)
    unexplained = unexplained_duplicates(seen, expected)
    unknown = set(seen.processed) - expected
    answer_lost = unknown & listener.answered_200  # a 200 the client never received
    not_sent = len(unknown - answer_lost)
    run.check(
        "every accepted or enqueued message was processed at least once",
        not missing,
        f"{len(missing)} of {len(expected)} missing",
    )
    run.check(
        "every duplicate processing followed a redelivery (a higher receive count)",
        not unexplained,
        f"{len(duplicated)} processed more than once, {len(unexplained)} of them without a "
        f"redelivery{': ' + ', '.join(unexplained[:3]) if unexplained else ''}",
    )
    run.check(
        "every other processed message was sent by the listener (an attempt whose answer "
        "was lost: at-least-once)",
        not_sent <= listener.unanswered_attempts,
        f"{len(unknown)} not answered 200 to the client: {len(answer_lost)} answered 200 but "
        f"the client got no answer, {not_sent} from {listener.unanswered_attempts} "
        "SendMessage attempts that ended without a 200",
    )
    run.figures["processed_lines"] = sum(len(v) for v in seen.processed.values())
    run.figures["extra_processed"] = len(unknown)
    run.figures["redelivery"] = {
        "messages_processed_more_than_once": len(duplicated),
        "processings_after_a_redelivery": sum(
            1 for counts in seen.receive_counts.values() for c in counts if c is not None and c > 1
        ),
        "poller_notes": len(seen.poller_notes),
        "poller_note_samples": seen.poller_notes[:5],
    }
    run.figures["listener_log"] = {
        "requests": listener.requests,
        "send_attempts": listener.attempts,
        "statuses": dict(sorted(listener.statuses.items())),
        "failure_reasons": listener.reasons,
    }


def _watchdog(timeout: float, served: ServedStack) -> threading.Timer:
    def expire() -> None:
        print(f"bench.load: hard timeout after {timeout:.0f} s; stopping", file=sys.stderr)
        try:
            served.stop(timeout=5)
        finally:
            os._exit(EXIT_TIMEOUT)

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    return timer


def run_load(
    *,
    requests: int,
    concurrency: int,
    poison_percent: float = 1.0,
    retry: str = "visibility",
    timeout: float = 300.0,
    project_dir: Path = FIXTURE_DIR,
    progress: Any = None,
) -> LoadRun:
    """One bounded load test; `timeout` bounds the whole run (watchdog: exit status 3)."""
    say = progress or (lambda text: None)
    began = time.monotonic()
    deadline = began + timeout * 0.9  # phases end in time for an orderly stop
    settings = stack_settings(project_dir)
    run = LoadRun(requests, concurrency, poison_percent, retry)
    run.figures["stack"] = settings
    if concurrency > settings["listener_reserved_concurrency"]:
        say(
            f"warning: {concurrency} clients but the listener may run "
            f"{settings['listener_reserved_concurrency']} at once: expect 429s"
        )
    served = ServedStack(project_dir, STACK)
    watchdog = _watchdog(timeout, served)
    try:
        say(f"serving {project_dir.name}/{STACK} with `python -m local up`")
        served.start(timeout=max(5.0, deadline - time.monotonic()))
        run.figures["startup"] = {
            "ready_s": round(served.ready_seconds, 3),
            "reported_ready_s": served.reported_ready_seconds,
        }
        tail = LogTail(served.log_path("processor_function_name"))
        listener_tail = LogTail(served.log_path("listener_function_name"))
        seen = Processed.empty()
        say(f"burst: {concurrency} cold-start requests, then {requests} POSTs at {concurrency}")
        answered = burst_phase(run, served, tail, seen, deadline)
        say(f"drain: {requests} queued messages, {poison_percent:g}% poison, retry {retry}")
        good, _poison = drain_phase(run, served, tail, seen, settings, deadline)
        listener = ListenerLog()
        listener.add(listener_tail)
        at_least_once(run, seen, answered, good, listener)
    finally:
        served.stop()
        watchdog.cancel()
    run.figures["duration_s"] = round(time.monotonic() - began, 1)
    return run


def document(run: LoadRun) -> dict[str, Any]:
    return {
        "schema": 1,
        "generated_by": "python -m bench.load",
        "date": utc_now(),
        "machine": describe(),
        "config": {
            "requests": run.requests,
            "concurrency": run.concurrency,
            "poison_percent": run.poison_percent,
            "retry": run.retry,
        },
        "passed": run.passed,
        "checks": [c.__dict__ for c in run.checks],
        **run.figures,
    }


def table(run: LoadRun) -> str:
    f = run.figures
    lines = []
    burst = f.get("burst")
    if burst:
        lat = burst["latency_ms"]
        lines += [
            f"burst: {burst['requests']} POSTs at {burst['concurrency']} clients "
            f"(after a cold-start wave of {f['cold_wave']['requests']})",
            f"  statuses                 {burst['statuses']}",
            f"  listener latency         p50 {lat.get('p50', 0):.1f} ms   "
            f"p95 {lat.get('p95', 0):.1f} ms   p99 {lat.get('p99', 0):.1f} ms   "
            f"max {lat.get('max', 0):.1f} ms",
            f"  accepted                 {burst['accepted_per_s']:.1f} req/s "
            f"({burst['seconds_to_accept']:.2f} s)",
            f"  accepted and processed   {burst['processed_per_s']:.1f} msg/s "
            f"({burst['seconds_to_process']:.2f} s)",
            f"  cold-start wave latency  p50 {f['cold_wave']['latency_ms'].get('p50', 0):.0f} ms"
            f"   max {f['cold_wave']['latency_ms'].get('max', 0):.0f} ms",
        ]
    drain = f.get("drain")
    if drain:
        lines += [
            f"drain: {drain['messages']} queued, {drain['poison']} poison (retry {drain['retry']})",
            f"  non-poison processed in  {drain['seconds_to_drain_good']:.2f} s "
            f"({drain['drain_per_s']:.1f} msg/s)",
            f"  poison dead-lettered in  {drain['seconds_until_dead_lettered']:.2f} s "
            f"({drain['dead_lettered']} in the DLQ, "
            f"{drain['poison_failures_logged']} failures logged)",
        ]
    lines.append("checks:")
    lines += [f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}" for c in run.checks]
    lines.append(f"{'PASSED' if run.passed else 'FAILED'} in {f.get('duration_s', 0):.1f} s")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    p.add_argument(
        "--requests",
        type=int,
        default=1000,
        help="N: POSTs in the burst, and size of the drain backlog (default 1000)",
    )
    p.add_argument("--concurrency", type=int, default=50, help="C, concurrent clients (50)")
    p.add_argument("--poison-percent", type=float, default=1.0, help="poison share of the drain")
    p.add_argument(
        "--retry",
        choices=("visibility", "immediate"),
        default="visibility",
        help="how poison is retried (see above; default: wait out the visibility timeout)",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="hard limit, seconds (300)")
    p.add_argument("--output", type=Path, default=RESULTS, help="results file")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or not 0 <= args.poison_percent <= 100:
        print("--requests and --concurrency must be >= 1, --poison-percent 0-100", file=sys.stderr)
        return 2
    started = time.monotonic()

    def progress(text: str) -> None:
        if not args.quiet:
            print(f"[load {time.monotonic() - started:6.1f}s] {text}", file=sys.stderr, flush=True)

    run = run_load(
        requests=args.requests,
        concurrency=args.concurrency,
        poison_percent=args.poison_percent,
        retry=args.retry,
        timeout=args.timeout,
        progress=progress,
    )
    write_document(args.output, document(run))
    print(table(run))
    print(f"Written to {args.output}.")
    return 0 if run.passed else 1


if __name__ == "__main__":
    sys.exit(main())
