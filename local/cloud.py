"""`LocalCloud`: the embedded AWS, the program evaluated against it, and its lifecycle."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from local.concurrency import ACCOUNT_CONCURRENCY
from local.logs import LogSink
from local.moto_server import EmbeddedAws
from local.stackfile import load_stack_config
from local.state import StackState
from local.status import StatusCollector
from local.status_page import StatusPage


class StackBusyError(RuntimeError):
    """The stack is already being served by another local cloud on this machine."""


@dataclass
class LocalCloud:
    """One stack deployed on this machine; `start()` returns the stack outputs."""

    project_dir: Path
    stack: str = "dev"
    port: int = 3000
    stream: TextIO | None = field(default_factory=lambda: sys.stdout)
    fresh: bool = False
    """Start with empty queues instead of restoring what the last stop left in them."""
    state_root: Path | None = None
    """Where logs, outputs and the queue snapshot go; default `<project>/.local`."""
    enforce_iam: bool = True
    """Check every call against the caller's IAM policies, as AWS does (moto's checks)."""
    account_concurrency: int = ACCOUNT_CONCURRENCY
    """The account's concurrency limit that every function shares (`local/concurrency.py`)."""
    max_workers: int | None = None
    """Worker processes this machine runs at once; None: from the CPU count."""
    status_port: int = 0
    """The status page's port on 127.0.0.1 (0: any free port)."""
    status_port_fallback: bool = False
    """A taken ``status_port`` falls back to any free port instead of failing the start."""
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    restored: dict[str, int] = field(default_factory=dict)
    """Messages put back per queue name, from the snapshot the last stop wrote."""
    startup_seconds: float = 0.0
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        self.project_dir = self.project_dir.resolve()
        self.state = StackState.of(self.project_dir, self.stack, self.state_root)
        self.state_dir = self.state.dir
        self._aws: EmbeddedAws | None = None
        self._provider: Any = None
        self._logs: LogSink | None = None
        self._lock_handle: TextIO | None = None
        self.status = StatusCollector()
        """What the status page shows; fed by the log sink and every function's invocations."""
        self._status_page: StatusPage | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._aws is not None, "start() first"
        return self._aws.endpoint_url

    @property
    def log_dir(self) -> Path:
        return self.state.log_dir

    @property
    def status_url(self) -> str:
        assert self._status_page is not None, "start() first"
        return self._status_page.url

    def start(self) -> dict[str, Any]:
        began = time.monotonic()
        config = load_stack_config(self.project_dir, self.stack)  # fail fast, before spawning
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock_stack()
        leftover = self._take_snapshot()
        # Starts in the background while the program is imported and evaluated.
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._aws = EmbeddedAws(snapshot=self.snapshot_path, log_path=self.state.aws_log_file)
        try:
            from local.program import evaluate
            from local.provider import LocalProvider

            self._logs = LogSink(
                stream=self.stream, log_dir=self.log_dir, tee=self.status.record_lines
            )
            self._provider = LocalProvider(
                endpoint_url=lambda: self.endpoint_url,
                region=config.region,
                logs=self._logs,
                url_port=self.port,
                code_root=self.state.code_dir,
                account_concurrency=self.account_concurrency,
                max_workers=self.max_workers,
            )
            self.outputs = evaluate(
                self.project_dir,
                self._provider,
                project=config.project,
                stack=self.stack,
                config=config.values,
                secret_keys=config.secret_keys,
            )
            self._serve_status(f"{config.project} · {self.stack}")
        except BaseException:
            self.stop()
            raise
        self.warnings = list(self._provider.deployment.warnings)
        if leftover:
            self._restore(leftover)
        if self.enforce_iam:
            self._aws.enforce_iam()
        self.region = config.region
        self.state.write_served(self.outputs, self.environment())
        self.startup_seconds = time.monotonic() - began
        return self.outputs

    def _serve_status(self, title: str) -> None:
        """Hooks every function to the collector, then serves the status page.

        The Function URLs and pollers already run while the program is evaluated: what they
        serve before this (before the start-up names any URL) is not counted. Restored
        messages are sent after it, so they are.
        """
        deployment = self._provider.deployment
        self.status.register(deployment.functions)
        for function in deployment.functions.values():
            function.on_invocation = self.status.record_invocation
        consumers: dict[str, list[str]] = {}
        for poller in deployment.pollers:
            consumers.setdefault(poller.queue_url, []).append(poller.function.name)
        self._status_page = StatusPage(
            self.status,
            sqs=self._provider.client("sqs"),
            title=title,
            function_urls={server.function.name: server.url for server in deployment.url_servers},
            consumers=consumers,
            port=self.status_port,
            fallback=self.status_port_fallback,
        )
        self._status_page.start()

    @property
    def credentials(self) -> dict[str, str]:
        """boto3 keyword arguments of the deployer's keys (all permissions)."""
        assert self._provider is not None, "start() first"
        return dict(self._provider.credentials)

    def client(self, service: str) -> Any:
        """A boto3 client of the embedded AWS, signed as the deployer."""
        assert self._provider is not None, "start() first"
        return self._provider.client(service)

    def environment(self) -> dict[str, str]:
        """What the AWS CLI or a script needs to talk to the embedded AWS as the deployer."""
        keys = self.credentials
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,  # what boto3 reads; the AWS CLI reads either
            "AWS_ACCESS_KEY_ID": keys["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["aws_secret_access_key"],
        }

    @property
    def snapshot_path(self) -> Path:
        return self.state.snapshot_file

    def _take_snapshot(self) -> dict[str, list[dict[str, Any]]]:
        path = self.snapshot_path
        if not path.is_file():
            return {}
        try:
            queues = json.loads(path.read_text()).get("queues", {})
        except ValueError:
            self.warnings.append(f"ignored an unreadable queue snapshot {path}")
            queues = {}
        path.unlink()
        return {} if self.fresh else queues

    def _restore(self, queues: dict[str, list[dict[str, Any]]]) -> None:
        """Puts back what the last stop left in the queues (new ids, receive counts reset)."""
        sqs = self._provider.client("sqs")
        for name, messages in queues.items():
            try:
                url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except sqs.exceptions.QueueDoesNotExist:
                self.warnings.append(
                    f"{len(messages)} message(s) of queue {name} were not restored: "
                    "the stack no longer declares that queue"
                )
                continue
            for start in range(0, len(messages), 10):
                entries = [
                    _restore_entry(str(start + i), m)
                    for i, m in enumerate(messages[start : start + 10])
                ]
                failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])
                if failed:
                    self.warnings.append(f"queue {name}: {len(failed)} message(s) not restored")
            self.restored[name] = len(messages)

    def _lock_stack(self) -> None:
        """One local cloud per stack and state folder: a second one would take over the first
        one's outputs, logs and queue snapshot."""
        handle = self.state.lock_file.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StackBusyError(
                f"stack {self.stack!r} is already being served from {self.state_dir} "
                f"(by {holder}); stop that one first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._lock_handle = handle

    def stop(self) -> None:
        """Stops intake, workers and the embedded AWS; safe to call more than once."""
        if self._status_page is not None:
            self._status_page.stop()
            self._status_page = None
        if self._provider is not None:
            self._provider.deployment.stop()
            self._provider = None
        if self._aws is not None:
            self._aws.stop()
            self._aws = None
        if self._logs is not None:
            self._logs.close()
            self._logs = None
        handle = self._lock_handle
        if handle is not None:  # only the owner of the stack's state cleans it up
            self.state.clear_served()
            handle.close()
            self._lock_handle = None

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _restore_entry(entry_id: str, saved: dict[str, Any]) -> dict[str, Any]:
    attributes = {}
    for key, value in (saved.get("attributes") or {}).items():
        value = dict(value)
        if "BinaryValue" in value:
            value["BinaryValue"] = base64.b64decode(value["BinaryValue"])
        attributes[key] = value
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": saved["body"]}
    if attributes:
        entry["MessageAttributes"] = attributes
    if saved.get("group_id"):
        entry["MessageGroupId"] = saved["group_id"]
        entry["MessageDeduplicationId"] = saved.get("deduplication_id") or entry_id
    return entry
