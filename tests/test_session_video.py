"""Video tasks: wait, no-wait, resume after a restart, interrupt, failure, deadline, rendering."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from _session_support import KEY, Recorder, make_session
from _video_support import SeveralVideos

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb.client import RetryPolicy
from tokenhot_nb.families._types import TaskStatus
from tokenhot_nb.results import VideoResult, VideoTask
from tokenhot_nb.sim import Faults


def test_video_wait_downloads_and_extracts_a_poster(s: Session, rec: Recorder) -> None:
    seen: list[TaskStatus] = []
    res = s.video("a cat surfing", duration=5, on_progress=seen.append, progress=False)
    assert isinstance(res, VideoResult)
    assert res.path.is_file() and res.path.is_relative_to(s.store.root) and res.mime == "video/mp4"
    assert res.poster is not None and res.poster.read_bytes()[:3] == b"\xff\xd8\xff"
    assert res.poster_pil() is not None and (res.duration or 0) > 0
    assert seen and seen[-1].state == "succeeded" and len(rec.requests) >= 3
    e = res.entry
    assert e.status == "ok" and e.kind == "video" and e.response["task_id"] == res.task_id
    assert [o["role"] for o in e.outputs] == ["video", "poster"]
    assert e.params["prompt"] == "a cat surfing" and e.params["duration"] == 5
    assert rec.posts("/video/generations")[0]["path"] == "/v1/video/generations"


def test_video_player_references_the_file(s: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = s.video("waves", progress=False)
    data, meta = res._repr_mimebundle_()
    html = data["text/html"]
    assert "<video" in html and "controls" in html and "data:video" not in html
    assert len(html) < 60_000  # only the small poster is inline, never the video
    assert 'src="store/artifacts/' in html and "poster=" in html
    assert meta["tokenhot"]["entry_id"] == res.entry_id and meta["tokenhot"]["model"] == res.model
    saved = res.save(tmp_path / "out")
    assert saved.read_bytes() == res.path.read_bytes()


def test_video_no_wait_returns_a_task(s: Session) -> None:
    task = s.video("a slow sunrise", wait=False)
    assert isinstance(task, VideoTask) and task.task_id.startswith("task_")
    assert task.entry.status == "pending" and task.entry.response["task_id"] == task.task_id
    assert "task.wait()" in repr(task) and task.task_id in task._repr_mimebundle_()[0]["text/html"]
    st = task.status()
    assert st.task_id == task.task_id and st.state in ("pending", "running", "succeeded")
    res = task.wait(progress=False)
    assert isinstance(res, VideoResult) and task.result() is res
    assert s.history.get(task.entry_id).status == "ok"


def test_resume_after_restart(tmp_path: Path) -> None:
    server = Recorder()  # the simulated server outlives the "kernel"
    s1 = make_session(tmp_path / "st", server)
    task = s1.video("mountains at night", wait=False)
    s1.close()  # "kernel restart": a new session on the same store finds the task by id
    s2 = make_session(tmp_path / "st", server)
    resumed = s2.resume(task.task_id)
    assert resumed.entry_id == task.entry_id and resumed.model == task.model
    res = resumed.wait(progress=False)
    assert isinstance(res, VideoResult) and res.entry_id == task.entry_id
    assert s2.history.get(task.entry_id).status == "ok"
    # resuming a finished task is instant and needs no request
    again = s2.resume(task.task_id)
    assert again.done and again.wait().sha256 == res.sha256
    s2.close()


def test_interrupt_leaves_a_resumable_pending_entry(tmp_path: Path) -> None:
    rec = Recorder()
    s1 = make_session(tmp_path / "st", rec)

    def stop(st: TaskStatus) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        s1.video("a long journey", on_progress=stop, progress=False)
    msg = str(info.value)
    e = s1.history[-1]
    task_id = e.response["task_id"]
    assert e.status == "pending" and task_id
    assert f"session.resume({task_id!r})" in msg and "history[i].resume()" in msg
    # the background loop survived the interrupt
    assert s1.chat("still alive?", model="gpt-5.2").text
    s1.close()
    s2 = make_session(tmp_path / "st", rec)
    task = s2.history.get(e.id).resume(s2)
    res = task.wait(progress=False)
    assert isinstance(res, VideoResult) and s2.history.get(e.id).status == "ok"
    s2.close()


def test_interrupt_in_async_wait(s: Session) -> None:
    import asyncio

    def stop(st: TaskStatus) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt, match="resume"):
        asyncio.run(s.avideo("x", on_progress=stop, progress=False))
    assert s.history[-1].status == "pending"


def test_a_stop_that_lands_as_a_status_comes_in_ends_the_wait(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C cancels the wait on the loop; one that landed in the loop turn where a status poll finished was lost
    (``asyncio.wait_for``, the poll's deadline, returned the status instead, before Python 3.12): the wait polled on
    behind the user's back, its row never said it was stopped, and a replay played the task as unfinished instead of
    stopping where the recording had. Here the cancel lands in that turn every time."""
    import asyncio
    import concurrent.futures

    from tokenhot_nb._session import video as video_mod
    from tokenhot_nb.client._loop import submit

    real_poll = video_mod.poll_task
    polled: list[str] = []
    waiting: list[asyncio.Task[object]] = []

    async def poll(session: Session, task: VideoTask) -> TaskStatus:
        st = await real_poll(session, task)
        polled.append(st.state)
        if len(polled) == 2:
            waiting[0].cancel()  # (nothing awaited between this and the status returned: the same loop turn)
        return st

    async def wait(s: Session) -> object:
        task = asyncio.current_task()
        assert task is not None
        waiting.append(task)
        return await s.avideo("a slow sunrise", progress=False)

    monkeypatch.setattr(video_mod, "poll_task", poll)
    with make_session(tmp_path / "st", Recorder(Faults(video_steps=50)), poll_interval=0.01) as s:
        with pytest.raises(concurrent.futures.CancelledError):
            submit(wait(s)).result(30)
        assert len(polled) == 2  # (the wait ended there: it polled no more)
        e = s.history[-1]
        assert e.status == "pending" and e.response["ends"] == [[3, {"error": "KeyboardInterrupt"}]]


def test_failed_task_raises_with_the_vendor_reason(s: Session, rec: Recorder) -> None:
    rec.set_faults(Faults(video_failure=True))
    with pytest.raises(E.TaskFailedError) as info:
        s.video("something forbidden", progress=False)
    assert info.value.reason and info.value.reason in str(info.value)
    e = s.history[-1]
    assert e.status == "error" and e.error["error"] == "TaskFailedError"


