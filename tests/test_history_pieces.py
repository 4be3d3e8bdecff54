"""A streamed answer's piece lengths in its row: bounded, checked on import, carried by export/import and
``HistoryEntry.to_dict/from_dict``, and never used to cut a text they do not fit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb.errors import InputError
from tokenhot_nb.families._types import ChatDelta
from tokenhot_nb.history import History, HistoryEntry
from tokenhot_nb.history._pieces import MAX_PIECES, PieceLog, compact, problem, split


def test_compact_merges_runs_of_neighbours_past_the_limit() -> None:
    assert compact([1, 2, 3], [0, 1, 0], limit=3) == ([1, 2, 3], [0, 1, 0])
    text, reasoning = compact(list(range(1, 11)), [1] * 10, limit=4)  # ten pieces, runs of three
    assert text == [6, 15, 24, 10] and reasoning == [3, 3, 3, 1]
    text, _ = compact([1] * 50_000, [0] * 50_000)
    assert len(text) <= MAX_PIECES and sum(text) == 50_000


def test_the_log_records_only_an_answer_stored_as_it_streamed() -> None:
    log = PieceLog()
    log.add("Hel", "", False)
    log.add("", "hm", False)
    log.add("lo", "", True)
    assert log.record(("Hello", "hm"), ("Hello", "hm")) == {"text": [3, 0, 2], "reasoning": [0, 2, 0], "done": True}
    assert log.record(("Hello", "hm"), ("Hel****", "hm")) is None  # redacted: the lengths would mis-split it
    plain = PieceLog()
    plain.add("Hi", "", False)
    assert plain.record(("Hi", ""), ("Hi", "")) == {"text": [2]}  # no reasoning list, no done flag


@pytest.mark.parametrize(("pieces", "says"), [
    ([3, 4], "expected an object"),
    ({"text": "3,4"}, "text must be a list of piece lengths"),
    ({}, "text must be a list of piece lengths, got NoneType"),
    ({"text": ["a", 2]}, "text[0] must be a whole number >= 0, got str a"),
    ({"text": [3, -1]}, "text[1] must be a whole number >= 0"),
    ({"text": [3, 1.5]}, "text[1] must be a whole number >= 0, got float"),
    ({"text": [True]}, "text[0] must be a whole number >= 0, got bool"),
    ({"text": [1] * (MAX_PIECES + 1)}, f"text has {MAX_PIECES + 1:,} pieces; a recording keeps at most"),
    ({"text": [1, 2], "reasoning": [1]}, "reasoning has 1 pieces and text 2"),
    ({"text": [1], "reasoning": [[1]]}, "reasoning[0] must be a whole number"),
    ({"text": [0, 2]}, "a piece has neither text nor reasoning"),
    ({"text": [2], "done": "yes"}, "done must be true or false"),
])
def test_a_bad_pieces_value_is_named_in_one_line(pieces: Any, says: str) -> None:
    message = problem(pieces)
    assert message is not None and says in message and "\n" not in message
    assert split(pieces, "x" * 7, "") is None


def test_split_cuts_only_texts_the_lengths_add_up_to() -> None:
    pieces = {"text": [2, 0, 3], "reasoning": [0, 4, 0], "done": True}
    assert problem(pieces) is None and problem({"text": []}) is None
    assert split(pieces, "Hello", "hmm.") == ([("He", ""), ("", "hmm."), ("llo", "")], True)
    assert split(pieces, "Hello!", "hmm.") is None and split(pieces, "Hello", "hm") is None
    assert split(None, "Hello", "") is None  # a row recorded before pieces were kept


GOOD = {"id": 1, "session_id": "s1", "started": 1_700_000_000.0, "duration": 1.5, "mode": "offline",
        "kind": "chat", "model": "gpt-5.2", "endpoint": "chat", "params": {"message": "hi", "model": "gpt-5.2"},
        "request": {}, "response": {}, "usage": {}, "outputs": [], "text": "hi → hello", "status": "ok",
        "error": None, "thread": None, "replay_key": "0" * 64}


def _write(path: Path, records: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


@pytest.mark.parametrize(("pieces", "says"), [
    (["a", "b"], "expected an object"),
    ({"text": ["a"]}, "text[0] must be a whole number"),
    ({"text": [5, -2]}, "text[1] must be a whole number >= 0"),
    ({"text": [1] * 100_000}, "text has 100,000 pieces"),
])
def test_an_import_keeps_a_row_whose_pieces_are_garbage_without_them(tmp_path: Path, pieces: Any,
                                                                     says: str) -> None:
    """The row is a paid call: it is kept (its answer replays in one piece), the damaged detail dropped and named;
    strict=True refuses the file."""
    bad = {**GOOD, "id": 2, "response": {"request_id": "r", "pieces": pieces}}
    src = _write(tmp_path / "h.jsonl", [GOOD, bad])
    with pytest.warns(UserWarning, match=r"1 of 2 entries of h.jsonl were loaded without a damaged detail: "
                                         r"entry 2: response\.pieces dropped \("):
        h = History.load(src, tmp_path / "store")
    assert len(h) == 2 and h[-1].response == {"request_id": "r"}
    with pytest.raises(InputError) as info:
        History.load(src, tmp_path / "store2", strict=True)
    assert f"entry 2: response.pieces: {says}" in str(info.value) and "\n" not in str(info.value)


def test_an_import_keeps_good_pieces_and_older_rows_without_them(tmp_path: Path) -> None:
    good = {**GOOD, "id": 2, "response": {"pieces": {"text": [3, 4], "reasoning": [0, 2]}}}
    h = History.load(_write(tmp_path / "h.jsonl", [GOOD, good]), tmp_path / "store", strict=True)
    assert [e.response for e in h] == [{}, {"pieces": {"text": [3, 4], "reasoning": [0, 2]}}]


def test_an_exported_stream_replays_in_its_pieces_from_the_import(tmp_path: Path) -> None:
    seen: list[tuple[str, str, bool, str]] = []

    def on_delta(d: ChatDelta, so_far: str) -> None:
        seen.append((d.text, d.reasoning, d.done, so_far))

    s = make_session(tmp_path / "a", Recorder())
    first = s.chat("Tell me about the sea", model="GPT 5.4(Responses)", reasoning={"effort": "high", "summary": "auto"},
                   thread=False, on_delta=on_delta)
    live, seen[:] = list(seen), []
    row = first.entry
    assert HistoryEntry.from_dict(row.to_dict()).response["pieces"] == row.response["pieces"]
    path = s.history.export(tmp_path / "h.json", include_artifacts=True)
    s.close()
    assert json.loads(path.read_text())[0]["response"]["pieces"] == row.response["pieces"]
    History.load(path, tmp_path / "b", strict=True)
    rec = Recorder()
    r = make_session(tmp_path / "b", rec, mode="replay")
    again = r.chat("Tell me about the sea", model="GPT 5.4(Responses)",
                   reasoning={"effort": "high", "summary": "auto"}, thread=False, on_delta=on_delta)
    r.close()
    assert rec.requests == [] and again.text == first.text and again.entry.response == row.response
    assert len(live) > 5 and seen == live
