"""Video inputs and options, checked against the model's capabilities before any request.

Every refusal is one line that says what the model *does* take (the allowed list or range, the images it
accepts), never a guess by string distance: ``1080p`` is not "close to" ``480p``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...catalog import ModelInfo
from ...errors import InputError, UnsupportedOptionError
from .._common import media_url

ROLES = ("first_frame", "last_frame", "reference_image")
FRAME_ROLES = ("first_frame", "last_frame")

_DROP_OR_EXTRA = "Drop the option, or send it anyway with extra={...} / raw={...} if you know the relay takes it."


@dataclass(frozen=True)
class Item:
    """One input for the wire: a URL (http(s) or data URL) and what it is for."""

    url: str
    role: str  # first_frame | last_frame | reference_image | reference_video | reference_audio
    explicit: bool = True  # the caller named the role (else it is the default for its position)

    @property
    def local(self) -> bool:
        return self.url.startswith("data:")


def _media(item: Any, what: str) -> tuple[Any, str | None]:
    """``(media, role or None)`` from an input or a ``{"image"|"url"|"data": …, "role": …}`` mapping."""
    if not isinstance(item, Mapping):
        return item, None
    media = item.get(what, item.get("image", item.get("url")))
    if media is None and item.get("data") is not None:
        media = (item["data"], item.get("mime", "image/png"))
    role = item.get("role")
    return media, None if role is None else str(role)


def image_items(images: Sequence[Any]) -> list[tuple[str, str | None]]:
    """``(url, role or None)`` for each image input; an unknown role is refused."""
    out: list[tuple[str, str | None]] = []
    for it in images:
        media, role = _media(it, "image")
        if role is not None and role not in ROLES:
            raise InputError(f"Unknown image role {role!r}; use one of: {', '.join(ROLES)}.")
        out.append((media_url(media), role))
    return out


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) and not _is_pair(value) else [value]


def _is_pair(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (bytes, bytearray))


# --- what a model takes, in words ------------------------------------------------------------------


def _count(n: int, what: str) -> str:
    return f"1 {what}" if n == 1 else f"1–{n} {what}s"


def images_allowed(model: ModelInfo) -> str:
    """The model's image inputs as a phrase: 'a first frame or a first + last frame, or 1–9 reference images'."""
    caps = model.capabilities
    refs = int(caps.get("reference_images") or 0)
    frames = ""
    if caps.get("first_frame"):
        frames = "a first frame" + (" (optionally with a last frame)" if caps.get("last_frame") else "")
    ref_text = _count(refs, "reference image") if refs else ""
    if frames and ref_text:
        return f"{frames}, or {ref_text} (not both)"
    return frames or ref_text or "no images (text only)"


# --- images and their roles ------------------------------------------------------------------------


def assign_roles(model: ModelInfo, items: list[tuple[str, str | None]], has_video: bool) -> list[Item]:
    """Default roles: one image is the first frame, two are first + last frame (when the model takes a last
    frame), anything else (or anything with a video) are references."""
    caps = model.capabilities
    if all(r is not None for _, r in items):
        return [Item(u, r or "") for u, r in items]
    refs = int(caps.get("reference_images") or 0)
    n = len(items)
    by_frames = bool(caps.get("first_frame")) and not has_video and (n == 1 or (n == 2 and caps.get("last_frame")))
    if not by_frames and not refs and caps.get("first_frame"):
        by_frames = True  # a frames-only model: let check_images say what it takes
    defaults = ["first_frame", "last_frame"] if by_frames else ["reference_image"] * n
    return [Item(u, r or defaults[min(i, len(defaults) - 1)], r is not None) for i, (u, r) in enumerate(items)]


