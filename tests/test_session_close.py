"""Closing a session (``session(reset=True)``, ``%th_config``) while calls are still in flight on other threads or
tasks: those calls finish with their whole answers recorded, and the session's connections and history close once
the last of them has ended."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _raw_server import Listener, read_http_request
from _session_support import HeldRecorder, make_session

from tokenhot_nb import Session
from tokenhot_nb.sim import Server

pytestmark = pytest.mark.usefixtures("direct")
KEY = "sk-close-session-0123456789"


class _HeldStream(Listener):
    """Forwards to the simulator; the first chat answer is held after its first stream frame until :attr:`go`
    is set (:attr:`mid` says it got there): a call stopped mid-answer, on a real socket."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.mid, self.go = threading.Event(), threading.Event()
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        try:
            while (got := read_http_request(conn)) is not None:
                head, body = got
                hold = b"/chat/completions" in head.split(b"\r\n", 1)[0] and not self.mid.is_set()
                lines = [x for x in head.split(b"\r\n") if not x.lower().startswith(b"connection:")]
                with socket.create_connection(("127.0.0.1", self.upstream)) as up:
                    up.sendall(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body)
                    answer = b""
                    while piece := up.recv(65536):
                        answer += piece
                if hold:  # the head and the first frame ("data: …\n\n"), then the rest once let go
                    top, _, rest = answer.partition(b"\r\n\r\n")
                    first = rest.index(b"\n\n", rest.index(b"data:")) + 2
                    conn.sendall(top + b"\r\n\r\n" + rest[:first])
                    self.mid.set()
                    self.go.wait(60)
                    conn.sendall(rest[first:])
                else:
                    conn.sendall(answer)
                return  # (the answer ended with the upstream connection)
        except OSError:
            pass
        finally:
            conn.close()


@pytest.fixture
def held(sim_server: Server) -> Iterator[_HeldStream]:
    px = _HeldStream(int(sim_server.url.rsplit(":", 1)[1].split("/")[0]))
    yield px
    px.go.set()
    px.stop()


@pytest.fixture
def live(tmp_path: Path, held: _HeldStream) -> Iterator[Session]:
    s = Session(api_key=KEY, base_url=held.url, mode="live", store=tmp_path / "st", poll_interval=0.01)
    s.models()  # (the price table read first)
    yield s
    s.close()


def _closed_once_let_go(s: Session, held: _HeldStream, done: threading.Event) -> None:
    """Close ``s`` while its call is held mid-answer: close() returns at once and closes nothing under the call;
    the call is then let go."""
    assert held.mid.wait(60)
    s.close()  # (returns at once: the call is still held, so waiting for it here would never end)
    assert not done.is_set()
    assert s._client is not None and s._store is not None  # still the call's
    held.go.set()


def _check_answered_then_closed(s: Session, result: Any) -> None:
    assert not isinstance(result, BaseException), result
    # the last call to end closed the session as asked (looked at first: reading its row opens the history again)
    assert s._client is None and s._store is None
    row = result.entry
    assert row.status == "ok" and row.error is None
    assert not (row.response or {}).get("partial")
    assert result.text and row.result().text == result.text  # (the whole answer: a cut one raises StreamError)
    # and it opens anew when used again
    again = s.chat("and now?", model="gpt-5.2", thread=False, stream=False)
    assert again.entry.status == "ok"
    assert [e.status for e in s.history if e.kind == "chat"] == ["ok", "ok"]


def _started(call: Callable[[], Any]) -> tuple[list[Any], threading.Event, threading.Thread]:
    """``call`` on a thread of its own (a panel's worker, a cell's loop): what it returned or raised lands in the
    list, and the event is set once it has."""
    got: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            got.append(call())
        except BaseException as exc:
            got.append(exc)
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return got, done, t


def test_a_stream_on_another_thread_finishes_when_the_session_is_closed_under_it(live: Session,
                                                                                  held: _HeldStream) -> None:
    """A panel's worker streams a chat while the cell resets the shared session: the paid answer comes back whole
    (it broke with "connection broke (Bad file descriptor) … may have been billed")."""
    got, done, t = _started(lambda: live.chat("tell me a long story", model="gpt-5.2", thread=False))
    _closed_once_let_go(live, held, done)
    t.join(60)
    assert done.is_set()
    _check_answered_then_closed(live, got[0])


