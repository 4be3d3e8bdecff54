"""Replay re-enacts how the recording's video calls stopped, and only those stops.

A create stopped (Ctrl-C) before its task id came back is the same interrupt in replay, worded the same, and the
create run again in the next cell replays as its own row; a real Ctrl-C of the replay itself uses none of the
recorded stops; a row written before the stops were kept (``response["ends"]``) replays what its status and error
tell, and says in one line what it cannot tell.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder, interrupted_when, make_session

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb._session.loop import REPLAY_STOPPED
from tokenhot_nb.families._types import TaskStatus
from tokenhot_nb.sim import Faults

#: What a Ctrl-C that stopped a video create says once its row is recorded (``loop.stopped_row``; the caller waits
#: for the loop to record it before it says so).
_MAY_HAVE_REACHED = ("; no answer had come back yet, but the request may already have reached the server, which may "
                     "still create the task and charge for it. Look for it in the service's console and check your "
                     "balance (session.balance()) before creating another.")


def test_a_create_stopped_before_its_task_id_replays_as_that_stop_and_the_next_create_as_its_own(
        tmp_path: Path) -> None:
    """It was a miss ("recorded as interrupted: there is no answer to replay"), or, with the create run again in
    the next cell, the first cell replayed that cell's video. Now the first cell raises the KeyboardInterrupt it
    raised (its words), and the next cell gives the video the recording's next cell got; nothing is sent."""
    live = Recorder()
    with make_session(tmp_path / "st", live) as s:
        s.models()  # (the catalogue is read before the interrupt is timed)
        live.set_faults(Faults(latency=10))
        with pytest.raises(KeyboardInterrupt) as info:
            interrupted_when(lambda: live.in_flight >= 1, lambda: s.video("a paper boat", progress=False))
        row = s.history[-1]  # (the stop is recorded before the interrupt reaches the caller)
        assert row.status == "interrupted" and not row.response.get("task_id")
        recorded = str(info.value)  # (said once the row was recorded: with what had come back)
        assert recorded == f"Stopped: the video call is recorded as interrupted in history #{row.id}" + \
            _MAY_HAVE_REACHED
        live.set_faults(Faults())
        video = s.video("a paper boat", progress=False)  # the next cell runs it again

    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        with pytest.raises(KeyboardInterrupt) as info:
            r.video("a paper boat", progress=False)
        assert str(info.value) == recorded
        assert [e.id for e in r.history] == [row.id]  # (the replay is at that row)
        again = r.video("a paper boat", progress=False)
        assert again.sha256 == video.sha256 and again.entry_id == video.entry_id

        r2 = make_session(tmp_path / "st", rec, mode="replay")

        async def awaited() -> Any:
            return await r2.avideo("a paper boat", progress=False)

        try:
            with pytest.raises(KeyboardInterrupt) as info:
                asyncio.run(awaited())
            assert str(info.value) == recorded  # (an awaited create says it too)
        finally:
            r2.close()
    assert rec.requests == []


