"""Session.embed end to end on the offline simulator: vectors, history, replay, to_code, cost and budget, display."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
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
from tokenhot_nb.results import EmbeddingResult

MODEL = "jina-embeddings-v4"
TEXTS = ["the cat sat on the mat", "a cat sat on the mat today", "quarterly revenue grew"]


class Scripted(Recorder):
    """The simulator, except that ``/v1/embeddings`` answers ``answer`` (a JSON body or raw bytes) when set."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.answer is None or request.url.path != "/v1/embeddings":
            return await super().handle_async_request(request)
        self.requests.append({"method": request.method, "path": request.url.path, "headers": dict(request.headers),
                              "body": await request.aread()})
        content = self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer).encode()
        return httpx.Response(200, content=content, headers={"content-type": "application/json",
                                                              "x-oneapi-request-id": "req-embed-1"})


def packed(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def sent(rec: Recorder) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in rec.posts("/v1/embeddings")]


# ----------------------------------------------------------------------------- calls


def test_one_text_and_many(s: Session, rec: Recorder) -> None:
    one = s.embed("a single sentence")
    assert isinstance(one, EmbeddingResult) and len(one) == 1 and one.dimensions == 2048
    assert one.model == MODEL and len(one[0]) == 2048 and abs(math.fsum(x * x for x in one[0]) - 1) < 1e-4
    many = s.embed(TEXTS)
    assert len(many) == 3 and [len(v) for v in many.vectors] == [2048] * 3 and list(many) == many.vectors
    assert many.texts == TEXTS and many[0:2] == many.vectors[:2]
    assert many.similarity(0, 1) > 0.5 > abs(many.similarity(0, 2))  # texts sharing words lie closer
    assert abs(many.similarity(1, 1) - 1) < 1e-6 and many.similarity(-1, 2) == many.similarity(2, 2)
    assert sent(rec) == [
        {"model": MODEL, "input": "a single sentence", "encoding_format": "float"},
        {"model": MODEL, "input": TEXTS, "encoding_format": "float"},
    ]
    entry = many.entry
    assert entry is not None and (entry.kind, entry.model, entry.endpoint, entry.status) == (
        "embed", MODEL, "embeddings", "ok")
    assert entry.params == {"texts": TEXTS, "model": MODEL}
    assert entry.response["count"] == 3 and entry.response["dimensions"] == 2048
    assert entry.usage["input_tokens"] > 0 and entry.usage["output_tokens"] == 0
    # the vectors are one float32 artifact beside the row, not JSON in it: the row stays small
    (out,) = entry.outputs
    assert (out["role"], out["size"]) == ("embedding", 3 * 2048 * 4)
    assert s.store.read_artifact(out["sha256"]) == many.data
    assert len(json.dumps(entry.to_dict())) < 2000
    assert s.history.search("quarterly")[-1].id == entry.id  # the texts are searchable


def test_the_async_twin(s: Session) -> None:
    async def main() -> EmbeddingResult:
        return await s.aembed(["async text"], dimensions=32)

    res = asyncio.run(main())
    assert len(res) == 1 and res.dimensions == 32 and res.entry is not None and res.entry.kind == "embed"


def test_dimensions_and_the_base64_form(s: Session, rec: Recorder) -> None:
    short = s.embed(TEXTS, dimensions=64)
    assert short.dimensions == 64 and sent(rec)[-1]["dimensions"] == 64
    assert short.entry is not None and short.entry.params["dimensions"] == 64
    full = s.embed(TEXTS)
    b64 = s.embed(TEXTS, encoding_format="base64")
    assert sent(rec)[-1]["encoding_format"] == "base64"
    assert b64.vectors == full.vectors  # the packed answer is read to the same numbers
    assert b64.entry is not None and b64.entry.params["encoding_format"] == "base64"


