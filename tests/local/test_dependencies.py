"""How the local cloud lays out a function with bundled dependencies (no processes started)."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from infra.packaging import Target, function_archive
from local.dependencies import runnable_here
from local.lambda_code import prepare_code
from tests.wheels import make_wheel


def _function(
    tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, pulumi.AssetArchive]:
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("def handler(e, c):\n    return 1\n")
    (source / "requirements.txt").write_text("tinydep==1.0\n")
    archive = function_archive(
        source,
        "handler.handler",
        Target("python3.13", "arm64"),
        build_root=tmp_path / "build",
        progress=lambda line: None,
    )
    return source, archive


def test_the_code_runs_from_its_own_folder_and_the_packages_follow(tmp_path, monkeypatch):
    # GIVEN an archive of a function folder and its installed requirements
    make_wheel(tmp_path / "wheels", "tinydep")
    source, archive = _function(tmp_path, tmp_path / "wheels", monkeypatch)
    # WHEN the local cloud lays it out
    code = prepare_code(archive, resource="function fn", work_dir=None, handler="handler.handler")
    # THEN the function's own folder runs (edits stay live), its packages' folder follows
    assert code.directory == source.resolve()
    [packages] = code.extra_roots
    assert (packages / "tinydep" / "__init__.py").is_file()
    # AND pure Python runs here as packaged, with nothing said
    said: list[str] = []
    assert runnable_here(packages, "fn", said.append) == packages
    assert said == []


def test_compiled_packages_are_replaced_by_a_build_for_this_machine_said_once(
    tmp_path, monkeypatch
):
    # GIVEN bundled packages with compiled code for Lambda, and a pure wheel of them for here
    wheels = tmp_path / "wheels"
    native = {
        "tinydep/__init__.py": b"FLAVOUR = 'lambda'\n",
        "tinydep/_c.cpython-313-aarch64-linux-gnu.so": b"\x7fELF",
    }
    make_wheel(wheels, "tinydep", tag="cp313-cp313-manylinux_2_17_aarch64", files=native)
    make_wheel(wheels, "tinydep", files={"tinydep/__init__.py": b"FLAVOUR = 'here'\n"})
    _, archive = _function(tmp_path, wheels, monkeypatch)
    [packages] = prepare_code(
        archive, resource="function fn", work_dir=None, handler="handler.handler"
    ).extra_roots
    # WHEN the local cloud asks what runs here
    said: list[str] = []
    here = runnable_here(packages, "fn", said.append)
    # THEN the machine's own build, and one line saying why
    assert here != packages and "here" in (here / "tinydep" / "__init__.py").read_text()
    [line] = said
    assert "function fn" in line and "compiled code" in line and "python3.13-arm64" in line
