"""Replay lookup on its own: the key a call is recorded under, the nearest recording, and what differs from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb.history import HistoryEntry, Store
from tokenhot_nb.history._replay import _flatten, _show, differences, pick_recording, replay_key, similarity

SHA = "ab" * 32
REF = {"artifact": SHA, "mime": "image/png"}
OTHER_REF = {"artifact": "cd" * 32, "mime": "image/png"}


# -- the key -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,said", [
    (lambda s: s.embed(["fine", "half an emoji \ud83e"], model="jina-embeddings-v4"), "The parameter 'texts[1]'"),
    (lambda s: s.rerank("q\udcff", ["a", "b"], model="jina-reranker-m0"), "The parameter 'query'"),
    (lambda s: s.rerank("q", ["a", "b\ud800"], model="jina-reranker-m0"), "The parameter 'documents[1]'"),
    (lambda s: s.chat("hi", model="gpt-5.4-mini", thread=False, **{"x\ud800": 1}),
     "The name of the parameter 'x\\ud800'"),
    (lambda s: s.chat("hi", model="gpt-5.4-mini", thread="t\ud800"), "The text 't\\ud800' looked up in the history"),
])
def test_a_lone_surrogate_the_session_let_through_is_one_line_before_anything_is_sent(
        tmp_path: Path, call: Callable[[Any], Any], said: str) -> None:
    """Texts the session's input checks do not look at (embed texts, rerank query and documents, option names, a
    thread's name) reached the store, whose UTF-8 encoding raised a bare UnicodeEncodeError. The store writes every
    call before it is sent, so its replay key is where such a text is said, in the session's own words."""
    from _session_support import Recorder, make_session

    from tokenhot_nb.errors import InputError

    rec = Recorder()
    with make_session(tmp_path / "st", rec) as s:
        with pytest.raises(InputError) as info:
            call(s)
        assert str(info.value).startswith(said) and "lone surrogate" in str(info.value), str(info.value)
        assert "\n" not in str(info.value) and "encode('utf-8', 'replace')" in (info.value.hint or "")
        assert rec.posts() == []
        assert s.chat("still fine", model="gpt-5.4-mini", thread=False).text


def test_replay_key_is_the_sha256_of_the_canonical_call() -> None:
    import hashlib

    key = replay_key("image", "gpt-image-2", "images.generations", {"b": 1, "a": "x"})
    expected = hashlib.sha256(
        b'["image","gpt-image-2","images.generations",{"a":"x","b":1}]'
    ).hexdigest()
    assert key == expected
    assert key == replay_key("image", "gpt-image-2", "images.generations", {"a": "x", "b": 1})  # order-free


def test_replay_key_fills_missing_parts_the_same_way() -> None:
    import hashlib

    # the key is stored with every recording: it must never change, or old recordings stop replaying
    assert replay_key("", "", None, None) == hashlib.sha256(b'["","","",{}]').hexdigest()
    assert replay_key("", "", None, None) == replay_key("", "", "", {})
    assert replay_key("chat", "m", None, {}) != replay_key("chat", "m", "chat.completions", {})
    assert replay_key("chat", "m", None, {}) != replay_key("image", "m", None, {})
    assert replay_key("chat", "m", None, {}) != replay_key("chat", "n", None, {})
    assert replay_key("chat", "m", None, {"x": 1}) != replay_key("chat", "m", None, {"x": 2})


def test_replay_key_is_computed_on_redacted_params() -> None:
    secret = "plain-secret-value-1"
    with_secret = replay_key("chat", "m", None, {"note": f"use {secret}"}, (secret,))
    assert with_secret == replay_key("chat", "m", None, {"note": "use sk-****"})
    assert with_secret != replay_key("chat", "m", None, {"note": f"use {secret}"})


# -- flattening and showing ----------------------------------------------------------------------------------
def test_flatten_two_levels_deep_and_stops_at_artifacts() -> None:
    params = {"size": "1K", "extra": {"style": "ink", "deep": {"a": 1, "b": {"c": 2}}}, "image": REF, "empty": {}}
    assert _flatten(params) == {
        "size": "1K",
        "extra.style": "ink",
        "extra.deep": {"a": 1, "b": {"c": 2}},  # deeper than two levels: compared whole
        "image": REF,  # an artifact reference is one value
        "empty": {},
    }
    assert _flatten({}) == {"": {}}
    assert _flatten(5) == {"": 5}


