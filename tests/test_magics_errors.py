"""A magic's error says the fix the magic's way (``-x extra='{…}'``, ``--temperature``, ``%%th_chat``, run the
cell again), not the Python call's (``extra={…}``, ``temperature=``, ``session.chat(…)``, a list of prompts); the
same errors from Python keep the Python form."""

from __future__ import annotations

from typing import Any

import _magics_support as support
import httpx
import pytest
from _session_support import Recorder
from IPython.utils.capture import capture_output

from tokenhot_nb.errors import InputError, UnsupportedOptionError
from tokenhot_nb.magics._errors import ErrorView, MagicPhrasing

ip = support.ip  # fixture
offline = support.offline  # fixture


def shown(ip: Any, source: str) -> str:
    """The plain text of the error block a cell shows (no traceback, no exception escaping)."""
    with capture_output(display=True) as cap:
        res = ip.run_cell(source)
    assert res.error_in_exec is None and "Traceback" not in cap.stdout + cap.stderr, cap.stderr
    text = str(cap.outputs[-1].data["text/plain"])
    assert text.startswith("✖"), text
    return text


def test_a_refused_size_is_sent_anyway_with_the_magics_extra(ip: Any, offline: Any) -> None:
    text = shown(ip, "%%th_image --size 16:9\na lighthouse")
    assert """-x extra='{"size": …}'""" in text and "extra={'size'" not in text


@pytest.mark.parametrize(("source", "flag"), [
    ('%%th_audio --voice ""\nhello', "--voice"), ("%%th_chat --thread '' --no-stream\nhi", "--thread"),
    ('%%th_image --size " "\na lighthouse', "--size"),
])
def test_a_blank_option_is_said_as_the_magics_flag(ip: Any, offline: Any, source: str, flag: str) -> None:
    """A blank value is refused by the session ("voice= is empty … or pass None"): a magic says it with its flag,
    and leaving the flag out is the way to the default (a magic cannot pass None)."""
    text = shown(ip, source)
    assert text.startswith(f"✖ Bad input: {flag} is empty") and f"Leave {flag} out for " in text
    assert "None" not in text and f"{flag.lstrip('-')}=" not in text.split("Fix:")[0]


def test_the_advice_to_send_a_field_anyway_works_as_written(ip: Any, offline: Any) -> None:
    text = shown(ip, "%%th_chat -x temprature=0.2\nhello")
    assert "Use --temperature 0.2" in text and """write -x extra='{"temprature": 0.2}'""" in text
    assert "Write temperature=" not in text and "Did you mean temperature=?" not in text
    with capture_output(display=True):
        res = ip.run_cell("""%%th_chat -x extra='{"temprature": 0.2}'\nhello""")
    assert res.error_in_exec is None
    assert offline.history[-1].status == "ok" and offline.history[-1].params["extra"] == {"temprature": 0.2}


def test_too_many_images_says_run_the_cell_again(ip: Any, offline: Any) -> None:
    text = shown(ip, "%%th_image -m dall-e-3 -n 2\na lighthouse")
    assert "Lower -n, or run the cell again" in text and "list of prompts" not in text


def test_a_model_of_another_kind_names_the_magic_that_takes_it(ip: Any, offline: Any) -> None:
    text = shown(ip, "%%th_image -m gpt-5.2\na lighthouse")
    assert "so %%th_image cannot use it" in text and "Use %%th_chat with it" in text
    assert "%th_models --kind image" in text and "session.chat" not in text and "image()" not in text
    text = shown(ip, "%%th_chat -m gpt-image-2\nhello")
    assert "Use %%th_image with it" in text and "%th_models --kind chat" in text


@pytest.mark.parametrize(("model", "magic"), [("jina-embeddings-v4", "%%th_embed"),
                                             ("jina-reranker-m0", "%%th_rerank QUERY")])
def test_an_embed_or_rerank_model_names_its_magic(ip: Any, offline: Any, model: str, magic: str) -> None:
    """Embeddings and rerank have magics now: the fix names them, not the Python method."""
    text = shown(ip, f"%%th_chat -m {model}\nhello")
    assert f"Use {magic} with it" in text and "%th_models --kind chat" in text and "session()" not in text
    other = "%%th_embed -m gpt-5.2\nhello" if "rerank" in magic else "%%th_rerank q -m gpt-5.2\nx"
    text = shown(ip, other)  # and the other way round: a chat model in %%th_embed / %%th_rerank
    assert f"so {other.split()[0]} cannot use it" in text and "Use %%th_chat with it" in text


