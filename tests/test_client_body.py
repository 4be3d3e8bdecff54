"""client._body on its own: the capped, self-decoding body stream, media types and web pages where the API's
answer should be (the client-level behaviour is in test_client_hostile.py and test_client_sse.py)."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from tokenhot_nb.client import _body
from tokenhot_nb.client._body import (
    BOMB_FLOOR,
    STEP,
    BodyRefused,
    BoundedStream,
    bound_body,
    human_size,
    media_type,
    page_instead_of_api,
    web_page,
)


class Chunks(httpx.AsyncByteStream):
    """A body arriving in the given chunks; remembers whether it was closed."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def read(stream: BoundedStream) -> list[bytes]:
    async def run() -> list[bytes]:
        return [piece async for piece in stream]

    return asyncio.run(run())


def refusal(stream: BoundedStream) -> BodyRefused:
    with pytest.raises(BodyRefused) as info:
        read(stream)
    return info.value


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


# -- the cap, the line limit ---------------------------------------------------------------------------------------
def test_a_body_up_to_the_cap_passes_and_one_byte_more_is_refused() -> None:
    stream = BoundedStream(Chunks(b"12345", b"67890"), cap=10)
    assert read(stream) == [b"12345", b"67890"] and (stream.size, stream.wire) == (10, 10)
    error = refusal(BoundedStream(Chunks(b"12345", b"678901"), cap=10))
    assert (error.reason, str(error), error.size) == ("is larger than the limit of 10 bytes",) * 2 + (11,)


def test_a_line_longer_than_the_limit_is_refused_wherever_the_chunks_cut_it() -> None:
    ok = BoundedStream(Chunks(b"abc", b"de\nfghij", b"\n", b"klmno"), cap=100, max_line=5)
    assert b"".join(read(ok)) == b"abcde\nfghij\nklmno"
    assert read(BoundedStream(Chunks(b"abcde"), cap=100, max_line=5)) == [b"abcde"]  # exactly the limit
    assert read(BoundedStream(Chunks(b"a\nbbbbb\nc", b"dddd"), cap=100, max_line=5)) == [b"a\nbbbbb\nc", b"dddd"]
    error = refusal(BoundedStream(Chunks(b"abc", b"def"), cap=100, max_line=5))  # (a line with no end yet)
    assert (error.reason, error.size) == ("has a line longer than 5 bytes", 6)
    assert refusal(BoundedStream(Chunks(b"x\nabc", b"def"), cap=100, max_line=5)).size == 8
    assert b"".join(read(BoundedStream(Chunks(b"abcdefgh\n" * 3), cap=100))) == b"abcdefgh\n" * 3  # no limit


def test_closing_the_stream_closes_the_body() -> None:
    inner = Chunks(b"x")
    asyncio.run(BoundedStream(inner, cap=10).aclose())
    assert inner.closed


# -- decoding gzip and deflate, a step at a time --------------------------------------------------------------------
TEXT = b"".join(b"line %d of an answer\n" % i for i in range(20_000))  # ~450 KiB, compresses well below 200x


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "raw-deflate"])
def test_gzip_and_deflate_bodies_are_decoded_in_bounded_steps(encoding: str) -> None:
    if encoding in ("gzip", "x-gzip"):
        wire = gzip.compress(TEXT)
    elif encoding == "deflate":
        wire = zlib.compress(TEXT)
    else:  # "deflate" as some servers send it: without the zlib header
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        wire = packer.compress(TEXT) + packer.flush()
    stream = BoundedStream(Chunks(*split(wire, 1000)), cap=len(TEXT), encoding=encoding.removeprefix("raw-"))
    pieces = read(stream)
    assert b"".join(pieces) == TEXT and all(len(p) <= STEP for p in pieces) and b"" not in pieces[:-1]
    assert (stream.size, stream.wire) == (len(TEXT), len(wire))


def test_one_small_chunk_that_inflates_a_lot_comes_out_in_steps() -> None:
    wire = gzip.compress(b"a" * (3 * STEP + 5))
    pieces = read(BoundedStream(Chunks(wire), cap=10 * STEP, encoding="gzip"))
    assert [len(p) for p in pieces] == [STEP, STEP, STEP, 5, 0]  # (the last: what the end flushed)


def test_the_decoded_size_counts_against_the_cap() -> None:
    wire = gzip.compress(TEXT)
    error = refusal(BoundedStream(Chunks(wire), cap=len(TEXT) - 1, encoding="gzip"))
    assert error.reason == f"is larger than the limit of {human_size(len(TEXT) - 1)}"


