"""Many calls at once: batches (one method over many inputs) and comparisons (one prompt over many models)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._progress import Progress
from .._suggest import did_you_mean
from ..catalog import ModelInfo
from ..errors import DownloadError, InputError, ReplayMissError, TokenhotError, UnknownModelError
from ..results import BatchResult, CompareResult
from . import budget as _budget
from .audio import speak_one
from .chat import chat_one
from .checks import (
    check_blanks,
    check_chat,
    check_count,
    check_model_name,
    check_option_names,
    check_text,
    parameters,
)
from .images import image_one, resume_entry
from .loop import CALL_ROWS, Interrupted, call_user, hop
from .models import KIND_METHOD, require_key, resolve
from .recording import record_refusal
from .rerank import rerank_one
from .slots import Slot, enter_slot
from .video import video_one

if TYPE_CHECKING:
    from ..cost import Cost
    from ..results._base import Result
    from .core import Session


#: The kinds of call compare() runs (the prompt is a rerank's query; its documents come as ``documents=``).
COMPARED = ("image", "chat", "speak", "video", "rerank")


async def batch(session: Session, kind: str, inputs: list[Any], one: Callable[[Any], Awaitable[Result]],
                concurrency: int, bar: Progress | None, model: str) -> BatchResult:
    """Run ``one`` over ``inputs`` → :class:`BatchResult` (failures kept per item; ``.retry()`` reruns them)."""
    concurrency = check_count(concurrency, "concurrency")

    async def again(item: tuple[int, BaseException]) -> Result:
        i, err = item
        if isinstance(err, DownloadError) and err.resumable is not None:  # paid: fetch its kept links instead
            return await resume_entry(session, err.resumable)
        return await one(inputs[i])

    made: list[BatchResult] = []

    async def rerun(failed: dict[int, BaseException]) -> list[Any]:
        try:
            return await hop(session, gather(list(failed.items()), again, concurrency, None))
        except (asyncio.CancelledError, KeyboardInterrupt, Interrupted) as stop:  # a retry stopped: as a batch's
            ended, listed = getattr(stop, _OUTCOMES, None) or {}, list(failed)
            told = made[0].on_failed if made else None
            if told is not None:  # (record_refusals: its inputs refused before sending, named by the stop's line)
                told({listed[j]: v for j, v in ended.items() if isinstance(v, BaseException)})
            raise

    try:
        items = await hop(session, gather(inputs, one, concurrency, bar))
    finally:
        if bar is not None:
            call_user(bar.close)
    made.append(BatchResult(items, inputs, kind=kind, model=model, rerun=rerun, session=session))
    return made[0]


def record_refusals(session: Session, kind: str, arguments: dict[str, Any], field: str, info: ModelInfo | None,
                    result: BatchResult) -> None:
    """Record each input of ``result`` refused before sending (bad input, the budget), now and at each retry, as a
    single call's refusal is: the history showed only the calls sent, so an input refused halfway through a batch
    left no trace of what was tried, or why."""

    def record(failed: dict[int, BaseException]) -> None:
        if _budget.estimates(session) is not None:  # an estimate is no call
            return
        rows = CALL_ROWS.get()  # (the call's: a Ctrl-C of a retry names them with the rows it kept)
        for i, err in failed.items():
            if isinstance(err, TokenhotError) and not isinstance(err, ReplayMissError):
                row = record_refusal(session, kind, {**arguments, field: result.inputs[i]}, err, info)
                if row is not None and rows is not None:
                    rows.append(row)

    record(result.failed)
    result.on_failed = record


async def gather(inputs: list[Any], one: Callable[[Any], Awaitable[Any]], concurrency: int,
                 bar: Progress | None) -> list[Any]:
    """Run ``one`` over inputs, at most ``concurrency`` at a time; a failure becomes that item's value."""
    from ..cost import total
    from ..results.batch import paid

    sem = asyncio.Semaphore(concurrency)
    counts = {"done": 0, "failed": 0}
    spent: list[Cost] = []

    async def run(x: Any) -> Any:
        await sem.acquire()
        slot = enter_slot(Slot(sem))
        try:
            out: Any = await one(x)
        except Exception as exc:  # kept in the batch; KeyboardInterrupt/cancel stop it
            out = exc
            counts["failed"] += 1
        finally:
            slot.release()
        counts["done"] += 1
        made = paid(out)  # (paid images whose files did not arrive are spent too)
        if made is not None and made.entry is not None and made.entry.cost.known:
            spent.append(made.entry.cost)
        if bar is not None and bar.active:  # a hidden bar costs no wake-up of the caller's thread per item
            note = f"spent {total(spent)}" if spent else None
            call_user(bar.update, counts["done"], counts["failed"], note)
        return out

    tasks = [asyncio.ensure_future(run(x)) for x in inputs]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException as stop:
        for t in tasks:
            t.cancel()
        # each records its stop as it unwinds: what the caller says next (which rows ended) reads those rows, and a
        # call that returned with its rows still "running" left them to be finished behind the user's back
        await asyncio.gather(*tasks, return_exceptions=True)
        try:  # what had ended, for the caller to record (``record_stopped``): an input refused before sending
            setattr(stop, _OUTCOMES, {i: t.result() for i, t in enumerate(tasks)
                                      if t.done() and not t.cancelled() and t.exception() is None})
        except Exception:  # (the stop goes on all the same)
            pass
        raise


