"""Rebuild a result object from a history entry and its stored artifacts (replay, ``entry.result()``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config import redact
from ..errors import TokenhotError
from ..families._types import Choice, ToolCall, Usage
from .embedding import EmbeddingResult
from .image import ImageItem, ImageResult
from .media import AudioResult, VideoResult
from .rerank import RerankResult
from .task import VideoTask
from .text import ChatResult, TranscriptResult

if TYPE_CHECKING:
    from .._session import Session
    from ..history import HistoryEntry, Store
    from ._base import Result


def usage_from(d: dict[str, Any] | None) -> Usage:
    """The usage a row keeps (``Usage.as_dict``), as the live call's result had it: the cache's reads and writes
    too, which the cost was worked out from. A row may come from an imported store: a value that is not a finite
    number counts as none."""
    d = d if isinstance(d, dict) else {}
    return Usage(input_tokens=_count(d.get("input_tokens")), output_tokens=_count(d.get("output_tokens")),
                 total_tokens=_count(d.get("total_tokens")), reasoning_tokens=_count(d.get("reasoning_tokens")),
                 images=_count(d.get("images")), video_seconds=_seconds(d.get("video_seconds")),
                 audio_seconds=_seconds(d.get("audio_seconds")), cached_tokens=_count(d.get("cached_tokens")),
                 cache_write_tokens=_count(d.get("cache_write_tokens")),
                 cache_write_1h_tokens=_count(d.get("cache_write_1h_tokens")))


def _count(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and value > 0 else 0


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and value > 0 else 0.0


def _outputs(entry: HistoryEntry, role: str) -> list[dict[str, Any]]:
    return [o for o in (entry.outputs or []) if o.get("role") == role]


def _with_posters(entry: HistoryEntry) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """A video row's videos, each with its poster (:func:`~tokenhot_nb.history._history.video_posters`)."""
    from ..history._history import video_posters

    return video_posters(entry.outputs or [])


#: The hints that send the user to ``entry.rerun()``, and what a replaying session says instead: there a rerun is
#: looked up in the history like any call, so it is the same miss again, never a new answer.
_RERUN_HINTS = {
    "missing": ("It may have been deleted or the store moved; rerun the call with entry.rerun().",
                "A history exported or copied without its artifacts has no files: bring them along "
                "(history.export(path, include_artifacts=True), then load that), or record the call again in a live "
                "or offline session (entry.rerun() there). In replay mode a rerun is looked up, not made."),
    "unfinished": ("Rerun it with entry.rerun().",
                   "Record it again in a live or offline session (entry.rerun() there), then replay. In replay mode "
                   "a rerun is looked up, not made."),
    "damaged": ("The entry was edited or imported damaged; rerun it with entry.rerun().",
                "The entry was edited or imported damaged; record the call again in a live or offline session "
                "(entry.rerun() there). In replay mode a rerun is looked up, not made."),
}


class RebuildError(TokenhotError):
    """A recorded result that cannot be rebuilt; ``why`` picks the hint for the session's mode (:func:`from_entry`).

    Its title is the plain "Tokenhot error" (no entry in ``errors.TITLES``)."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message, hint=_RERUN_HINTS[why][0])
        self.why = why


def _replaying(session: Session | None) -> bool:
    """Whether a rerun would be a replay: the entry's session, else the shared one (or the one it would make)."""
    if session is None:
        import os

        from .._session import default

        shared = default.current()
        return shared.mode == "replay" if shared is not None else os.environ.get("TOKENHOT_MODE") == "replay"
    return session.mode == "replay"


def _missing(store: Store, out: dict[str, Any]) -> RebuildError:
    return RebuildError(f"The stored file {out['sha256'][:12]}… of this history entry is missing from {store.root}.",
                        "missing")


def _path(store: Store, out: dict[str, Any]) -> Path:
    try:
        path = store.path_of(out["sha256"])
    except FileNotFoundError:
        raise _missing(store, out) from None
    if not path.exists():
        raise _missing(store, out)
    return path


def _first(entry: HistoryEntry, role: str) -> dict[str, Any]:
    """The one output of a video or speech row: a finished row without it (imported, or edited) is damaged."""
    outs = _outputs(entry, role)
    if not outs:
        raise RebuildError(f"History entry #{entry.id} finished but holds no stored {role}.", "damaged")
    return outs[0]


