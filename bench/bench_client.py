"""Client benchmarks (issue #2, section 8): each figure a ratio against a baseline measured in the same run.

The simulator runs as ``python -m tokenhot_nb.sim`` in its own process (pinned to the last core when there
are two or more), so its CPU does not pollute the client's timings. Subjects and baselines are interleaved
(A/B/A/B, rotated) after a warm-up, and medians are reported.

    python bench/bench_client.py           # full run (~2 minutes); exit 1 if a target is missed
    python bench/bench_client.py --quick   # small sizes, a smoke test; figures are not judged by the exit code

Rows (stable labels):
  chat call vs bare httpx     non-streaming chat: Client.send + .json() vs httpx.AsyncClient.post + .json()
  chat call vs openai SDK     the same vs AsyncOpenAI().chat.completions.create
  sync chat call vs …         from sync code: Client.send_sync (the blocking lane) + .json() vs httpx.Client.post
                              + .json(), and vs OpenAI().chat.completions.create
  chat client CPU per call    client-process CPU per call (info; the server runs elsewhere)
  concurrent images vs one    N concurrent image requests at a simulated latency vs one request
  SSE parse rate (replay)     Client.stream over loopback from a fast replay of the sim's stream, one HTTP
                              chunk per event as relays send it, vs raw httpx-sse + json.loads
  SSE parse rate (coalesced)  the same body in one piece: per-event cost without the per-chunk cost (info)
  SSE over the simulator      the same against the live simulator, whose uvicorn bounds the rate (info)
  download peak RSS growth    Client.download of a large streamed blob, in a fresh child process
  download time vs bare httpx the same vs httpx streaming + sha256 + file write (info)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # bench/ is not a package: imported from its folder
    AUTH,
    BENCH_KEY,
    ReplayServer,
    Row,
    SimProcess,
    Timing,
    ensure_importable,
    fmt_mib,
    fmt_rate,
    fmt_s,
    interleaved,
    measure_download,
    median,
    pin_client,
    ratio_spread,
    ratios,
    render,
    rotations,
    spread,
)

ensure_importable()

import httpx  # noqa: E402
from httpx_sse import aconnect_sse  # noqa: E402

from tokenhot_nb._config import Settings  # noqa: E402
from tokenhot_nb.catalog import model  # noqa: E402
from tokenhot_nb.client import Client  # noqa: E402
from tokenhot_nb.families import chat, images  # noqa: E402
from tokenhot_nb.families._types import HttpCall  # noqa: E402

CHAT_MODEL = "gpt-5.4-mini"
IMAGE_MODEL = "dall-e-2"  # 256x256 is its smallest size: the server's PNG work stays small beside the latency

OVERHEAD_MAX = 1.2
CONCURRENCY_MAX = 2.0
SSE_MIN = 100_000
SSE_MIN_RATIO = 0.9  #: Client.stream vs raw httpx-sse, one event per chunk (issue #13)
RSS_MAX_MIB = 64

ROW_NAMES = (
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


@dataclass(frozen=True)
class Sizes:
    warmup: int
    rounds: int
    calls: int
    concurrent: int
    latency: float
    conc_rounds: int
    chunks: int
    sse_rounds: int
    download: int
    download_rounds: int


FULL = Sizes(warmup=30, rounds=15, calls=40, concurrent=64, latency=0.25, conc_rounds=5,
             chunks=20_000, sse_rounds=9, download=500 * 1000 * 1000, download_rounds=2)
QUICK = Sizes(warmup=5, rounds=3, calls=8, concurrent=16, latency=0.05, conc_rounds=2,
              chunks=2_000, sse_rounds=2, download=16 * 1000 * 1000, download_rounds=1)


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def settings_for(url: str) -> Settings:
    return Settings(mode="live", base_url=url, api_key=BENCH_KEY)


def chat_call(stream: bool) -> HttpCall:
    return chat.build(model(CHAT_MODEL), [{"role": "user", "content": "Benchmark: say something short."}],
                      stream=stream)


# ----------------------------------------------------------------------------- 1. per-call overhead


async def bench_overhead(url: str, sz: Sizes) -> list[Row]:
    call = chat_call(stream=False)
    body = call.json or {}
    client = Client(settings_for(url))
    bare = httpx.AsyncClient(base_url=url)
    subjects: dict[str, Callable[[], Awaitable[Any]]] = {}

    async def via_tokenhot() -> Any:
        return (await client.send(call)).json()

    async def via_httpx() -> Any:
        r = await bare.post(call.path, json=body, headers=AUTH)
        r.raise_for_status()
        return r.json()

    subjects["tokenhot"] = via_tokenhot
    subjects["httpx"] = via_httpx
    oa: Any = None
    try:
        from openai import AsyncOpenAI
    except ImportError:  # pragma: no cover - openai is a test dependency
        log("openai is not installed: its row is skipped")
    else:
        oa = AsyncOpenAI(base_url=f"{url}/v1", api_key=BENCH_KEY)

        async def via_openai() -> Any:
            return await oa.chat.completions.create(**body)

        subjects["openai"] = via_openai

    for fn in subjects.values():
        for _ in range(sz.warmup):
            await fn()
    wall: dict[str, list[float]] = {k: [] for k in subjects}
    cpu: dict[str, list[float]] = {k: [] for k in subjects}
    for order in rotations(list(subjects), sz.rounds):
        for name in order:
            fn = subjects[name]
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(sz.calls):
                await fn()
            wall[name].append((time.perf_counter() - t0) / sz.calls)
            cpu[name].append((time.process_time() - c0) / sz.calls)
    await client.aclose()
    await bare.aclose()
    if oa is not None:
        await oa.close()

    def paired(a: str, b: str, d: dict[str, list[float]]) -> float:
        return median(x / y for x, y in zip(d[a], d[b], strict=True))

    per = f"{sz.rounds}×{sz.calls} calls"
    tk = spread(wall["tokenhot"])
    r_hx = paired("tokenhot", "httpx", wall)
    rows = [Row(ROW_NAMES[0], f"{tk}/call", f"httpx {spread(wall['httpx'])}/call ({per})",
                ratio_spread(ratios(wall["tokenhot"], wall["httpx"])), f"≤ {OVERHEAD_MAX:.2f}×", r_hx <= OVERHEAD_MAX)]
    cpu_base = f"httpx {spread(cpu['httpx'])}"
    cpu_ratio = f"{ratio_spread(ratios(cpu['tokenhot'], cpu['httpx']))} httpx"
    if "openai" in wall:
        r_oa = paired("tokenhot", "openai", wall)
        rows.append(Row(ROW_NAMES[1], f"{tk}/call", f"AsyncOpenAI {spread(wall['openai'])}/call",
                        ratio_spread(ratios(wall["tokenhot"], wall["openai"])), "< 1.00×", r_oa < 1.0))
        cpu_base += f", openai {spread(cpu['openai'])}"
        cpu_ratio += f", {ratio_spread(ratios(cpu['tokenhot'], cpu['openai']))} openai"
    else:
        rows.append(Row(ROW_NAMES[1], f"{tk}/call", "openai not installed", "n/a", "< 1.00×", None))
    rows.append(Row(ROW_NAMES[2], f"{spread(cpu['tokenhot'])}/call", cpu_base, cpu_ratio, "-", None))
    return rows


def bench_overhead_sync(url: str, sz: Sizes) -> list[Row]:
    """The sync facade (``Client.send_sync``: the blocking lane) against httpx's sync client and the sync SDK."""
    call = chat_call(stream=False)
    body = call.json or {}
    client = Client(settings_for(url))
    bare = httpx.Client(base_url=url)
    subjects: dict[str, Callable[[], Any]] = {"tokenhot": lambda: client.send_sync(call).json()}

    def via_httpx() -> Any:
        r = bare.post(call.path, json=body, headers=AUTH)
        r.raise_for_status()
        return r.json()

    subjects["httpx"] = via_httpx
    from openai import OpenAI

    oa = OpenAI(base_url=f"{url}/v1", api_key=BENCH_KEY)
    subjects["openai"] = lambda: oa.chat.completions.create(**body)
    t = interleaved(subjects, sz.rounds, sz.calls, sz.warmup)
    client.close()
    bare.close()
    oa.close()
    tk, hx, op = t["tokenhot"], t["httpx"], t["openai"]
    subject = f"{spread(tk.wall)}/call, CPU {spread(tk.cpu)}"

    def judged(base: Timing, limit: float) -> bool:
        return median(ratios(tk.wall, base.wall)) <= limit and median(ratios(tk.cpu, base.cpu)) <= limit

    return [Row(ROW_NAMES[9], subject, f"httpx.Client {spread(hx.wall)}, CPU {spread(hx.cpu)}",
                f"wall {ratio_spread(ratios(tk.wall, hx.wall))}; CPU {ratio_spread(ratios(tk.cpu, hx.cpu))}",
                f"≤ {OVERHEAD_MAX:.2f}× (wall and CPU)", judged(hx, OVERHEAD_MAX)),
            Row(ROW_NAMES[10], subject, f"OpenAI {spread(op.wall)}, CPU {spread(op.cpu)}",
                f"wall {ratio_spread(ratios(tk.wall, op.wall))}; CPU {ratio_spread(ratios(tk.cpu, op.cpu))}",
                "≤ 1.00× (wall and CPU)", judged(op, 1.0))]


