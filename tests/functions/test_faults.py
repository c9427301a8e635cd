"""The listener against a broken SQS, over real sockets on 127.0.0.1: 503 within the budget.

test_listener.py covers the same failures in-process (a fake network seam, a fake clock).
Here the listener's real client talks HTTP to small servers on 127.0.0.1, so the timeouts and
retries are the real ones, and each test measures the wall time of the handler call:

- a fake SQS answering with AWS's error responses (throttling, AccessDenied, KMS, 5xx);
- a closed port (connection refused);
- a listening socket whose backlog is full (the connect times out);
- a server that accepts and never answers (the read times out).

The documented worst case with the defaults (connect 0.2 s, read 0.3 s, 2 attempts) is ~1.05 s.
The assertions allow 1.9 s so a loaded 2-core machine does not flake, and pin the exact number
of attempts, which is what a broken budget would change. Wall times are recorded as the
"wall_seconds" user property of each test (pytest --junitxml=x.xml -o junit_family=xunit1).
"""

import base64
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest
from environments import listener_env
from factories import LambdaContext, post_event
from moto.sqs.models import Message

LoadFunction = Callable[..., Any]  # conftest.load_function
DEADLINE_SECONDS = 1.9
"""Behavioural deadline of one handler call under a fault (documented worst case ~1.05 s)."""
QUEUE_PATH = "/123456789012/async-webhook-queue"


# --- Local servers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted SQS answer: HTTP status, JSON body, headers, and an optional delay."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def sqs_error(status: int, shape: str, query_code: str | None = None) -> Reply:
    """An SQS error as AWS sends it over the JSON protocol.

    The client asks for query-compatible errors (x-amzn-query-mode: true), as botocore does, so
    SQS adds the legacy code in x-amzn-query-error, which becomes the error's code.
    """
    headers = {"x-amzn-query-error": f"{query_code};Sender"} if query_code else {}
    return Reply(status, {"__type": f"com.amazonaws.sqs#{shape}", "message": shape}, headers)


ACCEPTED = "accepted"


def accepted() -> Reply:
    """SendMessage's answer, with the MD5s SQS computes of what it was sent (moto's code does the
    arithmetic, so the listener's own check is held to an independent one)."""
    return Reply(200, {"MessageId": str(uuid.uuid4()), ACCEPTED: True})


def _stored_md5s(payload: dict[str, Any]) -> dict[str, str]:
    message = Message("x", payload.get("MessageBody", ""))
    for name, attribute in (payload.get("MessageAttributes") or {}).items():
        value = dict(attribute)
        if "BinaryValue" in value:
            value["BinaryValue"] = base64.b64decode(value["BinaryValue"])
        message.message_attributes[name] = value
    md5s = {"MD5OfMessageBody": message.body_md5}
    if message.message_attributes:
        md5s["MD5OfMessageAttributes"] = message.attribute_md5
    return md5s


