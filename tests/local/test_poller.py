"""The local SQS event source mapping, against a real SQS API (moto) with a real redrive policy."""

from __future__ import annotations

import io
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cloud_helpers import wait_for

from local.lambda_runtime import Invocation, LocalFunction
from local.poller import SqsPoller, _merge

MakeFunction = Callable[..., LocalFunction]
ARN_PREFIX = "arn:aws:sqs:us-east-1:123456789012:"


class Queue:
    """A queue (and its DLQ) created for one test, plus helpers to look inside.

    Its visibility timeout is long unless a test of retries asks for a short one: a loaded
    machine can take more than a second to start a worker, and a message that comes back while
    its first batch still runs would be a second delivery the test did not ask for.
    """

    def __init__(
        self,
        sqs: Any,
        *,
        fifo: bool = False,
        max_receive_count: int = 2,
        visibility_timeout: int = 30,
    ) -> None:
        suffix = ".fifo" if fifo else ""
        name = f"q-{uuid.uuid4().hex[:12]}"
        fifo_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
        self.sqs = sqs
        dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=fifo_attributes)
        self.dlq_url = dlq["QueueUrl"]
        self.dlq_arn = ARN_PREFIX + f"{name}-dlq{suffix}"
        redrive = {"deadLetterTargetArn": self.dlq_arn, "maxReceiveCount": str(max_receive_count)}
        self.url = sqs.create_queue(
            QueueName=f"{name}{suffix}",
            Attributes={
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(redrive),
                **fifo_attributes,
            },
        )["QueueUrl"]
        self.arn = ARN_PREFIX + f"{name}{suffix}"

    def send(self, *bodies: dict[str, Any], group: str | None = None) -> None:
        for body in bodies:
            extra = {"MessageGroupId": group} if group else {}
            self.sqs.send_message(
                QueueUrl=self.url,
                MessageBody=json.dumps(body),
                MessageAttributes={"source": {"DataType": "String", "StringValue": "tests"}},
                **extra,
            )

    def count(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def dlq_ids(self) -> list[str]:
        messages = self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return sorted(json.loads(message["Body"])["id"] for message in messages)


def batches(record_log: Path) -> list[dict[str, Any]]:
    if not record_log.exists():
        return []
    return [json.loads(line) for line in record_log.read_text().splitlines()]


def received(recorded: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each message's receive counts, in the order its batches were recorded."""
    counts: dict[str, list[str]] = {}
    for batch in recorded:
        for message, count in zip(batch["ids"], batch["receive_counts"], strict=True):
            counts.setdefault(message, []).append(count)
    return counts


@pytest.fixture
def record_log(tmp_path: Path) -> Path:
    return tmp_path / "batches.jsonl"


@pytest.fixture
def pollers() -> Iterator[list[SqsPoller]]:
    started: list[SqsPoller] = []
    yield started
    for poller in started:
        poller.stop()
        poller.wait_idle(5.0)


@pytest.fixture
def start_poller(
    make_function: MakeFunction, sqs: Any, record_log: Path, pollers: list[SqsPoller]
) -> Callable[..., SqsPoller]:
    def start(queue: Queue, **options: Any) -> SqsPoller:
        function = make_function("batch", environment={"RECORD_LOG": str(record_log)})
        poller = SqsPoller(
            function, sqs_client=sqs, queue_url=queue.url, queue_arn=queue.arn, **options
        )
        pollers.append(poller)
        poller.start()
        return poller

    return start


# -- pure parts ----------------------------------------------------------------------------


def test_a_message_delivered_twice_while_gathering_is_in_the_batch_once() -> None:
    batch = [{"MessageId": "m1", "ReceiptHandle": "old"}, {"MessageId": "m2", "ReceiptHandle": "x"}]

    _merge(batch, [{"MessageId": "m1", "ReceiptHandle": "new"}, {"MessageId": "m3"}])

    assert batch == [
        {"MessageId": "m1", "ReceiptHandle": "new"},
        {"MessageId": "m2", "ReceiptHandle": "x"},
        {"MessageId": "m3"},
    ]


def test_a_groups_next_message_received_while_its_batch_is_deleted_is_kept() -> None:
    # GIVEN a FIFO mapping whose batch of group A has just run, and an SQS that hands out group
    # A's next message the moment that batch is deleted, to a receive racing the delete (the
    # mapping's receiver thread does not wait for the invoker thread to finish its bookkeeping)
    following = {"MessageId": "a2", "ReceiptHandle": "h2", "Attributes": {"MessageGroupId": "A"}}
    raced: list[list[dict[str, Any]]] = []
    logged: list[str] = []

    class Sqs:
        def delete_message_batch(self, QueueUrl: str, Entries: list[Any]) -> dict[str, Any]:
            raced.append(poller._receive(1, 0))
            return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}

        def receive_message(self, **_: Any) -> dict[str, Any]:
            return {"Messages": [following]}

    class Function:
        name = "fn"

        def invoke(self, event: Any) -> Invocation:
            return Invocation(request_id="r1", duration_ms=1.0, payload=None)

    class Sink:
        def write(self, name: str, text: str) -> None:
            logged.append(text)

    poller = SqsPoller(
        Function(),  # type: ignore[arg-type]
        sqs_client=Sqs(),
        queue_url="https://sqs.local/q.fifo",
        queue_arn=ARN_PREFIX + "q.fifo",
        logs=Sink(),  # type: ignore[arg-type]
    )
    batch = [{"messageId": "a1", "receiptHandle": "h1", "attributes": {"MessageGroupId": "A"}}]
    # as the receiver thread hands a batch to its invoker
    poller._slots.acquire()
    poller._batches_in_flight = 1
    poller._groups_in_flight.add("A")

    # WHEN the invoker settles the batch
    poller._process(batch)

    # THEN the racing receive keeps the group's next message for the next batch, and none was
    # set aside as a redelivery (it would stay invisible for a whole visibility timeout)
    assert raced == [[following]]
    assert logged == []


# -- against the SQS API -------------------------------------------------------------------


def test_batches_never_exceed_the_batch_size(
    sqs: Any, start_poller: Callable[..., SqsPoller], record_log: Path
) -> None:
    # GIVEN 12 waiting messages
    queue = Queue(sqs)
    queue.send(*({"id": i} for i in range(12)))

    # WHEN a mapping with batch size 5 polls them
    start_poller(queue, batch_size=5, batching_window_seconds=0.5, max_concurrency=2)

    # THEN full batches go at once and the remainder after the window
    wait_for(lambda: sum(len(b["ids"]) for b in batches(record_log)) == 12, 15, "12 records")
    assert sorted(len(b["ids"]) for b in batches(record_log)) == [2, 5, 5]
    wait_for(lambda: queue.count(queue.url) == 0, 10, "all messages deleted")


def test_batching_window_gathers_records_that_arrive_later(
    sqs: Any, start_poller: Callable[..., SqsPoller], record_log: Path
) -> None:
    # GIVEN a mapping with a 2 s window, already polling (visibility timeout > window, as on AWS)
    queue = Queue(sqs, visibility_timeout=5)
    start_poller(queue, batch_size=10, batching_window_seconds=2.0)
    time.sleep(0.2)

    # WHEN records arrive in two bursts 0.3 s apart
    queue.send({"id": 1}, {"id": 2}, {"id": 3})
    time.sleep(0.3)
    queue.send({"id": 4}, {"id": 5})

    # THEN they are delivered as one batch
    wait_for(lambda: len(batches(record_log)) >= 1, 10, "a batch")
    time.sleep(0.2)
    assert [sorted(b["ids"]) for b in batches(record_log)] == [[1, 2, 3, 4, 5]]


def test_zero_window_invokes_with_what_one_receive_returned(
    sqs: Any, start_poller: Callable[..., SqsPoller], record_log: Path
) -> None:
    queue = Queue(sqs)
    queue.send({"id": 1}, {"id": 2}, {"id": 3})

    start_poller(queue, batch_size=10, batching_window_seconds=0)

    wait_for(lambda: len(batches(record_log)) >= 1, 10, "a batch")
    assert sorted(batches(record_log)[0]["ids"]) == [1, 2, 3]


def test_records_are_real_sqs_event_records(
    sqs: Any, start_poller: Callable[..., SqsPoller], record_log: Path
) -> None:
    queue = Queue(sqs)
    queue.send({"id": "shape"})

    start_poller(queue)

    wait_for(lambda: len(batches(record_log)) == 1, 10, "a batch")
    record = batches(record_log)[0]["first_record"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == "us-east-1"
    assert json.loads(record["body"]) == {"id": "shape"}
    assert {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    } <= set(record["attributes"])
    assert record["messageAttributes"]["source"] == {
        "stringValue": "tests",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["md5OfBody"] and record["receiptHandle"]


def test_partial_failures_retry_only_failed_records_until_the_dlq(
    sqs: Any, start_poller: Callable[..., SqsPoller], record_log: Path
) -> None:
    # GIVEN a queue redriving to its DLQ after 2 receives, and one poison message
    queue = Queue(sqs, max_receive_count=2, visibility_timeout=2)
    queue.send({"id": "ok-1"}, {"id": "poison", "fail": True}, {"id": "ok-2"})

    # WHEN the mapping reports batch item failures
    start_poller(queue, report_batch_item_failures=True)

    # THEN the poison message alone is retried, then lands in the DLQ; the others run at least once
    wait_for(lambda: queue.count(queue.dlq_url) == 1, 20, "the poison message in the DLQ")
    assert queue.dlq_ids() == ["poison"]
    deliveries = received(batches(record_log))
    assert deliveries["poison"] == ["1", "2"]
    # the others ran at least once; more only on a redelivery (a batch slower than 2 s)
    assert {"ok-1", "ok-2"} <= set(deliveries)
    assert all(counts == sorted(set(counts)) for counts in deliveries.values()), deliveries
    wait_for(lambda: queue.count(queue.url) == 0, 10, "every message deleted")


def test_returned_failures_are_ignored_without_report_batch_item_failures(
    sqs: Any, start_poller: Callable[..., SqsPoller], record_log: Path
) -> None:
    queue = Queue(sqs)
    queue.send({"id": "ok"}, {"id": "reported", "fail": True})

    start_poller(queue, report_batch_item_failures=False)

    wait_for(lambda: queue.count(queue.url) == 0, 10, "every message deleted")
    assert sorted(i for b in batches(record_log) for i in b["ids"]) == ["ok", "reported"]


def test_function_error_retries_the_whole_batch(
    sqs: Any,
    start_poller: Callable[..., SqsPoller],
    record_log: Path,
    terminal: io.StringIO,
) -> None:
    # 5 s: the failed batch comes back after it, never while a slow first run still holds it
    queue = Queue(sqs, max_receive_count=3, visibility_timeout=5)
    queue.send({"id": "a", "raise_first": True}, {"id": "b"})

    start_poller(queue, report_batch_item_failures=True, batching_window_seconds=0.5)

    wait_for(lambda: len(batches(record_log)) == 2, 20, "a failed and a retried batch")
    first, second = batches(record_log)
    assert sorted(first["ids"]) == sorted(second["ids"]) == ["a", "b"]
    assert first["receive_counts"] == ["1", "1"]
    assert second["receive_counts"] == ["2", "2"]
    wait_for(lambda: queue.count(queue.url) == 0, 10, "the retried batch deleted")
    assert queue.count(queue.dlq_url) == 0
    assert "batch of 2 failed (RuntimeError)" in terminal.getvalue()


def test_fifo_keeps_order_within_each_group(
    sqs: Any, start_poller: Callable[..., SqsPoller], record_log: Path
) -> None:
    # GIVEN two message groups, six messages each
    queue = Queue(sqs, fifo=True)
    for group in ("A", "B"):
        for i in range(6):
            queue.send({"id": f"{group}{i}", "sleep": 0.05}, group=group)

    # WHEN batches of 3 are processed with room for several in flight
    start_poller(queue, batch_size=3, max_concurrency=4)

    # THEN each group's messages ran in order, and never in two batches at once
    wait_for(lambda: sum(len(b["ids"]) for b in batches(record_log)) == 12, 20, "12 records")
    recorded = batches(record_log)
    for group in ("A", "B"):
        order = [
            i for b in recorded for i, g in zip(b["ids"], b["groups"], strict=True) if g == group
        ]
        assert order == [f"{group}{i}" for i in range(6)]
        spans = sorted((b["start"], b["end"]) for b in recorded if group in b["groups"])
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))


def test_stop_returns_promptly_while_long_polling(
    sqs: Any, start_poller: Callable[..., SqsPoller]
) -> None:
    # GIVEN a poller in its 1 s long poll of an empty queue
    poller = start_poller(Queue(sqs))
    time.sleep(0.3)

    # WHEN it is stopped (waiting for its thread longer than a stop does by default)
    started = time.monotonic()
    poller.stop(timeout=10)

    # THEN it returns once that poll ends, never after a long poll's 20 s maximum
    assert time.monotonic() - started < 5
    assert not poller.running


def test_a_missing_queue_is_logged_and_the_poller_survives(
    sqs: Any,
    make_function: MakeFunction,
    terminal: io.StringIO,
    pollers: list[SqsPoller],
    moto_endpoint: str,
) -> None:
    poller = SqsPoller(
        make_function("batch", environment={"RECORD_LOG": "/dev/null"}),
        sqs_client=sqs,
        queue_url=f"{moto_endpoint}/123456789012/no-such-queue",
        queue_arn=ARN_PREFIX + "no-such-queue",
    )
    pollers.append(poller)

    poller.start()

    wait_for(lambda: "cannot receive" in terminal.getvalue(), 10, "the problem in the log")
    time.sleep(1.3)  # past the retry back-off
    assert poller.running
    assert terminal.getvalue().count("cannot receive") == 1  # said once, not once a second
