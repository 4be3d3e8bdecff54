"""A relay that echoes the API key back (in an answer, a status, a link): what a live call hands the user (its
result, its callbacks' arguments) holds none of it, as the history row holds none of it."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokenhot_nb import Session
from tokenhot_nb.errors import APIError, AuthenticationError, ConfigError, DownloadError, InputError

pytestmark = pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")

#: A key shaped like Tokenhot's (``sk-`` and 48 random letters and digits)
KEY = "sk-7wQeRt2yUi9oPa4sDf6gHj1kLz3xCv8bNm5QaWs0EdRf7TgY"

Handler = Callable[[httpx.Request, str], httpx.Response | None]


class Echo(httpx.AsyncBaseTransport):
    """A relay written from the wire format: ``handler(request, key)`` answers (the key as the request sent it in
    ``Authorization: Bearer …``); anything it does not answer is a 404 in the OpenAI envelope."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        answer = self.handler(request, key)
        return answer if answer is not None else httpx.Response(404, json={"error": {"message": "not here"}})


def live(tmp_path: Path, handler: Handler, **kw: Any) -> Session:
    kw.setdefault("max_retries", 0)
    return Session(api_key=KEY, mode="live", transport=Echo(handler), store=tmp_path / "store", **kw)


def shapes_of(key: str) -> list[str]:
    """The key and the parts of it anyone could use: whole, without ``sk-``, and either half of it."""
    tail = key.removeprefix("sk-")
    return [key, tail, tail[:20], tail[-20:]]


def assert_no_key(text: str) -> None:
    for shape in shapes_of(KEY):
        assert shape not in text


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("inline", [False, True], ids=["link", "b64_json"])
def test_a_revised_prompt_echoing_the_key_reaches_the_result_without_it(tmp_path: Path, inline: bool) -> None:
    """The row kept the revised prompt redacted, but the live result was built from the text as it came: its
    ``revised_prompt`` and its items' repr showed the key (a replay of the same row did not)."""
    image = png()

    def relay(request: httpx.Request, key: str) -> httpx.Response | None:
        if request.url.path == "/v1/images/generations":
            item = {"b64_json": base64.b64encode(image).decode()} if inline else \
                {"url": "http://cdn.test/files/a.png"}
            return httpx.Response(200, json={"created": 1, "data": [{**item, "revised_prompt": f"a cat, {key}"}]})
        if request.url.path == "/files/a.png":
            return httpx.Response(200, content=image, headers={"content-type": "image/png"})
        return None

    s = live(tmp_path, relay)
    try:
        res = s.image("a cat", model="gpt-image-2")
        assert res.revised_prompt == "a cat, sk-****"
        for shown in (res.revised_prompt, repr(res.items), str(res), repr(res), json.dumps(res.items[0].extra)):
            assert_no_key(shown)
        assert res.items[0].extra == {"revised_prompt": s.history[-1].outputs[0]["revised_prompt"]}
    finally:
        s.close()


def sse(chunks: list[dict[str, Any]]) -> httpx.Response:
    """A chat-completions event stream of ``chunks`` (OpenAI's ``chat.completion.chunk`` frames), then ``[DONE]``."""
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


def piece(field: str, text: str) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {field: text}}]}


def pieces(field: str, text: str, size: int) -> list[dict[str, Any]]:
    """``text`` streamed in ``field`` deltas of ``size`` characters."""
    return [piece(field, text[i:i + size]) for i in range(0, len(text), size)]


def chat_with_deltas(tmp_path: Path, frames: Callable[[str], list[dict[str, Any]]]) -> tuple[Any, list[tuple[Any, str]]]:
    """A streamed chat from a relay answering ``frames(key)`` (then a stop frame): the result and each
    ``on_delta`` call's ``(delta, text so far)``."""
    def relay(request: httpx.Request, key: str) -> httpx.Response | None:
        if request.url.path != "/v1/chat/completions":
            return None
        return sse([*frames(key), {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}])

    s = live(tmp_path, relay)
    seen: list[tuple[Any, str]] = []
    try:
        res = s.chat("my key?", model="gpt-5.4", on_delta=lambda delta, so_far: seen.append((delta, so_far)))
    finally:
        s.close()
    return res, seen


def test_streamed_pieces_of_an_echoed_key_never_reach_on_delta(tmp_path: Path) -> None:
    """A relay streaming the key back in small pieces (text and reasoning): on_delta's text so far was masked, but
    the delta was the piece as it came, so the usual ``print(delta.text, end="")`` printed the key whole. Each
    delta now holds what it added to the view; the pieces still add up to the answer."""
    res, seen = chat_with_deltas(tmp_path, lambda key: pieces("reasoning_content", key, 3)
                                 + pieces("content", f"Your key is {key}, keep it safe.", 3))
    printed = "".join(d.text for d, _ in seen)
    thought = "".join(d.reasoning for d, _ in seen)
    assert_no_key(printed + thought + repr(seen))
    assert printed == res.text == "Your key is sk-****, keep it safe."
    assert thought == res.reasoning == "sk-****"
    assert seen[-1][1] == res.text
    assert all("".join(d.text for d, _ in seen[:i + 1]) == so_far for i, (_, so_far) in enumerate(seen))


