"""The model catalogue: which model is which kind, speaks which protocol family and takes which options.

All built-in model knowledge is data in :mod:`tokenhot_nb._catalog_data`; this module only looks it up.
Adding a model that fits an existing family is one entry there, not new code. A :class:`Catalog` is one
lookup table; :func:`builtin` is the seed menu's, and a session merges it with the service's live price
table (:mod:`tokenhot_nb._catalog_live`), so a model the service adds tomorrow resolves too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

from ._catalog_classify import family_hint, id_words, variant_base
from ._suggest import did_you_mean, nearest, phrase
from .errors import InputError, UnknownModelError

Kind = Literal["image", "video", "audio", "chat", "embed", "rerank"]
KINDS: tuple[str, ...] = ("image", "video", "audio", "chat", "embed", "rerank")
Source = Literal["built-in", "live", "both"]

#: Tokenhot's ``/api/status`` ``quota_per_unit``: 500,000 quota = 1 USD.
QUOTA_PER_USD = 500_000.0


def _num(value: Any, default: float | None = None) -> float | None:
    """A number from a price-table cell (numbers, numeric strings); anything else → ``default``."""
    if isinstance(value, bool):
        return default
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def _positive(value: Any, low: float = 0.0, high: float = math.inf) -> float | None:
    """A status figure that divides or multiplies money (``quota_per_unit``, ``price``): finite, above 0 and, when
    bounds are given, within them."""
    out = _num(value)
    return out if out is not None and out > 0 and low <= out <= high else None


#: The most display units (¥ on Tokenhot: 7) a site can sell for one USD: a ``price`` above it is no currency's
#: rate (1e308 showed every amount as ¥inf or a 300-digit figure) and reads as not stated.
MAX_TOP_UP_RATE = 1e6
#: Bounds of a ``quota_per_unit`` that is one (new-api: 500,000 quota = 1 USD; quota is counted in whole units):
#: below 1, a video's ``data.quota`` turned into $inf.
QUOTA_PER_USD_RANGE = (1.0, 1e12)
#: The dearest price read as one: USD per 1M tokens (output included) or per call. A row above it (``model_ratio``
#: 1e300) is no price: such a model is at an unknown price, never budgeted at a 300-digit figure.
MAX_PRICE_USD = 1e6


def top_up_rate(status: Mapping[str, Any]) -> float | None:
    """``/api/status`` ``price``, the site's display units per USD (¥7 on Tokenhot), when it is one: every ¥ figure
    (costs, a ¥ budget) is read with this one rate."""
    return _positive(status.get("price"), high=MAX_TOP_UP_RATE)


#: The ratio cells of a per-token row that, when present, must be ratios (see :meth:`Price.stated`).
_RATIO_CELLS = ("completion_ratio", "cache_ratio", "create_cache_ratio")
#: ``billing_mode`` values whose price is the row's cells (QuantumNous/new-api ``setting/billing_setting``:
#: ``ratio``, the default; ``tiered_expr`` bills by ``billing_expr``).
_RATIO_MODES = frozenset({"", "ratio"})


@dataclass(frozen=True)
class Price:
    """One model's row of the service's price table (``GET /api/pricing``), in the service's own units.

    ``quota_type`` 0 bills per token: USD per 1M input tokens = ``model_ratio × 2``, output = input ×
    ``completion_ratio``. ``quota_type`` 1 bills ``model_price`` USD per call. Video tasks report what they
    really cost as quota (``data.quota``); :meth:`usd` turns quota into USD with ``/api/status``'s
    ``quota_per_unit``.
    """

    quota_type: int = 0
    model_ratio: float = 0.0
    completion_ratio: float = 1.0
    model_price: float = 0.0
    cache_ratio: float | None = None
    #: Prompt-cache writes × this (new-api's ``create_cache_ratio``, QuantumNous/new-api ``model/pricing.go``); the
    #: table shows it only where it is set, and new-api then bills 1.25 (:data:`tokenhot_nb.cost.CREATE_CACHE_RATIO`).
    create_cache_ratio: float | None = None
    image_ratio: float | None = None
    audio_ratio: float | None = None
    quota_per_unit: float = QUOTA_PER_USD
    #: The site's top-up rate from ``/api/status`` ``price`` (7 = ¥7 per USD on Tokenhot), when known.
    top_up_rate: float | None = None
    billing_mode: str = ""
    billing_expr: str = ""
    groups: tuple[str, ...] = ()
    #: The key's group on the service (new-api's 分组, ``price_group``) and its ratio from the table's
    #: ``group_ratio``: new-api multiplies every charge of the group's keys by it ("" and 1: none stated).
    group: str = ""
    group_ratio: float = 1.0

    @staticmethod
    def stated(row: Mapping[str, Any]) -> bool:
        """Whether a ``/api/pricing`` row names its price: ``model_price`` for a per-call row, ``model_ratio`` for
        a per-token one. A row without it is a model at an unknown price, never a free one; so is a row of a
        billing this client does not reckon (``quota_type`` other than 0 or 1, a ``billing_mode`` other than
        ``ratio``, e.g. new-api's expression-priced ``tiered_expr``), or one whose ratios are no
        price (negative, NaN, text): priced anyway, it would show (and budget) a wrong amount as if right."""
        quota_type = _num(row.get("quota_type"), 0.0) if row.get("quota_type") is not None else 0.0
        if quota_type not in (0.0, 1.0) or str(row.get("billing_mode") or "").strip().lower() not in _RATIO_MODES:
            return False  # (new-api's ``tiered_expr`` bills by an expression, not by these cells)
        value = _num(row.get("model_price" if quota_type else "model_ratio"))
        if value is None or value < 0:
            return False
        top = value * 2.0
        for cell in _RATIO_CELLS:  # (absent: new-api's default; present, it must be a ratio)
            ratio = _num(row[cell], -1.0) if row.get(cell) is not None else 1.0
            if ratio is None or ratio < 0:
                return False
            top *= max(ratio, 1.0)
        return top <= MAX_PRICE_USD  # (nor is one no service charges, or that overflows: inf, NaN)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], status: Mapping[str, Any] | None = None) -> Price:
        """Read a ``/api/pricing`` row (tolerant: strings, missing cells) and ``/api/status`` ``data``."""
        status = status or {}
        groups = row.get("enable_groups") or ()
        if isinstance(groups, str):
            groups = [g.strip() for g in groups.split(",") if g.strip()]
        qt = _num(row.get("quota_type")) or 0.0
        return cls(
            quota_type=1 if qt >= 1 else 0,
            model_ratio=_num(row.get("model_ratio")) or 0.0,
            completion_ratio=_num(row.get("completion_ratio"), 1.0) or 0.0,
            model_price=_num(row.get("model_price")) or 0.0,
            cache_ratio=_num(row.get("cache_ratio")),
            create_cache_ratio=_num(row.get("create_cache_ratio")),
            image_ratio=_num(row.get("image_ratio")),
            audio_ratio=_num(row.get("audio_ratio")),
            quota_per_unit=_positive(status.get("quota_per_unit"), *QUOTA_PER_USD_RANGE) or QUOTA_PER_USD,
            top_up_rate=top_up_rate(status),  # (0 or less is no rate: ¥ amounts would be 0 or negative)
            billing_mode=str(row.get("billing_mode") or ""),
            billing_expr=str(row.get("billing_expr") or ""),
            groups=tuple(str(g) for g in groups if isinstance(g, (str, int))),
        )

    @property
    def per_call(self) -> bool:
        return self.quota_type == 1

    @property
    def input_usd_per_million(self) -> float:
        """USD per 1M input tokens (per-token models), for the key's group."""
        return self.model_ratio * 2.0 * self.group_ratio

    @property
    def output_usd_per_million(self) -> float:
        """USD per 1M output tokens (per-token models), for the key's group."""
        return self.model_ratio * 2.0 * self.completion_ratio * self.group_ratio

    @property
    def call_usd(self) -> float:
        """USD per call (per-call models), for the key's group."""
        return self.model_price * self.group_ratio

    @property
    def group_note(self) -> str:
        """`` (group vip ×0.9)`` when the key's group changes the table's prices, else ""."""
        return f" (group {self.group} ×{self.group_ratio:g})" if self.group and self.group_ratio != 1 else ""

    def usd(self, quota: float) -> float:
        """Quota (what the service charges, e.g. a video task's ``data.quota``) in USD."""
        return quota / self.quota_per_unit if self.quota_per_unit else 0.0

    def describe(self, kind: str | None = None) -> str:
        """A short human label: ``$2.50/M in · $10.00/M out``, ``$0.05/M in`` (embeddings), ``$0.028/call`` or
        ``per task`` (video)."""
        if not self.group_ratio > 0:  # (not "free": see cost._zero_group)
            return f"unknown (group {self.group or 'default'} ×0)"
        if self.per_call:
            return f"${self.call_usd:g}/call{self.group_note}"
        if kind == "video":
            return "per task (charged as the task's quota)"
        if self.model_ratio == 0:
            return "free"
        from .cost import INPUT_ONLY

        if kind in INPUT_ONLY:  # embeddings, rerank: billed for what goes in, nothing comes out as tokens
            return f"${self.input_usd_per_million:.4g}/M in{self.group_note}"
        return (f"${self.input_usd_per_million:.4g}/M in · ${self.output_usd_per_million:.4g}/M out"
                f"{self.group_note}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "quota_type": self.quota_type, "model_ratio": self.model_ratio,
            "completion_ratio": self.completion_ratio, "model_price": self.model_price,
            "cache_ratio": self.cache_ratio, "create_cache_ratio": self.create_cache_ratio,
            "image_ratio": self.image_ratio, "audio_ratio": self.audio_ratio,
            "quota_per_unit": self.quota_per_unit, "top_up_rate": self.top_up_rate,
            "billing_mode": self.billing_mode, "billing_expr": self.billing_expr, "groups": list(self.groups),
            "group": self.group, "group_ratio": self.group_ratio,
        }


@dataclass(frozen=True)
class ModelInfo:
    """One model. ``endpoints[0]`` is the default endpoint; ``capabilities`` drive options and widgets.

    ``source`` says where the entry comes from: ``built-in`` (the seed menu shipped with tokenhot_nb),
    ``live`` (only the service's price table knows it) or ``both``; ``price`` is its price-table row, when
    the service's table was read.
    """

    id: str
    kind: Kind
    family: str
    endpoints: tuple[str, ...]
    display_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    capabilities: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    defaults: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    vendor: str = ""
    notes: str = ""
    listed: bool = True  # False for models built on the fly from a family name
    #: Options the name it was called by selects: a menu entry such as "GPT 5(Responses)" names an endpoint
    #: (the family's ``name_options`` say which); the session uses them unless the call sets them itself.
    preset: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    source: Source = field(default="built-in", compare=False)
    price: Price | None = field(default=None, compare=False)
    #: What the live table says beyond the price (tags, endpoint types, modalities, context length…).
    live: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def ref(self) -> str | dict[str, str]:
        """How a call records this model: the id, or id + family when the built-in catalogue does not list it.

        A live-only model records its family too, so the history entry replays, reruns and turns into code
        anywhere, even where the service's table was never read.
        """
        if self.listed and self.source != "live":
            return self.id
        return {"id": self.id, "family": self.family}

    @property
    def name(self) -> str:
        return self.display_names[0] if self.display_names else self.id

    def can(self, capability: str) -> bool:
        return bool(self.capabilities.get(capability))

    def choices(self, option: str) -> list[Any]:
        """Allowed values for an option (``sizes``, ``durations``, ``voices``…), empty when free-form."""
        return list(self.capabilities.get(option) or [])

    def price_label(self) -> str:
        """``$0.028/call``, ``$2.5/M in · $10/M out``… or ``""`` when the price table was not read."""
        return self.price.describe(self.kind) if self.price is not None else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "family": self.family,
            "vendor": self.vendor,
            "endpoints": list(self.endpoints),
            "aliases": list(self.display_names + self.aliases),
            "capabilities": dict(self.capabilities),
            "defaults": dict(self.defaults),
            "source": self.source,
            "price": self.price.as_dict() if self.price is not None else None,
        }

    def _repr_html_(self) -> str:
        from html import escape

        caps = ", ".join(f"{k}={v}" for k, v in self.capabilities.items() if v)
        price = f" · {escape(self.price_label())}" if self.price is not None else ""
        return (
            f"<b>{escape(self.id)}</b> <i>{escape(self.kind)}</i> · family <code>{escape(self.family)}</code>"
            f" · endpoints {escape(', '.join(self.endpoints))} · {escape(self.source)}{price}"
            f"<br><small>{escape(caps)}</small>"
        )


