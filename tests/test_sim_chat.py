"""Chat endpoints of the simulator, over real loopback HTTP, parsed by hand."""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import httpx
import pytest
from PIL import Image

from tokenhot_nb.sim import REQUEST_ID_HEADER

#: Some tests here read the simulator's total spending before and after a call: a server of this module's own
#: (tests/conftest.py), none of another module's calls billed in between.
OWN_SIMULATOR = True

MSG = [{"role": "user", "content": "Write a haiku about the sea"}]


def post(url: str, path: str, body: dict[str, Any], headers: dict[str, str], **kw: Any) -> httpx.Response:
    return httpx.post(url + path, json=body, headers=headers, timeout=30, **kw)


def test_chat_completion_shape(sim_url: str, auth: dict[str, str]) -> None:
    r = post(sim_url, "/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": MSG}, auth)
    assert r.status_code == 200
    assert r.headers[REQUEST_ID_HEADER]
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "gpt-5.4-mini"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert "haiku about the sea" in choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    u = body["usage"]
    assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert "reasoning_content" not in choice["message"]


def test_chat_is_deterministic_and_prompt_dependent(sim_url: str, auth: dict[str, str]) -> None:
    body = {"model": "gpt-5", "messages": MSG}
    a = post(sim_url, "/v1/chat/completions", body, auth).json()
    b = post(sim_url, "/v1/chat/completions", body, auth).json()
    c = post(sim_url, "/v1/chat/completions", {**body, "messages": [{"role": "user", "content": "other"}]},
             auth).json()
    assert a["choices"][0]["message"]["content"] == b["choices"][0]["message"]["content"]
    assert a["choices"][0]["message"]["content"] != c["choices"][0]["message"]["content"]
    assert a["usage"] == b["usage"]


def test_chat_max_tokens_and_longer_replies(sim_url: str, auth: dict[str, str]) -> None:
    short = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": MSG, "max_tokens": 5}, auth).json()
    long = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": MSG, "max_tokens": 300},
                auth).json()
    assert short["choices"][0]["finish_reason"] == "length"
    assert short["usage"]["completion_tokens"] <= 5
    assert len(long["choices"][0]["message"]["content"]) > 3 * len(short["choices"][0]["message"]["content"])


