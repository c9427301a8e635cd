"""`Pulumi.<stack>.yaml` read and written like the Pulumi CLI (docs/design.md, 'The local cloud').

Reading: the CLI hands every value to the program as a string: scalars as their text, lists
and maps as compact JSON (Go's `encoding/json`: keys sorted, no spaces, `<>&` escaped) with
every nested secret decrypted, and lists the key among the secret keys when it holds a secret
anywhere inside. `secure:` values are decrypted with the stack's passphrase (`local.secrets`),
unless an environment variable gives the value: `LOCAL_SECRET_<KEY>` for a top-level value,
`LOCAL_SECRET_<KEY>_<PATH...>` for one inside a map or list (see `secret_env_var`). A variable
wins over the file, so CI can inject values without the passphrase.

Writing (`set_config`): `pulumi config set [--secret] [--path]`, with the same path grammar,
coercion and container rules, editing the file in place so that comments, order and every
other key keep their text.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ruamel.yaml
import yaml
import yaml.nodes
import yaml.resolver
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from local.secrets import (
    PASSPHRASE_FILE_VAR,
    PASSPHRASE_VAR,
    CiphertextError,
    Crypter,
    IncorrectPassphraseError,
    SecretsError,
    read_passphrase,
)

SALT_KEY = "encryptionsalt"
SECURE = "secure"

PathElement = str | int


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


@dataclass(frozen=True)
class ConfigValue:
    """One value as `pulumi config get` prints it, and whether it is (or holds) a secret."""

    text: str
    secret: bool


def secret_env_var(key: str, path: Sequence[PathElement] = ()) -> str:
    """`async-webhook:verifyToken` -> `LOCAL_SECRET_VERIFY_TOKEN`;
    `async-webhook:routeSecrets` at path `gh` -> `LOCAL_SECRET_ROUTE_SECRETS_GH`;
    index 0 of `async-webhook:keys` -> `LOCAL_SECRET_KEYS_0`."""
    parts = [key.split(":", 1)[-1], *(str(element) for element in path)]
    words = []
    for part in parts:
        snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", part)
        words.append(re.sub(r"[^A-Za-z0-9]", "_", snake).upper())
    return "LOCAL_SECRET_" + "_".join(words)


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
    """Config of `stack` as the CLI hands it to the program, every secret decrypted."""
    env = os.environ if environ is None else environ
    stack_file = _StackFile.read(project_dir, stack)
    keys = list(stack_file.config)
    resolved = stack_file.resolve([(key, ()) for key in keys], env)
    return StackConfig(
        project=stack_file.project,
        stack=stack,
        values={key: _config_text(value) for key, value in zip(keys, resolved, strict=True)},
        secret_keys=[key for key in keys if _holds_secret(stack_file.config[key])],
    )


def get_config(
    project_dir: Path,
    stack: str,
    key: str,
    *,
    path: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ConfigValue:
    """`pulumi config get [--path] KEY`, decrypting only what that value holds.

    An environment variable wins over the file here too: this is the value the local cloud uses.
    """
    env = os.environ if environ is None else environ
    stack_file = _StackFile.read(project_dir, stack)
    full_key, elements = parse_config_key(stack_file.project, key, path=path)
    found = full_key in stack_file.config
    raw = stack_file.config.get(full_key)
    for element in elements[1:]:
        found, raw = _child(raw, element) if found else (False, None)
    if not found:
        shown = format_path(_pretty(full_key, stack_file.project), elements[1:])
        raise StackFileError(f"configuration key {shown!r} not found for stack {stack!r}")
    (value,) = stack_file.resolve([(full_key, tuple(elements[1:]))], env)
    return ConfigValue(text=_config_text(value), secret=_holds_secret(raw))


def set_config(
    project_dir: Path,
    stack: str,
    key: str,
    value: str,
    *,
    secret: bool = False,
    path: bool = False,
    environ: Mapping[str, str] | None = None,
) -> None:
    """`pulumi config set [--secret] [--path] KEY VALUE`, written so the CLI reads it back.

    A secret needs the passphrase; a stack without `encryptionsalt` gets a new one, as the CLI
    makes it. The rest of the file keeps its text, comments included.
    """
    env = os.environ if environ is None else environ
    project = read_project_name(project_dir)
    file = _stack_path(project_dir, stack)
    full_key, elements = parse_config_key(project, key, path=path)
    text = file.read_text()
    try:
        loaded = _round_trip().load(text)
    except RuamelYAMLError as exc:
        raise StackFileError(f"{file} is not valid YAML: {exc}") from exc
    doc = CommentedMap() if loaded is None else loaded
    if not isinstance(doc, CommentedMap):
        raise StackFileError(f"{file} must be a YAML mapping")

    new: Any
    if secret:
        crypter = _crypter_for_writing(file, doc, env)
        new = CommentedMap([(SECURE, crypter.encrypt(value))])
    elif len(elements) > 1:
        new = _quoted(_coerce(value))
    else:
        new = _quoted(value)

    if doc.get("config") is None:
        _add_last(doc, "config", CommentedMap())
    config = doc["config"]
    if not isinstance(config, CommentedMap):
        raise StackFileError(f"{file}: 'config' must be a mapping")
    file_key = next((k for k in config if _full_key(project, str(k)) == full_key), full_key)
    if len(elements) > 1:
        new_top = _set_in(config.get(file_key), [elements[0]], elements[1:], new, full_key)
    else:
        new_top = new
    if file_key in config:
        config[file_key] = new_top
    else:
        _add_last(config, file_key, new_top)

    out = io.StringIO()
    _round_trip().dump(doc, out)
    written = out.getvalue()
    if loaded is None and text.strip():  # only comments: ruamel drops them, so keep them on top
        written = text.rstrip("\n") + "\n" + written
    _check_reads_back(file, written, file_key, elements[1:], new)
    _replace(file, written)


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
        raise StackFileError(f"invalid configuration key {key!r}: {exc}") from None
    if not elements:
        raise StackFileError(f"invalid configuration key {key!r}: empty config key path")
    first = elements[0]
    if not isinstance(first, str):
        raise StackFileError(
            f"invalid configuration key {key!r}: the first path segment must be a name"
        )
    if not first:
        raise StackFileError(f"invalid configuration key {key!r}: config key is empty")
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


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StackFile:
    project: str
    path: Path
    data: dict[str, Any]
    config: dict[str, Any]  # full key -> the value as YAML holds it, `{secure: ...}` maps included

    @classmethod
    def read(cls, project_dir: Path, stack: str) -> _StackFile:
        project = read_project_name(project_dir)
        path = _stack_path(project_dir, stack)
        data = _load_yaml(path) or {}
        if not isinstance(data, dict):
            raise StackFileError(f"{path} must be a YAML mapping")
        raw = data.get("config") or {}
        if not isinstance(raw, dict):
            raise StackFileError(f"{path}: 'config' must be a mapping")
        config = {_full_key(project, str(key)): value for key, value in raw.items()}
        return cls(project=project, path=path, data=data, config=config)

    def resolve(
        self, targets: Sequence[tuple[str, tuple[PathElement, ...]]], env: Mapping[str, str]
    ) -> list[Any]:
        """Each (key, path)'s value with every secret in it replaced by its plaintext.

        The key is derived only when some secret has no environment variable.
        """
        plain: dict[tuple[str, tuple[PathElement, ...]], str] = {}
        pending: list[tuple[str, tuple[PathElement, ...], str]] = []
        for key, prefix in targets:
            value = self.config[key]
            for element in prefix:
                value = _child(value, element)[1]
            for where, ciphertext in _secure_leaves(value, prefix):
                var = secret_env_var(key, where)
                if var in env:
                    plain[(key, where)] = env[var]
                else:
                    pending.append((key, where, ciphertext))
        if pending:
            crypter = self._crypter([(key, where) for key, where, _ in pending], env)
            problems = []
            for key, where, ciphertext in pending:
                try:
                    plain[(key, where)] = crypter.decrypt(ciphertext)
                except CiphertextError as exc:
                    problems.append(f"{format_path(key, where)}: {exc}")
            if problems:
                raise StackFileError(f"{self.path}: cannot decrypt " + "; ".join(problems))

        results = []
        for key, prefix in targets:
            value = self.config[key]
            for element in prefix:
                value = _child(value, element)[1]
            results.append(_substitute(value, key, prefix, plain))
        return results

    def _crypter(
        self, missing: Sequence[tuple[str, tuple[PathElement, ...]]], env: Mapping[str, str]
    ) -> Crypter:
        """The stack's crypter, or one error naming every value still missing and its variable."""
        listed = "; ".join(f"{format_path(k, p)} (set {secret_env_var(k, p)})" for k, p in missing)
        each = f"or give each value in its environment variable: {listed}"
        salt = self.data.get(SALT_KEY)
        if not salt:
            raise StackFileError(
                f"{self.path} holds encrypted values but {_why_no_salt(self.data)}, "
                f"so {PASSPHRASE_VAR} cannot decrypt them; give each value in its "
                f"environment variable: {listed}"
            )
        try:
            passphrase = read_passphrase(env)
        except SecretsError as exc:
            raise StackFileError(f"{self.path}: {exc}") from None
        if passphrase is None:
            raise StackFileError(
                f"{self.path} holds encrypted values: set {PASSPHRASE_VAR} (or "
                f"{PASSPHRASE_FILE_VAR}) to the stack's passphrase to decrypt them, {each}"
            )
        return _stack_crypter(self.path, passphrase, salt, env, each)


