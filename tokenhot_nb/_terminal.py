"""Text for a terminal: network text made safe to print (no escape sequence, no key, one line) and plain-text
tables aligned in terminal cells (a CJK character takes two). The history's, the catalogue's and the magics'
text views all use it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def plain(value: Any) -> str:
    """A field for a terminal: a model id, an answer or an error is network text (an imported history's fields
    too), so no escape sequence may drive the terminal, no key may show, and it stays on one line."""
    from ._config import redact
    from .errors import clean_text

    return " ".join(redact(clean_text(str(value))).split())  # (cleaned first: removing escapes may join a key)


def cells(text: str) -> int:
    """How many terminal cells ``text`` takes (a CJK character takes two)."""
    from wcwidth import wcswidth

    width = wcswidth(text)
    return width if width >= 0 else len(text)


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells, an ellipsis marking the cut."""
    if cells(text) <= width:
        return text
    from wcwidth import wcwidth

    out, used = [], 1
    for ch in text:
        used += max(0, wcwidth(ch))
        if used > width:
            break
        out.append(ch)
    return "".join(out) + "…"


def aligned(header: Sequence[str], rows: Sequence[Sequence[str]], right: Iterable[int] = ()) -> list[str]:
    """Lines of a plain-text table, columns aligned in terminal cells (``right``: right-aligned columns)."""
    table = [list(header), *(list(r) for r in rows)]
    widths = [max(cells(r[i]) for r in table) for i in range(len(header))]
    flush = set(right)

    def cell(text: str, i: int) -> str:
        pad = " " * (widths[i] - cells(text))
        return pad + text if i in flush else text + pad

    return ["  ".join(cell(c, i) for i, c in enumerate(r)).rstrip() for r in table]