#: On the stop of a batch (:func:`gather`): its inputs that had ended, index → result or error.
_OUTCOMES = "_tokenhot_outcomes"


def record_stopped(session: Session, kind: str, arguments: dict[str, Any], field: str, info: ModelInfo | None,
                   stop: BaseException) -> None:
    """A batch stopped (a Ctrl-C): each of its inputs refused before sending recorded as a finished batch's are
    (:func:`record_refusals`), and its row counted among the call's (``loop.CALL_ROWS``), so the stop's line names
    it with the rows kept. They were neither recorded nor named: the history lost what had been tried, and why."""
    outcomes = getattr(stop, _OUTCOMES, None)
    inputs = arguments.get(field)
    if not outcomes or not isinstance(inputs, (list, tuple)) or _budget.estimates(session) is not None:
        return
    rows = CALL_ROWS.get()
    for i, err in sorted(outcomes.items()):
        if isinstance(err, TokenhotError) and not isinstance(err, ReplayMissError) and i < len(inputs):
            row = record_refusal(session, kind, {**arguments, field: inputs[i]}, err, info)
            if row is not None and rows is not None:
                rows.append(row)


def check_rerank(query: Any, options: dict[str, Any]) -> None:
    """A rerank comparison's query, documents and ``top_n``, checked once before any call (every model would
    refuse the same)."""
    from ..families import rerank

    if "documents" not in options:
        raise InputError("Comparing rerank models needs the documents to rank.",
                         hint="compare('what do cats eat?', models=['a', 'b'], documents=['doc one', 'doc two']).")
    rerank.query_of(query)
    rerank.top_n_of(options.get("top_n"), len(rerank.documents_of(options["documents"])))


#: The single calls' own arguments a comparison has no use for, and why: each went out as a body field of every call
#: (``model=`` in the body made every model of a chat comparison answer as that one, each recorded as itself).
NOT_COMPARED = {
    "model": ("compare() takes its models as models=[…], not model=.", "compare(prompt, models=['a', 'b'])."),
    "concurrency": ("compare() asks every model at once: concurrency= does not apply.", "Leave concurrency= out."),
    "thread": ("A comparison asks each model once, outside any thread.",
               "Leave thread= out, or ask each model in its thread: s.chat(prompt, model=m, thread='…')."),
    "new_thread": ("A comparison asks each model once, outside any thread.", "Leave new_thread= out."),
    "tool_results": ("A comparison asks each model once, outside any thread: there are no tool calls to answer.",
                     "Send tool results in a thread: s.chat(tool_results={…}, model=m)."),
    "on_delta": ("A comparison reads each answer whole: on_delta= does not apply.",
                 "Leave on_delta= out, or stream one model: s.chat(prompt, model=m, on_delta=…)."),
    "wait": ("A video comparison waits for every task: wait= does not apply.",
             "To start tasks without waiting, call s.video(prompt, model=m, wait=False) for each model."),
    "on_progress": ("A video comparison shows its own progress: on_progress= does not apply.",
                    "Leave on_progress= out."),
}


def check_not_compared(options: dict[str, Any], named: list[str]) -> None:
    """The single call's own arguments that compare() does not pass on (``named``: the single call's), refused
    before any call: each was sent as an unknown body field, paid for and silently ignored, or worse."""
    for key in options:
        if key == named[0]:  # the prompt, given twice
            raise InputError(f"compare() takes the prompt as its first argument, not as {key}=.",
                             hint="Pass it first: compare('…', models=['a', 'b']).", option=key, value=options[key])
        if key in NOT_COMPARED and key in named:
            said, hint = NOT_COMPARED[key]
            raise InputError(said, hint=hint, option=key, value=options[key])


