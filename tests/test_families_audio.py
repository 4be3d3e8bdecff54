"""Audio family: Gemini TTS and /v1/audio/speech bodies, speech replies to WAV, Whisper multipart and parsers."""

from __future__ import annotations

import base64
import io
import json
import re
import wave
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb import catalog
from tokenhot_nb.errors import APIError, InputError, UnsupportedOptionError
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
    pcm = audio.parse_speech(None, b"\x00\x00" * 24, "audio/pcm")
    assert wav_info(pcm.wav) == (1, 2, 24000, 24)
    assert audio.parse_speech(None, {"url": "https://x/y.mp3"}).url == "https://x/y.mp3"
    with pytest.raises(APIError, match="no audio in it: the model answered with text: 'sorry'"):
        audio.parse_speech(None, {"candidates": [{"content": {"parts": [{"text": "sorry"}]}}]})


@pytest.mark.parametrize("body", [
    {"error": {"message": "用户额度不足, 剩余额度: $0.01", "type": "new_api_error", "code": "insufficient_user_quota"}},
    {"code": "insufficient_user_quota", "message": "用户额度不足", "data": None},
], ids=["openai-envelope", "task-envelope"])
def test_a_speech_error_sent_with_200_is_its_error(body: dict[str, object]) -> None:
    """An error envelope answered with 200 said "no audio in it … the text may be too short or not speakable"
    without its code; it is the relay's error now, with its message and code (JSON or bytes alike)."""
    for answer in (body, json.dumps(body).encode()):
        with pytest.raises(APIError) as exc:
            audio.parse_speech(None, answer, "application/json")
        assert exc.value.message.startswith("The speech answer is an error, not audio: 用户额度不足")
        assert (exc.value.code, exc.value.status) == ("insufficient_user_quota", 200)
        assert "speakable" not in str(exc.value) + (exc.value.hint or "")


MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 60
ADTS = b"\xff\xf1\x50\x80" + b"\x00" * 60


@pytest.mark.parametrize(("data", "declared", "mime"), [
    (b"ID3\x04\x00" + b"\x00" * 40, "audio/mpeg", "audio/mpeg"),
    (MP3_FRAME, "application/octet-stream", "audio/mpeg"),  # a bare MPEG frame whatever the label
    (ADTS, "audio/aac", "audio/aac"),
    (b"ADIF" + b"\x00" * 20, "audio/aac", "audio/aac"),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", "audio/opus", "audio/ogg"),
    (b"fLaC\x00\x00\x00\x22" + b"\x00" * 34, "audio/flac", "audio/flac"),
    (b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 20, "", "audio/mp4"),
    (b"FORM\x00\x00\x00\x10AIFF" + b"\x00" * 8, "text/plain", "audio/aiff"),  # the header wins over a label
], ids=["id3", "mpeg-frame", "adts", "adif", "ogg-opus", "flac", "m4a", "aiff"])
def test_speech_bytes_are_recognised_by_their_magic_numbers(data: bytes, declared: str, mime: str) -> None:
    reply = audio.parse_speech(None, data, declared or None)
    assert (reply.wav, reply.mime) == (data, mime)


@pytest.mark.parametrize("first", [b"\xff\xff", b"\xff\xfb", b"\xff\xf1", b"\xff\xe3"],
                         ids=["minus-one", "mpeg-sync", "adts-sync", "mpeg2-sync"])
