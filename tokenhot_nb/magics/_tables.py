"""Small self-rendering tables for ``%th_models`` and ``%th_config`` (HTML + plain text), and ``%th_history``'s."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..history import History

from .._safe import text_html as escape
from .._terminal import aligned, cells, cut, plain

NO_MODELS = "No model matches {filter!r}. Try a shorter filter, or %th_models with none."
_LIST_SHOWN = 4
_TABLE_STYLE = "border-collapse:collapse;font-size:12px"
_CELL = "border-bottom:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top"


def capability_summary(caps: dict[str, Any]) -> str:
    """``edit, seed, max_n=15, sizes: 1K 2K 4K …`` — flags first, then limits, then choices."""
    flags = [k for k, v in caps.items() if v is True]
    limits = [f"{k}={v}" for k, v in caps.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    lists = []
    for k, v in caps.items():
        if isinstance(v, (list, tuple)) and v:
            shown = " ".join(str(x) for x in v[:_LIST_SHOWN]) + (" …" if len(v) > _LIST_SHOWN else "")
            lists.append(f"{k}: {shown}")
    return ", ".join(flags + limits + lists)


class Table:
    """Rows of strings with a header; ``_repr_mimebundle_`` gives HTML and aligned text."""

    def __init__(self, header: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str = "",
                 empty: str = "(nothing to show)") -> None:
        self.header = list(header)
        self.rows = [[("" if c is None else plain(c)) for c in r] for r in rows]  # (network text: model ids…)
        self.title = plain(title)
        self.empty = empty

    def __len__(self) -> int:
        return len(self.rows)

    def text(self) -> str:
        if not self.rows:
            return self.empty
        rows = [[cut(c, 60) for c in r] for r in self.rows]
        rule = ["-" * max(cells(h), *(cells(r[i]) for r in rows)) for i, h in enumerate(self.header)]
        return "\n".join([*([self.title] if self.title else []), *aligned(self.header, [rule, *rows])])

    def html(self) -> str:
        if not self.rows:
            return f"<p>{escape(self.empty)}</p>"
        head = "".join(f'<th style="{_CELL}">{escape(h)}</th>' for h in self.header)
        body = "".join(
            "<tr>" + "".join(f'<td style="{_CELL}">{escape(c)}</td>' for c in r) + "</tr>" for r in self.rows
        )
        caption = f"<caption style='text-align:left'><b>{escape(self.title)}</b></caption>" if self.title else ""
        return f'<table style="{_TABLE_STYLE}">{caption}<tr>{head}</tr>{body}</table>'

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}

    def __repr__(self) -> str:
        return self.text()


def models_table(filter_text: str | None, kind: str | None = None, *, models: Sequence[Any] | None = None,
                 unclassified: Sequence[Any] = (), note: str = "") -> Table:
    """Models (the built-in catalogue unless given), filtered by substring (id, names, family, vendor, source)
    and kind, with where each comes from and its price; ``note`` says where the table came from."""
    from ..catalog import models as builtin_models

    needle = (filter_text or "").strip().lower()
    rows = []
    for m in models if models is not None else builtin_models(kind):
        if kind and m.kind != kind:
            continue
        d = m.as_dict()
        hay = " ".join([m.id, m.family, m.vendor, m.kind, m.source, *d["aliases"]]).lower()
        if needle and needle not in hay:
            continue
        aliases = [a for a in d["aliases"] if a != m.id][:3]
        # (a model the service lists at no price it states, or at one no service charges: unknown, never blank)
        price = m.price_label() or ("unknown" if m.source != "built-in" else "")
        rows.append([m.id, m.kind, m.family, m.source, price, m.vendor, ", ".join(aliases),
                     capability_summary(m.capabilities)])
    odd = [u for u in unclassified if not needle or needle in u.id.lower()]
    for u in odd if not kind else ():
        rows.append([u.id, "?", "?", "live", u.price.describe() if u.price else "unknown", "", "",
                     f"protocol unknown ({u.seen}); call it with family=…"])
    counts = {src: sum(1 for r in rows if r[3] == src) for src in ("built-in", "both", "live")}
    title = f"{len(rows)} model(s)" + (f" matching {filter_text!r}" if needle else "")
    if counts["both"] or counts["live"]:
        title += (f" — {counts['built-in'] + counts['both']} built in, {counts['both'] + counts['live']} in the "
                  f"service's table ({counts['live']} only there)")
    if note:
        title += f" · {note}"
    return Table(["id", "kind", "family", "source", "price", "vendor", "also known as", "capabilities"], rows,
                 title=title, empty=NO_MODELS.format(filter=filter_text))


def settings_table(public: dict[str, Any], defaults: dict[str, Any] | None) -> Table:
    """Settings safe to show (``Settings.public()``: the key only as set / not set) and default models."""
    rows: list[list[Any]] = [[k, v] for k, v in public.items()]
    for kind, model_id in (defaults or {}).items():
        rows.append([f"default {kind} model", model_id])
    return Table(["setting", "value"], rows, title="tokenhot_nb settings")


def for_magic_user_history(h: History) -> History:
    """``h`` (the magics' session's history, or a view of it) shown with its rows' error words said on the magics'
    session (``Stopped: … tokenhot_nb.session().balance()``): a ``%th_history`` reader has no ``session`` variable.
    What is stored is unchanged, and a view made from it in Python (``_.tail(3)``) shows the Python form again."""
    return _magic_history()(h.store, h.session, _conds=h._own, _label=h._label)


#: The text table's footer offers ways to narrow the view: Python's methods, and %th_history's own options for its
#: reader (who narrows it by running the magic again, not on a ``history`` object).
NARROW_PY = "history.tail(N) or .filter(…) narrows the view"
NARROW_MAGIC = "%th_history N --kind KIND (or --model, --status, TEXT) narrows the view"


def _said_in_magic(text: str) -> str:
    """A row's error words or the footer, said for a ``%th_history`` reader."""
    from .._warn import for_magic_user

    return for_magic_user(text.replace(NARROW_PY, NARROW_MAGIC))


@functools.lru_cache(maxsize=1)
def _magic_history() -> type[History]:
    """The History whose display says errors for a magic user (made on first use: ``%load_ext`` stays light)."""
    from .._warn import for_magic_user
    from ..history import History
    from ..history._history import history_html, history_text

    class MagicHistory(History):
        def _repr_pretty_(self, p: Any, cycle: bool) -> None:
            p.text(repr(self) if cycle else history_text(self, say=_said_in_magic))

        def _repr_html_(self) -> str:
            return history_html(self, say=for_magic_user)

    return MagicHistory
