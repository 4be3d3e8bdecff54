"""Chat: the thread's context, streaming with ``on_delta``, partial answers kept on a broken stream."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .. import _schema
from .. import cost as _cost
from .._inputs import to_media_list
from .._threads import DEFAULT_THREAD, Thread, store_once, tool_turn, user_message, with_tool_results
from ..catalog import ModelInfo
from ..client._sse import WholeAnswer
from ..errors import APIError, InputError, ReplayMissError, SchemaMismatchError, StreamError, TokenhotError
from ..families._types import ChatDelta, Choice, ToolCall, Usage
from ..history import _pieces
from ..results import ChatResult, from_entry
from . import budget as _budget
from .checks import body_extra, check_cache, check_chat, check_chat_options
from .checks import whole as whole_number
from .inputs import store_media
from .loop import Interrupted, ReplayedInterrupt, call_user
from .recording import (
    LiveText,
    Recording,
    cut_text,
    drop_none,
    endpoint_name,
    json_object,
    keep_cut,
    keep_unread,
    mark_recorded,
    new_entry,
    received_text,
    replayed,
    store_bytes,
)

if TYPE_CHECKING:
    from ..client import EventStream, Response
    from ..families.chat import Accumulator
    from ..history import HistoryEntry, Store
    from ..results._base import Result
    from .core import Session


def _as_recorded(th: Thread, entry: HistoryEntry) -> None:
    """Replay: make ``th`` the conversation the recording had before ``entry``'s turn. A replaying session loads a
    thread from the store whole (every recorded turn, later ones too), so each replayed turn added on top of it
    repeated the conversation, and an estimate or a look at the thread differed from the recording."""
    if th.last_id == entry.parent or entry.store is None:
        return
    from .._threads import conversation

    try:
        th.messages = conversation(entry.store, entry.parent) if entry.parent is not None else []
    except Exception:  # an earlier answer's file is not in the store (loaded without artifacts): keep the thread
        return
    th.prefix = None  # the family's body so far was of the other messages
    th.last_id = entry.parent


async def chat_one(session: Session, message: Any, info: ModelInfo, kw: dict[str, Any], *,
                   thread: str | Literal[False] | None, new_thread: bool = False, images: Any = (),
                   use_thread: bool = True, on_delta: Callable[[ChatDelta, str], Any] | None = None,
                   follow: bool = False, guessed: ModelInfo | None = None) -> Result:
    """One question (a batch runs many with ``use_thread=False``), one turn of its conversation at a time: two at
    once (``asyncio.gather``, a worker thread and the cell) each went without the other's turn, and the history
    linked the later one to the turn before both. Held here, where the work runs (the background loop, or the
    blocking lane), not on the caller's loop: a sync call made there while an awaited turn ran would wait for ever
    for a turn that ends only once that blocked loop runs again.

    ``follow``: a follow-up that names no model, whose ``info`` was picked from the thread's model then
    (``guessed``, None: the default). Its model is the thread's once the turn is its own: a turn it waited for
    (``gather(achat("a", model=X), achat("b"))``) may have switched it, and "b", sent with "a" in its context,
    went to the model before "a"."""
    name = (thread or DEFAULT_THREAD) if use_thread and thread is not False and _budget.estimates(session) is None \
        else None
    if name is None:  # no conversation, no turn to wait for (``turn(None)`` only yields: ~3 µs of context manager)
        return await _chat_one(session, message, info, kw, thread=thread, new_thread=new_thread, images=images,
                               use_thread=use_thread, on_delta=on_delta)
    async with session.threads.turn(name):
        th = session.threads.get(thread or DEFAULT_THREAD) if follow else None
        if th is not None and th.model is not guessed:
            info = await session._model("chat", th.model, instead=True)
        try:
            result = await _in_place(session, message, info, kw, thread=thread, new_thread=new_thread,
                                     images=images, use_thread=use_thread, on_delta=on_delta)
        except ReplayMissError:
            if th is None or th.model is None or session.mode != "replay":
                raise
            # recorded before a thread kept its model: that follow-up went to the default model
            info = await session._model("chat", None, instead=True)
            result = await _in_place(session, message, info, kw, thread=thread, new_thread=new_thread,
                                     images=images, use_thread=use_thread, on_delta=on_delta)
        if isinstance(message, str) and use_thread and thread is not False:  # (in the turn: the next one reads it)
            session.threads.get(thread or DEFAULT_THREAD).model = info
        return result


async def _in_place(session: Session, message: Any, info: ModelInfo, kw: dict[str, Any], **how: Any) -> Result:
    """:func:`_chat_one` where it can run: a model that streams (picked in the turn, not by the caller, which ran
    the call in the blocking lane for a model that does not) goes to the background loop, whose stall watchdog
    needs a loop free while it waits."""
    from ..client import _lane

    if _lane.active() and streams(info, kw):
        return await session._hop(_chat_one(session, message, info, kw, **how))
    return await _chat_one(session, message, info, kw, **how)


async def _chat_one(session: Session, message: Any, info: ModelInfo, kw: dict[str, Any], *,
                    thread: str | Literal[False] | None, new_thread: bool, images: Any, use_thread: bool,
                    on_delta: Callable[[ChatDelta, str], Any] | None) -> Result:
    from ..families import chat

    kw = dict(kw)
    headers = kw.pop("headers", None)
    raw = kw.pop("raw", None)
    system, stream = kw.pop("system", None), bool(kw.pop("stream", True))
    temperature, max_tokens = kw.pop("temperature", None), whole_number(kw.pop("max_tokens", None))
    check_chat(message, temperature, max_tokens, answering_tools=kw.get("tool_results") is not None)
    check_chat_options(system, thread, kw.get("tools"), kw.get("tool_choice"))
    if "n" in kw:
        kw["n"] = _answers(kw["n"])
    endpoint = _endpoint(info, kw)
    kw.pop("endpoint", None)
    schema = _schema.resolve(kw.pop("schema")) if kw.get("schema") is not None else None
    kw.pop("schema", None)
    json_mode = bool(kw.pop("json", False))
    tools, tool_choice, tool_results = kw.pop("tools", None), kw.pop("tool_choice", None), kw.pop("tool_results", None)
    cache = check_cache(kw.pop("cache", None))
    if cache is not None and endpoint is None and "messages" in info.endpoints:
        endpoint = "messages"  # Claude's own API keeps the breakpoints (the relay's chat conversion may not)
    output = chat.Output(schema.json if schema else None, schema.name if schema else "answer", json_mode) \
        if schema is not None or json_mode else None
    store = session.store
    media = [store_media(session, m) for m in to_media_list(images, "image", store)] if images is not None else []
    name = (thread or DEFAULT_THREAD) if use_thread and thread is not False else None
    if name is not None and new_thread and _budget.estimates(session) is not None:
        th: Thread | None = Thread(name)  # (an estimate of a new thread: the thread it names stays as it was)
    else:
        th = session.threads.get(name, new=new_thread) if name is not None else None
    if th is not None and system is None:
        system = th.system
    if isinstance(message, (list, tuple)):  # an explicit conversation
        if tool_results is not None:  # (it went unsent, without a word: the relay then refuses the calls unanswered)
            raise InputError("tool_results= answers a thread's tool calls; a conversation you pass carries its own.",
                             hint="Add {'role': 'tool', 'tool_call_id': id, 'content': result} after the assistant "
                             "message with the calls, or chat in a thread (thread='t').")
        messages = [_parts_read(m) for m in message]
        user = None
        text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    else:
        text = str(message)
        given = tool_results
        tool_results = _results(tool_results, th, session, replay=session.mode == "replay")
        user = with_tool_results(user_message(text, [m.wire() for m in media]), tool_results,
                                 th.pending_calls() if th is not None else {})
        messages = [*(th.messages if th is not None else []), user]
    params = drop_none({
        "message": message if isinstance(message, str) else messages,
        "model": info.ref, "system": system, "stream": stream, "thread": name if name is not None else False,
        "new_thread": True if new_thread else None, "temperature": temperature, "max_tokens": max_tokens,
        "images": [m.ref() for m in media] or None, "endpoint": endpoint, **kw, "raw": raw,
        "schema": schema.json if schema is not None else None, "json": True if json_mode else None,
        "tools": tools, "tool_choice": tool_choice, "tool_results": tool_results, "cache": cache,
    })
    if not isinstance(message, str):
        # (an estimate stores none of its inputs: it sends nothing, and its params are only counted)
        params["message"] = jsonable_messages(messages, store if _budget.estimates(session) is None else None)
    options: dict[str, Any] = {"endpoint": endpoint, "system": system, "temperature": temperature,
                               "max_tokens": max_tokens, "stream": stream, "extra": body_extra(kw), "raw": raw,
                               "output": output, "tools": tools, "tool_choice": tool_choice, "cache": cache}
    # a thread's kept body is its turns' own: an estimate (a panel's price line, on the kernel's thread while the
    # panel's worker runs a turn) takes no turn, and extending it there could put its question in the paid body
    prefix = None
    if th is not None and user is not None and _budget.estimates(session) is None:
        prefix = th.prefix = th.prefix or chat.Prefix()
    call = chat.build(info, messages, **options, prefix=prefix)
    call.headers.update(headers or {})
    ep = endpoint_name(call)
    if session.mode == "replay":
        if tool_results is not None and user is not None:
            params = _as_older_rows(session, info, ep, params, given)
        try:
            entry = replayed(session, "chat", info, ep, params, call)
        except ReplayedInterrupt as stop:  # a stream stopped midway: on_delta is shown what it was shown live
            if on_delta is not None and call.stream:
                _replay_stop(on_delta, stop, session.store)
            raise
        except StreamError as broken:  # a stream that broke: on_delta is shown what it was shown live, then it breaks
            _replay_broken(broken, on_delta if call.stream else None, session)
            raise
        res = from_entry(entry, session)
        assert isinstance(res, ChatResult)
        if th is not None and user is not None:
            _as_recorded(th, entry)
            th.add(user, _answer(res.text, res.tool_calls, (entry.response or {}).get("thinking_blocks")), entry.id)
            if system:
                th.system = system
        if on_delta is not None:
            _replay_pieces(on_delta, entry.response, res.text, res.reasoning)
        if output is not None and not res.tool_calls:
            res.data = _checked(res.text, schema, res)
        return res

    entry = new_entry(session, "chat", info, ep, params, call, name, text)
    if user is not None:  # a thread turn stores its new message only (the rest is rebuilt from earlier rows)
        store_once(entry, th, lambda: chat.build(info, [user], **options))
    rec = Recording(session, entry, await _budget.priced(session, info), call)
    acc = chat.Accumulator()
    shown = _View()
    log: _pieces.PieceLog | None = None  # the pieces shown, for the row (a streamed call's only)
    request_id: str | None = None
    response_id: str | None = None
    ended = False  # the stream came to its end (what follows may still fail: its text is then whole)
    uncounted: str | None = None  # a stream the relay bills by its own count: how it ended (its cost unknown)
    resp: Response | None = None
    events: EventStream | None = None  # (set once the stream has begun: a break after it may have been billed)
    try:
        if call.stream:  # gemini.stream streams even when stream=False was asked
            try:
                events = await session.client.stream(call)
            except WholeAnswer as whole:  # a relay that answers whole whatever was asked: that answer is paid for
                resp = whole.response
        else:
            resp = await session.client.send(call)
            if resp.is_event_stream:  # a relay that streams whatever was asked: its frames are the answer
                request_id = resp.request_id
                events, resp = session.client.events_of(resp, chat.stream_format(ep)), None
        if events is not None:
            request_id = request_id or events.request_id
            live = on_delta if call.stream else None  # (stream=False: the whole answer, once, as asked)
            log = _pieces.PieceLog() if call.stream else None
            keep = _Keeper(rec, text, acc, request_id)
            fmt = call.stream or chat.stream_format(ep)
            uncounted = "response.failed" if fmt == "responses" else None  # (until it completes: _relay_counted)
            last = await _read_events(events, fmt, acc, live, shown, log, keep)
            if uncounted is not None:
                uncounted = None if last == "response.completed" else last \
                    if last in ("response.failed", "response.incomplete") else "without response.completed"
            ended = True
            reply = acc.reply(info.id)
            # inside the try: whatever goes wrong from here, the row ends "error", never stuck "running"
            reply.text, reply.reasoning = received_text(reply.text), received_text(reply.reasoning)
            rest = shown.rest(reply.text, reply.reasoning) if live is not None else None
            if rest is not None:  # the view held back a tail that looked like a key
                call_user(on_delta, rest, reply.text)
            elif live is None and on_delta is not None:
                call_user(on_delta, ChatDelta(text=reply.text, reasoning=reply.reasoning, done=True), reply.text)
        else:
            assert resp is not None
            request_id = resp.request_id
            # a whole answer to a stream call was checked by the client: an object, or Gemini's array of them
            body = resp.json() if call.stream else json_object(resp, info.id)
            reply = chat.parse(info, ep, body)
            response_id = reply.response_id
            reply.text, reply.reasoning = received_text(reply.text), received_text(reply.reasoning)
            if on_delta is not None:
                call_user(on_delta, ChatDelta(text=reply.text, reasoning=reply.reasoning, done=True), reply.text)
        if output is not None:
            forced = next((c for c in reply.tool_calls if c.name == output.name), None) if ep == "messages" \
                else None
            if forced is not None:  # Claude: the structured answer is the forced tool's input
                reply.tool_calls.remove(forced)
                reply.text = _forced_text(forced.arguments)
        reply.tool_calls, short = chat.cut_at_limit(reply.tool_calls, reply.finish_reason)
        outputs = [store_bytes(session, reply.text.encode("utf-8"), "text/plain", "text")]
        if reply.reasoning:
            outputs.append(store_bytes(session, reply.reasoning.encode("utf-8"), "text/plain", "reasoning"))
        calls = [c.as_dict() for c in reply.tool_calls] or None
        pieces = log.record((acc.text, acc.reasoning), (reply.text, reply.reasoning)) if log is not None else None
        others = _received_choices(reply.others)
        for choice in others:  # (each choice's calls cut at max_tokens, set apart as the answer's are)
            choice.tool_calls, choice.cut_tool_calls = chat.cut_at_limit(choice.tool_calls, choice.finish_reason)
        entry = rec.ok(response=drop_none({"request_id": request_id, "finish_reason": reply.finish_reason,
                                           "response_id": response_id or reply.response_id, "tool_calls": calls,
                                           "cut_tool_calls": short or None,
                                           "thinking_blocks": (reply.thinking_blocks or None) if calls else None,
                                           "pieces": pieces, "choices": [c.as_dict() for c in others] or None}),
                       usage=reply.usage, outputs=outputs,
                       cost=_relay_counted(rec, uncounted) if uncounted is not None else None,
                       text="\n\n".join([text, reply.text, *(c.text for c in others)]))
    except BaseException as exc:
        # an answer cut short: a key's first part whose end never came is masked
        partial = (received_text if ended else cut_text)(acc.text) if acc.text else ""
        thought = (received_text if ended else cut_text)(acc.reasoning) if acc.reasoning else ""  # paid too
        if isinstance(exc, StreamError) and partial and not exc.partial_text:
            exc.partial_text = partial
        try:
            outputs = [store_bytes(session, partial.encode("utf-8"), "text/plain", "text")] if partial else []
            if thought:
                outputs.append(store_bytes(session, thought.encode("utf-8"), "text/plain", "reasoning"))
        except Exception:  # the row must still end: keep the text in the row itself
            outputs = []
        if resp is not None and not partial and isinstance(exc, APIError):  # a paid answer that could not be read
            outputs = keep_unread(session, resp)
        elif resp is None and not partial and not thought:  # a paid answer cut before its end: what arrived of it
            outputs = keep_cut(session, exc)
        billed = _failed_usage(rec, exc, outputs, uncounted) or _usage_so_far(rec, acc, exc, outputs, whole=ended)
        try:  # an n= stream's other answers, as far as they came
            cut_others = _received_choices(acc.reply().others, cut=not ended)
        except Exception:  # the row must still end
            cut_others = []
        try:  # tool calls it had begun (arguments cut short, paid for): kept, marked incomplete, never run
            cut_calls = _cut_calls(acc) if not ended else []
        except Exception:  # the row must still end
            cut_calls = []
        # the pieces on_delta was shown of it: a replay of a stop shows them again before it stops
        shown_pieces = log.record((acc.text, acc.reasoning), (partial, thought)) \
            if log is not None and (partial or thought) and not ended else None
        if isinstance(exc, StreamError):  # (before the row keeps its words)
            exc.hint = _broken_said(exc.hint, rec.entry.id, text=bool(exc.partial_text), thought=bool(thought),
                                    calls=cut_calls, ended=ended or events is None)
        rec.fail(exc, outputs=outputs, text=text + ("\n\n" + partial if partial else ""),
                 response=drop_none({"request_id": request_id, "partial": bool(partial) or None,
                                     "pieces": shown_pieces, "cut_tool_calls": cut_calls or None,
                                     "choices": [c.as_dict() for c in cut_others] or None}), **billed)
        if (billed or thought or cut_calls) and isinstance(exc, TokenhotError) and exc.partial is None:  # (cost)
            exc.partial = ChatResult(partial, reasoning=thought, usage=exc.usage, finish_reason="failed",
                                     thread=name, prompt=text, model=info.id, entry=rec.final(), session=session,
                                     others=cut_others)
            exc.partial.cut_tool_calls = cut_calls
        raise
    if th is not None and user is not None:
        th.add(user, _answer(reply.text, reply.tool_calls, reply.thinking_blocks), entry.id)
        if system:
            th.system = system
    res = ChatResult(reply.text, reasoning=reply.reasoning, usage=reply.usage, finish_reason=reply.finish_reason,
                     thread=name, prompt=text, model=info.id, entry=entry, session=session,
                     tool_calls=reply.tool_calls, others=others)
    res.cut_tool_calls = short
    if output is not None and not reply.tool_calls:  # recorded first: a mismatch loses nothing that was paid for
        res.data = _checked(reply.text, schema, res)
    return res


#: How a stream's error says where its text so far is (``client._sse``, ``errors.StreamError``).
_KEPT = "The text received so far is kept in .partial_text"


def _broken_said(hint: str, row: int | None, *, text: bool, thought: bool, calls: list[dict[str, Any]],
                 ended: bool) -> str:
    """A broken stream's hint, saying where what arrived is kept (the text in ``.partial_text`` and its history
    row; or that none came, and where the reasoning is; the tool calls it had begun) and, for one that began and
    broke off (``ended`` False), that its charge is not known: new-api bills such a stream by its own count of what it had sent
    (``sim._common.SSEResponse.on_done``)."""
    if not text:
        hint = _nothing_kept(hint, row if thought else None) if hint else hint
    elif hint.startswith(_KEPT) and not hint.startswith(_KEPT + " and"):
        hint = f"{_KEPT} and in history #{row}{hint[len(_KEPT):]}"
    if ended:
        return hint
    said = [hint, _calls_kept(calls, row) if calls else "",
            "Whether the relay charged for it is not known (it bills a broken stream by its own count of what it "
            "had sent)."]
    return " ".join(w for w in said if w)


def _nothing_kept(hint: str, reasoning_row: int | None) -> str:
    """A broken stream's hint when no answer text had come: it pointed at an empty ``.partial_text``; now it says
    so, and where the reasoning that had come is kept (``reasoning_row``: its row), the rest of the hint as it was."""
    if not hint.startswith(_KEPT):
        return hint
    rest = hint[len(_KEPT):]
    rest = rest.split(". ", 1)[1] if ". " in rest else ""
    said = "No answer text had arrived" + (
        f"; the reasoning that had is kept in .partial.reasoning and in history #{reasoning_row}"
        if reasoning_row is not None else "") + "."
    return f"{said} {rest}".strip()


def _cut_calls(acc: Accumulator) -> list[dict[str, Any]]:
    """The tool calls a broken stream had begun (``Accumulator.cut_calls``) as the row keeps them: a key the relay
    echoed in them masked, a key's first part at the cut end too."""
    return [{**c, "id": received_text(c["id"]), "name": received_text(c["name"]), "arguments": cut_text(c["arguments"])}
            for c in acc.cut_calls()]


