"""Images: generation and edit requests per family, and one tolerant parser for every documented reply.

Families: ``openai-image`` (flat JSON; edits are multipart ``/v1/images/edits``), ``seedream`` (flat JSON;
edits send ``image`` data URLs in the same generation call), ``qwen-image`` (flat generation; the edit
model uses DashScope ``input``/``parameters``), ``wan-image`` (DashScope ``input``/``parameters``), and
``gemini-image`` (native ``generateContent`` with inline images).
"""

from __future__ import annotations

import base64
import binascii
import math
import mimetypes
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..catalog import ModelInfo, models
from ..errors import InputError, UnsupportedOptionError
from ._common import (
    EXT_FOR_MIME,
    Media,
    check_listed,
    check_n,
    dig,
    dig_list,
    drop_none,
    finish_body,
    media_bytes,
    media_url,
    nest_fields,
    parse_data_url,
    pick_choice,
    refuse_error_envelope,
    unsupported,
    usage_from,
)
from ._types import FilePart, HttpCall, ImageRef, ImageReply, Usage

__all__ = ["build_edit", "build_generate", "check_options", "normalize_size", "parse"]

_WH = re.compile(r"^\s*(\d{2,5})\s*[x*×X:]\s*(\d{2,5})\s*$")


def _sep(model: ModelInfo) -> str:
    return "*" if model.family in ("wan-image", "qwen-image") else "x"


def normalize_size(model: ModelInfo, size: str | None) -> str | None:
    """Validate ``size`` for the model and spell it as its API wants (``1024x1024`` vs ``1024*1024``)."""
    if size is None:
        return None
    size = str(size).strip()
    if model.family == "gemini-image":
        return size  # handled by _gemini_image_config
    m = _WH.match(size)
    sep = _sep(model)
    spelled = f"{m.group(1)}{sep}{m.group(2)}" if m else size
    allowed: list[str] = model.choices("sizes")
    for a in allowed:
        if a.lower() == spelled.lower():
            return a
    if m and (model.can("size_free") or not allowed):
        _check_pixels(model, int(m.group(1)), int(m.group(2)), allowed)
        return spelled
    if not allowed and not m:
        raise unsupported(model, "size", size, hint="Give the size as WIDTHxHEIGHT, e.g. 1024x1024.")
    more = " (or any WIDTHxHEIGHT)" if model.can("size_free") else ""
    raise UnsupportedOptionError(
        f"{model.id} does not accept size={size!r}; allowed: {', '.join(allowed)}{more}.",
        hint="Pick one of those sizes, or send it anyway with extra={'size': …}.",
    )


def _check_pixels(model: ModelInfo, w: int, h: int, presets: list[str]) -> None:
    """Models with a pixel budget (Seedream: 0.92–4.62 megapixels) refuse sizes outside it."""
    lo, hi = model.capabilities.get("pixel_range") or (0, 0)
    if hi and not lo <= w * h <= hi:
        named = [p for p in presets if not _WH.match(p)]
        raise UnsupportedOptionError(
            f"{model.id} does not accept size={w}x{h} ({w * h / 1e6:.2f} megapixels); allowed: WIDTHxHEIGHT "
            f"between {lo / 1e6:.2f} and {hi / 1e6:.2f} megapixels (e.g. 2048x2048)"
            + (f", or {'/'.join(named)}" if named else "") + ".",
            hint="Pick a size in that range, or send it anyway with extra={'size': …}.",
        )


def _ratio(w: int, h: int, allowed: list[str]) -> str:
    """The allowed aspect ratio closest to w:h (by log ratio)."""
    target = math.log(w / h)

    def dist(r: str) -> float:
        a, b = r.split(":")
        return abs(math.log(int(a) / int(b)) - target)

    return min(allowed, key=dist)


