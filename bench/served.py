"""A stack served by `python -m local up` in a child process, and the log files it writes.

The local cloud runs in a process of its own, as a developer runs it, so the benchmark's HTTP
clients never share its GIL. Its function logs are the ground truth of what was processed: the
processor logs the SQS message id of every message it processes, and every line carries the
wall-clock time (ms) at which the local cloud received it from the worker.
"""

from __future__ import annotations

import collections
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from bench.common import DUMMY_CREDENTIALS, REGION, ROOT
from local.state import STATE_DIR, StackState

POLLER_PREFIX = "[local] SQS "
"""How the local event source mapping's lines start in a function's log (local/poller.py)."""
READY = re.compile(r"^Ready in (?P<seconds>[0-9.]+) s\. Logs: (?P<logs>.+?)/?\. ")
OUTPUT = re.compile(r"^    (?P<key>[a-z_]+) = (?P<value>\S+)$")


class ServeError(RuntimeError):
    """The local cloud did not come up (its last output lines are in the message)."""


@dataclass
class LogLine:
    at: float
    """Epoch seconds of the line's stamp (millisecond resolution, truncated)."""
    text: str

    def json(self) -> dict[str, Any] | None:
        if not self.text.startswith("{"):
            return None
        try:
            value = json.loads(self.text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def parse_stamp(stamp: str) -> float:
    """`2026-01-01T00:00:00.123Z` (the LogSink format) -> epoch seconds."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


class LogTail:
    """New complete lines of a log file since this object was created (the file may not exist
    yet: a function's log is created at its first output)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0
        self._partial = b""

    def read(self) -> list[LogLine]:
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        lines = []
        for raw in complete:
            text = raw.decode("utf-8", errors="replace")
            stamp, _, rest = text.partition(" ")
            try:
                at = parse_stamp(stamp)
            except ValueError:
                continue
            lines.append(LogLine(at, rest))
        return lines


@dataclass
class Processed:
    """Per message id: when each "message processed" / "record failed" line appeared, and what
    the local cloud's poller said about redeliveries."""

    processed: dict[str, list[float]]
    failed: dict[str, list[float]]
    errors: dict[str, int] = field(default_factory=dict)
    """Error types of the "record failed" lines, counted."""
    receive_counts: dict[str, list[int | None]] = field(default_factory=dict)
    """The ApproximateReceiveCount each "message processed" line logged, in line order (None
    when a line had none): a redelivered message comes back with a higher one."""
    poller_notes: list[str] = field(default_factory=list)
    """The event source mapping's own lines ("[local] SQS ..."): failed batches whose messages
    return after the visibility timeout, messages delivered again, deletes that failed."""

    @classmethod
    def empty(cls) -> Processed:
        return cls({}, {})

    def add(self, lines: list[LogLine]) -> None:
        for line in lines:
            if line.text.startswith(POLLER_PREFIX):
                self.poller_notes.append(line.text)
                continue
            data = line.json()
            if data is None:
                continue
            message_id = data.get("message_id")
            if not isinstance(message_id, str):
                continue
            if data.get("message") == "message processed":
                self.processed.setdefault(message_id, []).append(line.at)
                count = data.get("receive_count")
                self.receive_counts.setdefault(message_id, []).append(
                    count if isinstance(count, int) and not isinstance(count, bool) else None
                )
            elif data.get("message") == "record failed":
                self.failed.setdefault(message_id, []).append(line.at)
                error = str(data.get("error"))
                self.errors[error] = self.errors.get(error, 0) + 1


class ServedStack:
    """`python -m local up -C <project> -s <stack> --port 0 --fresh`, started and stopped by us.

    --fresh: messages a previous session left in the queues must not join the measurement.
    """

    def __init__(self, project_dir: Path = ROOT, stack: str = "dev") -> None:
        self.project_dir = project_dir.resolve()
        self.stack = stack
        self.outputs: dict[str, str] = {}
        self.endpoint_url = ""
        self.aws_environment: dict[str, str] = {}
        """What `python -m local env` prints (endpoint, region, the deployer's keys), when the
        local cloud writes it; dummy keys otherwise."""
        self.state = StackState(self.project_dir / STATE_DIR / "bench-served", stack)
        """A state folder of its own, so a developer's `make up` of the same stack is untouched
        (and a running one does not block the benchmark)."""
        self.ready_seconds = math.nan
        """Time from spawning the process to its "Ready" line, measured here."""
        self.reported_ready_seconds = math.nan
        """What the process itself printed (from its own start, imports included)."""
        self._process: subprocess.Popen[str] | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=60)
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def state_dir(self) -> Path:
        return self.state.dir

    @property
    def log_dir(self) -> Path:
        return self.state.log_dir

    def start(self, timeout: float = 60.0) -> float:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        started = time.perf_counter()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local",
                "up",
                "-C",
                str(self.project_dir),
                "-s",
                self.stack,
                "--port",
                "0",
                "--fresh",
                "--state-dir",
                str(self.state.root),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, name="bench-local-up", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.01):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServeError(
                    f"`python -m local up -s {self.stack}` did not become ready: "
                    + "\n".join(self._tail)
                )
        self.ready_seconds = time.perf_counter() - started
        self.aws_environment = self._read_environment()
        return self.ready_seconds

    def _read_environment(self) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }
        variables = self.state.read_environment()
        env.update({k: v for k, v in variables.items() if k.startswith("AWS_")})
        return env

    def client(self, service: str = "sqs") -> Any:
        """A boto3 client of the stack's embedded AWS, signed with its keys."""
        env = self.aws_environment
        return boto3.session.Session().client(
            service,
            region_name=env.get("AWS_REGION", REGION),
            endpoint_url=env.get("AWS_ENDPOINT_URL", self.endpoint_url),
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env.get("AWS_SESSION_TOKEN"),
        )

    def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            line = line.rstrip("\n")
            self._tail.append(line)
            if self._ready.is_set():
                continue
            output = OUTPUT.match(line)
            if output:
                if output["key"] == "aws_endpoint_url":
                    self.endpoint_url = output["value"]
                else:
                    self.outputs[output["key"]] = output["value"]
                continue
            ready = READY.match(line)
            if ready:
                self.reported_ready_seconds = float(ready["seconds"])
                self._ready.set()

    def log_path(self, output_name: str) -> Path:
        """The log file of the function named by a stack output (e.g. processor_function_name)."""
        return self.state.log_file(self.outputs[output_name])

    def last_lines(self) -> str:
        return "\n".join(self._tail)

    def stop(self, timeout: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(2.0)
            self._reader = None
        if process is not None and process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> ServedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_messages(
    tail: LogTail,
    seen: Processed,
    wanted: set[str],
    *,
    deadline: float,
    include_failed: bool = False,
    poll_seconds: float = 0.005,
) -> bool:
    """Read `tail` into `seen` until every id in `wanted` was processed (or failed, when
    `include_failed`), or time.monotonic() passes `deadline`. True when all were seen."""
    while True:
        seen.add(tail.read())
        done = set(seen.processed)
        if include_failed:
            done |= set(seen.failed)
        if wanted <= done:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_seconds)
