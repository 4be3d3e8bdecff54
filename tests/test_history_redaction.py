"""Stored text is encoded once and redacted once per text, with exactly the result of string-by-string redaction."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from tokenhot_nb._config import Secret
from tokenhot_nb.history import HistoryEntry, Store
from tokenhot_nb.history._entry import dumps, dumps_redacted, jsonable

KEY = "sk-" + "A1b2C3d4" * 4
ODD = 'sk-with"quote\\and\nnewline-1234567890'


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("value", [
    {"message": "plain", "n": 1, "x": [1.5, None, True]},
    {"message": f"my key is {KEY} ok", "nested": [{"deep": [f"Bearer {KEY}"]}]},
    {f"key {KEY}": "in a dict key"},
    {"odd": f"a {ODD} b"},
    {"bytes": b"\x00\x01", "set": {"b", "a"}, "tuple": (1, "two"), "secret": Secret(KEY)},
    ["sk-learn is a library, not a key", "sk-short"],
    {"nan": float("nan")},
])
def test_the_one_pass_equals_string_by_string_redaction(value: object) -> None:
    secrets = (Secret(ODD), "hunter2-custom-secret")
    text, clean = dumps_redacted(value, secrets)
    assert text == dumps(jsonable(value, secrets))
    assert KEY not in text and "hunter2" not in text and "quote" not in text
    if clean:  # nothing redacted or converted: the text is the value itself
        assert json.loads(text) == value or value == {"nan": value.get("nan")}  # type: ignore[union-attr]


def test_the_known_key_is_removed_even_escaped_inside_json(tmp_path: Path) -> None:
    store = Store(tmp_path, secrets=[ODD])
    eid = store.insert(HistoryEntry(kind="chat", model="m", params={"message": f"x {ODD} y"}, text=f"t {ODD}"))
    row = store.connection().execute("SELECT params, text FROM entries WHERE id=?", (eid,)).fetchone()
    assert "quote" not in row[0] and "quote" not in row[1]
    assert store.get(eid).params == {"message": "x sk-**** y"}


def test_a_finished_entry_holds_what_its_row_holds(tmp_path: Path) -> None:
    store = Store(tmp_path)
    e = HistoryEntry(kind="chat", model="m", params={"message": f"key {KEY}", "raw": b"xy"}, text="q")
    eid = store.insert(e)
    assert e.params == store.get(eid).params == {"message": "key sk-****", "raw": {"bytes": 2}}
    kept = store.update(eid, status="ok", response={"note": f"echo {KEY}"}, usage={"total_tokens": 3},
                        outputs=[], text=f"q {KEY}")
    got = store.get(eid)
    assert kept["response"] == got.response == {"note": "echo sk-****"}
    assert kept["text"] == got.text == "q sk-****" and kept["usage"] == got.usage


def test_export_lines_are_exactly_the_entries_as_json(tmp_path: Path) -> None:
    """The fast export assembles each line from the stored JSON; it must equal encoding the entry itself."""
    from tokenhot_nb.history import History

    store = Store(tmp_path)
    for i, text in enumerate(["plain", 'quote " and \\ back', "ünïcødé ✓ and \n newline\t\x01", ""]):
        eid = store.insert(HistoryEntry(kind="chat", model="m", started=1700000000.25 + i, params={"message": text},
                                        text=text, thread="t" if i % 2 else None))
        store.update(eid, status="ok" if i % 2 else "error", duration=0.1 * i, usage={"total_tokens": i},
                     error=None if i % 2 else {"error": "E", "message": text, "hint": ""})
    lines = History(store).export(tmp_path / "x.jsonl").read_text(encoding="utf-8").splitlines()
    expected = [json.dumps(jsonable(e.to_dict()), ensure_ascii=False, separators=(",", ":")) for e in History(store)]
    assert lines == expected


@pytest.mark.parametrize("column", ["params", "request", "response", "usage", "outputs", "text", "model", "thread",
                                    "endpoint", "session_id"])
@pytest.mark.parametrize("secret", [KEY, ODD])
def test_a_row_is_checked_once_but_every_column_is_redacted(tmp_path: Path, column: str, secret: str) -> None:
    """Insert and update check a row's columns in one pass; a key in any one of them is still removed, and a
    clean row's entry keeps the very values it was given (nothing decoded back)."""
    store = Store(tmp_path, secrets=[ODD])
    value: object = {"note": f"x {secret} y"} if column in ("params", "request", "response", "usage") else \
        [{"role": "text", "note": f"x {secret}"}] if column == "outputs" else f"x {secret} y"
    params = {"message": "clean"}
    e = HistoryEntry(kind="chat", model="m", params=params, text="q")
    eid = store.insert(e)
    assert e.params is params  # clean: kept as given
    store.update(eid, **{column: value})
    fields: dict[str, object] = {"kind": "chat", "model": "m", column: value}
    inserted = store.insert(HistoryEntry(**fields))  # type: ignore[arg-type]
    for i in (eid, inserted):
        row = store.connection().execute("SELECT * FROM entries WHERE id=?", (i,)).fetchone()
        flat = json.dumps([str(v) for v in row])
        assert "A1b2C3d4" not in flat and "quote" not in flat and "sk-****" in flat


