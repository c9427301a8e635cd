"""Faults through the local cloud: a killed worker and duplicate posts lose or double nothing."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from cloud_helpers import (
    FIXTURE_PROGRAM,
    aws_client,
    log_text,
    post_json,
    project_with_stack,
    quiet,
    wait_for,
)

from local.cloud import LocalCloud


def test_a_worker_killed_mid_batch_loses_no_message(tmp_path: Path):
    with LocalCloud(
        FIXTURE_PROGRAM, stack="test", port=0, stream=quiet(), state_root=tmp_path
    ) as cloud:
        sqs = aws_client("sqs", cloud, "eu-west-1")
        worker = cloud.outputs["worker_name"]
        function = cloud._provider.deployment.functions[worker]
        # GIVEN a batch whose first record holds the worker for a second
        sqs.send_message_batch(
            QueueUrl=cloud.outputs["queue_url"],
            Entries=[
                {"Id": "a", "MessageBody": "hold-a"},
                {"Id": "b", "MessageBody": "ok-b"},
                {"Id": "c", "MessageBody": "ok-c"},
            ],
        )
        wait_for(
            lambda: "worker got hold-a receive=1" in log_text(cloud.log_dir, worker),
            timeout=30,
            what="the worker to start the batch",
        )
        # WHEN its worker process is killed in the middle of the batch (every worker of the
        # function: SQS may hand the three out in more than one receive, so in more batches)
        pids = function.worker_pids()
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        # THEN after the visibility timeout every message of the batch is processed
        for body in ("hold-a", "ok-b", "ok-c"):
            wait_for(
                lambda body=body: f"worker done {body}" in log_text(cloud.log_dir, worker),
                timeout=30,
                what=f"{body} to be processed after the kill",
            )
        log = log_text(cloud.log_dir, worker)
        assert "Runtime.ExitError" in log
        assert "worker done ok-b" in log
        # AND the queue and the dead-letter queue end empty
        for url in (cloud.outputs["queue_url"], cloud.outputs["dlq_url"]):
            wait_for(
                lambda url=url: (
                    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
                        "ApproximateNumberOfMessages"
                    ]
                    == "0"
                ),
                timeout=30,
                what="an empty queue",
            )


def test_fifo_identical_posts_are_one_message_in_group_order(tmp_path: Path):
    # GIVEN the real program on a FIFO stack
    project = project_with_stack(
        tmp_path,
        "fifo",
        "config:\n  async-webhook:fifo: true\n  async-webhook:messageGroupField: owner_id\n",
    )
    with LocalCloud(project, stack="fifo", port=0, stream=quiet(), state_root=tmp_path) as cloud:
        url = cloud.outputs["listener_url"]
        event = {
            "object_type": "activity",
            "aspect_type": "create",
            "object_id": 42,
            "owner_id": 7,
            "event_time": 1,
        }
        # WHEN a sender posts the same body three times (its retries), plus one other event
        answers = [post_json(url, "append_queue", event) for _ in range(3)]
        other = post_json(url, "append_queue", {**event, "object_id": 43})
        # THEN every post is answered 200
        assert [status for status, _ in answers] == [200, 200, 200]
        assert other[0] == 200
        processor = cloud.outputs["processor_function_name"]
        wait_for(
            lambda: other[1]["message_id"] in log_text(cloud.log_dir, processor),
            timeout=30,
            what="the other event to be processed",
        )
        # AND the duplicated event was one message, processed before the other event of its
        # group (FIFO order), and again only on a redelivery (a higher receive count)
        processed = [
            json.loads(line.partition(" ")[2])
            for line in log_text(cloud.log_dir, processor).splitlines()
            if "message processed" in line and '"object_id": 42' in line
        ]
        assert {record["message_id"] for record in processed} == {answers[0][1]["message_id"]}
        counts = [record["receive_count"] for record in processed]
        assert counts[0] == 1 and counts == sorted(set(counts)), counts
        assert processed[0]["group_id"] == "7"
