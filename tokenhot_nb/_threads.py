"""Chat conversations: one message list per thread name, rebuilt from the history after a restart.

A thread's messages are its ``ok`` chat entries in order (each: the user message, then the answer),
starting at the last entry that asked for ``new_thread=True``. Images sent in a turn are kept (from the
store) so follow-ups about them still have them.

Each message is stored once: a turn's row links to the turn before it (``parent``) and its ``request`` holds
only the new message plus a ``context`` note (``{"parent": id, "messages": n}``), so a thread's store grows
linearly and a turn costs the same at turn 400 as at turn 10. :func:`wire_request` rebuilds the body that was
sent (for curl and exports) from the rows.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .families._types import KeptMessage

if TYPE_CHECKING:
    from .history import HistoryEntry, Store

DEFAULT_THREAD = "default"


@dataclass
class Thread:
    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    system: str | None = None
    #: The history id of the last turn (the next turn's ``parent``); None before the first recorded turn.
    last_id: int | None = None
    #: The chat family's body of this conversation so far (``chat.Prefix``): a turn encodes only what it adds.
    prefix: Any = field(default=None, repr=False, compare=False)
    #: The model of the thread's last turn in this session (a ``ModelInfo``): a follow-up that names no model goes
    #: on with it, instead of switching to the default. Not read back from the store: a re-run notebook (and its
    #: replay) starts from the default model, as its first cell did when it was recorded.
    model: Any = field(default=None, repr=False, compare=False)

    def add(self, user: dict[str, Any], answer: str | dict[str, Any], entry_id: int | None = None) -> None:
        """A turn: the user message, then the answer (text, or an assistant message with ``tool_calls``)."""
        self.messages.append(user)
        self.messages.append(answer if isinstance(answer, dict) else KeptMessage(role="assistant", content=answer))
        self.last_id = entry_id

    def pending_calls(self) -> dict[str, str]:
        """Tool calls of the last answer, id → name: what ``tool_results`` may answer."""
        last = self.messages[-1] if self.messages else {}
        return {str(c.get("id")): str(c.get("name") or "") for c in last.get("tool_calls") or []}

    @property
    def turns(self) -> int:
        return len(self.messages) // 2

    def __repr__(self) -> str:
        return f"<Thread {self.name!r}: {self.turns} turns>"


def user_message(text: str, images: list[tuple[bytes, str] | str]) -> dict[str, Any]:
    """The neutral message shape the chat family converts per endpoint (a thread's: :class:`KeptMessage`)."""
    if not images:
        return KeptMessage(role="user", content=text)
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for im in images:
        if isinstance(im, str):
            parts.append({"type": "image", "url": im})
        else:
            parts.append({"type": "image", "data": im[0], "mime": im[1]})
    return {"role": "user", "content": parts}


def with_tool_results(user: dict[str, Any], results: Any, pending: dict[str, str]) -> dict[str, Any]:
    """The user turn carrying the answers to the last turn's tool calls (``{call id: result}``)."""
    if not results:
        return user
    listed = [{"id": str(cid), "name": pending.get(str(cid), ""), "content": value} for cid, value in results.items()]
    return {**user, "tool_results": listed}


def _check_name(name: object) -> None:
    """``threads.get(object())`` was an sqlite error from inside, ``forget([…])`` "unhashable type": a conversation
    is named by a str (``thread='study'``)."""
    if not isinstance(name, str):
        from .errors import WrongTypeError

        raise WrongTypeError(f"A conversation is named by a str, not {type(name).__name__} {name!r:.40}.",
                             hint="e.g. session.threads.get('study'); session.threads.names() lists them.")
    if not name.strip():  # (a thread no chat can name: chat(thread='') is refused, not read as this one)
        from .errors import InputError

        raise InputError("A conversation's name is empty.",
                         hint=f"e.g. session.threads.get('study'); the default conversation is {DEFAULT_THREAD!r}.")


#: The conversations whose turn the running call is (or runs inside: a call made from its ``on_delta``).
_IN_TURN: ContextVar[frozenset[str]] = ContextVar("tokenhot_in_turn", default=frozenset())


class Threads:
    """The session's conversations by name; loads a name from the store on first use."""

    def __init__(self, store_getter: Any) -> None:
        self._store = store_getter  # a callable: the store is opened lazily by the session
        self._threads: dict[str, Thread] = {}
        self._lock = threading.Lock()
        self._turns: dict[str, Any] = {}  # name → its AnyLoopLock

    @contextlib.asynccontextmanager
    async def turn(self, name: Any) -> AsyncIterator[None]:
        """One turn of conversation ``name`` at a time, whichever loop or thread asks (a panel's worker thread and
        the cell, ``asyncio.gather`` of two follow-ups): the next turn waits, then carries the first. A call made
        inside a turn (from its ``on_delta``) does not wait for it. ``name`` None (no thread), or one the call will
        refuse: no wait."""
        if not isinstance(name, str) or not name.strip() or name in _IN_TURN.get():
            yield
            return
        with self._lock:
            lock = self._turns.get(name)
            if lock is None:
                from .client._loop import AnyLoopLock  # (not at import: the magics import this module)

                lock = self._turns[name] = AnyLoopLock()
        async with lock:
            token = _IN_TURN.set(_IN_TURN.get() | {name})
            try:
                yield
            finally:
                _IN_TURN.reset(token)

    def get(self, name: str, *, new: bool = False) -> Thread:
        _check_name(name)
        with self._lock:
            if new:
                self._threads[name] = Thread(name)
            elif name not in self._threads:
                self._threads[name] = self._load(name)
            return self._threads[name]

    def __getitem__(self, name: str) -> Thread:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._threads

    def names(self) -> list[str]:
        """Every conversation: this session's and those its store recorded (a previous kernel's too), which the
        hints send a user here to find."""
        with self._lock:
            names = set(self._threads)
        try:
            rows = self._store().select([("kind = ?", ("chat",)), ("status = ?", ("ok",)), ("thread IS NOT NULL", ())],
                                        columns="thread")
        except Exception:  # (a store that cannot be read: its own error comes with the next call; a listing stays)
            rows = []
        return sorted(names | {str(r[0]) for r in rows if r[0]})

    def __repr__(self) -> str:
        """``session.threads`` as a cell's value: the names, not ``<Threads object at 0x…>``."""
        names = self.names()
        listed = ", ".join(repr(n) for n in names) if names else "none yet"
        return f"Threads ({len(names)}): {listed}; session.threads[name] is one (its .messages, .system, .turns)"

    def forget(self, name: str | None = None) -> None:
        """Drop the in-memory copy (all of them with no name); the next use reloads from the history."""
        if name is not None:
            _check_name(name)
        with self._lock:
            if name is None:
                self._threads.clear()
            else:
                self._threads.pop(name, None)

    def _load(self, name: str) -> Thread:
        store: Store = self._store()
        entries = store.select_entries(
            [("kind = ?", ("chat",)), ("status = ?", ("ok",)), ("thread = ?", (name,))]
        )
        thread = Thread(name)
        for e in _chain(entries):
            user = with_tool_results(_rebuilt_user(store, e), (e.params or {}).get("tool_results"),
                                     thread.pending_calls())
            calls = row_calls(e.response)
            answer = _answer(store, e)
            thread.add(user, tool_turn(answer, calls, (e.response or {}).get("thinking_blocks")) if calls else answer,
                       e.id)
            if (e.params or {}).get("system"):
                thread.system = e.params["system"]
        return thread


def _chain(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """The conversation the newest of ``entries`` (one thread name's ``ok`` turns) continued, oldest first, by its
    ``parent`` links. Two notebooks in one folder share its store: taking every row of the name interleaved
    their two "default" threads into a conversation neither had sent, and the next turn went out with it."""
    by_id = {e.id: e for e in entries}
    chain: list[HistoryEntry] = []
    entry = entries[-1] if entries else None
    while entry is not None and len(chain) < MAX_TURNS:
        chain.append(entry)
        if entry.parent is None or (entry.params or {}).get("new_thread"):
            break
        entry = by_id.pop(entry.parent, None)  # (popped: a damaged store's parent cycle ends the walk)
    return chain[::-1]


def _answer(store: Store, entry: HistoryEntry) -> str:
    return _answer_from(store, entry.outputs or [])


def _rebuilt_user(store: Store, entry: HistoryEntry) -> dict[str, Any]:
    return _user_from(store, entry.params or {})


# ---------------------------------------------------------------- one row per turn: what a row stores, rebuilt


def store_once(entry: HistoryEntry, thread: Thread | None, build_turn: Callable[[], Any]) -> None:
    """Make a thread turn's entry hold only what it adds: ``parent`` + the request of the new message alone.

    ``build_turn()`` is the family's call built from the new message only, with the same options; it is built
    only when there is something earlier to leave out (a thread with a recorded turn before this one).
    """
    if thread is None or not thread.messages or thread.last_id is None:
        return
    req = build_turn().describe()
    req["context"] = {"parent": thread.last_id, "messages": len(thread.messages)}
    entry.request = req
    entry.parent = thread.last_id


#: Bound on a conversation walk (a damaged store with a parent cycle must not loop forever).
MAX_TURNS = 1_000_000


def row_calls(response: Any) -> Any:
    """A row's tool calls as its thread keeps them. A row kept before calls whose arguments are not JSON were set
    apart (cut at max_tokens, or sent so by the model) holds such a call in ``tool_calls`` (arguments
    ``{"_raw": …}``): left out here as a new row leaves it out, or the thread waited for a result to a call that
    was never whole."""
    calls = (response or {}).get("tool_calls") if isinstance(response, dict) else None
    if not calls or not isinstance(calls, list):
        return calls
    whole = [c for c in calls if not (isinstance(c, dict) and isinstance(c.get("arguments"), dict)
                                      and list(c["arguments"]) == ["_raw"] and isinstance(c["arguments"]["_raw"], str))]
    return whole or None


def tool_turn(text: str, calls: list[Any], thinking: Any = None) -> dict[str, Any]:
    """An assistant turn that called tools, as the thread keeps it: with Claude's signed thinking blocks when it
    had them (a tool turn made with thinking on must send them back, §2.3)."""
    turn: dict[str, Any] = {"role": "assistant", "content": text, "tool_calls": calls}
    if isinstance(thinking, list) and thinking:
        turn["thinking_blocks"] = [b for b in thinking if isinstance(b, dict)]
    return turn


def conversation(store: Store, parent: int | None) -> list[dict[str, Any]]:
    """The neutral messages of a thread up to and including turn ``parent`` (its question and answer)."""
    import json

    chain: list[tuple[Any, Any, Any]] = []
    conn = store.connection()
    seen: set[int] = set()
    while parent is not None and parent not in seen and len(seen) < MAX_TURNS:
        seen.add(parent)
        row = conn.execute("SELECT parent, params, outputs, response FROM entries WHERE id=?",
                           (parent,)).fetchone()
        if row is None:
            break
        chain.append((json.loads(row[1] or "{}"), json.loads(row[2] or "[]"), json.loads(row[3] or "{}")))
        parent = row[0]
    messages: list[dict[str, Any]] = []
    for params, outputs, response in reversed(chain):
        pending = {str(c.get("id")): str(c.get("name") or "") for c in messages[-1].get("tool_calls") or []} \
            if messages else {}
        messages.append(with_tool_results(_user_from(store, params), params.get("tool_results"), pending))
        text = _answer_from(store, outputs, strict=True)
        calls = row_calls(response)
        messages.append(tool_turn(text, calls, response.get("thinking_blocks")) if calls
                        else {"role": "assistant", "content": text})
    return messages


#: ``Session.chat`` arguments recorded in params that are not body options (everything else went as ``extra``).
_CHAT_ARGS = frozenset({"message", "model", "system", "stream", "thread", "new_thread", "temperature",
                        "max_tokens", "images", "endpoint", "raw", "schema", "json", "tools", "tool_choice",
                        "tool_results", "cache"})


def wire_request(store: Store, entry: HistoryEntry) -> dict[str, Any]:
    """The request a thread turn sent: its conversation rebuilt from the rows, built again by the chat family.

    Falls back to the stored request (the new message alone, with its ``context`` note) when the model is no
    longer known or an earlier answer's file is not in the store (a history loaded without its artifacts).
    """
    from . import catalog
    from .families import chat
    from .history._entry import jsonable

    req = dict(entry.request or {})
    ctx = req.get("context")
    try:
        params = entry.params or {}
        info = catalog.model(entry.model)
        earlier = conversation(store, int(ctx["parent"]))  # type: ignore[index]
        pending = {str(c.get("id")): str(c.get("name") or "") for c in earlier[-1].get("tool_calls") or []} \
            if earlier else {}
        messages = [*earlier, with_tool_results(_user_from(store, params), params.get("tool_results"), pending)]
        extra = {k: v for k, v in params.items() if k not in _CHAT_ARGS}
        schema = params.get("schema")
        output = chat.Output(schema, "answer", bool(params.get("json"))) if schema or params.get("json") else None
        if output is not None and isinstance(schema, dict):
            from ._schema import resolve

            output.name = resolve(schema).name
        call = chat.build(info, messages, endpoint=entry.endpoint or None, system=params.get("system"),
                          temperature=params.get("temperature"), max_tokens=params.get("max_tokens"),
                          stream=bool(params.get("stream")), extra=extra or None, raw=params.get("raw"),
                          output=output, tools=params.get("tools"), tool_choice=params.get("tool_choice"),
                          cache=params.get("cache") if params.get("cache") in chat.CACHE_TTLS else None)
    except Exception:
        return req
    out: dict[str, Any] = jsonable(call.describe(), store.secrets)
    return out


def _user_from(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    images: list[tuple[bytes, str] | str] = []
    for ref in params.get("images") or []:
        if isinstance(ref, dict) and ref.get("url"):
            images.append(str(ref["url"]))
        elif isinstance(ref, dict) and ref.get("artifact"):
            try:
                images.append((store.path_of(ref["artifact"]).read_bytes(), str(ref.get("mime", "image/png"))))
            except (FileNotFoundError, ValueError):
                continue
    return user_message(str(params.get("message") or ""), images)


def _answer_from(store: Store, outputs: list[dict[str, Any]], *, strict: bool = False) -> str:
    """A turn's answer text; ``strict``: raise when its file is not in the store (a rebuilt body would be wrong)."""
    for o in outputs or []:
        if isinstance(o, dict) and o.get("role") == "text":
            try:
                return store.read_artifact(o["sha256"]).decode("utf-8")
            except (FileNotFoundError, ValueError, KeyError):
                if strict:
                    raise
                return ""
    return ""
