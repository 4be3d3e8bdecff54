"""Every error envelope a relay can send becomes the same typed error, request id and all, with no key."""

from __future__ import annotations

import json

import httpx
import pytest

from tokenhot_nb import errors as E
from tokenhot_nb.client import error_from_response, parse_error_body
from tokenhot_nb.client._errors import (
    error_from_transport,
    request_id_from_headers,
    split_request_id,
    stream_error_from_data,
)

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


def test_a_video_creates_out_of_quota_task_error_is_quota_exhausted() -> None:
    """new-api's task submit refuses an exhausted balance in the task envelope with its own code (RelayTaskSubmit:
    403 ``quota_not_enough``, "user quota is not enough"): never retried, like the relay routes' quota codes."""
    err = _err(403, {"code": "quota_not_enough", "message": "user quota is not enough", "data": None})
    assert isinstance(err, E.QuotaExhaustedError) and err.code == "quota_not_enough"


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
    assert err.message == "x" * 300 + "… (4700 more characters in .full_message)"
    assert err.full_message == "x" * 5000


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


# -- the {"error": "<text>", "code": …} envelope ------------------------------------------------------------
def test_plain_string_envelope_keeps_code_type_and_status() -> None:
    info = parse_error_body(b'{"error": "model busy", "code": "busy_now", "type": "upstream", "status": 503}')
    assert (info.message, info.code, info.type, info.status) == ("model busy", "busy_now", "upstream", 503)
    err = _err(503, {"error": "model busy", "code": "busy_now", "type": "upstream"})
    assert type(err) is E.ServerError
    assert (err.code, err.type, err.message) == ("busy_now", "upstream", "model busy")


@pytest.mark.parametrize("code", ["insufficient_user_quota", "pre_consume_token_quota_failed", 1008])
def test_plain_string_envelope_with_a_quota_code_is_quota_exhausted(code: object) -> None:
    err = _err(429, {"error": "you are out of credit", "code": code})
    assert isinstance(err, E.QuotaExhaustedError)
    assert err.code == str(code) and err.status == 429


def test_plain_string_envelope_with_a_quota_type_is_quota_exhausted() -> None:
    assert isinstance(_err(429, {"error": "no credit", "type": "insufficient_quota"}), E.QuotaExhaustedError)
    assert type(_err(429, {"error": "slow down", "type": "rate_limited"})) is E.RateLimitError


@pytest.mark.parametrize(("value", "status"), [(503, 503), ("503", None), (True, None), (99, None), (600, None)])
def test_plain_string_envelope_status_must_be_an_http_status(value: object, status: int | None) -> None:
    assert parse_error_body(json.dumps({"error": "x", "status": value}).encode()).status == status


def test_empty_string_error_is_not_an_envelope() -> None:
    info = parse_error_body(b'{"error": "", "detail": "what went wrong"}')
    assert info.message == "what went wrong"


# -- the nested envelopes: status vs code ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "status", "code", "etype"),
    [
        ({"code": 100, "message": "m"}, 100, None, None),
        ({"code": 599, "message": "m"}, 599, None, None),
        ({"code": 600, "message": "m"}, None, "600", None),
        ({"code": 99, "message": "m"}, None, "99", None),
        ({"code": True, "message": "m"}, None, "True", None),
        ({"code": "1008", "message": "m"}, None, "1008", None),
        ({"code": "", "message": "m", "type": ""}, None, None, None),
        ({"code": 404, "message": "m", "status": "NOT_FOUND"}, 404, "NOT_FOUND", "NOT_FOUND"),
        ({"code": 404, "message": "m", "status": "NOT_FOUND", "type": "t"}, 404, "NOT_FOUND", "t"),
        ({"message": "m", "status": 502}, 502, None, None),
        ({"message": "m", "status": "502", "code": "c"}, None, "c", None),
        ({"message": "m", "status": 502, "code": 400}, 502, None, None),
    ],
)
def test_nested_envelope_status_code_and_type(
    error: dict[str, object], status: int | None, code: str | None, etype: str | None
) -> None:
    info = parse_error_body(json.dumps({"error": error}).encode())
    assert (info.status, info.code, info.type) == (status, code, etype)


def test_nested_envelope_message_fallbacks() -> None:
    assert parse_error_body(b'{"error": {"msg": "from msg"}}').message == "from msg"
    assert parse_error_body(b'{"error": {"message": "", "msg": "second"}}').message == "second"
    assert parse_error_body(b'{"error": {"code": "c"}}').message == ""
    err = _err(418, {"error": {"code": "teapot"}})
    assert err.message == "The server answered HTTP 418 I'm a teapot with no explanation."
    assert err.code == "teapot"


