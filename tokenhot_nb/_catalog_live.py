"""The service's own tables: ``GET /api/pricing`` + ``GET /api/status`` (public) and ``GET /v1/models`` (the key's
list), read through the project's client, cached on disk, and merged with the built-in catalogue.

Everything read here is data: rows are trimmed to the known fields with plain JSON values before they are kept
or cached, texts on one line without controls and with any key masked; a row whose id holds a control character
(a terminal escape, a line break, a bidi override) or a key is left out. The merge keeps every built-in entry; a
live row that names one (id, alias or a ``.``/``-`` variant) lends it its price, and a row nobody knows is
classified into a family (:mod:`._catalog_classify`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from . import _config
from ._atomic import replacing
from ._catalog_classify import classify, words
from ._config import redact
from .catalog import Catalog, ModelInfo, Price, Unclassified, _loose
from .errors import clean_text

if TYPE_CHECKING:
    from .client import Client

CACHE_VERSION = 1
MAX_ROWS = 5000
_ROW_FIELDS = (
    "model_name", "quota_type", "model_ratio", "completion_ratio", "model_price", "cache_ratio", "image_ratio",
    "audio_ratio", "vendor_id", "tags", "supported_endpoint_types", "enable_groups", "input_modalities",
    "create_cache_ratio",  # (newer new-api; a cache written without it still reads: the cell is then None)
    "output_modalities", "context_length", "billing_mode", "billing_expr", "description",
)  # fmt: skip
_STATUS_FIELDS = ("quota_per_unit", "price", "usd_exchange_rate", "quota_display_type", "display_in_currency")
_MAX_TEXT = 500


class CatalogFetchError(Exception):
    """The live table could not be read (the message says from where and why; never the key)."""


#: Characters no model id holds: C0/C1 controls (terminal escapes start with one), line and paragraph
#: separators, the bidi controls that reorder what is read, and the invisible ones (zero-width space and joiners,
#: soft hyphen, BOM) that make a second id look like a listed one ("gpt-5.2\u200b" at another price).
_NOT_IN_NAMES = re.compile("[\x00-\x1f\x7f-\x9f\xad\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069"
                           "\ufeff]")


def _holds_key(name: str) -> bool:
    """A key this process was given (in any shape it knows) or a word shaped like one is in ``name`` (the pattern
    leaves ``task-embedding-…`` alone: glued to a word, only a random-looking tail is a key)."""
    return bool(_config._KEY_RE.search(name)) or any(form in name for form in _config._known_forms)


def _text(value: str) -> str:
    """A text of the table on one line, without terminal escapes or controls, a key masked (these texts reach
    text outputs, and the cache file beside the history)."""
    text = value[:_MAX_TEXT]
    if _NOT_IN_NAMES.search(text):  # (most texts hold none: one scan)
        text = " ".join(clean_text(text).split())
    return redact(text)


def _plain(value: Any) -> Any:
    """A JSON scalar or a short list of them; anything else (objects, markup-sized strings) is dropped."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, (list, tuple)):
        return [_text(v) if isinstance(v, str) else v for v in value[:64]
                if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    return None


def _clean_row(row: Any, name_key: str = "model_name") -> dict[str, Any] | None:
    """The known fields of one row, or None when it names no model this client could call: an id with controls
    (a terminal escape, a line break, a bidi override) or a key in it is no id the service serves."""
    if not isinstance(row, Mapping):
        return None
    name = row.get(name_key)
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return None
    if _NOT_IN_NAMES.search(name) or _holds_key(name):
        return None
    out = {k: v for k in _ROW_FIELDS if (v := _plain(row.get(k))) is not None}
    out["model_name"] = name.strip()
    return out


@dataclass
class LiveTable:
    """What one service said about its models, when: the rows of its price table and its key's model list."""

    base_url: str
    fetched_at: float
    rows: list[dict[str, Any]]
    status: dict[str, Any] = field(default_factory=dict)
    vendors: dict[str, str] = field(default_factory=dict)
    key_models: list[dict[str, Any]] | None = None  # None: not read (no key, or the call failed)
    notes: list[str] = field(default_factory=list)
    #: The price table's ``group_ratio``: each group of keys and what its charges are multiplied by.
    group_ratio: dict[str, float] = field(default_factory=dict)
    #: Rows of the price table past :data:`MAX_ROWS`, left out (their models are at an unknown price).
    cut: int = 0

    def gaps(self) -> str:
        """What this table lacks, on one line ("" when whole): the routes that failed, the rows left out."""
        said = [n.rstrip(".") for n in self.notes]
        if self.cut:
            said.append(f"/api/pricing listed {len(self.rows) + self.cut:,} rows, only the first {MAX_ROWS:,} "
                        "were kept: the others are at an unknown price")
        return "; ".join(said)

    def age_hours(self, now: float | None = None) -> float:
        return max(0.0, ((now or time.time()) - self.fetched_at) / 3600.0)

    def to_json(self) -> dict[str, Any]:
        return {"version": CACHE_VERSION, "base_url": self.base_url, "fetched_at": self.fetched_at,
                "rows": self.rows, "status": self.status, "vendors": self.vendors, "key_models": self.key_models,
                "notes": self.notes, "group_ratio": self.group_ratio, "cut": self.cut}

    @classmethod
    def from_json(cls, data: Any) -> LiveTable | None:
        """A cached table, or None when the file is not one (another version, damaged, hand-edited; read when, NaN or
        later than now: such a copy never expired)."""
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return None
        when, cut = data.get("fetched_at"), data.get("cut")
        if isinstance(when, bool) or not isinstance(when, (int, float)) or not 0 < when <= time.time() + 300:
            return None  # (NaN fails the comparison too)
        rows = [r for r in (_clean_row(x) for x in data.get("rows") or []) if r is not None]
        keyed = data.get("key_models")
        key_models = None if keyed is None else [
            r for r in (_clean_row(x) for x in keyed if isinstance(keyed, list)) if r is not None]
        try:
            return cls(base_url=service_url(str(data["base_url"])), fetched_at=float(when),
                       rows=rows,
                       status={k: v for k, v in (data.get("status") or {}).items()
                               if k in _STATUS_FIELDS and _plain(v) is not None},
                       vendors={str(k): _text(str(v)) for k, v in (data.get("vendors") or {}).items()},
                       key_models=key_models, notes=[_text(str(n)) for n in data.get("notes") or []][:10],
                       group_ratio=parse_groups(data),
                       cut=cut if isinstance(cut, int) and not isinstance(cut, bool) and cut > 0 else 0)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


# ----------------------------------------------------------------------------- reading the service


def _pricing_rows(body: Mapping[str, Any]) -> list[Any]:
    """The raw rows of a ``/api/pricing`` answer (``data`` as a list or ``{"data": [...]}``), or why there are none."""
    if body.get("success") is False:
        said = redact(" ".join(clean_text(str(body.get("message"))).split()))  # before the cut: a key cut is missed
        raise CatalogFetchError(f"the price table answered success=false ({said[:120]!r})")
    data = body.get("data")
    if isinstance(data, Mapping):
        data = data.get("data") or data.get("models") or data.get("items")
    if not isinstance(data, list):
        raise CatalogFetchError("the price table has no list of rows in `data`")
    return data


def parse_pricing(body: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """``/api/pricing`` → (rows, vendor id → name). Tolerates ``data`` as a list or ``{"data": [...]}``."""
    if not isinstance(body, Mapping):
        raise CatalogFetchError("the price table is not a JSON object")
    data = _pricing_rows(body)
    rows = [r for r in (_clean_row(x) for x in data[:MAX_ROWS]) if r is not None]
    if not rows:  # (a relay between two states, a limiter's 200: kept for a day, every model at an unknown price)
        raise CatalogFetchError(f"the price table lists no model ({len(data)} row(s), none naming one)" if data
                                else "the price table lists no model")
    vendors: dict[str, str] = {}
    for v in body.get("vendors") or []:
        if isinstance(v, Mapping) and isinstance(v.get("name"), str) and v.get("id") is not None:
            vendors[str(v["id"])] = _text(v["name"][:100])
    return rows, vendors


#: Groups kept from a price table (a relay has a handful; a hostile one gets no more memory).
MAX_GROUPS = 64


def parse_groups(body: Any) -> dict[str, float]:
    """``/api/pricing`` ``group_ratio`` → {group: ratio}: names on one line without controls, ratios finite and
    not negative; anything else is left out (a table without it: {})."""
    raw = body.get("group_ratio") if isinstance(body, Mapping) else None
    if not isinstance(raw, Mapping):
        return {}
    groups: dict[str, float] = {}
    for name, ratio in list(raw.items())[:MAX_GROUPS]:
        if not isinstance(name, str) or not name.strip() or len(name) > 64 or _NOT_IN_NAMES.search(name):
            continue
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < float("inf"):
            continue
        groups[_text(name.strip())] = float(ratio)
    return groups


def parse_status(body: Any) -> dict[str, Any]:
    """``/api/status`` → the fields prices need (``quota_per_unit``, ``price``…)."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        return {}
    return {k: v for k in _STATUS_FIELDS if (v := _plain(data.get(k))) is not None}


def parse_models(body: Any) -> list[dict[str, Any]]:
    """``/v1/models`` (OpenAI list shape) → rows named like price-table rows."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list):
        raise CatalogFetchError("the model list has no `data` list")
    rows = []
    for item in data[:MAX_ROWS]:
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            row = _clean_row({**item, "model_name": item["id"]})
            if row is not None:
                rows.append(row)
    return rows


async def fetch(client: Client, *, with_key: bool) -> LiveTable:
    """Read the service's tables through ``client`` (public ones without the key) → :class:`LiveTable`."""
    from .errors import TokenhotError
    from .families._types import HttpCall

    async def get(path: str, public: bool) -> Any:
        resp = await client.send(HttpCall("GET", path, auth=not public))
        return resp.json()

    where = service_url(client.base_url)
    try:
        pricing = await get("/api/pricing", public=True)
        rows, vendors = parse_pricing(pricing)
    except TokenhotError as exc:
        raise CatalogFetchError(f"{where}/api/pricing: {exc.message}") from exc
    except CatalogFetchError as exc:
        raise CatalogFetchError(f"{where}/api/pricing: {exc}") from exc
    cut = max(0, len(_pricing_rows(pricing)) - MAX_ROWS)
    notes: list[str] = []
    try:
        status = parse_status(await get("/api/status", public=True))
        if not status:  # (a 200 with {"success": false, …} or another body: the site's rates are unknown)
            notes.append("/api/status: its answer held no quota_per_unit or price")
    except TokenhotError as exc:
        status = {}
        notes.append(f"/api/status: {exc.message}")
    key_models: list[dict[str, Any]] | None = None
    if with_key:
        try:
            key_models = parse_models(await get("/v1/models", public=False))
        except (TokenhotError, CatalogFetchError) as exc:
            notes.append(f"/v1/models: {getattr(exc, 'message', exc)}")
    return LiveTable(base_url=where, fetched_at=time.time(), rows=rows, status=status, vendors=vendors,
                     key_models=key_models, notes=notes, group_ratio=parse_groups(pricing), cut=cut)


def patched(new: LiveTable, old: LiveTable | None) -> LiveTable:
    """``new`` with what its read lacked (the status, the key's list: a limiter turned them away) taken from
    ``old``, the last table of the same service: a refresh that got the prices keeps the site's rate and the key's
    list it had, rather than ¥ at Tokenhot's rate and no list."""
    if old is None or old.base_url != new.base_url:
        return new
    notes, status, key_models = list(new.notes), new.status, new.key_models
    if not status and old.status:
        status, notes = old.status, [n for n in notes if not n.startswith("/api/status")]
    if key_models is None and old.key_models is not None and any(n.startswith("/v1/models") for n in notes):
        key_models, notes = old.key_models, [n for n in notes if not n.startswith("/v1/models")]
    return replace(new, status=status, key_models=key_models, notes=notes)


# ----------------------------------------------------------------------------- the disk cache


def service_url(base_url: str) -> str:
    """Where a table came from, as messages show it and the cache keeps it: scheme, host, port and path, never
    the user info, query or fragment (a key may be there: ``?key=`` is how Gemini's own API takes one)."""
    try:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "the service"
    host = f"[{host}]" if ":" in host else host
    return redact(urlunsplit((parts.scheme, f"{host}:{port}" if port else host, parts.path, "", "")))


def cache_path(store: Path, base_url: str) -> Path:
    """``<store>/catalog/<host>-<hash>.json``: one file per service, beside the history (named by the service's
    host and path only; the hash tells apart services that differ elsewhere in the URL)."""
    shown = service_url(base_url)
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", shown.split("://", 1)[-1])[:60].strip("_") or "service"
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:10]
    return Path(store) / "catalog" / f"{host}-{digest}.json"


def load_cache(path: Path) -> LiveTable | None:
    try:
        with open(path, encoding="utf-8") as f:
            return LiveTable.from_json(json.load(f))
    except (OSError, ValueError):
        return None


def save_cache(path: Path, table: LiveTable) -> None:
    """Write atomically (temp file + replace), so a reader never sees half a table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, prefix=".catalog-", suffix=".tmp") as (fd, _), os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(table.to_json(), f, ensure_ascii=False)


# ----------------------------------------------------------------------------- the merge


def _live_meta(row: Mapping[str, Any], table: LiveTable, for_key: bool | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "tags": words(row.get("tags")),
        "endpoint_types": words(row.get("supported_endpoint_types")),
        "input_modalities": words(row.get("input_modalities")),
        "output_modalities": words(row.get("output_modalities")),
    }
    if row.get("context_length") is not None:
        meta["context_length"] = row["context_length"]
    if row.get("vendor_id") is not None and str(row["vendor_id"]) in table.vendors:
        meta["vendor"] = table.vendors[str(row["vendor_id"])]
    if for_key is not None:
        meta["for_key"] = for_key
    return {k: v for k, v in meta.items() if v not in ([], None, "")}


_PRICE_CELLS = ("quota_type", "model_ratio", "completion_ratio", "model_price", "cache_ratio", "create_cache_ratio",
                "billing_mode", "billing_expr")


def _price_cells(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get(k) for k in _PRICE_CELLS)


def group_of(table: LiveTable | None, group: str) -> tuple[str, float]:
    """(group, ratio) the table's prices are multiplied by for a key of ``group`` ("": the service's
    ``default``); ("", 1.0) when the table states no ratio for it."""
    name = group or "default"
    if table is None or name not in table.group_ratio:
        return "", 1.0
    return name, table.group_ratio[name]


def merge(builtin: Catalog, table: LiveTable | None, group: str = "") -> Catalog:
    """The built-in catalogue ⊕ the live table (see the module docstring); ``table`` None → built-in only.

    Prices are the key's ``group``'s: the table's × its ``group_ratio`` (:func:`group_of`).

    One model is one entry, however many spellings the service has for it: an id the key may call that is a
    ``.``/``-`` variant of a price-table row (§10.1: the table writes ``doubao-seedance-2-0``, the docs and the key's
    list ``doubao-seedance-2.0``) joins that row as an alias. The id sent is the built-in one when the service lists
    it (the docs' spelling, which calls recorded before the table was read used too), else the table's.
    """
    if table is None:
        return builtin
    key_ids: set[str] | None = None if table.key_models is None else {r["model_name"] for r in table.key_models}
    rows: dict[str, dict[str, Any]] = {}
    clashing: set[str] = set()  # ids the table prices twice, differently: which one the relay bills is unknown
    for r in table.rows:
        first = rows.setdefault(r["model_name"], r)
        if first is not r and _price_cells(first) != _price_cells(r):
            clashing.add(r["model_name"])
    priced = set(rows) - clashing
    priced_by_variant: dict[str, str] = {}
    for mid in rows:
        priced_by_variant.setdefault(_loose(mid), mid)
    spellings: dict[str, list[str]] = {mid: [mid] for mid in rows}  # price-table id → every id it goes by
    for r in table.key_models or ():
        mid = r["model_name"]
        if mid in rows:
            continue
        owner = priced_by_variant.get(_loose(mid))
        if owner is not None:  # the key's spelling of a priced model: the same entry
            if mid not in spellings[owner]:
                spellings[owner].append(mid)
                rows[owner] = {**r, **rows[owner]}
        else:  # a model the key may call but the price table does not show
            rows.setdefault(mid, r)
            spellings.setdefault(mid, [mid])

    group, ratio = group_of(table, group)
    entries: dict[str, ModelInfo] = dict(builtin.by_id)
    extra: list[ModelInfo] = []
    unclassified: list[Unclassified] = []
    taken: set[str] = set()  # built-in ids already matched by a live row
    for mid, row in rows.items():
        names = spellings[mid]
        price = Price.from_row(row, table.status) if mid in priced and Price.stated(row) else None
        if price is not None and group:
            price = replace(price, group=group, group_ratio=ratio)
        meta = _live_meta(row, table, None if key_ids is None else any(n in key_ids for n in names))
        if mid in clashing:  # (its price is unknown: said so where its cost is, see cost.PRICED_TWICE)
            meta["priced_twice"] = True
        known = next((builtin.by_id[n] for n in names if n in builtin.by_id), None) or builtin.find(mid)
        if known is not None and (known.id in names or (known.id not in rows and known.id not in taken)):
            # the same model: the built-in id when the service lists it, else the service's; the others are aliases
            sent = known.id if known.id in names else mid
            aliases = tuple(dict.fromkeys(a for a in (*known.aliases, known.id, *names)
                                          if a != sent and a not in known.display_names))
            entries[known.id] = replace(known, id=sent, aliases=aliases, source="both", price=price, live=meta)
            taken.add(known.id)
            continue
        others = tuple(n for n in names if n != mid)
        if known is not None:  # another id for a known model (e.g. a second name): same family and options
            extra.append(replace(known, id=mid, display_names=(), aliases=others, source="live", price=price,
                                 live=meta, notes=f"In the service's table; options as {known.id}."))
            continue
        verdict = classify(row, builtin.families)
        if verdict.family is None:
            unclassified.append(Unclassified(mid, verdict.seen, price))
            continue
        derived = builtin.derive(mid, verdict.family)  # a variant of a listed model takes its options
        extra.append(replace(
            derived, aliases=others, vendor=str(meta.get("vendor") or derived.vendor), source="live", price=price,
            live=meta, notes=" ".join(filter(None, (
                f"Only in the service's table; family {verdict.family} from {verdict.seen}.", derived.notes))),
        ))
    merged = Catalog([*entries.values(), *extra], builtin.families, unclassified)
    return merged
