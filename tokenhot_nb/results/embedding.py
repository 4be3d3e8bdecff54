"""EmbeddingResult: vectors, one per text, kept as the float32 bytes the store holds.

A result may hold thousands of vectors of thousands of numbers: it never prints them all. Its display is a summary
(count × dimensions, model, cost) and the first few numbers of the first few texts, each text escaped (it is the
user's, and came back over the network in no form, but it is data all the same).
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from .._config import redact
from .._safe import text_html as escape
from ..errors import InputError
from ..families._types import Usage
from ._base import Result

if TYPE_CHECKING:
    import numpy

    from .._session import Session
    from ..history import HistoryEntry

#: How much of a result its display shows: texts (rows), numbers per text, characters per text.
SHOWN_ROWS = 8
SHOWN_VALUES = 5
SHOWN_CHARS = 80


def _short(text: str, n: int) -> str:
    """``text`` on one line, cut to ``n`` characters; redacted first (a key cut in two is no longer recognised)."""
    flat = redact(" ".join(text.split()))
    return flat if len(flat) <= n else flat[: n - 1] + "…"


class EmbeddingResult(Result):
    """Embeddings of ``texts`` (in their order): ``.vectors`` (lists of floats), ``result[i]``, ``len(result)``,
    ``.dimensions``, ``.to_numpy()`` (a ``count × dimensions`` float32 array) and ``.similarity(i, j)`` (cosine).

    ``data`` is the vectors as little-endian float32 bytes, ``count × dimensions`` of them (what the history keeps).
    """

    kind = "embed"

    def __init__(self, data: bytes, *, count: int, dimensions: int, texts: Sequence[str] = (),
                 usage: Usage | None = None, model: str = "", entry: HistoryEntry | None = None,
                 session: Session | None = None) -> None:
        super().__init__(model=model, entry=entry, session=session)
        if count * dimensions * 4 != len(data):
            raise InputError(f"{len(data)} bytes are not {count} vectors of {dimensions} float32 numbers.")
        self.data = bytes(data)
        self.count = count
        self.dimensions = dimensions
        self.texts = list(texts)
        self.usage = usage or Usage()
        self._vectors: list[list[float]] | None = None

    # -- the vectors
    def _floats(self, first: int = 0, n: int | None = None) -> array[float]:
        """Numbers ``first`` to ``first + n`` of all the vectors laid end to end (all of them by default)."""
        out: array[float] = array("f")
        out.frombytes(self.data[first * 4:] if n is None else self.data[first * 4:(first + n) * 4])
        if sys.byteorder == "big":
            out.byteswap()
        return out

    @property
    def vectors(self) -> list[list[float]]:
        """One list of floats per text, in the order the texts were given."""
        if self._vectors is None:
            flat, d = self._floats().tolist(), self.dimensions
            self._vectors = [flat[i * d:(i + 1) * d] for i in range(self.count)]
        return self._vectors

    def __len__(self) -> int:
        return self.count

    @overload
    def __getitem__(self, i: int) -> list[float]: ...
    @overload
    def __getitem__(self, i: slice) -> list[list[float]]: ...
    def __getitem__(self, i: int | slice) -> list[float] | list[list[float]]:
        if isinstance(i, slice):
            return self.vectors[i]
        return self._vector(self._index(i))

    def _vector(self, k: int) -> list[float]:
        """Vector ``k`` alone (``vectors`` would turn every one into Python floats first)."""
        if self._vectors is not None:
            return self._vectors[k]
        return self._floats(k * self.dimensions, self.dimensions).tolist()

    def __iter__(self) -> Iterator[list[float]]:
        return iter(self.vectors)

    def to_numpy(self) -> numpy.ndarray[Any, Any]:
        """The vectors as a ``count × dimensions`` float32 array (a copy: changing it changes nothing here)."""
        try:
            import numpy as np
        except ImportError:
            raise InputError("to_numpy() needs numpy, which is not installed.",
                             hint="pip install numpy (or use result.vectors, plain lists of floats).") from None
        return np.frombuffer(self.data, dtype="<f4").reshape(self.count, self.dimensions).copy()

    def _index(self, i: Any) -> int:
        """A vector's position: any whole number (numpy's too: ``np.argmax`` gives one), never a bool or a float."""
        import operator

        from ..errors import OutOfRangeError, WrongTypeError

        hint = f"Count from 0; -1 is the last; this result has {self.count} (result.similarity(0, 1))."
        try:
            n = None if isinstance(i, bool) else operator.index(i)
        except TypeError:
            n = None
        if n is None:
            raise WrongTypeError(f"Vector positions are whole numbers, not {type(i).__name__} ({i!r:.40}).",
                                 hint=hint)
        if not -self.count <= n < self.count:
            raise OutOfRangeError(f"There is no vector {n}: this result has {self.count} (0 to {self.count - 1}).",
                                  hint=hint)
        return n % self.count

    def similarity(self, i: int, j: int) -> float:
        """Cosine similarity of vectors ``i`` and ``j`` (1: same direction, 0: unrelated, -1: opposite)."""
        a, b = self._vector(self._index(i)), self._vector(self._index(j))
        for k, vec in ((i, a), (j, b)):
            if not any(vec):
                raise InputError(f"Vector {k} is all zeros: it has no direction, so no cosine similarity.")
        norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
        return max(-1.0, min(1.0, math.fsum(x * y for x, y in zip(a, b, strict=True)) / norms))  # rounding stays in range

    # -- display
    def _shape(self) -> str:
        return f"{self.count} × {self.dimensions} embedding{'s' if self.count != 1 else ''}"

    def _head(self, k: int) -> str:
        """The first numbers of vector ``k``, for the display (never all of them)."""
        d = self.dimensions
        shown = self._floats(k * d, min(d, SHOWN_VALUES))
        return ", ".join(f"{x:.4f}" for x in shown) + (", …" if d > SHOWN_VALUES else "")

    def _plain(self) -> str:
        bits = [self._shape(), self.model, str(self.entry.cost) if self.entry is not None and self.entry.cost.known
                else "", f"history #{self.entry_id}" if self.entry_id is not None else ""]
        return f"<EmbeddingResult {' · '.join(b for b in bits if b)}>"

    def html(self) -> str:
        rows = []
        for k in range(min(self.count, SHOWN_ROWS)):
            text = _short(self.texts[k], SHOWN_CHARS) if k < len(self.texts) else ""
            rows.append(f"<tr><td>{k}</td><td>{escape(text)}</td>"
                        f"<td style=\"font-family:monospace\">[{escape(self._head(k))}]</td></tr>")
        more = (f'<div style="font:11px sans-serif;color:#888">… and {self.count - SHOWN_ROWS} more '
                "(result.vectors has them all)</div>") if self.count > SHOWN_ROWS else ""
        return (f'<div class="tokenhot-embeddings"><div style="font:12px sans-serif"><b>{self._shape()}</b></div>'
                f"<table><tr><th>#</th><th>text</th><th>vector</th></tr>{''.join(rows)}</table>{more}"
                f"{self._footer()}</div>")

    _repr_html_ = html

    def _bundle(self) -> dict[str, Any]:
        return {"text/html": self.html()}
