"""What ``--dry-run`` and ``%th_balance`` show: an estimate, the balance, the budget — as plain text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._session.budget import BudgetStatus
    from ..cost import Balance, Cost

NOTHING_SENT = "nothing was sent"


class DryRun:
    """The expected cost of one magic's call."""

    def __init__(self, estimate: Cost, method: str, budget: BudgetStatus) -> None:
        self.estimate = estimate
        self.method = method
        self.budget = budget

    def __str__(self) -> str:
        e = self.estimate
        if e.usd is None:
            what = f"its cost is not known before it runs ({e.detail or 'priced per task, or not in the price table'})"
        else:
            what = f"it would cost {'between ' if e.ranged else 'about '}{e}"
            if e.detail:
                what += f" ({e.detail})"
        lines = [f"Dry run of this {self.method} call: {what}; {NOTHING_SENT}."]
        if self.budget.budget is not None:
            lines.append(str(self.budget))
            if e.usd is None and not self.budget.budget.allow_unknown:
                lines.append("The budget refuses a call whose cost cannot be estimated; "
                             "%th_config --budget-unknown allow lets such calls through while budget is left.")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


class BalanceView:
    """``%th_balance``: the balance and, when one is set, the budget."""

    def __init__(self, balance: Balance, budget: BudgetStatus) -> None:
        self.balance = balance
        self.budget = budget

    def __str__(self) -> str:
        return f"{self.balance}\n{self.budget}"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))
