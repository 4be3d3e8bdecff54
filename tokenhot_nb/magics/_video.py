"""Live video-task display: status, percent and elapsed time, updated in place while polling.

An interrupted wait leaves the task running on the server; the panel says how to pick it up.
With ``--no-wait`` a background thread polls and fills the same panel in when the task ends. The
thread only ever *updates* that display (by its display_id, so the update lands on the panel in the
cell that started it), never prints or displays anything new.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from typing import Any

from .._config import redact
from .._safe import text_html as escape
from .._terminal import plain

RESUME_HINT = "The task keeps running on the server. Resume with: %th_video --resume {task_id}"
RESUME_HINT_PY = "or tokenhot_nb.session().resume({task_id!r}).wait()"
#: For an id that is not one plain word (see :func:`resume_message`).
RESUME_HINT_PY_ONLY = "The task keeps running on the server. Resume with: tokenhot_nb.session().resume({task_id!r}).wait()"
NO_TASK_YET = "Interrupted before the task was created; nothing is running or billed."
STATE_LABELS = {
    "pending": "queued",
    "running": "generating",
    "succeeded": "done",
    "failed": "failed",
    "unknown": "waiting",
    "interrupted": "interrupted",
    "submitting": "submitting",
    "background": "generating (no-wait: this panel fills in when done)",
    "stopped": "stopped waiting (the task keeps running)",
}
#: States after which the panel no longer changes (its elapsed time stops).
ENDED = ("succeeded", "failed", "interrupted", "stopped", "refused")
CANCELLED = "The wait was cancelled (the kernel is shutting down, or its loop was stopped)."
_BAR = (
    '<div style="background:#e6e6e6;border-radius:3px;height:8px;overflow:hidden;max-width:480px">'
    '<div style="width:{pct}%;height:8px;background:{colour}"></div></div>'
)


class VideoView:
    """One display handle showing a task's progress, then its result (or why it stopped)."""

    def __init__(self, *, model: str | None = None, clock: Callable[[], float] = time.monotonic,
                 live: bool = True) -> None:
        self.model = model
        self.live = live  # False: a terminal; each new state is printed as one line
        self.thread: threading.Thread | None = None
        self._last_line = ""
        self.clock = clock
        self.started = clock()
        self.state = "submitting"
        self.percent = 0
        self.task_id: str | None = None
        self.note = ""
        self.updates = 0
        self._handle: Any = None
        self._lock = threading.Lock()
        self._ticker: Any = None

    def elapsed(self) -> float:
        return self.clock() - self.started

    def text(self) -> str:
        label = STATE_LABELS.get(self.state, self.state)
        bits = [f"🎬 {label}", f"{self.percent}%", f"{self.elapsed():.0f}s"]
        if self.task_id:  # (from the network: printed in a terminal, so made plain)
            bits.append(f"task {plain(self.task_id)}")
        if self.model:
            bits.append(plain(self.model))
        line = " · ".join(bits)
        return f"{line}\n{self.note}" if self.note else line

    def html(self) -> str:
        colour = {"failed": "#d9534f", "interrupted": "#f0ad4e", "stopped": "#f0ad4e"}.get(self.state, "#4a90d9")
        head, _, note = self.text().partition("\n")
        # (a line each: an error's message, its fix, the resume line; each may hold the relay's text)
        note_html = "".join(f"<div>{escape(line)}</div>" for line in note.split("\n")) if note else ""
        return (
            '<div class="tokenhot-video-progress" style="font:12px sans-serif">'
            + _BAR.format(pct=self.percent, colour=colour)
            + f"<div>{escape(head)}</div>{note_html}</div>"
        )

    def _bundle(self) -> tuple[dict[str, str], dict[str, Any]]:
        task_id = redact(self.task_id) if self.task_id else self.task_id
        meta = {"tokenhot": {"model": self.model, "task_id": task_id, "status": self.state}}  # (saved in the .ipynb)
        return {"text/plain": self.text(), "text/html": self.html()}, meta

    def start(self) -> VideoView:
        if not self.live:
            return self
        from IPython.display import display

        from .._progress import Ticker

        data, meta = self._bundle()
        self._handle = display(data, raw=True, display_id=True, metadata=meta)
        self._ticker = Ticker(self.tick)  # the elapsed time keeps moving between polls
        return self

    def tick(self) -> None:
        """Redraw with the current elapsed time (called every second while the task runs)."""
        with self._lock:
            if self.state in ENDED:
                self.stop_ticking()
                return
            self.redraw()

    def stop_ticking(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()

    def redraw(self) -> None:
        if not self.live:
            line = f"🎬 {STATE_LABELS.get(self.state, self.state)} {self.percent}%"
            if line != self._last_line or self.note:
                self._last_line = line
                print(self.text())
        elif self._handle is not None:
            data, meta = self._bundle()
            self.updates += 1
            self._handle.update(data, raw=True, metadata=meta)

    def on_status(self, status: Any) -> None:
        """Session callback with a ``TaskStatus``: remember and redraw."""
        with self._lock:
            self.task_id = getattr(status, "task_id", None) or self.task_id
            self.state = getattr(status, "state", None) or self.state
            pct = getattr(status, "progress", None)
            if isinstance(pct, (int, float)):
                self.percent = max(0, min(100, int(pct)))
            self.redraw()

    def show_result(self, result: Any) -> None:
        """Replace the progress with the video itself (the result's own mimebundle)."""
        self.stop_ticking()
        with self._lock:
            self.state, self.percent = "succeeded", 100
            if not self.live:
                print(repr(result))
                return
            if self._handle is None:
                return
            self.updates += 1
            self._handle.update(result)

    def interrupted(self) -> None:
        self.stop_ticking()
        with self._lock:
            self.state = "interrupted"
            self.note = resume_message(self.task_id)
            self.redraw()

    def stopped(self, why: str = "") -> None:
        """The wait ended but the task did not (an error while polling or downloading, a cancelled wait): it keeps
        running on the server and its row stays pending, so say how to pick it up, never "failed"."""
        self.stop_ticking()
        with self._lock:
            self.state = "stopped"
            self.note = f"{why}\n{resume_message(self.task_id)}" if why else resume_message(self.task_id)
            self.redraw()

    def refused(self) -> _Panel | None:
        """A call refused before any task existed (a wrong model, a bad option, the budget): nothing runs, so the
        panel only makes way for the one error line. Returns what the error replaces (None in a terminal, where
        the panel printed nothing yet)."""
        self.stop_ticking()
        with self._lock:
            self.state = "refused"
            return _Panel(self._handle) if self.live and self._handle is not None else None

    def failed(self, reason: str, fix: str = "") -> None:
        """The task failed: the vendor's reason on one short line (it may be a whole HTML page, or many lines;
        the whole text stays in the error: ``%th_config --last-error``), and the fix on its own (cut with the
        reason, it was lost)."""
        from ..errors import one_line

        self.stop_ticking()
        with self._lock:
            self.state = "failed"
            self.note = one_line(redact(reason), 200, kept_in="%th_config --last-error") if reason else ""
            if fix:
                self.note += f"\nFix: {one_line(redact(fix), 400, kept_in='%th_config --last-error')}"
            self.redraw()


class _Panel:
    """The panel's display, for the magic's error path to put its error in (as a placeholder's)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def replace(self, obj: Any) -> None:
        self.handle.update(obj)


def resume_target(session: Any, value: str) -> str | int:
    """What ``--resume VALUE`` names, as ``session.resume`` takes it: a history entry id (an int) when ``VALUE`` is
    all digits and the history has a row with that id, else a video task id (a str).

    ``session.resume(3)`` takes an entry id, so the magic does too; a vendor's all-digit task id (Hailuo's are 15
    digits or more) is no row id, so it stays a task id. A row of another kind is refused with both readings.
    """
    from .._session.checks import with_article
    from ..errors import InputError

    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        return text
    try:
        entry = session.history.get(int(text))
    except (KeyError, OverflowError):  # no such row (OverflowError: more digits than SQLite's integers)
        return text
    if entry.kind != "video":
        raise InputError(f"History entry #{text} is {with_article(entry.kind)} call, "
                         "not a video call: --resume takes a video task id or the history # of a video call.",
                         hint=f"For a video task whose id is {text!r}: tokenhot_nb.session().resume({text!r}). "
                              "Video calls: %th_history --kind video.")
    return int(text)


def resume_message(task_id: str | None) -> str:
    """How to pick the task up again: the magic line to paste and the Python call. The id is the relay's text, and
    IPython evaluates ``{…}`` and expands ``$name`` in a magic's line before the magic splits it like a shell
    (``{__import__('os').system(…)}`` would run): an id that is not one plain word gets the Python call only."""
    if not task_id:
        return NO_TASK_YET
    task_id = plain(task_id)  # (the service's id, shown in a terminal too)
    if shlex.quote(task_id) != task_id:  # (shlex's plain words hold no quote, space, brace or $)
        return RESUME_HINT_PY_ONLY.format(task_id=task_id)
    return f"{RESUME_HINT.format(task_id=task_id)} ({RESUME_HINT_PY.format(task_id=task_id)})"


def in_background(target: Callable[[], None], name: str = "tokenhot-video-poll") -> threading.Thread:
    """Run ``target`` on a daemon thread in a fresh context.

    Deliberately not a copy of the cell's context: ipykernel then sends the display *update* under the
    header of the cell running at that moment, which is what frontends (JupyterLab, nbclient) accept
    after the starting cell has finished; the display_id still targets the panel in the starting cell.
    """
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread
