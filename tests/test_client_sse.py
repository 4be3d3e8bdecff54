"""Client.stream: the four wire formats, SSE edge cases, error frames, early ends and stalls."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from _client_support import Script, fail, reply
from _clock import run_virtual, virtual_time

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
                sleeps: list[float] | None = None, deadline: float = 1800.0) -> Client:
    async def sleep(delay: float) -> None:
        if sleeps is not None:
            sleeps.append(delay)

    settings = Settings(api_key=KEY, base_url="https://api.tokenhot.test", mode="live",
                        stream_idle_timeout=idle, max_retries=retries, stream_deadline=deadline)
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


def collect_until_error(client: Client, fmt: StreamFormat = "chat") -> tuple[list[SSEEvent], E.StreamError]:
    """The events delivered before the stream failed, and its StreamError (a stream that ends well fails the test)."""
    got: list[SSEEvent] = []

    async def run() -> E.StreamError:
        try:
            async for event in client.stream(HttpCall("POST", "/v1/chat/completions", stream=fmt)):
                got.append(event)
        except E.StreamError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("the stream ended without an error")

    return got, asyncio.run(run())


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
    got, error = collect_until_error(make_client(sse_handler(body)))
    assert len(got) == 1
    assert error.code == "bad_response_status_code"
    assert "upstream broke" in str(error) and "request id" not in error.message


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


async def _consume(client: Client, fmt: StreamFormat = "chat", consumer_delay: float = 0.0
                   ) -> tuple[list[tuple[float, SSEEvent]], BaseException | None, float]:
    """Events with the virtual time each arrived, the error that ended the stream, and when it ended."""
    got: list[tuple[float, SSEEvent]] = []
    error: BaseException | None = None
    try:
        async for event in client.stream(HttpCall("POST", "/v1/chat/completions", stream=fmt)):
            got.append((virtual_time(), event))
            if consumer_delay:
                await asyncio.sleep(consumer_delay)
    except E.StreamError as exc:
        error = exc
    finally:
        await client.aclose()
    return got, error, virtual_time()


def test_stall_raises_stream_error() -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield frame(chunk("first")).encode()
        await asyncio.sleep(100)
        yield b"data: [DONE]\n\n"

    (got, error, ended), _ = run_virtual(_consume(make_client(sse_handler(slow), idle=0.2)))
    assert len(got) == 1
    assert isinstance(error, E.StreamError)
    assert "stalled" in error.message and "0.2 s" in error.message
    assert error.hint == ("The text received so far is kept in .partial_text. If the model thinks for a long time "
                          "before answering, raise stream_idle_timeout.")
    assert 0.2 - 1e-9 <= ended - got[0][0] <= 0.25 + 1e-9  # caught within a quarter of the window, not at 100 s


def test_stall_watchdog_rearms_after_the_first_idle_window() -> None:
    """A stream that flows for longer than the idle timeout and then stalls is still caught, promptly."""

    async def flows_then_stalls() -> AsyncIterator[bytes]:
        for i in range(10):  # 10 x 0.15 s: runs 1.5 s, well past the first 0.2 s window
            yield frame(chunk(str(i))).encode()
            await asyncio.sleep(0.15)
        await asyncio.sleep(100)
        yield b"data: [DONE]\n\n"

    (got, error, ended), _ = run_virtual(_consume(make_client(sse_handler(flows_then_stalls), idle=0.2)))
    assert len(got) == 10 and isinstance(error, E.StreamError) and "stalled" in error.message
    assert got[-1][0] == pytest.approx(1.35)
    assert 0.2 - 1e-9 <= ended - got[-1][0] <= 0.25 + 1e-9  # one window after the last byte, not at 100 s


def test_stall_after_a_long_idle_gap_that_was_not_a_stall() -> None:
    """Gaps just under the timeout never trip the watchdog, however many there are."""

    async def gaps() -> AsyncIterator[bytes]:
        for i in range(6):
            await asyncio.sleep(0.19)
            yield frame(chunk(str(i))).encode()
        yield b"data: [DONE]\n\n"

    (got, error, ended), _ = run_virtual(_consume(make_client(sse_handler(gaps), idle=0.2)))
    assert error is None and len(got) == 6
    assert ended == pytest.approx(6 * 0.19)


def test_content_arriving_slowly_keeps_a_stream_alive() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for i in range(4):
            await asyncio.sleep(0.1)
            yield frame(chunk(str(i))).encode()
        yield b"data: [DONE]\n\n"

    (got, error, _ended), _ = run_virtual(_consume(make_client(sse_handler(trickle), idle=0.3)))
    assert error is None and len(got) == 4  # 0.4 s in all: longer than the timeout, but content kept coming


def test_keep_alive_comments_do_not_keep_a_dead_stream_open() -> None:
    async def keep_alive() -> AsyncIterator[bytes]:
        yield frame(chunk("a")).encode()
        for _ in range(100):  # bounded: 10 s of comments, far past the idle timeout
            await asyncio.sleep(0.1)
            yield b": keep-alive\n\n"

    (got, error, ended), _ = run_virtual(_consume(make_client(sse_handler(keep_alive), idle=0.4)))
    assert len(got) == 1 and isinstance(error, E.StreamError) and "no content arrived" in error.message
    assert ended - got[0][0] <= 0.4 + 0.1 + 1e-9  # one window after the last content, keep-alives or not


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
    assert "Bearer" not in str(info.value.__cause__.request.headers.get("authorization"))


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
    (got, error, ended), _ = run_virtual(_consume(make_client(sse_handler(body), idle=0.1), consumer_delay=0.25))
    assert error is None and len(got) == 3
    assert ended == pytest.approx(0.75)


def test_external_cancellation_is_not_reported_as_a_stall() -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield frame(chunk("first")).encode()
        started.set()
        await asyncio.sleep(100)

    async def run() -> None:
        client = make_client(sse_handler(slow), idle=30)
        try:
            async for _ in client.stream(HttpCall("POST", "/v1/chat/completions", stream="chat")):
                pass
        finally:
            await client.aclose()

    async def main() -> float:
        task = asyncio.ensure_future(run())
        await started.wait()
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return virtual_time()

    ended, _ = run_virtual(main())
    assert ended == pytest.approx(0.5)


# -- frames that are empty, odd or malformed ---------------------------------------------------------------
def test_empty_data_frames_are_skipped() -> None:
    body = frame(chunk("a")) + "data:\n\n" + "data: \n\n" + "data:\ndata:\n\n" + frame(chunk("b")) + "data: [DONE]\n\n"
    events = collect(sse_handler(body))
    assert [e.data["choices"][0]["delta"]["content"] for e in events] == ["a", "b"]  # type: ignore[index]


def test_a_named_event_with_empty_data_is_still_delivered() -> None:
    body = frame({"type": "message_start"}, "message_start") + "event: content_block_stop\ndata:\n\n" + frame(
        {"type": "message_stop"}, "message_stop")
    events = collect(sse_handler(body), fmt="claude")
    assert [(e.event, e.data) for e in events][1] == ("content_block_stop", "")
    assert events[1].type == "content_block_stop"


def test_done_marker_with_spaces_ends_the_stream() -> None:
    body = frame(chunk("a")) + "data:  [DONE]  \n\n" + frame(chunk("never"))
    assert len(collect(sse_handler(body))) == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  {\"a\": 1}  ", {"a": 1}),
        ("{\"a\": [1, 2]}", {"a": [1, 2]}),
        ("plain words", "plain words"),
        ("true story", "true story"),
        ("42 is the answer", "42 is the answer"),
        ("-", "-"),
        ("  padded words  ", "  padded words  "),
        ("nullable", "nullable"),
    ],
)
def test_object_frames_are_decoded_and_plain_text_kept(raw: str, expected: object) -> None:
    events = collect(sse_handler(f"data: {raw}\n\n" + "data: [DONE]\n\n"))
    assert [e.data for e in events] == [expected]


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("{not json", "it is cut short or not valid JSON"),
        ("{\"truncated\": ", "it is cut short or not valid JSON"),
        ("[1, 2]", "it is a list, not a JSON object"),
        ("[1, 2", "it is cut short or not valid JSON"),
        ("{} {}", "it is cut short or not valid JSON"),
        ("null", "it is null, not a JSON object"),
        ("  null ", "it is null, not a JSON object"),
        ("true", "it is a bool, not a JSON object"),
        ("false", "it is a bool, not a JSON object"),
        ("1.5", "it is a float, not a JSON object"),
        ('"a string"', "it is a str, not a JSON object"),
        ("42", "it is a int, not a JSON object"),
    ],
)
def test_json_frames_that_are_not_objects_are_errors_not_dropped(raw: str, why: str) -> None:
    """Every stream format sends JSON objects: anything else is a piece of the answer that could not be read."""
    body = frame(chunk("kept")) + f"data: {raw}\n\n" + frame(chunk("never read")) + "data: [DONE]\n\n"
    got, error = collect_until_error(make_client(sse_handler(body)))
    assert "could not be read" in str(error)
    assert f"could not be read ({why}): " in str(error) and "after 1 events" in str(error)
    assert error.hint == ("The text received so far is kept in .partial_text; the rest of the answer was not "
                          "read. Try again.")
    assert len(got) == 1  # the frame before is delivered; nothing after the broken one is made up


def test_falsy_error_fields_are_not_error_frames() -> None:
    body = frame({"error": None, "x": 1}) + frame({"error": {}, "x": 2}) + frame({"error": "", "x": 3}) + \
        "data: [DONE]\n\n"
    assert [e.data["x"] for e in collect(sse_handler(body))] == [1, 2, 3]  # type: ignore[index]


def test_an_error_event_with_text_data_is_a_stream_error() -> None:
    body = frame(chunk("a")) + "event: error\ndata: upstream went away\n\n"
    with pytest.raises(E.StreamError, match="upstream went away"):
        collect(sse_handler(body))


def test_event_type_falls_back_to_the_event_name() -> None:
    assert SSEEvent("message", {"type": 3}).type == "message"
    assert SSEEvent("named", "text").type == "named"
    assert SSEEvent("message", {"type": "response.created"}).type == "response.created"


def test_ping_by_type_under_another_event_name_is_dropped() -> None:
    body = frame({"type": "ping"}, "keepalive") + frame({"type": "message_stop"}, "message_stop")
    assert [e.event for e in collect(sse_handler(body), fmt="claude")] == ["message_stop"]


def test_early_end_message_counts_the_events() -> None:
    body = frame(chunk("a")) + frame(chunk("b"))
    with pytest.raises(E.StreamError) as info:
        collect(sse_handler(body))
    assert info.value.message == "The stream ended early, without data: [DONE] (after 2 events)."
    with pytest.raises(E.StreamError) as claude:
        collect(sse_handler(frame({"type": "message_start"}, "message_start")), fmt="claude")
    assert claude.value.message == "The stream ended early, without a message_stop event (after 1 events)."
    with pytest.raises(E.StreamError) as responses:
        collect(sse_handler(""), fmt="responses")
    assert responses.value.message == "The stream ended early, without a response.completed event (after 0 events)."


def test_a_call_without_a_format_is_read_as_chat() -> None:
    call = HttpCall("POST", "/v1/chat/completions", json={"stream": True})
    client = make_client(sse_handler(frame(chunk("a"))))
    with pytest.raises(E.StreamError, match=r"without data: \[DONE\]"):
        asyncio.run(_collect(client, call))


# -- a JSON answer instead of a stream ---------------------------------------------------------------------
JSON = {"content-type": "application/json"}


def test_claude_error_envelope_answered_instead_of_a_stream() -> None:
    body = json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(E.APIError) as info:
        collect(sse_handler(body, headers=JSON), fmt="claude")
    assert not isinstance(info.value, E.StreamError)
    assert (info.value.type, info.value.message, info.value.status) == ("overloaded_error", "Overloaded", 200)


def test_task_envelope_answered_instead_of_a_stream() -> None:
    body = json.dumps({"code": "upstream_failed", "message": "the vendor refused", "data": None})
    with pytest.raises(E.APIError) as info:
        collect(sse_handler(body, headers=JSON))
    assert (info.value.code, info.value.message) == ("upstream_failed", "the vendor refused")


def test_flat_error_event_answered_instead_of_a_stream() -> None:
    body = json.dumps({"type": "error", "code": "server_error", "message": "oops"})
    with pytest.raises(E.APIError, match="oops") as info:
        collect(sse_handler(body, headers=JSON), fmt="responses")
    assert info.value.code == "server_error"


@pytest.mark.parametrize(
    "body",
    [
        {"message": "hello", "code": 0, "choices": [{"message": {"content": "whole"}}]},
        {"message": "hello", "code": 0, "candidates": []},
        {"error": None, "choices": []},
        {"type": "message", "content": []},
    ],
)
def test_a_whole_reply_instead_of_a_stream_is_not_mistaken_for_an_error(body: dict[str, Any]) -> None:
    with pytest.raises(E.StreamError, match="Expected an event stream but the server answered with application/json"):
        collect(sse_handler(json.dumps(body), headers=JSON))


def test_a_whole_json_answer_is_handed_over_read_whole() -> None:
    """A relay that ignores stream=True: the JSON answer (past ERROR_HEAD too) is read whole and handed over on
    :class:`WholeAnswer` for the caller to parse; a page that is not JSON, or JSON that is no object, is not."""
    from tokenhot_nb.client._sse import ERROR_HEAD, WholeAnswer

    answer = {"choices": [{"message": {"content": "x" * (ERROR_HEAD + 10)}}], "usage": {"completion_tokens": 9}}
    with pytest.raises(WholeAnswer) as info:
        collect(sse_handler(json.dumps(answer), headers={**JSON, "x-request-id": "req-7"}))
    assert info.value.response.json() == answer and info.value.request_id == "req-7"
    frames = [{"candidates": [{"content": {"parts": [{"text": "a"}]}}]}, {"candidates": [{"finishReason": "STOP"}]}]
    with pytest.raises(WholeAnswer) as gemini:  # Gemini's streamGenerateContent without alt=sse: an array
        collect(sse_handler(json.dumps(frames), headers=JSON), fmt="gemini")
    assert gemini.value.response.json() == frames
    with pytest.raises(E.APIError, match="slow down"):  # an error among the array's items stays an error
        collect(sse_handler(json.dumps([{"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}]),
                            headers=JSON), fmt="gemini")
    for body, headers in ((b"<html>502</html>", {"content-type": "text/html"}), (b"[1, 2]", JSON), (b"null", JSON)):
        with pytest.raises(E.StreamError) as plain:
            collect(sse_handler(body, headers=headers))
        assert not isinstance(plain.value, WholeAnswer)


def test_a_20_mb_whole_answer_is_parsed_once_and_never_made_into_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sniffing a whole answer for an error envelope used to build an error from all of it (cleaning and
    redacting 20 MB of text, then throwing it away: about 2 s) and parse it twice; now it is parsed once, the
    caller reads that same value, and only an envelope becomes an error."""
    from tokenhot_nb.client import _sse
    from tokenhot_nb.families import _json

    text = "Some <b>code</b>: if a < b and c > d: print(1)\n" * 420_000  # ~20 MB, markup and all
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}], "usage": {"total_tokens": 9}}
    body = json.dumps(answer).encode()
    assert len(body) > 20_000_000
    parses: list[int] = []
    errors: list[int] = []
    real_loads, real_error = _json.loads, _sse.error_from_response
    monkeypatch.setattr(_json, "loads", lambda data: parses.append(len(data)) or real_loads(data))
    monkeypatch.setattr(_sse, "error_from_response", lambda *a, **k: errors.append(1) or real_error(*a, **k))
    with pytest.raises(_sse.WholeAnswer) as info:
        collect(sse_handler(body, headers=JSON))
    read = info.value.response.json() == answer  # (no 20 MB diff on failure)
    assert read and parses == [len(body)] and errors == []


