"""The background loop: run_sync from plain code, inside a running loop, under nest_asyncio, on Ctrl-C."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tokenhot_nb.client import get_loop, in_loop_thread, iterate_sync, run_sync


async def _answer(x: int) -> tuple[int, str]:
    await asyncio.sleep(0)
    return x * 2, threading.current_thread().name


def test_run_sync_runs_on_one_persistent_thread() -> None:
    value, name = run_sync(_answer(21))
    assert value == 42 and name == "tokenhot-nb-loop"
    assert run_sync(_answer(1))[1] == name
    assert get_loop() is get_loop()
    assert not in_loop_thread()


def test_get_loop_is_thread_safe() -> None:
    loops: list[asyncio.AbstractEventLoop] = []
    threads = [threading.Thread(target=lambda: loops.append(get_loop())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(loop) for loop in loops}) == 1


def test_run_sync_inside_a_running_loop() -> None:
    """What a Jupyter cell does: the main thread already runs a loop, asyncio.run would fail."""

    async def cell() -> int:
        coro = _answer(1)
        with pytest.raises(RuntimeError):
            asyncio.run(coro)
        coro.close()
        return run_sync(_answer(5))[0]

    assert asyncio.run(cell()) == 10


def test_run_sync_propagates_exceptions_and_accepts_awaitables() -> None:
    async def boom() -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        run_sync(boom())

    class Awaitable:
        def __await__(self):  # type: ignore[no-untyped-def]
            return _answer(3).__await__()

    assert run_sync(Awaitable())[0] == 6


def test_run_sync_timeout_cancels() -> None:
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError, match="did not finish within"):
        run_sync(slow(), timeout=0.1)
    assert cancelled.wait(2)


def test_run_sync_on_the_loop_thread_refuses_instead_of_deadlocking() -> None:
    async def inner() -> None:
        run_sync(_answer(1))

    with pytest.raises(RuntimeError, match="own event-loop thread"):
        run_sync(inner())


def test_iterate_sync_items_and_early_close() -> None:
    closed = threading.Event()

    async def numbers() -> AsyncIterator[int]:
        try:
            for i in range(100):
                await asyncio.sleep(0)
                yield i
        finally:
            closed.set()

    assert list(iterate_sync(_limited(5))) == [0, 1, 2, 3, 4]
    for i in iterate_sync(numbers()):
        if i == 2:
            break
    assert closed.wait(2)


async def _limited(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


def test_iterate_sync_propagates_errors() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise KeyError("gone")

    out: list[int] = []
    with pytest.raises(KeyError):
        for item in iterate_sync(failing()):
            out.append(item)
    assert out == [1]


def _run_script(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_run_sync_with_nest_asyncio_applied() -> None:
    """In a subprocess, so the global patch does not leak into the other tests."""
    result = _run_script(
        """
        import asyncio, nest_asyncio
        nest_asyncio.apply()
        from tokenhot_nb.client import run_sync, iterate_sync

        async def double(x):
            await asyncio.sleep(0.01)
            return x * 2

        async def gen():
            for i in range(3):
                await asyncio.sleep(0)
                yield i

        async def cell():
            return run_sync(double(4)), list(iterate_sync(gen()))

        print(run_sync(double(1)), asyncio.run(cell()), asyncio.get_event_loop().run_until_complete(cell()))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 (8, [0, 1, 2]) (8, [0, 1, 2])"


