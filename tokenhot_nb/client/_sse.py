"""Server-sent events for the four stream formats Tokenhot speaks.

Framing (blank-line separated events, multi-line ``data:``, ``:`` comments) is left to ``httpx-sse``.
On top of it this module adds what the formats need: drop ``ping`` events, stop at each format's end
marker (``[DONE]``, ``response.completed``/``failed``/``incomplete``, ``message_stop``, or the end of the
HTTP body for Gemini), turn error frames into :class:`StreamError`, notice a stream that ended early, and
notice a stall (no content for ``stream_idle_timeout``, keep-alives not counted; or the whole stream past
``stream_deadline``), since a relay can keep a dead stream open for minutes, and refuse frames that are JSON
but not an object (a piece of the answer that could not be read is never dropped silently).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from codecs import utf_8_decode
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
from httpx_sse._decoders import SSEDecoder, SSELineDecoder  # its framing, without its content-type check

from .._config import Secret, redact
from .._timeout import within
from ..errors import APIConnectionError, APIError, StreamError
from ..families._json import loads_lenient, may_nest_deep, paused_collection
from ._body import PAGE_HINT, BodyRefused, media_type, page_instead_of_api, web_page
from ._errors import error_from_response, error_from_transport, scrub_error, stream_error_from_data

if TYPE_CHECKING:
    from ._client import Response

log = logging.getLogger("tokenhot_nb")

#: Events after which a stream is complete, by format (the event is still yielded).
TERMINAL_EVENTS: dict[str, frozenset[str]] = {
    "chat": frozenset(),
    "responses": frozenset({"response.completed", "response.failed", "response.incomplete"}),
    "claude": frozenset({"message_stop"}),
    "gemini": frozenset(),
}
#: Formats whose stream must end with a marker; for them an early end of the body is an error.
NEEDS_END_MARKER = frozenset({"chat", "responses", "claude"})
_END_DESCRIPTION = {
    "chat": "data: [DONE]",
    "responses": "a response.completed event",
    "claude": "a message_stop event",
    "gemini": "a frame with a finishReason",
}


def _gemini_ended(data: dict[str, Any]) -> bool:
    """A Gemini frame that says why the answer ended: a candidate's ``finishReason`` (its last frame has one), or
    ``promptFeedback.blockReason`` (the prompt was refused, no candidates). Gemini has no end marker, so a body
    that closes before such a frame is an answer cut short."""
    candidates = data.get("candidates")
    if isinstance(candidates, list) and any(isinstance(c, dict) and c.get("finishReason") for c in candidates):
        return True
    feedback = data.get("promptFeedback")
    return isinstance(feedback, dict) and bool(feedback.get("blockReason"))


@dataclass(slots=True)
class SSEEvent:
    """One event: ``event`` is the ``event:`` line (or "message"); ``data`` is decoded JSON when it parses."""

    event: str
    data: dict[str, Any] | str

    @property
    def type(self) -> str:
        """The event's type: the JSON ``type`` field when present (Responses/Claude), else ``event``."""
        if isinstance(self.data, dict) and isinstance(self.data.get("type"), str):
            return str(self.data["type"])
        return self.event


class WholeAnswer(StreamError):
    """A stream call answered with a whole JSON answer that is no error (a relay or channel that answers
    non-stream whatever was asked). ``response`` holds it, read whole, for the caller to parse as the
    non-streamed answer it is; a caller that does not is left with a :class:`StreamError`, as before."""

    def __init__(self, message: str, *, response: Response, hint: str | None = None) -> None:
        super().__init__(message, status=response.status, request_id=response.request_id, hint=hint)
        self.response = response


def _json_media(content_type: str | None) -> bool:
    kind = media_type(content_type)
    return kind == "application/json" or kind.endswith("+json")


class BrokenFrame(Exception):
    """Internal: a frame that should be a JSON object is not (cut short, ``null``, a list…)."""


_raw_decode = json.JSONDecoder().raw_decode  # json.loads without its two wrappers (a call per frame)
_JSON_START = tuple("{[\"-0123456789")
_TOO_DEEP = object()
#: A frame shorter than this cannot nest deep enough to exhaust the stack (no bracket count on the usual frame).
_LONG = 2048


