"""The Strava subscription handshake (GET): token from SSM, read lazily, cached, compared safely."""

import json
import socket
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from environments import listener_env
from factories import LambdaContext, handshake_event, load_event, receive_messages

LoadFunction = Callable[..., Any]  # conftest.load_function
PARAMETER = "/async-webhook-dev/routes/strava"
STRAVA = [{"name": "strava", "path": "/append_queue", "source": "strava"}]
TOKEN = load_event("strava-subscription-handshake")["hub.verify_token"]
CHALLENGE = load_event("strava-subscription-handshake")["hub.challenge"]


def invoke(listener: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    return listener.handler(event, LambdaContext(function_name="listener"))


@pytest.fixture
def token_parameter(ssm: Any) -> str:
    ssm.put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    return PARAMETER


@pytest.fixture
def ssm_calls() -> list[dict[str, Any]]:
    """GetParameter requests of the listeners given to `record_ssm` (their lazy SSM clients)."""
    return []


def record_ssm(listener: ModuleType, calls: list[dict[str, Any]]) -> ModuleType:
    """Record each SSM request a freshly loaded listener makes, as the JSON document it sends."""
    ssm_class = listener.aws.SSM  # each load imports the client module afresh: no leak
    call = ssm_class.call

    def record(self: Any, operation: str, endpoint: str, payload: dict[str, Any]) -> Any:
        calls.append(dict(payload))
        return call(self, operation, endpoint, payload)

    ssm_class.call = record
    return listener


def closed_port_url() -> str:
    """An address on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def guarded(
    load_function: LoadFunction, queue_url: str, ssm_calls: list[dict[str, Any]]
) -> ModuleType:
    """The listener with a Strava route whose verify token is in SSM."""
    env = listener_env(queue_url, routes=STRAVA, secret_parameters={"strava": PARAMETER})
    return record_ssm(load_function("listener", env).handler, ssm_calls)


def test_right_token_echoes_the_challenge_and_enqueues_nothing(
    guarded: ModuleType, token_parameter: str, sqs: Any, queue_url: str
) -> None:
    # GIVEN the verify token in SSM
    # WHEN Strava sends the handshake from events/ with the right token
    event = handshake_event(verify_token=TOKEN, challenge=CHALLENGE)
    response = invoke(guarded, event)
    # THEN 200 echoes the challenge as JSON, and the queue stays empty
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(response["body"]) == {"hub.challenge": CHALLENGE}
    assert receive_messages(sqs, queue_url) == []


def test_the_token_is_read_with_decryption_and_cached(
    guarded: ModuleType, token_parameter: str, ssm_calls: list[dict[str, Any]]
) -> None:
    # GIVEN a listener that has not read its token yet
    assert ssm_calls == []
    # WHEN three handshakes arrive (right, wrong, right)
    statuses = [
        invoke(guarded, handshake_event(verify_token=token))["statusCode"]
        for token in (TOKEN, "wrong", TOKEN)
    ]
    # THEN SSM was asked once, for the decrypted SecureString
    assert statuses == [200, 403, 200]
    assert ssm_calls == [{"Name": PARAMETER, "WithDecryption": True}]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"verify_token": "wrong"}, id="wrong token"),
        pytest.param({"verify_token": TOKEN[:-1]}, id="prefix of the token"),
        pytest.param({"verify_token": TOKEN + "x"}, id="token plus one"),
        pytest.param({"verify_token": "tökén-ü"}, id="non-ascii token"),
        pytest.param({"verify_token": None}, id="no token"),
        pytest.param({"verify_token": ""}, id="empty token"),
        pytest.param({"challenge": None}, id="no challenge"),
        pytest.param({"mode": None}, id="no mode"),
        pytest.param({"mode": "unsubscribe"}, id="other mode"),
    ],
)
def test_anything_but_a_complete_matching_handshake_is_403(
    guarded: ModuleType,
    token_parameter: str,
    sqs: Any,
    queue_url: str,
    query: dict[str, str | None],
) -> None:
    # GIVEN the verify token in SSM
    # WHEN a handshake arrives with a wrong or missing part
    response = invoke(guarded, handshake_event(**query))
    # THEN 403, no challenge echoed, nothing queued
    assert response["statusCode"] == 403
    assert "hub.challenge" not in json.loads(response["body"])
    assert "error" in json.loads(response["body"])
    assert receive_messages(sqs, queue_url) == []


def test_plain_get_is_403(guarded: ModuleType, ssm_calls: list[dict[str, Any]]) -> None:
    # GIVEN a browser's GET without query parameters
    event = handshake_event(verify_token=None, challenge=None, mode=None)
    assert "queryStringParameters" not in event
    # WHEN it arrives
    # THEN 403, without bothering SSM
    assert invoke(guarded, event)["statusCode"] == 403
    assert ssm_calls == []


def test_no_token_configured_means_every_handshake_is_403(
    load_function: LoadFunction,
    queue_url: str,
    token_parameter: str,
    ssm_calls: list[dict[str, Any]],
) -> None:
    # GIVEN a Strava route without a secret (even though a parameter exists)
    listener = record_ssm(
        load_function("listener", listener_env(queue_url, routes=STRAVA)).handler, ssm_calls
    )
    # WHEN the right handshake arrives
    response = invoke(listener, handshake_event(verify_token=TOKEN))
    # THEN 403, and SSM is never called
    assert response["statusCode"] == 403
    assert ssm_calls == []
    assert listener._ssm is None


def test_missing_parameter_is_503_and_not_cached(
    guarded: ModuleType, ssm: Any, ssm_calls: list[dict[str, Any]]
) -> None:
    # GIVEN no parameter in SSM yet
    # WHEN a handshake arrives
    first = invoke(guarded, handshake_event(verify_token=TOKEN))
    # THEN 503 (never 200, never a raise)
    assert first["statusCode"] == 503
    # AND once the parameter exists, the next handshake reads it and succeeds
    ssm.put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    second = invoke(guarded, handshake_event(verify_token=TOKEN))
    assert second["statusCode"] == 200
    assert len(ssm_calls) == 2


def test_unreachable_ssm_is_503(
    guarded: ModuleType,
    token_parameter: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an SSM endpoint that cannot be reached
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", closed_port_url())
    # WHEN a handshake arrives
    response = invoke(guarded, handshake_event(verify_token=TOKEN))
    # THEN 503, logged with the reason, and the token appears nowhere in the log
    assert response["statusCode"] == 503
    out = capsys.readouterr().out
    assert json.loads(out.splitlines()[-1])["reason"] == "ssm unreachable: ConnectError"
    assert TOKEN not in out


def test_raw_query_string_alone_is_enough(guarded: ModuleType, token_parameter: str) -> None:
    # GIVEN an event carrying only rawQueryString (URL-encoded)
    event = handshake_event(verify_token=TOKEN, challenge="a b&c")
    del event["queryStringParameters"]
    assert "a+b%26c" in event["rawQueryString"]
    # WHEN it arrives
    response = invoke(guarded, event)
    # THEN the parameters are decoded and the handshake succeeds
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"hub.challenge": "a b&c"}


def test_handshake_on_another_path_is_404(guarded: ModuleType, token_parameter: str) -> None:
    # GIVEN the right handshake sent to a path that is not configured
    # WHEN it arrives
    # THEN 404
    assert invoke(guarded, handshake_event(path="/elsewhere"))["statusCode"] == 404


def test_a_rotated_token_takes_effect_after_the_refresh_interval(
    guarded: ModuleType,
    token_parameter: str,
    ssm: Any,
    ssm_calls: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a listener that has read its token, and a fake clock
    now = [1000.0]
    monkeypatch.setattr(guarded, "_monotonic", lambda: now[0])
    assert invoke(guarded, handshake_event(verify_token=TOKEN))["statusCode"] == 200
    # WHEN the token is rotated in SSM (no redeploy)
    ssm.put_parameter(Name=PARAMETER, Value="rotated-token", Type="SecureString", Overwrite=True)
    # THEN the cached one still serves within the refresh interval ...
    now[0] += guarded.SETTINGS.secret_refresh_seconds - 1
    assert invoke(guarded, handshake_event(verify_token=TOKEN))["statusCode"] == 200
    # ... and the new one, only it, after it
    now[0] += 2
    assert invoke(guarded, handshake_event(verify_token="rotated-token"))["statusCode"] == 200
    assert invoke(guarded, handshake_event(verify_token=TOKEN))["statusCode"] == 403
    assert len(ssm_calls) == 2


def test_during_a_rotation_both_tokens_are_accepted(
    guarded: ModuleType, ssm: Any, sqs: Any, queue_url: str
) -> None:
    # GIVEN the parameter holds the new token and the previous one, one per line
    ssm.put_parameter(Name=PARAMETER, Value="new-token\nold-token", Type="SecureString")
    # WHEN handshakes arrive with each, and with neither
    statuses = [
        invoke(guarded, handshake_event(verify_token=t))["statusCode"]
        for t in ("new-token", "old-token", "new-token\nold-token", "other")
    ]
    # THEN each of the two passes, nothing else does
    assert statuses == [200, 200, 403, 403]
    assert receive_messages(sqs, queue_url) == []


def test_a_failed_refresh_keeps_serving_the_token_read_before(
    guarded: ModuleType,
    token_parameter: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a token read once, then SSM becomes unreachable past the refresh interval
    now = [0.0]
    monkeypatch.setattr(guarded, "_monotonic", lambda: now[0])
    assert invoke(guarded, handshake_event(verify_token=TOKEN))["statusCode"] == 200
    guarded._ssm.endpoint_override = closed_port_url() + "/"
    now[0] += guarded.SETTINGS.secret_refresh_seconds + 1
    # WHEN a handshake arrives
    response = invoke(guarded, handshake_event(verify_token=TOKEN))
    # THEN it is answered with the cached token, and the failure is logged without it
    assert response["statusCode"] == 200
    out = capsys.readouterr().out
    assert "route secret refresh failed" in out
    assert TOKEN not in out
