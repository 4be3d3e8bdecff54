"""--dry-run on every call magic, %th_balance and %th_config --budget, through IPython's test shell (offline)."""

from __future__ import annotations

from typing import Any

import _magics_support as support
import pytest
from IPython.utils.capture import capture_output

ip = support.ip  # fixture
offline = support.offline  # fixture


def run(ip: Any, source: str) -> tuple[Any, str]:
    with capture_output(display=True) as cap:
        res = ip.run_cell(source)
    shown = cap.stdout + "".join(o.data.get("text/plain", "") for o in cap.outputs)
    return res, shown


@pytest.mark.parametrize(("source", "expect"), [
    ("%%th_image -m gpt-image-2 -n 3 --dry-run\na pear", "about $0.0840"),
    ("%%th_chat -m gpt-5 --max-tokens 100 --dry-run\nhello", "between <$0.0001–$0.0010"),  # (a few tokens)
    ("%%th_video -m doubao-seedance-2.0-fast --dry-run\nwaves", "not known before it runs"),
    ("%%th_video -m MiniMax-Hailuo-2.3 --dry-run\nwaves", "not known before it runs"),  # per task too
    ("%%th_audio --dry-run\nhello there", "Dry run of this speak call"),
])
def test_dry_run_shows_the_cost_and_sends_nothing(ip: Any, offline: Any, source: str, expect: str) -> None:
    res, shown = run(ip, source)
    assert res.error_in_exec is None, shown
    assert expect in shown and "nothing was sent" in shown
    assert len(offline.history) == 0


def test_a_dry_run_whose_range_shows_as_one_figure_says_about_not_between() -> None:
    """``between <$0.0001 (¥0.0003)``: a range of one figure (a few tokens of a cheap model)."""
    from tokenhot_nb._session.budget import BudgetStatus
    from tokenhot_nb.cost import Cost
    from tokenhot_nb.magics._cost import DryRun

    none = BudgetStatus(None, 0.0, False)
    tiny = str(DryRun(Cost(4e-5, "per-token", rate=7, usd_max=4.001e-5), "chat", none))
    assert "it would cost about <$0.0001 (¥0.0003)" in tiny and "between" not in tiny
    wide = str(DryRun(Cost(4e-5, "per-token", rate=7, usd_max=0.03), "chat", none))
    assert "it would cost between <$0.0001–$0.0300 (¥0.0003–¥0.2100)" in wide


def test_budget_from_config_stops_a_magic_and_balance_shows_it(ip: Any, offline: Any) -> None:
    res, shown = run(ip, "%th_config --budget 0.03")
    assert res.error_in_exec is None and "Budget $0.03" in shown
    run(ip, "%%th_image -m gpt-image-2\none pear")
    res, shown = run(ip, "%%th_image -m gpt-image-2\nanother pear")
    assert "would cross the budget" in shown and "Traceback" not in shown
    res, shown = run(ip, "%th_balance")
    assert res.error_in_exec is None
    assert "Balance (simulated)" in shown and "spent $0.0280" in shown
    res, shown = run(ip, "%th_config --budget-reset")
    assert "spent $0.0000" in shown
    res, shown = run(ip, "%th_config --no-budget")
    assert "No budget set" in shown
    res, shown = run(ip, "%th_config --budget lots")
    assert "is not an amount" in shown and "Traceback" not in shown
    assert "Fix: A budget is an amount such as 2.50 (USD)" in shown and "Check the options" not in shown
    res, shown = run(ip, "%th_config --budget -5")  # a number, below zero: not "write 2.50"
    assert "Budget: '-5' is not an amount: a budget is zero or more." in shown


def test_budget_unknown_from_config_lets_a_video_through_or_refuses_it(ip: Any, offline: Any) -> None:
    """The refusal names `%th_config --budget-unknown allow`: it works, and says so in the budget line."""
    run(ip, "%th_config --budget 5")
    res, shown = run(ip, "%%th_video -m doubao-seedance-2.0-fast --dry-run\nwaves")  # says what a run would meet
    assert "charged per task" in shown and "The budget refuses" in shown and "--budget-unknown allow" in shown
    res, shown = run(ip, "%%th_video -m doubao-seedance-2.0-fast\nwaves")
    assert "cannot be estimated" in shown and "--budget-unknown allow" in shown and "Traceback" not in shown
    res, shown = run(ip, "%th_config --budget-unknown allow")
    assert res.error_in_exec is None and "let through" in shown and "Budget $5" in shown
    res, shown = run(ip, "%%th_video -m doubao-seedance-2.0-fast --dry-run\nwaves")
    assert "The budget refuses" not in shown
    res, shown = run(ip, "%%th_video -m doubao-seedance-2.0-fast\nwaves")
    assert "cannot be estimated" not in shown and offline.history[-1].status == "ok"
    res, shown = run(ip, "%th_config --budget 6 --budget-unknown refuse")
    assert "Budget $6" in shown and "let through" not in shown
    run(ip, "%th_config --no-budget")
    res, shown = run(ip, "%th_config --budget-unknown allow")
    assert type(res.error_in_exec).__name__ == "UsageError" and "Traceback" not in shown
    assert "there is none; add --budget AMOUNT" in str(res.error_in_exec)


def test_a_price_group_typo_is_refused_in_its_own_th_config_line_before_any_call(ip: Any, offline: Any) -> None:
    """No call has read the service's table yet: the typo was taken, and the error showed one cell late, at the
    next unrelated ``%th_config``. It is refused in its own line, the session kept."""
    assert offline.catalog.table is None
    res, said = run(ip, "%th_config --price-group vipp")
    assert "price_group 'vipp' is not a group" in said, said
    import tokenhot_nb

    assert "Did you mean 'vip'?" in said and tokenhot_nb.session() is offline
    res, said = run(ip, "%th_config --default-image gpt-image-2")
    assert res.error_in_exec is None and "is not a group" not in said, said


def test_the_price_group_is_set_by_th_config_and_prices_the_next_call(ip: Any, offline: Any) -> None:
    """``--price-group vip``: the simulator's table gives vip 0.9, so the next image costs 0.9 × its price; a group
    the table does not list is refused in the %th_config line (the session kept), with the nearest name."""
    import tokenhot_nb

    offline.models()  # the simulator's table is read: the group can be checked at once
    res, said = run(ip, "%th_config --price-group vpi")
    assert "Did you mean 'vip'?" in said and "(default, vip)" in said
    assert tokenhot_nb.session() is offline
    res, said = run(ip, "%th_config --price-group vip")
    assert res.error_in_exec is None and "price_group" in said and "vip" in said
    s = tokenhot_nb.session()
    assert s is not offline and s.settings.price_group == "vip"
    res, said = run(ip, "%%th_image -m gpt-image-2 -n 3 --dry-run\na pear")
    assert "about $0.0756" in said, said  # 3 × $0.028 × 0.9
