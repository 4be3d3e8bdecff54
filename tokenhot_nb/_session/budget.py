"""The spending guard: a budget kept in the store, checked before every request, and each call's cost.

The check runs where every call is about to be recorded (so no path can skip it): estimate the call, add what
was spent in this budget period (a call whose cost stayed unknown at its estimate: the relay may have billed
it) and what calls in flight (in any kernel on the store) have reserved, and refuse
with :class:`BudgetExceededError` if that crosses the budget, or if the call's cost cannot be estimated (unless the
budget lets such calls through: :attr:`Budget.allow_unknown`). Nothing is sent then. The check runs in the
transaction that writes the call's ``running`` row, which reserves its estimate (see :class:`Admission`). The budget and the spending live
in the store, so they survive a kernel restart; offline (simulated) spending is counted apart from real
spending, so a budget can be rehearsed on the simulator without touching the real one. A replay's budget stays
in its session (:attr:`Spending.replay_budget`): a replay never changes the recording it plays.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
import threading
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from .. import cost
from ..client._loop import AnyLoopLock
from ..errors import BudgetExceededError, InputError
from ..families._types import KeptMessage, message_edits
from ..history._spending import Unknown

if TYPE_CHECKING:
    from ..catalog import ModelInfo, Price
    from ..families._types import HttpCall
    from ..history import HistoryEntry, Store
    from .core import Session

BUDGET_KEY = "budget"


@dataclass(frozen=True)
class Budget:
    """A spending limit in USD (``written`` is how the user gave it) for the period that began at ``since``.

    ``allow_unknown``: a call whose cost cannot be estimated before it runs (a video priced per task, a model
    the price table states no price for) is let through while budget is left; by default it is refused, since
    nothing then bounds what it may spend past the limit."""

    usd: float
    written: str
    since: float
    allow_unknown: bool = False

    def as_json(self) -> str:
        return json.dumps({"usd": self.usd, "written": self.written, "since": self.since,
                           **({"allow_unknown": True} if self.allow_unknown else {})})

    def at_rate(self, rate: float) -> Budget:
        """This budget with a yuan amount ("¥20") converted at ``rate``, the site's top-up rate that the calls'
        costs use too (``usd`` holds it at the rate known when it was set, which may not have been the site's)."""
        try:
            usd, currency = cost.parse_amount(self.written, rate)
        except ValueError:
            return self
        return replace(self, usd=usd) if currency == "CNY" else self

    @classmethod
    def from_json(cls, text: str | None) -> Budget | None:
        if not text:  # no budget set: every call reads this (no decoding, no exception caught)
            return None
        try:
            data = json.loads(text or "null")
            return cls(float(data["usd"]), str(data.get("written", data["usd"]))[:40], float(data["since"]),
                       data.get("allow_unknown") is True)
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class BudgetStatus:
    """What the budget allows now: shows itself in a cell."""

    budget: Budget | None
    spent_usd: float
    simulated: bool
    rate: float = cost.DEFAULT_RATE
    unknown: Unknown = field(default_factory=Unknown)  #: calls of the period whose cost is unknown (counted as)

    @property
    def left_usd(self) -> float | None:
        return None if self.budget is None else max(0.0, self.budget.usd - self.spent_usd)

    def __str__(self) -> str:
        kind = "simulated " if self.simulated else ""
        spent = cost.Cost(self.spent_usd, "mixed", rate=self.rate)
        if self.budget is None:
            return f"No budget set; {kind}spending recorded in this store: {spent}.{unknown_note(self.unknown, self.rate)}"
        since = datetime.fromtimestamp(self.budget.since).strftime("%Y-%m-%d %H:%M")
        spent_text, left_text = cost.spent_and_left(self.budget.usd, self.spent_usd, self.rate)
        limit = cost.Cost(self.budget.usd, "mixed", rate=self.rate)
        allowed = " Calls whose cost cannot be estimated are let through while budget is left." \
            if self.budget.allow_unknown else ""
        return (f"Budget {limit} since {since}: {kind}spent {spent_text}, left {left_text}."
                f"{unknown_note(self.unknown, self.rate)}{allowed}")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def unknown_note(unknown: Unknown, rate: float) -> str:
    """`` N calls ended with the cost unknown: …`` (nothing when none did): what a spent figure holds that no one
    told; such a call counts at its estimate (it may have been billed), or for nothing when it had none."""
    n = unknown.calls
    if not n:
        return ""
    them = "it" if n == 1 else "them"
    parts = []
    estimated = n - unknown.unestimated
    if estimated:
        parts.append(f"{'counted at its estimate' if n == 1 else f'{estimated} counted at their estimates'} "
                     f"({cost.Cost(unknown.counted_usd, rate=rate)})")
    if unknown.unestimated:
        parts.append(f"{'it' if n == 1 else unknown.unestimated} had no estimate and "
                     f"{'counts' if n == 1 or unknown.unestimated == 1 else 'count'} as nothing")
    return (f" {n} call{'s' if n > 1 else ''} ended with the cost unknown (the relay may have billed {them}): "
            + "; ".join(parts) + ".")


def _unknown_short(n: int) -> str:
    """``, 2 calls' costs unknown`` for a one-line message (its hint says how they were counted)."""
    if not n:
        return ""
    return ", 1 call's cost unknown" if n == 1 else f", {n} calls' costs unknown"


#: The :meth:`Session.estimate` under way in this context (its thread, and the tasks its call starts): the session and
#: the costs noted. It was the session's own attribute, so a call another thread made meanwhile (a panel's worker,
#: while the panel priced its next click) was stopped as an estimate too, and never sent.
ESTIMATING: ContextVar[tuple[Session, list[cost.Cost]] | None] = ContextVar("tokenhot_estimating", default=None)


def estimates(session: Session) -> list[cost.Cost] | None:
    """Where ``session``'s calls in this context note their cost instead of being sent (None: they are sent)."""
    found = ESTIMATING.get()
    return found[1] if found is not None and found[0] is session else None


@dataclass
class Spending:
    """Per session: whether the price table was read, and a replay's own budget. (What calls in flight reserved
    is on their rows, counted by every kernel: see :class:`Admission`.)"""

    price_read: bool = False  #: the session's price table was asked for (see :func:`priced`)
    #: one read of the price table for the first calls, on whatever loop or thread each runs
    price_lock: AnyLoopLock = field(default_factory=AnyLoopLock)
    #: A replay's own budget (set, changed or removed while replaying): kept here, never written to the store, so
    #: a replay leaves its recording as it found it. ``replay_budget_set`` False: the store's budget holds.
    replay_budget: Budget | None = None
    replay_budget_set: bool = False


class EstimateOnly(Exception):
    """Raised instead of sending while :meth:`Session.estimate` runs a call dry."""


async def priced(session: Session, info: ModelInfo) -> ModelInfo:
    """``info`` with its price row: the session's table is read (once per TTL; in-process offline) when the model
    was resolved from the built-in menu before the service's table was known. A relay without a price table is
    asked once per session, not on every call."""
    if info.price is not None:
        return info
    spending = session.spending
    if not spending.price_read:
        async with spending.price_lock:  # concurrent first calls (a batch) wait for the one read
            if not spending.price_read:
                await session.catalog.ensure()
                spending.price_read = True
    return session.catalog.snapshot().with_price(info)


def load(store: Store) -> Budget | None:
    return Budget.from_json(store.get_meta(BUDGET_KEY))


def current(session: Session) -> Budget | None:
    """The budget this session counts against: the store's, or, in a replay that set one, the replay's own."""
    if session.mode == "replay" and session.spending.replay_budget_set:
        return session.spending.replay_budget
    return load(session.store)


def _keep(session: Session, budget: Budget | None) -> None:
    """Keep a budget set or removed: in the store (it survives a restart), but a replay's in the session only: a
    replay must leave the recording it plays byte for byte as it was."""
    if session.mode == "replay":
        session.spending.replay_budget, session.spending.replay_budget_set = budget, True
        return
    session.store.set_meta(BUDGET_KEY, budget.as_json() if budget is not None else None)


def rate_of(price: Price | None) -> float:
    return price.top_up_rate if price is not None and price.top_up_rate else cost.DEFAULT_RATE


def is_yuan(amount: float | int | str | None) -> bool:
    """Whether a budget was written in yuan ("¥20", "20 CNY", "20元"): its USD figure needs the site's rate."""
    try:
        return amount is not None and cost.parse_amount(amount)[1] == "CNY"
    except ValueError:
        return False


def site_rate(session: Session) -> float:
    """The site's top-up rate (``/api/status`` ``price``, §10.1) as far as it is known without the network (the
    table in memory or on disk), else Tokenhot's ¥7."""
    session.catalog.snapshot()  # (loads the disk cache, when there is one)
    table = session.catalog.table
    from ..catalog import top_up_rate

    # (read as the prices read it: a ¥ budget and the ¥ costs share one rate)
    return (top_up_rate(table.status) if table is not None else None) or cost.DEFAULT_RATE


def set_budget(session: Session, amount: float | int | str | None, *, rate: float = cost.DEFAULT_RATE,
               new_period: bool = False, allow_unknown: bool | None = None) -> Budget | None:
    """Set (``None``: remove) the budget; a new amount keeps the current period unless ``new_period``, and whether
    calls of unknown cost are let through (:attr:`Budget.allow_unknown`) unless ``allow_unknown`` says."""
    if amount is None:
        _keep(session, None)
        return None
    try:
        usd, _currency = cost.parse_amount(amount, rate)
    except ValueError as exc:
        raise InputError(f"Budget: {exc}.", hint="A budget is an amount such as 2.50 (USD), '$2.50' or '¥20'; "
                                                  "to remove it: set_budget(None), or %th_config --no-budget.") from None
    old = current(session)
    since = _now(session) if new_period or old is None else old.since
    if since != (old.since if old is not None else None):
        session.replay_spent_usd = 0.0  # (a replay's period starts again too)
    allow = allow_unknown if allow_unknown is not None else old is not None and old.allow_unknown
    budget = Budget(usd, str(amount), since, allow)
    _keep(session, budget)
    return budget


def reset_period(session: Session) -> Budget | None:
    """Start a new budget period now: what was spent before no longer counts."""
    old = current(session)
    if old is None:
        return None
    budget = replace(old, since=_now(session))
    _keep(session, budget)
    session.replay_spent_usd = 0.0
    return budget


def _now(session: Session) -> float:
    """When a budget period starts: now; in a replay, when the recording's did (the time of the next call it
    recorded after the last one replayed), so a re-run notebook shows the same "since"."""
    if session.mode == "replay":
        started = session.store.started_after(session.replay_position or 0)
        if started is not None:
            return started
    return time.time()


def simulated(session: Session) -> bool:
    """Whether this session's money is pretend. A replay shows what its recording showed: real money when the
    calls it replays were live (a notebook recorded live re-runs with the same, unlabelled, estimates)."""
    if session.mode == "replay":
        return session.store.recorded_mode() != "live"
    return session.mode != "live"


def status(session: Session, rate: float | None = None) -> BudgetStatus:
    """The budget, shown and counted at the site's top-up ``rate`` (default: :func:`site_rate`)."""
    rate = rate if rate else site_rate(session)
    budget = current(session)
    budget = budget.at_rate(rate) if budget is not None else None
    since = budget.since if budget is not None else 0.0
    store, sim = session.store, simulated(session)
    if session.mode == "replay" and budget is not None:  # the replayed calls' recorded costs (none is charged now)
        return BudgetStatus(budget, session.replay_spent_usd, sim, rate)  # (no budget: what the store recorded)
    return BudgetStatus(budget, store.spent_usd(since, simulated=sim), sim, rate,
                        store.unknown_costs(since, simulated=sim))


# ----------------------------------------------------------------------------- before a request


def _input_text(call: HttpCall | None) -> str:
    """The part of a body that is billed as input tokens (messages, input, contents…), as text."""
    if call is None or not call.json:
        return ""
    body = call.json
    for key in ("messages", "input", "contents", "prompt", "text"):
        if key in body:
            value = body[key]
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return json.dumps(body, ensure_ascii=False)


def _input_tokens(call: HttpCall | None) -> int:
    """:func:`cost.tokens_in_text` of :func:`_input_text`, a conversation counted message by message.

    The same count (sizes add up: ``[``, ``]`` and ``", "`` between the items), but a thread's earlier turns are
    measured once each (remembered, bounded), so the estimate of turn 400 costs what turn 10's does.
    """
    return _input_size(call)[0]


def _input_size(call: HttpCall | None) -> tuple[int, int]:
    """``(`` :func:`_input_tokens` ``, how many leading items of the body's conversation are plain turns)``."""
    body = call.json if call is not None and call.json else {}
    key = next((k for k in ("messages", "input", "contents", "prompt", "text") if k in body), None)
    value = body.get(key) if key is not None else None
    if not isinstance(value, list) or not value:
        return cost.tokens_in_text(_input_text(call)), 0
    chars, wide, plain = _list_size(value)
    return cost.tokens_of_size(2 + 2 * (len(value) - 1) + chars, wide), plain if key == "messages" else 0


#: The conversations measured last, by their first item's id: (that item; their leading plain turns, kept as they
#: were measured; :func:`message_edits` then; those turns' characters and wide characters). A thread's next turn sends
#: the same items and two more: only those two are measured (a loop over every message took ~0.7 ms at turn 400).
_MEASURED: dict[int, tuple[Any, list[Any], int, int, int]] = {}
_MEASURED_MAX = 16
_MEASURED_LEAST = 8  # (shorter ones are measured in no time)
_MEASURED_LOCK = threading.Lock()


def _list_size(value: list[Any]) -> tuple[int, int, int]:
    """``(characters, wide characters, how many leading items are plain turns)`` of a conversation's items
    (brackets and separators left out). Its leading plain turns (``{"role", "content": str}``) are remembered: a
    thread's own messages (:class:`KeptMessage`, whose edits are counted) as those objects, other dicts as
    copies. A list that starts with the turns remembered, none edited since, is measured from there on."""
    first = value[0]
    now = message_edits()  # (before any item is read: an edit made from here on is counted after it)
    with _MEASURED_LOCK:
        memo = _MEASURED.get(id(first))
        kept: list[Any] = []
        chars = wide = 0
        if memo is not None:
            held, items, edits, c, w = memo  # (``held`` keeps the id from being reused)
            if held is first and edits == now and len(items) <= len(value) \
                    and value[:len(items)] == items:
                kept, chars, wide = items, c, w
        start = len(kept)
        leading = True
        kept_chars, kept_wide = chars, wide
        try:
            for item in value[start:] if start else value:
                c, w = _item_size(item)
                chars += c
                wide += w
                if leading and _plain_turn(item):
                    kept.append(item if type(item) is KeptMessage else dict(item))  # (the memo's own list)
                    kept_chars += c
                    kept_wide += w
                else:
                    leading = False
        except BaseException:  # (an item that is no JSON: ``kept`` may have grown past the sizes remembered)
            _MEASURED.pop(id(first), None)
            raise
        if len(kept) > start and len(kept) >= _MEASURED_LEAST:
            _MEASURED.pop(id(first), None)
            if len(_MEASURED) >= _MEASURED_MAX:
                del _MEASURED[next(iter(_MEASURED))]
            _MEASURED[id(first)] = (first, kept, now, kept_chars, kept_wide)
        return chars, wide, len(kept)


def _plain_turn(item: Any) -> bool:
    """A message whose size is its role's and its text's, and that holds no block (no cache mark)."""
    return (type(item) is dict or type(item) is KeptMessage) and len(item) == 2 \
        and type(item.get("role")) is str and type(item.get("content")) is str


def _item_size(item: Any) -> tuple[int, int]:
    if (type(item) is dict or type(item) is KeptMessage) and len(item) == 2:  # (a thread's turn: its own)
        role, content = item.get("role"), item.get("content")
        if type(role) is str and type(content) is str:
            return _message_size(role, content)
    return cost.text_size(json.dumps(item, ensure_ascii=False))


@functools.lru_cache(maxsize=8192)
def _message_size(role: str, content: str) -> tuple[int, int]:
    return cost.text_size(json.dumps({"role": role, "content": content}, ensure_ascii=False))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cache_write(call: HttpCall | None, plain: int = 0) -> Literal["5m", "1h"] | None:
    """The TTL of the prompt-cache writes the body may cause (a ``cache_control`` breakpoint on a block of Claude's
    ``tools``, ``system`` or a message's content, or on the body: "1h" when one asks for an hour), None when it marks
    none: the relay bills a write above the input price (:func:`cost.token_usd`). Only the blocks are looked at: a
    message whose content is a plain string costs a type check."""
    body = call.json if call is not None and call.json else None
    if not isinstance(body, dict):
        return None
    blocks: list[Any] = [body]
    for key in ("tools", "system"):
        if isinstance(body.get(key), list):
            blocks.extend(body[key])
    messages = body.get("messages")
    for message in (messages[plain:] if plain else messages) if isinstance(messages, list) else ():  # (plain: no
        content = message.get("content") if isinstance(message, dict) else None  # blocks in those leading turns)
        if type(content) is list:
            blocks.extend(content)
    ttls = {str(mark.get("ttl") or "5m") for b in blocks if type(b) is dict
            for mark in (b.get("cache_control"),) if isinstance(mark, dict)}
    return "1h" if "1h" in ttls else "5m" if ttls else None


#: Where a body asks for more than one answer or image: OpenAI's ``n``, DashScope's ``parameters.n`` /
#: ``parameters.max_images``, Seedream's ``sequential_image_generation_options.max_images`` (reference §3),
#: Gemini's ``generationConfig.candidateCount``.
_COUNT_KEYS = ("n", "max_images", "candidateCount")
#: The most images a Seedream image set makes (reference §3: ``max_images`` 1..15, references + outputs ≤ 15): what
#: a set asked for with no (or no valid) ``max_images`` may be billed.
SEEDREAM_MAX_IMAGES = 15
#: Where a body caps its output tokens: Chat Completions, Claude, Responses, Gemini's ``generationConfig``.
_CAP_KEYS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "maxOutputTokens")


