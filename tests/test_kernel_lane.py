"""The blocking lane in a real kernel: a cell's ``s.chat(stream=False)`` runs on the kernel's own thread with the
kernel's loop set aside, and everything that needs that loop afterwards (top-level ``await``, streams, an
awaited call) still works."""

from __future__ import annotations

from typing import Any

import pytest
from _kernel_support import run_offline

pytestmark = pytest.mark.kernel
KEY = "sk-kernel-lane-SECRET-7070"

CELLS = [
    "import asyncio, os, threading, tokenhot_nb\nfrom tokenhot_nb.client import _loop\nfrom tokenhot_nb.sim import serve\n"
    "for var in ('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'):\n"
    "    os.environ.pop(var, None)  # a proxy keeps a client off the lane; this one goes direct\n"
    "srv = serve('127.0.0.1', 0)\n"
    f"s = tokenhot_nb.Session(mode='live', api_key={KEY!r}, base_url=srv.url, store='lane-store')\n"
    "handed = []\n_submit = _loop.submit\n_loop.submit = lambda aw: handed.append(aw) or _submit(aw)\n"
    "kernel_loop = asyncio.get_event_loop()",
    "r = s.chat('one', stream=False)\n"
    "print('lane', r.entry.status, len(handed), s.client._blocking is not None, asyncio.get_event_loop() is kernel_loop)",
    "await asyncio.sleep(0.01)\nprint('await ok')",
    "r2 = await s.achat('two', stream=False)\nprint('awaited', r2.entry.status, len(handed) > 0)",
    "r3 = s.chat('three', on_delta=lambda d, t: None)\nprint('streamed', r3.entry.status)",
    "r4 = s.chat('four', stream=False)\nprint('thread', [m['content'] for m in s.threads.get('default').messages "
    "if m['role'] == 'user'])",
    "s.close(); srv.stop()",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_offline(CELLS, tmp_path_factory.mktemp("kernel-lane"))


def _stdout(nb: Any, i: int) -> str:
    errors = [o for o in nb.cells[i].outputs if o.get("output_type") == "error"]
    assert not errors, errors
    return "".join(o.get("text", "") for o in nb.cells[i].outputs if o.get("output_type") == "stream").strip()


def test_a_cell_s_answer_read_whole_runs_in_the_lane(executed: Any) -> None:
    assert _stdout(executed, 0) == ""
    assert _stdout(executed, 1) == "lane ok 0 True True"  # no hand-off, the lane's pool, the kernel's loop back


def test_the_kernel_loop_works_after_the_lane(executed: Any) -> None:
    assert _stdout(executed, 2) == "await ok"
    assert _stdout(executed, 3) == "awaited ok True"
    assert _stdout(executed, 4) == "streamed ok"
    assert _stdout(executed, 5) == "thread ['one', 'two', 'three', 'four']"
    assert _stdout(executed, 6) == ""


def test_the_key_is_in_no_output(executed: Any) -> None:
    import json

    outputs = json.dumps([c.outputs for c in executed.cells])
    assert "lane ok" in outputs and KEY not in outputs
