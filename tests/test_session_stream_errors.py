"""Errors the service sends that the client must turn into one clear line without losing anything: an error
frame in the middle of a stream (reference §7), in each protocol's own form, and the free models' limit of five
requests a minute (§10.1, §10.5). Driven through the Session against the simulator over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _magics_support as support
import httpx
import pytest
from IPython.utils.capture import capture_output

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb.client import RetryPolicy
from tokenhot_nb.sim import Server

KEY = "sk-stream-errors-0123456789abcdef"
ip = support.ip  # fixture
offline = support.offline  # fixture


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def live(tmp_path: Path, sim_server: Server, sleeps: Sleeps) -> Iterator[Session]:
    s = Session(api_key=KEY, base_url=sim_server.url, mode="live", store=tmp_path / "st")
    s.client.retry = RetryPolicy(max_retries=2, sleep=sleeps, rand=lambda: 0.0)  # the backoff, recorded not slept
    yield s
    s.close()


def faults(**values: Any) -> dict[str, str]:
    return {"X-Sim-Faults": json.dumps(values)}


#: (model, endpoint, frames before the error): enough frames that some text has arrived in each protocol.
PROTOCOLS = [("gpt-5.4", "chat", 4), ("gpt-5.4", "responses", 7), ("claude-opus-4-6", "claude", 5),
             ("gemini-2.5-flash", "stream", 2)]


@pytest.mark.parametrize(("model", "endpoint", "after"), PROTOCOLS)
def test_an_error_frame_mid_stream_keeps_the_text_and_says_one_line(
        live: Session, sleeps: Sleeps, model: str, endpoint: str, after: int) -> None:
    prompt = "Tell me about the sea in a few sentences"
    whole = live.chat(prompt, model=model, endpoint=endpoint, thread=False).text
    seen: list[str] = []
    with pytest.raises(E.StreamError) as info:
        live.chat(prompt, model=model, endpoint=endpoint, thread=False, on_delta=lambda d, t: seen.append(t),
                  headers=faults(stream_error_after=after))
    err = info.value
    # the text that arrived before the error is kept, on the error and in the history row
    assert err.partial_text and err.partial_text == seen[-1] and whole.startswith(err.partial_text)
    assert len(err.partial_text) < len(whole)
    row = live.history[-1]
    assert row.status == "error" and row.error is not None and row.error["error"] == "StreamError"
    assert row.response.get("partial") is True and err.partial_text in row.text
    assert live.store.path_of(row.outputs[0]["sha256"]).read_text() == err.partial_text
    # one clear line that says what the server said, and no retry of a stream that had started
    line = str(err)
    assert "\n" not in line and "failed in the middle of its answer" in line
    assert ".partial_text" in line and KEY not in line
    assert f"kept in .partial_text and in history #{row.id}." in line and CHARGE_UNKNOWN in line
    assert sleeps.delays == []


#: What every broken stream's line says of its charge: new-api bills one by its own count of what it had sent.
CHARGE_UNKNOWN = "Whether the relay charged for it is not known"


@pytest.mark.parametrize(("model", "endpoint", "after"), PROTOCOLS)
@pytest.mark.parametrize("fault", ["truncate_stream_after", "stream_error_after"])
def test_a_broken_stream_says_in_one_line_what_happened_its_charge_and_where_what_came_is(
        live: Session, model: str, endpoint: str, after: int, fault: str) -> None:
    """A stream that broke said what happened and where the text was (.partial_text), not that the history row
    keeps it too nor that it may be charged (the relay bills a broken stream by its count of what it had sent);
    with nothing come, it said nothing of its charge either. Each case: one line with the three."""
    for frames in (after, 0):
        with pytest.raises(E.StreamError) as info:
            live.chat("Tell me about the sea in a few sentences", model=model, endpoint=endpoint, thread=False,
                      headers=faults(**{fault: frames}))
        line, row = str(info.value), live.history[-1]
        assert "\n" not in line and line.count(CHARGE_UNKNOWN) == 1, line
        assert ". The" in line or ". No" in line, line  # (what happened is its own sentence)
        if info.value.partial_text:
            assert f"kept in .partial_text and in history #{row.id}." in line
        else:
            assert "No answer text had arrived." in line and ".partial_text" not in line
        assert row.error is not None and row.error["hint"] == info.value.hint


def test_the_magic_shows_the_kept_text_and_one_error_line(ip: Any, offline: Any) -> None:
    header = json.dumps(json.dumps({"stream_error_after": 4}))
    with capture_output(display=True) as cap:
        res = ip.run_cell(f"%%th_chat -m gpt-5.4 -x 'headers={{\"X-Sim-Faults\": {header}}}'\n"
                          "Tell me about the sea")
    assert res.error_in_exec is None and "Traceback" not in cap.stderr + cap.stdout  # said, not raised
    row = offline.history[-1]
    assert row.status == "error" and row.response.get("partial") is True
    kept = offline.store.path_of(row.outputs[0]["sha256"]).read_text()
    shown = [str(o.data.get("text/plain", "")) for o in cap.outputs]
    assert any(kept in text for text in shown), shown  # the stream's view keeps what arrived
    said = [line for text in shown for line in text.splitlines() if "failed in the middle of its answer" in line]
    assert len(said) == 1 and said[0].startswith("✖ The stream broke off"), shown
    assert cap.outputs[-1].metadata["tokenhot"]["error"] == "StreamError"


# ----------------------------------------------------------------------------- the free models' limit


def test_the_sixth_free_call_in_a_minute_is_a_rate_limit_after_the_normal_backoff(
        live: Session, sleeps: Sleeps, sim_server: Server) -> None:
    model = "deepseek-v4.1-flash-free"
    for i in range(5):
        assert live.chat(f"question {i}", model=model, stream=False, thread=False).entry.status == "ok"
    before = len(live.history)
    with pytest.raises(E.RateLimitError) as info:
        live.chat("one more", model=model, stream=False, thread=False)
    err = info.value
    assert err.status == 429 and not isinstance(err, E.QuotaExhaustedError)
    assert sleeps.delays == [0.5, 1.0]  # no Retry-After: the client's own backoff, two retries, then the error
    line = str(err)
    assert "\n" not in line and "请求数限制" in line and KEY not in line
    assert err.request_id and err.retry_after is None
    assert len(live.history) == before + 1 and live.history[-1].status == "error"
    # streamed the same way: the limiter answers before any stream opens
    with pytest.raises(E.RateLimitError):
        live.chat("streamed", model=model, thread=False)
    # another model is not limited by it
    assert live.chat("paid", model="gpt-5.4", stream=False, thread=False).entry.status == "ok"


@pytest.mark.parametrize(("cut", "kept"), [
    ("Lighthouses use lenses", "Lighthouses use lenses"),  # a trailing s: held by a live view, no key
    ("Ask", "Ask"), ("a task-", "a task-"), ("a task-q", "a task-q"),  # too short, or glued to a word
    ("the key sk-AbC1", "the key sk-****"),  # four characters of the key shape: masked
])
def test_a_cut_answer_keeps_its_words_and_masks_only_a_revealing_tail(cut: str, kept: str) -> None:
    """A stream that breaks keeps what arrived; the tail a live view held back is masked only when it would
    reveal part of a key (a lone trailing ``s`` used to become ``…lenses`` → ``…lensesk-****``)."""
    from tokenhot_nb._session.recording import cut_text

    assert cut_text(cut) == kept


def test_a_stream_cut_after_it_reported_usage_keeps_that_usage_and_says_its_cost_is_unknown(live: Session) -> None:
    """Claude's ``message_start`` reports the input tokens before any text: a stream cut after it had them on
    neither the error nor the row (usage ``{}``), though the relay may bill what it read. Now both keep them, and the
    row's cost says it is unknown (a partial count is not priced as if it were the bill)."""
    prompt = "Tell me about the sea in a few sentences"
    with pytest.raises(E.StreamError) as info:
        live.chat(prompt, model="claude-opus-4-6", endpoint="claude", thread=False,
                  headers=faults(truncate_stream_after=5))
    err = info.value
    assert err.partial_text
    assert err.usage is not None and err.usage.input_tokens > 0
    assert err.partial is not None and err.partial.text == err.partial_text
    assert err.partial.usage.input_tokens == err.usage.input_tokens
    row = live.history[-1]
    assert row.status == "error" and row.usage["input_tokens"] == err.usage.input_tokens
    assert row.usage["cost"]["usd"] is None and "broke off" in row.usage["cost"]["detail"]
    assert str(row.cost) == "cost unknown"