def test_chat_reasoning_and_n(sim_url: str, auth: dict[str, str]) -> None:
    body = {"model": "gpt-5.4", "messages": MSG, "reasoning_effort": "high", "n": 2}
    r = post(sim_url, "/v1/chat/completions", body, auth).json()
    assert len(r["choices"]) == 2
    msg = r["choices"][0]["message"]
    assert msg["reasoning_content"] and msg["reasoning_content"] != msg["content"]
    assert r["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_chat_image_parts_are_counted(sim_url: str, auth: dict[str, str]) -> None:
    content = [{"type": "text", "text": "what is this?"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    r = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": [{"role": "user", "content": content}]},
             auth).json()
    assert "1 image" in r["choices"][0]["message"]["content"]
    assert r["usage"]["prompt_tokens_details"]["image_tokens"] > 0


def test_chat_stream_with_usage(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    body = {"model": "gpt-5.4", "messages": MSG, "stream": True, "stream_options": {"include_usage": True},
            "reasoning_effort": "low"}
    r = post(sim_url, "/v1/chat/completions", body, auth)
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = sse(r.content)
    assert frames[-1] == (None, "[DONE]")
    chunks = [d for _e, d in frames[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks if c["choices"])
    assert reasoning and text.startswith("You said:")
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    same = post(sim_url, "/v1/chat/completions", {"model": "gpt-5.4", "messages": MSG, "reasoning_effort": "low"},
                auth).json()
    assert same["choices"][0]["message"]["content"] == text


def test_chat_stream_without_usage_has_no_usage_chunk(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    r = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": MSG, "stream": True}, auth)
    chunks = [d for _e, d in sse(r.content)[:-1]]
    assert all(c["choices"] for c in chunks)


def test_responses_non_stream(sim_url: str, auth: dict[str, str]) -> None:
    body = {"model": "gpt-5.4", "input": "Name three colours", "instructions": "be brief",
            "reasoning": {"effort": "medium", "summary": "auto"}}
    r = post(sim_url, "/v1/responses", body, auth).json()
    assert r["object"] == "response" and r["status"] == "completed" and r["id"].startswith("resp_")
    kinds = [o["type"] for o in r["output"]]
    assert kinds == ["reasoning", "message"]
    text = "".join(c["text"] for o in r["output"] if o["type"] == "message" for c in o["content"]
                   if c["type"] == "output_text")
    assert "Name three colours" in text
    assert r["output"][0]["summary"][0]["text"]
    u = r["usage"]
    assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"]
    assert u["output_tokens_details"]["reasoning_tokens"] > 0


def test_responses_list_input_and_incomplete(sim_url: str, auth: dict[str, str]) -> None:
    body = {"model": "gpt-5", "max_output_tokens": 4,
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hello list input"}]}]}
    r = post(sim_url, "/v1/responses", body, auth).json()
    assert r["status"] == "incomplete" and r["incomplete_details"] == {"reason": "max_output_tokens"}


def test_responses_stream_named_events(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    body = {"model": "gpt-5.4", "input": "stream me", "stream": True, "reasoning": {"summary": "auto"}}
    frames = sse(post(sim_url, "/v1/responses", body, auth).content)
    types = [d["type"] for _e, d in frames]
    assert all(e == d["type"] for e, d in frames)
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert "[DONE]" not in types
    assert [d["sequence_number"] for _e, d in frames] == list(range(len(frames)))
    for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.done",
                 "response.content_part.done", "response.output_item.done",
                 "response.reasoning_summary_text.delta"):
        assert kind in types
    deltas = "".join(d["delta"] for _e, d in frames if d["type"] == "response.output_text.delta")
    done = next(d for _e, d in frames if d["type"] == "response.output_text.done")
    assert deltas == done["text"] and "stream me" in deltas
    final = frames[-1][1]["response"]
    assert final["status"] == "completed" and final["usage"]["output_tokens"] > 0


def test_claude_messages(sim_url: str, auth: dict[str, str]) -> None:
    body = {"model": "claude-opus-4-6", "max_tokens": 2000, "system": "be kind", "messages": MSG,
            "thinking": {"type": "enabled", "budget_tokens": 1024}}
    r = post(sim_url, "/v1/messages", body, {"x-api-key": "sk-claudekey", "anthropic-version": "2023-06-01"})
    assert r.status_code == 200
    m = r.json()
    assert m["type"] == "message" and m["role"] == "assistant" and m["id"].startswith("msg_")
    assert [b["type"] for b in m["content"]] == ["thinking", "text"]
    assert m["content"][0]["signature"] and "haiku" in m["content"][1]["text"]
    assert m["stop_reason"] == "end_turn"
    assert set(m["usage"]) >= {"input_tokens", "output_tokens", "cache_creation_input_tokens",
                               "cache_read_input_tokens"}


_THINK = {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize(("fields", "said"), [
    ({"thinking": {"type": "enabled", "budget_tokens": 1023}}, "greater than or equal to 1024"),
    ({"thinking": {"type": "enabled", "budget_tokens": "2048"}}, "greater than or equal to 1024"),
    ({"thinking": _THINK, "max_tokens": 2048}, "`max_tokens` must be greater than `thinking.budget_tokens`"),
    ({"thinking": _THINK, "temperature": 0.5}, "`temperature` may only be set to 1"),
    ({"thinking": _THINK, "top_k": 5}, "`top_k` is not supported"),
    ({"thinking": _THINK, "top_p": 0.9}, "`top_p` must be greater than or equal to 0.95"),
    ({"thinking": _THINK, "tools": [{"name": "f", "input_schema": {"type": "object"}}],
      "tool_choice": {"type": "any"}}, "forces tool use"),
])
def test_claude_refuses_what_thinking_cannot_take_uncharged(sim_url: str, auth: dict[str, str],
                                                            fields: dict[str, Any], said: str) -> None:
    """Anthropic's extended-thinking rules: the vendor's 400, passed on by the relay, and nothing charged."""
    def used() -> float:
        return float(httpx.get(sim_url + "/v1/dashboard/billing/usage", headers=auth, timeout=30)
                     .json()["total_usage"])

    before = used()
    r = post(sim_url, "/v1/messages", {"model": "claude-opus-4-6-cc", "max_tokens": 4096, "messages": MSG,
                                       **fields}, auth)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "error" and said in r.json()["error"]["message"]
    assert used() == before


def test_claude_takes_what_thinking_allows(sim_url: str, auth: dict[str, str]) -> None:
    """Sampling at its defaults, ``top_p`` from 0.95, the tool left to the model; a budget past ``max_tokens``
    only with the interleaved-thinking beta."""
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    for fields, headers in [({"temperature": 1, "top_p": 0.95, "tools": tools, "tool_choice": {"type": "auto"}}, {}),
                            ({"max_tokens": 1500}, {"anthropic-beta": "interleaved-thinking-2025-05-14"})]:
        body = {"model": "claude-opus-4-6-cc", "max_tokens": 4096, "messages": MSG, "thinking": _THINK, **fields}
        r = post(sim_url, "/v1/messages", body, {**auth, **headers})
        assert r.status_code == 200, r.text


def test_claude_requires_max_tokens(sim_url: str, auth: dict[str, str]) -> None:
    r = post(sim_url, "/v1/messages", {"model": "claude-opus-4-6", "messages": MSG}, auth)
    assert r.status_code == 400
    assert r.json()["type"] == "error" and "max_tokens" in r.json()["error"]["message"]


def test_claude_stream_events(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    body = {"model": "claude-opus-4-6-cc", "max_tokens": 3000, "messages": MSG, "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 1024}}
    frames = sse(post(sim_url, "/v1/messages", body, auth).content)
    types = [e for e, _d in frames]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert "ping" in types
    assert all(e == d["type"] for e, d in frames)
    real = [d for e, d in frames if e != "ping"]
    deltas = [d["delta"] for d in real if d["type"] == "content_block_delta"]
    assert {"thinking_delta", "signature_delta", "text_delta"} <= {d["type"] for d in deltas}
    text = "".join(d["text"] for d in deltas if d["type"] == "text_delta")
    assert "haiku" in text
    msg_delta = next(d for d in real if d["type"] == "message_delta")
    assert msg_delta["delta"]["stop_reason"] == "end_turn" and msg_delta["usage"]["output_tokens"] > 0
    starts = [d["content_block"]["type"] for d in real if d["type"] == "content_block_start"]
    assert starts == ["thinking", "text"]


GEMINI_BODY = {"system_instruction": {"parts": [{"text": "be short"}]},
               "contents": [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}]}


def test_gemini_generate_content(sim_url: str) -> None:
    body = {**GEMINI_BODY, "generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
    r = post(sim_url, "/v1beta/models/gemini-2.5-pro:generateContent", body, {"x-goog-api-key": "sk-googlekey"})
    assert r.status_code == 200
    g = r.json()
    parts = g["candidates"][0]["content"]["parts"]
    assert parts[0]["thought"] is True and "sky blue" in parts[1]["text"]
    assert g["candidates"][0]["finishReason"] == "STOP"
    um = g["usageMetadata"]
    assert um["totalTokenCount"] == um["promptTokenCount"] + um["candidatesTokenCount"] + um["thoughtsTokenCount"]


def test_gemini_query_key_and_max_tokens(sim_url: str) -> None:
    body = {**GEMINI_BODY, "generationConfig": {"maxOutputTokens": 3}}
    r = httpx.post(sim_url + "/v1beta/models/gemini-3-flash-preview:generateContent?key=sk-querykey", json=body)
    assert r.status_code == 200 and r.json()["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_gemini_stream_sse(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    r = post(sim_url, "/v1beta/models/gemini-3.1-pro-preview:streamGenerateContent?alt=sse", GEMINI_BODY, auth)
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = [d for _e, d in sse(r.content)]
    assert len(frames) > 2 and "[DONE]" not in frames
    text = "".join(p.get("text", "") for f in frames for p in f["candidates"][0]["content"]["parts"])
    assert "sky blue" in text
    assert frames[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "finishReason" not in frames[0]["candidates"][0]
    assert frames[-1]["usageMetadata"]["candidatesTokenCount"] > 0


def test_gemini_stream_without_sse_is_json_array(sim_url: str, auth: dict[str, str]) -> None:
    r = post(sim_url, "/v1beta/models/gemini-2.5-flash:streamGenerateContent", GEMINI_BODY, auth)
    assert isinstance(r.json(), list) and r.json()[-1]["candidates"][0]["finishReason"] == "STOP"


def test_gemini_image_and_tts(sim_url: str, auth: dict[str, str]) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "a lighthouse"}]}],
            "generationConfig": {"responseModalities": ["TEXT", "IMAGE"],
                                 "imageConfig": {"aspectRatio": "16:9", "imageSize": "1K"}}}
    g = post(sim_url, "/v1beta/models/gemini-3-pro-image-preview:generateContent", body, auth).json()
    parts = g["candidates"][0]["content"]["parts"]
    # §10.4: Tokenhot answers a Gemini image as a Markdown URL in the text part
    assert not any("inlineData" in p for p in parts)
    url = re.search(r"!\[[^\]]*\]\((\S+)\)", parts[0]["text"]).group(1)  # type: ignore[union-attr]
    img = Image.open(io.BytesIO(httpx.get(url).content))
    assert img.size == (1024, 576)
    tts = {"contents": [{"parts": [{"text": "Say cheerfully: Have a wonderful day!"}]}],
           "generationConfig": {"responseModalities": ["AUDIO"],
                                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}}}
    g = post(sim_url, "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent", tts, auth).json()
    inline = g["candidates"][0]["content"]["parts"][0]["inlineData"]
    assert inline["mimeType"] == "audio/L16;codec=pcm;rate=24000"
    pcm = base64.b64decode(inline["data"])
    assert not pcm.startswith(b"RIFF") and len(pcm) % 2 == 0
    seconds = len(pcm) / 2 / 24000
    assert 1.5 < seconds < 4.0  # 37 characters at ~60 ms each
    assert g["usageMetadata"]["candidatesTokensDetails"][0]["modality"] == "AUDIO"


def _speakers(*voices: str) -> dict[str, Any]:
    return {"speakerVoiceConfigs": [{"speaker": f"S{i}", "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": v}}}
                                    for i, v in enumerate(voices)]}


def test_gemini_multi_speaker_tts(sim_url: str, auth: dict[str, str]) -> None:
    """Reference §6.1: speakers' voices in ``speechConfig.multiSpeakerVoiceConfig``, instead of one ``voiceConfig``:
    both at once is a 400, as is a speaker's unknown voice; the speakers' voices speak."""
    path = "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent"

    def speak(speech: dict[str, Any]) -> httpx.Response:
        return post(sim_url, path, {"contents": [{"parts": [{"text": "S0: Hi.\nS1: Hello!"}]}],
                                    "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": speech}}, auth)

    ok = speak({"multiSpeakerVoiceConfig": _speakers("Kore", "Puck")})
    assert ok.status_code == 200 and ok.json()["candidates"][0]["content"]["parts"][0]["inlineData"]["data"]
    both = speak({"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
                  "multiSpeakerVoiceConfig": _speakers("Kore", "Puck")})
    assert both.status_code == 400 and "mutually exclusive" in both.json()["error"]["message"]
    bad = speak({"multi_speaker_voice_config": _speakers("Kore", "Koree")})
    assert bad.status_code == 400 and "Voice name Koree is not supported" in bad.json()["error"]["message"]
    assert speak({"multiSpeakerVoiceConfig": {"speakerVoiceConfigs": [{"speaker": "A"}]}}).status_code == 400


def test_gemini_tts_stops_at_its_output_limit(sim_url: str, auth: dict[str, str]) -> None:
    """§2.4: ``maxOutputTokens`` caps the answer, ``finishReason`` says MAX_TOKENS: a speech stops there, mid-text."""
    def speak(cap: int | None) -> dict[str, Any]:
        gen: dict[str, Any] = {"responseModalities": ["AUDIO"], **({"maxOutputTokens": cap} if cap else {})}
        return post(sim_url, "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent",
                    {"contents": [{"parts": [{"text": "A sentence long enough to be cut. " * 3}]}],
                     "generationConfig": gen}, auth).json()

    whole, cut = speak(None), speak(50)
    assert whole["candidates"][0]["finishReason"] == "STOP"
    assert cut["candidates"][0]["finishReason"] == "MAX_TOKENS" and cut["usageMetadata"]["candidatesTokenCount"] == 50
    pcm = base64.b64decode(cut["candidates"][0]["content"]["parts"][0]["inlineData"]["data"])
    assert len(pcm) == 2 * 24000 * 2  # 50 tokens at 25 a second


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses", "/v1/messages"])
def test_bad_json_is_400_in_the_middleware_envelope(sim_url: str, auth: dict[str, str], path: str) -> None:
    """The distributor reads the body for the model, so a body it cannot read is its refusal (§1.4, §10.5)."""
    r = httpx.post(sim_url + path, content=b"{not json", headers={**auth, "content-type": "application/json"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert "(request id: " in err["message"] and err["type"] == "new_api_error" and "param" not in err


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_gemini_native_also_under_v1_models(sim_url: str, sse: Any, version: str) -> None:
    """google-genai's default api_version is v1: the native routes answer there too, keyed by x-goog-api-key."""
    key = {"x-goog-api-key": "sk-googlekey"}
    r = post(sim_url, f"/{version}/models/gemini-2.5-flash:generateContent", GEMINI_BODY, key)
    assert r.status_code == 200 and "sky blue" in r.json()["candidates"][0]["content"]["parts"][0]["text"]
    s = post(sim_url, f"/{version}/models/gemini-2.5-flash:streamGenerateContent?alt=sse", GEMINI_BODY, key)
    frames = [d for _e, d in sse(s.content)]
    assert frames[-1]["candidates"][0]["finishReason"] == "STOP"
    bad = post(sim_url, f"/{version}/models/gemini-2.5-flash:countTokens", GEMINI_BODY, key)
    assert bad.status_code == 404


def test_gpt5_options_the_service_refuses(sim_url: str, auth: dict[str, str]) -> None:
    r = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": MSG, "temperature": 0.2}, auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_value"
    assert "Only the default (1) value is supported" in r.json()["error"]["message"]
    ok = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": MSG, "temperature": 1}, auth)
    assert ok.status_code == 200
    assert post(sim_url, "/v1/chat/completions", {"model": "grok-4.1", "messages": MSG, "temperature": 0.2},
                auth).status_code == 200
    e = post(sim_url, "/v1/responses", {"model": "gpt-5.4", "input": "x", "reasoning": {"effort": "max"}}, auth)
    assert e.status_code == 400 and e.json()["error"]["code"] == "invalid_value"


TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer", "minimum": 1, "maximum": 5}},
    "required": ["q"]}}}


def test_chat_n2_streams_both_choices(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    body = {"model": "grok-4.1", "messages": MSG, "n": 2, "stream": True}
    frames = [d for _e, d in sse(post(sim_url, "/v1/chat/completions", body, auth).content) if isinstance(d, dict)]
    texts = {0: "", 1: ""}
    finishes = {}
    for f in frames:
        for c in f["choices"]:
            texts[c["index"]] += c["delta"].get("content") or ""
            if c["finish_reason"]:
                finishes[c["index"]] = c["finish_reason"]
    whole = post(sim_url, "/v1/chat/completions", {**body, "stream": False}, auth).json()
    assert [c["message"]["content"] for c in whole["choices"]] == [texts[0], texts[1]]
    assert texts[0] != texts[1] and finishes == {0: "stop", 1: "stop"}


def test_tools_get_calls_and_json_modes_get_json(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    r = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": MSG, "tools": [TOOL]}, auth).json()
    call = r["choices"][0]["message"]["tool_calls"][0]
    args = json.loads(call["function"]["arguments"])
    assert r["choices"][0]["finish_reason"] == "tool_calls" and call["function"]["name"] == "lookup"
    assert isinstance(args["q"], str) and (1 <= args.get("n", 1) <= 5)
    none = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": MSG, "tools": [TOOL],
                                                  "tool_choice": "none"}, auth).json()
    assert "tool_calls" not in none["choices"][0]["message"]
    bad = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": MSG, "tools": [TOOL],
                                                 "tool_choice": {"type": "function", "function": {"name": "x"}}}, auth)
    assert bad.status_code == 400
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                                               "ok": {"type": "boolean"}}, "required": ["items", "ok"]}
    js = post(sim_url, "/v1/chat/completions", {"model": "gpt-5", "messages": MSG, "response_format": {
        "type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}, auth).json()
    data = json.loads(js["choices"][0]["message"]["content"])
    assert len(data["items"]) >= 2 and isinstance(data["ok"], bool)
    claude = post(sim_url, "/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 100, "messages": MSG,
                                            "tools": [{"name": "lookup", "input_schema": schema}],
                                            "tool_choice": {"type": "any"}}, auth).json()
    use = next(b for b in claude["content"] if b["type"] == "tool_use")
    assert claude["stop_reason"] == "tool_use" and len(use["input"]["items"]) >= 2
    stream = post(sim_url, "/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 100, "messages": MSG,
                                            "tools": [{"name": "lookup", "input_schema": schema}],
                                            "tool_choice": {"type": "tool", "name": "lookup"}, "stream": True}, auth)
    partial = "".join(d["delta"]["partial_json"] for _e, d in sse(stream.content)
                      if d.get("type") == "content_block_delta" and d["delta"]["type"] == "input_json_delta")
    assert len(json.loads(partial)["items"]) >= 2  # the streamed pieces join into the whole input
    gem = post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", {
        **GEMINI_BODY, "generationConfig": {"responseMimeType": "application/json", "responseSchema": schema}},
        auth).json()
    assert isinstance(json.loads(gem["candidates"][0]["content"]["parts"][0]["text"])["ok"], bool)
    fc = post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", {
        **GEMINI_BODY, "tools": [{"functionDeclarations": [{"name": "lookup", "parameters": schema}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}, auth).json()
    assert fc["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "lookup"


# ----------------------------------------------------------------------------- errors mid-stream (§7)


def stream(url: str, path: str, body: dict[str, Any], headers: dict[str, str], after: int) -> bytes:
    faults = {"X-Sim-Faults": json.dumps({"stream_error_after": after})}
    r = post(url, path, {**body, "stream": True}, {**headers, **faults})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    return r.content


def test_stream_error_chat_completions_is_an_error_data_frame(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    raw = stream(sim_url, "/v1/chat/completions", {"model": "gpt-5.4", "messages": MSG}, auth, 3)
    frames = sse(raw)
    assert len(frames) == 4 and all(e is None for e, _d in frames)
    assert all("choices" in d for _e, d in frames[:3])
    err = frames[3][1]["error"]
    assert set(err) == {"message", "type", "param", "code"} and "(request id: " in err["message"]
    assert b"[DONE]" not in raw  # the error ends the stream


def test_stream_error_responses_is_response_failed(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    raw = stream(sim_url, "/v1/responses", {"model": "gpt-5.4", "input": "Write a haiku"}, auth, 6)
    frames = sse(raw)
    assert [e for e, _d in frames[:3]] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert sum(e == "response.output_text.delta" for e, _d in frames) == 2
    event, data = frames[-1]
    assert len(frames) == 7 and event == data["type"] == "response.failed" and data["sequence_number"] == 6
    assert data["response"]["status"] == "failed" and data["response"]["error"]["message"]
    assert not any(e == "response.completed" for e, _d in frames)


def test_stream_error_claude_is_an_error_event(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    body = {"model": "claude-opus-4-6", "max_tokens": 200, "messages": MSG}
    frames = sse(stream(sim_url, "/v1/messages", body, auth, 4))
    assert [e for e, _d in frames] == ["message_start", "ping", "content_block_start", "content_block_delta",
                                       "error"]
    data = frames[-1][1]
    assert data["type"] == "error" and set(data["error"]) == {"type", "message"}


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_stream_error_gemini_is_a_google_error_frame(sim_url: str, sse: Any, version: str) -> None:
    key = {"x-goog-api-key": "sk-googlekey"}
    frames = sse(stream(sim_url, f"/{version}/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                        GEMINI_BODY, key, 2))
    assert len(frames) == 3 and all("candidates" in d for _e, d in frames[:2])
    err = frames[2][1]["error"]
    assert isinstance(err["code"], int) and err["status"] == "UNAVAILABLE" and err["message"]


def test_stream_error_after_zero_and_beyond_the_end(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    body = {"model": "gpt-5.4", "messages": MSG}
    first = sse(stream(sim_url, "/v1/chat/completions", body, auth, 0))
    assert len(first) == 1 and "error" in first[0][1]
    whole = sse(stream(sim_url, "/v1/chat/completions", body, auth, 10_000))  # a shorter answer ends normally
    assert whole[-1][1] == "[DONE]" and not any(isinstance(d, dict) and "error" in d for _e, d in whole)
    plain = post(sim_url, "/v1/chat/completions", body, {**auth, "X-Sim-Faults": '{"stream_error_after": 0}'})
    assert plain.status_code == 200 and plain.json()["choices"][0]["message"]["content"]  # streams only


# --- what the service refuses or counts on the native routes (reference §2.3, §2.4) -------------------------


@pytest.mark.parametrize("messages", [
    [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hi"}],  # system belongs in `system`
    [{"role": "developer", "content": "be kind"}, {"role": "user", "content": "hi"}],
    [{"role": "tool", "content": "42"}],
    [{"content": "hi"}],
])
def test_claude_refuses_a_turn_that_is_not_user_or_assistant(sim_url: str, auth: dict[str, str],
                                                             messages: list[dict[str, Any]]) -> None:
    r = post(sim_url, "/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 50, "messages": messages}, auth)
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "role" in body["error"]["message"]


@pytest.mark.parametrize("max_tokens", [0, -5, True, 2.5, "100"])
def test_claude_refuses_a_max_tokens_that_is_not_a_positive_whole_number(sim_url: str, auth: dict[str, str],
                                                                         max_tokens: Any) -> None:
    r = post(sim_url, "/v1/messages", {"model": "claude-opus-4-6", "max_tokens": max_tokens, "messages": MSG}, auth)
    assert r.status_code == 400
    assert r.json()["type"] == "error" and "max_tokens" in r.json()["error"]["message"]


@pytest.mark.parametrize("role", ["assistant", "system", "bot"])
def test_gemini_refuses_a_role_other_than_user_or_model(sim_url: str, auth: dict[str, str], role: str) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}, {"role": role, "parts": [{"text": "yo"}]},
                         {"role": "user", "parts": [{"text": "and?"}]}]}
    r = post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", body, auth)
    assert r.status_code == 400
    assert "valid role" in r.json()["error"]["message"]
    ok = {"contents": [{"parts": [{"text": "hi"}]}, {"role": "model", "parts": [{"text": "yo"}]},
                       {"role": "user", "parts": [{"text": "and?"}]}]}  # an unset role is the user's
    assert post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", ok, auth).status_code == 200


@pytest.mark.parametrize("key", ["system_instruction", "systemInstruction"])
def test_gemini_counts_the_system_instruction_as_prompt(sim_url: str, auth: dict[str, str], key: str) -> None:
    """The system instruction is billed as prompt (as Claude's `system` and chat's system message are)."""
    contents = [{"role": "user", "parts": [{"text": "Why is the sky blue?"}]}]
    bare = post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", {"contents": contents}, auth).json()
    body = {"contents": contents, key: {"parts": [{"text": "Answer as a patient physics teacher would. " * 20}]}}
    told = post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", body, auth).json()
    extra = told["usageMetadata"]["promptTokenCount"] - bare["usageMetadata"]["promptTokenCount"]
    assert extra > 100
    um = told["usageMetadata"]
    assert um["totalTokenCount"] == um["promptTokenCount"] + um["candidatesTokenCount"]


# --- a body the relay's request struct cannot hold is its 400, never a 500 or an answer (§10.5) -------------------

_BAD_TYPES = [
    ("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": ["hi"]}, "messages[0]"),
    ("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": 5}]},
     "messages[0].content"),
    ("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": [5]}]},
     "messages[0].content[0]"),
    ("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": MSG, "tools": 5}, "tools"),
    ("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": MSG, "tools": [5]}, "tools[0]"),
    ("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": MSG, "response_format": "json"}, "response_format"),
    ("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": MSG, "stream": True, "stream_options": 5},
     "stream_options"),
    ("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": MSG, "max_completion_tokens": 2.5},
     "max_completion_tokens"),
    ("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": MSG, "stream": "yes"}, "stream"),
    ("/v1/responses", {"model": "gpt-5.4", "input": 5}, "input"),
    ("/v1/responses", {"model": "gpt-5.4", "input": ["hi"]}, "input[0]"),
    ("/v1/responses", {"model": "gpt-5.4", "input": "hi", "text": "json"}, "text"),
    ("/v1/responses", {"model": "gpt-5.4", "input": "hi", "reasoning": "high"}, "reasoning"),
    ("/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 10, "messages": [5]}, "messages[0]"),
    ("/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 10, "messages": MSG, "system": 5}, "system"),
    ("/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 10, "messages": MSG, "tools": [5]}, "tools[0]"),
    ("/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 10, "messages": MSG, "thinking": 2048}, "thinking"),
    ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [5]}, "contents[0]"),
    ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [{"parts": 5}]}, "contents[0].parts"),
    ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [{"parts": [{"text": 5}]}]},
     "contents[0].parts[0].text"),
    ("/v1beta/models/gemini-2.5-flash:generateContent",
     {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": 5}, "generationConfig"),
    ("/v1beta/models/gemini-2.5-flash:generateContent",
     {"contents": [{"parts": [{"text": "hi"}]}], "tools": [{"functionDeclarations": 5}]}, "tools[0].functionDeclarations"),
    ("/v1beta/models/gemini-2.5-flash:generateContent",
     {"contents": [{"parts": [{"text": "hi"}]}], "system_instruction": {"parts": 5}}, "system_instruction.parts"),
]


@pytest.mark.parametrize("path, body, field", _BAD_TYPES, ids=[f"{p.rsplit('/', 1)[-1]}-{f}" for p, _b, f in _BAD_TYPES])
def test_a_field_of_the_wrong_json_type_is_a_400_naming_it(sim_url: str, auth: dict[str, str], path: str,
                                                          body: dict[str, Any], field: str) -> None:
    r = post(sim_url, path, body, auth)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert f"{field} must be" in err["message"]
    assert r.json().get("type") == "error" if path == "/v1/messages" else err["type"] == "new_api_error"


def test_null_is_every_field_s_zero_value(sim_url: str, auth: dict[str, str]) -> None:
    """Go's decoder takes ``null`` for any field (its zero value): those bodies are answered."""
    for path, body in [("/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": MSG, "tools": None,
                                                 "response_format": None, "max_tokens": None}),
                       ("/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 10, "messages": MSG,
                                         "system": None, "thinking": None}),
                       ("/v1beta/models/gemini-2.5-flash:generateContent",
                        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": None})]:
        assert post(sim_url, path, body, auth).status_code == 200, path


def _tool_turn(first: dict[str, Any], *rest: dict[str, Any]) -> dict[str, Any]:
    """A Gemini body whose turn in progress holds a model step with the calls ``first``, ``rest`` and their answer."""
    calls = [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, **first},
             *({"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}, **r} for r in rest)]
    return {"contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]},
                         {"role": "model", "parts": calls},
                         {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                                          "response": {"t": 21}}}] * len(calls)}]}


