"""``python -m tokenhot_nb.sim.probe``: the same requests to the live service and to the simulator, and every
difference in status, content type, JSON shape, a few telling values and stream framing.

The simulator is written from the reference, and the client is tested against it; this is how both learn what
the service really answers, for a maintainer with a key. The free probes (the public tables, the key's models
and balance, error answers: none of them billed) run by default; ``--paid`` adds a chat call capped at a few
tokens and its stream. The key is read from ``TOKENHOT_API_KEY`` only (an argument would stay in ``ps`` and the
shell's history), is sent to the live host only, and is redacted from everything printed or saved. The probe's
requests are written here from the wire format, not by the client's builders, so a shared mistake shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from .._config import DEFAULT_BASE_URL, redact

Auth = Literal["key", "none", "wrong"]
#: A key no relay issues (``!`` is outside every token alphabet): its refusal is an error answer, never a charge.
WRONG_KEY = "sk-tokenhot-nb-probe!not-a-key"
#: A model no relay serves: its refusal comes before any channel is asked, so it is never billed.
NO_MODEL = "tokenhot-nb-probe-no-such-model"
#: Answers longer than this are not read further (a probe compares shapes; a hostile host gets no memory).
CAP = 8 * 1024 * 1024
#: Stream events read at most.
MAX_EVENTS = 2000
#: Where a value is as telling as its type (an error's code, a stream's end): compared, not only typed.
VALUE_PATHS = frozenset({"error.type", "error.code", "code", "object", "success", "type", "ends_with_done",
                         "event_names[]", "frames[].type", "frames[].object", "choices[].finish_reason",
                         "data[].object"})
#: Objects whose keys are data (group names, endpoint names): their keys are read as one ``*``.
MAPS = frozenset({"group_ratio", "supported_endpoint", "usable_group", "data.usable_group"})


@dataclass(frozen=True)
class Probe:
    """One request, written from the reference (the section it checks is in ``why``)."""

    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    auth: Auth = "key"
    paid: bool = False
    why: str = ""


#: The model each route's paid probes name: a cheap one of the route's own protocol (``--model`` picks the chat
#: completions one).
MODELS = {"chat": "gpt-5.4-mini", "responses": "gpt-5.4-mini", "messages": "claude-sonnet-4-5-20250929",
          "gemini": "gemini-2.5-flash"}
_SAY = "Reply with the word OK."


def probes(chat_model: str = MODELS["chat"]) -> list[Probe]:
    """Every probe; ``chat_model`` is what the chat completions ones ask (a short reply, a few tokens)."""
    ask = {"model": chat_model, "messages": [{"role": "user", "content": _SAY}], "max_completion_tokens": 64}
    respond = {"model": MODELS["responses"], "input": _SAY, "max_output_tokens": 64}
    claude = {"model": MODELS["messages"], "max_tokens": 16, "messages": [{"role": "user", "content": _SAY}]}
    gemini = {"contents": [{"role": "user", "parts": [{"text": _SAY}]}], "generationConfig": {"maxOutputTokens": 64}}
    native = f"/v1beta/models/{MODELS['gemini']}"
    return [
        Probe("pricing", "GET", "/api/pricing", auth="none", why="§10.1 public price table"),
        Probe("status", "GET", "/api/status", auth="none", why="§10.1 quota_per_unit and price"),
        Probe("models", "GET", "/v1/models", why="§10.1 the key's models"),
        Probe("subscription", "GET", "/v1/dashboard/billing/subscription", why="§10.6 balance"),
        Probe("usage", "GET", "/v1/dashboard/billing/usage", why="§10.6 usage in cents"),
        Probe("no-key", "GET", "/v1/models", auth="none", why="§1.4 401 without a key"),
        Probe("wrong-key", "GET", "/v1/models", auth="wrong", why="§1.4 401 for a key no relay issued"),
        Probe("unknown-model", "POST", "/v1/chat/completions",
              {"model": NO_MODEL, "messages": [{"role": "user", "content": "hi"}]}, why="§1.4 / §10.5 no channel"),
        Probe("no-messages", "POST", "/v1/chat/completions", {"model": chat_model}, why="§2.1 a body it refuses"),
        Probe("messages-unknown-model", "POST", "/v1/messages", {**claude, "model": NO_MODEL},
              why="§2.3 / §10.5 the middleware's envelope on the Claude route"),
        Probe("gemini-unknown-model", "POST", f"/v1beta/models/{NO_MODEL}:generateContent", gemini,
              why="§2.4 / §10.5 the middleware's envelope on the Gemini route"),
        Probe("image-unknown-model", "POST", "/v1/images/generations", {"model": NO_MODEL, "prompt": "a dot"},
              why="§3.1 / §10.5 no channel for an image model"),
        Probe("video-unknown-model", "POST", "/v1/video/generations", {"model": NO_MODEL, "prompt": "a dot"},
              why="§4.1 / §10.5 no channel for a video model"),
        Probe("no-task", "GET", "/v1/video/generations/tokenhot-nb-probe-no-task", why="§10.3 404 on poll"),
        Probe("chat", "POST", "/v1/chat/completions", ask, paid=True, why="§2.1 answer and usage"),
        Probe("chat-stream", "POST", "/v1/chat/completions",
              {**ask, "stream": True, "stream_options": {"include_usage": True}}, paid=True, why="§2.1 / §7 stream"),
        Probe("responses", "POST", "/v1/responses", respond, paid=True, why="§2.2 Responses answer"),
        Probe("responses-stream", "POST", "/v1/responses", {**respond, "stream": True}, paid=True,
              why="§2.2 / §7 named events"),
        Probe("messages", "POST", "/v1/messages", claude, paid=True, why="§2.3 Claude answer"),
        Probe("messages-stream", "POST", "/v1/messages", {**claude, "stream": True}, paid=True,
              why="§2.3 / §7 Claude events"),
        Probe("gemini", "POST", f"{native}:generateContent", gemini, paid=True, why="§2.4 Gemini answer"),
        Probe("gemini-stream", "POST", f"{native}:streamGenerateContent?alt=sse", gemini, paid=True,
              why="§2.4 / §7 Gemini frames, no [DONE]"),
    ]


@dataclass
class Answer:
    """What one host answered: its status, media type and body (JSON, a stream summary, or text)."""

    status: int = 0
    media: str = ""
    body: Any = None
    failed: str = ""  # could not be asked or read (the one line why)


@dataclass
class Outcome:
    probe: Probe
    live: Answer
    sim: Answer
    differences: list[str] = field(default_factory=list)


def shape(value: Any, path: str = "") -> dict[str, set[str]]:
    """``{path: {type names}}`` for every value in ``value``: ``choices[].message.content`` → ``{"str"}``.

    A list's items are merged under ``[]``; the keys of an object in :data:`MAPS` under ``*``."""
    out: dict[str, set[str]] = {}
    _shape(value, path, out)
    return out


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    return "list" if isinstance(value, list) else "object"


