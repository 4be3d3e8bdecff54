"""Speech (text → audio) and transcription / translation (audio → text)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._inputs import to_media
from ..catalog import ModelInfo
from ..errors import (
    APIError,
    DownloadError,
    InputError,
    ReplayMissError,
    UnsupportedOptionError,
    WrongTypeError,
)
from ..results import AudioResult, TranscriptResult, from_entry
from .budget import dry_run
from .checks import body_extra, check_text
from .inputs import fetch, store_media
from .recording import (
    Recording,
    astore_bytes,
    drop_none,
    endpoint_name,
    received_text,
    replayed,
    send_recorded,
    store_bytes,
    store_download,
)

if TYPE_CHECKING:
    from ..client import Response
    from ..results._base import Result
    from .core import Session


#: Answers that mean "this route does not serve speech here", after which the model's next endpoint is tried.
_NOT_SERVED = {404, 405, 501}


async def speak_one(session: Session, text: Any, info: ModelInfo, voice: str | None,
                    options: dict[str, Any]) -> Result:
    """Speech on the model's first endpoint; if the relay does not serve it there, on the next one.

    The reference is unsure whether Tokenhot serves Gemini TTS natively or on ``/v1/audio/speech``; both
    attempts are recorded, the failed one as an error.
    """
    if not isinstance(text, str) and isinstance(text, (list, tuple)):
        raise InputError(f"speak() takes one text, not a {type(text).__name__} of them.",
                         hint="Speak them one at a time: [s.speak(t) for t in texts].")
    check_text(text, "text to speak", "s.speak('Hello there')", empty_ok=options.get("raw") is not None)
    if voice is not None and not isinstance(voice, str):  # ([] was read as no voice, 5 as "no voice 5")
        voices = info.choices("voices")
        raise WrongTypeError(f"voice= takes a voice's name (a str), not {type(voice).__name__} {voice!r:.40}.",
                             hint=f"e.g. voice={voices[0]!r}; s.model({info.id!r}).choices('voices') lists them."
                             if voices else "Leave voice= out for the model's own.")
    _check_speed(options.get("speed"))
    if options.get("endpoint") or len(info.endpoints) < 2:
        return await _speak_on(session, text, info, voice, options)
    try:
        return await _speak_on(session, text, info, voice, options)
    except (APIError, ReplayMissError) as exc:
        if isinstance(exc, APIError) and exc.status not in _NOT_SERVED and exc.code != "api_not_implemented":
            raise
        native = _native_fields(options)
        if native:  # (written for the native call: on /v1/audio/speech they were sent and ignored, or a 400)
            exc.hint = (f"{info.id}'s /v1/audio/speech fallback was not tried: the call carries {native}, a field of "
                        "the native Gemini call only. Try again later, or drop it to let the fallback speak.")
            raise
        try:
            return await _speak_on(session, text, info, voice, {**options, "endpoint": info.endpoints[1]})
        except ReplayMissError:
            raise exc from None


def _native_fields(options: dict[str, Any]) -> str:
    """The first field of Gemini's native call (``generationConfig``, a multi-speaker config, a raw native body) in
    a speech call's options or raw body, or ""."""
    from ..families.audio import GEMINI_ONLY_FIELDS

    raw = options.get("raw")
    extra = options.get("extra")
    for fields in (raw, options, extra):
        if isinstance(fields, dict):
            found = next((k for k in GEMINI_ONLY_FIELDS if k in fields), None)
            if found:
                return found
    return ""


