"""Video tasks: create (recorded as pending at once), poll to the end, download the video and a poster, resume."""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from .. import catalog
from .. import cost as _cost
from .._config import redact
from .._inputs import Media, to_media, to_media_list
from .._progress import Progress
from .._timeout import within
from ..catalog import ModelInfo
from ..client._download import OVER_CAP
from ..errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    DownloadError,
    InputError,
    NotFoundError,
    ReplayMissError,
    StoreError,
    TaskFailedError,
    TokenhotError,
    UnknownModelError,
)
from ..families._types import TaskState, TaskStatus
from ..results import VideoResult, VideoTask, from_entry
from ..results._rebuild import RebuildError
from . import budget as _budget
from .checks import body_extra, check_text
from .inputs import store_media
from .loop import (
    CANCELLED,
    STOPPED_KEPT,
    STOPPED_WITH,
    Interrupted,
    ReplayedInterrupt,
    call_user,
    hop,
    in_background_loop,
    replayed_cancel,
    resume_hint,
    stopped_row,
    stopped_rows,
)
from .models import seed_for
from .recording import (
    Recording,
    drop_none,
    endpoint_name,
    incoming,
    json_object,
    mark_recorded,
    new_entry,
    replayed,
    store_download,
    unrecorded_why,
    warn_unrecorded,
)

log = logging.getLogger("tokenhot_nb")

if TYPE_CHECKING:
    from ..client import RetryPolicy
    from ..history import HistoryEntry
    from ..results._base import Result
    from .core import Session


#: The key of a video row's ``response`` keeping every status its task was seen in: the create's answer first, then
#: each poll, as ``[state, progress, raw_status]`` (a 4th item counts the same status seen that many polls in a row).
#: A replay plays them back, so ``wait=False``, ``task.status()``, ``on_progress`` and the bar see what the
#: recording saw. A row without it (an older store) replays as done at once.
STATES = "states"

#: A replayed row may say anything: more statuses than this is not a recording of a wait (it is replayed as done).
_MAX_STATES = 100_000

#: The key of a video row's ``response`` keeping how each wait that did not end with the video ended, in order:
#: ``[at, error]``, ``at`` the number of statuses :data:`STATES` held then (the wait stopped after showing the
#: ``at``-th), ``error`` what it raised (``TokenhotError.to_dict()``, or ``{"error": "KeyboardInterrupt"}`` for an
#: interrupt). A replay raises it again at the same status: a wait that timed out, or was interrupted, in the
#: recording shows the same progress and stops with the same error in its replay. Written (``[]``) from the
#: create on, so a row without it is an older version's (:func:`row_ends`: what its status and error tell).
ENDS = "ends"

#: What :data:`ENDS` records of an interrupt (Ctrl-C, a cancelled wait): the replay raises one again, and the
#: front door says it as the recording's did (``loop.interrupt_message``).
_INTERRUPT = "KeyboardInterrupt"

#: The names an older row's ``error`` gives an interrupt (before :data:`ENDS`, the stop was only the row's error).
_INTERRUPT_NAMES = frozenset({_INTERRUPT, "CancelledError", "Interrupted"})

#: The key of an interrupted create's ``response`` saying its request was never handed to the network (``False``;
#: absent: it may have been), so a replay says the stop as the recording's did (``loop.stopped_row``).
SENT = "sent"


def note_state(states: list[list[Any]], st: TaskStatus) -> None:
    """Add one status seen to a row's :data:`STATES` (run-length: a long wait stays a short list)."""
    item: list[Any] = [st.state, st.progress, st.raw_status]
    last = states[-1] if states else None
    if last is not None and last[:3] == item:
        if len(last) > 3:
            last[3] += 1
        else:
            last.append(2)
    else:
        states.append(item)


def recorded_states(task_id: str, response: dict[str, Any]) -> list[TaskStatus]:
    """The statuses a row's :data:`STATES` keeps, one per poll; [] when it keeps none (or anything unexpected)."""
    kept = response.get(STATES)
    if not isinstance(kept, list):
        return []
    out: list[TaskStatus] = []
    for item in kept:
        if not isinstance(item, list) or len(item) not in (3, 4):
            return []
        state, progress, raw = item[:3]
        n = item[3] if len(item) == 4 else 1
        if state not in get_args(TaskState) or not _whole(progress) \
                or not (raw is None or isinstance(raw, str)) or not _whole(n) or n < 1 or len(out) + n > _MAX_STATES:
            return []
        out += [TaskStatus(task_id, state, progress, raw_status=raw) for _ in range(n)]
    return out


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seen(states: list[list[Any]] | None) -> int:
    """How many statuses a row's :data:`STATES` holds, counting each repeat (a replay's position in them)."""
    return sum(i[3] if len(i) == 4 and _whole(i[3]) else 1 for i in states or [] if isinstance(i, list))


def recorded_ends(response: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """The :data:`ENDS` a row keeps, in order; [] when it keeps none (or anything unexpected)."""
    kept = response.get(ENDS)
    if not isinstance(kept, list):
        return []
    out: list[tuple[int, dict[str, Any]]] = []
    for item in kept:
        if not isinstance(item, list) or len(item) != 2 or not _whole(item[0]) or item[0] < 0 \
                or not isinstance(item[1], dict) or not isinstance(item[1].get("error"), str):
            return []
        out.append((item[0], item[1]))
    return out


def row_ends(entry: HistoryEntry, states: int) -> tuple[list[tuple[int, dict[str, Any]]], bool]:
    """How the waits on a row's task ended, and whether the row can tell (``states``: how many it keeps).

    A row written before :data:`ENDS` existed keeps none: a task left ``pending`` keeps the error of its last
    wait as the row's ``error``, which ended after every status the row keeps (earlier stops are unknown); a
    finished one (``ok``) had any error cleared, so whether a wait on it stopped early cannot be known."""
    response = entry.response or {}
    if ENDS in response:
        return recorded_ends(response), True
    error = entry.error if isinstance(entry.error, dict) else {}
    name = error.get("error")
    if entry.status == "pending" and isinstance(name, str) and name:
        return [(states, {"error": _INTERRUPT} if name in _INTERRUPT_NAMES else error)], True
    return [], entry.status != "ok"


def _ends_unknown(entry: HistoryEntry) -> None:
    """Say, once per line of the user's code, that a finished row cannot tell how its recorded waits ended."""
    from .._warn import warn

    task_id = (entry.response or {}).get("task_id")
    warn(f"Replay: history #{entry.id} (video task {task_id}) was recorded before tokenhot_nb kept how each wait "
         "on a task ended, so a wait on it that stopped early in the recording (a timeout, a Ctrl-C) cannot be "
         "told apart here: this replay plays the task to its end (a new recording keeps them).")


def _row_response(session: Session, task: VideoTask) -> dict[str, Any]:
    """The task row's ``response`` as the store holds it now: another handle on the task (a resume) may have added
    to it since this one read it. (Read and written on the loop thread with no await between: no one else
    writes in between.)"""
    if task.entry_id is not None:
        try:
            return dict(session.store.get(task.entry_id).response or {})
        except (StoreError, KeyError):
            pass
    return dict((task.entry.response if task.entry is not None else None) or {})


def _note_end(session: Session, task: VideoTask, exc: BaseException) -> dict[str, Any] | None:
    """The task row's ``response`` with how this wait ended added to its :data:`ENDS` (None: nothing to add)."""
    if task.entry is None:
        return None
    if isinstance(exc, TokenhotError):
        said: dict[str, Any] = drop_none(exc.to_dict())  # (an APIError's status and request id too)
    elif isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, Interrupted)):
        said = {"error": _INTERRUPT}
    else:
        return None
    response = _row_response(session, task)
    states = task._states if task._states is not None else response.get(STATES)
    ends = [i for i in response.get(ENDS) or [] if isinstance(i, list)]
    response[ENDS] = [*ends, [_seen(states if isinstance(states, list) else None), said]]
    return response


