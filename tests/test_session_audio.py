"""Speech falls back to the model's next endpoint when the relay does not serve the first one."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import Session
from tokenhot_nb.errors import AuthenticationError, ReplayMissError

NOT_SERVED = {"X-Sim-Faults": json.dumps({"fail_first": {"404": 1}})}


def test_gemini_tts_falls_back_to_audio_speech(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    res = s.speak("Hello from the fallback.", model="gemini-2.5-flash-preview-tts", headers=NOT_SERVED)
    paths = [r["path"] for r in rec.requests if r["method"] == "POST"]
    assert paths == ["/v1beta/models/gemini-2.5-flash-preview-tts:generateContent", "/v1/audio/speech"]
    assert res.duration > 0.5 and res.entry.params["endpoint"] == "audio.speech"
    failed, ok = s.history[-2], s.history[-1]
    assert (failed.status, failed.error["status"], ok.status) == ("error", 404, "ok")
    s.close()


def test_other_errors_do_not_fall_back(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    with pytest.raises(AuthenticationError):
        s.speak("x", headers={"X-Sim-Faults": json.dumps({"fail_first": {"401": 1}})})
    assert sum(r["method"] == "POST" for r in rec.requests) == 1
    s.close()


def test_replay_finds_a_fallback_recording(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    first = s.speak("Replay me.", model="gemini-tts", headers=NOT_SERVED)
    s.close()
    replay = Session(mode="replay", store=tmp_path / "st")
    again = replay.speak("Replay me.", model="gemini-tts")
    assert again.wav == first.wav
    with pytest.raises(ReplayMissError):
        replay.speak("Never recorded.", model="gemini-tts")
    replay.close()


# --- Whisper menu entries, usage and answers in another format ------------------------------------------------


def _speech(s: Session, text: str = "Menu entries matter. Second sentence.") -> bytes:
    return s.speak(text, model="gemini-tts").wav


def test_whisper_menu_entries_pick_their_task(s: Session, rec: Recorder) -> None:
    audio = _speech(s)
    zh = s.transcribe(audio, model="whisper-1(音频转中文)")
    form = rec.posts("/v1/audio/transcriptions")[-1]["body"]
    assert b'name="language"\r\n\r\nzh' in form and zh.entry.params["language"] == "zh"
    tr = s.transcribe(audio, model="whisper-1(音频翻译)")
    assert rec.posts()[-1]["path"] == "/v1/audio/translations" and b'name="language"' not in rec.posts()[-1]["body"]
    assert tr.kind == "translate" and tr.entry.kind == "translate" and tr.entry.endpoint == "audio.translations"
    assert s.transcribe(audio, model="whisper-1(音频转中文)", language="en").entry.params["language"] == "en"


def test_translate_refuses_a_language_before_the_request(s: Session, rec: Recorder) -> None:
    from tokenhot_nb.errors import UnsupportedOptionError

    audio = _speech(s)
    before = len(rec.posts())
    with pytest.raises(UnsupportedOptionError, match="always outputs English"):
        s.translate(audio, language="zh")
    with pytest.raises(UnsupportedOptionError, match="always outputs English"):
        s.transcribe(audio, model="whisper-1(音频翻译)", language="fr")
    assert len(rec.posts()) == before
    assert s.history[-1].status == "error" and s.history[-1].kind == "transcribe"


@pytest.mark.parametrize("value", [5, -0.1, 1.5, True, "hot"])  # (nan, inf: no JSON body carries them)
@pytest.mark.parametrize("method", ["transcribe", "translate"])
def test_a_whisper_temperature_outside_0_to_1_is_refused_before_the_upload(
        s: Session, rec: Recorder, method: str, value: object) -> None:
    """The reference gives Whisper's temperature as 0 to 1: ``temperature=5``, ``True`` or ``"hot"`` went out as a
    form field, the upload paid for. One line now, nothing sent; 0 and 1 still go, and ``extra=`` sends any."""
    from tokenhot_nb.errors import InputError

    audio = _speech(s)
    before = len(rec.posts())
    with pytest.raises(InputError) as exc:
        getattr(s, method)(audio, temperature=value)
    assert str(exc.value).startswith("temperature must be a number from 0 to 1, not ") and "\n" not in str(exc.value)
    assert len(rec.posts()) == before
    for fine in (0, 1, 0.4):
        getattr(s, method)(audio, temperature=fine)
    assert len(rec.posts()) == before + 3


@pytest.mark.parametrize(("name", "sent_as"), [("voice", "voice.wav"), ("take.dat", "take.wav"), ("rec.", "rec.wav")])
def test_a_file_named_without_an_audio_extension_is_uploaded_under_its_type(
        s: Session, rec: Recorder, tmp_path: Path, name: str, sent_as: str) -> None:
    """Whisper reads the type from the upload's name: a WAV file named ``voice`` went out as ``voice`` and came
    back a 400 "Invalid file format". It now goes out as ``voice.wav``; a name Whisper takes is kept."""
    path = tmp_path / name
    path.write_bytes(_speech(s, "Named by its type."))
    assert s.transcribe(path).text == "Named by its type."
    sent = rec.posts("/v1/audio/transcriptions")[-1]["body"]
    assert f'filename="{sent_as}"'.encode() in sent and b"Content-Type: audio/wav" in sent
    kept = tmp_path / "Talk.MP3.wav"
    kept.write_bytes(path.read_bytes())
    s.translate(kept)
    assert b'filename="Talk.MP3.wav"' in rec.posts("/v1/audio/translations")[-1]["body"]


AIFF = b"FORM\x00\x00\x00\x2eAIFFCOMM" + b"\x00" * 40


@pytest.mark.parametrize("mode", ["offline", "replay"])
def test_audio_whisper_does_not_take_is_refused_before_the_upload(tmp_path: Path, mode: str) -> None:
    """AIFF (and ADTS AAC) are not among Whisper's types: the upload went out and came back a 400. It is one line
    now, before anything is sent, in a replay as in the live run."""
    from tokenhot_nb.errors import InputError

    rec = Recorder()
    s = make_session(tmp_path / "st", rec, mode=mode)
    for audio in (AIFF, tmp_path / "talk.aiff"):
        if isinstance(audio, Path):
            audio.write_bytes(AIFF)
        with pytest.raises(InputError) as exc:
            s.transcribe(audio)
        assert str(exc.value).startswith("Whisper does not take ") and "audio/aiff" in str(exc.value)
        assert "\n" not in str(exc.value) and "ffmpeg" in (exc.value.hint or "")
    assert rec.posts() == []
    s.close()


def test_a_long_texts_speech_costs_no_more_than_its_estimate_and_a_budget_holds(s: Session, rec: Recorder) -> None:
    """A speech's estimate topped out at a chat answer's 4,096 output tokens: 6,000 characters estimated at up to
    $0.042 cost $0.092, and a $0.05 budget let it through. Its top now grows with the text."""
    from tokenhot_nb.errors import BudgetExceededError

    text = ("The quick brown fox jumps over the lazy dog. " * 140)[:6000]
    short = s.estimate("speak", "Hello there.", model="gemini-tts")
    est = s.estimate("speak", text, model="gemini-tts")
    spoken = s.speak(text, model="gemini-tts")
    assert spoken.cost.usd is not None and est.usd <= spoken.cost.usd <= est.upper
    assert short.upper < est.upper / 20  # (a short text's top stays small: a budget still lets it through)
    s.set_budget(spoken.cost.usd * 1.5, new_period=True)
    before = len(rec.posts())
    with pytest.raises(BudgetExceededError):
        s.speak(text + " Again.", model="gemini-tts")
    assert len(rec.posts()) == before
    s.speak("Hello there.", model="gemini-tts")


SPEAKERS = {"speechConfig": {"multiSpeakerVoiceConfig": {"speakerVoiceConfigs": [
    {"speaker": "Joe", "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
    {"speaker": "Jane", "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}}]}}}


def test_multi_speaker_speech_goes_without_the_default_voice(s: Session, rec: Recorder) -> None:
    """Reference §6.1's multi-speaker config, given through extra=, went out beside the model's default voice
    (Kore), which the service refuses: the speakers' voices now go alone; voice= with them is one line, unsent."""
    from tokenhot_nb.errors import UnsupportedOptionError

    res = s.speak("Joe: Hi Jane.\nJane: Hello Joe!", model="gemini-tts", extra={"generationConfig": SPEAKERS})
    assert res.duration > 0.5
    speech = rec.json(-1, "generateContent")["generationConfig"]["speechConfig"]
    assert list(speech) == ["multiSpeakerVoiceConfig"]
    before = len(rec.posts())
    with pytest.raises(UnsupportedOptionError, match="voice='Puck' and a multiSpeakerVoiceConfig were both given"):
        s.speak("Joe: Hi.", model="gemini-tts", voice="Puck", generationConfig=SPEAKERS)
    typo = json.loads(json.dumps(SPEAKERS).replace("Puck", "Pukc"))
    with pytest.raises(UnsupportedOptionError, match=r"has no voice 'Pukc'\. Did you mean 'Puck'\?"):
        s.speak("Joe: Hi.", model="gemini-tts", generationConfig=typo)
    assert len(rec.posts()) == before


