"""Server-sent events for the four stream formats Tokenhot speaks.

Framing (blank-line separated events, multi-line ``data:``, ``:`` comments) is left to ``httpx-sse``.
On top of it this module adds what the formats need: drop ``ping`` events, stop at each format's end
marker (``[DONE]``, ``response.completed``/``failed``/``incomplete``, ``message_stop``, or the end of the
HTTP body for Gemini), turn error frames into :class:`StreamError`, notice a stream that ended early, and
notice a stall (no byte for ``stream_idle_timeout``), since a relay can keep a dead stream open for minutes.
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
from ._errors import error_from_response, error_from_transport, stream_error_from_data

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
    """Internal: no byte arrived within the idle timeout."""


class IdleTimeoutStream(httpx.AsyncByteStream):
    """Wrap a response body so that waiting longer than ``timeout`` for the next chunk raises.

    One watchdog timer per stream, re-armed lazily, instead of ``asyncio.wait_for`` per chunk: a stream of
    20,000 small chunks would otherwise pay for 20,000 extra tasks.
    """

    def __init__(self, inner: httpx.AsyncByteStream, timeout: float) -> None:
        self._inner = inner
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        chunks = self._inner.__aiter__()
        since = loop.time()
        waiting = False
        stalled = False
        handle: asyncio.TimerHandle | None = None

        def watchdog() -> None:
            nonlocal handle, stalled
            due = since + self._timeout
            if waiting and loop.time() >= due and task is not None:
                stalled = True
                task.cancel()
                return
            handle = loop.call_at(max(due, loop.time() + self._timeout / 4), watchdog)

        handle = loop.call_at(since + self._timeout, watchdog)
        try:
            while True:
                since = loop.time()
                task = asyncio.current_task()  # differs per step when iterated from sync code
                waiting = True
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if not stalled:
                        raise
                    uncancel = getattr(task, "uncancel", None)
                    if uncancel is not None:
                        uncancel()
                    raise StreamStalled(self._timeout) from None
                finally:
                    waiting = False
                yield chunk
        finally:
            if handle is not None:
                handle.cancel()

    async def aclose(self) -> None:
        await self._inner.aclose()


def decode_data(raw: str) -> dict[str, Any] | str:
    text = raw.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return raw
        if isinstance(value, dict):
            return value
    return raw


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
        secrets: tuple[Secret | str | None, ...] = (),
        description: str = "",
    ) -> None:
        self._connect = connect
        self._fmt = fmt or "chat"
        self._idle_timeout = idle_timeout
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
            response.stream = IdleTimeoutStream(response.stream, self._idle_timeout)  # type: ignore[arg-type]
            self._events_gen = self._events(response)
            yield _CONNECTED  # stays here, holding the response open, until aclose() or garbage collection
        finally:
            await response.aclose()

    async def _not_a_stream(self, response: httpx.Response, content_type: str) -> None:
        """A 2xx answer that is not an event stream: an error in disguise, or a non-streamed reply."""
        try:
            body = await asyncio.wait_for(response.aread(), self._idle_timeout)
        except (httpx.HTTPError, asyncio.TimeoutError):
            body = b""
        err = error_from_response(response.status_code, response.headers, body, secrets=self._secrets)
        if err.body is not None and isinstance(err.body, dict) and stream_is_error(err.body):
            raise err
        raise StreamError(
            f"Expected an event stream but the server answered with {content_type or 'no content type'}.",
            hint="The model may not support streaming here; try again with stream=False.",
        )

    async def _events(self, response: httpx.Response) -> AsyncGenerator[SSEEvent, None]:
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
                data = decode_data(raw)
                if _is_error_frame(name, data):
                    raise stream_error_from_data(data, event=name, secrets=self._secrets)
                event = SSEEvent(event=name, data=data)
                kind = event.type
                if kind == "ping":
                    continue
                self.events_seen += 1
                yield event
                if name in terminal or kind in terminal:
                    return
        except StreamStalled:
            log.debug("stream stalled after %d events: %s", self.events_seen, self._description)
            raise StreamError(
                f"The stream stalled: no data arrived for {_fmt_seconds(self._idle_timeout)} s.",
                hint=(
                    "The text received so far is kept in .partial_text. If the model thinks for a long "
                    "time before answering, raise stream_idle_timeout."
                ),
            ) from None
        except httpx.RequestError as exc:
            cause = error_from_transport(exc, secrets=self._secrets)
            raise StreamError(
                redact(f"The stream broke before it was complete: {cause.message}", *self._secrets)
            ) from exc
        except SSEError as exc:  # pragma: no cover - the content type is checked before
            raise StreamError(f"The stream could not be read: {exc}") from exc
        if fmt in NEEDS_END_MARKER:
            raise StreamError(
                f"The stream ended early, without {_END_DESCRIPTION[fmt]} (after {self.events_seen} events)."
            )


def stream_is_error(body: dict[str, Any]) -> bool:
    """Whether a decoded body is an error envelope rather than a (non-streamed) reply."""
    return bool(body.get("error")) or body.get("type") == "error" or (
        "message" in body and "code" in body and "choices" not in body and "candidates" not in body
    )