def test_a_cut_stream_replays_with_the_usage_and_partial_result_it_had_live(live: Session, tmp_path: Path) -> None:
    """Replay re-raised a broken stream with its words and its text, but without the usage it had reported nor the
    ``err.partial`` result that carried it live: a notebook reading ``err.usage`` (what the relay may bill) ran
    differently when replayed. Both come back as they were."""
    prompt = "Tell me about the sea in a few sentences"
    with pytest.raises(E.StreamError) as first:
        live.chat(prompt, model="claude-opus-4-6", endpoint="claude", thread=False,
                  headers=faults(truncate_stream_after=5))
    was = first.value
    assert was.usage is not None and was.partial is not None
    r = Session(api_key=KEY, base_url=live.settings.base_url, mode="replay", store=tmp_path / "st")
    try:
        with pytest.raises(E.StreamError) as again:
            r.chat(prompt, model="claude-opus-4-6", endpoint="claude", thread=False)
    finally:
        r.close()
    err = again.value
    assert str(err) == str(was) and err.partial_text == was.partial_text
    assert err.usage is not None and err.usage.input_tokens == was.usage.input_tokens
    assert err.partial is not None and err.partial.text == was.partial.text
    assert err.partial.usage.input_tokens == was.partial.usage.input_tokens


def test_an_error_frame_after_reasoning_only_keeps_the_reasoning_and_says_no_text_came(live: Session) -> None:
    """A reasoning model's stream broken while it thought: the reasoning that came (paid output) was dropped, and
    the error pointed at an empty ``.partial_text``. Now the row keeps the reasoning, and the line says where."""
    whole = live.chat("Think about the sea", model="gpt-5.4", endpoint="chat", reasoning_effort="high",
                      thread=False)
    assert whole.reasoning
    with pytest.raises(E.StreamError) as info:
        live.chat("Think about the sea", model="gpt-5.4", endpoint="chat", reasoning_effort="high", thread=False,
                  headers=faults(stream_error_after=2))  # the role chunk, then one piece of reasoning
    err = info.value
    row = live.history[-1]
    assert row.status == "error" and err.partial_text == ""
    kept = [o for o in row.outputs if o.get("role") == "reasoning"]
    assert len(kept) == 1
    thought = live.store.path_of(kept[0]["sha256"]).read_text()
    assert thought and whole.reasoning.startswith(thought) and len(thought) < len(whole.reasoning)
    assert err.partial is not None and err.partial.reasoning == thought and err.partial.text == ""
    line = str(err)
    assert "\n" not in line and ".partial_text" not in line
    assert f"No answer text had arrived; the reasoning that had is kept in .partial.reasoning and in history " \
           f"#{row.id}." in line