@pytest.mark.parametrize("method", ["transcribe", "translate"])
def test_an_earlier_result_past_whispers_size_limit_is_refused_before_the_upload(
        s: Session, rec: Recorder, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """A file past 25 MB is refused when read, but an earlier result (a long speech, a video) was taken unchecked
    and went up whole, to come back a 413. It is one line now, nothing sent (the limit made small here)."""
    from tokenhot_nb import _inputs
    from tokenhot_nb.errors import InputError

    spoken = s.speak("A speech that is too long for this test.", model="gemini-tts")
    monkeypatch.setitem(_inputs.MAX_INPUT_BYTES, "audio", len(spoken.data) - 1)
    before = len(rec.posts())
    with pytest.raises(InputError, match=r"^The audio is 0\.\d MB, over Whisper's 0 MB limit\.") as exc:
        getattr(s, method)(spoken)
    assert "ffmpeg" in (exc.value.hint or "") and len(rec.posts()) == before
    monkeypatch.setitem(_inputs.MAX_INPUT_BYTES, "audio", len(spoken.data))
    assert getattr(s, method)(spoken).text


def test_a_speech_cut_at_the_output_limit_says_so_live_and_in_replay(tmp_path: Path) -> None:
    """§2.4: Gemini's finishReason MAX_TOKENS is an answer that stopped at its output limit. A speech cut there was
    kept as a whole one, the end of the text silently missing; it is kept (it is paid for) and says it was cut."""
    s = make_session(tmp_path / "st", Recorder())
    text = "A sentence long enough to be cut at fifty audio tokens. " * 3
    cut = s.speak(text, model="gemini-tts", generationConfig={"maxOutputTokens": 50})
    whole = s.speak("Short and whole.", model="gemini-tts")
    assert (cut.cut, cut.finish_reason, whole.cut) == (True, "MAX_TOKENS", False)
    assert cut.duration == pytest.approx(2.0, abs=0.05) and cut.entry.response["finish_reason"] == "MAX_TOKENS"
    assert "output limit (finish: MAX_TOKENS)" in cut.html() and "output limit" not in whole.html()
    assert "cut at the output limit" in repr(cut)
    s.close()
    replay = Session(mode="replay", store=tmp_path / "st")
    again = replay.speak(text, model="gemini-tts", generationConfig={"maxOutputTokens": 50})
    assert again.cut and again.data == cut.data and "output limit" in again.html()
    replay.close()


@pytest.mark.parametrize("value", [10, 0.1, 0, True, "fast"])
def test_a_speech_speed_outside_its_range_is_refused_before_the_call(s: Session, rec: Recorder, value: object) -> None:
    """§6.3: speed is 0.25 to 4. speed=10 or 'fast' went out and came back a 400; it is one line now, nothing sent;
    a speed in range still goes."""
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError) as exc:
        s.speak("Hello there.", model="mimo-v2.5-tts", speed=value)
    assert str(exc.value).startswith("speed must be a number from 0.25 to 4, not ") and rec.posts() == []
    assert s.speak("Hello there.", model="mimo-v2.5-tts", speed=4).duration
    assert rec.json(-1, "/v1/audio/speech")["speed"] == 4


