"""Broken networks over real loopback sockets: a paid request is never sent twice once it may have reached the
server, a free one (a GET) still is, and a body cut short is never taken for a whole answer."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from _raw_server import RawServer, answer, reset

from tokenhot_nb import errors as E
from tokenhot_nb._config import Settings
from tokenhot_nb.client import Client
from tokenhot_nb.families._types import HttpCall

pytestmark = pytest.mark.usefixtures("direct")
KEY = "sk-netfaults-0123456789abcdef"
CHAT = HttpCall("POST", "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
IMAGE = HttpCall("POST", "/v1/images/generations", json={"model": "gpt-image-2", "prompt": "a cat"})
MODELS = HttpCall("GET", "/v1/models")
OK = answer(200, b'{"ok": true}')


@pytest.fixture
def serve() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Callable[[RawServer, socket.socket], None]) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def client_for(server: RawServer, **settings: Any) -> Client:
    return Client(Settings(api_key=KEY, base_url=server.url, mode="live", **settings))


def send(client: Client, call: HttpCall, *, lane: bool) -> Any:
    """In the blocking lane (a sync call) or on an event loop (an awaited one): both paths must behave alike."""
    if lane:
        try:
            return client.send_sync(call)
        finally:
            client.close()

    return asyncio.run(_then_close(client, lambda: client.send(call)))


async def _then_close(client: Client, *steps: Callable[[], Awaitable[Any]]) -> Any:
    """Await each step in turn, then close ``client`` whatever happened; the last step's value."""
    got = None
    try:
        for step in steps:
            got = await step()
    finally:
        await client.aclose()
    return got


def send_twice(client: Client, *, lane: bool) -> None:
    """A chat call, 0.4 s idle, another; then the client is closed."""
    if lane:
        client.send_sync(CHAT)
        time.sleep(0.4)
        client.send_sync(CHAT)
        client.close()
    else:
        asyncio.run(_then_close(client, lambda: client.send(CHAT), lambda: asyncio.sleep(0.4),
                                lambda: client.send(CHAT)))


def closes_after_the_request(server: RawServer, conn: socket.socket) -> None:
    server.read_request(conn)


def resets_after_the_request(server: RawServer, conn: socket.socket) -> None:
    server.read_request(conn)
    reset(conn)


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
@pytest.mark.parametrize("call", [CHAT, IMAGE], ids=["chat", "image"])
@pytest.mark.parametrize("handler", [closes_after_the_request, resets_after_the_request], ids=["close", "reset"])
def test_a_paid_request_is_not_sent_again_when_the_connection_breaks_after_it_was_sent(
        serve: Callable[..., RawServer], handler: Callable[..., None], call: HttpCall, lane: bool) -> None:
    """The server read the whole request, then the connection closed (or was reset) before any answer: it may have
    done the work and billed it, so the client must not ask again (each retry could be another charge)."""
    server = serve(handler)
    with pytest.raises(E.APIConnectionError) as info:
        send(client_for(server), call, lane=lane)
    assert len(server.requests) == 1
    err = info.value
    assert "It was not sent again" in err.message and "billed" in err.message
    assert "history" in (err.hint or "")


def test_a_task_create_that_broke_after_it_was_sent_says_where_to_look(serve: Callable[..., RawServer]) -> None:
    """The create's answer is the only place the task id comes from: the history cannot hold it, the console can."""
    create = HttpCall("POST", "/v1/video/generations", json={"model": "v", "prompt": "p"}, billed_create=True)
    server = serve(resets_after_the_request)
    with pytest.raises(E.APIConnectionError, match="It was not sent again") as info:
        send(client_for(server), create, lane=True)
    assert len(server.requests) == 1
    assert "console" in (info.value.hint or "") and "balance" in (info.value.hint or "")


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
def test_a_free_request_is_still_retried_after_a_broken_connection(serve: Callable[..., RawServer],
                                                                   lane: bool) -> None:
    def first_breaks(server: RawServer, conn: socket.socket) -> None:
        if server.read_request(conn):
            if len(server.requests) == 1:
                reset(conn)
            else:
                conn.sendall(OK)

    server = serve(first_breaks)
    assert send(client_for(server), MODELS, lane=lane).json() == {"ok": True}
    assert len(server.requests) == 2


