"""Errors a person can read, in a real kernel: a raised TokenhotError is a short block (what failed, the fix,
where to see details) with no internal frames; the full chain is one command away; magics never print a
traceback, not even for a path that cannot be written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from _kernel_support import run_offline

pytestmark = pytest.mark.kernel
KEY = "sk-kernel-errors-SECRET-5150"

CELLS = [
    "import sys, tokenhot_nb\nfrom tokenhot_nb.sim import Faults, SimTransport\n"
    "s = tokenhot_nb.Session(mode='offline')\n%load_ext tokenhot_nb",
    "s.image('a cat', model='seedrem-nonexistent')",                                  # 1 unknown model
    "%th_config --last-error",                                                        # 2 the full chain
    "sys.last_value.details()",                                                       # 3 the same, from Python
    "broken = tokenhot_nb.Session(mode='offline', transport=SimTransport(faults=Faults(truncate_stream_after=3)))\n"
    "broken.chat('tell me a long story')",                                            # 4 through the loop
    "open('afile', 'w').close()\n%th_history --export afile/sub/h.jsonl",             # 5 unwritable export
    f"tokenhot_nb.Session(mode='live', api_key={KEY!r}, base_url='http://127.0.0.1:9').chat('hi', stream=False)",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_offline(CELLS, tmp_path_factory.mktemp("kernel-errors"))


def _error(nb: Any, i: int) -> dict[str, Any]:
    errs = [o for o in nb.cells[i].outputs if o.get("output_type") == "error"]
    assert len(errs) == 1, nb.cells[i].outputs
    return errs[0]


def _text(nb: Any, i: int) -> str:
    parts = []
    for o in nb.cells[i].outputs:
        parts.append(o.get("text", ""))
        parts.extend(str(v) for v in (o.get("data") or {}).values())
        parts.extend(o.get("traceback", []))
    return "\n".join(parts)


def _plain(lines: list[str]) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))


def _assert_short_block(err: dict[str, Any], title: str) -> str:
    text = _plain(err["traceback"])
    assert len(err["traceback"]) <= 6, text
    assert title in text and "Fix:" in text and "%th_config --last-error" in text
    # no frames: no "File …", nothing from the package, the event loop or concurrent.futures
    for internal in ("File \"", "tokenhot_nb/", "concurrent", "asyncio", "Traceback", "site-packages"):
        assert internal not in text, (internal, text)
    return text


def test_raised_error_is_a_short_block(executed: Any) -> None:
    err = _error(executed, 1)
    assert err["ename"] == "UnknownModelError"
    text = _assert_short_block(err, "Unknown model")
    assert "seedrem-nonexistent" in text and "At: cell line 1" in text


def test_full_chain_on_request(executed: Any) -> None:
    shown = _text(executed, 2)
    assert "Traceback" in shown and "UnknownModelError" in shown and "tokenhot_nb" in shown
    details = _text(executed, 3)
    assert "Traceback" in details and "UnknownModelError" in details and "\\n" not in details


def test_error_through_the_loop_is_short(executed: Any) -> None:
    err = _error(executed, 4)
    assert err["ename"] == "StreamError"
    _assert_short_block(err, "The stream broke off")


def test_magic_never_prints_a_traceback(executed: Any) -> None:
    out = executed.cells[5].outputs
    assert not [o for o in out if o.get("output_type") == "error"], out
    text = _text(executed, 5)
    assert "Traceback" not in text and "File \"" not in text
    assert "afile/sub/h.jsonl" in text and "Fix:" in text


def test_connection_error_short_and_keyless(executed: Any) -> None:
    err = _error(executed, 6)
    _assert_short_block(err, "Network problem")
    assert KEY not in str(executed.cells[6].outputs) and KEY[3:] not in str(executed.cells[6].outputs)
