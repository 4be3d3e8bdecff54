"""Chat family: request bodies per endpoint, reply parsing and stream events for all four formats."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import catalog
from tokenhot_nb.errors import APIError, InputError, StreamError, UnsupportedOptionError
from tokenhot_nb.families import chat
from tokenhot_nb.families._types import Usage
from tokenhot_nb.families.chat import Output

FIX = Path(__file__).parent / "fixtures" / "reference"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


USER = [{"role": "user", "content": "Hello"}]


# --- builders -----------------------------------------------------------------------------------------


def test_chat_completions_body() -> None:
    call = chat.build(catalog.model("grok-4.1"), USER, system="Be brief.", temperature=0.3, max_tokens=100)
    assert (call.method, call.path, call.stream) == ("POST", "/v1/chat/completions", None)
    assert call.json == {
        "model": "grok-4.1",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        "temperature": 0.3,
        "max_tokens": 100,
    }


def test_chat_completions_stream_asks_for_usage_and_gpt5_uses_max_completion_tokens() -> None:
    call = chat.build(catalog.model("gpt-5.2"), USER, stream=True, max_tokens=50)
    assert call.stream == "chat"
    assert call.json is not None
    assert call.json["stream"] is True and call.json["stream_options"] == {"include_usage": True}
    assert call.json["max_completion_tokens"] == 50 and "max_tokens" not in call.json


def test_image_parts_become_openai_image_url_data_urls() -> None:
    msgs = [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                         {"type": "image", "data": PNG, "mime": "image/png"},
                                         {"type": "image", "url": "https://x/y.jpg"}]}]
    body = chat.build(catalog.model("gpt-5.2"), msgs).json
    assert body is not None
    parts = body["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "What is this?"}
    assert parts[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert parts[2] == {"type": "image_url", "image_url": {"url": "https://x/y.jpg"}}


def test_responses_body() -> None:
    call = chat.build(catalog.model("GPT 5.2(Responses)"), [{"role": "system", "content": "Sys"}, *USER],
                      endpoint="responses", max_tokens=64, extra={"reasoning_effort": "low"})
    assert call.path == "/v1/responses"
    assert call.json == {"model": "gpt-5.2", "input": "Hello", "instructions": "Sys", "max_output_tokens": 64,
                         "reasoning": {"effort": "low"}}
    multi = chat.build(catalog.model("gpt-5"), [*USER, {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]},
                                               {"role": "user", "content": [{"type": "image", "url": "https://i"}]}],
                       endpoint="responses", stream=True)
    assert multi.stream == "responses"
    assert multi.json is not None
    assert multi.json["input"][1] == {"role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}
    assert multi.json["input"][2]["content"] == [{"type": "input_image", "image_url": "https://i"}]
    assert "stream_options" not in multi.json


def test_claude_messages_body() -> None:
    msgs = [{"role": "system", "content": "Sys"},
            {"role": "user", "content": [{"type": "image", "data": PNG, "mime": "image/png"}, {"type": "text", "text": "Hi"}]}]
    call = chat.build(catalog.model("claude-opus-4-6-cc"), msgs, stream=True)
    assert call.path == "/v1/messages" and call.stream == "claude"
    assert call.headers["anthropic-version"] == "2023-06-01"
    assert call.json == {
        "model": "claude-opus-4-6-cc",
        "max_tokens": 8192,
        "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": base64.b64encode(PNG).decode()}},
            {"type": "text", "text": "Hi"}]}],
        "system": "Sys",
        "stream": True,
    }
    # a data URL turns into a base64 source as well
    url = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff").decode()
    body = chat.build(catalog.model("claude-opus-4-6"), [{"role": "user", "content": [{"type": "image", "url": url}]}],
                      endpoint="messages", max_tokens=10).json
    assert body is not None
    assert body["max_tokens"] == 10
    assert body["messages"][0]["content"][0]["source"]["media_type"] == "image/jpeg"


def test_gemini_native_bodies_match_the_documented_request() -> None:
    doc = load("gemini_stream_request.json")
    msgs = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! How can I help?"},
            {"role": "user", "content": "Tell me a joke."}]
    m = catalog.model("gemini-3.1-pro-preview(流式)")
    call = chat.build(m, msgs, system="You are a helpful assistant.", endpoint="gemini.stream")
    assert call.path == "/v1beta/models/gemini-3.1-pro-preview:streamGenerateContent"
    assert call.params == {"alt": "sse"} and call.stream == "gemini"
    assert call.json == doc
    plain = chat.build(m, msgs, temperature=0.2, max_tokens=99)
    assert plain.path.endswith(":generateContent") and plain.params == {} and plain.stream is None
    assert plain.json is not None
    assert plain.json["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 99}
    # stream=True on the default endpoint switches to the stream path too
    assert chat.build(m, USER, stream=True).path.endswith(":streamGenerateContent")
    img = chat.build(m, [{"role": "user", "content": [{"type": "image", "data": PNG, "mime": "image/png"}]}]).json
    assert img is not None
    assert img["contents"][0]["parts"][0] == {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}


def test_extra_merges_deeply_and_raw_replaces() -> None:
    m = catalog.model("gemini-2.5-flash")
    body = chat.build(m, USER, temperature=0.5, extra={"generationConfig": {"topK": 3}}).json
    assert body is not None
    assert body["generationConfig"] == {"temperature": 0.5, "topK": 3}
    raw = {"contents": [{"parts": [{"text": "raw"}]}]}
    assert chat.build(m, USER, raw=raw).json == raw


@pytest.mark.parametrize(("endpoint", "words"), [("responses/compact", "compaction route"),
                                                  ("/v1/responses/compact", "compaction route"),
                                                  ("realtime", "WebSocket"), ("/v1/realtime", "WebSocket")])
def test_a_relay_route_the_toolkit_does_not_call_is_named_as_such(endpoint: str, words: str) -> None:
    """§10.7 routes: the user hears that tokenhot_nb does not call them, not that the model is not served there."""
    with pytest.raises(UnsupportedOptionError, match="does not call") as info:
        chat.build(catalog.model("gpt-5.4"), USER, endpoint=endpoint)
    assert words in info.value.message and "not served" not in info.value.message
    assert "responses" in (info.value.hint or "")


def test_endpoint_validation_and_aliases() -> None:
    with pytest.raises(UnsupportedOptionError, match=r"grok-4\.1 is not served on the 'responses' endpoint.*chat\.completions"):
        chat.build(catalog.model("grok-4.1"), USER, endpoint="responses")
    assert chat.build(catalog.model("claude-opus-4-6"), USER, endpoint="claude").path == "/v1/messages"
    with pytest.raises(InputError):
        chat.build(catalog.model("gpt-5"), [])
    with pytest.raises(InputError, match="Unknown message part"):
        chat.build(catalog.model("gpt-5"), [{"role": "user", "content": [{"type": "audio"}]}])


# --- parsers ---------------------------------------------------------------------------------------------


def test_parse_documented_chat_completion() -> None:
    reply = chat.parse(catalog.model("gpt-5.2"), "chat.completions", load("chat_completion.json"))
    assert reply.text == "Hello! How can I help you today?"
    assert reply.finish_reason == "stop" and reply.model == "gpt-5.4-mini" and reply.response_id == "chatcmpl-abc"
    u = reply.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens, u.reasoning_tokens) == (24, 140, 164, 64)


def test_reasoning_kept_apart_in_chat_completions() -> None:
    body = {"choices": [{"message": {"content": "<think>step 1</think>\nAnswer", "reasoning_content": "rc"},
                         "finish_reason": "stop"}]}
    reply = chat.parse(None, "chat.completions", body)
    assert reply.text == "Answer"
    assert reply.reasoning == "rc\nstep 1"
    assert chat.split_think("no tags") == ("no tags", "")
    assert chat.split_think("<think>unterminated") == ("", "unterminated")


def test_parse_responses_body() -> None:
    reply = chat.parse(catalog.model("gpt-5.2"), "responses", load("responses_body.json"))
    assert reply.text == "Hi there!"
    assert reply.reasoning == "Considered the greeting."
    assert reply.finish_reason == "completed"
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.reasoning_tokens) == (12, 30, 20)
    incomplete = chat.parse(None, "responses", {"object": "response", "status": "incomplete",
                                                "incomplete_details": {"reason": "max_output_tokens"}, "output": []})
    assert incomplete.finish_reason == "max_output_tokens" and incomplete.text == ""


def test_parse_claude_message_with_thinking() -> None:
    reply = chat.parse(catalog.model("claude-opus-4-6"), "messages", load("claude_message.json"))
    assert reply.text == "Bonjour" and reply.reasoning == "Let me think."
    assert reply.finish_reason == "end_turn"
    assert reply.usage.input_tokens == 25 and reply.usage.output_tokens == 10 and reply.usage.total_tokens == 35


def test_parse_gemini_reply_and_json_array_stream() -> None:
    frames = load("gemini_sse_frames.json")
    one = chat.parse(catalog.model("gemini-2.5-pro"), "gemini.generate", frames[-1])
    assert one.text == "chicken cross the road?" and one.finish_reason == "STOP"
    assert one.usage.input_tokens == 12 and one.usage.output_tokens == 16 and one.usage.reasoning_tokens == 6
    assert one.usage.total_tokens == 28
    joined = chat.parse(None, "gemini.stream", frames)
    assert joined.text == "Why did the chicken cross the road?"
    assert joined.reasoning == "Thinking about jokes"
    assert joined.usage.total_tokens == 28


def test_body_shape_wins_over_endpoint() -> None:
    """A relay answering /v1/messages in OpenAI format still parses."""
    reply = chat.parse(catalog.model("claude-opus-4-6"), "messages", load("chat_completion.json"))
    assert reply.text.startswith("Hello!")


# --- stream events ----------------------------------------------------------------------------------------


def _fold(fmt: str, events: list[Any]) -> chat.Accumulator:
    acc = chat.Accumulator()
    for e in events:
        acc.add(chat.parse_event(fmt, e["data"] if isinstance(e, dict) and "data" in e and "event" in e else e))
    return acc


def test_chat_chunk_stream() -> None:
    chunks = load("chat_chunks.json")
    deltas = [chat.parse_event("chat", c) for c in chunks]
    assert [d.text for d in deltas[:4]] == ["", "", "Hello", ", world"]
    assert deltas[1].reasoning == "Think first."
    assert deltas[4].finish_reason == "stop"
    assert deltas[5].usage is not None and deltas[5].usage.total_tokens == 15
    assert deltas[-1].done and not any(d.done for d in deltas[:-1])
    acc = _fold("chat", chunks)
    reply = acc.reply("gpt-5.2")
    assert (reply.text, reply.reasoning, reply.finish_reason) == ("Hello, world", "Think first.", "stop")
    assert reply.usage.input_tokens == 10


def test_chat_stream_with_null_choices_and_think_tags() -> None:
    d = chat.parse_event("chat", {"choices": None, "usage": {"prompt_tokens": 1, "completion_tokens": 2}})
    assert d.usage is not None and d.usage.total_tokens == 3 and d.text == ""
    acc = _fold("chat", [{"choices": [{"delta": {"content": "<think>hm"}}]},
                         {"choices": [{"delta": {"content": "m</think>Yes"}}]}])
    assert acc.reply().text == "Yes" and acc.reply().reasoning == "hmm"


def test_responses_event_stream() -> None:
    events = load("responses_events.json")
    acc = _fold("responses", events)
    assert acc.text == "Hi there" and acc.reasoning == "Plan."
    assert acc.done and acc.finish_reason == "completed"
    assert acc.usage is not None and acc.usage.total_tokens == 11
    done = [chat.parse_event("responses", e["data"]).done for e in events]
    assert done == [False] * (len(events) - 1) + [True]
    inc = chat.parse_event("responses", {"type": "response.incomplete",
                                         "response": {"incomplete_details": {"reason": "max_output_tokens"}}})
    assert inc.done and inc.finish_reason == "max_output_tokens"


def test_responses_failure_raises_stream_error() -> None:
    with pytest.raises(StreamError, match="rate limited"):
        chat.parse_event("responses", {"type": "response.failed",
                                       "response": {"error": {"code": "rate_limit", "message": "rate limited"}}})
    with pytest.raises(StreamError) as exc:
        chat.parse_event("responses", {"type": "error", "code": "server_error", "message": "boom"})
    assert exc.value.code == "server_error"


def test_claude_event_stream_merges_usage() -> None:
    events = load("claude_events.json")
    acc = _fold("claude", events)
    reply = acc.reply()
    assert reply.text == "Hello!" and reply.reasoning == "Hmm." and reply.finish_reason == "end_turn"
    assert acc.done
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (25, 15, 40)
    with pytest.raises(StreamError, match="Overloaded"):
        chat.parse_event("claude", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})


def test_gemini_sse_frames() -> None:
    frames = load("gemini_sse_frames.json")
    deltas = [chat.parse_event("gemini", f) for f in frames]
    assert deltas[0].reasoning == "Thinking about jokes" and deltas[0].text == ""
    assert deltas[2].finish_reason == "STOP"
    acc = _fold("gemini", frames)
    assert acc.text == "Why did the chicken cross the road?"
    assert acc.usage is not None and acc.usage.total_tokens == 28 and acc.usage.input_tokens == 12


def test_error_frame_in_any_format_raises() -> None:
    with pytest.raises(StreamError, match="quota"):
        chat.parse_event("chat", {"error": {"message": "quota exceeded", "code": "insufficient_user_quota"}})
    with pytest.raises(ValueError, match="Unknown stream format"):
        chat.parse_event("nope", {"x": 1})


def test_merge_usage_is_fieldwise_max() -> None:
    a = Usage(input_tokens=25, output_tokens=1, total_tokens=26)
    b = Usage(output_tokens=15)
    merged = chat.merge_usage(a, b)
    assert merged is not None and (merged.input_tokens, merged.output_tokens, merged.total_tokens) == (25, 15, 40)
    assert chat.merge_usage(None, b) is b and chat.merge_usage(a, None) is a


def test_stream_format_names() -> None:
    assert [chat.stream_format(e) for e in ("chat.completions", "responses", "messages", "gemini.stream")] == [
        "chat", "responses", "claude", "gemini"]


def test_gemini_schema_inlines_refs_and_keeps_the_openapi_subset() -> None:
    from tokenhot_nb.families.chat import gemini_schema

    schema = {"$defs": {"Tag": {"type": "object", "properties": {"v": {"const": "x"}}, "additionalProperties": False}},
              "type": "object", "additionalProperties": False, "title": "T",
              "properties": {"tag": {"$ref": "#/$defs/Tag"}, "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                             "n": {"type": ["integer", "null"], "minimum": 1}}}
    out = gemini_schema(schema)
    assert "$defs" not in out and "additionalProperties" not in out and out["title"] == "T"
    assert out["properties"]["tag"] == {"type": "object", "properties": {"v": {"enum": ["x"]}}}
    assert out["properties"]["note"] == {"type": "string", "nullable": True}
    assert out["properties"]["n"] == {"type": "integer", "nullable": True, "minimum": 1}


def test_tool_turns_are_converted_per_endpoint() -> None:
    info = catalog.model("claude-opus-4-6")
    turns = [{"role": "user", "content": "Weather?"},
             {"role": "assistant", "content": "Let me look.", "tool_calls": [
                 {"id": "c1", "name": "get_weather", "arguments": {"city": "Oslo"}}]},
             {"role": "user", "content": "", "tool_results": [{"id": "c1", "name": "get_weather",
                                                                "content": {"t": -2}}]}]
    claude = chat.build(info, turns, endpoint="messages").json
    assert claude is not None
    assert claude["messages"][1]["content"] == [{"type": "text", "text": "Let me look."},
                                                {"type": "tool_use", "id": "c1", "name": "get_weather",
                                                 "input": {"city": "Oslo"}}]
    assert claude["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "c1", "content": '{"t": -2}'}]}
    oa = chat.build(info, turns, endpoint="chat").json
    assert oa is not None and oa["messages"][1]["tool_calls"][0]["function"] == {"name": "get_weather",
                                                                                 "arguments": '{"city": "Oslo"}'}
    assert oa["messages"][2] == {"role": "tool", "tool_call_id": "c1", "content": '{"t": -2}'}
    gem = chat.build(catalog.model("gemini-2.5-pro"), turns).json
    assert gem is not None and gem["contents"][1]["parts"][1] == {  # (unsigned: Google's placeholder)
        "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": chat.GEMINI_NO_SIGNATURE}
    assert gem["contents"][2]["parts"] == [{"functionResponse": {"name": "get_weather",
                                                                 "response": {"result": {"t": -2}}}}]


def test_streamed_tool_calls_accumulate_per_format() -> None:
    acc = chat.Accumulator()
    for d in [{"choices": [{"index": 0, "delta": {"tool_calls": [
                  {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}]}}]},
              {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}}]},
              {"choices": [{"index": 1, "delta": {"content": "other choice"}}]},
              {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]},
                            "finish_reason": "tool_calls"}]}]:
        acc.add(chat.parse_event("chat", d))
    reply = acc.reply()
    assert [c.as_dict() for c in reply.tool_calls] == [{"id": "c1", "name": "f", "arguments": {"a": 1}}]
    assert reply.text == ""  # choice 1's text is not the answer
    acc = chat.Accumulator()
    for d in [{"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "g",
                                                                            "input": {}}},
              {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"x":'}},
              {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "[1]}"}}]:
        acc.add(chat.parse_event("claude", d))
    assert acc.reply().tool_calls[0].as_dict() == {"id": "t", "name": "g", "arguments": {"x": [1]}}


# --- a broken relay's fields: coerced or skipped, the answer kept, never a Python error ----------------------

REPLIES: list[tuple[str, dict[str, Any]]] = [
    ("chat.completions", {"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "hi", "reasoning_content": "r",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "completion_tokens_details": {"reasoning_tokens": 1}}}),
    ("responses", {"object": "response", "id": "r", "status": "incomplete", "incomplete_details": {"reason": "max"},
                   "output": [{"type": "reasoning", "summary": [{"text": "s"}], "content": [{"text": "t"}]},
                              {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                              {"type": "message", "content": [{"type": "output_text", "text": "hi"}]}],
                   "usage": {"input_tokens": 1}}),
    ("messages", {"type": "message", "id": "m", "stop_reason": "end_turn", "usage": {"input_tokens": 1},
                  "content": [{"type": "thinking", "thinking": "t"}, {"type": "text", "text": "hi"},
                              {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}]}),
    ("gemini.generate", {"modelVersion": "g", "usageMetadata": {"promptTokenCount": 1}, "candidates": [
        {"finishReason": "STOP", "content": {"parts": [{"text": "hi"}, {"text": "th", "thought": True},
                                                       {"functionCall": {"name": "f", "args": {"a": 1}}}]}}]}),
]
EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("chat", {"usage": {"total_tokens": 1}, "choices": [{"index": 0, "finish_reason": None, "delta": {
        "content": "x", "reasoning_content": "r",
        "tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{"}}]}}]}),
    ("responses", {"type": "response.output_item.added", "output_index": 0,
                   "item": {"type": "function_call", "call_id": "c", "name": "f", "arguments": ""}}),
    ("responses", {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{}"}),
    ("responses", {"type": "response.output_text.delta", "delta": "x"}),
    ("responses", {"type": "response.incomplete",
                   "response": {"incomplete_details": {"reason": "m"}, "usage": {"input_tokens": 1}}}),
    ("claude", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{"}}),
    ("claude", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "t"}}),
    ("claude", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}}),
    ("claude", {"type": "content_block_start", "index": 1,
                "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}}),
    ("claude", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
    ("claude", {"type": "message_start", "message": {"usage": {"input_tokens": 3}}}),
    ("gemini", {"usageMetadata": {"promptTokenCount": 1}, "candidates": [{"finishReason": "STOP", "content": {
        "parts": [{"text": "hi"}, {"functionCall": {"name": "f", "args": {"a": 1}}}]}}]}),
]
#: What a broken relay puts where something else belongs.
JUNK: list[Any] = [None, True, 0, 5, -1.5, float("inf"), "", "a", [], [1, None], {}, {"a": {"b": 1}}]


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        out += _paths(v, (*at, k))
    return out


def _mangled(template: dict[str, Any]) -> list[dict[str, Any]]:
    """``template`` with each of its fields (at any depth) replaced by each junk value in turn."""
    import copy

    out = []
    for path in _paths(template)[1:]:
        in_usage = any(str(step).startswith("usage") for step in path)
        for junk in JUNK:
            if in_usage and junk == float("inf"):  # (token counts too big for an int: usage_from's own concern)
                continue
            body = copy.deepcopy(template)
            where: Any = body
            for step in path[:-1]:
                where = where[step]
            where[path[-1]] = junk
            out.append(body)
    return out


def _well_formed(reply: Any) -> None:
    assert isinstance(reply.text, str) and isinstance(reply.reasoning, str)
    for label in (reply.finish_reason, reply.model, reply.response_id):
        assert label is None or isinstance(label, str)
    for call in reply.tool_calls:
        assert isinstance(call.id, str) and isinstance(call.name, str) and isinstance(call.arguments, dict)
    json.dumps([c.as_dict() for c in reply.tool_calls], allow_nan=True)


@pytest.mark.parametrize(("endpoint", "template"), REPLIES, ids=[e for e, _ in REPLIES])
def test_every_field_of_a_reply_may_hold_junk(endpoint: str, template: dict[str, Any]) -> None:
    bodies = _mangled(template)
    assert len(bodies) > 100
    for body in bodies:
        _well_formed(chat.parse(None, endpoint, body))
    for body in JUNK:  # the whole body junk, against the endpoint it was meant for
        if isinstance(body, dict):  # (an object with no reply in it is said, not an empty success)
            with pytest.raises(APIError, match="is not a chat reply"):
                chat.parse(None, endpoint, body)
        else:
            _well_formed(chat.parse(None, endpoint, body))


@pytest.mark.parametrize(("fmt", "template"), EVENTS, ids=[f"{f}-{e.get('type', '')}" for f, e in EVENTS])
def test_every_field_of_a_stream_event_may_hold_junk(fmt: str, template: dict[str, Any]) -> None:
    for event in _mangled(template):
        acc = chat.Accumulator()
        acc.add(chat.parse_event(fmt, template))
        try:
            acc.add(chat.parse_event(fmt, event))
        except StreamError:  # ("type": "error" is a junk value too: the stream said it failed)
            assert event.get("type") == "error" or event.get("error")
        reply = acc.reply("m")
        _well_formed(reply)


def test_a_number_for_content_is_the_answer() -> None:
    assert chat.parse(None, "chat", {"choices": [{"message": {"content": 123}}]}).text == "123"
    assert chat.parse(None, "chat", {"choices": [{"message": {"content": {"type": "text", "text": "one part"}}}]}
                      ).text == "one part"
    acc = chat.Accumulator()
    for d in [{"choices": [{"delta": {"content": "PAID "}}]}, {"choices": [{"delta": {"content": 5}}]},
              {"choices": [{"delta": {"content": True}}]}, {"choices": [{"delta": None}]}]:
        acc.add(chat.parse_event("chat", d))
    assert acc.reply().text == "PAID 5"


def test_an_odd_stream_index_still_groups_its_fragments() -> None:
    acc = chat.Accumulator()
    for d in [{"choices": [{"delta": {"tool_calls": [{"index": "a", "id": "c1", "function": {"name": "f"}}]}}]},
              {"choices": [{"delta": {"tool_calls": [{"index": "a", "function": {"arguments": '{"x": '}}]}}]},
              {"choices": [{"delta": {"tool_calls": [{"index": "1", "id": "c2", "function": {"name": "g"}}]}}]},
              {"choices": [{"delta": {"tool_calls": [{"index": 1.0, "function": {"arguments": "{}"}}]}}]},
              {"choices": [{"delta": {"tool_calls": [{"index": "a", "function": {"arguments": "1}"}}]}}]}]:
        acc.add(chat.parse_event("chat", d))
    calls = [c.as_dict() for c in acc.reply().tool_calls]
    assert calls == [{"id": "c1", "name": "f", "arguments": {"x": 1}}, {"id": "c2", "name": "g", "arguments": {}}]
    claude = chat.parse_event("claude", {"type": "content_block_delta", "index": [0],
                                         "delta": {"type": "input_json_delta", "partial_json": "{}"}})
    assert claude.tool_calls[0].index == 0


def test_labels_that_are_numbers_become_text() -> None:
    reply = chat.parse(None, "chat", {"id": 7, "model": 4, "choices": [{"message": {"content": "ok"},
                                                                         "finish_reason": 5}]})
    assert (reply.text, reply.finish_reason, reply.model, reply.response_id) == ("ok", "5", "4", "7")
    event = chat.parse_event("chat", {"choices": [{"delta": {"content": "x"}, "finish_reason": 5}]})
    assert event.finish_reason == "5"
    assert chat.parse_event("claude", {"type": "message_delta", "delta": {"stop_reason": 0}}).finish_reason == "0"


# --- a key the relay echoes inside a tool call -------------------------------------------------------------

ECHOED = "relay-secret-Kq7-not-sk-shaped"


def _echo_args() -> dict[str, Any]:
    b64 = base64.b64encode(f"Bearer {ECHOED}".encode()).decode()
    return {"k": ECHOED, "nested": [{"auth": f"Bearer {ECHOED}"}], ECHOED: "as a key", "b64": b64, "n": 3}


def _echo_replies() -> list[tuple[str, Any]]:
    args = _echo_args()
    return [
        ("chat", {"choices": [{"message": {"content": None, "tool_calls": [
            {"id": f"call-{ECHOED}", "function": {"name": f"fn-{ECHOED}", "arguments": json.dumps(args)}}]}}]}),
        ("responses", {"object": "response", "output": [
            {"type": "function_call", "call_id": f"call-{ECHOED}", "name": f"fn-{ECHOED}",
             "arguments": json.dumps(args)}]}),
        ("messages", {"type": "message", "content": [
            {"type": "tool_use", "id": f"call-{ECHOED}", "name": f"fn-{ECHOED}", "input": args}]}),
        ("gemini.generate", {"candidates": [{"content": {"parts": [
            {"functionCall": {"id": f"call-{ECHOED}", "name": f"fn-{ECHOED}", "args": args}}]}}]}),
    ]


def _echo_streams() -> list[tuple[str, list[dict[str, Any]]]]:
    text = json.dumps(_echo_args())
    half = len(text) // 2
    return [
        ("chat", [{"choices": [{"delta": {"tool_calls": [{"index": 0, "id": f"call-{ECHOED}", "function": {
            "name": f"fn-{ECHOED}", "arguments": text[:half]}}]}}]},
                  {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": text[half:]}}]}}]}]),
        ("responses", [{"type": "response.output_item.added", "output_index": 0, "item": {
            "type": "function_call", "call_id": f"call-{ECHOED}", "name": f"fn-{ECHOED}", "arguments": ""}},
                       {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": text[:half]},
                       {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": text[half:]}]),
        ("claude", [{"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": f"call-{ECHOED}", "name": f"fn-{ECHOED}", "input": {}}},
                    {"type": "content_block_delta", "index": 0,
                     "delta": {"type": "input_json_delta", "partial_json": text[:half]}},
                    {"type": "content_block_delta", "index": 0,
                     "delta": {"type": "input_json_delta", "partial_json": text[half:]}}]),
        ("gemini", [{"candidates": [{"content": {"parts": [
            {"functionCall": {"id": f"call-{ECHOED}", "name": f"fn-{ECHOED}", "args": _echo_args()}}]}}]}]),
    ]


def _assert_no_echo(calls: list[Any]) -> None:
    assert len(calls) == 1
    call = calls[0]
    shown = json.dumps(call.as_dict()) + repr(call)
    assert "relay-secret" not in shown and "Kq7" not in shown
    assert call.id == "call-sk-****" and call.name == "fn-sk-****"
    assert call.arguments["k"] == "sk-****" and call.arguments["nested"] == [{"auth": "Bearer sk-****"}]
    assert call.arguments["sk-****"] == "as a key" and call.arguments["n"] == 3
    assert "sk-****" in call.arguments["b64"]


@pytest.mark.parametrize(("endpoint", "body"), _echo_replies(), ids=[e for e, _ in _echo_replies()])
def test_a_key_echoed_in_a_tool_call_is_redacted(endpoint: str, body: Any) -> None:
    from tokenhot_nb._config import Secret

    Secret(ECHOED)  # the session's key (a Session remembers its key the same way)
    _assert_no_echo(chat.parse(None, endpoint, body).tool_calls)


@pytest.mark.parametrize(("fmt", "events"), _echo_streams(), ids=[f for f, _ in _echo_streams()])
def test_a_key_echoed_in_a_streamed_tool_call_is_redacted(fmt: str, events: list[dict[str, Any]]) -> None:
    from tokenhot_nb._config import Secret

    Secret(ECHOED)
    acc = chat.Accumulator()
    for event in events:
        acc.add(chat.parse_event(fmt, event))
    _assert_no_echo(acc.reply().tool_calls)


def _echo_labels() -> list[tuple[str, Any]]:
    """Answers echoing the key in what is not text: the finish reason and a usage field (a relay's own counter)."""
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "note": f"Bearer {ECHOED}"}
    return [
        ("chat", {"choices": [{"message": {"content": "hi"}, "finish_reason": f"stop:{ECHOED}"}], "usage": usage}),
        ("responses", {"object": "response", "status": "incomplete",
                       "incomplete_details": {"reason": f"max:{ECHOED}"}, "usage": usage,
                       "output": [{"type": "message", "content": [{"type": "output_text", "text": "hi"}]}]}),
        ("messages", {"type": "message", "content": [{"type": "text", "text": "hi"}], "usage": usage,
                      "stop_reason": f"end:{ECHOED}"}),
        ("gemini.generate", {"candidates": [{"content": {"parts": [{"text": "hi"}]},
                                             "finishReason": f"STOP:{ECHOED}"}], "usageMetadata": usage}),
    ]


