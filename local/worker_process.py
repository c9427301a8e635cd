"""One worker process (a Lambda execution environment) and the wire between it and us.

The parent side of the protocol ``local/_worker.py`` documents: frames of a 4-byte big-endian
length and a ``marshal`` blob over a private socketpair, and the function's stdout/stderr read
line by line by an output pump that also spots the sync marker the worker writes before each
reply (so START, the function's output and END reach the log in order). The marker is defined
here only and handed to the worker in its start-up config.

The framing and the pump work on any socket or file descriptor, so they are tested in-process;
only :class:`WorkerProcess` spawns anything.
"""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from local.lambda_log import exit_description

__all__ = [
    "MAX_PARTIAL_LINE",
    "RUNTIME_PACKAGES",
    "SYNC_MARKER",
    "OutputPump",
    "WorkerGoneError",
    "WorkerProcess",
    "encode_frame",
    "read_frame",
]

SYNC_MARKER = b"\x00\x1e__local_lambda_sync__\x00\n"
"""Written by the worker to its stdout before each reply; never printed by a function."""

MAX_PARTIAL_LINE = 256 * 1024
"""Output without a newline is forwarded once it is this long (a runaway ``print(end="")``)."""

RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
"""Top-level packages the Lambda Python runtime provides besides the standard library."""

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")


class WorkerGoneError(Exception):
    """The worker closed its end of the socket (it exited or was killed), or sent garbage."""


def encode_frame(message: Mapping[str, Any]) -> bytes:
    """One frame: the length of the marshal'd message, then the message."""
    body = marshal.dumps(dict(message))
    return len(body).to_bytes(4, "big") + body


def read_frame(sock: socket.socket, deadline: float) -> dict[str, Any]:
    """The next frame on ``sock``; TimeoutError past ``deadline`` (monotonic), WorkerGoneError
    on end of stream or an unreadable frame."""
    header = _read_exactly(sock, 4, deadline)
    body = _read_exactly(sock, int.from_bytes(header, "big"), deadline)
    try:
        message = marshal.loads(body)  # noqa: S302 - our worker, same interpreter
    except (EOFError, ValueError, TypeError) as exc:
        raise WorkerGoneError("unreadable frame from the worker") from exc
    if not isinstance(message, dict):
        raise WorkerGoneError(f"frame from the worker is a {type(message).__name__}, not a dict")
    return message


