"""The simulator's Starlette app: routing, auth, fault injection, files and control endpoints.

Every API route goes through :func:`_api`, which does what the relay's middleware does (request id, body
decoding and size limit in ``_body``, key check, model lookup) plus the configured faults, then calls the
endpoint module.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import _audio, _body, _chat, _embeddings, _gemini, _images, _models, _pricing, _rerank, _video
from ._common import (
    REQUEST_ID_HEADER,
    Ctx,
    Early,
    Envelope,
    Form,
    error_response,
    gzip_bomb,
    injected_error,
    middleware_error,
    new_request_id,
    rate_limited,
    read_form,
    service_error,
)
from ._state import SimState
from .faults import FAULTS_HEADER, QUOTA_ERRORS, Faults

#: A token the simulator takes for a valid one: new-api strips one leading ``sk-`` before its lookup, so ``sk-xxx``
#: and ``xxx`` are the same token (§1.1); the simulator has no token table, so any 4+ such characters pass.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]{4,}$")
#: ``<token>-<channel id>`` (§1.1 channel pinning, admin-only): new-api splits the token at ``-`` and refuses a
#: normal user's pinned channel with a 403. The simulator's tokens may hold ``-`` (readable test keys), so only a
#: real-shaped new-api token (48 letters and digits) followed by ``-<digits>`` counts as pinning.
_PINNED_RE = re.compile(r"^[A-Za-z0-9]{48}-[0-9]+$")
#: new-api's answer to a normal user's pinned channel ("normal users cannot pick a channel").
PINNED_MESSAGE = "普通用户不支持指定渠道"
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

#: Model ids the simulator lists on /v1/models beside its price table's (the docs' spellings); it serves exactly
#: the models of its price table (``.``/``-`` spellings alike, see ``_pricing.row_for``) and refuses any other.
KNOWN_MODELS: tuple[str, ...] = (
    "gpt-5", "gpt-5.2", "gpt-5.4", "gpt-5.4-mini", "claude-opus-4-6", "claude-opus-4-6-cc",
    "claude-sonnet-4-5-20250929", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-flash-preview",
    "gemini-3.1-pro", "gemini-3.1-pro-preview", "grok-4.1",
    "gpt-image-2", "gpt-image-1.5", "dall-e-2", "dall-e-3", "doubao-seedream-4-0-250828",
    "doubao-seedream-4-5-251128", "doubao-seedream-5-0-260128", "gemini-2.5-flash-image",
    "gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview", "qwen-image-max", "qwen-image-plus-2026-01-09",
    "qwen-image-edit-max-2026-01-16", "wan2.6-image", "wan2.6-t2i",
    "doubao-seedance-1-5-pro-251215", "doubao-seedance-2.0", "doubao-seedance-2.0-fast", "doubao-seedance-2.0-V2V",
    "doubao-seedance-2.0-fast-V2V", "MiniMax-Hailuo-02", "MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast",
    "happyhorse-1.0-t2v", "happyhorse-1.0-i2v", "happyhorse-1.0-r2v", "happyhorse-1.0-video-edit",
    "gemini-2.5-flash-preview-tts", "gemini-2.5-pro-preview-tts", "whisper-1",
)

#: Per-user model rate limits (§10.1: free models, ids ending in "-free", take 5 requests a minute):
#: (id suffix, requests, minutes), counted per key and model over a sliding window.
RATE_LIMITS: tuple[tuple[str, int, int], ...] = (("-free", 5, 1),)

BodyKind = str  # "json" | "form" | "json_or_form" | "none"
Handler = Callable[..., Awaitable[Response]]


def _no_channel(model: str, also: frozenset[str], group: str) -> str | None:
    """What new-api's distributor answers for a model no channel of the key's group serves (§1.4
    ``model_not_found``; HTTP 503, in Chinese on Tokenhot: "分组 <group> 下模型 X 无可用渠道（distributor）"), or
    None when the simulator serves it: the models of its price table whose ``enable_groups`` hold the key's group,
    as the service serves exactly what its channels (and so its table) hold, and ``also`` (see
    :func:`create_app`)."""
    row = _pricing.row_for(model)
    if (row is not None and _pricing.row_serves(row, group)) or model in also:
        return None
    return f"分组 {group} 下模型 {model} 无可用渠道（distributor）"


#: The endpoint types of the text protocols: new-api converts between them, so a model of any one is served on the
#: routes of the others (a Claude model on /v1/chat/completions, gpt-5 on /v1/messages).
_TEXT_TYPES = frozenset({"openai", "openai-response", "anthropic", "gemini"})
RouteKind = str  # "text" | "gemini" | "image" | "video" | "speech" | "listen" | ""


def _wrong_kind(row: dict[str, Any] | None, kind: RouteKind) -> bool:
    """Whether the model of ``row`` cannot answer on a route of ``kind``: its row names no endpoint type or
    modality of that route (§10.1 ``supported_endpoint_types``, ``input_modalities`` / ``output_modalities``). The
    relay hands the request to the model's channel all the same, whose vendor refuses it (an image model asked to
    chat, a chat model asked for a video)."""
    if row is None or not kind:
        return False
    types = set(row.get("supported_endpoint_types") or [])
    outputs, inputs = row.get("output_modalities") or [], row.get("input_modalities") or []
    fits = {"text": bool(types & _TEXT_TYPES) and "文本" in outputs, "gemini": bool(types & _TEXT_TYPES),
            "image": "image-generation" in types or "图像" in outputs, "video": "openai-video" in types,
            "speech": "音频" in outputs, "listen": "音频" in inputs}[kind]
    return not fits


def _presented_key(request: Request, extra: tuple[str, ...]) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if "x-api-key" in extra and request.headers.get("x-api-key"):
        return request.headers["x-api-key"].strip()
    if "goog" in extra:
        return request.headers.get("x-goog-api-key") or request.query_params.get("key")
    return None


def _auth_refusal(key: str | None) -> tuple[int, str] | None:
    """(status, message) of new-api's ``TokenAuth`` refusing ``key``, or None when it passes (§1.1, §1.4): the
    token is the key without one leading ``sk-``; none → 401, an unknown one → 401, a pinned channel → 403."""
    token = (key or "").removeprefix("sk-")
    if not token:
        return 401, "No API key provided (Authorization: Bearer sk-…)"
    if _PINNED_RE.match(token):
        return 403, PINNED_MESSAGE
    if not _TOKEN_RE.match(token):
        return 401, "Invalid token"
    return None


def _api(handler: Handler, *, envelope: Envelope = "openai", body: BodyKind = "json",
         keys: tuple[str, ...] = (), needs_model: bool = True, billing: str = "call",
         public: bool = False, catalogue: bool = False,
         paid: bool | None = None, kind: RouteKind = "",
         early: Callable[[Ctx, dict[str, Any]], None] | None = None) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an endpoint with the relay middleware: request id, auth, faults, body and model checks, billing.

    ``billing``: "call" charges a finished call from its answer, "task" a task poll's ``quota`` once, "none"
    nothing. ``public`` routes (the price table, the site status) need no key. ``catalogue`` routes (the price
    table, the status, model lists) are not hit by injected error statuses (``fail_first``, ``error_rates``):
    those faults are for the calls, so "fail the first request" means the first call, not the table a session
    reads before it.

    What the middleware refuses (auth, limiters, body and model checks, the distributor) is answered in the
    middleware envelope on every route (§1.4, §10.5); the route's own envelope is for errors of the relay.

    ``paid`` routes (default: those billed per call; a video create, charged when its task ends, says so) are
    the ones the relay pre-consumes quota for, so only they meet its out-of-quota 403s (§10.5): an exhausted key
    still lists its models, reads its balance and polls its tasks.

    ``kind`` says what a route's models make (see :func:`_wrong_kind`); a model that makes something else is
    refused by its vendor: 400 in the route's envelope.

    ``early`` (a JSON route's) is given the body of a request the ``latency`` fault holds, while it waits, when it
    names a model the route serves: it may begin work the handler takes after the wait (:class:`~._common.Early`:
    an image is drawn while the request waits, as a relay's upstream works while the caller waits)."""
    spends = (billing == "call" and not catalogue) if paid is None else paid

    async def endpoint(request: Request) -> Response:
        began = Early()
        try:
            return await serve(request, began)
        finally:
            began.drop()

    async def serve(request: Request, began: Early) -> Response:
        state: SimState = request.app.state.sim
        rid = new_request_id(state.next_seq())
        try:
            faults = Faults.from_header(state.faults, request.headers.get(FAULTS_HEADER))
        except (ValueError, TypeError) as exc:
            return middleware_error(rid, 400, f"invalid X-Sim-Faults header: {exc}", "invalid_request")
        opened = await _body.decode_request(request)  # DecompressRequestMiddleware runs before the key check
        if isinstance(opened, Response):
            opened.headers[REQUEST_ID_HEADER] = rid
            return opened
        request = opened
        key = "sk-public" if public else _presented_key(request, keys)
        ctx = Ctx(request, state, faults, rid, envelope, key=key or "")
        if catalogue and state.catalogue_limited(faults):  # the global limiter runs before the key check
            return service_error(ctx, "empty-429")
        denied = _auth_refusal(key)
        if denied is not None:
            return middleware_error(rid, *denied)
        if faults.latency:
            if early is not None and body == "json":
                ctx.early = began
                began.start(request, lambda raw: _prepare(ctx, raw, early, kind))
            await asyncio.sleep(faults.latency)
        status = None if catalogue else state.injected_status(faults)
        if status is not None:
            return injected_error(ctx, status)
        guarded = not public and (spends or faults.service_error not in QUOTA_ERRORS)
        canned = state.service_error(faults) if guarded else None  # limiters; the quota guard: paid routes only
        if canned is not None:
            return service_error(ctx, canned)
        args: list[Any] = []
        model: str | None = None
        if body != "none":
            parsed = await _read_body(ctx, body)
            if isinstance(parsed, Response):
                return parsed
            args.append(parsed)
            model = parsed.get("model")
        if "model" in request.path_params:
            model = request.path_params["model"]
        limited: str | None = None
        if needs_model and body != "none":
            if not model or not isinstance(model, str):
                return middleware_error(rid, 400, "model is required", "invalid_request")
            limited = model.partition(":")[0]  # a Gemini path names the model with its action
            limit = next(((n, minutes) for suffix, n, minutes in RATE_LIMITS if limited.endswith(suffix)), None)
            if limit is None:
                limited = None
            elif state.rate_limited(ctx.token, limited, limit[0], 60.0 * limit[1]):
                return rate_limited(rid, *limit, echo=f" (token: {ctx.key})" if faults.echo_key else "")
            refusal = _no_channel(model.partition(":")[0], request.app.state.also_serves, faults.key_group)
            if refusal is not None:
                return middleware_error(rid, 503, refusal, "model_not_found")
            row = _pricing.row_for(model.partition(":")[0])
            if row is not None and _wrong_kind(row, kind):
                types = ", ".join(row.get("supported_endpoint_types") or [])
                return error_response(ctx, 400, f"model {model.partition(':')[0]} is not supported on "
                                      f"{request.url.path}: its endpoint types are {types}", "invalid_request",
                                      "invalid_request_error")
        try:
            response = await handler(ctx, *args, **request.path_params)
        except Exception as exc:  # a simulator bug should still answer in the envelope
            return error_response(ctx, 500, f"simulator error: {type(exc).__name__}: {exc}", "internal_error")
        if limited is not None and response.status_code < 400:
            state.served(ctx.token, limited)
        response.headers[REQUEST_ID_HEADER] = rid
        _pricing.charge_answer(ctx, billing, model, args[0] if args else None, response)
        return response

    return endpoint