def test_empty_message_with_an_unknown_status() -> None:
    assert _err(599, b"").message == "The server answered HTTP 599 with no explanation."
    assert _err(503, b"  ").message == "The server answered HTTP 503 Service Unavailable with no explanation."


# -- the flat envelopes ----------------------------------------------------------------------------------
def test_responses_stream_error_event_as_a_body() -> None:
    info = parse_error_body(b'{"type": "error", "code": "server_error", "message": "oops"}')
    assert (info.message, info.code, info.type) == ("oops", "server_error", "error")
    only_code = parse_error_body(b'{"type": "error", "code": "server_error"}')
    assert (only_code.message, only_code.code, only_code.type) == ("", "server_error", "error")
    only_message = parse_error_body(b'{"type": "error", "message": "oops"}')
    assert (only_message.message, only_message.code, only_message.type) == ("oops", None, "error")


def test_task_envelope_variants() -> None:
    with_data = parse_error_body(b'{"message": "task failed", "data": {"id": 1}}')
    assert (with_data.message, with_data.code, with_data.type) == ("task failed", None, None)
    numeric = parse_error_body(b'{"message": "no such task", "code": 404}')
    assert (numeric.message, numeric.code) == ("no such task", "404")
    assert parse_error_body(b'{"code": "c", "message": null}').message == ""


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        ({"detail": "field required", "code": 7}, "field required", "7"),
        ({"msg": "bad", "code": "x"}, "bad", "x"),
        ({"message": "plain"}, "plain", None),
        ({"detail": ["not", "text"], "msg": "second"}, "second", None),
    ],
)
def test_message_detail_msg_bodies(body: dict[str, object], message: str, code: str | None) -> None:
    info = parse_error_body(json.dumps(body).encode())
    assert (info.message, info.code) == (message, code)


def test_json_that_is_not_an_error_envelope_is_shown_as_text() -> None:
    listed = parse_error_body(b' [1, 2] ')
    assert listed.message == "[1, 2]" and listed.body == [1, 2]
    other = parse_error_body(b'{"ok": false}')
    assert other.message == '{"ok": false}' and other.body == {"ok": False}
    empty_message = parse_error_body(b'{"message": ""}')
    assert empty_message.message == '{"message": ""}'


def test_json_body_with_surrounding_whitespace_is_parsed() -> None:
    info = parse_error_body(b'\n  {"error": {"message": "spaced", "code": "c"}}  \n')
    assert (info.message, info.code) == ("spaced", "c")


def test_raw_body_kept_for_debugging_is_bounded() -> None:
    info = parse_error_body(b"y" * 2000)
    assert info.body == "y" * 1200
    assert info.message == "y" * 2000  # whole here: the error class cuts it (and keeps it in full_message)
    exact = _err(500, b"z" * 300)
    assert exact.message == "z" * 300


# -- request ids -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "text", "rid"),
    [
        ("boom (request id: abc123)", "boom", "abc123"),
        ("boom （request id: 2025中）", "boom", "2025中"),
        ("boom （request id：x）", "boom （request id：x）", None),  # a full-width colon is not the relay's form
        ("boom (Request ID: R-9)", "boom", "R-9"),
        ("boom(REQUEST ID:r9)  ", "boom", "r9"),
        ("boom ( request id:  spaced  )", "boom", "spaced"),
        ("boom (request id: a) tail", "boom (request id: a) tail", None),
    ],
)
def test_request_id_suffix_variants(message: str, text: str, rid: str | None) -> None:
    assert split_request_id(message) == (text, rid)


@pytest.mark.parametrize(
    "header", ["x-request-id", "X-Oneapi-Request-Id", "x-new-api-request-id", "X-New-Api-Request-Id", "Request-Id"]
)
def test_request_id_header_variants_any_case(header: str) -> None:
    err = error_from_response(400, httpx.Headers({header: "rid-1"}), b'{"error": {"message": "x"}}')
    assert err.request_id == "rid-1"


def test_request_id_header_order_and_empty_values() -> None:
    headers = httpx.Headers({"x-oneapi-request-id": "second", "x-request-id": "first"})
    assert request_id_from_headers(headers) == "first"
    assert request_id_from_headers({"x-request-id": "", "x-new-api-request-id": "n"}) == "n"
    assert request_id_from_headers({}) is None
    suffix_only = _err(500, {"error": {"message": "m (request id: body-1)"}}, {"x-request-id": ""})
    assert suffix_only.request_id == "body-1"


