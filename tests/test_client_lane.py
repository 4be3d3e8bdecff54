"""The blocking lane: a sync call read whole runs on the caller's thread, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb import errors as E
from tokenhot_nb._config import Settings
from tokenhot_nb.client import Client, RetryPolicy, _lane, _loop, run_async
from tokenhot_nb.families._types import HttpCall
from tokenhot_nb.sim import Faults, Server

pytestmark = pytest.mark.usefixtures("direct")
KEY = "sk-lane-test-abcdefghijklmnop"
CHAT = HttpCall("POST", "/v1/chat/completions",
                json={"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}]})


class _Echo(BaseHTTPRequestHandler):
    """Answers every POST with the request's headers and body as JSON (what went over the wire)."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()},
                          "body": json.loads(body), "thread": threading.current_thread().name}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _Drip(BaseHTTPRequestHandler):
    """Answers 200 with a JSON body that comes a byte every 20 ms: every read is quick, the whole takes minutes."""

    stop = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b" " * 10_000 + b'{"late": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(len(body)):
                if self.stop.is_set():
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass  # the client gave up: that is the point

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def drip() -> Iterator[str]:
    _Drip.stop.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Drip.stop.set()
    server.shutdown()
    server.server_close()


def _client(url: str, sleeps: list[float] | None = None, **overrides: Any) -> Client:
    async def sleep(delay: float) -> None:
        if sleeps is not None:
            sleeps.append(delay)

    return Client(Settings(api_key=KEY, base_url=url, mode="live", max_retries=2, **overrides),
                  retry=RetryPolicy(max_retries=2, sleep=sleep, rand=lambda: 0.0))


def test_send_sync_on_the_network_runs_here_with_the_same_request(echo: str, handed: list[object]) -> None:
    client = _client(echo)
    try:
        resp = client.send_sync(CHAT)
        again = client.send_sync(CHAT)  # the lane's pool keeps the connection
        assert handed == []
        assert client._blocking is not None and not client._clients  # httpx's sync transport, no loop's pool
    finally:
        client.close()
    got = resp.json()
    assert got["body"] == CHAT.json and again.json()["body"] == CHAT.json
    headers = got["headers"]
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["user-agent"] == "tokenhot-nb" and headers["accept-encoding"] == "gzip, deflate"
    assert headers["content-type"] == "application/json"


def test_the_loop_path_sends_the_same_headers(echo: str) -> None:
    client = _client(echo)
    try:
        here = client.send_sync(CHAT).json()["headers"]
        there = _loop.run_sync(client.send(CHAT)).json()["headers"]
    finally:
        client.close()
    drop = {"host", "connection", "content-length"}
    assert {k: v for k, v in here.items() if k not in drop} == {k: v for k, v in there.items() if k not in drop}


def test_a_given_transport_or_a_timeout_keeps_the_background_loop(sim_server: Server, handed: list[object]) -> None:
    offline = Client(Settings(mode="offline"))
    try:
        assert not offline.blocking_ok
        assert offline.send_sync(CHAT).status == 200
    finally:
        offline.close()
    assert handed, "the in-process simulator is served on the background loop"
    handed.clear()
    client = _client(sim_server.url)
    try:
        assert client.send_sync(CHAT, timeout=30).status == 200
    finally:
        client.close()
    assert handed, "a timeout= is the background loop's to enforce"


def test_retries_caps_and_errors_in_the_lane(sim_server: Server, handed: list[object]) -> None:
    sleeps: list[float] = []
    client = _client(sim_server.url, sleeps)
    try:
        sim_server.set_faults(Faults(fail_first={503: 2}))
        assert client.send_sync(CHAT).status == 200
        assert len(sleeps) == 2
        sim_server.set_faults(Faults(fail_first={503: 3}))
        with pytest.raises(E.ServerError) as info:
            client.send_sync(CHAT)
        assert info.value.status == 503 and KEY not in str(info.value)
        assert handed == []
    finally:
        sim_server.set_faults(Faults())
        client.close()
    handed.clear()
    small = _client(sim_server.url, response_cap=64)
    try:
        with pytest.raises(E.APIError, match="refused"):
            small.send_sync(CHAT)
        assert handed == []
    finally:
        small.close()


def test_a_closed_client_refuses_and_its_lane_pool_is_closed(sim_server: Server) -> None:
    client = _client(sim_server.url)
    client.send_sync(CHAT)
    pool = client._blocking
    assert pool is not None
    client.close()
    assert pool.is_closed and client._blocking is None
    with pytest.raises(E.TokenhotError, match="closed"):
        client.send_sync(CHAT)


def test_run_restores_the_running_loop_of_the_caller() -> None:
    async def here() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    async def cell() -> tuple[str, bool]:
        outer = asyncio.get_running_loop()
        name = _lane.run(here())  # a sync call made inside a running loop, as in a Jupyter cell
        return name, asyncio.get_running_loop() is outer

    assert asyncio.run(cell()) == (threading.current_thread().name, True)
    assert not _lane.active()


