"""Every source through the listener: a correctly signed request is enqueued exactly as sent with
its delivery id; each kind of forgery is refused and enqueues nothing; no secret or signature is
ever printed. The route secrets live in moto's SSM, as the program stores them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from environments import listener_env
from factories import LambdaContext, post_event, receive_messages
from sender_routes import CONFIGURED, ROUTES, secret_for, signed

LoadFunction = Callable[..., Any]
SECRETS = {source: secret_for(source, bytes(range(16, 48))) for source in ROUTES}
ROTATED = {source: secret_for(source, bytes(range(48, 80))) for source in ROUTES}
BODIES = {
    "strava": json.dumps(
        {
            "aspect_type": "create",
            "event_time": 1516126040,
            "object_id": 1360128428,
            "object_type": "activity",
            "owner_id": 134815,
            "subscription_id": 271828,
            "updates": {},
        }
    ),
    "stripe": '{"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "type": "charge.succeeded"}',
    "slack": '{"type": "event_callback", "event_id": "Ev08MFMKH6", "event": {"type": "x"}}',
}


def body_of(source: str) -> bytes:
    return BODIES.get(source, '{"hello": "world", "n": 1}').encode()


def parameter(name: str) -> str:
    return f"/async-webhook-test/routes/{name}"


@pytest.fixture
def verified(load_function: LoadFunction, queue_url: str, ssm: Any) -> ModuleType:
    """The listener serving one route of every source, each secret in SSM (the current one and
    the previous one, one per line, as during a rotation)."""
    parameters = {}
    for source, route in ROUTES.items():
        if source == "none":
            continue
        value = f"{SECRETS[source]}\n{ROTATED[source]}"
        ssm.put_parameter(Name=parameter(route["name"]), Value=value, Type="SecureString")
        parameters[route["name"]] = parameter(route["name"])
    env = listener_env(queue_url, routes=CONFIGURED, secret_parameters=parameters)
    listener: ModuleType = load_function("listener", env).handler
    # Signed timestamps are real seconds: the listener's receive time is the event's timeEpoch.
    return listener


def post(listener: ModuleType, source: str, body: bytes, headers: dict[str, str]) -> Any:
    route = ROUTES[source]
    event = post_event(body.decode(), path=route["path"], headers=headers)
    return listener.handler(event, LambdaContext(function_name="listener"))


def fresh_headers(source: str, body: bytes, secret: str | None = None) -> dict[str, str]:
    return {
        "content-type": "application/json",
        **signed(ROUTES[source], secret or SECRETS[source], body, time.time()),
    }


@pytest.mark.parametrize("source", [s for s in ROUTES if s not in ("none",)])
def test_a_correctly_signed_request_is_enqueued_as_sent_with_its_delivery_id(
    verified: ModuleType, sqs: Any, queue_url: str, source: str
) -> None:
    # GIVEN a request signed as the source's sender signs (a Strava event needs no signature)
    body = body_of(source)
    headers = fresh_headers(source, body)
    # WHEN it is posted to its route
    response = post(verified, source, body, headers)
    # THEN 200, and the queue holds the body byte for byte with the route, source and id
    assert response["statusCode"] == 200, response["body"]
    [message] = receive_messages(sqs, queue_url)
    assert message["Body"].encode() == body
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert (attributes["route"], attributes["source"]) == (ROUTES[source]["name"], source)
    expected_id = {
        "github": headers.get("x-github-delivery"),
        "shopify": headers.get("x-shopify-webhook-id"),
        "standard-webhooks": headers.get("webhook-id"),
        "stripe": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "slack": "Ev08MFMKH6",
        "strava": "134815:activity:1360128428:create:1516126040",
    }.get(source)
    assert attributes.get("deliveryId") == expected_id


@pytest.mark.parametrize("source", ["github", "stripe", "slack", "shopify", "standard-webhooks"])
def test_the_previous_secret_still_verifies_during_a_rotation(
    verified: ModuleType, source: str
) -> None:
    body = body_of(source)
    assert (
        post(verified, source, body, fresh_headers(source, body, ROTATED[source]))["statusCode"]
        == 200
    )


FORGERIES = {
    "no signature": lambda source, body, headers: (body, {"content-type": "application/json"}),
    "another secret": lambda source, body, headers: (
        body,
        fresh_headers(source, body, secret_for(source, b"\x01" * 32)),
    ),
    "a changed body": lambda source, body, headers: (body.replace(b"}", b" }", 1), headers),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
@pytest.mark.parametrize(
    "source", ["github", "stripe", "slack", "shopify", "standard-webhooks", "hmac", "token"]
)
def test_each_forgery_is_401_and_enqueues_nothing(
    verified: ModuleType,
    sqs: Any,
    queue_url: str,
    capsys: pytest.CaptureFixture[str],
    source: str,
    forgery: str,
) -> None:
    body = body_of(source)
    sent_body, headers = FORGERIES[forgery](source, body, fresh_headers(source, body))
    if forgery == "a changed body" and source == "token":
        pytest.skip("a token does not cover the body (SECURITY.md): it passes, by design")
    response = post(verified, source, sent_body, headers)
    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == {"error": "missing or invalid signature"}
    assert receive_messages(sqs, queue_url) == []
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["route"] == ROUTES[source]["name"] and line["reason"].startswith(source)


@pytest.mark.parametrize("source", ["stripe", "slack", "standard-webhooks"])
def test_a_replay_outside_the_tolerance_is_401(
    verified: ModuleType, sqs: Any, queue_url: str, source: str
) -> None:
    body = body_of(source)
    stale = {
        "content-type": "application/json",
        **signed(ROUTES[source], SECRETS[source], body, time.time() - 301),
    }
    assert post(verified, source, body, stale)["statusCode"] == 401
    assert receive_messages(sqs, queue_url) == []


def test_a_strava_event_outside_the_allow_list_is_403(
    verified: ModuleType, sqs: Any, queue_url: str
) -> None:
    body = BODIES["strava"].replace("271828", "999").encode()
    response = post(verified, "strava", body, {"content-type": "application/json"})
    assert response["statusCode"] == 403
    assert json.loads(response["body"]) == {"error": "sender not allowed"}
    assert receive_messages(sqs, queue_url) == []


def test_slack_url_verification_is_answered_with_its_challenge_and_not_enqueued(
    verified: ModuleType, sqs: Any, queue_url: str
) -> None:
    body = b'{"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}'  # noqa: E501
    response = post(verified, "slack", body, fresh_headers("slack", body))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    }
    assert receive_messages(sqs, queue_url) == []
    unsigned = post(verified, "slack", body, {"content-type": "application/json"})
    assert unsigned["statusCode"] == 401


def test_an_empty_body_on_a_verifying_route_stays_400(verified: ModuleType) -> None:
    for source in ("github", "strava"):
        event = post_event("", path=ROUTES[source]["path"], content_type=None)
        assert verified.handler(event, LambdaContext())["statusCode"] == 400


def test_no_secret_or_signature_is_ever_printed(
    verified: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN every source, signed right and wrong
    printed = []
    for source in ROUTES:
        body = body_of(source)
        good = fresh_headers(source, body)
        bad = fresh_headers(source, body, secret_for(source, b"\x07" * 32))
        for headers in (good, bad):
            post(verified, source, body, headers)
        printed.extend(v for k, v in {**good, **bad}.items() if k != "content-type")
    out = capsys.readouterr().out
    # THEN the logs hold neither the secrets (raw or decoded) nor any signature header value
    for secret in (*SECRETS.values(), *ROTATED.values()):
        assert secret not in out
        assert base64.b64encode(secret.encode()).decode() not in out
    signature_values = [v for v in printed if len(v) >= 20 and not v.isdigit()]
    delivery_ids = {json.loads(line).get("delivery_id") for line in out.splitlines()}
    for value in signature_values:
        assert value not in out or value in delivery_ids, value


def test_a_route_without_its_parameter_answers_503_not_200(
    load_function: LoadFunction, queue_url: str, sqs: Any, ssm: Any
) -> None:
    # GIVEN a GitHub route whose SSM parameter does not exist (yet)
    env = listener_env(
        queue_url,
        routes=[{"name": "gh", "path": "/github", "source": "github"}],
        secret_parameters={"gh": parameter("gh")},
    )
    listener = load_function("listener", env).handler
    body = body_of("github")
    response = post(listener, "github", body, fresh_headers("github", body))
    # THEN the sender is told to retry (it will), and nothing is enqueued unverified
    assert response["statusCode"] == 503
    assert receive_messages(sqs, queue_url) == []


def test_fifo_deduplicates_a_senders_retry_by_its_delivery_id(
    load_function: LoadFunction, fifo_queue_url: str, sqs: Any, ssm: Any
) -> None:
    # GIVEN a FIFO listener with a GitHub route
    ssm.put_parameter(Name=parameter("gh"), Value=SECRETS["github"], Type="SecureString")
    env = listener_env(
        fifo_queue_url,
        fifo=True,
        routes=[{"name": "gh", "path": "/github", "source": "github"}],
        secret_parameters={"gh": parameter("gh")},
    )
    listener = load_function("listener", env).handler
    sends: list[dict[str, Any]] = []
    call = listener._sqs.call

    def record(operation: str, endpoint: str, payload: dict[str, Any]) -> Any:
        sends.append(dict(payload))
        return call(operation, endpoint, payload)

    listener._sqs.call = record
    # WHEN GitHub redelivers one delivery (same id) with a body that differs in formatting
    first = b'{"zen": "x"}'
    again = b'{"zen":  "x"}'
    headers = fresh_headers("github", first, None)
    delivery = headers["x-github-delivery"]
    retry = {
        "content-type": "application/json",
        **signed(ROUTES["github"], SECRETS["github"], again, time.time(), delivery_id=delivery),
    }
    assert post(listener, "github", first, headers)["statusCode"] == 200
    assert post(listener, "github", again, retry)["statusCode"] == 200
    # THEN both sends carry the route-scoped delivery id, and the queue keeps one message
    assert [s["MessageDeduplicationId"] for s in sends] == [f"gh:{delivery}"] * 2
    assert len(receive_messages(sqs, fifo_queue_url)) == 1
