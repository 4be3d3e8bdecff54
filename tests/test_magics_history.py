"""``%th_history`` searches and filters as ``session.history`` does: a search text, ``--model`` (any name the
catalogue knows), ``--kind``, ``--status``, with the last-N count and the export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _magics_support as support
import pytest
from IPython.utils.capture import capture_output

ip = support.ip  # fixture
offline = support.offline  # fixture


def run(ip: Any, source: str) -> Any:
    with capture_output(display=True) as cap:
        res = ip.run_cell(source)
    assert res.error_in_exec is None, (cap.stdout, cap.stderr)
    return res.result


@pytest.fixture
def filled(ip: Any, offline: Any) -> Any:
    offline.image("a red fox in the snow", model="gpt-image-2")
    offline.image("a grey owl at night", model="gpt-image-2")
    offline.chat("tell me about the red fox", model="claude-opus-4-6", stream=False)
    with pytest.raises(Exception):  # noqa: B017 - a refusal of any kind: it is recorded as an error
        offline.chat("hello", model="claude-opus-4-6", temperature=7)
    return offline


def test_a_search_text_picks_the_entries_that_hold_it(ip: Any, filled: Any) -> None:
    assert [e.kind for e in run(ip, "%th_history red fox")] == ["image", "chat"]
    assert [e.kind for e in run(ip, "%th_history red --kind chat fox")] == ["chat"]  # options among the words
    assert [e.kind for e in run(ip, "%th_history 1 red fox")] == ["chat"]  # the last one of those
    assert [e.text for e in run(ip, "%th_history --search owl")] == ["a grey owl at night"]


def test_model_kind_and_status_filter(ip: Any, filled: Any) -> None:
    assert [e.kind for e in run(ip, "%th_history --model claude-opus")] == ["chat", "chat"]  # an alias
    assert len(run(ip, "%th_history --model gpt-image-2 --kind image")) == 2
    errors = run(ip, "%th_history --status error")
    assert [(e.kind, e.status) for e in errors] == [("chat", "error")]
    assert len(run(ip, "%th_history -m 'Claude Opus 4.6' --status ok")) == 1  # a display name


def test_the_filtered_history_is_what_is_exported(ip: Any, filled: Any, tmp_path: Path) -> None:
    out = tmp_path / "foxes.jsonl"
    run(ip, f"%th_history red fox --export {out}")
    assert len(out.read_text().splitlines()) == 2


@pytest.mark.parametrize("line", ["%th_history --status nope", "%th_history 0 fox", "%th_history --kind picture"])
def test_bad_history_options_are_one_line(ip: Any, offline: Any, line: str) -> None:
    with capture_output(display=True) as cap:
        res = ip.run_cell(line)
    assert type(res.error_in_exec).__name__ == "UsageError" and "Traceback" not in cap.stderr


def test_the_magics_statuses_are_the_stores() -> None:
    from tokenhot_nb.history._entry import STATUSES
    from tokenhot_nb.magics import _args

    assert _args.STATUSES == STATUSES


@pytest.mark.parametrize("option", ["--export", "--model", "--search"])
def test_an_empty_value_is_refused_not_ignored(ip: Any, offline: Any, option: str) -> None:
    """``--export ""`` wrote nothing and said nothing (the history was shown as if exported); an empty ``--model``
    or ``--search`` showed every row as if filtered. Each is refused in one line, as %th_config's empty values are."""
    with capture_output(display=True) as cap:
        res = ip.run_cell(f"%th_history {option} ''")
    assert type(res.error_in_exec).__name__ == "UsageError" and "Traceback" not in cap.stderr
    assert str(res.error_in_exec) == f"%th_history {option} needs a value; it was given empty."


def test_th_historys_footer_narrows_the_view_with_its_own_options(ip: Any, offline: Any) -> None:
    """A long ``%th_history`` ended "tokenhot_nb.session().history.tail(N) or .filter(…) narrows the view": its reader
    narrows it by running the magic again, with its own options (each one %th_history really takes)."""
    import re

    from IPython.lib.pretty import pretty

    from tokenhot_nb.magics import _args

    for i in range(21):  # (one more than the text table shows)
        offline.chat(f"hello {i}", stream=False, thread=False)
    with capture_output(display=True):
        res = ip.run_cell("%th_history")
    foot = pretty(res.result).splitlines()[-1]
    assert "%th_history N --kind KIND (or --model, --status, TEXT) narrows the view" in foot, foot
    assert ".tail(" not in foot and ".filter(" not in foot, foot
    options = {o for a in _args.parser("th_history")._actions for o in a.option_strings}
    assert set(re.findall(r"--[a-z-]+", foot)) <= options
    line = re.search(r"%th_history N --kind KIND", foot)
    assert line is not None
    with capture_output(display=True):
        res = ip.run_cell(line.group(0).replace("KIND", "chat").replace(" N ", " 3 ") + " --status ok --model "
                          + offline.history[-1].model + " hello")
    assert res.error_in_exec is None and len(res.result) == 3
    assert pretty(offline.history).splitlines()[-1].endswith("history.tail(N) or .filter(…) narrows the view")
