"""The simulator's price table, site status and billing, over loopback HTTP, checked against the wire format."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tokenhot_nb.sim import Server

ROW_FIELDS = {"model_name", "quota_type", "model_ratio", "completion_ratio", "model_price", "cache_ratio",
              "image_ratio", "audio_ratio", "vendor_id", "tags", "supported_endpoint_types", "enable_groups",
              "input_modalities", "output_modalities"}


#: Each test here reads the simulator's total spending before and after a call: a server of this module's own
#: (tests/conftest.py), none of another module's calls billed in between.
OWN_SIMULATOR = True


def get(url: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(url + path, headers=headers or {}, timeout=30)


def used_cents(sim_url: str, auth: dict[str, str]) -> float:
    body = get(sim_url, "/v1/dashboard/billing/usage", auth).json()
    return float(body["total_usage"])


def test_pricing_is_public_and_lists_menu_and_new_models(sim_url: str) -> None:
    r = get(sim_url, "/api/pricing")  # no key
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["group_ratio"]["default"] == 1
    assert {v["id"] for v in body["vendors"]} >= {row["vendor_id"] for row in body["data"]}
    rows = {row["model_name"]: row for row in body["data"]}
    for row in rows.values():
        assert set(row) >= ROW_FIELDS, row["model_name"]
        assert row["quota_type"] in (0, 1)
        assert all(isinstance(row[k], (int, float)) for k in ("cache_ratio", "image_ratio", "audio_ratio"))
    # the table writes dashes where the docs write dots, and lists models beyond the seed menu
    assert {"doubao-seedance-2-0", "kling-v3", "veo3.1", "deepseek-v4-pro", "nano-banana-pro"} <= set(rows)
    assert rows["gpt-image-2"]["quota_type"] == 1 and rows["gpt-image-2"]["model_price"] == 0.028
    gpt5 = rows["gpt-5"]
    assert gpt5["quota_type"] == 0 and gpt5["model_ratio"] * 2 == 1.25 and gpt5["model_ratio"] * 2 * gpt5[
        "completion_ratio"] == 10
    assert rows["kling-v3"]["model_ratio"] == 37.5 and rows["kling-v3"]["supported_endpoint_types"] == [
        "openai-video"]
    assert "视频" in rows["veo3.1"]["output_modalities"]


def test_status_is_public(sim_url: str) -> None:
    data = get(sim_url, "/api/status").json()["data"]
    assert data["quota_per_unit"] == 500_000 and data["price"] == 7


def test_billing_needs_a_key(sim_url: str) -> None:
    r = get(sim_url, "/v1/dashboard/billing/subscription")
    assert r.status_code == 401 and r.json()["error"]["type"] == "new_api_error"


def test_image_calls_are_charged_per_call_times_n(sim_url: str, auth: dict[str, str]) -> None:
    before = used_cents(sim_url, auth)
    r = httpx.post(sim_url + "/v1/images/generations", headers=auth, timeout=60,
                   json={"model": "gpt-image-2", "prompt": "two pears", "n": 2})
    assert r.status_code == 200
    # $0.028 × 2 images, shown in hundredths of the display unit (¥7 per USD)
    assert abs(used_cents(sim_url, auth) - before - 0.028 * 2 * 7 * 100) < 1e-6


def test_chat_is_charged_from_its_usage(sim_url: str, auth: dict[str, str]) -> None:
    before = used_cents(sim_url, auth)
    r = httpx.post(sim_url + "/v1/chat/completions", headers=auth, timeout=60,
                   json={"model": "gpt-5", "messages": [{"role": "user", "content": "hello there"}]})
    usage = r.json()["usage"]
    usd = (usage["prompt_tokens"] * 1.25 + usage["completion_tokens"] * 10) / 1_000_000
    quota = round(usd * 500_000)  # the relay charges whole quota units
    assert abs(used_cents(sim_url, auth) - before - quota / 500_000 * 7 * 100) < 1e-6


def test_failed_calls_are_not_charged(sim_url: str, auth: dict[str, str]) -> None:
    before = used_cents(sim_url, auth)
    r = httpx.post(sim_url + "/v1/images/generations", timeout=60,
                   headers={**auth, "X-Sim-Faults": json.dumps({"fail_first": {"500": 1}})},
                   json={"model": "gpt-image-2", "prompt": "x"})
    assert r.status_code == 500
    assert used_cents(sim_url, auth) == before


def _run_task(sim_url: str, auth: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    created = httpx.post(sim_url + "/v1/video/generations", headers=auth, json=body, timeout=60).json()
    task_id = created.get("task_id") or created.get("id") or created["data"]["task_id"]
    for _ in range(20):
        data = get(sim_url, f"/v1/video/generations/{task_id}", auth).json()["data"]
        if data["status"] in ("SUCCESS", "FAILURE"):
            return data
    raise AssertionError("the task never finished")


def test_every_video_row_is_dynamic_and_charged_per_task(sim_url: str) -> None:
    rows = get(sim_url, "/api/pricing").json()["data"]
    video = [r for r in rows if "openai-video" in r["supported_endpoint_types"]]
    assert {"MiniMax-Hailuo-02", "MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast"} <= {r["model_name"] for r in video}
    for row in video:  # §10.1: the default ratio 37.5, no per-call price; the task's data.quota is the charge
        assert (row["quota_type"], row["model_ratio"], row["model_price"]) == (0, 37.5, 0), row["model_name"]


def test_a_finished_task_carries_its_quota_and_is_charged_once(sim_url: str, auth: dict[str, str]) -> None:
    before = used_cents(sim_url, auth)
    body = {"model": "MiniMax-Hailuo-2.3", "prompt": "waves", "duration": 6, "size": "768P"}
    data = _run_task(sim_url, auth, body)
    # 6 s at $0.05 a second (768P: size multiplier 1), in quota at 500,000 a USD
    assert data["status"] == "SUCCESS" and data["quota"] == round(6 * 0.05 * 500_000)
    get(sim_url, f"/v1/video/generations/{data['task_id']}", auth)  # polled again: not charged again
    get(sim_url, f"/v1/videos/{data['task_id']}", auth)  # nor in the other poll style
    assert abs(used_cents(sim_url, auth) - before - 6 * 0.05 * 7 * 100) < 1e-6


def test_submit_answers_name_their_billing_multipliers(sim_url: str, auth: dict[str, str]) -> None:
    """§10.5: ``X-New-Api-Other-Ratios`` on a create: seconds, size and video_input, from the body; the finished
    task's quota is the per-second price times them."""
    v2v = {"model": "doubao-seedance-2.0-V2V", "duration": 5, "resolution": "1080p", "content": [
        {"type": "text", "text": "snow"},
        {"type": "video_url", "video_url": {"url": "https://cdn.example.com/in.mp4"}, "role": "reference_video"}]}
    plain = {"model": "doubao-seedance-2.0", "duration": 8, "resolution": "480p",
             "content": [{"type": "text", "text": "rain"}]}
    for body, ratios in ((v2v, {"seconds": 5, "size": 2.0, "video_input": 1.5}),
                         (plain, {"seconds": 8, "size": 0.4, "video_input": 1.0})):
        r = httpx.post(sim_url + "/v1/video/generations", headers=auth, json=body, timeout=60)
        assert r.status_code == 200, r.text
        assert json.loads(r.headers["X-New-Api-Other-Ratios"]) == ratios
        task_id = r.json()["id"]
        for _ in range(5):
            data = get(sim_url, f"/v1/video/generations/{task_id}", auth).json()["data"]
        assert data["quota"] == round(0.05 * ratios["seconds"] * ratios["size"] * ratios["video_input"] * 500_000)
    refused = httpx.post(sim_url + "/v1/video/generations", headers=auth, json={"model": "doubao-seedance-2.0"})
    assert refused.status_code == 400 and "x-new-api-other-ratios" not in refused.headers


