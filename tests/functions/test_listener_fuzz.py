"""Property: whatever event arrives, the listener answers (never raises) and only 200 enqueues."""

import json
from types import ModuleType
from typing import Any

from factories import LambdaContext, post_event
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

STATUSES = {200, 400, 403, 404, 405, 413, 415}

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
content_types = st.sampled_from(
    ["application/json", "APPLICATION/JSON;charset=utf-8", "text/plain", "", "application/+json"]
)
bodies = st.one_of(
    st.text(max_size=200),
    st.sampled_from(['{"a": 1}', "[]", "null", "e30=", "{", "\x00", "\ud800", "1e999"]),
    junk,
)
events = st.fixed_dictionaries(
    {},
    optional={
        "rawPath": st.sampled_from(["/append_queue", "/append_queue/", "/", ""]) | junk,
        "body": bodies,
        "isBase64Encoded": st.booleans() | junk,
        "headers": st.dictionaries(
            st.sampled_from(["content-type", "Content-Type", "user-agent"]), content_types
        )
        | junk,
        "queryStringParameters": st.dictionaries(
            st.sampled_from(["hub.mode", "hub.challenge", "hub.verify_token"]), st.text()
        )
        | junk,
        "rawQueryString": st.text(max_size=40) | junk,
        "requestContext": st.fixed_dictionaries(
            {},
            optional={
                "http": st.fixed_dictionaries(
                    {},
                    optional={
                        "method": st.sampled_from(["GET", "POST", "post", "PUT"]) | junk,
                        "userAgent": st.text(max_size=300) | junk,
                        "sourceIp": st.text(max_size=20) | junk,
                    },
                )
                | junk,
                "requestId": st.text(max_size=40) | junk,
                "timeEpoch": st.integers() | st.floats() | junk,
            },
        )
        | junk,
    },
)


def queue_depth(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI must not flake
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event=st.one_of(events, junk), json_post=st.booleans())
@example(event={"body": "\x80", "isBase64Encoded": True}, json_post=True)  # non-ASCII "base64"
@example(event={"requestContext": {"timeEpoch": 1e300}}, json_post=True)  # date out of range
def test_any_event_gets_an_answer_and_only_200_enqueues(
    listener: ModuleType, sqs: Any, queue_url: str, event: Any, json_post: bool
) -> None:
    # GIVEN an arbitrary event (sometimes laid over a valid JSON POST)
    if json_post and isinstance(event, dict):
        event = {**post_event({"a": 1}), **event}
    before = queue_depth(sqs, queue_url)
    # WHEN the listener handles it
    response = listener.handler(event, LambdaContext())
    # THEN it answers with a known status and a JSON body, and enqueues iff it said 200
    assert response["statusCode"] in STATUSES
    assert response["headers"]["content-type"] == "application/json"
    payload = json.loads(response["body"])
    assert queue_depth(sqs, queue_url) == before + (1 if response["statusCode"] == 200 else 0)
    if response["statusCode"] != 200:
        assert set(payload) == {"error"}
