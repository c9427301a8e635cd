"""Does what the event asks, so one fixture covers many runtime behaviours.

Invoked directly the event is the command; through a Function URL the command is the JSON body.
"""

import json
import os
import sys
import time
from typing import Any

VERSION = "v1"  # the hot-reload test rewrites this line
COUNTER = 0  # module-level state: survives between invocations of one warm worker

print("toolbox init phase")


def _command(event: Any) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("version") == "2.0":
        command: dict[str, Any] = json.loads(event.get("body") or "{}")
        return command
    return dict(event)


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def handler(event: Any, context: Any) -> Any:
    global COUNTER
    command = _command(event)
    action = command.get("action")
    if action == "count":
        COUNTER += 1
        return {"count": COUNTER, "pid": os.getpid(), "version": VERSION}
    if action == "return":
        return command["value"]
    if action == "raise":
        raise ValueError(command.get("message", "boom"))
    if action == "sleep":
        time.sleep(command["seconds"])
        return {"slept": command["seconds"], "pid": os.getpid()}
    if action == "exit":
        sys.exit(command["code"])
    if action == "os_exit":
        os._exit(command["code"])
    if action == "segfault":
        import ctypes

        ctypes.string_at(0)
    if action == "env":
        return dict(os.environ)
    if action == "print":
        print(command["text"])
        print()
        print("to stderr", file=sys.stderr)
        # One big write just before returning: the parent gets the reply before it reads this.
        sys.stdout.write("".join(f"line {i}\n" for i in range(command.get("extra_lines", 0))))
        return "printed"
    if action == "log":
        import logging

        logging.basicConfig(level=logging.INFO)  # a no-op on Lambda: root already has a handler
        logging.getLogger("toolbox").info("info is below the default level")
        logging.getLogger("toolbox").warning("careful: %s", command["text"])
        return "logged"
    if action == "context":
        return {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        }
    if action == "imports":
        return {
            "sys_path": sys.path,
            "cwd": os.getcwd(),
            "importable": {name: _importable(name) for name in command["names"]},
        }
    if action == "unserializable":
        return {1, 2, 3}
    if action == "decimal":
        from decimal import Decimal

        return {"price": Decimal("1.50"), "quantity": Decimal("3")}
    raise KeyError(f"unknown action {action!r}")
