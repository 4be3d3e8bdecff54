"""The shared default session (the magics and widgets use it)."""

from __future__ import annotations

import threading
from typing import Any

from .checks import plain
from .core import Session

_default: Session | None = None
_default_lock = threading.Lock()


def session(reset: bool = False, **kwargs: Any) -> Session:
    """The shared default session (the magics and widgets use it). ``reset=True`` (or kwargs) makes a new one."""
    global _default
    reset = plain(reset)  # (numpy's bools are bools)
    if not isinstance(reset, bool):  # session(5) was read as reset=True, session('x') too: a wrong argument, not a flag
        from ..errors import WrongTypeError

        raise WrongTypeError(f"session() takes reset=True or False, not {type(reset).__name__} {reset!r:.40}.",
                             hint="Settings go by name: tokenhot_nb.session(store='.tokenhot', mode='offline'); "
                                  "tokenhot_nb.session(reset=True) makes a fresh one.")
    with _default_lock:
        if _default is None or reset or kwargs:
            old = _default
            new = _made(kwargs, old)
            _default = new
            if old is not None:
                try:
                    old.close()
                except Exception:
                    pass
        return _default


def _made(kwargs: dict[str, Any], old: Session | None) -> Session:
    """The new default session. A store path that cannot be made or opened (``%th_config --store /proc/nope``)
    failed only at the next call, after the working session was already replaced: ``Session`` refuses a path that
    can never be a store, a new store is opened here, and on failure the old session is kept as it was."""
    from ..errors import StoreError

    new: Session | None = None
    try:
        new = Session(**kwargs)
        if kwargs.get("store") is not None and (old is None or new.settings.store != old.settings.store):
            new.store.connection()
    except StoreError as err:
        if new is not None:
            new.close()
        kept = f"the session keeps its store {str(old.settings.store)!r}" if old is not None else "no session was made"
        raise StoreError(f"{err.message.rstrip('.')}; {kept}.", hint=err.hint) from None
    return new


def current() -> Session | None:
    """The shared default session if one was made, without making one (a caller that only asks about it)."""
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
