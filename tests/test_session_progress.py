"""The progress display: an HTML bar updated in place in a notebook, a text line on a TTY, nothing elsewhere."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import _progress
from tokenhot_nb._progress import Progress


class FakeHandle:
    def __init__(self, log: list[tuple[str, str, str]]) -> None:
        self.log = log

    def update(self, obj: Any) -> None:
        self.log.append(("update", obj.data, threading.current_thread().name))


@pytest.fixture
def notebook(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Pretend to be in a kernel: record display() and handle.update() calls and the thread they ran on."""
    log: list[tuple[str, str, str]] = []

    def display(obj: Any, display_id: bool = False) -> FakeHandle:
        assert display_id is True
        log.append(("display", obj.data, threading.current_thread().name))
        return FakeHandle(log)

    import IPython.display

    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(_progress, "_MIN_INTERVAL", 0.0)
    return log


def test_html_bar_updates_in_place(notebook: list) -> None:
    bar = Progress(4, "images")
    bar.update(1)
    bar.update(3, failed=1, note="retrying")
    bar.close()
    kinds = [k for k, _, _ in notebook]
    assert kinds[0] == "display" and set(kinds[1:]) == {"update"}
    last = notebook[-1][1]
    assert "width:75%" in last and "3/4" in last and "1 failed" in last and "retrying" in last



def test_the_bar_left_in_the_notebook_has_no_timing(notebook: list, monkeypatch: pytest.MonkeyPatch) -> None:
    """While it runs the bar shows the time so far; the bar it leaves says what was done and spent, not how long
    it took, so a notebook re-run (in replay mode, say) shows the same output."""
    now = [100.0]
    monkeypatch.setattr(_progress.time, "monotonic", lambda: now[0])
    bar = Progress(2, "models")
    now[0] = 101.5
    bar.update(1, force=True)
    assert "models: 1/2 · 1.5s" in notebook[-1][1]
    now[0] = 107.25
    bar.update(2)
    bar.close(note="spent $0.10")
    final = notebook[-1][1]
    assert "models: 2/2 · spent $0.10</div>" in final and "7.2" not in final

def test_updates_are_throttled(notebook: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_progress, "_MIN_INTERVAL", 60.0)
    bar = Progress(100, "x")
    for i in range(1, 100):
        bar.update(i)
    assert len(notebook) == 1  # only the initial display: every update fell inside the interval
    bar.update(100)  # the final state always draws
    assert len(notebook) == 2 and "100/100" in notebook[-1][1]


def test_unknown_total_shows_a_percentage(notebook: list) -> None:
    bar = Progress(None, "video")
    bar.update(40, note="running", force=True)
    assert "40%" in notebook[-1][1] and "width:40%" in notebook[-1][1]


