"""Running a call on tokenhot_nb's background loop, and carrying callbacks and interrupts back to the caller.

The work runs on the one background event loop (where the HTTP client's connection pool lives). Sync calls
wait for it on the caller's thread (:func:`run_blocking`); awaited calls hop to it from the kernel's loop
(:func:`hop`). A sync call whose answer is read whole runs on the caller's thread instead (:func:`run_here`,
the client's blocking lane): the part that streams, if it turns out to, still hops. User callbacks
(``on_delta``, ``on_progress``, progress bars) run where the call was made (:func:`call_user`); a Ctrl-C
raised in one is carried out of the loop as :class:`Interrupted`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from .._warn import CALLER, Where, caller
from ..client import _lane, run_async
from ..client._client import PAID_SENT

if TYPE_CHECKING:
    from ..history import HistoryEntry
    from ..results import VideoTask
    from .core import Session

T = TypeVar("T")

CALL_ROWS: ContextVar[list[int] | None] = ContextVar("tokenhot_call_rows", default=None)
"""The history rows opened by the call a thread is waiting for (its tasks share the list): what a Ctrl-C
names, and never a row another thread's call (a panel's) opened meanwhile."""


def _rows_list() -> list[int]:
    """The list the rows of the call now starting go into: the enclosing call's (even while still empty), else
    a new one."""
    rows = CALL_ROWS.get()
    return [] if rows is None else rows


def _sent_list() -> list[str]:
    """The list the paid requests of the call now starting are noted in (``client.PAID_SENT``): the enclosing
    call's, else a new one."""
    sent = PAID_SENT.get()
    return [] if sent is None else sent


async def _scoped(session: Session, coro: Coroutine[Any, Any, T], rows: list[int],
                  where: FrameType | Where | None, sent: list[str] | None = None) -> T:
    """Run ``coro`` with the rows it opens collected in ``rows`` and the paid requests it sends noted in ``sent``
    (an enclosing call's lists, if any, are kept), and its warnings filed at ``where`` (the user's line that made
    the call; an enclosing call's is kept). The session stays open until it has unwound (a Ctrl-C's caller stops
    waiting for that after a moment)."""
    session._begin()
    token = CALL_ROWS.set(rows) if CALL_ROWS.get() is None else None
    noted = PAID_SENT.set(sent) if sent is not None and PAID_SENT.get() is None else None
    at = CALLER.set(where) if CALLER.get() is None and where is not None else None
    try:
        return await coro
    finally:
        if at is not None:
            CALLER.reset(at)
        if noted is not None:
            PAID_SENT.reset(noted)
        if token is not None:
            CALL_ROWS.reset(token)
        session._end()


class Interrupted(BaseException):
    """A KeyboardInterrupt raised by a user callback on the loop thread, carried out of the loop safely.

    A bare KeyboardInterrupt inside an asyncio task would stop the background loop itself.
    """


class ReplayedInterrupt(Interrupted):
    """A replay re-enacting an interrupt its recording kept: its message is the one the recording's showed, said
    as it is (not worked out again from this session, whose rows are not the recording's)."""

    #: the recorded row it re-enacts (a stream's replay shows ``on_delta`` what had arrived before the stop)
    entry: HistoryEntry | None = None


class ReplayedCancel(ReplayedInterrupt):
    """A replay re-enacting a call whose awaiting task the recording cancelled. Awaited, it is that cancel again
    (``asyncio.CancelledError``, raised by :func:`hop`); a sync call has no task to cancel, and a bare
    ``concurrent.futures.CancelledError`` from inside the library said nothing: it stops as an interrupt does,
    with these words (:func:`run_blocking`)."""


def replayed_cancel(kind: str, entry_id: int | None) -> ReplayedCancel:
    """The stop a replay of row ``entry_id``, recorded as cancelled by the task awaiting it, raises."""
    return ReplayedCancel(f"Stopped as in the recording: the asyncio task awaiting this {kind} call (history "
                          f"#{entry_id}) was cancelled before the answer came back, so there is no answer to replay.")


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> None:
        try:
            fn(*args)
        except KeyboardInterrupt as exc:
            from ..client import in_loop_thread

            if in_loop_thread():
                raise Interrupted(str(exc) or "interrupted") from None
            raise

    return run


