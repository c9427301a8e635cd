"""The consumer: the processor function fed by an event source mapping on the queue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import limits
from infra.idempotency import ITEM_ACTIONS, TABLE_VARIABLE, TTL_VARIABLE, idempotency_table
from infra.policies import CONSUME_ACTIONS, Statement, allow
from infra.python_function import PythonFunction, PythonFunctionArgs, RuntimeArgs
from infra.queue import Queue, QueueArgs
from infra.settings import Problem, boolean, integer, setting
from infra.stack import StackArgs
from policy.rules import required_visibility_timeout

COMPONENT_TYPE = "async-webhook:index:Consumer"

IDEMPOTENCY_TTL_SECONDS = (3600, 365 * 24 * 3600)
"""An hour to a year: how long a processed delivery is remembered."""


@dataclass(frozen=True, kw_only=True)
class ConsumerArgs:
    """How the processor is sized and how the queue feeds it."""

    timeout_seconds: int = setting(
        "processorTimeoutSeconds", 30, integer(*limits.LAMBDA_TIMEOUT_SECONDS)
    )
    """Lambda stops a batch that runs longer; the whole batch then comes back."""
    memory_mb: int = setting("processorMemoryMb", 256, integer(*limits.LAMBDA_MEMORY_MB))
    """Memory in MB (CPU scales with it)."""
    batch_size: int = setting("batchSize", 10, integer(*limits.STANDARD_BATCH_SIZE))
    """Most records per invocation (at most 10 on a FIFO queue)."""
    batching_window_seconds: int = setting(
        "batchingWindowSeconds", 0, integer(*limits.BATCHING_WINDOW_SECONDS)
    )
    """How long the mapping gathers records before invoking (0 = no waiting)."""
    max_concurrency: int | None = setting("maxConcurrency", None, integer(*limits.MAX_CONCURRENCY))
    """Most concurrent invocations the mapping starts; None = no mapping limit."""
    idempotency: bool = setting("idempotency", False, boolean)
    """Process each delivery at most once (a DynamoDB table of processed delivery ids)."""
    idempotency_ttl_seconds: int = setting(
        "idempotencyTtlSeconds", 7 * 24 * 3600, integer(*IDEMPOTENCY_TTL_SECONDS)
    )
    """How long a processed delivery is remembered. Seven days: longer than the senders' retry
    windows (Stripe retries for three days) and the queue's default retention (four days)."""

    @property
    def visibility_timeout_seconds(self) -> int:
        """What the queue feeding this consumer must give each received batch. Within SQS's
        12-hour maximum for any allowed timeout and window (6 x 900 + 300 = 5,700 s)."""
        return required_visibility_timeout(self.timeout_seconds, self.batching_window_seconds)

    def problems(self, queue: QueueArgs, failed: frozenset[str] = frozenset()) -> list[Problem]:
        found = self._idempotency_problems(queue, failed)
        if {"fifo", "batchSize", "batchingWindowSeconds"} & failed:
            return found  # each rule below reads one of them
        fifo_max = limits.FIFO_BATCH_SIZE[1]
        if queue.fifo and self.batch_size > fifo_max:
            found.append(
                Problem(
                    "batchSize",
                    self.batch_size,
                    f"must be at most {fifo_max} on a FIFO queue (fifo: true)",
                )
            )
        if queue.fifo and self.batching_window_seconds != 0:
            found.append(
                Problem(
                    "batchingWindowSeconds",
                    self.batching_window_seconds,
                    "must be 0 for a FIFO queue (fifo: true)",
                )
            )
        unbatched = limits.BATCH_SIZE_WITHOUT_WINDOW
        if not queue.fifo and self.batch_size > unbatched and self.batching_window_seconds < 1:
            found.append(
                Problem(
                    "batchingWindowSeconds",
                    self.batching_window_seconds,
                    f"must be at least 1 when batchSize ({self.batch_size}) is over {unbatched}",
                )
            )
        return found

    def _idempotency_problems(self, queue: QueueArgs, failed: frozenset[str]) -> list[Problem]:
        if not self.idempotency or {"idempotency", "idempotencyTtlSeconds"} & failed:
            return []
        if "messageRetentionSeconds" in failed:
            return []
        retention = queue.message_retention_seconds
        if self.idempotency_ttl_seconds < retention:
            return [
                Problem(
                    "idempotencyTtlSeconds",
                    self.idempotency_ttl_seconds,
                    f"must be at least messageRetentionSeconds ({retention}): SQS may deliver a "
                    "message again until it expires, and a forgotten delivery runs twice",
                )
            ]
        return []


class Consumer(pulumi.ComponentResource):
    """Function + role + log group + an event source mapping that reports partial failures."""

    function_name: pulumi.Output[str]
    """Physical name of the processor function."""
    function_arn: pulumi.Output[str]
    """ARN of the processor function."""
    mapping_uuid: pulumi.Output[str]
    """Identifier of the event source mapping (to disable it during an incident)."""
    idempotency_table_name: pulumi.Output[str] | None
    """The table of processed deliveries; None when `idempotency` is off."""

    def __init__(
        self,
        name: str,
        args: ConsumerArgs,
        *,
        queue: Queue,
        code: Path,
        stack: StackArgs,
        runtime: RuntimeArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        statements: list[Statement] = [allow("ConsumeQueue", CONSUME_ACTIONS, queue.arn)]
        environment: dict[str, pulumi.Input[str]] = {}
        self.idempotency_table = None
        self.idempotency_table_name = None
        if args.idempotency:
            self.idempotency_table = idempotency_table(
                f"{name}-idempotency",
                table_name=f"{stack.prefix}-{name}-idempotency",
                stack=stack,
                parent=self,
            )
            statements.append(
                allow("UseIdempotencyTable", ITEM_ACTIONS, self.idempotency_table.arn)
            )
            environment[TABLE_VARIABLE] = self.idempotency_table.name
            environment[TTL_VARIABLE] = str(args.idempotency_ttl_seconds)
            self.idempotency_table_name = self.idempotency_table.name

        self.function = PythonFunction(
            name,
            PythonFunctionArgs(
                function_name=f"{stack.prefix}-{name}",
                source_dir=code,
                memory_mb=args.memory_mb,
                timeout_seconds=args.timeout_seconds,
                runtime=runtime,
                stack=stack,
                statements=statements,
                environment=environment,
                description="Processes queued webhook requests",
            ),
            opts=child,
        )
        # Without ReportBatchItemFailures a returned batchItemFailures list is ignored and
        # the whole batch counts as processed: failed records would be silently deleted.
        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping",
            event_source_arn=queue.arn,
            function_name=self.function.function_arn,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_seconds or None,
            function_response_types=["ReportBatchItemFailures"],
            tags=stack.resource_tags,
            scaling_config=(
                {"maximum_concurrency": args.max_concurrency}
                if args.max_concurrency is not None
                else None
            ),
            # AWS checks the role's SQS permissions when the mapping is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.function]),
        )

        self.function_name = self.function.function_name
        self.function_arn = self.function.function_arn
        self.mapping_uuid = self.mapping.uuid
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "mapping_uuid": self.mapping_uuid,
                "idempotency_table_name": self.idempotency_table_name,
            }
        )
