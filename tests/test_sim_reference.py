"""The simulator against the reference's facts (``tokenhot-api.md``, §10 first), over loopback HTTP.

Each test states one fact of the wire format the simulator had wrong, checked from the service's side: what a
client sees, never what the client's parsers make of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokenhot_nb import Session
from tokenhot_nb.sim import Server

#: Some tests here read the simulator's total spending before and after a call: a server of this module's own
#: (tests/conftest.py), none of another module's calls billed in between.
OWN_SIMULATOR = True

VIP = {"X-Sim-Faults": json.dumps({"key_group": "vip"})}


def post(url: str, path: str, auth: dict[str, str], body: dict[str, object],
         extra: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url + path, headers={**auth, **(extra or {})}, json=body, timeout=60)


def listed_ids(url: str, auth: dict[str, str], extra: dict[str, str] | None = None) -> set[str]:
    r = httpx.get(url + "/v1/models", headers={**auth, **(extra or {})}, timeout=30)
    assert r.status_code == 200
    return {m["id"] for m in r.json()["data"]}


# ----------------------------------------------------------------------------- §10.1 enable_groups, §1.4


def test_a_model_outside_the_keys_group_is_refused_by_the_distributor(sim_url: str, auth: dict[str, str]) -> None:
    """A row's ``enable_groups`` are the groups with a channel for it (§10.1): a key of another group gets the
    distributor's 503 ``model_not_found`` naming its own group, in the middleware envelope (no ``param``, §10.5),
    on every route; a key of the row's group is served."""
    rows = {r["model_name"]: r for r in httpx.get(sim_url + "/api/pricing", timeout=30).json()["data"]}
    only_vip = [name for name, row in rows.items() if "default" not in row["enable_groups"]]
    assert only_vip, "the table should sell some model to one group only"
    model = only_vip[0]
    chat = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    r = post(sim_url, "/v1/chat/completions", auth, chat)
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["code"] == "model_not_found" and err["type"] == "new_api_error" and "param" not in err
    assert err["message"].startswith(f"分组 default 下模型 {model} 无可用渠道（distributor）")
    r = post(sim_url, "/v1/messages", auth, {**chat, "max_tokens": 50})
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_not_found"
    assert post(sim_url, "/v1/chat/completions", auth, chat, VIP).status_code == 200


def test_the_refusal_names_the_keys_own_group(sim_url: str, auth: dict[str, str]) -> None:
    r = post(sim_url, "/v1/chat/completions", auth,
             {"model": "no-such-model-x", "messages": [{"role": "user", "content": "hi"}]}, VIP)
    assert r.status_code == 503
    assert r.json()["error"]["message"].startswith("分组 vip 下模型 no-such-model-x 无可用渠道")


def test_v1_models_lists_only_the_models_of_the_keys_group(sim_url: str, auth: dict[str, str]) -> None:
    """``GET /v1/models`` lists the ids the key may use (§10.1), so not those of other groups."""
    rows = httpx.get(sim_url + "/api/pricing", timeout=30).json()["data"]
    vip_only = {r["model_name"] for r in rows if "default" not in r["enable_groups"]}
    default_only = {r["model_name"] for r in rows if "vip" not in r["enable_groups"]}
    mine = listed_ids(sim_url, auth)
    assert vip_only and not vip_only & mine
    assert vip_only <= listed_ids(sim_url, auth, VIP)
    assert not default_only & listed_ids(sim_url, auth, VIP)
    model = sorted(vip_only)[0]
    assert httpx.get(f"{sim_url}/v1/models/{model}", headers=auth, timeout=30).status_code == 404
    assert httpx.get(f"{sim_url}/v1/models/{model}", headers={**auth, **VIP}, timeout=30).status_code == 200


# ----------------------------------------------------------------------------- §10.1 billing_mode / billing_expr


def used_quota(url: str, auth: dict[str, str]) -> float:
    cents = float(httpx.get(url + "/v1/dashboard/billing/usage", headers=auth, timeout=30).json()["total_usage"])
    return cents / 100 / 7 * 500_000  # hundredths of ¥, ¥7 a USD, 500,000 quota a USD


