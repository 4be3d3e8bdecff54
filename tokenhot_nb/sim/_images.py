"""Image endpoints: ``/v1/images/generations`` (OpenAI, Seedream, Wan, Qwen bodies) and ``/v1/images/edits``.

Each model family answers in the shape its docs show: Wan and Qwen in the documented ``output[].content[]``
form (URL under ``text``, §10.4), Seedream
with ``size`` per item and image-count usage, GPT image with token usage, dall-e-3 with ``revised_prompt``.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from . import media
from ._common import Ctx, Form, error_response, json_out, obj, seed_of
from ._pricing import images_asked

MAX_N = 10

#: Seedream's accepted sizes (reference §10.4): ``WxH`` whose product lies in 0.92–4.62 megapixels, or a preset.
SEEDREAM_PIXELS = (920_000, 4_620_000)
SEEDREAM_PRESETS = ("2K", "4K")


def seedream_size(size: object, default: tuple[int, int] = (2048, 2048)) -> tuple[int, int] | str:
    """The pixels a Seedream ``size`` asks for, or the service's refusal (a message naming the limit)."""
    if size is None:
        return default
    lo, hi = SEEDREAM_PIXELS
    presets = " or ".join(f'"{p}"' for p in SEEDREAM_PRESETS)
    allowed = (f"{presets}, or WIDTHxHEIGHT totalling {lo / 1e6:.2f}-{hi / 1e6:.2f} megapixels "
               f"({lo:,}-{hi:,} pixels), e.g. 2048x2048")
    if isinstance(size, str) and size.strip().upper() in SEEDREAM_PRESETS:
        side = media.K_SIDES[size.strip().upper()]
        return side, side
    read = media.read_size(size) if isinstance(size, str) and re.search(r"[X*×]", size.upper()) else None
    if read is None:
        return f"size {size!r} is not supported: use {allowed}"
    w, h = read
    if not lo <= w * h <= hi:
        return f"size {w}x{h} ({w * h / 1e6:.2f} megapixels) is outside the allowed range: use {allowed}"
    return w, h


#: What OpenAI's image API takes per model (reference §3.2, the vendor's lists; the relay passes its 400 on):
#: sizes (None: any WxH, gpt-image-2), the most images per call, quality values, whether ``style``,
#: ``background`` and ``output_format`` are fields of the model at all, and the longest prompt (None: the
#: reference states no limit, so any prompt is drawn).
OPENAI_IMAGE: dict[str, dict[str, Any]] = {
    "dalle2": {"sizes": ("256x256", "512x512", "1024x1024"), "max_n": 10, "quality": (), "style": False,
               "background": False, "output_format": False, "max_prompt": 1000},
    "dalle3": {"sizes": ("1024x1024", "1792x1024", "1024x1792"), "max_n": 1, "quality": ("standard", "hd"),
               "style": True, "background": False, "output_format": False, "max_prompt": 4000},
    "gptimage": {"sizes": ("1024x1024", "1536x1024", "1024x1536", "auto"), "max_n": 10,
                 "quality": ("low", "medium", "high", "auto"), "style": False, "background": True,
                 "output_format": True, "max_prompt": None},
}


def _openai_refusal(model: str, fam: str, fields: dict[str, Any]) -> str | None:
    """OpenAI's message for a field the model does not take (``Invalid value: …``), or None."""
    rules = OPENAI_IMAGE.get(fam)
    if rules is None:
        return None
    sizes = None if model.lower().startswith("gpt-image-2") else rules["sizes"]
    size = fields.get("size")
    if size not in (None, "") and sizes is not None and size not in sizes:
        return f"Invalid value: '{size}'. Supported values are: {', '.join(repr(v) for v in sizes)}."
    n = _as_int(fields.get("n"), 1)
    if not 1 <= n <= rules["max_n"]:
        return f"Invalid 'n': integer must be between 1 and {rules['max_n']} for {model}, got {fields.get('n')}."
    quality = fields.get("quality")
    if quality not in (None, "") and quality not in rules["quality"]:
        allowed = ", ".join(repr(v) for v in rules["quality"]) or "none (the model takes no quality)"
        return f"Invalid value: '{quality}'. Supported values for quality are: {allowed}."
    for name in ("style", "background", "output_format"):
        if fields.get(name) not in (None, "") and not rules[name]:
            return f"Unknown parameter: '{name}' is not supported with {model}."
    if fields.get("background") == "transparent" and model.lower().startswith("gpt-image-2"):
        return "Transparent background is not supported for gpt-image-2."
    prompt, most = fields.get("prompt"), rules["max_prompt"]
    if isinstance(prompt, str) and most is not None and len(prompt) > most:
        return (f"Invalid 'prompt': string too long. Expected a string with maximum length {most}, "
                f"but got a string with length {len(prompt)} instead.")
    return None


