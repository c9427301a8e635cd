"""A Python Lambda packaged from one folder, with its own role and its own log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import defaults as d
from infra.packaging import function_archive
from infra.policies import LAMBDA_TRUST, Statement, document, log_streams

COMPONENT_TYPE = "async-webhook:index:PythonFunction"


@dataclass(frozen=True, kw_only=True)
class FunctionSettings:
    """What sizes and places one function; shared by the listener and the consumer."""

    function_name: str
    """Physical name; also fixes the log group `/aws/lambda/<function_name>`."""
    source_dir: Path
    """The folder under `functions/` that is packaged alone as the deployment archive."""
    handler: str = "handler.handler"
    """Module and function inside the package, as Lambda resolves it."""
    memory_mb: int
    """Memory in MB (CPU scales with it)."""
    timeout_seconds: int
    """Lambda kills an invocation that runs longer."""
    runtime: str = d.RUNTIME
    """A supported Python runtime identifier, e.g. python3.13."""
    architecture: str = d.ARCHITECTURE
    """arm64 or x86_64."""
    log_retention_days: int = d.LOG_RETENTION_DAYS
    """How long CloudWatch keeps the function's logs."""
    reserved_concurrency: int | None = None
    """Caps concurrent executions; None leaves the function on the account's shared pool."""


@dataclass(frozen=True, kw_only=True)
class PythonFunctionArgs:
    """A function, its environment and the only permissions it gets beyond its own logs."""

    settings: FunctionSettings
    """Name, code and sizing."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain configuration only: secrets travel as references (e.g. a parameter name)."""
    statements: Sequence[Statement] = ()
    """Allow statements for the role, each scoped to exact ARNs."""
    description: str = ""
    """Shown in the Lambda console."""


class PythonFunction(pulumi.ComponentResource):
    """Role + log group + log policy + access policy + function, wired in that order.

    The function depends on its log group and policies so that its first invocation can log
    and act: a function created before its role's policy fails its first calls on AWS, and
    one created before its log group makes Lambda create the group without retention.
    """

    function: aws.lambda_.Function
    """The Lambda function."""
    role: aws.iam.Role
    """The function's own execution role; no other function uses it."""
    log_group: aws.cloudwatch.LogGroup
    """`/aws/lambda/<function name>` with retention set."""
    function_name: pulumi.Output[str]
    """Physical name of the function."""
    function_arn: pulumi.Output[str]
    """ARN of the function."""

    def __init__(
        self, name: str, args: PythonFunctionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        archive = function_archive(s.source_dir, s.handler)

        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=document([LAMBDA_TRUST]),
            description=f"Execution role of {s.function_name} only",
            opts=child,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{s.function_name}",
            retention_in_days=s.log_retention_days,
            opts=child,
        )
        policies: list[pulumi.Resource] = [
            aws.iam.RolePolicy(
                f"{name}-log-policy",
                role=self.role.id,
                policy=document([log_streams(self.log_group.arn)]),
                opts=child,
            )
        ]
        if args.statements:
            policies.append(
                aws.iam.RolePolicy(
                    f"{name}-access-policy",
                    role=self.role.id,
                    policy=document(args.statements),
                    opts=child,
                )
            )

        self.function = aws.lambda_.Function(
            name,
            name=s.function_name,
            description=args.description,
            role=self.role.arn,
            runtime=aws.lambda_.Runtime(s.runtime),
            handler=s.handler,
            code=archive,
            architectures=[s.architecture],
            memory_size=s.memory_mb,
            timeout=s.timeout_seconds,
            reserved_concurrent_executions=s.reserved_concurrency,
            environment={"variables": dict(args.environment)} if args.environment else None,
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, *policies]),
        )
        self.function_name = self.function.name
        self.function_arn = self.function.arn
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "role_arn": self.role.arn,
                "log_group_name": self.log_group.name,
            }
        )