def test_a_decompression_bomb_is_refused_after_about_a_mib() -> None:
    wire = gzip.compress(b"\0" * (8 * BOMB_FLOOR))
    stream = BoundedStream(Chunks(*split(wire, 64)), cap=100 * BOMB_FLOOR, encoding="gzip")
    error = refusal(stream)
    assert error.reason == "decompresses to more than 200 times its size on the wire (a decompression bomb)"
    assert BOMB_FLOOR < error.size <= BOMB_FLOOR + STEP


def test_a_body_that_inflates_a_lot_but_stays_under_a_mib_is_no_bomb() -> None:
    wire = gzip.compress(b"\0" * BOMB_FLOOR)  # 1 MiB from about 1 KiB: far past 200x, but small
    assert len(b"".join(read(BoundedStream(Chunks(wire), cap=2 * BOMB_FLOOR, encoding="gzip")))) == BOMB_FLOOR


def test_a_body_past_a_mib_that_inflates_less_than_200_times_is_no_bomb() -> None:
    import random

    rng = random.Random(7)
    data = bytes(rng.getrandbits(8) if i % 100 == 0 else 0 for i in range(3 * BOMB_FLOOR))  # about 60x
    wire = gzip.compress(data)
    assert len(data) < 200 * len(wire)
    assert b"".join(read(BoundedStream(Chunks(wire), cap=4 * BOMB_FLOOR, encoding="gzip"))) == data


def test_bytes_that_are_not_gzip_are_refused() -> None:
    error = refusal(BoundedStream(Chunks(b"this is not gzip"), cap=100, encoding="gzip"))
    assert (error.reason, error.size) == ("is not valid gzip data (Error -3 while decompressing data: incorrect "
                                          "header check)", 0)
    deflate = refusal(BoundedStream(Chunks(b"\xff\xff not deflate"), cap=100, encoding="deflate"))
    assert deflate.reason.startswith("is not valid deflate data (")


def test_a_deflate_body_broken_after_its_start_is_refused_as_it_is() -> None:
    """Only the first chunk may be read again as deflate without its zlib header; a later broken one is broken."""
    wire = zlib.compress(TEXT)
    start = zlib.decompressobj().decompress(wire[:2000], STEP)
    error = refusal(BoundedStream(Chunks(wire[:2000], bytes(range(256))), cap=len(TEXT), encoding="deflate"))
    assert error.reason == "is not valid deflate data (Error -3 while decompressing data: invalid distance too far back)"
    assert error.size == len(start) > 0


def test_a_raw_deflate_chunk_that_inflates_a_lot_comes_out_in_steps() -> None:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    wire = packer.compress(b"a" * (2 * STEP + 1)) + packer.flush()
    pieces = read(BoundedStream(Chunks(wire), cap=10 * STEP, encoding="deflate"))
    assert [len(p) for p in pieces] == [STEP, STEP, 1, 0]


def test_the_bomb_ratio_is_past_200_not_at_it() -> None:
    stream = BoundedStream(Chunks(), cap=100 * BOMB_FLOOR, encoding="gzip")
    stream.wire = 10_000
    assert stream._count(b"\0" * 2_000_000) is not None  # exactly 200 times the wire: kept
    with pytest.raises(BodyRefused, match="decompression bomb"):
        stream._count(b"\0")


