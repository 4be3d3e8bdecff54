"""Video family: create bodies per family, polls, and status normalisation over every documented shape."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb import catalog
from tokenhot_nb.errors import APIError, InputError, UnsupportedOptionError
from tokenhot_nb.families import video

FIX = Path(__file__).parent / "fixtures" / "reference"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


# --- create bodies -----------------------------------------------------------------------------------------


def test_happyhorse_i2v_matches_the_documented_request() -> None:
    doc = load("happyhorse_i2v_request.json")
    call = video.build_create(catalog.model("happyhorse-1.0-i2v"), doc["input"]["prompt"],
                              images=[doc["input"]["media"][0]["url"]], duration=5, resolution="720p")
    assert (call.method, call.path, call.billed_create) == ("POST", "/v1/video/generations", True)
    assert call.json == doc


def test_happyhorse_modes() -> None:
    t2v = video.build_create(catalog.model("happyhorse-1.0-t2v"), "a horse", ratio="9:16", seed=5).json
    assert t2v == {"model": "happyhorse-1.0-t2v", "input": {"prompt": "a horse"},
                   "parameters": {"resolution": "720P", "duration": 5, "ratio": "9:16", "watermark": False, "seed": 5}}
    r2v = video.build_create(catalog.model("happyhorse-1.0-r2v"), "p", images=[(PNG, "image/png"), "https://x/b.png"]).json
    assert r2v is not None
    assert r2v["input"]["media"] == [{"type": "reference_image", "url": PNG_URL},
                                     {"type": "reference_image", "url": "https://x/b.png"}]
    edit = video.build_create(catalog.model("happyhorse-1.0-video-edit"), "make it snow", video="https://x/v.mp4",
                              images=["https://x/ref.png"]).json
    assert edit == {"model": "happyhorse-1.0-video-edit",
                    "input": {"prompt": "make it snow", "media": [{"type": "video", "url": "https://x/v.mp4"},
                                                                  {"type": "reference_image", "url": "https://x/ref.png"}]},
                    "parameters": {"resolution": "720P", "watermark": False}}


def test_happyhorse_media_rules() -> None:
    with pytest.raises(UnsupportedOptionError, match="text-only"):
        video.build_create(catalog.model("happyhorse-1.0-t2v"), "p", images=["https://x/a.png"])
    with pytest.raises(InputError, match="needs an input image"):
        video.build_create(catalog.model("happyhorse-1.0-i2v"), "p")
    with pytest.raises(InputError, match="exactly one first-frame image"):
        video.build_create(catalog.model("happyhorse-1.0-i2v"), "p", images=["https://a", "https://b"])
    with pytest.raises(UnsupportedOptionError, match=r"happyhorse-1\.0-i2v does not take the option 'ratio'"):
        video.build_create(catalog.model("happyhorse-1.0-i2v"), "p", images=["https://a"], ratio="16:9")
    with pytest.raises(InputError, match="transforms a video"):
        video.build_create(catalog.model("happyhorse-1.0-video-edit"), "p")
    with pytest.raises(UnsupportedOptionError, match="duration"):
        video.build_create(catalog.model("happyhorse-1.0-video-edit"), "p", video="https://v", duration=5)
    with pytest.raises(UnsupportedOptionError, match="takes 1–9 reference images; got 10 images"):
        video.build_create(catalog.model("happyhorse-1.0-r2v"), "p", images=["https://a"] * 10)


def test_happyhorse_1_1_uses_the_same_body() -> None:
    body = video.build_create(catalog.model("happyhorse-1.1-i2v"), "go", images=["https://x/f.png"],
                              resolution="1080p", duration=8).json
    assert body == {"model": "happyhorse-1.1-i2v", "input": {"prompt": "go", "media": [
        {"type": "first_frame", "url": "https://x/f.png"}]},
        "parameters": {"resolution": "1080P", "duration": 8, "watermark": False}}


def test_seedance_matches_the_native_top_level_body() -> None:
    doc = load("seedance_native_request.json")
    call = video.build_create(catalog.model("doubao-seedance-2.0"), "A cat surfing",
                              images=["https://example.com/first.png"], duration=5, resolution="720P",
                              ratio="16:9", seed=42)
    assert call.json == doc and call.billed_create
    assert "metadata" not in call.json and "prompt" not in call.json


def test_seedance_roles_and_v2v() -> None:
    m = catalog.model("doubao-seedance-1-5-pro-251215")
    two = video.build_create(m, "p", images=[(PNG, "image/png"), "https://x/last.png"]).json
    assert two is not None
    assert two["content"][0] == {"type": "text", "text": "p"}
    assert [c["role"] for c in two["content"][1:]] == ["first_frame", "last_frame"]
    assert two["content"][1]["image_url"]["url"] == PNG_URL
    assert two["duration"] == 5 and two["resolution"] == "720p"
    v2v = video.build_create(catalog.model("seedance-2.0-fast-v2v"), "restyle", video="https://x/in.mp4",
                             images=["https://x/ref.png"], audio="https://x/a.mp3").json
    assert v2v is not None
    assert v2v["content"] == [
        {"type": "text", "text": "restyle"},
        {"type": "image_url", "image_url": {"url": "https://x/ref.png"}, "role": "reference_image"},
        {"type": "video_url", "video_url": {"url": "https://x/in.mp4"}, "role": "reference_video"},
        {"type": "audio_url", "audio_url": {"url": "https://x/a.mp3"}, "role": "reference_audio"}]
    refs = video.build_create(catalog.model("doubao-seedance-2.0"), "p", images=["https://a", "https://b", "https://c"]).json
    assert refs is not None and {c.get("role") for c in refs["content"][1:]} == {"reference_image"}
    explicit = video.build_create(catalog.model("doubao-seedance-2.0"), "p",
                                  images=[{"image": "https://y", "role": "first_frame"},
                                          {"image": "https://z", "role": "last_frame"}]).json
    assert explicit is not None and explicit["content"][2]["role"] == "last_frame"


def test_seedance_validation() -> None:
    with pytest.raises(InputError, match="transforms a video"):
        video.build_create(catalog.model("doubao-seedance-2.0-V2V"), "p")
    with pytest.raises(UnsupportedOptionError, match="takes no input video"):
        video.build_create(catalog.model("doubao-seedance-1-5-pro-251215"), "p", video="https://v")
    with pytest.raises(UnsupportedOptionError, match="takes at most 3 input video"):
        video.build_create(catalog.model("doubao-seedance-2.0"), "p", video=["https://v"] * 4)
    with pytest.raises(InputError, match="audio alone"):
        video.build_create(catalog.model("doubao-seedance-2.0"), "p", audio="https://a.mp3")
    # issue #12: the allowed list, never a nearest-string guess ('1080p' is not close to '480p')
    with pytest.raises(UnsupportedOptionError, match=r"resolution='1080p'; allowed: 480p, 720p\.") as err:
        video.build_create(catalog.model("doubao-seedance-2.0-fast"), "p", resolution="1080p")
    assert "480p'?" not in str(err.value) and "Did you mean" not in str(err.value)
    with pytest.raises(UnsupportedOptionError, match=r"allowed: 480p, 720p"):
        video.build_create(catalog.model("doubao-seedance-2-0-mini"), "p", resolution="1080p")
    assert video.build_create(catalog.model("doubao-seedance-2.0"), "p", resolution="1080p").json["resolution"] == "1080p"  # type: ignore[index]
    with pytest.raises(UnsupportedOptionError, match=r"duration=20; allowed: 4–15 s \(or -1 = automatic\)"):
        video.build_create(catalog.model("doubao-seedance-2.0"), "p", duration=20)
    assert video.build_create(catalog.model("doubao-seedance-2-5"), "p", duration=30).json["duration"] == 30  # type: ignore[index]
    with pytest.raises(UnsupportedOptionError, match=r"ratio='5:4'; allowed: 16:9, 4:3, 1:1, 3:4, 9:16, 21:9, adaptive"):
        video.build_create(catalog.model("doubao-seedance-2.0"), "p", ratio="5:4")
    with pytest.raises(UnsupportedOptionError, match=r"takes a first frame \(optionally with a last frame\); got 3 images"):
        video.build_create(catalog.model("doubao-seedance-1-5-pro-251215"), "p", images=["https://a"] * 3)
    with pytest.raises(UnsupportedOptionError, match="1–9 reference images"):
        video.build_create(catalog.model("doubao-seedance-2.0"), "p", images=["https://a"] * 10)
    assert len(video.build_create(catalog.model("doubao-seedance-2-5"), "p",
                                  images=["https://a"] * 30).json["content"]) == 31  # type: ignore[index]
    with pytest.raises(InputError, match="cannot be mixed"):
        video.build_create(catalog.model("doubao-seedance-2.0"), "p",
                           images=[{"image": "https://a", "role": "first_frame"},
                                   {"image": "https://b", "role": "reference_image"}])
    assert video.build_create(catalog.model("doubao-seedance-2.0"), "p", duration=-1).json["duration"] == -1  # type: ignore[index]


def test_seedance_2_5_first_frame_needs_adaptive_ratio() -> None:
    m = catalog.model("doubao-seedance-2.5")
    body = video.build_create(m, "p", images=["https://f.png"]).json
    assert body is not None and body["ratio"] == "adaptive"
    with pytest.raises(UnsupportedOptionError, match=r"first-frame image needs ratio='adaptive'.*got ratio='16:9'"):
        video.build_create(m, "p", images=["https://f.png"], ratio="16:9")
    assert video.build_create(m, "p", ratio="16:9").json["ratio"] == "16:9"  # type: ignore[index]


def test_hailuo_matches_the_generic_example() -> None:
    doc = load("hailuo_create_request.json")
    call = video.build_create(catalog.model("hailuo-2.3"), doc["prompt"], images=["https://example.com/f.jpg"])
    assert call.json == doc


def test_hailuo_rules() -> None:
    with pytest.raises(UnsupportedOptionError, match="1080P videos of at most 6 s"):
        video.build_create(catalog.model("MiniMax-Hailuo-2.3"), "p", resolution="1080p", duration=10)
    assert video.build_create(catalog.model("MiniMax-Hailuo-2.3"), "p", resolution="1080",
                              duration=6).json["size"] == "1080P"  # type: ignore[index]
    with pytest.raises(UnsupportedOptionError, match="ratio"):
        video.build_create(catalog.model("MiniMax-Hailuo-2.3"), "p", ratio="16:9")
    with pytest.raises(UnsupportedOptionError, match="seed"):
        video.build_create(catalog.model("MiniMax-Hailuo-2.3"), "p", seed=1)
    with pytest.raises(UnsupportedOptionError, match=r"duration=8; allowed: 6, 10 s"):
        video.build_create(catalog.model("MiniMax-Hailuo-2.3"), "p", duration=8)
    both = video.build_create(catalog.model("MiniMax-Hailuo-02"), "p", images=["https://f", "https://l"],
                              resolution="512P").json
    assert both is not None
    assert both["metadata"] == {"first_frame_image": "https://f", "last_frame_image": "https://l", "prompt_optimizer": True}
    # issue #12: 2.3 takes one image; the error must not suggest a last_frame role it does not take
    with pytest.raises(UnsupportedOptionError, match=r"MiniMax-Hailuo-2\.3 takes a first frame; got 2 images\.") as err:
        video.build_create(catalog.model("MiniMax-Hailuo-2.3"), "p", images=["https://f", "https://l"])
    assert "last_frame" not in str(err.value) and "last frame" not in str(err.value)


def test_extra_raw_and_videos_endpoint() -> None:
    m = catalog.model("doubao-seedance-2.0")
    body = video.build_create(m, "p", extra={"generate_audio": False, "return_last_frame": True}).json
    assert body is not None and body["generate_audio"] is False and body["return_last_frame"] is True
    hh = video.build_create(catalog.model("happyhorse-1.0-t2v"), "p", extra={"parameters": {"watermark": True}}).json
    assert hh is not None and hh["parameters"]["watermark"] is True and hh["parameters"]["duration"] == 5
    raw = video.build_create(m, "ignored", raw={"model": "x", "content": []})
    assert raw.json == {"model": "x", "content": []} and raw.billed_create
    unlisted = catalog.model("my-seedance", family="seedance")
    assert video.build_create(unlisted, "p").path == "/v1/video/generations"
    with pytest.raises(UnsupportedOptionError, match="not a video model"):
        video.build_create(catalog.model("gpt-image-2"), "p")
    with pytest.raises(InputError, match="prompt is empty"):
        video.build_create(m, "")


def test_build_poll() -> None:
    assert video.build_poll("task_abc").path == "/v1/video/generations/task_abc"
    assert video.build_poll("task_abc", "videos").path == "/v1/videos/task_abc"
    assert video.build_poll("a/b").path == "/v1/video/generations/a%2Fb"
    assert video.build_poll("t").method == "GET"
    with pytest.raises(ValueError, match="generations"):
        video.build_poll("t", "nope")


# --- parsing -------------------------------------------------------------------------------------------------


def test_parse_documented_create_response() -> None:
    st = video.parse_create(load("happyhorse_create_response.json"))
    assert st.task_id == "task_kQm0hVZ2aFJ8mXb1pY3sT7uW9cE4dR6n"
    assert st.state == "pending" and st.progress == 0 and st.raw_status == "queued" and not st.done


def test_parse_create_variants() -> None:
    assert video.parse_create({"id": "task_1"}).task_id == "task_1"
    assert video.parse_create({"code": "success", "data": {"task_id": "task_2"}}).task_id == "task_2"
    assert video.parse_create({"task_id": "task_3", "id": "upstream"}).task_id == "task_3"
    with pytest.raises(APIError, match="no task id: model_price_error") as exc:
        video.parse_create({"code": "model_price_error", "message": "model_price_error", "data": None})
    assert exc.value.code == "model_price_error"


@pytest.mark.parametrize("body", [{"error": "upstream refused"}, {"error": {"message": "upstream refused"}},
                                  {"error": {"type": "upstream refused"}}])
def test_a_create_answered_200_with_an_error_says_what_the_relay_said(body: dict[str, Any]) -> None:
    """A bare-string error (or one with only a type) was dropped: "The video create reply has no task id." alone."""
    with pytest.raises(APIError, match="no task id: upstream refused"):
        video.parse_create(body)


def test_parse_create_with_the_id_only_in_data_id() -> None:
    """§10.2: the create answer may carry its id only in ``data.id``."""
    st = video.parse_create({"code": "success", "message": "", "data": {"id": "task_only_in_data_id"}})
    assert (st.task_id, st.state, st.progress) == ("task_only_in_data_id", "pending", 0)


@pytest.mark.parametrize("upstream", [
    {"output": {"task_id": "u1", "task_status": "SUCCEEDED", "video_url": "https://cdn.example.com/out.mp4"}},
    {"metadata": {"url": "https://cdn.example.com/out.mp4"}, "status": "completed"},
], ids=["data.data.output.video_url", "data.data.metadata.url"])
def test_taskdto_video_url_read_from_the_upstream_copy(upstream: dict[str, Any]) -> None:
    """§10.3: with an empty ``result_url`` the URL may sit in the upstream body under ``data.data``."""
    body = {"code": "success", "message": "", "data": {
        "task_id": "task_u", "status": "SUCCESS", "progress": "100%", "result_url": "", "fail_reason": "",
        "quota": 125000, "data": upstream}}
    st = video.parse_status("task_u", body)
    assert (st.state, st.url, st.quota) == ("succeeded", "https://cdn.example.com/out.mp4", 125000)


@pytest.mark.parametrize(("status", "progress", "expected"), [
    ("NOT_START", "0%", 0), ("SUBMITTED", "0%", 0), ("QUEUED", "10%", 10), ("QUEUED", "", 0),
])
def test_taskdto_waiting_statuses_are_pending(status: str, progress: str, expected: int) -> None:
    """§10.3: NOT_START, SUBMITTED and QUEUED come before IN_PROGRESS; all three are waiting, not failed or done."""
    body = {"code": "success", "data": {"task_id": "task_w", "status": status, "progress": progress,
                                        "result_url": "", "fail_reason": "", "quota": 0, "data": {}}}
    st = video.parse_status("task_w", body)
    assert (st.state, st.raw_status, st.progress) == ("pending", status, expected)
    assert not st.done and st.url is None and st.error is None


def test_parse_other_ratios_keeps_numbers_only() -> None:
    """§10.5: ``X-New-Api-Other-Ratios`` is JSON of billing multipliers; anything else in it is dropped."""
    assert video.parse_other_ratios({"x-new-api-other-ratios": '{"seconds":5,"size":2.0,"video_input":1.5}'}) == {
        "seconds": 5.0, "size": 2.0, "video_input": 1.5}
    assert video.parse_other_ratios({"X-New-Api-Other-Ratios": '{"seconds": 4}'}) == {"seconds": 4.0}
    hostile = '{"size": 1, "x": "<script>", "y": true, "z": [1], "w": NaN, "v": 1e999}'
    assert video.parse_other_ratios({"x-new-api-other-ratios": hostile}) == {"size": 1.0}
    for bad in ("", "not json", "[1, 2]", "null", '{"a": "b"}', '{"a": ' + "1" * 5000 + "}"):
        assert video.parse_other_ratios({"x-new-api-other-ratios": bad}) is None, bad
    assert video.parse_other_ratios({"content-type": "application/json"}) is None
    many = "{" + ",".join(f'"k{i}": {i}' for i in range(40)) + "}"
    assert len(video.parse_other_ratios({"x-new-api-other-ratios": many}) or {}) == 16


def test_taskdto_wrapper_success_with_seedance_inside() -> None:
    st = video.parse_status("task_abc", load("taskdto_seedance_success.json"))
    assert (st.state, st.progress, st.raw_status) == ("succeeded", 100, "SUCCESS")
    assert st.url == "https://tos.example.com/video.mp4" and st.error is None and st.done
    assert st.usage.total_tokens == 108900 and st.usage.video_seconds == 5.0


def test_taskdto_in_progress_with_string_progress() -> None:
    st = video.parse_status("task_def", load("taskdto_in_progress.json"))
    assert (st.state, st.progress, st.url) == ("running", 50, None)


def test_taskdto_failure_reason_and_code() -> None:
    st = video.parse_status("task_bad", load("taskdto_failure.json"))
    assert st.state == "failed" and st.done
    assert st.error == "The input text may contain sensitive information"
    assert st.error_code == "DataInspectionFailed"


def test_taskdto_legacy_url_in_fail_reason() -> None:
    st = video.parse_status("task_hh", load("taskdto_happyhorse_legacy.json"))
    assert st.state == "succeeded" and st.url == "https://dashscope.example.com/hh.mp4" and st.error is None


def test_simplified_gemini_task() -> None:
    st = video.parse_status("task_veo", load("gemini_task_simplified.json"))
    assert (st.state, st.url, st.progress) == ("succeeded", "https://storage.example.com/veo.mp4", 100)


def test_openai_video_shapes() -> None:
    st = video.parse_status("task_ov", load("openai_video.json"))
    assert (st.state, st.url, st.progress) == ("succeeded", "https://tos.example.com/ov.mp4", 100)
    assert st.usage.video_seconds == 5.0
    bad = video.parse_status("task_of", load("openai_video_failed.json"))
    assert (bad.state, bad.error, bad.error_code) == ("failed", "content moderation", "1026")
    running = video.parse_status("t", {"id": "t", "object": "video", "status": "in_progress", "progress": 30})
    assert (running.state, running.progress) == ("running", 30)


def test_raw_upstream_shapes() -> None:
    st = video.parse_status("cgt-2025", load("seedance_raw.json"))
    assert st.state == "running" and st.url is None
    ok = video.parse_status(None, load("seedance_raw_success.json"))
    assert ok.task_id == "cgt-2026" and ok.url == "https://tos.example.com/raw.mp4" and ok.state == "succeeded"
    ali = video.parse_status("x", {"output": {"task_id": "x", "task_status": "RUNNING"}})
    assert ali.state == "running"
    gone = video.parse_status("x", {"output": {"task_id": "x", "task_status": "UNKNOWN"}})
    assert gone.state == "failed"
    dto_unknown = video.parse_status("x", {"code": "success", "data": {"task_id": "x", "status": "UNKNOWN"}})
    assert dto_unknown.state == "unknown" and not dto_unknown.done
    mm = video.parse_status("306", {"task_id": "306", "status": "Queueing", "base_resp": {"status_code": 0}})
    assert mm.state == "pending"
    volc = video.parse_status("c", {"id": "c", "status": "expired", "error": {"code": "Timeout", "message": "expired"}})
    assert (volc.state, volc.error, volc.error_code) == ("failed", "expired", "Timeout")


def test_task_envelope_error_on_2xx_is_failed() -> None:
    st = video.parse_status("task_zz", load("task_not_exist.json"))
    assert st.state == "failed" and st.error_code == "task_not_exist"


@pytest.mark.parametrize(("raw", "expected"),
                         [("50%", 50), (50, 50), (0.5, 50), ("0.5", 50), ("100%", 100), (150, 100), ("", None),
                          (None, None), ("30", 30), (1, 1), (True, None)])
def test_parse_progress(raw: Any, expected: int | None) -> None:
    assert video.parse_progress(raw) == expected


def test_non_dict_status_is_unknown() -> None:
    st = video.parse_status("t", "oops")
    assert st.state == "unknown" and st.task_id == "t"


@pytest.mark.parametrize("tid", [".", "..", " .. "])
def test_a_dot_segment_is_no_task_id(tid: str) -> None:
    """``/v1/video/generations/..`` is the URL of another path once resolved: never polled."""
    with pytest.raises(InputError, match="is no task id"):
        video.build_poll(tid)
    assert video.build_poll("..x").path.endswith("/..x")


def test_a_ratio_named_after_the_key_keeps_no_part_of_it() -> None:
    """A ratio's name was cut to 40 characters and then redacted (in the row): a key as the name (a relay echoing
    what it got) lost its end and its first 40 characters stayed in the history."""
    from tokenhot_nb._config import Secret

    key = "Lk2jHg6fDs0aPo4iUy8tRe3wQm7nBv1cXz5lKj9hGf2dSa6pOi"  # (as new-api echoes a key: without its sk-)
    Secret(key)
    ratios = video.parse_other_ratios({"X-New-Api-Other-Ratios": json.dumps({key: 1.5, "seconds": 5})})
    assert ratios == {"sk-****": 1.5, "seconds": 5.0}
