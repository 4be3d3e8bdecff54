"""Hostile answers and broken networks over real loopback HTTP (issue #9 items 2–6, 8; #10 item 3).

Two kinds of misbehaving relay: the simulator served on 127.0.0.1 with its fault flags (what a real relay does
on a bad day, see ``Faults``), and a tiny raw-socket server (``_hostile.py``) for what no real server should do.
Each test fails on a client that retries paid work, trusts what it is sent, or lets the key out.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import itertools
import json
import os
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _hostile import Action, Hostile, response
from PIL import Image

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb._config import Secret, Settings
from tokenhot_nb.client import Client, RetryPolicy, run_sync
from tokenhot_nb.client._download import PART_PREFIX, sweep_partial
from tokenhot_nb.client._guard import blocked_address
from tokenhot_nb.families._types import HttpCall
from tokenhot_nb.history import Store
from tokenhot_nb.sim import Faults, Server

SK_KEY = "sk-HOSTILE-loopback-KEY-0123456789"
PLAIN_KEY = "tkn_PLAINKEY_no_prefix_98765abcdef"  # a key that does not look like sk-…


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def live(url: str, tmp: Path, key: str = SK_KEY, sleeps: Sleeps | None = None, **settings: Any) -> Session:
    s = Session(api_key=key, base_url=url, mode="live", store=tmp / "store", **settings)
    s.client.retry = RetryPolicy(max_retries=2, sleep=sleeps or Sleeps(), rand=lambda: 0.0)
    return s


@pytest.fixture
def sim(sim_server: Server) -> Iterator[Server]:
    yield sim_server
    sim_server.set_faults(Faults())


def png(color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


def rows(s: Session) -> list[Any]:
    return s.store.select_entries()


def chain(err: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: BaseException | None = err
    while seen is not None and seen not in out:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def assert_no_key(err: BaseException, key: str) -> None:
    """Not in the message, the hint, the repr, the formatted traceback, nor any chained error's request."""
    texts = ["".join(traceback.format_exception(type(err), err, err.__traceback__))]
    for e in chain(err):
        texts += [str(e), repr(e), json.dumps(getattr(e, "to_dict", dict)(), default=str)]
        texts.append(json.dumps(getattr(e, "body", None), default=str))
        if isinstance(e, httpx.RequestError):
            try:
                texts.append(str(dict(e.request.headers)))
            except RuntimeError:
                pass
    for text in texts:
        for i in range(0, len(key) - 8):
            assert key[i : i + 9] not in text, f"part of the key leaked: {text[:300]}"


# ============================================================== #9.2 the key never leaks


@pytest.mark.parametrize("bad", ["sk-abc def0123456789", "sk-abcdef0123\n456789", "sk-abcdéf0123456789",
                                 "tkn_abc\tdef0123456789", "sk-abcdef01\r\n23456789", "tkn_abc\x00def012345"])
def test_a_key_that_cannot_be_sent_is_refused_without_showing_it(bad: str, tmp_path: Path) -> None:
    for make in (lambda: Settings.from_env(api_key=bad), lambda: Settings(api_key=Secret(bad)),
                 lambda: Session(api_key=bad, store=tmp_path)):
        with pytest.raises(E.ConfigError) as info:
            make()
        err = info.value
        text = str(err) + repr(err) + "".join(traceback.format_exception(type(err), err, err.__traceback__))
        assert "API key contains" in str(err)
        for piece in (bad[i : i + 4] for i in range(len(bad) - 4)):
            if piece.strip() and piece not in ("sk-a",):
                assert piece not in text.replace("API key", ""), piece
        assert err.__cause__ is None and err.__context__ is None