@pytest.mark.parametrize(("endpoint", "body"), _echo_labels(), ids=[e for e, _ in _echo_labels()])
def test_a_key_echoed_in_the_finish_reason_or_usage_is_redacted(endpoint: str, body: Any) -> None:
    """``result.finish_reason`` and ``result.usage`` are shown as they are (a cell's value, the dataclass repr of
    ``Usage`` with its ``raw`` fields): a key a relay put there must be masked like one in the text."""
    from tokenhot_nb._config import Secret

    Secret(ECHOED)
    reply = chat.parse(None, endpoint, body)
    shown = f"{reply.finish_reason!r} {reply.usage!r}"
    assert "sk-****" in shown and "relay-secret" not in shown and "Kq7" not in shown, shown
    acc = chat.Accumulator()  # the same fields, streamed
    for event in ({"choices": [{"delta": {"content": "hi"}, "finish_reason": f"stop:{ECHOED}"}],
                   "usage": {"prompt_tokens": 1, "note": ECHOED}},):
        acc.add(chat.parse_event("chat", event))
    streamed = acc.reply()
    shown = f"{streamed.finish_reason!r} {streamed.usage!r}"
    assert "sk-****" in shown and "relay-secret" not in shown and "Kq7" not in shown, shown


# --- through a session: the paid answer stays, in the result and in the history ----------------------------