def test_whisper_usage_seconds_are_recorded(s: Session) -> None:
    audio = _speech(s)
    res = s.transcribe(audio)
    assert res.entry.usage["audio_seconds"] >= 1  # the simulator bills whole seconds, like the service
    verbose = s.transcribe(audio, format="verbose_json")
    assert verbose.entry.usage["audio_seconds"] == pytest.approx(verbose.duration)


class _SpeechLabelledJson(Recorder):
    """A relay that sends the speech's WAV bytes labelled application/json."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await super().handle_async_request(request)
        if request.url.path == "/v1/audio/speech" and resp.status_code == 200:
            await resp.aread()
            return httpx.Response(200, content=resp.content, headers={"content-type": "application/json"})
        return resp


def test_speech_audio_labelled_json_is_kept_as_audio(tmp_path: Path) -> None:
    """WAV bytes sent as application/json were read as JSON: a "not JSON" error, the paid speech kept as a .bin."""
    s = make_session(tmp_path / "st", _SpeechLabelledJson())
    res = s.speak("Labelled wrong.", model="mimo-v2.5-tts")
    assert res.mime == "audio/wav" and res.data[:4] == b"RIFF" and res.duration > 0.5
    assert s.history[-1].status == "ok"
    s.close()


class _JsonForText(Recorder):
    """A relay that answers JSON whatever ``response_format`` was asked."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/audio/transcriptions"):
            await request.aread()
            body = {"text": "Hello there. General Kenobi.", "duration": 3.0,
                    "segments": [{"start": 0.0, "end": 1.2, "text": "Hello there."},
                                 {"start": 1.2, "end": 3.0, "text": "General Kenobi."}],
                    "usage": {"type": "duration", "seconds": 3}}
            return httpx.Response(200, json=body)
        return await super().handle_async_request(request)


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
def test_a_json_answer_to_a_text_request_is_read_as_json(tmp_path: Path, fmt: str) -> None:
    s = make_session(tmp_path / "st", _JsonForText())
    res = s.transcribe(b"RIFF0000WAVEfmt ", format=fmt)
    assert res.text == "Hello there. General Kenobi." and "{" not in res.body
    assert res.entry.usage["audio_seconds"] == 3
    stored = s.store.path_of(res.entry.outputs[0]["sha256"]).read_text("utf-8")
    assert "{" not in stored and "text" not in stored.split("\n")[0]
    if fmt != "text":
        assert [seg.text for seg in res.segments] == ["Hello there.", "General Kenobi."]
        assert ("-->" in stored) and (stored.startswith("WEBVTT") == (fmt == "vtt"))
    again = s.history[-1].result(s)  # rebuilt from the store: the same transcript
    assert again.text == res.text
    s.close()


