"""An imported history is untrusted: every field of every record is checked before it enters a store.

A history export may come from anyone. What it may do: add entries (new ids) with their texts, parameters and
output files, which then show in tables, search, ``to_code()``/``to_curl()`` and replay. What it may not do:
carry values of the wrong type or outside their enums (a ``kind`` that would make ``rerun()`` call an arbitrary
Session method, a status the store does not know), forge its replay key (it is recomputed from the fields), or
name artifact files outside its ``.artifacts`` folder. Everything is redacted again on the way in.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from .._config import MODES, redact
from . import _pieces
from ._entry import SHA_RE, STATUSES, HistoryEntry
from ._replay import lone_surrogate

#: The Session methods a history entry may name (``rerun()`` calls ``getattr(session, kind)``).
KINDS: tuple[str, ...] = ("image", "edit", "video", "speak", "transcribe", "translate", "chat", "embed", "rerank")
MAX_DEPTH = 64
MIME_RE = re.compile(r"^[a-z]+/[A-Za-z0-9.+_-]{1,100}$")
_ROLE = re.compile(r"^[a-z_]{1,40}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


class InvalidRecord(ValueError):
    """One record of an export that does not hold: the message says which field and why."""


def _quoted(value: Any, limit: int) -> str:
    """``repr(value)`` cut to ``limit`` for a message, redacted first: cut first, a key would keep its start."""
    return redact(repr(value))[:limit]


def _json_value(value: Any, where: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InvalidRecord(f"{where}: nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        return  # NaN/inf round-trip through the store's JSON
    if isinstance(value, list):
        for i, v in enumerate(value):
            _json_value(v, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidRecord(f"{where}: key {k!r} is not a string")
            _json_value(v, f"{where}.{k}", depth + 1)
        return
    raise InvalidRecord(f"{where}: {type(value).__name__} is not a JSON value")


def _unicode(record: dict[str, Any]) -> None:
    """Every text of a record can be stored: a lone surrogate (a ``"\\ud800"`` escape in the JSON) is no UTF-8,
    and reached the database as a bare UnicodeEncodeError that stopped the whole import."""
    found = lone_surrogate(record, "", key_label=lambda parent, at: f"{parent} key" if parent else "a field name")
    if found is not None:
        where, char, at = found
        raise InvalidRecord(f"{where or 'record'}: holds a lone surrogate ({char!r} at position {at}), which is "
                            "not valid Unicode")


def _all_unicode(record: dict[str, Any]) -> bool:
    """Whether every text of ``record`` is valid Unicode, in one encoding pass (the walk that names the text is
    for the rare record that is not: it doubled the cost of reading each record)."""
    try:
        json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except (TypeError, ValueError, RecursionError):  # (not JSON: the checks below say what)
        return True
    return True


def _obj(r: dict[str, Any], name: str) -> dict[str, Any]:
    value = r.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRecord(f"{name}: expected an object, got {type(value).__name__}")
    _json_value(value, name)
    return value


def _line(r: dict[str, Any], name: str, *, limit: int, optional: bool = False) -> str | None:
    value = r.get(name)
    if value is None:
        if optional:
            return None
        return ""
    if not isinstance(value, str):
        raise InvalidRecord(f"{name}: expected a string, got {type(value).__name__}")
    if len(value) > limit or _CONTROL.search(value):
        raise InvalidRecord(f"{name}: longer than {limit} characters or has control characters / line breaks")
    return value


def _number(value: Any, name: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRecord(f"{name}: expected a finite number, got {_quoted(value, 40)}")
    if not low <= value <= high:
        raise InvalidRecord(f"{name}: {value!r} is out of range")
    return float(value)


def _choice(r: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = r.get(name, default)
    if value not in allowed:
        raise InvalidRecord(f"{name}: {_quoted(str(value), 60)} is not one of {', '.join(allowed)}")
    return str(value)


def _outputs(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRecord(f"outputs: expected a list, got {type(value).__name__}")
    out = []
    for i, o in enumerate(value):
        where = f"outputs[{i}]"
        if not isinstance(o, dict):
            raise InvalidRecord(f"{where}: expected an object")
        _json_value(o, where)
        if not isinstance(o.get("sha256"), str) or not SHA_RE.match(o["sha256"]):
            raise InvalidRecord(f"{where}.sha256: expected 64 lower-case hex digits")
        if not isinstance(o.get("mime", ""), str) or (o.get("mime") and not MIME_RE.match(o["mime"])):
            raise InvalidRecord(f"{where}.mime: not a media type")
        size = o.get("size", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidRecord(f"{where}.size: expected a whole number >= 0")
        if not isinstance(o.get("name", ""), str) or not isinstance(o.get("role", ""), str):
            raise InvalidRecord(f"{where}: name and role must be strings")
        if o.get("role") and not _ROLE.match(o["role"]):
            raise InvalidRecord(f"{where}.role: {_quoted(o['role'], 40)} is not a role name")
        out.append(o)
    return out


def entry_from_record(r: Any, notes: list[str] | None = None) -> HistoryEntry:
    """A checked :class:`HistoryEntry` from one exported record (its ``id`` dropped, replay key recomputed).

    ``notes``: given, a bad optional field that nothing paid for depends on (``response.pieces``) is dropped and
    noted there instead of refusing the record (which would lose the paid call it holds)."""
    from ._replay import replay_key

    if not isinstance(r, dict):
        raise InvalidRecord(f"expected an object, got {type(r).__name__}")
    if not _all_unicode(r):
        _unicode(r)  # (which text, said by name)
    started = _number(r.get("started", 0.0), "started", low=0, high=1e11)
    duration = r.get("duration")
    if duration is not None:
        duration = _number(duration, "duration", low=0, high=1e8)
    kind = _choice(r, "kind", KINDS, "")
    model = _line(r, "model", limit=300) or ""
    endpoint = _line(r, "endpoint", limit=300) or ""
    params = _obj(r, "params")
    text = r.get("text") or ""
    if not isinstance(text, str):
        raise InvalidRecord(f"text: expected a string, got {type(text).__name__}")
    parent = r.get("parent")
    if parent is not None and (isinstance(parent, bool) or not isinstance(parent, int) or parent < 1):
        raise InvalidRecord(f"parent: expected an entry id (a whole number >= 1), got {_quoted(parent, 40)}")
    error = r.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise InvalidRecord("error: expected an object or null")
        _json_value(error, "error")
    status = _choice(r, "status", STATUSES, "ok")
    if status == "running":  # in flight where it was exported: nothing here will ever end it (no process of this
        status = "interrupted"  # host owns it), and it showed as running for ever
        error = error or {"error": "Interrupted", "message": "This call was still running when its history was "
                          "exported; it never ended in this store.", "hint": "Run the call again (entry.rerun())."}
    response = _obj(r, "response")
    if response.get("pieces") is not None:  # a replay would fall back to one piece; an import says what is wrong
        bad = _pieces.problem(response["pieces"])
        if bad is not None and notes is None:
            raise InvalidRecord(f"response.pieces: {bad}")
        if bad is not None and notes is not None:
            response = {k: v for k, v in response.items() if k != "pieces"}
            notes.append(f"response.pieces dropped ({bad}): it replays in one piece")
    return HistoryEntry(
        session_id=_line(r, "session_id", limit=200) or "",
        started=started,
        duration=duration,
        mode=_choice(r, "mode", MODES, "offline"),
        kind=kind,
        model=model,
        endpoint=endpoint,
        params=params,
        request=_obj(r, "request"),
        response=response,
        usage=_obj(r, "usage"),
        outputs=_outputs(r.get("outputs")),
        text=text,
        status=status,
        error=error,
        thread=_line(r, "thread", limit=200, optional=True),
        replay_key=replay_key(kind, model, endpoint, params),
        parent=parent,
    )


def old_id(r: Any) -> int | None:
    """The id a record had in its own store (links thread turns), when it is a plain whole number."""
    value = r.get("id") if isinstance(r, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def artifact_file(folder: Path, sha: str, manifest: dict[str, Any]) -> Path | None:
    """The file of artifact ``sha`` inside an export's ``.artifacts`` folder, never outside it."""
    if not SHA_RE.match(sha):
        return None
    root = folder.resolve()
    meta = manifest.get(sha)
    name = meta.get("file") if isinstance(meta, dict) else None
    candidates: list[Path] = []
    if isinstance(name, str) and name and name == Path(name).name and name not in (".", ".."):
        candidates.append(folder / name)
    candidates.extend(sorted(folder.glob(f"{sha}*")))  # sha is 64 hex digits: no pattern, no separator
    for file in candidates:
        try:
            real = file.resolve()
        except OSError:
            continue
        if real.parent == root and real.is_file():  # a symlink pointing elsewhere resolves outside: refused
            return real
    return None
