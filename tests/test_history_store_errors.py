"""A store that cannot be written is still read; a full disk or a foreign layout is one line naming the store.

Faults are made as really as this machine allows:

* a read-only store is a read-only bind mount (``unshare -rm`` + ``mount --bind -o ro``) in a child process where
  the kernel allows unprivileged namespaces; everywhere, the same OS answer (SQLite's "unable to open database
  file" for a writable open, ``EROFS`` for a folder) is injected at the one call that meets it, because the
  tests run as root and ``chmod`` does not stop root;
* a full database is SQLite's own ``SQLITE_FULL`` (``PRAGMA max_page_count`` caps the file at its size);
* a full disk for an artifact file is ``ENOSPC`` raised where the file is written (no small file system here).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import make_session

from tokenhot_nb import Session
from tokenhot_nb.errors import StoreError
from tokenhot_nb.history import History, HistoryEntry, Store
from tokenhot_nb.history import _artifacts as artifacts_mod
from tokenhot_nb.history import _store as store_mod
from tokenhot_nb.sim import SimTransport

FIX = "Copy the folder somewhere writable"


def drop_column(db: Path, table: str, column: str) -> None:
    """``table`` rebuilt without ``column`` (what ``ALTER TABLE … DROP COLUMN`` does on SQLite ≥ 3.35; Python
    3.10 may ship an older one). Its indexes and triggers go with the old table."""
    with closing(sqlite3.connect(db)) as c, c:
        keep = [r[1] for r in c.execute(f"PRAGMA table_info({table})") if r[1] != column]
        c.execute(f"CREATE TABLE {table}_new AS SELECT {', '.join(keep)} FROM {table}")
        c.execute(f"DROP TABLE {table}")
        c.execute(f"ALTER TABLE {table}_new RENAME TO {table}")


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A store holding a chat, a chat thread turn and an image, recorded offline and closed cleanly."""
    root = tmp_path / "store"
    s = make_session(root)
    try:
        s.chat("hello there")
        s.image("a red fox", n=1, seed=3)
    finally:
        s.close()
    return root


def _snapshot(root: Path, *, wal: bool = False) -> dict[str, tuple[int, int]]:
    """Every file of the store (size, mtime). SQLite's WAL index files are left out unless ``wal``: a ``mode=ro``
    connection creates them when the folder (here, in fact writable) allows it."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and (wal or not p.name.endswith(("-wal", "-shm")))}


@pytest.fixture
def unwritable(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every writable open of a history database fails as it does on a read-only mount; read-only opens work.

    SQLite on a read-only mount answers a read-write open with ``unable to open database file``; here that
    answer is given by ``sqlite3.connect`` for any open that is not a ``mode=ro`` URI. Returns the opens seen.
    """
    real = sqlite3.connect
    seen: list[str] = []

    def connect(database: Any, *args: Any, **kw: Any) -> sqlite3.Connection:
        seen.append(str(database))
        if not (kw.get("uri") and "mode=ro" in str(database)):
            raise sqlite3.OperationalError("unable to open database file")
        return real(database, *args, **kw)

    monkeypatch.setattr(store_mod.sqlite3, "connect", connect)
    yield seen


# ---------------------------------------------------------------------------------------------- read-only store
def test_unwritable_store_is_read(recorded: Path, unwritable: list[str], tmp_path: Path) -> None:
    before = _snapshot(recorded)
    store = Store(recorded)
    h = History(store)
    assert len(h) == 2 and store.read_only and "unable to open" in store.why_read_only
    assert any("mode=ro" in s for s in unwritable), "fell back to a read-only open"
    assert [e.kind for e in h.filter(kind="image")] == ["image"]
    assert [e.kind for e in h.search("hello")] == ["chat"]
    assert h.get(1).outputs and h.artifact(h.get(1).outputs[0]["sha256"]).read_text().startswith("You said")
    assert "<table" in h._repr_html_() and "fox" in h._repr_html_() and "read-only store" in h._repr_html_()
    assert "(read-only)" in repr(h)
    rebuilt = h[-1].result()  # from this store's files, not the default session's store
    assert rebuilt.items[0].path.is_relative_to(recorded)
    out = h.export(tmp_path / "out.json")
    assert [e["kind"] for e in json.loads(out.read_text())] == ["chat", "image"]
    assert "read_only=True" in repr(store)
    assert _snapshot(recorded) == before, "reading a read-only store wrote nothing"


