"""A Responses call that fails yet reports what it consumed (``response.failed`` with ``response.usage``, or a whole
``status: "failed"`` answer with ``usage``): the relay bills those tokens, so the error, its row and ``err.partial``
keep the usage and its cost. Over loopback against the simulator (``Faults.responses_failed``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import billed_cents

from tokenhot_nb import Session
from tokenhot_nb.errors import APIError, StreamError, TokenhotError
from tokenhot_nb.results import ChatResult
from tokenhot_nb.sim import Faults, Server

KEY = "sk-responses-failed-0123456789"
QPU = 500_000


def test_the_simulators_failed_responses_stream_carries_its_usage_and_is_billed(relay: Server) -> None:
    """The wire: the stream's last event is ``response.failed`` whose response has an error and a usage; the balance
    goes down by that usage at the row's price ($1.25/M in, $10/M out for gpt-5)."""
    headers = {"Authorization": f"Bearer {KEY}", "X-Sim-Faults": json.dumps({"responses_failed": True})}
    before = billed_cents(relay.url, KEY) / 100 / 7
    r = httpx.post(relay.url + "/v1/responses", headers=headers, timeout=60,
                   json={"model": "gpt-5", "input": "Tell me about pears.", "stream": True})
    frames = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    last = frames[-1]
    assert last["type"] == "response.failed" and last["response"]["status"] == "failed"
    assert last["response"]["error"]["code"] == "server_error"
    usage: dict[str, Any] = last["response"]["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert not any(f.get("type") == "response.completed" for f in frames)
    expected = round(0.625 * (usage["input_tokens"] + usage["output_tokens"] * 8)) / QPU
    assert billed_cents(relay.url, KEY) / 100 / 7 - before == pytest.approx(expected)


def test_the_simulators_whole_failed_response_carries_its_usage(relay: Server) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "X-Sim-Faults": json.dumps({"responses_failed": True})}
    body = httpx.post(relay.url + "/v1/responses", headers=headers, timeout=60,
                      json={"model": "gpt-5", "input": "Tell me about pears."}).json()
    assert body["status"] == "failed" and body["error"]["message"] and body["usage"]["output_tokens"] > 0


def test_a_whole_failed_response_keeps_its_usage_and_the_cost_billed(relay: Server, tmp_path: Path) -> None:
    """A whole ``status: "failed"`` answer is billed its ``usage``: the row's cost is that, known."""
    relay.set_faults(Faults(responses_failed=True))
    with Session(api_key=KEY, base_url=relay.url, mode="live", store=tmp_path / "store") as s:
        before = billed_cents(relay.url, KEY) / 100 / 7
        with pytest.raises(APIError) as info:
            s.chat("Tell me about pears.", model="gpt-5", endpoint="responses", thread=False, stream=False)
        spent = billed_cents(relay.url, KEY) / 100 / 7 - before
        err = info.value
        row = s.history[-1]
        assert row.status == "error"
        usage, c = row.usage, row.cost
    assert spent > 0
    assert isinstance(err, TokenhotError) and err.usage is not None and err.usage.output_tokens > 0
    assert usage["input_tokens"] == err.usage.input_tokens and usage["output_tokens"] == err.usage.output_tokens
    assert c.usd == pytest.approx(spent, abs=2 / QPU)  # what the relay billed, not "cost unknown"
    assert c.source == "per-token"
    assert isinstance(err.partial, ChatResult)
    assert err.partial.cost.usd == pytest.approx(c.usd)
    assert err.partial.usage.output_tokens == err.usage.output_tokens


def test_a_failed_responses_stream_keeps_its_usage_but_its_cost_is_unknown_and_budgeted(relay: Server,
                                                                                       tmp_path: Path) -> None:
    """new-api bills a Responses stream from ``response.completed`` only; one that ends ``response.failed`` is billed
    its own count of the streamed text, not the usage the event reports. So the row keeps that usage, says its cost
    is unknown (and why), and the budget still counts the call, at its estimate."""
    relay.set_faults(Faults(responses_failed=True))
    with Session(api_key=KEY, base_url=relay.url, mode="live", store=tmp_path / "store", budget=5) as s:
        with pytest.raises(StreamError) as info:
            s.chat("Tell me about pears.", model="gpt-5", endpoint="responses", thread=False, stream=True)
        err = info.value
        row = s.history[-1]
        budget = s.budget
    assert row.status == "error"
    assert isinstance(err, TokenhotError) and err.usage is not None and err.usage.output_tokens > 0
    assert row.usage["input_tokens"] == err.usage.input_tokens and row.usage["output_tokens"] == err.usage.output_tokens
    assert row.cost.usd is None and "relay bills its own count" in row.cost.detail and "failed" in row.cost.detail
    reserved = row.usage["reserved"]["usd"]
    assert reserved > 0 and budget.unknown.calls == 1 and budget.spent_usd == pytest.approx(reserved)
    assert isinstance(err.partial, ChatResult) and err.partial.cost.usd is None
    assert err.partial.usage.output_tokens == err.usage.output_tokens
    assert err.partial.text and err.partial.text == err.partial_text  # the text that arrived is kept


def test_an_incomplete_responses_stream_is_an_answer_whose_cost_is_unknown(relay: Server, tmp_path: Path) -> None:
    """``response.incomplete`` (cut by max_tokens) ends the answer, but the relay bills it as any stream without
    ``response.completed``: by its own count. The answer and its usage are kept; its cost is unknown, budgeted."""
    with Session(api_key=KEY, base_url=relay.url, mode="live", store=tmp_path / "store", budget=5) as s:
        res = s.chat("Tell me about pears at length.", model="gpt-5", endpoint="responses", thread=False,
                     max_tokens=16)
        budget = s.budget
        whole = s.chat("Tell me about pears at length.", model="gpt-5", endpoint="responses", thread=False,
                       max_tokens=16, stream=False)
    assert res.entry.status == "ok" and res.finish_reason == "max_output_tokens" and res.text
    assert res.usage.output_tokens > 0 and res.entry.usage["output_tokens"] == res.usage.output_tokens
    assert res.entry.cost.usd is None and "ended incomplete" in res.entry.cost.detail
    assert budget.unknown.calls == 1 and budget.spent_usd == pytest.approx(res.entry.usage["reserved"]["usd"])
    assert whole.finish_reason == "max_output_tokens" and whole.entry.cost.known  # a whole answer: its usage


def test_a_failure_without_usage_still_says_nothing_was_known(relay: Server, tmp_path: Path) -> None:
    """The stream error of ``stream_error_after`` reports no usage: its cost stays unknown (the relay may have
    billed it), as before."""
    relay.set_faults(Faults(stream_error_after=3))
    with Session(api_key=KEY, base_url=relay.url, mode="live", store=tmp_path / "store") as s:
        with pytest.raises(StreamError) as info:
            s.chat("Tell me about pears.", model="gpt-5", endpoint="responses", thread=False, stream=True)
        row = s.history[-1]
    assert info.value.usage is None and not row.cost.known
