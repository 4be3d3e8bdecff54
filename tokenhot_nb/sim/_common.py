"""Helpers every endpoint shares: request context, error envelopes, deterministic text, SSE streaming."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ._state import SimState
from .faults import Faults

#: new-api sends the request id in this header; the same id ends every error message.
REQUEST_ID_HEADER = "X-Oneapi-Request-Id"

Envelope = Literal["openai", "claude", "task"]


class StreamAborted(Exception):
    """Raised inside a streaming body to drop the connection mid-stream (truncate fault)."""


class Early:
    """What a request held by the ``latency`` fault starts while it waits, for its answer to use after: its body
    read and, for an image, the drawing (in a worker thread) of what its answer will hold. None of it is an effect
    (no file stored, nothing billed or counted): those happen after the wait as always, and what was drawn is
    used only if the answer, checked after the wait, is drawn from the very same inputs. A request answered
    otherwise (an injected error, a refusal) or cancelled while it waits drops it (:meth:`drop`)."""

    def __init__(self) -> None:
        self.body: asyncio.Task[bytes] | None = None  #: the body read, its bytes or the error reading it raised
        self._prepared: asyncio.Task[None] | None = None
        self._key: Any = None
        self._work: asyncio.Task[Any] | None = None

    def start(self, request: Request, prepare: Callable[[bytes], Any]) -> None:
        """Read the body now and hand it to ``prepare`` (which may :meth:`begin` work); its errors are ignored."""
        self.body = asyncio.ensure_future(request.body())

        async def prepared() -> None:
            try:
                raw = await self.body  # type: ignore[misc]
                prepare(raw)
            except Exception:  # (the request answers for its body itself, after the wait)
                pass

        self._prepared = asyncio.ensure_future(prepared())

    def begin(self, key: Any, work: Callable[[], Any]) -> None:
        """Run ``work`` in a worker thread now, for :meth:`take` with an equal ``key`` to have its result."""
        from starlette.concurrency import run_in_threadpool

        self._key, self._work = key, asyncio.ensure_future(run_in_threadpool(work))

    def take(self, key: Any) -> asyncio.Task[Any] | None:
        """The work begun for ``key`` (awaiting it gives its result or raises its error), or None."""
        work = self._work
        if work is None or self._key != key:
            return None
        self._key, self._work = None, None
        return work

    def drop(self) -> None:
        """Cancel whatever was begun and not taken: its result is never used."""
        for task in (self._prepared, self._work, self.body):
            if task is None:
                continue
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # (seen: an error of work nobody used is nobody's to report)
        self._key, self._work = None, None


@dataclass
class Ctx:
    """Everything a handler needs about the current request."""

    request: Request
    state: SimState
    faults: Faults
    request_id: str
    envelope: Envelope
    key: str = ""  #: the key the request presented (only ever sent back by the ``echo_key`` fault)
    early: Early | None = None  #: what the request began while the ``latency`` fault held it

    @property
    def token(self) -> str:
        """The token ``key`` names: new-api strips one leading ``sk-`` (§1.1), so ``sk-xxx`` and ``xxx`` are one
        caller, with one rate limit and one prompt cache."""
        return self.key.removeprefix("sk-")

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def file_url(self, name: str) -> str:
        if self.faults.result_host:
            return f"{self.request.url.scheme}://{self.faults.result_host}/sim/files/{name}"
        return f"{self.base_url}/sim/files/{name}"


def new_request_id(seq: int) -> str:
    """new-api style: a timestamp plus a unique tail."""
    tail = hashlib.sha1(f"{seq}-{time.time_ns()}".encode()).hexdigest()[:8]
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + f"{seq % 1000000:06d}" + tail


def with_rid(message: str, rid: str) -> str:
    return f"{message} (request id: {rid})"


#: What the ``stream_error_after`` fault's error frame says (each protocol wraps it in its own form).
STREAM_FAILURE = "The upstream model failed in the middle of its answer; please try again"


def error_response(
    ctx_or_env: Ctx | Envelope,
    status: int,
    message: str,
    code: str = "",
    type_: str = "new_api_error",
    *,
    request_id: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """An error in the envelope the route uses (OpenAI, Claude or task)."""
    if isinstance(ctx_or_env, Ctx):
        envelope: Envelope = ctx_or_env.envelope
        request_id = ctx_or_env.request_id
    else:
        envelope = ctx_or_env
    text = with_rid(message, request_id) if request_id else message
    body: dict[str, Any]
    if envelope == "claude":
        body = {"type": "error", "error": {"type": code or type_, "message": text}}
    elif envelope == "task":
        body = {"code": code or type_, "message": text, "data": None}
    else:
        body = {"error": {"message": text, "type": type_, "param": "", "code": code}}
    out = JSONResponse(body, status_code=status, headers=headers)
    if request_id:
        out.headers[REQUEST_ID_HEADER] = request_id
    return out


def middleware_error(request_id: str, status: int, message: str, code: str = "",
                     headers: dict[str, str] | None = None) -> Response:
    """What new-api's middleware (auth, limiters, distributor) answers on every route, /v1/messages and the Gemini
    routes included: the OpenAI envelope without ``param`` (§10.5), whatever envelope the relay would use later."""
    body = {"error": {"message": with_rid(message, request_id) if request_id else message,
                      "type": "new_api_error", "code": code}}
    out = JSONResponse(body, status_code=status, headers=headers)
    if request_id:
        out.headers[REQUEST_ID_HEADER] = request_id
    return out


INJECTED: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "Simulated bad request"),
    401: ("invalid_api_key", "Simulated authentication failure"),
    403: ("access_denied", "Simulated permission denied"),
    404: ("not_found", "Simulated not found"),
    408: ("request_timeout", "Simulated request timeout"),
    409: ("conflict", "Simulated conflict"),
    429: ("rate_limit_exceeded", "Rate limit reached for this group, please try again later"),
    500: ("internal_error", "Simulated internal server error"),
    502: ("bad_response_status_code", "bad response status code 502"),
    503: ("service_unavailable", "The upstream service is overloaded, please try again later"),
    504: ("do_request_failed", "upstream request timed out"),
}


def injected_error(ctx: Ctx, status: int) -> Response:
    code, message = INJECTED.get(status, ("simulated_error", f"Simulated error {status}"))
    if ctx.envelope == "task" and status == 429:
        message = "当前分组上游负载已饱和，请稍后再试"
    headers: dict[str, str] = {}
    ra = ctx.faults.retry_after
    if status in (429, 503) and ra is not None:  # the real limiters send none (§10.5): only when asked for
        headers["Retry-After"] = str(math.ceil(ra))
        if ra != int(ra):
            headers["retry-after-ms"] = str(round(ra * 1000))
    type_ = "upstream_error" if status >= 500 else "new_api_error"
    if ctx.faults.echo_key:
        message += f" (token: {ctx.key})"
    return error_response(ctx, status, message, code, type_, headers=headers)


def rate_limited(request_id: str, limit: int, minutes: int, *, echo: str = "") -> Response:
    """The per-user model limiter's answer (§10.5): 429 from the middleware, code "", no Retry-After."""
    return middleware_error(request_id, 429, f"您已达到请求数限制：{minutes}分钟内最多请求{limit}次{echo}")


