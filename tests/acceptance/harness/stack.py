"""The ephemeral stack: its name, its config (the dev stack's, made safe for a throw-away
stack), and the stack itself through Pulumi's Automation API."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from harness.errors import SetupError
from infra.config import StackConfig, parse_stack_values
from local.stackfile import load_stack_config

ROOT = Path(__file__).resolve().parents[3]
"""The repository: the project the acceptance stack is a stack of."""
REGION_VARIABLE = "ASYNC_WEBHOOK_ACCEPTANCE_REGION"
"""Optional: deploy the ephemeral stack to this region instead of the dev stack's."""
BASE_STACK = "dev"
"""The stack whose settings the acceptance stack copies."""
STACK_PREFIX = "accept"

PULUMI_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
"""The Pulumi CLI's rule for a stack name (pulumi/pulumi sdk/go/common/tokens/stack_name.go)."""


def stack_name(now: datetime, token: str) -> str:
    """`accept-<UTC time>-<token>`: sorts by creation time, unique by its random token, and
    valid both as a Pulumi stack name and as the stack's `namePrefix` (infra/stack.py), so
    every physical name it creates is its own and cannot collide with a user's stack."""
    if not re.fullmatch(r"[a-z0-9]{4,12}", token):
        raise ValueError(f"token {token!r}: must be 4-12 lower-case letters or digits")
    return f"{STACK_PREFIX}-{now.astimezone(UTC):%Y%m%d-%H%M%S}-{token}"


def new_stack_name() -> str:
    return stack_name(datetime.now(UTC), secrets.token_hex(3))


@dataclass(frozen=True)
class ConfigEntry:
    """One config value as the Pulumi CLI stores it: text (JSON for lists and objects)."""

    value: str
    secret: bool = False

    def __repr__(self) -> str:
        shown = "[secret]" if self.secret else repr(self.value)
        return f"ConfigEntry({shown}, secret={self.secret})"


@dataclass(frozen=True)
class ExtraRoute:
    """A route the acceptance stack adds to the dev stack's, with its secret if it has one."""

    route: Mapping[str, Any]
    """As in the stack file: {name, path, source, ...}."""
    secret: str | None = None

    def __repr__(self) -> str:
        return f"ExtraRoute({dict(self.route)!r}, secret={'[secret]' if self.secret else None})"


@dataclass(frozen=True)
class AcceptanceConfig:
    """The acceptance stack's config, and the same values as the program reads them."""

    project: str
    stack: str
    entries: Mapping[str, ConfigEntry]
    """Full keys (`<project>:<key>`, `aws:region`) as `set_all_config` takes them."""
    parsed: StackConfig
    """What the program's own reader made of `entries` (so it passed the program's rules)."""

    @property
    def region(self) -> str:
        return self.entries["aws:region"].value


def acceptance_config(
    stack: str,
    *,
    project_dir: Path = ROOT,
    extra_routes: Sequence[ExtraRoute] = (),
    region: str | None = None,
) -> AcceptanceConfig:
    """The dev stack's settings, made safe and observable for a throw-away stack.

    - `namePrefix` is the stack's own name: every function, queue, log group and parameter is
      new and named after this run;
    - `protectData: false`: destroy must be able to delete the queues;
    - `logLevel: DEBUG`: the processor's DEBUG line previews the body, which is where the
      marker is found (functions/processor/process.py);
    - extra routes (a signed one, say) are appended to the dev stack's, their secrets set as
      one secret `routeSecrets` object, as `pulumi config set --secret --path` would.

    Raises SetupError (naming key, value and rule) if the program would refuse the result.
    """
    base = load_stack_config(project_dir, BASE_STACK)
    project = base.project
    entries = {
        key: ConfigEntry(value, secret=key in base.secret_keys)
        for key, value in base.values.items()
    }

    def own(key: str, value: str, *, secret: bool = False) -> None:
        entries[f"{project}:{key}"] = ConfigEntry(value, secret=secret)

    own("namePrefix", stack)
    own("protectData", "false")
    own("logLevel", "DEBUG")
    if region is not None:
        entries["aws:region"] = ConfigEntry(region)
    entries.setdefault("aws:region", ConfigEntry(base.region))
    if extra_routes:
        routes_key = f"{project}:routes"
        routes = json.loads(entries[routes_key].value) if routes_key in entries else []
        own("routes", json.dumps([*routes, *(dict(extra.route) for extra in extra_routes)]))
        secrets_key = f"{project}:routeSecrets"
        known = json.loads(entries[secrets_key].value) if secrets_key in entries else {}
        added = {str(e.route.get("name")): e.secret for e in extra_routes if e.secret is not None}
        if added:
            own("routeSecrets", json.dumps({**known, **added}), secret=True)
    try:
        parsed = parse_stack_values(
            {key: entry.value for key, entry in entries.items()},
            project=project,
            stack=stack,
            secret_keys=[key for key, entry in entries.items() if entry.secret],
        )
    except ValueError as exc:  # ConfigError: every broken rule, secrets never shown
        raise SetupError(f"the acceptance stack's config is refused by the program: {exc}") from exc
    return AcceptanceConfig(project=project, stack=stack, entries=entries, parsed=parsed)


class StackHandle(Protocol):
    """The life of one Pulumi stack, as the harness drives it."""

    name: str

    def create(self) -> None: ...
    def configure(self, entries: Mapping[str, ConfigEntry]) -> None: ...
    def up(self) -> dict[str, Any]: ...
    def destroy(self) -> None: ...
    def remove(self) -> None: ...


class AutomationStack:
    """A stack of this repository's program through Pulumi's Automation API, in the user's
    current `pulumi login` backend. The CLI's output is streamed line by line to `out`."""

    def __init__(self, name: str, *, work_dir: Path = ROOT, out: Callable[[str], None]) -> None:
        self.name = name
        self.work_dir = work_dir
        self.out = out
        self._stack: Any = None

    def _print(self, line: str) -> None:
        self.out(f"pulumi | {line}")

    def create(self) -> None:
        from pulumi import automation as auto

        try:
            self._stack = auto.create_stack(self.name, work_dir=str(self.work_dir))
        except auto.errors.CommandError as exc:
            hint = ""
            if "PULUMI_CONFIG_PASSPHRASE" in str(exc):
                hint = (
                    " — this backend encrypts secrets with a passphrase: export "
                    "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)"
                )
            raise SetupError(f"`pulumi stack init {self.name}` failed{hint}: {exc}") from exc

    def configure(self, entries: Mapping[str, ConfigEntry]) -> None:
        from pulumi import automation as auto

        self._stack.set_all_config(
            {
                key: auto.ConfigValue(entry.value, secret=entry.secret)
                for key, entry in entries.items()
            }
        )

    def up(self) -> dict[str, Any]:
        result = self._stack.up(on_output=self._print, color="never")
        return {key: output.value for key, output in result.outputs.items()}

    def destroy(self) -> None:
        self._stack.destroy(on_output=self._print, color="never")

    def remove(self) -> None:
        # Never --force: a stack that still has resources must stay, so it can be destroyed.
        self._stack.workspace.remove_stack(self.name)