def test_writes_to_a_read_only_store_are_one_clear_error(recorded: Path, unwritable: list[str]) -> None:
    before = _snapshot(recorded)
    store = Store(recorded)
    attempts = [
        lambda: store.insert(HistoryEntry(kind="chat", model="m")),
        lambda: store.update(1, status="error"),
        lambda: store.delete([1]),
        lambda: store.set_meta("budget", "{}"),
        lambda: store.add_bytes(b"new bytes", "text/plain"),
    ]
    for attempt in attempts:
        with pytest.raises(StoreError) as info:
            attempt()
        msg = str(info.value)
        assert str(recorded) in msg and "read-only" in msg and FIX in msg and "\n" not in msg
    assert len(History(store)) == 2
    assert _snapshot(recorded) == before


def test_session_on_a_read_only_store_replays_and_refuses_new_calls(recorded: Path, unwritable: list[str]) -> None:
    s = make_session(recorded, mode="replay")
    try:
        again = s.chat("hello there")  # offline replay: rebuilt from the store, no request, no write
        assert again.text.startswith('You said: "hello there"')
        assert again.entry is not None and again.entry.id == 1
        image = s.image("a red fox", n=1, seed=3)
        assert image.items and image.items[0].path.is_file()
        assert len(s.history) == 2
    finally:
        s.close()
    s = make_session(recorded)  # offline: a new call would be recorded, so it is refused before any request
    try:
        with pytest.raises(StoreError, match="is read-only") as info:
            s.chat("something new")
        assert str(recorded) in str(info.value) and FIX in str(info.value)
        assert len(s.history) == 2
    finally:
        s.close()


def test_read_only_folder_without_artifacts_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store checked in without its (empty) artifacts folder, in a read-only checkout: making the folder fails
    with ``EROFS``; the database is still read."""
    root = tmp_path / "checked-in"
    Store(root).insert(HistoryEntry(kind="chat", model="m", text="kept"))
    shutil.rmtree(root / "artifacts")
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *a: Any, **kw: Any) -> None:
        if self.is_relative_to(root) and not self.exists():
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    store = Store(root)
    assert [e.text for e in History(store)] == ["kept"]
    assert store.read_only and store.why_read_only == "Read-only file system"
    with pytest.raises(StoreError, match="Read-only file system"):
        store.insert(HistoryEntry(kind="chat"))


def test_read_only_store_of_an_older_layout_says_to_copy_it(tmp_path: Path) -> None:
    root = tmp_path / "old"
    Store(root).insert(HistoryEntry(kind="chat"))
    with closing(sqlite3.connect(root / "history.sqlite")) as c, c:
        c.execute("PRAGMA user_version=2")  # (schema 3 is read as it is: see test_history_store_fts)
    with pytest.raises(StoreError, match="older layout") as info:
        len(History(Store(root, read_only=True)))
    assert str(root / "history.sqlite") in str(info.value) and "Copy the store folder" in str(info.value)


def _can_mount_read_only() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount --bind -o ro / /mnt 2>/dev/null || "
                            "mount --bind -o ro /tmp /tmp"], capture_output=True, timeout=20)
    return probe.returncode == 0


_READER = textwrap.dedent("""
    import json, sys
    from tokenhot_nb.errors import StoreError
    from tokenhot_nb.history import History, Store
    from tests._session_support import make_session
    root = sys.argv[1]
    store = Store(root)
    h = History(store)
    out = {"n": len(h), "read_only": store.read_only, "why": store.why_read_only,
           "images": len(h.filter(kind="image")), "found": [e.kind for e in h.search("hello")],
           "html": "<table" in h._repr_html_()}
    h.export(sys.argv[2], include_artifacts=True)
    out["rebuilt"] = type(h[-1].result()).__name__
    s = make_session(root, mode="replay")
    out["replayed"] = s.chat("hello there").text[:8]
    image = s.image("a red fox", n=1, seed=3)
    out["image"] = image.items[0].path.read_bytes()[:4].hex() + ("<img" in str(image._repr_mimebundle_()[0])
                                                                  and "+html" or "")
    s.close()
    s = make_session(root)
    try:
        s.chat("something new")
    except StoreError as e:
        out["refused"] = str(e)
    s.close()
    print(json.dumps(out))
