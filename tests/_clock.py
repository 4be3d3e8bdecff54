"""An asyncio loop on a virtual clock, for tests about timeouts and stalls that must not depend on wall time.

When nothing is ready to run, the loop jumps its clock straight to the next timer instead of sleeping, so
``await asyncio.sleep(100)`` takes no real time and every timer fires in exactly the order and at exactly the
virtual time the code asked for. Only the public ``SelectorEventLoop(selector=…)`` hook is used.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: Real seconds the loop may block when it has no timer at all (then only another thread can wake it).
REAL_WAIT = 5.0


class _JumpingSelector(selectors.SelectSelector):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready:
            return ready
        if timeout is None:  # no timer: something real (a thread) must wake us; wait, but bounded
            ready = super().select(REAL_WAIT)
            if not ready:
                raise RuntimeError("virtual-clock loop: nothing scheduled and nothing woke it (a hang)")
            return ready
        self.now += timeout
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """``loop.time()`` is virtual and starts at 0; waiting for a timer costs no real time."""

    def __init__(self) -> None:
        self._clock = _JumpingSelector()
        super().__init__(selector=self._clock)

    def time(self) -> float:
        return self._clock.now


def run_virtual(coro: Coroutine[Any, Any, T]) -> tuple[T, float]:
    """Run ``coro`` to the end on a fresh virtual-clock loop; returns its result and the virtual time it took."""
    loop = VirtualClockLoop()
    try:
        asyncio.set_event_loop(loop)
        result = loop.run_until_complete(coro)
        return result, loop.time()
    finally:
        asyncio.set_event_loop(None)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def virtual_time() -> float:
    """The running loop's clock (virtual inside :func:`run_virtual`)."""
    return asyncio.get_running_loop().time()
