"""The async-webhook CrossGuard policy pack: `pulumi preview --policy-pack policy`.

Thin wrappers: each policy hands the resource (or the stack) to a plain function of `rules`,
which tests call directly. Every policy is mandatory except the secret-looking environment
variable check, which is a heuristic and so only advisory.
"""

from __future__ import annotations

from collections.abc import Callable

import rules
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

PACK_NAME = "async-webhook"

ResourceRule = Callable[[str, rules.Props, str], list[str]]
StackRule = Callable[[list[rules.Resource]], list[rules.Violation]]


def _describe(rule: Callable[..., object], name: str) -> str:
    return " ".join((rule.__doc__ or name).split())


def resource_policy(
    name: str,
    rule: ResourceRule,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> ResourceValidationPolicy:
    """A resource policy reporting every message `rule` returns for one resource."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule(args.resource_type, args.props, args.name):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=_describe(rule, name),
        validate=validate,
        enforcement_level=enforcement_level,
    )


def stack_policy(name: str, rule: StackRule) -> StackValidationPolicy:
    """A stack policy reporting each violation `rule` finds, against the resource it blames."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            rules.Resource(r.resource_type, r.name, r.props, r.urn) for r in args.resources
        ]
        for violation in rule(resources):
            report_violation(violation.message, violation.urn or None)

    return StackValidationPolicy(
        name=name,
        description=_describe(rule, name),
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


POLICIES = [
    resource_policy("lambda-python-runtime", rules.python_runtime),
    resource_policy("sqs-queue-encrypted", rules.queue_encryption),
    resource_policy("sqs-mapping-reports-batch-item-failures", rules.report_batch_item_failures),
    resource_policy("iam-inline-policy-no-wildcards", rules.inline_policy_wildcards),
    resource_policy("iam-no-broad-managed-policies", rules.managed_policy_attachments),
    resource_policy("lambda-public-permission-function-url-only", rules.public_lambda_permission),
    resource_policy("lambda-env-no-secrets", rules.secret_environment, EnforcementLevel.ADVISORY),
    resource_policy("log-group-retention-set", rules.log_group_retention),
    resource_policy("listener-routes-verify-or-say-none", rules.listener_routes_verified),
    resource_policy("listener-open-routes", rules.listener_open_routes, EnforcementLevel.ADVISORY),
    stack_policy("sqs-redrive-to-longer-lived-dlq", rules.queue_redrive),
    stack_policy("sqs-visibility-covers-consumers", rules.visibility_timeout),
]

# Starts the analyzer's gRPC server and serves the engine until it is stopped.
PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description='async-webhook\'s infrastructure rules (docs/design.md, "Infrastructure rules")',
)