_SUFFIX = re.compile(r"[（(](.*?)[)）]")


def _preset(name: str, family: Mapping[str, Any]) -> dict[str, Any]:
    """What a menu suffix like '(Responses)' or '(音频翻译)' selects, from the family's ``name_options``."""
    options: Mapping[str, Any] = family.get("name_options") or {}
    out: dict[str, Any] = {}
    for label in _SUFFIX.findall(name):
        for key, chosen in options.items():
            if key.lower() == label.strip().lower():
                out.update(chosen)
    return out


def _check_name(name: object) -> None:
    """A model is named by a non-empty str, a ModelInfo, or the ``{"id": …, "family": …}`` a history row keeps:
    anything else is one line here, not an AttributeError or KeyError from the lookup."""
    if isinstance(name, Mapping):
        if not isinstance(name.get("id"), str) or not name["id"].strip():
            raise InputError(f"A model given as a dict needs its 'id' (a str); this one has keys "
                             f"{sorted(map(str, name))}.", hint="Pass the name: model='gpt-5.2', or {'id': 'new-model', 'family': 'openai-chat'}.")
        return
    if isinstance(name, str) and not name.strip():
        raise InputError("The model name is empty.", hint="Name a model; tokenhot_nb.models() lists them.")
    if not isinstance(name, (str, ModelInfo)):
        raise InputError(f"A model is named by a str, not {type(name).__name__} ({name!r:.40}).",
                         hint="e.g. model='gpt-5.2'; tokenhot_nb.models() lists them.")


