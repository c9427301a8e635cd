"""`strava subscribe / view / unsubscribe` against a fake of Strava's API and the real listener.

The listener is functions/listener/handler.py itself, called in this process behind the local
cloud's Function URL server (payload format 2.0 both ways), with its verify token in moto's
SSM. The fake Strava (fake_strava.py) makes its own handshake GET against it before it
answers a create, as Strava does.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from environments import listener_env
from fake_strava import CLIENT_ID, CLIENT_SECRET, FakeStrava, serve_strava
from moto.server import ThreadedMotoServer

from local.function_url import FunctionUrlServer
from local.lambda_runtime import Invocation
from ops import strava, webhook
from ops.cli import main

ROOT = Path(__file__).resolve().parents[2]
LISTENER = ROOT / "functions" / "listener"
REGION = "us-east-1"
TOKEN = "verify-token-for-the-tests-5f1c"
PARAMETER = "/async-webhook/test/strava-verify-token"
ROUTE = "/strava"

fake_strava = pytest.fixture(serve_strava, name="fake_strava")


def _listener_environment(queue_url: str) -> dict[str, str]:
    """The listener's configuration for one Strava route at ROUTE, its token in PARAMETER,
    written by the program's own code (tests/environments.py)."""
    routes = [{"name": "strava", "path": ROUTE, "source": "strava"}]
    return listener_env(queue_url, routes=routes, secret_parameters={"strava": PARAMETER})


def _import_listener() -> Any:
    """functions/listener as Lambda imports it: its folder first on sys.path, fresh modules."""
    names = ("handler", "senders", "aws")
    for name in names:
        sys.modules.pop(name, None)
    sys.path.insert(0, str(LISTENER))
    try:
        return importlib.import_module("handler")
    finally:
        sys.path.remove(str(LISTENER))
        for name in names:
            sys.modules.pop(name, None)


class InProcessFunction:
    """A handler called in this process, shaped as the local cloud's Function URL server
    expects of a function (name, arn, logs, invoke), without its worker processes."""

    name = "listener"
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:listener"

    def __init__(self, handler: Callable[[dict[str, Any], Any], Any]) -> None:
        self.handler = handler
        self.logs = self

    def write(self, name: str, line: str) -> None:
        print(f"{name} | {line}", file=sys.stderr)

    def invoke(self, event: dict[str, Any], *, request_id: str) -> Invocation:
        return Invocation(request_id=request_id, duration_ms=0.0, payload=self.handler(event, None))


