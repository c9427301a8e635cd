"""The load test's processor folder: the real processor, with process() able to fail on poison.

Built from what `infra.packaging.package_files(functions/processor)` ships (so it follows the
real function as it changes): every file as is, except process.py, which becomes
default_process.py, and bench/fixture/poison_process.py, which becomes process.py.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import FUNCTIONS

FIXTURE_DIR = Path(__file__).resolve().parent / "fixture"
POISON_SOURCE = FIXTURE_DIR / "poison_process.py"


def poison_body_marker() -> str:
    """What a body holds to be poison (see poison_process.py)."""
    return '"poison":true'


def build_processor(dest: Path) -> Path:
    """Write the fixture processor into `dest` and return it.

    Files are rewritten only when their content changed: the local runtime replaces warm
    workers when a function's code changes, and an unchanged fixture should not trigger that.
    """
    from infra.packaging import package_files

    shipped = package_files(FUNCTIONS / "processor")
    wanted = {name: path.read_bytes() for name, path in shipped.items()}
    wanted["default_process.py"] = wanted.pop("process.py")
    wanted["process.py"] = POISON_SOURCE.read_bytes()
    dest.mkdir(parents=True, exist_ok=True)
    for name, content in wanted.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)
    for stale in dest.rglob("*.py"):
        if stale.relative_to(dest).as_posix() not in wanted:
            stale.unlink()
    return dest
