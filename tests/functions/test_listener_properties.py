"""Properties of the listener over generated requests: it always answers, and 200 <=> enqueued.

Replaces the earlier fixed-seed fuzz (test_listener_fuzz.py). Each generated request carries an
oracle: the statuses the design (docs/design.md, "The listener") allows for it, worked out here
from the request (route, method, media type, body, size, handshake query) without calling the
handler's code.
Then, per request:

- the handler returns (never raises) a payload-2.0 response with a JSON body;
- the status is one the design lists and, where the request is classifiable, one the
  oracle allows; SQS is healthy here, so never 503;
- a non-200 body is {"error": <reason>};
- the queue holds ONE message iff the answer is a POST's 200, with the request body as received
  and the answered message_id; a handshake 200 echoes the challenge and enqueues nothing;
- one JSON log line per request, with the answered status.

One moto queue serves the whole run; each example drains it. MAX_MESSAGE_BYTES is 4096 so bodies
over the limit are cheap. Examples are random per run (no example database); a failure prints
the seed to reproduce it with @reproduce_failure / --hypothesis-seed.
"""

import base64
import binascii
import json
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import hypothesis
import pytest
from environments import listener_env
from factories import LambdaContext, event_body, function_url_event, receive_messages
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis_profile import examples

LoadFunction = Callable[..., Any]  # conftest.load_function

LIMIT = 4096
OPEN_PATH, STRAVA_PATH = "/append_queue", "/hooks/strava"
PATHS = (OPEN_PATH, STRAVA_PATH)
ROUTES = [
    {"name": "demo", "path": OPEN_PATH, "source": "none"},
    {"name": "strava", "path": STRAVA_PATH, "source": "strava"},
]
"""An open route (no verification) and a Strava one (handshake; POSTs must be Strava events)."""
ACCEPTED = ("application/json", "application/vnd.strava+json", "application/octet-stream")
TOKEN = "verify-7f3c9a"
PARAMETER = "/async-webhook-test/routes/strava"
STRAVA_EVENTS = tuple(
    event_body(name)
    for name in (
        "strava-activity-create",
        "strava-activity-update",
        "strava-activity-delete",
        "strava-athlete-deauthorize",
    )
)
STRAVA_NUMBERS = ("owner_id", "object_id", "event_time", "subscription_id")
STRAVA_WORDS = ("object_type", "aspect_type")
LISTENER_STATUSES = frozenset({200, 400, 401, 403, 404, 405, 413, 415, 503})
MAIN_EXAMPLES = examples(400)

# Characters an SQS message may carry (SQS API reference, SendMessage: #x9 | #xA | #xD |
# #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF).
SQS_RANGES = ((0x9, 0x9), (0xA, 0xA), (0xD, 0xD), (0x20, 0xD7FF), (0xE000, 0xFFFD))


def sqs_text(text: str) -> bool:
    return all(
        ord(c) >= 0x10000 or any(low <= ord(c) <= high for low, high in SQS_RANGES) for c in text
    )


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def strict_json(text: str) -> bool:
    """RFC 8259 JSON: no NaN/Infinity, no BOM; too deep to parse counts as malformed."""

    def reject(name: str) -> Any:
        raise ValueError(name)

    try:
        json.loads(text, parse_constant=reject)
    except (ValueError, RecursionError):
        return False
    return True


def route_of(path: str) -> str | None:
    """The configured path a request reaches: itself, or without one trailing slash (the
    listener's documented rule); None: no route."""
    canonical = path[:-1] if path.endswith("/") and len(path) > 1 else path
    return canonical if canonical in PATHS else None


