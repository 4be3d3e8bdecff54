"""The blocking lane: a synchronous call that reads its answer whole runs on the caller's own thread.

A sync call normally hands its work to the background loop (``_loop.py``) and waits. For a request whose
answer is read whole (no stream to watch for stalls, nothing to run alongside), that round trip buys nothing
and costs about half of the call's client time: async httpx, anyio and two thread switches, ~0.45 ms a call
here against the same request made with httpx's sync transport. The lane runs the very same coroutine, on a
private event loop of the calling thread, with the network I/O done by ``httpx.HTTPTransport`` (blocking)
behind an ``AsyncBaseTransport``: every layer above the socket (retries, caps, error mapping, recording) is
the one the async path uses.

The caller's thread may already run a loop (a Jupyter cell runs inside the kernel's): that loop is put aside
for the duration, as a blocking sync call would block it anyway, and restored after.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

_here = threading.local()
#: asyncio's own hooks for a loop's owner (exported by ``asyncio.events`` for event-loop implementations);
#: a Python without them keeps every sync call on the background loop
_get_running: Callable[[], asyncio.AbstractEventLoop | None] | None = getattr(asyncio, "_get_running_loop", None)
_set_running: Callable[[asyncio.AbstractEventLoop | None], None] | None = getattr(asyncio, "_set_running_loop", None)
AVAILABLE = _get_running is not None and _set_running is not None


def active() -> bool:
    """True on a thread that is running a call in the lane (its I/O may block this thread)."""
    return getattr(_here, "running", False)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to the end on this thread's private loop, with the lane active.

    An interrupt (Ctrl-C, or a callback that raised one) cancels what the call still runs (work it handed to
    the background loop included) and lets it finish its bookkeeping before it is re-raised.
    """
    if active():
        coro.close()
        raise RuntimeError("tokenhot_nb's blocking lane is already running on this thread; await the call instead.")
    assert _get_running is not None and _set_running is not None, "callers check AVAILABLE"
    loop = _loop()
    outer = _get_running()
    _set_running(None)  # the kernel's loop waits while this cell blocks, as with any sync call
    _here.running = True
    try:
        task = loop.create_task(coro)
        try:
            return loop.run_until_complete(task)
        except BaseException:
            if not task.done():
                task.cancel()
                try:
                    loop.run_until_complete(task)
                except BaseException:
                    pass
            elif not task.cancelled():
                task.exception()  # retrieved: it is the one being raised (no "never retrieved" log later)
            raise
    finally:
        _here.running = False
        _set_running(outer)


def _loop() -> asyncio.AbstractEventLoop:
    """This thread's private loop, made on first use (and again in a forked child or after it was closed)."""
    own: _Own | None = getattr(_here, "own", None)
    if own is None or own.loop.is_closed() or own.pid != os.getpid():
        own = _here.own = _Own()
    return own.loop


class _Own:
    """A thread's private loop, closed when the thread ends (its thread-local goes) rather than left to warn."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()

    def __del__(self) -> None:
        if self.pid == os.getpid() and not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()


class BlockingTransport(httpx.AsyncBaseTransport):
    """httpx's sync transport behind the async interface: a request blocks the thread until its answer.

    Only used in the lane, where nothing else waits on the loop; the body is handed on as it arrives (the
    client's cap reads it chunk by chunk), never read ahead.
    """

    def __init__(self, **options: Any) -> None:
        self._sync = httpx.HTTPTransport(**options)
        # a session nobody closed (the usual notebook) would leave its kept-alive sockets open at exit, which
        # Python reports; the finalizer closes them then, or when the transport is collected
        weakref.finalize(self, self._sync.close)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self._sync.handle_request(request)  # (the request's body streams both ways)
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(response.status_code, headers=response.headers, extensions=response.extensions,
                              stream=_Body(response.stream))

    async def aclose(self) -> None:
        self._sync.close()


class _Body(httpx.AsyncByteStream):
    """The blocking body as an async one. An iterator object, not an async generator: a generator left half-read
    (a body refused or too slow) would be finalised by a task on this thread's private loop, which may never
    run again."""

    def __init__(self, stream: httpx.SyncByteStream) -> None:
        self._stream = stream

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _BodyIter(iter(self._stream))

    async def aclose(self) -> None:
        self._stream.close()


class _BodyIter:
    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts

    def __aiter__(self) -> _BodyIter:
        return self

    async def __anext__(self) -> bytes:
        try:
            return next(self._parts)
        except StopIteration:
            raise StopAsyncIteration from None
