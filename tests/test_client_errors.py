"""Every error envelope a relay can send becomes the same typed error, request id and all, with no key."""

from __future__ import annotations

import json

import httpx
import pytest

from tokenhot_nb import errors as E
from tokenhot_nb.client import error_from_response, parse_error_body
from tokenhot_nb.client._errors import error_from_transport, split_request_id, stream_error_from_data

KEY = "sk-errtest-SECRET123456"


def _err(status: int, body: object, headers: dict[str, str] | None = None) -> E.APIError:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_from_response(status, headers or {}, content, secrets=(KEY,))


def test_openai_envelope_with_request_id_suffix() -> None:
    err = _err(
        404,
        {"error": {"message": "model gpt-x not found (request id: 20250101abc)", "type": "new_api_error",
                   "param": "", "code": "model_not_found"}},
    )
    assert isinstance(err, E.NotFoundError)
    assert (err.status, err.code, err.type) == (404, "model_not_found", "new_api_error")
    assert err.message == "model gpt-x not found"
    assert err.request_id == "20250101abc"
    assert str(err).startswith("[404] model gpt-x not found (request id: 20250101abc)")


def test_request_id_header_wins_over_suffix() -> None:
    err = _err(500, {"error": {"message": "boom (request id: inbody)"}}, {"x-oneapi-request-id": "hdr-1"})
    assert isinstance(err, E.ServerError)
    assert err.request_id == "hdr-1"
    assert err.message == "boom"


@pytest.mark.parametrize("header", ["x-request-id", "x-oneapi-request-id", "request-id"])
def test_request_id_headers(header: str) -> None:
    assert _err(400, {"error": {"message": "x"}}, {header: "rid"}).request_id == "rid"


def test_claude_envelope() -> None:
    err = _err(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert isinstance(err, E.ServerError)
    assert (err.type, err.message) == ("overloaded_error", "Overloaded")


def test_claude_envelope_with_quota_type_is_quota() -> None:
    err = _err(403, {"type": "error", "error": {"type": "insufficient_user_quota", "message": "no money"}})
    assert isinstance(err, E.QuotaExhaustedError)


def test_task_envelope() -> None:
    err = _err(400, {"code": "task_not_exist", "message": "task_not_exist", "data": None})
    assert isinstance(err, E.BadRequestError)
    assert err.code == "task_not_exist"
    assert err.message == "task_not_exist"


def test_google_envelope() -> None:
    err = _err(400, {"error": {"code": 400, "message": "Invalid value", "status": "INVALID_ARGUMENT"}})
    assert isinstance(err, E.BadRequestError)
    assert err.code == "INVALID_ARGUMENT"
    assert err.message == "Invalid value"


def test_quota_429_is_quota_exhausted() -> None:
    err = _err(429, {"error": {"message": "quota", "type": "new_api_error", "code": "insufficient_user_quota"}})
    assert isinstance(err, E.QuotaExhaustedError)
    plain = _err(429, {"error": {"message": "slow down", "code": "rate_limit"}})
    assert type(plain) is E.RateLimitError


def test_html_body_is_reduced_to_text() -> None:
    page = b"<html><head><title>502 Bad Gateway</title><style>p{}</style></head><body><h1>502 Bad Gateway</h1>" \
           b"<hr><center>nginx</center></body></html>"
    err = _err(502, page)
    assert isinstance(err, E.ServerError)
    assert "<" not in err.message
    assert "502 Bad Gateway" in err.message and "nginx" in err.message


def test_long_raw_text_is_cut() -> None:
    err = _err(500, b"x" * 5000)
    assert len(err.message) <= 301


def test_empty_body_still_says_something() -> None:
    err = _err(503, b"")
    assert "503" in err.message and "Service Unavailable" in err.message


def test_error_as_plain_string_and_detail() -> None:
    assert _err(400, {"error": "bad thing"}).message == "bad thing"
    assert _err(422, {"detail": "field required"}).message == "field required"


def test_malformed_json_body_falls_back_to_text() -> None:
    err = _err(500, b'{"error": {"message": "unterminated')
    assert "unterminated" in err.message


def test_key_never_in_message_or_body() -> None:
    err = _err(401, {"error": {"message": f"Invalid token {KEY}", "code": "invalid_token", "echo": KEY}})
    assert isinstance(err, E.AuthenticationError)
    assert KEY not in str(err) and KEY not in repr(err.to_dict()) and KEY not in json.dumps(err.body)
    odd = "not-key-shaped-secret"
    e2 = error_from_response(400, {}, f"bad key {odd}".encode(), secrets=(odd,))
    assert odd not in str(e2) and odd not in str(e2.body)


def test_split_request_id() -> None:
    assert split_request_id("m (request id: 123)") == ("m", "123")
    assert split_request_id("no id here") == ("no id here", None)


def test_parse_error_body_never_raises_on_garbage() -> None:
    info = parse_error_body(b"\xff\xfe\x00garbage")
    assert info.message


def test_transport_errors_are_user_facing() -> None:
    req = httpx.Request("POST", "https://api.tokenhot.cn/v1/chat/completions")
    timeout = error_from_transport(httpx.ReadTimeout("timed out", request=req))
    assert isinstance(timeout, E.APITimeoutError)
    assert "api.tokenhot.cn" in timeout.message and "ReadTimeout" in timeout.message
    conn = error_from_transport(httpx.ConnectError("refused", request=req))
    assert type(conn) is E.APIConnectionError
    assert "Could not connect" in conn.message
    assert isinstance(error_from_transport(httpx.ConnectTimeout("slow", request=req)), E.APITimeoutError)


def test_stream_error_frames() -> None:
    err = stream_error_from_data({"error": {"message": "upstream died", "type": "upstream_error", "code": "x1"}})
    assert err.code == "x1" and "upstream died" in err.message
    claude = stream_error_from_data({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                                    event="error")
    assert claude.code == "overloaded_error"
    google = stream_error_from_data({"error": {"code": 500, "message": "Internal", "status": "INTERNAL"}})
    assert google.status == 500 and google.code == "INTERNAL"
    responses = stream_error_from_data({"type": "error", "code": "server_error", "message": "oops"}, event="error")
    assert responses.code == "server_error"
    bare = stream_error_from_data("something broke", event="error")
    assert "something broke" in bare.message
