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
    return panel_class(session, **options)  # type: ignore[no-any-return]


def panel(name: str, session: Session | None = None, **options: Any) -> Panel:
    """One panel bound to ``session`` (default: ``tokenhot_nb.session()``); display it as a cell's value."""
    return make_panel(name, session, **options)


def studio(session: Session | None = None) -> Studio:
    """All panels as tabs over one session."""
    from ._panel import check_session
    from ._studio import Studio

    check_session(session)
    return Studio(session)
