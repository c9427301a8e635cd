"""The listener's sender verification (functions/listener/senders.py), in process.

Correct requests come from three places that do not share code with the verifier: the senders'
published test vectors, the senders' own libraries (standardwebhooks, stripe, slack_sdk) where
they can sign, and ops/signing.py. Hypothesis then changes one thing at a time and expects 401.
"""

import ast
import base64
import hashlib
import hmac
import json
import re
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
import stripe
from factories import load_event
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from sender_routes import (
    NOW,
    ROUTES,
    SENDERS_PATH,
    SIGNATURE_HEADER,
    SIGNED,
    TIMESTAMP_HEADER,
    TIMESTAMPED,
    WITH_SECRET,
    secret_for,
    secrets_of,
    senders,
    signed,
)
from slack_sdk.signature import SignatureVerifier

verify = senders.verify
DEDUP_ID = re.compile("[\x21-\x7e]{1,128}")
bodies = st.binary(min_size=1, max_size=256)
FAST = settings(max_examples=40, deadline=None)

# --- Published vectors ----------------------------------------------------------------------
# GitHub, "Validating webhook deliveries" (github/docs content/webhooks/using-webhooks/
# validating-webhook-deliveries.md), "Testing the webhook payload validation".
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
# Standard Webhooks reference library tests (standard-webhooks/standard-webhooks
# libraries/python/tests/test_webhooks.py, test_sign_function and the invalid signature).
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SW_WRONG_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
# Slack, "Verifying requests from Slack" (docs.slack.dev), the slash command example; also in
# slackapi/python-slack-sdk tests/slack_sdk/signature/test_signature_verifier.py.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmi"
    b"bIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
# RFC 4231 test case 2 (HMAC-SHA256/512) and RFC 2202 test case 2 (HMAC-SHA1).
RFC_KEY, RFC_DATA = "Jefe", b"what do ya want for nothing?"
RFC_DIGESTS = {
    "sha1": "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
    "sha256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    "sha512": "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
    "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
}


def test_github_documented_vector_verifies_and_a_changed_digit_does_not() -> None:
    # GIVEN GitHub's documented secret, payload and X-Hub-Signature-256
    headers = {"x-hub-signature-256": GITHUB_SIGNATURE, "x-github-delivery": "72d3162e"}
    # WHEN verified THEN it passes, carrying the delivery id
    verdict = verify(ROUTES["github"], headers, GITHUB_BODY, [GITHUB_SECRET], NOW)
    assert verdict == senders.Verdict(200, "github: signature verified", "72d3162e")
    # AND the same with the last hex digit changed is refused
    headers["x-hub-signature-256"] = GITHUB_SIGNATURE[:-1] + "8"
    assert verify(ROUTES["github"], headers, GITHUB_BODY, [GITHUB_SECRET], NOW).status == 401


def test_standard_webhooks_reference_vectors() -> None:
    # GIVEN the reference library's signed test message
    headers = {"webhook-id": SW_ID, "webhook-timestamp": str(SW_TIMESTAMP)}
    route = ROUTES["standard-webhooks"]
    # WHEN its signature is offered THEN it verifies, and webhook-id is the delivery id
    good = verify(
        route, {**headers, "webhook-signature": SW_SIGNATURE}, SW_BODY, [SW_SECRET], SW_TIMESTAMP
    )
    assert good.ok and good.delivery_id == SW_ID
    # AND the library's "invalid signature" is refused
    bad = verify(
        route,
        {**headers, "webhook-signature": SW_WRONG_SIGNATURE},
        SW_BODY,
        [SW_SECRET],
        SW_TIMESTAMP,
    )
    assert bad == senders.Verdict(401, "standard-webhooks: signature does not match")
    # AND its multi-signature header (a v2 and a wrong v1 around the right one) verifies
    several = (
        f"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,{SW_SIGNATURE[3:]} {SW_SIGNATURE}"
    )
    headers["webhook-signature"] = several
    assert verify(route, headers, SW_BODY, [SW_SECRET], SW_TIMESTAMP).ok
    # AND a secret without the whsec_ prefix is the same key
    assert verify(route, headers, SW_BODY, [SW_SECRET.removeprefix("whsec_")], SW_TIMESTAMP).ok


