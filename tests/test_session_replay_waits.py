"""Replay ends a recorded wait as the recording's ended: a deadline, an interrupt, a task never finished there.

Each wait that stopped without its video keeps how it stopped in the task's row (``response["ends"]``: after how
many statuses, and the error); a replay plays the statuses up to there and raises the same error, word for word.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb.families._types import TaskStatus
from tokenhot_nb.results import VideoTask
from tokenhot_nb.sim import Faults


def _said(exc: BaseException) -> tuple[str, str, str | None]:
    """What a cell shows of an error: its class, its text, and the partial result it carries."""
    partial = getattr(exc, "partial", None)
    return type(exc).__name__, str(exc), repr(partial) if partial is not None else None


def _cells(s: Session, *, stop: bool) -> dict[str, Any]:
    """A notebook's video cells: a wait that hits its deadline then waits again to the end; a wait that hits its
    deadline and is never resumed; a wait interrupted and never resumed (``stop``: the interrupt comes from the
    callback, as a Ctrl-C would come; a replay cannot press Ctrl-C, so it is run with ``stop=False``)."""
    out: dict[str, Any] = {"timed out": [], "went on": [], "never resumed": [], "interrupted": []}

    def seen(into: str) -> Any:
        return lambda st: out[into].append((st.state, st.progress, st.raw_status))

    task = s.video("a slow dawn", wait=False)
    with pytest.raises(E.APITimeoutError) as info:
        task.wait(timeout=0.12, progress=False, on_progress=seen("timed out"))
    out["timeout"] = _said(info.value)
    out["partial is the task"] = info.value.partial is task
    out["after the timeout"] = (repr(task), task.done, task.entry.status if task.entry else None)
    out["video"] = task.wait(timeout=60, progress=False, on_progress=seen("went on")).sha256

    with pytest.raises(E.APITimeoutError) as info:  # the session's deadline (Session(video_deadline=…))
        s.video("a slow dusk", progress=False, on_progress=seen("never resumed"))
    out["second timeout"] = _said(info.value)
    other = info.value.partial
    assert isinstance(other, VideoTask)  # (the only handle on the task the wait made)
    out["second resumed"] = repr(s.resume(other.task_id))

    def interrupt(st: TaskStatus) -> None:
        out["interrupted"].append((st.state, st.progress, st.raw_status))
        if stop and len(out["interrupted"]) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as stopped:
        s.video("a slow noon", on_progress=interrupt, progress=False)
    out["interrupt"] = str(stopped.value)
    task_id = s.history.filter(kind="video")[-1].response["task_id"]
    resumed = s.resume(task_id)
    out["interrupted resumed"] = (repr(resumed), resumed.done)
    return out


def test_a_replay_ends_each_wait_where_and_as_the_recording_ended_it(tmp_path: Path) -> None:
    """A wait that timed out when recorded was played to the end in replay (a video where the recording showed
    an APITimeoutError), and a task never resumed after its timeout or interrupt was a replay miss. The replay
    shows the same statuses, then the same error (class, message and hint, the task as its ``partial``), and a
    task the recording never finished stays where it was last seen."""
    with make_session(tmp_path / "st", Recorder(Faults(video_steps=12)), poll_interval=0.05,
                      video_deadline=0.12) as s:
        recorded = _cells(s, stop=True)
        deadline = time.monotonic() + 10  # (an interrupt's end is written by the loop as the cancel reaches it)
        while True:
            rows = {e.id: e.response["ends"] for e in s.history.filter(kind="video") if e.response.get("ends")}
            if len(rows) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    assert recorded["timeout"][0] == "APITimeoutError" and "was not done after 0.12 s" in recorded["timeout"][1]
    assert recorded["second timeout"][0] == "APITimeoutError" and "after 0.12 s" in recorded["second timeout"][1]
    assert recorded["partial is the task"] and recorded["timeout"][2] == recorded["after the timeout"][0]
    assert recorded["timed out"] and recorded["went on"][-1][0] == "succeeded"
    assert recorded["never resumed"] and len(recorded["interrupted"]) == 2 and "resume(" in recorded["interrupt"]
    assert len(rows) == 3  # (the timeout then finished, the timeout never resumed, the interrupt)

    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay", poll_interval=30, video_deadline=3600) as r:
        t0 = time.monotonic()
        replayed = _cells(r, stop=False)  # (no callback stops it: the recorded interrupt does)
        assert time.monotonic() - t0 < 20
        for entry_id in rows:  # unfinished: the wait says where the recording left it and how to finish it
            row = r.history.get(entry_id)
            if row.status != "pending":
                continue
            task = r.resume(row.response["task_id"])
            assert isinstance(task, VideoTask)
            with pytest.raises(E.TokenhotError) as info:
                task.wait(progress=False)
            assert not isinstance(info.value, E.ReplayMissError) and "never finished" in info.value.message
            assert f"session.resume({task.task_id!r}).wait()" in (info.value.hint or "")
    assert replayed == recorded and rec.requests == []


def test_a_wait_ended_by_failed_polls_or_a_failed_download_replays_with_that_error(tmp_path: Path) -> None:
    """The other ways a wait ends without its video: polls that kept failing (a 5xx past the retries) and a
    download that failed (the task done and paid). Replayed, each ends at the same status with the same error
    (its status and request id included), and the resume that finished it in the recording finishes it again."""
    def cells(s: Session, rec: Recorder | None) -> dict[str, Any]:
        out: dict[str, Any] = {"polls": [], "download": [], "resumed": []}
        task = s.video("a grey harbour", wait=False)
        if rec is not None:
            rec.set_faults(Faults(fail_first={500: 3}, video_steps=6))
        with pytest.raises(E.ServerError) as info:
            task.wait(progress=False, on_progress=lambda st: out["polls"].append((st.state, st.progress)))
        out["poll error"] = _said(info.value)
        if rec is not None:
            rec.set_faults(Faults(expire_downloads=True, video_steps=6))
        with pytest.raises(E.DownloadError) as info:
            task.wait(progress=False, on_progress=lambda st: out["download"].append((st.state, st.progress)))
        out["download error"] = _said(info.value)
        if rec is not None:
            rec.set_faults(Faults(video_steps=6))
        video = s.resume(task.task_id).wait(progress=False,
                                            on_progress=lambda st: out["resumed"].append((st.state, st.progress)))
        out["video"] = video.sha256
        return out

    live = Recorder(Faults(video_steps=6))
    with make_session(tmp_path / "st", live, max_retries=0) as s:
        recorded = cells(s, live)
    assert "[500]" in recorded["poll error"][1] and recorded["download"][-1][0] == "succeeded"
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        replayed = cells(r, None)
    assert replayed == recorded and rec.requests == []
