"""Lambda's log lines and runtime error messages, as strings (no processes)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from local import lambda_log


def test_start_line_names_the_request_and_version() -> None:
    assert lambda_log.start_line("r-1") == "START RequestId: r-1 Version: $LATEST"


def test_report_of_a_warm_invocation_has_lambdas_fields_in_order() -> None:
    # GIVEN a warm invocation of 12.3456 ms that peaked at 40 MB
    # WHEN its END/REPORT lines are worded
    text = lambda_log.end_and_report_lines(
        "r-1", duration_ms=12.3456, memory_mb=256, max_rss_kb=40 * 1024
    )
    # THEN END comes first, then the tab-separated REPORT, billed in whole ms rounded up
    end, report = text.split("\n")
    assert end == "END RequestId: r-1"
    assert report.split("\t") == [
        "REPORT RequestId: r-1",
        "Duration: 12.35 ms",
        "Billed Duration: 13 ms",
        "Memory Size: 256 MB",
        "Max Memory Used: 40 MB",
    ]


def test_report_of_a_cold_timed_out_invocation_adds_init_and_status() -> None:
    text = lambda_log.end_and_report_lines(
        "r-2",
        duration_ms=1000.0,
        memory_mb=128,
        init_ms=150.5,
        status="timeout",
        error_type="Sandbox.Timedout",
    )
    report = text.split("\n")[1].split("\t")
    assert report[2] == "Billed Duration: 1000 ms"  # an exact millisecond is not rounded up
    assert report[-3:] == [
        "Init Duration: 150.50 ms",
        "Status: timeout",
        "Error Type: Sandbox.Timedout",
    ]


def test_a_tiny_duration_is_billed_one_millisecond() -> None:
    report = lambda_log.end_and_report_lines("r", duration_ms=0.2, memory_mb=128)
    assert "\tBilled Duration: 1 ms\t" in report


def test_init_report_of_a_failed_init() -> None:
    assert lambda_log.init_report_line(3.14159, "Runtime.ImportModuleError") == (
        "INIT_REPORT Init Duration: 3.14 ms\tPhase: init\tStatus: error\t"
        "Error Type: Runtime.ImportModuleError"
    )


def test_timeout_wording() -> None:
    assert lambda_log.task_timed_out_message(3) == "Task timed out after 3.00 seconds"
    assert lambda_log.timeout_line("2026-01-01T00:00:00.000Z", "r-3", 0.5) == (
        "2026-01-01T00:00:00.000Z r-3 Task timed out after 0.50 seconds"
    )
    assert lambda_log.init_timed_out_message("r-4", 10) == (
        "RequestId: r-4 Error: Init phase timed out after 10.00 seconds"
    )


@pytest.mark.parametrize(
    ("returncode", "description"),
    [
        (0, "exit status 0"),
        (3, "exit status 3"),
        (-signal.SIGKILL, "signal: killed"),
        (-signal.SIGSEGV, "signal: segmentation fault"),
        (-signal.SIGABRT, "signal: aborted"),
        (-signal.SIGTERM, "signal: sigterm"),
        (-200, "signal: 200"),
        (None, "unknown"),
    ],
)
def test_exit_description_uses_the_runtime_interfaces_words(
    returncode: int | None, description: str
) -> None:
    assert lambda_log.exit_description(returncode) == description


def test_runtime_exit_message() -> None:
    assert lambda_log.runtime_exit_message("r-5", "signal: killed") == (
        "RequestId: r-5 Error: Runtime exited with error: signal: killed"
    )


def test_local_lines_say_they_are_local_and_what_to_do() -> None:
    assert lambda_log.code_changed_line(Path("/code/fn"), 2) == (
        "[local] code changed under /code/fn; replacing 2 warm worker(s)"
    )
    line = lambda_log.capacity_exhausted_line("r-6", 5.0, 16, "--max-workers")
    assert line.startswith("[local] r-6: ")
    assert "5.00 s timeout" in line
    assert "all 16 of this machine's worker processes" in line
    assert "--max-workers N" in line