@pytest.fixture(scope="module")
def listener() -> Iterator[str]:
    """The listener's URL (ends with "/"), serving ROUTE with TOKEN; one per module."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_SSM", "AWS_PROFILE"):
            env.delenv(name, raising=False)
        for name, value in (
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
        ):
            env.setenv(name, value)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        # The listener's own client, like the test's boto3, finds moto through the endpoint.
        env.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        try:
            ssm = boto3.client("ssm", region_name=REGION)
            ssm.put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
            queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="q")[
                "QueueUrl"
            ]
            for name, value in _listener_environment(queue_url).items():
                env.setenv(name, value)
            with FunctionUrlServer(InProcessFunction(_import_listener().handler)) as server:
                # Warm: the listener reads its token from SSM on the first handshake only.
                assert webhook.check_handshake(server.url + "strava", TOKEN, timeout=30).ok
                yield server.url
        finally:
            moto.stop()


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Strava application's credentials in the environment, as a user exports them."""
    monkeypatch.setenv("STRAVA_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("STRAVA_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.delenv("STRAVA_VERIFY_TOKEN", raising=False)
    for name in list(os.environ):
        if name.startswith("LOCAL_SECRET_"):
            monkeypatch.delenv(name)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nobody listens on: bound, never listening, so connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def subscribe(fake: FakeStrava, callback_url: str, *extra: str, token: str = TOKEN) -> int:
    return main(
        [
            "strava",
            "subscribe",
            "--api-url",
            fake.url,
            "--callback-url",
            callback_url,
            "--verify-token",
            token,
            *extra,
        ]
    )


def output(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert CLIENT_SECRET not in text
        assert TOKEN not in text
    return captured.out, captured.err


# --- subscribe -------------------------------------------------------------------------------


@pytest.mark.usefixtures("app")
def test_subscribe_checks_the_handshake_then_creates_the_subscription(
    fake_strava: FakeStrava, listener: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a listener that answers the handshake for TOKEN at ROUTE, and no subscription yet
    callback = listener + ROUTE.lstrip("/")
    # WHEN subscribing with that callback and token
    code = subscribe(fake_strava, callback)
    # THEN our own handshake passed, Strava was asked once with the form it documents, made its
    # own handshake against the listener, and the new subscription's id is printed
    out, _ = output(capsys)
    assert code == 0
    assert f"handshake ok: {callback} echoed the challenge" in out
    (create,) = fake_strava.creates()
    assert create["fields"] == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "callback_url": callback,
        "verify_token": TOKEN,
    }
    (handshake,) = fake_strava.handshakes
    assert handshake["outcome"] == f"200 echoed={handshake['challenge']!r}"
    (subscription,) = fake_strava.subscriptions.values()
    assert subscription["callback_url"] == callback
    assert f"subscribed: subscription id {subscription['id']}, callback {callback}" in out


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize(
    ("where", "path", "token", "expected"),
    [
        pytest.param(
            "listener",
            "strava",
            "not-the-listener-token",
            ["answered 403", "verify token mismatch", "the listener refused the verify token"],
            id="wrong token",
        ),
        pytest.param(
            "listener",
            "append_queue_typo",
            TOKEN,
            ["answered 404", "nothing answers at that path"],
            id="path the listener does not serve",
        ),
        pytest.param(
            "closed_port",
            "strava",
            TOKEN,
            ["cannot reach {callback}:", "Strava could not reach it either"],
            id="unreachable",
        ),
        pytest.param(
            "silent_port",
            "strava",
            TOKEN,
            ["did not answer the handshake within 0.1 s, Strava's deadline"],
            id="slower than Strava allows",
        ),
    ],
)
def test_a_failing_handshake_is_explained_and_strava_is_not_called(
    fake_strava: FakeStrava,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
    path: str,
    token: str,
    expected: list[str],
) -> None:
    # GIVEN a callback whose handshake fails (the real listener, or a port that refuses
    # connections or never answers, with Strava's 2 s shortened so that the test does not wait)
    if where == "listener":
        callback = request.getfixturevalue("listener") + path
    else:
        monkeypatch.setattr(strava, "HANDSHAKE_DEADLINE_SECONDS", 0.1)
        callback = f"http://127.0.0.1:{request.getfixturevalue(where)}/{path}"
    # WHEN subscribing
    code = subscribe(fake_strava, callback, token=token)
    # THEN the reason is given, and Strava was never called
    _, err = output(capsys)
    assert code == 1
    assert fake_strava.requests == []
    assert "not subscribed (Strava was not called)" in err
    for fragment in expected:
        assert fragment.format(callback=callback) in err
    assert token not in err


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("port", ["closed_port", "silent_port"])
def test_when_strava_cannot_verify_the_callback_its_error_is_explained(
    fake_strava: FakeStrava,
    port: str,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a callback that refuses connections or never answers, our own check skipped, and
    # Strava's deadline shortened so that the test does not wait 2 s
    fake_strava.handshake_timeout = 0.1
    callback = f"http://127.0.0.1:{request.getfixturevalue(port)}/strava"
    # WHEN subscribing
    code = subscribe(fake_strava, callback, "--skip-handshake-check")
    # THEN Strava tried its handshake, refused, and the refusal is explained in plain words
    _, err = output(capsys)
    assert code == 1
    (handshake,) = fake_strava.handshakes
    assert handshake["outcome"].startswith("unreachable")
    assert fake_strava.subscriptions == {}
    assert f"Strava could not verify the callback {callback}" in err
    assert "callback url not verifiable" in err
    assert "within 2 s" in err


@pytest.mark.usefixtures("app")
def test_a_second_subscription_is_refused_and_points_at_view_and_unsubscribe(
    fake_strava: FakeStrava, listener: str, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = fake_strava.add("https://old.example/strava")

    code = subscribe(fake_strava, listener + "strava")

    _, err = output(capsys)
    assert code == 1
    assert list(fake_strava.subscriptions.values()) == [existing]
    assert "already has a subscription" in err
    assert "Strava allows one per application" in err
    assert "python -m ops strava view" in err
    assert "python -m ops strava unsubscribe" in err
    assert f"existing: id {existing['id']}  callback https://old.example/strava" in err


def test_a_local_callback_is_refused_when_the_api_is_strava(
    app: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the default API URL (Strava itself) and the local cloud's listener as callback
    # WHEN subscribing   THEN refused as bad input, and nothing is sent anywhere (no network)
    code = main(
        [
            "strava",
            "subscribe",
            "--callback-url",
            "http://127.0.0.1:3000/strava",
            "--verify-token",
            TOKEN,
        ]
    )

    _, err = output(capsys)
    assert code == 2
    assert "Strava cannot reach http://127.0.0.1:3000/strava" in err
    assert "public HTTPS tunnel" in err


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("api.localhost", True),
        ("10.1.2.3", True),
        ("192.168.0.7", True),
        ("::1", True),
        ("abc.lambda-url.us-east-1.on.aws", False),
        ("203.0.113.9", True),  # documentation range: not routable either
        ("52.94.236.248", False),
    ],
)
def test_which_callbacks_strava_cannot_reach(host: str, private: bool) -> None:
    url = f"http://[{host}]/strava" if ":" in host else f"http://{host}/strava"
    if private:
        with pytest.raises(strava.UsageError, match="Strava cannot reach"):
            strava.check_reachable(strava.DEFAULT_API_URL, url)
    else:
        strava.check_reachable(strava.DEFAULT_API_URL, url)
    strava.check_reachable("http://127.0.0.1:9/api/v3", url)  # a fake on this machine: allowed


# --- credentials and secrets -----------------------------------------------------------------


@pytest.mark.parametrize("command", [["view"], ["unsubscribe", "--yes"], ["subscribe"]])
def test_wrong_credentials_are_explained(
    fake_strava: FakeStrava,
    listener: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.setenv("STRAVA_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("STRAVA_CLIENT_SECRET", "a-wrong-secret-9f8e")
    flags = ["--callback-url", listener + "strava", "--verify-token", TOKEN]

    code = main(
        [
            "strava",
            *command,
            "--api-url",
            fake_strava.url,
            *(flags if command == ["subscribe"] else []),
        ]
    )

    _, err = output(capsys)
    assert code == 1
    assert "Strava refused the application's credentials (Strava answered 401" in err
    assert "Check STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET" in err
    assert "a-wrong-secret-9f8e" not in err
    assert fake_strava.subscriptions == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STRAVA_CLIENT_SECRET": CLIENT_SECRET}, "STRAVA_CLIENT_ID is not set"),
        ({"STRAVA_CLIENT_ID": CLIENT_ID}, "STRAVA_CLIENT_SECRET is not set"),
        ({}, "STRAVA_CLIENT_ID is not set; STRAVA_CLIENT_SECRET is not set"),
        (
            {"STRAVA_CLIENT_ID": CLIENT_SECRET, "STRAVA_CLIENT_SECRET": CLIENT_SECRET},
            "STRAVA_CLIENT_ID must be the application's numeric client id",
        ),
    ],
)
@pytest.mark.parametrize("command", ["subscribe", "view", "unsubscribe"])
def test_missing_credentials_are_bad_input_naming_the_variable(
    fake_strava: FakeStrava,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    message: str,
    command: str,
) -> None:
    for name in ("STRAVA_CLIENT_ID", "STRAVA_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    code = main(["strava", command, "--api-url", fake_strava.url])

    _, err = output(capsys)  # a secret pasted as the id is not echoed either
    assert code == 2
    assert message in err
    assert fake_strava.requests == []


@pytest.mark.usefixtures("app")
def test_verbose_shows_each_call_with_secrets_hidden(
    fake_strava: FakeStrava, listener: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert subscribe(fake_strava, listener + "strava", "--verbose") == 0
    assert main(["strava", "view", "--verbose", "--api-url", fake_strava.url]) == 0

    _, err = output(capsys)
    assert f"POST {fake_strava.url}/push_subscriptions (client_id={CLIENT_ID}, " in err
    assert "client_secret=***" in err
    assert "verify_token=***" in err
    assert f"GET {fake_strava.url}/push_subscriptions" in err
    assert "-> 201 in " in err
    assert "rate limit usage 1,1 of 600,30000" in err


def test_a_secret_never_prints() -> None:
    secret = strava.Secret("hunter2")
    creds = strava.Credentials(client_id="1", client_secret=secret)

    for text in (str(secret), repr(secret), f"{secret}", repr(creds), str([secret])):
        assert "hunter2" not in text
    assert secret.reveal() == "hunter2"


def test_the_handshake_command_does_not_show_the_token_when_unreachable(
    closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{closed_port}/"

    code = main(["strava", "handshake", "--token", TOKEN, "--url", url, "--path", ROUTE])

    _, err = output(capsys)
    assert code == 1
    assert f"cannot reach {url}{ROUTE.lstrip('/')}:" in err


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("command", [["view"], ["unsubscribe", "--id", "7", "--yes"]])
def test_an_unreachable_api_is_an_error_without_the_secret(
    closed_port: int, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # The client secret travels in the query of GET and DELETE, as Strava documents
    api_url = f"http://127.0.0.1:{closed_port}/api/v3"

    code = main(["strava", *command, "--api-url", api_url])

    _, err = output(capsys)
    assert code == 1
    assert f"cannot reach {api_url}/push_subscriptions" in err


@pytest.mark.usefixtures("app")
def test_rate_limits_are_explained(
    fake_strava: FakeStrava, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_strava.rate_limited = True

    code = main(["strava", "view", "--api-url", fake_strava.url])

    _, err = output(capsys)
    assert code == 1
    assert "Strava's rate limit for this application is used up (Strava answered 429" in err
    assert "used 692,29300 of 600,30000 (15 minutes, day)" in err
    assert ":00, :15, :30 and :45" in err
    assert "midnight UTC" in err


# --- view and unsubscribe --------------------------------------------------------------------


@pytest.mark.usefixtures("app")
def test_view_says_none_when_there_is_no_subscription(
    fake_strava: FakeStrava, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["strava", "view", "--api-url", fake_strava.url]) == 0

    out, _ = output(capsys)
    assert out == f"none: Strava application {CLIENT_ID} has no subscription\n"
    (listed,) = fake_strava.requests
    assert listed["fields"] == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


@pytest.mark.usefixtures("app")
def test_view_shows_the_subscription(
    fake_strava: FakeStrava, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = fake_strava.add("https://abc.lambda-url.us-east-1.on.aws/strava")

    assert main(["strava", "view", "--api-url", fake_strava.url]) == 0

    out, _ = output(capsys)
    assert out == (
        f"id {existing['id']}  callback https://abc.lambda-url.us-east-1.on.aws/strava  "
        f"created {existing['created_at']}  updated {existing['updated_at']}\n"
    )


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize(("answer", "code"), [("n", 1), ("", 1), ("y", 0)])
def test_unsubscribe_asks_first_and_deletes_only_on_yes(
    fake_strava: FakeStrava,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
    code: int,
) -> None:
    # GIVEN a subscription   WHEN unsubscribing without --id or --yes, answering the question
    existing = fake_strava.add("https://old.example/strava")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{answer}\n"))

    assert main(["strava", "unsubscribe", "--api-url", fake_strava.url]) == code

    # THEN the question names the one `view` finds; only "y" deletes it, as Strava documents
    out, _ = output(capsys)
    assert (
        f"delete Strava subscription {existing['id']} (callback https://old.example/strava)?" in out
    )
    if code:
        assert "nothing deleted" in out
        assert list(fake_strava.subscriptions.values()) == [existing]
        assert [r["method"] for r in fake_strava.requests] == ["GET"]
        return
    assert f"unsubscribed: subscription {existing['id']} deleted" in out
    assert fake_strava.subscriptions == {}
    deleted = fake_strava.requests[-1]
    assert deleted["method"] == "DELETE"
    assert deleted["path"] == f"/api/v3/push_subscriptions/{existing['id']}"
    assert deleted["fields"] == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


@pytest.mark.usefixtures("app")
def test_unsubscribe_by_id_with_yes_asks_nothing(
    fake_strava: FakeStrava, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_strava.add("https://old.example/strava")
    second = fake_strava.add("https://other.example/strava")  # not Strava's rule: the fake's

    code = main(
        ["strava", "unsubscribe", "--id", str(second["id"]), "--yes", "--api-url", fake_strava.url]
    )

    out, _ = output(capsys)
    assert code == 0
    assert "?" not in out
    assert second["id"] not in fake_strava.subscriptions
    assert len(fake_strava.subscriptions) == 1


@pytest.mark.usefixtures("app")
def test_unsubscribe_of_an_unknown_id_fails(
    fake_strava: FakeStrava, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["strava", "unsubscribe", "--id", "999", "--yes", "--api-url", fake_strava.url])

    _, err = output(capsys)
    assert code == 1
    assert (
        "cannot delete subscription 999: Strava has no such subscription (Strava answered 404"
        in err
    )


@pytest.mark.usefixtures("app")
def test_unsubscribe_without_a_subscription_has_nothing_to_do(
    fake_strava: FakeStrava, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["strava", "unsubscribe", "--yes", "--api-url", fake_strava.url])

    out, _ = output(capsys)
    assert code == 0
    assert f"nothing to delete: application {CLIENT_ID} has no subscription" in out
    assert [r["method"] for r in fake_strava.requests] == ["GET"]


# --- defaults from the stack -----------------------------------------------------------------


def write_project(tmp_path: Path, config: dict[str, Any], listener_url: str = "") -> Path:
    """A project folder with Pulumi.test.yaml, and the local cloud's outputs when given."""
    (tmp_path / "Pulumi.yaml").write_text("name: async-webhook\nruntime: python\n")
    lines = ["config:"] + [f"  {key}: {json.dumps(value)}" for key, value in config.items()]
    (tmp_path / "Pulumi.test.yaml").write_text("\n".join(lines) + "\n")
    if listener_url:
        state = tmp_path / ".local" / "test"
        state.mkdir(parents=True)
        (state / "outputs.json").write_text(json.dumps({"listener_url": listener_url}))
    return tmp_path


def subscribe_from_stack(fake: FakeStrava, project: Path, *flags: str) -> int:
    """Stack test of `project`, served locally: its outputs and its Pulumi.test.yaml."""
    stack = ["--local", "-s", "test", "-C", str(project)]
    return main(["strava", "subscribe", *stack, "--api-url", fake.url, *flags])


STRAVA_ROUTE = {"name": "strava", "path": ROUTE, "source": "strava"}
DEMO_ROUTE = {"name": "demo", "path": "/append_queue", "source": "none"}
ENCRYPTED = {"secure": "v1:bm90IHJlYWxseSBlbmNyeXB0ZWQ="}


def test_subscribe_defaults_to_the_stack_listener_and_strava_route(
    app: None,
    fake_strava: FakeStrava,
    listener: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a stack file with a Strava route among others, its token an encrypted routeSecrets
    # given to this machine as LOCAL_SECRET_ROUTE_SECRETS, and that stack served locally
    project = write_project(
        tmp_path,
        {
            "async-webhook:routes": [DEMO_ROUTE, STRAVA_ROUTE],
            "async-webhook:routeSecrets": ENCRYPTED,
        },
        listener_url=listener,
    )
    monkeypatch.setenv("LOCAL_SECRET_ROUTE_SECRETS", json.dumps({"strava": TOKEN}))
    # WHEN subscribing with no callback URL and no token
    code = subscribe_from_stack(fake_strava, project)
    # THEN the callback is the listener URL plus the route's path, with the route's token
    output(capsys)
    assert code == 0
    (create,) = fake_strava.creates()
    assert create["fields"]["callback_url"] == listener + "strava"
    assert create["fields"]["verify_token"] == TOKEN


def test_the_route_token_is_the_current_one_during_a_rotation(tmp_path: Path) -> None:
    project = write_project(
        tmp_path, {"async-webhook:routes": [STRAVA_ROUTE], "async-webhook:routeSecrets": ENCRYPTED}
    )
    environ = {"LOCAL_SECRET_ROUTE_SECRETS": json.dumps({"strava": ["new-token", "old-token"]})}

    found = strava.strava_route_defaults(project, "test", environ=environ)

    assert (found.name, found.path) == ("strava", ROUTE)
    assert found.token is not None
    assert found.token.reveal() == "new-token"


def test_route_picks_one_of_several_strava_routes(tmp_path: Path) -> None:
    clubs = {"name": "clubs", "path": "/strava-clubs", "source": "strava"}
    project = write_project(tmp_path, {"async-webhook:routes": [STRAVA_ROUTE, clubs]})

    with pytest.raises(
        strava.UsageError, match=r"2 strava routes \(strava, clubs\): pick one with --route"
    ):
        strava.strava_route_defaults(project, "test", environ={})
    found = strava.strava_route_defaults(project, "test", route="clubs", environ={})
    assert found.path == "/strava-clubs"
    with pytest.raises(
        strava.UsageError, match=r"--route demo: .* no strava route so named \(strava, clubs\)"
    ):
        strava.strava_route_defaults(project, "test", route="demo", environ={})


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize(
    ("config", "flags", "message"),
    [
        (
            {"async-webhook:listenerPaths": ["/append_queue"], "async-webhook:verifyToken": "x"},
            [],
            'async-webhook:listenerPaths = ["/append_queue"]: was replaced by routes',
        ),
        (
            {"async-webhook:routes": [DEMO_ROUTE]},
            ["--verify-token", TOKEN],
            "Pulumi.test.yaml has no route with source: strava: pass --callback-url URL",
        ),
        (
            {"async-webhook:routes": [STRAVA_ROUTE]},
            [],
            "Pulumi.test.yaml has no routeSecrets.strava: pass --verify-token T or set "
            "STRAVA_VERIFY_TOKEN (the value of `pulumi config get --path routeSecrets.strava`)",
        ),
        (
            {
                "async-webhook:routes": [STRAVA_ROUTE],
                "async-webhook:routeSecrets": {"strava": ENCRYPTED},
            },
            ["--callback-url", "http://127.0.0.1:9/strava"],
            "async-webhook:routeSecrets.strava (set LOCAL_SECRET_ROUTE_SECRETS_STRAVA): "
            "pass --verify-token T",
        ),
        (
            {"async-webhook:routes": [STRAVA_ROUTE], "async-webhook:routeSecrets": ENCRYPTED},
            [],
            "set LOCAL_SECRET_ROUTE_SECRETS",
        ),
    ],
)
def test_what_the_stack_cannot_say_is_asked_for(
    fake_strava: FakeStrava,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    config: dict[str, Any],
    flags: list[str],
    message: str,
) -> None:
    project = write_project(tmp_path, config, listener_url="http://127.0.0.1:9/")

    code = subscribe_from_stack(fake_strava, project, *flags)

    _, err = output(capsys)
    assert code == 2
    assert message in err
    assert fake_strava.requests == []


def test_without_a_stack_name_the_flags_are_asked_for(
    app: None, fake_strava: FakeStrava, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["strava", "subscribe", "--api-url", fake_strava.url])

    _, err = output(capsys)
    assert code == 2
    assert "no stack named (-s STACK)" in err
    assert "pass --callback-url URL and --verify-token T" in err
