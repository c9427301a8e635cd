"""`dlq count / peek / redrive` against moto's SQS, in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ops import dlq
from ops.cli import main

REGION = "us-east-1"


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def make_queues(sqs: Any, fifo: bool = False) -> tuple[str, str]:
    suffix = ".fifo" if fifo else ""
    extra = {"FifoQueue": "true"} if fifo else {}
    dlq_url = sqs.create_queue(QueueName=f"app-dlq{suffix}", Attributes=extra)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    queue_url = sqs.create_queue(
        QueueName=f"app{suffix}", Attributes={**extra, "RedrivePolicy": redrive}
    )["QueueUrl"]
    return queue_url, dlq_url


def put(sqs: Any, queue_url: str, body: str, number: int, group: str | None = None) -> str:
    params: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MessageBody": body,
        "MessageAttributes": {
            "path": {"DataType": "String", "StringValue": "/append_queue"},
            "receivedAt": {"DataType": "String", "StringValue": f"2026-11-29T10:00:0{number}Z"},
            "requestId": {"DataType": "String", "StringValue": f"req-{number}"},
        },
    }
    if group is not None:
        params |= {"MessageGroupId": group, "MessageDeduplicationId": f"d{number}"}
    message_id: str = sqs.send_message(**params)["MessageId"]
    return message_id


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Everything in the queue, consumed, in the order SQS hands it out."""
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        AttributeNames=["All"],
    ).get("Messages", []):
        for message in batch:
            messages.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def visible(sqs: Any, queue_url: str) -> int:
    return dlq.queue_counts(sqs, queue_url)["visible"]


def urls(queue_url: str, dlq_url: str) -> list[str]:
    return ["--queue-url", queue_url, "--dlq-url", dlq_url]


def test_count_reports_both_queues(sqs: Any, capsys):
    queue_url, dlq_url = make_queues(sqs)
    put(sqs, queue_url, "{}", 1)
    for number in range(3):
        put(sqs, dlq_url, "{}", number)

    assert main(["dlq", "count", *urls(queue_url, dlq_url)]) == 0

    queue_line, dlq_line = capsys.readouterr().out.splitlines()
    assert queue_line.startswith("queue visible      1")
    assert dlq_line.startswith("dlq   visible      3")


def test_peek_shows_metadata_not_bodies_and_consumes_nothing(sqs: Any, capsys):
    _, dlq_url = make_queues(sqs)
    ids = [put(sqs, dlq_url, f'{{"secret": "user-data-{n}"}}', n) for n in range(3)]

    assert main(["dlq", "peek", "--dlq-url", dlq_url, "--max", "2"]) == 0

    out = capsys.readouterr().out
    assert sum(f"id={i}" in out for i in ids) == 2
    assert "path=/append_queue" in out
    assert "requestId=req-" in out
    assert "receivedAt=2026-11-29T10:00:0" in out
    assert "size=25B" in out
    assert "user-data" not in out
    # Nothing consumed, and all visible again right away, not after a visibility timeout.
    assert visible(sqs, dlq_url) == 3
    assert {m["MessageId"] for m in drain(sqs, dlq_url)} == set(ids)


def test_peek_shows_bodies_on_request(sqs: Any, capsys):
    _, dlq_url = make_queues(sqs)
    put(sqs, dlq_url, '{"secret": "user-data"}', 1)

    assert main(["dlq", "peek", "--dlq-url", dlq_url, "--body"]) == 0

    assert 'body: {"secret": "user-data"}' in capsys.readouterr().out


def test_redrive_moves_everything_keeping_body_and_attributes(sqs: Any, capsys):
    queue_url, dlq_url = make_queues(sqs)
    bodies = [f'{{"n": {n}}}' for n in range(12)]  # more than one receive batch
    for number, body in enumerate(bodies):
        put(sqs, dlq_url, body, number % 10)

    assert main(["dlq", "redrive", "--yes", *urls(queue_url, dlq_url)]) == 0

    assert visible(sqs, dlq_url) == 0
    moved = drain(sqs, queue_url)
    assert sorted(m["Body"] for m in moved) == sorted(bodies)
    for message in moved:
        attributes = message["MessageAttributes"]
        assert attributes["path"] == {"DataType": "String", "StringValue": "/append_queue"}
        assert attributes["requestId"]["StringValue"].startswith("req-")
        assert set(attributes) == {"path", "receivedAt", "requestId"}
    assert "moved 12 message(s); ~0 left in the DLQ" in capsys.readouterr().out