@pytest.mark.parametrize("key", [SK_KEY, PLAIN_KEY])
def test_a_key_echoed_by_a_relay_is_never_stored_shown_or_chained(key: str, tmp_path: Path) -> None:
    def chat(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        echoed = headers.get("authorization", "")
        if json.loads(body).get("messages", [{}])[-1].get("content") == "fail":
            return response(401, json.dumps({"error": {"message": f"bad token {echoed}", "type": "x",
                                                       "code": f"key {echoed}"}}).encode())
        return response(200, json.dumps({"choices": [{"message": {"role": "assistant",
                                                                  "content": f"You sent {echoed} to me"}}]}).encode())

    with Hostile({"/v1/chat/completions": chat}) as relay:
        s = live(relay.url, tmp_path, key=key)
        res = s.chat("hello", model="gpt-5.4", stream=False)
        assert key not in res.text and "sk-****" in res.text
        with pytest.raises(E.AuthenticationError) as info:
            s.chat("fail", model="gpt-5.4", stream=False)
        assert_no_key(info.value, key)
        out = s.history.export(tmp_path / "export.json")
        dumped = out.read_bytes() + b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
        assert key.encode() not in dumped
        chat_seen = [x for x in relay.seen if x.path == "/v1/chat/completions"]
        assert chat_seen[0].headers["authorization"] == f"Bearer {key}"  # it was sent, only never kept


@pytest.mark.parametrize("key", [SK_KEY, PLAIN_KEY])
def test_connection_errors_chain_no_request_headers_with_the_key(key: str, tmp_path: Path) -> None:
    with Hostile({"*": lambda *a: Action(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"a", close=True)}) as relay:
        s = live(relay.url, tmp_path, key=key)
        with pytest.raises(E.APIConnectionError) as info:
            s.chat("hi", model="gpt-5.4", stream=False)
    assert_no_key(info.value, key)
    assert any(isinstance(e, httpx.HTTPError) for e in chain(info.value))  # the detail chain is still there


@pytest.mark.parametrize("key", [SK_KEY, PLAIN_KEY])
def test_simulator_echo_key_fault_is_redacted_in_answer_and_error(key: str, sim: Server, tmp_path: Path) -> None:
    """The simulator takes a key without ``sk-`` as new-api does (§1.1), so a plain key is echoed as well: it is
    masked by value in the answer, the error, the history and the export alike."""
    s = live(sim.url, tmp_path, key=key)
    sim.set_faults(Faults(echo_key=True))
    res = s.chat("hi", model="gpt-5.4", stream=True)
    assert key not in res.text and "Your key is sk-****" in res.text
    sim.set_faults(Faults(echo_key=True, service_error="quota-403"))
    with pytest.raises(E.QuotaExhaustedError) as info:
        s.chat("hi", model="gpt-5.4")
    assert_no_key(info.value, key)
    sim.set_faults(Faults(echo_key=True, service_error="chinese-429"))
    with pytest.raises(E.RateLimitError) as limited:
        s.chat("hi", model="gpt-5.4")
    assert_no_key(limited.value, key)
    s.history.export(tmp_path / "export.jsonl")
    for path in (tmp_path / "store" / "history.sqlite", tmp_path / "export.jsonl"):
        assert key.encode() not in path.read_bytes()


@pytest.mark.parametrize("key", [SK_KEY, PLAIN_KEY])
def test_a_key_echoed_across_many_frames_never_shows_in_a_live_view(key: str, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Redaction needs the whole key; streamed a character or two a frame, its first part would be on screen (or
    printed for good, in a terminal) before the rest made it recognisable. The view holds such a tail back."""
    from tokenhot_nb.magics._stream import StreamView

    def chat(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        answer = f"Your key is {headers['authorization'].removeprefix('Bearer ')}. Keep it safe."
        cuts = list(range(0, len(answer), 3)) + list(range(1, len(answer), 3))  # one, then two characters
        frames = [answer[a:b] for a, b in itertools.pairwise([*sorted(cuts), len(answer)])]
        sse = "".join(f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': f}}]})}\n\n"
                      for f in frames) + "data: [DONE]\n\n"
        return response(200, sse.encode(), content_type="text/event-stream")

    with Hostile({"/v1/chat/completions": chat}) as relay:
        s = live(relay.url, tmp_path, key=key)
        seen: list[str] = []
        printed = StreamView(live=False)
        res = s.chat("hi", model="gpt-5.4", on_delta=lambda d, text: (seen.append(text), printed.on_delta(d, text)))
        printed.finish(res)
    pieces = [key[i:i + 6] for i in range(len(key) - 5)]
    assert len(seen) > 20 and res.text == "Your key is sk-****. Keep it safe."
    assert seen[-1] == res.text  # what was held back is shown once the stream ends
    assert not [t for t in seen for p in pieces if p in t]
    out = capsys.readouterr().out
    assert "Your key is sk-****. Keep it safe." in out and not [p for p in pieces if p in out]


@pytest.mark.parametrize("key", [SK_KEY, PLAIN_KEY])
def test_a_stream_that_breaks_inside_a_key_keeps_none_of_it(key: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The key's first part arrived, the stream broke before its end: no redaction can recognise that part, so the
    partial answer (error, history row, stored text, chat panel) masks it rather than keeping it or dropping it."""
    from tokenhot_nb.magics._stream import StreamView

    def chat(method: str, path: str, headers: dict[str, str], body: bytes) -> Action:
        sent = headers["authorization"].removeprefix("Bearer ")
        sse = "".join(f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': f}}]})}\n\n"
                      for f in ["Your key is ", sent[:-4]])
        return Action(SSE_HEAD + sse.encode(), close=True)  # and the connection drops

    with Hostile({"/v1/chat/completions": chat}) as relay:
        s = live(relay.url, tmp_path, key=key)
        view = StreamView(live=False)
        with pytest.raises(E.StreamError, match="ended early") as info:
            s.chat("hi", model="gpt-5.4", on_delta=view.on_delta)
    assert info.value.partial_text == "Your key is sk-****"
    entry = rows(s)[-1]
    assert entry.status == "error" and entry.text == "hi\n\nYour key is sk-****"
    assert s.store.read_artifact(entry.outputs[0]["sha256"]) == b"Your key is sk-****"
    view.fail(info.value.partial_text)  # what %%th_chat shows of a broken stream
    assert view.text.startswith("Your key is sk-****")
    pieces = [key[i:i + 6] for i in range(len(key) - 5)]
    for shown in (str(info.value), entry.text, view.text, capsys.readouterr().out):
        assert not [p for p in pieces if p in shown]
    assert key[:-4].encode() not in (tmp_path / "store" / "history.sqlite").read_bytes()


# ============================================================== #9.3 streams lose nothing


def test_surrogate_halves_split_across_frames_are_joined(sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(stream_shape="surrogates"))
    s = live(sim.url, tmp_path)
    seen: list[str] = []
    res = s.chat("hi", model="gpt-5.4", on_delta=lambda d, text: seen.append(text))
    assert "\U0001f600" in res.text
    assert all(not ("\ud800" <= ch <= "\udfff") for t in seen for ch in t)  # the live view never shows a half
    entry = rows(s)[-1]
    assert entry.status == "ok" and "\U0001f600" in (entry.text or "")


@pytest.mark.parametrize("shape", ["null", "list"])
def test_a_frame_that_is_not_an_object_ends_the_row_in_error_with_the_answer_kept(
        shape: str, sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(stream_shape=shape))
    s = live(sim.url, tmp_path)
    with pytest.raises(E.StreamError, match="could not be read") as info:
        s.chat("hi", model="gpt-5.4")
    entry = rows(s)[-1]
    assert entry.status == "error"  # never stuck "running"
    assert info.value.partial_text == "" or info.value.partial_text in (entry.text or "")


def test_malformed_frame_keeps_partial_text_and_says_so(sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(malformed_json=True, stream_chunks=6))
    s = live(sim.url, tmp_path)
    with pytest.raises(E.StreamError, match="cut short") as info:
        s.chat("hi", model="gpt-5.4")
    assert rows(s)[-1].status == "error"
    assert isinstance(info.value.partial_text, str)


@pytest.mark.parametrize("shape", ["keepalive", "drip"])
def test_keep_alives_or_a_drip_do_not_keep_a_dead_stream_open(shape: str, sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(stream_shape=shape, stream_chunks=4))
    s = live(sim.url, tmp_path, stream_idle_timeout=0.6)
    with pytest.raises(E.StreamError, match="no content arrived") as info:
        s.chat("hi", model="gpt-5.4")
    entry = rows(s)[-1]
    assert entry.status == "error" and info.value.partial_text == ""  # the first frame only opened the reply


def test_whole_stream_deadline(sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(stream_chunks=200, chunk_delay=0.05))
    s = live(sim.url, tmp_path, stream_idle_timeout=5, stream_deadline=0.8)
    with pytest.raises(E.StreamError, match="time limit") as info:
        s.chat("hi", model="gpt-5.4")
    assert info.value.partial_text  # what came is kept
    entry = rows(s)[-1]
    assert entry.status == "error" and info.value.partial_text in (entry.text or "")


@pytest.mark.parametrize("body", [b"null", b"[1, 2]"])
def test_a_json_body_that_is_not_an_object_is_a_clear_error(body: bytes, tmp_path: Path) -> None:
    with Hostile({"/v1/chat/completions": lambda *a: response(200, body)}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.APIError, match="not an object"):
            s.chat("hi", model="gpt-5.4", stream=False)
    assert rows(s)[-1].status == "error"


# ============================================================== #9.4 bounded memory


def test_gzip_bomb_json_answer_is_refused_not_inflated(sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(gzip_bomb=True))
    s = live(sim.url, tmp_path)
    with pytest.raises(E.APIError, match="decompression bomb"):
        s.chat("hi", model="gpt-5.4", stream=False)
    assert rows(s)[-1].status == "error"


def test_gzip_bomb_download_is_refused_and_leaves_nothing(sim: Server, tmp_path: Path) -> None:
    client = Client(Settings(api_key=SK_KEY, base_url=sim.url, mode="live"))
    url = sim.url + "/sim/files/whatever.png"
    sim.set_faults(Faults(gzip_bomb=True))
    with pytest.raises(E.DownloadError, match="decompression bomb"):
        client.download_sync(url, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_gzip_body_within_limits_is_decoded(tmp_path: Path) -> None:
    payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": "zipped " * 50}}]}).encode()
    answer = response(200, gzip.compress(payload), headers={"Content-Encoding": "gzip"})
    with Hostile({"/v1/chat/completions": lambda *a: answer}) as relay:
        res = live(relay.url, tmp_path).chat("hi", model="gpt-5.4", stream=False)
        assert relay.seen[0].headers["accept-encoding"] == "gzip, deflate"
    assert res.text.startswith("zipped")


def test_an_encoding_not_asked_for_is_refused(tmp_path: Path) -> None:
    answer = response(200, b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": "br"})
    with Hostile({"/v1/chat/completions": lambda *a: answer}) as relay, pytest.raises(E.APIError, match="'br'"):
        live(relay.url, tmp_path).chat("hi", model="gpt-5.4", stream=False)


def test_response_cap_on_json_and_streams(sim: Server, tmp_path: Path) -> None:
    s = live(sim.url, tmp_path, response_cap=300)
    with pytest.raises(E.APIError, match="larger than the limit"):
        s.chat("hi", model="gpt-5.4", stream=False)
    with pytest.raises(E.StreamError, match="larger than the limit"):
        s.chat("hi", model="gpt-5.4")
    assert [r.status for r in rows(s)] == ["error", "error"]


def test_an_endless_event_stream_line_is_refused(tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: "
    with Hostile({"/v1/chat/completions": lambda *a: Action(head + b"x" * 50_000, stall=3)}) as relay:
        s = live(relay.url, tmp_path, response_cap=20_000)
        with pytest.raises(E.StreamError, match=r"line longer|larger than"):
            s.chat("hi", model="gpt-5.4")


def test_data_url_and_b64_images_respect_the_cap(sim: Server, tmp_path: Path) -> None:
    client = Client(Settings(api_key=SK_KEY, base_url=sim.url, mode="live"))
    with pytest.raises(E.DownloadError, match="larger than the limit"):
        client.download_sync("data:image/png;base64," + "A" * 4000, tmp_path, max_bytes=1000)
    assert list(tmp_path.iterdir()) == []
    s = live(sim.url, tmp_path, download_cap=100)
    with pytest.raises(E.DownloadError, match="larger than the download limit"):
        s.image("a cat", model="dall-e-2", size="256x256", response_format="b64_json")


# ============================================================== #9.5 paid work never repeated or thrown away


def test_a_post_whose_answer_had_started_is_not_sent_again(tmp_path: Path) -> None:
    cut = Action(response(200, b'{"data": [{"url": "http', length=500), close=True)
    with Hostile({"/v1/images/generations": lambda *a: cut}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.APIConnectionError, match="not sent again"):
            s.image("a cat", model="gpt-image-2", size="64x64")
        assert relay.calls("/v1/images/generations") == 1


def test_of_n_images_those_that_arrived_are_kept_and_the_failed_one_named(tmp_path: Path) -> None:
    good = png()

    def generate(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        data = [{"url": f"{relay.url}/files/a.png"}, {"url": f"{relay.url}/files/b.png"},
                {"url": f"{relay.url}/files/c.png"}]
        return response(200, json.dumps({"data": data}).encode())

    routes = {"/v1/images/generations": generate,
              "/files/a.png": lambda *a: response(200, good, "image/png"),
              "/files/b.png": lambda *a: response(500, b"<html>oops</html>", "text/html"),
              "/files/c.png": lambda *a: response(200, png("blue"), "image/png")}
    with Hostile(routes) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.DownloadError, match=r"2 of 3 images arrived.*image 2") as info:
            s.image("three cats", model="gpt-image-2", n=3, size="64x64")
        assert relay.calls("/v1/images/generations") == 1
    partial = info.value.partial
    assert len(partial) == 2
    (entry,) = rows(s)
    assert entry.status == "pending" and len([o for o in entry.outputs if o["role"] == "image"]) == 2
    assert all(s.store.path_of(o["sha256"]).exists() for o in entry.outputs)


def test_a_failed_video_is_one_row(sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(video_failure=True, video_steps=2))
    s = live(sim.url, tmp_path, poll_interval=0.01)
    with pytest.raises(E.TaskFailedError):
        s.video("a boat", model="doubao-seedance-2.0", progress=False)
    (entry,) = rows(s)
    assert entry.status == "error" and entry.response.get("task_id")


def test_a_video_whose_download_fails_is_one_row_that_can_be_resumed(sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(expire_downloads=True, video_steps=2))
    s = live(sim.url, tmp_path, poll_interval=0.01)
    with pytest.raises(E.DownloadError):
        s.video("a boat", model="doubao-seedance-2.0", progress=False)
    (entry,) = rows(s)
    assert entry.status == "pending" and entry.error and entry.response.get("task_id")
    sim.set_faults(Faults(video_steps=2))
    res = s.resume(entry.response["task_id"]).wait(progress=False)
    assert res.path.exists()
    (done,) = rows(s)
    assert done.status == "ok"


def test_a_video_that_times_out_is_one_pending_row(sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(video_steps=1000))
    s = live(sim.url, tmp_path, poll_interval=0.01, video_deadline=0.3)
    with pytest.raises(E.APITimeoutError):
        s.video("a boat", model="doubao-seedance-2.0", progress=False)
    (entry,) = rows(s)
    assert entry.status == "pending" and entry.error


def test_a_killed_download_leaves_no_part_file_once_the_store_is_reopened(tmp_path: Path) -> None:
    store_root = tmp_path / "store"
    incoming = store_root / "artifacts" / "incoming"
    head = response(200, b"\x89PNG" + b"x" * 1000, "image/png", length=10_000_000)
    with Hostile({"/big.png": lambda *a: Action(head, stall=30)}) as relay:
        script = textwrap.dedent(f"""
            from pathlib import Path
            from tokenhot_nb._config import Settings
            from tokenhot_nb.client import Client
            c = Client(Settings(api_key={SK_KEY!r}, base_url={relay.url!r}, mode="live"))
            c.download_sync({relay.url + '/big.png'!r}, Path({str(incoming)!r}))
        """)
        child = subprocess.Popen([sys.executable, "-c", script], env={**os.environ})
        try:
            deadline = time.monotonic() + 30
            while not list(incoming.glob("*.part")) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert list(incoming.glob("*.part")), "the child never started its download"
        finally:
            child.kill()
            child.wait(10)
    assert list(incoming.glob("*.part"))  # killed: the temp file is still there …
    Store(store_root).count()  # … until the store is opened again
    assert list(incoming.glob("*.part")) == []


def test_sweep_keeps_files_of_live_writers(tmp_path: Path) -> None:
    mine = tmp_path / f"{PART_PREFIX}{os.getpid()}-x-y.part"
    mine.write_bytes(b"live")
    assert sweep_partial(tmp_path) == 0 and mine.exists()


# ============================================================== #9.6 only real media stored


def test_an_html_page_instead_of_the_image_is_an_error_not_a_png(sim: Server, tmp_path: Path) -> None:
    s = live(sim.url, tmp_path)
    sim.set_faults(Faults(html_download=True))
    with pytest.raises(E.DownloadError, match=r"not an image.*HTML page"):
        s.image("a cat", model="gpt-image-2", size="64x64")
    assert not [p for p in (tmp_path / "store" / "artifacts").rglob("*.png")]


def test_result_urls_on_link_local_addresses_are_refused(sim: Server, tmp_path: Path) -> None:
    s = live(sim.url, tmp_path)
    sim.set_faults(Faults(result_host="169.254.169.254"))
    with pytest.raises(E.DownloadError, match="link-local or metadata"):
        s.image("a cat", model="gpt-image-2", size="64x64")


def test_a_redirect_to_the_metadata_service_is_refused(tmp_path: Path) -> None:
    redirect = response(302, b"", headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with Hostile({"/file.png": lambda *a: redirect}) as relay:
        client = Client(Settings(api_key=SK_KEY, base_url=relay.url, mode="live"))
        with pytest.raises(E.DownloadError, match="link-local or metadata"):
            client.download_sync(relay.url + "/file.png", tmp_path)


@pytest.mark.parametrize("host, blocked", [("169.254.169.254", True), ("fd00::1", True), ("fe80::1", True),
                                           ("::ffff:169.254.169.254", True), ("127.0.0.1", False),
                                           ("10.0.0.5", False), ("8.8.8.8", False), ("api.tokenhot.cn", False)])
def test_blocked_addresses(host: str, blocked: bool) -> None:
    assert blocked_address(host) is blocked


def test_result_url_on_the_api_host_gets_the_key_and_a_third_party_never(tmp_path: Path) -> None:
    good = png()
    with Hostile({"*": lambda *a: response(200, good, "image/png")}) as cdn:
        def generate(*a: Any) -> bytes:
            return response(200, json.dumps({"data": [{"url": f"{api.url}/v1/files/a.png"},
                                                      {"url": f"{cdn.url}/b.png"}]}).encode())

        with Hostile({"/v1/images/generations": generate,
                      "/v1/files/a.png": lambda *a: response(200, good, "image/png")}) as api:
            live(api.url, tmp_path).image("two", model="gpt-image-2", n=2, size="64x64")
            (own,) = [x for x in api.seen if x.path == "/v1/files/a.png"]
            assert own.headers.get("authorization") == f"Bearer {SK_KEY}"
        assert cdn.seen and all("authorization" not in x.headers for x in cdn.seen)


# ============================================================== #9.8 / #10.3 errors as the service sends them


def test_a_long_retry_after_is_not_slept_but_said(sim: Server, tmp_path: Path) -> None:
    sleeps = Sleeps()
    sim.set_faults(Faults(fail_first={429: 1}, retry_after=3600))
    s = live(sim.url, tmp_path, sleeps=sleeps)
    with pytest.raises(E.RateLimitError, match="try again after") as info:
        s.chat("hi", model="gpt-5.4", stream=False)
    assert sleeps.delays == [] and info.value.retry_after == 3600


@pytest.mark.parametrize("answer", ["quota-403", "pre-consume-403"])
def test_out_of_quota_403_is_quota_exhausted_and_never_retried(answer: str, sim: Server, tmp_path: Path) -> None:
    sleeps = Sleeps()
    sim.set_faults(Faults(service_error=answer))
    s = live(sim.url, tmp_path, sleeps=sleeps)
    with pytest.raises(E.QuotaExhaustedError) as info:
        s.image("a cat", model="gpt-image-2", size="64x64")
    assert info.value.status == 403 and sleeps.delays == []


@pytest.mark.parametrize("answer", ["empty-429", "chinese-429", "busy-429"])
def test_limiter_429s_are_rate_limits_retried_with_backoff(answer: str, sim: Server, tmp_path: Path) -> None:
    sleeps = Sleeps()
    sim.set_faults(Faults(service_error=answer, service_error_first=1))
    res = live(sim.url, tmp_path, sleeps=sleeps).chat("hi", model="gpt-5.4", stream=False)
    assert res.text and sleeps.delays == [0.5]  # backoff: there is no Retry-After to honour
    sim.set_faults(Faults(service_error=answer))
    with pytest.raises(E.RateLimitError) as info:
        live(sim.url, tmp_path, sleeps=Sleeps()).chat("hi", model="gpt-5.4", stream=False)
    assert not isinstance(info.value, E.QuotaExhaustedError) and info.value.status == 429


def test_middleware_error_envelope(sim: Server, tmp_path: Path) -> None:
    sim.set_faults(Faults(service_error="middleware-500"))
    s = live(sim.url, tmp_path, sleeps=Sleeps())
    with pytest.raises(E.ServerError) as info:
        s.chat("hi", model="gpt-5.4", stream=False)
    err = info.value
    assert err.type == "new_api_error" and err.code is None and err.request_id
    assert "request id" not in err.message and "上游负载" in err.message


def test_poll_404_says_no_such_task(sim: Server, tmp_path: Path) -> None:
    s = live(sim.url, tmp_path, poll_interval=0.01)
    with pytest.raises(E.NotFoundError) as info:
        s.resume("task_doesnotexist", model="doubao-seedance-2.0").wait(progress=False)
    msg = str(info.value)
    assert "task_doesnotexist" in msg and sim.url in msg and "wrong id, key or base URL" in msg
    assert "check the options" not in msg.lower()
    (entry,) = rows(s)  # the handle's own row says so: one row, no second "refused" one
    assert entry.status == "error" and entry.error


def test_simulator_fault_flags_validate() -> None:
    with pytest.raises(ValueError, match="service_error must be one of"):
        Faults(service_error="teapot").validate()
    with pytest.raises(ValueError, match="stream_shape must be one of"):
        Faults.from_dict({"stream_shape": "sideways"})


def test_client_send_of_gzip_bomb_is_bounded_even_with_a_large_cap(sim: Server) -> None:
    client = Client(Settings(api_key=SK_KEY, base_url=sim.url, mode="live", response_cap=2 * 1024**3))
    sim.set_faults(Faults(gzip_bomb=True))
    call = HttpCall("POST", "/v1/chat/completions", json={"model": "gpt-5.4", "messages": [{"role": "user",
                                                                                          "content": "hi"}]})
    with pytest.raises(E.APIError, match="decompression bomb"):
        run_sync(client.send(call))
    run_sync(client.aclose())



# ============================================================== media that is not what was asked for

SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(document.domain)">'
       b"<script>alert(1)</script></svg>")
LOGIN_PAGE = b"<html><script>alert(document.domain)</script>Login required</html>"


def _speech_relay(answer: bytes) -> Hostile:
    """A relay that answers every speech endpoint (Gemini native and /v1/audio/speech) with ``answer``."""
    def speech(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        if path.startswith(("/v1beta", "/v1/audio")):
            return answer
        return response(404, b"no route")
    return Hostile({"*": speech})


@pytest.mark.parametrize(("answer", "what"), [
    (response(200, LOGIN_PAGE, "text/html"),
     r"not audio: the server sent an HTML page \(66 bytes, text/html\): '<html><script>"),
    (response(200, b'{"detail": "upstream says no"}', "audio/wav"),
     r"no audio in it: the server sent JSON: '\{\"detail\": \"upstream says no\"\}'"),
    (response(200, b"Service temporarily unavailable", "application/octet-stream"),
     r"not audio: the server sent text \(31 bytes, application/octet-stream\): 'Service temporarily"),
    (response(200, SVG, "image/svg+xml"), r"not audio: the server sent an SVG drawing \(126 bytes, image/svg\+xml\)"),
    (response(200, json.dumps({"candidates": [{"content": {"parts": [{"inlineData": {
        "mimeType": "text/html", "data": base64.b64encode(LOGIN_PAGE).decode()}}]}}]}).encode()),
     r"not audio: the server sent an HTML page \(66 bytes, text/html\)"),
], ids=["html-page", "json-without-audio", "plain-text-as-octets", "svg", "inline-html"])
def test_a_speech_answer_that_is_not_audio_is_refused_and_never_stored_as_audio(
        answer: bytes, what: str, tmp_path: Path) -> None:
    with _speech_relay(answer) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.APIError, match=r"^The speech answer (is|has) " + what) as info:
            s.speak("hello", model="gemini-2.5-flash-preview-tts")
        assert relay.calls("/v1beta/models/gemini-2.5-flash-preview-tts:generateContent") == 1  # not retried
    block = info.value._render_traceback_()
    assert len(block) <= 4 and "Traceback" not in "".join(block)  # the short block, no internal frames
    (entry,) = rows(s)
    # nothing stored in the audio role (a paid body that is not JSON is kept as raw bytes, a .bin)
    assert entry.status == "error" and all(o["role"] == "raw" and o["mime"] == "application/octet-stream"
                                           for o in entry.outputs)
    assert entry.error["message"].startswith("The speech answer") and entry.error["error"] == "APIError"
    assert not [p for p in (tmp_path / "store" / "artifacts").rglob("*") if p.is_file()
                and p.suffix in (".html", ".htm", ".svg", ".json", ".wav")]


def test_a_real_speech_answer_over_the_same_relay_is_kept(tmp_path: Path) -> None:
    from tokenhot_nb.sim.media import speech_pcm, wav_bytes

    wav = wav_bytes(speech_pcm("hi"))
    pcm = b"\x01\x02\x03\x04" * 200
    gemini = json.dumps({"candidates": [{"content": {"parts": [{"inlineData": {
        "mimeType": "audio/L16;codec=pcm;rate=24000", "data": base64.b64encode(pcm).decode()}}]}}]}).encode()
    with _speech_relay(response(200, gemini)) as relay:
        res = live(relay.url, tmp_path / "a").speak("hi", model="gemini-2.5-flash-preview-tts")
    assert res.mime == "audio/wav" and res.wav[:4] == b"RIFF" and res.wav.endswith(pcm)
    with _speech_relay(response(200, wav, "audio/wav")) as relay:
        res = live(relay.url, tmp_path / "b").speak("hi", model="gemini-2.5-flash-preview-tts", endpoint="audio.speech")
    assert res.data == wav and res.path.suffix == ".wav"
    assert 'src="data:audio/wav;base64,' in res._repr_mimebundle_()[0]["text/html"]


def _image_relay(body: bytes, content_type: str) -> Hostile:
    def generate(method: str, path: str, headers: dict[str, str], req: bytes) -> bytes:
        return response(200, json.dumps({"created": 1, "data": [{"url": f"{relay.url}/files/out"}]}).encode())

    relay = Hostile({"/v1/images/generations": generate, "/files/out": lambda *a: response(200, body, content_type)})
    return relay


@pytest.mark.parametrize(("body", "ctype", "what"), [
    (SVG, "image/svg+xml", r"an SVG drawing"),
    (b"  <?xml version='1.0'?>\n" + SVG, "image/png", r"an SVG drawing"),
    (bytes(range(256)) * 4, "image/png", r"bytes in no format it can read \(sent as image/png, starting 00 01 02"),
    (b"<error>expired</error>", "application/xml", r"XML or other markup"),
], ids=["svg", "svg-in-xml-as-png", "garbage-as-png", "xml"])
def test_an_image_download_that_is_not_a_raster_image_is_refused(
        body: bytes, ctype: str, what: str, tmp_path: Path) -> None:
    with _image_relay(body, ctype) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.DownloadError, match=r"is not an image: the server sent " + what) as info:
            s.image("a cat", model="gpt-image-1.5")
        assert relay.calls("/v1/images/generations") == 1
    assert "PNG, JPEG, WEBP" in info.value.hint
    (entry,) = rows(s)
    assert entry.status == "error" and not [o for o in entry.outputs if o.get("role") == "image"]
    # what the link sent is kept as it arrived, as raw bytes (never as an image file), for the relay's support
    (raw,) = [o for o in entry.outputs if o.get("role") == "raw"]
    assert s.store.path_of(raw["sha256"]).read_bytes() == body
    stored = [p for p in (tmp_path / "store" / "artifacts").rglob("*") if p.is_file()
              and p.parent.name != "incoming" and not p.name.startswith(".")]
    assert [p.suffix for p in stored] == [".bin"]


def test_a_raster_image_download_is_kept_and_shown(tmp_path: Path) -> None:
    with _image_relay(png("green"), "application/octet-stream") as relay:
        res = live(relay.url, tmp_path).image("a green square", model="gpt-image-1.5")
    assert res.mime == "image/png" and Image.open(res.path).getpixel((0, 0)) == (0, 128, 0)
    assert '<img src="data:image/png;base64,' in res._repr_mimebundle_()[0]["text/html"]


def test_odd_transcript_times_keep_the_paid_transcript(tmp_path: Path) -> None:
    from tokenhot_nb.sim.media import speech_pcm, wav_bytes

    def transcribe(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        if b"inf" in body:  # the prompt asks for the overflowing answer
            return response(200, b'{"text": "paid text", "segments": [{"start": 1e400, "end": 1e400, "text": "x"}]}')
        return response(200, json.dumps({"text": "the paid transcript", "segments": [
            {"start": "0:01", "end": "0:02", "text": "x"}, {"start": "soon", "end": "00:00:03.5", "text": "y"}]}).encode())

    wav = wav_bytes(speech_pcm("hi"))
    with Hostile({"/v1/audio/transcriptions": transcribe}) as relay:
        s = live(relay.url, tmp_path)
        res = s.transcribe(wav, model="whisper-1", format="verbose_json")
        inf = s.transcribe(wav, model="whisper-1", format="verbose_json", prompt="inf")
    assert res.text == "the paid transcript"
    assert [(sg.start, sg.end, sg.text) for sg in res.segments] == [(1.0, 2.0, "x"), (2.0, 3.5, "y")]
    assert res.srt is not None and "00:00:02,000 --> 00:00:03,500\ny" in res.srt
    assert inf.text == "paid text" and inf.srt == "1\n00:00:00,000 --> 00:00:00,000\nx\n"
    assert [e.status for e in rows(s)] == ["ok", "ok"]
    assert s.history[0].result().segments[1].end == 3.5  # rebuilt from the stored body the same way


# ============================================================== JSON no well-written server sends

DEEP = b"[" * 100_000 + b"]" * 100_000  # far past the interpreter's recursion limit, 200 kB on the wire
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def _sse(*frames: bytes) -> bytes:
    return SSE_HEAD + b"".join(b"data: " + f + b"\n\n" for f in frames)


@pytest.mark.parametrize(("answer", "stream", "error", "words"), [
    (response(200, b'{"choices": ' + DEEP + b"}"), False, E.APIError, "nested too deeply"),
    (_sse(b'{"choices": [{"delta": {"content": "a"}}]}', b'{"x": ' + DEEP + b"}", b"[DONE]"), True, E.StreamError,
     "nested too deeply"),
    (response(400, b'{"error": ' + DEEP + b"}"), False, E.BadRequestError, ""),
    (response(200, b'{"error": ' + DEEP + b"}"), True, E.StreamError, "Expected an event stream"),
], ids=["answer", "stream-frame", "error-body", "json-instead-of-a-stream"])
def test_json_nested_too_deep_is_one_clear_error(answer: bytes, stream: bool, error: type[E.TokenhotError],
                                                 words: str, tmp_path: Path) -> None:
    # Garbage earlier tests left (sessions never closed) is collected here, not by a collection that happens to
    # fire inside the deep parse, where its finalizers would have no stack left and fail as "unraisable".
    import gc

    gc.collect()
    with Hostile({"/v1/chat/completions": lambda *a: answer}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(error, match=words) as info:
            s.chat("hi", model="gpt-5.4", stream=stream)
        assert relay.calls("/v1/chat/completions") == 1
    assert not any(isinstance(e, RecursionError) for e in chain(info.value))
    assert len(str(info.value)) < 600 and rows(s)[-1].status == "error"


@pytest.mark.parametrize("body", [
    b'{"choices": [{"message": {"role": "assistant", "content": "caf\xe9 paid"}}]}',  # Latin-1, not UTF-8
    b'{"choices": [{"message": {"role": "assistant", "content": "tab\there paid"}}]}',  # a raw control character
    b'{"choices": [{"message": {"role": "assistant", "content": "big paid"}}], "usage": {"prompt_tokens": '
    + b"9" * 5000 + b', "completion_tokens": 3}}',  # an integer Python refuses to convert
], ids=["not-utf8", "raw-control-char", "5000-digit-count"])
def test_a_paid_answer_is_not_lost_to_one_bad_byte_or_field(body: bytes, tmp_path: Path) -> None:
    with Hostile({"/v1/chat/completions": lambda *a: response(200, body)}) as relay:
        s = live(relay.url, tmp_path)
        res = s.chat("hi", model="gpt-5.4", stream=False)
    assert res.text.endswith("paid") and res.text.startswith(("caf", "tab", "big"))
    assert rows(s)[-1].status == "ok" and "paid" in (rows(s)[-1].text or "")


def test_a_paid_answer_in_a_declared_charset_is_read_in_it(tmp_path: Path) -> None:
    """A JSON answer in GBK (declared in its Content-Type) is not UTF-8, so strict JSON refuses it and the lenient
    reading takes over; that reading decoded it as UTF-8 whatever was declared, storing '���' as a good answer."""
    body = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "你好，灯塔"}}]},
                      ensure_ascii=False).encode("gbk")
    answer = lambda *a: response(200, body, "application/json; charset=gbk")  # noqa: E731
    with Hostile({"/v1/chat/completions": answer}) as relay:
        s = live(relay.url, tmp_path)
        res = s.chat("hi", model="gpt-5.4", stream=False)
    assert res.text == "你好，灯塔" and rows(s)[-1].text.endswith("你好，灯塔")


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("stream", [False, True])
def test_an_api_call_that_is_redirected_says_where_and_what_to_do(status: int, stream: bool, tmp_path: Path) -> None:
    """API calls never follow a redirect (the key would go along); the error names the new address (no query: it
    may carry a credential) and says to fix the base URL, instead of an empty ``[301] Moved``."""
    with Hostile({"*": lambda *a: response(200, b"{}")}) as elsewhere:
        where = f"{elsewhere.url}/v1/chat/completions?token={SK_KEY}"
        moved = response(status, b"<html><body>Moved</body></html>", "text/html", headers={"Location": where})
        with Hostile({"/v1/chat/completions": lambda *a: moved}) as relay:
            s = live(relay.url, tmp_path)
            with pytest.raises(E.APIError, match=rf"redirected .* to {elsewhere.url}/v1/chat/completions\?…") as info:
                s.chat("hi", model="gpt-5.4", stream=stream)
            assert relay.calls("/v1/chat/completions") == 1
        assert elsewhere.seen == []
    assert info.value.status == status and "base URL" in info.value.hint
    assert_no_key(info.value, SK_KEY)


def test_a_redirect_from_http_to_https_suggests_the_https_address(tmp_path: Path) -> None:
    moved = response(301, b"", headers={"Location": "https://api.tokenhot.example/v1/chat/completions"})
    with Hostile({"/v1/chat/completions": lambda *a: moved}) as relay, \
            pytest.raises(E.APIError, match="redirected") as info:
        live(relay.url, tmp_path).chat("hi", model="gpt-5.4", stream=False)
    assert "https://api.tokenhot.example" in info.value.hint


def test_a_download_redirect_that_goes_nowhere_is_a_download_error_without_the_api_hint(tmp_path: Path) -> None:
    with Hostile({"/v1/f": lambda *a: response(302, b"")}) as relay:
        client = Client(Settings(api_key=SK_KEY, base_url=relay.url, mode="live"))
        with pytest.raises(E.DownloadError, match=r"HTTP 302 Found \(a redirect\) without saying where") as info:
            client.download_sync(relay.url + "/v1/f", tmp_path)
    assert "base URL" not in (info.value.hint or "") and list(tmp_path.iterdir()) == []


def test_a_task_id_too_long_for_a_url_is_one_clear_error_and_the_paid_task_is_kept(tmp_path: Path) -> None:
    """httpx refuses URLs past 64 KiB: a relay's absurd task id must not escape as an ``httpx.InvalidURL``."""
    tid = "task_" + "x" * 70_000
    create = response(200, json.dumps({"id": tid, "status": "queued"}).encode())
    with Hostile({"/v1/video/generations": lambda *a: create}) as relay:
        s = live(relay.url, tmp_path, poll_interval=0.01)
        with pytest.raises(E.InputError, match=r"Cannot send GET /v1/video/generations/task_x+… .*not valid") as info:
            s.video("a boat", model="doubao-seedance-2.0", progress=False)
        assert relay.calls("/v1/video/generations") == 1
    assert len(str(info.value)) < 600 and not isinstance(info.value.__cause__, httpx.HTTPError)
    (entry,) = rows(s)
    assert entry.status == "pending" and entry.response["task_id"] == tid


# ============================================================== result links into the user's own network


def _guard(url: str, api: str, resolve: bool = False) -> str | None:
    from tokenhot_nb.client._guard import check_download_host

    async def run() -> None:
        await check_download_host(httpx.URL(url), resolve=resolve, api=httpx.URL(api))

    try:
        asyncio.run(run())
    except E.DownloadError as exc:
        return exc.message
    return None


@pytest.mark.parametrize(("url", "api", "refused"), [
    ("http://127.0.0.1:8888/api/contents", "https://203.0.113.9", False),  # (203.0.113/24 is private too)
    ("http://127.0.0.1:8888/api/contents", "https://8.8.8.8", True),  # a public API's result on this machine
    ("http://10.0.0.5/admin", "https://8.8.8.8/v1", True),  # … or on the user's private network
    ("http://[::1]:9000/x", "https://8.8.8.8", True),
    ("http://[::ffff:192.168.1.1]/x", "https://8.8.8.8", True),
    ("http://localhost:8888/x", "https://8.8.8.8", True),
    ("http://printer.localhost/x", "https://8.8.8.8", True),
    ("http://8.8.4.4/v.mp4", "https://8.8.8.8", False),  # a public file host
    ("http://10.0.0.5/v.mp4", "http://10.0.0.9:3000", False),  # a self-hosted relay keeps its private file hosts
    ("http://127.0.0.1:9/v.mp4", "http://localhost:3000", False),
    ("http://127.0.0.1:9/v.mp4", "http://127.0.0.1:3000", False),
])
def test_a_public_apis_result_link_into_a_private_network_is_refused(url: str, api: str, refused: bool) -> None:
    message = _guard(url, api)
    assert (message is not None) is refused
    if refused:
        assert message and "private or loopback" in message and "8.8.8.8" in message


def test_a_name_resolving_into_the_private_network_is_refused_for_a_public_api() -> None:
    assert _guard("http://localhost:1/x", "https://8.8.8.8", resolve=True) is not None
    assert _guard("http://localhost:1/x", "http://127.0.0.1:3000", resolve=True) is None


def test_a_download_from_a_public_api_never_reaches_a_loopback_link(tmp_path: Path) -> None:
    """Over real sockets: the client's API is public, the relay's result link points at a service on this machine
    (a Jupyter server, a router's admin page…); the request is refused before it is sent."""
    with Hostile({"*": lambda *a: response(200, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, "video/mp4")}) as local:
        client = Client(Settings(api_key=SK_KEY, base_url="https://8.8.8.8", mode="live"),
                        transport=httpx.AsyncHTTPTransport())
        with pytest.raises(E.DownloadError, match="private or loopback") as info:
            client.download_sync(local.url + "/api/contents?token=secret", tmp_path)
        assert local.seen == []
    assert "token=secret" not in str(info.value) and list(tmp_path.iterdir()) == []



def test_the_users_own_link_on_this_machine_is_fetched(tmp_path: Path) -> None:
    """The private-network rule is for links the relay chose. A URL the user passes as an input (an image served
    on this machine or the office network) is theirs: it is fetched as before; metadata addresses stay refused."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    with Hostile({"*": lambda *a: response(200, png, "image/png")}) as local:
        client = Client(Settings(api_key=SK_KEY, base_url="https://8.8.8.8", mode="live"),
                        transport=httpx.AsyncHTTPTransport())
        got = client.run(client.download(local.url + "/cat.png", tmp_path, expect="image", input=True))
        assert got.path.read_bytes() == png and len(local.seen) == 1
        assert "authorization" not in local.seen[0].headers  # never the key to a host that is not the API
        with pytest.raises(E.DownloadError, match="metadata"):
            client.run(client.download("http://169.254.169.254/latest/meta-data", tmp_path, input=True))
        client.close()


def test_a_byte_order_mark_before_the_first_event_does_not_lose_it(tmp_path: Path) -> None:
    """An event stream may start with a UTF-8 BOM, which its decoding strips (WHATWG HTML §9.2.6); left in, it
    makes the first line's field name "\ufeffdata" and the first piece of the paid answer vanishes silently."""
    body = (b"\xef\xbb\xbf" + b'data: {"choices": [{"delta": {"content": "first "}}]}\n\n'
            b'data: {"choices": [{"delta": {"content": "second"}}]}\n\ndata: [DONE]\n\n')
    with Hostile({"/v1/chat/completions": lambda *a: SSE_HEAD + body}) as relay:
        s = live(relay.url, tmp_path)
        res = s.chat("hi", model="gpt-5.4")
    assert res.text == "first second" and (rows(s)[-1].text or "").endswith("first second")


def test_an_event_stream_to_a_call_that_asked_for_json_says_so(tmp_path: Path) -> None:
    """A chat answer streamed to a whole call is read from its frames (the answer is paid for); any other call
    answered with an event stream says so."""
    body = b'data: {"choices": [{"delta": {"content": "paid"}}]}\n\ndata: [DONE]\n\n'
    stream = lambda *a: response(200, body, "text/event-stream")  # noqa: E731
    with Hostile({"/v1/chat/completions": stream, "/v1/embeddings": stream}) as relay:
        s = live(relay.url, tmp_path)
        assert s.chat("hi", model="gpt-5.4", stream=False).text == "paid" and rows(s)[-1].status == "ok"
        with pytest.raises(E.APIError, match=r"answered 200 with an event stream, not the JSON asked for") as info:
            s.embed("hi", model="jina-embeddings-v4")
    assert "stream=True" not in info.value.hint and "base URL" in info.value.hint  # embed() has no stream option


@pytest.mark.parametrize("location", ["javascript:alert(1)", "data:image/png;base64,AAAA", "http://[::1"])
def test_a_redirect_to_an_address_that_is_not_valid_blames_the_redirect(location: str, tmp_path: Path) -> None:
    with Hostile({"/v1/f.png": lambda *a: response(302, b"", headers={"Location": location})}) as relay:
        client = Client(Settings(api_key=SK_KEY, base_url=relay.url, mode="live"))
        with pytest.raises(E.DownloadError, match=r"redirected to an address that cannot be downloaded") as info:
            client.download_sync(relay.url + "/v1/f.png", tmp_path)
        assert relay.calls("/v1/f.png") == 1  # (not retried: the same answer would come back)
    assert "the URL is not valid" not in info.value.message and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("body", [b"{}", b"[]", b"null", b"  {} "])
def test_an_error_answer_with_an_empty_json_body_says_there_was_no_explanation(body: bytes, tmp_path: Path) -> None:
    with Hostile({"/v1/chat/completions": lambda *a: response(418, body)}) as relay, \
            pytest.raises(E.APIError) as info:
        live(relay.url, tmp_path).chat("hi", model="gpt-5.4", stream=False)
    assert info.value.message == "The server answered HTTP 418 I'm a teapot with no explanation."


@pytest.mark.parametrize("status", [200, 204])
def test_an_empty_2xx_answer_says_it_was_empty(status: int, tmp_path: Path) -> None:
    with Hostile({"/v1/chat/completions": lambda *a: response(status, b"")}) as relay, \
            pytest.raises(E.APIError, match=rf"answered {status} with an empty body") as info:
        live(relay.url, tmp_path).chat("hi", model="gpt-5.4", stream=False)
    assert "not valid JSON" not in info.value.message


def test_a_huge_page_instead_of_a_stream_is_not_read_whole(tmp_path: Path) -> None:
    """A stream call answered 200 with a 40 MB page (a CDN's, a relay's debug dump): only its start is read to look
    for an error envelope, not the whole page into memory (response_cap is 512 MiB)."""
    import tracemalloc

    answer = response(200, b"<html>" + b"x" * 40_000_000 + b"</html>", "text/html")  # (made before counting)
    with Hostile({"/v1/chat/completions": lambda *a: answer}) as relay:
        s = live(relay.url, tmp_path)
        tracemalloc.start()
        try:
            with pytest.raises(E.StreamError, match="answered 200 with a web page"):
                s.chat("hi", model="gpt-5.4")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 12_000_000, f"{peak} bytes held"


def _gemini_relay(frames: list[dict[str, Any]]) -> Hostile:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    body = head + b"".join(b"data: " + json.dumps(f).encode() + b"\r\n\r\n" for f in frames)
    return Hostile({"*": lambda m, path, *a: body if "streamGenerateContent" in path else response(404, b"")})


def _gemini_frame(text: str, finish: str | None = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand]}