def test_an_awaited_stream_finishes_when_the_session_is_closed_under_it(live: Session, held: _HeldStream) -> None:
    """An ``await s.achat(...)`` on another loop (a cell's) goes on to its end when the session is closed meanwhile."""
    got, done, t = _started(lambda: asyncio.run(live.achat("tell me a long story", model="gpt-5.2", thread=False)))
    _closed_once_let_go(live, held, done)
    t.join(60)
    assert done.is_set()
    _check_answered_then_closed(live, got[0])


def test_a_stream_finishes_when_the_shared_session_is_replaced_under_it(tmp_path: Path, held: _HeldStream,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``tokenhot_nb.session(...)`` (as ``%th_config`` does) replaces the shared session while a panel's worker
    streams on the old one: the old one's answer comes back whole, then the old session closes."""
    import tokenhot_nb
    from tokenhot_nb._session import default

    monkeypatch.setattr(default, "_default", None)  # (the shared session before this test is put back after it)
    settings = {"api_key": KEY, "base_url": held.url, "mode": "live", "poll_interval": 0.01}
    old = tokenhot_nb.session(store=tmp_path / "st", **settings)
    old.models()
    got, done, t = _started(lambda: old.chat("tell me a long story", model="gpt-5.2", thread=False))
    assert held.mid.wait(60)
    new = tokenhot_nb.session(store=tmp_path / "st2", **settings)
    assert new is not old and not done.is_set()
    held.go.set()
    t.join(60)
    try:
        _check_answered_then_closed(old, got[0])
    finally:
        old.close()
        new.close()


def test_a_video_wait_on_another_thread_finishes_when_the_session_is_closed_under_it(tmp_path: Path) -> None:
    """A panel waits for a paid video while the session is closed: the wait ends with the video, and then the
    session is closed (the wait's next poll opened a fresh client, which nothing closed)."""
    rec = HeldRecorder("GET", "/video/generations/")  # (the first status poll)
    s = make_session(tmp_path / "st", rec)
    try:
        task = s.video("a slow sunrise", wait=False)
        got, done, t = _started(lambda: task.wait(progress=False))
        assert rec.held.wait(60)
        s.close()
        assert not done.is_set()
        rec.hold.set()
        t.join(60)
        assert not isinstance(got[0], BaseException), got[0]
        assert s._client is None and s._store is None  # closed by the wait, the last call to end
        assert got[0].sha256 and got[0].entry.status == "ok"
    finally:
        rec.hold.set()
        s.close()


def test_async_with_closes_the_session_without_blocking_the_running_loop(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``async with Session(…) as s:`` was a TypeError (no ``__aenter__``). Its exit closes the connections and the
    history as close() does, while the loop's other tasks run: the store's close here waits for one of them."""
    from tokenhot_nb.history import Store

    ran = threading.Event()  # set by another task of the running loop
    real = Store.close

    def close(self: Store) -> None:
        assert ran.wait(10), "the running loop was blocked while the session closed"
        real(self)

    monkeypatch.setattr(Store, "close", close)

    async def cell() -> tuple[Session, Any, Any, Any]:
        async with make_session(tmp_path) as s:
            res = await s.achat("hi", stream=False)
            client, store = s.client, s.store

            async def other() -> None:
                ran.set()

            task = asyncio.ensure_future(other())
        await task
        return s, res, client, store

    s, res, client, store = asyncio.run(cell())
    assert res.text and ran.is_set()
    assert client._closed and not client._clients and not store._conns and not store._ready
    assert s.history.last.status == "ok"  # used again, it opens them anew
    s.close()


def test_async_with_under_nest_asyncio(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import asyncio
        import nest_asyncio
        nest_asyncio.apply()
        from tokenhot_nb import Session

        async def cell():
            async with Session(mode="offline", store={str(tmp_path / 'st')!r}, poll_interval=0.001) as s:
                said = [s.chat("sync inside", stream=False).text, (await s.achat("awaited")).text]
                client, store = s.client, s.store
            return s, said, client, store

        s, said, client, store = asyncio.run(cell())
        assert all(said) and client._closed and not store._conns and s._client is None
        print("OK", len(s.history))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK 2"