def test_a_create_stopped_before_its_request_went_out_replays_saying_nothing_is_charged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The recording said "stopped before its request was sent, so nothing is charged": the row keeps that the
    request never went out (``response["sent"]: false``), and the replay says the same, not "may be charged"."""
    live = Recorder()
    with make_session(tmp_path / "st", live) as s:
        s.models()
        send = type(s.client).send
        waiting: list[bool] = []

        async def slow_start(self: Any, call: Any) -> Any:
            waiting.append(True)
            await asyncio.sleep(10)
            return await send(self, call)

        with monkeypatch.context() as m:
            m.setattr(type(s.client), "send", slow_start)
            with pytest.raises(KeyboardInterrupt) as info:
                interrupted_when(lambda: bool(waiting), lambda: s.video("a paper boat", progress=False))
        row = s.history[-1]  # (recorded before the interrupt reached the caller)
        assert row.status == "interrupted" and row.response == {"sent": False}
        recorded = str(info.value)
        assert recorded == (f"Stopped: the video call is recorded as interrupted in history #{row.id}; it was "
                            "stopped before its request was sent, so nothing is charged.")
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r, pytest.raises(KeyboardInterrupt) as info:
        r.video("a paper boat", progress=False)
    assert str(info.value) == recorded and rec.requests == []


def _said(exc: BaseException) -> tuple[str, str, str | None]:
    return type(exc).__name__, str(exc), getattr(exc, "hint", None)


def test_a_real_ctrl_c_of_a_replayed_wait_uses_none_of_the_recorded_stops(tmp_path: Path) -> None:
    """The recording: a wait that timed out, then a wait to the end. The replay's first wait is stopped by a real
    Ctrl-C (the user's, not the recording's) after its first status. It used up the recorded timeout: the wait run
    again played to the end (a video where the recording's cell showed the timeout). Now it goes on from where the
    Ctrl-C stopped it and ends with the recorded timeout, and the next wait gives the video."""
    def cells(s: Session, stop: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"timed out": [], "went on": []}
        task = s.video("a slow dawn", wait=False)
        if stop:  # the user presses Ctrl-C while the first status is shown
            def ctrl_c(st: TaskStatus) -> None:
                out["timed out"].append((st.state, st.progress))
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # (the signal lands here)

            with pytest.raises(KeyboardInterrupt) as stopped:
                task.wait(timeout=0.12, progress=False, on_progress=ctrl_c)
            assert f"Stopped waiting for video task {task.task_id}" in str(stopped.value)
        with pytest.raises(E.APITimeoutError) as info:
            task.wait(timeout=0.12, progress=False, on_progress=lambda st: out["timed out"].append(
                (st.state, st.progress)))
        out["timeout"] = _said(info.value)
        out["video"] = task.wait(progress=False, on_progress=lambda st: out["went on"].append(
            (st.state, st.progress))).sha256
        return out

    with make_session(tmp_path / "st", Recorder(Faults(video_steps=12)), poll_interval=0.05) as s:
        recorded = cells(s, stop=False)
    assert len(recorded["timed out"]) >= 2 and recorded["went on"][-1][0] == "succeeded"
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay", poll_interval=30) as r:
        replayed = cells(r, stop=True)
    assert replayed == recorded and rec.requests == []


def test_a_ctrl_c_of_a_replayed_wait_at_the_status_the_recording_was_stopped_at_is_that_stop(
        tmp_path: Path) -> None:
    """An on_progress that stops the wait at the same status in the recording and in its replay: the replay's stop
    is the recording's (its recorded interrupt is used), so the next wait goes on to the video as it did, rather
    than stopping again at once."""
    def cells(s: Session) -> dict[str, Any]:
        out: dict[str, Any] = {"stopped": [], "went on": []}
        task = s.video("a slow noon", wait=False)

        def stop(st: TaskStatus) -> None:
            out["stopped"].append((st.state, st.progress))
            if len(out["stopped"]) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt) as info:
            task.wait(progress=False, on_progress=stop)
        out["interrupt"] = str(info.value)
        out["video"] = task.wait(progress=False, on_progress=lambda st: out["went on"].append(
            (st.state, st.progress))).sha256
        return out

    with make_session(tmp_path / "st", Recorder(Faults(video_steps=12)), poll_interval=0.05) as s:
        recorded = cells(s)
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        replayed = cells(r)
    assert recorded["went on"][-1][0] == "succeeded" and replayed == recorded and rec.requests == []


def _old_row(root: Path, entry_id: int, response: dict[str, Any], status: str, error: dict[str, Any] | None) -> None:
    """Rewrite a video row as a version before ``response["ends"]`` wrote it (straight into the database)."""
    with closing(sqlite3.connect(root / "history.sqlite", isolation_level=None)) as c:
        c.execute("UPDATE entries SET response=?, status=?, error=? WHERE id=?",
                  (json.dumps(response), status, json.dumps(error) if error is not None else None, entry_id))


def test_an_old_row_left_pending_by_a_timeout_replays_that_timeout(tmp_path: Path) -> None:
    """An older version kept a wait's stop only as the row's error (the row left pending). Its replay played
    every status and then said the recording "never finished" the task; the recording's cell showed the timeout.
    Now the error is taken as the last wait's end, after the last status: the same statuses, the same timeout."""
    seen: list[tuple[str, int]] = []
    with make_session(tmp_path / "st", Recorder(Faults(video_steps=12)), poll_interval=0.05,
                      video_deadline=0.12) as s:
        with pytest.raises(E.APITimeoutError) as info:
            s.video("a slow dusk", progress=False, on_progress=lambda st: seen.append((st.state, st.progress)))
        row = s.history[-1]
    recorded = _said(info.value)
    assert row.status == "pending" and row.response["ends"] and seen
    old = {"task_id": row.response["task_id"], "request_id": row.response.get("request_id"),
           "status": row.response["status"], "states": row.response["states"]}  # (no "ends")
    _old_row(tmp_path / "st", row.id, old, "pending", row.error)

    again: list[tuple[str, int]] = []
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        with pytest.raises(E.APITimeoutError) as info:
            r.video("a slow dusk", progress=False, on_progress=lambda st: again.append((st.state, st.progress)))
        assert _said(info.value) == recorded and again == seen
        with pytest.raises(E.TokenhotError, match="never finished"):  # (nothing more was recorded of it)
            r.resume(row.response["task_id"]).wait(progress=False)
    assert rec.requests == []


def test_an_old_row_left_pending_by_a_ctrl_c_replays_that_interrupt(tmp_path: Path) -> None:
    """The same for an interrupted wait: the older row's error is the cancel's (``CancelledError``); the replay
    raises the KeyboardInterrupt naming the task and how to resume it, as the recording's did."""
    with make_session(tmp_path / "st", Recorder(Faults(video_steps=12)), poll_interval=0.05) as s:
        task = s.video("a slow noon", wait=False)

        def stop(st: TaskStatus) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt) as info:
            task.wait(progress=False, on_progress=stop)
        recorded = str(info.value)
        row = s.history.get(task.entry_id)
        for _ in range(250):
            if row.response.get("ends"):
                break
            time.sleep(0.02)
            row = s.history.get(task.entry_id)
    old = {"task_id": task.task_id, "status": row.response["status"], "states": row.response["states"]}
    _old_row(tmp_path / "st", row.id, old, "pending", {"error": "CancelledError", "message": "", "hint": ""})
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        replayed = r.video("a slow noon", wait=False)
        with pytest.raises(KeyboardInterrupt) as info:
            replayed.wait(progress=False)
    assert str(info.value) == recorded and "resume(" in recorded and rec.requests == []


