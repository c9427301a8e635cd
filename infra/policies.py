"""IAM policy documents built from Outputs, scoped to exact ARNs.

Each helper returns a plain statement dict whose values may be Outputs; `document()` turns a
list of them into the JSON string IAM wants with `Output.json_dumps`, so no policy is ever a
hand-written string and no resource is ever "*" (but X-Ray's, which has no other).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

Statement = dict[str, Any]

LAMBDA_TRUST: Statement = {
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole",
}

SEND_ACTIONS = ("sqs:SendMessage",)
CONSUME_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
XRAY_WRITE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
"""What a function with active tracing needs; X-Ray authorizes them on no resource but "*"."""


def document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """A policy document as the JSON string IAM, SQS and Lambda accept."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(
    sid: str,
    actions: Sequence[str],
    resource: pulumi.Input[str] | Sequence[pulumi.Input[str]],
) -> Statement:
    """One Allow statement on exactly the resources named (ARNs, never a wildcard)."""
    listed = list(resource) if isinstance(resource, list | tuple) else resource
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": listed}


def log_streams(log_group_arn: pulumi.Input[str]) -> Statement:
    """Write access to the streams of one log group (the ARN provider output has no `:*`)."""
    return allow(
        "WriteOwnLogs",
        LOG_ACTIONS,
        pulumi.Output.from_input(log_group_arn).apply(lambda arn: f"{arn}:*"),
    )


def xray_write() -> Statement:
    """The trace-writing actions of active tracing: the one statement here on "*", because
    X-Ray offers no resource to scope them to (the policy pack allows exactly these)."""
    return {
        "Sid": "WriteTraces",
        "Effect": "Allow",
        "Action": list(XRAY_WRITE_ACTIONS),
        "Resource": "*",
    }


def deny_insecure_transport(queue_arn: pulumi.Input[str]) -> Statement:
    """Refuses any request to the queue that does not arrive over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": queue_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
