"""RerankResult: documents ranked against a query, best first, each with its score.

Its display is a small ranked table (rank, document number, score, the document cut to a line), every text escaped
by the one safe-HTML helper: the documents are the user's, the query too, but they are data all the same, and a text
the relay echoed back is network text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .._config import redact
from .._safe import text_html as escape
from ..errors import InputError
from ..families._types import Usage
from ._base import Result

if TYPE_CHECKING:
    from .._session import Session
    from ..history import HistoryEntry

#: How much of a result its display shows: ranked rows, characters per document.
SHOWN_ROWS = 10
SHOWN_CHARS = 100

#: One ranked document: its place in the list that was sent, its relevance score, its text.
Ranked = tuple[int, float, str]


def _short(text: str, n: int) -> str:
    """``text`` on one line, cut to ``n`` characters; redacted first (a key cut in two is no longer recognised)."""
    flat = redact(" ".join(text.split()))
    return flat if len(flat) <= n else flat[: n - 1] + "…"


class RerankResult(Result):
    """``documents`` ranked against ``query``: ``.results`` (``(index, score, text)``, best first), ``.top(n)``,
    ``result[i]`` (the i-th best), ``len(result)``, ``.indices`` and ``.scores`` (in rank order)."""

    kind = "rerank"

    def __init__(self, results: Sequence[tuple[int, float, str]], *, query: str = "",
                 usage: Usage | None = None, model: str = "", entry: HistoryEntry | None = None,
                 session: Session | None = None) -> None:
        super().__init__(model=model, entry=entry, session=session)
        self.results: list[Ranked] = sorted(((int(i), float(s), str(t)) for i, s, t in results),
                                            key=lambda r: (-r[1], r[0]))
        self.query = query
        self.usage = usage or Usage()

    def top(self, n: int = 1) -> list[Ranked]:
        """The ``n`` best documents, best first."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"top(n) takes a whole number of at least 1, not {n!r:.40}.",
                             hint="e.g. result.top(3) for the three best documents.")
        return self.results[:n]

    @property
    def indices(self) -> list[int]:
        """The documents' places in the list that was sent, best first."""
        return [r[0] for r in self.results]

    @property
    def scores(self) -> list[float]:
        """The relevance scores, best first."""
        return [r[1] for r in self.results]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Ranked]:
        return iter(self.results)

    def __getitem__(self, i: int) -> Ranked:
        if isinstance(i, bool) or not isinstance(i, int) or not -len(self.results) <= i < len(self.results):
            raise InputError(f"There is no rank {i!r:.40}: this result ranks {len(self.results)} document(s).",
                             hint="result.results has them all, best first.")
        return self.results[i]

    # -- display
    def _shape(self) -> str:
        n = len(self.results)
        return f"{n} document{'s' if n != 1 else ''} ranked"

    def _plain(self) -> str:
        best = (f"best #{self.results[0][0]} ({self.results[0][1]:.4f}): {_short(self.results[0][2], 60)!r}"
                if self.results else "")
        bits = [self._shape(), best, self.model,
                str(self.entry.cost) if self.entry is not None and self.entry.cost.known else "",
                f"history #{self.entry_id}" if self.entry_id is not None else ""]
        return f"<RerankResult {' · '.join(b for b in bits if b)}>"

    def html(self) -> str:
        rows = [f"<tr><td>{rank}</td><td>{index}</td><td style=\"font-family:monospace\">{score:.4f}</td>"
                f"<td>{escape(_short(text, SHOWN_CHARS))}</td></tr>"
                for rank, (index, score, text) in enumerate(self.results[:SHOWN_ROWS], 1)]
        more = (f'<div style="font:11px sans-serif;color:#888">… and {len(self.results) - SHOWN_ROWS} more '
                "(result.results has them all)</div>") if len(self.results) > SHOWN_ROWS else ""
        query = escape(_short(self.query, SHOWN_CHARS)) if self.query else ""
        return (f'<div class="tokenhot-rerank"><div style="font:12px sans-serif"><b>{self._shape()}</b>'
                f"{' for ' + query if query else ''}</div>"
                f"<table><tr><th>rank</th><th>#</th><th>score</th><th>document</th></tr>{''.join(rows)}</table>"
                f"{more}{self._footer()}</div>")

    _repr_html_ = html

    def _bundle(self) -> dict[str, Any]:
        return {"text/html": self.html()}
