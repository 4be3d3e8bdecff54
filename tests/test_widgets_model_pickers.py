"""The panels' model pickers list the session's service (built-in ⊕ its table) with source and price."""

from __future__ import annotations

import _widgets_support as support
from _widgets_support import wait_until

from tokenhot_nb.widgets import panel

offline = support.offline  # fixture


def test_pickers_show_live_models_with_source_and_price_and_use_them(offline):
    p = panel("chat", offline)
    labels = dict((value, label) for label, value in p.model.options)
    assert "deepseek-v4-pro" in labels  # only the simulator's price table knows it
    assert "· live ·" in labels["deepseek-v4-pro"] and "$0.56/M in" in labels["deepseek-v4-pro"]
    assert "· both ·" in labels["gpt-5.2"] and "/M out" in labels["gpt-5.2"]
    p.model.value = "deepseek-v4-pro"
    p.input.value = "hi"
    p.send.click()
    p.wait(30)
    wait_until(lambda: bool(p.text), what="the answer")
    assert offline.history[-1].model == "deepseek-v4-pro" and offline.history[-1].status == "ok"


def test_the_image_picker_shows_call_prices(offline):
    p = panel("image", offline)
    labels = dict((value, label) for label, value in p.model.options)
    assert labels["nano-banana-pro"].endswith("both · $0.134/call")
    assert labels["gpt-image-2"].endswith("both · $0.028/call")