_NORMS: dict[str, str] = {}
""":func:`_norm` of the names met so far (a call resolves its model's name: two regex passes, ~1 µs, each time)."""


def _norm(name: str) -> str:
    """Fold a display name or id to a lookup key: 'GPT Image-2' and 'gpt-image-2' meet."""
    key = _NORMS.get(name)
    if key is None:
        key = _fold(name)
        if len(name) <= 256:  # (a name of a megabyte is folded, not kept)
            if len(_NORMS) >= 4096:
                _NORMS.clear()
            _NORMS[name] = key
    return key


def _fold(name: str) -> str:
    s = name.strip().lower()
    s = re.sub(r"[（(].*?[)）]", "", s)  # '(图片编辑)', '(Responses)', '(流式)'
    s = re.sub(r"[\s_]+", "-", s)
    return s.strip("-")


def _loose(name: str) -> str:
    """A second, looser key: '.' and '-' are the same ('doubao-seedance-2.0' ≡ 'doubao-seedance-2-0')."""
    return _norm(name).replace(".", "-")


@dataclass(frozen=True)
class Unclassified:
    """A model the service lists whose protocol tokenhot_nb cannot tell: what was seen, to say so clearly."""

    id: str
    seen: str
    price: Price | None = None


class UnclassifiedModelError(UnknownModelError):
    """The service sells the model, but nothing says which protocol family it speaks."""

    def __init__(self, item: Unclassified, kind: str | None = None) -> None:
        from .errors import TokenhotError

        self.name = item.id
        self.suggestions = []
        self.kind = kind
        example = {"image": "openai-image", "video": "seedance", "audio": "openai-tts",
                   "embed": "openai-embeddings", "rerank": "jina-rerank"}.get(kind or "", "openai-chat")
        TokenhotError.__init__(
            self,
            f"The service lists {item.id!r} but tokenhot_nb cannot tell which protocol it speaks "
            f"(it saw {item.seen}).",
            hint=f"If you know its family, name it: session.model({item.id!r}, family={example!r}) and pass "
            "that as model=… (families: tokenhot_nb.catalog.families()).",
        )


