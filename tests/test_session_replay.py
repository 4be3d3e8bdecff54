"""Replay mode: recorded calls come back from the store with no request; misses name the nearest recording."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb.families._types import TaskStatus
from tokenhot_nb.results import (
    AudioResult,
    ChatResult,
    ImageResult,
    TranscriptResult,
    VideoResult,
    VideoTask,
    from_entry,
)


@pytest.fixture
def recorded(tmp_path: Path) -> dict:
    """One store with a call of every kind recorded in offline mode."""
    s = make_session(tmp_path / "st", Recorder())
    out = {
        "image": s.image("a red fox", model="gpt-image-2", size="1024x1024"),
        "images": s.image("two owls", model="gpt-image-2", n=2),
        "chat1": s.chat("What is a fox?", model="gpt-5.2"),
        "chat2": s.chat("Where does it live?", model="gpt-5.2"),
        "speak": s.speak("Hello there", voice="Puck"),
        "video": s.video("a fox runs", progress=False),
    }
    out["edit"] = s.edit(out["image"], "make it blue", model="gpt-image-2")
    out["transcribe"] = s.transcribe(out["speak"], format="srt")
    out["store"] = tmp_path / "st"
    s.close()
    return out


def test_replay_hits_make_no_request(recorded: dict) -> None:
    rec = Recorder()
    s = make_session(recorded["store"], rec, mode="replay")
    n_entries = len(s.history)
    img = s.image("a red fox", model="gpt-image-2", size="1024x1024")
    assert isinstance(img, ImageResult) and img.sha256 == recorded["image"].sha256
    assert img.entry_id == recorded["image"].entry_id
    assert [r.sha256 for r in s.image("two owls", model="gpt-image-2", n=2)] == \
        [r.sha256 for r in recorded["images"]]
    deltas: list[str] = []
    c1 = s.chat("What is a fox?", model="gpt-5.2", on_delta=lambda d, t: deltas.append(t))
    c2 = s.chat("Where does it live?", model="gpt-5.2")
    assert isinstance(c1, ChatResult) and c1.text == recorded["chat1"].text and deltas[-1] == c1.text
    assert c2.text == recorded["chat2"].text and c2.usage.total_tokens == recorded["chat2"].usage.total_tokens
    sp = s.speak("Hello there", voice="Puck")
    assert isinstance(sp, AudioResult) and sp.wav == recorded["speak"].wav
    v = s.video("a fox runs", progress=False)
    assert isinstance(v, VideoResult) and v.sha256 == recorded["video"].sha256 and v.poster is not None
    task = s.video("a fox runs", wait=False)
    # (not done at once: where the recording's task was when it was created, its statuses to play back)
    assert isinstance(task, VideoTask) and not task.done and task.wait().sha256 == v.sha256
    ed = s.edit(recorded["image"], "make it blue", model="gpt-image-2")
    assert ed.sha256 == recorded["edit"].sha256
    tr = s.transcribe(recorded["speak"], format="srt")
    assert isinstance(tr, TranscriptResult) and tr.srt == recorded["transcribe"].srt
    assert s.resume(recorded["video"].task_id).done
    assert rec.requests == []  # the transport saw nothing
    assert len(s.history) == n_entries  # replays are not recorded again
    s.close()


def test_replay_miss_names_the_nearest_and_the_differences(recorded: dict) -> None:
    rec = Recorder()
    s = make_session(recorded["store"], rec, mode="replay")
    with pytest.raises(E.ReplayMissError) as info:
        s.image("a red fox", model="gpt-image-2", size="1536x1024")
    err = info.value
    assert err.nearest is not None and err.nearest.id == recorded["image"].entry_id
    assert any(d.startswith("size:") and "1024x1024" in d and "1536x1024" in d for d in err.differences)
    assert f"#{recorded['image'].entry_id}" in str(err) and "size" in str(err)
    with pytest.raises(E.ReplayMissError, match="never recorded"):
        s.chat("Something new", model="gpt-5.2")
    with pytest.raises(E.ReplayMissError, match="no recorded translate"):
        s.translate(recorded["speak"])
    assert rec.requests == []
    s.close()


def test_env_mode_replay(recorded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENHOT_MODE", "replay")
    rec = Recorder()
    from tokenhot_nb import Session

    s = Session(store=recorded["store"], transport=rec)
    assert s.mode == "replay"
    assert s.image("a red fox", model="gpt-image-2", size="1024x1024").sha256 == recorded["image"].sha256
    assert rec.requests == []
    s.close()


def test_from_entry_rebuilds_every_kind(recorded: dict) -> None:
    s = make_session(recorded["store"], Recorder())
    for key in ("image", "images", "chat1", "speak", "video", "edit", "transcribe"):
        original = recorded[key]
        entry = s.history.get(original.entry_id)
        again = entry.result(s)
        assert type(again) is type(original)
        assert again.entry_id == original.entry_id
        assert repr(again) == repr(original)
        assert from_entry(entry, s).model == original.model
    s.close()


def test_failed_entry_does_not_rebuild(tmp_path: Path) -> None:
    from tokenhot_nb.sim import Faults

    s = make_session(tmp_path / "st", Recorder(Faults(fail_first={400: 1})), max_retries=0)
    with pytest.raises(E.BadRequestError):
        s.image("x", model="gpt-image-2")
    with pytest.raises(E.TokenhotError, match="did not finish"):
        s.history[-1].result(s)
    s.close()


def test_identical_calls_replay_as_themselves_in_order(tmp_path: Path) -> None:
    """Two identical calls in one notebook: the first replays the first recording, the second the second, so
    the replayed outputs (footers with their history numbers included) are the recorded ones."""
    s = make_session(tmp_path / "st", Recorder())
    first = s.chat("Tell me a joke", model="gpt-5.2", thread=False)
    second = s.chat("Tell me a joke", model="gpt-5.2", thread=False)
    s.close()
    assert first.entry_id != second.entry_id and first.entry.replay_key == second.entry.replay_key
    rec = Recorder()
    r = make_session(tmp_path / "st", rec, mode="replay")
    again1 = r.chat("Tell me a joke", model="gpt-5.2", thread=False)
    again2 = r.chat("Tell me a joke", model="gpt-5.2", thread=False)
    again3 = r.chat("Tell me a joke", model="gpt-5.2", thread=False)  # more calls than recordings: the last
    assert [again1.entry_id, again2.entry_id, again3.entry_id] == [first.entry_id, second.entry_id,
                                                                   second.entry_id]
    assert again1.html() == first.html() and again2.html() == second.html()  # footers included
    assert rec.requests == []
    r.close()


def test_replay_uses_the_newest_recording_run(tmp_path: Path) -> None:
    """A notebook recorded twice replays its latest run, in that run's order."""
    for _ in range(2):
        s = make_session(tmp_path / "st", Recorder())
        s.chat("Same question", model="gpt-5.2", thread=False)
        s.chat("Same question", model="gpt-5.2", thread=False)
        s.close()
    r = make_session(tmp_path / "st", Recorder(), mode="replay")
    ids = [e.id for e in r.history if e.kind == "chat"]
    assert [r.chat("Same question", model="gpt-5.2", thread=False).entry_id for _ in range(2)] == ids[2:]
    r.close()