def decode_data(raw: str) -> dict[str, Any] | str:
    """A frame's data: a JSON object, or text that is not JSON at all.

    Data that is JSON but not an object (``null``, a list, a number) or starts like JSON and does not parse
    (a frame cut short) raises :class:`BrokenFrame`: every Tokenhot stream format sends objects, so such a
    frame is a piece of the answer that could not be read, never something to drop silently.
    """
    text = raw.strip()
    if not text.startswith(_JSON_START) and text not in ("null", "true", "false"):
        return raw
    try:
        value, end = paused_collection(_raw_decode, text) if len(text) > _LONG and may_nest_deep(text) \
            else _raw_decode(text)
        if end != len(text):  # JSON with more after it ("42 is the answer", "{} {}")
            raise ValueError
    except ValueError:
        if not text.startswith(("{", "[")):
            return raw
        try:  # off the hot path: a detail strict JSON refuses (a raw control character, an endless integer)
            value = loads_lenient(text.encode("utf-8", "surrogatepass"))
        except ValueError:
            raise BrokenFrame("it is cut short or not valid JSON") from None
    except RecursionError:  # would slip past every guard above the stream as a traceback through internals
        value = _TOO_DEEP
    if value is _TOO_DEEP:  # (raised outside the handler: no RecursionError chained under it)
        raise BrokenFrame("it is JSON nested too deeply to read")
    if isinstance(value, dict):
        return value
    kind = "null" if value is None else f"a {type(value).__name__}"  # a list, a str, a int, a bool…
    raise BrokenFrame(f"it is {kind}, not a JSON object")


def _fmt_seconds(value: float) -> str:
    return f"{value:g}"


_CONNECTED = object()

#: The task running the stream now, read once per event (the stall watchdog cancels it). Before Python 3.12
#: asyncio.current_task is a Python function costing about a tenth of an event's whole budget; its table,
#: read directly, costs a dict lookup (those versions are frozen, so the private name stays where it is).
_current_task: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None] = (
    asyncio.current_task if sys.version_info >= (3, 12) else asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]
)

Connect = Callable[[], Awaitable[httpx.Response]]