def _stack_crypter(
    path: Path, passphrase: str, salt: Any, env: Mapping[str, str], advice: str
) -> Crypter:
    if not isinstance(salt, str):
        raise StackFileError(f"{path}: {SALT_KEY} must be a string (v1:<salt>:<verifier>)")
    try:
        return Crypter.from_state(passphrase, salt)
    except IncorrectPassphraseError:
        source = (
            PASSPHRASE_VAR
            if PASSPHRASE_VAR in env
            else f"the passphrase in {PASSPHRASE_FILE_VAR} ({env[PASSPHRASE_FILE_VAR]})"
        )
        raise StackFileError(
            f"{path}: incorrect passphrase: {source} does not decrypt this stack's "
            f"{SALT_KEY}; set {PASSPHRASE_VAR} to the passphrase the stack was created with "
            f"(or {PASSPHRASE_FILE_VAR} to a file holding it), {advice}"
        ) from None
    except SecretsError as exc:
        raise StackFileError(f"{path}: {exc}") from None


def _why_no_salt(data: Mapping[str, Any]) -> str:
    provider = data.get("secretsprovider")
    if provider and provider != "passphrase":
        scheme = str(provider).split("://", 1)[0]
        return f"the stack uses the {scheme!r} secrets provider, not a passphrase"
    if data.get("encryptedkey"):
        return "the stack's key is held by a cloud secrets provider, not a passphrase"
    return f"the file has no {SALT_KEY} (the Pulumi CLI's passphrase provider writes one)"


