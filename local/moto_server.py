"""The embedded AWS: moto's server in a process of its own, bound to 127.0.0.1.

A separate process keeps moto's request handling off the GIL that the Function URL servers
and pollers share, and dies with its parent: it serves until its stdin closes.

Run as `python -m local.moto_server`; it prints `PORT <n>` once it is listening.
"""

from __future__ import annotations

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

    def __init__(self, *, port: int = 0, start_timeout: float = 20.0) -> None:
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": str(root)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local.moto_server", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
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
                err = self._process.stderr.read() if self._process.stderr else ""
                raise EmbeddedAwsError(f"the embedded moto server did not start: {line}{err}")
            self._endpoint = f"http://127.0.0.1:{int(line[len(READY_PREFIX) :])}"
        return self._endpoint

    def stop(self, timeout: float = 3.0) -> None:
        if self._process.poll() is not None:
            return
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _serve(port: int) -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    bound = server._server.server_port  # type: ignore[union-attr]  # moto keeps it private
    print(f"{READY_PREFIX}{bound}", flush=True)
    try:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
    finally:
        server.stop()


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
