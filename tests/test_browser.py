"""The panels in a real browser: JupyterLab + headless Chromium against the offline simulator.

Generates an image (an <img> of the right natural size), streams a chat (the text grows, then is final),
makes a video (the <video> reaches readyState >= 2) and speaks text (the <audio> loads); then runs the magics
``%%th_image`` and ``%%th_video`` in cells and checks their outputs load too. The server runs without
``--ContentsManager.allow_hidden`` and the session uses the default store ``.tokenhot/``, so the videos must
play from the visible ``tokenhot-media/`` folder. Screenshots go to test-output/; with
``TOKENHOT_UPDATE_SCREENSHOTS=1`` the studio screenshot is also copied to docs/img/studio.png for the README.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from browser.lab import CHROMIUM, REPO, chromium, jupyterlab, notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

OUT = REPO / "test-output"

SETUP = """\
import tokenhot_nb
from tokenhot_nb.sim import Faults, SimTransport
# slow the simulated stream a little so the growing answer is visible; poll video tasks quickly
s = tokenhot_nb.session(transport=SimTransport(faults=Faults(chunk_delay=0.03)), poll_interval=0.3)
studio = tokenhot_nb.studio(s)
studio"""

# a video too big for the widget channel is an HTML <video> whose source is Jupyter's file handler
BIG_VIDEO = """\
from tokenhot_nb.widgets._entries import outputs
from tokenhot_nb.widgets._media import video_widget
entry = s.history.filter(kind="video", status="ok").last
big = video_widget(outputs(s, entry, ("video",))[0][0], limit=0)
big.add_class("tokenhot-big")
big"""

# the magics, with the shared session above (default store, hidden from the server)
MAGICS = "%load_ext tokenhot_nb\nassert s.settings.store.resolve() == (Path.cwd() / '.tokenhot').resolve()"
TH_IMAGE = "%%th_image --seed 3\na red kite over the sea"
TH_VIDEO = "%%th_video -m seedance-2.0-fast --duration 4\nwaves at dawn"
CELLS = [SETUP, BIG_VIDEO, "from pathlib import Path\n" + MAGICS, TH_IMAGE, TH_VIDEO]


def _requirements() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("jupyterlab")


def _shot(page, name: str) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    page.screenshot(path=str(path), full_page=False)
    return path


def _tab(page, title: str) -> None:
    page.locator(".tokenhot-studio .lm-TabBar-tab", has_text=title).first.click()


def test_studio_in_jupyterlab(tmp_path):
    _requirements()
    root = tmp_path / "root"
    root.mkdir()
    (root / "studio.ipynb").write_text(json.dumps(notebook(CELLS)))
    started = time.monotonic()
    with jupyterlab(root) as lab, chromium() as page:
        try:
            _drive(page, lab)
        except BaseException:
            _shot(page, "failure.png")
            print(page.evaluate("() => [...document.querySelectorAll('.tokenhot-recent')]"
                                ".map(e => e.innerText + ' | ' + e.outerHTML.slice(-900))"))
            print("console errors:", page.console_errors[-10:])
            for err in page.locator(".jupyter-widgets-error-widget").all()[:2]:
                err.click()
                print("widget error:", err.inner_text()[:1500])
            print(lab.tail())
            raise
    print(f"browser test: {time.monotonic() - started:.1f} s")
    assert list(root.glob("tokenhot-media/*.mp4")), "the displayed videos were published beside the store"


def _drive(page, lab) -> None:
    page.set_default_timeout(60_000)
    page.goto(f"{lab.url}/lab/tree/studio.ipynb?token={lab.token}")
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.wait_for()
    # the kernel is up when the status bar says Idle; then run the cell
    page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")
    studio = page.locator(".tokenhot-studio")
    studio.wait_for(timeout=90_000)

    # -- image: the options follow the model, the thumbnail has the right natural size ----------------
    image = page.locator(".tokenhot-image")
    image.locator("textarea").first.fill("a lighthouse on a cliff at dusk")
    picker = image.locator("select").first
    # the label also says where the entry comes from and its price (ipywidgets writes its spaces as
    # no-break spaces): pick the option by its name part
    want = "GPT Image-2 (gpt-image-2)"
    page.wait_for_function("([el, want]) => [...el.options].some(o => o.text.replace(/\\u00a0/g, ' ')"
                           ".startsWith(want))", arg=[picker.element_handle(), want])
    labels = [t.replace("\xa0", " ") for t in picker.locator("option").all_inner_texts()]
    picker.select_option(index=next(i for i, t in enumerate(labels) if t.startswith(want)))
    size = image.locator(".widget-dropdown", has_text="Size").locator("select")
    page.wait_for_function("el => [...el.options].some(o => o.text === '1536x1024')", arg=size.element_handle())
    size.select_option(label="1536x1024")
    image.locator("button", has_text="Generate").click()
    img = image.locator(".tokenhot-gallery img.tokenhot-thumb").first
    img.wait_for()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=img.element_handle())
    natural = img.evaluate("el => [el.naturalWidth, el.naturalHeight]")
    assert natural == [512, 341], natural  # 1536x1024 scaled to fit 512
    image.locator(".tokenhot-recent img").first.wait_for(state="attached")
    _shot(page, "image.png")
    studio_png = _shot(page, "studio.png")
    if os.environ.get("TOKENHOT_UPDATE_SCREENSHOTS") == "1":  # else the work tree stays clean
        shutil.copyfile(studio_png, _docs_img("studio.png"))

    # -- chat: the answer grows while it streams, then is final ---------------------------------------
    _tab(page, "Chat")
    chat = page.locator(".tokenhot-chat")
    chat.locator("textarea").last.fill("Tell me about lighthouses.")
    page.evaluate("""() => { window.__lens = []; window.__timer = setInterval(() => {
        const el = document.querySelector('.tokenhot-chat .tokenhot-answer .tokenhot-text');
        if (el) window.__lens.push(el.textContent.length); }, 15); }""")
    chat.locator("button", has_text="Send").click()
    chat.locator(".tokenhot-answer.tokenhot-final").wait_for()
    lens = page.evaluate("() => { clearInterval(window.__timer); return window.__lens; }")
    final = chat.locator(".tokenhot-answer .tokenhot-text").inner_text()
    growing = sorted({n for n in lens if 1 < n < len(final)})
    assert len(final) > 20 and len(growing) >= 2, (lens[-20:], final)
    _shot(page, "chat.png")

    # -- video: progress, then the player plays the simulator's H.264 MP4 -----------------------------
    _tab(page, "Video")
    page.locator(".tokenhot-panel.tokenhot-video textarea").first.fill("waves rolling onto a beach")
    page.locator(".tokenhot-panel.tokenhot-video button", has_text="Make video").click()
    player = page.locator(".tokenhot-panel.tokenhot-video .tokenhot-player video")
    player.wait_for(timeout=90_000)
    page.wait_for_function("el => el.readyState >= 2", arg=player.element_handle(), timeout=60_000)
    assert "succeeded" in page.locator(".tokenhot-panel.tokenhot-video").inner_text()
    _shot(page, "video.png")
    page.locator(".jp-Notebook .jp-Cell .cm-content").nth(1).click()
    page.keyboard.press("Shift+Enter")
    big = page.locator(".tokenhot-big video")
    big.wait_for()
    page.wait_for_function("el => el.readyState >= 2 && el.currentSrc.includes('/files/')",
                           arg=big.element_handle())
    assert "/files/tokenhot-media/" in big.evaluate("el => el.currentSrc")  # not the hidden store

    # -- audio: speak, the <audio> loads ---------------------------------------------------------------
    _tab(page, "Audio")
    audio_panel = page.locator(".tokenhot-panel.tokenhot-audio")
    audio_panel.locator("textarea").first.fill("Hello from the Tokenhot studio.")
    audio_panel.locator("button", has_text="Speak").click()
    audio = audio_panel.locator(".tokenhot-player audio")
    audio.wait_for()
    page.wait_for_function("el => el.readyState >= 2 && el.duration > 0", arg=audio.element_handle())
    _shot(page, "audio.png")

    # -- history: everything above is listed -----------------------------------------------------------
    _tab(page, "History")
    history = page.locator(".tokenhot-panel.tokenhot-history")
    page.wait_for_function(
        "() => document.querySelectorAll('.tokenhot-history select[multiple] option, "
        ".tokenhot-history .widget-select select option').length >= 4")
    _shot(page, "history.png")
    assert "speak" in history.inner_text()

    _magics(page)


def _run_cell(page, index: int):
    """Run code cell ``index`` and return its output area."""
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    return cell.locator(".jp-OutputArea")


def _magics(page) -> None:
    """%%th_image shows a loaded <img>; %%th_video ends in a <video> that plays from the default store."""
    _run_cell(page, 2)
    image_out = _run_cell(page, 3)
    img = image_out.locator("img").first
    img.wait_for(timeout=60_000)
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=img.element_handle())
    assert img.get_attribute("alt") == "a red kite over the sea"  # what a screen reader says: the prompt
    video_out = _run_cell(page, 4)
    video = video_out.locator("video").first
    video.wait_for(timeout=90_000)
    video.scroll_into_view_if_needed()
    page.wait_for_function("el => el.readyState >= 2", arg=video.element_handle(), timeout=60_000)
    src = video.evaluate("el => el.currentSrc")
    assert "tokenhot-media/" in src and ".tokenhot" not in src, src
    poster = video.evaluate("el => el.poster")
    assert poster.startswith("data:image/jpeg")  # Lab rewrites src URLs, not poster: the poster is inline
    assert video.evaluate("""async el => { const i = new Image(); i.src = el.poster; await i.decode();
                                           return i.naturalWidth; }""") > 0
    _shot(page, "magics.png")


def _docs_img(name: str) -> Path:
    folder = REPO / "docs" / "img"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