# ----------------------------------------------------------------------------- 2. concurrency


async def bench_concurrency(sim: SimProcess, sz: Sizes) -> list[Row]:
    """N concurrent image requests vs one (the judged ratio); bare httpx doing the same N is shown beside it."""
    call = images.build_generate(model(IMAGE_MODEL), "a lighthouse at dusk", size="256x256")
    body = call.json or {}
    sim.set_faults(latency=sz.latency)
    client = Client(settings_for(sim.url))
    bare = httpx.AsyncClient(base_url=sim.url, timeout=60)

    async def bare_send() -> httpx.Response:
        r = await bare.post(call.path, json=body, headers=AUTH)
        r.raise_for_status()
        r.json()
        return r

    async def run(name: str) -> float:
        t0 = time.perf_counter()
        if name == "one":
            (await client.send(call)).json()
        elif name == "many":
            replies = await asyncio.gather(*(client.send(call) for _ in range(sz.concurrent)))
            for r in replies:
                r.json()
        else:
            await asyncio.gather(*(bare_send() for _ in range(sz.concurrent)))
        return time.perf_counter() - t0

    times: dict[str, list[float]] = {"one": [], "many": [], "httpx": []}
    try:
        for name in times:  # warm-up: connections, the server's thread pool, PNG code paths
            await run(name)
        for order in rotations(list(times), sz.conc_rounds):
            for name in order:
                times[name].append(await run(name))
    finally:
        await client.aclose()
        await bare.aclose()
        sim.set_faults()
    t1, tn, th = median(times["one"]), median(times["many"]), median(times["httpx"])
    ratio = tn / t1
    return [Row(ROW_NAMES[3], f"{sz.concurrent} concurrent: {fmt_s(tn)}",
                f"1 request: {fmt_s(t1)} (latency {sz.latency:g} s); bare httpx ×{sz.concurrent}: {fmt_s(th)}",
                f"{ratio:.2f}×", f"≤ {CONCURRENCY_MAX:.1f}×", ratio <= CONCURRENCY_MAX)]


