"""`python -m local config set|get`: the stack file's config, as `pulumi config set|get` keeps it.

Values written here are read by `pulumi config get` and `pulumi up` (same file, same passphrase
format), and the other way round. Secrets need `PULUMI_CONFIG_PASSPHRASE` (or
`PULUMI_CONFIG_PASSPHRASE_FILE`); nothing prompts. `get` prints a secret only with
`--show-secrets`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from local.stackfile import StackFileError, get_config
from local.stackfile_write import set_config


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `config` and its `set` and `get` to the `python -m local` parser."""
    text = "read or change the stack's config in Pulumi.<stack>.yaml, as `pulumi config` does"
    config = commands.add_parser("config", help=text, description=__doc__)
    actions = config.add_subparsers(dest="config_command", required=True)

    setter = actions.add_parser(
        "set",
        help="set a value (`--secret` encrypts it with the stack's passphrase)",
        description="Set KEY to VALUE in the stack file; VALUE from standard input when omitted.",
    )
    setter.add_argument("key", help="config key, e.g. logLevel or aws:region")
    setter.add_argument("value", nargs="?", help="the value (default: read standard input)")
    kind = setter.add_mutually_exclusive_group()
    kind.add_argument("--secret", action="store_true", help="encrypt the value")
    kind.add_argument("--plaintext", action="store_true", help="store the value unencrypted")
    setter.add_argument(
        "--path", action="store_true", help="KEY is a path into a map or list: a.b, a[0]"
    )

    getter = actions.add_parser(
        "get",
        help="print one value",
        description="Print KEY's value as the program receives it (a LOCAL_SECRET_* "
        "variable wins over the file, as it does for `local up`).",
    )
    getter.add_argument("key", help="config key, e.g. logLevel or aws:region")
    getter.add_argument(
        "--path", action="store_true", help="KEY is a path into a map or list: a.b, a[0]"
    )
    getter.add_argument(
        "--show-secrets", action="store_true", help="print the value even when it is a secret"
    )
    for sub in (setter, getter):
        sub.add_argument("-s", "--stack", default="dev", help="stack name (default: dev)")
        sub.add_argument(
            "-C", "--cwd", type=Path, default=Path.cwd(), help="the Pulumi project folder"
        )


def run(args: argparse.Namespace) -> int:
    try:
        if args.config_command == "set":
            value = args.value if args.value is not None else _stdin_value()
            set_config(args.cwd, args.stack, args.key, value, secret=args.secret, path=args.path)
            return 0
        got = get_config(args.cwd, args.stack, args.key, path=args.path)
    except StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if got.secret and not args.show_secrets:
        print(
            f"error: {args.key} is a secret (or holds one); add --show-secrets to print it",
            file=sys.stderr,
        )
        return 2
    print(got.text)
    return 0


def _stdin_value() -> str:
    """The value piped in, less one trailing newline (the CLI's rule without `--raw`)."""
    if sys.stdin.isatty():
        raise StackFileError("give VALUE as an argument or on standard input")
    return sys.stdin.read().removesuffix("\n")
