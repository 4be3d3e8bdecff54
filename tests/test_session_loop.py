"""What Ctrl-C in a cell says: which history rows it ended and where what was kept is (it used to be a bare
``KeyboardInterrupt`` with no message, for every kind of call but video)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from _session_support import interrupted_when

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
        interrupted_when(lambda: rec.in_flight >= 1, lambda: s.image("a cat"))
    row = _settled(s)
    assert row.status == "interrupted"
    said = str(info.value)
    assert said.startswith(f"Stopped: the image call is recorded as interrupted in history #{row.id}")
    # the request was sent: the server does not know it was stopped, and may still make (and bill) the image
    assert "nothing had come back" not in said and "may already have reached the server" in said
    assert "charge" in said and "session.balance()" in said and "before asking again" in said
    # the row's error says it in the same words (it was a bare "CancelledError" with no message)
    assert row.error == {"error": "KeyboardInterrupt", "message": said, "hint": ""}


def test_a_call_stopped_before_its_request_went_out_says_nothing_is_charged(s: Any, rec: Any,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The row is open, but the request was never handed to the network: then, and only then, nothing is billed."""
    import asyncio

    s.models()
    send = type(s.client).send
    waiting: list[bool] = []

    async def slow_start(self: Any, call: Any) -> Any:
        waiting.append(True)
        await asyncio.sleep(10)
        return await send(self, call)

    monkeypatch.setattr(type(s.client), "send", slow_start)
    with pytest.raises(KeyboardInterrupt) as info:
        interrupted_when(lambda: bool(waiting), lambda: s.image("a cat"))
    row = _settled(s)
    said = str(info.value)
    assert said.startswith(f"Stopped: the image call is recorded as interrupted in history #{row.id}")
    assert "before its request was sent, so nothing is charged" in said and "may" not in said
    assert row.error == {"error": "KeyboardInterrupt", "message": said, "hint": ""}


def test_a_batch_stopped_names_the_rows_it_ended(s: Any, rec: Any) -> None:
    s.models()
    rec.set_faults(Faults(latency=10))
    with pytest.raises(KeyboardInterrupt) as info:
        interrupted_when(lambda: rec.in_flight >= 3, lambda: s.image(["a cat", "a dog", "a fox"], progress=False))
    ids = sorted(e.id for e in s.history)
    assert f"Stopped: 3 calls were ended (history #{ids[0]}…#{ids[-1]}, status interrupted)" in str(info.value)
    assert "may still finish the work and charge for it" in str(info.value)
    assert [e.error for e in s.history] == [{"error": "KeyboardInterrupt", "message": str(info.value), "hint": ""}] * 3


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
            interrupted_when(lambda: rec.in_flight >= 2, lambda: s.image("a cat", progress=False))
    finally:
        other.join()
    mine = max(e.id for e in s.history if e.params.get("prompt") == "a cat")
    said = str(info.value)
    assert said.startswith(f"Stopped: the image call is recorded as interrupted in history #{mine}"), said
    assert f"#{theirs}" not in said
    assert next(e for e in s.history if e.id == theirs).status == "ok"


# -- short tracebacks: a front door's error shows the caller's frames and the front door, not the library's --------
PACKAGE = os.path.dirname(os.path.abspath(__import__("tokenhot_nb").__file__))


def _frames(err: BaseException, tb: Any = None) -> list[str]:
    """The files of the frames a plain-Python traceback of ``err`` prints (its causes' included)."""
    import re
    import traceback

    text = "".join(traceback.format_exception(type(err), err, tb if tb is not None else err.__traceback__))
    return re.findall(r'^  File "([^"]+)"', text, re.MULTILINE)


def _ours(files: list[str]) -> list[str]:
    return [f for f in files if os.path.abspath(f).startswith(PACKAGE)]


def test_an_error_from_a_sync_call_shows_one_frame_of_the_library(s: Any) -> None:
    from tokenhot_nb.errors import UnknownModelError, full_traceback

    with pytest.raises(UnknownModelError) as info:
        s.image("a cat", model="gpt-imag-2")
    files = _frames(info.value)
    assert len(_ours(files)) == 1 and __file__ in files, files
    # the frames cut are kept for debugging: the whole path, from this test into the catalogue lookup
    whole = _frames(info.value, full_traceback(info.value))
    assert whole[0] == __file__ and len(_ours(whole)) > 5
    assert any(f.endswith(os.path.join("_session", "models.py")) for f in whole)
    assert "models.py" in info.value.details() and __file__ in info.value.details()


def test_an_awaited_twin_and_the_constructor_are_short_too(s: Any, tmp_path: Any) -> None:
    import asyncio

    from tokenhot_nb import Session
    from tokenhot_nb.errors import ConfigError, UnknownModelError

    with pytest.raises(UnknownModelError) as info:
        asyncio.run(s.achat("hi", model="gpt-5.9-nope"))
    assert len(_ours(_frames(info.value))) == 1, _frames(info.value)
    with pytest.raises(ConfigError) as config:
        Session(store=tmp_path / "st", mode="offline", catalog_ttl="soon")
    assert len(_ours(_frames(config.value))) == 1, _frames(config.value)