class UnknownFamilyError(InputError):
    """``family=`` names no protocol family; ``suggestions`` are the closest family names (never model ids)."""

    def __init__(self, family: Any, suggestions: list[str]) -> None:
        self.family = family
        self.suggestions = suggestions
        super().__init__(f"There is no model family {str(family)!r:.60}." + phrase(suggestions),
                         hint="tokenhot_nb.catalog.families() lists them (e.g. 'openai-chat').")


class Catalog:
    """One lookup table of models: ids, display names, aliases and ``.``/``-`` variants → :class:`ModelInfo`."""

    def __init__(self, entries: Iterable[ModelInfo], families: Mapping[str, Mapping[str, Any]],
                 unclassified: Iterable[Unclassified] = ()) -> None:
        self.families = families
        self.by_id: dict[str, ModelInfo] = {}
        for info in entries:
            self.by_id.setdefault(info.id, info)
        self.unclassified: dict[str, Unclassified] = {}
        for u in unclassified:
            self.unclassified.setdefault(u.id, u)
        # exact ids first, then display names and aliases, then the loose '.'/'-' variants of all of them
        self.index: dict[str, str] = {}
        for info in self.by_id.values():
            self.index.setdefault(_norm(info.id), info.id)
        for info in self.by_id.values():
            for key in (*info.display_names, *info.aliases):
                self.index.setdefault(_norm(key), info.id)
        self.loose: dict[str, str] = {}
        for norm_key, mid in self.index.items():
            self.loose.setdefault(norm_key.replace(".", "-"), mid)
        self._variant_names: dict[str, dict[str, str]] = {}  # family → its listed names (loose) → id

    def __len__(self) -> int:
        return len(self.by_id)

    def find(self, name: str) -> ModelInfo | None:
        """The entry a name means (id, display name, alias or a ``.``/``-`` variant of one), or None."""
        key = self.index.get(_norm(name))
        if key is None:
            key = self.loose.get(_loose(name))
        return self.by_id.get(key) if key is not None else None

    def find_unclassified(self, name: str) -> Unclassified | None:
        want = _loose(name)
        return next((u for u in self.unclassified.values() if _loose(u.id) == want), None)

    def models(self, kind: str | None = None, family: str | None = None,
               source: str | None = None) -> list[ModelInfo]:
        """Every listed model, optionally only one kind, family or source, in catalogue order."""
        return [m for m in self.by_id.values() if (kind is None or m.kind == kind)
                and (family is None or m.family == family)
                and (source is None or m.source == source or (source != "live" and m.source == "both"))]

    def model(self, name: str | ModelInfo | Mapping[str, str], kind: str | None = None,
              family: str | None = None) -> ModelInfo:
        """Resolve an id, display name or alias. ``family=`` lets you call a model the catalogue does not list.

        ``{"id": …, "family": …}`` is the same as ``model(id, family=…)``: the JSON-safe form a history entry
        records for an unlisted or live-only model, so its ``to_code()`` still runs.
        """
        if family is not None:  # checked even when the name is listed (and wins): a typo is said, not ignored
            self.check_family(family)
        _check_name(name)
        return self._model(name, kind, family)

    def _model(self, name: str | ModelInfo | Mapping[str, str], kind: str | None, family: str | None) -> ModelInfo:
        """:meth:`model` without checking ``family``: a recorded row's family that is gone is no error while its
        id is still listed."""
        if isinstance(name, ModelInfo):
            return name
        if isinstance(name, Mapping):
            _check_name(name)
            return self._model(str(name["id"]), kind, family or name.get("family"))
        info = self.find(name)
        if info is not None and (kind is None or info.kind == kind) and (
                family is None or family == info.family or info.source != "live"):
            preset = _preset(name, self.families[info.family])
            return replace(info, preset=preset) if preset else info
        if family is not None:
            return self.unlisted(name, family, kind, price=info.price if info is not None else None)
        unknown = self.find_unclassified(name)
        if unknown is not None:
            raise UnclassifiedModelError(unknown, kind)
        raise UnknownModelError(name, self.suggest(name, kind), kind, family=self.family_for(name, kind))

    def unlisted(self, name: str, family: str, kind: str | None = None, price: Price | None = None) -> ModelInfo:
        """A model the catalogue does not list, built as :meth:`derive` says."""
        self.check_family(family)
        if price is None:
            u = self.find_unclassified(name)
            price = u.price if u is not None else None
        return replace(self.derive(name, family), listed=False, price=price)

    def derive(self, name: str, family: str) -> ModelInfo:
        """A model of ``family`` the catalogue does not list: the options of the listed model of that family it
        varies (``doubao-seedance-2-0-filter-off`` → ``doubao-seedance-2.0``), else the family's, changed by the
        words of its id (``edit``, ``i2v``…). The rules are data (``_catalog_data.LIVE_VARIANT_OF`` /
        ``LIVE_ID_WORDS``), so a recorded live-only model rebuilds with the same options where no table was read.
        """
        spec = self.families[family]
        kind = str(spec["kind"])
        names = self._variant_names.get(family)
        if names is None:  # once per family: the merge derives every live-only row
            names = self._variant_names[family] = {
                key: mid for key, mid in self.loose.items()
                if self.by_id[mid].family == family and self.by_id[mid].source != "live"}
        base_id, rest = variant_base(name, names)
        word_base, overlays = id_words(rest, kind, family)
        base = self.find(word_base or base_id or "") if (word_base or base_id) else None
        if base is not None and (base.family != family or base.source == "live"):
            base = None
        caps = dict(base.capabilities if base is not None else spec.get("capabilities", {}))
        defaults = dict(base.defaults if base is not None else spec.get("defaults", {}))
        defaults.pop("default_for_kind", None)  # a variant never becomes its kind's default
        for overlay in overlays:
            _add_implied(caps, overlay.get("capabilities", {}))
            defaults.update(overlay.get("defaults", {}))
        return ModelInfo(
            id=name.strip(), kind=spec["kind"], family=family,
            endpoints=base.endpoints if base is not None else tuple(spec["endpoints"]),
            capabilities=caps, defaults=defaults,
            vendor=base.vendor if base is not None else spec.get("vendor", ""),
            notes=f"Options as {base.id}, the model it varies." if base is not None else "",
        )

    def family_for(self, name: str, kind: str | None = None) -> str | None:
        """The family a name the catalogue does not list most likely speaks, by the rules :meth:`derive` uses: the
        listed model it varies (``LIVE_VARIANT_OF``, else the longest listed id or alias it extends), else its id
        prefix (``doubao-seedance-…`` → seedance, ``qwen-image-…`` → qwen-image). None: nothing in it says."""
        names = {key: mid for key, mid in self.loose.items() if self.by_id[mid].source != "live"
                 and (kind is None or self.by_id[mid].kind == kind)}
        base_id, _ = variant_base(name, names)
        base = self.by_id.get(base_id) if base_id is not None else None
        if base is not None and (kind is None or base.kind == kind):
            return base.family
        return family_hint(name, kind, self.families)

    def check_family(self, family: Any) -> None:
        """Refuse a family name the catalogue does not know, suggesting the (at most 3) closest family names."""
        if isinstance(family, str) and family in self.families:
            return
        raise UnknownFamilyError(family, nearest(family, self.families, n=3, cutoff=0.4))

    def suggest(self, name: str, kind: str | None = None, n: int = 3) -> list[str]:
        """The closest catalogue ids to a mistyped name (``n`` different models when that many are close)."""
        pool = {k: v for k, v in self.index.items() if kind is None or self.by_id[v].kind == kind}
        if not pool:
            return []
        # every close name, closest first: one model's many names (id, display names, aliases) must not
        # crowd the other close models out of the first n
        typed = _norm(name)  # (once: a name of a megabyte, normalised again for each of hundreds of ids, took 20 s)
        hits = nearest(typed, pool, n=len(pool), cutoff=0.45)
        seen: list[str] = []
        for h in hits:
            if pool[h] not in seen:
                seen.append(pool[h])
        if not seen:  # substring fallback: 'seedream' → all seedream models
            seen = list(dict.fromkeys(v for k, v in pool.items() if typed in k))  # each model once
        return seen[:n]

    def default_model(self, kind: str) -> ModelInfo:
        """The suggested model for a kind (the first one flagged ``default``)."""
        for m in self.models(kind):
            if m.defaults.get("default_for_kind"):
                return m
        return self.models(kind)[0]

    def with_price(self, info: ModelInfo) -> ModelInfo:
        """``info`` with this catalogue's price row when it has one for the same id (unlisted models too)."""
        if info.price is not None:
            return info
        known = self.by_id.get(info.id)
        return replace(info, price=known.price) if known is not None and known.price is not None else info