_DOWN = "upstream failed: channel down"


@pytest.mark.parametrize(("envelope", "content_type"), [
    ({"error": {"message": _DOWN, "type": "upstream_error", "code": "bad_response"}}, "application/json"),
    ({"error": {"message": _DOWN, "type": "upstream_error", "code": "bad_response"}}, "text/plain"),
    ({"type": "error", "error": {"type": "overloaded_error", "message": _DOWN}}, "application/json"),
    ({"code": "bad_response", "message": _DOWN, "data": None}, "application/json"),
    ({"error": {"message": _DOWN + " " + "x" * 3_000_000, "type": "upstream_error"}}, "application/json"),
], ids=["openai", "openai-text-plain", "claude", "task", "3MB-message"])
def test_an_error_envelope_instead_of_a_stream_is_still_the_error(envelope: dict[str, Any], content_type: str) -> None:
    with pytest.raises(E.APIError, match=_DOWN) as info:
        collect(sse_handler(json.dumps(envelope), headers={"content-type": content_type}))
    assert not isinstance(info.value, E.StreamError) and info.value.status == 200
    assert "\n" not in str(info.value) and len(info.value.message) < 400


def test_no_content_type_at_all() -> None:
    handler = Script(lambda request: httpx.Response(200, content=b"plain words"))
    with pytest.raises(E.StreamError) as info:
        collect(handler)
    assert info.value.message == "Expected an event stream but the server answered with no content type."
    assert info.value.hint == "The model may not support streaming here; try again with stream=False."


