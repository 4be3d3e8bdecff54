"""Streamed chat display: one output updated in place, throttled, ending in rendered (sanitised) Markdown.

A 20,000-token answer arrives as thousands of deltas; re-rendering on each would flood the
frontend, so updates are coalesced to at most one per ``interval`` (20 per second) and the
final text is always shown; a long answer, whose render costs more, is redrawn less often (at most a
third of the time goes into rendering). Reasoning, when the model sends it, sits in a collapsed block.
The view is ``text/html`` made by the one safe renderer (``tokenhot_nb._safe``): the answer is data.
A replay feeds it the recorded pieces through the same ``on_delta`` (they arrive at once, so the throttle keeps
few redraws), and it ends in the same output as the live run.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .._session.recording import LiveText
from ..errors import clean_text
from ..results.text import REASONING_SUMMARY, answer_html

#: At most this many display updates per second while streaming.
MAX_UPDATES_PER_SECOND = 20
CURSOR = " ▌"
WAITING = "*…*"
BROKEN_OFF = "\n\n*(the stream broke off here)*"
CODE_INSERTED = "Code from the answer was put in a new cell below."
NO_CODE = "The answer has no code block; the whole answer was put in a new cell below."

_FENCE = re.compile(r"^(`{3,}|~{3,})[ \t]*([\w+\-.#]*)[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)
_PY = {"", "python", "py", "python3", "ipython", "ipython3"}


def extract_code(answer: str) -> tuple[str, bool]:
    """The answer's Python code blocks joined (all blocks if none is Python); (answer, False) if none."""
    blocks = [(lang.lower(), body) for _, lang, body in _FENCE.findall(answer)]
    if not blocks:
        return answer.strip() + "\n", False
    chosen = [body for lang, body in blocks if lang in _PY] or [body for _, body in blocks]
    return "\n".join(b.rstrip("\n") for b in chosen) + "\n", True


def answer_view(answer: str, reasoning: str = "", *, streaming: bool = False) -> str:
    """The answer so far as safe HTML (Markdown rendered, active HTML removed), reasoning folded away."""
    body = answer or ("" if reasoning else WAITING)
    return answer_html(body, reasoning, tail=f"<span>{CURSOR}</span>" if streaming else "")


class StreamView:
    """One display handle, fed by ``on_delta`` and closed by ``finish``."""

    def __init__(
        self,
        *,
        model: str | None = None,
        fmt: str = "markdown",
        interval: float = 1.0 / MAX_UPDATES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        timer: Callable[[], float] = time.perf_counter,
        live: bool = True,
    ) -> None:
        self.model = model
        self.live = live  # False: a terminal, where the text is printed as it arrives instead
        self._printed = 0
        self.fmt = fmt
        self.interval = interval
        self.clock = clock
        self.timer = timer  # what a redraw costs is timed with it (the throttle keeps redraws under a third of the time)
        self.text = ""
        self.reasoning = ""
        self._reasoning = ""  # as it arrived; ``reasoning`` is what is shown of it
        self._reasoning_view = LiveText()
        self.updates = 0  # display updates sent (the first display not counted)
        self.deltas = 0
        self._last = 0.0
        self._cost = 0.0  # seconds the last render took
        self._lock = threading.Lock()
        self._handle: Any = None

    # -- the mimebundle -------------------------------------------------------------
    def _metadata(self, status: str, history_id: Any = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"model": self.model, "status": status}
        if history_id is not None:
            meta["history_id"] = history_id
        return {"tokenhot": meta}

    def bundle(self, *, streaming: bool) -> dict[str, str]:
        # text/plain is what a terminal shows (jupyter console, a notebook read as text): an answer's escapes
        # must not drive it, as no result's repr lets them (--format text showed the answer as it arrived)
        text = clean_text(self.text)
        if self.fmt == "text":
            plain = text + (CURSOR if streaming else "")
            if self.reasoning:
                plain = f"[{REASONING_SUMMARY}: {len(self.reasoning):,} chars]\n\n" + plain
            return {"text/plain": plain}
        return {
            "text/html": answer_view(self.text, self.reasoning, streaming=streaming),
            "text/plain": text,
        }

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> StreamView:
        if not self.live:
            return self
        from IPython.display import display

        self._handle = display(
            self.bundle(streaming=True), raw=True, display_id=True, metadata=self._metadata("streaming")
        )
        self._last = self.clock()
        return self

    def on_delta(self, delta: Any, text_so_far: str | None = None) -> None:
        """Session callback: remember the new text, redraw if the throttle allows."""
        with self._lock:
            self.deltas += 1
            piece = getattr(delta, "reasoning", "") or ""
            if piece:  # (the text comes safe from the session; the reasoning delta as it arrived)
                self._reasoning += piece
                self.reasoning = self._reasoning_view(self._reasoning, len(piece))
            if text_so_far is not None:
                self.text = text_so_far
            else:
                self.text += getattr(delta, "text", "") or ""
            if not self.live:
                self._print_new()
                return
            now = self.clock()
            if now - self._last < max(self.interval, 3 * self._cost):
                return
            self._last = now
            t0 = self.timer()
            data = self.bundle(streaming=True)
            self._cost = self.timer() - t0
            self._update(data, self._metadata("streaming"))

    def _print_new(self, end: str = "") -> None:
        # what a terminal prints stays printed: an answer's escapes must not clear it or write the clipboard
        sys.stdout.write(clean_text(self.text[self._printed:]) + end)
        sys.stdout.flush()
        self._printed = len(self.text)

    def _update(self, data: dict[str, str], metadata: dict[str, Any]) -> None:
        if not self.live:
            self._print_new("\n")
        elif self._handle is not None:
            self.updates += 1
            self._handle.update(data, raw=True, metadata=metadata)

    def finish(self, result: Any = None) -> None:
        """Final render: the result's own Markdown when it has one, else ours; always once."""
        with self._lock:
            text = getattr(result, "text", None)
            if isinstance(text, str):
                self.text = text
            reasoning = getattr(result, "reasoning", None)
            if isinstance(reasoning, str) and reasoning:
                self.reasoning = reasoning
            self.model = getattr(result, "model", None) or self.model
            data, meta = self.bundle(streaming=False), self._metadata("done", getattr(result, "entry_id", None))
            own = _result_bundle(result)
            if own is not None and self.fmt != "text" and "text/html" in own[0]:
                data = {k: v for k, v in own[0].items() if k in ("text/html", "text/plain")}
                data.setdefault("text/plain", self.text)
                ours = {**meta["tokenhot"], "model": getattr(result, "model", None) or self.model}
                meta = {**own[1], "tokenhot": {**own[1].get("tokenhot", {}), **ours}}
            self._update(data, meta)

    def fail(self, partial: str = "") -> None:
        """The stream broke: keep what arrived, marked as cut off."""
        with self._lock:
            if partial:
                self.text = partial
            if not self.text and not self.reasoning:
                self._update({"text/plain": ""}, self._metadata("error"))
                return
            self.text += BROKEN_OFF
            self._update(self.bundle(streaming=False), self._metadata("error"))


def _result_bundle(result: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    fn = getattr(result, "_repr_mimebundle_", None)
    if fn is None:
        return None
    try:
        out = fn()
    except Exception:
        return None
    if isinstance(out, tuple):
        return dict(out[0] or {}), dict(out[1] or {})
    if isinstance(out, dict):
        return out, {}
    return None