def _prepare(ctx: Ctx, raw: bytes, early: Callable[[Ctx, dict[str, Any]], None], kind: RouteKind) -> None:
    """Hand a waiting request's body to its route's ``early`` hook when the middleware would pass it on (a JSON
    object naming a model the route serves); the request is answered after its wait whatever this does."""
    data = json.loads(raw or b"null")
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, str) or not model:
        return
    name = model.partition(":")[0]
    if _no_channel(name, ctx.request.app.state.also_serves, ctx.faults.key_group) is not None:
        return
    row = _pricing.row_for(name)
    if row is not None and _wrong_kind(row, kind):
        return
    early(ctx, data)


async def _read_body(ctx: Ctx, kind: BodyKind) -> dict[str, Any] | Form | Response:
    request = ctx.request
    ctype = request.headers.get("content-type", "")
    is_form = kind == "form" or (kind == "json_or_form" and ctype.startswith("multipart/"))
    if is_form and not ctype.startswith(("multipart/", "application/x-www-form-urlencoded")):
        return error_response(ctx, 400, "expected a multipart/form-data body", "invalid_request",
                              "invalid_request_error")
    try:  # the distributor reads the body (decoded, size-limited: sim/_body.py): its refusals are the middleware's
        if is_form:
            form = await read_form(request)
        else:  # (read while the request waited, when it did: the same bytes, or the same error)
            raw = await (ctx.early.body if ctx.early is not None and ctx.early.body is not None else request.body())
    except _body.BodyError as exc:
        if is_form:
            return middleware_error(ctx.request_id, exc.status, str(exc), exc.code)
        if isinstance(exc, _body.BodyCorrupt):
            return middleware_error(ctx.request_id, 400, "invalid JSON in request body", exc.code)
        if isinstance(exc, _body.BodyTooLarge) and "model" not in request.path_params:
            # the distributor read this body for its model: its failure is a 400, the size error wrapped in it
            return middleware_error(ctx.request_id, 400, f"invalid request, {exc}", "invalid_request")
        return middleware_error(ctx.request_id, exc.status, str(exc), exc.code)
    if is_form:
        if kind == "json_or_form":  # files (e.g. /v1/videos input_reference) arrive as data URLs
            out: dict[str, Any] = {k: v[-1] for k, v in form.fields.items()}
            for name, uploads in form.files.items():
                up = uploads[-1]
                out[name] = f"data:{up.content_type};base64,{base64.b64encode(up.data).decode()}"
            return out
        return form
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        return middleware_error(ctx.request_id, 400, "invalid JSON in request body", "invalid_request")
    if not isinstance(data, dict):
        return middleware_error(ctx.request_id, 400, "request body must be a JSON object", "invalid_request")
    return data


