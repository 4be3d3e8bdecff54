"""Batches: bounded concurrency, one failure keeps the others, retry() reruns only the failed."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import errors as E
from tokenhot_nb.results import BatchResult, ChatResult, ImageResult
from tokenhot_nb.sim import Faults


def test_image_batch_keeps_successes_and_retries_the_failed(tmp_path: Path) -> None:
    rec = Recorder(Faults(fail_first={500: 1}))
    s = make_session(tmp_path / "st", rec, max_retries=0)
    prompts = ["a cat", "a dog", "a bird", "a fish"]
    batch = s.image(prompts, model="gpt-image-2", concurrency=1, progress=False)
    assert isinstance(batch, BatchResult) and len(batch) == 4
    assert list(batch.failed) == [0] and isinstance(batch.failed[0], E.ServerError)
    assert [isinstance(r, ImageResult) for r in batch] == [False, True, True, True]
    assert len(batch.ok) == 3 and "1 failed" in repr(batch) and "ServerError" in repr(batch)
    html = batch._repr_mimebundle_()[0]["text/html"]
    assert html.count("<img") == 3 and "ServerError" in html and ".retry()" in html
    statuses = [e.status for e in s.history]
    assert statuses.count("error") == 1 and statuses.count("ok") == 3  # every call recorded, errors too
    sent_before = len(rec.posts())
    assert batch.retry() is batch
    assert not batch.failed and all(isinstance(r, ImageResult) for r in batch)
    assert len(rec.posts()) == sent_before + 1  # only the failed one ran again
    assert batch[0].entry.params["prompt"] == "a cat"
    with pytest.raises(E.ServerError):
        BatchResult([E.ServerError("x")], ["p"], kind="image").raise_for_errors()
    s.close()


def test_batch_concurrency_is_bounded(tmp_path: Path) -> None:
    rec = Recorder(Faults(latency=0.05))
    s = make_session(tmp_path / "st", rec)
    batch = s.image([f"p{i}" for i in range(8)], model="gpt-image-2", concurrency=3, progress=False)
    assert not batch.failed and rec.peak == 3
    s.close()


def test_chat_batch_is_independent(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    batch = s.chat(["one?", "two?", "three?"], model="gpt-5.2", progress=False)
    assert isinstance(batch, BatchResult) and all(isinstance(r, ChatResult) for r in batch)
    assert all(len(__import__("json").loads(r["body"])["messages"]) == 1 for r in rec.posts())
    assert all(r.entry.thread is None for r in batch)
    assert "<table>" in batch._repr_mimebundle_()[0]["text/html"]
    s.chat("follow-up in the default thread", model="gpt-5.2")
    assert len(rec.json(-1)["messages"]) == 1  # the batch did not enter any thread
    s.close()


def test_async_batch(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    batch = asyncio.run(s.aimage(["x", "y"], model="gpt-image-2", progress=False))
    assert isinstance(batch, BatchResult) and len(batch.ok) == 2
    assert asyncio.run(batch.aretry()) is batch
    s.close()


def test_batch_over_loopback_server(tmp_path: Path, sim_server, sim_url: str) -> None:
    """The same over real HTTP: a server that fails the first request."""
    from tokenhot_nb import Session

    sim_server.set_faults(Faults(fail_first={503: 1}))
    s = Session(api_key="sk-loopback-test-1234", base_url=sim_url, mode="live", store=tmp_path / "st",
                max_retries=0)
    batch = s.image(["a", "b", "c"], model="gpt-image-2", concurrency=1, progress=False)
    assert len(batch.failed) == 1 and len(batch.ok) == 2
    batch.retry()
    assert not batch.failed and all(r.path.is_file() for r in batch)
    s.close()


def test_retry_resumes_paid_images_and_reruns_only_what_was_never_made(tmp_path: Path) -> None:
    """A failed call is made again; a paid call whose files did not arrive is fetched from its kept links."""
    rec = Recorder(Faults(fail_first={500: 1}, expire_downloads=True))
    s = make_session(tmp_path / "st", rec, max_retries=0)
    batch = s.image(["a cat", "a dog", "a bird"], model="gpt-image-2", size="64x64", concurrency=1, progress=False)
    assert isinstance(batch.failed[0], E.ServerError)
    kept = [batch.failed[i] for i in (1, 2)]
    assert all(isinstance(e, E.DownloadError) and e.resumable is not None for e in kept)
    assert not isinstance(batch.failed[0], E.DownloadError)
    generated = len(rec.posts("/v1/images/generations"))
    spent = s.store.spent_usd(0, simulated=True)
    rec.set_faults(Faults())
    assert batch.retry() is batch
    assert not batch.failed and all(isinstance(r, ImageResult) and r.path.is_file() for r in batch)
    assert len(rec.posts("/v1/images/generations")) == generated + 1  # only the call that never happened
    assert [batch[i].entry_id for i in (1, 2)] == [e.resumable for e in kept]  # the same rows, filled in
    assert s.store.spent_usd(0, simulated=True) == pytest.approx(spent + 0.028)  # one new call, nothing else
    assert [e.status for e in s.history].count("ok") == 3
    s.close()


def test_a_batch_stopped_by_one_of_its_calls_waits_for_the_others_to_record_their_stop() -> None:
    """A stop raised by one call of a batch (a Ctrl-C landing in it, a replayed stop) was re-raised at once, the
    others only asked to stop: the caller heard of it while their rows still said "running", and in the blocking
    lane, whose loop then stops, they were never finished at all."""
    from tokenhot_nb._session.batch import gather
    from tokenhot_nb._session.loop import Interrupted

    recorded: list[str] = []

    async def one(x: str) -> str:
        if x == "stop":
            await asyncio.sleep(0)
            raise Interrupted("stopped")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # (recording the stop)
            recorded.append(x)
            raise
        return x

    async def cell() -> list[str]:
        with pytest.raises(Interrupted):
            await gather(["a", "stop", "b"], one, 3, None)
        return list(recorded)

    assert sorted(asyncio.run(cell())) == ["a", "b"]


def test_inputs_a_batch_refuses_before_sending_are_recorded_as_a_single_call_refused_is(s: Any, rec: Any) -> None:
    """A refused single call is a history row ("refused before sending", not charged); a batch's refused inputs left
    no row at all: the history showed two calls of a batch of four, with no trace of what was tried or why."""
    batch = s.image(["a cat", "", 5, "a dog"], model="gpt-image-2", size="64x64", progress=False)
    assert list(batch.failed) == [1, 2] and len(rec.posts()) == 2
    rows = list(s.history)
    assert [r.status for r in rows] == ["ok", "ok", "error", "error"]  # the calls sent, then the refusals
    refused = {r.params["prompt"]: r for r in rows if r.status == "error"}
    assert set(refused) == {"", 5}
    for row in refused.values():
        assert row.kind == "image" and row.model == "gpt-image-2" and row.endpoint == ""
        assert row.params["size"] == "64x64" and "concurrency" not in row.params
        assert row.cost.usd == 0 and row.cost.detail == "refused before sending"
    assert refused[""].error["message"] == str(batch.failed[1]).split(" Pass")[0]
    assert "not int (5)" in refused[5].error["message"]
    chats = s.chat(["hi", "  "], model="gpt-5.2", progress=False)
    assert list(chats.failed) == [1]
    last = s.history[-1]
    assert last.kind == "chat" and last.status == "error" and last.params["message"] == "  "


def test_a_batch_that_crosses_the_budget_halfway_records_each_refusal_and_replays_it(tmp_path: Path) -> None:
    """The budget refused the rest of a batch, unrecorded; a retry refused again was unrecorded too. Each refusal is a
    row now, and the replay gives the same batch back, its refusals word for word, sending nothing."""
    live = Recorder()
    with make_session(tmp_path / "st", live, budget=0.028 * 2.5) as s:
        batch = s.image([f"pear {i}" for i in range(4)], model="gpt-image-2", concurrency=1, progress=False)
        assert list(batch.failed) == [2, 3] and len(live.posts()) == 2
        said = [str(e) for e in batch.errors]
        rows = list(s.history)
        assert [(r.status, r.params["prompt"]) for r in rows[2:]] == [("error", "pear 2"), ("error", "pear 3")]
        assert all(r.error["error"] == "BudgetExceededError" and r.cost.usd == 0 for r in rows[2:])
        assert batch.retry() is batch and list(batch.failed) == [2, 3]  # still over: refused, and recorded, again
        assert len(s.history) == 6 and len(live.posts()) == 2
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        again = r.image([f"pear {i}" for i in range(4)], model="gpt-image-2", concurrency=1, progress=False)
        assert list(again.failed) == [2, 3] and [str(e) for e in again.errors] == said
        assert [x.entry_id for x in again.ok] == [rows[0].id, rows[1].id]
        assert len(r.history) == 4  # as the recording's history read after the batch (a replay records nothing)
    assert rec.requests == []


def test_a_model_of_a_comparison_refused_before_sending_is_recorded_and_replays(tmp_path: Path) -> None:
    """One model of a comparison refused (an option it does not take, the budget) left no history row, while the
    same call made alone is recorded; the others' answers were kept, as they still are."""
    models = ["gpt-image-2", "doubao-seedream-4-0-250828", "doubao-seedream-4-5-251128"]
    live = Recorder()
    with make_session(tmp_path / "st", live, budget=0.028 + 0.03) as s:
        cmp = s.compare("a cat", models=models[:2], size="64x64", progress=False)  # seedream takes no 64x64
        assert list(cmp.failed) == [models[1]] and len(live.posts()) == 1
        row = s.history[-1]
        assert (row.kind, row.model, row.status, row.endpoint) == ("image", models[1], "error", "")
        assert row.params == {"prompt": "a cat", "model": models[1], "size": "64x64"}
        assert row.error["error"] == "UnsupportedOptionError" and row.cost.detail == "refused before sending"
        over = s.compare("a dog", models=models[1:], progress=False)  # the first fits the budget, not the second
        assert list(over.failed) == [models[2]] and len(live.posts()) == 2
        row = s.history[-1]
        assert (row.model, row.error["error"], row.params["prompt"]) == (models[2], "BudgetExceededError", "a dog")
        assert len(s.history) == 4
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        again = r.compare("a dog", models=models[1:], progress=False)
        assert str(again[models[2]]) == str(over[models[2]]) and again[models[1]].entry_id == over[0].entry_id
    assert rec.requests == []


