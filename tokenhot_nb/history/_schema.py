"""The store's tables, indexes and full-text triggers, and the migrations from every older layout.

A store of an older version is migrated when it is opened for writing (each step in one transaction with its
version bump); a read-only one is read as it is when :data:`READABLE_AS_IS` says its readers tolerate it, and a
file missing a column the code uses (:data:`REQUIRED`) is refused on open rather than failing on a later query.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from ._entry import ENTRY_FIELDS

SCHEMA_VERSION = 6

PENDING_TABLE = "CREATE TABLE IF NOT EXISTS fts_pending (id INTEGER PRIMARY KEY)"
TABLES = [
    """CREATE TABLE IF NOT EXISTS entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL DEFAULT '',
        started REAL NOT NULL,
        duration REAL,
        mode TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        endpoint TEXT NOT NULL DEFAULT '',
        params TEXT NOT NULL DEFAULT '{}',
        request TEXT NOT NULL DEFAULT '{}',
        response TEXT NOT NULL DEFAULT '{}',
        usage TEXT NOT NULL DEFAULT '{}',
        outputs TEXT NOT NULL DEFAULT '[]',
        text TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'running',
        error TEXT,
        thread TEXT,
        replay_key TEXT NOT NULL DEFAULT '',
        parent INTEGER,
        pid INTEGER,
        host TEXT,
        updated REAL,
        pid_start INTEGER
    )""",
    "CREATE INDEX IF NOT EXISTS entries_kind ON entries(kind)",
    "CREATE INDEX IF NOT EXISTS entries_model ON entries(model)",
    "CREATE INDEX IF NOT EXISTS entries_started ON entries(started)",
    "CREATE INDEX IF NOT EXISTS entries_status ON entries(status)",
    "CREATE INDEX IF NOT EXISTS entries_replay ON entries(replay_key, status)",
    "CREATE INDEX IF NOT EXISTS entries_thread ON entries(thread)",
    """CREATE TABLE IF NOT EXISTS artifacts (
        sha256 TEXT PRIMARY KEY,
        mime TEXT NOT NULL,
        size INTEGER NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        suffix TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        data BLOB
    ) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID",
    PENDING_TABLE,
]
#: The full-text index holds finished rows only (status other than ``running``), and takes them in batches: a row
#: that ends is queued in ``fts_pending`` (one small insert) and :data:`FTS_BATCH` queued rows are indexed in one
#: go (the trigram index costs ~115 µs a row indexed alone, ~22 µs in a batch of 32; it was the costliest part of
#: recording a call). A search first indexes what is queued (or, on a read-only store, indexes it in a temporary
#: table for that search), so it always sees every finished row. A queued row is not in the index yet, so
#: changing or deleting it takes nothing out of the index. Schema 4 (schema 3 indexed each row as it ended).
FTS_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS entries_ai AFTER INSERT ON entries WHEN new.status != 'running' BEGIN
        INSERT OR IGNORE INTO fts_pending(id) VALUES (new.id);
    END""",
    """CREATE TRIGGER IF NOT EXISTS entries_ad AFTER DELETE ON entries WHEN old.status != 'running' BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text) SELECT 'delete', old.id, old.text
            WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE id = old.id);
        DELETE FROM fts_pending WHERE id = old.id;
    END""",
    """CREATE TRIGGER IF NOT EXISTS entries_au AFTER UPDATE OF text, status ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text) SELECT 'delete', old.id, old.text
            WHERE old.status != 'running' AND NOT EXISTS (SELECT 1 FROM fts_pending WHERE id = old.id);
        INSERT OR IGNORE INTO fts_pending(id) SELECT new.id WHERE new.status != 'running';
        DELETE FROM fts_pending WHERE id = new.id AND new.status = 'running';
    END""",
]

#: Every change to what a finished row costs (its ``usage``, ``status`` or ``started``; or its deletion) counts one
#: in ``meta('final_changes')``, by whichever process made it, in the same transaction. A budget's tally of the
#: period's finished rows stays good while that count is unchanged (rows added since, and rows still running, are
#: read apart), so a commit by another kernel no longer costs a recount of the whole period. Schema 6.
FINAL_CHANGES = "final_changes"
COST_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS entries_final_au AFTER UPDATE OF usage, status, started ON entries
        WHEN old.status NOT IN ('running', 'pending') AND (new.usage IS NOT old.usage OR new.status IS NOT old.status
            OR new.started IS NOT old.started) BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'final_changes';
    END""",
    """CREATE TRIGGER IF NOT EXISTS entries_final_ad AFTER DELETE ON entries
        WHEN old.status NOT IN ('running', 'pending') BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'final_changes';
    END""",
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('final_changes', '0')",
]