def test_a_gemini_stream_cut_before_its_finish_reason_is_an_error_not_a_short_answer(tmp_path: Path) -> None:
    """Gemini streams have no end marker: the last frame carries ``finishReason`` (reference §2.3). A body that
    closes cleanly before it is an answer cut short, which used to be recorded as a complete one."""
    with _gemini_relay([_gemini_frame("Why did the "), _gemini_frame("chicken ")]) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.StreamError, match="ended early, without a frame with a finishReason") as info:
            s.chat("hi", model="gemini-3.1-pro-preview")
    assert info.value.partial_text == "Why did the chicken "  # type: ignore[attr-defined]
    assert rows(s)[-1].status == "error" and "chicken" in (rows(s)[-1].text or "")


@pytest.mark.parametrize("last", [_gemini_frame("road?", "STOP"), _gemini_frame("", "MAX_TOKENS"),
                                  {"promptFeedback": {"blockReason": "SAFETY"}}])
def test_a_gemini_stream_that_says_why_it_ended_is_complete(last: dict[str, Any], tmp_path: Path) -> None:
    with _gemini_relay([_gemini_frame("Why did the "), last]) as relay:
        s = live(relay.url, tmp_path)
        res = s.chat("hi", model="gemini-3.1-pro-preview")
    assert res.text.startswith("Why did the") and rows(s)[-1].status == "ok"


