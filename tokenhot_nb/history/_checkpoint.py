"""Folding the write-ahead log into the database on a thread of its own, not on the call that writes.

Left to itself, SQLite checkpoints on the commit that takes the WAL past 1,000 pages, on the committing thread:
it syncs the WAL, copies its pages into the database and syncs that, 10–30 ms on a virtual disk. A recorded chat
call writes about a dozen pages, so one call in eighty or so stalled on it (about 0.15 ms a call on average, a
third of what recording adds to a call's wall time). A store's writable connections therefore
checkpoint on their own only past :data:`BACKSTOP` pages (should this thread fall behind), and a
:class:`Checkpointer`, one per store and process, runs a ``PASSIVE`` checkpoint (it never blocks a writer nor
waits for a reader) on its own connection after every :data:`EVERY` commits. The work and its durability are
SQLite's as before (``synchronous=NORMAL``: what a power loss may take is still what came after the last
checkpoint's sync); only the thread that waits for the disk changes.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import threading
import weakref
from pathlib import Path

#: Commits between two checkpoints: about SQLite's own 1,000 pages at the ~6 pages a recorded call's commit writes.
EVERY = 150

#: The WAL pages past which a writer checkpoints on its own after all (``PRAGMA wal_autocheckpoint``): only
#: when the thread here cannot keep up (a reader pinning old pages, a flood of large commits).
BACKSTOP = 8000

_LIVE: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


class Checkpointer:
    """Counts a store's commits (cheaply, from any thread) and has a daemon thread checkpoint every
    :data:`EVERY` of them. The thread is started on the first checkpoint due, again in a forked child (its
    parent's thread is not there), and ended by :meth:`stop`; it opens and closes its own connection."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        # read-write, never create: a store folder deleted under a live session must not get an empty file back
        self._uri = f"{db_path.absolute().as_uri()}?mode=rw"
        self.commits = 0  #: since the last checkpoint asked for (an approximate count: threads may race)
        self.done = 0  #: checkpoints run
        self.failed = 0  #: checkpoints given up (the file locked, gone, damaged)
        self._due = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        _LIVE.add(self)

    def committed(self) -> None:
        """A commit went through; every :data:`EVERY`-th asks the thread for a checkpoint."""
        self.commits += 1
        if self.commits >= EVERY:
            self.commits = 0
            self.request()

    def request(self) -> None:
        if not self._stopping and (self._alive() or self._launch()):
            self._due.set()

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _launch(self) -> bool:
        with self._start:
            if self._stopping:
                return False
            if self._alive():
                return True
            self._due = threading.Event()  # fresh: a forked child's copy may be in any state
            thread = threading.Thread(target=self._run, args=(self._due,), name="tokenhot-checkpoint", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # the interpreter is shutting down: the writers' backstop still holds
                return False
            self._thread = thread
            return True

    def _run(self, due: threading.Event) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                due.wait()
                due.clear()
                if self._stopping:
                    return
                try:
                    if conn is None:
                        conn = sqlite3.connect(self._uri, uri=True, isolation_level=None, check_same_thread=False)
                        conn.execute("PRAGMA synchronous=NORMAL")  # the writers' setting: the same syncs
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.done += 1
                except sqlite3.Error:  # a busy, moved or damaged file: the writers meet it and say so
                    self.failed += 1
                    if conn is not None:
                        conn.close()
                        conn = None
        finally:
            if conn is not None:
                conn.close()

    def stop(self, wait: float = 0.0) -> None:
        """End the thread (after the checkpoint it may be running), waiting for it up to ``wait`` seconds; a
        store used again after ``close()`` starts another."""
        self._stopping = True
        self._due.set()
        thread = self._thread
        if wait > 0 and thread is not threading.current_thread():
            if thread is not None:
                thread.join(wait)
            if thread is None or not thread.is_alive():
                self._thread = None
                self._stopping = False


def _after_fork() -> None:
    for checkpointer in list(_LIVE):
        checkpointer._start = threading.Lock()  # it may have been held by a thread the child does not have


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


@atexit.register
def _stop_all() -> None:
    """At exit each thread closes its connection, so the store's last connection can fold the WAL away."""
    for checkpointer in list(_LIVE):
        checkpointer.stop(wait=2.0)
