"""History panel, studio and panel(): browse, filter, preview, export, rerun; names; lazy import."""

from __future__ import annotations

import json
import subprocess
import sys

import _widgets_support as support
import ipywidgets as w
import pytest

import tokenhot_nb
from tokenhot_nb.errors import InputError, TokenhotError
from tokenhot_nb.widgets import PANELS, panel, studio

fake = support.fake  # fixture
offline = support.offline  # fixture
shared_offline = support.shared_offline  # fixture


def test_unknown_panel_names_the_choices():
    with pytest.raises(InputError) as info:
        panel("imgae")
    text = str(info.value)
    assert "Unknown panel 'imgae'" in text
    for name in ("image", "chat", "video", "audio", "history"):
        assert name in text
    assert isinstance(info.value, (TokenhotError, ValueError))


@pytest.mark.parametrize("name", list(PANELS))
def test_a_panel_given_something_else_than_a_session_is_one_line(name):
    """panel('image', session=5) was an AttributeError traceback from the model picker; studio(5) too."""
    from tokenhot_nb.errors import WrongTypeError

    with pytest.raises(WrongTypeError, match=r"^A panel takes a Session \(or nothing, for the shared one\), not int"):
        panel(name, session=5)
    with pytest.raises(WrongTypeError, match="not str"):
        studio("image")


def test_top_level_names_reach_the_panels(fake):
    assert set(PANELS) == {"image", "chat", "video", "audio", "history"}
    assert type(tokenhot_nb.panel("history", fake)).__name__ == "HistoryPanel"
    s = tokenhot_nb.studio(fake)
    assert s.tabs.titles == ("Image", "Chat", "Video", "Audio", "History")
    assert all(p.session is fake for p in s.panels.values())


def test_importing_the_package_does_not_import_ipywidgets():
    code = "import sys, tokenhot_nb; tokenhot_nb.Session; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_history_browse_filter_preview_export_rerun(offline, tmp_path):
    offline.image("a red fox", model="gpt-image-2", size="1024x1024")
    offline.chat("hello", thread="h")
    offline.speak("good morning")
    p = panel("history", offline)
    assert len(p.entries) == 3 and p.selected.kind == "speak"  # newest first
    assert isinstance(p.preview.children[0], w.Audio)
    assert "s.speak(" in p.code.value
    assert len(p.previews.children) == 1  # one image thumbnail in the strip
    p.kind_filter.value = "image"
    assert [e.kind for e in p.entries] == ["image"]
    assert isinstance(p.preview.children[0], w.Image)
    p.kind_filter.index = 0  # back to "all", as a click in the browser does
    assert p.kind_filter.label == "all" and len(p.entries) == 3
    p.search.value = "hello"
    assert [e.kind for e in p.entries] == ["chat"]
    assert "hello" in p.preview.children[0].value
    p.search.value = ""
    p.list.value = next(e.id for e in p.entries if e.kind == "image")
    p.rerun_button.click()
    p.wait(60)
    assert p.error_box.value == "", p.error_box.value
    assert len(p.entries) == 4 and p.selected.kind == "image" and p.selected.params["prompt"] == "a red fox"
    p.export_path.value = str(tmp_path / "h.json")
    p.export_button.click()
    p.wait(30)
    exported = json.loads((tmp_path / "h.json").read_text())
    assert len(exported) == 4


def test_filters_show_all_after_another_choice(fake):
    """A Dropdown whose value is None shows a blank box: "all" must stay visible after a round trip."""
    p = panel("history", fake)
    for dropdown, other in ((p.kind_filter, "image"), (p.status_filter, "error")):
        assert dropdown.label == "all"
        dropdown.value = other
        dropdown.index = 0
        assert dropdown.label == "all" and dropdown.index == 0


def test_studio_tabs_share_one_history(offline):
    s = studio(offline)
    img = s.panels["image"]
    img.prompt.value = "a teapot"
    img.generate.click()
    img.wait(60)
    s.tabs.selected_index = 4  # opening History refreshes it
    assert s.panels["history"].entries[0].params["prompt"] == "a teapot"
    assert "offline mode" in s.children[0].value


def test_an_entry_shows_as_inert_key_free_text(offline):
    """A row is data (a store from another version or tool): markup shows as text, and a key a relay split with
    a control character (which the panel drops, joining it) is masked in the detail and the preview."""
    from tokenhot_nb.history import HistoryEntry

    key = "sk-HISTPANEL-split-KEY-0123456789"
    split = key[:8] + "\x00" + key[8:]
    offline.store.insert(HistoryEntry(kind="chat", model="<img src=x onerror=alert(1)>", status="error",
                                      params={"message": f"see {split}"}, text=f"answer {split} <script>x</script>",
                                      error={"message": f"<b>boom</b> {split}", "hint": "<i>h</i>"}))
    p = panel("history", offline)
    shown = [p.detail.value, *(c.value for c in p.preview.children), p.list.options[0][0]]
    assert p.list.options[0][0].endswith(" [error]")
    for html in shown:
        assert key not in html and "\x00" not in html, html
    assert "<img" not in p.detail.value and "&lt;img src=x onerror=alert(1)&gt;" in p.detail.value
    assert "<script>" not in shown[1] and "sk-****" in shown[1] and "sk-****" in p.detail.value


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width``×``height`` (its pixel data is a few rows: a "pixel bomb")."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + head + chunk(b"IDAT", zlib.compress(b"\0" * (1 + 3 * width) * 2)) + chunk(b"IEND", b"")


