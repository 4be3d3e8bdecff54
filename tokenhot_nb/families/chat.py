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
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from .._config import redact
from ..catalog import ModelInfo
from ..errors import APIError, InputError, StreamError, UnsupportedOptionError, split_request_id
from . import _json
from ._common import (
    check_number,
    data_url,
    deep_merge,
    dig,
    finish_body,
    merge_usage,
    parse_data_url,
    pick_choice,
    received,
    refuse_error_envelope,
    usage_from,
)
from ._types import (
    NOT_JSON,
    ChatDelta,
    ChatReply,
    Choice,
    HttpCall,
    KeptMessage,
    StreamFormat,
    ThinkingPart,
    ToolCall,
    ToolCallPart,
    Usage,
    message_edits,
)

__all__ = ["Accumulator", "Output", "Prefix", "build", "gemini_schema", "merge_usage", "parse", "parse_event", "split_think", "stream_format", "streams", "tool_specs"]

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


#: Chat-like routes of the relay family (§10.7) this toolkit has no call for: named, so a user who asks for one
#: hears that, not that the model is not served there.
_NOT_CALLED = {
    "responses.compact": "the Responses compaction route (POST /v1/responses/compact)",
    "realtime": "the Realtime API (/v1/realtime, a WebSocket)",
}


def _resolve_endpoint(model: ModelInfo, endpoint: str | None) -> str:
    if endpoint is None:
        return model.endpoints[0]
    if not isinstance(endpoint, str):  # (5 was an AttributeError from .strip())
        raise InputError(f"endpoint= takes an endpoint's name (a str), not {type(endpoint).__name__} "
                         f"({endpoint!r:.40}).", hint=f"{model.id} takes: {', '.join(model.endpoints)}.")
    key = endpoint.strip().lower().replace("/", ".")  # 'Responses', 'chat/completions' (the URL's spelling)
    ep = _ENDPOINT_ALIASES.get(key, key)
    named = ep.strip(".").removeprefix("v1.")  # ('/v1/realtime': the whole path)
    if named in _NOT_CALLED:
        raise UnsupportedOptionError(f"endpoint={endpoint!r} is {_NOT_CALLED[named]}, which tokenhot_nb does not call.",
                                     hint=f"{model.id} takes: {', '.join(model.endpoints)}.")
    allowed = set(model.endpoints)
    if "gemini.generate" in allowed:
        allowed.add("gemini.stream")
    if ep not in allowed:
        raise UnsupportedOptionError(
            f"{model.id} is not served on the {endpoint!r} endpoint; it takes: {', '.join(model.endpoints)}.",
            hint="Leave endpoint= unset for the default, or pick one of those.",
        )
    return ep


#: Endpoints whose answer is always an event stream, whatever ``stream=`` asked.
_ALWAYS_STREAMS = frozenset({"gemini.stream"})


def streams(model: ModelInfo, stream: bool, endpoint: str | None) -> bool:
    """Whether :func:`build` makes a streamed call: asked for, or an endpoint that always streams. An endpoint
    the model does not take counts as streaming (the call goes the safe way; ``build`` then says what is wrong)."""
    try:
        return stream or _resolve_endpoint(model, endpoint) in _ALWAYS_STREAMS
    except UnsupportedOptionError:
        return True


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
        if not isinstance(p, dict):  # (an AttributeError from here: 'int' object has no attribute 'get')
            raise InputError(f"A message part is a string or a {{'type': …}} dict, not {type(p).__name__} "
                             f"({p!r:.40}).", hint='e.g. "content": ["What is this?", {"type": "image", "url": …}].')
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


# --- tools and structured output (neutral forms) ---------------------------------------------------


def _arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as a dict (the wire sends a JSON string on OpenAI formats)."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            value = _json.loads(raw)
        except ValueError:
            return {"_raw": raw}
        if value is None:  # ("null": a model's way of saying a tool that takes nothing gets nothing)
            return {}
        return value if isinstance(value, dict) else {"_value": value}
    return {}


