"""Video: task create bodies per protocol family, poll requests, and one normaliser for every status shape.

Families (the catalogue says which model speaks which): ``seedance`` (Ark's native ``content[]`` body at the
top level), ``hailuo`` (new-api generic body; frames in ``metadata``), ``happyhorse`` and ``wan-video``
(DashScope ``input``/``parameters``), ``kling``, ``veo``, ``grok-video`` and ``gemini-omni-video`` (public
image URLs only). Option limits are catalogue capabilities, checked here before any request.

Images are ``(bytes, mime)`` or URL strings. To say what an image is for, pass
``{"image": <media>, "role": "first_frame" | "last_frame" | "reference_image"}``; without roles one image is
the first frame, two are first + last frame (when the model takes one), more are reference images.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..._config import redact
from ...catalog import ModelInfo
from ...errors import InputError, UnsupportedOptionError
from .. import _json
from .._common import check_listed, finish_body, finite, nest_fields
from .._types import HttpCall
from . import _options as opt
from ._bodies import BUILDERS, NESTED
from ._status import other_task, parse_create, parse_progress, parse_status

__all__ = ["build_create", "build_poll", "check_options", "families", "other_task", "parse_create",
           "parse_other_ratios", "parse_progress", "parse_status"]

_CREATE_PATHS = {"video.generations": "/v1/video/generations", "videos": "/v1/videos"}
_POLL_PATHS = {"generations": "/v1/video/generations/{id}", "videos": "/v1/videos/{id}"}
OTHER_RATIOS_HEADER = "x-new-api-other-ratios"


#: Body options whose allowed values the catalogue lists per model (HappyHorse video-edit's ``audio_setting``).
OPTION_LISTS = {"audio_setting": "audio_settings"}


def check_options(model: ModelInfo, options: Mapping[str, Any]) -> dict[str, Any]:
    """The call's own keyword options (not ``extra={…}``) with the listed ones checked against the model."""
    return check_listed(model, options, OPTION_LISTS)


def families() -> list[str]:
    """The video protocol families this module builds bodies for."""
    return list(BUILDERS)


def build_create(model: ModelInfo, prompt: str, *, images: Sequence[Any] = (), video: Any = None,
                 audio: Any = None, duration: int | None = None, resolution: str | None = None,
                 ratio: str | None = None, seed: int | None = None, extra: Mapping[str, Any] | None = None,
                 raw: Mapping[str, Any] | None = None) -> HttpCall:
    """A billed task create (never retried blindly: ``billed_create=True``).

    ``video`` / ``audio`` are one input or a list (Seedance 2.x takes up to 3 of each as references). ``extra``
    fields the protocol keeps nested (``watermark`` in a DashScope body's ``parameters``) are put there.
    """
    builder = BUILDERS.get(model.family) if model.kind == "video" else None
    if builder is None:
        raise UnsupportedOptionError(f"{model.id} (family {model.family!r}) is not a video model.",
                                     hint="Pick a video model: tokenhot_nb.models('video').")
    path = _CREATE_PATHS.get(model.endpoints[0], "/v1/video/generations")
    if raw is not None:
        return HttpCall("POST", path, json=finish_body({}, None, raw), billed_create=True)
    prompt = "" if prompt is None else str(prompt)
    if not prompt.strip() and not (images or video):
        raise InputError("The prompt is empty.", hint="Describe the video you want.")
    videos = opt.media_items(model, video, "video")
    audios = opt.media_items(model, audio, "audio")
    items = opt.assign_roles(model, opt.image_items(list(images)), bool(videos))
    if model.can("requires_image") and not items:
        raise InputError(f"{model.id} needs an input image ({opt.images_allowed(model)}).",
                         hint="Pass image=… / images=[…].")
    opt.check_public(model, videos, "video")
    o = opt.common(model, items, duration, resolution, ratio, seed)
    body = builder(model, prompt, items, videos, audios, o)
    extra = nest_fields(extra, NESTED.get(model.family, {}))  # watermark=True lands in parameters, not beside it
    return HttpCall("POST", path, json=finish_body(body, extra, None), billed_create=True)


def build_poll(task_id: str, style: str = "generations") -> HttpCall:
    """``GET /v1/video/generations/{id}`` (TaskDto wrapper) or ``GET /v1/videos/{id}`` (OpenAIVideo)."""
    if style not in _POLL_PATHS:
        raise ValueError(f"Unknown poll style {style!r}; use 'generations' or 'videos'.")
    if not task_id or not str(task_id).strip():
        raise InputError("No task id to poll.")
    tid = str(task_id).strip()
    if tid in (".", ".."):  # a dot segment, resolved by the URL, would poll another path of the API
        raise InputError(f"{tid!r} is no task id.",
                         hint="Pass the id the create answered (a video row's entry.response['task_id']), or the "
                              "row's history # to session.resume().")
    return HttpCall("GET", _POLL_PATHS[style].format(id=quote(tid, safe="")))


def parse_other_ratios(headers: Mapping[str, str]) -> dict[str, float] | None:
    """The billing multipliers a create's answer names in ``X-New-Api-Other-Ratios`` (§10.5: seconds, size,
    video_input…), kept as plain numbers (at most 16, short names); None when absent or unreadable."""
    raw = next((v for k, v in headers.items() if k.lower() == OTHER_RATIOS_HEADER), None)
    if not isinstance(raw, str) or len(raw) > 4096:
        return None
    try:
        data = _json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    # (a name redacted before its cut: a key across the cut would lose its end, and its start be no key)
    ratios = ((redact(str(k))[:40], finite(v) if isinstance(v, (int, float)) else None) for k, v in data.items())
    out = {k: v for k, v in ratios if v is not None}  # (finite: NaN, infinity, a 400-digit int are left out)
    return dict(list(out.items())[:16]) or None