def test_a_video_task_s_wait_and_status_are_short_too(s: Any) -> None:
    """A task handle is a front door of its own (``task.wait()`` is most of a video's time): an error from its
    poll shows the user's line and one frame of the library, as a session call's does."""
    from tokenhot_nb.errors import NotFoundError

    task = s.resume("no-such-task")
    for call in (task.wait, task.status, task.result):
        with pytest.raises(NotFoundError) as info:
            call()
        assert len(_ours(_frames(info.value))) == 1, _frames(info.value)


def test_a_short_traceback_keeps_the_cause(s: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenhot_nb._session import models
    from tokenhot_nb.errors import InputError

    cause = ValueError("the parser said no")

    async def broken(*_: Any) -> Any:
        raise InputError("bad model name") from cause

    monkeypatch.setattr(models, "resolve", broken)
    with pytest.raises(InputError) as info:
        s.embed("hello")
    assert info.value.__cause__ is cause
    own = _frames(info.value)[-len(_ours(_frames(info.value))):]  # (the cause's frames are printed first)
    assert len(_ours(own)) == 1


def test_ctrl_c_in_a_stream_shows_one_frame_of_the_library(s: Any, rec: Any) -> None:
    def stop(delta: ChatDelta, text: str) -> None:
        raise KeyboardInterrupt

    rec.set_faults(Faults(stream_chunks=6, chunk_delay=0.02))
    with pytest.raises(KeyboardInterrupt) as info:
        s.chat("tell me a story", on_delta=stop)
    assert str(info.value).startswith("Stopped")
    assert len(_ours(_frames(info.value))) == 1, _frames(info.value)


def test_an_awaited_stream_stopped_midway_says_the_answer_so_far_is_kept(s: Any, rec: Any) -> None:
    """``await s.achat(…)`` stopped by a Ctrl-C in ``on_delta`` came back before the loop had recorded the stop: it
    said "what had arrived of the answer" from a row still "running" (a sync call's said "the answer so far"), and a
    look at the history right after saw it running. Now the awaited call waits for the record, as the sync one does."""
    import asyncio

    seen: list[str] = []

    def stop(delta: ChatDelta, text: str) -> None:
        seen.append(text)
        if len(seen) == 3:
            raise KeyboardInterrupt

    rec.set_faults(Faults(stream_chunks=12, chunk_delay=0.05))

    async def cell() -> tuple[str, str]:
        try:
            await s.achat("tell me a long story", on_delta=stop)
        except KeyboardInterrupt as exc:
            return str(exc), s.history[-1].status
        return "", ""

    said, status = asyncio.run(cell())
    row = s.history[-1]
    assert status == "interrupted" and row.response.get("partial")
    assert said.startswith(f"Stopped: the answer so far is kept in history #{row.id}"), said


def test_an_awaited_video_create_cancelled_is_recorded_when_the_cancel_arrives(s: Any, rec: Any) -> None:
    """Cancelling the task that awaits ``s.avideo(…)`` left its row "running" for a while after the cancel reached
    the caller (whose next look at the history, or a budget check, saw a call still in flight)."""
    import asyncio

    s.models()
    rec.set_faults(Faults(latency=10))

    async def cell() -> str:
        task = asyncio.ensure_future(s.avideo("a paper boat", progress=False))
        while not rec.posts("/video"):
            await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return s.history[-1].status
        return ""

    assert asyncio.run(cell()) == "interrupted"
    error = s.history[-1].error  # in words, not a bare "CancelledError" with no message
    assert error["error"] == "CancelledError"
    assert error["message"].startswith("Cancelled: the asyncio task awaiting this call was cancelled before the "
                                       "answer came back; the request may already have reached the server.")
    assert "charge" in error["hint"]


def test_an_awaited_call_cancelled_before_its_request_went_out_says_nothing_is_charged(
        s: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    s.models()
    send = type(s.client).send

    async def slow_start(self: Any, call: Any) -> Any:
        await asyncio.sleep(10)
        return await send(self, call)

    monkeypatch.setattr(type(s.client), "send", slow_start)

    async def cell() -> None:
        task = asyncio.ensure_future(s.aimage("a cat"))
        while not any(e.status == "running" for e in s.history):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cell())
    row = s.history[-1]
    assert row.status == "interrupted"
    assert row.error == {"error": "CancelledError", "message": "Cancelled: the asyncio task awaiting this call was "
                         "cancelled before the answer came back; its request was never sent, so nothing is charged.",
                         "hint": ""}


def test_ctrl_c_that_comes_once_the_answer_is_whole_says_where_it_is_kept(s: Any, rec: Any) -> None:
    """``on_delta`` runs on the cell's thread, behind a fast stream: a Ctrl-C while it still showed the answer came
    once the call had finished (its row ``ok``, paid and whole) and was a bare ``KeyboardInterrupt`` saying nothing.
    It now says where the answer is."""
    rec.set_faults(Faults(stream_chunks=6))

    def late(delta: ChatDelta, text: str) -> None:
        for _ in range(500):  # the view is behind: the stream ends meanwhile
            if s.history[-1].status != "running":
                break
            time.sleep(0.01)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        s.chat("tell me a story", on_delta=late, thread=False)
    row = s.history[-1]
    assert row.status == "ok"
    assert str(info.value) == (f"Stopped once the chat call had finished: its result is kept whole in history "
                               f"#{row.id} (session.history.get({row.id}).result()).")


def _said_to_resume(row: Any, how: str = "CancelledError") -> None:
    """A video wait stopped with its task id known: the row (pending: the task runs on, paid for) says how to resume
    it, not "check your balance before asking again", as if no task had been made."""
    task_id = row.response["task_id"]
    assert row.status == "pending" and row.error["error"] == how
    assert task_id in row.error["message"] and f"session.resume({task_id!r})" in row.error["message"]
    assert "before asking again" not in row.error["message"] + row.error["hint"]


def test_an_awaited_video_cancelled_while_it_polls_says_how_to_resume_its_task(s: Any, rec: Any) -> None:
    import asyncio

    s.models()
    rec.set_faults(Faults(video_steps=1000))

    async def cell() -> None:
        task = asyncio.ensure_future(s.avideo("a paper boat", progress=False))
        while len([r for r in rec.requests if r["method"] == "GET" and "/video" in r["path"]]) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cell())
    _said_to_resume(s.history[-1])


