"""The retry policy end to end: which failures are retried, how long the client waits, how often it tries.

Every test injects the sleep (delays are recorded, never waited) and a fixed jitter, so nothing here depends on
the wall clock except the HTTP-date tests, which compare against a date far enough away to be exact.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _client_support import Script, fail, reply

from tokenhot_nb import errors as E
from tokenhot_nb._config import Settings
from tokenhot_nb.client import Client, RetryPolicy, parse_retry_after
from tokenhot_nb.families._types import HttpCall

KEY = "sk-retrytest-0123456789abcdef"
BASE = "https://api.tokenhot.test"
CHAT = HttpCall("POST", "/v1/chat/completions", json={"model": "m", "messages": []})
MODELS = HttpCall("GET", "/v1/models")  # free: may be asked again whatever happened to it
BILLED = HttpCall("POST", "/v1/video/generations", json={"model": "v"}, billed_create=True)


class Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client_for(handler: Callable[[httpx.Request], Any], sleeps: Sleeps, *, retries: int = 2) -> Client:
    settings = Settings(api_key=KEY, base_url=BASE, mode="live", max_retries=retries)
    policy = RetryPolicy(max_retries=retries, sleep=sleeps, rand=lambda: 0.0)
    return Client(settings, transport=httpx.MockTransport(handler), retry=policy)


def send(client: Client, call: HttpCall = CHAT) -> Any:
    async def go() -> Any:
        try:
            return await client.send(call)
        finally:
            await client.aclose()

    return asyncio.run(go())


def busy(**headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return reply(429, headers=headers, json={"error": {"message": "slow down", "code": "rate_limit"}})


OK = reply(200, json={"ok": True})


# -- transport failures ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error", [httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ConnectTimeout, httpx.PoolTimeout]
)
def test_dropped_connections_are_retried_with_backoff(error: type[httpx.TransportError]) -> None:
    sleeps = Sleeps()
    handler = Script(fail(error, "connection dropped"), fail(error, "connection dropped"), OK)
    assert send(client_for(handler, sleeps), MODELS).json() == {"ok": True}
    assert handler.calls == 3
    assert sleeps.delays == [0.5, 1.0]


@pytest.mark.parametrize("error", [httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError])
def test_dropped_connections_give_up_after_the_retries(error: type[httpx.TransportError]) -> None:
    handler = Script(fail(error, "connection dropped"))
    with pytest.raises(E.APIConnectionError, match="broke") as info:
        send(client_for(handler, Sleeps(), retries=1), MODELS)
    assert handler.calls == 2
    assert isinstance(info.value.__cause__, error)


@pytest.mark.parametrize("error", [httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout])
def test_a_paid_call_is_never_sent_again_once_it_may_have_been_sent(error: type[httpx.TransportError]) -> None:
    """Chat, images, audio, embeddings are paid POSTs too, not only video creates: a retry could pay twice."""
    handler = Script(fail(error, "lost"), OK)
    with pytest.raises(E.APIConnectionError, match="It was not sent again") as info:
        send(client_for(handler, Sleeps(), retries=3), CHAT)
    assert handler.calls == 1
    assert "history" in (info.value.hint or "")


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_a_paid_call_is_retried_when_it_was_not_sent(error: type[httpx.TransportError]) -> None:
    handler = Script(fail(error, "no connection"), OK)
    assert send(client_for(handler, Sleeps()), CHAT).json() == {"ok": True}
    assert handler.calls == 2


@pytest.mark.parametrize("error", [httpx.ConnectTimeout, httpx.PoolTimeout])
def test_billed_create_retried_when_the_request_was_not_sent(error: type[httpx.TransportError]) -> None:
    handler = Script(fail(error, "no connection"), reply(200, json={"id": "task_9"}))
    assert send(client_for(handler, Sleeps()), BILLED).json() == {"id": "task_9"}
    assert handler.calls == 2


@pytest.mark.parametrize("error", [httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout])
def test_billed_create_never_retried_once_it_may_have_been_sent(error: type[httpx.TransportError]) -> None:
    handler = Script(fail(error, "lost"), reply(200, json={"id": "task_9"}))
    with pytest.raises(E.APIConnectionError):
        send(client_for(handler, Sleeps(), retries=3), BILLED)
    assert handler.calls == 1


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.TooManyRedirects, httpx.UnsupportedProtocol]
)
def test_other_transport_errors_are_not_retried(error: type[httpx.TransportError]) -> None:
    policy = RetryPolicy()
    exc = error("x", request=httpx.Request("POST", BASE))
    assert policy.retry_exception(exc) is False
    assert policy.retry_exception(exc, billed=True) is False


# -- Retry-After through the client ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": " 4 "}, 4.0),
        ({"Retry-After": "-3"}, 0.5),  # negative: ignored, the backoff applies
        ({"Retry-After": "soon"}, 0.5),  # unreadable: ignored
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "-5", "Retry-After": "2"}, 2.0),  # a negative ms value falls back to Retry-After
        ({"retry-after-ms": "abc", "Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "250", "Retry-After": "7"}, 0.25),  # ms is the more precise, it wins
        ({"Retry-After": "inf"}, 0.5),  # not a number of seconds: ignored
        ({"Retry-After": "nan"}, 0.5),
        ({"retry-after-ms": "Infinity"}, 0.5),
        ({"retry-after-ms": "Infinity", "Retry-After": "3"}, 3.0),  # falls back to the finite one
        ({}, 0.5),
    ],
)
def test_retry_after_values_through_the_client(headers: dict[str, str], expected: float) -> None:
    sleeps = Sleeps()
    handler = Script(busy(**headers), OK)
    send(client_for(handler, sleeps))
    assert handler.calls == 2
    assert sleeps.delays == [pytest.approx(expected)]


def test_retry_after_http_date_through_the_client() -> None:
    sleeps = Sleeps()
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    handler = Script(busy(**{"Retry-After": when}), OK)
    send(client_for(handler, sleeps))
    assert len(sleeps.delays) == 1
    assert 55 <= sleeps.delays[0] <= 61


def test_retry_after_past_date_through_the_client_means_now() -> None:
    sleeps = Sleeps()
    handler = Script(busy(**{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), OK)
    send(client_for(handler, sleeps))
    assert sleeps.delays == [0.0]


def test_parse_retry_after_date_against_a_given_now() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now + 42, usegmt=True)}, now=now) == 42.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 42, usegmt=True)}, now=now) == 0.0
    assert parse_retry_after({"retry-after": "Mon, 99 Foo 2026 99:99:99 GMT"}, now=now) is None
    assert parse_retry_after({"retry-after": ""}) is None
    assert parse_retry_after({"retry-after-ms": ""}) is None
    assert parse_retry_after(httpx.Headers({"Retry-After": "3"})) == 3.0


def test_retry_after_is_ignored_for_transport_failures() -> None:
    """Backoff, not a header, decides after a dropped connection (there is no answer to read one from)."""
    sleeps = Sleeps()
    handler = Script(fail(httpx.ReadError, "reset"), busy(**{"Retry-After": "7"}), OK)
    send(client_for(handler, sleeps, retries=3), MODELS)
    assert sleeps.delays == [0.5, 7.0]


# -- how often ------------------------------------------------------------------------------------------
def test_default_retry_count_is_two() -> None:
    """Without a policy of its own, a client tries three times in all (Settings.max_retries = 2)."""
    sleeps = Sleeps()
    handler = Script(busy())
    settings = Settings(api_key=KEY, base_url=BASE, mode="live")
    client = Client(settings, transport=httpx.MockTransport(handler))
    client.retry = dataclasses.replace(client.retry, sleep=sleeps)
    with pytest.raises(E.RateLimitError):
        send(client)
    assert handler.calls == 3
    assert len(sleeps.delays) == 2
    assert RetryPolicy().max_retries == 2


def test_settings_retry_count_reaches_the_client() -> None:
    handler = Script(busy())
    client = Client(Settings(api_key=KEY, base_url=BASE, mode="live", max_retries=4),
                    transport=httpx.MockTransport(handler))
    client.retry = dataclasses.replace(client.retry, sleep=Sleeps())
    with pytest.raises(E.RateLimitError):
        send(client)
    assert handler.calls == 5


def test_a_quota_code_in_a_plain_string_envelope_is_never_retried() -> None:
    """``{"error": "<text>", "code": "insufficient_user_quota"}`` on a 429 is a used-up quota, not a rate limit."""
    handler = Script(reply(429, json={"error": "quota used up", "code": "insufficient_user_quota"}), OK)
    with pytest.raises(E.QuotaExhaustedError, match="quota used up"):
        send(client_for(handler, Sleeps(), retries=3))
    assert handler.calls == 1


def test_a_route_the_service_does_not_offer_is_asked_once_and_said_so() -> None:
    """new-api's 501 ``api_not_implemented`` (§1.4) is the same on every try: not retried, even for a free GET."""
    body = {"error": {"message": "API not implemented", "type": "new_api_error", "code": "api_not_implemented"}}
    for call in (HttpCall("POST", "/v1/responses/compact", json={"model": "m"}), HttpCall("GET", "/v1/files")):
        handler = Script(reply(501, json=body), OK)
        with pytest.raises(E.APIError) as info:
            send(client_for(handler, Sleeps()), call)
        assert handler.calls == 1 and info.value.status == 501
        assert f"does not offer {call.method} {call.path}; nothing was done" in info.value.message


