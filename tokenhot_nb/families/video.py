"""Video: task create bodies per family, poll requests, and a normaliser for every task status shape.

Families: ``seedance`` (new-api generic body, vendor options and ``content`` items in ``metadata``),
``hailuo`` (generic body; ``size`` carries the resolution, frames go in ``metadata``), ``happyhorse``
(DashScope-native ``input``/``parameters`` body, as Tokenhot documents it).

Images are ``(bytes, mime)`` or URL strings (sent as data URLs / URLs). To say what an image is for, pass
``{"image": <media>, "role": "first_frame" | "last_frame" | "reference_image"}``; without roles one image
is the first frame, two are first + last frame, more are reference images (per the model's capabilities).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..catalog import ModelInfo
from ..errors import APIError, InputError, UnsupportedOptionError
from ._common import dig, finish_body, media_url, pick_choice, unsupported, usage_from
from ._types import HttpCall, TaskState, TaskStatus, Usage

__all__ = ["build_create", "build_poll", "parse_create", "parse_progress", "parse_status"]

_CREATE_PATHS = {"video.generations": "/v1/video/generations", "videos": "/v1/videos"}
_POLL_PATHS = {"generations": "/v1/video/generations/{id}", "videos": "/v1/videos/{id}"}
_ROLES = ("first_frame", "last_frame", "reference_image")


# --- inputs ------------------------------------------------------------------------------------------


def _items(images: Sequence[Any]) -> list[tuple[str, str | None]]:
    """``(url, role or None)`` for each image input."""
    out: list[tuple[str, str | None]] = []
    for it in images:
        role = None
        if isinstance(it, Mapping):
            role = it.get("role")
            if role is not None and role not in _ROLES:
                raise InputError(f"Unknown image role {role!r}.", hint=f"Use one of: {', '.join(_ROLES)}.")
            media = it.get("image", it.get("url"))
            if media is None and it.get("data") is not None:
                media = (it["data"], it.get("mime", "image/png"))
            it = media
        out.append((media_url(it), role))
    return out


def _assign_roles(model: ModelInfo, items: list[tuple[str, str | None]], has_video: bool) -> list[tuple[str, str]]:
    """Default roles: with a video or on reference-only models → references; else first/last frame."""
    if all(r is not None for _, r in items):
        return [(u, r or "") for u, r in items]
    caps = model.capabilities
    by_frames = caps.get("first_frame") and not has_video and (
        len(items) == 1 or (len(items) == 2 and caps.get("last_frame"))
    )
    defaults = ["first_frame", "last_frame"] if by_frames else ["reference_image"] * len(items)
    return [(u, r or defaults[min(i, len(defaults) - 1)]) for i, (u, r) in enumerate(items)]


def _check_roles(model: ModelInfo, roles: list[str]) -> None:
    caps = model.capabilities
    if roles.count("first_frame") > 1 or roles.count("last_frame") > 1:
        raise InputError("Give at most one first_frame and one last_frame image.")
    if "first_frame" in roles and not caps.get("first_frame"):
        raise unsupported(model, "first-frame image", "image",
                          hint="This model does not start from an image; pick an image-to-video model.")
    if "last_frame" in roles and not caps.get("last_frame"):
        raise unsupported(model, "last-frame image", "image", hint="Pass only a first-frame image.")
    refs = roles.count("reference_image")
    limit = int(caps.get("reference_images") or 0)
    if refs > limit:
        raise UnsupportedOptionError(
            f"{model.id} takes {limit} reference image(s); got {refs}."
            + (" It uses one image as the first frame (and maybe a second as the last frame)."
               if caps.get("first_frame") else ""),
            hint="Pass fewer images, or mark them with {'image': …, 'role': 'first_frame'|'last_frame'}.",
        )
    if refs and ("first_frame" in roles or "last_frame" in roles):
        raise InputError("Frame images (first/last frame) and reference images cannot be mixed in one request.",
                         hint="Send either frame images or reference images.")


def _check_video(model: ModelInfo, video: Any) -> str | None:
    if video is None:
        if model.can("requires_video"):
            raise InputError(f"{model.id} transforms a video; pass video=<URL or (bytes, mime)>.")
        return None
    if not model.can("video_input"):
        raise unsupported(model, "video", "<video>", hint="Pick a model that takes an input video (e.g. a -V2V model).")
    return media_url(video, "video")


def _resolution(model: ModelInfo, value: Any) -> Any:
    allowed = model.choices("resolutions")
    if value is None:
        return None
    if not allowed:
        raise unsupported(model, "resolution", value)
    text = str(value).strip()
    for cand in (text, text + "p"):
        for a in allowed:
            if a.lower() == cand.lower():
                return a
    raise unsupported(model, "resolution", value, allowed)


def _duration(model: ModelInfo, value: Any) -> int | None:
    if value is None:
        return None
    allowed = model.choices("durations")
    if "durations" in model.capabilities and not allowed:
        raise unsupported(model, "duration", value, hint="This model's output length follows its input video.")
    try:
        d = int(value)
    except (TypeError, ValueError):
        raise unsupported(model, "duration", value, allowed) from None
    if allowed and d not in allowed:
        shown = allowed if len(allowed) <= 4 else [f"{min(a for a in allowed if a > 0)}–{max(allowed)} s"]
        raise UnsupportedOptionError(
            f"{model.id} does not accept duration={value!r}; allowed: {', '.join(map(str, shown))}"
            + (" (or -1 = automatic)" if -1 in allowed else "") + ".",
            hint="Pick a duration in that range.",
        )
    return d


def _ratio(model: ModelInfo, value: Any) -> str | None:
    if value is None:
        return None
    allowed = model.choices("ratios")
    if not allowed:
        raise unsupported(model, "ratio", value,
                          hint="This model takes its aspect ratio from the input image or resolution; drop ratio=.")
    return str(pick_choice(model, "ratio", str(value).strip(), allowed))


def _common(model: ModelInfo, duration: Any, resolution: Any, ratio: Any, seed: Any) -> dict[str, Any]:
    o = {
        "duration": _duration(model, duration if duration is not None else model.defaults.get("duration")),
        "resolution": _resolution(model, resolution if resolution is not None else model.defaults.get("resolution")),
        "ratio": _ratio(model, ratio if ratio is not None else model.defaults.get("ratio")),
        "seed": seed,
    }
    if seed is not None and not model.can("seed"):
        raise unsupported(model, "seed", seed)
    cap = dict(model.capabilities.get("resolution_max_duration") or {})
    limit = cap.get(o["resolution"])
    if limit is not None and o["duration"] is not None and o["duration"] > limit:
        raise UnsupportedOptionError(
            f"{model.id} makes {o['resolution']} videos of at most {limit} s; got duration={o['duration']}.",
            hint=f"Use duration={limit} or a lower resolution.",
        )
    return o


# --- builders per family --------------------------------------------------------------------------------


def _seedance(model: ModelInfo, prompt: str, images: list[tuple[str, str | None]], video: str | None,
              o: dict[str, Any]) -> dict[str, Any]:
    roled = _assign_roles(model, images, video is not None)
    _check_roles(model, [r for _, r in roled])
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": u}, "role": r} for u, r in roled]
    if video:
        content.append({"type": "video_url", "video_url": {"url": video}, "role": "reference_video"})
    meta: dict[str, Any] = {}
    for key in ("ratio", "resolution", "seed"):
        if o[key] is not None:
            meta[key] = o[key]
    if "watermark" in model.defaults:
        meta["watermark"] = model.defaults["watermark"]
    if content:
        meta["content"] = content
    body: dict[str, Any] = {"model": model.id, "prompt": prompt}
    if o["duration"] is not None:
        body["duration"] = o["duration"]
    if meta:
        body["metadata"] = meta
    return body


def _hailuo(model: ModelInfo, prompt: str, images: list[tuple[str, str | None]], video: str | None,
            o: dict[str, Any]) -> dict[str, Any]:
    roled = _assign_roles(model, images, False)
    _check_roles(model, [r for _, r in roled])
    body: dict[str, Any] = {"model": model.id, "prompt": prompt}
    if o["duration"] is not None:
        body["duration"] = o["duration"]
    if o["resolution"] is not None:
        body["size"] = o["resolution"]  # new-api maps size → resolution by substring
    meta: dict[str, Any] = {}
    for url, role in roled:
        meta["first_frame_image" if role == "first_frame" else "last_frame_image"] = url
    if model.defaults.get("prompt_optimizer") is not None:
        meta["prompt_optimizer"] = bool(model.defaults["prompt_optimizer"])
    if meta:
        body["metadata"] = meta
    return body


def _happyhorse(model: ModelInfo, prompt: str, images: list[tuple[str, str | None]], video: str | None,
                o: dict[str, Any]) -> dict[str, Any]:
    mode = model.capabilities.get("mode", "t2v")
    if mode == "t2v" and images:
        raise unsupported(model, "images", f"{len(images)} image(s)",
                          hint="happyhorse-1.0-t2v is text-only; use happyhorse-1.0-i2v (first frame) or -r2v.")
    if mode == "i2v" and len(images) != 1:
        raise InputError(f"{model.id} needs exactly one first-frame image; got {len(images)}.")
    if mode == "r2v" and not images:
        raise InputError(f"{model.id} needs 1–{model.capabilities.get('reference_images')} reference images.")
    roled = [(u, "first_frame") for u, _ in images] if mode == "i2v" else [(u, "reference_image") for u, _ in images]
    _check_roles(model, [r for _, r in roled])
    media: list[dict[str, Any]] = []
    if video:
        media.append({"type": "video", "url": video})
    media += [{"type": r, "url": u} for u, r in roled]
    inp: dict[str, Any] = {"prompt": prompt}
    if media:
        inp["media"] = media
    params: dict[str, Any] = {}
    if o["resolution"] is not None:
        params["resolution"] = o["resolution"]
    if o["duration"] is not None:
        params["duration"] = o["duration"]
    if o["ratio"] is not None:
        params["ratio"] = o["ratio"]
    params["watermark"] = bool(model.defaults.get("watermark", False))
    if o["seed"] is not None:
        params["seed"] = o["seed"]
    return {"model": model.id, "input": inp, "parameters": params}


_CREATE: dict[str, Callable[..., dict[str, Any]]] = {
    "seedance": _seedance,
    "hailuo": _hailuo,
    "happyhorse": _happyhorse,
}


def build_create(model: ModelInfo, prompt: str, *, images: Sequence[Any] = (), video: Any = None,
                 duration: int | None = None, resolution: str | None = None, ratio: str | None = None,
                 seed: int | None = None, extra: Mapping[str, Any] | None = None,
                 raw: Mapping[str, Any] | None = None) -> HttpCall:
    """A billed task create (never retried blindly: ``billed_create=True``)."""
    builder = _CREATE.get(model.family) if model.kind == "video" else None
    if builder is None:
        raise UnsupportedOptionError(f"{model.id} (family {model.family!r}) is not a video model.",
                                     hint="Pick a video model: tokenhot_nb.models('video').")
    path = _CREATE_PATHS.get(model.endpoints[0], "/v1/video/generations")
    if raw is not None:
        return HttpCall("POST", path, json=finish_body({}, None, raw), billed_create=True)
    if (not prompt or not str(prompt).strip()) and not (images or video):
        raise InputError("The prompt is empty.", hint="Describe the video you want.")
    items = _items(list(images))
    if model.can("requires_image") and not items:
        raise InputError(f"{model.id} needs an input image.", hint="Pass image=… / images=[…].")
    vid = _check_video(model, video)
    o = _common(model, duration, resolution, ratio, seed)
    body = builder(model, prompt, items, vid, o)
    return HttpCall("POST", path, json=finish_body(body, extra, None), billed_create=True)


def build_poll(task_id: str, style: str = "generations") -> HttpCall:
    """``GET /v1/video/generations/{id}`` (TaskDto wrapper) or ``GET /v1/videos/{id}`` (OpenAIVideo)."""
    if style not in _POLL_PATHS:
        raise ValueError(f"Unknown poll style {style!r}; use 'generations' or 'videos'.")
    if not task_id or not str(task_id).strip():
        raise InputError("No task id to poll.")
    return HttpCall("GET", _POLL_PATHS[style].format(id=quote(str(task_id).strip(), safe="")))


# --- parsing --------------------------------------------------------------------------------------------

_STATES: dict[str, TaskState] = {
    **dict.fromkeys(("not_start", "submitted", "queued", "pending", "preparing", "queueing", "created"), "pending"),
    **dict.fromkeys(("in_progress", "processing", "running", "generating"), "running"),
    **dict.fromkeys(("success", "succeeded", "succeed", "completed", "complete", "done"), "succeeded"),
    **dict.fromkeys(("failure", "failed", "fail", "error", "expired", "cancelled", "canceled"), "failed"),
    "unknown": "unknown",
}


def parse_progress(value: Any) -> int | None:
    """``"50%"``, ``50``, ``"50"`` or ``0.5`` → 50 (clamped to 0..100); None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        m = re.search(r"-?\d+(?:\.\d+)?", value)
        if not m:
            return None
        num = float(m.group())
        if "%" not in value and "." in m.group() and 0 < num <= 1:
            num *= 100
    elif isinstance(value, (int, float)):
        num = float(value) * 100 if isinstance(value, float) and 0 < value < 1 else float(value)
    else:
        return None
    return max(0, min(100, round(num)))


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v.strip() else None


