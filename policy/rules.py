"""The infrastructure rules (docs/design.md, "Infrastructure rules") as plain functions over
Pulumi resource properties.

Kept free of `pulumi_policy` so tests call them directly with props dicts (camelCase keys, as
the engine passes them); `__main__.py` wraps each one in a policy. Every function applies to
any program that uses these resource types, not only this one, and returns the violations it
found as messages that name the resource, the offending value and the rule.

Reading a property that is unknown during a preview raises the SDK's `UnknownValueError`;
nothing here catches it, so the engine reports the policy as not checkable in that preview
instead of passing it silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Props = Mapping[str, Any]

FUNCTION = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
PERMISSION = "aws:lambda/permission:Permission"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

MIN_PYTHON = (3, 13)
MIN_MAX_RECEIVE_COUNT = 5
VISIBILITY_FACTOR = 6
# What AWS uses when the property is left out.
DEFAULT_LAMBDA_TIMEOUT = 3
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_RETENTION = 345600


def required_visibility_timeout(function_timeout: int, batching_window: int) -> int:
    """The least visibility timeout of a queue feeding a function: AWS advises six times the
    function's timeout (room for retries of a throttled or slow invocation) plus the mapping's
    batching window (records wait that long before the invocation starts).

    The one statement of this rule: the program derives its queue's timeout from it and the
    policy below checks every stack against it.
    """
    return VISIBILITY_FACTOR * function_timeout + batching_window


ACTIONS_WITHOUT_RESOURCES = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    }
)
"""Actions IAM authorizes only on "*" (the service defines no resource type for them), so a
statement of these alone may, and must, name "*"."""

_PYTHON_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY", "KEY")
_REFERENCE_SUFFIXES = ("_PARAMETER", "_ARN", "_NAME")


@dataclass(frozen=True)
class Resource:
    """One resource of a stack, as a stack policy sees it."""

    type: str
    name: str
    props: Props
    urn: str = ""


@dataclass(frozen=True)
class Violation:
    """A broken rule; `urn` names the resource to blame (empty: the stack as a whole)."""

    message: str
    urn: str = ""


# ---------------------------------------------------------------- resource rules


def python_runtime(resource_type: str, props: Props, name: str = "") -> list[str]:
    """A Python Lambda runs on python3.13 or newer; other runtimes (and images) are ignored."""
    if resource_type != FUNCTION:
        return []
    runtime = props.get("runtime")
    match = _PYTHON_RUNTIME.match(runtime) if isinstance(runtime, str) else None
    if match is None:
        return []
    if (int(match[1]), int(match[2])) >= MIN_PYTHON:
        return []
    return [
        f"Lambda function '{name}' uses runtime {runtime}: Python functions must use "
        f"python{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer (a supported runtime); set runtime "
        f"to python{MIN_PYTHON[0]}.{MIN_PYTHON[1]}"
    ]


def queue_encryption(resource_type: str, props: Props, name: str = "") -> list[str]:
    """Every SQS queue is encrypted at rest, by SQS-managed keys or by a KMS key."""
    if resource_type != QUEUE:
        return []
    if props.get("sqsManagedSseEnabled") is True or props.get("kmsMasterKeyId"):
        return []
    shown = json.dumps(props.get("sqsManagedSseEnabled"))
    return [
        f"SQS queue '{name}' is not encrypted (sqsManagedSseEnabled = {shown}, no "
        "kmsMasterKeyId): set sqsManagedSseEnabled to true or give a kmsMasterKeyId"
    ]


def report_batch_item_failures(resource_type: str, props: Props, name: str = "") -> list[str]:
    """An SQS event source mapping lets the function report partial batch failures."""
    if resource_type != MAPPING or not _is_sqs_mapping(props):
        return []
    types = list(props.get("functionResponseTypes") or [])
    if "ReportBatchItemFailures" in types:
        return []
    return [
        f"event source mapping '{name}' on SQS has functionResponseTypes = {json.dumps(types)}: "
        "it must contain ReportBatchItemFailures, or a returned batchItemFailures list is "
        "ignored and failed records are deleted as if processed"
    ]


def inline_policy_wildcards(resource_type: str, props: Props, name: str = "") -> list[str]:
    """Inline IAM policies grant named actions on named resources: no '*' on Allow."""
    if resource_type == ROLE_POLICY:
        documents = [("policy", props.get("policy"))]
    elif resource_type == ROLE:
        documents = [
            (f"inlinePolicies[{i}] ({inline.get('name', '')})", inline.get("policy"))
            for i, inline in enumerate(props.get("inlinePolicies") or [])
        ]
    else:
        return []
    problems: list[str] = []
    for where, document in documents:
        for statement in _allow_statements(document):
            sid = f" statement {statement['Sid']!r}" if statement.get("Sid") else ""
            for action in _as_list(statement.get("Action")):
                if "*" in str(action):
                    problems.append(
                        f"{_kind(resource_type)} '{name}' {where}{sid} allows action "
                        f"{json.dumps(action)}: name each action, no '*' in actions"
                    )
            actions = {str(a) for a in _as_list(statement.get("Action"))}
            if "*" in _as_list(statement.get("Resource")) and not (
                actions and actions <= ACTIONS_WITHOUT_RESOURCES
            ):
                problems.append(
                    f"{_kind(resource_type)} '{name}' {where}{sid} allows "
                    '"Resource": "*": scope the statement to exact ARNs'
                )
    return problems


def managed_policy_attachments(resource_type: str, props: Props, name: str = "") -> list[str]:
    """No AWS-managed *FullAccess or AdministratorAccess policy on a role."""
    if resource_type == ROLE_POLICY_ATTACHMENT:
        arns = [props.get("policyArn")]
    elif resource_type == ROLE:
        arns = list(props.get("managedPolicyArns") or [])
    else:
        return []
    return [
        f"{_kind(resource_type)} '{name}' attaches managed policy {arn}: *FullAccess and "
        "AdministratorAccess grant far more than a function needs; write an inline policy "
        "with the exact actions and ARNs"
        for arn in arns
        if isinstance(arn, str)
        and (arn.endswith("FullAccess") or arn.rsplit("/", 1)[-1] == "AdministratorAccess")
    ]


def public_lambda_permission(resource_type: str, props: Props, name: str = "") -> list[str]:
    """A public (principal '*') Lambda permission is only what a public Function URL needs."""
    if resource_type != PERMISSION or props.get("principal") != "*":
        return []
    action = props.get("action")
    if action == "lambda:InvokeFunctionUrl" and props.get("functionUrlAuthType") == "NONE":
        return []
    if action == "lambda:InvokeFunction" and props.get("invokedViaFunctionUrl") is True:
        return []
    return [
        f"Lambda permission '{name}' grants {action} to principal '*' "
        f"(functionUrlAuthType = {json.dumps(props.get('functionUrlAuthType'))}, "
        f"invokedViaFunctionUrl = {json.dumps(props.get('invokedViaFunctionUrl'))}): a public "
        "permission must be lambda:InvokeFunctionUrl with functionUrlAuthType NONE, or "
        "lambda:InvokeFunction with invokedViaFunctionUrl true"
    ]


def secret_environment(resource_type: str, props: Props, name: str = "") -> list[str]:
    """Lambda environment variables hold no secrets (pass a parameter name or ARN instead)."""
    if resource_type != FUNCTION:
        return []
    variables = (props.get("environment") or {}).get("variables") or {}
    return [
        f"Lambda function '{name}' has environment variable {key} that looks like a secret: "
        "environment values are plain text in the console and the state; store the value in "
        "SSM Parameter Store or Secrets Manager and pass its name as <KEY>_PARAMETER, "
        "_ARN or _NAME"
        for key in variables
        if looks_like_secret(key)
    ]


def log_group_retention(resource_type: str, props: Props, name: str = "") -> list[str]:
    """Log groups expire their logs: retentionInDays is set."""
    if resource_type != LOG_GROUP:
        return []
    retention = _number(props.get("retentionInDays"))
    if retention is not None and retention > 0:
        return []
    return [
        f"log group '{name}' has retentionInDays = {json.dumps(retention)}: set a retention "
        "(e.g. 14), or its logs are kept, and billed, forever"
    ]


VERIFYING_SOURCES = frozenset(
    {"strava", "github", "stripe", "slack", "shopify", "standard-webhooks", "hmac", "token"}
)
"""Route sources that check who sent a request (Strava by allow-lists: it signs nothing)."""
LISTENER_CONFIG = "LISTENER_CONFIG"


def _listener_routes(props: Props) -> list[Any] | None:
    """The routes of a function configured like this project's listener, else None."""
    variables = (props.get("environment") or {}).get("variables") or {}
    text = variables.get(LISTENER_CONFIG)
    if not isinstance(text, str):
        return None
    try:
        config = json.loads(text)
    except ValueError:
        return []
    routes = config.get("routes") if isinstance(config, dict) else None
    return routes if isinstance(routes, list) else []