@pytest.mark.parametrize(("models", "prompt", "options", "kind", "model", "error"), [
    (["gpt-image-2", "gpt-imag-2"], "a cat", {}, "image", "gpt-imag-2", "UnknownModelError"),
    (["nonesuch-model", "gpt-5.2"], "hi", {}, "chat", "nonesuch-model", "UnknownModelError"),
    (["gpt-imag-2", "gpt-image-2"], "a cat", {}, "image", "gpt-imag-2", "UnknownModelError"),
    (["gpt-5.2", "claude-sonnet-4-5"], "   ", {}, "chat", "gpt-5.2", "InputError"),
    (["gpt-5.2", "claude-sonnet-4-5"], "hi", {"thread": "x"}, "chat", "gpt-5.2", "InputError"),
    ("gpt-5.2", "hi", {}, "chat", "", "InputError"),
])
def test_a_comparison_refused_as_a_whole_is_recorded_and_replays_word_for_word(
        tmp_path: Path, models: Any, prompt: str, options: dict[str, Any], kind: str, model: str, error: str) -> None:
    """A single call refused before sending is a history row; a comparison refused as a whole (an unknown model, a
    prompt every model would refuse, an argument it does not take) left none: the history had no trace of what was
    tried, or why. It is a row now, "refused before sending", and a replay says the same words, recording nothing."""
    live = Recorder()
    with make_session(tmp_path / "st", live) as s:
        s.chat("before", model="gpt-5.2")
        with pytest.raises(E.TokenhotError) as info:
            s.compare(prompt, models=models, progress=False, **options)
        said = str(info.value)
        row = s.history[-1]
        assert (row.kind, row.model, row.status, row.endpoint) == (kind, model, "error", "")
        assert row.error["error"] == error and said.startswith(row.error["message"])
        assert row.cost.usd == 0 and row.cost.detail == "refused before sending"
        assert row.params["models"] == models and row.params.get("prompt") == prompt
        assert len(live.posts()) == 1 and len(s.history) == 2
        s.chat("after", model="gpt-5.2")
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        r.chat("before", model="gpt-5.2")
        with pytest.raises(E.TokenhotError) as again:
            r.compare(prompt, models=models, progress=False, **options)
        assert str(again.value) == said and len(r.history) == 2  # (as the recording's read after the refusal)
        assert r.chat("after", model="gpt-5.2").entry_id == 3


