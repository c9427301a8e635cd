"""Lambda code from every archive shape, resolved and unpacked in-process (no processes)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pulumi
import pytest

from local.lambda_code import CodeShapeError, archive_members, prepare_code


@pytest.fixture
def fn(tmp_path: Path) -> Path:
    """A function folder with a nested package and a Pulumi bookkeeping folder."""
    folder = tmp_path / "fn"
    (folder / "pkg").mkdir(parents=True)
    (folder / ".pulumi").mkdir()
    (folder / "handler.py").write_text("def handler(e, c):\n    return 1\n")
    (folder / "pkg" / "mod.py").write_text("X = 1\n")
    (folder / ".pulumi" / "state.json").write_text("{}")
    return folder


def _zip_names(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_folder_runs_in_place_and_its_zip_holds_every_file(fn: Path, tmp_path: Path) -> None:
    # GIVEN FileArchive of a folder WHEN it is prepared
    code = prepare_code(pulumi.FileArchive(str(fn)), resource="function f", work_dir=tmp_path / "w")
    # THEN it runs from that folder (live), and the package is its files (not .pulumi)
    assert code.directory == fn and code.live and code.extra_roots == ()
    assert _zip_names(code.zip_bytes()) == {
        "handler.py": b"def handler(e, c):\n    return 1\n",
        "pkg/mod.py": b"X = 1\n",
    }
    assert not (tmp_path / "w").exists()  # nothing was unpacked


def test_the_dot_key_puts_a_folder_at_the_root(fn: Path, tmp_path: Path) -> None:
    code = prepare_code(
        pulumi.AssetArchive({".": pulumi.FileArchive(str(fn))}), resource="f", work_dir=tmp_path
    )
    assert code.directory == fn and code.live
    assert sorted(code.members) == ["handler.py", "pkg/mod.py"]


def test_file_assets_under_their_own_names_run_from_their_folder(fn: Path, tmp_path: Path) -> None:
    # The shape infra/packaging.py builds: every file under its path relative to the folder.
    archive = pulumi.AssetArchive(
        {
            "handler.py": pulumi.FileAsset(str(fn / "handler.py")),
            "pkg/mod.py": pulumi.FileAsset(str(fn / "pkg" / "mod.py")),
        }
    )
    code = prepare_code(archive, resource="f", work_dir=tmp_path / "w")
    assert code.directory == fn and code.live


def test_files_from_several_folders_run_from_the_handlers_folder(fn: Path, tmp_path: Path) -> None:
    # GIVEN the function's files and a dependency folder's, each under its own package path
    deps = tmp_path / "deps"
    (deps / "lib").mkdir(parents=True)
    (deps / "lib" / "__init__.py").write_text("")
    archive = pulumi.AssetArchive(
        {
            "handler.py": pulumi.FileAsset(str(fn / "handler.py")),
            "pkg/mod.py": pulumi.FileAsset(str(fn / "pkg" / "mod.py")),
            "lib/__init__.py": pulumi.FileAsset(str(deps / "lib" / "__init__.py")),
        }
    )
    # WHEN prepared for handler.handler THEN it runs in place, the other folder importable
    code = prepare_code(archive, resource="f", work_dir=tmp_path / "w", handler="handler.fn")
    assert (code.directory, code.extra_roots, code.live) == (fn, (deps,), True)
    assert sorted(code.members) == ["handler.py", "lib/__init__.py", "pkg/mod.py"]
    # AND without a handler to tell the package root, it is unpacked instead
    copied = prepare_code(archive, resource="f", work_dir=tmp_path / "w")
    assert (copied.directory, copied.live) == (tmp_path / "w", False)
    assert (tmp_path / "w" / "lib" / "__init__.py").exists()


def test_a_renamed_file_asset_is_unpacked_under_its_archive_name(fn: Path, tmp_path: Path) -> None:
    archive = pulumi.AssetArchive({"main.py": pulumi.FileAsset(str(fn / "handler.py"))})
    code = prepare_code(archive, resource="f", work_dir=tmp_path / "w")
    assert code.directory == tmp_path / "w" and not code.live
    assert (tmp_path / "w" / "main.py").read_text() == (fn / "handler.py").read_text()
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["main.py"]


def test_inline_code_is_written_out(tmp_path: Path) -> None:
    archive = pulumi.AssetArchive({"index.py": pulumi.StringAsset("def handler(e, c): ...\n")})
    code = prepare_code(archive, resource="f", work_dir=tmp_path / "w")
    assert (tmp_path / "w" / "index.py").read_text() == "def handler(e, c): ...\n"
    assert _zip_names(code.zip_bytes()) == {"index.py": b"def handler(e, c): ...\n"}


def test_nested_archives_go_under_their_key_and_the_first_member_of_a_name_wins(
    fn: Path, tmp_path: Path
) -> None:
    # GIVEN a folder at the root, a library folder under "lib" and an inline file that
    # collides with the folder's handler.py ("." sorts first, so the folder's file is kept)
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "util.py").write_text("Y = 2\n")
    archive = pulumi.AssetArchive(
        {
            ".": pulumi.FileArchive(str(fn)),
            "handler.py": pulumi.StringAsset("shadowed"),
            "lib": pulumi.FileArchive(str(lib)),
            "deep": pulumi.AssetArchive({"x/y.txt": pulumi.StringAsset("z")}),
        }
    )
    code = prepare_code(archive, resource="f", work_dir=tmp_path / "w")
    assert not code.live
    unpacked = {
        p.relative_to(tmp_path / "w").as_posix(): p.read_bytes()
        for p in (tmp_path / "w").rglob("*")
        if p.is_file()
    }
    assert unpacked == {
        "handler.py": (fn / "handler.py").read_bytes(),
        "pkg/mod.py": b"X = 1\n",
        "lib/util.py": b"Y = 2\n",
        "deep/x/y.txt": b"z",
    }
    assert _zip_names(code.zip_bytes()) == unpacked


def _archive_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    files = {"handler.py": b"def handler(e, c): ...\n", "pkg/mod.py": b"X = 1\n"}
    if name.endswith((".zip", ".jar")):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("pkg/", "")
            for member, data in files.items():
                archive.writestr(member, data)
    else:
        mode = "w:gz" if name.endswith(("gz", ".tgz")) else "w"
        with tarfile.open(path, mode) as archive:
            for member, data in files.items():
                info = tarfile.TarInfo(f"./{member}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("name", ["code.zip", "code.jar", "code.tar", "code.tgz", "code.tar.gz"])
def test_archive_files_are_unpacked(tmp_path: Path, name: str) -> None:
    path = _archive_file(tmp_path, name)
    code = prepare_code(pulumi.FileArchive(str(path)), resource="f", work_dir=tmp_path / "w")
    assert code.directory == tmp_path / "w" and not code.live
    assert (tmp_path / "w" / "pkg" / "mod.py").read_bytes() == b"X = 1\n"
    assert sorted(code.members) == ["handler.py", "pkg/mod.py"]


def test_unpacking_again_replaces_what_the_last_start_left(tmp_path: Path) -> None:
    first = pulumi.AssetArchive({"old.py": pulumi.StringAsset("")})
    prepare_code(first, resource="f", work_dir=tmp_path / "w")
    second = pulumi.AssetArchive({"new.py": pulumi.StringAsset("")})
    prepare_code(second, resource="f", work_dir=tmp_path / "w")
    assert [p.name for p in (tmp_path / "w").iterdir()] == ["new.py"]


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (pulumi.RemoteArchive("https://example.com/code.zip"), "RemoteArchive('https://"),
        (
            pulumi.AssetArchive({"h.py": pulumi.RemoteAsset("https://example.com/h.py")}),
            "member 'h.py' is RemoteAsset('https://example.com/h.py')",
        ),
        (pulumi.FileArchive("no/such/folder"), "does not exist"),
        (
            pulumi.AssetArchive({"h.py": pulumi.FileAsset("no/such/file.py")}),
            "FileAsset('no/such/file.py'), which is not a file",
        ),
        (pulumi.FileAsset("handler.py"), "must be an archive"),
        ("./fn", "must be an archive"),
        (pulumi.AssetArchive({"../escape.py": pulumi.StringAsset("")}), "outside the package"),
    ],
)
def test_shapes_that_cannot_run_are_clear_errors(code: object, words: str) -> None:
    with pytest.raises(CodeShapeError) as caught:
        archive_members(code, resource="function my-fn")
    assert str(caught.value).startswith("function my-fn: ")
    assert words in str(caught.value)


def test_a_file_that_is_no_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "code.rar"
    path.write_bytes(b"Rar!")
    with pytest.raises(CodeShapeError, match="neither a folder nor an archive file"):
        archive_members(pulumi.FileArchive(str(path)), resource="f")


def test_a_broken_zip_and_a_tar_with_a_link_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(CodeShapeError, match="cannot be read"):
        archive_members(pulumi.FileArchive(str(broken)), resource="f")
    linked = tmp_path / "linked.tar"
    with tarfile.open(linked, "w") as archive:
        info = tarfile.TarInfo("handler.py")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        archive.addfile(info)
    with pytest.raises(CodeShapeError, match=r"'handler\.py' is not a regular file"):
        archive_members(pulumi.FileArchive(str(linked)), resource="f")


def test_a_member_that_is_both_file_and_folder_is_refused(tmp_path: Path) -> None:
    archive = pulumi.AssetArchive(
        {"a": pulumi.StringAsset("file"), "a/b.py": pulumi.StringAsset("inside")}
    )
    with pytest.raises(CodeShapeError, match="both a file and a folder"):
        prepare_code(archive, resource="f", work_dir=tmp_path / "w")


def test_without_a_state_folder_only_folders_run(fn: Path) -> None:
    assert prepare_code(pulumi.FileArchive(str(fn)), resource="f", work_dir=None).live
    inline = pulumi.AssetArchive({"h.py": pulumi.StringAsset("")})
    with pytest.raises(CodeShapeError, match="no state folder was given"):
        prepare_code(inline, resource="f", work_dir=None)
