"""Chat: build requests for four wire formats and parse their replies and stream events.

Endpoints (names used in the catalogue): ``chat.completions`` (OpenAI), ``responses`` (OpenAI Responses),
``messages`` (Anthropic native), ``gemini.generate`` / ``gemini.stream`` (Google native). Stream formats
(``HttpCall.stream`` and ``parse_event``'s ``fmt``): ``chat``, ``responses``, ``claude``, ``gemini``.

Messages come in one neutral shape, ``{"role", "content"}`` where content is a string or a list of parts
``{"type": "text", "text"}`` / ``{"type": "image", "data": bytes, "mime": str}`` / ``{"type": "image", "url"}``
(OpenAI ``image_url`` parts are accepted too), and are converted per endpoint.

Parsers are tolerant: the endpoint is a hint, the body's shape decides (relays sometimes answer in another
format). Reasoning is always kept apart from the answer text.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..catalog import ModelInfo
from ..errors import InputError, StreamError, UnsupportedOptionError
from ._common import data_url, dig, finish_body, merge_usage, parse_data_url, pick_choice, usage_from
from ._types import ChatDelta, ChatReply, HttpCall, StreamFormat, Usage

__all__ = ["Accumulator", "build", "merge_usage", "parse", "parse_event", "split_think", "stream_format"]

_ENDPOINT_ALIASES = {
    "chat": "chat.completions",
    "completions": "chat.completions",
    "openai": "chat.completions",
    "response": "responses",
    "claude": "messages",
    "anthropic": "messages",
    "gemini": "gemini.generate",
    "generate": "gemini.generate",
    "stream": "gemini.stream",
}
_STREAM_FORMATS: dict[str, StreamFormat] = {
    "chat.completions": "chat",
    "responses": "responses",
    "messages": "claude",
    "gemini.generate": "gemini",
    "gemini.stream": "gemini",
}


def stream_format(endpoint: str) -> StreamFormat:
    """The SSE format an endpoint streams in."""
    return _STREAM_FORMATS[_ENDPOINT_ALIASES.get(endpoint, endpoint)]


def _resolve_endpoint(model: ModelInfo, endpoint: str | None) -> str:
    if endpoint is None:
        return model.endpoints[0]
    ep = _ENDPOINT_ALIASES.get(endpoint.strip().lower(), endpoint.strip())
    allowed = set(model.endpoints)
    if "gemini.generate" in allowed:
        allowed.add("gemini.stream")
    if ep not in allowed:
        raise UnsupportedOptionError(
            f"{model.id} is not served on the {endpoint!r} endpoint; it takes: {', '.join(model.endpoints)}.",
            hint="Leave endpoint= unset for the default, or pick one of those.",
        )
    return ep


# --- message normalisation -------------------------------------------------------------------------


@dataclass
class _Part:
    kind: str  # "text" | "image"
    text: str = ""
    data: bytes | None = None
    mime: str = "image/png"
    url: str | None = None


def _parts(content: Any) -> list[_Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_Part("text", text=content)]
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        raise InputError(
            f"Message content must be a string or a list of parts, not {type(content).__name__}.",
            hint='Use {"role": "user", "content": "text"} or a list of {"type": "text"|"image", …} parts.',
        )
    out: list[_Part] = []
    for p in content:
        if isinstance(p, str):
            out.append(_Part("text", text=p))
            continue
        t = p.get("type", "text" if "text" in p else "image")
        if t in ("text", "input_text", "output_text"):
            out.append(_Part("text", text=str(p.get("text", ""))))
        elif t in ("image", "image_url", "input_image"):
            url = p.get("url") or p.get("image_url")
            if isinstance(url, dict):
                url = url.get("url")
            data = p.get("data")
            if isinstance(data, (bytes, bytearray)):
                out.append(_Part("image", data=bytes(data), mime=p.get("mime") or p.get("mime_type") or "image/png"))
            elif isinstance(url, str):
                decoded = parse_data_url(url)
                if decoded:
                    out.append(_Part("image", data=decoded[0], mime=decoded[1]))
                else:
                    out.append(_Part("image", url=url, mime=p.get("mime") or "image/png"))
            else:
                raise InputError("An image part needs `data` (bytes) + `mime`, or a `url`.")
        else:
            raise InputError(f"Unknown message part type {t!r}.", hint="Use 'text' or 'image' parts.")
    return out


def _split_system(messages: list[dict[str, Any]], system: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    """Pull system messages out (for formats that take the system prompt separately)."""
    sys_texts = [system] if system else []
    rest: list[dict[str, Any]] = []
    for m in messages:
        if m.get("role") in ("system", "developer"):
            sys_texts.append("".join(p.text for p in _parts(m.get("content")) if p.kind == "text"))
        else:
            rest.append(m)
    return ("\n\n".join(sys_texts) if sys_texts else None), rest


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _openai_content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    out: list[dict[str, Any]] = []
    for p in _parts(content):
        if p.kind == "text":
            out.append({"type": "text", "text": p.text})
        else:
            url = p.url or data_url(p.data or b"", p.mime)
            out.append({"type": "image_url", "image_url": {"url": url}})
    return out


def _responses_content(content: Any, role: str) -> Any:
    if isinstance(content, str):
        return content
    out: list[dict[str, Any]] = []
    for p in _parts(content):
        if p.kind == "text":
            out.append({"type": "output_text" if role == "assistant" else "input_text", "text": p.text})
        else:
            out.append({"type": "input_image", "image_url": p.url or data_url(p.data or b"", p.mime)})
    return out


def _claude_content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    out: list[dict[str, Any]] = []
    for p in _parts(content):
        if p.kind == "text":
            out.append({"type": "text", "text": p.text})
        elif p.data is not None:
            out.append({"type": "image", "source": {"type": "base64", "media_type": p.mime, "data": _b64(p.data)}})
        else:
            out.append({"type": "image", "source": {"type": "url", "url": p.url}})
    return out


def _gemini_parts(content: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in _parts(content):
        if p.kind == "text":
            out.append({"text": p.text})
        elif p.data is not None:
            out.append({"inlineData": {"mimeType": p.mime, "data": _b64(p.data)}})
        else:
            out.append({"fileData": {"mimeType": p.mime, "fileUri": p.url}})
    return out


# --- builders ----------------------------------------------------------------------------------------


def _build_chat(model: ModelInfo, messages: list[dict[str, Any]], system: str | None, temperature: float | None,
                max_tokens: int | None, stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    msgs = [{"role": "system", "content": system}] if system else []
    msgs += [{**m, "content": _openai_content(m.get("content"))} for m in messages]
    body: dict[str, Any] = {"model": model.id, "messages": msgs}
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body[model.capabilities.get("max_tokens_field") or "max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return "/v1/chat/completions", body, {}


def _build_responses(model: ModelInfo, messages: list[dict[str, Any]], system: str | None,
                     temperature: float | None, max_tokens: int | None,
                     stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    instructions, rest = _split_system(messages, system)
    if len(rest) == 1 and rest[0].get("role", "user") == "user" and isinstance(rest[0].get("content"), str):
        inp: Any = rest[0]["content"]
    else:
        inp = [{"role": m.get("role", "user"), "content": _responses_content(m.get("content"), m.get("role", "user"))}
               for m in rest]
    body: dict[str, Any] = {"model": model.id, "input": inp}
    if instructions:
        body["instructions"] = instructions
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_output_tokens"] = max_tokens
    if stream:
        body["stream"] = True
    return "/v1/responses", body, {}


def _build_messages(model: ModelInfo, messages: list[dict[str, Any]], system: str | None,
                    temperature: float | None, max_tokens: int | None,
                    stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    sys_text, rest = _split_system(messages, system)
    body: dict[str, Any] = {
        "model": model.id,
        "max_tokens": max_tokens or int(model.defaults.get("max_tokens") or 8192),
        "messages": [{"role": m.get("role", "user"), "content": _claude_content(m.get("content"))} for m in rest],
    }
    if sys_text:
        body["system"] = sys_text
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream"] = True
    return "/v1/messages", body, {"anthropic-version": "2023-06-01"}


def _build_gemini(model: ModelInfo, messages: list[dict[str, Any]], system: str | None,
                  temperature: float | None, max_tokens: int | None,
                  stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    sys_text, rest = _split_system(messages, system)
    body: dict[str, Any] = {}
    if sys_text:
        body["system_instruction"] = {"parts": [{"text": sys_text}]}
    body["contents"] = [
        {"role": "model" if m.get("role") in ("assistant", "model") else "user", "parts": _gemini_parts(m.get("content"))}
        for m in rest
    ]
    gen: dict[str, Any] = {}
    if temperature is not None:
        gen["temperature"] = temperature
    if max_tokens is not None:
        gen["maxOutputTokens"] = max_tokens
    if gen:
        body["generationConfig"] = gen
    verb = "streamGenerateContent" if stream else "generateContent"
    return f"/v1beta/models/{quote(model.id, safe='.-_')}:{verb}", body, {}


_BUILDERS: dict[str, Callable[..., tuple[str, dict[str, Any], dict[str, str]]]] = {
    "chat.completions": _build_chat,
    "responses": _build_responses,
    "messages": _build_messages,
    "gemini.generate": _build_gemini,
    "gemini.stream": _build_gemini,
}


def _check_options(model: ModelInfo, temperature: float | None,
                   extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Refuse, before any request, options the catalogue says this model does not take; ``extra`` with the
    reasoning effort in the catalogue's spelling."""
    if temperature is not None and model.capabilities.get("temperature") is False:
        raise UnsupportedOptionError(
            f"{model.id} does not take temperature (got temperature={temperature!r}); "
            "its sampling is fixed by the service.",
            hint="Drop temperature=; steer a reasoning model with reasoning_effort=… instead.",
        )
    efforts = model.choices("reasoning_efforts")
    out = dict(extra or {})
    if efforts and out.get("reasoning_effort") is not None:
        out["reasoning_effort"] = pick_choice(model, "reasoning_effort", out["reasoning_effort"], efforts)
    reasoning = out.get("reasoning")
    if efforts and isinstance(reasoning, Mapping) and reasoning.get("effort") is not None:
        out["reasoning"] = {**reasoning, "effort": pick_choice(model, "reasoning_effort", reasoning["effort"],
                                                                efforts)}
    return out