def test_words_on_a_magics_line_say_where_they_go(ip: Any, offline: Any) -> None:
    with capture_output(display=True) as cap:
        res = ip.run_cell("%th_chat hello there")
    assert type(res.error_in_exec).__name__ == "UsageError"
    said = str(res.error_in_exec)
    assert "the message goes in the cell" in said and "--edit" not in said
    with capture_output(display=True) as cap:
        res = ip.run_cell("%th_transcribe my talk.mp3")
    assert "%th_transcribe 'my talk.mp3'" in str(res.error_in_exec) and "--edit" not in cap.stderr


def test_python_keeps_the_python_form(offline: Any) -> None:
    with pytest.raises(UnsupportedOptionError) as info:
        offline.image("a lighthouse", size="16:9")
    assert "extra={'size': …}" in ErrorView(info.value).text()
    with pytest.raises(InputError) as typo:
        offline.chat("hello", temprature=0.2)
    assert (typo.value.option, typo.value.value, typo.value.suggestion) == ("temprature", 0.2, "temperature")
    assert "Write temperature=…" in ErrorView(typo.value).text()


def test_only_the_magics_own_options_become_flags() -> None:
    say = MagicPhrasing("th_image").fix
    assert say("Drop seed=, or pass seed=42.") == "Drop --seed, or pass --seed 42."
    # a call's argument, a setting and a field the magic has no option for are left alone or sent with -x
    assert say("Raise Session(download_cap=…) (bytes).") == \
        "Raise tokenhot_nb.session().settings.download_cap = … (bytes)."  # (set on the magics' session, no flag)
    assert say("Use session.edit(images, prompt, model='qwen').") == "Use %%th_image --edit SOURCE."
    assert MagicPhrasing("th_chat").fix("Drop temperature=; steer it with reasoning_effort=… instead.") == \
        "Drop --temperature; steer it with -x reasoning_effort=… instead."


def test_a_missing_key_in_a_magic_says_to_switch_the_mode_with_th_config(ip: Any, offline: Any) -> None:
    """The fix said "use -x mode=offline": 'mode' is also a video body field, so the advice sent mode=offline to
    the model (and still failed for want of a key) instead of switching the session to the simulator."""
    from tokenhot_nb.errors import MissingKeyError

    for magic in ("th_chat", "th_image", "th_video"):
        fix = MagicPhrasing(magic).fix(MissingKeyError().hint)
        assert "%th_config --mode offline" in fix and "-x mode" not in fix, fix
    assert "use mode='offline'" in ErrorView(MissingKeyError()).text()  # Python keeps the Python form


@pytest.mark.parametrize(("magic", "python", "magic_form"), [
    ("th_chat", "For free-form JSON use json=True instead.", "For free-form JSON use --json instead."),
    ("th_chat", "Pass tools=[…] (OpenAI function schemas) in the same call, or drop tool_choice.",
     "Pass --tools … (OpenAI function schemas) in the same call, or drop tool_choice."),
    ("th_translate", "Drop language=, or use transcribe(…, language=…).",
     "Drop --language, or use %th_transcribe --language …."),
])
def test_a_rewritten_fix_is_a_line_the_magic_takes(magic: str, python: str, magic_form: str) -> None:
    """A switch takes no value (``--json True`` is refused), a Python list is not glued to its flag
    (``--tools[…]``), and a bare Python call becomes the magic that makes it, with its options."""
    from tokenhot_nb.magics._errors import MagicPhrasing

    assert MagicPhrasing(magic).fix(python) == magic_form


def test_a_field_sent_anyway_with_a_quote_in_it_is_a_line_shlex_reads(ip: Any, offline: Any) -> None:
    import json
    import re
    import shlex

    text = shown(ip, "%%th_chat -x sytem=\"it's\"\nhi")
    found = re.search(r"write (-x extra=.*?)\.(?:\n|$)", text)
    assert found is not None, text
    flag, value = shlex.split(found.group(1))
    assert flag == "-x" and json.loads(value.split("=", 1)[1]) == {"sytem": "it's"}


def test_a_store_that_cannot_be_made_is_refused_by_th_config_itself(ip: Any, offline: Any, tmp_path: Any) -> None:
    """``%th_config --store /proc/nope`` was taken without a word: the working session was replaced, and the next
    call failed on the store. It is refused in the %th_config line, the session left as it was."""
    import tokenhot_nb

    before = tokenhot_nb.session()
    store = before.settings.store
    (tmp_path / "a-file").write_text("x")
    bad = tmp_path / "a-file" / "store"  # a folder inside a file: it can be made on no system
    said = shown(ip, f"%th_config --store {bad}")
    assert "History store problem" in said and f"the session keeps its store {str(store)!r}" in said, said
    assert "%th_config --store <another folder>" in said and "Session(" not in said  # the magic's own fix
    assert tokenhot_nb.session() is before and before.settings.store == store
    assert before.chat("hi", stream=False).text  # the old session still works


