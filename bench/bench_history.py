"""Benchmark the history store against its targets, with baselines measured side by side in one run.

    python bench/bench_history.py [--entries 10000] [--calls 2000]

Recording cost is compared with a bare ``sqlite3`` insert (and insert+update) of the same row, with the
same pragmas, in the same process; the 10,000-entry figures are compared with the targets
(open ≤200 ms, filter ≤20 ms, render of the last 50 rows ≤100 ms).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tokenhot_nb.history import History, HistoryEntry, Store  # noqa: E402

KINDS = ["image", "chat", "video", "speak", "chat", "chat", "edit", "transcribe"]
MODELS = {"image": "gpt-image-1", "edit": "gpt-image-1", "chat": "gpt-4o-mini", "video": "veo-3",
          "speak": "tts-1", "transcribe": "whisper-1"}


def timeit(fn: Callable[[], object], repeat: int = 7) -> float:
    """Median seconds of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def sample_entry(i: int) -> HistoryEntry:
    kind = KINDS[i % len(KINDS)]
    prompt = f"prompt {i}: a lighthouse on a cliff at dusk, style {i % 17}, seed {i * 7919 % 10007}"
    return HistoryEntry(
        session_id="bench", started=time.time() - 86400 + i, mode="offline", kind=kind, model=MODELS[kind],
        endpoint=f"/v1/{kind}", params={"prompt": prompt, "model": MODELS[kind], "n": 1, "size": "1024x1024",
                                        "seed": i},
        request={"method": "POST", "path": f"/v1/{kind}", "json": {"model": MODELS[kind], "prompt": prompt}},
        text=prompt,
    )


def finish_fields(i: int, kind: str, images: list[dict[str, object]], prompt: str = "") -> dict[str, object]:
    outputs: list[dict[str, object]] = []
    if kind in ("image", "edit"):
        outputs = [{**images[i % len(images)], "role": "image"}]
    return {
        "status": "error" if i % 23 == 0 else "ok", "duration": 0.5 + (i % 10) / 10,
        "response": {"request_id": f"req-{i}"},
        "usage": {"input_tokens": 10 + i % 50, "output_tokens": 30 + i % 70, "total_tokens": 40,
                  "images": 1 if kind in ("image", "edit") else 0, "video_seconds": 5.0 if kind == "video" else 0.0},
        "outputs": outputs, "text": f"{prompt}\nanswer {i} about lighthouses",
    }


def bench_recording(tmp: Path, calls: int) -> list[tuple[str, float, str, float]]:
    store = Store(tmp / "rec")
    store.count()  # open outside the timing
    e0 = sample_entry(0)
    fin = finish_fields(1, "chat", [], e0.text)

    def record_store() -> None:
        for i in range(calls):
            e = sample_entry(i)
            eid = store.insert(e)
            store.update(eid, **fin)

    conn = sqlite3.connect(tmp / "bare.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, session_id, started, kind, model, endpoint, params, "
                 "request, response, usage, outputs, text, status, error, thread, replay_key)")
    row = (e0.session_id, e0.started, e0.kind, e0.model, e0.endpoint, json.dumps(e0.params), json.dumps(e0.request),
           "{}", "{}", "[]", e0.text, "running", None, None, "k" * 64)
    sql = "INSERT INTO t VALUES (NULL,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

    def bare_insert() -> None:
        for _ in range(calls):
            conn.execute(sql, row)

    def bare_insert_update() -> None:
        for _ in range(calls):
            rid = conn.execute(sql, row).lastrowid
            conn.execute("UPDATE t SET status='ok', response=?, usage=?, outputs=?, text=? WHERE id=?",
                         ('{"request_id":"x"}', '{"input_tokens":1}', "[]", "answer", rid))

    t_store = timeit(record_store, 3) / calls
    t_bare = timeit(bare_insert, 3) / calls
    t_bare2 = timeit(bare_insert_update, 3) / calls
    data = os.urandom(200_000)
    n_art = 50
    t_art = timeit(lambda: [store.add_bytes(data + i.to_bytes(4, "big"), "image/png") for i in range(n_art)], 1) / n_art
    return [
        ("record one call (insert+update)", t_store * 1e3, "target 2 ms", t_store * 1e3 / 2.0),
        ("  bare sqlite3 insert, same row", t_bare * 1e3, "store / bare", t_store / t_bare),
        ("  bare sqlite3 insert+update", t_bare2 * 1e3, "store / bare", t_store / t_bare2),
        ("add_bytes 200 kB artifact", t_art * 1e3, "(not in the 2 ms)", float("nan")),
    ]


