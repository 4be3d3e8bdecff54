"""The "record" step of every call: the history row, the artifacts its outputs become, the replay lookup.

A call is inserted as ``running`` just before the request and finished with its response metadata, usage and
outputs (downloaded into the content-addressed store at once, because vendor URLs expire). Errors are recorded
too, then raised. In replay mode a call with a recorded twin (same replay key) is rebuilt from the store with no
request; a miss names the nearest recording.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import cost as _cost
from .._config import key_start_at_end, might_hold_key, redact, redact_cut
from .._inputs import ext_for, sniff_mime
from .._warn import warn
from ..catalog import ModelInfo
from ..errors import (
    APIConnectionError,
    APIError,
    BudgetExceededError,
    DownloadError,
    ReplayMissError,
    StoreError,
    StreamError,
    TaskFailedError,
    TokenhotError,
    UnrecordedWarning,
)
from ..families._types import HttpCall, Usage
from ..history import HistoryEntry
from . import budget as _budget
from .loop import CALL_ROWS, STOPPED_WORDS, Interrupted
from .slots import release_slot

if TYPE_CHECKING:
    from ..client import Response
    from ..results._base import Result
    from .core import Session

_ENDPOINT_BY_PATH = (
    ("/v1/images/generations", "images.generations"),
    ("/v1/images/edits", "images.edits"),
    ("/v1/video/generations", "video.generations"),
    ("/v1/videos", "videos"),
    ("/v1/audio/speech", "audio.speech"),
    ("/v1/audio/transcriptions", "audio.transcriptions"),
    ("/v1/audio/translations", "audio.translations"),
    ("/v1/embeddings", "embeddings"),
    ("/v1/rerank", "rerank"),
    ("/v1/chat/completions", "chat.completions"),
    ("/v1/responses", "responses"),
    ("/v1/messages", "messages"),
)


def endpoint_name(call: HttpCall) -> str:
    """The catalogue's name for the endpoint a call goes to (recorded in the history, part of the replay key)."""
    path = call.path.split("?", 1)[0].rstrip("/")
    if path.endswith(":streamGenerateContent"):
        return "gemini.stream"
    if path.endswith(":generateContent"):
        return "gemini.generate"
    for prefix, name in _ENDPOINT_BY_PATH:
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return path


def received_text(text: str) -> str:
    """Text that came over the network, made safe to store and show.

    Surrogate halves that arrived in separate frames are joined (a lone half is replaced: it cannot be
    written as UTF-8 and would make the row fail to finish), and any key a relay echoed back is redacted.
    """
    return redact(_mended(text))


def _mended(text: str) -> str:
    """``text`` with any surrogate half (JSON may carry one; UTF-8 cannot) replaced by U+FFFD."""
    if has_surrogate(text):
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def cut_text(text: str) -> str:
    """The received text of an answer cut short, as it is kept (error, history row, views): see
    :func:`~tokenhot_nb._config.redact_cut`."""
    return redact_cut(_mended(text))


#: A surrogate half (one regex scan instead of a Python loop over every character of every answer).
has_surrogate = re.compile("[\ud800-\udfff]").search


class LiveText:
    """A stream's text so far as a live view shows it: a surrogate half waits for its pair, echoed keys are
    hidden, and so is a tail that may be the first part of a key still arriving (:func:`key_start_at_end`), which
    no redaction could recognise yet. What it returns only grows (the mask takes the place of a held tail), so a
    view that prints just what is new (a terminal) never prints any of a key.

    Runs for every delta, so it only looks at the new tail; once a key or a surrogate showed up, the whole
    text is cleaned on every later delta (rare, and then correctness wins over speed).
    """

    def __init__(self) -> None:
        self.dirty = False
        self.last = ""  #: what the view was last given

    def __call__(self, text: str, added: int) -> str:
        if not self.dirty:
            tail = text[-(added + 128):]
            self.dirty = might_hold_key(tail) or has_surrogate(tail) is not None
        if self.dirty:
            if text and "\ud800" <= text[-1] <= "\udbff":
                text = text[:-1]
            text = received_text(text)
        held = key_start_at_end(text)
        self.last = text[:len(text) - held] if held else text
        return self.last


def json_object(resp: Response, what: str) -> dict[str, Any]:
    """The answer's JSON body, which must be an object: ``null``, a list or a number is a clear error."""
    body = resp.json()
    if isinstance(body, dict):
        return body
    kind = "null" if body is None else "a list" if isinstance(body, list) else f"a {type(body).__name__}"
    raise APIError(f"{what} answered with JSON {kind}, not an object; nothing could be read from it.",
                   status=resp.status, request_id=resp.request_id,
                   hint="This is usually a relay problem; try again, or check the base URL.")