def test_an_old_finished_row_says_in_one_line_that_it_cannot_tell_where_a_wait_stopped(tmp_path: Path) -> None:
    """A finished row of an older version kept no trace of a wait that timed out before the one that finished it
    (the finish cleared the error): its replay played to the end with no word. It still does (the statuses and
    the video are what the row has), and says so in one line; a row of this version, with no stop, says nothing."""
    with make_session(tmp_path / "st", Recorder(Faults(video_steps=12)), poll_interval=0.05) as s:
        task = s.video("a slow dawn", wait=False)
        with pytest.raises(E.APITimeoutError):
            task.wait(timeout=0.12, progress=False)
        video = task.wait(progress=False)
        fresh = s.video("a quick fox", progress=False)
        row = s.history.get(task.entry_id)
    assert row.response["ends"] and fresh.entry is not None and fresh.entry.response["ends"] == []
    old = {k: v for k, v in row.response.items() if k != "ends"}
    _old_row(tmp_path / "st", row.id, old, "ok", None)
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        with pytest.warns(UserWarning) as said:
            replayed = r.video("a slow dawn", wait=False)
        lines = [str(w.message) for w in said]
        assert len(lines) == 1 and "\n" not in lines[0] and f"history #{row.id}" in lines[0]
        assert "cannot be told apart" in lines[0] and "plays the task to its end" in lines[0]
        assert replayed.wait(timeout=0.12, progress=False).sha256 == video.sha256
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert r.video("a quick fox", progress=False).sha256 == fresh.sha256
    assert rec.requests == []


