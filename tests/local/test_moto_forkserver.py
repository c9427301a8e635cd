"""The moto fork server: a forked embedded AWS is the spawned one in all its owner sees."""

from __future__ import annotations

import ast
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloud_helpers import parent_pid, process_command, shared_session, wait_for

from local import moto_forkserver
from local.moto_server import EmbeddedAws, EmbeddedAwsError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """EmbeddedAws forks from a fork server: the session's (tests/conftest.py starts one), or
    one of this test's own where the session has none."""
    if os.environ.get(moto_forkserver.ENV):
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="moto-fork-test-"))  # a Unix socket's path is short
    server = moto_forkserver.start(folder / "socket")
    monkeypatch.setenv(moto_forkserver.ENV, str(server.socket_path))
    try:
        yield
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _sqs(aws: EmbeddedAws) -> Any:
    return shared_session().client(
        "sqs",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.mark.usefixtures("forking")
def test_a_forked_server_serves_and_snapshots_in_its_owners_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an embedded AWS started from a folder of its own, with a snapshot path relative to it
    monkeypatch.chdir(tmp_path)
    aws = EmbeddedAws(snapshot=Path("snapshot.json"), log_path=tmp_path / "moto.log")
    try:
        # THEN it is a fork of the fork server, not a new interpreter of ours
        assert isinstance(aws._process, moto_forkserver.ForkedServer)
        parent = parent_pid(aws._process.pid)
        assert parent is not None and parent != os.getpid()
        assert "local.moto_forkserver" in process_command(parent)
        # AND it serves SQS
        sqs = _sqs(aws)
        url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="still here")
    finally:
        aws.stop()
    # WHEN it stops THEN it exits 0 with the queue's message in the owner's folder
    assert aws._process.returncode == 0
    assert "still here" in (tmp_path / "snapshot.json").read_text()


@pytest.mark.usefixtures("forking")
def test_a_forked_servers_log_and_exit_status_reach_its_owner(tmp_path: Path) -> None:
    # GIVEN a forked server whose snapshot cannot be written (its folder does not exist)
    log = tmp_path / "moto.log"
    aws = EmbeddedAws(snapshot=tmp_path / "missing" / "snapshot.json", log_path=log)
    sqs = _sqs(aws)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")  # something to write
    # WHEN it stops
    aws.stop()
    # THEN its traceback is in the owner's log file and its exit status is the owner's to read
    assert aws._process.returncode == 1
    assert "FileNotFoundError" in log.read_text()


@pytest.mark.usefixtures("forking")
def test_forked_servers_draw_ids_of_their_own() -> None:
    # GIVEN two servers forked from the same fork server, each sent the same message
    ids = []
    for _ in range(2):
        aws = EmbeddedAws()
        try:
            sqs = _sqs(aws)
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            ids.append(sqs.send_message(QueueUrl=url, MessageBody="m")["MessageId"])
        finally:
            aws.stop()
    # THEN their ids differ (a fork copies the random state moto draws them from)
    assert ids[0] != ids[1]


@pytest.mark.usefixtures("forking")
def test_a_forked_server_that_does_not_stop_is_killed() -> None:
    # GIVEN a forked server that cannot run (stopped by SIGSTOP)
    aws = EmbeddedAws()
    aws.endpoint_url  # noqa: B018 - up and serving
    pid = aws._process.pid
    os.kill(pid, signal.SIGSTOP)
    # WHEN it is stopped with no time to exit
    aws.stop(timeout=0.2)
    # THEN it was killed, by the fork server, which reaped it
    assert aws._process.returncode == -signal.SIGKILL
    assert not Path(f"/proc/{pid}").exists()


def test_a_fork_server_ends_after_its_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a fork server of its own with one forked server running
    folder = Path(tempfile.mkdtemp(prefix="moto-fork-test-"))
    server = moto_forkserver.start(folder / "socket")
    try:
        monkeypatch.setenv(moto_forkserver.ENV, str(server.socket_path))
        aws = EmbeddedAws()
        aws.endpoint_url  # noqa: B018
        # WHEN its owner closes its stdin
        assert server.process.stdin is not None
        server.process.stdin.close()
        # THEN it takes no more requests, but stays to reap the server it forked
        wait_for(lambda: not server.socket_path.exists(), timeout=10, what="the socket removed")
        with pytest.raises(subprocess.TimeoutExpired):
            server.process.wait(0.5)
        # AND once that server has stopped (with its status), it exits
        aws.stop()
        assert aws._process.returncode == 0
        assert server.process.wait(10) == 0
    finally:
        server.stop(timeout=0)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_socket_without_a_fork_server_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(moto_forkserver.ENV, str(tmp_path / "nobody"))
    with pytest.raises(EmbeddedAwsError) as refused:
        EmbeddedAws()
    assert moto_forkserver.ENV in str(refused.value)
    assert str(tmp_path / "nobody") in str(refused.value)


def test_a_fork_server_that_cannot_listen_says_so(tmp_path: Path) -> None:
    with pytest.raises(moto_forkserver.ForkServerError) as refused:
        moto_forkserver.start(tmp_path / "missing" / "socket")
    assert "exited with status 1" in str(refused.value)


def test_every_service_the_local_cloud_calls_is_warmed_up() -> None:
    # every client("<service>") the local cloud makes is one the fork server builds ahead
    called = set()
    for source in (ROOT / "local").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "client"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                called.add(node.args[0].value)
    assert {"sqs", "iam", "lambda"} <= called
    assert called <= set(moto_forkserver.SERVICES)