def test_the_cleanliness_check_agrees_with_redact() -> None:
    """``is_clean`` only runs ``redact`` when a text may hold ``sk-`` or a key this process knows; otherwise it
    searches for the store's own secrets. Either way it must say exactly what comparing with ``redact`` says."""
    from tokenhot_nb._config import redact
    from tokenhot_nb.history._entry import escaped_secrets, is_clean

    Secret("remembered-but-not-sk-shaped-42")  # a key set on this process (not one of the store's secrets)
    secrets = (Secret(ODD), "hunter2-custom-secret")
    texts = ["plain text", "sk-learn", f"a {KEY} b", "x hunter2-custom-secret y", "hunter2-custom", "x remembered-but-"
             "not-sk-shaped-42", json.dumps(f"q {ODD}")[1:-1], ODD, "", "sk-****", "é ✓ \x00 sk-",
             *(_b64(f"Bearer {v}") for v in ("hunter2-custom-secret", "remembered-but-not-sk-shaped-42", ODD)),
             "hunter2%2Dcustom%2Dsecret", _b64("hunter2-custom"), "aHVudGVyMi1jdXN0b20tc2VjcmV0"[:12]]
    for text in texts:
        expected = redact(text, *secrets) == text and not any(e in text for e in escaped_secrets(secrets))
        assert is_clean(text, secrets) is expected, text
        assert is_clean(text, secrets, escaped_secrets(secrets)) is expected, text


@pytest.mark.parametrize("value", [
    {"a": 1.5, "b": [None, True, False, 'é\n"x\\', "\x01\u2028"], "c": float("nan"), "d": float("-inf")},
    {"z": 1, "a": {"y": [2**70, -0.0, 1e300]}, 1: "int key"}, [], {}, "top-level string", 3, None,
])
def test_stored_json_is_what_json_dumps_writes(value: object) -> None:
    """The store keeps one prebuilt encoder; its text must be byte for byte ``json.dumps``'s (sorted too: the
    replay key hashes it)."""
    from tokenhot_nb.history import replay_key
    from tokenhot_nb.history._entry import canonical

    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
    if not (isinstance(value, dict) and 1 in value):  # mixed key types cannot be sorted
        assert dumps_redacted(value, sort_keys=True) == (canonical(value), True)
        import hashlib
        assert replay_key("chat", "m", "e", value) == hashlib.sha256(
            canonical(["chat", "m", "e", value or {}]).encode()).hexdigest()


