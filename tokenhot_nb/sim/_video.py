"""Video tasks: create (``/v1/video/generations``, ``/v1/videos``), poll in both styles, download.

A task advances one stage per poll, never by the clock, so tests are deterministic: ``video_steps`` polls from
create to done, the waiting ones going through new-api's NOT_START, SUBMITTED and QUEUED before IN_PROGRESS (§10.3;
with few steps the earliest and latest waiting stages are skipped, as a slow poller misses them on the real service). The create
answer names its billing multipliers in ``X-New-Api-Other-Ratios`` (§10.5). The finished clip is a real H.264
MP4, encoded once per distinct request.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import string
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from . import _video_bodies as _bodies
from . import media
from ._common import Ctx, error_response, json_out, seed_of
from ._images import load_reference
from ._pricing import group_ratio, video_ratios, video_task_quota
from ._state import VideoTask

_ALPHABET = string.ascii_letters + string.digits
OTHER_RATIOS_HEADER = "X-New-Api-Other-Ratios"

#: A stage's name in each answer style (TaskDto, OpenAIVideo) and each upstream's raw task JSON.
_TASKDTO = {"not_start": "NOT_START", "submitted": "SUBMITTED", "queued": "QUEUED", "running": "IN_PROGRESS",
            "succeeded": "SUCCESS", "failed": "FAILURE"}
_OPENAI = {"not_start": "queued", "submitted": "queued", "queued": "queued", "running": "in_progress",
           "succeeded": "completed", "failed": "failed"}
_RAW = {
    "seedance": {"not_start": "queued", "submitted": "queued", "queued": "queued", "running": "running",
                 "succeeded": "succeeded", "failed": "failed"},
    "hailuo": {"not_start": "Preparing", "submitted": "Preparing", "queued": "Queueing", "running": "Processing",
               "succeeded": "Success", "failed": "Fail"},
    "dashscope": {"not_start": "PENDING", "submitted": "PENDING", "queued": "PENDING", "running": "RUNNING",
                  "succeeded": "SUCCEEDED", "failed": "FAILED"},
}


def _task_id(seed_text: str) -> str:
    digest = hashlib.sha256(seed_text.encode()).digest()
    return "task_" + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:32])


def _vendor(model: str) -> str:
    proto = _bodies.protocol(model)
    return proto if proto in ("seedance", "hailuo") else "dashscope"  # the raw upstream shape in data.data


async def create(ctx: Ctx, body: dict[str, Any]) -> Response:
    model = str(body["model"])
    if ctx.faults.video_create_error is not None:
        return _refused(ctx, ctx.faults.video_create_error)
    try:
        spec = _bodies.read(model, body)
    except _bodies.Refused as exc:
        return error_response(ctx, 400, str(exc), exc.code, "invalid_request_error")
    seed_value = int(spec.seed) if isinstance(spec.seed, int) and not isinstance(spec.seed, bool) \
        else seed_of(body) % 2147483647
    width, height = media.video_frame_size(spec.resolution, spec.ratio)
    seq = ctx.state.next_seq()
    first = spec.first_frame if isinstance(spec.first_frame, str) else None
    videos = spec.inputs.get("videos", 0)
    ratios = video_ratios(spec.seconds, spec.resolution, videos)
    kept = {k: v for k, v in body.items() if k in ("model", "ratio", "duration", "resolution")}
    task = VideoTask(id=_task_id(f"{ctx.request_id}|{seq}|{seed_of(body)}"), model=model, prompt=spec.prompt,
                     created_at=int(time.time()), seconds=spec.seconds, width=width, height=height,
                     resolution=spec.resolution, ratio=spec.ratio, seed=seed_value, steps=ctx.faults.video_steps,
                     fail=ctx.faults.video_failure, first_frame=first, body={**kept, "input_videos": videos},
                     owner=_owner(ctx))
    if ctx.faults.video_create_failed:  # the upstream refused it at submit: failed at once, with its reason
        task.fail, task.steps = True, 1
    task.videos = ctx.faults.video_count
    ctx.state.tasks[task.id] = task
    answer: dict[str, Any] = {"id": task.id, "task_id": task.id, "object": "video", "model": model,
                              "status": "queued", "progress": 0, "created_at": task.created_at}
    if task.fail and task.steps == 1:
        code, reason = _REASONS[_vendor(model)]
        answer.update(status="failed", error={"message": reason, "code": code})
    return json_out(ctx, answer, headers={OTHER_RATIOS_HEADER: json.dumps(ratios, separators=(",", ":"))})


def _refused(ctx: Ctx, kind: str) -> Response:
    """A create the relay refuses, answered HTTP 200 (``Faults.video_create_error``): its error in the envelope
    ``kind`` names and no task id; no task is made, so nothing is charged (new-api refunds its pre-charge)."""
    message = "model price not set for this group, ask the administrator"
    if kind == "openai":
        body: dict[str, Any] = {"error": {"message": f"{message} (request id: {ctx.request_id})",
                                          "type": "new_api_error", "code": "model_price_error"}}
    else:
        body = {"code": "model_price_error", "message": message, "data": None}
    return json_out(ctx, body)


def _owner(ctx: Ctx) -> str:
    return hashlib.sha256(ctx.token.encode()).hexdigest()[:16]


def _find(ctx: Ctx, task_id: str) -> VideoTask | None:
    """The task, when the key asking is the one that created it (new-api's lookup is by user and task id)."""
    task = ctx.state.tasks.get(task_id)
    return task if task is not None and task.owner in ("", _owner(ctx)) else None


def _task_missing(ctx: Ctx) -> Response:
    # the relay answers an unknown (or another key's) task id with 404 (§10.3)
    return error_response("task", 404, "task_not_exist", "task_not_exist", request_id=ctx.request_id)


def _waiting_stage(poll: int, waits: int) -> str:
    """Stage of waiting poll ``poll`` (1-based) of ``waits``. new-api makes a task NOT_START and its own background
    poller moves it on, so only a caller polling often (five or more waiting polls) sees that first stage; then
    submitted, queued when a running poll still follows, and running after that."""
    if waits >= 5:
        if poll == 1:
            return "not_start"
        poll -= 1
    if poll == 1:
        return "submitted"
    if poll == 2 and waits >= 3:
        return "queued"
    return "running"


async def _advance(ctx: Ctx, task: VideoTask) -> str:
    """Count this poll; returns the stage name: not_start, submitted, queued, running, succeeded or failed."""
    task.polls += 1
    try:
        if task.polls < task.steps:
            return _waiting_stage(task.polls, task.steps - 1)
        if task.fail:
            return "failed"
        await _ensure_video(ctx, task)
        videos = task.body.get("input_videos")
        videos = videos if isinstance(videos, int) else 0  # a task saved by an older simulator has none
        quota = video_task_quota(task.model, task.seconds, task.resolution, videos)
        task.quota = round(quota * group_ratio(ctx.faults.key_group))  # data.quota is what the key's group paid
        return "succeeded"
    finally:
        ctx.state.tasks.save(task)


async def _ensure_video(ctx: Ctx, task: VideoTask) -> str:
    """The finished clip's file name; rendered again (deterministically) by a simulator that never had it."""
    if task.video_sha is None or task.video_sha not in ctx.state.files:
        task.video_sha = await _render(ctx, task)
    return task.video_sha


async def _more_videos(ctx: Ctx, task: VideoTask) -> list[str]:
    """File URLs of a finished task's videos after its first (``Faults.video_count`` at its create): clips of their
    own (another seed each), served like the first's vendor copy."""
    more = [await _render(ctx, dataclasses.replace(task, seed=task.seed + i)) for i in range(1, task.videos)]
    return [ctx.file_url(name) for name in more]


def _listed(first: str, more: list[str]) -> Any:
    """One link as the wire has it, or, for a task that made several, the list of them in its place: the reference
    documents no shape for several (new-api's ``result_url`` is one string), so the simulator lists them where the
    one link goes."""
    return [first, *more] if more else first


async def _render(ctx: Ctx, task: VideoTask) -> str:
    ref = task.first_frame
    ref_bytes = load_reference(ctx, ref)
    key = hashlib.sha256(json.dumps([task.prompt, task.seconds, task.width, task.height, task.seed,
                                     hashlib.sha256(ref_bytes or b"").hexdigest()]).encode()).hexdigest()
    cached = ctx.state.video_cache.get(key)
    if cached and cached in ctx.state.files:
        return cached
    frame = media.open_image(ref_bytes) if ref_bytes else None
    fps = 10 if task.seconds <= 10 else 4  # long clips keep their length, with fewer frames to encode
    mp4 = await run_in_threadpool(media.encode_mp4, task.prompt, task.seconds, task.width, task.height,
                                  task.seed, fps, frame)
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
    """new-api's rough figures: nothing while submitted, 10 once queued, then the share of polls done."""
    if stage in ("succeeded", "failed"):
        return 100
    if stage in ("not_start", "submitted", "queued"):
        return 10 if stage == "queued" else 0
    return max(10, min(99, round(100 * task.polls / task.steps)))


def _raw_vendor(ctx: Ctx, task: VideoTask, stage: str, url: Any) -> dict[str, Any]:
    vendor = _vendor(task.model)
    code, reason = _REASONS[vendor]
    upstream_id = task.id.replace("task_", "")[:20]
    if vendor == "seedance":
        status = _RAW[vendor][stage]
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
        status = _RAW[vendor][stage]
        return {"task_id": upstream_id, "status": status,
                "file_id": upstream_id[:12] if stage == "succeeded" else "",
                "video_width": task.width if stage == "succeeded" else 0,
                "video_height": task.height if stage == "succeeded" else 0,
                "base_resp": {"status_code": int(code) if stage == "failed" else 0,
                              "status_msg": reason if stage == "failed" else "success"}}
    status = _RAW[vendor][stage]
    output: dict[str, Any] = {"task_id": upstream_id, "task_status": status}
    if stage == "succeeded":
        output["video_url"] = url
    if stage == "failed":
        output.update(code=code, message=reason)
    return {"request_id": ctx.request_id, "output": output,
            "usage": {"duration": task.seconds, "video_count": 1, "SR": 720}}


async def poll_generation(ctx: Ctx, task_id: str) -> Response:
    """``GET /v1/video/generations/{id}``: the new-api TaskDto wrapper."""
    task = _find(ctx, task_id)
    if task is None:
        return _task_missing(ctx)
    stage = await _advance(ctx, task)
    cdn = ctx.file_url(task.video_sha) if task.video_sha and stage == "succeeded" else ""
    url = _content_url(ctx, task) if stage == "succeeded" else ""  # on the API host: needs the key
    more = await _more_videos(ctx, task) if stage == "succeeded" else []
    if more and _vendor(task.model) == "hailuo":  # (its raw task names no link: the relay's own field lists them)
        url = _listed(url, more)
    cdn = _listed(cdn, more) if cdn else cdn
    code, reason = _REASONS[_vendor(task.model)]
    now = int(time.time())
    done = stage in ("succeeded", "failed")
    started = stage not in ("not_start", "submitted", "queued")
    data = {
        "id": abs(hash(task.id)) % 100000, "task_id": task.id, "platform": _vendor(task.model),
        "action": "generate", "status": _TASKDTO[stage], "progress": f"{_progress(task, stage)}%",
        "fail_reason": f"{code}: {reason}" if stage == "failed" else "", "result_url": url,
        "submit_time": task.created_at, "start_time": task.created_at if started else 0,
        "finish_time": now if done else 0,
        "created_at": task.created_at, "updated_at": now,
        "quota": task.quota if stage == "succeeded" else 0,
        "user_id": 1, "group": ctx.faults.key_group,  # the group the task was charged in (§4.1)
        "channel_id": 1,
        "properties": {"input": task.prompt, "upstream_model_name": task.model, "origin_model_name": task.model},
        "data": _raw_vendor(ctx, task, stage, cdn),
    }
    return json_out(ctx, {"code": "success", "message": "", "data": data})


def _openai_video(ctx: Ctx, task: VideoTask, stage: str, more: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": task.id, "task_id": task.id, "object": "video", "model": task.model, "status": _OPENAI[stage],
        "progress": _progress(task, stage), "created_at": task.created_at,
        "seconds": str(int(task.seconds)) if task.seconds == int(task.seconds) else str(task.seconds),
        "size": f"{task.width}x{task.height}",
    }
    if stage == "succeeded" and task.video_sha:
        out["completed_at"] = int(time.time())
        out["expires_at"] = int(time.time()) + 86400
        out["metadata"] = {"url": _listed(_content_url(ctx, task), more or [])}
    if stage == "failed":
        code, reason = _REASONS[_vendor(task.model)]
        out["error"] = {"message": reason, "code": code}
    return out


async def poll_video(ctx: Ctx, task_id: str) -> Response:
    """``GET /v1/videos/{id}``: the OpenAI video object, URL under ``metadata.url``."""
    task = _find(ctx, task_id)
    if task is None:
        return _task_missing(ctx)
    stage = await _advance(ctx, task)
    more = await _more_videos(ctx, task) if stage == "succeeded" else []
    return json_out(ctx, _openai_video(ctx, task, stage, more))


def _content_url(ctx: Ctx, task: VideoTask) -> str:
    return f"{ctx.base_url}/v1/videos/{task.id}/content"


async def content(ctx: Ctx, task_id: str) -> Response:
    """``GET /v1/videos/{id}/content``: the MP4 itself once the task succeeded (Bearer key required)."""
    task = _find(ctx, task_id)
    if task is None:
        return _task_missing(ctx)
    if task.video_sha is None or task.fail:
        return error_response("task", 400, f"task {task_id} is not completed", "task_not_completed",
                              request_id=ctx.request_id)
    stored = ctx.state.files[await _ensure_video(ctx, task)]
    return Response(stored.data, media_type="video/mp4",
                    headers={"Content-Disposition": f'inline; filename="{task_id}.mp4"'})