def test_the_realtime_websocket_route_is_refused_before_anything_is_sent() -> None:
    handler = Script(OK)
    for call in (HttpCall("GET", "/v1/realtime", params={"model": "gpt-realtime"}), HttpCall("GET", "/v1/realtime/")):
        with pytest.raises(E.InputError, match="WebSocket") as info:
            send(client_for(handler, Sleeps()), call)
        assert "\n" not in info.value.message and "not sent" in info.value.message
    client = client_for(handler, Sleeps())
    with pytest.raises(E.InputError, match="WebSocket"):
        client.stream(HttpCall("GET", "/v1/realtime", stream="chat"))
    assert handler.calls == 0


def test_a_video_remix_sent_by_hand_is_a_billed_create_never_sent_twice() -> None:
    """§10.7: a remix makes a new task from a finished one; like any create (§1.4) it is never sent again."""
    handler = Script(reply(503, json={"code": "busy", "message": "upstream busy", "data": None}), OK)
    with pytest.raises(E.APIError, match="It was not sent again") as info:
        send(client_for(handler, Sleeps()), HttpCall("POST", "/v1/videos/task_abc/remix", json={"prompt": "bluer"}))
    assert handler.calls == 1 and "console" in (info.value.hint or "")


# -- the policy on its own --------------------------------------------------------------------------------
def _error(status: int | None, cls: type[E.APIError] = E.APIError, body: Any = None) -> E.APIError:
    return cls("x", status=status, body=body)


