"""Local Lambda functions: warm worker processes that behave like Lambda execution environments.

Each declared function becomes a :class:`LocalFunction`. An invocation borrows an idle worker (or
spawns one: a cold start), sends it the event over a private socket and waits for the reply
within the function's timeout. Workers are separate interpreters (``sys.executable -I -S``) with an
environment built from scratch, so functions cannot see each other's variables, the developer's
credentials or the repository root, just as on AWS. See ``local/_worker.py`` for the protocol.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import marshal
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.logs import LogSink

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "FunctionClosedError",
    "FunctionError",
    "FunctionSpec",
    "Invocation",
    "LocalFunction",
    "RequestTooLargeError",
    "ReservedEnvironmentError",
]

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's limit for a synchronous request payload and for a response payload."""

DEFAULT_LOCAL_CONCURRENCY = 10
"""Cap for a function without reserved concurrency: AWS would allow ~1000, a laptop would not."""

INIT_TIMEOUT_SECONDS = 10.0
"""Lambda gives the init phase (imports, module-level code) 10 seconds."""

CODE_SCAN_COST_RATIO = 20
"""A code-change scan runs again only after 20x its own duration: on nearly every invoke for a
small function (a scan takes ~0.1 ms), rarely enough to stay under 5% of a core for huge trees."""

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIALOCALCLOUD000000",
    "AWS_SECRET_ACCESS_KEY": "local-cloud-dummy-secret-access-key",
    "AWS_SESSION_TOKEN": "local-cloud-dummy-session-token",
}

RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
"""Keys Lambda refuses in a function's environment (CreateFunction fails with them)."""

RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
"""Top-level packages the Lambda Python runtime provides besides the standard library."""

_WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_SYNC_MARKER = b"\x00\x1e__local_lambda_sync__\x00\n"  # keep in sync with _worker.SYNC_MARKER
_MAX_PARTIAL_LINE = 256 * 1024


class ReservedEnvironmentError(ValueError):
    """The function declares environment variables that Lambda reserves for itself."""


class RequestTooLargeError(ValueError):
    """The event is over Lambda's 6 MB synchronous payload limit (HTTP 413 on AWS)."""


class FunctionClosedError(RuntimeError):
    """``invoke`` was called after ``close``."""


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    """What the local runtime needs to know about one declared Lambda function."""

    name: str
    """The Lambda function name (log group ``/aws/lambda/<name>``)."""
    code_dir: Path
    """Folder whose contents are the package root (what would be zipped)."""
    handler: str
    """``module.function``; the module part may use dots or slashes, as Lambda allows."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """The function's declared environment variables."""
    timeout_seconds: float = 3.0
    """Declared timeout; exceeding it kills the worker."""
    memory_mb: int = 128
    """Reported to the function and in REPORT lines; not enforced locally."""
    reserved_concurrency: int | None = None
    """``None``: unreserved (capped at ``DEFAULT_LOCAL_CONCURRENCY``); ``0`` throttles all."""
    region: str = "us-east-1"
    account_id: str = "123456789012"
    architecture: str = "arm64"
    runtime: str = "python3.13"
    layer_paths: tuple[Path, ...] = ()
    """Extra import roots after ``code_dir`` (what layers would put under /opt/python)."""
    credentials: Mapping[str, str] | None = None
    """AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN of the function's execution
    role, as Lambda hands them to the runtime; ``None``: dummy credentials."""