def test_a_replay_run_records_no_refusal(recorded: dict) -> None:
    """A refusal (bad input, checked before any request) is recorded by the run that made it; a replay run of
    the same notebook records nothing, so a history view it shows is the one the recording run showed."""
    s = make_session(recorded["store"], Recorder(), mode="replay")
    n_entries = len(s.history)
    with pytest.raises(E.UnsupportedOptionError):
        s.chat("Hello", model="gpt-5.2", temperature=0.2)
    with pytest.raises(E.ReplayMissError):
        s.chat("never asked", model="gpt-5.2")
    assert len(s.history) == n_entries
    s.close()
    live = make_session(recorded["store"], Recorder())
    with pytest.raises(E.UnsupportedOptionError):
        live.chat("Hello", model="gpt-5.2", temperature=0.2)
    assert len(live.history) == n_entries + 1  # outside replay, refusals are recorded as before
    live.close()


def test_a_replay_refuses_bad_options_as_the_recording_run_did(recorded: dict) -> None:
    """A transcription in replay builds no call (that needs the audio), and its options were not checked: a
    translation given a language came back as a replay miss instead of the refusal the recording run showed."""
    offline = make_session(recorded["store"], Recorder())
    s = make_session(recorded["store"], Recorder(), mode="replay")
    for session in (offline, s):
        with pytest.raises(E.UnsupportedOptionError, match="takes no language"):
            session.translate(recorded["speak"], language="de")
        with pytest.raises(E.UnsupportedOptionError, match="format"):
            session.transcribe(recorded["speak"], format="docx")
    assert s.transcribe(recorded["speak"], format="srt").srt == recorded["transcribe"].srt  # hits still replay
    offline.close()
    s.close()