PAGE_504 = b"<html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway Time-out</h1><hr>nginx</body></html>"


@pytest.mark.parametrize("status", [504, 524])
def test_a_gateway_timeout_on_a_paid_request_is_not_retried(serve: Callable[..., RawServer], status: int) -> None:
    """A gateway in front of the relay (nginx's 60 s, Cloudflare's 100 s) gives up on a slow image while the relay
    goes on making it: asking again would pay for it twice."""
    def gateway(server: RawServer, conn: socket.socket) -> None:
        while server.read_request(conn):
            conn.sendall(answer(status, PAGE_504, "text/html"))

    server = serve(gateway)
    with pytest.raises(E.APIError) as info:
        send(client_for(server), IMAGE, lane=True)
    assert len(server.requests) == 1
    assert info.value.status == status
    assert "It was not sent again" in info.value.message and "history" in (info.value.hint or "")
    assert "\n" not in info.value.message


def test_a_gateway_timeout_on_a_free_request_is_still_retried(serve: Callable[..., RawServer]) -> None:
    def gateway_then_ok(server: RawServer, conn: socket.socket) -> None:
        while server.read_request(conn):
            conn.sendall(answer(504, PAGE_504, "text/html") if len(server.requests) == 1 else OK)

    server = serve(gateway_then_ok)
    assert send(client_for(server), MODELS, lane=True).json() == {"ok": True}
    assert len(server.requests) == 2


PAGE_502 = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
PAGE_520 = (b"<!DOCTYPE html><html><head><title>api.tokenhot.cn | 520: Web server is returning an unknown error</title>"
            b"</head><body><h1>Web server is returning an unknown error</h1><p>Cloudflare Ray ID: 8a1b2c3d</p></body></html>")
#: new-api's own error JSON for an upstream that failed (§1.4): the relay took the call, failed it and refunded it.
RELAY_502 = (b'{"error": {"message": "bad response status code 502 (request id: 20261202233100)", '
             b'"type": "new_api_error", "param": "", "code": "bad_response_status_code"}}')


@pytest.mark.parametrize(("status", "page"), [(502, PAGE_502), (520, PAGE_520)], ids=["nginx-502", "cloudflare-520"])
@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
def test_a_gateway_error_page_on_a_paid_request_is_not_retried(serve: Callable[..., RawServer], status: int,
                                                               page: bytes, lane: bool) -> None:
    """A gateway's page in place of the relay's JSON: the relay behind it may have taken (and billed) the call."""
    def gateway(server: RawServer, conn: socket.socket) -> None:
        while server.read_request(conn):
            conn.sendall(answer(status, page, "text/html") if len(server.requests) == 1 else OK)

    server = serve(gateway)
    with pytest.raises(E.APIError) as info:
        send(client_for(server), CHAT, lane=lane)
    assert len(server.requests) == 1
    err = info.value
    assert err.status == status and "It was not sent again" in err.message and "gateway" in err.message
    assert "console" in (err.hint or "") and "usage" in (err.hint or "") and "\n" not in err.message


def test_the_relays_own_502_on_a_paid_request_is_retried(serve: Callable[..., RawServer]) -> None:
    """new-api's JSON says the relay failed the call itself (and refunded it): asking again cannot pay twice."""
    def relay(server: RawServer, conn: socket.socket) -> None:
        while server.read_request(conn):
            conn.sendall(answer(502, RELAY_502) if len(server.requests) == 1 else OK)

    server = serve(relay)
    assert send(client_for(server), CHAT, lane=True).json() == {"ok": True}
    assert len(server.requests) == 2


