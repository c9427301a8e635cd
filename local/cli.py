"""`python -m local up`: deploy a stack of this program on this machine and serve it.

Flags follow the Pulumi CLI (`-s/--stack`, `-C/--cwd`). `python -m local output [NAME]` prints
the outputs of the stack being served, like `pulumi stack output`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from local import config_cmd
from local.cloud import LocalCloud, StackBusyError
from local.concurrency import ACCOUNT_CONCURRENCY
from local.moto_patches import UnsupportedMotoVersionError
from local.moto_server import EmbeddedAwsError
from local.provider import LocalResourceError, UnsupportedResourceError
from local.stackfile import StackFileError
from local.state import STATE_DIR, StackState, StateError
from local.status_page import DEFAULT_STATUS_PORT, PORT_FLAG
from local.worker_pool import default_capacity


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def _port(text: str) -> int:
    """An argparse type: a TCP port, 0 meaning any free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("up", "deploy the stack locally and serve it until Ctrl-C"),
        ("output", "print the outputs of the stack being served"),
        ("env", "print shell exports for the AWS CLI to reach the stack being served"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("-s", "--stack", default="dev", help="stack name (default: dev)")
        sub.add_argument(
            "-C", "--cwd", type=Path, default=Path.cwd(), help="the Pulumi project folder"
        )
        sub.add_argument(
            "--state-dir",
            type=Path,
            default=None,
            help=f"logs, outputs and the queue snapshot (default: <project>/{STATE_DIR})",
        )
        if name == "up":
            sub.add_argument(
                "--port",
                type=int,
                default=3000,
                help="port of the first Function URL, next ones count up (0: any free port)",
            )
            sub.add_argument(
                PORT_FLAG,
                type=_port,
                default=None,
                metavar="N",
                help=f"port of the status page (default: {DEFAULT_STATUS_PORT}, or any free port "
                "when that one is taken; 0: any free port)",
            )
            sub.add_argument(
                "--fresh",
                action="store_true",
                help="start with empty queues instead of restoring what the last stop left",
            )
            sub.add_argument(
                "--no-iam",
                action="store_true",
                help="do not check calls against IAM policies (they are checked by default)",
            )
            sub.add_argument(
                "--account-concurrency",
                type=_positive,
                default=ACCOUNT_CONCURRENCY,
                metavar="N",
                help="concurrent executions the account allows across all functions; past it, "
                f"and past a function's reserved concurrency, invocations are throttled "
                f"(default: {ACCOUNT_CONCURRENCY}, as on AWS)",
            )
            sub.add_argument(
                "--max-workers",
                type=_positive,
                default=None,
                metavar="N",
                help="worker processes this machine runs at once across all functions; past "
                f"it, invocations wait for a worker (default: {default_capacity()} here, "
                "4 per CPU, at least 8)",
            )
        elif name == "output":
            sub.add_argument("name", nargs="?", help="one output to print, bare")
            sub.add_argument("--json", action="store_true", help="print as JSON")
    config_cmd.add_parser(commands)
    return parser


def format_outputs(outputs: dict[str, object]) -> str:
    lines = [f"    {key} = {value}" for key, value in sorted(outputs.items())]
    return "Outputs:\n" + "\n".join(lines)


def up(args: argparse.Namespace, started: float) -> int:
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    cloud = LocalCloud(
        args.cwd,
        stack=args.stack,
        port=args.port,
        fresh=args.fresh,
        enforce_iam=not args.no_iam,
        state_root=args.state_dir,
        account_concurrency=args.account_concurrency,
        max_workers=args.max_workers,
        status_port=DEFAULT_STATUS_PORT if args.status_port is None else args.status_port,
        status_port_fallback=args.status_port is None,
    )
    print(f"Deploying stack {args.stack!r} of {cloud.project_dir} locally...", flush=True)
    try:
        outputs = cloud.start()
    except (
        StackFileError,
        StackBusyError,
        UnsupportedResourceError,
        LocalResourceError,
        UnsupportedMotoVersionError,
        EmbeddedAwsError,
        OSError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # the program's own validation, e.g. a ConfigError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in cloud.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for queue, count in cloud.restored.items():
        print(f"restored {count} message(s) left in {queue} by the last stop", flush=True)
    print(format_outputs(outputs))
    print(f"    aws_endpoint_url = {cloud.endpoint_url}")
    iam = "IAM policies enforced" if cloud.enforce_iam else "IAM not enforced (--no-iam)"
    python = os.path.relpath(sys.executable)
    if python.startswith(".."):
        python = sys.executable
    print(f'AWS CLI: eval "$({python} -m local env -s {args.stack})" ({iam})', flush=True)
    taken = args.status_port is None and not cloud.status_url.endswith(f":{DEFAULT_STATUS_PORT}/")
    note = f" (port {DEFAULT_STATUS_PORT} was taken)" if taken else ""
    print(f"Status: {cloud.status_url}{note}", flush=True)
    ready = time.monotonic() - started
    print(f"Ready in {ready:.2f} s. Logs: {cloud.log_dir}/. Ctrl-C stops.", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        print("Stopping...", flush=True)
        cloud.stop()
        print("Stopped.", flush=True)
    return 0


def _served(args: argparse.Namespace) -> StackState | None:
    state = StackState.of(args.cwd, args.stack, args.state_dir)
    if not state.served:
        print(
            f"error: stack {args.stack!r} is not being served (no {state.outputs_file})",
            file=sys.stderr,
        )
        return None
    return state


def env(args: argparse.Namespace) -> int:
    state = _served(args)
    if state is None:
        return 2
    print(state.env_file.read_text() if state.env_file.is_file() else "", end="")
    return 0


def output(args: argparse.Namespace) -> int:
    state = _served(args)
    if state is None:
        return 2
    try:
        outputs = state.read_outputs()
    except StateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.name:
        if args.name not in outputs:
            print(f"error: no output {args.name!r}; have {sorted(outputs)}", file=sys.stderr)
            return 2
        value = outputs[args.name]
        print(json.dumps(value) if args.json else value)
    else:
        print(json.dumps(outputs, indent=2) if args.json else format_outputs(outputs))
    return 0


def main(argv: list[str] | None = None, started: float | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        return up(args, time.monotonic() if started is None else started)
    if args.command == "config":
        return config_cmd.run(args)
    return env(args) if args.command == "env" else output(args)