@pytest.mark.parametrize(("model", "options", "refusal"), [
    ("gpt-image-2", {"size": "7x7"}, "does not accept size"),
    ("gpt-image-2", {"quality": "ultra"}, "does not accept quality"),
    ("dall-e-2", {"two": True}, "edits at most 1 input image"),
    ("doubao-seedream-4-5-251128", {"mask": True}, "does not take a mask"),
])
def test_an_edit_in_replay_refuses_what_a_live_edit_refuses(recorded: dict, model: str, options: dict,
                                                            refusal: str) -> None:
    """An edit in replay builds no call (its inputs may be URLs it cannot fetch), so its options went unchecked:
    a size, a quality, an image count or a mask the model refuses came back as a replay miss."""
    opts = dict(options)
    images = [recorded["image"], recorded["edit"]] if opts.pop("two", False) else recorded["image"]
    if opts.pop("mask", False):
        opts["mask"] = recorded["image"]
    offline = make_session(recorded["store"], Recorder())
    s = make_session(recorded["store"], Recorder(), mode="replay")
    for session in (offline, s):
        with pytest.raises(E.UnsupportedOptionError, match=refusal):
            session.edit(images, "make it blue", model=model, **opts)
    assert s.edit(recorded["image"], "make it blue", model="gpt-image-2").sha256 == recorded["edit"].sha256
    offline.close()
    s.close()


def test_a_replayed_tasks_status_is_its_recorded_end(recorded: dict) -> None:
    """``task.status()`` on a task a replay returned asked the network, so replay stopped the notebook with a
    miss; it answers with no request: the statuses the recording saw, in turn (it said "succeeded" at once until
    they were kept), then the recorded end, which it keeps saying."""
    rec = Recorder()
    s = make_session(recorded["store"], rec, mode="replay")
    task = s.video("a fox runs", wait=False)
    seen = [task.status() for _ in range(len(recorded["video"].entry.response["states"]) + 2)]
    st = seen[-1]
    states = [x.state for x in seen]
    assert not seen[0].done and "succeeded" not in states[:states.index("succeeded")] and \
        set(states[states.index("succeeded"):]) == {"succeeded"} and states[-3:] == ["succeeded"] * 3
    assert st.done and st.state == "succeeded" and st.progress == 100 and task.last is st
    assert st.raw_status == recorded["video"].entry.response["status"]  # (the end's, not the create's)
    assert task.wait().sha256 == recorded["video"].sha256 and rec.requests == []
    never = VideoTask(s, "task_never_recorded", model=recorded["video"].model)
    with pytest.raises(E.ReplayMissError):
        never.status()
    s.close()


