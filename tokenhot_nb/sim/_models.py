"""``GET /v1/models`` and ``GET /v1/models/{id}`` in the three shapes the relay answers, and Gemini's
``GET /v1beta/models``: the ids the key may call.

The shape follows the credentials, as new-api does: ``x-api-key`` + ``anthropic-version`` → Anthropic's list,
``x-goog-api-key`` or ``?key=`` → Gemini's, a Bearer key → OpenAI's. Written from the wire format (reference
§10.1), not from the client's parsers.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import JSONResponse, Response

from ._common import Ctx, error_response

CREATED = 1_700_000_000  # a fixed creation time, so answers are stable


def listed(group: str | None = None) -> list[dict[str, Any]]:
    """The models a key of ``group`` may call (None: of any group): every row of the price table enabled for it,
    then the docs-menu ids it also accepts (``doubao-seedance-2.0`` beside the table's ``doubao-seedance-2-0``),
    each with its endpoint types. new-api lists a key only the models of its group (§10.1)."""
    from ._pricing import _VENDORS, PRICING, row_for, row_serves
    from .app import KNOWN_MODELS

    vendors = {v["id"]: v["name"] for v in _VENDORS}
    out: dict[str, dict[str, Any]] = {}
    for row in PRICING:
        if group is not None and not row_serves(row, group):
            continue
        out[row["model_name"]] = {"id": row["model_name"], "owned_by": vendors.get(row.get("vendor_id"), "custom"),
                                  "supported_endpoint_types": list(row.get("supported_endpoint_types") or [])}
    for mid in KNOWN_MODELS:
        if mid not in out:
            row = row_for(mid) or {}
            if group is not None and row and not row_serves(row, group):
                continue
            out[mid] = {"id": mid, "owned_by": vendors.get(row.get("vendor_id"), "custom"),
                        "supported_endpoint_types": list(row.get("supported_endpoint_types") or [])}
    return list(out.values())


def _shape(ctx: Ctx, path_is_gemini: bool) -> str:
    headers = ctx.request.headers
    if path_is_gemini or headers.get("x-goog-api-key") or ctx.request.query_params.get("key"):
        return "gemini"
    if headers.get("x-api-key") and headers.get("anthropic-version"):
        return "anthropic"
    return "openai"


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _openai(m: dict[str, Any]) -> dict[str, Any]:
    return {"id": m["id"], "object": "model", "created": CREATED, "owned_by": m["owned_by"],
            "supported_endpoint_types": list(m["supported_endpoint_types"])}


def _anthropic(m: dict[str, Any]) -> dict[str, Any]:
    return {"type": "model", "id": m["id"], "display_name": m["id"], "created_at": _iso(CREATED)}


def _gemini(m: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"models/{m['id']}", "baseModelId": m["id"], "version": "001", "displayName": m["id"],
            "description": "", "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent"]}


async def _answer_list(ctx: Ctx, gemini_path: bool) -> Response:
    models = listed(ctx.faults.key_group)
    shape = _shape(ctx, gemini_path)
    if shape == "anthropic":
        data = [_anthropic(m) for m in models]
        return JSONResponse({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                             "last_id": data[-1]["id"] if data else None})
    if shape == "gemini":
        return JSONResponse({"models": [_gemini(m) for m in models], "nextPageToken": ""})
    return JSONResponse({"object": "list", "data": [_openai(m) for m in models], "success": True})


async def list_models(ctx: Ctx) -> Response:
    """``GET /v1/models``."""
    return await _answer_list(ctx, gemini_path=False)


async def list_gemini_models(ctx: Ctx) -> Response:
    """``GET /v1beta/models``."""
    return await _answer_list(ctx, gemini_path=True)


async def _answer_one(ctx: Ctx, model_id: str, gemini_path: bool) -> Response:
    name = model_id.removeprefix("models/")
    found = next((m for m in listed(ctx.faults.key_group) if m["id"] == name), None)
    shape = _shape(ctx, gemini_path)
    if found is None:
        if shape == "gemini":
            return JSONResponse({"error": {"code": 404, "message": f"models/{name} is not found for API version "
                                           "v1beta, or is not supported for generateContent.",
                                           "status": "NOT_FOUND"}}, status_code=404)
        if shape == "anthropic":
            return error_response("claude", 404, f"model: {name}", "not_found_error", request_id=ctx.request_id)
        response = error_response("openai", 404, f"The model '{name}' does not exist", "model_not_found",
                                  "invalid_request_error", request_id=ctx.request_id)
        return response
    if shape == "anthropic":
        return JSONResponse(_anthropic(found))
    if shape == "gemini":
        return JSONResponse(_gemini(found))
    return JSONResponse(_openai(found))


async def get_model(ctx: Ctx, model_id: str) -> Response:
    """``GET /v1/models/{id}``."""
    return await _answer_one(ctx, model_id, gemini_path=False)


async def get_gemini_model(ctx: Ctx, model: str) -> Response:
    """``GET /v1beta/models/{id}``."""
    return await _answer_one(ctx, model, gemini_path=True)
