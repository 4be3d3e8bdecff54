"""Every entry of the seed menu runs on every surface (Session, magic, panel) against the offline simulator.

The menu is read from the seed list itself (tests/fixtures/seed/), so a new entry there is a new row here. A
menu name can select more than a model ("GPT 5(Responses)" the Responses API, "whisper-1(音频翻译)" a
translation, "…(图片编辑)" an edit): each surface must reach that too, and the history says it did.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _widgets_support import png_bytes, upload_value
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

import tokenhot_nb
from tokenhot_nb import Session, catalog
from tokenhot_nb.catalog import ModelInfo
from tokenhot_nb.history import HistoryEntry
from tokenhot_nb.sim import serve
from tokenhot_nb.widgets import panel

SEED = Path(__file__).parent / "fixtures" / "seed" / "tokenhot-docs-seed.txt"
SURFACES = ("session", "magic", "panel")
MESSAGE = "Say hello to the menu."


def menu_entries() -> list[str]:
    """The model entries of the seed menu (the '获取视频任务信息' poll pages are routes, not models)."""
    section = SEED.read_text(encoding="utf-8").split("• Image Models", 1)[1].split("• 服务", 1)[0]
    leaves = [m.group(1).strip() for m in re.finditer(r"^\s{6}• (.+)$", section, re.M)]
    return [name for name in leaves if "获取视频" not in name]


MENU = menu_entries()


def is_edit(name: str, info: ModelInfo) -> bool:
    return "图片编辑" in name or info.can("edit_only")


def speaks(info: ModelInfo) -> bool:
    return bool(info.choices("voices")) or "audio.speech" in info.endpoints  # (mimo's voices are not listed)


def expected(name: str, info: ModelInfo) -> tuple[str, str | None]:
    """(history kind, endpoint) the entry must be recorded with; None: the model's own default."""
    if info.kind == "chat":
        endpoint = info.preset.get("endpoint") or info.endpoints[0]
        return "chat", {"gemini.generate": "gemini.stream"}.get(endpoint, endpoint)  # every surface streams
    if info.kind == "image":
        return ("edit" if is_edit(name, info) else "image"), None
    if info.kind == "video":
        return "video", None
    if speaks(info):
        return "speak", None
    translate = info.preset.get("task") == "translate"
    return ("translate" if translate else "transcribe"), ("audio.translations" if translate
                                                         else "audio.transcriptions")


# -- one offline world for the whole matrix ------------------------------------------------------------------
class World:
    def __init__(self, session: Session, ip: Any) -> None:
        self.s = session
        self.ip = ip
        self.png = png_bytes((64, 64), "teal")
        self.speech = session.speak("The menu speaks.", model="gemini-2.5-flash-preview-tts")
        self.wav = self.speech.path.read_bytes()
        self.clip = session.video("a paper boat", model="happyhorse-1.0-t2v", progress=False)
        ip.user_ns.update(frame=self.png, speech=self.speech, clip=self.clip)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    shell = start_ipython() or get_ipython()  # the test shell is one per process
    shell.run_line_magic("load_ext", "tokenhot_nb")
    s = Session(mode="offline", store=tmp_path_factory.mktemp("matrix") / "store", poll_interval=0.02)
    tokenhot_nb.set_session(s)  # the magics and panels use the shared default session
    try:
        yield World(s, shell)
    finally:
        tokenhot_nb.session(reset=True, mode="offline", store=tmp_path_factory.mktemp("after")).close()
        s.close()


# -- the three surfaces --------------------------------------------------------------------------------------
def on_session(world: World, name: str, info: ModelInfo) -> None:
    s, kind = world.s, expected(name, info)[0]
    if kind == "chat":
        s.chat(MESSAGE, model=name, new_thread=True)
    elif kind == "edit":
        s.edit([world.png], "Add a small red hat.", model=name)
    elif kind == "image":
        s.image("A lighthouse at dusk.", model=name)
    elif kind == "video":
        s.video("The boat drifts.", model=name, progress=False, **video_inputs(world, info))
    elif kind == "speak":
        s.speak("Hello from the menu.", model=name)
    else:
        s.transcribe(world.speech, model=name)


def video_inputs(world: World, info: ModelInfo) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if info.can("requires_image"):
        kw["image" if info.can("first_frame") else "images"] = world.png if info.can("first_frame") else [world.png]
    if info.can("requires_video"):
        kw["video"] = world.clip
    return kw


def on_magic(world: World, name: str, info: ModelInfo) -> None:
    kind = expected(name, info)[0]
    model = f'-m "{name}"'
    source = {
        "chat": f"%%th_chat {model} --new\n{MESSAGE}",
        "edit": f"%%th_image {model} --edit frame\nAdd a small red hat.",
        "image": f"%%th_image {model}\nA lighthouse at dusk.",
        "speak": f"%%th_audio {model}\nHello from the menu.",
        "transcribe": f"%th_transcribe speech {model}",
        "translate": f"%th_transcribe speech {model}",
    }.get(kind)
    if kind == "video":
        opts = ""
        if info.can("requires_image"):
            opts += " --image frame" if info.can("first_frame") else " --ref frame"
        if info.can("requires_video"):
            opts += " --video clip"
        source = f"%%th_video {model}{opts}\nThe boat drifts."
    assert source is not None
    with capture_output(display=True) as cap:
        res = world.ip.run_cell(source)
    assert res.error_in_exec is None, cap.stderr
    shown = " ".join(str(o.data.get("text/plain", "")) for o in cap.outputs)
    assert "Error" not in shown and "failed" not in shown.lower(), shown


