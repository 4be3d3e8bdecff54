"""Gemini native ``/v1beta/models/{model}:generateContent`` and ``:streamGenerateContent``.

One route serves three jobs, chosen like the real models do: chat text, image output (when
``responseModalities`` asks for IMAGE or the model is an image model) and TTS (AUDIO, or a ``-tts`` model).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .._catalog_data import GEMINI_VOICES
from . import _structured, media
from ._chat import type_refusal
from ._common import (
    STREAM_FAILURE,
    Ctx,
    Frame,
    SSEResponse,
    all_text_tokens,
    compose_reasoning,
    compose_reply,
    count_tokens,
    error_response,
    json_out,
    obj,
    seed_of,
    split_chunks,
    tool_tokens,
)

PCM_MIME = "audio/L16;codec=pcm;rate=24000"

_PARTS = ["array", {"text": "string", "thought": "boolean", "inlineData": {"mimeType": "string", "data": "string"},
                    "inline_data": {"data": "string"}, "functionCall": {"name": "string", "args": {}},
                    "functionResponse": {"name": "string"}}]
#: new-api's ``GeminiChatRequest`` (the fields the simulator reads; both spellings, as Google takes both).
GEMINI_TYPES: dict[str, Any] = {
    "contents": ["array", {"role": "string", "parts": _PARTS}],
    "systemInstruction": {"parts": _PARTS}, "system_instruction": {"parts": _PARTS},
    "generationConfig": {"maxOutputTokens": "integer", "responseModalities": ["array", "string"],
                         "thinkingConfig": {"includeThoughts": "boolean"}, "responseMimeType": "string"},
    "generation_config": {}, "tools": ["array", {"functionDeclarations": ["array", {"name": "string"}],
                                                 "function_declarations": ["array", {"name": "string"}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "string", "allowedFunctionNames": ["array", "string"]}},
    "tool_config": {},
}


def _get(d: dict[str, Any], camel: str, snake: str) -> Any:
    return d.get(camel, d.get(snake))


def _last_user(contents: list[Any]) -> tuple[str, list[bytes]]:
    """Text of the last user turn that has text, and the images of the last user turn that has images.

    Walked from the end, so a long conversation's earlier images are not decoded again on every call.
    """
    text: str | None = None
    images: list[bytes] | None = None
    for c in reversed(contents):
        if not isinstance(c, dict) or c.get("role", "user") != "user":
            continue
        parts = [p for p in c.get("parts") or [] if isinstance(p, dict)]
        if text is None:
            texts = [str(p["text"]) for p in parts if "text" in p]
            if texts:
                text = " ".join(texts)
        if images is None:
            imgs = _inline_images(parts)
            if imgs:
                images = imgs
        if text is not None and images is not None:
            break
    return text or "", images or []


def _inline_images(parts: list[dict[str, Any]]) -> list[bytes]:
    imgs = []
    for p in parts:
        inline = _get(p, "inlineData", "inline_data")
        if isinstance(inline, dict) and str(_get(inline, "mimeType", "mime_type") or "").startswith("image/"):
            try:
                imgs.append(base64.b64decode(inline.get("data") or ""))
            except ValueError:
                pass
    return imgs


def _candidate(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
        cand["safetyRatings"] = []
    return cand


#: Google's image settings (reference §3.2, V8): the aspect ratios it makes, and the sizes the models after
#: gemini-2.5-flash-image take (that one has no ``imageSize``).
IMAGE_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
IMAGE_SIZES = ("1K", "2K", "4K")


def _image_config_refusal(model: str, cfg: Any) -> str | None:
    """Google's INVALID_ARGUMENT message for an ``imageConfig`` it does not take, or None."""
    if not isinstance(cfg, dict):
        return None
    ratio = _get(cfg, "aspectRatio", "aspect_ratio")
    if ratio is not None and ratio not in IMAGE_RATIOS:
        return f"aspectRatio {ratio!r} is not supported; use one of {', '.join(IMAGE_RATIOS)}"
    size = _get(cfg, "imageSize", "image_size")
    if size is not None:
        if model.lower().startswith("gemini-2.5-flash-image"):
            return f"imageSize is not supported by {model}"
        if size not in IMAGE_SIZES:
            return f"imageSize {size!r} is not supported; use one of {', '.join(IMAGE_SIZES)}"
    return None


