"""The error tree: status → class, quota never looks retryable, messages carry a fix and no key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenhot_nb import errors as E

KEY = "sk-live-ERRORSECRET999"


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, None, E.BadRequestError),
        (422, None, E.BadRequestError),
        (401, None, E.AuthenticationError),
        (403, None, E.PermissionDeniedError),
        (404, None, E.NotFoundError),
        (429, None, E.RateLimitError),
        (429, "insufficient_user_quota", E.QuotaExhaustedError),
        (403, "pre_consume_token_quota_failed", E.QuotaExhaustedError),
        (500, None, E.ServerError),
        (503, None, E.ServerError),
        (418, None, E.APIError),
    ],
)
def test_class_for_status(status: int, code: str | None, cls: type[E.APIError]) -> None:
    assert E.class_for_status(status, code) is cls


def test_api_error_text_has_status_request_id_and_hint() -> None:
    err = E.AuthenticationError("Invalid token", status=401, request_id="req-1")
    text = str(err)
    assert text.startswith("[401] Invalid token (request id: req-1)")
    assert "TOKENHOT_API_KEY" in text
    assert err.to_dict()["status"] == 401


def test_messages_are_redacted() -> None:
    err = E.BadRequestError(f"bad key {KEY} given", status=400)
    assert KEY not in str(err) and KEY not in repr(err.to_dict())


def test_unknown_model_suggests() -> None:
    err = E.UnknownModelError("gpt-imge-2", ["gpt-image-2"], "image")
    assert "Did you mean 'gpt-image-2'?" in str(err)
    assert "family=" in str(err)
    assert isinstance(err, ValueError)


def test_an_unknown_model_named_by_a_page_of_text_is_one_short_line(tmp_path: Path) -> None:
    """``model=text`` (a variable holding a page, passed by mistake) printed the whole page twice, in the message
    and in the hint's code: 6 MB on screen for a 3 MB name. Now the error shows its start and its length."""
    from tokenhot_nb import Session

    with Session(mode="offline", store=tmp_path / "s") as s, pytest.raises(E.UnknownModelError) as caught:
        s.chat("hi", model="once upon a time " * 200_000)
    said = str(caught.value)
    assert len(said) < 1_000 and "'once upon a time once upon" in said and "a name of 3,400,000 characters" in said
    assert "tokenhot_nb.model(name, family=" in said
    short = str(E.UnknownModelError("gpt-imge-2", ["gpt-image-2"], "image"))
    assert "tokenhot_nb.model('gpt-imge-2', family=" in short and "characters" not in short


def test_stream_and_task_errors_keep_what_arrived() -> None:
    s = E.StreamError("stream stalled", partial_text="Hello wor")
    assert s.partial_text == "Hello wor"
    t = E.TaskFailedError("task_1", "content policy")
    assert "task_1" in str(t) and "content policy" in str(t)


def _raise_through_layers() -> E.TokenhotError:
    def inner() -> None:
        try:
            raise ConnectionError(f"socket closed while sending {KEY}")
        except ConnectionError as exc:
            raise E.APIConnectionError(f"The connection failed ({KEY})") from exc

    try:
        inner()
    except E.TokenhotError as err:
        return err
    raise AssertionError("not raised")


def test_render_traceback_is_a_short_block_without_frames() -> None:
    err = _raise_through_layers()
    lines = err._render_traceback_()
    text = "\n".join(lines)
    assert len(lines) <= 5 and "Network problem" in text and "Fix:" in text
    assert "%th_config --last-error" in text and "File " not in text and "Traceback" not in text
    assert KEY not in text and E.last_error is err
    assert "At: test_errors.py line" in text  # where in the user's code, file and line only


def test_details_has_the_whole_chain_redacted() -> None:
    err = _raise_through_layers()
    details = err.details()
    assert "Traceback" in details and "ConnectionError" in details and "APIConnectionError" in details
    assert "direct cause" in details and KEY not in details
    assert repr(details) == str(details)  # shows as text when it is a cell's value


def test_error_parts_for_other_exceptions() -> None:
    title, message, fix = E.error_parts(PermissionError(13, "Permission denied", "/x/y"))
    assert title == "Permission denied" and "/x/y" in message and "write" in fix
    title, _, fix = E.error_parts(RuntimeError("boom"))
    assert title == "RuntimeError" and "bug" in fix