@pytest.mark.parametrize("answer", [
    response(200, b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cdn</body></html>",
             "text/html"),
    response(200, b'{"error": {"message": "upstream failed", "type": "upstream_error"}}'),
    response(200, b"null"), response(200, b"[]"), response(200, b'{"task": "transcribe"}'),
], ids=["html-page", "error-envelope", "null", "list", "no-text"])
def test_a_transcription_answered_by_an_error_in_disguise_is_an_error_row(answer: bytes, tmp_path: Path) -> None:
    from tokenhot_nb.sim.media import speech_pcm, wav_bytes

    with Hostile({"/v1/audio/transcriptions": lambda *a: answer}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.APIError, match="not a transcript"):
            s.transcribe(wav_bytes(speech_pcm("hi")), model="whisper-1", format="text")
    assert rows(s)[-1].status == "error"


@pytest.mark.parametrize("answer", [response(200, b""), response(200, b"null"), response(200, b"[1, 2]"),
                                    response(200, b'{"id": "x"}', "text/html")],
                         ids=["empty", "null", "list", "no-text"])
def test_a_json_transcription_answered_with_no_transcript_is_an_error_row(answer: bytes, tmp_path: Path) -> None:
    """Each was kept as an empty, "None" or "[1, 2]" transcript and recorded as a success."""
    from tokenhot_nb.sim.media import speech_pcm, wav_bytes

    with Hostile({"/v1/audio/transcriptions": lambda *a: answer}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.APIError, match="not a transcript"):
            s.transcribe(wav_bytes(speech_pcm("hi")), model="whisper-1", format="json")
        assert relay.calls("/v1/audio/transcriptions") == 1
    assert rows(s)[-1].status == "error"


