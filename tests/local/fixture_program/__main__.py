"""Fixture: an echo function behind a Function URL, and a worker fed by a queue with a DLQ."""

import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
queue_name = config.require("queueName")
token = config.get_secret("token")

trust = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
role = aws.iam.Role("role", assume_role_policy=trust)

dlq = aws.sqs.Queue("dlq", name=f"{queue_name}-dlq")
queue = aws.sqs.Queue(
    "queue",
    name=queue_name,
    visibility_timeout_seconds=2,
    redrive_policy=dlq.arn.apply(
        lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2})
    ),
)

# The role may consume the queue (the mapping needs it) but not send to it.
aws.iam.RolePolicy(
    "consume",
    role=role.id,
    policy=queue.arn.apply(
        lambda arn: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "sqs:ReceiveMessage",
                            "sqs:DeleteMessage",
                            "sqs:GetQueueAttributes",
                            "sqs:ChangeMessageVisibility",
                        ],
                        "Resource": arn,
                    }
                ],
            }
        )
    ),
)


def echo_function(
    name: str, **settings: object
) -> tuple[aws.lambda_.Function, aws.lambda_.FunctionUrl]:
    """functions/echo behind a Function URL."""
    function = aws.lambda_.Function(
        name,
        role=role.arn,
        runtime="python3.13",
        handler="echo.handler",
        timeout=1,
        code=pulumi.FileArchive("functions/echo"),
        **settings,
    )
    return function, aws.lambda_.FunctionUrl(
        f"{name}-url", function_name=function.name, authorization_type="NONE"
    )


echo, url = echo_function(
    "echo",
    environment={
        "variables": {"GREETING": "hello", "TOKEN": token or "none", "QUEUE_URL": queue.url}
    },
)
# The same code with reserved concurrency 1: a second concurrent request is throttled.
_, reserved_url = echo_function("reserved", reserved_concurrent_executions=1)

worker = aws.lambda_.Function(
    "worker",
    role=role.arn,
    runtime="python3.13",
    handler="handler.handler",
    timeout=5,
    code=pulumi.FileArchive("functions/worker"),
)
aws.lambda_.EventSourceMapping(
    "worker-mapping",
    event_source_arn=queue.arn,
    function_name=worker.arn,
    batch_size=5,
    function_response_types=["ReportBatchItemFailures"],
)

pulumi.export("echo_url", url.function_url)
pulumi.export("queue_url", queue.url)
pulumi.export("dlq_url", dlq.url)
pulumi.export("worker_name", worker.name)
pulumi.export("echo_name", echo.name)
pulumi.export("reserved_url", reserved_url.function_url)