def call_user(fn: Callable[..., Any] | None, *args: Any) -> None:
    """Run a callback (on_delta, on_progress, a progress bar) where the call was made.

    Sync calls wait on the caller's thread and run it there (so displays land in the right cell, and an
    exception or Ctrl-C in it cancels the work); awaited calls run it on the caller's loop.
    """
    if fn is None:
        return
    from ..client._loop import call_in_caller

    call_in_caller(_guarded(fn), *args)


def in_background_loop() -> bool:
    """Whether this code runs on the background loop's thread (the work of a call, not its caller): a stop or a
    cancel there belongs to the outer call, which says it (:func:`hop`)."""
    from ..client import in_loop_thread

    return in_loop_thread()


def run_blocking(session: Session, coro: Coroutine[Any, Any, T], task: VideoTask | None = None) -> T:
    """Run on the background loop and wait; an interrupt says which video task is kept and how to resume."""
    from ..client import run_sync

    since, rows, sent = time.time(), _rows_list(), _sent_list()
    session._begin()  # (before the hand-off: a close() from another thread meanwhile waits for this call)
    try:
        return run_sync(_scoped(session, coro, rows, CALLER.get() or sys._getframe(1), sent))
    except (KeyboardInterrupt, Interrupted) as exc:
        said = interrupt_message(session, exc, task, since, rows, sent)
        raise KeyboardInterrupt(_said(session, _and_task_row(rows, task), exc, said)) from None
    finally:
        session._end()


def run_here(session: Session, coro: Coroutine[Any, Any, T]) -> T:
    """Run on this thread, in the client's blocking lane, and wait (see ``client/_lane.py``)."""
    since, rows, sent = time.time(), _rows_list(), _sent_list()
    session._begin()
    try:
        return _lane.run(_scoped(session, coro, rows, CALLER.get() or sys._getframe(1), sent))
    except (KeyboardInterrupt, Interrupted) as exc:
        said = interrupt_message(session, exc, None, since, rows, sent)
        raise KeyboardInterrupt(_said(session, rows, exc, said)) from None
    finally:
        session._end()


async def hop(session: Session, coro: Coroutine[Any, Any, T], task: VideoTask | None = None, *,
              here: bool = False) -> T:
    """Await ``coro`` on the background loop (where the client's connections live) from any loop.

    Callbacks run on the awaiting loop; one that raises cancels the work and its error is re-raised here.
    ``here``: the work reads its answers whole, so in the blocking lane it runs on the spot.
    """
    if here and _lane.active():
        return await coro

    since, rows, sent = time.time(), _rows_list(), _sent_list()
    session._begin()
    try:
        return await run_async(_scoped(session, coro, rows, CALLER.get() or caller(), sent))
    except ReplayedCancel as exc:
        if in_background_loop():  # (a call within a call: the outer one says it)
            raise
        raise asyncio.CancelledError(str(exc)) from None  # awaited, the recorded cancel is a cancel again
    except (Interrupted, KeyboardInterrupt) as exc:
        if isinstance(exc, Interrupted) and in_background_loop():  # a call within a call (a batch's): the outer
            raise  # one says it, off the loop (a KeyboardInterrupt raised here would stop the loop itself)
        said = interrupt_message(session, exc, task, since, rows, sent)
        raise KeyboardInterrupt(_said(session, _and_task_row(rows, task), exc, said)) from None
    except asyncio.CancelledError:
        if not in_background_loop():  # the awaiting task was cancelled (not a Ctrl-C): its replay is a cancel too
            _note_stop(session, _and_task_row(rows, task), CANCELLED, True, kinds="all",
                       error=cancelled_error(sent != []))  # (on the loop: a call within one stopped)
        raise
    finally:
        session._end()


