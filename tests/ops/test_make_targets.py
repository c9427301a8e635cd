"""The real-AWS Make targets explain themselves when the Pulumi CLI is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["deploy", "preview", "destroy"])
def test_without_the_pulumi_cli_each_target_fails_with_the_install_hint(target: str) -> None:
    # GIVEN a Pulumi CLI that cannot be found (a name nothing on PATH has)
    # WHEN the target runs
    done = subprocess.run(
        ["make", "-s", target, "PULUMI=pulumi-not-installed-7c1e"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    # THEN it stops before doing anything, naming the target, the install page and the next steps
    assert done.returncode != 0
    assert f"needed for '{target}'" in done.stdout
    assert "https://www.pulumi.com/docs/install/" in done.stdout
    assert "pulumi stack init dev" in done.stdout
