"""A thread goes on with the model it was talking to: a follow-up that names no model used to switch to the
session's default in the middle of the conversation, without a word."""

from __future__ import annotations

from pathlib import Path

from _session_support import Recorder, make_session

from tokenhot_nb import Session


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