def _gemini_image_config(model: ModelInfo, size: str | None) -> dict[str, str]:
    """``size`` may be an aspect ratio (``16:9``), an image size (``2K``), both (``16:9 2K``), or ``WxH``."""
    if not size:
        return {}
    ratios = model.choices("ratios")
    image_sizes = model.choices("image_sizes")
    cfg: dict[str, str] = {}
    for token in re.split(r"[\s,@/]+", str(size).strip()):
        if not token:
            continue
        up = token.upper()
        if re.fullmatch(r"\d+(\.\d+)?K", up):
            if up not in image_sizes:
                raise unsupported(model, "size", token, ratios + image_sizes,
                                  hint="Use an aspect ratio like 16:9" + (" and/or 1K/2K/4K." if image_sizes else "."))
            cfg["imageSize"] = up
        elif re.fullmatch(r"\d+:\d+", token):
            cfg["aspectRatio"] = pick_choice(model, "size", token, ratios)
        elif m := _WH.match(token):
            cfg["aspectRatio"] = _ratio(int(m.group(1)), int(m.group(2)), ratios)
        else:
            raise unsupported(model, "size", size, ratios + image_sizes)
    return cfg


def _check_common(model: ModelInfo, *, n: int | None, seed: int | None, quality: str | None,
                  negative: str | None, response_format: str | None) -> tuple[str | None, str | None]:
    check_n(model, n)
    if seed is not None and not model.can("seed"):
        raise unsupported(model, "seed", seed)
    if negative is not None and not model.can("negative_prompt"):
        raise unsupported(model, "negative", negative,
                          hint="Describe what to avoid in the prompt instead; this model has no negative prompt.")
    if quality is not None:
        allowed = model.choices("quality")
        if not allowed:
            raise unsupported(model, "quality", quality)
        quality = pick_choice(model, "quality", quality, allowed)
    if response_format is not None:
        allowed = model.choices("response_formats")
        if not allowed:
            raise unsupported(model, "response_format", response_format,
                              hint="This model's reply format is fixed; the parser reads URLs and base64 alike.")
        response_format = pick_choice(model, "response_format", response_format, allowed)
    return quality, response_format


#: Body options whose allowed values the catalogue lists per model (reference §3.2: ``style`` is dall-e-3's,
#: ``background`` / ``output_format`` the GPT image models'; gpt-image-2 has no transparent background).
OPTION_LISTS = {"style": "styles", "background": "backgrounds", "output_format": "output_formats"}


