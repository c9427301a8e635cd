"""`LocalCloud`: the embedded AWS, the program evaluated against it, and its lifecycle."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from local.logs import LogSink
from local.moto_server import EmbeddedAws
from local.stackfile import load_stack_config

STATE_DIR = ".local"
"""Git-ignored folder of the project: logs and outputs per stack."""


@dataclass
class LocalCloud:
    """One stack deployed on this machine; `start()` returns the stack outputs."""

    project_dir: Path
    stack: str = "dev"
    port: int = 3000
    stream: TextIO | None = field(default_factory=lambda: sys.stdout)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    startup_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.project_dir = self.project_dir.resolve()
        self.state_dir = self.project_dir / STATE_DIR / self.stack
        self._aws: EmbeddedAws | None = None
        self._provider: Any = None
        self._logs: LogSink | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._aws is not None, "start() first"
        return self._aws.endpoint_url

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def start(self) -> dict[str, Any]:
        began = time.monotonic()
        config = load_stack_config(self.project_dir, self.stack)  # fail fast, before spawning
        self._aws = EmbeddedAws()  # starts in the background while the program is imported
        try:
            from local.program import evaluate
            from local.provider import LocalProvider

            self._logs = LogSink(stream=self.stream, log_dir=self.log_dir)
            self._provider = LocalProvider(
                endpoint_url=lambda: self.endpoint_url,
                region=config.region,
                logs=self._logs,
                url_port=self.port,
            )
            self.outputs = evaluate(
                self.project_dir,
                self._provider,
                project=config.project,
                stack=self.stack,
                config=config.values,
                secret_keys=config.secret_keys,
            )
        except BaseException:
            self.stop()
            raise
        self.warnings = list(self._provider.deployment.warnings)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "outputs.json").write_text(json.dumps(self.outputs, indent=2) + "\n")
        self.startup_seconds = time.monotonic() - began
        return self.outputs

    def stop(self) -> None:
        """Stops intake, workers and the embedded AWS; safe to call more than once."""
        if self._provider is not None:
            self._provider.deployment.stop()
            self._provider = None
        if self._aws is not None:
            self._aws.stop()
            self._aws = None
        if self._logs is not None:
            self._logs.close()
            self._logs = None
        outputs_file = self.state_dir / "outputs.json"
        if outputs_file.exists():
            outputs_file.unlink()

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
