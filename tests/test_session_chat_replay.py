"""A streamed chat answer replays in the pieces it arrived in: ``on_delta`` sees the same calls, live and in replay,
so a notebook that counts or prints them re-runs with the same outputs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import Recorder, make_session

from tokenhot_nb.families._types import ChatDelta
from tokenhot_nb.history._pieces import MAX_PIECES

PROMPT = "Tell me about the sea"
Seen = list[tuple[str, str, bool, str]]


def watcher(seen: Seen) -> Any:
    """An on_delta keeping what each call showed: (delta.text, delta.reasoning, delta.done, text so far)."""
    def on_delta(delta: ChatDelta, so_far: str) -> None:
        seen.append((delta.text, delta.reasoning, delta.done, so_far))
    return on_delta


def record_and_replay(store: Path, rec: Recorder | None = None, message: str = PROMPT,
                      **kw: Any) -> tuple[Any, Seen, Any, Seen]:
    """The call live (recorded in ``store``), then again in replay: each result and what on_delta saw."""
    s = make_session(store, rec or Recorder())
    live: Seen = []
    first = s.chat(message, thread=False, on_delta=watcher(live), **kw)
    s.close()
    quiet = Recorder()
    r = make_session(store, quiet, mode="replay")
    replayed: Seen = []
    again = r.chat(message, thread=False, on_delta=watcher(replayed), **kw)
    r.close()
    assert quiet.requests == [] and again.text == first.text and again.reasoning == first.reasoning
    return first, live, again, replayed


#: (menu entry or model, options): every stream format, with reasoning where the format streams it
FORMS = [
    pytest.param("gpt-5.4", {"reasoning_effort": "high"}, id="chat-completions"),
    pytest.param("GPT 5.4(Responses)", {"reasoning": {"effort": "high", "summary": "auto"}}, id="responses"),
    pytest.param("claude-opus-4-6", {"endpoint": "claude", "thinking": {"type": "enabled", "budget_tokens": 1024}},
                 id="claude-messages"),
    pytest.param("gemini-2.5-flash", {"endpoint": "gemini"}, id="gemini"),
    pytest.param("gemini-3.1-pro-preview(流式)", {"stream": False}, id="gemini-stream-always"),
]


@pytest.mark.parametrize(("model", "options"), FORMS)
def test_a_streamed_answer_replays_in_the_pieces_it_arrived_in(tmp_path: Path, model: str,
                                                               options: dict[str, Any]) -> None:
    first, live, again, replayed = record_and_replay(tmp_path / "st", model=model, **options)
    assert len(live) > 5 and "".join(t for t, _, _, _ in live) == first.text
    if "reasoning" in options or "thinking" in options or "reasoning_effort" in options:
        assert first.reasoning and "".join(r for _, r, _, _ in live) == first.reasoning
    assert len(first.entry.response["pieces"]["text"]) == len(live)
    assert replayed == live
    assert again.entry.id == first.entry.id


class Scripted(Recorder):
    """The simulator, except that chat completions stream ``frames(prompt, key)`` as their content."""

    def __init__(self, frames: Any) -> None:
        super().__init__()
        self.frames = frames

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/chat/completions":
            return await super().handle_async_request(request)
        body = json.loads(await request.aread())
        self.requests.append({"method": request.method, "path": request.url.path, "body": body})
        key = request.headers["authorization"].removeprefix("Bearer ")
        chunks = [{"choices": [{"index": 0, "delta": {"content": f}}]}
                  for f in self.frames(body["messages"][-1]["content"], key)]
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse.encode())


def test_a_tail_held_back_live_is_held_back_in_replay_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live, the view holds back an end that may be a key's start ("sk", a closing "s") until the next piece, or
    shows it with a final done delta (each delta's text is what it added to the view): replay makes the same
    calls."""
    from tokenhot_nb import _config

    monkeypatch.setattr(_config, "_known_keys", set())  # (only this test's key: others' forms would hold more,
    monkeypatch.setattr(_config, "_known_forms", ())    # e.g. a "d" ending "and" when a known key starts with one)
    frames = ["Ask", " the sk", "ies and", " the seas"]
    first, live, _, replayed = record_and_replay(tmp_path / "st", Scripted(lambda prompt, key: frames),
                                                 model="gpt-5.4")
    assert first.text == "Ask the skies and the seas"
    assert live == [("A", "", False, "A"), ("sk the ", "", False, "Ask the "),
                    ("skies and", "", False, "Ask the skies and"), (" the sea", "", False, "Ask the skies and the sea"),
                    ("s", "", True, "Ask the skies and the seas")]
    assert replayed == live