def test_a_chat_comparison_given_model_asked_every_model_as_that_one_it_is_refused(s: Any, rec: Any) -> None:
    """model= went into every call's body: both "models" were gpt-5.2, billed and recorded as the two asked."""
    with pytest.raises(E.InputError, match=r"compare\(\) takes its models as models=\[…\], not model=\.") as info:
        s.compare("hi", models=["gpt-5.2", "claude-sonnet-4-5"], model="gpt-5.2")
    assert info.value.option == "model" and "\n" not in str(info.value)
    assert rec.posts() == []


@pytest.mark.parametrize(("models", "options", "said"), [
    (["gpt-image-2", "doubao-seedream-4-0-250828"], {"concurrency": 2}, "asks every model at once"),
    (["gpt-5.2", "claude-sonnet-4-5"], {"thread": "x"}, "outside any thread"),
    (["gpt-5.2", "claude-sonnet-4-5"], {"new_thread": True}, "outside any thread"),
    (["gpt-5.2", "claude-sonnet-4-5"], {"on_delta": print}, "reads each answer whole"),
    (["gpt-5.2", "claude-sonnet-4-5"], {"message": "hi"}, "takes the prompt as its first argument"),
])
def test_a_single_calls_own_argument_that_a_comparison_does_not_use_is_refused_before_sending(
        s: Any, rec: Any, models: list[str], options: dict[str, Any], said: str) -> None:
    """Each went out as a body field of every paid call (concurrency=2, thread='x'…), or broke it inside (on_delta:
    "TypeError: Object of type function is not JSON serializable" per model)."""
    with pytest.raises(E.InputError, match=said):
        s.compare("hi", models=models, progress=False, **options)
    assert rec.posts() == []