def test_a_task_s_awaited_wait_cut_by_a_deadline_says_how_to_resume_it(s: Any, rec: Any) -> None:
    """``await asyncio.wait_for(task.await_(), 5)`` past its deadline left the row's error a bare "CancelledError"
    with no words at all."""
    import asyncio

    s.models()
    rec.set_faults(Faults(video_steps=1000))
    task = s.video("a paper boat", wait=False, progress=False)

    async def cell() -> None:
        async def polled() -> None:
            while len([r for r in rec.requests if r["method"] == "GET" and "/video" in r["path"]]) < 2:
                await asyncio.sleep(0.01)

        waiting = asyncio.ensure_future(task.await_(progress=False))
        await polled()
        waiting.cancel()  # (what wait_for does at its deadline)
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(cell())
    _said_to_resume(s.history[-1])


def test_ctrl_c_in_a_task_s_wait_says_how_to_resume_it_in_its_row_too(s: Any, rec: Any) -> None:
    """``task.wait()`` stopped by Ctrl-C said how to resume, but the task's row (opened by the call that made the task)
    kept a bare "CancelledError" with no words."""
    s.models()
    rec.set_faults(Faults(video_steps=1000))
    task = s.video("a paper boat", wait=False, progress=False)
    with pytest.raises(KeyboardInterrupt) as info:
        interrupted_when(lambda: len([r for r in rec.requests if r["method"] == "GET" and "/video" in r["path"]]) >= 2,
                         lambda: task.wait(progress=False))
    row = s.history[-1]
    _said_to_resume(row, "KeyboardInterrupt")
    assert row.error["message"] == str(info.value)


def test_an_awaited_image_cancelled_while_it_downloads_says_its_links_are_kept(tmp_path: Any) -> None:
    """The answer had come back (paid for) and its links are kept, yet the row said "cancelled before the answer came
    back … check your balance before asking again": a resume fetches the images with no new charge."""
    import asyncio

    import httpx
    from _session_support import Recorder, make_session

    class HeldDownloads(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.downloading, self.go = threading.Event(), threading.Event()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if "/sim/files/" in request.url.path and not self.go.is_set():
                self.downloading.set()
                await asyncio.to_thread(self.go.wait, 60)
            return await super().handle_async_request(request)

    held = HeldDownloads()
    s = make_session(tmp_path / "store", held)
    try:
        async def cell() -> None:
            task = asyncio.ensure_future(s.aimage("a cat"))
            await asyncio.to_thread(held.downloading.wait, 60)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cell())
        held.go.set()
        row = s.history[-1]
        assert row.status == "interrupted" and row.error == {
            "error": "CancelledError", "hint": "",
            "message": f"Cancelled while downloading the images of history #{row.id}. The call is paid for and the "
                       f"links are kept: fetch them with session.resume({row.id}) (no new call, no new charge)."}
        assert len(s.resume(row.id)) == 1 and s.history[-1].status == "ok"
    finally:
        held.go.set()
        s.close()