def _tool_calls(entry: HistoryEntry, response: dict[str, Any]) -> list[dict[str, Any]]:
    """The row's tool calls (each recorded as ``ToolCall.as_dict``); an imported row is checked: a list of calls
    whose ``arguments`` are an object, or it is damaged (it was a bare TypeError from ``dict()``)."""
    listed = response.get("tool_calls")
    if listed is None:
        return []
    calls = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else None
    if calls is None or any(not isinstance(c.get("arguments") or {}, dict) for c in calls):
        raise RebuildError(f"The tool calls of history entry #{entry.id} are not a list of calls with their "
                           f"arguments as an object ({listed!r:.60}).", "damaged")
    return calls


def _choices(entry: HistoryEntry, response: dict[str, Any]) -> list[Choice]:
    """The other answers of an ``n=`` call (each recorded as ``Choice.as_dict``); an imported row is checked."""
    listed = response.get("choices")
    if listed is None:
        return []
    if not isinstance(listed, list) or not all(isinstance(c, dict) for c in listed):
        raise RebuildError(f"The choices of history entry #{entry.id} are not a list of answers ({listed!r:.60}).",
                           "damaged")
    from ..families.chat import cut_at_limit

    out = []
    for c in listed:
        finish = None if c.get("finish_reason") is None else str(c["finish_reason"])
        calls, short = cut_at_limit([ToolCall(str(t.get("id") or ""), str(t.get("name") or ""),
                                              dict(t.get("arguments") or {})) for t in _tool_calls(entry, c)], finish)
        were_cut = c.get("cut_tool_calls")
        out.append(Choice(str(c.get("text") or ""), str(c.get("reasoning") or ""), finish, calls,
                          [dict(t) for t in were_cut if isinstance(t, dict)] if isinstance(were_cut, list) else short))
    return out


def _text(store: Store, entry: HistoryEntry, role: str) -> str:
    """A text output (kept in the database when small: read from there, no file is made)."""
    outs = _outputs(entry, role)
    if not outs:
        return ""
    try:
        text = store.read_artifact(outs[0]["sha256"]).decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise _missing(store, outs[0]) from None
    return redact(text)  # (a file an older version or another tool wrote)


def from_entry(entry: HistoryEntry, session: Session | None = None, store: Store | None = None) -> Result:
    """The result object a recorded call returned, rebuilt from the store without any request."""
    try:
        return _from_entry(entry, session, store)
    except RebuildError as err:
        if _replaying(session):
            err.hint = _RERUN_HINTS[err.why][1]
        raise


def _from_entry(entry: HistoryEntry, session: Session | None, store: Store | None) -> Result:
    if session is None and store is None:
        from .._session import session as default_session

        session = default_session()
    st: Store = store if store is not None else session.store  # type: ignore[union-attr]
    kind = entry.kind
    model = entry.model or ""
    params = entry.params or {}
    response = entry.response or {}
    common: dict[str, Any] = {"model": model, "entry": entry, "session": session}

    if entry.status == "pending" and kind == "video":
        task_id = response.get("task_id")
        if not isinstance(task_id, str) or not task_id:  # (a task is pending only once it has its id)
            raise RebuildError(f"History entry #{entry.id} is a pending video task with no task id to resume.",
                               "damaged")
        if session is None:
            raise TokenhotError("Resuming a video task needs a session.")
        return VideoTask(session, task_id, model=model, entry=entry,
                         prompt=str(params.get("prompt") or ""))
    if entry.status != "ok":
        err = (entry.error or {}).get("message") or entry.status
        kept = entry.status in ("pending", "interrupted") and kind in ("image", "edit") and any(
            isinstance(i, dict) and "sha256" not in i for i in response.get("images") or [])
        message = f"History entry #{entry.id} did not finish ({entry.status}): {err}"
        if not kept:
            raise RebuildError(message, "unfinished")
        raise TokenhotError(message, hint=f"Its images were paid for and their links kept: fetch them with "
                                          f"session.resume({entry.id}) (no new call, no new charge).")

    if kind in ("image", "edit"):
        items = [ImageItem(_path(st, o), o.get("mime", "image/png"), o["sha256"],
                           {k: v for k, v in o.items() if k == "revised_prompt"})
                 for o in _outputs(entry, "image")]
        return ImageResult(items, prompt=str(params.get("prompt") or ""), text=_text(st, entry, "text"),
                           **common)
    if kind == "video":
        _first(entry, "video")  # (a finished row without one is damaged)
        videos = [VideoResult(_path(st, vid), mime=vid.get("mime", "video/mp4"), sha256=vid["sha256"],
                              poster=_path(st, poster) if poster else None, task_id=response.get("task_id"),
                              prompt=str(params.get("prompt") or ""), index=i, **common)
                  for i, (vid, poster) in enumerate(_with_posters(entry))]
        videos[0]._more = videos[1:]
        return videos[0]
    if kind == "speak":
        aud = _first(entry, "audio")
        finish = (entry.response or {}).get("finish_reason") if isinstance(entry.response, dict) else None
        return AudioResult(_path(st, aud), mime=aud.get("mime", "audio/wav"), sha256=aud["sha256"],
                           text=str(params.get("text") or ""), finish_reason=finish if isinstance(finish, str) else None,
                           **common)
    if kind in ("transcribe", "translate"):
        fmt = str(params.get("format") or "json")
        body = _text(st, entry, "subtitles") or _text(st, entry, "text")
        from ..families import audio

        reply = audio.parse_transcription(fmt, body)
        res = TranscriptResult(reply.text, segments=reply.segments, format=fmt, body=reply.body or body,
                               language=reply.language, duration=reply.duration, **common)
        res.kind = kind
        return res
    if kind == "chat":
        text = _text(st, entry, "text")
        calls = [ToolCall(str(c.get("id") or ""), str(c.get("name") or ""), dict(c.get("arguments") or {}),
                          c["signature"] if isinstance(c.get("signature"), str) else None)
                 for c in _tool_calls(entry, response)]
        from ..families.chat import cut_at_limit

        calls, short = cut_at_limit(calls, response.get("finish_reason"))  # (a row kept before they were told)
        data = None
        if (params.get("schema") or params.get("json")) and not calls:
            from .._schema import parse_json

            try:
                data = parse_json(text)
            except ValueError:
                data = None
        answer = ChatResult(text, reasoning=_text(st, entry, "reasoning"),
                            usage=usage_from(entry.usage), finish_reason=response.get("finish_reason"),
                            thread=entry.thread, prompt=str(params.get("message") or ""), data=data,
                            tool_calls=calls, others=_choices(entry, response), **common)
        were_cut = response.get("cut_tool_calls")
        answer.cut_tool_calls = [dict(c) for c in were_cut if isinstance(c, dict)] if isinstance(were_cut, list) \
            else short
        return answer
    if kind == "embed":
        return _embeddings(st, entry, common)
    if kind == "rerank":
        return _rerank(entry, common)
    raise TokenhotError(f"Cannot rebuild a result for history entries of kind {kind!r}.")


