"""Store: round trip, SQLite settings, artifacts, redaction, threads, schema version."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest
from PIL import Image

from tokenhot_nb._config import Secret
from tokenhot_nb.errors import APIError, ConfigError
from tokenhot_nb.families._types import Usage
from tokenhot_nb.history import SCHEMA_VERSION, Artifact, History, HistoryEntry, Store

KEY = "sk-live-SECRET123456"


def png(color: tuple[int, int, int] = (10, 20, 30), size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def test_insert_update_get_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path)
    e = HistoryEntry(
        session_id="sess1", started=1_700_000_000.25, mode="offline", kind="chat", model="gpt-4o-mini",
        endpoint="chat", params={"message": "héllo ✓", "temperature": 0.5, "nested": {"a": [1, 2.5, None]}},
        request={"method": "POST", "path": "/v1/chat/completions", "json": {"model": "gpt-4o-mini"}},
        text="héllo ✓", thread="t-1",
    )
    eid = store.insert(e)
    assert eid == e.id == 1
    assert e.replay_key and len(e.replay_key) == 64
    got = store.get(eid)
    assert got.status == "running" and got.duration is None
    assert got.params == e.params and got.request == e.request and got.thread == "t-1"

    store.update(eid, status="ok", usage=Usage(input_tokens=5, output_tokens=7, total_tokens=12),
                 response={"request_id": "req-1"}, text="héllo ✓\nhi there",
                 outputs=[{"sha256": "a" * 64, "mime": "text/plain", "size": 3, "name": "", "role": "text"}])
    got = store.get(eid)
    assert got.status == "ok"
    assert got.usage["input_tokens"] == 5 and got.usage["total_tokens"] == 12
    assert got.response == {"request_id": "req-1"}
    assert got.outputs[0]["role"] == "text"
    assert got.duration is not None and got.duration > 0  # measured from `started`
    assert got.to_dict() == {**e.to_dict(), "status": "ok", "usage": got.usage, "response": got.response,
                             "outputs": got.outputs, "text": got.text, "duration": got.duration}

    store.update(eid, duration=1.5)
    assert store.get(eid).duration == 1.5
    with pytest.raises(KeyError):
        store.get(999)
    with pytest.raises(KeyError):
        store.update(999, status="ok")
    with pytest.raises(TypeError):
        store.update(eid, colour="red")


def test_error_is_stored_as_dict(tmp_path: Path) -> None:
    store = Store(tmp_path)
    eid = store.insert(HistoryEntry(kind="image", model="m"))
    store.update(eid, status="error", error=APIError("bad", status=400, code="x", request_id="r"))
    err = store.get(eid).error
    assert err is not None
    assert err["error"] == "APIError" and err["status"] == 400 and err["request_id"] == "r"
    eid2 = store.insert(HistoryEntry(kind="image", model="m"))
    store.update(eid2, status="error", error=RuntimeError("boom"))
    assert store.get(eid2).error == {"error": "RuntimeError", "message": "boom", "hint": ""}


def test_changing_params_recomputes_replay_key(tmp_path: Path) -> None:
    store = Store(tmp_path)
    e = HistoryEntry(kind="image", model="m", params={"prompt": "a"})
    eid = store.insert(e)
    store.update(eid, params={"prompt": "b"})
    assert store.get(eid).replay_key == store.key_for("image", "m", "", {"prompt": "b"}) != e.replay_key
    store.update(eid, params={"prompt": "c"}, status="ok")  # with a final status: the duration is measured too
    got = store.get(eid)
    assert got.replay_key == store.key_for("image", "m", "", {"prompt": "c"}) and got.status == "ok"
    assert got.params == {"prompt": "c"} and got.duration is not None and got.duration >= 0


def test_sqlite_settings_and_schema(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.insert(HistoryEntry(kind="chat", model="m", text="x"))
    conn = store.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"entries", "artifacts", "entries_fts", "entries_kind", "entries_model", "entries_started",
            "entries_status", "entries_replay"} <= names
    assert store.fts in ("trigram", "unicode61")
    assert (tmp_path / "history.sqlite").exists() and (tmp_path / "artifacts").is_dir()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).insert(HistoryEntry(kind="chat"))
    with closing(sqlite3.connect(tmp_path / "history.sqlite")) as c, c:
        c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError):
        Store(tmp_path).count()


def test_open_is_lazy(tmp_path: Path) -> None:
    root = tmp_path / "lazy"
    store = Store(root)
    assert not root.exists()
    assert len(History(store)) == 0
    assert (root / "history.sqlite").exists()


def test_artifact_dedup_and_atomic_naming(tmp_path: Path) -> None:
    store = Store(tmp_path)
    data = png()
    a = store.add_bytes(data, "image/png", name="cat.png")
    b = store.add_bytes(data, "image/png", name="again.png")
    store.wait_thumbnails()  # the thumbnail is written in the background: its own temp file is a live write
    sha = hashlib.sha256(data).hexdigest()
    assert a.sha256 == b.sha256 == sha and a.size == len(data)
    assert a.path == tmp_path / "artifacts" / sha[:2] / f"{sha}.png"
    assert a.path.read_bytes() == data
    assert list(store.artifact_files()) == [a.path]
    assert store.temp_files() == []
    assert store.artifact(sha) == Artifact(sha, "image/png", len(data), "cat.png")
    assert a.as_dict() == {"sha256": sha, "mime": "image/png", "size": len(data), "name": "cat.png"}
    assert a.ref() == {"artifact": sha, "mime": "image/png"}
    n = store.connection().execute("SELECT COUNT(*) FROM artifacts").fetchone()[0]
    assert n == 1

    # a leftover temp file of a killed writer is never an artifact
    leftover = a.path.parent / ".tmp-abc123.part"
    leftover.write_bytes(b"half")
    assert list(store.artifact_files()) == [a.path]
    assert store.temp_files() == [leftover]
    assert store.cleanup_temp(max_age=3600) == 0  # too fresh: might be a live write
    assert store.cleanup_temp(max_age=0) == 1 and not leftover.exists()

    with pytest.raises(FileNotFoundError):
        store.path_of("0" * 64)
    with pytest.raises(ValueError):
        store.path_of("../../etc/passwd")


def test_add_file_moves_and_dedups(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    src = tmp_path / "download.part"
    src.write_bytes(b"video-bytes" * 100)
    a = store.add_file(src, "video/mp4")
    assert not src.exists()
    assert a.path.name == f"{a.sha256}.mp4" and a.path.read_bytes() == b"video-bytes" * 100
    src.write_bytes(b"video-bytes" * 100)
    b = store.add_file(src, "video/mp4", sha256=a.sha256)
    assert b.sha256 == a.sha256 and not src.exists()
    keep = tmp_path / "keep.wav"
    keep.write_bytes(b"RIFF....")
    c = store.add_file(keep, "audio/wav", keep_source=True)
    assert keep.exists() and c.path.suffix == ".wav"
    assert len(list(store.artifact_files())) == 2


def test_secrets_never_reach_disk(tmp_path: Path) -> None:
    store = Store(tmp_path, secrets=[Secret("hunter2-plain-token")])
    a = store.add_bytes(b"abc", "text/plain", name=f"key-{KEY}.txt")
    e = HistoryEntry(
        kind="chat", model="m", params={"message": f"my key is {KEY}", "extra": {KEY: [KEY]}, "raw": "hunter2-plain-token"},
        request={"method": "POST", "path": "/v1/chat/completions", "json": {"api_key": KEY}},
        text=f"prompt {KEY}", thread=f"thread-{KEY}",
    )
    eid = store.insert(e)
    store.update(eid, status="error", error=RuntimeError(f"401 for key {KEY}"), response={"echo": KEY},
                 usage={"raw": KEY}, outputs=[{**a.as_dict(), "role": "text"}], text=f"answer {KEY}")
    got = store.get(eid)
    assert KEY not in json.dumps(got.to_dict())
    assert "sk-****" in got.params["message"]
    h = History(store)
    out_json = h.export(tmp_path / "out" / "h.json", include_artifacts=True)
    out_jsonl = h.export(tmp_path / "out" / "h.jsonl")
    assert "SECRET123456" not in h[-1].to_curl() and "SECRET123456" not in h[-1].to_code()
    assert "SECRET123456" not in h._repr_html_()

    def all_bytes() -> bytes:
        blobs = b""
        for p in [*tmp_path.rglob("*")]:
            if p.is_file():
                blobs += p.read_bytes() + p.name.encode()
        return blobs

    before_close = all_bytes()  # includes the -wal file while connections are open
    store.close()
    after_close = all_bytes()
    for blob in (before_close, after_close, out_json.read_bytes(), out_jsonl.read_bytes()):
        assert b"SECRET123456" not in blob
        assert b"hunter2-plain-token" not in blob
    assert b"sk-****" in after_close


def test_threads_share_a_store(tmp_path: Path) -> None:
    store = Store(tmp_path)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(25):
                eid = store.insert(HistoryEntry(kind="chat", model=f"m{t}", text=f"t{t} i{i}"))
                a = store.add_bytes(f"{t}-{i}".encode(), "text/plain")
                store.update(eid, status="ok", outputs=[a.as_dict()])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert store.count() == 200
    assert History(store).filter(status="ok").__len__() == 200
    report = store.check()
    assert report["integrity"] == "ok" and report["missing"] == [] and report["artifacts"] == 200


_FORKED = """
import os, sys
from tokenhot_nb.history import HistoryEntry, Store

