"""Checkpointer: the WAL is folded into the database by a thread of the store's, not by the call that commits."""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from tokenhot_nb.errors import StoreError
from tokenhot_nb.history import HistoryEntry, Store, _checkpoint


def _record(store: Store, n: int, tag: str = "q") -> None:
    for i in range(n):
        row = store.insert(HistoryEntry(kind="chat", model="m", text=f"{tag} {i}"))
        store.update(row, status="ok", text=f"{tag} {i}\n\nanswer {i}")


def _rows_in_database_file(store: Store, tmp_path: Path) -> int:
    """The rows the database file holds by itself: a copy without its WAL sees only what was checkpointed."""
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(store.db_path, copy)
    with closing(sqlite3.connect(copy)) as conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='entries'").fetchone() is None:
            return 0  # even the schema is still in the WAL
        return int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])


def _wait_for(check: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.01)
    return False


def _checkpointed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: int, calls: int) -> Store:
    """A store whose thread has run its first checkpoint (after ``calls`` recorded calls, two commits each)."""
    monkeypatch.setattr(_checkpoint, "EVERY", every)
    store = Store(tmp_path / "s")
    _record(store, calls)
    assert _wait_for(lambda: store._checkpoints.done >= 1)
    return store


def test_commits_are_checkpointed_by_the_stores_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every EVERY commits a PASSIVE checkpoint runs on the store's own thread; the writer's connection leaves
    the WAL alone below the backstop, far above what 20 small commits write."""
    monkeypatch.setattr(_checkpoint, "EVERY", 8)
    store = Store(tmp_path / "s")
    store.count()
    writer = store.connection()
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == _checkpoint.BACKSTOP
    checkpoints: list[str] = []
    writer.set_trace_callback(lambda sql: checkpoints.append(sql) if "checkpoint" in sql.lower() else None)
    _record(store, 10)  # 20 commits: two checkpoints asked for (one, if the second came while the first ran)
    assert _wait_for(lambda: store._checkpoints.done >= 1)
    assert checkpoints == []  # none on the writer's connection
    assert _rows_in_database_file(store, tmp_path) >= 4  # folded into the file by the other thread
    store.close()


def test_without_the_thread_a_writer_keeps_its_pages_in_the_wal(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The control for the test above: with no checkpoint asked for, the same commits stay in the WAL (so the
    rows the file held there were put there by the store's thread)."""
    monkeypatch.setattr(_checkpoint, "EVERY", 10**9)
    store = Store(tmp_path / "s")
    _record(store, 10)
    assert _rows_in_database_file(store, tmp_path) == 0
    assert store._checkpoints.done == 0 and store._checkpoints._thread is None
    store.close()


def test_close_ends_the_thread_and_folds_the_wal_and_a_reused_store_starts_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _checkpointed(tmp_path, monkeypatch, 4, 4)
    thread = store._checkpoints._thread
    assert thread is not None and thread.is_alive()
    store.close()
    assert not thread.is_alive()
    assert not store.db_path.with_name(store.db_path.name + "-wal").exists()  # the last connection folded it
    assert _rows_in_database_file(store, tmp_path) == 4
    _record(store, 4, "again")  # used after close(): it opens again, and so does its checkpointer
    assert _wait_for(lambda: store._checkpoints.done >= 2)
    assert store.count() == 8
    store.close()


def test_a_store_dropped_without_close_ends_its_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _checkpointed(tmp_path, monkeypatch, 2, 2)
    thread = store._checkpoints._thread
    assert thread is not None
    del store
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()


def test_a_reader_pinning_the_wal_holds_up_neither_the_writers_nor_the_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PASSIVE copies what no reader still needs and returns; the rest is folded in once the reader is gone."""
    store = _checkpointed(tmp_path, monkeypatch, 2, 1)
    blocker = sqlite3.connect(store.db_path, isolation_level=None)
    blocker.execute("BEGIN")
    assert blocker.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
    _record(store, 3)
    assert _wait_for(lambda: store._checkpoints.done >= 2)
    blocker.execute("COMMIT")
    blocker.close()
    assert store.count() == 4
    store.close()
    assert _rows_in_database_file(store, tmp_path) == 4


def test_a_checkpoint_that_fails_is_given_up_quietly_and_the_next_one_is_tried_afresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_checkpoint, "EVERY", 2)
    real = sqlite3.connect
    failed: list[str] = []

    def connect(*args: object, **kw: object) -> sqlite3.Connection:
        if threading.current_thread().name == "tokenhot-checkpoint" and not failed:
            failed.append("once")
            raise sqlite3.OperationalError("unable to open database file")
        return real(*args, **kw)  # type: ignore[arg-type,call-overload]

    store = Store(tmp_path / "s")
    store.count()  # the writer's connection, opened before the stand-in
    monkeypatch.setattr(_checkpoint.sqlite3, "connect", connect)
    _record(store, 1)
    assert _wait_for(lambda: store._checkpoints.failed == 1)
    assert failed == ["once"] and store._checkpoints.done == 0
    _record(store, 1)
    assert _wait_for(lambda: store._checkpoints.done >= 1)  # the same thread, alive, opened a connection
    thread = store._checkpoints._thread
    assert thread is not None and thread.is_alive()
    monkeypatch.setattr(_checkpoint.sqlite3, "connect", real)
    store.close()
    assert _rows_in_database_file(store, tmp_path) == 2


def test_a_database_file_deleted_under_the_store_is_not_made_again(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_checkpoint, "EVERY", 2)
    store = Store(tmp_path / "s")
    store.count()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.db_path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StoreError, match="was deleted"):  # the writer refuses to write into the deleted file
        _record(store, 1)
    store._checkpoints.request()
    assert _wait_for(lambda: store._checkpoints.done + store._checkpoints.failed >= 1)
    assert (store._checkpoints.done, store._checkpoints.failed) == (0, 1)
    assert not store.db_path.exists()
    store.close()


_FORKED = """
import os, sys, time
from tokenhot_nb.history import HistoryEntry, Store, _checkpoint

_checkpoint.EVERY = 2
store = Store(sys.argv[1])
for i in range(2):
    store.insert(HistoryEntry(kind="chat", model="m", text="parent"))
deadline = time.monotonic() + 10
while store._checkpoints.done < 1 and time.monotonic() < deadline:
    time.sleep(0.01)
pid = os.fork()
if pid == 0:  # the child: its parent's checkpoint thread is not here; its commits start one of its own
    code = 1
    try:
        before = store._checkpoints.done
        for i in range(4):
            store.insert(HistoryEntry(kind="chat", model="m", text="child"))
        deadline = time.monotonic() + 10
        while store._checkpoints.done < before + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        code = 0 if store._checkpoints.done > before else 3
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
print(os.WEXITSTATUS(status), store.count())
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_checkpoints_on_a_thread_of_its_own(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _FORKED, str(tmp_path)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "6"], proc.stdout