def build(model: ModelInfo, messages: list[dict[str, Any]], *, endpoint: str | None = None, system: str | None = None,
          temperature: float | None = None, max_tokens: int | None = None, stream: bool = False,
          extra: Mapping[str, Any] | None = None, raw: Mapping[str, Any] | None = None) -> HttpCall:
    """One chat request. ``endpoint`` defaults to the model's first; ``gemini.stream`` implies streaming.

    ``extra={"reasoning_effort": "high"}`` is translated to ``reasoning.effort`` on the Responses endpoint.
    """
    ep = _resolve_endpoint(model, endpoint)
    if ep == "gemini.stream":
        stream = True
    extra = _check_options(model, temperature, extra)
    if not messages and raw is None:
        raise InputError("No messages to send.", hint='Pass [{"role": "user", "content": "…"}].')
    path, body, headers = _BUILDERS[ep](model, list(messages), system, temperature, max_tokens, stream)
    if ep == "responses" and "reasoning_effort" in extra:
        extra["reasoning"] = {**dict(extra.get("reasoning") or {}), "effort": extra.pop("reasoning_effort")}
    body = finish_body(body, extra, raw)
    params = {"alt": "sse"} if stream and ep.startswith("gemini") else {}
    return HttpCall("POST", path, json=body, params=params, headers=headers,
                    stream=_STREAM_FORMATS[ep] if stream else None)


