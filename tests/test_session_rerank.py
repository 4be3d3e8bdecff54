"""Session.rerank end to end: the offline simulator, history, replay with no network, to_code and rerun, cost and
budget, a hostile answer kept in the history, the display escaped, and live mode over loopback (the key nowhere)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import Recorder, make_session

import tokenhot_nb
from tokenhot_nb import Session
from tokenhot_nb.errors import (
    APIError,
    BudgetExceededError,
    InputError,
    ReplayMissError,
    UnsupportedOptionError,
)
from tokenhot_nb.history import History
from tokenhot_nb.results import RerankResult

MODEL = "jina-reranker-m0"
QUERY = "what do cats eat"
DOCS = ["Dogs bark at night.", "Cats eat fish and mice.", "The weather is nice today.", "What cats eat varies."]


class Scripted(Recorder):
    """The simulator, except that ``/v1/rerank`` answers ``answer`` (a JSON body or raw bytes) when set."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.answer is None or request.url.path != "/v1/rerank":
            return await super().handle_async_request(request)
        self.requests.append({"method": request.method, "path": request.url.path, "headers": dict(request.headers),
                              "body": await request.aread()})
        content = self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer).encode()
        return httpx.Response(200, content=content, headers={"content-type": "application/json",
                                                              "x-oneapi-request-id": "req-rerank-1"})


def sent(rec: Recorder) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in rec.posts("/v1/rerank")]


# ----------------------------------------------------------------------------- calls


def test_documents_come_back_ranked(s: Session, rec: Recorder) -> None:
    res = s.rerank(QUERY, DOCS)
    assert isinstance(res, RerankResult) and len(res) == 4 and res.model == MODEL
    assert {i for i, _, _ in res.top(2)} == {1, 3}  # the documents sharing the query's words lead
    assert res.scores == sorted(res.scores, reverse=True) and sorted(res.indices) == [0, 1, 2, 3]
    assert all(text == DOCS[i] and isinstance(score, float) for i, score, text in res.results)
    assert res[0] == res.results[0] and list(res) == res.results and res.query == QUERY
    assert sent(rec) == [{"model": MODEL, "query": QUERY, "documents": DOCS}]
    entry = res.entry
    assert entry is not None and (entry.kind, entry.model, entry.status, entry.endpoint) == ("rerank", MODEL, "ok", "rerank")
    assert entry.params == {"query": QUERY, "documents": DOCS, "model": MODEL}
    assert entry.response["results"] == [[i, score] for i, score, _ in res.results]
    assert entry.usage["input_tokens"] > 0 and entry.usage["output_tokens"] == 0
    assert res.usage.input_tokens == entry.usage["input_tokens"]
    assert s.history.search("weather")[-1].id == entry.id  # the documents are searchable
    top = s.rerank(QUERY, DOCS, top_n=1)
    assert sent(rec)[-1]["top_n"] == 1 and len(top) == 1 and top.results == res.results[:1]


def test_the_async_twin(s: Session) -> None:
    async def main() -> RerankResult:
        return await s.arerank(QUERY, DOCS, top_n=2)

    res = asyncio.run(main())
    assert len(res) == 2 and res.entry is not None and res.entry.kind == "rerank"


@pytest.mark.parametrize(("args", "kw", "words"), [
    (("", DOCS), {}, "query is empty"), ((None, DOCS), {}, "query must be a string"),
    ((QUERY, []), {}, "list of documents is empty"), ((QUERY, "one doc"), {}, "not one string"),
    ((QUERY, ["ok", 3]), {}, "Document 1 is a int"), ((QUERY, ["ok", ""]), {}, "Document 1 is empty"),
    ((QUERY, DOCS), {"top_n": 0}, "top_n=0 is outside 1 to 4"),
    ((QUERY, DOCS), {"top_n": 5}, "top_n=5 is outside 1 to 4"),
    ((QUERY, DOCS), {"top_n": "2"}, "top_n must be a whole number"),
])
def test_input_errors_are_one_line_and_send_nothing(s: Session, rec: Recorder, args: tuple[Any, ...],
                                                    kw: dict[str, Any], words: str) -> None:
    with pytest.raises(InputError) as exc:
        s.rerank(*args, **kw)
    assert words in str(exc.value) and "\n" not in str(exc.value)
    assert rec.posts("/v1/rerank") == []
    refused = s.history[-1]
    assert (refused.kind, refused.status) == ("rerank", "error")  # tried, and why it failed


def test_a_model_of_another_kind_is_refused_both_ways(s: Session, rec: Recorder) -> None:
    with pytest.raises(UnsupportedOptionError) as exc:
        s.rerank(QUERY, DOCS, model="gpt-5.2")
    assert "gpt-5.2 is a chat model, so rerank() cannot use it" in str(exc.value)
    with pytest.raises(UnsupportedOptionError) as exc:
        s.embed("x", model=MODEL)
    assert str(exc.value).startswith("jina-reranker-m0 is a rerank model, so embed() cannot use it.")
    assert "session.rerank(" in str(exc.value)
    assert rec.posts() == []


