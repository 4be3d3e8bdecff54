"""Image studio, headless: options follow the model, generate and edit go through the session."""

from __future__ import annotations

import threading
from typing import Any

import _widgets_support as support
import pytest
from _widgets_support import png_bytes, upload_value
from PIL import Image

from tokenhot_nb.widgets import panel
from tokenhot_nb.widgets._media import thumbnail

fake = support.fake  # fixture
offline = support.offline  # fixture
shared_offline = support.shared_offline  # fixture


def test_options_follow_the_model(fake):
    p = panel("image", fake)
    p.model.value = "dall-e-2"
    assert [v for _, v in p.size.options] == ["", "256x256", "512x512", "1024x1024"]
    assert p.size.value == "1024x1024"  # the model's default size
    assert list(p.n.options)[-1] == ("8", 8)
    assert p.seed.layout.display == "none" and p.mask.layout.display is None
    assert p.negative.layout.display == "none"
    p.model.value = "qwen-image-max"
    assert "1328*1328" in [v for _, v in p.size.options]
    assert [v for _, v in p.n.options] == [1]
    assert p.seed.layout.display is None and p.negative.layout.display is None
    assert p.mask.layout.display == "none" and p.upload.layout.display == "none"  # qwen-image-max cannot edit
    p.model.value = "qwen-image-edit-max-2026-01-16"
    assert p.generate.description == "Edit"


def test_generate_passes_exact_parameters(fake, tmp_path):
    p = panel("image", fake, save_dir=tmp_path / "saved")
    p.model.value = "qwen-image-max"
    p.prompt.value = "a lighthouse"
    p.negative.value = "blurry"
    p.size.value = "1664*928"
    p.seed.value = "42"
    fake.gate = threading.Event()  # the call waits until the busy state is checked
    p.generate.click()
    assert p.generate.disabled  # busy while the worker runs
    fake.gate.set()
    p.wait(30)
    assert not p.generate.disabled
    assert fake.calls == [("image", ("a lighthouse",),
                           {"model": "qwen-image-max", "size": "1664*928", "seed": 42, "negative": "blurry"})]
    assert len(p.gallery.children) == 1
    tile = p.gallery.children[0]
    assert tile.children[0].value[:4] == b"\x89PNG"
    tile.children[1].children[0].click()  # Save
    saved = list((tmp_path / "saved").iterdir())
    assert len(saved) == 1 and saved[0].read_bytes()[:4] == b"\x89PNG"
    assert len(p.strip.children) == 1


def test_bad_seed_and_empty_prompt_are_explained(fake):
    p = panel("image", fake)
    p.generate.click()
    assert "Write a prompt" in p.error_box.value and p.error_box.layout.display is None
    p.model.value = "qwen-image-max"
    p.prompt.value = "x"
    p.seed.value = "abc"
    p.generate.click()
    assert "whole number" in p.error_box.value
    assert fake.calls == []


def test_edit_an_upload_with_a_mask(fake):
    p = panel("image", fake)
    p.model.value = "gpt-image-2"
    p.prompt.value = "add a hat"
    img, mask = png_bytes(), png_bytes(color="white")
    p.upload.value = upload_value(img, "cat.png", "image/png")
    assert p.source.value == "upload"
    p.mask.value = upload_value(mask, "mask.png", "image/png")
    p.generate.click()
    p.wait(30)
    kind, args, kw = fake.calls[0]
    assert kind == "edit" and args == ([img], "add a hat") and kw["mask"] == mask and kw["model"] == "gpt-image-2"


def test_errors_show_message_and_hint_in_the_panel(fake):
    from tokenhot_nb.errors import QuotaExhaustedError

    fake.fail = QuotaExhaustedError("Your quota is used up.", status=429)
    p = panel("image", fake)
    p.prompt.value = "x"
    p.generate.click()
    p.wait(30)
    assert "Your quota is used up." in p.error_box.value and "top it up" in p.error_box.value
    assert not p.generate.disabled


def test_real_session_generate_then_edit_an_earlier_image(offline):
    p = panel("image", offline)
    p.model.value = "gpt-image-2"
    p.size.value = "1024x1024"
    p.prompt.value = "a red fox"
    p.generate.click()
    p.wait(60)
    assert p.error_box.value == "", p.error_box.value
    entry = offline.history.last
    assert entry.kind == "image" and entry.params["size"] == "1024x1024" and entry.params["prompt"] == "a red fox"
    with Image.open(offline.store.path_of(entry.outputs[0]["sha256"])) as im:
        assert im.size == (1024, 1024)
    assert len(p.gallery.children[0].children[0].value) < 1_000_000  # a thumbnail, not the original
    # the earlier image is offered as an edit source
    earlier = [v for _, v in p.source.options if v not in ("", "upload")]
    assert earlier, p.source.options
    p.source.value = earlier[0]
    p.prompt.value = "make it blue"
    p.generate.click()
    p.wait(60)
    assert p.error_box.value == "", p.error_box.value
    last = offline.history.last
    assert last.kind == "edit" and last.status == "ok"
    assert len(p.strip.children) == 2


