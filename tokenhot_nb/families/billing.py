"""The balance routes (reference §10.6): build the requests, read every documented answer. Pure.

new-api answers billing problems with HTTP 200 and an ``{"error": …}`` body; those become
:class:`BillingUnavailable` so the session can say the balance is not known rather than show zeros.
Amounts are in the site's display unit; ``/api/status`` says which unit that is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._config import redact
from ._common import finite
from ._types import HttpCall

SUBSCRIPTION = "/v1/dashboard/billing/subscription"
USAGE = "/v1/dashboard/billing/usage"
CREDITS = "/v1/credits"
STATUS = "/api/status"


class BillingUnavailable(Exception):
    """The relay answered, but with no balance (an error body, or a shape without the figures)."""


def build(path: str) -> HttpCall:
    return HttpCall("GET", path)


def _error_text(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return "the answer is not a JSON object"
    err = body.get("error")
    if err:
        msg = err.get("message") if isinstance(err, Mapping) else err
        return redact(str(msg or "the relay answered with an error"))[:300]  # (redacted before the cut)
    return None


def _number(body: Mapping[str, Any], key: str) -> float:
    """A finite figure: NaN, infinity or an integer past any float is no balance (and must not raise
    OverflowError past the session's guards)."""
    value = body.get(key)
    number = finite(value) if isinstance(value, (int, float)) else None
    if number is None:
        raise BillingUnavailable(f"the answer has no number in {key!r}")
    return number


def _positive(value: Any, default: float) -> float:
    number = finite(value) if isinstance(value, (int, float)) else None
    return number if number is not None and number > 0 else default


def parse_subscription(body: Any) -> float:
    """``hard_limit_usd``: what the key may spend in all (remaining + used), in the display unit."""
    problem = _error_text(body)
    if problem:
        raise BillingUnavailable(problem)
    return _number(body, "hard_limit_usd")


def parse_usage(body: Any) -> float:
    """``total_usage`` is in hundredths of the display unit."""
    problem = _error_text(body)
    if problem:
        raise BillingUnavailable(problem)
    return _number(body, "total_usage") / 100.0


def parse_credits(body: Any) -> tuple[float, float]:
    """``/v1/credits`` → (total, used), display unit."""
    problem = _error_text(body)
    if problem:
        raise BillingUnavailable(problem)
    data = body.get("data")
    if not isinstance(data, Mapping):
        raise BillingUnavailable("the answer has no 'data' object")
    return _number(data, "total_credits"), _number(data, "total_usage")


def parse_status(body: Any) -> tuple[str, float, float]:
    """``/api/status`` → (display unit, display units per USD, quota per USD).

    The unit is ``CNY`` (÷ ``price``), ``USD``, or ``TOKENS`` (raw quota, ÷ ``quota_per_unit``).
    """
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        raise BillingUnavailable("the site status has no 'data' object")
    per_unit = _positive(data.get("quota_per_unit"), 500_000.0)
    rate = _positive(data.get("price", data.get("usd_exchange_rate")), 1.0)
    unit = str(data.get("quota_display_type") or "").upper()
    if data.get("display_in_currency") is False or unit == "TOKENS":
        return "TOKENS", per_unit, per_unit
    if unit in ("", "USD") and "price" not in data:
        return "USD", 1.0, per_unit
    if unit == "USD":
        return "USD", 1.0, per_unit
    return "CNY", rate, per_unit