def _calls_kept(calls: list[dict[str, Any]], row: int | None) -> str:
    """Where a broken stream's begun tool calls are: said in its error's hint."""
    from ..errors import one_line

    # (the relay chose the names: one short clean line each, no escape or line break reaches the error's line)
    names = ", ".join(repr(one_line(c["name"], 40, kept_in=None)) for c in calls[:3] if c["name"]) or "unnamed"
    one = len(calls) == 1
    return (f"The tool call{'' if one else 's'} it had begun ({names}) {'is' if one else 'are'} kept unrun, "
            f"{'its' if one else 'their'} arguments cut short, in .partial.cut_tool_calls and history #{row}.")


def _received_choices(others: list[Choice], *, cut: bool = False) -> list[Choice]:
    """An ``n=`` call's other answers as received text (a key in them masked, as in the first answer; ``cut``: a
    stream that broke off, where a key's first part whose end never came is masked too)."""
    read = cut_text if cut else received_text
    return [Choice(read(c.text) if c.text else "", received_text(c.reasoning), c.finish_reason, c.tool_calls)
            for c in others]


def _failed_usage(rec: Recording, exc: BaseException, outputs: list[dict[str, Any]],
                  uncounted: str | None = None) -> dict[str, Any]:
    """``{"usage": …}`` with its cost for the row of a call that failed yet reported what it consumed (a Responses
    ``response.failed`` carrying ``usage``), else ``{}`` (the row's cost is then decided as for any failure). A
    whole failed answer is billed that usage; a stream (``uncounted``) is not: see :func:`_relay_counted`."""
    usage = exc.usage if isinstance(exc, TokenhotError) else None
    if not isinstance(usage, Usage):
        return {}
    used = usage.as_dict()
    try:
        used["cost"] = rec.cost(used, outputs, {}) if uncounted is None else _relay_counted(rec, uncounted)
    except Exception:  # the row must still end
        return {}
    return {"usage": used}


