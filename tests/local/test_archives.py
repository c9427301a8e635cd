"""Every code archive shape Pulumi documents, deployed and invoked through the local cloud."""

from __future__ import annotations

import base64
import hashlib
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from cloud_helpers import ARCHIVE_PROGRAM, aws_client, quiet

from local.cloud import LocalCloud
from local.lambda_code import prepare_code

LIVE = {"folder", "dot", "assets", "split"}
"""Shapes that are one folder on disk: they run from the program's own folder."""
UNPACKED = {"inline", "nested", "zip", "jar", "tar", "tgz", "targz"}


def _build_archives(project: Path) -> None:
    """code.zip, .jar, .tar, .tgz and .tar.gz of functions/shape, as a build step would."""
    source = project / "functions" / "shape"
    files = sorted(p for p in source.rglob("*") if p.is_file())
    for name in ("code.zip", "code.jar"):
        with zipfile.ZipFile(project / name, "w") as archive:
            archive.writestr("./", "")  # a directory entry, as `zip -r` writes
            for path in files:
                archive.write(path, path.relative_to(source).as_posix())
    for name, mode in (("code.tar", "w"), ("code.tgz", "w:gz"), ("code.tar.gz", "w:gz")):
        with tarfile.open(project / name, mode) as archive:
            archive.add(source, arcname=".")


@pytest.fixture(scope="module")
def archive_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    project = tmp_path_factory.mktemp("archives") / "program"
    shutil.copytree(ARCHIVE_PROGRAM, project)
    _build_archives(project)
    cloud = LocalCloud(
        project,
        stack="test",
        port=0,
        stream=quiet(),
        state_root=tmp_path_factory.mktemp("state"),
        enforce_iam=False,  # moto cannot check signatures of Lambda API calls (see README)
    )
    cloud.start()
    yield cloud
    cloud.stop()


def _invoke(cloud: LocalCloud, shape: str) -> Any:
    function = cloud._provider.deployment.functions[cloud.outputs[shape]]
    invocation = function.invoke({"shape": shape})
    assert invocation.error is None, invocation.error
    return invocation.payload


@pytest.mark.parametrize("shape", sorted(LIVE))
def test_code_that_is_one_folder_runs_from_that_folder(archive_cloud: LocalCloud, shape: str):
    # GIVEN a function whose archive is the folder functions/shape (or its files)
    # WHEN it is invoked THEN it runs from the program's own folder, so edits are live
    answer = _invoke(archive_cloud, shape)
    assert answer["task_root"] == str(archive_cloud.project_dir / "functions" / "shape")
    assert "handler.py" in answer["files"]


def test_files_from_two_folders_run_in_place_the_second_as_an_import_root(
    archive_cloud: LocalCloud,
):
    # GIVEN the handler from functions/shape and a package from functions/lib, each under its
    # own path WHEN invoked THEN it runs from the handler's folder and imports the package
    answer = _invoke(archive_cloud, "split")
    assert answer["files"] == ["handler.py"]
    assert answer["greeting"] == "hello from a nested archive"


@pytest.mark.parametrize("shape", sorted(UNPACKED - {"inline", "nested"}))
def test_archive_files_are_unpacked_into_the_state_folder(archive_cloud: LocalCloud, shape: str):
    answer = _invoke(archive_cloud, shape)
    assert answer["task_root"] == str(archive_cloud.state_dir / "code" / f"archive-{shape}")
    assert answer["files"] == ["handler.py"]


def test_inline_code_runs(archive_cloud: LocalCloud):
    assert _invoke(archive_cloud, "inline") == {"shape": "inline", "event": {"shape": "inline"}}


def test_nested_archives_put_the_dot_member_at_the_root(archive_cloud: LocalCloud):
    answer = _invoke(archive_cloud, "nested")
    assert answer["files"] == [
        "handler.py",
        "helpers/__init__.py",
        "helpers/greet.py",
        "settings.json",
    ]
    assert answer["greeting"] == "hello from a nested archive"
    assert answer["settings"] == '{"mode": "nested"}'


def test_moto_was_given_the_archives_contents(archive_cloud: LocalCloud, tmp_path: Path):
    # GIVEN the nested archive, rebuilt here with the same members
    project = archive_cloud.project_dir
    nested = pulumi.AssetArchive(
        {
            ".": pulumi.FileArchive(str(project / "functions" / "shape")),
            "helpers": pulumi.FileArchive(str(project / "functions" / "lib" / "helpers")),
            "settings.json": pulumi.StringAsset('{"mode": "nested"}'),
        }
    )
    expected = prepare_code(nested, resource="test", work_dir=tmp_path / "code").zip_bytes()
    # WHEN moto is asked what code the function has THEN it is that zip, byte for byte
    config = aws_client("lambda", archive_cloud).get_function_configuration(
        FunctionName=archive_cloud.outputs["nested"]
    )
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(expected).digest()).decode()
    assert config["CodeSize"] == len(expected)
