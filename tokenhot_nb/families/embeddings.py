"""Embeddings: OpenAI's ``/v1/embeddings`` format, which new-api relays for every upstream (Jina included, §10.7).

The request asks for ``encoding_format: "float"`` unless the caller says otherwise; a relay may answer base64
anyway, so both forms are read. Vectors are put in the order of their ``index`` (not of their position) and kept
as little-endian float32, the precision embedding models produce: the numbers a call returns are the very numbers
its replay returns. A reply that cannot be trusted whole (a vector missing, too many, a number that is not one,
vectors of different lengths) is one :class:`APIError`, never a result with a hole in it.
"""

from __future__ import annotations

import base64
import binascii
import math
import sys
from array import array
from collections.abc import Mapping
from typing import Any

from ..catalog import ModelInfo
from ..errors import APIError, InputError, UnsupportedOptionError
from ._common import check_number, finish_body, refuse_error_envelope, text_items, unsupported, usage_from
from ._types import EmbeddingReply, HttpCall

__all__ = ["build", "parse", "sent_count", "texts_of"]

#: Most texts one request may carry. The reference says nothing of the relay's limit; OpenAI documents 2048 inputs
#: per embeddings request, and a list past it is refused by the service (or its upstream) after the whole body went
#: up: here it is refused before anything is sent.
MAX_TEXTS = 2048
#: The answer forms this parser reads (``encoding_format``).
ENCODINGS = ("float", "base64")
_BIG_ENDIAN = sys.byteorder == "big"


def texts_of(texts: Any) -> list[str]:
    """The texts to embed as a list, checked before any request: one clear line for what cannot be sent."""
    if isinstance(texts, str):
        items = [texts]
    elif isinstance(texts, (list, tuple)):
        items = list(texts)
    else:
        raise InputError(f"texts must be a string or a list of strings, not {type(texts).__name__}.",
                         hint="e.g. s.embed('a text') or s.embed(['first text', 'second text']).")
    if not items:
        raise InputError("There is nothing to embed: the list of texts is empty.", hint="Pass at least one text.")
    if len(items) > MAX_TEXTS:
        raise InputError(f"{len(items):,} texts is more than one embeddings request takes (at most {MAX_TEXTS:,}); "
                         "nothing was sent.",
                         hint=f"Split the list and embed each part: [s.embed(texts[i:i + {MAX_TEXTS}]) for i in "
                              f"range(0, len(texts), {MAX_TEXTS})].")
    one = isinstance(texts, str)
    return text_items(items, lambda i: "The text" if one else f"Text {i}", made_from="Embeddings are made from text",
                      empty="the service refuses an empty text", plural="texts")


def build(model: ModelInfo, texts: str | list[str] | tuple[str, ...], *, dimensions: int | None = None,
          extra: Mapping[str, Any] | None = None, raw: Mapping[str, Any] | None = None) -> HttpCall:
    """``POST /v1/embeddings``: ``input`` is the one string or the list, as given."""
    if model.kind != "embed":
        raise UnsupportedOptionError(f"{model.id} (family {model.family!r}) does not make embeddings.",
                                     hint="Pick an embeddings model: tokenhot_nb.models('embed').")
    items = texts_of(texts)
    check_number("dimensions", dimensions, integer=True, minimum=1)
    if dimensions is not None:
        if not model.can("dimensions"):
            raise unsupported(model, "dimensions", dimensions)
        top = model.capabilities.get("max_dimensions")
        if isinstance(top, int) and dimensions > top:
            raise UnsupportedOptionError(f"{model.id} makes vectors of at most {top} dimensions; got "
                                         f"dimensions={dimensions}.",
                                         hint=f"Pick 1 to {top}, or leave dimensions out for all {top}.")
    fmt = (extra or {}).get("encoding_format", "float")
    allowed = model.choices("encoding_formats") or list(ENCODINGS)
    if fmt not in allowed:
        raise unsupported(model, "encoding_format", fmt, allowed)
    body: dict[str, Any] = {"model": model.id, "input": texts if isinstance(texts, str) else items,
                            "encoding_format": "float"}
    if dimensions is not None:
        body["dimensions"] = dimensions
    return HttpCall("POST", "/v1/embeddings", json=finish_body(body, extra, raw))