def _printable(text: str) -> str:
    """``text`` as a terminal may show it: one with a control or format character (a terminal escape, a bidi
    override in a key the live host sent) is written escaped, as JSON writes it."""
    return text if text.isprintable() else json.dumps(text)[1:-1]


def _shape(value: Any, path: str, out: dict[str, set[str]]) -> None:
    out.setdefault(path or "$", set()).add(_type(value))
    if isinstance(value, dict):
        mapped = path in MAPS
        for key, item in value.items():
            name = "*" if mapped else _printable(str(key))
            _shape(item, f"{path}.{name}" if path else name, out)
    elif isinstance(value, list):
        for item in value:
            _shape(item, f"{path}[]", out)


def values(value: Any, path: str) -> set[str]:
    """Every value found at ``path`` (through lists), as JSON text."""
    found: set[str] = set()
    _values(value, [p for p in path.replace("[]", ".[]").split(".") if p], found)
    return found


def _values(value: Any, parts: list[str], found: set[str]) -> None:
    if not parts:
        if not isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False)
            found.add(text if text.isprintable() else json.dumps(value))  # (a control or bidi character: escaped)
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        for item in value if isinstance(value, list) else ():
            _values(item, rest, found)
    elif isinstance(value, dict) and head in value:
        _values(value[head], rest, found)