def check_images(model: ModelInfo, items: list[Item]) -> None:
    """Counts, roles and exclusivity, with an error that lists what the model takes."""
    caps = model.capabilities
    roles = [i.role for i in items if i.role in ROLES]
    n = len(roles)
    first, last, refs = roles.count("first_frame"), roles.count("last_frame"), roles.count("reference_image")
    takes = images_allowed(model)
    if n and takes.startswith("no images"):
        raise UnsupportedOptionError(f"{model.id} takes no input images (text to video); got {n}.",
                                     hint="Drop the images, or pick an image-to-video model.")
    if first > 1 or last > 1 or (first + last and not caps.get("first_frame")) or (
            last and not caps.get("last_frame")) or (refs and not caps.get("reference_images")) or (
            last and not first) or refs > int(caps.get("reference_images") or 0):
        got = _describe(roles) if all(i.explicit for i in items) else f"{n} image{'s' if n > 1 else ''}"
        raise UnsupportedOptionError(f"{model.id} takes {takes}; got {got}.",
                                     hint="Pass fewer images" + _role_hint(model) + ".")
    if refs and (first or last):
        raise InputError(f"{model.id}: frame images (first/last frame) and reference images cannot be mixed in one "
                         "request; send either frames or references.")
    if caps.get("requires_image") and not n:
        raise InputError(f"{model.id} needs an input image ({takes}).", hint="Pass image=… / images=[…].")


def _role_hint(model: ModelInfo) -> str:
    """Only the roles this model takes (never suggest a last frame to a model without one)."""
    caps = model.capabilities
    roles = [r for r, ok in (("first_frame", caps.get("first_frame")), ("last_frame", caps.get("last_frame")),
                             ("reference_image", caps.get("reference_images"))) if ok]
    if len(roles) < 2:
        return ""
    return ", or say what each is for: {'image': …, 'role': " + "|".join(repr(r) for r in roles) + "}"


def _describe(roles: list[str]) -> str:
    parts = [f"{roles.count(r)} {r.replace('_', ' ')}{'s' if roles.count(r) > 1 else ''}"
             for r in ROLES if roles.count(r)]
    return ", ".join(parts) or "no images"


def check_public(model: ModelInfo, items: Sequence[Item], what: str = "image") -> None:
    """Families that fetch inputs themselves take public http(s) URLs only."""
    if not model.can("public_urls_only"):
        return
    for it in items:
        if not it.url.lower().startswith(("http://", "https://")):
            raise InputError(
                f"{model.id} takes {what}s only as public http(s) URLs; got a local file or bytes "
                f"({it.url[:30]}…).",
                hint=f"Upload the {what} somewhere public and pass its https:// URL.",
            )


def media_items(model: ModelInfo, value: Any, kind: str) -> list[Item]:
    """Input videos / audios as items (``reference_video`` / ``reference_audio``), counted and checked."""
    values = as_list(value)
    if not values:
        if kind == "video" and model.can("requires_video"):
            raise InputError(f"{model.id} transforms a video; pass video=<URL or file>.")
        return []
    cap = "video_input" if kind == "video" else "audio_input"
    if not model.can(cap):
        other = "a -V2V or video-edit model" if kind == "video" else "a Seedance 2.x model"
        raise UnsupportedOptionError(f"{model.id} takes no input {kind}; got {len(values)}.",
                                     hint=f"Drop {kind}=, or pick {other}.")
    limit = int(model.capabilities.get(f"max_{kind}s") or 1)
    if len(values) > limit:
        raise UnsupportedOptionError(f"{model.id} takes at most {limit} input {kind}(s); got {len(values)}.",
                                     hint=f"Pass fewer {kind}s.")
    out = []
    for v in values:
        media, _role = _media(v, kind)
        out.append(Item(media_url(media, kind), f"reference_{kind}"))
    if model.can("media_urls_only"):
        for it in out:
            if not it.url.lower().startswith(("http://", "https://")):
                raise InputError(
                    f"{model.id} takes input {kind}s only as public http(s) URLs, not as uploaded bytes; got a "
                    f"local file or bytes ({it.url[:30]}…).",
                    hint=f"Pass the {kind}'s https:// URL (an earlier result of this session is sent by its own "
                         f"link while that lasts), or upload the file somewhere public first.")
    return out


# --- options ----------------------------------------------------------------------------------------


def _allowed_text(values: Sequence[Any], unit: str = "") -> str:
    """``4–15 s (or -1 = automatic)`` for a contiguous integer run, else the list."""
    ints = sorted(v for v in values if isinstance(v, int) and v > 0)
    auto = " (or -1 = automatic)" if -1 in values else ""
    if len(ints) > 4 and ints == list(range(ints[0], ints[-1] + 1)):
        return f"{ints[0]}–{ints[-1]}{unit}{auto}"
    shown = ", ".join(str(v) for v in values if v != -1)
    return f"{shown}{unit}{auto}"