def _read_exactly(sock: socket.socket, size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            sock.settimeout(remaining)
            chunk = sock.recv(min(size, 1 << 20))
        except TimeoutError:
            raise
        except OSError as exc:  # reset, or the socket was closed under us by kill()
            raise WorkerGoneError from exc
        if not chunk:
            raise WorkerGoneError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class OutputPump:
    """Forwards a worker's output to ``emit`` line by line and counts sync markers.

    ``expect_sync`` is called before a reply is awaited and ``wait_for_sync`` after it arrived:
    the reply frame can overtake the output written before it (two different pipes), so the
    caller waits until the pump has passed the matching marker before it logs END.
    """

    def __init__(
        self, fd: int, emit: Callable[[str], None], *, marker: bytes = SYNC_MARKER
    ) -> None:
        self._fd = fd
        self._emit_text = emit
        self._marker = marker
        self._cond = threading.Condition()
        self._seen = 0
        self._expected = 0
        self._closed = False

    def expect_sync(self) -> None:
        with self._cond:
            self._expected += 1

    def wait_for_sync(self, timeout: float = 10.0) -> bool:
        """True once every expected marker went by (or the stream ended) within ``timeout``.

        The marker is already written when the reply arrives, so this waits only for the pump
        to get through the output before it: a slow terminal or a busy machine can take more
        than a second over a few hundred kB, and END logged sooner would come before that
        output. The bound is for a handler that took the worker's stdout away from the pump."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or self._seen >= self._expected, timeout=timeout
            )

    @property
    def syncs_seen(self) -> int:
        with self._cond:
            return self._seen

    def run(self) -> None:
        """Read until end of stream; the fd is closed afterwards."""
        buffer = b""
        try:
            while True:
                try:
                    chunk = os.read(self._fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                buffer = self._feed(buffer + chunk)
            self._emit(buffer)
        finally:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _feed(self, buffer: bytes) -> bytes:
        """Emit what is complete in ``buffer``; return what must wait for more bytes."""
        marker = self._marker
        while (index := buffer.find(marker)) >= 0:
            self._emit(buffer[:index])
            buffer = buffer[index + len(marker) :]
            with self._cond:
                self._seen += 1
                self._cond.notify_all()
        newline = buffer.rfind(b"\n")  # the marker's only newline is its last byte
        if newline >= 0:
            self._emit(buffer[: newline + 1])
            return buffer[newline + 1 :]
        if len(buffer) > MAX_PARTIAL_LINE:
            keep = _marker_prefix_length(buffer, marker)  # a marker may be arriving in halves
            self._emit(buffer[: len(buffer) - keep])
            return buffer[len(buffer) - keep :]
        return buffer

    def _emit(self, data: bytes) -> None:
        if data:
            self._emit_text(data.decode("utf-8", errors="replace"))


def _marker_prefix_length(buffer: bytes, marker: bytes) -> int:
    """Length of the longest tail of ``buffer`` that is a beginning of ``marker``."""
    for length in range(min(len(marker) - 1, len(buffer)), 0, -1):
        if buffer.endswith(marker[:length]):
            return length
    return 0


_SITE_DIRS_LOCK = threading.Lock()
_SITE_DIRS: list[str] | None = None


def runtime_site_dirs() -> list[str]:
    """Directories holding the runtime packages in this interpreter, found without importing."""
    global _SITE_DIRS
    with _SITE_DIRS_LOCK:
        if _SITE_DIRS is None:
            dirs: list[str] = []
            for name in RUNTIME_PACKAGES:
                spec = importlib.util.find_spec(name)
                if spec is None or spec.origin is None:
                    continue
                origin = Path(spec.origin)
                parent = origin.parent.parent if origin.name == "__init__.py" else origin.parent
                if str(parent) not in dirs:
                    dirs.append(str(parent))
            _SITE_DIRS = dirs
        return list(_SITE_DIRS)


class WorkerProcess:
    """A started worker: its process, its socket and its output pump."""

    def __init__(
        self,
        *,
        name: str,
        env: Mapping[str, str],
        cwd: Path,
        extra_paths: Sequence[Path] = (),
        emit: Callable[[str], None],
    ) -> None:
        parent_sock, child_sock = socket.socketpair()
        self._sock = parent_sock
        config = {
            "site_dirs": runtime_site_dirs(),
            "packages": list(RUNTIME_PACKAGES),
            "extra_paths": [str(path) for path in extra_paths],
            "sync_marker": SYNC_MARKER,
        }
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-I",  # no PYTHON* variables, no script dir or user site on sys.path
                    "-S",  # no site-packages: RuntimePackagesFinder allows only boto3 & co.
                    "-B",  # never write __pycache__ into the function's folder
                    "-u",  # output reaches the terminal as it is printed
                    str(WORKER_SCRIPT),
                    str(child_sock.fileno()),
                    marshal.dumps(config).hex(),
                ],
                env=dict(env),
                cwd=cwd,
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
        assert self.proc.stdout is not None
        self.output = OutputPump(os.dup(self.proc.stdout.fileno()), emit)
        self.proc.stdout.close()
        self._reader = threading.Thread(
            target=self.output.run, name=f"lambda-output-{name}-{self.proc.pid}", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, message: Mapping[str, Any]) -> None:
        self._sock.settimeout(10.0)  # an idle worker is always reading; this only guards bugs
        self._sock.sendall(encode_frame(message))

    def receive(self, timeout: float) -> dict[str, Any]:
        """Next frame; TimeoutError after ``timeout`` s, WorkerGoneError when the worker is gone."""
        return read_frame(self._sock, time.monotonic() + timeout)

    def exit_description(self) -> str:
        """How the process ended, in Lambda's words (it is reaped first, for up to a second)."""
        try:
            code: int | None = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            code = None
        return exit_description(code)

    def kill(self) -> None:
        """Kill the worker and everything it started; idempotent."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5.0)
        self._sock.close()
        self._reader.join(timeout=1.0)
