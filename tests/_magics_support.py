"""Shared by the magic tests: IPython's test shell with the extension loaded, and an offline session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

import tokenhot_nb
import tokenhot_nb.magics as magics_pkg
from tokenhot_nb.magics import _magics


@pytest.fixture(scope="module")
def ip() -> Any:
    shell = start_ipython() or get_ipython()  # the test shell is one per process
    shell.run_line_magic("load_ext", "tokenhot_nb")
    return shell


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The magics' shared session, offline, on a fresh store (video polls without waiting)."""
    monkeypatch.setenv("TOKENHOT_MODE", "offline")
    monkeypatch.setenv("TOKENHOT_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("TOKENHOT_API_KEY", raising=False)
    monkeypatch.setattr(magics_pkg, "last_error", None)
    assert _magics._session.__module__ == _magics.__name__
    s = tokenhot_nb.session(reset=True, poll_interval=0.001)  # (a setting no variable sets)
    yield s
    tokenhot_nb.session(reset=True).close()
