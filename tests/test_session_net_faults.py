"""A live session through a loopback proxy that breaks answers for real: what was paid for stays in the history,
the error says what to do, and nothing paid is asked for twice."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _fault_proxy import FaultProxy, Rule

from tokenhot_nb import Session
from tokenhot_nb.errors import APIConnectionError, APIError, DownloadError, StreamError
from tokenhot_nb.sim import Server

pytestmark = pytest.mark.usefixtures("direct")
KEY = "sk-netfaults-session-0123456789"


@pytest.fixture
def proxy(sim_server: Server) -> Iterator[FaultProxy]:
    px = FaultProxy(int(sim_server.url.rsplit(":", 1)[1].split("/")[0]))
    yield px
    px.stop()


@pytest.fixture
def live(tmp_path: Path, proxy: FaultProxy) -> Iterator[Session]:
    s = Session(api_key=KEY, base_url=proxy.url, mode="live", store=tmp_path / "st", poll_interval=0.01)
    s.models()
    proxy.seen.clear()
    yield s
    s.close()


def creates(proxy: FaultProxy) -> list[str]:
    return [line for line in proxy.seen if line.startswith("POST")]


def test_a_video_download_that_breaks_says_resume_and_resume_pays_nothing(live: Session, proxy: FaultProxy) -> None:
    """The task is done and paid when its download breaks: the error must say to resume it (a new call would make,
    and pay for, a second task), and the resume fetches it with no new create."""
    proxy.rules = [Rule("/content", "cut", after=2000, times=3)]
    with pytest.raises(DownloadError) as info:
        live.video("a lighthouse", model="doubao-seedance-2.0", duration=5)
    row = live.history[-1]
    task_id = row.response["task_id"]
    assert row.status == "pending"
    assert f"session.resume({task_id!r})" in (info.value.hint or "")
    assert "no new charge" in (info.value.hint or "")
    proxy.rules = []
    res = live.resume(task_id).wait()
    assert res.entry is not None and res.entry.id == row.id and res.entry.status == "ok"
    assert creates(proxy) == ["POST /v1/video/generations HTTP/1.1"]


def test_video_polls_that_keep_failing_keep_the_task_and_say_resume(live: Session, proxy: FaultProxy) -> None:
    async def no_wait(delay: float) -> None:
        return None

    live.client.retry = dataclasses.replace(live.client.retry, sleep=no_wait)  # (each poll is retried: no backoff)
    proxy.rules = [Rule("GET /v1/video/generations/", "swallow")]
    with pytest.raises(APIConnectionError) as info:
        live.video("a lighthouse", model="doubao-seedance-2.0", duration=5)
    row = live.history[-1]
    assert row.status == "pending"
    assert f"session.resume({row.response['task_id']!r})" in (info.value.hint or "")
    proxy.rules = []
    assert live.resume(row.response["task_id"]).wait().entry.status == "ok"
    assert len(creates(proxy)) == 1


def test_a_stream_reset_mid_way_keeps_the_partial_answer(live: Session, proxy: FaultProxy) -> None:
    proxy.rules = [Rule("/v1/chat/completions", "cut", after=900, times=1)]
    with pytest.raises(StreamError) as info:
        live.chat("tell me a long story", model="gpt-5.2", thread=False)
    partial = info.value.partial_text
    assert partial
    row = live.history[-1]
    assert row.status == "error" and row.text.endswith(partial) and row.response.get("partial") is True
    assert len(creates(proxy)) == 1


def test_an_image_download_that_breaks_keeps_the_link_and_resume_pays_nothing(live: Session,
                                                                               proxy: FaultProxy) -> None:
    proxy.rules = [Rule("/sim/files/", "cut", after=300, times=5)]
    with pytest.raises(DownloadError) as info:
        live.image("a cat", model="gpt-image-2")
    row = live.history[-1]
    assert row.status == "pending" and row.response["images"][0]["url"]
    assert f"session.resume({row.id})" in (info.value.hint or "")
    proxy.rules = []
    assert live.resume(row.id).entry.status == "ok"
    assert len(creates(proxy)) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_captive_portal_page_says_what_it_is_and_what_to_do(live: Session, proxy: FaultProxy, stream: bool) -> None:
    """A Wi-Fi sign-in page answers 200 with HTML: "not valid JSON, try again" (or "try stream=False") sent the user
    round the same loop; the error names a web page and the two real causes, in one line."""
    proxy.rules = [Rule("/v1/chat/completions", "html", status=200, times=1)]
    with pytest.raises(StreamError if stream else APIError) as info:
        live.chat("hi", model="gpt-5.2", stream=stream, thread=False)
    err = info.value
    assert "answered 200 with a web page ('Gateway')" in err.message and "Wi-Fi" in err.message
    assert "TOKENHOT_BASE_URL" in (err.hint or "") and "\n" not in str(err)
    assert live.history[-1].status == "error"


@pytest.mark.parametrize("kind", ["chat", "image"])
def test_a_paid_answer_cut_short_without_a_length_keeps_its_body_and_says_not_to_just_retry(
        live: Session, proxy: FaultProxy, kind: str) -> None:
    """An answer whose end is the connection's (no Content-Length), cut mid-way: HTTP cannot tell, the JSON reads
    broken. The server did the work: "temporary relay problem; try again" paid twice, and the bytes were dropped."""
    path = "/v1/chat/completions" if kind == "chat" else "/v1/images/generations"
    proxy.rules = [Rule(path, "cut", after=60, rst=False, unframed=True, times=1)]
    with pytest.raises(APIError, match="not valid JSON") as info:
        if kind == "chat":
            live.chat("hi", model="gpt-5.2", stream=False, thread=False)
        else:
            live.image("a cat", model="gpt-image-2")
    assert "billed" in (info.value.hint or "") and "history" in (info.value.hint or "")
    row = live.history[-1]
    assert row.status == "error"
    assert [o["role"] for o in row.outputs] == ["raw"]
    assert len(creates(proxy)) == 1


def test_a_speech_answered_as_a_link_whose_download_breaks_keeps_the_link(live: Session, proxy: FaultProxy) -> None:
    """Some relays answer speech with a link to the audio. The call is paid when the download breaks: the link was
    thrown away and the hint said "Try again" (a second charge)."""
    link = f"{proxy.url}/files/speech.wav"
    body = json.dumps({"url": link}).encode()
    proxy.rules = [
        Rule(":generateContent", "raw", data=b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             b"Content-Length: %d\r\n\r\n%s" % (len(body), body)),
        Rule("/files/speech.wav", "raw", data=b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\n"
             b"Content-Length: 100000\r\n\r\nRIFF" + b"\0" * 2000),  # cut after 2 KB of 100
    ]
    with pytest.raises(DownloadError) as info:
        live.speak("hello there")
    row = live.history[-1]
    assert row.status == "error" and row.response["url"] == link
    assert f"history #{row.id}" in (info.value.hint or "") and "rather than calling again" in (info.value.hint or "")
    assert len(creates(proxy)) == 1


def test_an_image_download_cut_once_is_fetched_again_and_the_call_is_not_paid_again(live: Session,
                                                                                    proxy: FaultProxy) -> None:
    """The image is made and paid when its download breaks after its headers: the GET is asked again (free), never
    the paid POST; the stored file is the whole image."""
    async def no_wait(delay: float) -> None:
        return None

    live.client.retry = dataclasses.replace(live.client.retry, sleep=no_wait)
    proxy.rules = [Rule("/sim/files/", "cut", after=300, rst=False, times=1)]
    res = live.image("a cat", model="gpt-image-2")
    row = live.history[-1]
    assert row.status == "ok" and res.entry is not None and res.entry.id == row.id
    assert len([line for line in proxy.seen if "/sim/files/" in line]) == 2
    assert creates(proxy) == ["POST /v1/images/generations HTTP/1.1"]
    art = row.outputs[0]
    assert art["size"] > 300
    assert not list((live.store.artifacts_dir / "incoming").glob("*.part"))


@pytest.mark.parametrize("kind", ["chat", "image"])
def test_a_paid_answer_cut_before_its_length_keeps_what_arrived(live: Session, proxy: FaultProxy, kind: str) -> None:
    """The answer had a Content-Length and stopped short: the bytes that came were dropped (an answer cut without a
    length kept them); the row now keeps them as a ``raw`` output, and the error says not to just call again."""
    path = "/v1/chat/completions" if kind == "chat" else "/v1/images/generations"
    proxy.rules = [Rule(path, "cut", after=260, rst=False, times=1)]  # (the headers, and the body's start)
    with pytest.raises(APIConnectionError, match="not sent again") as info:
        if kind == "chat":
            live.chat("hi", model="gpt-5.2", stream=False, thread=False)
        else:
            live.image("a cat", model="gpt-image-2")
    err = info.value
    assert err.partial_body and "history" in (err.hint or "")
    row = live.history[-1]
    assert row.status == "error"
    assert [o["role"] for o in row.outputs] == ["raw"]
    stored = live.store.artifacts_dir
    assert any(p.read_bytes() == err.partial_body for p in stored.rglob("*") if p.is_file())
    assert len(creates(proxy)) == 1


def test_ctrl_c_while_a_paid_call_waits_says_the_server_may_still_bill_it(live: Session, proxy: FaultProxy,
                                                                          handed: list[object]) -> None:
    """A whole answer is read in the blocking lane, on the cell's own thread: Ctrl-C stops the wait, not the server,
    which has the request and may still do (and bill) it. "Nothing had come back yet" read as "nothing happened"."""
    import os
    import signal
    import threading

    proxy.rules = [Rule("/v1/chat/completions", "hang", after=3000, times=1)]
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            live.chat("hi", model="gpt-5.2", stream=False, thread=False)
    finally:
        timer.cancel()
    said = str(info.value)
    assert "may already have reached the server" in said and "session.balance()" in said, said
    assert len(creates(proxy)) == 1 and handed == []  # (the blocking lane: no hop to the background loop)


def test_ctrl_c_while_an_upload_is_still_going_out_says_nothing_is_charged(tmp_path: Path) -> None:
    """A transcription's audio still being written when Ctrl-C came: the server, which waits for the whole body its
    Content-Length announced, cannot have done the call, yet the stop said it "may already have reached the server
    … and charge for it". Only a request whose body went out whole is counted as sent."""
    import os
    import socket
    import threading

    from _raw_server import RawServer, answer, read_head
    from _session_support import interrupted_when

    release = threading.Event()

    def head_only(server: RawServer, conn: socket.socket) -> None:
        got = read_head(conn)
        if got is None:
            return
        line = got[0].split(b"\r\n", 1)[0].decode()
        server.requests.append((line, b""))
        if line.startswith("POST"):
            release.wait(30)  # the body is never read: the client's writes block once the socket buffers are full
            return
        conn.sendall(answer(404, b'{"error": {"message": "no such route"}}'))

    server = RawServer(head_only)
    audio = tmp_path / "talk.wav"
    audio.write_bytes(b"RIFF" + os.urandom(4) + b"WAVEfmt " + os.urandom(20_000_000))
    s = Session(api_key=KEY, base_url=server.url, mode="live", store=tmp_path / "st")
    try:
        with pytest.warns(UserWarning, match="model table"):
            s.models()
        with pytest.raises(KeyboardInterrupt) as info:
            interrupted_when(lambda: any(r[0].startswith("POST") for r in list(server.requests)),
                             lambda: s.transcribe(audio))
        row = s.history[-1]
        assert row.status == "interrupted"
        assert str(info.value) == (f"Stopped: the transcribe call is recorded as interrupted in history #{row.id}; "
                                   "it was stopped before its request was sent, so nothing is charged.")
        assert [r[0] for r in server.requests if r[0].startswith("POST")] == ["POST /v1/audio/transcriptions HTTP/1.1"]
    finally:
        release.set()
        s.close()
        server.stop()