def test_the_table_serves_an_expression_priced_row_and_bills_by_its_expression(sim_url: str,
                                                                                auth: dict[str, str]) -> None:
    """Some new-api versions add ``billing_mode`` / ``billing_expr`` (§10.1): a ``tiered_expr`` row is billed by its
    expression (billingexpr v1: USD per 1M tokens), not by the ratio cells it still carries."""
    rows = httpx.get(sim_url + "/api/pricing", timeout=30).json()["data"]
    tiered = [r for r in rows if r.get("billing_mode") == "tiered_expr"]
    assert tiered and all(r["billing_expr"] for r in tiered)
    row = next(r for r in tiered if r["model_name"] == "qwen3.6-plus")
    assert 'tier("short", p * 1.2 + c * 7.2' in row["billing_expr"]
    before = used_quota(sim_url, auth)
    r = post(sim_url, "/v1/chat/completions", auth,
             {"model": "qwen3.6-plus", "messages": [{"role": "user", "content": "Name three pears, please."}]})
    assert r.status_code == 200
    usage = r.json()["usage"]
    p, c = usage["prompt_tokens"], usage["completion_tokens"]
    by_expr = round((p * 1.2 + c * 7.2) * 500_000 / 1_000_000)
    by_cells = round(row["model_ratio"] * (p + c * row["completion_ratio"]))
    assert by_expr != by_cells
    assert used_quota(sim_url, auth) - before == pytest.approx(by_expr, abs=0.01)


def test_the_client_prices_an_expression_row_unknown_never_by_its_cells(relay: Server, tmp_path: Path) -> None:
    """The client against the simulator's table: a call to a ``tiered_expr`` model works and its cost is unknown,
    not the price its stale cells name; a ratio-priced call beside it is priced."""
    with Session(api_key="sk-reference-0123456789", base_url=relay.url, mode="live", store=tmp_path / "s") as s:
        tiered = s.chat("Name three pears.", model="qwen3.6-plus", thread=False, stream=False)
        priced = s.chat("Name three pears.", model="gpt-5", thread=False, stream=False)
    assert tiered.text and not tiered.cost.known and tiered.cost.usd is None
    assert priced.cost.known and priced.cost.usd


# ----------------------------------------------------------------------------- tools are input (§2.1, §2.3, §2.4)


def _tools(n: int) -> list[dict[str, object]]:
    return [{"type": "function", "function": {
        "name": f"lookup_{i}", "description": "Look a pear variety up in the orchard's catalogue, by its name " * 4,
        "parameters": {"type": "object", "properties": {"name": {"type": "string", "description": "the variety"}}}}}
        for i in range(n)]


