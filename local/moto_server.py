"""The embedded AWS: moto's server in a process of its own, bound to 127.0.0.1.

A separate process keeps moto's request handling off the GIL that the Function URL servers
and pollers share, and dies with its parent: it serves until its stdin closes.

Run as `python -m local.moto_server PORT [SNAPSHOT]`; it prints `PORT <n>` once it is listening.
It reads commands from stdin: `enforce-iam` turns on moto's IAM checks (every request must then
be signed by a known key and allowed by its policies); end of input stops it. What it changes
in moto itself is in `local/moto_patches.py`, which refuses a moto version it was not written
for (checked here in the parent too, so the error reaches the terminal).
With SNAPSHOT, it writes every message still in its queues there on the way out (in-flight
ones included, which no SQS API call could list), so that `LocalCloud` can put them back on the
next start: stopping the local cloud does not silently drop queued work.
Where ``ASYNC_WEBHOOK_MOTO_FORK_SERVER`` names a moto fork server (the test suite starts one),
the server is forked from it instead of started afresh (`local/moto_forkserver.py`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from local import moto_forkserver, moto_patches

READY_PREFIX = "PORT "


class EmbeddedAwsError(RuntimeError):
    """The embedded moto server did not start."""


class EmbeddedAws:
    """Starts moto in a child process without waiting; `endpoint_url` waits for it.

    Every wait on the child is bounded: a server that hangs before printing its port fails
    after ``start_timeout`` with the log file named, instead of hanging the local cloud.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        snapshot: Path | None = None,
        log_path: Path | None = None,
        start_timeout: float = 20.0,
        command: Sequence[str] | None = None,
    ) -> None:
        """``command`` replaces the server's argv (tests use a stand-in that never answers)."""
        moto_patches.check_moto_version()
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": str(root)}
        argv = [sys.executable, "-m", "local.moto_server", str(port)]
        if snapshot is not None:
            argv.append(str(snapshot))
        # stderr goes to a file, never to a pipe nobody drains (a full pipe would stall moto).
        self._log_path = log_path
        log = log_path.open("ab") if log_path is not None else open(os.devnull, "wb")  # noqa: SIM115
        fork_server = os.environ.get(moto_forkserver.ENV) if command is None else None
        self._process: subprocess.Popen[bytes] | moto_forkserver.ForkedServer
        try:
            if fork_server:
                self._process = moto_forkserver.ForkedServer(
                    fork_server, argv[3:], env=env, stderr=log.fileno(), timeout=start_timeout
                )
            else:
                self._process = subprocess.Popen(
                    list(command) if command is not None else argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=env,
                )
        except moto_forkserver.ForkServerError as error:
            raise EmbeddedAwsError(str(error)) from None
        finally:
            log.close()
        self._start_timeout = start_timeout
        self._endpoint: str | None = None
        self._pending = b""

    @property
    def endpoint_url(self) -> str:
        if self._endpoint is None:
            line = self._read_line(self._start_timeout, "print its port")
            if not line.startswith(READY_PREFIX):
                self.stop()
                raise EmbeddedAwsError(
                    f"the embedded moto server did not start{self._see_log()}: {line!r}"
                )
            self._endpoint = f"http://127.0.0.1:{int(line[len(READY_PREFIX) :])}"
        return self._endpoint

    def enforce_iam(self) -> None:
        """From now on moto checks every request against the caller's IAM policies."""
        self.endpoint_url  # noqa: B018 - waits until the server is up
        assert self._process.stdin is not None
        self._process.stdin.write(b"enforce-iam\n")
        self._process.stdin.flush()
        answer = self._read_line(self._start_timeout, "confirm enforce-iam")
        if answer != "OK":
            raise EmbeddedAwsError(f"the embedded moto server refused enforce-iam: {answer!r}")

    def stop(self, timeout: float = 4.0) -> None:
        """Closes moto's stdin (it snapshots and exits), killing it if it takes too long."""
        if self._process.poll() is None:
            if self._process.stdin is not None:
                with contextlib.suppress(BrokenPipeError):  # it is already on its way out
                    self._process.stdin.close()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()

    def _read_line(self, timeout: float, what: str) -> str:
        """One line of the server's stdout within ``timeout`` s; stops the server past it."""
        stdout = self._process.stdout
        assert stdout is not None
        fd = stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            ready = select.select([fd], [], [], remaining)[0] if remaining > 0 else []
            if not ready:
                self.stop(timeout=0)  # hung: nothing to wait for
                raise EmbeddedAwsError(
                    f"the embedded moto server did not {what} within {timeout:g} s{self._see_log()}"
                )
            chunk = os.read(fd, 4096)
            if not chunk:
                self.stop(timeout=0.5)
                code = self._process.returncode
                status = f" (exit status {code})" if code is not None else ""
                raise EmbeddedAwsError(
                    f"the embedded moto server exited before it could {what}{status}"
                    f"{self._see_log()}"
                )
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode(errors="replace").strip()

    def _see_log(self) -> str:
        return f" (see {self._log_path})" if self._log_path is not None else ""


def prepare() -> None:
    """Imports and patches moto for `serve`; once per process (a fork server does it once for
    every server it forks, `local/moto_forkserver.py`)."""
    import moto.server  # noqa: F401 - the import is the work: about half of a start's CPU

    moto_patches.patch_server()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def serve(port: int, snapshot: Path | None) -> NoReturn:
    """Serves until stdin ends, then snapshots the queues and exits; `prepare` first."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    _, bound = server.get_host_and_port()
    print(f"{READY_PREFIX}{bound}", flush=True)
    code = 0
    try:
        for line in sys.stdin:  # ends at EOF: the parent closed the pipe or died
            if line.strip() == "enforce-iam":
                moto_patches.enforce_iam()
                print("OK", flush=True)
    except BaseException:  # noqa: BLE001 - e.g. Ctrl-C: logged, and the snapshot still written
        traceback.print_exc()
        code = 1
    try:
        if snapshot is not None:
            _write_snapshot(snapshot)
    except OSError:
        traceback.print_exc()
        code = 1
    # Nothing else is kept: exit now rather than wait for the server's threads to wind down
    # and the interpreter to tear moto apart (about a second, more on a busy machine).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _write_snapshot(path: Path) -> None:
    queues = moto_patches.snapshot_queues()
    if queues:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "queues": queues}))
        tmp.replace(path)


if __name__ == "__main__":
    prepare()
    serve(
        int(sys.argv[1]) if len(sys.argv) > 1 else 0,
        Path(sys.argv[2]) if len(sys.argv) > 2 else None,
    )
