"""The local cloud's lifecycle: stacks, secrets, clear errors, restarts (one server per stack:
test_programs.py, on its shared cloud)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cloud_helpers import (
    FIXTURE_PROGRAM,
    UNSUPPORTED_PROGRAM,
    aws_client,
    log_text,
    project_with_stack,
    quiet,
    request,
    wait_for,
)

from infra.config import ConfigError
from local.cloud import LocalCloud
from local.provider import UnsupportedResourceError
from local.stackfile import StackFileError


def test_secure_config_needs_its_environment_variable(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("LOCAL_SECRET_TOKEN", raising=False)
    cloud = LocalCloud(FIXTURE_PROGRAM, stack="other", port=0, stream=quiet(), state_root=tmp_path)
    with pytest.raises(StackFileError, match="LOCAL_SECRET_TOKEN"):
        cloud.start()


def test_other_stack_with_its_secret_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LOCAL_SECRET_TOKEN", "from-env")
    with LocalCloud(
        FIXTURE_PROGRAM, stack="other", port=0, stream=quiet(), state_root=tmp_path
    ) as cloud:
        assert cloud.outputs["queue_url"].endswith("/fixture-other")
        _, _, body = request(cloud.outputs["echo_url"], "GET", "env")
        assert json.loads(body)["token"] == "from-env"


def test_unsupported_type_is_a_clear_error_and_nothing_is_left_running(tmp_path: Path):
    cloud = LocalCloud(
        UNSUPPORTED_PROGRAM, stack="test", port=0, stream=quiet(), state_root=tmp_path
    )
    with pytest.raises(UnsupportedResourceError) as caught:
        cloud.start()
    text = str(caught.value)
    assert "aws:s3/bucket:Bucket" in text
    assert "aws:sqs/queue:Queue" in text
    assert "aws:lambda/function:Function" in text
    assert cloud._aws is None


def test_strava_handshake_reads_the_token_through_iam(tmp_path: Path, monkeypatch):
    # GIVEN the real program with a Strava route whose verify token is a secret
    project = project_with_stack(
        tmp_path,
        "tok",
        "config:\n  aws:region: us-east-1\n"
        "  async-webhook:routes:\n    - {name: strava, path: /strava, source: strava}\n"
        "  async-webhook:routeSecrets:\n    strava:\n      secure: v1:abc\n",
    )
    # As `pulumi config set --secret --path routeSecrets.strava` writes it; the value comes from
    # the environment here (no passphrase needed when every secret has its variable).
    monkeypatch.setenv("LOCAL_SECRET_ROUTE_SECRETS_STRAVA", "s3cret")
    with LocalCloud(project, stack="tok", port=0, stream=quiet(), state_root=tmp_path) as cloud:
        url = cloud.outputs["listener_url"]
        query = "strava?hub.mode=subscribe&hub.challenge=c-123&hub.verify_token="
        # WHEN Strava's handshake arrives with the right token THEN the challenge comes back,
        # read from SSM by a role allowed exactly that parameter (IAM enforced)
        status, _, body = request(url, "GET", query + "s3cret")
        assert status == 200
        assert json.loads(body) == {"hub.challenge": "c-123"}
        # AND a wrong token is refused
        assert request(url, "GET", query + "guess")[0] == 403
        # AND the token is nowhere in the function's environment
        listener = cloud._provider.deployment.functions[cloud.outputs["listener_function_name"]]
        assert "s3cret" not in repr(dict(listener.spec.environment))


def test_invalid_stack_config_fails_before_serving(tmp_path: Path):
    project = project_with_stack(
        tmp_path,
        "bad",
        "config:\n  async-webhook:batchSize: 0\n  async-webhook:maxConcurrency: 1\n",
    )
    cloud = LocalCloud(project, stack="bad", port=0, stream=quiet(), state_root=tmp_path / "s")
    with pytest.raises(ConfigError) as caught:
        cloud.start()
    assert {p.key for p in caught.value.problems} == {"batchSize", "maxConcurrency"}


def test_queued_and_in_flight_messages_survive_a_restart(tmp_path: Path):
    # GIVEN a message being processed (in flight) and one waiting in the DLQ
    first = LocalCloud(FIXTURE_PROGRAM, stack="test", port=0, stream=quiet(), state_root=tmp_path)
    first.start()
    try:
        sqs = aws_client("sqs", first, "eu-west-1")
        sqs.send_message(QueueUrl=first.outputs["dlq_url"], MessageBody="parked")
        sqs.send_message(
            QueueUrl=first.outputs["queue_url"],
            MessageBody="sleep-restart",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "slow"}},
        )
        worker = first.outputs["worker_name"]
        wait_for(
            lambda: "worker got sleep-restart" in log_text(first.log_dir, worker),
            timeout=30,
            what="the worker to start on the message",
        )
    finally:
        # WHEN the local cloud stops mid-invocation
        first.stop()
    # THEN the next start puts both back, and the in-flight one is processed again
    second = LocalCloud(FIXTURE_PROGRAM, stack="test", port=0, stream=quiet(), state_root=tmp_path)
    second.start()
    try:
        assert second.restored == {"fixture-work": 1, "fixture-work-dlq": 1}
        sqs = aws_client("sqs", second, "eu-west-1")
        parked = sqs.receive_message(
            QueueUrl=second.outputs["dlq_url"], MessageAttributeNames=["All"], WaitTimeSeconds=1
        )["Messages"]
        assert [m["Body"] for m in parked] == ["parked"]
        wait_for(
            lambda: log_text(second.log_dir, worker).count("worker got sleep-restart") >= 2,
            timeout=30,
            what="the restored message to be processed",
        )
    finally:
        second.stop()
    # AND a fresh start discards what the last stop left (the parked message, again)
    assert (tmp_path / "test" / "queues.json").exists()
    with LocalCloud(
        FIXTURE_PROGRAM, stack="test", port=0, stream=quiet(), state_root=tmp_path, fresh=True
    ) as third:
        assert third.restored == {}
        sqs = aws_client("sqs", third, "eu-west-1")
        assert "Messages" not in sqs.receive_message(QueueUrl=third.outputs["dlq_url"])
