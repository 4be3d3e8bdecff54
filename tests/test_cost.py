"""Cost arithmetic checked against hand computations from the price table's documented meaning."""

from __future__ import annotations

from typing import Any

import pytest

from tokenhot_nb import cost
from tokenhot_nb.catalog import Price
from tokenhot_nb.cost import Cost


def Row(quota_type: int = 0, **fields: Any) -> Price:
    return Price(quota_type, **{"top_up_rate": 7.0, **fields})


GPT5 = Row(0, model_ratio=0.625, completion_ratio=8)  # $1.25 / $10 per 1M tokens
IMAGE = Row(1, model_price=0.028)  # $0.028 a call
VIDEO = Row(0, model_ratio=37.5)  # dynamically priced: the task's quota tells


def test_per_token_matches_a_hand_computation() -> None:
    c = cost.of_call("chat", GPT5, {"input_tokens": 1200, "output_tokens": 350})
    assert c.source == "per-token"
    assert c.usd == pytest.approx(1200 * 1.25 / 1e6 + 350 * 10 / 1e6)
    assert c.amount == pytest.approx(c.usd * 7) and c.currency == "CNY"


def test_per_call_counts_each_image() -> None:
    c = cost.of_call("image", IMAGE, {}, count=3)
    assert c.source == "per-call" and c.usd == pytest.approx(0.084)
    assert cost.of_call("image", IMAGE, {}, count=0).usd == pytest.approx(0.028)  # a call is at least one


def test_task_quota_wins_and_uses_quota_per_unit() -> None:
    c = cost.of_call("video", VIDEO, {}, quota=125_000)
    assert c.source == "task" and c.usd == pytest.approx(0.25)
    half = Row(0, model_ratio=37.5, quota_per_unit=250_000)
    assert cost.of_call("video", half, {}, quota=125_000).usd == pytest.approx(0.5)
    assert cost.of_call("video", None, {}, quota=500_000).usd == pytest.approx(1.0)  # Tokenhot's unit


@pytest.mark.parametrize(("kind", "price", "usage"), [
    ("chat", None, {"input_tokens": 10, "output_tokens": 10}),  # no price row
    ("video", VIDEO, {"video_seconds": 5}),  # dynamic video before its quota
    ("speak", GPT5, {}),  # per-token with no usage
    ("chat", GPT5, {"input_tokens": "many"}),  # malformed usage
])
def test_unknown_when_nothing_tells(kind: str, price: Row | None, usage: dict[str, object]) -> None:
    c = cost.of_call(kind, price, usage)
    assert c.usd is None and not c.known and c.source == "unknown" and str(c) == "cost unknown"
    assert c.amount is None


def test_simulated_is_marked_and_shown() -> None:
    c = cost.of_call("image", IMAGE, {}, simulated=True)
    assert c.simulated and str(c).endswith("simulated") and c.as_dict()["simulated"] is True


def test_round_trip_and_hostile_records() -> None:
    c = cost.of_call("chat", GPT5, {"input_tokens": 1000, "output_tokens": 1000})
    back = Cost.from_dict(c.as_dict())
    assert back.usd == pytest.approx(c.usd) and back.source == "per-token" and back.rate == pytest.approx(7)
    for bad in (None, "x", {"usd": "1"}, {"usd": float("nan")}, {"usd": True}, [1]):
        assert Cost.from_dict(bad).usd is None  # type: ignore[arg-type]
    odd = Cost.from_dict({"usd": 1.0, "source": "<script>", "currency": "X" * 50})
    assert odd.source == "unknown" and len(odd.currency) <= 8


def test_str_shows_dollars_and_yuan() -> None:
    assert str(Cost(0.028, "per-call", rate=7)) == "$0.0280 (¥0.1960)"
    assert str(Cost(12.5, "per-call", currency="USD")) == "$12.50"
    assert str(Cost(5e-7, "per-token", rate=7)) == "<$0.0001 (<¥0.0001)"  # not "$0.0000": it was not free
    assert str(Cost(0.0, "per-call", rate=7)) == "$0.0000 (¥0.0000)"


