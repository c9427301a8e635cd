"""The work queue: main queue + dead-letter queue, encrypted, TLS-only, with redrive."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import defaults as d
from infra.policies import deny_insecure_transport, document

COMPONENT_TYPE = "async-webhook:index:Queue"


@dataclass(frozen=True, kw_only=True)
class QueueArgs:
    """Shape of the main queue; the dead-letter queue is derived from it."""

    name: str
    """Physical name of the main queue without `.fifo`; the DLQ is `<name>-dlq`."""
    visibility_timeout_seconds: int
    """At least six processor timeouts plus the batching window (derived by the config)."""
    fifo: bool = d.FIFO
    """FIFO with content-based deduplication, so a sender's identical retries collapse."""
    message_retention_seconds: int = d.MESSAGE_RETENTION_SECONDS
    """How long the main queue keeps a message."""
    dlq_retention_seconds: int = d.DLQ_RETENTION_SECONDS
    """Longer than the main queue's, so a failed message is not lost on arrival."""
    max_message_bytes: int = d.MAX_MESSAGE_BYTES
    """Largest message either queue accepts."""
    max_receive_count: int = d.MAX_RECEIVE_COUNT
    """Receives before a message moves to the dead-letter queue."""


class Queue(pulumi.ComponentResource):
    """An SQS queue that cannot lose a message quietly."""

    url: pulumi.Output[str]
    """URL of the main queue."""
    arn: pulumi.Output[str]
    """ARN of the main queue."""
    dlq_url: pulumi.Output[str]
    """URL of the dead-letter queue."""
    dlq_arn: pulumi.Output[str]
    """ARN of the dead-letter queue."""

    def __init__(
        self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        suffix = ".fifo" if args.fifo else ""
        dedup = True if args.fifo else None  # SQS accepts the flag on FIFO queues only

        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{args.name}-dlq{suffix}",
            message_retention_seconds=args.dlq_retention_seconds,
            max_message_size=args.max_message_bytes,
            sqs_managed_sse_enabled=True,
            fifo_queue=args.fifo,
            content_based_deduplication=dedup,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=f"{args.name}{suffix}",
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            message_retention_seconds=args.message_retention_seconds,
            max_message_size=args.max_message_bytes,
            receive_wait_time_seconds=20,
            sqs_managed_sse_enabled=True,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": self.dlq.arn, "maxReceiveCount": args.max_receive_count}
            ),
            fifo_queue=args.fifo,
            content_based_deduplication=dedup,
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=self.dlq.url,
            redrive_allow_policy=pulumi.Output.json_dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [self.queue.arn]}
            ),
            opts=child,
        )
        for queue, label in ((self.queue, "queue"), (self.dlq, "dlq")):
            aws.sqs.QueuePolicy(
                f"{name}-{label}-tls-only",
                queue_url=queue.url,
                policy=document([deny_insecure_transport(queue.arn)]),
                opts=child,
            )

        self.url = self.queue.url
        self.arn = self.queue.arn
        self.dlq_url = self.dlq.url
        self.dlq_arn = self.dlq.arn
        self.register_outputs(
            {"url": self.url, "arn": self.arn, "dlq_url": self.dlq_url, "dlq_arn": self.dlq_arn}
        )