def test_a_chat_answered_200_with_an_error_envelope_is_an_error_row_with_its_message(tmp_path: Path) -> None:
    envelope = b'{"error": {"message": "upstream failed: channel down", "type": "upstream_error"}}'
    with Hostile({"/v1/chat/completions": lambda *a: response(200, envelope)}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.APIError, match="is an error, not a reply: upstream failed: channel down"):
            s.chat("hi", model="gpt-5.4", stream=False)
        assert relay.calls("/v1/chat/completions") == 1
    assert rows(s)[-1].status == "error"


@pytest.mark.parametrize(("path", "model"), [("/v1/chat/completions", "gpt-5.4"),
                                           ("/v1/messages", "claude-opus-4-6-cc"),
                                           ("/v1/audio/transcriptions", "whisper-1")])
def test_a_task_error_envelope_sent_with_200_is_an_error_row_not_an_empty_answer(path: str, model: str,
                                                                                tmp_path: Path) -> None:
    """new-api's task envelope (reference §1.4.3) on a 200 was recorded as an empty, successful reply."""
    from tokenhot_nb.sim.media import speech_pcm, wav_bytes

    envelope = b'{"code": "get_task_failed", "message": "upstream task service down", "data": null}'
    with Hostile({path: lambda *a: response(200, envelope)}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.APIError, match=r"is an error, not a .*: upstream task service down"):
            if model == "whisper-1":
                s.transcribe(wav_bytes(speech_pcm("hi")), model=model)
            else:
                s.chat("hi", model=model, stream=False)
        assert relay.calls(path) == 1
    assert rows(s)[-1].status == "error"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("answer", [
    response(200, b'{"object": "chat.completion", "usage": {"prompt_tokens": 12, "completion_tokens": 30}}'),
    response(200, b'{"id": "x"}', "text/html"),
], ids=["usage-only", "json-as-html"])
def test_a_200_object_with_no_reply_in_it_is_an_error_row_that_keeps_its_usage(answer: bytes, stream: bool,
                                                                              tmp_path: Path) -> None:
    """A JSON object with none of a chat answer's fields was recorded as an empty, successful reply."""
    with Hostile({"/v1/chat/completions": lambda *a: answer}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.APIError, match="answered with JSON that is not a chat reply") as info:
            s.chat("hi", model="gpt-5.4", stream=stream)
        assert relay.calls("/v1/chat/completions") == 1
    usage = info.value.usage
    assert (usage.output_tokens if usage else None) == (30 if b"usage" in answer else None)
    row = rows(s)[-1]
    assert row.status == "error" and (row.usage or {}).get("output_tokens", 0) == (30 if usage else 0)


