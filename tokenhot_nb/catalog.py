"""The model catalogue: which model is which kind, speaks which protocol family and takes which options.

All model knowledge is data in :mod:`tokenhot_nb._catalog_data`; this module only looks it up.
Adding a model that fits an existing family is one entry there, not new code.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from .errors import UnknownModelError

Kind = Literal["image", "video", "audio", "chat"]
KINDS: tuple[str, ...] = ("image", "video", "audio", "chat")


@dataclass(frozen=True)
class ModelInfo:
    """One model. ``endpoints[0]`` is the default endpoint; ``capabilities`` drive options and widgets."""

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

    @property
    def ref(self) -> str | dict[str, str]:
        """How a call records this model: the id, or id + family for a model the catalogue does not list."""
        return self.id if self.listed else {"id": self.id, "family": self.family}

    @property
    def name(self) -> str:
        return self.display_names[0] if self.display_names else self.id

    def can(self, capability: str) -> bool:
        return bool(self.capabilities.get(capability))

    def choices(self, option: str) -> list[Any]:
        """Allowed values for an option (``sizes``, ``durations``, ``voices``…), empty when free-form."""
        return list(self.capabilities.get(option) or [])

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
        }

    def _repr_html_(self) -> str:
        from html import escape

        caps = ", ".join(f"{k}={v}" for k, v in self.capabilities.items() if v)
        return (
            f"<b>{escape(self.id)}</b> <i>{escape(self.kind)}</i> · family <code>{escape(self.family)}</code>"
            f" · endpoints {escape(', '.join(self.endpoints))}<br><small>{escape(caps)}</small>"
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


def _norm(name: str) -> str:
    """Fold a display name or id to a lookup key: 'GPT Image-2' and 'gpt-image-2' meet."""
    s = name.strip().lower()
    s = re.sub(r"[（(].*?[)）]", "", s)  # '(图片编辑)', '(Responses)', '(流式)'
    s = re.sub(r"[\s_]+", "-", s)
    return s.strip("-")


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, ModelInfo], dict[str, str], dict[str, dict[str, Any]]]:
    from ._catalog_data import FAMILIES, MODELS

    by_id: dict[str, ModelInfo] = {}
    index: dict[str, str] = {}
    for entry in MODELS:
        fam = FAMILIES[entry["family"]]
        caps = {**fam.get("capabilities", {}), **entry.get("capabilities", {})}
        defaults = {**fam.get("defaults", {}), **entry.get("defaults", {})}
        info = ModelInfo(
            id=entry["id"],
            kind=fam["kind"],
            family=entry["family"],
            endpoints=tuple(entry.get("endpoints") or fam["endpoints"]),
            display_names=tuple(entry.get("display_names", ())),
            aliases=tuple(entry.get("aliases", ())),
            capabilities=caps,
            defaults=defaults,
            vendor=entry.get("vendor", fam.get("vendor", "")),
            notes=entry.get("notes", ""),
        )
        by_id[info.id] = info
        for key in (info.id, *info.display_names, *info.aliases):
            index.setdefault(_norm(key), info.id)
    return by_id, index, FAMILIES


def models(kind: str | None = None, family: str | None = None) -> list[ModelInfo]:
    """Every listed model, optionally only one kind or family, in catalogue order."""
    by_id, _, _ = _tables()
    return [m for m in by_id.values() if (kind is None or m.kind == kind) and (family is None or m.family == family)]


def families() -> dict[str, str]:
    """Family name → kind, for calling unlisted models."""
    return {name: spec["kind"] for name, spec in _tables()[2].items()}


def model(name: str | ModelInfo | Mapping[str, str], kind: str | None = None, family: str | None = None) -> ModelInfo:
    """Resolve an id, display name or alias. ``family=`` lets you call a model the catalogue does not list.

    ``{"id": …, "family": …}`` is the same as ``model(id, family=…)``: the JSON-safe form a history entry
    records for an unlisted model, so its ``to_code()`` still runs.
    """
    if isinstance(name, ModelInfo):
        return name
    if isinstance(name, Mapping):
        return model(str(name["id"]), kind, family or name.get("family"))
    by_id, index, fams = _tables()
    key = index.get(_norm(name))
    if key is not None:
        info = by_id[key]
        if kind is None or info.kind == kind:
            preset = _preset(name, fams[info.family])
            return dataclasses.replace(info, preset=preset) if preset else info
    if family is not None:
        if family not in fams:
            close = difflib.get_close_matches(family, list(fams), n=3, cutoff=0.4)
            raise UnknownModelError(name, close, kind) from None
        spec = fams[family]
        return ModelInfo(
            id=name.strip(),
            kind=spec["kind"],
            family=family,
            endpoints=tuple(spec["endpoints"]),
            capabilities=dict(spec.get("capabilities", {})),
            defaults=dict(spec.get("defaults", {})),
            vendor=spec.get("vendor", ""),
            listed=False,
        )
    raise UnknownModelError(name, suggest(name, kind), kind)


def suggest(name: str, kind: str | None = None, n: int = 3) -> list[str]:
    """The closest catalogue ids to a mistyped name."""
    by_id, index, _ = _tables()
    pool = {k: v for k, v in index.items() if kind is None or by_id[v].kind == kind}
    hits = difflib.get_close_matches(_norm(name), list(pool), n=n * 3, cutoff=0.45)
    seen: list[str] = []
    for h in hits:
        if pool[h] not in seen:
            seen.append(pool[h])
    if not seen:  # substring fallback: 'seedream' → all seedream models
        seen = list(dict.fromkeys(v for k, v in pool.items() if _norm(name) in k))  # each model once
    return seen[:n]


def default_model(kind: str) -> ModelInfo:
    """The catalogue's suggested model for a kind (the first one flagged ``default``)."""
    for m in models(kind):
        if m.defaults.get("default_for_kind"):
            return m
    return models(kind)[0]
