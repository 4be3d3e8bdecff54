"""Benchmark the history store against its targets, with baselines measured side by side in one run.

    python bench/bench_history.py [--entries 10000] [--big 100000] [--calls 2000] [--images 50]

Every figure is printed as min / median / max of its runs; subject and baseline runs are interleaved.

Rows:
  record one call (insert+update)   Store.insert + Store.update of a chat-sized row vs bare sqlite3 (same pragmas)
  open N                            Store + len + last, in-process and in a fresh process with the import
  filter / search / index           History views on N entries (targets in ms)
  render last 50, after K images    a cold History (new Store, nothing in memory) rendering its last 50 rows after
                                    K images made by the offline simulator's default model (2048²) were recorded
                                    through Session.image: thumbnails are made when an image is stored
  export N vs bare SQL + json       History.export(jsonl) vs SELECT of the same rows + json.loads of the JSON
                                    columns + json.dumps of each row to a file, at N and at the big size
  FTS at BIG vs bare FTS            History.search(3 words).ids vs the bare FTS5 MATCH on the same words (each
                                    round the mean of 50 searches)
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, machine, ratio_spread, ratios, render, spread  # noqa: E402
from PIL import Image  # noqa: E402

from tokenhot_nb.history import History, HistoryEntry, Store  # noqa: E402
from tokenhot_nb.history._entry import ENTRY_FIELDS, JSON_FIELDS  # noqa: E402

KINDS = ["image", "chat", "video", "speak", "chat", "chat", "edit", "transcribe"]
MODELS = {"image": "gpt-image-1", "edit": "gpt-image-1", "chat": "gpt-4o-mini", "video": "veo-3",
          "speak": "tts-1", "transcribe": "whisper-1"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def runs(fn: Callable[[], object], repeat: int = 7) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def paired(a: Callable[[], object], b: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Interleaved runs of a subject and its baseline (A B, B A, …) after one warm-up run of each."""
    a()
    b()
    ta: list[float] = []
    tb: list[float] = []
    for i in range(repeat):
        for fn, out in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return ta, tb


def ms(v: float) -> str:
    return f"{v * 1e3:,.2f} ms"


def target_row(name: str, times: list[float], target_s: float, note: str = "") -> Row:
    med = statistics.median(times)
    return Row(name, spread(times, ms), note or "—", f"{med / target_s:.2f} of target", f"≤ {target_s * 1e3:g} ms",
               med <= target_s)


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


