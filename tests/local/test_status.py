"""The status page without processes: what is collected, how it renders, who may post to it.

The page in a real browser on the served dev stack is tests/local/test_status_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from local import cli
from local.lambda_runtime import FunctionError, FunctionSpec, Invocation, LocalFunction
from local.logs import LogSink
from local.status import (
    DURATION_SAMPLES,
    LOG_LINES,
    MAX_LINE_CHARS,
    RECENT_INVOCATIONS,
    QueueView,
    StatusCollector,
    percentile,
    read_queues,
)
from local.status_page import (
    DEFAULT_STATUS_PORT,
    Notice,
    StatusPage,
    StatusPortError,
    render_page,
)

FIXTURES = Path(__file__).parent / "fixture_functions"


def ok(request_id: str = "r-ok", ms: float = 5.0, *, cold: bool = False, **payload: Any):
    return Invocation(
        request_id=request_id,
        duration_ms=ms,
        payload=payload or None,
        init_duration_ms=120.0 if cold else None,
    )


def failed(request_id: str = "r-err", *, timed_out: bool = False) -> Invocation:
    kind = "Sandbox.Timedout" if timed_out else "ValueError"
    return Invocation(
        request_id=request_id,
        duration_ms=30.0,
        error=FunctionError(error_type=kind, error_message="boom"),
        timed_out=timed_out,
    )


def throttled(request_id: str = "r-429") -> Invocation:
    return Invocation(
        request_id=request_id,
        duration_ms=0.0,
        throttled=True,
        error=FunctionError(error_type="TooManyRequestsException", error_message="Rate Exceeded."),
    )


def run(collector: StatusCollector, name: str, request_id: str, *output: str) -> None:
    """One invocation's lines as the runtime writes them: START, output, END + REPORT."""
    collector.record_lines(name, [f"START RequestId: {request_id} Version: $LATEST"], 1.0)
    collector.record_lines(name, list(output), 1.0)
    collector.record_lines(
        name, [f"END RequestId: {request_id}", f"REPORT RequestId: {request_id}\tDuration"], 1.0
    )


# -- collecting -----------------------------------------------------------------------------


def test_counts_follow_cloudwatch_throttles_apart_timeouts_among_errors():
    # GIVEN a collector
    collector = StatusCollector()
    # WHEN a function has two cold and warm successes, an error, a timeout and a throttle
    for invocation in (ok("a", cold=True), ok("b"), failed("c"), failed("d", timed_out=True)):
        collector.record_invocation("fn", invocation)
    collector.record_invocation("fn", throttled("e"))
    # THEN invocations leave the throttle out, errors count the timeout too
    (view,) = collector.snapshot()
    assert (view.invocations, view.errors, view.timeouts, view.throttles) == (4, 2, 1, 1)
    assert view.cold_starts == 1
    assert view.durations_ms == (5.0, 5.0, 30.0, 30.0)  # a throttle ran nothing
    # AND the table lists all five, newest first, each with its outcome
    assert [(r.request_id, r.outcome) for r in view.recent] == [
        ("e", "throttled"),
        ("d", "timeout"),
        ("c", "error"),
        ("b", "ok"),
        ("a", "ok"),
    ]
    assert view.recent[2].detail == "ValueError"


def test_the_detail_says_what_a_function_url_answered_and_what_a_batch_failed():
    collector = StatusCollector()
    collector.record_invocation("url", ok("a", statusCode=401, body="{}"))
    collector.record_invocation(
        "batch", ok("b", batchItemFailures=[{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}])
    )
    details = {view.name: view.recent[0].detail for view in collector.snapshot()}
    assert details == {"url": "HTTP 401", "batch": "2 record(s) reported failed"}


