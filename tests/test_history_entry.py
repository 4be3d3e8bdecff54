"""HistoryEntry: to_code / to_curl / rerun / resume / result, and the replay lookup."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb.errors import InputError, TokenhotError
from tokenhot_nb.history import History, HistoryEntry, Store, replay_key
from tokenhot_nb.history._entry import map_refs


class FakeSession:
    """Captures every call made on it, like a Session would receive it."""

    def __init__(self, store: Store | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.history = types.SimpleNamespace(artifact=lambda sha: ("ART", sha))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args: Any, **kwargs: Any) -> str:
            self.calls.append((name, args, kwargs))
            return f"result of {name}"

        return method


def test_to_code_parses_and_reproduces_the_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    a = store.add_bytes(b"img-a", "image/png")
    b = store.add_bytes(b"img-b", "image/jpeg")
    params = {
        "prompt": "a 'quoted' \"cat\"\nwith a newline, ünïcödé and \\ backslash",
        "model": "gpt-image-1", "n": 2, "size": "1024x1024", "seed": None, "quality": 0.75,
        "images": [a.ref(), b.ref()], "mask": a.ref(), "big": float("inf"), "flag": True,
        "extra": {"style": {"nested": [1, 2, {"k": "v"}]}, "ref": b.ref()},
        "max-tokens": 5, "class": "keyword",  # not valid keyword-argument names
    }
    e = HistoryEntry(kind="edit", model="gpt-image-1", params=params)
    store.insert(e)
    code = store.get(e.id or 0).to_code()
    ast.parse(code)
    assert f"s.history.artifact({a.sha256!r})" in code
    assert code.startswith("# edit call recorded") and "import tokenhot_nb" in code

    fake = FakeSession()
    module = types.ModuleType("tokenhot_nb")
    module.session = lambda: fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tokenhot_nb", module)
    namespace: dict[str, Any] = {}
    exec(compile(code, "<to_code>", "exec"), namespace)
    assert namespace["result"] == "result of edit"
    [(name, args, kwargs)] = fake.calls
    assert name == "edit" and args == ()
    assert kwargs == map_refs(params, lambda ref: ("ART", ref["artifact"]))


def test_to_code_short_call_is_one_line() -> None:
    code = HistoryEntry(kind="chat", model="m", params={"message": "hi", "model": "m"}).to_code()
    assert code.splitlines()[-1] == "result = s.chat(message='hi', model='m')"
    odd = HistoryEntry(kind="for", params={"x": 1}).to_code()  # a kind that is not a name still parses
    ast.parse(odd)
    assert odd.splitlines()[-1] == "result = getattr(s, 'for')(x=1)"


@pytest.mark.parametrize("kind,params", [
    ("chat", {"model": "m", "ｍｏｄｅｌ": "other"}),  # fullwidth letters: Python reads the name as model
    ("chat", {"ℌ": 1, "H": 2}),  # a letterlike symbol that normalises to another key
    ("chat", {"ﬁle": "x"}),  # a ligature: recorded as "ﬁle", Python would send file=
    ("chat", {"__debug__": 1}),  # a name no argument may have
    ("ｃｈａｔ", {"x": 1}),  # a kind Python reads as s.chat
    ("chat", {"text": "'''\"\"\"\\\n\u2028\x00\u202e"}),
])
def test_to_code_sends_every_recorded_name_exactly(monkeypatch: pytest.MonkeyPatch, kind: str,
                                                   params: dict[str, Any]) -> None:
    """Python reads identifiers NFKC-normalised: a non-ASCII name in a (possibly imported) entry must not be
    written as a bare keyword (it would become another argument, or repeat one), nor may ``__debug__``."""
    code = HistoryEntry(kind=kind, params=params).to_code()
    fake = FakeSession()
    module = types.ModuleType("tokenhot_nb")
    module.session = lambda: fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tokenhot_nb", module)
    exec(compile(code, "<to_code>", "exec"), {})
    [(name, args, kwargs)] = fake.calls
    assert name == kind and args == () and kwargs == params


@pytest.mark.parametrize("field,value", [
    ("mode", "offline -*- coding: utf-7 -*-"), ("kind", "chat coding=utf-7"), ("mode", "vim: fileencoding=utf_7"),
    ("kind", "x\tCODING: UTF-7"),
])
def test_generated_code_saved_as_a_file_declares_no_encoding(monkeypatch: pytest.MonkeyPatch, field: str,
                                                             value: str) -> None:
    """The first line is a comment holding the entry's kind and mode; Python reads ``coding: …`` there as the
    file's encoding (PEP 263), and in UTF-7 a string value's ``+AAo-`` is a line break: saved to a .py file, a
    store's hostile fields would run code. Compiled as bytes (as a file is), the code is the one call."""
    import tokenize
    from io import BytesIO

    params = {"message": "x+ACc-)+AAo-print(+ACc-INJECTED+ACc-)+AAo-(+ACc-"}
    code = HistoryEntry(**{"kind": "chat", "mode": "offline", field: value}, params=params).to_code()
    assert tokenize.detect_encoding(BytesIO(code.encode()).readline)[0] == "utf-8"
    fake = FakeSession()
    module = types.ModuleType("tokenhot_nb")
    module.session = lambda: fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tokenhot_nb", module)
    exec(compile(code.encode(), "saved.py", "exec"), {})
    [(_name, _args, kwargs)] = fake.calls
    assert kwargs == params