def _relay_counted(rec: Recording, ended: str) -> dict[str, Any]:
    """The cost of a Responses stream that ended without ``response.completed`` (``response.failed``,
    ``response.incomplete``): new-api's ``OaiResponsesStreamHandler`` reads usage from ``response.completed``
    only and bills such a stream by its own count of the streamed text and its estimate of the request, so the
    usage the last event reports is not the bill: unknown (the budget counts the call at its estimate)."""
    ended = ended.removeprefix("response.")
    return _cost.Cost(None, simulated=_budget.simulated(rec.session),
                      detail=f"the Responses stream ended {ended}: the relay bills its own count of the streamed "
                             "text, not the usage reported; the charge is not known").as_dict()


def _usage_so_far(rec: Recording, acc: Accumulator, exc: BaseException, outputs: list[dict[str, Any]], *,
                  whole: bool) -> dict[str, Any]:
    """``{"usage": …}`` for the row of a stream that failed after it reported usage (Claude's ``message_start``, a
    relay that counts in every chunk), else ``{}``; the error carries it too. A stream cut before its end reported
    part of its count only: its cost is unknown (the relay's charge for it is not known, and is not guessed from a
    partial count); one that ended (``whole``) and failed after is priced as any answer."""
    seen = acc.usage
    if seen is None or not (seen.input_tokens or seen.output_tokens or seen.total_tokens):
        return {}
    if isinstance(exc, TokenhotError) and exc.usage is None:
        exc.usage = seen
    used = seen.as_dict()
    try:
        used["cost"] = rec.cost(used, outputs, {}) if whole else _cost.Cost(
            None, simulated=_budget.simulated(rec.session),
            detail="the answer broke off: its usage is what had arrived, the relay's charge is not known").as_dict()
    except Exception:  # the row must still end
        return {}
    return {"usage": used}


