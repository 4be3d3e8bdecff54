"""What the simulated models answer when asked for JSON, for data of a given shape, or given tools.

Written from the vendors' wire formats: a JSON mode gets a JSON object, a JSON schema gets an instance of
that schema (``$ref``/``$defs``, ``anyOf``, ``enum``, bounds honoured), and tools get a call of one of them with
arguments shaped by its parameter schema, unless the last turn already carries tool results (then the model
answers in text, quoting them) or the tool choice forbids calls.
"""

from __future__ import annotations

import json
import random
from typing import Any

from ._common import count_tokens, excerpt, obj

_WORDS = ("fox", "river", "lantern", "maple", "harbor", "comet", "meadow", "violet", "granite", "ember")


def _resolve(schema: Any, root: dict[str, Any], depth: int) -> dict[str, Any]:
    node = obj(schema)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and depth < 12:
        target: Any = root
        for part in ref[2:].split("/"):
            target = obj(target).get(part)
        return _resolve(target, root, depth + 1)
    return node


def instance(schema: Any, seed: int, hint: str = "", root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value valid against a JSON schema (the common subset vendors accept), the same for the same seed."""
    root = root if root is not None else obj(schema)
    node = _resolve(schema, root, depth)
    rng = random.Random(seed)
    if "const" in node:
        return node["const"]
    if isinstance(node.get("enum"), list) and node["enum"]:
        return node["enum"][rng.randrange(len(node["enum"]))]
    for key in ("anyOf", "oneOf"):
        options = [o for o in node.get(key) or [] if _resolve(o, root, depth).get("type") != "null"]
        if options:
            return instance(options[0], seed, hint, root, depth + 1)
    if isinstance(node.get("allOf"), list) and node["allOf"]:
        merged: dict[str, Any] = {}
        for part in node["allOf"]:
            merged.update(_resolve(part, root, depth))
        return instance(merged, seed, hint, root, depth + 1)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in node else "string"
    kind = str(kind).lower()  # Gemini's OpenAPI schemas spell types in upper case
    if depth > 10:
        return None
    if kind == "object":
        props = obj(node.get("properties"))
        out: dict[str, Any] = {}
        for i, (name, sub) in enumerate(props.items()):
            out[name] = instance(sub, seed + 7919 * (i + 1), name, root, depth + 1)
        if not props and node.get("additionalProperties") is not False:
            out = {"answer": excerpt(hint, 80) or "simulated", "confidence": round(rng.uniform(0.5, 1.0), 2)}
        return out
    if kind == "array":
        low = int(node.get("minItems") or 1)
        high = max(low, min(int(node.get("maxItems") or 3), low + 2))
        return [instance(node.get("items") or {}, seed + i, hint, root, depth + 1)
                for i in range(rng.randint(low, high))]
    if kind in ("integer", "number"):
        lo = node.get("minimum", node.get("exclusiveMinimum", 0))
        hi = node.get("maximum", node.get("exclusiveMaximum", lo + 100))
        lo, hi = (float(lo), float(hi)) if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else (0, 100)
        if kind == "integer":
            return rng.randint(int(lo) + ("exclusiveMinimum" in node), max(int(lo), int(hi) - ("exclusiveMaximum" in node)))
        return round(rng.uniform(lo, hi), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    fmt = node.get("format")
    if fmt == "date":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if fmt == "date-time":
        return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z"
    text = f"{hint or 'value'} {_WORDS[rng.randrange(len(_WORDS))]}".strip()
    max_len = node.get("maxLength")
    if isinstance(max_len, int) and max_len >= 0:
        text = text[:max_len]
    min_len = node.get("minLength")
    if isinstance(min_len, int) and len(text) < min_len:
        text = text + "x" * (min_len - len(text))
    return text


def json_text(schema: Any, seed: int, prompt: str) -> str:
    """The answer of a JSON mode (no schema: a small object about the prompt) or of a schema."""
    if schema is None:
        return json.dumps({"answer": excerpt(prompt, 120) or "simulated", "source": "tokenhot simulator"},
                          ensure_ascii=False)
    return json.dumps(instance(schema, seed, excerpt(prompt, 40)), ensure_ascii=False)


def within(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """A JSON answer as it comes under a token limit: one longer than ``max_tokens`` is cut where the limit falls,
    mid-value (finish reason ``length`` / ``max_output_tokens`` / ``MAX_TOKENS``), as a model's text is; the
    limit does not bend for JSON. Returns ``(text, cut)``."""
    if not isinstance(max_tokens, int) or max_tokens < 1 or count_tokens(text) <= max_tokens:
        return text, False
    low, high = 1, len(text)  # (the longest start that fits: count_tokens grows with the text)
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if count_tokens(text[:mid]) <= max_tokens else (low, mid - 1)
    return text[:low], True


def choose_tool(tools: list[dict[str, Any]], mode: str, forced: str | None, prompt: str,
                answered: bool) -> dict[str, Any] | None:
    """The tool a model calls: ``mode`` is auto | required | none (``forced`` names one); ``answered``
    means the last turn carries tool results, so an ``auto`` model answers in text."""
    if not tools or mode == "none":
        return None
    if forced:
        return next((t for t in tools if t.get("name") == forced), None)
    if mode == "auto" and answered:
        return None
    low = prompt.lower()
    return next((t for t in tools if str(t.get("name", "")).lower() in low), tools[0])


def choose_tools(tools: list[dict[str, Any]], mode: str, forced: str | None, prompt: str, answered: bool,
                 parallel: bool = True) -> list[dict[str, Any]]:
    """The tools a model calls in one answer: :func:`choose_tool`'s, or, when the prompt names two or more of them
    (and the request allows parallel calls: OpenAI's ``parallel_tool_calls``, Claude's
    ``disable_parallel_tool_use``), each of those, in the tools' order: one answer with several calls."""
    one = choose_tool(tools, mode, forced, prompt, answered)
    if one is None or forced or not parallel:
        return [one] if one is not None else []
    low = prompt.lower()
    named = [t for t in tools if str(t.get("name", "")).lower() in low]
    return named if len(named) > 1 else [one]


def tool_arguments(tool: dict[str, Any], seed: int, prompt: str) -> dict[str, Any]:
    args = instance(tool.get("parameters") or {"type": "object", "properties": {}}, seed, excerpt(prompt, 40))
    return args if isinstance(args, dict) else {}


def results_reply(results: list[str]) -> str:
    """The text a model writes after its tools answered."""
    shown = "; ".join(excerpt(r, 80) for r in results)
    return f"The tools returned: {shown}. That answers the question."
