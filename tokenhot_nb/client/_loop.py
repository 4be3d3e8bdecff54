"""One background event loop, so synchronous code (a Jupyter cell) can run the async core.

A Jupyter kernel already runs an asyncio loop on the main thread, so ``asyncio.run`` fails there and
``nest_asyncio`` is fragile. Instead every synchronous call is handed to a single daemon thread that runs
its own loop forever; the caller blocks on the result. Because that loop is persistent, connection pools
(which belong to the loop that created them) survive between cells.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextvars
import os
import queue
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar, cast

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_pid: int | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """The background loop, started on first use (thread-safe; restarted after a fork)."""
    global _loop, _thread, _pid
    with _lock:
        if (
            _loop is not None
            and _thread is not None
            and _pid == os.getpid()
            and _thread.is_alive()
            and not _loop.is_closed()
        ):
            return _loop
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def _run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        thread = threading.Thread(target=_run, name="tokenhot-nb-loop", daemon=True)
        thread.start()
        ready.wait()
        if _loop is None:
            atexit.register(_shutdown)
        _loop, _thread, _pid = loop, thread, os.getpid()
        return loop


def _shutdown(grace: float = 3.0) -> None:
    """At interpreter exit, cancel what still runs on the loop, stop it and close it.

    Daemon threads are frozen mid-instruction during finalization; a video poll still writing its history
    row through SQLite at that moment could crash the process. Cancelling first lets every task record
    itself as interrupted and close cleanly.
    """
    loop, thread = _loop, _thread
    if loop is None or thread is None or not thread.is_alive() or _pid != os.getpid() or loop.is_closed():
        return

    async def _cancel_all() -> None:
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        await asyncio.get_running_loop().shutdown_asyncgens()

    try:
        asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(grace + 1)
    except BaseException:
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(grace)
    if not thread.is_alive():  # a loop still running (a task that ignored cancellation) cannot be closed
        loop.close()  # its self-pipe sockets; left open, Python 3.13 reports them at exit


def in_loop_thread() -> bool:
    """True when running on the background loop's own thread (blocking there would deadlock)."""
    return _thread is not None and threading.current_thread() is _thread


async def _await(aw: Awaitable[T]) -> T:
    return await aw


def submit(aw: Awaitable[T]) -> concurrent.futures.Future[T]:
    """Schedule ``aw`` on the background loop without waiting."""
    coro = aw if asyncio.iscoroutine(aw) else _await(aw)
    return asyncio.run_coroutine_threadsafe(cast(Coroutine[Any, Any, T], coro), get_loop())


Post = Callable[[Callable[..., Any], tuple[Any, ...]], None]
_relay: contextvars.ContextVar[Post | None] = contextvars.ContextVar("tokenhot_nb_relay", default=None)