def test_a_replayed_wait_ended_by_its_recorded_timeout_is_not_named_by_the_next_calls_interrupt(
        tmp_path: Path) -> None:
    """A replayed wait that ends with the recording's timeout is over: a Ctrl-C of the next call, a moment later,
    says what that call kept, not "stopped waiting for video task …" of the finished wait."""
    from tokenhot_nb._session.loop import interrupt_message

    with make_session(tmp_path / "st", Recorder(Faults(video_steps=12)), poll_interval=0.05,
                      video_deadline=0.12) as s:
        with pytest.raises(E.APITimeoutError):
            s.video("a slow dusk", progress=False)
        task_id = s.history[-1].response["task_id"]
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        since = time.time()
        with pytest.raises(E.APITimeoutError):
            r.video("a slow dusk", progress=False)
        assert task_id not in r.replay_waits
        said = interrupt_message(r, KeyboardInterrupt(), None, since, rows=[])
        assert task_id not in said


def test_a_video_compare_stopped_mid_create_replays_with_the_words_the_recording_said(tmp_path: Path) -> None:
    """A compare of video models stopped before any task id came back said "Stopped: 2 calls were ended (…)"; its
    replay said the one-call words of its first row ("the video call is recorded as interrupted in history #1…"),
    naming one row of the two. Now it says what the recording said, and the compare run again replays as its own."""
    models = ["doubao-seedance-2.0", "kling-v3"]
    live = Recorder()
    with make_session(tmp_path / "st", live) as s:
        s.models()
        live.set_faults(Faults(latency=10))
        with pytest.raises(KeyboardInterrupt) as info:
            interrupted_when(lambda: live.in_flight >= 2,
                             lambda: s.compare("a paper boat", models=models, kind="video", progress=False))
        recorded = str(info.value)
        assert recorded.startswith("Stopped: 2 calls were ended (history #1…#2, status interrupted)"), recorded
        live.set_faults(Faults())
        again = s.compare("a paper boat", models=models, kind="video", progress=False)

    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        with pytest.raises(KeyboardInterrupt) as info:
            r.compare("a paper boat", models=models, kind="video", progress=False)
        assert str(info.value) == recorded
        replayed = r.compare("a paper boat", models=models, kind="video", progress=False)
        assert [v.sha256 for v in replayed.results.values()] == [v.sha256 for v in again.results.values()]
    assert rec.requests == []


def test_a_video_compare_stopped_mid_create_with_a_model_refused_replays_naming_it_as_recorded(
        tmp_path: Path) -> None:
    """A compare stopped by Ctrl-C names the rows it kept, a model refused before sending among them (MiniMax
    takes no ratio); its replay, which works its words out from the stopped creates' rows, named none of them."""
    models = ["doubao-seedance-2.0", "kling-v3", "MiniMax-Hailuo-02"]
    live = Recorder()
    with make_session(tmp_path / "st", live) as s:
        s.models()
        live.set_faults(Faults(latency=10))
        with pytest.raises(KeyboardInterrupt) as info:
            interrupted_when(lambda: live.in_flight >= 2, lambda: s.compare(
                "a paper boat", models=models, kind="video", ratio="16:9", progress=False))
        recorded = str(info.value)
        refused = s.history[-1]
        assert (refused.model, refused.status, refused.cost.detail) == (models[2], "error", "refused before sending")
        assert f"kept, each with its result or error (history #{refused.id})." in recorded, recorded
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        with pytest.raises(KeyboardInterrupt) as info:
            r.compare("a paper boat", models=models, kind="video", ratio="16:9", progress=False)
        assert str(info.value) == recorded