def test_a_result_link_carrying_the_key_is_not_handed_to_on_progress_nor_shown(tmp_path: Path) -> None:
    """A finished task whose result link carries the key (``?key=…``, as Gemini's links do): ``on_progress`` got
    the status as parsed and ``task.status()`` returned it, so printing either showed the key in the link."""
    link = "http://cdn.test/v.mp4?key={key}"

    def relay(request: httpx.Request, key: str) -> httpx.Response | None:
        path = request.url.path
        if path == "/v1/video/generations" and request.method == "POST":
            return httpx.Response(200, json={"id": "task_k1", "task_id": "task_k1", "object": "video",
                                             "status": "queued", "progress": 0})
        if path == "/v1/video/generations/task_k1":
            return httpx.Response(200, json={"code": "success", "message": "", "data": {
                "task_id": "task_k1", "status": "SUCCESS", "progress": "100%", "fail_reason": "",
                "result_url": link.format(key=key),
                "data": {"content": {"last_frame_url": link.format(key=key)}}}})
        if path == "/v.mp4":
            return httpx.Response(404, text="gone")
        return None

    s = live(tmp_path, relay, poll_interval=0.001)
    seen: list[Any] = []
    try:
        task = s.video("a cat", model="doubao-seedance-2.0", wait=False)
        status = task.status()
        with pytest.raises(DownloadError) as failed:  # (the link is gone: the task stays pending, resumable)
            task.wait(progress=False, on_progress=seen.append)
    finally:
        s.close()
    assert status.url == "http://cdn.test/v.mp4?key=sk-****" and status.last_frame_url == status.url
    assert seen and seen[-1].state == "succeeded" and seen[-1].url == status.url
    for shown in (repr(status), repr(seen), repr(task.last), str(failed.value)):
        assert_no_key(shown)


@pytest.mark.parametrize("body", [
    pytest.param(lambda key: ("text/plain", f"Invalid token:\n{key[:30]}\n{key[30:]}\n"), id="wrapped-text"),
    pytest.param(lambda key: ("text/html", f"<html><body><h1>401</h1><p>token {key[:22]}<wbr>{key[22:]}</p></body>"
                                           "</html>"), id="html-wbr"),
    pytest.param(lambda key: ("application/json", json.dumps({"error": {"message": f"no token {key[3:28]}\n"
                                                                                   f"{key[28:]}", "code": ""}})),
                 id="json-no-sk"),
])
def test_a_key_the_relay_wraps_in_its_error_shows_nowhere(tmp_path: Path,
                                                         body: Callable[[str], tuple[str, str]]) -> None:
    """The key split by a line break or a tag in an error body was no key to redaction: its end (or all of it)
    showed in the error, the history row, its HTML and the export."""
    def relay(request: httpx.Request, key: str) -> httpx.Response | None:
        if request.url.path != "/v1/chat/completions":
            return None
        kind, text = body(key)
        return httpx.Response(401, content=text.encode(), headers={"content-type": kind})

    s = live(tmp_path, relay)
    try:
        with pytest.raises(AuthenticationError) as failed:
            s.chat("hello", model="gpt-5.4", stream=False)
        row = s.history[-1]
        export = s.history.export(tmp_path / "out.jsonl").read_text()
        shown = [str(failed.value), repr(failed.value), failed.value.details(), row._repr_html_(),
                 repr(row.to_dict()), s.history._repr_html_(), export]
    finally:
        s.close()
    for text in shown:
        assert_no_key(text)
    assert "sk-****" in str(failed.value)
    for stored in (tmp_path / "store").rglob("*"):  # (the database, its write-ahead log, the artifacts)
        if stored.is_file():
            data = stored.read_bytes()
            assert not [shape for shape in shapes_of(KEY) if shape.encode() in data], stored


def across(cut: int, key: str) -> str:
    """Filler, then the key without its ``sk-`` (as new-api echoes it: no pattern knows it) across position ``cut``
    of the text."""
    return "x" * (cut - 20) + key.removeprefix("sk-")


CUT_TEXTS = {  # (what the session is asked, the relay's answer): server text the client cuts to a length
    "error-page-kept-on-the-error": (
        "chat", lambda request, key: httpx.Response(
            502, text=f"<html><body>{across(1200 - 12, key)}</body></html>", headers={"content-type": "text/html"})),
    "responses-failed-message": (
        "responses", lambda request, key: httpx.Response(200, json={
            "id": "resp_1", "object": "response", "status": "failed", "output": [],
            "error": {"message": across(300, key), "code": "server_error"}})),
    "balance-route-error": (
        "balance", lambda request, key: httpx.Response(200, json={"error": {"message": across(300, key)}})),
    "web-page-title": (
        "chat", lambda request, key: httpx.Response(
            200, text=f"<html><head><title>{across(80, key)}</title></head></html>",
            headers={"content-type": "text/html"})),
}