def test_a_gateway_error_page_on_a_free_request_is_still_retried(serve: Callable[..., RawServer]) -> None:
    def gateway_then_ok(server: RawServer, conn: socket.socket) -> None:
        while server.read_request(conn):
            conn.sendall(answer(502, PAGE_502, "text/html") if len(server.requests) == 1 else OK)

    server = serve(gateway_then_ok)
    assert send(client_for(server), MODELS, lane=True).json() == {"ok": True}
    assert len(server.requests) == 2


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
def test_a_keep_alive_connection_the_server_closed_between_two_calls_is_not_reused(
        serve: Callable[..., RawServer], lane: bool) -> None:
    """httpcore sees the idle connection closed (it is readable: end of file) and opens a new one before it
    sends: each paid call goes out once, and both succeed."""
    def idle_timeout(server: RawServer, conn: socket.socket) -> None:
        if server.read_request(conn):
            conn.sendall(OK)  # keep-alive (HTTP/1.1), then closed after a short idle timeout
            time.sleep(0.1)

    server = serve(idle_timeout)
    send_twice(client_for(server), lane=lane)
    assert len(server.requests) == 2 and server.connections == 2


ANSWER = b'{"id": "c1", "choices": [{"message": {"role": "assistant", "content": "hello there"}}]}' * 8


def test_a_gzip_body_cut_short_by_the_connection_is_not_a_whole_answer(serve: Callable[..., RawServer]) -> None:
    """No Content-Length (the body ends with the connection): HTTP cannot tell a cut, but gzip can. A cut body
    read as whole would be parsed as a shorter (or broken) answer."""
    packed = gzip.compress(ANSWER)

    def cut(server: RawServer, conn: socket.socket) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                     b"Connection: close\r\n\r\n" + packed[: len(packed) // 2])

    server = serve(cut)
    with pytest.raises(E.APIConnectionError, match="broke after it had started; it was not sent again") as info:
        send(client_for(server), CHAT, lane=True)
    assert "gzip" in info.value.message
    assert len(server.requests) == 1


def test_a_whole_gzip_body_ending_with_the_connection_is_read(serve: Callable[..., RawServer]) -> None:
    def whole(server: RawServer, conn: socket.socket) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                     b"Connection: close\r\n\r\n" + gzip.compress(ANSWER))

    assert send(client_for(serve(whole)), MODELS, lane=True).content == ANSWER


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_proxy_from_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY set to something that does not answer: "could not connect to <the API>" alone sends the user to
    check the base URL; the error names the proxy (never its password) and the variable to fix."""
    port = closed_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://me:hunter2@127.0.0.1:{port}")
    client = Client(Settings(api_key=KEY, base_url="https://api.tokenhot.test", mode="live", max_retries=0))
    with pytest.raises(E.APIConnectionError) as info:
        send(client, CHAT, lane=False)
    err = info.value
    assert f"through the proxy http://127.0.0.1:{port} (from HTTPS_PROXY)" in err.message
    assert "HTTPS_PROXY" in (err.hint or "") and "NO_PROXY" in (err.hint or "")
    assert "hunter2" not in str(err) and "hunter2" not in err.full_message


def test_a_host_named_in_no_proxy_is_not_said_to_go_through_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = Client(Settings(api_key=KEY, base_url=f"http://127.0.0.1:{port}", mode="live", max_retries=0))
    with pytest.raises(E.APIConnectionError, match="Could not connect") as info:
        send(client, CHAT, lane=False)
    assert "proxy" not in info.value.message and "TOKENHOT_BASE_URL" in (info.value.hint or "")


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
def test_an_idle_connection_is_dropped_before_the_usual_5_s_server_idle_timeout(
        serve: Callable[..., RawServer], lane: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn, Node and Apache close an idle connection after 5 s, httpx's own default expiry: a call made at
    that moment races the close, and a paid call that loses it is not sent again. The pool drops connections
    sooner; its wiring is shown at a smaller scale (0.2 s, a second call after 0.4 s: on a new connection)."""
    from tokenhot_nb.client import _client

    assert _client.KEEPALIVE_EXPIRY < 5
    monkeypatch.setattr(_client, "LIMITS", httpx.Limits(keepalive_expiry=0.2))

    def keeps_alive(server: RawServer, conn: socket.socket) -> None:
        while server.read_request(conn):
            conn.sendall(OK)

    server = serve(keeps_alive)
    send_twice(client_for(server), lane=lane)
    assert len(server.requests) == 2 and server.connections == 2  # the second call on a new connection