def test_gemini_3_refuses_a_turn_whose_call_is_unsigned_uncharged(sim_url: str, auth: dict[str, str]) -> None:
    """Google's thought-signatures rule: in the turn in progress, a model step's first function call carries its
    ``thoughtSignature`` (Google's placeholder passes); parallel calls after it, earlier turns and Gemini 2.5 are not
    checked. The 400 costs nothing."""
    def used() -> float:
        return float(httpx.get(sim_url + "/v1/dashboard/billing/usage", headers=auth, timeout=30)
                     .json()["total_usage"])

    three = "/v1beta/models/gemini-3-flash-preview:generateContent"
    before = used()
    r = post(sim_url, three, _tool_turn({}), auth)
    assert r.status_code == 400 and "missing a thought_signature" in r.text and "`get_weather`" in r.text
    assert used() == before
    for body in (_tool_turn({"thoughtSignature": "c2lnLTE="}, {}),
                 _tool_turn({"thoughtSignature": "skip_thought_signature_validator"})):
        assert post(sim_url, three, body, auth).status_code == 200
    older = _tool_turn({})
    older["contents"] += [{"role": "model", "parts": [{"text": "21 C"}]},
                          {"role": "user", "parts": [{"text": "And Rome?"}]}]
    assert post(sim_url, three, older, auth).status_code == 200
    assert post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", _tool_turn({}), auth).status_code == 200


