"""JSON a relay sends, read by the families: no shape of it (however deeply nested) may raise anything but the
family's own readable outcome; a RecursionError would slip past every ``except ValueError`` guarding a parse."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb import catalog
from tokenhot_nb.errors import APIError, TokenhotError
from tokenhot_nb.families import _json, audio, billing, chat, embeddings, images
from tokenhot_nb.families import video as vfam

DEEP = "[" * 100_000 + "]" * 100_000  # far past the interpreter's recursion limit


@pytest.mark.parametrize("data", [DEEP, DEEP.encode(), '{"a":' + "[" * 5000])
def test_nesting_too_deep_is_a_value_error(data: str | bytes) -> None:
    # (the unterminated one: Python 3.13's parser reads that deep, and stops at the missing value)
    with pytest.raises(ValueError, match=r"nested too deeply|Expecting value"):
        _json.loads(data)


def _recurse(n: int) -> int:
    return n if n <= 0 else _recurse(n - 1) + 1


@pytest.mark.parametrize("parse", [_json.loads, lambda d: _json.loads_lenient(d.encode()), "sse"],
                         ids=["loads", "lenient", "sse-frame"])
def test_no_finalizer_runs_out_of_stack_inside_a_deep_parse(parse: Any) -> None:
    """A collection firing deep inside the parse runs unrelated finalizers with no stack left, and Python prints
    their RecursionError as "Exception ignored in …" (seen in CI: a session an earlier test never closed). With
    collection made as eager as it gets, every collection that starts while a deeply nesting body is parsed must
    leave a finalizer the stack it needs (a collection callback stands in for one), and collection is back on
    afterwards. (Before 3.12 the parser's C recursion and Python's share one limit; that is where it showed.)"""
    import gc

    from tokenhot_nb.client._sse import BrokenFrame, decode_data

    if parse == "sse":
        def parse(d: str) -> Any:
            with pytest.raises(BrokenFrame, match="nested too deeply"):
                decode_data(d)
    starved: list[int] = []

    def finalizer_like(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            try:
                _recurse(40)
            except RecursionError:
                starved.append(1)

    threshold = gc.get_threshold()
    gc.collect()
    gc.set_threshold(1)
    gc.callbacks.append(finalizer_like)
    try:
        try:
            parse('{"a": ' + DEEP + "}")
        except ValueError:
            pass
        assert starved == [] and gc.isenabled()
    finally:
        gc.callbacks.remove(finalizer_like)
        gc.set_threshold(*threshold)


@pytest.mark.parametrize("depth", [_json.MAX_DEPTH + 1, 3_000])
def test_nesting_past_the_limit_is_refused_on_every_python(depth: int) -> None:
    """Python 3.13's parser reads thousands of levels that 3.12's refuses; what then walked the value (redaction,
    encoding) hit the stack instead, as a RecursionError through the internals. The limit is the same on all."""
    text = '{"a": ' + "[" * depth + "1" + "]" * depth + "}"
    with pytest.raises(ValueError, match="nested too deeply"):
        _json.loads(text)
    with pytest.raises(ValueError, match="nested too deeply"):
        _json.loads_lenient(text.encode())
    fine = '{"a": ' + "[" * (_json.MAX_DEPTH - 1) + "1" + "]" * (_json.MAX_DEPTH - 1) + "}"
    assert _json.loads(fine)["a"]


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



# --- valid JSON of the wrong shape at every level ---------------------------------------------------------

FIX = Path(__file__).parent / "fixtures" / "reference"
#: What a relay may put where anything else was expected: every JSON type, and the values Python handles oddly.
WRONG: list[Any] = [None, [], {}, "", "²", 10**400, float("nan"), float("inf"), -1, True, [None], [1, "a"],
                    {"a": None}, 1e308, "9" * 5000, "javascript:x", 0.5]


def _paths(obj: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*at, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj[:3]):
            yield from _paths(value, (*at, i))


def _put(obj: Any, at: tuple[Any, ...], value: Any) -> Any:
    if not at:
        return value
    here = obj
    for step in at[:-1]:
        here = here[step]
    here[at[-1]] = value
    return obj


def _chat(body: Any) -> None:
    for endpoint in ("/v1/chat/completions", "/v1/responses", "/v1/messages", None):
        chat.parse(None, endpoint, body)


def _events(fmt: str) -> Callable[[Any], None]:
    def read(events: Any) -> None:
        acc = chat.Accumulator()
        for event in events if isinstance(events, list) else [events]:
            acc.add(chat.parse_event(fmt, event))
        acc.reply()
    return read


def _images(body: Any) -> None:
    images.parse(None, body)
    images.parse(catalog.model("qwen-image-plus"), body)


def _task(body: Any) -> None:
    vfam.parse_status("t", body)
    vfam.parse_create(body)


def _transcript(body: Any) -> None:
    text = json.dumps(body, default=str)
    audio.parse_transcription("verbose_json", text)
    audio.parse_transcription("srt", text, content_type="application/json")


def _billing(body: Any) -> None:
    for parse in (billing.parse_subscription, billing.parse_usage, billing.parse_credits, billing.parse_status):
        try:
            parse(body)
        except billing.BillingUnavailable:
            pass


SHAPES: list[tuple[Any, Callable[[Any], None]]] = [
    ("chat_completion.json", _chat), ("claude_message.json", _chat), ("responses_body.json", _chat),
    ("chat_chunks.json", _events("chat")), ("claude_events.json", _events("claude")),
    ("responses_events.json", _events("responses")), ("gemini_sse_frames.json", _events("gemini")),
    ("gemini_image_response.json", _images), ("gpt_image_2_response.json", _images),
    ("seedream_response.json", _images), ("wan26_image_response.json", _images),
    ("dashscope_results_response.json", _images), ("wan_newapi_metadata_response.json", _images),
    ("openai_video.json", _task), ("seedance_raw_success.json", _task), ("taskdto_failure.json", _task),
    ("taskdto_seedance_success.json", _task), ("gemini_task_simplified.json", _task),
    ("taskdto_happyhorse_legacy.json", _task),
    ("whisper_verbose.json", _transcript),
    ("gemini_tts_response.json", lambda body: audio.parse_speech(None, body, "application/json")),
    ({"data": [{"index": 0, "embedding": [0.1, 0.2]}], "usage": {"prompt_tokens": 1}}, embeddings.parse),
    ({"hard_limit_usd": 5, "total_usage": 3, "data": {"total_credits": 1, "total_usage": 1, "price": 7}}, _billing),
]


@pytest.mark.parametrize(("answer", "parse"), SHAPES, ids=[a if isinstance(a, str) else p.__name__ for a, p in SHAPES])
def test_a_wrong_shape_anywhere_is_read_or_refused_in_one_line(answer: Any, parse: Callable[[Any], None]) -> None:
    """Each field of a documented answer, one at a time, replaced by every wrong JSON value: the parser reads
    around it or raises a tokenhot_nb error, never a TypeError/AttributeError/OverflowError from inside."""
    base = json.loads((FIX / answer).read_text(encoding="utf-8")) if isinstance(answer, str) else answer
    parse(copy.deepcopy(base))  # (the answer itself reads)
    escaped: list[str] = []
    for at in list(_paths(base)):
        for value in WRONG:
            try:
                parse(_put(copy.deepcopy(base), at, copy.deepcopy(value)))
            except TokenhotError:
                pass
            except Exception as exc:  # what is being looked for
                escaped.append(f"{at} = {str(value)[:20]!r}: {type(exc).__name__}: {str(exc)[:80]}")
    assert not escaped, "\n".join(escaped[:10])


@pytest.mark.parametrize("label", [10**400, 5, ["image/png"], {"a": 1}])
def test_a_media_label_that_is_not_text_is_no_label(label: Any) -> None:
    part = {"inlineData": {"mimeType": label, "data": "iVBORw0KGgo="}}
    (ref,) = images.parse(None, {"candidates": [{"content": {"parts": [part]}}]}).images
    assert ref.mime == "image/png"


# --- an error sent with a 2xx status ------------------------------------------------------------------------

ENVELOPES = [
    {"error": {"message": "upstream failed: quota", "type": "upstream_error", "code": "bad_response"}},
    {"type": "error", "error": {"type": "overloaded_error", "message": "upstream failed: overloaded"}},
    {"error": "upstream failed: plain text"},
]


@pytest.mark.parametrize("body", ENVELOPES)
def test_an_error_envelope_sent_with_200_is_an_error_not_an_empty_answer(body: dict[str, Any]) -> None:
    """A relay's error with status 200 was an 'ok' chat with no text, or "answered without any image: the prompt
    may have been refused"; its message is what the user needs."""
    for parse in (lambda: chat.parse(None, "/v1/chat/completions", body), lambda: chat.parse(None, None, body),
                  lambda: images.parse(None, body), lambda: embeddings.parse(body)):
        with pytest.raises(APIError, match=r"is an error, not a reply: upstream failed") as info:
            parse()
        assert info.value.status == 200


def test_an_answer_with_content_beside_a_null_or_empty_error_is_read() -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": "hi"}}], "error": None}
    assert chat.parse(None, "/v1/chat/completions", body).text == "hi"
    assert chat.parse(None, "/v1/chat/completions", {**body, "error": {}}).text == "hi"
    assert images.parse(None, {"data": [{"url": "https://cdn.test/a.png"}], "error": ""}).images