# --- reasoning helpers -------------------------------------------------------------------------------

_THINK = re.compile(r"<think(?:ing)?>(.*?)(?:</think(?:ing)?>|$)", re.S)


def split_think(text: str) -> tuple[str, str]:
    """Separate ``<think>…</think>`` blocks from the answer: ``(answer, reasoning)``."""
    if "<think" not in text:
        return text, ""
    reasoning = "\n".join(m.strip() for m in _THINK.findall(text))
    return _THINK.sub("", text).strip(), reasoning


def _text_of(content: Any) -> tuple[str, str]:
    """Text and reasoning from an OpenAI message content (string or parts)."""
    if isinstance(content, str):
        return content, ""
    text, reasoning = [], []
    for p in content or []:
        if not isinstance(p, dict):
            continue
        if p.get("type") in ("thinking", "reasoning"):
            reasoning.append(str(p.get("thinking") or p.get("text") or ""))
        elif isinstance(p.get("text"), str):
            text.append(p["text"])
    return "".join(text), "".join(reasoning)


# --- parsers -------------------------------------------------------------------------------------------


def _parse_chat(body: dict[str, Any]) -> ChatReply:
    choice = dig(body, "choices", 0) or {}
    msg = choice.get("message") or choice.get("delta") or {}
    text, reasoning = _text_of(msg.get("content"))
    if not text and isinstance(choice.get("text"), str):
        text = choice["text"]
    extra_reasoning = msg.get("reasoning_content") or msg.get("reasoning") or ""
    if isinstance(extra_reasoning, str) and extra_reasoning:
        reasoning = extra_reasoning + reasoning
    text, think = split_think(text)
    reasoning = "\n".join(r for r in (reasoning, think) if r)
    return ChatReply(text=text, reasoning=reasoning, usage=usage_from(body.get("usage")),
                     finish_reason=choice.get("finish_reason"), model=body.get("model"),
                     response_id=body.get("id"), raw=body)


