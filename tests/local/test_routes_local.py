"""Every sender's route through the local cloud: `ops send --route` signs as that sender does,
the listener verifies it and the processor gets it; a forgery is refused and goes nowhere.

One stack with a route of every source, as the configuration contract shows them, its secrets
given as LOCAL_SECRET_ROUTE_SECRETS_<ROUTE> (what CI would do without a passphrase).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloud_helpers import logged_json, project_with_stack, quiet, request
from sender_routes import CONFIGURED, secret_for

from local.cloud import LocalCloud
from local.stackfile import secret_env_var
from ops.cli import main as ops

STACK = "routes"
EVENT = Path(__file__).resolve().parents[2] / "events" / "strava-activity-create.json"
ROUTES = CONFIGURED
"""One route of every source, as the configuration contract shows them."""
SECRETS = {
    route["name"]: secret_for(route["source"], route["name"].encode() * 4)
    for route in ROUTES
    if route["source"] != "none"
}


def stack_file() -> str:
    lines = ["config:", "  aws:region: us-east-1", "  async-webhook:alarms: false"]
    lines.append("  async-webhook:routes:")
    lines += [f"    - {json.dumps(route)}" for route in ROUTES]
    lines.append("  async-webhook:routeSecrets:")  # as `pulumi config set --secret --path` writes
    lines += [f"    {name}:\n      secure: v1:AAAA:AAAA" for name in SECRETS]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, Path]]:
    root = tmp_path_factory.mktemp("routes")
    project = project_with_stack(root, STACK, stack_file())
    with pytest.MonkeyPatch.context() as env:
        for name, secret in SECRETS.items():
            env.setenv(secret_env_var("async-webhook:routeSecrets", [name]), secret)
        cloud = LocalCloud(project, stack=STACK, port=0, stream=quiet(), state_root=root / "s")
        cloud.start()
        try:
            yield cloud, project
        finally:
            cloud.stop()


def send(served: tuple[LocalCloud, Path], route: str, capsys: pytest.CaptureFixture[str]) -> str:
    """`python -m ops send --route ROUTE` against the served stack; the message id it got."""
    cloud, project = served
    argv = ["send", str(EVENT), "--route", route, "-s", STACK, "-C", str(project)]
    argv += ["--state-dir", str(cloud.state_dir.parent)]
    code = ops(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    match = re.search(r"message_id=([0-9a-f-]{36})", out)
    assert match, out
    return match.group(1)


@pytest.mark.parametrize("route", [r["name"] for r in ROUTES])
def test_each_route_accepts_what_its_sender_signs_and_the_processor_gets_it(
    served: tuple[LocalCloud, Path], capsys: pytest.CaptureFixture[str], route: str
) -> None:
    # GIVEN the stack's secrets as its sender holds them (the environment, no passphrase)
    with pytest.MonkeyPatch.context() as env:
        for name, secret in SECRETS.items():
            env.setenv(secret_env_var("async-webhook:routeSecrets", [name]), secret)
        # WHEN `ops send --route` posts an event signed the way that route's sender signs
        message_id = send(served, route, capsys)
    # THEN the listener took it (200 with SQS's id), and the processor processed it
    cloud, _ = served
    processed = logged_json(cloud, "processor_function_name", message_id, "message processed", 20)
    assert processed["message_id"] == message_id


@pytest.mark.parametrize("route", ["gh", "stripe", "slack", "shop", "sw", "generic", "tok"])
def test_an_unsigned_post_to_a_verifying_route_is_refused(
    served: tuple[LocalCloud, Path], route: str
) -> None:
    cloud, _ = served
    path = next(r["path"] for r in ROUTES if r["name"] == route)
    headers = {"content-type": "application/json"}
    status, _, body = request(
        cloud.outputs["listener_url"], "POST", path, EVENT.read_bytes(), headers
    )
    assert status == 401
    assert json.loads(body) == {"error": "missing or invalid signature"}


def test_a_strava_event_from_another_subscription_is_refused(
    served: tuple[LocalCloud, Path],
) -> None:
    cloud, _ = served
    event = json.loads(EVENT.read_text())
    event["subscription_id"] = 999
    headers = {"content-type": "application/json"}
    body = json.dumps(event).encode()
    status, _, _ = request(cloud.outputs["listener_url"], "POST", "/strava", body, headers)
    assert status == 403


def test_the_strava_handshake_answers_with_the_routes_token(
    served: tuple[LocalCloud, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cloud, project = served
    argv = ["strava", "handshake", "-s", STACK, "-C", str(project)]
    argv += ["--state-dir", str(cloud.state_dir.parent)]
    with pytest.MonkeyPatch.context() as env:
        env.delenv("STRAVA_VERIFY_TOKEN", raising=False)
        env.setenv(secret_env_var("async-webhook:routeSecrets", ["strava"]), SECRETS["strava"])
        assert ops(argv) == 0, capsys.readouterr()
    assert "handshake ok" in capsys.readouterr().out
