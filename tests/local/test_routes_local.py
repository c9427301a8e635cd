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
from cloud_helpers import log_text, project_with_stack, quiet, request, wait_for

from local.cloud import LocalCloud
from local.stackfile import secret_env_var
from ops.cli import main as ops

STACK = "routes"
EVENT = Path(__file__).resolve().parents[2] / "events" / "strava-activity-create.json"
ROUTES = [
    {"name": "strava", "path": "/strava", "source": "strava", "subscriptionIds": [271828]},
    {"name": "gh", "path": "/github", "source": "github"},
    {"name": "stripe", "path": "/stripe", "source": "stripe", "toleranceSeconds": 300},
    {"name": "slack", "path": "/slack", "source": "slack"},
    {"name": "shop", "path": "/shopify", "source": "shopify"},
    {"name": "sw", "path": "/std", "source": "standard-webhooks"},
    {
        "name": "generic",
        "path": "/generic",
        "source": "hmac",
        "header": "X-Signature",
        "algorithm": "sha256",
        "encoding": "base64",
    },
    {"name": "tok", "path": "/tok", "source": "token"},
    {"name": "open", "path": "/open", "source": "none"},
]
SECRETS = {
    "strava": "verify-token-1f2e",
    "gh": "github-secret-8c1d",
    "stripe": "whsec_stripe-secret-77aa",
    "slack": "slack-signing-secret-3b9c",
    "shop": "shopify-secret-0d4e",
    "sw": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "generic": "hmac-secret-5a6b",
    "tok": "static-token-9e8f",
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
    processor = cloud.outputs["processor_function_name"]
    line = wait_for(
        lambda: next(
            (
                x
                for x in log_text(cloud.log_dir, processor).splitlines()
                if message_id in x and "message processed" in x
            ),
            None,
        ),
        timeout=20,
        what=f"the processor's line for {message_id}",
    )
    assert line is not None


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
