"""Video tasks: create (``/v1/video/generations``, ``/v1/videos``), poll in both styles, download.

A task advances one stage per poll (``video_steps`` polls from queued to done), never by the clock, so
tests are deterministic. The finished clip is a real H.264 MP4, encoded once per distinct request.
"""

from __future__ import annotations

import hashlib
import json
import string
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from . import media
from ._common import Ctx, error_response, json_out, obj, seed_of
from ._images import load_reference
from ._pricing import video_task_quota
from ._state import VideoTask

_ALPHABET = string.ascii_letters + string.digits


def _task_id(seed_text: str) -> str:
    digest = hashlib.sha256(seed_text.encode()).digest()
    return "task_" + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:32])


def _vendor(model: str) -> str:
    m = model.lower()
    if "seedance" in m:
        return "seedance"
    if "hailuo" in m or "minimax" in m:
        return "hailuo"
    return "dashscope"  # happyhorse, wan and anything else


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = {}
    return meta if isinstance(meta, dict) else {}


def _first(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "", [])), None)


def _first_frame_ref(body: dict[str, Any], meta: dict[str, Any]) -> Any:
    inp = obj(body.get("input"))
    for item in inp.get("media") or []:
        if isinstance(item, dict) and item.get("type") in ("first_frame", "reference_image"):
            return item.get("url")
    for item in meta.get("content") or []:
        if isinstance(item, dict) and item.get("type") == "image_url":
            return (item.get("image_url") or {}).get("url")
    images = body.get("images") if isinstance(body.get("images"), list) else []
    return _first(body.get("image"), images[0] if images else None, meta.get("first_frame_image"),
                  body.get("input_reference"))


def _ratio_from_size(size: Any) -> str | None:
    if isinstance(size, str) and ("x" in size or "*" in size):
        w, h = media.parse_size(size)
        for name, (aw, ah) in (("16:9", (16, 9)), ("9:16", (9, 16)), ("1:1", (1, 1)), ("4:3", (4, 3)),
                               ("3:4", (3, 4))):
            if abs(w / h - aw / ah) < 0.05:
                return name
    return None


async def create(ctx: Ctx, body: dict[str, Any]) -> Response:
    model = str(body["model"])
    meta = _metadata(body)
    inp = obj(body.get("input"))
    params = obj(body.get("parameters"))
    prompt = str(_first(body.get("prompt"), inp.get("prompt"), meta.get("prompt")) or "")
    if not prompt and not _first_frame_ref(body, meta) and not inp.get("media"):
        return error_response(ctx, 400, "prompt is required", "invalid_request", "invalid_request_error")
    try:
        seconds = float(_first(body.get("duration"), body.get("seconds"), params.get("duration"),
                               meta.get("duration")) or 5)
    except (TypeError, ValueError):
        return error_response(ctx, 400, "duration must be a number", "invalid_request", "invalid_request_error")
    size = body.get("size")
    resolution = str(_first(params.get("resolution"), meta.get("resolution"),
                            size if isinstance(size, str) and size.upper().endswith("P") else None) or "720P")
    ratio = str(_first(params.get("ratio"), meta.get("ratio"), _ratio_from_size(size)) or "16:9")
    seed = _first(params.get("seed"), meta.get("seed"), body.get("seed"))
    seed_value = int(seed) if isinstance(seed, int) else seed_of(body) % 2147483647
    width, height = media.video_frame_size(resolution, ratio)
    seq = ctx.state.next_seq()
    task = VideoTask(id=_task_id(f"{ctx.request_id}|{seq}|{seed_of(body)}"), model=model, prompt=prompt,
                     created_at=int(time.time()), seconds=seconds, width=width, height=height,
                     resolution=resolution, ratio=ratio, seed=seed_value, steps=ctx.faults.video_steps,
                     fail=ctx.faults.video_failure, body=body)
    task.body["_first_frame"] = _first_frame_ref(body, meta)
    ctx.state.tasks[task.id] = task
    return json_out(ctx, {"id": task.id, "task_id": task.id, "object": "video", "model": model,
                          "status": "queued", "progress": 0, "created_at": task.created_at})


def _task_missing(ctx: Ctx) -> Response:
    return error_response("task", 400, "task_not_exist", "task_not_exist", request_id=ctx.request_id)


async def _advance(ctx: Ctx, task: VideoTask) -> str:
    """Count this poll; returns the stage name: queued, running, succeeded or failed."""
    task.polls += 1
    if task.polls < task.steps:
        return "running"
    if task.fail:
        return "failed"
    if task.video_sha is None:
        task.video_sha = await _render(ctx, task)
    return "succeeded"


async def _render(ctx: Ctx, task: VideoTask) -> str:
    ref = task.body.get("_first_frame")
    ref_bytes = load_reference(ctx, ref)
    key = hashlib.sha256(json.dumps([task.prompt, task.seconds, task.width, task.height, task.seed,
                                     hashlib.sha256(ref_bytes or b"").hexdigest()]).encode()).hexdigest()
    cached = ctx.state.video_cache.get(key)
    if cached and cached in ctx.state.files:
        return cached
    frame = media.open_image(ref_bytes) if ref_bytes else None
    mp4 = await run_in_threadpool(media.encode_mp4, task.prompt, task.seconds, task.width, task.height,
                                  task.seed, 10, frame)
    name = ctx.state.put_file(mp4, "video/mp4", "mp4")
    ctx.state.video_cache[key] = name
    return name


_REASONS = {
    "seedance": ("OutputVideoSensitiveContentDetected",
                 "The request failed because the output video may contain sensitive information."),
    "hailuo": ("1026", "video generation failed: input or output contains sensitive content"),
    "dashscope": ("DataInspectionFailed", "Output data may contain inappropriate content."),
}


