"""The tree stays ruff- and mypy-clean: part of the test command, so CI enforces it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or "ruff"
    out = _run(ruff, "check", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_is_clean(tmp_path: Path) -> None:
    out = _run(sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy"))
    assert out.returncode == 0, out.stdout + out.stderr