def _asked(call: HttpCall | None) -> tuple[int | None, int | None]:
    """(answers or images asked, output-token cap) as the body about to be sent writes them, None where it does
    not: what the relay bills, which an option passed through ``extra=`` (``n=8``) or a family's default (Claude's
    ``max_tokens`` 8192) sets without the call's own parameters saying so."""
    body = call.json if call is not None and isinstance(call.json, dict) else None
    if body is None and call is not None and call.data:  # a form (an image edit): its fields are text
        body = {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in call.data.items()}
    if body is None:
        return None, None
    parts = [body] + [body[k] for k in ("parameters", "generationConfig", "generation_config")
                      if isinstance(body.get(k), dict)]
    seq = body.get("sequential_image_generation_options")
    counts = []
    if body.get("sequential_image_generation") == "auto":  # an image set: up to its max_images, at most 15
        asked = _int(seq.get("max_images")) if isinstance(seq, dict) else None
        counts.append(asked if asked is not None and 0 < asked <= SEEDREAM_MAX_IMAGES else SEEDREAM_MAX_IMAGES)
    counts += [v for part in parts for k in _COUNT_KEYS if (v := _int(part.get(k))) is not None and v > 0]
    caps = [v for part in parts for k in _CAP_KEYS if (v := _int(part.get(k))) is not None and v > 0]
    return max(counts, default=None), max(caps, default=None)


