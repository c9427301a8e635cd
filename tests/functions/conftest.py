"""Fixtures for the Lambda handlers: moto's AWS over HTTP, a fresh copy of each function per test.

The handlers reach AWS as they do on Lambda: the listener with its own standard-library client
(functions/listener/aws.py), the processor with boto3. Both find moto's server on 127.0.0.1
through AWS_ENDPOINT_URL, as the local cloud points them at its embedded one; one server serves
a test worker, reset before each test, so no test sees another's queues.

Function folders are not packages and both hold a handler.py, which becomes the root of sys.path
on Lambda. load_function imports one folder the same way, with the environment the test chose, so
module-scope clients talk to moto and no test depends on what another one imported. A folder's
bundled packages (its requirements.txt, from the build cache that `make install` fills) are
importable too, as they are on Lambda.
"""

import functools
import importlib
import logging
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
FUNCTIONS = ROOT / "functions"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from environments import CONFIG_VARIABLE, listener_env  # noqa: E402
from factories import REGION  # noqa: E402

from infra.packaging import Target, local_dependencies  # noqa: E402
from infra.python_function import RuntimeArgs  # noqa: E402

FUNCTION_MODULES = ("handler", "process", "message", "senders", "aws", "idempotency")
"""Top-level module names living in the function folders."""
CONTRACT_ENV = (
    CONFIG_VARIABLE,
    "SQS_CONNECT_TIMEOUT_SECONDS",
    "SQS_READ_TIMEOUT_SECONDS",
    "SQS_MAX_ATTEMPTS",
    "SECRET_REFRESH_SECONDS",
    "AWS_LAMBDA_LOG_LEVEL",
    "AWS_LAMBDA_FUNCTION_NAME",
    "IDEMPOTENCY_TABLE",
    "IDEMPOTENCY_TTL_SECONDS",
)
"""Environment variables the program (or a test) sets on the functions; cleared per load."""
PATIENT_TIMEOUTS = {"SQS_CONNECT_TIMEOUT_SECONDS": "2", "SQS_READ_TIMEOUT_SECONDS": "5"}
"""The listener's SQS and SSM timeouts in tests that are not about them. Its own (0.2 s connect,
0.3 s read) suit an AWS region; moto on 127.0.0.1, sharing two busy cores with the test workers,
can take longer now and then, and a read timeout there would retry a send that may have landed
(a duplicate, or a 503 that is the test machine's, not the listener's). The tests of the retry
budget load the listener with its defaults (`patient=False`) and fake the failures."""


@dataclass(frozen=True)
class LoadedFunction:
    """A freshly imported function folder: its handler module and its sibling modules."""

    handler: ModuleType
    modules: Mapping[str, ModuleType]


_LOADER = botocore.loaders.create_loader()
"""Parsed service models, shared by every test's session (they are static data); a new session
per test still means no credentials, clients or event handlers leak between tests."""


def _fresh_session(**kwargs: Any) -> boto3.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    session = boto3.Session(botocore_session=core, **kwargs)
    paths = _LOADER.search_paths  # boto3 appends its data path on every Session: keep one
    paths[:] = list(dict.fromkeys(paths))
    return session


def _purge() -> None:
    for name in FUNCTION_MODULES:
        sys.modules.pop(name, None)
    # A fresh container has a fresh logging registry: Powertools configures a logger once per
    # name and would keep the first load's level otherwise.
    registry = logging.Logger.manager.loggerDict
    for name, existing in list(registry.items()):
        if getattr(existing, "powertools_handler", None) is not None:
            del registry[name]


@functools.cache
def dependency_path(name: str) -> Path | None:
    """Where the folder's bundled packages are importable from on this machine, for the dev
    stack's runtime (the default one). Appended to sys.path once per test process: the venv's
    own copies of packages the tests also use keep precedence, and lazy imports resolve."""
    defaults = RuntimeArgs()
    target = Target(defaults.runtime, defaults.architecture)
    folder, _ = local_dependencies(FUNCTIONS / name, target)
    if folder is not None and str(folder) not in sys.path:
        sys.path.append(str(folder))
    return folder


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - 127.0.0.1 only
        answer.read()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, and an empty moto behind AWS_ENDPOINT_URL."""
    _reset(moto_endpoint)
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_ENDPOINT_URL_SSM",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        *CONTRACT_ENV,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(ROOT / ".no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(ROOT / ".no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    # A session per test, created under the dummy environment: nothing cached across tests.
    # Created when the code under test first asks boto3 for one (most tests never do: the
    # listener speaks to AWS without boto3), as boto3 itself creates its default session.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setattr(boto3, "setup_default_session", _setup_fresh_default_session)


def _setup_fresh_default_session(**kwargs: Any) -> None:
    boto3.DEFAULT_SESSION = _fresh_session(**kwargs)


@functools.cache
def _instrument(service: str, endpoint: str) -> Any:
    """The test's own client of moto (not the code under test's): its credentials, region and
    endpoint are given, not read from the environment, so one client serves every test."""
    return _fresh_session().client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


@pytest.fixture
def sqs(aws: None, moto_endpoint: str) -> Any:
    return _instrument("sqs", moto_endpoint)


@pytest.fixture
def ssm(aws: None, moto_endpoint: str) -> Any:
    return _instrument("ssm", moto_endpoint)


@pytest.fixture
def queue_url(sqs: Any) -> str:
    """A standard queue in moto, as the program declares it (1 MiB messages)."""
    url: str = sqs.create_queue(
        QueueName="async-webhook-queue", Attributes={"MaximumMessageSize": "1048576"}
    )["QueueUrl"]
    return url


@pytest.fixture
def fifo_queue_url(sqs: Any) -> str:
    """A FIFO queue with content-based deduplication, as the program declares it."""
    url: str = sqs.create_queue(
        QueueName="async-webhook-queue.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "MaximumMessageSize": "1048576",
        },
    )["QueueUrl"]
    return url


@pytest.fixture
def load_function(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., LoadedFunction]]:
    """load_function("listener", listener_env(...)) imports a fresh copy of that folder."""

    def load(
        name: str, env: Mapping[str, str] | None = None, *, patient: bool = True
    ) -> LoadedFunction:
        """`patient`: timeouts a loaded test machine can keep (see PATIENT_TIMEOUTS); False
        leaves the handler's own defaults, for the tests of its retry budget."""
        for key in CONTRACT_ENV:
            monkeypatch.delenv(key, raising=False)
        # Lambda sets the function's application log level (INFO unless the stack says so).
        defaults = {"AWS_LAMBDA_LOG_LEVEL": "INFO", **(PATIENT_TIMEOUTS if patient else {})}
        for key, value in {**defaults, **(env or {})}.items():
            monkeypatch.setenv(key, value)
        folder = str(FUNCTIONS / name)
        dependency_path(name)
        _purge()
        sys.path.insert(0, folder)
        try:
            handler = importlib.import_module("handler")
            modules = {n: sys.modules[n] for n in FUNCTION_MODULES if n in sys.modules}
        finally:
            sys.path.remove(folder)
            _purge()
        return LoadedFunction(handler=handler, modules=modules)

    yield load
    _purge()


@pytest.fixture
def listener(load_function: Callable[..., LoadedFunction], queue_url: str) -> ModuleType:
    """The listener with the default configuration, sending to a standard queue."""
    return load_function("listener", listener_env(queue_url)).handler


@pytest.fixture
def processor(load_function: Callable[..., LoadedFunction]) -> LoadedFunction:
    return load_function("processor")
