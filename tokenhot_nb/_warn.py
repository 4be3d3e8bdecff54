"""Warnings that point at the user's line, never at tokenhot_nb's internals.

``warnings.warn(stacklevel=n)`` counts frames, and the count differs by path (a cell, a magic, an awaited twin, a
batch); on the background loop's thread the user's frame is not on the stack at all. So each front-door call
notes where it was made (:func:`caller`, kept in :data:`CALLER` and carried into the loop the way
``_session/loop.py``'s ``CALL_ROWS`` is), and :func:`warn` files the warning there with ``warn_explicit``.
(``skip_file_prefixes`` would do part of this, but only from Python 3.12.)
"""

from __future__ import annotations

import functools
import linecache
import os
import re
import shlex
import sys
import sysconfig
import warnings
from contextvars import ContextVar
from types import FrameType
from typing import Any, NamedTuple

from ._config import redact


class Where(NamedTuple):
    """A line of the user's code: the file, the line, and its module's globals (whose warning registry keeps
    a warning shown once per line, as ``warnings.warn`` does)."""

    filename: str
    lineno: int
    module_globals: dict[str, Any]


CALLER: ContextVar[FrameType | Where | None] = ContextVar("tokenhot_caller", default=None)
"""Where the front-door call now running was made (None outside one). A sync call keeps the waiting thread's
frame, walked to the user's line only when a warning is issued (its stack stays as it is while it waits); an
awaited one keeps the line itself (a suspended coroutine's frame no longer knows its caller)."""

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _library_dirs() -> tuple[str, ...]:
    """The standard library and installed packages' folders: IPython's magic machinery, asyncio, threading."""
    paths = sysconfig.get_paths()
    dirs = {os.path.dirname(os.__file__)} | {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")
                                             if k in paths}
    return tuple(sorted(os.path.abspath(d) + os.sep for d in dirs))


_LIBRARIES = _library_dirs()


@functools.lru_cache(maxsize=4096)  # (every front-door call walks its stack: a path is classified once)
def _ours(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE) if not filename.startswith("<") else False


@functools.lru_cache(maxsize=4096)
def _library(filename: str) -> bool:
    if filename.startswith("<"):  # a cell, `python -c`, exec'd code: the user's
        return filename.startswith("<frozen ")
    full = os.path.abspath(filename)
    return full.startswith(_LIBRARIES) or "site-packages" in full or "dist-packages" in full


def caller(skip: int = 1, start: FrameType | None = None) -> Where | None:
    """The innermost frame of the user's code on this thread's stack (or from ``start`` outwards).

    Frames of tokenhot_nb are skipped, then those of the standard library and installed packages (a magic is
    called by IPython's machinery, which is called by the cell); when only those remain (the user's code is
    itself an installed package), the innermost frame outside tokenhot_nb is taken.
    """
    frame: FrameType | None = start if start is not None else sys._getframe(skip)
    fallback: Where | None = None
    while frame is not None:
        name = frame.f_code.co_filename
        if not _ours(name):
            where = Where(name, frame.f_lineno, frame.f_globals)
            if not _library(name):
                return where
            fallback = fallback or where
        frame = frame.f_back  # type: ignore[assignment]
    return fallback


IN_MAGIC: ContextVar[bool] = ContextVar("tokenhot_in_magic", default=False)
"""True while a magic runs (carried into the background loop with its call, as :data:`CALLER` is): its user has
no ``session`` variable, so what a message names on one is said on ``tokenhot_nb.session()``, the magics' own."""

#: ``session.x`` / ``s.x`` in a message: the Python user's session (not ``tokenhot_nb.session().x``, not ``os.x``).
_ON_SESSION = re.compile(r"(?<![\w./\\-])(?:session|s)\.(?P<name>[A-Za-z_]\w*)")


@functools.lru_cache(maxsize=1)
def _session_names() -> frozenset[str]:
    """What a Session has (methods, properties, and what its ``__init__`` sets): ``s.png`` in a path is a file."""
    from ._session.core import Session

    return frozenset(n for n in dir(Session) if not n.startswith("_")) | {"threads", "settings", "catalog",
                                                                         "spending", "id"}


#: ``history[i]`` / ``history.get(3)`` in a message: the Python user's ``session.history`` (not ``history.sqlite``).
_ON_HISTORY = re.compile(r"(?<![\w./\\-])history(?=\[|\.(?P<name>[A-Za-z_]\w*)\()")


@functools.lru_cache(maxsize=1)
def _history_names() -> frozenset[str]:
    from .history import History

    return frozenset(n for n in dir(History) if not n.startswith("_"))