def service_error(ctx: Ctx, name: str) -> Response:
    """One of :data:`~.faults.SERVICE_ERRORS`: what new-api's limiters (middleware) and quota guard (relay) answer
    (§10.5). The limiters answer before the relay, so in the middleware envelope on every route; the quota
    guard runs in the relay, so in the route's envelope."""
    echo = f" (token: {ctx.key})" if ctx.faults.echo_key else ""
    rid = ctx.request_id
    if name == "empty-429":
        return Response(b"", status_code=429, headers={REQUEST_ID_HEADER: rid})
    if name == "middleware-500":
        return middleware_error(rid, 500, "当前分组上游负载已饱和，请稍后再试" + echo)
    if name == "chinese-429":
        return rate_limited(rid, 5, 1, echo=echo)
    if name == "busy-429":
        return middleware_error(rid, 429, "访问量过大，请稍后再试" + echo)
    env: Envelope = ctx.envelope  # a video create's quota guard answers in the task envelope (§1.4 3.)
    status, message, code = {
        "quota-403": (403, "用户额度不足, 剩余额度: ＄0.000000", "insufficient_user_quota"),
        "pre-consume-403": (403, "pre_consume_token_quota_failed: token quota is not enough, token remain quota: "
                            "＄0.001000, need quota: ＄0.028000", "pre_consume_token_quota_failed"),
    }[name]
    return error_response(env, status, message + echo, code, "new_api_error", request_id=rid)


