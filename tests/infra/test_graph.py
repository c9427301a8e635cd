"""The shape of the resource graph the dev stack declares."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pulumi
import pytest

from infra.packaging import PackagingError, Target, function_archive, package_files

LAMBDA = Target("python3.13", "arm64")

# How Pulumi marks a secret value on the wire (pulumi.runtime.rpc).
SECRET_SIG, SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"

COMPONENT_TYPES = {
    "async-webhook:index:Queue",
    "async-webhook:index:Listener",
    "async-webhook:index:Consumer",
    "async-webhook:index:PythonFunction",
    "async-webhook:index:Monitoring",
}


def test_dev_stack_declares_the_pipeline_and_nothing_more(dev_stack):
    # GIVEN the dev stack WHEN the program runs
    stack = dev_stack
    # THEN it declares exactly the pipeline of the design
    assert len(stack.of_type(":Function")) == 2
    assert len(stack.of_type(":FunctionUrl")) == 1
    assert len(stack.of_type("sqs/queue:Queue")) == 2
    assert len(stack.of_type(":EventSourceMapping")) == 1
    assert len(stack.of_type("iam/role:Role")) == 2
    assert len(stack.of_type(":LogGroup")) == 2
    assert stack.of_type(":Parameter") == []  # no route secret configured
    mapping = stack.one(":EventSourceMapping")
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]


SIGNED_ROUTES = [
    {"name": "demo", "path": "/append_queue", "source": "none"},
    {"name": "strava", "path": "/strava", "source": "strava"},
    {"name": "gh", "path": "/github", "source": "github"},
]


def test_each_route_secret_is_one_secure_parameter_of_its_own(run_program):
    # GIVEN two routes with secrets (Strava's verify token, GitHub's signing secret with a
    # previous one still accepted during a rotation)
    secrets = {"strava": "verify-token", "gh": ["new-secret", "old-secret"]}
    # WHEN the program runs
    stack = run_program({"routes": SIGNED_ROUTES}, secrets={"routeSecrets": secrets})
    # THEN each is a SecureString of its own, one secret per line, marked secret on the wire
    parameters = {p.inputs["name"]: p.inputs for p in stack.of_type(":Parameter")}
    assert set(parameters) == {"/async-webhook-dev/routes/strava", "/async-webhook-dev/routes/gh"}
    for name, value in (("strava", "verify-token"), ("gh", "new-secret\nold-secret")):
        parameter = parameters[f"/async-webhook-dev/routes/{name}"]
        assert parameter["type"] == "SecureString"
        assert parameter["value"] == {SECRET_SIG: SECRET_VALUE, "value": value}


def test_every_aws_resource_is_parented_to_a_component(dev_stack):
    stack = dev_stack
    for resource in stack.declared:
        if resource.type in COMPONENT_TYPES:
            continue
        parent_type = resource.urn.split("::")[2].split("$")[0]
        assert parent_type in COMPONENT_TYPES, f"{resource.name} is parented to {parent_type}"


def test_components_use_project_type_tokens(dev_stack):
    stack = dev_stack
    declared = {r.type for r in stack.declared if r.type.startswith("async-webhook:")}
    assert declared == COMPONENT_TYPES


def test_child_names_derive_from_their_component(dev_stack):
    stack = dev_stack
    for resource in stack.declared:
        if resource.type in COMPONENT_TYPES:
            continue
        component = resource.name.split("-")[0]
        assert component in {"webhook", "listener", "processor", "monitoring"}, resource.name


def test_outputs_follow_the_contract(dev_stack):
    stack = dev_stack
    outputs = stack.outputs
    for name in (
        "listener_url",
        "queue_url",
        "queue_arn",
        "dlq_url",
        "listener_function_name",
        "processor_function_name",
    ):
        assert name in outputs, name
    assert outputs["listener_url"].endswith("/")
    queue = stack.one("sqs/queue:Queue", "webhook-queue")
    dlq = stack.one("sqs/queue:Queue", "webhook-dlq")
    assert outputs["queue_url"] == queue.state["url"]
    assert outputs["queue_arn"] == queue.state["arn"]
    assert outputs["dlq_url"] == dlq.state["url"]
    assert outputs["listener_function_name"] == stack.one(":Function", "listener").inputs["name"]
    assert outputs["processor_function_name"] == stack.one(":Function", "processor").inputs["name"]


def test_no_secret_reaches_environment_or_outputs(run_program):
    token, signing = "very-secret-verify-token", "very-secret-signing-key"
    stack = run_program(
        {"routes": SIGNED_ROUTES}, secrets={"routeSecrets": {"strava": token, "gh": signing}}
    )
    for resource in stack.declared:
        if resource.type.endswith(":Parameter"):
            continue
        assert token not in repr(resource.inputs), resource.name
        assert signing not in repr(resource.inputs), resource.name
    assert token not in repr(stack.outputs) and signing not in repr(stack.outputs)
    listener_env = stack.one(":Function", "listener").inputs["environment"]["variables"]
    routes = {r["name"]: r for r in json.loads(listener_env["LISTENER_CONFIG"])["routes"]}
    assert routes["gh"]["secretParameter"] == "/async-webhook-dev/routes/gh"
    assert routes["demo"]["secretParameter"] is None


def _archive_names(archive: pulumi.AssetArchive) -> set[str]:
    return set(archive.assets)


@pytest.mark.parametrize("function", ["listener", "processor"])
def test_each_function_is_packaged_from_its_own_folder_only(dev_stack, function):
    # GIVEN the dev stack WHEN the program runs
    stack = dev_stack
    archive = stack.one(":Function", function).inputs["code"]
    assert isinstance(archive, pulumi.AssetArchive)
    root = Path(__file__).resolve().parents[2]
    folder = root / "functions" / function
    build = root / ".build" / function
    own = {
        name
        for name, asset in archive.assets.items()
        if Path(asset.path).resolve().is_relative_to(folder)
    }
    # THEN it holds the folder's own files, and anything else is its bundled dependencies
    expected = {p.relative_to(folder).as_posix() for p in folder.glob("*.py")}
    expected |= {"requirements.txt"} if (folder / "requirements.txt").exists() else set()
    assert own == expected
    assert "handler.py" in own
    for name in set(archive.assets) - own:
        assert Path(archive.assets[name].path).resolve().is_relative_to(build), name


def test_packaging_skips_caches_and_refuses_a_missing_handler(tmp_path):
    (tmp_path / "handler.py").write_text("def handler(e, c):\n    return 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("X = 1\n")
    assert set(package_files(tmp_path)) == {"handler.py", "lib/util.py"}
    with pytest.raises(PackagingError, match=r"main\.py"):
        function_archive(tmp_path, "main.handler", LAMBDA)
    with pytest.raises(PackagingError, match="does not exist"):
        function_archive(tmp_path / "nope", "handler.handler", LAMBDA)


def test_listener_package_is_lean(tmp_path):
    """The listener ships only its own code: no vendored libraries, a small zip (Lambda fetches
    and unpacks it on every cold start; tens of KB cost well under a millisecond)."""
    folder = Path(__file__).resolve().parents[2] / "functions" / "listener"
    files = package_files(folder)
    target = tmp_path / "listener.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in files.items():
            zf.write(path, name)
    assert all(name.endswith(".py") for name in files)
    assert target.stat().st_size < 32_000
