"""Task status: one normaliser for TaskDto wrappers, the simplified Gemini shape, OpenAIVideo and raw upstream
task JSON (reference §4.1, §10.3). Unknown status words mean "still running"; ``data.quota`` is what the task
cost."""

from __future__ import annotations

import html
import math
import re
from typing import Any

from ..._config import redact
from ...errors import APIError
from .._common import count, dig, finite, looks_like_html, received, usage_from
from .._types import TaskState, TaskStatus, Usage

_STATES: dict[str, TaskState] = {
    **dict.fromkeys(("not_start", "submitted", "queued", "pending", "preparing", "queueing", "created"), "pending"),
    **dict.fromkeys(("in_progress", "processing", "running", "generating"), "running"),
    **dict.fromkeys(("success", "succeeded", "succeed", "completed", "complete", "done"), "succeeded"),
    **dict.fromkeys(("failure", "failed", "fail", "error", "expired", "cancelled", "canceled"), "failed"),
    "unknown": "unknown",
    # a vendor's or a relay's own words in Chinese (Tokenhot's pages are Chinese first)
    **dict.fromkeys(("排队中", "排队", "等待中", "等待", "已提交", "提交成功", "未开始", "待处理"), "pending"),
    **dict.fromkeys(("处理中", "生成中", "进行中", "运行中", "执行中"), "running"),
    **dict.fromkeys(("成功", "已完成", "完成", "生成成功", "执行成功"), "succeeded"),
    **dict.fromkeys(("失败", "已失败", "生成失败", "执行失败", "已取消", "取消", "已过期", "超时"), "failed"),
}


def parse_progress(value: Any) -> int | None:
    """``"50%"``, ``50``, ``"50"`` or ``0.5`` → 50 (clamped to 0..100); None when absent, unreadable or not finite."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        m = re.search(r"-?\d+(?:\.\d+)?", value)
        if not m:
            return None
        num = float(m.group())
        if "%" not in value and "." in m.group() and 0 < num <= 1:
            num *= 100
    elif isinstance(value, (int, float)):
        x = finite(value)
        if x is None:
            return None
        num = x * 100 if isinstance(value, float) and 0 < value < 1 else x
    else:
        return None
    if not math.isfinite(num):  # "1e999%", NaN: no progress figure
        return None
    return max(0, min(100, round(num)))


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v.strip() else None


def _core(body: dict[str, Any]) -> dict[str, Any]:
    """The task object: TaskDto/simplified ``data``, or the body itself (OpenAIVideo, raw upstream)."""
    data = body.get("data")
    if isinstance(data, dict) and any(k in data for k in ("status", "task_status", "task_id", "output", "result_url")):
        return data
    return body


def _state(core: dict[str, Any]) -> tuple[TaskState, str | None]:
    raw = _str(core.get("status"))
    ali = False
    if raw is None:
        raw = _str(dig(core, "output", "task_status")) or _str(core.get("task_status"))
        ali = raw is not None
    if raw is None:
        return "unknown", None
    word = re.sub(r"[\s-]+", "_", raw.strip().lower())  # "In Progress", "in-progress": in_progress
    if ali and word == "unknown":
        return "failed", raw  # DashScope UNKNOWN means the task is gone
    # new-api treats a status it does not know as in progress (§10.3): keep polling until the deadline
    return _STATES.get(word, "running"), raw


_URL_PATHS: tuple[tuple[str, ...], ...] = (
    ("result_url",), ("url",), ("video_url",), ("metadata", "url"), ("content", "video_url"), ("output", "video_url"),
    ("data", "content", "video_url"), ("data", "output", "video_url"), ("data", "video_url"), ("data", "url"),
    ("data", "metadata", "url"), ("file", "download_url"), ("data", "file", "download_url"),
)


#: At most this many video links are taken from one task's answer (a relay's list longer than any vendor makes
#: would have the session download without end).
MAX_VIDEOS = 16


def _links(value: Any) -> list[str]:
    """A URL, or each of a list of them (``"…"``, ``["…", …]``, ``[{"url": "…"}, …]``): a task that made several
    videos names them all, and each was paid for."""
    items = value[:MAX_VIDEOS * 4] if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("url") or item.get("video_url")
        link = _str(item)
        if link and link.strip() not in out:
            out.append(link.strip())
    return out[:MAX_VIDEOS]


def _urls(core: dict[str, Any], body: dict[str, Any], state: TaskState) -> list[str]:
    """The task's video links, from the first place that names any, or the first that names more (the places
    are copies of one another: the relay's ``result_url`` and the vendor's own links; a relay that keeps one link
    of a task that made several still passes the vendor's list on)."""
    found: list[str] = []
    for obj in (core, body) if core is not body else (core,):
        for path in _URL_PATHS:
            links = _links(dig(obj, *path))
            if len(links) > len(found):
                found = links
    if found:
        return found
    reason = _str(core.get("fail_reason"))
    if state == "succeeded" and reason and reason.strip().startswith(("http://", "https://")):
        return [reason.strip()]  # legacy new-api tasks keep the URL in fail_reason
    return []