def test_every_buffer_is_bounded_and_keeps_the_newest():
    # GIVEN a collector fed far more than it keeps
    collector = StatusCollector()
    collector.register(["fn"])
    for n in range(DURATION_SAMPLES + 50):
        collector.record_invocation("fn", ok(f"r{n}", ms=float(n)))
    collector.record_lines("fn", [f"line {n}" for n in range(LOG_LINES * 3)], 1.0)
    collector.record_lines("fn", ["x" * (MAX_LINE_CHARS * 5)], 1.0)
    # THEN each buffer holds its bound, the newest entries, and the counts still count all
    (view,) = collector.snapshot()
    assert view.invocations == DURATION_SAMPLES + 50
    assert len(view.durations_ms) == DURATION_SAMPLES
    assert view.durations_ms[-1] == DURATION_SAMPLES + 49
    assert len(view.recent) == RECENT_INVOCATIONS
    assert view.recent[0].request_id == f"r{DURATION_SAMPLES + 49}"
    assert len(view.lines) == LOG_LINES
    assert view.lines[-2].text == f"line {LOG_LINES * 3 - 1}"
    assert len(view.lines[-1].text) == MAX_LINE_CHARS


def test_start_and_report_lines_tell_which_invocation_a_line_belongs_to():
    # GIVEN one invocation, then two that overlap
    collector = StatusCollector()
    run(collector, "fn", "r-1", "hello", "[local] SQS q: a note about an earlier batch")
    collector.record_lines("fn", ["START RequestId: two Version: $LATEST"], 1.0)
    collector.record_lines("fn", ["START RequestId: three Version: $LATEST"], 1.0)
    collector.record_lines("fn", ['{"message": "hi", "request_id": "three"}', "print()"], 1.0)
    collector.record_lines("fn", ["REPORT RequestId: two", "REPORT RequestId: three"], 1.0)
    collector.record_lines("fn", ["[local] SQS q: batch of 1 failed"], 1.0)
    (view,) = collector.snapshot()
    # THEN a line alone in its invocation goes with it, START to REPORT
    assert [x.text for x in view.lines_of("r-1")][1] == "hello"
    assert len(view.lines_of("r-1")) == 4
    # AND while two overlap, a line goes with the one it names, and a bare print with neither
    assert [x.text for x in view.lines_of("three")][1].startswith('{"message": "hi"')
    # (the poller's notes are about a batch that already ended)
    assert [x.text for x in view.unattributed] == [
        "[local] SQS q: a note about an earlier batch",
        "print()",
        "[local] SQS q: batch of 1 failed",
    ]


def test_percentiles_are_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_the_log_sink_tees_each_write_in_file_order(tmp_path: Path):
    # GIVEN a sink with a tee
    seen: list[tuple[str, list[str], float]] = []
    sink = LogSink(
        stream=io.StringIO(), log_dir=tmp_path, tee=lambda n, ls, t: seen.append((n, list(ls), t))
    )
    # WHEN a function writes two lines in one write, then one more
    sink.write("fn", "first\nsecond\n")
    sink.write("fn", "third")
    sink.close()
    sink.write("fn", "after close")
    # THEN the tee saw the same lines the file has, split, with the write's time; none after close
    assert [(name, lines) for name, lines, _ in seen] == [
        ("fn", ["first", "second"]),
        ("fn", ["third"]),
    ]
    assert seen[0][2] > 1.7e9
    assert (tmp_path / "fn.log").read_text().count("\n") == 3


def test_local_function_hands_each_outcome_to_its_observer(moto_endpoint: str, log_sink: LogSink):
    # GIVEN a function with reserved concurrency 0 (throttled before any worker starts)
    function = LocalFunction(
        FunctionSpec(
            name="nobody",
            code_dir=FIXTURES / "toolbox",
            handler="handler.handler",
            reserved_concurrency=0,
        ),
        endpoint_url=moto_endpoint,
        logs=log_sink,
    )
    seen: list[tuple[str, Invocation]] = []
    function.on_invocation = lambda name, invocation: seen.append((name, invocation))
    try:
        # WHEN it is invoked
        returned = function.invoke({})
    finally:
        function.close()
    # THEN the observer got the very outcome the caller got
    assert seen == [("nobody", returned)]
    assert returned.throttled


# -- rendering ------------------------------------------------------------------------------


def queue(name: str, **fields: Any) -> QueueView:
    defaults: dict[str, Any] = {
        "url": f"http://127.0.0.1:1/123456789012/{name}",
        "arn": f"arn:aws:sqs:us-east-1:123456789012:{name}",
        "visible": 0,
        "in_flight": 0,
        "delayed": 0,
    }
    return QueueView(name=name, **{**defaults, **fields})


