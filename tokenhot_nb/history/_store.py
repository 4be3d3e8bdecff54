"""The history store: one SQLite file in WAL mode plus a folder of content-addressed artifacts.

Designed for several kernels writing at once and for processes killed mid-call:

* every write is one short ``BEGIN IMMEDIATE`` transaction, retried while the database is locked;
* artifact files are written atomically (temp file + ``os.replace``, see :mod:`._artifacts`); there is no
  fsync, so like the database (WAL, ``synchronous=NORMAL``) the newest writes may be lost on power loss,
  never half-written;
* a call is inserted as ``running`` and updated when it ends, so a killed call stays ``running``, never
  half-written, until its process is known to be gone: then it is marked ``interrupted``, keeping what it holds.
  A row names its process by id and start time (an id is handed on to newer processes; see :func:`_gone`), and
  rows of gone processes of this host are looked for when a store is opened, and again whenever the history is
  listed or searched and the budget counted (one indexed read; a worker that crashed under a long-lived kernel);
* one connection per thread (sqlite3 objects are not thread-safe), opened lazily, reset after fork, and closed
  by :meth:`Store.close` (or when the store is dropped) in the thread that is using it (see :func:`close_all`);
* a store that cannot be written (a read-only mount, a colleague's folder, a checked-in store) opens read-only
  (SQLite ``mode=ro``, or ``immutable=1`` when the WAL index cannot be created either): its history can be
  listed, searched, exported and replayed; any write is refused with one :class:`StoreError` naming the path.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .. import _host
from .._config import Secret
from ..errors import StoreError
from ._artifacts import TEMP_PREFIX as TEMP_PREFIX
from ._artifacts import THUMB_PX as THUMB_PX
from ._artifacts import ArtifactFiles
from ._artifacts import mime_for as mime_for
from ._artifacts import sha256_file as sha256_file
from ._artifacts import suffix_for as suffix_for
from ._checkpoint import BACKSTOP as CHECKPOINT_BACKSTOP
from ._checkpoint import Checkpointer
from ._connections import LEFT as LEFT
from ._connections import Owner, close_all, close_left, close_one, current_owner
from ._connections import serves_later as serves_later
from ._entry import (
    ENTRY_FIELDS,
    JSON_FIELDS,
    HistoryEntry,
    dumps,
    dumps_redacted,
    error_dict,
    escaped_secrets,
    is_clean,
    jsonable,
)
from ._replay import differences, replay_key, similarity
from ._schema import COST_TRIGGERS, FTS_TRIGGERS, INDEX_PENDING, MIGRATIONS, READABLE_AS_IS, REQUIRED, TABLES
from ._schema import FTS_BATCH as FTS_BATCH
from ._schema import SCHEMA_VERSION as SCHEMA_VERSION
from ._spending import Spending, Unknown
from ._spending import unknown as _unknown_costs

DB_NAME = "history.sqlite"

_T = TypeVar("_T")
_HOST = _host.ID  #: this host and its process-id namespace (see :mod:`.._host`)
#: This process's id, kept current across ``os.fork`` (asking the kernel on every write costs a system call).
_pid = os.getpid()


def _start_of(pid: int | str) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (field 22 of ``/proc/<pid>/stat``): with the id, it
    names one process, never a newer one the id was handed on to. ``None`` without ``/proc`` (not Linux) or when
    there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])  # (the name in parentheses may hold spaces)
    except (OSError, ValueError, IndexError):
        return None


#: This process's start time (:func:`_start_of`), written with its id on every row it records.
_started = _start_of("self")


def _after_fork() -> None:
    global _pid, _started
    _pid = os.getpid()
    _started = _start_of("self")


if hasattr(os, "register_at_fork"):  # no fork (Windows): the id never changes
    os.register_at_fork(after_in_child=_after_fork)


Cond = tuple[str, tuple[Any, ...]]

_COLUMNS = ", ".join(ENTRY_FIELDS)
_STATUS_AT = ENTRY_FIELDS.index("status")
_INSERT_COLS = [f for f in ENTRY_FIELDS if f != "id"]
_INSERT_NAMES = tuple(_INSERT_COLS)
_insert_values = operator.attrgetter(*_INSERT_COLS)  # an entry's values in _INSERT_COLS order, as one tuple
_UPDATABLE = frozenset(_INSERT_COLS)
_REKEYED = frozenset({"kind", "model", "endpoint", "params"})
_FINAL = frozenset({"ok", "error", "interrupted"})
_UPDATE_SQL: dict[tuple[tuple[str, ...], bool], str] = {}
#: Text columns, redacted like the text inside JSON columns.
_TEXT_COLUMNS = frozenset({"text", "session_id", "mode", "kind", "model", "endpoint", "status", "replay_key"})
_Plan = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]
_PLANS: dict[tuple[str, ...], _Plan] = {}


def _plan(names: Sequence[str]) -> _Plan:
    """Where the JSON (but ``error``), text, ``thread`` and ``error`` columns are among ``names`` (worked out once
    per set of columns): :meth:`Store._norm_all` goes straight to them."""
    key = tuple(names)
    plan = _PLANS.get(key)
    if plan is None:
        plan = (tuple(i for i, n in enumerate(key) if n in JSON_FIELDS and n != "error"),
                tuple(i for i, n in enumerate(key) if n in _TEXT_COLUMNS),
                tuple(i for i, n in enumerate(key) if n == "thread"),
                tuple(i for i, n in enumerate(key) if n == "error"))
        if len(_PLANS) < 256:  # a few shapes in practice
            _PLANS[key] = plan
    return plan


#: Fields an inserted entry takes back from its row (redacted, JSON-safe).
_KEPT_ON_ENTRY = (*sorted(JSON_FIELDS), "text")
_INSERT_SQL = (
    f"INSERT INTO entries ({', '.join(_INSERT_COLS)}, pid, pid_start, host, updated) "
    f"VALUES ({', '.join('?' * len(_INSERT_COLS))}, ?, ?, ?, ?)"
)
#: The row an imported entry already is, every column the same (the same export loaded twice); ``IS`` matches
#: NULLs too, and ``started``, indexed, comes first.
_HELD_SQL = "SELECT id FROM entries WHERE " + " AND ".join(f"{c} IS ?" for c in _INSERT_COLS) + " LIMIT 1"
_IMPORT_SQL = f"INSERT INTO entries ({', '.join(_INSERT_COLS)}, updated) VALUES ({', '.join('?' * (len(_INSERT_COLS) + 1))})"


def _is_busy(err: BaseException) -> bool:
    msg = str(err).lower()
    return isinstance(err, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


def _is_store_fault(err: BaseException) -> bool:
    """An OS or SQLite failure of the store itself (disk full, read-only, damaged), not of the caller's code."""
    if isinstance(err, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)):
        return False
    return isinstance(err, (sqlite3.OperationalError, sqlite3.DatabaseError, OSError))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _gone(pid: int, started: int | None) -> bool:
    """Whether the process of this host that wrote a row (its id, and its start time when the row has one) is
    gone. A live process with that id that started at another time is a newer one the id was handed on to (this
    process too: a kernel restarted in a container often gets its predecessor's id). A row without a start time
    (written by an older version), or a process whose start cannot be read (no ``/proc``, another user's process
    hidden), is looked for by id alone."""
    if pid == _pid:
        return started is not None and _started is not None and started != _started
    if started is not None:
        now = _start_of(pid)
        if now is not None:
            return now != started
    return not _pid_alive(pid)


