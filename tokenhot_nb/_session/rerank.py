"""Rerank (a query and documents → the documents ranked by relevance).

The ranking is small (an index and a score per document), so the row's ``response`` holds it whole
(``results: [[index, score], …]``, best first) beside the documents in ``params``: a replay rebuilds the very same
ranking from the row alone, with no artifact and no network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..catalog import ModelInfo
from ..errors import APIError
from ..results import RerankResult, from_entry
from .checks import body_extra
from .embeddings import _keep_broken
from .recording import Recording, drop_none, endpoint_name, replayed, send_recorded

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..client import Response
    from ..results._base import Result
    from .core import Session


async def rerank_one(session: Session, query: str, documents: Sequence[str], info: ModelInfo, top_n: int | None,
                     options: dict[str, Any]) -> Result:
    """One ``/v1/rerank`` call; a broken answer keeps its body and usage in the row (what was paid for)."""
    from ..families import rerank

    options = dict(options)
    headers = options.pop("headers", None)
    raw = options.pop("raw", None)
    text = rerank.query_of(query)  # checked before anything is recorded as sent
    docs = rerank.documents_of(documents)
    rerank.top_n_of(top_n, len(docs))
    params = drop_none({"query": text, "documents": docs, "model": info.ref, "top_n": top_n, **options, "raw": raw})
    call = rerank.build(info, text, docs, top_n=top_n, extra=body_extra(options), raw=raw)
    call.headers.update(headers or {})
    if session.mode == "replay":
        return from_entry(replayed(session, "rerank", info, endpoint_name(call), params, call), session)
    expected = rerank.sent_count(call.json)

    async def finish(rec: Recording, resp: Response) -> Result:
        try:
            reply = rerank.parse(resp.json(), expected)
        except APIError as err:
            _keep_broken(session, rec, resp, err)
            raise
        entry = rec.ok(response=drop_none({"request_id": resp.request_id, "status": resp.status, "model": reply.model,
                                           "id": reply.id, "count": len(reply.results),
                                           "results": [[i, score] for i, score, _ in reply.results]}),
                       usage=reply.usage, outputs=[])
        ranked = [(i, score, docs[i] if i < len(docs) else echoed or "") for i, score, echoed in reply.results]
        return RerankResult(ranked, query=text, usage=reply.usage, model=info.id, entry=entry, session=session)

    return await send_recorded(session, "rerank", info, params, call, finish, text="\n".join([text, *docs]))
