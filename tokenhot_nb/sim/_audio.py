"""Audio endpoints: ``/v1/audio/speech`` (WAV) and Whisper-style transcriptions and translations.

Simulated speech carries its text, so speaking and then transcribing gives the same words back;
any other audio gets a generic transcript that states its duration.
"""

from __future__ import annotations

import math
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

from . import media
from ._common import Ctx, Form, count_tokens, error_response, json_out

_LANGS = {"en": "english", "zh": "chinese", "ja": "japanese", "ko": "korean", "fr": "french", "de": "german",
          "es": "spanish", "ru": "russian", "it": "italian", "pt": "portuguese"}
_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
#: The upload types Whisper takes (reference §6.2), read from the file part's *name*: OpenAI answers a WAV named
#: ``voice`` (no extension) or ``talk.aiff`` with a 400 naming this list.
UPLOAD_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
#: The largest upload Whisper takes (reference §6.2: OpenAI's 25 MB); a larger one is a 413, as the service answers.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
#: ``/v1/audio/speech`` formats and speed range (reference §6.3).
SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")


async def speech(ctx: Ctx, body: dict[str, Any]) -> Response:
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        return error_response(ctx, 400, "input is required", "invalid_request", "invalid_request_error")
    if len(text) > media.MAX_SPEECH_CHARS:  # as the service refuses it (in-process, ~3 GB of samples killed a kernel)
        return error_response(ctx, 400, f"input: string too long. Expected a string with maximum length "
                              f"{media.MAX_SPEECH_CHARS}, but got a string with length {len(text)} instead.",
                              "string_above_max_length", "invalid_request_error")
    fmt = body.get("response_format", "mp3")
    if fmt not in SPEECH_FORMATS:
        return error_response(ctx, 400, f"response_format must be one of {', '.join(SPEECH_FORMATS)}, got {fmt!r}",
                              "invalid_request", "invalid_request_error")
    speed = body.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4:
        return error_response(ctx, 400, f"speed must be a number from 0.25 to 4, got {speed!r}", "invalid_request",
                              "invalid_request_error")
    voice = str(body.get("voice") or "alloy")
    pcm = await run_in_threadpool(media.speech_pcm, text, voice)
    if body.get("response_format") == "pcm":
        return Response(pcm, media_type="audio/pcm")
    # Every other format is answered as WAV: the simulator has no MP3/Opus encoder.
    return Response(media.wav_bytes(pcm, text=text), media_type="audio/wav")


def _is_english(text: str) -> bool:
    return all(ord(c) < 0x2E80 for c in text)


def _sentences(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"(?<=[.!?。！？])\s*", text) if p.strip()]
    return parts or [text]


def _segments(text: str, duration: float) -> list[dict[str, Any]]:
    """Sentence segments with times proportional to their length (speech is ~60 ms per character)."""
    sentences = _sentences(text)
    total = sum(len(s) for s in sentences) or 1
    lead = min(0.05, duration / 10)
    span = max(0.0, duration - 2 * lead)
    out, t = [], lead
    for i, s in enumerate(sentences):
        end = t + span * len(s) / total
        out.append({"id": i, "seek": 0, "start": round(t, 3), "end": round(end, 3), "text": s,
                    "tokens": list(range(50364, 50364 + count_tokens(s))), "temperature": 0.0,
                    "avg_logprob": -0.21, "compression_ratio": 1.3, "no_speech_prob": 0.01})
        t = end
    return out


def _stamp(t: float, sep: str) -> str:
    ms = round(t * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _srt(segments: list[dict[str, Any]]) -> str:
    return "".join(f"{i + 1}\n{_stamp(s['start'], ',')} --> {_stamp(s['end'], ',')}\n{s['text']}\n\n"
                   for i, s in enumerate(segments))


def _vtt(segments: list[dict[str, Any]]) -> str:
    return "WEBVTT\n\n" + "".join(f"{_stamp(s['start'], '.')} --> {_stamp(s['end'], '.')}\n{s['text']}\n\n"
                                  for s in segments)


def _words(segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    words = []
    for seg in segments:
        ws = seg["text"].split()
        step = (seg["end"] - seg["start"]) / max(1, len(ws))
        for j, w in enumerate(ws):
            words.append({"word": w.strip(".,!?"), "start": round(seg["start"] + j * step, 3),
                          "end": round(seg["start"] + (j + 1) * step, 3)})
    return words


async def transcribe(ctx: Ctx, form: Form, translate: bool) -> Response:
    files = form.uploads("file")
    if not files:
        return error_response(ctx, 400, "file is required", "invalid_request", "invalid_request_error")
    if len(files[0].data) > MAX_UPLOAD_BYTES:
        return error_response(ctx, 413, f"Maximum content size limit ({MAX_UPLOAD_BYTES}) exceeded "
                              f"({len(files[0].data)} bytes read)", "invalid_request", "invalid_request_error")
    name = files[0].filename or ""
    if "." not in name or name.rsplit(".", 1)[-1].lower() not in UPLOAD_EXTENSIONS:
        return error_response(ctx, 400, f"Invalid file format. Supported formats: {list(UPLOAD_EXTENSIONS)}",
                              "invalid_request", "invalid_request_error")
    fmt = form.get("response_format") or "json"
    if fmt not in _FORMATS:
        return error_response(ctx, 400, f"response_format must be one of {', '.join(_FORMATS)}",
                              "invalid_request", "invalid_request_error")
    data = files[0].data
    duration, spoken = await run_in_threadpool(media.read_audio, data)
    if duration is None:
        duration = max(1.0, len(data) / 16000)  # ~128 kbit/s compressed audio
    if spoken is None:
        spoken = f"This is a simulated transcript of {duration:.1f} seconds of audio from {files[0].filename}."
    if translate:
        text = spoken if _is_english(spoken) else f"[translated to English] {spoken}"
        language = "english"
    else:
        text = spoken
        code = (form.get("language") or ("en" if _is_english(spoken) else "zh")).lower()
        language = _LANGS.get(code, code)
    segments = _segments(text, duration)
    if fmt == "text":
        return PlainTextResponse(text + "\n")
    if fmt == "srt":
        return PlainTextResponse(_srt(segments))
    if fmt == "vtt":
        return PlainTextResponse(_vtt(segments), media_type="text/vtt")
    if fmt == "verbose_json":
        out: dict[str, Any] = {"task": "translate" if translate else "transcribe", "language": language,
                               "duration": round(duration, 3), "text": text, "segments": segments}
        if "word" in form.fields.get("timestamp_granularities[]", []) + form.fields.get("timestamp_granularities", []):
            out["words"] = _words(segments)
        return json_out(ctx, out)
    return json_out(ctx, {"text": text, "usage": {"type": "duration", "seconds": math.ceil(duration)}})
