"""A deadline for one await that never loses a cancel.

Before Python 3.12, ``asyncio.wait_for`` runs the awaited work in a task of its own and, when the caller's task
is cancelled in the loop turn where that work finishes, returns the work's result: the cancel is lost and the
caller goes on as if never stopped (a video wait stopped by Ctrl-C just as a status came in polled on, and its
stop was never recorded). ``asyncio.timeout`` (Python 3.11+; ``async-timeout``, its backport, on 3.10) runs the
work in the caller's own task, so a cancel always reaches it.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable
from typing import TypeVar

if sys.version_info >= (3, 11):
    from asyncio import timeout
else:  # pragma: no cover - Python 3.10
    from async_timeout import timeout

T = TypeVar("T")


async def within(aw: Awaitable[T], seconds: float | None) -> T:
    """``await aw``, given ``seconds`` at most (None: no limit); past them it is cancelled and
    ``asyncio.TimeoutError`` raised, as ``asyncio.wait_for`` would, but a cancel of the caller is never lost."""
    async with timeout(seconds):
        return await aw