def pipeline(dlq_visible: int = 2) -> list[QueueView]:
    main = queue(
        "work",
        visible=3,
        in_flight=1,
        dead_letter_arn="arn:aws:sqs:us-east-1:123456789012:work-dlq",
        max_receive_count=5,
        consumers=("processor",),
    )
    return [main, queue("work-dlq", visible=dlq_visible, sources=(main.url,))]


def page(collector: StatusCollector, queues: Any = None, **kwargs: Any) -> str:
    return render_page(
        collector.snapshot(),
        pipeline() if queues is None else queues,
        title="demo · dev",
        token="tok-123",
        now=1.0,
        **kwargs,
    )


def test_a_log_line_holding_markup_is_shown_as_text():
    # GIVEN a function that logged markup, under a name and request id with markup too
    collector = StatusCollector()
    name, request_id = 'fn"><img src=x>', 'r"<marquee>'
    run(collector, name, request_id, "<script>alert('x')</script> & co")
    collector.record_invocation(name, ok(request_id))
    collector.record_lines(name, ["</pre><script>unattributed()</script>"], 1.0)
    # WHEN the page is rendered
    html = page(collector)
    # THEN no markup of theirs survives: there is no script element at all, and the text shows
    assert "<script" not in html.lower()
    assert "<img" not in html and "<marquee" not in html
    assert "r&quot;&lt;marquee&gt;" in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in html
    assert "&lt;/pre&gt;&lt;script&gt;unattributed()" in html
    assert "fn&quot;&gt;&lt;img src=x&gt;" in html


def test_the_page_shows_the_counts_the_durations_and_the_lines_of_each_invocation():
    # GIVEN a listener that served three requests, one of them a cold start, one throttled
    collector = StatusCollector()
    collector.register(["listener", "processor"])
    run(collector, "listener", "r1", "handled r1")
    collector.record_invocation("listener", ok("r1", 12.5, cold=True, statusCode=200))
    collector.record_invocation("listener", ok("r2", 3.25, statusCode=200))
    collector.record_invocation("listener", throttled("r3"))
    # WHEN the page is rendered
    html = page(collector, function_urls={"listener": "http://127.0.0.1:3000/"})

    def figure(function: str, key: str) -> str:
        card = html.split(f'id="fn-{function}"')[1].split("</section>")[0]
        found = re.search(rf'data-figure="{key}"><b>([^<]*)</b>', card)
        assert found, (function, key)
        return found.group(1)

    # THEN each function shows its own figures
    assert figure("listener", "invocations") == "2"
    assert figure("listener", "throttles") == "1"
    assert figure("listener", "cold-starts") == "1"
    assert figure("listener", "p99") == "12.5 ms"
    assert figure("processor", "invocations") == "0"
    assert "No invocations yet." in html.split('id="fn-processor"')[1]
    # AND the invocation's lines, its outcome and the Function URL
    assert "handled r1" in html
    assert "ok</span> (HTTP 200)" in html
    assert "Function URL <code>http://127.0.0.1:3000/</code>" in html
    # AND it refreshes itself
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "<meta http-equiv" not in page(collector, paused=True)


def test_the_queues_show_their_counts_their_dead_letter_queue_and_a_redrive_form():
    html = page(StatusCollector())
    row = html.split('id="q-work"')[1].split("</tr>")[0]
    assert '<td class="n" data-count="visible">3</td>' in row
    assert '<td class="n" data-count="in-flight">1</td>' in row
    assert "dead-letter queue: <code>work-dlq</code> after 5 receives" in row
    assert "<code>processor</code>" in row
    dlq_row = html.split('id="q-work-dlq"')[1].split("</tr>")[0]
    assert "dead-letter queue of</b> <code>work</code>" in dlq_row
    # The form posts the page's token and both queues, and says what it does.
    assert '<form method="post" action="/redrive">' in dlq_row
    assert 'name="token" value="tok-123"' in dlq_row
    assert 'name="queue" value="http://127.0.0.1:1/123456789012/work"' in dlq_row
    assert "Redrive 2 message(s) back to work</button>" in dlq_row
    # An empty dead-letter queue has nothing to redrive.
    empty = page(StatusCollector(), pipeline(dlq_visible=0))
    assert "disabled>Redrive to work (empty)</button>" in empty