def check_chat_batch(thread: Any, new_thread: bool, on_delta: Any, tool_results: Any) -> None:
    """A list of questions is asked as independent one-off calls: a thread, a new thread, tool results or an
    ``on_delta`` given with it were ignored without a word (the questions went out, paid, outside the thread)."""
    if thread not in (None, False) or new_thread:
        raise InputError("A list of questions is asked as a batch of one-off calls, outside any thread.",
                         hint="Leave thread= out, or ask them in the thread one at a time: "
                              "for q in questions: s.chat(q, thread='…').", option="thread", value=thread)
    if tool_results is not None:
        raise InputError("A batch of questions has no tool calls to answer: tool_results= goes with one call.",
                         hint="Send them in the thread whose turn asked for them: s.chat(tool_results={…}).",
                         option="tool_results")
    if on_delta is not None:
        raise InputError("A batch of questions reads each answer whole: on_delta= does not apply.",
                         hint="Leave on_delta= out, or stream one question at a time: s.chat(q, on_delta=…).",
                         option="on_delta")


def check_model_list(models: Any) -> None:
    """compare()'s ``models``: a list (``models=5`` was a TypeError from the progress bar, before any check)."""
    if isinstance(models, (str, ModelInfo)) or not isinstance(models, Sequence):
        raise InputError(f"compare() takes a list of models, not {type(models).__name__} {str(models)!r:.60}.",
                         hint="compare(prompt, models=['a', 'b']).")


def record_compare_refusal(session: Session, prompt: Any, models: Any, kind: Any, options: dict[str, Any],
                           err: BaseException, method: str | None = None) -> None:
    """Record a comparison refused as a whole (an unknown model, a prompt every model would refuse, an option it
    does not take), as a single call's refusal is: it left no row, while the same call made alone left one. The
    row's kind is the comparison's (``method``, once known; else ``kind=``, else "chat"), its model the one it was
    refused for (an unknown name), else the first named; a replay passes it as it passes a single refusal."""
    if not isinstance(err, TokenhotError) or isinstance(err, ReplayMissError) or _budget.estimates(session) is not None:
        return
    listed = list(models) if isinstance(models, (list, tuple)) else models
    names = [m.id if isinstance(m, ModelInfo) else m for m in listed] if isinstance(listed, list) else listed
    named = getattr(err, "name", None) if isinstance(err, UnknownModelError) else None
    first = names[0] if isinstance(names, list) and names and isinstance(names[0], str) else None
    model = named if isinstance(named, str) else first
    of = method or (kind if kind in COMPARED else None) or _kind_named(session, names) or "chat"
    record_refusal(session, of, {"prompt": prompt, "models": names, "kind": kind, "options": options}, err,
                   model=model if isinstance(model, str) else "")


def _kind_named(session: Session, names: Any) -> str | None:
    """The kind of call the first model of ``names`` the catalogue knows makes (the first one was unknown): a
    refused image comparison's row is an image row."""
    try:
        cat = session.catalog.snapshot()
        for name in names if isinstance(names, list) else []:
            info = cat.find(name) if isinstance(name, str) else None
            method = KIND_METHOD.get(info.kind) if info is not None else None
            if method in COMPARED:
                return method
    except Exception:  # (the row is recorded all the same, as a chat)
        return None
    return None


async def compare(session: Session, prompt: Any, models: Sequence[str | ModelInfo], kind: str | None,
                  progress: bool | None, bar: Progress | None, options: dict[str, Any]) -> CompareResult:
    """The same prompt on several models at once → :class:`CompareResult` (rerank: the prompt is the query, the
    documents come as ``documents=[…]``). Refused as a whole, it is recorded (:func:`record_compare_refusal`)."""
    known: list[str] = []  # the kind of call, once the first model says it
    try:
        return await _compare(session, prompt, models, kind, progress, bar, options, known)
    except TokenhotError as err:
        record_compare_refusal(session, prompt, models, kind, options, err, known[0] if known else None)
        raise


