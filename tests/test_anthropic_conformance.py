"""The official ``anthropic`` SDK, pointed at the loopback simulator: Claude's native ``/v1/messages`` as the
service answers it (text, thinking, streaming, tool use and tool results, errors)."""

from __future__ import annotations

import pytest

anthropic = pytest.importorskip("anthropic")

KEY = "sk-test-conformance"
TOOLS = [{"name": "get_weather", "description": "The weather in a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the SDK warns about thinking.type=enabled


@pytest.fixture
def ac(sim_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim_url, api_key=KEY, max_retries=0, timeout=30)


def test_messages_non_stream(ac: anthropic.Anthropic) -> None:
    m = ac.messages.create(model="claude-opus-4-6", max_tokens=300, system="Be brief",
                           messages=[{"role": "user", "content": "Hi Claude SDK"}])
    assert m.type == "message" and m.role == "assistant" and m.stop_reason == "end_turn"
    assert m.content[0].type == "text" and "Hi Claude SDK" in m.content[0].text
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0


def test_messages_stream_with_thinking(ac: anthropic.Anthropic) -> None:
    with ac.messages.stream(model="claude-opus-4-6", max_tokens=2000,
                            thinking={"type": "enabled", "budget_tokens": 1024},
                            messages=[{"role": "user", "content": "Stream SDK"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "Stream SDK" in text and [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[1].text == text and final.content[0].signature
    assert final.usage.output_tokens > 0 and final.stop_reason == "end_turn"


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_and_tool_results(ac: anthropic.Anthropic, stream: bool) -> None:
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        with ac.messages.stream(model="claude-sonnet-4-5-20250929", max_tokens=300, messages=ask, tools=TOOLS,
                                tool_choice={"type": "tool", "name": "get_weather"}) as s:
            m = s.get_final_message()
    else:
        m = ac.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=300, messages=ask, tools=TOOLS,
                               tool_choice={"type": "any"})
    use = next(b for b in m.content if b.type == "tool_use")
    assert m.stop_reason == "tool_use" and use.name == "get_weather" and isinstance(use.input["city"], str)
    follow = ac.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=300, tools=TOOLS, messages=[
        *ask, {"role": "assistant", "content": m.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 25 C"}]}])
    assert follow.stop_reason == "end_turn" and "sunny, 25 C" in follow.content[0].text


def test_errors_are_typed(ac: anthropic.Anthropic, sim_url: str) -> None:
    bad = anthropic.Anthropic(base_url=sim_url, api_key="not a key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        bad.messages.create(model="claude-opus-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert set(info.value.body["error"]) == {"message", "type", "code"}  # auth is middleware: OpenAI envelope
    limited = ac.with_options(default_headers={"X-Sim-Faults": '{"fail_first": {"429": 1}}'})
    with pytest.raises(anthropic.RateLimitError) as limit:
        limited.messages.create(model="claude-opus-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert limit.value.body["type"] == "error"  # a relay error: the Claude envelope on this route
