"""Studio: every panel as a tab over one shared session (so they share one history)."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from ._base import get_session

TITLES = {"image": "Image", "chat": "Chat", "video": "Video", "audio": "Audio", "history": "History"}


class Studio(w.VBox):
    """Tabs of all panels; ``studio.panels["image"]`` reaches one of them."""

    def __init__(self, session: Any = None) -> None:
        from . import make_panel

        super().__init__()
        self.session = get_session(session)
        self.panels: dict[str, Any] = {name: make_panel(name, self.session) for name in TITLES}
        self.tabs = w.Tab(children=list(self.panels.values()), titles=list(TITLES.values()))
        self.tabs.observe(self._tab_changed, names="selected_index")
        settings = getattr(self.session, "settings", None)
        mode = getattr(settings, "mode", "") or ""
        badge = f" <small style='color:#666'>· {mode} mode</small>" if mode else ""
        self.children = [w.HTML(f"<b>Tokenhot studio</b>{badge}"), self.tabs]
        self.add_class("tokenhot-studio")

    def _tab_changed(self, change: Any) -> None:
        """Refresh the history-backed lists of the tab being opened (others may have added entries)."""
        name = list(self.panels)[change["new"]] if change.get("new") is not None else None
        panel = self.panels.get(name) if name else None
        refresh = {"image": "refresh_recent", "video": "refresh_pending", "audio": "refresh_sources",
                   "history": "refresh"}.get(name or "")
        if panel is not None and refresh and not panel.busy:
            try:
                getattr(panel, refresh)()
            except Exception as exc:
                panel.show_error(exc)