@pytest.mark.parametrize("label", ["audio/L16;codec=pcm;rate=24000", "audio/pcm"])
def test_pcm_whose_first_sample_looks_like_a_frame_sync_stays_pcm(first: bytes, label: str) -> None:
    """Gemini's PCM starting with the sample -1 (bytes FF FF) read as an MPEG frame sync: the paid speech was
    stored as an "MP3" no player or converter reads. Under a PCM label it is PCM, wrapped as WAV."""
    pcm = first + b"\x00\x00\x01\x00" * 100
    body = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": label,
                                                                    "data": base64.b64encode(pcm).decode()}}]}}]}
    for reply in (audio.parse_speech(None, body), audio.parse_speech(None, pcm, label)):
        assert reply.mime == "audio/wav" and reply.wav.endswith(pcm)
        assert wav_info(reply.wav) == (1, 2, 24000, len(pcm) // 2)
    assert audio.parse_speech(None, MP3_FRAME, "audio/L16").mime == "audio/wav"
    unlabelled = {"candidates": [{"content": {"parts": [{"inlineData": {"data": base64.b64encode(pcm).decode()}}]}}]}
    assert audio.parse_speech(None, unlabelled).mime == "audio/wav"  # (Gemini's inline bytes: PCM unless headed)
    assert audio.parse_speech(None, b"ID3\x04\x00" + b"\x00" * 40, "audio/pcm").mime == "audio/mpeg"  # a real header


def test_headerless_speech_bytes_are_pcm_only_where_the_protocol_says_so() -> None:
    pcm = bytes([0, 1, 255, 128]) * 50
    for declared in ("audio/L16;codec=pcm;rate=16000", "audio/pcm", None, "application/octet-stream"):
        reply = audio.parse_speech(None, pcm, declared)
        assert reply.mime == "audio/wav" and reply.wav.endswith(pcm)
    assert wav_info(audio.parse_speech(None, pcm, "audio/L16;rate=16000").wav)[2] == 16000
    for label in ("image/png", "audio/mpeg", "audio/wav"):  # a label is not a format: no header, no audio
        with pytest.raises(APIError, match=rf"not audio: the server sent data in no audio format \(200 bytes, {label}\)"
                                           r"; nothing was stored\. "):
            audio.parse_speech(None, pcm, label)


@pytest.mark.parametrize(("body", "ctype", "what"), [
    (b"<!DOCTYPE html><title>Sign in</title>", "text/html; charset=utf-8",
     r"an HTML page \(37 bytes, text/html\): '<!DOCTYPE html><title>Sign in</title>'"),
    (b"\xef\xbb\xbf  <svg onload=alert(1)></svg>", "audio/wav", r"an SVG drawing \(\d+ bytes, audio/wav\)"),
    (b"<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>", "audio/mpeg", r"XML \("),
    (b"upstream error: \xe4\xb8\x8a\xe6\xb8\xb8\n" * 3, "audio/pcm", r"text \(\d+ bytes, audio/pcm\): 'upstream error: 上游"),
    (b"[1, 2", "application/json", r"JSON \(5 bytes, application/json\): '\[1, 2'"),
    (b"", "audio/wav", r"an empty body;"),
], ids=["html", "svg-after-bom", "xml", "text-labelled-pcm", "json", "empty"])
def test_speech_bytes_that_are_text_or_markup_are_refused(body: bytes, ctype: str, what: str) -> None:
    with pytest.raises(APIError, match=r"^The speech answer is not audio: the server sent " + what) as info:
        audio.parse_speech(None, body, ctype)
    assert "\n" not in info.value.message and info.value.status is None


def test_inline_speech_that_is_not_base64_audio_is_refused() -> None:
    def gemini(data: str, mime: str | None = None) -> dict[str, Any]:
        inline = {"data": data} if mime is None else {"data": data, "mimeType": mime}
        return {"candidates": [{"content": {"parts": [{"inlineData": inline}]}}]}

    with pytest.raises(APIError, match=r"not audio: the server sent text \(\d+ bytes\): 'Quota exceeded, try later.'"):
        audio.parse_speech(None, gemini("Quota exceeded, try later."))
    page = base64.b64encode(b"<html><body>blocked</body></html>").decode()
    with pytest.raises(APIError, match=r"an HTML page \(33 bytes, audio/wav\)"):
        audio.parse_speech(None, gemini(page, "audio/wav"))
    pcm = bytes(range(256)) * 2  # ends in 0xff bytes: its URL-safe base64 has "_" in it
    urlsafe = base64.urlsafe_b64encode(pcm).decode().rstrip("=")
    assert "_" in urlsafe and audio.parse_speech(None, gemini(urlsafe)).wav.endswith(pcm)
    wrapped = "\n".join(base64.b64encode(pcm).decode()[i:i + 76] for i in range(0, 684, 76))
    assert audio.parse_speech(None, gemini(wrapped, "audio/L16;rate=24000")).wav.endswith(pcm)


def test_a_speech_url_keeps_only_an_audio_label() -> None:
    def gemini(mime: str) -> dict[str, Any]:
        return {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": mime,
                                                                      "data": "https://cdn.test/a"}}]}}]}

    assert audio.parse_speech(None, gemini("text/html")).mime == ""  # downloaded as audio, checked there
    assert audio.parse_speech(None, gemini("audio/mpeg")).mime == "audio/mpeg"


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