def test_the_catalogue_lists_the_kind_with_its_price(s: Session) -> None:
    listed = s.models(kind="rerank")
    assert [m.id for m in listed] == [MODEL] and not listed.unclassified
    info = listed[0]
    assert (info.family, info.source, info.vendor) == ("jina-rerank", "both", "Jina")
    assert info.price is not None and info.price_label() == "$0.02/M in"  # billed for input only
    assert s.model("jina-reranker").id == MODEL


# ----------------------------------------------------------------------------- hostile answers


@pytest.mark.parametrize(("answer", "words"), [
    ({"results": [{"index": 7, "relevance_score": 0.5}], "usage": {"prompt_tokens": 9, "total_tokens": 9}},
     "index 7, outside 0 to 1"),
    ({"results": [{"index": 0, "relevance_score": "high"}], "usage": {"prompt_tokens": 9, "total_tokens": 9}},
     "not a number"),
    ({"results": [{"index": 0}], "usage": {"prompt_tokens": 9, "total_tokens": 9}}, "no relevance_score"),
    ({"results": {"index": 0}, "usage": {"prompt_tokens": 9, "total_tokens": 9}}, "no 'results' list"),
    ({"results": [{"index": 0, "relevance_score": 0.1, "document": 5}], "usage": {"prompt_tokens": 9,
                                                                                    "total_tokens": 9}}, "document"),
    ({"results": [{"index": 0, "relevance_score": 0.1}, {"index": 0, "relevance_score": 0.2}],
      "usage": {"prompt_tokens": 9, "total_tokens": 9}}, "appears twice"),
])
def test_a_hostile_answer_is_a_clear_error_and_stays_in_history(tmp_path: Path, answer: Any, words: str) -> None:
    rec = Scripted()
    s = make_session(tmp_path / "st", rec)
    rec.answer = answer
    with pytest.raises(APIError) as exc:
        s.rerank(QUERY, ["first", "second"])
    err = exc.value
    assert words in str(err) and "\n" not in str(err) and err.request_id == "req-rerank-1" and err.status == 200
    row = s.history[-1]
    assert (row.kind, row.status) == ("rerank", "error")
    assert row.usage["input_tokens"] == 9 and row.cost.known  # it was paid for: usage and cost are kept
    (kept,) = row.outputs
    assert s.store.read_artifact(kept["sha256"]) == json.dumps(answer).encode()  # what was answered, as it came
    with pytest.raises(tokenhot_nb.errors.TokenhotError, match="did not finish"):
        row.result()
    s.close()


def test_a_tolerated_answer_shape_is_read(tmp_path: Path) -> None:
    rec = Scripted()
    s = make_session(tmp_path / "st", rec)
    rec.answer = {"results": [{"index": 1, "relevance_score": 0.9, "document": "second"},
                              {"index": 0, "score": 0.1, "document": {"text": "first"}}],
                  "usage": {"total_tokens": 6}}
    res = s.rerank(QUERY, ["first", "second"])
    assert res.results == [(1, 0.9, "second"), (0, 0.1, "first")]
    assert res.usage.input_tokens == 6 and res.cost.known and res.cost.usd == pytest.approx(6 * 0.02 / 1_000_000)
    s.close()


def test_a_body_cut_in_half_is_kept_too(s: Session) -> None:
    with pytest.raises(APIError, match="not valid JSON"):
        s.rerank(QUERY, DOCS, headers={"X-Sim-Faults": json.dumps({"malformed_json": True})})
    row = s.history[-1]
    assert row.status == "error" and row.outputs


# ----------------------------------------------------------------------------- history, replay, to_code, export


