"""An imported history is untrusted: every field is checked, generated code cannot be injected into, artifact
paths stay inside the export, and one odd entry never breaks the table."""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shlex
import warnings
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb.errors import InputError, StoreError
from tokenhot_nb.history import History, HistoryEntry, Store

INJECT = '"); import os; os.system("x'
GOOD = {"id": 1, "session_id": "s1", "started": 1_700_000_000.0, "duration": 1.5, "mode": "offline",
        "kind": "chat", "model": "gpt-5.2", "endpoint": "chat", "params": {"message": "hi", "model": "gpt-5.2"},
        "request": {"method": "POST", "path": "/v1/chat/completions", "json": {"model": "gpt-5.2"}},
        "response": {}, "usage": {}, "outputs": [], "text": "hi → hello", "status": "ok", "error": None,
        "thread": None, "replay_key": "0" * 64}


def write(path: Path, records: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


@pytest.mark.parametrize("field,value", [
    ("kind", "close"), ("kind", "__class__"), ("kind", 3), ("status", "pwned"), ("mode", "root"),
    ("started", "yesterday"), ("started", float("inf")), ("started", True), ("duration", -1),
    ("model", "gpt\nimport os"), ("model", ["x"]), ("params", "not an object"), ("params", [1, 2]),
    ("outputs", [{"sha256": "../../etc/passwd", "mime": "image/png", "size": 1}]),
    ("outputs", [{"sha256": "a" * 64, "mime": "text/html<script>", "size": 1}]),
    ("outputs", "x"), ("error", "boom"), ("thread", 5), ("parent", "1; DROP TABLE entries"), ("text", {"a": 1}),
])
def test_invalid_fields_are_left_out_with_a_warning(tmp_path: Path, field: str, value: Any) -> None:
    bad = {**GOOD, "id": 2, field: value}
    src = write(tmp_path / "h.jsonl", [GOOD, bad])
    with pytest.warns(UserWarning, match=r"1 of 2 entries of h.jsonl were left out: entry 2: "):
        h = History.load(src, tmp_path / "store")
    assert len(h) == 1 and h[0].model == "gpt-5.2"
    with pytest.raises(InputError, match="invalid entr"):
        History.load(src, tmp_path / "store2", strict=True)


@pytest.mark.parametrize("field,value,where", [
    ("text", "half an emoji \ud83e", "text"), ("params", {"message": "a\udcffb"}, "params.message"),
    ("params", {"x\ud800": 1}, "params key"), ("error", {"message": ["ok", "\udfff"]}, "error.message[1]"),
    ("model", "gpt\ud800", "model"),
])
def test_a_lone_surrogate_leaves_its_entry_out_not_the_whole_import(tmp_path: Path, field: str, value: Any,
                                                                    where: str) -> None:
    """A ``"\\ud800"`` escape (valid JSON, no valid Unicode) stopped ``History.load`` with a bare
    UnicodeEncodeError from the database, every good entry of the file lost with it."""
    bad = {**GOOD, "id": 2, field: value}
    src = write(tmp_path / "h.jsonl", [GOOD, bad, {**GOOD, "id": 3, "text": "after"}])
    said = re.escape(f"1 of 3 entries of h.jsonl were left out: entry 2: {where}: holds a lone surrogate ('\\ud")
    with pytest.warns(UserWarning, match=said):
        h = History.load(src, tmp_path / "store")
    assert [e.text for e in h] == ["hi → hello", "after"]
    with pytest.raises(InputError, match="lone surrogate"):
        History.load(src, tmp_path / "store2", strict=True)


def test_a_call_exported_while_running_is_loaded_interrupted(tmp_path: Path) -> None:
    """A row exported mid-call was loaded ``running``, and stayed so for ever: no process of this host owns it,
    so nothing marks it. It is loaded ``interrupted`` (saying why); a pending video task stays pending, to be
    resumed by its task id."""
    running = {**GOOD, "id": 2, "status": "running"}
    pending = {**GOOD, "id": 3, "kind": "video", "status": "pending", "response": {"task_id": "task_1"}}
    h = History.load(write(tmp_path / "h.jsonl", [GOOD, running, pending]), tmp_path / "store")
    assert [e.status for e in h] == ["ok", "interrupted", "pending"]
    assert "still running when its history was exported" in h[1].error["message"]
    h.store.close()
    assert [e.status for e in History(tmp_path / "store")] == ["ok", "interrupted", "pending"]


def test_replay_key_is_recomputed(tmp_path: Path) -> None:
    """A forged replay key cannot make replay answer one call with another call's recording."""
    h = History.load(write(tmp_path / "h.jsonl", [GOOD]), tmp_path / "store")
    assert h[0].replay_key != "0" * 64 and len(h[0].replay_key) == 64


def test_not_an_export_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(StoreError, match="is not a history export"):
        History.load(tmp_path / "x.json", tmp_path / "store")
    with pytest.raises(StoreError, match="Could not read"):
        History.load(tmp_path / "missing.json", tmp_path / "store")


def test_an_export_saved_again_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """An export opened and saved by an editor that writes a UTF-8 byte-order mark was "not a history export:
    Unexpected UTF-8 BOM"; it loads as it is, JSON and JSONL."""
    for name, text in (("h.jsonl", json.dumps(GOOD) + "\n"), ("h.json", json.dumps([GOOD]))):
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
        assert [e.text for e in History.load(tmp_path / name, tmp_path / f"store-{name}")] == ["hi → hello"]


def test_a_store_or_its_database_given_as_an_export_says_what_to_open(tmp_path: Path) -> None:
    """``History.load('.tokenhot')`` or ``History.load('.tokenhot/history.sqlite')`` said "Is a directory" or
    "'utf-8' codec can't decode byte 0xfb": each says what it is and how to open it."""
    root = tmp_path / "mine"
    Store(root).insert(HistoryEntry(kind="chat", model="m"))
    with pytest.raises(StoreError, match=r"is a history store \(a folder\), not an export") as info:
        History.load(root, tmp_path / "store")
    assert f"History({str(root)!r})" in (info.value.hint or "")
    with pytest.raises(StoreError, match=r"is a history database \(a store's own file\), not an export") as info:
        History.load(root / "history.sqlite", tmp_path / "store")
    assert f"History({str(root)!r})" in (info.value.hint or "") and "\n" not in str(info.value)


def test_artifact_paths_stay_inside_the_export(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"private bytes")
    sha = hashlib.sha256(b"private bytes").hexdigest()
    src = write(tmp_path / "h.jsonl", [{**GOOD, "outputs": [{"sha256": sha, "mime": "text/plain", "size": 13}]}])
    folder = tmp_path / "h.jsonl.artifacts"
    folder.mkdir()
    (folder / f"{sha}.txt").symlink_to(secret)  # a link out of the folder
    (folder / "manifest.json").write_text(json.dumps({sha: {"file": "../secret.txt", "mime": "text/plain"}}))
    h = History.load(src, tmp_path / "store")
    assert len(h) == 1 and not h.store.has(sha)  # neither the ../ name nor the symlink was followed


def test_artifacts_inside_the_export_still_load(tmp_path: Path) -> None:
    data = b"\x89PNG fake but hashed"
    sha = hashlib.sha256(data).hexdigest()
    src = write(tmp_path / "h.jsonl", [{**GOOD, "outputs": [{"sha256": sha, "mime": "image/png", "size": len(data)}]}])
    folder = tmp_path / "h.jsonl.artifacts"
    folder.mkdir()
    (folder / f"{sha}.png").write_bytes(data)
    h = History.load(src, tmp_path / "store")
    assert h.store.has(sha)


HOSTILE = {**GOOD, "kind": "chat", "mode": "offline", "model": INJECT,
           "params": {"message": INJECT, INJECT: INJECT, "model": INJECT, "n": float("nan"),
                      "nested": {INJECT: [INJECT, {"artifact": "b" * 64, "mime": "image/png"}]}},
           "thread": "t"}


def test_to_code_parses_and_holds_every_value_as_data(tmp_path: Path) -> None:
    h = History.load(write(tmp_path / "h.jsonl", [HOSTILE]), tmp_path / "store")
    code = h[0].to_code()
    tree = ast.parse(code)
    # exactly: import, assignment of the session, one call; nothing else was injected
    kinds = [type(n).__name__ for n in tree.body]
    assert kinds == ["Import", "Assign", "Assign"], code
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    names = {ast.unparse(c.func) for c in calls}
    assert names <= {"tokenhot_nb.session", "s.chat", "s.history.artifact", "float"}, names
    call = tree.body[-1].value  # type: ignore[attr-defined]
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    assert ast.literal_eval(kw["message"]) == INJECT and ast.literal_eval(kw["model"]) == INJECT


def test_to_code_comment_cannot_be_broken(tmp_path: Path) -> None:
    e = HistoryEntry(kind="chat\nimport os", mode="offline\u2028os.system('x')", started=1.0, params={})
    tree = ast.parse(e.to_code())
    assert [type(n).__name__ for n in tree.body] == ["Import", "Assign", "Assign"]
    HistoryEntry(kind="chat", started=float("nan")).to_code()  # an odd time is not a crash


def test_to_curl_is_one_command_of_quoted_words() -> None:
    e = HistoryEntry(kind="edit", request={
        "method": "POST; rm -rf ~", "path": "/v1/images/edits?$(id)", "params": {"q": "$(id)`id`"},
        "data": {"prompt; rm": "$(reboot)", "n": 1},
        "files": [{"field": "image;x=@/etc/passwd", "filename": "/home/me/.ssh/id_rsa",
                   "content_type": "image/png;x=@/etc/shadow"}],
        "json": None})
    cmd = e.to_curl()
    lexer = shlex.shlex(cmd.replace("\\\n", " "), posix=True, punctuation_chars=True)
    words = list(lexer)
    assert not [w for w in words if set(w) <= set(";&|()<>")], words  # no unquoted shell operator
    assert words[0] == "curl" and words[1] == "-X" and words[2] == "POST; RM -RF ~"
    assert "/etc/passwd" not in cmd and "/home/me" not in cmd and "/etc/shadow" not in cmd
    assert "image_x___etc_passwd=@id_rsa" in cmd
    assert "$TOKENHOT_API_KEY" in cmd


def test_one_odd_row_never_breaks_the_table(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    ok = store.insert(HistoryEntry(kind="chat", model="gpt-5.2", text="fine", status="ok"))
    odd = store.insert(HistoryEntry(kind="chat", model="gpt-5.2", text="odd", status="ok"))
    conn = store._conn()
    conn.execute("UPDATE entries SET outputs=?, usage=? WHERE id=?", ("{not json", "[1,2]", odd))
    conn.commit()
    html = History(store)._repr_html_()
    assert "could not be shown" in html and "fine" in html and html.count("<tr>") == 3
    assert ok != odd


def test_imported_text_renders_escaped(tmp_path: Path) -> None:
    evil = {**GOOD, "text": "<img src=x onerror=alert(1)>", "model": "<script>x</script>",
            "error": {"error": "<b>", "message": "<svg onload=alert(1)>", "hint": ""}}
    h = History.load(write(tmp_path / "h.jsonl", [evil]), tmp_path / "store")
    for html in (h._repr_html_(), h[0]._repr_html_()):
        assert "<img src=x" not in html and "<script>" not in html and "<svg" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize("field,value", [
    ("status", "sk-COLLEAGUE-key-0123456789abcdef"), ("started", "sk-COLLEAGUE-key-0123456789abcdef"),
    ("parent", "sk-COLLEAGUE-key-0123456789abcdef"),
    ("outputs", [{"sha256": "a" * 64, "mime": "image/png", "size": 1, "role": "sk-COLLEAGUE-key-0123456789abcdef"}]),
])
def test_a_key_quoted_by_an_invalid_field_is_redacted_in_the_warning(tmp_path: Path, field: str, value: Any) -> None:
    """The warning that leaves a bad record out quotes the bad value; a warning is output (a cell shows it, a log
    keeps it), so the key-shaped value is masked there as in the strict error."""
    src = write(tmp_path / "h.jsonl", [GOOD, {**GOOD, "id": 2, field: value}])
    with pytest.warns(UserWarning) as caught:
        History.load(src, tmp_path / "store")
    shown = " ".join(str(w.message) for w in caught)
    assert "left out" in shown and "sk-****" in shown
    assert "COLLEAGUE" not in shown


KNOWN = "tkn_plainkey_with_no_prefix_0123456789abcdef"  # a key of no known shape: masked only by value


@pytest.mark.parametrize(("field", "value"), [
    ("started", "x" * 10 + KNOWN),  # a number expected: the value is quoted, cut at 40
    ("kind", "c" * 20 + KNOWN),  # an enum: quoted, cut at 60
    ("parent", "p" * 8 + KNOWN),  # an entry id expected: quoted, cut at 40
    ("outputs", [{"sha256": "a" * 64, "mime": "image/png", "size": 1, "role": "r" * 10 + KNOWN}]),
])
def test_no_part_of_a_known_key_survives_the_cut_of_a_quoted_value(tmp_path: Path, field: str, value: Any) -> None:
    """Messages quote a bad value cut to a few dozen characters; cut before redaction, a key straddling the cut
    lost its end, no longer matched, and its first part showed in the strict error."""
    from tokenhot_nb._config import Secret

    Secret(KNOWN)  # as a Session given this key would
    src = write(tmp_path / "h.jsonl", [{**GOOD, field: value}])
    with pytest.raises(InputError) as err:
        History.load(src, tmp_path / "store", strict=True)
    shown = str(err.value)
    assert "invalid entr" in shown
    assert KNOWN[:12] not in shown


def test_the_same_export_loaded_twice_adds_its_rows_once(tmp_path: Path) -> None:
    """Loaded again into the same store (a cell run twice), an export's rows showed twice in the history and counted
    twice against the budget. Rows already there are not added again, with a warning; the History returned still
    shows every row of the export, and a thread's turns keep their links."""
    first = {**GOOD, "id": 7, "thread": "t", "text": "turn 1"}
    second = {**GOOD, "id": 8, "thread": "t", "parent": 7, "started": GOOD["started"] + 5, "text": "turn 2"}
    other = {**GOOD, "id": 9, "status": "error", "error": {"message": "x"}, "text": "failed"}
    src = write(tmp_path / "h.jsonl", [first, second, other])
    h1 = History.load(src, tmp_path / "store")
    assert "already here" not in repr(h1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no warning: a notebook run again must show what it showed)
        h2 = History.load(src, tmp_path / "store")
    assert "(loaded from h.jsonl; 3 of 3 already here, not added again)" in repr(h2)
    assert [e.id for e in h2] == [e.id for e in h1] and len(History(tmp_path / "store")) == 3
    assert h2[1].parent == h2[0].id
    changed = write(tmp_path / "h2.jsonl", [first, {**second, "text": "turn 2, edited"}])
    h3 = History.load(changed, tmp_path / "store")  # what differs is added; what is the same is shown
    assert "1 of 2 already here" in repr(h3)
    assert [e.text for e in h3] == ["turn 1", "turn 2, edited"] and len(History(tmp_path / "store")) == 4
    assert h3[1].parent == h1[0].id


def test_a_store_loaded_into_itself_keeps_its_rows_once(tmp_path: Path) -> None:
    from tokenhot_nb import Session

    s = Session(mode="offline", store=tmp_path / "s")
    s.chat("hi", stream=False, thread=False)
    s.chat("again", stream=False)
    s.chat("and again", stream=False)
    spent = s.budget.spent_usd
    s.history.export(tmp_path / "x.jsonl")
    assert "3 of 3 already here" in repr(History.load(tmp_path / "x.jsonl", s.store))
    assert len(s.history) == 3 and s.budget.spent_usd == pytest.approx(spent)
    s.close()


@pytest.mark.parametrize(("content", "said"), [
    (b"", "0 bytes"), (b"\n\n  \r\n\t\n", "only blank lines"), (b"\xef\xbb\xbf\n", "only blank lines")])
def test_an_empty_export_file_says_so(tmp_path: Path, content: bytes, said: str) -> None:
    """An empty file (a wrong path, a write that never finished) loaded as 0 entries without a word. It says so in
    one line, a warning as for the entries a load leaves out: it still loads (as what an empty history's JSONL
    export is), with strict=True too, since nothing in it is invalid."""
    src = tmp_path / "h.jsonl"
    src.write_bytes(content)
    for strict in (False, True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            h = History.load(src, tmp_path / f"store-{strict}", strict=strict)
        assert len(h) == 0
        assert [str(w.message) for w in caught] == [
            f"h.jsonl is empty ({said}): no entries were loaded. Check the path if you expected some (an empty "
            "history's JSONL export is empty too)."]
    assert len(History.load(write(tmp_path / "one.jsonl", [GOOD]), tmp_path / "store-one")) == 1  # (no warning)