def test_a_range_whose_ends_read_the_same_is_one_figure() -> None:
    """``<$0.0001–<$0.0001`` read as a range of two unknowns."""
    assert str(Cost(4e-5, "per-token", rate=7, usd_max=4.001e-5)) == "<$0.0001 (¥0.0003)"
    assert str(Cost(1e-7, "per-token", rate=7, usd_max=2e-7)) == "<$0.0001 (<¥0.0001)"
    assert str(Cost(0.001, "per-token", rate=7, usd_max=0.03)) == "$0.0010–$0.0300 (¥0.0070–¥0.2100)"
    assert str(Cost(4e-5, "per-token", rate=7, usd_max=0.03)) == "<$0.0001–$0.0300 (¥0.0003–¥0.2100)"


def test_an_amount_too_big_for_a_float_is_shown_in_usd_alone_never_as_inf() -> None:
    huge = Cost(1e308, "per-call", rate=7)
    assert huge.amount is None and "inf" not in str(huge) and "¥" not in str(huge)
    wide = Cost(1.0, "per-token", rate=7, usd_max=1e308)
    assert "inf" not in str(wide) and "¥" not in str(wide) and str(wide).startswith("$1.00–$")


def test_totals_add_and_unknown_poisons() -> None:
    a, b = Cost(0.1, "per-call"), Cost(0.2, "per-token", usd_max=0.5)
    t = cost.total([a, b])
    assert t.usd == pytest.approx(0.3) and t.usd_max == pytest.approx(0.6) and t.source == "mixed"
    assert cost.total([a, cost.UNKNOWN]).usd is None
    assert cost.total([]).usd == 0


def test_estimates() -> None:
    exact = cost.estimate("image", IMAGE, count=4)
    assert exact.usd == pytest.approx(0.112) and exact.usd_max is None
    rng = cost.estimate("chat", GPT5, input_text="x" * 400, max_tokens=1000)
    assert rng.usd == pytest.approx(100 * 1.25 / 1e6)  # 400 chars ≈ 100 tokens
    assert rng.usd_max == pytest.approx(100 * 1.25 / 1e6 + 1000 * 10 / 1e6)
    default_cap = cost.estimate("chat", GPT5, input_text="hi")
    assert default_cap.usd_max == pytest.approx(1 * 1.25 / 1e6 + cost.DEFAULT_MAX_OUTPUT * 10 / 1e6)
    assert cost.estimate("video", VIDEO).usd is None
    assert cost.estimate("chat", None, input_text="hi").usd is None
    assert cost.tokens_in_text("你好世界") == 4 and cost.tokens_in_text("abcdefgh") == 2


@pytest.mark.parametrize(("text", "usd", "currency"), [
    (2.5, 2.5, "USD"), ("2.50", 2.5, "USD"), ("$2.50", 2.5, "USD"), ("2.5 usd", 2.5, "USD"),
    ("¥21", 3.0, "CNY"), ("21 CNY", 3.0, "CNY"), ("21元", 3.0, "CNY"), (0, 0.0, "USD"),
])
def test_parse_amount(text: float | str, usd: float, currency: str) -> None:
    got, cur = cost.parse_amount(text, rate=7)
    assert got == pytest.approx(usd) and cur == currency


