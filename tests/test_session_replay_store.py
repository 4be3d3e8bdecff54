"""A replay leaves its recording as it found it: what a replay session sets (a budget) stays in that session."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import errors as E


def _files(store: Path) -> dict[str, str]:
    """sha256 of the store's database files (the main file and its WAL / shared-memory companions)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.glob("history.sqlite*")) if p.is_file()}


def _meta_and_rows(store: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with closing(sqlite3.connect(store / "history.sqlite")) as db:
        return (db.execute("SELECT * FROM meta ORDER BY 1").fetchall(),
                db.execute("SELECT * FROM entries ORDER BY id").fetchall())


def test_a_budget_set_in_a_replay_is_the_replays_own_and_the_store_is_untouched(tmp_path: Path) -> None:
    """``set_budget`` (and ``Session(budget=…)``, ``reset_budget``) in a replay wrote the recording's store: a
    replay changed the recording it played, and the next live session on it counted against the replay's
    limit. The replay keeps its budget in memory; the store's files are byte for byte what they were."""
    store = tmp_path / "st"
    with make_session(store, Recorder(), budget=5) as s:
        s.chat("What is a fox?", model="gpt-5.2", thread=False)
        s.image("a red fox", model="gpt-image-2")
        recorded = str(s.budget)
    before, rows = _files(store), _meta_and_rows(store)
    assert "history.sqlite" in before
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
    assert _meta_and_rows(store) == rows
    assert _files(store) == before
    with make_session(store, Recorder()) as again:  # the recording's own budget, as it left it
        assert again.budget.budget is not None and again.budget.budget.usd == 5 and str(again.budget) == recorded