#: new-api's own error JSON (§1.4): the relay handled the request and reports it failed.
RELAY_BODY = {"error": {"message": "upstream failed", "type": "new_api_error", "code": "bad_response_status_code"}}


@pytest.mark.parametrize(
    ("status", "plain", "billed"),
    [
        (400, False, False), (401, False, False), (404, False, False), (407, False, False),
        (408, True, False), (409, True, False), (410, False, False), (429, True, False), (499, False, False),
        (500, True, False), (501, False, False), (502, True, False), (503, True, False), (504, True, False),
        (505, False, False), (599, True, False),
        (None, False, False),
    ],
)
def test_retry_status_table(status: int | None, plain: bool, billed: bool) -> None:
    policy = RetryPolicy()
    assert policy.retry_status(_error(status)) is plain
    assert policy.retry_status(_error(status), billed=True) is billed
    assert policy.retry_status(_error(status, body=RELAY_BODY), paid=True) is (plain and status not in (504, 524))


@pytest.mark.parametrize("status", [500, 502, 503, 520, 522, 530, 599])
def test_a_gateway_page_in_place_of_the_relays_error_is_not_retried_for_a_paid_call(status: int) -> None:
    """A 5xx that is not new-api's JSON came from a gateway in front of it, which may have passed the call on."""
    policy = RetryPolicy()
    for body in (None, "<html>502 Bad Gateway</html>", {"message": "An invalid response was received"}):
        assert policy.retry_status(_error(status, body=body)) is True
        assert policy.retry_status(_error(status, body=body), paid=True) is False
    for body in (RELAY_BODY, {"code": "fail_to_fetch_task", "message": "upstream failed", "data": None}):
        assert policy.retry_status(_error(status, body=body), paid=True) is True