def keep_unread(session: Session, resp: Response) -> list[dict[str, Any]]:
    """The body of a paid 2xx answer that could not be read as JSON (cut short, garbled), as a ``raw`` output (any
    key echoed in it redacted): it was paid for, and it is what the request id and the relay's logs are about.
    Nothing for a body that was JSON (its parser's error says what was wrong), an empty one or a web page (a
    captive portal's, never the API's)."""
    from ..client._body import web_page

    if not resp.content.strip() or web_page(resp.content, resp.content_type) is not None:
        return []
    try:
        resp.json()
        return []
    except APIError:
        pass
    try:
        return [o for o in [store_bytes(session, received_text(resp.text).encode("utf-8"), RAW_MIME, "raw")]
                if UNSAVED not in o]
    except Exception:  # recording must never hide the real error
        return []


def keep_cut(session: Session, err: BaseException) -> list[dict[str, Any]]:
    """What had arrived of a paid answer cut before its end (:attr:`APIConnectionError.partial_body`, a key in it
    masked already), as a ``raw`` output: it was paid for, and it is what the request id and the relay's logs are
    about. Nothing when nothing arrived, or for a web page (a captive portal's, never the API's)."""
    from ..client._body import web_page

    body = err.partial_body if isinstance(err, APIConnectionError) else None
    if not body or not body.strip() or web_page(body, "") is not None:
        return []
    try:
        return [o for o in [store_bytes(session, body, RAW_MIME, "raw")] if UNSAVED not in o]
    except Exception:  # recording must never hide the real error
        return []


async def keep_refused(session: Session, exc: BaseException, entry_id: int | None,
                       put: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any] | None:
    """What a paid result's link sent instead of its media (an error page, JSON: ``DownloadError.refused_body``,
    key masked) stored as a ``raw`` .bin output, and ``exc`` worded to say where instead of "nothing was stored":
    it is what the relay's support needs to see. ``put`` puts the output in the row now (else the caller's row
    update does). → the output, or None (nothing sent, or it could not be kept: the error is left as it was)."""
    from ..client._download import REFUSED_KEEP

    if not isinstance(exc, DownloadError) or not exc.refused_body or entry_id is None:
        return None
    body = exc.refused_body
    try:
        raw = await astore_bytes(session, body, RAW_MIME, "raw")
        if UNSAVED in raw:
            return None
        if put is not None:
            put(raw)
    except Exception:  # recording must never hide the real error
        return None
    what = f"its first {len(body)} bytes" if len(body) >= REFUSED_KEEP else f"the {len(body)} bytes it sent"
    kept = f"; {what} are kept in history #{entry_id} as a .bin file (output role 'raw')."
    for name in ("message", "full_message"):
        setattr(exc, name, getattr(exc, name).replace("; nothing was stored.", kept))
    exc.args = (exc.message, *exc.args[1:])
    return raw


#: Paid bytes that are not what was asked for (an answer that cannot be read, an image that is not one).
RAW_MIME = "application/octet-stream"


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}



def cost_known(usage: Mapping[str, Any]) -> bool:
    """Whether a row's usage holds a known cost. A row that ends without one keeps its reservation
    (``usage.reserved``, its estimate): the budget counts it at that, since the relay may have billed it."""
    cost = usage.get("cost")
    return isinstance(cost, Mapping) and cost.get("usd") is not None


