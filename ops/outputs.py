"""Where a command finds the stack: flags, else the local cloud, else the Pulumi CLI.

The same three sources in the same order for every command, so an operator can always override
one URL by hand (e.g. a second listener) without losing the rest of the stack.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.state import StackState, StateError, parse_environment
from ops.errors import UsageError

PULUMI_TIMEOUT_SECONDS = 60
_ENV_TO_BOTO3 = {
    "AWS_ENDPOINT_URL": "endpoint_url",
    "AWS_REGION": "region_name",
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
}


@dataclass(frozen=True)
class Stack:
    """The outputs a command needs, and how to reach the AWS that holds them."""

    outputs: dict[str, Any]
    source: str
    """Said in error messages, so a wrong URL can be traced to where it came from."""
    aws: dict[str, str] = field(default_factory=dict)
    """boto3 client keyword arguments: the local cloud's endpoint and keys; empty on AWS."""

    def output(self, name: str) -> str:
        value = self.outputs.get(name)
        if not isinstance(value, str) or not value:
            raise UsageError(f"no output {name!r} in {self.source}; have {sorted(self.outputs)}")
        return value


def local_stack(project_dir: Path, stack: str, state_root: Path | None = None) -> Stack:
    """What `python -m local up [--state-dir DIR]` wrote for the stack it serves (removed again
    when it stops). ``state_root``: that --state-dir; default the project's own."""
    state = StackState.of(project_dir, stack, state_root)
    if not state.served:
        state_flag = f" --state-dir {state_root}" if state_root is not None else ""
        raise UsageError(
            f"stack {stack!r} is not being served locally (no {state.outputs_file}); "
            f"start it with `python -m local up -s {stack}{state_flag}`"
        )
    try:
        outputs = state.read_outputs()
    except StateError as exc:
        raise UsageError(str(exc)) from exc
    return Stack(
        outputs=outputs,
        source=f"the local cloud ({state.outputs_file})",
        aws=_boto3_arguments(state.read_environment()),
    )


def parse_env(text: str) -> dict[str, str]:
    """boto3 keyword arguments from `export NAME=value` lines, as `python -m local env` prints."""
    return _boto3_arguments(parse_environment(text))


def _boto3_arguments(variables: Mapping[str, str]) -> dict[str, str]:
    """The AWS_* variables boto3 takes as client keyword arguments, renamed; others dropped."""
    return {
        _ENV_TO_BOTO3[name]: value for name, value in variables.items() if name in _ENV_TO_BOTO3
    }


def pulumi_stack(project_dir: Path, stack: str | None) -> Stack:
    """`pulumi stack output --json`: the deployed stack, as the CLI sees it."""
    command = ["pulumi", "stack", "output", "--json", "--cwd", str(project_dir)]
    if stack:
        command += ["--stack", stack]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PULUMI_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError as exc:
        raise UsageError(
            "the Pulumi CLI is not installed (no `pulumi` on PATH): pass the URLs as flags "
            "(--url, --queue-url, --dlq-url) or use --local for the local cloud"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise UsageError(f"`{' '.join(command)}` took over {PULUMI_TIMEOUT_SECONDS} s") from exc
    if result.returncode != 0:
        detail = result.stderr.strip() or result.stdout.strip()
        raise UsageError(f"`{' '.join(command)}` failed: {detail}")
    try:
        outputs = json.loads(result.stdout)
    except ValueError as exc:
        raise UsageError(f"`{' '.join(command)}` printed no JSON: {exc}") from exc
    if not isinstance(outputs, dict) or not outputs:
        raise UsageError(f"stack {stack or '(current)'} has no outputs; run `pulumi up` first")
    return Stack(outputs=outputs, source=f"pulumi stack {stack or '(current)'}")


def resolve(
    needed: Iterable[str],
    flags: Mapping[str, str | None],
    *,
    local: bool,
    stack: str | None,
    project_dir: Path,
    state_dir: Path | None = None,
) -> Stack:
    """Flags win; the local cloud or Pulumi is asked only when a flag is missing (or --local).

    A ``state_dir`` (the local cloud's --state-dir) means the local cloud, as --local does.
    """
    given = {name: value for name, value in flags.items() if value}
    needed = list(needed)
    if local or state_dir is not None:
        found = local_stack(project_dir, stack or "dev", state_dir)
    elif all(name in given for name in needed):
        return Stack(outputs=given, source="the command line")
    else:
        found = pulumi_stack(project_dir, stack)
    result = Stack(outputs={**found.outputs, **given}, source=found.source, aws=found.aws)
    for name in needed:
        result.output(name)  # fail now, naming the missing output, before anything is sent
    return result