def _progress(task: VideoTask, stage: str) -> int:
    if stage in ("succeeded", "failed"):
        return 100
    return min(99, round(100 * task.polls / task.steps))


def _raw_vendor(ctx: Ctx, task: VideoTask, stage: str, url: str) -> dict[str, Any]:
    vendor = _vendor(task.model)
    code, reason = _REASONS[vendor]
    upstream_id = task.id.replace("task_", "")[:20]
    if vendor == "seedance":
        status = {"queued": "queued", "running": "running", "succeeded": "succeeded", "failed": "failed"}[stage]
        raw: dict[str, Any] = {"id": f"cgt-{upstream_id}", "model": task.model, "status": status,
                               "error": {"code": code, "message": reason} if stage == "failed" else None,
                               "created_at": task.created_at, "updated_at": int(time.time()),
                               "seed": task.seed, "resolution": task.resolution.lower(), "ratio": task.ratio,
                               "duration": task.seconds, "framespersecond": 24}
        if stage == "succeeded":
            raw["content"] = {"video_url": url}
            raw["usage"] = {"completion_tokens": 108900, "total_tokens": 108900}
        return raw
    if vendor == "hailuo":
        status = {"queued": "Queueing", "running": "Processing", "succeeded": "Success", "failed": "Fail"}[stage]
        return {"task_id": upstream_id, "status": status,
                "file_id": upstream_id[:12] if stage == "succeeded" else "",
                "video_width": task.width if stage == "succeeded" else 0,
                "video_height": task.height if stage == "succeeded" else 0,
                "base_resp": {"status_code": int(code) if stage == "failed" else 0,
                              "status_msg": reason if stage == "failed" else "success"}}
    status = {"queued": "PENDING", "running": "RUNNING", "succeeded": "SUCCEEDED", "failed": "FAILED"}[stage]
    output: dict[str, Any] = {"task_id": upstream_id, "task_status": status}
    if stage == "succeeded":
        output["video_url"] = url
    if stage == "failed":
        output.update(code=code, message=reason)
    return {"request_id": ctx.request_id, "output": output,
            "usage": {"duration": task.seconds, "video_count": 1, "SR": 720}}


async def poll_generation(ctx: Ctx, task_id: str) -> Response:
    """``GET /v1/video/generations/{id}``: the new-api TaskDto wrapper."""
    task = ctx.state.tasks.get(task_id)
    if task is None:
        return _task_missing(ctx)
    stage = await _advance(ctx, task)
    url = ctx.file_url(task.video_sha) if task.video_sha and stage == "succeeded" else ""
    code, reason = _REASONS[_vendor(task.model)]
    now = int(time.time())
    status = {"queued": "SUBMITTED", "running": "IN_PROGRESS", "succeeded": "SUCCESS", "failed": "FAILURE"}[stage]
    done = stage in ("succeeded", "failed")
    data = {
        "id": abs(hash(task.id)) % 100000, "task_id": task.id, "platform": _vendor(task.model),
        "action": "generate", "status": status, "progress": f"{_progress(task, stage)}%",
        "fail_reason": f"{code}: {reason}" if stage == "failed" else "", "result_url": url,
        "submit_time": task.created_at, "start_time": task.created_at, "finish_time": now if done else 0,
        "created_at": task.created_at, "updated_at": now,
        "quota": video_task_quota(task.model, task.seconds, task.resolution) if stage == "succeeded" else 0,
        "user_id": 1, "group": "default",
        "channel_id": 1,
        "properties": {"input": task.prompt, "upstream_model_name": task.model, "origin_model_name": task.model},
        "data": _raw_vendor(ctx, task, stage, url),
    }
    return json_out(ctx, {"code": "success", "message": "", "data": data})


def _openai_video(ctx: Ctx, task: VideoTask, stage: str) -> dict[str, Any]:
    status = {"queued": "queued", "running": "in_progress", "succeeded": "completed", "failed": "failed"}[stage]
    out: dict[str, Any] = {
        "id": task.id, "task_id": task.id, "object": "video", "model": task.model, "status": status,
        "progress": _progress(task, stage), "created_at": task.created_at,
        "seconds": str(int(task.seconds)) if task.seconds == int(task.seconds) else str(task.seconds),
        "size": f"{task.width}x{task.height}",
    }
    if stage == "succeeded" and task.video_sha:
        out["completed_at"] = int(time.time())
        out["expires_at"] = int(time.time()) + 86400
        out["metadata"] = {"url": ctx.file_url(task.video_sha)}
    if stage == "failed":
        code, reason = _REASONS[_vendor(task.model)]
        out["error"] = {"message": reason, "code": code}
    return out


async def poll_video(ctx: Ctx, task_id: str) -> Response:
    """``GET /v1/videos/{id}``: the OpenAI video object, URL under ``metadata.url``."""
    task = ctx.state.tasks.get(task_id)
    if task is None:
        return _task_missing(ctx)
    stage = await _advance(ctx, task)
    return json_out(ctx, _openai_video(ctx, task, stage))


async def content(ctx: Ctx, task_id: str) -> Response:
    """``GET /v1/videos/{id}/content``: the MP4 itself once the task succeeded."""
    task = ctx.state.tasks.get(task_id)
    if task is None:
        return _task_missing(ctx)
    if task.video_sha is None or task.fail:
        return error_response("task", 400, f"task {task_id} is not completed", "task_not_completed",
                              request_id=ctx.request_id)
    stored = ctx.state.files[task.video_sha]
    return Response(stored.data, media_type="video/mp4",
                    headers={"Content-Disposition": f'inline; filename="{task_id}.mp4"'})
