"""The code watcher on temporary folders, with a fake clock (no processes)."""

from __future__ import annotations

import os
from pathlib import Path

from local.code_watcher import SCAN_COST_RATIO, CodeWatcher, fingerprint


def _touch(path: Path, text: str, mtime_ns: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_fingerprint_changes_with_edits_additions_and_removals(tmp_path: Path) -> None:
    # GIVEN a code folder with a nested package
    _touch(tmp_path / "handler.py", "v1", 1_000)
    _touch(tmp_path / "pkg" / "mod.py", "x", 1_000)
    base = fingerprint([tmp_path])
    assert fingerprint([tmp_path]) == base  # stable while nothing changes
    # WHEN a file is rewritten (same size, new mtime) THEN it changes
    _touch(tmp_path / "handler.py", "v2", 2_000)
    edited = fingerprint([tmp_path])
    assert edited != base
    # AND WHEN a nested file appears or goes away THEN it changes again
    _touch(tmp_path / "pkg" / "new.py", "", 2_000)
    added = fingerprint([tmp_path])
    assert added != edited
    (tmp_path / "pkg" / "new.py").unlink()
    assert fingerprint([tmp_path]) == edited


def test_bytecode_caches_do_not_count(tmp_path: Path) -> None:
    _touch(tmp_path / "handler.py", "v1", 1_000)
    base = fingerprint([tmp_path])
    _touch(tmp_path / "__pycache__" / "handler.cpython-311.pyc", "cache", 5_000)
    _touch(tmp_path / "stray.pyc", "cache", 5_000)
    assert fingerprint([tmp_path]) == base


def test_every_root_counts_and_a_missing_one_is_ignored(tmp_path: Path) -> None:
    code, layer = tmp_path / "code", tmp_path / "layer"
    _touch(code / "handler.py", "v1", 1_000)
    _touch(layer / "lib.py", "v1", 1_000)
    both = fingerprint([code, layer])
    _touch(layer / "lib.py", "v2", 2_000)
    assert fingerprint([code, layer]) != both
    assert fingerprint([code, tmp_path / "nowhere"]) == fingerprint([code])


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.step = 0.0  # how long each reading advances time (what a scan "costs")

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        return value


def test_rescans_wait_for_twenty_times_the_cost_of_the_last_scan(tmp_path: Path) -> None:
    # GIVEN a watcher whose scans take 1 s on a fake clock
    _touch(tmp_path / "handler.py", "v1", 1_000)
    clock = FakeClock()
    watcher = CodeWatcher([tmp_path], clock=clock)
    clock.step = 1.0
    first = watcher.version()  # read the clock at 100 (start) and 101 (end): cost 1 s
    clock.step = 0.0
    # WHEN the code changes right away THEN the old version holds until 20 scan costs passed
    _touch(tmp_path / "handler.py", "v2", 2_000)
    clock.now = 101.0 + SCAN_COST_RATIO * 1.0 - 0.5
    assert watcher.version() == first
    clock.now = 101.0 + SCAN_COST_RATIO * 1.0
    assert watcher.version() != first