def test_tool_definitions_count_as_input_on_every_text_protocol(sim_url: str, auth: dict[str, str]) -> None:
    """A request's ``tools`` are part of what the model reads, so they are billed as input tokens: the same turns
    with more tools report more input."""
    def chat(n: int) -> int:
        body: dict[str, object] = {"model": "gpt-5", "messages": [{"role": "user", "content": "Which pear?"}],
                                   "tool_choice": "none"}
        r = post(sim_url, "/v1/chat/completions", auth, {**body, "tools": _tools(n)} if n else body)
        return int(r.json()["usage"]["prompt_tokens"])

    def responses(n: int) -> int:
        tools = [{"type": "function", **t["function"]} for t in _tools(n)]  # type: ignore[dict-item]
        r = post(sim_url, "/v1/responses", auth,
                 {"model": "gpt-5", "input": "Which pear?", "tool_choice": "none", "tools": tools})
        return int(r.json()["usage"]["input_tokens"])

    def claude(n: int) -> int:
        tools = [{"name": t["function"]["name"], "description": t["function"]["description"],  # type: ignore[index]
                  "input_schema": t["function"]["parameters"]} for t in _tools(n)]  # type: ignore[index]
        r = post(sim_url, "/v1/messages", auth, {"model": "claude-sonnet-4-5-20250929", "max_tokens": 200,
                                                 "messages": [{"role": "user", "content": "Which pear?"}],
                                                 "tools": tools, "tool_choice": {"type": "none"}})
        return int(r.json()["usage"]["input_tokens"])

    def gemini(n: int) -> int:
        decls = [{"name": t["function"]["name"], "description": t["function"]["description"],  # type: ignore[index]
                  "parameters": t["function"]["parameters"]} for t in _tools(n)]  # type: ignore[index]
        body: dict[str, object] = {"contents": [{"role": "user", "parts": [{"text": "Which pear?"}]}],
                                   "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}}
        r = post(sim_url, "/v1beta/models/gemini-2.5-flash:generateContent", auth,
                 {**body, "tools": [{"functionDeclarations": decls}]} if n else body)
        return int(r.json()["usageMetadata"]["promptTokenCount"])

    for name, count in (("chat", chat), ("responses", responses), ("claude", claude), ("gemini", gemini)):
        none, one, three = count(0), count(1), count(3)
        assert none + 40 < one < three, (name, none, one, three)


def test_a_claude_cache_breakpoint_on_the_tools_caches_them(sim_url: str) -> None:
    """Anthropic caches in the order tools → system → messages; a ``cache_control`` on the last tool makes the
    tool definitions a cached prefix: written by the first call, read by the next (§2.3 usage fields)."""
    auth = {"Authorization": "Bearer sk-tools-cache-0123456789"}  # (a key of its own: a cache of its own)
    tools: list[dict[str, object]] = [
        {"name": t["function"]["name"], "description": t["function"]["description"],  # type: ignore[index]
         "input_schema": t["function"]["parameters"]} for t in _tools(24)]  # type: ignore[index]
    tools[-1] = {**tools[-1], "cache_control": {"type": "ephemeral"}}
    body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 200, "tools": tools, "tool_choice": {"type": "none"},
            "messages": [{"role": "user", "content": "Which pear?"}]}
    first = post(sim_url, "/v1/messages", auth, body).json()["usage"]
    second = post(sim_url, "/v1/messages", auth, {**body, "messages": [
        {"role": "user", "content": "Which apple?"}]}).json()["usage"]
    assert first["cache_creation_input_tokens"] >= 1024 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0


def test_a_prompt_cache_hit_holds_the_tools_in_front_of_the_turns(sim_url: str) -> None:
    """OpenAI caches the longest prefix seen before, tools first: the same turns with the same tools report the
    tools' tokens cached too; the same turns with other tools have no prefix in common."""
    auth = {"Authorization": "Bearer sk-tools-prefix-0123456789"}
    long = "A pear orchard keeps its trees in rows, and every row has a name of its own. " * 150
    turns = [{"role": "system", "content": long}, {"role": "user", "content": "Which pear?"}]
    body = {"model": "gpt-5", "messages": turns, "tools": _tools(6), "tool_choice": "none"}
    post(sim_url, "/v1/chat/completions", auth, body)
    again = post(sim_url, "/v1/chat/completions", auth,
                 {**body, "messages": [*turns, {"role": "assistant", "content": "Conference."},
                                       {"role": "user", "content": "And another?"}]}).json()["usage"]
    bare = post(sim_url, "/v1/chat/completions", auth, {**body, "tools": _tools(5), "messages": [
        *turns, {"role": "assistant", "content": "Bosc."}]}).json()["usage"]
    same = post(sim_url, "/v1/chat/completions", auth, {**body, "messages": [
        *turns, {"role": "assistant", "content": "Comice."}]}).json()["usage"]
    cached = again["prompt_tokens_details"]["cached_tokens"]
    assert cached >= 1024 and bare["prompt_tokens_details"]["cached_tokens"] == 0
    assert same["prompt_tokens_details"]["cached_tokens"] == cached  # the tools and the two turns


