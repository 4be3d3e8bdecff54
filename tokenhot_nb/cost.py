"""What a call costs, from the service's own price table: pure arithmetic, no I/O.

Three ways a figure is known (reference §10.1): a per-token row (``quota_type`` 0) prices 1M input tokens at
``model_ratio × 2`` USD and output at that × ``completion_ratio``; a per-call row (``quota_type`` 1) costs
``model_price`` USD a call; a video task reports what it was charged as ``quota`` (÷ ``quota_per_unit`` = USD).
When nothing tells, the cost is *unknown*, never a guess. Costs of calls made on the offline simulator are
marked ``simulated`` and never count as real spending.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .catalog import Price

#: ``none``: not charged (the relay answered an error; a failed task is refunded).
Source = Literal["per-token", "per-call", "task", "mixed", "unknown", "none"]
SOURCES: tuple[str, ...] = ("per-token", "per-call", "task", "mixed", "unknown", "none")

#: Tokenhot's top-up rate (``/api/status`` ``price``): the display currency per USD, when the table says nothing.
DEFAULT_RATE = 7.0
DEFAULT_CURRENCY = "CNY"
#: Output tokens assumed for the upper end of a chat estimate when the call sets no ``max_tokens``.
DEFAULT_MAX_OUTPUT = 4096
#: A speech's output grows with its text, so a chat answer's default capped the estimate of a long text's speech
#: below what it cost (and a budget let it through). Its top is this many audio tokens a text token (25 audio
#: tokens a second; a text token is ~4 letters or one CJK character, spoken slowly in well under 0.6 s) ...
SPEECH_TOKENS_PER_TEXT_TOKEN = 16
#: ... and at most Gemini TTS's output limit (16,384 audio tokens, about 11 minutes).
SPEECH_MAX_OUTPUT = 16_384
#: Calls billed for their input tokens alone (embeddings answer vectors, rerank scores, not tokens): their
#: estimate is exact.
INPUT_ONLY = frozenset({"embed", "rerank"})
_SYMBOLS = {"USD": "$", "CNY": "¥"}


def _money(value: float, currency: str, digits: int | None = None) -> str:
    symbol = _SYMBOLS.get(currency, "")
    digits = digits if digits is not None else 4 if abs(value) < 1 else 2
    # (rounded first: one amount reached by two float paths, 1.2249999… and 1.2250000…1, showed ¥1.22 and ¥1.23)
    text = f"{round(value, 10):,.{digits}f}"
    if 0 < value < 0.00005:  # (an embedding of a few words): "0.0000" would read as free
        return f"<{symbol}0.0001" if symbol else f"<0.0001 {currency}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def _span(low: float, high: float | None, currency: str) -> str:
    """``$0.0012–$0.0300``, or one figure when the top is none or shows the same (``<$0.0001–<$0.0001``)."""
    low_text = _money(low, currency)
    high_text = low_text if high is None else _money(high, currency)
    return low_text if high_text == low_text else f"{low_text}–{high_text}"


def spent_and_left(limit_usd: float, spent_usd: float, rate: float, currency: str = DEFAULT_CURRENCY) -> tuple[str, str]:
    """A budget's spent and left figures that add up to its limit as shown: both with the decimals the smaller one
    needs, and what is left taken from the rounded figures (each rounded on its own, $0.1436 and $1.86 summed to
    $2.0036, and ¥1.00 and ¥12.99 to ¥13.99)."""
    left_usd = max(0.0, limit_usd - spent_usd)
    digits = 4 if 0 < spent_usd < 1 or 0 < left_usd < 1 else 2
    parts: list[tuple[str, str]] = []
    for factor, cur in ((1.0, "USD"), (rate, currency)):
        spent = round(spent_usd * factor, digits)
        left = max(0.0, round(limit_usd * factor, digits) - spent) if left_usd else 0.0
        # (a spent figure that rounds to nothing is shown as "<$0.0001", never as free; so is what is left, never
        # as none while a call may still pass)
        parts.append((_money(spent or spent_usd * factor, cur, digits), _money(left or left_usd * factor, cur, digits)))
    (spent_text, left_text), (spent_local, left_local) = parts
    if currency == "USD":
        return spent_text, left_text
    return f"{spent_text} ({spent_local})", f"{left_text} ({left_local})"


def usd_text(value: float) -> str:
    """A USD figure for a table cell: 4 decimals (cells add up to the total), and a non-zero figure too small
    for them as "<$0.0001", never "$0.0000", which reads as free."""
    return "<$0.0001" if 0 < value < 0.00005 else f"${value:.4f}"


@dataclass(frozen=True)
class Cost:
    """A call's cost (or an estimate: then ``usd_max`` is the top of a range).

    ``usd`` is ``None`` when unknown; ``amount`` is the same in the site's display currency (``rate`` per USD).
    """

    usd: float | None
    source: Source = "unknown"
    currency: str = DEFAULT_CURRENCY
    rate: float = DEFAULT_RATE
    simulated: bool = False
    usd_max: float | None = None
    detail: str = ""

    @property
    def known(self) -> bool:
        return self.usd is not None

    @property
    def amount(self) -> float | None:
        """The cost in the site's display currency (¥ on Tokenhot); None when unknown, or too big for a float."""
        amount = None if self.usd is None else self.usd * self.rate
        return amount if amount is not None and math.isfinite(amount) else None

    @property
    def upper(self) -> float | None:
        """The most this may cost, in USD (the estimate's top, or the figure itself)."""
        return self.usd_max if self.usd_max is not None else self.usd

    @property
    def ranged(self) -> bool:
        """Shown as a range: the top differs from the figure as written (``<$0.0001`` to ``<$0.0001`` is one)."""
        return (self.usd is not None and self.usd_max is not None
                and _money(self.usd_max, "USD") != _money(self.usd, "USD"))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"usd": _round(self.usd), "amount": _round(self.amount), "currency": self.currency,
                               "source": self.source, "simulated": self.simulated}
        if self.usd_max is not None:
            out["usd_max"] = _round(self.usd_max)
        if self.detail:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Cost:
        """Read a recorded cost back; anything malformed (an imported history) reads as unknown."""
        if not isinstance(data, Mapping):
            return UNKNOWN
        usd = _spent(data.get("usd"))
        amount = _spent(data.get("amount"))
        source = data.get("source") if data.get("source") in SOURCES else "unknown"
        currency = data.get("currency") if isinstance(data.get("currency"), str) else DEFAULT_CURRENCY
        rate = amount / usd if usd and amount is not None else DEFAULT_RATE
        detail = data.get("detail") if isinstance(data.get("detail"), str) else ""
        return cls(usd, source if usd is not None else "unknown", str(currency)[:8], rate,  # type: ignore[arg-type]
                   bool(data.get("simulated")), _spent(data.get("usd_max")), str(detail)[:200])

    def __str__(self) -> str:
        if self.usd is None:
            return "cost unknown"
        if self.source == "none" and not self.usd:
            return "not charged" + (" (simulated)" if self.simulated else "")
        high = self.usd_max if self.usd_max is not None and self.usd_max > self.usd else None
        text = _span(self.usd, high, "USD")
        amount = self.amount
        high_amount = None if high is None else high * self.rate
        if self.currency != "USD" and amount is not None and math.isfinite(high_amount or 0.0):
            text += f" ({_span(amount, high_amount, self.currency)})"  # (none: USD alone, never ¥0.00 or ¥inf)
        return text + (" simulated" if self.simulated else "")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """A cell's (or IPython's) last line shows what ``print`` shows; ``repr()`` keeps every field, for debugging."""
        p.text(str(self))

    def __add__(self, other: Cost) -> Cost:
        """Sum two costs: unknown wins (a total with an unknown part is unknown), ranges add up."""
        if self.usd is None or other.usd is None:
            return Cost(None, "unknown", self.currency, self.rate, self.simulated and other.simulated)
        low = self.usd + other.usd
        high = (self.upper or 0.0) + (other.upper or 0.0)
        source: Source = self.source if self.source == other.source else "mixed"
        return Cost(low, source, self.currency, self.rate, self.simulated and other.simulated,
                    high if high > low else None)


