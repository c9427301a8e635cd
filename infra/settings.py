"""How a component declares the stack settings it reads, and how they are read and checked.

A component's `*Args` dataclass declares each setting it owns as a field made by `setting()`:
the config key, the default, and how the raw value is parsed and bounded. `read_args()` fills
one such dataclass from the raw config strings the Pulumi CLI hands the program; the
component's own `problems()` then checks the rules that span several fields. Nothing here knows
any component, so adding a setting touches only the component that uses it (and its docs row
and test). See docs/design.md, "Configuration".

Every problem is collected, never raised on its own: the user fixes all of them in one go.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

SECRET_SHOWN_AS = "<secret>"


@dataclass(frozen=True)
class Problem:
    """One broken rule: which key, what value it had, and what the rule is."""

    key: str
    value: object
    rule: str
    secret: bool = False
    """The value is (or may be) a secret: it is never kept, so it cannot be shown."""
    namespace: str | None = None
    """The key's own namespace when it is not the project's (a key set under another name)."""

    def __post_init__(self) -> None:
        if self.secret:
            object.__setattr__(self, "value", None)

    def describe(self, namespace: str) -> str:
        shown = SECRET_SHOWN_AS if self.secret else json.dumps(self.value, default=str)
        return f"{self.namespace or namespace}:{self.key} = {shown}: {self.rule}"


class ConfigError(ValueError):
    """The stack configuration breaks one or more rules; `problems` lists them all."""

    def __init__(self, problems: Sequence[Problem], namespace: str) -> None:
        self.problems = list(problems)
        self.namespace = namespace
        lines = "\n".join(f"  - {p.describe(namespace)}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"invalid stack configuration ({count} problem{'s' if count != 1 else ''}):\n{lines}"
        )


class Invalid(ValueError):
    """Raised by a parser: the raw value breaks `rule` (shown as `value`), or, for structured
    settings, each of `problems` (keys such as `routes[1].source`)."""

    def __init__(
        self, rule: str, value: object = None, *, problems: Sequence[Problem] = ()
    ) -> None:
        super().__init__(rule)
        self.rule = rule
        self.value = value
        self.problems = list(problems)


Parser = Callable[[str], Any]
"""Turns the raw config text into the field's value, or raises `Invalid`."""


@dataclass(frozen=True)
class Setting:
    """What `setting()` records on a field: its config key and how to parse it."""

    key: str
    parse: Parser
    secret: bool = False


def setting(key: str, default: Any, parse: Parser, *, secret: bool = False) -> Any:
    """A dataclass field read from the stack config key `key` (the default when unset).

    A secret setting is left out of the dataclass's repr, so it cannot reach a log by accident.
    """
    meta = {"setting": Setting(key, parse, secret)}
    if isinstance(default, list | dict | set):
        raise TypeError("mutable defaults: use a tuple or a frozen mapping")
    return dataclasses.field(default=default, metadata=meta, repr=not secret)


def settings_of(cls: type) -> list[tuple[str, Setting]]:
    """(field name, Setting) for every field of `cls` that is read from the config."""
    return [
        (f.name, f.metadata["setting"]) for f in dataclasses.fields(cls) if "setting" in f.metadata
    ]


def read_args(
    cls: type[T],
    raw: Mapping[str, str],
    problems: list[Problem],
    *,
    secret_keys: Iterable[str] = (),
    **context: Any,
) -> T:
    """An instance of `cls` from raw config values (keys without the namespace).

    A value that fails to parse is reported and its default used, so that the rules spanning
    several fields still run and report what else is wrong. A secret setting given in plain
    text is refused (it would sit unencrypted in the stack file). `context` fills the fields
    that are not settings (the project and stack names, say).
    """
    secret = set(secret_keys)
    values: dict[str, Any] = dict(context)
    for name, spec in settings_of(cls):
        text = raw.get(spec.key)
        if text is None:
            continue
        if spec.secret and spec.key not in secret:
            problems.append(
                Problem(
                    spec.key,
                    None,
                    f"must be a secret: `pulumi config set --secret --path '{spec.key}.NAME' "
                    "VALUE` (then remove the plain-text value)",
                    secret=True,
                )
            )
            continue
        try:
            values[name] = spec.parse(text)
        except Invalid as exc:
            if exc.problems:
                problems.extend(exc.problems)
                continue
            shown = text if exc.value is None else exc.value
            problems.append(Problem(spec.key, json_or_text(shown), exc.rule, spec.secret))
    return cls(**values)


