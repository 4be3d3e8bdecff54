"""The simulator's video routes as the service: the §10.2 bodies accepted, the others refused in the task
envelope, clip lengths as asked, ``data.quota``, keyed result URLs, multipart ``input_reference``, and tasks
that outlive the simulator that created them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import av
import pytest
from starlette.testclient import TestClient

from tokenhot_nb.sim import create_app
from tokenhot_nb.sim._pricing import video_task_quota
from tokenhot_nb.sim.media import draw_image, png_bytes

AUTH = {"Authorization": "Bearer sk-test-video-0000"}
FIX = Path(__file__).parent / "fixtures" / "reference"
F = "https://cdn.example.com/first.png"


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    return tmp_path / "tasks"


@pytest.fixture
def sim(tasks: Path) -> TestClient:
    return TestClient(create_app(task_dir=tasks))


def create(sim: TestClient, body: dict[str, Any], path: str = "/v1/video/generations") -> Any:
    return sim.post(path, json=body, headers=AUTH)


def finish(sim: TestClient, tid: str) -> dict[str, Any]:
    for _ in range(5):
        data = sim.get(f"/v1/video/generations/{tid}", headers=AUTH).json()["data"]
        if data["status"] in ("SUCCESS", "FAILURE"):
            return data  # type: ignore[no-any-return]
    raise AssertionError("task never finished")


def clip_seconds(mp4: bytes) -> float:
    with av.open(io.BytesIO(mp4)) as c:
        return float(c.duration or 0) / 1_000_000


ACCEPTED: list[dict[str, Any]] = [
    json.loads((FIX / "seedance_native_request.json").read_text()),
    {"model": "doubao-seedance-2-5", "content": [{"type": "text", "text": "x"}, {"type": "image_url",
     "image_url": {"url": F}, "role": "first_frame"}], "ratio": "adaptive", "duration": 30},
    {"model": "doubao-seedance-2.0-fast-V2V", "content": [{"type": "text", "text": "x"}, {"type": "video_url",
     "video_url": {"url": "https://v/in.mp4"}, "role": "reference_video"}], "resolution": "480p"},
    {"model": "happyhorse-1.1-i2v", "input": {"prompt": "x", "media": [{"type": "first_frame", "url": F}]},
     "parameters": {"resolution": "1080P", "duration": 3}},
    {"model": "kling-v3", "prompt": "<<<image_1>>> x", "duration": 3, "size": "4K", "aspect_ratio": "1:1",
     "file_infos": [{"Type": "Url", "Category": "Image", "Url": F, "Usage": "FirstFrame"}]},
    {"model": "veo3.1", "prompt": "x", "duration": 8, "generationType": "REFERENCE_2_VIDEO", "imageUrls": [F, F]},
    {"model": "wan3.0-video", "input": {"prompt": "x"}, "parameters": {"resolution": "480P", "duration": 2}},
    {"model": "grok-imagine-video-1-5-preview", "input": {"image_urls": [F], "prompt": "x", "duration": 1}},
    {"model": "gemini-omni-video", "input": {"prompt": "x", "duration": "4", "image_urls": [F] * 7}},
    json.loads((FIX / "hailuo_create_request.json").read_text()),
]


@pytest.mark.parametrize("body", ACCEPTED, ids=lambda b: b["model"])
def test_documented_bodies_are_accepted(sim: TestClient, body: dict[str, Any]) -> None:
    r = create(sim, body)
    assert r.status_code == 200, r.text
    assert r.json()["id"].startswith("task_") and r.json()["status"] == "queued"


REFUSED: list[tuple[dict[str, Any], str]] = [
    (json.loads((FIX / "seedance_create_request.json").read_text()), "content[] required, no metadata"),
    ({"model": "doubao-seedance-2.0", "prompt": "x"}, "content[] required"),
    ({"model": "doubao-seedance-2.0", "content": [{"type": "image_url", "image_url": {"url": F}},
                                                  {"type": "text", "text": "x"}]}, "text item must come first"),
    ({"model": "doubao-seedance-2.0", "content": [{"type": "text", "text": "x"}, {"type": "image_url",
      "image_url": {"url": F}, "role": "first_frame"}, {"type": "image_url", "image_url": {"url": F},
      "role": "reference_image"}]}, "cannot be mixed"),
    ({"model": "doubao-seedance-2.0-fast", "content": [{"type": "text", "text": "x"}], "resolution": "1080p"},
     "resolution must be one of 480p, 720p"),
    ({"model": "doubao-seedance-2.0", "content": [{"type": "text", "text": "x"}], "duration": 20}, "duration"),
    ({"model": "doubao-seedance-2-5", "content": [{"type": "text", "text": "x"}, {"type": "image_url",
      "image_url": {"url": F}, "role": "first_frame"}], "ratio": "16:9"}, "adaptive"),
    ({"model": "doubao-seedance-2.0-V2V", "content": [{"type": "text", "text": "x"}]}, "video_url"),
    ({"model": "happyhorse-1.0-t2v", "prompt": "x"}, "input.prompt is required"),
    ({"model": "happyhorse-1.0-t2v", "input": {"prompt": "x"}, "parameters": {"resolution": "720p"}},
     "720P, 1080P"),
    ({"model": "happyhorse-1.0-i2v", "input": {"prompt": "x", "media": [{"type": "first_frame", "url": F}]},
      "parameters": {"ratio": "16:9"}}, "ratio is not supported"),
    ({"model": "kling-v3", "prompt": "x", "file_infos": [{"Type": "Url", "Category": "Image",
      "Url": "data:image/png;base64,AAAA", "Usage": "FirstFrame"}]}, "public http(s) URL"),
    ({"model": "veo3.1", "prompt": "x", "duration": 6, "generationType": "REFERENCE_2_VIDEO", "imageUrls": [F]},
     "duration 8"),
    ({"model": "grok-imagine-video-1-5-preview", "input": {"prompt": "x", "image_urls": []}}, "exactly one"),
    ({"model": "gemini-omni-video", "input": {"prompt": "x", "duration": 8}}, "a string"),
    ({"model": "wan3.0-video", "input": {"prompt": "x", "media": [{"type": "first_frame", "url": F}]},
      "parameters": {"ratio": "16:9"}}, "adaptive"),
]


@pytest.mark.parametrize(("body", "why"), REFUSED, ids=[b["model"] + ":" + w[:20] for b, w in REFUSED])
def test_bodies_the_service_refuses(sim: TestClient, body: dict[str, Any], why: str) -> None:
    r = create(sim, body)
    assert r.status_code == 400
    env = r.json()
    assert set(env) == {"code", "message", "data"} and env["data"] is None and why in env["message"]


@pytest.mark.parametrize(("duration", "seconds"), [(12, 12.0), (15, 15.0), (-1, 5.0)])
def test_clips_last_as_long_as_asked(sim: TestClient, duration: int, seconds: float) -> None:
    tid = create(sim, {"model": "doubao-seedance-2.0", "content": [{"type": "text", "text": "waves"}],
                       "duration": duration}).json()["id"]
    data = finish(sim, tid)
    assert data["quota"] == video_task_quota("doubao-seedance-2.0", seconds, "720p") > 0
    mp4 = sim.get(data["result_url"], headers=AUTH).content
    assert clip_seconds(mp4) == pytest.approx(seconds, abs=0.3)


def test_result_url_needs_the_key(sim: TestClient) -> None:
    tid = create(sim, ACCEPTED[6]).json()["id"]
    data = finish(sim, tid)
    assert data["result_url"].endswith(f"/v1/videos/{tid}/content")
    assert sim.get(data["result_url"]).status_code == 401
    assert sim.get(data["result_url"], headers=AUTH).headers["content-type"] == "video/mp4"


def test_multipart_input_reference_is_used(sim: TestClient) -> None:
    red = png_bytes(draw_image("red", 64, 36, 1).convert("RGB").point(lambda _: 0).convert("RGB"))
    r = sim.post("/v1/videos", headers=AUTH, data={"model": "MiniMax-Hailuo-02", "prompt": "go", "seconds": "6"},
                 files={"input_reference": ("ref.png", red, "image/png")})
    assert r.status_code == 200, r.text
    tid = r.json()["id"]
    for _ in range(3):
        v = sim.get(f"/v1/videos/{tid}", headers=AUTH).json()
    assert v["status"] == "completed" and v["seconds"] == "6"
    mp4 = sim.get(f"/v1/videos/{tid}/content", headers=AUTH).content
    with av.open(io.BytesIO(mp4)) as c:
        frame = next(c.decode(video=0)).to_image()
    assert frame.getpixel((2, 2))[0] < 40  # the first frame is the (black) reference, not a drawn card
    plain = sim.post("/v1/videos", headers=AUTH, json={"model": "MiniMax-Hailuo-02", "prompt": "go",
                                                       "seconds": "6"}).json()
    for _ in range(3):
        sim.get(f"/v1/videos/{plain['id']}", headers=AUTH)
    other = sim.get(f"/v1/videos/{plain['id']}/content", headers=AUTH).content
    assert other != mp4


def test_tasks_outlive_the_simulator(tasks: Path) -> None:
    first = TestClient(create_app(task_dir=tasks))
    tid = create(first, {"model": "wan3.0-video", "input": {"prompt": "x"}, "parameters": {"duration": 2}}).json()["id"]
    first.get(f"/v1/video/generations/{tid}", headers=AUTH)
    later = TestClient(create_app(task_dir=tasks))  # a new kernel's simulator, same folder
    data = finish(later, tid)
    assert data["status"] == "SUCCESS" and data["quota"] == video_task_quota("wan3.0-video", 2, "720P")
    assert clip_seconds(later.get(data["result_url"], headers=AUTH).content) == pytest.approx(2, abs=0.3)
    missing = later.get("/v1/video/generations/task_nobodyknowsme", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["code"] == "task_not_exist"  # §10.3
    assert (tasks / f"{tid}.json").exists()


def test_a_task_is_only_known_to_the_key_that_created_it(sim: TestClient) -> None:
    """new-api looks a task up by user and id: another key's poll (a colleague's store, a second account) is told
    the task does not exist (§4.1), as its download is; ``sk-`` or not, the same key is the same caller."""
    tid = create(sim, {"model": "wan3.0-video", "input": {"prompt": "x"}, "parameters": {"duration": 2}}).json()["id"]
    other = {"Authorization": "Bearer sk-someone-else"}
    for path in (f"/v1/video/generations/{tid}", f"/v1/videos/{tid}", f"/v1/videos/{tid}/content"):
        answer = sim.get(path, headers=other)
        assert answer.status_code == 404 and answer.json()["code"] == "task_not_exist", path
    same = {"Authorization": AUTH["Authorization"].replace("Bearer sk-", "Bearer ")}
    assert finish(sim, tid)["status"] == "SUCCESS" and sim.get(f"/v1/videos/{tid}", headers=same).status_code == 200


def faulted(tasks: Path, **faults: Any) -> TestClient:
    from tokenhot_nb.sim import Faults

    return TestClient(create_app(Faults(video_steps=2, **faults), task_dir=tasks))


SEEDANCE = {"model": "doubao-seedance-2.0", "content": [{"type": "text", "text": "a kite"}], "duration": 4,
            "resolution": "480p"}


@pytest.mark.parametrize("kind", ["openai", "task"])
def test_a_create_refused_with_200_names_no_task_and_charges_nothing(tasks: Path, kind: str) -> None:
    """``video_create_error``: the relay's refusal with HTTP 200 in either of its envelopes (§1.4.1: ``error`` with
    a ``(request id: …)`` message; §1.4.3: ``code``/``message``/``data: null``), no task id anywhere."""
    sim = faulted(tasks, video_create_error=kind)
    r = create(sim, SEEDANCE)
    body = r.json()
    assert r.status_code == 200 and "task_id" not in json.dumps(body) and "id" not in body
    if kind == "openai":
        assert body["error"]["code"] == "model_price_error" and "(request id: " in body["error"]["message"]
    else:
        assert body == {"code": "model_price_error", "message": body["message"], "data": None} and body["message"]
    assert list(tasks.glob("*.json")) == []  # no task made


def test_a_create_failed_at_submit_says_so_and_its_polls_fail_at_once(tasks: Path) -> None:
    """``video_create_failed``: the create's 200 names the task already failed with the vendor's reason
    (OpenAIVideo ``status: failed``, ``error``); its first poll is FAILURE with a ``fail_reason``, no charge."""
    sim = faulted(tasks, video_create_failed=True)
    made = create(sim, SEEDANCE).json()
    assert made["status"] == "failed" and made["error"]["message"] and made["error"]["code"]
    data = sim.get(f"/v1/video/generations/{made['task_id']}", headers=AUTH).json()["data"]
    assert data["status"] == "FAILURE" and data["fail_reason"] and data["quota"] == 0 and data["result_url"] == ""


@pytest.mark.parametrize("model", ["doubao-seedance-2.0", "MiniMax-Hailuo-02", "happyhorse-1.0-t2v"])
def test_a_task_that_made_several_videos_lists_each_and_each_is_a_clip(tasks: Path, model: str) -> None:
    """``video_count``: a finished task lists that many links where its one link goes (the vendor's own copy, or
    for Hailuo, whose task JSON names no link, the relay's ``result_url``); each is a distinct, playable clip."""
    sim = faulted(tasks, video_count=3)
    body = {**SEEDANCE, "model": model} if model.startswith("doubao") else (
        {"model": model, "prompt": "a kite", "duration": 6} if model.startswith("MiniMax") else
        {"model": model, "input": {"prompt": "a kite"}, "parameters": {"resolution": "720P", "duration": 3}})
    r = create(sim, body)
    assert r.status_code == 200, r.text
    data = finish(sim, r.json()["task_id"])
    raw = data["data"]
    links = (data["result_url"] if model.startswith("MiniMax") else
             raw["content"]["video_url"] if model.startswith("doubao") else raw["output"]["video_url"])
    assert isinstance(links, list) and len(links) == 3 and len(set(links)) == 3
    clips = [sim.get(link.replace("http://testserver", ""), headers=AUTH).content for link in links]
    assert len(set(clips)) == 3 and all(clip_seconds(c) > 0 for c in clips)


@pytest.mark.parametrize("kind", ["html", "json"])
def test_a_finished_tasks_link_can_serve_no_video(tasks: Path, kind: str) -> None:
    """``video_not_video``: the relay's ``/content`` route and the vendor's file link answer 200, labelled
    video/mp4, with an error page or a JSON error instead of the clip; the task itself finished."""
    sim = faulted(tasks, video_not_video=kind)
    data = finish(sim, create(sim, SEEDANCE).json()["task_id"])
    assert data["status"] == "SUCCESS"
    for link in (data["result_url"], data["data"]["content"]["video_url"]):
        got = sim.get(link.replace("http://testserver", ""), headers=AUTH)
        assert got.status_code == 200 and got.headers["content-type"].startswith("video/mp4")
        assert got.content.lstrip()[:1] == (b"<" if kind == "html" else b"{") and b"ftyp" not in got.content


def test_the_video_faults_have_cli_flags() -> None:
    from tokenhot_nb.sim.__main__ import build_parser, faults_from_args

    f = faults_from_args(build_parser().parse_args(["--video-create-error", "task", "--video-create-failed",
                                                    "--video-count", "3", "--video-not-video", "json"]))
    assert (f.video_create_error, f.video_create_failed, f.video_count, f.video_not_video) == ("task", True, 3, "json")
    none = faults_from_args(build_parser().parse_args([]))
    assert (none.video_create_error, none.video_create_failed, none.video_count, none.video_not_video) == (
        None, False, 1, None)
    with pytest.raises(ValueError, match="video_count"):
        faults_from_args(build_parser().parse_args(["--video-count", "0"]))