def test_a_json_answer_whose_body_never_ends_is_still_reported() -> None:
    async def hangs() -> AsyncIterator[bytes]:
        yield b'{"error": {"message": "par'
        await asyncio.sleep(1000)

    async def run() -> BaseException:
        client = make_client(sse_handler(hangs, headers=JSON), idle=2.0)
        try:
            await client.stream(HttpCall("POST", "/v1/chat/completions", stream="chat"))
        except E.TokenhotError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("no error")

    error, took = run_virtual(run())
    assert isinstance(error, E.StreamError) and "Expected an event stream" in error.message
    assert took == pytest.approx(2.0)  # gave up reading after the idle timeout


# -- EventStream on its own: state before connecting, redaction ------------------------------------------
def _stream_of(body: Any, secrets: tuple[str, ...] = (), headers: dict[str, str] | None = None,
               fmt: str | None = "chat") -> tuple[EventStream, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(sse_handler(body, headers=headers)))

    async def connect() -> httpx.Response:
        return await http.send(http.build_request("POST", "https://relay.test/v1/x"), stream=True)

    return EventStream(connect, fmt=fmt, idle_timeout=5.0, secrets=secrets), http


def _open_error(body: Any, error: type[E.TokenhotError] = E.APIError, **kw: Any) -> Any:
    """The ``error`` an :class:`EventStream` over ``body`` raises when it is opened (``_stream_of``'s options)."""
    async def run() -> Any:
        stream, http = _stream_of(body, **kw)
        try:
            await stream
        except error as exc:
            return exc
        finally:
            await http.aclose()
        raise AssertionError("no error")

    return asyncio.run(run())


