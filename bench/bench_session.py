"""Session benchmarks (issues #3, #13): the front door against the openai SDK and the bare client, thread cost
as a conversation grows, streaming through the session, batches, and offline memory.

The simulator runs as ``python -m tokenhot_nb.sim`` in its own process (pinned away from the benchmark when
there are two or more cores), so its CPU never counts against the client. Subjects and baselines are
interleaved (A B, B A, …) after a warm-up of 10 calls each; every figure is printed as min / median / max over
the rounds (each round the mean of its calls), and ratios are per-round ratios.

    python bench/bench_session.py           # full run (a few minutes); exit 1 if a target is missed
    python bench/bench_session.py --quick   # small sizes, a smoke test; the exit code ignores the figures

Rows (stable labels):
  front door vs openai SDK sync     Session.chat(q, stream=False), default thread, vs OpenAI().chat.completions
                                    .create with the same growing conversation kept by hand (wall; CPU beside it)
  front door (thread=False) vs SDK  Session.chat(q, stream=False, thread=False) vs OpenAI(...).create (sync)
  front door vs openai SDK async    the same vs AsyncOpenAI(...).create, awaited on a persistent event loop
  chat call recorded vs bare        Session.chat(q, stream=False, thread=False) vs the same chat.build +
                                    Client.send_sync + chat.parse with no recording (both in the client's
                                    blocking lane): wall and CPU
  recording's SQL alone vs bare     the bare call plus the statements a recorded call runs, issued by raw
                                    sqlite3 with nothing around them (the same rows, schema, triggers and
                                    connection settings): the floor under the row above (info)
  recording's SQL, one write, vs bare  the same if a call's row were written only once it ends (no ``running``
                                    row: one commit holding the finished row, its artifact and the full-text
                                    queue): the floor of the design the store does not use (info)
  thread turn 400 vs turn 10        per-call wall and CPU of a long thread's turns 351–400 vs a short thread's
                                    turns 6–15, call by call interleaved, 5 rounds of 10
  thread turn 400 vs turn 10, httpx the same two conversations' bodies, pre-encoded, over raw httpx: what the
                                    wire and the server cost at turn 400 whatever the client (info)
  thread turn 400 vs turn 10, parse the same pre-encoded bodies over raw httpx to a server that only reads and
                                    parses them (uvicorn, as the simulator): the wire and a JSON parser (info)
  thread turn 400 vs turn 10, sdk   the same two conversations through the openai SDK, kept by hand (info)
  thread store at turn 400          bytes of all rows after 400 turns vs 400 × the bytes of turn 10's row
  chat stream: session vs client    Session.chat(q, thread=False) (streaming, the default) vs Client.stream +
                                    chat.parse_event + accumulate, one event per chunk as the simulator sends
  chat stream: front door vs SDK    the same vs OpenAI(...).create(stream=True) iterated for the text (sync,
                                    and async on a persistent loop): the default call against the SDK's
  image call recorded vs bare       Session.image (gpt-image-2; stored) vs build + send + parse + download
  batch of 64 images vs one         Session.image([64 prompts], concurrency=16) at latency=0.25 s vs one call
  batch of 64, bare client          the same 64 with an asyncio.Semaphore and no session (info)
  offline RSS, 500 images vs 50     a fresh process making offline image calls (default model, 2048²): VmRSS
                                    after 500 minus after 50, each once the thumbnails started are written
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # bench/ is not a package: imported from its folder
    BENCH_KEY,
    ParseServer,
    Row,
    SimProcess,
    Timing,
    child_env,
    ensure_importable,
    fmt_s,
    interleaved,
    machine,
    median,
    pin_client,
    ratio_spread,
    ratios,
    render,
    spread,
)

ensure_importable()

from tokenhot_nb import Session, catalog  # noqa: E402
from tokenhot_nb.client import run_sync  # noqa: E402
from tokenhot_nb.families import chat, images  # noqa: E402

CHAT_MODEL = "gpt-5.4-mini"
IMAGE_MODEL = "gpt-image-2"
BATCH_MODEL, BATCH_SIZE = "dall-e-2", "256x256"
WARMUP = 10  #: calls of each subject before timing (2 in --quick)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.1f} MiB"


def front_door_rows(url: str, tmp: Path, rounds: int, calls: int) -> list[Row]:
    """The session's chat against the openai SDK (sync and async) and against the bare client."""
    from openai import AsyncOpenAI, OpenAI

    s = Session(api_key=BENCH_KEY, base_url=url, mode="live", store=tmp / "front")
    info = catalog.model(CHAT_MODEL)
    client = s.client
    sdk = OpenAI(api_key=BENCH_KEY, base_url=f"{url}/v1", max_retries=0)
    asdk = AsyncOpenAI(api_key=BENCH_KEY, base_url=f"{url}/v1", max_retries=0)
    aloop = asyncio.new_event_loop()
    n = iter(range(10**9))
    sdk_thread: list[dict[str, str]] = []  # what an SDK user keeps by hand for a conversation

    def session_thread() -> Any:
        return s.chat(f"q {next(n)}", model=CHAT_MODEL, stream=False)

    def sdk_thread_call() -> Any:
        sdk_thread.append({"role": "user", "content": f"q {next(n)}"})
        r = sdk.chat.completions.create(model=CHAT_MODEL, messages=sdk_thread)  # type: ignore[arg-type]
        sdk_thread.append({"role": "assistant", "content": r.choices[0].message.content or ""})
        return r

    def session_lone() -> Any:
        return s.chat(f"q {next(n)}", model=CHAT_MODEL, stream=False, thread=False)

    def sdk_sync() -> Any:
        return sdk.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": f"q {next(n)}"}])

    def sdk_async() -> Any:
        return aloop.run_until_complete(
            asdk.chat.completions.create(model=CHAT_MODEL, messages=[{"role": "user", "content": f"q {next(n)}"}]))

    def bare_chat() -> Any:  # the client's sync facade: the same blocking lane as the session's call
        call = chat.build(info, [{"role": "user", "content": f"q {next(n)}"}])
        return chat.parse(info, "chat.completions", client.send_sync(call).json())

    floor = _SqlFloor(s, tmp / "floor")

    def floor_chat() -> Any:
        call = chat.build(info, [{"role": "user", "content": f"q {next(n)}"}])
        row = floor.begin(call)
        reply = chat.parse(info, "chat.completions", client.send_sync(call).json())
        floor.finish(row, reply.text)
        return reply

    def floor_once() -> Any:
        call = chat.build(info, [{"role": "user", "content": f"q {next(n)}"}])
        reply = chat.parse(info, "chat.completions", client.send_sync(call).json())
        floor.once(call, reply.text)
        return reply

    t = interleaved({"session": session_thread, "sdk": sdk_thread_call}, rounds, calls, WARMUP)
    rows = [_pair_row("front door vs openai SDK sync", t["session"], t["sdk"], "openai sync", 1.0,
                      note=f"(a thread, turns 1–{(rounds + 1) * calls * 2})")]
    t = interleaved({"session": session_lone, "sdk": sdk_sync, "asdk": sdk_async, "bare": bare_chat,
                     "floor": floor_chat, "once": floor_once}, rounds, calls, WARMUP)
    rows.append(_pair_row("front door (thread=False) vs SDK", t["session"], t["sdk"], "openai sync", 1.0))
    rows.append(_pair_row("front door vs openai SDK async", t["session"], t["asdk"], "openai async", 1.0))
    rows.append(_pair_row("chat call recorded vs bare", t["session"], t["bare"], "bare client", 1.25))
    rows.append(_pair_row("recording's SQL alone vs bare", t["floor"], t["bare"], "bare client", None,
                          note=f"(bare + raw SQL; vs openai sync: CPU {ratio_spread(ratios(t['floor'].cpu, t['sdk'].cpu))})"))
    rows.append(_pair_row("recording's SQL, one write, vs bare", t["once"], t["bare"], "bare client", None,
                          note="(bare + one commit, no running row)"))
    floor.close()
    s.close()
    sdk.close()
    aloop.run_until_complete(asdk.close())
    aloop.close()
    return rows


