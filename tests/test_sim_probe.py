"""The live-vs-simulator probe (``python -m tokenhot_nb.sim.probe``), with a simulator over real loopback HTTP
standing in for the live host: alike, it reports nothing; changed, it names each difference; the key is never
printed or saved; paid probes go only when asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tokenhot_nb.sim import Faults, Server, SimTransport, serve
from tokenhot_nb.sim import probe as probe_mod
from tokenhot_nb.sim.probe import Answer, compare, main, probes, shape, values

KEY = "sk-probe-key-0123456789abcdef"
EVERY = probes()
FREE = [p for p in EVERY if not p.paid]


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENHOT_API_KEY", KEY)
    monkeypatch.delenv("TOKENHOT_BASE_URL", raising=False)


def _served(faults: Faults | None = None) -> Iterator[Server]:
    server = serve("127.0.0.1", 0, faults)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live() -> Iterator[Server]:
    yield from _served()


def test_a_host_that_answers_as_the_simulator_has_no_differences(keyed: None, live: Server,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--paid", "--base-url", live.url]) == 0
    out = capsys.readouterr().out
    assert f"{len(EVERY)} probes, 0 with differences." in out
    assert len(EVERY) == 22 and len(FREE) == 14
    assert "DIFF" not in out


def test_a_host_whose_balance_answers_are_errors_is_reported_path_by_path(keyed: None,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    for server in _served(Faults(billing_error=True)):  # §10.6: errors as HTTP 200 with {"error": …}
        assert main(["--base-url", server.url, "--only", "subscription", "--only", "models"]) == 1
    out = capsys.readouterr().out
    assert "DIFF subscription" in out and "ok   models" in out
    assert "only live: error.message (str)" in out
    assert "only simulator: hard_limit_usd (number)" in out
    assert "2 probes, 1 with differences." in out


def test_a_host_that_refuses_every_call_shows_the_status_and_the_error_code(keyed: None,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    for server in _served(Faults(service_error="quota-403")):
        assert main(["--base-url", server.url, "--only", "unknown-model"]) == 1
    out = capsys.readouterr().out
    assert "status: live 403, simulator 503" in out
    assert 'value of error.code: live "insufficient_user_quota", simulator "model_not_found"' in out


def test_the_key_is_neither_printed_nor_saved_even_when_the_host_echoes_it(keyed: None, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    for server in _served(Faults(echo_key=True)):
        main(["--paid", "--base-url", server.url, "--save", str(tmp_path / "answers")])
    out = capsys.readouterr()
    saved = list((tmp_path / "answers").glob("*.json"))
    assert len(saved) == len(EVERY)
    echoed = [p for p in saved if "REDACTED" in p.read_text() or "sk-***" in p.read_text()]
    texts = [out.out, out.err, *(p.read_text() for p in saved)]
    assert not any(KEY in t or KEY.removeprefix("sk-") in t for t in texts)
    assert echoed, "the echoing host's answers should have carried the key (redacted)"
    record = json.loads((tmp_path / "answers" / "models.json").read_text())
    assert record["live"]["status"] == 200 and record["live"]["body"]["object"] == "list"


class _Counting(httpx.AsyncBaseTransport):
    """The simulator in-process, keeping every request it was sent."""

    def __init__(self) -> None:
        self.inner = SimTransport()
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return await self.inner.handle_async_request(request)


def test_paid_probes_are_sent_only_with_paid(keyed: None, capsys: pytest.CaptureFixture[str]) -> None:
    free, paid = _Counting(), _Counting()
    assert main([], live_transport=free) == 0
    assert main(["--paid"], live_transport=paid) == 0
    def sent(t: _Counting) -> list[tuple[str, object]]:
        return [(str(r.url.raw_path.decode()), json.loads(r.content) if r.content else None) for r in t.sent]

    def of(chosen: list[probe_mod.Probe]) -> list[tuple[str, object]]:
        return [(p.path, p.body) for p in chosen]

    assert sent(free) == of(FREE)
    assert sent(paid) == of(EVERY)
    capsys.readouterr()


def test_each_probe_carries_the_key_it_means_and_no_other(keyed: None) -> None:
    t = _Counting()
    main(["--only", "pricing", "--only", "models", "--only", "wrong-key", "--only", "no-key"], live_transport=t)
    sent = {r.url.path + ("?" if "Authorization" not in r.headers else r.headers["Authorization"][-6:]): r
            for r in t.sent}
    assert sorted(sent) == sorted(["/api/pricing?", "/v1/models" + KEY[-6:], "/v1/models" + probe_mod.WRONG_KEY[-6:],
                                   "/v1/models?"])


@pytest.mark.parametrize(("argv", "env", "says"), [
    (["--only", "nope"], KEY, "Unknown probe 'nope'; the probes are:"),
    (["--only", "chat"], KEY, "'chat' is a paid probe: add --paid to send it."),
    ([], "", "No key: set TOKENHOT_API_KEY"),
])
def test_what_cannot_be_probed_is_one_line_and_exit_2(argv: list[str], env: str, says: str,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TOKENHOT_API_KEY", env)
    t = _Counting()
    assert main(argv, live_transport=t) == 2
    err = capsys.readouterr().err
    assert err.startswith(says) and err.count("\n") == 1
    assert t.sent == []


def test_an_answer_past_the_cap_is_not_read_on(keyed: None, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(probe_mod, "CAP", 1000)  # the price table is far longer
    assert main(["--only", "pricing"], live_transport=SimTransport()) == 1
    assert "could not be read: answer longer than" in capsys.readouterr().out


def test_an_unreachable_host_is_one_line_per_probe(keyed: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--only", "status", "--base-url", "http://127.0.0.1:9"]) == 1
    out = capsys.readouterr().out
    assert "live could not be read: ConnectError" in out


def test_shapes_merge_list_items_and_read_map_keys_as_one() -> None:
    got = shape({"data": [{"id": "a", "n": 1}, {"id": "b", "n": None}], "group_ratio": {"vip": 1, "default": 2}})
    assert got == {"$": {"object"}, "data": {"list"}, "data[]": {"object"}, "data[].id": {"str"},
                   "data[].n": {"number", "null"}, "group_ratio": {"object"}, "group_ratio.*": {"number"}}
    assert values({"choices": [{"finish_reason": "stop"}, {"finish_reason": "length"}]},
                  "choices[].finish_reason") == {'"stop"', '"length"'}


def test_compare_names_types_values_and_media() -> None:
    live = Answer(200, "text/plain", {"error": {"code": "x", "n": "1"}})
    sim = Answer(200, "application/json", {"error": {"code": "y", "n": 1}})
    assert compare(live, sim) == ["content type: live text/plain, simulator application/json",
                                  'value of error.code: live "x", simulator "y"',
                                  "type of error.n: live str, simulator number"]
    assert compare(Answer(200, "application/json", {"a": 1}), Answer(200, "application/json", {"a": 2})) == []


def test_the_module_runs_as_a_command() -> None:
    done = subprocess.run([sys.executable, "-m", "tokenhot_nb.sim.probe", "--list"], capture_output=True, text=True,
                          timeout=60, check=True)
    lines = done.stdout.splitlines()
    assert len(lines) == len(EVERY) and lines[0].startswith("pricing") and "paid" in lines[-1]


def test_what_the_live_host_names_reaches_the_terminal_escaped(keyed: None,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A key, a value or an event name the live host sent is data: a terminal escape or a bidi override in it is
    printed escaped, never acted on by the terminal."""
    def hostile(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"\x1b[2Jcleared": 1, "object": "li\u202etsil", "data": []},
                              headers={"content-type": "application/json"})

    assert main(["--only", "models"], live_transport=httpx.MockTransport(hostile)) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "only live: \\u001b[2Jcleared (number)" in out and "li\\u202etsil" in out
