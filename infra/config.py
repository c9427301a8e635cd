"""The stack's configuration, read once into the components' own `*Args`.

`load_config()` runs when the program runs, so `pulumi preview` fails before AWS is called. It
never stops at the first mistake: every component's settings are read, every component's rules
are checked, and every problem is reported at once, each naming the key, the value and the
rule, because a deploy loop that reveals one typo per run wastes the user's afternoon.

This module knows which components a stack has, not what their settings are: each `*Args`
declares its own keys, defaults and rules (docs/design.md, "Configuration").
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pulumi
from pulumi.runtime import config as runtime_config

from infra.consumer import ConsumerArgs
from infra.listener import ListenerArgs
from infra.monitoring import MonitoringArgs
from infra.python_function import RuntimeArgs
from infra.queue import QueueArgs
from infra.settings import (
    ConfigError,
    Problem,
    json_or_text,
    read_args,
    settings_of,
    unknown_keys,
)
from infra.stack import StackArgs

RETIRED: Mapping[str, str] = {
    "listenerPaths": "was replaced by routes: a list of {name, path, source}, e.g. "
    "[{name: demo, path: /append_queue, source: none}]",
    "verifyToken": "was replaced by routeSecrets: the Strava route's verify token is "
    "`pulumi config set --secret --path 'routeSecrets.<route name>' VALUE`",
}
"""Keys of earlier versions, with what replaced them."""


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """Every component's settings, each read and checked by the component that owns it."""

    stack: StackArgs
    runtime: RuntimeArgs
    queue: QueueArgs
    listener: ListenerArgs
    processor: ConsumerArgs
    monitoring: MonitoringArgs

    def problems(self, failed: frozenset[str] = frozenset()) -> list[Problem]:
        """The rules that span settings, each checked by the component whose rule it is.

        `failed` names the keys whose values did not parse (their defaults stand in): a rule
        that reads one of them is skipped rather than report a problem that is not there.
        """
        return [
            *self.stack.problems(),
            *self.queue.problems(failed),
            *self.listener.problems(self.queue, failed),
            *self.processor.problems(self.queue, failed),
            *self.monitoring.problems(self.queue, self.listener, failed),
        ]


def components() -> dict[str, type]:
    """Field of `StackConfig` -> the `*Args` class it holds."""
    hints = typing.get_type_hints(StackConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(StackConfig)}


def known_keys() -> list[str]:
    """Every config key some component reads."""
    return [spec.key for cls in components().values() for _, spec in settings_of(cls)]


FOREIGN_NAMESPACES = frozenset({"aws", "pulumi"})
"""Namespaces that are never this program's: a key there that shares a name with one of ours is
the provider's or Pulumi's own."""


def parse_config(
    raw: Mapping[str, str],
    *,
    project: str,
    stack: str,
    secret_keys: Iterable[str] = (),
    elsewhere: Iterable[Problem] = (),
) -> StackConfig:
    """`StackConfig` from raw values keyed without the project namespace, as the Pulumi CLI
    passes them (strings; lists and objects as JSON). Raises `ConfigError` listing every
    broken rule (``elsewhere``: those found outside the project's namespace first); secret
    values are never shown in it."""
    secret = set(secret_keys)
    problems: list[Problem] = list(elsewhere)
    for key in raw:
        if key in RETIRED:
            was_secret = key in secret or key == "verifyToken"  # a token, even if set in plain text
            problems.append(Problem(key, json_or_text(raw[key]), RETIRED[key], secret=was_secret))
    rest = {k: v for k, v in raw.items() if k not in RETIRED}
    problems.extend(unknown_keys(rest, known_keys(), secret))

    identity = {"project": project, "stack": stack}
    config = StackConfig(
        **{
            name: read_args(
                cls, rest, problems, secret_keys=secret, **(identity if cls is StackArgs else {})
            )
            for name, cls in components().items()
        }
    )
    failed = frozenset(_root(p.key) for p in problems)
    problems.extend(config.problems(failed))
    if problems:
        raise ConfigError(problems, project)
    return config


def _root(key: str) -> str:
    """`routes[1].path` -> `routes`; `routeSecrets.gh` -> `routeSecrets`."""
    for mark in ("[", "."):
        key = key.split(mark, 1)[0]
    return key


def parse_stack_values(
    values: Mapping[str, object],
    *,
    project: str,
    stack: str,
    secret_keys: Iterable[str] = (),
) -> StackConfig:
    """`parse_config` of a whole stack's values, keyed `<namespace>:<key>` as the Pulumi CLI
    hands them over (other namespaces, such as `aws:`, are left out)."""
    prefix = f"{project}:"
    secret = set(secret_keys)
    raw: dict[str, str] = {}
    own_secrets: list[str] = []
    elsewhere: list[Problem] = []
    ours = {*known_keys(), *RETIRED}
    for full_key, value in values.items():
        if full_key.startswith(prefix):
            key = full_key[len(prefix) :]
            raw[key] = value if isinstance(value, str) else json.dumps(value)
            if full_key in secret:
                own_secrets.append(key)
            continue
        namespace, _, key = full_key.partition(":")
        if namespace not in FOREIGN_NAMESPACES and _root(key) in ours:
            # Pulumi hands a program every namespace; ours reads only the project's, so this
            # key (left over from a rename of the project, or copied from another) would be
            # ignored without a word.
            rule = (
                f"set under '{namespace}', but this project is named '{project}' (Pulumi.yaml) "
                f"and reads only its own keys: write it as {project}:{key}"
            )
            problem = Problem(
                key, json_or_text(value), rule, secret=full_key in secret, namespace=namespace
            )
            elsewhere.append(problem)
    return parse_config(
        raw, project=project, stack=stack, secret_keys=own_secrets, elsewhere=elsewhere
    )


def load_config() -> StackConfig:
    """Reads the running stack's configuration (the project's namespace) and checks it."""
    every = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = [key for key in every if runtime_config.is_config_secret(key)]
    return parse_stack_values(
        every, project=pulumi.get_project(), stack=pulumi.get_stack(), secret_keys=secret
    )
