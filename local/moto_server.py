"""The embedded AWS: moto's server in a process of its own, bound to 127.0.0.1.

A separate process keeps moto's request handling off the GIL that the Function URL servers
and pollers share, and dies with its parent: it serves until its stdin closes.

Run as `python -m local.moto_server PORT [SNAPSHOT]`; it prints `PORT <n>` once it is listening.
It reads commands from stdin: `enforce-iam` turns on moto's IAM checks (every request must then
be signed by a known key and allowed by its policies); end of input stops it.
With SNAPSHOT, it writes every message still in its queues there on the way out (in-flight
ones included, which no SQS API call could list), so that `LocalCloud` can put them back on the
next start: stopping the local cloud does not silently drop queued work.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

READY_PREFIX = "PORT "


class EmbeddedAwsError(RuntimeError):
    """The embedded moto server did not start."""


class EmbeddedAws:
    """Starts moto in a child process without waiting; `endpoint_url` waits for it."""

    def __init__(
        self,
        *,
        port: int = 0,
        snapshot: Path | None = None,
        log_path: Path | None = None,
        start_timeout: float = 20.0,
    ) -> None:
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": str(root)}
        argv = [sys.executable, "-m", "local.moto_server", str(port)]
        if snapshot is not None:
            argv.append(str(snapshot))
        # stderr goes to a file, never to a pipe nobody drains (a full pipe would stall moto).
        self._log_path = log_path
        log = log_path.open("ab") if log_path is not None else subprocess.DEVNULL
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                text=True,
            )
        finally:
            if not isinstance(log, int):
                log.close()
        self._start_timeout = start_timeout
        self._endpoint: str | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint is None:
            assert self._process.stdout is not None
            deadline = time.monotonic() + self._start_timeout
            line = self._process.stdout.readline()
            if not line.startswith(READY_PREFIX) or time.monotonic() > deadline:
                self.stop()
                where = f" (see {self._log_path})" if self._log_path else ""
                raise EmbeddedAwsError(f"the embedded moto server did not start{where}: {line}")
            self._endpoint = f"http://127.0.0.1:{int(line[len(READY_PREFIX) :])}"
        return self._endpoint

    def enforce_iam(self) -> None:
        """From now on moto checks every request against the caller's IAM policies."""
        self.endpoint_url  # noqa: B018 - waits until the server is up
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write("enforce-iam\n")
        self._process.stdin.flush()
        answer = self._process.stdout.readline().strip()
        if answer != "OK":
            raise EmbeddedAwsError(f"the embedded moto server refused enforce-iam: {answer!r}")

    def stop(self, timeout: float = 4.0) -> None:
        """Closes moto's stdin (it snapshots and exits), killing it if it takes too long."""
        if self._process.poll() is None:
            if self._process.stdin is not None:
                self._process.stdin.close()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def _snapshot_queues() -> dict[str, list[dict[str, object]]]:
    """Every message moto holds, per queue name, in the shape SendMessage takes back."""
    from moto.sqs.models import sqs_backends

    queues: dict[str, list[dict[str, object]]] = {}
    for regions in sqs_backends.values():
        for backend in regions.values():
            for name, queue in backend.queues.items():
                kept: list[dict[str, object]] = []
                for message in list(queue._messages):
                    attributes = {}
                    for key, value in message.message_attributes.items():
                        value = dict(value)
                        if isinstance(value.get("BinaryValue"), bytes):
                            value["BinaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
                        attributes[key] = value
                    kept.append(
                        {
                            "body": message.body,
                            "attributes": attributes,
                            "group_id": message.group_id,
                            "deduplication_id": message.deduplication_id,
                            "receive_count": message.approximate_receive_count,
                        }
                    )
                if kept:
                    queues[name] = kept
    return queues


def _teach_ssm_resources() -> None:
    """moto checks SSM calls against resource "*", so a policy scoped to one parameter's ARN
    (as ours is) would deny the call; name the parameter's ARN as AWS does."""
    from moto.ssm.responses import SimpleSystemManagerResponse

    def determine_resource(self: SimpleSystemManagerResponse) -> str:
        name = self._get_param("Name")
        if not isinstance(name, str) or not name:
            return "*"
        if name.startswith("arn:"):
            return name
        path = name if name.startswith("/") else f"/{name}"
        return f"arn:aws:ssm:{self.region}:{self.current_account}:parameter{path}"

    SimpleSystemManagerResponse._determine_resource = determine_resource  # type: ignore[attr-defined]


# SQS authorizes each batch action with its single action's permission; moto asks for the
# batch action itself, which would deny a policy written the AWS way.
_SQS_BATCH_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


def _authorize_batches_as_aws_does() -> None:
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.__init__

    def init(self: IAMRequestBase, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        self._action = _SQS_BATCH_ACTIONS.get(self._action, self._action)

    IAMRequestBase.__init__ = init  # type: ignore[method-assign]


def _speed_up_moto() -> None:
    """Two of moto's hot spots, replaced by equivalents that cost microseconds.

    Measured with cProfile under the load test: moto computes "now" by building datetimes
    (millions of calls once a queue is a few thousand deep, because every send recounts the
    queue), and matches each request's host against every service's URL patterns under a lock
    that all request threads share. At depth 3,000 a send went from 43 ms to 2.3 ms.
    """
    from moto.core import utils
    from moto.moto_server import werkzeug_app
    from moto.sqs import models

    slow_unix_time = utils.unix_time

    def unix_time(dt: object = None) -> float:
        return time.time() if dt is None else slow_unix_time(dt)  # type: ignore[arg-type]

    def unix_time_millis(dt: object = None) -> float:
        return unix_time(dt) * 1000.0

    for module in (utils, models):
        vars(module).update(unix_time=unix_time, unix_time_millis=unix_time_millis)

    dispatcher = werkzeug_app.DomainDispatcherApplication
    lookup = dispatcher.get_backend_for_host
    backends: dict[object, object] = {}

    def get_backend_for_host(self: object, host: object) -> object:
        if host not in backends:  # the answer depends on the host alone
            backends[host] = lookup(self, host)  # type: ignore[arg-type]
        return backends[host]

    dispatcher.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def _enforce_iam() -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0


def _serve(port: int, snapshot: Path | None) -> None:
    from moto.server import ThreadedMotoServer

    from local.dynamodb import teach_table_resources

    _speed_up_moto()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    bound = server._server.server_port  # type: ignore[union-attr]  # moto keeps it private
    _teach_ssm_resources()
    teach_table_resources()
    _authorize_batches_as_aws_does()
    print(f"{READY_PREFIX}{bound}", flush=True)
    try:
        for line in sys.stdin:  # ends at EOF: the parent closed the pipe or died
            if line.strip() == "enforce-iam":
                _enforce_iam()
                print("OK", flush=True)
    finally:
        if snapshot is not None:
            queues = _snapshot_queues()
            if queues:
                tmp = snapshot.with_suffix(".tmp")
                tmp.write_text(json.dumps({"version": 1, "queues": queues}))
                tmp.replace(snapshot)
        server.stop()


if __name__ == "__main__":
    _serve(
        int(sys.argv[1]) if len(sys.argv) > 1 else 0,
        Path(sys.argv[2]) if len(sys.argv) > 2 else None,
    )