# ----------------------------------------------------------------------------- endpoint adapters


async def _gemini_route(ctx: Ctx, body: dict[str, Any], model: str) -> Response:
    name, _, action = model.partition(":")
    if action not in ("generateContent", "streamGenerateContent"):
        return error_response(ctx, 404, f"Invalid URL ({ctx.request.method} {ctx.request.url.path})", "",
                              "invalid_request_error")
    return await _gemini.generate(ctx, name, body, stream=action == "streamGenerateContent")


async def _transcriptions(ctx: Ctx, form: Form) -> Response:
    return await _audio.transcribe(ctx, form, translate=False)


async def _translations(ctx: Ctx, form: Form) -> Response:
    return await _audio.transcribe(ctx, form, translate=True)


async def _not_implemented(ctx: Ctx, **_: str) -> Response:
    return error_response(ctx, 501, "API not implemented", "api_not_implemented", "new_api_error")


#: The routes new-api answers 501 ``api_not_implemented`` (its ``RelayNotImplemented``, router/relay-router.go;
#: reference §1.4: "e.g. /v1/images/variations, /v1/files"), as (path, methods).
NOT_IMPLEMENTED: tuple[tuple[str, list[str]], ...] = (
    ("/v1/images/variations", ["POST"]), ("/v1/files", ["GET", "POST"]), ("/v1/files/{id}", ["GET", "DELETE"]),
    ("/v1/files/{id}/content", ["GET"]), ("/v1/fine-tunes", ["GET", "POST"]), ("/v1/fine-tunes/{id}", ["GET"]),
    ("/v1/fine-tunes/{id}/cancel", ["POST"]), ("/v1/fine-tunes/{id}/events", ["GET"]),
    ("/v1/models/{model}", ["DELETE"]),
)