def build_history(root: Path, n: int) -> tuple[Store, int]:
    store = Store(root)
    images = []
    for k in range(200):
        buf = io.BytesIO()
        Image.new("RGB", (512, 512), (k, 255 - k, (k * 37) % 255)).save(buf, "PNG")
        images.append(store.add_bytes(buf.getvalue(), "image/png").as_dict())
    entries = []
    for i in range(n):
        e = sample_entry(i)
        for name, value in finish_fields(i, e.kind, images, e.text).items():
            setattr(e, name, value)
        entries.append(e)
    store.import_entries(entries)
    store.close()
    return store, len(images)


def bench_big(tmp: Path, n: int) -> list[tuple[str, float, str, float]]:
    root = tmp / "big"
    t = time.perf_counter()
    build_history(root, n)
    t_build = time.perf_counter() - t

    def open_store() -> None:
        s = Store(root)
        h = History(s)
        len(h)
        assert h.last is not None
        s.close()

    t_open = timeit(open_store)
    code = ("import time,sys; t=time.perf_counter(); sys.path.insert(0, sys.argv[2]); "
            "from tokenhot_nb.history import Store, History; h=History(Store(sys.argv[1])); len(h); h.last; "
            "print(time.perf_counter()-t)")
    t_proc = statistics.median(
        float(subprocess.run([sys.executable, "-c", code, str(root), str(ROOT)], capture_output=True, text=True,
                             check=True).stdout) for _ in range(3)
    )

    store = Store(root)
    h = History(store)
    len(h)
    t_filter = timeit(lambda: len(h.filter(kind="image", model="gpt-image-1", status="ok")))
    t_filter_rows = timeit(lambda: h.filter(kind="image", status="ok")[-20:])
    t_filter_time = timeit(lambda: h.filter(kind="chat", since=time.time() - 3600 * 6).ids)
    t_search = timeit(lambda: h.search("lighthouse style 5").ids)
    t_index = timeit(lambda: (h[-1], h[len(h) // 2], h[-50:]))

    cold = Store(root)
    t0 = time.perf_counter()
    History(cold)._repr_html_()
    t_render_cold = time.perf_counter() - t0
    t_render_disk = timeit(lambda: History(Store(root))._repr_html_())
    t_render_mem = timeit(lambda: h._repr_html_())
    t_usage = timeit(lambda: h.usage({"gpt-image-1": {"per_image": 0.04}}).total)
    t_export = timeit(lambda: h.export(tmp / "export.jsonl"), 1)
    t_load = timeit(lambda: History.load(tmp / "export.jsonl", store=Store(tmp / f"load{time.perf_counter_ns()}")), 1)
    return [
        (f"build {n} entries (bulk import)", t_build * 1e3, "(setup)", float("nan")),
        (f"open {n} (Store+len+last)", t_open * 1e3, "target 200 ms", t_open * 1e3 / 200),
        ("  same in a fresh process, with import", t_proc * 1e3, "target 200 ms", t_proc * 1e3 / 200),
        ("filter kind+model+status, len", t_filter * 1e3, "target 20 ms", t_filter * 1e3 / 20),
        ("filter kind+status, last 20 rows", t_filter_rows * 1e3, "target 20 ms", t_filter_rows * 1e3 / 20),
        ("filter kind+since, ids", t_filter_time * 1e3, "target 20 ms", t_filter_time * 1e3 / 20),
        ("search 3 words (FTS), ids", t_search * 1e3, "target 20 ms", t_search * 1e3 / 20),
        ("h[-1], h[n // 2], h[-50:]", t_index * 1e3, "target 20 ms", t_index * 1e3 / 20),
        ("render last 50, thumbs not made yet", t_render_cold * 1e3, "target 100 ms", t_render_cold * 1e3 / 100),
        ("render last 50, thumbs cached on disk", t_render_disk * 1e3, "target 100 ms", t_render_disk * 1e3 / 100),
        ("render last 50, thumbs in memory", t_render_mem * 1e3, "target 100 ms", t_render_mem * 1e3 / 100),
        ("usage summary with prices", t_usage * 1e3, "(no target)", float("nan")),
        (f"export {n} to jsonl", t_export * 1e3, "(info)", float("nan")),
        (f"load {n} from jsonl", t_load * 1e3, "(info)", float("nan")),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as d:
        tmp = Path(d)
        rows = bench_recording(tmp, args.calls) + bench_big(tmp, args.entries)
    print(f"history benchmark — Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
          f"{args.entries} entries, {args.calls} recorded calls")
    print(f"{'measure':44} {'ms':>10}  {'compared with':18} {'ratio':>7}")
    print("-" * 84)
    for name, ms, against, ratio in rows:
        r = "" if ratio != ratio else f"{ratio:7.2f}"
        print(f"{name:44} {ms:10.3f}  {against:18} {r:>7}")
    print("ratio vs a target: <1 meets it; store / bare: the cost of redaction, JSON, replay key and retries.")


if __name__ == "__main__":
    main()
