"""The official ``openai`` SDK, pointed at the loopback simulator, parses every answer it gets."""

from __future__ import annotations

import base64
import io

import httpx
import openai
import pytest
from PIL import Image

KEY = "sk-test-conformance"
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # SDK marks translations


@pytest.fixture
def oa(sim_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim_url + "/v1", api_key=KEY, max_retries=0, timeout=30)


def test_chat_non_stream(oa: openai.OpenAI) -> None:
    r = oa.chat.completions.create(model="gpt-5.4-mini", messages=[{"role": "user", "content": "Hi SDK"}],
                                   max_tokens=200)
    assert r.object == "chat.completion" and r.model == "gpt-5.4-mini"
    assert r.choices[0].message.role == "assistant" and "Hi SDK" in (r.choices[0].message.content or "")
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_chat_stream_with_usage(oa: openai.OpenAI) -> None:
    stream = oa.chat.completions.create(model="gpt-5.4", messages=[{"role": "user", "content": "Stream SDK"}],
                                        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Stream SDK" in text
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)


def test_chat_rate_limit_is_typed(oa: openai.OpenAI, sim_url: str) -> None:
    limited = oa.with_options(default_headers={"X-Sim-Faults": '{"fail_first": {"429": 1}}'})
    with pytest.raises(openai.RateLimitError) as info:
        limited.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "x"}])
    assert "(request id: " in str(info.value)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=sim_url + "/v1", api_key="bad", max_retries=0).models.list()


def test_responses_non_stream(oa: openai.OpenAI) -> None:
    r = oa.responses.create(model="gpt-5.4", input="Responses SDK", instructions="short",
                            reasoning={"effort": "low", "summary": "auto"})
    assert r.status == "completed" and "Responses SDK" in r.output_text
    assert r.usage is not None and r.usage.output_tokens_details.reasoning_tokens > 0
    assert [o.type for o in r.output] == ["reasoning", "message"]


def test_responses_stream(oa: openai.OpenAI) -> None:
    events = list(oa.responses.create(model="gpt-5", input="Streamed responses", stream=True))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "Streamed responses" in deltas
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == deltas


def test_images_generate(oa: openai.OpenAI) -> None:
    r = oa.images.generate(model="gpt-image-2", prompt="SDK picture", size="1024x1024", n=2)
    assert r.data is not None and len(r.data) == 2 and r.data[0].url
    png = httpx.get(r.data[0].url).content
    assert Image.open(io.BytesIO(png)).size == (1024, 1024)
    b = oa.images.generate(model="dall-e-3", prompt="SDK b64", response_format="b64_json", size="1792x1024")
    assert b.data is not None and b.data[0].b64_json and b.data[0].revised_prompt
    assert Image.open(io.BytesIO(base64.b64decode(b.data[0].b64_json))).size == (1792, 1024)


def test_images_edit(oa: openai.OpenAI) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 30, 30)).save(buf, "PNG")
    r = oa.images.edit(model="dall-e-2", image=("in.png", buf.getvalue(), "image/png"), prompt="SDK edit",
                       size="256x256")
    assert r.data is not None and r.data[0].url
    img = Image.open(io.BytesIO(httpx.get(r.data[0].url).content)).convert("RGB")
    px = img.getpixel((128, 200))
    assert isinstance(px, tuple)
    red, green = px[0], px[1]
    assert img.size == (256, 256) and red > green


def _speech(oa: openai.OpenAI, text: str) -> bytes:
    return oa.audio.speech.create(model="mimo-v2.5-tts", voice="alloy", input=text, response_format="wav").content


def test_audio_transcriptions(oa: openai.OpenAI) -> None:
    audio = _speech(oa, "Conformance check. Second sentence.")
    t = oa.audio.transcriptions.create(model="whisper-1", file=("a.wav", audio, "audio/wav"))
    assert t.text == "Conformance check. Second sentence."
    v = oa.audio.transcriptions.create(model="whisper-1", file=("a.wav", audio, "audio/wav"),
                                       response_format="verbose_json", language="en")
    assert v.language == "english" and v.segments is not None and len(v.segments) == 2
    assert v.segments[1].start >= v.segments[0].end
    srt = oa.audio.transcriptions.create(model="whisper-1", file=("a.wav", audio, "audio/wav"),
                                         response_format="srt")
    assert isinstance(srt, str) and "Second sentence." in srt


def test_audio_translations(oa: openai.OpenAI) -> None:
    audio = _speech(oa, "Bonjour à tous")
    tr = oa.audio.translations.create(model="whisper-1", file=("b.wav", audio, "audio/wav"))
    assert tr.text == "Bonjour à tous"  # Latin script counts as already English in the simulator
    zh = _speech(oa, "早上好")
    tr = oa.audio.translations.create(model="whisper-1", file=("c.wav", zh, "audio/wav"))
    assert tr.text == "[translated to English] 早上好"
