"""The embedded AWS's start-up is bounded: a server that never answers fails, quickly."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from local.moto_server import EmbeddedAws, EmbeddedAwsError

HANGS = [sys.executable, "-c", "import time; time.sleep(60)"]
"""A stand-in for a moto server that hangs before printing its port."""


def test_a_server_that_never_prints_its_port_fails_at_the_start_timeout(tmp_path: Path) -> None:
    # GIVEN an embedded AWS whose child never prints `PORT n`
    log = tmp_path / "moto.log"
    aws = EmbeddedAws(log_path=log, start_timeout=0.5, command=HANGS)
    started = time.monotonic()
    # WHEN the local cloud asks for its endpoint
    with pytest.raises(EmbeddedAwsError) as caught:
        aws.endpoint_url  # noqa: B018 - the property waits for the server
    elapsed = time.monotonic() - started
    # THEN it fails after about the timeout given, naming the log file, and the child is gone
    assert 0.5 <= elapsed < 5.0, elapsed  # the child never answers: the bound is the timeout's
    assert "did not print its port within 0.5 s" in str(caught.value)
    assert str(log) in str(caught.value)
    assert aws._process.poll() is not None
    aws.stop()  # safe again after the failure


def test_a_server_that_exits_at_once_is_reported_with_its_status(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    aws = EmbeddedAws(log_path=log, command=[sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(EmbeddedAwsError) as caught:
        aws.endpoint_url  # noqa: B018
    assert "exited before it could print its port (exit status 3)" in str(caught.value)
    assert str(log) in str(caught.value)


def test_a_server_that_prints_something_else_is_not_taken_for_ready(tmp_path: Path) -> None:
    aws = EmbeddedAws(
        log_path=tmp_path / "moto.log",
        command=[sys.executable, "-c", "print('Traceback: boom', flush=True)"],
    )
    with pytest.raises(EmbeddedAwsError, match=r"did not start.*Traceback: boom"):
        aws.endpoint_url  # noqa: B018
