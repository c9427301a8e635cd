"""The local Lambda runtime: worker processes that behave like Lambda execution environments."""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cloud_helpers import wait_for

from local.lambda_runtime import (
    DUMMY_CREDENTIALS,
    MAX_PAYLOAD_BYTES,
    FunctionClosedError,
    FunctionSpec,
    Invocation,
    LocalFunction,
    MachineCapacity,
    RequestTooLargeError,
    ReservedEnvironmentError,
)
from local.logs import LogSink

MakeFunction = Callable[..., LocalFunction]
FIXTURES = Path(__file__).parent / "fixture_functions"

LAMBDA_KEYS = {
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "TZ",
    "LANG",
    "PATH",
    "AWS_ENDPOINT_URL",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    *DUMMY_CREDENTIALS,
}
PYTHON_ADDED_KEYS = {"LC_CTYPE"}  # CPython's C-locale coercion may add it (PEP 538)


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _ok(invocation: Invocation) -> Any:
    assert invocation.error is None, invocation.error
    return invocation.payload


def test_event_goes_in_and_the_json_result_comes_back(make_function: MakeFunction) -> None:
    # GIVEN a function that returns its event
    echo = make_function("echo")
    event = {"text": "héllo", "n": [1, 2.5, None, True], "pair": (1, 2)}

    # WHEN it is invoked twice
    first = echo.invoke(event)
    second = echo.invoke(event)

    # THEN the payload is the event as JSON carries it, the first call was a cold start
    assert first.payload == {**event, "pair": [1, 2]}
    assert first.payload_json is not None and '"n": [1, 2.5, null, true]' in first.payload_json
    assert first.init_duration_ms is not None
    assert second.payload == first.payload
    assert second.init_duration_ms is None
    assert echo.worker_pids() and len(echo.worker_pids()) == 1


def test_context_object_matches_lambda(make_function: MakeFunction) -> None:
    fn = make_function(memory_mb=256, timeout_seconds=2.0, region="eu-west-1")

    invocation = fn.invoke({"action": "context"})

    context = _ok(invocation)
    assert context["function_name"] == "toolbox"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:eu-west-1:123456789012:function:toolbox"
    )
    assert context["memory_limit_in_mb"] == "256"  # a str, as awslambdaric gives it
    assert context["aws_request_id"] == invocation.request_id
    assert context["log_group_name"] == "/aws/lambda/toolbox"
    assert "/[$LATEST]" in context["log_stream_name"]
    assert 1000 < context["remaining_ms"] <= 2000
    assert context["trace_id"].startswith("Root=1-")


def test_worker_environment_is_lambdas_plus_declared_variables(
    make_function: MakeFunction, moto_endpoint: str
) -> None:
    fn = make_function(environment={"QUEUE_URL": "http://queue"}, memory_mb=512)

    env = _ok(fn.invoke({"action": "env"}))

    assert env["QUEUE_URL"] == "http://queue"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "toolbox"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/toolbox"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["LAMBDA_TASK_ROOT"] == str((FIXTURES / "toolbox").resolve())
    assert env["_HANDLER"] == "handler.handler"
    assert env["TZ"] == ":UTC"
    assert env["AWS_ENDPOINT_URL"] == moto_endpoint
    assert env["AWS_ACCESS_KEY_ID"] == DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert set(env) - PYTHON_ADDED_KEYS == LAMBDA_KEYS | {"QUEUE_URL"}


@pytest.mark.parametrize(
    ("log_format", "level", "expected"),
    [
        ("JSON", "DEBUG", {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}),
        ("JSON", None, {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}),
        ("Text", "DEBUG", {}),
    ],
)
def test_a_json_format_function_is_told_its_application_log_level(
    make_function: MakeFunction, log_format: str, level: str | None, expected: dict[str, str]
) -> None:
    # GIVEN a function's logging configuration WHEN its worker's environment is built (no
    # process needed) THEN it carries what Lambda's advanced logging controls hand the runtime
    fn = make_function(log_format=log_format, application_log_level=level)
    env = fn.worker_environment("2026/12/01/[$LATEST]stream")
    assert {k: v for k, v in env.items() if k.startswith("AWS_LAMBDA_LOG_")} == {
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/toolbox",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/01/[$LATEST]stream",
        **expected,
    }


