"""``POST /v1/embeddings``: OpenAI's embeddings format, which new-api relays for every upstream (reference §10.7).

Request ``{"model", "input": str | [str…], "encoding_format": "float" | "base64", "dimensions"?}``; answer
``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model", "usage": {"prompt_tokens",
"total_tokens"}}``, the embedding a list of floats or base64 of little-endian float32. Vectors are deterministic
unit vectors: a hash of the whole text plus a few signed coordinates per word (so texts that share words point
closer together, as real embeddings of related texts do), cut to ``dimensions`` and scaled back to length 1 (how
Matryoshka models shorten theirs). Written from the wire format, not from the client's parser.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from typing import Any

from starlette.responses import Response

from ._common import _TOKEN_RE, Ctx, count_tokens, error_response, json_out
from ._pricing import row_for

#: The simulator's embeddings models and the length of their vectors (every price-table row whose endpoint types
#: name ``embeddings`` is one; a row missing here makes :data:`DEFAULT_DIMENSIONS`).
DIMENSIONS: dict[str, int] = {"jina-embeddings-v4": 2048}
DEFAULT_DIMENSIONS = 1024
#: Signed coordinates a word adds, and their weight against the whole text's own direction.
_WORD_SLOTS = 12
_WORD_WEIGHT = 0.6


def _refuse(ctx: Ctx, message: str) -> Response:
    return error_response(ctx, 400, message, "invalid_request", "invalid_request_error")


def _direction(text: str, dims: int) -> list[float]:
    """The full-length vector of ``text`` (not yet of length 1)."""
    rng = random.Random(hashlib.sha256(b"text\0" + text.encode("utf-8", "surrogatepass")).digest())
    vec = [rng.gauss(0.0, 1.0) / math.sqrt(dims) for _ in range(dims)]
    for word in {w.lower() for w in _TOKEN_RE.findall(text) if w.strip()}:
        seed = hashlib.sha256(b"word\0" + word.encode("utf-8", "surrogatepass")).digest()
        for k in range(_WORD_SLOTS):
            slot = int.from_bytes(seed[2 * k:2 * k + 2], "big") % dims
            vec[slot] += _WORD_WEIGHT if seed[24 + k % 8] >> (k // 8) & 1 else -_WORD_WEIGHT
    return vec


def unit_vector(text: str, dims: int, size: int | None = None) -> list[float]:
    """The embedding of ``text``: its first ``size`` (default all ``dims``) numbers scaled to length 1, each a
    float32 value, so the float and base64 answers carry the same numbers."""
    vec = _direction(text, dims)[: size or dims]
    norm = math.sqrt(math.fsum(x * x for x in vec)) or 1.0
    return list(struct.unpack(f"<{len(vec)}f", struct.pack(f"<{len(vec)}f", *(x / norm for x in vec))))


async def embeddings(ctx: Ctx, body: dict[str, Any]) -> Response:
    model = str(body.get("model"))  # present and a string: the middleware checked it
    row = row_for(model)
    if row is None or "embeddings" not in (row.get("supported_endpoint_types") or []):
        return _refuse(ctx, f"model {model} is not an embeddings model; it cannot be used on /v1/embeddings")
    dims = DIMENSIONS.get(row["model_name"], DEFAULT_DIMENSIONS)
    given = body.get("input")
    if given is None:
        return _refuse(ctx, "input is required")
    items = [given] if isinstance(given, str) else given
    if not isinstance(items, list):
        return _refuse(ctx, "input must be a string or an array of strings")
    if not items:
        return _refuse(ctx, "input must not be empty")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            return _refuse(ctx, f"input[{i}] must be a string")
        if not item.strip():
            return _refuse(ctx, f"input[{i}] must not be empty")
    size = body.get("dimensions")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= dims):
        return _refuse(ctx, f"dimensions must be an integer from 1 to {dims} for {row['model_name']}")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        return _refuse(ctx, "encoding_format must be 'float' or 'base64'")
    data = []
    for i, text in enumerate(items):
        vec = unit_vector(text, dims, size)
        emb: Any = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode("ascii") if fmt == "base64" else vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    tokens = sum(count_tokens(t) for t in items)
    return json_out(ctx, {"object": "list", "data": data, "model": model,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