class FakeSQS:
    """An HTTP server on 127.0.0.1 playing SQS's SendMessage from a script of replies.

    Requests beyond the script get the last reply. Every request is recorded (target and JSON
    body) before it is answered, so a reply that arrives too late still counts as received.
    """

    def __init__(self, script: list[Reply]) -> None:
        self.script = script
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with lock:
                    fake.requests.append((self.headers.get("x-amz-target", ""), payload))
                    reply = fake.script[min(len(fake.requests), len(fake.script)) - 1]
                if reply.delay and fake.stopping.wait(reply.delay):
                    return
                body = dict(reply.body)
                if body.pop(ACCEPTED, False):
                    body.update(_stored_md5s(payload))
                data = json.dumps(body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/x-amz-json-1.0")
                    self.send_header("content-length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (read timeout) and closed
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def sends(self) -> list[dict[str, Any]]:
        return [body for target, body in self.requests if target == "AmazonSQS.SendMessage"]

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers: every read from it times out."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.accepted: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(connection)  # held open, never read, never answered

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for connection in self.accepted:
            connection.close()
        self.listener.close()


class FullBacklog:
    """A socket on 127.0.0.1 that listens but whose accept queue is full: SYNs are dropped.

    Linux drops a SYN when the listen queue is full, so connect() hangs until its timeout: a
    connect timeout without leaving 127.0.0.1.
    """

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.fillers: list[socket.socket] = []
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # the handshake completes, or is dropped
                filler.connect(("127.0.0.1", self.port))
            self.fillers.append(filler)
        time.sleep(0.05)

    @property
    def port(self) -> int:
        port: int = self.listener.getsockname()[1]
        return port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drops_connections(self) -> bool:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.1)
        try:
            probe.connect(("127.0.0.1", self.port))
        except TimeoutError:
            return True
        except OSError:
            return False
        finally:
            probe.close()
        return False

    def stop(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.listener.close()


def closed_port_endpoint() -> str:
    """An endpoint on 127.0.0.1 where nothing listens: bind a port, then let it go."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- Fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def listener_at(
    load_function: LoadFunction, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., ModuleType]:
    """listener_at(endpoint, **env): a fresh listener whose SQS client talks to endpoint."""

    def load(endpoint: str, **env: str) -> ModuleType:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", endpoint)
        listener: ModuleType = load_function(
            "listener", listener_env(endpoint + QUEUE_PATH, **env), patient=False
        ).handler
        assert listener._sqs.endpoint(endpoint + QUEUE_PATH) == endpoint  # only 127.0.0.1
        return listener

    return load


@pytest.fixture
def fake_sqs() -> Iterator[Callable[[list[Reply]], FakeSQS]]:
    servers: list[FakeSQS] = []

    def start(script: list[Reply]) -> FakeSQS:
        servers.append(FakeSQS(script))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.stop()


@pytest.fixture
def full_backlog() -> Iterator[FullBacklog]:
    server = FullBacklog()
    if not server.drops_connections():
        server.stop()
        pytest.skip("this kernel does not drop connections to a full listen queue")
    yield server
    server.stop()


def count_attempts(listener: ModuleType) -> list[str]:
    """Every SendMessage attempt the client makes (it has no retries of its own)."""
    attempts: list[str] = []
    call = listener._sqs.call

    def record(operation: str, endpoint: str, payload: dict[str, Any]) -> Any:
        attempts.append(endpoint)
        return call(operation, endpoint, payload)

    listener._sqs.call = record
    return attempts


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]
    seconds: float
    log: list[dict[str, Any]]

    @property
    def handled(self) -> dict[str, Any]:
        [line] = [line for line in self.log if line["message"] == "request handled"]
        return line

    @property
    def retries(self) -> list[dict[str, Any]]:
        return [line for line in self.log if line["message"] == "retrying SendMessage"]


def timed_post(
    listener: ModuleType,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> Outcome:
    """POST a valid Strava-like event; wall time of the handler call, and its log lines."""
    capsys.readouterr()
    event = post_event({"object_type": "activity", "object_id": 1}, request_id="req-fault")
    started = time.perf_counter()
    response = listener.handler(event, LambdaContext(function_name="listener"))
    seconds = time.perf_counter() - started
    request.node.user_properties.append(("wall_seconds", round(seconds, 3)))
    log = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert response["headers"]["content-type"] == "application/json"
    return Outcome(response["statusCode"], json.loads(response["body"]), seconds, log)


def assert_logged_503(outcome: Outcome, attempts: int, reason: str) -> None:
    """503, an ERROR line naming the reason and the attempts, a WARNING line per retry."""
    assert outcome.status == 503
    assert set(outcome.body) == {"error"}
    handled = outcome.handled
    assert (handled["level"], handled["status"]) == ("ERROR", 503)
    assert handled["request_id"] == "req-fault"
    assert handled["reason"] == reason
    assert handled["attempts"] == attempts
    assert [line["attempt"] for line in outcome.retries] == list(range(1, attempts))
    assert all(line["reason"] == reason for line in outcome.retries)


# --- SQS answers with an error -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "code", "attempts"),
    [
        pytest.param(
            sqs_error(400, "RequestThrottled", "RequestThrottled"),
            "RequestThrottled",
            2,
            id="throttled",
        ),
        pytest.param(
            sqs_error(400, "ThrottlingException"), "ThrottlingException", 2, id="throttling json"
        ),
        pytest.param(
            sqs_error(400, "KmsThrottled", "KMS.ThrottlingException"),
            "KMS.ThrottlingException",
            2,
            id="kms throttled",
        ),
        pytest.param(
            sqs_error(500, "InternalError", "InternalError"), "InternalError", 2, id="500"
        ),
        pytest.param(
            sqs_error(503, "ServiceUnavailable", "ServiceUnavailable"),
            "ServiceUnavailable",
            2,
            id="503",
        ),
        pytest.param(
            sqs_error(403, "AccessDeniedException", "AccessDenied"),
            "AccessDenied",
            1,
            id="access denied",
        ),
        pytest.param(
            sqs_error(400, "KmsAccessDenied", "KMS.AccessDeniedException"),
            "KMS.AccessDeniedException",
            1,
            id="kms access denied",
        ),
        pytest.param(
            sqs_error(400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"),
            "AWS.SimpleQueueService.NonExistentQueue",
            1,
            id="queue gone",
        ),
    ],
)
def test_sqs_error_answers_are_503_with_the_code_logged_and_only_transient_ones_retried(
    listener_at: Callable[..., ModuleType],
    fake_sqs: Callable[[list[Reply]], FakeSQS],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    reply: Reply,
    code: str,
    attempts: int,
) -> None:
    # GIVEN an SQS endpoint answering every SendMessage with this error
    sqs = fake_sqs([reply])
    listener = listener_at(sqs.endpoint)
    # WHEN a valid request arrives
    outcome = timed_post(listener, capsys, request)
    # THEN 503 after exactly the expected SendMessage calls, the code in the log, within budget
    assert len(sqs.sends) == attempts
    assert_logged_503(outcome, attempts, f"sqs error {code}")
    assert outcome.seconds < DEADLINE_SECONDS


def test_throttled_once_then_accepted_is_200_with_the_id_sqs_gave(
    listener_at: Callable[..., ModuleType],
    fake_sqs: Callable[[list[Reply]], FakeSQS],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # GIVEN SQS throttling the first SendMessage and accepting the second
    ok = accepted()
    sqs = fake_sqs([sqs_error(400, "RequestThrottled", "RequestThrottled"), ok])
    listener = listener_at(sqs.endpoint)
    # WHEN a valid request arrives
    outcome = timed_post(listener, capsys, request)
    # THEN 200 names the message SQS accepted; the retry sent the very same message
    assert outcome.status == 200
    assert outcome.body["message_id"] == ok.body["MessageId"]
    first, second = sqs.sends
    assert first == second
    assert outcome.handled["attempts"] == 2
    assert len(outcome.retries) == 1
    assert outcome.seconds < DEADLINE_SECONDS


def test_a_read_timeout_after_sqs_took_the_message_can_queue_it_twice(
    listener_at: Callable[..., ModuleType],
    fake_sqs: Callable[[list[Reply]], FakeSQS],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN SQS receiving the first SendMessage but answering after the read timeout (1 s here,
    # and a budget that always leaves room for the retry: this test is about what a lost answer
    # means, not about the budget, which other tests pin down)
    sqs = fake_sqs([Reply(200, accepted().body, delay=2.0), accepted()])
    listener = listener_at(
        sqs.endpoint, SQS_CONNECT_TIMEOUT_SECONDS="0.05", SQS_READ_TIMEOUT_SECONDS="1.0"
    )
    monkeypatch.setattr(listener, "_SEND_BUDGET_SECONDS", 5.0)
    # WHEN a valid request arrives
    outcome = timed_post(listener, capsys, request)
    # THEN the retry succeeds (200), and SQS got the message twice: at-least-once, so the
    # processor must be idempotent (a FIFO queue's content-based deduplication drops the copy)
    assert outcome.status == 200
    assert len(sqs.sends) == 2
    assert sqs.sends[0] == sqs.sends[1]
    assert outcome.body["message_id"] == sqs.script[1].body["MessageId"]
    # AND the first attempt waited out its read timeout, the whole call stayed within the budget
    # (a loaded machine can take most of a second to answer the retry: the 1.9 s deadline of
    # the default budget is not what this test is about)
    assert 1.0 <= outcome.seconds < listener._SEND_BUDGET_SECONDS


# --- SQS cannot be reached -----------------------------------------------------------------------


def test_closed_port_is_503_at_once_after_two_attempts(
    listener_at: Callable[..., ModuleType],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # GIVEN an SQS endpoint on 127.0.0.1 where nothing listens
    listener = listener_at(closed_port_endpoint())
    attempts = count_attempts(listener)
    # WHEN a valid request arrives
    outcome = timed_post(listener, capsys, request)
    # THEN 503 after two refused connections, logged as unreachable, in well under a second
    assert len(attempts) == 2
    assert_logged_503(outcome, 2, "sqs unreachable: ConnectError")
    assert outcome.seconds < DEADLINE_SECONDS


def test_connect_timeout_is_503_after_two_attempts_within_the_budget(
    listener_at: Callable[..., ModuleType],
    full_backlog: FullBacklog,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # GIVEN an SQS endpoint that never completes a TCP handshake
    listener = listener_at(full_backlog.endpoint)
    attempts = count_attempts(listener)
    # WHEN a valid request arrives
    outcome = timed_post(listener, capsys, request)
    # THEN 503 after two connect timeouts (0.2 s each), logged
    assert len(attempts) == 2
    assert_logged_503(outcome, 2, "sqs unreachable: ConnectError")
    assert 0.4 <= outcome.seconds < DEADLINE_SECONDS


def test_server_that_never_answers_is_503_after_two_read_timeouts(
    listener_at: Callable[..., ModuleType],
    silent_server: SilentServer,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # GIVEN an SQS endpoint that accepts connections and never answers
    listener = listener_at(silent_server.endpoint)
    attempts = count_attempts(listener)
    # WHEN a valid request arrives
    outcome = timed_post(listener, capsys, request)
    # THEN 503 after two read timeouts (0.3 s each), on two connections, logged
    assert len(attempts) == 2
    assert len(silent_server.accepted) == 2
    assert_logged_503(outcome, 2, "sqs unreachable: ReadTimeoutError")
    assert 0.6 <= outcome.seconds < DEADLINE_SECONDS


def test_the_budget_caps_attempts_whatever_sqs_max_attempts_says(
    listener_at: Callable[..., ModuleType],
    silent_server: SilentServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # GIVEN 10 attempts allowed, 0.05 s connect + 0.2 s read timeouts, the jitter at its
    # maximum (0.05 s), and a server that never answers
    listener = listener_at(
        silent_server.endpoint,
        SQS_MAX_ATTEMPTS="10",
        SQS_CONNECT_TIMEOUT_SECONDS="0.05",
        SQS_READ_TIMEOUT_SECONDS="0.2",
    )
    monkeypatch.setattr(listener.random, "uniform", lambda low, high: high)
    attempts = count_attempts(listener)
    # WHEN a valid request arrives
    outcome = timed_post(listener, capsys, request)
    # THEN the 1.2 s budget allows 4 attempts: after 4 x 0.2 s reads and 3 backoffs (0.95 s), a
    # 5th attempt could end at 0.95 + 0.05 + 0.25 = 1.25 s, past the budget; 10 would take 2.45 s
    assert listener._SEND_BUDGET_SECONDS == 1.2
    assert len(attempts) == 4
    assert_logged_503(outcome, 4, "sqs unreachable: ReadTimeoutError")
    assert 0.8 <= outcome.seconds < DEADLINE_SECONDS
