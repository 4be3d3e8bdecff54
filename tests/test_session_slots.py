"""Batch slots: the concurrency bound covers requests in flight, and a slot is given back once the API answered."""

from __future__ import annotations

import asyncio

import pytest
from _clock import run_virtual

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
        await asyncio.sleep(0.01)  # virtual time: every item overlaps the others as far as the bound allows
        running -= 1
        release_slot()
        release_slot()  # releasing twice gives back one place only
        return i

    done, took = run_virtual(gather(list(range(12)), one, 3, None))
    assert done == list(range(12))
    assert peak == 3
    assert took == pytest.approx(0.04)  # four waves of three


def test_release_outside_a_batch_does_nothing() -> None:
    started: list[int] = []
    gate = asyncio.Event()

    async def one(i: int) -> int:
        started.append(i)
        await gate.wait()
        return i

    async def main() -> list[int]:
        release_slot()  # before any batch: no error, nothing to give back
        batch = asyncio.ensure_future(gather([0, 1, 2], one, 1, None))
        for _ in range(5):
            await asyncio.sleep(0)
        for _ in range(3):
            release_slot()  # the caller is not a batch item: the batch's bound must not widen
        for _ in range(5):
            await asyncio.sleep(0)
        assert started == [0]
        gate.set()
        return await batch

    assert asyncio.run(main()) == [0, 1, 2]
    assert started == [0, 1, 2]
