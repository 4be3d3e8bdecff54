"""The balance routes' answers, every documented shape (reference §10.6), including HTTP-200 errors."""

from __future__ import annotations

import pytest

from tokenhot_nb.families import billing
from tokenhot_nb.families.billing import BillingUnavailable


def test_requests_are_plain_gets() -> None:
    call = billing.build(billing.SUBSCRIPTION)
    assert call.method == "GET" and call.path == "/v1/dashboard/billing/subscription" and call.json is None


def test_subscription_usage_and_credits() -> None:
    assert billing.parse_subscription({"object": "billing_subscription", "hard_limit_usd": 140}) == 140
    assert billing.parse_usage({"object": "list", "total_usage": 239.5}) == pytest.approx(2.395)
    assert billing.parse_credits({"data": {"total_credits": 140, "total_usage": 2.4}}) == (140, 2.4)


@pytest.mark.parametrize("body", [
    {"error": {"message": "token has unlimited quota", "type": "upstream_error"}},
    {"error": "not allowed"},
    {"object": "billing_subscription"},  # no figure
    {"hard_limit_usd": "140"},  # not a number
    {"hard_limit_usd": True},
    [1, 2],
    None,
])
def test_answers_without_a_balance_are_refused(body: object) -> None:
    with pytest.raises(BillingUnavailable):
        billing.parse_subscription(body)


def test_error_text_is_kept_short_and_passed_on() -> None:
    with pytest.raises(BillingUnavailable, match="unlimited quota"):
        billing.parse_usage({"error": {"message": "unlimited quota " + "x" * 1000}})
    try:
        billing.parse_credits({"error": {"message": "y" * 1000}})
    except BillingUnavailable as exc:
        assert len(str(exc)) <= 300
    with pytest.raises(BillingUnavailable):
        billing.parse_credits({"data": "none"})


@pytest.mark.parametrize(("data", "unit", "rate"), [
    ({"quota_per_unit": 500000, "price": 7, "quota_display_type": "CNY"}, "CNY", 7.0),
    ({"quota_per_unit": 500000, "price": 7.2}, "CNY", 7.2),  # older relays: a price means a currency
    ({"quota_per_unit": 500000, "quota_display_type": "USD", "price": 7}, "USD", 1.0),
    ({"quota_per_unit": 500000}, "USD", 1.0),
    ({"quota_per_unit": 250000, "display_in_currency": False}, "TOKENS", 250000.0),
])
def test_status_says_the_display_unit(data: dict[str, object], unit: str, rate: float) -> None:
    got_unit, got_rate, per_unit = billing.parse_status({"success": True, "data": data})
    assert (got_unit, got_rate) == (unit, rate) and per_unit == data["quota_per_unit"]


def test_status_without_data_is_refused() -> None:
    with pytest.raises(BillingUnavailable):
        billing.parse_status({"success": False})


HUGE = 10**400  # what JSON's 1e400-style integer literal decodes to: no float holds it


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), HUGE])
def test_a_figure_no_float_can_hold_is_no_balance(value: object) -> None:
    """Not "$nan left of $inf", and not an OverflowError escaping the session's ``except ValueError``."""
    with pytest.raises(BillingUnavailable, match="no number"):
        billing.parse_subscription({"hard_limit_usd": value})
    with pytest.raises(BillingUnavailable, match="no number"):
        billing.parse_usage({"total_usage": value})
    with pytest.raises(BillingUnavailable, match="no number"):
        billing.parse_credits({"data": {"total_credits": value, "total_usage": 1}})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), HUGE, -5, 0])
def test_an_absurd_rate_in_the_site_status_falls_back_to_the_default(value: object) -> None:
    assert billing.parse_status({"data": {"quota_display_type": "CNY", "price": value}}) == ("CNY", 1.0, 500_000.0)
    assert billing.parse_status({"data": {"quota_display_type": "TOKENS", "quota_per_unit": value}}) == \
        ("TOKENS", 500_000.0, 500_000.0)