UNKNOWN = Cost(None)


def not_charged(reason: str, *, simulated: bool = False) -> Cost:
    """The cost of a call the relay did not bill: it answered an error (new-api returns what it pre-charged), or
    the task failed (refunded, §4.1)."""
    return Cost(0.0, "none", simulated=simulated, detail=reason)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _spent(value: Any) -> float | None:
    """A recorded amount: finite and not negative (no call pays back; an edited or imported row may say so)."""
    out = _finite(value)
    return out if out is not None and out >= 0 else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 8)


def _frame(price: Price | None, simulated: bool) -> dict[str, Any]:
    rate = price.top_up_rate if price is not None and price.top_up_rate else DEFAULT_RATE
    return {"currency": DEFAULT_CURRENCY, "rate": rate, "simulated": simulated}


def total(costs: Iterable[Cost]) -> Cost:
    """The sum of many costs (unknown if any is unknown; zero for none)."""
    out: Cost | None = None
    for c in costs:
        out = c if out is None else out + c
    return out if out is not None else Cost(0.0, "per-call")


# ----------------------------------------------------------------------------- what a call cost


#: What new-api bills a prompt-cache write at, × the input price, when the table names no ``create_cache_ratio``:
#: ``ratio_setting.GetCreateCacheRatio`` answers 1.25 for any model it has no entry for (QuantumNous/new-api
#: ``setting/ratio_setting/cache_ratio.go``; its defaults list 1.25 for every Claude model), and ``/api/pricing``
#: shows the cell only for models with an entry (``model/pricing.go``).
CREATE_CACHE_RATIO = 1.25
#: A 1-hour cache write costs the 5-minute write ratio × this (new-api's ``claudeCacheCreation1hMultiplier`` =
#: 6 / 3.75 in ``relay/helper/price.go``: Anthropic's $6 vs $3.75 per 1M for Sonnet); there is no setting for it.
CACHE_WRITE_1H_MULTIPLIER = 6 / 3.75


