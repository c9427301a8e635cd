"""`python -m ops`: operator commands for a deployed async-webhook stack, on AWS or local.

Where the stack's URLs come from, in order: the flags (--url, --queue-url, --dlq-url); else,
with --local, the local cloud being served (`python -m local up`, .local/<stack>/, or the folder
given to both as --state-dir); else `pulumi stack output --json` of the project folder. Exit
status: 0 ok, 1 the operation failed, 2 bad input or configuration (nothing was sent).
`strava subscribe / view / unsubscribe` act as your Strava application: $STRAVA_CLIENT_ID and
$STRAVA_CLIENT_SECRET (ops/strava.py).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from local.stackfile import secret_env_var
from local.state import STATE_DIR
from ops import dlq, signing, strava, webhook
from ops.errors import OpsError, UsageError
from ops.outputs import Stack, resolve
from ops.routes import StackRoute, pick_route, stack_routes

_REGION_IN_URL = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return value


def _source_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("where the stack is (flags, else --local, else Pulumi)")
    group.add_argument(
        "--local", action="store_true", help="the local cloud being served (python -m local up)"
    )
    group.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"the --state-dir that `python -m local up` was given (implies --local; "
        f"default: <project>/{STATE_DIR})",
    )
    group.add_argument("-s", "--stack", help="stack name (default: Pulumi's current; dev locally)")
    group.add_argument(
        "-C", "--cwd", type=Path, default=Path.cwd(), help="the Pulumi project folder"
    )
    return options


def _parser() -> argparse.ArgumentParser:
    source = _source_options()
    parser = argparse.ArgumentParser(
        prog="python -m ops", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    text = "POST JSON event files to the listener, like a webhook sender"
    send = commands.add_parser("send", parents=[source], help=text, description=text)
    send.add_argument("files", nargs="+", type=Path, metavar="EVENT_FILE", help="a JSON file")
    send.add_argument("--url", help="listener URL (default: output listener_url)")
    send.add_argument(
        "--route",
        help="post to this route of the stack file (-s STACK, or dev with --local), signed with "
        "its scheme and current secret, as its sender would",
    )
    send.add_argument("--path", help=f"default: the route's path, else {webhook.DEFAULT_PATH}")
    send.add_argument("--count", type=_positive, default=1, help="send each file N times")
    send.add_argument("--timeout", type=float, default=webhook.DEFAULT_TIMEOUT_SECONDS)

    strava_commands = commands.add_parser(
        "strava", help="Strava: handshake check, push subscription"
    ).add_subparsers(dest="strava_command", required=True, metavar="COMMAND")
    text = (
        "simulate Strava's subscription handshake (GET with hub.challenge) and check that the "
        "listener echoes the challenge; exit 0 if it does, 1 if not"
    )
    handshake = strava_commands.add_parser(
        "handshake", parents=[source], help=text, description=text
    )
    handshake.add_argument(
        "--token",
        help="the verify token (default: $STRAVA_VERIFY_TOKEN, else the route's routeSecrets)",
    )
    handshake.add_argument("--url", help="listener URL (default: output listener_url)")
    handshake.add_argument(
        "--route", help="the Strava route (default: the stack file's only one; -s or --local)"
    )
    handshake.add_argument("--path", help="default: the Strava route's path")
    handshake.add_argument("--timeout", type=float, default=webhook.DEFAULT_TIMEOUT_SECONDS)
    _strava_subscription_commands(strava_commands, source)

    queues = commands.add_parser("dlq", help="count, peek at or redrive the dead-letter queue")
    dlq_commands = queues.add_subparsers(dest="dlq_command", required=True, metavar="COMMAND")
    for name, text in (
        ("count", "approximate messages (visible, in flight, delayed) in the queue and the DLQ"),
        (
            "peek",
            "show up to N DLQ messages without consuming them: id, receive count, path, "
            "receivedAt, requestId, size; the body only with --body (it may hold user data). "
            "Each is received with a short visibility timeout, then made visible again at once; "
            "its receive count goes up by one",
        ),
        (
            "redrive",
            "move DLQ messages back to the queue, keeping body and message attributes (FIFO: "
            "same MessageGroupId, deduplication id from the DLQ message id). Each is deleted "
            "from the DLQ only after its send succeeded. On AWS, `aws sqs "
            "start-message-move-task` does the same; moto and so the local cloud lack it, this "
            "works in both",
        ),
    ):
        sub = dlq_commands.add_parser(name, parents=[source], help=text, description=text)
        sub.add_argument("--queue-url", help="main queue URL (default: output queue_url)")
        sub.add_argument("--dlq-url", help="dead-letter queue URL (default: output dlq_url)")
        if name == "peek":
            sub.add_argument("--max", type=_positive, default=10, help="default: %(default)s")
            sub.add_argument("--body", action="store_true", help="also print each body")
        elif name == "redrive":
            sub.add_argument("--max", type=_positive, help="move at most N (default: all)")
            sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def _strava_subscription_commands(commands: Any, source: argparse.ArgumentParser) -> None:
    """subscribe / view / unsubscribe: the application's push subscription (ops/strava.py)."""
    api = argparse.ArgumentParser(add_help=False)
    group = api.add_argument_group(
        f"the Strava application (${strava.CLIENT_ID_VARIABLE}, ${strava.CLIENT_SECRET_VARIABLE})"
    )
    group.add_argument("--api-url", default=strava.DEFAULT_API_URL, help="default: %(default)s")
    group.add_argument(
        "-v", "--verbose", action="store_true", help="print each API call (secrets as ***)"
    )
    text = (
        "create the application's push subscription: first play Strava's handshake against the "
        "callback (a wrong token or an unreachable listener stops here, before Strava is "
        "called), then ask Strava, which repeats it, and print the subscription id"
    )
    subscribe = commands.add_parser("subscribe", parents=[source, api], help=text, description=text)
    subscribe.add_argument(
        "--callback-url", help="default: output listener_url + the Strava route's path"
    )
    subscribe.add_argument(
        "--verify-token",
        help=f"default: ${strava.TOKEN_VARIABLE}, else routeSecrets.<route> of the stack file",
    )
    subscribe.add_argument("--route", help="the Strava route to use when the stack has several")
    subscribe.add_argument(
        "--skip-handshake-check",
        action="store_true",
        help="for a callback Strava can reach but this machine cannot; Strava still checks",
    )
    text = "show the application's subscription (id, callback URL, created, updated), or none"
    commands.add_parser("view", parents=[api], help=text, description=text)
    text = "delete the subscription (default: the one `view` shows); asks first unless --yes"
    unsubscribe = commands.add_parser("unsubscribe", parents=[api], help=text, description=text)
    unsubscribe.add_argument("--id", type=_positive, help="the subscription id (default: view's)")
    unsubscribe.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _stack(args: argparse.Namespace, needed: tuple[str, ...]) -> Stack:
    flags = {
        "listener_url": getattr(args, "url", None),
        "queue_url": getattr(args, "queue_url", None),
        "dlq_url": getattr(args, "dlq_url", None),
    }
    return resolve(
        needed,
        flags,
        local=args.local,
        stack=args.stack,
        project_dir=args.cwd,
        state_dir=args.state_dir,
    )