#: Seconds between two saves of a streaming answer's text so far into its ``running`` row.
KEEP_EVERY = 1.0


class _Keeper:
    """Saves a streaming answer's text so far into its ``running`` row every :data:`KEEP_EVERY` seconds. A kernel
    killed, or an interpreter that exits while the background loop streams, runs no ``except``: without this the
    row the next session marks ``interrupted`` would hold nothing of an answer that was received (and paid for)."""

    def __init__(self, rec: Recording, prompt: str, acc: Accumulator, request_id: str | None) -> None:
        self.rec, self.prompt, self.acc, self.request_id = rec, prompt, acc, request_id
        self.due = time.monotonic() + KEEP_EVERY
        self.kept = 0  #: the length of the text last saved

    def __call__(self) -> None:
        now = time.monotonic()
        if now < self.due:  # (most deltas: the clock only)
            return
        more, calls = self.acc.others, self.acc.calls
        size = len(self.acc.text) + len(self.acc.reasoning) + (sum(len(o.text) for o in more.values()) if more else 0) \
            + (sum(len(c.arguments) + len(c.name or "") for c in calls.values()) if calls else 0)
        if size == self.kept:
            return
        self.due = now + KEEP_EVERY
        self.kept = size
        try:  # the same text a stream cut short keeps (a key's first part whose end has not come yet is masked),
            # an n= stream's other answers and the reasoning too: each is paid for, and a killed kernel runs no
            # ``except`` (the row's ``response["reasoning"]``: its text so far, while the stream lasts)
            others = _received_choices(self.acc.reply().others, cut=True)
            self.rec.update(text="\n\n".join([self.prompt, cut_text(self.acc.text), *(c.text for c in others)]),
                            response=drop_none({"request_id": self.request_id, "partial": True,
                                                "reasoning": cut_text(self.acc.reasoning) or None,
                                                "cut_tool_calls": _cut_calls(self.acc) or None,
                                                "choices": [c.as_dict() for c in others] or None}))
        except Exception:  # the store's trouble is said when the row ends; the stream goes on
            pass


