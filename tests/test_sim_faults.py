"""Auth, routing errors and every fault of the simulator, over loopback HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tokenhot_nb.sim import REQUEST_ID_HEADER, Faults, Server

CHAT = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "hello"}]}
CLAUDE = {"model": "claude-opus-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hello"}]}


def fx(**faults: Any) -> dict[str, str]:
    return {"X-Sim-Faults": json.dumps(faults)}


# ----------------------------------------------------------------------------- auth and routing


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk-1"}, {"Authorization": "Bearer no"},
                                     {"Authorization": "Bearer sk-"}, {"Authorization": "Bearer bad key!"},
                                     {"x-api-key": "sk-valid-but-wrong-header"}])
def test_auth_openai_envelope(sim_url: str, headers: dict[str, str]) -> None:
    r = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == 401
    err = r.json()["error"]
    rid = r.headers[REQUEST_ID_HEADER]
    assert err["message"].endswith(f"(request id: {rid})")
    # §10.5: the middleware's envelope has no "param" key
    assert set(r.json()) == {"error"} and set(err) == {"message", "type", "code"}
    assert err["type"] == "new_api_error" and err["code"] == ""


def assert_middleware_envelope(r: httpx.Response, status: int, code: str = "") -> str:
    """§1.4 / §10.5: the middleware answers in the OpenAI envelope without "param" on every route; the message."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}, body
    err = body["error"]
    assert err["type"] == "new_api_error" and err["code"] == code
    assert err["message"].endswith(f"(request id: {r.headers[REQUEST_ID_HEADER]})")
    return str(err["message"])


def test_auth_on_claude_and_gemini_routes_is_the_middleware_envelope_and_x_api_key(sim_url: str) -> None:
    assert_middleware_envelope(httpx.post(sim_url + "/v1/messages", json=CLAUDE), 401)
    assert_middleware_envelope(httpx.post(sim_url + "/v1/messages", json=CLAUDE, headers={"x-api-key": "no"}),
                               401)
    assert_middleware_envelope(httpx.post(sim_url + "/v1beta/models/gemini-2.5-flash:generateContent",
                                          json={"contents": [{"parts": [{"text": "hi"}]}]}), 401)
    ok = httpx.post(sim_url + "/v1/messages", json=CLAUDE, headers={"x-api-key": "sk-abcd"})
    assert ok.status_code == 200


def test_auth_gemini_key_sources(sim_url: str) -> None:
    path = sim_url + "/v1beta/models/gemini-2.5-flash:generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    assert httpx.post(path, json=body).status_code == 401
    assert httpx.post(path, json=body, headers={"x-goog-api-key": "sk-goog"}).status_code == 200
    assert httpx.post(path + "?key=sk-query", json=body).status_code == 200
    assert httpx.post(path + "?key=abc", json=body).status_code == 401
    assert httpx.post(path + "?key=plain-query-key", json=body).status_code == 200  # no sk-: new-api strips it


PINNED = "A1b2C3d4" * 6  # a new-api-shaped token: 48 letters and digits


@pytest.mark.parametrize("key", ["plainkey-0123456789", "tkn_PLAINKEY_no_prefix_98765abcdef", PINNED,
                                 f"sk-{PINNED}", "sk-sk-doubled"])
