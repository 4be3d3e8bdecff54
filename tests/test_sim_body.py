"""Compressed and oversized request bodies (new-api's DecompressRequestMiddleware), over real loopback HTTP."""

from __future__ import annotations

import asyncio
import gzip
import json
import struct
import tracemalloc
import zlib
from typing import Any

import httpx
import pytest

from tokenhot_nb.sim import REQUEST_ID_HEADER, SimTransport, _body

CHAT = {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "Tell me about compressed uploads"}]}
RAW = json.dumps(CHAT).encode()


def send(url: str, content: bytes, headers: dict[str, str], path: str = "/v1/chat/completions",
         content_type: str = "application/json") -> httpx.Response:
    return httpx.post(url + path, content=content, headers={"Content-Type": content_type, **headers}, timeout=30)


def reply(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def middleware_refusal(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["type"] == "new_api_error" and "param" not in error
    assert r.headers[REQUEST_ID_HEADER] in error["message"]
    return error


def deflate_raw(data: bytes) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


def trailer(data: bytes) -> bytes:
    return struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def zeros_gzip(mib: int) -> bytes:
    """``mib`` MiB of zeros as one gzip member, compressed a MiB at a time (about a thousandth on the wire)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join(z.compress(block) for _ in range(mib)) + z.flush()


def traced(url: str, content: bytes, headers: dict[str, str]) -> tuple[httpx.Response, int]:
    """The answer and the peak memory this process (the simulator's thread included) traced while it came."""
    tracemalloc.start()
    try:
        r = send(url, content, headers)
        return r, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def plain_reply(sim_url: str, auth: dict[str, str]) -> str:
    return reply(send(sim_url, RAW, auth))


def test_gzip_body_is_answered_like_the_plain_one(sim_url: str, auth: dict[str, str], plain_reply: str) -> None:
    r = send(sim_url, gzip.compress(RAW), {**auth, "Content-Encoding": "gzip"})
    assert reply(r) == plain_reply and "compressed uploads" in plain_reply
    other = send(sim_url, gzip.compress(RAW.replace(b"compressed", b"plain")), {**auth, "Content-Encoding": "gzip"})
    assert reply(other) != plain_reply  # the answer really comes from the decoded body


def test_header_name_is_case_insensitive(sim_url: str, auth: dict[str, str], plain_reply: str) -> None:
    assert reply(send(sim_url, gzip.compress(RAW), {**auth, "CONTENT-ENCODING": "gzip"})) == plain_reply


def test_header_value_is_compared_as_sent(sim_url: str, auth: dict[str, str]) -> None:
    """new-api switches on the exact value: ``GZIP`` is not decoded, so the raw bytes fail the JSON read."""
    r = send(sim_url, gzip.compress(RAW), {**auth, "Content-Encoding": "GZIP"})
    assert middleware_refusal(r, 400)["message"].startswith("invalid JSON in request body")


def test_gzip_header_with_every_optional_field(sim_url: str, auth: dict[str, str], plain_reply: str) -> None:
    head = b"\x1f\x8b\x08" + bytes([2 | 4 | 8 | 16]) + b"\x00\x00\x00\x00\x00\xff"
    head += struct.pack("<H", 5) + b"extra" + b"body.json\0" + b"a comment\0"
    head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    r = send(sim_url, head + deflate_raw(RAW) + trailer(RAW), {**auth, "Content-Encoding": "gzip"})
    assert reply(r) == plain_reply


def test_concatenated_gzip_members_are_one_body(sim_url: str, auth: dict[str, str], plain_reply: str) -> None:
    body = gzip.compress(RAW[:20]) + gzip.compress(RAW[20:])
    assert reply(send(sim_url, body, {**auth, "Content-Encoding": "gzip"})) == plain_reply


def _bad_hcrc() -> bytes:
    head = b"\x1f\x8b\x08\x02\x00\x00\x00\x00\x00\xff"
    return head + struct.pack("<H", (zlib.crc32(head) + 1) & 0xFFFF) + deflate_raw(RAW) + trailer(RAW)


@pytest.mark.parametrize("body", [
    b"",                                                      # no header at all
    RAW,                                                      # not gzip
    gzip.compress(RAW)[:6],                                   # header cut short
    b"\x1f\x8b\x07" + gzip.compress(RAW)[3:],                 # not deflate
    b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\xff" + b"n" * 600,  # file name without its NUL in 512 bytes
    b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\xff\x00abc",   # extra field longer than the body
    _bad_hcrc(),                                              # header CRC wrong
], ids=["empty", "plain", "short", "method", "name", "extra", "hcrc"])
def test_broken_gzip_header_is_an_empty_400_before_auth(sim_url: str, body: bytes) -> None:
    r = send(sim_url, body, {"Content-Encoding": "gzip"})  # no key: the middleware runs before the key check
    assert r.status_code == 400 and r.content == b""
    assert r.headers[REQUEST_ID_HEADER]


def test_broken_gzip_header_on_a_route_that_reads_no_body(sim_url: str, auth: dict[str, str]) -> None:
    r = send(sim_url, b"junk", {**auth, "Content-Encoding": "gzip"}, path="/v1/images/variations")
    assert r.status_code == 400 and r.content == b""
    assert send(sim_url, b"junk", auth, path="/v1/images/variations").status_code == 501


def test_get_requests_are_not_decoded(sim_url: str, auth: dict[str, str]) -> None:
    r = httpx.get(sim_url + "/v1/models", headers={**auth, "Content-Encoding": "gzip"}, timeout=30)
    assert r.status_code == 200 and r.json()["data"]


@pytest.mark.parametrize("body", [
    gzip.compress(RAW)[:10] + b"\xff" * 40 + gzip.compress(RAW)[-8:],  # valid header, garbage data
    gzip.compress(RAW)[:-8],                                          # trailer missing (truncated)
    gzip.compress(RAW)[:-8] + struct.pack("<II", 0, len(RAW)),        # CRC wrong
    gzip.compress(RAW) + b"\n",                                       # trailing bytes that are no member
], ids=["garbage", "truncated", "crc", "trailing"])
def test_corrupt_gzip_data_is_invalid_json(sim_url: str, auth: dict[str, str], body: bytes) -> None:
    r = send(sim_url, body, {**auth, "Content-Encoding": "gzip"})
    error = middleware_refusal(r, 400)
    assert error["message"].startswith("invalid JSON in request body") and error["code"] == "invalid_request"


@pytest.mark.parametrize("encoding", ["deflate", "x-gzip", "gzip, identity"])
def test_other_encodings_are_not_decoded(sim_url: str, auth: dict[str, str], encoding: str) -> None:
    r = send(sim_url, zlib.compress(RAW) if encoding == "deflate" else gzip.compress(RAW),
             {**auth, "Content-Encoding": encoding})
    assert middleware_refusal(r, 400)["message"].startswith("invalid JSON in request body")


def test_identity_is_plain(sim_url: str, auth: dict[str, str], plain_reply: str) -> None:
    assert reply(send(sim_url, RAW, {**auth, "Content-Encoding": "identity"})) == plain_reply


def test_gzip_bomb_is_refused_without_inflating(sim_url: str, auth: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_body, "MAX_REQUEST_BODY", 1 << 20)
    bomb = zeros_gzip(64)
    assert len(bomb) < 128 * 1024
    r, peak = traced(sim_url, bomb, {**auth, "Content-Encoding": "gzip"})
    error = middleware_refusal(r, 400)  # the distributor read the body for its model: its 400 wraps the failure
    assert error["message"].startswith("invalid request, request body too large")
    assert peak < 16 << 20  # 64 MiB inflated in memory would show here


def test_limit_counts_decoded_bytes(sim_url: str, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps({**CHAT, "messages": [{"role": "user", "content": "squeeze me " * 300}]}).encode()
    packed = gzip.compress(raw)
    assert len(packed) * 10 < len(raw)
    expected = reply(send(sim_url, raw, auth))
    monkeypatch.setattr(_body, "MAX_REQUEST_BODY", len(raw))
    assert reply(send(sim_url, packed, {**auth, "Content-Encoding": "gzip"})) == expected
    monkeypatch.setattr(_body, "MAX_REQUEST_BODY", len(raw) - 1)
    middleware_refusal(send(sim_url, packed, {**auth, "Content-Encoding": "gzip"}), 400)


def test_plain_body_over_the_limit(sim_url: str, auth: dict[str, str], plain_reply: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """new-api: 128 MiB unless set; a JSON body naming its model is read by the distributor (400 wrapping the size
    error), a model-in-path (Gemini) body by the relay (413)."""
    assert _body.MAX_REQUEST_BODY == 128 * 1024**2
    monkeypatch.setattr(_body, "MAX_REQUEST_BODY", len(RAW))
    assert reply(send(sim_url, RAW, auth)) == plain_reply
    monkeypatch.setattr(_body, "MAX_REQUEST_BODY", 4096)
    big = json.dumps({**CHAT, "messages": [{"role": "user", "content": "x" * 10_000}]}).encode()
    error = middleware_refusal(send(sim_url, big, auth), 400)
    assert error["message"].startswith("invalid request, request body too large")
    gemini = json.dumps({"contents": [{"role": "user", "parts": [{"text": "x" * 10_000}]}]}).encode()
    r = send(sim_url, gemini, {"x-goog-api-key": auth["Authorization"].split()[-1]},
             path="/v1beta/models/gemini-2.5-flash:generateContent")
    assert r.status_code == 413 and r.json()["error"]["code"] == "read_request_body_failed"


def _multipart(**files: tuple[str, bytes, str]) -> tuple[bytes, str]:
    req = httpx.Request("POST", "http://x/", data={"model": "whisper-1", "response_format": "json"}, files=files)
    return req.read(), req.headers["Content-Type"]


def test_gzip_multipart_form(sim_url: str, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    body, ctype = _multipart(file=("meeting-notes.mp3", bytes(range(256)) * 200, "audio/mpeg"))
    path = "/v1/audio/transcriptions"
    plain = send(sim_url, body, auth, path=path, content_type=ctype)
    packed = send(sim_url, gzip.compress(body), {**auth, "Content-Encoding": "gzip"}, path=path, content_type=ctype)
    assert plain.status_code == packed.status_code == 200
    assert packed.json() == plain.json() and "meeting-notes.mp3" in packed.json()["text"]
    corrupt = gzip.compress(body)[:-8]
    error = middleware_refusal(send(sim_url, corrupt, {**auth, "Content-Encoding": "gzip"}, path=path,
                                    content_type=ctype), 400)
    assert "truncated gzip data" in error["message"]
    monkeypatch.setattr(_body, "MAX_REQUEST_BODY", 4096)
    middleware_refusal(send(sim_url, gzip.compress(body), {**auth, "Content-Encoding": "gzip"}, path=path,
                            content_type=ctype), 413)


def test_zstd_is_decoded_when_zstandard_is_there(sim_url: str, auth: dict[str, str], plain_reply: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import zstandard  # the test extra brings it (langsmith, through langchain-openai, needs it)

    packed = zstandard.ZstdCompressor().compress(RAW)
    assert reply(send(sim_url, packed, {**auth, "Content-Encoding": "zstd"})) == plain_reply
    error = middleware_refusal(send(sim_url, b"not zstd at all", {**auth, "Content-Encoding": "zstd"}), 400)
    assert error["message"].startswith("invalid JSON in request body")
    monkeypatch.setattr(_body, "MAX_REQUEST_BODY", 1 << 20)
    bomb = zstandard.ZstdCompressor().compress(bytes(64 << 20))
    r, peak = traced(sim_url, bomb, {**auth, "Content-Encoding": "zstd"})
    middleware_refusal(r, 400)
    assert peak < 16 << 20


def test_br_is_decoded_when_brotli_is_there(sim_url: str, auth: dict[str, str], plain_reply: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import brotli  # the test extra brings it (1.2 or later)

    packed = brotli.compress(RAW)
    assert reply(send(sim_url, packed, {**auth, "Content-Encoding": "br"})) == plain_reply
    for broken in (b"not br at all", packed[:-3]):  # corrupt, truncated
        error = middleware_refusal(send(sim_url, broken, {**auth, "Content-Encoding": "br"}), 400)
        assert error["message"].startswith("invalid JSON in request body")
    monkeypatch.setattr(_body, "MAX_REQUEST_BODY", 1 << 20)
    bomb = brotli.compress(bytes(64 << 20), quality=1)
    assert len(bomb) < 1 << 16
    r, peak = traced(sim_url, bomb, {**auth, "Content-Encoding": "br"})
    middleware_refusal(r, 400)
    assert peak < 16 << 20


@pytest.mark.parametrize("encoding", ["br", "zstd"])
def test_encodings_the_simulator_cannot_decode_are_refused_clearly(
        sim_url: str, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    monkeypatch.delitem(_body.OPTIONAL_DECODERS, encoding, raising=False)
    error = middleware_refusal(send(sim_url, b"\x0b\x02\x80{}\x03", {**auth, "Content-Encoding": encoding}), 400)
    assert f"simulator cannot decode Content-Encoding: {encoding}" in error["message"]
    assert "the service can" in error["message"]


def test_gzip_through_the_inprocess_transport(plain_reply: str) -> None:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=SimTransport(), base_url="http://tokenhot.sim", timeout=10) as c:
            return await c.post("/v1/chat/completions", content=gzip.compress(RAW), headers={
                "Authorization": "Bearer sk-inprocess", "Content-Type": "application/json",
                "Content-Encoding": "gzip"})

    assert reply(asyncio.run(run())) == plain_reply