#: Shaped like a key (what the redaction masks): typed by mistake where a setting or a path goes.
TYPED_KEY = "sk-AbCdEf0123456789GhIjKlMnOpQrStUv"


@pytest.mark.parametrize(("line", "where"), [
    ("%th_config --mode {k}", "the value given to --mode"),
    ("%th_config --budget {k}", "the value given to --budget"),
    ("%th_config --price-group {k}", "the value given to --price-group"),
    ("%th_config --default-chat {k}", "the value given to --default-chat"),
    ("%th_config --default-image={k}", "the value given to --default-image"),
    ("%th_config --store {k}", "the value given to --store"),
    ("%th_config --base-url https://{k}.example", "the value given to --base-url"),
    ("%th_config --key-from-env {k}", "the value given to --key-from-env"),
    ("%th_config --key {k}", "the word after --key"),
    ("%th_config {k}", "a word on the line"),
    ("%th_history --export {k}", "the value given to --export"),
    ("%th_history -m {k}", "the value given to -m"),
    ("%%th_chat -m {k}\nhi", "the value given to -m"),
    ("%%th_chat --model={k}\nhi", "the value given to --model"),
    ("%%th_chat -m{k}\nhi", "the value given to -m"),
    ("%%th_chat --system {k}\nhi", "the value given to --system"),
    ("%%th_chat --thread {k}\nhi", "the value given to --thread"),
    ("%%th_image --model {k}\na cat", "the value given to --model"),
    ("%%th_image --edit {k}\nbluer", "the value given to --edit"),
    ("%%th_image -x user={k}\na cat", "the value given to -x"),
    ("%%th_audio --voice {k}\nhello", "the value given to --voice"),
    ("%%th_video --image {k}\na cat", "the value given to --image"),
    ("%%th_embed -m {k}\nhello", "the value given to -m"),
    ("%%th_rerank cats -m {k}\ndoc one", "the value given to -m"),
    ("%th_transcribe talk.mp3 --language {k}", "the value given to --language"),
    ("%th_translate talk.mp3 -m {k}", "the value given to -m"),
])
def test_a_key_typed_where_a_setting_goes_is_refused_unused_and_unshown(
        ip: Any, offline: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, line: str, where: str) -> None:
    """It was masked in the message ("Unknown chat model 'sk-****'", "Budget: 'sk-****' is not an amount"), which
    said nothing of the mistake, and ``--store KEY`` made a folder named after the key. Now it is refused in one
    line saying where a key goes, nothing is made of it, and the session is kept."""
    import tokenhot_nb

    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = tokenhot_nb.session()
    rows = len(before.history)
    with capture_output(display=True) as cap:
        res = ip.run_cell(line.format(k=TYPED_KEY))
    said = str(res.error_in_exec)
    assert type(res.error_in_exec).__name__ == "UsageError", cap.stdout + str(cap.outputs)
    assert len(before.history) == rows  # no call made (a magic's -m sk-… was sent, as "Unknown model 'sk-****'")
    assert said == (f"{line.split()[0]}: {where} looks like an API key, so it was not used (and is not shown). If it "
                    "is your key, delete it from this cell (IPython keeps the line in its history too). A key goes in "
                    "the environment variable TOKENHOT_API_KEY (then %th_config --key-from-env), or in the hidden "
                    "prompt of %th_config --key.")
    assert TYPED_KEY not in cap.stdout + cap.stderr + str([o.data for o in cap.outputs])
    assert list(work.iterdir()) == []  # no folder, no export file named after it
    assert tokenhot_nb.session() is before


def test_a_word_that_merely_mentions_sk_is_no_key(ip: Any, offline: Any, tmp_path: Any) -> None:
    """Only what the redaction takes for a key is refused: a store folder called ``risk-free-task-store`` is fine."""
    with capture_output(display=True):
        res = ip.run_cell(f"%th_config --store {tmp_path / 'risk-free-task-store'}")
    assert res.error_in_exec is None
    import tokenhot_nb

    assert str(tokenhot_nb.session().settings.store).endswith("risk-free-task-store")


def test_a_cap_hint_in_a_magic_names_a_line_that_raises_the_magics_limit(ip: Any, offline: Any) -> None:
    """The cap hints said ``Session(download_cap=…)``, which %th_config has no option for and which makes a session
    the magics do not use: a magic's says the line that raises its own session's limit, and that line works."""
    import re

    import tokenhot_nb

    offline.settings.download_cap = 100  # (smaller than any image the simulator makes)
    text = shown(ip, "%%th_image\na lighthouse")
    assert "Session(" not in text, text
    line = re.search(r"tokenhot_nb\.session\(\)\.settings\.download_cap = <bytes>", text)
    assert line is not None, text
    res = ip.run_cell("import tokenhot_nb; " + line.group(0).replace("<bytes>", str(10**8)))
    assert res.error_in_exec is None and tokenhot_nb.session().settings.download_cap == 10**8
    with capture_output(display=True):
        assert ip.run_cell("%%th_image\na lighthouse").error_in_exec is None
    assert offline.history.last.status == "ok"
    python = ErrorView(InputError("x", hint="Raise it: session.settings.download_cap = <bytes>.")).text()
    assert "session.settings.download_cap" in python and "tokenhot_nb.session()" not in python  # (Python's form)