#: Settings each call reads from the session's ``settings`` when it runs (the client's timeouts included), so a
#: change made on the shared session, ``tokenhot_nb.session().settings.read_timeout = 600``, holds from its next call.
LIVE_SETTINGS = frozenset({"read_timeout", "connect_timeout", "stream_idle_timeout", "stream_deadline",
                           "poll_interval", "video_deadline", "download_cap", "download_min_rate", "response_cap"})
#: What ``%th_config`` changes (it rebuilds the shared session, carrying over the rest), by its option.
_CONFIG_OPTIONS = {"store": ("--store", "DIR"), "base_url": ("--base-url", "URL"),
                   "price_group": ("--price-group", "GROUP")}
#: ``Session(read_timeout=…)`` in a fix: a setting of a session Python code makes. A magic user cannot make the
#: magics' one again that way (nor with ``tokenhot_nb.session(read_timeout=…)``, which drops the key and mode).
#: (one setting given; not one handed to ``set_session(…)``, which is Python's whole line)
_NEW_SESSION = re.compile(r"(?<![\w.])(?<!set_session\()(?:tokenhot_nb\.)?Session\((?P<name>\w+)="
                          r"(?P<value>(?:[^(),]|\([^()]*\))*)\)")
#: ``raise stream_idle_timeout`` in a fix, naming a setting but no way to change it.
_BARE_SETTING = re.compile(rf"\b(?P<verb>[Rr]aise|[Ll]ower) (?P<name>{'|'.join(sorted(LIVE_SETTINGS))})\b(?! \()")
#: The ways a magic user has to set the key and the budget, each already named beside the Python one.
_MAGIC_WAYS = (
    (re.compile(r"Session\(api_key=os\.environ\['(\w+)'\]\)"), r"%th_config --key-from-env \1"),
    (re.compile(r"; pass Session\(api_key=…\) to a session of your own"), ""),
    (re.compile(r"Session\(budget=…\) or (?=`?%th_config --budget )"), ""),
)


def _setting_said(m: re.Match[str]) -> str:
    """``Session(name=value)`` as the magic user changes that setting: on the shared session in place when each call
    reads it then, by ``%th_config`` when it has an option for it, else (a setting fixed when a session is made)
    as it was."""
    name, value = m.group("name"), m.group("value").strip()
    if name in LIVE_SETTINGS:
        return f"tokenhot_nb.session().settings.{name} = {value}"
    if name in _CONFIG_OPTIONS:
        option, metavar = _CONFIG_OPTIONS[name]
        plain = value[1:-1] if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"" else value
        return f"%th_config {option} {metavar if plain in ('…', '') else shlex.quote(plain)}"
    return m.group(0)


def for_magic_user(text: str) -> str:
    """``text`` with ``session.resume(3)`` (or ``s.…``) said as ``tokenhot_nb.session().resume(3)``, and
    ``history[i]`` / ``history.get(3)`` as ``tokenhot_nb.session().history…``: a line a magic user can run
    (``session`` and ``history`` are names only Python code that made them has). A setting to change
    (``Session(read_timeout=…)``) is said as the magic user changes it on the shared session (:func:`_setting_said`)."""
    for pattern, way in _MAGIC_WAYS:
        text = pattern.sub(way, text)
    text = _NEW_SESSION.sub(_setting_said, text)
    text = _BARE_SETTING.sub(lambda m: f"{m.group(0)} (tokenhot_nb.session().settings.{m.group('name')} = …)", text)
    said = _ON_SESSION.sub(lambda m: f"tokenhot_nb.session().{m.group('name')}" if m.group("name") in _session_names()
                           else m.group(0), text)
    return _ON_HISTORY.sub(lambda m: "tokenhot_nb.session().history" if m.group("name") in (None, *_history_names())
                           else m.group(0), said)


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning at the user's line: that of the front-door call now running, else the innermost frame of
    the user's code on this stack."""
    if IN_MAGIC.get():
        message = for_magic_user(message)
    made = CALLER.get()
    where = made if isinstance(made, Where) else caller(start=made) if made is not None else caller(2)
    if where is None:  # no user code at all (an interpreter shutting down): plain warn
        warnings.warn(message, category, stacklevel=2)
        return
    filename, lineno = where.filename, where.lineno
    if redact(linecache.getline(filename, lineno)) != linecache.getline(filename, lineno):
        # the warning would print the user's line, and it holds a key (`Session(api_key='sk-…')`): name the line,
        # show none (line 0 has no text)
        message, lineno = f"{message} (line {lineno}; not shown: it holds an API key)", 0
    registry = where.module_globals.setdefault("__warningregistry__", {})
    module = where.module_globals.get("__name__") if isinstance(where.module_globals.get("__name__"), str) else None
    # (no module_globals: its loader may not serve source, e.g. ``python -c``; linecache finds files and cells)
    warnings.warn_explicit(message, category, filename, lineno, module=module, registry=registry)