@dataclass(frozen=True, kw_only=True)
class FunctionError:
    """An invocation error as the Lambda Invoke API reports it in the response payload."""

    error_type: str
    error_message: str
    stack_trace: tuple[str, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        """The JSON Lambda returns as payload for a failed invocation."""
        return {
            "errorMessage": self.error_message,
            "errorType": self.error_type,
            "stackTrace": list(self.stack_trace),
        }


@dataclass(frozen=True, kw_only=True)
class Invocation:
    """The outcome of one invoke: a payload, or an error (possibly a timeout or a throttle)."""

    request_id: str
    duration_ms: float
    payload: Any = None
    """The handler's return value, JSON-decoded (only meaningful when ``error`` is None)."""
    payload_json: str | None = None
    """The handler's return value exactly as the runtime serialised it."""
    error: FunctionError | None = None
    timed_out: bool = False
    throttled: bool = False
    init_duration_ms: float | None = None
    """Set on a cold start: how long the init phase (handler import) took."""

    @property
    def ok(self) -> bool:
        return self.error is None


class _WorkerGoneError(Exception):
    """The worker closed its end of the socket: it exited or was killed."""


def _runtime_site_dirs() -> list[str]:
    """Directories holding the runtime packages in this interpreter, found without importing."""
    dirs: list[str] = []
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        parent = origin.parent.parent if origin.name == "__init__.py" else origin.parent
        if str(parent) not in dirs:
            dirs.append(str(parent))
    return dirs


_SITE_DIRS_LOCK = threading.Lock()
_SITE_DIRS: list[str] | None = None


def _site_dirs() -> list[str]:
    global _SITE_DIRS
    with _SITE_DIRS_LOCK:
        if _SITE_DIRS is None:
            _SITE_DIRS = _runtime_site_dirs()
        return _SITE_DIRS


class _CodeWatcher:
    """Cheap fingerprint of every file under the code folders, to spot edits between invokes."""

    def __init__(self, roots: tuple[Path, ...]) -> None:
        self._roots = roots
        self._lock = threading.Lock()
        self._version: int | None = None
        self._scanned_at = 0.0
        self._scan_cost = 0.0

    def version(self) -> int:
        with self._lock:
            now = time.monotonic()
            interval = CODE_SCAN_COST_RATIO * self._scan_cost
            if self._version is None or now - self._scanned_at >= interval:
                self._version = self._scan()
                self._scanned_at = time.monotonic()
                self._scan_cost = self._scanned_at - now
            return self._version

    def _scan(self) -> int:
        entries: list[tuple[str, int, int]] = []
        stack = [str(root) for root in self._roots]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as it:
                    for entry in it:
                        if entry.name == "__pycache__" or entry.name.endswith(".pyc"):
                            continue
                        try:
                            if entry.is_dir():
                                stack.append(entry.path)
                            else:
                                stat = entry.stat()
                                entries.append((entry.path, stat.st_mtime_ns, stat.st_size))
                        except OSError:
                            continue  # vanished mid-scan: the next scan sees the new state
            except OSError:
                continue
        entries.sort()
        return hash(tuple(entries))


class _Worker:
    """One worker process: an execution environment serving one invocation at a time."""

    def __init__(self, fn: LocalFunction, code_version: int) -> None:
        self.fn = fn
        self.code_version = code_version
        self.log_stream = (
            time.strftime("%Y/%m/%d", time.gmtime()) + f"/[$LATEST]{secrets.token_hex(16)}"
        )
        self._sync_cond = threading.Condition()
        self._syncs_seen = 0
        self._syncs_expected = 0
        self._output_closed = False
        parent_sock, child_sock = socket.socketpair()
        self._sock = parent_sock
        config = {
            "site_dirs": _site_dirs(),
            "packages": list(RUNTIME_PACKAGES),
            "extra_paths": [str(path) for path in fn.spec.layer_paths],
        }
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",  # no PYTHON* variables, no script dir or user site on sys.path
                    "-S",  # no site-packages: RuntimePackagesFinder allows only boto3 & co.
                    "-B",  # never write __pycache__ into the function's folder
                    "-u",  # output reaches the terminal as it is printed
                    str(_WORKER_SCRIPT),
                    str(child_sock.fileno()),
                    marshal.dumps(config).hex(),
                ],
                env=fn.worker_environment(self.log_stream),
                cwd=fn.spec.code_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(child_sock.fileno(),),
                start_new_session=True,  # Ctrl-C goes to the CLI, and killpg reaches grandchildren
            )
        except OSError:
            parent_sock.close()
            raise
        finally:
            child_sock.close()
        self._reader = threading.Thread(
            target=self._pump_output, name=f"lambda-output-{fn.name}-{self.proc.pid}", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, message: bytes) -> None:
        self._sock.settimeout(10.0)  # an idle worker is always reading; this only guards bugs
        self._sock.sendall(len(message).to_bytes(4, "big") + message)

    def receive(self, timeout: float) -> dict[str, Any]:
        """Next frame from the worker; TimeoutError after ``timeout`` s, _WorkerGoneError on EOF."""
        deadline = time.monotonic() + timeout
        header = self._read_exactly(4, deadline)
        body = self._read_exactly(int.from_bytes(header, "big"), deadline)
        try:
            message: dict[str, Any] = marshal.loads(body)  # noqa: S302 - our worker, same interpreter
        except (EOFError, ValueError, TypeError) as exc:
            raise _WorkerGoneError("unreadable frame from the worker") from exc
        return message

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        while size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(min(size, 1 << 20))
            except ConnectionError as exc:
                raise _WorkerGoneError from exc
            if not chunk:
                raise _WorkerGoneError
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def expect_sync(self) -> None:
        """Called before a reply is awaited: one more sync marker will come on stdout."""
        with self._sync_cond:
            self._syncs_expected += 1

    def wait_for_output(self, timeout: float = 1.0) -> None:
        """Let the output reader catch up so START/output/END stay in order."""
        with self._sync_cond:
            self._sync_cond.wait_for(
                lambda: self._output_closed or self._syncs_seen >= self._syncs_expected,
                timeout=timeout,
            )

    def exit_description(self) -> str:
        """Lambda's wording for how the runtime exited (``exit status 1``, ``signal: killed``)."""
        try:
            code = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return "unknown"
        if code >= 0:
            return f"exit status {code}"
        try:
            name = signal.Signals(-code).name
        except ValueError:
            return f"signal: {-code}"
        names = {"SIGSEGV": "segmentation fault", "SIGKILL": "killed", "SIGABRT": "aborted"}
        return f"signal: {names.get(name, name.lower())}"

    def kill(self) -> None:
        """Kill the worker and everything it started; idempotent."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5.0)
        self._sock.close()
        self._reader.join(timeout=1.0)

    def _pump_output(self) -> None:
        """Forward the function's stdout/stderr to the log sink, line by line."""
        stream = self.proc.stdout
        assert stream is not None
        fd = stream.fileno()
        buffer = b""
        try:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                buffer += chunk
                while (index := buffer.find(_SYNC_MARKER)) >= 0:
                    self._emit(buffer[:index])
                    buffer = buffer[index + len(_SYNC_MARKER) :]
                    with self._sync_cond:
                        self._syncs_seen += 1
                        self._sync_cond.notify_all()
                newline = buffer.rfind(b"\n")
                if newline >= 0:
                    self._emit(buffer[: newline + 1])
                    buffer = buffer[newline + 1 :]
                elif len(buffer) > _MAX_PARTIAL_LINE:
                    self._emit(buffer)
                    buffer = b""
            self._emit(buffer)
        finally:
            stream.close()
            with self._sync_cond:
                self._output_closed = True
                self._sync_cond.notify_all()

    def _emit(self, data: bytes) -> None:
        if data:
            self.fn.logs.write(self.fn.name, data.decode("utf-8", errors="replace"))


