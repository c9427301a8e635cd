"""Smoke test of the processor cold-start part: its layouts are what Lambda unpacks, and each
variant's child imports the handler as configured. One child per variant: never how fast."""

from __future__ import annotations

from pathlib import Path

from bench.common import aws_environment, clean_environment, run_child
from bench.processor import _FLOOR, _layouts, _script
from infra.packaging import package_files

ROOT = Path(__file__).resolve().parents[2]


def test_layouts_split_the_archive_as_lambda_unpacks_it_and_each_variant_imports(tmp_path):
    # GIVEN the processor's archive unpacked as bundled, and as code + layer
    folders = _layouts(tmp_path)
    own = set(package_files(ROOT / "functions" / "processor"))
    bundled = {p.relative_to(folders["bundled"]).as_posix() for p in folders["bundled"].rglob("*")}
    code = {p.relative_to(folders["code"]).as_posix() for p in folders["code"].rglob("*")}
    # THEN the code folder holds the function's own files, the layer the packages, bundled both
    assert own == {name for name in code if (folders["code"] / name).is_file()}
    assert (folders["layer"] / "aws_lambda_powertools" / "__init__.py").is_file()
    assert {"handler.py", "aws_lambda_powertools/__init__.py"} <= bundled
    assert not (folders["code"] / "aws_lambda_powertools").exists()
    # AND each variant's child imports the handler, guarded exactly when the table is named
    env = clean_environment(
        {**aws_environment("http://127.0.0.1:9"), "AWS_LAMBDA_LOG_LEVEL": "INFO"}
    )
    guarded = {**env, "IDEMPOTENCY_TABLE": "t", "IDEMPOTENCY_TTL_SECONDS": "3600"}
    for script, environment in (
        (_script([folders["bundled"]], False), env),
        (_script([folders["code"], folders["layer"]], False), env),
        (_script([folders["bundled"]], True), guarded),
        (_FLOOR, env),
    ):
        data, _ = run_child(script, env=environment, isolated=True, timeout=60)
        assert data["init_ms"] > 0