class Recording:
    """The history row of one call: inserted as running, finished as ok / error / pending.

    The budget is checked in the transaction that inserts the row (:func:`budget.admit`): a call that would cross
    it raises :class:`BudgetExceededError`, no row is written, and nothing is sent. A finished call records its
    cost with its usage.
    """

    def __init__(self, session: Session, entry: HistoryEntry, info: ModelInfo | None = None,
                 call: HttpCall | None = None) -> None:
        self.session = session
        self.entry = entry
        self.store = session.store
        self.info = info if info is not None else _model_of(session, entry)
        check = _budget.admit(session, entry.kind, self.info, entry.params, call)
        if check is not None and check.reserved_usd:  # the row carries it: every kernel using this store counts it
            entry.usage = {**(entry.usage or {}), "reserved": {"usd": check.reserved_usd,
                                                               "simulated": check.simulated}}
        self.id = self.store.insert(entry) if check is None else self.store.insert(entry, check=check)
        rows = CALL_ROWS.get()
        if rows is not None:
            rows.append(self.id)
        self.t0 = time.monotonic()

    def cost(self, usage: dict[str, Any], outputs: list[dict[str, Any]], response: dict[str, Any]) -> dict[str, Any]:
        quota = response.get("quota")
        return _budget.cost_of(self.session, self.entry.kind, self.info, usage, outputs,
                               quota if isinstance(quota, (int, float)) and not isinstance(quota, bool) else None)

    def update(self, **fields: Any) -> None:
        usage = self.entry.usage
        reserved = usage.get("reserved") if usage else None
        given = fields.get("usage")
        if reserved is not None and isinstance(given, dict) and "reserved" not in given and not cost_known(given):
            fields["usage"] = {**given, "reserved": reserved}  # told nothing of its cost: it counts at its estimate
        elif reserved is not None and given is None and fields.get("status", "running") != "running" \
                and cost_known(usage or {}):
            fields["usage"] = {k: v for k, v in (usage or {}).items() if k != "reserved"}  # no longer in flight
        kept = self.store.update(self.id, **fields)
        for name, value in kept.items():  # the entry follows its row, so finishing never reads it back
            setattr(self.entry, name, value)

    def ok(self, *, response: dict[str, Any], usage: Usage | dict[str, Any] | None,
           outputs: list[dict[str, Any]], text: str | None = None,
           cost: dict[str, Any] | None = None) -> HistoryEntry:
        """Finish the row ``ok``; ``cost`` (a ``Cost.as_dict()``) when the usage is not what was billed."""
        used = usage.as_dict() if isinstance(usage, Usage) else dict(usage or {})
        used["cost"] = cost if cost is not None else self.cost(used, outputs, response)
        fields: dict[str, Any] = {
            "status": "ok",
            "duration": time.monotonic() - self.t0,
            "response": response,
            "usage": used,
            "outputs": outputs,
        }
        if text is not None:
            fields["text"] = text
        unsaved = [str(o[UNSAVED]) for o in outputs if UNSAVED in o]
        if unsaved:  # outputs whose file could not be stored: the result has them, the row cannot point at them
            fields["outputs"] = [o for o in outputs if UNSAVED not in o]
        try:
            self.update(**fields)
        except (StoreError, KeyError) as err:  # the answer is paid for: it is returned, with a warning, not lost
            for name, value in fields.items():
                setattr(self.entry, name, self.store.as_stored(name, value))
            unsaved.append(unrecorded_why(self.id, err))
        if unsaved:
            warn_unrecorded("answer", self.id, unsaved[-1])
        return self.final()

    def fail(self, err: BaseException, *, status: str | None = None, **extra: Any) -> None:
        mark_recorded(err)
        if status is None:
            status = "interrupted" if isinstance(err, (asyncio.CancelledError, KeyboardInterrupt, Interrupted)) \
                else "error"
        if status == "error" and "usage" not in extra:
            why = _not_billed(err)
            usage = {k: v for k, v in (self.entry.usage or {}).items() if k != "reserved"}
            if why and "cost" not in usage:  # nothing was charged: say so, not "cost unknown"
                extra["usage"] = {**usage, "cost": _cost.not_charged(why, simulated=_budget.simulated(
                    self.session)).as_dict()}
        said: BaseException | dict[str, str] = err
        if status in ("interrupted", "pending") and isinstance(err, (asyncio.CancelledError, KeyboardInterrupt,
                                                                      Interrupted)) and not str(err):
            # the loop sees only its task cancelled: words the stop's own replace (loop._note_stop), not a blank
            said = {"error": type(err).__name__, "message": STOPPED_WORDS, "hint": ""}
        try:
            self.update(status=status, duration=time.monotonic() - self.t0, error=said, **extra)
        except Exception:  # recording must never hide the real error
            pass

    def final(self) -> HistoryEntry:
        """The finished entry: the one inserted, updated with what its row now holds (no read-back)."""
        return self.entry.bind(self.store, self.session)


