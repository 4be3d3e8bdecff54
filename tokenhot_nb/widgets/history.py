"""History: browse and filter what the session recorded, preview it, export it, run an entry again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as w

from .._safe import text_html
from ..errors import InputError, clean_text
from ..history._validate import KINDS
from ._entries import entry_label, entry_of, entry_thumbs, history_entries, outputs
from ._media import INLINE_LIMIT, audio_widget, image_widget, video_widget
from ._panel import Panel
from ._pickers import UNSET, chosen

if TYPE_CHECKING:
    from .._session import Session
    from ..history import HistoryEntry
    from ..results import Result

STATUSES = ("ok", "error", "pending", "running", "interrupted")


def _resumable(entry: HistoryEntry) -> bool:
    """A video task the service may still be making or have made: picking it up again pays nothing, running
    it again pays for a second video."""
    return (entry.kind == "video" and entry.status in ("pending", "running", "interrupted")
            and bool((entry.response or {}).get("task_id")))


class HistoryPanel(Panel):
    """A filterable list of entries; the selected one shows its preview, parameters and code."""

    kind = "history"

    def __init__(self, session: Session | None = None, *, limit: int = 200) -> None:
        super().__init__(session)
        self.limit = limit
        self.entries: list[HistoryEntry] = []
        self._search_refused = False
        # "all" is UNSET, not None: a Dropdown whose value is None shows a blank box instead of "all".
        self.kind_filter = w.Dropdown(description="Kind", options=[("all", UNSET), *[(k, k) for k in KINDS]],
                                      value=UNSET, layout=w.Layout(width="200px"))
        self.status_filter = w.Dropdown(description="Status", options=[("all", UNSET), *[(s, s) for s in STATUSES]],
                                        value=UNSET, layout=w.Layout(width="200px"))
        self.search = w.Text(placeholder="search prompts and answers", layout=w.Layout(width="260px"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.list = w.Select(options=[], rows=10, layout=w.Layout(width="100%"))
        self.previews = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.previews.add_class("tokenhot-previews")
        self.detail = w.HTML()
        self.preview = w.Box()
        self.code = w.Textarea(layout=w.Layout(width="100%", height="6em"))
        self.rerun_button = w.Button(description="Run again", icon="repeat")
        self.export_path = w.Text(value="tokenhot-history.json", description="Export to",
                                  layout=w.Layout(width="360px"))
        self.export_button = w.Button(description="Export", icon="save")
        self.busy_widgets = [self.rerun_button, self.export_button]

        for widget in (self.kind_filter, self.status_filter, self.search):
            widget.observe(self.shielded(self.refresh), names="value")
        self.refresh_button.on_click(self.shielded(self.refresh))
        self.list.observe(self.shielded(self.show_entry), names="value")
        self.rerun_button.on_click(self.shielded(self.rerun))
        self.export_button.on_click(self.shielded(self.export))
        self.refresh()
        self.children = [
            w.HTML("<b>History</b>"),
            w.HBox([self.kind_filter, self.status_filter, self.search, self.refresh_button],
                   layout=w.Layout(flex_flow="row wrap")),
            self.list,
            self.previews,
            self.detail,
            self.preview,
            self.code,
            w.HBox([self.rerun_button, self.export_path, self.export_button], layout=w.Layout(flex_flow="row wrap")),
            self.status,
            self.error_box,
        ]

    @property
    def selected(self) -> HistoryEntry | None:
        value = self.list.value
        return next((e for e in self.entries if e.id == value), None)

    def on_show(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        kind, status = chosen(self.kind_filter), chosen(self.status_filter)
        kinds = [kind] if kind is not None else None
        statuses = [status] if status is not None else None
        needle = self.search.value.strip()
        try:
            self.entries = history_entries(self.session, kinds, statuses, limit=self.limit, text=needle)
        except InputError as exc:  # (an observer's exception only reaches the log: the user sees it here)
            self.show_error(exc)
            self._search_refused = True
            self.entries = []
        else:
            if self._search_refused:  # (only its own line: a failed export or rerun stays shown)
                self.show_error(None)
            self._search_refused = False
        keep = self.list.value
        self.list.options = [(f"{entry_label(e)} [{clean_text(str(e.status))}]", e.id) for e in self.entries]
        ids = [e.id for e in self.entries]
        self.list.value = keep if keep in ids else (ids[0] if ids else None)
        self.previews.children = entry_thumbs(self.session, self.entries, ("image", "poster"), 72, limit=12)
        self.say(f"{len(self.entries)} entr{'y' if len(self.entries) == 1 else 'ies'}")
        self.show_entry()

    def show_entry(self) -> None:
        entry = self.selected
        if entry is None:
            self.detail.value = "<i>No entry selected.</i>"
            self.preview.children = []
            self.code.value = ""
            return
        params = json.dumps(entry.params or {}, indent=1, default=str, ensure_ascii=False)
        error = entry.error or {}
        err = ""
        if error:
            said = f"{error.get('message', '')} {error.get('hint', '')}"
            if self._on_shared_session():  # (the row keeps session.resume(3): a name a %th_panel user does not have)
                from .._warn import for_magic_user

                said = for_magic_user(said)
            err = f"<div style='color:#a00'>{text_html(said)}</div>"
        duration = entry.duration
        cost = entry.cost  # (what the same call cost: the estimate a user wants before paying for it again)
        self.detail.value = (
            f"<b>#{entry.id}</b> {text_html(entry.kind)} · "
            f"{text_html(str(entry.model))} · {text_html(entry.status)}"
            + (f" · {duration:.1f} s" if isinstance(duration, (int, float)) else "")
            + (f" · {text_html(str(cost))}" if cost.known else "")
            + err
            + f"<details><summary>parameters</summary><pre>{text_html(params)}</pre></details>"
        )
        self.preview.children = self._preview(entry)
        resume = _resumable(entry)
        self.rerun_button.description = "Resume" if resume else "Run again"
        self.rerun_button.tooltip = ("Pick the task up again: nothing new is paid" if resume
                                     else "Make the same call again: a new, paid call"
                                     + (f" (this one cost {cost})" if cost.known else ""))
        try:
            self.code.value = entry.to_code()
        except Exception:
            self.code.value = ""

    def _preview(self, entry: HistoryEntry) -> list[w.Widget]:
        """A look at the outputs without pushing large media through the widget channel."""
        out: list[w.Widget] = []
        try:
            for path, _art in outputs(self.session, entry, ("image",))[:4]:
                out.append(image_widget(path, max_side=256))
            for path, _art in outputs(self.session, entry, ("video",))[:1]:
                out.append(video_widget(path, INLINE_LIMIT))
            for path, art in outputs(self.session, entry, ("audio",))[:1]:
                out.append(audio_widget(path, art.get("mime") or "audio/wav", INLINE_LIMIT))
        except Exception as exc:
            out.append(w.HTML(f"<i>Preview unavailable: {text_html(str(exc))}</i>"))
        text = entry.text or ""
        if not out and text:
            out.append(w.HTML(f"<pre style='white-space:pre-wrap;max-height:200px;overflow:auto'>"
                              f"{text_html(text[:4000])}</pre>"))
        return out

    def rerun(self) -> None:
        entry = self.selected
        if entry is None:
            self.show_error("Select an entry to run again.")
            return
        session = self.session

        def done(result: Result) -> None:
            new = entry_of(result)
            self.refresh()
            if new is not None and new.id in [e.id for e in self.entries]:
                self.list.value = new.id
            if new is not None and new.id == entry.id:
                self.say(f"Resumed #{entry.id}: {new.status}")
            else:
                self.say(f"Ran #{entry.id} again" + (f" as #{new.id}" if new is not None else ""))

        if _resumable(entry):
            self.run(lambda: entry.resume(session).wait(progress=False), done, label=f"Resuming #{entry.id}…")
            return
        self.run(lambda: entry.rerun(session), done, label=f"Running #{entry.id} again…")

    def export(self) -> None:
        """Write the history (with its artifacts, as the History API exports it) to a file."""
        path = Path(self.export_path.value.strip() or "tokenhot-history.json")
        history = self.session.history

        def done(result: Path | None) -> None:
            self.say(f"Exported to {result if result else path}")

        self.run(lambda: history.export(path), done, label="Exporting…")