def test_gemini_3_signs_its_function_call_parts(sim_url: str, auth: dict[str, str]) -> None:
    """§2.4: Gemini 3 returns ``thoughtSignature`` on parts (here: the function call's); 2.5 does not."""
    tools = [{"functionDeclarations": [{"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}]
    body = {"contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}], "tools": tools,
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}
    three = post(sim_url, "/v1beta/models/gemini-3-flash-preview:generateContent", body, auth).json()
    part = three["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"]["name"] == "get_weather" and isinstance(part["thoughtSignature"], str)
    base64.b64decode(part["thoughtSignature"], validate=True)
    two = post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", body, auth).json()
    assert "thoughtSignature" not in two["candidates"][0]["content"]["parts"][0]


def test_claude_answers_one_tool_use_per_named_tool_unless_parallel_use_is_disabled(sim_url: str,
                                                                                  auth: dict[str, str]) -> None:
    """Several tool_use blocks in one Messages answer (§2.3 lists them among the content blocks); Anthropic's
    ``tool_choice.disable_parallel_tool_use`` makes it one."""
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
             {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}}}]
    body = {"model": "claude-opus-4-6-cc", "max_tokens": 512, "tools": tools,
            "messages": [{"role": "user", "content": "Call get_weather and get_time"}]}
    blocks = post(sim_url, "/v1/messages", body, auth).json()["content"]
    uses = [b for b in blocks if b["type"] == "tool_use"]
    assert [b["name"] for b in uses] == ["get_weather", "get_time"] and len({b["id"] for b in uses}) == 2
    one = post(sim_url, "/v1/messages", {**body, "tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
               auth).json()["content"]
    assert [b["name"] for b in one if b["type"] == "tool_use"] == ["get_weather"]


def test_openai_and_claude_refuse_a_tool_name_that_only_gemini_takes(sim_url: str, auth: dict[str, str]) -> None:
    """Gemini takes '.' and ':' in a function name; OpenAI's protocols and Claude's take ^[a-zA-Z0-9_-]{1,64}$ and
    answer 400 (a tool, or an earlier turn's call). The simulator took any name, so a notebook met this only live."""
    fn = {"name": "weather.get", "parameters": {"type": "object", "properties": {}}}
    chat = post(sim_url, "/v1/chat/completions", {"model": "gpt-5.2", "messages": MSG,
                                                  "tools": [{"type": "function", "function": fn}]}, auth)
    assert chat.status_code == 400 and "tools[0].function.name" in chat.json()["error"]["message"]
    earlier = [MSG[0], {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "weather.get", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
    assert post(sim_url, "/v1/chat/completions", {"model": "gpt-5.2", "messages": earlier}, auth).status_code == 400
    responses = post(sim_url, "/v1/responses", {"model": "gpt-5.4", "input": "hi", "tools": [{"type": "function",
                                                                                             **fn}]}, auth)
    assert responses.status_code == 400
    claude = post(sim_url, "/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 64, "messages": MSG, "tools": [
        {"name": "weather:get", "input_schema": {"type": "object"}}]}, auth)
    assert claude.status_code == 400 and "^[a-zA-Z0-9_-]{1,64}$" in claude.text
    fn["name"] = "get_weather"
    assert post(sim_url, "/v1/chat/completions", {"model": "gpt-5.2", "messages": MSG,
                                                  "tools": [{"type": "function", "function": fn}]}, auth).is_success
    gemini = post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [{"functionDeclarations": [{"name": "weather.get", "parameters": {"type": "object"}}]}]}, auth)
    assert gemini.is_success