async def _not_simulated(ctx: Ctx, **_: str) -> Response:
    """A route the relay family has (§10.7) that tokenhot_nb does not call: the live relay may serve (and bill) it;
    the simulator answers as new-api does for a route it lacks (501 ``api_not_implemented``), saying why."""
    return error_response(ctx, 501, f"API not implemented: {ctx.request.method} {ctx.request.url.path} is not "
                          "simulated (tokenhot_nb does not call it)", "api_not_implemented", "new_api_error")


#: §10.7 routes of the relay family that tokenhot_nb does not call: Responses compaction, a video remix (a new,
#: billed task from a finished one) and the Realtime API (a WebSocket: this simulator speaks HTTP only).
NOT_SIMULATED: tuple[tuple[str, list[str]], ...] = (
    ("/v1/responses/compact", ["POST"]), ("/v1/videos/{task_id}/remix", ["POST"]), ("/v1/realtime", ["GET"]),
)


async def _not_found(request: Request) -> Response:
    state: SimState = request.app.state.sim
    rid = new_request_id(state.next_seq())
    return error_response("openai", 404, f"Invalid URL ({request.method} {request.url.path})", "",
                          "invalid_request_error", request_id=rid)


# ----------------------------------------------------------------------------- /sim/* (no auth)


def _faults_for(request: Request) -> Faults:
    state: SimState = request.app.state.sim
    try:
        return Faults.from_header(state.faults, request.headers.get(FAULTS_HEADER))
    except (ValueError, TypeError):
        return state.faults