# ----------------------------------------------------------------------------- 3. SSE


async def _client_events(client: Client, call: HttpCall) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = 0
    async for _event in client.stream(call):
        n += 1
    return n, time.perf_counter() - t0


async def _raw_events(http: httpx.AsyncClient, call: HttpCall) -> tuple[int, float]:
    headers = {**AUTH, "Accept": "text/event-stream"}
    t0 = time.perf_counter()
    n = 0
    async with aconnect_sse(http, "POST", call.path, json=call.json, headers=headers) as source:
        async for sse in source.aiter_sse():
            if sse.data == "[DONE]":
                break
            json.loads(sse.data)
            n += 1
    return n, time.perf_counter() - t0


async def _sse_pair(url: str, call: HttpCall, rounds: int) -> tuple[list[float], list[float], int]:
    """Median events/s of Client.stream and of raw httpx-sse (interleaved after a warm-up of each).

    Each side keeps one client (and its keep-alive connection) across rounds, so the timing covers the
    request and the stream, not building an httpx client.
    """
    client = Client(settings_for(url))
    http = httpx.AsyncClient(base_url=url, timeout=60)
    try:
        await _client_events(client, call)
        await _raw_events(http, call)
        rates: dict[str, list[float]] = {"client": [], "raw": []}
        counts: set[int] = set()
        for order in rotations(["client", "raw"], rounds):
            for name in order:
                if name == "client":
                    n, dt = await _client_events(client, call)
                else:
                    n, dt = await _raw_events(http, call)
                counts.add(n)
                rates[name].append(n / dt)
    finally:
        await client.aclose()
        await http.aclose()
    if len(counts) != 1:
        raise RuntimeError(f"Client.stream and httpx-sse saw different event counts: {sorted(counts)}")
    return rates["client"], rates["raw"], counts.pop()


