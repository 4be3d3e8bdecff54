"""The simulator's price table, site status and billing: ``/api/pricing``, ``/api/status``, the balance.

Shapes follow new-api as Tokenhot serves them (reference §10.1, §10.6): a per-token row prices 1M input tokens
at ``model_ratio × 2`` USD (output × ``completion_ratio``), a per-call row costs ``model_price`` USD, and
``quota_per_unit`` quota make one USD. Every simulated call is charged against a balance, so the billing
endpoints show spending go up like the real service's do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from ._common import Ctx, SSEResponse, count_tokens

QUOTA_PER_UNIT = 500_000  #: quota per USD (Tokenhot's value)
TOPUP_PRICE = 7.0  #: the site's display currency per USD (¥7)
START_BALANCE_USD = 20.0  #: what a fresh simulator's key may spend
VIDEO_RATIO = 37.5  #: new-api's default ratio, carried by dynamically priced (per-task) video rows

# Endpoint types, modalities and tags as Tokenhot writes them.
_CHAT_TAGS = "结构化输出,函数调用,工具调用"
_TEXT, _IMAGE, _VIDEO, _AUDIO = "文本", "图像", "视频", "音频"

_VENDORS = [
    {"id": 1, "name": "OpenAI"}, {"id": 2, "name": "Anthropic"}, {"id": 3, "name": "Google"},
    {"id": 4, "name": "xAI"}, {"id": 5, "name": "ByteDance"}, {"id": 6, "name": "Alibaba"},
    {"id": 7, "name": "MiniMax"}, {"id": 8, "name": "DeepSeek"}, {"id": 9, "name": "Kuaishou"},
    {"id": 10, "name": "Xiaomi"}, {"id": 11, "name": "Jina"},
]

_SUPPORTED_ENDPOINT = {
    "openai": {"path": "/v1/chat/completions", "method": "POST"},
    "openai-response": {"path": "/v1/responses", "method": "POST"},
    "anthropic": {"path": "/v1/messages", "method": "POST"},
    "gemini": {"path": "/v1beta/models/{model}:generateContent", "method": "POST"},
    "image-generation": {"path": "/v1/images/generations", "method": "POST"},
    "openai-video": {"path": "/v1/video/generations", "method": "POST"},
    "embeddings": {"path": "/v1/embeddings", "method": "POST"},
    "jina-rerank": {"path": "/v1/rerank", "method": "POST"},
}


def _tok(name: str, vendor: int, usd_in: float, usd_out: float, types: list[str], *, inputs: tuple[str, ...] =
         (_TEXT,), outputs: tuple[str, ...] = (_TEXT,), tags: str = _CHAT_TAGS, context: int = 0,
         cache_ratio: float = 0.1, create_cache_ratio: float | None = None,
         groups: tuple[str, ...] = ("default", "vip")) -> dict[str, Any]:
    """A per-token row from USD per 1M input / output tokens. ``create_cache_ratio`` is shown only when given, as
    new-api shows it only for models with an entry (its defaults list 1.25 for every Claude model)."""
    return {
        "model_name": name, "quota_type": 0, "model_ratio": usd_in / 2,
        "completion_ratio": round(usd_out / usd_in, 6) if usd_in else 1, "model_price": 0,
        "cache_ratio": cache_ratio, "image_ratio": 1, "audio_ratio": 1,
        **({"create_cache_ratio": create_cache_ratio} if create_cache_ratio is not None else {}),
        "vendor_id": vendor, "tags": tags, "supported_endpoint_types": types, "enable_groups": list(groups),
        "input_modalities": list(inputs), "output_modalities": list(outputs), "context_length": context,
    }


def _call(name: str, vendor: int, usd: float, types: list[str], *, inputs: tuple[str, ...] = (_TEXT,),
          outputs: tuple[str, ...] = (_IMAGE,), tags: str = "") -> dict[str, Any]:
    """A per-call row (``quota_type`` 1); its ratios are new-api's neutral 1."""
    return {
        "model_name": name, "quota_type": 1, "model_ratio": 0, "completion_ratio": 1, "model_price": usd,
        "cache_ratio": 1, "image_ratio": 1, "audio_ratio": 1,
        "vendor_id": vendor, "tags": tags, "supported_endpoint_types": types, "enable_groups": ["default", "vip"],
        "input_modalities": list(inputs), "output_modalities": list(outputs), "context_length": 0,
    }


