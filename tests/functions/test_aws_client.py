"""The listener's standard-library AWS client (functions/listener/aws.py), proven against botocore.

- Signing: the AWS SigV4 test suite's vectors, and botocore's SigV4Auth on generated requests
  (hosts with ports, China and FIPS hosts, session tokens, unicode, odd paths and queries).
- Wire format: the same SendMessage / GetParameter sent by botocore and by the client to a
  recording server: same target, content type, JSON document, signed headers and signature.
- Errors parsed as botocore's JSON parser parses them, typed for the listener's retry rules;
  transport failures from small servers on 127.0.0.1 (keep-alive dropped, never answering,
  closed port, HTML from a proxy, a wrong MD5).
- Credentials: the environment re-read on every call, the container endpoint with its token and
  expiry-aware cache (a fake clock, no sleeping).
- Against moto's server with IAM enforced, which checks every signature and session token:
  standard and FIFO sends, a SecureString, a missing queue, refused credentials, credentials
  changed under a warm client, container credentials.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock
from urllib.parse import quote

import boto3
import botocore.auth
import botocore.parsers
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profile import examples
from moto.sqs.models import Message as MotoMessage

from local.moto_server import EmbeddedAws

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
BOTO_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=2)
PATIENT_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
"""For setting up and reading the embedded moto, which is not what these tests check: its first
call of a service loads that service (SSM imports all of EC2), seconds on a loaded machine."""
PROPERTY_SETTINGS = settings(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _load_client() -> ModuleType:
    """functions/listener/aws.py under a name of its own, so no other test's import can clash."""
    path = ROOT / "functions" / "listener" / "aws.py"
    spec = importlib.util.spec_from_file_location("listener_aws", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


aws = _load_client()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


# ---- a recording HTTP/1.1 server on 127.0.0.1 ----------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    close_after: bool = False
    """Close the connection after answering, without saying so (no `Connection: close`)."""


DROP = "drop"  # read the request, close the connection without answering
HANG = "hang"  # read the request, never answer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    connection: int
    """1-based index of the TCP connection it came on."""
    nth: int
    """1-based index of the request on its connection."""

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def signed_headers(self) -> str:
        return (self.header("Authorization") or "").split("SignedHeaders=")[1].split(",")[0]

    def document(self) -> Any:
        return json.loads(self.body)


Reply = Callable[[Received], Answer | str]


class FakeServer:
    """Answers each request as `reply` says and records it; connections are kept alive."""

    def __init__(self, reply: Reply, tls: ssl.SSLContext | None = None) -> None:
        self.reply = reply
        self.received: list[Received] = []
        self.connections = 0
        self.closed = 0
        self.release = threading.Event()
        fake = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body leave in two writes: without this, Nagle's algorithm and the
                # client's delayed ACK hold each kept-alive answer back ~40 ms
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with lock:
                    fake.connections += 1
                    self.index = fake.connections
                self.count = 0

            def finish(self) -> None:
                with contextlib.suppress(OSError):
                    super().finish()
                with lock:
                    fake.closed += 1

            def handle_one(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.count += 1
                received = Received(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.index,
                    self.count,
                )
                fake.received.append(received)
                action = fake.reply(received)
                if action == HANG:
                    fake.release.wait(10)
                if not isinstance(action, Answer):
                    self.close_connection = True
                    return
                self.send_response(action.status)
                for name, value in action.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(action.body)))
                self.end_headers()
                self.wfile.write(action.body)
                self.close_connection = action.close_after

            do_GET = do_POST = handle_one

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def json_answer(status: int, document: Any, *headers: tuple[str, str]) -> Answer:
    return Answer(status, json.dumps(document).encode(), headers)


def sqs_answer(received: Received) -> Answer:
    """SendMessage accepted, with the MD5s SQS computes (moto's code computes them, not ours)."""
    request = received.document()
    message = MotoMessage(str(uuid.uuid4()), request["MessageBody"])
    result = {"MessageId": message.id, "MD5OfMessageBody": message.body_md5}
    if request.get("MessageAttributes"):
        message.message_attributes = {
            name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
            if "StringValue" in value
            else {
                "DataType": value["DataType"],
                "BinaryValue": base64.b64decode(value["BinaryValue"]),
            }
            for name, value in request["MessageAttributes"].items()
        }
        result["MD5OfMessageAttributes"] = message.attribute_md5
    return json_answer(200, result)