def _recorded_error(said: dict[str, Any]) -> TokenhotError | KeyboardInterrupt:
    """An error :data:`ENDS` kept, made again: its class (a TokenhotError's, by name), message and hint."""
    from .. import errors

    if said.get("error") == _INTERRUPT:
        return KeyboardInterrupt()
    cls = getattr(errors, str(said.get("error")), None)
    message, hint = str(said.get("message") or ""), said.get("hint")
    hint = hint if isinstance(hint, str) else None
    if isinstance(cls, type) and issubclass(cls, TokenhotError):
        try:
            err: TokenhotError = cls(message, hint=hint)
        except TypeError:  # (a class built from other fields: its message and hint, said as a TokenhotError)
            err = TokenhotError(message, hint=hint)
    else:
        err = TokenhotError(message, hint=hint)
    if isinstance(err, APIError):
        for field in ("status", "code", "type", "request_id"):
            value = said.get(field)
            if value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)):
                setattr(err, field, value)
    return err


@dataclass
class ReplayPlan:
    """A replayed task's recorded statuses (played back from ``session.replay_polls[entry.id]``), its row, how
    its recorded waits ended (:data:`ENDS`) and the video it ends with: None for a task the recording never
    finished (its row is still pending there)."""

    states: list[TaskStatus]
    entry: HistoryEntry
    end: VideoResult | None
    ends: list[tuple[int, dict[str, Any]]]
    #: a recorded end is being raised (set by :func:`_replay_stop`): the stop is the recording's, not a real one
    stopping: bool = False


def replay_task(session: Session, entry: HistoryEntry, res: VideoResult | None, prompt: str, *,
                created: bool) -> VideoTask:
    """The handle a replay gives for a recorded video row: where the recording's task was at this point.

    ``created``: the call that made the task is being replayed (its statuses play from the start); else a
    ``resume`` picks up where this session's playback stopped (an interrupted wait), or, when none was played or
    it was played to the end, the task is done at once, as a resume of a finished task is. ``res`` None: the
    recording never finished the task (pending); its handle plays what was recorded, and stays where it stopped.
    """
    response = entry.response or {}
    task_id = str((res.task_id if res is not None else None) or response.get("task_id") or "")
    task = VideoTask(session, task_id, model=entry.model, entry=entry, prompt=prompt)
    states = recorded_states(task_id, response)
    ends, known = row_ends(entry, len(states))
    if created and not known:
        _ends_unknown(entry)
    if created and entry.id is not None and (states or res is None):
        session.replay_polls[entry.id] = 1 if states else 0  # (the first is the create's answer)
        session.replay_ends[entry.id] = 0
    at = session.replay_polls.get(entry.id) if entry.id is not None else None
    if res is not None and (not states or at is None or at >= len(states)):
        task._result = res
        return task
    if at is None and entry.id is not None:  # a pending task never played here: where the recording left it
        at = session.replay_polls[entry.id] = len(states)
        session.replay_ends.setdefault(entry.id, len(ends))
    if created and states and at:
        task.last = states[at - 1]  # (a resume's handle knows only its row, as a live resume's does)
    task._replay = ReplayPlan(states, entry, res, ends)
    task.entry = _as_created(entry, states[0]) if states and (created or res is not None) else entry
    return task


def _as_created(entry: HistoryEntry, first: TaskStatus) -> HistoryEntry:
    """The row as it was while its task ran (pending, the create's answer): what ``task.entry`` showed then."""
    view = copy.copy(entry)
    response = entry.response or {}
    view.status = "pending"
    view.response = drop_none({"task_id": response.get("task_id"), "request_id": response.get("request_id"),
                               "status": first.raw_status or first.state, "other_ratios": response.get("other_ratios")})
    view.usage, view.outputs, view.error = {}, [], None
    return view


def named_inputs(image: Any, images: Any, last_frame: Any, references: Any) -> tuple[Any, Any]:
    """``last_frame=`` and ``references=`` as the ``(image, images)`` the body is built from, the way
    ``%%th_video --image A --last B --ref C`` gives them: with a last frame both frames say their role (a first
    frame alone stays ``image``), each reference says ``reference_image`` (untagged, one or two images would be
    taken for frames). ``images`` given as well come between the frames and the references."""
    if last_frame is None and references is None:
        return image, images
    if last_frame is not None and image is None:
        raise InputError("last_frame= needs image= (the first frame) too.",
                         hint="s.video('…', image=first, last_frame=last), on a model that takes a last frame.")
    given = list(images) if isinstance(images, (list, tuple)) and not _is_pair(images) else (
        [images] if images is not None else [])
    frames: list[Any] = []
    if last_frame is not None:
        frames = [{"image": image, "role": "first_frame"}, {"image": last_frame, "role": "last_frame"}]
        image = None
    refs = list(references) if isinstance(references, (list, tuple)) and not _is_pair(references) else (
        [references] if references is not None else [])
    return image, [*frames, *given, *({"image": r, "role": "reference_image"} for r in refs)]


def _is_pair(value: Any) -> bool:
    """One ``(bytes, mime)`` input, not a list of two."""
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (bytes, bytearray))


