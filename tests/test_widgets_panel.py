"""The panel base: its error box shows any exception as one escaped, key-free text."""

from __future__ import annotations

import types

import _widgets_support as support
import ipywidgets as w
import pytest

from tokenhot_nb.errors import APIError
from tokenhot_nb.widgets._panel import Panel

fake = support.fake  # fixture

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


PASTED = "sk-PANEL-pasted-KEY-0123456789abcdef"


@pytest.mark.parametrize("name, field, other", [
    ("chat", "input", None), ("chat", "system", ("input", "hi")),
    ("image", "prompt", None), ("image", "negative", ("prompt", "a cat")),
    ("video", "prompt", None), ("video", "video_url", ("prompt", "waves")),
    ("audio", "text", None),
])
def test_a_key_pasted_into_a_field_is_masked_and_nothing_sent(fake, name, field, other):
    """A key pasted into a prompt was sent to the model's provider, and stayed in the field: a field's value is
    widget state, saved in the notebook's metadata. Now the click sends nothing, says why in one line, and the
    field holds the mask."""
    from tokenhot_nb.widgets import panel

    p = panel(name, fake)
    if name == "image":
        p.model.value = "qwen-image-max"  # (it takes a negative prompt)
    if name == "video":
        p.model.value = "happyhorse-1.0-video-edit"  # (it takes a video URL)
    if other is not None:
        getattr(p, other[0]).value = other[1]
    getattr(p, field).value = f"see https://x.example/v.mp4?k={PASTED} here" if field == "video_url" \
        else f"hello {PASTED} there"
    button = {"chat": "send", "image": "generate", "video": "generate", "audio": "speak_button"}[name]
    getattr(p, button).click()
    p.wait(30)
    assert fake.calls == [] and "held an API key" in p.error_box.value and "\n" not in p.error_box.value
    assert "sk-****" in getattr(p, field).value
    states = [str(widget.get_state()) for widget in _descendants(p)]
    assert not any(PASTED in state or PASTED[3:] in state for state in states)


def _descendants(widget: w.Widget) -> list[w.Widget]:
    found = [widget]
    if isinstance(widget, w.Box):
        for child in widget.children:
            found += _descendants(child)
    return found


def test_a_result_that_cannot_be_shown_does_not_leave_the_panel_working(fake) -> None:
    """When showing a finished call's result raised, the status line kept saying 'Working…' next to the error,
    as if the paid call still ran; it now says the call finished and where its result is."""
    panel = Panel(fake)

    def show(_result: object) -> None:
        raise OSError("the output file vanished")

    panel.run(lambda: 1, show)
    panel.wait(30)
    assert "Working" not in panel.status.value and "in the history" in panel.status.value
    assert "vanished" in panel.error_box.value
