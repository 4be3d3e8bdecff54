"""Client.stream over real loopback HTTP: what the wire can do to an event stream that a mock cannot.

A media type in any letter case (RFC 9110 §8.3.1, issue #14), characters split across HTTP chunks, bytes that
are not UTF-8, and a stall noticed while the stream is iterated from synchronous code (one task per step).
The server is the raw-socket one of ``_hostile.py``, so every byte and chunk boundary is the test's choice.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _hostile import Action, Hostile, response

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb._config import Settings
from tokenhot_nb.client import Client, SSEEvent, run_sync
from tokenhot_nb.families._types import HttpCall

KEY = "sk-ssewire-SECRET-0001"
CALL = HttpCall("POST", "/v1/chat/completions", json={"stream": True}, stream="chat")


def chunk(text: str) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}


def frame(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def chunked(pieces: list[bytes], content_type: str = "text/event-stream") -> bytes:
    """A raw chunked HTTP/1.1 answer: one HTTP chunk per piece, boundaries exactly where the test put them."""
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode()
    return head + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def client_for(url: str, **settings: Any) -> Client:
    return Client(Settings(api_key=KEY, base_url=url, mode="live", **settings))


def texts(events: list[SSEEvent]) -> list[str]:
    return [e.data["choices"][0]["delta"]["content"] for e in events if isinstance(e.data, dict)]


def stream_all(url: str, **settings: Any) -> list[SSEEvent]:
    client = client_for(url, **settings)

    async def run() -> list[SSEEvent]:
        try:
            return [e async for e in client.stream(CALL)]
        finally:
            await client.aclose()

    return run_sync(run())


BODY = frame(chunk("Hel")) + frame(chunk("lo")) + b"data: [DONE]\n\n"


@pytest.mark.parametrize("content_type", ["Text/Event-Stream", "TEXT/EVENT-STREAM; Charset=UTF-8",
                                          "text/Event-Stream ;charset=utf-8"])
def test_a_media_type_in_any_letter_case_is_an_event_stream(content_type: str) -> None:
    """Issue #14: media types are case-insensitive; such a stream used to end in "the stream broke"."""
    with Hostile({"/v1/chat/completions": lambda *a: response(200, BODY, content_type=content_type)}) as relay:
        events = stream_all(relay.url)
    assert texts(events) == ["Hel", "lo"]


def test_a_mixed_case_event_stream_reaches_the_session_whole(tmp_path: Path) -> None:
    with Hostile({"/v1/chat/completions": lambda *a: response(200, BODY, content_type="Text/Event-Stream")}) as relay:
        s = Session(api_key=KEY, base_url=relay.url, mode="live", store=tmp_path / "store")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # this relay has no model table: the built-in catalogue is used
            res = s.chat("hi", model="gpt-5.4")
    assert res.text == "Hello"
    assert s.history[-1].status == "ok"


@pytest.mark.parametrize("content_type", ["text/event-streams", "application/x-text/event-stream"])
def test_a_media_type_that_only_contains_the_words_is_not_an_event_stream(content_type: str) -> None:
    """The media type is compared whole (after the parameters are cut off), not searched for a substring."""
    with Hostile({"/v1/chat/completions": lambda *a: response(200, BODY, content_type=content_type)}) as relay, \
            pytest.raises(E.StreamError, match="Expected an event stream") as info:
        stream_all(relay.url)
    assert content_type in info.value.message


def test_characters_split_across_http_chunks_are_joined() -> None:
    data = frame(chunk("héllo ✓")) + frame(chunk("ß")) + b"data: [DONE]\n\n"
    cut_e = data.index("é".encode()) + 1  # inside é's two bytes
    cut_check = data.index("✓".encode()) + 2  # inside ✓'s three bytes
    cut_sharp = data.index("ß".encode()) + 1
    pieces = [data[:cut_e], data[cut_e:cut_check], data[cut_check:cut_sharp], data[cut_sharp:]]
    with Hostile({"/v1/chat/completions": lambda *a: chunked(pieces)}) as relay:
        events = stream_all(relay.url)
    assert texts(events) == ["héllo ✓", "ß"]


def test_one_event_per_chunk_and_lines_split_across_chunks() -> None:
    """Relays send one event per chunk, but a line (or the blank line ending an event) may be cut anywhere."""
    first, second = frame(chunk("a")), frame(chunk("b"))
    pieces = [first, second[:3], second[3:-1], second[-1:], b"data: [DO", b"NE]\n", b"\n"]
    with Hostile({"/v1/chat/completions": lambda *a: chunked(pieces)}) as relay:
        events = stream_all(relay.url)
    assert texts(events) == ["a", "b"]


def test_bytes_that_are_not_utf8_are_replaced_not_fatal() -> None:
    """An event stream is UTF-8 by definition; a bad byte becomes U+FFFD, the rest of the answer is kept."""
    bad = b'data: {"choices": [{"index": 0, "delta": {"content": "ok \xff"}}]}\n\n'
    with Hostile({"/v1/chat/completions": lambda *a: chunked([bad, frame(chunk("!")), b"data: [DONE]\n\n"])}) as relay:
        events = stream_all(relay.url)
    assert texts(events) == ["ok \ufffd", "!"]


@pytest.fixture
def stalling_relay() -> Iterator[Hostile]:
    """Two events, then silence for 30 s with the connection open (the test ends long before)."""
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n")
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (frame(chunk("a")), frame(chunk("b"))))
    with Hostile({"/v1/chat/completions": lambda *a: Action(head + body, stall=30)}) as relay:
        yield relay


