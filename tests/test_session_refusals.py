"""Careless input is refused with one line before any request (issue #9 item 8): base URL, option types,
an empty chat message."""

from __future__ import annotations

import json
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


def _pil() -> object:
    from PIL import Image

    return Image.new("RGB", (4, 4))


@pytest.mark.parametrize("call,param,kept", [
    (lambda s: s.image(_pil()), "prompt", {"not_recorded": "PIL.Image.Image"}),
    (lambda s: s.image({"a cat", "a dog"}), "prompt", {"not_recorded": "builtins.set"}),
    (lambda s: s.image(b"a cat"), "prompt", {"not_recorded": "builtins.bytes"}),
    (lambda s: s.edit(Path("/no/such.png"), "make it blue"), "images", "/no/such.png"),
])
def test_a_refused_row_keeps_what_cannot_be_stored_as_a_marker(rec: object, tmp_path: Path, call: object,
                                                               param: str, kept: object) -> None:
    """Kept as its repr, the row's rerun() (or to_code()) sent "<PIL.Image.Image …>" as a prompt: a paid call the
    refused one never made. A path is kept as its text, which means the same on a rerun."""
    from _session_support import make_session

    s = make_session(tmp_path / "st", rec)  # type: ignore[arg-type]
    with pytest.raises(E.InputError):
        call(s)  # type: ignore[operator]
    row = s.history[-1]
    assert row.status == "error" and row.params[param] == kept
    with pytest.raises(E.InputError):
        row.rerun()
    assert rec.posts() == []  # type: ignore[attr-defined]
    s.close()


def test_a_refused_call_records_the_default_model_it_resolved_to(offline: Session) -> None:
    """`%%th_video --duration 99` used to leave a row with model '' (and a blank row in usage())."""
    from tokenhot_nb import catalog

    default = catalog.default_model("video").id
    with pytest.raises(E.UnsupportedOptionError, match=default):
        offline.video("a wave", duration=99, progress=False)
    row = offline.history[-1]
    assert (row.model, row.endpoint, row.status) == (default, "", "error")
    assert "model" not in row.params  # the arguments stay as given
    with pytest.raises(E.InputError):
        offline.chat("hi", model="claude-opus", temperature=5, stream=False)  # an alias, resolved
    assert offline.history[-1].model == offline.model("claude-opus").id
    assert "" not in [r["model"] for r in offline.history.usage().rows]


def test_a_refusal_before_any_model_is_known_keeps_the_name_as_given(offline: Session) -> None:
    with pytest.raises(E.UnknownModelError):
        offline.image("a cat", model="gpt-imag-2")
    assert offline.history[-1].model == "gpt-imag-2"


def _unmakeable(tmp_path: Path, which: str) -> Path:
    """A store path no one (root included) can make or use."""
    (tmp_path / "a-file").write_text("x")
    return {"proc": Path("/proc/nope"), "proc-deep": Path("/proc/nope/deeper"), "file": tmp_path / "a-file",
            "under-a-file": tmp_path / "a-file" / "store"}[which]


@pytest.mark.parametrize("which", ["proc", "proc-deep", "file", "under-a-file"])
def test_a_store_path_that_cannot_be_a_store_is_refused_when_the_session_is_made(tmp_path: Path, which: str) -> None:
    """``Session(store='/proc/nope')`` was taken, and refused only at the first call (the store opens lazily): it is
    refused by ``Session(…)`` itself, in one line naming the path."""
    bad = _unmakeable(tmp_path, which)
    with pytest.raises(E.StoreError) as info:
        Session(mode="offline", store=bad)
    assert str(bad) in str(info.value) and "\n" not in str(info.value) and "Session(store=" in str(info.value)


def test_a_good_store_path_is_neither_made_nor_opened_by_the_session(tmp_path: Path) -> None:
    """The check opens no database and leaves no folder behind: making a session stays cheap."""
    path = tmp_path / "new" / "store"
    s = Session(mode="offline", store=path)
    assert s._store is None and not (tmp_path / "new").exists()
    assert s.chat("hi", stream=False).text and (path / "history.sqlite").is_file()  # the first call makes it


