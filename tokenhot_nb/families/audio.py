"""Audio: speech (Gemini TTS natively, OpenAI ``/v1/audio/speech`` otherwise) and Whisper transcripts.

Gemini TTS answers with base64 raw PCM (16-bit LE mono, rate in ``mimeType``); relays also send base64
WAV, a URL, or raw bytes, so :func:`parse_speech` accepts all of them and always hands back WAV when it
can. Whisper's reply parser is chosen from the requested ``response_format``, not the Content-Type.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import mimetypes
import re
import wave
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .._config import redact, redact_cut
from .._inputs import sniff_mime
from .._suggest import did_you_mean
from ..catalog import ModelInfo
from ..errors import APIError, InputError, UnsupportedOptionError
from . import _json
from ._common import (
    dig_list,
    finish_body,
    finite,
    looks_like_html,
    pick_choice,
    refuse_error_envelope,
    unsupported,
    usage_from,
)
from ._types import AudioReply, FilePart, HttpCall, Segment, TranscriptReply, Usage

__all__ = ["build_speech", "build_transcription", "parse_speech", "parse_transcription", "pcm_to_wav", "upload_name"]

_TEXT_FORMATS = ("text", "srt", "vtt")
#: Stable upload types for Whisper's accepted extensions (``mimetypes`` differs between platforms).
_AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "mpga": "audio/mpeg", "mpeg": "audio/mpeg", "m4a": "audio/mp4",
               "mp4": "audio/mp4", "ogg": "audio/ogg", "oga": "audio/ogg", "webm": "audio/webm", "flac": "audio/flac"}


def pcm_to_wav(pcm: bytes, rate: int = 24000, channels: int = 1, sampwidth: int = 2) -> bytes:
    """Wrap raw signed 16-bit little-endian PCM in a WAV header (Gemini TTS: 24 kHz mono)."""
    if len(pcm) % (channels * sampwidth):
        pcm = pcm[: len(pcm) - len(pcm) % (channels * sampwidth)]  # drop a torn last frame
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sampwidth)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


# --- speech --------------------------------------------------------------------------------------------


def _voice(model: ModelInfo, voice: str | None) -> str | None:
    voice = voice or model.defaults.get("voice")
    if voice is None:
        return None
    allowed = model.choices("voices")
    if not allowed:
        return str(voice)
    for v in allowed:
        if v.lower() == str(voice).strip().lower():
            return str(v)
    other = _other_family_voice(model, str(voice))
    if other is not None:
        raise UnsupportedOptionError(
            f"{voice!r} is a voice of the {other[1]} ({other[0]}) models, not a {model.vendor or model.family} "
            f"voice: {model.id} speaks with its own voices, e.g. {', '.join(allowed[:6])}.",
            hint=f"Pick one of its {len(allowed)} voices: tokenhot_nb.model({model.id!r}).choices('voices').",
        )
    raise UnsupportedOptionError(f"{model.id} has no voice {voice!r}." + did_you_mean(voice, allowed, cutoff=0.5),
                                 hint="Voices: " + ", ".join(allowed) + ".")


def _other_family_voice(model: ModelInfo, voice: str) -> tuple[str, str] | None:
    """(vendor, family) of another speech family whose voice this is ('alloy' asked of Gemini TTS)."""
    from .._catalog_data import FAMILIES

    wanted = voice.strip().lower()
    for name, spec in FAMILIES.items():
        voices = (spec.get("capabilities") or {}).get("voices") or []
        if name != model.family and wanted in (str(v).lower() for v in voices):
            return str(spec.get("vendor") or name), name
    return None


def build_speech(model: ModelInfo, text: str, *, voice: str | None = None, endpoint: str | None = None,
                 extra: Mapping[str, Any] | None = None, raw: Mapping[str, Any] | None = None) -> HttpCall:
    """Text to speech. ``endpoint`` (``gemini.generate`` | ``audio.speech``) defaults to the model's first."""
    ep = endpoint or model.endpoints[0]
    if ep not in model.endpoints:
        raise UnsupportedOptionError(f"{model.id} is not served on {ep!r}; it takes: {', '.join(model.endpoints)}.")
    if model.family not in ("gemini-tts", "openai-tts"):
        raise UnsupportedOptionError(f"{model.id} (family {model.family!r}) does not speak.",
                                     hint="Pick a speech model: tokenhot_nb.models('audio').")
    if (not text or not text.strip()) and raw is None:
        raise InputError("No text to speak.")
    extra, fmt = _speech_options(model, ep, extra if raw is None else None)
    if ep == "audio.speech" and _speakers_given(extra):  # (sent, it was one voice reading the whole dialogue)
        native = "gemini.generate" in model.endpoints
        raise UnsupportedOptionError(
            f"/v1/audio/speech speaks with one voice: it takes no multiSpeakerVoiceConfig, so {model.id} cannot speak "
            "several speakers there" + (" (only its native Gemini call can)." if native else "."),
            hint="Leave endpoint= out for the native call, which takes the speakers' voices." if native
            else "Give one voice=…, or use a model that speaks several speakers, e.g. gemini-tts.",
            option="multiSpeakerVoiceConfig")
    multi = ep == "gemini.generate" and _speakers_given(extra)
    if multi and voice is not None:
        raise UnsupportedOptionError(
            f"voice={voice!r} and a multiSpeakerVoiceConfig were both given: {model.id} takes one voice or the "
            "speakers' voices, not both.", hint="Drop voice=: each speaker's voice is in the multi-speaker config.",
            option="voice")
    name = None if multi else _voice(model, voice)  # (the default voice beside the speakers' was a 400)
    for speaker_voice in _speaker_voices(extra) if multi else []:  # each checked as voice= is: a typo is a 400
        _voice(model, speaker_voice)
    if ep == "gemini.generate":
        gen: dict[str, Any] = {"responseModalities": ["AUDIO"]}
        if name:
            gen["speechConfig"] = {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": name}}}
        body: dict[str, Any] = {"contents": [{"parts": [{"text": text}]}], "generationConfig": gen}
        return HttpCall("POST", f"/v1beta/models/{quote(model.id, safe='.-_')}:generateContent",
                        json=finish_body(body, extra, raw))
    body = {"model": model.id, "input": text, "voice": name or "alloy",
            "response_format": fmt or model.defaults.get("format") or "wav"}
    return HttpCall("POST", "/v1/audio/speech", json=finish_body(body, extra, raw), expect="bytes")


def _multi_config(extra: Mapping[str, Any] | None) -> Any:
    gen = (extra or {}).get("generationConfig", (extra or {}).get("generation_config"))
    speech = gen.get("speechConfig", gen.get("speech_config")) if isinstance(gen, Mapping) else None
    if not isinstance(speech, Mapping):
        return None
    multi = speech.get("multiSpeakerVoiceConfig")
    return multi if multi is not None else speech.get("multi_speaker_voice_config")


#: Fields of Gemini's native call (reference §6.1) that ``/v1/audio/speech`` (§6.3) has no place for: options
#: given for the native call never go to the fallback with them.
GEMINI_ONLY_FIELDS = ("contents", "generationConfig", "generation_config", "systemInstruction", "system_instruction",
                      "safetySettings", "safety_settings")


def _speakers_given(extra: Mapping[str, Any] | None) -> bool:
    """Whether ``extra`` sets Gemini's multi-speaker voices (reference §6.1), which take the place of the one voice."""
    return _multi_config(extra) is not None


def _speaker_voices(extra: Mapping[str, Any] | None) -> list[str]:
    """The voice names of a multi-speaker config (``speakerVoiceConfigs[].voiceConfig.prebuiltVoiceConfig``)."""
    def get(d: Any, camel: str, snake: str) -> Any:
        return d.get(camel, d.get(snake)) if isinstance(d, Mapping) else None

    configs = get(_multi_config(extra), "speakerVoiceConfigs", "speaker_voice_configs")
    names = [get(get(get(c, "voiceConfig", "voice_config"), "prebuiltVoiceConfig", "prebuilt_voice_config"),
                 "voiceName", "voice_name") for c in (configs if isinstance(configs, list) else [])]
    return [n for n in names if isinstance(n, str)]


#: ``/v1/audio/speech`` fields (reference §6.3) Gemini's native speech call has no place for (its style goes in the
#: prompt text); sent there they would be dropped.
_OPENAI_SPEECH_ONLY = ("speed", "instructions")


def _speech_options(model: ModelInfo, ep: str, extra: Mapping[str, Any] | None
                    ) -> tuple[dict[str, Any] | None, str | None]:
    """(extra without the audio format, the checked format). ``response_format`` / ``format`` must be one the
    model lists; Gemini's native call always answers PCM (kept as WAV), so there it is not sent, and the
    OpenAI-only fields are refused rather than dropped by the service."""
    rest = dict(extra or {})
    asked = rest.pop("response_format", None)
    asked = rest.pop("format", asked)
    fmt: str | None = None
    if asked is not None:
        formats = model.choices("formats")
        fmt = str(pick_choice(model, "response_format", asked, formats)) if formats else str(asked)
    if ep == "gemini.generate":
        odd = [k for k in _OPENAI_SPEECH_ONLY if rest.get(k) is not None]
        if odd:
            raise UnsupportedOptionError(
                f"{model.id} on its native Gemini call takes no {odd[0]} (an OpenAI speech field).",
                hint="Say how it should sound in the text itself, e.g. 'Say slowly and cheerfully: …'.")
    return (rest or None) if extra is not None else None, fmt


#: Sample rates a label may give raw PCM; anything else (0, past the WAV header's 32 bits) is a relay's garbage.
_RATES = range(1000, 768_001)


def _rate(mime: str | None, default: int = 24000) -> int:
    m = re.search(r"rate=(\d{1,7})\b", mime or "")
    return int(m.group(1)) if m and int(m.group(1)) in _RATES else default


#: Containers that also carry audio alone: a speech answer in them is audio (WebM, MP4/M4A from relays that
#: re-encode).
_AS_AUDIO = {"video/webm": "audio/webm", "video/mp4": "audio/mp4"}
#: Declared types that mean "raw PCM" (Gemini's ``audio/L16;codec=pcm;rate=24000``, OpenAI's ``pcm`` format).
_PCM_TYPES = ("l16", "pcm", "audio/raw")
#: Declared types that say nothing about the bytes; headerless bytes under them are read as PCM (Gemini's default).
_UNTYPED = ("", "application/octet-stream", "binary/octet-stream")


def sniff_audio(data: bytes) -> str | None:
    """The audio type from the first bytes (the one table of magic numbers, :func:`sniff_mime`), or None when they
    carry no known audio header."""
    mime = sniff_mime(data, "")
    mime = _AS_AUDIO.get(mime, mime)
    return mime if mime.startswith("audio/") else None


def _textual(data: bytes) -> bool:
    """Whether the bytes read as text (an HTML page, JSON, a plain error): real audio never does for 512 bytes."""
    head = data[:512].removeprefix(b"\xef\xbb\xbf")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the edge
            return False
        text = head[: exc.start].decode("utf-8")
    return bool(text.strip()) and all(c.isprintable() or c in "\t\n\r\f" for c in text)


def _what_came(data: bytes, declared: str) -> str:
    """What a non-audio answer was, for the error: its kind, size, declared type and (text) its start."""
    if not data:
        return "an empty body"
    head = data[:512].lstrip().lower()
    kind = ("an HTML page" if looks_like_html(head) or b"<html" in head
            else "an SVG drawing" if b"<svg" in head
            else "XML" if head.startswith(b"<")
            else "JSON" if head.startswith((b"{", b"["))
            else "text" if _textual(data) else "data in no audio format")
    out = f"{kind} ({len(data)} bytes" + (f", {declared}" if declared else "") + ")"
    if kind != "data in no audio format":
        out += f": {_snippet(data[:400].decode('utf-8', errors='replace'))!r}"
    return out


def _snippet(text: str, width: int = 120) -> str:
    """The start of a text answer on one line, for an error message (repr'd by the caller: data, not markup).
    Redacted before the cut: a key the answer quoted across it would lose its end and show its first part."""
    flat = " ".join(redact_cut(text).split())
    return flat[:width] + ("…" if len(flat) > width else "")


def _not_audio(data: bytes, declared: str) -> APIError:
    return APIError(
        f"The speech answer is not audio: the server sent {_what_came(data, declared)}; nothing was stored.",
        hint="A proxy or login page may stand between you and Tokenhot (check TOKENHOT_BASE_URL), or the relay "
             "failed; the call is in the history as an error. Try again.",
    )


def _from_audio_bytes(data: bytes, mime: str | None, *, pcm: bool = False, whole: bool = False) -> tuple[bytes, str]:
    """WAV bytes when possible; otherwise the bytes with their own audio type. Anything else is refused.

    Bytes with a known audio header are audio whatever the label says; headerless bytes are raw PCM only when
    declared so (or undeclared, Gemini's default); anything else (text, an HTML page, JSON, bytes in no audio
    format under any other label) never becomes the audio.
    """
    declared = (mime or "").split(";")[0].strip().lower()
    # (``pcm``: Gemini's inlineData, raw PCM when unlabelled, reference §6.1)
    pcm_label = any(t in (mime or "").lower() for t in _PCM_TYPES) or (pcm and not declared)
    sniffed = sniff_audio(data)
    # (an MPEG/ADTS frame sync is 11-12 bits at byte 0 that PCM hits whenever its first sample is e.g. -1, 0xFFFF:
    # under a PCM label it is no header, or Gemini's speech was kept as an MP3 that does not play)
    if sniffed is not None and not (pcm_label and data[:1] == b"\xff"):
        if whole and sniffed == "audio/wav":
            _whole_wav(data)
        return data, sniffed
    if not data or _textual(data):
        raise _not_audio(data, declared)
    if declared in _UNTYPED or pcm_label:
        rate = _rate(mime)
        if len(data) < rate * 2 * _MIN_PCM_SECONDS:  # (it became a "successful" clip of 0 s, or of one sample)
            raise APIError(f"The speech answer holds no audio: {len(data)} byte{'s' * (len(data) != 1)} of PCM, less "
                           "than 1 ms of sound; nothing was stored.",
                           hint="The relay failed to send the speech; try again.")
        if whole and len(data) % 2:  # (16-bit samples: an odd count is a sample cut on the way)
            raise _Damaged(f"its PCM ({len(data):,} bytes) ends in the middle of a sample", data)
        return pcm_to_wav(data, rate), "audio/wav"
    err = _not_audio(data, declared)  # e.g. "audio/mpeg" on bytes that are no MP3: a label is not a format
    err.unplayable = data  # type: ignore[attr-defined]  # (paid bytes, maybe a format not sniffed: the caller keeps them)
    raise err


#: The shortest PCM kept as speech, 1 ms (any spoken word lasts hundreds of times longer): less is a relay's scrap,
#: e.g. the word "null" in ``data``, which decodes as base64 to 3 bytes and was kept as a successful clip of a sample.
_MIN_PCM_SECONDS = 0.001

_URLSAFE = str.maketrans("-_", "+/")
_B64_TEXT = re.compile(r"[A-Za-z0-9+/=]*")
_B64_VALUE = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _inline_parts(body: Any) -> list[dict[str, Any]]:
    """The audio parts (``inlineData`` / ``inline_data`` with data) of the first candidate that has any, in order: a
    relay may answer one speech in several parts (other candidates are other answers, never joined to it)."""
    for cand in dig_list(body, "candidates"):
        found = []
        for p in dig_list(cand, "content", "parts"):
            inline = (p.get("inlineData") or p.get("inline_data")) if isinstance(p, dict) else None
            if isinstance(inline, dict) and inline.get("data"):
                found.append(inline)
        if found:
            return found
    return []


class _Damaged(Exception):
    """Audio that arrived damaged (base64 cut or garbled, PCM cut mid-sample, a WAV shorter than its header says):
    what was wrong, and the bytes that did arrive (paid: the caller keeps them)."""

    def __init__(self, what: str, arrived: bytes) -> None:
        super().__init__(what)
        self.what = what
        self.arrived = arrived


def _damaged_error(what: str, arrived: bytes | list[bytes], part: str = "") -> APIError:
    err = APIError(f"The speech audio arrived damaged{part}: {what}; nothing was stored.",
                   hint="The relay cut or garbled the audio on its way; the call is paid for: try again.")
    err.unplayable = arrived  # type: ignore[attr-defined]  # (what did arrive: the caller keeps it)
    return err


def _b64_audio(text: str) -> bytes:
    """Base64 speech → bytes; :class:`_Damaged` when the text is base64 cut or garbled on the way (a cut mid-character
    leaves a length or last character no encoder writes; padding inside the text), ``binascii.Error`` when it is no
    base64 at all (an error message in ``data``). Line breaks and URL-safe letters are read; base64 pieces each padded
    and sent one after the other (a relay that joined chunks) are read piece by piece."""
    packed = "".join(text.split()).translate(_URLSAFE)
    if not _B64_TEXT.fullmatch(packed):
        raise binascii.Error("not base64")
    pieces = re.findall(r"[^=]+=*", packed) or [""]
    out: list[bytes] = []

    def damaged(what: str, core: str) -> _Damaged:  # (with the whole groups that did arrive: paid for)
        return _Damaged(what, b"".join(out) + base64.b64decode(core[: len(core) - len(core) % 4]))

    if "".join(pieces) != packed:  # (padding before any data)
        raise damaged(f"its base64 ({len(packed):,} characters) starts with padding ('=')", "")
    for i, piece in enumerate(pieces):
        core = piece.rstrip("=")
        if i < len(pieces) - 1 and len(piece) % 4:  # (a padded piece is whole: padding anywhere else is damage)
            raise damaged(f"its base64 has padding ('=') inside it, at character {len(''.join(pieces[:i + 1])):,} "
                          f"of {len(packed):,}", core)
        if len(core) % 4 == 1:
            raise damaged(f"its base64 ({len(packed):,} characters) ends in the middle of a byte", core)
        # (the last character of a short group carries bits no encoder sets: a cut there, not the text's end)
        if len(core) % 4 and _B64_VALUE[core[-1]] & (0xF if len(core) % 4 == 2 else 0x3):
            raise damaged(f"its base64 ({len(packed):,} characters) ends cut short", core)
        out.append(base64.b64decode(core + "=" * (-len(core) % 4), validate=True))
    return b"".join(out)


def _whole_wav(data: bytes) -> None:
    """:class:`_Damaged` when a WAV is shorter than its own header says (cut on the way); a streamed WAV's sizes
    (0 or 0xFFFFFFFF: "unknown") say nothing."""
    declared = int.from_bytes(data[4:8], "little")
    if declared not in (0, 0xFFFFFFFF) and declared + 8 > len(data):
        raise _Damaged(f"the WAV is {len(data):,} bytes where its header says {declared + 8:,}", data)


def _inline_audio(inline: Mapping[str, Any], pcm: bool) -> tuple[str | None, bytes, str]:
    """One inline audio part → (its URL, or None; WAV or audio bytes; their type). :class:`_Damaged` when it arrived
    damaged; ``APIError`` when it is no audio."""
    data_s = str(inline.get("data")).strip()
    label = inline.get("mimeType") or inline.get("mime_type")
    mime: str | None = label if isinstance(label, str) else None  # (a number there is no label)
    if data_s.startswith(("http://", "https://")):  # downloaded as audio (checked there): only an audio label kept
        label = str(mime or "")
        return data_s, b"", label if label.lower().startswith("audio/") else ""
    if data_s.startswith("data:"):
        head, _, data_s = data_s.partition(",")
        mime = mime or head[5:].split(";base64")[0]
    try:  # validated: text that is not base64 (an error message in ``data``) must not decode to noise
        audio = _b64_audio(data_s)
    except (binascii.Error, ValueError):
        raise _not_audio(data_s.encode("utf-8", errors="replace"), str(mime or "")) from None
    try:
        wav, out_mime = _from_audio_bytes(audio, mime, pcm=pcm, whole=True)
    except APIError:
        # (text that happens to be base64, "None": quote it, not the broken characters it decodes to)
        if audio and _textual(audio) and "\ufffd" in audio[:512].decode("utf-8", errors="replace"):
            raise _not_audio(data_s.encode("utf-8", errors="replace"), str(mime or "")) from None
        raise
    return None, wav, out_mime


def _joined(parts: list[tuple[str | None, bytes, str]], labels: list[str]) -> bytes:
    """Speech answered in several parts, as one WAV: the parts' sound in order. Parts that are links, in a format
    other than PCM/WAV, or at different rates, sample sizes or channel counts cannot be one clip: refused, the
    parts kept (``unplayable``)."""
    n = len(parts)
    if any(url for url, _, _ in parts):
        raise APIError(f"The speech came in {n} parts, some of them links: they cannot be joined into one clip.",
                       hint="The relay split the answer in a way tokenhot_nb cannot rejoin; try again.")
    formats = []
    frames = []
    for _, data, mime in parts:
        if mime != "audio/wav":
            formats.append((mime, 0, 0, 0))
            frames.append(b"")
            continue
        try:
            with wave.open(io.BytesIO(data)) as w:
                formats.append((mime, w.getframerate(), w.getsampwidth(), w.getnchannels()))
                frames.append(w.readframes(w.getnframes()))
        except (wave.Error, EOFError):  # (a WAV the wave module does not read: float samples, a broken header)
            formats.append(("audio/wav (unreadable)", 0, 0, 0))
            frames.append(b"")
    if len(set(formats)) > 1 or formats[0][1] == 0:
        shown = redact(", ".join(dict.fromkeys(label or "unlabelled" for label in labels)))[:200]
        what = (f"in different formats ({shown})" if len(set(formats)) > 1
                else f"of {formats[0][0]}, which cannot be joined into one clip")
        err = APIError(f"The speech came in {n} parts {what}; nothing was stored.",
                       hint="The relay split one speech into parts that cannot be joined; try again.")
        err.unplayable = [data for _, data, _ in parts]  # type: ignore[attr-defined]
        raise err
    _, rate, width, channels = formats[0]
    return pcm_to_wav(b"".join(frames), rate, channels, width)


def parse_speech(model: ModelInfo | None, body: Any, content_type: str | None = None) -> AudioReply:
    """Gemini JSON (base64 PCM/WAV or a URL in ``data``, in one part or several), OpenAI raw bytes, or a JSON
    ``url``/``data`` field. Audio that arrived damaged (base64 cut or garbled) is one error, its bytes kept."""
    ctype = (content_type or "").lower()
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
        if "json" in ctype or data.lstrip()[:1] in (b"{", b"["):
            try:
                body = _json.loads(data)
            except ValueError:
                pass
        if isinstance(body, (bytes, bytearray)):
            wav, bytes_mime = _from_audio_bytes(data, content_type if ctype else None)
            return AudioReply(wav=wav, mime=bytes_mime)
    if isinstance(body, str):
        if body.strip().startswith(("http://", "https://")):
            return AudioReply(url=body.strip(), mime="", raw=body)
        body = {"data": body}
    if not isinstance(body, dict):
        raise InputError(f"Cannot read a speech reply of type {type(body).__name__}.")
    # (an error sent with 200, e.g. out of quota: its message and code, not "no audio … try a longer text")
    refuse_error_envelope(body, content=("candidates", "data", "audio", "url", "audio_url"),
                          answer="The speech answer", instead="audio")
    inlines = _inline_parts(body)
    gemini = bool(inlines)  # (Gemini's inlineData: raw PCM when unlabelled, reference §6.1)
    if not inlines:
        src = body.get("data") if isinstance(body.get("data"), str) else body.get("audio") or body.get("url") \
            or body.get("audio_url")
        if isinstance(src, dict):
            src = src.get("data") or src.get("url")
        if isinstance(src, str):
            inlines = [{"data": src, "mimeType": body.get("mimeType") or body.get("mime_type")}]
    usage = usage_from(body.get("usageMetadata") or body.get("usage")) if (
        body.get("usageMetadata") or body.get("usage")) else Usage()
    finish = next((str(c.get("finishReason") or c.get("finish_reason")) for c in dig_list(body, "candidates")
                   if isinstance(c, dict) and isinstance(c.get("finishReason") or c.get("finish_reason"), str)), None)
    if not inlines:
        said = " ".join(str(p.get("text")) for c in dig_list(body, "candidates") if isinstance(c, dict)
                        for p in dig_list(c, "content", "parts") if isinstance(p, dict) and p.get("text"))
        what = (f"the model answered with text: {_snippet(said)!r}" if said else
                f"the server sent JSON: {_snippet(json.dumps(body, ensure_ascii=False, default=str))!r}")
        raise APIError(f"The speech answer has no audio in it: {what}.",
                       hint="Try again; if it keeps happening, the text may be too short or not speakable.")
    parts = []
    for i, inline in enumerate(inlines):
        try:
            parts.append(_inline_audio(inline, gemini))
        except _Damaged as exc:
            where = f" (part {i + 1} of {len(inlines)})" if len(inlines) > 1 else ""
            raise _damaged_error(exc.what, [p[1] for p in parts] + [exc.arrived], where) from None
        except APIError as exc:  # (a part that is no audio: the parts before it are paid sound, kept with its bytes)
            if parts:
                own = getattr(exc, "unplayable", None)
                exc.unplayable = [p[1] for p in parts] + ([own] if isinstance(own, bytes) else [])  # type: ignore[attr-defined]
            raise
    if len(parts) == 1:
        url, wav, out_mime = parts[0]
        if url is not None:
            return AudioReply(url=url, mime=out_mime, usage=usage, raw=body, finish_reason=finish)
        return AudioReply(wav=wav, mime=out_mime, usage=usage, raw=body, finish_reason=finish)
    labels = [str(i.get("mimeType") or i.get("mime_type") or "") for i in inlines]
    return AudioReply(wav=_joined(parts, labels), mime="audio/wav", usage=usage, raw=body, finish_reason=finish)


# --- transcription -----------------------------------------------------------------------------------------


def transcription_fields(model: ModelInfo, *, language: str | None = None, format: str = "json",
                         prompt: str | None = None, translate: bool = False,
                         extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The form fields of a Whisper call, every option checked: what :func:`build_transcription` sends beside
    the file, and the check a replay makes (it has no call to build, and must refuse what a live run refuses)."""
    if model.family != "whisper":
        raise UnsupportedOptionError(f"{model.id} (family {model.family!r}) does not transcribe.",
                                     hint="Use whisper-1.")
    fmt = (format or "json").strip().lower()
    formats = model.choices("formats")
    if formats and fmt not in formats:
        raise unsupported(model, "format", format, formats)
    fields: dict[str, Any] = {"model": model.id, "response_format": fmt}
    if translate:
        language = language if language is not None else (extra or {}).get("language")
        if language is not None:
            raise UnsupportedOptionError(
                f"Translation always outputs English, so it takes no language (got language={language!r}).",
                hint="Drop language=, or use transcribe(…, language=…) to get the text in the spoken language.",
            )
    elif language:
        lang = language.strip().lower()
        langs = model.choices("languages")
        if langs and lang not in langs:
            raise unsupported(model, "language", language, langs,
                              hint="Use an ISO-639-1 code such as 'zh', 'en' or 'ja'.")
        fields["language"] = lang
    if prompt:
        fields["prompt"] = prompt
    if fmt == "verbose_json" and not translate:
        fields["timestamp_granularities[]"] = ["segment"]
    for k, v in (extra or {}).items():
        fields[k] = [str(x) for x in v] if isinstance(v, (list, tuple)) else (
            str(v).lower() if isinstance(v, bool) else str(v))
    return fields


#: What Whisper takes (reference §6.2), by the upload's *name*: OpenAI reads the type from its extension, and
#: answers a WAV named ``voice`` (no extension) or ``take.dat`` with 400 "Invalid file format".
UPLOAD_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
#: The extension a name without a usable one gets, from what the bytes are.
_UPLOAD_EXT = {"audio/wav": "wav", "audio/mpeg": "mp3", "audio/flac": "flac", "audio/ogg": "ogg", "audio/mp4": "m4a",
               "video/mp4": "mp4", "audio/webm": "webm", "video/webm": "webm"}


def upload_name(filename: str, mime: str) -> str:
    """The file name a Whisper upload goes out under: the user's, when its extension is one Whisper takes; else
    the user's stem with the extension of what the bytes are (``voice`` holding WAV → ``voice.wav``). Audio in a
    type Whisper does not take (AIFF, ADTS AAC) is refused here, before the upload."""
    name = (filename or "audio").strip() or "audio"
    stem, dot, ext = name.rpartition(".")
    if dot and ext.lower() in UPLOAD_EXTENSIONS:
        return name
    known = _UPLOAD_EXT.get((mime or "").split(";")[0].strip().lower())
    if known is None:
        what = (mime or "").split(";")[0].strip() or "data in no known audio format"
        raise InputError(f"Whisper does not take {name!r} ({what}): it takes FLAC, M4A, MP3, MP4, MPEG, OGG, WAV or "
                         "WEBM audio.", hint="Convert it first, e.g. ffmpeg -i in.aiff out.wav, and pass that file.")
    return (stem if dot and stem else name) + "." + known


def build_transcription(model: ModelInfo, data: bytes, filename: str, *, language: str | None = None,
                        format: str = "json", prompt: str | None = None, translate: bool = False,
                        extra: Mapping[str, Any] | None = None) -> HttpCall:
    """Whisper multipart: transcription (``language`` optional) or translation to English (no ``language``)."""
    fields = transcription_fields(model, language=language, format=format, prompt=prompt, translate=translate,
                                  extra=extra)
    if not data:
        raise InputError("The audio is empty.")
    filename = upload_name(filename, sniff_mime(data, ""))
    ext = filename.rsplit(".", 1)[-1].lower()
    mime = _AUDIO_MIME.get(ext) or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    path = "/v1/audio/translations" if translate else "/v1/audio/transcriptions"
    return HttpCall("POST", path, data=fields, files=[FilePart("file", filename, data, mime)],
                    expect="text" if fields["response_format"] in _TEXT_FORMATS else "json")


_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d+))?")
_CLOCK = re.compile(r"\s*(?:(\d+):)?(\d+):(\d+(?:[.,]\d+)?)\s*")


def _seconds(stamp: str) -> float:
    m = _TIME.search(stamp)
    if not m:
        return 0.0
    h, mi, s, frac = m.groups()
    if h and len(h) > 6:  # past any recording, and past what int() converts: a relay's garbage, not a time
        return 0.0
    return int(h or 0) * 3600 + int(mi) * 60 + int(s) + int((frac or "0")[:3].ljust(3, "0")) / 1000


#: Longer than any recording (a year): a time past it is a relay's garbage, not a place in the audio.
_MAX_SECONDS = 366 * 86400.0


def seconds_of(value: Any) -> float | None:
    """A segment time as seconds: a number, a number in a string, or a clock (``0:01``, ``00:00:01.5``).

    None for anything else, negative or not finite (a ``1e400`` in JSON is infinity), so one odd time never
    costs the paid transcript."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    clock = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    try:
        out = float(value) if clock is None else (
            int(clock[1] or 0) * 3600 + int(clock[2]) * 60 + float(clock[3].replace(",", ".")))
    except (ValueError, OverflowError):  # not a number, or too large for a float
        return None
    return out if math.isfinite(out) and 0 <= out < _MAX_SECONDS else None


def parse_cues(text: str) -> list[Segment]:
    """Segments of an SRT or WebVTT body."""
    segs: list[Segment] = []
    for block in re.split(r"\r?\n\s*\r?\n", text.strip()):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        for i, line in enumerate(lines):
            if "-->" in line:
                start, _, end = line.partition("-->")
                segs.append(Segment(_seconds(start), _seconds(end), " ".join(lines[i + 1:]).strip()))
                break
    return segs


def usable_time(value: Any) -> float | None:
    """A parsed segment's time, if usable: a finite number of seconds within a year (segments from a relay's
    answer or an old row may hold anything)."""
    seconds = finite(value)
    return seconds if seconds is not None and 0 <= seconds < _MAX_SECONDS else None


def _stamp(t: Any, sep: str) -> str:
    """An SRT/VTT timestamp; a time that is not usable becomes 0 so the cue and its text are still written."""
    ms = round((usable_time(t) or 0.0) * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    sec, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d}{sep}{ms:03d}"


def _cue_text(text: Any) -> str:
    """A segment's text as one cue's lines: a blank line in it ended the cue (the rest was lost to every player and
    to :func:`parse_cues`), and a ``-->`` in it reads as a timing line."""
    lines = str(text).replace("-->", "->").splitlines()
    return "\n".join(line.strip() for line in lines if line.strip())


def cues_body(fmt: str, segments: list[Segment]) -> str:
    """An SRT or WebVTT body written from segments (whatever their times and texts hold: a relay's or an old row's)."""
    sep = "," if fmt == "srt" else "."
    cues = [f"{_stamp(sg.start, sep)} --> {_stamp(sg.end, sep)}\n{_cue_text(sg.text)}\n" for sg in segments]
    if fmt == "srt":
        return "\n".join(f"{i}\n{c}" for i, c in enumerate(cues, 1))
    return "WEBVTT\n\n" + "\n".join(cues)


def _transcript_usage(obj: dict[str, Any]) -> Usage:
    """Whisper bills by duration: ``usage: {"type": "duration", "seconds": N}``, else verbose_json's ``duration``."""
    u = obj.get("usage")
    seconds: Any = u.get("seconds") if isinstance(u, dict) else None
    if seconds is None:
        seconds = obj.get("duration")
    secs = seconds_of(seconds)
    usage = usage_from(u) if isinstance(u, dict) and u.get("type") != "duration" else Usage()
    usage.audio_seconds = secs or 0.0
    return usage


def _segments(items: Any) -> list[Segment]:
    """Whisper's segments; a time that cannot be read takes the one before it (the cue keeps its text and its
    place, with no length of its own) — the body as received is stored unchanged."""
    segs: list[Segment] = []
    last = 0.0
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        start = seconds_of(item.get("start"))
        start = last if start is None else start
        end = seconds_of(item.get("end"))
        end = start if end is None else end
        segs.append(Segment(start, end, str(item.get("text") or "").strip()))
        last = max(start, end)
    return segs


def _json_transcript(fmt: str, obj: dict[str, Any]) -> TranscriptReply:
    segs = _segments(obj.get("segments"))
    text = str(obj.get("text") or "").strip() or " ".join(sg.text for sg in segs if sg.text)
    return TranscriptReply(
        text=text,
        format=fmt,
        language=obj.get("language") if isinstance(obj.get("language"), str) else None,
        duration=seconds_of(obj.get("duration")),
        segments=segs,
        raw=obj,
        usage=_transcript_usage(obj),
    )


_PAGE_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _not_a_transcript(text: str) -> None:
    """Refuse an HTML page (a proxy's error page sent with 200): it must not become a paid transcript."""
    if not looks_like_html(text[:200].encode("utf-8", errors="replace")):
        return
    title = _PAGE_TITLE.search(text[:4096])
    said = " ".join(redact(title.group(1) if title else text[:4096]).split())  # (redacted before the cut)
    raise APIError(f"The transcription answer is an HTML page, not a transcript: {said[:120]!r}.",
                   hint="It came from the relay or a proxy in front of it, not from the model; try again.")


def _error_envelope(obj: dict[str, Any]) -> None:
    """Refuse ``{"error": …}`` without a transcript (an error sent with 200) instead of an empty transcript."""
    refuse_error_envelope(obj, content=("text", "segments"), answer="The transcription answer",
                          instead="a transcript")


def _plain_error_envelope(body: str) -> None:
    """Refuse a text transcript that is only an error envelope (``{"error": {"message": …}}``: a relay's error sent
    with 200 as text/plain). The parser still follows ``response_format``: any other JSON-looking text is the
    transcript, as said."""
    stripped = body.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return
    try:
        obj = _json.loads(stripped)
    except ValueError:
        return
    err = obj.get("error") if isinstance(obj, dict) else None
    message = err.get("message") if isinstance(err, dict) else None
    if isinstance(message, str) and message.strip() and next(iter(obj)) == "error":
        _error_envelope(obj)


def parse_transcription(format: str, text: str | bytes | dict[str, Any],
                        content_type: str | None = None) -> TranscriptReply:
    """Parse by the requested ``format`` (json / verbose_json / text / srt / vtt).

    A relay may answer JSON to a text/srt/vtt request: a JSON ``Content-Type`` says so, and then the JSON is
    read and ``body`` is written in the requested format, so the JSON text never becomes the transcript.
    """
    fmt = (format or "json").strip().lower()
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if isinstance(text, str):
        _not_a_transcript(text)
    if fmt in _TEXT_FORMATS and isinstance(text, str) and "json" in (content_type or "").lower():
        try:
            decoded = _json.loads(text)
        except ValueError:
            decoded = ...
        if decoded is None or isinstance(decoded, (bool, list)):  # (JSON, as labelled: no transcript in it)
            _no_transcript(fmt, f"JSON {json.dumps(decoded)[:60]}")
        if isinstance(decoded, dict):
            text = decoded
    if fmt in _TEXT_FORMATS:
        if isinstance(text, dict):
            _error_envelope(text)
            _require_text(fmt, text)
            reply = _json_transcript(fmt, text)
            if fmt == "text":
                reply.body = reply.text
            else:
                segs = reply.segments or [Segment(0.0, reply.duration or reply.usage.audio_seconds or 0.0,
                                                  reply.text)]
                reply.body = cues_body(fmt, segs)
            return reply
        body = text
        if fmt == "text":
            _plain_error_envelope(body)
            return TranscriptReply(text=body.strip(), format=fmt, body=body)
        segs = parse_cues(body)
        if not segs and body.lstrip()[:1] == "{":  # (no cue, a JSON object: a relay's JSON answer or 200 error sent
            try:                                   # as text/plain was an empty transcript; read as labelled JSON is)
                decoded = _json.loads(body)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict) and any(k in decoded for k in ("text", "segments", "error")):
                return parse_transcription(fmt, decoded)
        return TranscriptReply(text=" ".join(s.text for s in segs).strip(), format=fmt, body=body, segments=segs)
    obj: Any = text
    if isinstance(text, str):
        if not text.strip():
            _no_transcript(fmt, "an empty body")
        try:
            obj = _json.loads(text)
        except ValueError:
            return TranscriptReply(text=text.strip(), format=fmt, body=text)  # a relay answered in plain text
    if obj is None or isinstance(obj, (bool, list)):
        _no_transcript(fmt, f"JSON {json.dumps(obj)[:60]}")
    if not isinstance(obj, dict):  # (a plain-text transcript that reads as a JSON number or string: "1984")
        return TranscriptReply(text=str(obj), format=fmt, raw=obj)
    _error_envelope(obj)
    _require_text(fmt, obj)
    return _json_transcript(fmt, obj)


def _require_text(fmt: str, obj: dict[str, Any]) -> None:
    """Refuse a JSON object with neither ``text`` nor ``segments`` (``{"text": ""}`` is silence, and is kept)."""
    if "text" not in obj and "segments" not in obj:
        _no_transcript(fmt, f"JSON without 'text' (keys: {redact(', '.join(map(str, list(obj)[:6])))[:120]})")


def _no_transcript(fmt: str, what: str) -> None:
    """Refuse an answer to a JSON transcription that holds none (it was kept as an empty or "None" transcript)."""
    raise APIError(f"The transcription answer is {what}, not a transcript (format={fmt!r} was asked for).",
                   status=200,
                   hint="This is a relay problem, not the audio's (silence is transcribed as {\"text\": \"\"}); "
                        "try again.")