@pytest.mark.parametrize(("value", "seconds"), [
    (1.25, 1.25), (3, 3.0), ("2.5", 2.5), (" 7 ", 7.0), ("0:01", 1.0), ("1:02:03", 3723.0),
    ("00:00:01.5", 1.5), ("00:00:01,250", 1.25), ("12:30.5", 750.5),
    ("soon", None), ("", None), (None, None), (True, None), ([1], None), (-1, None), ("-0:01", None),
    (float("inf"), None), (float("nan"), None), ("1e400", None), (10**400, None), ("nan", None),
    ("9" * 400 + ":00", None),
])
def test_segment_times_read_numbers_strings_and_clocks(value: Any, seconds: float | None) -> None:
    assert audio.seconds_of(value) == seconds


def test_odd_segment_times_never_lose_the_transcript() -> None:
    body = ('{"text": "the paid transcript", "duration": "0:09", "segments": ['
            '{"start": "0:01", "end": "0:02.5", "text": " one "}, {"start": "later", "end": null, "text": "two"}, '
            '{"start": 1e400, "end": 1e400, "text": "three"}, {"start": 8, "end": "9", "text": "four"}, "junk"]}')
    r = audio.parse_transcription("verbose_json", body)
    assert r.text == "the paid transcript" and r.duration == 9.0
    assert [(sg.start, sg.end, sg.text) for sg in r.segments] == [
        (1.0, 2.5, "one"), (2.5, 2.5, "two"), (2.5, 2.5, "three"), (8.0, 9.0, "four")]
    srt = audio.parse_transcription("srt", body, "application/json").body  # SRT written from them stays valid
    assert "00:00:02,500 --> 00:00:02,500\nthree" in srt and "00:00:08,000 --> 00:00:09,000\nfour" in srt
    no_text = audio.parse_transcription("verbose_json", {"segments": [{"start": "x", "text": "only segments"}]})
    assert no_text.text == "only segments"  # the words survive when only the segments carry them


def test_odd_billed_durations_are_zero_not_infinite() -> None:
    assert audio.parse_transcription("json", '{"text": "a", "usage": {"type": "duration", "seconds": 1e400}}'
                                      ).usage.audio_seconds == 0.0
    assert audio.parse_transcription("json", {"text": "a", "usage": {"type": "duration", "seconds": "12"}}
                                     ).usage.audio_seconds == 12.0
    assert audio.parse_transcription("verbose_json", {"text": "a", "duration": "bad"}).usage.audio_seconds == 0.0


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_written_from_segments_keep_every_line_of_a_cue(fmt: str) -> None:
    """A JSON answer to an srt/vtt request is written as subtitles: a segment text holding a blank line ended its
    cue there (the rest lost to players and to the parser), and one holding '-->' read as a timing line."""
    obj = {"text": "x", "segments": [{"start": 0, "end": 1, "text": "Hello\n\n  world."},
                                     {"start": 1, "end": 2, "text": "a --> b"}, {"start": 2, "end": 3, "text": "Bye."}]}
    body = audio.parse_transcription(fmt, json.dumps(obj), "application/json").body
    assert [sg.text for sg in audio.parse_cues(body)] == ["Hello world.", "a -> b", "Bye."]
    assert body.count("-->") == 3


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
@pytest.mark.parametrize("label", ["text/plain; charset=utf-8", None])
def test_subtitles_answered_as_unlabelled_json_are_read_as_json(fmt: str, label: str | None) -> None:
    """Subtitles asked for, a relay's JSON answer labelled text/plain: no cue in it, so an empty transcript (and a
    200 error envelope the same). Subtitles with no cue that are a JSON object are read as JSON now."""
    answer = json.dumps({"text": "Hello there.", "segments": [{"start": 0, "end": 1.5, "text": "Hello there."}]})
    reply = audio.parse_transcription(fmt, answer, label)
    assert reply.text == "Hello there." and "-->" in reply.body and "{" not in reply.body
    assert [sg.text for sg in audio.parse_transcription(fmt, reply.body).segments] == ["Hello there."]
    with pytest.raises(APIError) as exc:
        audio.parse_transcription(fmt, json.dumps({"error": {"message": "用户额度不足", "code": "insufficient_user_quota"}}),
                                  label)
    assert exc.value.code == "insufficient_user_quota"
    assert audio.parse_transcription("text", answer, label).text == answer  # (text asked: text it stays)


