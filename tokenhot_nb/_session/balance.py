"""The key's balance, read from the relay's billing routes (subscription + usage, else ``/v1/credits``).

Each balance read is kept beside the history, so a replayed notebook shows the balances its recording showed
(the k-th ``balance()`` of a replay gets the k-th of the newest recording session), with no network.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any

from .._config import redact
from ..cost import Balance
from ..errors import APIError, AuthenticationError, StoreError
from ..families import billing

if TYPE_CHECKING:
    from .core import Session


async def _get(session: Session, path: str) -> object:
    return (await session.client.send(billing.build(path))).json()


#: Store setting: the balances read (``{"session": id, "balance": {...}}``, oldest first), for replay.
READS_KEY = "balance_reads"
#: How many reads are kept.
KEEP = 64
#: :attr:`Session.replay_turns` key counting a replay's balance reads (replay keys are sha256 hex: no clash).
_TURN = "balance()"


async def balance(session: Session) -> Balance:
    """What the key may still spend; ``known=False`` with the reason when the relay does not say."""
    if session.mode == "replay":
        return _replayed(session)
    got = await _read(session)
    try:
        session.store.append_meta(READS_KEY, {"session": session.id, "balance": json.loads(
            redact(json.dumps(dataclasses.asdict(got))))}, keep=KEEP)
    except StoreError:  # a read-only or full store: the balance is still shown, only a replay will not know it
        pass
    return got


def _replayed(session: Session) -> Balance:
    """The balance the recording read at this point, else "not available"."""
    try:
        reads = json.loads(session.store.get_meta(READS_KEY) or "[]")
    except ValueError:
        reads = []
    reads = [r for r in reads if isinstance(r, dict) and isinstance(r.get("balance"), dict)]
    if reads:
        newest = [r["balance"] for r in reads if r.get("session") == reads[-1].get("session")]
        turn = session.replay_turns.get(_TURN, 0)
        session.replay_turns[_TURN] = turn + 1
        fields = {f.name for f in dataclasses.fields(Balance)}
        known: dict[str, Any] = {k: v for k, v in newest[min(turn, len(newest) - 1)].items() if k in fields}
        try:
            got = Balance(**known)
        except TypeError:  # a read written by another version, missing a field: not shown
            pass
        else:
            if _sound(got):  # (a store is data: an edited read must not show a wrong amount, or fail to show)
                return got
    return Balance(False, reason="replay mode never calls the network, and this store recorded no balance read.",
                   simulated=True)


def _sound(got: Balance) -> bool:
    """A recorded read whose every field has its type, amounts finite and not negative, the rate above 0."""
    def amount(v: object) -> bool:
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < math.inf)

    return (isinstance(got.known, bool) and isinstance(got.simulated, bool) and amount(got.total)
            and amount(got.used) and amount(got.rate) and got.rate > 0
            and all(isinstance(t, str) for t in (got.currency, got.source, got.reason)))


async def _read(session: Session) -> Balance:
    simulated = session.mode != "live"
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