def strava_event(raw: bytes) -> bool:
    """A Strava event as its docs describe one: a JSON object with whole non-negative ids and
    times (digit strings tolerated) and non-empty object_type and aspect_type."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    if not isinstance(document, dict):
        return False
    for name in STRAVA_NUMBERS:
        value = document.get(name)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
            value = int(value)
        if type(value) is not int or value < 0:
            return False
    return all(isinstance(document.get(n), str) and document[n] for n in STRAVA_WORDS)


def media_type(content_type: str | None) -> str | None:
    return None if content_type is None else content_type.split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


# --- Generated requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A generated event and what the design allows for it (None: not classifiable, junk)."""

    event: Any
    allowed: frozenset[int] | None
    size_uncertain: bool = False
    """The body is near the limit: 200 and 413 are both possible, checked against SQS's count."""
    challenge: str | None = None
    """For a handshake the oracle expects to pass: the value to echo."""
    generated: bool = False
    """An empty POST on an open route: the listener enqueues the receive time as the body."""


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)
any_chars = st.one_of(  # lone surrogates and control characters included
    st.characters(),
    st.characters(categories=["Cc", "Cs"]),
    st.sampled_from("\ud800\udfff\ufffe\uffff\x00"),
)
INVALID_JSON = [
    "{",
    '{"a":}',
    "{'single': 'quotes'}",
    "[1,]",
    "NaN",
    '{"a": NaN}',
    "-Infinity",
    '{"a":1}{',
    "tru",
    '"unterminated',
    '{"a":"\x01"}',  # a raw control character inside a string
    '\ufeff{"a":1}',  # byte order mark
    "   ",
    "\n",
    "{" * 3,
]
INVALID_BASE64 = [
    "not base64!",
    "e30",  # missing padding
    "e30=\n",
    " e30=",
    "é",
    "====",
    "eyJhIjog*!!",
    "e3=0",
    "\x00",
]
PADDING = ("x", "é", "😀", "\\u00e9")
WHITESPACE = ("", "\n", "\r\n", " ", "\t", "  \n")


