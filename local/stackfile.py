"""`Pulumi.<stack>.yaml` read as the Pulumi CLI reads it (docs/design.md, 'The local cloud').

The CLI hands every value to the program as a string: scalars as their text, lists and maps
as compact JSON (Go's `encoding/json`: keys sorted, no spaces, `<>&` escaped) with every nested
secret decrypted, and lists the key among the secret keys when it holds a secret anywhere
inside. `secure:` values are decrypted with the stack's passphrase (`local.secrets`), unless
an environment variable gives the value: `LOCAL_SECRET_<KEY>` for a top-level value,
`LOCAL_SECRET_<KEY>_<PATH...>` for one inside a map or list (see `secret_env_var`). A variable
wins over the file, so CI can inject values without the passphrase. Writing is
`local.stackfile_write`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
import yaml.nodes

from local.config_values import (
    ConfigRuleError,
    PathElement,
    canonical_key,
    child_at,
    config_text,
    format_path,
    holds_secret,
    parse_config_key,
    pretty_key,
    secure_leaves,
    with_plaintext,
)
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
        values={key: program_text(value) for key, value in zip(keys, resolved, strict=True)},
        secret_keys=[key for key in keys if holds_secret(stack_file.config[key])],
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
    full_key, elements = parsed_key(stack_file.project, key, path=path)
    found = full_key in stack_file.config
    raw = stack_file.config.get(full_key)
    for element in elements[1:]:
        found, raw = child_at(raw, element) if found else (False, None)
    if not found:
        shown = format_path(pretty_key(full_key, stack_file.project), elements[1:])
        raise StackFileError(f"configuration key {shown!r} not found for stack {stack!r}")
    (value,) = stack_file.resolve([(full_key, tuple(elements[1:]))], env)
    return ConfigValue(text=program_text(value), secret=holds_secret(raw))


def parsed_key(project: str, key: str, *, path: bool) -> tuple[str, list[PathElement]]:
    """`parse_config_key`, its refusal as a `StackFileError` like every other problem here."""
    try:
        return parse_config_key(project, key, path=path)
    except ConfigRuleError as exc:
        raise StackFileError(str(exc)) from None


def program_text(value: Any) -> str:
    """`config_text`, a value with no JSON form (NaN, say) as a `StackFileError`."""
    try:
        return config_text(value)
    except ConfigRuleError as exc:
        raise StackFileError(str(exc)) from None


@dataclass(frozen=True)
class _StackFile:
    """One stack file as read, its secrets still encrypted until `resolve` asks for them."""

    project: str
    path: Path
    data: dict[str, Any]
    config: dict[str, Any]  # full key -> the value as YAML holds it, `{secure: ...}` maps included

    @classmethod
    def read(cls, project_dir: Path, stack: str) -> _StackFile:
        project = read_project_name(project_dir)
        path = stack_file_path(project_dir, stack)
        data = _load_yaml(path) or {}
        if not isinstance(data, dict):
            raise StackFileError(f"{path} must be a YAML mapping")
        raw = data.get("config") or {}
        if not isinstance(raw, dict):
            raise StackFileError(f"{path}: 'config' must be a mapping")
        config = {canonical_key(project, str(key)): value for key, value in raw.items()}
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
                value = child_at(value, element)[1]
            for where, ciphertext in secure_leaves(value, prefix):
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
                value = child_at(value, element)[1]
            results.append(with_plaintext(value, key, prefix, plain))
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
                f"{self.path} holds encrypted values but {why_no_salt(self.data)}, "
                f"so {PASSPHRASE_VAR} cannot decrypt them; give each value in its "
                f"environment variable: {listed}"
            )
        passphrase = passphrase_for(self.path, env)
        if passphrase is None:
            raise StackFileError(
                f"{self.path} holds encrypted values: set {PASSPHRASE_VAR} (or "
                f"{PASSPHRASE_FILE_VAR}) to the stack's passphrase to decrypt them, {each}"
            )
        return open_crypter(self.path, passphrase, salt, env, each)


def passphrase_for(path: Path, env: Mapping[str, str]) -> str | None:
    """The passphrase as the CLI finds it; an unreadable passphrase file as a `StackFileError`."""
    try:
        return read_passphrase(env)
    except SecretsError as exc:
        raise StackFileError(f"{path}: {exc}") from None


def open_crypter(
    path: Path, passphrase: str, salt: Any, env: Mapping[str, str], advice: str
) -> Crypter:
    """The stack's crypter from its `encryptionsalt`; a wrong passphrase says so and where it
    came from (never what it is), then `advice`."""
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


def why_no_salt(data: Mapping[str, Any]) -> str:
    """Why a stack with secure values has no passphrase salt, for the error that says so."""
    provider = data.get("secretsprovider")
    if provider and provider != "passphrase":
        scheme = str(provider).split("://", 1)[0]
        return f"the stack uses the {scheme!r} secrets provider, not a passphrase"
    if data.get("encryptedkey"):
        return "the stack's key is held by a cloud secrets provider, not a passphrase"
    return f"the file has no {SALT_KEY} (the Pulumi CLI's passphrase provider writes one)"


def stack_file_path(project_dir: Path, stack: str) -> Path:
    """`Pulumi.<stack>.yaml`, which must exist: the file is the stack here, no backend."""
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
    return parse_stack_yaml(path, path.read_text())


def parse_stack_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path} is not valid YAML: {exc}") from exc