def _video(name: str, vendor: int, *, inputs: tuple[str, ...] = (_TEXT, _IMAGE)) -> dict[str, Any]:
    """A dynamically priced video row (§10.1): the default ratio; the task's ``quota`` says what it cost."""
    row = _tok(name, vendor, VIDEO_RATIO * 2, VIDEO_RATIO * 2, ["openai-video"], inputs=inputs,
               outputs=(_VIDEO,), tags="视频生成", cache_ratio=1)
    row["completion_ratio"] = 1
    return row


_OAI = ["openai", "openai-response"]
_CLAUDE = ["anthropic", "openai"]
_GEM = ["gemini", "openai"]
_IMG = ["image-generation"]
_VISION = (_TEXT, _IMAGE)

#: The table the simulator publishes: every seed-menu model plus the ones Tokenhot listed on 2026-09-30.
PRICING: list[dict[str, Any]] = [
    # chat (per token)
    _tok("gpt-5", 1, 1.25, 10, _OAI, inputs=_VISION, context=400_000),
    _tok("gpt-5.2", 1, 1.75, 14, _OAI, inputs=_VISION, context=400_000),
    _tok("gpt-5.4", 1, 2.5, 15, _OAI, inputs=_VISION, context=1_000_000),
    _tok("gpt-5.4-mini", 1, 0.75, 4.5, _OAI, inputs=_VISION, context=400_000),
    # sold to the "vip" group only: a "default" key is refused it (enable_groups, see row_serves)
    _tok("gpt-5.4-pro", 1, 15, 120, _OAI, inputs=_VISION, context=1_000_000, groups=("vip",)),
    _tok("claude-opus-4-6", 2, 5, 25, _CLAUDE, inputs=_VISION, context=200_000, create_cache_ratio=1.25),
    _tok("claude-opus-4-6-cc", 2, 5, 25, ["anthropic"], inputs=_VISION, context=200_000, create_cache_ratio=1.25),
    _tok("claude-sonnet-4-5-20250929", 2, 3, 15, _CLAUDE, inputs=_VISION, context=200_000,
         create_cache_ratio=1.25),
    _tok("gemini-2.5-flash", 3, 0.3, 2.5, _GEM, inputs=_VISION, context=1_048_576),
    _tok("gemini-2.5-pro", 3, 1.25, 10, _GEM, inputs=_VISION, context=1_048_576),
    _tok("gemini-3-flash-preview", 3, 0.5, 3, _GEM, inputs=_VISION, context=1_048_576),
    _tok("gemini-3.1-pro", 3, 2, 12, _GEM, inputs=_VISION, context=1_048_576),
    _tok("gemini-3.1-pro-preview", 3, 2, 12, _GEM, inputs=_VISION, context=1_048_576),
    _tok("grok-4.1", 4, 3, 15, ["openai"], inputs=_VISION, context=256_000),
    _tok("deepseek-v4-pro", 8, 0.56, 1.68, ["openai", "anthropic"], context=128_000),
    _tok("deepseek-v4.1-flash", 8, 0.14, 0.28, ["openai"], context=128_000),
    _tok("deepseek-v4.1-flash-free", 8, 0, 0, ["openai"], context=128_000, tags="免费,函数调用"),
    # billed by an expression, not by its cells (new-api ``billing_mode: tiered_expr``; see TIERED below)
    {**_tok("qwen3.6-plus", 6, 2, 2, ["openai"], context=1_000_000, cache_ratio=1),
     "billing_mode": "tiered_expr", "billing_expr": 'len <= 128000 ? tier("short", p * 1.2 + c * 7.2 + cr * 0.12)'
                                                   ' : tier("long", p * 3 + c * 12 + cr * 0.3)'},
    # images (per call)
    _call("gpt-image-2", 1, 0.028, _IMG, inputs=_VISION),
    _call("gpt-image-1.5", 1, 0.04, _IMG, inputs=_VISION),
    _call("dall-e-2", 1, 0.02, _IMG),
    _call("dall-e-3", 1, 0.04, _IMG),
    _call("doubao-seedream-4-0-250828", 5, 0.03, _IMG, inputs=_VISION),
    _call("doubao-seedream-4-5-251128", 5, 0.04, _IMG, inputs=_VISION),
    _call("doubao-seedream-5-0-260128", 5, 0.045, _IMG, inputs=_VISION),
    _call("gemini-2.5-flash-image", 3, 0.039, ["gemini"], inputs=_VISION, outputs=(_TEXT, _IMAGE)),
    _call("gemini-3-pro-image-preview", 3, 0.134, ["gemini"], inputs=_VISION, outputs=(_TEXT, _IMAGE)),
    _call("gemini-3.1-flash-image-preview", 3, 0.067, ["gemini"], inputs=_VISION, outputs=(_TEXT, _IMAGE)),
    _call("nano-banana-pro", 3, 0.134, ["gemini"], inputs=_VISION, outputs=(_TEXT, _IMAGE)),
    _call("qwen-image-max", 6, 0.075, _IMG),
    _call("qwen-image-plus-2026-01-09", 6, 0.03, _IMG),
    _call("qwen-image-edit-max-2026-01-16", 6, 0.075, _IMG, inputs=_VISION),
    _call("wan2.6-image", 6, 0.03, _IMG, inputs=_VISION),
    _call("wan2.6-t2i", 6, 0.03, _IMG),
    # video: all dynamic, charged per task (§10.1)
    _video("MiniMax-Hailuo-02", 7),
    _video("MiniMax-Hailuo-2.3", 7),
    _video("MiniMax-Hailuo-2.3-Fast", 7),
    _video("doubao-seedance-1-5-pro-251215", 5),
    _video("doubao-seedance-2-0", 5),
    _video("doubao-seedance-2-0-fast", 5),
    _video("doubao-seedance-2-0-mini", 5),
    _video("doubao-seedance-2-5", 5),
    _video("doubao-seedance-2-0-V2V", 5, inputs=(_TEXT, _VIDEO)),
    _video("doubao-seedance-2-0-fast-V2V", 5, inputs=(_TEXT, _VIDEO)),
    _video("happyhorse-1.0-t2v", 6, inputs=(_TEXT,)),
    _video("happyhorse-1.0-i2v", 6),
    _video("happyhorse-1.0-r2v", 6),
    _video("happyhorse-1.0-video-edit", 6, inputs=(_TEXT, _VIDEO)),
    _video("happyhorse-1.1-t2v", 6, inputs=(_TEXT,)),
    _video("happyhorse-1.1-i2v", 6),
    _video("kling-v3", 9),
    _video("veo3.1", 3),
    _video("wan3.0-video", 6),
    _video("grok-imagine-video-1-5-preview", 4, inputs=(_IMAGE, _TEXT)),
    _video("gemini-omni-video", 3),
    # audio
    _tok("gemini-2.5-flash-preview-tts", 3, 0.5, 10, ["gemini"], outputs=(_AUDIO,), tags="语音合成"),
    _tok("gemini-2.5-pro-preview-tts", 3, 1, 20, ["gemini"], outputs=(_AUDIO,), tags="语音合成"),
    _tok("mimo-v2.5-tts", 10, 0.2, 4, ["openai"], outputs=(_AUDIO,), tags="语音合成"),
    _call("whisper-1", 1, 0.006, ["openai"], inputs=(_AUDIO,), outputs=(_TEXT,), tags="语音识别"),
    # embeddings (POST /v1/embeddings, sim/_embeddings.py; per token, input only)
    _tok("jina-embeddings-v4", 11, 0.05, 0.05, ["embeddings"], inputs=_VISION, outputs=(_TEXT,), tags="向量"),
    # rerank (POST /v1/rerank, sim/_rerank.py; per token, input only)
    _tok("jina-reranker-m0", 11, 0.02, 0.02, ["jina-rerank"], inputs=_VISION, outputs=(_TEXT,), tags="重排序"),
]