def _and_task_row(rows: list[int], task: VideoTask | None) -> list[int]:
    """The rows a stop ended: the call's own, and the row of the video task it waited for (opened by an earlier
    call: ``task.wait()``), whose error was left a bare "CancelledError" with no words."""
    mine = task.entry_id if task is not None else None
    return rows if mine is None or mine in rows else [*rows, mine]


def _said(session: Session, rows: list[int], exc: BaseException, message: str) -> str:
    """``message``, kept in the rows of the call a Ctrl-C ended (:data:`STOP_SAID`): a replay of one of them, which has
    no answer to give back, stops the same way with the same words."""
    if not isinstance(exc, ReplayedInterrupt):
        _note_stop(session, rows, STOP_SAID, message, kinds="other",
                   error={"error": "KeyboardInterrupt", "message": message, "hint": ""})
    return message


def interrupt_message(session: Session, exc: BaseException, task: VideoTask | None, since: float,
                      rows: list[int] | None = None, sent: list[str] | None = None) -> str:
    """Name the video task an interrupt left running (recorded as pending), else keep the message.

    ``rows``: the rows the stopped call opened, when known; otherwise those of this session since ``since``.
    ``sent``: the paid requests the stopped call sent (``client.PAID_SENT``), when known; otherwise one may have.
    """
    if isinstance(exc, ReplayedInterrupt):
        return str(exc)
    task_id = task.task_id if task is not None else None
    store = session._store
    mine = _MineFilter(rows)
    waiting: list[str] = []  # every task the stopped call waited for (a compare's), when it is known
    if task_id is None and session.mode == "replay":  # a replayed wait stopped: its task, as a live one's
        waits = [(t, tid) for tid, t in session.replay_waits.items() if t >= since - 1]
        task_id = max(waits)[1] if waits else None
        waiting = [tid for _, tid in waits] if rows is not None else []
    if task_id is None and store is not None:
        found = mine(store.select_entries(
            [("kind = ?", ("video",)), ("status = ?", ("pending",)), ("session_id = ?", (session.id,)),
             ("started >= ?", (since - 1,)), *mine.conds], desc=True, limit=mine.limit(1)))
        if found:
            task_id = (found[0].response or {}).get("task_id")
            waiting = [t for t in ((r.response or {}).get("task_id") for r in found) if isinstance(t, str) and t]
    if len(set(waiting)) > 1:
        return resume_hints(sorted(set(waiting)))
    if task_id:
        return resume_hint(task_id)
    if store is not None:  # a paid image call stopped while its files were downloading keeps their links
        found = mine(store.select_entries(
            [("kind IN (?, ?)", ("image", "edit")), ("status IN (?, ?)", ("interrupted", "pending")),
             ("session_id = ?", (session.id,)), ("started >= ?", (since - 1,)), *mine.conds], desc=True,
            limit=mine.limit(1)))
        linked = sorted(r.id or 0 for r in found if _links_kept(r))
        if found and _links_kept(found[0]) and not (mine.ids is not None and len(mine.ids) > 1):
            return f"Stopped while downloading the images of history #{found[0].id}. {_fetch_them(found[0].id)}"
        if linked:  # one call of a batch's (or a compare's): said as the batch's stop, with the links it kept
            said = _stopped_rows(session, since, mine, sent, paid=linked)
            return f"{said} {_fetch_each(linked)}" if said else _fetch_each(linked)
    said = _stopped_rows(session, since, mine, sent) or str(exc)
    if not said and session.mode == "replay":  # (a bare KeyboardInterrupt said nothing; a replay sends nothing)
        return REPLAY_STOPPED
    if not said and rows == [] and sent == []:  # known: no row opened, nothing sent (e.g. it waited for a turn)
        return NOTHING_SENT
    return said


#: What a Ctrl-C of a call that had not begun says (one waiting for its conversation's turn in progress said nothing).
NOTHING_SENT = "Stopped before the call was sent: nothing is charged, and no history row was made."

#: What a Ctrl-C of a replayed call (an ``on_delta`` that stops it) says: a replay sends nothing, records nothing.
REPLAY_STOPPED = "Stopped the replay of this call: nothing was sent, so nothing is charged or recorded."