def test_a_key_without_sk_is_the_same_token(sim_url: str, key: str) -> None:
    """§1.1: new-api strips one leading ``sk-`` before its lookup, so ``sk-xxx`` and ``xxx`` both work, on every
    way a key is presented."""
    assert httpx.post(sim_url + "/v1/chat/completions", json=CHAT,
                      headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert httpx.post(sim_url + "/v1/messages", json=CLAUDE, headers={"x-api-key": key}).status_code == 200
    assert httpx.post(sim_url + "/v1beta/models/gemini-2.5-flash:generateContent",
                      json={"contents": [{"parts": [{"text": "hi"}]}]},
                      headers={"x-goog-api-key": key}).status_code == 200


@pytest.mark.parametrize("key", [f"{PINNED}-7", f"sk-{PINNED}-12"])
def test_a_pinned_channel_is_refused_with_403_in_the_middleware_envelope(sim_url: str, key: str) -> None:
    """§1.1: ``sk-xxx-<channelId>`` (channel pinning) is admin-only; a normal user gets a 403 from the middleware."""
    r = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
    assert "普通用户不支持指定渠道" in assert_middleware_envelope(r, 403)
    r = httpx.post(sim_url + "/v1/messages", json=CLAUDE, headers={"x-api-key": key})
    assert_middleware_envelope(r, 403)


def test_sk_and_bare_spellings_share_one_rate_limit(sim_url: str) -> None:
    """One token, one caller: the per-user limiter counts ``sk-xxx`` and ``xxx`` together."""
    body = {"model": "deepseek-v4.1-flash-free", "messages": [{"role": "user", "content": "hi"}]}
    codes = [httpx.post(sim_url + "/v1/chat/completions", json=body,
                        headers={"Authorization": f"Bearer {'sk-' if i % 2 else ''}shared-limit-token"}).status_code
             for i in range(6)]
    assert codes == [200] * 5 + [429]


def test_unknown_path_and_method(sim_url: str, auth: dict[str, str]) -> None:
    r = httpx.get(sim_url + "/v2/nothing", headers=auth)
    assert r.status_code == 404
    assert r.json()["error"]["message"].startswith("Invalid URL (GET /v2/nothing)")
    assert r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.get(sim_url + "/v1/chat/completions", headers=auth)
    assert r.status_code == 404 and "Invalid URL (GET /v1/chat/completions)" in r.text
    r = httpx.post(sim_url + "/v1/images/variations", headers=auth)
    assert r.status_code == 501 and r.json()["error"]["code"] == "api_not_implemented"


@pytest.mark.parametrize("path,body", [("/v1/messages", {**CLAUDE, "model": "claude-unknown"}),
                                       ("/v1/chat/completions", {**CHAT, "model": "gpt-unknown"})])
def test_unknown_model_is_the_distributors_middleware_envelope(sim_url: str, auth: dict[str, str], path: str,
                                                               body: dict[str, Any]) -> None:
    message = assert_middleware_envelope(httpx.post(sim_url + path, json=body, headers=auth), 503, "model_not_found")
    assert message.startswith(f"分组 default 下模型 {body['model']} 无可用渠道（distributor）")  # new-api's words


def test_the_simulator_serves_exactly_its_price_table(sim_url: str, auth: dict[str, str]) -> None:
    """Any id its table does not hold is refused like one naming "unknown" (the service serves what its channels,
    and so its table, hold), on every protocol; the table's ids and their '.'/'-' spellings are served."""
    from tokenhot_nb.sim._pricing import PRICING

    refused = [("/v1/images/generations", {"model": "gpt-imag-2", "prompt": "a"}),
               ("/v1/chat/completions", {**CHAT, "model": "gpt-4o"}),
               ("/v1/video/generations", {"model": "sora-2", "prompt": "a"}),
               ("/v1beta/models/gemini-9-ultra:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]})]
    for path, body in refused:
        r = httpx.post(sim_url + path, json=body, headers=auth)
        name = body.get("model") or "gemini-9-ultra"
        assert assert_middleware_envelope(r, 503, "model_not_found").startswith(f"分组 default 下模型 {name} "), path
    listed = {m["id"] for m in httpx.get(sim_url + "/v1/models", headers=auth).json()["data"]}
    mine = {r["model_name"] for r in PRICING if "default" in r["enable_groups"]}  # (the key's group: default)
    assert mine <= listed and not {r["model_name"] for r in PRICING} - mine & listed and "gpt-imag-2" not in listed
    for name in ("deepseek-v4-pro", "deepseek-v4-1-flash", "GPT-5.4"):
        assert httpx.post(sim_url + "/v1/chat/completions", json={**CHAT, "model": name},
                          headers=auth).status_code == 200, name


def test_body_and_model_checks_are_middleware_errors_on_every_route(sim_url: str, auth: dict[str, str]) -> None:
    for path in ("/v1/messages", "/v1/chat/completions"):
        assert_middleware_envelope(httpx.post(sim_url + path, content=b"{not json", headers=auth), 400,
                                   "invalid_request")
        assert_middleware_envelope(httpx.post(sim_url + path, json=[1], headers=auth), 400, "invalid_request")
        assert_middleware_envelope(httpx.post(sim_url + path, json={"messages": []}, headers=auth), 400,
                                   "invalid_request")


def test_relay_errors_keep_the_route_envelope_with_param(sim_url: str, auth: dict[str, str]) -> None:
    """After distribution the relay answers: §1.4's OpenAI envelope with "param": "", Claude's on /v1/messages."""
    h = {**auth, **fx(fail_first={"400": 1})}
    chat = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers=h).json()
    assert set(chat["error"]) == {"message", "type", "param", "code"} and chat["error"]["param"] == ""
    claude = httpx.post(sim_url + "/v1/messages", json=CLAUDE, headers={**auth, **fx(fail_first={"401": 1})})
    assert claude.status_code == 401 and claude.json()["type"] == "error"
    assert claude.json()["error"]["type"] == "invalid_api_key"  # an upstream 401 passed through, not the auth's


@pytest.mark.parametrize("path,body", [("/v1/chat/completions", CHAT), ("/v1/messages", CLAUDE)])
@pytest.mark.parametrize("name,status,words", [("chinese-429", 429, "请求数限制"), ("busy-429", 429, "访问量过大"),
                                               ("middleware-500", 500, "上游负载")])
def test_limiter_faults_are_middleware_errors_without_retry_after(
        sim_url: str, auth: dict[str, str], path: str, body: dict[str, Any], name: str, status: int,
        words: str) -> None:
    r = httpx.post(sim_url + path, json=body, headers={**auth, **fx(service_error=name)})
    assert words in assert_middleware_envelope(r, status)
    assert "retry-after" not in r.headers and "retry-after-ms" not in r.headers


def test_the_global_limiter_turns_catalogue_reads_away_with_an_empty_429(sim_server: Server,
                                                                       auth: dict[str, str]) -> None:
    """§10.5: the global limiter's 429 has no body and no Retry-After; it guards the public tables too."""
    sim_server.set_faults(Faults(catalogue_429=3))
    url = sim_server.url
    for path, headers in (("/api/pricing", {}), ("/api/status", {}), ("/v1/models", auth)):
        r = httpx.get(url + path, headers=headers)
        assert r.status_code == 429 and r.content == b"" and r.headers.get(REQUEST_ID_HEADER)
        assert "retry-after" not in r.headers and "retry-after-ms" not in r.headers
    assert httpx.post(url + "/v1/chat/completions", json=CHAT, headers=auth).status_code == 200  # calls: not counted
    assert httpx.get(url + "/api/pricing").json()["success"] is True  # the first 3 only
    with pytest.raises(ValueError, match="catalogue_429"):
        Faults(catalogue_429=-1).validate()


def test_quota_faults_are_relay_errors_in_the_route_envelope(sim_url: str, auth: dict[str, str]) -> None:
    h = {**auth, **fx(service_error="quota-403")}
    claude = httpx.post(sim_url + "/v1/messages", json=CLAUDE, headers=h)
    assert claude.status_code == 403 and claude.json()["type"] == "error"
    assert claude.json()["error"]["type"] == "insufficient_user_quota"
    chat = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers=h).json()["error"]
    assert chat["code"] == "insufficient_user_quota" and chat["param"] == ""


def test_invalid_fault_header(sim_url: str, auth: dict[str, str]) -> None:
    r = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers={**auth, "X-Sim-Faults": "{bad"})
    assert r.status_code == 400 and "X-Sim-Faults" in r.json()["error"]["message"]
    r = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers={**auth, **fx(nope=1)})
    assert r.status_code == 400 and "nope" in r.json()["error"]["message"]
    r = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers={**auth, **fx(stream_error_after=-1)})
    assert r.status_code == 400 and "stream_error_after" in r.json()["error"]["message"]


