"""The list-like :class:`History` view over a store, its usage summary and its HTML.

A History is a *query*, not a copy: ``len``, indexing and rendering ask SQLite for just the rows
they need, so a 10,000-entry history opens and renders as fast as a short one.
"""

from __future__ import annotations

import datetime as _dt
import json
import operator
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from .._config import redact
from .._front_door import front_doors
from .._terminal import aligned, cut, plain
from ..cost import Cost, usd_text
from ..errors import InputError, NoEntryError, OutOfRangeError, WrongTypeError
from ._entry import HistoryEntry, _shorten, escape
from ._store import Cond, Store

RENDER_ROWS = 50
_PAGE = 500
_REL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.I)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_STATUS_COLOR = {"ok": "#1a7f37", "error": "#cf222e", "running": "#9a6700", "pending": "#9a6700",
                 "interrupted": "#6e7781"}
_TD = "padding:2px 6px;border-bottom:1px solid #8882;vertical-align:top;text-align:left"


PRICE_KEYS = ("input_per_mtok", "output_per_mtok", "per_image", "per_video_second")


def _check_prices(prices: Any) -> None:
    """``usage(prices=…)``: a typo'd key ("input_per_mtoks") priced those tokens at $0 without a word, and a
    dict of numbers ended in an AttributeError from inside."""
    import math
    from collections.abc import Mapping

    from .._suggest import did_you_mean

    if prices is None:
        return
    example = "e.g. usage(prices={'gpt-5.2': {'input_per_mtok': 1.25, 'output_per_mtok': 10}})."
    if not isinstance(prices, Mapping):
        raise WrongTypeError(f"usage(prices=…) takes a dict {{model: {{price: USD}}}}, not {type(prices).__name__}.",
                             hint=example)
    for model, row in prices.items():
        if not isinstance(row, Mapping):
            raise WrongTypeError(f"usage(prices=…): the prices of {model!r} must be a dict {{price: USD}}, not "
                                 f"{type(row).__name__} ({row!r:.40}).", hint=example)
        for key, value in row.items():
            if key not in PRICE_KEYS:
                raise InputError(f"usage(prices=…): {model!r} has the price {key!r}, which is not one."
                                 + did_you_mean(key, PRICE_KEYS),
                                 hint=f"The prices are: {', '.join(PRICE_KEYS)} (USD).")
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value < 0):
                raise InputError(f"usage(prices=…): {model!r} {key} must be an amount in USD (0 or more), not "
                                 f"{value!r:.40}.", hint=example)


def to_timestamp(value: Any, now: float | None = None) -> float:
    """Unix time from a number, ``datetime``/``date``, ``timedelta`` (ago), ISO string or ``"2h"``-style age.

    A time no row can be compared with is refused, not matched against: ``nan`` matched nothing and ``True`` was
    the second after 1970, without a word; a negative number is most often an age meant (``-3600``: "an hour
    ago"), and a negative ``timedelta`` a time still to come."""
    import math
    import numbers

    now = time.time() if now is None else now
    hint = ("Use a unix time, a datetime or date, a timedelta (that long ago), an ISO date such as "
            "'2026-05-01T09:30', or an age such as '2h', '30min', '7d'.")
    if isinstance(value, numbers.Real) and not isinstance(value, bool):  # (numpy's numbers too)
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise InputError(f"{value!r:.40} is no time: a unix time is a finite number of seconds since 1970 (0 or more).",
                             hint="For an age, give '1h', '30min', '7d' or a timedelta (that long ago).")
        return number
    try:
        if isinstance(value, _dt.timedelta):
            if value < _dt.timedelta(0):
                raise InputError(f"A timedelta is how long ago; {value!r:.60} is negative (a time still to come).",
                                 hint="e.g. timedelta(hours=2) for two hours ago; a time to come matches no entry.")
            return now - value.total_seconds()
        if isinstance(value, _dt.date):
            day = value if isinstance(value, _dt.datetime) else _dt.datetime(value.year, value.month, value.day)
            try:
                return day.timestamp()
            except (ValueError, OverflowError, OSError):  # datetime.min (from the start): no local time that early
                return day.replace(tzinfo=day.tzinfo or _dt.timezone.utc).timestamp()
        if isinstance(value, str):
            m = _REL.match(value)
            if m:
                return now - float(m.group(1)) * _UNIT[m.group(2).lower()]
            return _dt.datetime.fromisoformat(value.strip()).timestamp()
    except (ValueError, OverflowError, OSError) as exc:  # (datetime.min: "year 0 is out of range")
        if isinstance(exc, InputError):
            raise
        if not isinstance(value, str):
            raise InputError(f"Cannot read a time from {value!r:.60}: {exc}.", hint=hint) from None
    raise (WrongTypeError if not isinstance(value, str) else InputError)(
        f"Cannot read a time from {value!r:.60}.", hint=hint)


def _choose(name: str, value: str | Iterable[str], allowed: Sequence[str]) -> None:
    """A kind or status filter that no row can have would silently show nothing: name the one meant."""
    from .._suggest import did_you_mean

    if not isinstance(value, (str, list, tuple, set, frozenset)):
        return  # _in says so
    for v in (value,) if isinstance(value, str) else value:
        if v not in allowed:
            raise InputError(f"No history entry has {name} {v!r}." + did_you_mean(v, allowed),
                             hint=f"A {name} is one of: {', '.join(allowed)}.")


