"""Where a streamed chat answer's pieces began, kept in its row so a replay streams it in the same pieces.

Live, ``on_delta`` sees one piece per stream event that carried text or reasoning; a notebook that counts or
prints them would re-run differently in replay if the recorded answer came back whole. The row keeps only the
lengths (the texts are its artifacts), in ``response["pieces"]``::

    {"text": [5, 1, 7, ...], "reasoning": [0, 0, 3, ...], "done": true}

one entry per piece, in order; ``reasoning`` only when some piece had reasoning, ``done`` only when the last
piece's event ended the stream. Bounded: past :data:`MAX_PIECES` pieces, each run of ``ceil(n / MAX_PIECES)``
neighbours is merged into one piece, so a 50,000-event stream costs the row at most ~20 KB and replays in at most
4,096 pieces holding the same text in the same order (only such a long stream replays with fewer pieces).

A replay cuts the recorded text at these lengths only when they add up to it exactly; otherwise (an answer whose
key was redacted, ``<think>`` blocks moved to the reasoning, a row written by another tool) the answer comes back
in one piece, as rows recorded before this field do: never split at the wrong places.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: The most pieces a row keeps (more are merged in runs of neighbours); an import with more is refused.
MAX_PIECES = 4096


class PieceLog:
    """The pieces of one stream as they are shown, for its row."""

    def __init__(self) -> None:
        self.text: list[int] = []
        self.reasoning: list[int] = []
        self.done = False

    def add(self, text: str, reasoning: str, done: bool) -> None:
        self.text.append(len(text))
        self.reasoning.append(len(reasoning))
        self.done = done

    def record(self, streamed: tuple[str, str], stored: tuple[str, str]) -> dict[str, Any] | None:
        """The row's ``pieces``, or ``None`` when the stored answer is not the streamed one (a redacted key, a
        ``<think>`` block moved to the reasoning, a forced tool's JSON): its replay is then one piece."""
        if streamed != stored:
            return None
        text, reasoning = compact(self.text, self.reasoning)
        out: dict[str, Any] = {"text": text}
        if any(reasoning):
            out["reasoning"] = reasoning
        if self.done and text:
            out["done"] = True
        return out


def compact(text: Sequence[int], reasoning: Sequence[int], limit: int = MAX_PIECES) -> tuple[list[int], list[int]]:
    """At most ``limit`` pieces: past it, each run of ``ceil(n / limit)`` neighbours becomes one."""
    n = len(text)
    if n <= limit:
        return list(text), list(reasoning)
    k = math.ceil(n / limit)
    return [sum(text[i:i + k]) for i in range(0, n, k)], [sum(reasoning[i:i + k]) for i in range(0, n, k)]


def _lengths(value: Any, name: str) -> str | None:
    if not isinstance(value, list):
        return f"{name} must be a list of piece lengths, got {type(value).__name__}"
    if len(value) > MAX_PIECES:
        return f"{name} has {len(value):,} pieces; a recording keeps at most {MAX_PIECES:,}"
    for i, n in enumerate(value):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            return f"{name}[{i}] must be a whole number >= 0, got {type(n).__name__} {str(n)[:20]}"
    return None


def problem(value: Any) -> str | None:
    """What is wrong with a row's ``pieces`` (one line), or ``None`` when it holds."""
    if not isinstance(value, dict):
        return f'expected an object like {{"text": [5, 1, 7]}}, got {type(value).__name__}'
    text: Any = value.get("text")
    reasoning: Any = value.get("reasoning", [])
    bad = _lengths(text, "text") or _lengths(reasoning, "reasoning")
    if bad:
        return bad
    if reasoning and len(reasoning) != len(text):
        return f"reasoning has {len(reasoning)} pieces and text {len(text)}; they must match"
    if any(t == 0 and (not reasoning or reasoning[i] == 0) for i, t in enumerate(text)):
        return "a piece has neither text nor reasoning"
    if not isinstance(value.get("done", False), bool):
        return "done must be true or false"
    return None


def split(value: Any, text: str, reasoning: str) -> tuple[list[tuple[str, str]], bool] | None:
    """The recorded answer cut into its pieces (and whether the last one ended the stream), or ``None``: no
    pieces recorded, or lengths that do not add up to these texts (the answer is then replayed in one piece)."""
    if value is None or problem(value) is not None:
        return None
    sizes: list[int] = value["text"]
    thoughts: list[int] = value.get("reasoning") or [0] * len(sizes)
    if sum(sizes) != len(text) or sum(thoughts) != len(reasoning):
        return None
    out: list[tuple[str, str]] = []
    at = rat = 0
    for t, r in zip(sizes, thoughts, strict=True):
        out.append((text[at:at + t], reasoning[rat:rat + r]))
        at, rat = at + t, rat + r
    return out, bool(value.get("done", False))