def test_slack_documented_example_verifies_at_its_time_and_not_an_hour_later() -> None:
    # GIVEN Slack's documented signing secret, slash command body, timestamp and signature
    headers = {
        "x-slack-signature": SLACK_SIGNATURE,
        "x-slack-request-timestamp": str(SLACK_TIMESTAMP),
    }
    # WHEN verified at that time THEN it passes (a form post carries no event_id)
    verdict = verify(ROUTES["slack"], headers, SLACK_BODY, [SLACK_SECRET], SLACK_TIMESTAMP)
    assert verdict == senders.Verdict(200, "slack: signature verified")
    # AND an hour later it is a replay
    late = verify(ROUTES["slack"], headers, SLACK_BODY, [SLACK_SECRET], SLACK_TIMESTAMP + 3600)
    assert late == senders.Verdict(401, "slack: timestamp outside the 300 s tolerance (a replay?)")


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_generic_hmac_matches_the_rfc_vectors(algorithm: str, encoding: str) -> None:
    # GIVEN the RFC test digest of "what do ya want for nothing?" under key "Jefe"
    digest = bytes.fromhex(RFC_DIGESTS[algorithm])
    value = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    route = {**ROUTES["hmac"], "algorithm": algorithm, "encoding": encoding, "prefix": "sig="}
    # WHEN sent with the route's prefix THEN it verifies; without the prefix it does not
    assert verify(route, {"x-signature": "sig=" + value}, RFC_DATA, [RFC_KEY], NOW).ok
    assert verify(route, {"x-signature": value}, RFC_DATA, [RFC_KEY], NOW).status == 401


# --- The senders' own libraries sign; the listener verifies ---------------------------------
texts = st.text(min_size=1, max_size=200)


@FAST
@given(body=texts, secret=secrets_of("standard-webhooks"), when=st.integers(10**9, 2 * 10**9))
def test_what_standardwebhooks_signs_verifies(body: str, secret: str, when: int) -> None:
    # GIVEN a message signed by the Standard Webhooks reference library
    signature = standardwebhooks.Webhook(secret).sign(
        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", datetime.fromtimestamp(when, UTC), body
    )
    headers = {
        "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "webhook-timestamp": str(when),
        "webhook-signature": signature,
    }
    # WHEN the listener verifies it at that time THEN it passes
    assert verify(ROUTES["standard-webhooks"], headers, body.encode(), [secret], when).ok


@FAST
@given(body=texts, secret=secrets_of("stripe"), when=st.integers(10**9, 2 * 10**9))
def test_what_stripe_signs_verifies(body: str, secret: str, when: int) -> None:
    # GIVEN a Stripe-Signature made by stripe-python's test helper
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=when)
    # WHEN the listener verifies it at that time THEN it passes
    assert verify(ROUTES["stripe"], {"stripe-signature": header}, body.encode(), [secret], when).ok


@FAST
@given(body=texts, secret=secrets_of("slack"), when=st.integers(10**9, 2 * 10**9))
def test_what_slack_sdk_signs_verifies(body: str, secret: str, when: int) -> None:
    # GIVEN a signature made by slack_sdk's SignatureVerifier
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(when), body=body)
    headers = {"x-slack-signature": signature, "x-slack-request-timestamp": str(when)}
    # WHEN the listener verifies it at that time THEN it passes
    assert verify(ROUTES["slack"], headers, body.encode(), [secret], when).ok


# --- Properties: one change, and it is refused ----------------------------------------------
def _changed(text: str, index: int, replacement: str) -> str:
    index %= len(text)
    assume(replacement != text[index])
    return text[:index] + replacement + text[index + 1 :]


