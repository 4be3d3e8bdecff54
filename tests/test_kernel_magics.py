"""Every magic in a real Jupyter kernel (nbclient + ipykernel) against the offline simulator.

Asserts what a user sees: images/video/audio render as media, streamed chat ends as Markdown with
provenance metadata, errors are one message (no traceback), the key never shows.
"""

from __future__ import annotations

from typing import Any

import pytest
from _kernel_support import run_offline

pytestmark = pytest.mark.kernel

CELLS = [
    "%load_ext tokenhot_nb",
    "%%th_image -n 1 --seed 7 -o img\na red fox in the snow",
    "%%th_image --edit img -o edited\nadd a scarf",
    "%%th_chat --system 'You are terse.'\nSay hello in {img.model!r} style",
    "%%th_chat --no-stream --format text -o answer\nand again",
    "%%th_audio -o speech\nHello from the kernel test",
    "%th_transcribe speech --format json",
    "%th_translate speech --format text",
    "%%th_video --duration 5 -o clip\na wave breaking",
    "%%th_video --no-wait -o task\na slow sunrise",
    # the no-wait panel is filled in by its polling thread: join it (no fixed sleep) before its output is read
    "task.wait(progress=False); import threading\n"
    "_ = [t.join(60) for t in threading.enumerate() if t.name.startswith('tokenhot-video-poll')]",
    "%th_models seedream",
    "%th_history 3",
    "%th_config",
    "%%th_image -m seedrem-nonexistent\nx",
    "%%th_image --bogus\nx",
    "%th_panel image",
]


def _outputs(nb: Any, index: int) -> list[dict[str, Any]]:
    return list(nb.cells[index].outputs)


def _mimes(outputs: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for o in outputs:
        for k, v in (o.get("data") or {}).items():
            out[k] = out.get(k, "") + (v if isinstance(v, str) else str(v))
        if o.get("output_type") == "stream":
            out["stream"] = out.get("stream", "") + o["text"]
        if o.get("output_type") == "error":
            out["error"] = o["ename"]
    return out


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_offline(CELLS, tmp_path_factory.mktemp("kernel"), timeout=180)


def cell(executed: Any, source_start: str) -> dict[str, str]:
    for i, src in enumerate(CELLS):
        if src.startswith(source_start):
            return _mimes(_outputs(executed, i))
    raise KeyError(source_start)


def test_no_cell_raised(executed: Any) -> None:
    for i, src in enumerate(CELLS):
        outs = _outputs(executed, i)
        errors = [o for o in outs if o.get("output_type") == "error"]
        assert not errors, (src, errors)
        text = str(_mimes(outs))
        assert "Traceback" not in text, src
    bogus = cell(executed, "%%th_image --bogus")
    assert bogus["stream"] == "UsageError: %%th_image: unrecognized arguments: --bogus. Run %%th_image --help for every option.\n"


def test_image_renders(executed: Any) -> None:
    for start in ("%%th_image -n 1", "%%th_image --edit"):
        m = cell(executed, start)
        assert any(k.startswith("image/") for k in m) or "<img" in m.get("text/html", ""), m.keys()


def test_streamed_chat_ends_in_safe_html(executed: Any) -> None:
    i = CELLS.index(next(c for c in CELLS if c.startswith("%%th_chat --system")))
    outs = [o for o in _outputs(executed, i) if o.get("output_type") == "display_data"]
    assert len(outs) == 1, "one display updated in place"
    assert "text/markdown" not in outs[0]["data"] and "<p>" in outs[0]["data"]["text/html"]
    assert "▌" not in outs[0]["data"]["text/html"]
    assert outs[0]["metadata"]["tokenhot"]["status"] == "done"
    assert outs[0]["metadata"]["tokenhot"].get("history_id") is not None


def test_text_format_chat(executed: Any) -> None:
    m = cell(executed, "%%th_chat --no-stream")
    assert "text/plain" in m and "text/markdown" not in m and "text/html" not in m


def test_media(executed: Any) -> None:
    assert "<audio" in cell(executed, "%%th_audio").get("text/html", "")
    assert "<video" in cell(executed, "%%th_video --duration").get("text/html", "")
    assert "<video" in cell(executed, "%%th_video --no-wait").get("text/html", ""), "no-wait panel filled in"


def test_transcripts(executed: Any) -> None:
    for start in ("%th_transcribe", "%th_translate"):
        m = cell(executed, start)
        assert m.get("text/plain") or m.get("text/html"), m


def test_tables_history_config(executed: Any) -> None:
    assert "<table" in cell(executed, "%th_models").get("text/html", "")
    assert cell(executed, "%th_history").get("text/html") or cell(executed, "%th_history").get("text/plain")
    conf = cell(executed, "%th_config")
    assert "<table" in conf.get("text/html", "") and "sk-" not in str(conf)


def test_unknown_model_message(executed: Any) -> None:
    m = cell(executed, "%%th_image -m seedrem")
    assert "Unknown" in m.get("text/html", "") and "Fix:" in m.get("text/plain", "")
    assert "Traceback" not in str(m)


def test_panel(executed: Any) -> None:
    m = cell(executed, "%th_panel")
    assert "application/vnd.jupyter.widget-view+json" in m, m  # the panel itself, not an error box
    assert "Fix:" not in m.get("text/plain", "") and "error" not in m, m