# -- the HTML stripper -----------------------------------------------------------------------------------
def test_html_stripper_drops_script_and_style_bodies() -> None:
    page = (
        b"<html><head><STYLE type='text/css'>body { color: red }</STYLE>"
        b"<script>var secretCode = 1;\nalert('x')</script></head>"
        b"<body><p>Bad &amp; gateway</p><Script src='a.js'></Script>end</body></html>"
    )
    info = parse_error_body(page)
    assert info.message == "Bad & gateway end"


def test_text_with_angle_brackets_but_no_tags_is_kept() -> None:
    assert parse_error_body(b"limit < 5 reached").message == "limit < 5 reached"
    assert parse_error_body(b"a &amp; b").message == "a &amp; b"  # not HTML: not unescaped
    assert parse_error_body(b"x -> y").message == "x -> y"


def test_whitespace_is_collapsed() -> None:
    assert parse_error_body(b"  many \n\t spaces  ").message == "many spaces"


# -- transport errors ------------------------------------------------------------------------------------
REQ = httpx.Request("POST", "https://relay.example:8443/v1/chat/completions?key=abc")


@pytest.mark.parametrize(
    ("exc", "cls", "text", "hint"),
    [
        (httpx.PoolTimeout, E.APITimeoutError, "Too many requests were waiting for a free connection to",
         "Lower the batch concurrency or try again."),
        (httpx.ConnectTimeout, E.APITimeoutError, "Could not connect to https://relay.example:8443 in time",
         "Check your network and TOKENHOT_BASE_URL, or raise connect_timeout."),
        (httpx.WriteTimeout, E.APITimeoutError, "https://relay.example:8443 took too long to answer", None),
        (httpx.ConnectError, E.APIConnectionError, "Could not connect to https://relay.example:8443 (", None),
        (httpx.ReadError, E.APIConnectionError, "The connection to https://relay.example:8443 broke", None),
        (httpx.WriteError, E.APIConnectionError, "The connection to https://relay.example:8443 broke", None),
        (httpx.RemoteProtocolError, E.APIConnectionError, "The connection to https://relay.example:8443 broke", None),
        (httpx.TooManyRedirects, E.APIConnectionError, "https://relay.example:8443 redirected too many times", None),
        (httpx.UnsupportedProtocol, E.APIConnectionError, "Cannot send a request to https://relay.example:8443",
         "Check the URL (http or https)."),
        (httpx.ProxyError, E.APIConnectionError, "The request to https://relay.example:8443 failed", None),
    ],
)
def test_every_transport_error_maps_to_a_typed_error(
    exc: type[httpx.RequestError], cls: type[E.APIConnectionError], text: str, hint: str | None
) -> None:
    err = error_from_transport(exc("went wrong", request=REQ))
    assert type(err) is cls
    assert err.message.startswith(text)
    assert err.message.endswith(f"({exc.__name__}: went wrong).")
    assert "abc" not in err.message  # the query string (it may carry credentials) is never shown
    assert err.hint == (hint or cls("x").hint)  # its own advice, or the class's


def test_transport_error_without_a_request_or_a_message() -> None:
    bare = error_from_transport(httpx.ReadError(""))
    assert bare.message == "The connection to the server broke (ReadError)."
    plain = error_from_transport(httpx.ConnectError("  ", request=httpx.Request("GET", "http://h/x")))
    assert plain.message == "Could not connect to http://h (ConnectError)."


def test_transport_error_messages_are_redacted() -> None:
    odd = "tok_live_plainsecret"
    err = error_from_transport(httpx.ConnectError(f"proxy said {odd} and {KEY}", request=REQ), secrets=(odd,))
    assert odd not in err.message and KEY not in err.message
    assert "sk-****" in err.message


# -- redaction of what the server echoed -----------------------------------------------------------------
def test_non_sk_secret_removed_from_json_error_bodies() -> None:
    odd = "Bearer-ish-token-without-prefix"
    body = {"error": {"message": f"bad token {odd}", "echo": {"auth": odd, "n": 1}}}
    err = error_from_response(401, {}, json.dumps(body).encode(), secrets=(odd,))
    assert odd not in err.message and odd not in json.dumps(err.body)
    assert err.body["error"]["echo"]["n"] == 1  # the rest of the body is kept, still as JSON
    assert err.body["error"]["echo"]["auth"] == "sk-****"


