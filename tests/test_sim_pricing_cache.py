"""The simulator's Claude prompt caching and what it bills for it, over loopback HTTP, checked against the wire format
(Anthropic's usage; new-api's ``create_cache_ratio`` and ``calculateTextQuotaSummary``): never the client's code.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from _session_support import billed_cents

from tokenhot_nb.sim import Server
from tokenhot_nb.sim._state import PREFIXES_KEPT, SimState

KEY = "sk-sim-cache-0123456789abcdef"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
LONG = "The history of the pear, told at length and then some more. " * 300  # well past 1024 tokens
QPU = 500_000


def row(url: str, model: str) -> dict[str, Any]:
    rows = httpx.get(url + "/api/pricing", timeout=30).json()["data"]
    return next(r for r in rows if r["model_name"] == model)


def ask(url: str, question: str, *, ttl: str | None = None, stream: bool = False,
        model: str = "claude-opus-4-6") -> dict[str, Any]:
    """A Messages call whose long system block is a cache breakpoint; its usage (a stream's merged as Anthropic
    sends it: ``message_start`` then ``message_delta``)."""
    mark: dict[str, Any] = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    body = {"model": model, "max_tokens": 100, "stream": stream,
            "system": [{"type": "text", "text": LONG, "cache_control": mark}],
            "messages": [{"role": "user", "content": question}]}
    r = httpx.post(url + "/v1/messages", headers=HEADERS, json=body, timeout=60)
    assert r.status_code == 200, r.text
    if not stream:
        return dict(r.json()["usage"])
    usage: dict[str, Any] = {}
    for line in r.text.splitlines():
        if line.startswith("data:"):
            frame = json.loads(line[5:])
            usage.update((frame.get("message") or {}).get("usage") or frame.get("usage") or {})
    return usage


def new_api_usd(r: dict[str, Any], usage: dict[str, Any]) -> float:
    """new-api's charge for an Anthropic usage (``service/text_quota.go``): input_tokens at 1, reads × cache_ratio,
    5-minute writes × create_cache_ratio, 1-hour writes × create_cache_ratio × 6/3.75, output × completion_ratio;
    all × model_ratio quota, 500,000 quota a USD."""
    split = usage.get("cache_creation") or {}
    write = r.get("create_cache_ratio", 1.25)
    units = (usage["input_tokens"] + usage["cache_read_input_tokens"] * r["cache_ratio"]
             + split.get("ephemeral_5m_input_tokens", 0) * write
             + split.get("ephemeral_1h_input_tokens", 0) * write * 6 / 3.75
             + usage["output_tokens"] * r["completion_ratio"])
    return round(r["model_ratio"] * units) / QPU


def test_claude_rows_publish_their_create_cache_ratio(relay: Server) -> None:
    for model in ("claude-opus-4-6", "claude-sonnet-4-5-20250929"):
        assert row(relay.url, model)["create_cache_ratio"] == 1.25
    assert "create_cache_ratio" not in row(relay.url, "gpt-5")  # shown only where the relay has an entry


@pytest.mark.parametrize("stream", [False, True])
def test_a_breakpoint_is_written_the_first_time_and_read_the_next(relay: Server, stream: bool) -> None:
    r = row(relay.url, "claude-opus-4-6")
    before = billed_cents(relay.url, KEY)
    first = ask(relay.url, "What came first?", stream=stream)
    spent_first = billed_cents(relay.url, KEY) - before
    second = ask(relay.url, "And then?", stream=stream)
    spent_second = billed_cents(relay.url, KEY) - before - spent_first
    assert first["cache_creation_input_tokens"] >= 1024 and first["cache_read_input_tokens"] == 0
    assert first["cache_creation"] == {"ephemeral_5m_input_tokens": first["cache_creation_input_tokens"],
                                       "ephemeral_1h_input_tokens": 0}
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
    assert first["input_tokens"] < 50 and second["input_tokens"] < 50  # the question alone: the cache is apart
    assert spent_first == pytest.approx(new_api_usd(r, first) * 7 * 100)
    assert spent_second == pytest.approx(new_api_usd(r, second) * 7 * 100)
    assert spent_second < spent_first / 5  # a read costs a tenth of the input, a write 1.25×


def test_a_one_hour_breakpoint_is_billed_at_the_one_hour_rate(relay: Server) -> None:
    r = row(relay.url, "claude-opus-4-6")
    before = billed_cents(relay.url, KEY)
    usage = ask(relay.url, "Once, for an hour.", ttl="1h")
    written = usage["cache_creation_input_tokens"]
    assert usage["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": written}
    spent = billed_cents(relay.url, KEY) - before
    assert spent == pytest.approx(new_api_usd(r, usage) * 7 * 100)
    plain_units = usage["input_tokens"] + usage["output_tokens"] * r["completion_ratio"]
    assert spent == pytest.approx(round(r["model_ratio"] * (plain_units + written * 2.0)) / QPU * 700)


def test_prefixes_are_cached_per_model_and_short_ones_not_at_all(relay: Server) -> None:
    ask(relay.url, "Sonnet first.", model="claude-sonnet-4-5-20250929")
    other = ask(relay.url, "Opus now.")
    assert other["cache_read_input_tokens"] == 0 and other["cache_creation_input_tokens"] > 0
    body = {"model": "claude-opus-4-6", "max_tokens": 50,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(2):
        short = httpx.post(relay.url + "/v1/messages", headers=HEADERS, json=body, timeout=60).json()["usage"]
        assert (short["cache_creation_input_tokens"], short["cache_read_input_tokens"]) == (0, 0)


def test_a_message_block_is_a_breakpoint_too_and_a_longer_prompt_writes_only_what_is_new(relay: Server) -> None:
    turn = [{"role": "user", "content": [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]}]
    body = {"model": "claude-opus-4-6", "max_tokens": 50, "messages": turn}
    first = httpx.post(relay.url + "/v1/messages", headers=HEADERS, json=body, timeout=60).json()["usage"]
    assert first["cache_creation_input_tokens"] > 1024
    more = [*turn, {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": [{"type": "text", "text": LONG[:2000] + " And?",
                                          "cache_control": {"type": "ephemeral"}}]}]
    second = httpx.post(relay.url + "/v1/messages", headers=HEADERS, json={**body, "messages": more},
                        timeout=60).json()["usage"]
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert 0 < second["cache_creation_input_tokens"] < first["cache_creation_input_tokens"]


def test_the_prefix_memory_is_bounded_and_holds_digests_only() -> None:
    state = SimState()
    for i in range(PREFIXES_KEPT * 3):
        assert state.cached_prefixes(KEY, "m", [(f"digest-{i}", 300.0)]) == 0
    book = next(iter(state._prefixes.values()))
    assert len(book) == PREFIXES_KEPT and KEY not in json.dumps(list(state._prefixes))
    assert state.cached_prefixes(KEY, "m", [(f"digest-{PREFIXES_KEPT * 3 - 1}", 300.0)]) == 1
    assert state.cached_prefixes(KEY, "m", [("digest-0", 300.0)]) == 0  # the oldest went first


def test_an_entry_expires_with_its_ttl() -> None:
    state = SimState()
    now = [1000.0]
    state.clock = lambda: now[0]
    state.cached_prefixes(KEY, "m", [("a", 300.0)])
    now[0] += 299
    assert state.cached_prefixes(KEY, "m", [("a", 300.0)]) == 1  # a hit refreshes it
    now[0] += 299
    assert state.cached_prefixes(KEY, "m", [("a", 300.0)]) == 1
    now[0] += 301
    assert state.cached_prefixes(KEY, "m", [("a", 300.0)]) == 0
