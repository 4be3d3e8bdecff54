"""The simulator's seed, prompt and token helpers give exactly what their plain definitions give.

They remember the conversations they saw (a thread resends all its turns on every call), so each check runs
the fast helper against the plain definition written out here, over the same bodies grown, repeated, reordered
and changed in place: a remembered turn must never answer for a changed one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import re
from typing import Any

import pytest

from tokenhot_nb.sim import _common
from tokenhot_nb.sim._common import all_text_tokens, canonical_json, prompt_of_messages, seed_of

# ----------------------------------------------------------------------------- the plain definitions

_TOKEN_RE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af]|[A-Za-z0-9]+|[^\sA-Za-z0-9]")


def ref_seed(*parts: Any) -> int:
    raw = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big") >> 1


def ref_tokens(obj: Any) -> int:
    text = json.dumps(obj, ensure_ascii=False)
    return max(1, math.ceil(len(_TOKEN_RE.findall(text)) * 1.1)) // 2 + 3


def ref_prompt(messages: list[Any]) -> tuple[str, int]:
    last, images = "", 0
    for m in messages:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        texts: list[str] = []
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for p in content:
                if isinstance(p, dict):
                    if p.get("type") in ("text", "input_text") or ("text" in p and "type" not in p):
                        texts.append(str(p.get("text", "")))
                    elif p.get("type") in ("image_url", "input_image", "image") or "image" in p:
                        images += 1
                elif isinstance(p, str):
                    texts.append(p)
        if m.get("role", "user") == "user" and texts:
            last = " ".join(texts)
    return last, images


def check(body: dict[str, Any], key: str = "messages") -> None:
    """Every helper against its definition, twice (the second call answers from what the first remembered)."""
    for _ in range(2):
        parts = ({k: v for k, v in body.items() if k != "stream"},)
        assert canonical_json(parts) == json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
        assert seed_of(body) == ref_seed(body)
        assert seed_of("gemini-2.5-flash", body) == ref_seed("gemini-2.5-flash", body)
        conv = body[key]
        assert all_text_tokens(conv) == ref_tokens(conv)
        if isinstance(conv, list):
            assert prompt_of_messages(conv) == ref_prompt(conv)


# ----------------------------------------------------------------------------- bodies

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def thread(turns: int, tag: str = "") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": f"Be terse {tag}. Ünïcødé ✓ 中文 한국어 😀"}]
    for i in range(turns):
        out.append({"role": "user", "content": f"question {i}{tag}: \"quoted\" \\ back\nslash é"})
        out.append({"role": "assistant", "content": f"answer {i}{tag}: It is 3.5 km (≈2 mi)."})
    return out


MIXED: list[Any] = [
    {"role": "system", "content": "sys"},
    {"role": "user", "content": [{"type": "text", "text": "what is in"}, IMAGE, IMAGE, {"type": "text", "text": "?"}]},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "18C"},
    {"content": [{"text": "no type"}, "plain str", {"image": "x"}, 3, None]},
    {"role": "user", "content": [{"type": "input_text", "text": "and"}, {"type": "input_image", "image_url": "u"}]},
    {"role": "user", "content": "x", "name": "bob", "extra": {"z": 1, "a": [1.5, True, None, 1e300, -0.0]}},
    "not a dict", 7, 2.5, True, None, [1, "two"],
    {"zeta": "last", "alpha": "first", "Mid": "m", "_u": "u", "role": "user", "content": "keys to sort"},
    {"role": "user", "content": ""},
    {"role": "user", "content": []},
    {"role": "model", "parts": [{"text": "gemini turn"}, {"inlineData": {"mimeType": "image/png", "data": "AA=="}}]},
    {"role": "user", "parts": [{"text": "gemini text"}]},
]


@pytest.mark.parametrize("turns", [0, 1, 10, 60])
def test_text_threads_match_the_definitions(turns: int) -> None:
    check({"model": "gpt-5", "messages": [*thread(turns), {"role": "user", "content": "now?"}], "temperature": 1,
           "max_tokens": 50, "stream": True, "metadata": {"b": [2, 3.25], "a": {"ü": "✓"}}})


def test_mixed_conversations_match_the_definitions() -> None:
    check({"model": "gpt-5", "messages": MIXED})
    check({"model": "gpt-5", "messages": thread(5) + MIXED + thread(5, "b")})
    check({"model": "gpt-5", "input": MIXED, "instructions": "x"}, key="input")
    check({"model": "gpt-5", "input": "one string"}, key="input")
    check({"contents": [m for m in MIXED if isinstance(m, dict)], "generationConfig": {"maxOutputTokens": 9}},
          key="contents")


def test_numbers_that_python_calls_equal_are_not_mixed_up() -> None:
    """1, 1.0 and True are equal in Python and differ in JSON: what was seen for one must not answer for another."""
    for value in (1, 1.0, True, "1", None, [1], {"1": 1}):
        check({"model": "m", "messages": [*thread(3), {"role": "user", "content": "q", "n": value}]})
        check({"model": "m", "messages": [*thread(3), {"role": "user", "content": value}]})
        check({"model": "m", "messages": [*thread(3), {"role": "user", "content": [{"type": "text", "text": value}]}]})
        check({"model": "m", "messages": [*thread(3), {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": {"deep": [value, None, "s"]}}}]}]})


def test_a_growing_thread_branches_and_repeats() -> None:
    msgs = thread(40, "grow")
    bodies = []
    for n in range(1, len(msgs) + 1, 7):  # grows: the longest conversation seen is reused
        bodies.append({"model": "gpt-5", "messages": msgs[:n]})
        check(bodies[-1])
    for body in reversed(bodies):  # shorter ones again: nothing seen may answer for more than it holds
        check(body)
    branch = copy.deepcopy(msgs)
    branch[30]["content"] = "an edited turn"  # a branch: same start, different middle
    check({"model": "gpt-5", "messages": branch})
    check({"model": "gpt-5", "messages": msgs})
    swapped = [{"content": m["content"], "role": m["role"]} for m in msgs]  # the same messages, keys reordered
    check({"model": "gpt-5", "messages": swapped})


def test_messages_changed_in_place_are_seen_as_changed() -> None:
    msgs = [*thread(20, "inplace"), {"role": "user", "content": [{"type": "text", "text": "parts"}]}]
    body = {"model": "gpt-5", "messages": msgs}
    check(body)
    msgs[5]["content"] = "changed in place"
    check(body)
    msgs[-1]["content"][0]["text"] = "changed part"
    check(body)
    msgs[3]["name"] = "a new key"
    check(body)
    msgs[7]["content"] = 42  # no longer a text message
    check(body)
    msgs[8]["content"] = [{"type": "text", "text": "now parts"}, IMAGE]
    check(body)
    del msgs[10:14]
    check(body)
    msgs.append({"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {
        "name": "f", "arguments": "{}"}}]})
    check(body)
    msgs[-1]["tool_calls"][0]["function"]["arguments"] = "{\"changed\": \"deep inside\"}"
    check(body)
    msgs[-1]["tool_calls"][0]["function"]["arguments"] = {"now": 1.0}
    check(body)
    msgs[-1]["tool_calls"][0]["function"]["arguments"] = {"now": True}
    check(body)


def test_random_conversations_match_the_definitions() -> None:
    rng = random.Random(1234)
    words = ["a", "β", "中", "😀", "x y", "\"", "\\", "\n", "1.5", "-", "tab\t", "", "key", "é"]

    def scalar() -> Any:
        return rng.choice([rng.choice(words) * rng.randint(0, 3), rng.randint(-5, 5), rng.random(), True, False,
                           None, 1.0, 0])

    def value(depth: int) -> Any:
        if depth > 2 or rng.random() < 0.5:
            return scalar()
        if rng.random() < 0.5:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(words): value(depth + 1) for _ in range(rng.randint(0, 3))}

    def message() -> Any:
        r = rng.random()
        if r < 0.6:
            return {"role": rng.choice(["user", "assistant", "system"]), "content": rng.choice(words) * 3}
        if r < 0.8:
            return {"role": "user", "content": [rng.choice([{"type": "text", "text": rng.choice(words)}, IMAGE,
                                                            {"text": rng.choice(words)}, rng.choice(words)])
                                                for _ in range(rng.randint(0, 3))]}
        return value(0)

    convs: list[list[Any]] = []
    for _ in range(60):
        if convs and rng.random() < 0.6:  # extend, repeat or edit a conversation seen before
            conv = copy.deepcopy(rng.choice(convs))
            if conv and rng.random() < 0.3:
                conv[rng.randrange(len(conv))] = message()
            conv += [message() for _ in range(rng.randint(0, 3))]
        else:
            conv = [message() for _ in range(rng.randint(1, 12))]
        convs.append(conv)
        extra = {rng.choice(words): value(1) for _ in range(rng.randint(0, 3))}
        check({**extra, "model": "m", "messages": conv})


def test_what_is_remembered_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most a few conversations and a bounded amount of their text; token counts by digest, a bounded number."""
    for i in range(3 * _common._SEEN_MAX):
        seed_of({"model": "m", "messages": thread(2, f"bound{i}")})
    assert len(_common._SEEN) <= _common._SEEN_MAX
    monkeypatch.setattr(_common, "_SEEN_CHARS", 20_000)
    monkeypatch.setattr(_common, "_TOKENS_MAX", 50)
    big = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 30_000}}]}]
    for i in range(12):
        check({"model": "m", "messages": thread(10, f"budget{i}")})
        check({"model": "m", "messages": big + thread(1, f"big{i}")})  # larger than the budget: never remembered
        assert sum(len(e.text) for e in _common._SEEN) <= 20_000
        assert all(len(e.text) < 30_000 for e in _common._SEEN)
        assert len(_common._TOKENS) <= 50 and all(isinstance(k, bytes) and len(k) == 16 for k in _common._TOKENS)


def test_a_seen_conversation_does_not_depend_on_the_callers_objects() -> None:
    msgs = thread(4, "own")
    before = seed_of({"messages": msgs})
    msgs[1]["content"] = "mutated after it was remembered"
    msgs[2].clear()
    assert seed_of({"messages": thread(4, "own")}) == before == ref_seed({"messages": thread(4, "own")})