# ----------------------------------------------------------------------------- error faults


def test_fail_first_is_per_server_and_resets(sim_server: Server, auth: dict[str, str]) -> None:
    sim_server.set_faults(Faults(fail_first={503: 2, 429: 1}, retry_after=1.5))
    url = sim_server.url + "/v1/chat/completions"
    statuses = [httpx.post(url, json=CHAT, headers=auth) for _ in range(4)]
    assert [r.status_code for r in statuses] == [429, 503, 503, 200]
    assert statuses[0].headers["retry-after"] == "2" and statuses[0].headers["retry-after-ms"] == "1500"
    assert statuses[1].json()["error"]["type"] == "upstream_error"
    sim_server.set_faults(Faults(fail_first={503: 1}))
    assert httpx.post(url, json=CHAT, headers=auth).status_code == 503
    assert httpx.post(url, json=CHAT, headers=auth).status_code == 200


def test_fail_first_via_header(sim_url: str, auth: dict[str, str]) -> None:
    h = {**auth, **fx(fail_first={"429": 1})}
    first = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers=h)
    assert first.status_code == 429  # §10.5: the service's limiters send no Retry-After, nor does the fault
    assert "retry-after" not in first.headers and "retry-after-ms" not in first.headers
    assert httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers=h).status_code == 200