def test_a_paid_call_to_a_port_where_no_web_server_listens_is_said_so_and_costs_nothing(
        tmp_path: Path, direct: None) -> None:
    """A base URL on an SSH port said "Server disconnected without sending a response" and that the server "may
    have … billed the work": the row's cost was unknown, and counted against the budget at its estimate. What
    answered is no web server, so no relay billed anything: the error says so, and the row costs nothing."""
    import socket

    from _raw_server import RawServer

    def sshd(server: RawServer, conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
        conn.recv(65536)
        conn.sendall(b"Invalid SSH identification string.\r\n")

    server = RawServer(sshd)
    s = Session(api_key=KEY, base_url=server.url, mode="live", store=tmp_path / "st", max_retries=0)
    try:
        with pytest.warns(UserWarning, match="model table"):
            s.models()
        with pytest.raises(APIConnectionError) as info:
            s.chat("hi", model="gpt-5", stream=False)
        assert str(info.value).startswith(f"The server at {server.url} did not answer in HTTP (it sent "
                                          "'SSH-2.0-OpenSSH_9.6')")
        row = s.history[-1]
        assert row.status == "error" and row.error["message"] == info.value.message
        assert row.cost.usd == 0 and row.cost.detail == "not charged: the request never reached the relay"
    finally:
        s.close()
        server.stop()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_an_https_base_url_at_a_plain_http_server_says_to_use_http(
        tmp_path: Path, direct: None, stream: bool) -> None:
    """``https://`` in front of a plain-HTTP server's address failed with OpenSSL's "[SSL: WRONG_VERSION_NUMBER]
    wrong version number (_ssl.c:1006)", which said nothing of the mistake. Over real loopback: one line saying the
    server does not speak TLS and to use http://, the key nowhere, nothing sent and nothing charged."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: list[str] = []

    class Plain(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # (what a plain-HTTP relay answers; never reached over TLS)
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    where = f"127.0.0.1:{server.server_address[1]}"
    s = Session(api_key=KEY, base_url=f"https://{where}", mode="live", store=tmp_path / "st", max_retries=0)
    try:
        with pytest.warns(UserWarning, match="does not speak TLS"):
            s.models()
        with pytest.raises(APIConnectionError) as info:
            s.chat("hi", model="gpt-5", stream=stream)
        err = info.value
        assert err.message == f"The server at https://{where} does not speak TLS, so no https connection could be made."
        assert (err.hint or "").startswith(f"Use http://{where} if it is a plain-HTTP server")
        assert "\n" not in str(err) and "WRONG_VERSION" not in str(err) and KEY not in str(err) + err.details()
        row = s.history[-1]
        assert row.status == "error" and row.error["message"] == err.message and row.cost.usd == 0
        assert asked == []
    finally:
        s.close()
        server.shutdown()
        server.server_close()


def test_a_status_poll_that_hangs_ends_the_wait_at_its_deadline_and_the_task_stays_resumable(
        tmp_path: Path, proxy: FaultProxy) -> None:
    """A relay that takes a status request and never answers held the wait for the client's read timeout, and each
    retry's, past the caller's deadline (here 1 s: 3 × 4 s). The request now gets only the time the wait has left;
    the wait ends as any deadline does, the paid task pending with its id, and a resume fetches it."""
    s = Session(api_key=KEY, base_url=proxy.url, mode="live", store=tmp_path / "st", poll_interval=0.01,
                read_timeout=4)
    try:
        task = s.video("a lighthouse", model="doubao-seedance-2.0", duration=5, wait=False)
        proxy.rules = [Rule("GET /v1/video/generations/", "hang", after=6000, times=1)]
        proxy.seen.clear()
        with pytest.raises(APIConnectionError) as info:
            task.wait(timeout=1, progress=False)
        said = str(info.value)
        assert "was not done after 1 s (its last status request had no answer by then)" in said, said
        assert f"session.resume({task.task_id!r}) (no new task, no new charge)" in said
        assert proxy.seen == [f"GET /v1/video/generations/{task.task_id} HTTP/1.1"]  # (not asked again)
        row = s.history.get(task.entry_id)
        assert row.status == "pending" and row.response["task_id"] == task.task_id
        assert row.response["ends"][-1][1]["error"] == "APITimeoutError"
        res = s.resume(task.task_id).wait(progress=False)
        assert res.entry is not None and res.entry.id == task.entry_id and res.entry.status == "ok"
        assert creates(proxy) == [] and len(s.history) == 1
    finally:
        s.close()
    with Session(api_key=KEY, base_url=proxy.url, mode="replay", store=tmp_path / "st") as r:  # the same end again
        proxy.seen.clear()
        again = r.video("a lighthouse", model="doubao-seedance-2.0", duration=5, wait=False)
        with pytest.raises(APIConnectionError, match="its last status request had no answer by then"):
            again.wait(timeout=1, progress=False)
        assert r.resume(task.task_id).wait(progress=False).sha256 == res.sha256
        assert [line for line in proxy.seen if "/video" in line] == []