@FAST
@given(
    source=st.sampled_from(SIGNED),
    data=st.data(),
    body=bodies,
    index=st.integers(0, 10**6),
    byte=st.integers(0, 255),
)
def test_one_changed_body_byte_is_401(
    source: str, data: st.DataObject, body: bytes, index: int, byte: int
) -> None:
    # GIVEN a correctly signed request
    secret = data.draw(secrets_of(source))
    headers = signed(ROUTES[source], secret, body)
    assert verify(ROUTES[source], headers, body, [secret], NOW).ok
    # WHEN one byte of the body is different THEN it is refused
    index %= len(body)
    assume(byte != body[index])
    tampered = body[:index] + bytes([byte]) + body[index + 1 :]
    assert verify(ROUTES[source], headers, tampered, [secret], NOW).status == 401


SIGNED_PARTS = [
    *(("signature", source) for source in WITH_SECRET),
    *(("timestamp", source) for source in TIMESTAMPED),
    ("id", "standard-webhooks"),  # the one source whose delivery id is signed
]


def _part(part: str, source: str, headers: dict[str, str]) -> tuple[str, int, int]:
    """(header, start, end) of the signature, timestamp or id inside the request's headers."""
    if part == "signature":
        name = SIGNATURE_HEADER[source]
        return name, 0, len(headers[name])
    if part == "id":
        return "webhook-id", 0, len(headers["webhook-id"])
    name, stamp = TIMESTAMP_HEADER[source], str(int(NOW))
    start = headers[name].index(stamp)  # Stripe's is the t= inside Stripe-Signature
    return name, start, start + len(stamp)


@FAST
@given(
    case=st.sampled_from(SIGNED_PARTS),
    data=st.data(),
    index=st.integers(0, 10**6),
    char=st.characters(),
)
def test_one_changed_character_of_what_is_signed_is_401(
    case: tuple[str, str], data: st.DataObject, index: int, char: str
) -> None:
    # GIVEN a correctly signed request
    part, source = case
    secret, body = data.draw(secrets_of(source)), data.draw(bodies)
    headers = signed(ROUTES[source], secret, body)
    # WHEN one character of its signature (or token), timestamp or signed id is different
    name, start, end = _part(part, source, headers)
    value = headers[name]
    headers[name] = value[:start] + _changed(value[start:end], index, char) + value[end:]
    # THEN it is refused
    assert verify(ROUTES[source], headers, body, [secret], NOW).status == 401


@pytest.mark.parametrize("source", ["github", "shopify"])
def test_github_and_shopify_ids_are_not_signed(source: str) -> None:
    # GIVEN a signed GitHub or Shopify delivery
    headers = signed(ROUTES[source], "s3cret-s3cret-s3cret", b"{}", delivery_id="first")
    id_header = {"github": "x-github-delivery", "shopify": "x-shopify-webhook-id"}[source]
    # WHEN replayed with another delivery id THEN it still verifies, under the new id: their
    # delivery ids deduplicate honest retries, they do not stop a replay
    headers[id_header] = "second"
    verdict = verify(ROUTES[source], headers, b"{}", ["s3cret-s3cret-s3cret"], NOW)
    assert verdict.ok and verdict.delivery_id == "second"


@FAST
@given(source=st.sampled_from(WITH_SECRET), data=st.data())
def test_the_second_of_two_secrets_is_accepted_and_a_third_is_not(
    source: str, data: st.DataObject
) -> None:
    # GIVEN a rotation: the route has its current and previous secret
    raws = [data.draw(st.binary(min_size=16, max_size=48)) for _ in range(3)]
    # (HMAC pads keys with zero bytes: keys that differ only in trailing zeros are one key)
    assume(len({raw.rstrip(b"\0") for raw in raws}) == 3)
    current, previous, other = (secret_for(source, raw) for raw in raws)
    body = data.draw(bodies)
    # WHEN the sender still signs with the previous one THEN it verifies
    headers = signed(ROUTES[source], previous, body)
    assert verify(ROUTES[source], headers, body, [current, previous], NOW).ok
    # AND a request signed with neither does not
    stranger = signed(ROUTES[source], other, body)
    assert verify(ROUTES[source], stranger, body, [current, previous], NOW).status == 401