def test_functions_never_see_each_others_or_the_parents_environment(
    make_function: MakeFunction, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a parent process holding a secret and real-looking AWS credentials
    monkeypatch.setenv("LOCAL_TEST_PARENT_SECRET", "do-not-leak")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALDEVELOPERKEY")
    monkeypatch.setenv("AWS_PROFILE", "production")
    first = make_function(name="first", environment={"ONLY_FIRST": "1"})
    second = make_function(name="second", environment={"ONLY_SECOND": "2"})

    # WHEN both dump their environment
    env_first = _ok(first.invoke({"action": "env"}))
    env_second = _ok(second.invoke({"action": "env"}))

    # THEN each sees only its own variables, and nothing from the parent
    assert "ONLY_SECOND" not in env_first and env_first["ONLY_FIRST"] == "1"
    assert "ONLY_FIRST" not in env_second and env_second["ONLY_SECOND"] == "2"
    for env in (env_first, env_second):
        assert "LOCAL_TEST_PARENT_SECRET" not in env
        assert "AWS_PROFILE" not in env
        assert env["AWS_ACCESS_KEY_ID"] != "AKIAREALDEVELOPERKEY"


def test_only_the_package_and_the_runtime_libraries_are_importable(
    make_function: MakeFunction,
) -> None:
    fn = make_function()
    names = ["boto3", "botocore", "json", "pkg", "local", "tests", "pulumi", "moto", "pytest"]
    names += ["lambda_runtime", "_worker"]  # modules next to the worker script

    result = _ok(fn.invoke({"action": "imports", "names": names}))

    code_dir = str((FIXTURES / "toolbox").resolve())
    assert result["sys_path"][0] == code_dir
    assert result["cwd"] == code_dir
    assert result["importable"] == {
        "boto3": True,
        "botocore": True,
        "json": True,
        "pkg": True,
        "local": False,
        "tests": False,
        "pulumi": False,
        "moto": False,
        "pytest": False,
        "lambda_runtime": False,
        "_worker": False,
    }


def test_boto3_in_a_function_talks_to_the_local_endpoint(
    make_function: MakeFunction, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a local queue, and a developer shell pointing at a real AWS profile
    queue_url = sqs.create_queue(QueueName=f"sender-{os.getpid()}")["QueueUrl"]
    fn = make_function("sender", environment={"QUEUE_URL": queue_url})

    # WHEN the function sends a message with a default boto3 client
    with monkeypatch.context() as shell:  # (moto runs in this process: only for the invoke)
        shell.setenv("AWS_PROFILE", "production")
        result = _ok(fn.invoke({"hello": "queue"}))

    # THEN the message is in the local queue
    messages = sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
    assert [(m["MessageId"], m["Body"]) for m in messages] == [
        (result["message_id"], '{"hello": "queue"}')
    ]


def test_importing_from_outside_the_package_is_an_import_module_error(
    make_function: MakeFunction,
) -> None:
    fn = make_function("leaky")

    invocation = fn.invoke({})

    assert invocation.error is not None
    assert invocation.error.error_type == "Runtime.ImportModuleError"
    assert invocation.error.error_message == (
        "Unable to import module 'handler': No module named 'local'"
    )
    assert fn.worker_pids() == []  # the failed environment is not kept


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        ("pkg/nested.fn", None),
        ("pkg.nested.fn", None),
        ("handler.missing", "Runtime.HandlerNotFound"),
        ("nowhere.handler", "Runtime.ImportModuleError"),
        ("nodot", "Runtime.MalformedHandlerName"),
        ("sys.handler", "Runtime.BuiltInModuleConflict"),
    ],
)
def test_handler_string_is_resolved_like_lambda(
    make_function: MakeFunction, handler: str, error_type: str | None
) -> None:
    fn = make_function(handler=handler)

    invocation = fn.invoke({"x": 1})

    if error_type is None:
        assert _ok(invocation) == {"nested": True, "event": {"x": 1}}
    else:
        assert invocation.error is not None
        assert invocation.error.error_type == error_type