def test_a_claude_stream_whose_last_usage_is_an_endless_integer_keeps_its_answer(tmp_path: Path) -> None:
    """The ``message_delta`` carrying the stop reason had a usage integer past Python's conversion limit: the frame
    was "broken" and the complete answer became an error row."""
    def ev(kind: str, data: str) -> bytes:
        return f"event: {kind}\ndata: {data}\n\n".encode()

    body = b"".join([
        ev("message_start", '{"type": "message_start", "message": {"id": "m1", "usage": {"input_tokens": 5}}}'),
        ev("content_block_delta", '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", '
                                  '"text": "Paid words."}}'),
        ev("message_delta", '{"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": '
                            '{"output_tokens": 1' + "0" * 5000 + "}}"),
        ev("message_stop", '{"type": "message_stop"}')])
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    with Hostile({"/v1/messages": lambda *a: head + body}) as relay:
        s = live(relay.url, tmp_path)
        res = s.chat("hi", model="claude-opus-4-6-cc", stream=True)
    assert res.text == "Paid words." and rows(s)[-1].status == "ok"


def test_an_inline_raster_image_is_still_stored_at_once(tmp_path: Path) -> None:
    body = json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(png("blue")).decode()}]}).encode()
    with Hostile({"/v1/images/generations": lambda *a: response(200, body)}) as relay:
        res = live(relay.url, tmp_path).image("a blue square", model="gpt-image-2", size="64x64")
    assert res.mime == "image/png" and Image.open(res.path).getpixel((0, 0)) == (0, 0, 255)