class _CutToolCall(httpx.AsyncBaseTransport):
    """A relay whose chat stream breaks with an error frame (§7) while a tool call's arguments arrive."""

    def __init__(self, name: str = "get_weather") -> None:
        self.posts = 0
        self.name = name

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/chat/completions":
            return httpx.Response(404, json={"error": {"message": "no route"}})
        self.posts += 1
        chunks = [{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                                      "function": {"name": self.name,
                                                                                   "arguments": ""}}]}}]},
                  {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
                                                                      "function": {"arguments": '{"city": "Os'}}]}}]},
                  {"error": {"message": "Overloaded", "type": "new_api_error", "code": "upstream_error"}}]
        sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse.encode())


def test_a_tool_call_cut_short_by_a_broken_stream_is_kept_incomplete_and_never_run(tmp_path: Path) -> None:
    """The stream broke while a tool call's arguments arrived: they were dropped (the relay bills them as output).
    They are kept as text, marked incomplete, in the row and on err.partial, never among tool_calls (nothing parses
    or runs cut JSON); the error's one line says so, and a replay gives the same back with no request."""
    relay = _CutToolCall()
    s = Session(api_key=KEY, base_url="http://relay.test", mode="live", store=tmp_path / "st", transport=relay)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    try:
        with pytest.raises(E.StreamError) as info:
            s.chat("weather in Oslo?", model="gpt-5.4", tools=tools, thread=False)
        row = s.history[-1]
    finally:
        s.close()
    err = info.value
    cut = [{"id": "call_1", "name": "get_weather", "arguments": '{"city": "Os', "incomplete": True}]
    assert row.response["cut_tool_calls"] == cut and "tool_calls" not in row.response
    assert err.partial is not None and err.partial.cut_tool_calls == cut and err.partial.tool_calls == []
    line = str(err)
    assert "\n" not in line and "Overloaded. " in line
    assert f"('get_weather') is kept unrun, its arguments cut short, in .partial.cut_tool_calls and history " \
           f"#{row.id}." in line
    r = Session(api_key=KEY, base_url="http://relay.test", mode="replay", store=tmp_path / "st", transport=relay)
    try:
        with pytest.raises(E.StreamError) as again:
            r.chat("weather in Oslo?", model="gpt-5.4", tools=tools, thread=False)
    finally:
        r.close()
    assert str(again.value) == line and again.value.partial is not None
    assert again.value.partial.cut_tool_calls == cut and relay.posts == 1