def test_deadline_leaves_the_task_pending(tmp_path: Path) -> None:
    rec = Recorder(Faults(video_steps=50))
    s = make_session(tmp_path / "st", rec, poll_interval=0.01)
    task = s.video("slow", wait=False)
    with pytest.raises(E.APITimeoutError, match="resume"):
        task.wait(timeout=0.05, progress=False)
    assert s.history.get(task.entry_id).status == "pending"
    s.close()


def test_resume_unknown_task_records_it(s: Session) -> None:
    task = s.video("first", wait=False)
    other = make_session(Path(str(s.store.root) + "-other"), s._transport)
    t2 = other.resume(task.task_id, model=task.model)
    assert t2.entry.status == "pending" and t2.wait(progress=False).path.is_file()
    other.close()


def test_image_to_video_input(s: Session, rec: Recorder) -> None:
    img = s.image("a still lake", model="gpt-image-2")
    res = s.video("the lake ripples", model="doubao-seedance-2.0", image=img, progress=False)
    assert res.entry.params["image"] == {"artifact": img.sha256, "mime": img.mime}
    body = rec.json(0, "/video/generations")
    assert "data:image" in str(body)


def test_await_a_task_from_another_loop(s: Session) -> None:
    import asyncio

    async def main() -> VideoResult:
        task = await s.avideo("a calm sea", wait=False)
        assert isinstance(task, VideoTask)
        st = await task.astatus()
        assert st.task_id == task.task_id
        again = await s.aresume(task.task_id)
        return await again

    res = asyncio.run(main())
    assert isinstance(res, VideoResult) and res.entry.status == "ok"


def test_compare_videos(s: Session) -> None:
    cmp = s.compare("a bouncing ball", models=["doubao-seedance-2.0-fast", "happyhorse-1.0-t2v"])
    assert cmp.of == "video" and all(isinstance(r, VideoResult) for r in cmp.results.values())
    assert cmp._repr_mimebundle_()[0]["text/html"].count("<video") == 2


def test_video_to_video_takes_an_earlier_result_by_its_link(s: Session, rec: Recorder) -> None:
    """§5.1: Seedance takes input videos and audios by URL only (images may be data URLs). An earlier result went
    as a data:video/ URL, which the service refuses; it now goes by the link its task answered."""
    first = s.video("a street", progress=False)
    assert first.url and first.url.startswith("http") and first.entry.response["url"] == first.url
    res = s.video("the same street at night", model="doubao-seedance-2.0-V2V", video=first, progress=False)
    assert res.entry.params["video"] == {"url": first.url}
    body = rec.json(-1, "/video/generations")
    assert [c["video_url"]["url"] for c in body["content"] if c["type"] == "video_url"] == [first.url]
    assert "data:video" not in rec.posts("/video/generations")[-1]["body"].decode()


def test_a_local_video_or_audio_for_seedance_is_refused_before_any_request(
        s: Session, rec: Recorder, tmp_path: Path) -> None:
    clip = s.video("a street", progress=False)
    local = tmp_path / "clip.mp4"
    local.write_bytes(clip.path.read_bytes())
    speech = s.speak("hello there", model="gemini-2.5-flash-preview-tts")
    n = len(rec.requests)
    with pytest.raises(E.InputError, match="only as public http") as info:
        s.video("snow", model="doubao-seedance-2.0-V2V", video=local, progress=False)
    assert "https://" in (info.value.hint or "")
    with pytest.raises(E.InputError, match="input audios only as public http"):
        s.video("a song", model="doubao-seedance-2.0", audio=speech, progress=False)
    assert len(rec.requests) == n  # nothing was sent, nothing was paid


def test_video_image_roles(s: Session, rec: Recorder) -> None:
    a, b = s.image("dawn", model="gpt-image-2"), s.image("dusk", model="gpt-image-2")
    res = s.video("from dawn to dusk", model="doubao-seedance-2.0", images=[
        {"image": a, "role": "first_frame"}, {"image": b, "role": "last_frame"}], progress=False)
    assert res.entry.params["images"] == [
        {"image": {"artifact": a.sha256, "mime": a.mime}, "role": "first_frame"},
        {"image": {"artifact": b.sha256, "mime": b.mime}, "role": "last_frame"},
    ]
    body = rec.json(-1, "/video/generations")
    roles = [c.get("role") for c in body["content"]]
    assert roles == [None, "first_frame", "last_frame"] and body["content"][0]["type"] == "text"
    from tokenhot_nb import set_session

    set_session(s)
    ns: dict = {}
    exec(res.entry.to_code(), ns)
    assert ns["result"].entry.replay_key == res.entry.replay_key


def test_named_video_inputs_say_what_each_image_is_for(s: Session, rec: Recorder) -> None:
    """``last_frame=``, ``references=`` and ``audio=`` (``%%th_video --last/--ref/--audio``) were missing from the
    Python API: a last frame needed ``images=[{'image': x, 'role': 'last_frame'}]``, known from a code comment."""
    first, last, ref, sound = (f"https://cdn.example.com/{n}" for n in ("first.png", "last.png", "ref.png", "a.mp3"))

    def roles() -> list[tuple[str, str | None]]:
        return [(c["type"], c.get("role")) for c in rec.json(-1, "/video/generations")["content"]][1:]

    task = s.video("dawn to dusk", model="doubao-seedance-2.0", image=first, last_frame=last, wait=False)
    assert roles() == [("image_url", "first_frame"), ("image_url", "last_frame")]
    assert task.entry.params["images"] == [{"image": {"url": first}, "role": "first_frame"},
                                           {"image": {"url": last}, "role": "last_frame"}]
    s.video("in this style", model="doubao-seedance-2.0", references=[first, ref], audio=sound, wait=False)
    assert roles() == [("image_url", "reference_image"), ("image_url", "reference_image"),
                       ("audio_url", "reference_audio")]
    s.video("in this style", model="doubao-seedance-2.0", references=ref, wait=False)  # one: no list needed
    assert roles() == [("image_url", "reference_image")]
    s.video("untagged", model="doubao-seedance-2.0", images=[first, ref], wait=False)  # why references are tagged
    assert roles() == [("image_url", "first_frame"), ("image_url", "last_frame")]
    sent = len(rec.posts("/video/generations"))
    with pytest.raises(E.InputError, match=r"last_frame= needs image= \(the first frame\) too"):
        s.video("no first frame", model="doubao-seedance-2.0", last_frame=last, wait=False)
    assert len(rec.posts("/video/generations")) == sent
    for word in ("last_frame", "references", "audio", "role"):
        assert word in (Session.video.__doc__ or "")


