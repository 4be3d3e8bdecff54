"""A replay leaves its recording as it found it: what a replay session sets (a budget) stays in that session."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import errors as E
from tokenhot_nb.sim import Faults


def _contents(store: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows (the budget's ``meta``, the entries, artifacts, the full-text index's own tables…) and
    the artifact files on disk: what any write by the replay would change. (Not the database files' bytes: when
    the write-ahead log is folded into the main file is SQLite's (the last connection to close does it), and in
    one full run it came after this test read them, failing it on a store whose rows were untouched.)"""
    with closing(sqlite3.connect(store / "history.sqlite")) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        got = {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    got["files on disk"] = sorted((str(p.relative_to(store)), hashlib.sha256(p.read_bytes()).hexdigest())
                                  for p in (store / "artifacts").rglob("*") if p.is_file())
    return got


def test_a_budget_set_in_a_replay_is_the_replays_own_and_the_store_is_untouched(tmp_path: Path) -> None:
    """``set_budget`` (and ``Session(budget=…)``, ``reset_budget``) in a replay wrote the recording's store: a
    replay changed the recording it played, and the next live session on it counted against the replay's
    limit. The replay keeps its budget in memory; every table and file of the store is what it was."""
    store = tmp_path / "st"
    with make_session(store, Recorder(), budget=5) as s:
        s.chat("What is a fox?", model="gpt-5.2", thread=False)
        s.image("a red fox", model="gpt-image-2")
        recorded = str(s.budget)
    before = _contents(store)
    assert before["meta"] and before["entries"] and before["files on disk"]
    rec = Recorder()
    with make_session(store, rec, mode="replay", budget=3) as r:
        assert r.budget.budget is not None and r.budget.budget.usd == 3
        r.chat("What is a fox?", model="gpt-5.2", thread=False)
        r.set_budget(0.000001)  # the replay's own limit: the image it replays next is refused, as live
        assert r.budget.budget is not None and r.budget.budget.written == "1e-06"
        r.reset_budget()
        r.set_budget(None)
        assert r.budget.budget is None
        r.set_budget(9)
        r.image("a red fox", model="gpt-image-2")
        with pytest.raises(E.BudgetExceededError):
            r.set_budget(0.000001)
            r.image("a red fox", model="gpt-image-2", n=2)
        assert rec.requests == []
    assert _contents(store) == before
    with make_session(store, Recorder()) as again:  # the recording's own budget, as it left it
        assert again.budget.budget is not None and again.budget.budget.usd == 5 and str(again.budget) == recorded


def test_a_callback_that_stops_a_replayed_wait_stops_the_playback_at_its_status(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race of 7ee5224, made to happen every time: a replayed wait let the playback go on as soon as the
    on_progress call ended, even by raising, so between the raise (on the caller's thread) and the cancellation
    reaching the loop it played more statuses, and the resume that followed found fewer than the recording had
    (the 03 tutorial's resumed wait showed no bar about one run in six). Here the caller's thread holds the
    raise back until the loop polls again (or 1 s): the playback must not poll again, and the resume must play
    exactly the statuses the recording's resume saw."""
    from tokenhot_nb._session import loop as loop_mod
    from tokenhot_nb._session import video as video_mod
    from tokenhot_nb.families._types import TaskStatus

    def cells(s: object, into: dict[str, list[tuple[str, int]]]) -> str:
        def stop_at_two(st: TaskStatus) -> None:
            into["stopped"].append((st.state, st.progress))
            if len(into["stopped"]) == 2:
                into["raised"].append(("raised", 0))
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            s.video("a kite in the wind", on_progress=stop_at_two, progress=False)  # type: ignore[attr-defined]
        into["caught"].append(("caught", 0))
        task_id = s.history.filter(kind="video")[-1].response["task_id"]  # type: ignore[attr-defined]
        s.resume(task_id).wait(progress=False,  # type: ignore[attr-defined]
                               on_progress=lambda st: into["resumed"].append((st.state, st.progress)))
        return str(task_id)

    recorded: dict[str, list[tuple[str, int]]] = {"stopped": [], "raised": [], "caught": [], "resumed": []}
    with make_session(tmp_path / "st", Recorder(Faults(video_steps=6)), poll_interval=0.02) as s:
        cells(s, recorded)
    assert len(recorded["resumed"]) >= 2  # (statuses left to play after the stop: the race could eat them)

    played_on = __import__("threading").Event()
    replayed: dict[str, list[tuple[str, int]]] = {"stopped": [], "raised": [], "caught": [], "resumed": []}
    real_poll, real_guarded = video_mod.poll_task, loop_mod._guarded

    async def poll(session: object, task: object) -> TaskStatus:
        if replayed["raised"] and not replayed["caught"]:
            played_on.set()  # the stopped wait's playback went on after its callback raised
        return await real_poll(session, task)  # type: ignore[arg-type]

    def guarded(fn: object) -> object:
        run = real_guarded(fn)  # type: ignore[arg-type]

        def held(*args: object) -> None:
            try:
                run(*args)
            except BaseException:
                played_on.wait(1.0)  # the window between the raise and the cancel, held open
                raise

        return held

    monkeypatch.setattr(video_mod, "poll_task", poll)
    monkeypatch.setattr(loop_mod, "_guarded", guarded)
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay", poll_interval=30) as r:
        cells(r, replayed)
        assert not played_on.is_set()
    assert replayed == recorded and rec.requests == []