def test_to_curl_json_and_multipart() -> None:
    e = HistoryEntry(kind="chat", request={
        "method": "POST", "path": "/v1/chat/completions",
        "json": {"model": "gpt-4o", "messages": [{"role": "user", "content": "it's sk-live-SECRET123456"}],
                 "stream": True},
    })
    curl = e.to_curl()
    assert curl.startswith("curl -X POST -N https://api.tokenhot.cn/v1/chat/completions")
    assert '-H "Authorization: Bearer $TOKENHOT_API_KEY"' in curl
    assert "-d '" in curl and "Content-Type: application/json" in curl
    assert "SECRET123456" not in curl
    import shlex

    words = shlex.split(curl.replace("\\\n", " "))
    body = words[words.index("-d") + 1]
    assert '"stream":true' in body and "it's" in body

    m = HistoryEntry(kind="edit", request={
        "method": "POST", "path": "/v1/images/edits",
        "data": {"model": "gpt-image-1", "prompt": "@not-a-file", "tags": ["a", "b"]},
        "files": [{"field": "image", "filename": "in.png", "content_type": "image/png", "size": 10}],
    })
    curl = m.to_curl("https://api.tokenhot.ai/")
    words = shlex.split(curl.replace("\\\n", " "))
    assert words[:4] == ["curl", "-X", "POST", "https://api.tokenhot.ai/v1/images/edits"]
    assert "image=@in.png;type=image/png" in words and words[words.index("image=@in.png;type=image/png") - 1] == "-F"
    assert "prompt=@not-a-file" in words
    assert words[words.index("prompt=@not-a-file") - 1] == "--form-string"  # text never read as a file
    assert "tags=a" in words and "tags=b" in words
    g = HistoryEntry(request={"method": "GET", "path": "/v1/videos/abc", "params": {"a": "1 2"}})
    assert g.to_curl().startswith("curl 'https://api.tokenhot.cn/v1/videos/abc?a=1+2'")
    for c in (curl, g.to_curl()):
        assert "sk-" not in c


def test_rerun_resume_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    a = store.add_bytes(b"audio", "audio/wav")
    e = HistoryEntry(kind="transcribe", model="whisper-1", params={"audio": a.ref(), "language": "en"})
    store.insert(e)
    entry = History(store).get(e.id or 0)
    fake = FakeSession()
    assert entry.rerun(fake) == "result of transcribe"
    assert fake.calls[-1] == ("transcribe", (), {"audio": a.path, "language": "en"})

    with pytest.raises(InputError):
        entry.resume(fake)
    v = HistoryEntry(kind="video", model="veo", response={"task_id": "task-42"}, status="pending")
    store.insert(v)
    assert store.get(v.id or 0).resume(fake) == "result of resume"
    assert fake.calls[-1] == ("resume", ("task-42",), {})

    # a History bound to a session hands it to its entries
    bound = History(store, session=fake)
    bound[-1].resume()
    assert fake.calls[-1] == ("resume", ("task-42",), {})

    # default session: tokenhot_nb.session(), imported lazily
    default = FakeSession()
    monkeypatch.setitem(sys.modules, "tokenhot_nb", types.SimpleNamespace(session=lambda: default))
    store.get(v.id or 0).rerun()
    assert default.calls[-1][0] == "video"

    # result(): the real rebuilder, with the session given, and no request
    monkeypatch.undo()
    fake.store = store  # type: ignore[attr-defined]
    before = len(fake.calls)
    task = store.get(v.id or 0).result(fake)
    assert type(task).__name__ == "VideoTask"
    assert (task.task_id, task.model, task.session) == ("task-42", "veo", fake)
    with pytest.raises(TokenhotError, match=f"#{entry.id} did not finish"):
        entry.result(fake)  # still "running": nothing to rebuild
    assert len(fake.calls) == before