store = Store(sys.argv[1])
parent_conn = store.connection()
store.insert(HistoryEntry(kind="chat", model="m", text="parent"))
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # the child: report, then leave
    code = 1
    try:
        os.close(r)
        fresh = store.connection() is not parent_conn
        store.insert(HistoryEntry(kind="chat", model="m", text="child"))
        os.write(w, b"fresh" if fresh else b"reused")
        code = 0
    finally:
        os._exit(code)
os.close(w)
_, status = os.waitpid(pid, 0)
said = os.read(r, 100).decode()
rows = store.connection().execute("SELECT text, pid FROM entries ORDER BY id").fetchall()
ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
print(said, ok, rows == [("parent", os.getpid()), ("child", pid)], rows)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_opens_its_own_connection_and_records_its_own_pid(tmp_path: Path) -> None:
    """The store keeps the process id instead of asking for it on every write; a fork must still give the child
    a connection of its own (never the parent's) and rows marked with the child's pid.

    The fork happens in a fresh interpreter: forking this test process, which other tests left with threads and
    native libraries (PyAV) running, can hang the child in their after-fork cleanup.
    """
    proc = subprocess.run([sys.executable, "-c", _FORKED, str(tmp_path)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    said, exited, rows_ok, _rows = proc.stdout.split(" ", 3)
    assert (said, exited, rows_ok) == ("fresh", "True", "True"), proc.stdout


def test_a_write_waits_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    """Past SQLite's own busy wait, the store backs off and tries again; it gives up only after its 60 s."""
    import sqlite3
    import threading
    import time

    from tokenhot_nb.history._store import _Backoff

    store = Store(tmp_path)
    store.count()
    store.connection().execute("PRAGMA busy_timeout=20")  # SQLite's own wait, short: the store's backoff takes over
    other = sqlite3.connect(store.db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    t0 = time.monotonic()
    eid = store.insert(HistoryEntry(kind="chat", model="m", text="after the lock"))
    assert time.monotonic() - t0 >= 0.25 and store.get(eid).text == "after the lock"
    release.join()
    other.close()
    store.close()
    late = _Backoff()
    late.deadline = time.monotonic() - 1
    assert late() is False


def test_a_relative_store_stays_the_same_folder_after_the_working_folder_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default store is relative ('.tokenhot'): after ``%cd`` in a notebook, the session's next call failed with
    "The history database '.tokenhot/history.sqlite' was deleted while this session had it open" (a connection
    opened in another thread found no file, or another one), and its files went to a second '.tokenhot'."""
    from _session_support import Recorder, make_session

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    with make_session(Path("rel"), Recorder()) as s:
        s.chat("before", stream=False)
        first = s.image("a fox", model="gpt-image-2")
        monkeypatch.chdir(tmp_path / "two")
        s.chat("after", stream=False)
        second = s.image("a dog", model="gpt-image-2")
        seen: list[int] = []
        worker = threading.Thread(target=lambda: seen.append(len(History(s.store))))  # a new thread's connection
        worker.start()
        worker.join()
        assert seen == [4] and len(s.history) == 4
        assert first.path.is_file() and second.path.parent.parent == tmp_path / "one" / "rel" / "artifacts"
    assert not (tmp_path / "two" / "rel").exists()
    assert Store("rel").root == tmp_path / "two" / "rel"  # (made relative to the folder it is made in)


def test_a_relative_store_is_the_folder_the_session_was_made_in_even_before_its_first_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``s = Session()`` then ``%cd data`` then the first call: the store (opened at that first call) was made in
    data/, away from the one the notebook had, with the catalogue's cache beside it."""
    from _session_support import Recorder, make_session

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    with make_session(Path("rel"), Recorder()) as s:
        monkeypatch.chdir(tmp_path / "two")
        s.chat("first call", stream=False)
        assert s.store.root == tmp_path / "one" / "rel" and s.settings.store == tmp_path / "one" / "rel"
    assert (tmp_path / "one" / "rel" / "history.sqlite").is_file() and not (tmp_path / "two" / "rel").exists()
