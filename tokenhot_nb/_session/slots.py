"""Batch slots: ``concurrency`` bounds requests in flight, not the downloads and recording after them."""

from __future__ import annotations

import asyncio
import contextvars


class Slot:
    """One batch item's place among the ``concurrency`` requests in flight; released once, early or at the end."""

    __slots__ = ("_sem",)

    def __init__(self, sem: asyncio.Semaphore) -> None:
        self._sem: asyncio.Semaphore | None = sem

    def release(self) -> None:
        if self._sem is not None:
            self._sem.release()
            self._sem = None


_slot: contextvars.ContextVar[Slot | None] = contextvars.ContextVar("tokenhot_nb_batch_slot", default=None)


def release_slot() -> None:
    """The API answered: let the next batch item send while this one downloads and records its outputs.

    ``concurrency`` bounds requests to the API; post-processing of one wave then overlaps the next wave's wait.
    """
    slot = _slot.get()
    if slot is not None:
        slot.release()


def enter_slot(slot: Slot) -> Slot:
    """Make ``slot`` the current task's (each batch task runs in its own context)."""
    _slot.set(slot)
    return slot