@pytest.mark.parametrize("bad", ["two dollars", "-1", True, float("inf"), "€5", 1e308, "9" * 300, "¥8000000000"])
def test_parse_amount_refuses(bad: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        cost.parse_amount(bad)  # type: ignore[arg-type]


def test_a_conversation_is_estimated_message_by_message_with_the_same_count() -> None:
    """The budget's estimate counts a conversation per message (a thread's earlier turns once each): the same
    number as counting the whole list's JSON text."""
    import random

    from tokenhot_nb._session.budget import _input_text, _input_tokens
    from tokenhot_nb.families._types import HttpCall

    rng = random.Random(7)
    alphabet = "ab c1,.:\"'{}[]你好한 \n\t-_é세"
    for _ in range(400):
        items: list[object] = []
        for _i in range(rng.randint(0, 6)):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
            kind = rng.random()
            items.append({"role": rng.choice(["user", "assistant"]), "content": text} if kind < 0.6 else
                         {"content": text, "role": "user"} if kind < 0.7 else
                         {"role": "user", "content": [{"type": "text", "text": text}]} if kind < 0.85 else text)
        key = rng.choice(["messages", "contents", "input"])
        call = HttpCall("POST", "/v1/x", json={"model": "m", key: items})
        assert _input_tokens(call) == cost.tokens_in_text(_input_text(call)), (key, items)
    assert _input_tokens(None) == cost.tokens_in_text("")
    assert _input_tokens(HttpCall("POST", "/v1/x", json={"prompt": "a lighthouse"})) == \
        cost.tokens_in_text("a lighthouse")
    assert cost.tokens_in_text("你好 abc") == cost.tokens_of_size(*cost.text_size("你好 abc")) == 3


def test_a_cost_shows_itself_as_print_does_in_ipython() -> None:
    """A cell ending in ``s.estimate(...)`` showed ``Cost(usd=0.028, source='per-call', …)``."""
    from IPython.core.formatters import DisplayFormatter
    from IPython.lib.pretty import pretty

    c = Cost(0.028, "per-call", rate=7, simulated=True)
    assert pretty(c) == str(c) == "$0.0280 (¥0.1960) simulated"
    data, _ = DisplayFormatter().format(c)
    assert data["text/plain"] == "$0.0280 (¥0.1960) simulated"
    assert repr(c).startswith("Cost(usd=0.028, source='per-call'")  # repr() keeps every field, for debugging
    assert pretty(Cost(0.01, "per-token", rate=7, usd_max=0.05)) == "$0.0100–$0.0500 (¥0.0700–¥0.3500)"
    assert pretty(cost.UNKNOWN) == "cost unknown"


def test_a_groups_ratio_multiplies_every_figure_and_says_so() -> None:
    from dataclasses import replace

    tok = Price(quota_type=0, model_ratio=1.25, completion_ratio=8)
    vip = replace(tok, group="vip", group_ratio=0.5)
    usage = {"input_tokens": 1000, "output_tokens": 500}
    assert cost.of_call("chat", vip, usage).usd == pytest.approx(cost.of_call("chat", tok, usage).usd * 0.5)
    assert cost.of_call("chat", vip, usage).detail == "1,000 in + 500 out tokens (group vip ×0.5)"
    est, base = cost.estimate("chat", vip, input_text="hello" * 40), cost.estimate("chat", tok, input_text="hello" * 40)
    assert est.usd == pytest.approx(base.usd * 0.5) and est.usd_max == pytest.approx(base.usd_max * 0.5)
    call = replace(Price(quota_type=1, model_price=0.04), group="svip", group_ratio=1.5)
    assert cost.of_call("image", call, None, count=2).usd == pytest.approx(0.12)
    assert cost.of_call("image", call, None, count=2).detail == "2 × $0.06 (group svip ×1.5)"
    assert cost.estimate("image", call, count=3).usd == pytest.approx(0.18)
    assert cost.of_call("video", call, None, quota=500_000).usd == 1.0  # a task's quota is what it was charged


def test_a_figure_that_overflows_is_unknown_not_inf() -> None:
    """A price too big for a float times the tokens (or images) was shown, and summed, as $inf."""
    per_token, per_call = Price(model_ratio=1e305, completion_ratio=1e5), Price(quota_type=1, model_price=1e308)
    assert not cost.estimate("chat", per_token, input_text="hi", max_tokens=100).known
    assert not cost.estimate("embed", Price(model_ratio=1e308), input_text="hi " * 1000).known
    assert not cost.estimate("image", per_call, count=4).known
    assert not cost.of_call("chat", per_token, {"input_tokens": 10, "output_tokens": 10**6}).known
    assert not cost.of_call("image", per_call, None, count=4).known


def test_one_amount_reached_by_two_float_paths_shows_the_same() -> None:
    """A video's $0.175 (its quota ÷ 500,000) × ¥7 showed ¥1.23 on its row and ¥1.22 in the budget's sum."""
    assert str(Cost(1.2249999999999999, currency="USD")) == str(Cost(1.2250000000000001, currency="USD"))
    assert str(Cost(0.175, rate=7.0)) == str(Cost(87_500 / 500_000, rate=7.0)) == str(Cost(0.1 + 0.075, rate=7.0))


def test_a_recorded_negative_cost_reads_as_unknown() -> None:
    """An edited or imported row saying a call cost -$5 was shown as "$-5.00", a wrong amount as if right."""
    back = Cost.from_dict({"usd": -5, "amount": -35, "currency": "CNY", "source": "per-call"})
    assert not back.known and str(back) == "cost unknown"
    assert Cost.from_dict({"usd": 0.5, "usd_max": -1}).usd_max is None
    assert Cost.from_dict({"usd": 0, "amount": 0, "source": "none"}).usd == 0.0


@pytest.mark.parametrize("mixed", ["$20 CNY", "¥20 usd", "$20元", "￥20 USD"])
def test_a_budget_naming_two_currencies_is_refused_not_read_as_yuan(mixed: str) -> None:
    """``"$20 CNY"`` was a ¥20 budget (a seventh of $20): which the user meant is a guess, so it is asked."""
    with pytest.raises(ValueError, match="names two currencies: write '\\$20' \\(USD\\) or '¥20' \\(CNY\\)"):
        cost.parse_amount(mixed)
    assert cost.parse_amount("$20 usd") == (20.0, "USD") and cost.parse_amount("¥21 元", rate=7) == (3.0, "CNY")


def test_a_video_quota_that_is_no_number_leaves_the_cost_unknown() -> None:
    """A poll's ``data.quota`` of 1e999 (JSON reads it as inf) was a $inf charge."""
    price = Price(model_ratio=37.5)
    for quota in (float("inf"), float("nan"), -1.0):
        assert not cost.of_call("video", price, None, quota=quota).known
    assert cost.of_call("video", price, None, quota=250_000).usd == 0.5


def test_a_budgets_spent_and_left_add_up_to_its_limit_as_shown() -> None:
    """Each rounded on its own, spent $0.1436 and left $1.86 summed to $2.0036 (¥1.00 + ¥12.99 to ¥13.99)."""
    import re
    import time as _time

    from tokenhot_nb._session.budget import Budget, BudgetStatus

    def figures(text: str) -> list[float]:
        return [float(v.replace(",", "")) for v in re.findall(r"[$¥]([\d,]+\.\d+)", text)]

    for limit in (2.0, 20.0, 0.5, 1234.5):
        for i in range(1, 400):
            spent = limit * i / 401 + 1e-7 * i
            shown = str(BudgetStatus(Budget(limit, f"${limit}", _time.time()), spent, False))
            usd, cny, spent_usd, spent_cny, left_usd, left_cny = figures(shown)
            assert spent_usd + left_usd == pytest.approx(usd, abs=1e-9), shown
            assert spent_cny + left_cny == pytest.approx(cny, abs=1e-9), shown
    tiny = str(BudgetStatus(Budget(2.0, "$2", _time.time()), 1e-6, False))
    assert "spent <$0.0001 (<¥0.0001)" in tiny  # never shown as free
    nearly = str(BudgetStatus(Budget(1.0, "$1", _time.time()), 0.99999, False))
    assert "left <$0.0001 (¥0.0001)" in nearly, nearly  # (was "left $0.0000": nothing, while $0.00001 was left)
    over = str(BudgetStatus(Budget(2.0, "$2", _time.time()), 2.5, False))
    assert "spent $2.50 (¥17.50), left $0.00 (¥0.00)" in over


def test_a_budget_refusal_says_spent_and_left_that_add_up() -> None:
    import re
    import time as _time

    from tokenhot_nb._session.budget import Budget, Unknown, refusal
    from tokenhot_nb.cost import Cost

    err = refusal("chat", "m", Cost(0.5, "per-token"), 7.0, Budget(2.0, "$2", _time.time()), 0.14357142857, False,
                  Unknown())
    said = str(err)
    left_usd, left_cny, _usd, _cny, spent_usd, spent_cny = [
        float(v) for v in re.findall(r"[$¥]([\d,]+\.\d+)", said.split(", and ", 1)[1])]
    assert spent_usd + left_usd == pytest.approx(2.0) and spent_cny + left_cny == pytest.approx(14.0), said