#: What a simulated video task costs: USD per second of a 720p clip, times the billing multipliers of
#: ``X-New-Api-Other-Ratios`` (§10.5): ``size`` by resolution and ``video_input`` when a video goes in.
VIDEO_USD_PER_SECOND = 0.05
_SIZE_RATIOS = {"480p": 0.4, "512p": 0.4, "720p": 1.0, "768p": 1.0, "1080p": 2.0, "4k": 6.0}
VIDEO_INPUT_RATIO = 1.5
_CHEAPER = (("fast", 0.7), ("mini", 0.5))  #: lighter models (a ``-fast`` / ``-mini`` id) cost less a second


#: The groups of keys and what their charges are multiplied by (``/api/pricing`` ``group_ratio``), and their
#: display names (``usable_group``).
GROUP_RATIO: dict[str, float] = {"default": 1, "vip": 0.9}
USABLE_GROUP = {"default": "默认分组", "vip": "VIP"}


def group_ratio(group: str) -> float:
    """What a key of ``group`` pays per quota charged (new-api: a group the table does not name pays 1)."""
    return float(GROUP_RATIO.get(group, 1))


def row_for(model: str) -> dict[str, Any] | None:
    """The price row of ``model``, matching ``.``/``-`` spellings of the same id."""
    wanted = model.replace(".", "-").lower()
    for row in PRICING:
        if row["model_name"] == model or row["model_name"].replace(".", "-").lower() == wanted:
            return row
    return None