def test_a_stall_is_caught_when_iterated_from_sync_code(stalling_relay: Hostile) -> None:
    """From sync code every step runs in a new task on the background loop: the watchdog cancels the one
    waiting now, not the one that read the first event (that would leave the stream hanging for 30 s)."""
    client = client_for(stalling_relay.url, stream_idle_timeout=0.3)
    got: list[SSEEvent] = []
    try:
        with pytest.raises(E.StreamError, match=r"no content arrived for 0\.3 s"):
            for event in client.stream_sync(CALL, timeout=20):
                got.append(event)
    finally:
        client.close()
    assert texts(got) == ["a", "b"]


def test_a_stall_is_caught_when_awaited(stalling_relay: Hostile) -> None:
    client = client_for(stalling_relay.url, stream_idle_timeout=0.3)
    got: list[SSEEvent] = []

    async def run() -> None:
        try:
            async for event in client.stream(CALL):
                got.append(event)
        finally:
            await client.aclose()

    with pytest.raises(E.StreamError, match="stalled"):
        run_sync(run(), timeout=20)
    assert texts(got) == ["a", "b"]


# ------------------------------------------------ a stream relabelled text/plain is decided by its body


@pytest.mark.parametrize("start", [b"", b"\xef\xbb\xbf", b"\r\n\n", b": keep-alive\n\n", b"event: message\n"],
                         ids=["data", "bom", "blank-lines", "comment", "event-line"])
@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=utf-8", "application/octet-stream"])
def test_an_event_stream_labelled_text_plain_is_read_as_one(start: bytes, content_type: str) -> None:
    """Some proxies relabel ``text/event-stream``; the body says what it is. Cut into one-byte first chunks so the
    start is decided across chunk boundaries, and nothing read to decide is lost."""
    body = start + BODY
    pieces = [body[i : i + 1] for i in range(12)] + [body[12:]]
    with Hostile({"/v1/chat/completions": lambda *a: chunked(pieces, content_type)}) as relay:
        events = stream_all(relay.url)
    assert texts(events) == ["Hel", "lo"]


def test_a_text_plain_stream_is_read_as_it_arrives_not_held_until_a_mib() -> None:
    """Two events and then silence with the connection open: they are handed on at once and the silence is a
    stall (the body used to be read to 1 MiB or its end first, then refused: nothing was handed on)."""
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n")
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (frame(chunk("a")), frame(chunk("b"))))
    with Hostile({"/v1/chat/completions": lambda *a: Action(head + body, stall=30)}) as relay:
        client = client_for(relay.url, stream_idle_timeout=0.5)
        got: list[SSEEvent] = []
        try:
            with pytest.raises(E.StreamError, match="stalled"):
                for event in client.stream_sync(CALL, timeout=20):
                    got.append(event)
        finally:
            client.close()
    assert texts(got) == ["a", "b"]


@pytest.mark.parametrize("label", ["text/event-stream", "text/plain"])
def test_a_relabelled_stream_that_sends_nothing_stalls_as_a_labelled_one(label: str) -> None:
    """Silence before the first byte is a stall whatever the label (a model thinking long); a text/plain one
    said "Expected an event stream … try again with stream=False", the wrong advice."""
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" % label.encode())
    with Hostile({"/v1/chat/completions": lambda *a: Action(head, stall=30)}) as relay:
        client = client_for(relay.url, stream_idle_timeout=0.3)
        try:
            with pytest.raises(E.StreamError, match="stalled"):
                list(client.stream_sync(CALL, timeout=20))
        finally:
            client.close()


@pytest.mark.parametrize("label", ["text/event-stream", "text/plain"])
def test_a_relabelled_stream_cut_in_its_first_bytes_broke_as_a_labelled_one(label: str) -> None:
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: 500\r\n"
            b"Connection: close\r\n\r\nda" % label.encode())
    with Hostile({"/v1/chat/completions": lambda *a: Action(head)}) as relay, \
            pytest.raises(E.StreamError, match="stopped before it was complete: the connection to"):
        stream_all(relay.url)


@pytest.mark.parametrize("body", [b"upstream said no\n", b"<html><body>Bad gateway</body></html>",
                                  b"\n " * 1_500_000, b"x" * 3_000_000, b"", b"dat"],
                         ids=["text", "html", "blank-3MB", "3MB", "empty", "cut-prefix"])
def test_a_text_plain_body_that_is_no_event_stream_is_refused_in_one_line(body: bytes) -> None:
    said = "answered 200 with a web page" if body.startswith(b"<html") else \
        "Expected an event stream but the server answered with text/plain"
    with Hostile({"/v1/chat/completions": lambda *a: response(200, body, "text/plain")}) as relay, \
            pytest.raises(E.StreamError, match=said) as info:
        stream_all(relay.url)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_an_error_envelope_labelled_text_plain_is_still_the_error() -> None:
    envelope = b'{"error": {"message": "upstream failed: channel down", "type": "upstream_error"}}'
    with Hostile({"/v1/chat/completions": lambda *a: response(200, envelope, "text/plain")}) as relay, \
            pytest.raises(E.APIError, match="upstream failed: channel down"):
        stream_all(relay.url)


def test_a_text_plain_stream_reaches_the_session_whole(tmp_path: Path) -> None:
    with Hostile({"/v1/chat/completions": lambda *a: response(200, b": hi\n\n" + BODY, "text/plain")}) as relay:
        s = Session(api_key=KEY, base_url=relay.url, mode="live", store=tmp_path / "store")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # this relay has no model table: the built-in catalogue is used
            res = s.chat("hi", model="gpt-5.4")
    assert res.text == "Hello" and s.history[-1].status == "ok"