def test_cue_times_without_milliseconds() -> None:
    r = audio.parse_transcription("vtt", "WEBVTT\n\n00:01 --> 00:02.5\nhello\n\n01:00:00 --> 01:00:03,25\nlater\n")
    assert [(sg.start, sg.end) for sg in r.segments] == [(1.0, 2.5), (3600.0, 3603.25)]


@pytest.mark.parametrize("rate", ["0", "99999999999", "9" * 5000], ids=["zero", "past-32-bits", "5000-digits"])
def test_an_absurd_pcm_rate_label_still_gives_playable_audio(rate: str) -> None:
    """The label comes with a paid answer: a rate the WAV header cannot hold falls back to Gemini's 24 kHz instead
    of raising wave.Error / struct.error / ValueError."""
    pcm = b"\x01\x00" * 100
    reply = audio.parse_speech(None, pcm, f"audio/L16;codec=pcm;rate={rate}")
    with wave.open(io.BytesIO(reply.wav)) as w:
        assert w.getframerate() == 24000 and w.getnframes() == 100


def test_a_cue_time_with_thousands_of_digits_keeps_the_transcript() -> None:
    body = "1\n" + "9" * 5000 + ":00:01,000 --> 00:00:02,000\nhello\n\n2\n00:00:02,000 --> 00:00:03,000\nworld\n"
    reply = audio.parse_transcription("srt", body)
    assert reply.text == "hello world" and [s.text for s in reply.segments] == ["hello", "world"]


PAGE = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt", "json", "verbose_json"])
@pytest.mark.parametrize("ctype", ["text/html", "text/plain; charset=utf-8", None])
def test_an_html_page_is_never_a_transcript(fmt: str, ctype: str | None) -> None:
    """A proxy's error page sent with 200 was stored as the transcript (or an empty one) in an 'ok' row."""
    with pytest.raises(APIError, match=r"an HTML page, not a transcript: .*502 Bad Gateway"):
        audio.parse_transcription(fmt, "\n " + PAGE, ctype)


@pytest.mark.parametrize("fmt", ["text", "srt", "json", "verbose_json"])
def test_an_error_envelope_sent_with_200_is_an_error_not_an_empty_transcript(fmt: str) -> None:
    body = json.dumps({"error": {"message": "upstream failed", "type": "upstream_error"}})
    with pytest.raises(APIError, match=r"an error, not a transcript: upstream failed"):
        audio.parse_transcription(fmt, body, "application/json")


def test_a_transcript_that_mentions_html_or_errors_is_still_a_transcript() -> None:
    said = "the <html> tag was an error"
    assert audio.parse_transcription("text", said, "text/plain").text == said
    assert audio.parse_transcription("json", json.dumps({"text": said, "error": None})).text == said
    assert audio.parse_transcription("json", json.dumps({"text": said, "error": "ignored"})).text == said


