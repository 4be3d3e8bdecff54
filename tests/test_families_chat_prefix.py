"""``chat.build(prefix=…)``: a conversation's earlier turns are built and encoded once, and every body is still
byte for byte the body a whole build makes (on every endpoint, whatever happened to the messages meanwhile)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tokenhot_nb import catalog
from tokenhot_nb.families import chat

ENDPOINTS = [("gpt-5.2", "chat.completions"), ("gpt-5", "responses"), ("claude-opus-4-6", "messages"),
             ("gemini-2.5-flash", "gemini.generate"), ("gemini-2.5-flash", "gemini.stream")]
TOOLS = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]


def _wire(body: Any) -> bytes:
    """What the client sends for ``json=body`` (httpx's encoding)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _same(model: Any, messages: list[dict[str, Any]], prefix: chat.Prefix, **kw: Any) -> chat.HttpCall:
    cached = chat.build(model, messages, prefix=prefix, **kw)
    whole = chat.build(model, messages, **kw)
    assert cached.json == whole.json and cached.path == whole.path and cached.params == whole.params
    lone = isinstance(whole.json.get("input"), str)  # /v1/responses sends one lone user message as a string
    assert cached.encoded == (None if lone else _wire(whole.json))
    return cached


@pytest.mark.parametrize(("model_id", "endpoint"), ENDPOINTS)
@pytest.mark.parametrize("system", [None, "Be brief."])
def test_turn_after_turn_equals_a_whole_build(model_id: str, endpoint: str, system: str | None) -> None:
    model, prefix = catalog.model(model_id), chat.Prefix()
    kw: dict[str, Any] = {"endpoint": endpoint, "system": system, "max_tokens": 64,
                          "extra": {"top_p": 0.9}, "tools": TOOLS}
    messages: list[dict[str, Any]] = []
    for i in range(6):
        messages.append({"role": "user", "content": f"question {i}: \"quotes\", é, 你好, \u2028"})
        _same(model, messages, prefix, **kw)
        messages.append({"role": "assistant", "content": f"answer {i}"})
    assert len(prefix.seen) == 11  # every turn so far is covered: the next one builds two messages


def test_a_reused_prefix_is_not_rebuilt() -> None:
    model, prefix = catalog.model("gpt-5.2"), chat.Prefix()
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    chat.build(model, [*messages, {"role": "user", "content": "c"}], prefix=prefix)
    wire = prefix.wire
    messages += [{"role": "user", "content": "c"}, {"role": "assistant", "content": "d"},
                 {"role": "user", "content": "e"}]
    call = _same(model, messages, prefix)
    assert prefix.wire[:3] == wire and prefix.wire[0] is wire[0]  # the earlier items were kept, not rebuilt
    assert call.json["messages"][-1] == {"role": "user", "content": "e"}


@pytest.mark.parametrize(("model_id", "endpoint"), ENDPOINTS)
def test_changed_shortened_or_other_messages_start_over(model_id: str, endpoint: str) -> None:
    model, prefix = catalog.model(model_id), chat.Prefix()
    messages = [{"role": "user", "content": f"m{i}"} if i % 2 == 0 else {"role": "assistant", "content": f"m{i}"}
                for i in range(7)]
    _same(model, messages, prefix, endpoint=endpoint)
    messages[2]["content"] = "edited in place"  # a user editing the thread's own message dicts
    messages += [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]
    call = _same(model, messages, prefix, endpoint=endpoint)
    assert b"edited in place" in (call.encoded or b"")
    _same(model, messages[:3], prefix, endpoint=endpoint)  # a branch from an earlier turn
    _same(model, messages, prefix, endpoint=endpoint, system="now with a system prompt")
    other = catalog.model("gpt-5.2") if model_id != "gpt-5.2" else catalog.model("grok-4.1")
    _same(other, messages, prefix)


def _reset(m: Any) -> None:
    m.clear()
    m.update(role="user", content="edited in place")


#: Every way a thread's kept message (a KeptMessage, covered as that very object) can be edited in place.
EDITS = {
    "setitem": lambda m: m.__setitem__("content", "edited in place"),
    "update": lambda m: m.update(content="edited in place"),
    "ior": lambda m: m.__ior__({"content": "edited in place"}),
    "setdefault": lambda m: m.setdefault("name", "edited in place"),
    "delitem": lambda m: (m.__delitem__("content"), m.__setitem__("content", "edited in place")),
    "pop": lambda m: m.pop("role"),
    "popitem": lambda m: m.popitem(),
    "clear": _reset,
    "init": lambda m: m.__init__(content="edited in place"),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
@pytest.mark.parametrize(("model_id", "endpoint"), ENDPOINTS)
def test_a_kept_message_edited_in_place_is_sent_as_edited(model_id: str, endpoint: str, edit: Any) -> None:
    """A thread's messages are covered as the objects themselves (no copy compared each turn): an edit made to
    one in place must still start the body over, never send the encoding the message had before."""
    from tokenhot_nb.families._types import KeptMessage

    model, prefix = catalog.model(model_id), chat.Prefix()
    messages: list[dict[str, Any]] = []
    for i in range(3):
        messages.append(KeptMessage(role="user", content=f"question {i}"))
        _same(model, messages, prefix, endpoint=endpoint)
        messages.append(KeptMessage(role="assistant", content=f"answer {i}"))
    assert prefix.seen[0] is messages[0] and prefix.seen[2] is messages[2]  # covered as the very objects
    edit(messages[2])
    messages.append(KeptMessage(role="user", content="after the edit"))
    _same(model, messages, prefix, endpoint=endpoint)  # the body a whole build makes of the edited thread
    messages.append(KeptMessage(role="assistant", content="answer"))
    messages.append(KeptMessage(role="user", content="and the turn after"))
    _same(model, messages, prefix, endpoint=endpoint)


def test_a_kept_message_replaced_or_a_branch_starts_over() -> None:
    from tokenhot_nb.families._types import KeptMessage

    model, prefix = catalog.model("gpt-5.2"), chat.Prefix()
    messages: list[dict[str, Any]] = [KeptMessage(role="user", content=f"m{i}") if i % 2 == 0
                                      else KeptMessage(role="assistant", content=f"m{i}") for i in range(7)]
    _same(model, messages, prefix)
    messages[2] = KeptMessage(role="user", content="a fork of turn 1")  # another object in its place
    messages += [KeptMessage(role="assistant", content="x"), KeptMessage(role="user", content="y")]
    call = _same(model, messages, prefix)
    assert b"a fork of turn 1" in (call.encoded or b"")
    messages[2] = {"role": "user", "content": "a plain dict"}  # a user's own dict: covered as a copy
    messages += [KeptMessage(role="assistant", content="x"), KeptMessage(role="user", content="z")]
    _same(model, messages, prefix)
    messages[2]["content"] = "the plain dict edited"  # (counted by no one: the copy tells)
    messages += [KeptMessage(role="assistant", content="x"), KeptMessage(role="user", content="w")]
    assert b"the plain dict edited" in (_same(model, messages, prefix).encoded or b"")
    del messages[5:]  # a branch back to turn 2
    messages.append(KeptMessage(role="user", content="a branch"))
    _same(model, messages, prefix)


def test_tool_calls_and_images_are_built_whole_and_not_kept() -> None:
    model, prefix = catalog.model("gpt-5.2"), chat.Prefix()
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "weather", "arguments": {}}]},
        {"role": "user", "content": "", "tool_results": [{"id": "c1", "content": {"t": 21}}]},
    ]
    _same(model, messages, prefix, tools=TOOLS)
    assert prefix.seen == []
    messages = [{"role": "user", "content": [{"type": "text", "text": "see"},
                                             {"type": "image", "data": b"\x89PNG", "mime": "image/png"}]}]
    _same(model, messages, prefix)
    assert prefix.seen == []
    plain = [{"role": "user", "content": "a"}]
    _same(model, plain, prefix)
    assert len(prefix.seen) == 1


