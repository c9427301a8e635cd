"""ops/signing.py signs as the senders do: their published vectors, their own libraries' verifiers
(stripe, slack_sdk, standardwebhooks), and the listener's verifier all accept what it signs."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
import standardwebhooks
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st
from sender_routes import NOW, ROUTES, SENDERS_PATH, secrets_of, senders, signed
from slack_sdk.signature import Clock, SignatureVerifier

from ops.errors import UsageError
from ops.signing import sign

ROOT = Path(__file__).resolve().parents[2]
SIGNING_PATH = ROOT / "ops" / "signing.py"
EVENTS = ROOT / "events"
SECRET = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
"""Valid for every source: Stripe's whsec_ form, and base64 for Standard Webhooks."""
FAST = settings(max_examples=40, deadline=None)
texts = st.text(min_size=1, max_size=200)


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at


def test_github_documented_vector() -> None:
    # GIVEN GitHub's test secret and payload WHEN signed THEN the documented X-Hub-Signature-256
    headers = sign(ROUTES["github"], "It's a Secret to Everybody", b"Hello, World!", NOW)
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert headers["X-Hub-Signature-256"] == expected


def test_standard_webhooks_reference_vector() -> None:
    # GIVEN the reference library's test key, id, time and payload WHEN signed THEN its signature
    headers = sign(
        ROUTES["standard-webhooks"],
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        b'{"test": 2432232314}',
        1614265330,
        delivery_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_slack_documented_example() -> None:
    # GIVEN Slack's documented example WHEN signed at its time THEN the documented signature
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
        b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
        b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = sign(ROUTES["slack"], "8f742231b10e8888abcd99yyyzzz85a5", body, 1531420618.9)
    assert headers == {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }


@FAST
@given(body=texts, secret=secrets_of("stripe"))
def test_stripe_library_and_listener_accept_what_we_sign(body: str, secret: str) -> None:
    # GIVEN a body signed now WHEN stripe-python checks it (against the real clock, which it
    # always reads) and so does the listener THEN both accept it
    now = time.time()
    headers = sign(ROUTES["stripe"], secret, body.encode(), now)
    assert stripe.WebhookSignature.verify_header(body, headers["Stripe-Signature"], secret, 300)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert senders.verify(ROUTES["stripe"], lowered, body.encode(), [secret], now).ok


@FAST
@given(body=texts, secret=secrets_of("slack"), when=st.integers(10**9, 2 * 10**9))
def test_slack_sdk_and_listener_accept_what_we_sign(body: str, secret: str, when: int) -> None:
    # GIVEN a body signed at `when` WHEN slack_sdk (its clock at `when`) and the listener check it
    # THEN both accept it
    headers = sign(ROUTES["slack"], secret, body.encode(), when)
    assert SignatureVerifier(secret, clock=FixedClock(when)).is_valid_request(body, headers)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert senders.verify(ROUTES["slack"], lowered, body.encode(), [secret], when).ok


@FAST
@given(body=texts, secret=secrets_of("standard-webhooks"))
def test_standardwebhooks_and_listener_accept_what_we_sign(body: str, secret: str) -> None:
    # GIVEN a body signed now WHEN the reference library (real clock) and the listener check it
    # THEN both accept it
    now = time.time()
    headers = sign(ROUTES["standard-webhooks"], secret, body.encode(), now)
    standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)
    assert senders.verify(ROUTES["standard-webhooks"], headers, body.encode(), [secret], now).ok


@pytest.mark.parametrize("source", list(ROUTES))
def test_every_source_signs_what_the_listener_accepts(source: str) -> None:
    # GIVEN a Strava event body (every source takes it) signed for the route
    body = (
        Path(__file__).resolve().parents[2] / "events" / "strava-activity-create.json"
    ).read_bytes()
    secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    # WHEN the listener verifies it THEN it passes
    verdict = senders.verify(
        ROUTES[source], signed(ROUTES[source], secret, body), body, [secret], NOW
    )
    assert verdict.ok, verdict.reason


@pytest.mark.parametrize(
    ("source", "id_header"),
    [
        ("github", "X-GitHub-Delivery"),
        ("shopify", "X-Shopify-Webhook-Id"),
        ("standard-webhooks", "webhook-id"),
    ],
)
def test_delivery_ids_are_fresh_unless_given(source: str, id_header: str) -> None:
    # GIVEN two requests signed without a delivery id WHEN compared THEN their ids differ
    first, second = (sign(ROUTES[source], SECRET, b"{}", NOW)[id_header] for _ in range(2))
    assert first != second and "." not in first
    # AND a given id is the one sent
    assert sign(ROUTES[source], SECRET, b"{}", NOW, delivery_id="d-1")[id_header] == "d-1"


@pytest.mark.parametrize("source", ["strava", "none"])
def test_unsigned_sources_get_no_headers(source: str) -> None:
    # Strava signs nothing (its verify token serves the GET handshake only); none is open
    assert sign(ROUTES[source], "", b"{}", NOW) == {}


@pytest.mark.parametrize(
    ("route", "secret", "expected"),
    [
        ({"name": "r", "source": "gitlab"}, "s3cr3t-value", "cannot sign for source 'gitlab'"),
        (ROUTES["github"], "", "needs its secret to sign"),
        (ROUTES["standard-webhooks"], "whsec_not base64!", "expected whsec_ followed by base64"),
        ({"name": "r", "source": "hmac"}, "s3cr3t-value", "hmac needs a header"),
        (
            {**ROUTES["hmac"], "algorithm": "md5"},
            "s3cr3t-value",
            "hmac needs a header and sha1/256/512",
        ),
    ],
)
def test_bad_routes_or_secrets_are_usage_errors(route: dict, secret: str, expected: str) -> None:
    # GIVEN a route or secret it cannot sign with WHEN signing THEN a usage error, no secret shown
    with pytest.raises(UsageError, match=expected) as caught:
        sign(route, secret, b"{}", NOW)
    assert not secret or secret not in str(caught.value)


def test_signer_and_verifier_do_not_import_each_other() -> None:
    # A shared module would let one mistake pass both sides: each is written on its own.
    for path, other in ((SIGNING_PATH, "senders"), (SENDERS_PATH, "signing")):
        names = {
            alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not any(other in name for name in names)