@pytest.fixture
def serve() -> Iterator[Callable[[Reply], FakeServer]]:
    """serve(reply) starts a FakeServer; every one is stopped after the test."""
    servers: list[FakeServer] = []

    def start(reply: Reply) -> FakeServer:
        servers.append(FakeServer(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


OPEN_CLIENTS: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Every client a test opens is closed after it: no socket is left to the collector."""
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def opened(client: Any) -> Any:
    OPEN_CLIENTS.append(client)
    return client


def env_for(endpoint: str | None = None, **extra: str) -> dict[str, str]:
    env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
    env.update({"AWS_REGION": REGION, **({"AWS_ENDPOINT_URL": endpoint} if endpoint else {})})
    return {**env, **extra}


def sqs_client(env: dict[str, str], **timeouts: float) -> Any:
    return opened(aws.SQS(environ=env, **{"connect_timeout": 0.5, "read_timeout": 0.5, **timeouts}))


MOTO_TIMEOUTS = {"connect_timeout": 5.0, "read_timeout": 30.0}
"""The client's timeouts against the embedded moto, where they are not what a test checks: a
child process that a loaded machine can keep from answering for seconds."""


def moto_sqs_client(env: dict[str, str]) -> Any:
    return sqs_client(env, **MOTO_TIMEOUTS)


def ssm_client(env: dict[str, str]) -> Any:
    return opened(aws.SSM(environ=env, connect_timeout=0.5, read_timeout=2))


def queue_url(endpoint: str, name: str = "q") -> str:
    return f"{endpoint}/{ACCOUNT}/{name}"


def boto_client(service: str, endpoint: str, region: str = REGION, **credentials: str) -> Any:
    keys = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret", **credentials}
    session = boto3.session.Session()
    return opened(
        session.client(
            service, region_name=region, endpoint_url=endpoint, config=BOTO_CONFIG, **keys
        )
    )


def botocore_signature(
    received: Received, url: str, credentials: BotoCredentials, service: str, region: str
) -> str:
    """The signature botocore computes for a request as it arrived (moto verifies it this way)."""
    signed = received.signed_headers().split(";")
    request = AWSRequest(
        method=received.method,
        url=url + received.path,
        headers={name: value for name, value in received.headers if name.lower() in signed},
        data=received.body,
    )
    request.context["timestamp"] = received.header("X-Amz-Date")
    auth = botocore.auth.SigV4Auth(credentials, service, region)
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


# ---- SigV4: the published test suite -----------------------------------------------------------

# Derived from the AWS Signature Version 4 Test Suite (Apache-2.0) as github:boto/botocore ships it
# in tests/unit/auth/aws4_testsuite/<name>/<name>.{req,authz}: the request line and headers
# besides Host and X-Amz-Date, and the signature of the .authz file. All are signed with
# AKIDEXAMPLE, host example.amazonaws.com, 20150830T123600Z, us-east-1, service "service".
# Left out: post-sts-header-after (it adds the token after signing).
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TOKEN = (
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPf"
    "IeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7"
    "WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm"
    "8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
)
UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
H1 = "My-Header1"
SUITE_REQUESTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "get-vanilla": ("GET /", ()),
    "get-unreserved": (f"GET /{UNRESERVED}", ()),
    "get-utf8": ("GET /\u1234", ()),
    "get-header-key-duplicate": ("GET /", ((H1, "value2"), (H1, "value2"), (H1, "value1"))),
    "get-header-value-multiline": ("GET /", ((H1, "value1\n  value2\n     value3"),)),
    "get-header-value-order": ("GET /", tuple((H1, f"value{n}") for n in (4, 1, 3, 2))),
    "get-header-value-trim": ("GET /", ((H1, " value1"), ("My-Header2", ' "a   b   c"'))),
    "get-vanilla-empty-query-key": ("GET /?Param1=value1", ()),
    "get-vanilla-query-order-encoded": ("GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1", ()),
    "get-vanilla-query-order-key": ("GET /?Param1=value2&Param1=Value1", ()),
    "get-vanilla-query-order-key-case": ("GET /?Param2=value2&Param1=value1", ()),
    "get-vanilla-query-order-value": ("GET /?Param1=value2&Param1=value1", ()),
    "get-vanilla-query-unreserved": (f"GET /?{UNRESERVED}={UNRESERVED}", ()),
    "get-vanilla-utf8-query": ("GET /?\u1234=bar", ()),
    "get-vanilla-with-session-token": ("GET /", ()),
    "get-relative-relative": ("GET /example1/example2/../..", ()),
    "get-slash-pointless-dot": ("GET /./example", ()),
    "get-slashes": ("GET //example//", ()),
    "get-space": ("GET /example space/", ()),
    "get-special-character": ("GET /example/$delete", ()),
    "post-header-key-sort": ("POST /", ((H1, "value1"),)),
    "post-header-value-case": ("POST /", ((H1, "VALUE1"),)),
    "post-sts-header-before": ("POST /", ()),
    "post-vanilla": ("POST /", ()),
    "post-vanilla-query": ("POST /?Param1=value1", ()),
    "post-x-www-form-urlencoded": (
        "POST /",
        (("Content-Type", "application/x-www-form-urlencoded"),),
    ),
    "post-x-www-form-urlencoded-parameters": (
        "POST /",
        (("Content-Type", "application/x-www-form-urlencoded; charset=utf8"),),
    ),
}
SUITE_BODIES = {"post-x-www-form-urlencoded": b"Param1=value1"}
SUITE_BODIES["post-x-www-form-urlencoded-parameters"] = b"Param1=value1"
SUITE_TOKENS = {
    "get-vanilla-with-session-token": "6e86291e8372ff2a2260956d9b8aae1d"
    "763fbf315fa00fa31553b73ebf194267",
    "post-sts-header-before": SUITE_TOKEN,
}
_SIGNATURE_WORDS = iter(
    """
get-vanilla 5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31
get-unreserved 07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f
get-utf8 8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85
get-header-key-duplicate c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea
get-header-value-multiline cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd
get-header-value-order 08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01
get-header-value-trim acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736
get-vanilla-empty-query-key a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb
get-vanilla-query-order-encoded 371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac
get-vanilla-query-order-key eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1
get-vanilla-query-order-key-case b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500
get-vanilla-query-order-value 5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694
get-vanilla-query-unreserved 9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197
get-vanilla-utf8-query 2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04
get-vanilla-with-session-token 07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8
get-relative-relative 5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31
get-slash-pointless-dot ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5
get-slashes 9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84
get-space 652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741
get-special-character a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27
post-header-key-sort c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c
post-header-value-case cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d
post-sts-header-before 85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead
post-vanilla 5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b
post-vanilla-query 28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11
post-x-www-form-urlencoded ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a
post-x-www-form-urlencoded-parameters
    1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe
""".split()  # noqa: SIM905 - a table reads better than a column of quotes
)
SUITE_SIGNATURES = dict(zip(_SIGNATURE_WORDS, _SIGNATURE_WORDS, strict=True))


@pytest.mark.parametrize("name", sorted(SUITE_REQUESTS))
def test_signature_matches_the_sigv4_test_suite(name: str) -> None:
    # GIVEN a request of the AWS test suite
    request_line, headers = SUITE_REQUESTS[name]
    method, target = request_line.split(" ", 1)
    path, _, query = target.partition("?")
    token = SUITE_TOKENS.get(name)

    # WHEN it is signed at the suite's time, for its region and service
    signed = dict(
        aws.sign(
            method,
            path,
            query,
            [("Host", "example.amazonaws.com"), *headers],
            SUITE_BODIES.get(name, b""),
            credentials=aws.Credentials("AKIDEXAMPLE", SUITE_SECRET, token),
            region="us-east-1",
            service="service",
            amz_date="20150830T123600Z",
        )
    )

    # THEN the Authorization header carries the suite's scope and signature
    scope = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
    assert signed["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={scope}, ")
    assert signed["Authorization"].endswith(f"Signature={SUITE_SIGNATURES[name]}")
    assert signed["X-Amz-Date"] == "20150830T123600Z"
    assert signed.get("X-Amz-Security-Token") == token


# ---- SigV4: generated requests against botocore's SigV4Auth -------------------------------------

LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-5", "cn-north-1", "cn-northwest-1"]
REGIONS += ["us-gov-west-1", "us-iso-east-1", "eusc-de-east-1", "il-central-1"]
SERVICE_HOSTS = ["sqs", "sqs-fips", "ssm", "ssm-fips"]
OTHER_HOSTS = ["127.0.0.1", "localhost", "[::1]", "LocalStack.Example"]
RESERVED_HEADERS = {"host", "authorization", "date", "x-amz-date", "x-amz-security-token"}
RESERVED_HEADERS.add("x-amz-content-sha256")  # botocore signs with it instead of the body's hash
KNOWN_HEADERS = ["Content-Type", "X-Amz-Target", "x-amzn-query-mode", "User-Agent", "Expect"]
KNOWN_HEADERS += ["X-Amzn-Trace-Id", "Connection", "amz-sdk-invocation-id", "X-Custom", "x-custom"]
PATH_SAFE = "!$&'()*+,;=:@-._~"  # left unencoded by some clients, so the signer must cope


def _region_name(parts: tuple[str, str, int]) -> str:
    return "-".join(map(str, parts))


def _encode_segment(text: str) -> str:
    return quote(text, safe=PATH_SAFE)


def _join_path(parts: list[str]) -> str:
    return "/" + "/".join(parts)


def _encode_query_part(text: str) -> str:
    return quote(text, safe="-_.~")


def _join_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{name}={value}" for name, value in pairs)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _signable(name: str) -> bool:
    return name.lower() not in RESERVED_HEADERS


text_chars = st.characters(blacklist_categories=("Cs",))
regions = st.sampled_from(REGIONS) | st.tuples(
    st.text(LOWER, min_size=2, max_size=2),
    st.text(LOWER, min_size=4, max_size=9),
    st.integers(1, 9),
).map(_region_name)
segments = st.sampled_from([".", "..", ""]) | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"), max_size=8
).map(_encode_segment)
query_parts = st.text(text_chars, max_size=6).map(_encode_query_part)
header_names = st.sampled_from(KNOWN_HEADERS) | st.tuples(
    st.sampled_from(LOWER + LOWER.upper()), st.text(LOWER + UPPER_DIGITS + "-", max_size=12)
).map("".join).filter(_signable)
access_keys = st.tuples(
    st.sampled_from(["AKIA", "ASIA"]), st.text(UPPER_DIGITS, min_size=16, max_size=16)
).map("".join)


@dataclass(frozen=True)
class SigningCase:
    url: str
    region: str
    service: str
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    credentials: tuple[str, str, str | None]
    when: datetime


@st.composite
def signing_cases(draw: st.DrawFn) -> SigningCase:
    """Hosts of every partition (FIPS too) and local ones, default ports or not, any region."""
    region = draw(regions)
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    host = draw(st.sampled_from([f"{s}.{region}.{suffix}" for s in SERVICE_HOSTS] + OTHER_HOSTS))
    port = draw(st.none() | st.sampled_from([80, 443]) | st.integers(1, 65535))
    scheme = draw(st.sampled_from(["http", "https"]))
    return SigningCase(
        url=f"{scheme}://{host}" + (f":{port}" if port else ""),
        region=region,
        service=draw(st.sampled_from(["sqs", "ssm", "execute-api"])),
        method=draw(st.sampled_from(["POST", "GET", "PUT", "delete"])),
        path=draw(st.lists(segments, max_size=4).map(_join_path)),
        query=draw(st.lists(st.tuples(query_parts, query_parts), max_size=3).map(_join_query)),
        headers=draw(
            st.lists(
                st.tuples(
                    header_names, st.text(st.sampled_from("ab Z09-_/;=\"',.:\t"), max_size=16)
                ),
                max_size=5,
            )
        ),
        body=draw(st.text(max_size=40).map(_utf8) | st.binary(max_size=40)),
        credentials=(
            draw(access_keys),
            draw(
                st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
            ),
            draw(st.none() | st.text(LOWER + UPPER_DIGITS + "+/=", min_size=16, max_size=60)),
        ),
        when=draw(
            st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(UTC))
        ),
    )


@settings(PROPERTY_SETTINGS, max_examples=examples(200))
@given(case=signing_cases())
def test_signature_is_byte_identical_to_botocore(case: SigningCase) -> None:
    # GIVEN a generated request and credentials
    access_key, secret_key, token = case.credentials
    target = case.url + case.path + (f"?{case.query}" if case.query else "")
    request = AWSRequest(method=case.method, url=target, data=case.body)
    for name, value in case.headers:
        request.headers[name] = value  # appends: repeated names stay repeated, in order

    # WHEN botocore's SigV4Auth signs it at a fixed time, and so does the client
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=case.when):
        credentials = BotoCredentials(access_key, secret_key, token)
        botocore.auth.SigV4Auth(credentials, case.service, case.region).add_auth(request)
    ours = aws.sign(
        case.method,
        case.path,
        case.query,
        [("Host", aws.host_header(case.url)), *case.headers],
        case.body,
        credentials=aws.Credentials(access_key, secret_key, token),
        region=case.region,
        service=case.service,
        amz_date=case.when.strftime("%Y%m%dT%H%M%SZ"),
        key_cache={},
    )

    # THEN the Authorization, date and token headers are identical
    added = dict(ours[len(case.headers) + 1 :])
    assert added["Authorization"] == request.headers["Authorization"]
    assert added["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert added.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")


def test_signing_key_is_derived_once_per_day_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a key cache and a counting key derivation
    derived: list[str] = []
    real = aws.signing_key
    monkeypatch.setattr(aws, "signing_key", lambda *args: derived.append(args[1]) or real(*args))
    cache: dict[Any, bytes] = {}

    def sign_at(stamp: str, rotation: str = "key-1", key_cache: Any = cache) -> str:
        headers = aws.sign(
            *("POST", "/", "", [("Host", "h")], b"{}"),
            credentials=aws.Credentials("AKID", rotation),
            region=REGION,
            service="sqs",
            amz_date=stamp,
            key_cache=key_cache,
        )
        return str(dict(headers)["Authorization"])

    # WHEN three requests are signed on one day, one the next day, one with a rotated secret
    first = sign_at("20260101T000001Z")
    for stamp in ("20260101T120000Z", "20260101T235959Z", "20260102T000000Z"):
        sign_at(stamp)
    rotated = sign_at("20260102T000001Z", rotation="key-2")

    # THEN a key is derived per day and per secret, and a cached key signs as a fresh one does
    assert derived == ["20260101", "20260102", "20260102"]
    assert first == sign_at("20260101T000001Z", key_cache=None)
    assert rotated != sign_at("20260102T000001Z")


# ---- errors: parsed as botocore parses them, typed for the listener's retry rules ---------------


def sqs_error(
    shape: str, query_code: str | None, status: int = 400
) -> tuple[int, Any, dict[str, str]]:
    headers = {"x-amzn-query-error": f"{query_code};Sender"} if query_code else {}
    return status, {"__type": f"com.amazonaws.sqs#{shape}", "message": shape}, headers


NON_EXISTENT = "AWS.SimpleQueueService.NonExistentQueue"
UNSUPPORTED = "AWS.SimpleQueueService.UnsupportedOperation"
ACCESS_DENIED = {"__type": "com.amazon.coral.service#AccessDeniedException", "Message": "no"}
UNRECOGNIZED = {"__type": "UnrecognizedClientException:http://internal/", "message": "x"}
NOT_FOUND = {"__type": "ParameterNotFound", "message": "Parameter /x not found."}
NO_FAULT = {"x-amzn-query-error": "no-fault-part"}
ERROR_CASES: list[tuple[tuple[int, Any, dict[str, str]], str]] = [
    (sqs_error("QueueDoesNotExist", NON_EXISTENT), "QueueDoesNotExistError"),
    (sqs_error("RequestThrottled", "RequestThrottled"), "ThrottlingError"),
    (sqs_error("KmsThrottled", "KMS.ThrottlingException"), "ThrottlingError"),
    (sqs_error("InvalidParameterValue", "InvalidParameterValue"), "InvalidParameterError"),
    (sqs_error("UnsupportedOperation", UNSUPPORTED), "InvalidParameterError"),
    (sqs_error("KmsDisabled", "KMS.DisabledException"), "ServiceError"),
    (sqs_error("InternalError", "InternalError", 500), "ServerError"),
    (sqs_error("ServiceUnavailable", None), "ServerError"),
    ((400, {"__type": "com.amazonaws.sqs#QueueDoesNotExist"}, NO_FAULT), "QueueDoesNotExistError"),
    ((403, ACCESS_DENIED, {}), "AccessDeniedError"),
    ((400, UNRECOGNIZED, {}), "AccessDeniedError"),
    ((400, {"__type": "ThrottlingException", "message": "Rate exceeded"}, {}), "ThrottlingError"),
    ((400, NOT_FOUND, {}), "ParameterNotFoundError"),
    ((500, {"__type": "InternalServerError"}, {}), "ServerError"),
    ((502, b"<html><body><b>502 Bad Gateway</b></body></html>", {}), "ServerError"),
    ((503, b"", {}), "ServerError"),
    ((504, b"  \n", {}), "ServerError"),
    ((429, b"", {}), "ThrottlingError"),
    ((403, b"<html>Forbidden by proxy</html>", {}), "AccessDeniedError"),
    ((400, b"not json at all", {}), "ServiceError"),
    ((400, b"[1, 2]", {}), "ServiceError"),
    ((404, b"\xff\xfe", {}), "ServiceError"),
]


@pytest.mark.parametrize(("case", "kind"), ERROR_CASES)
def test_error_code_is_botocores_and_type_follows_retry_rules(
    case: tuple[int, Any, dict[str, str]], kind: str
) -> None:
    # GIVEN an error answer as SQS, SSM or a proxy in front of them sends it
    status, body, headers = case
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {**headers, "x-amzn-requestid": "req-1"}

    # WHEN botocore's JSON parser and the client both read it
    try:
        expected = botocore.parsers.JSONParser().parse(
            {"status_code": status, "headers": headers, "body": raw}, None
        )["Error"]
    except (AttributeError, UnicodeDecodeError):  # botocore fails on a JSON array / bad UTF-8;
        expected = {"Code": str(status)}  # the client treats them as any other non-JSON body
    error = aws.service_error("SendMessage", status, headers, raw)

    # THEN the code is botocore's and the type is the one the retry rules need
    assert error.code == expected["Code"]
    assert type(error).__name__ == kind
    assert (error.status, error.request_id) == (status, "req-1")
    if isinstance(body, dict):
        assert error.message == expected["Message"]
    assert error.retryable is (kind in {"ThrottlingError", "ServerError"})
    assert error.outcome_unknown is (kind == "ServerError")  # a 5xx may come after the work
    assert f"SendMessage: HTTP {status} {error.code}" in str(error)


def test_xml_error_document_gives_its_code() -> None:
    # moto (and AWS's front end for some authentication failures) answer a JSON-protocol call
    # with XML; botocore reports "403", the client the code the document names
    body = b'<?xml version="1.0"?><ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code>'
    error = aws.service_error("SendMessage", 403, {}, body + b"</Error></Errors></ErrorResponse>")
    assert (type(error), error.code) == (aws.AccessDeniedError, "SignatureDoesNotMatch")


def test_every_region_of_botocores_partitions_gets_its_dns_suffix() -> None:
    # GIVEN botocore's partition data
    data = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
    checked = 0
    for partition in data["partitions"]:
        suffix = partition["outputs"]["dnsSuffix"]
        for region in partition["regions"]:
            if region.endswith("-global"):
                continue
            # WHEN the client derives the SSM endpoint THEN it is in the region's partition
            assert aws.dns_suffix(region) == suffix, region
            ssm = aws.SSM(connect_timeout=1, read_timeout=1, environ=env_for(AWS_REGION=region))
            assert ssm.endpoint() == f"https://ssm.{region}.{suffix}/"
            checked += 1
    assert checked >= 40


def test_ssm_endpoint_is_the_one_botocore_resolves() -> None:
    session = boto3.session.Session()  # one session: its loader parses the model once
    for region in ("us-east-1", "cn-north-1", "us-gov-west-1", "us-isob-east-1"):
        boto = opened(
            session.client("ssm", region, aws_access_key_id="a", aws_secret_access_key="b")
        )
        ours = aws.SSM(connect_timeout=1, read_timeout=1, environ=env_for(AWS_REGION=region))
        assert ours.endpoint() == boto.meta.endpoint_url + "/", region


# ---- configuration ---------------------------------------------------------------------------


def test_endpoint_overrides_follow_botocores_precedence() -> None:
    # GIVEN the service-specific and the global variable
    both = env_for(AWS_ENDPOINT_URL="http://global:1", AWS_ENDPOINT_URL_SQS="http://sqs:2")
    east = "https://sqs.us-east-1.amazonaws.com/1/q"
    # THEN SQS takes its own, SSM the global one; without overrides SQS posts to the queue's host
    assert sqs_client(both).endpoint(east) == "http://sqs:2"
    assert ssm_client(both).endpoint() == "http://global:1"
    west = "https://sqs.eu-west-1.amazonaws.com/1/q"
    assert sqs_client(env_for()).endpoint(west) == "https://sqs.eu-west-1.amazonaws.com/"
    ignored = {**both, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert sqs_client(ignored).endpoint(east) == "https://sqs.us-east-1.amazonaws.com/"


@pytest.mark.parametrize(
    ("env", "timeouts", "named"),
    [
        ({"AWS_REGION": ""}, {}, "AWS_REGION"),
        ({"AWS_REGION": "us east 1"}, {}, "region 'us east 1'"),
        ({"AWS_ENDPOINT_URL": "localhost:4566"}, {}, "AWS_ENDPOINT_URL='localhost:4566'"),
        ({"AWS_ENDPOINT_URL_SQS": "ftp://x"}, {}, "AWS_ENDPOINT_URL_SQS='ftp://x'"),
        ({"AWS_USE_FIPS_ENDPOINT": "true"}, {}, "AWS_USE_FIPS_ENDPOINT=true"),
        ({}, {"connect_timeout": 0}, "connect_timeout=0"),
        ({}, {"read_timeout": float("nan")}, "read_timeout=nan"),
    ],
)
def test_bad_configuration_is_a_config_error_naming_key_and_value(
    env: dict[str, str], timeouts: dict[str, float], named: str
) -> None:
    with pytest.raises(aws.ConfigError, match=re.escape(named)):
        sqs_client({**env_for(), **env}, **timeouts)


def test_a_queue_url_without_host_is_a_config_error() -> None:
    with pytest.raises(aws.ConfigError, match="queue URL 'my-queue'"):
        sqs_client(env_for()).send_message("my-queue", "body")


# ---- wire format: what botocore sends, and what the client sends ---------------------------------


def _attribute_name(name: str) -> bool:
    return not name.startswith(("AWS.", "Amazon.")) and ".." not in name


attribute_values = st.text(text_chars, min_size=1, max_size=20) | st.binary(min_size=1, max_size=20)
messages = st.fixed_dictionaries(
    {
        "body": st.text(text_chars, min_size=1, max_size=60),
        "attributes": st.dictionaries(
            st.text(LOWER + UPPER_DIGITS + "_-.", min_size=1, max_size=12).filter(_attribute_name),
            attribute_values,
            max_size=4,
        ),
        "group_id": st.none() | st.text(LOWER + UPPER_DIGITS + "!#-_", min_size=1, max_size=12),
        "deduplication_id": st.none() | st.text(LOWER + UPPER_DIGITS, min_size=1, max_size=12),
    }
)


@pytest.fixture(scope="module")
def recording_sqs() -> Iterator[FakeServer]:
    server = FakeServer(sqs_answer)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def boto_sqs(recording_sqs: FakeServer) -> Iterator[Any]:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", aws_session_token="tok"
    )
    client = session.client("sqs", REGION, endpoint_url=recording_sqs.url, config=BOTO_CONFIG)
    yield client
    client.close()


def boto_attributes(attributes: dict[str, str | bytes]) -> dict[str, dict[str, Any]]:
    return {
        name: {"DataType": "Binary", "BinaryValue": value}
        if isinstance(value, bytes)
        else {"DataType": "String", "StringValue": value}
        for name, value in attributes.items()
    }


@settings(PROPERTY_SETTINGS, max_examples=40)
@given(message=messages)
def test_send_message_goes_on_the_wire_as_botocore_sends_it(
    recording_sqs: FakeServer, boto_sqs: Any, message: dict[str, Any]
) -> None:
    # GIVEN the same SendMessage in botocore's words and in the client's
    url = queue_url(recording_sqs.url)
    params: dict[str, Any] = {"QueueUrl": url, "MessageBody": message["body"]}
    if message["attributes"]:
        params["MessageAttributes"] = boto_attributes(message["attributes"])
    if message["group_id"] is not None:
        params["MessageGroupId"] = message["group_id"]
    if message["deduplication_id"] is not None:
        params["MessageDeduplicationId"] = message["deduplication_id"]
    client = sqs_client(env_for(recording_sqs.url, AWS_SESSION_TOKEN="tok"))

    # WHEN both send it (the client checks the MD5s that SQS would return)
    start = len(recording_sqs.received)
    boto_sqs.send_message(**params)
    sent = client.send_message(
        url,
        message["body"],
        message["attributes"],
        group_id=message["group_id"],
        deduplication_id=message["deduplication_id"],
    )
    theirs, ours = recording_sqs.received[start:]

    # THEN target, content type, query mode, JSON document and signed headers agree
    assert sent.message_id
    for name in ("X-Amz-Target", "Content-Type", "x-amzn-query-mode", "X-Amz-Security-Token"):
        assert ours.header(name) == theirs.header(name), name
    assert (ours.method, ours.path) == (theirs.method, theirs.path) == ("POST", "/")
    assert ours.document() == theirs.document()
    assert ours.signed_headers() == theirs.signed_headers()
    # and botocore, given the request as it arrived, computes the signature the client sent
    expected = botocore_signature(
        ours, recording_sqs.url, BotoCredentials("AKIDEXAMPLE", "secret", "tok"), "sqs", REGION
    )
    assert (ours.header("Authorization") or "").endswith(f"Signature={expected}")


def test_get_parameter_goes_on_the_wire_as_botocore_sends_it(
    serve: Callable[[Reply], FakeServer],
) -> None:
    # GIVEN a recording SSM
    parameter = {"Name": "/p", "Type": "SecureString", "Value": "s3cr3t", "Version": 3}
    server = serve(lambda _: json_answer(200, {"Parameter": parameter}))
    boto = boto_client("ssm", server.url, region="eu-west-1")
    ours = ssm_client(env_for(server.url, AWS_REGION="eu-west-1"))

    # WHEN both read the parameter with decryption
    boto.get_parameter(Name="/p", WithDecryption=True)
    result = ours.get_parameter("/p")
    theirs, mine = server.received

    # THEN the requests agree, and the value is returned but never shown
    assert (result.name, result.type, result.value, result.version) == tuple(parameter.values())
    assert "s3cr3t" not in repr(result)
    for name in ("X-Amz-Target", "Content-Type", "x-amzn-query-mode"):
        assert mine.header(name) == theirs.header(name), name
    assert mine.header("x-amzn-query-mode") is None  # SSM is not query-compatible
    assert mine.document() == theirs.document() == {"Name": "/p", "WithDecryption": True}
    assert mine.signed_headers() == theirs.signed_headers()
    expected = botocore_signature(
        mine, server.url, BotoCredentials("AKIDEXAMPLE", "secret"), "ssm", "eu-west-1"
    )
    assert (mine.header("Authorization") or "").endswith(f"Signature={expected}")


def test_trace_id_is_forwarded_quoted_and_unsigned(serve: Callable[[Reply], FakeServer]) -> None:
    # GIVEN Lambda's trace header in the environment
    server = serve(sqs_answer)
    env = env_for(
        server.url, _X_AMZN_TRACE_ID="Root=1-5e1b4151-5ac6c58f;Parent=53995c3f;Sampled=1 x"
    )
    client = sqs_client(env)

    # WHEN a message is sent, again after the trace id changed (a new invocation), then without
    client.send_message(queue_url(server.url), "a")
    env["_X_AMZN_TRACE_ID"] = "Root=1-2"
    client.send_message(queue_url(server.url), "b")
    del env["_X_AMZN_TRACE_ID"]
    client.send_message(queue_url(server.url), "c")

    # THEN each request carries the trace id of its moment, quoted as botocore does, unsigned
    traces = [received.header("X-Amzn-Trace-Id") for received in server.received]
    assert traces == ["Root=1-5e1b4151-5ac6c58f;Parent=53995c3f;Sampled=1%20x", "Root=1-2", None]
    assert "x-amzn-trace-id" not in server.received[0].signed_headers()


# ---- transport: one attempt, one kept-alive connection, typed failures --------------------------


def test_sends_share_one_kept_alive_connection(serve: Callable[[Reply], FakeServer]) -> None:
    server = serve(sqs_answer)
    client = sqs_client(env_for(server.url))
    for body in ("a", "b", "c"):
        client.send_message(queue_url(server.url), body)
    assert [(r.connection, r.nth) for r in server.received] == [(1, 1), (1, 2), (1, 3)]


def test_connection_the_server_closed_while_idle_is_replaced(
    serve: Callable[[Reply], FakeServer],
) -> None:
    # GIVEN a server that closes each connection after answering, without saying so
    server = serve(lambda received: replace(sqs_answer(received), close_after=True))
    client = sqs_client(env_for(server.url))
    client.send_message(queue_url(server.url), "a")
    wait_for(lambda: server.closed >= 1, "the server to close the idle connection")

    # WHEN the next message is sent THEN it goes out on a new connection, without an error
    assert client.send_message(queue_url(server.url), "b").message_id
    assert [(r.connection, r.nth) for r in server.received] == [(1, 1), (2, 1)]


def test_request_lost_on_a_stale_connection_is_sent_once_more(
    serve: Callable[[Reply], FakeServer],
) -> None:
    # GIVEN a kept-alive connection that the server drops when the next request arrives
    def reply(received: Received) -> Answer | str:
        return DROP if (received.connection, received.nth) == (1, 2) else sqs_answer(received)

    server = serve(reply)
    client = sqs_client(env_for(server.url))
    client.send_message(queue_url(server.url), "first")

    # WHEN the next message is sent
    sent = client.send_message(queue_url(server.url), "second")

    # THEN it is sent again, once, on a new connection, and succeeds
    assert sent.message_id
    assert [(r.connection, r.nth) for r in server.received] == [(1, 1), (1, 2), (2, 1)]
    assert client.connection(client.endpoint(queue_url(server.url))).connects == 2


def test_request_lost_on_a_fresh_connection_is_not_repeated(
    serve: Callable[[Reply], FakeServer],
) -> None:
    # GIVEN a server that reads the request and closes without answering
    server = serve(lambda _: DROP)
    client = sqs_client(env_for(server.url))

    # WHEN a message is sent THEN it fails once as "sent, no answer" (it may have been enqueued)
    with pytest.raises(aws.NoResponseError) as caught:
        client.send_message(queue_url(server.url), "x")
    assert (caught.value.outcome_unknown, caught.value.retryable) == (True, True)
    assert len(server.received) == 1


def test_silent_server_is_a_read_timeout_after_the_read_timeout(
    serve: Callable[[Reply], FakeServer],
) -> None:
    # GIVEN a server that reads the request and never answers
    server = serve(lambda _: HANG)
    client = sqs_client(env_for(server.url), read_timeout=0.3)

    # WHEN a message is sent
    started = time.monotonic()
    with pytest.raises(aws.ReadTimeoutError) as caught:
        client.send_message(queue_url(server.url), "x")
    elapsed = time.monotonic() - started

    # THEN it gives up after the read timeout, once, saying it may have been enqueued
    assert 0.25 <= elapsed < 5.0  # the server never answers: the bound is the read timeout's
    assert isinstance(caught.value, aws.NoResponseError)
    assert caught.value.outcome_unknown is True
    assert len(server.received) == 1


def test_closed_port_is_a_connect_error_with_nothing_sent() -> None:
    # GIVEN a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = sqs_client(env_for(endpoint))

    # WHEN a message is sent THEN it is a ConnectError: retryable, certainly not enqueued
    with pytest.raises(aws.ConnectError) as caught:
        client.send_message(queue_url(endpoint), "x")
    assert (caught.value.retryable, caught.value.outcome_unknown) == (True, False)
    assert endpoint.removeprefix("http://") in str(caught.value)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1 (key and certificate in one PEM file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("tls") / "server.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + certificate.public_bytes(serialization.Encoding.PEM)
    )
    return path


def tls_server_context(certificate: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    return context


def test_https_endpoint_is_verified_and_kept_alive(
    certificate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an HTTPS SQS whose certificate the client's trust store holds
    server = FakeServer(sqs_answer, tls=tls_server_context(certificate))
    monkeypatch.setattr(aws, "_ssl_context", ssl.create_default_context(cafile=str(certificate)))
    try:
        client = sqs_client(env_for(server.url))
        # WHEN two messages are sent THEN both go over one TLS connection
        for body in ("a", "b"):
            assert client.send_message(queue_url(server.url), body).message_id
        assert [(r.connection, r.nth) for r in server.received] == [(1, 1), (1, 2)]
    finally:
        server.stop()


def test_https_certificate_not_trusted_is_a_connect_error(certificate: Path) -> None:
    # GIVEN an HTTPS server with a self-signed certificate and the default trust store
    server = FakeServer(sqs_answer, tls=tls_server_context(certificate))
    try:
        client = sqs_client(env_for(server.url))
        # WHEN a message is sent THEN the handshake fails: nothing was sent
        with pytest.raises(aws.ConnectError, match="CERTIFICATE_VERIFY_FAILED") as caught:
            client.send_message(queue_url(server.url), "x")
        assert caught.value.outcome_unknown is False
        assert server.received == []
    finally:
        server.stop()


THROTTLED = {"__type": "com.amazonaws.sqs#RequestThrottled", "message": "slow down"}
KMS_THROTTLED = {"__type": "com.amazonaws.sqs#KmsThrottled"}
X_BODY_MD5 = hashlib.md5(b"x", usedforsecurity=False).hexdigest()
BAD_ANSWERS = {
    "html-502": (Answer(502, b"<html><body>Bad Gateway</body></html>"), "ServerError"),
    "empty-503": (Answer(503, b""), "ServerError"),
    "throttled": (
        json_answer(400, THROTTLED, ("x-amzn-query-error", "RequestThrottled;Sender")),
        "ThrottlingError",
    ),
    "kms-throttled": (
        json_answer(400, KMS_THROTTLED, ("x-amzn-query-error", "KMS.ThrottlingException;Sender")),
        "ThrottlingError",
    ),
    "html-200": (Answer(200, b"<html>captive portal</html>"), "ResponseError"),
    "wrong-md5": (
        json_answer(200, {"MessageId": "m", "MD5OfMessageBody": "0" * 32}),
        "ChecksumMismatchError",
    ),
    "no-md5": (json_answer(200, {"MessageId": "m"}), "ChecksumMismatchError"),
    "no-message-id": (json_answer(200, {"MD5OfMessageBody": X_BODY_MD5}), "ResponseError"),
}


@pytest.mark.parametrize("name", BAD_ANSWERS)
def test_bad_answers_are_typed_errors_after_one_attempt(
    serve: Callable[[Reply], FakeServer], name: str
) -> None:
    answer, kind = BAD_ANSWERS[name]
    server = serve(lambda _: answer)
    with pytest.raises(aws.AwsError) as caught:
        sqs_client(env_for(server.url)).send_message(queue_url(server.url), "x")
    assert type(caught.value).__name__ == kind
    assert caught.value.retryable is True
    assert caught.value.outcome_unknown is (kind != "ThrottlingError")
    assert len(server.received) == 1  # one attempt: the listener keeps the retry budget


def test_attributes_md5_mismatch_is_detected(serve: Callable[[Reply], FakeServer]) -> None:
    # GIVEN an SQS that says it stored other attributes than were sent
    def reply(received: Received) -> Answer:
        answer = json.loads(sqs_answer(received).body)
        return json_answer(200, {**answer, "MD5OfMessageAttributes": X_BODY_MD5})

    server = serve(reply)
    with pytest.raises(aws.ChecksumMismatchError, match="MD5OfMessageAttributes"):
        sqs_client(env_for(server.url)).send_message(queue_url(server.url), "x", {"path": "/a"})


def test_text_that_cannot_be_utf8_is_refused_before_sending(
    serve: Callable[[Reply], FakeServer],
) -> None:
    server = serve(sqs_answer)
    with pytest.raises(aws.ParameterValidationError):
        sqs_client(env_for(server.url)).send_message(queue_url(server.url), "lone \ud800")
    assert server.received == []


# ---- credentials: environment first, re-read on every call; then the container endpoint --------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def container_answer(key: str, expires_at: float) -> Answer:
    stamp = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {"AccessKeyId": key, "SecretAccessKey": "container-secret"}
    document.update(Token="container-token", Expiration=stamp, AccountId=ACCOUNT)
    return json_answer(200, document)


def test_environment_credentials_are_reread_when_they_change() -> None:
    env = env_for(AWS_SESSION_TOKEN="t1")
    provider = aws.CredentialProvider(env)
    first = provider.get()
    assert provider.get() is first  # unchanged: the same object, so the same cached key
    env.update(AWS_ACCESS_KEY_ID="AKID2", AWS_SECRET_ACCESS_KEY="s2", AWS_SESSION_TOKEN="t2")
    second = provider.get()
    assert (second.access_key, second.secret_key, second.token) == ("AKID2", "s2", "t2")
    del env["AWS_SESSION_TOKEN"]
    assert provider.get().token is None
    assert "s2" not in repr(second) and "t2" not in repr(second)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"AWS_ACCESS_KEY_ID": "AKID"},
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
        ),
        ({"AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS"),
        ({}, "no AWS credentials"),
        ({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.0.0.1/c"}, "plain http is allowed only"),
        ({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "file:///etc/passwd"}, "expected http"),
    ],
)
def test_unusable_credential_configuration_is_a_clear_error(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(aws.CredentialsError, match=message) as caught:
        aws.CredentialProvider(env).get()
    assert caught.value.retryable is False
    assert "s3cr3t-value" not in str(caught.value)  # names the variable, never the secret


def test_container_credentials_are_fetched_with_the_token_and_cached(
    serve: Callable[[Reply], FakeServer], tmp_path: Path
) -> None:
    # GIVEN a container endpoint whose credentials expire in an hour, and a token file
    clock = Clock(1_800_000_000.0)
    server = serve(lambda _: container_answer("ASIACONTAINER1", clock.now + 3600))
    token_file = tmp_path / "token"
    token_file.write_text("file-token")
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{server.url}/v1/credentials?id=7",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "env-token",  # the file wins, as in botocore
    }
    provider = aws.CredentialProvider(env, clock=clock)

    # WHEN credentials are asked for now and 40 minutes later
    first = provider.get()
    clock.now += 40 * 60
    again = provider.get()

    # THEN one fetch, with the file's token, served both
    assert (first.access_key, first.secret_key, first.token) == (
        "ASIACONTAINER1",
        "container-secret",
        "container-token",
    )
    assert again is first
    assert first.expires_at == pytest.approx(1_800_000_000.0 + 3600)
    (request,) = server.received
    assert (request.method, request.path) == ("GET", "/v1/credentials?id=7")
    assert request.header("Authorization") == "file-token"
    assert request.header("Accept") == "application/json"


def test_container_credentials_are_refreshed_before_they_expire(
    serve: Callable[[Reply], FakeServer],
) -> None:
    # GIVEN credentials fetched at t0 that expire an hour later
    clock = Clock(1_800_000_000.0)
    expiry = clock.now + 3600
    current = {"answer": container_answer("ASIAFIRST", expiry)}
    server = serve(lambda _: current["answer"])
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{server.url}/creds"}
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "env-token"
    provider = aws.CredentialProvider(env, clock=clock)
    first = provider.get()
    assert server.received[0].header("Authorization") == "env-token"

    # WHEN 12 minutes are left (botocore's advisory window) and the endpoint fails
    current["answer"] = Answer(500, b"down")
    clock.now = expiry - 12 * 60
    kept = provider.get()

    # THEN a refresh was tried and the old credentials are still used; with 9 minutes left
    # (the mandatory window) the failure is an error; once it answers, the new ones are used
    assert kept is first
    assert provider.fetches == 2
    clock.now = expiry - 9 * 60
    with pytest.raises(aws.CredentialsUnavailableError, match="HTTP 500") as caught:
        provider.get()
    assert caught.value.retryable is True
    current["answer"] = container_answer("ASIASECOND", clock.now + 3600)
    assert provider.get().access_key == "ASIASECOND"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Answer(200, b"{not json"), "unusable answer"),
        (json_answer(200, {"AccessKeyId": "A", "SecretAccessKey": "never-shown"}), "Token"),
        (Answer(404, b"never-shown"), "HTTP 404"),
    ],
)
def test_container_endpoint_failures_never_show_the_answer(
    serve: Callable[[Reply], FakeServer], answer: Answer, message: str
) -> None:
    server = serve(lambda _: answer)
    provider = aws.CredentialProvider({"AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url})
    with pytest.raises(aws.CredentialsUnavailableError, match=message) as caught:
        provider.get()
    assert "never-shown" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_container_token_with_a_line_break_is_refused(serve: Callable[[Reply], FakeServer]) -> None:
    server = serve(lambda _: container_answer("A", time.time() + 3600))
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url}
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "abc\r\nX-Injected: 1"
    with pytest.raises(aws.CredentialsError, match="AWS_CONTAINER_AUTHORIZATION_TOKEN"):
        aws.CredentialProvider(env).get()
    assert server.received == []


# ---- against moto's server, IAM enforced: every signature and session token is checked ---------


@dataclass(frozen=True)
class Moto:
    endpoint: str
    queue_url: str
    fifo_url: str
    role: dict[str, str]
    """Environment credentials of an assumed role allowed to send and read the parameter."""
    nobody: dict[str, str]
    """Environment credentials of a user without permissions."""
    anywhere: dict[str, str]
    """Environment credentials of a user allowed to send to and receive from any queue."""
    reader: Any
    """A boto3 SQS client with those credentials."""

    def receive(self, url: str, message_id: str) -> dict[str, Any]:
        """The message with this id, waited for with a deadline (at least once, any order)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            answer = self.reader.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            )
            for message in answer.get("Messages", []):
                if message["MessageId"] == message_id:
                    return dict(message)
        raise AssertionError(f"message {message_id} not received")


PARAMETER = "/webhook/verify-token"


def _env_keys(access_key: str, secret: str, token: str | None = None) -> dict[str, str]:
    env = {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": REGION}
    return {**env, "AWS_SESSION_TOKEN": token} if token else env


def _policy(*statements: tuple[list[str], str]) -> str:
    allow = [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in statements]
    return json.dumps({"Version": "2012-10-17", "Statement": allow})


def _provision(embedded: EmbeddedAws) -> Moto:
    """Two queues, a SecureString, a role to assume, a user without rights and one allowed on
    every queue; then IAM enforcement on."""
    endpoint = embedded.endpoint_url
    session = boto3.session.Session(
        aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap", region_name=REGION
    )
    iam, sts, sqs, ssm = clients = [
        session.client(name, endpoint_url=endpoint, config=PATIENT_CONFIG)
        for name in ("iam", "sts", "sqs", "ssm")
    ]
    queue = sqs.create_queue(QueueName="aws-client-queue")["QueueUrl"]
    fifo_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    fifo = sqs.create_queue(QueueName="aws-client-queue.fifo", Attributes=fifo_attributes)
    ssm.put_parameter(Name=PARAMETER, Value="s3cr3t-token", Type="SecureString")
    trust = {"Effect": "Allow", "Action": "sts:AssumeRole"}
    trust["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    iam.create_role(
        RoleName="listener",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )
    iam.put_role_policy(
        RoleName="listener",
        PolicyName="send",
        PolicyDocument=_policy(
            (["sqs:SendMessage"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:aws-client-*"),
            (["ssm:GetParameter"], f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/webhook/*"),
        ),
    )
    role = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/listener", RoleSessionName="l1")
    users = {}
    for user, policy in (
        ("nobody", None),
        ("anywhere", _policy((["sqs:SendMessage", "sqs:ReceiveMessage"], "*"))),
    ):
        iam.create_user(UserName=user)
        if policy:
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=policy)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        users[user] = _env_keys(key["AccessKeyId"], key["SecretAccessKey"])
    for client in clients:
        client.close()
    embedded.enforce_iam()
    anywhere = users["anywhere"]
    reader = session.client(
        "sqs",
        endpoint_url=endpoint,
        config=PATIENT_CONFIG,
        aws_access_key_id=anywhere["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=anywhere["AWS_SECRET_ACCESS_KEY"],
    )
    credentials = role["Credentials"]
    return Moto(
        endpoint=endpoint,
        queue_url=queue,
        fifo_url=fifo["QueueUrl"],
        role=_env_keys(
            *(credentials[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken"))
        ),
        nobody=users["nobody"],
        anywhere=anywhere,
        reader=reader,
    )


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    """One embedded moto, a child process as the local cloud runs it, for the whole module."""
    embedded = EmbeddedAws()
    try:
        provisioned = _provision(embedded)
        try:
            yield provisioned
        finally:
            provisioned.reader.close()
    finally:
        embedded.stop()


def test_standard_message_with_attributes_arrives_intact(moto: Moto) -> None:
    # GIVEN the role's temporary credentials and no endpoint override: the queue URL's host
    client = moto_sqs_client(dict(moto.role))
    body = '{"aspect_type": "create", "name": "Zürich ☃ 🚲"}'
    attributes: dict[str, str | bytes] = {"path": "/hook", "requestId": "r-1", "raw": b"\x00\xff"}

    # WHEN a message is sent (the client checks both MD5s moto computed)
    sent = client.send_message(moto.queue_url, body, attributes)

    # THEN it is in the queue with its body and attributes
    message = moto.receive(moto.queue_url, sent.message_id)
    assert message["Body"] == body
    assert message["MessageAttributes"] == {
        "path": {"DataType": "String", "StringValue": "/hook"},
        "requestId": {"DataType": "String", "StringValue": "r-1"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
    }
    assert sent.sequence_number is None


def test_fifo_message_keeps_its_group_and_deduplication_id(moto: Moto) -> None:
    client = moto_sqs_client(dict(moto.role))
    dedup = uuid.uuid4().hex
    sent = client.send_message(
        moto.fifo_url, "fifo", {"route": "strava"}, group_id="athlete-7", deduplication_id=dedup
    )
    assert sent.sequence_number is not None and sent.sequence_number.isdigit()
    message = moto.receive(moto.fifo_url, sent.message_id)
    assert message["Attributes"]["MessageGroupId"] == "athlete-7"
    assert message["Attributes"]["MessageDeduplicationId"] == dedup
    assert message["MessageAttributes"]["route"]["StringValue"] == "strava"


def test_secure_string_parameter_is_read_decrypted(moto: Moto) -> None:
    ssm = opened(aws.SSM(environ={**moto.role, "AWS_ENDPOINT_URL": moto.endpoint}, **MOTO_TIMEOUTS))
    parameter = ssm.get_parameter(PARAMETER)
    assert (parameter.type, parameter.value) == ("SecureString", "s3cr3t-token")
    with pytest.raises(aws.ParameterNotFoundError) as caught:
        ssm.get_parameter("/webhook/missing")
    assert caught.value.code == "ParameterNotFound"


def test_missing_queue_is_queue_does_not_exist(moto: Moto) -> None:
    # moto authorizes a queue that does not exist against "*": the role scoped to the project's
    # queues would be refused first, so a user allowed on every queue asks
    client = moto_sqs_client(dict(moto.anywhere))
    with pytest.raises(aws.QueueDoesNotExistError) as caught:
        client.send_message(moto.queue_url.replace("aws-client-queue", "aws-client-gone"), "x")
    assert (caught.value.code, caught.value.error_type) == (NON_EXISTENT, "QueueDoesNotExist")
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("nobody", "AccessDenied"),
        ("wrong-secret", "SignatureDoesNotMatch"),
        ("wrong-token", "InvalidClientTokenId"),
    ],
)
def test_refused_credentials_are_access_denied(moto: Moto, who: str, code: str) -> None:
    env = {
        "nobody": moto.nobody,
        "wrong-secret": {**moto.role, "AWS_SECRET_ACCESS_KEY": "not-the-secret"},
        "wrong-token": {**moto.role, "AWS_SESSION_TOKEN": "not-the-token"},
    }[who]
    with pytest.raises(aws.AccessDeniedError) as caught:
        moto_sqs_client(dict(env)).send_message(moto.queue_url, "x")
    assert (caught.value.code, caught.value.retryable) == (code, False)
    assert "not-the-secret" not in str(caught.value)


def test_credentials_changed_under_a_warm_client_are_used(moto: Moto) -> None:
    # GIVEN a client created while the environment held a user without permissions
    env = dict(moto.nobody)
    client = moto_sqs_client(env)
    with pytest.raises(aws.AccessDeniedError):
        client.send_message(moto.queue_url, "x")

    # WHEN the environment is given the role's credentials THEN the same client sends
    env.update(moto.role)
    sent = client.send_message(moto.queue_url, "after rotation")
    assert moto.receive(moto.queue_url, sent.message_id)["Body"] == "after rotation"


def test_container_credentials_sign_a_send(
    moto: Moto, serve: Callable[[Reply], FakeServer]
) -> None:
    # GIVEN no keys in the environment, and a container endpoint serving the role's credentials
    role = moto.role
    stamp = datetime.fromtimestamp(time.time() + 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {"AccessKeyId": role["AWS_ACCESS_KEY_ID"], "Expiration": stamp}
    document.update(SecretAccessKey=role["AWS_SECRET_ACCESS_KEY"], Token=role["AWS_SESSION_TOKEN"])
    endpoint = serve(lambda _: json_answer(200, document))
    env = {"AWS_REGION": REGION, "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{endpoint.url}/creds"}
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "pod-token"
    client = moto_sqs_client(env)

    # WHEN two messages are sent THEN both are accepted, and the endpoint was asked once
    for body in ("one", "two"):
        sent = client.send_message(moto.queue_url, body)
        assert moto.receive(moto.queue_url, sent.message_id)["Body"] == body
    assert [received.header("Authorization") for received in endpoint.received] == ["pod-token"]