class EventStream:
    """The events of one streamed call; both awaitable and async-iterable.

    ``await client.stream(call)`` connects (with retries, raising the typed API error on a non-2xx answer)
    and returns the stream; ``async for event in client.stream(call)`` connects on the first step. After
    connecting, ``status``, ``headers`` and ``request_id`` describe the answer. Breaking out early is fine:
    the connection is closed when the stream is closed or garbage collected; ``async with`` closes it at once.
    """

    def __init__(
        self,
        connect: Connect,
        *,
        fmt: str | None,
        idle_timeout: float,
        deadline: float | None = None,
        secrets: tuple[Secret | str | None, ...] = (),
        description: str = "",
    ) -> None:
        self._connect = connect
        self._fmt = fmt or "chat"
        self._idle_timeout = idle_timeout
        self._deadline = deadline
        self._secrets = secrets
        self._description = description
        self._gen = self._run()
        self._body: AsyncGenerator[bytes, None] | None = None  # the body, when its start was read to sniff it
        # The one event generator: iterating the stream iterates it directly, with no layer between it and
        # the events (the hot path: one event per network chunk). It connects on its first step if needed.
        self._events_gen = self._events()
        self._primed = False
        self.response: httpx.Response | None = None
        self.events_seen = 0

    # -- public ---------------------------------------------------------------------------------------
    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    @property
    def headers(self) -> dict[str, str]:
        if self.response is None:
            return {}
        return {k.lower(): v for k, v in self.response.headers.items()}

    @property
    def request_id(self) -> str | None:
        from ._errors import request_id_from_headers

        return request_id_from_headers(self.response.headers) if self.response is not None else None

    def __await__(self) -> Generator[Any, None, EventStream]:
        return self._prime().__await__()

    def __aiter__(self) -> AsyncIterator[SSEEvent]:
        return self._events_gen

    def __anext__(self) -> Awaitable[SSEEvent]:
        return self._events_gen.__anext__()

    async def aclose(self) -> None:
        try:
            await self._events_gen.aclose()
        finally:
            await self._gen.aclose()  # closes the response

    async def __aenter__(self) -> EventStream:
        return await self._prime()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- internals ------------------------------------------------------------------------------------
    async def _prime(self) -> EventStream:
        if not self._primed:
            first = await self._gen.__anext__()
            assert first is _CONNECTED
            self._primed = True
        return self

    async def _run(self) -> AsyncGenerator[Any, None]:
        response = await self._connect()
        self.response = response
        try:
            content_type = response.headers.get("content-type")
            kind = media_type(content_type)
            if kind in UNTELLING_TYPES:
                self._body = await self._sniff(response, content_type)
            elif kind != "text/event-stream":
                await self._not_a_stream(response, content_type, _body_chunks(response))
            yield _CONNECTED  # stays here, holding the response open, until aclose() or garbage collection
        finally:
            await response.aclose()

    async def _sniff(self, response: httpx.Response, content_type: str | None) -> AsyncGenerator[bytes, None]:
        """The body of a 2xx answer whose label says nothing (:data:`UNTELLING_TYPES`), decided by how it starts:
        event-stream framing is read as the stream (some proxies relabel streams ``text/plain``); anything else
        is :meth:`_not_a_stream`. Only the first bytes are read to decide, and the stream gets them back."""
        chunks = _body_chunks(response)
        try:
            head = await within(_peek(chunks), self._idle_timeout)
        except asyncio.TimeoutError:  # nothing came: a stall, as in a labelled stream (a model thinking long)
            await chunks.aclose()
            raise _stall_error(self._idle_timeout, deadline=False) from None
        except httpx.RequestError as exc:  # cut while its first bytes came: broken, as a labelled stream would be
            await chunks.aclose()
            scrub_error(exc)
            cause = error_from_transport(exc, secrets=self._secrets)
            raise StreamError(_cut_short(cause.message)) from exc
        except (httpx.HTTPError, BodyRefused):
            await chunks.aclose()
            raise _not_streamed(content_type) from None  # unreadable: neither a stream nor an error envelope
        body = _prepend(head, chunks)
        if not looks_like_event_stream(head):
            await self._not_a_stream(response, content_type, body)
        log.debug("an event stream labelled %r, read as one: %s", content_type, self._description)
        return body

    async def _not_a_stream(self, response: httpx.Response, content_type: str | None,
                            chunks: AsyncGenerator[bytes, None]) -> NoReturn:
        """A 2xx answer that is not an event stream: an error in disguise, or a non-streamed reply.

        A JSON answer is read whole (within the response cap) and, when it is no error envelope, raised as
        :class:`WholeAnswer`: some relays and channels answer non-stream whatever was asked, and that answer is
        paid for. Any other body is read only as far as :data:`ERROR_HEAD` (an HTML page is no answer).
        """
        limit = sys.maxsize if _json_media(content_type) else ERROR_HEAD
        parts: list[bytes] = []
        broken: APIConnectionError | None = None
        try:
            body = await within(_head(chunks, limit, parts), self._idle_timeout)
        except httpx.RequestError as exc:
            if limit == sys.maxsize and any(parts):
                scrub_error(exc)
                broken = self._cut_whole(content_type, error_from_transport(exc, secrets=self._secrets).message,
                                         b"".join(parts))
        except (httpx.HTTPError, asyncio.TimeoutError, BodyRefused):
            pass  # a body that cannot be read is no error envelope either (and nothing of it is kept)
        else:
            self._whole_answer(response, body, content_type, complete=len(body) < limit)
            page = web_page(body, content_type)
            if page is not None:
                raise StreamError(page_instead_of_api(response.status_code, page), hint=PAGE_HINT)
        if broken is not None:
            raise broken  # (raised here: it carries nothing that held the request)
        raise _not_streamed(content_type)

    @staticmethod
    def _cut_whole(content_type: str | None, cause: str, arrived: bytes) -> APIConnectionError:
        """A whole answer (the relay ignored stream=True) cut before its end: paid for, and no matter of streaming
        ("try again with stream=False" sent the user to pay again for a network fault); what arrived is kept."""
        return APIConnectionError(
            f"The server answered with a whole answer ({content_type}) instead of a stream, and it broke before its "
            f"end; it was not sent again: the server may have done (and billed) the work. {cause}",
            hint="Check the history before trying again. The part of the answer that arrived is kept "
            "(err.partial_body; a session keeps it in the call's history row).", partial_body=arrived)

    def _whole_answer(self, response: httpx.Response, body: bytes, content_type: str | None, *,
                      complete: bool) -> None:
        """Raise the error when ``body`` is an error envelope, else :class:`WholeAnswer` when it is a JSON object
        (or Gemini's array of them) read whole (``complete``).

        Only a body that starts like JSON is parsed, once (the caller reads the same parsed value), and only an
        envelope is made into an error: an error built from a whole answer cleans and redacts all of its text,
        seconds for a 20 MB one, to be thrown away."""
        from ._client import Response
        from ._errors import request_id_from_headers

        if body.lstrip()[:1] not in (b"{", b"["):
            return  # an HTML page, plain text: neither an envelope nor an answer
        headers = {k.lower(): v for k, v in response.headers.items()}
        whole = Response(status=response.status_code, headers=headers, content=body,
                         request_id=request_id_from_headers(headers))
        try:
            value = whole.json()  # (leniently: one bad byte must not lose the paid answer)
        except Exception:  # (APIError, or JSON nested too deeply): not an answer that can be read
            return
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, dict) for v in items):
            return
        for item in items:  # Gemini's array form carries its error as one of the items
            if stream_is_error(item):
                raise self._envelope_error(response, body, item, whole=item is value)
        if not complete:
            return
        raise WholeAnswer(
            f"Expected an event stream but the server answered with {content_type or 'no content type'}: "
            "a whole answer, not streamed.",
            response=whole,
            hint="The relay ignored stream=True; the answer is in .response (a chat call reads it for you).",
        )

    def _envelope_error(self, response: httpx.Response, body: bytes, item: dict[str, Any], *,
                        whole: bool) -> APIError:
        """The error an envelope says: read from the body as sent when it is the envelope itself (as an error
        answer's body is read), from the item alone when it is one of an array's."""
        if whole:
            err = error_from_response(response.status_code, response.headers, body, secrets=self._secrets)
            if isinstance(err.body, dict) and stream_is_error(err.body):
                return err
        return error_from_response(response.status_code, response.headers, json.dumps(item).encode("utf-8"),
                                   secrets=self._secrets)

    async def _events(self) -> AsyncGenerator[SSEEvent, None]:
        """Read the body, frame it into events (httpx-sse's decoders) and hand on the ones with content.

        The body is read here, not through ``EventSource.aiter_sse``: one generator instead of four between
        the socket and the caller, and no second content-type check (httpx-sse's is case-sensitive, media
        types are not: RFC 9110 §8.3.1).

        The stall watchdog is one timer per stream, re-armed lazily, never a timeout per chunk. Only content
        re-arms it: the clock restarts when the caller comes back for the next event, so neither the caller's
        own time (display, callbacks) nor keep-alive comments, pings or a one-byte drip count; while the
        caller holds an event the watchdog does not fire. When it fires it cancels the read, which is turned
        into a :class:`StreamError` here (an outside cancellation passes through untouched).
        """
        if not self._primed:
            await self._prime()
        response = self.response
        assert response is not None
        fmt = self._fmt
        terminal = TERMINAL_EVENTS.get(fmt, frozenset())
        timeout = self._idle_timeout
        loop = asyncio.get_running_loop()
        clock = loop.time
        last = start = clock()
        limit = self._deadline or 0.0
        end = start + limit if limit else None
        task = _current_task(loop)
        waiting = True  # False while the caller holds an event
        stalled: StreamError | None = None
        handle: asyncio.TimerHandle

        def due() -> float:
            idle_due = last + timeout
            return idle_due if end is None else min(idle_due, end)

        def watchdog() -> None:
            nonlocal handle, stalled
            now = loop.time()
            if waiting and now >= due() and task is not None:
                hit_deadline = end is not None and now >= end and end < last + timeout
                stalled = _stall_error(limit if hit_deadline else timeout, deadline=hit_deadline)
                task.cancel()
                return
            handle = loop.call_at(max(due(), now + timeout / 4), watchdog)

        handle = loop.call_at(due(), watchdog)
        # The body is already decoded and capped (_body.bound_body), so the raw bytes are the content; a body
        # that was read already (a response built from bytes) is only available through aiter_bytes.
        chunks = self._body if self._body is not None else _body_chunks(response)
        next_chunk = chunks.__anext__
        pending = b""  # the start of a character cut off at the end of the last chunk
        started = False  # whether any text has arrived (a BOM before it is dropped, as an SSE decoder must)
        lines = SSELineDecoder()
        frames = SSEDecoder()
        more = True
        ended = fmt != "gemini"  # (gemini: until a frame says why the answer ended)
        try:
            while more:
                try:
                    piece = pending + await next_chunk()  # (b"" + bytes is the bytes themselves, no copy)
                    text, used = utf_8_decode(piece, "replace")  # an event stream is always UTF-8
                    pending = piece[used:]
                    if not started and text:
                        started = True
                        if text[0] == "\ufeff":  # left in, the first line would be "\ufeffdata: …": lost
                            text = text[1:]
                    batch = lines.decode(text)
                except StopAsyncIteration:
                    more = False
                    batch = lines.flush()  # a last line without a line break
                except asyncio.CancelledError:
                    if stalled is None:
                        raise  # cancelled from outside: not ours to report
                    uncancel = getattr(task, "uncancel", None)  # Python 3.11+: the cancel was ours
                    if uncancel is not None:
                        uncancel()
                    log.debug("stream stalled after %d events: %s", self.events_seen, self._description)
                    raise stalled from None
                except BodyRefused as exc:
                    raise StreamError(f"The stream {exc.reason}; it was stopped (after {self.events_seen} events).",
                                      hint="The text received so far is kept in .partial_text. If you expect an answer "
                                      "this large, raise the limit: session.settings.response_cap = <bytes>.") from None
                except httpx.RequestError as exc:
                    scrub_error(exc)
                    cause = error_from_transport(exc, secrets=self._secrets)
                    # both redacted: the cause's message above, the request by scrub_error
                    raise StreamError(_cut_short(cause.message)) from exc
                for line in batch:
                    sse = frames.decode(line)
                    if sse is None:
                        continue
                    name = sse.event  # "message" when the frame has no event line (httpx-sse fills it in)
                    if name == "ping":
                        continue
                    raw = sse.data
                    stripped = raw.strip()
                    if stripped == "[DONE]":
                        if fmt in ("claude", "responses"):
                            more = False  # not these formats' end marker: checked below as an early end
                            break
                        return
                    if not stripped and name == "message":
                        continue
                    try:
                        data = decode_data(raw)
                    except BrokenFrame as exc:
                        raise StreamError(
                            redact(f"The stream sent a frame that could not be read ({exc}): "
                                   f"{_snippet(raw)!r} (after {self.events_seen} events).", *self._secrets),
                            hint="The text received so far is kept in .partial_text; the rest of the answer "
                            "was not read. Try again.",
                        ) from None
                    kind = data.get("type") if isinstance(data, dict) else None  # SSEEvent.type, inlined
                    if name == "error" or kind == "error" or (isinstance(data, dict) and data.get("error")):
                        raise stream_error_from_data(data, event=name, secrets=self._secrets)
                    if kind == "ping":
                        continue
                    if not ended and isinstance(data, dict):
                        ended = _gemini_ended(data)
                    self.events_seen += 1
                    waiting = False
                    yield SSEEvent(name, data)
                    # back for more: the caller's time was not the server's silence
                    last = clock()
                    task = _current_task(loop)  # differs per step when iterated from sync code
                    waiting = True
                    if name in terminal or (kind.__class__ is str and kind in terminal):
                        return
        finally:
            handle.cancel()
            await chunks.aclose()
        if fmt in NEEDS_END_MARKER or not ended:
            raise StreamError(
                f"The stream ended early, without {_END_DESCRIPTION[fmt]} (after {self.events_seen} events)."
            )