@pytest.mark.parametrize(("body", "said"), [
    ("", "an empty body"), ("  \n", "an empty body"), ("null", "JSON null"), ("[1, 2]", "JSON [1, 2]"),
    ("true", "JSON true"), ('{"task": "transcribe", "duration": 3}', "JSON without 'text'"),
])
@pytest.mark.parametrize("fmt", ["json", "verbose_json"])
def test_a_json_transcription_answer_holding_no_transcript_is_refused(body: str, said: str, fmt: str) -> None:
    """Kept as an empty (or a "None", "[1, 2]") transcript and recorded as a success."""
    with pytest.raises(APIError, match=f"The transcription answer is {re.escape(said)}.*, not a transcript"):
        audio.parse_transcription(fmt, body)


@pytest.mark.parametrize(("body", "text"), [('{"text": ""}', ""), ('{"segments": []}', ""), ("1984", "1984"),
                                            ("hello there", "hello there")])
def test_silence_and_plain_text_answers_are_still_transcripts(body: str, text: str) -> None:
    assert audio.parse_transcription("json", body).text == text


@pytest.mark.parametrize("body", ["null", "[]", '{"task": "transcribe"}'])
def test_json_labelled_as_json_to_a_text_transcription_holding_none_is_refused(body: str) -> None:
    """Was kept as the transcript "null" / "[]" / "" (the label says JSON; the body holds no transcript)."""
    with pytest.raises(APIError, match="not a transcript"):
        audio.parse_transcription("text", body, "application/json")


def test_an_html_page_title_quoting_a_key_across_the_cut_shows_none_of_it() -> None:
    """The page's title was cut to 120 characters before redaction: a key across the cut showed its start."""
    from tokenhot_nb._config import Secret

    key = "Vb8nMq3wEr6tYu1iOp4aSd7fGh2jKl5zXc9vBn0mQw3eRt6yUi"  # (as new-api echoes a key: without its sk-)
    Secret(key)
    with pytest.raises(APIError) as failed:
        audio.parse_transcription("text", f"<html><head><title>{'x' * 100}{key}</title></head></html>")
    assert key[:12] not in failed.value.full_message and "sk-****" in failed.value.full_message


@pytest.mark.parametrize("label", ["audio/L16;codec=pcm;rate=24000", None])
def test_pcm_of_less_than_one_sample_is_no_audio_not_a_silent_clip(label: str | None) -> None:
    """One byte of PCM became a WAV of 0 frames, kept as a successful speech of 0 seconds."""
    with pytest.raises(APIError, match=r"^The speech answer holds no audio: 1 byte of PCM, less than 1 ms of sound"):
        audio.parse_speech(None, b"\x01", label)
    body = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": label or "", "data": "AQ=="}}]}}]}
    with pytest.raises(APIError, match="holds no audio"):
        audio.parse_speech(None, body)
    assert len(audio.parse_speech(None, b"\x01\x02" * 24, label).wav) == 44 + 48  # 1 ms is audio


@pytest.mark.parametrize(("data", "said"), [
    ("null", "holds no audio: 3 bytes of PCM"), ("RequestTimeout12", "holds no audio: 12 bytes of PCM"),
    ("None", "is not audio: the server sent text (4 bytes, audio/L16;rate=24000): 'None'"),
    ("Internal", "is not audio: the server sent text (8 bytes, audio/L16;rate=24000): 'Internal'"),
])
def test_a_word_in_place_of_the_audio_is_no_clip(data: str, said: str) -> None:
    """A word in ``data`` that happens to be base64 ("null", 3 bytes) was kept as a successful clip of a sample or
    a few; one that decodes to text-like bytes was quoted as those bytes ('6\\x89…' for "None"), not as sent."""
    body = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "audio/L16;rate=24000", "data": data}}]}}]}
    with pytest.raises(APIError) as exc:
        audio.parse_speech(None, body)
    assert said in exc.value.message and "nothing was stored" in exc.value.message


