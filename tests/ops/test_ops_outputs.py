"""Where the commands find the stack: flags, the local cloud's files, or the Pulumi CLI."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from local.state import StackState
from ops.errors import UsageError
from ops.outputs import parse_env, resolve

OUTPUTS = {
    "listener_url": "http://127.0.0.1:3000/",
    "queue_url": "http://127.0.0.1:4566/123456789012/q",
    "dlq_url": "http://127.0.0.1:4566/123456789012/q-dlq",
}


def serve_locally(project: Path, stack: str = "dev", root: Path | None = None) -> StackState:
    """What `python -m local up` leaves in <root>/<stack>/ while it serves, written by the same
    code (default root: the project's .local)."""
    state = StackState.of(project, stack, root)
    state.dir.mkdir(parents=True)
    state.write_served(
        OUTPUTS,
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "AKIDEPLOYER",
            "AWS_SECRET_ACCESS_KEY": "deployer/secret+key",
        },
    )
    return state


def fake_pulumi(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir()
    path = bin_dir / "pulumi"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_flags_alone_need_neither_pulumi_nor_a_local_cloud(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi here

    stack = resolve(
        ["listener_url"],
        {"listener_url": "http://x/"},
        local=False,
        stack=None,
        project_dir=tmp_path,
    )

    assert stack.output("listener_url") == "http://x/"
    assert stack.aws == {}


def test_local_reads_outputs_and_the_deployers_keys(tmp_path: Path):
    serve_locally(tmp_path, "staging")

    stack = resolve(
        ["queue_url", "dlq_url"],
        {"queue_url": None, "dlq_url": "http://override/"},
        local=True,
        stack="staging",
        project_dir=tmp_path,
    )

    assert stack.output("queue_url") == OUTPUTS["queue_url"]
    assert stack.output("dlq_url") == "http://override/"  # a flag beats the stack's output
    assert stack.aws == {
        "endpoint_url": "http://127.0.0.1:4566",
        "region_name": "eu-west-1",
        "aws_access_key_id": "AKIDEPLOYER",
        "aws_secret_access_key": "deployer/secret+key",
    }


def test_a_state_dir_is_read_instead_of_the_projects_own_and_implies_local(tmp_path: Path):
    # GIVEN a stack served from another folder, and a stale one in the project's .local
    serve_locally(tmp_path / "project", "dev", root=tmp_path / "elsewhere")
    stale = StackState.of(tmp_path / "project", "dev")
    stale.dir.mkdir(parents=True)
    stale.write_served({"queue_url": "http://stale/"}, {})

    # WHEN ops is given that folder (and not --local)
    stack = resolve(
        ["queue_url"],
        {},
        local=False,
        stack=None,
        project_dir=tmp_path / "project",
        state_dir=tmp_path / "elsewhere",
    )

    # THEN the outputs and keys come from there
    assert stack.output("queue_url") == OUTPUTS["queue_url"]
    assert stack.aws["region_name"] == "eu-west-1"
    assert str(tmp_path / "elsewhere" / "dev" / "outputs.json") in stack.source


def test_local_without_a_served_stack_says_how_to_start_one(tmp_path: Path):
    with pytest.raises(UsageError, match=r"not being served locally.*python -m local up -s dev"):
        resolve(["listener_url"], {}, local=True, stack=None, project_dir=tmp_path)


def test_a_state_dir_without_a_served_stack_says_how_to_serve_it_there(tmp_path: Path):
    with pytest.raises(UsageError, match=r"python -m local up -s dev --state-dir .*elsewhere"):
        resolve(
            ["listener_url"],
            {},
            local=True,
            stack=None,
            project_dir=tmp_path,
            state_dir=tmp_path / "elsewhere",
        )


def test_a_missing_output_is_named(tmp_path: Path):
    state = serve_locally(tmp_path)
    state.outputs_file.write_text(json.dumps({"queue_url": "x"}))

    with pytest.raises(UsageError, match=r"no output 'dlq_url'.*have \['queue_url'\]"):
        resolve(["dlq_url"], {}, local=True, stack=None, project_dir=tmp_path)


def test_without_the_pulumi_cli_the_error_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(UsageError, match=r"Pulumi CLI is not installed.*--local"):
        resolve(["listener_url"], {}, local=False, stack="prod", project_dir=tmp_path)


def test_pulumi_stack_output_is_asked_for_the_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    args_file = tmp_path / "args"
    fake_pulumi(tmp_path / "bin", f"echo \"$@\" > {args_file}\necho '{json.dumps(OUTPUTS)}'\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    stack = resolve(["listener_url"], {}, local=False, stack="prod", project_dir=tmp_path)

    assert stack.output("listener_url") == OUTPUTS["listener_url"]
    assert args_file.read_text().split() == [
        "stack", "output", "--json", "--cwd", str(tmp_path), "--stack", "prod"
    ]  # fmt: skip


def test_a_failing_pulumi_is_reported_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    fake_pulumi(tmp_path / "bin", "echo 'error: no stack named prod found' >&2\nexit 255\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    with pytest.raises(UsageError, match="no stack named prod found"):
        resolve(["listener_url"], {}, local=False, stack="prod", project_dir=tmp_path)


def test_parse_env_ignores_what_is_not_an_aws_export():
    assert parse_env("# comment\nexport OTHER=1\nexport AWS_REGION=us-east-1\n") == {
        "region_name": "us-east-1"
    }