def test_a_json_answer_labelled_as_an_event_stream_is_still_read_as_json(tmp_path: Path) -> None:
    body = b'{"choices": [{"message": {"role": "assistant", "content": "paid"}}]}'
    with Hostile({"/v1/chat/completions": lambda *a: response(200, body, "text/event-stream")}) as relay:
        s = live(relay.url, tmp_path)
        assert s.chat("hi", model="gpt-5.4", stream=False).text == "paid" and rows(s)[-1].status == "ok"


@pytest.mark.parametrize("start", [b"", b": keep-alive\n\n", b"\xef\xbb\xbf"], ids=["data", "comment", "bom"])
def test_an_event_stream_relabelled_text_plain_to_a_whole_call_is_read_from_its_frames(start: bytes,
                                                                                       tmp_path: Path) -> None:
    """Whatever the label, a body that starts like an event stream (a ``:`` keep-alive comment too) is one."""
    body = start + b'data: {"choices": [{"delta": {"content": "paid"}}]}\n\ndata: [DONE]\n\n'
    with Hostile({"/v1/chat/completions": lambda *a: response(200, body, "text/plain")}) as relay:
        s = live(relay.url, tmp_path)
        assert s.chat("hi", model="gpt-5.4", stream=False).text == "paid" and rows(s)[-1].status == "ok"


