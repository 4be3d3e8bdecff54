"""JSON a relay sends, read by the families: no shape of it (however deeply nested) may raise anything but the
family's own readable outcome; a RecursionError would slip past every ``except ValueError`` guarding a parse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tokenhot_nb.errors import APIError
from tokenhot_nb.families import _json, audio, chat
from tokenhot_nb.families import video as vfam

DEEP = "[" * 100_000 + "]" * 100_000  # far past the interpreter's recursion limit


@pytest.mark.parametrize("data", [DEEP, DEEP.encode(), '{"a":' + "[" * 5000])
def test_nesting_too_deep_is_a_value_error(data: str | bytes) -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        _json.loads(data)


def test_ordinary_json_is_read_as_json_loads_reads_it() -> None:
    text = '{"a": [1, 2.5, null, true, "x\\u00e9"], "b": {"c": NaN}}'
    got, want = _json.loads(text), json.loads(text)
    assert got["a"] == want["a"] and got["b"]["c"] != got["b"]["c"]  # NaN stays NaN


@pytest.mark.parametrize("raw, want", [
    (b'{"t": "he\xff\xfello"}', {"t": "he\ufffd\ufffdllo"}),  # invalid UTF-8: the bad bytes become U+FFFD
    (b'{"t": "tab\there\x00nul"}', {"t": "tab\there\x00nul"}),  # raw control characters inside a string
    (b'\xef\xbb\xbf{"t": "bom"}', {"t": "bom"}),
])
def test_lenient_reads_what_strict_json_refuses(raw: bytes, want: Any) -> None:
    with pytest.raises(ValueError):
        json.loads(raw.replace(b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf"))  # (strict refuses each of them)
    assert _json.loads_lenient(raw) == want


def test_lenient_turns_an_absurd_integer_into_infinity_instead_of_failing() -> None:
    raw = b'{"usage": {"prompt_tokens": ' + b"9" * 5000 + b'}, "n": 12}'
    got = _json.loads_lenient(raw)
    assert got["usage"]["prompt_tokens"] == float("inf") and got["n"] == 12 and isinstance(got["n"], int)


def test_lenient_still_refuses_what_is_not_json() -> None:
    for raw in (b"<html>502</html>", b"", b'{"a": ', DEEP.encode()):
        with pytest.raises(ValueError):
            _json.loads_lenient(raw)


def test_a_deep_other_ratios_header_is_no_ratios() -> None:
    """The header arrives with a paid create: a hostile value must not cost the task id."""
    assert vfam.parse_other_ratios({"X-New-Api-Other-Ratios": "[" * 3000}) is None
    assert vfam.parse_other_ratios({"X-New-Api-Other-Ratios": '{"seconds": 5}'}) == {"seconds": 5.0}


def test_deep_tool_call_arguments_are_kept_raw() -> None:
    raw = '{"a": ' + "[" * 5000 + "]" * 5000 + "}"
    reply = chat.parse(None, "/v1/chat/completions", {"choices": [{"message": {"content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": raw}}]}}]})
    (call,) = reply.tool_calls
    assert call.name == "f" and call.arguments == {"_raw": raw}


def test_deep_json_speech_and_transcript_answers_do_not_escape() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    with pytest.raises(APIError, match="not audio"):
        audio.parse_speech(None, deep, "application/json")
    assert audio.parse_transcription("json", deep.decode()).text  # kept as the plain text it is
    assert audio.parse_transcription("text", deep.decode(), content_type="application/json").text


def test_a_ratio_no_float_can_hold_is_left_out_not_raised() -> None:
    header = '{"seconds": ' + "9" * 400 + ', "size": 1.5, "n": NaN}'
    assert vfam.parse_other_ratios({"X-New-Api-Other-Ratios": header}) == {"size": 1.5}
