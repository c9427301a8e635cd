"""The Pulumi CLI's model of config: keys, property paths, `secure:` leaves, values as text.

Pure functions over the values a stack file holds, shared by reading and writing it
(docs/design.md, 'The local cloud'). The rules are the CLI's: the key grammar of
`pulumi config`, the path grammar of `--path`, a ciphertext as a map of the single key
`secure`, and objects handed to the program as Go's `encoding/json` writes them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

SECURE = "secure"

PathElement = str | int


class ConfigRuleError(ValueError):
    """A key, path or value the CLI's rules refuse; the message names it and the rule."""


def format_path(key: str, path: Sequence[PathElement]) -> str:
    """`async-webhook:routeSecrets` and `["gh"]` -> `async-webhook:routeSecrets.gh` (CLI syntax)."""
    text = key
    for element in path:
        if isinstance(element, int):
            text += f"[{element}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", element):
            text += f".{element}"
        else:
            text += '["' + element.replace('"', '\\"') + '"]'
    return text


def parse_config_key(project: str, key: str, *, path: bool) -> tuple[str, list[PathElement]]:
    """The full config key and the property path under the CLI's rules (`--path` or not).

    Without `--path` the whole name is one element; with it, `a.b[0]` is `["a", "b", 0]`.
    """
    if not path:
        full = _parse_key(project, key)
        return full, [full.split(":", 1)[1]]
    split = min((i for i in (key.find("["), key.find(".")) if i >= 0), default=-1)
    if split > 0:
        namespace, name = _parse_key(project, key[:split]).split(":", 1)
        name += key[split:]
    else:
        namespace, name = _parse_key(project, key).split(":", 1)
    try:
        elements = parse_property_path(name)
    except ValueError as exc:
        raise ConfigRuleError(f"invalid configuration key {key!r}: {exc}") from None
    if not elements:
        raise ConfigRuleError(f"invalid configuration key {key!r}: empty config key path")
    first = elements[0]
    if not isinstance(first, str):
        raise ConfigRuleError(
            f"invalid configuration key {key!r}: the first path segment must be a name"
        )
    if not first:
        raise ConfigRuleError(f"invalid configuration key {key!r}: config key is empty")
    return f"{namespace}:{first}", elements


def parse_property_path(text: str) -> list[PathElement]:
    """The CLI's strict property path grammar: `a.b`, `a[0]`, `a["b.c"]`, `["x"].y`."""
    if text.startswith("."):
        raise ValueError("expected property path to start with a name or index")
    elements: list[PathElement] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == ".":
            i += 1
            if i == n:
                raise ValueError("expected property path to end with a name or index")
            if text[i] == "[":
                raise ValueError("expected property name after '.'")
        elif text[i] == "[":
            if i + 1 < n and text[i + 1] == '"':
                j, name = i + 2, []
                while True:
                    if j >= n:
                        raise ValueError("missing closing quote in property name")
                    if text[j] == '"':
                        j += 1
                        break
                    if text[j] == "\\" and j + 1 < n and text[j + 1] == '"':
                        name.append('"')
                        j += 2
                    else:
                        name.append(text[j])
                        j += 1
                if j >= n or text[j] != "]":
                    raise ValueError("missing closing bracket in property access")
                elements.append("".join(name))
                i = j + 1
            else:
                close = text.find("]", i)
                if close == -1:
                    raise ValueError("missing closing bracket in array index")
                segment = text[i + 1 : close]
                if segment == "*":
                    elements.append("*")
                elif re.fullmatch(r"[+-]?[0-9]+", segment):
                    elements.append(int(segment))
                else:
                    raise ValueError(f"invalid array index {segment!r}")
                i = close + 1
        else:
            j = i
            while j < n and text[j] not in ".[":
                j += 1
            elements.append(text[i:j])
            i = j
    return elements


def canonical_key(project: str, key: str) -> str:
    """A stack file's key in its one canonical form, `namespace:name`."""
    parts = key.split(":")
    if len(parts) == 1:
        return f"{project}:{key}"
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"
    return key


