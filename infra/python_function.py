"""A Python Lambda packaged from one folder, with its own role and its own log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra import limits
from infra.packaging import Target, function_archive
from infra.policies import LAMBDA_TRUST, Statement, document, log_streams, xray_write
from infra.settings import boolean, one_of, setting
from infra.stack import StackArgs

COMPONENT_TYPE = "async-webhook:index:PythonFunction"


@dataclass(frozen=True, kw_only=True)
class RuntimeArgs:
    """The runtime every function of the stack shares."""

    runtime: str = setting("runtime", "python3.13", one_of(limits.RUNTIMES))
    """A supported Python runtime identifier."""
    architecture: str = setting("architecture", "arm64", one_of(limits.ARCHITECTURES))
    """Graviton (arm64) costs less per GB-second and is as fast or faster for this work."""
    log_retention_days: int = setting("logRetentionDays", 14, one_of(limits.LOG_RETENTION_DAYS))
    """How long CloudWatch keeps each function's logs."""
    log_level: str = setting("logLevel", "INFO", one_of(limits.APPLICATION_LOG_LEVELS))
    """The least level of the functions' own log lines that Lambda keeps (JSON log format)."""
    tracing: bool = setting("tracing", False, boolean)
    """AWS X-Ray active tracing of both functions (the roles get the two X-Ray write actions)."""


@dataclass(frozen=True, kw_only=True)
class PythonFunctionArgs:
    """One function: its code, its size, its environment and the permissions it needs."""

    function_name: str
    """Physical name; also fixes the log group `/aws/lambda/<function_name>`."""
    source_dir: Path
    """The folder under `functions/` that is packaged alone as the deployment archive."""
    memory_mb: int
    """Memory in MB (CPU scales with it)."""
    timeout_seconds: int
    """Lambda stops an invocation that runs longer."""
    runtime: RuntimeArgs
    """Runtime, architecture, logging and tracing, shared by the stack's functions."""
    stack: StackArgs
    """The stack's identity, for tags."""
    handler: str = "handler.handler"
    """Module and function inside the package, as Lambda resolves it."""
    reserved_concurrency: int | None = None
    """Caps concurrent executions; None leaves the function on the account's shared pool."""
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
        child = pulumi.ResourceOptions(parent=self)
        # Dependencies (a requirements.txt in the folder) are installed for the function's
        # own runtime and architecture, not this machine's.
        archive = function_archive(
            args.source_dir,
            args.handler,
            Target(args.runtime.runtime, args.runtime.architecture),
        )
        tags = args.stack.resource_tags

        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=document([LAMBDA_TRUST]),
            description=f"Execution role of {args.function_name} only",
            tags=tags,
            opts=child,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.runtime.log_retention_days,
            tags=tags,
            opts=child,
        )
        own_logs = [log_streams(self.log_group.arn)]
        if args.runtime.tracing:
            own_logs.append(xray_write())
        policies: list[pulumi.Resource] = [
            aws.iam.RolePolicy(
                f"{name}-log-policy",
                role=self.role.id,
                policy=document(own_logs),
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
            name=args.function_name,
            description=args.description,
            role=self.role.arn,
            runtime=aws.lambda_.Runtime(args.runtime.runtime),
            handler=args.handler,
            code=archive,
            architectures=[args.runtime.architecture],
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency,
            environment={"variables": dict(args.environment)} if args.environment else None,
            # JSON lines with a level and a timestamp are filtered by Lambda itself; the
            # system level keeps START/END/REPORT (init and billed durations).
            logging_config={
                "log_format": "JSON",
                "log_group": self.log_group.name,
                "application_log_level": args.runtime.log_level,
                "system_log_level": "INFO",
            },
            tracing_config={"mode": "Active"} if args.runtime.tracing else None,
            tags=tags,
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