def test_a_replaying_sessions_history_ends_at_the_row_it_replayed_last(tmp_path: Path) -> None:
    """A re-run notebook's history cells show what they showed when recorded, not the later cells' calls."""
    live = make_session(tmp_path, Recorder())
    live.chat("first question", model="gpt-5.2", thread=False)
    live.image("a red fox", model="gpt-image-2")
    live.chat("second question", model="gpt-5.2", thread=False)
    live.close()

    s = make_session(tmp_path, Recorder(), mode="replay")
    assert len(s.history) == 3  # browsing before any replay: the whole store
    s.chat("first question", model="gpt-5.2", thread=False)
    assert [e.kind for e in s.history] == ["chat"] and len(s.history) == 1
    assert s.history[-1].text.startswith("first question")
    s.image("a red fox", model="gpt-image-2")
    assert [e.kind for e in s.history] == ["chat", "image"]
    assert len(s.history.filter(kind="chat")) == 1 and s.history.search("second").ids == []
    assert s.history.get(3).kind == "chat"  # a row named by its id is still there
    s.chat("second question", model="gpt-5.2", thread=False)
    assert len(s.history) == 3 and len(s.history.filter(kind="chat")) == 2
    assert len(make_session(tmp_path, Recorder()).history) == 3  # a session that is not replaying sees it all


def test_a_refusal_between_replayed_calls_shows_in_the_history_as_it_did(tmp_path: Path) -> None:
    live = make_session(tmp_path, Recorder())
    live.chat("hi", model="gpt-5.2", thread=False)
    with pytest.raises(E.UnknownModelError):
        live.chat("x", model="gpt-nope", thread=False)
    shown = [(e.kind, e.status) for e in live.history]
    live.close()
    s = make_session(tmp_path, Recorder(), mode="replay")
    s.chat("hi", model="gpt-5.2", thread=False)
    with pytest.raises(E.UnknownModelError):
        s.chat("x", model="gpt-nope", thread=False)
    assert [(e.kind, e.status) for e in s.history] == shown == [("chat", "ok"), ("chat", "error")]


def test_a_video_task_recorded_pending_replays_as_far_as_it_went(tmp_path: Path) -> None:
    """The call was recorded, but its task never finished there (a video never waited for): the replay said
    "still pending there: no answer was recorded", a miss, for a call the recording holds. It gives the task as
    the recording did (not done, the same display); its wait, with nothing more recorded, says in one line where
    the task stopped and how to finish it (a live resume), and still asks nothing of the network."""
    s = make_session(tmp_path / "st", Recorder())
    task = s.video("a boat", wait=False)
    shown = (repr(task), task.done, task._repr_mimebundle_())
    s.close()
    rec = Recorder()
    r = make_session(tmp_path / "st", rec, mode="replay")
    again = r.video("a boat", wait=False)
    assert isinstance(again, VideoTask) and (repr(again), again.done, again._repr_mimebundle_()) == shown
    with pytest.raises(E.TokenhotError) as info:
        again.wait(progress=False)
    err = info.value
    assert not isinstance(err, E.ReplayMissError) and err.partial is again
    assert "never finished" in err.message and f"#{task.entry.id}" in err.message and "\n" not in str(err)
    assert f"session.resume({task.task_id!r}).wait()" in (err.hint or "") and "live" in (err.hint or "")
    assert rec.requests == []
    r.close()