class _NotAStream(httpx.AsyncBaseTransport):
    """A relay that answers a stream call with a body of another kind."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/chat/completions":
            return httpx.Response(404, json={"error": {"message": "no route"}})
        return httpx.Response(200, headers={"content-type": "application/xml"}, content=b"<answer>hi</answer>")


def test_a_stream_that_never_began_says_nothing_of_a_broken_streams_charge(tmp_path: Path) -> None:
    """Only a stream that began and broke off is billed by the relay's count of what it had sent: an answer that
    was no stream at all said so as well, pointing the user at a charge rule that is not about it."""
    s = Session(api_key=KEY, base_url="http://relay.test", mode="live", store=tmp_path / "st",
                transport=_NotAStream())
    try:
        with pytest.raises(E.StreamError) as info:
            s.chat("hi", model="gpt-5.4", thread=False)
    finally:
        s.close()
    line = str(info.value)
    assert "Expected an event stream" in line and CHARGE_UNKNOWN not in line and "\n" not in line


def test_a_cut_tool_calls_name_reaches_the_error_line_clean(tmp_path: Path) -> None:
    """The relay chose the tool call's name, and the error's hint quoted it as sent: a terminal escape or a line
    break in it reached the one line shown."""
    relay = _CutToolCall("get\x1b[2J_weather\nrm -rf")
    s = Session(api_key=KEY, base_url="http://relay.test", mode="live", store=tmp_path / "st", transport=relay)
    try:
        with pytest.raises(E.StreamError) as info:
            s.chat("weather in Oslo?", model="gpt-5.4", thread=False)
    finally:
        s.close()
    line = str(info.value)
    assert "\x1b" not in line and "\n" not in line and "('get_weather rm -rf') is kept unrun" in line


def test_the_periodic_save_of_a_stream_keeps_a_tool_call_arriving() -> None:
    """A killed kernel runs no ``except``: the running row is all there is of the call. Its periodic save kept the
    text so far only, so a tool call's arguments that had arrived (billed) were lost with the kernel."""
    from tokenhot_nb._session import chat as session_chat
    from tokenhot_nb.families import chat

    class Row:
        def __init__(self) -> None:
            self.saved: list[dict[str, Any]] = []

        def update(self, **fields: Any) -> None:
            self.saved.append(fields)

    acc, row = chat.Accumulator(), Row()
    keep = session_chat._Keeper(row, "weather?", acc, "rid")  # type: ignore[arg-type]
    acc.add(chat.parse_event("chat", {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"ci'}}]}}]}))
    keep.due = 0.0  # (its next save is due)
    keep()
    assert row.saved and row.saved[-1]["response"]["cut_tool_calls"] == [
        {"id": "call_1", "name": "get_weather", "arguments": '{"ci', "incomplete": True}]
