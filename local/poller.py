"""A local SQS event source mapping: polls a queue and invokes a LocalFunction with batches.

Semantics follow Lambda's SQS event source mapping: batches of up to ``batch_size`` records
gathered for at most ``batching_window_seconds``, at most ``max_concurrency`` batches in flight,
real SQS event records, and deletion rules that make retries and the dead-letter queue work:
nothing is deleted when the invocation fails, and with ``ReportBatchItemFailures`` only the
records the function did not report are deleted. The queue's redrive policy (implemented by the
SQS server on receive) then moves messages that keep failing to the DLQ. The record shape and
the batch-response rule live in local/shapes.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local.lambda_runtime import (
    MAX_PAYLOAD_BYTES,
    FunctionClosedError,
    Invocation,
    LocalFunction,
    RequestTooLargeError,
)
from local.logs import LogSink
from local.shapes import failed_message_ids, sqs_record

__all__ = ["DEFAULT_MAX_CONCURRENCY", "SqsPoller"]

DEFAULT_MAX_CONCURRENCY = 5
"""Batches in flight when the mapping sets no maximum (AWS starts with 5 pollers)."""

POLL_WAIT_SECONDS = 1
"""Long-poll length while idle: short, so ``stop()`` returns within about a second."""

ACTIVE_SECONDS = 2.0
"""After traffic, poll without waiting for this long (every ``SHORT_POLL_INTERVAL``): a stop
is then immediate, and a FIFO group freed by a finished batch is picked up at once instead of
after a long poll that started while the group was still busy."""

SHORT_POLL_INTERVAL = 0.05

_PROBLEM_BACKOFF_SECONDS = 1.0


class SqsPoller:
    """Event source mapping from one SQS queue to one LocalFunction.

    One receiver thread gathers batches (so batch size and window behave predictably) and hands
    each to its own invoker thread, with at most ``max_concurrency`` batches in flight. For FIFO
    queues no two in-flight batches ever share a message group, so order holds per group.
    """

    def __init__(
        self,
        function: LocalFunction,
        *,
        sqs_client: Any,
        queue_url: str,
        queue_arn: str,
        batch_size: int = 10,
        batching_window_seconds: float = 0.0,
        max_concurrency: int | None = None,
        report_batch_item_failures: bool = False,
        visibility_timeout: int | None = None,
        logs: LogSink | None = None,
        poll_wait_seconds: int = POLL_WAIT_SECONDS,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = batch_size
        self.batching_window_seconds = max(0.0, batching_window_seconds)
        self.max_concurrency = max_concurrency or DEFAULT_MAX_CONCURRENCY
        self.report_batch_item_failures = report_batch_item_failures
        self.visibility_timeout = visibility_timeout
        self.fifo = queue_arn.endswith(".fifo")
        self._sqs = sqs_client
        self._logs = logs or function.logs
        self._poll_wait = max(0, min(20, poll_wait_seconds))
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._lock = threading.Lock()
        self._groups_in_flight: set[str] = set()
        self._batches_in_flight = 0
        self._last_activity = -ACTIVE_SECONDS  # start idle: long polling
        self._carry: list[dict[str, Any]] = []
        self._problem: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def batches_in_flight(self) -> int:
        with self._lock:
            return self._batches_in_flight

    def start(self) -> None:
        """Start polling in a background thread; idempotent."""
        if self.running and not self._stop.is_set():
            return
        if self._thread is not None:
            self._thread.join()  # a stop() that timed out: never run two receivers
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-poller-{self.function.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 1.5) -> None:
        """Stop receiving; returns within about a second. Batches in flight finish on their own."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no batch is in flight (for tests and orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.batches_in_flight == 0:
                return True
            time.sleep(0.02)
        return self.batches_in_flight == 0

    # -- receiving -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.1):
                continue
            try:
                messages = self._gather()
            except (ClientError, BotoCoreError) as exc:
                self._slots.release()
                self._report_problem(f"cannot receive from {self.queue_url}: {exc}")
                self._stop.wait(_PROBLEM_BACKOFF_SECONDS)
                continue
            if self._problem is not None:
                self._report_recovery()
            if not messages:
                self._slots.release()
                continue
            if self._stop.is_set():
                self._slots.release()
                # Let the next consumer have them right away instead of after a timeout.
                self._release_messages(messages + self._carry)
                self._carry = []
                return
            records = self._fit_payload(messages)
            with self._lock:
                self._batches_in_flight += 1
                self._groups_in_flight.update(_groups(records))
            threading.Thread(
                target=self._process,
                args=(records,),
                name=f"sqs-batch-{self.function.name}",
                daemon=True,
            ).start()

    def _gather(self) -> list[dict[str, Any]]:
        """Receive until the batch is full or the window closes (window 0: one receive)."""
        messages, self._carry = self._carry, []
        window = self.batching_window_seconds
        window_ends = time.monotonic() + window if messages else None
        while not self._stop.is_set() and len(messages) < self.batch_size:
            if messages and window <= 0:
                break
            if window_ends is None:
                wait = self._idle_wait()
            else:
                remaining = window_ends - time.monotonic()
                if remaining <= 0:
                    break
                wait = 1 if remaining >= 1 else 0
            received = self._receive(min(10, self.batch_size - len(messages)), wait)
            if not received:
                if wait == 0:
                    pause = SHORT_POLL_INTERVAL
                    if window_ends is not None:
                        pause = min(pause, max(0.0, window_ends - time.monotonic()))
                    self._stop.wait(pause)
                continue
            self._touch()
            _merge(messages, received)
            if window_ends is None:
                window_ends = time.monotonic() + window
        return messages

    def _idle_wait(self) -> int:
        """Standard queues always long-poll (moto answers a waiting receive as soon as a
        message arrives); FIFO queues short-poll while busy (see ACTIVE_SECONDS)."""
        if not self.fifo:
            return self._poll_wait
        with self._lock:
            busy = self._batches_in_flight > 0
            recent = time.monotonic() - self._last_activity < ACTIVE_SECONDS
        return 0 if busy or recent else self._poll_wait

    def _touch(self) -> None:
        with self._lock:
            self._last_activity = time.monotonic()

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": count,
            "WaitTimeSeconds": wait_seconds,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if self.visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = self.visibility_timeout
        messages: list[dict[str, Any]] = self._sqs.receive_message(**kwargs).get("Messages", [])
        if not self.fifo or not messages:
            return messages
        # SQS already withholds groups with messages in flight; this guards the one gap it
        # leaves: a visibility timeout expiring while we still process that group's batch.
        # Such messages stay invisible and come back later rather than run out of order.
        with self._lock:
            busy = set(self._groups_in_flight)
        for message in messages:
            if _group(message) in busy:
                self._log(
                    f"message {message['MessageId']} of group {_group(message)} was delivered "
                    "again while its group is still being processed (visibility timeout shorter "
                    "than the function run?); it will be retried later"
                )
        return [m for m in messages if _group(m) not in busy]

    def _fit_payload(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records for one invocation within Lambda's 6 MB payload; the rest wait for the next."""
        records: list[dict[str, Any]] = []
        size = len('{"Records": []}')
        for index, message in enumerate(messages):
            record = sqs_record(message, queue_arn=self.queue_arn)
            record_size = len(json.dumps(record).encode()) + 2
            if records and size + record_size > MAX_PAYLOAD_BYTES:
                self._carry = messages[index:]
                break
            records.append(record)
            size += record_size
        return records

    def _release_messages(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            try:
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            except (ClientError, BotoCoreError) as exc:
                self._log(f"could not release message {message.get('MessageId')}: {exc}")

    # -- invoking and settling -------------------------------------------------------------

    def _process(self, records: list[dict[str, Any]]) -> None:
        try:
            try:
                invocation = self.function.invoke({"Records": records})
            except FunctionClosedError:
                return  # shutting down: the messages come back after their visibility timeout
            except RequestTooLargeError as exc:
                self._log(f"batch of {len(records)} not delivered: {exc}")
                return
            # The function is done with its groups: free them before the deletes. SQS hands out
            # a group's next messages the moment this batch's are deleted, and a receive that
            # got them while the group still counted as busy set them aside for a whole
            # visibility timeout (seen: a FIFO group stalled 30 s on a busy machine).
            self._free_groups(records)
            self._settle(records, invocation)
        finally:
            self._free_groups(records)
            with self._lock:
                self._batches_in_flight -= 1
                self._last_activity = time.monotonic()
            self._slots.release()

    def _free_groups(self, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self._groups_in_flight.difference_update(_groups(records))

    def _settle(self, records: list[dict[str, Any]], invocation: Invocation) -> None:
        ids = [record["messageId"] for record in records]
        if invocation.error is not None:
            reason = "throttled" if invocation.throttled else invocation.error.error_type
            self._log(
                f"batch of {len(records)} failed ({reason}); its messages return to the queue "
                "after the visibility timeout"
            )
            return
        keep: set[str] = set()
        if self.report_batch_item_failures:
            failed = failed_message_ids(invocation.payload, set(ids))
            if failed is None:
                self._log(
                    f"batch of {len(records)}: invalid batchItemFailures response; the whole "
                    "batch will be retried"
                )
                return
            keep = set(failed)
            if keep:
                self._log(f"{len(keep)} of {len(records)} records reported failed; retrying those")
        self._delete([record for record in records if record["messageId"] not in keep])

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            entries = [
                {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                for index, record in enumerate(chunk)
            ]
            try:
                response = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                self._log(f"could not delete {len(chunk)} processed message(s): {exc}")
                continue
            for failure in response.get("Failed", []):
                self._log(f"could not delete a processed message: {failure.get('Message')}")

    # -- reporting -------------------------------------------------------------------------

    def _log(self, text: str) -> None:
        queue_name = self.queue_arn.rsplit(":", 1)[-1]
        self._logs.write(self.function.name, f"[local] SQS {queue_name}: {text}")

    def _report_problem(self, problem: str) -> None:
        if problem != self._problem:  # say it once, not once per second
            self._log(f"{problem} (retrying)")
        self._problem = problem

    def _report_recovery(self) -> None:
        self._problem = None
        self._log("receiving again")


def _merge(batch: list[dict[str, Any]], received: list[dict[str, Any]]) -> None:
    """Add received messages to a batch being gathered, once per message id.

    A message whose visibility timeout ran out during the batching window is delivered again
    with a new receipt handle (only the newest one can delete it): keep it once, with that one.
    """
    position = {message["MessageId"]: index for index, message in enumerate(batch)}
    for message in received:
        index = position.get(message["MessageId"])
        if index is None:
            position[message["MessageId"]] = len(batch)
            batch.append(message)
        else:
            batch[index] = message


def _group(message: Mapping[str, Any]) -> str | None:
    group: str | None = message.get("Attributes", {}).get("MessageGroupId")
    return group


def _groups(records: list[dict[str, Any]]) -> set[str]:
    groups = {record["attributes"].get("MessageGroupId") for record in records}
    groups.discard(None)
    return groups
