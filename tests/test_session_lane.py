"""``Session.chat(stream=False)`` from sync code runs on the caller's thread (the client's blocking lane), with
the same request, row and thread as the awaited call; what streams still goes through the background loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb import Session
from tokenhot_nb.errors import AuthenticationError, BudgetExceededError
from tokenhot_nb.families._types import ChatDelta
from tokenhot_nb.sim import Faults, Server

pytestmark = pytest.mark.usefixtures("direct")
KEY = "sk-lane-session-abcdefghijkl"


@pytest.fixture
def live(tmp_path: Path, sim_server: Server) -> Iterator[Session]:
    s = Session(api_key=KEY, base_url=sim_server.url, mode="live", store=tmp_path / "st", max_retries=0)
    s.models()  # the price table read up front, so the calls below are only chat requests
    yield s
    sim_server.set_faults(Faults())
    s.close()


def _row(s: Session, entry_id: int) -> dict[str, Any]:
    e = s.store.get(entry_id)
    return {"status": e.status, "endpoint": e.endpoint, "model": e.model, "params": e.params,
            "request": e.request, "usage": e.usage, "replay_key": e.replay_key, "text": e.text,
            "outputs": [sorted(o) for o in e.outputs], "response": sorted(e.response or {})}


def test_a_sync_answer_read_whole_runs_here_and_records_what_the_awaited_call_records(
        live: Session, handed: list[object]) -> None:
    here = live.chat("same question", model="gpt-5.4", stream=False, thread=False)
    assert handed == []
    there = asyncio.run(live.achat("same question", model="gpt-5.4", stream=False, thread=False))
    assert handed, "the awaited call hops to the background loop"
    assert here.text == there.text and here.usage == there.usage
    assert here.entry.status == "ok"
    mine, theirs = _row(live, here.entry.id), _row(live, there.entry.id)
    assert mine == theirs


def test_a_thread_carries_across_lane_and_streamed_turns(live: Session, handed: list[object]) -> None:
    live.chat("my name is Ada", stream=False)
    assert handed == []
    deltas: list[tuple[str, str]] = []
    streamed = live.chat("and what is it?", on_delta=lambda d, text: deltas.append(
        (threading.current_thread().name, text)))
    assert handed, "a streamed call runs on the background loop"
    assert deltas and all(name == threading.current_thread().name for name, _ in deltas)  # shown in the cell
    handed.clear()
    third = live.chat("once more", stream=False)
    assert handed == []
    sent = third.entry.wire_request()["json"]["messages"]  # what went over the wire, rebuilt from the rows
    assert [m["content"] for m in sent if m["role"] == "user"] == ["my name is Ada", "and what is it?",
                                                                       "once more"]
    assert [m["content"] for m in sent if m["role"] == "assistant"][-1] == streamed.text


def test_a_model_that_always_streams_hops_even_when_asked_not_to(live: Session, handed: list[object]) -> None:
    res = live.chat("stream me", model="gemini-3.1-pro-preview(流式)", stream=False, thread=False)
    assert res.entry.status == "ok" and res.text
    assert handed, "its stall watchdog needs the background loop"


def test_an_error_in_the_lane_is_one_line_and_recorded(live: Session, sim_server: Server,
                                                        handed: list[object]) -> None:
    sim_server.set_faults(Faults(fail_first={401: 1}))
    with pytest.raises(AuthenticationError) as info:
        live.chat("refused", stream=False, thread=False)
    assert handed == []
    assert KEY not in str(info.value) and "\n" not in info.value.message
    last = live.history[-1]
    assert last.status == "error" and last.kind == "chat"


def test_an_interrupt_from_a_callback_ends_the_row_and_the_next_call_works(live: Session) -> None:
    def stop(delta: ChatDelta, text: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        live.chat("interrupt me", stream=False, thread=False, on_delta=stop)
    last = live.history[-1]
    assert last.status == "interrupted" and last.prompt == "interrupt me"
    assert live.chat("again", stream=False, thread=False).entry.status == "ok"


def test_inside_a_running_loop_like_a_notebook_cell(live: Session, handed: list[object]) -> None:
    async def cell() -> tuple[str, bool]:
        outer = asyncio.get_running_loop()
        res = live.chat("from a cell", stream=False, thread=False)
        return res.text, asyncio.get_running_loop() is outer

    text, same = asyncio.run(cell())
    assert "from a cell" in text and same
    assert handed == []


def test_a_budget_refuses_in_the_lane_before_any_request(live: Session) -> None:
    live.chat("priced", stream=False, thread=False)
    live.set_budget(0.0000001)
    before = len(live.history)
    with pytest.raises(BudgetExceededError):
        live.chat("over budget", stream=False, thread=False)
    after = live.history
    assert len(after) == before + 1 and after[-1].status == "error"  # refused, recorded, not sent
    assert after[-1].response in (None, {}) or "request_id" not in (after[-1].response or {})


def test_ctrl_c_while_the_lane_waits_for_the_answer(tmp_path: Path, sim_server: Server) -> None:
    """SIGINT to the main thread (a kernel interrupt) while it blocks on the socket: the call stops at once, its
    row ends (not left "running"), and the next call works. In a subprocess, to own its signal handlers."""
    import subprocess
    import sys
    import textwrap

    code = f"""
        import json, signal, threading, time
        from tokenhot_nb import Session
        signal.signal(signal.SIGINT, signal.default_int_handler)
        s = Session(api_key="{KEY}", base_url="{sim_server.url}", mode="live", store={str(tmp_path / "st")!r})
        s.models()
        main = threading.main_thread().ident
        threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT)).start()
        start = time.monotonic()
        try:
            s.chat("slow", stream=False, thread=False, headers={{"X-Sim-Faults": json.dumps({{"latency": 5}})}})
        except KeyboardInterrupt:
            print("interrupted", time.monotonic() - start < 3)
        last = s.history[-1]
        print(last.prompt, last.status)
        print(s.chat("next", stream=False, thread=False).entry.status)
        s.close()
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "interrupted True"
    prompt, status = lines[1].split()
    assert prompt == "slow" and status == "interrupted"
    assert lines[2] == "ok"


