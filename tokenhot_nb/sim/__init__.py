"""Offline simulator of the Tokenhot HTTP API (a new-api relay), for running and testing with no key.

Two ways to use the same app::

    SimTransport(faults=Faults())        # in-process httpx transport, streams for real
    serve("127.0.0.1", 0, faults=...)    # uvicorn in a background thread: server.url, server.stop()

Every response carries the request id in the ``X-Oneapi-Request-Id`` header and error messages end
with `` (request id: …)`` like new-api's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._common import REQUEST_ID_HEADER
from .app import KNOWN_MODELS, create_app
from .faults import FAULTS_HEADER, Faults
from .transport import SimTransport

if TYPE_CHECKING:
    from .server import Server, serve


def __getattr__(name: str) -> Any:
    """``Server`` / ``serve`` import the HTTP server (uvicorn, click) only when asked for: offline mode runs the
    app in-process and never needs them."""
    if name in ("Server", "serve"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["FAULTS_HEADER", "KNOWN_MODELS", "REQUEST_ID_HEADER", "Faults", "Server", "SimTransport", "create_app",
           "serve"]