def compare(live: Answer, sim: Answer) -> list[str]:
    """The differences, one line each, live first (``only live`` is what the simulator should learn)."""
    if live.failed or sim.failed:
        return [f"{'live' if live.failed else 'simulator'} could not be read: {live.failed or sim.failed}"]
    diffs: list[str] = []
    if live.status != sim.status:
        diffs.append(f"status: live {live.status}, simulator {sim.status}")
    if live.media != sim.media:
        diffs.append(f"content type: live {live.media or '-'}, simulator {sim.media or '-'}")
    a, b = shape(live.body), shape(sim.body)
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            diffs.append(f"only live: {path} ({'|'.join(sorted(a[path]))})")
        elif path not in a:
            diffs.append(f"only simulator: {path} ({'|'.join(sorted(b[path]))})")
        elif a[path] != b[path]:
            diffs.append(f"type of {path}: live {'|'.join(sorted(a[path]))}, simulator {'|'.join(sorted(b[path]))}")
        elif path in VALUE_PATHS:
            va, vb = values(live.body, path), values(sim.body, path)
            if va != vb:
                diffs.append(f"value of {path}: live {', '.join(sorted(va))}, simulator {', '.join(sorted(vb))}")
    return diffs


def _headers(probe: Probe, key: str) -> dict[str, str]:
    if probe.auth == "none":
        return {}
    return {"Authorization": f"Bearer {WRONG_KEY if probe.auth == 'wrong' else key}"}


async def ask(client: httpx.AsyncClient, probe: Probe, key: str) -> Answer:
    """``probe`` sent through ``client``; the answer read within :data:`CAP` and :data:`MAX_EVENTS`."""
    try:
        async with client.stream(probe.method, probe.path, json=probe.body, headers=_headers(probe, key)) as r:
            media = _printable(r.headers.get("content-type", "").split(";")[0].strip().lower())
            if media == "text/event-stream":
                return Answer(r.status_code, media, await _events(r))
            data = bytearray()
            async for chunk in r.aiter_bytes():
                data += chunk
                if len(data) > CAP:
                    return Answer(r.status_code, media, failed=f"answer longer than {CAP // (1024 * 1024)} MiB")
            return Answer(r.status_code, media, _body(bytes(data)))
    except httpx.HTTPError as exc:
        return Answer(failed=_printable(f"{type(exc).__name__}: {exc}"))


def _body(data: bytes) -> Any:
    text = data.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return {"text": text[:200]} if text.strip() else None


async def _events(r: httpx.Response) -> dict[str, Any]:
    """A stream as what its framing says: the event names, each data frame's JSON, whether ``[DONE]`` ended it."""
    from httpx_sse import EventSource

    names: set[str] = set()
    frames: list[Any] = []
    done = False
    async for event in EventSource(r).aiter_sse():
        names.add(_printable(event.event or "message"))
        done = event.data.strip() == "[DONE]"
        if not done:
            frames.append(_body(event.data.encode()))
        if len(frames) >= MAX_EVENTS:
            break
    return {"event_names": sorted(names), "frames": frames, "ends_with_done": done}


async def run(live_url: str, key: str, chosen: Sequence[Probe], *,
              live_transport: httpx.AsyncBaseTransport | None = None) -> list[Outcome]:
    """Each probe to the live host and to the in-process simulator, one after the other."""
    from .transport import SimTransport

    timeout = httpx.Timeout(60.0, connect=15.0)
    async with httpx.AsyncClient(base_url=live_url, timeout=timeout, transport=live_transport) as live, \
            httpx.AsyncClient(base_url="http://simulator.invalid", timeout=timeout, transport=SimTransport()) as sim:
        outcomes = []
        for probe in chosen:
            a, b = await ask(live, probe, key), await ask(sim, probe, "sk-tokenhot-nb-probe")
            outcomes.append(Outcome(probe, a, b, compare(a, b)))
        return outcomes