def test_a_paid_call_that_times_out_says_how_to_wait_longer(serve: Callable[..., RawServer]) -> None:
    """A relay that takes longer than read_timeout to make an image: not sent again, and the way to wait longer."""
    def slow(server: RawServer, conn: socket.socket) -> None:
        server.read_request(conn)
        time.sleep(1.0)

    server = serve(slow)
    with pytest.raises(E.APITimeoutError, match="It was not sent again") as info:
        send(client_for(server, read_timeout=0.2), IMAGE, lane=True)
    assert len(server.requests) == 1
    assert "history" in (info.value.hint or "") and "read_timeout (Session(read_timeout=…), now 0.2 s)" in (
        info.value.hint or "")


# -- result downloads: a GET costs nothing, so a body cut after its headers is fetched again ---------------------
FILE = bytes(range(256)) * 40  # 10 KiB of media bytes


def cut_downloads(times: int) -> Callable[[RawServer, socket.socket], None]:
    """Serves ``FILE`` with its length; the first ``times`` answers stop after 1000 bytes (a clean close)."""
    def handler(server: RawServer, conn: socket.socket) -> None:
        while server.read_request(conn):
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % len(FILE)
            if len(server.requests) <= times:
                conn.sendall(head + FILE[:1000])
                return
            conn.sendall(head + FILE)

    return handler


def download(server: RawServer, folder: Any, sleeps: list[float], retries: int = 2) -> Any:
    from tokenhot_nb.client import RetryPolicy

    async def no_wait(delay: float) -> None:
        sleeps.append(delay)

    client = Client(Settings(api_key=KEY, base_url=server.url, mode="live"),
                    retry=RetryPolicy(max_retries=retries, sleep=no_wait))

    async def go() -> Any:
        try:
            return await client.download(f"{server.url}/files/result.bin", folder, suffix=".bin")
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_download_cut_after_its_headers_is_fetched_again_after_a_pause(
        serve: Callable[..., RawServer], tmp_path: Any) -> None:
    """A result link is a GET: asking again costs nothing (unlike the paid call that gave it), so a body that
    breaks mid-way is fetched again, after a backoff, and the whole file is stored; no partial file is left."""
    server = serve(cut_downloads(times=2))
    sleeps: list[float] = []
    got = download(server, tmp_path, sleeps)
    assert got.path.read_bytes() == FILE and got.size == len(FILE)
    assert len(server.requests) == 3 and len(sleeps) == 2 and all(d > 0 for d in sleeps)
    assert sorted(p.name for p in tmp_path.iterdir()) == [got.path.name]


def test_a_download_that_keeps_breaking_stops_within_the_retry_policy(
        serve: Callable[..., RawServer], tmp_path: Any) -> None:
    server = serve(cut_downloads(times=100))
    sleeps: list[float] = []
    with pytest.raises(E.DownloadError) as info:
        download(server, tmp_path, sleeps, retries=1)
    assert len(server.requests) == 2 and len(sleeps) == 1
    assert "broke after 1000 bytes" in info.value.message and "all 2 attempts" in info.value.message
    assert "not saved" in (info.value.hint or "")
    assert list(tmp_path.iterdir()) == []  # no partial file, under any name