def _core(body: dict[str, Any]) -> dict[str, Any]:
    """The task object: TaskDto/simplified ``data``, or the body itself (OpenAIVideo, raw upstream)."""
    data = body.get("data")
    if isinstance(data, dict) and any(k in data for k in ("status", "task_status", "task_id", "output", "result_url")):
        return data
    return body


def _state(core: dict[str, Any]) -> tuple[TaskState, str | None]:
    raw = _str(core.get("status"))
    ali = False
    if raw is None:
        raw = _str(dig(core, "output", "task_status")) or _str(core.get("task_status"))
        ali = raw is not None
    if raw is None:
        return "unknown", None
    state = _STATES.get(raw.strip().lower(), "unknown")
    if ali and state == "unknown":
        state = "failed"  # DashScope UNKNOWN means the task is gone
    return state, raw


_URL_PATHS: tuple[tuple[str, ...], ...] = (
    ("result_url",), ("url",), ("video_url",), ("metadata", "url"), ("content", "video_url"), ("output", "video_url"),
    ("data", "content", "video_url"), ("data", "output", "video_url"), ("data", "video_url"), ("data", "url"),
    ("file", "download_url"), ("data", "file", "download_url"),
)


def _url(core: dict[str, Any], body: dict[str, Any], state: TaskState) -> str | None:
    for obj in (core, body) if core is not body else (core,):
        for path in _URL_PATHS:
            url = _str(dig(obj, *path))
            if url:
                return url.strip()
    reason = _str(core.get("fail_reason"))
    if state == "succeeded" and reason and reason.strip().startswith(("http://", "https://")):
        return reason.strip()  # legacy new-api tasks keep the URL in fail_reason
    return None