def _normalise(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-style ``tool`` messages and ``tool_calls`` → the neutral shapes every builder reads:
    assistant ``tool_calls: [{id, name, arguments}]`` and user ``tool_results: [{id, name, content}]``."""
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for m in messages:
        calls = m.get("tool_calls")
        if m.get("role") == "assistant" and calls:
            neutral = []
            for c in calls:
                fn = c.get("function") if isinstance(c.get("function"), dict) else c
                call: dict[str, Any] = {"id": str(c.get("id") or ""), "name": str(fn.get("name") or ""),
                                        "arguments": _arguments(fn.get("arguments"))}
                if isinstance(c.get("signature"), str) and c["signature"]:
                    call["signature"] = c["signature"]
                names[call["id"]] = call["name"]
                neutral.append(call)
            out.append({**m, "tool_calls": neutral})
        elif m.get("role") == "tool":
            result: dict[str, Any] = {"id": str(m.get("tool_call_id") or m.get("id") or ""),
                                      "content": m.get("content")}
            result["name"] = str(m.get("name") or names.get(result["id"], ""))
            if out and out[-1].get("role") == "user" and out[-1].get("tool_results") is not None \
                    and not out[-1].get("content"):
                out[-1]["tool_results"].append(result)
            else:
                out.append({"role": "user", "content": "", "tool_results": [result]})
        elif m.get("role", "user") == "user" and out and out[-1].get("tool_results") and not out[-1].get("content"):
            out[-1] = {**out[-1], **{k: v for k, v in m.items() if k != "tool_results"}}
        elif m.get("tool_results"):
            out.append({**m, "tool_results": [{**r, "name": r.get("name") or names.get(str(r.get("id")), "")}
                                              for r in m["tool_results"]]})
        else:
            out.append(m)
    return out


def _result_text(content: Any) -> str:
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)


def _has_text(content: Any) -> bool:
    return bool(content) and any(p.kind == "image" or p.text for p in _parts(content))


#: The characters some chat protocol takes in a function name (OpenAI's and Claude's, plus Gemini's '.' and ':'):
#: a name outside them is refused by every one.
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


#: The function names OpenAI's protocols and Claude's take (Gemini's take '.' and ':' too, ``_TOOL_NAME``).
_STRICT_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _check_tool_names(model: ModelInfo, ep: str, specs: list[dict[str, Any]], messages: list[dict[str, Any]]) -> None:
    """A tool name with '.' or ':' (which Gemini takes) refused before sending where the protocol takes none: Claude
    and OpenAI answer 400 after the round trip, whether the tool is passed now or was called by an earlier turn of a
    thread that went on from a Gemini model. (A Gemini model on chat completions keeps its own rule: the relay hands
    the call to Gemini.) Refused, not renamed: a name mapped on the way out would differ from the user's function,
    in the answer's calls, the history and its replay."""
    if ep.startswith("gemini") or model.family.startswith("gemini"):
        return
    named = [(t["name"], "a tool passed in tools=") for t in specs] + [
        (c["name"], "a tool call of an earlier turn in the conversation") for m in messages
        for c in m.get("tool_calls") or [] if isinstance(c, dict) and isinstance(c.get("name"), str)]
    for name, where in named:
        if not _STRICT_TOOL_NAME.fullmatch(name):
            protocol = "Claude" if ep == "messages" or model.family == "claude" else "OpenAI's chat protocol"
            raise InputError(f"{model.id} ({protocol}) takes tool names of 1 to 64 letters, digits, '_' or '-' only: "
                             f"{name[:80]!r}, {where}, is not one ('.' and ':' are Gemini's only).",
                             hint="Rename the tool (e.g. 'get_weather'); a thread whose turns called it on Gemini "
                             "goes on with a Gemini model, or starts over here with new_thread=True.")


def tool_specs(tools: Any) -> list[dict[str, Any]]:
    """``[{name, description, parameters}]`` from OpenAI function tools (``{"type": "function", "function": …}``)
    or flat ``{name, description, parameters}`` dicts."""
    out: list[dict[str, Any]] = []
    for t in tools or []:
        fn = t.get("function") if isinstance(t, dict) and isinstance(t.get("function"), dict) else t
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InputError(
                f"A tool must be an OpenAI function schema, got {str(t)[:80]!r}.",
                hint='Pass {"type": "function", "function": {"name": …, "description": …, "parameters": {…}}}.',
            )
        if not _TOOL_NAME.fullmatch(fn["name"]):  # every protocol refuses it (a 400) after the call was made
            raise InputError(f"The tool name {fn['name'][:80]!r} is not one the services take: 1 to 64 letters, "
                             "digits, '_' or '-' ('.' and ':' on Gemini only).", hint="e.g. 'get_weather'.")
        if any(o["name"] == fn["name"] for o in out):
            raise InputError(f"Two tools are named {fn['name']!r}: the model could not tell which it calls.",
                             hint="Give each tool its own name.")
        params = fn.get("parameters")
        if params is not None and not (isinstance(params, dict) and str(params.get("type", "object")).lower() == "object"):
            # (every protocol takes an object's schema there, and answers 400 to anything else after the call)
            raise InputError(f"The parameters of the tool {fn['name']!r} must be the JSON schema of an object, not "
                             f"{str(params)[:60]!r}.", hint='e.g. "parameters": {"type": "object", "properties": '
                             '{"city": {"type": "string"}}, "required": ["city"]}.')
        spec = {"name": fn["name"], "parameters": params or {"type": "object", "properties": {}}}
        if fn.get("description"):
            spec["description"] = fn["description"]
        out.append(spec)
    return out


def _choice(tool_choice: Any, tools: list[dict[str, Any]]) -> tuple[str, str | None]:
    """(auto | required | none, forced tool name) from the accepted spellings of ``tool_choice``."""
    if tool_choice is None:
        return "auto", None
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
        # (Claude's {"type": "auto" | "any" | "none"}, Gemini's {"mode": "NONE"}: each says its mode; read as a forced
        # call, {"type": "none"} made the model call a tool)
        said = str(tool_choice.get("mode") or tool_choice.get("type") or "").lower()
        word = {"any": "required"}.get(said, said)
        mode = word if not name and word in ("auto", "required", "none") else "required"
        forced = str(name) if name else None
    elif str(tool_choice).lower() in ("auto", "required", "any", "none"):
        mode, forced = {"any": "required"}.get(str(tool_choice).lower(), str(tool_choice).lower()), None
    else:
        mode, forced = "required", str(tool_choice)
    if forced is not None and forced not in {t["name"] for t in tools}:
        raise InputError(f"tool_choice names {forced!r}, which is not among the tools.",
                         hint="Use 'auto', 'required', 'none' or the name of one of the tools you pass.")
    return mode, forced


_GEMINI_SCHEMA_KEYS = frozenset({"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
                                 "properties", "required", "minProperties", "maxProperties", "minLength",
                                 "maxLength", "pattern", "anyOf", "propertyOrdering", "items", "minimum",
                                 "maximum"})


def gemini_schema(schema: Any, root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A JSON schema in the OpenAPI subset Gemini's ``responseSchema`` / function ``parameters`` take:
    ``$ref``s inlined, ``const`` as a one-value ``enum``, ``null`` in a type list or ``anyOf`` as ``nullable``."""
    if not isinstance(schema, dict) or depth > 32:
        return schema
    root = root if root is not None else schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        return gemini_schema({**(target or {}), **{k: v for k, v in schema.items() if k != "$ref"}}, root, depth + 1)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "const":
            out["enum"] = [value]
        elif key == "type" and isinstance(value, list):
            kinds = [k for k in value if k != "null"]
            out["type"] = kinds[0] if kinds else "string"
            if "null" in value:
                out["nullable"] = True
        elif key == "anyOf" and isinstance(value, list):
            options = [gemini_schema(v, root, depth + 1) for v in value if not (isinstance(v, dict) and
                                                                                 v.get("type") == "null")]
            if len(options) < len(value):
                out["nullable"] = True
            if len(options) == 1 and isinstance(options[0], dict):
                out.update(options[0])
            else:
                out["anyOf"] = options
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: gemini_schema(v, root, depth + 1) for k, v in value.items()}
        elif key == "items":
            out[key] = gemini_schema(value, root, depth + 1)
        elif key in _GEMINI_SCHEMA_KEYS:
            out[key] = value
    return out


@dataclass
class Output:
    """What the answer must be: JSON (``json_mode``), or an instance of ``schema`` (a JSON schema dict)."""

    schema: dict[str, Any] | None = None
    name: str = "answer"
    json_mode: bool = False

    @property
    def wanted(self) -> bool:
        return self.json_mode or self.schema is not None


def _shape_chat(body: dict[str, Any], out: Output, tools: list[dict[str, Any]], mode: str,
                forced: str | None, explicit: bool) -> None:
    if out.schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": out.name, "schema": out.schema}}
    elif out.json_mode:
        body["response_format"] = {"type": "json_object"}
    if tools:
        body["tools"] = [{"type": "function", "function": t} for t in tools]
    if explicit:
        body["tool_choice"] = {"type": "function", "function": {"name": forced}} if forced else mode


def _shape_responses(body: dict[str, Any], out: Output, tools: list[dict[str, Any]], mode: str,
                     forced: str | None, explicit: bool) -> None:
    if out.schema is not None:
        body["text"] = {"format": {"type": "json_schema", "name": out.name, "schema": out.schema}}
    elif out.json_mode:
        body["text"] = {"format": {"type": "json_object"}}
    if tools:
        body["tools"] = [{"type": "function", **t} for t in tools]
    if explicit:
        body["tool_choice"] = {"type": "function", "name": forced} if forced else mode


def _shape_messages(body: dict[str, Any], out: Output, tools: list[dict[str, Any]], mode: str,
                    forced: str | None, explicit: bool) -> None:
    wire = [{"name": t["name"], **({"description": t["description"]} if "description" in t else {}),
             "input_schema": t["parameters"]} for t in tools]
    if out.wanted:  # Claude has no JSON mode: the answer is the input of one forced tool
        if explicit:
            raise UnsupportedOptionError(
                "On Claude's /v1/messages structured output is a forced tool, so it cannot be combined with "
                "tool_choice.", hint="Drop tool_choice=, or ask for the data in a second call.")
        if any(t["name"] == out.name for t in tools):  # (two tools of one name: Claude refuses the body, a 400)
            raise InputError(f"On Claude's /v1/messages structured output is a tool named {out.name!r}, and one of "
                             "the tools has that name too.", hint="Rename that tool, or give the schema another "
                             "title (a pydantic model's class name).")
        wire.append({"name": out.name, "description": "Give the answer as structured data in this shape.",
                     "input_schema": out.schema or {"type": "object"}})
        body["tool_choice"] = {"type": "tool", "name": out.name}
    elif explicit:
        body["tool_choice"] = {"type": "tool", "name": forced} if forced else {
            "type": {"required": "any"}.get(mode, mode)}
    if wire:
        body["tools"] = wire


def _shape_gemini(body: dict[str, Any], out: Output, tools: list[dict[str, Any]], mode: str,
                  forced: str | None, explicit: bool) -> None:
    if out.wanted:
        gen = body.setdefault("generationConfig", {})
        gen["responseMimeType"] = "application/json"
        if out.schema is not None:
            gen["responseSchema"] = gemini_schema(out.schema)
    if tools:
        body["tools"] = [{"functionDeclarations": [{**t, "parameters": gemini_schema(t["parameters"])}
                                                   for t in tools]}]
    if explicit:
        calling: dict[str, Any] = {"mode": {"required": "ANY"}.get(mode, mode.upper())}
        if forced:
            calling["allowedFunctionNames"] = [forced]
        body["toolConfig"] = {"functionCallingConfig": calling}


_SHAPERS: dict[str, Callable[..., None]] = {
    "chat.completions": _shape_chat,
    "responses": _shape_responses,
    "messages": _shape_messages,
    "gemini.generate": _shape_gemini,
    "gemini.stream": _shape_gemini,
}


# --- builders ----------------------------------------------------------------------------------------


def _build_chat(model: ModelInfo, messages: list[dict[str, Any]], system: str | None, temperature: float | None,
                max_tokens: int | None, stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for m in messages:
        if len(m) == 2 and isinstance(m.get("content"), str) and "role" in m:  # a plain turn: already wire-shaped
            msgs.append(m)  # (not copied: a long thread's turns cost nothing to rebuild; bodies are never mutated)
            continue
        for r in m.get("tool_results") or []:
            msgs.append({"role": "tool", "tool_call_id": r["id"], "content": _result_text(r.get("content"))})
        if m.get("tool_results") and not _has_text(m.get("content")):
            continue
        wire = {k: v for k, v in m.items() if k not in ("tool_results", "tool_calls", "thinking_blocks")}
        wire["content"] = _openai_content(m.get("content"))
        if m.get("tool_calls"):
            wire["content"] = wire["content"] or None
            wire["tool_calls"] = [{"id": c["id"], "type": "function", "function": {
                "name": c["name"], "arguments": json.dumps(c["arguments"], ensure_ascii=False)}}
                for c in m["tool_calls"]]
        msgs.append(wire)
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
    if len(rest) == 1 and rest[0].get("role", "user") == "user" and isinstance(rest[0].get("content"), str) \
            and not rest[0].get("tool_results"):
        inp: Any = rest[0]["content"]
    else:
        inp = []
        for m in rest:
            role = m.get("role", "user")
            for r in m.get("tool_results") or []:
                inp.append({"type": "function_call_output", "call_id": r["id"],
                            "output": _result_text(r.get("content"))})
            if _has_text(m.get("content")) or not (m.get("tool_results") or m.get("tool_calls")):
                inp.append({"role": role, "content": _responses_content(m.get("content"), role)})
            for c in m.get("tool_calls") or []:
                inp.append({"type": "function_call", "call_id": c["id"], "name": c["name"],
                            "arguments": json.dumps(c["arguments"], ensure_ascii=False)})
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


def _claude_message(m: dict[str, Any]) -> dict[str, Any]:
    if not (m.get("tool_results") or m.get("tool_calls")):
        return {"role": m.get("role", "user"), "content": _claude_content(m.get("content"))}
    blocks: list[dict[str, Any]] = [{"type": "tool_result", "tool_use_id": r["id"],
                                     "content": _result_text(r.get("content"))} for r in m.get("tool_results") or []]
    if m.get("tool_calls"):  # a tool turn made with thinking on goes back with its signed thinking first (§2.3)
        blocks += [dict(b) for b in m.get("thinking_blocks") or [] if isinstance(b, dict)]
    if _has_text(m.get("content")):
        content = _claude_content(m.get("content"))
        blocks += [{"type": "text", "text": content}] if isinstance(content, str) else content
    blocks += [{"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
               for c in m.get("tool_calls") or []]
    return {"role": m.get("role", "user"), "content": blocks}


def _build_messages(model: ModelInfo, messages: list[dict[str, Any]], system: str | None,
                    temperature: float | None, max_tokens: int | None,
                    stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    sys_text, rest = _split_system(messages, system)
    body: dict[str, Any] = {
        "model": model.id,
        "max_tokens": max_tokens or int(model.defaults.get("max_tokens") or 8192),
        "messages": [_claude_message(m) for m in rest],
    }
    if sys_text:
        body["system"] = sys_text
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream"] = True
    return "/v1/messages", body, {"anthropic-version": "2023-06-01"}


#: What the first tool call of a turn is sent with when Gemini did not sign it (made by another model in the
#: thread, or recorded before signatures were kept): Google's documented placeholder. Gemini 3 refuses a turn whose
#: first call carries no signature (its thought-signatures docs; parallel calls after it are unsigned); other Gemini
#: models take the field and ignore it.
GEMINI_NO_SIGNATURE = "skip_thought_signature_validator"


def _build_gemini(model: ModelInfo, messages: list[dict[str, Any]], system: str | None,
                  temperature: float | None, max_tokens: int | None,
                  stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    sys_text, rest = _split_system(messages, system)
    body: dict[str, Any] = {}
    if sys_text:
        body["system_instruction"] = {"parts": [{"text": sys_text}]}
    body["contents"] = []
    for m in rest:
        parts = [{"functionResponse": {"name": r.get("name") or r["id"], "response": {"result": r.get("content")}}}
                 for r in m.get("tool_results") or []]
        if _has_text(m.get("content")) or not (m.get("tool_results") or m.get("tool_calls")):
            parts += _gemini_parts(m.get("content"))
        for i, c in enumerate(m.get("tool_calls") or []):
            part: dict[str, Any] = {"functionCall": {"name": c["name"], "args": c["arguments"]}}
            if c.get("signature") or not i:
                part["thoughtSignature"] = c.get("signature") or GEMINI_NO_SIGNATURE
            parts.append(part)
        body["contents"].append({"role": "model" if m.get("role") in ("assistant", "model") else "user",
                                 "parts": parts})
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
    check_number("temperature", temperature, minimum=0)
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


#: OpenAI-style sampling options and where the native protocols take them (reference §2.3, §2.4): Gemini keeps
#: them in ``generationConfig`` (camelCase), Anthropic names ``stop`` ``stop_sequences``. Sent at the top level
#: of a native body, the service drops them or refuses the body.
_GEMINI_CONFIG = {"top_p": "topP", "top_k": "topK", "stop": "stopSequences", "seed": "seed",
                  "max_completion_tokens": "maxOutputTokens"}
#: Gemini's thinking settings, in ``generationConfig.thinkingConfig`` (§2.4).
_GEMINI_THINKING = {"thinking_budget": "thinkingBudget", "thinking_level": "thinkingLevel",
                    "include_thoughts": "includeThoughts"}
_CLAUDE_NAMES = {"stop": "stop_sequences", "max_completion_tokens": "max_tokens"}
#: Chat Completions fields the Responses API has under another name (reference §2.2) or not at all.
_RESPONSES_NAMES = {"max_completion_tokens": "max_output_tokens"}
_NOT_ON_RESPONSES = ("stop", "seed", "n")


def _responses_format(fmt: Mapping[str, Any]) -> dict[str, Any]:
    """A Chat Completions ``response_format`` as the Responses API's ``text.format``: there a JSON schema's
    ``name``/``schema``/``strict`` sit beside ``type`` (``{"type": "json_schema", "name", "schema"}``), not
    inside a ``json_schema`` object, which the service refuses for its missing ``name`` (reference §2.2)."""
    inner = fmt.get("json_schema")
    if fmt.get("type") == "json_schema" and isinstance(inner, Mapping):
        return {**{k: v for k, v in fmt.items() if k != "json_schema"}, **inner}
    return dict(fmt)


def _claude_options(model: ModelInfo, extra: dict[str, Any]) -> dict[str, Any]:
    """Options of other protocols in Claude's form (§2.3): ``thinking_budget`` is ``thinking: {type: "enabled",
    budget_tokens}``; ``response_format`` and a lone ``include_thoughts`` have no Claude field (sent at the top
    level, the body is refused or the option silently does nothing) and are refused before the call."""
    if extra.get("response_format") is not None:
        raise UnsupportedOptionError(
            f"{model.id} on /v1/messages takes no response_format (an OpenAI field Claude's protocol does not have).",
            hint="Ask with schema=… or json=True: on Claude they become a forced tool.")
    budget = extra.get("thinking_budget")
    if budget is None:
        if extra.get("include_thoughts") is not None:
            raise UnsupportedOptionError(
                f"{model.id} on /v1/messages takes no include_thoughts (a Gemini setting).",
                hint="Claude shows its thinking whenever thinking is on: pass thinking_budget=2048 instead.")
        return extra
    check_number("thinking_budget", budget, integer=True, minimum=0)
    rest = {k: v for k, v in extra.items() if k not in ("thinking_budget", "include_thoughts")}
    return deep_merge({"thinking": {"type": "enabled", "budget_tokens": budget}}, rest) if budget else rest


def _room_to_think(model: ModelInfo, body: dict[str, Any]) -> dict[str, Any]:
    """A Claude body whose default ``max_tokens`` (not the caller's) leaves no room for its thinking budget gets
    the default on top of the budget: Anthropic refuses ``budget_tokens`` ≥ ``max_tokens``, so asking for more
    thinking than the default would be a 400 for a limit the caller never chose."""
    thinking = body.get("thinking")
    budget = thinking.get("budget_tokens") if isinstance(thinking, dict) and thinking.get("type") == "enabled" \
        else None
    limit = body.get("max_tokens")
    if isinstance(budget, int) and not isinstance(budget, bool) and isinstance(limit, int) and budget >= limit:
        return {**body, "max_tokens": budget + int(model.defaults.get("max_tokens") or 8192)}
    return body


#: Anthropic's smallest thinking budget (its extended-thinking docs; the reference is silent).
CLAUDE_MIN_BUDGET = 1024


def _claude_thinking_rules(model: ModelInfo, body: Mapping[str, Any]) -> None:
    """What Anthropic refuses in a body with thinking on (its extended-thinking docs; the reference is silent),
    refused before sending with the option the caller wrote: a budget under 1024, sampling changed
    (``temperature`` other than 1, ``top_k``, ``top_p`` under 0.95), or a tool forced (``schema=`` and
    ``json=True`` force one on Claude). A budget past ``max_tokens`` is left to the service: Anthropic takes it
    with interleaved thinking."""
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping) or thinking.get("type") != "enabled":
        return
    budget = thinking.get("budget_tokens")
    hint_off = "or turn thinking off (thinking_budget=0)."
    if isinstance(budget, int) and not isinstance(budget, bool) and budget < CLAUDE_MIN_BUDGET:
        raise InputError(f"{model.id} thinks with a budget of at least {CLAUDE_MIN_BUDGET} tokens, not {budget}.",
                         hint=f"Pass thinking_budget={CLAUDE_MIN_BUDGET} or more, {hint_off}")
    temperature, top_p = body.get("temperature"), body.get("top_p")
    if temperature is not None and temperature != 1:
        raise UnsupportedOptionError(f"{model.id} takes no temperature while thinking (Anthropic allows only 1).",
                                     hint=f"Drop temperature=, {hint_off}")
    if body.get("top_k") is not None:
        raise UnsupportedOptionError(f"{model.id} takes no top_k while thinking.", hint=f"Drop top_k=, {hint_off}")
    if isinstance(top_p, (int, float)) and not isinstance(top_p, bool) and top_p < 0.95:
        raise UnsupportedOptionError(f"{model.id} takes top_p only from 0.95 to 1 while thinking, not {top_p}.",
                                     hint=f"Drop top_p= or raise it, {hint_off}")
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") in ("any", "tool"):
        raise UnsupportedOptionError(
            f"{model.id} cannot think while made to answer with a tool (schema=, json=True, or tool_choice naming "
            "a tool or 'required' force one on Claude).",
            hint=f"Let it choose (tool_choice='auto'), ask for the JSON in words, {hint_off}")


def _gemini_response_format(model: ModelInfo, extra: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``response_format`` in Gemini's ``generationConfig`` (§2.4: ``responseMimeType`` and
    ``responseSchema``); at the top level Google refuses the body for an unknown field."""
    fmt = extra["response_format"]
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise UnsupportedOptionError(
            f"{model.id} on Gemini's native endpoint takes response_format only as an OpenAI format "
            f"({{'type': 'json_object'}} or 'json_schema'), not {str(fmt)[:60]!r}.",
            hint="Or ask with schema=… / json=True.")
    rest = {k: v for k, v in extra.items() if k != "response_format"}
    if kind == "text":
        return rest
    config: dict[str, Any] = {"responseMimeType": "application/json"}
    inner = fmt.get("json_schema") if isinstance(fmt, Mapping) else None
    schema = inner.get("schema") if isinstance(inner, Mapping) else fmt.get("schema")
    if kind == "json_schema" and isinstance(schema, Mapping):
        config["responseSchema"] = gemini_schema(dict(schema))
    return deep_merge({"generationConfig": config}, rest)


def _native_options(model: ModelInfo, ep: str, extra: dict[str, Any]) -> dict[str, Any]:
    """``extra``'s OpenAI-style options in the endpoint's own form; a reasoning effort a native protocol has no
    field for is refused, naming the field it does have."""
    names = (_GEMINI_CONFIG if ep.startswith("gemini") else _CLAUDE_NAMES if ep == "messages"
             else _RESPONSES_NAMES if ep == "responses" else {})
    odd = next((k for k in _NOT_ON_RESPONSES if extra.get(k) is not None), None) if ep == "responses" else None
    if odd is not None:
        raise UnsupportedOptionError(
            f"{model.id} on the Responses endpoint takes no {odd} (a Chat Completions field /v1/responses does not "
            "have).", hint="Drop it, or use endpoint='chat.completions'.")
    if (ep.startswith("gemini") or ep == "messages") and extra.get("n") is not None:
        raise UnsupportedOptionError(
            f"{model.id} on {ep} takes no n (several answers to one prompt are a Chat Completions field this "
            "protocol does not have).", hint="Use endpoint='chat.completions' for n=, or drop it.")
    if ep == "responses" and isinstance(extra.get("response_format"), Mapping):
        extra = {**{k: v for k, v in extra.items() if k != "response_format"},
                 "text": {**dict(extra.get("text") or {}), "format": _responses_format(extra["response_format"])}}
    if (ep.startswith("gemini") or ep == "messages") and extra.get("reasoning_effort") is not None:
        native = ("generationConfig={'thinkingConfig': {'thinkingBudget': 2048}} (or 'thinkingLevel')"
                  if ep.startswith("gemini") else "thinking={'type': 'enabled', 'budget_tokens': 2048}")
        raise UnsupportedOptionError(
            f"{model.id} on {ep} takes no reasoning_effort (it is an OpenAI field this protocol does not have).",
            hint=f"Pass {native} instead, or use endpoint='chat.completions'.")
    if ep == "messages":
        extra = _claude_options(model, extra)
    if ep.startswith("gemini") and extra.get("response_format") is not None:
        extra = _gemini_response_format(model, extra)
    moved = {names[k]: ([v] if k == "stop" and isinstance(v, str) else v) for k, v in extra.items() if k in names}
    thinking = ({_GEMINI_THINKING[k]: v for k, v in extra.items() if k in _GEMINI_THINKING}
                if ep.startswith("gemini") else {})
    if thinking:
        moved["thinkingConfig"] = thinking
    if not moved:
        return extra
    rest = {k: v for k, v in extra.items() if k not in names and not (thinking and k in _GEMINI_THINKING)}
    return deep_merge(rest, {"generationConfig": moved} if ep.startswith("gemini") else moved)


def build(model: ModelInfo, messages: list[dict[str, Any]], *, endpoint: str | None = None, system: str | None = None,
          temperature: float | None = None, max_tokens: int | None = None, stream: bool = False,
          extra: Mapping[str, Any] | None = None, raw: Mapping[str, Any] | None = None,
          output: Output | None = None, tools: Any = None, tool_choice: Any = None,
          prefix: Prefix | None = None, cache: str | None = None) -> HttpCall:
    """One chat request. ``endpoint`` defaults to the model's first; ``gemini.stream`` implies streaming.

    ``extra={"reasoning_effort": "high"}`` is translated to ``reasoning.effort`` on the Responses endpoint.
    ``output`` asks for JSON or a JSON schema's shape, ``tools`` (OpenAI function schemas) and ``tool_choice``
    (auto | required | none | a tool name) are sent in each endpoint's own form (on Claude a schema is a
    forced tool). Messages may carry ``tool_calls`` / ``tool_results`` (neutral or OpenAI-style).

    ``prefix`` (one per conversation, kept by the caller between turns) lets a turn build and encode only the
    messages it adds: the body is the same as without it, byte for byte (``HttpCall.encoded``).

    ``cache`` ("5m" or "1h", :data:`CACHE_TTLS`) marks Claude prompt-cache breakpoints on ``/v1/messages``
    (:func:`cache_marks`); other endpoints' models cache long prompts on their own, and it changes nothing there.
    """
    ep = _resolve_endpoint(model, endpoint)
    stream = stream or ep in _ALWAYS_STREAMS
    extra = _check_options(model, temperature, extra)
    check_number("max_tokens", max_tokens, integer=True, minimum=1)
    if not messages and raw is None:
        raise InputError("No messages to send.", hint='Pass [{"role": "user", "content": "…"}].')
    specs = tool_specs(tools)
    mode, forced = _choice(tool_choice, specs)
    list_key = _LIST_KEYS[ep]
    reuse = prefix is not None and raw is None and list_key not in extra
    known = prefix.known(messages, (ep, model.id, system)) if reuse and prefix is not None else 0
    if known and ep == "responses" and len(messages) - known < 2:
        known = 0  # one lone user message is sent as a string on /v1/responses: only a whole build says so
    new = _normalise(list(messages[known:] if known else messages))
    _check_tool_names(model, ep, specs, new)
    path, body, headers = _BUILDERS[ep](model, new, system, temperature, max_tokens, stream)
    if specs or tool_choice is not None or (output is not None and output.wanted):
        _SHAPERS[ep](body, output or Output(), specs, mode, forced, tool_choice is not None)
        if ep == "messages" and isinstance(tool_choice, dict) and "disable_parallel_tool_use" in tool_choice \
                and isinstance(body.get("tool_choice"), dict):  # (Claude's own switch, in its own tool_choice)
            body["tool_choice"]["disable_parallel_tool_use"] = tool_choice["disable_parallel_tool_use"]
    if ep == "responses" and "reasoning_effort" in extra:
        extra["reasoning"] = {**dict(extra.get("reasoning") or {}), "effort": extra.pop("reasoning_effort")}
    extra = _native_options(model, ep, extra)
    pieces: list[bytes | bytearray] | None = None
    encoded: bytes | None = None
    stable = 0
    if reuse and prefix is not None:
        lead = 1 if ep == "chat.completions" and system else 0  # the system message chat puts first
        body, pieces = prefix.extend(body, list_key, messages, known, lead, (ep, model.id, system))
    body = finish_body(body, extra, raw)
    if ep == "messages" and raw is None and max_tokens is None and "max_tokens" not in extra:
        body = _room_to_think(model, body)
    if ep == "messages" and raw is None and body is not None:
        _claude_thinking_rules(model, body)
    if cache is not None and ep == "messages" and raw is None:
        body, pieces, stable = cache_marks(body, cache), None, 0  # (the last turn's mark moves: encoded whole)
    if pieces is not None and body is not None:
        spliced = _splice(body, list_key, pieces)
        encoded, head = spliced if spliced is not None else (None, 0)
        if encoded is not None and prefix is not None and prefix.seen:
            stable = head + 1 + len(prefix.encoded)  # the next turn's body: this head, "[" and these items
    params = {"alt": "sse"} if stream and ep.startswith("gemini") else {}
    return HttpCall("POST", path, json=body, params=params, headers=headers,
                    stream=_STREAM_FORMATS[ep] if stream else None, encoded=encoded, stable=stable)


# --- prompt caching (Claude) ------------------------------------------------------------------------

#: The prompt-cache lifetimes Anthropic takes in ``cache_control.ttl`` (new-api bills a 1-hour write ×1.6 the
#: 5-minute one: :data:`tokenhot_nb.cost.CACHE_WRITE_1H_MULTIPLIER`).
CACHE_TTLS = ("5m", "1h")
#: Anthropic takes at most this many ``cache_control`` breakpoints in one request.
_MAX_BREAKPOINTS = 4
#: Blocks that take no ``cache_control`` (a thinking block goes back as it came, signed).
_UNMARKABLE = frozenset({"thinking", "redacted_thinking"})


def _marks(value: Any) -> int:
    """How many ``cache_control`` breakpoints ``value`` (a body, or part of one) already holds."""
    if isinstance(value, dict):
        return ("cache_control" in value) + sum(_marks(v) for v in value.values())
    if isinstance(value, list):
        return sum(_marks(v) for v in value)
    return 0


def _marked(content: Any, mark: dict[str, str]) -> Any:
    """``content`` (a string or blocks) with its last markable block carrying ``mark`` (a copy; None: none)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content, "cache_control": mark}] if content else None
    if not isinstance(content, list):
        return None
    for i in range(len(content) - 1, -1, -1):
        block = content[i]
        if isinstance(block, dict) and block.get("type") not in _UNMARKABLE:
            return [*content[:i], {**block, "cache_control": mark}, *content[i + 1:]]
    return None


def cache_marks(body: dict[str, Any], ttl: str) -> dict[str, Any]:
    """A Claude Messages body with prompt-cache breakpoints: the system prompt and the last message, so the next
    turn of a conversation (or the next question on the same long system prompt) reads everything up to there
    from the cache (billed at the row's ``cache_ratio``, ~0.1× the input price) instead of paying for it again;
    writing it costs ``create_cache_ratio`` × (1.25×; 2× for "1h"). Anthropic caches a prefix of 1,024 tokens
    or more (more on some models) and takes four breakpoints at most: those the body already holds (``extra=``)
    are kept and counted. The body is copied where it changes: the caller's messages and a thread's kept wire
    items stay as they were."""
    mark = {"type": "ephemeral", **({"ttl": ttl} if ttl != "5m" else {})}
    room = _MAX_BREAKPOINTS - _marks(body)
    out = dict(body)
    messages = out.get("messages")
    if room > 0 and isinstance(messages, list) and messages and isinstance(messages[-1], dict) \
            and _marks(messages[-1]) == 0:
        content = _marked(messages[-1].get("content"), mark)
        if content is not None:
            out["messages"] = [*messages[:-1], {**messages[-1], "content": content}]
            room -= 1
    system = out.get("system")
    if room > 0 and system and _marks(system) == 0:
        content = _marked(system, mark)
        if content is not None:
            out["system"] = content
    return out


# --- a conversation's body kept between turns ---------------------------------------------------------

#: Where each endpoint's body holds the conversation (one wire item per plain neutral message).
_LIST_KEYS = {"chat.completions": "messages", "responses": "input", "messages": "messages",
              "gemini.generate": "contents", "gemini.stream": "contents"}


def _dumps(value: Any) -> bytes:
    """JSON exactly as the client encodes a body (httpx's ``json=``): compact, UTF-8, no NaN."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _plain(m: Any) -> bool:
    """A turn every builder converts on its own, with no effect on its neighbours: a user or assistant text."""
    return (type(m) is dict or type(m) is KeptMessage) and len(m) == 2 and m.get("role") in ("user", "assistant") \
        and type(m.get("content")) is str


_MARK = "\x00tokenhot-conversation\x00"
_MARK_BYTES = _dumps(_MARK)


def _splice(body: dict[str, Any], list_key: str, items: list[bytes | bytearray]) -> tuple[bytes, int] | None:
    """The body encoded with its conversation list replaced by ``items`` (its pieces, already encoded, brackets
    included), and how many bytes come before the list. One join: each copy of a long thread's body (~150 KB at
    turn 400) costs time, and two of them alive at once made the allocator hand pages back and fault them in again."""
    try:
        head, *rest = _dumps({**body, list_key: _MARK}).split(_MARK_BYTES)
    except (TypeError, ValueError):  # not JSON (NaN, an odd value): the client encodes it and says what is wrong
        return None
    return (b"".join([head, *items, rest[0]]), len(head)) if len(rest) == 1 else None


@dataclass(eq=False)
class Prefix:
    """A conversation's wire items and their encoding, kept between its turns (``build(prefix=…)``).

    It covers conversations of plain turns (user/assistant text; anything else, e.g. tool calls or images,
    empties it): those convert one by one on every endpoint, so turn N+1's conversation is turn N's items
    plus the new ones. Each turn compares the messages it is given with the ones it covers (a changed, edited or
    shorter thread simply starts over), so a reused body is always the body a whole build would make. It covers a
    :class:`KeptMessage` (a thread's own) as that very object, which compares in one pointer compare, and takes any
    edit counted since (:func:`message_edits`) as a reason to start over; any other message as a copy, compared
    whole.
    """

    key: tuple[Any, ...] = ()
    seen: list[dict[str, Any]] = field(default_factory=list)  # the neutral messages covered (or copies: above)
    wire: list[Any] = field(default_factory=list)  # their wire items (with chat's leading system message)
    encoded: bytearray = field(default_factory=bytearray)  # the wire items encoded, comma-joined, no brackets
    edits: int = -1  # message_edits() when ``seen`` was taken
    checked: int = -1  # message_edits() when the turn being built looked (taken before it reads a message)

    def known(self, messages: list[dict[str, Any]], key: tuple[Any, ...]) -> int:
        """How many leading ``messages`` are covered (0: build them all)."""
        n = len(self.seen)
        self.checked = edits = message_edits()
        if not n or key != self.key or len(messages) <= n or self.edits != edits or messages[:n] != self.seen:
            return 0
        return n

    def extend(self, body: dict[str, Any], list_key: str, messages: list[dict[str, Any]], known: int, lead: int,
               key: tuple[Any, ...]) -> tuple[dict[str, Any], list[bytes | bytearray] | None]:
        """``body`` (built from ``messages[known:]``) with the covered items put back → (body, the encoded list in
        pieces, brackets included: :func:`_splice` joins them once)."""
        items = body.get(list_key)
        if not isinstance(items, list):
            self.clear()
            return body, None
        try:
            if known:
                added = items[lead:]
                wire = [*self.wire, *added]
                new = b",".join(_dumps(i) for i in added)
                body = {**body, list_key: wire}
            else:
                wire = items
                new = b",".join([_dumps(i) for i in items])
        except (TypeError, ValueError):
            self.clear()
            return body, None
        before = self.encoded
        comma = b"," if before and new else b""
        fresh = messages[known:]
        if all(_plain(m) for m in fresh):
            kept = [m if type(m) is KeptMessage else dict(m) for m in fresh]
            if known:
                self.seen.extend(kept)  # (these lists are the prefix's own: grown in place, not copied)
                before += comma + new
                pieces: list[bytes | bytearray] = [b"[", before, b"]"]
            else:
                self.seen, self.edits, self.encoded = kept, self.checked, bytearray(new)
                pieces = [b"[", new, b"]"]
            self.key = key
            self.wire = wire
        else:
            pieces = [b"[", before, comma, new, b"]"] if known else [b"[", new, b"]"]
            self.clear()  # (a new bytearray: ``before`` is not changed)
        return body, pieces

    def clear(self) -> None:
        self.key, self.seen, self.wire, self.encoded, self.edits = (), [], [], bytearray(), -1


# --- reasoning helpers -------------------------------------------------------------------------------

_THINK = re.compile(r"<think(?:ing)?>(.*?)(?:</think(?:ing)?>|$)", re.S)


def split_think(text: str) -> tuple[str, str]:
    """Separate ``<think>…</think>`` blocks from the answer: ``(answer, reasoning)``."""
    if "<think" not in text:
        return text, ""
    reasoning = "\n".join(m.strip() for m in _THINK.findall(text))
    return _THINK.sub("", text).strip(), reasoning


def _text_of(content: Any) -> tuple[str, str]:
    """Text and reasoning from an OpenAI message content (string or parts).

    A number is its text (a relay that decoded ``"42"``); a single part may come without its list; parts whose
    text is not a string are skipped, the rest of the answer is kept.
    """
    if isinstance(content, str):
        return content, ""
    if isinstance(content, (int, float)) and not isinstance(content, bool):
        return str(content), ""
    if isinstance(content, dict):
        content = [content]
    text, reasoning = [], []
    for p in _list(content):
        if not isinstance(p, dict):
            continue
        if p.get("type") in ("thinking", "reasoning"):
            reasoning.append(_str(p.get("thinking")) or _str(p.get("text")))
        elif isinstance(p.get("text"), str):
            text.append(p["text"])
    return "".join(text), "".join(reasoning)


# --- tolerant readers: what a broken relay sends in a field is skipped or coerced, never a Python error ---------


def _list(value: Any) -> list[Any]:
    """``value`` when it is a list, else no items (a string or a number where a list belongs holds nothing)."""
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    """A text field: a string as is, a number as its digits, anything else (null, a list, an object) as ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _opt_str(value: Any) -> str | None:
    """An optional label (finish reason, id, name): a string, a number's digits, or None; a key a relay echoed
    there masked (a result shows its finish reason as it is)."""
    return received(_str(value)) or None


def _index(value: Any) -> int | str | None:
    """A streamed tool call's index. Fragments with the same index belong together, so a relay's odd index
    (``"a"``, ``"1"``, ``1.0``) still groups its fragments; none at all is None (see :class:`Accumulator`); what
    cannot be a key counts as 0."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else str(value)
    if isinstance(value, str):
        digits = value.strip()  # isdecimal is what int() reads ("²" is a digit it refuses); 18 fit any int64
        return int(digits) if digits.isdecimal() and len(digits) <= 18 else value
    return 0


def _call(call_id: Any, name: Any, arguments: Any, default_id: str = "", signature: Any = None) -> ToolCall:
    """A tool call the model asked for, as every parser builds it: id and name as text, the arguments decoded,
    and a key echoed in any of them redacted (a call is shown, stored and sent back in the thread)."""
    return ToolCall(received(_str(call_id) or default_id), received(_str(name)), received(_arguments(arguments)),
                    received(_str(signature)) or None)


def _unique_ids(calls: list[ToolCall], seen: set[str] | None = None) -> list[ToolCall]:
    """``calls`` with an id that repeats made unique (``call_x``, ``call_x_2``), and one that is missing given
    (``call_0``: its place). A relay that gives two calls one id, and Gemini's calls without one (named here by their
    place in a frame), made calls a thread could answer only one of (``tool_results`` is by id); a whole Claude or
    Responses answer without one made a call of id "", which Claude refuses when the thread sends it back. The ids
    go back with the calls in the thread, so any id of ours fits. ``seen``: the ids an ``n=`` answer's earlier
    choices took (each choice's calls are the user's to run and answer by id: two choices' ``call_0`` collided)."""
    seen = set() if seen is None else seen
    out: list[ToolCall] = []
    for i, c in enumerate(calls):
        base = c.id or f"call_{i}"
        cid, n = base, 1
        while cid in seen:
            n += 1
            cid = f"{base}_{n}"
        seen.add(cid)
        out.append(c if cid == c.id else replace(c, id=cid))
    return out


def _all_unique(reply: ChatReply) -> None:
    """The answer's calls, then each other choice's, made unique together (the answer's own ids kept first)."""
    seen: set[str] = set()
    reply.tool_calls = _unique_ids(reply.tool_calls, seen)
    for other in reply.others:
        other.tool_calls = _unique_ids(other.tool_calls, seen)


#: Finish reasons saying the answer ran into its token limit (chat ``length``, Claude ``max_tokens``, Gemini
#: ``MAX_TOKENS``, a Responses answer ``incomplete`` for ``max_output_tokens``).
AT_LIMIT = frozenset({"length", "max_tokens", "max_output_tokens"})


def cut_at_limit(calls: list[ToolCall], finish_reason: str | None) -> tuple[list[ToolCall], list[dict[str, Any]]]:
    """The calls whose arguments are not JSON, set apart from those a notebook runs. An answer that hit max_tokens
    in the middle of a call's arguments: that call was never whole; an answer that ended as usual (``tool_calls``,
    ``stop``) may still carry arguments the model wrote wrong. Either way the call stayed in the calls
    (``fn(**call.arguments)`` failed on ``{"_raw": …}`` and the thread waited for a result to it); it is kept as
    a broken stream's begun calls are (``Accumulator.cut_calls``): id, name, the argument text as it came, and
    ``incomplete`` (cut at the limit) or ``not_json`` (the model sent it so, or sent JSON that is no object); paid
    for, never run. Returns (the
    whole calls, the set-apart ones)."""
    if not calls:
        return calls, []
    mark = "incomplete" if (finish_reason or "").lower() in AT_LIMIT else NOT_JSON
    whole: list[ToolCall] = []
    cut: list[dict[str, Any]] = []
    for c in calls:
        only = next(iter(c.arguments)) if len(c.arguments) == 1 else None
        raw = c.arguments["_raw"] if only == "_raw" else None
        if isinstance(raw, str):  # (the parser's mark for arguments that are not JSON)
            cut.append({"id": c.id, "name": c.name, "arguments": raw, mark: True})
        elif only == "_value":  # JSON, but no object (every tool's parameters are one): no call to run either
            text = json.dumps(c.arguments["_value"], ensure_ascii=False)
            cut.append({"id": c.id, "name": c.name, "arguments": text, NOT_JSON: True})
        else:
            whole.append(c)
    return whole, cut


# --- parsers -------------------------------------------------------------------------------------------


def _chat_choice(choice: dict[str, Any]) -> Choice:
    """One of a chat completion's ``choices``: its text (or refusal), reasoning, finish reason and tool calls."""
    msg = _dict(choice.get("message") or choice.get("delta"))
    text, reasoning = _text_of(msg.get("content"))
    if not text and isinstance(choice.get("text"), str):
        text = choice["text"]
    if not text and isinstance(msg.get("refusal"), str):  # the model declined: its words are the answer
        text = msg["refusal"]
    extra_reasoning = msg.get("reasoning_content") or msg.get("reasoning") or ""
    if isinstance(extra_reasoning, str) and extra_reasoning:
        reasoning = extra_reasoning + reasoning
    text, think = split_think(text)
    reasoning = "\n".join(r for r in (reasoning, think) if r)
    calls = [_call(c.get("id"), dig(c, "function", "name"), dig(c, "function", "arguments"), f"call_{i}")
             for i, c in enumerate(_list(msg.get("tool_calls"))) if isinstance(c, dict)]
    return Choice(text, reasoning, _opt_str(choice.get("finish_reason")), calls)


def _choice_index(choice: Any) -> int:
    """A choice's ``index`` (a relay that numbers none sends one choice: 0). A relay's whole number in another
    JSON form (``"1"``, ``1.0``) is that number: each choice of an ``n=`` answer is paid for, and read as 0 its text
    ran into the first answer's. Anything else (``"a"``, ``1.5``, ``true``) says no number: 0, as before."""
    index = _index(choice.get("index", 0) if isinstance(choice, dict) else 0)
    return index if isinstance(index, int) else 0


def _parse_chat(body: dict[str, Any]) -> ChatReply:
    """The reply is choice 0 (the first listed when none is numbered 0); an ``n=`` call's other choices, each
    paid for, are kept in ``others`` in index order."""
    listed = [c for c in _list(body.get("choices")) if isinstance(c, dict)]
    first = next((c for c in listed if _choice_index(c) == 0), listed[0] if listed else {})
    rest = sorted((c for c in listed if c is not first), key=_choice_index)
    main = _chat_choice(first)
    return ChatReply(text=main.text, reasoning=main.reasoning, usage=usage_from(body.get("usage")),
                     finish_reason=main.finish_reason, model=_opt_str(body.get("model")),
                     response_id=_opt_str(body.get("id")), raw=body, tool_calls=main.tool_calls,
                     others=[_chat_choice(c) for c in rest])


def _responses_reasoning(item: dict[str, Any]) -> str:
    parts = [_str(s.get("text")) for s in _list(item.get("summary")) if isinstance(s, dict)]
    parts += [_str(c.get("text")) for c in _list(item.get("content")) if isinstance(c, dict)]
    return "\n".join(p for p in parts if p)


def _parse_responses(body: dict[str, Any]) -> ChatReply:
    if body.get("status") == "failed":  # a whole answer that failed, whatever output it holds: an error, not a reply
        err = _dict(body.get("error"))
        msg, rid = split_request_id(str(err.get("message") or err.get("code") or "no reason given"))
        usage = _failed_usage(body)
        failed = APIError(f"The response failed: {redact(msg)[:300]}", status=200, code=_opt_str(err.get("code")),
                          request_id=rid, hint="What it consumed is billed (err.usage); try again." if usage
                          else "Try again.")
        failed.usage = usage
        raise failed
    texts, reasoning = [], []
    calls: list[ToolCall] = []
    for item in _list(body.get("output")):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            calls.append(_call(_str(item.get("call_id")) or item.get("id"), item.get("name"), item.get("arguments")))
        elif item.get("type") == "reasoning":
            reasoning.append(_responses_reasoning(item))
        elif item.get("type", "message") == "message":
            for c in _list(item.get("content")):
                if isinstance(c, dict) and c.get("type") in ("output_text", "text"):
                    texts.append(_str(c.get("text")))
                elif isinstance(c, dict) and c.get("type") == "refusal":  # the model declined: its words are the answer
                    texts.append(_str(c.get("refusal")))
    text = "".join(texts)
    if not text and isinstance(body.get("output_text"), str):
        text = body["output_text"]
    status = body.get("status")
    finish = dig(body, "incomplete_details", "reason") if status == "incomplete" else status
    return ChatReply(text=text, reasoning="\n".join(r for r in reasoning if r), usage=usage_from(body.get("usage")),
                     finish_reason=_opt_str(finish), model=_opt_str(body.get("model")),
                     response_id=_opt_str(body.get("id")), raw=body, tool_calls=calls)


def _parse_claude(body: dict[str, Any]) -> ChatReply:
    texts, reasoning = [], []
    calls: list[ToolCall] = []
    thinking: list[ThinkingPart] = []
    content = body.get("content")
    if isinstance(content, str):  # a relay that flattened the blocks into one string: the paid text, not nothing
        content = [{"type": "text", "text": content}]
    for i, block in enumerate(_list(content)):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_use":
            calls.append(_call(block.get("id"), block.get("name"), block.get("input")))
        elif block.get("type") == "thinking":
            reasoning.append(_str(block.get("thinking")))
            thinking.append(ThinkingPart(i, _str(block.get("thinking")), _str(block.get("signature"))))
        elif block.get("type") == "redacted_thinking":
            thinking.append(ThinkingPart(i, redacted=_str(block.get("data"))))
        elif block.get("type") == "text":
            texts.append(_str(block.get("text")))
    return ChatReply(text="".join(texts), reasoning="".join(reasoning), usage=usage_from(body.get("usage")),
                     finish_reason=_opt_str(body.get("stop_reason")), model=_opt_str(body.get("model")),
                     response_id=_opt_str(body.get("id")), raw=body, tool_calls=calls,
                     thinking_blocks=thinking_blocks(thinking))


def thinking_blocks(parts: list[ThinkingPart]) -> list[dict[str, str]]:
    """Claude's thinking blocks as they go back to it: signed thinking (a block without its signature cannot be
    sent back, and is left out) and redacted blocks, in their order."""
    out: list[dict[str, str]] = []
    for p in parts:
        if p.redacted:
            out.append({"type": "redacted_thinking", "data": p.redacted})
        elif p.signature:
            out.append({"type": "thinking", "thinking": p.thinking, "signature": p.signature})
    return out


def _gemini_candidates(body: Any) -> dict[int, dict[str, Any]]:
    """A Gemini answer's candidates by their ``index`` (by place when they carry none): with
    ``generationConfig.candidateCount`` above 1 each is a paid answer, and a stream frame may carry any of them."""
    out: dict[int, dict[str, Any]] = {}
    for place, cand in enumerate(_list(dig(body, "candidates"))):
        if isinstance(cand, dict):
            out.setdefault(_choice_index({"index": cand.get("index", place)}), cand)
    return out


def _gemini_text(body: Any, cand: dict[str, Any] | None = None) -> tuple[str, str, str | None]:
    cand = _gemini_candidates(body).get(0, {}) if cand is None else cand
    texts: list[str] = []
    thoughts: list[str] = []
    for p in _list(dig(cand, "content", "parts")):
        if isinstance(p, dict) and isinstance(p.get("text"), str):
            (thoughts if p.get("thought") else texts).append(p["text"])
    # a refused prompt has no candidate, only ``promptFeedback.blockReason``: it is why the answer is empty
    finish = _opt_str(cand.get("finishReason")) or _opt_str(dig(body, "promptFeedback", "blockReason"))
    return "".join(texts), "".join(thoughts), finish


def _gemini_others(body: Any) -> dict[int, tuple[str, str, str | None, list[ToolCall]]]:
    """The candidates after the first (text, thoughts, finish, calls), by index."""
    return {i: (*_gemini_text({}, cand), _gemini_calls({}, cand))
            for i, cand in sorted(_gemini_candidates(body).items()) if i != 0}


def _gemini_calls(body: Any, cand: dict[str, Any] | None = None) -> list[ToolCall]:
    cand = _gemini_candidates(body).get(0, {}) if cand is None else cand
    calls = []
    for i, p in enumerate(_list(dig(cand, "content", "parts"))):
        fc = (p.get("functionCall") or p.get("function_call")) if isinstance(p, dict) else None
        if isinstance(fc, dict):
            signature = p.get("thoughtSignature") or p.get("thought_signature")
            calls.append(_call(fc.get("id"), fc.get("name"), fc.get("args"), f"call_{i}_{_str(fc.get('name'))}",
                               signature))
    return calls


def _parse_gemini(body: Any) -> ChatReply:
    if isinstance(body, list):  # non-SSE streamGenerateContent answers with a JSON array of frames
        frames = [_parse_gemini(b) for b in body if isinstance(b, dict)]
        usage: Usage | None = None
        for f in frames:
            usage = merge_usage(usage, f.usage)
        others: dict[int, Choice] = {}
        for b in body:
            for i, (text, thoughts, finish, calls) in _gemini_others(b).items():
                had = others.setdefault(i, Choice(""))
                had.text, had.reasoning = had.text + text, had.reasoning + thoughts
                had.finish_reason = finish or had.finish_reason
                had.tool_calls += calls
        return ChatReply(text="".join(f.text for f in frames), reasoning="".join(f.reasoning for f in frames),
                         usage=usage or Usage(), finish_reason=next((f.finish_reason for f in reversed(frames)
                                                                     if f.finish_reason), None),
                         model=frames[-1].model if frames else None, raw=body,
                         tool_calls=[c for f in frames for c in f.tool_calls],
                         others=[others[i] for i in sorted(others)])
    text, thoughts, finish = _gemini_text(body)
    return ChatReply(text=text, reasoning=thoughts, usage=usage_from(body.get("usageMetadata")),
                     finish_reason=finish, model=_opt_str(body.get("modelVersion")),
                     response_id=_opt_str(body.get("responseId")), raw=body, tool_calls=_gemini_calls(body),
                     others=[Choice(*other) for other in _gemini_others(body).values()])


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


#: Top-level keys one of which every chat answer has (Chat Completions, Responses, Claude, Gemini incl. a refused
#: prompt's ``promptFeedback``): an object with none of them is no reply, whatever its status said.
_REPLY_KEYS = ("choices", "output", "output_text", "content", "candidates", "promptFeedback")


def _refuse_no_reply(model: ModelInfo | None, body: dict[str, Any]) -> None:
    """Raise for a JSON object that is no chat answer (it was recorded as an empty, successful reply), keeping the
    usage it reports: those tokens may have been billed."""
    keys = ", ".join(repr(k) for k in list(body)[:6]) or "none"
    err = APIError(f"{model.id if model else 'The model'} answered with JSON that is not a chat reply (keys: "
                   f"{redact(keys)[:200]}); nothing could be read from it.", status=200,
                   hint="This is usually a relay problem; try again, or check the base URL.")
    u = body.get("usage") if isinstance(body.get("usage"), dict) else body.get("usageMetadata")
    usage = usage_from(u) if isinstance(u, dict) else None
    err.usage = usage if usage is not None and (usage.input_tokens or usage.output_tokens) else None
    raise err


def parse(model: ModelInfo | None, endpoint: str | None, body: Any) -> ChatReply:
    """A non-streamed reply. The body's shape wins over ``endpoint`` when they disagree."""
    if isinstance(body, dict) and body.get("status") == "failed" and _shape(body) == "responses":
        _parse_responses(body)  # (raises: a failed response is an error, carrying what it consumed)
    try:
        refuse_error_envelope(body)
    except APIError as err:  # (an error envelope that reports usage: those tokens were billed)
        err.usage = _failed_usage(body)
        raise
    if isinstance(body, dict) and not any(k in body for k in _REPLY_KEYS):
        _refuse_no_reply(model, body)
    ep = _shape(body) or _ENDPOINT_ALIASES.get(endpoint or "", endpoint or "")
    parser = _PARSERS.get(ep) if isinstance(body, (dict, list)) else None
    if parser is None:
        text = body if isinstance(body, str) else ""
        answer, reasoning = split_think(text)
        return ChatReply(text=answer, reasoning=reasoning, raw=body)
    reply = parser(body)
    _all_unique(reply)
    if reply.model is None and model is not None:
        reply.model = model.id
    return reply


# --- stream events -------------------------------------------------------------------------------------


def _choice_delta(choice: dict[str, Any]) -> ChatDelta:
    """What one chunk adds to one choice."""
    out = ChatDelta()
    delta = _dict(choice.get("delta") or choice.get("message"))
    text, reasoning = _text_of(delta.get("content"))
    refusal = delta.get("refusal")
    out.text = text or (refusal if isinstance(refusal, str) else "")
    r = delta.get("reasoning_content") or delta.get("reasoning")
    out.reasoning = (r if isinstance(r, str) else "") + reasoning
    out.finish_reason = _opt_str(choice.get("finish_reason"))
    for c in _list(delta.get("tool_calls")):
        if isinstance(c, dict):
            fn = _dict(c.get("function"))
            args = fn.get("arguments")
            out.tool_calls.append(ToolCallPart(_index(c.get("index")), _opt_str(c.get("id")),
                                               _opt_str(fn.get("name")), args if isinstance(args, str) else "",
                                               args if isinstance(args, dict) else None))
    return out


def _event_chat(d: dict[str, Any]) -> ChatDelta:
    # with n > 1 the choices interleave: the answer is choice 0, the others' pieces ride along in ``others``
    out = ChatDelta()
    for choice in _list(d.get("choices")):
        if not isinstance(choice, dict):
            continue
        index = _choice_index(choice)
        if index == 0:
            out = replace(_choice_delta(choice), others=out.others)
        else:
            out.others[index] = _choice_delta(choice)
    if isinstance(d.get("usage"), dict):
        out.usage = usage_from(d["usage"])
    return out


def _stream_error(what: str, d: dict[str, Any]) -> StreamError:
    """An error frame's message (its request id apart, as every error shows it) and code."""
    err = d["error"] if isinstance(d.get("error"), dict) else _dict(dig(d, "response", "error")) or d
    msg, rid = split_request_id(str(err.get("message") or d.get("message") or "the stream reported an error"))
    code = err.get("code") or err.get("type")
    return StreamError(f"{what}: {msg}", code=str(code) if code is not None else None, request_id=rid)


def _event_responses(d: dict[str, Any]) -> ChatDelta:
    t = d.get("type", "")
    # (a delta that is no text is nothing: not its repr in the answer); a refusal's words are the answer, as on chat
    if t in ("response.output_text.delta", "response.refusal.delta"):
        return ChatDelta(text=_str(d.get("delta")))
    if t in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
        return ChatDelta(reasoning=_str(d.get("delta")))
    if t == "response.output_item.added" and dig(d, "item", "type") == "function_call":
        item = d["item"]
        return ChatDelta(tool_calls=[ToolCallPart(_index(d.get("output_index")), _opt_str(item.get("call_id")),
                                                  _opt_str(item.get("name")), _str(item.get("arguments")))])
    if t == "response.function_call_arguments.delta":
        return ChatDelta(tool_calls=[ToolCallPart(_index(d.get("output_index")), arguments=_str(d.get("delta")))])
    # the whole arguments again (§2.2 lists `.done` beside `.delta`): they stand in for deltas a relay did not send
    if t == "response.function_call_arguments.done" and _str(d.get("arguments")):
        return ChatDelta(tool_calls=[ToolCallPart(_index(d.get("output_index")),
                                                  complete=_arguments(_str(d.get("arguments"))))])
    if t == "response.output_item.done" and dig(d, "item", "type") == "function_call":
        item = d["item"]
        given = _str(item.get("arguments"))
        return ChatDelta(tool_calls=[ToolCallPart(_index(d.get("output_index")), _opt_str(item.get("call_id")),
                                                  _opt_str(item.get("name")),
                                                  complete=_arguments(given) if given else None)])
    if t in ("response.completed", "response.incomplete"):
        resp = _dict(d.get("response"))
        finish = dig(resp, "incomplete_details", "reason") if t == "response.incomplete" else resp.get("status")
        return ChatDelta(usage=usage_from(resp.get("usage")) if resp.get("usage") else None,
                         finish_reason=_opt_str(finish) or t.rsplit(".", 1)[-1], done=True)
    if t in ("response.failed", "error"):
        err = _stream_error("The Responses stream failed", d)
        err.usage = _failed_usage(d.get("response"))
        raise err
    return ChatDelta()


def _failed_usage(body: Any) -> Usage | None:
    """The usage a failed answer reports (a Responses ``response.failed``'s ``response.usage``, a whole failed
    response's ``usage``): the relay bills those tokens, so the failure keeps them. None when it reports none."""
    u = body.get("usage") if isinstance(body, dict) else None
    usage = usage_from(u) if isinstance(u, dict) else None
    return usage if usage is not None and (usage.input_tokens or usage.output_tokens) else None


def _event_claude(d: dict[str, Any]) -> ChatDelta:
    t = d.get("type", "")
    if t == "content_block_delta":
        delta = _dict(d.get("delta"))
        if delta.get("type") == "thinking_delta":
            piece = _str(delta.get("thinking"))
            return ChatDelta(reasoning=piece, thinking=[ThinkingPart(_index(d.get("index")), thinking=piece)])
        if delta.get("type") == "signature_delta":
            return ChatDelta(thinking=[ThinkingPart(_index(d.get("index")), signature=_str(delta.get("signature")))])
        if delta.get("type") == "input_json_delta":
            return ChatDelta(tool_calls=[ToolCallPart(_index(d.get("index")),
                                                      arguments=_str(delta.get("partial_json")))])
        return ChatDelta(text=_str(delta.get("text")))
    if t == "content_block_start":
        block = _dict(d.get("content_block"))
        if block.get("type") == "tool_use":
            given = block.get("input")
            return ChatDelta(tool_calls=[ToolCallPart(_index(d.get("index")), _opt_str(block.get("id")),
                                                      _opt_str(block.get("name")),
                                                      complete=given if isinstance(given, dict) and given else None)])
        if block.get("type") == "thinking":
            first = _str(block.get("thinking"))
            return ChatDelta(reasoning=first, thinking=[ThinkingPart(_index(d.get("index")), first,
                                                                     _str(block.get("signature")))])
        if block.get("type") == "redacted_thinking":
            return ChatDelta(thinking=[ThinkingPart(_index(d.get("index")), redacted=_str(block.get("data")))])
        return ChatDelta(text=_str(block.get("text")) if block.get("type") == "text" else "")
    if t == "message_start":
        u = dig(d, "message", "usage")
        return ChatDelta(usage=usage_from(u) if u else None)
    if t == "message_delta":
        u = d.get("usage")
        return ChatDelta(usage=usage_from(u) if u else None, finish_reason=_opt_str(dig(d, "delta", "stop_reason")))
    if t == "message_stop":
        return ChatDelta(done=True)
    if t == "error":
        raise _stream_error("Claude stream error", d)
    return ChatDelta()


def _event_gemini(d: dict[str, Any]) -> ChatDelta:
    text, thoughts, finish = _gemini_text(d)
    u = d.get("usageMetadata")
    return ChatDelta(text=text, reasoning=thoughts, finish_reason=finish, usage=usage_from(u) if u else None,
                     tool_calls=_gemini_call_parts(_gemini_calls(d)),
                     others={i: ChatDelta(text=t, reasoning=r, finish_reason=f, tool_calls=_gemini_call_parts(calls))
                             for i, (t, r, f, calls) in _gemini_others(d).items()})


def _gemini_call_parts(calls: list[ToolCall]) -> list[ToolCallPart]:
    """Gemini sends each call whole, in one part: a stream's pieces that complete themselves."""
    return [ToolCallPart(f"gemini-{c.id}", c.id, c.name, complete=c.arguments, signature=c.signature, whole=True)
            for c in calls]


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
        raise _stream_error("The stream reported an error", data)
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
    calls: dict[int | str, ToolCallPart] = field(default_factory=dict, repr=False)
    thinking: dict[int | str | None, ThinkingPart] = field(default_factory=dict, repr=False)
    #: an ``n=`` stream's other choices, by index, each folded on its own
    others: dict[int, Accumulator] = field(default_factory=dict, repr=False)

    def add(self, delta: ChatDelta) -> ChatDelta:
        for index, other in delta.others.items():
            self.others.setdefault(index, Accumulator()).add(other)
        self.text += delta.text
        self.reasoning += delta.reasoning
        for piece in delta.thinking:  # (Claude's blocks, by content block)
            block = self.thinking.setdefault(piece.index, ThinkingPart(piece.index))
            block.thinking += piece.thinking
            block.signature += piece.signature
            block.redacted += piece.redacted
        for part in delta.tool_calls:
            key = part.index if part.index is not None else self._unindexed(part.id)
            if part.whole and key in self.calls:  # (Gemini numbers calls by their place in one frame only)
                key = f"{key}#{len(self.calls)}"
            call = self.calls.setdefault(key, ToolCallPart(key))
            call.id = call.id or part.id
            call.name = call.name or part.name
            call.arguments += part.arguments
            call.complete = part.complete if part.complete is not None else call.complete
            call.signature = call.signature or part.signature
        self.usage = merge_usage(self.usage, delta.usage)
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.done = self.done or delta.done
        self.deltas += 1
        return delta

    def _unindexed(self, call_id: str | None) -> int | str:
        """Where a piece with no index goes: a relay that numbers no call still sends each call's id with its
        first piece, so a new id starts a call and a piece without one continues the last (they were all folded
        into call 0: two calls became one, with both arguments run together)."""
        if not self.calls:
            return 0
        last = next(reversed(self.calls))
        if call_id is None or self.calls[last].id is None:
            return last
        return next((key for key, call in self.calls.items() if call.id == call_id), f"id:{call_id}")

    def cut_calls(self) -> list[dict[str, Any]]:
        """The tool calls a stream had begun when it broke off: id, name and the argument text as far as it came,
        marked ``incomplete``. Never parsed (cut JSON is no arguments) and never to be run; kept because the relay
        bills the streamed arguments as output."""
        out: list[dict[str, Any]] = []
        for i, c in enumerate(self.calls.values()):
            args = c.arguments if c.arguments or c.complete is None else json.dumps(c.complete, ensure_ascii=False)
            if c.id or c.name or args:
                out.append({"id": c.id or f"call_{i}", "name": c.name or "", "arguments": args, "incomplete": True})
        return out

    def reply(self, model: str | None = None) -> ChatReply:
        text, think = split_think(self.text)
        reasoning = "\n".join(r for r in (self.reasoning, think) if r)
        calls = _unique_ids([_call(c.id, c.name, c.complete if c.complete is not None and not c.arguments
                                  else c.arguments, f"call_{i}", c.signature)
                            for i, c in enumerate(self.calls.values())])
        others = [self.others[i].reply() for i in sorted(self.others)]
        reply = ChatReply(text=text, reasoning=reasoning, usage=self.usage or Usage(),
                          finish_reason=self.finish_reason, model=model, tool_calls=calls,
                          thinking_blocks=thinking_blocks(list(self.thinking.values())),
                          others=[Choice(o.text, o.reasoning, o.finish_reason, o.tool_calls) for o in others])
        if others:
            _all_unique(reply)
        return reply