def _make_bomb(mib: int = 256) -> bytes:
    """``mib`` MiB of zero bytes as one valid gzip member, about a thousandth of that on the wire.

    Built without compressing it all: after a full flush the compressor forgets its history, so every MiB
    of zeros compresses to the same bytes, which are simply repeated.
    """
    import struct
    import zlib

    block = bytes(1 << 20)
    z = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + piece * mib + b"\x03\x00" + struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)


_BOMB: list[bytes] = []


def gzip_bomb(media_type: str) -> Response:
    """A gzip bomb: ~260 KiB on the wire that inflates to 256 MiB (built once, on first use)."""
    if not _BOMB:
        _BOMB.append(_make_bomb())
    return Response(_BOMB[0], media_type=media_type, headers={"Content-Encoding": "gzip"})


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (bodies are untrusted)."""
    return value if isinstance(value, dict) else {}


# ----------------------------------------------------------------------------- determinism


def seed_of(*parts: Any) -> int:
    """A stable 63-bit seed from JSON-able parts (the request body, usually): the sha256 of
    ``json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)``, built by :func:`canonical_json`."""
    raw = canonical_json(parts).encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big") >> 1


def seed_and_tokens(body: dict[str, Any], key: str) -> tuple[int, int]:
    """``(seed_of(body), all_text_tokens(body[key]))`` with the conversation under ``key`` looked up once for both
    (:func:`_conversation` compares the whole conversation with what it remembers: a 400-turn thread's body was
    compared twice per call)."""
    counted: dict[str, int] = {}
    raw = ("[" + _body_json(body, counted) + "]").encode()
    seed = int.from_bytes(hashlib.sha256(raw).digest()[:8], "big") >> 1
    conv = body.get(key)
    return seed, (_list_tokens(counted[key]) if key in counted and conv else all_text_tokens(conv))


_CANONICAL = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False).encode

#: The keys of a body that hold its conversation (chat/Claude ``messages``, Gemini ``contents``, Responses ``input``).
_CONVERSATION_KEYS = frozenset({"messages", "contents", "input"})


def canonical_json(parts: tuple[Any, ...] | list[Any]) -> str:
    """``json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)``: the same text, joined from pieces.

    With the default separators a list is ``"[" + ", ".join(items) + "]"`` and a dict ``"{" + ", ".join(
    f"{key}: {value}") + "}"`` in key order, so a body can be joined from its values' encodings, and its
    conversation from the part seen before (:func:`_conversation`) and the turns that are new.
    """
    return "[" + ", ".join(_body_json(p) for p in parts) + "]"


def _body_json(value: Any, counted: dict[str, int] | None = None) -> str:
    """One part's canonical JSON; a body's conversation list goes through :func:`_conversation` (its tokens put
    in ``counted`` under its key, when given)."""
    if type(value) is not dict or not all(type(k) is str for k in value):
        return _CANONICAL(value)
    out = []
    for k in sorted(value):
        v = value[k]
        if k in _CONVERSATION_KEYS and type(v) is list:
            text, tokens = _conversation(v)
            if counted is not None:
                counted[k] = tokens
            out.append(_CANONICAL(k) + ": [" + text + "]")
        else:
            out.append(_CANONICAL(k) + ": " + _CANONICAL(v))
    return "{" + ", ".join(out) + "}"


@dataclass(frozen=True, eq=False)  # compared by identity: a list holds it
class _Seen:
    """The leading items of a conversation seen lately: private copies, their canonical JSON joined by ``", "``
    (no brackets) and how many tokens that text holds."""

    items: list[Any]
    text: str
    tokens: int


_SEEN: list[_Seen] = []  #: most recently used last
_SEEN_MAX = 32  #: conversations
_SEEN_CHARS = 8 << 20  #: of JSON text, all of them together (the copies hold about as much again)
_MEMO_LOCK = threading.Lock()


def _conversation(items: list[Any]) -> tuple[str, int]:
    """A conversation's items in canonical JSON, joined by ``", "`` without brackets, and its token count.

    A thread sends all its earlier turns again on every call; encoding and counting 400 turns anew each time
    made the simulator, not the client, the slow side of a long thread. So the longest conversation seen lately
    that this one starts with is reused (compared by content, at C speed) and only the new turns are encoded,
    each counted once (:func:`_piece_tokens`). Only items made of strings are remembered (:func:`_strings_copy`).
    """
    with _MEMO_LOCK:
        seen = list(_SEEN)
    best: _Seen | None = None
    known = 0
    # the longest that this conversation starts with, so the longest first (the oldest of equals): a thread's
    # earlier states all match, each comparison walking the whole conversation; most others differ at once
    for e in sorted(seen, key=lambda e: len(e.items), reverse=True):
        k = len(e.items)
        if 0 < k <= len(items) and e.items[0] == items[0] and items[:k] == e.items:
            best, known = e, k
            break
    new = items[known:]
    copies: list[Any] = []
    for m in new:
        try:
            copies.append(_strings_copy(m))
        except (_NotStrings, RecursionError):
            break
    fresh = [_CANONICAL(m) for m in new]
    pieces = ([best.text] if best is not None else []) + fresh
    counts = ([best.tokens] if best is not None else []) + [_piece_tokens(p) for p in fresh]
    text, tokens = ", ".join(pieces), sum(counts) + max(0, len(pieces) - 1)  # a token for each comma between
    if copies:
        k = len(pieces) - len(fresh) + len(copies)  # the pieces made of strings only
        head = (text, tokens) if k == len(pieces) else (", ".join(pieces[:k]), sum(counts[:k]) + k - 1)
        _remember(best, _Seen((best.items if best is not None else []) + copies, *head))
    else:
        _remember(best, best)
    return text, tokens


def _piece_tokens(piece: str) -> int:
    """Tokens in one item's JSON, counted once per distinct text whichever thread resends it. The counts of
    ``", "``-joined pieces add up: the comma is one token of its own, the space ends any token.

    Remembered by the text's digest, not the text, so a turn holding a large image as a data URL is not kept
    alive here."""
    digest = hashlib.blake2b(piece.encode(), digest_size=16).digest()
    with _MEMO_LOCK:
        n = _TOKENS.get(digest)
        if n is not None:
            _TOKENS.move_to_end(digest)
            return n
    n = len(_TOKEN_RE.findall(piece))
    with _MEMO_LOCK:
        _TOKENS[digest] = n
        while len(_TOKENS) > _TOKENS_MAX:
            _TOKENS.popitem(last=False)
    return n


_TOKENS: OrderedDict[bytes, int] = OrderedDict()  #: digest of an item's JSON → its tokens, least recently used first
_TOKENS_MAX = 16384


def _remember(old: _Seen | None, new: _Seen | None) -> None:
    """Put ``new`` last (most recently used) in place of ``old`` (which it extends); keep at most the last few."""
    with _MEMO_LOCK:
        if old is not None and old in _SEEN:
            _SEEN.remove(old)
        if new is not None and len(new.text) <= _SEEN_CHARS:
            _SEEN.append(new)
        del _SEEN[:-_SEEN_MAX]
        while sum(len(e.text) for e in _SEEN) > _SEEN_CHARS:
            del _SEEN[0]


class _NotStrings(Exception):
    """A value holds a number, a boolean or a non-JSON object."""


def _strings_copy(value: Any) -> Any:
    """A deep copy of a JSON value made only of strings, nulls, lists and objects, else :class:`_NotStrings`.

    For such values "equal in Python" means "the same JSON", so a conversation of them can be recognised by
    ``==``; numbers and booleans cannot (``1 == 1.0 == True``). A copy, so a caller changing its message in place
    later cannot change what was remembered.
    """
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is list:
        return [_strings_copy(v) for v in value]
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _NotStrings
            out[k] = _strings_copy(v)
        return out
    raise _NotStrings


_TOKEN_RE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af]|[A-Za-z0-9]+|[^\sA-Za-z0-9]")


def count_tokens(text: str) -> int:
    """A rough but monotone token estimate (CJK: one per character)."""
    return max(1, math.ceil(len(_TOKEN_RE.findall(text)) * 1.1)) if text else 0


_SENTENCES = (
    "The simulator answers offline, so no key and no network are needed.",
    "Every answer is derived from the prompt and is the same for the same request.",
    "Streaming arrives in small pieces, just like the real relay sends them.",
    "Usage numbers follow the prompt and the reply length.",
    "Images, videos and speech are generated locally and served from the simulator.",
    "Try changing the prompt to see a different reply.",
    "This text stands in for what a real model would write.",
    "A second call with the same options gives this exact answer again.",
    "Long prompts give longer replies when max_tokens allows it.",
    "Faults such as latency, errors and broken streams can be switched on for tests.",
)

_THOUGHTS = (
    "First, restate what is being asked.",
    "The request is short, so a direct answer fits.",
    "Check whether any detail in the prompt needs special care.",
    "Plan: quote the prompt, then add a few helpful sentences.",
    "No tools are needed for this.",
)


def excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def compose_reply(model: str, prompt: str, seed: int, max_tokens: int | None,
                  answer: str | None = None) -> tuple[str, bool]:
    """Reply text and whether it was cut by ``max_tokens`` (finish reason ``length``).

    ``answer`` (the ``answer`` fault) replaces the text whole, e.g. to see how hostile Markdown renders.
    """
    if answer is not None:
        return answer, False
    rng = random.Random(seed)
    # Aim below the limit so a generous max_tokens gives a long, complete reply and a tight one cuts it.
    target = 60 if max_tokens is None else min(200, max(1, int(max_tokens * 0.75)))
    parts = [f'You said: "{excerpt(prompt) or "(empty)"}".', f"This is {model} in the Tokenhot simulator."]
    pool = list(_SENTENCES)
    rng.shuffle(pool)
    i = 0
    while count_tokens(" ".join(parts)) < target and (max_tokens is not None or i < 4):
        parts.append(pool[i % len(pool)])
        i += 1
        if max_tokens is None and count_tokens(" ".join(parts)) >= target:
            break
    text = " ".join(parts)
    if max_tokens is not None and count_tokens(text) > max_tokens:
        words = text.split(" ")
        while len(words) > 1 and count_tokens(" ".join(words)) > max_tokens:
            words.pop()
        return " ".join(words), True
    return text, False


def compose_reasoning(prompt: str, seed: int) -> str:
    rng = random.Random(seed ^ 0x5EED)
    steps = list(_THOUGHTS)
    rng.shuffle(steps)
    return f"The user wrote about: {excerpt(prompt, 60)}. " + " ".join(steps[:3])


def split_chunks(text: str, n: int | None, seed: int) -> list[str]:
    """Split text into stream pieces: a few words each, or exactly ``n`` pieces."""
    if n is not None and n > 0:
        if len(text) < n:
            text = text + " " + ". ".join(_SENTENCES)[: n - len(text) + 1]
        size = len(text) / n
        return [text[round(i * size) : round((i + 1) * size)] for i in range(n)]
    rng = random.Random(seed)
    words = re.findall(r"\S+\s*", text)
    out: list[str] = []
    while words:
        k = rng.randint(1, 3)
        out.append("".join(words[:k]))
        words = words[k:]
    return out or [""]


def prompt_of_messages(messages: Iterable[Any]) -> tuple[str, int]:
    """Text of the last user message (string or parts) and how many image parts all messages hold.

    The last user message is found from the end; only list contents are walked for images.
    """
    items = messages if isinstance(messages, list) else list(messages)
    images = 0
    for m in items:
        if isinstance(m, dict):
            content = m.get("content")
            if isinstance(content, list):
                images += _content_parts(content)[1]
    for m in reversed(items):
        if isinstance(m, dict) and m.get("role", "user") == "user":
            texts = _content_parts(m.get("content"))[0]
            if texts:
                return " ".join(texts), images
    return "", images


def _content_parts(content: Any) -> tuple[list[str], int]:
    """A message content's texts and its number of image parts."""
    texts: list[str] = []
    images = 0
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for p in content:
            if isinstance(p, dict):
                if p.get("type") in ("text", "input_text") or ("text" in p and "type" not in p):
                    texts.append(str(p.get("text", "")))
                elif p.get("type") in ("image_url", "input_image", "image") or "image" in p:
                    images += 1
            elif isinstance(p, str):
                texts.append(p)
    return texts, images


