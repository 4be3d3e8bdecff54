"""Helpers shared by the benchmarks: out-of-process servers, CPU pinning, statistics, RSS, the table.

Servers run in their own processes so their CPU does not count against the client being measured (and, on
a machine with two or more cores, they are pinned to the last core while the benchmark keeps the others).

Run as a script, this module is also the child side of two measurements:

    python bench/_common.py replay BODY_FILE        # loopback HTTP server replaying an SSE body
    python bench/_common.py download KIND URL SIZE  # one download in a fresh process, prints JSON
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_KEY = "sk-bench-0123456789"
AUTH = {"Authorization": f"Bearer {BENCH_KEY}"}


def ensure_importable() -> None:
    """Let ``tokenhot_nb`` import from a checkout that is not pip-installed."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# ----------------------------------------------------------------------------- CPU pinning


def _cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []


def server_cpus() -> set[int] | None:
    """The core servers run on (the last one), or None when there is only one core to use."""
    cpus = _cpus()
    return {cpus[-1]} if len(cpus) >= 2 else None


def pin_client() -> str:
    """Keep this process off the server core; returns a description for the report header."""
    cpus = _cpus()
    if len(cpus) < 2:
        return "no pinning (one core)"
    try:
        os.sched_setaffinity(0, set(cpus[:-1]))
    except OSError:
        return "no pinning"
    return f"client on cpu {','.join(map(str, cpus[:-1]))}, servers on cpu {cpus[-1]}"


def _pin(pid: int) -> None:
    cpus = server_cpus()
    if cpus is None:
        return
    try:
        os.sched_setaffinity(pid, cpus)
    except OSError:
        pass


# ----------------------------------------------------------------------------- servers


class _Child:
    """A server subprocess that prints its URL on the first line of stdout."""

    def __init__(self, args: Sequence[str], marker: str, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
        )
        _pin(self.proc.pid)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if marker in line or not line:
                break
        if marker not in line:
            err = self.proc.stderr.read() if self.proc.stderr and self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"server {' '.join(args)} did not start: {line!r} {err[-2000:]}")
        self.url = line.split(marker, 1)[1].split()[0].rstrip("/")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class SimProcess(_Child):
    """``python -m tokenhot_nb.sim`` on a free loopback port, in its own process."""

    def __init__(self) -> None:
        super().__init__(["-m", "tokenhot_nb.sim", "--host", "127.0.0.1", "--port", "0", "--log-level", "warning"],
                         "listening on ")

    def set_faults(self, **faults: Any) -> None:
        """Replace every fault (unset ones return to their defaults) via ``PUT /sim/faults``."""
        import httpx

        r = httpx.put(f"{self.url}/sim/faults", json=faults, timeout=10)
        r.raise_for_status()


class ReplayServer(_Child):
    """A minimal HTTP/1.1 server answering every request with one recorded SSE body.

    The body is sent with chunked transfer encoding, one HTTP chunk per SSE event, as the simulator and
    real relays send it; ``coalesce=True`` sends it as one piece instead (a diagnostic: it removes the
    per-chunk cost from the client).
    """

    def __init__(self, body: bytes, workdir: Path, *, coalesce: bool = False) -> None:
        path = workdir / ("replay-coalesced.sse" if coalesce else "replay.sse")
        path.write_bytes(body)
        args = [str(Path(__file__).resolve()), "replay", str(path)]
        if coalesce:
            args.append("--coalesce")
        super().__init__(args, "replaying on ")


class ParseServer(_Child):
    """The least a chat server does, on the simulator's own stack (uvicorn, h11): read the body, parse its JSON
    and answer one fixed completion. What a growing body costs on the wire and in a parser, without the
    simulator's own work."""

    def __init__(self) -> None:
        super().__init__([str(Path(__file__).resolve()), "parse"], "parsing on ")


