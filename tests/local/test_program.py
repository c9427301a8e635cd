"""local/program.py: a program evaluated in-process under Pulumi's mock runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import resource
from pulumi.runtime.mocks import MockMonitor

from local.program import evaluate

PROGRAM = """
import pulumi


class Thing(pulumi.CustomResource):
    def __init__(self, name):
        super().__init__("test:index:Thing", name, {"size": 1})


def declare():
    return Thing("thing")


pulumi.export("thing_id", declare().id)
"""


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


class _TraceRecorder(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.frames: dict[str, int] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.frames[request.name] = len(request.stackTrace.frames)
        return super().RegisterResource(request)


def test_registrations_carry_no_declaration_trace_and_pulumi_gets_its_own_back(
    tmp_path: Path,
) -> None:
    # GIVEN a program declaring a resource of its own class from inside a function, for which
    # Pulumi records every frame on the stack (46 under pytest, before evaluate left them out)
    (tmp_path / "__main__.py").write_text(PROGRAM)
    pulumis_own = resource._get_stack_trace
    mocks = _Mocks()
    monitor = _TraceRecorder(mocks)
    # WHEN it is evaluated
    outputs = evaluate(tmp_path, mocks, project="p", stack="s", config={}, monitor=monitor)
    # THEN it declared what it declares, with an empty trace, and Pulumi's function is back
    assert outputs == {"thing_id": "thing-id"}
    assert monitor.frames["thing"] == 0
    assert resource._get_stack_trace is pulumis_own
