"""Lambda's own log lines and error messages, worded as the service writes them.

Pure functions of their inputs (durations are measured by the caller), so the wording can be
checked as strings and a log file of the local cloud reads like ``aws logs tail`` output of a
Lambda function: ``START``, the function's output, ``END``, ``REPORT``, and the runtime's lines
for init failures, timeouts and crashes. See docs/design.md, 'The local cloud'.
"""

from __future__ import annotations

import math
import signal
from pathlib import Path

__all__ = [
    "capacity_exhausted_line",
    "code_changed_line",
    "end_and_report_lines",
    "exit_description",
    "init_report_line",
    "init_timed_out_message",
    "runtime_exit_message",
    "start_line",
    "task_timed_out_message",
    "timeout_line",
]

_SIGNAL_WORDS = {"SIGSEGV": "segmentation fault", "SIGKILL": "killed", "SIGABRT": "aborted"}
"""How the Go-written Lambda runtime interface names the signals a runtime dies of."""


def start_line(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST"


def end_and_report_lines(
    request_id: str,
    *,
    duration_ms: float,
    memory_mb: int,
    max_rss_kb: int | None = None,
    init_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """``END`` then the tab-separated ``REPORT`` line; ``status`` only for timeouts and crashes.

    Lambda bills whole milliseconds, rounded up; ``Init Duration`` appears on cold starts only.
    """
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {max(1, math.ceil(duration_ms))} ms",
        f"Memory Size: {memory_mb} MB",
    ]
    if max_rss_kb is not None:
        parts.append(f"Max Memory Used: {int(max_rss_kb) // 1024} MB")
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if status is not None:
        parts.append(f"Status: {status}")
        if error_type is not None:
            parts.append(f"Error Type: {error_type}")
    return f"END RequestId: {request_id}\n" + "\t".join(parts)


def init_report_line(init_ms: float, error_type: str) -> str:
    """What Lambda logs when the init phase (imports, module-level code) fails."""
    return (
        f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: error\t"
        f"Error Type: {error_type}"
    )


def task_timed_out_message(timeout_seconds: float) -> str:
    return f"Task timed out after {timeout_seconds:.2f} seconds"


def timeout_line(timestamp: str, request_id: str, timeout_seconds: float) -> str:
    """The runtime's own line when an invocation exceeds the function's timeout."""
    return f"{timestamp} {request_id} {task_timed_out_message(timeout_seconds)}"


def init_timed_out_message(request_id: str, timeout_seconds: float) -> str:
    return (
        f"RequestId: {request_id} Error: Init phase timed out after {timeout_seconds:.2f} seconds"
    )


def exit_description(returncode: int | None) -> str:
    """How the runtime exited, in Lambda's words: ``exit status 1``, ``signal: killed``."""
    if returncode is None:
        return "unknown"
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        return f"signal: {-returncode}"
    return f"signal: {_SIGNAL_WORDS.get(name, name.lower())}"


def runtime_exit_message(request_id: str, description: str) -> str:
    return f"RequestId: {request_id} Error: Runtime exited with error: {description}"


def code_changed_line(code_dir: Path, replaced: int) -> str:
    """The local cloud's note that edited code starts fresh environments (not a Lambda line)."""
    return f"[local] code changed under {code_dir}; replacing {replaced} warm worker(s)"


def capacity_exhausted_line(
    request_id: str, timeout_seconds: float, capacity: int, flag: str
) -> str:
    """Why an invocation failed locally although AWS would have run it: no worker was free."""
    return (
        f"[local] {request_id}: no worker process was free within the function's "
        f"{timeout_seconds:.2f} s timeout; all {capacity} of this machine's worker processes "
        f"were busy (raise the capacity with {flag} N)"
    )