def test_resume_in_a_new_kernel_with_a_new_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #12: the simulator's tasks live on disk, so a new kernel (new Session, new in-process simulator)
    resumes a pending task offline; a task id the service does not know says so."""
    monkeypatch.setenv("TOKENHOT_SIM_TASKS", str(tmp_path / "sim-tasks"))
    s1 = make_session(tmp_path / "st", None)
    task = s1.video("mountains at night", model="veo3.1", wait=False)
    s1.close()
    s2 = make_session(tmp_path / "st", None)  # nothing shared but the folders on disk
    res = s2.resume(task.task_id).wait(progress=False)
    assert isinstance(res, VideoResult) and (res.duration or 0) == pytest.approx(8, abs=0.3)
    with pytest.raises(E.NotFoundError, match=r"No video task with id 'task_nope' on .*wrong id, key or base URL"):
        s2.resume("task_nope").wait(progress=False)
    s2.close()


def test_quota_and_seconds_are_recorded(s: Session) -> None:
    res = s.video("rain", model="MiniMax-Hailuo-2.3", duration=10, progress=False)
    from tokenhot_nb.sim._pricing import video_task_quota

    assert res.entry.response["quota"] == video_task_quota("MiniMax-Hailuo-2.3", 10, "768P") > 0  # data.quota
    assert res.entry.usage["video_seconds"] == pytest.approx(10, abs=0.3)  # Hailuo reports none: the clip's own


def test_video_input_and_public_url_families(s: Session, rec: Recorder) -> None:
    clip = s.video("a walk", model="doubao-seedance-2.0", duration=4, progress=False)
    v2v = s.video("make it snow", model="doubao-seedance-2.0-V2V", video=clip, duration=4, progress=False)
    body = rec.json(-1, "/video/generations")
    assert body["content"][1]["type"] == "video_url" and body["content"][1]["video_url"]["url"] == clip.url
    assert v2v.entry.params["video"] == {"url": clip.url}
    img = s.image("a fox", model="gpt-image-2")
    n = len(rec.requests)
    with pytest.raises(E.InputError, match="only as public http"):
        s.video("run", model="kling-v3", image=img)
    assert len(rec.requests) == n  # refused before any request


def test_waiting_statuses_show_as_pending_then_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """§10.3: a task goes SUBMITTED → QUEUED → IN_PROGRESS → SUCCESS; the client calls the first two pending, its
    progress never goes back, and the bar says what the task is doing."""
    from IPython import display as ipd

    from tokenhot_nb import _progress

    shown: list[str] = []

    class Handle:
        def update(self, obj: object) -> None:
            shown.append(str(getattr(obj, "data", obj)))

    def fake_display(obj: object, display_id: bool = False) -> Handle:
        shown.append(str(getattr(obj, "data", obj)))
        return Handle()

    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(_progress, "_MIN_INTERVAL", 0.0)
    monkeypatch.setattr(ipd, "display", fake_display)
    seen: list[TaskStatus] = []
    with make_session(tmp_path / "st", Recorder(Faults(video_steps=5))) as s:
        res = s.video("a red kite", model="doubao-seedance-2.0", duration=4, on_progress=seen.append, progress=None)
    assert isinstance(res, VideoResult)
    assert [st.raw_status for st in seen] == ["SUBMITTED", "QUEUED", "IN_PROGRESS", "IN_PROGRESS", "SUCCESS"]
    assert [st.state for st in seen] == ["pending", "pending", "running", "running", "succeeded"]
    progress = [st.progress for st in seen]
    assert progress[0] == 0 and progress == sorted(progress) and progress[-1] == 100
    notes = [next((w for w in ("pending", "running", "succeeded") if f"· {w} ·" in h), None) for h in shown]
    assert "pending" in notes and "running" in notes and notes.index("pending") < notes.index("running")
    assert "0% · pending" in " ".join(shown)  # a waiting task shows no made-up progress


def test_a_not_started_task_is_pending_and_finishes(tmp_path: Path) -> None:
    """§10.3: a task first polled as NOT_START is waiting like SUBMITTED and QUEUED, and the call still ends with
    the clip."""
    seen: list[TaskStatus] = []
    with make_session(tmp_path / "st", Recorder(Faults(video_steps=6))) as s:
        res = s.video("a red kite", model="doubao-seedance-2.0", duration=4, on_progress=seen.append, progress=None)
        assert isinstance(res, VideoResult) and res.path.is_file()
        assert s.history[-1].status == "ok"
    assert [st.raw_status for st in seen][:3] == ["NOT_START", "SUBMITTED", "QUEUED"]
    assert [st.state for st in seen] == ["pending"] * 3 + ["running"] * 2 + ["succeeded"]
    assert [st.progress for st in seen][:2] == [0, 0]


def test_the_create_answers_billing_multipliers_are_kept_with_the_task(s: Session) -> None:
    """§10.5: ``X-New-Api-Other-Ratios`` from the create's answer stays with the task's recorded response."""
    task = s.video("hail", model="doubao-seedance-2.0", duration=5, resolution="1080p", wait=False)
    assert isinstance(task, VideoTask) and task.entry is not None
    ratios = {"seconds": 5.0, "size": 2.0, "video_input": 1.0}
    assert task.entry.response["other_ratios"] == ratios
    res = task.wait(progress=False)
    assert res.entry_id is not None
    done = s.history.get(res.entry_id)
    assert done.status == "ok" and done.response["other_ratios"] == ratios and done.response["quota"] > 0


class BadPolls(Recorder):
    """The simulator, with the next ``bad`` status requests answered by ``answer`` (a CDN's page, an empty body…)."""

    def __init__(self, answer: httpx.Response, bad: int = 0) -> None:
        super().__init__(Faults(video_steps=3))
        self.answer, self.bad, self.polls = answer, bad, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and re.fullmatch(r"/v1/(video/generations|videos)/[^/]+", request.url.path):
            self.polls += 1
            if self.bad:
                self.bad -= 1
                return httpx.Response(self.answer.status_code, headers=self.answer.headers,
                                      content=self.answer.content)
        return await super().handle_async_request(request)


async def _no_sleep(delay: float) -> None:
    return None


HTML = b"<html><body><h1>502 Bad Gateway</h1>cloudflare</body></html>"
PAGES = {"html-200": httpx.Response(200, headers={"content-type": "text/html"}, content=HTML),
         "html-502": httpx.Response(502, headers={"content-type": "text/html"}, content=HTML),
         "empty-200": httpx.Response(200, headers={"content-type": "application/json"}, content=b""),
         # the relay could not read the task upstream (reference §1.4.3), said with 200: not a failed task
         "fetch-failed-200": httpx.Response(200, json={"code": "fail_to_fetch_task", "message": "upstream read failed",
                                                       "data": None})}


def _polling_session(tmp_path: Path, relay: BadPolls) -> Session:
    s = make_session(tmp_path / "st", relay)
    s.client.retry = RetryPolicy(max_retries=2, sleep=_no_sleep)  # (the client's own retries of a 502: not slept)
    return s


@pytest.mark.parametrize("page", list(PAGES))
def test_a_transient_bad_poll_does_not_end_the_wait(tmp_path: Path, page: str) -> None:
    """A CDN's page (or an empty body) instead of one status: polled again at the next interval, twice in a row at
    most with the default max_retries=2 (a 502 is first retried by the client itself, three requests a poll)."""
    attempts = 3 if page == "html-502" else 1
    relay = BadPolls(PAGES[page], bad=2 * attempts)
    with _polling_session(tmp_path, relay) as s:
        seen: list[TaskStatus] = []
        res = s.video("a kite over the sea", on_progress=seen.append, progress=False)
        assert isinstance(res, VideoResult) and res.path.is_file()
        assert s.history[-1].status == "ok" and s.history[-1].cost is not None
    assert seen[-1].state == "succeeded" and relay.polls == 2 * attempts + len(seen)


@pytest.mark.parametrize("page", list(PAGES))
def test_bad_polls_in_a_row_end_the_wait_with_the_resume_hint(tmp_path: Path, page: str) -> None:
    attempts = 3 if page == "html-502" else 1
    relay = BadPolls(PAGES[page], bad=10_000)
    with _polling_session(tmp_path, relay) as s:
        with pytest.raises((E.APIError, E.StreamError)) as info:
            s.video("a kite over the sea", progress=False)
        row = s.history[-1]
        task_id = row.response["task_id"]
        assert relay.polls == 3 * attempts  # three bad polls in a row, then the clear error
        assert row.status == "pending" and len(s.history) == 1
        assert f"session.resume({task_id!r})" in str(info.value) and "3 status polls in a row failed" in str(info.value)
        relay.bad = 0  # the relay is well again: the paid task is fetched, no new one made
        res = s.resume(task_id).wait(progress=False)
        assert res.path.is_file() and s.history.get(row.id).status == "ok" and len(s.history) == 1
        assert len(relay.posts()) == 1


GONE = httpx.Response(400, json={"code": "task_not_exist", "message": "task_not_exist", "data": None})


@pytest.mark.parametrize("gone", [GONE, httpx.Response(404, json={"error": {"message": "not found"}})])
def test_a_task_just_created_that_the_relay_does_not_know_yet_is_polled_again(tmp_path: Path,
                                                                               gone: httpx.Response) -> None:
    """new-api writes the task after it answers the create: the first poll may not find it. Polled again, the paid
    task is fetched; never found, the row stays pending with the way to look again (and nothing is created twice)."""
    relay = BadPolls(gone, bad=1)
    with _polling_session(tmp_path, relay) as s:
        res = s.video("a kite over the sea", progress=False)
        assert res.path.is_file() and s.history[-1].status == "ok" and len(relay.posts()) == 1
    relay = BadPolls(gone, bad=10_000)
    with _polling_session(tmp_path / "2", relay) as s:
        with pytest.raises(E.APIError, match="was created, but the relay did not know it") as info:
            s.video("a kite over the sea", progress=False)
        assert not isinstance(info.value, E.NotFoundError)  # (not "no such task": the magic's panel says resume)
        row = s.history[-1]
        task_id = row.response["task_id"]
        assert relay.polls == 3 and row.status == "pending" and f"session.resume({task_id!r})" in str(info.value)
        assert len(relay.posts()) == 1


def _others_status(url: str) -> httpx.Response:
    return httpx.Response(200, json={"code": "success", "data": {
        "id": 7, "task_id": "task_someone_elses", "status": "SUCCESS", "progress": "100%", "result_url": url}})


def test_a_poll_answered_with_another_tasks_status_is_not_taken_for_this_ones(tmp_path: Path) -> None:
    """A relay that mixes tasks up (a cache, a routing slip) answers the poll with another task, done: its video
    is not downloaded as this task's (nor recorded as its result); the poll is made again."""
    relay = BadPolls(_others_status("http://cdn.example.com/not-yours.mp4"), bad=1)
    with _polling_session(tmp_path, relay) as s:
        seen: list[TaskStatus] = []
        res = s.video("a kite over the sea", on_progress=seen.append, progress=False)
        assert isinstance(res, VideoResult) and s.history[-1].status == "ok"
        assert not any("not-yours" in r["path"] for r in relay.requests)
        assert "not-yours" not in str(s.history[-1].response)
    assert relay.polls == 1 + len(seen)  # (the mixed-up answer was shown to no one)
    relay = BadPolls(_others_status("http://cdn.example.com/not-yours.mp4"), bad=10_000)
    with _polling_session(tmp_path / "2", relay) as s:
        with pytest.raises(E.APIError, match="another task's status") as info:
            s.video("a kite over the sea", progress=False)
        task_id = s.history[-1].response["task_id"]
        assert s.history[-1].status == "pending" and f"session.resume({task_id!r})" in str(info.value)


def test_a_task_the_service_does_not_know_still_fails_at_once(tmp_path: Path) -> None:
    """A resumed id with no create behind it (a typo): the first not-found ends the wait, the row says so."""
    relay = BadPolls(GONE, bad=10_000)
    with _polling_session(tmp_path, relay) as s:
        with pytest.raises(E.NotFoundError, match="No video task with id"):
            s.resume("task_typo").wait(progress=False)
        assert relay.polls == 1 and s.history[-1].status == "error"


@pytest.mark.parametrize("how", ["sync", "async"])
def test_an_on_progress_callback_that_raises_names_the_task_and_how_to_resume(s: Session, how: str) -> None:
    import asyncio

    def broken(st: TaskStatus) -> None:
        raise ValueError(f"my bug, with the key {KEY} in it")

    with pytest.raises(E.TokenhotError) as info:
        if how == "sync":
            s.video("a kite over the sea", on_progress=broken, progress=False)
        else:
            asyncio.run(s.avideo("a kite over the sea", on_progress=broken, progress=False))
    row = s.history[-1]
    task_id = row.response["task_id"]
    err = info.value
    assert err.message.startswith("Your on_progress callback raised ValueError: my bug, with the key sk-****")
    assert f"session.resume({task_id!r})" in err.hint and KEY not in str(err)
    assert isinstance(err.__cause__, ValueError)  # the callback's own frame stays in .details(), awaited or not
    assert "broken" in err.details() and "CancelledError" not in err.details()
    assert len(s.history) == 1 and row.status == "pending"  # the paid task is kept, no second row
    for _ in range(200):  # the wait was cancelled on the loop, which notes why in the row as it ends
        if s.history.get(row.id).error:
            break
        time.sleep(0.01)
    assert s.history.get(row.id).error["message"].startswith("Your on_progress callback raised ValueError")
    assert s.resume(task_id).wait(progress=False).path.is_file()


def test_a_slow_on_progress_callback_that_raises_stops_the_wait_at_its_status(s: Session) -> None:
    """The wait goes on only once the caller has run on_progress: a callback slower than the polls that then
    raises stops the wait where it was (the row pending, saying why), not after the wait had finished the task
    behind its back (the row ok, and the error saying it was left pending)."""
    seen: list[str] = []

    def slow(st: TaskStatus) -> None:
        seen.append(st.state)
        time.sleep(0.3)
        raise ValueError("stop here")

    with pytest.raises(E.TokenhotError, match="Your on_progress callback raised ValueError: stop here"):
        s.video("a kite over the sea", on_progress=slow, progress=False)
    row_id = s.history[-1].id
    for _ in range(300):
        if s.history.get(row_id).error:
            break
        time.sleep(0.01)
    row = s.history.get(row_id)
    assert len(seen) == 1 and row.status == "pending"
    assert row.error["message"].startswith("Your on_progress callback raised ValueError")


@pytest.mark.parametrize("content_type", ['video/mp4x"><script>alert(1)</script>', "video/mp4 garbage here",
                                          "video/" + "x" * 300])
def test_a_garbled_content_type_is_not_copied_into_the_history_as_the_videos_type(
        tmp_path: Path, content_type: str) -> None:
    """The file host's Content-Type header was kept as the video's type when it merely started with ``video/``:
    quotes and markup landed in the row's outputs and in ``VideoResult.mime``. A type that is not a well-formed
    media type now falls back to the one asked for."""

    class Garbled(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            resp = await super().handle_async_request(request)
            if request.url.path.endswith("/content"):
                body = await resp.aread()
                return httpx.Response(200, content=body, headers={"content-type": content_type})
            return resp

    s = make_session(tmp_path / "st", Garbled())
    res = s.video("waves", progress=False)
    assert res.mime == "video/mp4" and res.path.suffix == ".mp4"
    assert [o["mime"] for o in s.history[-1].outputs if o["role"] == "video"] == ["video/mp4"]
    s.close()


def test_a_well_formed_video_type_from_the_file_host_is_kept(tmp_path: Path) -> None:
    class Webm(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            resp = await super().handle_async_request(request)
            if request.url.path.endswith("/content"):
                return httpx.Response(200, content=await resp.aread(), headers={"content-type": "video/quicktime"})
            return resp

    s = make_session(tmp_path / "st", Webm())
    assert s.video("waves", progress=False).mime == "video/quicktime"
    s.close()


def test_a_video_past_the_download_limit_says_to_raise_it_before_resuming(tmp_path: Path) -> None:
    """The limit's advice was replaced by "resume it with session.resume(task)", which stopped at the same limit
    every time; both are said now, and a resume after raising the limit fetches the paid video."""
    rec = Recorder()
    s = make_session(tmp_path / "st", rec, download_cap=1000)
    with pytest.raises(E.DownloadError) as info:
        s.video("waves", progress=False)
    text = str(info.value)
    assert "larger than the limit" in text and "download_cap" in text and "session.resume(" in text
    task_id = re.search(r"session\.resume\('([^']+)'\)", text).group(1)  # type: ignore[union-attr]
    assert s.history[-1].status == "pending"
    s.settings.download_cap = 10**9
    res = s.resume(task_id).wait(progress=False)
    assert isinstance(res, VideoResult) and res.path.is_file() and len(rec.posts("/video/generations")) == 1
    s.close()


def test_resuming_a_finished_task_whose_video_was_deleted_fetches_it_again(s: Session, rec: Recorder) -> None:
    """Its video deleted from the store, a resume said "rerun the call" (a new task, paid again); the task is done
    on the server: the resume fetches its video again into the same row, no new task made."""
    res = s.video("a lighthouse at dusk", progress=False)
    res.path.unlink()
    again = s.resume(res.task_id).wait(progress=False)
    assert again.path.is_file() and again.sha256 == res.sha256 and again.entry_id == res.entry_id
    assert len(rec.posts("/video/generations")) == 1 and len(s.history) == 1 and s.history[-1].status == "ok"


NO_URL = httpx.Response(200, json={"code": "success", "data": {"status": "SUCCESS", "progress": "100%",
                                                                "result_url": "", "quota": 87500}})


def test_a_done_task_whose_status_has_no_video_url_yet_is_polled_again(tmp_path: Path) -> None:
    """A relay may mark a task done before it writes its URL (Hailuo's goes through a file lookup): that status
    ended the wait at once; it is polled again, and a task that never gives one stays pending with its own id in
    the resume hint (the hint said ``session.resume(task_id)``, naming no task)."""
    relay = BadPolls(NO_URL, bad=1)
    with _polling_session(tmp_path, relay) as s:
        res = s.video("a kite over the sea", progress=False)
        assert res.path.is_file() and s.history[-1].status == "ok" and len(relay.posts()) == 1
    relay = BadPolls(NO_URL, bad=10_000)
    with _polling_session(tmp_path / "2", relay) as s:
        with pytest.raises(E.APIError, match="gave no video URL") as info:
            s.video("a kite over the sea", progress=False)
        row = s.history[-1]
        task_id = row.response["task_id"]
        assert relay.polls == 3 and row.status == "pending" and f"session.resume({task_id!r})" in str(info.value)
        assert "no new charge" in str(info.value) and info.value.partial is not None


def test_a_task_resumed_by_its_id_alone_gets_its_model_from_the_relay(tmp_path: Path, rec: Recorder) -> None:
    """Resumed in another store (another notebook, a colleague's id), the video and its row said no model:
    "VideoResult from , …", a history no filter by model finds. The relay's status names it."""
    with make_session(tmp_path / "a", rec) as a:
        task_id = a.video("a paper boat", model="doubao-seedance-2.0-fast", wait=False).task_id
    with make_session(tmp_path / "b", rec) as b:
        res = b.resume(task_id).wait(progress=False)
        assert res.model == "doubao-seedance-2.0-fast" and "from doubao-seedance-2.0-fast" in repr(res)
        assert b.history[-1].model == "doubao-seedance-2.0-fast" and b.history[-1].status == "ok"
        assert b.resume(task_id).model == "doubao-seedance-2.0-fast"


UNKNOWN = httpx.Response(200, json={"code": "success", "data": {"status": "UNKNOWN", "progress": "30%"}})


def test_a_wait_that_saw_an_unknown_status_replays_every_status_it_saw(tmp_path: Path) -> None:
    """The relay's UNKNOWN (still running, §4.1) was kept in the row as a state a replay did not accept: the whole
    recorded wait was dropped, and its replay showed no progress at all, the video at once."""
    relay = BadPolls(UNKNOWN, bad=1)
    recorded: list[tuple[str, int]] = []
    with _polling_session(tmp_path, relay) as s:
        s.video("a kite over the sea", progress=False, on_progress=lambda st: recorded.append((st.state, st.progress)))
    assert ("unknown", 30) in recorded
    replayed: list[tuple[str, int]] = []
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        r.video("a kite over the sea", progress=False, on_progress=lambda st: replayed.append((st.state, st.progress)))
    assert replayed == recorded and rec.requests == []


QUEUED = httpx.Response(200, json={"code": "success", "data": {"status": "QUEUED", "progress": "0%"}})


def test_a_task_queued_for_the_whole_wait_says_so_at_the_deadline(tmp_path: Path) -> None:
    """A task that never starts (new-api #4930: charged, never finished) timed out as any slow one: now the
    deadline says it never left the queue, how to resume it at no charge, and where a charge would show."""
    relay = BadPolls(QUEUED, bad=10_000)
    with make_session(tmp_path / "st", relay, poll_interval=0.01) as s:
        task = s.video("a kite over the sea", wait=False)
        with pytest.raises(E.APITimeoutError) as info:
            task.wait(timeout=0.05, progress=False)
        said = str(info.value)
        assert "still running on the server (still queued: it never started during this wait)" in said
        assert f"session.resume({task.task_id!r}) (no new task, no new charge)" in said and "console" in said
        assert s.history.get(task.entry_id).status == "pending" and len(relay.posts()) == 1
    running = httpx.Response(200, json={"code": "success", "data": {"status": "IN_PROGRESS", "progress": "30%"}})
    relay = BadPolls(running, bad=10_000)  # a task that runs, just slowly: no word of a queue
    with make_session(tmp_path / "st2", relay, poll_interval=0.01) as s:
        with pytest.raises(E.APITimeoutError) as info:
            s.video("a kite over the sea", wait=False).wait(timeout=0.05, progress=False)
        assert "queued" not in str(info.value) and "console" not in str(info.value)


def test_a_status_asked_of_a_task_just_created_that_the_relay_does_not_know_yet_says_so(tmp_path: Path) -> None:
    """``task.status()`` right after the create, before the relay wrote the task, said "wrong id, key or base URL?"
    of the id the relay had just given."""
    relay = BadPolls(GONE, bad=1)
    with _polling_session(tmp_path, relay) as s:
        task = s.video("a kite over the sea", wait=False)
        with pytest.raises(E.NotFoundError, match=r"does not know video task .* yet") as info:
            task.status()
        assert "wrong id" not in str(info.value) and "task.wait()" in str(info.value)
        assert task.wait(progress=False).path.is_file() and len(relay.posts()) == 1


def test_no_such_task_said_with_200_is_not_a_failed_and_refunded_task(tmp_path: Path) -> None:
    """A relay that sends its task_not_exist envelope with HTTP 200: the task was taken for a failed one, its row
    written "not charged: failed tasks are refunded", though nothing said it failed, nor was refunded."""
    gone_200 = httpx.Response(200, json={"code": "task_not_exist", "message": "task_not_exist", "data": None})
    relay = BadPolls(gone_200, bad=1)
    with _polling_session(tmp_path, relay) as s:
        res = s.video("a kite over the sea", progress=False)  # (just created: polled again, then found)
        assert res.path.is_file() and s.history[-1].status == "ok"
    relay = BadPolls(gone_200, bad=10_000)
    with _polling_session(tmp_path / "2", relay) as s:
        with pytest.raises(E.NotFoundError, match="No video task with id"):
            s.resume("task_typo").wait(progress=False)
        assert s.history[-1].status == "error" and "refunded" not in str(s.history[-1].usage)


class FailedCreate(Recorder):
    """The simulator, with each video create answered 200 by ``answer``: the relay's own word that the task failed."""

    def __init__(self, answer: dict[str, object]) -> None:
        super().__init__()
        self.answer = answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/video/generations":
            await super().handle_async_request(request)  # (logged, and the simulator's own task made)
            return httpx.Response(200, json=self.answer)
        return await super().handle_async_request(request)


FAILED_CREATES = {
    "openai-video": {"id": "task_fc1", "task_id": "task_fc1", "object": "video", "status": "failed", "progress": 0,
                     "error": {"message": "prompt rejected by the safety system", "code": "sensitive_content"}},
    "taskdto": {"code": "success", "message": "", "data": {"task_id": "task_fc1", "status": "FAILURE",
                                                           "fail_reason": "prompt rejected by the safety system"}},
}


@pytest.mark.parametrize("shape", list(FAILED_CREATES))
@pytest.mark.parametrize("wait", [True, False])
def test_a_create_answered_failed_fails_at_once_with_the_relays_reason(tmp_path: Path, shape: str, wait: bool) -> None:
    """A create whose 200 answer already said the task failed was polled (to the deadline, or until the relay's
    "no such task"), and its row left pending, "resume it": now it fails at once with the relay's reason, its row
    an error saying it was not charged, as a task that fails while polled."""
    relay = FailedCreate(FAILED_CREATES[shape])
    with make_session(tmp_path / "st", relay) as s:
        with pytest.raises(E.TaskFailedError, match="prompt rejected by the safety system") as info:
            s.video("a kite over the sea", wait=wait, progress=False)
        assert info.value.task_id == "task_fc1"
        assert [r for r in relay.requests if r["method"] == "GET" and "/video" in r["path"]] == []  # never polled
        assert len(relay.posts("/video/generations")) == 1 and len(s.history) == 1
        row = s.history[-1]
        assert row.status == "error" and row.error["error"] == "TaskFailedError"
        assert row.response["task_id"] == "task_fc1"
        assert "not charged: the task failed" in row.usage["cost"]["detail"]
        if shape == "openai-video":
            assert row.response["error_code"] == "sensitive_content" and info.value.code == "sensitive_content"


@pytest.mark.parametrize("copy", [False, True])
def test_a_task_that_made_several_videos_keeps_them_all(tmp_path: Path, copy: bool) -> None:
    """A finished task whose answer named several videos kept the first; the others, paid for, were lost without
    a word. Each is now downloaded and kept: in the result (``.videos``, ``.paths``, all shown), in the history row
    (its outputs and links), after a restart, and in a replay. A video named twice (``copy``) is kept once."""
    relay = SeveralVideos(copy=copy)
    with make_session(tmp_path / "st", relay) as s:
        res = s.video("a kite over the sea", progress=False)
        assert len(res.videos) == 3 and res.videos[0] is res and len(set(res.paths)) == 3
        assert [p.read_bytes() for p in res.paths[1:]] == list(relay.clips.values())
        assert all(v.poster is not None for v in res.videos)
        assert [v.url.rsplit("/", 2)[-2:] if v.url else None for v in res.videos][1:] == [
            ["extra", "second.mp4"], ["extra", "third.mp4"]]
        row = s.history[-1]
        assert row.status == "ok" and [o["role"] for o in row.outputs] == ["video", "poster"] * 3
        assert len(row.response["urls"]) == 3 and row.response["url"] == row.response["urls"][0]
        html = res._repr_mimebundle_()[0]["text/html"]
        assert html.count("<video") == 3 and "This task made 3 videos" in html and "and 2 more videos" in repr(res)
        again = s.history.get(row.id).result()  # (as a new kernel rebuilds it from the row)
        assert again.paths == res.paths and [v.poster for v in again.videos] == [v.poster for v in res.videos]
        assert s.resume(res.task_id).wait(progress=False).paths == res.paths
        saved = [v.save(tmp_path / "out") for v in res.videos]  # (each to a name of its own)
        assert [p.read_bytes() for p in saved] == [p.read_bytes() for p in res.paths]
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        assert r.video("a kite over the sea", progress=False).paths == res.paths


def test_one_video_stays_one() -> None:
    """A task with one video (every shape the reference names) has one link, as before."""
    from tokenhot_nb.families import video

    st = video.parse_status("t1", {"code": "success", "data": {"task_id": "t1", "status": "SUCCESS",
                                                               "result_url": "https://cdn.example.com/a.mp4",
                                                               "data": {"content": {"video_url": "https://x/b.mp4"}}}})
    assert st.urls == ["https://cdn.example.com/a.mp4"] and st.url == st.urls[0]


def test_a_video_of_several_that_does_not_arrive_leaves_the_task_resumable(tmp_path: Path) -> None:
    """One of a task's several videos failed to download: the task is done and paid, so it stays pending with the
    way to fetch them all (no new task), and the error says which video it was."""
    relay = SeveralVideos()
    relay.gone = {"/extra/third.mp4"}
    with make_session(tmp_path / "st", relay) as s:
        with pytest.raises(E.TokenhotError) as info:
            s.video("a kite over the sea", progress=False)
        row = s.history[-1]
        task_id = row.response["task_id"]
        assert row.status == "pending" and "video 3 of the 3 this task made" in str(info.value)
        assert f"session.resume({task_id!r})" in str(info.value)
        relay.gone = set()
        res = s.resume(task_id).wait(progress=False)
        assert len(res.paths) == 3 and s.history.get(row.id).status == "ok" and len(relay.posts()) == 1


@pytest.mark.parametrize("body", [b"AccessDenied: Request has expired", b"\x8b\x1f" + bytes(range(200)) * 4,
                                  b"\xef\xbb\xbf<?xml version='1.0'?><Error><Code>AccessDenied</Code></Error>", b""],
                         ids=["text", "garbage", "xml-after-bom", "empty"])
def test_a_done_tasks_file_that_is_no_video_leaves_it_pending_and_a_resume_fetches_the_video(
        tmp_path: Path, body: bytes) -> None:
    """An expired link's error text (or a cut piece of garbage) served 200 as video/mp4 was stored as the video and
    the paid task's row marked ok: a resume never fetched it again. Now the download is refused with one line
    saying what came, no video is stored, the row stays pending, and a resume fetches the real video."""

    class Expired(Recorder):
        bad = True

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            resp = await super().handle_async_request(request)
            if request.url.path.endswith("/content") and self.bad:
                await resp.aread()
                return httpx.Response(200, content=body, headers={"content-type": "video/mp4"})
            return resp

    rec = Expired()
    s = make_session(tmp_path / "st", rec)
    with pytest.raises(E.DownloadError) as info:
        s.video("waves", progress=False)
    text = str(info.value)
    assert "is not a video" in text and "session.resume(" in text
    assert "Traceback" not in text and "\n" not in info.value.message
    row = s.history[-1]
    assert ("nothing was stored" in text) == (body == b"")  # (what came is kept as raw: see the simulator's test)
    assert row.status == "pending" and [o["role"] for o in row.outputs] == ([] if body == b"" else ["raw"])
    task_id = row.response["task_id"]
    assert not any(p.suffix == ".mp4" for p in s.store.root.rglob("*.mp4"))
    rec.bad = False
    res = s.resume(task_id).wait(progress=False)
    assert res.path.read_bytes()[4:8] == b"ftyp" and s.history.get(row.id).status == "ok"
    s.close()


def _webm() -> bytes:
    import io

    import av
    from PIL import Image

    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for shade in (0, 80, 160, 240):
            for packet in stream.encode(av.VideoFrame.from_image(Image.new("RGB", (32, 32), (shade, 0, 0)))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def test_a_webm_sent_as_mp4_is_kept_and_saved_as_the_webm_it_is(tmp_path: Path) -> None:
    """A video is typed by its own bytes, as an image is: a WebM the file host labelled video/mp4 was kept under
    that type and saved as an .mp4 (other programs misread it). A declared type of its own container family is
    kept (an MP4 sent as video/quicktime stays one: test_a_well_formed_video_type_from_the_file_host_is_kept)."""
    clip = _webm()

    class Mislabelled(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            resp = await super().handle_async_request(request)
            if request.url.path.endswith("/content"):
                await resp.aread()
                return httpx.Response(200, content=clip, headers={"content-type": "video/mp4"})
            return resp

    s = make_session(tmp_path / "st", Mislabelled())
    res = s.video("waves", progress=False)
    assert res.mime == "video/webm" and res.path.suffix == ".webm" and res.path.read_bytes() == clip
    assert [o["mime"] for o in s.history[-1].outputs if o["role"] == "video"] == ["video/webm"]
    assert res.save(tmp_path / "out").suffix == ".webm"
    s.close()


def test_a_video_cut_at_its_file_host_leaves_the_task_pending(tmp_path: Path) -> None:
    """A file host holding a cut copy of the video served it whole as far as HTTP tells (its Content-Length met):
    the unplayable piece was stored and the paid task marked done. A video whose boxes run past its end is now
    refused, the task pending and resumable."""

    class Cut(Recorder):
        cut = True

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            resp = await super().handle_async_request(request)
            if request.url.path.endswith("/content") and self.cut:
                clip = await resp.aread()
                return httpx.Response(200, content=clip[: len(clip) * 2 // 3], headers={"content-type": "video/mp4"})
            return resp

    rec = Cut()
    s = make_session(tmp_path / "st", rec)
    with pytest.raises(E.DownloadError) as info:
        s.video("waves", progress=False)
    assert "is a video cut short" in info.value.message and "while its boxes run to" in info.value.message
    assert "session.resume(" in str(info.value)
    row = s.history[-1]
    assert row.status == "pending" and row.outputs == []
    rec.cut = False
    res = s.resume(row.response["task_id"]).wait(progress=False)
    assert (res.duration or 0) > 0 and s.history.get(row.id).status == "ok"
    s.close()


def test_the_history_shows_each_video_of_a_task_with_its_own_poster(tmp_path: Path) -> None:
    """The history table and an entry's card showed the first video's poster on every video of a task that made
    several (outputs video, poster, video, poster…); each video now shows its own."""
    with make_session(tmp_path / "st", SeveralVideos()) as s:
        s.video("a kite over the sea", progress=False)
        row = s.history[-1]
        posters = [o["sha256"] for o in row.outputs if o["role"] == "poster"]
        assert len(set(posters)) == 3
        for html, px in ((s.history._repr_html_(), 96), (row._repr_html_(), 192)):
            shown = re.findall(r"<img src='([^']+)' alt='video poster'", html)
            assert shown == [s.store.thumbnail(sha, px) for sha in posters] and len(set(shown)) == 3


@pytest.mark.parametrize("kind", ["openai", "task"])
@pytest.mark.parametrize("wait", [True, False])
def test_a_create_the_relay_refused_with_200_is_its_error_in_one_line_and_not_charged(
        tmp_path: Path, kind: str, wait: bool) -> None:
    """A create answered HTTP 200 with the relay's error envelope and no task id read "The video create reply has
    no task id: …", lost the envelope's code, type and request id, and left the row's cost unknown ("creates are
    billed: check the console"). It is now the relay's error, typed as that envelope with an error status would be,
    in one line; no task is waited for or left pending, and the row says it was not charged (no task was made:
    new-api refunds the pre-charge of a create it refused, §4.1)."""
    relay = Recorder(Faults(video_create_error=kind))
    with make_session(tmp_path / "st", relay) as s:
        with pytest.raises(E.APIError) as info:
            s.video("a kite over the sea", wait=wait, progress=False)
        err = info.value
        assert err.message.startswith("The relay refused the video create: model price not set")
        assert "\n" not in str(err) and "Traceback" not in str(err) and "no task id:" not in err.message
        assert err.code == "model_price_error" and err.status == 200
        assert "nothing is charged" in str(err) and "nothing is running" in str(err)
        from tokenhot_nb.magics._errors import ErrorView

        shown = ErrorView(err).text().splitlines()  # (as %%th_video shows it: the line, the fix, where details are)
        assert "The relay refused the video create: model price not set" in shown[0] and len(shown) == 3
        if kind == "openai":
            assert err.type == "new_api_error" and err.request_id and err.request_id not in err.message
        assert len(relay.posts("/video/generations")) == 1
        assert [r for r in relay.requests if "/video" in r["path"] and r["method"] == "GET"] == []  # nothing polled
        [row] = list(s.history)
        assert row.status == "error" and "task_id" not in (row.response or {})
        assert row.usage["cost"]["usd"] == 0 and "not charged: the relay refused the create" in \
            row.usage["cost"]["detail"]


@pytest.mark.parametrize("wait", [True, False])
def test_a_create_failed_at_submit_fails_at_once_over_the_simulator(tmp_path: Path, wait: bool) -> None:
    """The simulator's ``video_create_failed``: the create's answer names its task failed already; the call fails at
    once with the vendor's reason and code, never polls, and its row is an error that was not charged."""
    relay = Recorder(Faults(video_create_failed=True))
    with make_session(tmp_path / "st", relay) as s:
        with pytest.raises(E.TaskFailedError, match="sensitive") as info:
            s.video("a kite over the sea", model="doubao-seedance-2.0", wait=wait, progress=False)
        assert info.value.code == "OutputVideoSensitiveContentDetected"
        assert [r for r in relay.requests if "/video" in r["path"] and r["method"] == "GET"] == []
        row = s.history[-1]
        assert row.status == "error" and row.response["task_id"] == info.value.task_id
        assert "not charged" in row.usage["cost"]["detail"]


@pytest.mark.parametrize("model", ["doubao-seedance-2.0", "MiniMax-Hailuo-02", "happyhorse-1.0-t2v"])
def test_a_task_that_made_several_videos_over_the_simulator_keeps_each(tmp_path: Path, model: str) -> None:
    """The simulator's ``video_count``: every video a finished task lists (in the vendor's own link, or the
    relay's ``result_url`` for Hailuo) is downloaded and kept (each was paid for), in the result and in its row,
    each with its poster."""
    with make_session(tmp_path / "st", Recorder(Faults(video_count=3, video_steps=2))) as s:
        res = s.video("a kite over the sea", model=model, progress=False)
        assert len(res.videos) == 3 and len({p.read_bytes() for p in res.paths}) == 3
        assert [o["role"] for o in s.history[-1].outputs] == ["video", "poster"] * 3


@pytest.mark.parametrize("kind", ["html", "json"])
@pytest.mark.parametrize("count", [1, 2])
def test_a_done_tasks_link_that_serves_no_video_keeps_what_it_sent_and_a_resume_fetches_the_video(
        tmp_path: Path, kind: str, count: int) -> None:
    """The simulator's ``video_not_video``: a finished task's link answered 200 ``video/mp4`` with an error page or
    JSON. The error is one line naming the task and the free resume, as before; what the link sent, dropped
    before ("nothing was stored"), is now kept in the task's row as a ``raw`` .bin output (it is what the relay's
    support needs), no video is stored, the row stays pending, and a resume, once the link serves the video,
    fetches it (no new task) and the row holds the video in place of the raw bytes."""
    relay = Recorder(Faults(video_not_video=kind, video_count=count, video_steps=2))
    s = make_session(tmp_path / "st", relay)
    with pytest.raises(E.DownloadError) as info:
        s.video("waves", model="doubao-seedance-2.0", progress=False)
    row = s.history[-1]
    task_id = row.response["task_id"]
    text = str(info.value)
    assert "is not a video" in text and ("an HTML page" if kind == "html" else "JSON") in text
    assert "\n" not in info.value.message and "Traceback" not in text and "nothing was stored" not in text
    assert f"kept in history #{row.id} as a .bin file (output role 'raw')" in text
    assert f"session.resume({task_id!r})" in text and "no new charge" in text
    assert row.status == "pending" and [o["role"] for o in row.outputs] == ["raw"]
    kept = s.store.path_of(row.outputs[0]["sha256"]).read_bytes()
    assert kept.lstrip()[:1] == (b"<" if kind == "html" else b"{") and (b"expired" in kept or b"NoSuchKey" in kept)
    assert not list(s.store.root.rglob("*.mp4"))
    relay.set_faults(Faults(video_count=count, video_steps=2))
    res = s.resume(task_id).wait(progress=False)
    assert len(res.videos) == count and all(p.read_bytes()[4:8] == b"ftyp" for p in res.paths)
    again = s.history.get(row.id)
    assert again.status == "ok" and "raw" not in [o["role"] for o in again.outputs]
    assert len(relay.posts("/video/generations")) == 1
    s.close()
