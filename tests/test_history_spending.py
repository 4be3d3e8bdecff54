"""The budget's spending total is counted incrementally and always equals the plain sum over the period."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import pytest

from tokenhot_nb.history import HistoryEntry, Store
from tokenhot_nb.history._spending import PLAIN_SQL


def _entry(started: float, status: str = "running") -> HistoryEntry:
    return HistoryEntry(session_id="s", started=started, mode="live", kind="chat", model="m", endpoint="chat.completions",
                        params={"message": f"q {started}"}, status=status, text="q")


def _usage(rng: random.Random) -> dict[str, object]:
    cost: dict[str, object] = {"usd": round(rng.uniform(0.0, 0.5), 6), "simulated": rng.random() < 0.5}
    if rng.random() < 0.1:
        cost = {"usd": None, "simulated": False}  # a cost nobody knows: its reservation, if any, else nothing
    elif rng.random() < 0.05:
        cost = {"usd": rng.choice(["0.25", "n/a"]), "simulated": False}  # (an imported row's odd value: as SUM reads it)
    usage: dict[str, object] = {"input_tokens": 3, "cost": cost}
    if rng.random() < 0.3:  # its estimate, reserved before the call (counted only while the cost is not known)
        usage["reserved"] = {"usd": round(rng.uniform(0.0, 0.5), 6), "simulated": cost["simulated"]}
    return usage


def _plain(store: Store, since: float, simulated: bool) -> float:
    conn = sqlite3.connect(store.db_path)
    try:
        return float(conn.execute(PLAIN_SQL, (since, 1 if simulated else 0)).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_tally_equals_the_plain_sum_through_every_kind_of_change(tmp_path: Path, seed: int) -> None:
    """Rows added, finished, left running or pending, amended, deleted, and written by another connection (another
    process's store), with periods that start before, among and after the rows."""
    rng = random.Random(seed)
    root = tmp_path / "store"
    mine, other = Store(root), Store(root)
    t0 = time.time()
    periods = [0.0, t0 + 20.0, t0 + 1e9]
    try:
        for step in range(300):
            store = other if rng.random() < 0.25 else mine
            rows = [int(r[0]) for r in mine.connection().execute("SELECT id FROM entries")]
            op = rng.random()
            if op < 0.35 or not rows:
                e = _entry(t0 + step * 0.1, rng.choice(["running", "running", "ok", "pending"]))
                if e.status != "running":
                    e.usage = _usage(rng)
                elif rng.random() < 0.5:
                    e.usage = {"reserved": {"usd": round(rng.uniform(0.0, 0.5), 6), "simulated": rng.random() < 0.5}}
                store.insert(e)
            elif op < 0.7:  # a call ends (or an old row is amended: its cost changes)
                store.update(rng.choice(rows), status=rng.choice(["ok", "error", "pending"]), usage=_usage(rng))
            elif op < 0.8:
                store.delete([rng.choice(rows)])
            else:  # a running row of a dead process marked interrupted, or nothing to mark
                mine.recover()
            for since in periods:
                for simulated in (False, True):
                    want = _plain(mine, since, simulated)
                    assert mine.spent_usd(since, simulated=simulated) == pytest.approx(want, abs=1e-9), (step, since)
                    assert other.spent_usd(since, simulated=simulated) == pytest.approx(want, abs=1e-9), (step, since)
    finally:
        mine.close()
        other.close()


def test_a_check_reads_only_the_rows_added_since_the_last(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    try:
        for i in range(50):
            e = _entry(float(i), "ok")
            e.usage = {"cost": {"usd": 0.01, "simulated": False}}
            store.insert(e)
        seen: list[str] = []
        store.connection().set_trace_callback(seen.append)
        assert store.spent_usd(0, simulated=False) == pytest.approx(0.5)
        assert any("id > 0 AND id <= 50" in s for s in seen), seen  # the first check counts the period once
        e = _entry(60.0)
        store.insert(e)  # a call in flight: counted afresh until it ends
        store.update(e.id, status="ok", usage={"cost": {"usd": 0.25, "simulated": False}})
        seen.clear()
        assert store.spent_usd(0, simulated=False) == pytest.approx(0.75)
        sums = [s for s in seen if "SUM(" in s]
        assert sums and all("id > 50 AND id <= 51" in s for s in sums), seen  # not the 50 rows again
    finally:
        store.close()


def test_a_read_only_store_counts_its_period(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with Store(root) as store:
        e = _entry(5.0, "ok")
        e.usage = {"cost": {"usd": 0.125, "simulated": True}}
        store.insert(e)
    with Store(root, read_only=True) as ro:
        assert ro.spent_usd(0, simulated=True) == pytest.approx(0.125)
        assert ro.spent_usd(10, simulated=True) == 0


def test_a_row_whose_recorded_cost_is_negative_pays_nothing_back(tmp_path: Path) -> None:
    """An imported or edited row saying a call cost -$5 lowered the period's spending, and the budget let $5 more
    of calls through; it counts as nothing, as its shown cost is unknown."""
    with Store(tmp_path / "store") as store:
        for usd in (0.5, -5.0):
            e = _entry(5.0, "ok")
            e.usage = {"cost": {"usd": usd, "simulated": False}}
            store.insert(e)
        assert store.spent_usd(0, simulated=False) == pytest.approx(0.5)
        assert _plain(store, 0, False) == pytest.approx(0.5)


def _write_locked(db: Path) -> bool:
    """Whether some connection holds the store's write lock now (another cannot begin a write at once)."""
    probe = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return True
    finally:
        probe.close()


def test_the_budget_check_counts_the_period_before_it_takes_the_write_lock(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A change to a finished row's cost by another kernel makes a session's tally stale: the whole period is
    counted again (~200 ms at 100k rows). That count runs in a read before the check's write transaction, which
    then reads only what changed, so no kernel's writes wait on it."""
    from tokenhot_nb import Session
    from tokenhot_nb.history import _spending

    s = Session(store=tmp_path / "st", mode="offline", budget=5)
    first = s.image("one", model="gpt-image-2")
    other = Store(tmp_path / "st")
    other.update(first.entry.id, usage={"cost": {"usd": 0.5, "simulated": True}})  # this session's tally is stale now
    db = tmp_path / "st" / "history.sqlite"
    seen: list[tuple[bool, bool]] = []
    count = _spending.Spending._count

    def spy(self: _spending.Spending, conn: sqlite3.Connection, since: float, sim: int) -> float:
        mine = getattr(self._local, "tallies", None)
        old = mine[1].get((since, sim)) if mine is not None and mine[0] is conn else None
        changes = conn.execute("SELECT CAST(value AS INTEGER) FROM meta WHERE key='final_changes'").fetchone()[0]
        full = old is None or old.changes != changes
        seen.append((full, _write_locked(db)))
        return count(self, conn, since, sim)

    monkeypatch.setattr(_spending.Spending, "_count", spy)
    s.image("two", model="gpt-image-2")
    assert (True, False) in seen and (False, True) in seen  # counted in a read; checked under the lock
    assert (True, True) not in seen
    other.close()
    s.close()


def _paid(store: Store, started: float, usd: float) -> int:
    e = _entry(started, "ok")
    e.usage = {"cost": {"usd": usd, "simulated": False}}
    return store.insert(e)


def _sums(store: Store, since: float) -> list[str]:
    """The statements of one spending check on ``store`` that summed rows, with the check's answer first."""
    seen: list[str] = []
    conn = store.connection()
    conn.set_trace_callback(seen.append)
    try:
        return [repr(store.spent_usd(since, simulated=False)), *(s for s in seen if "SUM(" in s)]
    finally:
        conn.set_trace_callback(None)


def test_another_kernels_calls_do_not_make_a_session_count_its_period_again(tmp_path: Path) -> None:
    """Another kernel on the same store adds rows and finishes its own calls: this session's tally of its period's
    finished rows still stands, so its next check reads those new rows only (schema 6: the store counts changes
    to finished rows; before, any other commit meant summing the whole period again)."""
    root = tmp_path / "store"
    mine, other = Store(root), Store(root)
    try:
        for i in range(40):
            _paid(mine, float(i), 0.01)
        assert mine.spent_usd(0, simulated=False) == pytest.approx(0.40)
        running = other.insert(_entry(50.0))  # another kernel's call in flight, then ended; and one more
        other.update(running, status="ok", usage={"cost": {"usd": 0.25, "simulated": False}})
        _paid(other, 51.0, 0.125)
        other.set_meta("another-kernel", "wrote")
        total, *sums = _sums(mine, 0)
        assert float(total) == pytest.approx(0.775) == _plain(mine, 0, False)
        assert sums and not any("id > 0 AND" in s for s in sums), sums  # not the 40 rows again
        assert all("id > 40 AND id <= 42" in s for s in sums), sums
    finally:
        mine.close()
        other.close()


def test_a_finished_row_changed_or_deleted_elsewhere_is_counted_again(tmp_path: Path) -> None:
    root = tmp_path / "store"
    mine, other = Store(root), Store(root)
    try:
        ids = [_paid(mine, float(i), 0.01) for i in range(10)]
        assert mine.spent_usd(0, simulated=False) == pytest.approx(0.10)
        other.update(ids[3], usage={"cost": {"usd": 1.0, "simulated": False}})  # its cost corrected elsewhere
        total, *sums = _sums(mine, 0)
        assert float(total) == pytest.approx(1.09) and any("id > 0 AND" in s for s in sums), sums
        other.delete([ids[0]])
        assert mine.spent_usd(0, simulated=False) == pytest.approx(1.08) == _plain(mine, 0, False)
        other.update(ids[5], started=-1.0)  # moved out of the period that began at 0
        assert mine.spent_usd(0, simulated=False) == pytest.approx(1.07) == _plain(mine, 0, False)
        other.update(ids[6], text="a note")  # not what it cost: the count stands
        before = mine.connection().execute("SELECT value FROM meta WHERE key='final_changes'").fetchone()[0]
        total, *sums = _sums(mine, 0)
        assert float(total) == pytest.approx(1.07) and not any("id > 0 AND" in s for s in sums), sums
        assert before == "3"
    finally:
        mine.close()
        other.close()


def test_a_schema_5_store_gains_the_count_and_is_read_as_it_is_when_read_only(tmp_path: Path) -> None:
    from tokenhot_nb.history import _schema

    root = tmp_path / "store"
    with Store(root) as store:
        ids = [_paid(store, float(i), 0.01) for i in range(5)]
    with sqlite3.connect(root / "history.sqlite") as c:  # as schema 5 left it: no count, no triggers
        for name in ("entries_final_au", "entries_final_ad"):
            c.execute(f"DROP TRIGGER {name}")
        c.execute("DELETE FROM meta WHERE key=?", (_schema.FINAL_CHANGES,))
        c.execute("PRAGMA user_version=5")
    c.close()
    ro, writer = Store(root, read_only=True), sqlite3.connect(root / "history.sqlite", isolation_level=None)
    try:
        assert ro.spent_usd(0, simulated=False) == pytest.approx(0.05)
        writer.execute("UPDATE entries SET usage=? WHERE id=?", ('{"cost": {"usd": 0.5, "simulated": false}}', ids[1]))
        assert ro.spent_usd(0, simulated=False) == pytest.approx(0.54)  # no count: any other commit, a recount
        assert ro.connection().execute("PRAGMA user_version").fetchone()[0] == 5
    finally:
        ro.close()
        writer.close()
    with Store(root) as store:  # opened for writing: migrated
        conn = store.connection()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 6
        assert conn.execute("SELECT value FROM meta WHERE key='final_changes'").fetchone()[0] == "0"
        store.delete([ids[0]])
        assert conn.execute("SELECT value FROM meta WHERE key='final_changes'").fetchone()[0] == "1"
        assert store.spent_usd(0, simulated=False) == pytest.approx(0.53) == _plain(store, 0, False)