async def _speak_on(session: Session, text: str, info: ModelInfo, voice: str | None,
                    options: dict[str, Any]) -> Result:
    from ..families import audio

    options = dict(options)
    headers = options.pop("headers", None)
    raw = options.pop("raw", None)
    endpoint = options.pop("endpoint", None)
    params = drop_none({"text": text, "model": info.ref, "voice": voice, "endpoint": endpoint, **options,
                        "raw": raw})
    call = audio.build_speech(info, text, voice=voice, endpoint=endpoint, extra=body_extra(options), raw=raw)
    call.headers.update(headers or {})
    if session.mode == "replay":
        return from_entry(replayed(session, "speak", info, endpoint_name(call), params, call), session)

    async def finish(rec: Recording, resp: Response) -> Result:
        # (audio whose own header says so is audio under any label: a WAV sent as application/json was a "not
        # JSON" error, the paid speech kept only as a .bin)
        body: Any = resp.json() if "json" in resp.content_type and audio.sniff_audio(resp.content[:64]) is None \
            else resp.content
        try:
            reply = audio.parse_speech(info, body, resp.headers.get("content-type"))
        except APIError as exc:
            await _keep_unplayable(session, rec, exc)
            raise
        if reply.wav:
            out = await astore_bytes(session, reply.wav, reply.mime or "audio/wav", "audio")
        elif reply.url:
            try:
                out = await store_download(session, reply.url, reply.mime or "audio/wav", "audio")
            except DownloadError as exc:  # the speech is paid for: its link is all that is left of it
                link = received_text(reply.url)
                rec.update(response=drop_none({"request_id": resp.request_id, "status": resp.status, "url": link}))
                exc.hint = (f"The call is paid for and its link is kept in history #{rec.id} (session.history.get("
                            f"{rec.id}).response['url']): download it from there, before it expires, rather than "
                            "calling again.")
                raise
        else:
            raise APIError(f"{info.id} answered without audio.", status=resp.status, request_id=resp.request_id)
        entry = rec.ok(response=drop_none({"request_id": resp.request_id, "status": resp.status,
                                           "finish_reason": reply.finish_reason}),
                       usage=reply.usage, outputs=[out])
        return AudioResult(session.store.path_of(out["sha256"]), mime=out["mime"], sha256=out["sha256"],
                           text=text, model=info.id, entry=entry, session=session, finish_reason=reply.finish_reason)

    return await send_recorded(session, "speak", info, params, call, finish, text=text)


async def _keep_unplayable(session: Session, rec: Recording, exc: APIError) -> None:
    """Binary speech bytes in no audio format the parser knows (PCM labelled ``audio/mpeg``, a container it does
    not sniff), the part of a damaged answer that arrived, or the parts of one that cannot be joined are paid for:
    kept in the row as ``raw`` .bin outputs, and the error says where, instead of "nothing was stored". Text,
    pages and empty answers are not kept (the error quotes them)."""
    from .recording import RAW_MIME

    given = getattr(exc, "unplayable", None)
    pieces = [given] if isinstance(given, bytes) else given if isinstance(given, list) else []
    pieces = [p for p in pieces if isinstance(p, bytes) and p]
    if not pieces:
        return
    try:
        kept_outputs = [await astore_bytes(session, p, RAW_MIME, "raw") for p in pieces]
        rec.update(outputs=kept_outputs)
    except Exception:  # recording must never hide the real error
        return
    size = sum(len(p) for p in pieces)
    kept = (f". The {size} bytes it sent are kept in history #{rec.id} as a .bin file (output role 'raw')."
            if len(pieces) == 1 else f". The {size} bytes it sent are kept in history #{rec.id} as {len(pieces)} "
            ".bin files, one per part (output role 'raw').")
    for name in ("message", "full_message"):
        setattr(exc, name, getattr(exc, name).replace("; nothing was stored.", kept))
    exc.args = (exc.message, *exc.args[1:])
    exc.hint = "The call is paid for: try again, or try another model or voice."