class _Scripted(Recorder):
    """A relay answering each chat message with the body scripted for it (JSON, or an event stream), echoing the
    request's key where a script says ``{key}`` and its ``Bearer`` header base64-encoded where it says ``{b64}``."""

    def __init__(self, scripts: dict[str, Any]) -> None:
        super().__init__()
        self.scripts = scripts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/chat/completions"):  # the model table…: the simulator's
            return await super().handle_async_request(request)
        key = request.headers["authorization"].split()[-1]
        b64 = base64.b64encode(f"Bearer {key}".encode()).decode()
        script = self.scripts[json.loads(await request.aread())["messages"][-1]["content"]]
        if isinstance(script, list):  # stream frames
            data = "".join(f"data: {json.dumps(f)}\n\n" for f in script) + "data: [DONE]\n\n"
            return httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  content=data.replace("{key}", key).replace("{b64}", b64).encode())
        return httpx.Response(200, headers={"content-type": "application/json"},
                              content=json.dumps(script).replace("{key}", key).replace("{b64}", b64).encode())


def test_a_malformed_answer_is_kept_whole_through_a_session(tmp_path: Path) -> None:
    paid = {"choices": [{"index": 0, "delta": {"content": "PAID TEXT "}}]}
    s = make_session(tmp_path / "st", _Scripted({
        "number": {"choices": [{"message": {"content": 123}, "finish_reason": 5}]},
        "stream-number": [paid, {"choices": [{"delta": {"content": 5}}]}],
        "stream-index": [paid, {"choices": [{"delta": {"tool_calls": [{"index": "a", "function": {"arguments": 5}}]}}]},
                         {"choices": [{"delta": {"content": "more"}, "finish_reason": 7}]}],
    }))
    got = {m: s.chat(m, model="gpt-5.4", stream=m.startswith("stream")) for m in ("number", "stream-number",
                                                                                    "stream-index")}
    assert {m: r.text for m, r in got.items()} == {"number": "123", "stream-number": "PAID TEXT 5",
                                                   "stream-index": "PAID TEXT more"}
    html = got["number"]._repr_mimebundle_()[0]["text/html"]
    assert "123" in html and "finish: 5" in html
    rows = list(s.history)
    assert [r.status for r in rows] == ["ok"] * 3
    for row, (message, res) in zip(rows, got.items(), strict=True):
        assert row.text == f"{message}\n\n{res.text}"
        assert s.store.path_of(row.outputs[0]["sha256"]).read_text("utf-8") == res.text
    s.close()