def _parse_key(project: str, key: str) -> str:
    """The CLI's key rule: `name` (this project), `namespace:name`, or `namespace:config:name`."""
    parts = key.split(":")
    if len(parts) == 1:
        return f"{project}:{key}"
    if len(parts) == 2 or (len(parts) == 3 and parts[1] == "config"):
        return canonical_key(project, key)
    raise ConfigRuleError(
        f"could not parse {key!r} as a configuration key "
        "(configuration keys should be of the form `<namespace>:<name>`)"
    )


def pretty_key(full_key: str, project: str) -> str:
    """A key as the CLI prints it: without the namespace when that is the project's."""
    namespace, name = full_key.split(":", 1)
    return name if namespace == project else full_key


def is_secure(value: Any) -> bool:
    """`{secure: <text>}` and nothing else, as the CLI recognises a ciphertext."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SECURE), str)


def holds_secret(value: Any) -> bool:
    """Whether the CLI lists this value's key among the secret keys: a secret anywhere in it."""
    return next(secure_leaves(value, ()), None) is not None


def secure_leaves(
    value: Any, path: tuple[PathElement, ...]
) -> Iterator[tuple[tuple[PathElement, ...], str]]:
    """Each ciphertext in `value` with its path (below `path`), maps by key and lists by index."""
    if is_secure(value):
        yield path, value[SECURE]
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from secure_leaves(v, (*path, key_text(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from secure_leaves(v, (*path, i))


def with_plaintext(
    value: Any,
    key: str,
    path: tuple[PathElement, ...],
    plain: Mapping[tuple[str, tuple[PathElement, ...]], str],
) -> Any:
    """`value` with each secret replaced by its plaintext from `plain`, keyed (key, path)."""
    if is_secure(value):
        return plain[(key, path)]
    if isinstance(value, dict):
        return {
            key_text(k): with_plaintext(v, key, (*path, key_text(k)), plain)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [with_plaintext(v, key, (*path, i), plain) for i, v in enumerate(value)]
    return value


def child_at(value: Any, element: PathElement) -> tuple[bool, Any]:
    """The CLI's `Get` of one path element: lists by index, maps by name; a secret has no parts."""
    if isinstance(value, list) and not isinstance(element, str):
        if 0 <= element < len(value):
            return True, value[element]
    elif isinstance(value, dict) and not is_secure(value) and isinstance(element, str):
        for k, v in value.items():
            if key_text(k) == element:
                return True, v
    return False, None


def coerce_path_value(value: str) -> bool | int | str:
    """The CLI's rule for a value set under `--path`: `true`/`false` and plain integers
    (no leading zero) become typed; everything else stays text."""
    if value in ("true", "false"):
        return value == "true"
    if len(value) > 1 and value[0] == "0":
        return value
    if re.fullmatch(r"[+-]?[0-9]+", value) and -(1 << 63) <= int(value) < (1 << 64):
        return int(value)
    return value


def config_text(value: Any) -> str:
    """What the program receives: a string as itself, anything else as Go's compact JSON."""
    return value if isinstance(value, str) else go_json(value)


def go_json(value: Any) -> str:
    """JSON as Go's `encoding/json` writes it, which is how the CLI hands objects to programs."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted((key_text(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_go_string(k)}:{go_json(v)}" for k, v in items) + "}"
    raise ConfigRuleError(f"a config value of type {type(value).__name__} has no JSON form")


def _go_string(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        quoted = quoted.replace(char, escape)
    return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _go_float(number: float) -> str:
    """Shortest digits, positional between 1e-6 and 1e21, else `1e+21` / `1e-7` as Go prints."""
    if not math.isfinite(number):
        raise ConfigRuleError(f"a config value of {number} has no JSON form")
    shortest = repr(number)
    if number != 0 and not 1e-6 <= abs(number) < 1e21:
        mantissa, exponent = shortest.split("e")
        sign = "-" if int(exponent) < 0 else "+"
        return f"{mantissa.removesuffix('.0')}e{sign}{abs(int(exponent)):02d}".replace("e-0", "e-")
    positional = format(Decimal(shortest), "f")
    return positional.rstrip("0").rstrip(".") if "." in positional else positional


def key_text(key: Any) -> str:
    """A YAML map key as Go prints it (`%v`): `true`, not Python's `True`."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
