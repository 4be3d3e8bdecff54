"""A kernel killed (SIGKILL: no ``finally``, no ``atexit``) in the middle of a call, in a real subprocess: what
was already paid for or received is in the history when the store is opened next, and the row says how to get
it back."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tokenhot_nb import Session
from tokenhot_nb.history import History, HistoryEntry, Store
from tokenhot_nb.history import _store as store_mod
from tokenhot_nb.results import ImageResult

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-test-0123456789"

#: A session on the in-process simulator whose transport holds one kind of request forever (and says so on
#: stdout), so the parent kills the process at a known point of the call.
KILLED = textwrap.dedent(
    """
    import asyncio, sys
    import httpx
    from tokenhot_nb import Session

    root, what, url = sys.argv[1], sys.argv[2], sys.argv[3]

    class Held(httpx.AsyncBaseTransport):
        def __init__(self):
            self.net = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request):
            if what == "image" and request.url.path.startswith("/sim/files/"):
                print("downloading", flush=True)
                await asyncio.sleep(3600)
            if what.startswith("stream"):
                request.headers["X-Sim-Faults"] = '{"chunk_delay": 0.05, "stream_chunks": 400}'
            if what == "thinks":  # its reasoning comes first, over a few seconds
                request.headers["X-Sim-Faults"] = '{"chunk_delay": 0.2, "stream_chunks": 400}'
            return await self.net.handle_async_request(request)

    s = Session(api_key="sk-test-0123456789", base_url=url, mode="live", store=root, transport=Held())
    s.models()
    if what == "image":
        s.image("a lighthouse at dusk", model="gpt-image-1.5")
    else:
        def watch(delta, text):
            if len(text) > 60:
                print("partial " + text.replace("\\n", " "), flush=True)
        if what == "thinks":
            def thinking(delta, text):
                if delta.reasoning:
                    print("reasoning", flush=True)
            s.chat("tell me a long story", model="gpt-5.4", endpoint="chat", reasoning_effort="high",
                   thread=False, on_delta=thinking)
        elif what == "streams":  # two answers of one call, interleaved, each paid for
            s.chat("tell me a long story", model="grok-4.1", n=2, thread=False, stream=True, on_delta=watch)
        else:
            s.chat("tell me a long story", stream=True, on_delta=watch)
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _kill_at(root: Path, what: str, marker: str, url: str, *, saved: bool = False) -> str:
    """Run the call in a subprocess against the loopback simulator at ``url``, SIGKILL it once it printed
    ``marker`` (and, with ``saved``, once its running row holds some of the answer, for up to 5 s); → that
    line."""
    p = subprocess.Popen([sys.executable, "-c", KILLED, str(root), what, url], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    try:
        line = p.stdout.readline()
        while line and not line.startswith(marker):
            line = p.stdout.readline()
        assert line, p.stderr.read() if p.stderr else ""
        if saved:
            deadline = time.monotonic() + 5
            while "\n\n" not in _running_text(root) and time.monotonic() < deadline:
                time.sleep(0.05)
        return line.strip()
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=30)


def _running_text(root: Path) -> str:
    with contextlib.closing(sqlite3.connect(root / "history.sqlite")) as c:
        row = c.execute("SELECT text FROM entries WHERE status='running'").fetchone()
    return str(row[0]) if row else ""


def test_an_image_killed_while_downloading_keeps_its_paid_link_and_resumes(tmp_path: Path, sim_url: str,
                                                                           direct: None) -> None:
    root = tmp_path / "store"
    _kill_at(root, "image", "downloading", sim_url)

    s = Session(api_key=KEY, base_url=sim_url, mode="live", store=root)
    try:
        entry = s.history[-1]
        assert entry.status == "interrupted"
        refs = entry.response["images"]
        assert len(refs) == 1 and refs[0]["url"].startswith("http") and "sha256" not in refs[0]
        assert entry.usage["cost"]["usd"] > 0  # the answer is paid for: the budget and the history count it
        assert "session.resume(" in entry.error["hint"]  # not "run the call again": that would pay twice
        res = s.resume(entry.id)
        assert isinstance(res, ImageResult) and len(res) == 1 and res.entry.id == entry.id
        assert res.entry.status == "ok"
        assert len(s.history) == 1  # no new call, no new charge
    finally:
        s.close()