def _qwen_tiers(p: int, c: int, cr: int, length: int) -> float:
    """``qwen3.6-plus``'s ``billing_expr``, as new-api's ``billingexpr`` evaluates it: USD per 1M tokens of each
    kind, the tier chosen by the whole input's length (``len``), the cached part (``cr``) out of ``p``."""
    if length <= 128_000:
        return p * 1.2 + c * 7.2 + cr * 0.12
    return p * 3 + c * 12 + cr * 0.3


#: What each ``tiered_expr`` row's expression comes to, in USD per 1M tokens: (input not read from the cache,
#: output, read from the cache, whole input) → the expression's value. Its cells (``model_ratio``…) are stale and
#: bill nothing, as on new-api, so a client pricing such a row by them would be wrong.
TIERED: dict[str, Callable[[int, int, int, int], float]] = {"qwen3.6-plus": _qwen_tiers}


def row_serves(row: dict[str, Any], group: str) -> bool:
    """Whether a key of ``group`` may call the model of ``row``: new-api's distributor looks for a channel of the
    model in the key's group, and a row's ``enable_groups`` are the groups that have one (§10.1)."""
    groups = row.get("enable_groups")
    return not isinstance(groups, list) or group in groups


def video_ratios(seconds: float, resolution: str, videos: int = 0) -> dict[str, float]:
    """The billing multipliers a video create's answer names in ``X-New-Api-Other-Ratios``."""
    return {"seconds": max(float(seconds), 1.0), "size": _SIZE_RATIOS.get(str(resolution).lower(), 1.0),
            "video_input": VIDEO_INPUT_RATIO if videos else 1.0}


def video_task_quota(model: str, seconds: float, resolution: str, videos: int = 0) -> int:
    """What a finished simulated video task is charged, in quota (the ``data.quota`` of its poll answer)."""
    words = model.lower().split("-")
    base = VIDEO_USD_PER_SECOND * next((f for word, f in _CHEAPER if word in words), 1.0)
    ratios = video_ratios(seconds, resolution, videos)
    return round(base * ratios["seconds"] * ratios["size"] * ratios["video_input"] * QUOTA_PER_UNIT)


