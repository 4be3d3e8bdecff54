"""Replay lookup: the key a call is recorded under, and what differs from the closest recording.

The key is computed from the same normalised (JSON-safe, redacted) params the store writes, so a
live call and its stored row always hash alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from .._config import Secret
from ._entry import canonical, dumps_redacted


def replay_key(
    kind: str, model: str, endpoint: str | None, params: Any, secrets: tuple[Secret | str, ...] = ()
) -> str:
    """sha256 of the canonical JSON of ``[kind, model, endpoint, params]``."""
    payload = [kind or "", model or "", endpoint or "", params or {}]
    text, _ = dumps_redacted(payload, secrets, sort_keys=True)  # == canonical(jsonable(payload)), one pass
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise _not_unicode(payload) from None
    return hashlib.sha256(data).hexdigest()


def _parameter_name(parent: str, at: str) -> str:
    return f"name of the parameter {at!r}"


def lone_surrogate(value: Any, where: str, depth: int = 0,
                   key_label: Callable[[str, str], str] = _parameter_name) -> tuple[str, str, int] | None:
    """(where, the character, its position) of the first text in ``value`` that is no valid Unicode; a dict key
    is named by ``key_label(its parent's place, its own)``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return where, value[exc.start], exc.start
        return None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict) and depth < 64:
        for k, v in value.items():
            at = f"{where}.{k}" if where else str(k)
            items += [(key_label(where, at), k), (at, v)]
    elif isinstance(value, (list, tuple)) and depth < 64:
        items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
    for at, v in items:
        found = lone_surrogate(v, at, depth + 1, key_label)
        if found is not None:
            return found
    return None


def _not_unicode(payload: list[Any]) -> Exception:
    """A call whose text holds a lone surrogate (which no UTF-8 holds) cannot be recorded, nor sent: the one line
    the session's own input checks give, naming the parameter, instead of a UnicodeEncodeError from the store
    (the store writes every call first, so it is the check that no input path can miss)."""
    from ..errors import InputError

    found = lone_surrogate(payload[3], "") or lone_surrogate(payload[:3], "call")
    where, char, at = found if found is not None else ("call", "?", 0)
    what = where if where.startswith("name of ") else f"parameter {where!r}"
    return InputError(f"The {what} holds an invalid character ({char!r}, a lone surrogate, at position {at}): it "
                      "is not valid Unicode and cannot be sent.",
                      hint="Clean it first, e.g. text.encode('utf-8', 'replace').decode('utf-8').")


def pick_recording(candidates: list[tuple[int, str]], turn: int) -> int | None:
    """Which recording answers the ``turn``-th (0-based) replay of one key: ``candidates`` are
    ``(id, session_id)`` oldest first. The newest recording session's calls are used in their order (first call
    → first recording), so two identical calls in one notebook replay as themselves; extra turns get its last.
    """
    if not candidates:
        return None
    newest_session = candidates[-1][1]
    ids = [i for i, sid in candidates if sid == newest_session]
    return ids[min(turn, len(ids) - 1)]


def _flatten(value: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Dotted paths → leaf values (two levels deep: ``extra.style``), so differences point at the field."""
    if isinstance(value, dict) and depth < 2 and value and "artifact" not in value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}.", depth + 1) if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out
    return {prefix.rstrip("."): value}


def _show(value: Any, limit: int = 60) -> str:
    if isinstance(value, dict) and "artifact" in value:
        return f"<artifact {str(value['artifact'])[:12]}…>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same_model(a: str, b: str) -> bool:
    """One model under its '.'/'-' spellings (an older version may have recorded ``doubao-seedance-1.5``)."""
    return a.lower().replace(".", "-") == b.lower().replace(".", "-")


def _equal(field: str, a: Any, b: Any) -> bool:
    if field == "model" and isinstance(a, str) and isinstance(b, str):
        return _same_model(a, b)
    return canonical(a) == canonical(b)


def similarity(
    model: str, endpoint: str | None, params: dict[str, Any],
    rec_model: str, rec_endpoint: str, rec_params: dict[str, Any],
) -> float:
    """0..7: same model counts 2, same endpoint 1, params up to 4 by the share of equal fields."""
    score = 2.0 if _same_model(model, rec_model) else 0.0
    if endpoint is None or endpoint == rec_endpoint:
        score += 1.0
    a, b = _flatten(params), _flatten(rec_params)
    keys = set(a) | set(b)
    if keys:
        same = sum(1 for k in keys if k in a and k in b and _equal(k, a[k], b[k]))
        score += 4.0 * same / len(keys)
    else:
        score += 4.0
    return score


def differences(
    model: str, endpoint: str | None, params: dict[str, Any],
    rec_model: str, rec_endpoint: str, rec_params: dict[str, Any],
) -> list[str]:
    """Human lines like ``size: recorded '1024x1024', asked '512x512'``."""
    out: list[str] = []
    same_model = _same_model(model, rec_model)
    if not same_model:
        out.append(f"model: recorded {rec_model!r}, asked {model!r}")
    if endpoint is not None and endpoint != rec_endpoint:
        out.append(f"endpoint: recorded {rec_endpoint!r}, asked {endpoint!r}")
    a, b = _flatten(params), _flatten(rec_params)
    for k in sorted(set(a) | set(b)):
        if k == "model" and not same_model:
            continue
        if k not in b:
            out.append(f"{k}: not recorded, asked {_show(a[k])}")
        elif k not in a:
            out.append(f"{k}: recorded {_show(b[k])}, not asked")
        elif not _equal(k, a[k], b[k]):
            out.append(f"{k}: recorded {_show(b[k])}, asked {_show(a[k])}")
    return out