def test_billing_errors_come_as_http_200(sim_server: Server, auth: dict[str, str]) -> None:
    headers = {**auth, "X-Sim-Faults": json.dumps({"billing_error": True})}
    for path in ("/v1/dashboard/billing/subscription", "/v1/dashboard/billing/usage", "/v1/credits"):
        r = get(sim_server.url, path, headers)
        assert r.status_code == 200 and "message" in r.json()["error"], path


def test_subscription_and_credits_agree(sim_url: str, auth: dict[str, str]) -> None:
    sub = get(sim_url, "/v1/dashboard/billing/subscription", auth).json()
    credits = get(sim_url, "/v1/credits", auth).json()["data"]
    assert sub["hard_limit_usd"] == credits["total_credits"] == 20 * 7
    assert abs(credits["total_usage"] * 100 - used_cents(sim_url, auth)) < 1e-6


def test_injected_errors_hit_calls_not_the_catalogue(sim_url: str, auth: dict[str, str]) -> None:
    """fail_first means the first *call*: the tables a session reads first are left alone."""
    headers = {**auth, "X-Sim-Faults": json.dumps({"fail_first": {"503": 1}})}
    for path in ("/api/pricing", "/api/status", "/v1/models"):
        assert httpx.get(sim_url + path, headers=headers, timeout=30).status_code == 200, path
    r = httpx.post(sim_url + "/v1/images/generations", headers=headers, timeout=60,
                   json={"model": "gpt-image-2", "prompt": "x"})
    assert r.status_code == 503