def _chunked(body: bytes, coalesce: bool) -> bytes:
    frames = [body] if coalesce else [f + b"\n\n" for f in body.split(b"\n\n") if f]
    out = bytearray()
    for f in frames:
        out += b"%x\r\n" % len(f) + f + b"\r\n"
    out += b"0\r\n\r\n"
    return bytes(out)


def _parse_main() -> int:
    import uvicorn

    answer = json.dumps({"id": "chatcmpl-parse", "object": "chat.completion", "created": 0, "model": "parse",
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": "A fixed answer."}}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        json.loads(b"".join(chunks))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    # IPPROTO_TCP given: asyncio sets TCP_NODELAY only on sockets that name it (a bare socket() would answer
    # in two writes held apart by Nagle and a delayed ACK, ~40 ms)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    print(f"parsing on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])
    return 0


def _replay_main(path: str, coalesce: bool) -> int:
    payload = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\nx-request-id: replay\r\n\r\n" + _chunked(Path(path).read_bytes(), coalesce)
    )

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                length = 0
                line = self.rfile.readline()
                if not line:
                    return
                while line not in (b"\r\n", b"\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                    line = self.rfile.readline()
                if length:
                    self.rfile.read(length)
                self.wfile.write(payload)
                self.wfile.flush()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handler) as srv:
        print(f"replaying on http://127.0.0.1:{srv.server_address[1]}", flush=True)
        srv.serve_forever()
    return 0


# ----------------------------------------------------------------------------- RSS (Linux /proc)


def status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` figure (VmRSS, VmHWM) in KiB, or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); False when that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_kib() -> int:
    hwm = status_kib("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def _download_main(kind: str, url: str, size: int) -> int:
    """Download ``url`` (``size`` bytes) once, measuring peak RSS growth over the RSS just before."""
    import asyncio
    import gc
    import hashlib
    import tempfile

    ensure_importable()
    import httpx

    from tokenhot_nb._config import Settings
    from tokenhot_nb.client import Client

    base = url.split("/sim/", 1)[0]

    async def run(dest: Path) -> dict[str, Any]:
        client = Client(Settings(mode="live", base_url=base, api_key=BENCH_KEY))
        bare = httpx.AsyncClient(timeout=300)

        async def once(target: str, out: Path) -> tuple[int, str]:
            if kind == "tokenhot":
                d = await client.download(target, out, max_bytes=size + 1)
                got, digest = d.size, d.sha256
                d.path.unlink()
                return got, digest
            h = hashlib.sha256()
            got = 0
            tmp = out / "bare.part"
            async with bare.stream("GET", target) as r:
                r.raise_for_status()
                with open(tmp, "wb") as f:
                    async for chunk in r.aiter_bytes(256 * 1024):
                        f.write(chunk)
                        h.update(chunk)
                        got += len(chunk)
            tmp.unlink()
            return got, h.hexdigest()

        await once(url.rsplit("/", 1)[0] + "/65536", dest)  # warm up: imports, pool, first connection
        gc.collect()
        rss_before = status_kib("VmRSS") or 0
        exact = reset_peak_rss()
        before_peak = peak_rss_kib()
        t0 = time.perf_counter()
        got, digest = await once(url, dest)
        elapsed = time.perf_counter() - t0
        peak = peak_rss_kib()
        await client.aclose()
        await bare.aclose()
        growth = peak - rss_before if exact else max(0, peak - before_peak)
        return {"kind": kind, "size": got, "sha256": digest, "seconds": elapsed, "rss_before_kib": rss_before,
                "peak_kib": peak, "growth_kib": growth, "exact_peak": exact}

    with tempfile.TemporaryDirectory(prefix="tokenhot-bench-") as tmp:
        result = asyncio.run(run(Path(tmp)))
        result["left_behind"] = len(list(Path(tmp).iterdir()))
    print(json.dumps(result), flush=True)
    return 0 if result["size"] == size else 1


def measure_download(kind: str, url: str, size: int) -> dict[str, Any]:
    """Run one download in a fresh child process (pinned off the server core) and return its figures."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "download", kind, url, str(size)],
        capture_output=True, text=True, env=child_env(), timeout=600,
    )  # the child inherits this process's CPU affinity (off the server core after pin_client())
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} download child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- statistics and the table


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def rotations(names: Sequence[str], rounds: int) -> list[list[str]]:
    """Interleaved orders (A B C, B C A, C A B, …) so drift and warm-up hit every subject alike."""
    n = len(names)
    return [[names[(r + i) % n] for i in range(n)] for r in range(rounds)]


@dataclass
class Row:
    name: str  # stable label; tests look for it
    subject: str
    baseline: str
    ratio: str
    target: str
    ok: bool | None  # None: informational, no target

    @property
    def result(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "FAIL")


def render(rows: Sequence[Row]) -> str:
    head = ("benchmark", "subject (tokenhot_nb)", "baseline (same run)", "ratio", "target", "result")
    cells = [head, *((r.name, r.subject, r.baseline, r.ratio, r.target, r.result) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]

    def line(c: Sequence[str]) -> str:
        return "| " + " | ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(c) for c in cells[1:])])


def fmt_rate(per_s: float) -> str:
    return f"{per_s / 1000:,.1f}k/s" if per_s >= 1000 else f"{per_s:,.0f}/s"


def fmt_s(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:,.2f} ms"
    return f"{seconds:,.2f} s"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:,.1f} MiB"


# ----------------------------------------------------------------------------- spreads (issue #13)


def spread(values: Sequence[float], fmt: Any = None) -> str:
    """``min / median / max`` of a figure, formatted (seconds by default)."""
    f = fmt or fmt_s
    v = sorted(values)
    return f"{f(v[0])} / {f(statistics.median(v))} / {f(v[-1])}"


def ratio_spread(ratios: Sequence[float]) -> str:
    """``median× (min–max)`` of per-round ratios."""
    v = sorted(ratios)
    return f"{statistics.median(v):.2f}× ({v[0]:.2f}–{v[-1]:.2f})"


@dataclass
class Timing:
    """Per-call wall and CPU seconds, one value per round (each the mean of that round's calls)."""

    wall: list[float]
    cpu: list[float]


def interleaved(subjects: dict[str, Any], rounds: int, calls: int, warmup: int = 10) -> dict[str, Timing]:
    """Run each subject (a no-argument callable making one call) ``warmup`` times, then ``rounds`` rounds of
    ``calls`` calls in rotated order (A B, B A, …); per round, the mean wall and CPU seconds per call.

    CPU is ``time.process_time()``: the whole process (its background event-loop thread included), so a
    server in another process does not count.
    """
    for fn in subjects.values():
        for _ in range(warmup):
            fn()
    out = {name: Timing([], []) for name in subjects}
    for order in rotations(list(subjects), rounds):
        for name in order:
            fn = subjects[name]
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(calls):
                fn()
            t1, c1 = time.perf_counter(), time.process_time()
            out[name].wall.append((t1 - t0) / calls)
            out[name].cpu.append((c1 - c0) / calls)
    return out


def ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Per-round ratios of two interleaved series."""
    return [x / y for x, y in zip(a, b, strict=True) if y > 0]


def machine() -> str:
    """What the figures ran on: CPU model and count, Python, and the load when asked (the machine may be shared)."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        one, five, fifteen = os.getloadavg()
        load = f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"
    except OSError:
        load = "load unknown"
    return (f"{os.cpu_count()} CPUs ({model or 'unknown model'}), Python {sys.version.split()[0]}, "
            f"{load} at the start")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "parse":
        raise SystemExit(_parse_main())
    if cmd == "replay" and len(sys.argv) >= 3:
        raise SystemExit(_replay_main(sys.argv[2], "--coalesce" in sys.argv[3:]))
    if cmd == "download" and len(sys.argv) == 5:
        raise SystemExit(_download_main(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    print(__doc__, file=sys.stderr)
    raise SystemExit(2)