def test_event_stream_state_before_and_after_connecting() -> None:
    async def run() -> None:
        stream, http = _stream_of(frame(chunk("a")) + "data: [DONE]\n\n", headers={**SSE, "X-New-Api-Request-Id": "n1"})
        assert (stream.status, stream.headers, stream.request_id, stream.events_seen) == (None, {}, None, 0)
        async with stream as opened:
            assert opened is stream
            assert stream.status == 200 and stream.request_id == "n1"
            assert stream.headers["x-new-api-request-id"] == "n1"  # keys lower-cased
            assert [e.event async for e in stream] == ["message"]
        assert stream.events_seen == 1
        await http.aclose()

    asyncio.run(run())


def test_non_sk_secrets_are_redacted_from_stream_errors() -> None:
    secret = "plain-relay-token-42"

    async def broken() -> AsyncIterator[bytes]:
        yield frame(chunk("a")).encode()
        raise httpx.ReadError(f"reset while sending {secret}")

    async def run(body: Any) -> E.StreamError:
        stream, http = _stream_of(body, secrets=(secret,))
        try:
            async for _ in stream:
                pass
        except E.StreamError as exc:
            return exc
        finally:
            await http.aclose()
        raise AssertionError("no error")

    transport = asyncio.run(run(broken))
    assert secret not in transport.message and "sk-****" in transport.message
    assert transport.message.startswith(
        "The stream stopped before it was complete: the connection to https://relay.test broke (")
    frame_error = asyncio.run(run(frame({"error": {"message": f"bad token {secret}"}})))
    assert secret not in frame_error.message and "bad token sk-****" in frame_error.message
    broken_frame = asyncio.run(run(f'data: {{"echo": "{secret}", "cut": \n\n'))
    assert "could not be read" in broken_frame.message
    assert secret not in broken_frame.message and '"echo": "sk-****"' in broken_frame.message


def test_non_sk_secrets_are_redacted_from_an_error_answered_instead_of_a_stream() -> None:
    secret = "plain-relay-token-43"
    body = json.dumps({"error": {"message": f"token {secret} is disabled", "echo": secret}})
    err = _open_error(body, secrets=(secret,), headers=JSON)
    assert secret not in err.message and secret not in json.dumps(err.body)


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


# -- error frames by their JSON type; formats without a table; the watchdog's exact timing ------------------
def test_a_flat_error_frame_without_an_error_event_line() -> None:
    body = frame({"type": "response.created"}) + frame({"type": "error", "code": "server_error", "message": "oops"})
    with pytest.raises(E.StreamError, match="oops") as info:
        collect(sse_handler(body), fmt="responses")
    assert info.value.code == "server_error"


def test_an_error_frame_without_a_message_names_its_event() -> None:
    body = "event: upstream\ndata: " + json.dumps({"error": {"code": "x1"}}) + "\n\n"
    with pytest.raises(E.StreamError) as info:
        collect(sse_handler(body))
    assert info.value.message.endswith("an 'upstream' event without a message")


def test_a_flat_error_body_without_a_code_answered_instead_of_a_stream() -> None:
    body = json.dumps({"type": "error", "message": "overloaded"})
    with pytest.raises(E.APIError, match="overloaded") as info:
        collect(sse_handler(body, headers=JSON))
    assert not isinstance(info.value, E.StreamError)


def test_a_format_without_end_markers_streams_to_the_end_of_the_body() -> None:
    async def run() -> list[SSEEvent]:
        stream, http = _stream_of(frame({"a": 1}) + frame({"a": 2}), fmt="something-new")
        try:
            return [e async for e in stream]
        finally:
            await http.aclose()

    assert [e.data for e in asyncio.run(run())] == [{"a": 1}, {"a": 2}]


def test_the_stall_is_caught_exactly_one_window_after_the_last_byte() -> None:
    """Binary-exact times (1/4, 3/16 s): the watchdog's schedule is checked to the tick, not by a margin."""

    async def steady_then_silent() -> AsyncIterator[bytes]:
        for i in range(10):
            yield frame(chunk(str(i))).encode()
            await asyncio.sleep(0.1875)
        await asyncio.sleep(1000)

    (got, error, ended), _ = run_virtual(_consume(make_client(sse_handler(steady_then_silent), idle=0.25)))
    assert len(got) == 10 and isinstance(error, E.StreamError)
    assert got[-1][0] == 9 * 0.1875
    assert ended - got[-1][0] == 0.25


def test_a_stall_after_a_slow_consumer_is_caught_on_the_watchdogs_quarter_steps() -> None:
    async def two_then_silent() -> AsyncIterator[bytes]:
        yield frame(chunk("a")).encode()
        yield frame(chunk("b")).encode()
        await asyncio.sleep(1000)

    (got, error, ended), _ = run_virtual(
        _consume(make_client(sse_handler(two_then_silent), idle=0.25), consumer_delay=0.375))
    assert [t for t, _ in got] == [0.0, 0.375]
    assert isinstance(error, E.StreamError)
    # the wait for the third event starts at 0.75; the watchdog re-armed every 1/16 s while the consumer was busy
    assert ended == 1.0


def test_a_stall_leaves_the_task_free_of_pending_cancellation() -> None:
    async def silent() -> AsyncIterator[bytes]:
        yield frame(chunk("a")).encode()
        await asyncio.sleep(1000)

    async def run() -> int:
        await _consume(make_client(sse_handler(silent), idle=0.25))
        task = asyncio.current_task()
        assert task is not None
        return int(getattr(task, "cancelling", lambda: 0)())  # Task.cancelling() exists from Python 3.11

    cancelling, _ = run_virtual(run())
    assert cancelling == 0