def _responses_reasoning(item: dict[str, Any]) -> str:
    parts = [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
    parts += [c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict)]
    return "\n".join(p for p in parts if p)


def _parse_responses(body: dict[str, Any]) -> ChatReply:
    texts, reasoning = [], []
    for item in body.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "reasoning":
            reasoning.append(_responses_reasoning(item))
        elif item.get("type", "message") == "message":
            for c in item.get("content") or []:
                if isinstance(c, dict) and c.get("type") in ("output_text", "text"):
                    texts.append(c.get("text") or "")
    text = "".join(texts)
    if not text and isinstance(body.get("output_text"), str):
        text = body["output_text"]
    status = body.get("status")
    finish = dig(body, "incomplete_details", "reason") if status == "incomplete" else status
    return ChatReply(text=text, reasoning="\n".join(r for r in reasoning if r), usage=usage_from(body.get("usage")),
                     finish_reason=finish, model=body.get("model"), response_id=body.get("id"), raw=body)


def _parse_claude(body: dict[str, Any]) -> ChatReply:
    texts, reasoning = [], []
    for block in body.get("content") or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "thinking":
            reasoning.append(block.get("thinking") or "")
        elif block.get("type") == "text":
            texts.append(block.get("text") or "")
    return ChatReply(text="".join(texts), reasoning="".join(reasoning), usage=usage_from(body.get("usage")),
                     finish_reason=body.get("stop_reason"), model=body.get("model"),
                     response_id=body.get("id"), raw=body)


def _gemini_text(body: Any) -> tuple[str, str, str | None]:
    cand = dig(body, "candidates", 0) or {}
    texts: list[str] = []
    thoughts: list[str] = []
    for p in dig(cand, "content", "parts") or []:
        if isinstance(p, dict) and isinstance(p.get("text"), str):
            (thoughts if p.get("thought") else texts).append(p["text"])
    return "".join(texts), "".join(thoughts), cand.get("finishReason")


