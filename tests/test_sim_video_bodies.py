"""Kling's ``file_infos`` as §10.2 writes them (``{"Type":"Url","Category":"Image","Url","Usage"}``, public URLs
only): the simulator takes exactly that form and refuses the others in the task envelope (§1.4 item 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tokenhot_nb import catalog
from tokenhot_nb.families import video
from tokenhot_nb.sim import create_app

AUTH = {"Authorization": "Bearer sk-test-kling-0000"}
F = "https://cdn.example.com/first.png"
L = "http://cdn.example.com/last.png"


@pytest.fixture
def sim(tmp_path: Path) -> TestClient:
    return TestClient(create_app(task_dir=tmp_path / "tasks"))


def kling(file_infos: Any) -> dict[str, Any]:
    return {"model": "kling-v3", "prompt": "<<<image_1>>> a kite", "duration": 5, "size": "720P",
            "aspect_ratio": "16:9", "file_infos": file_infos}


def info(**changes: Any) -> dict[str, Any]:
    return {"Type": "Url", "Category": "Image", "Url": F, "Usage": "FirstFrame", **changes}


@pytest.mark.parametrize("infos", [
    [info()], [info(), info(Url=L, Usage="LastFrame")], [],
], ids=["first", "first+last", "none"])
def test_the_documented_form_is_accepted(sim: TestClient, infos: list[dict[str, Any]]) -> None:
    r = sim.post("/v1/video/generations", json=kling(infos), headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["id"].startswith("task_")


@pytest.mark.parametrize(("infos", "why"), [
    ([info(Type="Base64", Url="iVBORw0KGgo=")], "file_infos[0].Type (public URLs only) must be one of Url"),
    ([info(Category="Video")], "file_infos[0].Category must be one of Image"),
    ([info(Usage="MiddleFrame")], "file_infos[0].Usage must be one of FirstFrame, LastFrame"),
    ([info(), info(Usage=None)], "file_infos[1].Usage must be one of FirstFrame, LastFrame"),
    ([info(Url="data:image/png;base64,AAAA")], "file_infos[0].Url must be a public http(s) URL"),
    ([info(Url="ftp://cdn.example.com/a.png")], "file_infos[0].Url must be a public http(s) URL"),
    ([info(Url=None)], "file_infos[0].Url must be a public http(s) URL"),
    (["https://cdn.example.com/a.png"], "file_infos[0] must be an object"),
    ({"Type": "Url"}, "file_infos must be a list"),
], ids=["base64", "category", "usage", "usage-missing", "data-url", "ftp", "no-url", "bare-string", "not-a-list"])
def test_malformed_file_infos_are_refused_in_the_task_envelope(sim: TestClient, infos: Any, why: str) -> None:
    r = sim.post("/v1/video/generations", json=kling(infos), headers=AUTH)
    assert r.status_code == 400
    env = r.json()
    assert set(env) == {"code", "message", "data"} and env["data"] is None and isinstance(env["code"], str)
    assert why in env["message"]


def test_the_client_builds_what_the_simulator_takes(sim: TestClient) -> None:
    body = video.build_create(catalog.model("kling-v3"), "a kite", images=[F, {"image": L, "role": "last_frame"}],
                              duration=5).json
    assert body is not None and [i["Usage"] for i in body["file_infos"]] == ["FirstFrame", "LastFrame"]
    r = sim.post("/v1/video/generations", json=body, headers=AUTH)
    assert r.status_code == 200, r.text


# --- Hailuo (§5.2): MiniMax's resolutions per model, 1080P only with 6 s; its "invalid params" code handed on ---


def hailuo(model: str, **body: Any) -> dict[str, Any]:
    return {"model": model, "prompt": "a kite", "duration": 6, **body}


@pytest.mark.parametrize(("body", "ok"), [
    (hailuo("MiniMax-Hailuo-2.3", size="768P"), True),
    (hailuo("MiniMax-Hailuo-2.3", size="1080P"), True),
    (hailuo("MiniMax-Hailuo-2.3", size="512P"), False),
    (hailuo("MiniMax-Hailuo-02", size="512P"), True),
    (hailuo("MiniMax-Hailuo-2.3-Fast", duration=10, size="1080P"), False),
    (hailuo("MiniMax-Hailuo-02", duration=10, metadata={"resolution": "1080P"}), False),
    (hailuo("MiniMax-Hailuo-02", duration=10), True),
])
def test_hailuo_resolutions(sim: TestClient, body: dict[str, Any], ok: bool) -> None:
    r = sim.post("/v1/video/generations", json=body, headers=AUTH)
    assert (r.status_code == 200) is ok, r.text
    if not ok:
        assert r.status_code == 400 and r.json()["code"] == "2013" and r.json()["data"] is None


@pytest.mark.parametrize("model", [m.id for m in catalog.models(family="hailuo")])
def test_every_hailuo_body_the_client_builds_is_accepted(sim: TestClient, model: str) -> None:
    info = catalog.model(model)
    for res in info.choices("resolutions"):
        for dur in info.choices("durations"):
            limit = dict(info.capabilities.get("resolution_max_duration") or {}).get(res)
            if limit is not None and dur > limit:
                continue
            body = video.build_create(info, "a kite", duration=dur, resolution=res).json
            r = sim.post("/v1/video/generations", json=body, headers=AUTH)
            assert r.status_code == 200, (res, dur, r.text)


@pytest.mark.parametrize(("seed", "ok"), [(0, True), (2_147_483_647, True), (2_147_483_648, False), (-1, False)])
def test_happyhorse_seed_range(sim: TestClient, seed: int, ok: bool) -> None:
    body = {"model": "happyhorse-1.0-t2v", "input": {"prompt": "a horse"},
            "parameters": {"resolution": "720P", "duration": 5, "seed": seed}}
    r = sim.post("/v1/video/generations", json=body, headers=AUTH)
    assert (r.status_code == 200) is ok, r.text


@pytest.mark.parametrize(("model", "params", "ok"), [
    ("happyhorse-1.0-video-edit", {"audio_setting": "origin"}, True),
    ("happyhorse-1.0-video-edit", {"ratio": "16:9"}, False),
    ("happyhorse-1.0-video-edit", {"audio_setting": "loud"}, False),
    ("happyhorse-1.0-t2v", {"audio_setting": "auto"}, False),
])
def test_happyhorse_video_edit_parameters(sim: TestClient, model: str, params: dict[str, Any], ok: bool) -> None:
    media = [{"type": "video", "url": "https://cdn.example.com/in.mp4"}] if "edit" in model else []
    body = {"model": model, "input": {"prompt": "night", "media": media},
            "parameters": {"resolution": "720P", **params}}
    r = sim.post("/v1/video/generations", json=body, headers=AUTH)
    assert (r.status_code == 200) is ok, r.text


# --- the audit (§10.2 first, then §5.x): bodies the service refuses that the simulator used to take ------------

V = "https://cdn.example.com/in.mp4"


def seedance(**body: Any) -> dict[str, Any]:
    return {"model": "doubao-seedance-2.0", "content": [{"type": "text", "text": "a kite"}], "duration": 5, **body}


def hh(model: str, media: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    return {"model": model, "input": {"prompt": "a horse", "media": media}, "parameters": params}


def wan(**params: Any) -> dict[str, Any]:
    return {"model": "wan3.0-video", "input": {"prompt": "a river"}, "parameters": params}


REFUSED = [
    (seedance(duration="5"), "duration must be an integer"),  # a JSON string where Ark takes a number
    (seedance(seed=2**32), "seed must be one of -1-4294967295"),
    (seedance(seed="42"), "seed must be an integer"),
    (seedance(watermark="false"), "watermark must be a boolean"),
    (seedance(generate_audio=1), "generate_audio must be a boolean"),
    (seedance(content=[{"type": "text", "text": "x"},
                       {"type": "image_url", "image_url": {"url": "not a url"}, "role": "first_frame"}]),
     "content[1].image_url.url must be a public http(s) URL"),
    (seedance(content=[{"type": "text", "text": "x"},
                       {"type": "image_url", "image_url": {"url": "https://c/a.png"}, "role": "reference_image"},
                       {"type": "video_url", "video_url": {"url": "data:image/png;base64,AAAA"},
                        "role": "reference_video"}]), "content[2].video_url.url must be a public http(s) URL"),
    # §5.1: videos and audios by URL only (images may be data URLs)
    (seedance(model="doubao-seedance-2.0-V2V", content=[
        {"type": "text", "text": "x"},
        {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}, "role": "reference_video"}]),
     "content[1].video_url.url must be a public http(s) URL (a video is taken by URL only)"),
    (seedance(content=[{"type": "text", "text": "x"},
                       {"type": "image_url", "image_url": {"url": "https://c/a.png"}, "role": "reference_image"},
                       {"type": "audio_url", "audio_url": {"url": "data:audio/wav;base64,AAAA"},
                        "role": "reference_audio"}]), "an audio is taken by URL only"),
    (hh("happyhorse-1.0-video-edit", [{"type": "video", "url": V}, {"type": "first_frame", "url": V}]),
     "video-edit needs exactly one media item of type video"),
    (hh("happyhorse-1.0-r2v", [{"type": "reference_image", "url": " "}]), "each with a URL"),
    (hh("happyhorse-1.0-t2v", [], duration="5"), "parameters.duration must be an integer"),
    (hh("happyhorse-1.0-t2v", [], watermark="no"), "parameters.watermark must be a boolean"),
    ({"model": "happyhorse-1.0-t2v", "input": {"prompt": "a horse"}, "parameters": None}, "parameters must be an object"),
    (wan(seed=-5), "parameters.seed must be one of 0-2147483647"),
    (wan(audio="yes"), "parameters.audio must be a boolean"),
    ({"model": "kling-v3", "prompt": "x", "file_infos": [info(), info(Url=L)]}, "a second FirstFrame"),
    ({"model": "kling-v3", "prompt": "x", "audio_generation": "true"}, "audio_generation must be a boolean"),
    ({"model": "veo3.1", "prompt": "x", "generationType": "REFERENCE_2_VIDEO", "imageUrls": F},
     "imageUrls must be a list"),
    ({"model": "veo3.1", "prompt": "x", "enableTranslation": "true"}, "enableTranslation must be a boolean"),
    (hailuo("MiniMax-Hailuo-2.3", duration=5), "duration must be one of 6/10"),  # 5 s is 02's only
    (hailuo("MiniMax-Hailuo-2.3", metadata={"first_frame_image": F, "last_frame_image": L}),
     "last_frame_image is MiniMax-Hailuo-02's only"),
    (hailuo("MiniMax-Hailuo-02", prompt="x" * 2001), "prompt is longer than 2000 characters"),
    (hailuo("MiniMax-Hailuo-02", metadata={"prompt_optimizer": "true"}), "metadata.prompt_optimizer must be a boolean"),
]


@pytest.mark.parametrize(("body", "why"), REFUSED, ids=[f"{b['model']}-{i}" for i, (b, _) in enumerate(REFUSED)])
def test_bodies_the_service_refuses_are_refused(sim: TestClient, body: dict[str, Any], why: str) -> None:
    r = sim.post("/v1/video/generations", json=body, headers=AUTH)
    assert r.status_code == 400, r.text
    env = r.json()
    assert set(env) == {"code", "message", "data"} and env["data"] is None and why in env["message"], env


ACCEPTED = [
    seedance(seed=-1, watermark=False, generate_audio=True),
    seedance(content=[{"type": "text", "text": "x"},
                      {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}, "role": "first_frame"}]),
    hh("happyhorse-1.0-video-edit", [{"type": "video", "url": V}, {"type": "reference_image", "url": F}]),
    wan(seed=7, audio=True, watermark=False, prompt_extend=True),
    {"model": "kling-v3", "prompt": "x", "file_infos": [info(), info(Url=L, Usage="LastFrame")],
     "audio_generation": True},
    hailuo("MiniMax-Hailuo-02", duration=5, metadata={"first_frame_image": F, "last_frame_image": L}),
    hailuo("MiniMax-Hailuo-2.3", duration=10),
]


@pytest.mark.parametrize("body", ACCEPTED, ids=[f"{b['model']}-{i}" for i, b in enumerate(ACCEPTED)])
def test_bodies_the_service_takes_are_taken(sim: TestClient, body: dict[str, Any]) -> None:
    r = sim.post("/v1/video/generations", json=body, headers=AUTH)
    assert r.status_code == 200, r.text


def test_hailuo_drops_top_level_images(sim: TestClient) -> None:
    """§5.2: the Hailuo adaptor maps no top-level ``image``/``images``: a body that puts its frame there gets a clip
    that does not start from it (the frame goes in ``metadata.first_frame_image``)."""
    from tokenhot_nb.sim import _video_bodies

    assert _video_bodies.read("MiniMax-Hailuo-02", hailuo("MiniMax-Hailuo-02", images=[F])).first_frame is None
    kept = _video_bodies.read("MiniMax-Hailuo-02", hailuo("MiniMax-Hailuo-02", metadata={"first_frame_image": F}))
    assert kept.first_frame == F