def estimate_call(session: Session, kind: str, info: ModelInfo, params: Mapping[str, Any],
                  call: HttpCall | None) -> cost.Cost:
    """What this call is expected to cost, from its price row and what it is about to send (the body's count
    and output cap, when it names more than the call's parameters)."""
    asked, cap = _asked(call)
    count = max(_int(params.get("n")) or 1, asked or 1)
    max_tokens = cap or _int(params.get("max_tokens")) or _int(params.get("max_output_tokens"))
    tokens, plain = _input_size(call)
    return _why_unknown(info, cost.estimate(kind, info.price, input_tokens=tokens, count=count,
                                            max_tokens=max_tokens, simulated=simulated(session),
                                            cache_write=_cache_write(call, plain)))


def _why_unknown(info: ModelInfo, figure: cost.Cost) -> cost.Cost:
    """``figure``, saying why it is unknown when the reason is the model's, not its price row's: a table that prices
    it twice (:data:`cost.PRICED_TWICE`) does state a price, and "no price" sent the user looking for one."""
    if figure.usd is None and info.price is None and info.live.get("priced_twice"):
        return replace(figure, detail=cost.PRICED_TWICE)
    return figure


def dry_run(session: Session, kind: str, info: ModelInfo, params: Mapping[str, Any], call: HttpCall | None) -> None:
    """Under :meth:`Session.estimate`: note what the call would cost and stop it (:class:`EstimateOnly`).

    Checked before the replay lookup too: an estimate is the price of the call, the same in every mode, not
    "free" because a recording exists nor a replay miss because none does."""
    sink = estimates(session)
    if sink is not None:
        if info.price is None:  # (a replay: the prices known without the network, as a replay knows them)
            info = session.catalog.snapshot().with_price(info)
        sink.append(estimate_call(session, kind, info, params, call))
        raise EstimateOnly


