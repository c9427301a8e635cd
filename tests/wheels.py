"""Small wheels made in a test, so packaging is tested with pip and no package index.

A wheel is a zip: the package's files, and a `<name>-<version>.dist-info/` folder with METADATA,
WHEEL and RECORD (PEP 427). Install them with `PIP_NO_INDEX=1 PIP_FIND_LINKS=<folder>`.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping
from pathlib import Path


def make_wheel(
    folder: Path,
    name: str,
    version: str = "1.0",
    *,
    tag: str = "py3-none-any",
    files: Mapping[str, bytes] | None = None,
) -> Path:
    """Writes `<name>-<version>-<tag>.whl` into `folder`; `files` defaults to a package
    `<name>/__init__.py` that says its name and version."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = dict(
        files or {f"{name}/__init__.py": f"NAME = {name!r}\nVERSION = {version!r}\n".encode()}
    )
    info = f"{name}-{version}.dist-info"
    contents[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    )
    pure = "true" if tag.endswith("-none-any") else "false"
    contents[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {pure}\nTag: {tag}\n".encode()
    )
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in contents.items()]
    contents[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_from_installed(target: Path, dist_info: str, folder: Path) -> Path:
    """A pure-Python wheel remade from a package pip installed into `target` (its RECORD lists
    its files), so a test can install the real dependencies again without a package index."""
    info = target / dist_info
    name, version = dist_info.removesuffix(".dist-info").rsplit("-", 1)
    files: dict[str, bytes] = {}
    for line in (info / "RECORD").read_text().splitlines():
        path = line.rsplit(",", 2)[0]
        if path and not path.startswith("..") and not path.endswith(("RECORD", "INSTALLER")):
            source = target / path
            if source.is_file() and not path.startswith(f"{dist_info}/"):
                files[path] = source.read_bytes()
    return make_wheel(folder, name, version, files=files)