class _MineFilter:
    """Keeps only the rows the stopped call opened (all of this session's since then, when not known)."""

    def __init__(self, rows: list[int] | None) -> None:
        self.ids = set(rows) if rows is not None else None  # (empty: the call opened no row)
        self.conds: list[tuple[str, tuple[Any, ...]]] = [("id >= ?", (min(rows),))] if rows else []

    def limit(self, n: int) -> int | None:
        return n if self.ids is None else None  # (other calls' rows may come between this call's)

    def __call__(self, found: list[HistoryEntry]) -> list[HistoryEntry]:
        return found if self.ids is None else [r for r in found if r.id in self.ids]


def _stopped_rows(session: Session, since: float, mine: _MineFilter, sent: list[str] | None = None,
                  paid: list[int] | None = None) -> str:
    """Which history rows the interrupt ended (a bare "KeyboardInterrupt" said nothing of what was kept), and,
    when a paid request may have gone out with no answer back, that the server may still do and bill it (``paid``:
    rows whose answer had come back, paid, their images' links kept)."""
    store = session._store
    if store is None:
        return ""
    rows = mine(store.select_entries(
        [("status IN (?, ?)", ("interrupted", "running")), ("session_id = ?", (session.id,)),
         ("started >= ?", (since - 1,)), *mine.conds], desc=True, limit=mine.limit(50)))
    if not rows:
        return _finished_rows(session, mine)
    ids = sorted(r.id or 0 for r in rows)
    kept = sorted(mine.ids - set(ids)) if mine.ids is not None else []  # (not known: another call's are not named)
    if len(rows) > 1 or kept:  # (one call of a batch's or a compare's, the others ended: said as the batch's stop)
        _note_stop(session, [r.id or 0 for r in rows], STOPPED_WITH, ids)
        if kept:
            _note_stop(session, [r.id or 0 for r in rows], STOPPED_KEPT, kept)
        return stopped_rows(ids, sent != [] and not set(ids) <= set(paid or ()), kept=kept)
    return stopped_row(rows[0], sent)


def _finished_rows(session: Session, mine: _MineFilter) -> str:
    """What a Ctrl-C that came once the call had finished says: the call's rows, where its result is kept. It came
    while the caller's thread still showed the answer (an ``on_delta`` behind a fast stream), and was a bare
    ``KeyboardInterrupt`` that said nothing of a paid answer the history holds whole."""
    if not mine.ids:  # (not known which rows are the call's: another call's must not be named)
        return ""
    rows = mine(session.store.select_entries(mine.conds, desc=True))
    if not rows:
        return ""
    if len(rows) > 1:
        ids = sorted(r.id or 0 for r in rows)
        return (f"Stopped once its {len(rows)} calls had ended: each is kept in the history (#{ids[0]}…#{ids[-1]}), "
                "with its result if it had one (session.history.get(ID).result()).")
    row = rows[0]
    if row.status == "ok":
        return (f"Stopped once the {row.kind} call had finished: its result is kept whole in history #{row.id} "
                f"(session.history.get({row.id}).result()).")
    return f"Stopped once the {row.kind} call had ended: it is recorded in history #{row.id} (status {row.status})."


#: In the row of a video create one Ctrl-C ended with other calls (a compare, a batch), before its task id came back:
#: the ids of the rows that stop ended, so a replay says what the recording's said, not the one-call words.
STOPPED_WITH = "stopped_with"

#: Beside :data:`STOPPED_WITH`: the ids of the rows of that call which had ended (answered, or refused before sending),
#: which the stop's words name too.
STOPPED_KEPT = "stopped_kept"


def stopped_rows(ids: list[int], sent: bool, kept: list[int] | None = None) -> str:
    """What a Ctrl-C that ended the calls of the rows ``ids`` says (``sent``: a paid request of them may have gone
    out; ``kept``: the rows of its calls that had ended, answered or refused, which it did not name before). A
    replay that re-enacts such a stop says it with this too (``video._stopped_create``)."""
    done = f"the calls that had ended are kept, each with its result or error (history {id_span(kept)})" if kept \
        else "the calls that had finished are kept with their results"
    ended = f"{len(ids)} calls were ended (history #{ids[0]}…#{ids[-1]}" if len(ids) > 1 else \
        f"1 call was ended (history #{ids[0]}"  # (the last of a batch's still running)
    return f"Stopped: {ended}, status interrupted); {done}." + (f" {_MAY_BE_BILLED}" if sent else "")