def test_a_chat_comparison_shows_each_model_the_images(s: Any, rec: Any) -> None:
    """images= was sent as an unknown body field: each model answered, and was paid, without seeing the image."""
    from PIL import Image

    cmp = s.compare("What colour is it?", models=["gpt-5.2", "claude-sonnet-4-5"], progress=False,
                    images=[Image.new("RGB", (8, 8), "red")])
    assert not cmp.failed
    for i in range(2):
        body = rec.json(i)
        assert "images" not in body
        parts = body["messages"][-1]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url"]
        assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert all(len(e.params["images"]) == 1 for e in s.history)


def test_a_batch_of_questions_shows_each_one_the_images(s: Any, rec: Any) -> None:
    """images= with a list of questions was dropped: each question went out, paid, without the image."""
    from PIL import Image

    batch = s.chat(["What colour is it?", "What shape is it?"], model="gpt-5.2", progress=False,
                   images=[Image.new("RGB", (8, 8), "red")])
    assert not batch.failed and len(rec.posts()) == 2
    for i in range(2):
        parts = rec.json(i)["messages"][-1]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url"]
    assert all(len(e.params["images"]) == 1 for e in s.history)


@pytest.mark.parametrize(("options", "said"), [
    ({"thread": "work"}, "outside any thread"),
    ({"new_thread": True}, "outside any thread"),
    ({"on_delta": print}, "reads each answer whole"),
    ({"tool_results": {"call_1": 42}}, "no tool calls to answer"),
])
def test_a_batch_of_questions_given_what_only_one_call_takes_is_refused_before_sending(
        s: Any, rec: Any, options: dict[str, Any], said: str) -> None:
    """They were ignored without a word: the questions went out, paid, outside the thread they were meant for."""
    with pytest.raises(E.InputError, match=said):
        s.chat(["one?", "two?"], model="gpt-5.2", progress=False, **options)
    assert rec.posts() == [] and s.threads.names() == []
    assert [(e.status, e.cost.detail) for e in s.history] == [("error", "refused before sending")]
    assert s.chat(["one?", "two?"], model="gpt-5.2", progress=False, thread=False).failed == {}


