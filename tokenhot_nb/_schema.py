"""Structured chat answers: the schema a call asks for, and the answer checked against it.

A schema is a pydantic model class (the answer comes back as an instance of it) or a JSON-schema dict (the
answer comes back as the validated dict, checked with ``jsonschema``). The families only ever see the JSON
schema; pydantic is imported only when a pydantic model is passed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import InputError, SchemaMismatchError

_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", re.S | re.I)
#: A fenced block anywhere in an answer (a model that ignored the JSON mode and wrote a line before its JSON).
_FENCED = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*?)\n?```", re.S | re.I)
#: Finish reasons of an answer cut at its token limit (chat, Claude, Responses' incomplete reason, Gemini's upper
#: case): its JSON is cut too, and saying only "not JSON" hid that a larger max_tokens would do.
_CUT = frozenset({"length", "max_tokens", "max_output_tokens"})
#: Finish reasons of an answer the model declined or a filter stopped (OpenAI's content_filter, Claude's refusal,
#: Gemini's upper-case safety reasons and a prompt's blockReason): "not JSON (Expecting value …)" hid why.
_DECLINED = frozenset({"content_filter", "refusal", "safety", "recitation", "blocklist", "prohibited_content",
                       "spii", "image_safety"})


@dataclass
class Schema:
    """``json`` is what goes on the wire (and in the history); ``model`` the pydantic class, if one was given."""

    json: dict[str, Any]
    name: str
    model: Any = None


def _is_pydantic_model(obj: Any) -> bool:
    return isinstance(obj, type) and callable(getattr(obj, "model_json_schema", None)) \
        and callable(getattr(obj, "model_validate", None))


def resolve(schema: Any) -> Schema:
    """A pydantic model class or a JSON-schema dict → :class:`Schema`; anything else is refused."""
    if _is_pydantic_model(schema):
        js = schema.model_json_schema()
        return Schema(js, _name(getattr(schema, "__name__", "") or js.get("title")), schema)
    if isinstance(schema, dict):
        if not schema:
            raise InputError("The schema is empty.", hint='Pass a JSON schema such as {"type": "object", …}.')
        _check_json_schema(schema)
        return Schema(schema, _name(schema.get("title")))
    raise InputError(
        f"schema= takes a pydantic model class or a JSON-schema dict, not {type(schema).__name__}.",
        hint="For free-form JSON use json=True instead.",
    )


def _name(raw: Any) -> str:
    """A tool / format name the vendors accept (letters, digits, _ and -, at most 64)."""
    name = _NAME.sub("_", str(raw or "")).strip("_")[:64]
    return name or "answer"


def _check_json_schema(schema: dict[str, Any]) -> None:
    from jsonschema import exceptions, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        raise InputError(f"The schema is not a valid JSON schema: {exc.message}.",
                         hint="Check it with jsonschema, or pass a pydantic model instead.") from None


def parse_json(text: str) -> Any:
    """The JSON in an answer: a Markdown code fence around it is tolerated (```json or ```JSON), and so is a line
    of prose around its one fenced block."""
    m = _FENCE.match(text)
    try:
        return json.loads(m.group(1) if m else text)
    except ValueError:
        blocks = [] if m else _FENCED.findall(text)
        if len(blocks) != 1:
            raise
        return json.loads(blocks[0])


def check(text: str, schema: Schema | None, result: Any = None) -> Any:
    """The answer as data: parsed, then validated against ``schema`` (JSON mode when None).

    Raises :class:`SchemaMismatchError` (with ``.result``) when it is not JSON or does not fit.
    """
    try:
        data = parse_json(text)
    except ValueError as exc:
        finish = str(getattr(result, "finish_reason", None) or "")
        if finish.lower() in _CUT:
            raise SchemaMismatchError(
                f"The answer was cut short (finish reason {finish!r}) before its JSON ended: {text[:120]!r}.",
                result=result, hint="Ask again with a larger max_tokens=; the cut answer is kept in .result.text "
                "and its history row.") from None
        if finish.lower() in _DECLINED:
            raise SchemaMismatchError(
                f"The model declined, or its answer was filtered (finish reason {finish!r}): no JSON came"
                f"{': ' + repr(text[:120]) if text else ''}.", result=result,
                hint="Rephrase the request; what came is kept in .result.text and its history row.") from None
        raise SchemaMismatchError(f"The answer is not JSON ({exc}): {text[:120]!r}.", result=result) from None
    if schema is None:
        return data
    if schema.model is not None:
        from pydantic import ValidationError

        try:
            return schema.model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()[:3])
            raise SchemaMismatchError(f"The answer does not fit {schema.name}: {problems}.", result=result,
                                      data=data) from None
    from jsonschema import validators

    errors = sorted(validators.validator_for(schema.json)(schema.json).iter_errors(data), key=lambda e: e.path)
    if errors:
        problems = "; ".join(f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:3])
        raise SchemaMismatchError(f"The answer does not fit the schema {schema.name}: {problems}.", result=result,
                                  data=data)
    return data
