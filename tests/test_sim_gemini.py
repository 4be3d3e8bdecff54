"""Gemini's prompt and images come from the last user turns, found from the end, as a walk from the start finds them."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tokenhot_nb.sim._gemini import _last_user


def ref_last_user(contents: list[Any]) -> tuple[str, list[bytes]]:
    """The plain definition: walk every turn, the last user turn with text / with images wins."""
    text, images = "", []
    for c in contents:
        if not isinstance(c, dict) or c.get("role", "user") != "user":
            continue
        parts = [p for p in c.get("parts") or [] if isinstance(p, dict)]
        texts = [str(p["text"]) for p in parts if "text" in p]
        if texts:
            text = " ".join(texts)
        imgs = []
        for p in parts:
            inline = p.get("inlineData", p.get("inline_data"))
            mime = (inline.get("mimeType", inline.get("mime_type")) if isinstance(inline, dict) else None) or ""
            if isinstance(inline, dict) and str(mime).startswith("image/"):
                try:
                    imgs.append(base64.b64decode(inline.get("data") or ""))
                except ValueError:
                    pass
        if imgs:
            images = imgs
    return text, images


def img(data: bytes | str, mime: str = "image/png", snake: bool = False) -> dict[str, Any]:
    raw = data if isinstance(data, str) else base64.b64encode(data).decode()
    return {"inline_data": {"mime_type": mime, "data": raw}} if snake else {"inlineData": {"mimeType": mime, "data": raw}}


TURNS: list[Any] = [
    {"role": "user", "parts": [{"text": "first"}, img(b"red")]},
    {"role": "model", "parts": [{"text": "ok"}, img(b"model image")]},
    {"role": "user", "parts": [img(b"blue"), {"text": "second"}, img(b"green", snake=True)]},
    {"parts": [{"text": "no role: a user turn"}, img("!!not base64"), img(b"text", "text/plain")]},
    {"role": "user", "parts": [img(b"only an image")]},
    {"role": "user", "parts": [{"text": ""}]},
    "junk", {"role": "user", "parts": "not a list"}, {"role": "user"}, {"role": "user", "parts": [None, 3]},
    {"role": "user", "parts": [{"text": 5}, img("")]},
]


@pytest.mark.parametrize("end", range(len(TURNS) + 1))
def test_last_user_matches_a_walk_from_the_start(end: int) -> None:
    for contents in (TURNS[:end], TURNS[end:], TURNS[:end][::-1]):
        assert _last_user(contents) == ref_last_user(contents)