@dataclass(frozen=True)
class Admission:
    """The budget check of one call about to be recorded, run by :meth:`Store.insert` in the transaction that
    writes its ``running`` row (which carries ``reserved_usd``): a check that read the spending and the row that
    reserves part of it are one step, so two kernels checking at once never both pass on the same money."""

    store: Store
    kind: str
    model: str
    est: cost.Cost
    rate: float
    simulated: bool

    @property
    def reserved_usd(self) -> float:
        return self.est.upper or 0.0

    def __call__(self, c: sqlite3.Connection) -> None:
        store = self.store
        budget = Budget.from_json(store.meta_in(c, BUDGET_KEY))  # (as it is now: another kernel may have changed it)
        if budget is None:
            return
        budget = budget.at_rate(self.rate)
        spent = store.spent_in(c, budget.since, simulated=self.simulated)  # in flight everywhere included
        if crosses(budget, spent, self.est):
            raise refusal(self.kind, self.model, self.est, self.rate, budget, spent, self.simulated,
                          store.unknown_in(c, budget.since, simulated=self.simulated))


def crosses(budget: Budget, spent: float, est: cost.Cost) -> bool:
    """Whether a call estimated at ``est`` would cross ``budget`` with ``spent`` already counted; one whose cost
    cannot be estimated may, unless the budget lets such calls through (:attr:`Budget.allow_unknown`)."""
    left, upper = budget.usd - spent, est.upper
    if upper is None:
        return left <= 1e-12 or not budget.allow_unknown
    return left <= 1e-12 or upper > left + 1e-12