def _valid_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"The search text holds a lone surrogate ({text[exc.start]!r} at position {exc.start}), "
                         "which is not valid Unicode.", hint="Search for the words around it.") from None



def _whole(value: Any) -> int | None:
    """``value`` as an int when it is a whole number of any integer type (numpy's too), else None (not a bool)."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None

def _in(column: str, value: str | Iterable[str]) -> Cond:
    if not isinstance(value, (str, list, tuple, set, frozenset)):
        raise WrongTypeError(f"filter({column}=…) takes a str or a list of them, not {type(value).__name__} "
                             f"({value!r:.40}).", hint=f"e.g. history.filter({column}='…').")
    values = (value,) if isinstance(value, str) else tuple(value)
    odd = next((v for v in values if not isinstance(v, str) or not v.strip()), None) if values else ""
    if odd is not None:  # (a 5 in the list was matched as '5'; [] and '' matched nothing, without a word)
        what = "an empty list" if not values else (repr(odd) if isinstance(odd, str) else
                                                    f"{type(odd).__name__} ({odd!r:.40})")
        raise (InputError if isinstance(odd, str) else WrongTypeError)(
            f"filter({column}=…) was given {what}, which no entry can have.",
                         hint=f"Name one or more (e.g. history.filter({column}='…')), or leave {column}= out "
                              "for every entry.")
    if len(values) == 1:
        return (f"{column}=?", values)
    return (f"{column} IN ({', '.join('?' * len(values))})", values)


@front_doors
class History:
    """Every recorded call of a store (or a filtered view of them), oldest first, newest last.

    ``h[-1]`` is the newest entry, ``h[-5:]`` the last five (a list), ``h.filter(kind="image")`` a
    narrower view, ``h.search("cat")`` a full-text one.
    """

    def __init__(self, store: Store | str | os.PathLike[str], session: Any = None, *, read_only: bool = False,
                 _conds: Sequence[Cond] = (), _label: str = "") -> None:
        """``read_only=True`` (with a path) reads someone else's store without touching it: no upgrade, no
        recovery of their unfinished rows, no write; an unwritable store is opened read-only anyway. A path must
        hold a store (a Session makes one at its first call; ``History(Store(path))`` makes an empty one)."""
        if not isinstance(store, (Store, str, os.PathLike)):  # (Path(5) was a TypeError from inside the store)
            raise WrongTypeError(f"History() takes a store folder (a path) or a Store, not {type(store).__name__}.",
                                 hint="e.g. History('.tokenhot'), or session.history for a session's own.")
        if isinstance(store, str) and not store.strip():  # ('' opened the working folder as a store)
            raise InputError(f"History() was given an empty path{' (only whitespace)' if store else ''}.",
                             hint="Name the store folder, e.g. History('.tokenhot'), or use session.history for a "
                                  "session's own.")
        if isinstance(store, Store):
            self.store = store
        else:
            from ._problems import check_store_there

            self.store = Store(store, read_only=read_only)
            check_store_there(self.store.root, os.fspath(store))
        self.session = session
        self._own: tuple[Cond, ...] = tuple(_conds)
        self._label = _label

    @property
    def _conds(self) -> tuple[Cond, ...]:
        """The view's conditions; a replaying session's views end at the newest row it has replayed, so a
        re-run notebook shows the history each cell showed when it was recorded (not the later cells' calls)."""
        if self.session is None:  # History(path) alone: no session to import (it pulls in the client, httpx…)
            return self._own
        from .._session.core import Session

        upto = self.session.replay_position if isinstance(self.session, Session) else None
        return self._own if upto is None else (*self._own, ("id <= ?", (upto,)))

    def _view(self, conds: Sequence[Cond], label: str) -> History:
        joined = f"{self._label}, {label}" if self._label and label else (self._label or label)
        return History(self.store, self.session, _conds=(*self._own, *conds), _label=joined)

    def _bind(self, entries: list[HistoryEntry]) -> list[HistoryEntry]:
        for e in entries:
            e.bind(self.store, self.session)
        return entries

    # ------------------------------------------------------------ list protocol

    def __len__(self) -> int:
        return self.store.count(self._conds)

    def __bool__(self) -> bool:
        return bool(self.store.select(self._conds, columns="id", limit=1))

    @overload
    def __getitem__(self, index: int) -> HistoryEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[HistoryEntry]: ...

    def __getitem__(self, index: int | slice) -> HistoryEntry | list[HistoryEntry]:
        if isinstance(index, slice):
            return self._slice(index)
        try:  # int() would take 1.5 (as 1) and "1"
            i = operator.index(index)
        except TypeError:
            raise WrongTypeError(f"History positions are whole numbers or slices, not {type(index).__name__} "
                             f"({index!r:.40}).", hint="e.g. history[-1] (the newest), history[-5:], or "
                             "history.get(entry_id) for the entry with that # id.") from None
        try:
            if i >= 0:
                rows = self.store.select_entries(self._conds, limit=1, offset=i)
            else:
                rows = self.store.select_entries(self._conds, desc=True, limit=1, offset=-i - 1)
        except OverflowError:  # more digits than SQLite's integers: no row is that far
            rows = []
        if not rows:
            raise OutOfRangeError(f"There is no entry at position {i}: this history has {len(self)}.",
                                  hint="history[0] is the oldest, history[-1] the newest; history.get(id) takes "
                                       "the # id.")
        return self._bind(rows)[0]

    def _slice(self, sl: slice) -> list[HistoryEntry]:
        for part in (sl.start, sl.stop, sl.step):  # (h['a':] and h[::0] were a TypeError / ValueError from inside)
            if part is not None and _whole(part) is None:
                raise WrongTypeError(f"History slices take whole numbers, not {type(part).__name__} ({part!r:.40}).",
                                     hint="e.g. history[-5:] (the last five), history[::-1] (newest first).")
        if sl.step is not None and _whole(sl.step) == 0:
            raise InputError("A history slice's step cannot be 0.", hint="e.g. history[::2], or history[::-1].")
        n = len(self)
        start, stop, step = sl.indices(n)
        if step != 1:  # (ids[start:stop:step] would drop a negative step's stop of -1: h[::-1] was empty)
            ids = self.ids
            return self._bind([self.store.get(ids[i]) for i in range(start, stop, step)])
        if stop <= start:
            return []
        count = stop - start
        if n - stop < start:  # nearer the end: read backwards from the newest
            rows = self.store.select_entries(self._conds, desc=True, limit=count, offset=n - stop)
            rows.reverse()
        else:
            rows = self.store.select_entries(self._conds, limit=count, offset=start)
        return self._bind(rows)

    def __iter__(self) -> Iterator[HistoryEntry]:
        last = 0
        while True:
            page = self.store.select_entries((*self._conds, ("id>?", (last,))), limit=_PAGE)
            if not page:
                return
            yield from self._bind(page)
            last = page[-1].id or last

    @property
    def ids(self) -> list[int]:
        return [r[0] for r in self.store.select(self._conds, columns="id")]

    @property
    def last(self) -> HistoryEntry | None:
        rows = self.store.select_entries(self._conds, desc=True, limit=1)
        return self._bind(rows)[0] if rows else None

    def get(self, entry_id: int) -> HistoryEntry:
        """The entry with that ``#`` id (``KeyError`` when there is none)."""
        number = _whole(entry_id)
        if number is None:
            raise WrongTypeError(f"history.get() takes an entry's # id (a whole number), not {type(entry_id).__name__} "
                             f"({entry_id!r:.40}).", hint="e.g. history.get(12); history[-1] is the newest entry.")
        try:
            row = self.store.get(number)
        except (KeyError, OverflowError):  # (OverflowError: more digits than SQLite's integers)
            raise NoEntryError(f"There is no history entry #{number} in {self.store.root}.",
                               hint="Its id is the # column of the history table; history.ids lists them.") from None
        return self._bind([row])[0]

    def artifact(self, sha256: str) -> Path:
        """The file of a stored artifact (what ``to_code()`` uses for input media)."""
        if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256.strip()):
            raise InputError(f"artifact() takes an artifact's sha256 (64 hex digits), not {sha256!r:.80}.",
                             hint="The sha256s are in an entry's outputs, or result.sha256.")
        return self.store.path_of(sha256.strip())

    # ------------------------------------------------------------ narrowing

    def filter(
        self, kind: str | Iterable[str] | None = None, model: str | Iterable[str] | None = None,
        status: str | Iterable[str] | None = None, since: Any = None, until: Any = None,
        thread: str | None = None, text: str | None = None, session_id: str | None = None,
    ) -> History:
        """A narrower view; every argument given must match (times: unix, datetime, timedelta or ``"2h"``).

        ``model`` takes any name the catalogue knows (an alias such as ``"claude-opus"``, a display name) and
        matches the model it means, as every call does; a name it does not know matches literally."""
        conds: list[Cond] = []
        label: list[str] = []
        from ._entry import STATUSES
        from ._validate import KINDS

        for column, value, allowed in (("kind", kind, KINDS), ("status", status, STATUSES)):
            if value is not None:
                _choose(column, value, allowed)
        for column, value in (("kind", kind), ("model", model), ("status", status), ("session_id", session_id)):
            if value is not None:
                conds.append(_in(column, self._model_ids(value) if column == "model" else value))
                label.append(f"{column}={value!r}")
        if since is not None:
            conds.append(("started>=?", (to_timestamp(since),)))
            label.append(f"since={since!r}")
        if until is not None:
            conds.append(("started<=?", (to_timestamp(until),)))
            label.append(f"until={until!r}")
        if thread is not None:
            if not isinstance(thread, str) or not thread.strip():  # (thread=5 looked for '5', silently)
                raise (InputError if isinstance(thread, str) else WrongTypeError)(
                    f"filter(thread=…) takes a conversation's name (a str), not {thread!r:.40}.",
                    hint="e.g. history.filter(thread='study'); session.threads lists them.")
            conds.append(("thread=?", (thread,)))
            label.append(f"thread={thread!r}")
        if text is not None and not isinstance(text, str):
            raise WrongTypeError(f"Search text must be a str, not {type(text).__name__}.", hint="e.g. history.search('cat').")
        if text is not None:
            _valid_text(text)
            if not text.replace("\x00", " ").split():  # (every row matched: a search for nothing found everything)
                raise InputError(f"The search text {text!r:.40} holds no word to look for.",
                                 hint="e.g. history.search('cat'); the whole history is the history itself "
                                      "(filter(text=None) leaves the text out).")
            conds.extend(self.store.text_conditions(text.replace("\x00", " ")))  # a NUL ends SQLite's query
            label.append(f"text={text!r}")
        return self._view(conds, ", ".join(label))

    def _model_ids(self, names: str | Iterable[str]) -> list[str]:
        """Each name as given, plus the id of the model the catalogue says it means (the session's catalogue,
        with the service's models; else the built-in one). Rows hold the resolved id, or, for a call refused
        before its model was known, the name as given."""
        _in("model", names)  # (the type check)
        given = [names] if isinstance(names, str) else [str(n) for n in names]
        from .._session.core import Session
        from ..catalog import builtin

        ids = list(given)
        try:
            table = self.session.catalog.snapshot() if isinstance(self.session, Session) else builtin()
        except Exception:  # a catalogue that cannot be read: the names as given still filter
            table = None
        for name in given:
            info = table.find(name) if table is not None else None
            if info is not None and info.id not in ids:
                ids.append(info.id)
        # an older store may hold another '.'/'-' spelling of one model (doubao-seedance-1.5 / -1-5): the same model
        wanted = {loose_model(n) for n in ids}
        return ids + [m for m in self.store.model_names() if m not in ids and loose_model(m) in wanted]

    def search(self, text: str) -> History:
        """Entries whose prompt or answer contains every word of ``text`` (full-text index)."""
        return self.filter(text=text)

    def tail(self, n: int = 10) -> History:
        """The last ``n`` entries, as a fixed view (later calls do not push them out)."""
        number = _whole(n)
        if number is None or number < 0:
            raise (InputError if number is not None else WrongTypeError)(
                f"tail() takes how many entries (a whole number >= 0), not {n!r:.40}.", hint="e.g. history.tail(5).")
        n = number
        rows = self.store.select(self._conds, columns="id", desc=True, limit=min(n, 2**62))  # SQLite's int
        if not rows:
            return self._view([("0", ())], f"tail({n})")
        return self._view([("id BETWEEN ? AND ?", (rows[-1][0], rows[0][0]))], f"tail({n})")

    # ------------------------------------------------------------ usage / export

    def usage(self, prices: dict[str, dict[str, float]] | None = None) -> UsageSummary:
        """Calls, errors, tokens, images, video seconds and cost by model, with a total.

        The cost is what each call recorded (from the service's price table or a task's charged quota);
        ``prices`` (``{model: {"input_per_mtok", "output_per_mtok", "per_image", "per_video_second"}}``)
        recomputes it from your own table instead.
        """
        _check_prices(prices)
        where, args = self.store._where(self._conds)
        sql = (
            "SELECT model, COUNT(*), SUM(status='ok'), SUM(status='error'), "
            "SUM(COALESCE(json_extract(usage,'$.input_tokens'),0)), "
            "SUM(COALESCE(json_extract(usage,'$.output_tokens'),0)), "
            "SUM(CASE WHEN COALESCE(json_extract(usage,'$.images'),0) > 0 THEN json_extract(usage,'$.images') "
            "WHEN outputs='[]' OR kind NOT IN ('image','edit') THEN 0 "
            "ELSE (SELECT COUNT(*) FROM json_each(entries.outputs) WHERE json_extract(value,'$.role')='image') END), "
            "SUM(COALESCE(json_extract(usage,'$.video_seconds'),0)), "
            "SUM(json_extract(usage,'$.cost.usd')), "
            "SUM(status='ok' AND json_extract(usage,'$.cost.usd') IS NULL), "
            "MAX(COALESCE(json_extract(usage,'$.cost.simulated'),0)) "
            f"FROM entries{where} GROUP BY model ORDER BY model"
        )
        rows = []
        for r in self.store._rows(sql, args):  # (a damaged database: the StoreError naming it)
            rows.append({
                "model": r[0], "calls": int(r[1]), "ok": int(r[2] or 0), "errors": int(r[3] or 0),
                "input_tokens": int(r[4] or 0), "output_tokens": int(r[5] or 0), "images": int(r[6] or 0),
                "video_seconds": float(r[7] or 0.0),
                "cost": float(r[8]) if isinstance(r[8], (int, float)) else None,
                "unpriced_calls": int(r[9] or 0), "simulated": bool(r[10]),
            })
        return UsageSummary(_one_row_per_model(rows), prices)

    def export(self, path: str | os.PathLike[str], *, include_artifacts: bool = False) -> Path:
        """Write ``.json`` (a list; also a path with no suffix) or ``.jsonl`` (one entry a line); artifacts by
        sha256 (copied with ``include_artifacts=True`` into ``<path>.artifacts/``)."""
        from ..errors import StoreError
        from ._export import export_history

        if not isinstance(path, (str, os.PathLike)):
            raise WrongTypeError(f"export() takes a file path, not {type(path).__name__}.",
                                 hint="e.g. history.export('history.json') or 'history.jsonl'.")
        _check_path(path, "export()", "a file path", "e.g. history.export('history.json') or 'history.jsonl'.")
        if Path(path).suffix.lower() not in ("", ".json", ".jsonl"):  # 'x.csv' got JSON, with no word said
            raise InputError(f"export() writes JSON (.json) or JSON Lines (.jsonl), not {Path(path).name!r}.",
                             hint=f"e.g. history.export({str(Path(path).with_suffix('.jsonl'))!r}).")
        if include_artifacts not in (True, False):  # ('no' is true: it copied every artifact)
            raise WrongTypeError(f"export(include_artifacts=…) is True or False, not {include_artifacts!r:.40}.",
                                 hint="e.g. history.export('history.jsonl', include_artifacts=True).")
        try:  # ('~/h.jsonl' went to a folder named '~' in the working folder)
            return export_history(self, Path(path).expanduser(), include_artifacts=include_artifacts)
        except OSError as exc:
            raise StoreError(
                f"Could not write the history export to {os.fspath(path)!r}: {exc.strerror or exc}.",
                hint="Choose a path in a folder you can write to (its parent must be a folder, not a file).",
            ) from exc

    @classmethod
    def load(cls, path: str | os.PathLike[str], store: Store | str | os.PathLike[str] | None = None, *,
             strict: bool = False) -> History:
        """Load an export into ``store`` (a new temporary store when omitted); ids are new.

        An export is untrusted: every field is checked; an invalid entry is left out with a warning
        (``strict=True``: the load is refused), artifact files outside the export's folder are ignored.
        """
        from ._export import load_history

        if not isinstance(path, (str, os.PathLike)):
            raise WrongTypeError(f"History.load() takes the path of an export, not {type(path).__name__}.",
                                 hint="e.g. History.load('history.json'), a file History.export() wrote.")
        _check_path(path, "History.load()", "the path of an export",
                    "e.g. History.load('history.json'), a file History.export() wrote.")
        if store is not None and not isinstance(store, (str, os.PathLike, Store)):  # (a TypeError from pathlib)
            raise WrongTypeError(f"History.load(store=…) takes a store folder (a path) or a Store, not "
                                 f"{type(store).__name__}.", hint="e.g. History.load('history.json', store='.tokenhot'); "
                                                                  "omitted, a new temporary store.")
        return load_history(Path(path).expanduser(), store, strict=strict)

    # ------------------------------------------------------------ display

    def __repr__(self) -> str:
        n = len(self)
        what = f" ({plain(self._label)})" if self._label else ""  # (a search's words may hold a key)
        last = self.last
        tail = f"; last: #{last.id} {last.kind} {last.model} {last.status}" if last else ""
        ro = " (read-only)" if self.store.read_only else ""
        return f"<History{what}: {n} entr{'y' if n == 1 else 'ies'} in {self.store.root}{ro}{tail}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's text view (a terminal, ``%th_history``, a text-only frontend): the last rows as a table, as
        the notebook shows them; ``repr()`` stays one line."""
        p.text(repr(self) if cycle else history_text(self))

    def _repr_html_(self) -> str:
        return history_html(self)


# ---------------------------------------------------------------- usage summary


def loose_model(name: str) -> str:
    """One key for a model's spellings, as the catalogue matches them: ``.``/``_``/``-`` and case alike
    (``doubao-seedance-1.5`` ≡ ``doubao-seedance-1-5``), so rows of older versions count as the same model."""
    return name.strip().lower().replace(".", "-").replace("_", "-")


def _one_row_per_model(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Usage rows of one model under several spellings, summed into one row under its most used spelling."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(loose_model(str(r["model"] or "")), []).append(r)
    out: list[dict[str, Any]] = []
    for same in groups.values():
        row = dict(max(same, key=lambda r: r["calls"]))
        for field in ("calls", "ok", "errors", "input_tokens", "output_tokens", "images", "video_seconds",
                      "unpriced_calls"):
            row[field] = sum(r[field] for r in same)
        costs = [r["cost"] for r in same if r["cost"] is not None]
        row["cost"] = sum(costs) if costs else None
        row["simulated"] = any(r["simulated"] for r in same)
        out.append(row)
    return sorted(out, key=lambda r: str(r["model"] or ""))


class UsageSummary:
    """What a history cost: ``.rows`` (one dict per model) and ``.total``; renders as a table.

    ``cost`` is in USD; a ``*`` marks a figure that leaves out calls whose cost is unknown (``unpriced_calls``),
    and costs of calls made on the offline simulator are labelled simulated.
    """

    columns = ("model", "calls", "ok", "errors", "input_tokens", "output_tokens", "images", "video_seconds", "cost")

    def __init__(self, rows: list[dict[str, Any]], prices: dict[str, dict[str, float]] | None = None) -> None:
        self.prices = prices
        unpriced: list[str] = []
        for r in rows:
            r.setdefault("cost", None)
            r.setdefault("unpriced_calls", 0)
            r.setdefault("simulated", False)
            if prices is not None:
                p = prices.get(r["model"])
                if p is None:  # the table may spell the model the other way ('.' vs '-')
                    p = next((v for k, v in prices.items() if loose_model(k) == loose_model(str(r["model"]))), None)
                r["unpriced_calls"] = 0
                if p is None:
                    r["cost"] = None
                    unpriced.append(r["model"])
                else:
                    r["cost"] = (
                        r["input_tokens"] / 1e6 * float(p.get("input_per_mtok", 0) or 0)
                        + r["output_tokens"] / 1e6 * float(p.get("output_per_mtok", 0) or 0)
                        + r["images"] * float(p.get("per_image", 0) or 0)
                        + r["video_seconds"] * float(p.get("per_video_second", 0) or 0)
                    )
            elif r["cost"] is None and r["ok"]:
                unpriced.append(r["model"])
        self.rows = rows
        self.unpriced = unpriced
        total: dict[str, Any] = {"model": "total"}
        for c in self.columns[1:-1]:
            total[c] = sum(r[c] for r in rows)
        costs = [r["cost"] for r in rows if r["cost"] is not None]
        total["cost"] = sum(costs) if costs or prices is not None else None
        total["unpriced_calls"] = sum(r["unpriced_calls"] for r in rows)
        total["simulated"] = any(r["simulated"] for r in rows)
        self.total = total

    @property
    def simulated(self) -> bool:
        return bool(self.total.get("simulated"))

    def _cells(self, row: dict[str, Any]) -> list[str]:
        cost = row["cost"]
        text = "" if cost is None else usd_text(cost) + ("*" if row.get("unpriced_calls") else "")
        return [
            plain(row["model"]), str(row["calls"]), str(row["ok"]), str(row["errors"]),
            f"{row['input_tokens']:,}", f"{row['output_tokens']:,}", str(row["images"]),
            f"{row['video_seconds']:g}", text,
        ]

    def _notes(self) -> list[str]:
        notes = []
        if any(r.get("unpriced_calls") for r in self.rows):
            notes.append("* leaves out calls whose cost is unknown")
        if self.unpriced:
            notes.append("no price for: " + ", ".join(dict.fromkeys(self.unpriced)))
        if self.simulated:
            notes.append("costs of offline calls are simulated (never real spending)")
        return notes

    def __repr__(self) -> str:
        rows = [self._cells(r) for r in [*self.rows, self.total]]
        return "\n".join([*aligned(list(self.columns), rows, right=range(1, len(self.columns))), *self._notes()])

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='{_TD}'>{escape(c.replace('_', ' '))}</th>" for c in self.columns)
        body = []
        for r in [*self.rows, self.total]:
            bold = "font-weight:bold;" if r is self.total else ""
            body.append("<tr>" + "".join(f"<td style='{_TD};{bold}'>{escape(c)}</td>" for c in self._cells(r)) + "</tr>")
        note = "".join(f"<div style='color:#6e7781'>{escape(n)}</div>" for n in self._notes())
        return f"<table class='tokenhot-usage'><tr>{head}</tr>{''.join(body)}</table>{note}"


# ---------------------------------------------------------------- text (terminals)

TEXT_ROWS = 20
#: The widest a text column gets, in terminal cells (the prompt / answer is cut to fit).
_TEXT_WIDTH = {"model": 28, "prompt / answer": 56}


def _as_stored(text: str) -> str:
    return text


#: How a row's error words (and the text table's footer lines) are said: as stored, or (``%th_history``) for whoever
#: reads them (``session.resume(3)``, ``history.get(ID)`` on the magics' own session, which a magic user has no
#: variable for).
Say = Callable[[str], str]


def _row_text(r: Sequence[Any], say: Say = _as_stored) -> list[str]:
    """One row of the text table (id, started, duration, kind, model, status, text, usage, error)."""
    error = json.loads(r[8]) if r[8] else None
    text = plain(r[6] or "")
    if isinstance(error, dict) and error.get("message"):
        message = plain(say(str(error["message"])))
        text = f"{text} ⚠ {message}" if text else f"⚠ {message}"
    return [str(r[0]), _when(r[1]), plain(r[3]), cut(plain(r[4]), _TEXT_WIDTH["model"]), plain(r[5]),
            f"{r[2]:.1f} s" if r[2] is not None else "", _cost_of(r[7]), cut(text, _TEXT_WIDTH["prompt / answer"])]


def history_text(h: History, limit: int = TEXT_ROWS, say: Say = _as_stored) -> str:
    """The last ``limit`` rows as a plain-text table, newest first (only those rows are read); ``say``: how their
    error words, and the lines the footer offers, are said."""
    n = len(h)
    rows = h.store.select(h._conds, columns="id, started, duration, kind, model, status, text, usage, error",
                          desc=True, limit=limit)
    label = f" ({plain(h._label)})" if h._label else ""
    ro = " (read-only)" if h.store.read_only else ""
    head = f"History{label}: {n} entr{'y' if n == 1 else 'ies'} in {h.store.root}{ro}"
    if not rows:
        return head
    head += f" — the last {len(rows)}, newest first" if n > len(rows) else " — newest first"
    cells = []
    for r in rows:
        try:
            cells.append(_row_text(r, say))
        except Exception as exc:  # one odd row (an imported or damaged entry) never breaks the table
            cells.append([str(r[0]), "", "", "", "", "", "", f"(this entry could not be shown: {type(exc).__name__})"])
    header = ("#", "time", "kind", "model", "status", "took", "cost", "prompt / answer")
    foot = "history.get(ID) shows one entry" + ("; history.tail(N) or .filter(…) narrows the view" if n > len(rows) else "")
    return "\n".join([head, *aligned(header, cells, right=(0, 5)), say(foot)])


# ---------------------------------------------------------------- HTML


def _when(ts: float) -> str:
    t = _dt.datetime.fromtimestamp(ts)
    return t.strftime("%H:%M:%S") if t.date() == _dt.date.today() else t.strftime("%Y-%m-%d %H:%M")


def video_posters(outputs: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """A video row's videos, each with its own poster: the poster output that follows it (a task that made several
    lists video, poster, video, poster…); an older row's one poster, listed before its video, goes with it."""
    pairs: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    loose: dict[str, Any] | None = None  # a poster listed before any video
    for out in outputs:
        if out.get("role") == "video":
            pairs.append((out, loose))
            loose = None
        elif out.get("role") == "poster" and out.get("sha256"):
            if pairs and pairs[-1][1] is None:
                pairs[-1] = (pairs[-1][0], out)
            elif not pairs:
                loose = out
    return pairs