def test_bad_tool_arguments_reach_a_claude_stream_and_nothing_else_of_claude_or_gemini(sim_url: str,
                                                                                       auth: dict[str, str],
                                                                                       sse: Any) -> None:
    """``Faults(bad_tool_arguments=True)`` on Claude's Messages (§2.3): a stream's ``input_json_delta`` pieces of
    the last tool_use join into no JSON, under ``stop_reason: tool_use``, as a model's slip comes; a whole answer's
    ``tool_use.input`` and Gemini's ``functionCall.args`` are objects on the wire, so they stay whole."""
    faults = {**auth, "X-Sim-Faults": json.dumps({"bad_tool_arguments": True})}
    body = {"model": "claude-opus-4-6", "max_tokens": 400, "messages": MSG,
            "tools": [{"name": "lookup", "input_schema": TOOL["function"]["parameters"]}],
            "tool_choice": {"type": "tool", "name": "lookup"}}
    frames = sse(post(sim_url, "/v1/messages", {**body, "stream": True}, faults).content)
    partial = "".join(d["delta"]["partial_json"] for _e, d in frames
                      if d.get("type") == "content_block_delta" and d["delta"]["type"] == "input_json_delta")
    assert partial.startswith("{")
    with pytest.raises(ValueError):
        json.loads(partial)
    stop = [d["delta"]["stop_reason"] for _e, d in frames if d.get("type") == "message_delta"]
    assert stop == ["tool_use"] and frames[-1][1]["type"] == "message_stop"
    whole = post(sim_url, "/v1/messages", body, faults).json()
    assert isinstance(next(b for b in whole["content"] if b["type"] == "tool_use")["input"], dict)
    fc = post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", {
        **GEMINI_BODY, "tools": [{"functionDeclarations": [{"name": "lookup",
                                                             "parameters": TOOL["function"]["parameters"]}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}, faults).json()
    assert isinstance(fc["candidates"][0]["content"]["parts"][0]["functionCall"]["args"], dict)