# ----------------------------------------------------------------------------- §2.2 / §7 a Responses stream's bill


def _events(r: httpx.Response) -> list[dict[str, object]]:
    return [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]


def _responses_stream(url: str, auth: dict[str, str], body: dict[str, object], faults: dict[str, object]
                      ) -> tuple[float, dict[str, object]]:
    before = used_quota(url, auth)
    r = post(url, "/v1/responses", auth, {"model": "gpt-5", "stream": True, **body},
             {"X-Sim-Faults": json.dumps(faults)})
    last = _events(r)[-1]
    return used_quota(url, auth) - before, last


def test_a_failed_responses_stream_is_billed_from_the_relays_count_not_the_events_usage(
        sim_url: str, auth: dict[str, str]) -> None:
    """The relay reads a Responses stream's usage from ``response.completed`` only (new-api
    ``OaiResponsesStreamHandler``); a stream ending ``response.failed`` is billed from what it counted itself: the
    output-text deltas as output, its estimate of the request as input. Reasoning the event's usage reports is not
    billed (gpt-5: $1.25/M in, $10/M out: quota 0.625 a token in, 5 out)."""
    spent, last = _responses_stream(sim_url, auth, {"input": "Tell me about pears.", "reasoning": {"effort": "high"}},
                                    {"responses_failed": True})
    assert last["type"] == "response.failed"
    usage: dict[str, Any] = last["response"]["usage"]  # type: ignore[index, assignment]
    reasoning = usage["output_tokens_details"]["reasoning_tokens"]
    assert reasoning > 0
    text_tokens = usage["output_tokens"] - reasoning
    assert spent == pytest.approx(round(0.625 * usage["input_tokens"] + 5 * text_tokens), abs=0.01)
    assert spent != pytest.approx(round(0.625 * usage["input_tokens"] + 5 * usage["output_tokens"]), abs=0.01)


def test_a_failed_responses_stream_with_no_text_is_not_billed(sim_url: str, auth: dict[str, str]) -> None:
    """No ``response.completed`` and no output text: the relay counted nothing, so it bills nothing."""
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}
    spent, last = _responses_stream(sim_url, auth, {"input": "Look pears up.", "tools": [tool],
                                                    "tool_choice": "required"}, {"responses_failed": True})
    assert last["type"] == "response.failed" and last["response"]["usage"]["output_tokens"] > 0  # type: ignore[index]
    assert spent == 0


def test_a_completed_responses_stream_is_billed_its_reported_usage(sim_url: str, auth: dict[str, str]) -> None:
    spent, last = _responses_stream(sim_url, auth, {"input": "Tell me about pears.", "reasoning": {"effort": "high"}},
                                    {})
    assert last["type"] == "response.completed"
    usage: dict[str, Any] = last["response"]["usage"]  # type: ignore[index, assignment]
    assert spent == pytest.approx(round(0.625 * usage["input_tokens"] + 5 * usage["output_tokens"]), abs=0.01)


# ----------------------------------------------------------------------------- §1.4 / §10.5 the quota guard


def test_an_exhausted_balance_refuses_a_video_create_in_the_task_envelope(sim_url: str, auth: dict[str, str]) -> None:
    """Video create errors come in the task envelope (§1.4 3.: string ``code``, ``message``, ``data: null``, no
    ``error`` key), the out-of-quota 403 of §10.5 too: it is the relay's refusal, not the middleware's."""
    for name, code in (("quota-403", "insufficient_user_quota"), ("pre-consume-403", "pre_consume_token_quota_failed")):
        r = post(sim_url, "/v1/video/generations", auth, {"model": "doubao-seedance-2-0", "content": [
            {"type": "text", "text": "a kite"}], "duration": 5}, {"X-Sim-Faults": json.dumps({"service_error": name})})
        assert r.status_code == 403
        body = r.json()
        assert set(body) == {"code", "message", "data"} and body["code"] == code and body["data"] is None
        assert "(request id: " in body["message"]