def test_without_the_c_encoder_the_text_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python without json's C accelerator encodes with the encoder's own ``encode``: same text."""
    import json.encoder

    from tokenhot_nb.history import _entry

    value = {"b": [1.5, None, True, 'é\n"'], "a": float("nan"), "c": {"z": 1, "y": 2}}
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    assert _entry._encoder()(value) == expected
    assert _entry._encoder(sort_keys=True)(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                                                                allow_nan=True, sort_keys=True)


def test_encoded_keys_never_reach_a_row_or_an_export(tmp_path: Path) -> None:
    """A key base64- or percent-encoded (a relay dumping its Authorization header) is removed from every column,
    on insert and on update, and so from the export, through the same one-pass check as the plain key."""
    from urllib.parse import quote

    from tokenhot_nb.history import History

    key = "relay-key-Zq8+/=-not-sk-shaped"
    shapes = [_b64(f"Bearer {key}"), _b64(key).rstrip("="), base64.urlsafe_b64encode(f"x{key}".encode()).decode(),
              quote(key, safe=""), key.encode().hex()]
    store = Store(tmp_path, secrets=[Secret(key)])
    eid = store.insert(HistoryEntry(kind="chat", model="m", params={"message": "hi"}, text="q"))
    store.update(eid, status="ok", response={"echo": shapes}, text=" | ".join(shapes),
                 outputs=[{"role": "text", "note": shapes[0]}])
    other = store.insert(HistoryEntry(kind="chat", model="m", params={"headers": shapes}, text=shapes[1]))
    exported = History(store).export(tmp_path / "x.jsonl").read_text(encoding="utf-8")
    rows = json.dumps([list(map(str, r)) for r in store.connection().execute("SELECT * FROM entries")])
    for shape in shapes:
        assert shape not in rows and shape not in exported, shape
    for kept in (store.get(eid).response["echo"], store.get(other).params["headers"]):
        assert len(kept) == len(shapes) and all("sk-****" in v for v in kept), kept


def test_a_relay_echoing_the_key_base64_encoded_leaks_it_nowhere(tmp_path: Path) -> None:
    """The answer and an error message quote the key base64-encoded (a relay dumping its Authorization header):
    the result, the error in every form a notebook shows, the history rows and the export are all clean."""
    import traceback

    import httpx
    from _session_support import Recorder, make_session

    from tokenhot_nb.errors import AuthenticationError

    key = "sk-history-B64ECHO-9931-abcdef"
    encoded = base64.b64encode(f"Bearer {key}".encode()).decode()
    leaked = (key, encoded[12:-4])  # the key, and the part of its base64 that only the key determines

    class Echo(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if not request.url.path.endswith("/chat/completions"):
                return await super().handle_async_request(request)
            sent = base64.b64encode(f"Bearer {request.headers['authorization'].split()[-1]}".encode()).decode()
            if json.loads(await request.aread())["messages"][-1]["content"] == "fail":
                return httpx.Response(401, json={"error": {"message": f"bad token (b64) {sent}", "code": sent}})
            return httpx.Response(200, json={"choices": [{"message": {"content": f"your header is {sent}"}}]})

    s = make_session(tmp_path / "st", Echo(), api_key=key)
    res = s.chat("hi", model="gpt-5.4", stream=False)
    assert res.text.startswith("your header is ") and "sk-****" in res.text
    with pytest.raises(AuthenticationError) as caught:
        s.chat("fail", model="gpt-5.4", stream=False)
    err = caught.value
    shown = [repr(res), str(res), res.html(), json.dumps(res._repr_mimebundle_()), str(err), repr(err),
             "\n".join(err._render_traceback_()), json.dumps(err.to_dict()), str(err.details()),
             "".join(traceback.format_exception(type(err), err, err.__traceback__)),
             *(json.dumps(e.to_dict()) for e in s.history), s.history._repr_html_(),
             s.history.export(tmp_path / "x.jsonl").read_text(encoding="utf-8")]
    for text in shown:
        assert not any(x in text for x in leaked), text
    assert [e.status for e in s.history] == ["ok", "error"]
    stored = b"".join(p.read_bytes() for p in (tmp_path / "st").rglob("*") if p.is_file())
    assert not any(x.encode() in stored for x in leaked)
    s.close()


@pytest.mark.parametrize("key,escape", [
    (KEY, lambda text: text.replace("-", "\\u002d")),  # one character escaped (an ensure_ascii writer may)
    (KEY, lambda text: "".join(f"\\u{ord(c):04x}" for c in text)),  # every character
    ("relay/key/with/slashes-0123456789", lambda text: text.replace("/", "\\/")),  # PHP's escaped solidus
])
def test_a_key_json_escaped_in_an_older_row_leaks_nowhere(tmp_path: Path, key: str, escape: object) -> None:
    """A store written by another version or tool may hold a key with JSON ``\\u`` escapes inside a JSON column:
    the text holds no ``sk-…`` (so the export's one-pass check passes it) yet any JSON reader decodes the key.
    The export, and every entry read from the row, hold the mask instead."""
    from tokenhot_nb.history import History

    store = Store(tmp_path, secrets=[Secret(key)])
    eid = store.insert(HistoryEntry(kind="chat", model="m", params={"message": "hi"}, text="q", status="ok"))
    stored = '{"message":"my key is ' + escape(key) + '"}'  # type: ignore[operator]
    assert key not in stored and json.loads(stored)["message"].endswith(key)
    conn = store.connection()
    conn.execute("UPDATE entries SET params=?, response=? WHERE id=?", (stored, stored, eid))
    conn.commit()
    exported = History(store).export(tmp_path / "x.jsonl").read_text(encoding="utf-8")
    line = json.loads(exported)
    assert line["params"] == line["response"] == {"message": "my key is sk-****"}
    entry = store.get(eid)
    assert entry.params == {"message": "my key is sk-****"} and entry.response == entry.params
    for shown in (repr(entry), entry.to_code(), json.dumps(entry.to_dict()), History(store)._repr_html_()):
        assert key not in shown and key[3:] not in shown


def test_a_key_in_an_older_rows_text_file_does_not_reach_the_rebuilt_result(tmp_path: Path) -> None:
    """Answers are masked before they are stored; a text file an older version or another tool wrote may not be.
    The result rebuilt from the row (replay, ``entry.result()``) masks it as the live call would have."""
    from tokenhot_nb.results import ChatResult, from_entry

    store = Store(tmp_path)
    art = store.add_bytes(f"the answer is {KEY}, keep it".encode(), "text/plain", name="text")
    eid = store.insert(HistoryEntry(kind="chat", model="gpt-5-mini", endpoint="chat.completions",
                                    params={"message": "hi"}, text="hi", status="ok",
                                    outputs=[{**art.to_dict(), "role": "text"}]))
    assert KEY.encode() in store.read_artifact(art.sha256)  # stored as it came
    res = from_entry(store.get(eid), store=store)
    assert isinstance(res, ChatResult)
    assert res.text == "the answer is sk-****, keep it"
    assert KEY not in repr(res) and KEY not in json.dumps(res._repr_mimebundle_())
    store.close()


def test_a_cut_body_holding_the_key_with_escaped_slashes_is_kept_without_it(tmp_path: Path) -> None:
    """A relay whose JSON writer escapes the solidus (PHP's json_encode) echoes a key holding '/' as ``a\\/b``.
    Cut short, the body is kept as sent (a paid answer's bytes): the kept file, the row and the error hold the
    mask, not that form of the key."""
    import httpx
    from _session_support import Recorder, make_session

    from tokenhot_nb.errors import TokenhotError

    key = "relay/key-with/slashes-0123456789"
    escaped = key.replace("/", "\\/")

    class Cut(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if not request.url.path.endswith("/chat/completions"):
                return await super().handle_async_request(request)
            body = '{"choices":[{"message":{"content":"your key is ' + escaped + ' and then'
            return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})

    s = make_session(tmp_path / "st", Cut(), api_key=key)
    with pytest.raises(TokenhotError) as caught:
        s.chat("hi", model="gpt-5.4", stream=False)
    shown = [str(caught.value), repr(caught.value), str(caught.value.details()),
             *(json.dumps(e.to_dict()) for e in s.history), s.history.export(tmp_path / "x.jsonl").read_text()]
    s.close()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "st").rglob("*") if p.is_file())
    assert b"your key is sk-****" in stored  # the cut body is kept, masked
    for text in [*shown, stored.decode("latin-1")]:
        assert escaped not in text and key.split("/")[1] not in text, text


def test_a_key_across_the_cut_of_a_quoted_server_text_shows_none_of_it(tmp_path: Path) -> None:
    """Messages quote the server's text cut short; cut before redaction, a key across the cut lost its end, was
    not recognised, and its first part stayed in the message and ``.full_message``."""
    import traceback

    from _session_support import Recorder, make_session

    from tokenhot_nb.errors import TokenhotError

    key = "tkn_PLAINKEY_cut_no_prefix_98765abcdef"

    class Echo(Recorder):  # an error envelope sent with 200, quoting the key where the message cuts it (300)
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/chat/completions"):
                return httpx.Response(200, json={"error": {"message": "y" * 290 + " " + key}})
            return await super().handle_async_request(request)

    s = make_session(tmp_path / "st", Echo(), api_key=key)
    with pytest.raises(TokenhotError) as caught:
        s.chat("hi", model="gpt-5.4", stream=False)
    s.close()
    err = caught.value
    shown = [err.full_message, str(err), "".join(traceback.format_exception(err)), str(err.details())]
    assert any("sk-****" in t for t in shown)
    for text in shown:
        assert key[:5] not in text, text


def test_a_key_across_the_cut_of_an_image_answers_text_shows_none_of_it(tmp_path: Path) -> None:
    """An image answer with no image but text (a refusal) is quoted cut to 200 characters: cut before redaction,
    a key across the cut showed its first part."""
    from _session_support import Recorder, make_session

    from tokenhot_nb.errors import APIError

    key = "tkn_PLAINKEY_img_no_prefix_98765abcdef"

    class Echo(Recorder):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if "/images/" in request.url.path:
                text = "w" * 190 + " " + key
                return httpx.Response(200, json={"output": [{"content": [{"type": "text", "text": text}]}]})
            return await super().handle_async_request(request)

    s = make_session(tmp_path / "st", Echo(), api_key=key)
    with pytest.raises(APIError, match="without any image") as caught:
        s.image("a cat", model="doubao-seedream-4-5-251128")
    s.close()
    assert caught.value.full_message.endswith("sk-****") and key[:5] not in caught.value.full_message


def test_a_key_across_the_cut_of_a_video_create_reply_that_is_no_object_shows_none_of_it(tmp_path: Path) -> None:
    """A create reply that is no JSON object is quoted cut to 200 characters: cut before redaction, a key across
    the cut showed its first part. (The session refuses a list answer sooner; the parser is public.)"""
    from _session_support import make_session

    from tokenhot_nb.errors import APIError
    from tokenhot_nb.families.video import _status

    key = "tkn_PLAINKEY_video_no_prefix_98765abcdef"
    s = make_session(tmp_path / "st", api_key=key)  # the session's key is the one redaction knows
    try:
        with pytest.raises(APIError, match="not JSON") as caught:
            _status.parse_create(["w" * 180 + " " + key])
    finally:
        s.close()
    assert key[:8] not in caught.value.full_message and key[:8] not in str(caught.value)


@pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")
def test_an_exported_text_file_written_before_its_key_was_known_holds_no_key(tmp_path: Path) -> None:
    """A key pasted into a prompt before it was set (a bare one: no pattern knows it) came back in the answer,
    stored as the row's text file. Once the key is known the export's rows mask it, but the ``.artifacts`` folder
    beside them, the one made to be shared, got the file copied as stored, key and all."""
    from tokenhot_nb import Session

    pasted = "Pq4wEr8tYu2iOp6aSd0fGh3jKl7zXc1vBn5mQw9eRt4yUi8oPa"  # (unknown to this process until set below)

    async def relay(request: httpx.Request) -> httpx.Response:
        said = json.loads(await request.aread())["messages"][-1]["content"]
        return httpx.Response(200, json={"object": "chat.completion", "model": "gpt-5.4", "choices": [{
            "index": 0, "message": {"role": "assistant", "content": f"You said: {said}"}, "finish_reason": "stop"}]})

    s = Session(mode="offline", store=tmp_path / "st", transport=httpx.MockTransport(relay))
    try:
        answer = s.chat(f"is this my key? {pasted}", model="gpt-5.4", stream=False, thread=False)
        assert pasted in answer.text  # (not known yet: nothing to mask it by)
        Secret(pasted)  # now it is the session's key (%th_config --key, Session(api_key=…))
        out = s.history.export(tmp_path / "shared.jsonl", include_artifacts=True)
    finally:
        s.close()
    files = list(Path(f"{out}.artifacts").iterdir())
    assert files and all(pasted.encode() not in f.read_bytes() for f in [out, *files])
    manifest = json.loads((Path(f"{out}.artifacts") / "manifest.json").read_text())
    (kept,) = [m for m in manifest.values() if m.get("redacted")]
    assert (Path(f"{out}.artifacts") / kept["file"]).read_text() == "You said: is this my key? sk-****"
