"""`python -m local up`'s concurrency flags, parsed and handed to the local cloud (in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local import cli
from local.concurrency import ACCOUNT_CONCURRENCY
from local.stackfile import StackFileError


def test_the_flags_reach_the_local_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stand-in for LocalCloud that records what it is given and stops there
    seen: dict[str, Any] = {}

    class RecordingCloud:
        def __init__(self, project_dir: Path, **settings: Any) -> None:
            self.project_dir = project_dir
            seen.update(settings)

        def start(self) -> None:
            raise StackFileError("stopping here")

    monkeypatch.setattr(cli, "LocalCloud", RecordingCloud)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)  # keep pytest's handlers
    # WHEN `up` runs with both flags THEN the cloud gets both, and the start error exits 2
    assert cli.main(["up", "--account-concurrency", "50", "--max-workers", "4"]) == 2
    assert seen["account_concurrency"] == 50
    assert seen["max_workers"] == 4


def test_without_flags_the_account_is_awss_default_and_the_machine_decides() -> None:
    args = cli._parser().parse_args(["up"])
    assert args.account_concurrency == ACCOUNT_CONCURRENCY == 1000
    assert args.max_workers is None


@pytest.mark.parametrize("flag", ["--account-concurrency", "--max-workers"])
@pytest.mark.parametrize(("value", "words"), [("0", "0 is below 1"), ("many", "not a whole")])
def test_a_bad_value_is_refused_naming_flag_and_value(
    flag: str, value: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        cli._parser().parse_args(["up", flag, value])
    assert caught.value.code == 2
    error = capsys.readouterr().err
    assert flag in error and words in error