def test_a_key_echoed_in_tool_calls_never_reaches_a_result_or_the_store(tmp_path: Path) -> None:
    key = "sk-families-chat-ECHO-5511-abcdef"
    encoded = base64.b64encode(f"Bearer {key}".encode()).decode()
    call = {"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": json.dumps({"k": "{key}", "b": "{b64}"})}}
    s = make_session(tmp_path / "st", _Scripted({
        "tools": {"choices": [{"message": {"content": None, "reasoning_content": "about {key}",
                                           "tool_calls": [call]}, "finish_reason": "tool_calls"}]},
        "stream-tools": [{"choices": [{"delta": {"tool_calls": [{"index": 0, **call}]}}]}],
    }), api_key=key)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    leaked = (key, encoded[12:-4])  # the plain key, and the part of its base64 that only the key determines
    for message in ("tools", "stream-tools"):
        res = s.chat(message, model="gpt-5.4", stream=message.startswith("stream"), tools=tools,
                     thread=False)
        assert res.tool_calls[0].arguments["k"] == "sk-****" and "sk-****" in res.tool_calls[0].arguments["b"]
        for shown in (repr(res.tool_calls), res.html(), res._repr_mimebundle_()[0]["text/html"], repr(res),
                      res.reasoning, json.dumps(s.history[-1].to_dict())):
            assert not any(x in shown for x in leaked), shown
    exported = s.history.export(tmp_path / "out" / "x.jsonl", include_artifacts=True)
    files = [p for p in [*exported.parent.rglob("*"), *(tmp_path / "st").rglob("*")] if p.is_file()]
    assert len(files) > 3
    assert not [p for p in files if any(x.encode() in p.read_bytes() for x in leaked)]
    s.close()


