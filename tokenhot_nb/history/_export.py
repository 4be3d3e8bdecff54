"""Export a history to JSON / JSONL (artifacts by sha256, optionally copied) and load it back.

Exports are redacted again on the way out, so even a store written by an older version cannot leak a key.
"""

from __future__ import annotations

import json
import json.encoder
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._atomic import replacing
from .._config import redact
from .._warn import warn
from ..errors import InputError, StoreError
from ._entry import ENTRY_FIELDS, JSON_FIELDS, HistoryEntry, escaped_secrets, iter_refs, jsonable
from ._store import Store, may_hold_key, mime_for, sha256_file
from ._validate import MIME_RE, InvalidRecord, artifact_file, entry_from_record, old_id

if TYPE_CHECKING:
    from ._history import History

MANIFEST = "manifest.json"


def artifacts_dir_for(path: Path) -> Path:
    return Path(str(path) + ".artifacts")


def _refs(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """sha256 → {mime, name, size} for every artifact an exported entry mentions."""
    found: dict[str, dict[str, Any]] = {}
    for o in entry.get("outputs") or []:
        if isinstance(o, dict) and o.get("sha256"):
            found[o["sha256"]] = {"mime": o.get("mime", ""), "name": o.get("name", ""), "size": o.get("size", 0)}
    for ref in iter_refs(entry.get("params") or {}):
        found.setdefault(ref["artifact"], {"mime": ref.get("mime", ""), "name": ref.get("name", ""), "size": 0})
    return found


def export_history(history: History, path: Path, *, include_artifacts: bool = False) -> Path:
    store = history.store
    jsonl = path.suffix.lower() == ".jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    seen: dict[str, dict[str, Any]] = {}
    with replacing(path) as (fd, _), os.fdopen(fd, "w", encoding="utf-8") as f:
        if not jsonl:
            f.write("[\n")
        first = True
        for line, d in _lines(history):
            if include_artifacts:
                seen.update(_refs(d if d is not None else json.loads(line)))
            if jsonl:
                f.write(line + "\n")
            else:
                f.write(("" if first else ",\n") + line)
            first = False
        if not jsonl:
            f.write("\n]\n")
    if include_artifacts:
        folder = artifacts_dir_for(path)
        folder.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, Any] = {}
        for sha, meta in sorted(seen.items()):
            try:
                src = store.path_of(sha)
            except (FileNotFoundError, ValueError):
                continue
            dest = folder / src.name
            masked = _masked_text(src, str(meta.get("mime") or ""), store.secrets)
            if masked is not None:  # (its bytes no longer match its name: a load leaves it out, as a damaged file)
                dest.write_bytes(masked)
                manifest[sha] = {**meta, "file": src.name, "size": len(masked), "redacted": True}
                continue
            if not dest.exists():
                shutil.copyfile(src, dest)
            manifest[sha] = {**meta, "file": src.name, "size": src.stat().st_size}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


#: Text artifacts larger than this are copied as they are (read whole to be checked, a huge one would not fit).
MASK_LIMIT = 64 * 1024**2


def _masked_text(src: Path, mime: str, secrets: Any) -> bytes | None:
    """A text artifact's bytes with any key masked, when it holds one; None when it holds none (or is no text).

    The rows of an export are redacted again on the way out, but the files beside them were copied as stored: an
    answer written before its key was known to this process (a key pasted into a prompt, an older version's
    store) carried it into the folder made to be shared. Bytes are read as Latin-1 (one character a byte, and
    back), so what is not a key stays byte for byte."""
    if not (mime.startswith("text/") or mime in ("application/json", "application/octet-stream")):
        return None
    try:
        if src.stat().st_size > MASK_LIMIT:
            return None
        text = src.read_bytes().decode("latin-1")
    except OSError:
        return None
    masked = redact(text, *secrets)
    return None if masked == text else masked.encode("latin-1")


_PAGE = 2000


