"""``litellm``, pointed at the loopback simulator through three of its providers: ``openai/`` (chat completions:
plain, streamed, tools, pydantic response_format), ``anthropic/`` (native messages) and ``gemini/`` (native
generateContent). litellm is imported offline (its local model-cost map, no fetch)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")
pydantic = pytest.importorskip("pydantic")

KEY = "sk-test-conformance"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


class City(pydantic.BaseModel):
    name: str
    population: int


def test_openai_provider(sim_url: str) -> None:
    kw = {"model": "openai/gpt-5.4-mini", "api_base": sim_url + "/v1", "api_key": KEY}
    r = litellm.completion(messages=[{"role": "user", "content": "Hi litellm"}], **kw)
    assert "Hi litellm" in r.choices[0].message.content and r.usage.total_tokens > 0
    chunks = litellm.completion(messages=[{"role": "user", "content": "Stream litellm"}], stream=True, **kw)
    assert "Stream litellm" in "".join(c.choices[0].delta.content or "" for c in chunks)
    t = litellm.completion(messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS, tool_choice="required",
                           **kw)
    assert t.choices[0].finish_reason == "tool_calls"
    assert t.choices[0].message.tool_calls[0].function.name == "get_weather"
    s = litellm.completion(messages=[{"role": "user", "content": "Paris"}], response_format=City, **kw)
    assert isinstance(City.model_validate_json(s.choices[0].message.content), City)


def test_anthropic_and_gemini_providers(sim_url: str) -> None:
    c = litellm.completion(model="anthropic/claude-opus-4-6", api_base=sim_url, api_key=KEY, max_tokens=200,
                           messages=[{"role": "user", "content": "Hi Claude via litellm"}])
    assert "Hi Claude via litellm" in c.choices[0].message.content and c.usage.completion_tokens > 0
    g = litellm.completion(model="gemini/gemini-2.5-flash", api_base=sim_url + "/v1beta", api_key=KEY,
                           messages=[{"role": "user", "content": "Hi Gemini via litellm"}])
    assert "Hi Gemini via litellm" in g.choices[0].message.content
