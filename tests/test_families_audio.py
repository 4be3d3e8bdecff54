"""Audio family: Gemini TTS and /v1/audio/speech bodies, speech replies to WAV, Whisper multipart and parsers."""

from __future__ import annotations

import base64
import io
import json
import wave
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb import catalog
from tokenhot_nb.errors import InputError, UnsupportedOptionError
from tokenhot_nb.families import audio

FIX = Path(__file__).parent / "fixtures" / "reference"


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


def wav_info(data: bytes) -> tuple[int, int, int, int]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()


# --- speech ---------------------------------------------------------------------------------------------------


def test_gemini_tts_matches_the_documented_request() -> None:
    doc = load("gemini_tts_request.json")
    call = audio.build_speech(catalog.model("gemini-2.5-flash-preview-tts"), doc["contents"][0]["parts"][0]["text"])
    assert call.path == "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent"
    assert call.json == doc and call.expect == "json"
    puck = audio.build_speech(catalog.model("gemini-2.5-pro-preview-tts"), "hi", voice="puck").json
    assert puck is not None
    assert puck["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]["voiceName"] == "Puck"


def test_voice_validation_suggests_the_closest() -> None:
    with pytest.raises(UnsupportedOptionError, match=r"no voice 'Koree'\. Did you mean 'Kore'\?") as exc:
        audio.build_speech(catalog.model("gemini-tts"), "hi", voice="Koree")
    assert "Zephyr" in str(exc.value)
    with pytest.raises(UnsupportedOptionError, match="Did you mean 'Charon'"):
        audio.build_speech(catalog.model("gemini-tts"), "hi", voice="charron")


def test_audio_speech_fallback_and_openai_tts() -> None:
    call = audio.build_speech(catalog.model("gemini-tts"), "hi", endpoint="audio.speech")
    assert (call.path, call.expect) == ("/v1/audio/speech", "bytes")
    assert call.json == {"model": "gemini-2.5-flash-preview-tts", "input": "hi", "voice": "Kore", "response_format": "wav"}
    tts1 = catalog.model("tts-1", family="openai-tts")
    body = audio.build_speech(tts1, "hi", voice="nova", extra={"speed": 1.5}).json
    assert body == {"model": "tts-1", "input": "hi", "voice": "nova", "response_format": "wav", "speed": 1.5}
    assert audio.build_speech(tts1, "x", raw={"model": "tts-1", "input": "raw"}).json == {"model": "tts-1", "input": "raw"}
    with pytest.raises(UnsupportedOptionError, match=r"not served on 'gemini\.generate'"):
        audio.build_speech(tts1, "hi", endpoint="gemini.generate")
    with pytest.raises(UnsupportedOptionError, match="does not speak"):
        audio.build_speech(catalog.model("whisper-1"), "hi")
    with pytest.raises(InputError):
        audio.build_speech(catalog.model("gemini-tts"), " ")


def test_parse_documented_gemini_tts_pcm_to_wav() -> None:
    body = load("gemini_tts_response.json")
    reply = audio.parse_speech(catalog.model("gemini-tts"), body, "application/json")
    assert reply.mime == "audio/wav" and reply.url is None
    assert reply.wav[:4] == b"RIFF"
    assert wav_info(reply.wav) == (1, 2, 24000, 2400)
    assert reply.usage.input_tokens == 9 and reply.usage.output_tokens == 75
    # the same reply as raw JSON bytes
    as_bytes = audio.parse_speech(None, json.dumps(body).encode(), "application/json")
    assert as_bytes.wav == reply.wav


def test_parse_speech_rate_from_mime_and_snake_case() -> None:
    pcm = b"\x01\x00" * 1600
    body = {"candidates": [{"content": {"parts": [{"inline_data": {"mime_type": "audio/L16;rate=16000",
                                                                   "data": base64.b64encode(pcm).decode()}}]}}]}
    assert wav_info(audio.parse_speech(None, body).wav)[2:] == (16000, 1600)


def test_parse_speech_wav_url_and_raw_bytes() -> None:
    wav = audio.pcm_to_wav(b"\x00\x00" * 10, 8000)
    b64wav = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "audio/wav",
                                                                    "data": base64.b64encode(wav).decode()}}]}}]}
    assert audio.parse_speech(None, b64wav).wav == wav
    url = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "audio/wav",
                                                                 "data": "https://cdn.example.com/a.wav"}}]}}]}
    r = audio.parse_speech(None, url)
    assert r.url == "https://cdn.example.com/a.wav" and r.wav == b""
    assert audio.parse_speech(None, wav, "audio/wav").wav == wav
    mp3 = audio.parse_speech(None, b"ID3\x03rest", "audio/mpeg")
    assert mp3.mime == "audio/mpeg" and mp3.wav == b"ID3\x03rest"
    pcm = audio.parse_speech(None, b"\x00\x00" * 4, "audio/pcm")
    assert wav_info(pcm.wav) == (1, 2, 24000, 4)
    assert audio.parse_speech(None, {"url": "https://x/y.mp3"}).url == "https://x/y.mp3"
    with pytest.raises(InputError, match="no audio"):
        audio.parse_speech(None, {"candidates": [{"content": {"parts": [{"text": "sorry"}]}}]})