async def _read_events(events: EventStream, fmt: str, acc: Accumulator, on_delta: Callable[[ChatDelta, str], Any] | None,
                       shown: _View, log: _pieces.PieceLog | None = None,
                       keep: Callable[[], None] | None = None) -> str | None:
    """Fold a stream's events into ``acc``, showing each piece to ``on_delta`` as a live view may (and noting it
    in ``log``, watched or not, so a replay can show the same pieces); ``keep`` saves the text so far now and
    then. Returns the ``type`` of the last event read (a Responses stream's terminal event)."""
    from ..families import chat

    last: str | None = None
    try:
        async for ev in events:
            if not isinstance(ev.data, dict):  # every stream format sends JSON objects
                raise StreamError(
                    f"The stream sent a frame that is not JSON: {received_text(ev.data)[:80]!r}.",
                    hint="The text received so far is kept in .partial_text; the rest of the answer "
                    "was not read. Try again.")
            kind = ev.data.get("type")
            last = kind if isinstance(kind, str) else last
            delta = chat.parse_event(fmt, ev.data)
            acc.add(delta)
            if delta.text or delta.reasoning:
                if log is not None:
                    log.add(delta.text, delta.reasoning, delta.done)
                if on_delta is not None:  # (nobody watching: no view)
                    call_user(on_delta, *shown(delta, acc.text, acc.reasoning))
            if keep is not None and (delta.text or delta.reasoning or delta.tool_calls
                                     or (delta.others and any(o.text for o in delta.others.values()))):
                keep()
            if delta.done:
                break
    finally:
        await events.aclose()
    return last