@pytest.mark.parametrize("case", list(CUT_TEXTS))
def test_server_text_cut_short_never_keeps_the_first_part_of_a_key(tmp_path: Path, case: str) -> None:
    """Server text was cut to a length and then redacted: a key across the cut lost its end, and its first part
    (no key to redaction any more) showed in the error or the balance."""
    what, answer = CUT_TEXTS[case]
    paths = {"chat": "/v1/chat/completions", "responses": "/v1/responses", "balance": "/v1/dashboard/billing"}

    def relay(request: httpx.Request, key: str) -> httpx.Response | None:
        return answer(request, key) if request.url.path.startswith(paths[what]) else None

    s = live(tmp_path, relay)
    try:
        if what == "balance":
            shown = [repr(s.balance()), str(s.balance())]
        else:
            with pytest.raises(APIError) as failed:
                s.chat("hello", model="GPT 5.4(Responses)" if what == "responses" else "gpt-5.4", stream=False)
            err = failed.value
            shown = [str(err), err.full_message, repr(err.body), err.details()]
    finally:
        s.close()
    for text in shown:
        assert_no_key(text)


def test_a_key_set_on_the_settings_later_is_kept_secret_and_used(tmp_path: Path) -> None:
    """``session.settings.api_key = "…"`` (a plain string) broke every call with "'str' object has no attribute
    'get'" (shown as a possible bug), and the string was never remembered for redaction. It is now wrapped and
    checked as a key given at the start: sent, masked when echoed, never shown."""
    later = "Hn3jKq7wEr1tYu5iOp9aSd2fGh6jKl0zXc4vBn8mQw1eRt5yUi"  # (without sk-: found by value only)
    sent: list[str] = []

    def relay(request: httpx.Request, key: str) -> httpx.Response | None:
        if request.url.path != "/v1/chat/completions":
            return None
        sent.append(key)
        return httpx.Response(401, json={"error": {"message": f"no such token: {key}", "code": ""}})

    s = live(tmp_path, relay)
    try:
        s.settings.api_key = later  # type: ignore[assignment]
        with pytest.raises(AuthenticationError) as failed:
            s.chat("hello", model="gpt-5.4", stream=False)
        shown = [str(failed.value), failed.value.details(), repr(s.settings), repr(s), s.history._repr_html_(),
                 repr(s.history[-1].to_dict())]
        with pytest.raises(ConfigError) as refused:
            s.settings.api_key = f" {later}\n"  # type: ignore[assignment]
    finally:
        s.close()
    assert sent == [later]
    for text in [*shown, str(refused.value)]:
        assert later not in text and later[:20] not in text and later[-20:] not in text
    assert "no such token: sk-****" in str(failed.value)


def test_a_task_id_too_long_for_a_url_quoting_the_key_shows_none_of_it(tmp_path: Path) -> None:
    """The poll URL of a task id past httpx's URL limit is refused naming its first 60 characters: they were cut
    before redaction, so an id that began with the key (as new-api echoes it, without ``sk-``) showed its start
    in the error and the history row."""
    def relay(request: httpx.Request, key: str) -> httpx.Response | None:
        if request.url.path == "/v1/video/generations" and request.method == "POST":
            task_id = key.removeprefix("sk-") + "x" * 70_000
            return httpx.Response(200, json={"id": task_id, "task_id": task_id, "status": "queued"})
        return None

    s = live(tmp_path, relay, poll_interval=0.001)
    try:
        with pytest.raises(InputError) as failed:
            s.video("a cat", model="doubao-seedance-2.0", progress=False)
        shown = [str(failed.value), failed.value.full_message, repr(s.history[-1].to_dict())]
    finally:
        s.close()
    assert "URL is not valid" in shown[0]
    for text in shown:
        assert_no_key(text)


@pytest.mark.parametrize("split", ["\n", "<wbr>", " \\n "])
def test_a_key_streamed_split_by_a_line_break_is_held_back_until_it_is_masked(tmp_path: Path, split: str) -> None:
    """A key streamed with a line break in it: its first part was no longer "the start of a key" once the break
    arrived, so the view showed it, and the end of it made the whole masked after that part was printed."""
    res, seen = chat_with_deltas(tmp_path, lambda key: pieces(
        "content", f"Your key is {key[:14]}{split}{key[14:]} - keep it safe.", 4))
    printed = "".join(d.text for d, _ in seen)
    assert printed == res.text == "Your key is sk-**** - keep it safe."
    assert all(res.text.startswith(so_far) for _, so_far in seen)  # (never a part of the key, then the mask)
