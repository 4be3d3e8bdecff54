"""Careless arguments are refused with one line before any request: empty messages, wrong types."""

from __future__ import annotations

from typing import Any

import pytest

from tokenhot_nb import errors as E


@pytest.mark.parametrize("kw,words", [
    ({"message": ""}, "message is empty"),
    ({"message": "   \n"}, "message is empty"),
    ({"message": "hi", "temperature": "hot"}, "temperature must be a number"),
    ({"message": "hi", "temperature": 7}, "temperature must be a number from 0 to 2"),
    ({"message": "hi", "temperature": float("nan")}, "temperature must be"),
    ({"message": "hi", "max_tokens": "100"}, "max_tokens must be a whole number"),
    ({"message": "hi", "max_tokens": True}, "max_tokens must be"),
])
def test_chat_arguments(s: Any, rec: Any, kw: dict[str, Any], words: str) -> None:
    message = kw.pop("message")
    with pytest.raises(E.InputError, match=words) as info:
        s.chat(message, stream=False, **kw)
    assert "\n" not in str(info.value)
    assert rec.posts() == []


@pytest.mark.parametrize("seed", ["42", 4.5, True, -1])
def test_seed_of_the_wrong_type(s: Any, rec: Any, seed: Any) -> None:
    with pytest.raises(E.InputError, match="seed must be a whole number"):
        s.image("a cat", seed=seed)
    assert rec.posts() == []


def test_good_arguments_still_pass(s: Any, rec: Any) -> None:
    assert s.chat("hi", model="claude-opus-4-6", stream=False, temperature=0.2, max_tokens=50).text
    assert s.image("a cat", seed=7)
