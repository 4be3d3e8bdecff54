"""The live catalogue's cost (issue #10): ``%load_ext`` and ``Session()`` with a cold and a warm catalogue cache,
side by side with the tree from before the live catalogue, and a cold first ``models()`` over loopback.

    python bench/bench_catalog.py             # 7 rounds; exit 1 when a target is missed
    python bench/bench_catalog.py --quick     # 1 round, a smoke test; the exit code ignores the figures
    python bench/bench_catalog.py --baseline REV   # compare against another git revision

Every figure comes from a fresh process (what a user waits for in a new kernel). The baseline is the same
measurement on the package as it was just before the live catalogue landed (exported with ``git archive``),
interleaved with the current tree round by round. The "service" is ``python -m tokenhot_nb.sim`` on a loopback
port in its own process: its ``/api/pricing``, ``/api/status`` and ``/v1/models`` are the live table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Row, SimProcess, fmt_s, ratio_spread, render, spread

KEY = "sk-bench-catalog-0123456789"
#: The first commit of the live catalogue; its parent is "today" (the tree before it).
FIRST_COMMIT_SUBJECT = "Live catalogue: Session.models()/model() merge"

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import tokenhot_nb
t1 = time.perf_counter()
s = tokenhot_nb.Session(api_key=sys.argv[1], base_url=sys.argv[2], mode="live", store=sys.argv[3])
t2 = time.perf_counter()
out = {"import": t1 - t0, "session": t2 - t1}
if hasattr(s, "models") and sys.argv[4] == "models":
    t = time.perf_counter()
    n = len(s.models())
    out["models"] = time.perf_counter() - t
    out["n"] = n
s.close()
print(json.dumps(out))
"""


def baseline_tree(rev: str | None, dest: Path) -> tuple[Path, str] | None:
    """The package at ``rev`` (default: just before the live catalogue) exported into ``dest``."""
    def git(*args: str) -> bytes:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=True).stdout

    try:
        if rev is None:
            first = git("log", "--format=%H", "--fixed-strings", f"--grep={FIRST_COMMIT_SUBJECT}", "HEAD")
            hashes = first.decode().split()
            if not hashes:
                return None
            rev = hashes[-1] + "^"
        name = git("rev-parse", "--short", rev).decode().strip()
        data = git("archive", "--format=tar", rev, "tokenhot_nb")
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        if sys.version_info >= (3, 12):
            tar.extractall(dest, filter="data")
        else:  # our own repository's files
            tar.extractall(dest)
    return dest, name


def _env(tree: Path, store: Path | None = None, url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENHOT_")}
    env["PYTHONPATH"] = str(tree)
    if store is not None:
        env["TOKENHOT_STORE"] = str(store)
    if url is not None:
        env["TOKENHOT_API_KEY"] = KEY
        env["TOKENHOT_BASE_URL"] = url
    return env


def load_ext(tree: Path, store: Path, url: str) -> float:
    """Wall time of ``ipython -c '%load_ext tokenhot_nb'`` in a fresh process, minus nothing (whole process)."""
    code = ("import time; t=time.perf_counter(); get_ipython().run_line_magic('load_ext', 'tokenhot_nb'); "
            "print('LOAD', time.perf_counter()-t)")
    cmd = [sys.executable, "-m", "IPython", "--no-banner", "--quick", "--HistoryManager.enabled=False", "-c", code]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=_env(tree, store, url), timeout=120)
    return float(out.stdout.split("LOAD", 1)[1].split()[0])


def session(tree: Path, store: Path, url: str, what: str = "") -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, KEY, url, str(store), what], capture_output=True,
                         text=True, check=True, env=_env(tree), timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--baseline", default=None, help="git revision to compare with (default: before the catalogue)")
    a = ap.parse_args(argv)
    rounds = a.rounds or (1 if a.quick else 7)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp_, SimProcess() as sim:
        tmp = Path(tmp_)
        found = baseline_tree(a.baseline, tmp / "baseline")
        base, base_name = found if found else (ROOT, "unavailable: this tree")
        warm = tmp / "warm"
        session(ROOT, warm, sim.url, "models")  # fills the warm store's catalogue cache
        assert any((warm / "catalog").glob("*.json")), "the warm store has no catalogue cache"
        print(f"catalogue benchmarks ({'quick run' if a.quick else 'full run'}): {rounds} rounds, baseline "
              f"{base_name}, service = simulator at {sim.url}", file=sys.stderr)
        cold_i = iter(range(10_000))
        load: dict[str, list[float]] = {"cold": [], "warm": [], "base": []}
        sess: dict[str, list[float]] = {"cold": [], "warm": [], "base": []}
        models: dict[str, list[float]] = {"cold": [], "warm": []}
        count = 0
        load_ext(ROOT, warm, sim.url)  # warm the disk cache of the interpreter itself
        load_ext(base, tmp / "b0", sim.url)
        for r in range(rounds):
            order = ["cold", "warm", "base"][r % 3:] + ["cold", "warm", "base"][: r % 3]
            for who in order:
                store = warm if who == "warm" else tmp / f"cold{next(cold_i)}"
                tree = base if who == "base" else ROOT
                load[who].append(load_ext(tree, store, sim.url))
                sess[who].append(session(tree, store if who != "base" else tmp / f"cold{next(cold_i)}",
                                         sim.url)["session"])
            for who in ("cold", "warm"):
                store = warm if who == "warm" else tmp / f"cold{next(cold_i)}"
                got = session(ROOT, store, sim.url, "models")
                models[who].append(got["models"])
                count = int(got["n"])

    def row(name: str, subject: list[float], baseline: list[float], base_label: str, target: float | None) -> Row:
        per_round = [x / y for x, y in zip(subject, baseline, strict=True)]
        med = statistics.median(subject) / statistics.median(baseline)
        ok = None if target is None else med <= target
        return Row(name, spread(subject), f"{base_label} {spread(baseline)}", ratio_spread(per_round),
                   f"≤ {target:.2f}×" if target else "info", ok)

    label = f"before ({base_name})"
    rows += [
        row("%load_ext, cold catalogue cache", load["cold"], load["base"], label, 1.10),
        row("%load_ext, warm catalogue cache", load["warm"], load["base"], label, 1.10),
        row("Session(), cold catalogue cache", sess["cold"], sess["base"], label, 1.10),
        row("Session(), warm catalogue cache", sess["warm"], sess["base"], label, 1.10),
        row("first models(), cold vs warm", models["cold"], models["warm"], "warm (disk cache)", None),
    ]
    print(render(rows))
    print(f"{len(rows)} rows in {rounds} rounds; first models() lists {count} models from the loopback "
          f"simulator (cold: /api/pricing + /api/status + /v1/models, median {fmt_s(statistics.median(models['cold']))})")
    return 0 if a.quick or all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