def test_a_pixel_bomb_in_the_history_preview_is_one_line_and_never_decoded(offline, monkeypatch):
    """A stored image whose header claims 12000×12000 (below Pillow's own error limit, so it only warned) was
    decoded whole for the panel's preview, half a gigabyte per image; now the preview says why it is not shown
    and no pixel is decoded."""
    from PIL import ImageFile

    res = offline.image("a red fox", model="gpt-image-2", size="1024x1024")
    offline.store.wait_thumbnails()
    res.path.write_bytes(_png_claiming(12000, 12000))  # (the stored file, gone bad)
    decoded: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def load(self):  # type: ignore[no-untyped-def]
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    p = panel("history", offline)
    (shown,) = p.preview.children
    assert isinstance(shown, w.HTML) and "12000×12000 pixels: too large to decode for display" in shown.value
    assert (12000, 12000) not in decoded


def test_search_words_the_history_refuses_say_why(offline):
    """A search the history refuses (a lone surrogate pasted in) showed '0 entries' and nothing else: the refusal
    went to an observer's log. Now its one line is in the panel, and goes away with the next good search."""
    offline.chat("hello there about foxes")
    p = panel("history", offline)
    p.search.value = "fox \ud800"
    assert "lone surrogate" in p.error_box.value and p.error_box.layout.display is None
    assert p.list.options == ()
    p.search.value = "foxes"
    assert p.error_box.value == "" and len(p.list.options) == 1


@pytest.mark.parametrize("name, options, said", [
    ("image", {"foo": 1}, "takes no option 'foo'"),
    ("chat", {"save_dir": "x"}, "takes no option 'save_dir'"),
    ("image", {"recent": "8"}, "whole number"),
    ("history", {"limit": -5}, "whole number"),
    ("video", {"inline_limit": True}, "whole number"),
    ("image", {"save_dir": 5}, "folder path"),
])
def test_a_panel_option_it_does_not_take_is_one_line(fake, name, options, said):
    """panel('image', recent='8') was 'TypeError: slice indices must be integers' from inside the panel, and an
    unknown option a TypeError about __init__; both are one InputError line naming the options."""
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError) as caught:
        panel(name, fake, **options)
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_a_pending_video_is_resumed_not_paid_for_again(offline):
    """'Run again' on a video task still pending (a kernel restarted mid-poll) submitted and paid for a second
    video while the first was still being made; the button now says Resume and picks the task up again."""
    task = offline.video("a kite", wait=False, progress=False)
    p = panel("history", offline)
    p.list.value = task.entry.id
    assert p.rerun_button.description == "Resume" and "nothing new is paid" in p.rerun_button.tooltip
    p.rerun_button.click()
    p.wait(120)
    assert p.error_box.value == "", p.error_box.value
    assert offline.history.ids == [task.entry.id] and offline.history.get(task.entry.id).status == "ok"
    assert p.selected.id == task.entry.id and p.rerun_button.description == "Run again"


def test_run_again_says_what_the_call_cost(offline):
    """'Run again' makes a new paid call with nothing saying what it costs; the entry's line and the button's
    tooltip now show what this same call cost."""
    offline.image("a red fox", model="gpt-image-2", size="1024x1024")
    p = panel("history", offline)
    cost = str(offline.history.last.cost)
    assert "$" in cost and cost in p.rerun_button.tooltip and "paid" in p.rerun_button.tooltip
    assert cost in p.detail.value


def test_an_export_path_with_a_lone_surrogate_is_one_line(offline, tmp_path):
    """A lone surrogate pasted into the export path was a UnicodeEncodeError from deep in the export."""
    offline.chat("hello")
    p = panel("history", offline)
    p.export_path.value = str(tmp_path / "h\ud800.json")
    p.export_button.click()
    p.wait(30)
    shown = p.error_box.value
    assert "invalid character" in shown and "lone surrogate" in shown and "UnicodeEncodeError" not in shown


def test_an_entrys_error_on_the_shared_session_names_it_and_the_row_keeps_it(offline, shared_offline):
    """``%th_panel history``: an image cut at the download cap showed its row's fix, "fetch it with
    session.resume(1)", a name the panel's user does not have. On the shared session it names
    ``tokenhot_nb.session()``; the row, and a panel given the notebook's own session, keep the Python form."""
    import re

    for session, said in ((None, "tokenhot_nb.session().resume("), (offline, "session.resume(")):
        s = session or shared_offline
        s.settings.download_cap = 100  # (smaller than any image the simulator makes)
        with pytest.raises(TokenhotError):
            s.image("a lighthouse")
        p = panel("history", session)
        p.list.value = s.history.last.id
        shown = p.detail.value
        assert said in shown, shown
        if session is None:
            assert not re.search(r"(?<![\w.])session\.[a-z]", shown), shown
        assert "(session.settings.download_cap" in s.history.last.error["hint"]  # (stored as it was)