def test_body_without_secrets_is_kept_as_is() -> None:
    body = {"error": {"message": "plain", "code": "c"}}
    err = error_from_response(400, {}, json.dumps(body).encode(), secrets=("not-in-there",))
    assert err.body == body


def test_stream_error_frames_are_redacted_and_described() -> None:
    odd = "plain-secret-value"
    err = stream_error_from_data({"error": {"message": f"leaked {odd} (request id: r1)"}}, secrets=(odd,))
    assert odd not in err.message and "r1" not in err.message and odd not in err.full_message
    assert err.message == "The stream was interrupted by an error from the server: leaked sk-****"
    assert err.request_id == "r1" and str(err).startswith(f"{err.message} (request id: r1). ")
    empty = stream_error_from_data({"type": "error", "error": {"type": "error"}}, event="error")
    assert empty.message.endswith("an 'error' event without a message")
    assert empty.code is None
    listed = stream_error_from_data(["a", "b"], event="oops")
    assert listed.message.endswith('["a", "b"]')
    nothing = stream_error_from_data("", event="error")
    assert nothing.message.endswith("an 'error' event without a message")
    assert stream_error_from_data({"error": "flat text", "status": 502}).status == 502


def test_the_parsed_body_is_kept_whatever_the_envelope() -> None:
    for body in (
        {"error": {"message": "m"}},
        {"error": "m", "code": "c"},
        {"type": "error", "message": "m"},
        {"message": "m", "code": "c"},
        {"detail": "m"},
    ):
        assert parse_error_body(json.dumps(body).encode()).body == body
    assert parse_error_body(b'{"broken": ').body == '{"broken": '  # unparseable JSON is kept as text


def test_an_empty_task_envelope_message_stays_empty() -> None:
    info = parse_error_body(b'{"message": "", "data": null}')
    assert (info.message, info.code) == ("", None)


def test_stripping_needs_both_angle_brackets() -> None:
    assert parse_error_body(b"x > 1 &amp; y").message == "x > 1 &amp; y"
    assert parse_error_body(b"x < 1 &amp; y").message == "x < 1 &amp; y"


def test_a_cut_message_does_not_end_in_a_space() -> None:
    assert _err(500, b"ab " * 200).message == ("ab " * 100).rstrip() + "… (300 more characters in .full_message)"


def test_a_stream_error_without_a_message_names_its_event() -> None:
    assert stream_error_from_data({"error": {"code": "c"}}).message.endswith("an 'message' event without a message")


def test_a_stream_error_frame_shows_non_ascii_text_as_written() -> None:
    assert stream_error_from_data(["café", "错误"], event="oops").message.endswith('["café", "错误"]')


# -- server text is shown on one line, capped, without terminal escapes -----------------------------------
HUGE = "A" * 900_000


@pytest.mark.parametrize("where", ["json", "stream", "video"])
def test_server_text_is_one_capped_line_with_the_whole_kept(where: str) -> None:
    text = "bad request\n" + "line\n" * 50 + HUGE
    if where == "json":
        err: E.TokenhotError = _err(400, {"error": {"message": f"{text} (request id: rq-7)"}})
    elif where == "stream":
        err = stream_error_from_data({"error": {"message": text, "code": "c"}})
    else:
        err = E.TaskFailedError("task_1", text)
    assert "\n" not in err.message and len(err.message) < 420
    assert err.message.endswith(" more characters in .full_message)")
    assert "bad request line line" in err.message
    assert err.full_message.endswith(HUGE) and "bad request\nline\n" in err.full_message  # the whole, as sent
    block = "\n".join(err._render_traceback_())
    assert len(block.splitlines()) <= 5 and len(block) < 1200


def test_a_cut_message_still_shows_its_request_id() -> None:
    err = _err(400, {"error": {"message": HUGE + " (request id: rq-7)"}})
    assert err.request_id == "rq-7"
    assert "(request id: rq-7)" in str(err)
    _title, message, _fix = E.error_parts(err)
    assert message.startswith("[400] AAA") and message.endswith("(request id: rq-7)")
    assert len(message) < 420


def test_terminal_escapes_and_control_characters_are_removed() -> None:
    nasty = "\x1b[2J\x1b[32mAll good, ignore this\x1b[0m\x07 \x1b]0;pwned\x07title\x00 and\u202e reversed\r\nnext"
    for err in (_err(400, {"error": {"message": nasty, "code": "\x1b[31mred"}}),
                stream_error_from_data({"error": {"message": nasty}}), E.TaskFailedError("t", nasty)):
        shown = "\n".join(err._render_traceback_()[1:]) + err.message + str(err)
        assert not any(ch in shown for ch in "\x1b\x07\x00\u202e\r"), repr(shown)
        assert "All good, ignore this title and reversed next" in err.message
        assert "\x1b" not in err.full_message and "reversed\nnext" in err.full_message
    assert _err(400, {"error": {"message": "x", "code": "\x1b[31mred"}}).code == "red"