@pytest.mark.parametrize(("fmt", "frame"), [
    ("chat.completions", {"error": {"message": "upstream broke (request id: 2026120110000001)", "code": "x"}}),
    ("responses", {"type": "response.failed",
                   "response": {"error": {"message": "upstream broke (request id: 2026120110000001)"}}}),
    ("responses", {"type": "error", "error": {"message": "upstream broke (request id: 2026120110000001)"}}),
    ("claude", {"type": "error", "error": {"type": "overloaded_error",
                                           "message": "upstream broke (request id: 2026120110000001)"}}),
])
def test_an_error_frames_request_id_is_kept_apart_in_every_protocol(fmt: str, frame: dict[str, Any]) -> None:
    with pytest.raises(StreamError) as exc:
        chat.parse_event(fmt, frame)
    err = exc.value
    assert err.request_id == "2026120110000001" and "request id" not in err.message
    assert str(err).count("2026120110000001") == 1 and "upstream broke" in str(err)


@pytest.mark.parametrize("index", ["²", "9" * 5000, "١", " 2 "], ids=["superscript", "5000-digits", "arabic", "spaced"])
def test_an_odd_streamed_tool_call_index_groups_its_fragments_without_raising(index: str) -> None:
    """``str.isdigit`` admits "²" and any length, ``int`` refuses both (a ValueError out of the stream)."""
    acc = chat.Accumulator()
    for piece in ('{"a"', ': 1}'):
        acc.add(chat.parse_event("chat", {"choices": [{"delta": {"tool_calls": [
            {"index": index, "id": "c1", "function": {"name": "f", "arguments": piece}}]}}]}))
    (call,) = acc.reply().tool_calls
    assert call.name == "f" and call.arguments == {"a": 1}


# --- wire facts of the reference (§2.2, §2.4) the client must build and read ------------------------------------


def test_responses_takes_a_chat_response_format_in_its_own_flat_text_format() -> None:
    """/v1/responses keeps a JSON schema's name and schema beside ``type`` in ``text.format``; the Chat Completions
    form (nested in ``json_schema``) lacks ``text.format.name`` there and is refused by the service."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}}
    call = chat.build(catalog.model("gpt-5.4"), USER, endpoint="responses", extra={"response_format": rf})
    assert call.json is not None
    assert call.json["text"] == {"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}}
    assert "response_format" not in call.json
    plain = chat.build(catalog.model("gpt-5.4"), USER, endpoint="responses",
                       extra={"response_format": {"type": "json_object"}})
    assert plain.json is not None and plain.json["text"] == {"format": {"type": "json_object"}}
    chat_call = chat.build(catalog.model("gpt-5.4"), USER, endpoint="chat.completions", extra={"response_format": rf})
    assert chat_call.json is not None and chat_call.json["response_format"] == rf  # chat keeps its own form


def _responses_call_events(arguments_deltas: bool) -> list[dict[str, Any]]:
    item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": ""}
    done_item = {**item, "arguments": '{"city": "Paris"}', "status": "completed"}
    events: list[dict[str, Any]] = [{"type": "response.output_item.added", "output_index": 0, "item": item}]
    if arguments_deltas:
        events += [{"type": "response.function_call_arguments.delta", "output_index": 0, "item_id": "fc_1",
                    "delta": piece} for piece in ('{"city": ', '"Paris"}')]
    events += [{"type": "response.function_call_arguments.done", "output_index": 0, "item_id": "fc_1",
                "arguments": '{"city": "Paris"}'},
               {"type": "response.output_item.done", "output_index": 0, "item": done_item},
               {"type": "response.completed", "response": {"status": "completed", "output": [done_item],
                                                            "usage": {"input_tokens": 9, "output_tokens": 4,
                                                                      "total_tokens": 13}}}]
    return events


@pytest.mark.parametrize("arguments_deltas", [True, False])
def test_responses_stream_tool_call_arguments_from_deltas_or_from_done(arguments_deltas: bool) -> None:
    """§2.2 streams a call's arguments as ``.delta`` events and again whole in ``.done``: a stream without
    deltas still gives the call its arguments (they were lost: the tool was called with none)."""
    reply = _fold("responses", _responses_call_events(arguments_deltas)).reply()
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [("call_1", "get_weather", {"city": "Paris"})]


def test_responses_stream_call_known_only_from_its_done_item() -> None:
    events = [{"type": "response.output_item.done", "output_index": 0,
               "item": {"type": "function_call", "call_id": "call_9", "name": "f", "arguments": '{"x": 1}'}}]
    reply = _fold("responses", events).reply()
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [("call_9", "f", {"x": 1})]


@pytest.mark.parametrize("streamed", [False, True])
def test_gemini_blocked_prompt_says_why_the_answer_is_empty(streamed: bool) -> None:
    """A prompt Gemini refuses has no candidate, only ``promptFeedback.blockReason``: that is the finish reason,
    not an empty answer with none."""
    body = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}}
    if streamed:
        reply = _fold("gemini", [body]).reply()
    else:
        reply = chat.parse(catalog.model("gemini-2.5-flash"), "gemini.generate", body)
    assert reply.text == "" and reply.finish_reason == "PROHIBITED_CONTENT"


# --- OpenAI-style options in the native protocols' own fields (§2.3, §2.4) -------------------------------------


def test_claude_messages_takes_thinking_budget_and_max_completion_tokens_in_its_own_fields() -> None:
    """§2.3: Claude's thinking is ``thinking: {type: "enabled", budget_tokens}`` and its limit ``max_tokens``; the
    other protocols' names at the top level are no Claude fields (refused, or silently without effect)."""
    claude = catalog.model("claude-opus-4-6-cc")
    call = chat.build(claude, USER, endpoint="messages", extra={"thinking_budget": 2048, "include_thoughts": True,
                                                                "max_completion_tokens": 4096})
    assert call.json is not None
    assert call.json["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert call.json["max_tokens"] == 4096
    assert not {"thinking_budget", "include_thoughts", "max_completion_tokens"} & set(call.json)
    off = chat.build(claude, USER, endpoint="messages", extra={"thinking_budget": 0})
    assert off.json is not None and "thinking" not in off.json and "thinking_budget" not in off.json
    mine = chat.build(claude, USER, endpoint="messages",
                      extra={"thinking_budget": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert mine.json is not None and mine.json["thinking"]["budget_tokens"] == 1024  # the explicit field wins


@pytest.mark.parametrize("extra, what", [
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"include_thoughts": True}, "include_thoughts"),
])
def test_claude_messages_refuses_fields_it_has_no_place_for(extra: dict[str, Any], what: str) -> None:
    with pytest.raises(UnsupportedOptionError, match=what):
        chat.build(catalog.model("claude-opus-4-6-cc"), USER, endpoint="messages", extra=extra)


def test_gemini_native_takes_response_format_and_max_completion_tokens_in_generation_config() -> None:
    gemini = catalog.model("gemini-2.5-flash")
    schema = {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}}
    call = chat.build(gemini, USER, endpoint="gemini.generate", extra={
        "max_completion_tokens": 300,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}})
    assert call.json is not None
    assert call.json["generationConfig"] == {
        "maxOutputTokens": 300, "responseMimeType": "application/json",
        "responseSchema": {"type": "object", "properties": {"n": {"type": "integer", "nullable": True}}}}
    assert not {"response_format", "max_completion_tokens"} & set(call.json)
    plain = chat.build(gemini, USER, endpoint="gemini.stream", extra={"response_format": {"type": "json_object"}})
    assert plain.json is not None and plain.json["generationConfig"] == {"responseMimeType": "application/json"}
    with pytest.raises(UnsupportedOptionError, match="response_format"):
        chat.build(gemini, USER, endpoint="gemini.generate", extra={"response_format": "json"})


