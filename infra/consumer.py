"""The consumer: the processor function fed by an event source mapping on the queue."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import defaults as d
from infra.policies import CONSUME_ACTIONS, allow
from infra.python_function import FunctionSettings, PythonFunction, PythonFunctionArgs

COMPONENT_TYPE = "async-webhook:index:Consumer"


@dataclass(frozen=True, kw_only=True)
class ConsumerArgs:
    """Which queue feeds the processor, and how."""

    function: FunctionSettings
    """Name, code and sizing of the processor function."""
    queue_arn: pulumi.Input[str]
    """The queue to poll; the only one the processor may touch."""
    batch_size: int = d.BATCH_SIZE
    """Most records per invocation."""
    batching_window_seconds: int = d.BATCHING_WINDOW_SECONDS
    """How long the mapping gathers records before invoking (0 = no waiting)."""
    max_concurrency: int | None = None
    """Most concurrent invocations the mapping starts (2-1000); None = no mapping limit."""


class Consumer(pulumi.ComponentResource):
    """Function + role + log group + an event source mapping that reports partial failures."""

    function_name: pulumi.Output[str]
    """Physical name of the processor function."""
    function_arn: pulumi.Output[str]
    """ARN of the processor function."""
    mapping_uuid: pulumi.Output[str]
    """Identifier of the event source mapping (to disable it during an incident)."""

    def __init__(
        self, name: str, args: ConsumerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.function = PythonFunction(
            name,
            PythonFunctionArgs(
                settings=args.function,
                statements=[allow("ConsumeQueue", CONSUME_ACTIONS, args.queue_arn)],
                description="Processes queued webhook requests",
            ),
            opts=child,
        )
        # Without ReportBatchItemFailures a returned batchItemFailures list is ignored and
        # the whole batch counts as processed: failed records would be silently deleted.
        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping",
            event_source_arn=args.queue_arn,
            function_name=self.function.function_arn,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_seconds or None,
            function_response_types=["ReportBatchItemFailures"],
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
