"""How long ``%load_ext tokenhot_nb`` takes in a fresh interpreter, and what it imports.

Each measurement runs in its own subprocess (a cold interpreter, warm disk cache), repeated; the median
is reported. The baseline is a bare IPython ``InteractiveShell`` start; jupyter_ai_magics' load is
measured beside it when that package is installed. Budget: load ≤ 0.3 s, and none of httpx, PIL, av,
ipywidgets, sqlite3 imported by the load.

    python bench/bench_load.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

BUDGET_S = 0.3
HEAVY = ("httpx", "PIL", "av", "ipywidgets", "sqlite3", "starlette", "uvicorn", "numpy")

_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
t1 = time.perf_counter()
before = set(sys.modules)
ext = {ext!r}
if ext:
    shell.run_line_magic("load_ext", ext)
t2 = time.perf_counter()
new = sorted(set(sys.modules) - before)
heavy = [m for m in {heavy!r} if m in sys.modules and m not in before]
magics = sorted(k for k in shell.magics_manager.magics["cell"] if k.startswith("th_"))
print(json.dumps({{"shell": t1 - t0, "load": t2 - t1, "new_modules": len(new), "heavy": heavy,
                  "cell_magics": magics}}))
"""


def probe(ext: str) -> dict[str, object]:
    code = _PROBE.format(ext=ext, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(ext: str, repeat: int) -> dict[str, object]:
    runs = [probe(ext) for _ in range(repeat)]
    last = runs[-1]
    return {
        "shell": statistics.median(float(r["shell"]) for r in runs),  # type: ignore[arg-type]
        "load": statistics.median(float(r["load"]) for r in runs),  # type: ignore[arg-type]
        "new_modules": last["new_modules"],
        "heavy": last["heavy"],
        "cell_magics": last["cell_magics"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)

    base = measure("", args.repeat)
    ours = measure("tokenhot_nb", args.repeat)
    shell_s = float(base["shell"])  # type: ignore[arg-type]
    load_s = float(ours["load"])  # type: ignore[arg-type]
    print(f"python {sys.version.split()[0]}, median of {args.repeat} fresh interpreters")
    print(f"baseline  bare IPython InteractiveShell start : {shell_s * 1000:7.1f} ms")
    print(f"tokenhot  %load_ext tokenhot_nb               : {load_s * 1000:7.1f} ms  "
          f"({load_s / shell_s:.3f} x baseline; {ours['new_modules']} new modules; "
          f"heavy imported: {ours['heavy'] or 'none'})")
    print(f"          cell magics registered              : {', '.join(ours['cell_magics'])}")  # type: ignore[arg-type]
    if importlib.util.find_spec("jupyter_ai_magics") is None:
        print("jupyter_ai_magics                             : not installed")
    else:
        ja = measure("jupyter_ai_magics", args.repeat)
        ja_s = float(ja["load"])  # type: ignore[arg-type]
        print(f"jupyter-ai %load_ext jupyter_ai_magics       : {ja_s * 1000:7.1f} ms  "
              f"({ja_s / shell_s:.3f} x baseline; tokenhot is {ja_s / max(load_s, 1e-9):.0f}x faster)")
    ok = load_s <= BUDGET_S and not ours["heavy"]
    print(f"budget ≤ {BUDGET_S * 1000:.0f} ms and no heavy imports: {'PASS' if ok else 'FAIL'}")
    ok = whole_process_rows(args.repeat) and ok
    return 0 if ok else 1


# ----------------------------------------------------------------------------- whole processes (issue #13)

_FIRST_CHAT = r"""
import sys, tempfile
import tokenhot_nb
with tempfile.TemporaryDirectory() as d:
    s = tokenhot_nb.Session(mode="offline", store=d)
    s.chat("hello", stream=False)
    server = [m for m in ("uvicorn", "click") if m in sys.modules]
    s.close()
print("SERVER-MODULES:" + ",".join(server))
"""
#: Server modules a bare ``import httpx`` brings by itself (httpx imports click for its CLI when installed):
#: not the simulator's doing, so not counted against it.
_HTTPX_ALONE = "import sys, httpx; print('SERVER-MODULES:' + ','.join(m for m in ('uvicorn', 'click') if m in sys.modules))"


def _timed(cmd: list[str]) -> tuple[float, str]:
    env = dict(os.environ)
    env.pop("TOKENHOT_API_KEY", None)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return time.perf_counter() - t, out.stdout


def _interleaved(cmds: dict[str, list[str]], repeat: int) -> dict[str, list[float]]:
    for cmd in cmds.values():  # warm the disk cache
        _timed(cmd)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    names = list(cmds)
    for r in range(repeat):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(_timed(cmds[name])[0])
    return times


def _spread(values: list[float]) -> str:
    v = sorted(values)
    return f"{v[0] * 1e3:.0f} / {statistics.median(v) * 1e3:.0f} / {v[-1] * 1e3:.0f} ms"


def whole_process_rows(repeat: int) -> bool:
    """Whole fresh processes, interleaved: what a user waits for, imports and interpreter start included."""
    ipython = [sys.executable, "-m", "IPython", "--no-banner", "--quick", "--HistoryManager.enabled=False", "-c"]
    t = _interleaved({"bare": [*ipython, "pass"], "load": [*ipython, "%load_ext tokenhot_nb"],
                      "openai": [sys.executable, "-c", "import openai; openai.OpenAI(api_key='sk-x')"],
                      "chat": [sys.executable, "-c", _FIRST_CHAT]}, repeat)
    load_r = statistics.median(t["load"]) / statistics.median(t["bare"])
    chat_r = statistics.median(t["chat"]) / statistics.median(t["openai"])
    def server_modules(code: str) -> list[str]:
        out = _timed([sys.executable, "-c", code])[1]
        return [m for m in out.split("SERVER-MODULES:", 1)[-1].strip().split(",") if m]

    by_httpx = server_modules(_HTTPX_ALONE)
    server = ", ".join(m for m in server_modules(_FIRST_CHAT) if m not in by_httpx)
    server_note = f" ({', '.join(by_httpx)} imported by httpx itself, not counted)" if by_httpx else ""
    print(f"whole processes, min / median / max of {repeat} interleaved runs each:")
    print(f"  ipython -c '%load_ext tokenhot_nb'       : {_spread(t['load'])}  vs ipython -c pass {_spread(t['bare'])}"
          f"  → {load_r:.2f}× (target ≤ 1.10×: {'PASS' if load_r <= 1.1 else 'FAIL'})")
    print(f"  first offline s.chat() in a new process  : {_spread(t['chat'])}  vs import openai; OpenAI() "
          f"{_spread(t['openai'])}  → {chat_r:.2f}× (target < 1.00×: {'PASS' if chat_r < 1.0 else 'FAIL'})")
    print(f"  server modules after an offline chat     : {server or 'none'}{server_note} (target none: "
          f"{'PASS' if not server else 'FAIL'})")
    return load_r <= 1.1 and chat_r < 1.0 and not server


if __name__ == "__main__":
    raise SystemExit(main())
