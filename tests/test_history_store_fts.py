"""The full-text index holds finished rows only, and takes them in batches (schema 4): a row that ends waits in
``fts_pending`` until :data:`FTS_BATCH` have ended, a search sees waiting rows too (indexing them first, or on a
read-only store in a temporary table), and older stores are moved over on open."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tokenhot_nb.history import SCHEMA_VERSION, History, HistoryEntry, Store, _schema

V2_TRIGGERS = [
    """CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
        INSERT INTO entries_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER entries_au AFTER UPDATE OF text ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO entries_fts(rowid, text) VALUES (new.id, new.text);
    END""",
]
V3_TRIGGERS = [
    """CREATE TRIGGER entries_ai AFTER INSERT ON entries WHEN new.status != 'running' BEGIN
        INSERT INTO entries_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER entries_ad AFTER DELETE ON entries WHEN old.status != 'running' BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER entries_au AFTER UPDATE OF text, status ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text) SELECT 'delete', old.id, old.text
            WHERE old.status != 'running';
        INSERT INTO entries_fts(rowid, text) SELECT new.id, new.text WHERE new.status != 'running';
    END""",
]


def _entry(text: str, status: str = "running") -> HistoryEntry:
    return HistoryEntry(session_id="s", started=time.time(), mode="live", kind="chat", model="m",
                        endpoint="chat.completions", params={"message": text}, status=status, text=text)


def _indexed(store: Store, word: str) -> list[int]:
    """What the full-text index itself holds (not what a search finds)."""
    return [r[0] for r in store.connection().execute(
        "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rowid", (f'"{word}"',))]


def _queued(store: Store) -> list[int]:
    return [r[0] for r in store.connection().execute("SELECT id FROM fts_pending ORDER BY id")]


def _found(store: Store, word: str) -> list[int]:
    return sorted(e.id for e in History(store).search(word))


def _intact(store: Store) -> None:
    """FTS5's own check: a 'delete' of words that were never indexed would break it."""
    store.connection().execute("INSERT INTO entries_fts(entries_fts) VALUES ('integrity-check')")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path)
    if s.fts == "none":  # an SQLite without FTS5 searches with LIKE: there is no index to test
        pytest.skip("this SQLite has no FTS5")
    return s


def test_a_row_waits_for_the_index_until_a_batch_has_ended(store: Store) -> None:
    running = store.insert(_entry("lighthouse question"))
    assert _queued(store) == [] and _indexed(store, "lighthouse") == []  # in flight: neither queued nor indexed
    store.update(running, status="ok", text="lighthouse question\n\nkeeper answer")
    assert _queued(store) == [running] and _indexed(store, "keeper") == []
    more = [store.insert(_entry(f"lighthouse call {i}", status="ok")) for i in range(_schema.FTS_BATCH - 2)]
    assert _queued(store) == [running, *more] and _indexed(store, "lighthouse") == []
    last = store.insert(_entry("lighthouse last", status="ok"))  # the batch is full: all of it is indexed at once
    assert _queued(store) == [] and _indexed(store, "lighthouse") == [running, *more, last]
    _intact(store)
    store.close()


def test_a_search_finds_rows_still_waiting(store: Store) -> None:
    done = store.insert(_entry("harbour keeper", status="ok"))
    running = store.insert(_entry("harbour in flight"))
    assert _queued(store) == [done]
    assert _found(store, "keeper") == [done] and _found(store, "harbour") == [done]  # running rows are not searched
    assert _queued(store) == [] and _indexed(store, "keeper") == [done]  # the search indexed the queue first
    store.update(running, status="error")
    assert _found(store, "flight") == [running]
    store.close()


def test_changing_or_deleting_waiting_and_indexed_rows_keeps_the_index_true(store: Store) -> None:
    indexed = store.insert(_entry("anchor old words", status="ok"))
    assert _found(store, "anchor") == [indexed]  # (indexed by the search)
    waiting = store.insert(_entry("anchor waiting words", status="ok"))
    store.update(waiting, text="anchor renamed waiting")  # not indexed yet: nothing leaves the index
    store.update(indexed, text="anchor renamed indexed")  # indexed: its old words leave it, the new ones wait
    assert _indexed(store, "old") == [] and _queued(store) == [indexed, waiting]
    _intact(store)
    assert _found(store, "renamed") == [indexed, waiting] and _found(store, "words") == []
    gone = store.insert(_entry("anchor deleted while waiting", status="ok"))
    back = store.insert(_entry("anchor rerun"))
    store.update(back, status="ok")
    store.update(back, status="running")  # back in flight: it leaves the queue
    assert _queued(store) == [gone]
    store.delete([gone, indexed])
    assert _queued(store) == [] and _indexed(store, "anchor") == [waiting]
    _intact(store)
    assert _found(store, "anchor") == [waiting]
    store.close()


