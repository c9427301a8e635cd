"""`python -m ops --state-dir`: the folder `python -m local up --state-dir` serves a stack from."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.cloud import LocalCloud
from ops.cli import main

PROGRAM = Path(__file__).resolve().parent / "queues_program"
STACK = "ops"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, Path]]:
    """The queues program served by a local cloud whose state lives in a folder of its own."""
    root = tmp_path_factory.mktemp("custom-state")
    cloud = LocalCloud(PROGRAM, stack=STACK, port=0, stream=io.StringIO(), state_root=root)
    cloud.start()
    yield cloud, root
    cloud.stop()


@pytest.fixture
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what the state folder says may reach the embedded AWS."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def test_ops_finds_a_stack_served_from_a_custom_state_dir(
    served: tuple[LocalCloud, Path], no_ambient_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a stack served with --state-dir, two messages in its dead-letter queue
    cloud, root = served
    sqs = cloud.client("sqs")
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=cloud.outputs["dlq_url"], MessageBody=body)
    # WHEN an operator counts the DLQ with the same --state-dir (no --local, no URL flags)
    code = main(["dlq", "count", "--state-dir", str(root), "-C", str(PROGRAM), "-s", STACK])
    # THEN ops found the outputs and the keys there, and reached the embedded AWS
    out = capsys.readouterr().out
    assert code == 0
    [dlq_line] = [line for line in out.splitlines() if line.startswith("dlq")]
    assert dlq_line.split()[:3] == ["dlq", "visible", "2"]
    assert dlq_line.endswith(cloud.outputs["dlq_url"])


def test_without_that_state_dir_ops_says_where_it_looked(
    served: tuple[LocalCloud, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the same served stack WHEN ops looks in the project's default folder
    code = main(["dlq", "count", "--local", "-C", str(PROGRAM), "-s", STACK])
    # THEN nothing is found there, and the error names that folder and how to serve the stack
    err = capsys.readouterr().err
    assert code == 2
    assert str(PROGRAM / ".local" / STACK / "outputs.json") in err
    assert f"python -m local up -s {STACK}" in err


def test_a_state_dir_alone_points_the_strava_handshake_at_the_local_dev_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a verify token from the environment, and no path, -s or --local: only --state-dir
    monkeypatch.setenv("STRAVA_VERIFY_TOKEN", "t0ken")
    root = Path(__file__).resolve().parents[2]
    # WHEN the handshake is asked for
    code = main(["strava", "handshake", "--state-dir", str(tmp_path), "-C", str(root)])
    # THEN it took the Strava route from the dev stack file, as --state-dir implies --local, and
    # looked for the served stack in that folder (nothing is served there)
    err = capsys.readouterr().err
    assert code != 0
    assert f"stack 'dev' is not being served locally (no {tmp_path}" in err
    assert "t0ken" not in err
