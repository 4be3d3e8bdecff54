"""The in-process transport streams for real and behaves like the server; the CLI starts a server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokenhot_nb.sim import Faults, Server, SimTransport, create_app

BASE = "http://tokenhot.sim"
AUTH = {"Authorization": "Bearer sk-inprocess"}
CHAT = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "stream please"}], "stream": True}


def client(faults: Faults | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=SimTransport(faults=faults), base_url=BASE, headers=AUTH, timeout=10)


def test_inprocess_streams_incrementally() -> None:
    async def run() -> tuple[float, float, int]:
        async with client(Faults(chunk_delay=0.05, stream_chunks=10)) as c:
            t = time.perf_counter()
            first = None
            n = 0
            async with c.stream("POST", "/v1/chat/completions", json=CHAT) as r:
                async for _chunk in r.aiter_raw():
                    first = first if first is not None else time.perf_counter() - t
                    n += 1
            return first or 0.0, time.perf_counter() - t, n

    first, total, n = asyncio.run(run())
    assert total >= 0.05 * 11
    assert first < total / 4
    assert n >= 12  # role chunk + 10 pieces + finish + [DONE], each delivered separately


def test_inprocess_close_cancels_stalled_app() -> None:
    transport = SimTransport(Faults(stall_stream_after=1))

    async def run() -> float:
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=AUTH) as c:
            t = time.perf_counter()
            async with c.stream("POST", "/v1/chat/completions", json=CHAT) as r:
                async for _chunk in r.aiter_raw():
                    break  # leave early: closing must cancel the stalled app
            await asyncio.sleep(0)
            leftover = [tk for tk in asyncio.all_tasks() if "handle_async_request" in repr(tk.get_coro())]
            assert leftover == []
            return time.perf_counter() - t

    assert asyncio.run(run()) < 1.0


def test_inprocess_stall_read_timeout_and_truncate() -> None:
    async def run() -> None:
        async with client(Faults(stall_stream_after=2)) as c:
            with pytest.raises(httpx.ReadTimeout):
                async with c.stream("POST", "/v1/chat/completions", json=CHAT,
                                    timeout=httpx.Timeout(5, read=0.2)) as r:
                    async for _ in r.aiter_raw():
                        pass
        async with client(Faults(truncate_stream_after=2)) as c:
            got = b""
            with pytest.raises(httpx.RemoteProtocolError):
                async with c.stream("POST", "/v1/chat/completions", json=CHAT) as r:
                    async for chunk in r.aiter_raw():
                        got += chunk
            assert got.count(b"data: ") == 2 and b"[DONE]" not in got

    asyncio.run(run())


def test_inprocess_matches_server(sim_server: Server) -> None:
    body = {"model": "gpt-5", "messages": [{"role": "user", "content": "same answer?"}]}

    async def run() -> tuple[Any, Any, int, bytes]:
        async with client() as c:
            a = (await c.post("/v1/chat/completions", json=body)).json()
            img = (await c.post("/v1/images/generations", json={"model": "gpt-image-2", "prompt": "x",
                                                                 "size": "32x32"})).json()
            url = img["data"][0]["url"]
            assert url.startswith(BASE + "/sim/files/")
            png = await c.get(url)
            missing = await c.get("/v1/nothing")
            return a, missing.json(), png.status_code, png.content[:8]

    a, missing, status, magic = asyncio.run(run())
    b = httpx.post(sim_server.url + "/v1/chat/completions", json=body, headers=AUTH).json()
    assert a["choices"] == b["choices"] and a["usage"] == b["usage"]
    assert status == 200 and magic == b"\x89PNG\r\n\x1a\n"
    assert missing["error"]["message"].startswith("Invalid URL (GET /v1/nothing)")


def test_inprocess_concurrent_streams_and_fail_first() -> None:
    async def one(c: httpx.AsyncClient, i: int) -> str:
        body = {**CHAT, "messages": [{"role": "user", "content": f"stream {i}"}]}
        async with c.stream("POST", "/v1/chat/completions", json=body) as r:
            return (await r.aread()).decode()

    async def run() -> tuple[float, list[str], list[int]]:
        async with client(Faults(chunk_delay=0.05, stream_chunks=6)) as c:
            t = time.perf_counter()
            texts = await asyncio.gather(*(one(c, i) for i in range(6)))
            elapsed = time.perf_counter() - t
        transport = SimTransport(Faults(fail_first={500: 2}))
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=AUTH) as c:
            poll = "/v1/video/generations/no-such-task"  # a call route: refused unless a fault answers first
            codes = [(await c.get(poll)).status_code for _ in range(3)]
            transport.set_faults(Faults(fail_first={500: 1}))
            codes.append((await c.get(poll)).status_code)
        return elapsed, texts, codes

    elapsed, texts, codes = asyncio.run(run())
    assert elapsed < 6 * 0.05 * 8 / 2  # they ran side by side, not one after another
    assert all(f"stream {i}" in texts[i] and texts[i].endswith("data: [DONE]\n\n") for i in range(6))
    assert codes == [500, 500, 404, 500]  # 404: the relay knows no task with that id


def test_create_app_is_independent() -> None:
    a, b = create_app(), create_app(Faults(latency=0.5))
    assert a.state.sim is not b.state.sim and b.state.sim.faults.latency == 0.5


def test_cli_starts_server(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenhot_nb.sim", "--host", "127.0.0.1", "--port", "0", "--log-level", "warning",
         "--error-rate", "429=0", "--fail-first", "503=1", "--video-steps", "2", "--retry-after", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, proc.stderr.read() if proc.stderr else line
        url = line.split("listening on ")[1].split()[0]
        faults = httpx.get(url + "/sim/faults", timeout=5).json()
        assert faults["video_steps"] == 2 and faults["fail_first"] == {"503": 1} and faults["retry_after"] == 0.5
        first = httpx.post(url + "/v1/chat/completions", json={**CHAT, "stream": False}, headers=AUTH)
        assert first.status_code == 503 and first.headers["retry-after-ms"] == "500"
        second = httpx.post(url + "/v1/chat/completions", json={**CHAT, "stream": False}, headers=AUTH)
        assert second.status_code == 200 and "stream please" in json.dumps(second.json())
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0


def test_cli_rejects_bad_faults() -> None:
    from tokenhot_nb.sim.__main__ import main

    assert main(["--port", "0", "--video-steps", "0"]) == 2


def test_cli_flags_reach_the_faults() -> None:
    from tokenhot_nb.sim.__main__ import build_parser, faults_from_args

    f = faults_from_args(build_parser().parse_args(["--stream-error-after", "3", "--stall-stream-after", "5",
                                                    "--fail-first", "503=2"]))
    assert (f.stream_error_after, f.stall_stream_after, f.fail_first) == (3, 5, {503: 2})
    assert faults_from_args(build_parser().parse_args([])).stream_error_after is None
    assert faults_from_args(build_parser().parse_args(["--bad-tool-arguments"])).bad_tool_arguments is True
    assert faults_from_args(build_parser().parse_args([])).bad_tool_arguments is False
