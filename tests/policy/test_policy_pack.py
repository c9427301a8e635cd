"""The pack itself: `__main__.py` builds a PolicyPack of every rule, and each wrapper hands the
SDK's arguments to its rule and reports what the rule found.

The real `PolicyPack(...)` starts a gRPC server and blocks serving the engine, so these tests
run `__main__.py` with `PolicyPack` replaced by a recorder; the policies are the SDK's real
objects, driven through their real `validate`.
"""

from __future__ import annotations

import runpy
from dataclasses import dataclass, replace
from importlib.metadata import version
from typing import Any

import pulumi_policy
import pytest
import rules
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from tests.policy.conftest import POLICY_DIR, ROOT


@dataclass
class Built:
    kwargs: dict[str, Any]
    namespace: dict[str, Any]

    def policy(self, name: str) -> Any:
        return next(p for p in self.kwargs["policies"] if p.name == name)


@pytest.fixture
def built(monkeypatch) -> Built:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: calls.append(kwargs))
    namespace = runpy.run_path(str(POLICY_DIR / "__main__.py"), run_name="__main__")
    assert len(calls) == 1, "__main__.py must build exactly one PolicyPack"
    return Built(calls[0], namespace)


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )


def test_pack_holds_every_rule_mandatory_but_the_advisory_ones(built):
    assert built.kwargs["name"] == "async-webhook"
    assert built.kwargs["enforcement_level"] == EnforcementLevel.MANDATORY
    policies = built.kwargs["policies"]
    names = {p.name for p in policies}
    assert len(names) == len(policies)
    assert len(policies) == (
        len(rules.RESOURCE_RULES) + len(rules.ADVISORY_RULES) + len(rules.STACK_RULES)
    )
    assert sum(isinstance(p, StackValidationPolicy) for p in policies) == len(rules.STACK_RULES)
    assert all(p.description for p in policies)
    levels = {p.name: p.enforcement_level for p in policies}
    assert levels.pop("lambda-env-no-secrets") == EnforcementLevel.ADVISORY
    assert levels.pop("listener-open-routes") == EnforcementLevel.ADVISORY
    assert set(levels.values()) == {EnforcementLevel.MANDATORY}


def test_pack_files_are_what_pulumi_expects():
    manifest = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == "python" and manifest["description"]
    pins = [
        line.strip()
        for path in (POLICY_DIR / "requirements.txt", ROOT / "requirements-dev.txt")
        for line in path.read_text().splitlines()
        if line.startswith("pulumi-policy")
    ]
    assert pins == [f"pulumi-policy=={version('pulumi-policy')}"] * 2


def test_resource_wrapper_reports_what_its_rule_finds(built, find):
    policy: ResourceValidationPolicy = built.policy("log-group-retention-set")
    group = find("processor-logs")
    reported: list[tuple[str, str | None]] = []

    def validate(props: dict[str, Any]) -> None:
        args = ResourceValidationArgs(group.type, props, group.urn, group.name, _options(), None)
        policy.validate(args, lambda message, urn: reported.append((message, urn)))

    validate(dict(group.props))
    assert reported == []
    validate({**group.props, "retentionInDays": None})
    assert len(reported) == 1 and "'processor-logs'" in reported[0][0]


def test_stack_wrapper_reports_against_the_blamed_resource(built, ours, find):
    policy: StackValidationPolicy = built.policy("sqs-visibility-covers-consumers")
    reported: list[tuple[str, str | None]] = []

    def validate(resources: list[rules.Resource]) -> None:
        stack = [
            PolicyResource(r.type, r.props, r.urn, r.name, _options(), None, None, [], {})
            for r in resources
        ]
        policy.validate(StackValidationArgs(stack), lambda m, urn: reported.append((m, urn)))

    validate(ours)
    assert reported == []
    queue = find("webhook-queue")
    short = replace(queue, props={**queue.props, "visibilityTimeoutSeconds": 30})
    validate([short if r is queue else r for r in ours])
    assert len(reported) == 1 and reported[0][1] == queue.urn