def _inputs(session: Session, kw: dict[str, Any], info: ModelInfo
            ) -> tuple[list[Media], list[Media], list[str | None], list[Media], list[Media]]:
    """(first frame(s), more images, their roles, source videos, reference audios) from ``image=``, ``images=``,
    ``video=`` and ``audio=`` (each video/audio: one input or a list)."""
    store = session.store
    first = [store_media(session, m) for m in to_media_list(kw.pop("image", None), "image", store)]
    # images=[…] may say what each one is for: {"image": <input>, "role": "last_frame"}
    more_in = kw.pop("images", None) or []
    roles: list[str | None] = []
    more_m: list[Media] = []
    for it in more_in if isinstance(more_in, (list, tuple)) else [more_in]:
        role = it.get("role") if isinstance(it, dict) and "image" in it else None
        got = [to_media(it["image"], "image", store)] if role else to_media_list(it, "image", store)
        more_m += [store_media(session, m) for m in got]
        roles += [role] * len(got)
    vids = [store_media(session, m) for m in _media_list(kw.pop("video", None), "video", session, info)]
    auds = [store_media(session, m) for m in _media_list(kw.pop("audio", None), "audio", session, info)]
    return first, more_m, roles, vids, auds


def _media_list(value: Any, kind: Any, session: Session, info: ModelInfo) -> list[Media]:
    if _is_pair(value):
        return [to_media(value, kind, session.store)]  # one (bytes, mime) pair, not a list of two
    if info.can("media_urls_only"):  # the service fetches input videos itself: an earlier result goes by its link
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, VideoResult) and v.url for v in values):
            return [m for v in values for m in (
                [Media(None, v.mime, url=v.url)] if isinstance(v, VideoResult) and v.url
                else to_media_list(v, kind, session.store))]
    return to_media_list(value, kind, session.store)


def _one_or_list(refs: list[Any]) -> Any:
    return refs[0] if len(refs) == 1 else (refs or None)


async def video_one(session: Session, prompt: Any, info: ModelInfo, kw: dict[str, Any], *, wait: bool,
                    on_progress: Callable[[TaskStatus], Any] | None = None,
                    bar: Progress | None = None) -> Result:
    from ..families import video as vfam

    check_text(prompt, "prompt", "s.video('a paper boat on a river')", empty_ok=True,  # an image alone may do
               media_hint="Pass the first frame as image=…: s.video('what happens', image=img).")

    kw = dict(kw)
    headers, raw = kw.pop("headers", None), kw.pop("raw", None)
    first, more_m, roles, vids, auds = _inputs(session, kw, info)
    seed = seed_for(session.seed, info, kw.pop("seed", None))
    named = {k: kw.pop(k, None) for k in ("duration", "resolution", "ratio")}
    kw = vfam.check_options(info, kw)  # e.g. audio_setting, where the model lists its values (extra={…}: unchecked)
    params = drop_none({
        "prompt": prompt, "model": info.ref,
        "image": first[0].ref() if len(first) == 1 else ([m.ref() for m in first] or None),
        "images": [{"image": m.ref(), "role": r} if r else m.ref() for m, r in zip(more_m, roles, strict=True)]
        or None,
        "video": _one_or_list([m.ref() for m in vids]), "audio": _one_or_list([m.ref() for m in auds]),
        **named, "seed": seed, **kw, "raw": raw,
    })
    wire: list[Any] = [m.wire() for m in first]
    wire += [{"image": m.wire(), "role": r} if r else m.wire() for m, r in zip(more_m, roles, strict=True)]
    call = vfam.build_create(info, prompt, images=wire, video=_one_or_list([m.wire() for m in vids]),
                             audio=_one_or_list([m.wire() for m in auds]), seed=seed,
                             extra=body_extra(kw), raw=raw, **named)
    call.headers.update(headers or {})
    ep = endpoint_name(call)
    if session.mode == "replay":
        entry = replayed(session, "video", info, ep, params, call)
        if entry.status == "interrupted":  # stopped before its task id came back: the same stop, said the same way
            await _stopped_create(entry)
        res = from_entry(entry, session) if entry.status == "ok" else None  # (pending: never finished there)
        if res is not None and not isinstance(res, VideoResult):
            return res
        task = replay_task(session, entry, res, prompt, created=True)
        task.model = info.id
        if task._result is not None:  # no statuses recorded (an older store): done at once
            return task._result if wait else task
        if not wait:
            return task
        return await await_task(session, task, on_progress=on_progress, bar=bar)
    rec = Recording(session, new_entry(session, "video", info, ep, params, call, None, prompt),
                    await _budget.priced(session, info), call)
    try:
        resp = await session.client.send(call)
        body = json_object(resp, info.id)
        try:
            st = vfam.parse_create(body)
        except APIError as exc:  # no task id: an error envelope sent with a 2xx is the relay's refusal
            raise _refused_create(session, resp, body) or exc from None
    except BaseException as exc:
        rec.fail(exc, **_unsent(exc), **_refused_cost(session, exc))
        raise
    states: list[list[Any]] = []
    note_state(states, st)
    response = drop_none({"task_id": st.task_id, "request_id": resp.request_id, "status": st.raw_status or st.state,
                          "other_ratios": vfam.parse_other_ratios(resp.headers), STATES: states, ENDS: []})
    if st.state == "failed":  # the create's own answer says so (a 200): no task to wait for, refunded like any failed
        err = TaskFailedError(st.task_id, st.error or "", code=st.error_code)
        rec.fail(err, status="error", response=drop_none({**response, "error_code": st.error_code}))
        raise err
    rec.update(status="pending", response=response)
    task = VideoTask(session, st.task_id, model=info.id, entry=rec.final(), prompt=prompt)
    task.last = st
    task._states = states
    if not wait:
        return task
    return await await_task(session, task, on_progress=on_progress, bar=bar)


def _refused_create(session: Session, resp: Any, body: dict[str, Any]) -> APIError | None:
    """A create answered 2xx with an error envelope and no task id (``{"error": {…}}``, §1.4.1; the task envelope
    ``{"code", "message"}``, §1.4.3): the relay's error, typed and worded as the same envelope with an error status
    would be, in one line. No task was made, so nothing runs, and new-api refunds what it pre-charged at submit
    (§4.1). None when the body is no error envelope (the caller's "no task id" stands)."""
    from ..client._errors import error_from_response

    err = body.get("error")
    code = body.get("code")
    enveloped = (isinstance(err, dict) and bool(err)) or (isinstance(err, str) and bool(err.strip())) or (
        code not in (None, "", "success", 0, "0") and isinstance(body.get("message"), str)
        and not body.get("data"))
    if not enveloped:
        return None
    said = error_from_response(resp.status, resp.headers, resp.content, secrets=session.client._secrets)
    refused = type(said)(
        f"The relay refused the video create: {said.message}", status=said.status, code=said.code, type=said.type,
        request_id=said.request_id or resp.request_id, body=said.body,
        hint=" ".join(["No task was made (the answer named no task id), so nothing is running and nothing is "
                       "charged (the relay refunds a create it refused).",
                       said.hint or "Fix what the relay says, then call again."]))
    refused.refused_create = True  # type: ignore[attr-defined]
    return refused


