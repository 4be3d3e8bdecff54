"""Video task status: numbers a relay gets absurdly wrong (JSON's 1e400 is infinity) are treated as missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import Recorder, make_session

from tokenhot_nb.families import video
from tokenhot_nb.results import VideoResult

#: Valid JSON whose numbers do not fit: ``json.loads`` turns 1e400 into inf and keeps 10**400 as an int.
ABSURD = '{"code":"success","message":"","data":{"task_id":"t1","status":"SUCCESS","progress":1e400,' \
         '"quota":1e400,"seconds":1e400,"result_url":"https://h/v1/videos/t1/content","usage":{"duration":1e400,' \
         '"total_tokens":1' + "0" * 400 + '}}}'


def test_an_infinite_quota_or_duration_is_no_figure_and_the_video_still_counts() -> None:
    st = video.parse_status("t1", json.loads(ABSURD))
    assert st.state == "succeeded" and st.url == "https://h/v1/videos/t1/content"
    assert st.quota is None
    assert st.progress == 100  # succeeded says 100 whatever the field says
    assert st.usage.video_seconds == 0.0 and st.usage.total_tokens == 0


@pytest.mark.parametrize("quota", [float("inf"), float("-inf"), float("nan"), 10**400, "1e400", True],
                         ids=["inf", "-inf", "nan", "10**400", "text", "bool"])
def test_quota_that_is_no_number_is_none(quota: Any) -> None:
    body = {"code": "success", "data": {"task_id": "t", "status": "SUCCESS", "quota": quota}}
    assert video.parse_status("t", body).quota is None


def test_a_plain_quota_is_kept() -> None:
    body = {"code": "success", "data": {"task_id": "t", "status": "SUCCESS", "quota": 187500.0}}
    assert video.parse_status("t", body).quota == 187500


@pytest.mark.parametrize(("raw", "expected"), [(float("inf"), None), (float("nan"), None), (10**400, None),
                                               ("1" * 400 + "%", None), (float("-inf"), None), (55, 55)],
                         ids=["inf", "nan", "10**400", "400-digit-text", "-inf", "55"])
def test_progress_that_is_no_number_is_none(raw: Any, expected: int | None) -> None:
    assert video.parse_progress(raw) == expected


class _AbsurdQuota(Recorder):
    """The simulator, with every video status answer saying ``"quota": 1e400`` (top level and in ``data``)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        json_answer = "json" in response.headers.get("content-type", "")
        if request.method != "GET" or "/video" not in request.url.path or not json_answer:
            return response
        body = json.loads(await response.aread())
        if not isinstance(body, dict):
            return response
        body["quota"] = "__INF__"
        if isinstance(body.get("data"), dict):
            body["data"]["quota"] = "__INF__"
        raw = json.dumps(body).replace('"__INF__"', "1e400").encode()
        return httpx.Response(200, headers={"content-type": "application/json"}, content=raw)


def test_a_finished_video_with_an_infinite_quota_is_fetched_and_resumable(tmp_path: Path) -> None:
    """Once every poll raised OverflowError: the paid video was never fetched and its row stayed pending."""
    server = _AbsurdQuota()
    s1 = make_session(tmp_path / "st", server)
    try:
        res = s1.video("rain", model="kling-v3", progress=False)
        assert isinstance(res, VideoResult) and res.path.stat().st_size > 0
        entry = s1.history.get(res.entry_id)
        assert entry.status == "ok" and entry.response.get("quota") is None
        task = s1.video("snow", model="kling-v3", wait=False, progress=False)
    finally:
        s1.close()
    s2 = make_session(tmp_path / "st", server)
    try:
        again = s2.resume(task.task_id).wait(progress=False)
        assert isinstance(again, VideoResult) and s2.history.get(task.entry_id).status == "ok"
    finally:
        s2.close()


ECHOED = "relay-video-secret-Zq9-not-sk-shaped"


def test_a_key_echoed_in_a_task_answer_is_masked_in_the_status_and_the_create_error() -> None:
    """``task.status()`` returns the TaskStatus itself (a cell shows its dataclass repr, ``raw`` body included),
    and an APIError keeps the create reply as ``.body``: a key a relay quoted anywhere there is masked, as the
    client masks it in the bodies of error answers. The result link is left as sent: it is what is downloaded."""
    from tokenhot_nb._config import Secret
    from tokenhot_nb.errors import APIError

    Secret(ECHOED)  # the session's key (a Session remembers its key the same way)
    running = {"code": "success", "data": {"task_id": "t1", "status": "IN_PROGRESS", "progress": "50%",
                                           "note": f"token {ECHOED}", "meta": {ECHOED: [ECHOED]}}}
    failed = {"id": "t1", "status": "failed", "fail_reason": f"bad token {ECHOED}",
              "error": {"message": ECHOED, "code": f"c-{ECHOED}"}}
    for body in (running, failed):
        st = video.parse_status("t1", body)
        shown = repr(st)
        assert "sk-****" in shown and "relay-video" not in shown and "Zq9" not in shown, shown
    assert video.parse_status("t1", running).progress == 50
    with pytest.raises(APIError) as info:
        video.parse_create({"code": "fail", "message": f"no task for {ECHOED}", "echo": ECHOED})
    shown = f"{info.value} {info.value.body!r}"
    assert "sk-****" in shown and "relay-video" not in shown and "Zq9" not in shown, shown
    link = f"https://cdn.test/v.mp4?sig={ECHOED}"
    done = video.parse_status("t1", {"id": "t1", "status": "completed", "video_url": link})
    assert done.url == link
    several = video.parse_status("t1", {"id": "t1", "status": "completed", "video_url": ["https://cdn.test/a", link]})
    assert several.urls[1] == link and ECHOED not in str(several.shown().urls)  # (shown to the user: masked)