@FAST
@given(
    source=st.sampled_from(TIMESTAMPED),
    tolerance=st.integers(1, senders.MAX_TOLERANCE_SECONDS),
    early=st.booleans(),
)
@example(source="stripe", tolerance=300, early=False)
def test_tolerance_boundary_in_either_direction(source: str, tolerance: int, early: bool) -> None:
    # GIVEN a request signed at NOW on a route with that tolerance
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    route = {**ROUTES[source], "toleranceSeconds": tolerance}
    headers = signed(route, secret, b"{}")
    sign_of = -1 if early else 1  # early: our clock is behind the sender's
    # WHEN it arrives exactly tolerance seconds away THEN it passes
    assert verify(route, headers, b"{}", [secret], NOW + sign_of * tolerance).ok
    # AND a fraction of a second or more beyond it is a replay
    for beyond in (0.5, 1, 10**6):
        verdict = verify(route, headers, b"{}", [secret], NOW + sign_of * (tolerance + beyond))
        assert verdict.status == 401 and "tolerance" in verdict.reason


not_seconds = st.text(min_size=1, max_size=16).filter(
    lambda s: not re.fullmatch("[0-9]{1,12}", s) and "," not in s
)


@FAST
@given(source=st.sampled_from(TIMESTAMPED), stamp=not_seconds)
@example(source="slack", stamp="1.5e9")
@example(source="slack", stamp=" 1764000000")
@example(source="standard-webhooks", stamp="+1764000000")
@example(source="standard-webhooks", stamp="1_764_000_000")
@example(source="stripe", stamp="١٧٦٤٠٠٠٠٠٠")
def test_a_timestamp_that_is_not_whole_seconds_is_401(source: str, stamp: str) -> None:
    # GIVEN a signed request whose timestamp is replaced by something that is not a number
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    headers = signed(ROUTES[source], secret, b"{}")
    name = TIMESTAMP_HEADER[source]
    headers[name] = headers[name].replace(str(int(NOW)), stamp)
    # WHEN verified THEN the timestamp check refuses it
    verdict = verify(ROUTES[source], headers, b"{}", [secret], NOW)
    assert verdict == senders.Verdict(
        401, f"{source}: timestamp is not whole seconds since the epoch"
    )


# --- Several signatures, unknown versions, missing headers ----------------------------------
def test_stripe_takes_any_v1_and_ignores_v0() -> None:
    # GIVEN a Stripe-Signature with a v0, a wrong v1 and the right v1 (a secret rolled in Stripe)
    secret = "whsec_current"
    right = signed(ROUTES["stripe"], secret, b"{}")["stripe-signature"]
    stamp, v1 = right.split(",")
    header = f"{stamp},v0={v1[3:]},v1={'0' * 64},{v1}"
    # WHEN verified THEN it passes
    assert verify(ROUTES["stripe"], {"stripe-signature": header}, b"{}", [secret], NOW).ok
    # AND the right signature under v0 only is not accepted
    v0_only = {"stripe-signature": f"{stamp},v0={v1[3:]}"}
    verdict = verify(ROUTES["stripe"], v0_only, b"{}", [secret], NOW)
    assert verdict == senders.Verdict(401, "stripe: Stripe-Signature has no v1 signature")


def test_standard_webhooks_ignores_v1a_and_entries_without_a_version() -> None:
    # GIVEN the right signature labelled v1a (asymmetric), and junk entries
    secret = SW_SECRET
    headers = signed(ROUTES["standard-webhooks"], secret, b"{}")
    value = headers["webhook-signature"].removeprefix("v1,")
    headers["webhook-signature"] = f"v1a,{value} garbage ,,"
    # WHEN verified THEN no v1 signature was offered
    verdict = verify(ROUTES["standard-webhooks"], headers, b"{}", [secret], NOW)
    assert verdict == senders.Verdict(
        401, "standard-webhooks: webhook-signature has no v1 signature"
    )