def _error(core: dict[str, Any], body: dict[str, Any]) -> tuple[str | None, str | None]:
    msg: str | None = None
    code: Any = None
    reason = _str(core.get("fail_reason"))
    if reason and not reason.strip().startswith(("http://", "https://")):
        msg = reason
    for err in (core.get("error"), dig(core, "data", "error"), dig(core, "output"), dig(core, "data", "output")):
        if isinstance(err, dict):
            msg = msg or _str(err.get("message"))
            code = code or err.get("code")
        elif isinstance(err, str) and err.strip():
            msg = msg or err
    base = core.get("base_resp")
    if isinstance(base, dict) and base.get("status_code") not in (None, 0):
        msg = msg or _str(base.get("status_msg"))
        code = code or base.get("status_code")
    if code is None and body.get("code") not in (None, "success", 0, "0"):
        code = body.get("code")
        msg = msg or _str(body.get("message"))
    return msg, (str(code) if code not in (None, "") else None)


def _task_id(body: dict[str, Any]) -> str | None:
    for path in (("task_id",), ("id",), ("data", "task_id"), ("data", "id"), ("output", "task_id")):
        v = dig(body, *path)
        if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip():
            return str(v).strip()
    return None


def _usage(core: dict[str, Any]) -> Usage:
    src = core.get("usage") if isinstance(core.get("usage"), dict) else dig(core, "data", "usage")
    usage = usage_from(src) if isinstance(src, dict) else Usage()
    for v in (core.get("seconds"), core.get("duration"), dig(core, "data", "duration")):
        try:
            if v is not None and float(v) > 0:
                usage.video_seconds = float(v)
                break
        except (TypeError, ValueError):
            continue
    return usage


