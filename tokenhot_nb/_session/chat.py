"""Chat: the thread's context, streaming with ``on_delta``, partial answers kept on a broken stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from .._inputs import to_media_list
from .._threads import DEFAULT_THREAD, store_once, user_message
from ..catalog import ModelInfo
from ..errors import StreamError
from ..families._types import ChatDelta
from ..results import ChatResult, from_entry
from .inputs import store_media
from .loop import call_user
from .recording import Recording, drop_none, endpoint_name, new_entry, replayed, store_bytes

if TYPE_CHECKING:
    from ..results._base import Result
    from .core import Session


async def chat_one(session: Session, message: Any, info: ModelInfo, kw: dict[str, Any], *,
                   thread: str | Literal[False] | None, new_thread: bool = False, images: Any = (),
                   use_thread: bool = True, on_delta: Callable[[ChatDelta, str], Any] | None = None) -> Result:
    """One question (a batch runs many with ``use_thread=False``)."""
    from ..families import chat

    kw = dict(kw)
    headers = kw.pop("headers", None)
    raw = kw.pop("raw", None)
    system, stream = kw.pop("system", None), bool(kw.pop("stream", True))
    temperature, max_tokens = kw.pop("temperature", None), kw.pop("max_tokens", None)
    endpoint = kw.pop("endpoint", None) or info.preset.get("endpoint")  # "GPT 5(Responses)" picks responses
    store = session.store
    media = [store_media(session, m) for m in to_media_list(images, "image", store)] if images else []
    name = (thread or DEFAULT_THREAD) if use_thread and thread is not False else None
    th = session.threads.get(name, new=new_thread) if name is not None else None
    if th is not None and system is None:
        system = th.system
    if isinstance(message, (list, tuple)):  # an explicit conversation
        messages = list(message)
        user = None
        text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    else:
        text = str(message)
        user = user_message(text, [m.wire() for m in media])
        messages = [*(th.messages if th is not None else []), user]
    params = drop_none({
        "message": message if isinstance(message, str) else messages,
        "model": info.ref, "system": system, "stream": stream, "thread": name if name is not None else False,
        "new_thread": True if new_thread else None, "temperature": temperature, "max_tokens": max_tokens,
        "images": [m.ref() for m in media] or None, "endpoint": endpoint, **kw, "raw": raw,
    })
    if not isinstance(message, str):
        params["message"] = jsonable_messages(messages)
    options: dict[str, Any] = {"endpoint": endpoint, "system": system, "temperature": temperature,
                               "max_tokens": max_tokens, "stream": stream, "extra": kw or None, "raw": raw}
    call = chat.build(info, messages, **options)
    call.headers.update(headers or {})
    ep = endpoint_name(call)
    if session.mode == "replay":
        entry = replayed(session, "chat", info, ep, params)
        res = from_entry(entry, session)
        assert isinstance(res, ChatResult)
        if th is not None and user is not None:
            th.add(user, res.text, entry.id)
            if system:
                th.system = system
        call_user(on_delta, ChatDelta(text=res.text, reasoning=res.reasoning, done=True), res.text)
        return res

    entry = new_entry(session, "chat", info, ep, params, call, name, text)
    if user is not None:  # a thread turn stores its new message only (the rest is rebuilt from earlier rows)
        store_once(entry, th, lambda: chat.build(info, [user], **options))
    rec = Recording(session, entry)
    acc = chat.Accumulator()
    request_id: str | None = None
    response_id: str | None = None
    try:
        if call.stream:  # gemini.stream streams even when stream=False was asked
            events = await session.client.stream(call)
            request_id = events.request_id
            try:
                async for ev in events:
                    delta = chat.parse_event(call.stream, ev.data)
                    acc.add(delta)
                    if delta.text or delta.reasoning:
                        call_user(on_delta, delta, acc.text)
                    if delta.done:
                        break
            finally:
                await events.aclose()
            reply = acc.reply(info.id)
        else:
            resp = await session.client.send(call)
            request_id = resp.request_id
            reply = chat.parse(info, ep, resp.json())
            response_id = reply.response_id
            call_user(on_delta, ChatDelta(text=reply.text, reasoning=reply.reasoning, done=True), reply.text)
    except BaseException as exc:
        partial = acc.text
        if isinstance(exc, StreamError) and partial and not exc.partial_text:
            exc.partial_text = partial
        outputs = [store_bytes(session, partial.encode("utf-8"), "text/plain", "text")] if partial else []
        rec.fail(exc, outputs=outputs, text=text + ("\n\n" + partial if partial else ""),
                 response=drop_none({"request_id": request_id, "partial": bool(partial) or None}))
        raise
    outputs = [store_bytes(session, reply.text.encode("utf-8"), "text/plain", "text")]
    if reply.reasoning:
        outputs.append(store_bytes(session, reply.reasoning.encode("utf-8"), "text/plain", "reasoning"))
    entry = rec.ok(response=drop_none({"request_id": request_id, "finish_reason": reply.finish_reason,
                                       "response_id": response_id or reply.response_id}),
                   usage=reply.usage, outputs=outputs, text=f"{text}\n\n{reply.text}")
    if th is not None and user is not None:
        th.add(user, reply.text, entry.id)
        if system:
            th.system = system
    return ChatResult(reply.text, reasoning=reply.reasoning, usage=reply.usage, finish_reason=reply.finish_reason,
                      thread=name, prompt=text, model=info.id, entry=entry, session=session)


def jsonable_messages(messages: list[Any]) -> list[Any]:
    """Explicit conversations in params: bytes parts become sizes (the history never stores raw bytes)."""
    out: list[Any] = []
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            parts = [{k: ({"bytes": len(v)} if isinstance(v, (bytes, bytearray)) else v) for k, v in p.items()}
                     if isinstance(p, dict) else p for p in m["content"]]
            out.append({**m, "content": parts})
        else:
            out.append(m)
    return out