#: ``session.x`` / ``s.x`` said as a Python user's session variable (a magic user has none).
_BARE_SESSION = r"(?<![\w.])(?:session|s)\.[a-z_]"


def test_a_resume_hint_in_a_magic_names_the_magics_session_and_that_line_fetches_what_was_paid(
        ip: Any, offline: Any) -> None:
    """A paid image cut at the download cap: the fix raised the limit on ``tokenhot_nb.session()`` but then said
    ``session.resume(1)``, a name a magic user does not have (NameError)."""
    import re

    import tokenhot_nb

    offline.settings.download_cap = 100
    text = shown(ip, "%%th_image\na lighthouse")
    assert not re.search(_BARE_SESSION, text), text
    line = re.search(r"tokenhot_nb\.session\(\)\.resume\((\d+)\)", text)
    assert line is not None, text
    res = ip.run_cell(f"import tokenhot_nb; tokenhot_nb.session().settings.download_cap = 10**8; {line.group(0)}")
    assert res.error_in_exec is None and res.result.path.is_file()
    assert tokenhot_nb.session().history.get(int(line.group(1))).status == "ok"


def test_a_ctrl_c_in_a_magic_names_the_magics_session(ip: Any, offline: Any) -> None:
    """``Stopped: … check the history (session.history) and your balance (session.balance())``, in a
    ``%%th_chat`` cell: neither line runs there."""
    import re

    from _session_support import HeldRecorder, interrupted_when

    import tokenhot_nb

    gate = HeldRecorder("POST", "/chat")
    tokenhot_nb.session(reset=True, transport=gate)  # (the fixture's store and mode; its teardown closes it)
    try:
        with capture_output(display=True):
            res = interrupted_when(gate.held.is_set, lambda: ip.run_cell("%%th_chat --no-stream\nhello"))
    finally:
        gate.hold.set()
    said = str(res.error_in_exec)
    assert isinstance(res.error_in_exec, KeyboardInterrupt) and "Stopped" in said, said
    assert "tokenhot_nb.session().balance()" in said and not re.search(_BARE_SESSION, said), said


