"""A failed Responses answer, streamed or whole, is an error that keeps the usage it reports (wire shapes by hand)."""

from __future__ import annotations

from typing import Any

import pytest

from tokenhot_nb.errors import APIError, StreamError
from tokenhot_nb.families import chat

USAGE = {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 45,
         "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 165}


def failed(usage: dict[str, Any] | None, output: list[Any] | None = None) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "status": "failed", "model": "gpt-5", "output": output or [],
            "error": {"code": "server_error", "message": "The model failed (request id: 2026abc)"}, "usage": usage}


def test_a_streamed_response_failed_keeps_its_usage() -> None:
    with pytest.raises(StreamError) as info:
        chat.parse_event("responses", {"type": "response.failed", "sequence_number": 9, "response": failed(USAGE)})
    err = info.value
    assert err.usage is not None and (err.usage.input_tokens, err.usage.output_tokens) == (120, 45)
    assert err.code == "server_error" and err.request_id == "2026abc"


def test_a_streamed_failure_without_usage_has_none() -> None:
    with pytest.raises(StreamError) as info:
        chat.parse_event("responses", {"type": "response.failed", "response": failed(None)})
    assert info.value.usage is None


@pytest.mark.parametrize("output", [None, [{"type": "message", "role": "assistant", "content": [
    {"type": "output_text", "text": "Pears are"}]}]])
def test_a_whole_failed_response_is_an_error_with_its_usage(output: list[Any] | None) -> None:
    """With or without the output it made before failing: status "failed" is an error, never a reply."""
    with pytest.raises(APIError) as info:
        chat.parse(None, "responses", failed(USAGE, output))
    err = info.value
    assert err.usage is not None and err.usage.output_tokens == 45
    assert err.status == 200 and "err.usage" in str(err)
