"""async-webhook: listener (Function URL) -> SQS queue (+ DLQ) -> processor.

Reads the stack configuration, composes the components, exports the outputs. Nothing else.
"""

from functools import partial
from pathlib import Path

import pulumi

from infra import (
    Consumer,
    ConsumerArgs,
    FunctionSettings,
    Listener,
    ListenerArgs,
    Queue,
    QueueArgs,
    load_settings,
)

FUNCTIONS = Path(__file__).resolve().parent / "functions"

settings = load_settings()
prefix = settings.name_prefix
function_settings = partial(
    FunctionSettings,
    runtime=settings.runtime,
    architecture=settings.architecture,
    log_retention_days=settings.log_retention_days,
)

queue = Queue(
    "webhook",
    QueueArgs(
        name=prefix,
        fifo=settings.fifo,
        visibility_timeout_seconds=settings.visibility_timeout_seconds,
        message_retention_seconds=settings.message_retention_seconds,
        dlq_retention_seconds=settings.dlq_retention_seconds,
        max_message_bytes=settings.max_message_bytes,
        max_receive_count=settings.max_receive_count,
    ),
)

listener = Listener(
    "listener",
    ListenerArgs(
        function=function_settings(
            function_name=f"{prefix}-listener",
            source_dir=FUNCTIONS / "listener",
            memory_mb=settings.listener_memory_mb,
            timeout_seconds=settings.listener_timeout_seconds,
            reserved_concurrency=settings.listener_reserved_concurrency,
        ),
        queue_url=queue.url,
        queue_arn=queue.arn,
        paths=settings.listener_paths,
        accepted_content_types=settings.accepted_content_types,
        max_message_bytes=settings.max_message_bytes,
        fifo=settings.fifo,
        message_group_field=settings.message_group_field,
        auth_type=settings.listener_auth_type,
        verify_token=settings.verify_token,
        verify_token_parameter_name=f"/{prefix}/verify-token",
    ),
)

processor = Consumer(
    "processor",
    ConsumerArgs(
        function=function_settings(
            function_name=f"{prefix}-processor",
            source_dir=FUNCTIONS / "processor",
            memory_mb=settings.processor_memory_mb,
            timeout_seconds=settings.processor_timeout_seconds,
        ),
        queue_arn=queue.arn,
        batch_size=settings.batch_size,
        batching_window_seconds=settings.batching_window_seconds,
        max_concurrency=settings.max_concurrency,
    ),
)

pulumi.export("listener_url", listener.url)
pulumi.export("queue_url", queue.url)
pulumi.export("queue_arn", queue.arn)
pulumi.export("dlq_url", queue.dlq_url)
pulumi.export("dlq_arn", queue.dlq_arn)
pulumi.export("listener_function_name", listener.function_name)
pulumi.export("processor_function_name", processor.function_name)