# -- framing at the end of the body; [DONE] inside formats that do not end with it ---------------------------
def test_an_event_ended_by_cr_line_breaks_at_the_very_end_of_the_body_is_delivered() -> None:
    """``\\r`` alone is a line break: the blank line ending the last event is known only when the body ends."""
    parts = [{"candidates": [{"content": {"parts": [{"text": t}]}, **end}]}
             for t, end in (("a", {}), ("b", {"finishReason": "STOP"}))]  # (its last frame says it ended)
    body = "".join(f"data: {json.dumps(p)}\r\r" for p in parts)
    events = collect(sse_handler(body), fmt="gemini")
    assert [e.data["candidates"][0]["content"]["parts"][0]["text"] for e in events] == ["a", "b"]  # type: ignore[index]


def test_an_unfinished_last_event_is_not_delivered() -> None:
    """An event without its blank line at the end of the body was cut short (the SSE rules drop it)."""
    body = frame({"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"}]}) + \
        'data: {"candidates": []}\n'
    assert len(collect(sse_handler(body), fmt="gemini")) == 1


@pytest.mark.parametrize("fmt", ["claude", "responses"])
def test_nothing_after_done_is_read_in_a_claude_or_responses_stream(fmt: StreamFormat) -> None:
    """``[DONE]`` ends the reading even there: what follows is not trusted to complete the answer."""
    frames = [frame({"type": "message_start"}, "message_start"), frame("[DONE]"),
              frame({"type": "message_stop"}, "message_stop"),
              frame({"type": "response.completed", "response": {}}, "response.completed")]

    async def one_chunk_each() -> AsyncIterator[bytes]:
        for f in frames:
            yield f.encode()

    for body in ("".join(frames), one_chunk_each):  # the rest in the same chunk as [DONE], or in later ones
        with pytest.raises(E.StreamError, match=r"ended early.*\(after 1 events\)"):
            collect(sse_handler(body), fmt=fmt)


def test_a_non_string_type_is_not_an_event_type() -> None:
    body = frame({"type": ["message_stop"], "n": 1}) + frame({"type": 7, "n": 2}) + frame(
        {"type": "message_stop", "n": 3}, "message_stop")
    events = collect(sse_handler(body), fmt="claude")
    assert [(e.type, e.data["n"]) for e in events] == [("message", 1), ("message", 2), ("message_stop", 3)]  # type: ignore[index]


# -- the whole-stream deadline, on the virtual clock ----------------------------------------------------------
def flowing(every: float, count: int = 1000) -> Callable[[], AsyncIterator[bytes]]:
    async def body() -> AsyncIterator[bytes]:
        for i in range(count):  # bounded: far longer than any deadline below
            yield frame(chunk(str(i))).encode()
            await asyncio.sleep(every)
        await asyncio.sleep(1000)

    return body


def test_a_stream_that_keeps_flowing_is_stopped_at_its_deadline() -> None:
    (got, error, ended), _ = run_virtual(_consume(make_client(sse_handler(flowing(0.125)), idle=0.5, deadline=1.0)))
    assert isinstance(error, E.StreamError)
    assert error.message == "The stream was still running after 1 s, its time limit."
    assert error.hint == "The text received so far is kept in .partial_text. Raise stream_deadline for very long answers."
    assert ended == 1.0  # to the tick: the deadline, not the next idle window
    assert len(got) == 8 and got[-1][0] == 0.875  # everything that came before it was handed on


def test_the_deadline_wins_when_it_comes_before_the_idle_window_ends() -> None:
    """Silent from 0.75 s: the idle window would end at 1.25 s, the deadline at 1 s is first."""
    (got, error, ended), _ = run_virtual(
        _consume(make_client(sse_handler(flowing(0.25, count=4)), idle=0.5, deadline=1.0)))
    assert isinstance(error, E.StreamError) and "its time limit" in error.message
    assert ended == 1.0 and got[-1][0] == 0.75


def test_an_idle_window_ending_before_the_deadline_is_a_stall() -> None:
    (got, error, ended), _ = run_virtual(
        _consume(make_client(sse_handler(flowing(0.25, count=2)), idle=0.5, deadline=2.0)))
    assert isinstance(error, E.StreamError)
    assert error.message == "The stream stalled: no content arrived for 0.5 s (keep-alive messages do not count)."
    assert ended == 0.75 and got[-1][0] == 0.25


def test_an_idle_window_ending_exactly_at_the_deadline_is_a_stall() -> None:
    """Both limits at 0.875 s: the silence is the cause worth naming (raise the idle timeout, not the deadline)."""
    (got, error, ended), _ = run_virtual(
        _consume(make_client(sse_handler(flowing(0.125, count=4)), idle=0.5, deadline=0.875)))
    assert isinstance(error, E.StreamError) and "stalled" in error.message
    assert got[-1][0] == 0.375 and ended == 0.875


def test_a_deadline_passed_while_the_caller_held_an_event_stops_the_next_wait() -> None:
    """The caller's own time does not stall a stream, but the deadline is the whole stream's time."""
    (got, error, ended), _ = run_virtual(_consume(make_client(sse_handler(flowing(0.0625)), idle=0.25, deadline=0.5),
                                                  consumer_delay=0.75))
    assert isinstance(error, E.StreamError) and "its time limit" in error.message
    assert len(got) == 1
    assert ended == 0.8125  # the watchdog's next quarter step (1/16 s) after the caller came back at 0.75


@pytest.mark.parametrize("fmt", ["chat", "claude"])
def test_the_watchdog_is_disarmed_when_the_stream_ends(fmt: StreamFormat) -> None:
    """After the last event the caller's task goes on with other work: no stall may be reported into it."""
    body = frame(chunk("a")) + "data: [DONE]\n\n" if fmt == "chat" else frame({"type": "message_stop"}, "message_stop")

    async def run() -> float:
        client = make_client(sse_handler(body), idle=0.25)
        try:
            events = [e async for e in client.stream(HttpCall("POST", "/v1/chat/completions", stream=fmt))]
            assert len(events) == 1
            await asyncio.sleep(2.0)  # eight idle windows later, still not cancelled
        finally:
            await client.aclose()
        return virtual_time()

    ended, _ = run_virtual(run())
    assert ended == 2.0


