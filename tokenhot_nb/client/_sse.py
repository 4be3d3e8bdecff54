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
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from .._config import Secret, redact
from ..errors import StreamError
from ._body import BodyRefused
from ._errors import error_from_response, error_from_transport, scrub_error, stream_error_from_data

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
}


@dataclass
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


class StreamStalled(Exception):
    """Internal: no content arrived within the idle timeout (``deadline``: the whole-stream limit passed)."""

    def __init__(self, seconds: float, *, deadline: bool = False) -> None:
        super().__init__(seconds)
        self.seconds = seconds
        self.deadline = deadline


class BrokenFrame(Exception):
    """Internal: a frame that should be a JSON object is not (cut short, ``null``, a list…)."""


class IdleTimeoutStream(httpx.AsyncByteStream):
    """Wrap a response body so that a stream with no *content* for ``timeout`` s (or running past
    ``deadline`` s in all) raises :class:`StreamStalled`.

    Bytes alone do not count: a relay that sends keep-alive comments or drips one byte at a time keeps a dead
    stream open forever, so only :meth:`touch` (called by the event layer for every event it hands on, and
    again when the consumer asks for the next one) re-arms the timer. One watchdog timer per stream, re-armed
    lazily, instead of ``asyncio.wait_for`` per chunk: a stream of 20,000 small chunks would otherwise pay
    for 20,000 extra tasks.
    """

    def __init__(self, inner: httpx.AsyncByteStream, timeout: float, deadline: float | None = None) -> None:
        self._inner = inner
        self._timeout = timeout
        self._deadline = deadline
        self._last = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def touch(self) -> None:
        """Content arrived (or the consumer is back for more): the idle time starts again."""
        if self._loop is not None:
            self._last = self._loop.time()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        self._loop = loop
        task = asyncio.current_task()
        chunks = self._inner.__aiter__()
        self._last = start = loop.time()
        end = start + self._deadline if self._deadline else None
        waiting = False
        stalled: StreamStalled | None = None
        handle: asyncio.TimerHandle | None = None

        def due() -> float:
            idle_due = self._last + self._timeout
            return idle_due if end is None else min(idle_due, end)

        def watchdog() -> None:
            nonlocal handle, stalled
            now = loop.time()
            if waiting and now >= due() and task is not None:
                hit_deadline = end is not None and now >= end and end < self._last + self._timeout
                stalled = StreamStalled(self._deadline if hit_deadline and self._deadline else self._timeout,
                                        deadline=hit_deadline)
                task.cancel()
                return
            handle = loop.call_at(max(due(), now + self._timeout / 4), watchdog)

        handle = loop.call_at(due(), watchdog)
        try:
            while True:
                task = asyncio.current_task()  # differs per step when iterated from sync code
                waiting = True
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if stalled is None:
                        raise
                    uncancel = getattr(task, "uncancel", None)
                    if uncancel is not None:
                        uncancel()
                    raise stalled from None
                finally:
                    waiting = False
                yield chunk
        finally:
            if handle is not None:
                handle.cancel()

    async def aclose(self) -> None:
        await self._inner.aclose()


_JSON_START = tuple("{[\"-0123456789")


def decode_data(raw: str) -> dict[str, Any] | str:
    """A frame's data: a JSON object, or text that is not JSON at all.

    Data that is JSON but not an object (``null``, a list, a number) or starts like JSON and does not parse
    (a frame cut short) raises :class:`BrokenFrame`: every Tokenhot stream format sends objects, so such a
    frame is a piece of the answer that could not be read, never something to drop silently.
    """
    if raw[:1] == "{":  # the usual frame: one JSON object, no padding (not stripped: the hot path)
        try:
            value = json.loads(raw)
        except ValueError:
            raise BrokenFrame("it is cut short or not valid JSON") from None
        if isinstance(value, dict):
            return value
    text = raw.strip()
    if not text.startswith(_JSON_START) and text not in ("null", "true", "false"):
        return raw
    try:
        value = json.loads(text)
    except ValueError:
        if text.startswith(("{", "[")):
            raise BrokenFrame("it is cut short or not valid JSON") from None
        return raw
    if isinstance(value, dict):
        return value
    kind = "null" if value is None else "a list" if isinstance(value, list) else f"a {type(value).__name__}"
    raise BrokenFrame(f"it is {kind}, not a JSON object")


def _is_error_frame(event: str, data: dict[str, Any] | str) -> bool:
    if event == "error":
        return True
    return isinstance(data, dict) and (bool(data.get("error")) or data.get("type") == "error")


def _fmt_seconds(value: float) -> str:
    return f"{value:g}"