def _is_secure(value: Any) -> bool:
    """`{secure: <text>}` and nothing else, as the CLI recognises a ciphertext."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SECURE), str)


def _holds_secret(value: Any) -> bool:
    return next(_secure_leaves(value, ()), None) is not None


def _secure_leaves(
    value: Any, path: tuple[PathElement, ...]
) -> Iterator[tuple[tuple[PathElement, ...], str]]:
    if _is_secure(value):
        yield path, value[SECURE]
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _secure_leaves(v, (*path, _key_text(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _secure_leaves(v, (*path, i))


def _substitute(
    value: Any,
    key: str,
    path: tuple[PathElement, ...],
    plain: Mapping[tuple[str, tuple[PathElement, ...]], str],
) -> Any:
    if _is_secure(value):
        return plain[(key, path)]
    if isinstance(value, dict):
        return {
            _key_text(k): _substitute(v, key, (*path, _key_text(k)), plain)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_substitute(v, key, (*path, i), plain) for i, v in enumerate(value)]
    return value


def _child(value: Any, element: PathElement) -> tuple[bool, Any]:
    """The CLI's `Get` of one path element: lists by index, maps by name; a secret has no parts."""
    if isinstance(value, list) and not isinstance(element, str):
        if 0 <= element < len(value):
            return True, value[element]
    elif isinstance(value, dict) and not _is_secure(value) and isinstance(element, str):
        for k, v in value.items():
            if _key_text(k) == element:
                return True, v
    return False, None


def _config_text(value: Any) -> str:
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
        items = sorted((_key_text(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_go_string(k)}:{go_json(v)}" for k, v in items) + "}"
    raise StackFileError(f"a config value of type {type(value).__name__} has no JSON form")


def _go_string(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        quoted = quoted.replace(char, escape)
    return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _go_float(number: float) -> str:
    """Shortest digits, positional between 1e-6 and 1e21, else `1e+21` / `1e-7` as Go prints."""
    if not math.isfinite(number):
        raise StackFileError(f"a config value of {number} has no JSON form")
    shortest = repr(number)
    if number != 0 and not 1e-6 <= abs(number) < 1e21:
        mantissa, exponent = shortest.split("e")
        sign = "-" if int(exponent) < 0 else "+"
        return f"{mantissa.removesuffix('.0')}e{sign}{abs(int(exponent)):02d}".replace("e-0", "e-")
    positional = format(Decimal(shortest), "f")
    return positional.rstrip("0").rstrip(".") if "." in positional else positional


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _pretty(full_key: str, project: str) -> str:
    namespace, name = full_key.split(":", 1)
    return name if namespace == project else full_key


def _full_key(project: str, key: str) -> str:
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
        return _full_key(project, key)
    raise StackFileError(
        f"could not parse {key!r} as a configuration key "
        "(configuration keys should be of the form `<namespace>:<name>`)"
    )


def _stack_path(project_dir: Path, stack: str) -> Path:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[7:-5] for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(
            f"no stack {stack!r}: {path} not found (stacks here: {', '.join(known) or 'none'})"
        )
    return path


class _Loader(yaml.SafeLoader):
    """YAML as the CLI's Go decoder reads it into config: `yes`/`on` and dates stay text."""


def _text_or_bool(loader: yaml.SafeLoader, node: yaml.nodes.Node) -> bool | str:
    text = str(loader.construct_scalar(node))
    return text.lower() == "true" if text.lower() in ("true", "false") else text


_Loader.add_constructor("tag:yaml.org,2002:bool", _text_or_bool)
_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),
)


