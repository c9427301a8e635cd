"""local/state.py: the layout of a stack's state folder, and its env file."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.state import StackState, StateError, format_environment, parse_environment


def test_the_layout_of_a_stack_folder(tmp_path: Path) -> None:
    state = StackState.of(tmp_path / "project", "dev")

    assert state.dir == (tmp_path / "project").resolve() / ".local" / "dev"
    assert [p.name for p in (state.env_file, state.outputs_file, state.snapshot_file)] == [
        "env",
        "outputs.json",
        "queues.json",
    ]
    assert state.log_file("a/b") == state.dir / "logs" / "a_b.log"
    assert state.lock_file.parent == state.aws_log_file.parent.parent == state.dir


def test_a_given_root_replaces_the_projects_own(tmp_path: Path) -> None:
    state = StackState.of(tmp_path / "project", "staging", tmp_path / "elsewhere")

    assert state.dir == tmp_path / "elsewhere" / "staging"


def test_served_state_is_written_read_back_and_cleared(tmp_path: Path) -> None:
    # GIVEN a stack folder
    state = StackState.of(tmp_path, "dev")
    state.dir.mkdir(parents=True)
    assert not state.served
    # WHEN a local cloud publishes its outputs and environment
    environment = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_SECRET_ACCESS_KEY": "a b'$c"}
    state.write_served({"queue_url": "http://q"}, environment)
    # THEN readers get them back as written, until it stops
    assert state.served
    assert state.read_outputs() == {"queue_url": "http://q"}
    assert state.read_environment() == environment
    state.clear_served()
    assert not state.served
    assert state.read_environment() == {}


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_unreadable_outputs_are_a_state_error_naming_the_file(tmp_path: Path, text: str) -> None:
    state = StackState.of(tmp_path, "dev")
    state.dir.mkdir(parents=True)
    state.outputs_file.write_text(text)

    with pytest.raises(StateError, match=r"outputs\.json"):
        state.read_outputs()


def test_env_file_lines_are_shell_exports_that_round_trip() -> None:
    variables = {"A": "plain", "B": "with space", "C": "quote ' and $dollar"}

    text = format_environment(variables)

    assert text.splitlines()[0] == "export A=plain"
    assert parse_environment(text + "# a comment\nexport\nnot an export\n") == variables