def listener_routes_verified(resource_type: str, props: Props, name: str = "") -> list[str]:
    """Every route of a webhook listener says how it verifies its sender: a verifying source,
    or an explicit `none`; a route without a source (or an unknown one) is a mistake."""
    if resource_type != FUNCTION:
        return []
    routes = _listener_routes(props)
    if routes is None:
        return []
    if not routes:
        return [f"Lambda function '{name}' has a {LISTENER_CONFIG} without routes"]
    problems = []
    for route in routes:
        source = route.get("source") if isinstance(route, dict) else None
        if source != "none" and source not in VERIFYING_SOURCES:
            shown = route.get("name") if isinstance(route, dict) else route
            problems.append(
                f"Lambda function '{name}' route {json.dumps(shown)} has source "
                f"{json.dumps(source)}: give it one of {', '.join(sorted(VERIFYING_SOURCES))}, "
                "or none to accept unauthenticated requests on purpose"
            )
    return problems


def listener_open_routes(resource_type: str, props: Props, name: str = "") -> list[str]:
    """Advisory: a route with source none accepts requests from anyone who knows its URL."""
    if resource_type != FUNCTION:
        return []
    return [
        f"Lambda function '{name}' route {json.dumps(route.get('name'))} "
        f"({route.get('path')}) has source none: anyone who learns its URL can enqueue work; "
        "verify its sender before pointing real senders at the stack"
        for route in _listener_routes(props) or []
        if isinstance(route, dict) and route.get("source") == "none"
    ]