def test_an_exhausted_balance_still_lists_models_reads_billing_and_polls(sim_url: str, auth: dict[str, str]) -> None:
    """The quota guard pre-consumes quota for a call that spends (§10.5); listing models, reading the balance
    (§10.6) and polling a task spend nothing, so an exhausted key still gets them."""
    made = post(sim_url, "/v1/video/generations", auth, {"model": "doubao-seedance-2-0", "content": [
        {"type": "text", "text": "a kite"}], "duration": 5}).json()
    for name in ("quota-403", "pre-consume-403"):
        h = {**auth, "X-Sim-Faults": json.dumps({"service_error": name})}
        for path in ("/v1/models", "/v1/dashboard/billing/usage", "/v1/dashboard/billing/subscription",
                     "/v1/credits", f"/v1/video/generations/{made['id']}", f"/v1/videos/{made['id']}"):
            assert httpx.get(sim_url + path, headers=h, timeout=30).status_code == 200, (name, path)
        assert post(sim_url, "/v1/chat/completions", auth, {"model": "gpt-5", "messages": [
            {"role": "user", "content": "hi"}]}, {"X-Sim-Faults": json.dumps({"service_error": name})}
                    ).status_code == 403


# ----------------------------------------------------------------------------- §10.1 endpoint types per route


def test_a_model_is_refused_on_a_route_its_row_names_no_endpoint_type_for(sim_url: str, auth: dict[str, str]) -> None:
    """The relay hands a request to the model's channel whatever the route; the vendor refuses a model that does
    not make what the route asks (a row's ``supported_endpoint_types`` / modalities, §10.1): 400 in the route's
    envelope, and nothing is charged. The text protocols convert into each other, so they stay open."""
    before = used_quota(sim_url, auth)
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    refused = [("/v1/chat/completions", {"model": "gpt-image-2", **chat}, "error"),
               ("/v1/chat/completions", {"model": "kling-v3", **chat}, "error"),
               ("/v1/messages", {"model": "jina-embeddings-v4", "max_tokens": 20, **chat}, "error"),
               ("/v1/images/generations", {"model": "gpt-5", "prompt": "a pear"}, "error"),
               ("/v1/video/generations", {"model": "gpt-5", "prompt": "a pear"}, "code"),
               ("/v1/audio/speech", {"model": "gpt-5", "input": "a pear", "voice": "alloy"}, "error")]
    for path, body, envelope in refused:
        r = post(sim_url, path, auth, body)
        assert r.status_code == 400, (path, body["model"], r.text[:200])
        assert envelope in r.json(), path
    assert used_quota(sim_url, auth) == before
    for path, body in (("/v1/messages", {"model": "gpt-5", "max_tokens": 50, **chat}),
                       ("/v1/chat/completions", {"model": "claude-sonnet-4-5-20250929", **chat}),
                       ("/v1/images/generations", {"model": "gemini-2.5-flash-image", "prompt": "a pear"})):
        assert post(sim_url, path, auth, body).status_code == 200, (path, body["model"])


# ----------------------------------------------------------------------------- §1.4 routes not implemented


def test_every_route_new_api_does_not_implement_is_501_not_an_unknown_url(sim_url: str, auth: dict[str, str]) -> None:
    """§1.4: unimplemented routes (e.g. /v1/images/variations, /v1/files) answer 501 ``api_not_implemented`` in the
    OpenAI envelope; new-api's list also holds a file by id, its content, the fine-tunes routes and deleting a
    model. An unknown URL stays 404 ``Invalid URL``."""
    calls = [("POST", "/v1/images/variations"), ("GET", "/v1/files"), ("POST", "/v1/files"), ("GET", "/v1/files/f1"),
             ("DELETE", "/v1/files/f1"), ("GET", "/v1/files/f1/content"), ("POST", "/v1/fine-tunes"),
             ("GET", "/v1/fine-tunes"), ("GET", "/v1/fine-tunes/ft1"), ("POST", "/v1/fine-tunes/ft1/cancel"),
             ("GET", "/v1/fine-tunes/ft1/events"), ("DELETE", "/v1/models/gpt-5")]
    for method, path in calls:
        r = httpx.request(method, sim_url + path, headers=auth, timeout=30)
        assert r.status_code == 501, (method, path, r.status_code)
        err = r.json()["error"]
        assert err["code"] == "api_not_implemented" and err["type"] == "new_api_error", (method, path)
    r = httpx.get(sim_url + "/v1/nothing-here", headers=auth, timeout=30)
    assert r.status_code == 404 and r.json()["error"]["message"].startswith("Invalid URL (GET /v1/nothing-here)")
    assert httpx.get(sim_url + "/v1/models/gpt-5", headers=auth, timeout=30).status_code == 200


