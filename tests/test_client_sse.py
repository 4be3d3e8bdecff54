"""Client.stream: the four wire formats, SSE edge cases, error frames, early ends and stalls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from _client_support import Script, fail, reply

from tokenhot_nb import errors as E
from tokenhot_nb._config import Settings
from tokenhot_nb.client import Client, EventStream, RetryPolicy, SSEEvent
from tokenhot_nb.families._types import HttpCall, StreamFormat

KEY = "sk-ssetest-SECRET0001"
SSE = {"content-type": "text/event-stream; charset=utf-8"}


def frame(data: Any, event: str | None = None) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in text.split("\n")) + "\n"


def make_client(handler: Callable[[httpx.Request], Any], *, idle: float = 5.0, retries: int = 2,
                sleeps: list[float] | None = None) -> Client:
    async def sleep(delay: float) -> None:
        if sleeps is not None:
            sleeps.append(delay)

    settings = Settings(api_key=KEY, base_url="https://api.tokenhot.test", mode="live",
                        stream_idle_timeout=idle, max_retries=retries)
    return Client(settings, transport=httpx.MockTransport(handler),
                  retry=RetryPolicy(max_retries=retries, sleep=sleep, rand=lambda: 0.0))


def sse_handler(body: str | bytes | Callable[[], AsyncIterator[bytes]], status: int = 200,
                headers: dict[str, str] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        content: Any = body() if callable(body) else body
        return httpx.Response(status, headers=headers or SSE, content=content)

    return handler


async def _collect(client: Client, call: HttpCall) -> list[SSEEvent]:
    try:
        return [event async for event in client.stream(call)]
    finally:
        await client.aclose()


def collect(handler: Callable[[httpx.Request], Any], fmt: StreamFormat = "chat", **kw: Any) -> list[SSEEvent]:
    call = HttpCall("POST", "/v1/chat/completions", json={"stream": True}, stream=fmt)
    return asyncio.run(_collect(make_client(handler, **kw), call))


def chunk(text: str) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}


def test_chat_chunks_until_done_ignoring_comments_and_pings() -> None:
    body = (
        ": keep-alive comment\n\n"
        + frame(chunk("Hel"))
        + "event: ping\ndata: {}\n\n"
        + frame({"type": "ping"})
        + frame(chunk("lo"))
        + ":\n\n"
        + frame({"choices": [], "usage": {"total_tokens": 3}})
        + "data: [DONE]\n\n"
        + frame(chunk("after done is ignored"))
    )
    events = collect(sse_handler(body))
    texts = [e.data["choices"][0]["delta"]["content"] for e in events if isinstance(e.data, dict) and e.data["choices"]]
    assert texts == ["Hel", "lo"]
    assert events[-1].data == {"choices": [], "usage": {"total_tokens": 3}}
    assert all(e.event == "message" for e in events)


def test_multiline_data_is_joined_and_non_json_kept_as_text() -> None:
    body = "data: {\"a\":\ndata:  1}\n\n" + "data: line one\ndata: line two\n\n" + "data: [DONE]\n\n"
    events = collect(sse_handler(body))
    assert events[0].data == {"a": 1}
    assert events[1].data == "line one\nline two"


def test_crlf_framing() -> None:
    body = (frame(chunk("x")) + "data: [DONE]\n\n").replace("\n", "\r\n")
    assert len(collect(sse_handler(body))) == 1


def test_responses_named_events_end_at_terminal_event() -> None:
    events_in = [
        ("response.created", {"type": "response.created", "sequence_number": 0}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "Hi"}),
        ("response.completed", {"type": "response.completed", "response": {"status": "completed", "error": None}}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "never"}),
    ]
    body = "".join(frame(d, e) for e, d in events_in)
    events = collect(sse_handler(body), fmt="responses")
    assert [e.event for e in events] == ["response.created", "response.output_text.delta", "response.completed"]
    assert events[-1].type == "response.completed"


@pytest.mark.parametrize("terminal", ["response.failed", "response.incomplete"])
def test_responses_failed_and_incomplete_are_terminal(terminal: str) -> None:
    body = frame({"type": "response.created"}, "response.created") + frame({"type": terminal, "response": {}}, terminal)
    assert [e.event for e in collect(sse_handler(body), fmt="responses")][-1] == terminal


def test_responses_terminal_detected_by_type_without_event_line() -> None:
    body = frame({"type": "response.output_text.delta", "delta": "a"}) + frame({"type": "response.completed"})
    events = collect(sse_handler(body), fmt="responses")
    assert [e.type for e in events] == ["response.output_text.delta", "response.completed"]


def test_claude_message_events_until_message_stop() -> None:
    seq = [
        ("message_start", {"type": "message_start", "message": {"content": []}}),
        ("ping", {"type": "ping"}),
        ("content_block_start", {"type": "content_block_start", "index": 0}),
        ("content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Yo"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    body = "".join(frame(d, e) for e, d in seq)
    events = collect(sse_handler(body), fmt="claude")
    assert [e.event for e in events] == [e for e, _ in seq if e != "ping"]


def test_gemini_stream_ends_with_the_body() -> None:
    parts = [{"candidates": [{"content": {"parts": [{"text": t}]}}]} for t in ("a", "b")]
    parts[-1]["candidates"][0]["finishReason"] = "STOP"
    body = "".join(frame(p) for p in parts)
    events = collect(sse_handler(body), fmt="gemini")
    assert len(events) == 2 and events[-1].data["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize(("fmt", "marker"), [("chat", "DONE"), ("responses", "response.completed"),
                                             ("claude", "message_stop")])
def test_early_end_without_marker_is_a_stream_error(fmt: StreamFormat, marker: str) -> None:
    body = frame(chunk("partial"))
    with pytest.raises(E.StreamError, match="ended early") as info:
        collect(sse_handler(body), fmt=fmt)
    assert marker in str(info.value)


def test_error_frame_mid_stream() -> None:
    body = frame(chunk("a")) + frame({"error": {"message": "upstream broke (request id: q1)", "type": "upstream_error",
                                                "code": "bad_response_status_code"}})
    got: list[SSEEvent] = []

    async def run() -> None:
        client = make_client(sse_handler(body))
        try:
            async for event in client.stream(HttpCall("POST", "/v1/chat/completions", stream="chat")):
                got.append(event)
        finally:
            await client.aclose()

    with pytest.raises(E.StreamError) as info:
        asyncio.run(run())
    assert len(got) == 1
    assert info.value.code == "bad_response_status_code"
    assert "upstream broke" in str(info.value) and "request id" not in info.value.message


def test_error_event_claude_overloaded() -> None:
    body = frame({"type": "message_start"}, "message_start") + frame(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")
    with pytest.raises(E.StreamError, match="Overloaded") as info:
        collect(sse_handler(body), fmt="claude")
    assert info.value.code == "overloaded_error"


def test_error_frame_with_status() -> None:
    body = frame({"error": {"code": 503, "message": "unavailable", "status": "UNAVAILABLE"}})
    with pytest.raises(E.StreamError) as info:
        collect(sse_handler(body), fmt="gemini")
    assert info.value.status == 503 and info.value.code == "UNAVAILABLE"


def test_stall_raises_stream_error() -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield frame(chunk("first")).encode()
        await asyncio.sleep(5)
        yield b"data: [DONE]\n\n"

    got: list[SSEEvent] = []

    async def run() -> None:
        client = make_client(sse_handler(slow), idle=0.2)
        try:
            async for event in client.stream(HttpCall("POST", "/v1/chat/completions", stream="chat")):
                got.append(event)
        finally:
            await client.aclose()

    loop_time = asyncio.new_event_loop()
    try:
        start = loop_time.time()
        with pytest.raises(E.StreamError, match="stream stalled"):
            loop_time.run_until_complete(run())
        assert loop_time.time() - start < 3
    finally:
        loop_time.close()
    assert len(got) == 1


def test_comments_keep_a_slow_stream_alive() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(4):
            await asyncio.sleep(0.1)
            yield b": still thinking\n\n"
        yield (frame(chunk("ok")) + "data: [DONE]\n\n").encode()

    assert len(collect(sse_handler(trickle), idle=0.3)) == 1


def test_non_2xx_stream_raises_typed_error_after_reading_body() -> None:
    handler = sse_handler(json.dumps({"error": {"message": "no such model", "code": "model_not_found"}}),
                          status=404, headers={"content-type": "application/json"})
    with pytest.raises(E.NotFoundError, match="no such model"):
        collect(handler)


def test_stream_setup_retries_then_streams() -> None:
    sleeps: list[float] = []
    busy = reply(503, json={"error": {"message": "busy"}}, headers={"retry-after": "1"})
    handler = Script(busy, busy, reply(200, headers=SSE, content=frame(chunk("ok")) + "data: [DONE]\n\n"))
    assert len(collect(handler, sleeps=sleeps)) == 1
    assert all(r.headers["accept"] == "text/event-stream" for r in handler.requests)
    assert handler.calls == 3 and sleeps == [1.0, 1.0]


def test_stream_setup_connect_error_retried() -> None:
    handler = Script(fail(httpx.ConnectError, "refused"), reply(200, headers=SSE, content="data: [DONE]\n\n"))
    assert collect(handler) == [] and handler.calls == 2


def test_json_reply_instead_of_stream() -> None:
    handler = sse_handler(json.dumps({"choices": [{"message": {"content": "whole"}}]}),
                          headers={"content-type": "application/json"})
    with pytest.raises(E.StreamError, match="Expected an event stream"):
        collect(handler)
    error_in_200 = sse_handler(json.dumps({"error": {"message": "quota gone", "code": "insufficient_user_quota"}}),
                               headers={"content-type": "application/json"})
    with pytest.raises(E.QuotaExhaustedError):
        collect(error_in_200)


def test_broken_connection_mid_stream() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield frame(chunk("a")).encode()
        raise httpx.ReadError("connection reset by peer")

    with pytest.raises(E.StreamError, match="broke") as info:
        collect(sse_handler(broken))
    assert isinstance(info.value.__cause__, httpx.ReadError)


def test_await_connects_first_and_exposes_response_info() -> None:
    body = frame(chunk("a")) + "data: [DONE]\n\n"

    async def run() -> tuple[EventStream, list[SSEEvent]]:
        client = make_client(sse_handler(body, headers={**SSE, "x-oneapi-request-id": "rq-9"}))
        try:
            stream = await client.stream(HttpCall("POST", "/v1/chat/completions", stream="chat"))
            assert stream.status == 200 and stream.request_id == "rq-9"
            return stream, [e async for e in stream]
        finally:
            await client.aclose()

    stream, events = asyncio.run(run())
    assert len(events) == 1 and stream.events_seen == 1


def test_breaking_early_closes_the_response() -> None:
    state = {"closed": False}

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield frame(chunk("x")).encode()
                await asyncio.sleep(0)
        finally:
            state["closed"] = True

    async def run() -> None:
        client = make_client(sse_handler(endless))
        try:
            async with client.stream(HttpCall("POST", "/v1/chat/completions", stream="chat")) as stream:
                async for _ in stream:
                    break
        finally:
            await client.aclose()

    asyncio.run(run())
    assert state["closed"]


def test_stream_sync_facade() -> None:
    body = frame(chunk("a")) + frame(chunk("b")) + "data: [DONE]\n\n"
    client = make_client(sse_handler(body))
    try:
        events = list(client.stream_sync(HttpCall("POST", "/v1/chat/completions", stream="chat")))
    finally:
        client.close()
    assert [e.data["choices"][0]["delta"]["content"] for e in events] == ["a", "b"]  # type: ignore[index]


def test_a_slow_consumer_is_not_a_stall() -> None:
    """The idle clock runs only while waiting for bytes, not while the caller renders an event."""
    body = "".join(frame(chunk(str(i))) for i in range(3)) + "data: [DONE]\n\n"

    async def run() -> list[SSEEvent]:
        client = make_client(sse_handler(body), idle=0.1)
        got: list[SSEEvent] = []
        try:
            async for event in client.stream(HttpCall("POST", "/v1/chat/completions", stream="chat")):
                got.append(event)
                await asyncio.sleep(0.25)
        finally:
            await client.aclose()
        return got

    assert len(asyncio.run(run())) == 3


def test_external_cancellation_is_not_reported_as_a_stall() -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield frame(chunk("first")).encode()
        await asyncio.sleep(5)

    async def run() -> None:
        client = make_client(sse_handler(slow), idle=30)
        try:
            async for _ in client.stream(HttpCall("POST", "/v1/chat/completions", stream="chat")):
                pass
        finally:
            await client.aclose()

    async def main() -> None:
        task = asyncio.ensure_future(run())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())



@pytest.mark.parametrize("fmt", ["claude", "responses"])
def test_done_is_not_the_end_of_a_claude_or_responses_stream(fmt: StreamFormat) -> None:
    """``[DONE]`` ends an OpenAI chat stream only: a Claude stream that stops at ``[DONE]`` before
    ``message_stop`` (or a Responses stream before ``response.completed``) ended early."""
    body = (frame({"type": "message_start", "message": {"usage": {"input_tokens": 3}}}, "message_start")
            + frame({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hal"}},
                    "content_block_delta")
            + frame("[DONE]"))
    with pytest.raises(E.StreamError, match="ended early"):
        collect(sse_handler(body), fmt=fmt)
    assert len(collect(sse_handler(frame(chunk("Hi")) + frame("[DONE]")), fmt="chat")) == 1
