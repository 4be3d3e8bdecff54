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


@pytest.mark.parametrize("text", [
    '{"user": {"name": "Ada"}}',  # JSON: its closing braces were "}}", which became "}"
    "def f():\n    return {1: {2: 3}}",  # code
    "Explain {{ user.name }} in this Jinja template",  # a template's own doubled braces
])
def test_doubled_braces_that_are_no_escape_stay_as_written(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """str.format's rule turned every "}}" into "}": JSON or code in a prompt reached the (paid) model broken,
    with no word said. Only ``{{name}}`` is the escape."""
    assert interpolate(text, {"user": object()}) == text
    assert capsys.readouterr().err == ""


def test_the_escape_still_gives_literal_braces_next_to_a_value() -> None:
    assert interpolate("{{x}} is {x}; {{x:>3}} {{{x}}}", {"x": 3}) == "{x} is 3; {x:>3} {{3}}"