def test_a_batch_counts_the_images_it_paid_for_whose_files_did_not_arrive(tmp_path: Path) -> None:
    """batch.cost read $0.0000, a known zero, for two paid calls whose images could not be downloaded."""
    rec = Recorder(Faults(expire_downloads=True))
    with make_session(tmp_path / "st", rec, max_retries=0) as s:
        batch = s.image(["a cat", "a dog"], model="gpt-image-2", progress=False)
        assert all(isinstance(e, E.DownloadError) for e in batch.errors)
        assert [e.cost.usd for e in s.history] == [0.028, 0.028]
        assert batch.cost.known and batch.cost.usd == pytest.approx(0.056)
        rec.set_faults(Faults())
        assert batch.retry().cost.usd == pytest.approx(0.056)  # fetched from the kept links: no new charge


def test_a_retry_stopped_by_ctrl_c_names_the_calls_it_ended(tmp_path: Path) -> None:
    """A Ctrl-C during batch.retry() was a bare KeyboardInterrupt: nothing said the requests may be billed, and their
    rows kept the placeholder words. It now says what the batch's own stop says, and the rows keep it."""
    from _session_support import interrupted_when

    rec = Recorder(Faults(fail_first={500: 3}))
    with make_session(tmp_path / "st", rec, max_retries=0) as s:
        batch = s.image(["a cat", "a dog", "a fox"], model="gpt-image-2", progress=False)
        assert len(batch.failed) == 3
        s.models()
        rec.set_faults(Faults(latency=10))
        with pytest.raises(KeyboardInterrupt) as info:
            interrupted_when(lambda: rec.in_flight >= 3, batch.retry)
        said = str(info.value)
        ids = [e.id for e in s.history][3:]
        assert said.startswith(f"Stopped: 3 calls were ended (history #{ids[0]}…#{ids[-1]}, status interrupted)")
        assert "may still finish the work and charge for it" in said
        assert [e.error for e in s.history][3:] == [{"error": "KeyboardInterrupt", "message": said, "hint": ""}] * 3
        assert len(batch.failed) == 3  # the batch is as it was


class _FirstCallOnly(Recorder):
    """The simulator, answering the first API call (a POST) only: the others wait (until :attr:`free` is set)."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting, self.free, self.first = 0, threading.Event(), True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and not self.first:
            self.waiting += 1
            await asyncio.to_thread(self.free.wait, 60)
        self.first = self.first and request.method != "POST"
        return await super().handle_async_request(request)


def _stopped_after_one_answer(s: Any, rec: _FirstCallOnly, call: Any) -> str:
    """Ctrl-C ``call`` once its first call has answered and two more are held by ``rec``: the stop's line."""
    from _session_support import interrupted_when

    s.models()

    def ready() -> bool:
        done = s.store.connection().execute("SELECT count(*) FROM entries WHERE status = 'ok'").fetchone()[0]
        return rec.waiting >= 2 and done == 1

    try:
        with pytest.raises(KeyboardInterrupt) as info:
            interrupted_when(ready, call)
    finally:
        rec.free.set()
    return str(info.value)