def test_show_values_short_and_artifacts_by_hash() -> None:
    assert _show("abc") == "'abc'"
    assert _show(REF) == "<artifact abababababab…>"
    long = "x" * 100
    assert _show(long) == repr(long)[:59] + "…" and len(_show(long)) == 60
    assert _show("y" * 58) == repr("y" * 58)  # exactly 60 characters: kept whole
    assert _show("y" * 59, limit=10) == "'yyyyyyyy…"


# -- similarity: which recording is the nearest ----------------------------------------------------------------
def test_similarity_weights() -> None:
    p = {"size": "1K", "n": 1}
    assert similarity("m", "e", p, "m", "e", p) == 7.0
    assert similarity("m", "e", p, "other", "e", p) == 5.0  # model counts 2
    assert similarity("m", "e", p, "m", "other", p) == 6.0  # endpoint counts 1
    assert similarity("m", None, p, "m", "other", p) == 7.0  # no endpoint asked: any matches
    assert similarity("m", "e", p, "m", "e", {"size": "2K", "n": 1}) == 5.0  # half the fields: 4 x 1/2
    assert similarity("m", "e", p, "m", "e", {"size": "1K"}) == 5.0  # a field only one side has differs
    assert similarity("m", "e", {}, "m", "e", {}) == 7.0
    assert similarity("m", "e", {"a": REF}, "m", "e", {"a": OTHER_REF}) == 3.0
    assert similarity("m", "e", {"x": {"y": 1}}, "m", "e", {"x": {"y": 1}}) == 7.0
    assert similarity("m", "e", {"x": {"y": 1}}, "m", "e", {"x": {"y": 2}}) == 3.0


def test_same_model_beats_same_params() -> None:
    asked = ("gpt-image-2", "images.generations", {"prompt": "fox", "size": "1K", "n": 1})
    same_model = similarity(*asked, "gpt-image-2", "images.generations", {"prompt": "cat", "size": "2K", "n": 1})
    same_params = similarity(*asked, "dall-e-3", "images.generations", {"prompt": "fox", "size": "1K", "n": 1})
    assert same_model < same_params  # 3 + 4/3 < 1 + 4: one changed model is one difference; two params are two
    one_param = similarity(*asked, "gpt-image-2", "images.generations", {"prompt": "fox", "size": "2K", "n": 1})
    assert one_param > same_params


# -- differences: what the user is told --------------------------------------------------------------------------
def test_differences_name_each_changed_field() -> None:
    lines = differences(
        "gpt-image-2", "images.edits",
        {"size": "512x512", "extra": {"style": "ink"}, "n": 2, "image": REF},
        "gpt-image-2", "images.generations",
        {"size": "1024x1024", "extra": {"style": "oil"}, "quality": "high", "image": OTHER_REF},
    )
    assert lines == [
        "endpoint: recorded 'images.generations', asked 'images.edits'",
        "extra.style: recorded 'oil', asked 'ink'",
        "image: recorded <artifact cdcdcdcdcdcd…>, asked <artifact abababababab…>",
        "n: not recorded, asked 2",
        "quality: recorded 'high', not asked",
        "size: recorded '1024x1024', asked '512x512'",
    ]


def test_differences_when_model_and_params_both_differ() -> None:
    lines = differences("dall-e-3", None, {"model": "dall-e-3", "size": "1K"},
                        "gpt-image-2", "images.generations", {"model": "gpt-image-2", "size": "2K"})
    assert lines == [
        "model: recorded 'gpt-image-2', asked 'dall-e-3'",  # once, not again as a param
        "size: recorded '2K', asked '1K'",
    ]


def test_a_model_param_that_differs_alone_is_named() -> None:
    lines = differences("m", "e", {"model": "variant-a"}, "m", "e", {"model": "variant-b"})
    assert lines == ["model: recorded 'variant-b', asked 'variant-a'"]


def test_nested_differences_below_two_levels_show_the_whole_value() -> None:
    lines = differences("m", "e", {"a": {"b": {"c": 1}}}, "m", "e", {"a": {"b": {"c": 2}}})
    assert lines == ["a.b: recorded {'c': 2}, asked {'c': 1}"]


def test_no_differences_for_the_same_call() -> None:
    p: dict[str, Any] = {"size": "1K", "extra": {"style": "ink"}, "image": REF}
    assert differences("m", "e", p, "m", "e", dict(p)) == []
    assert differences("m", None, p, "m", "e", p) == []  # no endpoint asked: not a difference