def test_raw_and_extra_messages_bypass_the_prefix() -> None:
    model, prefix = catalog.model("gpt-5.2"), chat.Prefix()
    messages = [{"role": "user", "content": "a"}]
    assert chat.build(model, messages, prefix=prefix, raw={"model": "x", "messages": []}).encoded is None
    assert chat.build(model, messages, prefix=prefix, extra={"messages": [{"role": "user", "content": "z"}]}
                      ).encoded is None
    assert chat.build(model, messages).encoded is None  # no prefix: the client encodes the body itself


def test_a_body_json_cannot_encode_leaves_it_to_the_client() -> None:
    model, prefix = catalog.model("gpt-5.2"), chat.Prefix()
    call = chat.build(model, [{"role": "user", "content": "a"}], prefix=prefix, extra={"temperature_x": float("nan")})
    assert call.encoded is None  # the client's own encoder refuses it and says so, as without a prefix


def test_an_edit_made_while_a_body_is_built_is_seen_by_the_next_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another thread editing a message while a turn's body is encoded: the body may have the message as it was,
    but the next turn must not reuse that encoding (the edit is counted after the prefix looked, not before)."""
    from tokenhot_nb.families._types import KeptMessage

    model, prefix = catalog.model("gpt-5.2"), chat.Prefix()
    messages: list[dict[str, Any]] = [KeptMessage(role="user", content="q0"),
                                      KeptMessage(role="assistant", content="a0"), KeptMessage(role="user", content="q1")]
    real = chat._dumps

    def dumps(value: Any) -> bytes:
        out = real(value)
        if value is messages[2]:  # the last item encoded: one encoded before it is edited meanwhile
            messages[0]["content"] = "edited meanwhile"
        return out

    monkeypatch.setattr(chat, "_dumps", dumps)
    chat.build(model, messages, prefix=prefix)
    monkeypatch.setattr(chat, "_dumps", real)
    messages += [KeptMessage(role="assistant", content="a1"), KeptMessage(role="user", content="q2")]
    assert b"edited meanwhile" in (_same(model, messages, prefix).encoded or b"")