#: The running rows of this host's other processes (this process's own calls are in flight: left out here). A
#: row written before hosts were named with their process-id namespace names the host alone: looked for as before.
_OTHERS_RUNNING = ("SELECT id, pid, pid_start FROM entries WHERE status='running' AND host IN (?, ?) "
                   "AND pid IS NOT NULL AND NOT (pid=? AND pid_start IS ?)")


def _interrupted(entry_id: int, response: str | None) -> str:
    """The error of a row whose process died mid-call, saying what the row kept: an image answer's links (paid
    for: fetched again from them, not made again), or a streaming answer's text so far."""
    try:
        kept = json.loads(response or "{}")
    except ValueError:
        kept = None
    if not isinstance(kept, dict):
        kept = {}
    if kept.get("images"):
        return dumps({"error": "Interrupted", "message": "The process recording this call stopped while it was "
                      "downloading the images.", "hint": "They were paid for and their links kept: fetch them "
                      f"with session.resume({entry_id}) (no new call, no new charge)."})
    if kept.get("partial"):
        return dumps({"error": "Interrupted", "message": "The process recording this call stopped while the answer "
                      "was arriving; the text received until shortly before is kept in the entry's text.",
                      "hint": "Run the call again for the whole answer (entry.rerun())."})
    return dumps({"error": "Interrupted", "message": "The process recording this call stopped before it ended.",
                  "hint": "Run the call again (entry.rerun())."})


class _Backoff:
    """Waiting between tries while the database is locked: from 5 ms, doubling up to 0.25 s, for 60 s in all."""

    __slots__ = ("deadline", "delay")

    def __init__(self) -> None:
        self.deadline = time.monotonic() + 60
        self.delay = 0.005

    def __call__(self) -> bool:
        """Sleep before the next try → True; False once the time is up."""
        if time.monotonic() >= self.deadline:
            return False
        time.sleep(self.delay)
        self.delay = min(self.delay * 2, 0.25)
        return True


#: A JSON escape of a printable ASCII character, ``\\u0041`` or ``\\/`` (an even run of backslashes before it:
#: not an escaped backslash). This version's JSON never holds one (it escapes only controls, quotes and
#: backslashes); a key is printable ASCII, and escaped it holds no key for a text search while every JSON reader
#: decodes it.
_ASCII_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\(?:u00[2-7][0-9a-fA-F]|/)")


def may_hold_key(text: str, secrets: Sequence[Secret | str], escaped: tuple[str, ...]) -> bool:
    """Whether stored text (a row's columns, or an export line) may hold a key. This version writes none, but a
    store written by another version or tool (opened with ``History(path)``, or copied in) may, plainly or
    escaped inside JSON; such a row is redacted value by value when it is read or exported, so nothing shown,
    exported or generated from it carries the key."""
    if ("\\u" in text or "\\/" in text) and _ASCII_ESCAPE.search(text):  # (plain searches first: it is slow)
        return True
    return not is_clean(text, tuple(secrets), escaped)