def _load_yaml(path: Path) -> Any:
    return _parse_yaml(path, path.read_text())


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path} is not valid YAML: {exc}") from exc


# --- writing -------------------------------------------------------------------------------


def _round_trip() -> YAML:
    """ruamel's round-trip mode, laid out as the CLI writes stack files (2-space indent,
    list items indented under their key, no line wrapping)."""
    rt = YAML()
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 1 << 16
    rt.preserve_quotes = True
    return rt


def _crypter_for_writing(file: Path, doc: Any, env: Mapping[str, str]) -> Crypter:
    try:
        passphrase = read_passphrase(env)
    except SecretsError as exc:
        raise StackFileError(f"{file}: {exc}") from None
    if passphrase is None:
        raise StackFileError(
            f"{file}: a secret needs the stack's passphrase: set {PASSPHRASE_VAR} (or "
            f"{PASSPHRASE_FILE_VAR}); prompting for it is not supported"
        )
    salt = doc.get(SALT_KEY)
    if salt:
        return _stack_crypter(file, passphrase, salt, env, "and run the command again")
    config = doc.get("config")
    if (
        (doc.get("secretsprovider") or "passphrase") != "passphrase"
        or doc.get("encryptedkey")
        or (isinstance(config, dict) and _holds_secret(dict(config)))
    ):
        raise StackFileError(
            f"{file} has no {SALT_KEY} but {_why_no_salt(doc)} or holds values encrypted "
            "by another secrets provider; a new passphrase key would not read them, so "
            "the local cloud writes no secret here"
        )
    crypter, state = Crypter.create(passphrase)
    _add_last(doc, SALT_KEY, state)
    return crypter


def _coerce(value: str) -> bool | int | str:
    """The CLI's rule for a value set under `--path`: `true`/`false` and plain integers
    (no leading zero) become typed; everything else stays text."""
    if value in ("true", "false"):
        return value == "true"
    if len(value) > 1 and value[0] == "0":
        return value
    if re.fullmatch(r"[+-]?[0-9]+", value) and -(1 << 63) <= int(value) < (1 << 64):
        return int(value)
    return value


_RESOLVER = yaml.resolver.Resolver()


def _quoted(value: Any) -> Any:
    """A string that a YAML reader would take for a number, bool, date or null, quoted
    (as the CLI's writer does), so it reads back as text."""
    if isinstance(value, str):
        tag = _RESOLVER.resolve(yaml.nodes.ScalarNode, value, (True, False))
        if tag != "tag:yaml.org,2002:str":
            return DoubleQuotedScalarString(value)
    return value


def _new_container(element: PathElement) -> Any:
    return CommentedSeq([None] * (element + 1)) if isinstance(element, int) else CommentedMap()


def _set_in(
    node: Any, prefix: list[PathElement], path: Sequence[PathElement], new: Any, key: str
) -> Any:
    """The CLI's `object.Set`: make containers as the path asks, replace a top-level scalar,
    refuse to index into a deeper one."""
    if not path:
        return new
    head = path[0]
    if isinstance(node, CommentedSeq | CommentedMap) and not _is_secure(node):
        pass
    elif node is None or len(prefix) == 1:
        node = _new_container(head)
    else:
        wanted = "an array" if isinstance(head, int) else "a map"
        raise StackFileError(f"could not set {format_path(key, prefix[1:])}: expected {wanted}")
    here = [*prefix, head]
    where = format_path(key, here[1:])
    if isinstance(node, CommentedSeq):
        if not isinstance(head, int):
            raise StackFileError(f"could not set {where}: key for an array must be an int")
        if not 0 <= head <= len(node):
            raise StackFileError(f"could not set {where}: array index out of range")
        if head == len(node):
            _add_last(node, head, _set_in(None, here, path[1:], new, key))
        else:
            node[head] = _set_in(node[head], here, path[1:], new, key)
    else:
        if not isinstance(head, str):
            raise StackFileError(f"could not set {where}: key for a map must be a string")
        if len(path) == 1 and not node and head == SECURE and isinstance(new, str):
            raise StackFileError(
                f'could not set {where}: maps with the single key "secure" are reserved'
            )
        if head in node:
            node[head] = _set_in(node[head], here, path[1:], new, key)
        else:
            _add_last(node, head, _set_in(None, here, path[1:], new, key))
    return node


