"""Chat endpoints in the three text protocols: OpenAI chat completions, OpenAI Responses, Claude Messages."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

from starlette.responses import Response

from . import _structured
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
    prompt_of_messages,
    seed_and_tokens,
    seed_of,
    split_chunks,
    tool_tokens,
    with_rid,
)
from ._pricing import chat_billed_usage, responses_billed_usage

_STREAM_KEYS = ("stream", "stream_options")


def _content_seed(body: dict[str, Any]) -> int:
    """The same request streamed or not gives the same text."""
    return seed_of({k: v for k, v in body.items() if k not in _STREAM_KEYS})


def _seed_and_tokens(body: dict[str, Any], key: str) -> tuple[int, int]:
    """:func:`_content_seed` and ``all_text_tokens(body[key])``, the conversation looked up once for both."""
    return seed_and_tokens({k: v for k, v in body.items() if k not in _STREAM_KEYS}, key)


def _max_tokens(*values: Any) -> int | None:
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def _wants_reasoning(effort: Any) -> bool:
    return isinstance(effort, str) and effort.lower() not in ("none", "minimal", "")


#: OpenAI reasoning models fix the sampling temperature at 1 and take these efforts (the union of the family).
_FIXED_TEMPERATURE = re.compile(r"^(gpt-5|o\d)", re.I)
_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def _refused_option(ctx: Ctx, model: str, temperature: Any, effort: Any) -> Response | None:
    """What OpenAI answers (passed through by the relay) for options a reasoning model does not take."""
    if _FIXED_TEMPERATURE.match(model) and temperature is not None and temperature != 1:
        return error_response(ctx, 400, f"Unsupported value: 'temperature' does not support {temperature} with "
                              "this model. Only the default (1) value is supported.", "unsupported_value",
                              "invalid_request_error")
    if effort is not None and str(effort) not in _EFFORTS:
        return error_response(ctx, 400, f"Invalid value: '{effort}'. Supported values are: "
                              + ", ".join(f"'{e}'" for e in _EFFORTS) + ".", "invalid_value",
                              "invalid_request_error")
    return None


# ----------------------------------------------------------------------------- request types

#: A field's JSON type as the relay's request struct declares it: "object", "array", "string", "integer"
#: (Go's int/uint: no fraction, no sign for uint), "boolean"; an object's listed fields are checked in turn
#: (``{"field": spec}``), a list's items (``["array", spec]``), and ``("or", a, b)`` takes either. ``null`` is
#: every type's zero value to Go's decoder, so it always passes.
Spec = str | dict[str, Any] | list[Any] | tuple[Any, ...]

_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number"}


def _fits(value: Any, spec: Spec) -> bool:
    if value is None:
        return True
    if isinstance(spec, tuple):
        return any(_fits(value, alt) for alt in spec[1:])
    if isinstance(spec, dict):
        return isinstance(value, dict)
    if isinstance(spec, list):
        return isinstance(value, list)
    if spec == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return isinstance(value, {"object": dict, "array": list, "string": str, "boolean": bool}[spec])


def _kind(spec: Spec) -> str:
    if isinstance(spec, tuple):
        return " or ".join(_kind(alt) for alt in spec[1:])
    if isinstance(spec, dict):
        return "an object"
    if isinstance(spec, list):
        return "an array"
    return _KIND_NAMES.get(spec, spec)


_KIND_NAMES = {"object": "an object", "array": "an array", "string": "a string", "boolean": "a boolean",
               "integer": "a whole number ≥ 0"}


def type_refusal(body: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """What the relay says of a body its request struct cannot hold (a number where the messages go, an object
    where a list of tools goes): its JSON decoder fails, which it answers 400 ``invalid_request`` (reference
    §10.5 ``bad_request_body``), or None when the listed fields fit."""
    return _refusal(body, spec, "")


def _refusal(value: Any, spec: Spec, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(spec, tuple):  # the first alternative of the value's kind decides
        spec = next((alt for alt in spec[1:] if _fits(value, alt)), spec)
    if not _fits(value, spec):
        return f"invalid request body: {path} must be {_kind(spec)}, not " \
               f"{_JSON_NAMES.get(type(value), type(value).__name__)}"
    if isinstance(spec, dict):
        for name, want in spec.items():
            said = _refusal(value.get(name), want, f"{path}.{name}" if path else name)
            if said is not None:
                return said
    elif isinstance(spec, list) and len(spec) > 1:
        plain = _string_fields(spec[1])
        for i, item in enumerate(value):
            # (a plain turn, {"role": "user", "content": "…"}, fits at a glance: a long thread is mostly those; the
            # loop is written out, as a generator per turn cost a 400-turn thread more than parsing it)
            if plain and type(item) is dict and item.keys() <= plain:
                for v in item.values():
                    if type(v) is not str:
                        break
                else:
                    continue
            said = _refusal(item, spec[1], f"{path}[{i}]")
            if said is not None:
                return said
    return None


_PLAIN: dict[int, frozenset[str]] = {}


def _string_fields(spec: Spec) -> frozenset[str]:
    """The fields of an object ``spec`` that take a string (so an item holding only strings in them fits)."""
    if not isinstance(spec, dict):
        return frozenset()
    known = _PLAIN.get(id(spec))
    if known is None:
        known = _PLAIN[id(spec)] = frozenset(k for k, want in spec.items() if _fits("", want))
    return known


_PART = {"type": "string", "text": "string"}
#: new-api's ``GeneralOpenAIRequest`` (the fields the simulator reads).
CHAT_TYPES: dict[str, Any] = {
    "messages": ["array", {"role": "string", "content": ("or", "string", ["array", _PART]),
                           "tool_calls": ["array", {"id": "string", "function": {"name": "string"}}]}],
    "tools": ["array", {"type": "string", "function": {"name": "string"}}],
    "response_format": {"type": "string"}, "stream_options": {}, "stream": "boolean",
    "max_tokens": "integer", "max_completion_tokens": "integer", "n": "integer",
}
#: new-api's ``ClaudeRequest``.
CLAUDE_TYPES: dict[str, Any] = {
    "messages": ["array", {"role": "string", "content": ("or", "string", ["array", _PART])}],
    "system": ("or", "string", ["array", _PART]), "tools": ["array", {"name": "string"}], "tool_choice": {},
    "thinking": {"type": "string"}, "stream": "boolean", "stop_sequences": ["array", "string"],
}
#: OpenAI's Responses request (new-api passes ``input`` on as it came).
RESPONSES_TYPES: dict[str, Any] = {
    "input": ("or", "string", ["array", {}]), "text": {"format": {"type": "string"}}, "reasoning": {"effort": "string"},
    "tools": ["array", {}],
    "stream": "boolean", "max_output_tokens": "integer", "instructions": "string",
}


def _refuse_types(ctx: Ctx, body: dict[str, Any], spec: dict[str, Any]) -> Response | None:
    said = type_refusal(body, spec)
    return None if said is None else error_response(ctx, 400, said, "invalid_request", "new_api_error")


# ----------------------------------------------------------------------------- /v1/chat/completions


def _cut_texts(texts: list[str], limit: int | None) -> tuple[list[str], bool]:
    """Tool calls' argument texts (JSON) under a token limit: they count as output, so where the limit falls the
    text stops mid-value and the calls after it are never begun (finish ``length`` / ``max_output_tokens`` /
    ``max_tokens``). Returns the texts that were sent and whether the limit cut them."""
    if not texts or not isinstance(limit, int) or limit < 1:
        return texts, False
    left, out = limit, list[str]()
    for text in texts:
        if left <= 0:  # (the limit fell right after the last call)
            return out, True
        kept, cut = _structured.within(text, left)
        out.append(kept)
        if cut:
            return out, True
        left -= count_tokens(kept)
    return out, False


def _no_json(arguments: str) -> str:
    """Arguments a model wrote wrong (``Faults.bad_tool_arguments``): the JSON text stopping mid-value."""
    return arguments[:max(1, len(arguments) // 2)] if len(arguments) > 2 else "{"


def _cut_arguments(calls: list[dict[str, Any]] | None, limit: int | None) -> bool:
    """A chat choice's tool calls under its token limit (``_cut_texts``), cut in place; whether they were."""
    if not calls:
        return False
    kept, cut = _cut_texts([c["function"]["arguments"] for c in calls], limit)
    del calls[len(kept):]
    for c, text in zip(calls, kept, strict=False):
        c["function"]["arguments"] = text
    return cut