""")


@pytest.mark.may_skip  # the injected tests above cover the same paths where the kernel refuses it
@pytest.mark.skipif(not _can_mount_read_only(), reason="this kernel refuses an unprivileged read-only bind mount; "
                    "the injected tests above cover the same paths")
def test_store_on_a_real_read_only_mount(recorded: Path, tmp_path: Path) -> None:
    """The store folder is bind-mounted read-only over itself in a child: SQLite can neither write the database
    nor create its WAL index there, so the store opens with ``mode=ro`` then ``immutable=1``."""
    before = _snapshot(recorded, wal=True)
    export = tmp_path / "export.json"
    script = tmp_path / "reader.py"
    script.write_text(_READER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", 'mount --bind -o ro "$1" "$1" && exec "$2" "$3" "$1" "$4"', "sh",
         str(recorded), sys.executable, str(script), str(export)],
        capture_output=True, text=True, timeout=120, env=env, cwd=Path(__file__).parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["n"] == 2 and out["read_only"] and out["images"] == 1 and out["found"] == ["chat"] and out["html"]
    assert out["replayed"] == "You said" and out["rebuilt"] == "ImageResult"
    assert out["image"].startswith("89504e47"), "the replayed image is read from the read-only store"
    assert str(recorded) in out["refused"] and "is read-only (read-only file system)" in out["refused"]
    assert FIX in out["refused"] and out["why"] == "read-only file system"
    assert len(json.loads(export.read_text())) == 2 and any(Path(f"{export}.artifacts").iterdir())
    assert _snapshot(recorded, wal=True) == before


# ---------------------------------------------------------------------------------------------- full disk
def test_full_database_is_one_line_naming_the_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = Store(root)
    store.insert(HistoryEntry(kind="chat", model="m", text="first"))
    conn = store.connection()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own SQLITE_FULL once the file would grow
    with pytest.raises(StoreError, match="is full") as info:
        store.insert(HistoryEntry(kind="chat", model="m", text="x" * 200_000))
    assert str(root) in str(info.value) and "Free some space" in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert [e.text for e in History(store)] == ["first"], "the failed write left nothing behind"


def test_an_answer_row_waiting_for_a_commit_survives_a_write_that_failed(tmp_path: Path) -> None:
    """An answer's artifact row waits for the call's finishing transaction; when writing it fails (a full disk),
    it waits for the next transaction instead of being dropped (the answer would be in no table)."""
    store = Store(tmp_path / "store")
    eid = store.insert(HistoryEntry(kind="chat", model="m", text="q"))
    art = store.add_bytes(b"the answer", "text/plain", register_now=False)
    real = store.connection()

    class FullOnce:  # the connection, but its first executemany finds the disk full
        failed = False

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def executemany(self, sql: str, rows: Any) -> Any:
            if not FullOnce.failed:
                FullOnce.failed = True
                raise sqlite3.OperationalError("database or disk is full")
            return real.executemany(sql, rows)

    store._local.conn = FullOnce()
    with pytest.raises(StoreError, match="is full"):
        store.update(eid, status="ok", outputs=[{**art.as_dict(), "role": "text"}])
    store.update(eid, status="ok", outputs=[{**art.as_dict(), "role": "text"}])
    store._local.conn = real
    assert store.artifact(art.sha256).size == len(b"the answer")
    assert store.read_artifact(art.sha256) == b"the answer"
    assert store.get(eid).status == "ok"


def test_full_disk_on_an_artifact_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "store"
    store = Store(root)

    def full(self: Any, dest: Path, data: bytes) -> bool:
        raise OSError(errno.ENOSPC, "No space left on device", str(dest))

    monkeypatch.setattr(Store, "_write_new", full)
    with pytest.raises(StoreError, match="is full") as info:
        store.add_bytes(b"\x89PNG not really", "image/png")  # (a small text would go to the database)
    assert str(root) in str(info.value) and "Free some space" in str(info.value)


# ---------------------------------------------------------------------------------------------- foreign layout
def test_missing_column_is_named_on_open(tmp_path: Path) -> None:
    root = tmp_path / "store"
    Store(root).insert(HistoryEntry(kind="chat", model="m"))
    drop_column(root / "history.sqlite", "entries", "thread")
    with pytest.raises(StoreError) as info:
        len(History(Store(root)))
    msg = str(info.value)
    assert str(root / "history.sqlite") in msg and "'entries' lacks the column(s) thread" in msg
    assert "rename the file" in msg


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    with closing(sqlite3.connect(root / "history.sqlite")) as c, c:  # someone else's "entries" table
        c.execute("CREATE TABLE entries (id INTEGER PRIMARY KEY, title TEXT)")
    with pytest.raises(StoreError) as info:
        Store(root).count()
    assert str(root) in str(info.value) and "no such column" in str(info.value)


# ---------------------------------------------------------------------------------------------- paid answers are kept
def _full_after_insert(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's own SQLITE_FULL from the moment a call's ``running`` row is in: the database may not grow any more
    (``PRAGMA max_page_count`` set to its size on the connection that will finish the row)."""
    real = Store.insert

    def insert(self: Store, entry: HistoryEntry) -> int:
        entry_id = real(self, entry)
        conn = self.connection()
        conn.execute(f"PRAGMA max_page_count={conn.execute('PRAGMA page_count').fetchone()[0]}")
        return entry_id

    monkeypatch.setattr(Store, "insert", insert)


