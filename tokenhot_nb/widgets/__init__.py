"""ipywidgets panels over the Session: ``panel("image" | "chat" | "video" | "audio" | "history")`` and ``studio()``.

Pure ipywidgets (no custom JavaScript), so they run in JupyterLab, Notebook 7, VS Code and Voilà.
This package is imported only when a panel is asked for, keeping ``%load_ext tokenhot_nb`` cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._session import Session
    from ._panel import Panel
    from ._studio import Studio

#: panel name → (module, class)
PANELS: dict[str, tuple[str, str]] = {
    "image": ("image", "ImagePanel"),
    "chat": ("chat", "ChatPanel"),
    "video": ("video", "VideoPanel"),
    "audio": ("audio", "AudioPanel"),
    "history": ("history", "HistoryPanel"),
}

__all__ = ["PANELS", "panel", "studio"]


def make_panel(name: str, session: Session | None = None, **options: Any) -> Panel:
    from ..errors import InputError

    key = str(name).strip().lower()
    if key not in PANELS:
        raise InputError(
            f"Unknown panel {name!r}.",
            hint="Choose one of: " + ", ".join(PANELS) + " (or tokenhot_nb.studio() for all of them as tabs).",
        )
    from ._panel import check_session

    check_session(session)
    module, cls = PANELS[key]
    panel_class = getattr(importlib.import_module(f".{module}", __name__), cls)
    _check_options(key, panel_class, options)
    return panel_class(session, **options)  # type: ignore[no-any-return]


def _check_options(name: str, panel_class: type, options: dict[str, Any]) -> None:
    """One line for an option the panel does not take or a value of the wrong type (they were a TypeError from
    inside the panel, 'slice indices must be integers' for recent='8')."""
    import inspect
    import os

    from ..errors import InputError, WrongTypeError

    takes = {n: p.default for n, p in inspect.signature(panel_class).parameters.items()
             if p.kind is p.KEYWORD_ONLY}
    for option, value in options.items():
        if option not in takes:
            raise InputError(f"panel({name!r}) takes no option {option!r}.",
                             hint=("Its options: " + ", ".join(takes) + ".") if takes
                             else f"It takes only the session: panel({name!r}, session=s).")
        default = takes[option]
        if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise WrongTypeError(f"panel({name!r}, {option}=…) takes a whole number of 0 or more, not {value!r:.40}.",
                                 hint=f"e.g. {option}={default}.")
        if isinstance(default, str) and not isinstance(value, (str, os.PathLike)):
            raise WrongTypeError(f"panel({name!r}, {option}=…) takes a folder path, not {type(value).__name__}.",
                                 hint=f"e.g. {option}='images'.")


def panel(name: str, session: Session | None = None, **options: Any) -> Panel:
    """One panel bound to ``session`` (default: ``tokenhot_nb.session()``); display it as a cell's value."""
    return make_panel(name, session, **options)


def studio(session: Session | None = None) -> Studio:
    """All panels as tabs over one session."""
    from ._panel import check_session
    from ._studio import Studio

    check_session(session)
    return Studio(session)