#: The function names OpenAI's protocols and Claude's take ('.' and ':' are Gemini's only): past it, a 400.
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _bad_tool_name(ctx: Ctx, model: str, named: list[tuple[str, Any]], claude: bool) -> Response | None:
    """The 400 OpenAI and Claude give to a function name outside their pattern, in a tool or in an earlier turn's
    call (``named``: (where, name) pairs). A Gemini model called on chat completions is Gemini's to judge."""
    if not claude and model.lower().startswith("gemini"):
        return None
    for where, name in named:
        if isinstance(name, str) and not _TOOL_NAME.fullmatch(name):
            if claude:
                return error_response(ctx, 400, f"{where}: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'",
                                      "invalid_request_error")
            return error_response(ctx, 400, f"Invalid '{where}': string does not match pattern. Expected a string "
                                  "that matches the pattern '^[a-zA-Z0-9_-]+$'.", "invalid_value",
                                  "invalid_request_error")
    return None


def _openai_names(body: dict[str, Any], turns: str) -> list[tuple[str, Any]]:
    """(where, name) of each function name a chat or Responses body carries: its tools and earlier turns' calls."""
    out: list[tuple[str, Any]] = []
    for i, t in enumerate(body.get("tools") or []):
        fn = obj(obj(t).get("function")) or obj(t)
        out.append((f"tools[{i}].function.name" if turns == "messages" else f"tools[{i}].name", fn.get("name")))
    items = body.get(turns)
    for i, m in enumerate(items if isinstance(items, list) else []):
        if type(m) is dict and "tool_calls" not in m and "type" not in m:
            continue  # (a plain turn names no function: most of a long thread)
        m = obj(m)
        for j, c in enumerate(m.get("tool_calls") or [] if isinstance(m.get("tool_calls"), list) else []):
            out.append((f"messages[{i}].tool_calls[{j}].function.name", obj(obj(c).get("function")).get("name")))
        if m.get("type") == "function_call":
            out.append((f"input[{i}].name", m.get("name")))
    return out


def _openai_tools(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str, str | None]:
    """Function tools as ``{name, parameters}``, the choice mode (auto | required | none) and a forced name."""
    tools = []
    for t in body.get("tools") or []:
        fn = obj(obj(t).get("function")) or obj(t)  # chat: {"type","function":{…}}; responses: flat
        if fn.get("name"):
            tools.append({"name": str(fn["name"]), "parameters": fn.get("parameters")})
    choice = body.get("tool_choice", "auto")
    if isinstance(choice, dict):
        name = obj(choice.get("function")).get("name") or choice.get("name")
        return tools, "required", str(name) if name else None
    return tools, str(choice or "auto"), None