def parse_status(task_id: str | None, body: Any) -> TaskStatus:
    """Normalise TaskDto wrappers, the simplified Gemini shape, OpenAIVideo and raw upstream task JSON."""
    if not isinstance(body, dict):
        return TaskStatus(task_id=task_id or "", state="unknown", raw=body)
    core = _core(body)
    state, raw_status = _state(core)
    msg, code = _error(core, body)
    if raw_status is None and body.get("code") not in (None, "success") and body.get("data") is None:
        state = "failed"  # a task envelope error delivered with a 2xx status
    progress = parse_progress(core.get("progress"))
    if state == "succeeded":
        progress = 100
    url = _url(core, body, state)
    return TaskStatus(
        task_id=task_id or _task_id(body) or "",
        state=state,
        progress=progress or 0,
        url=url,
        error=msg if state == "failed" else None,
        error_code=code if state == "failed" else None,
        raw_status=raw_status,
        usage=_usage(core),
        raw=body,
    )


def parse_create(body: Any) -> TaskStatus:
    """The create reply (OpenAIVideo; ``id``/``task_id``, or nested ``data.task_id``) as a first status."""
    if not isinstance(body, dict):
        raise APIError(f"The video create reply was not JSON: {str(body)[:200]!r}", body=body)
    tid = _task_id(body)
    if not tid:
        msg = _str(body.get("message")) or _str(dig(body, "error", "message"))
        raise APIError(
            "The video create reply has no task id" + (f": {msg}" if msg else "."),
            code=str(body.get("code")) if body.get("code") is not None else None,
            body=body,
            hint="The task may not have been created; check the console before retrying (creates are billed).",
        )
    status = parse_status(tid, body)
    if status.raw_status is None:
        status.state = "pending"
    return status
