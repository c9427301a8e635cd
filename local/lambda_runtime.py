"""Local Lambda functions: warm worker processes that behave like Lambda execution environments.

Each declared function becomes a :class:`LocalFunction`. An invocation is admitted or throttled
by the account's concurrency (``local/concurrency.py``), borrows an idle worker of its function
or a slot to start one (``local/worker_pool.py``, which may wait for the machine's capacity),
sends it the event over a private socket and waits for the reply within the function's timeout
(``local/worker_process.py``), and logs what Lambda would (``local/lambda_log.py``). Workers are
separate interpreters (``sys.executable -I -S``) with an environment built from scratch, so
functions cannot see each other's variables, the developer's credentials or the repository
root, just as on AWS. This module is the public face of those parts.
See docs/design.md, 'The local cloud'.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import lambda_log, shapes
from local.code_watcher import CodeWatcher
from local.concurrency import ConcurrencyAccount
from local.logs import LogSink, _utc_timestamp
from local.worker_pool import (
    CAPACITY_FLAG,
    CapacityTimeoutError,
    Lease,
    MachineCapacity,
    PoolClosedError,
    WorkerPool,
)
from local.worker_process import RUNTIME_PACKAGES, WorkerGoneError, WorkerProcess

__all__ = [
    "DUMMY_CREDENTIALS",
    "MAX_PAYLOAD_BYTES",
    "RUNTIME_PACKAGES",
    "ConcurrencyAccount",
    "FunctionClosedError",
    "FunctionError",
    "FunctionSpec",
    "Invocation",
    "LocalFunction",
    "MachineCapacity",
    "RequestTooLargeError",
    "ReservedEnvironmentError",
]

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's limit for a synchronous request payload and for a response payload."""

INIT_TIMEOUT_SECONDS = 10.0
"""Lambda gives the init phase (imports, module-level code) 10 seconds."""

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
    """``None``: shares the account's unreserved concurrency; ``0`` throttles every invocation."""
    region: str = "us-east-1"
    account_id: str = "123456789012"
    architecture: str = "arm64"
    runtime: str = "python3.13"
    layer_paths: tuple[Path, ...] = ()
    """Extra import roots after ``code_dir`` (what layers would put under /opt/python)."""
    log_format: str = "Text"
    """The function's log format (loggingConfig.logFormat): ``JSON`` or ``Text``."""
    application_log_level: str | None = None
    """With the JSON format, its application log level, which Lambda hands the runtime as
    AWS_LAMBDA_LOG_LEVEL (handlers and Powertools filter their own lines by it)."""
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