def test_a_batch_stopped_by_ctrl_c_records_its_refused_inputs_and_names_the_rows_it_kept(tmp_path: Path) -> None:
    """A Ctrl-C in a batch left its inputs refused before sending unrecorded (a batch that ends records them), and
    its line said "the calls that had finished are kept" without saying where. The refusals are rows now, and the
    line names every row kept, answered or refused, in short (``history #1, #4–#5``)."""
    rec = _FirstCallOnly()
    with make_session(tmp_path / "st", rec) as s:
        said = _stopped_after_one_answer(s, rec, lambda: s.image(["a cat", "", "a dog", 5, "a fox"],
                                                                 model="gpt-image-2", progress=False))
        rows = list(s.history)
        assert sorted(r.status for r in rows) == ["error", "error", "interrupted", "interrupted", "ok"]
        refused = {r.params["prompt"]: r for r in rows if r.status == "error"}
        assert set(refused) == {"", 5} and all(r.cost.detail == "refused before sending" for r in refused.values())
        [answered] = [r.id for r in rows if r.status == "ok"]
        first, last = sorted(r.id for r in refused.values())  # (recorded as the stop unwound: after the others)
        ended = [r.id for r in rows if r.status == "interrupted"]
        assert said.startswith(f"Stopped: 2 calls were ended (history #{ended[0]}…#{ended[-1]}, status interrupted)")
        named = f"#{answered}–#{last}" if answered == first - 1 else f"#{answered}, #{first}–#{last}"
        assert f"kept, each with its result or error (history {named})." in said


def test_a_comparison_stopped_by_ctrl_c_records_the_models_refused_before_sending(tmp_path: Path) -> None:
    """As a stopped batch's: a model of a comparison refused before sending (seedream takes no 64x64) left no row
    when a Ctrl-C stopped the others; it is recorded, and the line names it with the answered one."""
    rec = _FirstCallOnly()
    models = ["gpt-image-2", "doubao-seedream-4-0-250828", "wan2.6-image", "wan2.6-t2i"]
    with make_session(tmp_path / "st", rec) as s:
        said = _stopped_after_one_answer(s, rec, lambda: s.compare("a cat", models=models, size="64x64",
                                                                   progress=False))
        rows = list(s.history)
        assert sorted(r.status for r in rows) == ["error", "interrupted", "interrupted", "ok"]
        [refused] = [r for r in rows if r.status == "error"]
        assert (refused.model, refused.error["error"]) == (models[1], "UnsupportedOptionError")
        assert refused.cost.detail == "refused before sending"
        [answered] = [r.id for r in rows if r.status == "ok"]
        named = f"#{answered}–#{refused.id}" if answered == refused.id - 1 else f"#{answered}, #{refused.id}"
        assert f"kept, each with its result or error (history {named})." in said


def test_a_retry_stopped_by_ctrl_c_records_the_inputs_the_budget_refused(tmp_path: Path) -> None:
    """As a stopped batch's: a retry's inputs the budget refused before sending were recorded only when the retry
    ended; a Ctrl-C left them out, and its line did not name them."""
    from _session_support import interrupted_when

    rec = _FirstCallOnly()
    rec.first = False  # (every call waits: two go out, the budget refuses the others)
    rec.set_faults(Faults(fail_first={500: 4}))
    # (the failed calls' cost is unknown, so each counts at its estimate: room for 2 of the 4 again)
    with make_session(tmp_path / "st", rec, max_retries=0, budget=0.028 * 6.5) as s:
        rec.free.set()
        batch = s.image([f"pear {i}" for i in range(4)], model="gpt-image-2", progress=False)
        assert len(batch.failed) == 4 and len(s.history) == 4
        rec.free.clear()
        rec.waiting = 0
        try:
            with pytest.raises(KeyboardInterrupt) as info:
                interrupted_when(lambda: rec.waiting >= 2, batch.retry)
        finally:
            rec.free.set()
        rows = list(s.history)[4:]
        refused = [r for r in rows if r.status == "error"]
        assert sorted(r.status for r in rows) == ["error", "error", "interrupted", "interrupted"]
        assert all(r.error["error"] == "BudgetExceededError" for r in refused)
        first, last = sorted(r.id for r in refused)
        assert f"kept, each with its result or error (history #{first}–#{last})." in str(info.value)


