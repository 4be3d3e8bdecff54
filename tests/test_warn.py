"""Warnings name the user's line (a script, a test, a cell), never a line inside tokenhot_nb, whichever thread
raised them: the sync front door, its awaited twin, a batch, the session's constructor and a magic."""

from __future__ import annotations

import asyncio
import inspect
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from _magics_support import ip, offline  # noqa: F401

import tokenhot_nb
from tokenhot_nb import Session, _config

PACKAGE = os.path.dirname(tokenhot_nb.__file__)


def _line() -> int:
    """The caller's line number."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def _seed_warnings(record: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in record if "takes no seed" in str(w.message)]


def test_a_seed_warning_from_the_loop_thread_names_the_callers_line(s: Session) -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        here = _line() + 1
        s.image("a lighthouse", model="gpt-image-2", seed=3)
    [w] = _seed_warnings(record)
    assert (w.filename, w.lineno) == (__file__, here)


def test_the_awaited_twin_and_a_batch_name_the_callers_line(s: Session) -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        awaited = _line() + 1
        asyncio.run(s.aimage("a lighthouse", model="gpt-image-2", seed=4))
        batch = _line() + 1
        s.image(["a lighthouse", "a harbour"], model="gpt-image-2", seed=5, progress=False)
    found = _seed_warnings(record)
    assert found and all(w.filename == __file__ for w in found), [(w.filename, w.lineno) for w in found]
    assert {w.lineno for w in found} == {awaited, batch}


def test_the_no_key_notice_names_the_line_that_made_the_session(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    for var in ("TOKENHOT_API_KEY", "TOKENHOT_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_config, "_notice_shown", False)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        here = _line() + 1
        sess = Session(store=tmp_path / "store")
    sess.close()
    [w] = [w for w in record if "TOKENHOT_API_KEY" in str(w.message)]
    assert (w.filename, w.lineno) == (__file__, here)


def test_a_warning_outside_any_call_names_the_first_frame_outside_the_package(tmp_path: Path) -> None:
    from tokenhot_nb._warn import warn

    lines: list[int] = []

    def helper() -> None:
        lines.append(_line() + 1)
        warn("careful")

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        helper()
    # the innermost frame that is not tokenhot_nb's: the helper in this file
    assert (record[0].filename, record[0].lineno) == (__file__, lines[0])


def test_a_magics_warning_names_the_cell(ip: Any, offline: Any) -> None:  # noqa: F811
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ip.run_cell("%%th_image -m gpt-image-2 --seed 3\na lighthouse")
    [w] = _seed_warnings(record)
    assert not w.filename.startswith(PACKAGE) and "IPython" not in w.filename, w.filename
    assert w.filename != __file__  # the cell itself, not the test that ran it



def test_a_users_line_that_holds_a_key_is_named_not_shown(tmp_path: Path) -> None:
    from tokenhot_nb._warn import warn

    key = "sk-warn-line-SECRET-0042"
    script = tmp_path / "script.py"
    script.write_text(f"x = 1\nwarn('the model table could not be read'); key = {key!r}\n")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        exec(compile(script.read_text(), str(script), "exec"), {"warn": warn, "__name__": "script"})
    [w] = record
    shown = warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
    assert w.filename == str(script) and "line 2" in str(w.message)
    assert key not in shown and key[3:] not in shown