# ----------------------------------------------------------------------------- every route bills (wire facts only)

ROW_USD = {"gpt-5": (1.25, 10), "claude-opus-4-6": (5, 25), "gemini-2.5-pro": (1.25, 10)}


def _quota_cents(usd: float) -> float:
    """What ``usd`` shows as on the usage route: whole quota units, in hundredths of ¥ (¥7 a USD)."""
    return round(usd * 500_000) / 500_000 * 7 * 100


def _sse(r: httpx.Response) -> list[Any]:
    return [json.loads(line[5:]) for line in r.text.splitlines()
            if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]")]


def test_a_streamed_chat_is_charged_from_the_usage_it_reported(sim_url: str, auth: dict[str, str]) -> None:
    """The relay bills a stream as it bills the same answer unstreamed (the usage frame says what)."""
    usd_in, usd_out = ROW_USD["gpt-5"]
    before = used_cents(sim_url, auth)
    r = httpx.post(sim_url + "/v1/chat/completions", headers=auth, timeout=60,
                   json={"model": "gpt-5", "stream": True, "stream_options": {"include_usage": True},
                         "messages": [{"role": "user", "content": "hello there"}]})
    usage = next(f["usage"] for f in _sse(r) if f.get("usage"))
    usd = (usage["prompt_tokens"] * usd_in + usage["completion_tokens"] * usd_out) / 1_000_000
    assert usd > 0 and abs(used_cents(sim_url, auth) - before - _quota_cents(usd)) < 1e-6


def test_a_streamed_claude_message_is_charged_input_from_start_output_from_delta(sim_url: str,
                                                                                 auth: dict[str, str]) -> None:
    usd_in, usd_out = ROW_USD["claude-opus-4-6"]
    before = used_cents(sim_url, auth)
    r = httpx.post(sim_url + "/v1/messages", timeout=60,
                   headers={"x-api-key": auth["Authorization"].split()[-1], "anthropic-version": "2023-06-01"},
                   json={"model": "claude-opus-4-6", "stream": True, "max_tokens": 200,
                         "messages": [{"role": "user", "content": "hello there"}]})
    frames = _sse(r)
    tokens_in = next(f["message"]["usage"]["input_tokens"] for f in frames if f.get("type") == "message_start")
    tokens_out = [f["usage"]["output_tokens"] for f in frames if f.get("type") == "message_delta"][-1]
    usd = (tokens_in * usd_in + tokens_out * usd_out) / 1_000_000
    assert usd > 0 and abs(used_cents(sim_url, auth) - before - _quota_cents(usd)) < 1e-6