def _add_implied(caps: dict[str, Any], implied: Mapping[str, Any]) -> None:
    """Lay an id word's capabilities over the ones a variant took from its parent, adding only what the word
    implies: a count is a floor (``r2v``'s 9 references never lower Seedance 2.5's 30), a flag the parent set
    stays set; a list or a name is what the word says the model takes (``fast``: 480p and 720p, §10.2)."""
    for name, value in implied.items():
        had = caps.get(name)
        if isinstance(value, bool) or isinstance(had, bool):
            caps[name] = bool(had) or bool(value)
        elif isinstance(value, (int, float)) and isinstance(had, (int, float)):
            caps[name] = max(had, value)
        else:
            caps[name] = value


def from_spec(entry: Mapping[str, Any], families: Mapping[str, Mapping[str, Any]]) -> ModelInfo:
    """A :class:`ModelInfo` from one ``MODELS`` entry: the family's capabilities and defaults, then the entry's."""
    fam = families[entry["family"]]
    return ModelInfo(
        id=entry["id"],
        kind=fam["kind"],
        family=entry["family"],
        endpoints=tuple(entry.get("endpoints") or fam["endpoints"]),
        display_names=tuple(entry.get("display_names", ())),
        aliases=tuple(entry.get("aliases", ())),
        capabilities={**fam.get("capabilities", {}), **entry.get("capabilities", {})},
        defaults={**fam.get("defaults", {}), **entry.get("defaults", {})},
        vendor=entry.get("vendor", fam.get("vendor", "")),
        notes=entry.get("notes", ""),
    )