def sqs_client(stack: Stack, queue_url: str) -> Any:
    """Created only when a command runs: importing ops never touches AWS."""
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = dict(stack.aws)
    if not kwargs.get("region_name") and boto3.session.Session().region_name is None:
        match = _REGION_IN_URL.match(queue_url)
        if match:  # the queue URL names its region; spares the operator an AWS_REGION
            kwargs["region_name"] = match.group(1)
    config = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard"})
    return boto3.client("sqs", config=config, **kwargs)


def _stack_name(args: argparse.Namespace) -> str | None:
    """The stack whose file holds the routes: -s, else dev for the local cloud (--local, or a
    --state-dir, which implies it); None for a deployed stack named by Pulumi alone."""
    return args.stack or ("dev" if args.local or args.state_dir is not None else None)


def _stack_file(args: argparse.Namespace) -> str:
    name = _stack_name(args)
    if name is None:
        raise UsageError("--route needs the stack whose file holds the routes: -s STACK")
    return str(name)


def _routes(args: argparse.Namespace) -> dict[str, StackRoute]:
    return stack_routes(args.cwd, _stack_file(args))


def _signer(route: StackRoute) -> webhook.Signer | None:
    """How `route`'s sender signs a body, now; None for routes that verify no signature."""
    if route.source in signing.NO_SECRET:
        return None
    secret = route.secret
    if secret is None:
        raise UsageError(
            f"route {route.name!r} ({route.source}) signs with routeSecrets.{route.name}, which "
            f"the stack file does not give here: set PULUMI_CONFIG_PASSPHRASE, or "
            f"{secret_env_var('routeSecrets', [route.name])}"
        )
    return lambda body: signing.sign(route.listener, secret, body, time.time())


