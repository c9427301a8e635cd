"""The local cloud's status page: server-rendered HTML on 127.0.0.1 that refreshes itself.

`python -m local up` names it at start-up (``Status: http://127.0.0.1:3100/``). It shows what
``local/status.py`` collects: each function's counts, durations and last invocations with their
log lines, and each queue's counts with its dead-letter queue and a button that redrives it
with `python -m ops dlq redrive`'s code. Standard library only (``http.server``); every value
is escaped, since log lines and queue names are user content. See docs/design.md,
'The local cloud'.

The page is for whoever runs the stack on this machine, so a browser tab of another site must
not be able to act through it: every request must name this page's own host and port (no DNS
rebinding), and the redrive form must come back with a token drawn at each start and, where
the browser says where it comes from (``Origin``, ``Referer``, ``Sec-Fetch-Site``), from this
page.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.serving import BackgroundServer
from local.status import (
    FunctionView,
    InvocationRecord,
    LogLine,
    QueueView,
    StatusCollector,
    read_queues,
    redrive,
)
from ops.errors import OpsError

__all__ = [
    "DEFAULT_STATUS_PORT",
    "PORT_FLAG",
    "REFRESH_SECONDS",
    "Notice",
    "StatusPage",
    "StatusPortError",
    "render_page",
]

DEFAULT_STATUS_PORT = 3100
"""Next to the Function URLs (3000 and up); `local up` falls back to any free port if taken."""
PORT_FLAG = "--status-port"
"""The `python -m local up` flag that sets the port."""
REFRESH_SECONDS = 2
SHOWN_DURATIONS = 10
"""The last durations listed beside p50/p99."""
SHOWN_OTHER_LINES = 20
"""Lines of no known invocation shown per function (the newest)."""
_MAX_FORM_BYTES = 4096
_DASH = "\N{EN DASH}"
"""Where there is no value yet."""

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f5f7;
color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 24px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:18px;margin:0}header .meta{color:#b8c0cc;font-size:13px}
header a{color:#9cc3ff}main{padding:8px 24px 24px;max-width:1200px}
h2{font-size:16px;margin:20px 0 8px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px;
margin-bottom:12px}
.card h3{margin:0 0 6px;font-size:15px}.card .sub{color:#5b6472;font-size:12px}
.figures{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.figure{border:1px solid #e4e7ec;border-radius:4px;padding:4px 10px;min-width:84px}
.figure b{display:block;font-size:18px}.figure span{color:#5b6472;font-size:12px}
.figure.bad b{color:#b42318}.figure.warn b{color:#b54708}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceef2;vertical-align:top;
white-space:nowrap}td.wide{white-space:normal;width:100%}
th{color:#5b6472;font-weight:600;background:#fafbfc}td.n{text-align:right;
font-variant-numeric:tabular-nums}
code,pre{font:12px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{margin:4px 0;padding:6px 8px;background:#f6f8fa;border:1px solid #e4e7ec;border-radius:4px;
max-height:220px;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
.ok{color:#067647;font-weight:600}.error,.timeout{color:#b42318;font-weight:600}
.throttled{color:#b54708;font-weight:600}
.notice{padding:8px 12px;border-radius:4px;margin-top:12px;border:1px solid}
.notice.good{background:#ecfdf3;border-color:#abefc6}.notice.bad{background:#fef3f2;
border-color:#fecdca}
button{font:inherit;padding:4px 10px;border-radius:4px;border:1px solid #b42318;
background:#fff;color:#b42318;cursor:pointer}button:hover{background:#fef3f2}
button:disabled{border-color:#d0d5dd;color:#98a2b3;background:#fff;cursor:default}
summary{cursor:pointer;color:#344054}.muted{color:#8a93a3}
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
_SECURITY_HEADERS = (
    # No script at all; only this page's own style sheet; forms post to this page only.
    (
        "Content-Security-Policy",
        f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # `same-origin` (not `no-referrer`): the browser then sends our own Origin with the form.
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


class StatusPortError(OSError):
    """The status page's port is taken and no fallback was asked for."""


@dataclass(frozen=True, kw_only=True)
class Notice:
    """What the last action said, shown at the top of the page until the next one."""

    at: float
    ok: bool
    text: str


def _e(value: object) -> str:
    """Every value that reaches the page goes through here."""
    return escape(str(value), quote=True)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}"


def _ms(value: float | None) -> str:
    if value is None:
        return _DASH
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def _figure(label: str, value: object, tone: str = "") -> str:
    key = label.replace(" ", "-")
    return (
        f'<div class="figure {tone}" data-figure="{_e(key)}"><b>{_e(value)}</b>'
        f"<span>{_e(label)}</span></div>"
    )


