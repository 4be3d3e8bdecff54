"""The client benchmark runs end to end in its quick mode and prints every row of its table.

No timing is asserted here: the figures live in the benchmark's output only (``python bench/bench_client.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ROWS = (
    "chat call vs bare httpx",
    "chat call vs openai SDK",
    "chat client CPU per call",
    "concurrent images vs one",
    "SSE parse rate (replay)",
    "SSE parse rate (coalesced)",
    "SSE over the simulator",
    "download peak RSS growth",
    "download time vs bare httpx",
    "sync chat call vs bare httpx",
    "sync chat call vs openai SDK",
)


def test_bench_client_quick_prints_every_row() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_client.py"), "--quick"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "client benchmarks (quick run)" in out
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    for name in ROWS:
        row = next((line for line in lines if line.startswith(f"| {name} ")), None)
        assert row is not None, f"row {name!r} missing from:\n{out}"
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == 6 and cells[-1] in ("PASS", "FAIL", "info"), row
    assert f"{len(ROWS)} rows in" in out


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("bench_session.py", ["--quick"], ["chat call recorded vs bare", "recording's SQL alone vs bare",
                                           "recording's SQL, one write, vs bare", "thread turn 40 vs turn 10, parse", "batch of",
                                           "chat stream: front door vs SDK sync", "chat stream: front door vs SDK async"]),
        ("bench_history.py", ["--entries", "300", "--calls", "50", "--big", "600", "--images", "3"],
         ["open", "render last 50", "export 600", "FTS at 600"]),
        ("bench_load.py", ["--repeat", "1"], ["%load_ext tokenhot_nb", "heavy imported: none", "first offline s.chat()",
                                            "server modules after an offline chat"]),
        ("bench_cost.py", ["--rounds", "10"], ["cost step alone, no budget", "cost step, budget, 10,000 calls",
                                         "recorded chat, cost hooks on"]),
    ],
)
def test_the_other_benchmarks_run(script: str, args: list[str], expect: list[str]) -> None:
    """Smoke runs so the scripts do not rot; their figures are read in the bench output, never asserted."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), out[-3000:]  # 1 = a figure missed its target: reported, not a failure
    for row in expect:
        assert row in out, f"{row!r} missing from {script}'s output:\n{out[-3000:]}"
