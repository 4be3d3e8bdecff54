"""The simulator as a real HTTP server: uvicorn in a background thread (loopback by default)."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

import uvicorn

from ._common import StreamAborted
from .app import create_app
from .faults import Faults


class _QuietAborts(logging.Filter):
    """A simulated connection drop is intended; keep its traceback out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, StreamAborted):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


_filter = _QuietAborts()


class Server:
    """A running simulator; ``url`` is its base URL (without ``/v1``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None,
                 log_level: str = "warning") -> None:
        self.host = host
        self.app = create_app(faults)
        config = uvicorn.Config(self.app, host=host, port=port, log_level=log_level, lifespan="off",
                                access_log=log_level in ("debug", "info"), timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(_filter)
        self._thread = threading.Thread(target=self._server.run, name="tokenhot-sim", daemon=True)
        self.port = port

    def start(self, timeout: float = 15.0) -> Server:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the simulator could not start on {self.host}:{self.port}")
            time.sleep(0.01)
        for server in self._server.servers:
            for sock in server.sockets:
                self.port = sock.getsockname()[1]
                break
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self.app.state.sim.faults  # type: ignore[no-any-return]

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults (and reset fail-first counters); safe from any thread."""
        self.app.state.sim.set_faults(faults)

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Server(url={self.url!r})"


def serve(host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None, *,
          log_level: str = "warning") -> Server:
    """Start a simulator server in a background thread; port 0 picks a free port."""
    return Server(host, port, faults, log_level).start()
