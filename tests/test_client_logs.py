"""Logs hold no key: the HTTP stack's own DEBUG/INFO records (httpcore prints response headers, httpx request
URLs) are redacted before any handler sees them, over real loopback HTTP."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import pytest
from _hostile import Hostile, response

from tokenhot_nb import Session
from tokenhot_nb.client import _logs

KEY = "tkn_LOGGED_key_without_prefix_0123456789"
ANSWER = {"id": "1", "object": "chat.completion", "model": "gpt-5.4",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def _echo(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """A relay that echoes the caller's credentials into its answer's headers."""
    auth = headers.get("authorization", "")
    return response(200, json.dumps(ANSWER).encode(),
                    headers={"X-Echo": auth, "Set-Cookie": "k=" + auth.split()[-1]})


def test_the_http_stacks_debug_trace_never_holds_the_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("httpx", "httpcore.http11", "tokenhot_nb"):  # (another library may have quietened one)
        caplog.set_level(logging.DEBUG, logger=name)
    with warnings.catch_warnings(), Hostile({"/v1/chat/completions": _echo}) as relay:
        warnings.simplefilter("ignore")  # (this relay has no price table: a warning says so)
        s = Session(api_key=KEY, base_url=relay.url, mode="live", store=tmp_path / "st")
        assert s.chat("hi", model="gpt-5.4", stream=False).text == "hi"
        s.close()
    names = {r.name for r in caplog.records}
    assert {"httpcore.http11", "httpx"} <= names  # the trace was on: headers and URLs were logged
    assert "x-echo" in caplog.text.lower() and "sk-****" in caplog.text
    assert KEY not in caplog.text and KEY[4:20] not in caplog.text


def test_a_record_is_redacted_whatever_its_arguments_and_kept(caplog: pytest.LogCaptureFixture) -> None:
    from tokenhot_nb._config import Secret

    Secret(KEY)
    caplog.set_level(logging.DEBUG, logger="httpcore.connection")
    logging.getLogger("httpcore.connection").debug("headers=%r url=%s", [(b"X", f"Bearer {KEY}".encode())],
                                                   f"https://cdn.example/a.png?key={KEY}")
    (record,) = caplog.records
    assert KEY not in record.getMessage() and "url=https://cdn.example/a.png?key=sk-****" in record.getMessage()
    broken = logging.LogRecord("httpx", logging.INFO, __file__, 1, "a format %d that does not fit", ("x",), None)
    assert _logs.RedactKeys().filter(broken) and broken.msg == "a format %d that does not fit"  # the handler says


def test_installing_twice_adds_one_filter() -> None:
    _logs.install()
    _logs.install()
    for name in _logs.LOGGERS:
        assert sum(isinstance(f, _logs.RedactKeys) for f in logging.getLogger(name).filters) == 1