async def _get_faults(request: Request) -> Response:
    return JSONResponse(request.app.state.sim.faults.to_dict())


async def _put_faults(request: Request) -> Response:
    """PUT replaces all faults (unset names return to defaults); PATCH changes only the given names."""
    state: SimState = request.app.state.sim
    try:
        data = json.loads(await request.body() or b"{}")
        base = state.faults if request.method == "PATCH" else Faults()
        state.set_faults(base.merged(data))
    except (ValueError, TypeError) as exc:
        return JSONResponse({"error": {"message": str(exc), "type": "invalid_request_error", "code": ""}},
                            status_code=400)
    return JSONResponse(state.faults.to_dict())


async def _health(request: Request) -> Response:
    return JSONResponse({"ok": True, "tasks": len(request.app.state.sim.tasks)})


_PATTERN = b"tokenhot-sim-blob-" * 58254  # ~1 MiB of a recognisable pattern


def _blob(n: int, chunk: int = 1 << 20) -> Response:
    """``n`` bytes streamed in 1 MiB chunks: a large download costs the server no memory."""

    async def body() -> AsyncIterator[bytes]:
        left = n
        while left > 0:
            k = min(chunk, left, len(_PATTERN))
            yield _PATTERN[:k]
            left -= k

    return StreamingResponse(body(), media_type="application/octet-stream",
                             headers={"Content-Length": str(n)})


async def _blob_route(request: Request) -> Response:
    try:
        n = int(request.path_params["size"])
    except ValueError:
        n = -1
    if n < 0:
        return JSONResponse({"error": {"message": "size must be a non-negative integer", "code": ""}},
                            status_code=400)
    return _blob(n)


