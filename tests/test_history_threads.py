"""Chat threads store each message once: a turn's row links to the turn before it and holds only what it adds.

The body that was sent is rebuilt from the rows (curl, exports), threads resume from the rows after a restart,
exports/loads keep the links, and stores written before the links existed (schema 1) are migrated.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from _session_support import Recorder, make_session

from tokenhot_nb import catalog
from tokenhot_nb.families import chat
from tokenhot_nb.history import SCHEMA_VERSION, History, Store

SCHEMA_V1 = Path(__file__).parent / "fixtures" / "schema" / "history_v1.sql"
MODEL = "gpt-5.2"


def _row_sizes(store: Store) -> list[int]:
    rows = store.connection().execute(
        "SELECT length(params) + length(request) FROM entries WHERE kind='chat' ORDER BY id")
    return [r[0] for r in rows]


def test_each_turn_stores_only_its_new_message(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    for i in range(30):
        s.chat(f"question {i:02d} about foxes", model=MODEL, stream=False)
    entries = list(s.history)
    assert [e.parent for e in entries] == [None, *[e.id for e in entries[:-1]]]
    assert entries[0].request["json"]["messages"] == rec.json(0)["messages"]  # the first turn: all of it
    for k, e in enumerate(entries[1:], start=1):
        assert e.request["context"] == {"parent": entries[k - 1].id, "messages": 2 * k}
        assert e.request["json"]["messages"] == [{"role": "user", "content": f"question {k:02d} about foxes"}]
    sizes = _row_sizes(s.store)
    assert max(sizes[1:]) <= sizes[1] + 8  # flat: a turn's row does not grow with the conversation
    assert len(rec.json(-1)["messages"]) == 59  # while the wire still carries the whole conversation
    s.close()


def test_wire_request_and_curl_rebuild_what_was_sent(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    s.chat("Name a fox.", model=MODEL, system="Be brief.", stream=False, max_tokens=300)
    s.chat("Where does it live?", model=MODEL, system="Be brief.", stream=False, max_tokens=300)
    r3 = s.chat("And what does it eat?", model=MODEL, system="Be brief.", stream=False, max_tokens=300)
    entry = r3.entry
    assert entry.request["json"]["messages"][-1]["content"] == "And what does it eat?"
    sent = rec.json(-1)
    wire = entry.wire_request()
    assert wire["json"] == sent and "context" not in wire
    assert wire["path"] == rec.posts()[-1]["path"]
    curl = s.history.get(entry.id).to_curl()
    assert "Name a fox." in curl and "Where does it live?" in curl and "And what does it eat?" in curl
    s.close()


def test_streamed_turns_rebuild_too(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    for q in ("one", "two", "three"):
        s.chat(q, model=MODEL)
    assert s.history.last.wire_request()["json"] == rec.json(-1)  # type: ignore[union-attr]
    s.close()


def test_a_thread_resumes_from_linked_rows_after_a_restart(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    first = [s.chat(f"q{i}", model=MODEL, stream=False) for i in range(4)]
    s.close()
    rec = Recorder()
    s2 = make_session(tmp_path / "st", rec)
    r = s2.chat("q4", model=MODEL, stream=False)
    assert r.entry.parent == first[-1].entry.id
    sent = rec.json(-1)["messages"]
    assert [m["content"] for m in sent[::2]] == ["q0", "q1", "q2", "q3", "q4"]
    assert [m["content"] for m in sent[1::2]] == [x.text for x in first]
    assert r.entry.wire_request()["json"] == rec.json(-1)
    s2.close()


def test_two_sessions_on_one_store_each_keep_their_conversation_after_a_restart(tmp_path: Path) -> None:
    """Two notebooks in one folder share its ``.tokenhot`` store and each chats in the "default" thread. A restart
    rebuilt the thread from every ``ok`` row of that name, so its next turn went out with both notebooks' messages
    interleaved, a conversation neither had sent. It continues the newest turn's own conversation (its links)."""
    store = tmp_path / "st"
    with make_session(store, Recorder()) as a:
        a.chat("A1 foxes", model=MODEL, stream=False)
        b_rec = Recorder()
        with make_session(store, b_rec) as b:  # opened after A's first turn: it continues A's conversation
            b.chat("B1 owls", model=MODEL, stream=False)
            a.chat("A2 foxes", model=MODEL, stream=False)
            b.chat("B2 owls", model=MODEL, stream=False)
            b_sent = b_rec.json(-1)["messages"]
    assert [m["content"] for m in b_sent[::2]] == ["A1 foxes", "B1 owls", "B2 owls"]
    rec = Recorder()
    with make_session(store, rec) as again:
        r = again.chat("B3 owls", model=MODEL, stream=False)
        sent = rec.json(-1)["messages"]
        assert [m["content"] for m in sent[::2]] == ["A1 foxes", "B1 owls", "B2 owls", "B3 owls"]
        assert sent[:-1] == [*b_sent, {"role": "assistant", "content": sent[-2]["content"]}]
        assert r.entry.wire_request()["json"]["messages"] == sent
        assert [m["content"] for m in again.threads["default"].messages[::2]] == [
            "A1 foxes", "B1 owls", "B2 owls", "B3 owls"]


