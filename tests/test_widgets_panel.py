"""The panel base: its error box shows any exception as one escaped, key-free text."""

from __future__ import annotations

import types

import pytest

from tokenhot_nb.errors import APIError
from tokenhot_nb.widgets._panel import Panel

KEY = "sk-PANEL-errorbox-KEY-0123456789"


@pytest.mark.parametrize("exc", [
    RuntimeError(f"request failed: {{'authorization': 'Bearer {KEY}'}}"),  # e.g. a header dict in a library's text
    ValueError(f"bad url https://relay.example/v1/x?key={KEY}"),
    APIError(f"echo {KEY}", status=400),
])
def test_the_error_box_never_shows_a_key(exc: BaseException) -> None:
    """Every failure of a panel's background job lands in its error box (widget state, saved with the notebook):
    ours are redacted when made, any other exception is redacted there."""
    panel = Panel(types.SimpleNamespace())  # type: ignore[arg-type]
    panel.show_error(exc)
    shown = panel.error_box.value
    assert KEY not in shown and KEY[3:] not in shown and "sk-****" in shown
    assert panel.last_error is exc


def test_the_error_box_shows_server_text_as_inert_text() -> None:
    panel = Panel(types.SimpleNamespace())  # type: ignore[arg-type]
    panel.show_error(RuntimeError("<img src=x onerror=alert(1)>\x1b[2J\x00 done"))
    shown = panel.error_box.value
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "\x1b" not in shown and "\x00" not in shown and "done" in shown
