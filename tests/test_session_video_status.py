"""``task.status()`` and a wait's polls over a real loopback socket whose status answer never comes whole: one
request that trickles, or is taken and never answered, is bounded, and said in one line naming the task."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _raw_server import RawServer, answer

from tokenhot_nb import Session
from tokenhot_nb import errors as E

KEY = "sk-status-timeout-KEY-0123456789"


def _trickle(server: RawServer, conn: socket.socket) -> None:
    """A status poll answered 200 with a long JSON body sent one byte every 0.2 s: each read is well within the
    read timeout, the body never ends (until the client gives up). Anything else: 404 at once."""
    while server.read_request(conn):
        line = server.requests[-1][0]
        if not line.startswith("GET /v1/video/generations/"):
            conn.sendall(answer(404, b'{"error": {"message": "not here", "type": "invalid_request_error"}}'))
            continue
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        end = time.monotonic() + 60
        while time.monotonic() < end:
            conn.sendall(b" ")
            time.sleep(0.2)
        return


def _silent(server: RawServer, conn: socket.socket) -> None:
    """Every request is read and never answered (the connection stays open until the client closes it)."""
    if server.read_request(conn):
        conn.settimeout(60)
        try:
            conn.recv(1)
        except OSError:
            pass


@pytest.fixture(params=["trickle", "silent"])
def relay(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    server = RawServer(_trickle if request.param == "trickle" else _silent)
    yield server
    server.stop()


def _session(relay: RawServer, store: Path, **kw: float) -> Session:
    # connect + read timeout: 1.5 s for one status request in all; the whole-body limit far beyond it
    return Session(api_key=KEY, base_url=relay.url, mode="live", store=store, connect_timeout=0.5,
                   read_timeout=1.0, stream_deadline=8.0, poll_interval=0.01, **kw)


def test_a_status_request_that_never_ends_is_bounded_and_says_the_task_and_that_asking_again_is_free(
        relay: RawServer, tmp_path: Path) -> None:
    """``task.status()`` applied only the client's per-read timeout and its retries: a relay trickling the answer
    held it until the whole-body limit (30 min by default), one taking the request and never answering for three
    read timeouts and the backoffs, each ending in the client's generic words. Now one status request has one
    connect and one read timeout in all, and its error is one line naming the task, with asking again free."""
    with _session(relay, tmp_path / "st") as s:
        task = s.resume("task_slowpoll1")
        with pytest.raises(E.APITimeoutError) as info:
            task.status()
        err = info.value
        assert err.message.startswith("The status request for video task task_slowpoll1 ")
        assert err.message.endswith("; the task keeps running on the server.")
        if relay.handler is _trickle:  # (taken and never answered: the client's read timeout may come first)
            assert "had no whole answer within 1.5 s (connect_timeout + read_timeout)" in err.message
        assert "no new charge" in str(err) and "session.resume('task_slowpoll1')" in str(err)
        assert "\n" not in str(err) and KEY not in str(err)
        assert s.history[-1].status == "pending"  # (a status() that timed out changes nothing)


def test_a_wait_whose_polls_never_end_stops_with_the_free_resume(relay: RawServer, tmp_path: Path) -> None:
    """A wait's polls are bounded the same way: each hung poll is one bad poll (polled again as the retry policy
    allows), not the whole wait; the wait then ends with the task pending and the free resume."""
    with _session(relay, tmp_path / "st", max_retries=1) as s:
        task = s.resume("task_slowpoll2")
        with pytest.raises(E.APITimeoutError) as info:
            task.wait(timeout=600, progress=False)
        text = str(info.value)
        assert text.startswith("The status request for video task task_slowpoll2 ")
        assert "2 status polls in a row failed" in text and "session.resume('task_slowpoll2')" in text
        assert s.history[-1].status == "pending"
        assert sum(line.startswith("GET /v1/video/generations/task_slowpoll2") for line, _ in relay.requests) >= 2