def _unsigned_call(model: str, contents: list[Any]) -> tuple[str, int] | None:
    """Gemini 3 checks the signatures of the turn in progress (Google's thought-signatures docs; the reference,
    §2.4, says only that it signs its parts): from the last user content holding text, the first ``functionCall``
    part of every model content must carry its ``thoughtSignature`` (any value: Google documents a placeholder,
    ``skip_thought_signature_validator``, for calls made by another model). ``(name, position)`` of the first that
    does not, or None."""
    if not model.lower().startswith("gemini-3"):
        return None
    start = 0
    for i, c in enumerate(contents):
        parts = c.get("parts") if isinstance(c, dict) else None
        if (c.get("role") or "user") == "user" and any(isinstance(p, dict) and p.get("text") for p in parts or []):
            start = i
    for i, c in enumerate(contents[start:], start):
        if not isinstance(c, dict) or c.get("role") != "model":
            continue
        calls = [p for p in c.get("parts") or [] if isinstance(p, dict) and _get(p, "functionCall", "function_call")]
        if calls and not _get(calls[0], "thoughtSignature", "thought_signature"):
            return str(obj(_get(calls[0], "functionCall", "function_call")).get("name") or "?"), i + 1
    return None


async def generate(ctx: Ctx, model: str, body: dict[str, Any], stream: bool) -> Response:
    said = type_refusal(body, GEMINI_TYPES)
    if said is not None:  # a body the relay's request struct cannot hold (§10.5 bad_request_body)
        return error_response(ctx, 400, said, "invalid_request", "new_api_error")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return error_response(ctx, 400, "contents is required", "invalid_request", "invalid_request_error")
    for c in contents:  # §2.4: a turn is "user" or "model" (unset: the user's); "assistant" is OpenAI's word
        role = c.get("role") if isinstance(c, dict) else None
        if role is not None and role not in ("user", "model"):
            return error_response(ctx, 400, f"Please use a valid role: user, model (got {json.dumps(role)[:40]}).",
                                  "invalid_argument", "invalid_request_error")
    unsigned = _unsigned_call(model, contents)
    if unsigned is not None:
        return error_response(ctx, 400, f"Function call is missing a thought_signature in functionCall parts. This "
                              f"is required for tools to work correctly. Function call `{unsigned[0]}`, position "
                              f"{unsigned[1]}. Please refer to https://ai.google.dev/gemini-api/docs/"
                              "thought-signatures for more details.", "invalid_argument", "invalid_request_error")
    cfg = _get(body, "generationConfig", "generation_config") or {}
    modalities = [str(m).upper() for m in (_get(cfg, "responseModalities", "response_modalities") or [])]
    prompt, images = _last_user(contents)
    seed = seed_of(model, body)
    system = _get(body, "systemInstruction", "system_instruction")
    system_parts = system.get("parts") if isinstance(system, dict) else None
    system_text = " ".join(str(p.get("text") or "") for p in system_parts or [] if isinstance(p, dict))
    # the system instruction is prompt too, billed as every protocol bills it (Claude's `system` is counted alike)
    # and so are the tool declarations (:func:`~._common.tool_tokens`)
    prompt_tokens = tool_tokens(body.get("tools")) + all_text_tokens(contents) + 258 * len(images) \
        + (count_tokens(system_text) if system_text else 0)
    rid = ctx.request_id

    if "AUDIO" in modalities or "tts" in model.lower():
        speech = _get(cfg, "speechConfig", "speech_config") or {}
        prebuilt = _get(_get(speech, "voiceConfig", "voice_config") or {}, "prebuiltVoiceConfig",
                        "prebuilt_voice_config") or {}
        voice = _get(prebuilt, "voiceName", "voice_name") or "Kore"
        multi = _get(speech, "multiSpeakerVoiceConfig", "multi_speaker_voice_config")
        if multi is not None and _get(speech, "voiceConfig", "voice_config") is not None:
            # (reference §6.1: one voice, or speakers' voices; Google's SpeechConfig takes them as alternatives)
            return error_response(ctx, 400, "speech_config: voice_config and multi_speaker_voice_config are mutually "
                                  "exclusive; set only one of them.", "invalid_argument", "invalid_request_error")
        if multi is not None:
            configs = _get(multi, "speakerVoiceConfigs", "speaker_voice_configs") if isinstance(multi, dict) else None
            names: list[Any] = [_get(_get(_get(c, "voiceConfig", "voice_config") or {}, "prebuiltVoiceConfig",
                                              "prebuilt_voice_config") or {}, "voiceName", "voice_name")
                                if isinstance(c, dict) else None for c in configs or []]
            if not configs or not isinstance(configs, list) or not all(isinstance(n, str) for n in names):
                return error_response(ctx, 400, "multi_speaker_voice_config.speaker_voice_configs: each speaker needs "
                                      "a speaker and a voice_config.prebuilt_voice_config.voice_name.",
                                      "invalid_argument", "invalid_request_error")
            voice = next((n for n in names if n.lower() not in {v.lower() for v in GEMINI_VOICES}), names[0])
        if prompt_tokens > media.MAX_TTS_TOKENS:  # as Google refuses it (in-process, gigabytes of samples)
            return error_response(ctx, 400, f"The input token count ({prompt_tokens}) exceeds the maximum number of "
                                  f"tokens allowed ({media.MAX_TTS_TOKENS}).", "invalid_argument",
                                  "invalid_request_error")
        if str(voice).lower() not in {v.lower() for v in GEMINI_VOICES}:
            return error_response(ctx, 400, f"Voice name {voice} is not supported. Allowed voice names are: "
                                  + ", ".join(v.lower() for v in GEMINI_VOICES), "invalid_argument",
                                  "invalid_request_error")
        pcm = await run_in_threadpool(media.speech_pcm, prompt, str(voice))
        audio_tokens = round(len(pcm) / 2 / media.SPEECH_RATE * media.TTS_TOKENS_PER_SECOND)
        cap = _get(cfg, "maxOutputTokens", "max_output_tokens")
        limit = min(cap, media.MAX_TTS_OUTPUT_TOKENS) if isinstance(cap, int) and not isinstance(cap, bool) \
            and cap > 0 else media.MAX_TTS_OUTPUT_TOKENS
        finish = "STOP"
        if audio_tokens > limit:  # the speech stops at the output limit, mid-text (§2.4 finishReason)
            pcm = pcm[: limit * media.SPEECH_RATE // media.TTS_TOKENS_PER_SECOND * 2]
            audio_tokens, finish = limit, "MAX_TOKENS"
        parts: list[dict[str, Any]] = [{"inlineData": {"mimeType": PCM_MIME, "data": base64.b64encode(pcm).decode()}}]
        usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": audio_tokens,
                 "totalTokenCount": prompt_tokens + audio_tokens,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
                 "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": audio_tokens}]}
        return _single(ctx, model, parts, usage, stream, rid, finish)

    if "IMAGE" in modalities or "image" in model.lower():
        image_cfg = _get(cfg, "imageConfig", "image_config") or {}
        refusal = _image_config_refusal(model, image_cfg)
        if refusal is not None:
            return error_response(ctx, 400, refusal, "invalid_argument", "invalid_request_error")
        w, h = media.aspect_size(_get(image_cfg, "aspectRatio", "aspect_ratio"),
                                 _get(image_cfg, "imageSize", "image_size"))
        source = media.open_image(images[0]) if images else None

        def make() -> bytes:
            if source is not None:
                return media.png_bytes(media.derive_image(source, prompt, w, h, seed))
            return media.png_bytes(media.draw_image(prompt, w, h, seed))

        png = await run_in_threadpool(make)
        # Tokenhot answers with the image as a Markdown URL in the text part (§10.4), not inlineData
        url = ctx.file_url(ctx.state.put_file(png, "image/png", "png"))
        parts = [{"text": f"Here is the image for: {prompt[:200]}\n\n![image]({url})"}]
        usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": 1290,
                 "totalTokenCount": prompt_tokens + 1290,
                 "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}]}
        return _single(ctx, model, parts, usage, stream, rid)

    limit = _get(cfg, "maxOutputTokens", "max_output_tokens")
    tools = [{"name": str(d["name"]), "parameters": d.get("parameters") or _get(d, "parametersJsonSchema",
                                                                                 "parameters_json_schema")}
             for t in body.get("tools") or [] if isinstance(t, dict)
             for d in _get(t, "functionDeclarations", "function_declarations") or []
             if isinstance(d, dict) and d.get("name")]
    calling = _get(_get(body, "toolConfig", "tool_config") or {}, "functionCallingConfig",
                   "function_calling_config") or {}
    mode = {"ANY": "required", "NONE": "none"}.get(str(calling.get("mode") or "AUTO").upper(), "auto")
    allowed = _get(calling, "allowedFunctionNames", "allowed_function_names") or []
    forced = str(allowed[0]) if mode == "required" and len(allowed) == 1 else None
    last = contents[-1] if isinstance(contents[-1], dict) else {}
    answered = [p for p in last.get("parts") or [] if isinstance(p, dict)
                and _get(p, "functionResponse", "function_response")]
    chosen = _structured.choose_tools(tools, mode, forced, prompt, bool(answered))
    tool = chosen[0] if chosen else None
    mime = str(_get(cfg, "responseMimeType", "response_mime_type") or "")
    schema = _get(cfg, "responseJsonSchema", "response_json_schema") or _get(cfg, "responseSchema",
                                                                           "response_schema")
    if tool is not None:
        args = [_structured.tool_arguments(t, seed + 31 * j, prompt) for j, t in enumerate(chosen)]
        parts = [{"functionCall": {"name": t["name"], "args": a}} for t, a in zip(chosen, args, strict=True)]
        if model.lower().startswith("gemini-3"):  # §2.4: Gemini 3 signs the parts it returns (thoughtSignature)
            parts[0]["thoughtSignature"] = base64.b64encode(f"sim-thought-{seed % 10**12:012d}".encode()).decode()
        n_out = sum(count_tokens(json.dumps(a)) for a in args)
        usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": n_out,
                 "totalTokenCount": prompt_tokens + n_out}
        return _single(ctx, model, parts, usage, stream, rid)
    if answered:
        text, cut = _structured.results_reply([json.dumps(_get(p, "functionResponse", "function_response")
                                                          .get("response"), ensure_ascii=False)
                                               for p in answered]), False
    elif mime == "application/json":
        text, cut = _structured.within(_structured.json_text(schema, seed, prompt),
                                       limit if isinstance(limit, int) else None)
    else:
        text, cut = compose_reply(model, prompt, seed, limit if isinstance(limit, int) and limit > 0 else None,
                                  ctx.faults.answer)
    thinking = _get(cfg, "thinkingConfig", "thinking_config") or {}
    thought = compose_reasoning(prompt, seed) if _get(thinking, "includeThoughts", "include_thoughts") else None
    out_tokens = count_tokens(text)
    t_tokens = count_tokens(thought or "")
    usage = {"promptTokenCount": prompt_tokens, "candidatesTokenCount": out_tokens,
             "totalTokenCount": prompt_tokens + out_tokens + t_tokens}
    if thought:
        usage["thoughtsTokenCount"] = t_tokens
    finish = "MAX_TOKENS" if cut else "STOP"
    if not stream:
        parts = ([{"text": thought, "thought": True}] if thought else []) + [{"text": text}]
        return json_out(ctx, {"candidates": [_candidate(parts, finish)], "usageMetadata": usage,
                              "modelVersion": model, "responseId": rid})

    def frames() -> Iterator[Frame]:
        if thought:
            for piece in split_chunks(thought, None, seed + 7):
                yield None, {"candidates": [_candidate([{"text": piece, "thought": True}], None)],
                             "modelVersion": model, "responseId": rid}
        pieces = split_chunks(text, ctx.faults.stream_chunks, seed)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            frame: dict[str, Any] = {"candidates": [_candidate([{"text": piece}], finish if last else None)],
                                     "modelVersion": model, "responseId": rid}
            frame["usageMetadata"] = usage if last else {"promptTokenCount": prompt_tokens}
            yield None, frame

    return _stream_or_array(ctx, frames())


def _single(ctx: Ctx, model: str, parts: list[dict[str, Any]], usage: dict[str, Any], stream: bool,
            rid: str, finish: str = "STOP") -> Response:
    body = {"candidates": [_candidate(parts, finish)], "usageMetadata": usage, "modelVersion": model,
            "responseId": rid}
    if not stream:
        return json_out(ctx, body)
    return _stream_or_array(ctx, iter([(None, body)]))


def _stream_or_array(ctx: Ctx, frames: Iterator[Frame]) -> Response:
    """``?alt=sse`` gives SSE frames; without it Google answers one JSON array."""
    if ctx.request.query_params.get("alt") == "sse":
        return SSEResponse(frames, ctx.faults, error=_failure)
    return json_out(ctx, [data for _event, data in frames])


def _failure(_sent: int) -> list[Frame]:
    """A Google error object as a data frame mid-stream (§7), as Gemini sends when the model gives up."""
    return [(None, {"error": {"code": 503, "message": STREAM_FAILURE, "status": "UNAVAILABLE"}})]