# -- a paid answer cut before its known length: what arrived is kept ------------------------------------------
@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
def test_a_paid_answer_cut_before_its_length_keeps_what_arrived_without_the_key(
        serve: Callable[..., RawServer], lane: bool) -> None:
    """The answer said how long it was and stopped short: the work was done (and billed), and the bytes that came
    are what the request id and the relay's logs are about. They were dropped; now the error keeps them, with an
    echoed key masked, and a tail that may be the start of one too."""
    arrived = ('{"id": "c1", "echo": "' + KEY + '", "choices": [{"message": {"content": "hello sk-netf').encode()

    def cut(server: RawServer, conn: socket.socket) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n" + arrived)

    server = serve(cut)
    with pytest.raises(E.APIConnectionError, match="broke after it had started; it was not sent again") as info:
        send(client_for(server), CHAT, lane=lane)
    body = info.value.partial_body
    assert body is not None and body.startswith(b'{"id": "c1", "echo": "sk-****"')
    assert KEY.encode() not in body and b"sk-netf" not in body and body.endswith(b'"content": "hello sk-****')
    assert "partial_body" in (info.value.hint or "")
    assert len(server.requests) == 1


def test_a_free_answer_cut_short_keeps_nothing(serve: Callable[..., RawServer]) -> None:
    def cut(server: RawServer, conn: socket.socket) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"data\": [")

    with pytest.raises(E.APIConnectionError) as info:
        send(client_for(serve(cut)), MODELS, lane=True)
    assert info.value.partial_body is None and "partial_body" not in (info.value.hint or "")


def test_partial_body_keeps_binary_bytes_as_they_came() -> None:
    """A cut speech answer is audio: masking works on bytes, so only a key changes, never the rest."""
    audio = bytes(range(256)) * 4
    err = E.APIConnectionError("cut", partial_body=audio + KEY.encode() + audio)
    assert err.partial_body == audio + b"sk-****" + audio


def fails_every_download_in_turn(server: RawServer, conn: socket.socket) -> None:
    """Every GET fails, in turn: a 503 (before the headers of a 2xx), a reset after the request (no answer at all),
    a 200 whose body stops after 1000 bytes (after the headers)."""
    if not server.read_request(conn):
        return
    turn = (len(server.requests) - 1) % 3
    if turn == 0:
        conn.sendall(answer(503, b'{"error": {"message": "busy"}}', extra="Connection: close\r\n"))  # (not reused)
    elif turn == 1:
        reset(conn)
    else:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % len(FILE)
        conn.sendall(head + FILE[:1000])


@pytest.mark.parametrize("retries", [1, 2, 3])
def test_a_download_has_one_retry_budget_whatever_way_its_attempts_fail(
        serve: Callable[..., RawServer], tmp_path: Any, retries: int) -> None:
    """Retries before the headers (a 503, a reset) and after a body break (a cut) share one budget: a download
    is at most ``max_retries + 1`` GETs in all, each retry after the backoff; (n+1)² GETs when each kind had
    its own."""
    server = serve(fails_every_download_in_turn)
    sleeps: list[float] = []
    with pytest.raises(E.DownloadError) as info:
        download(server, tmp_path, sleeps, retries=retries)
    assert len(server.requests) == retries + 1
    assert len(sleeps) == retries and all(d > 0 for d in sleeps)
    assert f"{retries + 1} attempts" in info.value.message
    assert list(tmp_path.iterdir()) == []


# -- a body whose length was never stated: a drop looks like a clean end, the file's own end mark tells --------
def _media() -> dict[str, bytes]:
    import io

    from tokenhot_nb.sim.media import draw_image, encode_mp4

    picture = draw_image("a lighthouse", 96, 64, seed=3)
    out = {}
    for fmt in ("PNG", "JPEG", "GIF", "WEBP"):
        buf = io.BytesIO()
        picture.convert("RGB").save(buf, fmt)
        out[fmt] = buf.getvalue()
    out["MP4"] = encode_mp4("waves", 1.0, 64, 48, seed=1)
    return out


MEDIA = _media()