def _refused_cost(session: Session, exc: BaseException) -> dict[str, Any]:
    """The row of a refused create (:func:`_refused_create`) says it was not charged, not "cost unknown"."""
    if not getattr(exc, "refused_create", False):
        return {}
    return {"usage": {"cost": _cost.not_charged("not charged: the relay refused the create (no task was made)",
                                                simulated=_budget.simulated(session)).as_dict()}}


async def _stopped_create(entry: HistoryEntry) -> None:
    """Replay a create the recording's Ctrl-C stopped before its task id came back: the same interrupt, with the
    words the recording's got (``loop.stopped_row``, for the row as recorded). Raised on the caller's side, as a
    recorded wait's interrupt is (:func:`_replay_stop`): raised on the loop, it would stop the loop."""
    response = entry.response if isinstance(entry.response, dict) else {}
    group, kept = response.get(STOPPED_WITH), response.get(STOPPED_KEPT)
    if isinstance(group, list) and group and all(type(i) is int for i in group) and (len(group) > 1 or kept):
        # (with others, stopped or ended: a compare's or a batch's)
        said = stopped_rows(sorted(group), _group_sent(entry, group),
                            kept=[i for i in kept if type(i) is int] if isinstance(kept, list) else None)
    else:
        said = stopped_row(entry, [] if response.get(SENT) is False else None)

    cancelled = response.get(CANCELLED) is True  # the task that awaited it was cancelled: so is the replay's

    def stop(_st: TaskStatus) -> None:
        if cancelled:  # (awaited: the cancel again; sync: a stop that says so, not a bare CancelledError)
            raise replayed_cancel(entry.kind, entry.id)
        raise ReplayedInterrupt(said)

    await _ran_in_caller(stop, TaskStatus("", "pending", 0))
    raise asyncio.CancelledError  # (not reached: the caller's interrupt cancels this call)


def _group_sent(entry: HistoryEntry, group: list[int]) -> bool:
    """Whether a request of the calls one stop ended (rows ``group``) may have gone out: not when each of their rows
    says its request never did."""
    store = entry.store
    if store is None:
        return True
    for i in group:
        try:
            response = store.get(i).response
        except Exception:  # a row gone (deleted since): it may have been sent
            return True
        if not (isinstance(response, dict) and response.get(SENT) is False):
            return True
    return False


def _unsent(exc: BaseException) -> dict[str, Any]:
    """An interrupted create whose request was never handed to the network keeps that in its row (:data:`SENT`):
    the stop said so ("nothing is charged"), and its replay says it again."""
    from ..client._client import PAID_SENT

    if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, Interrupted)) and PAID_SENT.get() == []:
        return {"response": {SENT: False}}
    return {}


def poll_style(model_id: str) -> str:
    try:
        info = catalog.model(model_id)
    except (UnknownModelError, ValueError):
        return "generations"
    return "videos" if info.endpoints and info.endpoints[0] == "videos" else "generations"


#: Task-envelope codes saying the relay has no such task (for this key): §1.4.3, §10.3.
_NOT_FOUND = ("task_not_exist", "task_not_found")


async def poll_task(session: Session, task: VideoTask) -> TaskStatus:
    """One status request for a task."""
    from ..families import video as vfam

    if session.mode == "replay":
        plan = task._replay
        if plan is not None and plan.entry.id is not None:  # the next status the recording saw, no network asked
            at = session.replay_polls.get(plan.entry.id, 1)
            if at < len(plan.states):
                session.replay_polls[plan.entry.id] = at + 1
                task.last = st = copy.copy(plan.states[at])
                quota = (plan.entry.response or {}).get("quota")
                if st.state == "succeeded" and _whole(quota):
                    st.quota = quota
                return st
            if plan.end is None:  # the recording never saw more of it: it stays where it was last seen
                task.last = copy.copy(plan.states[-1]) if plan.states else TaskStatus(task.task_id, "pending", 0)
                return task.last
        if task._result is not None or plan is not None:  # a replayed task: its recorded end is where it is
            row = plan.entry if plan is not None else task.entry  # (the finished row, not the view as created)
            response = (row.response if row is not None else None) or {}
            quota = response.get("quota")
            task.last = TaskStatus(task.task_id, "succeeded", 100, raw_status=response.get("status"),
                                   quota=quota if isinstance(quota, int) and not isinstance(quota, bool) else None)
            return task.last
        raise ReplayMissError(f"Replay mode cannot poll video task {task.task_id}: it never calls the network.")
    limit = status_limit(session)
    try:
        try:
            resp = await within(session.client.send(vfam.build_poll(task.task_id, poll_style(task.model))), limit)
        except asyncio.TimeoutError:
            raise _status_overran(task, limit) from None
        except APITimeoutError as exc:  # (the client's own timeout came first: said the same way, with its words)
            raise _status_overran(task, limit, exc.message) from None
        body = json_object(resp, task.model or "The video service")
        if body.get("code") in _NOT_FOUND and body.get("data") is None:  # said with a 2xx: no task, not a failed one
            raise APIError(str(body.get("message") or body["code"]), status=resp.status, code=str(body["code"]),
                           request_id=resp.request_id)
    except APIError as exc:
        if (exc.status == 404 or exc.code in _NOT_FOUND) and _only_created(session, task):
            raise NotFoundError(  # (a wait polls it again: _poll_until_done)
                f"The relay does not know video task {task.task_id} yet: it was created, and no status has come "
                "back since.", status=exc.status, code=exc.code, request_id=exc.request_id,
                hint="The relay may write a task just after it answers its create: ask again in a moment "
                     "(task.wait() polls until it appears).") from None
        if exc.status == 404 or exc.code in _NOT_FOUND:
            raise NotFoundError(
                f"No video task with id {task.task_id!r} on {session.client.base_url} "
                "(wrong id, key or base URL?).", status=exc.status, code=exc.code, request_id=exc.request_id,
                hint="Tasks belong to the key (and the service) that created them; check the id in "
                     "session.history.filter(kind='video').") from None
        raise
    other = vfam.other_task(task.task_id, body)
    if other is not None:  # its video is not this task's: not shown, not downloaded, not recorded (polled again)
        raise APIError(f"The status poll of video task {task.task_id} was answered with another task's status "
                       f"({redact(other)[:80]}); it is not used.", status=resp.status,
                       request_id=resp.request_id, hint="The relay mixed tasks up; poll again in a moment.")
    st = vfam.parse_status(task.task_id, body)
    task.last = st
    _keep_state(session, task, st)
    return st