def _pair_row(name: str, subj: Any, base: Any, base_name: str, target: float | None, note: str = "") -> Row:
    wall, cpu = ratios(subj.wall, base.wall), ratios(subj.cpu, base.cpu)
    ok = None if target is None else median(wall) <= target and median(cpu) <= target
    log(f"{name}: wall {ratio_spread(wall)}, cpu {ratio_spread(cpu)}")
    return Row(name, f"{spread(subj.wall)}/call, CPU {spread(subj.cpu)} {note}".rstrip(),
               f"{base_name} {spread(base.wall)}, CPU {spread(base.cpu)}",
               f"wall {ratio_spread(wall)}; CPU {ratio_spread(cpu)}",
               "info" if target is None else f"≤ {target:.2f}× (wall and CPU)", ok)


class _SqlFloor:
    """What recording a chat call costs in SQL alone: the statements the store runs for one call (a ``running``
    row before the request; after it, the answer's inline artifact row and the row finished, in one commit; the
    full-text queue indexed every 32 ended rows), issued by raw ``sqlite3`` on a store of the same schema and
    triggers, with the values the session's own last row holds. No redaction, encoding or objects around them.
    :meth:`once` is the same with no ``running`` row: the floor of writing a call's row only once it ends.
    """

    def __init__(self, session: Session, root: Path) -> None:
        import sqlite3

        from tokenhot_nb.history import Store, _schema

        self.batch, self.index_sql = _schema.FTS_BATCH, _schema.INDEX_PENDING  # the store's own batch and statement

        session.chat("the row the floor copies", model=CHAT_MODEL, stream=False, thread=False)
        src = session.store.connection()
        self.cols = [str(r[1]) for r in src.execute("PRAGMA table_info(entries)") if r[1] != "id"]
        names = ", ".join(self.cols)
        self.template = dict(zip(self.cols, src.execute(f"SELECT {names} FROM entries ORDER BY id DESC LIMIT 1")
                                 .fetchone(), strict=True))
        made = Store(root)  # the schema, indexes and triggers, made by the store itself
        made.count()
        made.close()
        self.db = sqlite3.connect(root / "history.sqlite", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        for pragma in ("synchronous", "wal_autocheckpoint", "cache_size"):  # the store's own connection settings
            self.db.execute(f"PRAGMA {pragma}={src.execute(f'PRAGMA {pragma}').fetchone()[0]}")
        self.insert = f"INSERT INTO entries ({names}) VALUES ({', '.join('?' * len(self.cols))})"
        self.n = 0
        self.ended = 0

    def _running(self, call: Any) -> dict[str, Any]:
        self.n += 1
        return {**self.template, "status": "running", "text": f"q {self.n}", "replay_key": f"{self.n:064x}",
                "started": time.time(), "request": json.dumps(call.describe()), "response": "{}", "usage": "{}",
                "outputs": "[]", "duration": None}

    def begin(self, call: Any) -> int:
        values = self._running(call)
        self.db.execute("BEGIN IMMEDIATE")
        row = int(self.db.execute(self.insert, [values[c] for c in self.cols]).lastrowid or 0)
        self.db.execute("COMMIT")
        return row

    def finish(self, row: int, text: str) -> None:
        t = self.template
        self.db.execute("BEGIN IMMEDIATE")
        self._artifact(text)
        self.db.execute("UPDATE entries SET status='ok', duration=?, response=?, usage=?, outputs=?, text=?, "
                        "updated=? WHERE id=?", (0.001, t["response"], t["usage"], t["outputs"],
                                                 f"q {self.n}\n\n{text}", time.time(), row))
        self._queued()
        self.db.execute("COMMIT")

    def once(self, call: Any, text: str) -> None:
        """The row written only once the call has ended: one commit, no ``running`` row before the request."""
        t = self.template
        values = {**self._running(call), "status": "ok", "duration": 0.001, "response": t["response"],
                  "usage": t["usage"], "outputs": t["outputs"], "updated": time.time()}
        values["text"] = f"{values['text']}\n\n{text}"
        self.db.execute("BEGIN IMMEDIATE")
        self._artifact(text)
        self.db.execute(self.insert, [values[c] for c in self.cols])
        self._queued()
        self.db.execute("COMMIT")

    def _artifact(self, text: str) -> None:
        import hashlib

        data = text.encode()
        self.db.execute("INSERT INTO artifacts(sha256, mime, size, name, suffix, created, data) "
                        "VALUES (?,?,?,?,?,?,?) ON CONFLICT(sha256) DO NOTHING",
                        (hashlib.sha256(data).hexdigest(), "text/plain", len(data), "", ".txt", time.time(), data))

    def _queued(self) -> None:
        """One more ended row in the full-text queue (the trigger queued it); the batch indexed when full."""
        self.ended += 1
        if self.ended >= self.batch:
            self.db.execute(self.index_sql)
            self.db.execute("DELETE FROM fts_pending")
            self.ended = 0

    def close(self) -> None:
        self.db.close()


def thread_rows(url: str, parser: str, tmp: Path, turns: int, rounds: int, window: int = 10) -> list[Row]:
    """One long thread's last turns against a short thread's turns 6–15, interleaved call by call; the same
    two conversations through the openai SDK and as pre-encoded bodies over raw httpx (the wire's own cost);
    and how the store grows."""
    import httpx
    from openai import OpenAI

    s = Session(api_key=BENCH_KEY, base_url=url, mode="live", store=tmp / "thread")
    info = catalog.model(CHAT_MODEL)
    sdk = OpenAI(api_key=BENCH_KEY, base_url=f"{url}/v1", max_retries=0)
    auth = {"Authorization": f"Bearer {BENCH_KEY}", "Content-Type": "application/json"}
    raw = httpx.Client(base_url=url, headers=auth)
    parse = httpx.Client(base_url=parser, headers=auth)
    q = "question {}: what about the lighthouse?"
    start = max(15, turns - rounds * window)
    sdk_long: list[dict[str, str]] = []
    for i in range(start):  # the long thread, up to the first measured turn (the SDK's twin grown alike)
        s.chat(q.format(i), model=CHAT_MODEL, stream=False, thread="long")
        _sdk_turn(sdk, sdk_long, q.format(i))
        if (i + 1) % 100 == 0:
            log(f"thread: long thread at turn {i + 1}")
    conn = s.store.connection()
    one = conn.execute(f"SELECT {_ROW_BYTES} FROM entries WHERE thread='long' ORDER BY id LIMIT 1 OFFSET 9"
                       ).fetchone()[0]
    names = ("session", "sdk", "httpx", "parse")
    late: dict[str, Timing] = {n: Timing([], []) for n in names}
    early: dict[str, Timing] = {n: Timing([], []) for n in names}
    n = start
    if turns - start < window:
        raise SystemExit(f"--turns {turns} is too short for the thread rows (at least {start + window})")
    for r in range((turns - start) // window):
        sdk_short: list[dict[str, str]] = []
        for j in range(5):  # a fresh short thread, turns 1–5 unmeasured
            s.chat(q.format(j), model=CHAT_MODEL, stream=False, thread="short", new_thread=j == 0)
            _sdk_turn(sdk, sdk_short, q.format(j))
        acc = {(k, n_): [0.0, 0.0] for k in ("late", "early") for n_ in names}
        for j in range(5, 5 + window):
            for which, thread, conv, i in (("late", "long", sdk_long, n), ("early", "short", sdk_short, j)):
                text = q.format(i)
                body = _encoded(chat.build(info, [*s.threads[thread].messages, {"role": "user", "content": text}]))
                for name, fn in (
                        ("session", lambda t=text, th=thread: s.chat(t, model=CHAT_MODEL, stream=False, thread=th)),
                        ("sdk", lambda t=text, c=conv: _sdk_turn(sdk, c, t)),
                        ("httpx", lambda b=body: raw.post("/v1/chat/completions", content=b).json()),
                        ("parse", lambda b=body: parse.post("/v1/chat/completions", content=b).json())):
                    c0, t0 = time.process_time(), time.perf_counter()
                    fn()
                    acc[(which, name)][0] += time.perf_counter() - t0
                    acc[(which, name)][1] += time.process_time() - c0
            n += 1
        for (which, name), (w, c) in acc.items():
            t = (late if which == "late" else early)[name]
            t.wall.append(w / window)
            t.cpu.append(c / window)
        log(f"thread round {r}: turns {n - window + 1}–{n}: session {late['session'].wall[-1] * 1e3:.1f} ms vs "
            f"{early['session'].wall[-1] * 1e3:.1f} ms at turns 6–15")
    wire = _gzip_row(info, s.threads["long"].messages, n, window)
    sizes = [row[0] for row in conn.execute(f"SELECT {_ROW_BYTES} FROM entries WHERE thread='long' ORDER BY id")]
    total = sum(sizes)
    s.close()
    sdk.close()
    raw.close()
    parse.close()
    lo = start + 1
    sess_w, sess_c = ratios(late["session"].wall, early["session"].wall), ratios(late["session"].cpu,
                                                                                 early["session"].cpu)
    floor = ratios(late["httpx"].wall, early["httpx"].wall)
    rows = [Row(f"thread turn {turns} vs turn 10",
                f"turns {lo}–{n}: {spread(late['session'].wall)}, CPU {spread(late['session'].cpu)}",
                f"turns 6–15: {spread(early['session'].wall)}, CPU {spread(early['session'].cpu)}",
                f"wall {ratio_spread(sess_w)} (the wire alone: {ratio_spread(floor)}); CPU {ratio_spread(sess_c)}",
                "≤ 1.20× (wall and CPU)", median(sess_w) <= 1.2 and median(sess_c) <= 1.2)]
    for name, label in (("httpx", "raw httpx, same bodies pre-encoded (the wire's own cost)"),
                        ("parse", "the same bodies to a server that only reads and parses them"),
                        ("sdk", "openai SDK sync, the same conversations")):
        w, c = ratios(late[name].wall, early[name].wall), ratios(late[name].cpu, early[name].cpu)
        rows.append(Row(f"thread turn {turns} vs turn 10, {name}",
                        f"{label}: turns {lo}–{n} {spread(late[name].wall)}, CPU {spread(late[name].cpu)}",
                        f"turns 6–15: {spread(early[name].wall)}, CPU {spread(early[name].cpu)}",
                        f"wall {ratio_spread(w)}; CPU {ratio_spread(c)}", "info", None))
    rows.append(wire)
    rows.append(Row(f"thread store at turn {turns}", f"{total:,} bytes in {len(sizes)} rows",
                    f"{len(sizes)} × turn 10's row ({one:,} bytes) = {len(sizes) * one:,}",
                    f"{total / (len(sizes) * one):.2f}×", "≤ 1.20×", total <= 1.2 * len(sizes) * one))
    return rows


def _gzip_row(info: Any, messages: list[dict[str, Any]], turns: int, window: int) -> Row:
    """What the long thread's last turns put on a real link: their bodies as JSON vs gzip-compressed as the client
    sends them beyond this machine (``compress_requests="auto"``; on loopback they go as they are), and the CPU of
    compressing each from the state kept at the turn before vs the whole body again."""
    import zlib

    from tokenhot_nb.client._compress import LEVEL, Gzip

    prefix = chat.Prefix()
    first = 2 * (turns - window)  # the window's first turn: its user message's index
    calls = [chat.build(info, messages[: first + 2 * k + 1], prefix=prefix) for k in range(window)]
    g = Gzip()
    kept: list[float] = []
    whole: list[float] = []
    sizes: list[tuple[int, int]] = []
    for call in calls:
        body = call.encoded or _encoded(call)
        t0 = time.process_time()
        out = g.compress(body, call.stable)
        kept.append(time.process_time() - t0)
        t0 = time.process_time()
        c = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
        c.compress(body)
        c.flush()
        whole.append(time.process_time() - t0)
        sizes.append((len(out), len(body)))
    gz, plain = sizes[-1]
    return Row(f"thread turn {turns} request, gzip",
               f"{gz:,} bytes gzip; compressing from the kept state {spread(kept[1:])} a turn",
               f"{plain:,} bytes as JSON; the whole body compressed again {spread(whole[1:])}",
               f"{gz / plain:.2f}× the bytes; CPU {ratio_spread([k / w for k, w in zip(kept[1:], whole[1:], strict=True)])}",
               "info", None)


#: What one history row holds, in bytes (the columns that can grow, plus a fixed allowance for the rest).
_ROW_BYTES = ("length(params) + length(request) + length(response) + length(usage) + length(outputs) "
              "+ length(text) + length(replay_key) + 64")


def _sdk_turn(sdk: Any, conv: list[dict[str, str]], text: str) -> Any:
    """One turn of a conversation an SDK user keeps by hand."""
    conv.append({"role": "user", "content": text})
    r = sdk.chat.completions.create(model=CHAT_MODEL, messages=conv)
    conv.append({"role": "assistant", "content": r.choices[0].message.content or ""})
    return r


def _encoded(call: Any) -> bytes:
    return json.dumps(call.json, ensure_ascii=False, separators=(",", ":")).encode()


def stream_rows(sim: SimProcess, url: str, tmp: Path, rounds: int, calls: int, chunks: int) -> list[Row]:
    """A streamed chat through the session against the bare client's stream of the same call."""
    sim.set_faults(stream_chunks=chunks)
    s = Session(api_key=BENCH_KEY, base_url=url, mode="live", store=tmp / "stream")
    info = catalog.model(CHAT_MODEL)
    client = s.client
    n = iter(range(10**9))

    async def bare() -> str:
        call = chat.build(info, [{"role": "user", "content": f"q {next(n)}"}], stream=True)
        acc = chat.Accumulator()
        events = await client.stream(call)
        try:
            async for ev in events:
                delta = chat.parse_event(call.stream or "chat", ev.data)
                acc.add(delta)
                if delta.done:
                    break
        finally:
            await events.aclose()
        return acc.text

    from openai import AsyncOpenAI, OpenAI

    sdk = OpenAI(api_key=BENCH_KEY, base_url=f"{url}/v1", max_retries=0)
    asdk = AsyncOpenAI(api_key=BENCH_KEY, base_url=f"{url}/v1", max_retries=0)
    aloop = asyncio.new_event_loop()

    def sdk_stream() -> str:  # what the SDK's docs show: iterate the chunks, keep the text
        parts = []
        for chunk in sdk.chat.completions.create(model=CHAT_MODEL, stream=True,
                                                 messages=[{"role": "user", "content": f"q {next(n)}"}]):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        return "".join(parts)

    async def asdk_stream() -> str:
        parts = []
        async for chunk in await asdk.chat.completions.create(
                model=CHAT_MODEL, stream=True, messages=[{"role": "user", "content": f"q {next(n)}"}]):
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
        return "".join(parts)

    t = interleaved({"session": lambda: s.chat(f"q {next(n)}", model=CHAT_MODEL, thread=False),
                     "client": lambda: run_sync(bare()), "sdk": sdk_stream,
                     "asdk": lambda: aloop.run_until_complete(asdk_stream())}, rounds, calls, WARMUP)
    sim.set_faults()
    s.close()
    sdk.close()
    aloop.run_until_complete(asdk.close())
    aloop.close()
    note = f"({chunks} chunks)"
    return [_pair_row("chat stream: session vs client", t["session"], t["client"], "Client.stream", 1.2, note=note),
            _pair_row("chat stream: front door vs SDK sync", t["session"], t["sdk"], "openai sync stream", 1.0,
                      note=note),
            _pair_row("chat stream: front door vs SDK async", t["session"], t["asdk"], "openai async stream", 1.0,
                      note=note)]


def image_rows(url: str, tmp: Path, rounds: int, calls: int) -> list[Row]:
    s = Session(api_key=BENCH_KEY, base_url=url, mode="live", store=tmp / "image")
    client = s.client
    info = catalog.model(IMAGE_MODEL)
    n = iter(range(10**9))

    async def bare_image() -> Any:
        call = images.build_generate(info, f"p {next(n)}", size="1024x1024")
        reply = images.parse(info, (await client.send(call)).json())
        for ref in reply.images:  # the user needs the image either way: fetch it (the session stores it)
            if ref.url:
                dl = await client.download(ref.url, tmp / "bare")
                dl.path.unlink()
        return reply

    t = interleaved({"session": lambda: s.image(f"p {next(n)}", model=IMAGE_MODEL, size="1024x1024",
                                                progress=False),
                     "bare": lambda: run_sync(bare_image())}, rounds, calls, warmup=3)
    s.close()
    rec, bare = t["session"], t["bare"]
    added = median(rec.wall) - median(bare.wall)
    return [Row("image call recorded vs bare", f"{spread(rec.wall)}/call", f"{spread(bare.wall)}/call",
                f"{ratio_spread(ratios(rec.wall, bare.wall))} (+{fmt_s(max(0.0, added))}; includes the thumbnail)",
                "info", None)]


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
    one, many = median(singles), median(batches)
    ideal = -(-n // concurrency)
    return [
        Row(f"batch of {n} images vs one", f"{n} at concurrency {concurrency}: {spread(batches)}",
            f"one call: {spread(singles)}", f"{ratio_spread(ratios(batches, singles))} (ideal {ideal}×)", "≤ 5×",
            many / one <= 5.0),
        Row(f"batch of {n}, bare client", f"session batch: {spread(batches)}", f"bare client batch: {spread(bares)}",
            ratio_spread(ratios(batches, bares)), "info", None),
    ]


_RSS_CHILD = r"""
import gc, json, sys, tempfile
from tokenhot_nb import Session
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
first, total = int(sys.argv[1]), int(sys.argv[2])
with tempfile.TemporaryDirectory(prefix="th-bench-rss-") as d:
    s = Session(mode="offline", store=d)
    marks = {}
    for i in range(total):
        s.image(f"a lighthouse at dusk, take {i}", progress=False)
        if i + 1 in (first, total):
            s.store.wait_thumbnails()  # what the process keeps, not a thumbnail still being made
            gc.collect()
            marks[i + 1] = rss()
    model = s.history.last.model
    s.close()
print(json.dumps({"first": marks[first], "last": marks[total], "model": model}))
"""


def memory_rows(first: int, total: int) -> list[Row]:
    env = child_env()
    env.pop("TOKENHOT_API_KEY", None)
    proc = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(first), str(total)], capture_output=True,
                          text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"RSS child failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    growth = out["last"] - out["first"]
    return [Row(f"offline RSS, {total} images vs {first}", f"after {total}: {_mib(out['last'])}",
                f"after {first}: {_mib(out['first'])} ({out['model']})", f"+{_mib(growth)}", "≤ +20 MiB",
                growth <= 20 * 1024)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes; a smoke test")
    ap.add_argument("--turns", type=int, default=None, help="turns of the thread row (default 400; quick 40)")
    ap.add_argument("--store-dir", type=Path, default=Path(tempfile.gettempdir()),
                    help="where the sessions' history stores are made (a temporary folder inside it, deleted "
                    "after); default: the system's temporary folder")
    args = ap.parse_args()
    global WARMUP
    WARMUP = 2 if args.quick else 10
    where = pin_client()
    log(f"benchmark on {where}")
    rounds, calls = (2, 3) if args.quick else (9, 20)
    turns = args.turns or (40 if args.quick else 400)
    n, conc, latency = (8, 4, 0.05) if args.quick else (64, 16, 0.25)
    header = (f"tokenhot_nb session benchmarks ({'quick' if args.quick else 'full'} run), {machine()}; {where}; "
              f"simulator in its own process; stores under {args.store_dir}")
    t_start = time.perf_counter()
    with SimProcess() as sim, tempfile.TemporaryDirectory(prefix=".th-bench-session-", dir=args.store_dir) as d:
        tmp = Path(d)
        log(f"simulator at {sim.url}")
        rows = front_door_rows(sim.url, tmp, rounds, calls)
        with ParseServer() as parser:
            rows.extend(thread_rows(sim.url, parser.url, tmp, turns, 2 if args.quick else 5))
        rows.extend(stream_rows(sim, sim.url, tmp, rounds, calls, 20 if args.quick else 200))
        rows.extend(image_rows(sim.url, tmp, rounds, max(2, calls // 4)))
        rows.extend(batch_rows(sim, tmp, n, conc, latency, 2 if args.quick else 5))
    rows.extend(memory_rows(3, 8) if args.quick else memory_rows(50, 500))
    print(header)
    print(render(rows))
    missed = [r.name for r in rows if r.ok is False]
    print(f"{len(rows)} rows in {time.perf_counter() - t_start:.0f} s; missed: {', '.join(missed) or 'none'}")
    if not args.quick and missed:
        raise SystemExit(1)


if __name__ == "__main__":
    os.environ.pop("TOKENHOT_API_KEY", None)
    main()