def _replay_stop(on_delta: Callable[[ChatDelta, str], Any], stop: ReplayedInterrupt, store: Store) -> None:
    """Show ``on_delta`` the text and reasoning a stream stopped midway had shown it live (its recorded pieces, or
    what had come in one piece), before the replay raises that stop. An ``on_delta`` that stops at the last of them, as the live
    one did, is that same stop; one that stops earlier is a stop of the replay itself, and goes up as it is."""
    from ..results._rebuild import _text

    entry = stop.entry
    response = entry.response if entry is not None and isinstance(entry.response, dict) else {}
    if entry is None:
        return
    try:  # (the text so far, and the reasoning so far: a stop while the model reasoned kept that only)
        text = _text(store, entry, "text") if response.get("partial") is True else ""
        reasoning = _text(store, entry, "reasoning")
    except Exception:  # (the stored text is gone: the stop is re-enacted all the same)
        return
    if not text and not reasoning:
        return
    cut = _pieces.split(response.get("pieces"), text, reasoning)
    last = len(cut[0]) if cut is not None else 1
    calls = 0

    def counted(delta: ChatDelta, so_far: str) -> None:
        nonlocal calls
        calls += 1
        try:
            on_delta(delta, so_far)
        except (KeyboardInterrupt, Interrupted):
            if calls == last:  # where the recording stopped: its stop, with its words
                raise stop from None
            raise

    if cut is None:
        call_user(counted, ChatDelta(text=text, reasoning=reasoning), text)
    else:
        _replay_pieces(counted, response, text, reasoning, whole=False)