def test_text_on_a_tty_and_nothing_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    class TTY(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = TTY()
    monkeypatch.setattr("sys.stderr", out)
    monkeypatch.setattr(_progress, "_MIN_INTERVAL", 0.0)
    bar = Progress(2, "chats")
    bar.update(2)
    bar.close()
    assert "\rchats: 2/2" in out.getvalue() and out.getvalue().endswith("\n")
    plain = io.StringIO()
    monkeypatch.setattr("sys.stderr", plain)
    quiet = Progress(2, "chats")
    quiet.update(1)
    quiet.close()
    assert plain.getvalue() == "" and Progress(2, "x", enabled=False)._mode == "off"


def test_a_refused_video_prints_no_line_on_a_tty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """In a terminal, a call refused before it started still wrote its closing bar ("video: 0%")."""
    from tokenhot_nb.errors import InputError, UnsupportedOptionError

    class TTY(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = TTY()
    monkeypatch.setattr("sys.stderr", out)
    s = make_session(tmp_path / "st", Recorder())
    with pytest.raises(UnsupportedOptionError):
        s.video("a wave", model="gpt-image-2")
    with pytest.raises(InputError):
        s.video("a horse", model="happyhorse-1.0-i2v")  # needs a first frame
    assert out.getvalue() == ""
    waiting = Progress(None, "video")  # a wait that reported once still ends its line
    waiting.update(40, note="running", force=True)
    waiting.close()
    assert out.getvalue().startswith("\rvideo: 40% · running") and out.getvalue().endswith("\n")
    s.close()


def test_broken_display_never_breaks_the_call(notebook: list) -> None:
    bar = Progress(2, "x")

    def boom(obj: Any) -> None:
        raise RuntimeError("frontend went away")

    bar._handle.update = boom
    bar.update(1)
    bar.update(2)
    assert bar._mode == "off"


def test_batch_bar_lives_in_the_calling_thread(notebook: list, tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    batch = s.image(["a", "b", "c"], model="gpt-image-2", progress=True)
    assert not batch.failed
    me = threading.current_thread().name
    assert notebook[0][0] == "display" and all(thread == me for _, _, thread in notebook)
    assert "3/3" in notebook[-1][1]
    video = s.video("waves", progress=True)
    assert video.path.is_file() and all(thread == me for _, _, thread in notebook)
    assert any("succeeded" in html for _, html, _ in notebook)
    s.close()


def test_a_wait_shows_its_bar_only_once_there_is_a_status(notebook: list[tuple[str, str, str]]) -> None:
    refused = Progress(None, "video")
    refused.close()  # the call failed validation: no empty bar is left in the cell
    assert notebook == []
    waiting = Progress(None, "video")
    waiting.update(30, note="running", force=True)
    waiting.close()
    assert [kind for kind, *_ in notebook] == ["display", "update"] and "30%" in notebook[0][1]
    notebook.clear()
    Progress(3, "images")  # a batch shows its bar at once
    assert [kind for kind, *_ in notebook] == ["display"]


def test_a_refused_video_leaves_no_bar(notebook: list[tuple[str, str, str]], tmp_path: Path) -> None:
    from tokenhot_nb.errors import InputError

    s = make_session(tmp_path / "st", Recorder())
    with pytest.raises(InputError):
        s.video("a horse", model="happyhorse-1.0-i2v")  # needs a first frame
    assert notebook == []
    s.close()


def test_a_batch_bar_counts_what_calls_whose_files_did_not_arrive_spent(notebook: list, tmp_path: Path) -> None:
    """The bar said nothing was spent for paid images whose files could not be downloaded."""
    from tokenhot_nb.sim import Faults

    s = make_session(tmp_path / "st", Recorder(Faults(expire_downloads=True)), max_retries=0)
    batch = s.image(["a", "b"], model="gpt-image-2", concurrency=1, progress=True)
    assert len(batch.failed) == 2
    assert "spent $0.0560" in notebook[-1][1]
    s.close()


@pytest.mark.parametrize("call", [
    lambda s: s.image(["a", "b"], model="nonesuch", progress=True),
    lambda s: s.image(["a", "b"], model="gpt-image-2", concurrency=0, progress=True),
    lambda s: s.chat(["a", "b"], model="nonesuch", progress=True),
    lambda s: s.compare("hi", models=["gpt-5.2", "nonesuch"], progress=True),
])
def test_a_batch_refused_before_it_starts_takes_its_bar_away(notebook: list, tmp_path: Path, call: Any) -> None:
    """Its bar shows at once; refused, an empty "images: 0/2 · 0.0s" bar stayed in the cell beside the error."""
    from tokenhot_nb.errors import TokenhotError

    s = make_session(tmp_path / "st", Recorder())
    with pytest.raises(TokenhotError):
        call(s)
    assert notebook[0][0] == "display" and "0/2" in notebook[0][1]
    assert notebook[-1][:2] == ("update", "")
    s.close()


def test_a_comparison_naming_a_model_twice_ends_its_bar_full(notebook: list, tmp_path: Path) -> None:
    """The model is asked once, but the bar counted the names: it ended at "models: 1/2"."""
    s = make_session(tmp_path / "st", Recorder())
    cmp = s.compare("hi", models=["gpt-5.2", "gpt-5.2"], progress=True)
    assert len(cmp) == 1 and "models: 1/1" in notebook[-1][1]
    s.close()