def refusal(kind: str, model: str, est: cost.Cost, rate: float, budget: Budget, spent: float, sim: bool,
            unknown: Unknown) -> BudgetExceededError:
    """The error of a call the budget refuses: what it would cost, what is left, what was spent."""
    upper, left = est.upper, budget.usd - spent
    if upper is None and left > 1e-12:  # (budget is left: refused because nothing bounds what it may cost)
        return _unknown_refusal(kind, model, est, rate, budget, spent, sim)
    what = ("its cost is not known before it runs" if upper is None else
            f"it would cost {'up to ' if est.usd_max else 'about '}{cost.Cost(upper, rate=rate)}")
    kind_of = "simulated " if sim else ""
    n = unknown.calls
    spent_text, left_text = cost.spent_and_left(budget.usd, spent, rate)
    return BudgetExceededError(
        f"Not sent: this {kind} call to {model} would cross the budget — {what}, and "
        f"{left_text} of your {cost.Cost(budget.usd, rate=rate)} {kind_of}budget "
        f"is left ({spent_text} spent or in flight{_unknown_short(n)}).",
        estimate_usd=upper, left_usd=max(left, 0.0), budget_usd=budget.usd,
        hint=(unknown_note(unknown, rate).strip() + " " + BudgetExceededError.default_hint) if n else None)


