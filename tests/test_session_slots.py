"""Batch slots: the concurrency bound covers requests in flight, and a slot is given back once the API answered."""

from __future__ import annotations

import asyncio

from tokenhot_nb._session.batch import gather
from tokenhot_nb._session.slots import release_slot


def test_an_item_that_released_its_slot_lets_the_next_one_start() -> None:
    second_started = asyncio.Event()

    async def one(i: int) -> int:
        if i == 0:
            release_slot()  # "the API answered"; now downloading and recording
            await asyncio.wait_for(second_started.wait(), 5)  # only possible if item 1 got the slot
        else:
            second_started.set()
        return i

    assert asyncio.run(gather([0, 1], one, 1, None)) == [0, 1]


def test_the_bound_holds_until_release() -> None:
    running = 0
    peak = 0

    async def one(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        release_slot()
        release_slot()  # releasing twice gives back one place only
        return i

    assert asyncio.run(gather(list(range(12)), one, 3, None)) == list(range(12))
    assert peak == 3


def test_release_outside_a_batch_does_nothing() -> None:
    release_slot()