def close_delimited(data: bytes, times: int) -> Callable[[RawServer, socket.socket], None]:
    """Serves ``data`` with no Content-Length (the body ends when the server closes, as HTTP/1.0 servers and some
    CDNs answer); the first ``times`` answers close after two thirds of it."""
    def handler(server: RawServer, conn: socket.socket) -> None:
        if not server.read_request(conn):
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
        conn.sendall(data[: len(data) * 2 // 3] if len(server.requests) <= times else data)

    return handler


@pytest.mark.parametrize("fmt", sorted(MEDIA))
def test_a_file_cut_where_only_the_close_ended_its_body_is_fetched_again(
        serve: Callable[..., RawServer], tmp_path: Any, fmt: str) -> None:
    """With no stated length a dropped connection ends the body as cleanly as a finished one; a cut image or
    video was stored as the paid result. Its container's end mark (PNG's IEND, JPEG's EOI, GIF's trailer,
    RIFF's length, MP4's boxes) now tells, and a cut file is fetched again (a GET costs nothing)."""
    server = serve(close_delimited(MEDIA[fmt], times=1))
    sleeps: list[float] = []
    got = download(server, tmp_path, sleeps)
    assert got.path.read_bytes() == MEDIA[fmt]
    assert len(server.requests) == 2 and len(sleeps) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [got.path.name]


def test_a_file_always_cut_is_never_stored(serve: Callable[..., RawServer], tmp_path: Any) -> None:
    server = serve(close_delimited(MEDIA["PNG"], times=100))
    with pytest.raises(E.DownloadError) as info:
        download(server, tmp_path, [], retries=1)
    assert "ended early" in info.value.message and "IEND" in info.value.message
    assert "all 2 attempts" in info.value.message and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", sorted(MEDIA))
def test_a_whole_file_with_no_stated_length_is_taken_at_once(
        serve: Callable[..., RawServer], tmp_path: Any, fmt: str) -> None:
    server = serve(close_delimited(MEDIA[fmt], times=0))
    got = download(server, tmp_path, [])
    assert got.path.read_bytes() == MEDIA[fmt] and len(server.requests) == 1


def test_cut_short_reads_each_container_and_says_nothing_of_unknown_bytes(tmp_path: Any) -> None:
    from tokenhot_nb.client._download import cut_short

    def check(data: bytes) -> str | None:
        path = tmp_path / "f"
        path.write_bytes(data)
        return cut_short(data[:64], data[-64:], len(data), path)

    for fmt, data in MEDIA.items():
        assert check(data) is None, fmt
        assert check(data[: len(data) - 3]) is not None, fmt
    assert check(FILE[:5000]) is None  # unknown bytes: no end mark to go by
    # a hostile MP4 whose boxes never advance or overflow is not walked forever
    assert check(b"\x00\x00\x00\x08ftyp" + b"\x00\x00\x00\x00" * 100) is None
    assert check(b"\x00\x00\x00\x08ftypisom" + b"\x00\x00\x00\x01mdat" + (2**40).to_bytes(8, "big")) is not None


def test_a_whole_answer_to_a_stream_call_cut_short_keeps_what_arrived_and_is_not_sent_again(
        serve: Callable[..., RawServer]) -> None:
    """A relay that ignores stream=True answers whole (JSON): cut before its Content-Length, it said "Expected an
    event stream … try again with stream=False" (a second paid call for a network fault) and kept nothing of a paid
    answer. It now says the answer broke, keeps the bytes that arrived, and sends nothing again."""
    whole = b'{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",' \
            b'"content":"Hello there, this is the start of a long answer"}}]}'

    def cut(server: RawServer, conn: socket.socket) -> None:
        server.read_request(conn)
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(whole) + 400}\r\n\r\n"
        conn.sendall(head.encode() + whole[:90])

    server = serve(cut)
    client = client_for(server)
    call = HttpCall("POST", "/v1/chat/completions", json={"model": "m", "stream": True,
                                                          "messages": [{"role": "user", "content": "hi"}]},
                    stream="chat")

    async def read() -> None:
        events = await client.stream(call)
        async for _ in events:
            pass

    with pytest.raises(E.APIConnectionError) as info:
        asyncio.run(_then_close(client, read))
    err = info.value
    assert "stream=False" not in str(err) and "broke before its end" in err.message
    assert err.partial_body == whole[:90]
    assert len(server.requests) == 1


# --- Something other than a web server at the base URL's address: said so, not "disconnected without a response" -

def ssh_banner(server: RawServer, conn: socket.socket) -> None:
    """An SSH server: its banner at once, then (on the HTTP request, no SSH identification) a complaint and close."""
    conn.sendall(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")
    conn.recv(65536)
    conn.sendall(b"Invalid SSH identification string.\r\n")


def redis_error(server: RawServer, conn: socket.socket) -> None:
    """A database's text protocol: one error line for the request, then the close."""
    server.read_request(conn)
    conn.sendall(b"-ERR unknown command 'POST', with args beginning with:\r\n")


def binary_answer(server: RawServer, conn: socket.socket) -> None:
    server.read_request(conn)
    conn.sendall(bytes(range(256)) * 2)


def echo(server: RawServer, conn: socket.socket) -> None:
    """An echo service: the request comes back whole, the key in its Authorization line included."""
    data = conn.recv(65536)
    conn.sendall(data)


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
@pytest.mark.parametrize("call", [CHAT, MODELS], ids=["paid", "free"])
@pytest.mark.parametrize(("handler", "sent"), [
    (ssh_banner, "'SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13'"),
    (redis_error, "\"-ERR unknown command 'POST', with args beginning with:\""),
    (binary_answer, "512 bytes that are not text"),
    (echo, None),  # (its first line: the request line this client sent)
], ids=["ssh", "redis", "binary", "echo"])
def test_a_server_that_does_not_answer_http_is_named_as_such(
        serve: Callable[..., RawServer], handler: Callable[..., None], sent: str | None, call: HttpCall,
        lane: bool) -> None:
    """It said "The connection … broke (RemoteProtocolError: Server disconnected without sending a response.)",
    and for a paid call that the server "may have … billed the work": a wrong port or host looked like a flaky
    relay. It now says what answered is not HTTP and to check the base URL and its port; nothing was billed."""
    server = serve(handler)
    with pytest.raises(E.APIConnectionError) as info:
        send(client_for(server, max_retries=0), call, lane=lane)
    err = info.value
    said = f"'{call.method} {call.path} HTTP/1.1'" if sent is None else sent
    assert err.message == (f"The server at {server.url} did not answer in HTTP (it sent {said}): something other "
                           "than a web server listens at that address.")
    assert err.hint is not None and err.hint.startswith("Check the base URL and its port (TOKENHOT_BASE_URL")
    assert KEY not in str(err) and "billed" not in str(err) and "disconnected" not in str(err)
    assert err.sent is (False if call is CHAT else None)  # (no relay answered: nothing was charged)


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
@pytest.mark.parametrize("reply", [
    b"",  # nothing at all: no telling what listens there
    b"HTTP/1.1 200 OK\r\nContent-",  # an HTTP answer cut in its head
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk",  # HTTP, its body's framing broken
    b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",  # HTTP, its status line broken
], ids=["nothing", "head-cut", "bad-chunk", "bad-status"])
def test_an_http_answer_that_broke_is_not_taken_for_another_protocol(
        serve: Callable[..., RawServer], reply: bytes, lane: bool) -> None:
    def answers(server: RawServer, conn: socket.socket) -> None:
        server.read_request(conn)
        conn.sendall(reply)

    server = serve(answers)
    with pytest.raises(E.APIConnectionError) as info:
        send(client_for(server, max_retries=0), CHAT, lane=lane)
    assert "did not answer in HTTP" not in str(info.value)
    assert "not sent again" in info.value.message  # (the relay may have done, and billed, the work)


def test_a_stream_call_to_a_server_that_does_not_answer_http_says_so(serve: Callable[..., RawServer]) -> None:
    server = serve(ssh_banner)
    client = client_for(server, max_retries=0)
    call = HttpCall("POST", "/v1/chat/completions", json={"model": "m", "stream": True,
                                                          "messages": [{"role": "user", "content": "hi"}]},
                    stream="chat")

    async def read() -> None:
        async for _ in await client.stream(call):
            pass

    with pytest.raises(E.APIConnectionError) as info:
        asyncio.run(_then_close(client, read))
    assert info.value.message.startswith(f"The server at {server.url} did not answer in HTTP (it sent 'SSH-2.0-")