@pytest.mark.parametrize("code", ["fail_to_fetch_task", "get_task_failed", "unmarshal_response_body_failed"])
def test_a_relay_that_could_not_read_the_task_says_so_and_does_not_fail_the_task(code: str) -> None:
    """Reference §1.4.3's poll errors, sent with 200: the task was read as failed ("failed tasks are not billed")
    while it may still run, and be billed."""
    from tokenhot_nb.errors import APIError

    with pytest.raises(APIError, match="answered with the relay's error, not the task's status: upstream down") as info:
        video.parse_status("t1", {"code": code, "message": "upstream down", "data": None})
    assert info.value.status == 200 and info.value.code == code


def test_a_task_the_relay_does_not_know_said_with_200_is_still_failed() -> None:
    st = video.parse_status("t1", {"code": "task_not_exist", "message": "task_not_exist", "data": None})
    assert st.state == "failed" and st.error_code == "task_not_exist"


def test_a_poll_answer_naming_only_another_task_is_told_apart_from_a_change_of_shape() -> None:
    dto = {"code": "success", "data": {"id": 12, "task_id": "task_B", "status": "SUCCESS"}}
    assert video.other_task("task_A", dto) == "task_B"
    assert video.other_task("task_b", dto) is None and video.other_task("B", dto) is None  # case, the task_ prefix
    assert video.other_task("task_A", {"id": "video_1", "task_id": "task_A", "object": "video"}) is None
    assert video.other_task("task_A", {"code": "success", "data": {"id": 12, "status": "QUEUED"}}) is None  # no id
    assert video.other_task("task_A", {"id": "task_Z", "object": "video", "status": "completed"}) == "task_Z"
    # a vendor's task JSON passed through as it is names the vendor's ids (Volcengine's cgt-…, MiniMax's task_id)
    assert video.other_task("task_A", {"id": "cgt-2025", "status": "succeeded", "content": {"video_url": "u"}}) is None
    assert video.other_task("task_A", {"task_id": "1069161", "status": "Success", "file_id": "f"}) is None


@pytest.mark.parametrize(("word", "state"), [
    ("失败", "failed"), ("生成失败", "failed"), ("已取消", "failed"), ("排队中", "pending"), ("提交成功", "pending"),
    ("生成中", "running"), ("成功", "succeeded"), ("已完成", "succeeded"), ("In Progress", "running"),
    ("in-progress", "running"), ("NOT START", "pending"), ("Succeeded", "succeeded"), ("新状态", "running")])
def test_status_words_in_chinese_or_spelt_with_spaces_are_read(word: str, state: str) -> None:
    """A failed task said in Chinese was taken for a running one: the wait went on to its deadline (30 min)."""
    st = video.parse_status("t1", {"code": "success", "data": {"task_id": "t1", "status": word, "fail_reason": "x"}})
    assert st.state == state


def test_a_finished_task_with_several_videos_names_them_all_the_first_first() -> None:
    """A URL list was no URL: the paid task "finished without a video URL"; then only its first was kept."""
    many = {"code": "success", "data": {"task_id": "t1", "status": "SUCCESS",
                                        "result_url": ["https://cdn.example.com/a.mp4", "https://cdn.example.com/b.mp4"]}}
    st = video.parse_status("t1", many)
    assert st.url == "https://cdn.example.com/a.mp4"
    assert st.urls == ["https://cdn.example.com/a.mp4", "https://cdn.example.com/b.mp4"]
    # the relay's one result_url, the vendor's copy naming all three: the three
    vendor = {"code": "success", "data": {"task_id": "t1", "status": "SUCCESS", "result_url": "https://relay/v/t1",
                                          "data": {"content": {"video_url": [f"https://cdn.example.com/{c}.mp4"
                                                                             for c in "abc"]}}}}
    assert video.parse_status("t1", vendor).urls == [f"https://cdn.example.com/{c}.mp4" for c in "abc"]
    nested = {"code": "success", "data": {"task_id": "t1", "status": "SUCCESS", "result_url": "",
                                          "data": {"content": {"video_url": [{"url": "https://cdn.example.com/c.mp4"}]}}}}
    assert video.parse_status("t1", nested).url == "https://cdn.example.com/c.mp4"


def test_a_failure_reason_that_is_an_error_page_is_said_by_what_it_says() -> None:
    """A gateway's HTML page kept as the task's fail_reason was the error's text, markup and all."""
    page = ("<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway"
            "</h1></center><hr><center>nginx</center></body></html>")
    st = video.parse_status("t1", {"code": "success", "data": {"task_id": "t1", "status": "FAILURE",
                                                               "fail_reason": page}})
    assert st.state == "failed" and st.error == "an error page: 502 Bad Gateway"
    untitled = "<html><body><h1>Quota &amp; limits</h1><script>var x = 1;</script></body></html>"
    st = video.parse_status("t1", {"id": "t1", "object": "video", "status": "failed",
                                   "error": {"message": untitled, "code": "upstream_error"}})
    assert st.error == "an error page: Quota & limits" and st.error_code == "upstream_error"
    plain = "content policy: <b>not allowed</b>"  # (not a page: kept as the vendor wrote it)
    assert video.parse_status("t1", {"status": "failed", "fail_reason": plain}).error == plain