class ModelList(list[ModelInfo]):
    """Models as a list that shows itself as a table (source and price included) in a notebook.

    ``unclassified`` are the rows the service lists whose protocol tokenhot_nb cannot tell; ``note`` says
    where the table came from.
    """

    def __init__(self, items: Iterable[ModelInfo] = (), *, unclassified: Iterable[Unclassified] = (),
                 note: str = "") -> None:
        super().__init__(items)
        self.unclassified = list(unclassified)
        self.note = note

    def table(self, filter_text: str | None = None) -> Any:
        from .magics._tables import models_table

        return models_table(filter_text, models=self, unclassified=self.unclassified, note=self.note)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        # IPython applies include/exclude to the bundle itself; the table's bundle is two entries
        return self.table()._repr_mimebundle_()  # type: ignore[no-any-return]

    # A terminal (IPython's text view, print) shows the table too, not tens of KB of ModelInfo reprs
    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))

    def __str__(self) -> str:
        return str(self.table().text())

    def __repr__(self) -> str:
        odd = f" (+{len(self.unclassified)} of unknown protocol)" if self.unclassified else ""
        return f"<ModelList: {len(self)} models{odd}; print() it for the table, list() for the ModelInfo objects>"


@lru_cache(maxsize=1)
def builtin() -> Catalog:
    """The built-in catalogue: the seed menu, always there, offline included."""
    from ._catalog_data import FAMILIES, MODELS

    return Catalog([from_spec(entry, FAMILIES) for entry in MODELS], FAMILIES)