def _unknown_refusal(kind: str, model: str, est: cost.Cost, rate: float, budget: Budget, spent: float,
                     sim: bool) -> BudgetExceededError:
    """A call whose cost cannot be estimated, refused while budget is left: why, and how to let such calls through."""
    why = f" ({est.detail})" if est.detail else ""
    left_text = cost.spent_and_left(budget.usd, spent, rate)[1]
    return BudgetExceededError(
        f"Not sent: this {kind} call to {model} may cross your {cost.Cost(budget.usd, rate=rate)} "
        f"{'simulated ' if sim else ''}budget ({left_text} left): its cost cannot be estimated before it runs{why}.",
        estimate_usd=None, left_usd=max(budget.usd - spent, 0.0), budget_usd=budget.usd,
        hint=f"To let such calls through while budget is left (each counts once its cost is known): "
             f"s.set_budget({budget.written!r}, allow_unknown=True), or %th_config --budget-unknown allow.")


def replay_spent(session: Session, entry: HistoryEntry) -> None:
    """Replay: count what a replayed call cost when recorded (its estimate, when its cost was never told), so the
    replay's budget shows what the recording spent."""
    usage = entry.usage or {}
    for key in ("cost", "reserved"):
        value = usage.get(key)
        usd = value.get("usd") if isinstance(value, Mapping) else None
        if isinstance(usd, (int, float)) and not isinstance(usd, bool) and math.isfinite(usd) and usd > 0:
            session.replay_spent_usd += float(usd)
            return