def test_an_unreadable_sqs_and_a_notice_are_shown_as_text():
    html = page(
        StatusCollector(),
        "cannot list the queues: <connection refused>",
        notice=Notice(at=1.0, ok=True, text="moved 1 message(s); ~0 left <in the DLQ>"),
    )
    assert "cannot list the queues: &lt;connection refused&gt;" in html
    assert 'class="notice good"' in html and "~0 left &lt;in the DLQ&gt;" in html


def test_the_style_sheet_is_the_one_the_content_security_policy_allows():
    # A browser drops a style whose hash the policy does not list; the page has no script.
    html = page(StatusCollector())
    css = html.split("<style>")[1].split("</style>")[0]
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    from local.status_page import _SECURITY_HEADERS

    policy = dict(_SECURITY_HEADERS)["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy


# -- reading the queues and serving ---------------------------------------------------------


@pytest.fixture
def work_queues(sqs: Any) -> Iterator[tuple[str, str]]:
    """A queue and its dead-letter queue in the session's moto server, named for this test."""
    name = f"status-{uuid.uuid4().hex[:8]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    url = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    yield url, dlq_url
    for queue_url in (url, dlq_url):
        sqs.delete_queue(QueueUrl=queue_url)


def test_queues_are_read_with_their_counts_and_linked_to_their_dead_letter_queue(
    sqs: Any, work_queues: tuple[str, str]
):
    # GIVEN two messages waiting in the queue and one in its DLQ
    url, dlq_url = work_queues
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=dlq_url, MessageBody="dead")
    # WHEN the queues are read
    queues = {q.url: q for q in read_queues(sqs, {url: ["processor"]})}
    # THEN each has its counts, the main queue names its DLQ, the DLQ its source
    main, dead = queues[url], queues[dlq_url]
    assert (main.visible, main.in_flight, dead.visible) == (2, 0, 1)
    assert main.dead_letter_arn == dead.arn and main.max_receive_count == 3
    assert main.consumers == ("processor",)
    assert dead.sources == (url,) and dead.is_dead_letter_queue
    assert not main.is_dead_letter_queue


@pytest.fixture
def status_page(sqs: Any, work_queues: tuple[str, str]) -> Iterator[StatusPage]:
    served = StatusPage(StatusCollector(), sqs=sqs, title="t", port=0)
    served.start()
    yield served
    served.stop()


def call(
    served: StatusPage, method: str, path: str, body: str = "", **headers: str
) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        headers = {"Host": f"127.0.0.1:{served.port}", **headers}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body.encode() or None, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def test_a_request_for_another_host_is_refused(status_page: StatusPage):
    # A page of another site that rebinds its name to 127.0.0.1 still sends its own Host.
    status, _, text = call(status_page, "GET", "/", Host=f"attacker.example:{status_page.port}")
    assert status == 421 and "is not it" in text
    status, headers, text = call(status_page, "GET", "/")
    assert status == 200 and "<h1>t</h1>" in text
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_redrive_moves_the_dlq_back_only_with_the_pages_token_from_the_page(
    sqs: Any, status_page: StatusPage, work_queues: tuple[str, str]
):
    # GIVEN a message in the DLQ
    url, dlq_url = work_queues
    sqs.send_message(QueueUrl=dlq_url, MessageBody="dead letter")
    own = f"http://127.0.0.1:{status_page.port}"
    form = {"queue": url, "dlq": dlq_url}
    good = urlencode({**form, "token": status_page.token})
    # WHEN the form comes without the token, with another one, or from another site
    refusals = [
        call(status_page, "POST", "/redrive", urlencode(form), Origin=own),
        call(status_page, "POST", "/redrive", urlencode({**form, "token": "guess"}), Origin=own),
        call(status_page, "POST", "/redrive", good, Origin="http://attacker.example"),
        call(status_page, "POST", "/redrive", good, **{"Sec-Fetch-Site": "cross-site"}),
        call(status_page, "POST", "/redrive", good, Referer="http://attacker.example/x"),
    ]
    # THEN each is refused and nothing moved
    assert [status for status, _, _ in refusals] == [403] * 5, refusals
    assert "token" in refusals[1][2] and "Origin" in refusals[2][2]
    assert read_counts(sqs, dlq_url) == 1
    # WHEN it comes with the token from the page itself
    status, headers, _ = call(
        status_page, "POST", "/redrive", good, Origin=own, **{"Sec-Fetch-Site": "same-origin"}
    )
    # THEN the message is back in the queue and the page says so
    assert status == 303 and headers["Location"] == "/"
    assert (read_counts(sqs, dlq_url), read_counts(sqs, url)) == (0, 1)
    assert status_page.notice is not None and status_page.notice.ok
    assert "moved 1 message(s)" in status_page.notice.text
    assert "moved 1 message(s)" in call(status_page, "GET", "/")[2]