class LocalFunction:
    """One declared Lambda function, served by a pool of warm worker processes.

    ``invoke`` is blocking and thread-safe: each concurrent invocation uses its own worker.
    Invocations past the function's reserved concurrency or the account's limit are throttled
    as Lambda does (429); past what the machine can run at once, they wait for a worker.
    Functions of one local cloud share one ``account`` and one ``machine``; a function created
    alone gets its own.
    """

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        endpoint_url: str,
        logs: LogSink,
        account: ConcurrencyAccount | None = None,
        machine: MachineCapacity | None = None,
    ) -> None:
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
        self.account = account or ConcurrencyAccount()
        self.machine = machine or MachineCapacity()
        self.account.register(spec.name, spec.reserved_concurrency)
        self._pool: WorkerPool[WorkerProcess] = self.machine.pool(spec.name)
        # Only the function's own folder: its bundled packages and layers sit in folders named
        # by what they hold (a change is a new folder and a new deploy), and scanning their
        # hundreds of files would cost most invocations a millisecond.
        self._watcher = CodeWatcher((spec.code_dir,))
        self._closed = threading.Event()
        self.on_invocation: Callable[[str, Invocation], None] | None = None
        """Called with (name, outcome) of every invocation, throttles included; e.g. the
        status page's collector (``local/status.py``). It runs on the invoking thread: quick."""

    @property
    def name(self) -> str:
        return self.spec.name

    def worker_pids(self) -> list[int]:
        """PIDs of the live workers (warm or busy); for tests and diagnostics."""
        return sorted(worker.pid for worker in self._pool.workers() if worker.alive)

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
                **_log_variables(spec),
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
        if self._closed.is_set():
            raise FunctionClosedError(f"function {self.name!r} is closed")
        if not self.account.try_start(self.name):
            invocation = Invocation(
                request_id=request_id,
                duration_ms=0.0,
                throttled=True,
                error=FunctionError(
                    error_type="TooManyRequestsException", error_message="Rate Exceeded."
                ),
            )
        else:
            try:
                invocation = self._run(request_id, event_json)
            finally:
                self.account.finish(self.name)
        observer = self.on_invocation
        if observer is not None:
            observer(self.name, invocation)
        return invocation

    def close(self) -> None:
        """Kill every worker, idle or busy; idempotent. Busy invocations end with an error."""
        if self._closed.is_set():
            return
        self._closed.set()
        for worker in self._pool.close():
            worker.kill()
        self.account.unregister(self.name)

    def __enter__(self) -> LocalFunction:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _run(self, request_id: str, event_json: str) -> Invocation:
        version = self._watcher.version()
        started = time.perf_counter()
        try:
            lease = self._pool.checkout(version, timeout=self.spec.timeout_seconds)
        except PoolClosedError as exc:
            raise FunctionClosedError(f"function {self.name!r} is closed") from exc
        except CapacityTimeoutError as exc:
            return self._no_capacity(request_id, started, exc)
        self._dispose(lease)
        worker = lease.worker
        init_ms: float | None = None
        if worker is None:
            worker, failure, init_ms = self._cold_start(version, request_id)
            if failure is not None:
                return failure
        assert worker is not None
        return self._dispatch(worker, request_id, event_json, init_ms)

    def _dispose(self, lease: Lease[WorkerProcess]) -> None:
        """Kill what the pool took out to serve this invocation, and say why where it matters."""
        if lease.stale:
            self.logs.write(
                self.name, lambda_log.code_changed_line(self.spec.code_dir, len(lease.stale))
            )
        for name, _worker in lease.retired:
            self.logs.write(
                name,
                f"[local] an idle worker was retired to make room for {self.name}: all "
                f"{self.machine.capacity} worker processes were in use ({CAPACITY_FLAG} N "
                "raises the capacity)",
            )
        for worker in (*lease.stale, *lease.dead, *(w for _, w in lease.retired)):
            worker.kill()

    def _no_capacity(
        self, request_id: str, started: float, exc: CapacityTimeoutError
    ) -> Invocation:
        """Fails like a timeout: AWS would have run it, this machine had no worker free."""
        timeout = self.spec.timeout_seconds
        self.logs.write(
            self.name,
            lambda_log.capacity_exhausted_line(request_id, timeout, exc.capacity, CAPACITY_FLAG),
        )
        return self._failed(request_id, started, self._timed_out(request_id), timed_out=True)

    def _timed_out(self, request_id: str) -> FunctionError:
        """Logs Lambda's timeout line; the error an invocation that ran out of time returns."""
        timeout = self.spec.timeout_seconds
        self.logs.write(
            self.name, lambda_log.timeout_line(_utc_timestamp(time.time()), request_id, timeout)
        )
        message = lambda_log.task_timed_out_message(timeout)
        return FunctionError(
            error_type="Sandbox.Timedout", error_message=f"RequestId: {request_id} Error: {message}"
        )

    def _cold_start(
        self, version: int, request_id: str
    ) -> tuple[WorkerProcess | None, Invocation | None, float | None]:
        started = time.perf_counter()
        log_stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[$LATEST]{secrets.token_hex(16)}"
        try:
            worker = WorkerProcess(
                name=self.name,
                env=self.worker_environment(log_stream),
                cwd=self.spec.code_dir,
                extra_paths=self.spec.layer_paths,
                emit=self._emit,
            )
        except OSError as exc:  # e.g. out of processes or file descriptors
            self._pool.abandon()
            error = FunctionError(
                error_type="ServiceException",
                error_message=f"local worker for {self.name!r} could not start: {exc}",
            )
            self.logs.write(self.name, f"[local] {error.error_message}")
            return None, self._failed(request_id, started, error), None
        except BaseException:
            self._pool.abandon()
            raise
        if not self._pool.started(worker, version):
            worker.kill()
            raise FunctionClosedError(f"function {self.name!r} is closed")
        worker.output.expect_sync()
        try:
            message = worker.receive(INIT_TIMEOUT_SECONDS)
        except TimeoutError:
            self._discard(worker)
            error = FunctionError(
                error_type="Sandbox.Timedout",
                error_message=lambda_log.init_timed_out_message(request_id, INIT_TIMEOUT_SECONDS),
            )
            self.logs.write(self.name, error.error_message)
            return None, self._failed(request_id, started, error, timed_out=True), None
        except WorkerGoneError:
            error = self._exit_error(worker, request_id)
            self._discard(worker)
            return None, self._failed(request_id, started, error), None
        worker.output.wait_for_sync()
        init_ms = float(message.get("init_ms", (time.perf_counter() - started) * 1000))
        if message.get("op") != "ready":
            # Lambda resets the environment after an init error; the next invoke inits again.
            self._discard(worker)
            error = _error_from(message.get("error", {}), default_type="Runtime.Unknown")
            self.logs.write(self.name, lambda_log.init_report_line(init_ms, error.error_type))
            return None, self._failed(request_id, started, error, init_ms=init_ms), None
        return worker, None, init_ms

    def _dispatch(
        self, worker: WorkerProcess, request_id: str, event_json: str, init_ms: float | None
    ) -> Invocation:
        spec = self.spec
        self.logs.write(self.name, lambda_log.start_line(request_id))
        started = time.perf_counter()
        deadline_ms = int(time.time() * 1000 + spec.timeout_seconds * 1000)
        frame = {
            "op": "invoke",
            "id": request_id,
            "deadline_ms": deadline_ms,
            "arn": self.arn,
            "trace_id": shapes.trace_id(int(time.time() * 1000)) + ";Sampled=0",
            # What the function receives is what JSON can carry (tuples become lists...).
            "event": json.loads(event_json),
        }
        worker.output.expect_sync()
        try:
            worker.send(frame)
            reply = worker.receive(spec.timeout_seconds)
        except TimeoutError:
            self._discard(worker)
            error = self._timed_out(request_id)
            self._log_report(request_id, started, init_ms, None, status="timeout", error=error)
            return self._failed(request_id, started, error, timed_out=True, init_ms=init_ms)
        except (WorkerGoneError, OSError):
            worker.output.wait_for_sync()
            error = self._exit_error(worker, request_id)
            self._discard(worker)
            self.logs.write(self.name, f"{error.error_message}\n{error.error_type}")
            self._log_report(request_id, started, init_ms, None, status="error", error=error)
            return self._failed(request_id, started, error, init_ms=init_ms)
        duration_ms = (time.perf_counter() - started) * 1000
        worker.output.wait_for_sync()
        if not self._pool.release(worker):
            worker.kill()
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
            return _error_from(reply.get("error", {}), default_type="")
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

    def _emit(self, text: str) -> None:
        self.logs.write(self.name, text)

    def _discard(self, worker: WorkerProcess) -> None:
        self._pool.discard(worker)
        worker.kill()

    def _exit_error(self, worker: WorkerProcess, request_id: str) -> FunctionError:
        return FunctionError(
            error_type="Runtime.ExitError",
            error_message=lambda_log.runtime_exit_message(request_id, worker.exit_description()),
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
        self.logs.write(
            self.name,
            lambda_log.end_and_report_lines(
                request_id,
                duration_ms=(time.perf_counter() - started) * 1000,
                memory_mb=self.spec.memory_mb,
                max_rss_kb=max_rss_kb,
                init_ms=init_ms,
                status=status,
                error_type=error.error_type if error is not None and status else None,
            ),
        )


def _error_from(raw: Any, *, default_type: str) -> FunctionError:
    """A FunctionError from the worker's ``{errorType, errorMessage, stackTrace}``."""
    raw = raw if isinstance(raw, dict) else {}
    return FunctionError(
        error_type=str(raw.get("errorType", default_type)),
        error_message=str(raw.get("errorMessage", "")),
        stack_trace=tuple(raw.get("stackTrace", [])),
    )


def _log_variables(spec: FunctionSpec) -> dict[str, str]:
    """What Lambda tells a JSON-format function about its logging (advanced logging controls)."""
    if spec.log_format != "JSON":
        return {}
    return {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": spec.application_log_level or "INFO",
    }