def test_an_answer_whose_key_was_redacted_replays_in_one_piece(tmp_path: Path) -> None:
    """The stored answer is redacted, so the live pieces no longer fit it: one piece, never a mis-split."""
    def frames(prompt: str, key: str) -> list[str]:
        answer = f"Your key is {key}. Keep it safe." if "key" in prompt else "Nothing secret in this answer."
        return [answer[i:i + 3] for i in range(0, len(answer), 3)]

    store = tmp_path / "st"
    echo, live, _, replayed = record_and_replay(store, Scripted(frames), message="my key?", model="gpt-5.4")
    assert len(live) > 5 and "sk-****" in echo.text and "pieces" not in echo.entry.response
    assert replayed == [(echo.text, "", True, echo.text)]
    clean, live, _, replayed = record_and_replay(store, Scripted(frames), message="hello", model="gpt-5.4")
    assert len(live) == 10 and replayed == live  # the same relay's clean answer: in its pieces
    assert clean.entry.response["pieces"] == {"text": [3] * 10}


def _set_pieces(store: Path, entry_id: int, pieces: Any) -> None:
    """Rewrite a row's pieces in the database, as an older version (None: none) or another tool left it."""
    with sqlite3.connect(store / "history.sqlite") as db:
        (response,) = db.execute("SELECT response FROM entries WHERE id = ?", (entry_id,)).fetchone()
        value = json.loads(response)
        if pieces is None:
            del value["pieces"]
        else:
            value["pieces"] = pieces
        db.execute("UPDATE entries SET response = ? WHERE id = ?", (json.dumps(value), entry_id))
    db.close()


@pytest.mark.parametrize("pieces", [
    pytest.param(None, id="older-row"),
    pytest.param({"text": [1, 2]}, id="lengths-that-do-not-fit"),
    pytest.param({"text": ["a", -1]}, id="garbage"),
    pytest.param({"text": [1] * (MAX_PIECES + 1)}, id="too-many"),
    pytest.param([3, 4], id="not-an-object"),
])
def test_a_row_without_usable_pieces_replays_in_one_piece(tmp_path: Path, pieces: Any) -> None:
    store = tmp_path / "st"
    first, live, _, replayed = record_and_replay(store, model="gpt-5.4")
    assert len(replayed) == len(live) > 5
    _set_pieces(store, first.entry.id, pieces)
    r = make_session(store, Recorder(), mode="replay")
    seen: Seen = []
    again = r.chat(PROMPT, model="gpt-5.4", thread=False, on_delta=watcher(seen))
    r.close()
    assert again.text == first.text and seen == [(first.text, "", True, first.text)]


def test_a_stream_false_call_is_one_piece_live_and_in_replay(tmp_path: Path) -> None:
    store = tmp_path / "st"
    whole, live, _, replayed = record_and_replay(store, model="gpt-5.4", stream=False)
    assert live == [(whole.text, "", True, whole.text)] == replayed
    assert "pieces" not in whole.entry.response
    streamed, live, _, replayed = record_and_replay(store, model="gpt-5.4")  # the same question streamed
    assert len(live) > 5 and replayed == live and len(streamed.entry.response["pieces"]["text"]) == len(live)