def status_limit(session: Session) -> float:
    """Seconds one status request may take in all, retries included: one connect and one read timeout. Alone, the
    client bounds each read (a trickle that sends a byte now and then never trips it) and then the whole body only
    by ``stream_deadline`` (half an hour), and tries a hung request again: ``task.status()`` could hang that long."""
    return session.settings.connect_timeout + session.settings.read_timeout


def _status_overran(task: VideoTask, limit: float, said: str | None = None) -> TokenhotError:
    """A status request that timed out (past :func:`status_limit`, or the client's own timeout first, ``said``):
    one line naming the task; asking again costs nothing."""
    why = f"timed out ({said.rstrip('.')})" if said else \
        f"had no whole answer within {limit:g} s (connect_timeout + read_timeout)"
    return APITimeoutError(
        f"The status request for video task {task.task_id} {why}; the task keeps running on the server.",
        hint=f"Asking again is free (no new task, no new charge): task.status() or task.wait() now, or "
             f"session.resume({task.task_id!r}) later.")


def _keep_state(session: Session, task: VideoTask, st: TaskStatus) -> None:
    """Add a poll's status to the task's row (:data:`STATES`) at once, so a replay plays it back even when the
    wait is interrupted or the kernel dies before the task ends."""
    entry = task.entry
    if entry is None or entry.id is None:
        return
    if task._states is None:  # a resumed task: its row's list goes on
        kept = (entry.response or {}).get(STATES)
        task._states = [list(i) for i in kept if isinstance(i, list)] if isinstance(kept, list) else []
    note_state(task._states, st)
    try:
        entry.response = session.store.update(entry.id, response={**_row_response(session, task),
                                                                  STATES: task._states})["response"]
    except Exception:  # recording the progress must never end the wait
        log.debug("video task %s: its status could not be added to history #%s", task.task_id, entry.id)


async def await_task(session: Session, task: VideoTask, *, timeout: float | None = None,
                     progress: bool | None = None, on_progress: Callable[[TaskStatus], Any] | None = None,
                     bar: Progress | None = None) -> VideoResult:
    """Poll until done (or the deadline), then download the video and its poster into the store."""
    own_bar = bar is None and progress is not False
    if not in_background_loop():  # awaited from the kernel's loop: the bar belongs to the caller
        if own_bar:
            bar = Progress(None, "video", enabled=progress)
        try:
            return await hop(session, await_task(session, task, timeout=timeout, progress=False,
                                                 on_progress=on_progress, bar=bar), task=task)
        finally:
            if own_bar and bar is not None:
                bar.close()
    raised: list[TokenhotError] = []  # what the user's on_progress raised (on the caller's thread, maybe)
    if session.mode == "replay":
        return await _replay_wait(session, task, timeout, _checked_progress(on_progress, task, raised), bar, raised)
    try:
        st = await _poll_until_done(session, task, timeout, _checked_progress(on_progress, task, raised), bar)
        assert st.url  # (_poll_until_done: a done task without one raised)
        store = session.store
        urls = st.urls or [st.url]  # (a task that made several videos: each is paid for, each is kept)
        got: list[dict[str, Any]] = []
        for url in urls:
            try:
                got.append(await store_download(session, url, "video/mp4", "video"))
            except TokenhotError as exc:  # the task is done and paid: a new call would pay again, a resume does not
                # (a file past download_cap keeps its hint: a resume stops at the same limit until it is raised)
                _resumable(exc, task, 0, isinstance(exc, DownloadError) and OVER_CAP not in exc.message)
                if len(urls) > 1:
                    exc.hint = f"It is video {len(got) + 1} of the {len(urls)} this task made. {exc.hint}"
                await _keep_refused(session, task, exc)
                raise
    except BaseException as exc:
        # a callback that raised on the caller's thread cancels this wait: the row says why, not "cancelled"
        said = raised[0] if raised and isinstance(exc, asyncio.CancelledError) else exc
        _task_outcome(session, task, said)
        _carries(said, task)
        raise
    kept: dict[str, tuple[str, dict[str, Any]]] = {}
    for url, video in zip(urls, got, strict=True):  # one video under two links (the relay's, the vendor's): once
        kept.setdefault(video["sha256"], (url, video))
    urls, got = [u for u, _ in kept.values()], [v for _, v in kept.values()]
    out = got[0]
    outputs: list[dict[str, Any]] = []
    posters: list[dict[str, Any] | None] = []
    for video in got:  # each video, then its poster
        poster = await store.to_thread(_poster, session, store.path_of(video["sha256"]))
        outputs += [video, *([poster] if poster is not None else [])]
        posters.append(poster)
    if not st.usage.video_seconds:  # e.g. Hailuo reports no length: record the clip's own
        from ..results.media import media_duration

        seconds = await asyncio.to_thread(media_duration, store.path_of(out["sha256"]))
        st.usage.video_seconds = round(seconds or 0.0, 2)
    named = {} if task.model else _model_named(st)  # (a task resumed by id alone: its model, as the relay names it)
    task.model = named.get("model", task.model)
    created = (task.entry.response or {}) if task.entry else {}  # what the create's answer said
    response = drop_none({"task_id": task.task_id, "status": st.raw_status or "succeeded", "quota": st.quota,
                          "request_id": created.get("request_id"), "other_ratios": created.get("other_ratios"),
                          STATES: task._states, ENDS: _row_response(session, task).get(ENDS) or [],
                          "url": redact(st.url),  # (VideoResult.url: how a URL-only model is sent this video)
                          "urls": [redact(u) for u in urls] if len(urls) > 1 else None})
    usage = st.usage.as_dict()
    usage["cost"] = await _budget.task_cost(session, task.model, usage, st.quota)
    entry: HistoryEntry | None = None
    if task.entry_id is not None:
        try:
            store.update(task.entry_id, status="ok", response=response, usage=usage, outputs=outputs, error=None,
                         **named)
            entry = store.get(task.entry_id).bind(store, session)
        except (StoreError, KeyError) as err:  # the video is paid for and here: returned, with a warning
            warn_unrecorded("video", task.entry_id, unrecorded_why(task.entry_id, err))
            entry = task.entry
    task.entry = entry
    videos = [VideoResult(store.path_of(video["sha256"]), mime=video["mime"], sha256=video["sha256"],
                          poster=store.path_of(poster["sha256"]) if poster else None, task_id=task.task_id,
                          prompt=task.prompt, model=task.model, entry=entry, session=session, index=i)
              for i, (video, poster) in enumerate(zip(got, posters, strict=True))]
    videos[0]._more = videos[1:]
    return videos[0]


async def _keep_refused(session: Session, task: VideoTask, exc: TokenhotError) -> None:
    """What a finished task's link sent instead of its video kept in the task's row (:func:`.recording.keep_refused`).
    The row stays pending (a resume fetches the video, replacing it)."""
    from .recording import keep_refused

    entry_id = task.entry_id
    if entry_id is not None:
        await keep_refused(session, exc, entry_id, lambda raw: session.store.update(entry_id, outputs=[raw]))