def test_a_relay_answering_base64_out_of_order_is_read(tmp_path: Path) -> None:
    rec = Scripted()
    s = make_session(tmp_path / "st", rec)
    rec.answer = {"object": "list", "model": MODEL, "usage": {"prompt_tokens": 4, "total_tokens": 4},
                  "data": [{"index": 1, "embedding": packed([0.0, 1.0])}, {"index": 0, "embedding": [1.0, 0.0]}]}
    res = s.embed(["first", "second"])  # asked for floats, answered base64 (and in another order)
    assert sent(rec)[-1]["encoding_format"] == "float"
    assert res.vectors == [[1.0, 0.0], [0.0, 1.0]] and res.similarity(0, 1) == 0.0
    assert res.entry is not None and res.entry.response["request_id"] == "req-embed-1"
    s.close()


@pytest.mark.parametrize(("texts", "words"), [
    ([], "list of texts is empty"), ("", "The text is empty"), ("  \n", "The text is empty"),
    (["fine", ""], "Text 1 is empty"), (["fine", 3], "Text 1 is a int"), (None, "not NoneType"),
    (b"raw", "not bytes"), ({"text": "x"}, "not dict"),
])
def test_input_errors_are_one_line_and_send_nothing(s: Session, rec: Recorder, texts: Any, words: str) -> None:
    with pytest.raises(InputError) as exc:
        s.embed(texts)
    assert words in str(exc.value) and "\n" not in str(exc.value)
    assert rec.posts("/v1/embeddings") == []
    refused = s.history[-1]
    assert (refused.kind, refused.status, refused.endpoint) == ("embed", "error", "")  # tried, and why it failed


@pytest.mark.parametrize(("kw", "error", "words"), [
    ({"dimensions": 0}, InputError, "at least 1"), ({"dimensions": 4096}, UnsupportedOptionError, "at most 2048"),
    ({"dimensions": "64"}, InputError, "whole number"),
    ({"encoding_format": "binary"}, UnsupportedOptionError, "encoding_format"),
    ({"model": "gpt-5.2"}, UnsupportedOptionError, "gpt-5.2 is a chat model, so embed() cannot use it"),
    ({"model": "no-such-embedder"}, tokenhot_nb.errors.UnknownModelError, "no-such-embedder"),
])
def test_option_errors_send_nothing(s: Session, rec: Recorder, kw: dict[str, Any], error: type[Exception],
                                    words: str) -> None:
    with pytest.raises(error) as exc:
        s.embed(["x"], **kw)
    assert words in str(exc.value) and "\n" not in str(exc.value)
    assert rec.posts("/v1/embeddings") == []


def test_chat_on_an_embeddings_model_is_the_wrong_kind(s: Session, rec: Recorder) -> None:
    with pytest.raises(UnsupportedOptionError) as exc:
        s.chat("hi", model=MODEL)
    assert str(exc.value).startswith("jina-embeddings-v4 is an embed model, so chat() cannot use it.")
    assert "session.embed(" in str(exc.value)
    assert rec.posts() == []


def test_the_catalogue_lists_the_kind_with_its_price(s: Session) -> None:
    listed = s.models(kind="embed")
    assert [m.id for m in listed] == [MODEL] and not listed.unclassified
    info = listed[0]
    assert (info.family, info.source, info.vendor) == ("openai-embeddings", "both", "Jina")
    assert info.price is not None and info.price_label() == "$0.05/M in"  # billed for input only
    assert s.model("jina-embeddings").id == MODEL  # an alias


def test_a_default_can_be_set_like_any_kind(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec, defaults={"embed": "bge-m3"})
    with pytest.raises(tokenhot_nb.errors.UnknownModelError, match="bge-m3"):  # the default was the one asked
        s.embed("x")
    assert rec.posts("/v1/embeddings") == []
    assert len(s.embed("x", model=MODEL)) == 1  # naming a model wins over the default
    s.close()


# ----------------------------------------------------------------------------- broken answers