def test_an_awaited_create_cancelled_before_its_task_id_replays_as_that_cancel(tmp_path: Path) -> None:
    """Cancelling the task that awaits ``s.avideo(…)`` raised ``CancelledError`` in the recording; its replay raised a
    KeyboardInterrupt ("Stopped: …") the recording never showed. Now the replay is the same cancel, and the create run
    again in the next cell replays as its own."""
    live = Recorder()

    async def cancelled(s: Session, posts: Recorder | None) -> None:
        task = asyncio.ensure_future(s.avideo("a paper boat", progress=False))
        while posts is not None and not posts.posts("/video"):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        if posts is not None:
            task.cancel()
        await task

    with make_session(tmp_path / "st", live) as s:
        s.models()
        live.set_faults(Faults(latency=10))
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(cancelled(s, live))
        assert s.history[-1].status == "interrupted"
        live.set_faults(Faults())
        video = s.video("a paper boat", progress=False)

    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(cancelled(r, None))
        again = r.video("a paper boat", progress=False)
        assert again.sha256 == video.sha256 and again.entry_id == video.entry_id
    with make_session(tmp_path / "st", rec, mode="replay") as r:  # sync: a stop in words, not a bare CancelledError
        with pytest.raises(KeyboardInterrupt) as info:
            r.video("a paper boat", progress=False)
        assert str(info.value).startswith("Stopped as in the recording: the asyncio task awaiting this video call "
                                          "(history #")
    assert rec.requests == []


def test_a_chat_stopped_mid_answer_replays_as_that_stop_in_its_words(tmp_path: Path) -> None:
    """The recording's cell raised "Stopped: the answer so far is kept in history #N …"; its replay raised a
    ReplayMissError (before that, "never recorded" when other chats were answered). It is now the same stop."""
    from tokenhot_nb.families._types import ChatDelta

    with make_session(tmp_path / "st", Recorder(Faults(stream_chunks=12, chunk_delay=0.05))) as s:
        s.chat("hi", thread=False)

        def stop(delta: ChatDelta, so_far: str) -> None:
            if so_far:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt) as info:
            s.chat("Tell me about the sea", thread=False, on_delta=stop)
        recorded = str(info.value)
        assert recorded.startswith("Stopped: the answer so far is kept in history #2"), recorded
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        assert r.chat("hi", thread=False).text
        with pytest.raises(KeyboardInterrupt) as info:
            r.chat("Tell me about the sea", thread=False)
        assert str(info.value) == recorded
    assert rec.requests == []


def test_a_video_compare_whose_one_create_a_ctrl_c_ended_replays_the_batchs_words_as_recorded(
        tmp_path: Path) -> None:
    """The other model was refused before sending (MiniMax takes no ratio), so the stop ended one create: it says the
    batch's words (that call, and the row kept), and its replay, which works its words out from the create's row,
    must say the same, not the one-call words."""
    models = ["doubao-seedance-2.0", "MiniMax-Hailuo-02"]
    live = Recorder()
    with make_session(tmp_path / "st", live) as s:
        s.models()
        live.set_faults(Faults(latency=10))
        with pytest.raises(KeyboardInterrupt) as info:
            interrupted_when(lambda: live.in_flight >= 1, lambda: s.compare(
                "a paper boat", models=models, kind="video", ratio="16:9", progress=False))
        recorded = str(info.value)
        refused = s.history[-1]
        assert refused.model == models[1] and refused.status == "error"
        assert recorded.startswith("Stopped: 1 call was ended (history #1, status interrupted); the calls that had "
                                   f"ended are kept, each with its result or error (history #{refused.id})."), recorded
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        with pytest.raises(KeyboardInterrupt) as info:
            r.compare("a paper boat", models=models, kind="video", ratio="16:9", progress=False)
        assert str(info.value) == recorded


