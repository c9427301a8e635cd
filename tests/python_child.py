"""A child interpreter run from the repository root, as the tests that need a fresh process run
one (the benchmark harness, moto imported afresh)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """This interpreter with ``args``, in the repository root; it must exit 0 (the assertion
    shows the end of its stderr)."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