def sent_count(body: Mapping[str, Any] | None) -> int | None:
    """How many vectors the answer to this body must hold (None: the body does not say, e.g. a ``raw=`` one)."""
    value = (body or {}).get("input")
    if isinstance(value, str):
        return 1
    return len(value) if isinstance(value, list) else None


def _broken(what: str) -> APIError:
    return APIError(f"The embeddings answer cannot be used: {what}. The call is in the history with what was "
                    "answered.", hint="This is a relay problem; try again (the history keeps the broken answer).")


def _vector(value: Any, i: int) -> array[float]:
    """One vector as float32: a JSON list of numbers, or base64 of little-endian float32."""
    vec: array[float] = array("f")
    if isinstance(value, str):
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _broken(f"vector {i} is text that is not base64") from None
        if len(data) % 4:
            raise _broken(f"vector {i} is {len(data)} bytes, not whole float32 numbers")
        vec.frombytes(data)
        if _BIG_ENDIAN:
            vec.byteswap()
    elif isinstance(value, list):
        for j, x in enumerate(value):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise _broken(f"vector {i} holds {x!r:.40} at position {j}, not a number")
        try:
            vec.fromlist(value)
        except OverflowError:  # an integer past any float
            raise _broken(f"vector {i} holds a number too large for a float") from None
    else:
        raise _broken(f"vector {i} is missing" if value is None else
                      f"vector {i} is a {type(value).__name__}, neither a list of numbers nor base64")
    if not vec:
        raise _broken(f"vector {i} is empty")
    if not math.isfinite(math.fsum(map(abs, vec))):  # one pass; an inf or NaN anywhere makes the sum one
        j = next(j for j, x in enumerate(vec) if not math.isfinite(x))
        raise _broken(f"vector {i} holds a number that is not finite (or is past float32) at position {j}")
    return vec


def parse(body: Any, expected: int | None = None) -> EmbeddingReply:
    """``{"data": [{"index", "embedding"}…], "model", "usage"}`` → :class:`EmbeddingReply`, in index order.

    ``expected`` is how many texts were sent (:func:`sent_count`): any other number of vectors is refused.
    """
    if not isinstance(body, dict):
        raise _broken(f"it is JSON {type(body).__name__}, not an object")
    refuse_error_envelope(body)
    data = body.get("data")
    if not isinstance(data, list):
        raise _broken("it has no 'data' list")
    if expected is not None and len(data) != expected:
        raise _broken(f"it holds {len(data)} vector(s) for {expected} text(s)")
    if not data:
        raise _broken("it holds no vectors")
    slots: list[array[float] | None] = [None] * len(data)
    for pos, item in enumerate(data):
        if not isinstance(item, dict):
            raise _broken(f"item {pos} of 'data' is not an object")
        idx = item.get("index", pos)
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(data):
            raise _broken(f"item {pos} has index {idx!r:.40}, outside 0 to {len(data) - 1}")
        if slots[idx] is not None:
            raise _broken(f"index {idx} appears twice")
        slots[idx] = _vector(item.get("embedding"), idx)
    vectors = [v for v in slots if v is not None]  # (every slot is filled: n items, n distinct indices)
    dims = len(vectors[0])
    out: array[float] = array("f")
    for i, vec in enumerate(vectors):
        if len(vec) != dims:
            raise _broken(f"vector {i} has {len(vec)} numbers but vector 0 has {dims}")
        out.extend(vec)
    if _BIG_ENDIAN:
        out.byteswap()
    model = body.get("model")
    return EmbeddingReply(out.tobytes(), len(vectors), dims, usage_from(body.get("usage")),
                          model if isinstance(model, str) else None)
