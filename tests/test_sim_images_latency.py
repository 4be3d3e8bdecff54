"""An image request the ``latency`` fault holds is drawn while it waits (a batch's drawings no longer queue after
the wait on the simulator's one core), and nothing else about it changes: billing, stored files, injected errors
and counters all happen after the wait as before, the answer is the one given without a wait, and a request
cancelled while it waits leaves nothing behind.

The wait is a gate the test opens (``app.asyncio.sleep`` replaced), so nothing here depends on timing.
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import types
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tokenhot_nb.sim import Faults, SimTransport, app, create_app, media
from tokenhot_nb.sim._common import seed_of

BASE = "http://tokenhot.sim"
AUTH = {"Authorization": "Bearer sk-latency-test"}
IMAGE: dict[str, Any] = {"model": "dall-e-2", "prompt": "a lighthouse at dusk", "size": "256x256", "n": 2}


class Gate:
    """Stands in for the latency's sleep: a request waits until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waiting = 0

    async def sleep(self, seconds: float) -> None:
        self.waiting += 1
        await self.opened.wait()


class Drawn:
    """Counts the images drawn (in whichever thread), and can hold the drawing mid-way."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.images = 0

    def wrap(self, png_bytes: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
        def spied(img: Any) -> bytes:
            self.started.set()
            self.release.wait(10)
            out = png_bytes(img)
            self.images += 1
            return out
        return spied


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    g = Gate()
    monkeypatch.setattr(app, "asyncio", types.SimpleNamespace(**{**vars(asyncio), "sleep": g.sleep}))
    return g


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Drawn:
    d = Drawn()
    monkeypatch.setattr(media, "png_bytes", d.wrap(media.png_bytes))
    return d


async def until(check: Callable[[], bool]) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never came true")


def run(body: Callable[[httpx.AsyncClient, Any], Awaitable[None]], faults: Faults) -> None:
    sim = create_app(faults)

    async def main() -> None:
        async with httpx.AsyncClient(transport=SimTransport(app=sim), base_url=BASE, headers=AUTH, timeout=30) as c:
            await body(c, sim.state.sim)

    asyncio.run(main())


def pngs(c: httpx.AsyncClient, answer: dict[str, Any]) -> Awaitable[list[bytes]]:
    async def get() -> list[bytes]:
        return [(await c.get(item["url"])).content for item in answer["data"]]
    return get()


def test_an_image_is_drawn_while_its_request_waits_and_all_else_happens_after(gate: Gate, drawn: Drawn) -> None:
    async def body(c: httpx.AsyncClient, state: Any) -> None:
        call = asyncio.ensure_future(c.post("/v1/images/generations", json=IMAGE))
        await until(lambda: drawn.images == 2)  # drawn while the request waits …
        assert gate.waiting == 1 and not gate.opened.is_set() and not call.done()
        assert (state.spent_quota, len(state.files), state.fail_counts) == (0, 0, {})  # … and nothing else yet
        gate.opened.set()
        r = await call
        assert r.status_code == 200, r.text
        assert drawn.images == 2  # what was drawn while it waited is what is answered
        assert state.spent_quota > 0 and len(state.files) == 2
        plain = [media.png_bytes(media.draw_image("a lighthouse at dusk", 256, 256, seed_of(IMAGE), index=i))
                 for i in range(2)]
        assert await pngs(c, r.json()) == plain  # the bytes a plain drawing gives

    run(body, Faults(latency=5))


def test_an_error_injected_after_the_wait_is_answered_and_the_drawing_is_not_used(gate: Gate, drawn: Drawn) -> None:
    async def body(c: httpx.AsyncClient, state: Any) -> None:
        call = asyncio.ensure_future(c.post("/v1/images/generations", json=IMAGE))
        await until(lambda: drawn.images == 2)
        assert state.fail_counts == {}  # the fault's counter is not touched while the request waits
        gate.opened.set()
        r = await call
        assert r.status_code == 500 and "Simulated internal server error" in r.json()["error"]["message"]
        assert (state.spent_quota, len(state.files)) == (0, 0)
        again = await c.post("/v1/images/generations", json=IMAGE)  # the next one is drawn again, and answered
        assert again.status_code == 200 and drawn.images == 4 and len(state.files) == 2

    run(body, Faults(latency=5, fail_first={500: 1}))


def test_a_request_cancelled_while_it_waits_leaves_nothing_behind(gate: Gate, drawn: Drawn) -> None:
    drawn.release.clear()  # the drawing is still going when the request is cancelled

    async def body(c: httpx.AsyncClient, state: Any) -> None:
        before = set(asyncio.all_tasks())
        call = asyncio.ensure_future(c.post("/v1/images/generations", json=IMAGE))
        await until(drawn.started.is_set)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        drawn.release.set()  # the worker thread finishes what it drew; nobody takes it
        await until(lambda: drawn.images == 2)
        await until(lambda: set(asyncio.all_tasks()) <= before | {asyncio.current_task()})
        gate.opened.set()
        await asyncio.sleep(0.05)
        assert (state.spent_quota, len(state.files), state.fail_counts) == (0, 0, {})
        assert gate.waiting == 1 and drawn.images == 2

    run(body, Faults(latency=5, fail_first={429: 1}))


_BODIES: dict[str, bytes] = {
    "drawn": b'{"model": "dall-e-2", "prompt": "a fox", "size": "256x256", "n": 2}',
    "b64": b'{"model": "gpt-image-2", "prompt": "a fox", "size": "64x48", "response_format": "b64_json"}',
    "refused size": b'{"model": "dall-e-2", "prompt": "a fox", "size": "300x300"}',
    "no prompt": b'{"model": "dall-e-2", "size": "256x256"}',
    "not JSON": b'{"model": "dall-e-2", "prompt": ',
    "not an object": b'["dall-e-2"]',
    "no model": b'{"prompt": "a fox"}',
    "unknown model": b'{"model": "no-such-image-model", "prompt": "a fox"}',
    "a chat model": b'{"model": "gpt-5.4-mini", "prompt": "a fox"}',
}


@pytest.mark.parametrize("name", list(_BODIES))
def test_an_answer_after_a_wait_is_the_answer_without_one(name: str) -> None:
    """The same body, with and without a wait: the same status, error, usage and image bytes, billed alike."""
    def answer(faults: Faults) -> tuple[Any, ...]:
        out: list[Any] = []

        async def body(c: httpx.AsyncClient, state: Any) -> None:
            r = await c.post("/v1/images/generations", content=_BODIES[name],
                             headers={"Content-Type": "application/json"})
            data = r.json()
            images: list[bytes] = []
            if r.status_code == 200:
                images = [base64.b64decode(i["b64_json"]) if "b64_json" in i else (await c.get(i["url"])).content
                          for i in data["data"]]
                data = {k: v for k, v in data.items() if k not in ("created", "data")}
            else:
                data["error"]["message"] = re.sub(r" \(request id: [^)]*\)$", "", data["error"]["message"])
            out.extend([r.status_code, data, images, state.spent_quota, len(state.files)])

        run(body, faults)
        return tuple(out)

    assert answer(Faults(latency=0.01)) == answer(Faults())