@pytest.mark.parametrize("ctype", ["text/plain; charset=utf-8", None])
def test_a_text_transcript_that_is_only_an_error_envelope_is_the_error(ctype: str | None) -> None:
    """A 200 error envelope sent as text/plain to a text request was kept as the transcript; it is the relay's error
    now, with its message and code. Other JSON-looking text stays the transcript (the parser follows the format)."""
    envelope = {"error": {"message": "用户额度不足 (request id: 2026X)", "type": "new_api_error",
                          "code": "insufficient_user_quota"}}
    with pytest.raises(APIError) as exc:
        audio.parse_transcription("text", json.dumps(envelope, ensure_ascii=False) + "\n", ctype)
    assert exc.value.message.startswith("The transcription answer is an error, not a transcript: 用户额度不足")
    assert (exc.value.code, exc.value.status) == ("insufficient_user_quota", 200)
    google = {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}
    with pytest.raises(APIError, match="an error, not a transcript: Resource exhausted"):
        audio.parse_transcription("text", json.dumps(google), ctype)
    for said in ('{"error": "the word error"}', '{"note": 1, "error": {"message": "x"}}', '{"error": {"message": ""}}',
                 '{"error": {"message": "x"}, "text": "kept"}', '{"error": {"message": "x"'):
        assert audio.parse_transcription("text", said, ctype).text == said


# --- speech that arrived damaged, and speech in several parts -------------------------------------------------

PCM = bytes(range(1, 241)) * 20  # 4,800 bytes of 16-bit samples (0.1 s at 24 kHz), no header, no zero byte
L16 = "audio/L16;codec=pcm;rate=24000"


def gemini_parts(*parts: tuple[str, str | None]) -> dict[str, Any]:
    inline = [{"inlineData": {"data": d} if m is None else {"mimeType": m, "data": d}} for d, m in parts]
    return {"candidates": [{"content": {"parts": inline}, "finishReason": "STOP"}]}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("cut", range(1, 8))
@pytest.mark.parametrize("shape", ["gemini", "openai-audio", "data-url"])
def test_base64_speech_cut_short_is_one_damaged_error(cut: int, shape: str) -> None:
    """Base64 audio cut on the way was refused as "not audio: text 'AQIDBAUG…'" (cut mid-byte) or kept short, its
    last sample torn (the rest): it is one line now saying the audio arrived damaged, with the bytes that did arrive
    (the caller keeps them)."""
    torn = b64(PCM)[:-cut]
    body = {"gemini": gemini_parts((torn, L16)), "openai-audio": {"audio": {"data": torn}},
            "data-url": {"data": "data:audio/pcm;base64," + torn}}[shape]
    with pytest.raises(APIError) as exc:
        audio.parse_speech(None, body, "application/json")
    assert exc.value.message.startswith("The speech audio arrived damaged: its ")
    assert exc.value.message.endswith("; nothing was stored.") and "\n" not in exc.value.message
    (arrived,) = exc.value.unplayable  # type: ignore[attr-defined]
    assert PCM.startswith(arrived) and len(PCM) - 6 <= len(arrived) < len(PCM)


@pytest.mark.parametrize("at", [1, 100, 4001])
def test_base64_speech_with_padding_inside_it_is_damaged(at: int) -> None:
    text = b64(PCM)
    for pad in ("=", "=="):
        with pytest.raises(APIError, match=r"^The speech audio arrived damaged: its base64 has padding \('='\) inside "
                                           rf"it, at character {at + len(pad):,} of"):
            audio.parse_speech(None, gemini_parts((text[:at] + pad + text[at:], L16)))
    with pytest.raises(APIError, match=r"arrived damaged: its base64 \(6,401 characters\) starts with padding"):
        audio.parse_speech(None, gemini_parts(("=" + text, L16)))


def test_base64_pieces_each_padded_and_sent_together_are_read_whole() -> None:
    """A relay that joins base64 chunks each padded on its own ("…==AQID…"): the pieces are read one by one."""
    joined = b64(PCM[:3001]) + b64(PCM[3001:4000]) + b64(PCM[4000:])
    assert joined.count("=") > 1
    reply = audio.parse_speech(None, gemini_parts((joined, L16)))
    assert reply.wav == audio.pcm_to_wav(PCM)