#: What a prompt-cache write costs × the input price when the row names no ``create_cache_ratio`` (new-api's
#: ``ratio_setting.GetCreateCacheRatio`` default, ``setting/ratio_setting/cache_ratio.go``).
CREATE_CACHE_RATIO = 1.25
#: A 1-hour write costs the 5-minute ratio × this (new-api's ``claudeCacheCreation1hMultiplier``, ``relay/helper/
#: price.go``).
CACHE_WRITE_1H_MULTIPLIER = 6 / 3.75


def _ratio(row: dict[str, Any], name: str, default: float) -> float:
    value = row.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def token_quota(row: dict[str, Any], prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0,
                cache_write_5m: int = 0, cache_write_1h: int = 0, cache_write_other: int = 0) -> int:
    """new-api's per-token charge (``calculateTextQuotaSummary``, QuantumNous/new-api ``service/text_quota.go``):
    ratio × (input + output × completion_ratio) quota (ratio 1 = $0.002/1K tokens = one quota a token at 500,000
    quota per USD). ``prompt_tokens`` counts the input billed at 1×, ``cached_tokens`` (read from the cache) cost
    ``cache_ratio`` × (1 when none is set) and the writes ``create_cache_ratio`` × (1.25 when none is set), a
    1-hour write × :data:`CACHE_WRITE_1H_MULTIPLIER` more (``cache_write_other``: writes of no stated TTL)."""
    ratio = float(row.get("model_ratio") or 0)
    completion = float(row.get("completion_ratio") or 1)
    read = _ratio(row, "cache_ratio", 1.0)
    write = _ratio(row, "create_cache_ratio", CREATE_CACHE_RATIO)
    writes = (cache_write_5m + cache_write_other) * write + cache_write_1h * write * CACHE_WRITE_1H_MULTIPLIER
    return round(ratio * (max(0, prompt_tokens) + max(0, cached_tokens) * read + writes
                          + completion_tokens * completion))


def _usage_quota(row: dict[str, Any], usage: dict[str, Any]) -> int:
    """The quota of one answer's usage, read as new-api reads each shape. Anthropic's (``cache_read_input_tokens``
    / ``cache_creation_input_tokens`` beside ``input_tokens``, which leaves them out): each part at its ratio.
    OpenAI's (``prompt_tokens`` / ``input_tokens`` holding the cached part, ``*_tokens_details.cached_tokens``):
    the cached part at ``cache_ratio``, the rest at 1. Gemini's thinking tokens are output (§2.4)."""
    def n(value: Any) -> int:
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0

    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    if completion is None:
        completion = n(usage.get("candidatesTokenCount")) + n(usage.get("thoughtsTokenCount"))
    if "cache_creation_input_tokens" in usage or "cache_read_input_tokens" in usage:  # Anthropic's usage
        raw = usage.get("cache_creation")
        split: dict[str, Any] = raw if isinstance(raw, dict) else {}
        five, hour = n(split.get("ephemeral_5m_input_tokens")), n(split.get("ephemeral_1h_input_tokens"))
        other = max(0, n(usage.get("cache_creation_input_tokens")) - five - hour)
        return token_quota(row, n(usage.get("input_tokens")), n(completion), n(usage.get("cache_read_input_tokens")),
                           five, hour, other)
    prompt = n(usage.get("prompt_tokens", usage.get("input_tokens", usage.get("promptTokenCount", 0))))
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
    cached = n(details.get("cached_tokens") if isinstance(details, dict) else usage.get("cachedContentTokenCount"))
    cached = min(max(0, cached), prompt)
    expr = TIERED.get(str(row.get("model_name"))) if row.get("billing_mode") == "tiered_expr" else None
    if expr is not None:  # billingexpr v1: the value is USD per 1M tokens, so quota = value / 1M × quota per unit
        return round(expr(prompt - cached, n(completion), cached, prompt) * QUOTA_PER_UNIT / 1_000_000)
    return token_quota(row, prompt - cached, n(completion), cached)