def _outputs_html(store: Store, outputs: list[dict[str, Any]], px: int = 96, limit: int = 4) -> str:
    parts: list[str] = []
    posters = {id(video): poster for video, poster in video_posters(outputs)}  # (each video its own)
    for o in outputs:
        if len(parts) >= limit:
            break
        role = str(o.get("role", ""))
        mime = str(o.get("mime", ""))
        sha = str(o.get("sha256", ""))
        if role == "poster":
            continue
        if role == "image" or (not role and mime.startswith("image/")):
            uri = store.thumbnail(sha, px) if sha else None
            if uri:
                parts.append(f"<img src='{escape(uri)}' alt='image' title='{escape(o.get('name') or sha[:12])}' "
                             f"style='max-width:{px}px;max-height:{px}px;margin:1px'>")
            else:
                parts.append("<span title='image missing'>🖼</span>")
        elif role == "video" or mime.startswith("video/"):
            secs = o.get("duration")
            label = f"▶ {float(secs):.1f} s" if isinstance(secs, (int, float)) else "▶ video"
            poster = posters.get(id(o))
            uri = store.thumbnail(str(poster["sha256"]), px) if poster is not None else None
            if uri:
                parts.append(f"<span style='display:inline-block;position:relative'><img src='{escape(uri)}' "
                             f"alt='video poster' style='max-width:{px}px;max-height:{px}px;margin:1px'>"
                             f"<span style='position:absolute;left:3px;bottom:3px;color:#fff;"
                             f"background:#0008;padding:0 3px'>{escape(label)}</span></span>")
            else:
                parts.append(f"<span>{escape(label)}</span>")
        elif role == "audio" or mime.startswith("audio/"):
            secs = o.get("duration")
            if not isinstance(secs, (int, float)) and sha:
                secs = store.audio_duration(sha)
            parts.append(f"<span>♪ {float(secs):.1f} s</span>" if isinstance(secs, (int, float))
                         else "<span>♪ audio</span>")
        elif sha:
            parts.append(f"<span>📄 {escape(o.get('name') or role or mime)}</span>")
    more = len([o for o in outputs if o.get("role") != "poster"]) - len(parts)
    if more > 0:
        parts.append(f"<span style='color:#6e7781'>+{more}</span>")
    return " ".join(parts)


