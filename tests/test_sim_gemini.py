"""Gemini's prompt and images come from the last user turns, found from the end, as a walk from the start finds them."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
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


# ----------------------------------------------------------------------------- /v1/models/{model}:… (§10.7)

BODY = {"contents": [{"role": "user", "parts": [{"text": "Name a colour"}]}]}


def test_v1_models_serves_the_native_routes_beside_the_model_lookup(sim_url: str) -> None:
    """google-genai's default api_version is v1: POST /v1/models/{model}:… is Gemini native, while GET
    /v1/models/{id} stays the OpenAI model lookup; no SDK needed to see it."""
    key = {"x-goog-api-key": "sk-googlekey-1234"}
    one = httpx.post(f"{sim_url}/v1/models/gemini-2.5-flash:generateContent", json=BODY, headers=key)
    beta = httpx.post(f"{sim_url}/v1beta/models/gemini-2.5-flash:generateContent", json=BODY, headers=key)
    assert one.status_code == 200 and one.json()["candidates"] == beta.json()["candidates"]
    with httpx.stream("POST", f"{sim_url}/v1/models/gemini-2.5-flash:streamGenerateContent", json=BODY,
                      params={"alt": "sse", "key": "sk-querykey-1234"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        frames = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert "".join(p["text"] for f in frames for p in f["candidates"][0]["content"]["parts"]) == \
        one.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert frames[-1]["candidates"][0]["finishReason"] == "STOP" and frames[-1]["usageMetadata"]
    lookup = httpx.get(f"{sim_url}/v1/models/gemini-2.5-flash", headers={"Authorization": "Bearer sk-abcd1234"})
    assert lookup.status_code == 200 and lookup.json()["id"] == "gemini-2.5-flash"
    unauthorised = httpx.post(f"{sim_url}/v1/models/gemini-2.5-flash:generateContent", json=BODY)
    assert unauthorised.status_code == 401 and set(unauthorised.json()["error"]) == {"message", "type", "code"}
    assert httpx.post(f"{sim_url}/v1/models/gemini-2.5-flash", json=BODY, headers=key).status_code == 404