@pytest.mark.parametrize("faults", [{"fail_first": {"503": 2}}, {"error_rates": {"429": 1.0}}])
def test_retry_after_only_when_the_fault_asks(sim_url: str, auth: dict[str, str], faults: dict[str, Any]) -> None:
    url = sim_url + "/v1/chat/completions"
    bare = httpx.post(url, json=CHAT, headers={**auth, **fx(**faults)})
    assert bare.status_code in (429, 503) and "retry-after" not in bare.headers
    asked = httpx.post(url, json=CHAT, headers={**auth, **fx(**faults, retry_after=0)})
    assert asked.status_code in (429, 503) and asked.headers["retry-after"] == "0"


def test_errors_use_route_envelopes(sim_url: str, auth: dict[str, str]) -> None:
    h = {**auth, **fx(error_rates={"429": 1.0})}
    claude = httpx.post(sim_url + "/v1/messages", json=CLAUDE, headers=h)
    assert claude.status_code == 429 and claude.json()["type"] == "error"
    assert claude.json()["error"]["type"] == "rate_limit_exceeded"
    task = httpx.post(sim_url + "/v1/video/generations", json={"model": "doubao-seedance-2.0", "prompt": "x"},
                      headers=h)
    body = task.json()
    assert task.status_code == 429 and body["data"] is None and "负载" in body["message"]
    assert set(body) == {"code", "message", "data"}
    gem = httpx.post(sim_url + "/v1beta/models/gemini-2.5-pro:generateContent", headers=h,
                     json={"contents": [{"parts": [{"text": "x"}]}]})
    assert gem.status_code == 429 and "error" in gem.json()


def test_error_rates_are_probabilistic_and_deterministic(sim_server: Server, auth: dict[str, str]) -> None:
    def count() -> int:
        sim_server.set_faults(Faults(error_rates={500: 0.5}))
        with httpx.Client(headers=auth) as c:
            # a call route (a poll of an unknown task answers 404 unless the fault answers 500 first)
            return sum(c.get(sim_server.url + "/v1/video/generations/no-such-task").status_code == 500
                       for _ in range(40))

    first = count()
    assert 8 <= first <= 32
    assert count() == first


# ----------------------------------------------------------------------------- timing faults


def test_latency(sim_url: str, auth: dict[str, str]) -> None:
    t = time.perf_counter()
    r = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers={**auth, **fx(latency=0.3)})
    assert r.status_code == 200 and time.perf_counter() - t >= 0.3