#: Seedream's image counts (§3.2): at most 14 reference images, 1–15 images in a set, and the two together 15.
SEEDREAM_MAX_REFS, SEEDREAM_MAX_TOTAL = 14, 15


def _seedream_counts(body: dict[str, Any], refs: list[Any]) -> str | None:
    """Ark's refusal of a Seedream body whose image counts are out of bounds, or None."""
    seq = obj(body.get("sequential_image_generation_options"))
    asked = seq.get("max_images", 1) if body.get("sequential_image_generation") == "auto" else 1
    if isinstance(asked, bool) or not isinstance(asked, int) or not 1 <= asked <= SEEDREAM_MAX_TOTAL:
        return f"sequential_image_generation_options.max_images must be an integer from 1 to {SEEDREAM_MAX_TOTAL}"
    if len(refs) > SEEDREAM_MAX_REFS:
        return f"at most {SEEDREAM_MAX_REFS} reference images are supported, got {len(refs)}"
    if len(refs) + asked > SEEDREAM_MAX_TOTAL:
        return (f"reference images ({len(refs)}) plus images to generate ({asked}) must not exceed "
                f"{SEEDREAM_MAX_TOTAL}")
    return None


def _family(model: str) -> str:
    m = model.lower()
    for prefix, fam in (("wan", "wan"), ("qwen", "qwen"), ("doubao-seedream", "seedream"), ("seedream", "seedream"),
                        ("dall-e-3", "dalle3"), ("dall-e", "dalle2"), ("gpt-image", "gptimage")):
        if m.startswith(prefix):
            return fam
    return "generic"


def load_reference(ctx: Ctx, ref: Any) -> bytes | None:
    """Bytes of a reference image given as a data URL or as one of this simulator's own file URLs."""
    if not isinstance(ref, str):
        return None
    if ref.startswith("data:"):
        try:
            return base64.b64decode(ref.split(",", 1)[1])
        except (IndexError, binascii.Error, ValueError):
            return None
    if "/sim/files/" in ref:
        stored = ctx.state.files.get(ref.rsplit("/sim/files/", 1)[1].split("?")[0])
        return stored.data if stored else None
    return None


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _dashscope_input(body: dict[str, Any]) -> tuple[str, list[Any]]:
    """Prompt and image refs from a DashScope ``input`` (messages or prompt form)."""
    inp = obj(body.get("input"))
    texts: list[str] = []
    refs: list[Any] = []
    for msg in inp.get("messages") or []:
        for part in (msg.get("content") if isinstance(msg, dict) else None) or []:
            if isinstance(part, dict):
                if "text" in part:
                    texts.append(str(part["text"]))
                if "image" in part:
                    refs.append(part["image"])
    if inp.get("prompt"):
        texts.append(str(inp["prompt"]))
    refs.extend(inp.get("images") or [])
    return " ".join(texts), refs