_SIGN_IN_PAGE = ("<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Please sign in</h1>"
                 "<form action=/login></form></body></html>")
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)$")


async def _file_route(request: Request) -> Response:
    """A stored image/video, like a signed CDN URL: no key needed, may expire, supports Range."""
    faults = _faults_for(request)
    if faults.expire_downloads:
        return Response("<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>"
                        "<Message>Request has expired</Message></Error>", status_code=403,
                        media_type="application/xml")
    if faults.download_size is not None:
        return _blob(faults.download_size)
    if faults.html_download:
        return Response(_SIGN_IN_PAGE, media_type="text/html")
    if faults.gzip_bomb:
        return gzip_bomb("image/png")
    stored = request.app.state.sim.files.get(request.path_params["name"])
    if stored is not None and stored.content_type.startswith("video/") and faults.video_not_video is not None:
        return _not_video(faults.video_not_video)
    if stored is None:
        return Response("<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>", status_code=404,
                        media_type="application/xml")
    data = stored.data
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "max-age=86400"}
    m = _RANGE_RE.match(request.headers.get("range", ""))
    if m and (m.group(1) or m.group(2)):
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
        else:
            start, end = max(0, len(data) - int(m.group(2))), len(data) - 1
        if start > end or start >= len(data):
            return Response(status_code=416, headers={"Content-Range": f"bytes */{len(data)}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return Response(data[start:end + 1], status_code=206, media_type=stored.content_type, headers=headers)
    return Response(data, media_type=stored.content_type, headers=headers)


#: What a finished task's video link serves under ``Faults.video_not_video``, labelled video/mp4.
_NOT_VIDEO = {
    "html": ("<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1>"
             "<p>The link has expired.</p></body></html>"),
    "json": '{"error": {"message": "the requested object is not available", "code": "NoSuchKey"}}',
}


def _not_video(kind: str) -> Response:
    return Response(_NOT_VIDEO[kind], media_type="video/mp4")


async def _video_content(ctx: Ctx, task_id: str) -> Response:
    if ctx.faults.video_not_video is not None and ctx.state.tasks.get(task_id) is not None:
        return _not_video(ctx.faults.video_not_video)
    if ctx.faults.download_size is not None and ctx.state.tasks.get(task_id) is not None:
        return _blob(ctx.faults.download_size)
    if ctx.faults.expire_downloads:  # the relay proxies the vendor's file: an expired one fails the same way
        return error_response(ctx, 403, "the video file has expired upstream", "file_expired")
    if ctx.faults.html_download:
        return Response(_SIGN_IN_PAGE, media_type="text/html")
    if ctx.faults.gzip_bomb:
        return gzip_bomb("video/mp4")
    return await _video.content(ctx, task_id)


# ----------------------------------------------------------------------------- app


def create_app(faults: Faults | None = None, task_dir: Path | None = None,
               also_serves: Iterable[str] = ()) -> Starlette:
    """A fresh simulator app with its own state (files, fail-first counters); video tasks are kept in
    ``task_dir`` (default: a per-user temp folder) so a new simulator can still answer for them.

    It serves the models of its price table; ``also_serves`` adds ids, for a relay in front of it that publishes
    a table of its own (the tests' stand-in for a service selling models the simulator's table does not list)."""
    routes = [
        Route("/v1/chat/completions", _api(_chat.chat_completions, kind="text"), methods=["POST"]),
        Route("/v1/responses", _api(_chat.responses, kind="text"), methods=["POST"]),
        Route("/v1/messages", _api(_chat.messages, envelope="claude", keys=("x-api-key",), kind="text"), methods=["POST"]),
        Route("/v1beta/models/{model}", _api(_gemini_route, keys=("goog",), kind="gemini"), methods=["POST"]),
        # google-genai's default api_version is v1: the same native routes under /v1/models/{model}:…
        Route("/v1/models/{model}", _api(_gemini_route, keys=("goog",), kind="gemini"), methods=["POST"]),
        Route("/v1beta/models", _api(_models.list_gemini_models, body="none", keys=("goog",), catalogue=True), methods=["GET"]),
        Route("/v1beta/models/{model}", _api(_models.get_gemini_model, body="none", keys=("goog",), catalogue=True,
                                             needs_model=False), methods=["GET"]),
        Route("/v1/images/generations", _api(_images.generations, kind="image", early=_images.draw_early),
              methods=["POST"]),
        Route("/v1/images/generations/", _api(_images.generations, kind="image", early=_images.draw_early),
              methods=["POST"]),
        Route("/v1/images/edits", _api(_images.edits, body="form", kind="image"), methods=["POST"]),
        *(Route(path, _api(_not_implemented, body="none"), methods=methods) for path, methods in NOT_IMPLEMENTED),
        *(Route(path, _api(_not_simulated, body="none"), methods=methods) for path, methods in NOT_SIMULATED),
        Route("/v1/video/generations", _api(_video.create, envelope="task", billing="none", paid=True, kind="video"),
              methods=["POST"]),
        Route("/v1/videos", _api(_video.create, envelope="task", body="json_or_form", billing="none", paid=True,
                                        kind="video"),
              methods=["POST"]),
        Route("/v1/video/generations/{task_id}", _api(_video.poll_generation, envelope="task", body="none",
                                                       billing="task"), methods=["GET"]),
        Route("/v1/videos/{task_id}", _api(_video.poll_video, envelope="task", body="none", billing="task"),
              methods=["GET"]),
        Route("/v1/videos/{task_id}/content", _api(_video_content, envelope="task", body="none"),
              methods=["GET"]),
        Route("/v1/audio/speech", _api(_audio.speech, kind="speech"), methods=["POST"]),
        Route("/v1/audio/transcriptions", _api(_transcriptions, body="form", kind="listen"), methods=["POST"]),
        Route("/v1/audio/translations", _api(_translations, body="form", kind="listen"), methods=["POST"]),
        Route("/v1/embeddings", _api(_embeddings.embeddings), methods=["POST"]),
        Route("/v1/rerank", _api(_rerank.rerank), methods=["POST"]),
        Route("/v1/models", _api(_models.list_models, body="none", keys=("x-api-key", "goog"), catalogue=True),
              methods=["GET"]),
        Route("/v1/models/{model_id}", _api(_models.get_model, body="none", keys=("x-api-key", "goog"),
                                            catalogue=True), methods=["GET"]),
        Route("/api/pricing", _api(_pricing.pricing, body="none", public=True, billing="none", catalogue=True),
              methods=["GET"]),
        Route("/api/status", _api(_pricing.status, body="none", public=True, billing="none", catalogue=True),
              methods=["GET"]),
        Route("/v1/dashboard/billing/subscription", _api(_pricing.subscription, body="none", billing="none"),
              methods=["GET"]),
        Route("/v1/dashboard/billing/usage", _api(_pricing.usage, body="none", billing="none"), methods=["GET"]),
        Route("/dashboard/billing/subscription", _api(_pricing.subscription, body="none", billing="none"),
              methods=["GET"]),
        Route("/dashboard/billing/usage", _api(_pricing.usage, body="none", billing="none"), methods=["GET"]),
        Route("/v1/credits", _api(_pricing.credits, body="none", billing="none"), methods=["GET"]),
        Route("/sim/faults", _get_faults, methods=["GET"]),
        Route("/sim/faults", _put_faults, methods=["PUT", "PATCH"]),
        Route("/sim/health", _health, methods=["GET"]),
        Route("/sim/blob/{size}", _blob_route, methods=["GET"]),
        Route("/sim/files/{name}", _file_route, methods=["GET", "HEAD"]),
        Route("/{path:path}", _not_found, methods=_ALL_METHODS),
    ]
    app = Starlette(routes=routes)
    app.state.sim = SimState(faults, task_dir)
    app.state.also_serves = frozenset(also_serves)
    return app
