"""The listener: a function behind a Function URL that verifies a request and enqueues it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import limits
from infra.policies import SEND_ACTIONS, allow
from infra.python_function import PythonFunction, PythonFunctionArgs, RuntimeArgs
from infra.queue import Queue, QueueArgs
from infra.routes import (
    DEFAULT_ROUTES,
    Route,
    parse_route_secrets,
    parse_routes,
    secret_problems,
)
from infra.settings import Problem, integer, one_of, or_none, setting, string_list, text
from infra.stack import StackArgs

COMPONENT_TYPE = "async-webhook:index:Listener"

CONFIG_VARIABLE = "LISTENER_CONFIG"
"""The one environment variable the listener reads its settings from (JSON)."""

DEFAULT_RESERVED_CONCURRENCY = 20
"""At ~20 ms a request (one SQS call), 20 executions answer ~1,000 requests/s: far more than
webhook senders send, and a ceiling on what a flood can cost (README "Abuse and cost")."""

MIN_TIMEOUT_SECONDS = 2
"""The listener's SQS work alone may take up to about 1.05 s (its retry budget)."""

_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9*][a-z0-9!#$&^_.+*-]*")
_FIELD = re.compile(r"\S{1,256}")


def _media_type_error(value: str) -> str | None:
    if _MEDIA_TYPE.fullmatch(value.lower()):
        return None
    return "each entry must be a media type such as application/json (no parameters)"


@dataclass(frozen=True, kw_only=True)
class ListenerArgs:
    """What the listener accepts, from whom, and how it is sized."""

    routes: tuple[Route, ...] = setting("routes", DEFAULT_ROUTES, parse_routes)
    """Paths and the sender each one verifies (docs/design.md, "Routes and sender
    verification"); by default the original demo's one open path."""
    route_secrets: tuple[tuple[str, tuple[str, ...]], ...] = setting(
        "routeSecrets", (), parse_route_secrets, secret=True
    )
    """Route name -> its secret (or current and previous); only ever stored in SSM."""
    auth_type: str = setting("listenerAuthType", "NONE", one_of(limits.FUNCTION_URL_AUTH_TYPES))
    """NONE: public, what third-party senders need (they cannot sign with SigV4)."""
    accepted_content_types: tuple[str, ...] = setting(
        "acceptedContentTypes",
        ("application/json",),
        string_list(_media_type_error, key="acceptedContentTypes"),
    )
    """Media types accepted on POST; anything else is answered 415."""
    timeout_seconds: int = setting(
        "listenerTimeoutSeconds", 5, integer(*limits.LAMBDA_TIMEOUT_SECONDS)
    )
    """Well over the listener's SQS budget, well under anything a sender waits."""
    memory_mb: int = setting("listenerMemoryMb", 256, integer(*limits.LAMBDA_MEMORY_MB))
    """More memory buys more CPU, which shortens the cold start that eats the sender's
    deadline."""
    reserved_concurrency: int | None = setting(
        "listenerReservedConcurrency",
        DEFAULT_RESERVED_CONCURRENCY,
        or_none(integer(*limits.RESERVED_CONCURRENCY)),
    )
    """Caps concurrent executions, and so the rate and cost of a flood of requests (beyond it
    the Function URL answers 429, which is not billed); "none": the account's shared pool."""
    message_group_field: str | None = setting(
        "messageGroupField",
        None,
        text(_FIELD, "must be a JSON field name without spaces (at most 256 characters)"),
    )
    """FIFO only: the top-level JSON body field whose value is the message group id."""

    @property
    def secrets(self) -> dict[str, tuple[str, ...]]:
        return dict(self.route_secrets)

    def problems(self, queue: QueueArgs, failed: frozenset[str] = frozenset()) -> list[Problem]:
        found: list[Problem] = []
        if not {"routes", "routeSecrets"} & failed:
            found.extend(secret_problems(self.routes, self.secrets))
        if self.message_group_field is not None and not queue.fifo and "fifo" not in failed:
            found.append(
                Problem(
                    "messageGroupField",
                    self.message_group_field,
                    "only applies to a FIFO queue (fifo: true)",
                )
            )
        if self.timeout_seconds < MIN_TIMEOUT_SECONDS:
            found.append(
                Problem(
                    "listenerTimeoutSeconds",
                    self.timeout_seconds,
                    f"must be at least {MIN_TIMEOUT_SECONDS}: the listener's SQS call alone may "
                    "take up to about 1.05 s",
                )
            )
        return found


def listener_config(
    args: ListenerArgs,
    *,
    queue_url: pulumi.Input[str],
    fifo: bool,
    max_message_bytes: int,
    secret_parameters: Mapping[str, pulumi.Input[str]],
) -> dict[str, Any]:
    """Everything the listener reads, as the JSON object of its `LISTENER_CONFIG` variable.

    The one place that turns stack settings into the listener's view of them; tests build the
    listener's environment through it too, so the two cannot drift apart. Every key is
    always present: the listener has no defaults of its own.
    """
    return {
        "queueUrl": queue_url,
        "fifo": fifo,
        "maxMessageBytes": max_message_bytes,
        "acceptedContentTypes": [t.lower() for t in args.accepted_content_types],
        "messageGroupField": args.message_group_field if fifo else None,
        "routes": [
            {**route.to_listener(), "secretParameter": secret_parameters.get(route.name)}
            for route in args.routes
        ],
    }


def listener_environment(
    args: ListenerArgs,
    *,
    queue_url: str,
    fifo: bool = False,
    max_message_bytes: int | None = None,
    secret_parameters: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The listener's environment from plain values, for whatever runs the handler outside a
    deployment (tests, benchmarks): the same `listener_config`, the same defaults."""
    config = listener_config(
        args,
        queue_url=queue_url,
        fifo=fifo,
        max_message_bytes=max_message_bytes or QueueArgs().max_message_bytes,
        secret_parameters=secret_parameters or {},
    )
    return {CONFIG_VARIABLE: json.dumps(config)}


class Listener(pulumi.ComponentResource):
    """Function + role + log group + Function URL + exactly the permissions the URL needs,
    and one SSM SecureString per route secret, readable by this function only."""

    url: pulumi.Output[str]
    """The Function URL (ends with `/`)."""
    function_name: pulumi.Output[str]
    """Physical name of the listener function."""
    function_arn: pulumi.Output[str]
    """ARN of the listener function."""

    def __init__(
        self,
        name: str,
        args: ListenerArgs,
        *,
        queue: Queue,
        code: Path,
        stack: StackArgs,
        runtime: RuntimeArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.secret_parameters: dict[str, aws.ssm.Parameter] = {}
        for route_name, secrets in args.route_secrets:
            self.secret_parameters[route_name] = aws.ssm.Parameter(
                f"{name}-secret-{route_name}",
                name=stack.parameter_name("routes", route_name),
                description=f"Secret of the listener's route {route_name!r} (one per line)",
                type="SecureString",
                value=pulumi.Output.secret("\n".join(secrets)),
                tags=stack.resource_tags,
                opts=child,
            )
        statements = [allow("SendToQueue", SEND_ACTIONS, queue.arn)]
        if self.secret_parameters:
            statements.append(
                allow(
                    "ReadRouteSecrets",
                    ("ssm:GetParameter",),
                    [p.arn for p in self.secret_parameters.values()],
                )
            )
        config = listener_config(
            args,
            queue_url=queue.url,
            fifo=queue.fifo,
            max_message_bytes=queue.max_message_bytes,
            secret_parameters={n: p.name for n, p in self.secret_parameters.items()},
        )

        self.function = PythonFunction(
            name,
            PythonFunctionArgs(
                function_name=f"{stack.prefix}-{name}",
                source_dir=code,
                memory_mb=args.memory_mb,
                timeout_seconds=args.timeout_seconds,
                reserved_concurrency=args.reserved_concurrency,
                runtime=runtime,
                stack=stack,
                environment={CONFIG_VARIABLE: pulumi.Output.json_dumps(config)},
                statements=statements,
                description="Verifies webhook requests and enqueues them",
            ),
            opts=child,
        )
        self.function_url = aws.lambda_.FunctionUrl(
            f"{name}-url",
            function_name=self.function.function_name,
            authorization_type=args.auth_type,
            opts=child,
        )
        if args.auth_type == "NONE":
            # Since October 2025 a public URL needs both statements; each is as narrow as
            # AWS allows: the URL action only with auth type NONE, the invoke action only
            # when the call arrives through the Function URL. The provider adds the same two
            # (statement ids FunctionURLAllowPublicAccess / FunctionURLAllowInvokeAction)
            # when it creates the URL, outside Pulumi's tracking; ours are created after the
            # URL, so the concurrent AddPermission calls cannot race, and under ids of their
            # own (docs/design.md, "The listener").
            after_url = pulumi.ResourceOptions(parent=self, depends_on=[self.function_url])
            aws.lambda_.Permission(
                f"{name}-url-public",
                statement_id=f"{name}-url-public",
                function=self.function.function_name,
                action="lambda:InvokeFunctionUrl",
                principal="*",
                function_url_auth_type="NONE",
                opts=after_url,
            )
            aws.lambda_.Permission(
                f"{name}-invoke-via-url",
                statement_id=f"{name}-invoke-via-url",
                function=self.function.function_name,
                action="lambda:InvokeFunction",
                principal="*",
                invoked_via_function_url=True,
                opts=after_url,
            )

        self.url = self.function_url.function_url
        self.function_name = self.function.function_name
        self.function_arn = self.function.function_arn
        self.register_outputs(
            {
                "url": self.url,
                "function_name": self.function_name,
                "function_arn": self.function_arn,
            }
        )