@dataclass(frozen=True)
class _Drawing:
    """What an answer's images are drawn from: equal drawings give the same bytes."""

    prompt: str
    size: tuple[int, int]
    n: int
    seed: int
    sources: tuple[bytes, ...] = ()
    mask: bytes | None = None

    def make(self) -> list[bytes]:
        src = next((img for img in (media.open_image(b) for b in self.sources) if img is not None), None)
        mask_img = media.open_image(self.mask) if self.mask else None
        out = []
        for i in range(self.n):
            if src is not None:
                img = media.derive_image(src, self.prompt, self.size[0], self.size[1], self.seed, mask_img, index=i)
            else:
                img = media.draw_image(self.prompt, self.size[0], self.size[1], self.seed, index=i)
            out.append(media.png_bytes(img))
        return out


async def _render(ctx: Ctx, drawing: _Drawing) -> list[bytes]:
    """The PNGs of ``drawing``, drawn in a worker thread: taken from what the request began while the ``latency``
    fault held it when that was this very drawing, else drawn now."""
    begun = ctx.early.take(drawing) if ctx.early is not None else None
    if begun is not None:
        return await begun  # type: ignore[no-any-return]
    return await run_in_threadpool(drawing.make)


def _publish(ctx: Ctx, pngs: list[bytes]) -> list[str]:
    return [ctx.file_url(ctx.state.put_file(p, "image/png", "png")) for p in pngs]


@dataclass(frozen=True)
class _Generation:
    model: str
    fam: str
    drawing: _Drawing
    response_format: str


def _generation(ctx: Ctx, body: dict[str, Any]) -> _Generation | Response:
    """What a generation body asks for, or the service's refusal of it; reads, changes nothing."""
    model = str(body["model"])
    fam = _family(model)
    params = obj(body.get("parameters"))
    ds_prompt, refs = _dashscope_input(body)
    prompt = str(body.get("prompt") or ds_prompt or "")
    if not prompt:
        return error_response(ctx, 400, "prompt is required", "invalid_request", "invalid_request_error")
    for key in ("image", "images"):
        v = body.get(key)
        refs.extend(v if isinstance(v, list) else [v] if v else [])
    refusal = _openai_refusal(model, fam, body)
    if refusal is not None:
        return error_response(ctx, 400, refusal, "invalid_value", "invalid_request_error")
    if fam == "qwen" and "edit" in model.lower().replace(".", "-").split("-") and not 1 <= len(refs) <= 3:
        # DashScope's qwen-image-edit models edit only: 1-3 {image} items beside the text
        return error_response(ctx, 400, f"{model} edits images: input.messages needs 1-3 {{\"image\": …}} items, "
                              f"got {len(refs)}", "invalid_request", "invalid_request_error")
    n = max(1, min(MAX_N, images_asked(body)))
    if fam == "seedream" and (why := _seedream_counts(body, refs)) is not None:
        return error_response(ctx, 400, why, "invalid_request", "invalid_request_error")
    if fam == "seedream":  # the service refuses sizes outside its range (§10.4) rather than fitting them
        wanted = seedream_size(body.get("size"))
        if isinstance(wanted, str):
            return error_response(ctx, 400, wanted, "invalid_request", "invalid_request_error")
        size = wanted  # drawn as asked: the pixel range bounds it
    else:
        size = media.parse_size(body.get("size") or params.get("size"), (1024, 1024))
    seed = seed_of(body)
    sources = tuple(b for b in (load_reference(ctx, r) for r in refs) if b)
    return _Generation(model, fam, _Drawing(prompt, size, n, seed, sources), str(body.get("response_format") or "url"))


def draw_early(ctx: Ctx, body: dict[str, Any]) -> None:
    """Begin drawing a generation's images while the ``latency`` fault holds its request (``_api``'s ``early``):
    drawn after the wait, a batch's drawings queued behind it on the simulator's one core."""
    asked = _generation(ctx, body)
    if isinstance(asked, _Generation) and ctx.early is not None:
        ctx.early.begin(asked.drawing, asked.drawing.make)


async def generations(ctx: Ctx, body: dict[str, Any]) -> Response:
    asked = _generation(ctx, body)
    if isinstance(asked, Response):
        return asked
    pngs = await _render(ctx, asked.drawing)
    return _answer(ctx, asked.model, asked.fam, asked.drawing.prompt, pngs, asked.drawing.size,
                   asked.response_format)


