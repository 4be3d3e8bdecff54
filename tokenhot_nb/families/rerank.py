"""Rerank: the Jina/Cohere ``/v1/rerank`` format, which new-api relays (endpoint type ``jina-rerank``, §10.1, §10.7).

Request ``{"model", "query", "documents": [str…], "top_n"?, "return_documents"?}``; answer ``{"results": [{"index",
"relevance_score", "document"?}…], "usage", "model"?, "id"?}``. The reference gives only the route, so the parser is
tolerant where upstreams differ (``document`` as ``{"text": …}``, a bare string or absent; ``score`` for
``relevance_score``) and strict where a wrong answer would mislead: an index that names no document sent, one named
twice, a score that is not a finite number, more results than documents. Such an answer is one :class:`APIError`,
never a ranking with a hole in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..catalog import ModelInfo
from ..errors import APIError, InputError, UnsupportedOptionError
from ._common import finish_body, refuse_error_envelope, text_items, usage_from
from ._types import HttpCall, RerankReply

__all__ = ["build", "documents_of", "parse", "query_of", "top_n_of"]


def query_of(query: Any) -> str:
    """The query, checked before any request: a non-empty string."""
    if not isinstance(query, str):
        raise InputError(f"query must be a string, not {type(query).__name__} ({query!r:.40}).",
                         hint="e.g. s.rerank('what is a cat?', ['doc one', 'doc two']).")
    if not query.strip():
        raise InputError("The query is empty; there is nothing to rank the documents against.",
                         hint="Pass the question or search text as the first argument.")
    return query


def documents_of(documents: Any) -> list[str]:
    """The documents as a list, checked before any request: one clear line for what cannot be sent."""
    if isinstance(documents, str):
        raise InputError("documents must be a list of strings, not one string.",
                         hint="Wrap it in a list: s.rerank(query, [document]).")
    if not isinstance(documents, (list, tuple)):
        raise InputError(f"documents must be a list of strings, not {type(documents).__name__}.",
                         hint="e.g. s.rerank(query, ['first document', 'second document']).")
    if not documents:
        raise InputError("There is nothing to rerank: the list of documents is empty.",
                         hint="Pass at least one document.")
    return text_items(documents, lambda i: f"Document {i}", made_from="Rerank scores text",
                      empty="an empty document has nothing to score", plural="documents")


def top_n_of(top_n: Any, count: int) -> int | None:
    """``top_n`` checked: None (all documents), or a whole number from 1 to the number of documents."""
    if top_n is None:
        return None
    if isinstance(top_n, bool) or not isinstance(top_n, int):
        raise InputError(f"top_n must be a whole number, not {type(top_n).__name__} ({top_n!r:.40}).",
                         hint=f"Pass 1 to {count}, or leave top_n out to rank every document.")
    if not 1 <= top_n <= count:
        raise InputError(f"top_n={top_n} is outside 1 to {count} (the number of documents).",
                         hint=f"Pass 1 to {count}, or leave top_n out to rank every document.")
    return top_n


def build(model: ModelInfo, query: str, documents: Sequence[str], *, top_n: int | None = None,
          extra: Mapping[str, Any] | None = None, raw: Mapping[str, Any] | None = None) -> HttpCall:
    """``POST /v1/rerank``. ``return_documents`` is not asked for: the documents are the caller's own, so the
    answer need not carry them back (``extra={"return_documents": True}`` asks anyway)."""
    if model.kind != "rerank":
        raise UnsupportedOptionError(f"{model.id} (family {model.family!r}) does not rerank documents.",
                                     hint="Pick a rerank model: tokenhot_nb.models('rerank').")
    text = query_of(query)
    docs = documents_of(documents)
    n = top_n_of(top_n, len(docs))
    body: dict[str, Any] = {"model": model.id, "query": text, "documents": docs}
    if n is not None:
        body["top_n"] = n
    return HttpCall("POST", "/v1/rerank", json=finish_body(body, extra, raw))


def sent_count(body: Mapping[str, Any] | None) -> int | None:
    """How many documents this body sent (None: the body does not say, e.g. a ``raw=`` one)."""
    docs = (body or {}).get("documents")
    return len(docs) if isinstance(docs, list) else None


def _broken(what: str) -> APIError:
    return APIError(f"The rerank answer cannot be used: {what}. The call is in the history with what was answered.",
                    hint="This is a relay problem; try again (the history keeps the broken answer).")


def _score(item: Mapping[str, Any], pos: int) -> float:
    value = item.get("relevance_score", item.get("score"))
    if value is None:
        raise _broken(f"result {pos} has no relevance_score")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _broken(f"result {pos} has relevance_score {value!r:.40}, not a number")
    try:
        score = float(value)
    except OverflowError:  # an integer past any float
        raise _broken(f"result {pos} has a relevance_score too large for a float") from None
    if not math.isfinite(score):
        raise _broken(f"result {pos} has a relevance_score that is not finite")
    return score


def _document(value: Any, pos: int) -> str | None:
    """The echoed document: ``{"text": …}`` (Jina, Cohere v2), a bare string (Cohere v1), or nothing."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        text = value.get("text")
        if text is None or isinstance(text, str):
            return text
        raise _broken(f"result {pos} has a document whose text is a {type(text).__name__}, not a string")
    raise _broken(f"result {pos} has a document that is a {type(value).__name__}, neither text nor an object")


def parse(body: Any, expected: int | None = None) -> RerankReply:
    """The answer → :class:`RerankReply`, best score first (ties in document order).

    ``expected`` is how many documents were sent (:func:`sent_count`): an index outside them is refused.
    """
    if not isinstance(body, dict):
        raise _broken(f"it is JSON {type(body).__name__}, not an object")
    refuse_error_envelope(body, answer="The rerank answer", instead="a ranking")
    data = body.get("results")
    if data is None and isinstance(body.get("data"), list):  # (some relays put the list under "data")
        data = body.get("data")
    if not isinstance(data, list):
        raise _broken("it has no 'results' list")
    if not data:
        raise _broken("it holds no results")
    if expected is not None and len(data) > expected:
        raise _broken(f"it holds {len(data)} results for {expected} document(s)")
    seen: set[int] = set()
    results: list[tuple[int, float, str | None]] = []
    for pos, item in enumerate(data):
        if not isinstance(item, dict):
            raise _broken(f"result {pos} is not an object")
        idx = item.get("index")
        top = (expected if expected is not None else len(data)) - 1
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx <= top:
            raise _broken(f"result {pos} has index {idx!r:.40}, outside 0 to {top}")
        if idx in seen:
            raise _broken(f"index {idx} appears twice")
        seen.add(idx)
        results.append((idx, _score(item, pos), _document(item.get("document"), pos)))
    results.sort(key=lambda r: (-r[1], r[0]))
    usage = body.get("usage")
    if not isinstance(usage, dict) and isinstance(body.get("meta"), dict):  # (Cohere: meta.billed_units)
        usage = body["meta"].get("billed_units")
    counted = usage_from(usage)
    if not counted.input_tokens and not counted.output_tokens and counted.total_tokens:
        counted = replace(counted, input_tokens=counted.total_tokens)  # (Jina counts only total_tokens: all input)
    model, rid = body.get("model"), body.get("id")
    return RerankReply(results, counted, model if isinstance(model, str) else None,
                       rid if isinstance(rid, str) else None)
