"""Small pure helpers shared by the families: body merging, data URLs, option validation, usage."""

from __future__ import annotations

import base64
import copy
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._config import redact
from .._suggest import did_you_mean
from ..catalog import ModelInfo
from ..errors import APIError, InputError, UnsupportedOptionError
from ._types import Usage

#: An input image/video as builders accept it: ``(bytes, mime)``, or a URL / data-URL string.
Media = tuple[bytes, str] | str


def check_number(name: str, value: Any, *, integer: bool = False, minimum: float | None = None) -> None:
    """Refuse an option of the wrong type (``temperature="0.5"``, ``seed=4.2``) with one line, before any request.

    ``None`` (not given) passes. Booleans are refused: ``True`` is an int to Python but never a seed.
    """
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        what = "a whole number" if integer else "a number"
        raise InputError(f"{name} must be {what}, not {type(value).__name__} ({value!r:.40}).",
                         hint=f"Pass e.g. {name}={7 if integer else 0.7}.")
    if minimum is not None and (value < minimum or value != value):  # (nan is below nothing)
        raise InputError(f"{name} must be at least {minimum:g} (got {value!r}).",
                         hint=f"Pass e.g. {name}={max(minimum, 7 if integer else 0.7):g}, or leave it out.")


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """``base`` with ``extra`` merged in; nested dicts merge, everything else is replaced.

    Copies only what the merge changes: a new dict at the top and along every merged path, so neither
    argument is modified. Untouched values (the messages of a long conversation) are shared, not deep-copied:
    the body is rebuilt per call and sent, never mutated. Values taken from ``extra`` are deep-copied, so a
    caller changing its options afterwards does not change a built body.
    """
    out = dict(base)
    for key, value in (extra or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def nest_fields(extra: Mapping[str, Any] | None, places: Mapping[str, str]) -> dict[str, Any] | None:
    """``extra`` with each field the protocol keeps in a nested object moved there (``{"watermark": True}`` →
    ``{"parameters": {"watermark": True}}`` for a DashScope body): at the top level the service ignores it, and
    the body's own ``parameters.watermark`` would win. Fields the protocol does not name stay where they are."""
    if not extra:
        return None if extra is None else dict(extra)
    out: dict[str, Any] = {}
    for key, value in extra.items():
        where = places.get(key)
        out = deep_merge(out, {where: {key: value}} if where else {key: value})
    return out


def finish_body(body: dict[str, Any], extra: Mapping[str, Any] | None, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Apply the escape hatches: ``raw`` replaces the body whole, else ``extra`` is deep-merged."""
    if raw is not None:
        return copy.deepcopy(dict(raw))
    return deep_merge(body, extra)


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# --- media ---------------------------------------------------------------------------------------


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_DATA_URL = re.compile(r"^data:([\w.+/-]+)?((?:;[\w-]+=[^;,]*)*)(;base64)?,(.*)$", re.S)


def parse_data_url(url: str) -> tuple[bytes, str] | None:
    """``(bytes, mime)`` from a ``data:`` URL, or None if it is not one."""
    m = _DATA_URL.match(url.strip())
    if not m:
        return None
    mime = m.group(1) or "application/octet-stream"
    payload = m.group(4)
    try:
        if m.group(3):
            return base64.b64decode(payload + "=" * (-len(payload) % 4)), mime
        from urllib.parse import unquote_to_bytes

        return unquote_to_bytes(payload), mime
    except ValueError:
        return None


def media_url(item: Any, what: str = "image") -> str:
    """A URL for the wire: ``(bytes, mime)`` becomes a data URL, strings pass through."""
    if isinstance(item, str):
        if not item.strip():
            raise InputError(f"Empty {what} URL.", hint=f"Pass the {what} as (bytes, mime) or an http(s)/data URL.")
        return item.strip()
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], (bytes, bytearray)):
        return data_url(bytes(item[0]), str(item[1]))
    if isinstance(item, (bytes, bytearray)):
        return data_url(bytes(item), sniff_mime(bytes(item)))
    raise InputError(
        f"Cannot use {type(item).__name__} as {what} input here.",
        hint=f"Pass the {what} as (bytes, mime) or an http(s)/data URL string.",
    )


def media_bytes(item: Any, what: str = "image") -> tuple[bytes, str]:
    """``(bytes, mime)`` for inline/multipart use; data URLs are decoded, http URLs are refused."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], (bytes, bytearray)):
        return bytes(item[0]), str(item[1])
    if isinstance(item, (bytes, bytearray)):
        return bytes(item), sniff_mime(bytes(item))
    if isinstance(item, str):
        decoded = parse_data_url(item)
        if decoded:
            return decoded
        raise InputError(
            f"This endpoint needs the {what} bytes, not a URL ({redact(item)[:60]!r}).",
            hint=f"Download the {what} first or pass it as (bytes, mime).",
        )
    raise InputError(f"Cannot use {type(item).__name__} as {what} input.", hint="Pass (bytes, mime).")


def sniff_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return "application/octet-stream"


EXT_FOR_MIME = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


# --- validation ----------------------------------------------------------------------------------


def unsupported(model: ModelInfo, option: str, value: Any, allowed: Iterable[Any] | None = None,
                hint: str | None = None) -> UnsupportedOptionError:
    """An error naming the model, the bad value and what it accepts."""
    allowed = list(allowed) if allowed is not None else []
    if allowed:
        msg = (f"{model.id} does not accept {option}={value!r}; allowed: {', '.join(map(str, allowed))}."
               + did_you_mean(value, allowed, cutoff=0.5))
    else:
        msg = f"{model.id} does not take the option {option!r} (got {value!r})."
    return UnsupportedOptionError(
        msg,
        hint=hint or "Drop the option, or send it anyway with extra={...} / raw={...} if you know the relay takes it.",
    )


def pick_choice(model: ModelInfo, option: str, value: Any, allowed: list[Any]) -> Any:
    """``value`` if it is in ``allowed`` (case-insensitively for strings, returned in the catalogue's spelling)."""
    for a in allowed:
        if a == value or (isinstance(a, str) and isinstance(value, str) and a.lower() == value.strip().lower()):
            return a
    raise unsupported(model, option, value, allowed)


def check_listed(model: ModelInfo, options: Mapping[str, Any], lists: Mapping[str, str]) -> dict[str, Any]:
    """``options`` with each one ``lists`` names (option → capability) checked against the model's list and spelled
    as the catalogue does. A model whose capabilities hold the list (empty: it takes no such option) is checked;
    one without it sends the option as given."""
    out = dict(options)
    for option, capability in lists.items():
        if out.get(option) is None or capability not in model.capabilities:
            continue
        allowed = model.choices(capability)
        if not allowed:
            raise unsupported(model, option, out[option])
        out[option] = pick_choice(model, option, out[option], allowed)
    return out


def check_n(model: ModelInfo, n: int | None) -> None:
    if n is None:
        return
    max_n = int(model.capabilities.get("max_n") or 1)
    if not isinstance(n, int) or isinstance(n, bool):  # "got n=2.0" under "1 to 15" read as a range error
        raise InputError(f"n is how many images: a whole number, not {type(n).__name__} ({n!r:.40}).",
                         hint=f"e.g. n=2 ({model.id} makes 1 to {max_n} per call).")
    if n < 1 or n > max_n:  # (below the range, "lower n" was the wrong way)
        raise UnsupportedOptionError(
            f"{model.id} makes 1 to {max_n} image(s) per call; got n={n!r}.",
            hint=f"Give n=1 to {max_n}, or leave n out for one image." if n < 1 else
            "Lower n, or pass a list of prompts / call several times for more images.",
        )


# --- usage ---------------------------------------------------------------------------------------


#: Largest count taken from an answer (what the history store's INTEGER holds); past it, a relay's garbage.
MAX_COUNT = 2**63 - 1


def count(v: Any) -> int | None:
    """``v`` as a whole number, or None when it is missing, unreadable, not finite (JSON's ``1e400`` parses as
    infinity) or out of range: one absurd field must not cost the paid answer it came with."""
    if v is None or isinstance(v, bool):
        return None
    try:
        n = int(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return n if -MAX_COUNT <= n <= MAX_COUNT else None


def finite(v: Any) -> float | None:
    """``v`` as a finite float, or None (missing, unreadable, infinite, NaN, too large for a float)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


def _int(v: Any) -> int:
    """A usage count: a negative one is a relay's garbage, no count (it would bill the call below zero)."""
    if type(v) is int and 0 <= v <= MAX_COUNT:  # (the usual count, or an absent one: ~19 reads an answer)
        return v
    if v is None:
        return 0
    return max(count(v) or 0, 0)


def received(value: Any) -> Any:
    """``value`` (decoded JSON from the network) with any key the relay echoed redacted, as the session redacts the
    answer text: only strings that may hold one are looked at (dict keys too)."""
    kind = type(value)
    if kind is int or kind is float or value is None or kind is bool:  # (most of a usage: its counts)
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {received(k): received(v) for k, v in value.items()}
    if isinstance(value, list):
        return [received(v) for v in value]
    return value


def _cache_writes(u: dict[str, Any], details: Any) -> tuple[int, int, int]:
    """``(written apart from the input count, written within it, of them for 1 hour)``: the prompt-cache writes a
    usage reports.

    Claude's ``cache_creation_input_tokens`` (split by TTL in ``cache_creation.ephemeral_5m_input_tokens`` /
    ``ephemeral_1h_input_tokens``) is not part of its ``input_tokens``; an OpenAI-shaped usage a relay converted
    keeps the writes inside ``prompt_tokens`` and names them in ``prompt_tokens_details`` (new-api's
    ``cached_creation_tokens`` / ``cache_write_tokens``, others' ``cache_creation_input_tokens``) and, for Claude's
    TTL split, ``claude_cache_creation_5_m_tokens`` / ``claude_cache_creation_1_h_tokens``. Where both an aggregate
    and a split are given the larger counts, as new-api's ``cacheWriteTokensTotal`` does
    (QuantumNous/new-api ``service/text_quota.go``, ``relaykit/dto/openai_response.go``)."""
    split = u.get("cache_creation")
    split = split if isinstance(split, dict) else {}
    five = _int(split.get("ephemeral_5m_input_tokens")) or _int(u.get("claude_cache_creation_5_m_tokens"))
    hour = _int(split.get("ephemeral_1h_input_tokens")) or _int(u.get("claude_cache_creation_1_h_tokens"))
    apart = max(_int(u.get("cache_creation_input_tokens")), five + hour if split else 0)
    details = details if isinstance(details, dict) else {}
    within = max(_int(details.get("cached_creation_tokens")), _int(details.get("cache_write_tokens")),
                 _int(details.get("cache_creation_input_tokens")), 0 if split else five + hour)
    return max(apart, 0), max(within, 0), max(hour, 0)


def usage_from(u: Any) -> Usage:
    """Normalise OpenAI chat, Responses, Claude, Gemini ``usageMetadata`` and image usage into :class:`Usage`.

    ``input_tokens`` counts every input token, whatever it was billed at: ``cached_tokens`` (read from the prompt
    cache) and ``cache_write_tokens`` (written to it) are parts of it."""
    if not isinstance(u, dict):
        return Usage()
    prompt_details = u.get("prompt_tokens_details") or u.get("input_tokens_details") or {}
    written, within, hour = _cache_writes(u, prompt_details)
    inp = _int(u.get("prompt_tokens")) or _int(u.get("input_tokens")) or _int(u.get("promptTokenCount"))
    inp += written + _int(u.get("cache_read_input_tokens"))
    thoughts = _int(u.get("thoughtsTokenCount"))
    out = (
        _int(u.get("completion_tokens"))
        or _int(u.get("output_tokens"))
        or (_int(u.get("candidatesTokenCount")) + thoughts)
    )
    details = u.get("completion_tokens_details") or u.get("output_tokens_details") or {}
    reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else 0
    reasoning = reasoning or thoughts
    cached = _int(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else 0
    cached = min(inp, cached or _int(u.get("cache_read_input_tokens")) or _int(u.get("cachedContentTokenCount")))
    writes = min(max(written, within), inp - cached)
    total = _int(u.get("total_tokens")) or _int(u.get("totalTokenCount")) or inp + out
    images = _int(u.get("generated_images")) or _int(u.get("image_count"))
    duration = u.get("duration")
    seconds = (finite(duration) or 0.0) if isinstance(duration, (int, float)) else 0.0
    return Usage(inp, out, total, reasoning, images, seconds, raw=received(dict(u)),  # (its repr shows raw)
                 cached_tokens=cached, cache_write_tokens=writes, cache_write_1h_tokens=min(hour, writes))


def merge_usage(prev: Usage | None, new: Usage | None) -> Usage | None:
    """Combine stream usage snapshots (field-wise max): streams report cumulative counts, some split in/out."""
    if prev is None or new is None:
        return new or prev
    inp = max(prev.input_tokens, new.input_tokens)
    out = max(prev.output_tokens, new.output_tokens)
    return Usage(
        inp,
        out,
        max(prev.total_tokens, new.total_tokens, inp + out),
        max(prev.reasoning_tokens, new.reasoning_tokens),
        max(prev.images, new.images),
        max(prev.video_seconds, new.video_seconds),
        raw={**prev.raw, **new.raw},
        cached_tokens=max(prev.cached_tokens, new.cached_tokens),
        cache_write_tokens=max(prev.cache_write_tokens, new.cache_write_tokens),
        cache_write_1h_tokens=max(prev.cache_write_1h_tokens, new.cache_write_1h_tokens),
    )


def dig(obj: Any, *path: str | int) -> Any:
    """``obj[p0][p1]…`` or None when any step is missing."""
    for p in path:
        if isinstance(p, int):
            if not isinstance(obj, list) or not -len(obj) <= p < len(obj):
                return None
            obj = obj[p]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(p)
    return obj


def dig_list(obj: Any, *path: str | int) -> list[Any]:
    """``dig(obj, *path)`` when it is a list, else ``[]``: a relay's number, ``true`` or object where a list belongs
    is nothing to iterate (``dig(…) or []`` would iterate an object's keys or raise on a number)."""
    value = dig(obj, *path)
    return value if isinstance(value, list) else []


#: Keys of a reply that carries content: beside them an ``error`` field is not the whole answer.
_CONTENT_KEYS = ("choices", "candidates", "content", "output", "data", "text", "results")


def _task_error(body: dict[str, Any]) -> bool:
    """Whether ``body`` is new-api's task error envelope: a string ``code`` that is not "success" and a message."""
    code, message = body.get("code"), body.get("message")
    return isinstance(code, str) and code.strip().lower() not in ("", "success") and isinstance(message, str) \
        and bool(message.strip())


def refuse_error_envelope(body: Any, *, content: Iterable[str] = _CONTENT_KEYS, answer: str = "The answer",
                          instead: str = "a reply") -> None:
    """Raise :class:`APIError` when a 2xx ``body`` is an error envelope with none of the ``content`` keys (a relay's
    error sent with status 200): its message, not an empty answer or "no image". ``answer`` and ``instead`` name
    the call's answer in the message ("The transcription answer is an error, not a transcript: …")."""
    if not isinstance(body, dict) or any(body.get(k) for k in content):
        return
    err = body.get("error")
    if not err and _task_error(body):  # the task envelope ({"code", "message", "data": null}, reference §1.4)
        err = body
    if not err:
        return
    message = (err.get("message") or err.get("msg") or err.get("type")) if isinstance(err, dict) else err
    code = err.get("code") if isinstance(err, dict) else body.get("code")
    said = redact(str(message or err))[:300]  # redacted before the cut: a key across it would be missed
    raise APIError(f"{answer} is an error, not {instead}: {said}", status=200,
                   code=str(code) if code not in (None, "") else None,
                   hint="The relay sent an error although the status said success; try again.")


#: How an HTML page opens (lower case), after any byte order mark and whitespace.
_HTML_STARTS = (b"<!doctype", b"<html", b"<head", b"<body")


def looks_like_html(head: bytes) -> bool:
    """Whether a body starting with ``head`` is an HTML page: a proxy's, CDN's or sign-in page sent with a 2xx in
    place of the answer (or the media), which must become an error, never the paid result."""
    return head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()[:16].lower().startswith(_HTML_STARTS)


def text_items(items: list[Any] | tuple[Any, ...], name: Callable[[int], str], *, made_from: str, empty: str,
               plural: str) -> list[str]:
    """Each item a non-empty string (the texts to embed, the documents to rerank), or one ``InputError`` naming the
    first that is not: what it is, and how to send it. ``plural`` names the list in the fix ("texts")."""
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(f"{name(i)} is a {type(item).__name__} ({item!r:.40}), not a string.",
                             hint=f"{made_from}: pass str(value) if you meant its text.")
        if not item.strip():
            letter = plural[0]
            raise InputError(f"{name(i)} is empty; {empty}.",
                             hint=f"Leave empty {plural} out (e.g. [{letter} for {letter} in {plural} if "
                                  f"{letter}.strip()]).")
    return list(items)
