"""The client against the real simulator over loopback HTTP: retries, streams, stalls, downloads, redaction."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb import errors as E
from tokenhot_nb._config import Settings
from tokenhot_nb.client import Client, RetryPolicy, SSEEvent, run_sync
from tokenhot_nb.families._types import HttpCall, StreamFormat
from tokenhot_nb.sim import Faults, Server, serve

KEY = "sk-simloop-RECOGNISABLE-KEY-7731"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = serve("127.0.0.1", 0, faults=Faults())
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture()
def sim(server: Server) -> Iterator[Server]:
    server.set_faults(Faults())
    yield server
    server.set_faults(Faults())


class Recorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(sim: Server, *, retries: int = 2, sleep: Recorder | None = None, **overrides: Any) -> Client:
    settings = Settings(api_key=KEY, base_url=sim.url, mode="live", max_retries=retries, **overrides)
    return Client(settings, retry=RetryPolicy(max_retries=retries, sleep=sleep or Recorder(), rand=lambda: 0.0))


CHAT = HttpCall("POST", "/v1/chat/completions",
                json={"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}]})

STREAMS: dict[str, HttpCall] = {
    "chat": HttpCall("POST", "/v1/chat/completions", stream="chat", json={
        "model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}], "stream": True}),
    "responses": HttpCall("POST", "/v1/responses", stream="responses", json={
        "model": "gpt-5.4", "input": "hi", "stream": True}),
    "claude": HttpCall("POST", "/v1/messages", stream="claude", json={
        "model": "claude-opus-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
        "stream": True}),
    "gemini": HttpCall("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", stream="gemini",
                       params={"alt": "sse"}, json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
}


def with_faults(call: HttpCall, **faults: Any) -> HttpCall:
    return HttpCall(call.method, call.path, json=call.json, params=dict(call.params), stream=call.stream,
                    headers={"X-Sim-Faults": json.dumps(faults)}, billed_create=call.billed_create)


def test_send_and_request_id(sim: Server) -> None:
    client = make_client(sim)
    try:
        resp = client.send_sync(CHAT)
    finally:
        client.close()
    assert resp.status == 200 and resp.json()["choices"][0]["message"]["content"]
    assert resp.request_id


def test_retry_after_fail_first_503(sim: Server) -> None:
    sim.set_faults(Faults(fail_first={503: 2}))
    sleep = Recorder()
    client = make_client(sim, retries=2, sleep=sleep)
    try:
        assert client.send_sync(CHAT).status == 200
    finally:
        client.close()
    assert len(sleep.delays) == 2

    sim.set_faults(Faults(fail_first={503: 2}))
    client = make_client(sim, retries=1)
    try:
        with pytest.raises(E.ServerError) as info:
            client.send_sync(CHAT)
    finally:
        client.close()
    assert info.value.status == 503 and info.value.request_id


def test_retry_after_header_on_429(sim: Server) -> None:
    sim.set_faults(Faults(fail_first={429: 1}, retry_after=2))
    sleep = Recorder()
    client = make_client(sim, sleep=sleep)
    try:
        assert client.send_sync(CHAT).status == 200
    finally:
        client.close()
    assert sleep.delays == [2.0]


def test_billed_create_retries_only_where_safe(sim: Server) -> None:
    create = HttpCall("POST", "/v1/video/generations", json={"model": "doubao-seedance-2.0", "content": [
        {"type": "text", "text": "a cat"}]}, billed_create=True)
    sim.set_faults(Faults(fail_first={500: 1}))
    client = make_client(sim, retries=3)
    try:
        with pytest.raises(E.ServerError):
            client.send_sync(create)
        sim.set_faults(Faults(fail_first={503: 1}))
        with pytest.raises(E.ServerError, match="It was not sent again"):  # §1.4: not even a 503
            client.send_sync(create)
        assert client.send_sync(create).json()["id"]  # the next one, made by the caller, goes through
    finally:
        client.close()


@pytest.mark.parametrize("fmt", ["chat", "responses", "claude", "gemini"])
def test_each_stream_format(sim: Server, fmt: StreamFormat) -> None:
    client = make_client(sim)
    try:
        events = list(client.stream_sync(STREAMS[fmt]))
    finally:
        client.close()
    assert len(events) >= 3
    last = events[-1]
    if fmt == "responses":
        assert last.type == "response.completed"
    elif fmt == "claude":
        assert last.type == "message_stop"
    elif fmt == "gemini":
        assert isinstance(last.data, dict) and last.data["candidates"][0].get("finishReason")
    else:
        assert all(isinstance(e.data, dict) for e in events)


def test_stream_async_with_setup_retry(sim: Server) -> None:
    sim.set_faults(Faults(fail_first={503: 1}))
    sleep = Recorder()

    async def run() -> list[SSEEvent]:
        client = make_client(sim, sleep=sleep)
        try:
            stream = await client.stream(STREAMS["claude"])
            assert stream.status == 200 and stream.request_id
            return [e async for e in stream]
        finally:
            await client.aclose()

    events = run_sync(run())
    assert events[-1].type == "message_stop" and len(sleep.delays) == 1


def test_stall_with_short_idle_timeout(sim: Server) -> None:
    client = make_client(sim, stream_idle_timeout=0.5)
    got: list[SSEEvent] = []
    try:
        with pytest.raises(E.StreamError, match="stream stalled") as info:
            for event in client.stream_sync(with_faults(STREAMS["chat"], stall_stream_after=3)):
                got.append(event)
    finally:
        client.close()
    assert 1 <= len(got) <= 3
    assert "stream_idle_timeout" in info.value.hint


def test_truncated_stream(sim: Server) -> None:
    client = make_client(sim)
    try:
        with pytest.raises(E.StreamError):
            list(client.stream_sync(with_faults(STREAMS["responses"], truncate_stream_after=3)))
    finally:
        client.close()


def test_stream_error_status_is_typed(sim: Server) -> None:
    client = make_client(sim, retries=0)
    try:
        with pytest.raises(E.RateLimitError):
            list(client.stream_sync(with_faults(STREAMS["chat"], fail_first={429: 1})))
        with pytest.raises(E.NotFoundError):
            client.send_sync(HttpCall("POST", "/v1/no/such/route", json={}))
    finally:
        client.close()


def test_malformed_json_reply(sim: Server) -> None:
    client = make_client(sim)
    try:
        resp = client.send_sync(with_faults(CHAT, malformed_json=True))
    finally:
        client.close()
    with pytest.raises(E.APIError, match="not valid JSON"):
        resp.json()


def _image_url(client: Client) -> str:
    body = client.send_sync(HttpCall("POST", "/v1/images/generations",
                                     json={"model": "gpt-image-2", "prompt": "a red fox", "response_format": "url"}))
    return str(body.json()["data"][0]["url"])


def test_download_sim_file(sim: Server, tmp_path: Path) -> None:
    client = make_client(sim)
    try:
        url = _image_url(client)
        result = client.download_sync(url, tmp_path, suffix=".png")
        relative = client.download_sync("/sim/files/" + url.rsplit("/", 1)[1], tmp_path / "rel", suffix=".png")
    finally:
        client.close()
    data = result.path.read_bytes()
    assert data.startswith(b"\x89PNG") and hashlib.sha256(data).hexdigest() == result.sha256
    assert result.content_type == "image/png" and result.size == len(data)
    assert relative.sha256 == result.sha256


def test_download_streams_big_file_and_caps(sim: Server, tmp_path: Path) -> None:
    client = make_client(sim)
    try:
        big = client.download_sync("/sim/blob/3000000", tmp_path)
        assert big.size == 3_000_000
        with pytest.raises(E.DownloadError, match="larger than the limit"):
            client.download_sync("/sim/blob/3000000", tmp_path / "cap", max_bytes=1_000_000)
    finally:
        client.close()
    assert not (tmp_path / "cap").exists() or not any((tmp_path / "cap").iterdir())


def test_expired_download(sim: Server, tmp_path: Path) -> None:
    client = make_client(sim)
    try:
        url = _image_url(client)
        sim.set_faults(Faults(expire_downloads=True))
        with pytest.raises(E.DownloadError, match="no longer available") as info:
            client.download_sync(url, tmp_path)
    finally:
        client.close()
    assert "about a day" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_key_is_never_shown(sim: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tokenhot_nb")
    client = make_client(sim, retries=1, stream_idle_timeout=0.5)
    texts: list[str] = [repr(client), str(client.settings)]
    try:
        sim.set_faults(Faults(fail_first={500: 2}))
        for call in (CHAT, HttpCall("POST", "/v1/messages", json={"model": "claude-opus-4-6", "max_tokens": 5,
                                                                  "messages": [{"role": "user", "content": "x"}]})):
            try:
                client.send_sync(call)
            except E.TokenhotError as err:
                texts += [str(err), repr(err), json.dumps(err.to_dict()), json.dumps(getattr(err, "body", None))]
        sim.set_faults(Faults())
        for faults in ({"stall_stream_after": 2}, {"truncate_stream_after": 2}):
            try:
                list(client.stream_sync(with_faults(STREAMS["chat"], **faults)))
            except E.TokenhotError as err:
                texts += [str(err), repr(err)]
        sim.set_faults(Faults(expire_downloads=True))
        try:
            client.download_sync(f"{sim.url}/sim/files/x.png", tmp_path)
        except E.TokenhotError as err:
            texts += [str(err), repr(err)]
    finally:
        client.close()
    assert len(texts) >= 8
    texts += [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    assert any("/v1/chat/completions" in t for t in texts)
    for text in texts:
        assert KEY not in text


def test_async_use_from_a_running_loop(sim: Server) -> None:
    async def cell() -> int:
        client = make_client(sim)
        try:
            resp = await client.send(CHAT)
            sync_resp = await asyncio.to_thread(client.send_sync, CHAT)  # the facade next to it
            return resp.status + sync_resp.status
        finally:
            await client.aclose()
            await asyncio.to_thread(client.close)

    assert asyncio.run(cell()) == 400


def test_offline_mode_uses_the_in_process_simulator(tmp_path: Path) -> None:
    client = Client(Settings(mode="offline", stream_idle_timeout=0.5, max_retries=0))
    assert "tokenhot.sim" in repr(client)
    try:
        url = _image_url(client)
        assert url.startswith("http://tokenhot.sim") or url.startswith("/")
        assert client.download_sync(url, tmp_path).content_type == "image/png"
        events = list(client.stream_sync(STREAMS["claude"]))
        assert events[-1].type == "message_stop"
        with pytest.raises(E.StreamError, match="stream stalled"):
            list(client.stream_sync(with_faults(STREAMS["gemini"], stall_stream_after=2)))
    finally:
        client.close()


def test_cancelling_a_slow_request_leaves_the_client_usable(sim: Server) -> None:
    client = make_client(sim)
    try:
        with pytest.raises(TimeoutError):
            client.run(client.send(with_faults(CHAT, latency=3)), timeout=0.3)
        assert client.send_sync(CHAT).status == 200
    finally:
        client.close()