def _embeddings(store: Store, entry: HistoryEntry, common: dict[str, Any]) -> EmbeddingResult:
    """The vectors from their float32 artifact, shaped by the row's ``response`` (an imported row is checked)."""
    outs = _outputs(entry, "embedding")
    response = entry.response or {}
    count, dims = _positive(response.get("count")), _positive(response.get("dimensions"))
    if not outs:
        raise TokenhotError(f"History entry #{entry.id} has no stored vectors.", hint="Rerun it with entry.rerun().")
    try:
        data = store.read_artifact(outs[0]["sha256"])
    except FileNotFoundError:
        raise _missing(store, outs[0]) from None
    if count is None or dims is None or count * dims * 4 != len(data):
        raise RebuildError(f"The stored vectors of history entry #{entry.id} do not match the shape its row "
                           f"records ({response.get('count')!r:.20} × {response.get('dimensions')!r:.20}, "
                           f"{len(data)} bytes).", "damaged")
    texts = entry.params.get("texts") if isinstance(entry.params, dict) else None
    listed = [texts] if isinstance(texts, str) else [t for t in texts if isinstance(t, str)] \
        if isinstance(texts, list) else []
    return EmbeddingResult(data, count=count, dimensions=dims, texts=listed, usage=usage_from(entry.usage),
                           **common)


def _rerank(entry: HistoryEntry, common: dict[str, Any]) -> RerankResult:
    """The ranking the row's ``response`` holds, each index naming a document of its ``params`` (an imported row
    is checked: an index that names no document sent is a damaged row, never a ranking with a hole in it)."""
    response = entry.response or {}
    params = entry.params if isinstance(entry.params, dict) else {}
    docs = params.get("documents")
    docs = [d for d in docs if isinstance(d, str)] if isinstance(docs, list) else []
    ranked: list[tuple[int, float, str]] = []
    listed = response.get("results")
    for item in listed if isinstance(listed, list) else []:
        ok = isinstance(item, list) and len(item) == 2
        index, score = item if ok else (None, None)
        if (isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(docs)
                or isinstance(score, bool) or not isinstance(score, (int, float))):
            raise RebuildError(f"The ranking of history entry #{entry.id} does not match its documents "
                               f"({item!r:.40} among {len(docs)} document(s)).", "damaged")
        ranked.append((index, float(score), docs[index]))
    if not ranked:
        raise RebuildError(f"History entry #{entry.id} holds no ranking.", "unfinished")
    query = params.get("query")
    return RerankResult(ranked, query=query if isinstance(query, str) else "", usage=usage_from(entry.usage),
                        **common)


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
