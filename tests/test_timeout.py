"""A deadline for one await (``_timeout.within``): it keeps time as ``asyncio.wait_for`` does, and never loses a
cancel of the caller."""

from __future__ import annotations

import asyncio

import pytest

from tokenhot_nb._timeout import within


def test_a_cancel_that_lands_as_the_work_ends_still_cancels() -> None:
    """``asyncio.wait_for`` (before Python 3.12) returned the work's result when the caller was cancelled in the
    loop turn the work finished in: the caller went on as if never stopped."""
    after: list[str] = []

    async def main() -> None:
        me = asyncio.current_task()
        assert me is not None
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()

        def land() -> None:  # the answer and the stop, in one loop turn
            answer.set_result("done")
            me.cancel()

        loop.call_soon(land)
        with pytest.raises(asyncio.CancelledError):
            after.append(await within(answer, 5))

    asyncio.run(main())
    assert after == []


def test_it_returns_the_result_and_keeps_its_deadline() -> None:
    async def main() -> None:
        assert await within(asyncio.sleep(0, result="quick"), 5) == "quick"
        assert await within(asyncio.sleep(0.01, result="no limit"), None) == "no limit"
        with pytest.raises(asyncio.TimeoutError):
            await within(asyncio.sleep(10), 0.01)
        with pytest.raises(asyncio.TimeoutError):  # (no time left: as wait_for, a timeout, not a hang)
            await within(asyncio.Event().wait(), 0)

    asyncio.run(main())


def test_an_outside_cancel_is_a_cancel_not_a_timeout() -> None:
    async def main() -> None:
        inner = asyncio.ensure_future(within(asyncio.sleep(10), 5))
        await asyncio.sleep(0.01)
        inner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await inner

    asyncio.run(main())