def _format_schema(fmt: dict[str, Any]) -> tuple[bool, Any]:
    """(JSON wanted, schema or None) from a chat ``response_format`` or a Responses ``text.format``."""
    kind = fmt.get("type")
    if kind == "json_object":
        return True, None
    if kind == "json_schema":
        inner = obj(fmt.get("json_schema")) or fmt
        return True, inner.get("schema") or {}
    return False, None


#: The shortest prefix that is cached (OpenAI's prompt caching starts at 1024 tokens).
CACHE_MIN_TOKENS = 1024


def _cached_tokens(ctx: Ctx, model: str, items: Any, prompt_tokens: int, tools: Any = None, lead: int = 0,
                   whole: int | None = None) -> int:
    """Prompt caching: the tokens of the longest prefix of ``items`` this key sent to ``model`` lately, with the same
    tool definitions in front (``lead`` tokens of them; reported as ``cached_tokens``, part of the input, billed at
    the row's ``cache_ratio``); 0 under 1024 tokens. ``whole``: ``all_text_tokens(items)`` when known already."""
    if not isinstance(items, list) or not items:
        return 0
    head = [{"tools": tools}] if lead else []  # (other tools, another prefix: nothing of it is cached)
    known = ctx.state.cached_items(ctx.token, model, head + items) - len(head)
    if known <= 0:
        tokens = 0
    else:
        tokens = lead + (whole if whole is not None and known == len(items) else all_text_tokens(items[:known]))
    return min(tokens, prompt_tokens) if tokens >= CACHE_MIN_TOKENS else 0


def _call_id(ctx: Ctx, i: int) -> str:
    return f"call_{ctx.request_id[-12:]}{i}"