@pytest.mark.parametrize("status", [521, 523, 525, 526])
def test_a_gateway_that_never_reached_the_relay_is_retried_even_for_a_paid_call(status: int) -> None:
    assert RetryPolicy().retry_status(_error(status, body="<html>Web server is down</html>"), paid=True) is True


def test_a_gateway_timeout_is_not_retried_for_a_paid_call() -> None:
    """nginx (60 s) or Cloudflare (100 s: 524) gives up on a slow image while the relay goes on making it."""
    policy = RetryPolicy()
    for status in (504, 524):
        assert policy.retry_status(_error(status)) is True
        assert policy.retry_status(_error(status), paid=True) is False


def test_quota_is_never_retried_whatever_its_status() -> None:
    policy = RetryPolicy()
    for status in (429, 503, 500):
        err = _error(status, E.QuotaExhaustedError)
        assert policy.retry_status(err) is False
        assert policy.retry_status(err, billed=True) is False


def test_backoff_edges() -> None:
    assert RetryPolicy(rand=lambda: 0.0).backoff(0) == 0.5  # retry numbers start at 1; 0 is the first anyway
    assert RetryPolicy(rand=lambda: 0.5).backoff(2) == pytest.approx(1.0 * (1 - 0.125))
    assert RetryPolicy(rand=lambda: 1.0, jitter=2.0).backoff(3) == 0.0  # never negative
    assert RetryPolicy(rand=lambda: 0.0, base_delay=1.0, max_delay=3.0).backoff(3) == 3.0
    assert RetryPolicy(rand=lambda: 0.0).delay(3) == 2.0
    assert RetryPolicy(rand=lambda: 0.0).delay(3, {"retry-after": "1"}) == 1.0
    assert RetryPolicy(rand=lambda: 0.0, max_retry_after=5.0).delay(1, {"retry-after": "9"}) == 5.0


def test_policies_compare_by_their_numbers_not_their_sleep() -> None:
    async def other(delay: float) -> None:
        return None

    assert RetryPolicy(sleep=other, rand=lambda: 0.1) == RetryPolicy()
    assert RetryPolicy(max_retries=3) != RetryPolicy()


def test_plain_mappings_with_lower_case_names_work_too() -> None:
    assert parse_retry_after({"retry-after-ms": "500"}) == 0.5
    assert parse_retry_after({"retry-after": "2"}) == 2.0


def test_dropped_connections_are_retryable_by_default() -> None:
    policy = RetryPolicy()
    assert policy.retry_exception(httpx.ReadError("reset")) is True
    assert policy.retry_exception(httpx.ReadError("reset"), billed=True) is False


