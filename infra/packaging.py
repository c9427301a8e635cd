"""Deployment archives: one function folder, and only what the function needs from it."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

_SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", "tests"})
_SKIP_SUFFIXES = frozenset({".pyc", ".pyo"})


class PackagingError(ValueError):
    """A function folder cannot be packaged (missing, empty, or without its handler module)."""


def package_files(source_dir: Path) -> dict[str, Path]:
    """Archive name -> file, for every file the function ships, in a stable order.

    Caches and tests are left out so the archive's hash changes only when code changes, and
    the package stays small (the listener's cold start reads every byte of it).
    """
    if not source_dir.is_dir():
        raise PackagingError(f"function folder {source_dir} does not exist")
    files: dict[str, Path] = {}
    for root, dirs, names in os.walk(source_dir):
        dirs[:] = sorted(x for x in dirs if x not in _SKIP_DIRS and not x.startswith("."))
        for name in sorted(names):
            path = Path(root, name)
            if path.suffix in _SKIP_SUFFIXES or name.startswith("."):
                continue
            files[path.relative_to(source_dir).as_posix()] = path
    if not files:
        raise PackagingError(f"function folder {source_dir} holds no files")
    return files


def function_archive(source_dir: Path, handler: str) -> pulumi.AssetArchive:
    """The archive Pulumi uploads for a function packaged from `source_dir` alone."""
    files = package_files(source_dir)
    module = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
    if module not in files:
        raise PackagingError(
            f"handler {handler!r} needs {module} in {source_dir}, which holds {sorted(files)}"
        )
    return pulumi.AssetArchive({name: pulumi.FileAsset(_portable(p)) for name, p in files.items()})


def _portable(path: Path) -> str:
    """A path relative to the working directory when possible (Pulumi runs in the project
    folder), so the state file does not record one developer's home directory."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path.resolve())