def test_a_format_in_capitals_is_kept_as_that_format(tmp_path: Path) -> None:
    """format='SRT' went out as srt but was stored as plain text (not subtitles) and read as no known format;
    'VERBOSE_JSON' was stored as text/plain, and a JSON answer to format='Text' was kept as the transcript."""
    s = make_session(tmp_path / "st", Recorder())
    speech = _speech(s)
    subs = s.transcribe(speech, format=" SRT ")
    out = subs.entry.outputs[0]
    assert (subs.format, out["role"], subs.srt) == ("srt", "subtitles", subs.body) and subs.body.startswith("1\n")
    verbose = s.transcribe(speech, format="VERBOSE_JSON")
    assert verbose.format == "verbose_json" and verbose.entry.outputs[0]["mime"] == "application/json"
    s.close()
    s = make_session(tmp_path / "st2", _JsonForText())
    text = s.transcribe(b"RIFF0000WAVEfmt ", format="Text")
    stored = s.store.path_of(text.entry.outputs[0]["sha256"]).read_text("utf-8")
    assert text.body == stored == "Hello there. General Kenobi."
    s.close()


def test_openai_voice_names_on_gemini_tts_say_they_are_openai_voices(s: Session, rec: Recorder) -> None:
    from tokenhot_nb.errors import UnsupportedOptionError

    with pytest.raises(UnsupportedOptionError) as info:
        s.speak("hi", model="gemini-tts", voice="alloy")
    msg = str(info.value)
    assert "'alloy' is a voice of the openai-tts" in msg and "not a Google voice" in msg and "Kore" in msg
    assert "Alnilam" not in msg.split("Kore")[0]  # no misleading nearest-name guess
    assert rec.posts() == []