@pytest.mark.parametrize(
    ("source", "header"),
    [
        ("github", "x-hub-signature-256"),
        ("stripe", "stripe-signature"),
        ("slack", "x-slack-signature"),
        ("slack", "x-slack-request-timestamp"),
        ("shopify", "x-shopify-hmac-sha256"),
        ("standard-webhooks", "webhook-id"),
        ("standard-webhooks", "webhook-timestamp"),
        ("standard-webhooks", "webhook-signature"),
        ("hmac", "x-signature"),
        ("token", "authorization"),
    ],
)
def test_a_missing_header_is_401_and_named(source: str, header: str) -> None:
    # GIVEN a correctly signed request WHEN one of its headers is dropped
    headers = signed(ROUTES[source], SW_SECRET, b"{}")
    del headers[header]
    # THEN it is refused, naming the header
    verdict = verify(ROUTES[source], headers, b"{}", [SW_SECRET], NOW)
    assert verdict.status == 401
    assert verdict.reason.lower() == f"{source}: {header} header missing"


def test_a_webhook_id_with_a_dot_is_refused_even_when_signed() -> None:
    # GIVEN a request correctly signed over an id holding "." (the spec forbids it: the signed
    # content "<id>.<timestamp>.<body>" could then be split another way)
    headers = signed(ROUTES["standard-webhooks"], SW_SECRET, b"{}", delivery_id="msg.1")
    # WHEN verified THEN it is refused
    verdict = verify(ROUTES["standard-webhooks"], headers, b"{}", [SW_SECRET], NOW)
    assert verdict == senders.Verdict(401, "standard-webhooks: webhook-id contains '.'")


@pytest.mark.parametrize("source", WITH_SECRET)
@pytest.mark.parametrize("configured", [[], [""]])
def test_a_signed_route_without_a_secret_refuses_everything(
    source: str, configured: list[str]
) -> None:
    # GIVEN a route whose secret is missing WHEN a request arrives THEN it is refused, not let in
    headers = signed(ROUTES[source], SW_SECRET, b"{}")
    verdict = verify(ROUTES[source], headers, b"{}", configured, NOW)
    assert verdict == senders.Verdict(401, f"{source}: no usable secret configured for this route")


