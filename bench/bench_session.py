"""Session benchmarks (issue #3): what recording costs per call, and how batches scale.

The simulator runs as ``python -m tokenhot_nb.sim`` in its own process (pinned away from the benchmark when
there are two or more cores). Subjects and baselines are interleaved (A/B, B/A…) after a warm-up; medians.

    python bench/bench_session.py           # full run (~30 s); exit 1 if a target is missed
    python bench/bench_session.py --quick   # small sizes, a smoke test; the exit code ignores the figures

Rows (stable labels):
  chat call recorded vs bare      Session.chat(stream=False) with its history store vs the same
                                  chat.build + Client.send + chat.parse with no recording
  image call recorded vs bare     Session.image (gpt-image-2; the image downloaded into the store) vs
                                  images.build_generate + Client.send + images.parse + Client.download
  recording work per call         the history work alone (insert, finish, artifact write, read back), in-process
  batch of 64 images vs one       Session.image([64 prompts], concurrency=16) at the sim's latency=0.25 s vs one
                                  Session.image call at the same latency (dall-e-2 256x256, so the simulator's
                                  image rendering, on one core, does not bound the batch)
  batch of 64, bare client        the same 64 through the family + client + download with an asyncio.Semaphore and
                                  no session (info: what the simulator and the client alone allow)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # bench/ is not a package: imported from its folder
    BENCH_KEY,
    Row,
    SimProcess,
    ensure_importable,
    fmt_s,
    median,
    pin_client,
    render,
    rotations,
)

ensure_importable()

from tokenhot_nb import Session, catalog  # noqa: E402
from tokenhot_nb.client import run_sync  # noqa: E402
from tokenhot_nb.families import chat, images  # noqa: E402

CHAT_MODEL = "gpt-5.4-mini"
IMAGE_MODEL = "gpt-image-2"
BATCH_MODEL, BATCH_SIZE = "dall-e-2", "256x256"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def per_call_rows(url: str, tmp: Path, rounds: int, calls: int) -> list[Row]:
    s = Session(api_key=BENCH_KEY, base_url=url, mode="live", store=tmp / "store")
    client = s.client
    chat_info, image_info = catalog.model(CHAT_MODEL), catalog.model(IMAGE_MODEL)
    counter = iter(range(10**9))

    async def bare_chat() -> Any:
        call = chat.build(chat_info, [{"role": "user", "content": f"q {next(counter)}"}])
        return chat.parse(chat_info, "chat.completions", (await client.send(call)).json())

    async def bare_image() -> Any:
        call = images.build_generate(image_info, f"p {next(counter)}", size="1024x1024")
        reply = images.parse(image_info, (await client.send(call)).json())
        for ref in reply.images:  # the user needs the image either way: fetch it (the session stores it)
            if ref.url:
                dl = await client.download(ref.url, tmp / "bare")
                dl.path.unlink()
        return reply

    def session_chat() -> Any:
        return s.chat(f"q {next(counter)}", model=CHAT_MODEL, stream=False, thread=False)

    def session_image() -> Any:
        return s.image(f"p {next(counter)}", model=IMAGE_MODEL, size="1024x1024", progress=False)

    subjects = {
        "chat/session": lambda: session_chat(),
        "chat/bare": lambda: run_sync(bare_chat()),
        "image/session": lambda: session_image(),
        "image/bare": lambda: run_sync(bare_image()),
    }
    for fn in subjects.values():  # warm-up: connections, imports, SQLite
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {k: [] for k in subjects}
    for kind in ("chat", "image"):
        names = [f"{kind}/session", f"{kind}/bare"]
        for order in rotations(names, rounds):
            for name in order:
                t0 = time.perf_counter()
                for _ in range(calls):
                    subjects[name]()
                times[name].append((time.perf_counter() - t0) / calls)
    rows = []
    for kind, label in (("chat", "chat call recorded vs bare"), ("image", "image call recorded vs bare")):
        rec, bare = median(times[f"{kind}/session"]), median(times[f"{kind}/bare"])
        added = rec - bare
        rows.append(Row(label, f"{fmt_s(rec)}/call", f"{fmt_s(bare)}/call",
                        f"{rec / bare:.2f}× (+{fmt_s(max(0.0, added))})", "≤ +2 ms", added <= 0.002))
        log(f"{kind}: recorded {rec * 1e3:.2f} ms, bare {bare * 1e3:.2f} ms")

    # the recording work alone, without the network
    from tokenhot_nb.history import HistoryEntry

    store = s.store
    work: list[float] = []
    for i in range(calls * rounds):
        t0 = time.perf_counter()
        eid = store.insert(HistoryEntry(session_id="b", kind="chat", model=CHAT_MODEL, endpoint="chat.completions",
                                        params={"message": f"m{i}", "model": CHAT_MODEL}, request={"path": "/x"},
                                        thread="default", text=f"m{i}"))
        art = store.add_bytes(f"answer {i}".encode(), "text/plain")
        store.update(eid, status="ok", response={"request_id": "r"}, usage={"total_tokens": 3},
                     outputs=[{**art.as_dict(), "role": "text"}], text=f"m{i}\n\nanswer {i}")
        store.get(eid)
        work.append(time.perf_counter() - t0)
    w = median(work)
    rows.append(Row("recording work per call", f"{fmt_s(w)}/call", "—", "—", "≤ 2 ms", w <= 0.002))
    s.close()
    return rows


def batch_rows(sim: SimProcess, tmp: Path, n: int, concurrency: int, latency: float, rounds: int) -> list[Row]:
    sim.set_faults(latency=latency)
    s = Session(api_key=BENCH_KEY, base_url=sim.url, mode="live", store=tmp / "batch-store")
    info = catalog.model(BATCH_MODEL)
    client = s.client

    async def bare_batch(tag: str) -> None:
        """The same work with no session: a semaphore, the family, the client, the download."""
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with sem:
                call = images.build_generate(info, f"{tag}-{i}", size=BATCH_SIZE)
                for ref in images.parse(info, (await client.send(call)).json()).images:
                    if ref.url:
                        (await client.download(ref.url, tmp / "bare")).path.unlink()

        await asyncio.gather(*(one(i) for i in range(n)))

    s.image(["warm", "up"], model=BATCH_MODEL, size=BATCH_SIZE, progress=False)
    run_sync(bare_batch("warm"))
    singles, batches, bares = [], [], []
    for r in range(rounds):
        t0 = time.perf_counter()
        s.image(f"one {r}", model=BATCH_MODEL, size=BATCH_SIZE, progress=False)
        singles.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        batch = s.image([f"b{r}-{i}" for i in range(n)], model=BATCH_MODEL, size=BATCH_SIZE,
                        concurrency=concurrency, progress=False)
        batches.append(time.perf_counter() - t0)
        if batch.failed:
            raise SystemExit(f"batch had failures: {batch.failed}")
        t0 = time.perf_counter()
        run_sync(bare_batch(f"r{r}"))
        bares.append(time.perf_counter() - t0)
        log(f"batch round {r}: one {singles[-1]:.3f} s, session {n} at {concurrency} {batches[-1]:.3f} s, "
            f"bare client {bares[-1]:.3f} s")
    sim.set_faults()
    s.close()
    one, many, bare = median(singles), median(batches), median(bares)
    ideal = -(-n // concurrency)
    return [
        Row(f"batch of {n} images vs one", f"{n} at concurrency {concurrency}: {fmt_s(many)}",
            f"one call: {fmt_s(one)}", f"{many / one:.2f}× (ideal {ideal}×)", "≤ 5×", many / one <= 5.0),
        Row(f"batch of {n}, bare client", f"session batch: {fmt_s(many)}", f"bare client batch: {fmt_s(bare)}",
            f"{many / bare:.2f}×", "info", None),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes; a smoke test")
    args = ap.parse_args()
    where = pin_client()
    log(f"benchmark on {where}")
    rounds, calls = (3, 5) if args.quick else (9, 20)
    n, conc, latency = (16, 4, 0.05) if args.quick else (64, 16, 0.25)
    with SimProcess() as sim, tempfile.TemporaryDirectory(prefix="th-bench-session-") as d:
        tmp = Path(d)
        log(f"simulator at {sim.url}")
        rows = per_call_rows(sim.url, tmp, rounds, calls)
        rows.extend(batch_rows(sim, tmp, n, conc, latency, 3 if args.quick else 5))
    print(render(rows))
    if not args.quick and any(r.ok is False for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