def _replay_broken(err: StreamError, on_delta: Callable[[ChatDelta, str], Any] | None, session: Session) -> None:
    """A replayed stream that broke (``recording.recorded_stream_error``): ``err.partial_text`` is the text that had
    arrived, as live (and ``err.partial`` the tool calls it had begun, when it had), and ``on_delta`` is shown the
    pieces it was shown live (no final ``done`` one: the stream never ended), before the replay raises ``err``."""
    from ..results._rebuild import _text, usage_from

    entry = getattr(err, "replayed_entry", None)
    if entry is None:
        return
    response = entry.response if isinstance(entry.response, dict) else {}
    try:
        text = _text(session.store, entry, "text") if response.get("partial") is True else ""
        reasoning = _text(session.store, entry, "reasoning")
    except Exception:  # (the stored text is gone: the error is raised all the same)
        return
    err.partial_text = text
    used = entry.usage if isinstance(entry.usage, dict) else {}
    if err.usage is None and any(used.get(k) for k in ("input_tokens", "output_tokens", "total_tokens")):
        err.usage = usage_from(used)  # (what it had reported before it broke: what the relay may bill, as live)
    calls = response.get("cut_tool_calls")
    cut = [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    if (err.usage is not None or reasoning or cut) and err.partial is None:  # (as live: see chat_one)
        prompt = entry.params.get("message") if isinstance(entry.params, dict) else None
        err.partial = ChatResult(text, reasoning=reasoning, usage=err.usage, finish_reason="failed",
                                 thread=entry.thread, prompt=prompt if isinstance(prompt, str) else "",
                                 model=entry.model, entry=entry, session=session)
        err.partial.cut_tool_calls = cut
    if on_delta is not None and (text or reasoning):
        _replay_pieces(on_delta, response, text, reasoning, whole=False)


def _replay_pieces(on_delta: Callable[[ChatDelta, str], Any], response: dict[str, Any] | None, text: str,
                   reasoning: str, *, whole: bool = True) -> None:
    """Show a recorded answer as the live call did: its recorded pieces with the text so far as the live view
    had it (a tail held back as a possible key start, then shown by a final ``done`` delta), or in one piece
    when the row has none that fit (an older row, a stream=False call, a redacted answer). ``whole=False``: the
    text of a stream stopped midway, which never ended (no final delta)."""
    cut = _pieces.split((response or {}).get("pieces"), text, reasoning)
    if cut is None:
        call_user(on_delta, ChatDelta(text=text, reasoning=reasoning, done=whole), text)
        return
    pieces, done = cut
    shown = _View()
    at = at_r = 0
    for i, (t, r) in enumerate(pieces):
        at, at_r = at + len(t), at_r + len(r)
        call_user(on_delta, *shown(ChatDelta(text=t, reasoning=r, done=done and i == len(pieces) - 1),
                                   text[:at], reasoning[:at_r]))
    rest = shown.rest(text, reasoning) if whole else None
    if rest is not None:  # as live: what the view held back is shown once the stream has ended
        call_user(on_delta, rest, text)


class _View:
    """What ``on_delta`` is shown of a stream: the text so far as a live view has it (:class:`LiveText`: echoed
    keys masked, a tail that may be a key's first part held back), and a delta whose ``text`` and ``reasoning`` are
    what that view added. The delta as it came carries the key as the relay sent it, in pieces no redaction
    recognises: ``on_delta=lambda d, so_far: print(d.text, end="")`` printed it whole. The pieces add up to the
    answer (the one held back comes with the next delta, or the final ``done`` one: :meth:`rest`)."""

    def __init__(self) -> None:
        self.text = LiveText()
        self.reasoning = LiveText()

    def __call__(self, delta: ChatDelta, text: str, reasoning: str) -> tuple[ChatDelta, str]:
        """``(delta as shown, text so far as shown)`` for a delta that brought ``text``/``reasoning`` so far."""
        was, was_r = self.text.last, self.reasoning.last
        so_far = self.text(text, len(delta.text))
        so_far_r = self.reasoning(reasoning, len(delta.reasoning)) if delta.reasoning else was_r
        return dataclasses.replace(delta, text=_added(was, so_far), reasoning=_added(was_r, so_far_r)), so_far

    def rest(self, text: str, reasoning: str) -> ChatDelta | None:
        """The final ``done`` delta with what the view held back of the whole ``text``/``reasoning``; None when
        it held nothing back."""
        if self.text.last == text and self.reasoning.last == reasoning:
            return None
        return ChatDelta(text=_added(self.text.last, text), reasoning=_added(self.reasoning.last, reasoning),
                         done=True)


def _added(before: str, after: str) -> str:
    """What ``after`` (a view's text) adds to ``before`` (what it showed last); "" when it is no continuation of it
    (an answer whose ``<think>`` block moved to the reasoning at its end): the text so far then says it all."""
    return after[len(before):] if after.startswith(before) else ""


def streams(info: ModelInfo, kw: dict[str, Any]) -> bool:
    """Whether :func:`chat_one` will stream with these options (a sync call keeps a stream off the blocking
    lane: its stall watchdog needs a loop that is free while it waits)."""
    from ..families import chat

    return chat.streams(info, bool(kw.get("stream", True)), _endpoint(info, kw))


def _endpoint(info: ModelInfo, kw: dict[str, Any]) -> str | None:
    """The endpoint asked for, else the menu entry's own ("GPT 5(Responses)" picks responses)."""
    asked = kw.get("endpoint")  # ([] was read as not given: only None and "" are; the rest is checked as sent)
    return asked if asked is not None and asked != "" else info.preset.get("endpoint")


def _checked(text: str, schema: _schema.Schema | None, res: ChatResult) -> Any:
    """The answer as data (``_schema.check``). A mismatch is the error of a call that is recorded already (its row
    is ``ok``, paid for): it was recorded once more, as a call "refused before sending" that cost nothing, and a
    replay skipped a row for it."""
    try:
        return _schema.check(text, schema, res)
    except SchemaMismatchError as err:
        mark_recorded(err)
        raise


def _forced_text(arguments: dict[str, Any]) -> str:
    """Claude's structured answer (its forced tool's input) as the answer's text. Input that is not JSON (cut short
    at max_tokens) is the text as it came: dumped as the parser's ``{"_raw": …}`` it was an object, which json=True
    and a schema with no required field took for the answer."""
    raw = arguments.get("_raw") if len(arguments) == 1 else None
    if isinstance(raw, str):
        try:
            json.loads(raw)
        except ValueError:
            return raw
    return json.dumps(arguments, ensure_ascii=False)


def _answer(text: str, calls: list[ToolCall], thinking: Any = None) -> str | dict[str, Any]:
    """What the thread keeps of an answer: the text, or an assistant message with its tool calls (and Claude's
    signed thinking, which such a turn must send back)."""
    return tool_turn(text, [c.as_dict() for c in calls], thinking) if calls else text


def _results(tool_results: Any, th: Thread | None, session: Session | None = None, *,
             replay: bool = False) -> dict[str, Any] | None:
    """Check ``tool_results`` against the calls the thread is waiting for, before any request: each call answered
    (every protocol refuses a turn that leaves one out, or that follows tool calls with a plain message: a 400
    after the round trip), each result as JSON (what is sent, kept in the history and replayed is the same).
    ``replay``: a result that is no JSON is kept as given, as rows recorded before this check kept it (nothing is
    sent; :func:`_as_older_rows` finds such a row)."""
    pending = th.pending_calls() if th is not None else {}
    if tool_results is None:
        if pending:
            raise InputError(f"The thread's last answer asked for tools ({_listed(pending)}): the next turn must "
                             "answer them.", hint="Pass tool_results={id: result} (a message may go with it), or "
                             "start over with new_thread=True.")
        return None
    if not isinstance(tool_results, dict) or not tool_results:
        raise InputError("tool_results= takes a dict {tool call id: result}.",
                         hint="Use the ids in result.tool_calls, e.g. {call.id: {'temperature': 21}}.")
    unknown = [k for k in tool_results if str(k) not in pending]
    apart = {k: c for k, c in _cut_last(th, session).items() if k in map(str, unknown)} if unknown else {}
    cut = {k: n for k, (n, not_json) in apart.items() if not not_json}
    if cut:
        was, its = ("was", "its") if len(cut) == 1 else ("were", "their")
        raise InputError(f"{_listed(cut)} {was} cut at max_tokens before {its} arguments ended: never made, so no "
                         "result answers it.", hint="Answer only the calls in result.tool_calls (if any); for the "
                         "cut one, ask again with a larger max_tokens=.")
    if apart:
        bad = {k: n for k, (n, _) in apart.items()}
        was, its = ("was", "its") if len(bad) == 1 else ("were", "their")
        raise InputError(f"{_listed(bad)} {was} sent by the model with arguments that are not a JSON object: never "
                         "run, so no result answers it.", hint=f"Answer only the calls in result.tool_calls (if any); {its} "
                         f"arguments as sent are in result.cut_tool_calls: ask again for {'it' if len(bad) == 1 else 'them'}.")
    if unknown:
        raise InputError(f"tool_results answers {', '.join(map(repr, unknown))}, but the thread's last answer "
                         f"asked for: {_listed(pending) or 'none'}.",
                         hint="Send results in the same thread as the answer with the tool calls.")
    given = {str(k) for k in tool_results}
    missing = {i: n for i, n in pending.items() if i not in given}
    if missing:
        raise InputError(f"tool_results has no result for {_listed(missing)}: every call of the last answer needs "
                         "one.", hint="Add {id: result} for each; a call you did not run can be answered with a "
                         "note such as 'not run'.")
    out: dict[Any, Any] = {}
    for k, v in tool_results.items():
        try:  # (a datetime, a Decimal: as their text, as the wire had them)
            out[k] = json.loads(json.dumps(v, ensure_ascii=False, default=str, allow_nan=False))
        except (TypeError, ValueError) as exc:
            if replay:
                out[k] = v
                continue
            raise InputError(f"The result for {str(k)!r} cannot be sent as JSON ({exc}).",
                             hint="Pass text, numbers, lists and dicts (no NaN, no loops).") from None
    return out


def _as_older_rows(session: Session, info: ModelInfo, endpoint: str, params: dict[str, Any],
                   given: Any) -> dict[str, Any]:
    """Replay: the params of a turn answering tool calls as its row holds them. Rows recorded before results were
    made JSON (``_results``) keep them as given, as the store writes any value (a datetime as its ISO text, NaN as
    NaN), under a key of that form: such a recording missed ("never recorded") or was refused as no JSON, though
    the notebook is the one recorded. The row under the new form wins; else the older form's, when it has one."""
    if not isinstance(given, dict):
        return params
    store = session.store

    def recorded(p: dict[str, Any]) -> bool:
        try:
            key = store.key_for("chat", info.id, endpoint, p)
        except Exception:  # (a value no key can hold: not this form)
            return False
        return bool(store.select_entries([("replay_key = ?", (key,))], limit=1))

    older = {**params, "tool_results": given}
    return older if not recorded(params) and recorded(older) else params


def _cut_last(th: Thread | None, session: Session | None) -> dict[str, tuple[str, bool]]:
    """The tool calls the thread's last answer had set apart (``cut_tool_calls`` of its row: cut at max_tokens, or
    whose arguments the model sent as no JSON), id → (name, whether the arguments were sent so)."""
    from ..families._types import NOT_JSON

    if th is None or th.last_id is None or session is None:
        return {}
    try:
        listed = (session.store.get(th.last_id).response or {}).get("cut_tool_calls")
    except Exception:  # (a row gone: the plain refusal says the rest)
        return {}
    return {str(c.get("id")): (str(c.get("name") or ""), bool(c.get(NOT_JSON))) for c in listed
            if isinstance(c, dict)} if isinstance(listed, list) else {}


def _listed(calls: dict[str, str]) -> str:
    """Tool calls as an error line names them: ``id (name)``, a few at most."""
    from ..errors import one_line

    # (the relay chose them: one short clean line each)
    shown = ", ".join(f"{one_line(i, 48, kept_in=None)} ({one_line(n, 40, kept_in=None)})"
                      for i, n in list(calls.items())[:4])
    return shown + (f" and {len(calls) - 4} more" if len(calls) > 4 else "")


def jsonable_messages(messages: list[Any], store: Store | None = None) -> list[Any]:
    """Explicit conversations in params: a part's bytes become the stored file's reference (the history never
    holds raw bytes), as ``images=`` do, so the row keeps the image, its replay key follows the image's content
    (not only its length) and ``to_code()`` sends it again; with no store, its size."""
    def kept(v: bytes | bytearray, part: dict[str, Any]) -> dict[str, Any]:
        if store is None:
            return {"bytes": len(v)}
        mime = part.get("mime") or part.get("mime_type")
        return store.add_bytes(bytes(v), mime if isinstance(mime, str) and mime else "image/png").ref()

    out: list[Any] = []
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            parts = [{k: (kept(v, p) if isinstance(v, (bytes, bytearray)) else v) for k, v in p.items()}
                     if isinstance(p, dict) else p for p in m["content"]]
            out.append({**m, "content": parts})
        else:
            out.append(m)
    return out


def _parts_read(message: Any) -> Any:
    """A message whose part's ``data`` is a file (a path, or ``s.history.artifact(…)`` in code from ``to_code()``)
    with the file's bytes in its place; the family takes bytes."""
    import os

    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message
    if not any(isinstance(p, dict) and isinstance(p.get("data"), os.PathLike) for p in message["content"]):
        return message
    parts: list[Any] = []
    for p in message["content"]:
        if isinstance(p, dict) and isinstance(p.get("data"), os.PathLike):
            try:
                p = {**p, "data": Path(p["data"]).read_bytes()}
            except OSError as exc:
                raise InputError(f"A message part's image file could not be read: {exc.strerror or exc}.",
                                 hint="Check the path, or pass the image's bytes as data=.") from None
        parts.append(p)
    return {**message, "content": parts}


def _answers(n: Any) -> int | None:
    """``n=`` (how many answers, each paid for): a whole number of at least 1. ``n=0`` and ``n=True`` were sent
    as they were, for the relay to answer with nothing, or a 400 after the round trip."""
    n = whole_number(n)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise InputError(f"n is how many answers (a whole number of at least 1), not {n!r:.40}.",
                         hint="e.g. n=3 (each answer is paid for); leave it out for one.", option="n")
    return n