def test_a_stream_killed_mid_answer_keeps_the_text_received_so_far(tmp_path: Path, sim_url: str,
                                                                   direct: None) -> None:
    root = tmp_path / "store"
    shown = _kill_at(root, "stream", "partial", sim_url, saved=True)

    with Session(api_key=KEY, base_url=sim_url, mode="live", store=root) as s:
        entry = s.history[-1]
        assert entry.status == "interrupted"
        prompt, _, kept = entry.text.partition("\n\n")
        assert prompt == "tell me a long story"
        assert kept.startswith('You said: "tell me a long story"')  # the answer's first part, as it arrived
        assert shown.removeprefix("partial ").startswith(kept[:60].replace("\n", " "))
        assert entry.response.get("partial") is True
        assert "text received" in entry.error["message"]
        assert [e.id for e in s.history.search("long story")] == [entry.id]


def test_an_n2_stream_killed_mid_answer_keeps_every_answers_text_received_so_far(tmp_path: Path, sim_url: str,
                                                                                direct: None) -> None:
    """Both answers of an ``n=2`` stream are paid for as they arrive: the periodic save kept the first only."""
    root = tmp_path / "store"
    _kill_at(root, "streams", "partial", sim_url, saved=True)

    with Session(api_key=KEY, base_url=sim_url, mode="live", store=root) as s:
        entry = s.history[-1]
        assert entry.status == "interrupted" and entry.response.get("partial") is True
        others = entry.response.get("choices")
        assert isinstance(others, list) and len(others) == 1
        second = others[0]["text"]
        assert second.startswith('You said: "tell me a long story"') and len(second) > 20
        prompt, _, kept = entry.text.partition("\n\n")
        assert prompt == "tell me a long story" and kept.endswith(second)  # searchable as a whole answer is


