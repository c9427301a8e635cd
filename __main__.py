"""async-webhook: listener (Function URL) -> SQS queue (+ DLQ) -> processor.

Reads the stack configuration, composes the components, exports the outputs. Nothing else.
"""

from pathlib import Path

import pulumi

from infra import Consumer, Listener, Queue, load_config

FUNCTIONS = Path(__file__).resolve().parent / "functions"

config = load_config()

queue = Queue(
    "webhook",
    config.queue,
    # The queue hides a received batch for as long as its consumer may take over it.
    visibility_timeout_seconds=config.processor.visibility_timeout_seconds,
    stack=config.stack,
)
listener = Listener(
    "listener",
    config.listener,
    queue=queue,
    code=FUNCTIONS / "listener",
    runtime=config.runtime,
    stack=config.stack,
)
processor = Consumer(
    "processor",
    config.processor,
    queue=queue,
    code=FUNCTIONS / "processor",
    runtime=config.runtime,
    stack=config.stack,
)

pulumi.export("listener_url", listener.url)
pulumi.export("queue_url", queue.url)
pulumi.export("queue_arn", queue.arn)
pulumi.export("dlq_url", queue.dlq_url)
pulumi.export("dlq_arn", queue.dlq_arn)
pulumi.export("listener_function_name", listener.function_name)
pulumi.export("processor_function_name", processor.function_name)