def _replace_the_database_as_the_answer_arrives(session: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """A backup of the store's database put back just as a paid answer arrives: its row cannot take it."""
    import os
    import sqlite3
    from contextlib import closing

    from tokenhot_nb.history import Store

    session.chat("warm up", stream=False)
    db = session.store.db_path
    real = Store.update

    def update(self: Store, entry_id: int, **fields: Any) -> Any:
        if fields.get("status") == "ok":
            backup = tmp_path / "backup.sqlite"
            with closing(sqlite3.connect(db)) as c, closing(sqlite3.connect(backup)) as b:
                c.backup(b)
            os.replace(backup, db)
        return real(self, entry_id, **fields)

    monkeypatch.setattr(Store, "update", update)


def test_a_warning_in_a_magic_names_the_magics_session(ip: Any, offline: Any, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Any) -> None:
    """The paid answer arrived but its row could not take it (the store's file was replaced meanwhile): the warning
    said to close the session with ``session.close()``."""
    import re

    from tokenhot_nb.errors import UnrecordedWarning

    _replace_the_database_as_the_answer_arrives(offline, monkeypatch, tmp_path)
    with pytest.warns(UnrecordedWarning) as caught, capture_output(display=True):
        assert ip.run_cell("%%th_chat --no-stream\nhello").error_in_exec is None
    said = str(caught[0].message)
    assert "tokenhot_nb.session().close()" in said and not re.search(_BARE_SESSION, said), said


def test_a_file_or_a_word_that_looks_like_a_session_attribute_is_left_as_it_is() -> None:
    """Only what a Session has is said on the magics' session: a file ``s.png`` or ``session.json`` stays a file."""
    from tokenhot_nb._warn import for_magic_user

    err = InputError("Cannot save to '/tmp/out/s.png' (nor s.jpg, session.json): a folder is missing.",
                     hint="Check s.png's folder, then session.resume(3).")
    view = ErrorView(err, magic="th_image").text()
    assert "'/tmp/out/s.png'" in view and "nor s.jpg, session.json" in view and "Check s.png's" in view, view
    assert "tokenhot_nb.session().resume(3)" in view, view
    assert for_magic_user("e.g. s.model('x').choices('voices')") == "e.g. tokenhot_nb.session().model('x').choices('voices')"


def _said_lines(report: str) -> str:
    """The lines of a traceback report that are the errors' words (a frame's lines are indented)."""
    return "".join(line for line in report.splitlines(keepends=True) if not line[:1].isspace())


def test_the_last_error_of_a_magic_names_the_magics_session_and_its_frames_stay_as_they_ran(
        ip: Any, offline: Any) -> None:
    """``%th_config --last-error`` after a ``%%th_image`` cut at the download cap said ``session.resume(1)``."""
    import re

    offline.settings.download_cap = 100
    shown(ip, "%%th_image\na lighthouse")
    with capture_output(display=True) as cap:
        assert ip.run_cell("%th_config --last-error").error_in_exec is None
    report = cap.stdout
    assert "DownloadError" in report and "tokenhot_nb.session().resume(1)" in report, report
    assert "tokenhot_nb.session().settings.download_cap" in report, report
    assert not re.search(_BARE_SESSION, _said_lines(report)), report
    assert "result = s.image(prompt, **opts)" in report, report  # (a frame's code: as it ran, not rewritten)


def test_the_last_error_a_python_cell_showed_keeps_the_python_form(ip: Any, offline: Any) -> None:
    """Its ``session`` may be the user's own Session, not the magics': the words stay as the error has them."""
    offline.settings.download_cap = 100
    with capture_output(display=True):
        res = ip.run_cell("import tokenhot_nb\ntokenhot_nb.session().image('a lighthouse')")
    assert type(res.error_in_exec).__name__ == "DownloadError"
    with capture_output(display=True) as cap:
        assert ip.run_cell("%th_config --last-error").error_in_exec is None
    assert "session.resume(1)" in cap.stdout and "tokenhot_nb.session().resume" not in cap.stdout, cap.stdout


def test_th_history_says_a_rows_error_on_the_magics_session_and_the_store_keeps_it(ip: Any, offline: Any) -> None:
    """A chat a Ctrl-C stopped keeps its words in its row ("… your balance (session.balance())"): ``%th_history``
    showed them so; shown by the magic they name ``tokenhot_nb.session()``, stored and in Python they stay."""
    import re

    from _session_support import HeldRecorder, interrupted_when

    import tokenhot_nb

    gate = HeldRecorder("POST", "/chat")
    s = tokenhot_nb.session(reset=True, transport=gate)
    try:
        with capture_output(display=True):
            interrupted_when(gate.held.is_set, lambda: ip.run_cell("%%th_chat --no-stream\nhello"))
    finally:
        gate.hold.set()
    stored = s.history[-1].error["message"]
    assert "(session.balance())" in stored, stored  # (what the row keeps: the Python form)
    with capture_output(display=True):
        res = ip.run_cell("%th_history")
    assert res.error_in_exec is None
    html = res.result._repr_html_()
    assert "tokenhot_nb.session().balance()" in html and not re.search(_BARE_SESSION, html), html
    assert s.history[-1].error["message"] == stored
    python = s.history._repr_html_()
    assert "(session.balance())" in python and "tokenhot_nb.session().balance()" not in python
    assert "tokenhot_nb.session()" not in res.result.tail(1)._repr_html_()  # (a view made in Python: Python's)


def test_a_warning_of_a_no_wait_videos_background_wait_names_the_magics_session(
        ip: Any, offline: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """``%%th_video --no-wait``: the video arrived later, on the panel's thread, and its row could not take it; that
    thread runs outside the magic, so its warning said to close the session with ``session.close()``."""
    import re

    from tokenhot_nb.errors import UnrecordedWarning
    from tokenhot_nb.magics import _video

    _replace_the_database_as_the_answer_arrives(offline, monkeypatch, tmp_path)
    threads: list[Any] = []
    start = _video.in_background
    monkeypatch.setattr(_video, "in_background", lambda target: threads.append(start(target)) or threads[-1])
    with pytest.warns(UnrecordedWarning) as caught, capture_output(display=True):
        assert ip.run_cell("%%th_video --no-wait -o clip\na sunrise").error_in_exec is None
        threads[0].join(60)  # (the warning comes from the panel's thread, after the cell)
    assert not threads[0].is_alive()
    said = str(caught[0].message)
    assert "tokenhot_nb.session().close()" in said and not re.search(_BARE_SESSION, said), said


def test_a_videos_wait_that_ran_out_says_its_task_the_way_a_magic_user_can_reach_it(ip: Any, offline: Any) -> None:
    """``%%th_video`` past the deadline: the fix said ``task.wait(timeout=…)``, but a magic's wait hands its user no
    ``task``; it names the task by its id, and that line goes on with the same task (no new one)."""
    import re

    from tokenhot_nb.errors import APITimeoutError

    offline.settings.video_deadline = 0.001
    text = shown(ip, "%%th_video\na wave")
    assert text.startswith("✖ Timed out"), text
    assert not re.search(r"(?<![\w.])task\.", text), text
    task_id = offline.history[-1].response["task_id"]
    assert f"tokenhot_nb.session().resume({task_id!r}).wait(timeout=…)" in text, text
    offline.settings.video_deadline = 600
    with capture_output(display=True):
        res = ip.run_cell(f"import tokenhot_nb\nclip = tokenhot_nb.session().resume({task_id!r}).wait(timeout=60)")
    assert res.error_in_exec is None and ip.user_ns["clip"].path.is_file()
    assert len(offline.history.filter(kind="video")) == 1  # (the same task: nothing new created)
    python = ErrorView(APITimeoutError("x", hint="wait longer (task.wait(timeout=…))")).text()
    assert "task.wait(timeout=…)" in python  # (a Python wait's own handle, and no task carried: as it was)


def test_th_history_names_the_magics_history_in_a_rows_words_and_its_footer(ip: Any, offline: Any) -> None:
    """A video wait a Ctrl-C stopped keeps "resume it with session.resume('…') or history[i].resume()" in its row,
    and the text table ends "history.get(ID) shows one entry": ``history`` is no variable of a magic user's."""
    import re

    from _session_support import HeldRecorder, interrupted_when
    from IPython.lib.pretty import pretty

    import tokenhot_nb

    gate = HeldRecorder("GET", "/video")  # (the first status poll waits)
    s = tokenhot_nb.session(reset=True, transport=gate, poll_interval=0.001)
    try:
        with capture_output(display=True):
            interrupted_when(gate.held.is_set, lambda: ip.run_cell("%%th_video\na wave"))
    finally:
        gate.hold.set()
    assert "or history[i].resume()" in s.history[-1].error["message"]  # (stored as Python says it)
    with capture_output(display=True):
        res = ip.run_cell("%th_history")
    html, text = res.result._repr_html_(), pretty(res.result)
    assert "tokenhot_nb.session().history[i].resume()" in html, html
    assert "tokenhot_nb.session().history.get(ID) shows one entry" in text, text
    assert not re.search(r"(?<![\w.])(?:history\[|history\.get\()", html + text)
    assert "\nhistory.get(ID) shows one entry" in pretty(s.history)  # (Python's view: as it was)


def test_a_history_word_that_is_no_history_call_is_left_as_it_is() -> None:
    from tokenhot_nb._warn import for_magic_user

    assert for_magic_user("history.sqlite was replaced; see my_history.get(1)") == \
        "history.sqlite was replaced; see my_history.get(1)"
    assert for_magic_user("session.history.get(3).text") == "tokenhot_nb.session().history.get(3).text"


class _SlowRelay(Recorder):
    """The simulator behind a relay whose chat answers take ``seconds``: a request whose read timeout (as the client
    sent it, in its extensions) is shorter times out, as httpx's would."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.read_timeouts: list[float | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and "/chat/" in request.url.path:
            read = request.extensions.get("timeout", {}).get("read")
            self.read_timeouts.append(read)
            if read is not None and read < self.seconds:
                raise httpx.ReadTimeout("timed out", request=request)
        return await super().handle_async_request(request)


def test_a_read_timeout_fix_says_the_setting_on_the_shared_session_and_the_next_call_uses_it(ip: Any,
                                                                                             offline: Any) -> None:
    """A chat that timed out said "raise read_timeout (Session(read_timeout=…)…)": a magic user cannot make the shared
    session again that way. It names the setting on the shared session, and that line, run as written, holds for the
    next call (the httpx clients were made with the old timeout, and kept it)."""
    import re

    import tokenhot_nb
    from tokenhot_nb.errors import APITimeoutError

    relay = _SlowRelay(seconds=500)
    tokenhot_nb.session(reset=True, transport=relay, poll_interval=0.001)
    text = shown(ip, "%%th_chat --no-stream\nhello")
    assert text.startswith("✖ Timed out"), text
    assert "tokenhot_nb.session().settings.read_timeout = …" in text and "now 300 s" in text, text
    assert not re.search(r"(?<![\w.])Session\(", text), text
    line = re.search(r"tokenhot_nb\.session\(\)\.settings\.read_timeout = …", text)
    assert line is not None
    with capture_output(display=True):
        res = ip.run_cell("import tokenhot_nb\n" + line.group(0).replace("…", "600"))
        assert res.error_in_exec is None
        res = ip.run_cell("%%th_chat --no-stream -o answer\nhello")
    assert res.error_in_exec is None and relay.read_timeouts[-2:] == [300.0, 600.0], relay.read_timeouts
    assert ip.user_ns["answer"].text and tokenhot_nb.session().history[-1].status == "ok"
    python = ErrorView(APITimeoutError("x", hint="raise read_timeout (Session(read_timeout=…), now 300 s).")).text()
    assert "(Session(read_timeout=…), now 300 s)" in python  # (Python's fix: as it was)


def test_a_video_deadline_fix_says_the_setting_on_the_shared_session_and_the_next_wait_uses_it(
        ip: Any, offline: Any) -> None:
    """"wait longer (… / Session(video_deadline=…))": said on the shared session, and done as written the next
    %%th_video has the time it needs."""
    import re

    offline.settings.video_deadline = 0.001
    text = shown(ip, "%%th_video\na wave")
    assert "tokenhot_nb.session().settings.video_deadline = …" in text and "Session(" not in text, text
    with capture_output(display=True):
        assert ip.run_cell("import tokenhot_nb\ntokenhot_nb.session().settings.video_deadline = 600").error_in_exec \
            is None
        res = ip.run_cell("%%th_video -o clip\na wave")
    assert res.error_in_exec is None and ip.user_ns["clip"].path.is_file()
    assert not re.search(r"(?<![\w.])Session\(", text)


@pytest.mark.parametrize(("python", "magic"), [
    ("lower download_min_rate (Session(download_min_rate=…), 0 for no floor).",
     "lower download_min_rate (tokenhot_nb.session().settings.download_min_rate = …, 0 for no floor)."),
    ("raise stream_deadline (Session(stream_deadline=…)) if",
     "raise stream_deadline (tokenhot_nb.session().settings.stream_deadline = …) if"),
    ("Use the group your key belongs to (Session(price_group=…) or TOKENHOT_PRICE_GROUP)",
     "Use the group your key belongs to (%th_config --price-group GROUP or TOKENHOT_PRICE_GROUP)"),
    ("e.g. Session(price_group='vip'), the group", "e.g. %th_config --price-group vip, the group"),
    ("Check the base URL (Session(base_url=…) or TOKENHOT_BASE_URL)",
     "Check the base URL (%th_config --base-url URL or TOKENHOT_BASE_URL)"),
    ("Resume it with Session(store='/data/my store').", "Resume it with %th_config --store '/data/my store'."),
    ("e.g. Session(api_key=os.environ['TOKENHOT_API_KEY']).", "e.g. %th_config --key-from-env TOKENHOT_API_KEY."),
    ("Raise the budget with Session(budget=…) or `%th_config --budget AMOUNT`, or",
     "Raise the budget with `%th_config --budget AMOUNT`, or"),
    # a setting fixed when a session is made (no %th_config option), a call of several settings, a whole Python line
    ("e.g. Session(seed=3)", "e.g. Session(seed=3)"),
    ("e.g. Session(store='a', mode='offline')", "e.g. Session(store='a', mode='offline')"),
    ("e.g. tokenhot_nb.set_session(tokenhot_nb.Session(store='.tokenhot')).",
     "e.g. tokenhot_nb.set_session(tokenhot_nb.Session(store='.tokenhot'))."),
])
def test_a_setting_a_fix_names_is_said_the_way_a_magic_user_changes_it(python: str, magic: str) -> None:
    from tokenhot_nb._warn import for_magic_user

    assert for_magic_user(python) == magic


def test_a_missing_keys_fix_for_a_magic_user_names_no_session_of_their_own() -> None:
    from tokenhot_nb._warn import for_magic_user
    from tokenhot_nb.errors import MissingKeyError

    hint = MissingKeyError().hint
    assert "Session(api_key=…)" in hint  # (Python's: as it was)
    said = for_magic_user(hint)
    assert "Session(" not in said and "%th_config --key" in said and "mode='offline'" in said


class _RefusingPolls(Recorder):
    """The simulator, but a video status request is refused (400) with a relay message that holds markup."""

    MESSAGE = '<img src=x onerror="alert(1)"> status refused'

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "/video" in request.url.path:
            return httpx.Response(400, json={"error": {"message": self.MESSAGE, "type": "invalid_request_error"}})
        return await super().handle_async_request(request)


def _background_panel(ip: Any, monkeypatch: pytest.MonkeyPatch, source: str) -> tuple[str, str]:
    """(text, HTML) of a ``--no-wait`` panel once its background wait has ended."""
    from tokenhot_nb.magics import _video

    threads: list[Any] = []
    start = _video.in_background
    monkeypatch.setattr(_video, "in_background", lambda target: threads.append(start(target)) or threads[-1])
    with capture_output(display=True) as cap:
        assert ip.run_cell(source).error_in_exec is None
        threads[0].join(60)  # (the thread fills the panel in after the cell)
    assert not threads[0].is_alive()
    final = cap.outputs[-1].data
    return str(final["text/plain"]), str(final["text/html"])


def test_a_background_waits_error_shows_its_fix_for_the_magic_user(ip: Any, offline: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``--no-wait`` wait past its deadline showed "✖ Timed out: …" and the resume line, not the error's fix (how
    to wait longer); it shows it, said the way a magic user does it."""
    import re

    offline.settings.video_deadline = 0.001
    text, html = _background_panel(ip, monkeypatch, "%%th_video --no-wait -o clip\na sunrise")
    task_id = ip.user_ns["clip"].task_id
    assert text.startswith("🎬 stopped waiting") and "✖ Timed out: " in text, text
    fix = text.split("\nFix: ", 1)[1].split("\n")[0]
    assert "tokenhot_nb.session().settings.video_deadline = …" in fix, fix
    assert f"tokenhot_nb.session().resume({task_id!r})" in fix, fix
    assert "clip.wait(timeout=…)" in fix, fix  # (the wait goes on with the task as -o holds it)
    assert not re.search(r"(?<![\w.])(?:session|task)\.|(?<![\w.])Session\(", fix), fix
    assert "<div>Fix: " in html and "tokenhot_nb.session().settings.video_deadline = …" in html, html
    assert f"%th_video --resume {task_id}" in text


def test_a_background_waits_error_and_fix_are_escaped_in_the_panel(ip: Any, offline: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The relay's words in a ``--no-wait`` wait's error are data: shown in the panel's HTML as text."""
    import tokenhot_nb

    tokenhot_nb.session(reset=True, transport=_RefusingPolls(), poll_interval=0.001)
    text, html = _background_panel(ip, monkeypatch, "%%th_video --no-wait -o clip\na sunrise")
    assert _RefusingPolls.MESSAGE in text and "\nFix: " in text, text
    assert "<img" not in html and "&lt;img src=x onerror=" in html, html
    assert "<div>Fix: " in html, html


def test_a_setting_a_fix_names_bare_is_said_with_the_line_that_changes_it(ip: Any, offline: Any) -> None:
    """A stalled %%th_chat stream said "raise stream_idle_timeout", naming a setting but no way to change it; it
    says the line on the shared session, and that line holds for the next call (the stall is then seen later)."""
    import tokenhot_nb
    from tokenhot_nb.sim import Faults

    tokenhot_nb.session(reset=True, transport=Recorder(Faults(stall_stream_after=1)), stream_idle_timeout=0.2)
    text = shown(ip, "%%th_chat\nhello")
    assert "no content arrived for 0.2 s" in text, text
    assert "raise stream_idle_timeout (tokenhot_nb.session().settings.stream_idle_timeout = …)" in text, text
    with capture_output(display=True):
        ip.run_cell("import tokenhot_nb\ntokenhot_nb.session().settings.stream_idle_timeout = 0.4")
    assert "no content arrived for 0.4 s" in shown(ip, "%%th_chat\nhello")


def test_a_background_wait_for_an_unknown_task_shows_its_whole_fix_said_for_the_magic_user(
        ip: Any, offline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``%th_video --resume ID --no-wait`` for a task the service does not know: the panel squeezed the whole error
    block into 200 characters, so its fix was cut ("… (154 more characters …)"); the fix is a line of its own, and
    names the video calls as %th_history lists them."""
    text, html = _background_panel(ip, monkeypatch, "%th_video --resume task_nosuch123 --no-wait")
    assert text.startswith("🎬 failed") and "✖ Not found: " in text, text
    fix = text.split("\nFix: ", 1)[1]
    assert "more characters" not in fix and fix.endswith("check the id in %th_history --kind video."), fix
    assert "<div>Fix: " in html
    with capture_output(display=True):
        assert ip.run_cell("%th_history --kind video").error_in_exec is None
    assert "%th_history --kind video" in shown(ip, "%th_video --resume task_nosuch123")  # (waited here: the same)


def test_a_broken_streams_fix_names_where_a_magic_user_finds_its_text(ip: Any, offline: Any) -> None:
    """"The text received so far is kept in .partial_text": on what, a %%th_chat user could not tell (the error is
    no variable of theirs). It names the error as the magics keep it, and that line gives the text."""
    import tokenhot_nb
    from tokenhot_nb.sim import Faults

    s = tokenhot_nb.session(reset=True, transport=Recorder(Faults(truncate_stream_after=4)))
    text = shown(ip, "%%th_chat\nhello")
    assert "shown above and kept in tokenhot_nb.magics.last_error.partial_text and in history #" in text, text
    assert " .partial_text" not in text
    with capture_output(display=True):
        res = ip.run_cell("import tokenhot_nb\ntokenhot_nb.magics.last_error.partial_text")
    assert res.error_in_exec is None and res.result and s.history[-1].text.endswith(res.result)
