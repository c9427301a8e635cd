"""One process of the raw SQS ceiling: `python -m bench.sqs_worker send|receive ...`.

The pipeline spreads its SQS calls over processes (each listener worker sends, the local cloud
polls), so the ceiling does too: a process per sender and per receiver, none sharing a GIL with
the others. Each child imports boto3 and builds its client first, prints READY and waits for a
line on stdin, so start-up stays out of the measured window; then it works and prints one JSON
line: {"done": <messages>, "first": <epoch>, "last": <epoch>}. Endpoint, region and keys come
from the environment (what `python -m local env` prints).

  loop    QUEUE_URL COUNT OFFSET   per message: SendMessage (the listener's seven
                                            attributes), ReceiveMessage(10, all attributes),
                                            DeleteMessageBatch of what came; then drain
  send    QUEUE_URL COUNT OFFSET   SendMessage with the listener's seven attributes
  poll    QUEUE_URL STOP_FILE      as the local event source mapping does: back-to-back
                                            ReceiveMessage(10, wait 0), a 50 ms pause when
                                            empty, DeleteMessageBatch on up to 5 threads
  receive QUEUE_URL STOP_FILE      ReceiveMessage(10, all attributes) +
                                            DeleteMessageBatch until the queue is empty and
                                            STOP_FILE exists (the parent's "all sent")
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from bench.common import DUMMY_CREDENTIALS, REGION
from bench.events import listener_message_attributes, numbered_body


def _client() -> Any:
    """Endpoint, region and keys from the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID...)."""
    env = os.environ
    return boto3.session.Session().client(
        "sqs",
        region_name=env.get("AWS_REGION", REGION),
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
        aws_secret_access_key=env.get(
            "AWS_SECRET_ACCESS_KEY", DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        ),
        aws_session_token=env.get("AWS_SESSION_TOKEN"),
    )


def send(client: Any, queue_url: str, count: int, offset: int) -> dict[str, float]:
    attributes = listener_message_attributes()
    bodies = [numbered_body(offset + i) for i in range(count)]
    first = time.time()
    for body in bodies:
        client.send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes=attributes)
    return {"done": count, "first": first, "last": time.time()}


def loop(client: Any, queue_url: str, count: int, offset: int) -> dict[str, float]:
    attributes = listener_message_attributes()
    bodies = [numbered_body(offset + i) for i in range(count)]
    first = time.time()
    done = 0
    last = first
    index = 0
    while True:
        if index < count:
            client.send_message(
                QueueUrl=queue_url, MessageBody=bodies[index], MessageAttributes=attributes
            )
            index += 1
        done_now = _receive_delete(client, queue_url, 0)
        if done_now:
            done += done_now
            last = time.time()
        elif index >= count:
            return {"done": done, "first": first, "last": last}


def _receive_delete(client: Any, queue_url: str, wait_seconds: int) -> int:
    messages = client.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    if messages:
        client.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
    return len(messages)


def receive(client: Any, queue_url: str, stop_file: str) -> dict[str, float]:
    done = 0
    first = time.time()
    last = first
    while True:
        all_sent = os.path.exists(stop_file)
        done_now = _receive_delete(client, queue_url, 0 if all_sent else 1)
        if done_now:
            done += done_now
            last = time.time()
        elif all_sent:
            return {"done": done, "first": first, "last": last}


def poll(client: Any, queue_url: str, stop_file: str) -> dict[str, float]:
    lock = threading.Lock()
    totals = {"done": 0.0, "first": time.time(), "last": time.time()}

    def delete(messages: list[dict[str, Any]]) -> None:
        client.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        with lock:
            totals["done"] += len(messages)
            totals["last"] = time.time()

    with ThreadPoolExecutor(max_workers=5) as deleters:
        while True:
            all_sent = os.path.exists(stop_file)
            messages = client.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if messages:
                deleters.submit(delete, messages)
            elif all_sent:
                break
            else:
                time.sleep(0.05)
    return totals


def main(argv: list[str]) -> int:
    role, queue_url, *rest = argv
    client = _client()
    client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])  # connect
    print("READY", flush=True)
    if not sys.stdin.readline():
        return 1  # the parent went away
    if role == "send":
        result = send(client, queue_url, int(rest[0]), int(rest[1]))
    elif role == "loop":
        result = loop(client, queue_url, int(rest[0]), int(rest[1]))
    elif role == "poll":
        result = poll(client, queue_url, rest[0])
    elif role == "receive":
        result = receive(client, queue_url, rest[0])
    else:
        print(f"unknown role {role!r}", file=sys.stderr)
        return 2
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
