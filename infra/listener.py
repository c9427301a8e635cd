"""The listener: a function behind a Function URL that validates a request and enqueues it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import defaults as d
from infra.policies import SEND_ACTIONS, allow
from infra.python_function import FunctionSettings, PythonFunction, PythonFunctionArgs

COMPONENT_TYPE = "async-webhook:index:Listener"


@dataclass(frozen=True, kw_only=True)
class ListenerArgs:
    """Where the listener sends, what it accepts and who may call it."""

    function: FunctionSettings
    """Name, code and sizing of the listener function."""
    queue_url: pulumi.Input[str]
    """The queue every accepted request goes to."""
    queue_arn: pulumi.Input[str]
    """The only resource the listener may send to."""
    paths: Sequence[str] = d.LISTENER_PATHS
    """Paths that accept POSTs (and the Strava handshake GET)."""
    accepted_content_types: Sequence[str] = d.ACCEPTED_CONTENT_TYPES
    """Media types accepted; anything else is answered 415."""
    max_message_bytes: int = d.MAX_MESSAGE_BYTES
    """Largest SQS message (body plus attributes); larger requests are answered 413."""
    fifo: bool = d.FIFO
    """Send with a message group id (the queue is FIFO)."""
    message_group_field: str | None = None
    """FIFO only: the JSON body field whose value is the message group id."""
    auth_type: str = d.LISTENER_AUTH_TYPE
    """NONE (public, as webhook senders need) or AWS_IAM."""
    verify_token: pulumi.Input[str] | None = None
    """The subscription handshake token (a secret Output); stored in SSM, never in env."""
    verify_token_parameter_name: str = ""
    """SSM parameter name for the token, used when verify_token is set."""


class Listener(pulumi.ComponentResource):
    """Function + role + log group + Function URL + exactly the permissions the URL needs."""

    url: pulumi.Output[str]
    """The Function URL (ends with `/`)."""
    function_name: pulumi.Output[str]
    """Physical name of the listener function."""
    function_arn: pulumi.Output[str]
    """ARN of the listener function."""

    def __init__(
        self, name: str, args: ListenerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        environment: dict[str, pulumi.Input[str]] = {
            "QUEUE_URL": args.queue_url,
            "LISTENER_PATHS": json.dumps(list(args.paths)),
            "ACCEPTED_CONTENT_TYPES": json.dumps(list(args.accepted_content_types)),
            "MAX_MESSAGE_BYTES": str(args.max_message_bytes),
            "FIFO": "true" if args.fifo else "false",
        }
        if args.fifo and args.message_group_field:
            environment["MESSAGE_GROUP_FIELD"] = args.message_group_field
        statements = [allow("SendToQueue", SEND_ACTIONS, args.queue_arn)]

        self.verify_token_parameter: aws.ssm.Parameter | None = None
        if args.verify_token is not None:
            self.verify_token_parameter = aws.ssm.Parameter(
                f"{name}-verify-token",
                name=args.verify_token_parameter_name,
                description="Strava subscription verify token, read by the listener",
                type="SecureString",
                value=pulumi.Output.secret(args.verify_token),
                opts=child,
            )
            environment["VERIFY_TOKEN_PARAMETER"] = self.verify_token_parameter.name
            statements.append(
                allow("ReadVerifyToken", ("ssm:GetParameter",), self.verify_token_parameter.arn)
            )

        self.function = PythonFunction(
            name,
            PythonFunctionArgs(
                settings=args.function,
                environment=environment,
                statements=statements,
                description="Validates webhook requests and enqueues them",
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
            # when the call arrives through the Function URL.
            aws.lambda_.Permission(
                f"{name}-url-public",
                function=self.function.function_name,
                action="lambda:InvokeFunctionUrl",
                principal="*",
                function_url_auth_type="NONE",
                opts=child,
            )
            aws.lambda_.Permission(
                f"{name}-invoke-via-url",
                function=self.function.function_name,
                action="lambda:InvokeFunction",
                principal="*",
                invoked_via_function_url=True,
                opts=child,
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
