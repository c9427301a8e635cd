"""A moto fork server: one interpreter with moto imported and patched, that forks an embedded
AWS (`local/moto_server.py`) on request instead of starting a new interpreter for each.

A new interpreter spends about 0.35 s of CPU importing moto before it can serve; a fork of one
that already has spends a few milliseconds. That matters to a process that starts many local
clouds, as the test suite does: `tests/conftest.py` starts one fork server for its session and
names its socket in ``ASYNC_WEBHOOK_MOTO_FORK_SERVER``, and every `EmbeddedAws` started where
that is set, in the tests or in a `local up` they spawn, is forked from it. Nothing else sets
it: `local up` on its own spawns its server as before.

A forked server is the spawned one in every way its owner can see: it reads its commands from
the stdin pipe it was handed and ends at EOF (so it still dies with its owner), prints
``PORT n`` on the stdout pipe, logs to the file it was handed, and runs in the owner's working
directory and environment, with moto's random ids drawn afresh. Only its parent differs (the
fork server, which reaps it and reports its exit status to the owner), so it is not among the
owner's child processes and a signal to the owner's process group does not reach it.

Run as `python -m local.moto_forkserver SOCKET`: it prints ``LISTENING`` once requests can
queue on SOCKET, and serves until its stdin ends and every server it forked has exited.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import traceback
from pathlib import Path
from typing import IO, Any, NoReturn

from local import moto_patches

ENV = "ASYNC_WEBHOOK_MOTO_FORK_SERVER"
"""The fork server's socket; where it is set, `EmbeddedAws` forks its server from there."""

SERVICES = ("cloudwatch", "dynamodb", "iam", "kms", "lambda", "logs", "sns", "sqs", "ssm", "sts")
"""The services the local cloud calls (`local/provider.py` and its helpers), warmed up before
the first fork; another service works as well, it is only built in the forked server."""

READY_LINE = "LISTENING"
_MAX_REQUEST = 1 << 20  # a request is the owner's argv, working directory and environment
_REPLY = 64


class ForkServerError(RuntimeError):
    """The fork server did not start, or did not fork a server."""


