"""The shared default session (the magics and widgets use it)."""

from __future__ import annotations

import threading
from typing import Any

from .core import Session

_default: Session | None = None
_default_lock = threading.Lock()


def session(reset: bool = False, **kwargs: Any) -> Session:
    """The shared default session (the magics and widgets use it). ``reset=True`` (or kwargs) makes a new one."""
    global _default
    with _default_lock:
        if _default is None or reset or kwargs:
            old = _default
            _default = Session(**kwargs)
            if old is not None:
                try:
                    old.close()
                except Exception:
                    pass
        return _default


def set_session(s: Session) -> Session:
    """Make ``s`` the shared default session."""
    global _default
    if not isinstance(s, Session):
        from ..errors import WrongTypeError

        raise WrongTypeError(f"set_session() takes a Session, not {type(s).__name__}.",
                             hint="e.g. tokenhot_nb.set_session(tokenhot_nb.Session(store='.tokenhot')).")
    with _default_lock:
        _default = s
    return s
