"""Prompt-cache writes and reads priced as new-api bills them (``service/text_quota.go``): the arithmetic alone.

Expected figures are worked out by hand here from the row's ratios: $5/M input (``model_ratio`` 2.5), $25/M output
(``completion_ratio`` 5), reads × ``cache_ratio`` 0.1, writes × ``create_cache_ratio`` (1.25 when the row has none),
1-hour writes × 6/3.75 = 1.6 more.
"""

from __future__ import annotations

import pytest

from tokenhot_nb import cost
from tokenhot_nb.catalog import Price

CLAUDE = Price(model_ratio=2.5, completion_ratio=5.0, cache_ratio=0.1, create_cache_ratio=1.25)


def test_a_cache_write_costs_the_create_cache_ratio_not_the_plain_input_price() -> None:
    usage = {"input_tokens": 5000, "output_tokens": 100, "cache_write_tokens": 4000}
    c = cost.of_call("chat", CLAUDE, usage)
    # 1,000 plain × $5 + 4,000 written × $5 × 1.25 + 100 out × $25, per 1M
    assert c.usd == pytest.approx((1000 * 5 + 4000 * 6.25 + 100 * 25) / 1e6)
    assert c.source == "per-token"
    assert c.detail == "5,000 in (4,000 cache write) + 100 out tokens"


def test_one_hour_writes_cost_the_write_ratio_times_six_over_three_seventy_five() -> None:
    usage = {"input_tokens": 5000, "output_tokens": 100, "cache_write_tokens": 4000, "cache_write_1h_tokens": 1000}
    c = cost.of_call("chat", CLAUDE, usage)
    # 3,000 five-minute writes × 1.25, 1,000 one-hour writes × 1.25 × 1.6 = × 2
    assert c.usd == pytest.approx((1000 * 5 + 3000 * 6.25 + 1000 * 10 + 100 * 25) / 1e6)
    assert "4,000 cache write, 1,000 of it for 1 h" in c.detail
    assert abs(cost.CACHE_WRITE_1H_MULTIPLIER - 1.6) < 1e-12


def test_a_read_costs_the_cache_ratio_and_a_write_and_a_read_add_up() -> None:
    read = cost.of_call("chat", CLAUDE, {"input_tokens": 5000, "output_tokens": 100, "cached_tokens": 4000})
    assert read.usd == pytest.approx((1000 * 5 + 4000 * 0.5 + 100 * 25) / 1e6)
    both = cost.of_call("chat", CLAUDE, {"input_tokens": 6000, "output_tokens": 0, "cached_tokens": 4000,
                                          "cache_write_tokens": 1500})
    assert both.usd == pytest.approx((500 * 5 + 4000 * 0.5 + 1500 * 6.25) / 1e6)
    assert both.detail == "6,000 in (1,500 cache write; 4,000 cached) + 0 out tokens"


def test_a_row_without_create_cache_ratio_bills_writes_at_new_apis_default_1_25() -> None:
    """new-api's ``GetCreateCacheRatio`` answers 1.25 for a model it has no entry for, and ``/api/pricing`` shows no
    cell then: a missing cell is 1.25, never 1."""
    bare = Price(model_ratio=2.5, completion_ratio=5.0, cache_ratio=0.1)
    assert bare.create_cache_ratio is None
    usage = {"input_tokens": 5000, "output_tokens": 100, "cache_write_tokens": 4000}
    assert cost.of_call("chat", bare, usage).usd == pytest.approx((1000 * 5 + 4000 * 6.25 + 100 * 25) / 1e6)


def test_the_rows_own_create_cache_ratio_and_the_group_ratio_apply() -> None:
    dear = Price(model_ratio=2.5, completion_ratio=5.0, cache_ratio=0.1, create_cache_ratio=2.0, group="vip",
                 group_ratio=0.9)
    usage = {"input_tokens": 5000, "output_tokens": 100, "cache_write_tokens": 4000}
    c = cost.of_call("chat", dear, usage)
    assert c.usd == pytest.approx((1000 * 5 + 4000 * 10 + 100 * 25) / 1e6 * 0.9)
    assert c.detail.endswith("(group vip ×0.9)")


def test_writes_beyond_the_input_are_not_billed_twice() -> None:
    """A malformed usage (writes + reads over the input count) is clamped: the input is billed once at most."""
    usage = {"input_tokens": 1000, "output_tokens": 0, "cached_tokens": 600, "cache_write_tokens": 900}
    assert cost.of_call("chat", CLAUDE, usage).usd == pytest.approx((600 * 0.5 + 400 * 6.25) / 1e6)


def test_an_estimate_of_a_body_with_a_breakpoint_tops_out_at_the_whole_input_written() -> None:
    plain = cost.estimate("chat", CLAUDE, input_tokens=1000, max_tokens=100)
    five = cost.estimate("chat", CLAUDE, input_tokens=1000, max_tokens=100, cache_write="5m")
    hour = cost.estimate("chat", CLAUDE, input_tokens=1000, max_tokens=100, cache_write="1h")
    assert plain.usd == five.usd == hour.usd == pytest.approx(1000 * 5 / 1e6)
    assert plain.usd_max == pytest.approx((1000 * 5 + 100 * 25) / 1e6)
    assert five.usd_max == pytest.approx((1000 * 6.25 + 100 * 25) / 1e6)
    assert hour.usd_max == pytest.approx((1000 * 10 + 100 * 25) / 1e6)
