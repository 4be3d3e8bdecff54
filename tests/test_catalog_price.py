"""Prices from the service's table (§10.1 ``/api/pricing`` + ``/api/status``): what a call costs, as users read it."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from _catalog_support import ROWS, pricing_body

from tokenhot_nb import catalog
from tokenhot_nb._catalog_live import LiveTable, merge, parse_pricing, parse_status
from tokenhot_nb.catalog import QUOTA_PER_USD, Price

# gpt-5.2 as Tokenhot's table writes it: 0.625 × 2 = $1.25 per 1M input tokens, × 8 = $10 per 1M output tokens
GPT = {"model_name": "gpt-5.2", "quota_type": 0, "model_ratio": 0.625, "completion_ratio": 8, "model_price": 0,
       "cache_ratio": 0.1, "image_ratio": 2, "audio_ratio": 3.5, "enable_groups": ["default", "vip"]}
STATUS = {"quota_per_unit": 500000, "price": 7}


def table() -> LiveTable:
    rows, vendors = parse_pricing(pricing_body(ROWS))
    return LiveTable(base_url="http://relay.test", fetched_at=time.time(), rows=rows,
                     status=parse_status({"data": STATUS}), vendors=vendors)


def test_per_token_prices_are_model_ratio_times_two_and_output_times_completion_ratio() -> None:
    p = Price.from_row(GPT, STATUS)
    assert not p.per_call
    assert p.input_usd_per_million == pytest.approx(1.25)
    assert p.output_usd_per_million == pytest.approx(10.0)
    assert p.describe() == "$1.25/M in · $10/M out"
    assert p.describe("chat") == "$1.25/M in · $10/M out"


def test_the_label_keeps_four_significant_digits() -> None:
    p = Price.from_row({"model_ratio": 0.123456, "completion_ratio": 3})
    assert p.describe() == "$0.2469/M in · $0.7407/M out"


def test_a_missing_completion_ratio_prices_output_like_input_and_zero_makes_it_free() -> None:
    same = Price.from_row({"model_ratio": 1.5})
    assert same.completion_ratio == 1.0 and same.output_usd_per_million == same.input_usd_per_million == 3.0
    free_output = Price.from_row({"model_ratio": 1.5, "completion_ratio": 0})
    assert free_output.completion_ratio == 0.0 and free_output.output_usd_per_million == 0.0
    assert free_output.describe() == "$3/M in · $0/M out"


def test_per_call_models_cost_model_price_per_call() -> None:
    image = Price.from_row({"model_name": "gpt-image-2", "quota_type": 1, "model_ratio": 37.5,
                            "completion_ratio": 1, "model_price": 0.028})
    assert image.per_call and image.quota_type == 1 and image.call_usd == 0.028
    assert image.describe() == image.describe("image") == "$0.028/call"
    assert image.describe("video") == "$0.028/call"  # a per-call video model says its price, not "per task"
    assert Price.from_row({"quota_type": 1}).describe() == "$0/call"  # no price cell: 0, still per call


@pytest.mark.parametrize(("cell", "per_call"), [
    (0, False), (1, True), ("1", True), ("0", False), (1.0, True), (0.5, False), (None, False), ("x", False),
    (True, False),  # a boolean is no quota type
])
def test_quota_type_cells_are_read_tolerantly(cell: object, per_call: bool) -> None:
    p = Price.from_row({"quota_type": cell, "model_price": 0.5, "model_ratio": 1})
    assert p.per_call is per_call and p.quota_type == (1 if per_call else 0)
    assert p.describe() == ("$0.5/call" if per_call else "$2/M in · $2/M out")


def test_video_models_are_charged_per_task_in_quota() -> None:
    seedance = Price.from_row({"model_name": "doubao-seedance-2-0", "quota_type": 0, "model_ratio": 37.5,
                               "completion_ratio": 1}, STATUS)
    assert seedance.describe("video") == "per task (charged as the task's quota)"
    assert seedance.usd(1_500_000) == pytest.approx(3.0)  # a poll result's data.quota → USD


def test_quota_turns_into_usd_with_the_sites_quota_per_unit() -> None:
    assert Price.from_row({}).usd(250_000) == 0.5  # no /api/status: 500,000 quota = 1 USD
    assert Price.from_row({}, {"quota_per_unit": "1000"}).usd(250) == 0.25
    for odd in (0, None, "x", float("inf"), False):  # a useless unit falls back to Tokenhot's
        assert Price.from_row({}, {"quota_per_unit": odd}).quota_per_unit == QUOTA_PER_USD
    assert Price(quota_per_unit=0).usd(1000) == 0.0  # never a division by zero


def test_a_zero_ratio_per_token_model_is_free() -> None:
    free = Price.from_row({"model_name": "deepseek-v4.1-flash-free", "quota_type": 0, "model_ratio": 0,
                           "completion_ratio": 1})
    assert free.describe() == "free" and free.describe("chat") == "free"
    assert Price.from_row({"model_ratio": 0.0001}).describe() != "free"


@pytest.mark.parametrize(("cell", "value"), [
    (None, 0.0), ("", 0.0), ("abc", 0.0), ([1], 0.0), ({"x": 1}, 0.0), (True, 0.0), (False, 0.0),
    (float("nan"), 0.0), (float("inf"), 0.0), (float("-inf"), 0.0), ("0.75", 0.75), (" 2 ", 2.0), (3, 3.0),
])
def test_odd_number_cells_fall_back_to_defaults(cell: object, value: float) -> None:
    p = Price.from_row({"model_ratio": cell, "model_price": cell, "completion_ratio": 2})
    assert p.model_ratio == value and p.model_price == value


def test_optional_ratios_are_none_unless_the_table_has_them() -> None:
    p = Price.from_row(GPT, STATUS)
    assert (p.cache_ratio, p.image_ratio, p.audio_ratio) == (0.1, 2.0, 3.5)
    bare = Price.from_row({"model_ratio": 1})
    assert (bare.cache_ratio, bare.image_ratio, bare.audio_ratio, bare.top_up_rate) == (None, None, None, None)
    assert Price.from_row({"cache_ratio": True, "image_ratio": "x", "audio_ratio": float("nan")}).as_dict()[
        "cache_ratio"] is None
    assert Price.from_row({"cache_ratio": 0}).cache_ratio == 0.0  # zero is a price, not a missing one


def test_the_top_up_rate_comes_from_the_status() -> None:
    assert Price.from_row(GPT, STATUS).top_up_rate == 7.0
    assert Price.from_row(GPT, {"price": "7.3"}).top_up_rate == 7.3
    assert Price.from_row(GPT, None).top_up_rate is None
    assert Price.from_row(GPT).quota_per_unit == QUOTA_PER_USD == 500_000


@pytest.mark.parametrize(("cell", "groups"), [
    (["default", "vip"], ("default", "vip")),
    ("default, vip ,,", ("default", "vip")),
    ("default", ("default",)),
    ("", ()),
    (None, ()),
    ([], ()),
    (["default", 3, None, {"x": 1}, ["y"]], ("default", "3")),
])
def test_enabled_groups_come_as_lists_or_comma_strings(cell: object, groups: tuple[str, ...]) -> None:
    assert Price.from_row({"enable_groups": cell}).groups == groups


def test_billing_fields_are_kept_as_text() -> None:
    p = Price.from_row({"billing_mode": "tiered", "billing_expr": "tokens * 2"})
    assert (p.billing_mode, p.billing_expr) == ("tiered", "tokens * 2")
    assert (Price.from_row({"billing_mode": None}).billing_mode, Price.from_row({}).billing_expr) == ("", "")
    assert Price.from_row({"billing_mode": 2}).billing_mode == "2"


def test_as_dict_holds_every_field_in_json_types() -> None:
    p = Price.from_row(GPT, STATUS)
    assert p.as_dict() == {
        "quota_type": 0, "model_ratio": 0.625, "completion_ratio": 8.0, "model_price": 0.0,
        "cache_ratio": 0.1, "create_cache_ratio": None, "image_ratio": 2.0, "audio_ratio": 3.5,
        "quota_per_unit": 500000.0, "top_up_rate": 7.0,
        "billing_mode": "", "billing_expr": "", "groups": ["default", "vip"], "group": "", "group_ratio": 1.0,
    }
    assert Price(**{k: tuple(v) if k == "groups" else v for k, v in p.as_dict().items()}) == p  # round trip


# -- a model's price, as the catalogue shows it ----------------------------------------------------------------
def test_a_models_price_label_table_cell_and_html() -> None:
    priced = merge(catalog.builtin(), table()).model("gpt-5.2")
    assert priced.price_label() == "$1.25/M in · $10/M out"
    assert " · both · $1.25/M in · $10/M out<br><small>" in priced._repr_html_()
    assert priced.as_dict()["price"] == priced.price.as_dict() and priced.as_dict()["source"] == "both"
    video = merge(catalog.builtin(), table()).model("doubao-seedance-2-0")
    assert video.price_label() == "per task (charged as the task's quota)"  # the model's kind decides
    plain = catalog.model("gpt-5.2")  # the table was not read: no price, and no price shown
    assert plain.price_label() == "" and plain.as_dict()["price"] is None
    assert " · built-in<br>" in plain._repr_html_() and "$" not in plain._repr_html_()


def test_the_html_shows_whatever_price_a_model_carries() -> None:
    odd = replace(catalog.model("gpt-image-2"), price=Price(quota_type=1, model_price=0.5))
    assert odd._repr_html_().count(" · $0.5/call<br>") == 1
    free = replace(catalog.model("gpt-5.2"), price=Price())
    assert free.price_label() == "free" and " · built-in · free<br>" in free._repr_html_()


@pytest.mark.parametrize("row", [
    {"quota_type": 0, "model_ratio": 1, "completion_ratio": -4},  # a negative output price: a negative cost
    {"quota_type": 0, "model_ratio": 1, "cache_ratio": -1},
    {"quota_type": 0, "model_ratio": 1, "create_cache_ratio": "-2"},
    {"quota_type": 0, "model_ratio": 1, "completion_ratio": float("nan")},  # was priced as 1
    {"quota_type": 0, "model_ratio": 1, "completion_ratio": "abc"},
    {"quota_type": 2, "model_price": 0.5, "model_ratio": 1},  # a billing type new-api did not have: was per call
    {"quota_type": -1, "model_ratio": 1},
    {"quota_type": 0, "model_ratio": 1, "billing_mode": "tiered_expr", "billing_expr": "tier(\"base\", p*2)"},
    {"quota_type": 0, "model_ratio": 1e306, "completion_ratio": 1e10},  # a price that overflows to $inf
    {"quota_type": 1, "model_price": 1e308},
    {"quota_type": 0, "model_ratio": 1e300},  # finite, and no price: listed and budgeted as "$2e+300/M in"
    {"quota_type": 1, "model_price": "5e6"},  # $5,000,000 a call
    {"quota_type": 0, "model_ratio": 1000, "completion_ratio": 1000},  # $2,000,000 per 1M output tokens
], ids=["neg-completion", "neg-cache", "neg-create-cache", "nan-completion", "text-completion", "quota-type-2",
        "quota-type-negative", "tiered-expr", "overflow", "overflow-call", "huge", "huge-call", "huge-output"])
def test_a_row_whose_cells_are_no_price_is_a_model_at_an_unknown_price(row: dict[str, object]) -> None:
    """Priced anyway, these rows showed (and budgeted) a wrong amount as if right: -$0.0006, a NaN ratio read as
    1, an expression-billed model at its ratio, $inf. The model stays listed; its cost is unknown, never a guess."""
    from tokenhot_nb import cost

    assert not Price.stated(row)
    t = LiveTable(base_url="http://relay.test", fetched_at=time.time(),
                  rows=parse_pricing(pricing_body([{"model_name": "gpt-5.2", **row}]))[0])
    info = merge(catalog.builtin(), t).model("gpt-5.2")
    assert info.price is None and info.price_label() == ""
    assert not cost.estimate("chat", info.price, input_text="hi").known
    from tokenhot_nb.magics._tables import models_table

    shown = models_table(None, models=[info])  # (%th_models, s.models()): said, not a blank cell
    assert shown.rows[0][shown.header.index("price")] == "unknown"


@pytest.mark.parametrize("row", [
    {"quota_type": "1", "model_price": "0.028"}, {"quota_type": 1.0, "model_price": 0},  # ($0 a call: free)
    {"model_ratio": 1}, {"model_ratio": 1, "completion_ratio": None, "cache_ratio": None},
    {"model_ratio": "0.5", "completion_ratio": "4", "cache_ratio": "0"}, {"model_ratio": 1, "billing_mode": "ratio"},
    {"model_ratio": 1, "billing_mode": "", "billing_expr": ""},
])
def test_rows_new_api_writes_are_still_priced(row: dict[str, object]) -> None:
    assert Price.stated(row)


@pytest.mark.parametrize("status", [{"quota_per_unit": -500000, "price": -7}, {"quota_per_unit": 0, "price": 0},
                                    {"quota_per_unit": "x", "price": float("nan")},
                                    {"quota_per_unit": 1e-300, "price": 1e308},  # $inf a video, ¥inf any amount
                                    {"quota_per_unit": 0.5, "price": "2e6"}])
def test_a_status_figure_that_is_no_rate_falls_back_to_tokenhots(status: dict[str, object]) -> None:
    """A negative ``quota_per_unit`` made a video's charge negative, a negative ``price`` every ¥ amount; a tiny one
    made it $inf, a huge ``price`` every ¥ amount ¥inf or 300 digits long."""
    from tokenhot_nb import cost

    p = Price.from_row(GPT, status)
    assert (p.quota_per_unit, p.top_up_rate) == (QUOTA_PER_USD, None)
    charged = cost.of_call("video", p, None, quota=500_000)
    assert charged.usd == 1.0 and charged.amount == 7.0 and str(charged) == "$1.00 (¥7.00)"
