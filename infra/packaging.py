"""Deployment archives: one function folder, its bundled dependencies, nothing else.

A function folder may hold a `requirements.txt`. Its packages are installed with pip for the
function's runtime and architecture (manylinux wheels for the Lambda platform, never built from
source here) into the project's git-ignored `.build/<function>/<key>/`, where `key` hashes the
requirements, the runtime and the architecture. The archive then holds the folder's files and
the installed packages at its root, where Lambda's Python runtime imports them from. A second
run with nothing changed installs nothing and declares the same files, so `pulumi up` shows no
diff; any change to those three inputs builds a new folder. See docs/design.md, "The processor".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pulumi

REQUIREMENTS = "requirements.txt"
"""The file in a function folder that lists what it bundles."""
BUILD_ROOT = Path(__file__).resolve().parent.parent / ".build"
"""The project's build folder (git-ignored). Next to `infra/`, not the working directory, so
every program of this repository (the load-test fixture too) shares one cache."""
BUILD_INFO = ".build-info.json"
"""Written into each finished build folder: what it was built from (never packaged)."""
BUILD_FORMAT = 3
"""Part of every cache key: bump it when the way folders are built changes."""

GLIBC_MINOR = 34
"""Lambda's python3.12 and later runtimes run on Amazon Linux 2023, whose glibc is 2.34: a
wheel for manylinux_2_34 or older runs there, a newer one does not."""
_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}

_SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", "tests"})
_SKIP_SUFFIXES = frozenset({".pyc", ".pyo"})
_SKIP_DEPENDENCY_DIRS = frozenset({"__pycache__", "bin"})
"""`bin/` holds console scripts whose first line names this machine's interpreter: useless on
Lambda, and different on every machine."""
_OUTPUT_LINES = 40
"""How much of pip's output a PackagingError repeats (the end, where pip says what failed)."""

Progress = Callable[[str], None]


class PackagingError(ValueError):
    """A function cannot be packaged: its folder is missing or empty, its handler module is not
    there, or its requirements cannot be installed for the Lambda platform."""


def _stderr(line: str) -> None:
    """Progress goes to stderr: `pulumi preview` shows it, stdout stays the program's."""
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Target:
    """Where the dependencies will run: a Lambda runtime and architecture, or this machine."""

    runtime: str | None
    """`python3.13`...; None: this interpreter."""
    architecture: str | None
    """`arm64` or `x86_64`; None: this machine."""

    @classmethod
    def host(cls) -> Target:
        return cls(None, None)

    @property
    def is_host(self) -> bool:
        return self.runtime is None

    @property
    def python_version(self) -> str:
        if self.runtime is None:
            return f"{sys.version_info.major}.{sys.version_info.minor}"
        found = re.fullmatch(r"python(\d+\.\d+)", self.runtime)
        if found is None:
            raise PackagingError(f"runtime {self.runtime!r} is not a Python runtime")
        return found.group(1)

    def platforms(self) -> list[str]:
        """The wheel platform tags that run on the target, newest first.

        pip expands none of the `manylinux_2_X` tags by itself, so each is named (pip's
        `--platform`: "use this option multiple times to specify multiple platforms").
        """
        if self.architecture is None:
            return []
        machine = _MACHINES.get(self.architecture)
        if machine is None:
            raise PackagingError(f"architecture {self.architecture!r} is not one of {_MACHINES}")
        tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 16, -1)]
        return [*tags, f"manylinux2014_{machine}"]

    def pip_options(self) -> list[str]:
        """pip's cross-platform install: wheels only (nothing compiled on this machine), for
        the target's platform, CPython version and implementation."""
        if self.is_host:
            return []
        options = ["--implementation", "cp", "--python-version", self.python_version]
        options += ["--only-binary=:all:"]
        for tag in self.platforms():
            options += ["--platform", tag]
        return options

    def describe(self) -> str:
        if self.is_host:
            return f"this machine (Python {self.python_version})"
        return f"{self.runtime} on {self.architecture} (manylinux, glibc 2.{GLIBC_MINOR})"

    def label(self) -> str:
        return "host" if self.is_host else f"{self.runtime}-{self.architecture}"