def report(outcomes: Iterable[Outcome], key: str) -> str:
    """The differences, one probe a paragraph, with the key redacted from every line."""
    lines: list[str] = []
    outcomes = list(outcomes)
    for o in outcomes:
        mark = "ok  " if not o.differences else "DIFF"
        lines.append(f"{mark} {o.probe.name:<14} {o.probe.method} {o.probe.path}  ({o.probe.why})")
        lines.extend(f"       {d}" for d in o.differences)
    differ = sum(1 for o in outcomes if o.differences)
    lines.append(f"{len(outcomes)} probes, {differ} with differences.")
    return redact("\n".join(lines), key)


def save(outcomes: Iterable[Outcome], folder: Path, key: str) -> list[Path]:
    """Each live answer as JSON under ``folder`` (redacted), for the simulator and the reference to learn from."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for o in outcomes:
        record = {"probe": {"method": o.probe.method, "path": o.probe.path, "body": o.probe.body},
                  "live": {"status": o.live.status, "content_type": o.live.media, "body": o.live.body,
                           "failed": o.live.failed},
                  "differences": o.differences}
        path = folder / f"{o.probe.name}.json"
        path.write_text(redact(json.dumps(record, ensure_ascii=False, indent=1), key) + "\n", encoding="utf-8")
        written.append(path)
    return written


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tokenhot_nb.sim.probe", description=(
        "Send the same requests to the live service and to the simulator and list the differences. "
        "The key is read from TOKENHOT_API_KEY."))
    p.add_argument("--base-url", default=None, help=f"the live host (TOKENHOT_BASE_URL, else {DEFAULT_BASE_URL})")
    p.add_argument("--paid", action="store_true", help="also the paid probes: a reply of a few tokens on each chat "
                   "route (chat completions, Responses, Claude, Gemini), streamed and not; a fraction of a cent")
    p.add_argument("--model", default=None, help=f"the chat completions probes' model (default {MODELS['chat']})")
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these probes")
    p.add_argument("--save", type=Path, metavar="DIR", help="write each live answer (redacted) as DIR/NAME.json")
    p.add_argument("--list", action="store_true", help="list the probes and exit")
    return p


def main(argv: Sequence[str] | None = None, *, live_transport: httpx.AsyncBaseTransport | None = None) -> int:
    """0: no differences; 1: differences; 2: nothing could be probed (no key, unknown probe name)."""
    args = build_parser().parse_args(argv)
    every = probes(args.model or MODELS["chat"])
    if args.list:
        for p in every:
            print(f"{p.name:<14} {'paid' if p.paid else 'free'}  {p.method} {p.path}  ({p.why})")
        return 0
    known = {p.name for p in every}
    unknown = [n for n in args.only if n not in known]
    if unknown:
        print(f"Unknown probe {unknown[0]!r}; the probes are: {', '.join(sorted(known))}.", file=sys.stderr)
        return 2
    key = os.environ.get("TOKENHOT_API_KEY", "").strip()
    if not key:
        print("No key: set TOKENHOT_API_KEY to the key to probe with (it is read from there only).", file=sys.stderr)
        return 2
    chosen = [p for p in every if (not p.paid or args.paid) and (not args.only or p.name in args.only)]
    if not chosen:
        print(f"{args.only[0]!r} is a paid probe: add --paid to send it.", file=sys.stderr)
        return 2
    url = (args.base_url or os.environ.get("TOKENHOT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    outcomes = asyncio.run(run(url, key, chosen, live_transport=live_transport))
    print(report(outcomes, key))
    if args.save is not None:
        print(f"Saved {len(save(outcomes, args.save, key))} live answers under {args.save}.")
    return 1 if any(o.differences for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
