"""compare() on rerank models: one query and its documents ranked by each model, the rankings side by side
(escaped), the query, documents and top_n checked once before any call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tokenhot_nb import errors as E
from tokenhot_nb.results import CompareResult, RerankResult
from tokenhot_nb.sim import _pricing

SECOND = "jina-reranker-v2-base-multilingual"
DOCS = ["Dogs bark.", "<script>alert(1)</script> Cats eat fish.", "Birds fly."]


@pytest.fixture
def two_rerankers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service lists a second rerank model (the simulator's table, as the live one holds more than one)."""
    first = _pricing.row_for("jina-reranker-m0")
    assert first is not None
    monkeypatch.setattr(_pricing, "PRICING", [*_pricing.PRICING, {**first, "model_name": SECOND}])


def test_two_rerank_models_rank_the_same_documents_side_by_side(s: Any, rec: Any, two_rerankers: None) -> None:
    cmp = s.compare("what do cats eat?", models=["jina-reranker-m0", SECOND], documents=DOCS, top_n=2)
    assert isinstance(cmp, CompareResult) and cmp.of == "rerank" and list(cmp) == ["jina-reranker-m0", SECOND]
    for model in cmp:
        ranked = cmp[model]
        assert isinstance(ranked, RerankResult) and ranked.model == model and len(ranked) == 2
        assert ranked.indices[0] == 1 and ranked[0][2] == DOCS[1]
    bodies = [json.loads(r["body"]) for r in rec.posts("/v1/rerank")]
    assert sorted(b["model"] for b in bodies) == sorted(["jina-reranker-m0", SECOND])
    assert all(b["query"] == "what do cats eat?" and b["documents"] == DOCS and b["top_n"] == 2 for b in bodies)
    assert [e.kind for e in s.history] == ["rerank", "rerank"]
    html = cmp._repr_mimebundle_()[0]["text/html"]
    assert html.count('class="tokenhot-rerank"') == 2 and SECOND in html
    assert "<script>" not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt; Cats eat fish.") == 2
    same = s.compare("what do cats eat?", models=["jina-reranker-m0"], kind="rerank", documents=DOCS)
    assert same.of == "rerank" and len(same[0]) == 3


@pytest.mark.parametrize(("options", "query", "said"), [
    ({}, "cats", "Comparing rerank models needs the documents to rank."),
    ({"documents": []}, "cats", "the list of documents is empty"),
    ({"documents": DOCS, "top_n": 4}, "cats", "top_n=4 is outside 1 to 3"),
    ({"documents": DOCS}, "  ", "The query is empty"),
    ({"documents": DOCS, "top": 2}, "cats", "compare() has no argument 'top'"),
])
def test_a_bad_rerank_comparison_is_refused_before_any_call(s: Any, rec: Any, two_rerankers: None,
                                                            options: dict[str, Any], query: str, said: str) -> None:
    with pytest.raises(E.InputError) as info:
        s.compare(query, models=["jina-reranker-m0", SECOND], **options)
    assert said in str(info.value)
    assert rec.posts() == []  # (recorded as a single call's refusal is)
    assert [(e.kind, e.status, e.cost.detail) for e in s.history] == [("rerank", "error", "refused before sending")]


def test_a_rerank_comparison_is_estimated_without_sending(s: Any, rec: Any, two_rerankers: None) -> None:
    cost = s.estimate("compare", "what do cats eat?", models=["jina-reranker-m0", SECOND], documents=DOCS)
    each = [s.estimate("rerank", "what do cats eat?", DOCS, model=m).usd for m in ("jina-reranker-m0", SECOND)]
    assert cost.usd is not None and None not in each and cost.usd == pytest.approx(sum(u or 0 for u in each))
    assert rec.posts() == [] and len(s.history) == 0
