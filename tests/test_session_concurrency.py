"""One session used at once from several tasks and threads (a panel's worker thread and the cell, ``asyncio.gather``
of follow-ups): each conversation goes on one turn at a time, and what was sent is what the history links."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _session_support import HeldRecorder, make_session

from tokenhot_nb import Session
from tokenhot_nb._threads import conversation


@pytest.fixture
def gate() -> HeldRecorder:
    """Holds the first chat request until ``gate.hold`` is set, so a second call is made while the first is in flight."""
    return HeldRecorder("POST", "/chat")


@pytest.fixture
def gs(tmp_path: Path, gate: HeldRecorder) -> Iterator[Session]:
    s = make_session(tmp_path / "store", gate)
    s.models()  # (the price table read first: the gate holds chat requests only)
    yield s
    s.close()


def _open_when_the_second_waits(s: Session, gate: HeldRecorder, name: str) -> threading.Thread:
    """Let the first request go once the second call sent its own request (it did not wait for the first turn), or
    waits for the first turn to end: the two calls overlap, whatever the machine's speed."""
    def watch() -> None:
        gate.held.wait(60)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            lock = getattr(s.threads, "_turns", {}).get(name)
            if gate.posts("/chat") or (lock is not None and lock._waiters):
                break
            time.sleep(0.001)
        gate.hold.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def _contents(body: bytes) -> list[str]:
    return [m["content"] for m in json.loads(body)["messages"]]


def _check_one_conversation(s: Session, gate: HeldRecorder, name: str) -> None:
    first, second = (e for e in s.history if e.kind == "chat")
    assert first.status == second.status == "ok"
    # the later turn was sent with the earlier one, and its row links to it
    asked = {tuple(_contents(p["body"]))[-1]: _contents(p["body"]) for p in gate.posts("/chat")}
    assert asked[second.params["message"]] == [first.params["message"], first.result().text,
                                               second.params["message"]]
    assert asked[first.params["message"]] == [first.params["message"]]
    assert second.parent == first.id
    # the thread and the history hold the same conversation (a restart, an export rebuild it from the links)
    assert s.threads.get(name).messages == conversation(s.store, second.id)


def test_two_follow_ups_awaited_at_once_go_one_after_the_other(gs: Session, gate: HeldRecorder) -> None:
    """``asyncio.gather(s.achat("one"), s.achat("two"))`` sent both with the thread as it was before either: "two"
    never saw "one", the thread then held both turns, and the history linked "two" to the turn before "one" (an
    export or a restart rebuilt another conversation than the one sent)."""
    watcher = _open_when_the_second_waits(gs, gate, "study")

    async def cell() -> Any:
        return await asyncio.gather(gs.achat("one", thread="study"), gs.achat("two", thread="study"))

    asyncio.run(cell())
    watcher.join()
    _check_one_conversation(gs, gate, "study")


def test_a_worker_thread_and_the_cell_on_one_conversation_go_one_after_the_other(gs: Session, gate: HeldRecorder) -> None:
    watcher = _open_when_the_second_waits(gs, gate, "default")
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(gs.chat("one")), daemon=True)
    worker.start()
    assert gate.held.wait(60)
    gs.chat("two", stream=False)
    worker.join(60)
    watcher.join()
    assert done and not worker.is_alive()
    _check_one_conversation(gs, gate, "default")


def test_a_sync_follow_up_in_a_cell_whose_loop_awaits_a_turn_waits_for_it_without_hanging(gs: Session,
                                                                                           gate: HeldRecorder) -> None:
    """A turn left running as a task of the cell's loop (``asyncio.ensure_future(s.achat(…))``), then a sync follow-up
    in the next cell: that call blocks the loop, so a turn that could end only once the loop runs again would keep
    it waiting for ever. The turn ends where its work runs; the follow-up then goes on from it."""
    watcher = _open_when_the_second_waits(gs, gate, "default")

    def cells() -> None:
        async def run() -> None:
            first = asyncio.ensure_future(gs.achat("one"))
            await asyncio.to_thread(gate.held.wait, 60)
            gs.chat("two", stream=False)  # (sync: this loop is blocked until it returns)
            await first

        asyncio.run(run())

    runner = threading.Thread(target=cells, daemon=True)
    runner.start()
    runner.join(60)
    watcher.join()
    assert not runner.is_alive(), "the sync follow-up waited for ever for the awaited turn"
    _check_one_conversation(gs, gate, "default")


def test_a_call_made_from_a_turn_s_on_delta_does_not_wait_for_that_turn(s: Session) -> None:
    """An awaited turn's ``on_delta`` that asks in the same conversation (a sync call: it blocks the cell's loop) is
    part of that turn: waiting for the turn to end would wait for ever, as the turn ends on that loop."""
    said: list[str] = []

    def on_delta(_delta: Any, _text: str) -> None:
        if not said:
            said.append(s.chat("and a footnote", thread="notes", stream=False).text)

    def cell() -> None:
        asyncio.run(s.achat("a note", thread="notes", on_delta=on_delta))

    runner = threading.Thread(target=cell, daemon=True)
    runner.start()
    runner.join(60)
    assert not runner.is_alive(), "the call made from on_delta waited for the turn it was made from"
    assert said and "footnote" in said[0]
    assert [e.status for e in s.history] == ["ok", "ok"]


def test_ctrl_c_while_a_call_waits_for_its_conversation_s_turn_says_nothing_was_sent(gs: Session,
                                                                                      gate: HeldRecorder) -> None:
    """The cell's follow-up waits while a worker thread's turn of the same conversation is answered; a Ctrl-C then was
    a bare ``KeyboardInterrupt`` that said nothing. It says nothing was sent; the worker's turn ends as it would
    have, and the next follow-up goes on from it."""
    from _session_support import interrupted_when

    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(gs.chat("one")), daemon=True)
    worker.start()
    assert gate.held.wait(60)
    waiting = lambda: bool(getattr(gs.threads, "_turns", {}).get("default") and gs.threads._turns["default"]._waiters)  # noqa: E731
    with pytest.raises(KeyboardInterrupt) as info:
        interrupted_when(waiting, lambda: gs.chat("two", stream=False))
    assert str(info.value) == "Stopped before the call was sent: nothing is charged, and no history row was made."
    gate.hold.set()
    worker.join(60)
    assert done and not worker.is_alive()
    three = gs.chat("three", stream=False)
    rows = list(gs.history)
    assert [(r.params["message"], r.status) for r in rows] == [("one", "ok"), ("three", "ok")]
    assert rows[1].parent == rows[0].id and three.text