def _lines_block(lines: Sequence[LogLine]) -> str:
    text = "\n".join(f"{_clock(line.at)} {line.text}" for line in lines)
    return f"<pre>{_e(text)}</pre>"


def _invocation_rows(function: FunctionView) -> str:
    if not function.recent:
        return '<p class="muted">No invocations yet.</p>'
    rows = []
    for index, record in enumerate(function.recent):
        rows.append(_invocation_row(record, function.lines_of(record.request_id), index == 0))
    return (
        "<table><thead><tr><th>time (UTC)</th><th>request id</th><th>outcome</th>"
        '<th class="n">duration</th><th class="n">cold start</th><th>log lines</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _invocation_row(record: InvocationRecord, lines: Sequence[LogLine], newest: bool) -> str:
    detail = f" ({_e(record.detail)})" if record.detail else ""
    cold = _ms(record.init_ms) if record.init_ms is not None else ""
    if lines:
        opened = " open" if newest or record.outcome in ("error", "timeout") else ""
        log = (
            f"<details{opened}><summary>{len(lines)} line(s)</summary>"
            f"{_lines_block(lines)}</details>"
        )
    else:
        log = '<span class="muted">none kept</span>'
    return (
        f"<tr><td>{_e(_clock(record.at))}</td><td><code>{_e(record.request_id)}</code></td>"
        f'<td><span class="{_e(record.outcome)}">{_e(record.outcome)}</span>{detail}</td>'
        f'<td class="n">{_e(_ms(record.duration_ms))}</td><td class="n">{_e(cold)}</td>'
        f'<td class="wide">{log}</td></tr>'
    )


def _function_card(function: FunctionView, url: str | None, polls: Sequence[str]) -> str:
    sub = []
    if url:
        sub.append(f"Function URL <code>{_e(url)}</code>")
    if polls:
        sub.append("polls " + ", ".join(f"<code>{_e(name)}</code>" for name in polls))
    last = ", ".join(f"{value:.1f}" for value in function.durations_ms[-SHOWN_DURATIONS:])
    figures = "".join(
        (
            _figure("invocations", function.invocations),
            _figure("errors", function.errors, "bad" if function.errors else ""),
            _figure("timeouts", function.timeouts, "bad" if function.timeouts else ""),
            _figure("throttles", function.throttles, "warn" if function.throttles else ""),
            _figure("cold starts", function.cold_starts),
            _figure("p50", _ms(function.p50_ms)),
            _figure("p99", _ms(function.p99_ms)),
        )
    )
    other = function.unattributed[-SHOWN_OTHER_LINES:]
    others = (
        f"<details><summary>{len(other)} other line(s) (start-up, the poller's notes, "
        f"overlapping invocations)</summary>{_lines_block(other)}</details>"
        if other
        else ""
    )
    return (
        f'<section class="card" id="fn-{_e(function.name)}"><h3>{_e(function.name)}</h3>'
        f'<div class="sub">{" · ".join(sub)}</div><div class="figures">{figures}</div>'
        f'<div class="sub">last durations (ms, newest last): {_e(last or _DASH)} · p50/p99 over '
        f"the last {len(function.durations_ms)}</div>"
        f"<h4>Last invocations</h4>{_invocation_rows(function)}{others}</section>"
    )


def _queue_rows(queues: Sequence[QueueView], token: str) -> str:
    by_arn = {queue.arn: queue for queue in queues}
    by_url = {queue.url: queue for queue in queues}
    rows = []
    for queue in queues:
        role = []
        target = by_arn.get(queue.dead_letter_arn or "")
        if target is not None:
            after = f" after {queue.max_receive_count} receives" if queue.max_receive_count else ""
            role.append(f"dead-letter queue: <code>{_e(target.name)}</code>{_e(after)}")
        elif queue.dead_letter_arn:
            role.append(f"dead-letter queue: <code>{_e(queue.dead_letter_arn)}</code>")
        forms = []
        for source_url in queue.sources:
            source = by_url[source_url]
            role.append(f"<b>dead-letter queue of</b> <code>{_e(source.name)}</code>")
            forms.append(_redrive_form(queue, source, token))
        readers = ", ".join(f"<code>{_e(name)}</code>" for name in queue.consumers)
        rows.append(
            f'<tr id="q-{_e(queue.name)}"><td><code>{_e(queue.name)}</code></td>'
            f'<td class="n" data-count="visible">{queue.visible}</td>'
            f'<td class="n" data-count="in-flight">{queue.in_flight}</td>'
            f'<td class="n" data-count="delayed">{queue.delayed}</td>'
            f'<td class="wide">{"<br>".join(role) or _DASH}</td><td>{readers or _DASH}</td>'
            f"<td>{''.join(forms)}</td></tr>"
        )
    return (
        '<table><thead><tr><th>queue</th><th class="n">visible</th><th class="n">in flight</th>'
        '<th class="n">delayed</th><th>dead letters</th><th>read by</th><th></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _redrive_form(dead_letters: QueueView, source: QueueView, token: str) -> str:
    count = dead_letters.visible
    label = (
        f"Redrive {count} message(s) back to {source.name}"
        if count
        else f"Redrive to {source.name} (empty)"
    )
    disabled = "" if count else " disabled"
    return (
        '<form method="post" action="/redrive">'
        f'<input type="hidden" name="token" value="{_e(token)}">'
        f'<input type="hidden" name="queue" value="{_e(source.url)}">'
        f'<input type="hidden" name="dlq" value="{_e(dead_letters.url)}">'
        f'<button type="submit" id="redrive-{_e(dead_letters.name)}"{disabled}>{_e(label)}'
        "</button></form>"
    )


def render_page(
    functions: Sequence[FunctionView],
    queues: Sequence[QueueView] | str,
    *,
    title: str,
    token: str,
    now: float,
    function_urls: Mapping[str, str] | None = None,
    notice: Notice | None = None,
    paused: bool = False,
) -> str:
    """The whole page; ``queues`` is a text when the embedded SQS could not be read."""
    function_urls = function_urls or {}
    polls: dict[str, list[str]] = {}
    if not isinstance(queues, str):
        for queue in queues:
            for name in queue.consumers:
                polls.setdefault(name, []).append(queue.name)
    refresh = "" if paused else f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
    toggle = (
        '<a href="/">resume refreshing</a>'
        if paused
        else f'refreshes every {REFRESH_SECONDS} s · <a href="/?pause=1">pause</a>'
    )
    banner = ""
    if notice is not None:
        tone = "good" if notice.ok else "bad"
        banner = (
            f'<div class="notice {tone}" id="notice"><b>{_e(_clock(notice.at))} UTC</b> '
            f"<pre>{_e(notice.text)}</pre></div>"
        )
    cards = "".join(
        _function_card(f, function_urls.get(f.name), polls.get(f.name, ())) for f in functions
    )
    if isinstance(queues, str):
        queue_html = f'<p class="error">{_e(queues)}</p>'
    elif queues:
        queue_html = _queue_rows(queues, token)
    else:
        queue_html = '<p class="muted">The stack declares no queue.</p>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"{refresh}<title>{_e(title)} · local status</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><span class="meta">local cloud status · updated '
        f"{_e(_clock(now))} UTC · {toggle}</span></header><main>{banner}"
        f'<h2>Queues</h2><div class="card">{queue_html}</div>'
        f"<h2>Functions</h2>{cards or '<p class=muted>No functions.</p>'}</main></body></html>"
    )


# -- the server -----------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    page: StatusPage


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalStatus"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal belongs to the functions' log lines."""

    def do_GET(self) -> None:
        page = self.server.page
        if not self._own_host():
            return
        parts = urlsplit(self.path)
        if parts.path != "/":
            self._send(404, "text/plain; charset=utf-8", b"not found\n")
            return
        paused = "pause" in parse_qs(parts.query)
        self._send(200, "text/html; charset=utf-8", page.render(paused=paused).encode())

    def do_POST(self) -> None:
        page = self.server.page
        if not self._own_host():
            return
        if urlsplit(self.path).path != "/redrive":
            self._send(404, "text/plain; charset=utf-8", b"not found\n")
            return
        refusal = page.refusal(
            origin=self.headers.get("Origin"),
            referer=self.headers.get("Referer"),
            fetch_site=self.headers.get("Sec-Fetch-Site"),
        )
        if refusal is None:
            form, refusal = self._read_form()
            if refusal is None:
                refusal = page.redrive(form)
        if refusal is not None:
            self.close_connection = True
            self._send(403, "text/plain; charset=utf-8", f"refused: {refusal}\n".encode())
            return
        # Post/redirect/get: a refresh of the page never posts the form again.
        self._send(303, "text/plain; charset=utf-8", b"see /\n", location="/")

    def _own_host(self) -> bool:
        host = self.headers.get("Host", "")
        if host in self.server.page.hosts:
            return True
        self.close_connection = True
        self._send(
            421,
            "text/plain; charset=utf-8",
            f"this is the local status page of {self.server.page.url}; Host {host!r} is not "
            "it\n".encode(),
        )
        return False

    def _read_form(self) -> tuple[dict[str, str], str | None]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return {}, "the Content-Length is not a number"
        if not 0 < length <= _MAX_FORM_BYTES:
            return {}, f"the form must be 1-{_MAX_FORM_BYTES} bytes, got {length}"
        fields = parse_qs(self.rfile.read(length).decode("utf-8", errors="replace"))
        return {name: values[0] for name, values in fields.items()}, None

    def _send(self, status: int, content_type: str, body: bytes, location: str = "") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in _SECURITY_HEADERS:
            self.send_header(name, value)
        if location:
            self.send_header("Location", location)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class StatusPage(BackgroundServer):
    """The status page of one served stack at ``http://127.0.0.1:<port>/``.

    ``port`` 0 takes any free port; with ``fallback``, a taken ``port`` falls back to any free
    one instead of failing (`local up`'s default port).
    """

    def __init__(
        self,
        collector: StatusCollector,
        *,
        sqs: Any,
        title: str,
        function_urls: Mapping[str, str] | None = None,
        consumers: Mapping[str, Sequence[str]] | None = None,
        port: int = 0,
        fallback: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__("status-page")
        self.collector = collector
        self.title = title
        self.function_urls = dict(function_urls or {})
        self.consumers = {url: tuple(names) for url, names in (consumers or {}).items()}
        self.token = secrets.token_urlsafe(24)
        """Drawn at each start: a form from an earlier run (or another site) is refused."""
        self.notice: Notice | None = None
        self._sqs = sqs
        self._port = port
        self._fallback = fallback
        self._clock = clock
        self._redrive_lock = threading.Lock()

    def _bind(self) -> _Server:
        """The server on the port asked for, or on any free one when it is taken and a
        fallback was asked for; StatusPortError when it is taken without one."""
        try:
            server = _Server(("127.0.0.1", self._port), _Handler)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            if not self._fallback:
                raise StatusPortError(
                    exc.errno,
                    f"the status page's port {self._port} on 127.0.0.1 is taken "
                    f"({PORT_FLAG} N picks another, {PORT_FLAG} 0 any free one)",
                ) from exc
            server = _Server(("127.0.0.1", 0), _Handler)
        server.page = self
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def hosts(self) -> frozenset[str]:
        """The Host headers that name this page (a browser may say localhost)."""
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    # -- what the handler asks ---------------------------------------------------------------

    def render(self, *, paused: bool = False) -> str:
        queues: Sequence[QueueView] | str
        try:
            queues = read_queues(self._sqs, self.consumers)
        except OpsError as exc:
            queues = str(exc)
        return render_page(
            self.collector.snapshot(),
            queues,
            title=self.title,
            token=self.token,
            now=self._clock(),
            function_urls=self.function_urls,
            notice=self.notice,
            paused=paused,
        )

    def refusal(
        self, *, origin: str | None, referer: str | None, fetch_site: str | None
    ) -> str | None:
        """Why a POST does not come from this page, as far as the browser tells; None if it
        may. Clients that send none of these headers (curl) still need the form's token."""
        own = {f"http://{host}" for host in self.hosts}
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return f"Sec-Fetch-Site is {fetch_site!r}, not 'same-origin'"
        if origin is not None and origin not in own:
            return f"Origin {origin!r} is not this page's"
        if origin is None and referer:
            parts = urlsplit(referer)
            if f"{parts.scheme}://{parts.netloc}" not in own:
                return "the Referer is not this page"
        return None

    def redrive(self, form: Mapping[str, str]) -> str | None:
        """Runs a redrive the form asked for; why not, when it refuses (None: it ran, its
        outcome is the notice)."""
        if not hmac.compare_digest(form.get("token", "").encode(), self.token.encode()):
            return "the form's token is not this page's (reload the page and try again)"
        queue_url, dlq_url = form.get("queue", ""), form.get("dlq", "")
        try:
            queues = read_queues(self._sqs, self.consumers)
        except OpsError as exc:
            return str(exc)
        if not any(q.url == dlq_url and queue_url in q.sources for q in queues):
            return "that queue is not the dead-letter queue of the other"
        with self._redrive_lock:  # two clicks never move the same messages at once
            ok, text = redrive(self._sqs, queue_url, dlq_url)
        self.notice = Notice(at=self._clock(), ok=ok, text=text or "nothing said")
        return None
