"""Create bodies per protocol family, in the form Tokenhot takes (reference §10.2; Hailuo §5.2).

Each builder gets the checked inputs (:class:`Item` s with roles) and options and returns the JSON body; the
catalogue says which family a model speaks, so a new model of a known protocol is data, never code here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...catalog import ModelInfo
from ...errors import InputError, UnsupportedOptionError
from ._options import Item, check_images, check_public, images_allowed

Builder = Callable[[ModelInfo, str, list[Item], list[Item], list[Item], dict[str, Any]], dict[str, Any]]


def _set(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def _default(model: ModelInfo, key: str) -> Any:
    return model.defaults.get(key)


def seedance(model: ModelInfo, prompt: str, images: list[Item], videos: list[Item], audios: list[Item],
             o: dict[str, Any]) -> dict[str, Any]:
    """Ark's native body at the top level: ``content[]`` (text first, then media with roles) + options."""
    check_images(model, images)
    if audios and not (images or videos):
        raise InputError(f"{model.id} does not take audio alone; add a reference image or video.")
    content: list[dict[str, Any]] = []
    if prompt.strip():
        content.append({"type": "text", "text": prompt})
    content += [{"type": "image_url", "image_url": {"url": i.url}, "role": i.role} for i in images]
    content += [{"type": "video_url", "video_url": {"url": v.url}, "role": v.role} for v in videos]
    content += [{"type": "audio_url", "audio_url": {"url": a.url}, "role": a.role} for a in audios]
    body: dict[str, Any] = {"model": model.id, "content": content}
    for key in ("ratio", "duration", "resolution"):
        _set(body, key, o[key])
    body["watermark"] = bool(_default(model, "watermark"))
    if model.can("generate_audio") and _default(model, "generate_audio") is not None:
        body["generate_audio"] = bool(_default(model, "generate_audio"))
    _set(body, "seed", o["seed"])
    return body


def hailuo(model: ModelInfo, prompt: str, images: list[Item], videos: list[Item], audios: list[Item],
           o: dict[str, Any]) -> dict[str, Any]:
    """new-api's generic body (§5.2; Tokenhot's own form is unconfirmed): frames go in ``metadata``."""
    check_images(model, images)
    body: dict[str, Any] = {"model": model.id, "prompt": prompt}
    _set(body, "duration", o["duration"])
    _set(body, "size", o["resolution"])  # new-api maps size → resolution by substring
    meta: dict[str, Any] = {}
    for it in images:
        meta["first_frame_image" if it.role == "first_frame" else "last_frame_image"] = it.url
    if _default(model, "prompt_optimizer") is not None:
        meta["prompt_optimizer"] = bool(_default(model, "prompt_optimizer"))
    if meta:
        body["metadata"] = meta
    return body


def _dashscope(model: ModelInfo, prompt: str, media: list[dict[str, Any]], o: dict[str, Any],
               **more: Any) -> dict[str, Any]:
    inp: dict[str, Any] = {"prompt": prompt}
    if media:
        inp["media"] = media
    params: dict[str, Any] = {}
    for key in ("resolution", "ratio", "duration"):
        _set(params, key, o[key])
    for key, value in more.items():
        _set(params, key, value)
    params["watermark"] = bool(_default(model, "watermark"))
    _set(params, "seed", o["seed"])
    return {"model": model.id, "input": inp, "parameters": params}


def happyhorse(model: ModelInfo, prompt: str, images: list[Item], videos: list[Item], audios: list[Item],
               o: dict[str, Any]) -> dict[str, Any]:
    """DashScope-native ``input``/``parameters`` (HappyHorse 1.0 and 1.1); resolution in upper case."""
    mode = model.capabilities.get("mode", "t2v")
    if mode == "t2v" and images:
        raise UnsupportedOptionError(f"{model.id} is text-only (text to video); got {len(images)} image(s).",
                                     hint="Use the -i2v model (first frame) or -r2v (reference images).")
    if mode == "i2v" and len(images) != 1:
        raise InputError(f"{model.id} needs exactly one first-frame image; got {len(images)}.")
    if mode == "r2v" and not images:
        raise InputError(f"{model.id} needs {images_allowed(model)}.")
    role = "first_frame" if mode == "i2v" else "reference_image"
    images = [Item(i.url, role, i.explicit) for i in images]
    check_images(model, images)
    media = [{"type": "video", "url": v.url} for v in videos] + [{"type": i.role, "url": i.url} for i in images]
    return _dashscope(model, prompt, media, o)


def wan(model: ModelInfo, prompt: str, images: list[Item], videos: list[Item], audios: list[Item],
        o: dict[str, Any]) -> dict[str, Any]:
    """Wan 3.0: DashScope-style ``input.media`` + ``parameters`` (base64 images accepted)."""
    check_images(model, images)
    media = [{"type": i.role, "url": i.url} for i in images]
    return _dashscope(model, prompt, media, o, audio=_default(model, "audio"),
                      prompt_extend=_default(model, "prompt_extend"))