class LocalFunction:
    """One declared Lambda function, served by a pool of warm worker processes.

    ``invoke`` is blocking and thread-safe: each concurrent invocation uses its own worker, up to
    the concurrency limit, beyond which invocations are throttled as Lambda does (429).
    """

    def __init__(self, spec: FunctionSpec, *, endpoint_url: str, logs: LogSink) -> None:
        reserved = sorted(RESERVED_ENVIRONMENT_KEYS.intersection(spec.environment))
        if reserved:
            raise ReservedEnvironmentError(
                f"function {spec.name!r}: environment variables {', '.join(reserved)} are "
                "reserved by Lambda and cannot be set"
            )
        if not spec.code_dir.is_dir():
            raise FileNotFoundError(f"function {spec.name!r}: code_dir {spec.code_dir} not found")
        # Absolute paths: the worker runs with cwd=code_dir, where a relative path means nothing.
        self.spec = dataclasses.replace(
            spec,
            code_dir=spec.code_dir.resolve(),
            layer_paths=tuple(path.resolve() for path in spec.layer_paths),
        )
        spec = self.spec
        self.logs = logs
        self.endpoint_url = endpoint_url
        self.arn = f"arn:aws:lambda:{spec.region}:{spec.account_id}:function:{spec.name}"
        self.concurrency_limit = (
            DEFAULT_LOCAL_CONCURRENCY
            if spec.reserved_concurrency is None
            else spec.reserved_concurrency
        )
        self._watcher = _CodeWatcher((spec.code_dir, *spec.layer_paths))
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._in_flight = 0
        self._closed = False

    @property
    def name(self) -> str:
        return self.spec.name

    def worker_pids(self) -> list[int]:
        """PIDs of the live workers (warm or busy); for tests and diagnostics."""
        with self._lock:
            return sorted(worker.pid for worker in self._workers if worker.alive)

    def worker_environment(self, log_stream: str) -> dict[str, str]:
        """The environment a worker starts with: built from scratch, never inherited."""
        spec = self.spec
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
        }
        env.update(spec.environment)
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "_HANDLER": spec.handler,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                # Keep the developer's ~/.aws config and credentials out of reach.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                **(spec.credentials or DUMMY_CREDENTIALS),
            }
        )
        return env

    def invoke(self, event: Any, *, request_id: str | None = None) -> Invocation:
        """Run the handler on ``event`` (RequestResponse invocation); blocks until it is done.

        Raises RequestTooLargeError for an event over 6 MB and FunctionClosedError after close().
        """
        request_id = request_id or str(uuid.uuid4())
        event_json = json.dumps(event)
        if len(event_json.encode()) > MAX_PAYLOAD_BYTES:
            raise RequestTooLargeError(
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the Invoke operation"
            )
        with self._lock:
            if self._closed:
                raise FunctionClosedError(f"function {self.name!r} is closed")
            if self._in_flight >= self.concurrency_limit:
                return Invocation(
                    request_id=request_id,
                    duration_ms=0.0,
                    throttled=True,
                    error=FunctionError(
                        error_type="TooManyRequestsException", error_message="Rate Exceeded."
                    ),
                )
            self._in_flight += 1
            worker = self._idle.pop() if self._idle else None  # most recently used: warmest
        try:
            return self._run(worker, request_id, event_json)
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        """Kill every worker, idle or busy; idempotent. Busy invocations end with an error."""
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
            self._idle.clear()
        for worker in workers:
            worker.kill()

    def __enter__(self) -> LocalFunction:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _run(self, worker: _Worker | None, request_id: str, event_json: str) -> Invocation:
        version = self._watcher.version()
        if worker is not None and not worker.alive:
            self._discard(worker)  # died while idle (e.g. a background thread called os._exit)
            worker = None
        if worker is not None and worker.code_version != version:
            self._retire_stale(worker, version)
            worker = None
        init_ms: float | None = None
        if worker is None:
            worker, failure, init_ms = self._cold_start(version, request_id)
            if failure is not None:
                return failure
        assert worker is not None
        return self._dispatch(worker, request_id, event_json, init_ms)

    def _retire_stale(self, worker: _Worker, version: int) -> None:
        with self._lock:
            stale = [worker] + [w for w in self._idle if w.code_version != version]
            self._idle = [w for w in self._idle if w.code_version == version]
            for w in stale:
                self._workers.discard(w)
        self.logs.write(
            self.name,
            f"[local] code changed under {self.spec.code_dir}; "
            f"replacing {len(stale)} warm worker(s)",
        )
        for w in stale:
            w.kill()

    def _cold_start(
        self, version: int, request_id: str
    ) -> tuple[_Worker | None, Invocation | None, float | None]:
        started = time.perf_counter()
        try:
            worker = _Worker(self, version)
        except OSError as exc:  # e.g. out of processes or file descriptors
            error = FunctionError(
                error_type="ServiceException",
                error_message=f"local worker for {self.name!r} could not start: {exc}",
            )
            self.logs.write(self.name, f"[local] {error.error_message}")
            return None, self._failed(request_id, started, error), None
        with self._lock:
            closed = self._closed
            if not closed:
                self._workers.add(worker)
        if closed:
            worker.kill()
            raise FunctionClosedError(f"function {self.name!r} is closed")
        worker.expect_sync()
        try:
            message = worker.receive(INIT_TIMEOUT_SECONDS)
        except TimeoutError:
            self._discard(worker)
            error = FunctionError(
                error_type="Sandbox.Timedout",
                error_message=f"RequestId: {request_id} Error: Init phase timed out after "
                f"{INIT_TIMEOUT_SECONDS:.2f} seconds",
            )
            self.logs.write(self.name, error.error_message)
            return None, self._failed(request_id, started, error, timed_out=True), None
        except _WorkerGoneError:
            error = self._exit_error(worker, request_id)
            self._discard(worker)
            return None, self._failed(request_id, started, error), None
        worker.wait_for_output()
        init_ms = float(message.get("init_ms", (time.perf_counter() - started) * 1000))
        if message.get("op") != "ready":
            # Lambda resets the environment after an init error; the next invoke inits again.
            self._discard(worker)
            raw = message.get("error", {})
            error = FunctionError(
                error_type=str(raw.get("errorType", "Runtime.Unknown")),
                error_message=str(raw.get("errorMessage", "")),
                stack_trace=tuple(raw.get("stackTrace", [])),
            )
            self.logs.write(
                self.name,
                f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: error\t"
                f"Error Type: {error.error_type}",
            )
            return None, self._failed(request_id, started, error, init_ms=init_ms), None
        return worker, None, init_ms

    def _dispatch(
        self, worker: _Worker, request_id: str, event_json: str, init_ms: float | None
    ) -> Invocation:
        spec = self.spec
        self.logs.write(self.name, f"START RequestId: {request_id} Version: $LATEST")
        started = time.perf_counter()
        deadline_ms = int(time.time() * 1000 + spec.timeout_seconds * 1000)
        frame = marshal.dumps(
            {
                "op": "invoke",
                "id": request_id,
                "deadline_ms": deadline_ms,
                "arn": self.arn,
                "trace_id": _trace_id(),
                # What the function receives is what JSON can carry (tuples become lists...).
                "event": json.loads(event_json),
            }
        )
        worker.expect_sync()
        try:
            worker.send(frame)
            reply = worker.receive(spec.timeout_seconds)
        except TimeoutError:
            self._discard(worker)
            message = f"Task timed out after {spec.timeout_seconds:.2f} seconds"
            self.logs.write(self.name, f"{_log_timestamp()} {request_id} {message}")
            error = FunctionError(
                error_type="Sandbox.Timedout",
                error_message=f"RequestId: {request_id} Error: {message}",
            )
            self._log_report(request_id, started, init_ms, None, status="timeout", error=error)
            return self._failed(request_id, started, error, timed_out=True, init_ms=init_ms)
        except (_WorkerGoneError, OSError):
            worker.wait_for_output()
            error = self._exit_error(worker, request_id)
            self._discard(worker)
            self.logs.write(self.name, f"{error.error_message}\n{error.error_type}")
            self._log_report(request_id, started, init_ms, None, status="error", error=error)
            return self._failed(request_id, started, error, init_ms=init_ms)
        duration_ms = (time.perf_counter() - started) * 1000
        worker.wait_for_output()
        self._release(worker)
        max_rss_kb = reply.get("max_rss_kb")
        outcome = self._outcome(reply)
        if isinstance(outcome, FunctionError):
            self._log_report(request_id, started, init_ms, max_rss_kb, error=outcome)
            return Invocation(
                request_id=request_id,
                duration_ms=duration_ms,
                error=outcome,
                init_duration_ms=init_ms,
            )
        self._log_report(request_id, started, init_ms, max_rss_kb)
        return Invocation(
            request_id=request_id,
            duration_ms=duration_ms,
            payload=json.loads(outcome),
            payload_json=outcome,
            init_duration_ms=init_ms,
        )

    def _outcome(self, reply: dict[str, Any]) -> str | FunctionError:
        """The JSON payload of a reply, or the error it amounts to (as Lambda would report it)."""
        if reply.get("op") == "error":
            raw = reply.get("error", {})
            return FunctionError(
                error_type=str(raw.get("errorType", "")),
                error_message=str(raw.get("errorMessage", "")),
                stack_trace=tuple(raw.get("stackTrace", [])),
            )
        if "payload" in reply:
            payload_json = str(reply["payload"])
        else:
            try:
                payload_json = json.dumps(reply.get("value"))
            except (TypeError, ValueError, RecursionError) as exc:
                error = FunctionError(
                    error_type="Runtime.MarshalError",
                    error_message=f"Unable to marshal response: {exc}",
                )
                self.logs.write(self.name, f"[ERROR] {error.error_type}: {error.error_message}")
                return error
        if len(payload_json.encode()) > MAX_PAYLOAD_BYTES:
            return FunctionError(
                error_type="Function.ResponseSizeTooLarge",
                error_message="Response payload size exceeded maximum allowed payload size "
                f"({MAX_PAYLOAD_BYTES} bytes).",
            )
        return payload_json

    def _release(self, worker: _Worker) -> None:
        """Return a healthy worker to the idle pool (or kill it if we are closing)."""
        with self._lock:
            if not self._closed and worker in self._workers:
                self._idle.append(worker)
                return
        worker.kill()

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
        worker.kill()

    def _exit_error(self, worker: _Worker, request_id: str) -> FunctionError:
        description = worker.exit_description()
        return FunctionError(
            error_type="Runtime.ExitError",
            error_message=f"RequestId: {request_id} Error: Runtime exited with error: "
            f"{description}",
        )

    def _failed(
        self,
        request_id: str,
        started: float,
        error: FunctionError,
        *,
        timed_out: bool = False,
        init_ms: float | None = None,
    ) -> Invocation:
        return Invocation(
            request_id=request_id,
            duration_ms=(time.perf_counter() - started) * 1000,
            error=error,
            timed_out=timed_out,
            init_duration_ms=init_ms,
        )

    def _log_report(
        self,
        request_id: str,
        started: float,
        init_ms: float | None,
        max_rss_kb: int | None,
        *,
        status: str | None = None,
        error: FunctionError | None = None,
    ) -> None:
        duration = (time.perf_counter() - started) * 1000
        parts = [
            f"REPORT RequestId: {request_id}",
            f"Duration: {duration:.2f} ms",
            f"Billed Duration: {int(duration) + 1} ms",
            f"Memory Size: {self.spec.memory_mb} MB",
        ]
        if max_rss_kb is not None:
            parts.append(f"Max Memory Used: {int(max_rss_kb) // 1024} MB")
        if init_ms is not None:
            parts.append(f"Init Duration: {init_ms:.2f} ms")
        if status is not None:
            parts.append(f"Status: {status}")
            if error is not None:
                parts.append(f"Error Type: {error.error_type}")
        self.logs.write(self.name, f"END RequestId: {request_id}\n" + "\t".join(parts))


def _trace_id() -> str:
    """An X-Ray style trace header, as Lambda sets ``_X_AMZN_TRACE_ID`` per invocation."""
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Sampled=0"


def _log_timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
