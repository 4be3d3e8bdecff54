"""Shared fixtures: one loopback simulator server per test session, faults reset before each test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

# the session tests' fixtures (a session on a fresh store, its recording transport)
from _session_support import rec, relay, s  # noqa: F401

from tokenhot_nb.sim import Faults, Server, serve

TEST_KEY = "sk-test-0123456789"
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}


@pytest.fixture(scope="session")
def _shared_sim() -> Iterator[Server]:
    server = serve("127.0.0.1", 0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sim_server(request: pytest.FixtureRequest, _shared_sim: Server) -> Iterator[Server]:
    """A simulator on 127.0.0.1 (free port), shared by the whole session; a module that sets ``OWN_SIMULATOR =
    True`` gets one of its own. Those read the server's total spending before and after a call, and a call another
    module had left running on the shared one (a stream billed as it ended) was once billed between the reads."""
    if not getattr(request.module, "OWN_SIMULATOR", False):
        yield _shared_sim
        return
    server = serve("127.0.0.1", 0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim_url(sim_server: Server) -> str:
    """Base URL of the session simulator, without ``/v1``."""
    return sim_server.url


PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy from the machine's environment: one keeps a client off the blocking lane, which these test."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every hand-off to the background loop, recorded (a call in the blocking lane makes none)."""
    from tokenhot_nb.client import _loop

    seen: list[object] = []
    submit = _loop.submit

    def spy(aw: Any) -> Any:
        seen.append(aw)
        return submit(aw)

    monkeypatch.setattr(_loop, "submit", spy)
    return seen


@pytest.fixture(autouse=True)
def _media_out_of_the_repo(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Displayed videos are published to a temp folder, not ``tokenhot-media/`` in the checkout."""
    monkeypatch.setenv("TOKENHOT_MEDIA_DIR", str(tmp_path_factory.getbasetemp() / "tokenhot-media"))


@pytest.fixture(autouse=True)
def _reset_sim_faults(request: pytest.FixtureRequest) -> None:
    """Every test that uses the shared server starts with no faults (and fresh fail-first counters)."""
    if "sim_server" in request.fixturenames:
        request.getfixturevalue("sim_server").set_faults(Faults())


def parse_sse(raw: bytes | str) -> list[tuple[str | None, Any]]:
    """Split an SSE body into (event, data) pairs by hand; data is JSON-decoded when it parses."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    out: list[tuple[str | None, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if not data:
            continue
        joined = "\n".join(data)
        try:
            out.append((event, json.loads(joined)))
        except ValueError:
            out.append((event, joined))
    return out


@pytest.fixture
def sse() -> Any:
    """The hand-written SSE splitter (tests must not depend on the client's parser)."""
    return parse_sse


@pytest.fixture
def auth() -> dict[str, str]:
    return dict(AUTH)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ``TOKENHOT_NO_SKIPS=1`` (CI sets it) a skipped test fails the run: a browser, kernel or SDK test
    that skipped because something was missing would otherwise pass CI without having run."""
    if os.environ.get("TOKENHOT_NO_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [r for r in (reporter.stats.get("skipped", []) if reporter is not None else [])
               if "may_skip" not in getattr(r, "keywords", {})]
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        names = ", ".join(sorted({r.nodeid for r in skipped})[:5])
        reporter.write_line(f"TOKENHOT_NO_SKIPS=1: {len(skipped)} test(s) were skipped ({names}); install what "
                            "they need (pip install -e '.[dev]', apt-get install chromium).", red=True)