def cache_key(requirements: bytes, target: Target) -> str:
    """Names the build folder: the requirements' bytes, the target, and the build format. On
    this machine the interpreter's full version counts too (its wheels are for it alone)."""
    identity = {
        "format": BUILD_FORMAT,
        "requirements": hashlib.sha256(requirements).hexdigest(),
        "target": target.label(),
        "platforms": target.platforms(),
        "python": target.python_version if not target.is_host else sys.version,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"{target.label()}-{digest[:16]}"


def install_dependencies(
    source_dir: Path,
    target: Target,
    *,
    build_root: Path = BUILD_ROOT,
    progress: Progress = _stderr,
) -> Path | None:
    """The folder holding `source_dir`'s requirements installed for `target`; None when the
    function has no requirements.txt. Installs only on a cache miss (one progress line)."""
    requirements = source_dir / REQUIREMENTS
    if not requirements.is_file():
        return None
    content = requirements.read_bytes()
    folder = build_root / source_dir.name / cache_key(content, target)
    if (folder / BUILD_INFO).is_file():
        return folder
    progress(
        f"installing {source_dir.name}/{REQUIREMENTS} ({_summary(content)}) for "
        f"{target.describe()} into {_portable(folder)}"
    )
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Built beside its final place and renamed when complete: an interrupted install never
    # leaves a folder that looks finished, and two programs building at once do not collide.
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    partial.chmod(0o755)
    try:
        _pip_install(requirements, partial, target)
        _forget_unshipped(partial)
        info = {
            "requirements": str(requirements.resolve()),
            "sha256": hashlib.sha256(content).hexdigest(),
            "target": target.label(),
            "pip": _pip_version(),
        }
        (partial / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")
        try:
            partial.rename(folder)
        except OSError:
            if not (folder / BUILD_INFO).is_file():  # not another build that finished first
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _forget_unshipped(folder: Path) -> None:
    """Drop from each installed package's RECORD the files that are not packaged (console
    scripts, listed as `../../bin/...`): their hashes depend on this machine's interpreter path,
    and would make the same requirements a different archive on every machine."""
    for record in folder.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        kept = [
            line
            for line in lines
            if not line.startswith("../") and line.split("/", 1)[0] not in _SKIP_DEPENDENCY_DIRS
        ]
        if kept != lines:
            record.write_text("".join(kept))


def _summary(requirements: bytes) -> str:
    """`aws-lambda-powertools==3.37.0, ...`: the requirement lines, comments left out."""
    lines = [
        line.split("#", 1)[0].strip() for line in requirements.decode(errors="replace").split("\n")
    ]
    named = [line for line in lines if line]
    shown = ", ".join(named[:4]) + (f", and {len(named) - 4} more" if len(named) > 4 else "")
    return shown or "no requirements"


def _pip_install(requirements: Path, into: Path, target: Target) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--no-warn-script-location",
        "--target",
        str(into),
        "--requirement",
        str(requirements),
        *target.pip_options(),
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        raise PackagingError(f"cannot run pip ({sys.executable} -m pip): {exc}") from exc
    if done.returncode != 0:
        raise PackagingError(explain_pip_failure(done.stdout + done.stderr, requirements, target))


def explain_pip_failure(output: str, requirements: Path, target: Target) -> str:
    """What went wrong, in the user's terms, then the end of pip's own output."""
    where = f"{requirements} for {target.describe()}"
    wanted = "wheel" if not target.is_host else "distribution"
    missing = re.search(r"No matching distribution found for ([^\s]+)", output)
    if _looks_offline(output):
        reason = (
            f"cannot install {where}: the package index cannot be reached (no network?). "
            "Connect and run the program again, or `make install` to fill the cache."
        )
    elif missing:
        platform = "" if target.is_host else f" (CPython {target.python_version}, {_tags(target)})"
        reason = (
            f"cannot install {requirements}: no {wanted} of {missing.group(1)} for "
            f"{target.describe()}{platform}. Lambda packages are built from wheels only: pick a "
            "version that publishes one for this platform, or another package."
        )
        if os.environ.get("PIP_NO_INDEX"):
            reason += (
                " PIP_NO_INDEX is set, so pip looked in its local caches only: run "
                "`make install` (with network) to fill the build cache first."
            )
    else:
        reason = f"cannot install {where}: pip failed"
    tail = "\n".join(f"    {line}" for line in output.strip().splitlines()[-_OUTPUT_LINES:])
    return f"{reason}\n  pip said:\n{tail}"


def _tags(target: Target) -> str:
    tags = target.platforms()
    return f"{tags[-1]} to {tags[0]}" if tags else "this machine's tags"


_OFFLINE = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "NewConnectionError",
    "ConnectTimeoutError",
    "ProxyError",
    "Could not fetch URL",
)


def _looks_offline(output: str) -> bool:
    return any(sign in output for sign in _OFFLINE)


def _pip_version() -> str:
    try:
        from pip import __version__
    except ImportError:  # pip is run as a module above; its absence fails there first
        return "unknown"
    return str(__version__)


def has_native_code(folder: Path) -> bool:
    """Whether installed packages hold compiled extension modules (which run only on the
    platform and Python version they were built for)."""
    return any(
        path.suffix in (".so", ".pyd") or ".so." in path.name
        for path in folder.rglob("*")
        if path.is_file()
    )


def local_dependencies(
    source_dir: Path,
    target: Target,
    *,
    build_root: Path = BUILD_ROOT,
    progress: Progress = _stderr,
) -> tuple[Path | None, bool]:
    """The dependencies to run `source_dir` with on this machine, and whether they differ from
    the archive's: the Lambda build itself when it is pure Python (it runs anywhere), else the
    same requirements installed for this machine (compiled code runs only where it was built
    for). The same cache applies to both."""
    built = install_dependencies(source_dir, target, build_root=build_root, progress=progress)
    if built is None or not has_native_code(built):
        return built, False
    host = install_dependencies(source_dir, Target.host(), build_root=build_root, progress=progress)
    return host, True


def package_files(source_dir: Path) -> dict[str, Path]:
    """Archive name -> file, for every file the function folder ships, in a stable order.

    Caches, tests and dot-files are left out so the archive's hash changes only when code
    changes, and the package stays small (the listener's cold start reads every byte of it).
    """
    if not source_dir.is_dir():
        raise PackagingError(f"function folder {source_dir} does not exist")
    files: dict[str, Path] = {}
    for current, dirs, names in os.walk(source_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(current, name)
            if path.suffix in _SKIP_SUFFIXES or name.startswith("."):
                continue
            files[path.relative_to(source_dir).as_posix()] = path
    if not files:
        raise PackagingError(f"function folder {source_dir} holds no files")
    return files


def dependency_files(folder: Path) -> dict[str, Path]:
    """Archive name -> file for an installed dependency folder, as pip wrote it, less the
    build's own record, console scripts and byte-code caches."""
    files: dict[str, Path] = {}
    for current, dirs, names in os.walk(folder):
        top = Path(current) == folder
        dirs[:] = sorted(
            d for d in dirs if d != "__pycache__" and not (top and d in _SKIP_DEPENDENCY_DIRS)
        )
        for name in sorted(names):
            path = Path(current, name)
            if path.suffix in _SKIP_SUFFIXES or (top and name == BUILD_INFO):
                continue
            files[path.relative_to(folder).as_posix()] = path
    return files


def function_archive(
    source_dir: Path,
    handler: str,
    target: Target,
    *,
    build_root: Path = BUILD_ROOT,
    progress: Progress = _stderr,
) -> pulumi.AssetArchive:
    """The archive Pulumi uploads: the function folder's files and, at the same root, its
    requirements installed for `target` (the function's own code wins a name clash)."""
    files = package_files(source_dir)
    module = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
    if module not in files:
        raise PackagingError(
            f"handler {handler!r} needs {module} in {source_dir}, which holds {sorted(files)}"
        )
    dependencies = install_dependencies(
        source_dir, target, build_root=build_root, progress=progress
    )
    members = dict(dependency_files(dependencies)) if dependencies is not None else {}
    members.update(files)
    portable = _portable_paths()
    return pulumi.AssetArchive(
        {name: pulumi.FileAsset(portable(members[name])) for name in sorted(members)}
    )


def _portable(path: Path) -> str:
    """A path relative to the working directory when possible (Pulumi runs in the project
    folder), so the state file does not record one developer's home directory."""
    return _portable_paths()(path)


def _portable_paths() -> Callable[[Path], str]:
    """`_portable` for the many files of one archive: the working directory and each folder
    are resolved once, not once per file (three quarters of an archive's cost with a few
    hundred bundled files). A file that is itself a symlink is still resolved to its target."""
    here = Path.cwd().resolve()
    folders: dict[Path, Path] = {}

    def portable(path: Path) -> str:
        if path.is_symlink():
            real = path.resolve()
        else:
            folder = folders.get(path.parent)
            if folder is None:
                folder = folders[path.parent] = path.parent.resolve()
            real = folder / path.name
        try:
            return real.relative_to(here).as_posix()
        except ValueError:
            return str(real)

    return portable


def warm_cache(functions_dir: Path, *, build_root: Path = BUILD_ROOT) -> list[Path]:
    """Install every function's requirements for every supported runtime and architecture
    (and for this machine where they hold compiled code), so that later runs, tests among
    them, find everything cached and need no network. `make install` runs this."""
    from infra import limits

    built: list[Path] = []
    for source_dir in sorted(p.parent for p in functions_dir.glob(f"*/{REQUIREMENTS}")):
        for runtime in limits.RUNTIMES:
            for architecture in limits.ARCHITECTURES:
                folder, _ = local_dependencies(
                    source_dir, Target(runtime, architecture), build_root=build_root
                )
                if folder is not None:
                    built.append(folder)
    return built


def main() -> int:
    """`make install`'s step: warm the cache for this repository's functions."""
    try:
        folders = warm_cache(BUILD_ROOT.parent / "functions")
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"bundled requirements cached: {len(set(folders))} build folder(s) in {BUILD_ROOT}")
    return 0
