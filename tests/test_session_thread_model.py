"""A thread goes on with the model it was talking to: a follow-up that names no model used to switch to the
session's default in the middle of the conversation, without a word."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import Session
from tokenhot_nb.errors import UnknownModelError


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


def test_the_model_survives_a_restart(tmp_path: Path) -> None:
    make_session(tmp_path, Recorder()).chat("hi", model="claude-opus-4-6", thread="study", stream=False)
    again = make_session(tmp_path, Recorder())
    assert again.chat("where were we?", thread="study", stream=False).model == "claude-opus-4-6"


def test_a_model_only_the_price_table_knows_survives_a_restart(tmp_path: Path) -> None:
    make_session(tmp_path, Recorder()).chat("hi", model="deepseek-v4-pro", thread="study", stream=False)
    rec = Recorder()
    again = make_session(tmp_path, rec)
    assert again.chat("where were we?", thread="study", stream=False).model == "deepseek-v4-pro"
    assert rec.json()["model"] == "deepseek-v4-pro"


def test_a_thread_whose_model_is_gone_says_which_thread_and_how_to_go_on(tmp_path: Path) -> None:
    make_session(tmp_path, Recorder()).chat("hi", model="claude-opus-4-6", thread="study", stream=False)
    with sqlite3.connect(tmp_path / "history.sqlite") as db:  # the catalogue no longer sells it
        db.execute("UPDATE entries SET params = json_set(params, '$.model', 'retired-chat-1')")
    again = make_session(tmp_path, Recorder())
    with pytest.raises(UnknownModelError) as info:
        again.chat("where were we?", thread="study", stream=False)
    assert "Thread 'study' was talking to it: pass model=" in str(info.value)
    assert again.chat("hello", model="gpt-5.2", thread="study", stream=False).model == "gpt-5.2"