def _answer(ctx: Ctx, model: str, fam: str, prompt: str, pngs: list[bytes], size: tuple[int, int],
            response_format: str) -> Response:
    created = int(time.time())
    b64 = response_format == "b64_json"
    urls = [] if b64 else _publish(ctx, pngs)
    size_text = f"{size[0]}x{size[1]}"
    if fam in ("wan", "qwen"):  # DashScope answers: the image URL under ``text`` of an ``image`` part
        content: list[dict[str, Any]] = [{"type": "text", "text": f"Generated {len(pngs)} image(s) for: {prompt}"}]
        for i, png in enumerate(pngs):
            ref = urls[i] if urls else "data:image/png;base64," + base64.b64encode(png).decode()
            content.append({"type": "image", "text": ref})
        return json_out(ctx, {
            "output": [{"type": "message", "content": content}],
            "usage": {"total_tokens": 1500 * len(pngs), "input_tokens": 500, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": 1500 * len(pngs) - 500, "output_tokens_details": {"reasoning_tokens": 0}},
            "request_id": ctx.request_id})
    data: list[dict[str, Any]] = []
    for i, png in enumerate(pngs):
        item: dict[str, Any] = {"b64_json": base64.b64encode(png).decode()} if b64 else {"url": urls[i]}
        if fam == "dalle3":
            item["revised_prompt"] = f"{prompt}, rendered as a clean, detailed illustration."
        if fam == "seedream":
            item["size"] = size_text
        data.append(item)
    out: dict[str, Any] = {"created": created, "data": data}
    if fam == "gptimage":
        out["usage"] = {"total_tokens": 24 + 1000 * len(pngs), "input_tokens": 24, "output_tokens": 1000 * len(pngs),
                        "input_tokens_details": {"text_tokens": 24, "image_tokens": 0}}
    elif fam == "seedream":
        out["model"] = model
        out["usage"] = {"generated_images": len(pngs), "output_tokens": 4096 * len(pngs),
                        "total_tokens": 4096 * len(pngs)}
    return json_out(ctx, out)


async def edits(ctx: Ctx, form: Form) -> Response:
    model = form.get("model") or "gpt-image-1.5"
    prompt = form.get("prompt") or ""
    images = form.uploads("image", "image[]")
    if not images:
        return error_response(ctx, 400, "image is required", "invalid_request", "invalid_request_error")
    if not prompt:
        return error_response(ctx, 400, "prompt is required", "invalid_request", "invalid_request_error")
    first = media.open_image(images[0].data)
    if first is None:
        return error_response(ctx, 400, "image must be a PNG, JPEG or WEBP file", "invalid_request",
                              "invalid_request_error")
    fam = _family(model)
    if fam == "dalle3":
        return error_response(ctx, 400, "dall-e-3 does not support image edits; use dall-e-2 or a GPT image model.",
                              "invalid_value", "invalid_request_error")
    refusal = _openai_refusal(model, fam, {k: form.get(k) for k in ("size", "n", "quality", "background",
                                                                     "output_format", "style", "prompt")})
    if refusal is not None:
        return error_response(ctx, 400, refusal, "invalid_value", "invalid_request_error")
    masks = form.uploads("mask")
    n = max(1, min(MAX_N, _as_int(form.get("n"), 1)))
    size_field = form.get("size")
    size = media.parse_size(size_field, first.size) if size_field and size_field != "auto" else _fit(first)
    seed = seed_of(model, form.fingerprint())
    pngs = await _render(ctx, _Drawing(prompt, size, n, seed, (images[0].data,), masks[0].data if masks else None))
    return _answer(ctx, model, _family(model), prompt, pngs, size, form.get("response_format") or "url")


def _fit(img: Image.Image) -> tuple[int, int]:
    w, h = img.size
    scale = min(1.0, 1536 / max(w, h))
    return max(16, int(w * scale)), max(16, int(h * scale))