def _usage_text(usage: dict[str, Any]) -> str:
    bits = []
    if usage.get("input_tokens") or usage.get("output_tokens"):
        bits.append(f"{usage.get('input_tokens', 0)}→{usage.get('output_tokens', 0)} tok")
    if usage.get("images"):
        bits.append(f"{usage['images']} img")
    if usage.get("video_seconds"):
        bits.append(f"{usage['video_seconds']:g} s video")
    return ", ".join(bits)


def _cost_text(usage: Any) -> str:
    """A recorded cost, short, for a table cell ("" when unknown; "sim" marks a simulated one)."""
    c = Cost.from_dict(usage.get("cost") if isinstance(usage, dict) else None)
    if c.usd is None:
        return ""
    return usd_text(c.usd) + (" sim" if c.simulated else "")


def _cost_of(usage_json: str | None) -> str:
    """``_cost_text`` of a row's ``usage`` column as stored (JSON; an odd row's may not parse)."""
    try:
        usage = json.loads(usage_json or "{}")
    except ValueError:
        return ""
    return _cost_text(usage)


def _status_html(status: str, error: dict[str, Any] | None, say: Say = _as_stored) -> str:
    color = _STATUS_COLOR.get(status, "#6e7781")
    title = ""
    if error:
        title = f" title='{escape(say(str(error.get('message', ''))))}'"
    return f"<span style='color:{color};font-weight:bold'{title}>{escape(status)}</span>"


