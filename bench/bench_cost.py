"""What recording a call's cost adds to the recording step, measured side by side in one run.

Two rows, each min/median/max over interleaved rounds (so machine load hits both sides alike):

* ``cost step alone``: the work cost adds to one call — the budget check before it (no budget set: the common
  case; and with a budget, also once the period holds ``--rows`` finished calls, one more finished between two
  checks) and computing + serialising the cost after it. Target: ≤ 0.2 ms a call.
* ``recorded chat, cost on vs off``: ``Session.chat(stream=False, thread=False)`` offline, with the cost hooks
  as shipped against the same call with them replaced by no-ops. Target: the difference ≤ 0.2 ms (median).

    python bench/bench_cost.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_MS = 0.2


def stats(values: list[float]) -> str:
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"


def row(name: str, figures: str, target: str, verdict: str) -> str:
    return f"| {name} | {figures} | {target} | {verdict} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--rows", type=int, default=10_000, help="finished calls in the budget period (last row)")
    args = ap.parse_args(argv)

    from tokenhot_nb import Session
    from tokenhot_nb._session import budget as _budget
    from tokenhot_nb._session import recording as _recording

    with tempfile.TemporaryDirectory() as tmp:
        s = Session(mode="offline", store=Path(tmp) / "store")
        s.chat("warm up", stream=False, thread=False)  # imports, the price table, the first connection
        entry = s.history[-1]
        info = s.model(entry.model)  # with its price row, as the recording step sees it
        usage = {k: v for k, v in entry.usage.items() if k != "cost"}
        response: dict[str, Any] = dict(entry.response)

        # the cost step alone, without and with a budget (µs → ms)
        def step() -> float:
            t = time.perf_counter()
            check = _budget.admit(s, "chat", info, entry.params, None)
            if check is not None:  # what the transaction writing the call's row runs first
                check(s.store.connection())
            c = _budget.cost_of(s, "chat", info, usage, [], response.get("quota"))
            json.dumps({**usage, "cost": c})
            return (time.perf_counter() - t) * 1000

        for _ in range(50):
            step()
        no_budget = [step() for _ in range(args.rounds * 10)]
        s.set_budget(1000)
        with_budget = [step() for _ in range(args.rounds * 10)]

        from tokenhot_nb.history import HistoryEntry

        def finished() -> None:  # a call that ended in this period, written as the recording step writes it
            e = HistoryEntry(session_id=s.id, started=time.time(), mode=s.mode, kind="chat", model=entry.model,
                             endpoint=entry.endpoint, params=entry.params, status="ok", usage=entry.usage, text="q")
            s.store.insert(e)

        for _ in range(args.rows):
            finished()
        many: list[float] = []
        for _ in range(args.rounds * 2):
            finished()
            many.append(step())
        s.set_budget(None)

        # the whole recorded call, interleaved: hooks on vs hooks off
        real_admit, real_cost = _budget.admit, _recording._budget.cost_of

        def off_admit(*a: Any, **k: Any) -> None:
            return None

        def off_cost(*a: Any, **k: Any) -> dict[str, Any]:
            return {}

        on: list[float] = []
        off: list[float] = []
        for i in range(args.rounds):
            for mode in ((True, False) if i % 2 else (False, True)):
                _budget.admit = real_admit if mode else off_admit  # type: ignore[assignment]
                _budget.cost_of = real_cost if mode else off_cost  # type: ignore[assignment]
                t = time.perf_counter()
                s.chat(f"question {i}", stream=False, thread=False)
                (on if mode else off).append((time.perf_counter() - t) * 1000)
        _budget.admit, _budget.cost_of = real_admit, real_cost  # type: ignore[assignment]
        s.close()

    diff = statistics.median(on) - statistics.median(off)
    step_med = max(statistics.median(no_budget), statistics.median(with_budget), statistics.median(many))
    lines = [
        f"cost benchmarks ({args.rounds} rounds; min / median / max in ms)",
        "| row | figures | target | verdict |",
        "|---|---|---|---|",
        row("cost step alone, no budget", stats(no_budget), f"≤ {TARGET_MS} ms",
            "PASS" if statistics.median(no_budget) <= TARGET_MS else "FAIL"),
        row("cost step alone, with a budget", stats(with_budget), f"≤ {TARGET_MS} ms",
            "PASS" if statistics.median(with_budget) <= TARGET_MS else "FAIL"),
        row(f"cost step, budget, {args.rows:,} calls in the period", stats(many), f"≤ {TARGET_MS} ms",
            "PASS" if statistics.median(many) <= TARGET_MS else "FAIL"),
        row("recorded chat, cost hooks off", stats(off), "baseline", "info"),
        row("recorded chat, cost hooks on", stats(on),
            f"median +{diff:.3f} ms ({statistics.median(on) / statistics.median(off):.3f}×)",
            "PASS" if diff <= TARGET_MS else "FAIL"),
    ]
    print("\n".join(lines))
    return 0 if step_med <= TARGET_MS and diff <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
