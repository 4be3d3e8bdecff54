"""The error tree: status → class, quota never looks retryable, messages carry a fix and no key."""

from __future__ import annotations

import pytest

from tokenhot_nb import errors as E

KEY = "sk-live-ERRORSECRET999"


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, None, E.BadRequestError),
        (422, None, E.BadRequestError),
        (401, None, E.AuthenticationError),
        (403, None, E.PermissionDeniedError),
        (404, None, E.NotFoundError),
        (429, None, E.RateLimitError),
        (429, "insufficient_user_quota", E.QuotaExhaustedError),
        (403, "pre_consume_token_quota_failed", E.QuotaExhaustedError),
        (500, None, E.ServerError),
        (503, None, E.ServerError),
        (418, None, E.APIError),
    ],
)
def test_class_for_status(status: int, code: str | None, cls: type[E.APIError]) -> None:
    assert E.class_for_status(status, code) is cls


def test_api_error_text_has_status_request_id_and_hint() -> None:
    err = E.AuthenticationError("Invalid token", status=401, request_id="req-1")
    text = str(err)
    assert text.startswith("[401] Invalid token (request id: req-1)")
    assert "TOKENHOT_API_KEY" in text
    assert err.to_dict()["status"] == 401


def test_messages_are_redacted() -> None:
    err = E.BadRequestError(f"bad key {KEY} given", status=400)
    assert KEY not in str(err) and KEY not in repr(err.to_dict())


def test_unknown_model_suggests() -> None:
    err = E.UnknownModelError("gpt-imge-2", ["gpt-image-2"], "image")
    assert "Did you mean 'gpt-image-2'?" in str(err)
    assert "family=" in str(err)
    assert isinstance(err, ValueError)


def test_stream_and_task_errors_keep_what_arrived() -> None:
    s = E.StreamError("stream stalled", partial_text="Hello wor")
    assert s.partial_text == "Hello wor"
    t = E.TaskFailedError("task_1", "content policy")
    assert "task_1" in str(t) and "content policy" in str(t)
