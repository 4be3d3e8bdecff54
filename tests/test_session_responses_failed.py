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


@pytest.mark.parametrize("stream", [True, False])
def test_a_failed_response_keeps_its_usage_and_cost(relay: Server, tmp_path: Path, stream: bool) -> None:
    relay.set_faults(Faults(responses_failed=True))
    with Session(api_key=KEY, base_url=relay.url, mode="live", store=tmp_path / "store") as s:
        before = billed_cents(relay.url, KEY) / 100 / 7
        with pytest.raises(StreamError if stream else APIError) as info:
            s.chat("Tell me about pears.", model="gpt-5", endpoint="responses", thread=False, stream=stream)
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
    if stream:  # the text that arrived before the failure is kept, as for any broken stream
        assert err.partial.text and err.partial.text == err.partial_text


def test_a_failure_without_usage_still_says_nothing_was_known(relay: Server, tmp_path: Path) -> None:
    """The stream error of ``stream_error_after`` reports no usage: its cost stays unknown (the relay may have
    billed it), as before."""
    relay.set_faults(Faults(stream_error_after=3))
    with Session(api_key=KEY, base_url=relay.url, mode="live", store=tmp_path / "store") as s:
        with pytest.raises(StreamError) as info:
            s.chat("Tell me about pears.", model="gpt-5", endpoint="responses", thread=False, stream=True)
        row = s.history[-1]
    assert info.value.usage is None and not row.cost.known