def call_in_caller(fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` on the thread (or loop) that started the current operation.

    Work runs on the background loop, but display updates must happen where the cell runs: ipykernel
    routes output by the thread that made it, so a callback fired from the loop thread could land in
    the wrong cell. Outside a relayed operation ``fn`` simply runs here.
    """
    post = _relay.get()
    if post is None:
        fn(*args)
    else:
        post(fn, args)


async def relayed(aw: Awaitable[T], post: Post) -> T:
    """Await ``aw`` with :func:`call_in_caller` routed through ``post`` (inherited by child tasks)."""
    _relay.set(post)
    return await aw


async def run_async(aw: Awaitable[T]) -> T:
    """Await ``aw`` on the background loop from another loop (an ``await`` in a cell): the async twin of
    :func:`run_sync`.

    Callbacks posted with :func:`call_in_caller` run on the awaiting loop; one that raises cancels the work
    and its exception is raised here, as with :func:`run_sync`.
    """
    if in_loop_thread():
        return await aw
    loop = asyncio.get_running_loop()
    failure: list[BaseException] = []
    futures: list[concurrent.futures.Future[T]] = []

    def post(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        def run() -> None:
            try:
                fn(*args)
            except BaseException as exc:
                if not failure:
                    failure.append(exc)
                futures[0].cancel()

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # the awaiting loop is gone: nobody is left to show this to
            pass

    started: list[bool] = []
    unwound = asyncio.Event()

    async def work() -> T:
        started.append(True)
        try:
            return await relayed(aw, post)
        finally:
            try:
                loop.call_soon_threadsafe(unwound.set)
            except RuntimeError:  # the awaiting loop is gone
                pass

    futures.append(submit(work()))
    try:
        return await asyncio.wrap_future(futures[0])
    except asyncio.CancelledError:
        futures[0].cancel()
        # as run_sync: the work unwinds on the loop (a call records its stop there) and what the caller says next
        # reads that record, so it waits for it, a moment at most (a second cancel ends the wait)
        if started:
            try:
                await asyncio.wait_for(unwound.wait(), UNWIND_WAIT)
            except asyncio.TimeoutError:  # (TimeoutError itself from 3.11 on)
                pass
        if not failure:
            raise
    # raised outside the handler, as run_sync raises it: the callback's error keeps its own cause (the user's
    # exception, with its frames) and gains no context from the cancellation it caused
    raise failure[0]


#: How long a stopped :func:`run_sync` waits for its work to unwind on the loop before it raises (seconds).
UNWIND_WAIT = 2.0


def run_sync(aw: Awaitable[T], timeout: float | None = None) -> T:
    """Run ``aw`` on the background loop and wait for its result.

    Works from plain scripts, from inside a running loop (a Jupyter cell) and with ``nest_asyncio``
    applied. Callbacks posted with :func:`call_in_caller` run here, on the calling thread, while it
    waits. Ctrl-C / "interrupt kernel" (or an exception from such a callback) cancels the work on the
    loop and re-raises; a ``timeout`` cancels it and raises :class:`TimeoutError`.
    """
    if in_loop_thread():
        if asyncio.iscoroutine(aw):
            aw.close()
        raise RuntimeError(
            "run_sync() was called on tokenhot_nb's own event-loop thread, where it would wait forever; "
            "await the coroutine instead."
        )
    inbox: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
    started, unwound = threading.Event(), threading.Event()

    async def work() -> T:
        started.set()
        try:
            return await relayed(aw, lambda fn, args: inbox.put((fn, args)))
        finally:
            unwound.set()

    future = submit(work())
    future.add_done_callback(lambda _f: inbox.put(None))
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = inbox.get(timeout=wait)
            except queue.Empty:
                future.cancel()
                raise TimeoutError(f"The operation did not finish within {timeout} s and was cancelled.") from None
            if item is None:
                break
            fn, args = item
            fn(*args)
        return future.result(0)
    except BaseException:
        future.cancel()
        # The work unwinds on the loop (a call records its stop there); what the caller says next reads that
        # record, so it waits for it, a moment at most (a second Ctrl-C ends the wait). Work that never started
        # has nothing to unwind.
        if started.is_set():
            unwound.wait(UNWIND_WAIT)
        raise


class AnyLoopLock:
    """An async lock that calls on any loop and any thread may wait on (``async with lock:``).

    One session's calls run on several loops at once: the background loop, and the private loop of each thread
    with a sync call in the blocking lane (a panel's worker thread, the cell). An ``asyncio.Lock`` belongs to the
    first loop that waits on it and is not thread-safe: released from another loop's thread, its waiter was never
    woken (the call hung for good), and a wait from a third loop failed ("bound to a different event loop").
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        #: (loop, future) of each waiter, first come first served; release hands the lock to the first
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = \
            collections.deque()

    def locked(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter = (loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter[1]
        except BaseException:  # cancelled (or interrupted) while waiting
            with self._mutex:
                if waiter in self._waiters:  # not handed the lock: just leave the queue
                    self._waiters.remove(waiter)
                    raise
            self.release()  # handed the lock as it was cancelled: pass it on
            raise

    def release(self) -> None:
        with self._mutex:
            while self._waiters:
                loop, future = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(_wake, future)
                except RuntimeError:  # its loop is closed: nobody waits there any more
                    continue
                return  # (still held: by the waiter now)
            self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # (a waiter cancelled meanwhile passes the lock on itself)
        future.set_result(None)


_END = object()


def iterate_sync(aiterable: AsyncIterable[T], timeout: float | None = None) -> Iterator[T]:
    """Consume an async iterator from synchronous code, one item per round trip to the background loop.

    ``timeout`` applies to each item. Leaving the loop early (``break``, an exception, Ctrl-C) closes the
    async iterator on the background loop, which releases its connection.
    """
    iterator: AsyncIterator[T] = aiterable.__aiter__()

    async def _next() -> Any:
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            return _END

    try:
        while True:
            item = run_sync(_next(), timeout)
            if item is _END:
                return
            yield cast(T, item)
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            try:
                run_sync(aclose(), timeout=10)
            except Exception:
                pass