def images_asked(body: dict[str, Any] | None) -> int:
    """How many images a generation asks for, wherever its family writes it: OpenAI's ``n``, DashScope's
    ``parameters.n`` / ``parameters.max_images``, Seedream's ``sequential_image_generation_options.max_images``
    (an image set, only when ``sequential_image_generation`` is "auto")."""
    if not isinstance(body, dict):
        return 1
    raw = body.get("parameters")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    n: Any = body.get("n") or params.get("n") or params.get("max_images")
    seq = body.get("sequential_image_generation_options")
    if body.get("sequential_image_generation") == "auto" and isinstance(seq, dict):
        n = seq.get("max_images", n)
    try:
        return max(1, int(n or 1))
    except (TypeError, ValueError):
        return 1


def images_made(answer: Any) -> int | None:
    """How many images an answer delivers (OpenAI/Seedream ``data`` items, DashScope ``image`` parts), or None
    when it is not an image list (Gemini's answer is one image a call)."""
    if not isinstance(answer, dict):
        return None
    if isinstance(answer.get("data"), list):
        return sum(1 for item in answer["data"] if isinstance(item, dict) and ("url" in item or "b64_json" in item))
    output = answer.get("output")
    if isinstance(output, list):
        return sum(1 for message in output if isinstance(message, dict)
                   for part in message.get("content") or [] if isinstance(part, dict) and part.get("type") == "image")
    return None


def call_quota(model: str, body: dict[str, Any] | None, answer: Any, images: int | None = None) -> int:
    """The quota one finished non-task call is charged: per call × the images made, or per token from the
    answer's usage. Gemini's thinking tokens are output (``totalTokenCount`` counts them; §2.4)."""
    row = row_for(model.partition(":")[0])  # a Gemini path names the model with its action
    if row is None:
        return 0
    if row["quota_type"] == 1:
        made = images if images is not None else images_made(answer)
        n = made if made is not None else images_asked(body)
        return round(row["model_price"] * max(1, n) * QUOTA_PER_UNIT)
    usage = answer.get("usage") or answer.get("usageMetadata") if isinstance(answer, dict) else None
    if not isinstance(usage, dict):
        return 0
    return _usage_quota(row, usage)


def stream_usage(frames: list[Any]) -> dict[str, Any]:
    """The usage a finished stream reported, merged over its frames: OpenAI's last chunk, the Responses API's
    ``response.completed``, Claude's ``message_start`` (input) then ``message_delta`` (output), Gemini's
    ``usageMetadata`` (cumulative: the last one wins)."""
    merged: dict[str, Any] = {}
    for data in frames:
        if not isinstance(data, dict):
            continue
        for holder in (data, data.get("response"), data.get("message")):
            if isinstance(holder, dict):
                for key in ("usage", "usageMetadata"):
                    if isinstance(holder.get(key), dict):
                        merged.update(holder[key])
    return merged


def responses_billed_usage(frames: list[Any], prompt_estimate: int) -> dict[str, Any]:
    """What the relay bills a Responses stream for (QuantumNous/new-api ``OaiResponsesStreamHandler``): the usage
    of ``response.completed`` only. A stream that ends otherwise (``response.failed``, ``response.incomplete``)
    is billed from the relay's own count, whatever usage its last event reports: the ``response.output_text.delta``
    text as output, its estimate of the request as input (no cache discount); nothing when no text came."""
    for data in frames:
        if isinstance(data, dict) and data.get("type") == "response.completed":
            response = data.get("response")
            usage = response.get("usage") if isinstance(response, dict) else None
            return usage if isinstance(usage, dict) else {}
    text = "".join(str(d.get("delta") or "") for d in frames
                   if isinstance(d, dict) and d.get("type") == "response.output_text.delta")
    output = count_tokens(text)
    return {"input_tokens": prompt_estimate, "output_tokens": output} if output else {}


