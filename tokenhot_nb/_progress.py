"""A small progress bar for batches and video waits.

In a notebook it is one HTML output updated in place through ``display_id`` (no ipywidgets, so it works in
Lab, Notebook, VS Code and exported HTML alike); in a terminal it is one ``\\r`` line on stderr when stderr is
a TTY; anywhere else it shows nothing. Updates are throttled and safe to call from the session's loop thread.
"""

from __future__ import annotations

import sys
import threading
import time
from html import escape
from typing import Any

_MIN_INTERVAL = 0.1  # seconds between redraws; the final state always draws
TICK_SECONDS = 1.0  # a wait's line redraws this often between polls, so its elapsed time keeps moving


class Ticker:
    """Calls ``tick()`` every ``every`` s on a daemon thread until :meth:`stop` (or ``limit`` s, or ``tick``
    raising): a video's status arrives every few seconds, the elapsed time should move in between."""

    def __init__(self, tick: Any, every: float = TICK_SECONDS, limit: float = 6 * 3600) -> None:
        self._tick = tick
        self._every = every
        self._limit = limit
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tokenhot-progress-tick", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        end = time.monotonic() + self._limit
        while not self._stop.wait(self._every) and time.monotonic() < end:
            try:
                self._tick()
            except Exception:  # a broken display must never outlive its call
                return

    def stop(self) -> None:
        self._stop.set()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (Lab, Notebook, VS Code, Colab): where rich displays render."""
    ip_mod = sys.modules.get("IPython")
    if ip_mod is None:
        return False
    try:
        ip = ip_mod.get_ipython()  # type: ignore[attr-defined]
    except Exception:
        return False
    return ip is not None and getattr(ip, "kernel", None) is not None


class Progress:
    """``Progress(total, label)``; ``update(done, failed=…, note=…)``; ``close()``.

    ``total=None`` means the total is unknown: the bar then shows a percentage passed as ``done``.
    """

    def __init__(self, total: int | None, label: str, *, enabled: bool | None = True) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.failed = 0
        self.note = ""
        self._started = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()
        self._handle: Any = None
        self._tty = False
        self._closed = False
        self._final = False  # the closing draw: what was done, not how long it took
        self._drawn = False  # a call refused before its first update leaves no bar behind (nor a "0%" line)
        self._ticker: Ticker | None = None  # waits (total unknown) tick between updates once shown
        if enabled is False:
            self._mode = "off"
        elif in_notebook():
            self._mode = "html"
            if total is not None:  # a batch shows its bar at once; a wait shows it at its first status,
                self._show()       # so a call refused before it starts leaves no empty bar behind
        elif sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
            self._mode = "text"
        else:
            self._mode = "off"

    @property
    def active(self) -> bool:
        """Whether anything is shown; when not, callers need not post updates across threads at all."""
        return self._mode != "off"

    def update(self, done: int, failed: int | None = None, note: str | None = None,
               force: bool = False) -> None:
        with self._lock:
            self.done = done
            if failed is not None:
                self.failed = failed
            if note is not None:
                self.note = note
            now = time.monotonic()
            final = self.total is not None and done >= self.total
            if self._mode == "off" or self._closed or (not force and not final and now - self._last < _MIN_INTERVAL):
                return
            self._last = now
            self._draw()

    def _tick(self) -> None:
        self.update(self.done, force=True)

    def close(self, note: str | None = None) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        with self._lock:
            if self._closed:
                return
            if note is not None:
                self.note = note
            self._final = True
            if self._mode != "off" and self._drawn:
                self._draw()
                if self._mode == "text":
                    sys.stderr.write("\n")
                    sys.stderr.flush()
            self._closed = True

    def discard(self) -> None:
        """Take the bar away: its batch was refused before it started (an empty "0/3" bar stayed beside the error)."""
        if self._ticker is not None:
            self._ticker.stop()
        with self._lock:
            self._closed = True
            try:
                if self._mode == "html" and self._handle is not None:
                    from IPython.display import HTML

                    self._handle.update(HTML(""))
                elif self._mode == "text" and self._drawn:
                    sys.stderr.write("\r" + " " * 60 + "\r")
                    sys.stderr.flush()
            except Exception:  # a broken display must never hide the error it goes with
                pass

    def fraction(self) -> float:
        if self.total:
            return min(1.0, self.done / self.total)
        return min(1.0, self.done / 100.0)

    def text(self) -> str:
        elapsed = time.monotonic() - self._started
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}%"
        bits = [f"{self.label}: {count}"]
        if self.failed:
            bits.append(f"{self.failed} failed")
        if self.note:
            bits.append(self.note)
        if not self._final:  # the bar left in the notebook has no timing: a re-run shows the same output
            bits.append(f"{elapsed:.1f}s")
        return " · ".join(bits)

    def _html(self) -> str:
        pct = round(self.fraction() * 100)
        colour = "#d9534f" if self.failed else "#4a90d9"
        return (
            '<div style="font:12px sans-serif;max-width:480px">'
            f'<div style="background:#e6e6e6;border-radius:3px;height:8px;overflow:hidden">'
            f'<div style="width:{pct}%;height:8px;background:{colour}"></div></div>'
            f"<div>{escape(self.text())}</div></div>"
        )

    def _show(self) -> None:
        from IPython.display import HTML, display

        self._handle = display(HTML(self._html()), display_id=True)
        self._last = time.monotonic()
        self._drawn = True

    def _draw(self) -> None:
        if self._ticker is None and self.total is None and self._mode != "off" and not self._closed:
            self._ticker = Ticker(self._tick)
        try:
            if self._mode == "html" and self._handle is None:
                self._show()
            elif self._mode == "html":
                from IPython.display import HTML

                self._handle.update(HTML(self._html()))
            elif self._mode == "text":
                sys.stderr.write("\r" + self.text()[:120].ljust(60))
                sys.stderr.flush()
                self._drawn = True
        except Exception:  # a broken display must never break the call it reports on
            self._mode = "off"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make(total: int | None, label: str, progress: bool | None) -> Progress:
    """``progress=None`` shows a bar only where it renders (a notebook or a terminal); ``False`` never."""
    return Progress(total, label, enabled=progress)
