"""Large JSON request bodies go gzip-compressed (new-api decodes them), a thread's from the state kept at its last
turn; a relay that does not decode gzip gets the body again as it is, once, and nothing more compressed."""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import os
import zlib
from pathlib import Path
from typing import Any

import pytest
from _hostile import Action, Hostile, response

from tokenhot_nb import Session, catalog
from tokenhot_nb import errors as E
from tokenhot_nb._config import Settings
from tokenhot_nb.client import Client, _compress
from tokenhot_nb.client._compress import MIN_SIZE, Gzip, loopback
from tokenhot_nb.families import chat
from tokenhot_nb.families._types import HttpCall

#: the loopback relays serve no price table: the session says so once and uses the built-in catalogue
pytestmark = pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")

KEY = "sk-COMPRESS-loopback-KEY-0123456789"
CHAT = "/v1/chat/completions"
MODEL = "gpt-5.4-mini"
BIG = "a long question about lighthouses and the sea " * 1000  # ~46 KB: over the threshold


def _answer(text: str = "Noted.") -> bytes:
    return response(200, json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode())


def _bad_json() -> bytes:
    return response(400, json.dumps({"error": {"message": "invalid JSON in request body", "type": "invalid_request",
                                               "code": "invalid_request"}}).encode())


def _body_of(seen: Any) -> dict[str, Any]:
    raw = gzip.decompress(seen.body) if seen.headers.get("content-encoding") == "gzip" else seen.body
    return json.loads(raw)  # type: ignore[no-any-return]


def chats(relay: Hostile) -> list[Any]:
    """The chat requests the relay saw (a live session also reads the price table)."""
    return [r for r in relay.seen if r.path.split("?")[0] == CHAT]


def _session(url: str, tmp: Path, compress: str = "always") -> Session:
    return Session(api_key=KEY, base_url=url, mode="live", store=tmp / "store", compress_requests=compress,
                   max_retries=0)


# ============================================================================= the compressor


def _turns(n: int, endpoint: str = "chat.completions") -> list[HttpCall]:
    """A thread's calls as the session builds them: one Prefix kept across turns, replies of some length."""
    model = catalog.model(MODEL)
    prefix = chat.Prefix()
    messages: list[dict[str, Any]] = []
    calls = []
    for i in range(n):
        messages.append({"role": "user", "content": f"question {i}: " + "tell me about the sea. " * 40})
        calls.append(chat.build(model, list(messages), endpoint=endpoint, prefix=prefix))
        messages.append({"role": "assistant", "content": f"answer {i}: " + "waves and light. " * 60})
    return calls


def test_each_turn_compresses_only_what_it_adds_and_decodes_to_the_body() -> None:
    g = Gzip()
    calls = _turns(12)
    assert all(c.encoded is not None and 0 < c.stable < len(c.encoded) for c in calls)
    outs = []
    for c in calls:
        assert c.encoded is not None
        before = [k.written for k in g._kept if c.encoded.startswith(k.prefix)]
        out = g.compress(c.encoded, c.stable)
        assert gzip.decompress(out) == c.encoded
        if outs:  # the kept state of the turn before was continued: its compressed bytes start this body's
            assert before and out.startswith(before[-1])
        outs.append(out)
    assert len(outs[-1]) * 4 < len(calls[-1].encoded or b"")  # conversation text shrinks a lot
    assert len(g._kept) == 1  # one thread: each turn's state replaces the one it continued


def test_unrelated_bodies_and_a_changed_thread_start_over() -> None:
    g = Gzip()
    first = b'{"model":"m","messages":[' + b'{"role":"user","content":"x"},' * 2000
    out = g.compress(first + b"]}", len(first))
    assert gzip.decompress(out) == first + b"]}"
    other = b'{"model":"m","messages":[' + b'{"role":"user","content":"y"},' * 2000 + b"]}"
    assert gzip.decompress(g.compress(other)) == other  # no kept prefix fits: a whole compress
    assert gzip.decompress(g.compress(b"")) == b""
    assert gzip.decompress(g.compress(first + b"]}", len(first) + 10**6)) == first + b"]}"  # a stable past the end


@pytest.mark.parametrize("endpoint", ["chat.completions", "responses", "messages", "gemini.generate"])
def test_stable_is_where_the_next_turn_starts(endpoint: str) -> None:
    model = catalog.model({"chat.completions": MODEL, "responses": "gpt-5.4",
                           "messages": "claude-opus-4-6-cc", "gemini.generate": "gemini-2.5-flash"}[endpoint])
    calls = _turns(4, endpoint) if endpoint == "chat.completions" else []
    if not calls:
        prefix = chat.Prefix()
        messages: list[dict[str, Any]] = []
        for i in range(4):
            messages.append({"role": "user", "content": f"q{i} " * 50})
            calls.append(chat.build(model, list(messages), endpoint=endpoint, prefix=prefix))
            messages.append({"role": "assistant", "content": f"a{i} " * 50})
    for now, nxt in itertools.pairwise(calls[1:]):  # (the first turn of /v1/responses may be a lone string)
        assert now.encoded is not None and nxt.encoded is not None and now.stable > 0
        assert nxt.encoded[: now.stable] == now.encoded[: now.stable]
        assert len(now.encoded) - now.stable < 400  # what follows is the list's end and the options
        assert json.loads(now.encoded) == now.json


def test_a_turn_that_is_not_plain_text_promises_nothing() -> None:
    prefix = chat.Prefix()
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
    chat.build(catalog.model(MODEL), list(msgs), prefix=prefix)
    msgs += [{"role": "assistant", "content": "", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"}]
    call = chat.build(catalog.model(MODEL), list(msgs), prefix=prefix)
    assert call.stable == 0


def test_loopback_hosts() -> None:
    assert all(loopback(h) for h in ("127.0.0.1", "127.5.0.1", "::1", "[::1]", "localhost", "LOCALHOST",
                                     "app.localhost"))
    assert not any(loopback(h) for h in ("api.tokenhot.cn", "10.0.0.1", "192.168.1.2", "example.com", ""))


def test_auto_compresses_only_on_the_network() -> None:
    live = Client(Settings(api_key="sk-x", mode="live", base_url="https://api.tokenhot.cn"))
    assert live._compressing
    assert not Client(Settings(mode="offline"))._compressing  # the simulator in-process
    assert not Client(Settings(api_key="sk-x", mode="live", base_url="http://127.0.0.1:9"))._compressing
    assert not Client(Settings(api_key="sk-x", mode="live", compress_requests="never"))._compressing
    assert Client(Settings(api_key="sk-x", mode="live", base_url="http://127.0.0.1:9",
                           compress_requests="always"))._compressing


def test_an_unknown_choice_is_one_line() -> None:
    with pytest.raises(E.ConfigError) as info:
        Settings(compress_requests="yes")
    assert "compress_requests" in str(info.value) and "auto, always, never" in str(info.value)
    assert "\n" not in str(info.value)


# ============================================================================= over real loopback


def test_a_large_body_goes_gzip_and_a_small_one_as_it_is(tmp_path: Path) -> None:
    with Hostile({CHAT: lambda *a: _answer()}) as relay:
        s = _session(relay.url, tmp_path)
        assert s.chat(BIG, model=MODEL, stream=False, thread=False).text == "Noted."
        assert s.chat("short", model=MODEL, stream=False, thread=False).text == "Noted."
        s.close()
    big, small = chats(relay)
    assert big.headers.get("content-encoding") == "gzip" and len(big.body) < MIN_SIZE // 4
    assert int(big.headers["content-length"]) == len(big.body)
    assert _body_of(big)["messages"] == [{"role": "user", "content": BIG}]
    assert "content-encoding" not in small.headers and _body_of(small)["messages"][0]["content"] == "short"


def test_a_thread_streamed_or_not_sends_the_whole_conversation_compressed(tmp_path: Path) -> None:
    def answer(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        if _body_of_raw(headers, body).get("stream"):
            frames = [{"id": "c", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
                       "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Streamed."},
                                    "finish_reason": "stop"}]}]
            sse = b"".join(b"data: " + json.dumps(f).encode() + b"\n\n" for f in frames) + b"data: [DONE]\n\n"
            return response(200, sse, "text/event-stream")
        return _answer("Plain.")

    with Hostile({CHAT: answer}) as relay:
        s = _session(relay.url, tmp_path)
        for i in range(4):
            s.chat(f"{i}: {BIG}", model=MODEL, stream=i % 2 == 1)
        s.close()
    assert [r.headers.get("content-encoding") for r in chats(relay)] == ["gzip"] * 4
    last = _body_of(chats(relay)[-1])["messages"]
    assert [m["role"] for m in last] == ["user", "assistant"] * 3 + ["user"]
    assert [m["content"] for m in last[1::2]] == ["Plain.", "Streamed.", "Plain."]
    assert last[-1]["content"] == f"3: {BIG}"


