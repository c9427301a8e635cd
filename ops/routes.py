"""A stack's routes and their secrets, read from its stack file the way the program reads them.

The program's own config code (`infra/config.py`) turns `Pulumi.<stack>.yaml` into routes with
every option filled in, so `ops send --route` signs exactly as the deployed listener verifies;
secrets are read as the local cloud reads them (`local/stackfile.py`: a passphrase-encrypted
stack file, or LOCAL_SECRET_* variables). Nothing here prints a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import parse_stack_values
from infra.settings import ConfigError
from local.stackfile import StackFileError, load_stack_config
from ops.errors import UsageError


@dataclass(frozen=True)
class StackRoute:
    """One route of a stack: how the listener serves it, and its secrets (current first)."""

    name: str
    path: str
    source: str
    listener: dict[str, Any]
    """The route as the listener receives it (its options complete)."""
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def secret(self) -> str | None:
        """The current secret (a sender signs with it), or None."""
        return self.secrets[0] if self.secrets else None


class RouteError(UsageError):
    """The stack file cannot give the routes asked for; the message says why."""


def stack_routes(
    project_dir: Path, stack: str, environ: Mapping[str, str] | None = None
) -> dict[str, StackRoute]:
    """Every route of `stack`, by name, with its secrets when the stack holds them."""
    try:
        values = load_stack_config(project_dir, stack, environ)
    except StackFileError as exc:
        raise RouteError(str(exc)) from None
    try:
        config = parse_stack_values(
            values.values, project=values.project, stack=stack, secret_keys=values.secret_keys
        )
    except ConfigError as exc:  # never holds a secret's value
        raise RouteError(f"Pulumi.{stack}.yaml: {exc}") from None
    secrets = config.listener.secrets
    return {
        route.name: StackRoute(
            route.name, route.path, route.source, route.to_listener(), secrets.get(route.name, ())
        )
        for route in config.listener.routes
    }


def pick_route(
    routes: Mapping[str, StackRoute], name: str | None, *, stack: str, source: str | None = None
) -> StackRoute:
    """The route named `name`; without a name, the only one of `source` (or the only one)."""
    file = f"Pulumi.{stack}.yaml"
    candidates = [r for r in routes.values() if source is None or r.source == source]
    kind = f"{source} route" if source else "route"
    if name is not None:
        chosen = routes.get(name)
        if chosen is None or chosen not in candidates:
            listed = ", ".join(r.name for r in candidates) or "none"
            raise RouteError(f"--route {name}: {file} has no {kind} so named ({listed})")
        return chosen
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise RouteError(f"{file} has no {kind}")
    listed = ", ".join(r.name for r in candidates)
    raise RouteError(f"{file} has {len(candidates)} {kind}s ({listed}): pick one with --route")
