"""Where a served stack keeps its state: the one place that knows the folder's layout.

`python -m local up` writes a stack's state under ``<root>/<stack>/`` (root: ``--state-dir``, by
default ``<project>/.local``) and `python -m local output/env`, `python -m ops --local` and the
benchmarks read it back from there (docs/design.md, 'The local cloud'):

    <root>/<stack>/env           shell exports for the embedded AWS, while the stack is served
    <root>/<stack>/outputs.json  the stack outputs, while the stack is served
    <root>/<stack>/queues.json   what the last stop left in the queues, put back on the next start
    <root>/<stack>/logs/         one log file per function, and the embedded AWS's own
    <root>/<stack>/lock          held by the local cloud serving the stack

Standard library only: the operator commands import it without the local cloud's dependencies.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_DIR = ".local"
"""The project's git-ignored folder that is the default root."""


def default_root(project_dir: Path) -> Path:
    return project_dir.resolve() / STATE_DIR


def log_file_name(function_name: str) -> str:
    """A function's log file inside ``logs/`` (a name may hold a "/"; a file name cannot)."""
    return f"{function_name.replace('/', '_')}.log"


def format_environment(variables: dict[str, str]) -> str:
    """Shell exports: the format of the ``env`` file and of `python -m local env`."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def parse_environment(text: str) -> dict[str, str]:
    """The variables `format_environment` wrote (other lines are ignored)."""
    variables: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            variables[name] = value
    return variables


class StateError(ValueError):
    """A state file exists but cannot be read."""


@dataclass(frozen=True)
class StackState:
    """The state folder of one stack."""

    root: Path
    stack: str

    @classmethod
    def of(cls, project_dir: Path, stack: str, root: Path | None = None) -> StackState:
        """The stack's folder under ``root``, or under the project's default root."""
        return cls(root if root is not None else default_root(project_dir), stack)

    @property
    def dir(self) -> Path:
        return self.root / self.stack

    @property
    def env_file(self) -> Path:
        return self.dir / "env"

    @property
    def outputs_file(self) -> Path:
        return self.dir / "outputs.json"

    @property
    def snapshot_file(self) -> Path:
        return self.dir / "queues.json"

    @property
    def log_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def code_dir(self) -> Path:
        """Where function code that does not run in place (inline, zipped) is unpacked."""
        return self.dir / "code"

    @property
    def lock_file(self) -> Path:
        return self.dir / "lock"

    def log_file(self, function_name: str) -> Path:
        return self.log_dir / log_file_name(function_name)

    @property
    def aws_log_file(self) -> Path:
        """The embedded AWS server's own log."""
        return self.log_dir / "moto.log"

    @property
    def served(self) -> bool:
        """Whether a local cloud serves the stack now (it removes its outputs when it stops)."""
        return self.outputs_file.is_file()

    def write_served(self, outputs: dict[str, Any], environment: dict[str, str]) -> None:
        """What a serving local cloud publishes: its outputs and how to reach its AWS."""
        self.env_file.write_text(format_environment(environment))
        self.outputs_file.write_text(json.dumps(outputs, indent=2) + "\n")

    def clear_served(self) -> None:
        for path in (self.outputs_file, self.env_file):
            path.unlink(missing_ok=True)

    def read_outputs(self) -> dict[str, Any]:
        """The served stack's outputs; FileNotFoundError when it is not served."""
        text = self.outputs_file.read_text()
        try:
            outputs = json.loads(text)
        except ValueError as exc:
            raise StateError(f"{self.outputs_file} is not valid JSON: {exc}") from exc
        if not isinstance(outputs, dict):
            raise StateError(f"{self.outputs_file} holds no JSON object")
        return outputs

    def read_environment(self) -> dict[str, str]:
        """The served stack's exports; empty when there is no env file."""
        if not self.env_file.is_file():
            return {}
        return parse_environment(self.env_file.read_text())