_CONNECTED = object()

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
        self._events_gen: AsyncGenerator[SSEEvent, None] | None = None  # set once connected
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
        # Once connected, the caller iterates the event generator itself: no layer between it and the events
        # (the hot path: one event per network chunk). Its frame holds this stream, which holds the response.
        return self._events_gen if self._events_gen is not None else self

    async def __anext__(self) -> SSEEvent:
        if not self._primed:
            await self._prime()
        assert self._events_gen is not None
        return await self._events_gen.__anext__()

    async def aclose(self) -> None:
        try:
            if self._events_gen is not None:
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
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type.lower():
                await self._not_a_stream(response, content_type)
            watch = IdleTimeoutStream(response.stream, self._idle_timeout, self._deadline)  # type: ignore[arg-type]
            response.stream = watch
            self._events_gen = self._events(response, watch)
            yield _CONNECTED  # stays here, holding the response open, until aclose() or garbage collection
        finally:
            await response.aclose()

    async def _not_a_stream(self, response: httpx.Response, content_type: str) -> None:
        """A 2xx answer that is not an event stream: an error in disguise, or a non-streamed reply."""
        try:
            body = await asyncio.wait_for(response.aread(), self._idle_timeout)
        except (httpx.HTTPError, asyncio.TimeoutError, BodyRefused) as exc:
            scrub_error(exc)
            body = b""
        err = error_from_response(response.status_code, response.headers, body, secrets=self._secrets)
        if err.body is not None and isinstance(err.body, dict) and stream_is_error(err.body):
            raise err
        raise StreamError(
            f"Expected an event stream but the server answered with {content_type or 'no content type'}.",
            hint="The model may not support streaming here; try again with stream=False.",
        )

    async def _events(self, response: httpx.Response, watch: IdleTimeoutStream) -> AsyncGenerator[SSEEvent, None]:
        fmt = self._fmt
        terminal = TERMINAL_EVENTS.get(fmt, frozenset())
        try:
            async for sse in EventSource(response).aiter_sse():
                name = sse.event or "message"
                if name == "ping":
                    continue
                raw = sse.data
                stripped = raw if raw[:1] == "{" else raw.strip()  # the usual frame: one JSON object
                if stripped == "[DONE]":
                    if fmt in ("claude", "responses"):
                        break  # not these formats' end marker: checked below as an early end
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
                if _is_error_frame(name, data):
                    raise stream_error_from_data(data, event=name, secrets=self._secrets)
                event = SSEEvent(event=name, data=data)
                kind = event.type
                if kind == "ping":
                    continue
                self.events_seen += 1
                watch.touch()  # content arrived: keep-alives and byte drips never get here
                yield event
                watch.touch()  # the consumer's own time (display, callbacks) is not the server's silence
                if name in terminal or kind in terminal:
                    return
        except StreamStalled as stall:
            log.debug("stream stalled after %d events: %s", self.events_seen, self._description)
            if stall.deadline:
                raise StreamError(
                    f"The stream was still running after {_fmt_seconds(stall.seconds)} s, its time limit.",
                    hint="The text received so far is kept in .partial_text. Raise stream_deadline for "
                    "very long answers.",
                ) from None
            raise StreamError(
                f"The stream stalled: no content arrived for {_fmt_seconds(stall.seconds)} s "
                "(keep-alive messages do not count).",
                hint=(
                    "The text received so far is kept in .partial_text. If the model thinks for a long "
                    "time before answering, raise stream_idle_timeout."
                ),
            ) from None
        except BodyRefused as exc:
            raise StreamError(f"The stream {exc.reason}; it was stopped (after {self.events_seen} events).",
                              hint="The text received so far is kept in .partial_text. Raise "
                              "Session(response_cap=…) if you expect an answer this large.") from None
        except httpx.RequestError as exc:
            scrub_error(exc)
            cause = error_from_transport(exc, secrets=self._secrets)
            raise StreamError(
                redact(f"The stream broke before it was complete: {cause.message}", *self._secrets)
            ) from exc  # scrubbed above: the chained request holds no key
        except SSEError as exc:  # pragma: no cover - the content type is checked before
            raise StreamError(f"The stream could not be read: {exc}") from exc
        if fmt in NEEDS_END_MARKER:
            raise StreamError(
                f"The stream ended early, without {_END_DESCRIPTION[fmt]} (after {self.events_seen} events)."
            )


def _snippet(raw: str, limit: int = 80) -> str:
    flat = " ".join(raw.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def stream_is_error(body: dict[str, Any]) -> bool:
    """Whether a decoded body is an error envelope rather than a (non-streamed) reply."""
    return bool(body.get("error")) or body.get("type") == "error" or (
        "message" in body and "code" in body and "choices" not in body and "candidates" not in body
    )