def test_keyboard_interrupt_cancels_the_work() -> None:
    """Interrupting the kernel (SIGINT to the main thread) cancels the coroutine on the loop."""
    result = _run_script(
        """
        import asyncio, os, signal, threading, time
        from tokenhot_nb.client import run_sync, iterate_sync

        # a background job's children inherit SIGINT ignored: restore Python's handler, as a kernel has it
        signal.signal(signal.SIGINT, signal.default_int_handler)
        cancelled = threading.Event()
        waiting = threading.Event()

        def interrupt_once_waiting():
            if waiting.wait(30):
                time.sleep(0.05)  # let the main thread block in run_sync's wait
                signal.pthread_kill(main, signal.SIGINT)

        async def forever():
            waiting.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        main = threading.main_thread().ident
        threading.Thread(target=interrupt_once_waiting, daemon=True).start()
        start = time.monotonic()
        try:
            run_sync(forever())
        except KeyboardInterrupt:
            print("interrupted", round(time.monotonic() - start) < 5, cancelled.wait(5))

        closed = threading.Event()

        async def slow_gen():
            try:
                yield 1
                waiting.set()
                await asyncio.sleep(60)
                yield 2
            finally:
                closed.set()

        waiting.clear()
        threading.Thread(target=interrupt_once_waiting, daemon=True).start()
        try:
            for item in iterate_sync(slow_gen()):
                pass
        except KeyboardInterrupt:
            print("stream interrupted", closed.wait(5))
        print("still works", run_sync(asyncio.sleep(0, result=7)))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["interrupted True True", "stream interrupted True", "still works 7"]


def test_callbacks_run_on_the_calling_thread_in_order() -> None:
    from tokenhot_nb.client._loop import call_in_caller

    seen: list[tuple[int, str]] = []

    async def work() -> str:
        for i in range(5):
            call_in_caller(lambda i=i: seen.append((i, threading.current_thread().name)))
            await asyncio.sleep(0)
        return threading.current_thread().name

    loop_thread = run_sync(work())
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name in seen} == {threading.current_thread().name}
    assert loop_thread != threading.current_thread().name


def test_an_exception_in_a_callback_cancels_the_work() -> None:
    from tokenhot_nb.client._loop import call_in_caller

    cancelled = threading.Event()

    def stop() -> None:
        raise KeyboardInterrupt("stop")

    async def work() -> None:
        call_in_caller(stop)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(KeyboardInterrupt):
        run_sync(work())
    assert cancelled.wait(5)


def test_callbacks_relay_to_an_awaiting_loop() -> None:
    from tokenhot_nb.client import run_async
    from tokenhot_nb.client._loop import call_in_caller

    seen: list[str] = []

    async def work() -> str:
        call_in_caller(lambda: seen.append(threading.current_thread().name))
        return threading.current_thread().name

    async def cell() -> str:
        return await run_async(work())

    ran_on = asyncio.run(cell())
    assert seen == [threading.current_thread().name] and ran_on != seen[0]


def test_a_failing_callback_cancels_awaited_work_and_is_raised() -> None:
    from tokenhot_nb.client import run_async
    from tokenhot_nb.client._loop import call_in_caller

    cancelled = threading.Event()

    def stop() -> None:
        raise ValueError("stop here")

    async def work() -> None:
        call_in_caller(stop)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(ValueError, match="stop here"):
        asyncio.run(run_async(work()))
    assert cancelled.wait(5)


@pytest.mark.parametrize("how", ["sync", "awaited"])
def test_a_failing_callback_keeps_its_cause_on_both_paths(how: str) -> None:
    """A callback's error made ``from`` the user's exception (``on_progress``) keeps it as the cause, awaited or
    not, and the cancellation it caused is not chained on (its asyncio frames would lengthen the report)."""
    import traceback

    from tokenhot_nb.client import run_async
    from tokenhot_nb.client._loop import call_in_caller

    def users_callback() -> None:
        raise ValueError("the user's bug")

    def checked() -> None:
        try:
            users_callback()
        except ValueError as exc:
            raise RuntimeError("your callback raised") from exc

    async def work() -> None:
        call_in_caller(checked)
        await asyncio.sleep(30)

    with pytest.raises(RuntimeError, match="your callback raised") as info:
        if how == "sync":
            run_sync(work())
        else:
            asyncio.run(run_async(work()))
    err = info.value
    assert isinstance(err.__cause__, ValueError) and str(err.__cause__) == "the user's bug"
    assert "users_callback" in [f.name for f in traceback.extract_tb(err.__cause__.__traceback__)]
    report = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert "CancelledError" not in report and not isinstance(err.__context__, asyncio.CancelledError)


def test_sessions_left_open_leave_nothing_open_at_exit(sim_url: str, tmp_path: Path) -> None:
    """A notebook rarely closes its session: at exit the background loop is closed and the blocking lane's
    kept-alive sockets too, so Python (3.13 reports what it finds) has nothing to warn about."""
    code = f"""
        import warnings
        warnings.simplefilter("ignore", UserWarning)  # (no key: the offline simulator)
        import tokenhot_nb as t
        net = t.Session(api_key="sk-test-0123456789", base_url={sim_url!r}, store={str(tmp_path / "net")!r})
        offline = t.Session(store={str(tmp_path / "offline")!r})
        print(len(net.chat("hi", stream=False).text) > 0, len(net.chat("hi", stream=True).text) > 0,
              len(offline.chat("hi", stream=False).text) > 0)
        """
    result = subprocess.run([sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c",
                             textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]
    assert "ResourceWarning" not in result.stderr and "unclosed" not in result.stderr, result.stderr


@pytest.mark.parametrize("how", ["callback", "cancel"])
def test_awaited_work_stopped_has_unwound_when_the_caller_hears_of_it(how: str) -> None:
    """A stopped call records its stop on the loop as it unwinds, and what the caller says next reads that record.
    ``run_sync`` waited for the unwinding; ``run_async`` did not, so an awaited call's Ctrl-C (or its task's
    cancellation) came back while its history row still said "running"."""
    from tokenhot_nb.client import run_async
    from tokenhot_nb.client._loop import call_in_caller

    unwound = threading.Event()
    started = threading.Event()

    def stop() -> None:
        raise ValueError("stop here")

    async def work() -> None:
        if how == "callback":
            call_in_caller(stop)
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            time.sleep(0.3)  # (recording the stop takes a moment, on the loop's thread)
            unwound.set()
            raise

    async def cell() -> bool:
        task = asyncio.ensure_future(run_async(work()))
        while not started.is_set():
            await asyncio.sleep(0.01)
        if how == "cancel":
            task.cancel()
        try:
            await task
        except (ValueError, asyncio.CancelledError):
            return unwound.is_set()
        return False

    assert asyncio.run(cell()) is True


def test_a_lock_any_loop_waits_on_passes_on_when_its_next_waiter_was_cancelled() -> None:
    """``AnyLoopLock`` (one read of the price table for calls on several loops and threads): a waiter cancelled
    just as the lock was handed to it passes it on to the next one, on that one's own loop and thread."""
    from tokenhot_nb.client._loop import AnyLoopLock

    lock = AnyLoopLock()
    got: list[str] = []

    def other() -> None:
        async def wait_for_it() -> None:
            async with lock:
                got.append(threading.current_thread().name)

        asyncio.run(wait_for_it())

    async def main() -> None:
        await lock.acquire()
        first = asyncio.ensure_future(lock.acquire())
        await asyncio.sleep(0)  # (first in the queue)
        thread = threading.Thread(target=other, name="other", daemon=True)
        thread.start()
        while len(lock._waiters) < 2:  # (the other thread's waiter is second)
            await asyncio.sleep(0.001)
        lock.release()  # handed to `first`…
        first.cancel()  # …cancelled before it could run: it passes the lock on
        with pytest.raises(asyncio.CancelledError):
            await first
        await asyncio.to_thread(thread.join, 30)
        assert not thread.is_alive(), "the next waiter was never handed the lock"

    asyncio.run(main())
    assert got == ["other"] and not lock.locked()
