"""``{name}`` in a magic cell that names no variable is sent as written, with a warning that says so."""

from __future__ import annotations

import pytest

from tokenhot_nb.magics._interp import interpolate


def test_unresolved_field_warns(capsys: pytest.CaptureFixture[str]) -> None:
    out = interpolate("about {topic} and {x} and {{lit}}", {"x": 3})
    assert out == "about {topic} and 3 and {lit}"
    err = capsys.readouterr().err
    assert "{topic} in the cell names no variable" in err and "{x}" not in err


def test_several_and_none(capsys: pytest.CaptureFixture[str]) -> None:
    interpolate("{a} {b.c} {a}", {"b": object()})
    assert "{a}, {b.c} in the cell name no variable" in capsys.readouterr().err
    interpolate('plain {"json": 1} text {x}', {"x": 1})
    assert capsys.readouterr().err == ""


def test_a_spec_that_does_not_fit_warns(capsys: pytest.CaptureFixture[str]) -> None:
    """It used to be kept as written with no word said."""
    assert interpolate("{n:bad} {n:03d}", {"n": 5}) == "{n:bad} 005"
    assert "{n:bad} in the cell could not be formatted with its spec" in capsys.readouterr().err
