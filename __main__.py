"""async-webhook: listener (Function URL) -> SQS queue (+ DLQ) -> processor.

Reads the stack configuration, composes the components, exports the outputs. Nothing else.
"""

from pathlib import Path

import pulumi

from infra import Consumer, Listener, Monitoring, Queue, load_config

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
# alarms: false declares no alarm, topic or dashboard (docs/design.md, "Monitoring").
monitoring = (
    Monitoring(
        "monitoring",
        config.monitoring,
        queue=queue,
        listener=listener,
        processor=processor,
        stack=config.stack,
    )
    if config.monitoring.alarms
    else None
)

pulumi.export("listener_url", listener.url)
pulumi.export("queue_url", queue.url)
pulumi.export("queue_arn", queue.arn)
pulumi.export("dlq_url", queue.dlq_url)
pulumi.export("dlq_arn", queue.dlq_arn)
pulumi.export("listener_function_name", listener.function_name)
pulumi.export("processor_function_name", processor.function_name)
if monitoring is not None:
    pulumi.export("alarm_topic_arn", monitoring.topic_arn)
    pulumi.export("dashboard_url", monitoring.dashboard_url)