def test_thumbnail_downscales():
    _data, fmt, size = thumbnail(png_bytes((2000, 1000)), 512)
    assert size == (512, 256) and fmt in ("png", "jpeg")


@pytest.mark.parametrize("seed", ["9" * 5000, "x" * 5000])
def test_a_huge_seed_is_one_short_line(fake, seed):
    """A seed of thousands of characters (a paste gone wrong) filled the error box with all of them."""
    p = panel("image", fake)
    p.model.value = "qwen-image-max"
    p.prompt.value = "x"
    p.seed.value = seed
    p.generate.click()
    assert "whole number" in p.error_box.value and len(p.error_box.value) < 400
    assert fake.calls == []


class _Unreadable(support.RecordingSession):
    """A service answering with a file that is no image (a relay's error page saved as image.png)."""

    def image(self, prompt: str, **kw: Any) -> support.FakeResult:
        out = {**self._file("bad.png", b"<html>not an image</html>"), "mime": "image/png", "role": "image"}
        return self._record("image", (prompt,), kw, [out])


def test_a_paid_image_that_cannot_be_shown_keeps_its_tile_and_save(tmp_path):
    """A returned file PIL cannot read raised in the gallery: the status line stayed on 'Generating…', the error
    box quoted a Python object, and the paid file had no Save button. Now its tile says it is not shown, Save
    copies it, and the status line says the call finished."""
    fake = _Unreadable(tmp_path)
    p = panel("image", fake, save_dir=tmp_path / "out")
    p.prompt.value = "x"
    p.generate.click()
    p.wait(30)
    assert p.error_box.value == "" and "Generating" not in p.status.value and "entry #1" in p.status.value
    (tile,) = p.gallery.children
    shown, (save, _caption) = tile.children[0], tile.children[1].children
    assert "Not shown" in shown.value and "object at" not in shown.value
    save.click()
    assert (tmp_path / "out" / "tokenhot-1-1.png").read_bytes() == b"<html>not an image</html>"


def _sim_price(model: str) -> float:
    """The simulator's per-call price of ``model`` in USD (its ``/api/pricing`` row, as the wire carries it)."""
    from tokenhot_nb.sim._pricing import PRICING

    (row,) = [r for r in PRICING if r["model_name"] == model]
    return float(row["model_price"])


def test_the_image_panel_says_what_a_click_costs_and_follows_its_options(offline):
    """Every click is paid for, and the panel said nothing of what one costs before it was made. Now a line under
    the button says, again whenever the model, the count or the edit source changes; working it out sends
    nothing, and options that cannot make a call yet (a seed half typed) show no price."""
    p = panel("image", offline)
    p.model.value = "gpt-image-2"
    assert f"Cost: ${_sim_price('gpt-image-2'):.4f}" in p.price.value and "simulated" in p.price.value
    p.n.value = 3
    assert f"Cost: ${3 * _sim_price('gpt-image-2'):.4f}" in p.price.value
    p.model.value = "dall-e-3"
    assert f"Cost: ${_sim_price('dall-e-3'):.4f}" in p.price.value
    p.seed.layout.display = None
    p.model.value = "doubao-seedream-4-5-251128"
    p.seed.value = "4x"
    assert p.price.value == ""
    p.seed.value = "42"
    assert f"Cost: ${_sim_price('doubao-seedream-4-5-251128'):.4f}" in p.price.value
    assert len(offline.history) == 0  # priced, never sent


def test_a_panel_on_the_shared_session_names_it_in_its_fixes(offline, shared_offline):
    """``%th_panel image`` (the shared session): an image cut at the download cap said to fetch it with
    ``session.resume(1)``, a name its user does not have. A panel given a session of the notebook's keeps the
    Python form."""
    import re

    for session, said in ((None, "tokenhot_nb.session().resume("), (offline, "session.resume(")):
        (session or shared_offline).settings.download_cap = 100  # (smaller than any image the simulator makes)
        p = panel("image", session)
        p.prompt.value = "a lighthouse"
        p.generate.click()
        p.wait(60)
        shown = p.error_box.value
        assert said in shown, shown
        if session is None:
            assert not re.search(r"(?<![\w.])session\.[a-z]", shown), shown