# --- Slack url_verification -----------------------------------------------------------------
CHALLENGE = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"  # Slack's docs example
URL_VERIFICATION = json.dumps(
    {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": CHALLENGE, "type": "url_verification"}
).encode()


def test_signed_url_verification_returns_the_challenge_and_is_not_to_be_enqueued() -> None:
    # GIVEN Slack's url_verification, signed
    headers = signed(ROUTES["slack"], SLACK_SECRET, URL_VERIFICATION)
    # WHEN verified THEN the verdict carries the challenge and is not ok (never enqueued)
    verdict = verify(ROUTES["slack"], headers, URL_VERIFICATION, [SLACK_SECRET], NOW)
    assert verdict == senders.Verdict(200, "slack: url_verification answered", challenge=CHALLENGE)
    assert not verdict.ok


def test_unsigned_or_missigned_url_verification_is_401() -> None:
    # GIVEN url_verification without a signature, and with one made with another secret
    wrong = signed(ROUTES["slack"], "not-the-secret", URL_VERIFICATION)
    for headers in ({}, wrong):
        # WHEN verified THEN it is refused and no challenge is handed out
        verdict = verify(ROUTES["slack"], headers, URL_VERIFICATION, [SLACK_SECRET], NOW)
        assert verdict.status == 401 and verdict.challenge is None


@pytest.mark.parametrize("challenge", [None, "", 12, "x" * 1025])
def test_url_verification_without_a_usable_challenge_is_400(challenge: Any) -> None:
    body = json.dumps({"type": "url_verification", "challenge": challenge}).encode()
    headers = signed(ROUTES["slack"], SLACK_SECRET, body)
    verdict = verify(ROUTES["slack"], headers, body, [SLACK_SECRET], NOW)
    assert verdict == senders.Verdict(400, "slack: url_verification without a usable challenge")


# --- Delivery ids ---------------------------------------------------------------------------
def test_stripe_and_slack_delivery_ids_come_from_the_body() -> None:
    # GIVEN a Stripe event and a Slack event_callback, signed
    cases = {
        "stripe": (
            b'{"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event"}',
            "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        ),
        "slack": (b'{"type": "event_callback", "event_id": "Ev08MFMKH6"}', "Ev08MFMKH6"),
    }
    for source, (body, expected) in cases.items():
        secret = secret_for(source, b"0123456789abcdef")
        # WHEN verified THEN the event's id is the delivery id
        verdict = verify(ROUTES[source], signed(ROUTES[source], secret, body), body, [secret], NOW)
        assert verdict.delivery_id == expected


@FAST
@given(value=st.text(min_size=1, max_size=300))
@example(value="x" * 128)
@example(value="x" * 129)
@example(value="two words")
@example(value="\ud800")
def test_delivery_ids_are_safe_for_sqs_and_stable(value: str) -> None:
    # GIVEN any id a sender (or an attacker on an unsigned header) might write
    # WHEN made a delivery id THEN it fits MessageDeduplicationId, the same input gives the same
    # id, and an id that already fits is kept as it is
    made = senders.delivery_id(value)
    assert made is not None and DEDUP_ID.fullmatch(made)
    assert senders.delivery_id(value) == made
    assert (made == value) == bool(DEDUP_ID.fullmatch(value))


# --- Strava ---------------------------------------------------------------------------------
STRAVA_EVENTS = [
    "strava-activity-create",
    "strava-activity-update",
    "strava-activity-delete",
    "strava-athlete-deauthorize",
]


@pytest.mark.parametrize("name", STRAVA_EVENTS)
def test_strava_sample_events_pass_with_a_stable_key(name: str) -> None:
    # GIVEN a sample event from events/, and the same event serialised differently (a retry
    # through another JSON encoder)
    event = load_event(name)
    body = json.dumps(event).encode()
    retry = json.dumps(dict(reversed(event.items())), indent=2).encode()
    # WHEN verified on the route allowing subscription 271828
    first = verify(ROUTES["strava"], {}, body, [], NOW)
    second = verify(ROUTES["strava"], {}, retry, [], NOW + 60)
    # THEN both pass with the same delivery id, made of the event's identifying fields
    assert first.ok and second.ok
    assert first.delivery_id == second.delivery_id
    fields = ("owner_id", "object_type", "object_id", "aspect_type", "event_time")
    assert first.delivery_id == ":".join(str(event[f]) for f in fields)


@pytest.mark.parametrize(
    "field", ["owner_id", "object_id", "event_time", "object_type", "aspect_type"]
)
def test_strava_key_changes_with_each_identifying_field(field: str) -> None:
    # GIVEN an event and the same event with one identifying field different
    event = load_event("strava-activity-create")
    changed = {**event, field: event[field] + 1 if isinstance(event[field], int) else "other"}
    # WHEN both are verified THEN their delivery ids differ (neither is dropped as a duplicate)
    ids = {
        verify(ROUTES["strava"], {}, json.dumps(e).encode(), [], NOW).delivery_id
        for e in (event, changed)
    }
    assert len(ids) == 2


@FAST
@given(
    subscription=st.integers(0, 10**12),
    owner=st.integers(0, 10**12),
    subscriptions=st.lists(st.integers(0, 10**12), max_size=3),
    owners=st.lists(st.integers(0, 10**12), max_size=3),
)
def test_strava_allow_lists(
    subscription: int, owner: int, subscriptions: list[int], owners: list[int]
) -> None:
    # GIVEN a route with these allow-lists (empty allows any) and an event from these ids
    route = {**ROUTES["strava"], "subscriptionIds": subscriptions, "ownerIds": owners}
    body = json.dumps(
        {**load_event("strava-activity-create"), "subscription_id": subscription, "owner_id": owner}
    ).encode()
    # WHEN verified THEN it passes exactly when both ids are allowed, and is 403 otherwise
    verdict = verify(route, {}, body, ["verify-token"], NOW)
    allowed = (not subscriptions or subscription in subscriptions) and (
        not owners or owner in owners
    )
    assert verdict.ok == allowed
    assert verdict.status == (200 if allowed else 403)


def test_strava_allow_list_reasons_name_the_field() -> None:
    body = json.dumps({**load_event("strava-activity-create"), "owner_id": 5}).encode()
    route = {**ROUTES["strava"], "ownerIds": [4567890]}
    assert verify(route, {}, body, [], NOW) == senders.Verdict(
        403, "strava: owner_id not in ownerIds"
    )
    route = {**ROUTES["strava"], "subscriptionIds": [1]}
    verdict = verify(route, {}, body, [], NOW)
    assert verdict == senders.Verdict(403, "strava: subscription_id not in subscriptionIds")


def test_strava_accepts_digit_strings_as_ids() -> None:
    # GIVEN the older payload shape, where subscription_id was a string ("1")
    event = {**load_event("strava-activity-create"), "subscription_id": "271828"}
    # WHEN verified THEN it is the same subscription
    assert verify(ROUTES["strava"], {}, json.dumps(event).encode(), [], NOW).ok


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'"event"',
        b"{}",
        json.dumps({**load_event("strava-activity-create"), "owner_id": True}).encode(),
        json.dumps({**load_event("strava-activity-create"), "object_id": -1}).encode(),
        json.dumps({**load_event("strava-activity-create"), "event_time": 1.5}).encode(),
        json.dumps({**load_event("strava-activity-create"), "aspect_type": ""}).encode(),
        json.dumps(
            {
                k: v
                for k, v in load_event("strava-activity-create").items()
                if k != "subscription_id"
            }
        ).encode(),
        b"\xff\xfe",
    ],
)
def test_a_body_that_is_not_a_strava_event_is_400(body: bytes) -> None:
    verdict = verify(ROUTES["strava"], {}, body, [], NOW)
    assert verdict == senders.Verdict(400, "strava: body is not a Strava event object")