async def transcribe_one(session: Session, kind: str, audio_in: Any, info: ModelInfo, language: str | None,
                         fmt: str, options: dict[str, Any]) -> Result:
    """``kind`` is "transcribe" or "translate" (to English).

    A menu entry picks its task: "whisper-1(音频翻译)" translates, "whisper-1(音频转中文)" sends ``language=zh``.
    """
    from ..families import audio

    if kind == "transcribe" and info.preset.get("task") == "translate":
        kind = "translate"
    elif kind == "transcribe" and language is None:
        language = info.preset.get("language")
    options = dict(options)
    headers = options.pop("headers", None)
    prompt = options.pop("prompt", None)
    if options.pop("raw", None) is not None:  # (it went out as a form field named "raw")
        raise UnsupportedOptionError(f"{kind}() sends the audio as a multipart form, which raw= cannot replace.",
                                     hint="Add form fields with extra={…} (e.g. extra={'temperature': 0}).",
                                     option="raw")
    if language is not None:
        check_text(language, "language", "language='en' (an ISO-639-1 code)")
    if fmt is not None:
        check_text(fmt, "format", "format='srt' (json, text, srt, vtt or verbose_json)")
        fmt = fmt.strip().lower()  # (as sent: 'SRT' was stored as plain text, 'VERBOSE_JSON' as no JSON)
    if prompt is not None:
        check_text(prompt, "transcription prompt", "prompt='Names: Zoë, Tokenhot'")
    _check_temperature(options.get("temperature"))
    media = store_media(session, to_media(audio_in, "audio", session.store))
    params = drop_none({"audio": media.ref(), "model": info.ref, "language": language, "format": fmt,
                        "prompt": prompt, **options})
    endpoint = "audio.translations" if kind == "translate" else "audio.transcriptions"
    if media.data is not None:  # (refused in a replay as in the live run; a URL's type is known once downloaded)
        audio.upload_name(media.filename, media.mime)
        _check_upload_size(media.data)
    if session.mode == "replay":  # no call is built (it needs the audio): its options are checked all the same
        audio.transcription_fields(info, language=language, format=fmt, prompt=prompt,
                                   translate=kind == "translate", extra=options or None)
        return from_entry(replayed(session, kind, info, endpoint, params), session)
    if media.data is None:  # a URL: an estimate prices the call without downloading it (the price takes no bytes)
        dry_run(session, kind, info, params, None)
    media = await fetch(session, media, "audio")
    data, _ = media.pair()
    call = audio.build_transcription(info, data, media.filename, language=language, format=fmt, prompt=prompt,
                                     translate=kind == "translate", extra=body_extra(options))
    call.headers.update(headers or {})

    async def finish(rec: Recording, resp: Response) -> Result:
        # made safe before it is read, like a chat answer: a key the relay echoed (in any shape) is gone from
        # the text, the segments, the stored body and the result alike
        answer = received_text(resp.text)
        reply = audio.parse_transcription(fmt, answer, resp.headers.get("content-type"))
        # text/srt/vtt are stored as asked even when the relay answered JSON (reply.body is rewritten then)
        body = reply.body if fmt in ("text", "srt", "vtt") else answer
        role = "subtitles" if fmt in ("srt", "vtt") else "text"
        # (a relay that answered a JSON request in plain text: its text is kept as text, not as a .json that is no JSON)
        mime = "application/json" if fmt in ("json", "verbose_json") and reply.raw is not None else (
            "text/vtt" if fmt == "vtt" else "text/plain")
        out = store_bytes(session, body.encode("utf-8"), mime, role)
        entry = rec.ok(response=drop_none({"request_id": resp.request_id, "status": resp.status,
                                           "language": reply.language}),
                       usage=reply.usage, outputs=[out], text=reply.text)
        res = TranscriptResult(reply.text, segments=reply.segments, format=fmt, body=reply.body or body,
                               language=reply.language, duration=reply.duration, model=info.id, entry=entry,
                               session=session)
        res.kind = kind
        return res

    return await send_recorded(session, kind, info, params, call, finish, text=str(prompt or ""))


def _check_upload_size(data: bytes) -> None:
    """Whisper's 25 MB (reference §6.2): an earlier result (a long speech, a video) is taken without the size check
    a file gets, and went up whole to come back a 413."""
    from .._inputs import MAX_INPUT_BYTES

    limit = MAX_INPUT_BYTES["audio"]
    if len(data) > limit:
        raise InputError(f"The audio is {len(data) / 1e6:.1f} MB, over Whisper's {limit // (1024 * 1024)} MB limit.",
                         hint="Send its sound alone, shorter or compressed, e.g. ffmpeg -i in.mp4 -vn -ac 1 -b:a 64k "
                              "out.mp3, and pass that file.")


def _check_speed(value: Any) -> None:
    """``/v1/audio/speech``'s ``speed`` (reference §6.3: 0.25 to 4): ``speed=10`` or ``"fast"`` went out and came back
    a 400 (``extra={'speed': …}`` still sends any value as it is)."""
    _check_range(value, "speed", 0.25, 4, "e.g. speed=1.25 (a quarter faster); leave it out for the model's own pace.")


def _check_temperature(value: Any) -> None:
    """Whisper's ``temperature`` (reference §6.2: 0 to 1): ``temperature=5``, ``True`` or ``"hot"`` went out as a form
    field and the upload was paid for (``extra={'temperature': …}`` still sends any value as it is)."""
    _check_range(value, "temperature", 0, 1,
                 "e.g. temperature=0 (the most literal transcript); leave it out for the model's own.")


def _check_range(value: Any, name: str, low: float, high: float, hint: str) -> None:
    """A number option of the audio routes, from ``low`` to ``high`` (None: left out), else one line before the call."""
    import math

    if value is None:
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not low <= value <= high:
        raise InputError(f"{name} must be a number from {low:g} to {high:g}, not {value!r:.40}.", hint=hint,
                         option=name)
