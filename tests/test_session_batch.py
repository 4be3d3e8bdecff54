"""Batches: bounded concurrency, one failure keeps the others, retry() reruns only the failed."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
