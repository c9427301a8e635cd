"""The real program (the dev stack) deployed by the local cloud, end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloud_helpers import (
    ROOT,
    aws_client,
    burst,
    log_text,
    logged_json,
    parent_pid,
    post_json,
    process_command,
    processed_ids,
    quiet,
    request,
    wait_for,
)

from local import cli as local_cli
from local import moto_forkserver
from local.cloud import LocalCloud

EVENTS = ROOT / "events"
STOP_SECONDS = 10.0
"""A stop waits at most 1.5 s for each poller's long poll and 4 s for moto to write its snapshot
(local/poller.py, local/moto_server.py): about 6 s at worst, more on a loaded machine. A stop
that waited for an invocation (the processor may run 30 s) or for a hung child breaks it."""


@pytest.fixture(scope="module")
def dev_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud(
        ROOT, stack="dev", port=0, stream=quiet(), state_root=tmp_path_factory.mktemp("state")
    )
    cloud.start()
    yield cloud
    cloud.stop()


def test_post_is_answered_then_processed_within_two_seconds(dev_cloud: LocalCloud):
    # GIVEN the dev stack served locally and a real Strava event
    url = dev_cloud.outputs["listener_url"]
    event = json.loads((EVENTS / "strava-activity-create.json").read_text())
    # WHEN it is posted to the listener's URL
    status, body = post_json(url, "append_queue", event)
    # THEN the listener answers 200 with a timestamp and the SQS message id
    assert status == 200
    assert body["timestamp"].endswith("Z")
    message_id = body["message_id"]
    # AND the processor logs that very message within 2 s
    processor = dev_cloud.outputs["processor_function_name"]
    line = wait_for(
        lambda: next(
            (
                x
                for x in log_text(dev_cloud.log_dir, processor).splitlines()
                if message_id in x and "message processed" in x
            ),
            None,
        ),
        timeout=2.0,
        what="the processor's log line",
    )
    record = json.loads(line.split(" ", 1)[1])
    assert record["strava"]["object_id"] == event["object_id"]


def test_a_burst_from_twenty_clients_is_all_accepted_and_all_processed(dev_cloud: LocalCloud):
    # GIVEN the dev stack: a reserved concurrency of 20, as many as the clients below
    url = dev_cloud.outputs["listener_url"]
    # WHEN 100 POSTs arrive from 20 clients at once (more than this machine runs workers for)
    answers = burst(url, "append_queue", total=100, clients=20)
    # THEN every one is accepted, as on AWS: past the machine's capacity they wait for a worker
    assert Counter(status for status, _, _ in answers) == {200: 100}
    ids = {json.loads(body)["message_id"] for _, _, body in answers}
    assert len(ids) == 100
    # AND every message id reaches the processor (at least once)
    processor = dev_cloud.outputs["processor_function_name"]
    wait_for(
        lambda: ids <= processed_ids(dev_cloud.log_dir, processor),
        timeout=30,
        what="every accepted message to be processed",
    )


def test_bad_input_gets_its_status_and_never_reaches_the_processor(dev_cloud: LocalCloud):
    url = dev_cloud.outputs["listener_url"]
    assert request(url, "GET", "nope")[0] == 404
    assert (
        request(url, "PUT", "append_queue", b"{}", {"content-type": "application/json"})[0] == 405
    )
    status, _, body = request(
        url, "POST", "append_queue", b"{", {"content-type": "application/json"}
    )
    assert status == 400
    assert "error" in json.loads(body)
    assert request(url, "POST", "append_queue", b"x", {"content-type": "text/plain"})[0] == 415
    # The open route answers no handshake; the Strava route refuses every one, since no verify
    # token is configured in the dev stack; a Strava route takes only Strava events.
    query = "?hub.mode=subscribe&hub.challenge=abc&hub.verify_token=x"
    assert request(url, "GET", "append_queue" + query)[0] == 405
    assert request(url, "GET", "strava" + query)[0] == 403
    json_type = {"content-type": "application/json"}
    assert request(url, "POST", "strava", b'{"hello": 1}', json_type)[0] == 400
    assert request(url, "POST", "strava", b"", json_type)[0] == 400


def test_outputs_follow_the_contract_with_local_urls(dev_cloud: LocalCloud):
    outputs = dev_cloud.outputs
    assert outputs["listener_url"].startswith("http://127.0.0.1:")
    assert outputs["listener_url"].endswith("/")
    assert outputs["queue_url"].startswith(dev_cloud.endpoint_url)
    assert outputs["dlq_url"].startswith(dev_cloud.endpoint_url)
    assert outputs["queue_arn"].endswith(":async-webhook-dev")
    assert outputs["listener_function_name"] == "async-webhook-dev-listener"
    assert outputs["processor_function_name"] == "async-webhook-dev-processor"
    written = json.loads((dev_cloud.state_dir / "outputs.json").read_text())
    assert written == outputs


def test_declared_resources_exist_in_the_embedded_aws(dev_cloud: LocalCloud):
    sqs = aws_client("sqs", dev_cloud)
    attributes = sqs.get_queue_attributes(
        QueueUrl=dev_cloud.outputs["queue_url"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == str(6 * 30)
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dev_cloud.outputs["dlq_arn"],
        "maxReceiveCount": 5,
    }
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert "aws:SecureTransport" in attributes["Policy"]
    iam = aws_client("iam", dev_cloud)
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert len([r for r in roles if r.startswith(("listener-role", "processor-role"))]) == 2
    logs = aws_client("logs", dev_cloud)
    groups = {
        g["logGroupName"]: g.get("retentionInDays")
        for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    }
    assert groups == {
        "/aws/lambda/async-webhook-dev-listener": 14,
        "/aws/lambda/async-webhook-dev-processor": 14,
    }


def test_alarms_their_topic_and_the_dashboard_exist_in_the_embedded_aws(dev_cloud: LocalCloud):
    # GIVEN the dev stack, whose alarms are on (the deployer's clients: no new ones to build)
    topic = dev_cloud.outputs["alarm_topic_arn"]
    sns, kms, cloudwatch, logs = (dev_cloud.client(s) for s in ("sns", "kms", "cloudwatch", "logs"))
    # THEN the topic exists, encrypted with the key the program declared
    key = sns.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"]
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["Enabled"]
    # AND every alarm exists and notifies it
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    assert len(alarms) == 8
    assert {tuple(a["AlarmActions"]) for a in alarms} == {(topic,)}
    # AND the dashboard and the listener's metric filter are recorded, and the terminal is
    # told that they are only recorded
    (dashboard,) = cloudwatch.list_dashboards()["DashboardEntries"]
    assert dev_cloud.outputs["dashboard_url"].endswith(
        f"#dashboards:name={dashboard['DashboardName']}"
    )
    (metric_filter,) = logs.describe_metric_filters()["metricFilters"]
    assert metric_filter["logGroupName"] == "/aws/lambda/async-webhook-dev-listener"
    (recorded,) = [w for w in dev_cloud.warnings if "only recorded" in w]
    assert "8 metric alarms (never evaluated" in recorded and "1 dashboard (" in recorded


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process; one that exits while it is being read is skipped
    (it has no descendants left to find)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (parent := parent_pid(int(entry.name))) is not None:
            parents[int(entry.name)] = parent
    return parents


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def _running(pids: set[int]) -> set[int]:
    """Those of ``pids`` that still run (a zombie has exited; it only awaits its reaper)."""
    alive: set[int] = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def test_cli_serves_from_another_folder_and_stops_cleanly_on_sigterm(tmp_path: Path):
    # GIVEN `python -m local up` started from another folder with -C, -s and --port 0, as a
    # user starts it (its embedded AWS its own child, not forked from the suite's fork server)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop(moto_forkserver.ENV, None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local",
            "up",
            "-C",
            str(ROOT),
            "-s",
            "dev",
            "--port",
            "0",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        deadline = time.monotonic() + 45  # a start-up, on a machine that may be busy
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ready in"):
                break
        text = "".join(lines)
        assert "    listener_url = http://127.0.0.1:" in text, text
        url = next(x for x in lines if "listener_url = " in x).split(" = ")[1].strip()
        # AND `python -m local output` reads what it serves
        printed = subprocess.run(
            [
                sys.executable,
                "-m",
                "local",
                "output",
                "listener_url",
                "-C",
                str(ROOT),
                "--state-dir",
                str(tmp_path / "state"),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.strip()
        assert printed == url
        # WHEN it has served a request and then receives SIGTERM
        status, _ = post_json(url, "append_queue", {"hello": "world"})
        assert status == 200
        children = _descendants(proc.pid)
        commands = {process_command(pid) for pid in children}
        assert any("local.moto_server" in c for c in commands), commands  # the embedded AWS
        assert any("local/_worker.py" in c for c in commands), commands  # a function worker
        proc.send_signal(signal.SIGTERM)
        # THEN it stops within STOP_SECONDS of taking the signal ("Stopping..."), exits 0 and
        # leaves no process behind
        while (line := proc.stdout.readline()) not in ("Stopping...\n", ""):
            pass  # the functions' log lines before it
        assert line == "Stopping...\n"
        began = time.monotonic()
        assert proc.wait(timeout=60) == 0
        assert time.monotonic() - began < STOP_SECONDS
        rest = proc.stdout.read()
        assert "Stopped." in rest
        try:
            wait_for(lambda: not _running(children), timeout=10, what="every child to exit")
        except AssertionError:
            raise AssertionError(f"left behind: {sorted(_running(children))}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_output_command_prints_what_is_being_served(
    dev_cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
):
    # GIVEN the dev stack served from a state folder of its own (not the project's .local)
    root = dev_cloud.state_dir.parent
    assert root != ROOT / ".local"
    where = ["-C", str(ROOT), "--state-dir", str(root)]
    # WHEN `python -m local output` is asked for every output, as JSON, and for one, bare
    assert local_cli.main(["output", "--json", *where]) == 0
    every = json.loads(capsys.readouterr().out)
    assert local_cli.main(["output", "queue_url", *where]) == 0
    one = capsys.readouterr().out
    # THEN it prints what that stack serves
    assert every == dev_cloud.outputs
    assert one == dev_cloud.outputs["queue_url"] + "\n"


def test_output_command_for_a_stack_not_served_says_so(
    dev_cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
):
    # GIVEN a served dev stack WHEN another stack's outputs are asked for in the same folder
    where = ["-C", str(ROOT), "--state-dir", str(dev_cloud.state_dir.parent)]
    code = local_cli.main(["output", "listener_url", "-s", "nope", *where])
    # THEN it fails, naming the stack and the file it looked for
    assert code == 2
    err = capsys.readouterr().err
    assert "stack 'nope' is not being served" in err
    assert str(dev_cloud.state_dir.parent / "nope" / "outputs.json") in err


def test_env_exports_let_plain_boto3_reach_the_embedded_aws(dev_cloud: LocalCloud, monkeypatch):
    # GIVEN only what `python -m local env` exports, no other AWS configuration
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    exported = (dev_cloud.state_dir / "env").read_text().splitlines()
    for line in exported:
        name, value = line.removeprefix("export ").split("=", 1)
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    # WHEN a default boto3 client lists the queues THEN it sees the stack's, signed as deployer
    import boto3

    urls = boto3.session.Session().client("sqs").list_queues()["QueueUrls"]
    assert dev_cloud.outputs["queue_url"] in urls


def test_the_demos_empty_post_answers_the_time_and_the_processor_prints_it(
    dev_cloud: LocalCloud,
):
    # GIVEN the dev stack, whose /append_queue is the original demo's open route
    url = dev_cloud.outputs["listener_url"]
    # WHEN it gets the demo's request: a POST with no body and no content type
    status, _, body = request(url, "POST", "append_queue")
    # THEN it answers the time it received it, with the message's id
    assert status == 200
    answer = json.loads(body)
    assert set(answer) == {"timestamp", "message_id"} and answer["timestamp"].endswith("Z")
    # AND the processor (the dev stack logs at DEBUG) prints that same timestamp
    line = logged_json(
        dev_cloud, "processor_function_name", answer["message_id"], "message content", 10
    )
    assert line["level"] == "DEBUG"
    assert line["preview"] == {"text": answer["timestamp"], "truncated": False}
    # AND a verifying route still answers an empty body 400
    assert request(url, "POST", "strava")[0] == 400