def _row_html(store: Store, r: Sequence[Any], say: Say = _as_stored) -> str:
    """One table row (id, started, duration, kind, model, status, text, outputs, usage, error)."""
    outputs = json.loads(r[7] or "[]")
    usage = json.loads(r[8] or "{}")
    error = json.loads(r[9]) if r[9] else None
    text = r[6] or ""
    if error and error.get("message"):
        message = say(str(error["message"]))
        text = f"{text}\n⚠ {message}" if text else f"⚠ {message}"
    text = redact(text)  # (the column as stored, maybe by another version): masked whole, before the cut
    took = f"{r[2]:.1f} s" if r[2] is not None else ""
    cells = [
        escape(r[0]), escape(_when(r[1])), escape(r[3]), escape(r[4]), _status_html(r[5], error, say),
        escape(took), f"<span title='{escape(_shorten(text, 1000))}'>{escape(_shorten(text, 160))}</span>",
        _outputs_html(store, outputs), escape(_usage_text(usage)), escape(_cost_text(usage)),
    ]
    return "<tr>" + "".join(f"<td style='{_TD}'>{c}</td>" for c in cells) + "</tr>"


def history_html(h: History, limit: int = RENDER_ROWS, say: Say = _as_stored) -> str:
    """The last ``limit`` rows, newest first; only those rows are read, thumbnails come from the cache; ``say``: how
    their error words are said."""
    n = len(h)
    rows = h.store.select(
        h._conds, columns="id, started, duration, kind, model, status, text, outputs, usage, error",
        desc=True, limit=limit,
    )
    label = f" — {escape(h._label)}" if h._label else ""
    shown = f"showing the last {len(rows)}" if n > len(rows) else "newest first"
    ro = " · read-only store: new calls cannot be recorded here" if h.store.read_only else ""
    head = f"<div><b>History</b>{label}: {n} entr{'y' if n == 1 else 'ies'} ({shown}){ro}</div>"
    if not rows:
        return f"<div class='tokenhot-history'>{head}</div>"
    cols = ("#", "time", "kind", "model", "status", "took", "prompt / answer", "outputs", "usage", "cost")
    out = [f"<div class='tokenhot-history'>{head}<table style='border-collapse:collapse;font-size:12px'><tr>"]
    out.append("".join(f"<th style='{_TD}'>{c}</th>" for c in cols) + "</tr>")
    for r in rows:
        try:
            out.append(_row_html(h.store, r, say))
        except Exception as exc:  # one odd row (an imported or damaged entry) never breaks the table
            out.append(f"<tr><td style='{_TD}'>{escape(r[0])}</td><td style='{_TD}' colspan='{len(cols) - 1}'>"
                       f"<i>this entry could not be shown ({escape(type(exc).__name__)}: "
                       f"{escape(_shorten(str(exc), 200))})</i></td></tr>")
    out.append("</table></div>")
    return "".join(out)