def test_one_line_collapses_cleans_and_counts_what_it_cut() -> None:
    assert E.one_line("  a\n\tb   c \r\n") == "a b c"
    assert E.one_line("x" * 300) == "x" * 300
    assert E.one_line("x" * 301) == "x" * 300 + "… (1 more characters in .full_message)"
    assert E.one_line("word " * 100, limit=12) == "word word wo… (487 more characters in .full_message)"
    assert E.one_line("word " * 100, limit=12, kept_in=None) == "word word wo… (487 more characters)"


def test_clean_text_keeps_line_breaks_and_drops_escapes_and_controls() -> None:
    assert E.clean_text("a\r\nb\rc\u2028d") == "a\nb\nc\nd"
    assert E.clean_text("\x1b[1;31mred\x1b[0m \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x1bc") == "red link "
    assert E.clean_text("tab\there\x00\x08\x7f\x9b\u202eevil\u2066") == "tab\thereevil"
    assert E.clean_text("中文 café ✓") == "中文 café ✓"


def test_every_error_message_is_one_line_and_the_whole_is_kept() -> None:
    err = E.BadRequestError("first\nsecond\x1b[2J", status=400, request_id="r\n1", code="c\x1b[0m")
    assert err.message == "first second" and err.full_message == "first\nsecond"
    assert (err.request_id, err.code) == ("r 1", "c")
    assert "\n" not in str(err) and "\x1b" not in str(err)


def test_error_parts_puts_other_exceptions_on_one_line_too() -> None:
    _title, message, _fix = E.error_parts(RuntimeError("boom\n" + "z" * 1000 + "\x1b[2J"))
    assert message.startswith("boom zzz") and "\n" not in message and "\x1b" not in message
    assert message.endswith("more characters in the details)") and len(message) < 400


def test_a_long_task_id_is_cut_after_redaction() -> None:
    """The task id is shown cut to 80 characters; cut first, a key in it (the relay chose the id) would lose its
    end and no longer be recognised, leaving its first part in the message."""
    from tokenhot_nb._config import Secret

    key = "tkn_PLAINKEY_tasks_no_prefix_98765abcdef"
    Secret(key)  # a key this process was given (it need not look like sk-…)
    for task_id in ("x" * 60 + key, "task-" + "y" * 55 + "sk-" + "Z1" * 20):
        err = E.TaskFailedError(task_id, "refused")
        shown = [str(err), err.message, err.full_message, repr(err), *err._render_traceback_()]
        assert all(key[:12] not in text and "sk-Z1Z1" not in text for text in shown), shown
        assert err.task_id == task_id  # kept whole: it is what resuming the task needs


@pytest.mark.parametrize("split", ["\x1b[0m", "\x1b]8;;\x07", "\u202e", "\x00", "\x08"])
def test_a_key_split_by_control_characters_is_not_joined_into_view(split: str) -> None:
    """Cleaning removes terminal escapes and controls; done after redaction it would join a key the relay split
    with them (``sk-AB\\x1b[0mCD…``: no key for the redaction) into the key itself, in every form we show."""
    from tokenhot_nb._config import Secret

    plain = "tkn_PLAINKEY_split_no_prefix_98765abcdef"
    Secret(plain)
    for key in (KEY + "0123456789", plain):
        text = f"upstream refused {key[:10]}{split}{key[10:]} today"
        err = E.APIError(text, status=401, code=text, request_id=text)
        failed = E.TaskFailedError("t1", text)
        shown = [str(err), err.message, err.full_message, err.code or "", err.request_id or "", *err._render_traceback_(),
                 str(failed), failed.reason, *E.error_parts(RuntimeError(text)), E.full_report(err)]
        assert all(key not in s for s in shown), [s for s in shown if key in s]


def test_error_parts_cleans_the_fields_of_other_errors_too() -> None:
    """Another library's error (an SDK's, say) may carry a status and a request id that a relay chose: the short
    form shows them on one line, without escapes, the key masked."""

    class SDKError(Exception):
        status = "418\x1b[2J"
        request_id = f"req\x1b]8;;https://evil.example\x07-{KEY}0123456789\nnext"

    _title, message, _fix = E.error_parts(SDKError("teapot"))
    assert "\x1b" not in message and "\x07" not in message and "\n" not in message
    assert KEY not in message and "sk-****" in message and "teapot" in message and message.startswith("[418")
