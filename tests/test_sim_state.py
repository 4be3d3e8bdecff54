"""The simulator's per-server state: served files live on disk, not in the process (long offline sessions stay
small); the rate limiter counts on a clock tests can move."""

from __future__ import annotations

import asyncio
import os

import httpx
from _clock import run_virtual

from tokenhot_nb.sim import Faults, SimTransport
from tokenhot_nb.sim._state import SimState


def test_files_are_kept_on_disk_and_read_back_whole() -> None:
    state = SimState()
    names = [state.put_file(bytes([i]) * 50_000, "image/png", "png") for i in range(5)]
    assert len(set(names)) == 5 and len(state.files) == 5
    folder = state.files._dir
    assert folder is not None and sorted(os.listdir(folder)) == sorted(names)
    got = state.files.get(names[2])
    assert got is not None and got.data == bytes([2]) * 50_000 and got.content_type == "image/png"
    assert state.files[names[4]].data[:1] == b"\x04" and names[0] in state.files
    assert state.files.get("missing.png") is None and "missing.png" not in state.files
    assert state.put_file(bytes([2]) * 50_000, "image/png", "png") == names[2]  # same bytes, same name, once
    assert len(os.listdir(folder)) == 5
    del state, got
    import gc

    gc.collect()
    assert not os.path.exists(folder)  # removed with the state


def test_rate_limit_window_runs_on_the_states_clock_and_keeps_no_key() -> None:
    state = SimState()
    t = [0.0]
    state.clock = lambda: t[0]
    for i in range(5):
        t[0] = float(i)
        assert not state.rate_limited("sk-first-key", "m-free", 5, 60.0)
        state.served("sk-first-key", "m-free")
    assert state.rate_limited("sk-first-key", "m-free", 5, 60.0)
    assert not state.rate_limited("sk-other-key", "m-free", 5, 60.0)
    assert not state.rate_limited("sk-first-key", "n-free", 5, 60.0)
    t[0] = 59.5
    assert state.rate_limited("sk-first-key", "m-free", 5, 60.0)
    t[0] = 60.0  # the call made at 0 has left the minute
    assert not state.rate_limited("sk-first-key", "m-free", 5, 60.0)
    assert "sk-first-key" not in repr(state._served)  # a digest is kept, not the key
    state.served("sk-first-key", "m-free")
    assert state.rate_limited("sk-first-key", "m-free", 5, 60.0)
    state.set_faults(Faults())  # a fresh start, as for the fail-first counters
    assert not state.rate_limited("sk-first-key", "m-free", 5, 60.0)


def test_the_free_limit_follows_the_event_loops_clock() -> None:
    """By default the limiter reads the running loop's clock: on tests/_clock.py's virtual loop a minute passes
    at once, through the in-process simulator and a real client."""

    async def go() -> list[int]:
        async with httpx.AsyncClient(transport=SimTransport(), base_url="http://sim") as client:
            async def call() -> int:
                r = await client.post("/v1/chat/completions", headers={"Authorization": "Bearer sk-virtual-1234"},
                                      json={"model": "deepseek-v4.1-flash-free", "messages": [{"role": "user", "content": "hi"}]})
                return r.status_code

            codes = [await call() for _ in range(6)]
            await asyncio.sleep(59)
            codes.append(await call())
            await asyncio.sleep(1.5)
            codes.append(await call())
            return codes

    codes, elapsed = run_virtual(go())
    assert codes == [200] * 5 + [429, 429, 200] and 60 <= elapsed < 61
