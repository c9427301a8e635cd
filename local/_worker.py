"""Bootstrap of one local Lambda execution environment (run as a script, never imported).

It plays the part of the Lambda Python runtime (awslambdaric's bootstrap): it imports the
handler once (the init phase), then serves invocations one at a time over a private socket, so
module-level state stays warm between invocations exactly as in a Lambda sandbox.

Startup latency is measured, so this file imports nothing that is not built in or frozen: the
protocol uses ``marshal``; ``json`` (with ``re``, ``enum``...: ~5 ms), ``traceback`` and ``logging``
load only when a function needs them, and ``typing`` never at runtime.

Protocol (parent <-> worker), on the socket whose fd is ``argv[1]``; the function's stdout and
stderr stay free for its own output. Every frame is a 4-byte big-endian length + a ``marshal``
blob of plain dicts (both ends run the same interpreter):

* worker -> parent, once: ``{"op": "ready", "init_ms": float}`` or
  ``{"op": "init_error", "init_ms": float, "error": {errorType, errorMessage, stackTrace}}``
* parent -> worker: ``{"op": "invoke", "id": str, "deadline_ms": int, "arn": str,
  "trace_id": str, "event": <JSON-decoded event>}``
* worker -> parent: ``{"op": "result", "value": <return value>}`` when marshal can carry it
  (the parent then JSON-encodes it, with Lambda's rules), else ``{"op": "result", "payload":
  "<json text>"}`` encoded here; or ``{"op": "error", "error": {...}}``. Replies also carry
  ``max_rss_kb``.

``argv[2]`` is the hex of a marshal'd config: ``site_dirs`` and ``packages`` (what the runtime
provides from site-packages), ``extra_paths`` (layers) and ``sync_marker``. Before each reply the
worker flushes its output and writes the sync marker to fd 1, so the parent can print START /
function output / END in order. EOF on the socket means "exit now". The parent's half of the
protocol is ``local/worker_process.py``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import marshal
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~5 ms of cold start; mypy still sees the names.
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"


class _State:
    """The request id the Lambda log format stamps on each ``logging`` record, and the marker
    the parent gave us to write before each reply."""

    request_id = ""
    sync_marker = b""


class FaultError(Exception):
    """A runtime-level failure with Lambda's own error type (``Runtime.ImportModuleError``...)."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


class CognitoIdentity:
    """Always empty for Function URL and SQS invocations, as on Lambda."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self) -> None:
        self.cognito_identity_id: str | None = None
        self.cognito_identity_pool_id: str | None = None


class LambdaContext:
    """Same attributes as awslambdaric's context (note: memory_limit_in_mb is a str there too)."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context: object | None = None
        self.identity = CognitoIdentity()
        self.tenant_id: str | None = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


class RuntimePackagesFinder:
    """Import only what the Lambda Python runtime ships (boto3 and friends) from site-packages.

    The worker runs with ``-I -S``: no site-packages, no script directory, no repo root. This
    finder, last on ``sys.meta_path``, resolves just the allowed top-level names, so a function
    that imports anything else from the developer's venv fails locally as it would on AWS.
    """

    def __init__(self, site_dirs: list[str], names: list[str]) -> None:
        self._site_dirs = site_dirs
        self._names = frozenset(names)

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None or fullname not in self._names:
            return None  # submodules resolve through their package's __path__
        return importlib.machinery.PathFinder.find_spec(fullname, self._site_dirs)


class LambdaLoggingOnImport:
    """Give the root logger Lambda's handler the moment the function first imports ``logging``.

    On Lambda the root logger already has a handler (so ``logging.basicConfig`` is a no-op and
    WARNING+ records carry the request id); doing it lazily keeps ~5 ms off every cold start of
    functions that never log.
    """

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "logging":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        original = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            _install_lambda_log_handler(module)

        setattr(spec.loader, "exec_module", exec_module)  # noqa: B010 - patching the instance
        return spec


_LAMBDA_LEVELS = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
}
"""Lambda's application log levels, as the runtime sets them on the root logger."""


