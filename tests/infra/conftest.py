"""Pulumi mocks for the resource graph: a recording fake of AWS and a program runner.

A test that sets config re-runs `__main__.py` from scratch (`run_program`, function-scoped), so
no test depends on what another declared or on import order. Tests that only read the dev stack
as committed take `dev_stack`: that evaluation runs once per test process and each test gets a
deep copy of its own (an evaluation is 0.15 s of CPU; thirty tests read the same one).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from local.program import evaluate
from local.stackfile import load_stack_config, read_project_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = read_project_name(ROOT)
ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Declared:
    """One resource the program declared: its type, logical name, inputs and fake outputs."""

    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    id: str
    urn: str = ""
    dependencies: list[str] = field(default_factory=list)
    """URNs of the resources this one was declared to depend on (`depends_on`)."""
    protect: bool = False
    retain_on_delete: bool = False

    def policy(self) -> dict[str, Any]:
        return json.loads(self.inputs["policy"])


@dataclass
class FakeAws(pulumi.runtime.Mocks):
    """Records every declaration and answers with the attributes AWS would compute."""

    declared: list[Declared] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        inputs = dict(args.inputs)
        physical = inputs.get("name") or f"{args.name}-1a2b3c4"
        state = {**inputs, "name": physical, **_computed(args.typ, physical, args.name)}
        rid = state.get("url") or state.get("arn") or f"{args.name}-id"
        self.declared.append(Declared(args.typ, args.name, inputs, state, rid))
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        raise AssertionError(f"the program must not call data sources: {args.token}")


def _computed(typ: str, physical: str, logical: str) -> dict[str, Any]:
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    match typ:
        case "aws:sqs/queue:Queue":
            return {
                "arn": arn.format("sqs", physical),
                "url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}",
            }
        case "aws:iam/role:Role":
            return {"arn": f"arn:aws:iam::{ACCOUNT}:role/{physical}"}
        case "aws:cloudwatch/logGroup:LogGroup":
            return {"arn": arn.format("logs", f"log-group:{physical}")}
        case "aws:lambda/function:Function":
            return {"arn": arn.format("lambda", f"function:{physical}")}
        case "aws:lambda/functionUrl:FunctionUrl":
            return {"functionUrl": f"https://{logical}abc123.lambda-url.{REGION}.on.aws/"}
        case "aws:ssm/parameter:Parameter":
            return {"arn": arn.format("ssm", f"parameter{physical}")}
        case "aws:lambda/eventSourceMapping:EventSourceMapping":
            return {"uuid": "4f6a1c2e-0000-4000-8000-000000000001"}
        case "aws:kms/key:Key":
            key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
            return {"arn": arn.format("kms", f"key/{key_id}"), "keyId": key_id}
        case "aws:sns/topic:Topic":
            return {"arn": arn.format("sns", physical)}
        case "aws:cloudwatch/metricAlarm:MetricAlarm":
            return {"arn": arn.format("cloudwatch", f"alarm:{physical}")}
        case "aws:dynamodb/table:Table":
            return {"arn": arn.format("dynamodb", f"table/{physical}")}
    return {}


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, also keeping the resource options a `Mocks` never sees."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.options: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.options[response.urn] = {
            "dependencies": list(request.dependencies),
            "protect": bool(request.protect),
            "retain_on_delete": bool(request.retainOnDelete),
        }
        return response


@dataclass
class Stack:
    """What one evaluation of the program produced."""

    outputs: dict[str, Any]
    declared: list[Declared]

    def of_type(self, suffix: str) -> list[Declared]:
        """Resources whose type token ends with `suffix`, e.g. ':Function'."""
        return [r for r in self.declared if r.type.endswith(suffix)]

    def one(self, suffix: str, name: str | None = None) -> Declared:
        found = [r for r in self.of_type(suffix) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {suffix} {name or ''}, got {[r.name for r in found]}"
        return found[0]

    def by_name(self, name: str) -> Declared:
        return next(r for r in self.declared if r.name == name)


Runner = Callable[..., Stack]


def dev_config() -> dict[str, str]:
    return load_stack_config(ROOT, "dev").values


def evaluate_program(
    overrides: Mapping[str, Any] | None = None,
    *,
    secrets: Mapping[str, Any] | None = None,
    base: Mapping[str, str] | None = None,
    stack: str = "dev",
    project: str = PROJECT,
) -> Stack:
    """One evaluation of the program with the dev stack's config plus `overrides` (short
    keys), recorded."""
    config = dict(dev_config() if base is None else base)
    secret_keys = []
    for key, value in {**(overrides or {}), **(secrets or {})}.items():
        full = f"{project}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value if isinstance(value, str) else json.dumps(value)
    for key in secrets or {}:
        secret_keys.append(f"{project}:{key}")
    mocks = FakeAws()
    monitor = RecordingMonitor(mocks)
    outputs = evaluate(
        ROOT,
        mocks,
        project=project,
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        monitor=monitor,
    )
    by_key = {(r.type, r.name): r for r in mocks.declared}
    for urn in monitor.resources:
        typ = urn.split("::")[2].split("$")[-1]
        name = urn.split("::")[3]
        if (typ, name) in by_key:
            declared = by_key[(typ, name)]
            declared.urn = urn
            options = monitor.options.get(urn, {})
            declared.dependencies = options.get("dependencies", [])
            declared.protect = options.get("protect", False)
            declared.retain_on_delete = options.get("retain_on_delete", False)
    return Stack(outputs, mocks.declared)


@pytest.fixture
def run_program() -> Runner:
    """Evaluates the program afresh with the dev stack's config plus `overrides`."""
    return evaluate_program


@pytest.fixture(scope="session")
def _dev_stack_evaluated() -> Stack:
    return evaluate_program()


@pytest.fixture
def dev_stack(_dev_stack_evaluated: Stack) -> Stack:
    """The dev stack as committed, evaluated once per test process: this test's own copy."""
    return copy.deepcopy(_dev_stack_evaluated)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that builds packages with pip (it takes the `wheels` folder) is marked `pip`:
    `make test-fast` leaves those out (they start pip, seconds each), `make test` runs them."""
    for item in items:
        if "wheels" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pip)
