"""Shared parsing helpers: numbers a relay gets absurdly wrong count as missing, never cost the answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tokenhot_nb.errors import APIError
from tokenhot_nb.families import audio, chat
from tokenhot_nb.families._common import (
    MAX_COUNT,
    count,
    finite,
    looks_like_html,
    refuse_error_envelope,
    usage_from,
)


def test_count_and_finite_refuse_what_is_no_number() -> None:
    assert count("12") == 12 and count(7.9) == 7 and count(MAX_COUNT) == MAX_COUNT
    for bad in (None, False, "x", float("inf"), float("nan"), 10**400, MAX_COUNT + 1, [1]):
        assert count(bad) is None, bad
    assert finite("2.5") == 2.5 and finite(3) == 3.0
    for bad in (None, True, "nan", float("inf"), float("-inf"), 10**400, {}):
        assert finite(bad) is None, bad


def test_usage_numbers_past_range_are_missing_not_a_crash() -> None:
    usage = usage_from({"prompt_tokens": 3, "completion_tokens": float("inf"), "total_tokens": float("nan"),
                        "completion_tokens_details": {"reasoning_tokens": 10**400}, "duration": float("inf")})
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens, usage.reasoning_tokens) == (3, 0, 3, 0)
    assert usage.video_seconds == 0.0
    assert usage_from({"prompt_tokens": 2**63}).input_tokens == 0  # would not fit the history store
    assert usage_from({"duration": 10**400}).video_seconds == 0.0


def test_a_usage_count_read_fast_is_what_the_general_reading_gives() -> None:
    """A usage count that is a plain int in range is taken as it came (most of ~19 reads an answer); every other
    value still goes through :func:`count`: a bool, a negative or an out-of-range int, a float, a string."""
    from tokenhot_nb.families._common import _int, received

    for v in (0, 1, 12, MAX_COUNT, MAX_COUNT + 1, -1, -MAX_COUNT, True, False, None, 3.9, -2.5, "12", "-4", "x",
              float("inf"), float("nan"), 10**400, [3], {}):
        assert _int(v) == max(count(v) or 0, 0), v
        assert type(_int(v)) is int, v
    raw = {"prompt_tokens": 3, "cost": 0.5, "ok": True, "none": None, "note": "sk-" + "Ab3dEf6hIj9kLm0nOp2q",
           "sk-" + "Zz9yXx8wVv7uTt6sRr5q": [1, "sk-" + "Qq1wEe2rTt3yUu4iOo5p"]}
    got = received(raw)
    assert got["prompt_tokens"] == 3 and got["cost"] == 0.5 and got["ok"] is True and got["none"] is None
    assert "sk-****" in got["note"] and "Ab3dEf6h" not in json.dumps(got) and "Zz9yXx8w" not in json.dumps(got)
    assert "Qq1wEe2r" not in json.dumps(got)


def test_a_chat_answer_with_an_infinite_usage_field_keeps_its_text() -> None:
    """JSON's 1e400 parses as infinity: the paid answer was once dropped with an OverflowError."""
    body = json.loads('{"choices":[{"index":0,"message":{"role":"assistant","content":"the paid answer"},'
                      '"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":1e400}}')
    reply = chat.parse(None, "chat.completions", body)
    assert reply.text == "the paid answer"
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (1, 2, 3)
    delta = chat.parse_event("chat", json.loads('{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1e400}}'))
    assert delta.usage is not None and delta.usage.output_tokens == 0


@pytest.mark.parametrize(("head", "html"), [
    (b"<!DOCTYPE html><html>", True), (b"  \n<HTML lang=en>", True), (b"<head><title>502</title>", True),
    (b"<body>cdn</body>", True), (b"\xef\xbb\xbf<!doctype html>", True), (b"\r\n\xef\xbb\xbf <html>", True),
    (b"<svg xmlns=...>", False), (b'{"error": "<html>"}', False), (b"Hello <html> world", False),
    (b"<?xml version='1.0'?>", False), (b"", False), (b"\x89PNG\r\n", False),
])
def test_one_html_sniffer_for_downloads_speech_and_transcripts(head: bytes, html: bool) -> None:
    """The one test every caller uses: the download check, the speech check and the transcript check agree."""
    from tokenhot_nb.client._download import _arrived

    assert looks_like_html(head) is html
    assert (_arrived(head, "text/plain") == "an HTML page") is html
    text = head.decode("utf-8", errors="replace")
    if html:
        with pytest.raises(APIError, match="an HTML page, not a transcript"):
            audio.parse_transcription("text", text)
    else:
        audio.parse_transcription("text", text)  # (a transcript that merely mentions <html> is kept)