def test_answer_whose_row_cannot_be_finished_is_returned_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tokenhot_nb.errors import UnrecordedWarning

    root = tmp_path / "store"
    s = make_session(root)
    try:
        s.chat("warm up")  # the store exists and is open
        _full_after_insert(monkeypatch)
        prompt = "tell me about otters " * 2000
        with pytest.warns(UnrecordedWarning) as caught:
            res = s.chat(prompt)
        assert res.text.startswith("You said") and "otters" in res.text
        assert res.entry is not None and res.entry.status == "ok" and res.entry.text.endswith(res.text)
        msg = str(caught[0].message)
        assert f"call #{res.entry.id}" in msg and "kept in this result only" in msg
        assert str(root) in msg and "is full" in msg and "Free some space" in msg
    finally:
        s.close()
    assert [e.status for e in History(root)] == ["ok", "running"], "the row was never finished, nor half-written"


def test_answer_whose_text_file_cannot_be_stored_is_returned_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tokenhot_nb.errors import UnrecordedWarning

    root = tmp_path / "store"
    s = make_session(root)

    def full(self: Any, dest: Path, data: bytes) -> bool:
        raise OSError(errno.ENOSPC, "No space left on device", str(dest))

    monkeypatch.setattr(Store, "_write_new", full)
    monkeypatch.setattr(artifacts_mod, "INLINE_MAX", 0)  # an answer too long to keep in the database: a file
    try:
        with pytest.warns(UnrecordedWarning, match="is full"):
            res = s.chat("hello otters")
        assert res.text.startswith('You said: "hello otters"')
    finally:
        s.close()
    entry = History(root)[-1]
    assert entry.status == "ok" and entry.text.endswith(res.text), "the row keeps the answer in its text"
    assert entry.outputs == [] and Store(root).check()["missing"] == [], "no output points at a missing file"