def id_span(ids: list[int]) -> str:
    """History rows named short: ``#12–#15``, ``#3, #5–#7``."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"#{r[0]}" if len(r) == 1 else f"#{r[0]}–#{r[-1]}" for r in runs)


#: In the row of a call a Ctrl-C ended with no answer: what the Ctrl-C said, so a replay (which has no answer to give)
#: stops with the same words.
STOP_SAID = "stop_said"

#: In the row of a video create stopped before its task id came back by a cancel of the task that awaited it (not by
#: a Ctrl-C): ``True``, so its replay is that cancel (``asyncio.CancelledError``), not a KeyboardInterrupt.
CANCELLED = "cancelled"


def _note_stop(session: Session, ids: list[int], name: str, value: Any, *, kinds: str = "video",
               error: dict[str, str] | None = None) -> None:
    """Keep ``name: value`` in the row of each call among ``ids`` that the stop ended with no answer (a video create:
    before its task id came back): how the stop came, so a replay re-enacts it the same way (:data:`STOPPED_WITH`,
    :data:`CANCELLED`, :data:`STOP_SAID`). ``kinds``: "video" (creates only), "other" (all but video, whose replay
    works its words out from its row) or "all". ``error``: the row's error in words, for every interrupted row among
    ``ids`` still holding the bare cancel it was recorded with (``CancelledError`` with no message)."""
    store = session._store
    if store is None or session.mode == "replay":
        return
    for i in ids:
        try:
            row = store.get(i)
            response = row.response if isinstance(row.response, dict) else {}
            fields: dict[str, Any] = {}
            if kinds != ("other" if row.kind == "video" else "video") and row.status == "interrupted" \
                    and not response.get("task_id"):
                fields["response"] = {**response, name: value}
            if error is not None and row.status in ("interrupted", "pending") and _bare_stop(row.error):
                paid = _cancelled_after_paid(row) if error.get("error") == "CancelledError" else None
                fields["error"] = paid or error
            if fields:
                store.update(i, **fields)
        except Exception:  # the stop is said all the same; a replay then says the one-call words
            pass


#: The names a stop is recorded under before its words are known (what the loop saw: the cancel of its task).
_STOP_NAMES = frozenset({"CancelledError", "KeyboardInterrupt", "Interrupted"})


def _bare_stop(error: Any) -> bool:
    """Whether a row's error is a stop recorded without words (or with the placeholder :data:`STOPPED_WORDS`)."""
    return isinstance(error, dict) and error.get("error") in _STOP_NAMES \
        and error.get("message") in (None, "", STOPPED_WORDS)


#: A stopped call's error until the stop's own words are known (recorded on the loop, which sees only a cancel).
STOPPED_WORDS = "Stopped before the call ended: interrupted, or the task awaiting it was cancelled."


def cancelled_error(sent: bool) -> dict[str, str]:
    """The error of a row whose call an asyncio cancel of the awaiting task stopped (not a Ctrl-C), in words;
    ``sent``: its request may have gone out."""
    said = "Cancelled: the asyncio task awaiting this call was cancelled before the answer came back"
    if not sent:
        return {"error": "CancelledError", "message": f"{said}; its request was never sent, so nothing is charged.",
                "hint": ""}
    return {"error": "CancelledError", "message": f"{said}; the request may already have reached the server.",
            "hint": _MAY_BE_BILLED}