def test_ttfb_chunk_delay_and_stream_chunks(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    h = {**auth, **fx(ttfb=0.3, chunk_delay=0.04, stream_chunks=7)}
    t = time.perf_counter()
    with httpx.stream("POST", sim_url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers=h) as r:
        headers_at = time.perf_counter() - t
        raw = b""
        first_at = None
        for chunk in r.iter_raw():
            first_at = first_at or time.perf_counter() - t
            raw += chunk
    total = time.perf_counter() - t
    assert first_at is not None and first_at >= 0.3 and first_at - headers_at >= 0.25  # headers came first
    assert total >= 0.3 + 0.04 * 9
    content = [d for _e, d in sse(raw)[:-1] if d["choices"] and d["choices"][0]["delta"].get("content")]
    assert len(content) == 7


# ----------------------------------------------------------------------------- stream faults


def test_truncate_stream_drops_connection(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    h = {**auth, **fx(truncate_stream_after=3)}
    raw = b""
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream(
            "POST", sim_url + "/v1/responses", json={"model": "gpt-5", "input": "x", "stream": True}, headers=h) as r:
        for chunk in r.iter_raw():
            raw += chunk
    frames = sse(raw)
    assert len(frames) == 3 and frames[-1][1]["type"] != "response.completed"


def test_stall_stream_times_out(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    h = {**auth, **fx(stall_stream_after=2)}
    raw = b""
    t = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout), httpx.stream(
            "POST", sim_url + "/v1/messages", json={**CLAUDE, "stream": True}, headers=h,
            timeout=httpx.Timeout(5, read=0.4)) as r:
        for chunk in r.iter_raw():
            raw += chunk
    assert time.perf_counter() - t < 3
    assert [e for e, _d in sse(raw)] == ["message_start", "ping"]


def test_malformed_json(sim_url: str, auth: dict[str, str], sse: Any) -> None:
    h = {**auth, **fx(malformed_json=True)}
    r = httpx.post(sim_url + "/v1/chat/completions", json=CHAT, headers=h)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    frames = sse(httpx.post(sim_url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers=h).content)
    assert isinstance(frames[0][1], dict) and isinstance(frames[1][1], str)  # the second frame is cut
    assert frames[-1][1] == "[DONE]"


# ----------------------------------------------------------------------------- download faults


def _image_url(url: str, auth: dict[str, str]) -> str:
    r = httpx.post(url + "/v1/images/generations", json={"model": "gpt-image-2", "prompt": "p", "size": "64x64"},
                   headers=auth)
    return r.json()["data"][0]["url"]  # type: ignore[no-any-return]


def test_expire_downloads(sim_server: Server, auth: dict[str, str]) -> None:
    url = _image_url(sim_server.url, auth)
    assert httpx.get(url).status_code == 200
    sim_server.set_faults(Faults(expire_downloads=True))
    r = httpx.get(url)
    assert r.status_code == 403 and b"expired" in r.content
    assert httpx.get(url, headers={"Range": "bytes=0-9"}).status_code == 403


def test_range_requests(sim_url: str, auth: dict[str, str]) -> None:
    url = _image_url(sim_url, auth)
    full = httpx.get(url).content
    part = httpx.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == full[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(full)}"


def test_download_size_and_blob(sim_server: Server, auth: dict[str, str]) -> None:
    n = 3 * 1024 * 1024 + 17
    with httpx.stream("GET", f"{sim_server.url}/sim/blob/{n}") as r:
        assert r.headers["content-length"] == str(n)
        sizes = [len(c) for c in r.iter_raw()]
    assert sum(sizes) == n and max(sizes) <= (1 << 20)
    url = _image_url(sim_server.url, auth)
    sim_server.set_faults(Faults(download_size=12345))
    assert len(httpx.get(url).content) == 12345
    assert httpx.get(f"{sim_server.url}/sim/blob/-1").status_code == 400


# ----------------------------------------------------------------------------- control endpoints


def test_sim_faults_endpoint(sim_server: Server, auth: dict[str, str]) -> None:
    url = sim_server.url + "/sim/faults"
    assert httpx.get(url).json() == Faults().to_dict()
    put = httpx.put(url, json={"video_steps": 5, "error_rates": {"429": 0.25}})
    assert put.status_code == 200 and put.json()["video_steps"] == 5
    assert sim_server.faults.error_rates == {429: 0.25}
    patched = httpx.patch(url, json={"latency": 0.01}).json()
    assert patched["video_steps"] == 5 and patched["latency"] == 0.01
    assert httpx.put(url, json={"video_steps": 0}).status_code == 400
    assert httpx.put(url, json={"bogus": 1}).status_code == 400
    httpx.put(url, json={"video_steps": 5})
    tid = httpx.post(sim_server.url + "/v1/videos", json={"model": "happyhorse-1.0-t2v", "input": {"prompt": "x"}},
                     headers=auth).json()["id"]
    states = [httpx.get(f"{sim_server.url}/v1/videos/{tid}", headers=auth).json()["status"] for _ in range(5)]
    assert states == ["queued", "queued", "in_progress", "in_progress", "completed"]  # SUBMITTED, QUEUED first


def test_faults_dataclass() -> None:
    demo = Faults.demo()
    assert 0 < demo.chunk_delay <= 0.02 and demo.video_steps == 3
    f = Faults.from_dict({"fail_first": {"503": 2}, "malformed_json": True})
    assert f.fail_first == {503: 2} and Faults.from_dict(f.to_dict()) == f
    with pytest.raises(ValueError):
        Faults(error_rates={200: 0.5}).validate()


# ----------------------------------------------------------------------------- the free models' limit (§10.1)


FREE = {**CHAT, "model": "deepseek-v4.1-flash-free"}


@pytest.fixture
def now(sim_server: Server, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The simulator's limiter clock, moved by hand."""
    t = [1000.0]
    monkeypatch.setattr(sim_server.app.state.sim, "clock", lambda: t[0])
    return t


def test_free_models_take_five_requests_a_minute_per_key_and_model(sim_url: str, auth: dict[str, str],
                                                                   now: list[float], sim_server: Server) -> None:
    url = sim_url + "/v1/chat/completions"
    for i in range(5):
        now[0] += 1
        assert httpx.post(url, json=FREE, headers=auth).status_code == 200, i
    limited = httpx.post(url, json=FREE, headers=auth)
    message = assert_middleware_envelope(limited, 429)
    assert message.startswith("您已达到请求数限制：1分钟内最多请求5次")
    assert "retry-after" not in limited.headers and "retry-after-ms" not in limited.headers
    # another key, another free model and a paid model are not limited by it
    assert httpx.post(url, json=FREE, headers={"Authorization": "Bearer sk-other-key-1234"}).status_code == 200
    key = auth["Authorization"].removeprefix("Bearer ")
    assert not sim_server.app.state.sim.rate_limited(key, "another-model-free", 5, 60.0)  # (the table has one)
    assert all(httpx.post(url, json=CHAT, headers=auth).status_code == 200 for _ in range(6))
    # a sliding minute: the first call (at 1001) leaves the window at 1061, the second at 1062
    now[0] = 1060.5
    assert httpx.post(url, json=FREE, headers=auth).status_code == 429
    now[0] = 1061.0
    assert httpx.post(url, json=FREE, headers=auth).status_code == 200
    assert httpx.post(url, json=FREE, headers=auth).status_code == 429


def test_free_limit_counts_served_calls_on_every_protocol(sim_url: str, auth: dict[str, str],
                                                          now: list[float]) -> None:
    """Refused calls do not count (new-api counts successful requests); the Gemini path names the model too."""
    url = sim_url + "/v1/chat/completions"
    for _ in range(3):
        assert httpx.post(url, json=FREE, headers={**auth, **fx(fail_first={"500": 3})}).status_code == 500
    bad = httpx.post(url, json={"model": FREE["model"], "messages": []}, headers=auth)
    assert bad.status_code == 400
    served = 0
    while httpx.post(url, json=FREE, headers=auth).status_code == 200:
        served += 1
    assert served == 5
    now[0] += 61  # a new minute (the table has one free model: each protocol gets its own window)
    gemini = sim_url + f"/v1beta/models/{FREE['model']}:generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    codes = [httpx.post(gemini, json=body, headers=auth).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    now[0] += 61
    claude = [httpx.post(sim_url + "/v1/messages", json={**CLAUDE, "model": FREE["model"]},
                         headers=auth) for _ in range(6)]
    assert [r.status_code for r in claude] == [200] * 5 + [429]
    assert assert_middleware_envelope(claude[-1], 429).startswith("您已达到请求数限制")
    assert httpx.put(sim_url + "/sim/faults", json={}).status_code == 200  # a fresh start, like fail_first
    assert httpx.post(url, json=FREE, headers=auth).status_code == 200