def _install_lambda_log_handler(logging: Any) -> None:
    try:
        handler = logging.StreamHandler(sys.stdout)
        if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
            handler.setFormatter(_json_formatter(logging))
        else:
            formatter = logging.Formatter(_LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
            formatter.converter = time.gmtime
            handler.setFormatter(formatter)

        def stamp_request_id(record: Any) -> bool:
            record.aws_request_id = _State.request_id
            return True

        handler.addFilter(stamp_request_id)
        root = logging.getLogger()
        root.addHandler(handler)
        level = _LAMBDA_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
        if level is not None:
            root.setLevel(level)
    except AttributeError:
        pass  # the function shadows ``logging`` with a module of its own, as it could on Lambda


def _json_formatter(logging: Any) -> Any:
    """The runtime's JSON log format: one object per record (timestamp, level, message, logger,
    requestId), which Lambda's log-level filtering reads."""
    import json  # only functions that log through ``logging`` with the JSON format pay for it

    class JsonFormatter(logging.Formatter):
        def format(self, record: Any) -> str:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            line = {
                "timestamp": f"{stamp}.{int(record.msecs):03d}Z",
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "requestId": getattr(record, "aws_request_id", ""),
            }
            if record.exc_info:
                line["stackTrace"] = self.formatException(record.exc_info).splitlines()
            return json.dumps(line, default=str)

    return JsonFormatter()


def _send(fd: int, body: bytes) -> None:
    view = memoryview(len(body).to_bytes(4, "big") + body)
    while view:
        view = view[os.write(fd, view) :]


def _recv(fd: int) -> dict[str, Any] | None:
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    body = _read_exactly(fd, int.from_bytes(header, "big"))
    if body is None:
        return None
    message: dict[str, Any] = marshal.loads(body)  # noqa: S302 - our parent, private socketpair
    return message


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _sync_output() -> None:
    """Flush the function's output and mark the point in the stream where this reply happened."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            continue  # the function closed or replaced the stream
    try:
        os.write(1, _State.sync_marker)
    except OSError:
        return  # stdout is gone; the parent stops waiting for the marker after a second


def _max_rss_kb() -> int:
    """This worker's peak memory. On Linux ru_maxrss survives exec, so a worker would report the
    local cloud's own peak: VmHWM is the process's own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource  # only needed once there is something to report

    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def _load_handler(handler: str) -> Callable[[Any, LambdaContext], Any]:
    """Resolve the handler string the way awslambdaric's ``_get_handler`` does."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from exc
    if modname.split(".")[0] in sys.builtin_module_names:
        raise FaultError(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        raise FaultError(
            "Runtime.ImportModuleError", f"Unable to import module '{modname}': {exc}"
        ) from exc
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise FaultError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {exc}", trace
        ) from exc
    try:
        function: Callable[[Any, LambdaContext], Any] = getattr(module, fname)
    except AttributeError as exc:
        raise FaultError(
            "Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'"
        ) from exc
    return function


def _error_from_exception(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, FaultError):
        return {"errorMessage": exc.message, "errorType": exc.error_type, "stackTrace": exc.trace}
    import traceback  # only errors pay for it

    frames = traceback.extract_tb(exc.__traceback__)
    user_frames = [frame for frame in frames if frame.filename != __file__]
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(user_frames),
    }


def _log_error(error: dict[str, Any]) -> None:
    """Print an unhandled error like the runtime does (one line per frame, locally)."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    lines.append("Traceback (most recent call last):")
    for frame in error["stackTrace"]:
        lines.extend(frame.rstrip("\n").splitlines())
    sys.stdout.write("\n".join(lines) + "\n")


def _json_default(value: object) -> object:
    """Encode Decimal like the runtime's marshaller (DynamoDB items are full of them)."""
    if type(value).__name__ == "Decimal":
        number: Any = value
        if number.is_nan():
            return float("nan")
        return int(number) if number == number.to_integral_value() else float(number)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _invoke(function: Callable[[Any, LambdaContext], Any], message: dict[str, Any]) -> bytes:
    """Run one invocation; returns the encoded reply frame body."""
    request_id: str = message["id"]
    _State.request_id = request_id
    os.environ["_X_AMZN_TRACE_ID"] = message.get("trace_id", "")
    context = LambdaContext(request_id, message["deadline_ms"], message["arn"])
    try:
        result = function(message["event"], context)
    except Exception as exc:  # noqa: BLE001 - any exception from user code is an invocation error
        error = _error_from_exception(exc)
        _log_error(error)
        return marshal.dumps({"op": "error", "error": error, "max_rss_kb": _max_rss_kb()})
    try:
        return marshal.dumps({"op": "result", "value": result, "max_rss_kb": _max_rss_kb()})
    except ValueError:
        pass  # not plain data (Decimal, a dict subclass...): encode it here, as the runtime would
    import json  # only for return values marshal cannot carry

    try:
        payload = json.dumps(result, default=_json_default)
    except (TypeError, ValueError, RecursionError) as exc:
        error = {
            "errorMessage": f"Unable to marshal response: {exc}",
            "errorType": "Runtime.MarshalError",
            "stackTrace": [],
        }
        _log_error(error)
        return marshal.dumps({"op": "error", "error": error, "max_rss_kb": _max_rss_kb()})
    return marshal.dumps({"op": "result", "payload": payload, "max_rss_kb": _max_rss_kb()})


def main(argv: list[str]) -> int:
    fd = int(argv[1])
    config: dict[str, Any] = marshal.loads(bytes.fromhex(argv[2]))  # noqa: S302 - from our parent
    _State.sync_marker = config["sync_marker"]
    os.set_inheritable(fd, False)  # the function's own subprocesses must not hold our socket
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path[:0] = [task_root, *config.get("extra_paths", [])]
    sys.meta_path.insert(0, LambdaLoggingOnImport())
    sys.meta_path.append(RuntimePackagesFinder(config["site_dirs"], config["packages"]))

    started = time.perf_counter()
    try:
        function = _load_handler(os.environ["_HANDLER"])
    except Exception as exc:  # noqa: BLE001 - module-level code may raise anything during init
        error = _error_from_exception(exc)
        _log_error(error)
        _sync_output()
        init_ms = (time.perf_counter() - started) * 1000
        _send(fd, marshal.dumps({"op": "init_error", "init_ms": init_ms, "error": error}))
        return 0
    init_ms = (time.perf_counter() - started) * 1000
    _sync_output()
    _send(fd, marshal.dumps({"op": "ready", "init_ms": init_ms}))

    while True:
        message = _recv(fd)
        if message is None:
            return 0
        reply = _invoke(function, message)
        _sync_output()
        _send(fd, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