@pytest.mark.parametrize(("answer", "words"), [
    ({"object": "list", "data": [{"index": 0, "embedding": [1.0, 0.0]}],
      "usage": {"prompt_tokens": 9, "total_tokens": 9}}, "1 vector(s) for 2 text(s)"),
    ({"data": [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [1.0, "x"]}],
      "usage": {"prompt_tokens": 9, "total_tokens": 9}}, "not a number"),
    ({"data": [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [1.0]}],
      "usage": {"prompt_tokens": 9, "total_tokens": 9}}, "vector 1 has 1 numbers but vector 0 has 2"),
    (b'{"data": [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [Infinity, 0.0]}],'
     b' "usage": {"prompt_tokens": 9, "total_tokens": 9}}', "not finite"),
])
def test_a_broken_answer_is_a_clear_error_and_stays_in_history(tmp_path: Path, answer: Any, words: str) -> None:
    rec = Scripted()
    s = make_session(tmp_path / "st", rec)
    rec.answer = answer
    with pytest.raises(APIError) as exc:
        s.embed(["first", "second"])
    err = exc.value
    assert words in str(err) and "\n" not in str(err) and err.request_id == "req-embed-1" and err.status == 200
    row = s.history[-1]
    assert (row.kind, row.status, row.endpoint) == ("embed", "error", "embeddings")
    assert row.usage["input_tokens"] == 9 and row.cost.known  # it was paid for: usage and cost are kept
    (kept,) = row.outputs
    body = s.store.read_artifact(kept["sha256"])
    raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    assert body == raw  # what was answered, as it came
    with pytest.raises(tokenhot_nb.errors.TokenhotError, match="did not finish"):
        row.result()
    s.close()


def test_a_body_cut_in_half_is_kept_too(s: Session, rec: Recorder) -> None:
    with pytest.raises(APIError, match="not valid JSON"):
        s.embed(TEXTS, headers={"X-Sim-Faults": json.dumps({"malformed_json": True})})
    row = s.history[-1]
    assert row.status == "error" and row.outputs and s.store.read_artifact(row.outputs[0]["sha256"]).startswith(
        b'{"object": "list"')


# ----------------------------------------------------------------------------- history, replay, to_code, export


