"""A strict evaluator of the CloudWatch Logs JSON filter patterns the program declares, so tests
can run a pattern over real log lines (moto stores metric filters but never applies them).

Only the subset the program writes: `{ ... }` around conditions `$.field = value` or `!=`,
joined by `&&` or `||`, with parentheses; a number compares with a JSON number, a quoted
string with a JSON string. Anything else, including `&&` and `||` mixed without parentheses
(whose precedence a reader should not have to know), is a `PatternError`, never a guess.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<paren>[()])|(?P<join>&&|\|\|)|(?P<op>!=|=)"
    r"|(?P<selector>\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+)"
    r"|(?P<string>\"[^\"]*\")|(?P<number>-?\d+(?:\.\d+)?))"
)


class PatternError(ValueError):
    """The pattern is outside the subset this evaluator understands."""


def matches(pattern: str, line: str) -> bool:
    """Whether CloudWatch would count this log line (a line that is not a JSON object never
    matches a JSON pattern)."""
    stripped = pattern.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        raise PatternError(f"not a JSON filter pattern: {pattern!r}")
    tokens = _tokens(stripped[1:-1])
    try:
        event = json.loads(line)
    except ValueError:
        event = None
    result, rest = _expression(tokens, event if isinstance(event, dict) else None)
    if rest:
        raise PatternError(f"unexpected {rest[0][1]!r} in {pattern!r}")
    return result


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise PatternError(f"cannot read {text[position:]!r}")
        found.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return found


def _expression(
    tokens: list[tuple[str, str]], event: dict[str, Any] | None
) -> tuple[bool, list[tuple[str, str]]]:
    value, rest = _term(tokens, event)
    joins: set[str] = set()
    while rest and rest[0][0] == "join":
        joins.add(rest[0][1])
        if len(joins) > 1:
            raise PatternError("&& and || mixed without parentheses")
        right, rest = _term(rest[1:], event)
        value = (value and right) if "&&" in joins else (value or right)
    return value, rest


def _term(
    tokens: list[tuple[str, str]], event: dict[str, Any] | None
) -> tuple[bool, list[tuple[str, str]]]:
    if not tokens:
        raise PatternError("a condition is missing")
    if tokens[0] == ("paren", "("):
        value, rest = _expression(tokens[1:], event)
        if not rest or rest[0] != ("paren", ")"):
            raise PatternError("a parenthesis is not closed")
        return value, rest[1:]
    if len(tokens) < 3 or [kind for kind, _ in tokens[:2]] != ["selector", "op"]:
        raise PatternError(f"expected `$.field = value`, got {tokens[:3]}")
    (_, selector), (_, op), (kind, literal) = tokens[:3]
    if kind not in ("string", "number"):
        raise PatternError(f"expected a quoted string or a number, got {literal!r}")
    expected: object = json.loads(literal)
    actual = _select(event, selector)
    if kind == "number":
        equal = isinstance(actual, int | float) and not isinstance(actual, bool)
        equal = equal and actual == expected
    else:
        equal = isinstance(actual, str) and actual == expected
    present = actual is not _MISSING
    return (equal if op == "=" else present and not equal), tokens[3:]


_MISSING = object()


def _select(event: dict[str, Any] | None, selector: str) -> object:
    value: object = event if event is not None else _MISSING
    for name in selector.split(".")[1:]:
        if not isinstance(value, dict) or name not in value:
            return _MISSING
        value = value[name]
    return value
