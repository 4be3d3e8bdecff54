"""The §10.2 video protocols (Kling, Veo 3.1, Wan 3.0, Grok Imagine, Gemini Omni) and §10.3 status reading."""

from __future__ import annotations

import pytest

from tokenhot_nb import catalog
from tokenhot_nb.errors import InputError, UnsupportedOptionError
from tokenhot_nb.families import video

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
F, L = "https://cdn.example.com/first.png", "https://cdn.example.com/last.png"


def body(model: str, prompt: str = "a fox", **kw: object) -> dict:
    call = video.build_create(catalog.model(model), prompt, **kw)  # type: ignore[arg-type]
    assert call.method == "POST" and call.path == "/v1/video/generations" and call.billed_create
    assert call.json is not None
    return call.json


def test_kling_body() -> None:
    assert body("kling-v3", duration=10, resolution="1080p", ratio="9:16") == {
        "model": "kling-v3", "prompt": "a fox", "duration": 10, "size": "1080P", "aspect_ratio": "9:16"}
    two = body("kling-v3", images=[F, L])
    assert two["prompt"] == "<<<image_1>>> a fox"
    assert two["file_infos"] == [
        {"Type": "Url", "Category": "Image", "Url": F, "Usage": "FirstFrame"},
        {"Type": "Url", "Category": "Image", "Url": L, "Usage": "LastFrame"}]
    with pytest.raises(UnsupportedOptionError, match=r"duration=2; allowed: 3–15 s"):
        body("kling-v3", duration=2)
    with pytest.raises(UnsupportedOptionError, match=r"ratio='4:3'; allowed: 16:9, 9:16, 1:1"):
        body("kling-v3", ratio="4:3")


@pytest.mark.parametrize("model", ["kling-v3", "veo3.1", "grok-imagine-video-1-5-preview", "gemini-omni-video"])
def test_public_url_families_refuse_local_bytes(model: str) -> None:
    with pytest.raises(InputError, match=r"takes images only as public http\(s\) URLs; got a local file or bytes"):
        body(model, images=[(PNG, "image/png")])


def test_veo_generation_types() -> None:
    assert body("veo3.1") == {"model": "veo3.1", "prompt": "a fox", "resolution": "720p", "duration": 8,
                              "generationType": "TEXT_2_VIDEO"}
    frames = body("veo3.1", images=[F, L], duration=6, ratio="9:16")
    assert frames["generationType"] == "FIRST_AND_LAST_FRAMES_2_VIDEO" and frames["imageUrls"] == [F, L]
    refs = body("veo3.1", images=[{"image": F, "role": "reference_image"}] * 3)
    assert refs["generationType"] == "REFERENCE_2_VIDEO" and refs["duration"] == 8 and len(refs["imageUrls"]) == 3
    with pytest.raises(UnsupportedOptionError, match="with reference images makes 8 s videos only; got duration=4"):
        body("veo3.1", images=[{"image": F, "role": "reference_image"}], duration=4)
    with pytest.raises(UnsupportedOptionError, match="1–3 reference images"):
        body("veo3.1", images=[{"image": F, "role": "reference_image"}] * 4)
    with pytest.raises(UnsupportedOptionError, match=r"duration=5; allowed: 4, 6, 8 s"):
        body("veo3.1", duration=5)


def test_wan3_body_and_adaptive_ratio() -> None:
    assert body("wan3.0-video", duration=30, resolution="480p", ratio="16:9", seed=3) == {
        "model": "wan3.0-video", "input": {"prompt": "a fox"},
        "parameters": {"resolution": "480P", "ratio": "16:9", "duration": 30, "prompt_extend": True,
                       "watermark": False, "seed": 3}}
    i2v = body("wan3.0-video", images=[(PNG, "image/png")])  # base64 is fine here
    assert i2v["input"]["media"][0]["type"] == "first_frame" and i2v["input"]["media"][0]["url"].startswith("data:")
    assert i2v["parameters"]["ratio"] == "adaptive"
    with pytest.raises(UnsupportedOptionError, match=r"duration=31; allowed: 2–30 s"):
        body("wan3.0-video", duration=31)