#: Most bytes of a 2xx answer that is not a stream read to look for an error envelope (an envelope is small; a
#: page of hundreds of MB, read whole, would sit in memory for nothing).
ERROR_HEAD = 1024 * 1024


#: Labels that say nothing of what the body is, put on by proxies that relabel streams (or by a missing
#: Content-Type): such an answer is a stream when its body starts like one. Any other label is taken at its word.
UNTELLING_TYPES = frozenset({"text/plain", "application/octet-stream"})
#: How an event stream's body starts: a ``data:`` or ``event:`` field, or a ``:`` comment (a keep-alive).
_FRAMING = (b"data:", b"event:", b":")
_BOM = b"\xef\xbb\xbf"
#: Most bytes read to decide whether a body is an event stream (all of them blank: it is not one).
PEEK_LIMIT = 64 * 1024


def looks_like_event_stream(head: bytes) -> bool:
    """Whether a body starting with ``head`` is event-stream framing, whatever its label says: its first text
    (after a byte order mark and blank lines) is a ``data:`` or ``event:`` field or a ``:`` comment."""
    return head.removeprefix(_BOM).lstrip().startswith(_FRAMING)


def _body_chunks(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    """The (decoded, capped: ``_body.bound_body``) body as it arrives; a body that was read already (a response
    built from bytes) is only available through ``aiter_bytes``."""
    chunks = response.aiter_bytes() if response.is_stream_consumed else response.aiter_raw()
    return chunks  # type: ignore[return-value]  # both are async generators


async def _peek(chunks: AsyncGenerator[bytes, None]) -> bytes:
    """The body's first bytes, as far as they show whether it is an event stream: past any blank start, as many
    as the longest framing prefix (fewer when the body ends first, at most :data:`PEEK_LIMIT`)."""
    head = b""
    while len(head) < PEEK_LIMIT and len(head.removeprefix(_BOM).lstrip()) < len(b"event:"):
        try:
            head += await chunks.__anext__()
        except StopAsyncIteration:
            break
    return head


async def _prepend(head: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """The body again from its start: ``head`` (read to sniff it), then the rest as it arrives."""
    try:
        if head:
            yield head
        async for piece in rest:
            yield piece
    finally:
        await rest.aclose()


async def _head(chunks: AsyncGenerator[bytes, None], limit: int, parts: list[bytes] | None = None) -> bytes:
    """The first ``limit`` bytes of the body; the rest is never read. ``parts`` (when given) holds what arrived, for
    a body that breaks before its end."""
    parts = [] if parts is None else parts
    size = 0
    async with contextlib.aclosing(chunks) as pieces:
        async for piece in pieces:
            parts.append(piece)
            size += len(piece)
            if size >= limit:
                break
    return b"".join(parts)[:limit]


def _cut_short(cause: str) -> str:
    """A stream cut by the network, as one sentence: "The stream stopped before it was complete: the connection to
    … broke (…)." (it read "… broke before it was complete: The connection … broke", two capitals, broke twice)."""
    if cause[:1].isupper() and cause[1:2].islower():  # ("The …", "Could …"; not an acronym, not a URL)
        cause = cause[0].lower() + cause[1:]
    return f"The stream stopped before it was complete: {cause}"


def _not_streamed(content_type: str | None) -> StreamError:
    return StreamError(
        f"Expected an event stream but the server answered with {content_type or 'no content type'}.",
        hint="The model may not support streaming here; try again with stream=False.",
    )


def _stall_error(seconds: float, *, deadline: bool) -> StreamError:
    if deadline:
        return StreamError(
            f"The stream was still running after {_fmt_seconds(seconds)} s, its time limit.",
            hint="The text received so far is kept in .partial_text. Raise stream_deadline for very long answers.",
        )
    return StreamError(
        f"The stream stalled: no content arrived for {_fmt_seconds(seconds)} s (keep-alive messages do not count).",
        hint="The text received so far is kept in .partial_text. If the model thinks for a long time before "
        "answering, raise stream_idle_timeout.",
    )


def _snippet(raw: str, limit: int = 80) -> str:
    flat = " ".join(raw.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def stream_is_error(body: dict[str, Any]) -> bool:
    """Whether a decoded body is an error envelope rather than a (non-streamed) reply."""
    return bool(body.get("error")) or body.get("type") == "error" or (
        "message" in body and "code" in body and "choices" not in body and "candidates" not in body
    )
