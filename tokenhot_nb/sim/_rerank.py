"""``POST /v1/rerank``: the Jina/Cohere rerank format new-api relays (endpoint type ``jina-rerank``, §10.1, §10.7).

Request ``{"model", "query": str, "documents": [str | {"text": str}…], "top_n"?: int, "return_documents"?: bool}``;
answer ``{"id", "model", "results": [{"index", "relevance_score", "document": {"text"}}…], "usage":
{"prompt_tokens", "total_tokens"}}``, best first. Scores are deterministic: the share of the query's words a document
holds, nudged by a hash of the pair so no two documents tie. Billed per input token (query and documents), like
embeddings. Written from the wire format, not from the client's parser.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.responses import Response

from ._common import _TOKEN_RE, Ctx, count_tokens, error_response, json_out
from ._pricing import row_for

#: The price table's endpoint types that mean "served on /v1/rerank".
RERANK_TYPES = ("jina-rerank", "rerank")


def _refuse(ctx: Ctx, message: str) -> Response:
    return error_response(ctx, 400, message, "invalid_request", "invalid_request_error")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _TOKEN_RE.findall(text) if w.isalnum()}


def score(query: str, document: str) -> float:
    """The share of the query's words ``document`` holds (0…1), plus a hash nudge below 0.01 (never a tie)."""
    wanted = _words(query)
    shared = len(wanted & _words(document)) / len(wanted) if wanted else 0.0
    nudge = int.from_bytes(hashlib.sha256(f"{query}\0{document}".encode("utf-8", "surrogatepass")).digest()[:4],
                           "big") / 2**32
    return round(shared * 0.99 + nudge * 0.0099, 6)


async def rerank(ctx: Ctx, body: dict[str, Any]) -> Response:
    model = str(body.get("model"))  # present and a string: the middleware checked it
    row = row_for(model)
    if row is None or not set(RERANK_TYPES) & set(row.get("supported_endpoint_types") or []):
        return _refuse(ctx, f"model {model} is not a rerank model; it cannot be used on /v1/rerank")
    query = body.get("query")
    if query is None:
        return _refuse(ctx, "query is required")
    if not isinstance(query, str):
        return _refuse(ctx, "query must be a string")
    if not query.strip():
        return _refuse(ctx, "query must not be empty")
    documents = body.get("documents")
    if documents is None:
        return _refuse(ctx, "documents is required")
    if not isinstance(documents, list):
        return _refuse(ctx, "documents must be an array of strings")
    if not documents:
        return _refuse(ctx, "documents must not be empty")
    texts: list[str] = []
    for i, doc in enumerate(documents):
        text = doc.get("text") if isinstance(doc, dict) else doc
        if not isinstance(text, str):
            return _refuse(ctx, f"documents[{i}] must be a string")
        texts.append(text)
    top_n = body.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        return _refuse(ctx, "top_n must be a positive integer")
    keep = body.get("return_documents", True)
    if not isinstance(keep, bool):
        return _refuse(ctx, "return_documents must be a boolean")
    ranked = sorted(range(len(texts)), key=lambda i: (-score(query, texts[i]), i))[: top_n or len(texts)]
    results: list[dict[str, Any]] = []
    for i in ranked:
        item: dict[str, Any] = {"index": i, "relevance_score": score(query, texts[i])}
        if keep:
            item["document"] = {"text": texts[i]}
        results.append(item)
    tokens = count_tokens(query) + sum(count_tokens(t) for t in texts)
    return json_out(ctx, {"id": f"rerank-{ctx.request_id}", "model": model, "results": results,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