def test_syntax_error_in_the_handler_module(make_function: MakeFunction, tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("def handler(event, context)\n    return 1\n")
    fn = make_function(name="broken", code_dir=tmp_path)

    invocation = fn.invoke({})

    assert invocation.error is not None
    assert invocation.error.error_type == "Runtime.UserCodeSyntaxError"
    assert "Syntax error in module 'handler'" in invocation.error.error_message


def test_unhandled_exception_is_reported_and_the_worker_stays_warm(
    make_function: MakeFunction, log_dir: Path
) -> None:
    fn = make_function()
    pid_before = _ok(fn.invoke({"action": "count"}))["pid"]

    invocation = fn.invoke({"action": "raise", "message": "bad input"})

    assert invocation.error is not None
    assert invocation.error.error_type == "ValueError"
    assert invocation.error.error_message == "bad input"
    trace = "".join(invocation.error.stack_trace)
    assert "handler.py" in trace and "_worker.py" not in trace
    assert invocation.error.to_payload()["errorType"] == "ValueError"
    after = _ok(fn.invoke({"action": "count"}))
    assert after == {"count": 2, "pid": pid_before, "version": "v1"}
    assert "[ERROR] ValueError: bad input" in (log_dir / "toolbox.log").read_text()


def test_timeout_kills_the_worker_and_resets_the_environment(make_function: MakeFunction) -> None:
    fn = make_function(timeout_seconds=1.0)
    warm = _ok(fn.invoke({"action": "count"}))

    started = time.monotonic()
    invocation = fn.invoke({"action": "sleep", "seconds": 10})
    elapsed = time.monotonic() - started

    assert invocation.timed_out
    assert invocation.error is not None
    assert invocation.error.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in invocation.error.error_message
    assert 1.0 <= elapsed < 5.0  # cut short of the 10 s sleep; the slack is a busy machine's
    assert _pid_gone(warm["pid"])
    fresh = _ok(fn.invoke({"action": "count"}))
    assert fresh["count"] == 1 and fresh["pid"] != warm["pid"]


@pytest.mark.parametrize(
    ("command", "exit_description"),
    [
        ({"action": "exit", "code": 3}, "exit status 3"),
        ({"action": "os_exit", "code": 4}, "exit status 4"),
        ({"action": "segfault"}, "signal: segmentation fault"),
    ],
)
def test_a_crashed_worker_is_an_exit_error_and_gets_replaced(
    make_function: MakeFunction, command: dict[str, Any], exit_description: str
) -> None:
    fn = make_function()
    warm = _ok(fn.invoke({"action": "count"}))

    invocation = fn.invoke(command)

    assert invocation.error is not None
    assert invocation.error.error_type == "Runtime.ExitError"
    assert invocation.error.error_message.endswith(
        f"Error: Runtime exited with error: {exit_description}"
    )
    fresh = _ok(fn.invoke({"action": "count"}))
    assert fresh["count"] == 1 and fresh["pid"] != warm["pid"]


def test_module_state_stays_warm_between_invocations(make_function: MakeFunction) -> None:
    fn = make_function()

    results = [_ok(fn.invoke({"action": "count"})) for _ in range(3)]

    assert [r["count"] for r in results] == [1, 2, 3]
    assert len({r["pid"] for r in results}) == 1


def test_concurrent_invocations_run_in_parallel_workers(make_function: MakeFunction) -> None:
    fn = make_function()
    results: list[Invocation] = []

    def call() -> None:
        results.append(fn.invoke({"action": "sleep", "seconds": 0.4}))

    threads = [threading.Thread(target=call) for _ in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert time.monotonic() - started < 1.0  # not 3 x 0.4 s one after the other
    assert len({_ok(r)["pid"] for r in results}) == 3


def test_reserved_concurrency_throttles_the_excess(make_function: MakeFunction) -> None:
    # GIVEN a function reserved to 1, busy with one invocation
    fn = make_function(reserved_concurrency=1)
    busy = threading.Thread(target=fn.invoke, args=({"action": "sleep", "seconds": 0.5},))
    busy.start()
    wait_for(lambda: fn.account.in_flight(fn.name) == 1, 10, "the first invocation to start")

    # WHEN a second invocation arrives THEN it is throttled, and once the first ends, admitted
    throttled = fn.invoke({"action": "count"})
    busy.join()
    afterwards = fn.invoke({"action": "count"})

    assert throttled.throttled
    assert throttled.error is not None
    assert throttled.error.error_type == "TooManyRequestsException"
    assert afterwards.ok


def test_past_the_machine_capacity_another_functions_idle_worker_makes_room(
    make_function: MakeFunction, log_dir: Path
) -> None:
    # GIVEN a machine that runs one worker, held warm by a function that just ran
    machine = MachineCapacity(1)
    first = make_function(name="first", machine=machine)
    second = make_function(name="second", machine=machine)
    warm = _ok(first.invoke({"action": "count"}))

    # WHEN another function is invoked
    invocation = second.invoke({"action": "count"})

    # THEN it runs (not throttled) in the slot of the retired idle worker, which is gone
    assert _ok(invocation)["count"] == 1
    assert invocation.init_duration_ms is not None
    assert _pid_gone(warm["pid"])
    assert first.worker_pids() == []
    assert "idle worker was retired to make room for second" in (log_dir / "first.log").read_text()


def test_with_the_machine_full_an_invocation_waits_then_fails_like_a_timeout(
    make_function: MakeFunction, log_dir: Path
) -> None:
    # GIVEN a machine of one worker, busy for a second with another function
    machine = MachineCapacity(1)
    busy_fn = make_function(name="busy", machine=machine)
    waiting_fn = make_function(name="waiting", machine=machine, timeout_seconds=0.3)
    results: list[Invocation] = []
    busy = threading.Thread(
        target=lambda: results.append(busy_fn.invoke({"action": "sleep", "seconds": 1.0}))
    )
    busy.start()
    wait_for(lambda: machine.in_use == 1, 10, "the busy function to take the only slot")

    # WHEN the other function is invoked
    started = time.monotonic()
    invocation = waiting_fn.invoke({"action": "count"})

    # THEN it waited for its timeout and failed as a timeout, saying why and what to change
    assert time.monotonic() - started >= 0.3
    assert invocation.timed_out and not invocation.throttled
    assert invocation.error is not None
    assert invocation.error.error_type == "Sandbox.Timedout"
    log = (log_dir / "waiting.log").read_text()
    assert "all 1 of this machine's worker processes were busy" in log
    assert "--max-workers N" in log
    busy.join()
    assert results[0].ok  # the busy one was never disturbed


def test_reserved_concurrency_zero_throttles_everything(make_function: MakeFunction) -> None:
    fn = make_function(reserved_concurrency=0)

    assert fn.invoke({"action": "count"}).throttled
    assert fn.worker_pids() == []


def test_editing_the_code_takes_effect_on_the_next_invoke(
    make_function: MakeFunction, tmp_path: Path, terminal: io.StringIO
) -> None:
    # GIVEN a warm worker running a copy of the fixture
    code_dir = tmp_path / "toolbox"
    shutil.copytree(FIXTURES / "toolbox", code_dir)
    fn = make_function(code_dir=code_dir)
    first = _ok(fn.invoke({"action": "count"}))
    unchanged = _ok(fn.invoke({"action": "count"}))
    assert unchanged["pid"] == first["pid"]

    # WHEN a source file changes
    handler = code_dir / "handler.py"
    handler.write_text(handler.read_text().replace('VERSION = "v1"', 'VERSION = "v2-edited"'))
    time.sleep(0.1)  # scans are rate-limited (20x their ~0.1 ms cost); no developer is this fast

    # THEN the next invocation runs the new code in a fresh environment
    edited = _ok(fn.invoke({"action": "count"}))
    assert edited["version"] == "v2-edited"
    assert edited["count"] == 1 and edited["pid"] != first["pid"]
    assert "code changed" in terminal.getvalue()
    assert not list(code_dir.rglob("__pycache__"))  # workers never write bytecode caches


class LaggingSink(LogSink):
    """A sink that is slow to take the workers' output, as a busy terminal would be: it stalls
    for 1.5 s on the first piece of output (longer than a second, which a busy machine can take
    over a few hundred kB), then takes a moment over each piece."""

    stalled = False

    def write(self, name: str, text: str) -> None:
        if threading.current_thread().name.startswith("lambda-output-"):
            time.sleep(0.03 if self.stalled else 1.5)
            self.stalled = True
        super().write(name, text)


def test_output_is_logged_in_order_with_lambda_report_lines(
    moto_endpoint: str, tmp_path: Path
) -> None:
    # GIVEN a lagging log reader and a handler that prints ~300 kB just before returning
    terminal = io.StringIO()
    with LaggingSink(stream=terminal, log_dir=tmp_path, color=False) as sink:
        fn = LocalFunction(
            FunctionSpec(name="toolbox", code_dir=FIXTURES / "toolbox", handler="handler.handler"),
            endpoint_url=moto_endpoint,
            logs=sink,
        )
        try:
            # WHEN it is invoked
            invocation = fn.invoke(
                {"action": "print", "text": "hello from the handler", "extra_lines": 30000}
            )
        finally:
            fn.close()

        # THEN START, every printed line, END and REPORT are in order, in the file and terminal
        request_id = invocation.request_id
        lines = (tmp_path / "toolbox.log").read_text().splitlines()
        messages = [line.split(" ", 1)[1] for line in lines]  # drop the timestamp
        assert messages[0] == "toolbox init phase"
        start = messages.index(f"START RequestId: {request_id} Version: $LATEST")
        assert messages[start + 1 : start + 4] == ["hello from the handler", "", "to stderr"]
        end = start + 4 + 30000
        assert messages[end - 1] == "line 29999"
        assert messages[end] == f"END RequestId: {request_id}"
        assert messages[end + 1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
        assert "Init Duration: " in messages[end + 1]
        shown = terminal.getvalue()
        assert f"toolbox | START RequestId: {request_id}" in shown
        end_shown = shown.index(f"toolbox | END RequestId: {request_id}")
        assert shown.index("toolbox | line 29999") < end_shown


def test_logging_is_preconfigured_like_the_lambda_runtime(
    make_function: MakeFunction, log_dir: Path
) -> None:
    fn = make_function()

    invocation = fn.invoke({"action": "log", "text": "disk almost full"})

    assert invocation.ok
    log = (log_dir / "toolbox.log").read_text()
    assert f"\t{invocation.request_id}\tcareful: disk almost full" in log
    assert "[WARNING]\t" in log
    assert "info is below the default level" not in log  # basicConfig was a no-op


def test_with_the_json_log_format_the_root_logger_writes_json_at_the_functions_level(
    make_function: MakeFunction, log_dir: Path
) -> None:
    # GIVEN a function whose logging config is JSON at the application level INFO
    fn = make_function(log_format="JSON", application_log_level="INFO")
    # WHEN it logs through `logging` (an INFO line the level keeps, as Lambda's runtime does)
    invocation = fn.invoke({"action": "log", "text": "disk almost full"})
    # THEN each record is one JSON object: the runtime's fields, the request id, the level
    assert invocation.ok
    lines = [
        json.loads(line.split(" ", 1)[1])
        for line in (log_dir / "toolbox.log").read_text().splitlines()
        if line.split(" ", 1)[1].startswith("{")
    ]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("INFO", "info is below the default level"),
        ("WARNING", "careful: disk almost full"),
    ]
    assert {line["requestId"] for line in lines} == {invocation.request_id}
    assert all(line["logger"] == "toolbox" and line["timestamp"].endswith("Z") for line in lines)


def test_report_lines_give_the_workers_own_peak_memory(
    make_function: MakeFunction, log_dir: Path
) -> None:
    # GIVEN this test process, which holds moto, boto3 and Pulumi (far more than a worker)
    import resource

    ours_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    # WHEN a small function runs
    invocation = make_function().invoke({"action": "return", "value": 1})
    # THEN its REPORT line gives the worker's peak, not the peak Linux carries across exec
    assert invocation.ok
    [used] = [
        int(line.split("Max Memory Used: ")[1].split(" MB")[0])
        for line in (log_dir / "toolbox.log").read_text().splitlines()
        if "Max Memory Used" in line
    ]
    assert 1 <= used < ours_mb


def test_unserializable_result_is_a_marshal_error(make_function: MakeFunction) -> None:
    invocation = make_function().invoke({"action": "unserializable"})

    assert invocation.error is not None
    assert invocation.error.error_type == "Runtime.MarshalError"
    assert invocation.error.error_message.startswith("Unable to marshal response:")


def test_decimal_results_are_encoded_like_the_runtime_does(make_function: MakeFunction) -> None:
    invocation = make_function().invoke({"action": "decimal"})

    assert _ok(invocation) == {"price": 1.5, "quantity": 3}


def test_oversized_event_is_rejected_without_starting_a_worker(
    make_function: MakeFunction,
) -> None:
    fn = make_function("echo")

    with pytest.raises(RequestTooLargeError):
        fn.invoke({"blob": "x" * MAX_PAYLOAD_BYTES})
    assert fn.worker_pids() == []


def test_reserved_environment_variables_are_refused(make_function: MakeFunction) -> None:
    with pytest.raises(ReservedEnvironmentError, match="AWS_REGION"):
        make_function(environment={"AWS_REGION": "eu-west-1"})


def test_close_kills_workers_and_refuses_new_invocations(make_function: MakeFunction) -> None:
    fn = make_function()
    pid = _ok(fn.invoke({"action": "count"}))["pid"]

    fn.close()
    fn.close()

    assert _pid_gone(pid)
    with pytest.raises(FunctionClosedError):
        fn.invoke({"action": "count"})