# ruamel keeps a comment that follows an entry on that entry's last (deepest) node, so an entry
# appended after it would land below comments that close an outer level, a file's footer say.
# The CLI appends new keys above those. Moving them reaches into ruamel's comment records
# (`.ca.items`: slot 2 of a map key, slot 0 of a list item), written for these versions only;
# on any other the comments stay where ruamel puts them, still whole.
_COMMENT_LAYOUT_KNOWN = ruamel.yaml.version_info[:2] in ((0, 18), (0, 19))


def _add_last(container: CommentedMap | CommentedSeq, slot: PathElement, value: Any) -> None:
    """Appends an entry (a new key, or the item at `len(list)`) and moves any comment lines
    that close an outer level from the previous last entry to below the new one."""
    previous: PathElement | None
    if isinstance(container, CommentedSeq):
        previous = len(container) - 1 if container else None
        container.append(value)
    else:
        previous = next(reversed(container), None)
        container[slot] = value
    empty = isinstance(value, CommentedMap | CommentedSeq) and not value
    if previous is None or empty or not _COMMENT_LAYOUT_KNOWN or container.lc.col is None:
        return
    for node, at in reversed(_last_nodes(container, previous)):
        index = 0 if isinstance(node, CommentedSeq) else 2
        entry = node.ca.items.get(at)
        token = entry[index] if entry and len(entry) > index else None
        if token is None:
            continue
        keep, move = _split_foot(token.value, container.lc.col)
        if move:
            if keep.strip():
                token.value = keep
            else:
                entry[index] = None
            node, at = _last_nodes(container, slot)[-1]
            index = 0 if isinstance(node, CommentedSeq) else 2
            record = node.ca.items.setdefault(at, [None, None, None, None])
            record[index] = CommentToken("\n" + move, CommentMark(0))
        return


def _last_nodes(container: Any, slot: PathElement) -> list[tuple[Any, PathElement]]:
    """(container, slot), then down through the last entry of each nested map or list."""
    chain = [(container, slot)]
    child = container[slot]
    while isinstance(child, CommentedMap | CommentedSeq) and child:
        last = len(child) - 1 if isinstance(child, CommentedSeq) else next(reversed(child))
        chain.append((child, last))
        child = child[last]
    return chain


def _split_foot(comment: str, column: int) -> tuple[str, str]:
    """Splits a trailing comment into what belongs to its entry (the end-of-line comment and
    lines indented as the entry, directly below it) and what closes an outer level: lines
    indented less, or as much but after a blank line, with the blank lines before them."""
    first, newline, rest = comment.partition("\n")
    lines = rest.splitlines(keepends=True)
    after_blank = False
    for i, line in enumerate(lines):
        if not line.strip():
            after_blank = True
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent < column or (indent == column and after_blank):
            start = i
            while start > 0 and not lines[start - 1].strip():
                start -= 1
            return first + newline + "".join(lines[:start]), "".join(lines[start:])
        after_blank = False
    return comment, ""


def _check_reads_back(
    file: Path, text: str, file_key: str, path: Sequence[PathElement], expected: Any
) -> None:
    """The edited text, read as `load_stack_config` reads it, holds what was set where it was
    set (a guard on quoting: a value must never come back as another type)."""
    data = _parse_yaml(file, text)
    config = data.get("config") if isinstance(data, dict) else None
    found, got = (
        (True, config[file_key])
        if isinstance(config, dict) and file_key in config
        else (False, None)
    )
    for element in path:
        found, got = _child(got, element) if found else (False, None)
    if not found or got != expected or _kind(got) is not _kind(expected):
        raise StackFileError(f"{file}: the edited file would not read back {file_key!r} as set")


def _kind(value: Any) -> type:
    """The YAML type behind ruamel's subclasses (and bool before int: `True == 1`)."""
    return next((t for t in (bool, int, float, str, dict, list) if isinstance(value, t)), object)


def _replace(file: Path, text: str) -> None:
    """Written next to the file and renamed over it, so a failure leaves the old file whole."""
    mode = file.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