#: Another process on this host using the same store (a worker, another kernel): its image call is held at the
#: request (it says "sending"), until the test kills it.
WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from tokenhot_nb import Session
    from tokenhot_nb.sim import Faults, SimTransport

    class Held(SimTransport):
        async def handle_async_request(self, request):
            if "/v1/images" in request.url.path:
                print("sending", flush=True)
                await asyncio.sleep(3600)
            return await super().handle_async_request(request)

    with Session(store=sys.argv[1], transport=Held(Faults()), mode="offline") as s:
        s.image("a pear", model="gpt-image-1.5")
    """
)


def _crash_worker(root: Path) -> None:
    """Run :data:`WORKER` until its call is in flight, then SIGKILL it."""
    p = subprocess.Popen([sys.executable, "-c", WORKER, str(root)], env=_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "sending", p.stderr.read() if p.stderr else ""
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=30)


def test_a_long_lived_kernel_notices_a_crashed_worker_when_it_lists_its_history_or_counts_its_budget(
        tmp_path: Path) -> None:
    """A worker process on this host that crashed mid-call leaves no row ``running`` in a kernel that opened the
    store before: listing the history marks it ``interrupted``, and so does counting the budget. Its request had
    gone out, so the relay may have billed it: its cost is unknown, and the budget counts it at its estimate (what
    it reserved) and says so, rather than as $0."""
    root = tmp_path / "store"
    with Session(store=root, mode="offline") as s:
        price = s.estimate("image", "a pear", model="gpt-image-1.5").usd
        assert price
        s.set_budget(price * 3.5)  # room for three images
        _crash_worker(root)
        entry = s.history[-1]  # listed first
        assert entry.status == "interrupted" and entry.error["error"] == "Interrupted"
        assert entry.text == "a pear" and entry.kind == "image"  # what it held is kept
        assert s.budget.spent_usd == pytest.approx(price) and "1 call ended with the cost unknown" in str(s.budget)
        _crash_worker(root)
        assert s.budget.spent_usd == pytest.approx(2 * price)  # counted first: it notices the dead call
        with contextlib.closing(sqlite3.connect(root / "history.sqlite")) as c:
            assert [r[0] for r in c.execute("SELECT status FROM entries ORDER BY id")] == ["interrupted"] * 2
        assert "2 calls ended with the cost unknown" in str(s.budget)
        assert s.image("a pear", model="gpt-image-1.5").entry.status == "ok"  # the budget has room for it
        assert s.budget.spent_usd == pytest.approx(3 * price)


#: Records a running row in ``sys.argv[1]``, prints its id, then dies (``die``) or stays alive (``live``).
RECORDS = textwrap.dedent(
    """
    import os, signal, sys, time
    from tokenhot_nb.history import HistoryEntry, Store

    store = Store(sys.argv[1])
    print(store.insert(HistoryEntry(kind="chat", model="m", text="a call", started=time.time())), flush=True)
    if sys.argv[2] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(60)
    """
)


# (a pipe left open: its ResourceWarning, raised as the file is collected, fails the test)
@pytest.mark.filterwarnings("error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning")
def test_a_row_whose_process_id_was_given_to_a_newer_process_is_marked_interrupted(tmp_path: Path) -> None:
    """A dead call's process id now belongs to another, newer process (here: a sleeping child, and this very
    process, as a kernel restarted in a container gets its predecessor's id): the row is still marked
    ``interrupted``, told apart by the process's start time; a live writer's row stays ``running``."""
    root = tmp_path / "store"
    rows: dict[str, int] = {}
    # (each Popen's with closes its pipe once the child is gone: killed and waited for, the pipe was left open)
    with subprocess.Popen([sys.executable, "-c", RECORDS, str(root), "live"], env=_env(), stdout=subprocess.PIPE,
                          text=True) as alive, \
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as newer:
        try:
            assert alive.stdout is not None
            rows["alive"] = int(alive.stdout.readline())
            for who, pid in (("newer", newer.pid), ("me", os.getpid())):
                dead = subprocess.run([sys.executable, "-c", RECORDS, str(root), "die"], env=_env(),
                                      capture_output=True, text=True, timeout=60)
                rows[who] = int(dead.stdout)
                with contextlib.closing(sqlite3.connect(root / "history.sqlite")) as c, c:  # its id, handed on
                    c.execute("UPDATE entries SET pid=? WHERE id=?", (pid, rows[who]))
            with contextlib.closing(Store(root)) as store:
                status = {who: store.get(i).status for who, i in rows.items()}
            assert status == {"alive": "running", "newer": "interrupted", "me": "interrupted"}
        finally:
            for p in (alive, newer):
                p.kill()


def test_a_schema_4_store_is_upgraded_and_its_rows_without_a_start_time_are_looked_for_by_id(tmp_path: Path) -> None:
    """Rows written before processes were named by start time (schema 4) keep working: the store gains the
    column when opened (and is read as it is when read-only), and such a row of a gone process is marked
    ``interrupted`` by its id alone, as before; a live one stays ``running``."""
    if sqlite3.sqlite_version_info < (3, 35):
        pytest.skip("DROP COLUMN needs SQLite 3.35")
    root = tmp_path / "store"
    with contextlib.closing(Store(root)) as store:
        done = store.insert(HistoryEntry(kind="chat", model="m", status="ok", text="kept"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with contextlib.closing(sqlite3.connect(root / "history.sqlite")) as c, c:  # as schema 4 wrote it
        c.execute("ALTER TABLE entries DROP COLUMN pid_start")
        c.execute("PRAGMA user_version=4")
        rows = [c.execute("INSERT INTO entries(started, kind, model, status, pid, host) VALUES (?, 'chat', 'm', "
                          "'running', ?, ?)", (time.time(), pid, store_mod._HOST)).lastrowid
                for pid in (int(gone.stdout), os.getpid())]
    with contextlib.closing(Store(root, read_only=True)) as ro:
        assert [e.status for e in History(ro)] == ["ok", "running", "running"]
    with contextlib.closing(Store(root)) as store:
        assert store.connection().execute("PRAGMA user_version").fetchone()[0] == 6
        assert [store.get(i).status for i in (done, *rows)] == ["ok", "interrupted", "running"]
        new = store.insert(HistoryEntry(kind="chat", model="m"))
        assert store.connection().execute("SELECT pid_start FROM entries WHERE id=?", (new,)).fetchone()[0] \
            == store_mod._start_of(os.getpid())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_worker_is_running_while_it_lives_and_interrupted_once_it_crashed(tmp_path: Path) -> None:
    """A worker forked from the kernel records with its own process id and start time (not its parent's): its
    call shows ``running`` while it lives, and ``interrupted`` in the parent's next listing once it crashed."""
    store = Store(tmp_path / "store")
    store.insert(HistoryEntry(kind="chat", model="m", status="ok", text="before"))
    r, w = os.pipe()
    child = os.fork()
    if child == 0:  # the worker: record a call, say so, wait to be killed
        try:
            os.close(r)
            entry_id = store.insert(HistoryEntry(kind="chat", model="m", text="the worker's call"))
            os.write(w, f"{entry_id}\n".encode())
            time.sleep(60)
        finally:
            os._exit(1)
    os.close(w)
    try:
        with os.fdopen(r) as said:
            entry_id = int(said.readline())
        assert [e.status for e in History(store)] == ["ok", "running"]  # alive: left alone by a listing
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    assert [e.status for e in History(store)] == ["ok", "interrupted"]
    assert History(store).get(entry_id).text == "the worker's call"
    store.close()


def _dead_pid() -> int:
    """The id of a process of this host that has ended (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          timeout=60)
    return int(done.stdout)


def test_reading_one_running_row_notices_that_its_process_is_gone(tmp_path: Path) -> None:
    """``history.get(id)`` and ``session.resume(id)`` read one row; a ``running`` row whose process (named by id
    and start time) died after this kernel opened the store is marked ``interrupted`` by that read, as listing
    does: it no longer says "still running, wait for it" of a call that will never end."""
    root = tmp_path / "store"
    with Session(store=root, mode="offline") as s:
        ids = []
        for _ in range(2):
            eid = s.store.insert(HistoryEntry(kind="image", model="gpt-image-1.5", params={"prompt": "a pear"},
                                              text="a pear"))
            with contextlib.closing(sqlite3.connect(root / "history.sqlite")) as c, c:  # a worker that crashed
                c.execute("UPDATE entries SET pid=?, pid_start=? WHERE id=?", (_dead_pid(), 12345, eid))
            ids.append(eid)
        entry = s.history.get(ids[0])
        assert entry.status == "interrupted" and entry.error is not None and entry.error["error"] == "Interrupted"
        assert entry.text == "a pear"
        with pytest.raises(Exception) as info:
            s.resume(ids[1])
        assert "still running" not in str(info.value) and "kept no image links" in str(info.value)
        assert s.store.get(ids[1]).status == "interrupted"
        mine = s.store.insert(HistoryEntry(kind="chat", model="m", text="in flight"))
        assert s.history.get(mine).status == "running"  # this process's own call in flight is left alone


def test_a_call_of_another_container_with_the_same_host_name_is_left_running(tmp_path: Path) -> None:
    """Two containers sharing one host name and one mounted store each have their own process ids: a row the
    other container wrote (same name, another process-id namespace) is never taken for a dead call of this host,
    whatever this host's process table says of its id. Rows of this namespace, and rows written before the
    namespace was kept (the host name alone), are looked for as before."""
    from tokenhot_nb import _host

    assert _host.ID.startswith(_host.NAME)
    root = tmp_path / "store"
    with contextlib.closing(Store(root)) as store:
        ids = {who: store.insert(HistoryEntry(kind="chat", model="m", text=who))
               for who in ("elsewhere", "here", "before")}
        hosts = {"elsewhere": f"{_host.NAME} pid:[1]", "here": _host.ID, "before": _host.NAME}
        with contextlib.closing(sqlite3.connect(root / "history.sqlite")) as c, c:
            for who, i in ids.items():
                c.execute("UPDATE entries SET pid=?, pid_start=?, host=? WHERE id=?",
                          (_dead_pid(), 12345, hosts[who], i))
        store.recover()
        assert {who: store.get(i).status for who, i in ids.items()} == {
            "elsewhere": "running", "here": "interrupted", "before": "interrupted"}
        new = store.insert(HistoryEntry(kind="chat", model="m"))
        assert store.connection().execute("SELECT host FROM entries WHERE id=?", (new,)).fetchone()[0] == _host.ID


def test_a_stream_killed_while_the_model_reasons_keeps_the_reasoning_received_so_far(
        tmp_path: Path, sim_url: str, direct: None) -> None:
    """The reasoning streamed before the answer is paid output: the periodic save kept the answer's text only, so a
    kernel killed while the model was still reasoning left a row with nothing of it."""
    root = tmp_path / "store"
    _kill_at(root, "thinks", "reasoning", sim_url, saved=True)

    with Session(api_key=KEY, base_url=sim_url, mode="live", store=root) as s:
        entry = s.history[-1]
        assert entry.status == "interrupted" and entry.response.get("partial") is True
        kept = entry.response.get("reasoning")
        assert isinstance(kept, str) and kept.startswith("The user wrote about: tell me a long story")
