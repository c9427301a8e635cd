"""Fixtures for the local Lambda emulation: an embedded moto server, log sinks, functions."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cloud_helpers import shared_session

from local.lambda_runtime import ConcurrencyAccount, FunctionSpec, LocalFunction, MachineCapacity
from local.logs import LogSink

FIXTURES = Path(__file__).parent / "fixture_functions"
REGION = "us-east-1"


@pytest.fixture
def sqs(moto_endpoint: str) -> Iterator[Any]:
    client = shared_session().client(
        "sqs",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    yield client
    client.close()


@pytest.fixture
def terminal() -> io.StringIO:
    """What the developer's terminal would show."""
    return io.StringIO()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def log_sink(terminal: io.StringIO, log_dir: Path) -> Iterator[LogSink]:
    sink = LogSink(stream=terminal, log_dir=log_dir, color=False)
    yield sink
    sink.close()


MakeFunction = Callable[..., LocalFunction]


@pytest.fixture
def fixtures_dir() -> Path:
    """The folder of small Lambda functions the tests run."""
    return FIXTURES


@pytest.fixture
def make_function(moto_endpoint: str, log_sink: LogSink) -> Iterator[MakeFunction]:
    """Build LocalFunctions from the fixture folders; every one is closed after the test."""
    created: list[LocalFunction] = []

    def make(
        fixture: str = "toolbox",
        *,
        name: str | None = None,
        code_dir: Path | None = None,
        handler: str = "handler.handler",
        timeout_seconds: float = 3.0,
        account: ConcurrencyAccount | None = None,
        machine: MachineCapacity | None = None,
        **spec: Any,
    ) -> LocalFunction:
        function = LocalFunction(
            FunctionSpec(
                name=name or fixture,
                code_dir=code_dir or FIXTURES / fixture,
                handler=handler,
                timeout_seconds=timeout_seconds,
                **spec,
            ),
            endpoint_url=moto_endpoint,
            logs=log_sink,
            account=account,
            machine=machine,
        )
        created.append(function)
        return function

    yield make
    for function in created:
        function.close()