def test_new_thread_starts_a_chain_and_threads_do_not_mix(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    a1 = s.chat("a1", model=MODEL, stream=False, thread="a")
    b1 = s.chat("b1", model=MODEL, stream=False, thread="b")
    a2 = s.chat("a2", model=MODEL, stream=False, thread="a")
    n1 = s.chat("n1", model=MODEL, stream=False, thread="a", new_thread=True)
    n2 = s.chat("n2", model=MODEL, stream=False, thread="a")
    lone = s.chat("alone", model=MODEL, stream=False, thread=False)
    assert (a1.entry.parent, b1.entry.parent, a2.entry.parent) == (None, None, a1.entry.id)
    assert (n1.entry.parent, n2.entry.parent, lone.entry.parent) == (None, n1.entry.id, None)
    assert [m["content"] for m in n2.entry.wire_request()["json"]["messages"][::2]] == ["n1", "n2"]
    s.close()


def test_export_and_load_keep_the_links(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    s.image("a fox", model="gpt-image-2")
    for i in range(3):
        s.chat(f"q{i}", model=MODEL, stream=False)
    sent = rec.json(-1)
    out = s.history.export(tmp_path / "all.jsonl", include_artifacts=True)
    loaded = History.load(out, store=tmp_path / "other")
    chats = [e for e in loaded if e.kind == "chat"]
    assert chats[1].parent == chats[0].id and chats[2].parent == chats[1].id
    assert chats[2].wire_request()["json"] == sent
    # loaded without the answers' files: the stored request comes back as stored, never a wrong body
    bare = History.load(s.history.export(tmp_path / "bare.jsonl"), store=tmp_path / "bare")
    last = [e for e in bare if e.kind == "chat"][-1]
    assert last.wire_request() == last.request and "context" in last.request
    # only the last turn exported: its earlier messages travel with it, written out in full
    last = s.history.filter(kind="chat")[-1]
    part = History(s.store, _conds=[("id = ?", (last.id,))]).export(tmp_path / "one.jsonl")
    line = json.loads(part.read_text().splitlines()[0])
    assert line["parent"] is None and line["request"]["json"] == sent and "context" not in line["request"]
    one = History.load(part, store=tmp_path / "third")
    assert one[0].wire_request()["json"] == sent and '"content":"q0"' in one[0].to_curl()
    s.close()


def test_a_thread_loaded_into_a_store_with_rows_rebuilds_its_own_conversation(tmp_path: Path) -> None:
    """Loaded into a store that already held rows, a turn's ``parent`` was renumbered but its request's
    ``context`` still named its old parent id: there that is another row, so ``wire_request()``, ``to_curl()`` and
    a later partial export rebuilt the conversation from someone else's messages."""
    rec = Recorder()
    with make_session(tmp_path / "a", rec) as a:
        for text in ("alpha one", "alpha two", "alpha three"):
            a.chat(text, model=MODEL, stream=False, thread="t")
        sent = rec.json(-1)
        out = a.history.export(tmp_path / "a.jsonl", include_artifacts=True)
    for other in ("b", "bare"):
        with make_session(tmp_path / other, Recorder()) as b:
            for text in ("BETA w", "BETA x", "BETA y", "BETA z"):
                b.chat(text, model=MODEL, stream=False, thread=False)
    loaded = History.load(out, store=tmp_path / "b")
    last = loaded[-1]
    assert last.parent == loaded[-2].id and last.request["context"]["parent"] == last.parent
    assert last.wire_request()["json"] == sent and "BETA" not in last.to_curl()
    assert History(tmp_path / "b").get(last.id).wire_request()["json"] == sent  # (as stored, read back)
    bare = History.load(a.history.export(tmp_path / "bare.jsonl"), store=tmp_path / "bare")  # no answers' files:
    assert bare[-1].wire_request() == bare[-1].request and "BETA" not in bare[-1].to_curl()  # the turn as stored
    one = History.load(out, store=tmp_path / "c", strict=True)  # a turn whose parent is not loaded: no context
    part = History(one.store, _conds=[("id = ?", (one[-1].id,))]).export(tmp_path / "one.jsonl")
    only = History.load(part, store=tmp_path / "b")
    assert only[0].parent is None and only[0].wire_request()["json"] == sent


def test_a_turn_whose_stored_context_names_another_row_rebuilds_from_its_parent(tmp_path: Path) -> None:
    """Stores already loaded by an older version keep the stale ``context`` id: the row's own ``parent`` link is
    what the conversation is rebuilt from (no parent: the turn as stored), never the row the stale id names."""
    rec = Recorder()
    with make_session(tmp_path / "st", rec) as s:
        s.chat("BETA elsewhere", model=MODEL, stream=False, thread=False)
        for text in ("alpha one", "alpha two"):
            s.chat(text, model=MODEL, stream=False, thread="t")
        sent = rec.json(-1)
    with closing(sqlite3.connect(tmp_path / "st" / "history.sqlite")) as conn, conn:
        (last_id, request), = conn.execute("SELECT id, request FROM entries ORDER BY id DESC LIMIT 1").fetchall()
        stale = json.loads(request)
        stale["context"]["parent"] = 1  # the BETA row
        conn.execute("UPDATE entries SET request = ? WHERE id = ?", (json.dumps(stale), last_id))
    turn = History(tmp_path / "st").get(last_id)
    assert turn.wire_request()["json"] == sent and "BETA" not in turn.to_curl()
    turn.parent = None
    assert turn.wire_request() == turn.request


def test_export_still_redacts_a_key_written_by_an_older_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "st")
    key = "sk-" + "Q" * 30
    from tokenhot_nb.history import HistoryEntry

    eid = store.insert(HistoryEntry(kind="chat", model=MODEL, params={"message": "hi"}, text="hi", status="ok"))
    store.connection().execute("UPDATE entries SET text=?, params=? WHERE id=?",
                               (f"leaked {key}", json.dumps({"message": f"x {key}"}), eid))
    out = History(store).export(tmp_path / "x.jsonl")
    text = out.read_text()
    assert key not in text and "sk-****" in text
    assert json.loads(text)["params"] == {"message": "x sk-****"}


# ---------------------------------------------------------------- migration from a schema-1 store


def _v1_store(root: Path, turns: list[tuple[str, str]], thread: str = "default") -> list[int]:
    """A store as schema 1 wrote it: each thread row holds the whole conversation in ``request``."""
    root.mkdir(parents=True)
    conn = sqlite3.connect(root / "history.sqlite", isolation_level=None)
    conn.executescript(SCHEMA_V1.read_text())
    messages: list[dict[str, str]] = []
    ids = []
    for q, a in turns:
        sha = hashlib.sha256(a.encode()).hexdigest()
        (root / "artifacts" / sha[:2]).mkdir(parents=True, exist_ok=True)
        (root / "artifacts" / sha[:2] / f"{sha}.txt").write_text(a)
        conn.execute("INSERT OR IGNORE INTO artifacts VALUES (?,?,?,?,?,?)", (sha, "text/plain", len(a), "", ".txt",
                                                                              time.time()))
        messages = [*messages, {"role": "user", "content": q}]
        params = {"message": q, "model": MODEL, "stream": False, "thread": thread}
        request = {"method": "POST", "path": "/v1/chat/completions",
                   "json": {"model": MODEL, "messages": messages}}
        outputs = [{"sha256": sha, "mime": "text/plain", "size": len(a), "name": "", "role": "text"}]
        cur = conn.execute(
            "INSERT INTO entries (session_id, started, duration, mode, kind, model, endpoint, params, request, "
            "response, usage, outputs, text, status, thread, replay_key) "
            "VALUES ('old', ?, 0.1, 'offline', 'chat', ?, 'chat.completions', ?, ?, '{}', '{}', ?, ?, 'ok', ?, '')",
            (time.time(), MODEL, json.dumps(params), json.dumps(request), json.dumps(outputs), f"{q}\n\n{a}", thread))
        ids.append(int(cur.lastrowid or 0))
        messages = [*messages, {"role": "assistant", "content": a}]
    conn.close()
    return ids


def test_a_schema_1_store_is_migrated_and_its_threads_continue(tmp_path: Path) -> None:
    root = tmp_path / "old"
    ids = _v1_store(root, [("Hi", "Hello!"), ("Name a fox", "Vulpes"), ("Thanks", "Welcome")])
    with closing(sqlite3.connect(root / "history.sqlite")) as c:
        old_request = json.loads(c.execute("SELECT request FROM entries WHERE id=?", (ids[-1],)).fetchone()[0])
    rec = Recorder()
    s = make_session(root, rec)
    conn = s.store.connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert [r[0] for r in conn.execute("SELECT parent FROM entries ORDER BY id")] == [None, ids[0], ids[1]]
    old = s.history.get(ids[-1])
    assert old.request == old_request and old.wire_request() == old_request  # old rows stay exact
    r = s.chat("One more?", model=MODEL, stream=False)
    assert r.entry.parent == ids[-1]
    sent = rec.json(-1)["messages"]
    assert [m["content"] for m in sent] == ["Hi", "Hello!", "Name a fox", "Vulpes", "Thanks", "Welcome", "One more?"]
    assert s.history.get(r.entry.id).wire_request()["json"] == rec.json(-1)
    assert len(s.history.search("Vulpes")) == 1  # full-text search survived the migration
    s.close()


def test_migration_starts_a_new_chain_at_new_thread(tmp_path: Path) -> None:
    root = tmp_path / "old"
    ids = _v1_store(root, [("a", "A"), ("b", "B")])
    conn = sqlite3.connect(root / "history.sqlite", isolation_level=None)
    conn.execute("UPDATE entries SET params=json_set(params, '$.new_thread', json('true')) WHERE id=?", (ids[1],))
    conn.close()
    store = Store(root)
    assert [r[0] for r in store.connection().execute("SELECT parent FROM entries ORDER BY id")] == [None, None]
    store.close()


def test_the_rebuilt_request_matches_the_family_build(tmp_path: Path) -> None:
    """wire_request goes through the chat family, so other endpoints (Claude messages) rebuild right too."""
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    claude = next(m for m in catalog.models(kind="chat") if "messages" in m.endpoints)
    for q in ("x", "y"):
        s.chat(q, model=claude.id, endpoint="messages", stream=False)
    last = s.history.last
    assert last is not None and last.parent is not None
    expected = chat.build(claude, rec.json(-1)["messages"], endpoint="messages").json
    assert last.wire_request()["json"] == expected == rec.json(-1)
    s.close()


def _sent_bytes(rec: Recorder) -> bytes:
    return bytes(rec.posts("/chat/completions")[-1]["body"])


def _whole(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def test_incremental_bodies_equal_the_stored_conversation(tmp_path: Path) -> None:
    """Each turn encodes only what it adds (the thread keeps its body so far), yet every body sent is the whole
    conversation the rows rebuild, byte for byte: through a restart, an edit, a branch, and a replay."""
    from tokenhot_nb._threads import conversation

    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    for i in range(6):
        r = s.chat(f"turn {i} \"quoted\" é", model=MODEL, system="Be brief.", stream=False)
        sent = _sent_bytes(rec)
        assert sent == _whole(r.entry.wire_request()["json"])
        if i:
            assert s.threads["default"].prefix.seen  # the thread's prefix was used, not rebuilt
    rebuilt = conversation(s.store, r.entry.id)
    assert json.loads(sent)["messages"][1:] == rebuilt[:-1]  # (the answer was not sent yet)
    s.threads["default"].messages[0]["content"] = "turn 0, edited"  # editing the kept conversation
    r = s.chat("after the edit", model=MODEL, system="Be brief.", stream=False)
    assert json.loads(_sent_bytes(rec))["messages"][1]["content"] == "turn 0, edited"
    del s.threads["default"].messages[4:]  # a branch: back to turn 2
    s.chat("a branch", model=MODEL, system="Be brief.", stream=False)
    assert [m["content"] for m in json.loads(_sent_bytes(rec))["messages"][1::2]] == \
        ["turn 0, edited", "turn 1 \"quoted\" é", "a branch"]
    s.close()

    rec2 = Recorder()
    s2 = make_session(tmp_path / "st", rec2)  # resumed from the rows
    r = s2.chat("resumed", model=MODEL, system="Be brief.", stream=False)
    assert _sent_bytes(rec2) == _whole(r.entry.wire_request()["json"])
    r = s2.chat("and once more", model=MODEL, system="Be brief.", stream=False)
    assert _sent_bytes(rec2) == _whole(r.entry.wire_request()["json"])
    s2.close()

    rec3 = Recorder()
    s3 = make_session(tmp_path / "st", rec3, mode="replay")  # replayed turns feed the prefix too
    for i in range(6):
        s3.chat(f"turn {i} \"quoted\" é", model=MODEL, system="Be brief.", stream=False)
    assert rec3.posts() == []
    s3.close()
