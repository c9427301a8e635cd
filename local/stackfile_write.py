"""`pulumi config set [--secret] [--path]` on a stack file (docs/design.md, 'The local cloud').

The same path grammar, coercion and container rules as the CLI, and the CLI's passphrase
format, so `pulumi config get` and `pulumi up` read what is written here. The file is edited in
place with ruamel.yaml's round-trip mode: comments, order and every other key keep their text.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ruamel.yaml
import yaml.nodes
import yaml.resolver
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.error import YAMLError as RuamelYAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from local.config_values import (
    SECURE,
    PathElement,
    canonical_key,
    child_at,
    coerce_path_value,
    format_path,
    holds_secret,
    is_secure,
)
from local.secrets import PASSPHRASE_FILE_VAR, PASSPHRASE_VAR, Crypter
from local.stackfile import (
    SALT_KEY,
    StackFileError,
    open_crypter,
    parse_stack_yaml,
    parsed_key,
    passphrase_for,
    read_project_name,
    stack_file_path,
    why_no_salt,
)


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
    file = stack_file_path(project_dir, stack)
    full_key, elements = parsed_key(project, key, path=path)
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
        new = _quoted(coerce_path_value(value))
    else:
        new = _quoted(value)

    if doc.get("config") is None:
        _add_last(doc, "config", CommentedMap())
    config = doc["config"]
    if not isinstance(config, CommentedMap):
        raise StackFileError(f"{file}: 'config' must be a mapping")
    file_key = next((k for k in config if canonical_key(project, str(k)) == full_key), full_key)
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


def _round_trip() -> YAML:
    """ruamel's round-trip mode, laid out as the CLI writes stack files (2-space indent,
    list items indented under their key, no line wrapping)."""
    rt = YAML()
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 1 << 16
    rt.preserve_quotes = True
    return rt


def _crypter_for_writing(file: Path, doc: Any, env: Mapping[str, str]) -> Crypter:
    """The stack's key from its salt, or, on a stack that has none, a new key and salt as
    `pulumi config set --secret` makes them (refused where another provider holds secrets)."""
    passphrase = passphrase_for(file, env)
    if passphrase is None:
        raise StackFileError(
            f"{file}: a secret needs the stack's passphrase: set {PASSPHRASE_VAR} (or "
            f"{PASSPHRASE_FILE_VAR}); prompting for it is not supported"
        )
    salt = doc.get(SALT_KEY)
    if salt:
        return open_crypter(file, passphrase, salt, env, "and run the command again")
    config = doc.get("config")
    if (
        (doc.get("secretsprovider") or "passphrase") != "passphrase"
        or doc.get("encryptedkey")
        or (isinstance(config, dict) and holds_secret(dict(config)))
    ):
        raise StackFileError(
            f"{file} has no {SALT_KEY} but {why_no_salt(doc)} or holds values encrypted "
            "by another secrets provider; a new passphrase key would not read them, so "
            "the local cloud writes no secret here"
        )
    crypter, state = Crypter.create(passphrase)
    _add_last(doc, SALT_KEY, state)
    return crypter


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
    """The CLI's `newContainer`: a map for a name, a list of nulls up to an index."""
    return CommentedSeq([None] * (element + 1)) if isinstance(element, int) else CommentedMap()


def _set_in(
    node: Any, prefix: list[PathElement], path: Sequence[PathElement], new: Any, key: str
) -> Any:
    """The CLI's `object.Set`: make containers as the path asks, replace a top-level scalar,
    refuse to index into a deeper one."""
    if not path:
        return new
    head = path[0]
    if isinstance(node, CommentedSeq | CommentedMap) and not is_secure(node):
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
    data = parse_stack_yaml(file, text)
    config = data.get("config") if isinstance(data, dict) else None
    found, got = (
        (True, config[file_key])
        if isinstance(config, dict) and file_key in config
        else (False, None)
    )
    for element in path:
        found, got = child_at(got, element) if found else (False, None)
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
