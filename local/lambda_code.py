"""A Lambda function's code, from any archive shape Pulumi documents, as a folder to run from.

Pulumi's archives (its SDK's ``pulumi/asset.py``; the engine's reader is
``sdk/go/common/resource/archive/archive.go`` in pulumi/pulumi):

* ``FileArchive(path)``: a folder (every file under it, ``.pulumi`` folders left out) or an
  archive file, recognised by its suffix: ``.zip``, ``.jar``, ``.tar``, ``.tgz``, ``.tar.gz``;
* ``AssetArchive({name: asset or archive})``: ``FileAsset`` and ``StringAsset`` members under
  their names, nested archives with their members under the key (``"."``: at the root); keys are
  read in sorted order and the first member of a name wins;
* ``RemoteAsset`` / ``RemoteArchive``: fetched from a URI, which the local cloud never does.

When the archive is files on disk under their own names (a ``FileArchive`` of a folder, or
``FileAsset``s that each sit in a folder under their archive path, as ``infra/packaging.py``
builds them), the function runs from the folder that holds its handler module, so edits are
live; the other folders (bundled dependencies, say) become import roots after it, as a layer's
would. Anything else is materialised into a folder of the local cloud's state and runs from
there. Either way the zip handed to moto's CreateFunction holds exactly the archive's members.
See docs/design.md, 'The local cloud'.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi

__all__ = ["ARCHIVE_SUFFIXES", "CodeShapeError", "LambdaCode", "archive_members", "prepare_code"]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", ".jar")
"""The archive files a FileArchive may name, as the Pulumi engine recognises them."""

_SKIPPED_FOLDER = ".pulumi"
_ZIP_DATE = (1990, 1, 1, 0, 0, 0)
"""A constant modification time, as Pulumi writes, so the zip changes only with its contents."""

Member = Path | bytes
"""A file on disk, or the bytes of a string asset or of a file inside an archive file."""


class CodeShapeError(ValueError):
    """Function code in a shape the local cloud cannot run (remote, missing, unreadable...)."""


@dataclass(frozen=True)
class LambdaCode:
    """Where a function's code runs from, and what its deployment package holds."""

    directory: Path
    """The package root the workers run from."""
    extra_roots: tuple[Path, ...]
    """More folders the package's files come from, importable after ``directory``."""
    live: bool
    """True: the program's own folder (edits take effect); False: a materialised copy."""
    members: Mapping[str, Member]
    """Package path -> content, as the zip holds them."""

    def zip_bytes(self) -> bytes:
        """The deployment package, deterministic for the same contents. Compressed at level 1:
        it only travels to the embedded AWS, at every start (the processor's, Powertools
        bundled: 40 ms against 84 ms at zlib's default, for 15 % more bytes)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(self.members):
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, _read(self.members[name]), compresslevel=1)
        return buffer.getvalue()


def prepare_code(
    code: object, *, resource: str, work_dir: Path | None, handler: str | None = None
) -> LambdaCode:
    """Where ``resource``'s code runs from: its own folders when it is files on disk under
    their own names, else a copy in ``work_dir`` (emptied first; None refuses such shapes).

    ``handler`` picks, among several folders, the one its module is in. Raises CodeShapeError
    naming the shape and ``resource``.
    """
    members = archive_members(code, resource=resource)
    folder = _single_folder(code)
    if folder is not None:
        return LambdaCode(directory=folder, extra_roots=(), live=True, members=members)
    roots = _live_roots(members, handler)
    if roots is not None:
        return LambdaCode(directory=roots[0], extra_roots=roots[1], live=True, members=members)
    if work_dir is None:
        raise CodeShapeError(
            f"{resource}: code {_shape(code)} is not files on disk and no state folder was "
            "given to unpack it into"
        )
    _materialise(members, work_dir, resource)
    return LambdaCode(directory=work_dir, extra_roots=(), live=False, members=members)


def archive_members(code: object, *, resource: str) -> dict[str, Member]:
    """Every file of the archive by its path in the package, as the Pulumi engine reads it."""
    if not isinstance(code, pulumi.Archive):
        raise CodeShapeError(
            f"{resource}: code must be an archive (FileArchive or AssetArchive), got {_shape(code)}"
        )
    members: dict[str, Member] = {}
    for name, member in _walk(code, "", resource):
        members.setdefault(name, member)  # the engine keeps the first file of a name
    return members


def _walk(item: object, prefix: str, resource: str) -> Iterator[tuple[str, Member]]:
    if isinstance(item, pulumi.AssetArchive):
        for key in sorted(item.assets):
            value = item.assets[key]
            if isinstance(value, pulumi.Archive):
                yield from _walk(value, _member_name(prefix, key, resource), resource)
            else:
                yield _member_name(prefix, key, resource), _asset(value, key, resource)
    elif isinstance(item, pulumi.FileArchive):
        for name, member in _file_archive(item, resource):
            yield _member_name(prefix, name, resource), member
    else:
        raise CodeShapeError(
            f"{resource}: code {_shape(item)} cannot run locally: the local cloud does not "
            "download code; use a FileArchive or an AssetArchive of files on disk"
        )


def _asset(asset: object, key: str, resource: str) -> Member:
    if isinstance(asset, pulumi.StringAsset):
        return asset.text.encode()
    if isinstance(asset, pulumi.FileAsset):
        path = Path(os.path.abspath(asset.path))
        if not path.is_file():
            raise CodeShapeError(
                f"{resource}: archive member {key!r} is FileAsset({asset.path!r}), which is not "
                "a file"
            )
        return path
    raise CodeShapeError(
        f"{resource}: archive member {key!r} is {_shape(asset)}, which cannot run locally: "
        "the local cloud does not download code; use a FileAsset or a StringAsset"
    )


def _file_archive(archive: pulumi.FileArchive, resource: str) -> Iterator[tuple[str, Member]]:
    path = Path(os.path.abspath(archive.path))
    shape = f"FileArchive({archive.path!r})"
    if not path.exists():
        raise CodeShapeError(f"{resource}: code {shape}: {path} does not exist")
    if path.name.endswith(ARCHIVE_SUFFIXES) and path.is_file():
        try:
            if path.name.endswith((".zip", ".jar")):
                yield from _zip_members(path, resource, shape)
            else:
                yield from _tar_members(path, resource, shape)
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
            raise CodeShapeError(f"{resource}: code {shape} cannot be read: {exc}") from exc
        return
    if not path.is_dir():
        raise CodeShapeError(
            f"{resource}: code {shape} is neither a folder nor an archive file "
            f"({', '.join(ARCHIVE_SUFFIXES)})"
        )
    yield from _folder_files(path)


def _folder_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """Every file under ``folder``, sorted; ``.pulumi`` folders and folder symlinks skipped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d for d in dirs if d != _SKIPPED_FOLDER and not os.path.islink(os.path.join(root, d))
        )
        for name in sorted(files):
            path = Path(root, name)
            yield path.relative_to(folder).as_posix(), path