def test_a_very_long_stream_keeps_at_most_max_pieces_merged_from_neighbours(tmp_path: Path) -> None:
    """Ten thousand pieces: the row keeps at most MAX_PIECES, each a run of neighbouring live pieces, and the
    replay shows them in order with the same text."""
    frames = [("wave", " ", "after", " wave. ")[i % 4] for i in range(10_000)]
    first, live, _, replayed = record_and_replay(tmp_path / "st", Scripted(lambda prompt, key: frames),
                                                 model="gpt-5.4")
    kept = first.entry.response["pieces"]
    assert len(live) == 10_000 and MAX_PIECES // 2 < len(kept["text"]) <= MAX_PIECES
    assert len(json.dumps(kept)) < 6 * MAX_PIECES  # a few bytes a piece, however long the stream
    assert len(replayed) == len(kept["text"])
    assert "".join(t for t, _, _, _ in replayed) == first.text and replayed[-1][3] == first.text
    ends: set[int] = set()
    at = 0
    for t, _, _, _ in live:
        at += len(t)
        ends.add(at)
    at = 0
    for t, _, done, so_far in replayed:
        at += len(t)
        assert at in ends and not done and first.text.startswith(so_far)


def test_a_replayed_thread_holds_the_conversation_the_recording_had(tmp_path: Path) -> None:
    """A replaying session loads a thread from the store whole (every recorded turn), and each replayed turn was
    added on top: after the first replayed turn the thread held its question and answer twice, so an estimate
    or the thread's messages differed from the recording (the 05 tutorial's checked estimate did)."""
    s = make_session(tmp_path / "st", Recorder())
    s.chat("first question", model="gpt-5.2")
    s.chat("second question", model="gpt-5.2")
    recorded = [dict(m) for m in s.threads.get("default").messages]
    cost = s.estimate("chat", "a third", model="gpt-5.2")
    s.close()
    quiet = Recorder()
    r = make_session(tmp_path / "st", quiet, mode="replay")
    r.chat("first question", model="gpt-5.2")
    assert r.threads.get("default").messages == recorded[:2]
    r.chat("second question", model="gpt-5.2")
    assert r.threads.get("default").messages == recorded
    assert r.estimate("chat", "a third", model="gpt-5.2") == cost and quiet.requests == []
    r.close()


BROKEN = [
    pytest.param("gpt-5.4", {}, 4, id="chat-completions"),
    pytest.param("GPT 5.4(Responses)", {}, 7, id="responses"),
    pytest.param("claude-opus-4-6", {"endpoint": "claude"}, 5, id="claude-messages"),
    pytest.param("gemini-2.5-flash", {"endpoint": "gemini"}, 2, id="gemini"),
]


@pytest.mark.parametrize(("model", "options", "after"), BROKEN)
def test_a_chat_broken_by_an_error_frame_replays_its_pieces_then_the_same_error(
        tmp_path: Path, model: str, options: dict[str, Any], after: int) -> None:
    """A streamed answer broken mid-way by the server's error frame, in a notebook whose other chat calls were
    answered: its replay raised ReplayMissError ("no answer to replay"), so the notebook re-ran differently. It shows
    on_delta the pieces the live call showed, then raises the same StreamError (same words, same .partial_text),
    with no request."""
    from tokenhot_nb import errors as E
    from tokenhot_nb.sim import Faults

    live = Recorder()
    s = make_session(tmp_path / "st", live)
    s.chat("hi", thread=False, model=model, **options)
    live.set_faults(Faults(stream_chunks=12, stream_error_after=after))
    seen: Seen = []
    with pytest.raises(E.StreamError) as first:
        s.chat(PROMPT, thread=False, model=model, on_delta=watcher(seen), **options)
    row = s.history[-1]
    assert row.status == "error" and row.response.get("partial") and first.value.partial_text and seen
    s.close()
    quiet = Recorder()
    r = make_session(tmp_path / "st", quiet, mode="replay")
    replayed: Seen = []
    try:
        r.chat("hi", thread=False, model=model, **options)
        with pytest.raises(E.StreamError) as again:
            r.chat(PROMPT, thread=False, model=model, on_delta=watcher(replayed), **options)
        with pytest.raises(E.StreamError) as unwatched:  # (no on_delta: the same error, the text on it)
            r.chat(PROMPT, thread=False, model=model, **options)
    finally:
        r.close()
    assert type(again.value) is E.StreamError and str(again.value) == str(first.value)
    assert again.value.partial_text == first.value.partial_text == unwatched.value.partial_text
    assert (again.value.code, again.value.status, again.value.request_id) == \
        (first.value.code, first.value.status, first.value.request_id)
    assert replayed == seen
    assert quiet.requests == []
