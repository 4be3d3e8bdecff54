"""The catalogue benchmark runs end to end in its quick mode and prints every row (no figure is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("%load_ext, cold catalogue cache", "%load_ext, warm catalogue cache", "Session(), cold catalogue cache",
        "Session(), warm catalogue cache", "first models(), cold vs warm")


def test_bench_catalog_quick_prints_every_row() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_catalog.py"), "--quick"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    for name in ROWS:
        row = next((line for line in lines if line.startswith(f"| {name} ")), None)
        assert row is not None, f"row {name!r} missing from:\n{proc.stdout}"
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == 6 and cells[-1] in ("PASS", "FAIL", "info"), row
    assert "first models() lists" in proc.stdout and f"{len(ROWS)} rows in 1 rounds" in proc.stdout