async def _compare(session: Session, prompt: Any, models: Sequence[str | ModelInfo], kind: str | None,
                   progress: bool | None, bar: Progress | None, options: dict[str, Any],
                   known: list[str]) -> CompareResult:
    check_model_list(models)
    if not models:
        raise InputError("Name at least one model to compare.", hint="compare(prompt, models=['a', 'b']).")
    for m in models:
        check_model_name(m)
    require_key(session)  # before the catalogue read below: a live call without a key sends nothing
    first = models[0] if isinstance(models[0], ModelInfo) else await session.catalog.resolve(models[0])
    method = kind if kind is not None else KIND_METHOD.get(first.kind, "chat")  # (kind=[] was read as not given)
    if method not in COMPARED:
        shown = method if isinstance(method, str) and method.strip() else repr(method)  # (kind='' said "not .")
        raise InputError(f"compare() runs image, chat, speak, video or rerank calls, not {shown:.40}."
                         + did_you_mean(method, list(COMPARED), show="kind={!r}".format),
                         hint="Leave kind= out (or pass None) for the first model's kind, or name one: kind='chat'.")
    known.append(method)
    twins: dict[str, Callable[..., Any]] = {"image": session.aimage, "chat": session.achat, "speak": session.aspeak,
                                           "video": session.avideo, "rerank": session.arerank}
    twin = twins[method]
    check_option_names(options, ["models", "kind", *parameters(twin)], "compare")
    check_not_compared(options, parameters(twin))
    check_blanks(options)  # (each call is made below its front door, which would have said it)
    if isinstance(prompt, (list, tuple)) and prompt and all(isinstance(p, str) for p in prompt):
        # (a chat's was "RuntimeError: coroutine raised StopIteration" from inside)
        raise InputError("compare() asks every model one prompt, not a list of prompts.",
                         hint="Compare them one at a time: [s.compare(p, models=[…]) for p in prompts].")
    if method == "chat":
        check_chat(prompt, options.get("temperature"), options.get("max_tokens"))
    elif method == "rerank":  # the prompt is the query; the documents come as documents=[…]
        check_rerank(prompt, options)
    else:  # every model would refuse the same prompt: say it once, before any call
        check_text(prompt, "prompt", f"s.compare('a red fox', models=[…], kind={method!r})",
                   empty_ok=method == "video")
    infos: dict[str, ModelInfo] = {}
    names: dict[str, str] = {}
    for m in models:
        info = await resolve(session, method, m)
        infos.setdefault(info.id, info)
        if isinstance(m, str):
            names[m] = info.id

    def one(info: ModelInfo) -> Awaitable[Result]:
        if method == "image":
            return image_one(session, prompt, info, dict(options))
        if method == "speak":
            return speak_one(session, prompt, info, options.get("voice"),
                             {k: v for k, v in options.items() if k != "voice"})
        if method == "video":
            return video_one(session, prompt, info, dict(options), wait=True)
        if method == "rerank":
            rest = {k: v for k, v in options.items() if k not in ("documents", "top_n")}
            return rerank_one(session, prompt, options["documents"], info, options.get("top_n"), rest)
        rest = {k: v for k, v in options.items() if k != "images"}
        return chat_one(session, prompt, info, {"stream": False, **rest}, thread=None, use_thread=False,
                        images=options.get("images", ()))

    bar = bar or Progress(len(infos), "models", enabled=progress)
    bar.total = len(infos)  # (a model named twice is asked once: the bar made of the names ended at "1/2")
    field = parameters(twin)[0]  # (prompt, text, query)

    def refused(outcomes: dict[int, Any]) -> list[int]:
        """Record each model's call refused before sending, as a single call's refusal is → the rows written."""
        if _budget.estimates(session) is not None:
            return []
        rows = []
        for i, info in enumerate(infos.values()):
            err = outcomes.get(i)
            if isinstance(err, TokenhotError) and not isinstance(err, ReplayMissError):
                rows.append(record_refusal(session, method, {field: prompt, "model": info.id, "options": options},
                                           err, info))
        return [r for r in rows if r is not None]

    try:
        results = await hop(session, gather(list(infos.values()), one, len(infos), bar))
    except (asyncio.CancelledError, KeyboardInterrupt, Interrupted) as stop:  # as a stopped batch's (record_stopped)
        rows, calls = refused(getattr(stop, _OUTCOMES, None) or {}), CALL_ROWS.get()
        if calls is not None:
            calls.extend(rows)
        raise
    finally:
        call_user(bar.close)
    refused(dict(enumerate(results)))
    return CompareResult(prompt, dict(zip(infos, results, strict=True)), of=method, session=session, names=names)