def token_usd(price: Price, input_tokens: float, output_tokens: float, *, cached: float = 0.0,
              cache_write: float = 0.0, cache_write_1h: float = 0.0) -> float:
    """USD for a per-token call, as new-api's ``calculateTextQuotaSummary`` (``service/text_quota.go``) bills it.

    ``input_tokens`` counts all input; of it, ``cached`` (read from the prompt cache) costs ``cache_ratio`` × the
    input price (1 when the table names none: new-api's ``GetCacheRatio`` default) and ``cache_write`` (written to
    it; ``cache_write_1h`` of them for an hour) ``create_cache_ratio`` × (:data:`CACHE_WRITE_1H_MULTIPLIER` for the
    1-hour ones); the rest 1 ×. Input at ``model_ratio × 2`` USD per 1M, output × ``completion_ratio``, all × the
    key's ``group_ratio``."""
    read_ratio = price.cache_ratio if price.cache_ratio is not None else 1.0
    write_ratio = price.create_cache_ratio if price.create_cache_ratio is not None else CREATE_CACHE_RATIO
    hour = min(max(cache_write_1h, 0.0), cache_write)
    units = (max(input_tokens - cached - cache_write, 0.0) + cached * read_ratio
             + (cache_write - hour) * write_ratio + hour * write_ratio * CACHE_WRITE_1H_MULTIPLIER)
    per_million = price.input_usd_per_million
    return (units * per_million + output_tokens * per_million * price.completion_ratio) / 1_000_000


def _zero_group(price: Price) -> str:
    """Why a price of a group whose ``group_ratio`` is 0 is unknown. new-api would bill such a key nothing, but the
    key's group is a setting this client cannot check with the key (and new-api may override a group's ratio per
    user group): read as free, every estimate is $0 and a budget never stops a call; unknown, it is refused."""
    return f"the price table gives the key's group {price.group or 'default'!r} a ratio of 0, read as no price"