def all_text_tokens(obj: Any) -> int:
    """Token estimate for a whole request body (prompt tokens): :func:`count_tokens` of its JSON text.

    A conversation (a list) is counted from its canonical JSON (:func:`_conversation`, turns seen before are not
    counted again): every bracket and comma between items is a token of its own, no token spans two items or two
    ``"key": value`` pairs, so sorting the keys does not change the count.
    """
    if isinstance(obj, list) and obj:
        return _list_tokens(_conversation(obj)[1])
    return count_tokens(json.dumps(obj, ensure_ascii=False)) // 2 + 3


def _list_tokens(items_tokens: int) -> int:
    """:func:`all_text_tokens` of a non-empty list whose items, joined by ``", "``, hold ``items_tokens``."""
    return max(1, math.ceil((2 + items_tokens) * 1.1)) // 2 + 3  # (2: "[" and "]")


def tool_tokens(tools: Any) -> int:
    """Tokens the tool definitions of a request add to its input: every provider puts them in front of the prompt
    (OpenAI into the system message, Anthropic as the cacheable prefix before ``system``, Gemini beside
    ``systemInstruction``), so they are billed as input and held by the prompt cache. 0 when none are given."""
    return all_text_tokens(tools) if isinstance(tools, list) and tools else 0


# ----------------------------------------------------------------------------- responses


