"""Part 6: the processor's cold start with Powertools bundled, as a layer, and with idempotency.

What Lambda imports at init, each in a fresh interpreter (`python -I`, environment built from
scratch), timing `import handler` with perf_counter inside the child:

- bundled: the archive the program declares, unpacked into one folder (Lambda's /var/task);
- layer: the function's own files in one folder, the same packages in another after it, as
  Lambda puts a layer's `python/` folder (/opt/python) on sys.path after the code;
- idempotency on: bundled, with the table named, so the guard, boto3 and a DynamoDB client are
  made at init (creating the client sends no request);
- floor: the standard-library modules the processor imported before it used Powertools.

Also the deployment packages, deflated: bundled, and function + layer zips. Variants alternate
(A B C D, D C B A, ...) so drift hits all alike. What cannot be measured here is Lambda's own
work before init (fetching and unpacking the package or the layer from its cache).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    FUNCTIONS,
    PartResult,
    Row,
    aws_environment,
    clean_environment,
    interleaved,
    median,
    run_child,
    summarize,
)
from bench.context import Context
from bench.size import zipped_size

PROCESSOR_DIR = FUNCTIONS / "processor"

_IMPORT = """
import sys, time
sys.path[:0] = {paths!r}
t0 = time.perf_counter()
import handler
t1 = time.perf_counter()
assert (handler._once is not None) == {guarded!r}
print('{{"init_ms": %.4f}}' % ((t1 - t0) * 1000))
"""

_FLOOR = """
import time
t0 = time.perf_counter()
import base64, json, os, dataclasses, datetime, typing
t1 = time.perf_counter()
print('{"init_ms": %.4f}' % ((t1 - t0) * 1000))
"""


def _layouts(root: Path) -> dict[str, Path]:
    """The archive unpacked as Lambda would: bundled (one folder), and code + layer."""
    import pulumi

    from infra.packaging import Target, function_archive, package_files
    from infra.python_function import RuntimeArgs

    defaults = RuntimeArgs()
    archive = function_archive(
        PROCESSOR_DIR, "handler.handler", Target(defaults.runtime, defaults.architecture)
    )
    own = set(package_files(PROCESSOR_DIR))
    bundled, code, layer = root / "task", root / "code", root / "opt" / "python"
    for name, asset in archive.assets.items():
        assert isinstance(asset, pulumi.FileAsset)  # function_archive declares files only
        for folder in (bundled, code if name in own else layer):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(str(asset.path), target)
    return {"bundled": bundled, "code": code, "layer": layer}


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}


def run(ctx: Context) -> PartResult:
    result = PartResult("processor", "Processor cold start: Powertools bundled, layer, idempotency")
    runs = ctx.count(15, 3)
    with tempfile.TemporaryDirectory(prefix="bench-processor-") as scratch:
        folders = _layouts(Path(scratch))
        lambda_env = {"AWS_LAMBDA_LOG_LEVEL": "INFO", "AWS_LAMBDA_FUNCTION_NAME": "processor"}
        plain = clean_environment({**aws_environment("http://127.0.0.1:9"), **lambda_env})
        guarded = {
            **plain,
            "IDEMPOTENCY_TABLE": "bench-processor-idempotency",
            "IDEMPOTENCY_TTL_SECONDS": "604800",
        }
        variants: dict[str, tuple[str, dict[str, str]]] = {
            "bundled": (_script([folders["bundled"]], False), plain),
            "layer": (_script([folders["code"], folders["layer"]], False), plain),
            "idempotency": (_script([folders["bundled"]], True), guarded),
            "floor": (_FLOOR, plain),
        }
        ctx.progress(f"processor cold start: {runs} interleaved runs each of {', '.join(variants)}")

        def sampler(script: str, env: dict[str, str]) -> Callable[[], float]:
            def sample() -> float:
                data, _ = run_child(script, env=env, isolated=True, timeout=60)
                return float(data["init_ms"])

            return sample

        for script, env in variants.values():  # warm the page cache for every variant
            sampler(script, env)()
        samples = dict(
            zip(variants, interleaved(runs, [sampler(*v) for v in variants.values()]), strict=True)
        )
        sizes = {
            "bundled": zipped_size(_files(folders["bundled"])),
            "code": zipped_size(_files(folders["code"])),
            "layer": zipped_size(_files(folders["layer"].parent)),
        }
    bundled, layer, guard, floor = (median(samples[k]) for k in variants)
    result.rows = [
        Row(
            "processor init, Powertools bundled",
            bundled,
            "ms",
            floor=floor,
            floor_label="the stdlib imports of the processor before Powertools",
        ),
        Row(
            "processor init, Powertools as a layer",
            layer,
            "ms",
            floor=bundled,
            floor_label="bundled",
        ),
        Row(
            "processor init, idempotency on (bundled)",
            guard,
            "ms",
            floor=bundled,
            floor_label="bundled, idempotency off",
        ),
        Row("processor package, bundled", float(sizes["bundled"]), "B"),
        Row(
            "processor package + layer",
            float(sizes["code"] + sizes["layer"]),
            "B",
            floor=float(sizes["code"]),
            floor_label="the function's own files",
        ),
    ]
    result.details = {
        "runs_each": runs,
        "init_ms": {name: summarize(values) for name, values in samples.items()},
        "zip_bytes": sizes,
    }
    result.notes = [
        "init = perf_counter around `import handler` in a fresh `python -I` child with an "
        "environment built from scratch; the layer variant puts the same packages on a second "
        "sys.path entry after the code, as Lambda does with /opt/python.",
        "Not measured here: Lambda fetching and unpacking the package (or the layer) before "
        "init; both count towards the same 250 MB unzipped limit.",
    ]
    return result


def _script(paths: list[Path], guarded: bool) -> str:
    return _IMPORT.format(paths=[str(p) for p in paths], guarded=guarded)
