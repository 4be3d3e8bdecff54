"""Several processes writing one store at once, and a process killed in the middle of a call."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest
from PIL import Image

from tokenhot_nb.history import History, HistoryEntry, Store, _connections
from tokenhot_nb.history._artifacts import _thumb_pool

REPO = Path(__file__).resolve().parents[1]

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from tokenhot_nb.history import HistoryEntry, Store

    root, wid, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.002)
    store = Store(root)          # every worker races to create the schema too
    shared = b"shared artifact " * 4096
    for i in range(n):
        eid = store.insert(HistoryEntry(kind="image", model=f"m{wid}", params={"prompt": f"w{wid} i{i}"},
                                        text=f"worker{wid} item{i}"))
        own = store.add_bytes(os.urandom(32) + f"{wid}-{i}".encode() * 500, "image/png")
        both = store.add_bytes(shared, "text/plain")
        store.update(eid, status="ok", outputs=[{**own.as_dict(), "role": "image"}, {**both.as_dict(), "role": "text"}])
    print("done", flush=True)
    """
)

KILLED = textwrap.dedent(
    """
    import os, sys, time
    from tokenhot_nb.history import HistoryEntry, Store

    store = Store(sys.argv[1])
    eid = store.insert(HistoryEntry(kind="video", model="sim-video", params={"prompt": "a long take"},
                                    text="a long take"))
    print(eid, flush=True)
    outputs = []
    i = 0
    while True:                  # runs until killed: artifact writes and updates back to back
        art = store.add_bytes(os.urandom(3_000_000), "video/mp4")
        outputs.append({**art.as_dict(), "role": "video"})
        store.update(eid, outputs=outputs, response={"progress": i}, text=f"a long take {i}")
        i += 1
        if i == 2:
            print("writing", flush=True)
            if len(sys.argv) > 2:    # "stall": hang inside the next artifact write, after its fsync
                def stalled_replace(src, dst):
                    print("stalled", flush=True)
                    time.sleep(3600)
                os.replace = stalled_replace
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    root = tmp_path / "store"
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(w), "50", str(go)],
                         env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(4)
    ]
    for p in procs:  # every worker is up and waiting: they start writing together
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "done"

    store = Store(root)
    h = History(store)
    assert len(h) == 200
    assert len(h.filter(status="ok")) == 200
    for w in range(4):
        prompts = sorted(e.params["prompt"] for e in h.filter(model=f"m{w}"))
        assert prompts == sorted(f"w{w} i{i}" for i in range(50))
    assert len(set(h.ids)) == 200
    report = store.check()
    assert report["integrity"] == "ok"
    assert report["missing"] == [] and report["corrupt"] == []
    assert report["artifacts"] == 201  # 200 own + 1 shared, deduplicated across processes
    assert report["temp_files"] == 0
    assert len(h.search("worker3")) == 50


def test_kill_during_writes_leaves_a_consistent_store(tmp_path: Path) -> None:
    # three kills at arbitrary moments, and one while an artifact write is caught half-way
    for round_, pause in enumerate((0.0, 0.037, 0.11, None)):
        root = tmp_path / f"store{round_}"
        extra = ["stall"] if pause is None else []
        p = subprocess.Popen([sys.executable, "-c", KILLED, str(root), *extra], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.stdout is not None
        eid = int(p.stdout.readline())
        assert p.stdout.readline().strip() == "writing"
        if pause is None:
            assert p.stdout.readline().strip() == "stalled"

        # while the writer lives, its call is `running` (never marked interrupted by another reader)
        live = Store(root)
        assert live.get(eid).status == "running"
        live.close()

        time.sleep(pause or 0.0)
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=30)  # (reads and closes its pipes)
        assert p.returncode == -signal.SIGKILL

        store = Store(root)
        assert store.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        entry = store.get(eid)
        assert entry.status == "interrupted"  # its process is gone
        assert entry.error is not None and entry.error["error"] == "Interrupted"
        assert len(entry.outputs) >= 2
        files = list(store.artifact_files())
        for f in files:  # every file with an artifact name is complete
            assert not f.name.startswith(".tmp-")
            assert hashlib.sha256(f.read_bytes()).hexdigest() == f.name[:64]
        report = store.check()
        assert report["integrity"] == "ok" and report["missing"] == [] and report["corrupt"] == []
        assert report["artifacts"] == len(files) >= len(entry.outputs)
        if pause is None:
            assert report["temp_files"] == 1  # the half-done write is a temp file, not an artifact
        assert store.cleanup_temp(max_age=0) == report["temp_files"]
        assert store.temp_files() == []
        # the store keeps working after the crash
        store.update(eid, status="error")
        assert store.get(eid).status == "error"
        store.close()


def test_close_never_closes_a_connection_another_live_thread_may_be_using(tmp_path: Path) -> None:
    """A session reset while a poll thread is inside a query must not pull the connection from under it (a
    connection closed mid-query crashes the interpreter on Python 3.13); a finished thread's and the caller's own
    connections are closed at once, the live thread's once it has ended (not left to the garbage collector)."""
    store = Store(tmp_path / "s")
    store.insert(HistoryEntry(kind="chat", model="m", text="hello"))
    opened, closed, done = threading.Event(), threading.Event(), threading.Event()
    seen: list[object] = []
    held: list[sqlite3.Connection] = []

    def poller() -> None:
        conn = store.connection()
        held.append(conn)
        opened.set()
        closed.wait(10)
        try:
            seen.append(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
        except sqlite3.Error as e:
            seen.append(e)
        done.set()

    def finished() -> None:
        seen.append(store.connection())

    t = threading.Thread(target=finished)
    t.start()
    t.join()
    gone = seen.pop()
    live = threading.Thread(target=poller)
    live.start()
    assert opened.wait(10)
    mine = store.connection()
    store.close()
    closed.set()
    assert done.wait(10)
    live.join(10)
    assert seen == [1]  # the live thread's query ran on its own, still open connection
    for conn in (mine, gone):
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")  # type: ignore[attr-defined]
    with Store(tmp_path / "s") as again:
        assert len(History(again)) == 1  # and the store opens again as usual
    with pytest.raises(sqlite3.ProgrammingError):  # the poller has ended: the next open closed its connection
        held[0].execute("SELECT 1")


def _closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_a_thread_serving_a_queue_closes_its_own_connection_when_the_store_is_closed(tmp_path: Path) -> None:
    """A store closed from the notebook's thread has the threads that keep running and used it (the session's
    event loop, the thumbnail worker) close their connections as their next job, when no query of theirs runs,
    and waits for that. Left to the garbage collector, each would be closed whenever it runs, warning
    (``ResourceWarning``, 3.13) in whatever test or cell happens to run then."""
    loop = asyncio.new_event_loop()
    looping = threading.Thread(target=loop.run_forever, daemon=True)
    looping.start()
    try:
        store = Store(tmp_path / "s")
        image = io.BytesIO()
        Image.new("RGB", (64, 64), "red").save(image, "PNG")
        store.add_bytes(image.getvalue(), "image/png")  # its thumbnail is made on the worker, which reads the store
        store.wait_thumbnails()

        async def on_the_loop() -> sqlite3.Connection:
            return store.connection()

        conns = [store.connection(), asyncio.run_coroutine_threadsafe(on_the_loop(), loop).result(10),
                 _thumb_pool().submit(store.connection).result(10)]
        assert len({id(c) for c in conns}) == 3
        store.close()  # returns once they are closed: the store's files are settled
        assert [_closed(c) for c in conns] == [True, True, True]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        looping.join(10)
        loop.close()


def test_work_handed_to_a_pool_worker_closes_the_connection_it_opened(tmp_path: Path) -> None:
    """Big outputs are stored and video posters made on ``asyncio.to_thread`` workers, which stay alive, idle,
    for the life of the loop's pool. ``Store.to_thread`` has the worker close its own connection when the job
    ends; a plain ``to_thread`` leaves it open (closing the store cannot reach it: only its thread may)."""
    store = Store(tmp_path / "s")
    seen: list[tuple[threading.Thread, sqlite3.Connection]] = []

    def job(text: str) -> int:
        seen.append((threading.current_thread(), store.connection()))
        return store.insert(HistoryEntry(kind="chat", model="m", text=text))

    async def both() -> tuple[int, int]:
        return await store.to_thread(job, "kept"), await asyncio.to_thread(job, "plain")

    loop = asyncio.new_event_loop()
    try:
        first, second = loop.run_until_complete(both())
        (worker, released), (_, held) = seen
        assert worker.is_alive() and worker is not threading.current_thread()
        assert _closed(released) and released not in store._conns  # the worker closed its own, at once
        assert not _closed(held) and held in store._conns  # the plain to_thread: still open, owned by the worker
        assert [e.text for e in store.select_entries([])] == ["kept", "plain"] and first != second
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        store.close()


def test_a_store_dropped_without_close_closes_its_connection(tmp_path: Path) -> None:
    """``History(path)`` has no close of its own: dropping it closes the connection it opened, quietly."""
    with Store(tmp_path / "s") as store:
        store.insert(HistoryEntry(kind="chat", model="m", text="hello"))
    gc.collect()  # (garbage left by earlier tests is not this test's)
    history = History(tmp_path / "s")
    assert len(history) == 1
    conn = history.store.connection()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del history
        gc.collect()
    assert _closed(conn)
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


class _Reentering(threading.Thread):
    """A connection's owner whose liveness check runs the closing code again, as a garbage-collector pass that
    finalizes another store can, at any point of this thread's code."""

    nested = 0

    def is_alive(self) -> bool:
        if not self.nested:
            self.nested += 1
            _connections.close_left()
        return True


@pytest.mark.timeout(20)
def test_closing_code_entered_again_by_the_collector_does_not_deadlock() -> None:
    conn = sqlite3.connect(":memory:")
    owner = _Reentering()
    _connections.LEFT.append((owner, conn))
    worker = threading.Thread(target=_connections.close_left, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()  # a lock held around the liveness check would have hung here
    assert owner.nested == 1 and (owner, conn) in _connections.LEFT  # still in use by a live thread: kept, not closed
    _connections.LEFT.remove((owner, conn))
    conn.close()


def test_a_store_the_collector_drops_asks_no_other_thread_for_anything() -> None:
    """From a finalizer, a pool's submit could wait on a lock this very thread holds: the connection waits in the
    left-over list for its thread instead."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    asked: list[object] = []
    alive = threading.Event()
    other = threading.Thread(target=alive.wait, daemon=True)
    other.start()
    try:
        conns = {conn: (other, lambda *a: asked.append(a))}
        _connections.close_all(conns, collected=True)
        assert asked == [] and conns == {} and (other, conn) in _connections.LEFT
    finally:
        alive.set()
        other.join(5)
    _connections.close_left()  # its thread has ended: closed now
    assert all(c is not conn for _, c in _connections.LEFT)
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")