@pytest.mark.parametrize("wrong", [3, "3", 2.5, [1], Path("store")], ids=["index", "str", "float", "list", "path"])
@pytest.mark.parametrize(("kind", "method"), [("image", "rerun"), ("image", "result"), ("image", "resume"),
                                              ("video", "resume"), ("chat", "rerun")])
def test_a_wrong_argument_is_one_input_error_saying_what_it_must_be(tmp_path: Path, wrong: Any, kind: str,
                                                                    method: str) -> None:
    """``entry.rerun(3)`` (an index where a session goes) fails at once, not deep inside with an AttributeError."""
    store = Store(tmp_path)
    e = HistoryEntry(kind=kind, model="m", params={"prompt": "a cat"}, response={"task_id": "task-1"})
    store.insert(e)
    store.update(e.id or 0, status="ok")
    entry = store.get(e.id or 0).bind(store)
    with pytest.raises(InputError) as info:
        getattr(entry, method)(wrong)
    err = info.value
    assert err.message == (f"entry.{method}() takes a Session to use (or nothing: the entry's own session), not "
                           f"{type(wrong).__name__}.")
    assert f"session.history.get(<entry id>).{method}()" in err.hint
    assert err.__cause__ is None and not isinstance(err.__context__, AttributeError)


@pytest.mark.parametrize("wrong", [3, b"https://x", ""], ids=["int", "bytes", "empty"])
def test_to_curl_with_a_wrong_base_url_is_one_input_error(wrong: Any) -> None:
    entry = HistoryEntry(kind="chat", request={"method": "POST", "path": "/v1/chat/completions", "json": {}})
    with pytest.raises(InputError, match=r"^entry\.to_curl\(\) takes the service's base URL \(a string\), not "
                                         r"(int|bytes|an empty string)\."):
        entry.to_curl(wrong)


def test_a_session_stand_in_is_still_taken(tmp_path: Path) -> None:
    """The check is by what the methods use, so a duck-typed session (as the widgets' tests use) still works."""
    store = Store(tmp_path)
    e = HistoryEntry(kind="chat", model="m", params={"message": "hi"})
    store.insert(e)
    fake = FakeSession()
    assert store.get(e.id or 0).rerun(fake) == "result of chat"


def test_entry_dict_round_trip_and_artifacts(tmp_path: Path) -> None:
    store = Store(tmp_path)
    art = store.add_bytes(b"x" * 10, "text/plain", name="a.txt")
    e = HistoryEntry(kind="chat", outputs=[{**art.as_dict(), "role": "text"}])
    store.insert(e)
    got = store.get(e.id or 0)
    assert HistoryEntry.from_dict(got.to_dict()) == got
    assert got.artifacts == [art] and got.artifacts[0].path.read_bytes() == b"x" * 10
    import dataclasses

    assert "_store" not in dataclasses.asdict(got)  # a bound store is never copied or exported


def test_replay_key_is_canonical() -> None:
    k1 = replay_key("image", "m", "/v1/images/generations", {"prompt": "a", "size": "1x1", "opts": {"b": 1, "a": 2}})
    k2 = replay_key("image", "m", "/v1/images/generations", {"opts": {"a": 2, "b": 1}, "size": "1x1", "prompt": "a"})
    assert k1 == k2 and len(k1) == 64
    assert replay_key("image", "m", "/v1/x", {"l": (1, 2)}) == replay_key("image", "m", "/v1/x", {"l": [1, 2]})
    assert k1 != replay_key("image", "m", "/v1/images/generations", {"prompt": "a", "size": "2x2", "opts": {}})
    assert k1 != replay_key("edit", "m", "/v1/images/generations", {"prompt": "a", "size": "1x1", "opts": {"b": 1, "a": 2}})
    import hashlib
    import json

    expected = hashlib.sha256(json.dumps(["chat", "m", "e", {"a": 1, "b": [1]}], sort_keys=True,
                                         separators=(",", ":")).encode()).hexdigest()
    assert replay_key("chat", "m", "e", {"b": [1], "a": 1}) == expected