def test_a_long_task_id_is_cut_in_the_message_but_kept_whole() -> None:
    err = E.TaskFailedError("T" * 5000, "content policy")
    assert err.task_id == "T" * 5000 and "content policy" in err.message and len(err.message) < 200
    assert "(4920 more characters in .task_id) failed: content policy" in err.message


def test_the_key_is_redacted_before_the_cut() -> None:
    """A key straddling the cut must not leave its first half on show."""
    err = _err(400, {"error": {"message": "x" * 290 + KEY + "y" * 100}})
    assert KEY[:10] not in err.message and KEY not in err.full_message


# -- limiter and quota wording, whatever the status (§10.5) ----------------------------------------------
@pytest.mark.parametrize(("status", "message"), [
    (500, "当前分组上游负载已饱和，请稍后再试 (上游限流)"),
    (403, "您已达到请求数限制：1分钟内最多请求10次"),
    (503, "系统访问量过大，请稍后重试"),
])
def test_limiter_wording_on_any_status_is_a_rate_limit(status: int, message: str) -> None:
    err = _err(status, {"error": {"message": message, "type": "new_api_error", "code": ""}})
    assert type(err) is E.RateLimitError and err.status == status


@pytest.mark.parametrize("status", [403, 429, 500])
def test_quota_recognised_from_the_message_alone(status: int) -> None:
    err = _err(status, {"error": {"message": "用户额度不足, 剩余额度: ＄0.000000", "type": "new_api_error", "code": ""}})
    assert isinstance(err, E.QuotaExhaustedError) and err.code is None and err.status == status


@pytest.mark.parametrize("status,body,model", [
    (503, {"error": {"message": "分组 default 下模型 gpt-imag-2 无可用渠道（distributor） (request id: 2026x)",
                     "type": "new_api_error", "code": "model_not_found"}}, "gpt-imag-2"),
    (503, {"error": {"message": "No available channel for model gpt-imag-2 under group vip (distributor)",
                     "type": "new_api_error", "code": "model_not_found"}}, "gpt-imag-2"),
    (404, {"error": {"message": "The model `gpt-imag-2` does not exist", "type": "invalid_request_error",
                     "code": "model_not_found"}}, "gpt-imag-2"),
    (503, {"error": {"message": "busy", "code": "model_not_found"}}, None),
])
def test_a_model_no_channel_serves_is_its_own_error_naming_the_model(status: int, body: dict, model: str | None) -> None:
    """new-api's distributor answers 503 model_not_found (§1.4): not a server fault to wait out, but a model id
    to check, said in English whatever language the relay used."""
    err = _err(status, body)
    assert isinstance(err, E.ModelNotServedError) and isinstance(err, E.NotFoundError)
    assert err.model == model and err.status == status and err.code == "model_not_found"
    if model:
        assert f"no channel serving model {model!r}" in err.hint and "Did you mean 'gpt-image-2'" in err.hint
    else:
        assert "this model" in err.hint
    assert E.error_parts(err)[0] == "No channel serves this model"


@pytest.mark.parametrize(("said", "shown"), [
    ("Overloaded", "from the server: Overloaded. The text received so far"),
    ("Overloaded.", "from the server: Overloaded. The text received so far"),
    ("上游繁忙", "from the server: 上游繁忙. The text received so far"),
    ("busy, retry?", "from the server: busy, retry? The text received so far"),
    ("upstream said:", "from the server: upstream said. The text received so far"),
    ("Overloaded (request id: r9)", "from the server: Overloaded (request id: r9). The text received so far"),
    ("Overloaded. (request id: r9)", "from the server: Overloaded. (request id: r9) The text received so far"),
])
def test_a_server_message_without_a_full_stop_does_not_run_into_the_hint(said: str, shown: str) -> None:
    err = stream_error_from_data({"error": {"message": said}})
    assert shown in str(err)


def test_an_api_error_message_without_a_full_stop_is_a_sentence_before_the_hint() -> None:
    err = _err(500, {"error": {"message": "upstream overloaded (request id: r2)", "type": "new_api_error", "code": ""}})
    assert str(err).startswith("[500] upstream overloaded (request id: r2). ") and err.hint in str(err)
