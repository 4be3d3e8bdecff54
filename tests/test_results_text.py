"""ChatResult and TranscriptResult shown from whatever a relay sent: odd labels and times never break display."""

from __future__ import annotations

from typing import Any

import pytest

from tokenhot_nb.families._types import Segment, ToolCall
from tokenhot_nb.results import ChatResult, TranscriptResult


@pytest.mark.parametrize("reason", [5, 2.5, True, "length"])
def test_a_finish_reason_that_is_not_text_is_shown_not_fatal(reason: Any) -> None:
    res = ChatResult("the paid answer", model="m", finish_reason=reason)
    html = res._repr_mimebundle_()[0]["text/html"]
    assert "the paid answer" in html and f"finish: {reason}" in html
    assert res.finish_reason == str(reason)


def test_a_finish_reason_of_stop_stays_quiet_whatever_its_case() -> None:
    assert "finish:" not in ChatResult("x", finish_reason="STOP").html()
    assert ChatResult("x").finish_reason is None


def test_tool_call_arguments_that_json_cannot_hold_still_render() -> None:
    call = ToolCall("c1", "lookup", {"when": {1, 2}, "n": 3})  # a set: made by user code, not the wire
    html = ChatResult("", tool_calls=[call]).html()
    assert "lookup(" in html and "[c1]" in html and "&quot;n&quot;: 3" in html


BAD_TIMES: list[Any] = [float("inf"), float("-inf"), float("nan"), -3.0, 1e400, "0:01", None, [1], 1e300]


@pytest.mark.parametrize("bad", BAD_TIMES)
def test_unusable_segment_times_still_give_subtitles_with_every_cue(bad: Any) -> None:
    segs = [Segment(0.5, 1.25, " first "), Segment(bad, bad, "second"), Segment(2.0, bad, "third")]
    res = TranscriptResult("first second third", segments=segs, format="verbose_json", model="whisper-1")
    srt = res.srt
    assert srt is not None
    assert srt.split("\n\n")[0] == "1\n00:00:00,500 --> 00:00:01,250\nfirst"
    assert "2\n00:00:00,000 --> 00:00:00,000\nsecond\n" in srt  # the cue is kept, its time falls back to 0
    assert "3\n00:00:02,000 --> 00:00:00,000\nthird\n" in srt
    vtt = res.vtt
    assert vtt is not None and vtt.startswith("WEBVTT\n\n") and "00:00:00.000 --> 00:00:00.000\nsecond" in vtt
    html = res._repr_mimebundle_()[0]["text/html"]
    assert "<td>0.50</td><td>1.25</td>" in html and "<td>?</td><td>?</td><td>second</td>" in html
    assert str(res) == "first second third"


def test_usable_times_format_exactly() -> None:
    res = TranscriptResult("x", segments=[Segment(3661.0015, 7322.5, "late")])
    assert res.srt == "1\n01:01:01,002 --> 02:02:02,500\nlate\n"
    assert "<td>3661.00</td><td>7322.50</td>" in res.html()


def test_segment_text_that_is_not_a_string_is_written_as_text() -> None:
    res = TranscriptResult("x", segments=[Segment(0.0, 1.0, 42)])  # type: ignore[arg-type]
    assert res.srt == "1\n00:00:00,000 --> 00:00:01,000\n42\n"
    assert "<td>42</td>" in res.html()


def test_a_body_in_the_asked_format_is_returned_as_it_came() -> None:
    body = "1\n00:00:00,000 --> 00:00:01,000\nhi\n"
    res = TranscriptResult("hi", format="srt", body=body, segments=[Segment(float("inf"), 0.0, "ignored")])
    assert res.srt == body
    assert res.vtt == "WEBVTT\n\n00:00:00.000 --> 00:00:00.000\nignored\n"  # built from the segments


def test_the_text_form_of_a_result_cannot_drive_a_terminal() -> None:
    """``repr`` is what a terminal IPython prints (and every front end's ``text/plain``): an answer's terminal
    escapes (OSC 52 writes the clipboard, ``ESC[2J`` clears the screen, ``\\r`` overwrites a line) are removed
    there. ``str(result)`` and ``.text`` stay the answer as it arrived (data)."""
    from tokenhot_nb.results import ChatResult

    text = "safe\x1b]52;c;ZXZpbCBjb21tYW5k\x07 \x1b[2Jcleared\rfake\x9b31m \u202eevil\x00 end"
    res = ChatResult(text, model="m\x1b[31mred")
    shown = [repr(res), res._repr_mimebundle_()[0]["text/plain"]]
    for plain in shown:
        assert not any(ch in plain for ch in "\x1b\x07\r\x9b\u202e\x00"), repr(plain)
        assert plain.startswith("safe") and "cleared" in plain and "end" in plain
    assert str(res) == res.text == text


def test_a_structured_answer_shows_as_the_json_it_is() -> None:
    """As Markdown, ``\\\\`` and ``\\"`` lost their backslash and ``2*3*4`` became emphasis: the JSON shown was not
    the answer, nor JSON. A model that fenced its JSON, or a schema's object, shows the parsed data."""
    import html as html_mod
    import json
    import re

    text = json.dumps({"path": "C:\\Users\\ann", "said": 'say "hi"', "sum": "2*3*4", "h": "# not a heading"})
    shown = ChatResult(text, data=json.loads(text)).html()
    code = re.search(r'<code class="language-json">(.*?)</code>', shown, re.S)
    assert code is not None and json.loads(html_mod.unescape(code.group(1))) == json.loads(text)
    assert "<em>" not in shown and "<h1>" not in shown
    fenced = ChatResult(f"```json\n{text}\n```", data={"k": "v*w*x"}).html()
    assert '"k": "v*w*x"' in fenced and "<em>" not in fenced
    assert "<em>b</em>" in ChatResult("a *b* c").html()  # a plain answer is still Markdown