def json_out(ctx: Ctx, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; the ``malformed_json`` fault cuts it in half."""
    if ctx.faults.gzip_bomb:
        return gzip_bomb("application/json")
    raw = json.dumps(body, ensure_ascii=False).encode()
    if ctx.faults.malformed_json:
        raw = raw[: max(1, len(raw) // 2)]
    return Response(raw, status_code=status, media_type="application/json", headers=headers)


Frame = tuple[str | None, Any]  # (event name or None, JSON-able data or a raw string)
#: The frames a stream ends with when the ``stream_error_after`` fault fires, given how many frames were sent.
ErrorFrames = Callable[[int], list[Frame]]


def encode_frame(event: str | None, data: Any, *, broken: bool = False) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    if broken and not isinstance(data, str):
        text = text[: max(1, len(text) // 2)]
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


class SSEResponse(Response):
    """A ``text/event-stream`` body with the stream faults applied.

    It watches for the client disconnecting whatever the ASGI spec version, so a stalled or slow
    stream ends as soon as the client goes away.
    """

    media_type = "text/event-stream"

    def __init__(self, frames: AsyncIterator[Frame] | Iterable[Frame], faults: Faults,
                 headers: dict[str, str] | None = None, ping_every: int = 0,
                 error: ErrorFrames | None = None) -> None:
        super().__init__(content=None, status_code=200, headers=headers, media_type=self.media_type)
        del self.headers["content-length"]  # the base class declared an empty body
        self.headers["Cache-Control"] = "no-cache"
        self.frames = frames
        self.faults = faults
        self.ping_every = ping_every
        self.error = error  #: the protocol's own mid-stream error (§7), for the ``stream_error_after`` fault
        #: called with every frame's data sent once the stream ended: whole (``False``), or not (``True``): broken
        #: off by the protocol's error frame, its connection cut (``truncate_stream_after``) or the client gone. The
        #: relay bills a stream at its end however it ended: new-api's ``StreamScannerHandler`` returns alike on an
        #: upstream EOF or read error and on the client going away (``StreamEndReasonClientGone``), and the stream
        #: handler then bills the usage seen, else its own count of the text relayed (``ResponseText2Usage``)
        self.on_done: Callable[[list[Any], bool], None] | None = None
        #: the usage the relay bills, from the stream's frames, when the protocol's handler says how (a chat stream
        #: with no usage frame, a Responses stream without ``response.completed``); None: the usage the frames report
        self.billed_usage: Callable[[list[Any]], dict[str, Any]] | None = None

    async def _iter(self) -> AsyncIterator[Frame]:
        if isinstance(self.frames, AsyncIterator):
            async for f in self.frames:
                yield f
        else:
            for f in self.frames:
                yield f

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        aborted = False
        whole = False  # the stream went out to its end (no error frame, no cut, the client still there)
        seen: list[Any] = []

        async def produce(cancel: anyio.CancelScope) -> None:
            nonlocal aborted, whole
            f = self.faults
            sent = 0
            ended = True
            if f.ttfb:
                await asyncio.sleep(f.ttfb)
            async for event, data in self._iter():
                if f.stream_error_after is not None and sent >= f.stream_error_after and self.error is not None:
                    # new-api sends an error after the first byte as a frame of the stream, then ends it
                    for err_event, err_data in self.error(sent):
                        await send({"type": "http.response.body", "body": encode_frame(err_event, err_data),
                                    "more_body": True})
                    ended = False
                    break
                if f.truncate_stream_after is not None and sent >= f.truncate_stream_after:
                    aborted = True
                    break
                if f.stall_stream_after is not None and sent >= f.stall_stream_after:
                    await asyncio.sleep(3600)
                if sent and f.chunk_delay:
                    await asyncio.sleep(f.chunk_delay)
                if sent == 1 and f.stream_shape:
                    await self._hostile(f.stream_shape, data, send)
                chunk = encode_frame(event, data, broken=f.malformed_json and sent == 1)
                if self.ping_every and sent and sent % self.ping_every == 0:
                    chunk = encode_frame("ping", {"type": "ping"}) + chunk
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                seen.append(data)
                sent += 1
            whole = ended and not aborted
            cancel.cancel()

        async def watch(cancel: anyio.CancelScope) -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    cancel.cancel()
                    return

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch, tg.cancel_scope)
                await produce(tg.cancel_scope)
        finally:  # billed at its end however it ended: broken off, cut, or left by the client (see ``on_done``)
            if self.on_done is not None:
                self.on_done(seen, not whole)
        if aborted:
            raise StreamAborted("simulated connection drop (truncate_stream_after)")
        await send({"type": "http.response.body", "body": b"", "more_body": False})


    @staticmethod
    async def _hostile(shape: str, data: Any, send: Send) -> None:
        """The ``stream_shape`` fault: what a broken or hostile relay puts into a stream."""
        async def out(raw: bytes) -> None:
            await send({"type": "http.response.body", "body": raw, "more_body": True})

        if shape == "null":
            await out(b"data: null\n\n")
        elif shape == "list":
            await out(b"data: [1, 2]\n\n")
        elif shape == "surrogates" and isinstance(data, dict) and isinstance(data.get("choices"), list):
            for half in ("\ud83d", "\ude00"):  # 😀 as two UTF-16 halves, JSON-escaped (ASCII on the wire)
                frame = {**data, "choices": [{"index": 0, "delta": {"content": half}, "finish_reason": None}]}
                await out(f"data: {json.dumps(frame, ensure_ascii=True)}\n\n".encode())
        elif shape in ("keepalive", "drip"):
            for _ in range(36000):  # an hour at most; the client going away ends it sooner
                await out(b": keep-alive\n\n" if shape == "keepalive" else b".")
                await asyncio.sleep(0.1)


# ----------------------------------------------------------------------------- multipart


@dataclass
class Upload:
    filename: str
    data: bytes
    content_type: str


@dataclass
class Form:
    """A parsed multipart body: text fields and files, each possibly repeated."""

    fields: dict[str, list[str]]
    files: dict[str, list[Upload]]

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else default

    def uploads(self, *names: str) -> list[Upload]:
        return [u for n in names for u in self.files.get(n, [])]

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able digest for seeding (multipart boundaries differ per request)."""
        return {"fields": self.fields,
                "files": {k: [hashlib.sha256(u.data).hexdigest() for u in v] for k, v in self.files.items()}}


async def read_form(request: Request) -> Form:
    fields: dict[str, list[str]] = {}
    files: dict[str, list[Upload]] = {}
    async with request.form(max_files=64, max_fields=256, max_part_size=64 * 1024 * 1024) as form:
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, []).append(value)
            else:
                data = await value.read()
                files.setdefault(key, []).append(
                    Upload(value.filename or key, data, value.content_type or "application/octet-stream"))
    return Form(fields, files)