@st.composite
def padded_json(draw: st.DrawFn, low: int, high: int) -> str:
    """A JSON document of about `low`..`high` UTF-8 bytes, built without generating the bytes."""
    target = draw(st.integers(low, high))
    pad = draw(st.sampled_from(PADDING))
    width = len(pad.encode())
    return '{"pad":"' + pad * max(0, (target - 10) // width) + '"}'


def nested(depth: int, kind: str) -> str:
    return "[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """one_of with integer weights, so realistic requests dominate and every oddity still shows."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


text_bodies = weighted(
    (10, json_values.map(json.dumps)),
    (4, json_values.map(lambda v: json.dumps(v, ensure_ascii=False, indent=1))),
    (  # senders add newlines and spaces around JSON; the queue must keep them
        3,
        st.tuples(st.sampled_from(WHITESPACE), json_values, st.sampled_from(WHITESPACE)).map(
            lambda t: t[0] + json.dumps(t[1]) + t[2]
        ),
    ),
    (3, st.sampled_from(INVALID_JSON)),
    (2, st.text(min_size=1, max_size=60)),
    (2, st.text(any_chars, min_size=1, max_size=30)),
    (1, st.builds(nested, st.integers(1, 150), st.sampled_from(["list", "dict"]))),  # fine
    (1, st.builds(nested, st.integers(1100, 1800), st.sampled_from(["list", "dict"]))),  # too deep
    (6, st.sampled_from(STRAVA_EVENTS)),
    (2, st.sampled_from(STRAVA_EVENTS).map(lambda t: t.replace('"owner_id":', '"owner":'))),
    (5, padded_json(LIMIT - 700, LIMIT + 200)),  # around the limit
    (2, padded_json(LIMIT + 200, 4 * LIMIT)),  # over it
    (1, st.just("")),
)
base64_bodies = weighted(
    (6, json_values.map(lambda v: base64.b64encode(json.dumps(v).encode()).decode())),
    (3, st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode())),  # often not UTF-8
    (
        1,
        st.sampled_from([b"\xff\xfe", b'{"a": "\xc3"}', b"\xed\xa0\x80"]).map(
            lambda b: base64.b64encode(b).decode()
        ),
    ),
    (2, st.sampled_from(INVALID_BASE64)),
    (1, st.text(min_size=1, max_size=20)),
    (2, padded_json(LIMIT - 1000, 4 * LIMIT).map(lambda t: base64.b64encode(t.encode()).decode())),
    (1, st.just("")),
)
NEAR_MISSES = [
    "/append_queue//",
    "/append_queue/x",
    "/APPEND_QUEUE",
    "/append_queue ",
    " /append_queue",
    "/append_queue?x=1",
    "/append_queue%2F",
    "append_queue",
    "/append_queu",
    "/append_queuee",
    "//append_queue",
    "/hooks/strava/../strava",
    "/hooks",
    "/append_queue\x00",
    "/append_queue\u200b",
    "/\u0430ppend_queue",  # Cyrillic a
    "/",
    "",
]
paths = weighted(
    (12, st.sampled_from(PATHS)),
    (3, st.sampled_from(PATHS).map(lambda p: p + "/")),
    (2, st.sampled_from(NEAR_MISSES)),
    (1, st.text(max_size=30).map(lambda t: "/" + t)),
    (1, st.text(any_chars, max_size=10)),
)
methods = weighted(
    (14, st.just("POST")),
    (4, st.just("GET")),
    (
        2,
        st.sampled_from(
            ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "POST ", "", "P0ST"]
        ),
    ),
)
content_types = weighted(
    (
        14,
        st.sampled_from(
            [
                "application/json",
                "Application/JSON; charset=UTF-8",
                " application/json ",
                "application/json;charset=utf-8;foo=bar",
                "application/vnd.strava+json",
                "application/octet-stream",
            ]
        ),
    ),
    (
        2,
        st.sampled_from(
            [
                "text/plain",
                "application/jsonx",
                "json",
                "",
                "application/json, application/json",  # a duplicated header, comma-joined
                "multipart/form-data; boundary=x",
                "application/x-www-form-urlencoded",
            ]
        ),
    ),
    (1, st.text(max_size=30)),
    (1, st.integers(300, 5000).map(lambda n: "application/json; p=" + "x" * n)),  # huge
    (1, st.none()),
)
header_names = st.text(string.ascii_letters + "-", min_size=1, max_size=20).filter(
    lambda n: n.lower() not in ("content-type", "host")
)
extra_headers = st.dictionaries(header_names, st.text(max_size=40), max_size=4)
huge_header = st.integers(1000, 20_000).map(lambda n: {"x-huge": "h" * n})
duplicated_headers = st.just(
    {"accept": "*/*, application/json", "x-forwarded-for": "198.51.100.1, 203.0.113.9"}
)
handshake_values = weighted(
    (
        3,
        st.fixed_dictionaries(
            {
                "hub.mode": st.just("subscribe"),
                "hub.verify_token": st.just(TOKEN),
                "hub.challenge": st.text(min_size=1, max_size=40),
            }
        ),
    ),
    (
        2,
        st.fixed_dictionaries(
            {},
            optional={
                "hub.mode": st.sampled_from(["subscribe", "unsubscribe", "", "SUBSCRIBE"]),
                "hub.verify_token": st.sampled_from(
                    [TOKEN, TOKEN, "wrong", "", TOKEN.upper(), TOKEN + " "]
                ),
                "hub.challenge": st.text(max_size=40),
                "other": st.text(max_size=10),
            },
        ),
    ),
)


def attribute_bounds(
    path: str, content_type: str | None, request_id: str, agent: str | None, ip: str, b64: bool
) -> tuple[int, int]:
    """Lower and upper bounds of the attribute bytes SQS counts, whatever the exact rules.

    Always present: path, route, source, receivedAt (24 ASCII characters), bodyEncoding. Possibly
    present, each capped at 256 characters of at most 4 bytes: contentType, requestId, userAgent,
    sourceIp; and a Strava delivery id of up to 128 ASCII characters.
    """
    canonical = path[:-1] if path.endswith("/") and len(path) > 1 else path
    route, source = ("demo", "none") if canonical == OPEN_PATH else ("strava", "strava")
    always = (
        (4 + 6 + utf8_len(canonical))
        + (5 + 6 + len(route))
        + (6 + 6 + len(source))
        + (10 + 6 + 24)
        + (12 + 6 + (6 if b64 else 4))
    )
    optional = sum(
        len(name) + 6 + 4 * min(len(value), 256)
        for name, value in (
            ("contentType", content_type or ""),
            ("requestId", request_id),
            ("userAgent", agent or ""),
            ("sourceIp", ip),
        )
    )
    if source == "strava":
        optional += len("deliveryId") + 6 + 128
    return always, always + optional