def test_the_simulator_honours_snake_case_voice_config(s: Session, rec: Recorder) -> None:
    body = {"contents": [{"parts": [{"text": "snake case voice"}]}],
            "generation_config": {"response_modalities": ["AUDIO"],
                                  "speech_config": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Puck"}}}}}
    camel = {"contents": body["contents"], "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}}}}
    kore = {"contents": body["contents"], "generationConfig": {"responseModalities": ["AUDIO"]}}
    a = s.speak("x", model="gemini-tts", raw=body).wav
    b = s.speak("x", model="gemini-tts", raw=camel).wav
    c = s.speak("x", model="gemini-tts", raw=kore).wav
    assert a == b and a != c
    from tokenhot_nb.errors import APIError

    with pytest.raises(APIError, match="Voice name alloy is not supported"):
        s.speak("x", model="gemini-tts", endpoint="gemini.generate", raw={**body, "generation_config": {
            "speech_config": {"voice_config": {"prebuilt_voice_config": {"voice_name": "alloy"}}}}})


# --- a key the relay echoes inside a transcript -----------------------------------------------------------------

ECHO_KEY = "sk-session-audio-ECHO-2718-abcdef"


class _EchoingTranscriber(Recorder):
    """A relay whose transcript repeats the request's key (plain and as a base64 ``Bearer`` header) in the text and
    in every segment; it answers JSON, or the asked text/srt/vtt body when ``as_asked``."""

    def __init__(self, as_asked: bool) -> None:
        super().__init__()
        self.as_asked = as_asked

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith(("/v1/audio/transcriptions", "/v1/audio/translations")):
            return await super().handle_async_request(request)
        form = (await request.aread()).decode("latin-1")
        key = request.headers["authorization"].split()[-1]
        b64 = base64.b64encode(f"Bearer {key}".encode()).decode()
        said = f"you said {key} or {b64}"
        fmt = next(f for f in ("verbose_json", "json", "text", "srt", "vtt") if f'\r\n\r\n{f}\r\n' in form)
        if self.as_asked and fmt == "text":
            return httpx.Response(200, text=said, headers={"content-type": "text/plain"})
        if self.as_asked and fmt in ("srt", "vtt"):
            sep = "," if fmt == "srt" else "."
            cue = f"00:00:00{sep}000 --> 00:00:01{sep}000\n{said}\n"
            body = f"1\n{cue}" if fmt == "srt" else f"WEBVTT\n\n{cue}"
            return httpx.Response(200, text=body, headers={"content-type": "text/plain"})
        return httpx.Response(200, json={"text": said, "language": "english", "duration": 1.0,
                                         "segments": [{"start": 0.0, "end": 1.0, "text": f"seg {said}"}]})


@pytest.mark.parametrize("as_asked", [False, True], ids=["json-answer", "answer-as-asked"])
@pytest.mark.parametrize("fmt", ["json", "verbose_json", "text", "srt", "vtt"])
def test_a_key_echoed_in_a_transcript_is_redacted_everywhere(tmp_path: Path, fmt: str, as_asked: bool) -> None:
    s = make_session(tmp_path / "st", _EchoingTranscriber(as_asked), api_key=ECHO_KEY)
    b64 = base64.b64encode(f"Bearer {ECHO_KEY}".encode()).decode()
    leaked = (ECHO_KEY, b64[12:-4], "ECHO-2718")  # the key, the part of its base64 only the key determines
    for kind in ("transcribe", "translate"):
        res = getattr(s, kind)(b"RIFF0000WAVEfmt ", format=fmt)
        assert res.text.startswith("you said sk-****")
        again = s.history[-1].result(s)  # rebuilt from the stored answer
        shown = [str(res), res.text, res.body, res.srt or "", res.vtt or "", res._repr_html_(), repr(res),
                 json.dumps(res._repr_mimebundle_()), *(seg.text for seg in res.segments), str(again),
                 again.srt or "", json.dumps(s.history[-1].to_dict())]
        for text in shown:
            assert not any(x in text for x in leaked), text
    exported = s.history.export(tmp_path / "out" / "x.jsonl", include_artifacts=True)
    files = [p for p in [*exported.parent.rglob("*"), *(tmp_path / "st").rglob("*")] if p.is_file()]
    assert any(".artifacts" in str(p) for p in files)
    assert not [p for p in files if any(x.encode() in p.read_bytes() for x in leaked)]
    s.close()


@pytest.mark.parametrize("text", [
    "<html><body>" + "x" * 95 + " {key}</body></html>",  # a page: quoted cut to 120 characters
    "\n" * 380 + "plain {key}",  # text: its first 400 bytes are read, the key across that cut
])
def test_a_speech_answer_that_is_no_audio_quotes_none_of_a_key(tmp_path: Path, text: str) -> None:
    """The error quotes the start of what came instead of audio; cut before redaction, a key across the cut lost
    its end and showed its first part."""
    from tokenhot_nb.errors import APIError

    key = "tkn_PLAINKEY_speech_no_prefix_98765abcdef"
    data = base64.b64encode(text.format(key=key).encode()).decode()

    class NotAudio(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith(":generateContent"):
                part = {"inlineData": {"mimeType": "audio/wav", "data": data}}
                return httpx.Response(200, json={"candidates": [{"content": {"parts": [part]}, "finishReason": "STOP"}]})
            return await super().handle_async_request(request)

    s = make_session(tmp_path / "st", NotAudio(), api_key=key)
    with pytest.raises(APIError, match="The speech answer is not audio") as caught:
        s.speak("hi")
    s.close()
    assert key[:5] not in caught.value.full_message


@pytest.mark.parametrize("label", ["audio/mpeg", "text/html", "image/png"])
def test_speech_bytes_in_no_audio_format_are_kept_in_the_row_not_dropped(tmp_path: Path, label: str) -> None:
    """A Gemini answer whose inline bytes are binary but no audio format under their label (the call is paid for)
    ended as an error row with nothing in it ("nothing was stored"): the bytes are now kept as a ``raw`` .bin output
    and the one-line error says where; nothing is kept under an audio, page or image type."""
    from tokenhot_nb.errors import APIError

    paid = bytes(range(256)) * 8  # binary, no header: PCM is read as such only when labelled so

    class Unplayable(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith(":generateContent"):
                part = {"inlineData": {"mimeType": label, "data": base64.b64encode(paid).decode()}}
                return httpx.Response(200, json={"candidates": [{"content": {"parts": [part]}}]})
            return await super().handle_async_request(request)

    s = make_session(tmp_path / "st", Unplayable())
    with pytest.raises(APIError) as caught:
        s.speak("hi", model="gemini-2.5-flash-preview-tts")
    entry = s.history[-1]
    text = str(caught.value)
    assert "\n" not in text and "nothing was stored" not in text
    assert f"kept in history #{entry.id} as a .bin file" in text
    assert entry.status == "error" and [o["role"] for o in entry.outputs] == ["raw"]
    assert entry.outputs[0]["mime"] == "application/octet-stream"
    assert s.store.read_artifact(entry.outputs[0]["sha256"]) == paid
    assert s.store.path_of(entry.outputs[0]["sha256"]).suffix == ".bin"
    s.history._repr_html_()  # the history still shows the row
    s.close()


def test_speech_that_is_a_page_is_still_not_kept(tmp_path: Path) -> None:
    """Text and pages are quoted in the error, never kept as a file (a captive portal's page is no paid answer)."""
    from tokenhot_nb.errors import APIError

    class Page(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith(":generateContent"):
                return httpx.Response(200, content=b"<html><body>Sign in</body></html>",
                                      headers={"content-type": "text/html"})
            return await super().handle_async_request(request)

    s = make_session(tmp_path / "st", Page())
    with pytest.raises(APIError, match="an HTML page"):
        s.speak("hi", model="gemini-2.5-flash-preview-tts")
    assert s.history[-1].outputs == []
    s.close()


@pytest.mark.parametrize("fmt", ["json", "verbose_json"])
def test_a_plain_text_answer_to_a_json_request_is_stored_as_text(tmp_path: Path, fmt: str) -> None:
    """A relay that answers a JSON transcription in plain text: the text is the transcript (tolerated), and it was
    stored as application/json, a .json file holding no JSON (an export's tools then failed on it)."""

    class PlainText(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/audio/transcriptions"):
                return httpx.Response(200, content=b"Hello there.", headers={"content-type": "text/plain"})
            return await super().handle_async_request(request)

    s = make_session(tmp_path / "st", PlainText())
    res = s.transcribe(b"RIFF0000WAVEfmt ", format=fmt)
    assert res.text == "Hello there."
    (out,) = res.entry.outputs
    assert out["mime"] == "text/plain" and s.store.path_of(out["sha256"]).suffix == ".txt"
    assert s.history[-1].result(s).text == "Hello there."  # rebuilt from the store alike
    s.close()


def test_a_json_answer_to_a_json_request_is_still_stored_as_json(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    res = s.transcribe(b"RIFF0000WAVEfmt ", format="json")
    (out,) = res.entry.outputs
    assert out["mime"] == "application/json"
    s.close()


@pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")
@pytest.mark.parametrize("label", ["audio/mpeg", "audio/x-weird", "application/octet-stream"])
def test_speech_downloaded_under_another_label_is_kept_as_what_it_is(tmp_path: Path, label: str) -> None:
    """Speech answered as a link (reference §6.1) whose host labels a WAV ``audio/mpeg``: it was stored, played
    (``data:audio/mpeg``) and saved as an .mp3 holding a WAV. Its own header says what it is now."""
    from _hostile import Hostile, response
    from _session_support import short_wav

    wav = short_wav()

    def answer(*_: object) -> bytes:
        part = {"inlineData": {"mimeType": "audio/wav", "data": relay.url + "/cdn/speech"}}
        return response(200, json.dumps({"candidates": [{"content": {"parts": [part]}}]}).encode())

    with Hostile({"/cdn/speech": lambda *a: response(200, wav, label), "*": answer}) as relay:
        s = Session(api_key="sk-session-audio-KEY-0123456789", base_url=relay.url, mode="live",
                    store=tmp_path / "st")
        res = s.speak("hi", model="gemini-2.5-flash-preview-tts")
    assert res.mime == "audio/wav" and res.path.suffix == ".wav" and res.data == wav
    assert 'src="data:audio/wav;base64,' in res.html()
    assert res.save(tmp_path / "out/").suffix == ".wav"
    s.close()


def test_a_text_transcript_that_is_a_200_error_envelope_is_an_error_row(tmp_path: Path) -> None:
    """A relay's error sent with 200 as text/plain to format='text' was stored as the transcript in an 'ok' row (its
    per-call price counted); it is the relay's error now, the row an error holding no transcript."""
    from tokenhot_nb.errors import APIError

    envelope = {"error": {"message": "upstream failed (request id: 2026X)", "type": "upstream_error", "code": ""}}

    class ErrorAsText(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/audio/transcriptions"):
                return httpx.Response(200, content=json.dumps(envelope).encode(),
                                      headers={"content-type": "text/plain; charset=utf-8"})
            return await super().handle_async_request(request)

    s = make_session(tmp_path / "st", ErrorAsText())
    with pytest.raises(APIError, match=r"The transcription answer is an error, not a transcript: upstream failed"):
        s.transcribe(b"RIFF0000WAVEfmt ", format="text")
    entry = s.history[-1]
    assert (entry.status, entry.outputs, entry.text) == ("error", [], "")
    assert not (entry.usage or {}).get("cost", {}).get("usd")
    s.close()


class _GeminiParts(Recorder):
    """A relay whose Gemini speech answer is the given inline parts ((base64 text, mimeType) each)."""

    def __init__(self, parts: list[tuple[str, str]]) -> None:
        super().__init__()
        self.parts = parts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(":generateContent"):
            parts = [{"inlineData": {"mimeType": m, "data": d}} for d, m in self.parts]
            return httpx.Response(200, json={"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}],
                                             "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 25}})
        return await super().handle_async_request(request)


PCM = bytes(range(1, 241)) * 200  # 1 s of 24 kHz 16-bit samples, no header
L16 = "audio/L16;codec=pcm;rate=24000"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_speech_whose_base64_arrived_cut_is_one_line_and_what_arrived_is_kept(tmp_path: Path) -> None:
    """Base64 cut on the way was "not audio: the server sent text 'AQIDBAUG…'", nothing kept, or a clip kept short;
    it is one line saying the audio arrived damaged, the bytes that did arrive kept in the error row (paid)."""
    from tokenhot_nb.errors import APIError

    s = make_session(tmp_path / "st", _GeminiParts([(_b64(PCM)[:-1], L16)]))
    with pytest.raises(APIError) as caught:
        s.speak("hi", model="gemini-2.5-flash-preview-tts")
    entry = s.history[-1]
    text = caught.value.message
    assert text.startswith("The speech audio arrived damaged: its base64 (") and "\n" not in text
    assert f"kept in history #{entry.id} as a .bin file" in text and "nothing was stored" not in text
    assert entry.status == "error" and [o["role"] for o in entry.outputs] == ["raw"]
    kept = s.store.read_artifact(entry.outputs[0]["sha256"])
    assert PCM.startswith(kept) and len(kept) >= len(PCM) - 3
    s.close()


def test_speech_in_several_parts_is_one_clip(tmp_path: Path) -> None:
    """Only the first inline part was read: a speech answered in three parts kept a third of its sound."""
    parts = [(_b64(PCM[:16000]), L16), (_b64(PCM[16000:32000]), L16), (_b64(PCM[32000:]), L16)]
    s = make_session(tmp_path / "st", _GeminiParts(parts))
    res = s.speak("hi", model="gemini-2.5-flash-preview-tts")
    assert res.duration == pytest.approx(1.0) and res.data.endswith(PCM)
    assert s.history[-1].status == "ok"
    s.close()


def test_speech_parts_in_different_formats_are_refused_and_kept(tmp_path: Path) -> None:
    from tokenhot_nb.errors import APIError

    parts = [(_b64(PCM[:16000]), L16), (_b64(PCM[16000:]), "audio/L16;codec=pcm;rate=16000")]
    s = make_session(tmp_path / "st", _GeminiParts(parts))
    with pytest.raises(APIError) as caught:
        s.speak("hi", model="gemini-2.5-flash-preview-tts")
    entry = s.history[-1]
    assert caught.value.message.startswith("The speech came in 2 parts in different formats (")
    assert f"kept in history #{entry.id} as 2 .bin files, one per part" in caught.value.message
    assert entry.status == "error" and [o["role"] for o in entry.outputs] == ["raw", "raw"]
    s.close()


def test_multi_speaker_speech_is_never_sent_to_audio_speech(s: Session, rec: Recorder) -> None:
    """A multi-speaker config on /v1/audio/speech went out there (one voice read the whole dialogue, paid); asked
    for there it is one line now, nothing sent; the native call still takes it."""
    from tokenhot_nb.errors import UnsupportedOptionError

    for model in ("gemini-tts", "mimo-v2.5-tts"):
        kw = {"endpoint": "audio.speech"} if model == "gemini-tts" else {}
        with pytest.raises(UnsupportedOptionError) as exc:
            s.speak("Joe: Hi Jane.\nJane: Hello Joe!", model=model, extra={"generationConfig": SPEAKERS}, **kw)
        said = str(exc.value)
        assert said.startswith("/v1/audio/speech speaks with one voice: it takes no multiSpeakerVoiceConfig")
        assert "\n" not in said and ("native Gemini call" in said) == (model == "gemini-tts")
    assert rec.posts() == []


@pytest.mark.parametrize("fields", [{"generationConfig": SPEAKERS},
                                    {"generationConfig": {"maxOutputTokens": 900}},
                                    {"raw": {"contents": [{"parts": [{"text": "Hi"}]}],
                                             "generationConfig": {"responseModalities": ["AUDIO"], **SPEAKERS}}}],
                         ids=["multi-speaker", "generation-config", "raw-native-body"])
def test_the_speech_fallback_does_not_carry_native_fields(s: Session, rec: Recorder,
                                                          fields: dict[str, object]) -> None:
    """When the relay did not serve Gemini's native call, the fallback sent the native call's generationConfig (a
    multi-speaker config, a raw native body) to /v1/audio/speech. It is not tried then: the relay's answer is the
    error, and its hint says why the fallback was not tried."""
    from tokenhot_nb.errors import APIError

    with pytest.raises(APIError) as exc:
        s.speak("Joe: Hi Jane.\nJane: Hello Joe!", model="gemini-tts", headers=NOT_SERVED, **fields)
    assert exc.value.status == 404 and "fallback was not tried" in (exc.value.hint or "")
    assert [r["path"] for r in rec.posts()] == ["/v1beta/models/gemini-2.5-flash-preview-tts:generateContent"]
    assert s.history[-1].status == "error"  # (one voice still falls back: test_gemini_tts_falls_back_to_audio_speech)


def test_mimo_tts_voices_are_not_checked_against_openais(s: Session, rec: Recorder) -> None:
    """mimo-v2.5-tts (a live-only model on OpenAI's speech route) took OpenAI's eleven voices as its own: its own
    voices were refused as "no voice …" before the call. The reference lists none for it: any voice goes as given."""
    from tokenhot_nb.errors import UnsupportedOptionError

    info = s.model("mimo-v2.5-tts")
    assert (info.family, info.choices("voices")) == ("openai-tts", [])
    for voice in ("mimo_default", "default_zh", "alloy"):
        assert s.speak("Hello there.", model="mimo-v2.5-tts", voice=voice).duration
        assert rec.json(-1, "/v1/audio/speech")["voice"] == voice
    with pytest.raises(UnsupportedOptionError, match=r"tts-1 has no voice 'mimo_default'"):  # (OpenAI's own: checked)
        s.speak("Hello there.", model=s.catalog.snapshot().unlisted("tts-1", "openai-tts"), voice="mimo_default")