def replay_refusal(session: Session, kind: str, info: ModelInfo, params: Mapping[str, Any],
                   call: HttpCall | None) -> BudgetExceededError | None:
    """Replay, a call with no recording: the refusal the budget gives it, counting what this replay has replayed
    (:func:`replay_spent`), or None. A notebook stopped by its budget when recorded is stopped at the same cell,
    with no network, rather than by a replay miss."""
    budget = current(session)
    if budget is None:
        return None
    if info.price is None:  # (the prices known without the network, as a replay knows them)
        info = session.catalog.snapshot().with_price(info)
    rate = rate_of(info.price)
    budget = budget.at_rate(rate)
    est = estimate_call(session, kind, info, params, call)
    if not crosses(budget, session.replay_spent_usd, est):
        return None
    return refusal(kind, info.id, est, rate, budget, session.replay_spent_usd, simulated(session), Unknown())


def admit(session: Session, kind: str, info: ModelInfo, params: Mapping[str, Any],
          call: HttpCall | None) -> Admission | None:
    """The budget check for a call about to be recorded (pass it to :meth:`Store.insert`); ``None`` when no budget
    is set. Under :meth:`Session.estimate`, :class:`EstimateOnly` instead."""
    dry_run(session, kind, info, params, call)
    budget = load(session.store)
    if budget is None:  # no limit: nothing to estimate (the common case costs one small read)
        return None
    session.store.notice_gone()  # a crashed process's call is no longer in flight (its cost unknown: estimated)
    admission = Admission(session.store, kind, info.id, estimate_call(session, kind, info, params, call),
                          rate_of(info.price), simulated(session))
    # The period counted now, in a read: the check in the write transaction then reads only what changed since.
    # Counted there first, a period of 100k rows held every kernel's writes to the store for ~200 ms, each time
    # another kernel had written (its commit makes this connection's tally stale).
    session.store.spent_usd(budget.since, simulated=admission.simulated)
    return admission


# ----------------------------------------------------------------------------- after a call


def cost_of(session: Session, kind: str, info: ModelInfo, usage: Mapping[str, Any], outputs: list[dict[str, Any]],
            quota: float | None = None) -> dict[str, Any]:
    """The cost to record with a finished call (the ``cost`` key of its usage)."""
    images = sum(1 for o in outputs if o.get("role") == "image")
    return _why_unknown(info, cost.of_call(kind, info.price, usage, count=images or 1, quota=quota,
                                           simulated=simulated(session))).as_dict()


async def task_cost(session: Session, model_id: str, usage: Mapping[str, Any], quota: float | None) -> dict[str, Any]:
    """The cost of a finished video task: its charged quota, else the table's per-call price, else unknown."""
    from ..errors import TokenhotError

    try:
        info = await priced(session, await session._model("video", model_id))
    except TokenhotError:
        return cost.of_call("video", None, usage, quota=quota, simulated=simulated(session)).as_dict()
    return cost_of(session, "video", info, usage, [], quota)