class Store(ArtifactFiles):
    """``root/history.sqlite`` (WAL) + ``root/artifacts/<sha[:2]>/<sha><suffix>``.

    The entry database lives here; the artifact files (``add_bytes``, ``add_file``, ``path_of``, ``has``,
    ``artifact``, ``check``, ``thumbnail``, ``audio_duration``…) come from :class:`ArtifactFiles`.

    ``secrets``: extra values (e.g. the session's :class:`Secret` key) redacted from everything
    written, on top of anything shaped like ``sk-…``.
    """

    #: Full-text flavours tried in order when a store is created; none → plain ``LIKE`` search.
    fts_tokenizers: tuple[str, ...] = ("trigram", "unicode61 remove_diacritics 2")

    def __init__(self, root: str | os.PathLike[str], *, secrets: Sequence[Secret | str] = (),
                 read_only: bool = False) -> None:
        # absolute: a relative store (the default '.tokenhot') must stay the same folder after ``%cd`` / os.chdir,
        # or the next thread's connection opened another file ("was deleted while this session had it open") and
        # artifacts went to a second folder
        self.root = Path(root).expanduser().absolute()
        from ._problems import check_not_special

        check_not_special(self.root)  # (/proc would "open", and fail at the first call in words that say nothing)
        #: True when the store is only read: asked for, or found unwritable when it was opened (``why_read_only``)
        self.read_only = bool(read_only)
        self.why_read_only = "opened read-only" if read_only else ""
        self.db_path = self.root / DB_NAME
        self.secrets: tuple[Secret | str, ...] = tuple(s for s in secrets if s)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: dict[sqlite3.Connection, Owner] = {}  # each connection and the thread it serves
        # a store dropped without close() closes its connections too (History(path) has no close of its own)
        weakref.finalize(self, close_all, self._conns, collected=True)
        self._checkpoints = Checkpointer(self.db_path)
        weakref.finalize(self, self._checkpoints.stop)
        self._ready = False
        self._file: tuple[int, int] | None = None  #: (device, inode) of the database file this store opened
        self._pid = _pid
        self._fts = "none"
        self._ended = 0  # rows this store ended since it last indexed the queue
        self._spending = Spending()  # what budget periods cost, counted incrementally
        self._init_artifact_files()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r}{', read_only=True' if self.read_only else ''})"

    def add_secret(self, secret: Secret | str | None) -> None:
        if secret and secret not in self.secrets:
            self.secrets = (*self.secrets, secret)

    # ------------------------------------------------------------ connections / schema

    def _conn(self) -> sqlite3.Connection:
        if self._pid != _pid:  # forked: never reuse the parent's connections
            self._local = threading.local()
            self._conns.clear()
            self._pid = _pid
            self._lock = threading.Lock()
            self._spending = Spending()  # (its lock may have been held by a thread the child does not have)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        close_left()  # this thread's connections to closed stores: it is not using them now
        if self._file is not None:  # (not into a file made afresh where the store's was deleted)
            self._check_same_file()
        try:
            conn = self._open_connection()
        except (OSError, sqlite3.Error) as exc:
            from ._problems import store_problem

            raise store_problem(self.root, self.db_path, exc) from exc
        self._local.conn = conn
        first = False
        with self._lock:
            self._conns[conn] = current_owner()
            if not self._ready:
                try:
                    self._init_schema(conn)
                except BaseException as exc:
                    from ._problems import store_problem

                    self._conns.pop(conn, None)
                    self._local.conn = None
                    conn.close()
                    if isinstance(exc, (OSError, sqlite3.Error)):
                        raise store_problem(self.root, self.db_path, exc) from exc
                    raise
                self._ready = first = True
                if not self.read_only:
                    here = self._file_id()
                    self._file = here if here is not None and here[1] else None  # (no inode numbers: not watched)
        if first:
            self.recover()
        return conn

    def _file_id(self) -> tuple[int, int] | None:
        """(device, inode) of the database file now at :attr:`db_path`; ``None`` when there is none."""
        try:
            st = os.stat(self.db_path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _check_same_file(self) -> None:
        """A database deleted (``rm -rf`` of the store folder to start over) or replaced (a backup put back)
        under this store is refused with one :class:`StoreError`: SQLite would go on writing into the deleted
        file, and every call recorded from then on would be lost without a word."""
        if self._file_id() != self._file:
            from ._problems import replaced_problem

            raise replaced_problem(self.root, self.db_path, exists=self.db_path.exists())

    def _open_connection(self) -> sqlite3.Connection:
        """A writable connection; an existing store that cannot be written opens read-only instead."""
        if not self.read_only:
            try:
                conn = self._open_writable()
                if os.access(self.db_path, os.W_OK):
                    return conn
                conn.close()  # SQLite opened a file it may not write silently read-only: say so up front
                from ._problems import read_only_mount

                self.read_only = True
                self.why_read_only = ("read-only file system" if read_only_mount(self.root)
                                      else "no permission to write the database file")
            except (OSError, sqlite3.Error) as exc:
                from ._problems import cannot_write, why_unwritable

                if not (cannot_write(exc) and self.db_path.is_file()):
                    raise
                self.read_only = True
                self.why_read_only = why_unwritable(self.root, exc)
        return self._open_read_only()

    def _open_writable(self) -> sqlite3.Connection:
        self.root.mkdir(parents=True, exist_ok=True)
        self.artifacts_dir.mkdir(exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            deadline = time.monotonic() + 30
            while True:
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as e:
                    if not _is_busy(e) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_BACKSTOP}")  # the store's Checkpointer does it
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """``mode=ro``; if SQLite cannot even create the WAL index beside the file (a read-only folder with no
        ``-shm`` left), ``immutable=1``: the file is read as it is (rows still in a live writer's WAL are not seen).
        """
        if not self.db_path.is_file():
            raise FileNotFoundError(f"no history database at {self.db_path}")
        uri = self.db_path.absolute().as_uri()
        last: sqlite3.Error | None = None
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            conn = sqlite3.connect(f"{uri}?{flags}", uri=True, timeout=10.0, isolation_level=None,
                                   check_same_thread=False)
            try:
                conn.execute("PRAGMA busy_timeout=10000")
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the file (and its WAL)
                return conn
            except sqlite3.Error as e:
                conn.close()
                last = e
        assert last is not None
        raise last

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        from ._problems import not_upgradable

        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            self._check_columns(conn)
            self._fts = self._fts_mode(conn)
            return
        if version > SCHEMA_VERSION:
            from ..errors import ConfigError

            raise ConfigError(
                f"The history store {self.root} was written by a newer tokenhot_nb (schema {version}).",
                hint="Upgrade tokenhot_nb, or point the session at another store folder (store=…).",
            )
        if self.read_only:
            if version in READABLE_AS_IS:
                self._check_columns(conn, lacking_ok=READABLE_AS_IS[version])
                self._fts = self._fts_mode(conn)
                return
            raise not_upgradable(self.root, self.db_path, version, self.why_read_only)

        def create(c: sqlite3.Connection) -> None:
            v = c.execute("PRAGMA user_version").fetchone()[0]
            if v == 0:
                for stmt in (*TABLES, *COST_TRIGGERS):
                    c.execute(stmt)
                fts = "none"
                for tokenizer in self.fts_tokenizers:
                    try:
                        c.execute(
                            "CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5("
                            f"text, content='entries', content_rowid='id', tokenize='{tokenizer}')"
                        )
                        fts = tokenizer.split()[0]
                        break
                    except sqlite3.OperationalError:
                        continue
                if fts != "none":
                    for stmt in FTS_TRIGGERS:
                        c.execute(stmt)
                c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('fts', ?)", (fts,))
                v = SCHEMA_VERSION  # TABLES is the newest schema
            while v < SCHEMA_VERSION:
                for step in MIGRATIONS.get(v, []):
                    if callable(step):
                        step(c)
                    else:
                        c.execute(step)
                v += 1
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

        self._tx(create, conn)
        self._check_columns(conn)
        self._fts = self._fts_mode(conn)

    def _check_columns(self, conn: sqlite3.Connection, lacking_ok: dict[str, tuple[str, ...]] | None = None) -> None:
        from ._problems import missing_columns

        for table, needed in REQUIRED.items():
            have = {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}
            lacking = [c for c in needed if c not in have and c not in (lacking_ok or {}).get(table, ())]
            if lacking:
                raise missing_columns(self.root, self.db_path, table, lacking, exists=bool(have))

    @property
    def fts(self) -> str:
        """The full-text flavour of this store: ``trigram``, ``unicode61`` or ``none`` (LIKE)."""
        self._conn()
        return self._fts

    @staticmethod
    def _fts_mode(conn: sqlite3.Connection) -> str:
        row = conn.execute("SELECT value FROM meta WHERE key='fts'").fetchone()
        return str(row[0]) if row else "none"

    def _tx(self, fn: Callable[[sqlite3.Connection], _T], conn: sqlite3.Connection | None = None) -> _T:
        """Run ``fn`` in one short ``BEGIN IMMEDIATE`` transaction, retrying while locked.

        A store that cannot take the write (read-only, disk full, damaged) raises :class:`StoreError`.
        """
        c = conn or self._conn()
        if self.read_only:
            raise self.read_only_error()
        if self._file is not None:
            self._check_same_file()
        wait: _Backoff | None = None  # made when the database is first found locked
        while True:
            try:
                c.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if _is_busy(e) and (wait := wait or _Backoff())():
                    continue
                raise self.problem(e) from e
            taken = None
            try:
                if self._pending:  # artifact rows left for this commit (see ArtifactFiles._register)
                    taken = self._flush_pending(c)
                result = fn(c)
                c.execute("COMMIT")
                self._checkpoints.committed()
                return result
            except BaseException as e:
                try:
                    c.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if taken:
                    self._restore_pending(taken)
                if _is_busy(e) and (wait := wait or _Backoff())():
                    continue
                if _is_store_fault(e):
                    raise self.problem(e) from e
                raise

    def problem(self, exc: BaseException, *, writing: bool = True) -> BaseException:
        """``exc`` (an OS/SQLite failure to write, or to read) as the :class:`StoreError` naming this store and
        the fix."""
        from ._problems import store_problem

        return store_problem(self.root, self.db_path, exc, writing=writing)

    def read_only_error(self) -> BaseException:
        """The :class:`StoreError` any write to a read-only store raises."""
        from ._problems import read_only_problem

        return read_only_problem(self.root, self.why_read_only)

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read; a database damaged past its first page (or of another layout) is the
        :class:`StoreError` naming it, not a bare ``sqlite3.DatabaseError``."""
        return self._read(sql, args, one=False)  # type: ignore[no-any-return]

    def _row(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of one read (``None`` when there is none); errors as :meth:`_rows`."""
        return self._read(sql, args, one=True)

    def _read(self, sql: str, args: Sequence[Any], *, one: bool) -> Any:
        try:
            try:
                cursor = self._conn().execute(sql, args)
            except sqlite3.OperationalError as e:
                if "pending_fts" not in str(e):
                    raise
                self._unindexed()  # a read-only search's view, read from another thread: its own temporary index
                cursor = self._conn().execute(sql, args)
            return cursor.fetchone() if one else cursor.fetchall()
        except sqlite3.DatabaseError as e:
            if _is_store_fault(e):
                raise self.problem(e, writing=False) from e
            raise
        except UnicodeEncodeError:  # (a thread name holding a lone surrogate: SQLite takes UTF-8 only)
            from ._problems import not_unicode

            raise not_unicode(args) from None

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (for ad-hoc SQL; keep transactions short)."""
        return self._conn()

    def close(self) -> None:
        self.wait_thumbnails()
        if self._ready and not self.read_only:
            try:  # artifact rows still waiting for a commit, and ended rows for the full-text index
                if self._pending or self._queued():
                    self._tx(self._index_pending)
            except (sqlite3.Error, StoreError):
                pass
        self._checkpoints.stop(wait=10.0)  # first: the last connection to close folds the WAL away
        with self._lock:  # another thread may be inside a query on its connection right now (a poll still
            conns = dict(self._conns)  # running while a notebook resets its session): that thread closes it
            self._conns.clear()
        close_all(conns, wait=10.0)
        self._local = threading.local()
        self._ready, self._file = False, None  # used again: it opens the database now at db_path

    async def to_thread(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``asyncio.to_thread(fn, *args)`` for work that uses this store: the pool worker closes the connection
        it opened, which would otherwise stay open, idle, as long as the worker (closing the store cannot reach
        it: a connection is closed only by the thread that uses it)."""
        return await asyncio.to_thread(self._then_release, fn, *args)

    def _then_release(self, fn: Callable[..., _T], *args: Any) -> _T:
        try:
            return fn(*args)
        finally:
            conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
            if conn is not None:
                self._local.conn = None
                with self._lock:
                    self._conns.pop(conn, None)
                close_one(conn)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recover(self) -> int:
        """Mark ``running`` rows of this host whose process is gone as ``interrupted``; returns how many.

        Downloads those processes left half-written (``artifacts/incoming/*.part``) are deleted too.
        """
        conn = self._conn()
        if self.read_only:  # another process's store, seen as it is: nothing here may be marked or deleted
            return 0
        incoming = self.artifacts_dir / "incoming"
        if incoming.is_dir() and any(incoming.glob("*.part")):  # (imported only then: it brings the client)
            from ..client._download import sweep_partial

            sweep_partial(incoming)
        return self._mark_gone(conn)

    def notice_gone(self) -> None:
        """Mark the rows of this host's processes that are gone ``interrupted`` (see :meth:`recover`): a worker
        that crashed while this long-lived process had the store open. Run before the history is listed or
        searched and the budget counted (:meth:`get` checks its one row, when it is running); one indexed read when there is nothing to mark. Never fails the read it
        comes before (that read says what is wrong with the store, if anything)."""
        try:
            conn = self._conn()
            if not self.read_only:
                self._mark_gone(conn)
        except (sqlite3.Error, StoreError):
            pass

    def _mark_gone(self, conn: sqlite3.Connection, entry_id: int | None = None) -> int:
        """Mark the rows of gone processes ``interrupted`` (only row ``entry_id`` when given); how many."""
        try:
            if entry_id is None:
                rows = conn.execute(_OTHERS_RUNNING, (_HOST, _host.NAME, _pid, _started)).fetchall()
            else:
                rows = conn.execute(_OTHERS_RUNNING + " AND id=?", (_HOST, _host.NAME, _pid, _started, entry_id)).fetchall()
        except sqlite3.DatabaseError as e:
            if _is_store_fault(e):
                raise self.problem(e, writing=False) from e
            raise
        if not rows:
            return 0
        seen: dict[tuple[int, int | None], bool] = {}
        dead = []
        for i, pid, started in rows:
            key = (int(pid), started)
            if key not in seen:
                seen[key] = _gone(*key)
            if seen[key]:
                dead.append(int(i))
        if not dead:
            return 0
        now = time.time()

        def mark(c: sqlite3.Connection) -> int:
            n = 0
            for i in dead:
                row = c.execute("SELECT response FROM entries WHERE id=? AND status='running'", (i,)).fetchone()
                if row is None:  # (ended meanwhile)
                    continue
                n += c.execute(
                    "UPDATE entries SET status='interrupted', error=COALESCE(error, ?), updated=?, usage=CASE "
                    "WHEN NOT json_valid(usage) THEN usage "  # no longer in flight: a known cost ends the reservation,
                    "WHEN json_extract(usage, '$.cost.usd') IS NULL THEN usage "  # else it may have been billed: kept
                    "ELSE json_remove(usage, '$.reserved') END "
                    "WHERE id=? AND status='running'", (_interrupted(i, row[0]), now, i)
                ).rowcount
            return n

        try:
            return self._tx(mark, conn)
        finally:
            self._spending.reset()

    # ------------------------------------------------------------ entries

    def _norm(self, name: str, value: Any) -> Any:
        return self._norm_kept(name, value)[0]

    def _norm_kept(self, name: str, value: Any) -> tuple[Any, Any]:
        """``(what the column stores, the Python value an entry holds for it)``.

        JSON columns are encoded once and redacted once per text (:func:`dumps_redacted`); when nothing was
        redacted the entry keeps the value it was given, so a finished row is never read back or decoded.
        """
        if name == "error":
            e = error_dict(value, self.secrets)
            return (None, None) if e is None else (dumps(e), e)
        if name in JSON_FIELDS:
            if value is None:
                value = [] if name == "outputs" else {}
            elif name == "usage" and not isinstance(value, dict):
                value = jsonable(value, self.secrets)
            text, clean = dumps_redacted(value, self.secrets, escaped=self._escaped_secrets())
            return text, (value if clean and isinstance(value, (dict, list)) else json.loads(text))
        if name in ("text", "session_id", "mode", "kind", "model", "endpoint", "status", "replay_key"):
            v = jsonable("" if value is None else str(value), self.secrets)
            return v, v
        if name == "thread":
            v = None if value is None else jsonable(str(value), self.secrets)
            return v, v
        return value, value

    def _norm_all(self, names: Sequence[str], values: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
        """:meth:`_norm_kept` of several columns (``names`` and their ``values``), with one redaction check over
        all of their text.

        A row's columns are encoded, then joined and checked once (the known keys are literal searches, the key
        pattern one scan; no match can span two columns: the separator is not part of any key). Only when that
        finds something, or a value JSON cannot hold as it is (an error, bytes, a dataclass…), does each column
        take the careful path: what is stored is the same either way. Empty JSON columns are the constants
        ``{}`` / ``[]`` (nothing to encode or check).
        """
        json_at, text_at, thread_at, error_at = _plan(names)
        stored = list(values)
        kept = dict(zip(names, stored, strict=True))
        texts: list[str] = []
        for i in error_at:
            if stored[i] is not None:
                return self._norm_each(names, values)
        for i in json_at:
            value = stored[i]
            if value is None:
                outputs = names[i] == "outputs"
                kept[names[i]] = [] if outputs else {}
                stored[i] = "[]" if outputs else "{}"
            elif not isinstance(value, (dict, list)):
                return self._norm_each(names, values)
            elif not value:
                stored[i] = "{}" if isinstance(value, dict) else "[]"
            else:
                try:
                    stored[i] = text = dumps(value)
                except (TypeError, ValueError, RecursionError):
                    return self._norm_each(names, values)
                texts.append(text)
        for i in text_at:
            v = stored[i]
            if type(v) is not str:
                stored[i] = kept[names[i]] = v = "" if v is None else str(v)
            texts.append(v)
        for i in thread_at:
            v = stored[i]
            if v is not None:
                if type(v) is not str:
                    stored[i] = kept[names[i]] = v = str(v)
                texts.append(v)
        if not is_clean("\x00".join(texts), self.secrets, self._escaped_secrets()):
            return self._norm_each(names, values)
        return stored, kept

    def _norm_each(self, names: Sequence[str], values: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
        stored: list[Any] = []
        kept: dict[str, Any] = {}
        for name, value in zip(names, values, strict=True):
            s, kept[name] = self._norm_kept(name, value)
            stored.append(s)
        return stored, kept

    def _escaped_secrets(self) -> tuple[str, ...]:
        """:func:`escaped_secrets` of this store's secrets, worked out once per set of secrets."""
        cached: tuple[tuple[Secret | str, ...], tuple[str, ...]] | None = getattr(self, "_escaped", None)
        if cached is None or cached[0] is not self.secrets:
            cached = self._escaped = (self.secrets, escaped_secrets(self.secrets))
        return cached[1]

    def as_stored(self, name: str, value: Any) -> Any:
        """The value an entry holds for field ``name`` once written (redacted, JSON-safe), without writing it:
        what a call whose row could not be finished keeps in memory."""
        return self._norm_kept(name, value)[1]

    def key_for(self, kind: str, model: str, endpoint: str | None, params: Any) -> str:
        """The replay key, redacting this store's secrets the same way rows are written."""
        return replay_key(kind, model, endpoint, params, self.secrets)

    def insert(self, entry: HistoryEntry, *, check: Callable[[sqlite3.Connection], None] | None = None) -> int:
        """Write a new row (usually ``running``); sets and returns ``entry.id``.

        ``check`` (the budget's) runs in the same write transaction, just before the row is written, and refuses
        by raising (nothing is written then): a check and its row are one step for every kernel on the store, so
        two kernels can never both pass it on the same money. It may read with :meth:`meta_in` and
        :meth:`spent_in`.
        """
        if not entry.replay_key:
            entry.replay_key = self.key_for(entry.kind, entry.model, entry.endpoint, entry.params)
        values, kept = self._norm_all(_INSERT_NAMES, _insert_values(entry))
        for f in _KEPT_ON_ENTRY:  # the entry holds what the row holds (redacted, JSON-safe)
            setattr(entry, f, kept[f])
        values += (_pid, _started, _HOST, time.time())
        ended = entry.status != "running"

        def ins(c: sqlite3.Connection) -> int:
            if check is not None:
                check(c)
            new_id = int(c.execute(_INSERT_SQL, values).lastrowid or 0)
            if ended:
                self._index_when_due(c)
            return new_id

        entry.id = self._tx(ins)
        entry.bind(self)
        return entry.id

    def update(self, entry_id: int, **fields: Any) -> dict[str, Any]:
        """Finish (or amend) a row: ``status``, ``duration``, ``response``, ``usage``, ``outputs``, ``text``, ``error``…

        With a final status and no ``duration``, the duration is measured from ``started``. Returns the fields
        as the row now holds them (redacted, JSON-safe), so a caller can finish its entry without reading it back.
        """
        if not fields.keys() <= _UPDATABLE:
            raise TypeError(f"unknown history fields: {', '.join(sorted(set(fields) - _UPDATABLE))}")
        names = tuple(fields)
        args, kept = self._norm_all(names, tuple(fields.values()))
        now = time.time()
        timed = fields.get("status") in _FINAL and "duration" not in fields
        if timed:
            args.append(now)
        args.append(now)
        sql = self._update_sql(names, timed)
        rekey = not _REKEYED.isdisjoint(names) and "replay_key" not in fields

        def upd(c: sqlite3.Connection) -> None:
            a, s = args, sql
            if rekey:  # what the replay key is made of changed: the key follows
                row = c.execute("SELECT kind, model, endpoint, params FROM entries WHERE id=?", (entry_id,)).fetchone()
                if row is not None:
                    cur = {"kind": row[0], "model": row[1], "endpoint": row[2], "params": json.loads(row[3])}
                    cur.update({k: v for k, v in fields.items() if k in cur})
                    s = self._update_sql((*names, "replay_key"), timed)
                    kept["replay_key"] = self.key_for(cur["kind"], cur["model"], cur["endpoint"], cur["params"])
                    a = [*args[:len(names)], kept["replay_key"], *args[len(names):]]
            if c.execute(s, (*a, entry_id)).rowcount == 0:
                raise KeyError(f"no history entry #{entry_id}")
            if "status" in fields or "text" in fields:
                self._index_when_due(c)

        self._tx(upd)
        self._spending.rewritten(entry_id)
        return kept

    @staticmethod
    def _update_sql(names: tuple[str, ...], timed: bool) -> str:
        """``UPDATE entries SET <names>=?…[, duration from started], updated=? WHERE id=?`` (made once per shape)."""
        key = (names, timed)
        sql = _UPDATE_SQL.get(key)
        if sql is None:
            sets = [f"{name}=?" for name in names]
            if timed:
                sets.append("duration=COALESCE(duration, ? - started)")
            sets.append("updated=?")
            sql = f"UPDATE entries SET {', '.join(sets)} WHERE id=?"
            if len(_UPDATE_SQL) < 256:  # a few shapes in practice; names are checked columns, never user text
                _UPDATE_SQL[key] = sql
        return sql

    def _index_when_due(self, c: sqlite3.Connection) -> None:
        """Index the rows waiting for the full-text index once this store has ended :data:`FTS_BATCH` rows (counted
        here, not queried: the queue also holds what other processes ended, and is indexed with them)."""
        self._ended += 1
        if self._ended >= FTS_BATCH:
            self._index_pending(c)

    def _index_pending(self, c: sqlite3.Connection) -> None:
        if self._fts != "none":
            c.execute(INDEX_PENDING)
            c.execute("DELETE FROM fts_pending")
        self._ended = 0

    def _queued(self) -> bool:
        """Whether ended rows wait for the full-text index."""
        try:
            return self._conn().execute("SELECT 1 FROM fts_pending LIMIT 1").fetchone() is not None
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and "no such table" in str(e):
                return False  # a schema 3 store read as it is: nothing is queued there
            if _is_store_fault(e):  # (damaged: said as a read of the history says it)
                raise self.problem(e, writing=False) from e
            raise

    def _unindexed(self) -> bool:
        """Make every ended row searchable: index the queue (one short write), or on a read-only store index it
        in this connection's temporary table ``pending_fts``; True when that table holds rows to search too."""
        if not self._queued():
            return False
        c = self._conn()
        if not self.read_only:
            self._tx(self._index_pending)
            return False
        tokenizer = next((t for t in self.fts_tokenizers if t.split()[0] == self._fts), self._fts)
        c.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.pending_fts USING fts5(text, tokenize='{tokenizer}')")
        c.execute("DELETE FROM temp.pending_fts")
        c.execute(INDEX_PENDING.replace("entries_fts", "temp.pending_fts", 1))
        return True

    def _entry_from_row(self, row: Sequence[Any]) -> HistoryEntry:
        """The entry a row holds, redacted when the row may hold a key (see :func:`may_hold_key`)."""
        d: dict[str, Any] = {}
        for name, value in zip(ENTRY_FIELDS, row, strict=True):
            d[name] = json.loads(value) if name in JSON_FIELDS and value is not None else value
        if may_hold_key("\x00".join(v for v in row if isinstance(v, str)), self.secrets, self._escaped_secrets()):
            d = jsonable(d, self.secrets)
        return HistoryEntry.from_dict(d).bind(self)

    def get(self, entry_id: int) -> HistoryEntry:
        """The entry with that id; a ``running`` row whose process is gone is marked ``interrupted`` first, as
        listing does (:meth:`notice_gone`), so that ``history.get`` and ``resume`` never call a dead call running.
        """
        sql = f"SELECT {_COLUMNS} FROM entries WHERE id=?"
        row = self._row(sql, (int(entry_id),))
        if row is None:
            raise KeyError(f"no history entry #{entry_id}")
        if row[_STATUS_AT] == "running" and not self.read_only:  # (only then: a finished row costs nothing more)
            try:
                marked = self._mark_gone(self._conn(), int(entry_id))
            except (sqlite3.Error, StoreError):  # never fails the read (as notice_gone)
                marked = 0
            if marked:
                row = self._row(sql, (int(entry_id),)) or row
        return self._entry_from_row(row)

    def delete(self, entry_ids: Sequence[int]) -> int:
        """Remove rows (artifacts stay: other entries may share them)."""
        ids = [int(i) for i in entry_ids]

        def rm(c: sqlite3.Connection) -> int:
            return sum(c.execute("DELETE FROM entries WHERE id=?", (i,)).rowcount for i in ids)

        try:
            return self._tx(rm)
        finally:
            self._spending.rewritten(*ids)

    # queries used by History views ------------------------------------------------

    def text_conditions(self, text: str) -> list[Cond]:
        """Conditions matching entries whose prompt/answer text contains every word of ``text``."""
        words = [w for w in str(text).split() if w]
        conds: list[Cond] = []
        fts_words: list[str] = []
        for w in words:
            if (self.fts == "trigram" and len(w) >= 3) or self.fts == "unicode61":
                fts_words.append(w)
            else:
                like = w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                conds.append(("text LIKE ? ESCAPE '\\'", (f"%{like}%",)))
        if fts_words:
            star = "*" if self.fts == "unicode61" else ""
            query = " ".join('"' + w.replace('"', '""') + '"' + star for w in fts_words)
            if self._unindexed():
                conds.insert(0, ("id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? UNION ALL "
                                 "SELECT rowid FROM temp.pending_fts WHERE pending_fts MATCH ?)", (query, query)))
            else:
                conds.insert(0, ("id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)", (query,)))
        return conds

    @staticmethod
    def _where(conds: Sequence[Cond]) -> tuple[str, tuple[Any, ...]]:
        if not conds:
            return "", ()
        args: tuple[Any, ...] = ()
        for _, a in conds:
            args += a
        return " WHERE " + " AND ".join(f"({sql})" for sql, _ in conds), args

    def select(
        self, conds: Sequence[Cond] = (), *, columns: str = _COLUMNS, desc: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Any]:
        self.notice_gone()
        where, args = self._where(conds)
        sql = f"SELECT {columns} FROM entries{where} ORDER BY id {'DESC' if desc else 'ASC'}"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            args += (-1 if limit is None else int(limit), int(offset))
        return self._rows(sql, args)

    def model_names(self) -> list[str]:
        """Every model name the rows hold, once each (read from the model index)."""
        return [str(r[0]) for r in self._rows("SELECT DISTINCT model FROM entries") if r[0]]

    def select_entries(self, conds: Sequence[Cond] = (), **kw: Any) -> list[HistoryEntry]:
        return [self._entry_from_row(r) for r in self.select(conds, **kw)]

    def count(self, conds: Sequence[Cond] = ()) -> int:
        self.notice_gone()
        where, args = self._where(conds)
        return int(self._row(f"SELECT COUNT(*) FROM entries{where}", args)[0])

    # replay -------------------------------------------------------------------------

    def find_replay(self, key: str) -> HistoryEntry | None:
        """The newest ``ok`` entry recorded under ``key``."""
        row = self._row(
            f"SELECT {_COLUMNS} FROM entries WHERE replay_key=? AND status='ok' ORDER BY id DESC LIMIT 1", (key,)
        )
        return None if row is None else self._entry_from_row(row)

    def started_after(self, entry_id: int) -> float | None:
        """When the first call recorded after row ``entry_id`` started (None: there is none)."""
        row = self._row("SELECT started FROM entries WHERE id > ? ORDER BY id LIMIT 1", (entry_id,))
        return None if row is None else float(row[0])

    def recorded_mode(self) -> str | None:
        """The mode (``live``, ``offline``) the newest call in this store was recorded in; None when it has none."""
        row = self._row("SELECT mode FROM entries WHERE mode <> 'replay' ORDER BY id DESC LIMIT 1", ())
        return None if row is None else str(row[0])

    def replay_candidates(self, key: str) -> list[tuple[int, str]]:
        """``(id, session_id)`` of every ``ok`` entry recorded under ``key``, oldest first."""
        return [(int(r[0]), str(r[1] or "")) for r in self._rows(
            "SELECT id, session_id FROM entries WHERE replay_key=? AND status='ok' ORDER BY id", (key,)
        )]

    def nearest(
        self, kind: str, model: str, params: dict[str, Any], endpoint: str | None = None, *, limit: int = 2000,
    ) -> tuple[HistoryEntry | None, list[str]]:
        """The most similar recording of the same kind (``ok`` ones first) and what differs from it.

        A row with no endpoint is a call refused before sending (bad input, the budget): nothing was recorded
        of an answer, so it is never offered."""
        asked = jsonable(params or {}, self.secrets)
        best: tuple[float, int] | None = None
        best_row: Any = None
        for status_sql in ("status='ok'", "1"):
            rows = self._rows(
                f"SELECT id, model, endpoint, params FROM entries WHERE kind=? AND endpoint != '' AND {status_sql} "
                "ORDER BY id DESC LIMIT ?", (kind, limit),
            )
            for row in rows:
                score = similarity(model, endpoint, asked, row[1], row[2], json.loads(row[3]))
                if best is None or score > best[0]:
                    best, best_row = (score, row[0]), row
            if best_row is not None:
                break
        if best_row is None:
            return None, []
        entry = self.get(best_row[0])
        return entry, differences(model, endpoint, asked, entry.model, entry.endpoint, entry.params)

    # ------------------------------------------------------------ bulk import (used by History.load)

    def import_entries(
        self, entries: Sequence[HistoryEntry], old_ids: Sequence[int | None] = (),
    ) -> tuple[list[int], int]:
        """Insert many entries in one transaction, keeping every field but ``id``; returns each entry's id here and
        how many of them were here already.

        An entry this store already holds (every field the same, its parent's id as renumbered: the same export
        loaded twice) is not added again; its id is the row already here. Added twice, its calls showed twice in the history
        and counted twice against the budget.

        ``old_ids`` (the ids the entries had where they came from) keep thread turns linked: a ``parent`` among
        them becomes the new id of that entry; any other is dropped (ids of another store mean nothing here). A
        turn's ``request`` names its parent too (``context``, from which :meth:`HistoryEntry.wire_request` rebuilds
        the conversation): it is renumbered the same way, or dropped with it, so it never names a row of this
        store that belongs to another conversation.
        """
        now = time.time()
        rows = [[self._norm(f, getattr(e, f)) for f in _INSERT_COLS] + [now] for e in entries]
        at_parent = _INSERT_COLS.index("parent")
        at_request = _INSERT_COLS.index("request")
        olds = list(old_ids) + [None] * (len(entries) - len(old_ids))
        given = [e.parent for e in entries]
        requests: list[dict[str, Any] | None] = [None] * len(entries)  # the requests renumbered

        def ins(c: sqlite3.Connection) -> tuple[list[int], int]:
            ids: list[int] = []
            held_here = 0
            new_ids: dict[int, int] = {}
            for i, row in enumerate(rows):
                parent = given[i]
                row[at_parent] = None if parent is None else new_ids.get(int(parent))
                req = entries[i].request
                ctx = req.get("context") if isinstance(req, dict) else None
                if isinstance(ctx, dict) and "parent" in ctx and ctx["parent"] != row[at_parent]:
                    moved = {k: v for k, v in ctx.items() if k != "parent"}
                    if row[at_parent] is not None:
                        moved["parent"] = row[at_parent]
                    requests[i] = {**req, "context": moved}  # type: ignore[dict-item]
                    row[at_request] = self._norm("request", requests[i])
                held = c.execute(_HELD_SQL, row[:-1]).fetchone()  # (all but ``updated``)
                if held is not None:
                    held_here += 1
                    ids.append(int(held[0]))
                else:
                    ids.append(int(c.execute(_IMPORT_SQL, row).lastrowid or 0))
                if olds[i] is not None:
                    new_ids[int(olds[i])] = ids[-1]  # type: ignore[arg-type]
            self._index_pending(c)
            return ids, held_here

        ids, held = self._tx(ins)
        for i, e in enumerate(entries):
            e.id = ids[i]
            e.parent = rows[i][at_parent]
            if requests[i] is not None:
                e.request = requests[i]  # type: ignore[assignment]
            e.bind(self)
        return ids, held

    # settings kept with the history (the budget) ---------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._row("SELECT value FROM meta WHERE key=?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        """Store (or with ``None`` remove) one setting beside the history, so it outlives the kernel."""

        def put(c: sqlite3.Connection) -> None:
            if value is None:
                c.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

        self._tx(put)

    def append_meta(self, key: str, item: Any, *, keep: int) -> None:
        """Add ``item`` to the JSON list kept under ``key`` (its last ``keep`` items), in one transaction, so two
        kernels adding at once both land."""

        def put(c: sqlite3.Connection) -> None:
            try:
                items = json.loads(self.meta_in(c, key) or "[]")
            except ValueError:
                items = []
            items = [*(items if isinstance(items, list) else []), item][-keep:]
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(items)))

        self._tx(put)

    @staticmethod
    def meta_in(c: sqlite3.Connection, key: str) -> str | None:
        """:meth:`get_meta` read on ``c`` (inside an :meth:`insert` check's transaction)."""
        row = c.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def spent_in(self, c: sqlite3.Connection, since: float, *, simulated: bool) -> float:
        """:meth:`spent_usd` read on ``c`` (inside an :meth:`insert` check's transaction)."""
        return self._spending.spent(c, since, simulated)

    def spent_usd(self, since: float, *, simulated: bool) -> float:
        """The recorded cost (USD) of calls started since ``since``: real spending, or simulated spending. A call
        whose cost is unknown counts at its estimate (what it reserved), when it had one."""
        self.notice_gone()  # (a dead call no longer counts as in flight: as a call whose cost is unknown)
        try:
            return self._spending.spent(self._conn(), since, simulated)
        except sqlite3.DatabaseError as e:
            if _is_store_fault(e):
                raise self.problem(e, writing=False) from e
            raise

    def unknown_in(self, c: sqlite3.Connection, since: float, *, simulated: bool) -> Unknown:
        """The calls started since ``since`` that ended with their cost unknown (:class:`_spending.Unknown`)."""
        return _unknown_costs(c, since, simulated)

    def unknown_costs(self, since: float, *, simulated: bool) -> Unknown:
        """:meth:`unknown_in` on this thread's connection."""
        try:
            return _unknown_costs(self._conn(), since, simulated)
        except sqlite3.DatabaseError as e:
            if _is_store_fault(e):
                raise self.problem(e, writing=False) from e
            raise