def chat_billed_usage(frames: list[Any], prompt_estimate: int) -> dict[str, Any]:
    """What the relay bills a chat-completions stream for (new-api ``OaiStreamHandler``): the usage its last chunk
    reports (``stream_options.include_usage``), else its own count: the streamed content, reasoning and tool-call
    arguments as output, its estimate of the request as input (``ResponseText2Usage``). A stream is never free."""
    usage = stream_usage(frames)
    if usage:
        return usage
    return {"prompt_tokens": prompt_estimate, "completion_tokens": count_tokens(streamed_text(frames))}


def streamed_text(frames: list[Any]) -> str:
    """The answer a stream carried, as the relay counts it, whatever its protocol (§7): chat-completions deltas'
    content, reasoning and tool-call arguments; the Responses API's ``*.delta`` events; Claude's
    ``content_block_delta`` text, thinking and tool input; Gemini's candidates' parts' text."""
    pieces: list[str] = []
    for data in frames:
        if not isinstance(data, dict):
            continue
        for choice in data.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                pieces += [str(delta.get(k) or "") for k in ("content", "reasoning_content")]
                for call in delta.get("tool_calls") or []:
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(fn, dict):
                        pieces += [str(fn.get("name") or ""), str(fn.get("arguments") or "")]
        kind = data.get("type")
        if isinstance(kind, str) and kind.startswith("response.") and kind.endswith(".delta"):
            pieces.append(str(data.get("delta") or ""))
        delta = data.get("delta")
        if kind == "content_block_delta" and isinstance(delta, dict):
            pieces += [str(delta.get(k) or "") for k in ("text", "thinking", "partial_json")]
        for cand in data.get("candidates") or []:
            content = cand.get("content") if isinstance(cand, dict) else None
            for part in (content.get("parts") or []) if isinstance(content, dict) else []:
                if isinstance(part, dict):
                    pieces.append(str(part.get("text") or ""))
    return "".join(pieces)


def broken_usage(frames: list[Any], reported: dict[str, Any]) -> dict[str, Any]:
    """What the relay bills a stream its protocol's error frame broke off (§1.4, §7: new-api may send an error after
    the first byte, as a frame of the stream): its count before the failure. The input as the frames reported it
    (Claude's ``message_start``, Gemini's ``promptTokenCount``), the streamed text as output unless a frame reported
    more; nothing when none of the answer had come (``reported`` is what the frames' usage says so far)."""
    text = streamed_text(frames)
    if not text:
        return {}
    output = count_tokens(text)
    if "candidatesTokenCount" in reported or "promptTokenCount" in reported:  # Gemini's usageMetadata
        if int(reported.get("candidatesTokenCount") or 0) >= output:
            return reported
        return {**reported, "candidatesTokenCount": output, "thoughtsTokenCount": 0}
    key = "completion_tokens" if "prompt_tokens" in reported else "output_tokens"
    return {**reported, key: max(output, int(reported.get(key) or 0))}


