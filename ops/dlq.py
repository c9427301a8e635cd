"""`dlq count / peek / redrive`: look at and recover what the processor gave up on.

On AWS, `aws sqs start-message-move-task` also moves a DLQ back; moto (and so the local cloud)
does not implement it, and it cannot be limited to N messages. This receive/send/delete loop
works in both places, and never loses a message: the DLQ copy is deleted only after the send to
the main queue succeeded, so the worst case is a duplicate, never a gap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ops.errors import OpsError

AWS_ERRORS = (BotoCoreError, ClientError)

PEEK_HIDE_SECONDS = 30
"""Peeked messages are hidden this long at most; if peek dies before un-hiding them, they come
back on their own after this."""
REDRIVE_HIDE_SECONDS = 60
"""Long enough for one send + delete; a message whose send failed is made visible again."""
_ATTRIBUTE_KEYS = ("DataType", "StringValue", "BinaryValue")
SHOWN_ATTRIBUTES = ("path", "receivedAt", "requestId")
_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def is_fifo(queue_url: str) -> bool:
    return queue_url.rstrip("/").endswith(".fifo")


def queue_counts(sqs: Any, queue_url: str) -> dict[str, int]:
    """visible / in flight / delayed: approximate, as SQS says (seconds behind on AWS)."""
    try:
        result = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(_COUNTS))
    except AWS_ERRORS as exc:  # botocore's errors, reported with the URL
        raise OpsError(f"cannot read {queue_url}: {exc}") from exc
    return counts_from(result.get("Attributes", {}))


COUNT_ATTRIBUTES = tuple(_COUNTS)
"""The queue attributes `counts_from` reads (ask for them with any others in one call)."""


def counts_from(attributes: Mapping[str, Any]) -> dict[str, int]:
    """visible / in flight / delayed from a GetQueueAttributes answer's Attributes."""
    visible, in_flight, delayed = (int(attributes.get(name, 0)) for name in _COUNTS)
    return {"visible": visible, "in_flight": in_flight, "delayed": delayed}


def count(sqs: Any, queue_url: str, dlq_url: str, *, out: TextIO) -> int:
    for label, url in (("queue", queue_url), ("dlq", dlq_url)):
        counts = queue_counts(sqs, url)
        print(
            f"{label:<5} visible {counts['visible']:>6}  in flight {counts['in_flight']:>6}  "
            f"delayed {counts['delayed']:>6}  {url}",
            file=out,
        )
    return 0


def _receive(sqs: Any, queue_url: str, max_count: int, hide_seconds: int) -> list[dict[str, Any]]:
    try:
        result = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=max(1, min(10, max_count)),
            VisibilityTimeout=hide_seconds,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
    except AWS_ERRORS as exc:  # botocore's errors, reported with the URL
        raise OpsError(f"cannot receive from {queue_url}: {exc}") from exc
    messages: list[dict[str, Any]] = result.get("Messages", [])
    return messages


def _string_attribute(message: dict[str, Any], name: str) -> str:
    value = message.get("MessageAttributes", {}).get(name, {})
    return str(value.get("StringValue", "-"))


def describe(message: dict[str, Any], *, body: bool) -> str:
    """One line per message; the body only on request, since it may hold user data."""
    system = message.get("Attributes", {})
    parts = [
        f"id={message['MessageId']}",
        f"receives={system.get('ApproximateReceiveCount', '?')}",
        *(f"{name}={_string_attribute(message, name)}" for name in SHOWN_ATTRIBUTES),
        f"size={len(message.get('Body', '').encode())}B",
    ]
    if "MessageGroupId" in system:
        parts.append(f"group={system['MessageGroupId']}")
    line = "  ".join(parts)
    return f"{line}\n    body: {message.get('Body', '')}" if body else line


def peek(sqs: Any, dlq_url: str, *, max_count: int, body: bool, out: TextIO) -> int:
    """Receive (which hides) up to N distinct messages, then make each visible again at once.

    Receiving with VisibilityTimeout=0 would let the next receive return the same message again,
    so distinct messages are gathered hidden and un-hidden at the end. Each peek still adds one
    to a message's receive count: SQS has no read-only receive.
    """
    seen: dict[str, dict[str, Any]] = {}
    try:
        while len(seen) < max_count:
            batch = _receive(sqs, dlq_url, max_count - len(seen), PEEK_HIDE_SECONDS)
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen[message["MessageId"]] = message
                print(describe(message, body=body), file=out)
    finally:
        _unhide(sqs, dlq_url, list(seen.values()))
    print(f"{len(seen)} message(s) in {dlq_url} (left there)", file=out)
    return 0


def send_params(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    """SendMessage arguments that reproduce the message: same body, same message attributes."""
    params: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message["Body"]}
    attributes = {
        name: {key: value[key] for key in _ATTRIBUTE_KEYS if key in value}
        for name, value in message.get("MessageAttributes", {}).items()
    }
    if attributes:
        params["MessageAttributes"] = attributes
    if is_fifo(queue_url):
        system = message.get("Attributes", {})
        params["MessageGroupId"] = system.get("MessageGroupId", "default")
        # Derived from the DLQ message id: a redrive re-run after a failed delete is deduplicated.
        params["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"
    return params


def redrive(
    sqs: Any,
    queue_url: str,
    dlq_url: str,
    *,
    max_count: int | None,
    confirm: Callable[[str], bool] | None,
    out: TextIO,
) -> int:
    """Move messages DLQ -> queue: send, then delete only once the send succeeded."""
    waiting = queue_counts(sqs, dlq_url)["visible"]
    limit = waiting if max_count is None else min(max_count, waiting)
    if waiting == 0:
        print(f"nothing to redrive: {dlq_url} is empty", file=out)
        return 0
    question = f"move {limit} of ~{waiting} message(s) from {dlq_url} to {queue_url}?"
    if confirm is not None and not confirm(question):
        print("nothing moved", file=out)
        return 1
    moved = 0
    # Bounded by what was counted up front: messages that fail again and come back to the DLQ
    # during the redrive are not moved a second time.
    while moved < limit:
        batch = _receive(sqs, dlq_url, limit - moved, REDRIVE_HIDE_SECONDS)
        if not batch:
            break
        for index, message in enumerate(batch):
            try:
                sqs.send_message(**send_params(message, queue_url))
            except AWS_ERRORS as exc:  # stop: the next sends would fail alike
                _unhide(sqs, dlq_url, batch[index:])
                print(
                    f"send of {message['MessageId']} to {queue_url} failed: {exc}; it stays in "
                    f"the DLQ. moved {moved}",
                    file=out,
                )
                return 1
            try:
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            except AWS_ERRORS as exc:
                _unhide(sqs, dlq_url, batch[index + 1 :])
                print(
                    f"{message['MessageId']} was sent but not deleted from the DLQ ({exc}): it "
                    f"will be delivered twice. moved {moved + 1}",
                    file=out,
                )
                return 1
            moved += 1
            print(f"moved {moved}/{limit}: {message['MessageId']}", file=out, flush=True)
    left = queue_counts(sqs, dlq_url)["visible"]
    print(f"moved {moved} message(s); ~{left} left in the DLQ", file=out)
    return 0


def _unhide(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Visible again now; if this fails, the message reappears when its timeout runs out."""
    for message in messages:
        with contextlib.suppress(*AWS_ERRORS):
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