def kling(model: ModelInfo, prompt: str, images: list[Item], videos: list[Item], audios: list[Item],
          o: dict[str, Any]) -> dict[str, Any]:
    """Kling v3: flat body; frames in ``file_infos``; the prompt names the first frame ``<<<image_1>>>``."""
    check_images(model, images)
    check_public(model, images)
    usage = {"first_frame": "FirstFrame", "last_frame": "LastFrame"}
    text = f"<<<image_1>>> {prompt}" if any(i.role == "first_frame" for i in images) else prompt
    body: dict[str, Any] = {"model": model.id, "prompt": text}
    _set(body, "duration", o["duration"])
    _set(body, "size", o["resolution"])
    _set(body, "aspect_ratio", o["ratio"])
    _set(body, "audio_generation", _default(model, "audio_generation"))
    if images:
        body["file_infos"] = [{"Type": "Url", "Category": "Image", "Url": i.url, "Usage": usage[i.role]}
                              for i in images]
    return body


def veo(model: ModelInfo, prompt: str, images: list[Item], videos: list[Item], audios: list[Item],
        o: dict[str, Any]) -> dict[str, Any]:
    """Veo 3.1: ``generationType`` follows the inputs (none / frames / references)."""
    check_images(model, images)
    check_public(model, images)
    if any(i.role == "reference_image" for i in images):
        kind = "REFERENCE_2_VIDEO"
    elif images:
        kind = "FIRST_AND_LAST_FRAMES_2_VIDEO"
    else:
        kind = "TEXT_2_VIDEO"
    body: dict[str, Any] = {"model": model.id, "prompt": prompt}
    _set(body, "aspect_ratio", o["ratio"])
    _set(body, "resolution", o["resolution"])
    _set(body, "duration", o["duration"])
    body["generationType"] = kind
    _set(body, "enableTranslation", _default(model, "enableTranslation"))
    if images:
        body["imageUrls"] = [i.url for i in images]
    return body


def grok(model: ModelInfo, prompt: str, images: list[Item], videos: list[Item], audios: list[Item],
         o: dict[str, Any]) -> dict[str, Any]:
    """Grok Imagine video: image to video only, everything under ``input``."""
    check_images(model, images)
    check_public(model, images)
    inp: dict[str, Any] = {"image_urls": [i.url for i in images], "prompt": prompt}
    _set(inp, "aspect_ratio", o["ratio"])
    _set(inp, "resolution", o["resolution"])
    _set(inp, "duration", o["duration"])
    _set(inp, "nsfw_checker", _default(model, "nsfw_checker"))
    return {"model": model.id, "input": inp}


def omni(model: ModelInfo, prompt: str, images: list[Item], videos: list[Item], audios: list[Item],
         o: dict[str, Any]) -> dict[str, Any]:
    """Gemini Omni video: everything under ``input``; the duration is a string ("8")."""
    check_images(model, images)
    check_public(model, images)
    inp: dict[str, Any] = {"prompt": prompt}
    if o["duration"] is not None:
        inp["duration"] = str(o["duration"])
    _set(inp, "aspect_ratio", o["ratio"])
    _set(inp, "resolution", o["resolution"])
    if images:
        inp["image_urls"] = [i.url for i in images]
    return {"model": model.id, "input": inp}


def generic(model: ModelInfo, prompt: str, images: list[Item], videos: list[Item], audios: list[Item],
            o: dict[str, Any]) -> dict[str, Any]:
    """new-api's generic task body (§4.2), for a video model only the service's table lists: frames as ``image``
    / ``images``, ratio, resolution and seed in ``metadata`` (each adaptor copies it onto the upstream body)."""
    check_images(model, images)
    body: dict[str, Any] = {"model": model.id, "prompt": prompt}
    _set(body, "duration", o["duration"])
    _set(body, "size", o["resolution"])
    first = [i.url for i in images if i.role == "first_frame"]
    if first:
        body["image"] = first[0]
    refs = [i.url for i in images if i.role == "reference_image"]
    if refs:
        body["images"] = refs
    meta: dict[str, Any] = {}
    for key in ("ratio", "resolution", "seed"):
        _set(meta, key, o[key])
    last = [i.url for i in images if i.role == "last_frame"]
    if last:
        meta["last_frame_image"] = last[0]
    if meta:
        body["metadata"] = meta
    return body


#: Where each protocol keeps the fields a caller may pass as options (reference §10.2, §5.4): a field named here
#: goes into that object, not the top level, where the service would ignore it. Families not listed are flat.
_DASHSCOPE_PARAMETERS = ("resolution", "ratio", "duration", "watermark", "seed", "prompt_extend")
NESTED: dict[str, dict[str, str]] = {
    "happyhorse": {**dict.fromkeys(_DASHSCOPE_PARAMETERS, "parameters"), "audio_setting": "parameters",
                   "negative_prompt": "input"},
    "wan-video": dict.fromkeys(_DASHSCOPE_PARAMETERS, "parameters"),
    "grok-video": dict.fromkeys(("aspect_ratio", "resolution", "duration", "nsfw_checker"), "input"),
    "gemini-omni-video": dict.fromkeys(("aspect_ratio", "resolution", "duration"), "input"),
}

BUILDERS: dict[str, Builder] = {
    "seedance": seedance,
    "hailuo": hailuo,
    "happyhorse": happyhorse,
    "wan-video": wan,
    "kling": kling,
    "veo": veo,
    "grok-video": grok,
    "gemini-omni-video": omni,
    "video-generic": generic,
}