RESOURCE_RULES = (
    python_runtime,
    queue_encryption,
    report_batch_item_failures,
    inline_policy_wildcards,
    managed_policy_attachments,
    public_lambda_permission,
    secret_environment,
    log_group_retention,
    listener_routes_verified,
)
ADVISORY_RULES = (listener_open_routes,)
"""Reported, never blocking: a stack may mean to have an open route (the original demo's)."""


# ---------------------------------------------------------------- stack rules


def queue_redrive(resources: Sequence[Resource]) -> list[Violation]:
    """Every queue that is not a dead-letter queue redrives to one after >= 5 receives, and
    each dead-letter queue keeps messages longer than every queue that feeds it.

    A queue is a dead-letter queue when another queue's redrive policy targets its ARN.
    """
    queues = [r for r in resources if r.type == QUEUE]
    redrives = _redrive_policies(resources, queues)
    by_arn = {r.props.get("arn"): r for r in queues if r.props.get("arn")}
    dlq_arns = {
        policy.get("deadLetterTargetArn") for policy in redrives.values() if policy is not None
    }
    problems: list[Violation] = []
    for queue in queues:
        if queue.props.get("arn") in dlq_arns:
            continue
        policy = redrives.get(queue.urn or queue.name)
        if policy is None:
            problems.append(
                Violation(
                    f"SQS queue '{queue.name}' has no redrivePolicy and is no other queue's "
                    "dead-letter target: give it a dead-letter queue (redrivePolicy with "
                    f"deadLetterTargetArn and maxReceiveCount >= {MIN_MAX_RECEIVE_COUNT})",
                    queue.urn,
                )
            )
            continue
        count = _number(policy.get("maxReceiveCount"))
        if count is None or count < MIN_MAX_RECEIVE_COUNT:
            problems.append(
                Violation(
                    f"SQS queue '{queue.name}' has maxReceiveCount = {json.dumps(count)}: it "
                    f"must be at least {MIN_MAX_RECEIVE_COUNT}, or a message that fails a few "
                    "times (throttling, a timeout) reaches the dead-letter queue too early",
                    queue.urn,
                )
            )
        dlq = by_arn.get(policy.get("deadLetterTargetArn"))
        if dlq is None:
            continue
        source_retention = _retention(queue.props)
        dlq_retention = _retention(dlq.props)
        if dlq_retention <= source_retention:
            problems.append(
                Violation(
                    f"dead-letter queue '{dlq.name}' has messageRetentionSeconds = "
                    f"{dlq_retention}, not longer than the {source_retention} of its source "
                    f"queue '{queue.name}': a message could expire on its way to the "
                    "dead-letter queue; make the dead-letter retention longer",
                    dlq.urn,
                )
            )
    return problems


