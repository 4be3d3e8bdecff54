"""Which thread owns each of a store's SQLite connections, and closing them where that is safe.

sqlite3 connections are not thread-safe and one closed under another thread's query crashes the interpreter, so
a store keeps one connection per thread and remembers the thread (and, when it serves a queue, how to have it run
a function between two jobs); :func:`close_all` closes each where it may.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import sqlite3
import threading
from collections.abc import Callable

#: A thread that serves a queue (the thumbnail worker) says here how to run a function on it between two jobs
_SERVES = threading.local()
#: Connections a closed store could not close at once, with the live thread using them (see :func:`close_all`).
#: A deque and no lock: a store dropped without close() is closed by the garbage collector, which may run in the
#: middle of any code on this thread, this module's included (a lock held there would never be released).
LEFT: collections.deque[tuple[threading.Thread, sqlite3.Connection]] = collections.deque()
#: The thread a connection serves, and how to have that thread run a function later (``None``: no way)
Owner = tuple[threading.Thread, Callable[..., object] | None]


def serves_later(run_later: Callable[..., object]) -> None:
    """The current thread runs ``run_later(fn, *args)`` between its jobs (a one-worker pool's ``submit``): a
    store closed elsewhere has it close its connection itself, as such a job."""
    _SERVES.run_later = run_later


def current_owner() -> Owner:
    later: Callable[..., object] | None = getattr(_SERVES, "run_later", None)
    if later is None:
        try:
            later = asyncio.get_running_loop().call_soon_threadsafe  # it runs between two of the loop's steps
        except RuntimeError:
            pass
    return threading.current_thread(), later


def close_one(conn: sqlite3.Connection, done: concurrent.futures.Future[None] | None = None) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass
    finally:
        if done is not None:
            done.set_result(None)


def close_left() -> None:
    """Close the connections left to the current thread or to threads that have ended."""
    me = threading.current_thread()
    for _ in range(len(LEFT)):  # each once: the ones still in use go back
        try:
            owner, conn = LEFT.popleft()
        except IndexError:
            return
        if owner is me or not owner.is_alive():
            close_one(conn)
        else:
            LEFT.append((owner, conn))


def close_all(conns: dict[sqlite3.Connection, Owner], wait: float = 0.0, *, collected: bool = False) -> None:
    """Close (and forget) a store's connections, each where that is safe.

    A connection closed under another thread's query crashes the interpreter; one left to the garbage collector
    is closed whenever that runs, with a ``ResourceWarning`` on Python 3.13. So this thread's and those of
    ended threads are closed at once; a live thread serving a queue (the session's event loop, the thumbnail
    worker) closes its own as its next job, waited for up to ``wait`` seconds (a closed store's files are
    settled: the last connection to close folds the WAL into the database); another live thread's waits in
    ``LEFT`` until that thread opens a connection again or has ended. A store the garbage collector dropped
    (``collected``) asks no other thread for anything (a pool's ``submit`` takes a lock this thread may hold).
    """
    me = threading.current_thread()
    asked: list[concurrent.futures.Future[None]] = []
    for conn, (owner, later) in list(conns.items()):
        if owner is me or not owner.is_alive():
            close_one(conn)
            continue
        if later is not None and not collected:
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            try:
                later(close_one, conn, done)
                asked.append(done)
                continue
            except RuntimeError:  # its loop was closed, its pool shut down
                pass
        LEFT.append((owner, conn))
    conns.clear()
    close_left()
    if asked and wait > 0:
        concurrent.futures.wait(asked, timeout=wait)


atexit.register(close_left)