def refuse(model: ModelInfo, option: str, value: Any, allowed: Sequence[Any], unit: str = "",
           hint: str | None = None) -> UnsupportedOptionError:
    """One line: the bad value and what IS allowed (no nearest-string guess)."""
    if not allowed:
        return UnsupportedOptionError(f"{model.id} does not take the option {option!r} (got {value!r}).",
                                      hint=hint or _DROP_OR_EXTRA)
    return UnsupportedOptionError(
        f"{model.id} does not accept {option}={value!r}; allowed: {_allowed_text(allowed, unit)}.",
        hint=hint or "Pick one of those, or send it anyway with extra={...} / raw={...}.",
    )


def resolution(model: ModelInfo, value: Any) -> str | None:
    if value is None:
        return None
    allowed = model.choices("resolutions")
    if not allowed:
        raise refuse(model, "resolution", value, [])
    text = str(value).strip().lower()
    for cand in (text, text + "p"):
        for a in allowed:
            if str(a).lower() == cand:
                return str(a)
    raise refuse(model, "resolution", value, allowed)


def duration(model: ModelInfo, value: Any) -> int | None:
    if value is None:
        return None
    allowed = model.choices("durations")
    if "durations" in model.capabilities and not allowed:
        raise refuse(model, "duration", value, [], hint="This model's output length follows its input video.")
    try:
        d = int(str(value).strip().rstrip("s"))
        if float(str(value).strip().rstrip("s")) != d:
            raise ValueError
    except (TypeError, ValueError):
        raise refuse(model, "duration", value, allowed, " s") from None
    if allowed and d not in allowed:
        raise refuse(model, "duration", value, allowed, " s")
    return d


def ratio(model: ModelInfo, value: Any) -> str | None:
    if value is None:
        return None
    allowed = model.choices("ratios")
    if not allowed:
        raise refuse(model, "ratio", value, [],
                     hint="This model takes its aspect ratio from the input image or resolution; drop ratio=.")
    text = str(value).strip().lower()
    for a in allowed:
        if str(a).lower() == text:
            return str(a)
    raise refuse(model, "ratio", value, allowed)


def common(model: ModelInfo, items: list[Item], dur: Any, res: Any, rat: Any, seed: Any) -> dict[str, Any]:
    """Checked ``duration``, ``resolution``, ``ratio`` and ``seed`` (model defaults filled in)."""
    caps = model.capabilities
    has_first = any(i.role == "first_frame" for i in items)
    has_refs = any(i.role == "reference_image" for i in items)
    explicit_ratio = rat is not None
    o: dict[str, Any] = {
        "duration": duration(model, dur if dur is not None else model.defaults.get("duration")),
        "resolution": resolution(model, res if res is not None else model.defaults.get("resolution")),
        "ratio": ratio(model, rat if explicit_ratio else model.defaults.get("ratio")),
        "seed": seed,
    }
    if seed is not None and not model.can("seed"):
        raise refuse(model, "seed", seed, [])
    need = caps.get("first_frame_ratio")
    if need and has_first:
        if explicit_ratio and o["ratio"] != need:
            raise UnsupportedOptionError(
                f"{model.id} with a first-frame image needs ratio={need!r} (the video follows the image); "
                f"got ratio={o['ratio']!r}.", hint=f"Drop ratio= or pass ratio={need!r}.")
        o["ratio"] = need
    ref_durations = caps.get("reference_durations")
    if has_refs and ref_durations:
        if dur is None:
            o["duration"] = ref_durations[0]
        elif o["duration"] not in ref_durations:
            raise UnsupportedOptionError(
                f"{model.id} with reference images makes {_allowed_text(ref_durations, ' s')} videos only; "
                f"got duration={o['duration']}.", hint=f"Use duration={ref_durations[0]}.")
    limit = dict(caps.get("resolution_max_duration") or {}).get(o["resolution"])
    if limit is not None and o["duration"] is not None and o["duration"] > limit:
        raise UnsupportedOptionError(
            f"{model.id} makes {o['resolution']} videos of at most {limit} s; got duration={o['duration']}.",
            hint=f"Use duration={limit} or a lower resolution.")
    return o