def test_replay_with_no_network_gives_the_same_vectors(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    first = s.embed(TEXTS, dimensions=128)
    one = s.embed("lonely text")
    s.close()
    rec = Recorder()
    replay = Session(mode="replay", store=tmp_path / "st", transport=rec)
    again = replay.embed(TEXTS, dimensions=128)
    assert again.vectors == first.vectors and again.data == first.data and again.dimensions == 128
    assert again.texts == TEXTS and again.entry is not None and again.entry.id == first.entry_id
    assert replay.embed("lonely text").vectors == one.vectors
    with pytest.raises(ReplayMissError):
        replay.embed(TEXTS)  # the full-length call was never recorded
    assert rec.requests == []  # nothing went over any transport
    assert first.entry is not None and first.entry.result().vectors == first.vectors
    replay.close()


def test_to_code_regenerates_the_call(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    res = s.embed(TEXTS, dimensions=16, encoding_format="base64")
    assert res.entry is not None
    code = res.entry.to_code()
    assert "result = s.embed(" in code and "dimensions=16" in code and "encoding_format='base64'" in code
    s.close()
    replay = Session(mode="replay", store=tmp_path / "st", transport=Recorder())
    previous = tokenhot_nb.set_session(replay)
    try:
        ns: dict[str, Any] = {}
        exec(compile(code, "<to_code>", "exec"), ns)  # the generated code, run: the same call, answered from the store
        assert ns["result"].vectors == res.vectors
    finally:
        tokenhot_nb.set_session(previous)
        replay.close()
    rerun = make_session(tmp_path / "st2", Recorder())
    again = res.entry.rerun(rerun)
    assert isinstance(again, EmbeddingResult) and again.vectors == res.vectors  # the simulator is deterministic
    rerun.close()


def test_export_and_import_keep_the_vectors(tmp_path: Path, s: Session) -> None:
    res = s.embed(TEXTS, dimensions=32)
    path = s.history.export(tmp_path / "h.jsonl", include_artifacts=True)
    loaded = History.load(path, tmp_path / "imported")
    entry = next(e for e in loaded if e.kind == "embed")
    assert entry.result().vectors == res.vectors and entry.params["texts"] == TEXTS


def test_a_row_whose_shape_was_tampered_with_says_so(s: Session) -> None:
    res = s.embed(TEXTS, dimensions=8)
    assert res.entry is not None and res.entry.id is not None
    s.store.update(res.entry.id, response={**res.entry.response, "dimensions": 9})
    with pytest.raises(tokenhot_nb.errors.TokenhotError, match="do not match the shape"):
        s.history[-1].result()


# ----------------------------------------------------------------------------- cost and budget


def test_cost_from_usage_and_an_exact_estimate(s: Session, rec: Recorder) -> None:
    res = s.embed(TEXTS)
    assert res.entry is not None
    cost = res.cost
    tokens = res.usage.input_tokens
    assert cost.source == "per-token" and cost.simulated and tokens > 0
    assert cost.usd == pytest.approx(tokens * 0.05 / 1_000_000)  # $0.05 per 1M input tokens, no output
    before = len(rec.posts())
    est = s.estimate("embed", TEXTS)
    guessed = int(est.detail.split()[0].lstrip("~").replace(",", ""))  # "~N input tokens": no output to range over
    assert est.known and est.usd_max is None and est.detail.endswith("input tokens")
    assert est.usd == pytest.approx(guessed * 0.05 / 1_000_000) and guessed > 0
    assert len(rec.posts()) == before and len(s.history) == 1  # nothing sent, nothing recorded
    assert s.estimate(s.embed, ["x" * 4000]).usd > est.usd  # type: ignore[operator]


def test_the_budget_applies(s: Session, rec: Recorder) -> None:
    s.set_budget(0)
    with pytest.raises(BudgetExceededError) as exc:
        s.embed(TEXTS)
    assert "embed call to jina-embeddings-v4" in str(exc.value)
    assert rec.posts("/v1/embeddings") == []
    s.set_budget(1)
    assert len(s.embed(TEXTS)) == 3
    assert s.budget.spent_usd == pytest.approx(s.history[-1].cost.usd)


# ----------------------------------------------------------------------------- display


def test_display_escapes_hostile_text_and_stays_small(s: Session) -> None:
    hostile = ['<script>alert("x")</script>', '<img src=x onerror=alert(1)>', "a & b"]
    res = s.embed(hostile)
    bundle, meta = res._repr_mimebundle_()
    html = bundle["text/html"]
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html and "&amp; b" in html
    assert "3 × 2048 embeddings" in html and MODEL in html and f"history #{res.entry_id}" in html
    assert "text/markdown" not in bundle and meta["tokenhot"]["kind"] == "embed"
    assert bundle["text/plain"] == repr(res) and repr(res).startswith("<EmbeddingResult 3 × 2048 embeddings")
    assert html.count(", ") < 3 * 8 + 10  # a few numbers per text, never all 6,144
    big = s.embed([f"text number {i}" for i in range(40)], dimensions=512)
    big_html = big._repr_html_()
    assert len(big_html) < 6000 and "… and 32 more" in big_html and len(repr(big)) < 200


def test_to_numpy(s: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    np = pytest.importorskip("numpy")
    res = s.embed(TEXTS, dimensions=16)
    arr = res.to_numpy()
    assert arr.shape == (3, 16) and arr.dtype == np.float32 and arr.tolist() == res.vectors
    arr[0, 0] = 42.0
    assert res[0][0] != 42.0  # a copy
    monkeypatch.setitem(__import__("sys").modules, "numpy", None)  # numpy not installed
    with pytest.raises(InputError, match="needs numpy"):
        res.to_numpy()


def test_similarity_of_what_cannot_be_compared(tmp_path: Path) -> None:
    rec = Scripted()
    s = make_session(tmp_path / "st", rec)
    rec.answer = {"data": [{"index": 0, "embedding": [0.0, 0.0]}, {"index": 1, "embedding": [1.0, 0.0]}]}
    res = s.embed(["zero", "one"])
    with pytest.raises(InputError, match="Vector 0 is all zeros"):
        res.similarity(0, 1)
    with pytest.raises(InputError, match="no vector 2"):
        res.similarity(1, 2)
    with pytest.raises(InputError, match="no vector -3"):
        res[-3]
    assert res[-1] == [1.0, 0.0] and res._vectors is None  # one vector read alone: the list of all is not made
    assert res.similarity(1, -1) == 1.0 and res._vectors is None
    assert res[:1] == [[0.0, 0.0]] and res.vectors == [[0.0, 0.0], [1.0, 0.0]]
    s.close()


# ----------------------------------------------------------------------------- live mode, over loopback


@pytest.mark.usefixtures("direct")
def test_live_over_loopback_runs_in_the_blocking_lane(tmp_path: Path, sim_server: Any,
                                                      handed: list[object]) -> None:
    live = Session(api_key="sk-embed-lane-abcdefghijkl", base_url=sim_server.url, mode="live",
                   store=tmp_path / "st", max_retries=0)
    live.models()  # the price table read up front
    handed.clear()
    here = live.embed(TEXTS, dimensions=24)
    assert handed == []  # read whole on the caller's thread: no hop to the background loop
    there = asyncio.run(live.aembed(TEXTS, dimensions=24))
    assert handed and here.vectors == there.vectors and here.dimensions == 24
    assert here.entry is not None and here.entry.mode == "live" and not here.cost.simulated and here.cost.known
    assert "sk-embed-lane" not in json.dumps(here.entry.to_dict()) + here._repr_html_() + repr(here)
    live.close()


def test_a_vector_position_from_numpy_is_taken_and_a_float_or_bool_named(s: Session) -> None:
    """``res.similarity(np.argmax(scores), 0)`` said "There is no vector np.int64(1)" though there was; a float or a
    bool was "there is no vector" too, with no word on what a position is."""
    import numpy as np

    from tokenhot_nb.errors import OutOfRangeError, WrongTypeError

    res = s.embed(["a cat", "a dog"])
    assert res.similarity(np.int64(1), 0) == res.similarity(1, 0) and res[np.int32(-1)] == res[1]
    for wrong in (1.0, True, "0"):
        with pytest.raises(WrongTypeError, match=r"Vector positions are whole numbers, not ") as info:
            res.similarity(wrong, 0)
        assert "Count from 0" in (info.value.hint or "")
    with pytest.raises(OutOfRangeError, match=r"There is no vector 2: this result has 2 \(0 to 1\)"):
        res[2]


def test_more_texts_than_one_request_takes_are_refused_before_sending(s: Session, rec: Recorder) -> None:
    """``embed()`` of 100,000 texts was sent whole (megabytes up, for the relay to refuse, or time out on). The
    reference says nothing of the relay's limit: OpenAI's documented one (2048 inputs a request) is refused here,
    in one line saying to split the list; 2048 still go."""
    from tokenhot_nb.families import embeddings

    many = [f"text {i}" for i in range(100_000)]
    with pytest.raises(InputError, match=r"^2,049 texts is more"):
        s.embed(many[:2049], model=MODEL)
    with pytest.raises(InputError) as exc:
        s.embed(many, model=MODEL)
    said = str(exc.value)
    assert said.startswith("100,000 texts is more than one embeddings request takes (at most 2,048)")
    assert "Split the list" in said and "\n" not in said
    assert rec.posts("/v1/embeddings") == []
    assert len(embeddings.texts_of(many[:2048])) == 2048  # (the largest request: a whole call of it takes seconds)


@pytest.mark.parametrize("dimensions", [0, -3])
def test_too_few_dimensions_says_how_to_fix_it(s: Session, rec: Recorder, dimensions: int) -> None:
    """``dimensions=0`` said only "must be at least 1" (``%%th_embed --dimensions 0``: "Check the options and try
    again"): the fix now names a value and that leaving it out gives the model's own length."""
    with pytest.raises(InputError) as exc:
        s.embed("x", dimensions=dimensions)
    assert str(exc.value) == (f"dimensions must be at least 1 (got {dimensions}). Pass e.g. dimensions=7, or leave "
                              "it out.")
    assert rec.posts("/v1/embeddings") == []