def post_statuses(event: Mapping[str, Any], path: str, content_type: str | None) -> Case:
    """What the design allows for a POST on a route: any applicable error, else 200."""
    errors: set[int] = set()
    media = media_type(content_type)
    body = event.get("body")
    b64 = event.get("isBase64Encoded") is True
    strava = route_of(path) == STRAVA_PATH
    if not strava and (not isinstance(body, str) or not body) and not media:
        # The original demo's request: an empty POST on an open route enqueues the time.
        return Case(event=event, allowed=frozenset({200}), generated=True)
    if media is None or media not in ACCEPTED:
        errors.add(415)
    uncertain = False
    if not isinstance(body, str) or not body:
        errors.add(400)
    else:
        context = event["requestContext"]
        low, high = attribute_bounds(
            path,
            content_type,
            context["requestId"],
            context["http"].get("userAgent"),
            context["http"]["sourceIp"],
            b64,
        )
        if utf8_len(body) + low > LIMIT:
            errors.add(413)
        elif utf8_len(body) + high > LIMIT:
            uncertain = True
        raw: bytes | None = None
        if b64:
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                errors.add(400)
            else:
                if media is not None and is_json(media):
                    try:
                        if not strict_json(raw.decode("utf-8")):
                            errors.add(400)
                    except UnicodeDecodeError:
                        errors.add(400)
        elif not sqs_text(body) or (media is not None and is_json(media) and not strict_json(body)):
            errors.add(400)
        if not b64:
            raw = body.encode("utf-8", "surrogatepass")
        if strava and (raw is None or not strava_event(raw)):
            errors.add(400)  # Strava signs nothing; a route of its takes only its events
    allowed = frozenset(errors or {200}) | ({413} if uncertain else frozenset())
    return Case(event=event, allowed=allowed, size_uncertain=uncertain)


@st.composite
def requests(draw: st.DrawFn) -> Case:
    """A payload-2.0 event as a Function URL would deliver it, with an oracle."""
    method = draw(methods)
    path = draw(paths)
    content_type = draw(content_types)
    b64 = draw(st.sampled_from([False, False, True]))
    body: str | None = draw(base64_bodies if b64 else text_bodies)
    if draw(st.sampled_from([False] * 29 + [True])):
        body = None  # no "body" key at all
    headers: dict[str, str] = {}
    for extra in draw(
        st.lists(st.one_of(extra_headers, huge_header, duplicated_headers), max_size=2)
    ):
        headers.update(extra)
    spelling = draw(st.sampled_from(["content-type", "Content-Type", "CONTENT-TYPE"]))
    if content_type is not None:
        headers[spelling] = content_type
    agent = draw(
        weighted(
            (6, st.just("Strava Webhooks/1.0")),
            (1, st.none()),
            (1, st.text(max_size=600)),
            (1, st.integers(300, 5000).map(lambda n: "agent/" + "u" * n)),
        )
    )
    query = draw(handshake_values)
    raw_query_only = draw(st.booleans())
    event = function_url_event(
        method=method,
        path=path,
        content_type=None,
        headers=headers,
        query=query or None,
        user_agent=agent,
        lowercase_headers=False,
    )
    event["isBase64Encoded"] = b64
    if body is not None:  # set here: the factory would try to decode broken base64
        event["body"] = body
    if raw_query_only:
        event.pop("queryStringParameters", None)  # the handler must read rawQueryString
    junk_flag = draw(st.sampled_from([None] * 12 + ["true", 1, "yes"]))
    if junk_flag is not None:
        event["isBase64Encoded"] = junk_flag  # only a JSON true means base64
    if route_of(path) is None:
        return Case(event=event, allowed=frozenset({404}))
    if method == "GET" and route_of(path) == STRAVA_PATH:
        passes = (
            query.get("hub.mode") == "subscribe"
            and query.get("hub.verify_token") == TOKEN
            and bool(query.get("hub.challenge"))
        )
        if passes:
            return Case(event=event, allowed=frozenset({200}), challenge=query["hub.challenge"])
        return Case(event=event, allowed=frozenset({403}))
    if method != "POST":
        return Case(event=event, allowed=frozenset({405}))
    return post_statuses(event, path, content_type)


junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
JUNK_KEYS = (
    "rawPath",
    "body",
    "isBase64Encoded",
    "headers",
    "queryStringParameters",
    "rawQueryString",
    "requestContext",
    "version",
)


@st.composite
def broken_requests(draw: st.DrawFn) -> Case:
    """Events no Function URL would send: junk, or a real event with fields replaced or dropped."""
    if draw(st.booleans()):
        return Case(event=draw(junk), allowed=None)
    event = draw(requests()).event
    for key in draw(st.lists(st.sampled_from(JUNK_KEYS), min_size=1, max_size=3, unique=True)):
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(junk)
    context = event.get("requestContext")
    if draw(st.booleans()) and isinstance(context, dict) and isinstance(context.get("http"), dict):
        context["http"]["method"] = draw(junk | st.sampled_from(["post", "get", "Post"]))
    return Case(event=event, allowed=None)


# --- The property --------------------------------------------------------------------------------


@pytest.fixture
def guarded_listener(load_function: LoadFunction, queue_url: str, ssm: Any) -> ModuleType:
    """The listener with an open and a Strava route, three accepted types, a 4 KiB limit and a
    verify token."""
    ssm.put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    env = listener_env(
        queue_url,
        routes=ROUTES,
        secret_parameters={"strava": PARAMETER},
        accepted_content_types=ACCEPTED,
        max_message_bytes=LIMIT,
    )
    return load_function("listener", env).handler


def drain(sqs: Any, queue_url: str) -> list[Any]:
    """Everything in the queue, deleted: the next example starts from an empty queue."""
    messages = receive_messages(sqs, queue_url)
    if messages:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
    return messages


def sqs_size(message: Mapping[str, Any]) -> int:
    """A received message's size as SQS counts it: body + attribute names, types and values."""
    return len(message["Body"].encode()) + sum(
        len(name.encode()) + len(a["DataType"].encode()) + len(a["StringValue"].encode())
        for name, a in message.get("MessageAttributes", {}).items()
    )


def check_aws_message_rules(message: Mapping[str, Any]) -> None:
    """SendMessage rules AWS enforces and moto does not: SQS characters, non-empty String values,
    at most 10 attributes. A message breaking them would be a 503 on AWS, not a 200."""
    assert sqs_text(message["Body"])
    attributes = message.get("MessageAttributes", {})
    assert len(attributes) <= 10
    for name, attribute in attributes.items():
        assert attribute["DataType"] == "String"
        assert sqs_text(name) and sqs_text(attribute["StringValue"])
        assert attribute["StringValue"] != ""


