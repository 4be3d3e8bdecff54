"""What the service accepts as a video create body, per protocol (reference §10.2, §5.2, §4.2), written from the
wire format: each reader returns the job's spec or the service's refusal (one message, HTTP 400).

The model id picks the protocol (the service knows its own models); an id it does not recognise gets stock
new-api's generic body (``prompt`` + ``duration``/``seconds`` + ``metadata``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._common import obj


class Refused(Exception):
    """The body is one the service refuses; ``str(exc)`` is its message, ``code`` the task envelope's code."""

    def __init__(self, message: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Spec:
    """What a create asked for, in the simulator's terms."""

    prompt: str
    seconds: float
    resolution: str = "720p"
    ratio: str = "16:9"
    seed: int | None = None
    first_frame: Any = None  # a URL or data URL the clip starts from, when given
    inputs: dict[str, int] = field(default_factory=dict)  # counts of input media, for the record


AUTO_SECONDS = 5.0  # what "-1 = automatic" comes out as


def protocol(model: str) -> str:
    m = model.lower()
    for needle, name in (("seedance", "seedance"), ("hailuo", "hailuo"), ("minimax", "hailuo"),
                         ("happyhorse", "happyhorse"), ("kling", "kling"), ("veo", "veo"),
                         ("grok-imagine-video", "grok"), ("gemini-omni-video", "omni")):
        if needle in m:
            return name
    if m.startswith("wan") and "video" in m:
        return "wan"
    return "generic"


def _int(value: Any, what: str, allowed: range | tuple[int, ...], *, text: bool = False) -> int:
    """A whole number in ``allowed``. A native body's integer field is a JSON number: a string ("5") or a bool is
    the wrong type, which the service's decoder refuses; ``text=True`` is new-api's generic body, whose
    ``duration`` is int or string (§4.2)."""
    try:
        if isinstance(value, bool) or (isinstance(value, str) and not text) or float(value) != int(float(value)):
            raise ValueError
        n = int(float(value))
    except (TypeError, ValueError):
        raise Refused(f"{what} must be an integer, got {value!r}") from None
    if n not in allowed:
        shown = f"{allowed.start}-{allowed.stop - 1}" if isinstance(allowed, range) else "/".join(map(str, allowed))
        raise Refused(f"{what} must be one of {shown}, got {n}")
    return n


def _bool(body: dict[str, Any], names: tuple[str, ...], where: str = "") -> None:
    """A flag the service decodes as a JSON boolean: ``"false"`` or 0 is the wrong type, refused."""
    for name in names:
        if name in body and not isinstance(body[name], bool):
            raise Refused(f"{where}{name} must be a boolean (true or false), got {body[name]!r}")


def _choice(value: Any, what: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise Refused(f"{what} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _public(url: Any, what: str) -> str:
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise Refused(f"{what} must be a public http(s) URL")
    return url


def _media_url(url: Any, what: str, media: str) -> str:
    """A Seedance media URL (§5.1 [V]): images as public http(s) or base64 ``data:image/`` URLs; videos and audios
    by public http(s) URL only."""
    lowered = url.lower() if isinstance(url, str) else ""
    if media == "image" and lowered.startswith("data:image/") and ";base64," in lowered:
        return str(url)
    if not lowered.startswith(("http://", "https://")) or len(lowered) <= len("https://"):
        if media == "image":
            raise Refused(f"{what} must be a public http(s) URL or a base64 data:image/ URL")
        raise Refused(f"{what} must be a public http(s) URL ({'an' if media == 'audio' else 'a'} {media} is taken by URL only)")
    return str(url)


def _prompt(value: Any, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise Refused("prompt is required")
    return value


# ----------------------------------------------------------------------------- Seedance (Ark native)

_SEEDANCE_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
_ROLES = {"image_url": ("first_frame", "last_frame", "reference_image"), "video_url": ("reference_video",),
          "audio_url": ("reference_audio",)}


def seedance(model: str, body: dict[str, Any]) -> Spec:
    m = model.lower()
    content = body.get("content")
    if "metadata" in body or not isinstance(content, list) or not content:
        raise Refused("content[] required, no metadata")
    texts, roles = [], []
    first = None
    for i, item in enumerate(content):
        kind = obj(item).get("type")
        if kind == "text":
            if i != 0:
                raise Refused("the text item must come first in content[]")
            texts.append(_prompt(item.get("text"), required=False))
            continue
        if kind not in _ROLES:
            raise Refused(f"content[{i}].type must be text, image_url, video_url or audio_url, got {kind!r}")
        url = obj(item.get(kind)).get("url")
        if not isinstance(url, str) or not url:
            raise Refused(f"content[{i}].{kind}.url is required")
        _media_url(url, f"content[{i}].{kind}.url", kind.removesuffix("_url"))  # §5.1
        role = item.get("role", "first_frame" if kind == "image_url" else None)
        if role not in _ROLES[kind]:
            raise Refused(f"content[{i}].role must be one of {', '.join(_ROLES[kind])} for {kind}")
        roles.append(role)
        if role == "first_frame" or (first is None and role == "reference_image"):
            first = url
    frames = roles.count("first_frame") + roles.count("last_frame")
    refs, videos, audios = roles.count("reference_image"), roles.count("reference_video"), roles.count("reference_audio")
    v2 = "2-0" in m or "2.0" in m or "2-5" in m or "2.5" in m
    if frames and (refs or videos or audios):
        raise Refused("first/last frame images cannot be mixed with reference images, videos or audios")
    if roles.count("first_frame") > 1 or roles.count("last_frame") > 1:
        raise Refused("at most one first_frame and one last_frame")
    max_refs = 30 if ("2-5" in m or "2.5" in m) else 9
    if refs > max_refs or videos > 3 or audios > 3:
        raise Refused(f"too many references: at most {max_refs} images, 3 videos and 3 audios")
    if (refs or videos or audios) and not v2:
        raise Refused(f"{model} does not take reference media")
    if audios and not (refs or videos):
        raise Refused("audio-only input is not allowed; add a reference image or video")
    if "v2v" in m and not videos:
        raise Refused(f"{model} needs a video_url item (role reference_video)")
    if not texts and not roles:
        raise Refused("content[] needs a text item or an image")
    if "2-5" in m or "2.5" in m:
        durations = (-1, *range(4, 31))
    elif "1-5" in m or "1.5" in m:
        durations = (-1, *range(2, 13))
    else:
        durations = (-1, *range(4, 16))
    duration = _int(body.get("duration", 5), "duration", durations)
    fast = "fast" in m or "mini" in m
    resolution = _choice(body.get("resolution", "720p"), "resolution",
                         ("480p", "720p") if fast else ("480p", "720p", "1080p", "4k"))
    ratio = _choice(body.get("ratio", "adaptive" if first else "16:9"), "ratio", _SEEDANCE_RATIOS)
    if ("2-5" in m or "2.5" in m) and roles.count("first_frame") and ratio != "adaptive":
        raise Refused("a job with a first frame needs ratio \"adaptive\"")
    _bool(body, ("watermark", "generate_audio", "camera_fixed", "return_last_frame", "draft"))
    seed = body.get("seed")
    if seed is not None:
        _int(seed, "seed", range(-1, 2**32))  # §5.1: -1 (random) to 2^32-1
    return Spec(texts[0] if texts else "", AUTO_SECONDS if duration == -1 else float(duration), resolution,
                "16:9" if ratio == "adaptive" else ratio, seed if isinstance(seed, int) else None, first,
                {"images": refs + frames, "videos": videos, "audios": audios})


# ----------------------------------------------------------------------------- DashScope-style (HappyHorse, Wan 3.0)


def _dashscope(body: dict[str, Any], resolutions: tuple[str, ...], durations: range
               ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    inp, params = body.get("input"), body.get("parameters", {})
    if not isinstance(inp, dict):
        raise Refused("input.prompt is required (body: {model, input: {prompt, media}, parameters})")
    if not isinstance(params, dict):
        raise Refused("parameters must be an object (body: {model, input: {prompt, media}, parameters})")
    _prompt(inp.get("prompt"))
    media = inp.get("media") or []
    if not isinstance(media, list) or not all(isinstance(x, dict) and isinstance(x.get("url"), str)
                                              and x["url"].strip() for x in media):
        raise Refused("input.media must be a list of {type, url}, each with a URL")
    _bool(params, ("watermark", "audio", "prompt_extend"), "parameters.")
    if "resolution" in params:
        _choice(params["resolution"], "parameters.resolution", resolutions)
    if "duration" in params:
        _int(params["duration"], "parameters.duration", durations)
    return inp, params, media


def happyhorse(model: str, body: dict[str, Any]) -> Spec:
    m = model.lower()
    edit = "video-edit" in m
    inp, params, media = _dashscope(body, ("720P", "1080P"), range(3, 16))
    kinds = [x.get("type") for x in media]
    if "i2v" in m and kinds != ["first_frame"]:
        raise Refused("i2v needs exactly one media item of type first_frame")
    if "i2v" in m and "ratio" in params:
        raise Refused("ratio is not supported for i2v (it follows the image)")
    if "t2v" in m and media:
        raise Refused("t2v takes no media")
    if "r2v" in m and not (1 <= kinds.count("reference_image") == len(kinds) <= 9):
        raise Refused("r2v needs 1-9 media items of type reference_image")
    if edit and (kinds.count("video") != 1 or kinds.count("reference_image") > 5 or "duration" in params
                 or "ratio" in params or len(kinds) != kinds.count("video") + kinds.count("reference_image")):
        raise Refused("video-edit needs exactly one media item of type video, 0-5 reference_image, and no duration "
                      "or ratio")
    if "audio_setting" in params and (not edit or params["audio_setting"] not in ("auto", "origin")):
        raise Refused("parameters.audio_setting is video-edit's, auto or origin")
    if "ratio" in params:
        _choice(params["ratio"], "parameters.ratio", ("16:9", "9:16", "1:1", "4:3", "3:4"))
    if "seed" in params:
        _int(params["seed"], "parameters.seed", range(0, 2_147_483_648))
    first = next((x["url"] for x in media if x.get("type") in ("first_frame", "reference_image")), None)
    seconds = 5.0 if edit else float(params.get("duration", 5))
    return Spec(inp["prompt"], seconds, str(params.get("resolution", "1080P")), str(params.get("ratio", "16:9")),
                params.get("seed"), first, {"images": len(media) - kinds.count("video"), "videos": kinds.count("video")})


def wan(model: str, body: dict[str, Any]) -> Spec:
    inp, params, media = _dashscope(body, ("480P", "720P", "1080P"), range(2, 31))
    first = next((x["url"] for x in media if x.get("type") == "first_frame"), None)
    ratio = str(params.get("ratio", "adaptive" if first else "16:9"))
    _choice(ratio, "parameters.ratio", ("16:9", "9:16", "1:1", "4:3", "3:4", "adaptive"))
    if first and ratio != "adaptive":
        raise Refused("with a first_frame the ratio must be \"adaptive\"")
    if "seed" in params:
        _int(params["seed"], "parameters.seed", range(0, 2_147_483_648))  # DashScope's range, as HappyHorse's
    return Spec(inp["prompt"], float(params.get("duration", 5)), str(params.get("resolution", "720P")),
                "16:9" if ratio == "adaptive" else ratio, params.get("seed"), first, {"images": len(media)})


# ----------------------------------------------------------------------------- flat / input-wrapped protocols


def kling(model: str, body: dict[str, Any]) -> Spec:
    prompt = _prompt(body.get("prompt"))
    duration = _int(body.get("duration", 5), "duration", range(3, 16))
    size = _choice(body.get("size", "720P"), "size", ("720P", "1080P", "4K"))
    ratio = _choice(body.get("aspect_ratio", "16:9"), "aspect_ratio", ("9:16", "16:9", "1:1"))
    _bool(body, ("audio_generation",))
    infos = body.get("file_infos") or []
    if not isinstance(infos, list):
        raise Refused("file_infos must be a list of {Type, Category, Url, Usage}")
    first = None
    usages: list[str] = []
    for i, raw in enumerate(infos):
        if not isinstance(raw, dict):
            raise Refused(f"file_infos[{i}] must be an object {{Type, Category, Url, Usage}}")
        _choice(raw.get("Type"), f"file_infos[{i}].Type (public URLs only)", ("Url",))
        _choice(raw.get("Category"), f"file_infos[{i}].Category", ("Image",))
        url = _public(raw.get("Url"), f"file_infos[{i}].Url")
        usage = _choice(raw.get("Usage"), f"file_infos[{i}].Usage", ("FirstFrame", "LastFrame"))
        if usage in usages:
            raise Refused(f"file_infos[{i}]: a second {usage} (a clip has one first and one last frame)")
        usages.append(usage)
        if usage == "FirstFrame" and first is None:
            first = url  # the clip starts from it
    return Spec(prompt.replace("<<<image_1>>>", "").strip(), float(duration), size, ratio, None, first,
                {"images": len(infos)})


def veo(model: str, body: dict[str, Any]) -> Spec:
    prompt = _prompt(body.get("prompt"))
    duration = _int(body.get("duration", 8), "duration", (4, 6, 8))
    resolution = _choice(body.get("resolution", "720p"), "resolution", ("720p", "1080p", "4k"))
    ratio = _choice(body.get("aspect_ratio", "16:9"), "aspect_ratio", ("9:16", "16:9", "Auto"))
    kind = _choice(body.get("generationType", "TEXT_2_VIDEO"), "generationType",
                   ("TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO", "REFERENCE_2_VIDEO"))
    _bool(body, ("enableTranslation",))
    given = body.get("imageUrls") or []
    if not isinstance(given, list):
        raise Refused("imageUrls must be a list of public image URLs")
    urls = [_public(u, "imageUrls[]") for u in given]
    if kind == "REFERENCE_2_VIDEO" and not (1 <= len(urls) <= 3 and duration == 8):
        raise Refused("REFERENCE_2_VIDEO takes 1-3 imageUrls and duration 8")
    if kind == "FIRST_AND_LAST_FRAMES_2_VIDEO" and not 1 <= len(urls) <= 2:
        raise Refused("FIRST_AND_LAST_FRAMES_2_VIDEO takes 1-2 imageUrls")
    if kind == "TEXT_2_VIDEO" and urls:
        raise Refused("TEXT_2_VIDEO takes no imageUrls")
    return Spec(prompt, float(duration), resolution, "16:9" if ratio == "Auto" else ratio, None,
                urls[0] if urls else None, {"images": len(urls)})


def grok(model: str, body: dict[str, Any]) -> Spec:
    inp = body.get("input")
    if not isinstance(inp, dict):
        raise Refused("input is required (body: {model, input: {image_urls, prompt, …}})")
    urls = inp.get("image_urls")
    if not isinstance(urls, list) or len(urls) != 1:
        raise Refused("input.image_urls must hold exactly one image URL (image to video only)")
    url = _public(urls[0], "input.image_urls[0]")
    duration = _int(inp.get("duration", 6), "input.duration", range(1, 16))
    resolution = _choice(inp.get("resolution", "720p"), "input.resolution", ("480p", "720p"))
    return Spec(_prompt(inp.get("prompt"), required=False), float(duration), resolution,
                str(inp.get("aspect_ratio", "16:9")), None, url, {"images": 1})


def omni(model: str, body: dict[str, Any]) -> Spec:
    inp = body.get("input")
    if not isinstance(inp, dict):
        raise Refused("input is required (body: {model, input: {prompt, duration, …}})")
    prompt = _prompt(inp.get("prompt"))
    duration = _choice(inp.get("duration", "8"), "input.duration (a string)", ("4", "6", "8", "10"))
    ratio = _choice(inp.get("aspect_ratio", "16:9"), "input.aspect_ratio", ("9:16", "16:9"))
    resolution = _choice(inp.get("resolution", "720p"), "input.resolution", ("720p", "1080p", "4k"))
    urls = [_public(u, "input.image_urls[]") for u in inp.get("image_urls") or []]
    if len(urls) > 7:
        raise Refused("input.image_urls takes at most 7 URLs")
    return Spec(prompt, float(duration), resolution, ratio, None, urls[0] if urls else None, {"images": len(urls)})


# ----------------------------------------------------------------------------- new-api generic (Hailuo, others)


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            raise Refused("metadata must be a JSON object") from None
    return obj(meta)


def _first(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "", [])), None)


def generic(model: str, body: dict[str, Any], *, top_level_images: bool = True) -> Spec:
    """new-api's ``TaskSubmitReq``; ``top_level_images=False``: an adaptor that maps no top-level ``image`` /
    ``images`` (Hailuo's, §5.2: they are dropped, so the clip does not start from them)."""
    meta = _metadata(body)
    images: list[Any] = body["images"] if isinstance(body.get("images"), list) and top_level_images else []
    image = body.get("image") if top_level_images else None
    first = _first(image, images[0] if images else None, meta.get("first_frame_image"), body.get("input_reference"))
    prompt = body.get("prompt")
    if not (isinstance(prompt, str) and prompt.strip()) and not first:
        raise Refused("prompt is required")
    raw = _first(body.get("duration"), body.get("seconds"), meta.get("duration"), 5)
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise Refused("duration must be a number") from None
    if seconds <= 0 and seconds != -1:
        raise Refused("duration must be positive")
    size = body.get("size")
    resolution = str(_first(meta.get("resolution"), size if isinstance(size, str) and size.upper().endswith("P")
                            else None) or "720P")
    return Spec(str(prompt or ""), AUTO_SECONDS if seconds == -1 else seconds, resolution,
                str(meta.get("ratio") or _ratio_from_size(size) or "16:9"), _first(meta.get("seed"), body.get("seed")),
                first, {"images": len(images) + (1 if image else 0)})


#: MiniMax's resolutions per model (§5.2): 02 also makes 512P; 1080P only with 6 s.
_HAILUO_RESOLUTIONS = {"02": ("512P", "768P", "1080P")}
_HAILUO_DEFAULT_RESOLUTIONS = ("768P", "1080P")
#: MiniMax's "invalid parameters" status code, which the relay hands on as the task error's code (§5.2).
_MINIMAX_BAD_PARAMS = "2013"


#: MiniMax's longest prompt (§5.2).
_HAILUO_PROMPT_CHARS = 2000


def hailuo(model: str, body: dict[str, Any]) -> Spec:
    m = model.lower()
    meta = _metadata(body)
    spec = generic(model, body, top_level_images=False)
    # §5.2: 6 or 10 s; 02 also 5 s (per some relays)
    _int(spec.seconds, "duration", (5, 6, 10) if "02" in m else (6, 10))
    prompt = body.get("prompt")
    if isinstance(prompt, str) and len(prompt) > _HAILUO_PROMPT_CHARS:
        raise Refused(f"invalid params, prompt is longer than {_HAILUO_PROMPT_CHARS} characters ({len(prompt)})",
                      _MINIMAX_BAD_PARAMS)
    if meta.get("last_frame_image") not in (None, "") and "02" not in m:
        raise Refused(f"invalid params, last_frame_image is MiniMax-Hailuo-02's only, not {model}'s",
                      _MINIMAX_BAD_PARAMS)
    _bool(meta, ("prompt_optimizer", "fast_pretreatment", "aigc_watermark"), "metadata.")
    size = body.get("size")
    # new-api maps ``size`` to a resolution by substring ("1080" → 1080P…; default 768P); metadata wins
    mapped = next((f"{p}P" for p in ("1080", "768", "720", "512") if isinstance(size, str) and p in size), "768P")
    resolution = str(meta.get("resolution") or mapped).upper()
    allowed = next((v for k, v in _HAILUO_RESOLUTIONS.items() if k in model.lower()), _HAILUO_DEFAULT_RESOLUTIONS)
    if resolution not in allowed:
        raise Refused(f"invalid params, resolution {resolution} is not supported by {model} "
                      f"(use {', '.join(allowed)})", _MINIMAX_BAD_PARAMS)
    if resolution == "1080P" and spec.seconds > 6:
        raise Refused(f"invalid params, 1080P supports a duration of 6 s only, got {spec.seconds:g}",
                      _MINIMAX_BAD_PARAMS)
    spec.resolution = resolution
    spec.ratio = "16:9"
    return spec


def _ratio_from_size(size: Any) -> str | None:
    if isinstance(size, str):
        for sep in ("x", "*"):
            if sep in size:
                try:
                    w, h = (int(p) for p in size.split(sep, 1))
                except ValueError:
                    return None
                for name, (aw, ah) in (("16:9", (16, 9)), ("9:16", (9, 16)), ("1:1", (1, 1)), ("4:3", (4, 3)),
                                       ("3:4", (3, 4))):
                    if h and abs(w / h - aw / ah) < 0.05:
                        return name
    return None


READERS: dict[str, Callable[[str, dict[str, Any]], Spec]] = {
    "seedance": seedance, "hailuo": hailuo, "happyhorse": happyhorse, "wan": wan, "kling": kling, "veo": veo,
    "grok": grok, "omni": omni, "generic": generic,
}


def read(model: str, body: dict[str, Any]) -> Spec:
    """The job a create body asks for; raises :class:`Refused` with the service's message."""
    return READERS[protocol(model)](model, body)
