"""Helpers for the session tests: a transport that counts and keeps what it was asked, a session factory, and
the ``rec`` / ``s`` fixtures (exposed to every test module through conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokenhot_nb import Session
from tokenhot_nb.sim import Faults, Server, SimTransport, serve

KEY = "sk-session-TESTKEY-4471-abcdef"


class Recorder(httpx.AsyncBaseTransport):
    """The in-process simulator, plus a log of every request (method, path, headers, body) and the peak number
    of API calls in flight (downloads of result files are not API calls and do not count)."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.sim = SimTransport(faults=faults)
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.requests.append({"method": request.method, "path": request.url.path, "headers": dict(request.headers),
                              "body": body})
        api = request.url.path.startswith(("/v1", "/v1beta"))
        self.in_flight += api
        self.peak = max(self.peak, self.in_flight)
        try:
            return await self.sim.handle_async_request(request)
        finally:
            self.in_flight -= api

    def set_faults(self, faults: Faults) -> None:
        self.sim.set_faults(faults)

    def posts(self, path_part: str = "") -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST" and path_part in r["path"]]

    def json(self, i: int = -1, path_part: str = "") -> Any:
        return json.loads(self.posts(path_part)[i]["body"])


class HeldRecorder(Recorder):
    """A :class:`Recorder` that holds the first request of ``method`` whose path holds ``part`` until :attr:`hold`
    is set (:attr:`held` says it is held): a call in flight at a known point, for what another thread does then."""

    def __init__(self, method: str, part: str) -> None:
        super().__init__()
        self.method, self.part = method, part
        self.held, self.hold = threading.Event(), threading.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == self.method and self.part in request.url.path and not self.held.is_set():
            self.held.set()
            await asyncio.to_thread(self.hold.wait, 60)
        return await super().handle_async_request(request)


def make_session(store: Path, rec: Recorder | None = None, **kw: Any) -> Session:
    kw.setdefault("poll_interval", 0.001)
    kw.setdefault("mode", "offline")
    return Session(store=store, transport=rec, **kw)


@pytest.fixture
def rec() -> Recorder:
    """The recording transport of the ``s`` fixture."""
    return Recorder()


@pytest.fixture
def s(tmp_path: Path, rec: Recorder) -> Iterator[Session]:
    """An offline session on a fresh store in ``tmp_path``, talking to ``rec``."""
    sess = make_session(tmp_path / "store", rec)
    yield sess
    sess.close()


@pytest.fixture
def relay() -> Iterator[Server]:
    """A fresh loopback simulator per test, so what it charged (and what it cached) is this test's alone."""
    server = serve("127.0.0.1", 0)
    try:
        yield server
    finally:
        server.stop()


def billed_cents(url: str, key: str) -> float:
    """What the simulator at ``url`` has charged ``key`` so far, in the billing route's cents of the site's
    currency (``total_usage``)."""
    r = httpx.get(url + "/v1/dashboard/billing/usage", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return float(r.json()["total_usage"])


def interrupted_when(ready: Callable[[], bool], call: Callable[[], Any], timeout: float = 60.0) -> Any:
    """A real SIGINT to this (the main) thread as soon as ``ready()`` holds while ``call`` runs: a stop at a point
    of the call's own progress, not after a fixed time that a loaded machine may not reach it in."""
    assert threading.current_thread() is threading.main_thread()
    done = threading.Event()

    def watch() -> None:
        end = time.monotonic() + timeout
        while not done.is_set() and time.monotonic() < end:
            if ready():
                os.kill(os.getpid(), signal.SIGINT)
                return
            done.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        return call()
    finally:
        done.set()
        watcher.join()


def short_wav() -> bytes:
    """A tenth of a second of silence as a WAV file (8 kHz, 16-bit mono): an audio input that passes every check."""
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    return out.getvalue()