def test_redrive_refuses_a_pair_that_is_not_a_queue_and_its_dlq(
    sqs: Any, status_page: StatusPage, work_queues: tuple[str, str]
):
    url, dlq_url = work_queues
    swapped = urlencode({"queue": dlq_url, "dlq": url, "token": status_page.token})
    status, _, text = call(status_page, "POST", "/redrive", swapped)
    assert status == 403 and "not the dead-letter queue" in text


def read_counts(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_a_taken_port_fails_clearly_or_falls_back(sqs: Any, status_page: StatusPage):
    taken = status_page.port
    strict = StatusPage(StatusCollector(), sqs=sqs, title="t", port=taken)
    with pytest.raises(StatusPortError, match=rf"port {taken} .* is taken .*--status-port"):
        strict.start()
    lenient = StatusPage(StatusCollector(), sqs=sqs, title="t", port=taken, fallback=True)
    lenient.start()
    try:
        assert lenient.port not in (taken, 0)
    finally:
        lenient.stop()


# -- the command line -----------------------------------------------------------------------


def test_up_names_the_status_page_and_passes_its_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # GIVEN a stand-in for LocalCloud that starts at once and asks to stop right away
    seen: dict[str, Any] = {}
    handlers: list[Any] = []

    class StartedCloud:
        endpoint_url = "http://127.0.0.1:4566"
        enforce_iam = True
        log_dir = Path("/tmp/logs")
        status_url = "http://127.0.0.1:3100/"

        def __init__(self, project_dir: Path, **settings: Any) -> None:
            self.project_dir = project_dir
            self.warnings: list[str] = []
            self.restored: dict[str, int] = {}
            seen.update(settings)

        def start(self) -> dict[str, Any]:
            handlers[-1](15, None)  # as if SIGTERM came during the start
            return {"listener_url": "http://127.0.0.1:3000/"}

        def stop(self) -> None:
            seen["stopped"] = True

    monkeypatch.setattr(cli, "LocalCloud", StartedCloud)
    monkeypatch.setattr(cli.signal, "signal", lambda signum, handler: handlers.append(handler))
    # WHEN `up` runs without --status-port, then with one
    assert cli.main(["up"]) == 0
    # THEN the default port is asked for, with a fallback, and the page is named
    assert (seen["status_port"], seen["status_port_fallback"]) == (DEFAULT_STATUS_PORT, True)
    assert "Status: http://127.0.0.1:3100/\n" in capsys.readouterr().out
    assert cli.main(["up", "--status-port", "0"]) == 0
    assert (seen["status_port"], seen["status_port_fallback"]) == (0, False)
    assert "Status: http://127.0.0.1:3100/\n" in capsys.readouterr().out
    # AND when the default port was taken, the line says so
    monkeypatch.setattr(StartedCloud, "status_url", "http://127.0.0.1:41234/")
    assert cli.main(["up"]) == 0
    assert "Status: http://127.0.0.1:41234/ (port 3100 was taken)\n" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["-1", "65536", "web"])
def test_a_bad_status_port_is_refused_naming_it(value: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["up", "--status-port", value])
    error = capsys.readouterr().err
    assert "--status-port" in error and value in error