def charge_answer(ctx: Ctx, billing: str, model: str | None, body: Any, response: Response) -> None:
    """Charge a finished call: ``billing`` is "call" (per call or per token, now) or "task" (a poll answer: the
    task's ``quota`` once, when it first shows the task done). A stream is charged at its end from the usage it
    reported; one that did not end whole (broken off by its protocol's error frame, its connection cut, or the client
    gone: new-api bills all of them alike, see ``SSEResponse.on_done``) is charged what was counted of the frames sent
    (:func:`broken_usage`; nothing when none of the answer had gone out); error answers are not charged."""
    if billing == "none" or response.status_code >= 400:
        return
    ratio = group_ratio(ctx.faults.key_group)  # (a task's quota holds it already: see _video._advance)
    if isinstance(response, SSEResponse):
        if billing == "call" and model:
            request = body if isinstance(body, dict) else None
            billed = response.billed_usage

            def done(frames: list[Any], broken: bool) -> None:
                usage = stream_usage(frames) if billed is None else billed(frames)
                if broken:  # (a chat or Responses stream's own count already: a frame with no answer is free)
                    usage = broken_usage(frames, usage) if billed is None or streamed_text(frames) else {}
                if usage:
                    ctx.state.charge(round(call_quota(model, request, {"usage": usage}) * ratio))

            response.on_done = done
        return
    if isinstance(response, StreamingResponse):
        return
    try:
        answer = json.loads(bytes(response.body))
    except ValueError:
        return
    if billing == "task":
        data = answer.get("data") if isinstance(answer, dict) else None
        if isinstance(data, dict) and data.get("status") == "SUCCESS" and isinstance(data.get("quota"), int):
            ctx.state.charge_task(str(data.get("task_id") or ""), data["quota"])
        elif isinstance(answer, dict) and answer.get("object") == "video" and answer.get("status") == "completed":
            task = ctx.state.tasks.get(str(answer.get("id")))  # this style shows no quota: the task knows it
            if task is not None:
                ctx.state.charge_task(task.id, task.quota)
        return
    if model:
        ctx.state.charge(round(call_quota(model, body if isinstance(body, dict) else None, answer) * ratio))


# ----------------------------------------------------------------------------- routes


async def pricing(ctx: Ctx) -> Response:
    """``GET /api/pricing``: public, no key."""
    return JSONResponse({"success": True, "data": PRICING, "vendors": _VENDORS,
                         "group_ratio": GROUP_RATIO, "supported_endpoint": _SUPPORTED_ENDPOINT,
                         "usable_group": USABLE_GROUP})


async def status(ctx: Ctx) -> Response:
    """``GET /api/status``: public, no key."""
    return JSONResponse({"success": True, "message": "", "data": {
        "system_name": "Tokenhot (simulated)", "version": "v0.9-sim", "quota_per_unit": QUOTA_PER_UNIT,
        "display_in_currency": True, "quota_display_type": "CNY", "price": TOPUP_PRICE,
        "usd_exchange_rate": TOPUP_PRICE, "server_address": str(ctx.request.base_url).rstrip("/"),
    }})


def _billing_error(ctx: Ctx) -> Response | None:
    """new-api answers billing problems as HTTP 200 with an ``error`` object."""
    if not ctx.faults.billing_error:
        return None
    return JSONResponse({"error": {"message": "获取额度失败: token has unlimited quota", "type": "upstream_error"}})


def _display(usd: float) -> float:
    """Billing amounts are in the site's display unit (CNY on Tokenhot)."""
    return round(usd * TOPUP_PRICE, 6)


async def subscription(ctx: Ctx) -> Response:
    """``GET /v1/dashboard/billing/subscription``: ``hard_limit_usd`` = remaining + used, display unit."""
    failed = _billing_error(ctx)
    if failed is not None:
        return failed
    total = _display(START_BALANCE_USD)
    return JSONResponse({"object": "billing_subscription", "has_payment_method": True, "soft_limit_usd": total,
                         "hard_limit_usd": total, "system_hard_limit_usd": total, "access_until": 0})


async def usage(ctx: Ctx) -> Response:
    """``GET /v1/dashboard/billing/usage``: ``total_usage`` in hundredths of the display unit."""
    failed = _billing_error(ctx)
    if failed is not None:
        return failed
    used = _display(ctx.state.spent_quota / QUOTA_PER_UNIT)
    return JSONResponse({"object": "list", "total_usage": round(used * 100, 4)})


async def credits(ctx: Ctx) -> Response:
    """``GET /v1/credits`` (newer relays): total and used, display unit."""
    failed = _billing_error(ctx)
    if failed is not None:
        return failed
    used = _display(ctx.state.spent_quota / QUOTA_PER_UNIT)
    return JSONResponse({"data": {"total_credits": _display(START_BALANCE_USD), "total_usage": used}})