def test_a_gzip_body_cut_short_is_broken_not_shorter() -> None:
    wire = gzip.compress(TEXT)
    with pytest.raises(httpx.RemoteProtocolError, match=r"^the connection ended inside the gzip body, before its end$"):
        read(BoundedStream(Chunks(wire[: len(wire) // 2]), cap=len(TEXT), encoding="gzip"))
    assert read(BoundedStream(Chunks(), cap=10, encoding="gzip")) == [b""]  # no body at all: nothing cut


# -- bound_body: which encodings are taken ---------------------------------------------------------------------------
def _response(encoding: str | None, content: bytes) -> httpx.Response:
    headers = {"content-encoding": encoding} if encoding is not None else {}
    return httpx.Response(200, headers=headers, stream=Chunks(content))


@pytest.mark.parametrize("encoding", ["GZIP ", "x-gzip", "deflate", "identity", None])
def test_bound_body_decodes_what_it_asked_for(encoding: str | None) -> None:
    content = b"hello"
    if encoding and "gzip" in encoding.lower():
        content = gzip.compress(content)
    elif encoding == "deflate":
        content = zlib.compress(content)
    response = _response(encoding, content)
    bounded = bound_body(response, 100, max_line=50)
    assert response.stream is bounded and (bounded.cap, bounded.max_line) == (100, 50)
    assert "content-encoding" not in response.headers  # decoded here: httpx passes the bytes through
    assert b"".join(read(bounded)) == b"hello"


def test_bound_body_refuses_an_encoding_it_did_not_ask_for() -> None:
    with pytest.raises(BodyRefused) as info:
        bound_body(_response("br", b"x"), 100)
    assert (info.value.reason, info.value.size) == ("uses the content encoding 'br', which was not asked for", 0)
    with pytest.raises(BodyRefused) as long:
        bound_body(_response("x" * 100, b"x"), 100)
    assert long.value.reason == f"uses the content encoding {'x' * 40!r}, which was not asked for"


# -- sizes, media types, web pages ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "text"), [
    (0, "0 bytes"), (1023, "1023 bytes"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (1024**2 - 1, "1024.0 KiB"),
    (1024**2, "1.0 MiB"), (3 * 1024**3, "3.0 GiB"), (5000 * 1024**3, "5000.0 GiB"),
])
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


@pytest.mark.parametrize(("given", "media"), [
    (None, "application/octet-stream"), ("", "application/octet-stream"), ("  ; charset=x", "application/octet-stream"),
    (" Text/HTML ; charset=utf-8", "text/html"), ("application/json", "application/json"),
    ("text/html; charset=utf-8; q=1", "text/html"),
])
def test_media_type(given: str | None, media: str) -> None:
    assert media_type(given) == media


@pytest.mark.parametrize(("body", "content_type", "title"), [
    (b"<html><head><TITLE lang='en'>Hotel &amp;\n  Wi-Fi</TITLE></head></html>", None, "Hotel & Wi-Fi"),
    (b"\n  <!DOCTYPE html><title>Portal</title>", "text/plain", "Portal"),
    (b"<p>no title</p>", "text/html; charset=utf-8", ""),
    (b"<p>x</p><title>Sign in</title>", "application/xhtml+xml", "Sign in"),
    (b"<title>" + b"t" * 200 + b"</title>", "text/html", "t" * 80),
    (b"<title>caf\xe9</title>", "text/html", "caf\ufffd"),
    (b"<html>" + b" " * 70_000 + b"<title>too far</title>", None, ""),  # only the first 64 KiB are searched
    (b"<html>" + b" " * (65536 - 24) + b"<title>edge</title>", None, "edge"),  # "</title" ends at 64 KiB
    (b"<html>" + b" " * (65536 - 23) + b"<title>edge</title>", None, ""),  # … one byte past it
    (b" " * 4091 + b"<html>", None, ""),  # starts like a page within its first 4 KiB
], ids=["titled", "doctype", "untitled", "xhtml", "long-title", "not-utf8", "far", "at-64k", "past-64k", "at-4k"])
def test_a_web_page_and_its_title(body: bytes, content_type: str | None, title: str) -> None:
    assert web_page(body, content_type) == title


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"ok": true}', "application/json"),
    (b"<title>looks like a page</title>", "text/plain"),  # neither labelled nor starting like one
    (b" " * 4092 + b"<html>", None),  # starts like one only past its first 4 KiB
], ids=["json", "text", "past-4k"])
def test_what_is_no_web_page(body: bytes, content_type: str | None) -> None:
    assert web_page(body, content_type) is None


def test_the_line_for_a_page_instead_of_the_api() -> None:
    assert page_instead_of_api(200, "Hotel Wi-Fi") == (
        "The server answered 200 with a web page ('Hotel Wi-Fi'), not the API's answer: a Wi-Fi sign-in page, a "
        "proxy's page, or a base URL that is a website.")
    assert page_instead_of_api(203, "") == (
        "The server answered 203 with a web page, not the API's answer: a Wi-Fi sign-in page, a proxy's page, or a "
        "base URL that is a website.")
    assert _body.PAGE_HINT == ("Sign in to the network in a browser, or check TOKENHOT_BASE_URL; then check the "
                               "history before trying again.")


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "loop"])
def test_the_response_cap_holds_for_a_body_a_transport_read_ahead(lane: bool) -> None:
    """A transport of one's own (or httpx's MockTransport) may answer a response built from bytes, which httpx reads
    whole when it is made: it was handed over past the stream the cap bounds, so any size went through."""
    from tokenhot_nb import errors as E
    from tokenhot_nb._config import Settings
    from tokenhot_nb.client import Client
    from tokenhot_nb.families._types import HttpCall

    big = b'{"choices": [{"message": {"content": "' + b"x" * 5000 + b'"}}]}'
    client = Client(Settings(api_key="sk-cap-0123456789abcdef", base_url="https://api.tokenhot.test", mode="live",
                             response_cap=2048),
                    transport=httpx.MockTransport(lambda _r: httpx.Response(200, content=big,
                                                                            headers={"content-type": "application/json"})))
    call = HttpCall("POST", "/v1/chat/completions", json={"model": "m", "messages": []})
    with pytest.raises(E.TokenhotError, match=r"larger than the limit of 2\.0 KiB"):
        if lane:
            try:
                client.send_sync(call)
            finally:
                client.close()
        else:
            async def go() -> None:
                try:
                    await client.send(call)
                finally:
                    await client.aclose()

            asyncio.run(go())