async def chat_completions(ctx: Ctx, body: dict[str, Any]) -> Response:
    refused = _refuse_types(ctx, body, CHAT_TYPES)
    if refused is not None:
        return refused
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error_response(ctx, 400, "field messages is required", "invalid_request", "invalid_request_error")
    model = str(body["model"])
    refused = _refused_option(ctx, model, body.get("temperature"), body.get("reasoning_effort"))
    if refused is not None:
        return refused
    prompt, images = prompt_of_messages(messages)
    seed, conversation = _seed_and_tokens(body, "messages")
    limit = _max_tokens(body.get("max_completion_tokens"), body.get("max_tokens"))
    n_raw = body.get("n")
    n = n_raw if isinstance(n_raw, int) and 0 < n_raw <= 8 else 1
    tools, mode, forced = _openai_tools(body)
    bad = _bad_tool_name(ctx, model, _openai_names(body, "messages"), claude=False)
    if bad is not None:
        return bad
    if forced and not any(t["name"] == forced for t in tools):
        return error_response(ctx, 400, f"Invalid tool_choice: no function named '{forced}' in tools.",
                              "invalid_value", "invalid_request_error")
    trailing = []
    for m in reversed(messages):
        if not (isinstance(m, dict) and m.get("role") == "tool"):
            break
        trailing.append(str(m.get("content") or ""))
    chosen = _structured.choose_tools(tools, mode, forced, prompt, bool(trailing),
                                      body.get("parallel_tool_calls") is not False)
    want_json, schema = _format_schema(obj(body.get("response_format")))
    seen = f"I can see {images} image{'s' if images != 1 else ''}. " if images else ""
    replies: list[tuple[str, bool]] = []
    for i in range(n):
        if trailing:
            replies.append((_structured.results_reply(list(reversed(trailing))), False))
        elif want_json:
            replies.append(_structured.within(_structured.json_text(schema, seed + i, prompt), limit))
        else:
            replies.append(compose_reply(model, seen + prompt, seed + i, limit, ctx.faults.answer))
    if ctx.faults.echo_key:  # a hostile or careless relay quoting the caller's key back
        replies = [(f"Your key is {ctx.key}. {t}", cut) for t, cut in replies]
    calls: list[list[dict[str, Any]] | None] = [
        [{"id": _call_id(ctx, i) + (f"_{j}" if j else ""), "type": "function", "function": {
            "name": t["name"],
            "arguments": json.dumps(_structured.tool_arguments(t, seed + i + 31 * j, prompt), ensure_ascii=False)}}
         for j, t in enumerate(chosen)] or None for i in range(n)]
    calls_cut = [_cut_arguments(c, limit) for c in calls]
    if ctx.faults.bad_tool_arguments:
        for call in calls:
            if call:
                call[-1]["function"]["arguments"] = _no_json(call[-1]["function"]["arguments"])
    arguments = ["".join(c["function"]["arguments"] for c in call or []) for call in calls]  # (what is counted)
    reasoning = compose_reasoning(prompt, seed) if _wants_reasoning(body.get("reasoning_effort")) else None
    lead = tool_tokens(body.get("tools"))  # (the tools go first, as a prefix of the prompt)
    prompt_tokens = lead + conversation + 85 * images
    cached = _cached_tokens(ctx, model, messages, prompt_tokens, body.get("tools"), lead, conversation)
    reasoning_tokens = count_tokens(reasoning or "")
    completion = sum(count_tokens(arguments[i] or t) for i, (t, _) in enumerate(replies)) + reasoning_tokens
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "text_tokens": prompt_tokens - 85 * images,
                                  "audio_tokens": 0, "image_tokens": 85 * images},
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }
    cid = f"chatcmpl-{ctx.request_id}"
    created = int(time.time())

    def finish_of(i: int) -> str:
        return ("length" if calls_cut[i] else "tool_calls") if calls[i] else ("length" if replies[i][1] else "stop")

    if not body.get("stream"):
        choices = []
        for i, (text, _cut) in enumerate(replies):
            message: dict[str, Any] = {"role": "assistant", "content": None if calls[i] else text,
                                       "refusal": None}
            if calls[i]:
                message["tool_calls"] = calls[i]
            if reasoning:
                message["reasoning_content"] = reasoning
            choices.append({"index": i, "message": message, "logprobs": None, "finish_reason": finish_of(i)})
        return json_out(ctx, {"id": cid, "object": "chat.completion", "created": created, "model": model,
                              "system_fingerprint": None, "choices": choices, "usage": usage})

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> Frame:
        return None, {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                      "system_fingerprint": None,
                      "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def choice_frames(i: int) -> list[Frame]:
        out = [chunk({"role": "assistant", "content": None if calls[i] else ""}, index=i)]
        if reasoning and i == 0:
            out += [chunk({"reasoning_content": piece}) for piece in split_chunks(reasoning, None, seed + 7)]
        call = calls[i]
        if call:
            for j, c in enumerate(call):
                out.append(chunk({"tool_calls": [{"index": j, "id": c["id"], "type": "function",
                                                  "function": {"name": c["function"]["name"], "arguments": ""}}]},
                                 index=i))
                out += [chunk({"tool_calls": [{"index": j, "function": {"arguments": piece}}]}, index=i)
                        for piece in split_chunks(c["function"]["arguments"], None, seed + i + 31 * j)]
        else:
            out += [chunk({"content": piece}, index=i)
                    for piece in split_chunks(replies[i][0], ctx.faults.stream_chunks, seed + i)]
        out.append(chunk({}, finish_of(i), index=i))
        return out

    def frames() -> Iterator[Frame]:
        per_choice = [choice_frames(i) for i in range(n)]
        for step in range(max(len(f) for f in per_choice)):  # choices interleave, as the service streams them
            for f in per_choice:
                if step < len(f):
                    yield f[step]
        if include_usage:
            yield None, {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                         "system_fingerprint": None, "choices": [], "usage": usage}
        yield None, "[DONE]"

    def failure(_sent: int) -> list[Frame]:  # a relay error as a data frame (§7), the §1.4 envelope
        return [(None, {"error": {"message": with_rid(STREAM_FAILURE, ctx.request_id), "type": "upstream_error",
                                  "param": "", "code": ""}})]

    out = SSEResponse(frames(), ctx.faults, error=failure)
    out.billed_usage = lambda seen: chat_billed_usage(seen, prompt_tokens)
    return out


# ----------------------------------------------------------------------------- /v1/responses


def _responses_prompt(body: dict[str, Any]) -> tuple[str, int]:
    inp = body.get("input")
    if isinstance(inp, str):
        return inp, 0
    if isinstance(inp, list):
        return prompt_of_messages(inp)
    return "", 0


async def responses(ctx: Ctx, body: dict[str, Any]) -> Response:
    refused_type = _refuse_types(ctx, body, RESPONSES_TYPES)
    if refused_type is not None:
        return refused_type
    if "input" not in body:
        return error_response(ctx, 400, "field input is required", "invalid_request", "invalid_request_error")
    model = str(body["model"])
    refused = _refused_option(ctx, model, body.get("temperature"), obj(body.get("reasoning")).get("effort"))
    if refused is not None:
        return refused
    prompt, images = _responses_prompt(body)
    seed, conversation = _seed_and_tokens(body, "input")
    limit = _max_tokens(body.get("max_output_tokens"))
    tools, mode, forced = _openai_tools(body)
    bad = _bad_tool_name(ctx, model, _openai_names(body, "input"), claude=False)
    if bad is not None:
        return bad
    inp = body.get("input")
    trailing = []
    for item in reversed(inp if isinstance(inp, list) else []):
        if not (isinstance(item, dict) and item.get("type") == "function_call_output"):
            break
        trailing.append(str(item.get("output") or ""))
    chosen = _structured.choose_tools(tools, mode, forced, prompt, bool(trailing),
                                      body.get("parallel_tool_calls") is not False)
    want_json, schema = _format_schema(obj(obj(body.get("text")).get("format")))
    if trailing:
        text, cut = _structured.results_reply(list(reversed(trailing))), False
    elif want_json:
        text, cut = _structured.within(_structured.json_text(schema, seed, prompt), limit)
    else:
        text, cut = compose_reply(model, prompt, seed, limit, ctx.faults.answer)
    call_items = [{"id": f"fc_{ctx.request_id}{f'_{j}' if j else ''}", "type": "function_call",
                   "status": "completed", "call_id": _call_id(ctx, 0) + (f"_{j}" if j else ""), "name": t["name"],
                   "arguments": json.dumps(_structured.tool_arguments(t, seed + 31 * j, prompt), ensure_ascii=False)}
                  for j, t in enumerate(chosen)]
    if call_items:
        text = ""
        sent, cut = _cut_texts([c["arguments"] for c in call_items], limit)
        call_items = [{**c, "arguments": a} for c, a in zip(call_items, sent, strict=False)]
        if cut:
            call_items[-1]["status"] = "incomplete"
        elif ctx.faults.bad_tool_arguments:
            call_items[-1]["arguments"] = _no_json(call_items[-1]["arguments"])
    reasoning_cfg = obj(body.get("reasoning"))
    want = _wants_reasoning(reasoning_cfg.get("effort")) or bool(reasoning_cfg.get("summary"))
    reasoning = compose_reasoning(prompt, seed) if want else None
    lead = tool_tokens(body.get("tools"))
    input_tokens = lead + conversation + count_tokens(str(body.get("instructions") or "")) + 85 * images
    r_tokens = count_tokens(reasoning or "")
    out_tokens = count_tokens(text) + r_tokens
    cached = _cached_tokens(ctx, model, body.get("input"), input_tokens, body.get("tools"), lead, conversation)
    usage = {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": cached},
             "output_tokens": out_tokens, "output_tokens_details": {"reasoning_tokens": r_tokens},
             "total_tokens": input_tokens + out_tokens}
    rid = f"resp_{ctx.request_id}"
    msg_id, rs_id = f"msg_{ctx.request_id}", f"rs_{ctx.request_id}"
    created = int(time.time())
    message_item = {"id": msg_id, "type": "message", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}
    reasoning_item = {"id": rs_id, "type": "reasoning",
                      "summary": [{"type": "summary_text", "text": reasoning}] if reasoning else []}
    output = ([reasoning_item] if reasoning else []) + (call_items or [message_item])
    if call_items:
        out_tokens += sum(count_tokens(c["arguments"]) for c in call_items)
        usage["output_tokens"], usage["total_tokens"] = out_tokens, input_tokens + out_tokens

    def response_obj(status: str, out: list[dict[str, Any]], with_usage: bool) -> dict[str, Any]:
        return {
            "id": rid, "object": "response", "created_at": created, "status": status,
            "background": False, "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if (cut and status == "incomplete") else None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "model": model, "output": out, "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": reasoning_cfg.get("effort"), "summary": reasoning_cfg.get("summary")},
            "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}}, "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [], "top_p": body.get("top_p", 1.0), "truncation": "disabled",
            "usage": usage if with_usage else None, "user": None, "metadata": body.get("metadata") or {},
        }

    def failed_obj(out: list[dict[str, Any]], with_usage: bool) -> dict[str, Any]:
        """A failed response (OpenAI's ``error`` object: a code and a message, no type): with ``with_usage``, what it
        consumed before failing, which is billed."""
        return {**response_obj("failed", out, with_usage),
                "error": {"code": "server_error", "message": with_rid(STREAM_FAILURE, ctx.request_id)}}

    final_status = "incomplete" if cut else "completed"
    if not body.get("stream"):
        if ctx.faults.responses_failed:
            return json_out(ctx, failed_obj(output, True))
        return json_out(ctx, response_obj(final_status, output, True))

    def frames() -> Iterator[Frame]:
        seq = 0

        def ev(kind: str, **fields: Any) -> Frame:
            nonlocal seq
            data = {"type": kind, "sequence_number": seq, **fields}
            seq += 1
            return kind, data

        yield ev("response.created", response=response_obj("in_progress", [], False))
        yield ev("response.in_progress", response=response_obj("in_progress", [], False))
        idx = 0
        if reasoning:
            yield ev("response.output_item.added", output_index=0, item={**reasoning_item, "summary": []})
            part = {"type": "summary_text", "text": ""}
            yield ev("response.reasoning_summary_part.added", item_id=rs_id, output_index=0, summary_index=0,
                     part=part)
            for piece in split_chunks(reasoning, None, seed + 7):
                yield ev("response.reasoning_summary_text.delta", item_id=rs_id, output_index=0,
                         summary_index=0, delta=piece)
            yield ev("response.reasoning_summary_text.done", item_id=rs_id, output_index=0, summary_index=0,
                     text=reasoning)
            yield ev("response.reasoning_summary_part.done", item_id=rs_id, output_index=0, summary_index=0,
                     part={"type": "summary_text", "text": reasoning})
            yield ev("response.output_item.done", output_index=0, item=reasoning_item)
            idx = 1
        if call_items:
            for j, call_item in enumerate(call_items):
                yield ev("response.output_item.added", output_index=idx + j,
                         item={**call_item, "status": "in_progress", "arguments": ""})
                for piece in split_chunks(call_item["arguments"], None, seed + 31 * j):
                    yield ev("response.function_call_arguments.delta", item_id=call_item["id"],
                             output_index=idx + j, delta=piece)
                yield ev("response.function_call_arguments.done", item_id=call_item["id"], output_index=idx + j,
                         arguments=call_item["arguments"])
                yield ev("response.output_item.done", output_index=idx + j, item=call_item)
            if ctx.faults.responses_failed:
                yield ev("response.failed", response=failed_obj(output, True))
            else:
                yield ev(f"response.{final_status}", response=response_obj(final_status, output, True))
            return
        yield ev("response.output_item.added", output_index=idx,
                 item={**message_item, "status": "in_progress", "content": []})
        yield ev("response.content_part.added", item_id=msg_id, output_index=idx, content_index=0,
                 part={"type": "output_text", "text": "", "annotations": [], "logprobs": []})
        for piece in split_chunks(text, ctx.faults.stream_chunks, seed):
            yield ev("response.output_text.delta", item_id=msg_id, output_index=idx, content_index=0,
                     delta=piece, logprobs=[])
        yield ev("response.output_text.done", item_id=msg_id, output_index=idx, content_index=0, text=text,
                 logprobs=[])
        yield ev("response.content_part.done", item_id=msg_id, output_index=idx, content_index=0,
                 part=message_item["content"][0])
        yield ev("response.output_item.done", output_index=idx, item=message_item)
        if ctx.faults.responses_failed:
            yield ev("response.failed", response=failed_obj(output, True))
            return
        terminal = "response.incomplete" if cut else "response.completed"
        yield ev(terminal, response=response_obj(final_status, output, True))

    def failure(sent: int) -> list[Frame]:  # the Responses API's terminal failure event (§7)
        return [("response.failed", {"type": "response.failed", "sequence_number": sent,
                                     "response": failed_obj([], False)})]

    out = SSEResponse(frames(), ctx.faults, error=failure)
    out.billed_usage = lambda seen: responses_billed_usage(seen, input_tokens)
    return out


# ----------------------------------------------------------------------------- /v1/messages (Claude)


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return " ".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
    return ""


#: Anthropic's prompt-cache lifetimes (``cache_control.ttl``; "5m" when it names none), in seconds.
CACHE_TTLS = {"5m": 300.0, "1h": 3600.0}
#: How many content blocks before a breakpoint Anthropic also looks for a cached prefix ending there ("about 20"):
#: a conversation that marks its last message each turn reads back what the turn before wrote.
CACHE_LOOKBACK = 20


def _without_marks(value: Any) -> Any:
    """``value`` without its ``cache_control`` marks: where the breakpoints sit is not part of the cached text."""
    if isinstance(value, dict):
        return {k: _without_marks(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_without_marks(v) for v in value]
    return value


def _blocks(content: Any) -> Any:
    """A string content as the one text block it stands for (Anthropic reads them alike)."""
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def plain_turns(msgs: Any) -> Any:
    """Messages as Anthropic reads them for tokens and for its cache: without the ``cache_control`` marks, and a
    content of one plain text block as the string it stands for (a client marks the last message as a block one
    turn and sends it as a string the next: the same text, the same tokens, the same cached prefix)."""
    if not isinstance(msgs, list):
        return msgs
    out = []
    for m in msgs:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            content = _without_marks(m["content"])
            one = content[0] if len(content) == 1 and isinstance(content[0], dict) else None
            if one is not None and set(one) == {"type", "text"} and one["type"] == "text":
                content = one["text"]
            m = {**m, "content": content}
        out.append(m)
    return out


def _digest(model: str, prefix: dict[str, Any]) -> str:
    """What identifies a cached prefix: its text and blocks as Anthropic reads them (:func:`plain_turns`)."""
    same = dict(prefix)
    if "system" in same:
        same["system"] = _blocks(same["system"])
    if isinstance(same.get("messages"), list):
        same["messages"] = plain_turns(same["messages"])
    return hashlib.sha256(json.dumps([model, _without_marks(same)], sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()[:32]


def _last_block(head: list[Any]) -> Any:
    """The content block a prefix of messages ends with (a string content: the message itself, unmarked)."""
    content = head[-1].get("content") if head and isinstance(head[-1], dict) else None
    return content[-1] if isinstance(content, list) and content else None


def _claude_cache(ctx: Ctx, model: str, body: dict[str, Any], msgs: list[Any],
                  total: int) -> tuple[int, int, int] | None:
    """Claude's prompt caching, from Anthropic's wire format: ``(read, written for 5 minutes, written for 1 hour)``,
    None when the request marks no breakpoint.

    A block of ``tools``, ``system`` or a message's content carrying ``cache_control`` (``{"type": "ephemeral",
    "ttl": "5m" | "1h"}``) ends a cacheable prefix (tools, then system, then messages). The longest such prefix
    this key sent ``model`` within its TTL is read (``cache_read_input_tokens``); the rest up to the last
    breakpoint is written (``cache_creation_input_tokens``, each stretch at its own breakpoint's TTL in
    ``cache_creation``). A prompt under :data:`CACHE_MIN_TOKENS` up to its last breakpoint is not cached. The
    tools count their tokens here as in ``input_tokens`` (:func:`~._common.tool_tokens`)."""
    raw_tools = body.get("tools")
    tools: list[Any] = raw_tools if isinstance(raw_tools, list) else []
    system = body.get("system")
    blocks: list[Any] = system if isinstance(system, list) else []
    marks: list[tuple[Any, int, str]] = []  # (the prefix, its tokens, its TTL)

    def mark(block: Any) -> str | None:
        cc = block.get("cache_control") if isinstance(block, dict) else None
        return (str(cc.get("ttl")) if cc.get("ttl") in CACHE_TTLS else "5m") if isinstance(cc, dict) else None

    for i, tool in enumerate(tools):
        if (ttl := mark(tool)) is not None:
            marks.append(({"tools": tools[:i + 1]}, tool_tokens(_without_marks(tools[:i + 1])), ttl))
    lead = tool_tokens(_without_marks(tools))
    for i, block in enumerate(blocks):
        if (ttl := mark(block)) is not None:
            marks.append(({"tools": tools, "system": blocks[:i + 1]},
                          lead + count_tokens(_system_text(blocks[:i + 1])), ttl))
    system_tokens = lead + count_tokens(_system_text(system))
    msgs = [{**m, "content": _blocks(m.get("content"))} if isinstance(m, dict) else m for m in msgs]
    ends: list[list[Any]] = []  # the messages up to each content block's end, in order (a string is one block)
    for i, m in enumerate(msgs):
        raw = m.get("content") if isinstance(m, dict) else None
        content: list[Any] = raw if isinstance(raw, list) else []
        for j, block in enumerate(content):
            head = [*msgs[:i], {**m, "content": content[:j + 1]}]
            ends.append(head)
            if (ttl := mark(block)) is not None:
                marks.append(({"tools": tools, "system": system, "messages": head},
                              system_tokens + all_text_tokens(plain_turns(head)), ttl))
    if not marks:
        return None
    last = next((len(ends) - k for k, head in enumerate(reversed(ends)) if mark(_last_block(head)) is not None),
                0)
    looked = [{"tools": tools, "system": system, "messages": head}
              for head in ends[max(0, last - 1 - CACHE_LOOKBACK):last - 1] if mark(_last_block(head)) is None]
    sizes: list[int] = []
    for _, tokens, _ in marks:  # (each prefix holds the one before it)
        sizes.append(min(total, max(tokens, sizes[-1] if sizes else 0)))
    if sizes[-1] < CACHE_MIN_TOKENS:
        return 0, 0, 0
    digests = [(_digest(model, prefix), CACHE_TTLS[ttl]) for prefix, _, ttl in marks]
    alive = ctx.state.prefixes_alive(ctx.token, model, [_digest(model, prefix) for prefix in looked])
    longest = next((prefix for prefix, ok in zip(reversed(looked), reversed(alive), strict=True) if ok), None)
    back = 0 if longest is None else min(total, system_tokens + all_text_tokens(plain_turns(longest["messages"])))
    hit = ctx.state.cached_prefixes(ctx.token, model, digests)
    read = sizes[hit - 1] if hit and sizes[hit - 1] >= CACHE_MIN_TOKENS else 0
    if back > read and back >= CACHE_MIN_TOKENS:  # a prefix an earlier request cached, found looking back
        read, hit = back, sum(1 for size in sizes if size <= back)
    written = {"5m": 0, "1h": 0}
    before = read
    for size, (_, _, ttl) in list(zip(sizes, marks, strict=True))[hit if read else 0:]:
        written[ttl] += max(0, size - before)
        before = max(before, size)
    return read, written["5m"], written["1h"]


def _thinking_refused(ctx: Ctx, body: dict[str, Any], max_tokens: int) -> Response | None:
    """Anthropic's rules for a body with thinking on (its extended-thinking docs; the reference is silent): a
    budget of at least 1024 and under ``max_tokens`` (past it only with the interleaved-thinking beta), sampling
    left alone (``temperature`` 1 at most, no ``top_k``, ``top_p`` from 0.95) and no forced tool. The relay
    passes the vendor's 400 on, uncharged."""
    thinking = obj(body.get("thinking"))
    if thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
        return error_response(ctx, 400, "thinking.enabled.budget_tokens: Input should be greater than or equal "
                              "to 1024", "invalid_request_error")
    beta = ctx.request.headers.get("anthropic-beta", "")
    if budget >= max_tokens and "interleaved-thinking" not in beta:
        return error_response(ctx, 400, "`max_tokens` must be greater than `thinking.budget_tokens`",
                              "invalid_request_error")
    temperature, top_p = body.get("temperature"), body.get("top_p")
    if temperature is not None and temperature != 1:
        return error_response(ctx, 400, "`temperature` may only be set to 1 when thinking is enabled",
                              "invalid_request_error")
    if body.get("top_k") is not None:
        return error_response(ctx, 400, "`top_k` is not supported when thinking is enabled", "invalid_request_error")
    if isinstance(top_p, (int, float)) and not isinstance(top_p, bool) and top_p < 0.95:
        return error_response(ctx, 400, "`top_p` must be greater than or equal to 0.95 or unset when thinking is "
                              "enabled", "invalid_request_error")
    if obj(body.get("tool_choice")).get("type") in ("any", "tool"):
        return error_response(ctx, 400, "Thinking may not be enabled when `tool_choice` forces tool use.",
                              "invalid_request_error")
    return None


async def messages(ctx: Ctx, body: dict[str, Any]) -> Response:
    refused = _refuse_types(ctx, body, CLAUDE_TYPES)
    if refused is not None:
        return refused
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return error_response(ctx, 400, "messages: field required", "invalid_request_error")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        return error_response(ctx, 400, "max_tokens: field required", "invalid_request_error")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return error_response(ctx, 400, f"max_tokens: Input should be a whole number of at least 1 (got "
                              f"{json.dumps(max_tokens)[:40]})", "invalid_request_error")
    refused = _thinking_refused(ctx, body, max_tokens)
    if refused is not None:
        return refused
    for m in msgs:  # §2.3: the turns are user/assistant; the system prompt is the top-level `system`
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant"):
            return error_response(ctx, 400, f"messages: Unexpected role {json.dumps(role)[:40]}. The Messages "
                                  "API accepts a top-level `system` parameter, and only \"user\" and "
                                  "\"assistant\" turns in messages.", "invalid_request_error")
    model = str(body["model"])
    prompt, images = prompt_of_messages(msgs)
    seed = _content_seed(body)
    tools = [{"name": str(t["name"]), "parameters": t.get("input_schema")}
             for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    bad = _bad_tool_name(ctx, model, [(f"tools.{i}.custom.name", obj(t).get("name"))
                                      for i, t in enumerate(body.get("tools") or [])]
                         + [(f"messages.{i}.content.{j}.tool_use.name", b.get("name"))
                            for i, m in enumerate(msgs) if isinstance(m, dict) and isinstance(m.get("content"), list)
                            for j, b in enumerate(m["content"]) if isinstance(b, dict) and b.get("type") == "tool_use"],
                         claude=True)
    if bad is not None:
        return bad
    choice = obj(body.get("tool_choice")) or {"type": "auto"}
    mode = {"any": "required", "tool": "required"}.get(str(choice.get("type")), str(choice.get("type")))
    forced = str(choice["name"]) if choice.get("type") == "tool" and choice.get("name") else None
    if forced and not any(t["name"] == forced for t in tools):
        return error_response(ctx, 400, f"tool_choice: tool '{forced}' not found in tools", "invalid_request_error")
    last = msgs[-1] if isinstance(msgs[-1], dict) else {}
    results = [b for b in last.get("content") or [] if isinstance(b, dict) and b.get("type") == "tool_result"] \
        if last.get("role") == "user" and isinstance(last.get("content"), list) else []
    chosen = _structured.choose_tools(tools, mode, forced, prompt, bool(results),
                                      not choice.get("disable_parallel_tool_use"))
    tool = chosen[0] if chosen else None
    if results:
        text, cut = _structured.results_reply([_system_text(r.get("content")) or str(r.get("content") or "")
                                               for r in results]), False
    else:
        text, cut = compose_reply(model, prompt, seed, max_tokens, ctx.faults.answer)
    thinking_cfg = obj(body.get("thinking"))
    thinking = compose_reasoning(prompt, seed) if thinking_cfg.get("type") in ("enabled", "adaptive") else None
    signature = f"sim-sig-{seed % 10**12:012d}"
    prompt_tokens = tool_tokens(_without_marks(body.get("tools"))) + all_text_tokens(plain_turns(msgs)) \
        + count_tokens(_system_text(body.get("system"))) + 85 * images
    cache = _claude_cache(ctx, model, body, msgs, prompt_tokens)
    read, five, hour = cache or (0, 0, 0)
    input_tokens = prompt_tokens - read - five - hour  # (Anthropic's input_tokens leaves the cache's parts out)
    output_tokens = count_tokens(text) + count_tokens(thinking or "")
    usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens,
                             "cache_creation_input_tokens": five + hour, "cache_read_input_tokens": read}
    if cache is not None:  # the writes split by TTL (§2.3's recorded answer, with no breakpoint, has the 4 counts)
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour}
    mid = f"msg_{ctx.request_id}"
    stop = "tool_use" if tool is not None else ("max_tokens" if cut else "end_turn")
    tool_blocks = [{"type": "tool_use", "id": f"toolu_{ctx.request_id[-16:]}{j or ''}", "name": t["name"],
                    "input": _structured.tool_arguments(t, seed + 31 * j, prompt)} for j, t in enumerate(chosen)]
    if tool_blocks:
        text = "" if forced else f"I will call {', '.join(b['name'] for b in tool_blocks)}."
        output_tokens = count_tokens(text) + sum(count_tokens(json.dumps(b["input"])) for b in tool_blocks) \
            + count_tokens(thinking or "")
        usage["output_tokens"] = output_tokens
    blocks: list[dict[str, Any]] = []
    if thinking:
        blocks.append({"type": "thinking", "thinking": thinking, "signature": signature})
    if text or not tool_blocks:
        blocks.append({"type": "text", "text": text})
    blocks += tool_blocks
    if not body.get("stream"):
        return json_out(ctx, {"id": mid, "type": "message", "role": "assistant", "model": model,
                              "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage})

    # a stream sends each call's input as JSON text, which the limit cuts mid-value as it cuts text (max_tokens)
    room = max_tokens - count_tokens(text) - count_tokens(thinking or "")
    sent, inputs_cut = _cut_texts([json.dumps(b["input"], ensure_ascii=False) for b in tool_blocks], room) \
        if room > 0 else ([], bool(tool_blocks))
    if inputs_cut:
        stop, usage["output_tokens"] = "max_tokens", max_tokens
        output_tokens = max_tokens
    elif sent and ctx.faults.bad_tool_arguments:  # (a whole answer's input is an object: only a stream can slip)
        sent[-1] = _no_json(sent[-1])

    def frames() -> Iterator[Frame]:
        start_usage = {**usage, "output_tokens": 1}
        yield "message_start", {"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": start_usage}}
        yield "ping", {"type": "ping"}
        index = 0
        if thinking:
            yield "content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
            for piece in split_chunks(thinking, None, seed + 7):
                yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "thinking_delta", "thinking": piece}}
            yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "signature_delta", "signature": signature}}
            yield "content_block_stop", {"type": "content_block_stop", "index": 0}
            index = 1
        if text or not tool_blocks:
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            for piece in split_chunks(text, ctx.faults.stream_chunks, seed):
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "text_delta", "text": piece}}
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
            index += 1
        for j, (block, streamed) in enumerate(zip(tool_blocks, sent, strict=False)):
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {**block, "input": {}}}
            for piece in split_chunks(streamed, None, seed + 31 * j):
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "input_json_delta", "partial_json": piece}}
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
            index += 1
        yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": output_tokens}}
        yield "message_stop", {"type": "message_stop"}

    def failure(_sent: int) -> list[Frame]:  # Anthropic's mid-stream error event
        return [("error", {"type": "error", "error": {"type": "overloaded_error",
                                                      "message": with_rid(STREAM_FAILURE, ctx.request_id)}})]

    return SSEResponse(frames(), ctx.faults, ping_every=8, error=failure)