def test_run_inside_the_lane_is_refused_and_the_coroutine_closed() -> None:
    async def inner() -> int:
        return 1

    async def outer() -> str:
        coro = inner()
        with pytest.raises(RuntimeError, match="already running"):
            _lane.run(coro)
        assert coro.cr_frame is None  # closed, never "never awaited"
        return "ok"

    assert _lane.run(outer()) == "ok"


def test_an_interrupt_cancels_the_work_handed_to_the_background_loop() -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def long() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def call() -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, _raise_interrupt)  # Ctrl-C while the lane waits for the background loop
        await run_async(long())

    with pytest.raises(KeyboardInterrupt):
        _lane.run(call())
    assert started.is_set() and cancelled.wait(5)
    assert _lane.run(_value(3)) == 3  # the lane's loop is usable again
    assert not _lane.active()


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


async def _value(x: int) -> int:
    return x


def test_lane_under_nest_asyncio_and_after_fork(sim_server: Server) -> None:
    """In a subprocess, so the global patch does not leak into the other tests."""
    code = f"""
        import asyncio, os, nest_asyncio
        nest_asyncio.apply()
        from tokenhot_nb._config import Settings
        from tokenhot_nb.client import Client
        from tokenhot_nb.families._types import HttpCall
        call = HttpCall("POST", "/v1/chat/completions", json={{"model": "gpt-5.4",
                        "messages": [{{"role": "user", "content": "hi"}}]}})
        client = Client(Settings(api_key="{KEY}", base_url="{sim_server.url}", mode="live"))
        async def cell():
            return client.send_sync(call).status
        first = client.send_sync(call).status
        print(first, asyncio.run(cell()), asyncio.get_event_loop().run_until_complete(cell()))
        pid = os.fork()
        if pid == 0:
            fresh = Client(Settings(api_key="{KEY}", base_url="{sim_server.url}", mode="live"))
            os._exit(0 if fresh.send_sync(call).status == 200 else 3)
        print(os.waitpid(pid, 0)[1])
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "200", "200", "0"]


@pytest.mark.parametrize("path", ["lane", "loop"])
def test_a_client_used_before_a_fork_never_shares_its_connections_with_the_child(sim_server: Server,
                                                                                  path: str) -> None:
    """A forked child (multiprocessing's default on Linux) inherits the client's pooled keep-alive sockets: parent
    and child both wrote their requests on one connection, and the server read the mix as garbage (a 400 for a
    paid call, or worse). The child must open its own connections and leave the parent's alone, and its close()
    must not wait 5 s on the parent's loop (which has no thread in the child)."""
    send = "client.send_sync(call)" if path == "lane" else "client.run(client.send(call))"
    code = f"""
        import os, time
        from tokenhot_nb._config import Settings
        from tokenhot_nb.client import Client
        from tokenhot_nb.families._types import HttpCall
        call = HttpCall("POST", "/v1/chat/completions", json={{"model": "gpt-5.4",
                        "messages": [{{"role": "user", "content": "hi"}}]}})
        client = Client(Settings(api_key="{KEY}", base_url="{sim_server.url}", mode="live"))
        assert {send}.status == 200  # a pooled connection, kept alive
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            statuses = [{send}.status for _ in range(20)]
            started = time.monotonic()
            client.close()
            os.write(w, f"{{statuses.count(200)}} {{time.monotonic() - started:.1f}}".encode())
            os._exit(0)
        os.close(w)
        mine = [{send}.status for _ in range(20)]
        os.waitpid(pid, 0)
        print(mine.count(200), os.read(r, 100).decode())
        client.close()
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    parent_ok, child_ok, child_close = result.stdout.split()
    assert (parent_ok, child_ok) == ("20", "20"), result.stdout
    assert float(child_close) < 2.0


@pytest.mark.parametrize("base", ["http://127.0.0.1:9", "http://127.0.0.1:9/relay", "http://127.0.0.1:9/relay/"])
def test_a_kept_path_is_the_url_httpx_would_merge(base: str) -> None:
    import httpx

    async def both() -> list[tuple[str, str]]:
        client = Client(Settings(api_key=KEY, base_url=base, mode="live"))
        plain = httpx.AsyncClient(base_url=base)
        out = []
        for path, params in [("/v1/models", None), ("/v1/models", {"a": "1 2"}), ("v1/x?y=1", None),
                             ("/v1/models", None)]:
            call = HttpCall("GET", path, params=params or {})
            out.append((str(client._build_request(call).url), str(plain.build_request("GET", path, params=params).url)))
        for i in range(300):  # paths of their own (task ids) do not grow the table without end
            client._build_request(HttpCall("GET", f"/v1/video/generations/{i}"))
        assert len(client._urls) <= 256
        await client.aclose()
        await plain.aclose()
        return out

    for ours, theirs in asyncio.run(both()):
        assert ours == theirs


def test_a_worker_thread_s_lane_loop_is_closed_with_the_thread() -> None:
    import gc

    loops: list[asyncio.AbstractEventLoop] = []

    async def which() -> None:
        loops.append(asyncio.get_running_loop())

    worker = threading.Thread(target=lambda: _lane.run(which()))
    worker.start()
    worker.join(10)
    gc.collect()
    assert len(loops) == 1 and loops[0].is_closed()
    _lane.run(which())  # this thread's own loop is another one, and stays open for the next call
    assert loops[1] is not loops[0] and not loops[1].is_closed()


def test_a_proxy_from_the_environment_keeps_the_background_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _client("http://127.0.0.1:9").blocking_ok
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    proxied = _client("https://api.example")
    assert not proxied.blocking_ok  # httpx would send it through its own async proxy transport


def test_without_asyncio_s_loop_hooks_every_call_keeps_the_background_loop(monkeypatch: pytest.MonkeyPatch,
                                                                          sim_server: Server,
                                                                          handed: list[object]) -> None:
    monkeypatch.setattr(_lane, "AVAILABLE", False)  # a Python whose asyncio no longer exports them
    client = _client(sim_server.url)
    try:
        assert not client.blocking_ok
        assert client.send_sync(CHAT).status == 200
        assert handed and client._blocking is None
    finally:
        client.close()


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
def test_a_dripping_answer_ends_at_the_deadline_in_the_lane_and_on_the_loop(
    drip: str, handed: list[object], lane: bool
) -> None:
    """In the lane the body is read by a blocking socket inside an async shim, where no timer fires: the deadline
    must hold there too, not only on the background loop."""
    client = _client(drip, read_timeout=5, stream_deadline=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(E.APITimeoutError) as info:
            client.send_sync(CHAT) if lane else _loop.run_sync(client.send(CHAT))
        took = time.monotonic() - started
        assert (handed == []) is lane  # the lane made no hand-off to the background loop
    finally:
        client.close()
    assert 0.5 <= took < 4
    message = str(info.value)
    assert "was still arriving after 0.5 s" in message and "\n" not in message and KEY not in message


class _Cookie(BaseHTTPRequestHandler):
    """Sets a cookie in its first answer only (a load balancer's); every answer says which Cookie header came."""

    served = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).served += 1
        out = json.dumps({"cookie": self.headers.get("Cookie")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if type(self).served == 1:
            self.send_header("Set-Cookie", "lb=node-7; Path=/")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
def test_a_cookie_the_relay_sets_goes_back_and_answers_without_one_skip_the_cookie_jar(
        lane: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import http.cookiejar

    read: list[str] = []
    jar_read = http.cookiejar.CookieJar.extract_cookies

    def counted(self: http.cookiejar.CookieJar, response: Any, request: Any) -> None:
        read.append(request.get_full_url())
        jar_read(self, response, request)

    monkeypatch.setattr(http.cookiejar.CookieJar, "extract_cookies", counted)
    _Cookie.served = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Cookie)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = _client(f"http://127.0.0.1:{server.server_address[1]}")
    try:
        send = client.send_sync if lane else (lambda call: _loop.run_sync(client.send(call)))
        got = [send(CHAT).json()["cookie"] for _ in range(3)]
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    assert got == [None, "lb=node-7", "lb=node-7"]  # the cookie set by the first answer goes back, as before
    assert len(read) == 1  # only the answer that set it was read into the jar (~15 µs each, for nothing)


def test_a_read_timeout_of_no_limit_works_in_the_lane_and_on_the_loop(sim_server: Server, tmp_path: Path) -> None:
    """``read_timeout=math.inf`` is taken for "no limit" (test_config), and magic hints now say to set it on a live
    session; in the blocking lane httpx's sync transport handed it to ``socket.settimeout``, and every whole-answer
    call ended in an OverflowError from inside. No limit is httpx's None, on both paths, set at the start or later."""
    import math

    from tokenhot_nb import Session

    with Session(api_key=KEY, base_url=sim_server.url, mode="live", store=tmp_path / "a",
                 read_timeout=math.inf) as s:
        assert s.chat("hello", stream=False, thread=False).text
        assert asyncio.run(s.achat("hello", stream=False, thread=False)).text
    with Session(api_key=KEY, base_url=sim_server.url, mode="live", store=tmp_path / "b") as s:
        assert s.chat("hello", stream=False, thread=False).text
        s.settings.read_timeout = math.inf
        assert s.chat("again", stream=False, thread=False).text
        s.settings.read_timeout = 120
        assert s.chat("once more", stream=False, thread=False).text