def test_the_default_session_keeps_its_store_when_a_new_one_is_refused(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import tokenhot_nb
    from tokenhot_nb._session import default

    monkeypatch.setattr(default, "_default", None)  # (the shared session before this test is put back after it)
    before = tokenhot_nb.session(mode="offline", store=tmp_path / "good")
    with pytest.raises(E.StoreError, match="the session keeps its store"):
        tokenhot_nb.session(mode="offline", store="/proc/nope")
    assert tokenhot_nb.session() is before
    before.close()


def _row_bytes(row: object) -> int:
    return len(json.dumps(row.params, ensure_ascii=False).encode()) + len((row.text or "").encode())  # type: ignore[attr-defined]


def test_a_refused_call_with_a_huge_input_keeps_a_small_row_saying_what_it_was(rec: object, tmp_path: Path) -> None:
    """100,000 texts to embed (refused: one request takes 2,048) left a 5.8 MB row at every attempt, and a budget
    refusal of a 2 MB prompt kept it twice (params and text): the store and every export grew by that. The row
    keeps what was refused and why, the big argument as a marker with its size, and a rerun of it sends nothing."""
    from _session_support import make_session

    s = make_session(tmp_path / "st", rec)  # type: ignore[arg-type]
    texts = [f"text number {i} of a long list" for i in range(100_000)]
    with pytest.raises(E.InputError, match="2,048"):
        s.embed(texts, model="jina-embeddings-v4")
    row = s.history[-1]
    assert row.status == "error" and row.error and "2,048" in row.error["message"]
    assert row.params["model"] == "jina-embeddings-v4" and _row_bytes(row) < 2_000
    assert "100,000 items" in row.params["texts"]["not_recorded"]
    with pytest.raises(E.InputError):
        row.rerun()
    assert rec.posts() == []  # type: ignore[attr-defined]

    s.set_budget(0.000001)
    prompt = "Summarise this. " + "x" * 2_000_000
    with pytest.raises(E.BudgetExceededError):
        s.chat(prompt, model="gpt-5", stream=False)
    row = s.history[-1]
    assert row.error and row.error["error"] == "BudgetExceededError" and row.model == "gpt-5"
    assert row.cost.usd == 0 and str(row.cost) == "not charged (simulated)"  # nothing was sent: not "unknown"
    assert _row_bytes(row) < 4_000 and row.text.startswith("Summarise this. xxx")
    assert "2,000,016 characters" in row.params["message"]["not_recorded"]

    with pytest.raises(E.UnknownModelError):  # (its message quotes the name: the row keeps the start of both)
        s.chat("hi", model="m" * 3_000_000, stream=False)
    row = s.history[-1]
    assert row.model == "m" * 1000 and row.error and len(row.error["message"]) < 70_000
    assert len(json.dumps(row.to_dict(), ensure_ascii=False)) < 150_000
    assert rec.posts() == []  # type: ignore[attr-defined]
    s.close()


def test_a_refused_argument_of_ordinary_size_and_a_sent_call_with_a_big_input_are_kept_whole(
        rec: object, tmp_path: Path) -> None:
    """Only a refusal's oversized argument is cut: what a rerun, replay or to_code() needs of a real call stays."""
    from _session_support import make_session

    s = make_session(tmp_path / "st", rec)  # type: ignore[arg-type]
    big = "y" * 200_000
    assert s.chat(big, model="gpt-5", stream=False).entry.params["message"] == big  # sent: whole
    with pytest.raises(E.InputError):
        s.chat("z" * 50_000, model="gpt-5", stream=False, temperature=9)
    assert s.history[-1].params["message"] == "z" * 50_000  # refused, under the bound: whole
    s.close()


def test_a_refused_row_whose_extra_was_too_big_is_not_made_again_with_the_marker(rec: object, tmp_path: Path) -> None:
    """``extra`` is merged into the body: a refused row keeping it as a marker, made again (the budget raised), sent
    ``"not_recorded": …`` as a body field — a paid call the refused one never asked. A rerun refuses, naming the
    argument, and to_code() says it must be put back."""
    from _session_support import make_session

    s = make_session(tmp_path / "st", rec)  # type: ignore[arg-type]
    s.set_budget(0.000001)
    with pytest.raises(E.BudgetExceededError):
        s.chat("hi", model="gpt-5", stream=False, extra={"metadata": {"note": "A" * 200_000}})
    row = s.history[-1]
    assert "not_recorded" in row.params["extra"]
    s.set_budget(None)
    with pytest.raises(E.InputError, match="kept no copy of extra") as info:
        row.rerun()
    assert "\n" not in str(info.value)
    assert rec.posts() == []  # type: ignore[attr-defined]
    assert "# NOT RECORDED: extra" in row.to_code()
    s.close()