def visibility_timeout(resources: Sequence[Resource]) -> list[Violation]:
    """An SQS queue's visibility timeout is at least 6 x the timeout of every function an event
    source mapping feeds from it, plus the mapping's batching window (AWS's guidance)."""
    queues = {r.props.get("arn"): r for r in resources if r.type == QUEUE and r.props.get("arn")}
    functions = [r for r in resources if r.type == FUNCTION]
    problems: list[Violation] = []
    for mapping in (r for r in resources if r.type == MAPPING):
        queue = queues.get(mapping.props.get("eventSourceArn"))
        function = _function_named(functions, mapping.props.get("functionName"))
        if queue is None or function is None:
            continue
        timeout = _number(function.props.get("timeout")) or DEFAULT_LAMBDA_TIMEOUT
        window = _number(mapping.props.get("maximumBatchingWindowInSeconds")) or 0
        needed = required_visibility_timeout(timeout, window)
        visibility = _number(queue.props.get("visibilityTimeoutSeconds"))
        if visibility is None:
            visibility = DEFAULT_VISIBILITY_TIMEOUT
        if visibility < needed:
            problems.append(
                Violation(
                    f"SQS queue '{queue.name}' has visibilityTimeoutSeconds = {visibility}, "
                    f"less than {VISIBILITY_FACTOR} x the {timeout} s timeout of function "
                    f"'{function.name}' + the {window} s batching window of mapping "
                    f"'{mapping.name}' = {needed}: raise it to at least {needed}, or messages "
                    "still being processed are delivered again",
                    queue.urn,
                )
            )
    return problems


STACK_RULES = (queue_redrive, visibility_timeout)


# ---------------------------------------------------------------- helpers


def looks_like_secret(key: str) -> bool:
    """TOKEN, SECRET, PASSWORD, KEY in a name, unless it names a reference (_PARAMETER, ...)."""
    upper = key.upper()
    if upper.endswith(_REFERENCE_SUFFIXES):
        return False
    parts = [p for p in re.split(r"[^A-Z0-9]+", upper) if p]
    return any(
        part == word or (word != "KEY" and part.endswith(word))
        for part in parts
        for word in _SECRET_WORDS
    )


def _kind(resource_type: str) -> str:
    return {ROLE: "IAM role", ROLE_POLICY: "IAM role policy"}.get(
        resource_type, "role policy attachment"
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    return list(value)


def _json(document: Any) -> Any:
    return json.loads(document) if isinstance(document, str) else document


def _allow_statements(document: Any) -> Iterator[Mapping[str, Any]]:
    parsed = _json(document)
    if not isinstance(parsed, Mapping):
        return
    for statement in _as_list(parsed.get("Statement")):
        if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
            yield statement


def _is_sqs_mapping(props: Props) -> bool:
    source = props.get("eventSourceArn")
    return isinstance(source, str) and source.split(":")[2:3] == ["sqs"]


def _retention(props: Props) -> int:
    value = _number(props.get("messageRetentionSeconds"))
    return DEFAULT_RETENTION if value is None else value


def _number(value: Any) -> int | None:
    """A whole number from a property: the engine passes every number as a float (5.0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def _redrive_policies(
    resources: Iterable[Resource], queues: Sequence[Resource]
) -> dict[str, Mapping[str, Any] | None]:
    """Queue (urn or name) -> its parsed redrive policy, from the queue itself or from a
    separate aws:sqs/redrivePolicy:RedrivePolicy resource pointing at its URL."""
    policies: dict[str, Mapping[str, Any] | None] = {}
    by_url = {q.props.get("url") or q.props.get("id"): q for q in queues}
    for queue in queues:
        policies[queue.urn or queue.name] = _parsed(queue.props.get("redrivePolicy"))
    for resource in resources:
        if resource.type == REDRIVE_POLICY:
            target = by_url.get(resource.props.get("queueUrl"))
            if target is not None:
                policies[target.urn or target.name] = _parsed(resource.props.get("redrivePolicy"))
    return policies


def _parsed(policy: Any) -> Mapping[str, Any] | None:
    parsed = _json(policy) if policy else None
    return parsed if isinstance(parsed, Mapping) else None


def _function_named(functions: Sequence[Resource], reference: Any) -> Resource | None:
    """The function an event source mapping's functionName means: a name, an ARN, or a
    qualified ARN (`...:function:<name>:<alias>`)."""
    if not isinstance(reference, str):
        return None
    name = reference
    if reference.startswith("arn:"):
        parts = reference.split(":")
        name = parts[6] if len(parts) > 6 else reference
    for function in functions:
        if reference in (function.props.get("arn"), function.props.get("qualifiedArn")):
            return function
        if name == function.props.get("name"):
            return function
    return None
