"""A thread goes on with the model it was talking to: a follow-up that names no model used to switch to the
session's default in the middle of the conversation, without a word."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _session_support import HeldRecorder, Recorder, make_session

from tokenhot_nb import Session
from tokenhot_nb.errors import InputError


def _sent_to(rec: Recorder) -> tuple[str, str]:
    """(path, model) of the last chat request."""
    last = rec.posts()[-1]
    body = rec.json()
    return last["path"], str(body.get("model", ""))


def test_a_follow_up_goes_on_with_the_threads_model(s: Session, rec: Recorder) -> None:
    s.chat("hi", model="claude-opus-4-6", stream=False)
    first = _sent_to(rec)
    res = s.chat("and then?", stream=False)
    assert res.model == "claude-opus-4-6" and _sent_to(rec) == first
    assert len(rec.json()["messages"]) == 3  # the same conversation, on the same endpoint


def test_naming_a_model_switches_the_thread_and_it_stays_switched(s: Session, rec: Recorder) -> None:
    s.chat("hi", model="claude-opus-4-6", stream=False)
    assert s.chat("now you", model="gpt-5.2", stream=False).model == "gpt-5.2"
    assert s.chat("and again", stream=False).model == "gpt-5.2"


def test_other_threads_new_threads_and_one_offs_take_the_default(s: Session, rec: Recorder) -> None:
    default = s.chat("warm up", thread="plain", stream=False).model
    s.chat("hi", model="claude-opus-4-6", stream=False)
    assert s.chat("elsewhere", thread="other", stream=False).model == default
    assert s.chat("one-off", thread=False, stream=False).model == default
    assert s.chat("fresh start", new_thread=True, stream=False).model == default
    assert s.chat("so?", stream=False).model == default  # the fresh start is the thread's last turn now


def test_a_new_session_goes_on_with_the_conversation_but_the_default_model(tmp_path: Path) -> None:
    """The model is this session's: a re-run notebook's first cell asks the model it asked when recorded."""
    first = make_session(tmp_path, Recorder())
    default = first.chat("hi", thread="study", stream=False).model
    first.chat("and you?", model="claude-opus-4-6", thread="study", stream=False)
    rec = Recorder()
    again = make_session(tmp_path, rec)
    assert again.chat("where were we?", thread="study", stream=False).model == default
    assert len(rec.json()["messages"]) == 5  # the conversation itself goes on


def test_a_notebook_that_switches_model_mid_thread_replays(tmp_path: Path) -> None:
    live = make_session(tmp_path, Recorder())
    said = [live.chat("first", stream=False).text, live.chat("second", model="claude-opus-4-6", stream=False).text,
            live.chat("third", stream=False).text]
    live.close()
    replay = make_session(tmp_path, Recorder(), mode="replay")
    again = [replay.chat("first", stream=False), replay.chat("second", model="claude-opus-4-6", stream=False),
             replay.chat("third", stream=False)]
    assert [r.text for r in again] == said and [r.model for r in again][1:] == ["claude-opus-4-6"] * 2


def test_a_follow_up_recorded_before_threads_kept_their_model_still_replays(tmp_path: Path) -> None:
    """Older versions sent a follow-up naming no model to the default model: their recordings must replay."""
    live = make_session(tmp_path, Recorder())
    live.chat("hi", model="gpt-5", stream=False)
    live.threads.get("default").model = None  # what an older version did: the follow-up asks the default
    said = live.chat("more", stream=False)
    live.close()
    assert said.model != "gpt-5"
    replay = make_session(tmp_path, Recorder(), mode="replay")
    replay.chat("hi", model="gpt-5", stream=False)
    again = replay.chat("more", stream=False)
    assert (again.text, again.model) == (said.text, said.model)


def _behind_a_switch(tmp_path: Path, stream: bool, **b: Any) -> tuple[Session, HeldRecorder, list[Any]]:
    """``gather(achat("a", model=claude, thread="t"), achat("b", thread="t", **b))`` on a thread that was talking
    to Gemini, "a" held at its request until "b" waits for its turn: → (session, transport, [a, b] or errors)."""
    gate = HeldRecorder("POST", "/chat")  # holds "a" (chat completions); the warm-up goes to Gemini's own route
    s = make_session(tmp_path, gate)
    s.chat("warm up", model="gemini-2.5-pro", thread="t", stream=False)

    def b_waits() -> None:
        gate.held.wait(60)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            lock = s.threads._turns.get("t")
            if lock is not None and lock._waiters:
                break
            time.sleep(0.001)
        gate.hold.set()

    watcher = threading.Thread(target=b_waits, daemon=True)
    watcher.start()

    async def cell() -> list[Any]:
        return await asyncio.gather(s.achat("a", model="claude-opus-4-6", thread="t", stream=stream),
                                    s.achat("b", thread="t", stream=stream, **b), return_exceptions=True)

    try:
        said = asyncio.run(cell())
    finally:
        gate.hold.set()
        watcher.join()
    return s, gate, said


@pytest.mark.parametrize("stream", [False, True])
def test_a_follow_up_waiting_for_its_turn_takes_the_model_of_the_turn_before_it(tmp_path: Path, stream: bool) -> None:
    """``gather(achat("a", model=X, thread="t"), achat("b", thread="t"))``: "b" waited for "a"'s turn and was sent
    with "a" in its context, but to the model the thread had before "a" (picked before it waited)."""
    s, gate, (a, b) = _behind_a_switch(tmp_path, stream)
    try:
        assert a.model == b.model == "claude-opus-4-6"
        last = gate.posts()[-1]
        assert last["path"] == "/v1/chat/completions"
        body = json.loads(last["body"])
        assert body["model"] == "claude-opus-4-6"
        assert [m["content"] for m in body["messages"]][-3:] == ["a", a.text, "b"]
        assert s.chat("c", thread="t", stream=False).model == "claude-opus-4-6"
    finally:
        s.close()


def test_a_follow_up_refused_after_its_turn_came_records_the_model_it_was_refused_for(tmp_path: Path) -> None:
    s, _gate, (a, b) = _behind_a_switch(tmp_path, False, max_tokens=-1)
    try:
        assert a.model == "claude-opus-4-6" and isinstance(b, InputError)
        refused = s.history[-1]
        assert refused.status == "error" and refused.params["message"] == "b"
        assert refused.model == "claude-opus-4-6"
    finally:
        s.close()
