"""The history as panels see it: entries newest first, their output files, one-line labels and thumbnails."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config import redact
from ..errors import clean_text

if TYPE_CHECKING:
    import ipywidgets as w

    from .._session import Session
    from ..history import HistoryEntry
    from ..results import Result


def entry_of(result: Result | None) -> HistoryEntry | None:
    """The HistoryEntry behind a result (every result carries it as ``.entry``)."""
    return result.entry if result is not None else None


def history_entries(session: Session, kinds: Iterable[str] | None = None, status: Iterable[str] | None = None,
                    limit: int | None = None, text: str | None = None) -> list[HistoryEntry]:
    """Entries newest first, filtered by kind, status and (full-text) words; empty when the store cannot be
    read (a panel shows what it can rather than failing to open). Words the history refuses (a lone surrogate)
    raise its InputError: the user typed them, and 'no entries' would not say why."""
    from ..errors import InputError

    kinds = list(kinds) if kinds is not None else None
    status = list(status) if status is not None else None
    try:
        view = session.history.filter(kind=kinds, status=status, text=text or None)
        entries = list(view[-limit:]) if limit else list(view)
    except InputError:
        raise
    except Exception:
        return []
    entries.sort(key=lambda e: (e.started or 0, e.id or 0), reverse=True)
    return entries


def artifact_path(session: Session, artifact: dict[str, Any]) -> Path | None:
    """Where an output artifact lives on disk (its own ``path``, else the session's store); None when the
    store no longer holds it."""
    path = artifact.get("path")
    if path:
        return Path(path)
    sha = artifact.get("sha256")
    if not sha:
        return None
    try:
        return Path(session.store.path_of(sha))
    except (FileNotFoundError, ValueError):
        return None


def outputs(session: Session, entry: HistoryEntry, roles: Iterable[str]) -> list[tuple[Path, dict[str, Any]]]:
    """(path, artifact dict) for an entry's outputs with one of ``roles`` (or, without a role, of that media
    type), in order; files missing from disk are skipped."""
    roles = set(roles)
    found: list[tuple[Path, dict[str, Any]]] = []
    for art in entry.outputs or []:
        role = art.get("role") or ""
        mime = art.get("mime") or ""
        if role in roles or (not role and mime.split("/")[0] in roles):
            path = artifact_path(session, art)
            if path is not None and path.exists():
                found.append((path, dict(art)))
    return found


def entry_label(entry: HistoryEntry, width: int = 60) -> str:
    """One line for pickers: '#12 image · gpt-image-1 · a cat on a…'."""
    params = entry.params or {}
    text: Any = params.get("prompt") or params.get("text") or params.get("message") or entry.text or ""
    if isinstance(text, list):
        text = text[-1] if text else ""
    # cleaned, then redacted, then cut: dropping controls may join a key they split, and a cut one goes unseen
    text = redact(" ".join(clean_text(str(text)).split()))
    if len(text) > width:
        text = text[: width - 1] + "…"
    return redact(clean_text(f"#{entry.id} {entry.kind} · {entry.model} · {text}"))


def entry_thumbs(session: Session, entries: Iterable[HistoryEntry], roles: Iterable[str], max_side: int,
                 limit: int | None = None) -> list[w.Widget]:
    """Captioned thumbnails of each entry's first output with one of ``roles`` (at most ``limit``); files
    that cannot be read as images are skipped."""
    from ._media import small_thumb

    roles = tuple(roles)
    thumbs: list[w.Widget] = []
    for entry in entries:
        if limit is not None and len(thumbs) >= limit:
            break
        for path, _art in outputs(session, entry, roles)[:1]:
            try:
                thumbs.append(small_thumb(path, entry_label(entry), max_side))
            except Exception:  # not an image PIL can read (or a decompression bomb): no thumbnail
                continue
    return thumbs
