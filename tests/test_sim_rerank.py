"""The simulator's POST /v1/rerank over loopback HTTP, checked against the Jina/Cohere rerank wire format (raw
JSON written and read here by hand, never through the client's builder or parser)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tokenhot_nb.sim._common import count_tokens

#: Some tests here read the simulator's total spending before and after a call: a server of this module's own
#: (tests/conftest.py), none of another module's calls billed in between.
OWN_SIMULATOR = True

MODEL = "jina-reranker-m0"
DOCS = ["Dogs bark at night.", "Cats eat fish and mice.", "The weather is nice today.", "What cats eat varies."]


def post(url: str, auth: dict[str, str], body: Any, **headers: str) -> httpx.Response:
    return httpx.post(url + "/v1/rerank", headers={**auth, **headers}, json=body, timeout=60)


def test_documents_come_back_ranked_best_first(sim_url: str, auth: dict[str, str]) -> None:
    query = "what do cats eat"
    r = post(sim_url, auth, {"model": MODEL, "query": query, "documents": DOCS})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["model"] == MODEL and isinstance(body["id"], str)
    results = body["results"]
    assert sorted(item["index"] for item in results) == [0, 1, 2, 3]  # every document, once
    scores = [item["relevance_score"] for item in results]
    assert scores == sorted(scores, reverse=True) and all(isinstance(s, float) and 0 <= s <= 1 for s in scores)
    assert {results[0]["index"], results[1]["index"]} == {1, 3}  # the two sharing the query's words lead
    assert all(item["document"] == {"text": DOCS[item["index"]]} for item in results)
    tokens = count_tokens(query) + sum(count_tokens(d) for d in DOCS)
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}
    again = post(sim_url, auth, {"model": MODEL, "query": query, "documents": DOCS}).json()
    assert again["results"] == results  # deterministic


def test_top_n_return_documents_and_object_documents(sim_url: str, auth: dict[str, str]) -> None:
    full = post(sim_url, auth, {"model": MODEL, "query": "cats", "documents": DOCS}).json()["results"]
    top = post(sim_url, auth, {"model": MODEL, "query": "cats", "documents": DOCS, "top_n": 2,
                               "return_documents": False}).json()["results"]
    assert [(t["index"], t["relevance_score"]) for t in top] == [(f["index"], f["relevance_score"]) for f in full[:2]]
    assert all("document" not in t for t in top)
    many = post(sim_url, auth, {"model": MODEL, "query": "cats", "documents": DOCS, "top_n": 99}).json()
    assert len(many["results"]) == len(DOCS)  # more than there are: all of them
    objects = post(sim_url, auth, {"model": MODEL, "query": "cats",
                                   "documents": [{"text": d} for d in DOCS]}).json()["results"]
    assert objects == full


@pytest.mark.parametrize(("body", "words"), [
    ({"model": MODEL, "documents": DOCS}, "query is required"),
    ({"model": MODEL, "query": 7, "documents": DOCS}, "query must be a string"),
    ({"model": MODEL, "query": ["q"], "documents": DOCS}, "query must be a string"),
    ({"model": MODEL, "query": " ", "documents": DOCS}, "query must not be empty"),
    ({"model": MODEL, "query": "q"}, "documents is required"),
    ({"model": MODEL, "query": "q", "documents": "one"}, "documents must be an array"),
    ({"model": MODEL, "query": "q", "documents": {"text": "x"}}, "documents must be an array"),
    ({"model": MODEL, "query": "q", "documents": []}, "documents must not be empty"),
    ({"model": MODEL, "query": "q", "documents": ["ok", 7]}, "documents[1] must be a string"),
    ({"model": MODEL, "query": "q", "documents": [{"image": "x"}]}, "documents[0] must be a string"),
    ({"model": MODEL, "query": "q", "documents": ["a"], "top_n": 0}, "top_n must be a positive integer"),
    ({"model": MODEL, "query": "q", "documents": ["a"], "top_n": "2"}, "top_n must be a positive integer"),
    ({"model": MODEL, "query": "q", "documents": ["a"], "top_n": True}, "top_n must be a positive integer"),
    ({"model": MODEL, "query": "q", "documents": ["a"], "return_documents": "no"}, "return_documents"),
    ({"model": "gpt-5.2", "query": "q", "documents": ["a"]}, "not a rerank model"),
    ({"model": "jina-embeddings-v4", "query": "q", "documents": ["a"]}, "not a rerank model"),
])
def test_refusals_are_400_in_the_openai_envelope(sim_url: str, auth: dict[str, str], body: dict[str, Any],
                                                 words: str) -> None:
    r = post(sim_url, auth, body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert words in err["message"] and "(request id: " in err["message"]
    assert err["type"] == "invalid_request_error" and err["param"] == ""  # the relay's envelope (OpenAI)


def test_the_middleware_refuses_first(sim_url: str, auth: dict[str, str]) -> None:
    missing = post(sim_url, auth, {"query": "q", "documents": ["a"]})
    assert missing.status_code == 400 and "model is required" in missing.json()["error"]["message"]
    unknown = post(sim_url, auth, {"model": "unknown-reranker", "query": "q", "documents": ["a"]})
    assert unknown.status_code == 503 and unknown.json()["error"]["code"] == "model_not_found"
    assert httpx.post(sim_url + "/v1/rerank", json={"model": MODEL, "query": "q", "documents": ["a"]},
                      timeout=30).status_code == 401
    faulted = post(sim_url, auth, {"model": MODEL, "query": "q", "documents": ["a"]},
                   **{"X-Sim-Faults": json.dumps({"fail_first": {"429": 1}})})
    assert faulted.status_code == 429


def test_the_price_table_lists_the_reranker(sim_url: str) -> None:
    rows = httpx.get(sim_url + "/api/pricing", timeout=30).json()["data"]
    row = next(r for r in rows if r["model_name"] == MODEL)
    assert row["supported_endpoint_types"] == ["jina-rerank"] and row["quota_type"] == 0
    assert row["model_ratio"] == 0.01  # $0.02 per 1M input tokens


def test_calls_are_charged_per_input_token(sim_url: str, auth: dict[str, str]) -> None:
    def used() -> float:
        return float(httpx.get(sim_url + "/v1/dashboard/billing/usage", headers=auth, timeout=30)
                     .json()["total_usage"])

    docs = [f"document number {i} about reranking and its many uses in search" for i in range(400)]
    before = used()
    r = post(sim_url, auth, {"model": MODEL, "query": "uses of reranking in search", "documents": docs, "top_n": 3})
    tokens = r.json()["usage"]["prompt_tokens"]
    # $0.02 per 1M input tokens (model_ratio 0.01): ratio × tokens quota, in hundredths of ¥ (¥7 per USD)
    quota = round(0.01 * tokens)
    assert quota > 0 and abs(used() - before - quota / 500_000 * 7 * 100) < 1e-6
    before = used()
    assert post(sim_url, auth, {"model": MODEL, "query": "", "documents": docs}).status_code == 400
    assert used() == before  # a refused call is not charged