def check_response(response: Any) -> tuple[int, dict[str, Any]]:
    """A payload-2.0 response with a JSON object body; returns (status, parsed body)."""
    assert isinstance(response, dict)
    assert set(response) <= {"statusCode", "headers", "body", "isBase64Encoded", "cookies"}
    status = response["statusCode"]
    assert type(status) is int
    assert status in LISTENER_STATUSES
    headers = response["headers"]
    assert isinstance(headers, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    assert headers["content-type"] == "application/json"
    assert response.get("isBase64Encoded", False) is False
    assert isinstance(response["body"], str)
    payload = json.loads(response["body"])
    assert isinstance(payload, dict)
    if status != 200:
        assert set(payload) == {"error"}
        assert isinstance(payload["error"], str) and payload["error"]
    if status == 405:
        assert {m.strip() for m in headers["allow"].split(",")} in ({"GET", "POST"}, {"POST"})
    return status, payload


def check_log(out: str, status: int, response_body: Mapping[str, Any]) -> dict[str, Any]:
    """Every line is JSON; exactly one "request handled" line, with the answered status."""
    lines = [json.loads(line) for line in out.splitlines()]
    [handled] = [line for line in lines if line.get("message") == "request handled"]
    assert handled["status"] == status
    if "message_id" in response_body:
        assert handled["message_id"] == response_body["message_id"]
    return handled


@pytest.fixture
def exercise(
    guarded_listener: ModuleType, sqs: Any, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[Case], None]]:
    """Handle one case and check every property; the queue is drained after each example."""
    assert drain(sqs, queue_url) == []

    def run(case: Case) -> None:
        note(f"event: {case.event!r:.2000}")
        capsys.readouterr()
        # WHEN the listener handles the event
        response = guarded_listener.handler(case.event, LambdaContext(function_name="listener"))
        log = capsys.readouterr().out
        queued = drain(sqs, queue_url)
        # THEN a well-formed payload-2.0 answer with one of the design's statuses, logged once
        status, payload = check_response(response)
        handled = check_log(log, status, payload)
        note(f"status {status}, payload {payload}, queued {len(queued)}")
        hypothesis.event(
            f"status {status} {payload.get('error', '')[:30]}"
            + (" (size near the limit)" if case.size_uncertain else "")
        )
        # AND SQS is healthy here, so never 503; the oracle's statuses when it has one
        assert status != 503
        if case.allowed is not None:
            assert status in case.allowed
        # AND a message is queued iff a POST was answered 200 with its id: exactly one, as received
        if status == 200 and "message_id" in payload:
            assert set(payload) == {"timestamp", "message_id"}
            [message] = queued
            assert message["MessageId"] == payload["message_id"]
            encoding = message["MessageAttributes"]["bodyEncoding"]["StringValue"]
            if encoding == "generated":  # only for an empty POST on an open route
                assert case.generated or case.allowed is None
                body = case.event.get("body")
                assert not isinstance(body, str) or not body  # no body (junk is none either)
                assert message["Body"] == payload["timestamp"]
            else:
                assert not case.generated
                assert message["Body"] == case.event["body"]
                b64 = case.event.get("isBase64Encoded") is True
                assert encoding == ("base64" if b64 else "text")
            assert sqs_size(message) <= LIMIT
            check_aws_message_rules(message)
        else:
            assert queued == []
        if status == 200 and "message_id" not in payload:
            assert payload == {"hub.challenge": payload.get("hub.challenge")}
            if case.allowed is not None:
                assert payload["hub.challenge"] == case.challenge
        if status == 413 and case.size_uncertain:
            assert handled["size"] > LIMIT

    yield run
    assert drain(sqs, queue_url) == []


PROPERTY_SETTINGS = settings(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one queue for the whole run, drained per example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@settings(PROPERTY_SETTINGS, max_examples=MAIN_EXAMPLES)
@given(case=requests())
def test_every_request_is_answered_and_only_a_200_post_is_queued(
    exercise: Callable[[Case], None], case: Case
) -> None:
    # GIVEN a generated Function URL request and the statuses the design allows for it
    # WHEN it is handled, THEN (see exercise) every property holds
    exercise(case)


@settings(PROPERTY_SETTINGS, max_examples=examples(300))
@given(case=broken_requests())
def test_malformed_events_never_raise_and_never_enqueue_without_200(
    exercise: Callable[[Case], None], case: Case
) -> None:
    # GIVEN an event no Function URL would send (junk, or fields replaced or dropped)
    # WHEN it is handled, THEN the same properties hold, without an oracle for the status
    exercise(case)
