"""The simulator against the reference's facts (``tokenhot-api.md``, §10 first), over loopback HTTP.

Each test states one fact of the wire format the simulator had wrong, checked from the service's side: what a
client sees, never what the client's parsers make of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tokenhot_nb import Session
from tokenhot_nb.sim import Server

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
