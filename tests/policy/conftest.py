"""The policy pack's folder importable as Pulumi runs it (`import rules`), and the resources
our own program declares, evaluated once per test module with the recording mock."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest
from pulumi.runtime.mocks import MockMonitor

from local.program import evaluate
from tests.infra.conftest import PROJECT, ROOT, FakeAws, dev_config

POLICY_DIR = ROOT / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))

import rules  # noqa: E402


def declare(
    settings: dict[str, object] | None = None, secrets: dict[str, object] | None = None
) -> list[rules.Resource]:
    """Our program's resources, each with its inputs plus the outputs AWS would compute."""
    config = dev_config()
    secret_keys = []
    for key, value in {**(settings or {}), **(secrets or {})}.items():
        config[f"{PROJECT}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    for key in secrets or {}:
        secret_keys.append(f"{PROJECT}:{key}")
    mocks = FakeAws()
    evaluate(
        ROOT,
        mocks,
        project=PROJECT,
        stack="dev",
        config=config,
        secret_keys=secret_keys,
        monitor=MockMonitor(mocks),
    )
    return [
        rules.Resource(r.type, r.name, r.state, f"urn:{r.type}::{r.name}") for r in mocks.declared
    ]


@pytest.fixture(scope="module")
def ours() -> list[rules.Resource]:
    """The dev stack with a route secret set, so every resource type the program can declare
    (the SSM parameter and its reference in the environment included) is present."""
    return declare(secrets={"routeSecrets": {"strava": "tok"}})


Finder = Callable[[str], rules.Resource]


@pytest.fixture
def find(ours: list[rules.Resource]) -> Finder:
    def by_name(name: str) -> rules.Resource:
        """The AWS resource named `name` (components share their main child's name)."""
        return next(r for r in ours if r.name == name and r.type.startswith("aws:"))

    return by_name