async def _replay_wait(session: Session, task: VideoTask, timeout: float | None,
                       on_progress: Callable[[TaskStatus], Any] | None, bar: Progress | None,
                       raised: list[TokenhotError]) -> VideoResult:
    """Replay: the recorded statuses played back (no sleeping, no network) through the bar and ``on_progress``,
    then the recorded video. Stopped by an interrupt, the task stays where the playback was: a resume goes on.
    A wait the recording saw end without its video (a deadline, an interrupt, a poll error: :data:`ENDS`) ends
    at the same status with the same error; a task the recording never finished stops where it was last seen,
    saying how to finish it (:func:`_unfinished`)."""
    plan = task._replay
    session.replay_waits[task.task_id] = time.time()
    try:
        await _poll_until_done(session, task, timeout, on_progress, bar)
        if plan is not None:  # a wait recorded ending after its last status (a download failed or interrupted)
            await _replay_stop(session, task)
    except BaseException as exc:
        mark_recorded(exc)  # (a replay records nothing)
        if not isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, Interrupted)):
            session.replay_waits.pop(task.task_id, None)  # (kept for an interrupt: its words name the task)
        if plan is not None:
            if plan.stopping or raised or not isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt,
                                                                Interrupted)):
                _consume_end(session, plan)
            else:  # a real interrupt (Ctrl-C, a cancel) of the replay: no recorded end is used by it
                _real_stop(session, plan)
            plan.stopping = False
        _carries(raised[0] if raised and isinstance(exc, asyncio.CancelledError) else exc, task)
        raise
    session.replay_waits.pop(task.task_id, None)
    if plan is None:  # (poll_task raised the miss already, unless the task was done)
        assert task._result is not None
        return task._result
    assert plan.end is not None  # (else _replay_stop raised)
    task.entry = plan.entry
    task._replay = None
    return plan.end


def _carries(exc: BaseException, task: VideoTask) -> None:
    """An error that ends a wait carries the task as far as it went (``err.partial``): its last status, and
    ``.wait()`` / ``session.resume`` to go on (the task is paid for and keeps running)."""
    if isinstance(exc, TokenhotError) and exc.partial is None:
        exc.partial = task


async def _replay_stop(session: Session, task: VideoTask) -> None:
    """Replay, before the next recorded status: raise how the recording's wait ended here, if it did; and for a
    task the recording never finished, once its statuses are all played, :func:`_unfinished`.

    A recorded interrupt is raised where the recording's came from, the caller's side (as a callback's Ctrl-C
    is): raised on the loop, the front door would turn it into a KeyboardInterrupt there, which stops the loop."""
    plan = task._replay
    if plan is None or plan.entry.id is None:
        return
    at = session.replay_polls.get(plan.entry.id, 1)
    i = session.replay_ends.get(plan.entry.id, 0)
    while i < len(plan.ends) and plan.ends[i][0] < at:  # (ends of recorded waits this replay did not make)
        i += 1
    session.replay_ends[plan.entry.id] = i
    if i < len(plan.ends) and plan.ends[i][0] == at:
        err = _recorded_error(plan.ends[i][1])
        plan.stopping = True
        if isinstance(err, KeyboardInterrupt):
            await _ran_in_caller(_interrupt, task.last or TaskStatus(task.task_id, "pending", 0))
            raise asyncio.CancelledError  # (not reached: the caller's interrupt cancels this wait)
        raise err
    if plan.end is None and at >= len(plan.states):
        raise _unfinished(task, plan)


def _interrupt(_st: TaskStatus) -> None:
    raise KeyboardInterrupt


def _consume_end(session: Session, plan: ReplayPlan) -> None:
    """A replayed wait ended (by its recorded end, or a callback's raise): the recording's end of this wait is
    used, and the next wait plays on from where that one was. (A live wait stopped by its callback may poll once
    more before the stop reaches the loop: a status no one was shown, which the next wait does not show either.)"""
    if plan.entry.id is None:
        return
    _, i = _next_end(session, plan)
    if i < len(plan.ends):
        session.replay_ends[plan.entry.id] = i + 1
        session.replay_polls[plan.entry.id] = plan.ends[i][0]


def _next_end(session: Session, plan: ReplayPlan) -> tuple[int, int]:
    """``(the status the playback is at, the first recorded end not before it)`` (an index into ``plan.ends``)."""
    assert plan.entry.id is not None
    at = session.replay_polls.get(plan.entry.id, 1)
    i = session.replay_ends.get(plan.entry.id, 0)
    while i < len(plan.ends) and plan.ends[i][0] < at:
        i += 1
    return at, i


def _real_stop(session: Session, plan: ReplayPlan) -> None:
    """A replayed wait stopped by a real interrupt (the user's Ctrl-C, a cancel; not the recording's): the playback
    stays where it was and the recorded ends stay for the waits that made them, so the next wait goes on from here
    and stops where the recording's did. Only a recorded interrupt at this very status is used: it is the one this
    stop re-enacts (an on_progress that stops the replay where it stopped the recording)."""
    if plan.entry.id is None:
        return
    at, i = _next_end(session, plan)
    if i < len(plan.ends) and plan.ends[i][0] == at and plan.ends[i][1].get("error") == _INTERRUPT:
        i += 1
    session.replay_ends[plan.entry.id] = i


def _unfinished(task: VideoTask, plan: ReplayPlan) -> TokenhotError:
    """The recording never finished this task (its row is pending there), and every status it saw is played:
    where it stopped, and the one way on, a live (or offline) resume, which replay cannot make."""
    last = plan.states[-1] if plan.states else None
    where = f"{last.state} · {last.progress}%" if last is not None else "created"
    return TokenhotError(
        f"Replay mode: the recording never finished video task {task.task_id} (history #{plan.entry.id}, "
        f"pending there at {where}); a replay has nothing more to show of it.",
        hint=f"Finish it in a live or offline session (session.resume({task.task_id!r}).wait(): no new task, no "
             "new charge), then replay.")


async def _ran_in_caller(fn: Callable[[TaskStatus], Any] | None, st: TaskStatus) -> None:
    """:func:`call_user`, waiting until the caller has run it: a callback that stops the wait (Ctrl-C, an error)
    would otherwise come after the wait had gone on (a replay does not sleep between statuses; a short poll
    interval, or a caller's thread slow to run it, let a live wait finish the task), the row would not say why it
    stopped, and a resume would not go on from the status it stopped at."""
    if fn is None:
        return
    loop = asyncio.get_running_loop()
    ran: asyncio.Future[None] = loop.create_future()

    def done() -> None:
        if not ran.done():
            ran.set_result(None)

    def run(status: TaskStatus) -> None:
        fn(status)  # (one that raises cancels this wait: the playback must not go on meanwhile)
        loop.call_soon_threadsafe(done)

    call_user(run, st)
    await ran