def _not_billed(err: BaseException) -> str:
    """Why the relay billed nothing for a call that ended with ``err`` ("" when it may have billed it): it refused
    the request (a 4xx status: new-api returns what it pre-charged), the video task failed (refunded), or the
    request never got through (no attempt could connect). A 5xx may
    come from a gateway in front of a relay that went on with the call: its cost stays unknown."""
    if isinstance(err, APIError) and isinstance(err.status, int) and 400 <= err.status < 500:
        return f"not charged: the relay answered HTTP {err.status}"
    if isinstance(err, TaskFailedError):
        return "not charged: the task failed (failed tasks are refunded)"
    if isinstance(err, APIConnectionError) and err.sent is False:  # (no connection, or no web server answered)
        return "not charged: the request never reached the relay"
    return ""


def warn_unrecorded(what: str, entry_id: int | None, why: str) -> None:
    """Say that a paid ``what`` (the answer, the video) arrived but its history row could not take it: the result
    holds it, the history does not."""
    warn(f"tokenhot_nb: the {what} of call #{entry_id} arrived but could not be recorded in the history; it is kept "
         f"in this result only. {why}", UnrecordedWarning)


def unrecorded_why(entry_id: int | None, err: StoreError | KeyError) -> str:
    """Why a finished call's row could not take its answer: the store's own words, or its row was gone (deleted
    from another kernel while the call ran)."""
    if isinstance(err, KeyError):
        return (f"Its history row #{entry_id} was deleted while the call ran (from another kernel or process "
                "using the same store).")
    return str(err)


def _model_of(session: Session, entry: HistoryEntry) -> ModelInfo:
    """The model of an entry whose caller did not pass it (its price drives the budget check)."""
    try:
        return session.catalog.snapshot().model(entry.model)
    except TokenhotError:
        return ModelInfo(id=entry.model, kind="chat", family="", endpoints=(), listed=False)


#: Arguments that steer how a call runs or shows, not what it asks for: never part of a recorded call.
_NOT_PARAMS = frozenset({"self", "progress", "on_delta", "on_progress", "concurrency", "headers"})


def mark_recorded(err: BaseException) -> None:
    """Note on the exception that its call is in the history already."""
    try:
        err._tokenhot_recorded = True  # type: ignore[attr-defined]
    except Exception:
        pass


def record_refusal(session: Session, kind: str, arguments: dict[str, Any], err: BaseException,
                   resolved: ModelInfo | None = None, *, model: str | None = None) -> int | None:
    """Record a call refused before any request (unknown model, unsupported option, bad input, the budget).

    "Every call is recorded, errors included": the history then shows what was tried and why it failed, with
    the arguments as given. Such an entry has no endpoint or request (nothing was sent, nothing paid), never
    answers a replay and is never offered as the nearest recording. Its model is the one the call resolved to
    (``resolved``: the default, when none was named, so usage and filters see it), else the name as given
    (``model``: the one a call of several models, a comparison, was refused for).

    A replay run records nothing: it re-runs a recorded notebook, whose refusals the recording run kept, and
    adding them again would change every history view it shows (a re-run is meant to give the same outputs).
    Returns the row's id (None: none was written).
    """
    if getattr(err, "_tokenhot_recorded", False):
        return None
    if session.mode == "replay":
        _past_recorded_refusal(session, kind)
        return None
    from ..history import HistoryEntry

    params: dict[str, Any] = {}
    for name, value in arguments.items():
        if name in _NOT_PARAMS or name.startswith("_") or value is None:
            continue
        if name == "options" and isinstance(value, dict):
            params.update({k: _bounded(_as_given(v)) for k, v in value.items() if k not in _NOT_PARAMS})
        else:
            params[name] = _bounded(_as_given(value))
    if model is None:
        model = arguments.get("model") if isinstance(arguments.get("model"), str) else params.get("model")
    model_id = resolved.id if resolved is not None else model[:REFUSED_TEXT_MAX] if isinstance(model, str) else (
        (model or {}).get("id", "") if isinstance(model, dict) else "")
    text = next((str(params[k]) for k in ("prompt", "message", "text") if isinstance(params.get(k), str)), "")
    if not text:  # (a prompt too big to keep: the start of it still says what was asked)
        text = next((str(arguments[k])[:REFUSED_TEXT_MAX] + "…" for k in ("prompt", "message", "text")
                     if isinstance(arguments.get(k), str)), "")
    try:
        row = session.store.insert(HistoryEntry(
            session_id=session.id, started=time.time(), mode=session.mode, kind=kind, model=model_id, endpoint="",
            params=params, status="error", error=_bounded_error(err) if isinstance(err, TokenhotError) else None,
            duration=0.0, text=text, usage={"cost": _cost.not_charged(
                "refused before sending", simulated=_budget.simulated(session)).as_dict()}))
    except Exception:  # recording must never hide the real error
        return None
    mark_recorded(err)
    return row