def test_native_bodies_from_the_client_are_taken_by_the_simulator(sim_url: str, auth: dict[str, str]) -> None:
    """The translated bodies are ones the simulator (held to the reference) answers 200."""
    for model, ep, extra in [("claude-opus-4-6-cc", "messages", {"thinking_budget": 1024, "max_completion_tokens": 2000}),
                             ("gemini-2.5-flash", "gemini.generate", {"response_format": {"type": "json_object"},
                                                                      "max_completion_tokens": 200})]:
        call = chat.build(catalog.model(model), [{"role": "system", "content": "Be brief."}, *USER,
                                                 {"role": "assistant", "content": "Hi!"},
                                                 {"role": "user", "content": "And?"}], endpoint=ep, extra=extra)
        r = httpx.post(sim_url + call.path, json=call.json, params=call.params, headers={**auth, **call.headers},
                       timeout=30)
        assert r.status_code == 200, r.text


def test_chat_refusal_is_the_answer_not_an_empty_one() -> None:
    """OpenAI sends a declined request's words in ``message.refusal`` / ``delta.refusal`` with no content."""
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": None,
                                                 "refusal": "I can't help with that."}, "finish_reason": "stop"}]}
    assert chat.parse(catalog.model("gpt-5.4"), "chat.completions", body).text == "I can't help with that."
    acc = _fold("chat", [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "refusal": ""}}]},
                         {"choices": [{"index": 0, "delta": {"refusal": "I can't "}}]},
                         {"choices": [{"index": 0, "delta": {"refusal": "help."}}]},
                         {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}])
    assert acc.reply().text == "I can't help."
    kept = chat.parse(None, "chat.completions", {"choices": [{"message": {"content": "Yes", "refusal": None}}]})
    assert kept.text == "Yes"


# --- Gemini 3's thought signatures go back with the calls they came on (§2.4) -----------------------------------


def test_gemini_call_signature_is_read_and_sent_back() -> None:
    body = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnLTE="}]},
        "finishReason": "STOP"}]}
    gemini = catalog.model("gemini-3-flash-preview")
    call = chat.parse(gemini, "gemini.generate", body).tool_calls[0]
    assert call.signature == "c2lnLTE=" and call.as_dict()["signature"] == "c2lnLTE="
    assert "c2lnLTE=" not in repr(call)
    streamed = _fold("gemini", [body]).reply().tool_calls[0]
    assert streamed.signature == "c2lnLTE="
    thread = [{"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "content": "", "tool_calls": [call.as_dict()]},
              {"role": "tool", "tool_call_id": call.id, "content": "21 C"}]
    sent = chat.build(gemini, thread, endpoint="gemini.generate").json
    assert sent is not None
    assert sent["contents"][1]["parts"] == [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                             "thoughtSignature": "c2lnLTE="}]
    for ep in ("chat.completions", "messages"):  # no other protocol has the field
        other = chat.build(catalog.model("claude-opus-4-6"), thread, endpoint=ep).json
        assert "c2lnLTE=" not in json.dumps(other)
    plain = chat.ToolCall("call_1", "f", {})
    assert plain.as_dict() == {"id": "call_1", "name": "f", "arguments": {}}  # the stored shape is unchanged


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_turn_of_another_model_goes_on_with_gemini_3(tmp_path: Path, stream: bool) -> None:
    """A thread whose tool call GPT made, answered on Gemini 3: the call has no signature, and Gemini 3 refuses a
    turn whose call is unsigned (a 400 for every such thread). It goes with Google's placeholder."""
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    first = s.chat("Weather in Paris?", model="gpt-5.4-mini", tools=[tool], tool_choice="required", thread="w",
                   stream=stream)
    assert first.tool_calls and not first.tool_calls[0].signature
    done = s.chat(model="gemini-3-flash-preview", tools=[tool], thread="w", stream=stream,
                  tool_results={first.tool_calls[0].id: {"temperature": 21}})
    assert "21" in done.text
    parts = rec.json()["contents"][1]["parts"]
    assert parts == [{"functionCall": {"name": "get_weather", "args": first.tool_calls[0].arguments},
                      "thoughtSignature": chat.GEMINI_NO_SIGNATURE}]
    s.close()