def test_pcm_to_wav_header() -> None:
    out = audio.pcm_to_wav(b"\x01\x02" * 100 + b"\x03")  # torn last frame is dropped
    assert out[:4] == b"RIFF" and out[8:12] == b"WAVE"
    assert wav_info(out) == (1, 2, 24000, 100)


# --- transcription --------------------------------------------------------------------------------------------


def test_whisper_transcription_multipart() -> None:
    call = audio.build_transcription(catalog.model("whisper-1(音频转中文)"), b"RIFFdata", "clip.wav", language="ZH",
                                     format="verbose_json", prompt="以下是普通话。")
    assert (call.path, call.expect, call.json) == ("/v1/audio/transcriptions", "json", None)
    assert call.data == {"model": "whisper-1", "response_format": "verbose_json", "language": "zh",
                         "prompt": "以下是普通话。", "timestamp_granularities[]": ["segment"]}
    assert [(f.field, f.filename, f.content_type, f.data) for f in call.files] == [
        ("file", "clip.wav", "audio/wav", b"RIFFdata")]


def test_whisper_translation_and_text_formats() -> None:
    call = audio.build_transcription(catalog.model("whisper-1"), b"x", "a.mp3", format="srt", translate=True,
                                     extra={"temperature": 0.2})
    assert call.path == "/v1/audio/translations" and call.expect == "text"
    assert call.data == {"model": "whisper-1", "response_format": "srt", "temperature": "0.2"}
    with pytest.raises(UnsupportedOptionError, match="always outputs English"):
        audio.build_transcription(catalog.model("whisper-1"), b"x", "a.mp3", language="zh", translate=True)
    with pytest.raises(UnsupportedOptionError, match=r"format='docx'; allowed: json, text, srt, verbose_json, vtt"):
        audio.build_transcription(catalog.model("whisper-1"), b"x", "a.mp3", format="docx")
    with pytest.raises(UnsupportedOptionError, match="language='xx'"):
        audio.build_transcription(catalog.model("whisper-1"), b"x", "a.mp3", language="xx")
    with pytest.raises(InputError, match="empty"):
        audio.build_transcription(catalog.model("whisper-1"), b"", "a.mp3")


def test_parse_verbose_json_fixture() -> None:
    body = (FIX / "whisper_verbose.json").read_text(encoding="utf-8")
    r = audio.parse_transcription("verbose_json", body)
    assert r.text == "你好,世界。今天天气很好。" and r.language == "chinese" and r.duration == 4.2
    assert [(s.start, s.end, s.text) for s in r.segments] == [(0.0, 1.8, "你好,世界。"), (1.8, 4.2, "今天天气很好。")]
    assert audio.parse_transcription("json", '{"text": " hi "}').text == "hi"
    assert audio.parse_transcription("json", {"text": "dict"}).text == "dict"


def test_parse_by_format_not_content() -> None:
    """A text body that looks like JSON stays text when text was asked for."""
    r = audio.parse_transcription("text", '{"text": "literally this"}\n')
    assert r.text == '{"text": "literally this"}' and r.format == "text"
    plain = audio.parse_transcription("json", "a relay sent plain text")
    assert plain.text == "a relay sent plain text"


def test_parse_srt_and_vtt_segments() -> None:
    srt = "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n00:00:01,500 --> 00:01:02,250\nSecond line\ncontinues.\n"
    r = audio.parse_transcription("srt", srt)
    assert [(s.start, s.end, s.text) for s in r.segments] == [(0.0, 1.5, "Hello there."),
                                                               (1.5, 62.25, "Second line continues.")]
    assert r.text == "Hello there. Second line continues." and r.body == srt
    vtt = "WEBVTT\n\n00:00.000 --> 00:02.000\nFirst\n\n00:00:02.000 --> 00:00:03.500\nSecond\n"
    v = audio.parse_transcription("vtt", vtt.encode())
    assert [(s.start, s.end, s.text) for s in v.segments] == [(0.0, 2.0, "First"), (2.0, 3.5, "Second")]
