"""``%%th_chat`` re-run in replay mode streams its display as the live run did and ends with the same output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import _magics_support as support
import pytest
from IPython.utils.capture import capture_output

import tokenhot_nb
from tokenhot_nb.magics import _stream

REAL_VIEW = _stream.StreamView
ip = support.ip  # fixture
offline = support.offline  # fixture


def streamed_cell(ip: Any, monkeypatch: pytest.MonkeyPatch, source: str) -> tuple[list[Any], list[Any]]:
    """Run a cell with a clock that moves 10 ms per read (one read per piece) and redraws that cost nothing (a
    loaded machine's slow redraw would make the throttle wait longer in one run than in the other): its outputs and
    views."""
    views: list[Any] = []
    ticks = iter(range(1, 1_000_000))

    def view(**kw: Any) -> Any:
        views.append(REAL_VIEW(clock=lambda: next(ticks) / 100, timer=lambda: 0.0, **kw))
        return views[-1]

    monkeypatch.setattr(_stream, "StreamView", view)
    with capture_output(display=True) as cap:
        res = ip.run_cell(source)
    assert res.error_in_exec is None, cap.stderr
    return [(o.data, o.metadata, o.update) for o in cap.outputs], views


@pytest.mark.parametrize("model", ["gpt-5.4", '"GPT 5.4(Responses)" -x \'reasoning={"summary": "auto"}\''])
def test_th_chat_in_replay_streams_its_display_as_the_live_run_did(ip: Any, offline: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    cell = f"%%th_chat -m {model} --thread sea -o ans\nTell me about the sea"
    live, live_views = streamed_cell(ip, monkeypatch, cell)
    answer = ip.user_ns["ans"]
    monkeypatch.setenv("TOKENHOT_MODE", "replay")
    s = tokenhot_nb.session(reset=True)
    assert s.settings.mode == "replay"
    replayed, views = streamed_cell(ip, monkeypatch, cell)
    assert views[0].deltas == live_views[0].deltas > 5
    assert sum(1 for *_, update in live if update) > 2  # the display was redrawn while the answer streamed
    assert json.dumps(replayed, sort_keys=True) == json.dumps(live, sort_keys=True)  # every redraw, and the end
    assert bool(live_views[0].reasoning) == ("reasoning" in model) and views[0].reasoning == live_views[0].reasoning
    assert ip.user_ns["ans"].text == answer.text and replayed[-1][1]["tokenhot"]["status"] == "done"


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_an_answers_terminal_escapes_never_reach_text_plain(fmt: str) -> None:
    """text/plain is what jupyter console or a notebook read as text shows; ``--format text`` showed the answer
    as it arrived, colour codes and an OSC 52 clipboard write included (every result's repr strips them)."""
    view = REAL_VIEW(fmt=fmt, live=False)
    answer = "A \x1b[31mred\x1b[0m word \x1b]52;c;ZXZpbA==\x07 and a bell\x07."
    view.on_delta(None, answer)
    for streaming in (True, False):
        plain = view.bundle(streaming=streaming)["text/plain"]
        assert "\x1b" not in plain and "\x07" not in plain and "red" in plain and "word" in plain
