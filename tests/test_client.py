"""Client.send: auth and body encoding, typed errors, and the retry policy (with an injected sleep)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest
from _client_support import Script, fail, reply

from tokenhot_nb import errors as E
from tokenhot_nb._config import SIM_BASE_URL, Settings
from tokenhot_nb.client import Client, RetryPolicy, parse_retry_after
from tokenhot_nb.families._types import FilePart, HttpCall

T = TypeVar("T")
KEY = "sk-clienttest-VERYSECRET42"
BASE = "https://api.tokenhot.test"


def arun(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(
    handler: Callable[[httpx.Request], Any], *, retries: int = 2, sleeps: Sleeps | None = None, **overrides: Any
) -> Client:
    settings = Settings(api_key=KEY, base_url=BASE, mode="live", max_retries=retries, **overrides)
    policy = RetryPolicy(max_retries=retries, sleep=sleeps or Sleeps(), rand=lambda: 0.0)
    return Client(settings, transport=httpx.MockTransport(handler), retry=policy)


async def _send(client: Client, call: HttpCall) -> Any:
    try:
        return await client.send(call)
    finally:
        await client.aclose()


def send(client: Client, call: HttpCall) -> Any:
    return arun(_send(client, call))


CHAT = HttpCall("POST", "/v1/chat/completions", json={"model": "m", "messages": []})


def test_send_json_with_auth_and_response_fields() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True}, headers={"X-Request-Id": "rid-7"})

    resp = send(make_client(handler), CHAT)
    req = seen[0]
    assert str(req.url) == f"{BASE}/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.content) == {"model": "m", "messages": []}
    assert "anthropic-version" not in req.headers
    assert resp.status == 200 and resp.json() == {"ok": True}
    assert resp.request_id == "rid-7"
    assert resp.headers["x-request-id"] == "rid-7"  # keys are lower case
    assert resp.elapsed >= 0
    assert resp.text == '{"ok":true}'


def test_claude_messages_gets_anthropic_version_and_params_pass() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    send(make_client(handler), HttpCall("POST", "/v1/messages", json={}, params={"beta": "1"},
                                        headers={"X-Extra": "yes"}))
    assert seen[0].headers["anthropic-version"] == "2023-06-01"
    assert seen[0].headers["x-extra"] == "yes"
    assert seen[0].url.params["beta"] == "1"


def test_multipart_files_and_data() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []})

    call = HttpCall(
        "POST",
        "/v1/images/edits",
        data={"model": "gpt-image-2", "n": 2, "stream": False, "tags": ["a", "b"], "skip": None},
        files=[FilePart("image", "in.png", b"\x89PNGDATA", "image/png")],
    )
    send(make_client(handler), call)
    req = seen[0]
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = req.content
    assert b'name="model"\r\n\r\ngpt-image-2' in body
    assert b'name="n"\r\n\r\n2' in body
    assert b'name="stream"\r\n\r\nfalse' in body
    assert body.count(b'name="tags"') == 2
    assert b'name="skip"' not in body
    assert b'filename="in.png"' in body and b"Content-Type: image/png" in body and b"\x89PNGDATA" in body


def test_non_2xx_raises_typed_error_without_retry_on_400() -> None:
    handler = Script(reply(400, json={"error": {"message": "bad field (request id: r1)", "code": "invalid_request"}}))
    with pytest.raises(E.BadRequestError) as info:
        send(make_client(handler), CHAT)
    assert handler.calls == 1
    assert info.value.request_id == "r1" and info.value.code == "invalid_request"


def test_malformed_json_on_200_is_a_readable_error() -> None:
    resp = send(make_client(lambda r: httpx.Response(200, content=b"{not json")), CHAT)
    with pytest.raises(E.APIError, match="not valid JSON"):
        resp.json()


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_then_succeed(status: int) -> None:
    sleeps = Sleeps()
    busy = reply(status, json={"error": {"message": "busy"}})
    handler = Script(busy, busy, reply(200, json={}))
    paid = status != 504  # a gateway timeout: the relay may still do (and bill) a paid call; a GET may be asked again
    resp = send(make_client(handler, retries=2, sleeps=sleeps), CHAT if paid else HttpCall("GET", "/v1/models"))
    assert resp.status == 200 and handler.calls == 3
    assert sleeps.delays == [0.5, 1.0]  # rand=0 → no jitter


def test_retries_exhausted_raise_last_error() -> None:
    handler = Script(reply(503, json={"error": {"message": "overloaded"}}))
    with pytest.raises(E.ServerError, match="overloaded"):
        send(make_client(handler, retries=3), CHAT)
    assert handler.calls == 4


def test_zero_retries() -> None:
    handler = Script(reply(500))
    with pytest.raises(E.ServerError):
        send(make_client(handler, retries=0), CHAT)
    assert handler.calls == 1


def test_retry_after_seconds_and_ms_and_cap() -> None:
    for headers, expected in [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "60"}, 60.0),
    ]:
        sleeps = Sleeps()
        answers = [httpx.Response(429, headers=headers, json={"error": {"message": "slow"}}), httpx.Response(200, json={})]
        send(make_client(lambda r, a=answers: a.pop(0), sleeps=sleeps), CHAT)
        assert sleeps.delays == [expected]


def test_retry_after_beyond_a_minute_is_not_slept_but_said() -> None:
    sleeps = Sleeps()
    answers = [httpx.Response(429, headers={"Retry-After": "9999"}, json={"error": {"message": "slow"}}),
               httpx.Response(200, json={})]
    with pytest.raises(E.RateLimitError) as info:
        send(make_client(lambda r, a=answers: a.pop(0), sleeps=sleeps), CHAT)
    assert sleeps.delays == []  # nothing slept silently
    assert len(answers) == 1  # and not retried
    assert "try again after" in str(info.value) and "9999 s" in str(info.value)
    assert info.value.retry_after == 9999 and info.value.retry_at and info.value.retry_at > time.time() + 9000


def test_parse_retry_after_http_date() -> None:
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30, abs=1.5)
    assert parse_retry_after({"retry-after": "garbage"}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_and_caps_with_jitter() -> None:
    policy = RetryPolicy(rand=lambda: 0.0)
    assert [policy.backoff(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]
    jittered = RetryPolicy(rand=lambda: 1.0)
    assert jittered.backoff(1) == pytest.approx(0.375)


def test_quota_429_is_never_retried() -> None:
    handler = Script(reply(429, json={"error": {"message": "quota", "code": "insufficient_user_quota"}}))
    with pytest.raises(E.QuotaExhaustedError):
        send(make_client(handler, retries=3), CHAT)
    assert handler.calls == 1


def test_connection_errors_are_retried_then_mapped() -> None:
    handler = Script(fail(httpx.ConnectError, "connection refused"))
    with pytest.raises(E.APIConnectionError) as info:
        send(make_client(handler, retries=2), CHAT)
    assert handler.calls == 3
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "Could not connect" in str(info.value)


def test_read_timeout_becomes_timeout_error_and_is_not_retried() -> None:
    handler = Script(fail(httpx.ReadTimeout, "read timed out"))
    with pytest.raises(E.APITimeoutError):
        send(make_client(handler, retries=2), CHAT)
    assert handler.calls == 1


BILLED = HttpCall("POST", "/v1/video/generations", json={"model": "v"}, billed_create=True)


@pytest.mark.parametrize("status", [500, 502, 504, 408, 409])
def test_billed_create_not_retried_on_other_errors(status: int) -> None:
    handler = Script(reply(status, json={"code": "fail", "message": "upstream failed", "data": None}))
    with pytest.raises(E.APIError):
        send(make_client(handler, retries=3), BILLED)
    assert handler.calls == 1


@pytest.mark.parametrize("status", [429, 503])
def test_billed_create_not_retried_on_429_and_503_either(status: int) -> None:
    """§1.4: never retry a video create automatically, whatever the answer; the error says it was not sent again."""
    handler = Script(reply(status, json={"code": "busy", "message": "try later"}), reply(200, json={"id": "task_1"}))
    with pytest.raises(E.APIError, match=r"try later\. It was not sent again") as info:
        send(make_client(handler, retries=2), BILLED)
    assert handler.calls == 1
    hint = info.value.hint or ""
    assert ("no task was made" in hint) is (status == 429)
    assert ("console" in hint) is (status == 503)


@pytest.mark.parametrize("body", [{"error": {"message": "您已达到请求数限制：1分钟内最多请求3次", "code": ""}}, None])
def test_billed_create_not_retried_on_the_limiters_answers(body: dict[str, Any] | None) -> None:
    """The per-user limiter's Chinese 429 and the global limiter's empty 429 (§10.5) are rate limits like any other,
    and a create they turned away made no task."""
    handler = Script(reply(429, json=body) if body else reply(429), reply(200, json={"id": "task_1"}))
    with pytest.raises(E.RateLimitError, match="It was not sent again") as info:
        send(make_client(handler, retries=2), BILLED)
    assert handler.calls == 1
    assert "create it again" in (info.value.hint or "")


def test_billed_create_retried_when_not_sent_but_not_after_read_error() -> None:
    refuse_once = Script(fail(httpx.ConnectError, "refused"), reply(200, json={"id": "task_2"}))
    assert send(make_client(refuse_once), BILLED).json() == {"id": "task_2"}
    assert refuse_once.calls == 2

    drop = Script(fail(httpx.ReadError, "connection reset"))
    with pytest.raises(E.APIConnectionError):
        send(make_client(drop, retries=3), BILLED)
    assert drop.calls == 1


def test_missing_key_in_live_mode() -> None:
    settings = Settings(api_key="", base_url=BASE, mode="live")
    client = Client(settings, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    with pytest.raises(E.MissingKeyError):
        arun(_send(client, CHAT))


def test_offline_mode_uses_sim_base_url_and_placeholder_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = Client(Settings(mode="offline", base_url="https://ignored"), transport=httpx.MockTransport(handler))
    arun(_send(client, CHAT))
    assert str(seen[0].url).startswith(SIM_BASE_URL)
    assert seen[0].headers["authorization"] == "Bearer sk-offline-simulator"


def test_replay_mode_without_transport_never_touches_network() -> None:
    client = Client(Settings(mode="replay", api_key=KEY, base_url=BASE))
    with pytest.raises(E.ReplayMissError):
        arun(_send(client, CHAT))


def test_repr_and_logs_never_show_key(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": f"bad key {KEY}"}})

    client = make_client(handler)
    assert KEY not in repr(client) and BASE in repr(client) and "live" in repr(client)
    caplog.set_level(logging.DEBUG, logger="tokenhot_nb")
    with pytest.raises(E.AuthenticationError) as info:
        send(client, CHAT)
    assert KEY not in str(info.value) and KEY not in repr(info.value) and KEY not in info.value.message
    assert any("/v1/chat/completions" in r.getMessage() and "401" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert KEY not in record.getMessage()


def test_base_url_with_path_prefix() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    settings = Settings(api_key=KEY, base_url="https://relay.example/proxy/v1", mode="live")
    arun(_send(Client(settings, transport=httpx.MockTransport(handler)), CHAT))
    assert seen == ["https://relay.example/proxy/v1/chat/completions"]


def test_sync_facade_from_plain_code() -> None:
    client = make_client(lambda r: httpx.Response(200, json={"n": 1}))
    try:
        assert client.send_sync(CHAT).json() == {"n": 1}
        assert client.run(client.send(CHAT)).json() == {"n": 1}
    finally:
        client.close()
    with pytest.raises(E.TokenhotError, match="closed"):
        client.send_sync(CHAT)


def test_one_client_on_two_loops_gets_one_pool_each() -> None:
    client = make_client(lambda r: httpx.Response(200, json={}))
    assert client.send_sync(CHAT).status == 200  # background loop
    assert arun(client.send(CHAT)).status == 200  # a fresh loop of its own
    client.close()


# --- time rules for bodies read whole (the blocking lane's are in test_client_lane.py) ---------------


class Drip(httpx.AsyncByteStream):
    """A body that arrives ``piece`` bytes every ``every`` s: each read is quick, the whole never ends in time."""

    def __init__(self, total: int, piece: int = 1, every: float = 0.02, head: bytes = b"") -> None:
        self.total, self.piece, self.every, self.head = total, piece, every, head
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> Any:
        if self.head:
            yield self.head
        while self.sent < self.total:
            await asyncio.sleep(self.every)
            n = min(self.piece, self.total - self.sent)
            self.sent += n
            yield b" " * n

    async def aclose(self) -> None:
        self.closed = True


def test_a_body_that_drips_ends_at_the_deadline_with_one_timeout_line() -> None:
    drip = Drip(10_000)  # 200 s at this pace; JSON allows the leading spaces
    handler = Script(lambda r: httpx.Response(200, headers={"content-type": "application/json"}, stream=drip))
    started = time.monotonic()
    with pytest.raises(E.APITimeoutError) as info:
        send(make_client(handler, stream_deadline=0.3, read_timeout=5), CHAT)
    took = time.monotonic() - started
    assert 0.3 <= took < 3
    assert handler.calls == 1  # never sent again: the server may have billed it
    assert drip.closed and drip.sent < 200
    message = str(info.value)
    assert "\n" not in message
    assert "POST /v1/chat/completions was still arriving after 0.3 s" in message and "stream_deadline" in message


def test_a_slow_body_inside_the_deadline_is_read_whole() -> None:
    body = json.dumps({"ok": True}).encode()
    drip = Drip(50, piece=10, every=0.01, head=body)
    handler = Script(lambda r: httpx.Response(200, headers={"content-type": "application/json"}, stream=drip))
    resp = send(make_client(handler, stream_deadline=5), CHAT)
    assert resp.content == body + b" " * 50 and resp.json() == {"ok": True}


def test_an_error_body_that_drips_is_cut_at_one_read_timeout_and_keeps_its_start() -> None:
    head = json.dumps({"error": {"message": "model overloaded", "code": "busy"}}).encode()
    drip = Drip(10_000, head=head)
    handler = Script(lambda r: httpx.Response(400, headers={"content-type": "application/json"}, stream=drip))
    started = time.monotonic()
    with pytest.raises(E.BadRequestError) as info:
        send(make_client(handler, stream_deadline=60, read_timeout=0.3), CHAT)
    assert time.monotonic() - started < 3
    assert "model overloaded" in info.value.message and info.value.code == "busy"  # the start said enough


def _download(client: Client, url: str, dest: Any) -> Any:
    async def run() -> Any:
        try:
            return await client.download(url, dest)
        finally:
            await client.aclose()

    return arun(run())


def test_a_download_that_drips_is_stopped_as_stalled(tmp_path: Any) -> None:
    drip = Drip(1_000_000, piece=10, every=0.02)  # 500 bytes/s, under the floor below
    handler = Script(lambda r: httpx.Response(200, headers={"content-type": "video/mp4"}, stream=drip))
    client = make_client(handler, download_min_rate=1000, stream_idle_timeout=0.3, read_timeout=5)
    started = time.monotonic()
    with pytest.raises(E.DownloadError) as info:
        _download(client, "https://cdn.vendor.test/v.mp4", tmp_path / "art")
    assert 0.3 <= time.monotonic() - started < 3
    message = str(info.value)
    assert "stalled" in message and "1000 bytes/s" in message and "download_min_rate" in message
    assert "\n" not in message
    assert not list((tmp_path / "art").glob("*"))  # nothing half-written is left


def test_a_slow_but_steady_download_has_no_total_time_limit(tmp_path: Any) -> None:
    drip = Drip(60_000, piece=2000, every=0.01)  # ~200 kB/s for ~0.3 s, longer than the stream deadline
    handler = Script(lambda r: httpx.Response(200, headers={"content-type": "video/mp4"}, stream=drip))
    client = make_client(handler, download_min_rate=1000, stream_idle_timeout=0.1, stream_deadline=0.05)
    result = _download(client, "https://cdn.vendor.test/v.mp4", tmp_path / "art")
    assert result.size == 60_000 and result.path.read_bytes() == b" " * 60_000


def test_unknown_charset_falls_back_to_utf8() -> None:
    text = "the paid transcript — ok"
    for content_type in ("text/plain; charset=x-bogus", 'text/plain; charset=""', "text/plain; charset=LATIN-1"):
        handler = Script(reply(200, content=text.encode(), headers={"content-type": content_type}))
        resp = send(make_client(handler), CHAT)
        expected = text.encode().decode("latin-1") if "LATIN" in content_type else text
        assert resp.text == expected


def test_a_non_json_body_with_an_unknown_charset_says_so() -> None:
    handler = Script(reply(200, content=b"<html>oops</html>", headers={"content-type": "application/json; charset=x-bogus"}))
    resp = send(make_client(handler), CHAT)
    with pytest.raises(E.APIError, match="answered 200 with a web page, not the API's answer"):
        resp.json()  # (an HTML page whatever its label: most likely a captive portal or a website)