def test_a_long_retry_after_says_when_as_a_clock_time_and_in_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond the limit nothing is slept: the error names the wait in seconds (and minutes) and the UTC clock time
    to try again, and ``retry_at`` is that same instant."""
    from tokenhot_nb.client import _retry

    monkeypatch.setattr(_retry.time, "time", lambda: 1_796_083_200.0)  # 2026-12-01 00:00:00 UTC
    wait = _retry.too_long_to_wait({"retry-after": "3600"}, 60.0)
    assert wait is not None and _retry.too_long_to_wait({"retry-after": "60"}, 60.0) is None
    err = wait.annotate(E.RateLimitError("slow down", status=429))
    assert err.hint == ("The server asked to wait 3600 s (about 60 min) before trying again: try again after "
                        "2026-12-01 01:00:00 UTC. It was not retried automatically.")
    assert err.retry_after == 3600 and err.retry_at == 1_796_083_200.0 + 3600
    short = _retry.LongWait(90).annotate(E.RateLimitError("slow down", status=429))
    assert short.hint is not None and "wait 90 s before" in short.hint and "00:01:30 UTC" in short.hint
    # minutes are added from two minutes on: 120 s says "about 2 min", 119 s does not
    assert "wait 120 s (about 2 min) before" in (_retry.LongWait(120).annotate(E.RateLimitError("x")).hint or "")
    assert "wait 119 s before" in (_retry.LongWait(119).annotate(E.RateLimitError("x")).hint or "")


@pytest.mark.parametrize(
    "headers",
    [{"Retry-After": "99999999999999999999"}, {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
     {"retry-after-ms": "1e300"}],
)
def test_a_wait_past_the_platform_clock_is_still_a_rate_limit_error(headers: dict[str, str]) -> None:
    """A relay asking to wait 10^20 s once made time.gmtime overflow: the answer became an OverflowError."""
    sleeps = Sleeps()
    handler = Script(busy(**headers), OK)
    with pytest.raises(E.RateLimitError) as info:
        send(client_for(handler, sleeps))
    assert handler.calls == 1 and sleeps.delays == []
    err = info.value
    assert err.retry_after is not None and err.retry_after > 1e9
    assert err.hint is not None and "(more than a year)" in err.hint and "It was not retried automatically." in err.hint


def test_parse_retry_after_refuses_non_finite_values() -> None:
    for value in ("inf", "-inf", "Infinity", "nan", "NaN"):
        assert parse_retry_after({"retry-after": value}) is None
        assert parse_retry_after({"retry-after-ms": value}) is None
    assert parse_retry_after({"retry-after-ms": "inf", "retry-after": "9"}) == 9.0


def test_long_waits_are_put_in_hours_and_days() -> None:
    from tokenhot_nb.client import _retry

    def hint(seconds: float) -> str:
        return _retry.LongWait(seconds).annotate(E.RateLimitError("x")).hint or ""

    assert "wait 10800 s (about 3 h) before" in hint(10_800)
    assert "wait 432000 s (about 5 days) before" in hint(432_000)
    assert "(more than a year)" in hint(400 * 86_400)


@pytest.mark.parametrize(("status", "message"), [(500, "上游限流，请稍后再试"), (403, "您已达到请求数限制：1分钟内最多请求10次")])
def test_limiter_wording_on_another_status_is_retried_as_a_rate_limit(status: int, message: str) -> None:
    sleeps = Sleeps()
    handler = Script(reply(status, json={"error": {"message": message, "type": "new_api_error", "code": ""}}))
    with pytest.raises(E.RateLimitError) as info:
        send(client_for(handler, sleeps))
    assert type(info.value) is E.RateLimitError and info.value.status == status
    assert handler.calls == 3 and len(sleeps.delays) == 2


def test_quota_wording_with_an_empty_code_is_never_retried() -> None:
    sleeps = Sleeps()
    handler = Script(reply(403, json={"error": {"message": "用户额度不足, 剩余额度: ＄0.000000", "code": ""}}))
    with pytest.raises(E.QuotaExhaustedError):
        send(client_for(handler, sleeps))
    assert handler.calls == 1 and sleeps.delays == []