def test_history_rows_are_named_short() -> None:
    from tokenhot_nb._session.loop import id_span

    assert id_span([15, 12, 13, 14]) == "#12–#15"
    assert id_span([1, 4, 5, 9]) == "#1, #4–#5, #9"
    assert id_span([3]) == "#3"


def test_raise_for_errors_raises_from_its_own_line_not_through_the_calls_internals(tmp_path: Path) -> None:
    """It re-raised the stored error with the traceback of the task that made it: a script printed a dozen of the
    library's frames (the batch runner, the image call, the recording, the HTTP client) before the one line."""
    import traceback

    from tokenhot_nb.errors import full_traceback

    with make_session(tmp_path / "st", Recorder(Faults(fail_first={500: 1})), max_retries=0) as s:
        batch = s.image(["a cat", "a dog"], model="gpt-image-2", concurrency=1, progress=False)
        with pytest.raises(E.ServerError) as info:
            batch.raise_for_errors()
    shown = [f.filename for f in traceback.extract_tb(info.value.__traceback__)]
    assert shown[-1].endswith("results/batch.py")
    assert not any("tokenhot_nb/_session" in f or "tokenhot_nb/client" in f for f in shown)
    kept = [f.filename for f in traceback.extract_tb(full_traceback(info.value))]
    assert any(f.endswith("client/_client.py") for f in kept)  # still there for err.details()


def test_a_comparison_is_indexed_by_the_model_objects_it_was_given(s: Any) -> None:
    """cmp[info] for a model passed as s.model(…) said "Positions are whole numbers, not ModelInfo"."""
    claude = s.model("claude-sonnet-4-5")
    cmp = s.compare("hi", models=[claude, "gpt-5.2"], progress=False)
    assert cmp[claude] is cmp[0] and cmp[s.model("gpt-5.2")] is cmp["gpt-5.2"]
    with pytest.raises(E.NoEntryError, match=r"No model 'gemini-2\.5-pro' in this comparison"):
        cmp[s.model("gemini-2.5-pro")]


class _SecondFileGone(Recorder):
    """Every second result file answers 403 (an expired link): each call of n=2 gets one image of its two."""

    files = 0

    async def handle_async_request(self, request: Any) -> Any:
        import httpx

        if "/sim/files/" in request.url.path:
            self.files += 1
            if self.files % 2 == 0:
                return httpx.Response(403, text="expired")
        return await super().handle_async_request(request)


def test_a_batch_shows_the_images_that_arrived_of_a_call_whose_others_did_not(tmp_path: Path) -> None:
    """Each call was paid and one of its two images arrived (kept in err.partial), but the batch showed only the
    error: two paid images were nowhere in the cell."""
    with make_session(tmp_path / "st", _SecondFileGone(), max_retries=0) as s:
        batch = s.image(["a cat", "a dog"], model="gpt-image-2", n=2, size="64x64", concurrency=1, progress=False)
        assert [len(e.partial.items) for e in batch.errors] == [1, 1]
        html = batch._repr_mimebundle_()[0]["text/html"]
        assert html.count("<img") == 2 and html.count("DownloadError") == 2
        cmp = s.compare("a fox", models=["gpt-image-2"], n=2, size="64x64", progress=False)
        assert cmp._repr_mimebundle_()[0]["text/html"].count("<img") == 1