def _lines(history: History) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Each entry as one line of compact JSON (and its dict when it had to be built), oldest first.

    Fast path: the row's JSON columns are already JSON, written redacted; the line is assembled from them as
    stored (nothing decoded) and one redaction check runs over the line (:func:`may_hold_key`). Slow path, per
    entry, when that check finds something (a row written by an older version or another tool, a key maybe
    JSON-escaped) or a thread turn's earlier messages are not in the export: the entry is rebuilt, its request
    expanded to what was sent, and redacted string by string.
    """
    store = history.store
    secrets = store.secrets
    escaped = escaped_secrets(secrets)
    exported: set[int] = set()
    last = 0
    while True:
        rows = store.select((*history._conds, ("id>?", (last,))), limit=_PAGE)
        if not rows:
            return
        for row in rows:
            last = row[0]
            parent = row[_AT_PARENT]
            if parent is None or parent in exported:
                line = "{" + ",".join(
                    [_KEYS[i] + (("null" if v is None else v) if _IS_JSON[i] else _scalar(v))
                     for i, v in enumerate(row)]
                ) + "}"
                if not may_hold_key(line, secrets, escaped):
                    exported.add(row[0])
                    yield line, None
                    continue
            entry = store._entry_from_row(row)
            d = entry.to_dict()
            if parent is not None and parent not in exported:  # its conversation must travel with it
                d["request"], d["parent"] = entry.wire_request(), None
            d = jsonable(d, secrets)
            exported.add(row[0])
            yield json.dumps(d, ensure_ascii=False, separators=(",", ":")), d


_KEYS = [json.dumps(name) + ":" for name in ENTRY_FIELDS]
_IS_JSON = [name in JSON_FIELDS for name in ENTRY_FIELDS]
_AT_PARENT = ENTRY_FIELDS.index("parent")


_encode_str = json.encoder.encode_basestring  # the C encoder json.dumps(…, ensure_ascii=False) uses for strings
_encode_float = float.__repr__


def _scalar(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)`` for a column's plain value, without its per-call overhead."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return _encode_str(value)  # type: ignore[no-any-return]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return _encode_float(value)
    return json.dumps(value, ensure_ascii=False)


def _read(path: Path) -> list[Any]:
    if path.is_dir() and (path / "history.sqlite").is_file():
        raise StoreError(f"{str(path)!r} is a history store (a folder), not an export.",
                         hint=f"Open it with History({str(path)!r}), or export it first: History(…).export("
                              "'history.jsonl').")
    try:
        data = path.read_bytes()
        if data.startswith(b"SQLite format 3\x00"):  # (it was "'utf-8' codec can't decode byte 0xfb…")
            folder = path.parent if path.name == "history.sqlite" else None
            raise StoreError(f"{str(path)!r} is a history database (a store's own file), not an export.",
                             hint="Open the store it belongs to: History(" + (repr(str(folder)) if folder else
                                  "'<its folder>'") + "), or export it first: History(…).export('history.jsonl').")
        text = data.decode("utf-8-sig")  # (a file saved again by an editor may start with a byte-order mark)
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"Could not read the history export {str(path)!r}: {exc}.",
                         hint="Check the path; an export is a .json or .jsonl file written by History.export().") from exc
    if not text.strip():  # (0 entries without a word: a wrong file, or a write that never finished)
        warn(f"{path.name} is empty ({'0 bytes' if not data else 'only blank lines'}): no entries were loaded. "
             "Check the path if you expected some (an empty history's JSONL export is empty too).")
        return []
    try:
        if text.lstrip().startswith("["):
            data = json.loads(text)
            if not isinstance(data, list):
                raise ValueError("expected a list")
            return data
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        raise StoreError(f"{str(path)!r} is not a history export: {exc}.",
                         hint="An export is JSON (a list of entries) or JSONL (one entry a line).") from exc


def load_history(path: Path, store: Store | str | os.PathLike[str] | None = None, *,
                 strict: bool = False) -> History:
    """Every record is checked (``_validate``); an invalid one is left out with a warning (``strict``: refused)."""
    from ._history import History

    records = _read(path)
    entries: list[HistoryEntry] = []
    old_ids: list[int | None] = []
    problems: list[str] = []
    mended: list[str] = []
    for i, r in enumerate(records):
        notes: list[str] | None = None if strict else []
        try:
            entries.append(entry_from_record(r, notes))
        except InvalidRecord as exc:  # it may quote the bad value: a key there is masked (a warning is output)
            problems.append(redact(f"entry {i + 1}: {exc}"))
            continue
        mended += [redact(f"entry {i + 1}: {n}") for n in notes or ()]
        old_ids.append(old_id(r))
    if mended:
        warn(f"{len(mended)} of {len(records)} entries of {path.name} were loaded without a damaged detail: "
             + "; ".join(mended[:3]) + (f"; and {len(mended) - 3} more" if len(mended) > 3 else "") + ".")
    if problems:
        summary = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        if strict:
            raise InputError(f"{path.name} has {len(problems)} invalid entr{'y' if len(problems) == 1 else 'ies'}: "
                             f"{summary}.", hint="Fix or remove them, or load with strict=False to leave them out.")
        warn(f"{len(problems)} of {len(records)} entries of {path.name} were left out: {summary}.")
    if store is None:
        store = Store(tempfile.mkdtemp(prefix="tokenhot-history-"))
    elif not isinstance(store, Store):
        store = Store(store)
    folder = artifacts_dir_for(path)
    if folder.is_dir():
        manifest: dict[str, Any] = {}
        mf = folder / MANIFEST
        if mf.is_file():
            try:
                loaded = json.loads(mf.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                loaded = {}
            manifest = loaded if isinstance(loaded, dict) else {}
        wanted: dict[str, dict[str, Any]] = {}
        for e in entries:
            wanted.update(_refs(e.to_dict()))
        for sha in {**wanted, **manifest}:
            listed = manifest.get(sha)
            meta: dict[str, Any] = {**(listed if isinstance(listed, dict) else {}), **wanted.get(sha, {})}
            if not isinstance(sha, str) or store.has(sha):
                continue
            file = artifact_file(folder, sha, manifest)
            if file is None or sha256_file(file) != sha:
                continue  # missing, outside the folder or damaged: leave it out rather than store wrong bytes
            mime = str(meta.get("mime") or "")
            mime = mime if MIME_RE.match(mime) else ""
            name = str(meta.get("name") or "")
            store.add_file(file, mime or mime_for(file), name=name[:255], sha256=sha, keep_source=True)
    if not entries:
        return History(store, _conds=[("0", ())], _label=f"loaded from {path.name}")
    ids, held = store.import_entries(entries, old_ids)
    # (said in the History's own line, not a warning: a notebook run again loads its export again, and its replay
    # must show what the recording showed)
    label = f"loaded from {path.name}" + (f"; {held} of {len(ids)} already here, not added again" if held else "")
    return History(store, _conds=[_ids_condition(ids)], _label=label)


def _ids_condition(ids: list[int]) -> tuple[str, tuple[int, ...]]:
    """A WHERE term holding exactly ``ids``, as ranges (what was added is one range; what was already here, a few)."""
    ranges: list[tuple[int, int]] = []
    for i in sorted(set(ids)):
        if ranges and i == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], i)
        else:
            ranges.append((i, i))
    if len(ranges) > 4000:  # (past SQLite's bound parameters: every id from the first to the last)
        ranges = [(ranges[0][0], ranges[-1][1])]
    sql = " OR ".join("id BETWEEN ? AND ?" for _ in ranges)
    return f"({sql})", tuple(v for r in ranges for v in r)
