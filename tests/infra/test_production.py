"""What a production deploy needs of the graph: tags, protected data, logs with a level,
tracing with exactly its permissions."""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import pytest


def _resource_class(type_token: str) -> type:
    """`aws:sqs/queue:Queue` -> pulumi_aws.sqs.Queue (`lambda` is `lambda_` in Python)."""
    module = type_token.split(":")[1].split("/")[0]
    package = importlib.import_module(f"pulumi_aws.{'lambda_' if module == 'lambda' else module}")
    found: type = getattr(package, type_token.rsplit(":", 1)[1])
    return found


def _taggable(type_token: str) -> bool:
    return "tags" in inspect.signature(_resource_class(type_token)._internal_init).parameters


def test_every_taggable_resource_names_the_project_and_the_stack_and_the_users_tags(run_program):
    # GIVEN a stack with tags of its own, and a route secret (so a parameter exists too)
    stack = run_program(
        {
            "tags": {"team": "payments", "cost-center": "42"},
            "routes": [{"name": "gh", "path": "/github", "source": "github"}],
        },
        secrets={"routeSecrets": {"gh": "x"}},
    )
    aws_resources = [r for r in stack.declared if r.type.startswith("aws:")]
    taggable = [r for r in aws_resources if _taggable(r.type)]
    # THEN every resource that can carry tags carries all of them
    assert {r.type.rsplit(":", 1)[1] for r in taggable} >= {
        "Queue",
        "Role",
        "LogGroup",
        "Function",
        "Parameter",
        "EventSourceMapping",
    }
    for resource in taggable:
        assert resource.inputs.get("tags") == {
            "project": "async-webhook",
            "stack": "dev",
            "team": "payments",
            "cost-center": "42",
        }, resource.name


@pytest.mark.parametrize(
    ("tags", "rule"),
    [
        ({"aws:team": "x"}, "not start with aws:"),
        ({"stack": "x"}, "set by the program"),
        ({"team": "a" * 257}, "at most 256"),
        ({f"k{i}": "v" for i in range(49)}, "at most 48 tags"),
    ],
)
def test_tags_aws_refuses_are_refused_at_preview(run_program, tags, rule):
    from infra.settings import ConfigError

    with pytest.raises(ConfigError) as caught:
        run_program({"tags": tags})
    assert rule in str(caught.value)


@pytest.mark.parametrize("protect", [True, False])
def test_protect_data_protects_both_queues_and_nothing_else(run_program, protect):
    stack = run_program({"protectData": protect})
    protected = {r.name for r in stack.declared if r.protect}
    assert protected == ({"webhook-queue", "webhook-dlq"} if protect else set())


def test_the_dev_stack_does_not_protect_its_queues(dev_stack):
    # A dev stack is torn down and recreated freely; production stacks set protectData: true.
    stack = dev_stack
    assert not any(r.protect for r in stack.declared)


@pytest.mark.parametrize("level", ["DEBUG", "WARN"])
def test_both_functions_log_json_at_the_configured_level(run_program, level):
    stack = run_program({"logLevel": level})
    for function in stack.of_type(":Function"):
        logging = function.inputs["loggingConfig"]
        assert logging["logFormat"] == "JSON"
        assert logging["applicationLogLevel"] == level
        assert logging["systemLogLevel"] == "INFO"  # START/END/REPORT lines


def _role_statements(stack: Any, function: str) -> list[dict[str, Any]]:
    fn = stack.one(":Function", function)
    role = next(r for r in stack.of_type("iam/role:Role") if r.state["arn"] == fn.inputs["role"])
    return [
        statement
        for policy in stack.of_type("iam/rolePolicy:RolePolicy")
        if policy.inputs["role"] == role.id
        for statement in json.loads(policy.inputs["policy"])["Statement"]
    ]


@pytest.mark.parametrize("function", ["listener", "processor"])
def test_tracing_turns_on_active_mode_with_exactly_the_two_write_actions(
    dev_stack, run_program, function
):
    off = dev_stack
    on = run_program({"tracing": True})
    assert "tracingConfig" not in off.one(":Function", function).inputs
    assert on.one(":Function", function).inputs["tracingConfig"] == {"mode": "Active"}
    added = [s for s in _role_statements(on, function) if s not in _role_statements(off, function)]
    assert added == [
        {
            "Sid": "WriteTraces",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        }
    ]