def _cancelled_after_paid(row: HistoryEntry) -> dict[str, str] | None:
    """The error of a row an asyncio cancel stopped once its answer had come back (None: it had not): a video task
    that runs on, an image call whose links are kept. A resume fetches what was paid for; the words for a call cut
    before its answer ("check your balance before asking again") would have the user pay for it twice."""
    response = row.response if isinstance(row.response, dict) else {}
    task_id = response.get("task_id")
    if row.kind == "video" and row.status == "pending" and isinstance(task_id, str) and task_id:
        said = f"Cancelled: the asyncio task waiting for video task {task_id} was cancelled. {_runs_on(task_id)}"
    elif _links_kept(row):
        said = f"Cancelled while downloading the images of history #{row.id}. {_fetch_them(row.id)}"
    else:
        return None
    return {"error": "CancelledError", "message": said, "hint": ""}


def _links_kept(row: HistoryEntry) -> bool:
    """Whether an image call's row keeps links to paid images not downloaded yet (``session.resume(id)``)."""
    return row.kind in ("image", "edit") and any(
        isinstance(r, dict) and not r.get("sha256") and not r.get("expired") and not r.get("refused")
        for r in (row.response if isinstance(row.response, dict) else {}).get("images") or [])


def _fetch_each(entry_ids: list[int]) -> str:
    """What a batch's stop says of its calls whose images were paid for but not all downloaded (links kept)."""
    if len(entry_ids) == 1:
        return (f"The images of history #{entry_ids[0]} are paid for and their links kept: fetch them with "
                f"session.resume({entry_ids[0]}) (no new call, no new charge).")
    return (f"The images of history {id_span(entry_ids)} are paid for and their links kept: fetch each call's with "
            f"session.resume(ID) (no new call, no new charge).")


def _fetch_them(entry_id: int | None) -> str:
    return (f"The call is paid for and the links are kept: fetch them with session.resume({entry_id}) (no new call, "
            "no new charge).")


def stopped_row(row: HistoryEntry, sent: list[str] | None = None) -> str:
    """What a Ctrl-C that ended the one call of ``row`` says (``sent``: as :func:`_stopped_rows`). A replay that
    re-enacts a recorded stop says it with this too (``video._stopped_create``)."""
    # "running": the loop is still recording the stop, so what had arrived is not known yet
    if row.kind == "chat" and ((row.response or {}).get("partial") or row.status == "running"):
        so_far = "the answer so far" if row.status != "running" else "what had arrived of the answer"
        return (f"Stopped: {so_far} is kept in history #{row.id} (session.history.get({row.id}).text); "
                "the thread does not include it.")
    said = f"Stopped: the {row.kind} call is recorded as interrupted in history #{row.id}"
    if sent == []:  # known: its request was never handed to the network
        return f"{said}; it was stopped before its request was sent, so nothing is charged."
    # ("running": the loop is still recording the stop, so whether anything had come back is not known yet)
    said += "; no answer had come back yet, but" if row.status == "interrupted" else ";"
    if row.kind == "video":  # a create whose task id never arrived: the history cannot name the task
        return (f"{said} the request may already have reached the server, which may still create the task and "
                "charge for it. Look for it in the service's console and check your balance (session.balance()) "
                "before creating another.")
    return f"{said} the request may already have reached the server. {_MAY_BE_BILLED}"


#: What a Ctrl-C that stopped a paid call with no answer back means (the server does not know it was stopped).
_MAY_BE_BILLED = ("The server may still finish the work and charge for it: check the history (session.history) and "
                  "your balance (session.balance()) before asking again.")


def resume_hints(task_ids: list[str]) -> str:
    """What a Ctrl-C that stopped the waits for several video tasks (a compare's) says: every task, not only the
    newest (the others, still running and billed, went unnamed)."""
    each = ", ".join(f"session.resume({t!r})" for t in task_ids)
    return (f"Stopped waiting for {len(task_ids)} video tasks ({', '.join(task_ids)}). They keep running on the "
            f"server and are recorded in the history as pending: resume each with {each} (this also works after "
            "a kernel restart, with a Session on the same store).")


def resume_hint(task_id: str) -> str:
    return f"Stopped waiting for video task {task_id}. {_runs_on(task_id)}"


def _runs_on(task_id: str) -> str:
    return (f"It keeps running on the server and is recorded in the history as pending: resume it with "
            f"session.resume({task_id!r}) or history[i].resume() (this also works after a kernel restart, with a "
            "Session on the same store).")
