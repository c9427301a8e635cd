"""A function's bundled dependencies in the local cloud: the archive's own packages, runnable here.

`infra/packaging.py` builds an archive of the function folder's files plus, at the same root,
its requirements installed for Lambda (`.build/<function>/<key>/`). Locally the function runs
from its own folder, so edits stay live, and each dependency folder becomes an import root after
it, as a layer would (on Lambda both share /var/task; nothing here depends on the order).

Pure-Python packages run anywhere, so the archive's own files run. Compiled ones were built for
the Lambda platform (another Python, maybe another architecture): then the same requirements are
installed for this machine into the same cache, and the local cloud says so once at start-up.
See docs/design.md, "The local cloud".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from infra.packaging import (
    BUILD_INFO,
    PackagingError,
    Target,
    has_native_code,
    install_dependencies,
)


class LocalDependencyError(RuntimeError):
    """A function's code cannot be laid out as folders to run from."""


def runnable_here(folder: Path, function: str, say: Callable[[str], None]) -> Path:
    """`folder` itself when it runs on this machine; else the same requirements installed for
    this machine (cached like the Lambda build), said once through `say`."""
    if not has_native_code(folder):
        return folder
    info_file = folder / BUILD_INFO
    try:
        info = json.loads(info_file.read_text())
        requirements = Path(info["requirements"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LocalDependencyError(
            f"function {function}: {folder} holds compiled code for Lambda and no readable "
            f"{BUILD_INFO} naming its requirements, so no build for this machine can be made"
        ) from exc
    try:
        host = install_dependencies(requirements.parent, Target.host())
    except PackagingError as exc:
        raise LocalDependencyError(f"function {function}: {exc}") from exc
    if host is None:
        raise LocalDependencyError(f"function {function}: {requirements} no longer exists")
    say(
        f"function {function}: its bundled packages hold compiled code built for Lambda "
        f"({info.get('target', 'another platform')}); running it with the same requirements "
        f"installed for this machine ({host})"
    )
    return host
