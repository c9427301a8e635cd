"""SIGINT and SIGTERM during a run, handled so clean-up always runs."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from harness.errors import Interrupted


class Interrupts:
    """SIGINT and SIGTERM during a run, handled so clean-up always runs.

    - While the harness's own code probes the stack, a signal raises Interrupted at once.
    - While a Pulumi command runs, it is only recorded: raising inside the Automation API would
      close the pipes of a `pulumi` process mid-operation. From a terminal, Ctrl-C reaches the
      CLI too, which stops after its in-flight operations (pulumi/pulumi
      pkg/backend/cancellation_scope.go); the run then stops and cleans up.
    - During clean-up a signal never stops the harness; a Ctrl-C still reaches `pulumi
      destroy`, which then stops, and the stack is left for the commands printed.
    """

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.received: list[str] = []
        self.hint = ""
        """How to finish by hand, said when a signal arrives during clean-up."""
        self._armed = False
        self._cleaning = False
        self._running: str | None = None

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if self._armed and not self._cleaning:
            self._armed = False
            raise Interrupted(f"interrupted by {name}")
        if self._cleaning:
            doing = f"`pulumi {self._running}`" if self._running else "clean-up"
            self.out(
                f"{name} received during clean-up: {doing} goes on. A Ctrl-C in the terminal "
                f"also reaches Pulumi, which then stops destroying; {self.hint}"
            )
        else:
            doing = f"`pulumi {self._running}`" if self._running else "the current step"
            self.out(
                f"{name} received: stopping after {doing} (a Ctrl-C in the terminal reaches "
                "Pulumi too: it stops after its in-flight operations), then destroying the stack"
            )

    def checkpoint(self) -> None:
        """Raise a signal recorded while it could not be raised (never during clean-up)."""
        if self.received and not self._cleaning:
            raise Interrupted(f"interrupted by {self.received[0]}")

    @contextmanager
    def pulumi(self, command: str) -> Iterator[None]:
        """A Pulumi CLI command runs: signals are recorded, and raised once it has ended."""
        self._running = command
        try:
            yield
        except Exception as exc:
            self._running = None
            if self.received and not self._cleaning:
                raise Interrupted(f"interrupted by {self.received[0]}") from exc
            raise
        finally:
            self._running = None
        self.checkpoint()

    @contextmanager
    def armed(self) -> Iterator[None]:
        """The harness's own code runs: a signal interrupts it at once."""
        self.checkpoint()
        self._armed = True
        try:
            yield
        finally:
            self._armed = False

    def begin_cleanup(self) -> None:
        self._cleaning = True
        self._armed = False

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM for the duration (Python allows it in the main thread
        only; elsewhere the defaults stay, and clean-up still runs on KeyboardInterrupt)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self.handle)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
