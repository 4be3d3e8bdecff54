"""Give a model that only the service's live table knows a protocol family: from its endpoint types,
modalities and id; and find the listed model whose options it takes (:func:`variant_base`, :func:`id_words`).

Pure: a price-table row in, a :class:`Verdict` out (a family, or what was seen when nothing fits, for a clear
error). The hints are data in :mod:`tokenhot_nb._catalog_data` (``LIVE_*``) and the families are read at
run time, so a family added there is picked up with no change here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import _catalog_data as data


@dataclass(frozen=True)
class Verdict:
    """The family a live row speaks (None: cannot tell), its kind, and what was seen (for the error)."""

    family: str | None
    kind: str | None
    seen: str


def words(value: Any) -> list[str]:
    """A list cell of the price table: a JSON list or a comma-separated string (Tokenhot's ``tags``)."""
    if isinstance(value, str):
        value = value.replace("，", ",").split(",")
    if not isinstance(value, (list, tuple)):
        return []
    return [str(v).strip() for v in value if isinstance(v, (str, int)) and str(v).strip()]


def _fold(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def _loose(name: str) -> str:
    return _fold(name).replace(".", "-")


def variant_base(mid: str, names: Mapping[str, str]) -> tuple[str | None, str]:
    """(the listed model ``mid`` varies, the rest of ``mid`` beyond its name); ``names`` maps the loose spellings
    (``.`` ≡ ``-``) of one family's listed ids and aliases to their ids.

    An explicit ``LIVE_VARIANT_OF`` row wins; else the longest name ``mid`` starts with, followed by a ``-``
    (``doubao-seedance-2-0-filter-off`` → ``doubao-seedance-2-0``; ``doubao-seedance-2-0x`` varies nothing).
    """
    folded = _loose(mid)

    def extends(name: str) -> bool:
        return folded == name or folded.startswith(name + "-")

    explicit = max((p for p in data.LIVE_VARIANT_OF if extends(_loose(p))), key=len, default=None)
    if explicit is not None:
        return data.LIVE_VARIANT_OF[explicit], folded[len(_loose(explicit)):]
    best = max((n for n in names if extends(n)), key=len, default=None)
    return (names[best], folded[len(best):]) if best is not None else (None, folded)


def id_words(rest: str, kind: str, family: str) -> tuple[str | None, list[Mapping[str, Any]]]:
    """What the words of ``rest`` (an id beyond the model it varies) say, from ``LIVE_ID_WORDS``: the listed id
    whose options to take instead (the last word naming one), and the overlays, in id order. A family's row
    wins over its kind's."""
    base: str | None = None
    overlays: list[Mapping[str, Any]] = []
    for word in re.split(r"[-._\s]+", rest.lower()):
        per = data.LIVE_ID_WORDS.get(word) or {}
        rule = per[family] if family in per else per.get(kind)
        if isinstance(rule, str):
            base = rule
        elif rule:
            overlays.append(rule)
    return base, overlays


def _modalities(value: Any) -> set[str]:
    return {data.LIVE_MODALITIES.get(w.lower(), data.LIVE_MODALITIES.get(w, w.lower())) for w in words(value)}


def _kind(mid: str, types: list[str], ins: set[str], outs: set[str]) -> tuple[str | None, bool]:
    """(kind, transcription?) from the output modalities, then endpoint types, then words in the id.

    Text out is what most models give, so an endpoint type that names a kind by itself (``embeddings``: vectors,
    ``jina-rerank``: scores, both written 文本 on Tokenhot) wins over it, unless the row also lists a chat protocol
    (then it is a chat model that can embed too, and chat is what a Session needs it for). A kind of ``""`` means "a kind no Session method
    takes" (an endpoint type mapped to None in ``LIVE_ENDPOINT_KINDS``).
    """
    implied = [data.LIVE_ENDPOINT_KINDS[t] for t in types if t in data.LIVE_ENDPOINT_KINDS]
    named = next((k for k in implied if k), None)
    if outs:
        for what in ("video", "image", "audio"):
            if what in outs:
                return what, False
        if "text" in outs and "audio" in ins and not ins & {"image", "video"}:
            return "audio", True
        if "text" in outs:
            chat_types = any("chat" in data.LIVE_ENDPOINT_FAMILIES.get(t, {}) for t in types)
            return (named if named and not chat_types else "chat"), False
    if implied:
        if named is not None:
            return named, False
        if len(implied) == len(types):  # only types no Session method takes
            return "", False
    folded = _fold(mid)
    for word, kind in data.LIVE_ID_KIND_WORDS.items():
        if word in folded:
            return kind, kind == "audio" and word in ("whisper", "transcribe")
    return None, False


def _hinted(mid: str, kind: str | None, families: Mapping[str, Mapping[str, Any]]) -> str | None:
    folded = _fold(mid)
    for prefix in sorted(data.LIVE_ID_HINTS, key=len, reverse=True):
        if folded.startswith(prefix):
            for fam in data.LIVE_ID_HINTS[prefix]:
                if fam in families and (kind is None or families[fam]["kind"] == kind):
                    return fam
    return None


def family_hint(mid: str, kind: str | None, families: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The family an id's prefix names (``LIVE_ID_HINTS``), of ``kind`` when given, else of the kind the id's
    words say (``qwen-image-…`` with ``image`` → an image family; ``wan…-video`` → Wan's video one)."""
    if kind is None:
        kind = _kind(mid, [], set(), set())[0] or None
    return _hinted(mid, kind, families)


def classify(row: Mapping[str, Any], families: Mapping[str, Mapping[str, Any]]) -> Verdict:
    """The family of one live row (``model_name``/``id``, ``supported_endpoint_types``, modalities)."""
    mid = str(row.get("model_name") or row.get("id") or "")
    types = [t.lower() for t in words(row.get("supported_endpoint_types"))]
    ins, outs = _modalities(row.get("input_modalities")), _modalities(row.get("output_modalities"))
    seen = _seen(types, row)
    kind, transcribes = _kind(mid, types, ins, outs)
    if kind == "":
        return Verdict(None, None, seen)
    if transcribes:
        fam = "whisper" if "whisper" in families else None
        return Verdict(fam, "audio" if fam else None, seen)
    fam = _hinted(mid, kind, families)
    if fam is None:
        for etype, per_kind in data.LIVE_ENDPOINT_FAMILIES.items():
            if etype not in types:
                continue
            candidate = per_kind.get(kind or "chat")
            if candidate is not None and candidate in families and families[candidate]["kind"] == (kind or "chat"):
                fam = candidate
                break
    if fam is None:
        return Verdict(None, kind, seen)
    return Verdict(fam, str(families[fam]["kind"]), seen)


def _seen(types: list[str], row: Mapping[str, Any]) -> str:
    parts = [f"endpoint types: {', '.join(types) or 'none'}"]
    for label, key in (("input", "input_modalities"), ("output", "output_modalities")):
        got = words(row.get(key))
        if got:
            parts.append(f"{label}: {'/'.join(got)}")
    return "; ".join(parts)
