"""Simon Willison's ``llm``, with an OpenAI-compatible model pointed at the loopback simulator: prompts,
streaming, schemas and a tool chain (the library runs the tool and sends its result back)."""

from __future__ import annotations

from pathlib import Path

import pytest

llm = pytest.importorskip("llm")

KEY = "sk-test-conformance"


@pytest.fixture
def model(sim_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path))  # llm keeps its logs and keys here, never in $HOME
    from llm.default_plugins.openai_models import Chat

    return Chat("tokenhot-gpt", key=KEY, model_name="gpt-5.4-mini", api_base=sim_url + "/v1",
                supports_schema=True, supports_tools=True)


def test_prompt_and_stream(model: object) -> None:
    r = model.prompt("Hi llm", stream=False)  # type: ignore[attr-defined]
    assert "Hi llm" in r.text() and r.usage().input > 0 and r.usage().output > 0
    assert "Stream llm" in "".join(model.prompt("Stream llm"))  # type: ignore[attr-defined]


def test_schema(model: object) -> None:
    import json

    r = model.prompt("Describe Paris", schema=llm.schema_dsl("name, population int"))  # type: ignore[attr-defined]
    data = json.loads(r.text())
    assert set(data) == {"name", "population"} and isinstance(data["population"], int)


def test_tool_chain(model: object) -> None:
    seen: list[str] = []

    def get_weather(city: str) -> str:
        "The weather in a city."
        seen.append(city)
        return "sunny, 25 C"

    chain = model.conversation(tools=[get_weather]).chain("Weather in Paris?")  # type: ignore[attr-defined]
    assert "sunny, 25 C" in chain.text() and len(seen) == 1
    calls = [tc for resp in chain.responses() for tc in resp.tool_calls()]
    assert [c.name for c in calls] == ["get_weather"] and calls[0].arguments["city"] == seen[0]