def unknown_keys(
    raw: Mapping[str, str], known: Iterable[str], secret_keys: Iterable[str] = ()
) -> list[Problem]:
    """A problem for every key no component reads, with the closest known key as a hint."""
    known = sorted(known)
    secret = set(secret_keys)
    found: list[Problem] = []
    for key in raw:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        found.append(
            Problem(
                key,
                json_or_text(raw[key]),
                f"is not a setting of this project{hint}",
                key in secret,
            )
        )
    return found


def json_or_text(text: object) -> object:
    """Raw config text shown as the value it spells (`5` not `"5"`, a list as a list)."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


# ---- parsers -----------------------------------------------------------------------------


def integer(low: int, high: int) -> Parser:
    """A whole number within [low, high]."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*-?\d+\s*", text):
            raise Invalid("must be a whole number")
        value = int(text)
        if not low <= value <= high:
            raise Invalid(f"must be between {low} and {high}", value)
        return value

    return parse


def or_none(parse: Parser) -> Parser:
    """`parse`, or the word `none` for "not set" (where the default is a value)."""

    def either(text: str) -> Any:
        if text.strip().lower() == "none":
            return None
        try:
            return parse(text)
        except Invalid as exc:
            raise Invalid(f"{exc.rule}, or none", exc.value) from None

    return either


def boolean(text: str) -> bool:
    """true or false, in any case."""
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise Invalid("must be true or false")
    return lowered == "true"


def one_of(choices: Sequence[T]) -> Parser:
    """One of `choices`, compared as text (the CLI passes numbers as text too)."""

    def parse(text: str) -> T:
        for option in choices:
            if text.strip() == str(option):
                return option
        raise Invalid(f"must be one of {', '.join(str(c) for c in choices)}", json_or_text(text))

    return parse


def text(pattern: re.Pattern[str], rule: str) -> Parser:
    """A string matching `pattern`; the empty string means unset."""

    def parse(value: str) -> str | None:
        if value == "":
            return None
        if not pattern.fullmatch(value):
            raise Invalid(rule, value)
        return value

    return parse


def json_value(text: str, expected: str, key_hint: str) -> Any:
    """Structured config (lists, objects) arrives as JSON text from the Pulumi CLI."""
    try:
        return json.loads(text)
    except ValueError:
        raise Invalid(
            f"must be {expected} (in the stack file YAML; on the command line "
            f"`pulumi config set --path '{key_hint}' VALUE`)",
            text,
        ) from None


def string_list(item: Callable[[str], str | None], *, key: str, non_empty: bool = True) -> Parser:
    """A list of strings, each checked by `item` (which returns an error or None)."""

    def parse(raw: str) -> tuple[str, ...]:
        value = json_value(raw, "a list of strings", f"{key}[0]")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(
                f"must be a list of strings (in the stack file a YAML list; on the command "
                f"line `pulumi config set --path '{key}[0]' VALUE`)",
                value,
            )
        if non_empty and not value:
            raise Invalid("must not be empty", value)
        for entry in value:
            error = item(entry)
            if error:
                raise Invalid(error, entry)
        return tuple(value)

    return parse


def string_map(*, key: str) -> Parser:
    """An object of string values (e.g. tags)."""

    def parse(raw: str) -> tuple[tuple[str, str], ...]:
        value = json_value(raw, "an object of strings", f"{key}.NAME")
        if not isinstance(value, dict) or not all(
            isinstance(v, str | int | float | bool) for v in value.values()
        ):
            raise Invalid("must be an object whose values are strings", value)
        return tuple((str(k), _as_text(v)) for k, v in value.items())

    return parse


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