def test_a_wav_shorter_than_its_header_says_is_damaged() -> None:
    wav = audio.pcm_to_wav(PCM)
    cut = wav[: len(wav) - 1200]  # (a whole number of base64 groups: only the WAV's own header tells)
    with pytest.raises(APIError, match=r"arrived damaged: the WAV is 3,644 bytes where its header says 4,844"):
        audio.parse_speech(None, gemini_parts((b64(cut), "audio/wav")))
    streamed = wav[:4] + b"\xff\xff\xff\xff" + wav[8:len(wav) - 1200]  # (a streamed WAV's "unknown" size)
    assert audio.parse_speech(None, gemini_parts((b64(streamed), "audio/wav"))).wav == streamed
    assert audio.parse_speech(None, gemini_parts((b64(wav), "audio/wav"))).wav == wav


def test_speech_in_several_inline_parts_is_joined_in_order() -> None:
    """Gemini speech answered in several inlineData parts: only the first was read (the rest of the speech lost)."""
    a, b, c = PCM[:1000], PCM[1000:3000], PCM[3000:]
    body = gemini_parts((b64(a), L16), (b64(b), L16), (b64(c), None))
    body["candidates"][0]["content"]["parts"].insert(1, {"text": "(a note between the parts)"})
    body["candidates"].append({"content": {"parts": [{"inlineData": {"mimeType": L16, "data": b64(PCM[:200])}}]}})
    reply = audio.parse_speech(None, body)
    assert reply.mime == "audio/wav" and reply.wav == audio.pcm_to_wav(PCM)  # (the other candidate is not joined)
    wav_and_pcm = gemini_parts((b64(audio.pcm_to_wav(a, 16000)), "audio/wav"), (b64(b), "audio/L16;rate=16000"))
    assert wav_info(audio.parse_speech(None, wav_and_pcm).wav) == (1, 2, 16000, 1500)


@pytest.mark.parametrize(("parts", "said"), [
    ([(b64(PCM[:2000]), L16), (b64(PCM[2000:]), "audio/L16;codec=pcm;rate=16000")],
     r"came in 2 parts in different formats \(audio/L16;codec=pcm;rate=24000, audio/L16;codec=pcm;rate=16000\)"),
    ([(b64(PCM), L16), (b64(MP3_FRAME), "audio/mpeg")], r"came in 2 parts in different formats \(.*, audio/mpeg\)"),
    ([(b64(MP3_FRAME), "audio/mpeg"), (b64(MP3_FRAME), "audio/mpeg")],
     r"came in 2 parts of audio/mpeg, which cannot be joined into one clip"),
], ids=["rates", "pcm-and-mp3", "two-mp3"])
def test_speech_parts_that_cannot_be_one_clip_are_refused_and_kept(parts: list[tuple[str, str]], said: str) -> None:
    with pytest.raises(APIError) as exc:
        audio.parse_speech(None, gemini_parts(*parts))
    assert re.fullmatch(r"The speech " + said + r"; nothing was stored\.", exc.value.message)
    assert len(exc.value.unplayable) == 2  # type: ignore[attr-defined]  # (each part, paid: the caller keeps them)


def test_a_damaged_part_of_several_says_which() -> None:
    body = gemini_parts((b64(PCM[:2000]), L16), (b64(PCM[2000:])[:-3], L16))
    with pytest.raises(APIError, match=r"^The speech audio arrived damaged \(part 2 of 2\): its base64") as exc:
        audio.parse_speech(None, body)
    first, second = exc.value.unplayable  # type: ignore[attr-defined]
    assert first == audio.pcm_to_wav(PCM[:2000]) and PCM[2000:].startswith(second)
    with pytest.raises(APIError, match="not audio: the server sent text") as not_audio:
        audio.parse_speech(None, gemini_parts((b64(PCM[:2000]), L16), ("Quota exceeded, try later.", L16)))
    assert not_audio.value.unplayable == [audio.pcm_to_wav(PCM[:2000])]  # type: ignore[attr-defined]
