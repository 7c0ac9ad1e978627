"""Lifecycle shared by the test servers that listen on loopback (fault proxy, replay server)."""
from __future__ import annotations

import threading


class LoopbackServer:
    """Runs ``self._server`` (a socketserver) in a thread; a context manager that stops cleanly."""

    _server: object
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _before_stop(self) -> None:
        """Hook: wake handlers that would otherwise keep ``shutdown`` waiting."""

    def stop(self) -> None:
        self._before_stop()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