_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)


def _page_text(reason: str) -> str:
    """A failure reason that is an HTML page (an upstream's or a gateway's error page kept by the relay) as what it
    says, its title or its text, not its markup; any other reason as it is."""
    if not looks_like_html(reason[:64].encode("utf-8", "replace")):
        return reason
    m = _TITLE.search(reason)
    text = html.unescape(" ".join(_TAGS.sub(" ", m.group(1) if m and m.group(1).strip() else reason).split()))
    return f"an error page: {text}" if text else "an error page (no text)"


def _error(core: dict[str, Any], body: dict[str, Any]) -> tuple[str | None, str | None]:
    msg: str | None = None
    code: Any = None
    reason = _str(core.get("fail_reason"))
    if reason and not reason.strip().startswith(("http://", "https://")):
        msg = reason
    for err in (core.get("error"), dig(core, "data", "error"), dig(core, "output"), dig(core, "data", "output")):
        if isinstance(err, dict):
            msg = msg or _str(err.get("message"))
            code = code or err.get("code")
        elif isinstance(err, str) and err.strip():
            msg = msg or err
    base = core.get("base_resp")
    if isinstance(base, dict) and base.get("status_code") not in (None, 0):
        msg = msg or _str(base.get("status_msg"))
        code = code or base.get("status_code")
    if code is None and body.get("code") not in (None, "success", 0, "0"):
        code = body.get("code")
        msg = msg or _str(body.get("message"))
    return (_page_text(msg) if msg else msg), (str(code) if code not in (None, "") else None)


def _task_id(body: dict[str, Any]) -> str | None:
    for path in (("task_id",), ("id",), ("data", "task_id"), ("data", "id"), ("output", "task_id")):
        v = dig(body, *path)
        if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip():
            return str(v).strip()
    return None


def _id_key(value: str) -> str:
    v = value.strip().lower()
    return v[5:] if v.startswith("task_") else v


