"""Reading `Pulumi.<stack>.yaml` the way the Pulumi CLI hands config to a program.

The CLI gives every value to the program as a string: scalars as their text, lists and maps
as JSON. Encrypted (`secure:`) values need the stack's secrets provider, which this machine
does not have, so each one must come from an environment variable named in the error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class StackFileError(ValueError):
    """The project or stack file is missing, malformed, or holds a secret we cannot read."""


@dataclass(frozen=True)
class StackConfig:
    """A stack's config as the program sees it: full keys (`project:key`) to strings."""

    project: str
    stack: str
    values: dict[str, str]
    secret_keys: list[str] = field(default_factory=list)

    @property
    def region(self) -> str:
        return self.values.get("aws:region", "us-east-1")


def secret_env_var(key: str) -> str:
    """`async-webhook:verifyToken` -> `LOCAL_SECRET_VERIFY_TOKEN`."""
    name = key.split(":", 1)[-1]
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return "LOCAL_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", snake).upper()


def read_project_name(project_dir: Path) -> str:
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise StackFileError(f"{path} not found: is {project_dir} a Pulumi project folder?")
    data = _load_yaml(path)
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise StackFileError(f"{path} has no project name")
    return name


def load_stack_config(
    project_dir: Path, stack: str, environ: Mapping[str, str] | None = None
) -> StackConfig:
    """Config of `stack`, with `secure:` values taken from `LOCAL_SECRET_*` variables."""
    env = os.environ if environ is None else environ
    project = read_project_name(project_dir)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[7:-5] for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(
            f"no stack {stack!r}: {path} not found (stacks here: {', '.join(known) or 'none'})"
        )
    data = _load_yaml(path) or {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path} must be a YAML mapping")
    raw = data.get("config") or {}
    if not isinstance(raw, dict):
        raise StackFileError(f"{path}: 'config' must be a mapping")

    values: dict[str, str] = {}
    secret_keys: list[str] = []
    missing: list[str] = []
    for key, value in raw.items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            var = secret_env_var(full)
            if var not in env:
                missing.append(f"{full} (set {var})")
                continue
            values[full] = env[var]
            secret_keys.append(full)
        else:
            values[full] = _as_config_string(value)
    if missing:
        raise StackFileError(
            f"{path} holds encrypted values that cannot be decrypted on this machine; "
            "give each one in an environment variable: " + "; ".join(missing)
        )
    return StackConfig(project=project, stack=stack, values=values, secret_keys=secret_keys)


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path} is not valid YAML: {exc}") from exc