def entry_html(e: HistoryEntry) -> str:
    """One entry as a card: what was asked, what came back, the outputs, and the code to redo it."""
    store = e.store
    thumbs = _outputs_html(store, e.outputs, px=192, limit=8) if store is not None else ""
    params = "".join(
        f"<tr><td style='{_TD}'><code>{escape(k)}</code></td><td style='{_TD}'><code>"
        f"{escape(_shorten(json.dumps(v, ensure_ascii=False), 300))}</code></td></tr>"
        for k, v in e.params.items()
    )
    err = ""
    if e.error:
        err = (f"<div style='color:#cf222e'>{escape(e.error.get('error', 'Error'))}: "
               f"{escape(e.error.get('message', ''))} {escape(e.error.get('hint', ''))}</div>")
    took = f", {e.duration:.1f} s" if e.duration is not None else ""
    return (
        "<div class='tokenhot-entry' style='border:1px solid #8884;padding:6px;border-radius:4px'>"
        f"<div><b>#{escape(e.id)}</b> {escape(e.kind)} · <code>{escape(e.model)}</code> · "
        f"{_status_html(e.status, e.error)} · {escape(_when(e.started))}{escape(took)} · {escape(e.mode)}</div>"
        f"{err}<div style='white-space:pre-wrap;margin:4px 0'>{escape(_shorten(e.text, 2000))}</div>"
        f"<div>{thumbs}</div>"
        f"<div style='color:#6e7781'>{escape(_usage_text(e.usage))} {escape(_cost_text(e.usage))}</div>"
        f"<details><summary>parameters</summary><table>{params}</table></details>"
        f"<details><summary>code</summary><pre>{escape(_code_or_reason(e))}</pre></details>"
        "</div>"
    )


def _code_or_reason(e: HistoryEntry) -> str:
    try:
        return e.to_code()
    except Exception as exc:  # an odd entry still shows its card
        return f"# no code for this entry ({type(exc).__name__}: {exc})"


def _check_path(path: str | os.PathLike[str], method: str, takes: str, example: str) -> None:
    """A path no file can have, in one line: blank ('' was "Device or resource busy"), a NUL (a bare ValueError),
    or a lone surrogate (a UnicodeEncodeError from deep in the export)."""
    text = os.fspath(path)
    if not text.strip() or "\x00" in text:
        raise InputError(f"{method} takes {takes}, not {text!r}.", hint=example)
    try:
        os.fsencode(text)
    except UnicodeEncodeError as exc:
        raise InputError(f"The path given to {method} holds an invalid character ({text[exc.start]!r}, a lone "
                         f"surrogate, at position {exc.start}), which no file name can hold.",
                         hint="Type the path again without it.") from None