def _past_recorded_refusal(session: Session, kind: str) -> None:
    """Replay: a refusal the recording run kept right after the last replayed row is this one, so the history
    views (which end at the replay position) show it as they did when it was recorded."""
    at = session.replay_position
    if at is None:
        return
    store = session.store
    rows = store.select_entries([("id > ?", (at,))], limit=1)
    if rows and rows[0].kind == kind and rows[0].status == "error" and not rows[0].endpoint \
            and rows[0].session_id == store.get(at).session_id:
        session.replay_position = rows[0].id


#: The most a refused call's row keeps of one argument (its JSON, in bytes): nothing was sent, so the row is only
#: what was tried and why it failed. A bigger one (100,000 texts to embed: 5.8 MB) became a row of that size at
#: every refused attempt, in the store and in every export; it is kept as a marker saying what it was.
REFUSED_ARG_MAX = 64 * 1024
#: The most of a refused prompt kept as the row's text (what the history shows and searches).
REFUSED_TEXT_MAX = 1000


def _bounded(value: Any) -> Any:
    """A refused argument (as :func:`_as_given` keeps it), or a marker when its JSON passes
    :data:`REFUSED_ARG_MAX`: its type and size, like an object that cannot be stored (a rerun refuses it)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        if len(value) * 4 <= REFUSED_ARG_MAX or len(value.encode("utf-8", "surrogatepass")) <= REFUSED_ARG_MAX:
            return value
        return {"not_recorded": f"builtins.str of {len(value):,} characters, too big to keep with a refusal"}
    import json

    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    if size <= REFUSED_ARG_MAX:
        return value
    what = (f"builtins.list of {len(value):,} items" if isinstance(value, list) else
            f"builtins.dict of {len(value):,} keys" if isinstance(value, dict) else f"{type(value).__name__}")
    return {"not_recorded": f"{what} ({size / 1e6:,.1f} MB), too big to keep with a refusal"}


def _bounded_error(err: TokenhotError) -> dict[str, Any]:
    """The refusal as the row keeps it: a message that quotes a huge argument (a 3 MB model name) is cut."""
    return {k: v[:REFUSED_ARG_MAX] + "…" if isinstance(v, str) and len(v) > REFUSED_ARG_MAX else v
            for k, v in err.to_dict().items()}


def _as_given(value: Any) -> Any:
    """A refused argument as the row keeps it. JSON values and paths as they are; any other object (a PIL image, a
    set, an array, bytes) as ``{"not_recorded": its type}``: stored as its repr, a rerun or ``to_code()`` of the
    row would send "<PIL.Image.Image …>" as the prompt, a paid call the original never made."""
    import os

    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, ModelInfo):
        return value.ref
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [_as_given(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _as_given(v) for k, v in value.items()}
    return {"not_recorded": f"{type(value).__module__}.{type(value).__qualname__}"}


def new_entry(session: Session, kind: str, info: ModelInfo, endpoint: str, params: dict[str, Any],
              call: HttpCall | None, thread: str | None, text: str) -> HistoryEntry:
    """A ``running`` history entry for a call about to be sent."""
    return HistoryEntry(session_id=session.id, started=time.time(), mode=session.mode, kind=kind, model=info.id,
                        endpoint=endpoint, params=params, request=call.describe() if call else {},
                        status="running", thread=thread, text=text)


def replayed(session: Session, kind: str, info: ModelInfo, endpoint: str, params: dict[str, Any],
             call: HttpCall | None = None) -> HistoryEntry:
    """The recorded twin of a call, or :class:`ReplayMissError` naming the nearest recording (under
    :meth:`Session.estimate`, neither: the call's price, as in any mode)."""
    from ..history._replay import pick_recording

    _budget.dry_run(session, kind, info, params, call)
    store = session.store
    key = store.key_for(kind, info.id, endpoint, params)
    turn = session.replay_turns.get(key, 0)
    chosen = pick_recording(_candidates(session, kind, key), turn)
    if chosen is None:  # then under the model's other '.'/'-' spellings, as earlier versions may have recorded it
        key, turn, chosen = _under_other_spellings(session, kind, info, endpoint, params) or (key, turn, None)
    if chosen is not None:
        session.replay_turns[key] = turn + 1
        session.replay_position = max(session.replay_position or 0, chosen)
        entry = store.get(chosen).bind(store, session)
        _budget.replay_spent(session, entry)
        return entry
    refused = _recorded_budget_refusal(session, kind, info.id) or _budget.replay_refusal(session, kind, info, params,
                                                                                           call)
    if refused is not None:
        mark_recorded(refused)  # (a replay records nothing; the recording kept its refusal)
        raise refused
    # recorded with no answer (stopped, failed): said as such. The nearest below looks at ``ok`` rows first, so with
    # any other call answered it said "never recorded" and named a row that differs
    same = store.select_entries([("replay_key = ?", (key,)), ("status != ?", ("ok",)), ("endpoint != ?", ("",))],
                                desc=True, limit=1)
    if same:
        raise _recorded_stop(same[0]) or recorded_stream_error(same[0].bind(store, session)) \
            or _unanswered(kind, same[0].bind(store, session))
    nearest, diffs = store.nearest(kind, info.id, params, endpoint)
    if nearest is not None and not diffs and nearest.status != "ok":
        raise _unanswered(kind, nearest)
    msg = f"Replay mode: this {kind} call to {info.id} was never recorded in {store.root}."
    if nearest is not None:
        msg += (f" The nearest recording is history #{nearest.id} ({nearest.kind}, {nearest.model}); "
                "it differs in: " + ("; ".join(diffs[:8]) or "nothing visible (check inputs)") + ".")
    else:
        msg += f" There is no recorded {kind} call at all."
    raise ReplayMissError(msg, nearest=nearest, differences=diffs)


def _candidates(session: Session, kind: str, key: str) -> list[tuple[int, str]]:
    """The recordings of a call, oldest first: its ``ok`` rows, and for a video also its task rows still pending
    (a wait interrupted or timed out and never resumed): the recording holds the task as far as it went, which a
    replay shows (``video.replay_task``), rather than a miss; and its creates interrupted before their task id
    came back, which a replay stops again (so the notebook's next create, run again, replays as its own row)."""
    store = session.store
    if kind != "video":
        return store.replay_candidates(key)
    rows = store.select([("replay_key = ?", (key,)),
                         ("(status = 'ok' OR (status = 'pending' AND json_extract(response, '$.task_id') IS NOT NULL)"
                          " OR (status = 'interrupted' AND json_extract(response, '$.task_id') IS NULL))", ())],
                        columns="id, session_id")
    return [(int(r[0]), str(r[1] or "")) for r in rows]


def _recorded_budget_refusal(session: Session, kind: str, model: str) -> BudgetExceededError | None:
    """The budget's refusal of this call as the recording kept it (the row right after the last replayed one, in the
    same recording session, a refusal of this kind and model by the budget): raised again word for word, and the
    replay's position moves past it (its history views show it, as they did when recorded)."""
    at = session.replay_position
    if at is None:
        return None
    store = session.store
    rows = store.select_entries([("id > ?", (at,))], limit=1)
    if not rows:
        return None
    row = rows[0]
    error = row.error or {}
    if row.kind != kind or row.model != model or row.status != "error" or row.endpoint \
            or error.get("error") != "BudgetExceededError" or row.session_id != store.get(at).session_id:
        return None
    session.replay_position = row.id
    message = error.get("message")
    hint = error.get("hint")
    return BudgetExceededError(str(message) if message else f"Not sent: this {kind} call would cross the budget.",
                               hint=str(hint) if isinstance(hint, str) and hint else None)


def _recorded_stop(entry: HistoryEntry) -> BaseException | None:
    """How the recording's call of ``entry`` was stopped before it had an answer, to be raised again: the cancel of
    the task that awaited it, or the Ctrl-C with the words it said then (:data:`loop.STOP_SAID`); None when the row
    does not say (a row from before these were kept, or not stopped)."""
    from ..errors import one_line
    from .loop import CANCELLED, STOP_SAID, ReplayedInterrupt, replayed_cancel

    response = entry.response if isinstance(entry.response, dict) else {}
    if entry.status != "interrupted":
        return None
    stop: ReplayedInterrupt | None = None
    if response.get(CANCELLED) is True:  # (awaited: the cancel again; sync: a stop that says so)
        stop = replayed_cancel(entry.kind, entry.id)
    said = response.get(STOP_SAID)
    if stop is None and isinstance(said, str) and said.strip():  # (an imported row's text: one clean line, no key)
        stop = ReplayedInterrupt(one_line(redact(said), 1000, kept_in=None))
    if stop is not None:
        stop.entry = entry
    return stop


def recorded_stream_error(entry: HistoryEntry) -> StreamError | None:
    """The :class:`StreamError` a recorded chat stream broke with (an error frame, a cut connection, a stall), to be
    raised again with its words: the replay re-enacts what the recording showed, as it does a stop, rather than
    saying it has no answer. Its ``replayed_entry`` is the row (the caller shows ``on_delta`` what had arrived and
    sets ``partial_text``); None when the row is no such failure."""
    error = entry.error if isinstance(entry.error, dict) else {}
    if entry.kind != "chat" or entry.status != "error" or error.get("error") != "StreamError":
        return None

    def said(key: str) -> str | None:
        value = error.get(key)
        return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else None

    status = error.get("status")
    err = StreamError(said("message") or "The stream stopped before it was complete.",
                      hint=error.get("hint") if isinstance(error.get("hint"), str) else None,
                      status=status if isinstance(status, int) and not isinstance(status, bool) else None,
                      code=said("code"), request_id=said("request_id"))
    err.replayed_entry = entry  # type: ignore[attr-defined]
    mark_recorded(err)  # (a replay records nothing)
    return err


def _unanswered(kind: str, entry: HistoryEntry) -> ReplayMissError:
    """The miss of a call recorded as ``entry`` with no answer to give back (pending, failed, interrupted): its
    state and the way to an answer, not "differs in: nothing visible", which sends the user hunting for a typo."""
    task = (entry.response or {}).get("task_id") if isinstance(entry.response, dict) else None
    if entry.status == "pending" and isinstance(task, str):
        return ReplayMissError(
            f"Replay mode: this {kind} call is history #{entry.id}, still pending there: no answer was recorded.",
            nearest=entry, hint=f"Finish it in live or offline mode (session.resume({task!r}), or "
                                f"history.get({entry.id}).resume()), then replay.")
    kept = isinstance(entry.response, dict) and entry.response.get("partial") is True
    return ReplayMissError(
        f"Replay mode: this {kind} call is history #{entry.id}, recorded as {entry.status}: there is no "
        f"{'whole ' if kept else ''}answer to replay.", nearest=entry,
        hint=(f"What had arrived of it is in session.history.get({entry.id}).text. " if kept else "")
        + "Run it once more in live or offline mode to record an answer.")


def _under_other_spellings(session: Session, kind: str, info: ModelInfo, endpoint: str,
                           params: dict[str, Any]) -> tuple[str, int, int] | None:
    """(key, turn, entry id) of a recording of this call under another spelling of its model, or None."""
    from ..history._replay import pick_recording
    from .models import other_spellings

    store = session.store
    for mid, other in other_spellings(info, params):
        key = store.key_for(kind, mid, endpoint, other)
        turn = session.replay_turns.get(key, 0)
        chosen = pick_recording(store.replay_candidates(key), turn)
        if chosen is not None:
            return key, turn, chosen
    return None


def incoming(session: Session) -> Path:
    """The folder downloads land in before they move into the store."""
    folder = session.store.artifacts_dir / "incoming"
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def _extras(extra: dict[str, Any]) -> dict[str, Any]:
    """An output's extra fields (an image's revised prompt) as its row keeps them: the result built from the output
    dict is shown at once, and a relay may have echoed the key in that text."""
    return {k: received_text(v) if isinstance(v, str) else v for k, v in extra.items() if v is not None}


#: A media type as RFC 6838 spells one (``video/mp4``, ``audio/x-wav``); a Content-Type holding anything else
#: (quotes, markup, spaces) is a server's garbage, never copied into the history as the file's type.
_MIME_TOKEN = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


async def store_download(session: Session, url: str, mime_hint: str, role: str, **extra: Any) -> dict[str, Any]:
    """Download an output into the store right away (vendor links expire) → an output dict."""
    kind = mime_hint.split("/")[0]
    try:
        dl = await session.client.download(url, incoming(session), suffix=ext_for(mime_hint),
                                           expect=kind if kind in ("image", "video", "audio") else None)
    except OSError as exc:  # the store's disk is full, or its folder cannot be written: say which and what to do
        raise session.store.problem(exc) from exc
    declared = dl.content_type  # (a header: kept only when it is a well-formed type of the kind asked for)
    mime = declared if _MIME_TOKEN.fullmatch(declared) and declared.split("/")[0] == mime_hint.split("/")[0] \
        else mime_hint
    if kind in ("image", "audio", "video") or mime in ("application/octet-stream", "binary/octet-stream", ""):
        from ..client._download import raster_mime, video_mime
        from ..families.audio import sniff_audio

        with open(dl.path, "rb") as f:
            head = f.read(64)
        # an image (it passed the raster check) or a sound its header names is the type its own bytes say, never
        # the Content-Type it was sent with: a WAV sent as audio/mpeg was kept, played and saved as an .mp3; a
        # video keeps a declared type of its own container family (an MP4 sent as video/quicktime)
        own = raster_mime(head) if kind == "image" else sniff_audio(head) if kind == "audio" else \
            _video_type(video_mime(head), mime) if kind == "video" else None
        mime = own or (sniff_mime(head, mime_hint) if mime in ("application/octet-stream", "binary/octet-stream",
                                                                 "") else mime)
    # on the loop: the download is hashed already and lands beside the store, so this is a rename (no fsync);
    # an image's thumbnail is started here too, on the store's background worker
    art = session.store.add_file(dl.path, mime, sha256=dl.sha256)
    return {**art.as_dict(), "role": role, **_extras(extra)}


#: Video types that name one container family: a declared type of the family its bytes are is kept.
_VIDEO_FAMILIES = ({"video/mp4", "video/quicktime", "video/x-m4v", "video/3gpp", "video/3gpp2"},
                   {"video/webm", "video/x-matroska"})


def _video_type(own: str | None, declared: str) -> str | None:
    """A downloaded video's type: the one its bytes say (a WebM sent as video/mp4 was kept and saved as an .mp4),
    or the declared one when it names the same container family."""
    if own is None or any(own in family and declared in family for family in _VIDEO_FAMILIES):
        return declared if own is not None else None
    return own


#: Outputs larger than this are hashed and written off the loop (other calls in flight keep going meanwhile).
BIG_OUTPUT = 256 * 1024


#: Key of an output dict whose text could not be stored (its value: why); :meth:`Recording.ok` leaves it out.
UNSAVED = "_unsaved"


def store_bytes(session: Session, data: bytes, mime: str, role: str, **extra: Any) -> dict[str, Any]:
    """Put an output's bytes in the store → an output dict (its metadata row lands with the call's row).

    An output the store cannot take (disk full…) is still returned, marked :data:`UNSAVED` (left out of the row):
    a text's result holds the text (the row keeps it in ``text``); media bytes are kept outside the store for this
    process (:meth:`Store.keep_unsaved`), else the StoreError is raised.
    """
    try:
        art = session.store.add_bytes(data, mime, register_now=False)
    except StoreError as err:
        if mime.startswith("text/"):
            return {"sha256": hashlib.sha256(data).hexdigest(), "mime": mime, "size": len(data), "name": "",
                    "role": role, UNSAVED: str(err), **_extras(extra)}
        try:
            art = session.store.keep_unsaved(data, mime)
        except OSError:
            raise err from err.__cause__  # the store's own failure, not the temp folder's
        return {**art.as_dict(), "role": role, UNSAVED: str(err), **_extras(extra)}
    return {**art.as_dict(), "role": role, **_extras(extra)}


async def astore_bytes(session: Session, data: bytes, mime: str, role: str, **extra: Any) -> dict[str, Any]:
    """:func:`store_bytes` for outputs that may be large (inline images, audio): big ones go to a thread."""
    if len(data) <= BIG_OUTPUT:
        return store_bytes(session, data, mime, role, **extra)
    return await session.store.to_thread(functools.partial(store_bytes, session, data, mime, role, **extra))


async def send_recorded(session: Session, kind: str, info: ModelInfo, params: dict[str, Any], call: HttpCall,
                        finish: Callable[[Recording, Response], Awaitable[Result]], *,
                        thread: str | None = None, text: str = "") -> Result:
    """Record, send, let ``finish`` parse + store + build the result; record errors and re-raise."""
    rec = Recording(session, new_entry(session, kind, info, endpoint_name(call), params, call, thread, text),
                    await _budget.priced(session, info), call)
    resp: Response | None = None
    try:
        resp = await session.client.send(call)
        release_slot()
        return await finish(rec, resp)
    except BaseException as exc:
        kept = (keep_unread(session, resp) if resp is not None and isinstance(exc, APIError)
                else keep_cut(session, exc) if resp is None else []) if not rec.entry.outputs else []
        if kept:
            rec.fail(exc, outputs=kept)
        else:
            rec.fail(exc)
        raise
