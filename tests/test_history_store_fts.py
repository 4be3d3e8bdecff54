"""The full-text index holds finished rows only: a call in flight is indexed once, when it ends (schema 3), and a
schema 2 store (whose triggers indexed every row at once) is moved over on open."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tokenhot_nb.history import SCHEMA_VERSION, History, HistoryEntry, Store

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


def _entry(text: str, status: str = "running") -> HistoryEntry:
    return HistoryEntry(session_id="s", started=time.time(), mode="live", kind="chat", model="m",
                        endpoint="chat.completions", params={"message": text}, status=status, text=text)


def _indexed(store: Store, word: str) -> list[int]:
    return [r[0] for r in store.connection().execute(
        "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rowid", (f'"{word}"',))]


def test_a_running_row_is_indexed_once_when_it_ends(tmp_path: Path) -> None:
    store = Store(tmp_path)
    if store.fts == "none":  # (an SQLite without FTS5 searches with LIKE: nothing to index)
        return
    running = store.insert(_entry("lighthouse question"))
    assert _indexed(store, "lighthouse") == []  # in flight: not in the index (nothing to delete when it ends)
    store.update(running, status="ok", text="lighthouse question\n\nkeeper answer")
    assert _indexed(store, "lighthouse") == [running] and _indexed(store, "keeper") == [running]
    failed = store.insert(_entry("lighthouse failed"))
    store.update(failed, status="error")  # a status change alone indexes the row too
    assert _indexed(store, "failed") == [failed]
    store.update(running, text="renamed text")  # a finished row's text changes: old words leave the index
    assert _indexed(store, "keeper") == [] and _indexed(store, "renamed") == [running]
    done = store.insert(_entry("imported lighthouse", status="ok"))  # a finished row inserted (import) is indexed
    assert _indexed(store, "imported") == [done]
    store.delete([running, failed, store.insert(_entry("lighthouse still running"))])
    assert _indexed(store, "lighthouse") == [done]
    assert [e.id for e in History(store).search("lighthouse")] == [done]
    store.close()


def test_a_schema_2_store_moves_its_running_rows_out_of_the_index(tmp_path: Path) -> None:
    store = Store(tmp_path)
    if store.fts == "none":
        return
    ok = store.insert(_entry("finished lighthouse", status="ok"))
    store.close()
    conn = sqlite3.connect(tmp_path / "history.sqlite", isolation_level=None)  # what a schema 2 store looks like
    for name in ("entries_ai", "entries_ad", "entries_au"):
        conn.execute(f"DROP TRIGGER {name}")
    for stmt in V2_TRIGGERS:
        conn.execute(stmt)
    conn.execute("INSERT INTO entries(session_id, started, mode, kind, model, endpoint, params, request, response, "
                 "usage, outputs, text, status, replay_key, updated) VALUES ('s', 1, 'live', 'chat', 'm', '', '{}', "
                 "'{}', '{}', '{}', '[]', 'inflight lighthouse', 'running', 'k', 1)")
    running = conn.execute("SELECT max(id) FROM entries").fetchone()[0]
    conn.execute("PRAGMA user_version=2")
    conn.close()

    store = Store(tmp_path)
    assert store.connection().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert _indexed(store, "lighthouse") == [ok]  # the running row left the index
    store.update(running, status="interrupted")  # and joins it, once, when it ends
    assert _indexed(store, "lighthouse") == [ok, running]
    store.connection().execute("INSERT INTO entries_fts(entries_fts) VALUES ('integrity-check')")
    store.close()