def test_a_stream_silent_from_its_first_byte_stalls() -> None:
    """Headers, then nothing: the watchdog runs from the start, before any event was handed on."""
    async def silent() -> AsyncIterator[bytes]:
        await asyncio.sleep(1000)
        yield b"data: [DONE]\n\n"

    (got, error, ended), _ = run_virtual(_consume(make_client(sse_handler(silent), idle=0.25)))
    assert got == [] and isinstance(error, E.StreamError) and "stalled" in error.message
    assert ended == 0.25


def test_a_stream_without_a_deadline_may_run_as_long_as_content_comes() -> None:
    async def run() -> list[SSEEvent]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(sse_handler(flowing(0.5, count=8))))

        async def connect() -> httpx.Response:
            return await http.send(http.build_request("POST", "https://relay.test/v1/x"), stream=True)

        stream = EventStream(connect, fmt="gemini", idle_timeout=0.75)  # no deadline given
        got: list[SSEEvent] = []
        try:
            async for event in stream:
                got.append(event)
                if len(got) == 8:
                    break
        finally:
            await stream.aclose()
            await http.aclose()
        return got

    got, took = run_virtual(run())
    assert len(got) == 8 and took == 3.5


def test_a_json_answer_whose_body_breaks_is_reported_as_broken_with_what_arrived() -> None:
    """(It was "Expected an event stream … try again with stream=False": a paid call asked again for a network
    fault, and the bytes that had arrived dropped.)"""
    async def breaks() -> AsyncIterator[bytes]:
        yield b'{"error": {"message": "par'
        raise httpx.ReadError("connection reset")

    with pytest.raises(E.APIConnectionError) as info:
        collect(sse_handler(breaks, headers=JSON))
    assert info.value.message.startswith("The server answered with a whole answer (application/json) instead of a "
                                         "stream, and it broke before its end")
    assert info.value.partial_body == b'{"error": {"message": "par'
    assert info.value.__cause__ is None and info.value.__context__ is None  # nothing that held the request


# -- the snippet of a broken frame in its error message --------------------------------------------------------
def _broken_frame_message(raw: str) -> str:
    with pytest.raises(E.StreamError) as info:
        collect(sse_handler("".join(f"data: {line}\n" for line in raw.split("\n")) + "\n"))
    return info.value.message


def test_a_short_broken_frame_is_quoted_whole() -> None:
    assert _broken_frame_message('{"a":\n   1,') == (
        "The stream sent a frame that could not be read (it is cut short or not valid JSON): "
        "'{\"a\": 1,' (after 0 events).")


def test_a_long_broken_frame_is_quoted_in_80_characters() -> None:
    exactly_80 = "{" + "x" * 79
    assert f"'{exactly_80}'" in _broken_frame_message(exactly_80)
    longer = "{" + "y" * 100
    assert f"'{'{' + 'y' * 78}…'" in _broken_frame_message(longer)


def test_a_stall_is_logged_with_the_call_and_the_events_so_far(caplog: pytest.LogCaptureFixture) -> None:
    async def one_then_silent() -> AsyncIterator[bytes]:
        yield frame(chunk("a")).encode()
        await asyncio.sleep(1000)

    with caplog.at_level(logging.DEBUG, logger="tokenhot_nb"):
        run_virtual(_consume(make_client(sse_handler(one_then_silent), idle=0.25)))
    assert "stream stalled after 1 events: POST /v1/chat/completions" in [r.getMessage() for r in caplog.records]


def test_a_stream_over_the_response_cap_is_stopped_with_what_came_kept() -> None:
    async def big() -> AsyncIterator[bytes]:
        for i in range(50):  # 50 frames of ~100 bytes: past a 2 KiB cap after about 20
            yield frame(chunk(f"{i:03d}" + "x" * 20)).encode()
        yield b"data: [DONE]\n\n"

    def capped(handler: Callable[[httpx.Request], Any]) -> Client:
        settings = Settings(api_key=KEY, base_url="https://api.tokenhot.test", mode="live", response_cap=2048)
        return Client(settings, transport=httpx.MockTransport(handler))

    got, error = collect_until_error(capped(sse_handler(big)))
    assert 10 < len(got) < 25
    assert error.message == (f"The stream is larger than the limit of 2.0 KiB; it was stopped (after {len(got)} events).")
    assert error.hint == ("The text received so far is kept in .partial_text. If you expect an answer this large, "
                          "raise the limit: session.settings.response_cap = <bytes>.")


@pytest.mark.parametrize("cut", [1, 2, 3, 5])
def test_a_leading_byte_order_mark_is_stripped_wherever_the_chunks_cut_it(cut: int) -> None:
    """Only the stream's first BOM is dropped (a later U+FEFF is content); the first event survives."""
    data = ("\ufeff" + frame({"choices": [{"delta": {"content": "\ufeffone"}}]}) + frame("[DONE]")).encode()

    async def body() -> AsyncIterator[bytes]:
        yield data[:cut]
        yield data[cut:]

    events = collect(sse_handler(body))
    assert [e.data for e in events] == [{"choices": [{"delta": {"content": "\ufeffone"}}]}]



def test_a_gemini_stream_ends_only_after_a_frame_says_why() -> None:
    """No end marker in Gemini's format: the last frame's ``finishReason`` (or a prompt's ``blockReason``) is
    what tells a whole answer from one whose connection closed early."""
    part = {"candidates": [{"content": {"parts": [{"text": "a"}]}}]}
    got, err = collect_until_error(make_client(sse_handler(frame(part) + frame(part))), fmt="gemini")
    assert len(got) == 2 and "ended early, without a frame with a finishReason (after 2 events)" in err.message
    for last in ({"candidates": [{"finishReason": "SAFETY"}]}, {"promptFeedback": {"blockReason": "OTHER"}}):
        assert len(collect(sse_handler(frame(part) + frame(last)), fmt="gemini")) == 2
    for odd in ({"candidates": 5}, {"candidates": [None, "x"]}, {"promptFeedback": "x"}):  # read around, not raised
        _, err = collect_until_error(make_client(sse_handler(frame(odd))), fmt="gemini")
        assert "ended early" in err.message


# -- the body's head, read to sniff it or to look for an error envelope ------------------------------------
def _pieces(*parts: bytes) -> tuple[AsyncIterator[bytes], list[bytes]]:
    """An async body of ``parts`` and the list of the parts pulled from it so far."""
    pulled: list[bytes] = []

    async def gen() -> AsyncIterator[bytes]:
        for part in parts:
            pulled.append(part)
            yield part

    return gen(), pulled


