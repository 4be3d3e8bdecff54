"""What Ctrl-C in a cell says: which history rows it ended and where what was kept is (it used to be a bare
``KeyboardInterrupt`` with no message, for every kind of call but video)."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from tokenhot_nb.families._types import ChatDelta
from tokenhot_nb.sim import Faults


def test_a_stream_stopped_midway_says_where_the_partial_answer_is(s: Any, rec: Any) -> None:
    seen: list[str] = []

    def stop(delta: ChatDelta, text: str) -> None:
        seen.append(text)
        if len(seen) == 3:
            raise KeyboardInterrupt

    rec.set_faults(Faults(stream_chunks=12, chunk_delay=0.05))
    with pytest.raises(KeyboardInterrupt) as info:
        s.chat("tell me a long story", on_delta=stop)
    row = _settled(s)
    assert row.status == "interrupted" and row.response.get("partial")
    said = str(info.value)  # the row may still be "running" when it is said: either way it names the row
    assert said.startswith("Stopped: ") and f"kept in history #{row.id} (session.history.get({row.id}).text)" in said
    assert "the thread does not include it" in said
    assert s.threads.get("default").messages == []


def test_a_call_stopped_before_its_answer_names_its_row(s: Any, rec: Any) -> None:
    s.models()  # the catalogue is read (once) before the interrupt is timed
    rec.set_faults(Faults(latency=10))
    with pytest.raises(KeyboardInterrupt) as info:
        _interrupted_after(1, lambda: s.image("a cat"))
    row = _settled(s)
    assert row.status == "interrupted"
    assert str(info.value).startswith(f"Stopped: the image call is recorded as interrupted in history #{row.id}")


def test_a_batch_stopped_names_the_rows_it_ended(s: Any, rec: Any) -> None:
    s.models()
    rec.set_faults(Faults(latency=10))
    with pytest.raises(KeyboardInterrupt) as info:
        _interrupted_after(1, lambda: s.image(["a cat", "a dog", "a fox"], progress=False))
    ids = sorted(e.id for e in s.history)
    assert f"Stopped: 3 calls were ended (history #{ids[0]}…#{ids[-1]}, status interrupted)" in str(info.value)


def _interrupted_after(seconds: float, call: Any) -> Any:
    """A real SIGINT to this (the main) thread, as "interrupt kernel" sends, while ``call`` waits."""
    assert threading.current_thread() is threading.main_thread()
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        return call()
    finally:
        timer.cancel()


def _settled(s: Any) -> Any:
    """The newest row once the background loop has finished recording the interrupt."""
    for _ in range(100):
        row = s.history[-1]
        if row.status != "running":
            return row
        time.sleep(0.02)
    return s.history[-1]


def test_ctrl_c_names_only_the_rows_of_the_call_it_stopped(s: Any, rec: Any) -> None:
    """A panel's call running on another thread of the same session is not "ended" by a Ctrl-C in a cell."""
    s.models()
    rec.set_faults(Faults(latency=3))
    other = threading.Thread(target=lambda: s.image("a dog", progress=False))
    other.start()
    for _ in range(200):  # the other call's row is open before the cell's call starts
        if any(e.status == "running" for e in s.history):
            break
        time.sleep(0.01)
    theirs = s.history[-1].id
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            _interrupted_after(1, lambda: s.image("a cat", progress=False))
    finally:
        other.join()
    mine = max(e.id for e in s.history if e.params.get("prompt") == "a cat")
    said = str(info.value)
    assert said.startswith(f"Stopped: the image call is recorded as interrupted in history #{mine}"), said
    assert f"#{theirs}" not in said
    assert next(e for e in s.history if e.id == theirs).status == "ok"