def of_call(kind: str, price: Price | None, usage: Mapping[str, Any] | None, *, count: int = 1,
            quota: float | None = None, simulated: bool = False) -> Cost:
    """What one finished call cost.

    ``count`` is how many billed items it made (images); ``quota`` what the service says it charged (a video
    task's ``data.quota``), which wins over any table price.
    """
    frame = _frame(price, simulated)
    if quota is not None and 0 <= quota < math.inf:  # (a poll's "quota": 1e999 reads as inf: no figure then)
        per_unit = price.quota_per_unit if price is not None and price.quota_per_unit else 500_000.0
        return Cost(quota / per_unit, "task", detail=f"{quota:g} quota charged", **frame)
    if price is None:
        return Cost(None, **frame)
    if not price.group_ratio > 0:
        return Cost(None, detail=_zero_group(price), **frame)
    if price.quota_type == 1:
        n = max(1, count)
        each = price.call_usd
        if not math.isfinite(each * n):  # (a hostile table's price: no figure beats a wrong one)
            return Cost(None, **frame)
        return Cost(each * n, "per-call", detail=(f"{n} × ${each:g}" if n > 1 else f"${each:g} a call")
                    + price.group_note, **frame)
    if kind == "video":  # dynamically priced: only the task's quota tells
        return Cost(None, **frame)
    usage = usage or {}
    tokens_in = _finite(usage.get("input_tokens")) or 0.0
    tokens_out = _finite(usage.get("output_tokens")) or 0.0
    if tokens_in <= 0 and tokens_out <= 0:
        return Cost(None, **frame)
    cached = min(max(_finite(usage.get("cached_tokens")) or 0.0, 0.0), tokens_in)
    written = min(max(_finite(usage.get("cache_write_tokens")) or 0.0, 0.0), tokens_in - cached)
    hour = min(max(_finite(usage.get("cache_write_1h_tokens")) or 0.0, 0.0), written)
    usd = token_usd(price, tokens_in, tokens_out, cached=cached, cache_write=written, cache_write_1h=hour)
    if not math.isfinite(usd):
        return Cost(None, **frame)
    parts = ([f"{written:,.0f} cache write" + (f", {hour:,.0f} of it for 1 h" if hour else "")] if written else []) \
        + ([f"{cached:,.0f} cached"] if cached else [])
    detail = f"{tokens_in:,.0f} in" + (f" ({'; '.join(parts)})" if parts else "") + f" + {tokens_out:,.0f} out tokens"
    return Cost(usd, "per-token", detail=detail + price.group_note, **frame)


# ----------------------------------------------------------------------------- before a call

_WIDE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def tokens_in_text(text: str) -> int:
    """A rough token count for an estimate: ~4 characters a token, one a token for CJK characters."""
    return tokens_of_size(*text_size(text))


def text_size(text: str) -> tuple[int, int]:
    """``(characters, wide characters)`` of ``text``: what :func:`tokens_in_text` counts."""
    return len(text), 0 if text.isascii() else len(_WIDE.findall(text))  # (ASCII, the common case: no scan)


def tokens_of_size(chars: int, wide: int) -> int:
    """:func:`tokens_in_text` of a text of that size (sizes of pieces add up: counted once per piece)."""
    return max(1, math.ceil((chars - wide) / 4) + wide)


#: Why an estimate is unknown (its ``detail``), as a budget's refusal says it.
NO_PRICE = "the price table states no price for it"
#: Why a model the price table lists twice, at two prices, has an unknown price (``ModelInfo.live["priced_twice"]``).
PRICED_TWICE = "the price table lists it twice, at two prices: which one the relay bills is not known"
PER_TASK = "a video is charged per task, known only when the task ends"


def estimate(kind: str, price: Price | None, *, input_text: str = "", count: int = 1,
             max_tokens: int | None = None, simulated: bool = False, input_tokens: int | None = None,
             cache_write: Literal["5m", "1h"] | None = None) -> Cost:
    """What a call is expected to cost before it is sent.

    Exact for per-call prices (× ``count``) and input-only calls (:data:`INPUT_ONLY`); a range for per-token chat
    (input from the text, once; output from none up to ``max_tokens``, or :data:`DEFAULT_MAX_OUTPUT`
    (for speech, what its text may last: :data:`SPEECH_TOKENS_PER_TEXT_TOKEN`), for each of
    ``count`` answers); unknown for dynamically priced video and unlisted models. ``cache_write`` (the body marks a
    prompt-cache breakpoint, with that TTL): the top of the range prices the whole input as written to the cache,
    the dearest way :func:`token_usd` may bill it.
    """
    frame = _frame(price, simulated)
    if price is None:
        return Cost(None, detail=NO_PRICE, **frame)
    if not price.group_ratio > 0:
        return Cost(None, detail=_zero_group(price), **frame)
    if price.quota_type == 1:
        n = max(1, count)
        if not math.isfinite(price.call_usd * n):
            return Cost(None, detail=NO_PRICE, **frame)
        return Cost(price.call_usd * n, "per-call", detail=price.group_note.strip(" ()"), **frame)
    if kind == "video":
        return Cost(None, detail=PER_TASK, **frame)
    # (``n`` answers to one prompt: the prompt is billed once, each answer's output apart)
    tokens = tokens_in_text(input_text) if input_tokens is None else input_tokens
    if kind in INPUT_ONLY:
        usd = token_usd(price, tokens, 0)
        if not math.isfinite(usd):
            return Cost(None, detail=NO_PRICE, **frame)
        return Cost(usd, "per-token", detail=f"~{tokens:,} input tokens{price.group_note}", **frame)
    cap = max_tokens if max_tokens and max_tokens > 0 else (
        min(SPEECH_MAX_OUTPUT, SPEECH_TOKENS_PER_TEXT_TOKEN * tokens) if kind == "speak" else DEFAULT_MAX_OUTPUT)
    low = token_usd(price, tokens, 0)
    written = tokens if cache_write else 0
    high = max(token_usd(price, tokens, cap * max(1, count), cache_write=written,
                         cache_write_1h=written if cache_write == "1h" else 0),
               token_usd(price, tokens, cap * max(1, count)))  # (a create_cache_ratio under 1 writes cheaper)
    if not math.isfinite(high):
        return Cost(None, detail=NO_PRICE, **frame)
    return Cost(low, "per-token", usd_max=high,
                detail=f"~{tokens:,} input tokens, up to {cap:,} output{price.group_note}", **frame)