def test_replay_with_no_network_gives_the_same_ranking(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    first = s.rerank(QUERY, DOCS, top_n=3)
    s.close()
    rec = Recorder()
    replay = Session(mode="replay", store=tmp_path / "st", transport=rec)
    again = replay.rerank(QUERY, DOCS, top_n=3)
    assert again.results == first.results and again.query == QUERY
    assert again.entry is not None and again.entry.id == first.entry_id
    with pytest.raises(ReplayMissError):
        replay.rerank(QUERY, DOCS)  # without top_n it was never recorded
    assert rec.requests == []  # nothing went over any transport
    assert first.entry is not None and first.entry.result().results == first.results
    replay.close()


def test_to_code_and_rerun_regenerate_the_call(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    res = s.rerank(QUERY, DOCS, top_n=2)
    assert res.entry is not None
    code = res.entry.to_code()
    assert "result = s.rerank(" in code and "top_n=2" in code
    s.close()
    replay = Session(mode="replay", store=tmp_path / "st", transport=Recorder())
    previous = tokenhot_nb.set_session(replay)
    try:
        ns: dict[str, Any] = {}
        exec(compile(code, "<to_code>", "exec"), ns)  # the generated code, run: answered from the store
        assert ns["result"].results == res.results
    finally:
        tokenhot_nb.set_session(previous)
        replay.close()
    rerun = make_session(tmp_path / "st2", Recorder())
    again = res.entry.rerun(rerun)
    assert isinstance(again, RerankResult) and again.results == res.results  # the simulator is deterministic
    rerun.close()


def test_export_and_import_keep_the_ranking(tmp_path: Path, s: Session) -> None:
    res = s.rerank(QUERY, DOCS)
    path = s.history.export(tmp_path / "h.jsonl", include_artifacts=True)
    loaded = History.load(path, tmp_path / "imported")
    entry = next(e for e in loaded if e.kind == "rerank")
    assert entry.result().results == res.results


def test_a_row_whose_ranking_was_tampered_with_says_so(s: Session) -> None:
    res = s.rerank(QUERY, DOCS)
    assert res.entry is not None and res.entry.id is not None
    s.store.update(res.entry.id, response={**res.entry.response, "results": [[9, 0.5]]})
    with pytest.raises(tokenhot_nb.errors.TokenhotError, match="does not match its documents"):
        s.history[-1].result()


# ----------------------------------------------------------------------------- cost and budget


def test_cost_from_usage_and_an_estimate(s: Session, rec: Recorder) -> None:
    res = s.rerank(QUERY, DOCS)
    cost, tokens = res.cost, res.usage.input_tokens
    assert cost.source == "per-token" and cost.simulated and tokens > 0
    assert cost.usd == pytest.approx(tokens * 0.02 / 1_000_000)  # $0.02 per 1M input tokens, no output
    before = len(rec.posts())
    est = s.estimate("rerank", QUERY, DOCS)
    assert est.known and est.usd_max is None and est.detail.endswith("input tokens") and est.usd > 0
    assert len(rec.posts()) == before and len(s.history) == 1  # nothing sent, nothing recorded
    assert s.estimate(s.rerank, QUERY, ["x" * 4000]).usd > est.usd  # type: ignore[operator]


def test_the_budget_applies(s: Session, rec: Recorder) -> None:
    s.set_budget(0)
    with pytest.raises(BudgetExceededError) as exc:
        s.rerank(QUERY, DOCS)
    assert "rerank call to jina-reranker-m0" in str(exc.value)
    assert rec.posts("/v1/rerank") == []
    s.set_budget(1)
    assert len(s.rerank(QUERY, DOCS)) == 4
    assert s.budget.spent_usd == pytest.approx(s.history[-1].cost.usd)


# ----------------------------------------------------------------------------- display


def test_display_escapes_hostile_text_and_stays_small(s: Session) -> None:
    hostile = ['<script>alert("x")</script>', '<img src=x onerror=alert(1)>', "a & b cats"]
    res = s.rerank("<b>cats</b>", hostile)
    bundle, meta = res._repr_mimebundle_()
    html = bundle["text/html"]
    assert "<script" not in html and "<img" not in html and "<b>cats" not in html
    assert "&lt;script&gt;" in html and "&amp; b" in html and "&lt;b&gt;cats" in html
    assert "3 documents ranked" in html and MODEL in html and f"history #{res.entry_id}" in html
    assert meta["tokenhot"]["kind"] == "rerank"
    assert bundle["text/plain"] == repr(res) and repr(res).startswith("<RerankResult 3 documents ranked")
    big = s.rerank("doc", [f"doc number {i} " + "word " * 60 for i in range(30)])
    big_html = big._repr_html_()
    assert "… and 20 more" in big_html and len(big_html) < 6000 and len(repr(big)) < 300
    with pytest.raises(InputError, match="at least 1"):
        big.top(0)
    with pytest.raises(InputError, match="no rank 30"):
        big[30]


# ----------------------------------------------------------------------------- live mode, over loopback


@pytest.mark.usefixtures("direct")
def test_live_over_loopback_against_the_simulator(tmp_path: Path, sim_server: Any, handed: list[object]) -> None:
    key = "sk-rerank-lane-abcdefghijkl"
    live = Session(api_key=key, base_url=sim_server.url, mode="live", store=tmp_path / "st", max_retries=0)
    live.models()  # the price table read up front
    handed.clear()
    here = live.rerank(QUERY, DOCS, top_n=2)
    assert handed == []  # read whole on the caller's thread: no hop to the background loop
    there = asyncio.run(live.arerank(QUERY, DOCS, top_n=2))
    assert handed and here.results == there.results and len(here) == 2
    assert here.entry is not None and here.entry.mode == "live" and not here.cost.simulated and here.cost.known
    shown = json.dumps(here.entry.to_dict()) + here._repr_html_() + repr(here) + here.entry.to_code()
    assert key not in shown and "sk-rerank-lane" not in shown
    with pytest.raises(tokenhot_nb.errors.TokenhotError) as exc:
        live.rerank(QUERY, DOCS, model={"id": "unknown-reranker", "family": "jina-rerank"})  # 503 model_not_found
    assert key not in str(exc.value) + repr(exc.value) + json.dumps(live.history[-1].to_dict())
    live.close()
