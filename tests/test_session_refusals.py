"""Careless input is refused with one line before any request (issue #9 item 8): base URL, option types,
an empty chat message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb._config import Settings


@pytest.mark.parametrize("url", ["api.tokenhot.cn", "ftp://api.tokenhot.cn", "https://", "http://host:99999"])
def test_a_base_url_without_scheme_or_host_is_refused(url: str) -> None:
    with pytest.raises(E.ConfigError, match="not an http\\(s\\) URL") as info:
        Settings.from_env(api_key="sk-anything-0123456789", base_url=url)
    assert "\n" not in str(info.value)


def test_base_url_refusal_suggests_the_scheme() -> None:
    with pytest.raises(E.ConfigError, match=r"https://api\.tokenhot\.ai"):
        Settings(base_url="api.tokenhot.ai")


@pytest.fixture
def offline(tmp_path: Path) -> Session:
    return Session(mode="offline", store=tmp_path / "store")


@pytest.mark.parametrize("kw, name", [({"temperature": "0.5"}, "temperature"), ({"temperature": -1}, "temperature"),
                                      ({"max_tokens": 1.5}, "max_tokens"), ({"max_tokens": True}, "max_tokens")])
def test_chat_options_of_the_wrong_type_are_refused_before_any_request(
        offline: Session, kw: dict[str, object], name: str) -> None:
    with pytest.raises(E.InputError, match=name):
        offline.chat("hi", model="claude-opus-4-6", stream=False, **kw)  # type: ignore[arg-type]
    assert [e.endpoint for e in offline.store.select_entries()] == [""]  # recorded as refused, never sent


@pytest.mark.parametrize("seed", ["42", 4.2, True])
def test_a_seed_of_the_wrong_type_is_refused(offline: Session, seed: object) -> None:
    with pytest.raises(E.InputError, match="seed must be a whole number"):
        offline.image("a cat", model="doubao-seedream-4-5-251128", seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize("message", ["", "   \n"])
def test_an_empty_chat_message_is_refused(offline: Session, message: str) -> None:
    with pytest.raises(E.InputError, match="empty"):
        offline.chat(message)