# --- token and none -------------------------------------------------------------------------
def test_token_is_prefix_plus_secret() -> None:
    route = ROUTES["token"]
    assert verify(route, {"authorization": "Bearer t0ken"}, b"", ["t0ken"], NOW).ok
    for offered in ("t0ken", "Bearer t0ken ", "bearer t0ken", "Bearer t0ke"):
        verdict = verify(route, {"authorization": offered}, b"", ["t0ken"], NOW)
        assert verdict == senders.Verdict(401, "token: token does not match")


@FAST
@given(headers=st.dictionaries(st.text(max_size=20), st.text(max_size=40)), body=st.binary())
def test_none_lets_everything_in(headers: dict[str, str], body: bytes) -> None:
    assert verify(ROUTES["none"], headers, body, [], NOW) == senders.Verdict(
        200, "none: unauthenticated route"
    )


# --- Reasons never carry a secret, a signature or the body -----------------------------------
@settings(max_examples=60, deadline=None)
@given(
    source=st.sampled_from(WITH_SECRET),
    data=st.data(),
    body=st.binary(min_size=8, max_size=64),
    tamper=st.sampled_from(["none", "body", "secret", "signature"]),
)
def test_no_reason_carries_a_secret_a_signature_or_the_body(
    source: str, data: st.DataObject, body: bytes, tamper: str
) -> None:
    # GIVEN a request, correct or broken one way, with generated secrets
    secret, configured = data.draw(secrets_of(source)), data.draw(secrets_of(source))
    headers = signed(ROUTES[source], secret, body)
    keys = [secret] if tamper != "secret" else [configured]
    if tamper == "signature":
        headers[SIGNATURE_HEADER[source]] += "0"
    sent = body + b"!" if tamper == "body" else body
    # WHEN verified THEN the reason holds none of them
    reason = verify(ROUTES[source], headers, sent, keys, NOW).reason
    for value in (secret, configured, *headers.values()):
        assert value not in reason
    assert body.decode("latin-1") not in reason


# --- Configuration --------------------------------------------------------------------------
@pytest.mark.parametrize("source", list(ROUTES))
def test_the_contract_routes_have_no_problems(source: str) -> None:
    secrets = [] if source in ("strava", "none") else [secret_for(source, b"0123456789abcdef")]
    assert senders.route_problems(ROUTES[source], secrets) == []


