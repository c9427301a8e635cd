"""An HTTP server of the local cloud that serves in a background thread until stopped.

The Function URLs (``local/function_url.py``) and the status page (``local/status_page.py``)
serve alike: each binds its server on ``start``, serves from a daemon thread and frees its
port on ``stop``; only how the server is made differs (``_bind``).
"""

from __future__ import annotations

import threading
from socketserver import TCPServer
from typing import Self

__all__ = ["BackgroundServer"]

POLL_SECONDS = 0.05
"""How often ``serve_forever`` looks for a shutdown: how long ``stop`` waits at most."""


class BackgroundServer:
    """A server on 127.0.0.1 served by a daemon thread named ``thread_name``."""

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._server: TCPServer | None = None
        self._thread: threading.Thread | None = None

    def _bind(self) -> TCPServer:
        """A new bound server (OSError when its port is taken)."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Bind and serve in a background thread; idempotent."""
        if self._server is not None:
            return
        self._server = self._bind()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name=self._thread_name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and release the port; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
