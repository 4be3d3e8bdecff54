"""Settings: precedence of arguments over environment, offline by default, and a key that never shows."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tokenhot_nb._config import OFFLINE_KEY, Secret, Settings, redact
from tokenhot_nb.errors import ConfigError, MissingKeyError

KEY = "sk-live-CONFIGSECRET12345"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKENHOT_API_KEY", "TOKENHOT_BASE_URL", "TOKENHOT_MODE", "TOKENHOT_STORE"):
        monkeypatch.delenv(name, raising=False)


def test_no_key_no_mode_means_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from tokenhot_nb import _config

    monkeypatch.setattr(_config, "_notice_shown", False)
    with pytest.warns(UserWarning, match="using the offline simulator"):
        s = Settings.from_env()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not on every session
        Settings.from_env()
    assert s.mode == "offline"
    assert s.key_for_requests() == OFFLINE_KEY
    assert s.base_url == "https://api.tokenhot.cn"


def test_key_from_env_means_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENHOT_API_KEY", KEY)
    s = Settings.from_env()
    assert s.mode == "live"
    assert s.key_for_requests() == KEY


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOKENHOT_BASE_URL", "https://api.tokenhot.ai")
    monkeypatch.setenv("TOKENHOT_MODE", "replay")
    monkeypatch.setenv("TOKENHOT_STORE", str(tmp_path / "env-store"))
    s = Settings.from_env(base_url="https://example.test/v1/", mode="offline", store=tmp_path / "arg-store")
    assert s.base_url == "https://example.test"
    assert s.mode == "offline"
    assert s.store == tmp_path / "arg-store"
    t = Settings.from_env()
    assert (t.base_url, t.mode, t.store) == ("https://api.tokenhot.ai", "replay", tmp_path / "env-store")


def test_unknown_mode_is_explained() -> None:
    with pytest.raises(ConfigError, match="live, offline, replay"):
        Settings.from_env(mode="online")


def test_live_without_key_says_how_to_set_it() -> None:
    s = Settings.from_env(mode="live")
    with pytest.raises(MissingKeyError) as info:
        s.key_for_requests()
    assert "TOKENHOT_API_KEY" in str(info.value)


def test_key_never_shows() -> None:
    s = Settings.from_env(api_key=KEY)
    for text in (repr(s), str(s), str(s.public()), f"{s.api_key}", repr(s.api_key), str(s.api_key)):
        assert KEY not in text
    assert s.public()["api_key"] == "set"
    with pytest.raises(TypeError):
        pickle.dumps(s.api_key)


def test_secret_equality_and_truth() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert not Secret("") and Secret("x")


def test_redact_known_and_key_shaped_values() -> None:
    assert KEY not in redact(f"header Bearer {KEY}", Secret(KEY))
    stray = "sk-" + "AbC123xyz789DeF456gh"
    assert stray not in redact(f"a stray {stray} in text")
    assert redact("nothing here") == "nothing here"
    assert redact("pipelines in sk-learn, task sk-1") == "pipelines in sk-learn, task sk-1"  # words, not keys


def test_offline_polls_quickly_unless_told_otherwise() -> None:
    assert Settings.from_env(mode="offline").poll_interval < 1
    assert Settings.from_env(mode="offline", poll_interval=3.0).poll_interval == 3.0
    assert Settings.from_env(mode="live", api_key=KEY).poll_interval == 5.0