def _zip_members(path: Path, resource: str, shape: str) -> Iterator[tuple[str, Member]]:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                yield _clean(info.filename, resource, shape), archive.read(info)


def _tar_members(path: Path, resource: str, shape: str) -> Iterator[tuple[str, Member]]:
    with tarfile.open(path, "r:*") as archive:
        for info in archive:
            if info.isdir():
                continue
            if not info.isreg():
                raise CodeShapeError(
                    f"{resource}: code {shape}: member {info.name!r} is not a regular file "
                    "(links and devices cannot be packaged)"
                )
            extracted = archive.extractfile(info)
            assert extracted is not None  # a regular file always has contents
            yield _clean(info.name, resource, shape), extracted.read()


def _member_name(prefix: str, name: str, resource: str) -> str:
    """``prefix/name`` cleaned; ``"."`` is the root of the package."""
    return _clean(posixpath.join(prefix, name) if prefix else name, resource, "AssetArchive")


def _clean(name: str, resource: str, shape: str) -> str:
    cleaned = posixpath.normpath(name.replace("\\", "/"))
    if cleaned == ".":
        return ""
    if cleaned.startswith(("/", "../")) or cleaned == "..":
        raise CodeShapeError(
            f"{resource}: code {shape}: member name {name!r} points outside the package"
        )
    return cleaned


def _single_folder(code: object) -> Path | None:
    """The folder of a FileArchive of a folder (also as the only, ``"."``, member)."""
    if isinstance(code, pulumi.AssetArchive) and list(code.assets) == ["."]:
        return _single_folder(code.assets["."])
    if isinstance(code, pulumi.FileArchive):
        path = Path(os.path.abspath(code.path))
        if path.is_dir():
            return path
    return None


def _live_roots(
    members: Mapping[str, Member], handler: str | None
) -> tuple[Path, tuple[Path, ...]] | None:
    """(the handler's folder, the others) when every member is a file sitting in some folder
    under its own package path; None when one is not (or there is nothing to run from)."""
    roots: dict[str, Path] = {}
    for name, member in members.items():
        if not isinstance(member, Path) or not name:
            return None
        depth = len(Path(name).parts)
        if depth > len(member.parents):
            return None
        root = member.parents[depth - 1]
        if root / name != member:
            return None
        roots[name] = root
    distinct = set(roots.values())
    main = roots.get(_handler_module(handler)) if handler else None
    if main is None:
        if len(distinct) != 1:
            return None  # no way to tell which folder is the package root
        main = next(iter(distinct))
    return main, tuple(sorted(distinct - {main}))


def _handler_module(handler: str) -> str:
    """``pkg.mod.fn`` or ``pkg/mod.fn`` -> ``pkg/mod.py``, as the runtime resolves it."""
    return handler.rsplit(".", 1)[0].replace(".", "/") + ".py"


def _materialise(members: Mapping[str, Member], folder: Path, resource: str) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, member in sorted(members.items()):
        if not name:
            raise CodeShapeError(f"{resource}: an archive member has an empty name")
        target = folder / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(member, Path):
                shutil.copyfile(member, target)
            else:
                target.write_bytes(member)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise CodeShapeError(
                f"{resource}: archive member {name!r} is both a file and a folder"
            ) from exc


def _read(member: Member) -> bytes:
    return member.read_bytes() if isinstance(member, Path) else member


def _shape(value: object) -> str:
    """How the program wrote the value, e.g. ``RemoteArchive('https://...')``."""
    for attribute in ("path", "uri"):
        if isinstance(getattr(value, attribute, None), str):
            return f"{type(value).__name__}({getattr(value, attribute)!r})"
    return type(value).__name__