def check_kind(kind: Any) -> None:
    """``models("imgae")`` listed nothing, as if the service had no image model."""
    if kind is not None and kind not in KINDS:
        raise InputError(f"There is no model kind {kind!r}." + did_you_mean(kind, KINDS),
                         hint=f"The kinds are: {', '.join(KINDS)}.")


def models(kind: str | None = None, family: str | None = None) -> ModelList:
    """Every built-in model, optionally only one kind or family, in catalogue order: a list that shows itself
    as a table (hints say "tokenhot_nb.models() lists them"; a plain list showed tens of KB of reprs).

    A session's ``models()`` answers for its service: these plus what the service's live table lists.
    """
    check_kind(kind)
    if family is not None:
        builtin().check_family(family)
    return ModelList(builtin().models(kind, family), note="built into tokenhot_nb; session.models() adds the service's")


def families() -> dict[str, str]:
    """Family name → kind, for calling unlisted models."""
    return {name: spec["kind"] for name, spec in builtin().families.items()}


def model(name: str | ModelInfo | Mapping[str, str], kind: str | None = None, family: str | None = None) -> ModelInfo:
    """Resolve an id, display name or alias in the built-in catalogue (see :meth:`Catalog.model`)."""
    check_kind(kind)
    return builtin().model(name, kind, family)


def suggest(name: str, kind: str | None = None, n: int = 3) -> list[str]:
    """The closest built-in ids to a mistyped name."""
    return builtin().suggest(name, kind, n)


def default_model(kind: str) -> ModelInfo:
    """The built-in catalogue's suggested model for a kind (the first one flagged ``default``)."""
    return builtin().default_model(kind)