def on_panel(world: World, name: str, info: ModelInfo) -> None:
    """The panel's pickers hold model ids; what the menu name selects is set the way a user would."""
    kind, endpoint = expected(name, info)
    if kind == "chat":
        p: Any = panel("chat")
        p.model.value = info.id
        p.api.value = endpoint
        p.input.value = MESSAGE
        click = p.send
    elif kind in ("image", "edit"):
        p = panel("image")
        p.model.value = info.id
        p.prompt.value = "Add a small red hat." if kind == "edit" else "A lighthouse at dusk."
        if kind == "edit":
            p.upload.value = upload_value(world.png, "frame.png", "image/png")
            assert p.source.value == "upload"
        click = p.generate
    elif kind == "video":
        p = panel("video")
        p.model.value = info.id
        p.prompt.value = "The boat drifts."
        if info.can("requires_image"):
            p.upload.value = upload_value(world.png, "frame.png", "image/png")
        if info.can("requires_video") and info.can("media_urls_only"):  # (by URL only: no upload offered)
            p.video_source.value = f"#{world.clip.entry.id}"
        elif info.can("requires_video"):
            p.video_upload.value = upload_value(world.clip.path.read_bytes(), "clip.mp4", "video/mp4")
        click = p.generate
    elif kind == "speak":
        p = panel("audio")
        p.tts_model.value = info.id
        p.text.value = "Hello from the menu."
        click = p.speak_button
    else:
        p = panel("audio")
        p.stt_model.value = info.id
        p.task.value = kind
        if info.preset.get("language"):
            p.language.value = info.preset["language"]
        p.upload.value = upload_value(world.wav, "speech.wav", "audio/wav")
        click = p.listen_button
    click.click()
    p.wait(120)
    assert p.error_box.value == "", p.error_box.value


RUN: dict[str, Callable[[World, str, ModelInfo], None]] = {"session": on_session, "magic": on_magic,
                                                            "panel": on_panel}


def outputs_of(entry: HistoryEntry) -> set[str]:
    return {str(o.get("role")) for o in entry.outputs}


def check_entry(world: World, name: str, info: ModelInfo, run: Any) -> None:
    """Run one menu entry on one surface and check the history row it left."""
    kind, endpoint = expected(name, info)
    before = world.s.history.last
    run(world, name, info)
    entry = world.s.history.last
    assert entry is not None and (before is None or entry.id != before.id), "no call was recorded"
    assert (entry.kind, entry.model, entry.status) == (kind, info.id, "ok"), entry.error
    if endpoint is not None:
        assert entry.endpoint == endpoint
    if info.preset.get("language"):
        assert entry.params.get("language") == info.preset["language"]
    if info.can("requires_video"):  # a model that fetches videos itself is sent the clip's link
        assert entry.params["video"] == ({"url": world.clip.url} if info.can("media_urls_only")
                                         else {"artifact": world.clip.sha256, "mime": "video/mp4"})
    want = {"chat": "text", "image": "image", "edit": "image", "video": "video", "speak": "audio"}.get(kind, "text")
    assert want in outputs_of(entry) or (kind in ("transcribe", "translate") and entry.outputs), entry.outputs


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("name", MENU)
def test_menu_entry_runs_on_surface(world: World, name: str, surface: str) -> None:
    check_entry(world, name, catalog.model(name), RUN[surface])


# -- the same menu live, over loopback HTTP, plus models only the service's price table knows -----------------
@pytest.fixture(scope="module")
def live_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = serve("127.0.0.1", 0)
    shell = start_ipython() or get_ipython()
    s = Session(api_key="sk-matrix-live-0123456789", base_url=server.url, mode="live",
                store=tmp_path_factory.mktemp("matrix-live") / "store", poll_interval=0.02)
    try:
        yield World(s, shell)
    finally:
        s.close()
        server.stop()


#: Models of the reference's §10.1 that the built-in menu does not list (video ones: tests/test_video_matrix.py).
LIVE_ONLY = ["deepseek-v4-pro", "deepseek-v4.1-flash", "deepseek-v4.1-flash-free", "mimo-v2.5-tts"]


@pytest.mark.parametrize("name", MENU + LIVE_ONLY)
def test_menu_entry_runs_live_over_loopback(live_world: World, name: str) -> None:
    info = live_world.s.model(name)
    check_entry(live_world, name, info, on_session)
    last = live_world.s.history.last
    assert last is not None
    # every call is priced from the table, except a per-token one whose answer reported no tokens (unknown)
    assert last.cost.known or not (last.usage.get("input_tokens") or last.usage.get("output_tokens")), last.usage


def test_the_matrix_covers_the_whole_menu() -> None:
    assert len(MENU) == 56 and len(set(MENU)) == 56  # tests/test_catalog.py guards the seed list's content
    kinds = {catalog.model(n).kind for n in MENU}
    assert kinds == {"image", "video", "audio", "chat"}