#: How many ended rows wait for the full-text index before they are indexed together.
FTS_BATCH = 32

#: ``CROSS JOIN`` keeps the queue as the outer loop: left to itself (no ``ANALYZE`` statistics) the planner scans
#: every row of ``entries`` and looks each up in the queue, which made a batch cost grow with the store (~200 µs a
#: row at 40k rows, against ~20 µs for the 32 queued rows looked up by id).
INDEX_PENDING = ("INSERT INTO entries_fts(rowid, text) SELECT e.id, e.text FROM fts_pending p "
                  "CROSS JOIN entries e ON e.id = p.id WHERE e.status != 'running'")


def has_fts(c: sqlite3.Connection) -> bool:
    return c.execute("SELECT 1 FROM sqlite_master WHERE name='entries_fts'").fetchone() is not None


def _index_finished_rows_only(c: sqlite3.Connection) -> None:
    """v2 → v3: running rows leave the index (they join it as they end; v3 → v4 puts the triggers in place)."""
    if not has_fts(c):
        return  # a store without full-text search (LIKE): nothing to move
    for old in ("entries_ai", "entries_ad", "entries_au"):
        c.execute(f"DROP TRIGGER IF EXISTS {old}")
    c.execute("INSERT INTO entries_fts(entries_fts, rowid, text) "
              "SELECT 'delete', id, text FROM entries WHERE status='running'")


def _index_in_batches(c: sqlite3.Connection) -> None:
    """v3 → v4: small texts can be kept in the database (``artifacts.data``); ended rows queue for the full-text
    index (every row of a v3 store is indexed already)."""
    c.execute("ALTER TABLE artifacts ADD COLUMN data BLOB")
    c.execute(PENDING_TABLE)
    if not has_fts(c):
        return
    for old in ("entries_ai", "entries_ad", "entries_au"):
        c.execute(f"DROP TRIGGER IF EXISTS {old}")
    for stmt in FTS_TRIGGERS:
        c.execute(stmt)


def _link_thread_turns(c: sqlite3.Connection) -> None:
    """v1 → v2: each ``ok`` chat turn of a thread points at the turn before it (``new_thread`` starts over).

    v1 rows keep the whole conversation in ``request`` (they never carry a ``context`` note), so they stay
    exact; the links let new turns appended to an old thread rebuild their conversation through them.
    """
    last: dict[str, int] = {}
    links: list[tuple[int, int]] = []
    rows = c.execute(
        "SELECT id, thread, params FROM entries WHERE kind='chat' AND status='ok' AND thread IS NOT NULL ORDER BY id"
    )
    for entry_id, thread, params in rows:
        try:
            new = bool((json.loads(params or "{}") or {}).get("new_thread"))
        except (ValueError, AttributeError):
            new = False
        if thread in last and not new:
            links.append((last[thread], entry_id))
        last[thread] = entry_id
    c.executemany("UPDATE entries SET parent=? WHERE id=?", links)


def _name_processes_by_start(c: sqlite3.Connection) -> None:
    """v4 → v5: a row names its process by start time too (``pid_start``; older rows have none: their process is
    looked for by id alone, as before)."""
    if "pid_start" not in {str(r[1]) for r in c.execute("PRAGMA table_info(entries)")}:
        c.execute("ALTER TABLE entries ADD COLUMN pid_start INTEGER")


#: Migrations from version N to N+1 (SQL statements or functions, run in one transaction with the version bump).
MIGRATIONS: dict[int, list[str | Callable[[sqlite3.Connection], None]]] = {
    1: ["ALTER TABLE entries ADD COLUMN parent INTEGER", _link_thread_turns],
    2: [_index_finished_rows_only],
    3: [_index_in_batches],
    4: [_name_processes_by_start],
    5: list(COST_TRIGGERS),
}

#: Older layouts a read-only store can still be read in as they are, and the columns they lack (what changed
#: since is how writes index and keep small texts; the readers tolerate both).
READABLE_AS_IS: dict[int, dict[str, tuple[str, ...]]] = {
    3: {"artifacts": ("data",), "entries": ("pid_start",)},
    4: {"entries": ("pid_start",)},
    5: {},  # (no count of changes to finished rows: a budget's tally is then taken again after any other commit)
}

#: Columns the code reads and writes, per table: a store missing one (another program's file, a hand-edited or
#: half-migrated one) is refused on open, naming what is missing, instead of failing on some later query.
REQUIRED: dict[str, tuple[str, ...]] = {
    "entries": (*ENTRY_FIELDS, "pid", "host", "updated", "pid_start"),
    "artifacts": ("sha256", "mime", "size", "name", "suffix", "created", "data"),
    "meta": ("key", "value"),
}