async def bench_sse(sim: SimProcess, sz: Sizes, workdir: Path) -> list[Row]:
    call = chat_call(stream=True)
    sim.set_faults(stream_chunks=sz.chunks)
    try:
        async with httpx.AsyncClient(base_url=sim.url, timeout=60) as http:
            r = await http.post(call.path, json=call.json, headers=AUTH)
            r.raise_for_status()
            recorded = r.content
        live = await _sse_pair(sim.url, call, sz.sse_rounds)
    finally:
        sim.set_faults()
    with ReplayServer(recorded, workdir) as replay:
        chunked = await _sse_pair(replay.url, call, sz.sse_rounds)
    with ReplayServer(recorded, workdir, coalesce=True) as replay:
        coalesced = await _sse_pair(replay.url, call, sz.sse_rounds)

    def row(name: str, figures: tuple[list[float], list[float], int], judged: bool, note: str) -> Row:
        c, raw, n = figures
        r = ratios(c, raw)
        ok = median(r) >= SSE_MIN_RATIO if judged else None
        target = f"≥ {SSE_MIN_RATIO:.2f}× raw" if judged else "-"
        return Row(name, f"{spread(c, fmt_rate)} ({n:,} events{note})", f"raw httpx-sse {spread(raw, fmt_rate)}",
                   ratio_spread(r), target, ok)

    return [row(ROW_NAMES[4], chunked, True, ", 1 event/chunk"),
            row(ROW_NAMES[5], coalesced, False, ", 1 chunk"),
            row(ROW_NAMES[6], live, False, ", uvicorn-bound")]


# ----------------------------------------------------------------------------- 4. download


def bench_download(sim: SimProcess, sz: Sizes) -> list[Row]:
    url = f"{sim.url}/sim/blob/{sz.download}"
    runs: dict[str, list[dict[str, Any]]] = {"tokenhot": [], "httpx": []}
    for order in rotations(["tokenhot", "httpx"], sz.download_rounds):
        for kind in order:
            res = measure_download(kind, url, sz.download)
            if res["size"] != sz.download or res["left_behind"]:
                raise RuntimeError(f"{kind} download went wrong: {res}")
            runs[kind].append(res)
    digests = {r["sha256"] for rs in runs.values() for r in rs}
    if len(digests) != 1:
        raise RuntimeError(f"the two downloads disagree on the content: {digests}")
    tk, hx = runs["tokenhot"], runs["httpx"]
    growth = max(r["growth_kib"] for r in tk)  # the worst run: a peak is a peak
    before = median(r["rss_before_kib"] for r in tk)
    hx_growth = max(r["growth_kib"] for r in hx)
    t_tk, t_hx = median(r["seconds"] for r in tk), median(r["seconds"] for r in hx)
    mb = sz.download / 1e6
    exact = all(r["exact_peak"] for r in tk)
    return [
        Row(ROW_NAMES[7], f"+{fmt_mib(growth)} for {mb:,.0f} MB" + ("" if exact else " (ru_maxrss)"),
            f"RSS before {fmt_mib(before)}; bare httpx +{fmt_mib(hx_growth)}", f"{(before + growth) / before:.2f}×",
            f"growth ≤ {RSS_MAX_MIB} MiB", growth <= RSS_MAX_MIB * 1024),
        Row(ROW_NAMES[8], f"{fmt_s(t_tk)} ({mb / t_tk:,.0f} MB/s)",
            f"httpx stream+sha256+write {fmt_s(t_hx)} ({mb / t_hx:,.0f} MB/s)", f"{t_tk / t_hx:.2f}×", "-", None),
    ]


# ----------------------------------------------------------------------------- main


async def network_sections(sim: SimProcess, sz: Sizes, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    log("per-call overhead: tokenhot vs bare httpx vs openai SDK")
    rows += await bench_overhead(sim.url, sz)
    log(f"{sz.concurrent} concurrent image requests vs one")
    rows += await bench_concurrency(sim, sz)
    log(f"streamed chat of {sz.chunks:,} chunks")
    rows += await bench_sse(sim, sz, workdir)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test; exit code ignores figures)")
    args = ap.parse_args(argv)
    sz = QUICK if args.quick else FULL
    pinning = pin_client()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tokenhot-bench-") as tmp, SimProcess() as sim:
        rows = asyncio.run(network_sections(sim, sz, Path(tmp)))
        log("per-call overhead from sync code: Client.send_sync vs httpx.Client vs the sync openai SDK")
        rows += bench_overhead_sync(sim.url, sz)
        log(f"download of {sz.download / 1e6:,.0f} MB in child processes")
        rows += bench_download(sim, sz)
    print(f"tokenhot_nb client benchmarks ({'quick' if args.quick else 'full'} run), python "
          f"{sys.version.split()[0]}, httpx {httpx.__version__}; {pinning}; simulator in its own process")
    print(render(rows))
    failed = [r.name for r in rows if r.ok is False]
    print(f"{len(rows)} rows in {time.perf_counter() - started:.0f} s; "
          + (f"missed: {', '.join(failed)}" if failed else "every target met"))
    return 1 if failed and not args.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())
