"""Shared parsing helpers: numbers a relay gets absurdly wrong count as missing, never cost the answer."""

from __future__ import annotations

import json

from tokenhot_nb.families import chat
from tokenhot_nb.families._common import MAX_COUNT, count, finite, usage_from


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


def test_a_chat_answer_with_an_infinite_usage_field_keeps_its_text() -> None:
    """JSON's 1e400 parses as infinity: the paid answer was once dropped with an OverflowError."""
    body = json.loads('{"choices":[{"index":0,"message":{"role":"assistant","content":"the paid answer"},'
                      '"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":1e400}}')
    reply = chat.parse(None, "chat.completions", body)
    assert reply.text == "the paid answer"
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (1, 2, 3)
    delta = chat.parse_event("chat", json.loads('{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1e400}}'))
    assert delta.usage is not None and delta.usage.output_tokens == 0