def bench_recording(tmp: Path, calls: int) -> list[Row]:
    store = Store(tmp / "rec")
    store.count()  # open outside the timing
    e0 = sample_entry(0)
    fin = finish_fields(1, "chat", [], e0.text)
    n = 50

    def record_store() -> None:
        for i in range(n):
            store.update(store.insert(sample_entry(i)), **fin)

    conn = sqlite3.connect(tmp / "bare.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, session_id, started, kind, model, endpoint, params, "
                 "request, response, usage, outputs, text, status, error, thread, replay_key)")
    row = (e0.session_id, e0.started, e0.kind, e0.model, e0.endpoint, json.dumps(e0.params), json.dumps(e0.request),
           "{}", "{}", "[]", e0.text, "running", None, None, "k" * 64)
    sql = "INSERT INTO t VALUES (NULL,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

    def bare_insert_update() -> None:
        for _ in range(n):
            rid = conn.execute(sql, row).lastrowid
            conn.execute("UPDATE t SET status='ok', response=?, usage=?, outputs=?, text=? WHERE id=?",
                         ('{"request_id":"x"}', '{"input_tokens":1}', "[]", "answer", rid))

    ta, tb = paired(record_store, bare_insert_update, max(3, calls // n))
    ta, tb = [t / n for t in ta], [t / n for t in tb]
    conn.close()
    return [Row("record one call (insert+update)", spread(ta), f"bare sqlite3 insert+update {spread(tb)}",
                ratio_spread(ratios(ta, tb)), "info (bare has no FTS, indexes, redaction)", None)]


def build_history(root: Path, n: int) -> Store:
    store = Store(root)
    images = []
    for k in range(20):
        buf = io.BytesIO()
        Image.new("RGB", (256, 256), (k, 255 - k, (k * 37) % 255)).save(buf, "PNG")
        images.append(store.add_bytes(buf.getvalue(), "image/png").as_dict())
    step = 20_000
    for lo in range(0, n, step):
        entries = []
        for i in range(lo, min(n, lo + step)):
            e = sample_entry(i)
            for name, value in finish_fields(i, e.kind, images, e.text).items():
                setattr(e, name, value)
            entries.append(e)
        store.import_entries(entries)
    store.close()
    return store


def bench_views(tmp: Path, n: int) -> list[Row]:
    root = tmp / "big"
    t = time.perf_counter()
    build_history(root, n)
    log(f"built {n} entries in {time.perf_counter() - t:.1f} s")

    def open_store() -> None:
        s = Store(root)
        h = History(s)
        len(h)
        assert h.last is not None
        s.close()

    code = ("import time,sys; t=time.perf_counter(); sys.path.insert(0, sys.argv[2]); "
            "from tokenhot_nb.history import Store, History; h=History(Store(sys.argv[1])); len(h); h.last; "
            "print(time.perf_counter()-t)")
    proc = [float(subprocess.run([sys.executable, "-c", code, str(root), str(ROOT)], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(5)]
    store = Store(root)
    h = History(store)
    len(h)
    return [
        target_row(f"open {n} (Store+len+last)", runs(open_store), 0.2),
        target_row("  same in a fresh process, with import", proc, 0.2),
        target_row("filter kind+model+status, len", runs(lambda: len(h.filter(kind="image", model="gpt-image-1",
                                                                               status="ok"))), 0.02),
        target_row("filter kind+status, last 20 rows", runs(lambda: h.filter(kind="image", status="ok")[-20:]), 0.02),
        target_row("search 3 words (FTS), ids", runs(lambda: h.search("lighthouse style 5").ids), 0.02),
        target_row("h[-1], h[n // 2], h[-50:]", runs(lambda: (h[-1], h[len(h) // 2], h[-50:])), 0.02),
    ]


def bare_export(store: Store, path: Path) -> None:
    """What a user would write: SELECT the rows, decode the JSON columns, json.dumps each row."""
    cols = ", ".join(ENTRY_FIELDS)
    with open(path, "w", encoding="utf-8") as f:
        for row in store.connection().execute(f"SELECT {cols} FROM entries ORDER BY id"):
            d = {k: (json.loads(v) if k in JSON_FIELDS and v is not None else v)
                 for k, v in zip(ENTRY_FIELDS, row, strict=True)}
            f.write(json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n")


def export_rows(tmp: Path, sizes: list[int], repeat: int) -> list[Row]:
    rows = []
    for n in sizes:
        root = tmp / f"export-{n}"
        t = time.perf_counter()
        build_history(root, n)
        log(f"built {n} entries for export in {time.perf_counter() - t:.1f} s")
        rows += _export_and_search(tmp, Store(root), n, repeat, search=n == sizes[-1])
    return rows


def _export_and_search(tmp: Path, store: Store, n: int, repeat: int, *, search: bool) -> list[Row]:
    h = History(store)
    ta, tb = paired(lambda: h.export(tmp / "e.jsonl"), lambda: bare_export(store, tmp / "b.jsonl"), repeat)
    r = ratios(ta, tb)
    rows = [Row(f"export {n:,} vs bare SQL + json", spread(ta), f"bare {spread(tb)}", ratio_spread(r), "≤ 1.30×",
                statistics.median(r) <= 1.3)]
    if search:
        words = "dusk seed 4242"
        query = " ".join(f'"{w}"' for w in words.split())
        conn = store.connection()
        calls = 50  # a search takes ~1 ms: each round is the mean of 50, so one scheduler hiccup is not a round

        def ours() -> list[list[int]]:
            return [h.search(words).ids for _ in range(calls)]

        def bare() -> list[list[int]]:
            return [[x[0] for x in conn.execute(
                "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ? ORDER BY rowid", (query,))]
                for _ in range(calls)]

        fa, fb = paired(ours, bare, max(repeat, 9))
        fa, fb = [t / calls for t in fa], [t / calls for t in fb]
        r = ratios(fa, fb)
        rows.append(Row(f"FTS at {n:,} vs bare FTS", spread(fa, ms), f"bare MATCH {spread(fb, ms)}",
                        ratio_spread(r), "≤ 1.10×", statistics.median(r) <= 1.1))
    store.close()
    return rows


def render_rows(tmp: Path, images: int) -> list[Row]:
    """Record ``images`` offline default-model images, then render the last 50 rows from a cold store."""
    from tokenhot_nb import Session

    root = tmp / "images"
    s = Session(mode="offline", store=root)
    t = time.perf_counter()
    for i in range(images):
        s.image(f"a lighthouse at dusk, take {i}", progress=False)
    made = time.perf_counter() - t
    last = s.history.last
    model = last.model if last is not None else "?"
    with Image.open(last.artifacts[0].path) as im:  # type: ignore[union-attr]
        size = "x".join(map(str, im.size))
    s.close()
    log(f"{images} images ({model}, {size}) recorded in {made:.1f} s")
    cold = runs(lambda: History(Store(root))._repr_html_(), 7)  # a new Store: nothing cached in memory
    warm_store = Store(root)
    warm = History(warm_store)
    warm._repr_html_()
    hot = runs(warm._repr_html_, 7)
    return [target_row(f"render last 50, cold, after {images} images", cold, 0.1,
                       f"{model} {size}; thumbnails in memory: {spread(hot, ms)}")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--big", type=int, default=100_000, help="the large export/FTS size (0: skip)")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--images", type=int, default=50)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as d:
        tmp = Path(d)
        os.environ.pop("TOKENHOT_API_KEY", None)
        rows = bench_recording(tmp, args.calls)
        rows += bench_views(tmp, args.entries)
        rows += render_rows(tmp, args.images)
        sizes = [args.entries] + ([args.big] if args.big and args.big != args.entries else [])
        rows += export_rows(tmp, sizes, 5 if args.entries >= 10_000 else 3)
    print(f"history benchmark, {machine()}; SQLite {sqlite3.sqlite_version}; {args.entries} entries")
    print(render(rows))
    missed = [r.name.strip() for r in rows if r.ok is False]
    print(f"{len(rows)} rows in {time.perf_counter() - t0:.0f} s; missed: {', '.join(missed) or 'none'}")


if __name__ == "__main__":
    main()
