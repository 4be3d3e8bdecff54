"""Studio: every panel as a tab over one shared session (so they share one history)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ._panel import Panel, get_session

if TYPE_CHECKING:
    from .._session import Session

TITLES = {"image": "Image", "chat": "Chat", "video": "Video", "audio": "Audio", "history": "History"}


class Studio(w.VBox):
    """Tabs of all panels; ``studio.panels["image"]`` reaches one of them."""

    def __init__(self, session: Session | None = None) -> None:
        from . import make_panel

        super().__init__()
        self.session = get_session(session)
        self.panels: dict[str, Panel] = {name: make_panel(name, self.session) for name in TITLES}
        self.tabs = w.Tab(children=list(self.panels.values()), titles=list(TITLES.values()))
        self.tabs.observe(self._tab_changed, names="selected_index")
        mode = self.session.mode
        badge = f" <small style='color:#666'>· {mode} mode</small>" if mode else ""
        self.children = [w.HTML(f"<b>Tokenhot studio</b>{badge}"), self.tabs]
        self.add_class("tokenhot-studio")

    def _tab_changed(self, change: dict[str, Any]) -> None:
        """Refresh the history-backed lists of the tab being opened (others may have added entries)."""
        index = change.get("new")
        if index is None:
            return
        panel = list(self.panels.values())[index]
        if not panel.busy:
            try:
                panel.on_show()
            except Exception as exc:  # shown in the panel: a tab switch never raises into the kernel
                panel.show_error(exc)