def test_only_a_steps_first_unsigned_call_gets_the_placeholder() -> None:
    """Gemini signs a step's first call only (parallel calls after it come unsigned, and go back so)."""
    calls = [{"id": "a", "name": "f", "arguments": {}}, {"id": "b", "name": "f", "arguments": {"x": 1}}]
    thread = [{"role": "user", "content": "go"}, {"role": "assistant", "content": "", "tool_calls": calls},
              {"role": "tool", "tool_call_id": "a", "content": "1"}, {"role": "tool", "tool_call_id": "b",
                                                                       "content": "2"}]
    sent = chat.build(catalog.model("gemini-3-flash-preview"), thread, endpoint="gemini.generate").json
    assert sent is not None
    assert [p.get("thoughtSignature") for p in sent["contents"][1]["parts"]] == [chat.GEMINI_NO_SIGNATURE, None]


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_3_tool_turn_sends_the_signature_back_through_the_thread(tmp_path: Path, stream: bool) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    first = s.chat("Weather in Paris?", model="gemini-3-flash-preview", tools=[tool], tool_choice="required",
                   thread="w", stream=stream)
    signature = first.tool_calls[0].signature
    assert signature
    s.chat(model="gemini-3-flash-preview", tools=[tool], thread="w", stream=stream,
           tool_results={first.tool_calls[0].id: {"temperature": 21}})
    parts = rec.json()["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == signature and parts[0]["functionCall"]["name"] == "get_weather"
    s.close()
    again = make_session(tmp_path / "st", Recorder())  # a new kernel: the thread comes back from the history
    assert again.history[-2].response["tool_calls"][0]["signature"] == signature
    again.close()


def test_claude_default_max_tokens_makes_room_for_the_thinking_budget() -> None:
    """Anthropic refuses ``budget_tokens`` ≥ ``max_tokens``: a budget past the client's default limit (one the
    caller did not choose) raises that limit; a limit the caller set is sent as set."""
    claude = catalog.model("claude-opus-4-6-cc")
    default = int(claude.defaults.get("max_tokens") or 8192)
    big = chat.build(claude, USER, endpoint="messages", extra={"thinking_budget": 20000}).json
    assert big is not None and big["max_tokens"] == 20000 + default
    native = chat.build(claude, USER, endpoint="messages",
                        extra={"thinking": {"type": "enabled", "budget_tokens": default}}).json
    assert native is not None and native["max_tokens"] == 2 * default
    small = chat.build(claude, USER, endpoint="messages", extra={"thinking_budget": 1024}).json
    assert small is not None and small["max_tokens"] == default
    mine = chat.build(claude, USER, endpoint="messages", max_tokens=4000, extra={"thinking_budget": 20000}).json
    assert mine is not None and mine["max_tokens"] == 4000  # the caller's limit: the service says what is wrong
    also = chat.build(claude, USER, endpoint="messages", extra={"thinking_budget": 20000,
                                                                "max_completion_tokens": 3000}).json
    assert also is not None and also["max_tokens"] == 3000


@pytest.mark.parametrize(("kw", "said"), [
    ({"extra": {"thinking_budget": 1000}}, "at least 1024 tokens, not 1000"),
    ({"extra": {"thinking": {"type": "enabled", "budget_tokens": 512}}}, "at least 1024 tokens, not 512"),
    ({"extra": {"thinking_budget": 2048}, "temperature": 0.3}, "no temperature while thinking"),
    ({"extra": {"thinking_budget": 2048, "top_k": 4}}, "no top_k while thinking"),
    ({"extra": {"thinking_budget": 2048, "top_p": 0.5}}, "top_p only from 0.95 to 1 while thinking, not 0.5"),
    ({"extra": {"thinking_budget": 2048}, "output": Output(json_mode=True)}, "cannot think while made to answer"),
    ({"extra": {"thinking_budget": 2048}, "tools": [{"type": "function", "function": {"name": "f"}}],
      "tool_choice": "f"}, "cannot think while made to answer"),
])
def test_claude_refuses_what_thinking_cannot_take_before_sending(kw: dict[str, Any], said: str) -> None:
    """Anthropic refuses these with thinking on (a 400 after the round trip, the option named in the vendor's
    words): the client says so first, naming the caller's own option and how to fix it."""
    claude = catalog.model("claude-opus-4-6-cc")
    with pytest.raises((InputError, UnsupportedOptionError), match=said) as info:
        chat.build(claude, USER, endpoint="messages", **kw)
    assert "thinking_budget=0" in info.value.hint


def test_claude_thinking_rules_leave_allowed_bodies_alone() -> None:
    """Temperature 1, ``top_p`` ≥ 0.95, tools the model may choose, a budget past the caller's ``max_tokens``
    (taken with interleaved thinking), and sampling options without thinking: sent as given."""
    claude = catalog.model("claude-opus-4-6-cc")
    tools = [{"type": "function", "function": {"name": "f"}}]
    for kw in ({"extra": {"thinking_budget": 2048, "top_p": 0.95}, "temperature": 1, "tools": tools},
               {"extra": {"thinking_budget": 20000}, "max_tokens": 4000},
               {"extra": {"top_k": 4}, "temperature": 0.2, "output": Output(json_mode=True)}):
        assert chat.build(claude, USER, endpoint="messages", **kw).json is not None


def test_stream_tool_calls_without_an_index_stay_apart_by_their_ids() -> None:
    """A relay that numbers no streamed call (no ``index``) still sends each call's id with its first piece: two
    calls stay two, each piece going to the call it continues (they were folded into one, arguments run
    together); a relay that numbers them is read as before."""
    def piece(**call: Any) -> dict[str, Any]:
        return {"choices": [{"delta": {"tool_calls": [call]}}]}

    acc = chat.Accumulator()
    for d in [piece(id="call_a", type="function", function={"name": "weather", "arguments": '{"city":'}),
              piece(function={"arguments": ' "Oslo"}'}),
              piece(id="call_b", type="function", function={"name": "time", "arguments": ""}),
              piece(function={"arguments": '{"zone": "CET"}'}),
              piece(id="call_a", function={"arguments": ""})]:  # (its id again: still the first call)
        acc.add(chat.parse_event("chat", d))
    calls = acc.reply().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "weather", {"city": "Oslo"}), ("call_b", "time", {"zone": "CET"})]
    numbered = chat.Accumulator()
    for d in [piece(index=0, id="x", function={"name": "f", "arguments": "{}"}),
              piece(index=1, id="y", function={"name": "g", "arguments": "{}"})]:
        numbered.add(chat.parse_event("chat", d))
    assert [c.id for c in numbered.reply().tool_calls] == ["x", "y"]


def test_claude_thinking_blocks_are_read_signed_and_in_order() -> None:
    body = {"content": [{"type": "thinking", "thinking": "Paris, so metric.", "signature": "sig-1"},
                        {"type": "redacted_thinking", "data": "opaque=="},
                        {"type": "thinking", "thinking": "no signature: cannot go back"},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
            "stop_reason": "tool_use"}
    reply = chat.parse(None, "messages", body)
    assert reply.thinking_blocks == [{"type": "thinking", "thinking": "Paris, so metric.", "signature": "sig-1"},
                                     {"type": "redacted_thinking", "data": "opaque=="}]
    events = [{"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "",
                                                                              "signature": ""}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Paris, "}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "so metric."}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig-1"}},
              {"type": "content_block_stop", "index": 0},
              {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1",
                                                                              "name": "get_weather", "input": {}}},
              {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta",
                                                                     "partial_json": '{"city": "Paris"}'}}]
    streamed = _fold("claude", events).reply()
    assert streamed.reasoning == "Paris, so metric."
    assert streamed.thinking_blocks == [{"type": "thinking", "thinking": "Paris, so metric.", "signature": "sig-1"}]


def test_a_tool_turn_goes_back_to_claude_with_its_signed_thinking_first_and_to_openai_without_it() -> None:
    turn = [{"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "toolu_1", "name": "get_weather",
                                                                  "arguments": {"city": "Paris"}}],
             "thinking_blocks": [{"type": "thinking", "thinking": "Paris, so metric.", "signature": "sig-1"}]},
            {"role": "user", "content": "", "tool_results": [{"id": "toolu_1", "content": {"temperature": 21}}]}]
    claude = chat.build(catalog.model("claude-opus-4-6-cc"), turn, endpoint="messages").json
    assert claude is not None
    assert [b["type"] for b in claude["messages"][1]["content"]] == ["thinking", "tool_use"]
    assert claude["messages"][1]["content"][0]["signature"] == "sig-1"
    openai = chat.build(catalog.model("gpt-5.2"), turn, endpoint="chat").json
    assert openai is not None and all("thinking_blocks" not in m for m in openai["messages"])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_claude_thinking_goes_back_with_a_tool_turn_through_the_thread(tmp_path: Path, stream: bool) -> None:
    """Anthropic refuses a tool result whose tool turn (made with thinking on) comes back without its signed
    thinking: the thread keeps the blocks, in memory and in the history (a new kernel rebuilds them)."""
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    first = s.chat("Weather in Paris?", model="claude-opus-4-6-cc", endpoint="messages", tools=[tool],
                   thread="w", stream=stream, thinking_budget=2048)
    assert first.tool_calls and first.reasoning
    s.chat(model="claude-opus-4-6-cc", endpoint="messages", tools=[tool], thread="w", stream=stream,
           thinking_budget=2048, tool_results={first.tool_calls[0].id: {"temperature": 21}})
    blocks = rec.json()["messages"][1]["content"]
    assert blocks[0]["type"] == "thinking" and blocks[-1]["type"] == "tool_use"  # (its text between)
    assert blocks[0]["thinking"] == first.reasoning and blocks[0]["signature"].startswith("sim-sig-")
    signature = blocks[0]["signature"]
    s.close()
    rec2 = Recorder()
    again = make_session(tmp_path / "st", rec2)  # a new kernel: the thread comes back from the history
    again.chat("And tomorrow?", model="claude-opus-4-6-cc", endpoint="messages", tools=[tool], thread="w",
               stream=stream, thinking_budget=2048)
    sent = rec2.json()["messages"]
    assert sent[1]["content"][0] == {"type": "thinking", "thinking": first.reasoning, "signature": signature}
    again.close()


