"""families/rerank.py: the /v1/rerank body, the input checks, and the answer read in every shape upstreams use."""

from __future__ import annotations

from typing import Any

import pytest

from tokenhot_nb import catalog
from tokenhot_nb.errors import APIError, InputError, UnsupportedOptionError
from tokenhot_nb.families import rerank

JINA = catalog.model("jina-reranker-m0")
DOCS = ["Dogs bark.", "Cats eat fish.", "It rains."]


def answer(*items: dict[str, Any], usage: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {"id": "r-1", "model": "jina-reranker-m0", "results": list(items),
            "usage": usage if usage is not None else {"prompt_tokens": 9, "total_tokens": 9}, **more}


# ----------------------------------------------------------------------------- the catalogue


def test_rerank_is_a_kind_with_a_family_and_a_default_model() -> None:
    assert "rerank" in catalog.KINDS
    assert (JINA.kind, JINA.family, JINA.endpoints) == ("rerank", "jina-rerank", ("rerank",))
    assert catalog.default_model("rerank").id == "jina-reranker-m0"
    assert [m.id for m in catalog.models("rerank")] == ["jina-reranker-m0"]
    assert catalog.model("jina-reranker").id == "jina-reranker-m0"  # an alias


# ----------------------------------------------------------------------------- the request


def test_build_sends_the_query_and_documents_as_given() -> None:
    call = rerank.build(JINA, "what do cats eat?", DOCS)
    assert (call.method, call.path) == ("POST", "/v1/rerank")
    assert call.json == {"model": "jina-reranker-m0", "query": "what do cats eat?", "documents": DOCS}
    top = rerank.build(JINA, "q", ("a", "b"), top_n=2, extra={"return_documents": True})
    assert top.json == {"model": "jina-reranker-m0", "query": "q", "documents": ["a", "b"], "top_n": 2,
                        "return_documents": True}
    assert rerank.build(JINA, "q", ["a"], raw={"model": "m", "query": "z"}).json == {"model": "m", "query": "z"}
    assert rerank.sent_count(top.json) == 2 and rerank.sent_count({"query": "z"}) is None


def test_a_model_of_another_kind_is_refused() -> None:
    with pytest.raises(UnsupportedOptionError) as exc:
        rerank.build(catalog.model("jina-embeddings-v4"), "q", ["a"])
    assert "does not rerank" in exc.value.message and "models('rerank')" in str(exc.value.hint)


@pytest.mark.parametrize(("query", "documents", "top_n", "words"), [
    ("", DOCS, None, "query is empty"), ("  ", DOCS, None, "query is empty"),
    (None, DOCS, None, "query must be a string, not NoneType"), (7, DOCS, None, "not int"),
    (["q"], DOCS, None, "not list"),
    ("q", [], None, "list of documents is empty"), ("q", (), None, "list of documents is empty"),
    ("q", "one doc", None, "not one string"), ("q", None, None, "not NoneType"), ("q", {"a": 1}, None, "not dict"),
    ("q", ["ok", 3], None, "Document 1 is a int"), ("q", [None], None, "Document 0 is a NoneType"),
    ("q", ["ok", " "], None, "Document 1 is empty"),
    ("q", DOCS, 0, "top_n=0 is outside 1 to 3"), ("q", DOCS, 4, "top_n=4 is outside 1 to 3"),
    ("q", DOCS, -1, "outside 1 to 3"), ("q", DOCS, "2", "top_n must be a whole number"),
    ("q", DOCS, 2.0, "whole number"), ("q", DOCS, True, "whole number"),
])
def test_bad_input_is_one_line_before_any_request(query: Any, documents: Any, top_n: Any, words: str) -> None:
    with pytest.raises(InputError) as exc:
        rerank.build(JINA, query, documents, top_n=top_n)
    assert words in exc.value.message and "\n" not in str(exc.value) and exc.value.hint


# ----------------------------------------------------------------------------- the answer


def test_results_are_sorted_best_first_whatever_order_they_come_in() -> None:
    reply = rerank.parse(answer({"index": 2, "relevance_score": 0.1}, {"index": 1, "relevance_score": 0.9},
                                {"index": 0, "relevance_score": 0.5}), 3)
    assert reply.results == [(1, 0.9, None), (0, 0.5, None), (2, 0.1, None)]
    assert (reply.usage.input_tokens, reply.model, reply.id) == (9, "jina-reranker-m0", "r-1")
    assert all(isinstance(score, float) for _, score, _ in reply.results)
    ties = rerank.parse(answer({"index": 1, "relevance_score": 1}, {"index": 0, "relevance_score": 1}))
    assert ties.results == [(0, 1.0, None), (1, 1.0, None)]  # an integer score is a float; ties in document order


def test_both_document_shapes_and_the_other_spellings_are_read() -> None:
    reply = rerank.parse(answer({"index": 0, "relevance_score": 0.2, "document": {"text": "Dogs bark."}},
                                {"index": 1, "score": 0.8, "document": "Cats eat fish."},
                                {"index": 2, "relevance_score": 0.0, "document": None},
                                usage={"total_tokens": 12}), 3)
    assert reply.results == [(1, 0.8, "Cats eat fish."), (0, 0.2, "Dogs bark."), (2, 0.0, None)]
    assert (reply.usage.input_tokens, reply.usage.total_tokens) == (12, 12)  # Jina counts total only: all input
    cohere = rerank.parse({"results": [{"index": 0, "relevance_score": 0.3}],
                           "meta": {"billed_units": {"input_tokens": 5}}}, 1)
    assert cohere.usage.input_tokens == 5 and cohere.model is None and cohere.id is None
    assert rerank.parse({"data": [{"index": 0, "relevance_score": 0.3}]}, 1).results == [(0, 0.3, None)]
    fewer = rerank.parse(answer({"index": 2, "relevance_score": 0.7}), 3)  # top_n=1: one result of three
    assert fewer.results == [(2, 0.7, None)]


@pytest.mark.parametrize(("body", "words"), [
    ([], "JSON list, not an object"), ("text", "JSON str"), (None, "JSON NoneType"),
    ({}, "no 'results' list"), ({"results": "x"}, "no 'results' list"), ({"results": {"0": 1}}, "no 'results' list"),
    ({"results": []}, "holds no results"),
    ({"results": [1]}, "result 0 is not an object"),
    ({"results": [{"relevance_score": 0.1}]}, "index None, outside 0 to 2"),
    ({"results": [{"index": 3, "relevance_score": 0.1}]}, "index 3, outside 0 to 2"),
    ({"results": [{"index": -1, "relevance_score": 0.1}]}, "index -1"),
    ({"results": [{"index": "0", "relevance_score": 0.1}]}, "index '0'"),
    ({"results": [{"index": True, "relevance_score": 0.1}]}, "index True"),
    ({"results": [{"index": 0, "relevance_score": 0.1}, {"index": 0, "relevance_score": 0.2}]}, "appears twice"),
    ({"results": [{"index": 0}]}, "no relevance_score"),
    ({"results": [{"index": 0, "relevance_score": "0.5"}]}, "'0.5', not a number"),
    ({"results": [{"index": 0, "relevance_score": True}]}, "True, not a number"),
    ({"results": [{"index": 0, "relevance_score": float("nan")}]}, "not finite"),
    ({"results": [{"index": 0, "relevance_score": 10 ** 400}]}, "too large"),
    ({"results": [{"index": 0, "relevance_score": 0.1, "document": 7}]}, "document that is a int"),
    ({"results": [{"index": 0, "relevance_score": 0.1, "document": {"text": ["x"]}}]}, "text is a list"),
    ({"results": [{"index": i, "relevance_score": 0.1} for i in range(4)]}, "4 results for 3 document(s)"),
])
def test_a_hostile_answer_is_one_clear_error(body: Any, words: str) -> None:
    with pytest.raises(APIError) as exc:
        rerank.parse(body, 3)
    assert words in exc.value.message and "The rerank answer cannot be used" in exc.value.message


def test_an_error_sent_with_status_200_is_its_message() -> None:
    with pytest.raises(APIError) as exc:
        rerank.parse({"error": {"message": "upstream overloaded", "code": "busy"}}, 2)
    assert "upstream overloaded" in exc.value.message and exc.value.code == "busy"