def _task_outcome(session: Session, task: VideoTask, exc: BaseException) -> None:
    """Write how waiting for a task ended into the task's own row (one call = one row), and mark the error
    recorded so that nothing else adds a second row for it.

    A failed task ends ``error`` (written by the poll loop). A task still running at the deadline, a poll or
    download that broke, or an interrupt: the row stays ``pending`` (the work is paid for and still on the
    server: ``session.resume(task_id)`` fetches it) with the error noted. A task the service does not know
    (poll 404) ends ``error``.
    """
    mark_recorded(exc)
    if task.entry_id is None or isinstance(exc, TaskFailedError):
        return
    gone = isinstance(exc, NotFoundError) and not _only_created(session, task)  # (created: it may yet appear)
    response = None if gone else _note_end(session, task, exc)  # (how this wait ended, for a replay to end it so too)
    try:
        row = session.store.update(task.entry_id, status="error" if gone else "pending", error=exc,
                                   **({"response": response} if response is not None else {}))
        if response is not None and task.entry is not None:
            task.entry.response = row["response"]
    except Exception:  # recording must never hide the real error
        pass


def _checked_progress(fn: Callable[[TaskStatus], Any] | None, task: VideoTask,
                      raised: list[TokenhotError]) -> Callable[[TaskStatus], Any] | None:
    """``on_progress`` with an exception it raises turned into one clear error naming the task and how to resume
    it (the paid task keeps running and stays pending); raw, it reached the user with neither. A Ctrl-C in it
    keeps its own path (``loop.resume_hint``)."""
    if fn is None:
        return None

    def run(st: TaskStatus) -> None:
        try:
            fn(st)
        except Exception as exc:
            err = TokenhotError(f"Your on_progress callback raised {type(exc).__name__}: {exc}",
                                hint=f"{resume_hint(task.task_id)} Fix the callback first.")
            mark_recorded(err)  # the task's row says it (no second row for the refused "call")
            raised.append(err)
            raise err from exc

    return run


def _transient(exc: BaseException, retry: RetryPolicy) -> bool:
    """A poll failure worth polling again for: an answer that is not the status (a CDN's HTML page with 200, an
    empty body), a server or limiter error the client's own retries did not outlast, a broken connection. Never a
    task the service does not know (404 / task_not_exist, §10.3), a refused key, nor a spent quota."""
    if isinstance(exc, NotFoundError):
        return False
    if isinstance(exc, APIError):
        return 200 <= (exc.status or 0) < 300 or retry.retry_status(exc)
    return isinstance(exc, APIConnectionError)


def _only_created(session: Session, task: VideoTask) -> bool:
    """Whether the task's row keeps the create's answer and no poll's status yet: the relay may write the task
    after it answered the create (new-api inserts it once the answer is sent), so a poll that does not find it
    then is polled again; a resumed id with no create answer (a typo) is not."""
    states = task._states if task._states is not None else (
        (task.entry.response or {}).get(STATES) if task.entry is not None else None)
    return _seen(states if isinstance(states, list) else None) == 1


def _not_found_yet(exc: NotFoundError, task: VideoTask, bad: int) -> APIError:
    """A task created (and paid for) that the relay did not know at any poll since: it may yet appear, so the row
    stays pending and the error says how to look again, not "wrong id" (an APIError, not a NotFoundError: the
    magic's panel says "stopped, resume", not "failed")."""
    return APIError(
        f"Video task {task.task_id} was created, but the relay did not know it at any of {bad} status polls since.",
        status=exc.status, code=exc.code, request_id=exc.request_id,
        hint=f"It may appear in a while: resume it with session.resume({task.task_id!r}) (no new task, no new "
             "charge). If it never does, check the console's task log for a charge before creating it again.")


def _resumable(exc: TokenhotError, task: VideoTask, bad: int, transient: bool) -> None:
    """The hint of a poll error (``bad`` polls in a row) or a download error (``bad`` 0) that ends the wait: the task
    stays pending, so say how to resume it (a "try again" would create a second, paid task). ``transient``: the
    error's own hint is replaced, else the resume is added to it."""
    said = f"{bad} status polls in a row failed. " if bad > 1 else ""
    where = "is done on the server" if bad == 0 else "keeps running on the server"
    resume = (f"{said}Video task {task.task_id} {where} and stays pending in the history: "
              f"resume it with session.resume({task.task_id!r}) (no new task, no new charge).")
    exc.hint = redact(resume if transient or not exc.hint else f"{exc.hint} {resume}")


async def _poll_until_done(session: Session, task: VideoTask, timeout: float | None,
                           on_progress: Callable[[TaskStatus], Any] | None, bar: Progress | None) -> TaskStatus:
    """Poll every ``poll_interval`` s; a failed task is recorded and raised, a deadline raises a timeout.

    A poll that fails transiently (:func:`_transient`) is polled again at the next interval, as many times in a row
    as the client's ``RetryPolicy.max_retries`` allows (``Session(max_retries=…)``, 2 by default: the third bad
    poll in a row ends the wait); the wait's deadline still holds.
    """
    entry_id = task.entry_id
    replay = session.mode == "replay"  # recorded statuses: played back at once, never timed out
    limit = timeout if timeout is not None else session.settings.video_deadline
    deadline = time.monotonic() + limit
    retry = session.client.retry
    bad = 0  # bad polls in a row
    started = False  # a status of this wait said the task had begun (running, or any progress)
    answered = False  # a status request of this wait was answered with the task's status
    try:
        while True:
            if replay:
                await _replay_stop(session, task)  # (how the recording's wait ended at this status, if it did)
            try:
                st = await (poll_task(session, task) if replay else _poll_by(session, task, deadline))
            except _PollOverran:
                raise _past_deadline(task, limit, started, hung=True, answered=answered) from None
            except (APIError, APIConnectionError) as exc:
                bad += 1
                unseen = isinstance(exc, NotFoundError) and _only_created(session, task)
                transient = _transient(exc, retry) or unseen
                if transient and bad <= retry.max_retries \
                        and time.monotonic() + session.settings.poll_interval <= deadline:
                    log.debug("video task %s: poll failed (%s), %d in a row; polling again", task.task_id,
                              exc.message, bad)
                    await asyncio.sleep(session.settings.poll_interval)
                    continue
                if unseen and isinstance(exc, NotFoundError):
                    raise _not_found_yet(exc, task, bad) from None
                if not isinstance(exc, NotFoundError):
                    _resumable(exc, task, bad, transient)
                raise
            if st.state == "succeeded" and not st.url and not replay:  # (its URL may be written a poll later)
                bad += 1
                if bad <= retry.max_retries and time.monotonic() + session.settings.poll_interval <= deadline:
                    log.debug("video task %s: done but no video URL yet, %d in a row; polling again", task.task_id, bad)
                    await asyncio.sleep(session.settings.poll_interval)
                    continue
                no_url = APIError(f"Video task {task.task_id} is done, but {bad} status polls in a row gave no video "
                               "URL.", status=200)
                _resumable(no_url, task, 0, True)
                raise no_url
            bad = 0
            answered = True
            started = started or st.state not in ("pending", "unknown") or st.progress > 0
            if bar is not None:
                call_user(bar.update, st.progress, None, st.state, True)
            await _ran_in_caller(on_progress, st.shown())  # (one that raises stops the wait at this status)
            if st.state == "succeeded":
                return st
            if st.state == "failed":
                err = TaskFailedError(task.task_id, st.error or "", code=st.error_code)
                if entry_id is not None and not replay:  # (refunded: its cost is "not charged", not unknown)
                    session.store.update(entry_id, status="error", error=err, response=drop_none(
                        {"task_id": task.task_id, "status": st.raw_status or "failed", "error_code": st.error_code,
                         STATES: task._states, ENDS: _row_response(session, task).get(ENDS)}),
                        usage={"cost": _cost.not_charged("not charged: the task failed (failed tasks are refunded)",
                                                         simulated=_budget.simulated(session)).as_dict()})
                raise err
            if replay:
                continue
            if time.monotonic() + session.settings.poll_interval > deadline:
                raise _past_deadline(task, limit, started)
            await asyncio.sleep(session.settings.poll_interval)
    finally:
        if bar is not None:
            call_user(bar.close)