def test_a_batch_without_a_session_refuses_a_retry_in_one_line_that_says_how() -> None:
    """``retry()`` on a batch made without a session was a bare ``RuntimeError`` through the event loop's frames."""
    err = E.ServerError("boom", status=500)
    batch = BatchResult([err, ChatResult("ok", model="m")], ["a", "b"], kind="chat", model="m")
    for attempt in (batch.retry, lambda: asyncio.run(batch.aretry())):
        with pytest.raises(E.TokenhotError, match=r"no session to rerun its 1 failed input with") as exc:
            attempt()
        assert "session.chat([batch.inputs[i] for i in batch.failed], model='m')" in exc.value.hint
        assert "\n" not in str(exc.value) and len(exc.value._render_traceback_()) <= 6
        assert batch.items[0] is err and batch.items[1].text == "ok"  # nothing it had is lost
    done = BatchResult([ChatResult("ok", model="m")], ["b"], kind="chat", model="m")
    assert done.retry() is done  # (nothing failed: nothing to rerun, no session needed)


@pytest.mark.parametrize("kind", ["image", "chat"])
def test_a_ctrl_c_that_ended_the_last_running_call_of_a_batch_speaks_of_the_batch(tmp_path: Path, kind: str) -> None:
    """The batch's other call had answered: the line said one call's words ("the image call is recorded as
    interrupted in history #2 …"), nothing of the answer the batch kept. It says what a batch stopped as a whole
    says: the call it ended, and the rows kept, by history id."""
    from _session_support import interrupted_when

    rec = _FirstCallOnly()
    with make_session(tmp_path / "st", rec) as s:
        s.models()

        def ready() -> bool:
            done = s.store.connection().execute("SELECT count(*) FROM entries WHERE status = 'ok'").fetchone()[0]
            return rec.waiting >= 1 and done == 1

        def call() -> Any:
            if kind == "image":
                return s.image(["a cat", "a dog"], model="gpt-image-2", progress=False)
            return s.chat(["one?", "two?"], model="gpt-5.2", progress=False)

        try:
            with pytest.raises(KeyboardInterrupt) as info:
                interrupted_when(ready, call)
        finally:
            rec.free.set()
        said = str(info.value)
        [answered] = [r.id for r in s.history if r.status == "ok"]
        [ended] = [r.id for r in s.history if r.status == "interrupted"]
        assert said.startswith(f"Stopped: 1 call was ended (history #{ended}, status interrupted); the calls that "
                               f"had ended are kept, each with its result or error (history #{answered})."), said
        assert "may still finish the work and charge for it" in said
        assert s.history.get(ended).error == {"error": "KeyboardInterrupt", "message": said, "hint": ""}


def test_a_ctrl_c_while_a_batchs_images_downloaded_names_the_paid_links_and_the_rows_kept(tmp_path: Path) -> None:
    """One call of the batch was downloading its paid images, the other had ended: the line said one call's words,
    or (when another call was stopped too) only "N calls were ended", not that the images were paid for and can
    be fetched without paying again. It speaks of the batch, and names the resume that fetches them."""
    from _session_support import HeldRecorder, interrupted_when

    gate = HeldRecorder("GET", "/files")  # (the first image download waits)
    with make_session(tmp_path / "st", gate) as s:
        s.models()

        def ready() -> bool:
            done = s.store.connection().execute("SELECT count(*) FROM entries WHERE status = 'ok'").fetchone()[0]
            return gate.held.is_set() and done == 1

        try:
            with pytest.raises(KeyboardInterrupt) as info:
                interrupted_when(ready, lambda: s.image(["a cat", "a dog"], model="gpt-image-2", progress=False))
        finally:
            gate.hold.set()
        said = str(info.value)
        [answered] = [r.id for r in s.history if r.status == "ok"]
        [ended] = [r.id for r in s.history if r.status == "interrupted"]
        assert said == (f"Stopped: 1 call was ended (history #{ended}, status interrupted); the calls that had ended "
                        f"are kept, each with its result or error (history #{answered}). The images of history "
                        f"#{ended} are paid for and their links kept: fetch them with session.resume({ended}) (no new "
                        "call, no new charge)."), said
        fetched = s.resume(ended)
        assert fetched.path.is_file() and s.history.get(ended).status == "ok"
        assert len(gate.posts("/images")) == 2  # (fetched from the kept links: nothing asked again)
