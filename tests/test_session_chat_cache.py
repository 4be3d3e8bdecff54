"""``chat(cache=…)``: Claude's prompt-cache breakpoints, marked where the next turn (or the next question on the same
long system prompt) reads the prefix back from the cache instead of paying for it again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import Session
from tokenhot_nb.errors import InputError
from tokenhot_nb.families import chat

CLAUDE = "claude-opus-4-6"  # chat.completions first, messages too
LONG = "The history of the pear, told at length. " * 400  # well over the 1,024 tokens Anthropic caches


def _marks(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return ([value["cache_control"]] if "cache_control" in value else []) + \
            [m for v in value.values() for m in _marks(v)]
    if isinstance(value, list):
        return [m for v in value for m in _marks(v)]
    return []


def test_a_claude_thread_with_cache_marks_the_system_prompt_and_the_last_message_and_reads_back(
        tmp_path: Path) -> None:
    rec = Recorder()
    with make_session(tmp_path / "st", rec) as s:
        turns = [s.chat(q, model=CLAUDE, system=LONG, cache=True, stream=False)
                 for q in ("What came first?", "And then?", "And last?")]
        bodies = [rec.json(i, "/v1/messages") for i in range(3)]
        for body in bodies:
            assert body["system"] == [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]
            assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
            assert len(_marks(body)) == 2  # the earlier turns' marks moved on: never more than Anthropic takes
            assert all(isinstance(m["content"], str) for m in body["messages"][:-1])
        assert [t.entry.endpoint for t in turns] == ["messages"] * 3  # Claude's own API keeps the marks
        first, second, third = (t.usage for t in turns)
        assert first.cache_write_tokens > 1024 and not first.cached_tokens
        assert second.cached_tokens == first.cache_write_tokens and third.cached_tokens > second.cached_tokens
        assert turns[1].cost.usd is not None and turns[0].cost.usd is not None
        assert turns[1].cost.usd < turns[0].cost.usd / 2  # read back at the cache's price
        # what the history says was sent is what was sent (its rows keep each message once)
        for turn, body in zip(turns, bodies, strict=True):
            assert turn.entry.wire_request()["json"] == body


def test_without_cache_nothing_is_marked_and_nothing_is_read_back(tmp_path: Path) -> None:
    rec = Recorder()
    with make_session(tmp_path / "st", rec) as s:
        turns = [s.chat(q, model=CLAUDE, system=LONG, endpoint="messages", stream=False) for q in ("a?", "b?")]
    assert not _marks(rec.json(-1, "/v1/messages")) and not turns[1].usage.cached_tokens


def test_an_hour_long_cache_marks_its_ttl_and_is_billed_as_written_for_an_hour(tmp_path: Path) -> None:
    rec = Recorder()
    with make_session(tmp_path / "st", rec) as s:
        turn = s.chat("What came first?", model=CLAUDE, system=LONG, cache="1h", stream=False)
    assert _marks(rec.json(-1, "/v1/messages")) == [{"type": "ephemeral", "ttl": "1h"}] * 2
    assert turn.usage.cache_write_1h_tokens == turn.usage.cache_write_tokens > 1024
    assert turn.entry.params["cache"] == "1h" and "cache='1h'" in turn.entry.to_code()


def test_other_models_and_claude_through_chat_completions_send_no_marks(tmp_path: Path) -> None:
    rec = Recorder()
    with make_session(tmp_path / "st", rec) as s:
        s.chat("hello", model="gpt-5.4", system=LONG, cache=True, stream=False, thread=False)
        s.chat("hello", model=CLAUDE, system=LONG, cache=True, endpoint="chat.completions", stream=False,
               thread=False)
    bodies = [rec.json(i, "/v1/chat/completions") for i in range(2)]
    assert [_marks(b) for b in bodies] == [[], []] and all("cache" not in b for b in bodies)


def test_marks_the_body_holds_already_are_kept_and_counted(tmp_path: Path) -> None:
    """Anthropic takes four breakpoints at most: ``extra=`` ones stay, and cache= adds what room is left."""
    rec = Recorder()
    mark = {"type": "ephemeral"}
    system = [{"type": "text", "text": f"part {i} " + LONG, "cache_control": mark} for i in range(3)]
    with make_session(tmp_path / "st", rec) as s:
        s.chat("first?", model=CLAUDE, cache=True, stream=False, extra={"system": system})
    body = rec.json(-1, "/v1/messages")
    assert body["system"] == system and len(_marks(body)) == 4
    assert body["messages"][-1]["content"][-1]["cache_control"] == mark


@pytest.mark.parametrize("bad", ["2h", 5, "yes", ["5m"]])
def test_a_cache_it_cannot_take_is_one_line_before_any_request(tmp_path: Path, bad: Any) -> None:
    rec = Recorder()
    with make_session(tmp_path / "st", rec) as s, pytest.raises(InputError) as info:
        s.chat("hi", model=CLAUDE, cache=bad, stream=False)
    assert "cache= takes True, '5m' or '1h'" in str(info.value) and rec.posts() == []


def test_a_cached_thread_replays_with_no_network(tmp_path: Path) -> None:
    with make_session(tmp_path / "st") as s:
        live = [s.chat(q, model=CLAUDE, system=LONG, cache=True, stream=False).text for q in ("a?", "b?")]
    rec = Recorder()
    with make_session(tmp_path / "st", rec, mode="replay") as r:
        again = [r.chat(q, model=CLAUDE, system=LONG, cache=True, stream=False).text for q in ("a?", "b?")]
    assert again == live and rec.requests == []


def test_cache_marks_copy_what_they_change() -> None:
    body = {"system": "S", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "t", "signature": "x"}]}]}
    before = json.dumps(body)
    out = chat.cache_marks(body, "5m")
    assert json.dumps(body) == before  # the caller's body (a thread's kept items) is left as it was
    assert out["system"] == [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}]
    assert out["messages"][-1] == body["messages"][-1]  # a thinking block takes no mark: none is added there


def test_the_magic_passes_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenhot_nb.magics import _args

    assert _args.parse("th_chat", "--cache").cache == "5m"
    assert _args.parse("th_chat", "--cache 1h -m claude").cache == "1h"
    assert _args.parse("th_chat", "-m claude").cache is None
    _ = Session  # (the session end to end is covered above)