def test_a_claude_answer_whose_content_is_one_string_keeps_that_text() -> None:
    """``content`` is a list of blocks on the wire (reference §2.3); a relay that sent the text as one string had
    the paid answer read as empty, and recorded as a success."""
    reply = chat.parse(None, "messages", {"id": "msg_1", "role": "assistant", "content": "Paid words.",
                                          "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 4}})
    assert reply.text == "Paid words." and reply.finish_reason == "end_turn" and reply.usage.output_tokens == 4


#: Google's answer to ``generationConfig.candidateCount: 2`` (§2.4): each candidate numbered by ``index``, each paid
#: for (``candidatesTokenCount`` counts both); a stream's frames may carry either, or both.
_TWO_CANDIDATES = [
    {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "Pears "}]}},
                    {"index": 1, "content": {"role": "model", "parts": [{"text": "Plums "}]}}]},
    {"candidates": [{"index": 1, "content": {"role": "model", "parts": [{"text": "are purple."}]},
                     "finishReason": "STOP"}]},
    {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "are green."}]},
                     "finishReason": "STOP"}],
     "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 8, "totalTokenCount": 12}},
]


def test_gemini_candidates_after_the_first_are_kept_as_the_other_answers() -> None:
    """Only ``candidates[0]`` was read: a second candidate (paid) was dropped from a whole answer, and in a stream
    a frame carrying only candidate 1 was run into the first answer's text."""
    acc = chat.Accumulator()
    for frame in _TWO_CANDIDATES:
        acc.add(chat.parse_event("gemini", frame))
    streamed = acc.reply()
    assert streamed.text == "Pears are green." and streamed.finish_reason == "STOP"
    assert [(c.text, c.finish_reason) for c in streamed.others] == [("Plums are purple.", "STOP")]
    whole = chat.parse(None, "gemini.generate", {"candidates": [
        {"index": 0, "content": {"parts": [{"text": "Pears are green."}]}, "finishReason": "STOP"},
        {"index": 1, "content": {"parts": [{"text": "Plums are purple."}]}, "finishReason": "STOP"}]})
    assert whole.text == "Pears are green." and [c.text for c in whole.others] == ["Plums are purple."]
    array = chat.parse(None, "gemini.stream", _TWO_CANDIDATES)  # (no alt=sse: the frames as one JSON array)
    assert array.text == "Pears are green." and [c.text for c in array.others] == ["Plums are purple."]


@pytest.mark.parametrize("odd", [{"a": 1}, ["x"], None, True])
def test_a_responses_delta_that_is_no_text_adds_nothing_to_the_answer(odd: Any) -> None:
    """A hostile or broken relay's ``delta`` that is an object or a list was put into the answer as its Python repr
    (``{'a': 1}``), into the history and the notebook."""
    for kind, field in (("response.output_text.delta", "text"), ("response.reasoning_summary_text.delta",
                                                                 "reasoning")):
        delta = chat.parse_event("responses", {"type": kind, "delta": odd})
        assert getattr(delta, field) == ""
    assert chat.parse_event("responses", {"type": "response.output_text.delta", "delta": "ok"}).text == "ok"


@pytest.mark.parametrize(("index", "apart"), [("1", True), (" 2 ", True), (1.0, True), ("a", False), (1.5, False),
                                              (True, False), (None, False)])
def test_a_choice_index_sent_as_text_is_that_number(index: Any, apart: bool) -> None:
    """A relay sent choice 1 of an n=2 stream as ``"index": "1"``: it was read as choice 0, and its text ran into
    the first answer's. A whole number in any JSON form is that choice; what is no number is choice 0, as before."""
    acc = chat.Accumulator()
    for d in [{"choices": [{"index": 0, "delta": {"content": "first "}}]},
              {"choices": [{"index": index, "delta": {"content": "second"}}]},
              {"choices": [{"index": 0, "delta": {"content": "answer"}, "finish_reason": "stop"}]}]:
        acc.add(chat.parse_event("chat", d))
    reply = acc.reply()
    if apart:
        assert reply.text == "first answer" and [c.text for c in reply.others] == ["second"]
    else:
        assert reply.text == "first secondanswer" and reply.others == []
    whole = chat.parse(catalog.model("gpt-5.4"), "chat", {"choices": [
        {"index": index, "message": {"role": "assistant", "content": "second"}},
        {"index": 0, "message": {"role": "assistant", "content": "first"}}]})
    assert whole.text == ("first" if apart else "second")


def _n_calls(i: int, call_id: str | None) -> dict[str, Any]:
    """Choice ``i`` of an ``n=`` chat completion (§2.1) that calls one tool, with the given id (or none)."""
    call: dict[str, Any] = {"type": "function", "function": {"name": "weather", "arguments": f'{{"day": {i}}}'}}
    return {"index": i, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": None,
                        "tool_calls": [{**call, "id": call_id} if call_id is not None else call]}}


@pytest.mark.parametrize("call_id", ["call_1", None])
def test_the_tool_calls_of_n_choices_have_ids_of_their_own(call_id: str | None) -> None:
    """An ``n=`` answer's choices that named their calls alike (a relay's ``call_1`` in each, or no id: ``call_0``
    each) gave calls of one id, which a notebook keying results by ``call.id`` ran together. The answer's own ids
    stay (its thread answers them); a choice's that collide get a suffix, whole or streamed alike."""
    whole = chat.parse(catalog.model("gpt-5.4"), "chat", {"choices": [_n_calls(i, call_id) for i in range(3)]})
    acc = chat.Accumulator()
    for i in range(3):
        c = _n_calls(i, call_id)
        acc.add(chat.parse_event("chat", {"choices": [{"index": i, "delta": {
            "tool_calls": [{**c["message"]["tool_calls"][0], "index": 0}]}, "finish_reason": "tool_calls"}]}))
    for reply in (whole, acc.reply()):
        ids = [c.id for choice in [reply, *reply.others] for c in choice.tool_calls]
        assert len(ids) == 3 and len(set(ids)) == 3 and ids[0] == (call_id or "call_0")
        assert [c.arguments for choice in [reply, *reply.others] for c in choice.tool_calls] == \
            [{"day": 0}, {"day": 1}, {"day": 2}]


def test_tool_arguments_sent_as_json_null_are_no_arguments() -> None:
    """A tool that takes nothing: some models write its arguments as ``"null"``. Read as JSON that is no object, the
    call was set apart as one never run; it is a call with no arguments, as ``"{}"`` and ``""`` are."""
    body = {"object": "chat.completion", "model": "gpt-5.2", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{i}", "type": "function", "function": {"name": "now", "arguments": raw}}
                for i, raw in enumerate(("null", "{}", ""))]}}]}
    reply = chat.parse(None, "chat.completions", body)
    assert [(c.id, c.arguments) for c in reply.tool_calls] == [("call_0", {}), ("call_1", {}), ("call_2", {})]
    assert chat.cut_at_limit(reply.tool_calls, reply.finish_reason) == (reply.tool_calls, [])
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = "[1, 2]"  # JSON, but no object
    whole, apart = chat.cut_at_limit(chat.parse(None, "chat.completions", body).tool_calls, "tool_calls")
    assert [c.id for c in whole] == ["call_1", "call_2"]
    assert apart == [{"id": "call_0", "name": "now", "arguments": "[1, 2]", "not_json": True}]