def test_a_batch_stopped_replays_as_that_stop_and_leaves_the_loop_running(tmp_path: Path) -> None:
    """A list of prompts stopped by Ctrl-C said "Stopped: 2 calls were ended (…)"; its replay returned a batch of
    misses instead. Re-enacting it on the loop must not stop the loop (a KeyboardInterrupt raised there would)."""
    prompts = [f"a cat number {i}" for i in range(6)]
    live = Recorder()
    with make_session(tmp_path / "st", live) as s:
        first = s.image("a dog")
        live.set_faults(Faults(latency=10))
        with pytest.raises(KeyboardInterrupt) as info:
            interrupted_when(lambda: live.in_flight >= 2, lambda: s.image(prompts, concurrency=2, progress=False))
        recorded = str(info.value)
        assert recorded.startswith("Stopped: 2 calls were ended"), recorded
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        with pytest.raises(KeyboardInterrupt) as info:
            r.image(prompts, concurrency=2, progress=False)
        assert str(info.value) == recorded
        again = r.image("a dog")  # the loop still runs: the next replayed call answers
        assert again.entry_id == first.entry_id
    assert rec.requests == []


def test_an_awaited_chat_cancelled_replays_as_that_cancel(tmp_path: Path) -> None:
    live = Recorder()

    async def cell(s: Session, cancel: bool) -> None:
        task = asyncio.ensure_future(s.achat("Tell me about the sea", thread=False, stream=False))
        while cancel and not live.posts("/chat"):
            await asyncio.sleep(0.01)
        if cancel:
            await asyncio.sleep(0.05)
            task.cancel()
        await task

    with make_session(tmp_path / "st", live) as s:
        s.models()
        live.set_faults(Faults(latency=10))
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(cell(s, True))
        assert s.history[-1].status == "interrupted"
        row = s.history[-1].id
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r, pytest.raises(asyncio.CancelledError):
        asyncio.run(cell(r, False))
    # called sync, it raised a bare concurrent.futures.CancelledError from inside the library; it is a stop that says
    # what the recording's call was (a sync call has no awaiting task to cancel)
    with make_session(tmp_path / "st", rec, mode="replay") as r, pytest.raises(KeyboardInterrupt) as info:
        r.chat("Tell me about the sea", thread=False, stream=False)
    assert str(info.value) == (f"Stopped as in the recording: the asyncio task awaiting this chat call (history "
                               f"#{row}) was cancelled before the answer came back, so there is no answer to replay.")
    assert rec.requests == []


def _polled_tasks(rec: Recorder) -> int:
    """How many video tasks have been polled so far (each was created and its row noted first)."""
    return len({r["path"] for r in list(rec.requests) if r["method"] == "GET" and "/video" in r["path"]})


def test_a_video_compare_stopped_while_waiting_names_every_task_live_and_in_replay(tmp_path: Path) -> None:
    """Both tasks had been created (both billed, both still running) when the Ctrl-C came; it named only the newest
    ("Stopped waiting for video task …"), so the other looked lost and a re-run paid for it again."""
    models = ["doubao-seedance-2.0", "kling-v3"]
    live = Recorder()
    with make_session(tmp_path / "st", live, poll_interval=0.2) as s:
        s.models()
        live.set_faults(Faults(video_steps=100))
        with pytest.raises(KeyboardInterrupt) as info:
            interrupted_when(lambda: _polled_tasks(live) >= 2,  # (both made, both waited on)
                             lambda: s.compare("a paper boat", models=models, kind="video", progress=False))
        recorded = str(info.value)
        tasks = sorted(e.response["task_id"] for e in s.history)
        assert [e.status for e in s.history] == ["pending", "pending"]
        assert recorded.startswith(f"Stopped waiting for 2 video tasks ({tasks[0]}, {tasks[1]})."), recorded
        assert all(f"session.resume({t!r})" in recorded for t in tasks)
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        with pytest.raises(KeyboardInterrupt) as info:
            r.compare("a paper boat", models=models, kind="video", progress=False)
        assert str(info.value) == recorded
    assert rec.requests == []


def _stream_stopped_at(piece: int | None, seen: list[tuple[str, str]]) -> Any:
    """An ``on_delta`` that notes what it is shown and presses stop at its ``piece``-th call (None: never)."""
    from tokenhot_nb.families._types import ChatDelta

    def watch(delta: ChatDelta, text: str) -> None:
        seen.append((delta.text, text))
        if len(seen) == piece:
            raise KeyboardInterrupt

    return watch