def test_database_file_without_write_permission_opens_read_only(
    recorded: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A store file of another user (mode 0444): SQLite opens it read-only without a word, so the store asks the
    OS (``os.access``, which is always yes for root, hence answered here) and says so before any write."""
    real = os.access
    db = recorded / "history.sqlite"
    monkeypatch.setattr(store_mod.os, "access", lambda p, mode, *a, **kw: False if Path(p) == db and mode == os.W_OK
                        else real(p, mode, *a, **kw))
    store = Store(recorded)
    assert len(History(store)) == 2 and store.read_only
    with pytest.raises(StoreError, match="no permission to write the database file") as info:
        store.insert(HistoryEntry(kind="chat"))
    assert FIX in str(info.value)


def test_image_whose_file_cannot_be_stored_is_still_shown_from_outside_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tokenhot_nb.errors import UnrecordedWarning

    root = tmp_path / "store"
    s = make_session(root)

    def full(self: Any, dest: Path, data: bytes) -> bool:  # the store's disk is full; the temp folder is not
        raise OSError(errno.ENOSPC, "No space left on device", str(dest))

    monkeypatch.setattr(Store, "_write_new", full)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the image waits outside the store
    try:
        with pytest.warns(UnrecordedWarning, match="is full"):
            res = s.image("a red fox", response_format="b64_json")  # inline bytes: nothing else holds them
        path = res.items[0].path
        assert path.is_file() and not path.is_relative_to(root) and path.stat().st_mode & 0o077 == 0
        assert path.read_bytes().startswith(b"\x89PNG")
        assert "image/png" in res._repr_mimebundle_()[0] or "<img" in str(res._repr_mimebundle_()[0])
        saved = res.save(tmp_path / "kept")
        assert saved and Path(saved[0]).read_bytes() == path.read_bytes()
    finally:
        s.close()
    entry = History(root)[-1]
    assert entry.status == "ok" and entry.outputs == [] and Store(root).check()["missing"] == []


def test_history_read_only_leaves_a_writable_store_untouched(tmp_path: Path) -> None:
    """``History(path, read_only=True)``: a colleague's store is read as it is — their unfinished row is not
    marked ``interrupted`` (as opening it for writing would), and nothing can be written."""
    root = tmp_path / "theirs"
    store = Store(root)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    entry_id = store.insert(HistoryEntry(kind="chat", model="m", status="running"))
    store.connection().execute("UPDATE entries SET pid=? WHERE id=?", (int(dead.stdout), entry_id))
    store.close()
    before = _snapshot(root)
    h = History(root, read_only=True)
    assert [e.status for e in h] == ["running"] and h.store.read_only
    with pytest.raises(StoreError, match="is read-only"):
        h.store.set_meta("budget", "{}")
    assert _snapshot(root) == before
    assert [e.status for e in History(root)] == ["interrupted"], "opened for writing, the dead call is recovered"


def test_full_disk_during_a_download_names_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenhot_nb.client import _download

    root = tmp_path / "store"
    s = make_session(root)

    def full(self: Any, chunk: bytes) -> None:  # ENOSPC where a downloaded result is written into the store
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_download.TempWriter, "write", full)
    try:
        with pytest.raises(StoreError, match="is full") as info:
            s.image("a red fox")  # the simulator answers with a URL: the image is downloaded into the store
        assert str(root) in str(info.value) and "Free some space" in str(info.value)
        entry = s.history[-1]
        assert f"session.resume({entry.id})" in str(info.value)  # the image is paid for: fetch it once there's room
        assert entry.status == "pending" and "is full" in (entry.error or {}).get("message", "")
        assert not list((root / "artifacts" / "incoming").glob("*.part")), "no half download is left behind"
        monkeypatch.undo()  # space freed
        again = s.resume(entry.id)
        assert again.path.is_file() and s.history[-1].status == "ok"
    finally:
        s.close()


def test_database_damaged_past_its_first_pages_is_named_when_read(tmp_path: Path) -> None:
    """The file opens (its header and schema pages are intact) but half its pages are garbage: reading the history
    is the StoreError naming the file and the fix, not a bare ``sqlite3.DatabaseError``."""
    root = tmp_path / "store"
    store = Store(root)
    for i in range(300):
        store.insert(HistoryEntry(kind="chat", model="m", text=f"entry {i} " + "x" * 800))
    store.close()
    db = root / "history.sqlite"
    data = bytearray(db.read_bytes())
    page = 4096
    pages = len(data) // page
    assert pages > 40
    data[pages // 2 * page:] = b"\xa5" * (len(data) - pages // 2 * page)
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="is damaged") as info:
        History(Store(root))[:]
    assert str(db) in str(info.value) and "Rename it" in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)
    with pytest.raises(StoreError, match="is damaged") as info:  # the budget's spending, read the same way
        Store(root).spent_usd(0, simulated=False)
    assert str(db) in str(info.value) and isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_usage_of_a_database_damaged_in_its_pages_is_named(tmp_path: Path) -> None:
    """Every page's cells partly overwritten: the history still counts its rows, but ``usage()`` (which read with
    the connection's own ``execute``) raised a bare ``sqlite3.DatabaseError``."""
    root = tmp_path / "store"
    store = Store(root)
    for i in range(300):
        store.insert(HistoryEntry(kind="chat", model="m", text=f"entry {i} " + "x" * 800, usage={"input_tokens": 3}))
    store.close()
    db = root / "history.sqlite"
    data = bytearray(db.read_bytes())
    for start in range(4096, len(data), 4096):
        data[start + 100:start + 300] = b"\xa5" * 200
    db.write_bytes(bytes(data))
    h = History(Store(root))
    assert len(h) == 300
    with pytest.raises(StoreError, match="is damaged") as info:
        h.usage()
    assert str(db) in str(info.value) and isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_a_row_whose_text_is_not_utf8_is_named_damaged_without_quoting_it(tmp_path: Path) -> None:
    """Bytes that are no UTF-8 in a text column (a damaged page, another program's row): SQLite's error quoted the
    whole value in the StoreError ("Could not decode to UTF-8 column 'text' with text '…'", 64 KiB of it) and
    called the store one that "could not be opened or read" with the generic hint. It is the damaged-file line,
    naming the column only."""
    root = tmp_path / "store"
    store = Store(root)
    store.insert(HistoryEntry(kind="chat", model="m", text="fine"))
    store.close()
    with sqlite3.connect(root / "history.sqlite") as conn:
        conn.execute("UPDATE entries SET text = CAST(x'ff' || CAST(? AS BLOB) AS TEXT)", ("private words " * 500,))
    conn.close()
    for read in (lambda: History(Store(root))[:], lambda: History(Store(root)).export(tmp_path / "out.json")):
        with pytest.raises(StoreError, match="is damaged") as info:
            read()
        said = str(info.value)
        assert "the column 'text' of a row holds bytes that are not UTF-8 text" in said and "Rename it" in said
        assert "private words" not in said and "\n" not in said and len(said) < 400, said


def test_call_the_store_cannot_begin_to_record_is_never_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database is full before the call: its ``running`` row cannot be written, so the request is not sent
    (nothing is paid for that could not be kept) and the error is the one line naming the store."""
    from _session_support import Recorder

    rec = Recorder()
    root = tmp_path / "store"
    s = make_session(root, rec)
    real = Store.insert

    def insert(self: Store, entry: HistoryEntry) -> int:  # SQLite's SQLITE_FULL: the file may not grow any more
        conn = self.connection()
        conn.execute(f"PRAGMA max_page_count={conn.execute('PRAGMA page_count').fetchone()[0]}")
        return real(self, entry)

    try:
        s.chat("warm up")
        sent = len(rec.posts())
        monkeypatch.setattr(Store, "insert", insert)
        with pytest.raises(StoreError, match="is full") as info:
            s.chat("tell me about otters " * 3000)
        assert str(root) in str(info.value)
        assert len(rec.posts()) == sent, "no request was sent"
    finally:
        s.close()


class _RowDeletedElsewhere(httpx.AsyncBaseTransport):
    """The simulator, where another kernel deletes this session's running rows (a second ``Store`` on the same
    folder, as another process would) when the first request whose path contains ``at`` arrives."""

    def __init__(self, root: Path, at: str) -> None:
        self.sim = SimTransport()
        self.root, self.at = root, at
        self.deleted: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.at in request.url.path and not self.deleted:
            with Store(self.root) as other:
                self.deleted = [e.id for e in History(other).filter(status=("running", "pending"))]
                other.delete(self.deleted)
        return await self.sim.handle_async_request(request)


@pytest.mark.parametrize("kind", ["chat", "video"])
def test_answer_whose_row_another_kernel_deleted_is_returned_with_a_warning(tmp_path: Path, kind: str) -> None:
    from tokenhot_nb.errors import UnrecordedWarning
    from tokenhot_nb.results import ChatResult, VideoResult

    root = tmp_path / "store"
    transport = _RowDeletedElsewhere(root, "/chat/" if kind == "chat" else "/content")
    s = Session(store=root, transport=transport, mode="offline", poll_interval=0.001)
    try:
        with pytest.warns(UnrecordedWarning) as caught:
            res = s.chat("hello otters", stream=False) if kind == "chat" else s.video("otters", progress=False)
        assert transport.deleted  # the row was gone before the answer was recorded
        assert isinstance(res, ChatResult if kind == "chat" else VideoResult)  # the paid answer is not lost
        if isinstance(res, VideoResult):
            assert res.path.is_file()
        msg = str(caught[0].message)
        assert "kept in this result only" in msg and "deleted while the call ran" in msg
    finally:
        s.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_deleted_or_replaced_under_a_live_session_is_said_not_written_into_the_void(
    tmp_path: Path, how: str,
) -> None:
    from tokenhot_nb.errors import UnrecordedWarning

    root = tmp_path / "store"
    s = make_session(root)
    try:
        s.chat("kept")
        if how == "deleted":  # `!rm -rf .tokenhot` to start over, with the kernel still running
            shutil.rmtree(root)
        else:  # a backup put back in place
            backup = tmp_path / "backup.sqlite"
            with closing(sqlite3.connect(root / "history.sqlite")) as c, closing(sqlite3.connect(backup)) as b:
                c.backup(b)
            os.replace(backup, root / "history.sqlite")
        with pytest.raises(StoreError) as exc:  # the call is refused before it is sent: nothing is paid
            s.chat("lost?")
        msg = str(exc.value)
        assert f"was {how}" in msg and "while this session had it open" in msg
        assert "session.close()" in msg and "\n" not in msg
        # a thread with no connection yet opens none (nor an empty file where the deleted one was)
        with ThreadPoolExecutor(1) as pool, pytest.raises(StoreError, match="while this session had it open"):
            pool.submit(lambda: History(s.store).search("kept")).result()
        assert how == "replaced" or not (root / "history.sqlite").exists()
    finally:
        s.close()
    s = make_session(root)  # a new session opens what is there now (a fresh history where it was deleted)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnrecordedWarning)
            s.chat("recorded")
        assert [e.text.split("\n")[0] for e in s.history] == (["recorded"] if how == "deleted" else
                                                              ["kept", "recorded"])
    finally:
        s.close()


@pytest.mark.parametrize("table", ["entries_fts_config", "entries_fts_data", "fts_pending"])
def test_a_search_in_a_store_damaged_while_open_says_it_is_damaged(tmp_path: Path, table: str) -> None:
    """The store is open (its schema read) when a page of its full-text index, or of the rows waiting for it, is
    damaged: a search is the StoreError saying the file is damaged and what to do, as at open, not "could not be
    written (vtable constructor failed: entries_fts)" nor a bare ``sqlite3.DatabaseError``."""
    root = tmp_path / "store"
    store = Store(root)
    for i in range(40):
        store.insert(HistoryEntry(kind="chat", model="m", status="ok", text=f"entry {i} " + "x" * 80))
    store.text_conditions("entry")  # indexed
    for i in range(3):
        store.insert(HistoryEntry(kind="chat", model="m", status="ok", text=f"queued entry {i}"))
    c = store.connection()
    assert c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    page = c.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()[0]
    size = c.execute("PRAGMA page_size").fetchone()[0]
    db = root / "history.sqlite"
    with open(db, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(b"\xa5" * size)
    found: list[BaseException] = []

    def search() -> None:  # (a thread's own connection: this one's page cache still holds the page as it was)
        try:
            History(store).search("entry")[:]
        except BaseException as e:
            found.append(e)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(search).result()
    assert len(found) == 1 and isinstance(found[0], StoreError), found
    msg = str(found[0])
    assert "is damaged" in msg and str(db) in msg and "Rename it" in msg and "could not be written" not in msg
    store.close()
