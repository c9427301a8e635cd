"""The work queue: main queue + dead-letter queue, encrypted, TLS-only, with redrive."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import limits
from infra.policies import deny_insecure_transport, document
from infra.settings import Problem, boolean, integer, setting
from infra.stack import StackArgs

COMPONENT_TYPE = "async-webhook:index:Queue"


@dataclass(frozen=True, kw_only=True)
class QueueArgs:
    """Shape of the main queue; the dead-letter queue is derived from it."""

    fifo: bool = setting("fifo", False, boolean)
    """FIFO with content-based deduplication, so a sender's identical retries collapse."""
    max_receive_count: int = setting("maxReceiveCount", 5, integer(*limits.MAX_RECEIVE_COUNT))
    """Receives before a message moves to the dead-letter queue (AWS advises at least 5)."""
    message_retention_seconds: int = setting(
        "messageRetentionSeconds", 4 * 24 * 3600, integer(*limits.RETENTION_SECONDS)
    )
    """How long the main queue keeps a message (four days: SQS's own default)."""
    dlq_retention_seconds: int = setting(
        "dlqRetentionSeconds", 14 * 24 * 3600, integer(*limits.RETENTION_SECONDS)
    )
    """The SQS maximum, so a message outlives its trip to the DLQ (age counts from the first
    send, not from the move)."""
    max_message_bytes: int = setting(
        "maxMessageBytes", limits.MESSAGE_BYTES[1], integer(*limits.MESSAGE_BYTES)
    )
    """Largest message either queue accepts (body plus attributes)."""

    def problems(self, failed: frozenset[str] = frozenset()) -> list[Problem]:
        if {"dlqRetentionSeconds", "messageRetentionSeconds"} & failed:
            return []
        if self.dlq_retention_seconds > self.message_retention_seconds:
            return []
        return [
            Problem(
                "dlqRetentionSeconds",
                self.dlq_retention_seconds,
                f"must be longer than messageRetentionSeconds ({self.message_retention_seconds})"
                ", or a message could expire on its way to the dead-letter queue",
            )
        ]


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

    fifo: bool
    """Whether both queues are FIFO (the listener then sends with a message group)."""
    max_message_bytes: int
    """Largest message the queue accepts (the listener answers 413 above it)."""

    def __init__(
        self,
        name: str,
        args: QueueArgs,
        *,
        stack: StackArgs,
        visibility_timeout_seconds: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`visibility_timeout_seconds` comes from the queue's consumer, whose timeout and
        batching window it must cover (`ConsumerArgs.visibility_timeout_seconds`)."""
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.fifo = args.fifo
        self.max_message_bytes = args.max_message_bytes
        base = stack.prefix
        suffix = ".fifo" if args.fifo else ""
        dedup = True if args.fifo else None  # SQS accepts the flag on FIFO queues only

        tags = stack.resource_tags
        holds_data = stack.data_options(self)
        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{base}-dlq{suffix}",
            message_retention_seconds=args.dlq_retention_seconds,
            max_message_size=args.max_message_bytes,
            sqs_managed_sse_enabled=True,
            fifo_queue=args.fifo,
            content_based_deduplication=dedup,
            tags=tags,
            opts=holds_data,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=f"{base}{suffix}",
            visibility_timeout_seconds=visibility_timeout_seconds,
            message_retention_seconds=args.message_retention_seconds,
            max_message_size=args.max_message_bytes,
            receive_wait_time_seconds=20,
            sqs_managed_sse_enabled=True,
            redrive_policy=pulumi.Output.json_dumps(
                {"deadLetterTargetArn": self.dlq.arn, "maxReceiveCount": args.max_receive_count}
            ),
            fifo_queue=args.fifo,
            content_based_deduplication=dedup,
            tags=tags,
            opts=holds_data,
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