def test_a_stream_stopped_midway_replays_its_partial_text_to_on_delta_then_stops_the_same_way(
        tmp_path: Path) -> None:
    """The replay of a chat stream stopped in its third piece raised the recorded stop at once: ``on_delta`` was shown
    nothing of the text the live call had shown it. Now it is shown the same pieces, then the same stop is raised
    (by the replay, when on_delta stops at the same piece again; by itself when nothing stops it)."""
    live = Recorder()
    shown: list[tuple[str, str]] = []
    with make_session(tmp_path / "st", live) as s:
        live.set_faults(Faults(stream_chunks=12, chunk_delay=0.02))
        with pytest.raises(KeyboardInterrupt) as info:
            s.chat("tell me a long story", thread=False, on_delta=_stream_stopped_at(3, shown))
        recorded = str(info.value)
        row = s.history[-1]
        assert row.status == "interrupted" and len(shown) == 3 and shown[-1][1]

    for stop_at in (3, None):  # the notebook's on_delta stops again at the same piece / a stop pressed by hand
        rec = Recorder()
        again: list[tuple[str, str]] = []
        with make_session(tmp_path / "st", rec, mode="replay") as r, pytest.raises(KeyboardInterrupt) as info:
            r.chat("tell me a long story", thread=False, on_delta=_stream_stopped_at(stop_at, again))
        assert again == shown, stop_at
        assert str(info.value) == recorded and rec.requests == []
    rec = Recorder()
    early: list[tuple[str, str]] = []
    with make_session(tmp_path / "st", rec, mode="replay") as r, pytest.raises(KeyboardInterrupt) as info:
        r.chat("tell me a long story", thread=False, on_delta=_stream_stopped_at(1, early))
    assert early == shown[:1] and str(info.value) != recorded  # a stop of the replay's own, said as such
    assert str(info.value) == REPLAY_STOPPED and rec.requests == []


def test_a_replayed_answer_stopped_in_on_delta_says_so_in_one_line(tmp_path: Path) -> None:
    """A Ctrl-C (or a KeyboardInterrupt from ``on_delta``) during the replay of a recorded answer was a bare
    ``KeyboardInterrupt`` with no words at all."""
    with make_session(tmp_path / "st", Recorder()) as s:
        s.chat("tell me a long story", thread=False)
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r, pytest.raises(KeyboardInterrupt) as info:
        r.chat("tell me a long story", thread=False, on_delta=_stream_stopped_at(1, []))
    assert str(info.value) == REPLAY_STOPPED and rec.requests == []


def test_a_stream_stopped_while_the_model_reasoned_replays_the_reasoning_to_on_delta_then_stops(
        tmp_path: Path) -> None:
    """Stopped in its second piece of reasoning (no answer text yet), the replay showed ``on_delta`` nothing before
    the stop: the row kept no text, and the reasoning it had shown was not kept at all."""
    from tokenhot_nb.families._types import ChatDelta

    def stop_at(piece: int | None, seen: list[tuple[str, str]]) -> Any:
        def watch(delta: ChatDelta, text: str) -> None:
            seen.append((delta.reasoning, delta.text))
            if len(seen) == piece:
                raise KeyboardInterrupt
        return watch

    live = Recorder()
    shown: list[tuple[str, str]] = []
    ask = {"model": "gpt-5.4", "endpoint": "chat", "reasoning_effort": "high", "thread": False}
    with make_session(tmp_path / "st", live) as s:
        live.set_faults(Faults(chunk_delay=0.02))
        with pytest.raises(KeyboardInterrupt) as info:
            s.chat("tell me a long story", on_delta=stop_at(2, shown), **ask)
        recorded = str(info.value)
    assert len(shown) == 2 and all(r and not t for r, t in shown)
    for piece in (2, None):
        again: list[tuple[str, str]] = []
        rec = Recorder()
        with make_session(tmp_path / "st", rec, mode="replay") as r, pytest.raises(KeyboardInterrupt) as info:
            r.chat("tell me a long story", on_delta=stop_at(piece, again), **ask)
        assert again == shown and str(info.value) == recorded and rec.requests == []
