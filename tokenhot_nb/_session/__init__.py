"""The session package: :class:`Session` (the one front door) and the shared default session.

Layout (one job a module): ``core`` the Session class (settings, client, store, defaults; each method a short
delegation), ``loop`` running on the background loop and carrying callbacks and interrupts back, ``models``
model and seed resolution, ``recording`` the history row, output artifacts and replay lookup, ``inputs`` input
media, ``images`` / ``chat`` / ``video`` / ``audio`` the per-kind calls, ``batch`` batches and comparisons,
``default`` the shared session.
"""

from __future__ import annotations

from .core import Session
from .default import session, set_session
from .loop import Interrupted
from .recording import endpoint_name

__all__ = ["Interrupted", "Session", "endpoint_name", "session", "set_session"]
