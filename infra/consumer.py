"""The consumer: the processor function fed by an event source mapping on the queue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import limits
from infra.policies import CONSUME_ACTIONS, allow
from infra.python_function import PythonFunction, PythonFunctionArgs, RuntimeArgs
from infra.queue import Queue, QueueArgs
from infra.settings import Problem, integer, setting
from infra.stack import StackArgs
from policy.rules import required_visibility_timeout

COMPONENT_TYPE = "async-webhook:index:Consumer"


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

    @property
    def visibility_timeout_seconds(self) -> int:
        """What the queue feeding this consumer must give each received batch. Within SQS's
        12-hour maximum for any allowed timeout and window (6 x 900 + 300 = 5,700 s)."""
        return required_visibility_timeout(self.timeout_seconds, self.batching_window_seconds)

    def problems(self, queue: QueueArgs, failed: frozenset[str] = frozenset()) -> list[Problem]:
        if {"fifo", "batchSize", "batchingWindowSeconds"} & failed:
            return []  # each rule below reads one of them
        found: list[Problem] = []
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


class Consumer(pulumi.ComponentResource):
    """Function + role + log group + an event source mapping that reports partial failures."""

    function_name: pulumi.Output[str]
    """Physical name of the processor function."""
    function_arn: pulumi.Output[str]
    """ARN of the processor function."""
    mapping_uuid: pulumi.Output[str]
    """Identifier of the event source mapping (to disable it during an incident)."""

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

        self.function = PythonFunction(
            name,
            PythonFunctionArgs(
                function_name=f"{stack.prefix}-{name}",
                source_dir=code,
                memory_mb=args.memory_mb,
                timeout_seconds=args.timeout_seconds,
                runtime=runtime,
                stack=stack,
                statements=[allow("ConsumeQueue", CONSUME_ACTIONS, queue.arn)],
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
            }
        )