def test_gemini_native_calls_are_charged_thoughts_as_output(sim_url: str, auth: dict[str, str]) -> None:
    """The model is named in the path (``model:generateContent``); thinking tokens are output
    (``totalTokenCount`` counts them)."""
    usd_in, usd_out = ROW_USD["gemini-2.5-pro"]
    key = {"x-goog-api-key": auth["Authorization"].split()[-1]}
    body = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}],
            "generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
    for action in ("generateContent", "streamGenerateContent?alt=sse"):
        before = used_cents(sim_url, auth)
        r = httpx.post(f"{sim_url}/v1beta/models/gemini-2.5-pro:{action}", headers=key, json=body, timeout=60)
        assert r.status_code == 200
        meta = (r.json() if action == "generateContent" else _sse(r)[-1])["usageMetadata"]
        assert meta.get("thoughtsTokenCount")
        out = meta["totalTokenCount"] - meta["promptTokenCount"]
        usd = (meta["promptTokenCount"] * usd_in + out * usd_out) / 1_000_000
        assert abs(used_cents(sim_url, auth) - before - _quota_cents(usd)) < 1e-6, action


def test_gemini_image_is_charged_its_per_call_price(sim_url: str, auth: dict[str, str]) -> None:
    before = used_cents(sim_url, auth)
    r = httpx.post(f"{sim_url}/v1beta/models/gemini-2.5-flash-image:generateContent", timeout=60,
                   headers={"x-goog-api-key": auth["Authorization"].split()[-1]},
                   json={"contents": [{"role": "user", "parts": [{"text": "a pear"}]}],
                         "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}})
    assert r.status_code == 200
    assert abs(used_cents(sim_url, auth) - before - 0.039 * 7 * 100) < 1e-6


def test_image_sets_are_charged_per_image_whatever_field_asks_for_them(sim_url: str, auth: dict[str, str]) -> None:
    """Seedream asks for a set through ``sequential_image_generation_options.max_images`` and DashScope through
    ``parameters.n`` (§3.2, §10.4): each image made is a call's price."""
    bodies = [
        ({"model": "doubao-seedream-4-5-251128", "prompt": "pears", "size": "2K", "sequential_image_generation":
          "auto", "sequential_image_generation_options": {"max_images": 2}}, 0.04),
        ({"model": "wan2.6-t2i", "input": {"messages": [{"role": "user", "content": [{"text": "pears"}]}]},
          "parameters": {"size": "1280*1280", "n": 2}}, 0.03),
    ]
    for body, price in bodies:
        before = used_cents(sim_url, auth)
        r = httpx.post(sim_url + "/v1/images/generations", headers=auth, json=body, timeout=60)
        assert r.status_code == 200
        assert abs(used_cents(sim_url, auth) - before - price * 2 * 7 * 100) < 1e-6, body["model"]


def test_a_cached_prompt_prefix_is_reported_and_billed_at_the_cache_ratio(sim_url: str, auth: dict[str, str]) -> None:
    """Sent again, a long conversation's start is cached: ``prompt_tokens_details.cached_tokens`` (part of the
    prompt tokens) and the row's ``cache_ratio`` prices that part (§10.1: the table's per-token ratios)."""
    rows = {r["model_name"]: r for r in get(sim_url, "/api/pricing").json()["data"]}
    cache_ratio = rows["gpt-5"]["cache_ratio"]
    assert 0 < cache_ratio < 1
    long = "The history of the pear, told at length. " * 400 + uuid.uuid4().hex  # (id(auth) came back in a later run: a cached start)
    first = [{"role": "system", "content": long}, {"role": "user", "content": "Summarise it."}]
    r1 = httpx.post(sim_url + "/v1/chat/completions", headers=auth, timeout=60, json={"model": "gpt-5", "messages": first})
    assert r1.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    second = [*first, r1.json()["choices"][0]["message"], {"role": "user", "content": "Shorter, please."}]
    before = used_cents(sim_url, auth)
    r2 = httpx.post(sim_url + "/v1/chat/completions", headers=auth, timeout=60, json={"model": "gpt-5", "messages": second})
    usage = r2.json()["usage"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert 1024 <= cached < usage["prompt_tokens"]
    usd_in, usd_out = ROW_USD["gpt-5"]
    usd = ((usage["prompt_tokens"] - cached + cached * cache_ratio) * usd_in + usage["completion_tokens"] * usd_out) / 1e6
    assert abs(used_cents(sim_url, auth) - before - _quota_cents(usd)) < 1e-6


#: One streamed call of each chat protocol (§2.1-§2.4): path, extra headers, body.
_STREAMS: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {}, {"model": "gpt-5", "stream": True,
                                          "messages": [{"role": "user", "content": "tell me a long story"}]}),
    "responses": ("/v1/responses", {}, {"model": "gpt-5", "stream": True, "input": "tell me a long story"}),
    "messages": ("/v1/messages", {"anthropic-version": "2023-06-01"},
                 {"model": "claude-opus-4-6", "stream": True, "max_tokens": 400,
                  "messages": [{"role": "user", "content": "tell me a long story"}]}),
    "gemini": ("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", {},
               {"contents": [{"role": "user", "parts": [{"text": "tell me a long story"}]}]}),
}


def _charged(sim_url: str, auth: dict[str, str], protocol: str, **faults: Any) -> float:
    """The cents one streamed call of ``protocol`` adds to the usage route, with these faults."""
    path, extra, body = _STREAMS[protocol]
    before = used_cents(sim_url, auth)
    r = httpx.post(sim_url + path, json=body, timeout=60,
                   headers={**auth, **extra, "X-Sim-Faults": json.dumps({"stream_chunks": 12, **faults})})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    if "stream_error_after" in faults:  # (the protocol's own error frame ended it: §1.4, §7)
        assert '"error"' in r.text or "response.failed" in r.text
    return used_cents(sim_url, auth) - before


def test_a_stream_broken_by_an_error_frame_is_billed_what_the_relay_counted_before_it(
        sim_url: str, auth: dict[str, str]) -> None:
    """It was billed nothing: the relay's stream handler ends on the error frame as on any last frame and bills its
    count so far (the streamed text as output, the request as input); an error before any of the answer came is
    billed nothing. For each protocol: more text before the error costs more, the whole answer more still."""
    for protocol in _STREAMS:
        whole = _charged(sim_url, auth, protocol)
        early = _charged(sim_url, auth, protocol, stream_error_after=6)
        late = _charged(sim_url, auth, protocol, stream_error_after=10)
        assert 0 < early < late < whole, (protocol, early, late, whole)
        assert _charged(sim_url, auth, protocol, stream_error_after=0) == 0, protocol


def _cut(sim_url: str, auth: dict[str, str], protocol: str, frames: int) -> float:
    """The cents a streamed call of ``protocol`` adds when the client goes away after ``frames`` frames."""
    path, extra, body = _STREAMS[protocol]
    before = used_cents(sim_url, auth)
    with httpx.Client(timeout=60) as c, c.stream(
            "POST", sim_url + path, json=body,
            headers={**auth, **extra, "X-Sim-Faults": json.dumps({"stream_chunks": 12, "chunk_delay": 0.05})}) as r:
        got = 0
        for line in r.iter_lines():
            got += line.startswith("data:")
            if got >= frames:
                break
    for _ in range(200):  # the relay notices the client gone, then bills (bounded: no timing is asserted)
        if used_cents(sim_url, auth) != before:
            break
        time.sleep(0.05)
    return used_cents(sim_url, auth) - before


def test_a_stream_cut_off_or_left_by_the_client_is_billed_what_the_relay_counted(
        sim_url: str, auth: dict[str, str]) -> None:
    """It was billed nothing: new-api's stream scanner ends alike on a broken connection and on the client going
    away (``StreamEndReasonClientGone``), and its stream handler then bills the usage seen, else its own count of the
    text it relayed. A cut before any of the answer went out is billed nothing."""
    for protocol in _STREAMS:
        whole = _charged(sim_url, auth, protocol)
        before = used_cents(sim_url, auth)
        path, extra, body = _STREAMS[protocol]
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(sim_url + path, json=body, timeout=60, headers={
                **auth, **extra, "X-Sim-Faults": json.dumps({"stream_chunks": 12, "truncate_stream_after": 6})})
        cut = used_cents(sim_url, auth) - before
        assert 0 < cut < whole, (protocol, cut, whole)
        left = _cut(sim_url, auth, protocol, 6)
        assert 0 < left < whole, (protocol, left, whole)
        before = used_cents(sim_url, auth)
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(sim_url + path, json=body, timeout=60, headers={
                **auth, **extra, "X-Sim-Faults": json.dumps({"stream_chunks": 12, "truncate_stream_after": 0})})
        assert used_cents(sim_url, auth) == before, protocol