#: The largest budget taken, in USD: beyond it a limit limits nothing, and its figures no longer print.
MAX_BUDGET_USD = 1e9


def parse_amount(value: float | int | str, rate: float = DEFAULT_RATE) -> tuple[float, str]:
    """A budget as the user wrote it → (USD, currency written). Plain numbers are USD.

    ``2.5``, ``"2.50"``, ``"$2.50"``, ``"2.5 USD"`` are dollars; ``"¥20"``, ``"20 CNY"``, ``"20元"`` are yuan
    (converted at the site's top-up ``rate``).
    """
    if isinstance(value, bool):
        raise ValueError("a budget is an amount such as 2.50 (USD) or '¥20'")
    if isinstance(value, (int, float)):
        amount, currency = float(value), "USD"
    else:
        text = str(value).strip().replace(",", "")
        m = re.fullmatch(r"(\$|¥|￥)?\s*([0-9]*\.?[0-9]+)\s*(usd|cny|rmb|元)?", text, re.IGNORECASE)
        if not m:
            if re.fullmatch(r"-\s*(\$|¥|￥)?\s*[0-9]*\.?[0-9]+.*", text):  # "-5": a number, just below zero
                raise ValueError(f"{value!r} is not an amount: a budget is zero or more")
            raise ValueError(f"{value!r} is not an amount")
        amount = float(m.group(2))
        sign_cny, word_cny = m.group(1) in ("¥", "￥"), (m.group(3) or "").lower() in ("cny", "rmb", "元")
        cny = sign_cny or word_cny
        if m.group(1) and m.group(3) and sign_cny != word_cny:  # "$20 CNY": which was meant is a guess
            raise ValueError(f"{value!r} names two currencies: write '${m.group(2)}' (USD) or '¥{m.group(2)}' (CNY)")
        currency = "CNY" if cny else "USD"
    if not math.isfinite(amount) or amount < 0:
        raise ValueError(f"{value!r} is not an amount: a budget is zero or more")
    usd = amount / rate if currency == "CNY" else amount
    if usd > MAX_BUDGET_USD:  # (1e308 was taken, and shown as a 300-digit limit with ¥inf left)
        raise ValueError(f"{value!r} is too large an amount for a budget (at most ${MAX_BUDGET_USD:,.0f})")
    return usd, currency


@dataclass(frozen=True)
class Balance:
    """What the key may still spend, as the relay's billing routes report it (display unit and USD)."""

    known: bool
    total: float | None = None
    used: float | None = None
    currency: str = DEFAULT_CURRENCY
    rate: float = DEFAULT_RATE  #: display units per USD
    source: str = ""
    reason: str = ""
    simulated: bool = False

    @property
    def remaining(self) -> float | None:
        if self.total is None:
            return None
        return max(0.0, self.total - (self.used or 0.0))

    @property
    def remaining_usd(self) -> float | None:
        left = self.remaining
        return None if left is None else left / self.rate if self.rate else None

    def __str__(self) -> str:
        sim = " (simulated)" if self.simulated else ""
        if not self.known:
            return f"Balance not available{sim}: {self.reason}"
        cur = "USD" if self.currency == "TOKENS" else self.currency
        unit = (lambda v: f"{v:,.0f} quota") if self.currency == "TOKENS" else (lambda v: _money(v, cur))
        text = f"Balance{sim}: {unit(self.remaining or 0.0)} left"
        if self.used is not None:
            text += f" of {unit(self.total or 0.0)} ({unit(self.used)} used)"
        if self.currency != "USD" and self.remaining_usd is not None:
            text += f" ≈ {_money(self.remaining_usd, 'USD')}"
        return text + (f" — from {self.source}" if self.source else "")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))