def _parse_gemini(body: Any) -> ChatReply:
    if isinstance(body, list):  # non-SSE streamGenerateContent answers with a JSON array of frames
        frames = [_parse_gemini(b) for b in body if isinstance(b, dict)]
        usage: Usage | None = None
        for f in frames:
            usage = merge_usage(usage, f.usage)
        return ChatReply(text="".join(f.text for f in frames), reasoning="".join(f.reasoning for f in frames),
                         usage=usage or Usage(), finish_reason=next((f.finish_reason for f in reversed(frames)
                                                                     if f.finish_reason), None),
                         model=frames[-1].model if frames else None, raw=body)
    text, thoughts, finish = _gemini_text(body)
    return ChatReply(text=text, reasoning=thoughts, usage=usage_from(body.get("usageMetadata")),
                     finish_reason=finish, model=body.get("modelVersion"), response_id=body.get("responseId"),
                     raw=body)


def _shape(body: Any) -> str | None:
    if isinstance(body, list):
        return "gemini"
    if not isinstance(body, dict):
        return None
    if "choices" in body:
        return "chat.completions"
    if "candidates" in body:
        return "gemini.generate"
    if body.get("object") == "response" or isinstance(body.get("output"), list):
        return "responses"
    if body.get("type") == "message" or (isinstance(body.get("content"), list) and "stop_reason" in body):
        return "messages"
    return None


_PARSERS: dict[str, Callable[[Any], ChatReply]] = {
    "chat.completions": _parse_chat,
    "responses": _parse_responses,
    "messages": _parse_claude,
    "gemini.generate": _parse_gemini,
    "gemini.stream": _parse_gemini,
    "gemini": _parse_gemini,
}


def parse(model: ModelInfo | None, endpoint: str | None, body: Any) -> ChatReply:
    """A non-streamed reply. The body's shape wins over ``endpoint`` when they disagree."""
    ep = _shape(body) or _ENDPOINT_ALIASES.get(endpoint or "", endpoint or "")
    parser = _PARSERS.get(ep)
    if parser is None:
        text = body if isinstance(body, str) else ""
        answer, reasoning = split_think(text)
        return ChatReply(text=answer, reasoning=reasoning, raw=body)
    reply = parser(body)
    if reply.model is None and model is not None:
        reply.model = model.id
    return reply


# --- stream events -------------------------------------------------------------------------------------


def _event_chat(d: dict[str, Any]) -> ChatDelta:
    out = ChatDelta()
    choice = dig(d, "choices", 0)
    if isinstance(choice, dict):
        delta = choice.get("delta") or choice.get("message") or {}
        text, reasoning = _text_of(delta.get("content"))
        out.text = text or ""
        r = delta.get("reasoning_content") or delta.get("reasoning")
        out.reasoning = (r if isinstance(r, str) else "") + reasoning
        out.finish_reason = choice.get("finish_reason")
    if isinstance(d.get("usage"), dict):
        out.usage = usage_from(d["usage"])
    return out


def _error_message(d: dict[str, Any]) -> tuple[str, str | None]:
    err: dict[str, Any] = d["error"] if isinstance(d.get("error"), dict) else dig(d, "response", "error") or d
    msg = str(err.get("message") or d.get("message") or "the stream reported an error")
    code = err.get("code") or err.get("type")
    return msg, (str(code) if code is not None else None)