def _confirm(question: str) -> bool:
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.command == "send":
        path, sign = args.path or webhook.DEFAULT_PATH, None
        if args.route is not None:
            route = pick_route(_routes(args), args.route, stack=_stack_file(args))
            path, sign = args.path or route.path, _signer(route)
        stack = _stack(args, ("listener_url",))
        return webhook.send(
            stack.output("listener_url"),
            args.files,
            path=path,
            count=args.count,
            timeout=args.timeout,
            sign=sign,
            out=out,
        )
    if args.command == "strava" and args.strava_command != "handshake":
        return _strava(args, out)
    if args.command == "strava":
        token = args.token or os.environ.get(strava.TOKEN_VARIABLE, "")
        path = args.path
        if not token or not path:  # from the stack file's Strava route, as subscribe reads it
            try:
                found = strava.strava_route_defaults(args.cwd, _stack_name(args), route=args.route)
            except strava.NoDefaultsError as exc:
                missing = " and ".join(
                    n for n, v in (("--token", token), ("--path", path)) if not v
                )
                raise UsageError(
                    f"{exc}: pass {missing} (the token also as ${strava.TOKEN_VARIABLE}), or "
                    "-s STACK / --local to read them from the stack file's Strava route"
                ) from None
            path = path or found.path
            if not token:
                if found.token is None:
                    raise UsageError(
                        f"no verify token: {found.token_problem}; pass --token or set "
                        f"{strava.TOKEN_VARIABLE}"
                    )
                token = found.token.reveal()
        stack = _stack(args, ("listener_url",))
        return webhook.handshake(
            stack.output("listener_url"), token, path=path, timeout=args.timeout, out=out
        )
    needed = ("dlq_url",) if args.dlq_command == "peek" else ("queue_url", "dlq_url")
    stack = _stack(args, needed)
    dlq_url = stack.output("dlq_url")
    sqs = sqs_client(stack, dlq_url)
    if args.dlq_command == "count":
        return dlq.count(sqs, stack.output("queue_url"), dlq_url, out=out)
    if args.dlq_command == "peek":
        return dlq.peek(sqs, dlq_url, max_count=args.max, body=args.body, out=out)
    return dlq.redrive(
        sqs,
        stack.output("queue_url"),
        dlq_url,
        max_count=args.max,
        confirm=None if args.yes else _confirm,
        out=out,
    )


def _strava(args: argparse.Namespace, out: TextIO) -> int:
    api = strava.StravaApi(
        args.api_url, strava.credentials(os.environ), log=sys.stderr if args.verbose else None
    )
    if args.strava_command == "view":
        return strava.view(api, out=out)
    if args.strava_command == "unsubscribe":
        confirm = None if args.yes else _confirm
        return strava.unsubscribe(api, subscription_id=args.id, confirm=confirm, out=out)
    callback_url, token = strava.callback_and_token(
        callback_url=args.callback_url,
        verify_token=args.verify_token or os.environ.get(strava.TOKEN_VARIABLE),
        defaults=lambda: strava.strava_route_defaults(
            args.cwd, _stack_name(args), route=args.route
        ),
        listener_url=lambda: _stack(args, ("listener_url",)).output("listener_url"),
    )
    return strava.subscribe(
        api,
        callback_url=callback_url,
        token=token,
        handshake_first=not args.skip_handshake_check,
        out=out,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except OpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
