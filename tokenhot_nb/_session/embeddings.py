"""Embeddings (texts → vectors).

The vectors are kept as one float32 artifact beside the row (``count × dimensions × 4`` bytes: 8 KiB a text at
2048 dimensions), never as JSON in the row: a row stays a few hundred bytes however many texts went in, and the
float32 bytes are exactly what the result holds, so a replay gives the same numbers. The row's ``response``
records the shape (``count``, ``dimensions``, ``dtype``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..catalog import ModelInfo
from ..errors import APIError
from ..families._types import Usage
from ..results import EmbeddingResult, from_entry
from .checks import body_extra
from .recording import (
    UNSAVED,
    Recording,
    astore_bytes,
    drop_none,
    endpoint_name,
    received_text,
    replayed,
    send_recorded,
    store_bytes,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..client import Response
    from ..results._base import Result
    from .core import Session

#: How a row's vectors are stored: little-endian float32, one vector after another.
VECTORS_MIME = "application/octet-stream"
DTYPE = "float32-le"


async def embed_one(session: Session, texts: str | Sequence[str], info: ModelInfo, dimensions: int | None,
                    options: dict[str, Any]) -> Result:
    """One ``/v1/embeddings`` call for all ``texts``; a broken answer keeps its body and usage in the row."""
    from ..families import embeddings

    options = dict(options)
    headers = options.pop("headers", None)
    raw = options.pop("raw", None)
    items = embeddings.texts_of(texts)  # checked before anything is recorded as sent
    given: str | list[str] = texts if isinstance(texts, str) else items
    params = drop_none({"texts": given, "model": info.ref, "dimensions": dimensions, **options, "raw": raw})
    call = embeddings.build(info, given, dimensions=dimensions, extra=body_extra(options), raw=raw)
    call.headers.update(headers or {})
    if session.mode == "replay":
        return from_entry(replayed(session, "embed", info, endpoint_name(call), params, call), session)
    expected = embeddings.sent_count(call.json)

    async def finish(rec: Recording, resp: Response) -> Result:
        try:
            reply = embeddings.parse(resp.json(), expected)
        except APIError as err:
            _keep_broken(session, rec, resp, err)
            raise
        out = await astore_bytes(session, reply.data, VECTORS_MIME, "embedding")
        entry = rec.ok(response=drop_none({"request_id": resp.request_id, "status": resp.status, "model": reply.model,
                                           "count": reply.count, "dimensions": reply.dimensions, "dtype": DTYPE}),
                       usage=reply.usage, outputs=[out])
        return EmbeddingResult(reply.data, count=reply.count, dimensions=reply.dimensions, texts=items,
                               usage=reply.usage, model=info.id, entry=entry, session=session)

    return await send_recorded(session, "embed", info, params, call, finish, text="\n".join(items))


def _keep_broken(session: Session, rec: Recording, resp: Response, err: APIError) -> None:
    """A paid answer that cannot be used: its body (the key redacted), usage and cost go in the row before it ends
    ``error``, so what was paid for can be looked at (``history[i].artifacts``)."""
    err.status = err.status or resp.status
    err.request_id = err.request_id or resp.request_id
    try:
        body = resp.json()
    except APIError:
        body = None
    usage: dict[str, Any] = Usage().as_dict()
    if isinstance(body, dict):
        from ..families._common import usage_from

        usage = usage_from(body.get("usage")).as_dict()
    try:
        outputs = [store_bytes(session, received_text(resp.text).encode("utf-8"), "application/json", "text")]
        usage["cost"] = rec.cost(usage, outputs, {})
        rec.update(outputs=[o for o in outputs if UNSAVED not in o], usage=usage,
                   response=drop_none({"request_id": resp.request_id, "status": resp.status}))
    except Exception:  # recording must never hide the real error
        pass