def _event_responses(d: dict[str, Any]) -> ChatDelta:
    t = d.get("type", "")
    if t == "response.output_text.delta":
        return ChatDelta(text=str(d.get("delta") or ""))
    if t in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
        return ChatDelta(reasoning=str(d.get("delta") or ""))
    if t in ("response.completed", "response.incomplete"):
        resp = d.get("response") or {}
        finish = dig(resp, "incomplete_details", "reason") if t == "response.incomplete" else resp.get("status")
        return ChatDelta(usage=usage_from(resp.get("usage")) if resp.get("usage") else None,
                         finish_reason=finish or t.rsplit(".", 1)[-1], done=True)
    if t in ("response.failed", "error"):
        msg, code = _error_message(d)
        raise StreamError(f"The Responses stream failed: {msg}", code=code)
    return ChatDelta()


def _event_claude(d: dict[str, Any]) -> ChatDelta:
    t = d.get("type", "")
    if t == "content_block_delta":
        delta = d.get("delta") or {}
        if delta.get("type") == "thinking_delta":
            return ChatDelta(reasoning=str(delta.get("thinking") or ""))
        return ChatDelta(text=str(delta.get("text") or ""))
    if t == "content_block_start":
        block = d.get("content_block") or {}
        if block.get("type") == "thinking":
            return ChatDelta(reasoning=str(block.get("thinking") or ""))
        return ChatDelta(text=str(block.get("text") or "") if block.get("type") == "text" else "")
    if t == "message_start":
        u = dig(d, "message", "usage")
        return ChatDelta(usage=usage_from(u) if u else None)
    if t == "message_delta":
        u = d.get("usage")
        return ChatDelta(usage=usage_from(u) if u else None, finish_reason=dig(d, "delta", "stop_reason"))
    if t == "message_stop":
        return ChatDelta(done=True)
    if t == "error":
        msg, code = _error_message(d)
        raise StreamError(f"Claude stream error: {msg}", code=code)
    return ChatDelta()


def _event_gemini(d: dict[str, Any]) -> ChatDelta:
    text, thoughts, finish = _gemini_text(d)
    u = d.get("usageMetadata")
    return ChatDelta(text=text, reasoning=thoughts, finish_reason=finish, usage=usage_from(u) if u else None)


_EVENTS: dict[str, Callable[[dict[str, Any]], ChatDelta]] = {
    "chat": _event_chat,
    "responses": _event_responses,
    "claude": _event_claude,
    "gemini": _event_gemini,
}


def parse_event(fmt: str, data: Any) -> ChatDelta:
    """What one SSE event adds. ``done`` is set on terminal events; ``usage`` is a cumulative snapshot of the
    fields that event reports (combine snapshots with :func:`merge_usage`, or use :class:`Accumulator`).

    Raises :class:`StreamError` for error events (``error``, ``response.failed``, ``{"error": …}`` frames).
    """
    if isinstance(data, str):
        return ChatDelta(done=data.strip() == "[DONE]")
    if not isinstance(data, dict):
        return ChatDelta()
    if isinstance(data.get("error"), dict) and fmt != "responses":
        msg, code = _error_message(data)
        raise StreamError(f"The stream reported an error: {msg}", code=code)
    handler = _EVENTS.get(fmt)
    if handler is None:
        raise ValueError(f"Unknown stream format {fmt!r}; expected one of {', '.join(_EVENTS)}.")
    return handler(data)


@dataclass
class Accumulator:
    """Folds stream deltas into a :class:`ChatReply` (text, reasoning incl. ``<think>`` blocks, merged usage)."""

    text: str = ""
    reasoning: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    done: bool = False
    deltas: int = field(default=0, repr=False)

    def add(self, delta: ChatDelta) -> ChatDelta:
        self.text += delta.text
        self.reasoning += delta.reasoning
        self.usage = merge_usage(self.usage, delta.usage)
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.done = self.done or delta.done
        self.deltas += 1
        return delta

    def reply(self, model: str | None = None) -> ChatReply:
        text, think = split_think(self.text)
        reasoning = "\n".join(r for r in (self.reasoning, think) if r)
        return ChatReply(text=text, reasoning=reasoning, usage=self.usage or Usage(),
                         finish_reason=self.finish_reason, model=model)
