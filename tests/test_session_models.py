"""Which model a call uses: a live call without a key is refused before anything is sent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tokenhot_nb import Session
from tokenhot_nb.errors import MissingKeyError


def test_a_live_call_without_a_key_is_refused_before_any_request(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKENHOT_API_KEY", raising=False)
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"success": True, "data": []})

    with Session(mode="live", base_url="https://relay.test", store=tmp_path,
                 transport=httpx.MockTransport(handler)) as s:
        for call in (lambda: s.chat("hi"), lambda: s.image("a cat", model="gpt-image-2"),
                     lambda: s.chat("hi", model="deepseek-v4-pro"), lambda: s.embed("x")):
            with pytest.raises(MissingKeyError, match="No Tokenhot API key"):
                call()
        assert sent == []  # not even the (public) price table
        s.estimate("image", "a cat", model="gpt-image-2")  # an estimate needs no key: the table is public
        assert "/api/pricing" in sent and "/v1/images/generations" not in sent