def other_task(task_id: str, body: Any) -> str | None:
    """The id a poll's answer names when it names only ids other than ``task_id`` (a relay's cache or routing
    mix-up: its video is another task's, maybe another user's); None when it names ours, or none. An id's case
    and a ``task_`` prefix may change between the create and the poll; a TaskDto's row number (an int) is no id."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if isinstance(data, dict) and "code" in body:  # the relay's TaskDto or simplified wrapper: data.task_id is ours
        ids: tuple[Any, ...] = (data.get("task_id"),)
    elif body.get("object") == "video":  # OpenAIVideo: the relay's public id
        ids = (body.get("task_id"), body.get("id"))
    else:  # a vendor's own task JSON passed through: its ids are the vendor's, never ours
        return None
    named = [v.strip() for v in ids if isinstance(v, str) and v.strip()]
    if not named or _id_key(task_id) in {_id_key(v) for v in named}:
        return None
    return named[0]


def _seconds(core: dict[str, Any]) -> float:
    for v in (core.get("seconds"), core.get("duration"), dig(core, "data", "duration"), dig(core, "data", "seconds"),
              dig(core, "data", "usage", "duration"), dig(core, "usage", "duration")):
        x = finite(v)
        if x is not None and x > 0:
            return x
    return 0.0


def _usage(core: dict[str, Any]) -> Usage:
    src = core.get("usage") if isinstance(core.get("usage"), dict) else dig(core, "data", "usage")
    usage = usage_from(src) if isinstance(src, dict) else Usage()
    usage.video_seconds = _seconds(core) or usage.video_seconds
    return usage


def _quota(core: dict[str, Any]) -> int | None:
    """``data.quota``: what the finished task actually cost, in quota units (500,000 = 1 USD on Tokenhot)."""
    return count(core.get("quota"))  # 1e400 (infinity) or an absurd size is no figure: the video still counts


#: Task-envelope codes (reference §1.4.3) that say the relay failed to read a task's status, not that it failed.
POLL_FAILED = frozenset({"fail_to_fetch_task", "get_task_failed", "unmarshal_response_body_failed"})


def parse_status(task_id: str | None, body: Any) -> TaskStatus:
    """Normalise TaskDto wrappers, the simplified Gemini shape, OpenAIVideo and raw upstream task JSON."""
    if not isinstance(body, dict):
        return TaskStatus(task_id=task_id or "", state="unknown", raw=body)
    core = _core(body)
    state, raw_status = _state(core)
    msg, code = _error(core, body)
    if raw_status is None and body.get("code") not in (None, "success") and body.get("data") is None:
        if body.get("code") in POLL_FAILED:  # the relay could not read the task: it may still run, and be billed
            raise APIError(f"The status poll of video task {task_id} was answered with the relay's error, not the "
                           f"task's status: {redact(str(msg or body.get('code')))[:200]}", status=200, code=code,
                           body=received(body), hint="The task may still be running; poll it again.")
        state = "failed"  # a task envelope error delivered with a 2xx status
    progress = parse_progress(core.get("progress"))
    if state == "succeeded":
        progress = 100
    urls = _urls(core, body, state)
    return TaskStatus(
        task_id=task_id or _task_id(body) or "",
        state=state,
        progress=progress or 0,
        url=urls[0] if urls else None,
        urls=urls,
        error=received(msg) if state == "failed" else None,
        error_code=received(code) if state == "failed" else None,
        raw_status=raw_status,
        usage=_usage(core),
        raw=received(body),  # (shown in the status's repr: a key the relay quoted is masked; the url is not)
        quota=_quota(core),
        last_frame_url=_str(dig(core, "data", "content", "last_frame_url")) or _str(dig(core, "content", "last_frame_url")),
    )


def parse_create(body: Any) -> TaskStatus:
    """The create reply (OpenAIVideo; ``id``/``task_id``, or nested ``data.task_id``) as a first status."""
    if not isinstance(body, dict):
        raise APIError(f"The video create reply was not JSON: {redact(str(body))[:200]!r}", body=received(body))
    tid = _task_id(body)
    if not tid:
        err = body.get("error")  # (an OpenAI envelope, or a relay's bare string: said either way)
        msg = _str(body.get("message")) or _str(dig(err, "message")) or _str(err) or _str(dig(err, "type"))
        raise APIError(
            "The video create reply has no task id" + (f": {msg}" if msg else "."),
            code=str(body.get("code")) if body.get("code") is not None else None,
            body=received(body),
            hint="The task may not have been created; check the console before retrying (creates are billed).",
        )
    status = parse_status(tid, body)
    if status.raw_status is None:
        status.state = "pending"
    return status
