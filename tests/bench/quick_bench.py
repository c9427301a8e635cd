"""`python -m bench --quick` run as the smoke tests of its parts run it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.python_child import run_python


def run_bench(tmp_path: Path, parts: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """The results file and the printed table of a quick run of `parts`; the run must pass."""
    output = tmp_path / "results.json"
    only = ",".join(parts)
    done = run_python(
        "-m", "bench", "--quick", "--quiet", "--only", only, "--output", str(output), timeout=120
    )
    return json.loads(output.read_text()), done.stdout