def test_redrive_max_moves_at_most_n(sqs: Any):
    queue_url, dlq_url = make_queues(sqs)
    for number in range(5):
        put(sqs, dlq_url, "{}", number)

    assert main(["dlq", "redrive", "--yes", "--max", "2", *urls(queue_url, dlq_url)]) == 0

    assert visible(sqs, queue_url) == 2
    assert visible(sqs, dlq_url) == 3


def test_redrive_fifo_keeps_group_and_order(sqs: Any):
    queue_url, dlq_url = make_queues(sqs, fifo=True)
    for number, group in enumerate(["athlete-1", "athlete-2", "athlete-1"]):
        put(sqs, dlq_url, f'{{"n": {number}}}', number, group=group)

    assert main(["dlq", "redrive", "--yes", *urls(queue_url, dlq_url)]) == 0

    moved = drain(sqs, queue_url)
    groups = {m["Body"]: m["Attributes"]["MessageGroupId"] for m in moved}
    assert groups == {'{"n": 0}': "athlete-1", '{"n": 1}': "athlete-2", '{"n": 2}': "athlete-1"}
    in_group_1 = [m["Body"] for m in moved if m["Attributes"]["MessageGroupId"] == "athlete-1"]
    assert in_group_1 == ['{"n": 0}', '{"n": 2}']
    assert all(m["Attributes"]["MessageDeduplicationId"].startswith("redrive-") for m in moved)


def test_a_failed_send_leaves_the_message_in_the_dlq(sqs: Any, capsys):
    queue_url, dlq_url = make_queues(sqs)
    ids = [put(sqs, dlq_url, f'{{"n": {n}}}', n) for n in range(3)]
    missing = queue_url.replace("/app", "/no-such-queue")

    code = main(["dlq", "redrive", "--yes", *urls(missing, dlq_url)])

    assert code == 1
    assert "it stays in the DLQ" in capsys.readouterr().out
    # All three still there, and visible at once (not hidden for the redrive's timeout).
    assert visible(sqs, dlq_url) == 3
    assert {m["MessageId"] for m in drain(sqs, dlq_url)} == set(ids)


def test_redrive_asks_first_and_moves_nothing_on_no(
    sqs: Any, monkeypatch: pytest.MonkeyPatch, capsys
):
    queue_url, dlq_url = make_queues(sqs)
    put(sqs, dlq_url, "{}", 1)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))

    assert main(["dlq", "redrive", *urls(queue_url, dlq_url)]) == 1

    assert "move 1 of ~1 message(s)" in capsys.readouterr().out
    assert visible(sqs, dlq_url) == 1
    assert visible(sqs, queue_url) == 0


def test_redrive_moves_on_yes(sqs: Any, monkeypatch: pytest.MonkeyPatch):
    queue_url, dlq_url = make_queues(sqs)
    put(sqs, dlq_url, "{}", 1)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))

    assert main(["dlq", "redrive", *urls(queue_url, dlq_url)]) == 0

    assert visible(sqs, queue_url) == 1


def test_an_unknown_queue_is_a_clear_error(sqs: Any, capsys):
    queue_url, _ = make_queues(sqs)

    code = main(["dlq", "count", *urls(queue_url, queue_url + "-gone")])

    assert code == 1
    assert f"cannot read {queue_url}-gone" in capsys.readouterr().err


class FailingDelete:
    """The real client, except that DeleteMessage fails (e.g. a lost connection)."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def delete_message(self, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "DeleteMessage")


def test_a_failed_delete_keeps_the_dlq_copy_and_says_it_may_be_delivered_twice(sqs: Any):
    queue_url, dlq_url = make_queues(sqs)
    put(sqs, dlq_url, '{"n": 1}', 1)
    put(sqs, dlq_url, '{"n": 2}', 2)
    out = io.StringIO()

    code = dlq.redrive(
        FailingDelete(sqs), queue_url, dlq_url, max_count=None, confirm=None, out=out
    )

    assert code == 1
    assert "delivered twice" in out.getvalue()
    assert len(drain(sqs, queue_url)) == 1  # sent once, then stopped
    counts = dlq.queue_counts(sqs, dlq_url)
    # Nothing lost: the sent one is still there (hidden until its timeout), the other visible.
    assert (counts["visible"], counts["in_flight"]) == (1, 1)