def test_the_2026_routes_tokenhot_nb_does_not_call_are_501_not_an_unknown_url(sim_url: str,
                                                                              auth: dict[str, str]) -> None:
    """§10.7: /v1/responses/compact, a video remix and /v1/realtime exist on the relay; the simulator does not
    simulate them and says so in new-api's 501 ``api_not_implemented`` (not a 404 that blames the URL)."""
    for method, path in (("POST", "/v1/responses/compact"), ("POST", "/v1/videos/task_abc/remix"),
                         ("GET", "/v1/realtime")):
        r = httpx.request(method, sim_url + path, headers=auth, timeout=30)
        assert r.status_code == 501, (method, path, r.status_code)
        err = r.json()["error"]
        assert err["code"] == "api_not_implemented" and err["type"] == "new_api_error", (method, path)
        assert path in err["message"] and "not simulated" in err["message"]
    assert httpx.post(sim_url + "/v1/responses/compact", timeout=30).status_code == 401  # behind the key check


# ----------------------------------------------------------------------------- §4.1 / §10.3 the poll's TaskDto


def test_a_polled_task_names_the_group_of_the_key_it_was_charged_to(sim_url: str, auth: dict[str, str]) -> None:
    """TaskDto's ``data.group`` is the key's group (§4.1), the one whose ratio ``data.quota`` holds."""
    made = post(sim_url, "/v1/video/generations", auth, {"model": "doubao-seedance-2-0", "content": [
        {"type": "text", "text": "a kite"}], "duration": 5}, VIP).json()
    data: dict[str, Any] = {}
    for _ in range(5):
        data = httpx.get(f"{sim_url}/v1/video/generations/{made['id']}", headers={**auth, **VIP}, timeout=60
                         ).json()["data"]
        if data["status"] == "SUCCESS":
            break
    assert data["status"] == "SUCCESS" and data["group"] == "vip" and data["quota"] > 0


def test_a_chat_stream_without_a_usage_chunk_is_billed_from_the_relays_count(sim_url: str,
                                                                            auth: dict[str, str]) -> None:
    """§2.1: the usage chunk comes only with ``stream_options.include_usage``. Without it the relay still bills the
    stream, from its own count (the streamed text as output, its estimate of the request as input): the same
    answer costs what it costs with the usage chunk (new-api ``OaiStreamHandler``: a stream is never free)."""
    body = {"model": "gpt-5", "stream": True, "messages": [{"role": "user", "content": "Tell me about pears."}]}
    before = used_quota(sim_url, auth)
    with_usage = post(sim_url, "/v1/chat/completions", auth, {**body, "stream_options": {"include_usage": True}})
    usage = next(json.loads(line[5:])["usage"] for line in with_usage.text.splitlines()
                 if line.startswith("data: {") and '"usage"' in line)
    middle = used_quota(sim_url, auth)
    bare = post(sim_url, "/v1/chat/completions", auth, body)
    assert bare.status_code == 200 and '"usage"' not in bare.text
    expected = round(0.625 * usage["prompt_tokens"] + 5 * usage["completion_tokens"])  # gpt-5, nothing cached
    assert middle - before == pytest.approx(expected, abs=0.01)
    assert used_quota(sim_url, auth) - middle == pytest.approx(expected, abs=0.01)
