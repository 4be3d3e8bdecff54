"""Time rules on a body as it arrives: a deadline for the whole of it, a minimum rate for a download.

httpx's read timeout is per read, so a relay dripping a byte a second would hold a call for hours: the rules are
checked as each piece arrives (:class:`Watched`, under the decoder and the cap), and a body past one raises
:class:`TooSlow` carrying what arrived.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import httpx

from ..errors import DownloadError


class TooSlow(Exception):
    """Internal: a body past its time limit, or below its minimum rate; ``partial`` is what arrived of it."""

    def __init__(self, seconds: float, *, size: int, got: int = 0) -> None:
        super().__init__(seconds)
        self.seconds = seconds
        self.size = size  # bytes on the wire so far
        self.got = got  # bytes in the last window (rate rule)
        self.partial = b""


class BodyBroke(Exception):
    """Internal: a download's body broke after its headers (``cause``, after ``size`` bytes); ``error`` is what
    the user is told if it is not tried again."""

    def __init__(self, cause: httpx.RequestError, size: int, error: DownloadError) -> None:
        super().__init__(error.message)
        self.cause = cause
        self.size = size
        self.error = error


class Deadline:
    """A whole body within ``seconds`` of its start (<= 0: no limit), however it trickles."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds > 0 else None

    def __call__(self, size: int) -> None:
        if self.end is not None and time.monotonic() > self.end:
            raise TooSlow(self.seconds, size=size)


class Progress:
    """A download's stall rule: at least ``rate`` bytes/s over every ``window`` seconds, never a total limit,
    so a video of hundreds of MB on a slow link still arrives while a drip does not hold the call forever."""

    def __init__(self, rate: float, window: float) -> None:
        self.rate = rate if rate > 0 and window > 0 else 0.0
        self.window = window
        self.since = time.monotonic()
        self.base = 0

    def __call__(self, size: int) -> None:
        if not self.rate:
            return
        now = time.monotonic()
        elapsed = now - self.since
        if elapsed < self.window:
            return
        got = size - self.base
        if got < self.rate * elapsed:
            raise TooSlow(elapsed, size=size, got=got)
        self.since, self.base = now, size


class Watched(httpx.AsyncByteStream):
    """A response's wire body with a time rule checked as each piece arrives (put under the decoder and cap).

    httpx's read timeout is per read: a relay dripping a byte a second would hold a call for hours. The rule is
    checked on arrival, not by a timer, because in the blocking lane the loop sits inside the socket read where
    no timer fires; a read that gets nothing at all still ends at the read timeout. It raises from the bottom of
    the chain, so every generator above ends with the error instead of being left half-read for a loop (the
    lane's) that may never run again to finalise it.
    """

    def __init__(self, inner: httpx.AsyncByteStream, rule: Callable[[int], None]) -> None:
        self._inner = inner
        self._rule = rule

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _WatchedIter(self._inner.__aiter__(), self._rule)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _WatchedIter:
    def __init__(self, inner: AsyncIterator[bytes], rule: Callable[[int], None]) -> None:
        self._inner = inner
        self._rule = rule
        self._size = 0

    def __aiter__(self) -> _WatchedIter:
        return self

    async def __anext__(self) -> bytes:
        piece = await self._inner.__anext__()
        self._size += len(piece)
        try:
            self._rule(self._size)
        except TooSlow:
            close = getattr(self._inner, "aclose", None)
            if close is not None:
                await close()
            raise
        return piece


def chunks_of(response: httpx.Response) -> contextlib.aclosing[AsyncGenerator[bytes, None]]:
    """The body as it arrives (already decoded and capped by ``_body.bound_body``; a body read ahead is only in
    ``aiter_bytes``), closed on leaving early."""
    chunks = response.aiter_bytes() if response.is_stream_consumed else response.aiter_raw()
    return contextlib.aclosing(chunks)  # type: ignore[arg-type]  # both are async generators


async def read_whole(response: httpx.Response, parts: list[bytes] | None = None) -> bytes:
    """The whole (bounded, watched) body; a :class:`TooSlow` carries the part that arrived, and ``parts`` (when
    given) holds it whatever broke the body."""
    parts = [] if parts is None else parts
    try:
        async with chunks_of(response) as chunks:
            async for chunk in chunks:
                parts.append(chunk)
    except TooSlow as exc:
        exc.partial = b"".join(parts)
        raise
    return b"".join(parts)
