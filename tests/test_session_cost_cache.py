"""What a Claude call with prompt caching costs, end to end over loopback: the recorded cost of a cache write and
then of a cache read is what the simulator's balance lost (the relay bills writes × ``create_cache_ratio``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _session_support import billed_cents

from tokenhot_nb import Session
from tokenhot_nb.sim import Server

KEY = "sk-cost-cache-0123456789"
QPU = 500_000
LONG = "The history of the pear, told at length. " * 400


def live(relay: Server, store: Path) -> Session:
    return Session(api_key=KEY, base_url=relay.url, mode="live", store=store)


def system(ttl: str | None = None) -> dict[str, Any]:
    """A long system prompt marked as a cache breakpoint (sent with ``extra=``, as the body's own ``system``)."""
    mark: dict[str, Any] = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return {"system": [{"type": "text", "text": LONG, "cache_control": mark}]}


@pytest.mark.parametrize("stream", [False, True])
def test_a_cache_write_then_a_cache_read_cost_what_the_relay_billed(relay: Server, tmp_path: Path,
                                                                     stream: bool) -> None:
    with live(relay, tmp_path / "store") as s:
        before = billed_cents(relay.url, KEY) / 100 / 7
        first = s.chat("What came first?", model="claude-opus-4-6", endpoint="messages", thread=False,
                       stream=stream, extra=system())
        middle = billed_cents(relay.url, KEY) / 100 / 7
        second = s.chat("And then?", model="claude-opus-4-6", endpoint="messages", thread=False,
                        stream=stream, extra=system())
        after = billed_cents(relay.url, KEY) / 100 / 7
        wrote, read = first.entry.usage, second.entry.usage
        c1, c2 = first.entry.cost, second.entry.cost
    assert wrote["cache_write_tokens"] > 1024 and not wrote.get("cached_tokens")
    assert read["cached_tokens"] == wrote["cache_write_tokens"] and not read.get("cache_write_tokens")
    assert wrote["input_tokens"] == read["input_tokens"]  # the whole input, however it was billed
    assert c1.usd == pytest.approx(middle - before, abs=2 / QPU)  # (the relay charges whole quota units)
    assert c2.usd == pytest.approx(after - middle, abs=2 / QPU)
    assert "cache write" in c1.detail and "cached" in c2.detail


def test_a_one_hour_write_costs_what_the_relay_billed(relay: Server, tmp_path: Path) -> None:
    with live(relay, tmp_path / "store") as s:
        before = billed_cents(relay.url, KEY) / 100 / 7
        answer = s.chat("For an hour.", model="claude-opus-4-6", endpoint="messages", thread=False, stream=False,
                        extra=system("1h"))
        spent = billed_cents(relay.url, KEY) / 100 / 7 - before
        usage, c = answer.entry.usage, answer.entry.cost
    assert usage["cache_write_1h_tokens"] == usage["cache_write_tokens"] > 1024
    assert c.usd == pytest.approx(spent, abs=2 / QPU)
    assert "for 1 h" in c.detail


def test_an_estimate_of_a_body_with_a_breakpoint_allows_for_the_write(relay: Server, tmp_path: Path) -> None:
    """The top of the range prices the input as written (× 1.25, × 2 for an hour): the same pricing as the cost."""
    with live(relay, tmp_path / "store") as s:
        kw: dict[str, Any] = {"model": "claude-opus-4-6", "endpoint": "messages", "thread": False,
                              "max_tokens": 100}
        plain = s.estimate("chat", "A question.", **kw)
        five = s.estimate("chat", "A question.", **kw, extra=system())
        hour = s.estimate("chat", "A question.", **kw, extra=system("1h"))
    assert plain.usd is not None and plain.usd_max is not None and five.usd_max is not None
    assert hour.usd_max is not None
    assert five.usd_max - plain.usd_max == pytest.approx(plain.usd * 0.25)  # the estimated input × (1.25 − 1)
    assert hour.usd_max - plain.usd_max == pytest.approx(plain.usd * 1.0)  # × (1.25 × 1.6 − 1)


def test_a_replayed_call_keeps_what_it_read_from_and_wrote_to_the_cache(relay: Server, tmp_path: Path) -> None:
    """A replay's result carries the usage the live call's had, the prompt cache's reads and writes included (the
    cost shown beside them was worked out from them)."""
    with live(relay, tmp_path / "store") as s:
        calls = [s.chat(q, model="claude-opus-4-6", endpoint="messages", thread=False, stream=False,
                        extra=system("1h")) for q in ("What came first?", "And then?")]
    with Session(mode="replay", store=tmp_path / "store") as r:
        again = [r.chat(q, model="claude-opus-4-6", endpoint="messages", thread=False, stream=False,
                        extra=system("1h")) for q in ("What came first?", "And then?")]
    for live_one, replayed in zip(calls, again, strict=True):
        assert replayed.usage.as_dict() == live_one.usage.as_dict()
        assert str(replayed.cost) == str(live_one.cost)
    assert again[0].usage.cache_write_tokens == again[0].usage.cache_write_1h_tokens > 1024
    assert again[1].usage.cached_tokens == again[0].usage.cache_write_tokens


def test_a_row_of_an_imported_store_with_odd_usage_values_rebuilds_without_them() -> None:
    from tokenhot_nb.results._rebuild import usage_from

    odd = usage_from({"input_tokens": "12", "output_tokens": float("nan"), "cached_tokens": True, "images": -3,
                      "cache_write_tokens": 7.0, "video_seconds": float("inf"), "audio_seconds": 2.5})
    assert (odd.input_tokens, odd.output_tokens, odd.cached_tokens, odd.images) == (0, 0, 0, 0)
    assert (odd.cache_write_tokens, odd.video_seconds, odd.audio_seconds) == (7, 0.0, 2.5)
    assert usage_from(["not", "a", "dict"]) == usage_from(None)  # type: ignore[arg-type]
