"""A kernel killed (SIGKILL: no ``finally``, no ``atexit``) in the middle of a call, in a real subprocess: what
was already paid for or received is in the history when the store is opened next, and the row says how to get
it back."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tokenhot_nb import Session
from tokenhot_nb.results import ImageResult

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-test-0123456789"

#: A session on the in-process simulator whose transport holds one kind of request forever (and says so on
#: stdout), so the parent kills the process at a known point of the call.
KILLED = textwrap.dedent(
    """
    import asyncio, sys
    import httpx
    from tokenhot_nb import Session

    root, what, url = sys.argv[1], sys.argv[2], sys.argv[3]

    class Held(httpx.AsyncBaseTransport):
        def __init__(self):
            self.net = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request):
            if what == "image" and request.url.path.startswith("/sim/files/"):
                print("downloading", flush=True)
                await asyncio.sleep(3600)
            if what == "stream":
                request.headers["X-Sim-Faults"] = '{"chunk_delay": 0.05, "stream_chunks": 400}'
            return await self.net.handle_async_request(request)

    s = Session(api_key="sk-test-0123456789", base_url=url, mode="live", store=root, transport=Held())
    s.models()
    if what == "image":
        s.image("a lighthouse at dusk", model="gpt-image-1.5")
    else:
        def watch(delta, text):
            if len(text) > 60:
                print("partial " + text.replace("\\n", " "), flush=True)
        s.chat("tell me a long story", stream=True, on_delta=watch)
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _kill_at(root: Path, what: str, marker: str, url: str, *, saved: bool = False) -> str:
    """Run the call in a subprocess against the loopback simulator at ``url``, SIGKILL it once it printed
    ``marker`` (and, with ``saved``, once its running row holds some of the answer, for up to 5 s); → that
    line."""
    p = subprocess.Popen([sys.executable, "-c", KILLED, str(root), what, url], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    try:
        line = p.stdout.readline()
        while line and not line.startswith(marker):
            line = p.stdout.readline()
        assert line, p.stderr.read() if p.stderr else ""
        if saved:
            deadline = time.monotonic() + 5
            while "\n\n" not in _running_text(root) and time.monotonic() < deadline:
                time.sleep(0.05)
        return line.strip()
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=30)


def _running_text(root: Path) -> str:
    with contextlib.closing(sqlite3.connect(root / "history.sqlite")) as c:
        row = c.execute("SELECT text FROM entries WHERE status='running'").fetchone()
    return str(row[0]) if row else ""


def test_an_image_killed_while_downloading_keeps_its_paid_link_and_resumes(tmp_path: Path, sim_url: str,
                                                                           direct: None) -> None:
    root = tmp_path / "store"
    _kill_at(root, "image", "downloading", sim_url)

    s = Session(api_key=KEY, base_url=sim_url, mode="live", store=root)
    try:
        entry = s.history[-1]
        assert entry.status == "interrupted"
        refs = entry.response["images"]
        assert len(refs) == 1 and refs[0]["url"].startswith("http") and "sha256" not in refs[0]
        assert entry.usage["cost"]["usd"] > 0  # the answer is paid for: the budget and the history count it
        assert "session.resume(" in entry.error["hint"]  # not "run the call again": that would pay twice
        res = s.resume(entry.id)
        assert isinstance(res, ImageResult) and len(res) == 1 and res.entry.id == entry.id
        assert res.entry.status == "ok"
        assert len(s.history) == 1  # no new call, no new charge
    finally:
        s.close()


def test_a_stream_killed_mid_answer_keeps_the_text_received_so_far(tmp_path: Path, sim_url: str,
                                                                   direct: None) -> None:
    root = tmp_path / "store"
    shown = _kill_at(root, "stream", "partial", sim_url, saved=True)

    with Session(api_key=KEY, base_url=sim_url, mode="live", store=root) as s:
        entry = s.history[-1]
        assert entry.status == "interrupted"
        prompt, _, kept = entry.text.partition("\n\n")
        assert prompt == "tell me a long story"
        assert kept.startswith('You said: "tell me a long story"')  # the answer's first part, as it arrived
        assert shown.removeprefix("partial ").startswith(kept[:60].replace("\n", " "))
        assert entry.response.get("partial") is True
        assert "text received" in entry.error["message"]
        assert [e.id for e in s.history.search("long story")] == [entry.id]
