"""Where local function output goes: the terminal (prefixed) and one log file per function.

Lambda sends a function's output to CloudWatch; locally a developer wants it interleaved in the
terminal they ran ``python -m local up`` from, and kept per function on disk for later grepping.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

from local.state import log_file_name

__all__ = ["LogSink", "LogTee"]

LogTee = Callable[[str, Sequence[str], float], None]
"""Also handed each write's lines, in file order: (function name, lines, epoch seconds)."""

# Bright ANSI colours; a function always gets the same one so its lines are easy to follow.
_COLOURS = ("\x1b[96m", "\x1b[95m", "\x1b[93m", "\x1b[92m", "\x1b[94m", "\x1b[91m")
_RESET = "\x1b[0m"


def _utc_timestamp(now: float) -> str:
    """CloudWatch-style timestamp, so a log file reads like ``aws logs tail`` output."""
    seconds = time.gmtime(now)
    millis = int((now % 1) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{millis:03d}Z"


class LogSink:
    """Thread-safe fan-out of log lines from many functions and worker processes.

    One lock serialises writes so lines from concurrent workers never interleave mid-line.
    Files are opened lazily (append, line-buffered) the first time a name is seen.
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        log_dir: Path | None = None,
        color: bool | None = None,
        tee: LogTee | None = None,
    ) -> None:
        """``tee``: e.g. the status page's collector (``local/status.py``); it runs under the
        sink's lock, so it must be quick and must not write to the sink."""
        self._stream = stream
        self._log_dir = log_dir
        if color is None:
            isatty = getattr(stream, "isatty", None)
            color = bool(isatty()) if callable(isatty) else False
        self._color = color
        self._tee = tee
        self._files: dict[str, TextIO] = {}
        self._lock = threading.Lock()
        self._closed = False
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, name: str) -> Path | None:
        """The file a function's lines go to (``None`` when no log directory was given)."""
        if self._log_dir is None:
            return None
        return self._log_dir / log_file_name(name)

    def write(self, name: str, text: str) -> None:
        """Write one or more lines on behalf of ``name``; a final newline is optional."""
        lines = text.removesuffix("\n").split("\n")
        now = time.time()
        with self._lock:
            if self._closed:
                return
            if self._stream is not None:
                prefix = self._prefix(name)
                self._stream.write("".join(f"{prefix}{line}\n" for line in lines))
                self._stream.flush()
            file = self._file_for(name)
            if file is not None:
                stamp = _utc_timestamp(now)
                file.write("".join(f"{stamp} {line}\n" for line in lines))
            if self._tee is not None:
                self._tee(name, lines, now)

    def close(self) -> None:
        """Close the per-function files; later writes are dropped rather than raising."""
        with self._lock:
            self._closed = True
            for file in self._files.values():
                file.close()
            self._files.clear()

    def __enter__(self) -> LogSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _prefix(self, name: str) -> str:
        if not self._color:
            return f"{name} | "
        colour = _COLOURS[zlib.crc32(name.encode()) % len(_COLOURS)]
        return f"{colour}{name}{_RESET} | "

    def _file_for(self, name: str) -> TextIO | None:
        file = self._files.get(name)
        if file is None:
            path = self.path_for(name)
            if path is None:
                return None
            file = path.open("a", encoding="utf-8", buffering=1)
            self._files[name] = file
        return file