def _body_of_raw(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    raw = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
    return json.loads(raw)  # type: ignore[no-any-return]


def test_auto_sends_bodies_to_this_machine_as_they_are(tmp_path: Path) -> None:
    with Hostile({CHAT: lambda *a: _answer()}) as relay:
        s = _session(relay.url, tmp_path, compress="auto")
        s.chat(BIG, model=MODEL, stream=False, thread=False)
        s.close()
    assert "content-encoding" not in chats(relay)[0].headers


def test_a_relay_that_does_not_decode_gzip_gets_the_body_again_once_then_plain(tmp_path: Path) -> None:
    def old_relay(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        return _bad_json() if headers.get("content-encoding") else _answer()

    with Hostile({CHAT: old_relay}) as relay:
        s = _session(relay.url, tmp_path)
        assert s.chat(BIG, model=MODEL, stream=False, thread=False).text == "Noted."
        assert s.client.gzip.state == "off"
        assert s.chat(BIG + "!", model=MODEL, stream=False, thread=False).text == "Noted."
        assert [e.status for e in s.history] == ["ok", "ok"]
        s.close()
    assert [r.headers.get("content-encoding") for r in chats(relay)] == ["gzip", None, None]
    assert _body_of(chats(relay)[0]) == _body_of(chats(relay)[1])


def test_a_request_refused_as_it_is_too_is_the_requests_fault_not_the_compressions(tmp_path: Path) -> None:
    with Hostile({CHAT: lambda *a: _bad_json()}) as relay:
        s = _session(relay.url, tmp_path)
        for _ in range(2):
            with pytest.raises(E.BadRequestError) as info:
                s.chat(BIG, model=MODEL, stream=False, thread=False)
            assert "invalid JSON" in str(info.value) and "\n" not in str(info.value)
            assert s.client.gzip.state == "unknown"  # not learnt: the next large body goes compressed again
        s.close()
    assert [r.headers.get("content-encoding") for r in chats(relay)] == ["gzip", None, "gzip", None]


def test_a_host_that_took_gzip_is_not_sent_the_body_twice(tmp_path: Path) -> None:
    answers = iter([_answer(), _bad_json()])
    with Hostile({CHAT: lambda *a: next(answers)}) as relay:
        s = _session(relay.url, tmp_path)
        s.chat(BIG, model=MODEL, stream=False, thread=False)
        assert s.client.gzip.state == "on"
        with pytest.raises(E.BadRequestError):
            s.chat(BIG, model=MODEL, stream=False, thread=False)
        s.close()
    assert [r.headers.get("content-encoding") for r in chats(relay)] == ["gzip", "gzip"]


def test_history_and_replay_keep_the_json_not_the_compressed_bytes(tmp_path: Path) -> None:
    with Hostile({CHAT: lambda *a: _answer()}) as relay:
        s = _session(relay.url, tmp_path)
        s.chat(BIG, model=MODEL, stream=False, thread=False)
        entry = s.history[-1]
        s.close()
    assert entry.request["json"]["messages"][0]["content"] == BIG
    assert "gzip" not in json.dumps(entry.to_dict()).lower()
    replay = Session(mode="replay", store=tmp_path / "store")
    assert replay.chat(BIG, model=MODEL, stream=False, thread=False).text == "Noted."
    replay.close()


# ============================================================================= against the simulator


@pytest.mark.parametrize("endpoint_model", ["gpt-5.4-mini", "claude-opus-4-6-cc", "gemini-2.5-flash"])
def test_a_long_thread_compressed_gets_the_answers_the_plain_one_gets(sim_url: str, tmp_path: Path,
                                                                     endpoint_model: str) -> None:
    """The simulator decodes gzip as the service does and answers by the body: the same thread sent compressed
    and as it is gets the same answers, streamed or not, in each protocol."""
    replies: dict[str, list[str]] = {}
    for choice in ("always", "never"):
        s = Session(api_key=KEY, base_url=sim_url, mode="live", store=tmp_path / choice, compress_requests=choice)
        replies[choice] = [s.chat(f"{i}: {BIG}", model=endpoint_model, stream=i % 2 == 0).text for i in range(3)]
        assert s.client.gzip.state == ("on" if choice == "always" else "unknown")
        assert [e.status for e in s.history] == ["ok"] * 3
        s.close()
    assert replies["always"] == replies["never"] and all(replies["always"])


# ============================================================================= what counts as "not decoded"


def _error(status: int, message: str) -> bytes:
    return response(status, json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                                  "code": ""}}).encode())