def test_a_20_mb_whole_answer_to_a_stream_call_is_read_and_kept(tmp_path: Path) -> None:
    """A relay that ignores stream=True and answers a 20 MB JSON whole: the paid answer is read (its markup is
    text, not an error page) and kept in the history."""
    text = "Some <b>code</b>: if a < b and c > d: print(1)\n" * 420_000
    body = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"}]}).encode()
    with Hostile({"/v1/chat/completions": lambda *a: response(200, body)}) as relay:
        s = live(relay.url, tmp_path)
        res = s.chat("hi", model="gpt-5.4")
    read, kept = res.text == text, (rows(s)[-1].text or "").endswith(text)  # (no 20 MB diff on failure)
    assert len(body) > 20_000_000 and read and kept and rows(s)[-1].status == "ok"


def test_the_api_host_is_resolved_once_per_download_however_many_hops_lead_into_a_private_network(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A self-hosted relay (named, on the LAN) whose result link redirects three times on this machine, and whose
    file answers 503 once (retried from the start): eight requests, each into a private address, each asking
    whether the API is there too. Its name is resolved once for the download, not once per request."""
    from tokenhot_nb.client import _guard

    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return {"relay.lan.test": ["10.0.0.7"], "relay.public.test": ["8.8.8.8"]}.get(host, [])

    monkeypatch.setattr(_guard, "_addresses", resolver)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    served = itertools.count()

    def hop(to: str) -> Any:
        return lambda *_: response(302, b"", headers={"Location": f"/v1/{to}.png"})

    def file(*_: Any) -> bytes:
        return response(503, b"busy") if next(served) == 0 else response(200, png, "image/png")

    with Hostile({"/v1/a.png": hop("b"), "/v1/b.png": hop("c"), "/v1/c.png": hop("d"), "/v1/d.png": file}) as local:
        client = Client(Settings(api_key=SK_KEY, base_url="http://relay.lan.test:3000", mode="live"),
                        retry=RetryPolicy(max_retries=2, sleep=Sleeps(), rand=lambda: 0.0))
        try:
            got = client.download_sync(local.url + "/v1/a.png", tmp_path)
            assert got.path.read_bytes() == png and len(local.seen) == 8
            assert asked == ["relay.lan.test"]
            client.download_sync(local.url + "/v1/a.png", tmp_path)  # a new download asks again, once
            assert asked == ["relay.lan.test"] * 2 and len(local.seen) == 12
        finally:
            client.close()
        public = Client(Settings(api_key=SK_KEY, base_url="https://relay.public.test", mode="live"))
        try:
            with pytest.raises(E.DownloadError, match="private or loopback"):
                public.download_sync(local.url + "/v1/a.png", tmp_path)
        finally:
            public.close()
    assert asked == ["relay.lan.test"] * 2 + ["relay.public.test"] and len(local.seen) == 12


@pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")
@pytest.mark.parametrize("key", [SK_KEY, PLAIN_KEY])
def test_a_malformed_header_echoing_the_key_leaks_it_into_no_chained_message(key: str, tmp_path: Path) -> None:
    """h11 quotes a malformed header line whole ("illegal header line: …") in the errors httpx chains under ours:
    a relay that echoes the Authorization header there must not put the key in the formatted traceback."""
    def echo(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        line = b"X-Echo " + headers.get("authorization", "none").encode()  # no colon: not a header line
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + line + b"\r\nContent-Length: 2\r\n\r\n{}"

    with Hostile({"*": echo}) as relay:
        s = live(relay.url, tmp_path, key=key)
        with pytest.raises(E.APIConnectionError) as info:
            s.chat("hi", model="gpt-5.4", stream=False)
    assert "illegal header line" in "".join(traceback.format_exception(info.value))  # the detail is still there
    assert_no_key(info.value, key)


@pytest.mark.parametrize("answer", ["empty-429", "chinese-429", "busy-429"])
def test_a_video_create_turned_away_by_a_limiter_is_not_sent_again(answer: str, sim: Server, tmp_path: Path) -> None:
    """§1.4: a video create is never retried automatically, even on the 429 a chat call rides out; the user is told
    it was not sent again and that no task was made, and the history row is the error."""
    sleeps = Sleeps()
    s = live(sim.url, tmp_path, sleeps=sleeps)
    assert s.video("a dog", model="doubao-seedance-2.0").task_id  # (the model table is read before the faults)
    sim.set_faults(Faults(service_error=answer, service_error_first=1))
    with pytest.raises(E.RateLimitError) as info:
        s.video("a cat", model="doubao-seedance-2.0")
    assert sleeps.delays == [] and "It was not sent again" in str(info.value)
    assert "no task was made" in (info.value.hint or "")
    entry = rows(s)[-1]
    assert entry.status == "error" and "not sent again" in (entry.error or {}).get("message", "")
    assert s.video("a cat", model="doubao-seedance-2.0").task_id  # the limiter let the next one through