class ForkedServer:
    """The owner's handle on a forked server: the part of `subprocess.Popen` EmbeddedAws uses
    (``stdin``, ``stdout``, ``pid``, ``poll``, ``wait``, ``kill``, ``returncode``)."""

    def __init__(
        self, socket_path: str, args: list[str], *, env: dict[str, str], stderr: int, timeout: float
    ) -> None:
        """Asks the fork server at ``socket_path`` for a server run as `moto_server` with
        ``args``; ``stderr`` is the file descriptor its log goes to."""
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = json.dumps({"args": args, "cwd": os.getcwd(), "env": env}).encode()
        try:
            conn.settimeout(timeout)  # the fork server may still be importing moto
            conn.connect(socket_path)
            socket.send_fds(conn, [request], [stdin_r, stdout_w, stderr])
            reply = conn.recv(_REPLY)
            if not reply.startswith(b"PID "):
                raise OSError(f"it answered {reply!r}")
            conn.settimeout(None)
        except OSError as error:
            conn.close()
            for fd in (stdin_w, stdout_r):
                os.close(fd)
            raise ForkServerError(
                f"the moto fork server at {socket_path} ({ENV}) did not fork a server: {error}"
            ) from error
        finally:
            os.close(stdin_r)  # the server's ends: it holds its own copies now
            os.close(stdout_w)
        self.pid = int(reply[4:])
        self.stdin: IO[bytes] = os.fdopen(stdin_w, "wb")
        self.stdout: IO[bytes] = os.fdopen(stdout_r, "rb")
        self.returncode: int | None = None
        self._conn: socket.socket | None = conn

    def poll(self) -> int | None:
        if self.returncode is None:
            self._await_exit(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not self._await_exit(timeout):
            raise subprocess.TimeoutExpired(f"moto server {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        """SIGKILL, sent by the fork server, which knows whether the pid is still its child's."""
        if self.returncode is None and self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(b"KILL")

    def _await_exit(self, timeout: float | None) -> bool:
        """Reads the exit status the fork server sends when it reaps the server."""
        assert self._conn is not None
        if not select.select([self._conn], [], [], timeout)[0]:
            return False
        message = self._conn.recv(_REPLY)
        self._conn.close()
        self._conn = None
        if not message.startswith(b"EXIT "):  # the fork server stops only after its servers
            raise ForkServerError(f"the moto fork server lost server {self.pid}: {message!r}")
        self.returncode = int(message[5:])
        return True


class ForkServer:
    """A fork server in a child process, started by `start` and ended by `stop`."""

    def __init__(self, process: subprocess.Popen[bytes], socket_path: Path) -> None:
        self.process = process
        self.socket_path = socket_path

    def stop(self, timeout: float = 30.0) -> None:
        """Ends it: it accepts no more requests and exits once its servers have, or is killed
        past ``timeout`` s (a server it forked still ends when its owner's pipe closes)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()


def start(socket_path: Path, *, timeout: float = 30.0) -> ForkServer:
    """Starts a fork server listening on ``socket_path``; returns once requests can queue
    (it goes on importing moto meanwhile, and answers them when it has)."""
    moto_patches.check_moto_version()
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, "-m", "local.moto_forkserver", str(socket_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert process.stdout is not None
    ready = select.select([process.stdout], [], [], timeout)[0]
    line = process.stdout.readline().decode(errors="replace").strip() if ready else ""
    if line != READY_LINE:
        process.kill()
        code = process.wait()
        process.stdin.close()  # type: ignore[union-attr]
        process.stdout.close()
        why = f"it printed {line!r}" if line else f"no output within {timeout:g} s"
        if not ready or not line:
            why = f"it exited with status {code} (its error is above)" if ready else why
        raise ForkServerError(f"the moto fork server on {socket_path} did not start: {why}")
    return ForkServer(process, socket_path)


def _serve_forks(socket_path: str) -> None:
    # Ctrl-C reaches the whole process group: the servers end on it (as spawned ones do), and
    # this process when its owner closes its stdin, so that it can still reap them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(socket_path)
    listener.listen(64)
    print(READY_LINE, flush=True)
    os.dup2(2, 1)  # nobody reads the pipe past that line: anything else printed goes to stderr
    from local import moto_server

    moto_server.prepare()
    moto_patches.warm_up(SERVICES)
    # What every fork shares, out of the collector's way: it would otherwise walk (and so
    # copy, page by page) the whole of imported moto in each child.
    gc.collect()
    gc.freeze()

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that it wakes `select`
    lifeline = sys.stdin.fileno()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(lifeline, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    owners: dict[socket.socket, int | None] = {}  # connection -> its server's pid, once forked
    accepting = True
    while accepting or any(pid is not None for pid in owners.values()):
        for key, _ in selector.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                owners[conn] = None
                selector.register(conn, selectors.EVENT_READ)
            elif key.fileobj == lifeline:
                if not os.read(lifeline, 4096):
                    accepting = False
                    selector.unregister(listener)
                    selector.unregister(lifeline)
                    listener.close()
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(socket_path)
            elif key.fileobj == wake_r:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                _reap(owners, selector)
            else:
                owner = key.fileobj
                assert isinstance(owner, socket.socket)
                if owners[owner] is None:
                    inherited = [listener.fileno(), lifeline, wake_r, wake_w, selector.fileno()]
                    pid = _fork(owner, [*inherited, *(c.fileno() for c in owners)])
                    if pid is None:
                        _forget(owner, owners, selector)
                    else:
                        owners[owner] = pid
                else:
                    _owner_says(owner, owners, selector)


def _fork(conn: socket.socket, inherited: list[int]) -> int | None:
    """Forks a server for the request on ``conn``: its pid, or None for a request without one."""
    try:
        request, fds, _, _ = socket.recv_fds(conn, _MAX_REQUEST, 3)
    except OSError:
        request, fds = b"", []
    if not request or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return None
    pid = os.fork()
    if pid == 0:
        _become_server(json.loads(request), fds, [fd for fd in inherited if fd >= 0])
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):
        conn.send(f"PID {pid}".encode())
    return pid


def _owner_says(
    conn: socket.socket, owners: dict[socket.socket, int | None], selector: selectors.BaseSelector
) -> None:
    try:
        message = conn.recv(_REPLY)
    except OSError:
        message = b""
    pid = owners[conn]
    if message == b"KILL" and pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # not reaped yet, so the pid is still its
    elif not message:  # the owner is gone; its server ends when its stdin does, then is reaped
        selector.unregister(conn)


def _reap(owners: dict[socket.socket, int | None], selector: selectors.BaseSelector) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = next((c for c, p in owners.items() if p == pid), None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(f"EXIT {os.waitstatus_to_exitcode(status)}".encode())
            _forget(conn, owners, selector)


def _forget(
    conn: socket.socket, owners: dict[socket.socket, int | None], selector: selectors.BaseSelector
) -> None:
    with contextlib.suppress(KeyError, ValueError):
        selector.unregister(conn)
    owners.pop(conn, None)
    conn.close()


def _become_server(request: dict[str, Any], fds: list[int], inherited: list[int]) -> NoReturn:
    """In the forked child: the owner's pipes as stdio, its directory and environment, fresh
    random ids, then `moto_server.serve`, which never returns."""
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in inherited:
            os.close(fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdio
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        args = request["args"]
        moto_patches.reseed_random()
        from local import moto_server

        moto_server.serve(int(args[0]) if args else 0, Path(args[1]) if len(args) > 1 else None)
    except BaseException:  # noqa: BLE001 - a child must never return into the fork server
        traceback.print_exc()
        sys.stderr.flush()
    os._exit(1)


if __name__ == "__main__":
    _serve_forks(sys.argv[1])
    sys.exit(0)
