"""The key's balance, read from the relay's billing routes (subscription + usage, else ``/v1/credits``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cost import Balance
from ..errors import APIError, AuthenticationError
from ..families import billing

if TYPE_CHECKING:
    from .core import Session


async def _get(session: Session, path: str) -> object:
    return (await session.client.send(billing.build(path))).json()


async def balance(session: Session) -> Balance:
    """What the key may still spend; ``known=False`` with the reason when the relay does not say."""
    simulated = session.mode != "live"
    if session.mode == "replay":
        return Balance(False, reason="replay mode never calls the network.", simulated=True)
    try:
        unit, rate, _ = billing.parse_status(await _get(session, billing.STATUS))
    except (APIError, billing.BillingUnavailable, ValueError):
        unit, rate = "USD", 1.0  # the site status is public on new-api relays; without it, read amounts as USD
    reasons: list[str] = []
    try:
        total = billing.parse_subscription(await _get(session, billing.SUBSCRIPTION))
        used = billing.parse_usage(await _get(session, billing.USAGE))
        return Balance(True, total, used, unit, rate, "/v1/dashboard/billing/*", simulated=simulated)
    except AuthenticationError:
        raise
    except (APIError, billing.BillingUnavailable, ValueError) as exc:
        reasons.append(f"{billing.SUBSCRIPTION}: {exc}")
    try:
        total, used = billing.parse_credits(await _get(session, billing.CREDITS))
        return Balance(True, total, used, unit, rate, billing.CREDITS, simulated=simulated)
    except AuthenticationError:
        raise
    except (APIError, billing.BillingUnavailable, ValueError) as exc:
        reasons.append(f"{billing.CREDITS}: {exc}")
    return Balance(False, currency=unit, rate=rate, simulated=simulated,
                   reason="this relay does not expose a balance to this key (" + "; ".join(reasons) + "). "
                   "See your balance on the relay's web console.")