def _route_with(source: str, **changes: Any) -> dict[str, Any]:
    """The contract route of `source` (complete, as the program writes it) with `changes`;
    a value of None removes the key, as a hand-edited environment might."""
    route = {**ROUTES[source], "name": "r", **changes}
    return {k: v for k, v in route.items() if v is not None}


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"name": "r", "source": "gitlab"}, "route 'r': source='gitlab': expected one of strava,"),
        (_route_with("stripe", toleranceSeconds=0), "toleranceSeconds=0: expected"),
        (_route_with("slack", toleranceSeconds=3601), "toleranceSeconds=3601"),
        (_route_with("slack", toleranceSeconds="300"), "toleranceSeconds='300'"),
        (_route_with("slack", toleranceSeconds=True), "toleranceSeconds=True"),
        (_route_with("slack", toleranceSeconds=None), "toleranceSeconds=None"),
        (_route_with("github", toleranceSeconds=300), "toleranceSeconds applies to"),
        (_route_with("strava", ownerIds=[1.5]), "ownerIds=[1.5]: expected a list"),
        (_route_with("strava", subscriptionIds=5), "subscriptionIds=5: expected"),
        (_route_with("none", subscriptionIds=[]), "subscriptionIds applies to"),
        (_route_with("hmac", header=None), "header=None: expected an HTTP header name"),
        (_route_with("hmac", header="X Sig"), "header='X Sig': expected"),
        (_route_with("hmac", algorithm="md5"), "algorithm='md5'"),
        (_route_with("hmac", encoding="b32"), "encoding='b32'"),
        (_route_with("token", prefix=None), "prefix=None: expected a string"),
    ],
)
def test_route_problems_name_key_value_and_rule(route: dict[str, Any], expected: str) -> None:
    # GIVEN a misconfigured route WHEN checked THEN the problem names it
    problems = senders.route_problems(route)
    assert len(problems) == 1 and expected in problems[0]
    # AND verify() refuses to run with it
    with pytest.raises(senders.RouteConfigError, match=re.escape(expected)):
        verify(route, {}, b"{}", ["s"], NOW)


def test_every_route_problem_is_reported_at_once() -> None:
    route = _route_with("hmac", header=None, algorithm="md5", encoding="b32", ownerIds=[])
    assert len(senders.route_problems(route)) == 4  # header, algorithm, encoding, ownerIds


@pytest.mark.parametrize(
    ("source", "secrets", "expected"),
    [
        ("github", [], "routeSecrets.r is missing: source github needs a secret"),
        ("github", ["ok", ""], "routeSecrets.r (secret 2 of 2): empty"),
        ("standard-webhooks", ["whsec_not base64!"], "expected whsec_ followed by base64"),
        ("stripe", ["sk_live_51Hxyz"], "a Stripe endpoint signing secret starts with whsec_"),
    ],
)
def test_secret_problems_never_show_the_secret(
    source: str, secrets: list[str], expected: str
) -> None:
    problems = senders.route_problems(_route_with(source), secrets)
    assert problems == [problems[0]] and expected in problems[0]
    assert not any(s and s in problems[0] for s in secrets)


def test_senders_imports_only_the_standard_library() -> None:
    # The listener's cold start is the sender's deadline: no third-party import may creep in.
    tree = ast.parse(SENDERS_PATH.read_text())
    imported = {
        (node.module or "" if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported and imported <= sys.stdlib_module_names


def test_hmac_signature_is_compared_in_canonical_form_only() -> None:
    # GIVEN the right digest written in upper-case hex WHEN verified THEN it does not match:
    # a signature has one spelling, so one changed character can never still pass
    digest = hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    route = {**ROUTES["hmac"], "encoding": "hex"}
    assert verify(route, {"x-signature": digest}, b"{}", ["k"], NOW).ok
    assert verify(route, {"x-signature": digest.upper()}, b"{}", ["k"], NOW).status == 401
