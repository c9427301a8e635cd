"""Fixture: a queue with a dead-letter queue and nothing else, so it is served in a second."""

import json

import pulumi
import pulumi_aws as aws

dlq = aws.sqs.Queue("dlq", name="ops-jobs-dlq")
queue = aws.sqs.Queue(
    "queue",
    name="ops-jobs",
    redrive_policy=dlq.arn.apply(
        lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
    ),
)

pulumi.export("queue_url", queue.url)
pulumi.export("dlq_url", dlq.url)