def test_an_image_inside_an_explicit_conversation_is_kept_replayed_by_content_and_written_as_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A message part's image bytes were recorded as ``{"bytes": n}``: the history lost the image, to_code() wrote
    a call the session refused ("needs `data` (bytes)"), and another image of the same length replayed this
    answer. The part keeps the image as an artifact, as ``images=`` does."""
    import sys
    import types

    from PIL import Image

    def png(colour: tuple[int, int, int]) -> bytes:
        import io

        buf = io.BytesIO()
        Image.new("RGB", (16, 16), colour).save(buf, "PNG")
        return buf.getvalue()

    red, blue = png((200, 0, 0)), png((201, 0, 0))
    assert len(red) == len(blue) and red != blue

    def ask(data: bytes) -> list[dict]:
        return [{"role": "user", "content": [{"type": "text", "text": "what colour?"},
                                             {"type": "image", "data": data, "mime": "image/png"}]}]

    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    first = s.chat(ask(red), model="gpt-5.2", thread=False)
    sent = rec.json(-1)
    code = s.history[-1].to_code()
    s.close()
    again = Recorder()
    fresh = make_session(tmp_path / "st", again)
    module = types.ModuleType("tokenhot_nb")
    module.session = lambda: fresh  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tokenhot_nb", module)
    exec(compile(code, "<to_code>", "exec"), {})
    monkeypatch.undo()
    assert again.json(-1) == sent
    fresh.close()
    r = make_session(tmp_path / "st", Recorder(), mode="replay")
    assert r.chat(ask(red), model="gpt-5.2", thread=False).text == first.text
    with pytest.raises(E.ReplayMissError):
        r.chat(ask(blue), model="gpt-5.2", thread=False)
    r.close()


def _seen(into: list[tuple[str, int, str | None]]) -> Callable[[TaskStatus], None]:
    return lambda st: into.append((st.state, st.progress, st.raw_status))


def _video_cells(s: Session) -> dict[str, Any]:
    """The video part of a notebook: a wait with on_progress, a task made with wait=False then polled and waited
    for, and a wait stopped after two statuses then resumed."""
    out: dict[str, Any] = {"waited": [], "later": [], "stopped": [], "resumed": []}
    out["video"] = s.video("a heron lands", on_progress=_seen(out["waited"]), progress=False).sha256
    task = s.video("a crane takes off", wait=False)
    out["created"] = (task.done, task.entry.status, task.last.state if task.last else None,
                      task.last.progress if task.last else None)
    first = task.status()
    out["first poll"] = (first.state, first.progress)
    out["later video"] = task.wait(progress=False, on_progress=_seen(out["later"])).sha256
    out["after"] = (task.done, task.entry.status)

    def stop_after_two(st: TaskStatus) -> None:
        out["stopped"].append((st.state, st.progress, st.raw_status))
        if len(out["stopped"]) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        s.video("clouds over mountains", on_progress=stop_after_two, progress=False)
    task_id = [e for e in s.history.filter(kind="video")][-1].response["task_id"]
    out["interrupt"] = str(info.value).replace(task_id, "<task>")
    resumed = s.resume(task_id)
    out["resumed done"] = resumed.done
    out["resumed video"] = resumed.wait(progress=False, on_progress=_seen(out["resumed"])).sha256

    def broken(st: TaskStatus) -> None:
        raise ValueError("no such field")

    with pytest.raises(E.TokenhotError) as failed:
        s.video("a broken callback", on_progress=broken, progress=False)
    out["broken"] = (type(failed.value).__name__, failed.value.message)
    s.resume([e for e in s.history.filter(kind="video")][-1].response["task_id"]).wait(progress=False)

    async def stopped_async() -> None:
        await s.avideo("rain on a window", on_progress=stop_after_two, progress=False)

    out["stopped"].clear()
    with pytest.raises(KeyboardInterrupt) as info:
        asyncio.run(stopped_async())
    out["async interrupt"] = ("resume(" in str(info.value), len(out["stopped"]))
    s.resume([e for e in s.history.filter(kind="video")][-1].response["task_id"]).wait(progress=False)
    return out


def test_a_replayed_video_plays_back_the_statuses_its_recording_saw(tmp_path: Path) -> None:
    """Replay answered a video call as finished at once: ``wait=False`` said the task was done, ``on_progress`` was
    never called (a callback that stops the wait never stopped it) and no bar showed, so the video tutorial did not
    re-run as recorded. The row keeps the statuses its task was seen in; a replay plays them back, no network."""
    with make_session(tmp_path / "st", Recorder(), poll_interval=0.05) as s:
        recorded = _video_cells(s)
    assert len(recorded["waited"]) >= 3 and recorded["created"][:2] == (False, "pending")
    assert len(recorded["stopped"]) == 2 and recorded["resumed"] and recorded["resumed done"] is False
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay", poll_interval=30) as r:  # (a replay never sleeps)
        t0 = time.monotonic()
        replayed = _video_cells(r)
        assert time.monotonic() - t0 < 20
    assert replayed == recorded and rec.requests == []


def test_a_video_row_without_recorded_statuses_replays_done_at_once(tmp_path: Path) -> None:
    """A store written before the statuses were kept: its video rows replay as they did (done at once)."""
    with make_session(tmp_path / "st", Recorder()) as s:
        v = s.video("a fox runs", progress=False)
        assert v.entry is not None and v.entry.response["states"][-1][0] == "succeeded"
        old = {k: x for k, x in v.entry.response.items() if k != "states"}
        s.store.update(v.entry_id, response=old)
    seen: list[tuple[str, int, str | None]] = []
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        task = r.video("a fox runs", wait=False)
        assert task.done and task.status().state == "succeeded"
        assert r.video("a fox runs", on_progress=_seen(seen)).sha256 == v.sha256 and seen == []


def test_a_history_loaded_without_its_artifacts_says_what_helps_in_replay_mode(tmp_path: Path) -> None:
    """An export made without its artifacts, loaded into a store and replayed: the missing file said "rerun the
    call with entry.rerun()", which in replay mode is looked up again, the same miss. Replaying, it says to bring
    the artifacts along or record the call again in a live or offline session; elsewhere it still says rerun."""
    from tokenhot_nb.history import History

    with make_session(tmp_path / "st", Recorder()) as s:
        s.image("a red fox", model="gpt-image-2", size="1024x1024")
        s.history.export(tmp_path / "h.json")
    History.load(tmp_path / "h.json", tmp_path / "loaded").store.close()
    rec = Recorder()
    with make_session(tmp_path / "loaded", rec, mode="replay") as r:
        with pytest.raises(E.TokenhotError, match="is missing from") as info:
            r.image("a red fox", model="gpt-image-2", size="1024x1024")
        hint = info.value.hint or ""
        assert "include_artifacts=True" in hint and "live or offline" in hint and "looked up, not made" in hint
        assert rec.requests == []
    with make_session(tmp_path / "loaded", Recorder()) as o, pytest.raises(E.TokenhotError) as info:
        o.history[-1].result()
    assert "rerun the call with entry.rerun()" in (info.value.hint or "")


_NO_OUTPUT = {"model": "m", "started": 1.0, "status": "ok"}


@pytest.mark.parametrize("record,said", [
    ({**_NO_OUTPUT, "kind": "video"}, "finished but holds no stored video"),
    ({**_NO_OUTPUT, "kind": "speak"}, "finished but holds no stored audio"),
    ({**_NO_OUTPUT, "kind": "chat", "response": {"tool_calls": 5}}, "tool calls of history entry #1 are not"),
    ({**_NO_OUTPUT, "kind": "chat", "response": {"tool_calls": [{"id": "c", "name": "f", "arguments": "{}"}]}},
     "arguments as an object"),
    ({**_NO_OUTPUT, "kind": "chat", "response": {"choices": "two"}}, "choices of history entry #1 are not a list"),
    ({**_NO_OUTPUT, "kind": "chat", "response": {"choices": [{"text": "b", "tool_calls": 5}]}},
     "tool calls of history entry #1 are not"),
    ({**_NO_OUTPUT, "kind": "video", "status": "pending", "response": {}}, "pending video task with no task id"),
])
def test_an_imported_row_that_cannot_be_rebuilt_is_named_damaged(tmp_path: Path, record: dict, said: str) -> None:
    """An export is untrusted and its fields are checked one by one, not against each other: a finished video
    row with no video was a bare IndexError from ``result()`` (and from a replay that hit it), tool calls that are
    not a list of calls a TypeError from ``dict()``, and a pending video with no task id a task named 'None'."""
    import json

    from tokenhot_nb.history import History
    from tokenhot_nb.results._rebuild import RebuildError

    (tmp_path / "h.jsonl").write_text(json.dumps(record) + "\n")
    History.load(tmp_path / "h.jsonl", tmp_path / "loaded").store.close()
    with make_session(tmp_path / "loaded", Recorder()) as s, pytest.raises(RebuildError, match=said) as info:
        s.history[-1].result()
    assert info.value.why == "damaged" and "\n" not in str(info.value)