# -- the store names the nearest recording ------------------------------------------------------------------------
def _record(store: Store, model: str, endpoint: str, params: dict[str, Any], status: str = "ok") -> int:
    entry = HistoryEntry(kind="image", model=model, endpoint=endpoint, params=params, status=status)
    return store.insert(entry)


def test_store_names_the_nearest_recording_and_its_differences(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        far = _record(store, "dall-e-3", "images.generations", {"prompt": "cat", "size": "1K"})
        near = _record(store, "gpt-image-2", "images.generations", {"prompt": "fox", "size": "1K"})
        _record(store, "gpt-image-2", "images.generations", {"prompt": "owl", "size": "3K"})
        nearest, lines = store.nearest("image", "gpt-image-2", {"prompt": "fox", "size": "2K"},
                                       "images.generations")
        assert nearest is not None and nearest.id == near != far
        assert lines == ["size: recorded '1K', asked '2K'"]
        none, nothing = store.nearest("chat", "gpt-5.2", {"prompt": "fox"})
        assert none is None and nothing == []
    finally:
        store.close()


def test_store_prefers_a_successful_recording(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        ok = _record(store, "gpt-image-2", "images.generations", {"prompt": "fox", "size": "2K"})
        _record(store, "gpt-image-2", "images.generations", {"prompt": "fox", "size": "1K"}, status="error")
        nearest, _ = store.nearest("image", "gpt-image-2", {"prompt": "fox", "size": "1K"})
        assert nearest is not None and nearest.id == ok
    finally:
        store.close()


def test_store_breaks_ties_towards_the_newest(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        a = _record(store, "gpt-image-2", "images.generations", {"prompt": "fox", "size": "1K"})
        b = _record(store, "gpt-image-2", "images.generations", {"prompt": "fox", "size": "3K"})
        nearest, _ = store.nearest("image", "gpt-image-2", {"prompt": "fox", "size": "2K"})
        assert nearest is not None and nearest.id == max(a, b)
    finally:
        store.close()


# -- which recording answers which call ---------------------------------------------------------------------------
def test_pick_recording_replays_the_newest_session_in_order() -> None:
    candidates = [(1, "old"), (2, "old"), (5, "new"), (7, "new"), (9, "new")]
    assert [pick_recording(candidates, turn) for turn in range(5)] == [5, 7, 9, 9, 9]  # extra turns: its last
    assert pick_recording([(3, "s")], 0) == 3 and pick_recording([(3, "s")], 4) == 3
    assert pick_recording([(1, "a"), (2, "b"), (3, "a")], 0) == 1  # the session of the newest recording
    assert pick_recording([(1, ""), (2, "")], 1) == 2
    assert pick_recording([], 0) is None


def test_flatten_keeps_key_names_whole() -> None:
    assert _flatten({"styleX": {}, "deep": {"refX": REF}}) == {"styleX": {}, "deep.refX": REF}


def test_a_call_refused_before_sending_is_never_the_nearest(tmp_path: Path) -> None:
    """A refused row (no endpoint: never sent, nothing paid) has no answer to compare with; the nearest is a call
    that was sent, even a failed one, or none at all."""
    store = Store(tmp_path)
    try:
        refused = _record(store, "gpt-image-2", "", {"prompt": "fox", "size": "2K"}, status="error")
        none, nothing = store.nearest("image", "gpt-image-2", {"prompt": "fox", "size": "2K"}, "images.generations")
        assert none is None and nothing == []
        sent = _record(store, "gpt-image-2", "images.generations", {"prompt": "owl", "size": "1K"}, status="error")
        nearest, _ = store.nearest("image", "gpt-image-2", {"prompt": "fox", "size": "2K"}, "images.generations")
        assert nearest is not None and nearest.id == sent != refused
    finally:
        store.close()


def test_a_call_the_budget_refused_is_refused_again_in_replay_not_a_miss(tmp_path: Path) -> None:
    """A refusal row is never offered as the nearest recording. Its replay was a ReplayMissError ("no recorded image
    call at all"), so a notebook stopped by its budget stopped at the same cell with another error; a replay's
    budget counts what the calls it replays cost when recorded, and refuses the same call with the same message,
    with no network (changed: the miss was what this test pinned)."""
    import pytest
    from _session_support import Recorder, make_session

    from tokenhot_nb.errors import BudgetExceededError

    with make_session(tmp_path / "store", Recorder()) as rec:
        rec.set_budget(0.0001)
        with pytest.raises(BudgetExceededError) as recorded:
            rec.image("a red fox", model="gpt-image-2", size="1536x1024")
        refused = rec.history[-1]
        assert refused.endpoint == "" and refused.model == "gpt-image-2"
    transport = Recorder()
    with make_session(tmp_path / "store", transport, mode="replay") as replay:
        with pytest.raises(BudgetExceededError) as info:
            replay.image("a red fox", model="gpt-image-2", size="1536x1024")
        assert str(info.value) == str(recorded.value) and transport.requests == []
        assert f"history #{refused.id}" not in str(info.value)
        assert replay.budget.spent_usd == 0


def test_a_recording_under_another_spelling_of_the_model_is_the_same_model() -> None:
    """An older store recorded ``doubao-seedance-1.5``; the catalogue now says ``doubao-seedance-1-5``: the nearest
    recording is that one, and the miss does not name the spelling as a difference."""
    asked = {"model": "doubao-seedance-1-5", "prompt": "a cat"}
    recorded = {"model": "doubao-seedance-1.5", "prompt": "a cat"}
    assert similarity("doubao-seedance-1-5", None, asked, "doubao-seedance-1.5", "video", recorded) == 7.0
    assert differences("doubao-seedance-1-5", None, asked, "doubao-seedance-1.5", "video", recorded) == []
    other = differences("doubao-seedance-2-0", None, {**asked, "model": "doubao-seedance-2-0"}, "doubao-seedance-1.5",
                        "video", recorded)
    assert other == ["model: recorded 'doubao-seedance-1.5', asked 'doubao-seedance-2-0'"]


def test_a_replay_counts_the_recorded_costs_and_refuses_where_the_recording_was_refused(tmp_path: Path) -> None:
    """A replay session's budget showed $0 spent, and a call the budget refused when recorded was a replay miss.
    It counts the recorded costs of the calls it replays, and the refusal recurs at the same call, word for word
    (the recorded one: the row after the last replayed call), with the history view where it was. Another
    notebook spent part of the period here, so the replay's own count would have let the call through."""
    import pytest
    from _session_support import Recorder, make_session

    from tokenhot_nb.errors import BudgetExceededError

    with make_session(tmp_path / "store", Recorder()) as other:
        price = other.estimate("image", "a pear", model="gpt-image-1.5").usd
        assert price
        other.set_budget(price * 2.5, new_period=True)
        other.image("a fig", model="gpt-image-1.5")
    with make_session(tmp_path / "store", Recorder()) as rec:
        first = rec.image("a pear", model="gpt-image-1.5")
        with pytest.raises(BudgetExceededError) as recorded:
            rec.image("a plum", model="gpt-image-1.5")
    transport = Recorder()
    with make_session(tmp_path / "store", transport, mode="replay") as replay:
        assert replay.budget.spent_usd == 0
        assert replay.image("a pear", model="gpt-image-1.5").sha256 == first.sha256
        assert replay.budget.spent_usd == pytest.approx(first.entry.cost.usd)
        with pytest.raises(BudgetExceededError) as info:
            replay.image("a plum", model="gpt-image-1.5")
        assert str(info.value) == str(recorded.value) and info.value.hint == recorded.value.hint
        assert replay.history[-1].status == "error" and replay.history[-1].endpoint == ""
        assert transport.requests == []


def test_a_notebook_with_a_budget_shows_the_same_budget_when_replayed(tmp_path: Path) -> None:
    """The tutorial's pattern: set a budget (a new period), spend part of it, be refused, show the budget, remove
    it and show the store's spending. Replayed, the budget said $0 spent (the replay's new period held no rows)
    and the refusal was a miss; every line is now what the recording showed. With no budget, a replay shows what
    the store recorded, as any session does."""
    import pytest
    from _session_support import Recorder, make_session

    from tokenhot_nb.errors import BudgetExceededError

    def cells(s: Any) -> list[str]:
        price = s.estimate("image", "a pear", model="gpt-image-1.5").usd
        out = [str(s.image("a fig", model="gpt-image-1.5").sha256)]  # (before the budget: not in its period)
        s.set_budget(price * 1.5, new_period=True)
        out += [str(s.image("a pear", model="gpt-image-1.5").sha256)]
        with pytest.raises(BudgetExceededError) as refused:
            s.image("a plum", model="gpt-image-1.5")
        out += [str(refused.value), str(s.budget).split(":", 1)[1]]
        s.set_budget(None)
        return [*out, str(s.budget)]

    with make_session(tmp_path / "store", Recorder()) as rec:
        recorded = cells(rec)
    transport = Recorder()
    with make_session(tmp_path / "store", transport, mode="replay") as replay:
        assert cells(replay) == recorded and transport.requests == []