def test_closing_the_store_indexes_what_waits(tmp_path: Path, store: Store) -> None:
    done = store.insert(_entry("buoy bell", status="ok"))
    store.close()
    again = Store(tmp_path)
    assert _queued(again) == [] and _indexed(again, "buoy") == [done]
    again.close()


def test_an_import_is_indexed_in_one_go(store: Store) -> None:
    ids, _held = store.import_entries([_entry(f"imported tide {i}", status="ok") for i in range(3)])
    assert _queued(store) == [] and _indexed(store, "tide") == ids
    store.close()


def test_a_read_only_store_searches_waiting_rows_in_a_temporary_index(tmp_path: Path, store: Store) -> None:
    done = store.insert(_entry("gull indexed", status="ok"))
    assert _found(store, "gull") == [done]
    waiting = store.insert(_entry("gull waiting", status="ok"))
    store.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a process that ended without closing
    ro = Store(tmp_path, read_only=True)
    assert _found(ro, "gull") == [done, waiting] and _found(ro, "waiting") == [waiting]
    assert _found(ro, "nothing") == []
    view = History(ro).search("waiting")
    with ThreadPoolExecutor(1) as pool:  # another thread reads the view: another connection, no temporary index yet
        assert pool.submit(lambda: view.ids).result(timeout=30) == [waiting]
    assert _queued(ro) == [waiting]  # nothing was written
    ro.close()
    store.close()


def _as_schema(root: Path, version: int, triggers: list[str]) -> None:
    conn = sqlite3.connect(root / "history.sqlite", isolation_level=None)
    for name in ("entries_ai", "entries_ad", "entries_au"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE fts_pending")
    conn.execute("DROP TABLE artifacts")  # (empty here) as schema 3 made it, without the data column
    conn.execute("CREATE TABLE artifacts (sha256 TEXT PRIMARY KEY, mime TEXT NOT NULL, size INTEGER NOT NULL, "
                 "name TEXT NOT NULL DEFAULT '', suffix TEXT NOT NULL DEFAULT '', created REAL NOT NULL) WITHOUT ROWID")
    for stmt in triggers:
        conn.execute(stmt)
    conn.execute("INSERT INTO entries(session_id, started, mode, kind, model, endpoint, params, request, response, "
                 "usage, outputs, text, status, replay_key, updated) VALUES ('s', 1, 'live', 'chat', 'm', '', '{}', "
                 "'{}', '{}', '{}', '[]', 'inflight lighthouse', 'running', 'k', 1)")
    conn.execute(f"PRAGMA user_version={version}")
    conn.close()


def test_a_schema_2_store_moves_its_running_rows_out_of_the_index(tmp_path: Path, store: Store) -> None:
    ok = store.insert(_entry("finished lighthouse", status="ok"))
    store.close()
    _as_schema(tmp_path, 2, V2_TRIGGERS)

    store = Store(tmp_path)
    assert store.connection().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert _indexed(store, "lighthouse") == [ok]  # the running row left the index
    running = ok + 1
    store.update(running, status="interrupted")  # and joins it when it ends
    assert _found(store, "lighthouse") == [ok, running] and _indexed(store, "lighthouse") == [ok, running]
    _intact(store)
    store.close()


def test_a_schema_3_store_is_moved_over_and_read_as_it_is_when_read_only(tmp_path: Path, store: Store) -> None:
    ok = store.insert(_entry("finished lantern", status="ok"))
    store.close()
    _as_schema(tmp_path, 3, V3_TRIGGERS)
    running = ok + 1

    ro = Store(tmp_path, read_only=True)  # read as it is: nothing is upgraded
    assert len(History(ro)) == 2 and _found(ro, "lantern") == [ok]
    assert ro.connection().execute("PRAGMA user_version").fetchone()[0] == 3
    ro.close()

    store = Store(tmp_path)
    assert store.connection().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.update(running, status="ok")
    assert _queued(store) == [running] and _found(store, "inflight") == [running] and _found(store, "lantern") == [ok]
    _intact(store)
    store.close()


def test_indexing_the_queue_looks_its_rows_up_by_id(store: Store) -> None:
    """A batch reads the queued rows by id: scanning ``entries`` instead (what the planner picks for a plain join
    without statistics) made every batch cost grow with the whole store."""
    for i in range(3):
        store.insert(_entry(f"row {i}", status="ok"))
    c = store.connection()
    for sql in (_schema.INDEX_PENDING, _schema.INDEX_PENDING.replace("entries_fts", "temp.pending_fts", 1)):
        if "temp." in sql:
            c.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.pending_fts USING fts5(text)")
        plan = [str(r[3]) for r in c.execute("EXPLAIN QUERY PLAN " + sql)]
        assert any(p.startswith("SCAN p") for p in plan), plan
        assert any(p.startswith("SEARCH e USING INTEGER PRIMARY KEY") for p in plan), plan
    store.close()
