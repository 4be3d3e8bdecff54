"""Tools and structured output against hostile or odd answers: what a notebook is given, kept and told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import Recorder, make_session

from tokenhot_nb.errors import SchemaMismatchError

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def sse(events: list[Any]) -> bytes:
    """An event stream: ``(name, data)`` pairs as named events (Responses, Claude), bare dicts as ``data:`` only."""
    out = ""
    for ev in events:
        if isinstance(ev, tuple):
            out += f"event: {ev[0]}\ndata: {json.dumps(ev[1])}\n\n"
        else:
            out += f"data: {json.dumps(ev)}\n\n"
    return out.encode()


class Answers(Recorder):
    """The simulator, except that chat calls get the given answers in turn (the last one again when they run out):
    a dict is a whole JSON answer, a list an event stream (written from the reference's wire formats, §2)."""

    def __init__(self, *answers: Any) -> None:
        super().__init__()
        self.answers = list(answers)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path in ("/v1/chat/completions", "/v1/responses", "/v1/messages") or "enerateContent" in path:
            body = await request.aread()
            self.requests.append({"method": "POST", "path": path, "headers": dict(request.headers), "body": body})
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            if isinstance(answer, list):
                return httpx.Response(200, content=sse(answer), headers={"content-type": "text/event-stream"})
            return httpx.Response(200, json=answer)
        return await super().handle_async_request(request)


def claude_stream(tool: str, partial_json: list[str], stop: str) -> list[Any]:
    """A Claude Messages stream (§2.3) of one tool_use block whose input comes in ``partial_json`` pieces."""
    return [("message_start", {"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "content": [],
                "usage": {"input_tokens": 20, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_1", "name": tool, "input": {}}}),
            *[("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "input_json_delta", "partial_json": p}})
              for p in partial_json],
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop},
                               "usage": {"output_tokens": 64}}),
            ("message_stop", {"type": "message_stop"})]


NAMED = {"type": "object", "properties": {"name": {"type": "string"}}}


@pytest.mark.parametrize("ask", [{"json": True}, {"schema": NAMED}])
def test_a_claude_structured_answer_cut_at_max_tokens_is_not_taken_for_data(tmp_path: Path,
                                                                               ask: dict[str, Any]) -> None:
    """Claude's structured answer is its forced tool's input: cut short at max_tokens, it is no JSON. It was
    read as ``{"_raw": '{"name": "Par'}``, an object json=True and a schema with no required field took for the
    answer: ``.data`` was that, without a word. Now it is the text that came, refused as no JSON, kept."""
    rec = Answers(claude_stream("answer", ['{"name": ', '"Par'], "max_tokens"))
    with make_session(tmp_path / "st", rec) as s:
        with pytest.raises(SchemaMismatchError) as info:
            s.chat("Name a city", model="claude-opus-4-6-cc", thread=False, **ask)
        kept = info.value.result
        assert kept.text == '{"name": "Par' and kept.entry.status == "ok" and kept.tool_calls == []
        assert kept.usage.output_tokens == 64
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r, pytest.raises(SchemaMismatchError):
        r.chat("Name a city", model="claude-opus-4-6-cc", thread=False, **ask)


def test_a_whole_claude_structured_answer_is_still_its_data(tmp_path: Path) -> None:
    rec = Answers(claude_stream("answer", ['{"name": ', '"Paris"}'], "tool_use"))
    with make_session(tmp_path / "st", rec) as s:
        res = s.chat("Name a city", model="claude-opus-4-6-cc", thread=False, schema=NAMED)
    assert res.data == {"name": "Paris"} and json.loads(res.text) == {"name": "Paris"}


def test_an_answer_that_does_not_fit_is_one_row_the_paid_one(tmp_path: Path) -> None:
    """A schema mismatch is raised after its call was recorded (``ok``, paid): it was recorded again, as an
    error row "refused before sending" that cost nothing, which the history, its filters and a replay then showed
    as a second call never sent."""
    plain = {"object": "chat.completion", "model": "gpt-5.2", "usage": {"prompt_tokens": 5, "completion_tokens": 4},
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}]}
    with make_session(tmp_path / "st", Answers(plain)) as s:
        for ask in ({"json": True}, {"schema": NAMED}):
            with pytest.raises(SchemaMismatchError) as info:
                s.chat("Name a city", model="gpt-5.2", thread=False, stream=False, **ask)
            assert info.value.result.entry.status == "ok"
        rows = list(s.history)
    assert [(r.status, r.endpoint) for r in rows] == [("ok", "chat.completions")] * 2
