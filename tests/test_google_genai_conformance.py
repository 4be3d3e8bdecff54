"""The official ``google-genai`` SDK, pointed at the loopback simulator: Gemini native under its default
``/v1`` and under ``/v1beta``, streaming, JSON schemas, function calling (manual and automatic) and TTS."""

from __future__ import annotations

import typing

import pytest

genai = pytest.importorskip("google.genai")
types = pytest.importorskip("google.genai.types")
pydantic = pytest.importorskip("pydantic")

KEY = "sk-test-conformance"


def client(sim_url: str, version: str | None = None) -> genai.Client:
    opts = types.HttpOptions(base_url=sim_url, api_version=version) if version else types.HttpOptions(base_url=sim_url)
    return genai.Client(api_key=KEY, http_options=opts)


@pytest.mark.parametrize("version", [None, "v1", "v1beta"])  # None: the SDK's default (v1)
def test_generate_content(sim_url: str, version: str | None) -> None:
    c = client(sim_url, version)  # keep the client alive: it closes its connections when collected
    r = c.models.generate_content(model="gemini-2.5-flash", contents="Hi Gemini SDK")
    assert r.text and "Hi Gemini SDK" in r.text
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    um = r.usage_metadata
    assert um.total_token_count == um.prompt_token_count + um.candidates_token_count


def test_generate_content_stream(sim_url: str) -> None:
    c = client(sim_url)
    chunks = list(c.models.generate_content_stream(model="gemini-3.1-pro-preview", contents="Stream me"))
    assert len(chunks) > 2 and "Stream me" in "".join(c.text or "" for c in chunks)
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


class City(pydantic.BaseModel):
    name: str
    population: int


def test_response_schema_is_answered_in_shape(sim_url: str) -> None:
    c = client(sim_url)
    r = c.models.generate_content(
        model="gemini-2.5-pro", contents="Describe Paris",
        config=types.GenerateContentConfig(response_mime_type="application/json", response_schema=City))
    assert isinstance(r.parsed, City) and City.model_validate_json(r.text or "") == r.parsed


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


# Real types, not the strings `from __future__ import annotations` leaves: google-genai 2.x (the release that
# installs on Python 3.10) checks the arguments with isinstance against the annotations as written.
get_weather.__annotations__ = typing.get_type_hints(get_weather)


def test_function_calling_manual_and_automatic(sim_url: str) -> None:
    c = client(sim_url)
    manual = c.models.generate_content(
        model="gemini-2.5-flash", contents="Weather in Paris?",
        config=types.GenerateContentConfig(
            tools=[get_weather], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY"))))
    calls = manual.function_calls or []
    assert [f.name for f in calls] == ["get_weather"] and isinstance(calls[0].args["city"], str)
    auto = c.models.generate_content(model="gemini-2.5-flash", contents="Weather in Paris?",
                                     config=types.GenerateContentConfig(tools=[get_weather]))
    assert "sunny in" in (auto.text or "")  # the SDK ran the function and sent its result back
    assert len(auto.automatic_function_calling_history or []) == 3


def test_tts_with_the_sdk_voice_config(sim_url: str) -> None:
    c = client(sim_url)

    def speak(voice: str) -> bytes:
        r = c.models.generate_content(
            model="gemini-2.5-flash-preview-tts", contents="Say hello",
            config=types.GenerateContentConfig(response_modalities=["AUDIO"], speech_config=types.SpeechConfig(
                voice_config=types.VoiceConfig(prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)))))
        inline = r.candidates[0].content.parts[0].inline_data
        assert inline.mime_type == "audio/L16;codec=pcm;rate=24000"
        return bytes(inline.data)

    puck, kore = speak("Puck"), speak("Kore")
    assert len(puck) > 4800 and puck != kore
    with pytest.raises(genai.errors.ClientError, match="alloy"):
        speak("alloy")


def test_a_bad_key_is_refused(sim_url: str) -> None:
    bad = genai.Client(api_key="not a key", http_options=types.HttpOptions(base_url=sim_url))
    with pytest.raises(genai.errors.ClientError) as info:
        bad.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert info.value.code == 401