class _PollOverran(Exception):
    """A status request still unanswered when the wait's deadline came."""


async def _poll_by(session: Session, task: VideoTask, deadline: float) -> TaskStatus:
    """One status request, given no more than the time the wait has left: a relay that takes the request and never
    answers would hold the wait for the client's read timeout (and its retries) past the caller's deadline."""
    try:
        return await within(poll_task(session, task), max(0.0, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        if time.monotonic() < deadline:  # (not the deadline's: the request's own)
            raise
        raise _PollOverran from None


def _past_deadline(task: VideoTask, limit: float, started: bool, *, hung: bool = False,
                   answered: bool = True) -> TokenhotError:
    """The wait's deadline passed with the task not done (``hung``: its last status request still unanswered): the
    task is paid for and stays pending, so say how to resume it. That it never left the queue is said only when a
    status of this wait said so (``answered``)."""
    queued = "" if started or not answered else " (still queued: it never started during this wait)"
    stuck = "" if started or not answered else (
        " A task that never starts may be stuck at the service: the console's task log says whether it was charged.")
    unanswered = " (its last status request had no answer by then)" if hung else ""
    return APITimeoutError(
        f"Video task {task.task_id} was not done after {limit:g} s{unanswered}; it is still running on the server"
        f"{queued}.",
        hint=f"Resume it later with session.resume({task.task_id!r}) (no new task, no new charge), or "
             f"wait longer (task.wait(timeout=…) / Session(video_deadline=…)).{stuck}",
    )


def _model_named(st: TaskStatus) -> dict[str, str]:
    """``{"model": id}`` when the task's status names a model of the catalogue (TaskDto ``properties``, the
    OpenAIVideo ``model``), else ``{}``: a task resumed by its id alone gets its model (and so its price, its row's
    model) from the relay's own answer, never from text the catalogue does not know."""
    from ..families._common import dig

    raw = st.raw if isinstance(st.raw, dict) else {}
    for path in (("data", "properties", "origin_model_name"), ("data", "model"), ("model",),
                 ("data", "properties", "upstream_model_name")):
        name = dig(raw, *path)
        if isinstance(name, str) and name.strip():
            try:
                return {"model": catalog.model(name.strip()).id}
            except (UnknownModelError, ValueError):
                continue
    return {}


def _poster(session: Session, video_path: Path) -> dict[str, Any] | None:
    from ..results.media import extract_poster

    tmp = incoming(session) / f"poster-{uuid.uuid4().hex}.jpg"
    try:
        if extract_poster(video_path, tmp) is None:
            return None
        art = session.store.add_file(tmp, "image/jpeg")
        return {**art.as_dict(), "role": "poster"}
    finally:
        tmp.unlink(missing_ok=True)


def resume(session: Session, task_id: str, model: str | None = None) -> VideoTask:
    """A handle on a recorded task (done at once when it finished), or a new pending row for an unknown id."""
    task_id = task_id.strip()  # pasted with a space or a newline, it would match no row and make a new one
    if not task_id:
        raise InputError("The video task id is empty.",
                         hint="Pass the id the video call gave (task.task_id), or a history entry id: "
                              "session.resume(session.history[-1].id).")
    store = session.store
    rows = store.select_entries([("kind = ?", ("video",)),
                                 ("json_extract(response, '$.task_id') = ?", (task_id,))], desc=True, limit=1)
    if rows:
        entry = rows[0].bind(store, session)
        task = VideoTask(session, task_id, model=entry.model, entry=entry,
                         prompt=str((entry.params or {}).get("prompt") or ""))
        if entry.status == "ok":
            try:
                res = from_entry(entry, session)
            except RebuildError as err:
                if session.mode == "replay" or err.why != "missing":
                    raise
                # its video was deleted from the store: the task is done and paid on the server, fetched again
                # by the wait (a rerun would make and pay for a new one)
                log.debug("video task %s: its stored video is missing; it is fetched again", task_id)
                return task
            assert isinstance(res, VideoResult)
            if session.mode == "replay":  # where this session's playback of it stopped, if it did
                return replay_task(session, entry, res, task.prompt, created=False)
            task._result = res
        elif session.mode == "replay" and entry.status == "pending":  # never finished there: as far as it went
            return replay_task(session, entry, None, task.prompt, created=False)
        return task
    if session.mode == "replay":
        raise ReplayMissError(f"Replay mode: video task {task_id} is not in the history at {store.root}.")
    info = catalog.model(model) if model else None
    from ..history import HistoryEntry

    entry = HistoryEntry(session_id=session.id, mode=session.mode, kind="video", model=info.id if info else "",
                         endpoint=info.endpoints[0] if info else "video.generations",
                         params=drop_none({"task_id": task_id, "model": info.id if info else None}),
                         response={"task_id": task_id}, status="pending")
    store.insert(entry)
    return VideoTask(session, task_id, model=entry.model, entry=entry.bind(store, session))