def test_find_replay_and_nearest(tmp_path: Path) -> None:
    store = Store(tmp_path)

    def rec(model: str, params: dict[str, Any], status: str = "ok", kind: str = "image") -> HistoryEntry:
        e = HistoryEntry(kind=kind, model=model, endpoint="/v1/images/generations", params=params)
        store.insert(e)
        store.update(e.id or 0, status=status)
        return store.get(e.id or 0)

    old = rec("gpt-image-1", {"prompt": "cat", "size": "1024x1024", "n": 1})
    new = rec("gpt-image-1", {"prompt": "cat", "size": "1024x1024", "n": 1})
    rec("gpt-image-1", {"prompt": "cat", "size": "1024x1024", "n": 1, "seed": 3}, status="error")
    other = rec("flux", {"prompt": "dog", "size": "512x512", "n": 1})
    chat = rec("gpt-image-1", {"prompt": "cat"}, kind="chat")

    key = store.key_for("image", "gpt-image-1", "/v1/images/generations", {"n": 1, "prompt": "cat", "size": "1024x1024"})
    assert key == old.replay_key == new.replay_key
    found = store.find_replay(key)
    assert found is not None and found.id == new.id  # newest ok
    assert store.find_replay("0" * 64) is None

    near, diffs = store.nearest("image", "gpt-image-1", {"prompt": "cat", "size": "512x512", "n": 1})
    assert near is not None and near.id in (old.id, new.id) and near.status == "ok"
    assert diffs == ["size: recorded '1024x1024', asked '512x512'"]

    near, diffs = store.nearest("image", "flux", {"prompt": "dog", "size": "512x512", "n": 2, "style": "x"})
    assert near is not None and near.id == other.id
    assert diffs == ["n: recorded 1, asked 2", "style: not recorded, asked 'x'"]

    near, diffs = store.nearest("image", "flux", {"prompt": "cat", "size": "1024x1024", "n": 1},
                                endpoint="/v1/images/generations")
    assert near is not None and near.model == "gpt-image-1"
    assert diffs == ["model: recorded 'gpt-image-1', asked 'flux'"]

    near, diffs = store.nearest("chat", "gpt-image-1", {"prompt": "cat", "temperature": 0.2})
    assert near is not None and near.id == chat.id
    assert diffs == ["temperature: not recorded, asked 0.2"]

    assert store.nearest("video", "veo", {"prompt": "x"}) == (None, [])


def test_the_repr_of_an_entry_cannot_drive_a_terminal() -> None:
    """A store's row is data (another version, a colleague's folder): its kind, model and text reach a terminal
    through repr without their escapes."""
    e = HistoryEntry(id=3, kind="chat\x1b]52;c;ZXZpbA==\x07", model="m\x1b[2J", started=1.0, status="ok\r",
                     params={"message": "hi\x1b[31m there"})
    shown = repr(e)
    assert not any(ch in shown for ch in "\x1b\x07\r"), shown
    assert shown.startswith("HistoryEntry(id=3, chat") and "there" in shown


@pytest.mark.parametrize("bad", [5, "not a dict", ["id", 1]])
def test_from_dict_of_no_dict_is_one_clear_line(bad: Any) -> None:
    from tokenhot_nb.errors import WrongTypeError

    with pytest.raises(WrongTypeError, match=r"takes a dict \(an exported entry\)"):
        HistoryEntry.from_dict(bad)
    assert HistoryEntry.from_dict({"id": 3, "kind": "chat", "unknown": 1}).id == 3


@pytest.mark.parametrize("wrong", ["ftp://x", "http://", "api.tokenhot.cn"])
def test_to_curl_with_a_base_url_curl_cannot_post_to_is_one_input_error(wrong: str) -> None:
    """``to_curl('http://')`` wrote ``curl -X POST http:/v1/…`` and ``'ftp://x'`` an FTP "POST", without a word."""
    entry = HistoryEntry(kind="chat", request={"method": "POST", "path": "/v1/chat/completions", "json": {}})
    with pytest.raises(InputError, match=r"^entry\.to_curl\(\) takes an http\(s\) base URL with a host"):
        entry.to_curl(wrong)
    assert entry.to_curl(" https://relay.example/ ").startswith("curl -X POST https://relay.example/v1/chat/")


def test_to_curl_of_a_call_refused_before_sending_says_there_was_no_request(tmp_path: Path) -> None:
    """A call refused before it was sent (an unknown model) has no request: ``to_curl()`` wrote
    ``curl -X POST https://api.tokenhot.cn/``, a request to the site's root that was never made."""
    from tokenhot_nb import Session

    with Session(mode="offline", store=tmp_path / "st") as s:
        with pytest.raises(TokenhotError):
            s.image("a cat", model="no-such-model")
        refused = s.history[-1]
        with pytest.raises(InputError, match=rf"History entry #{refused.id} holds no request to write as curl: it "
                                             r"was refused before anything was sent \(Unknown image model") as info:
            refused.to_curl()
        assert "to_code()" in (info.value.hint or "") and "\n" not in str(info.value)
        assert "s.image(prompt='a cat', model='no-such-model')" in refused.to_code()