@pytest.mark.parametrize("body", [
    {"error": {"message": "upstream failed", "code": "bad_response"}}, {"error": "upstream failed"},
    {"error": {"msg": "upstream failed"}}, {"error": {"type": "upstream failed"}},
])
def test_one_error_envelope_check_names_the_answer_it_replaced(body: dict[str, Any]) -> None:
    with pytest.raises(APIError) as reply:
        refuse_error_envelope(body)
    with pytest.raises(APIError) as transcript:
        audio.parse_transcription("json", json.dumps(body))
    assert reply.value.message == "The answer is an error, not a reply: upstream failed"
    assert transcript.value.message == "The transcription answer is an error, not a transcript: upstream failed"
    assert reply.value.status == transcript.value.status == 200 and reply.value.code == transcript.value.code


def test_an_error_beside_content_is_not_the_whole_answer() -> None:
    refuse_error_envelope({"error": {"message": "x"}, "choices": [{"message": {"content": "hi"}}]})
    assert audio.parse_transcription("json", '{"text": "hello", "error": {"message": "x"}}').text == "hello"
    refuse_error_envelope({"error": None, "data": []})


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": 5000, "completion_tokens": -1_000_000, "total_tokens": -995_000},
    {"input_tokens": -5000, "output_tokens": 200, "cache_read_input_tokens": -100,
     "cache_creation_input_tokens": -7},
    {"promptTokenCount": 50, "candidatesTokenCount": -900, "thoughtsTokenCount": -9, "totalTokenCount": -850},
], ids=["openai", "claude", "gemini"])
def test_negative_token_counts_are_no_counts_and_never_bill_a_call_below_zero(usage: dict[str, Any]) -> None:
    """A relay's usage with a negative count (the wire's numbers are data: §1.4) once made a cost below zero,
    which a budget counted as money back; each negative field now reads as missing."""
    from tokenhot_nb.catalog import Price
    from tokenhot_nb.cost import of_call

    u = usage_from(usage)
    fields = (u.input_tokens, u.output_tokens, u.total_tokens, u.reasoning_tokens, u.cached_tokens,
              u.cache_write_tokens)
    assert min(fields) >= 0, fields
    price = Price(model_ratio=1.0, completion_ratio=4.0)
    cost = of_call("chat", price, {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                                   "cached_tokens": u.cached_tokens})
    assert cost.usd is None or cost.usd >= 0


#: new-api's task envelope (reference §1.4.3): a string code, a message, no "error" key.
TASK_ERROR = {"code": "fail_to_fetch_task", "message": "upstream task service down", "data": None}


@pytest.mark.parametrize("read", [
    lambda b: chat.parse(None, "chat.completions", b), lambda b: chat.parse(None, "messages", b),
    lambda b: chat.parse(None, "gemini.generate", b), lambda b: audio.parse_transcription("json", json.dumps(b)),
    lambda b: audio.parse_transcription("text", json.dumps(b), "application/json"),
], ids=["chat", "claude", "gemini", "transcript-json", "transcript-text"])
def test_a_task_error_envelope_sent_with_200_is_its_error_not_an_empty_answer(read: Any) -> None:
    """It was read as an empty reply or an empty transcript, recorded as a success."""
    with pytest.raises(APIError, match=r"is an error, not a .*: upstream task service down") as info:
        read(TASK_ERROR)
    assert info.value.code == "fail_to_fetch_task" and info.value.status == 200


def test_the_task_envelope_of_success_is_no_error() -> None:
    refuse_error_envelope({"code": "success", "message": "", "data": {"task_id": "t1", "status": "QUEUED"}})
    refuse_error_envelope({"code": "", "message": "ok", "data": None})
    assert audio.parse_transcription("json", '{"text": "hi", "code": "x", "message": "y"}').text == "hi"