@pytest.mark.parametrize(("status", "body", "resent"), [
    (415, _error(415, "unsupported media type"), True),
    (400, response(400, b""), True),  # new-api's answer to a broken gzip header: an empty 400
    (400, _error(400, "invalid character '\\x1f' looking for beginning of value"), True),
    (400, _error(400, "Unsupported value: 'temperature' does not support 0.2 with this model."), False),
    (413, _error(413, "request body too large"), False),  # the plain body is larger still
    (429, _error(429, "rate limited"), False),
])
def test_only_an_answer_that_says_the_body_was_not_read_is_resent(tmp_path: Path, status: int, body: bytes,
                                                                   resent: bool) -> None:
    answers = iter([body, _answer()])
    with Hostile({CHAT: lambda *a: next(answers)}) as relay:
        s = _session(relay.url, tmp_path)
        if resent:
            assert s.chat(BIG, model=MODEL, stream=False, thread=False).text == "Noted."
            assert s.client.gzip.state == "off"
        else:
            with pytest.raises(E.APIError) as info:
                s.chat(BIG, model=MODEL, stream=False, thread=False)
            assert info.value.status == status and s.client.gzip.state == "unknown"
        s.close()
    assert [r.headers.get("content-encoding") for r in chats(relay)] == (["gzip", None] if resent else ["gzip"])


def test_calls_in_flight_together_are_each_sent_again(tmp_path: Path) -> None:
    def old_relay(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        return _bad_json() if headers.get("content-encoding") else _answer()

    with Hostile({CHAT: old_relay}) as relay:
        s = _session(relay.url, tmp_path)
        batch = s.chat([f"{i} {BIG}" for i in range(4)], model=MODEL, stream=False, concurrency=4)
        assert [r.text for r in batch] == ["Noted."] * 4
        assert s.client.gzip.state == "off" and [e.status for e in s.history] == ["ok"] * 4
        s.close()
    encodings = [r.headers.get("content-encoding") for r in chats(relay)]
    assert encodings.count(None) == 4 and 1 <= encodings.count("gzip") <= 4


def test_a_plain_resend_that_breaks_leaves_nothing_learnt(tmp_path: Path) -> None:
    def relay_fn(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes | Action:
        return _bad_json() if headers.get("content-encoding") else Action(b"", close=True)

    with Hostile({CHAT: relay_fn}) as relay:
        s = _session(relay.url, tmp_path)
        with pytest.raises(E.APIConnectionError):
            s.chat(BIG, model=MODEL, stream=False, thread=False)
        assert s.client.gzip.state == "unknown"
        s.close()


def test_a_body_that_hardly_shrinks_goes_as_it_is(tmp_path: Path) -> None:
    noise = base64.b64encode(os.urandom(1_500_000)).decode()  # what inline media looks like
    with Hostile({CHAT: lambda *a: _answer()}) as relay:
        s = _session(relay.url, tmp_path)
        s.chat(noise, model=MODEL, stream=False, thread=False)
        s.chat(BIG * 30, model=MODEL, stream=False, thread=False)  # as large, but text: compressed
        s.close()
    media, text = chats(relay)
    assert "content-encoding" not in media.headers and _body_of(media)["messages"][0]["content"] == noise
    assert text.headers.get("content-encoding") == "gzip" and len(text.body) * 20 < len(BIG * 30)


def test_a_sessions_thread_continues_the_kept_compressor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    real = zlib.compressobj

    def counting(*args: Any) -> Any:
        made.append(1)
        return real(*args)

    monkeypatch.setattr(_compress.zlib, "compressobj", counting)
    with Hostile({CHAT: lambda *a: _answer("A reply. " * 200)}) as relay:
        s = _session(relay.url, tmp_path)
        for i in range(5):
            s.chat(f"{i}: {BIG}", model=MODEL, stream=False, system="Be brief.", max_tokens=500)
        s.close()
    assert len(made) == 1  # the first turn's; every later turn went on from a copy
    bodies = [_body_of(r) for r in chats(relay)]
    assert [len(b["messages"]) for b in bodies] == [2, 4, 6, 8, 10]  # the system message, then the turns
    assert bodies[-1]["messages"][0] == {"role": "system", "content": "Be brief."}
