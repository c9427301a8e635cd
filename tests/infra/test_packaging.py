"""Bundled dependencies: a function folder's requirements.txt installed for Lambda and packaged.

pip runs for real, with no package index: the wheels are made in the test (tests/wheels.py)
and found through PIP_FIND_LINKS (tests/conftest.py sets PIP_NO_INDEX for every test).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pulumi
import pytest

from infra.packaging import (
    BUILD_INFO,
    PackagingError,
    Target,
    cache_key,
    function_archive,
    install_dependencies,
    local_dependencies,
)
from tests.wheels import make_wheel

ROOT = Path(__file__).resolve().parents[2]
ARM = Target("python3.13", "arm64")
X86 = Target("python3.13", "x86_64")


@pytest.fixture
def wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The only place pip may find packages in these tests."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def function(tmp_path: Path, requirements: str) -> Path:
    folder = tmp_path / "fn"
    folder.mkdir(exist_ok=True)
    (folder / "handler.py").write_text("import tinydep\n\ndef handler(e, c):\n    return 1\n")
    (folder / "requirements.txt").write_text(requirements)
    return folder


class Progress(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def contents(archive: pulumi.AssetArchive) -> dict[str, tuple[str, str]]:
    """Member -> (the file it is read from, the SHA-256 of its bytes)."""
    return {
        name: (asset.path, hashlib.sha256(Path(asset.path).read_bytes()).hexdigest())
        for name, asset in archive.assets.items()
    }


def test_requirements_are_installed_for_the_target_and_packaged_at_the_root(tmp_path, wheels):
    # GIVEN a function whose requirements.txt names a pure-Python package
    make_wheel(wheels, "tinydep", "1.0")
    source = function(tmp_path, "tinydep==1.0\n")
    build = tmp_path / "build"
    progress = Progress()
    # WHEN its archive is built for arm64
    archive = function_archive(source, "handler.handler", ARM, build_root=build, progress=progress)
    # THEN the package sits at the archive's root beside the function's own files
    members = set(archive.assets)
    assert {"handler.py", "requirements.txt", "tinydep/__init__.py"} <= members
    assert "tinydep-1.0.dist-info/METADATA" in members
    # AND the build's own record, scripts and caches are not packaged
    assert not any(m == BUILD_INFO or m.startswith(("bin/", "__pycache__")) for m in members)
    # AND one progress line said what was installed for which platform
    [line] = progress
    assert "tinydep==1.0" in line and "python3.13 on arm64" in line
    # AND pure Python runs on this machine as packaged
    folder = Path(archive.assets["tinydep/__init__.py"].path).resolve().parents[1]
    assert local_dependencies(source, ARM, build_root=build, progress=progress) == (folder, False)

    # WHEN it is built again with nothing changed, and no wheel left to install from
    for wheel in wheels.iterdir():
        wheel.unlink()
    again = function_archive(source, "handler.handler", ARM, build_root=build, progress=progress)
    # THEN nothing was installed and the same files, byte for byte, are declared
    assert len(progress) == 1
    assert contents(again) == contents(archive)


def test_a_change_to_requirements_runtime_or_architecture_rebuilds(tmp_path, wheels):
    # GIVEN a function built for python3.13 on arm64
    make_wheel(wheels, "tinydep", "1.0")
    make_wheel(wheels, "tinydep", "2.0")
    source = function(tmp_path, "tinydep==1.0\n")
    build = tmp_path / "build"
    progress = Progress()
    first = install_dependencies(source, ARM, build_root=build, progress=progress)
    # WHEN only the code changes THEN the build is reused
    (source / "handler.py").write_text("def handler(e, c):\n    return 2\n")
    assert install_dependencies(source, ARM, build_root=build, progress=progress) == first
    # WHEN the architecture or the runtime changes THEN the build folder is another one
    content = (source / "requirements.txt").read_bytes()
    keys = {cache_key(content, t) for t in (ARM, X86, Target("python3.14", "arm64"))}
    assert len(keys) == 3 and first is not None and first.name in keys
    # WHEN the requirements change THEN a new folder is built, with the new version
    (source / "requirements.txt").write_text("tinydep==2.0\n")
    second = install_dependencies(source, ARM, build_root=build, progress=progress)
    assert second not in (None, first)
    assert second is not None and "2.0" in (second / "tinydep" / "__init__.py").read_text()
    assert len(progress) == 2  # the first build and the new requirements' build


def build_error(tmp_path: Path) -> str:
    """What building the test function for arm64 fails with."""
    source = function(tmp_path, "tinydep==1.0\n")
    with pytest.raises(PackagingError) as raised:
        install_dependencies(source, ARM, build_root=tmp_path / "build", progress=Progress())
    return str(raised.value)


def test_a_package_without_a_wheel_for_the_target_names_it_and_shows_pip(tmp_path, wheels):
    # GIVEN a package published only as an x86_64 wheel
    make_wheel(wheels, "tinydep", "1.0", tag="cp313-cp313-manylinux_2_17_x86_64")
    # WHEN the function is built for arm64
    text = build_error(tmp_path)
    # THEN the error names the package and the platform, and pip's own words follow
    assert "no wheel of tinydep==1.0 for python3.13 on arm64" in text
    assert "manylinux2014_aarch64" in text
    assert "pip said:" in text and "No matching distribution found for tinydep" in text
    # AND no half-built folder is left behind
    assert list((tmp_path / "build" / "fn").iterdir()) == []


def test_no_network_is_a_clear_error(tmp_path, wheels, monkeypatch):
    # GIVEN an index that cannot be reached (a closed port on this machine) and nothing cached
    monkeypatch.delenv("PIP_NO_INDEX")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_RETRIES", "1")  # refused at once: one retry, no waiting
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    # WHEN the function is built
    text = build_error(tmp_path)
    # THEN the error says the index cannot be reached, and shows what pip saw
    assert "the package index cannot be reached (no network?)" in text
    assert "127.0.0.1" in text


def test_a_function_without_requirements_has_no_dependencies(tmp_path):
    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("def handler(e, c):\n    return 1\n")
    assert install_dependencies(source, ARM, build_root=tmp_path / "build") is None
    archive = function_archive(source, "handler.handler", ARM, build_root=tmp_path / "build")
    assert set(archive.assets) == {"handler.py"}
    assert not (tmp_path / "build").exists()


def test_archived_paths_are_the_real_files_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a function folder reached through a symlinked folder, holding a file that is itself
    # a symlink to a file elsewhere, and the project folder as the working directory
    project = tmp_path / "project"
    real = tmp_path / "elsewhere" / "fn"
    (real / "lib").mkdir(parents=True)
    (real / "handler.py").write_text("def handler(e, c):\n    return 1\n")
    (real / "lib" / "util.py").write_text("X = 1\n")
    shared = project / "shared.py"
    project.mkdir()
    shared.write_text("Y = 2\n")
    (real / "linked.py").symlink_to(shared)
    (project / "fn").symlink_to(real)
    monkeypatch.chdir(project)
    # WHEN its archive is declared
    archive = function_archive(Path("fn"), "handler.handler", ARM, build_root=tmp_path / "b")
    # THEN each member is read from the file's real path: relative to the working directory
    # when it is inside it, absolute when not
    paths = {name: asset.path for name, asset in archive.assets.items()}
    assert paths == {
        "handler.py": str(real.resolve() / "handler.py"),
        "lib/util.py": str(real.resolve() / "lib" / "util.py"),
        "linked.py": "shared.py",
    }


def test_compiled_packages_run_locally_from_a_build_for_this_machine(tmp_path, wheels):
    # GIVEN a package with compiled code for Lambda (arm64), and a pure wheel of it for here
    native = {
        "tinydep/__init__.py": b"FLAVOUR = 'lambda'\n",
        "tinydep/_speedups.cpython-313-aarch64-linux-gnu.so": b"\x7fELF not really",
    }
    make_wheel(wheels, "tinydep", "1.0", tag="cp313-cp313-manylinux_2_17_aarch64", files=native)
    make_wheel(wheels, "tinydep", "1.0", files={"tinydep/__init__.py": b"FLAVOUR = 'here'\n"})
    source = function(tmp_path, "tinydep==1.0\n")
    build = tmp_path / "build"
    # WHEN the archive is built, and the dependencies to run it here are asked for
    archive = function_archive(
        source, "handler.handler", ARM, build_root=build, progress=Progress()
    )
    folder, substituted = local_dependencies(source, ARM, build_root=build, progress=Progress())
    # THEN the archive holds the Lambda build, and this machine runs the pure one instead
    assert "tinydep/_speedups.cpython-313-aarch64-linux-gnu.so" in archive.assets
    assert substituted is True and folder is not None
    assert "here" in (folder / "tinydep" / "__init__.py").read_text()


# ---- the program's own functions (their requirements cached by `make install`) ----------


def test_the_processor_bundles_powertools_and_the_listener_bundles_nothing(run_program):
    # GIVEN the dev stack WHEN the program runs
    stack = run_program()
    processor = set(stack.one(":Function", "processor").inputs["code"].assets)
    listener = set(stack.one(":Function", "listener").inputs["code"].assets)
    # THEN the processor's archive holds Powertools at its root, pinned as requirements.txt says
    assert {"handler.py", "aws_lambda_powertools/__init__.py"} <= processor
    assert not any(name.startswith(("bin/", "__pycache__/")) for name in processor)  # jmespath's
    assert not any("/__pycache__/" in name or name.endswith(".pyc") for name in processor)
    # AND no RECORD names a script (its hash is of this machine's interpreter path): the same
    # requirements make the same archive on every machine
    code = stack.one(":Function", "processor").inputs["code"]
    records = [Path(code.assets[m].path).read_text() for m in processor if m.endswith("/RECORD")]
    assert records and not any("bin/" in record for record in records)
    pinned = (ROOT / "functions" / "processor" / "requirements.txt").read_text()
    [version] = {m.split("/")[0] for m in processor if m.startswith("aws_lambda_powertools-")}
    version = version.removeprefix("aws_lambda_powertools-").removesuffix(".dist-info")
    assert f"aws-lambda-powertools=={version}\n" in pinned
    # AND the listener has no requirements and ships only its own modules: its cold start is
    # the sender's deadline
    assert not (ROOT / "functions" / "listener" / "requirements.txt").exists()
    assert all(name.endswith(".py") and "/" not in name for name in listener)


def test_two_evaluations_declare_the_same_archive_byte_for_byte(run_program):
    # GIVEN the program evaluated twice with nothing changed
    first = run_program().one(":Function", "processor").inputs["code"]
    second = run_program().one(":Function", "processor").inputs["code"]
    # THEN the same members, read from the same files, with the same bytes: no diff on `up`
    assert contents(second) == contents(first)


def test_each_architecture_gets_its_own_build(run_program):
    arm = run_program().one(":Function", "processor").inputs["code"]
    x86 = run_program({"architecture": "x86_64"}).one(":Function", "processor").inputs["code"]
    powertools = "aws_lambda_powertools/__init__.py"
    assert "arm64" in arm.assets[powertools].path
    assert "x86_64" in x86.assets[powertools].path
    assert set(arm.assets) == set(x86.assets)  # pure Python: the same files for both