def test_the_head_of_a_body_is_its_first_bytes_and_nothing_past_them_is_read() -> None:
    from tokenhot_nb.client._sse import _head

    async def head(limit: int, *parts: bytes) -> tuple[bytes, list[bytes]]:
        chunks, pulled = _pieces(*parts)
        return await _head(chunks, limit), pulled  # type: ignore[arg-type]

    assert asyncio.run(head(5, b"ab", b"cd", b"ef", b"gh")) == (b"abcde", [b"ab", b"cd", b"ef"])
    assert asyncio.run(head(4, b"ab", b"cd", b"ef")) == (b"abcd", [b"ab", b"cd"])  # full at exactly the limit
    assert asyncio.run(head(100, b"ab", b"cd")) == (b"abcd", [b"ab", b"cd"])


def test_sniffing_reads_only_as_far_as_the_framing_shows() -> None:
    from tokenhot_nb.client._sse import PEEK_LIMIT, _peek

    async def peek(*parts: bytes) -> tuple[bytes, list[bytes]]:
        chunks, pulled = _pieces(*parts)
        return await _peek(chunks), pulled  # type: ignore[arg-type]

    assert asyncio.run(peek(b"event:", b" x\n")) == (b"event:", [b"event:"])  # six bytes show it
    assert asyncio.run(peek(b"\n\neve", b"nt:", b" x\n")) == (b"\n\nevent:", [b"\n\neve", b"nt:"])
    blank = b" " * PEEK_LIMIT  # a blank start is read up to PEEK_LIMIT, no further
    assert asyncio.run(peek(blank, b"data: x\n")) == (blank, [blank])


# -- a JSON answer instead of a stream: how it is read and reported -------------------------------------------
def test_an_error_envelope_split_over_chunks_is_read_whole() -> None:
    body = json.dumps({"error": {"message": "quota gone", "code": "insufficient_user_quota"}}).encode()

    async def pieces() -> AsyncIterator[bytes]:
        for at in range(0, len(body), 7):
            yield body[at:at + 7]

    with pytest.raises(E.QuotaExhaustedError, match="quota gone"):
        collect(sse_handler(pieces, headers=JSON))


def test_a_json_answer_with_a_plus_json_type_is_read_whole_too() -> None:
    """``application/…+json`` is JSON (RFC 6839): read whole past ERROR_HEAD, handed over, not cut at the head."""
    from tokenhot_nb.client._sse import ERROR_HEAD, WholeAnswer

    answer = {"choices": [{"message": {"content": "x" * (ERROR_HEAD + 10)}}]}
    with pytest.raises(WholeAnswer) as info:
        collect(sse_handler(json.dumps(answer), headers={"content-type": "application/vnd.relay+json"}))
    assert info.value.response.json() == answer


def test_a_whole_answer_names_its_status_request_id_and_what_to_do() -> None:
    from tokenhot_nb.client._sse import WholeAnswer

    body = b'\n  {"choices": [{"message": {"content": "whole"}}]}'  # (a leading blank line is still JSON)
    with pytest.raises(WholeAnswer) as info:
        collect(sse_handler(body, status=201, headers={**JSON, "X-Request-Id": "req-9"}))
    error = info.value
    assert error.message == ("Expected an event stream but the server answered with application/json: "
                             "a whole answer, not streamed.")
    assert error.hint == "The relay ignored stream=True; the answer is in .response (a chat call reads it for you)."
    assert (error.status, error.request_id) == (201, "req-9")
    assert (error.response.status, error.response.request_id) == (201, "req-9")
    assert error.response.headers["x-request-id"] == "req-9"
    assert error.response.json() == {"choices": [{"message": {"content": "whole"}}]}


def test_a_whole_answer_without_a_content_type_says_so() -> None:
    from tokenhot_nb.client._sse import WholeAnswer

    with pytest.raises(WholeAnswer) as info:
        collect(Script(lambda request: httpx.Response(200, content=b'{"choices": []}')))
    assert info.value.message == ("Expected an event stream but the server answered with no content type: "
                                  "a whole answer, not streamed.")


def test_a_relabelled_json_answer_filling_the_error_head_is_not_taken_as_whole() -> None:
    """A body labelled text/plain is read only as far as ERROR_HEAD: one that ends before it is known whole and
    handed over; one that fills it may go on past it, so it is not handed over as the whole answer."""
    from tokenhot_nb.client._sse import ERROR_HEAD, WholeAnswer

    def answer_of(size: int) -> bytes:
        start = b'{"choices": [{"message": {"content": "'
        end = b'"}}]}'
        return start + b"x" * (size - len(start) - len(end)) + end

    plain = {"content-type": "text/plain"}
    with pytest.raises(WholeAnswer):
        collect(sse_handler(answer_of(ERROR_HEAD - 1), headers=plain))
    with pytest.raises(E.StreamError) as info:
        collect(sse_handler(answer_of(ERROR_HEAD), headers=plain))
    assert not isinstance(info.value, WholeAnswer)
    assert info.value.message == "Expected an event stream but the server answered with text/plain."


def test_an_envelope_strict_json_refuses_is_still_the_error() -> None:
    """A raw line break inside a string: strict JSON refuses the body, the lenient read finds the envelope, and
    the error is built from that envelope."""
    body = b'{"error": {"message": "channel\ndown", "code": "bad_response"}}'
    with pytest.raises(E.APIError) as info:
        collect(sse_handler(body, headers=JSON))
    assert not isinstance(info.value, E.StreamError)
    assert info.value.code == "bad_response" and "channel" in info.value.message


def test_non_sk_secrets_are_redacted_from_an_error_item_of_a_gemini_array() -> None:
    secret = "plain-relay-token-44"
    body = json.dumps([{"error": {"code": 403, "message": f"token {secret} is disabled", "status": "DENIED"}}])
    err = _open_error(body, secrets=(secret,), headers=JSON, fmt="gemini")
    assert err.message == "token sk-**** is disabled" and secret not in json.dumps(err.body)


