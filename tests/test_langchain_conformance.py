"""``langchain-openai``'s ChatOpenAI, pointed at the loopback simulator: invoke, stream, structured output
(function calling and JSON mode), bound tools, and the Responses API."""

from __future__ import annotations

import pytest

langchain_openai = pytest.importorskip("langchain_openai")
pydantic = pytest.importorskip("pydantic")

KEY = "sk-test-conformance"


def chat_model(sim_url: str, model: str = "gpt-5.4-mini", **kw: object) -> langchain_openai.ChatOpenAI:
    return langchain_openai.ChatOpenAI(model=model, base_url=sim_url + "/v1", api_key=KEY, max_retries=0, **kw)


class City(pydantic.BaseModel):
    name: str
    population: int


def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


def test_invoke_and_stream(sim_url: str) -> None:
    llm = chat_model(sim_url)
    m = llm.invoke("Hi LangChain")
    assert "Hi LangChain" in m.content and m.usage_metadata["total_tokens"] > 0
    assert m.response_metadata["finish_reason"] == "stop"
    streamed = "".join(str(c.content) for c in llm.stream("Stream LangChain"))
    assert "Stream LangChain" in streamed


def test_structured_output(sim_url: str) -> None:
    llm = chat_model(sim_url)
    city = llm.with_structured_output(City).invoke("Describe Paris")  # json_schema response_format
    assert isinstance(city, City)
    by_tool = llm.with_structured_output(City, method="function_calling").invoke("Describe Lyon")
    assert isinstance(by_tool, City)
    loose = llm.with_structured_output({"title": "Any", "type": "object"}, method="json_mode").invoke("In JSON")
    assert isinstance(loose, dict) and loose


def test_bound_tools_and_a_tool_message(sim_url: str) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage

    llm = chat_model(sim_url).bind_tools([get_weather], tool_choice="required")
    ask = HumanMessage("Weather in Paris?")
    call = llm.invoke([ask])
    assert [c["name"] for c in call.tool_calls] == ["get_weather"] and isinstance(call.tool_calls[0]["args"]["city"], str)
    answer = chat_model(sim_url).bind_tools([get_weather]).invoke(
        [ask, call, ToolMessage("sunny, 25 C", tool_call_id=call.tool_calls[0]["id"])])
    assert answer.tool_calls == [] and "sunny, 25 C" in answer.content


def test_responses_api(sim_url: str) -> None:
    m = chat_model(sim_url, "gpt-5.4", use_responses_api=True).invoke("Hi Responses")
    text = m.content if isinstance(m.content, str) else "".join(p.get("text", "") for p in m.content)
    assert "Hi Responses" in text and m.usage_metadata["output_tokens"] > 0