def check_options(model: ModelInfo, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` (the call's own keyword options, not ``extra={…}``, the escape hatch) with each listed one
    checked against the model and spelled as the catalogue does; a value outside the list is refused before
    the (paid) call."""
    return check_listed(model, options, OPTION_LISTS)


# --- generation ------------------------------------------------------------------------------------


def _gen_openai(model: ModelInfo, prompt: str, o: dict[str, Any]) -> HttpCall:
    body = drop_none({"model": model.id, "prompt": prompt, "n": o["n"], "size": o["size"], "quality": o["quality"],
                      "response_format": o["response_format"]})
    return HttpCall("POST", "/v1/images/generations", json=body)


def _gen_seedream(model: ModelInfo, prompt: str, o: dict[str, Any], images: Sequence[Media] = ()) -> HttpCall:
    n = o["n"] or 1
    total = int(model.capabilities.get("max_images_total") or 0)
    if total and len(images) + n > total:
        raise UnsupportedOptionError(
            f"{model.id} takes at most {total} images per call, inputs and outputs together; got {len(images)} "
            f"input image(s) and n={n}.", hint=f"Lower n to {max(1, total - len(images))} or pass fewer images.")
    body: dict[str, Any] = {"model": model.id, "prompt": prompt}
    if images:
        urls = [media_url(i) for i in images]
        body["image"] = urls[0] if len(urls) == 1 else urls
    body["size"] = o["size"] or "2K"
    body["sequential_image_generation"] = "auto" if n > 1 else "disabled"
    if n > 1:
        body["sequential_image_generation_options"] = {"max_images": n}
    body["response_format"] = o["response_format"] or "url"
    body["watermark"] = bool(model.defaults.get("watermark", False))
    if o["seed"] is not None:
        body["seed"] = o["seed"]
    return HttpCall("POST", "/v1/images/generations", json=body)


def _dashscope_parameters(model: ModelInfo, o: dict[str, Any]) -> dict[str, Any]:
    return drop_none({
        "size": o["size"],
        "n": o["n"],
        "negative_prompt": o["negative"],
        "seed": o["seed"],
        "prompt_extend": model.defaults.get("prompt_extend"),
        "watermark": bool(model.defaults.get("watermark", False)),
    })


def _gen_qwen(model: ModelInfo, prompt: str, o: dict[str, Any]) -> HttpCall:
    if model.can("edit_only"):
        raise UnsupportedOptionError(
            f"{model.id} only edits images; it needs at least one input image.",
            hint="Use edit(images, prompt, model=…) or pick a generation model such as qwen-image-max.",
        )
    body = {
        "model": model.id,
        "input": {"messages": [{"role": "user", "content": [{"text": prompt}]}]},
        "parameters": _dashscope_parameters(model, {**o, "n": o["n"] or 1}),
    }
    return HttpCall("POST", "/v1/images/generations", json=body)


def _gen_wan(model: ModelInfo, prompt: str, o: dict[str, Any]) -> HttpCall:
    params = _dashscope_parameters(model, o)
    if model.can("interleave_for_generate"):
        # wan2.6-image makes images from text only in interleave mode, where the count is max_images.
        params.pop("n", None)
        params = {"enable_interleave": True, "max_images": o["n"] or 1, **params}
    params["stream"] = False
    body = {
        "model": model.id,
        "input": {"messages": [{"role": "user", "content": [{"text": prompt}]}]},
        "parameters": params,
    }
    return HttpCall("POST", "/v1/images/generations", json=body)


def _gemini_call(model: ModelInfo, parts: list[dict[str, Any]], o: dict[str, Any]) -> HttpCall:
    gen: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    cfg = _gemini_image_config(model, o["size"])
    if cfg:
        gen["imageConfig"] = cfg
    if o["seed"] is not None:
        gen["seed"] = o["seed"]
    body = {"contents": [{"role": "user", "parts": parts}], "generationConfig": gen}
    return HttpCall("POST", f"/v1beta/models/{quote(model.id, safe='.-_')}:generateContent", json=body)


def _gen_gemini(model: ModelInfo, prompt: str, o: dict[str, Any]) -> HttpCall:
    return _gemini_call(model, [{"text": prompt}], o)


#: DashScope bodies keep their options in ``parameters`` (reference §3.2, §10.4): an option named here goes there,
#: not to the top level, where the service ignores it (and the body's own ``parameters.watermark`` would win).
_NESTED: dict[str, dict[str, str]] = {
    fam: dict.fromkeys(("size", "n", "seed", "watermark", "prompt_extend", "negative_prompt", "max_images",
                        "enable_interleave"), "parameters")
    for fam in ("qwen-image", "wan-image")
}


_GENERATE: dict[str, Callable[[ModelInfo, str, dict[str, Any]], HttpCall]] = {
    "openai-image": _gen_openai,
    "seedream": _gen_seedream,
    "qwen-image": _gen_qwen,
    "wan-image": _gen_wan,
    "gemini-image": _gen_gemini,
}


def _family(model: ModelInfo, table: Mapping[str, Any]) -> Any:
    if model.kind != "image" or model.family not in table:
        raise UnsupportedOptionError(
            f"{model.id} ({model.kind}, family {model.family!r}) is not an image model.",
            hint="Pick an image model: tokenhot_nb.models('image').",
        )
    return table[model.family]


def _options(model: ModelInfo, *, n: int | None, size: str | None, seed: int | None, quality: str | None,
             negative: str | None, response_format: str | None, edit: bool = False) -> dict[str, Any]:
    quality, response_format = _check_common(model, n=n, seed=seed, quality=quality, negative=negative,
                                             response_format=response_format)
    if size is None and not (edit and model.can("edit_keeps_input_size")):
        size = model.defaults.get("size")  # an edit on such a model sends no size: the output keeps the input's
    return {"n": n, "size": normalize_size(model, size), "seed": seed, "quality": quality, "negative": negative,
            "response_format": response_format}


def build_generate(model: ModelInfo, prompt: str, *, n: int | None = None, size: str | None = None,
                   seed: int | None = None, quality: str | None = None, negative: str | None = None,
                   response_format: str | None = None, extra: Mapping[str, Any] | None = None,
                   raw: Mapping[str, Any] | None = None) -> HttpCall:
    """A text-to-image request. Options are checked against the model's capabilities first."""
    builder = _family(model, _GENERATE)
    if (not prompt or not str(prompt).strip()) and raw is None:
        raise InputError("The prompt is empty.", hint="Describe the image you want.")
    o = _options(model, n=n, size=size, seed=seed, quality=quality, negative=negative,
                 response_format=response_format)
    call: HttpCall = builder(model, prompt, o)
    call.json = finish_body(call.json or {}, nest_fields(extra, _NESTED.get(model.family, {})), raw)
    return call


# --- edits ---------------------------------------------------------------------------------------------


def _edit_openai(model: ModelInfo, images: Sequence[Media], prompt: str, mask: Media | None,
                 o: dict[str, Any]) -> HttpCall:
    # dall-e-2 takes a single `image` file; GPT image models take repeated `image[]` parts.
    field = "image" if int(model.capabilities.get("max_edit_images") or 1) == 1 else "image[]"
    files = []
    for i, img in enumerate(images):
        data, mime = media_bytes(img)
        files.append(FilePart(field, f"image_{i}.{EXT_FOR_MIME.get(mime, 'png')}", data, mime))
    if mask is not None:
        data, mime = media_bytes(mask, "mask")
        files.append(FilePart("mask", f"mask.{EXT_FOR_MIME.get(mime, 'png')}", data, mime))
    fields = {k: str(v) for k, v in drop_none({"model": model.id, "prompt": prompt, "n": o["n"], "size": o["size"],
                                              "quality": o["quality"],
                                              "response_format": o["response_format"]}).items()}
    return HttpCall("POST", "/v1/images/edits", data=fields, files=files)


def _edit_seedream(model: ModelInfo, images: Sequence[Media], prompt: str, mask: Media | None,
                   o: dict[str, Any]) -> HttpCall:
    return _gen_seedream(model, prompt, o, images)


def _edit_dashscope(model: ModelInfo, images: Sequence[Media], prompt: str, mask: Media | None,
                    o: dict[str, Any]) -> HttpCall:
    content: list[dict[str, Any]] = [{"image": media_url(i)} for i in images] + [{"text": prompt}]
    params = _dashscope_parameters(model, o)
    if model.family == "wan-image":
        params = {"enable_interleave": False, **params, "stream": False}
    body = {"model": model.id, "input": {"messages": [{"role": "user", "content": content}]}, "parameters": params}
    return HttpCall("POST", "/v1/images/generations", json=body)


def _edit_gemini(model: ModelInfo, images: Sequence[Media], prompt: str, mask: Media | None,
                 o: dict[str, Any]) -> HttpCall:
    parts: list[dict[str, Any]] = [{"text": prompt}]
    for img in images:
        if isinstance(img, str) and img.startswith("http"):
            parts.append({"fileData": {"mimeType": _url_image_type(img), "fileUri": img}})
        else:
            data, mime = media_bytes(img)
            parts.append({"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode("ascii")}})
    return _gemini_call(model, parts, o)


def _url_image_type(url: str) -> str:
    """The image type a link's file name says (``fileData.mimeType`` must match the file; a .jpg is no PNG),
    PNG when it says none."""
    from urllib.parse import urlsplit

    guessed = mimetypes.guess_type(urlsplit(url).path)[0] or ""
    return guessed if guessed.startswith("image/") else "image/png"


_EDIT: dict[str, Callable[[ModelInfo, Sequence[Media], str, Media | None, dict[str, Any]], HttpCall]] = {
    "openai-image": _edit_openai,
    "seedream": _edit_seedream,
    "qwen-image": _edit_dashscope,
    "wan-image": _edit_dashscope,
    "gemini-image": _edit_gemini,
}


def build_edit(model: ModelInfo, images: Sequence[Media], prompt: str, *, mask: Media | None = None,
               n: int | None = None, size: str | None = None, seed: int | None = None, quality: str | None = None,
               negative: str | None = None, response_format: str | None = None,
               extra: Mapping[str, Any] | None = None, raw: Mapping[str, Any] | None = None) -> HttpCall:
    """An edit of one or more input images (``(bytes, mime)`` or URL strings) guided by ``prompt``.

    For multipart edits ``extra`` adds form fields and ``raw`` replaces the form fields (files stay).
    """
    builder = _family(model, _EDIT)
    if not model.can("edit"):
        can = [m.id for m in models("image") if m.can("edit")]
        raise UnsupportedOptionError(
            f"{model.id} cannot edit images.",
            hint="Models that can: " + ", ".join(can) + ".",
        )
    images = list(images)
    if not images:
        raise InputError("No input image to edit.", hint="Pass at least one image as (bytes, mime) or a URL.")
    limit = int(model.capabilities.get("max_edit_images") or 1)
    if len(images) > limit:
        raise UnsupportedOptionError(f"{model.id} edits at most {limit} input image(s); got {len(images)}.",
                                     hint="Pass fewer images.")
    if mask is not None and not model.can("mask"):
        can = [m.id for m in models("image") if m.can("mask")]
        raise UnsupportedOptionError(
            f"{model.id} does not take a mask.",
            hint="Describe the region to change in the prompt, or use a model with masks: " + ", ".join(can) + ".",
        )
    o = _options(model, n=n, size=size, seed=seed, quality=quality, negative=negative,
                 response_format=response_format, edit=True)
    call: HttpCall = builder(model, images, prompt, mask, o)
    if call.data is not None:
        if raw is not None:
            call.data = {k: v if isinstance(v, list) else str(v) for k, v in raw.items()}
        else:
            for k, v in (extra or {}).items():
                call.data[k] = [str(x) for x in v] if isinstance(v, (list, tuple)) else (
                    str(v).lower() if isinstance(v, bool) else str(v))
    else:
        call.json = finish_body(call.json or {}, nest_fields(extra, _NESTED.get(model.family, {})), raw)
    return call


# --- parsing ---------------------------------------------------------------------------------------------

_URL_IN_TEXT = re.compile(r"(data:image/[\w.+-]+;base64,[A-Za-z0-9+/=]+|https?://[^\s)\"'<>\]]+)")


def _ref_from_url(url: str, revised: str | None = None) -> ImageRef:
    decoded = parse_data_url(url)
    if decoded:
        return ImageRef(data=decoded[0], mime=decoded[1], revised_prompt=revised)
    return ImageRef(url=url, revised_prompt=revised)


_URLSAFE = str.maketrans("-_", "+/")


def _ref_from_b64(b64: str, mime: str | None = None, revised: str | None = None) -> ImageRef | None:
    decoded = parse_data_url(b64) if b64.startswith("data:") else None
    if decoded:
        return ImageRef(data=decoded[0], mime=decoded[1], revised_prompt=revised)
    # URL-safe base64 ("-", "_": some relays and Google's JSON mapping send it) was read with those characters
    # dropped, so the image failed to decode and was lost; line breaks are skipped; anything else is not base64
    packed = "".join(b64.split()).translate(_URLSAFE).rstrip("=")
    try:
        data = base64.b64decode(packed + "=" * (-len(packed) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data:
        return None
    from ._common import sniff_mime

    sniffed = sniff_mime(data)
    return ImageRef(data=data, mime=mime or (sniffed if sniffed.startswith("image/") else "image/png"),
                    revised_prompt=revised)


def _from_data(items: Any) -> tuple[list[ImageRef], list[tuple[int, str]]]:
    """The images of ``data[]``, and the items that held none to read (their place, why): a relay's item with a
    number for its ``url`` or broken base64 is an image paid for and not delivered, never one silently left out."""
    out: list[ImageRef] = []
    unreadable: list[tuple[int, str]] = []
    for i, it in enumerate(items if isinstance(items, list) else []):
        if not isinstance(it, dict):
            unreadable.append((i, f"the item is {_what(it)}, not an object"))
            continue
        revised = it.get("revised_prompt") if isinstance(it.get("revised_prompt"), str) else None
        url, b64 = it.get("url"), it.get("b64_json")
        if isinstance(url, str) and url.strip():
            out.append(_ref_from_url(url.strip(), revised or None))
        elif isinstance(b64, str) and b64.strip():
            ref = _ref_from_b64(b64.strip(), None, revised or None)
            if ref:
                out.append(ref)
            else:
                unreadable.append((i, "its b64_json is not base64"))
        elif "url" in it or "b64_json" in it:
            field_, value = ("url", url) if "url" in it else ("b64_json", b64)
            unreadable.append((i, f"its {field_} is {_what(value)}"))
        else:
            unreadable.append((i, "it has no url or b64_json"))
    return out, unreadable


def _what(value: Any) -> str:
    """A received value's kind, in words (never its content: it is the relay's text)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a text" if value.strip() else "empty"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)


def _from_choices(output: Any) -> tuple[list[ImageRef], list[str]]:
    refs: list[ImageRef] = []
    texts: list[str] = []
    for ch in dig_list(output, "choices"):
        for c in dig_list(ch, "message", "content"):
            if not isinstance(c, dict):
                continue
            if isinstance(c.get("image"), str) and c["image"]:
                refs.append(_ref_from_url(c["image"]))
            elif isinstance(c.get("text"), str):
                texts.append(c["text"])
    return refs, texts


def _from_output_list(output: Any) -> tuple[list[ImageRef], list[str]]:
    refs: list[ImageRef] = []
    texts: list[str] = []
    for item in output if isinstance(output, list) else []:
        for c in dig_list(item, "content"):
            if not isinstance(c, dict):
                continue
            if c.get("type") == "image" or "image" in c:
                url = c.get("image") or c.get("url") or c.get("text")
                if isinstance(url, str) and url:
                    refs.append(_ref_from_url(url))
            elif isinstance(c.get("text"), str):
                texts.append(c["text"])
    return refs, texts


def _from_gemini(body: Any) -> tuple[list[ImageRef], list[str]]:
    """Tokenhot answers Gemini images as a (Markdown) URL in the text part (§10.4): read that first, then
    ``inlineData`` / ``inline_data``. The text returned is the prose without the image links."""
    inline: list[ImageRef] = []
    texts: list[str] = []
    for cand in dig_list(body, "candidates"):
        for p in dig_list(cand, "content", "parts"):
            if not isinstance(p, dict):
                continue
            blob = p.get("inlineData") or p.get("inline_data")
            if isinstance(blob, dict) and isinstance(blob.get("data"), str):
                label = blob.get("mimeType") or blob.get("mime_type")
                mime = label if isinstance(label, str) and label else "image/png"
                data = blob["data"].strip()
                # a link in ``data`` (some relays do so for audio, reference §6.1): downloaded, not read as base64
                ref = _ref_from_url(data) if data[:8].lower().startswith(("http://", "https://")) \
                    else _ref_from_b64(data, mime)
                if ref:
                    inline.append(ref)
            elif isinstance(p.get("text"), str) and not p.get("thought"):
                texts.append(p["text"])
    linked = _from_text(texts)
    prose = [t for t in (_MD_IMAGE.sub("", t).strip() for t in texts) if t]
    if linked:
        prose = [t for t in (_URL_IN_TEXT.sub("", t).strip() for t in prose) if t]
    return linked or inline, prose


def _gemini_undecodable(body: Any) -> list[tuple[int, str]]:
    """The inline parts (their place among the image parts, why) whose ``data`` is no base64."""
    out: list[tuple[int, str]] = []
    at = 0
    for cand in dig_list(body, "candidates"):
        for p in dig_list(cand, "content", "parts"):
            blob = (p.get("inlineData") or p.get("inline_data")) if isinstance(p, dict) else None
            if isinstance(blob, dict) and isinstance(blob.get("data"), str):
                if _ref_from_b64(blob["data"].strip()) is None:
                    out.append((at, "its inlineData is not base64" if blob["data"].strip() else
                                "its inlineData is empty"))
                at += 1
    return out


_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")


def _from_text(texts: list[str]) -> list[ImageRef]:
    """Image links inside text: Markdown images first (in order), then data URIs, then bare http(s) URLs."""
    joined = "\n".join(texts)
    md = [u.strip() for u in re.findall(r"!\[[^\]]*\]\(\s*([^)\s]+)[^)]*\)", joined)]
    if md:
        return [_ref_from_url(u) for u in md]
    found = _URL_IN_TEXT.findall(joined)
    data_uris = [f for f in found if f.startswith("data:")]
    urls = [f.rstrip(".,;") for f in found if not f.startswith("data:")]
    return [_ref_from_url(u) for u in data_uris] or [_ref_from_url(u) for u in urls]


def parse(model: ModelInfo | None, body: Any) -> ImageReply:
    """Images from any documented reply shape, in the reference's fallback order (§3.1, §3.2, §10.4).

    Gemini: the URL in the text part first, then ``inlineData``. Qwen: ``output[].content[type=image].text``,
    then ``output.choices[].message.content[].image``, then ``data[].url``. Others: ``data[]`` first.
    """
    if not isinstance(body, dict):
        return ImageReply(images=[], raw=body)
    refuse_error_envelope(body)
    texts: list[str] = []  # what every reading found: a refusal's words are kept whichever part held them

    def take(found: tuple[list[ImageRef], list[str]]) -> list[ImageRef]:
        texts.extend(t for t in found[1] if t not in texts)
        return found[0]

    refs: list[ImageRef] = []
    broken: list[tuple[int, str]] = []  # Gemini inline images that did not decode (said, never silently dropped)
    if "candidates" in body:
        refs = take(_from_gemini(body))
        broken = [] if refs else _gemini_undecodable(body)
    dashscope_first = model is not None and model.family in ("qwen-image", "wan-image")
    if not refs and dashscope_first and isinstance(body.get("output"), list):
        refs = take(_from_output_list(body["output"]))
    if not refs and dashscope_first:
        refs = take(_from_choices(body.get("output")))
    data_refs: list[ImageRef] = []
    unreadable: list[tuple[int, str]] = []
    if not refs:
        refs = data_refs = (found := _from_data(body.get("data")))[0]
        unreadable = found[1]
    if not refs:
        refs = take(_from_choices(dig(body, "metadata", "output")))
    if not refs:
        refs = take(_from_choices(body.get("output")))
    if not refs and isinstance(body.get("output"), list):
        refs = take(_from_output_list(body["output"]))
    if not refs:
        refs = [_ref_from_url(r["url"]) for r in dig_list(body, "output", "results")
                if isinstance(r, dict) and isinstance(r.get("url"), str) and r["url"]]
    if refs and refs is not data_refs:  # (the images were elsewhere: data[] held something else)
        unreadable = []
    if not refs and not unreadable:
        unreadable = broken
    usage_src = body.get("usage") or body.get("usageMetadata") or dig(body, "metadata", "usage")
    usage = usage_from(usage_src) if usage_src else Usage()
    usage.images = usage.images or len(refs) + len(unreadable)
    return ImageReply(images=refs, text="\n".join(t for t in texts if t).strip(), usage=usage, raw=body,
                      unreadable=unreadable)