# -- a web page instead of the stream -------------------------------------------------------------------------
def test_a_web_page_labelled_html_is_named_as_a_page() -> None:
    from tokenhot_nb.client._body import PAGE_HINT

    body = b"<!-- portal --><head><title>Hotel  Wi-Fi</title></head><body>Sign in</body>"
    with pytest.raises(E.StreamError) as info:
        collect(sse_handler(body, headers={"content-type": "text/html; charset=utf-8"}))
    assert info.value.message == ("The server answered 200 with a web page ('Hotel Wi-Fi'), not the API's answer: a "
                                  "Wi-Fi sign-in page, a proxy's page, or a base URL that is a website.")
    assert info.value.hint == PAGE_HINT


def test_a_web_page_that_never_ends_is_named_after_its_first_mib() -> None:
    """Only ERROR_HEAD bytes of a page are read: one that goes on for ever is reported at once, not after the idle
    timeout as an unreadable body."""
    from tokenhot_nb.client._body import PAGE_HINT
    from tokenhot_nb.client._sse import ERROR_HEAD

    async def endless() -> AsyncIterator[bytes]:
        yield b"<html><title>Portal</title>" + b" " * ERROR_HEAD
        await asyncio.sleep(1000)

    async def run() -> E.StreamError:
        client = make_client(sse_handler(endless, headers={"content-type": "text/html"}), idle=30.0)
        try:
            await client.stream(HttpCall("POST", "/v1/chat/completions", stream="chat"))
        except E.StreamError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("no error")

    error, took = run_virtual(run())
    assert error.message.startswith("The server answered 200 with a web page ('Portal')") and error.hint == PAGE_HINT
    assert took == 0


# -- a stream relabelled text/plain ----------------------------------------------------------------------------
def test_a_relabelled_stream_is_logged_as_read_as_one(caplog: pytest.LogCaptureFixture) -> None:
    body = frame(chunk("a")) + "data: [DONE]\n\n"
    with caplog.at_level(logging.DEBUG, logger="tokenhot_nb"):
        events = collect(sse_handler(body, headers={"content-type": "text/plain"}))
    assert [e.data for e in events] == [chunk("a")]
    assert "an event stream labelled 'text/plain', read as one: POST /v1/chat/completions" in [
        r.getMessage() for r in caplog.records]


def test_a_relabelled_body_over_the_cap_before_its_framing_shows_is_not_a_stream() -> None:
    async def big() -> AsyncIterator[bytes]:  # (streamed: a body given as bytes is read ahead, past the cap)
        yield b"x" * 4096

    settings = Settings(api_key=KEY, base_url="https://api.tokenhot.test", mode="live", response_cap=2048)
    client = Client(settings, transport=httpx.MockTransport(sse_handler(big, headers={"content-type": "text/plain"})))
    _, error = collect_until_error(client)
    assert error.message == "Expected an event stream but the server answered with text/plain."


def test_a_relabelled_body_broken_in_its_first_bytes_leaves_no_key_behind() -> None:
    """The transport error chained under the StreamError is scrubbed (its request's key masked, its message
    redacted), and the StreamError's message is redacted, non-sk secrets too."""
    def handler(request: httpx.Request) -> httpx.Response:
        async def broken() -> AsyncIterator[bytes]:
            yield b"da"
            raise httpx.ReadError(f"reset after {KEY}", request=request)

        return httpx.Response(200, headers={"content-type": "text/plain"}, content=broken())

    _, error = collect_until_error(make_client(handler, retries=0))
    assert error.message.startswith("The stream stopped before it was complete: ") and KEY not in error.message
    cause = error.__cause__
    assert isinstance(cause, httpx.ReadError)
    assert KEY not in str(cause) and cause.request.headers["authorization"] == "****"

    secret = "plain-relay-token-45"

    async def broken() -> AsyncIterator[bytes]:
        yield b"da"
        raise httpx.ReadError(f"reset after {secret}")

    message = _open_error(broken, E.StreamError, secrets=(secret,), headers={"content-type": "text/plain"}).message
    assert message.startswith("The stream stopped before it was complete: ") and secret not in message
    assert "sk-****" in message


# -- frames: deep nesting, a byte order mark inside the stream ----------------------------------------------
def test_a_long_frame_with_many_brackets_is_read() -> None:
    """Past 2 KiB and 128 brackets a frame is parsed with collection paused (see families._json); it still reads."""
    data = {"pad": "p" * 2100, "deep": json.loads("[" * 200 + "]" * 200)}
    events = collect(sse_handler(frame(data) + "data: [DONE]\n\n"))
    assert [e.data for e in events] == [data]


def test_a_frame_nested_too_deeply_to_read_is_a_stream_error() -> None:
    raw = "[" * 100_000 + "]" * 100_000
    _, error = collect_until_error(make_client(sse_handler(f"data: {raw}\n\n")))
    assert error.message == ("The stream sent a frame that could not be read (it is JSON nested too deeply to "
                             f"read): '{'[' * 79}…' (after 0 events).")


def test_a_byte_order_mark_starting_a_later_chunk_is_content() -> None:
    """Only the stream's very first BOM is dropped: a U+FEFF that happens to start a later chunk is text."""
    async def body() -> AsyncIterator[bytes]:
        yield b'data: {"choices": [{"delta": {"content": "'
        yield '\ufeffone"}}]}\n\ndata: [DONE]\n\n'.encode()

    events = collect(sse_handler(body))
    assert [e.data for e in events] == [{"choices": [{"delta": {"content": "\ufeffone"}}]}]


@pytest.mark.parametrize("raw", ['{"choices": [], "usage": {"completion_tokens": 1' + "0" * 5000 + "}}",
                                 '{"choices": [{"delta": {"content": "tab\there"}}]}'],
                         ids=["endless-integer", "raw-control-character"])
def test_a_frame_strict_json_refuses_over_a_detail_is_read_as_a_whole_answer_is(raw: str) -> None:
    """A usage integer of 5,000 digits (past Python's int conversion limit) or a raw tab inside a string: the
    whole-answer reader takes them (``loads_lenient``), the stream reader called the frame broken and lost the
    paid answer in it (Claude's ``message_delta`` carries the stop reason)."""
    events = collect(sse_handler(frame(chunk("Hel")) + f"data: {raw}\n\n" + "data: [DONE]\n\n"))
    assert len(events) == 2 and isinstance(events[1].data, dict) and "choices" in events[1].data