def test_grok_is_image_to_video_only() -> None:
    assert body("grok-imagine-video-1-5-preview", images=[F], ratio="16:9", duration=15) == {
        "model": "grok-imagine-video-1-5-preview",
        "input": {"image_urls": [F], "prompt": "a fox", "aspect_ratio": "16:9", "resolution": "720p", "duration": 15}}
    with pytest.raises(InputError, match="needs an input image"):
        body("grok-imagine-video-1-5-preview")
    with pytest.raises(UnsupportedOptionError, match="takes a first frame; got 2 images"):
        body("grok-imagine-video-1-5-preview", images=[F, L])
    with pytest.raises(UnsupportedOptionError, match=r"resolution='1080p'; allowed: 480p, 720p\."):
        body("grok-imagine-video-1-5-preview", images=[F], resolution="1080p")


def test_gemini_omni_body() -> None:
    got = body("gemini-omni-video", images=[F] * 7, duration=10, ratio="9:16", resolution="4K")
    assert got == {"model": "gemini-omni-video", "input": {"prompt": "a fox", "duration": "10", "aspect_ratio": "9:16",
                                                           "resolution": "4k", "image_urls": [F] * 7}}
    with pytest.raises(UnsupportedOptionError, match="1–7 reference images; got 8 images"):
        body("gemini-omni-video", images=[F] * 8)
    with pytest.raises(UnsupportedOptionError, match=r"duration=5; allowed: 4, 6, 8, 10 s"):
        body("gemini-omni-video", duration=5)


def test_every_video_model_builds_a_default_body() -> None:
    """Each catalogue video model, with the inputs it needs, builds a body without error."""
    for m in catalog.models("video"):
        images = [F] if m.can("requires_image") else []
        vid = "https://cdn.example.com/in.mp4" if m.can("requires_video") else None
        call = video.build_create(m, "a fox", images=images, video=vid)
        assert call.json and call.json["model"] == m.id
        if m.family == "seedance":
            assert call.json["content"][0] == {"type": "text", "text": "a fox"} and "metadata" not in call.json


# --- status (§10.3) ------------------------------------------------------------------------------------


def _taskdto(**data: object) -> dict:
    return {"code": "success", "message": "", "data": {"task_id": "task_1", **data}}


def test_quota_is_read_into_the_status() -> None:
    st = video.parse_status("task_1", _taskdto(status="SUCCESS", progress="100%", quota=187500,
                                                result_url="https://h/v1/videos/task_1/content"))
    assert st.state == "succeeded" and st.quota == 187500 and st.url == "https://h/v1/videos/task_1/content"
    assert video.parse_status("task_1", _taskdto(status="QUEUED")).quota is None
    assert video.parse_status("task_1", _taskdto(status="QUEUED", quota="x")).quota is None


def test_unknown_status_words_are_running() -> None:
    for word in ("RENDERING", "warming_up", "UNKNOWN"):
        st = video.parse_status("t", _taskdto(status=word))
        assert st.state in ("running", "unknown") and not st.done


@pytest.mark.parametrize("inner", [
    {"content": {"video_url": "https://v/a.mp4", "last_frame_url": "https://v/last.png"}},
    {"video_url": "https://v/a.mp4"},
    {"output": {"video_url": "https://v/a.mp4"}},
    {"metadata": {"url": "https://v/a.mp4"}},
])
def test_every_video_url_location(inner: dict) -> None:
    st = video.parse_status("t", _taskdto(status="SUCCESS", result_url="", data=inner))
    assert st.url == "https://v/a.mp4"
    if "content" in inner:
        assert st.last_frame_url == "https://v/last.png"


def test_seconds_from_the_task() -> None:
    st = video.parse_status("t", {"id": "t", "status": "completed", "seconds": "12", "metadata": {"url": "https://v"}})
    assert st.usage.video_seconds == 12.0