def test_a_read_timeout_in_the_lane_is_the_settings_own(tmp_path: Path, sim_server: Server,
                                                        handed: list[object]) -> None:
    """The sync transport enforces the session's read timeout on the blocked socket, as the async one does."""
    import json
    import time

    from tokenhot_nb.errors import APITimeoutError

    s = Session(api_key=KEY, base_url=sim_server.url, mode="live", store=tmp_path / "st", max_retries=0,
                read_timeout=0.3)
    try:
        s.models()
        handed.clear()
        start = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            s.chat("slow", stream=False, thread=False, headers={"X-Sim-Faults": json.dumps({"latency": 1.5})})
        assert time.monotonic() - start < 1.2
        assert handed == [] and KEY not in str(info.value)
        assert s.history[-1].status == "error"
    finally:
        s.close()


def test_two_threads_that_both_need_the_price_table_wait_for_one_read(tmp_path: Path, sim_server: Server,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A panel's worker thread and the cell calling at once before the price table was read: each call runs in the
    blocking lane on its own thread's loop, and the second waited on an ``asyncio.Lock`` that the first released
    from another loop: it hung for good (or failed, "… is bound to a different event loop"). Now it waits for the
    one read, whichever loop or thread it runs on."""
    from tokenhot_nb import _catalog_live

    s = Session(api_key=KEY, base_url=sim_server.url, mode="live", store=tmp_path / "st", max_retries=0)
    fetch = _catalog_live.fetch
    reads: list[str] = []
    reading, go = threading.Event(), threading.Event()

    async def held(*args: Any, **kwargs: Any) -> Any:
        reads.append(threading.current_thread().name)
        reading.set()
        go.wait(60)  # (blocks this thread's own loop, as the lane's blocking I/O does)
        return await fetch(*args, **kwargs)

    monkeypatch.setattr(_catalog_live, "fetch", held)
    done: dict[str, Any] = {}

    def ask(name: str) -> None:
        try:
            done[name] = s.chat(f"hello from {name}", stream=False, thread=False).text
        except BaseException as exc:  # (said by the assertion below)
            done[name] = exc

    first = threading.Thread(target=ask, args=("panel",), name="panel", daemon=True)
    first.start()
    assert reading.wait(60)
    second = threading.Thread(target=ask, args=("cell",), name="cell", daemon=True)
    second.start()
    while not any(getattr(lock, "_waiters", None) for lock in (s.spending.price_lock, s.catalog._reading)):
        assert second.is_alive(), done  # (until the second call waits for the read)
        time.sleep(0.001)
    go.set()
    first.join(60)
    second.join(60)
    try:
        assert not first.is_alive() and not second.is_alive(), "a call waiting for the price table never woke"
        assert all(isinstance(done.get(n), str) and "hello from" in done[n] for n in ("panel", "cell")), done
        assert reads == ["panel"]  # read once, by the first
    finally:
        s.close()
