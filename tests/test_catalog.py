"""The catalogue: every model of the Tokenhot docs menu resolves, with the right kind and family."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb import catalog
from tokenhot_nb._catalog_data import FAMILIES, MODELS
from tokenhot_nb.catalog import UnknownFamilyError
from tokenhot_nb.errors import InputError, UnknownModelError

# The Tokenhot docs menu the project started from (copied from shared/seed so the test needs nothing outside)
SEED = Path(__file__).parent / "fixtures" / "seed" / "tokenhot-docs-seed.txt"

# Menu entries of the seed list (section → kind), as they appear there.
MENU: dict[str, list[str]] = {
    "image": [
        "doubao-seedream-4-0-250828(图片编辑)", "doubao-seedream-4-5-251128(图片编辑)",
        "doubao-seedream-5-0-260128(图片编辑)", "doubao-seedream-4-0-250828", "doubao-seedream-4-5-251128",
        "doubao-seedream-5-0-260128", "GPT Image-1.5", "GPT Image-1.5(图片编辑)", "GPT Image-2",
        "GPT Image-2(图片编辑)", "gemini-2.5-flash-image(图片编辑)", "gemini-3-pro-image-preview(图片编辑)",
        "gemini-3.1-flash-image-preview(图片编辑)", "gemini-2.5-flash-image", "gemini-3-pro-image-preview",
        "gemini-3.1-flash-image-preview", "qwen-image-edit-max-2026-01-16", "qwen-image-max",
        "qwen-image-plus-2026-01-09", "dall-e-2", "dall-e-3", "wan2.6-image", "wan2.6-image(图片编辑)", "wan2.6-t2i",
    ],
    "video": [
        "doubao-seedance-1-5-pro-251215", "doubao-seedance-2.0", "doubao-seedance-2.0-V2V",
        "doubao-seedance-2.0-fast", "doubao-seedance-2.0-fast-V2V", "MiniMax-Hailuo-02", "MiniMax-Hailuo-2.3",
        "MiniMax-Hailuo-2.3-Fast", "happyhorse-1.0-i2v", "happyhorse-1.0-r2v", "happyhorse-1.0-t2v",
        "happyhorse-1.0-video-edit",
    ],
    "audio": ["gemini-2.5-flash-preview-tts", "gemini-2.5-pro-preview-tts", "whisper-1(音频翻译)", "whisper-1(音频转中文)"],
    "chat": [
        "claude-opus-4-6", "claude-opus-4-6-cc", "claude-sonnet-4-5-20250929", "GPT 5", "GPT 5(Responses)", "GPT 5.2",
        "GPT 5.2(Responses)", "GPT 5.4", "GPT 5.4(Responses)", "gemini-2.5-flash", "gemini-2.5-pro",
        "gemini-3-flash-preview", "gemini-3.1-pro", "gemini-3.1-pro-preview", "gemini-3.1-pro-preview(流式)",
        "grok-4.1",
    ],
}  # fmt: skip

DISPLAY_TO_ID = {
    "GPT Image-2": "gpt-image-2",
    "GPT Image-2(图片编辑)": "gpt-image-2",
    "GPT Image-1.5": "gpt-image-1.5",
    "GPT 5.2": "gpt-5.2",
    "GPT 5": "gpt-5",
    "GPT 5.4(Responses)": "gpt-5.4",
    "gemini-3.1-pro-preview(流式)": "gemini-3.1-pro-preview",
    "whisper-1(音频翻译)": "whisper-1",
    "doubao-seedream-4-0-250828(图片编辑)": "doubao-seedream-4-0-250828",
}


def test_menu_in_this_file_matches_the_seed_list() -> None:
    """Guard against the seed list growing: every leaf under the model sections is in MENU."""
    if not SEED.exists():
        pytest.fail(f"seed list missing at {SEED}")
    text = SEED.read_text(encoding="utf-8")
    section = text.split("• Image Models", 1)[1].split("• 服务", 1)[0]
    leaves = [m.group(1).strip() for m in re.finditer(r"^\s{6}• (.+)$", section, re.M)]
    polls = [x for x in leaves if "获取视频" in x]
    listed = {x for names in MENU.values() for x in names}
    assert set(leaves) - set(polls) == listed
    assert len(polls) == 7


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k, names in MENU.items() for n in names])
def test_every_menu_entry_resolves_with_its_kind(kind: str, name: str) -> None:
    info = catalog.model(name)
    assert info.kind == kind
    assert info.listed
    plain = catalog.model(info.id)  # by id too: the same model, without what the menu suffix selects
    assert plain == info and plain.preset == {}
    assert catalog.model(name, kind=kind).preset == info.preset
    if "(" not in name:
        assert info is plain


@pytest.mark.parametrize(("name", "preset"), [
    ("GPT 5(Responses)", {"endpoint": "responses"}), ("GPT 5.2(Responses)", {"endpoint": "responses"}),
    ("GPT 5.4(Responses)", {"endpoint": "responses"}), ("GPT 5.4", {}),
    ("whisper-1(音频转中文)", {"language": "zh"}), ("whisper-1(音频翻译)", {"task": "translate"}),
    ("gemini-3.1-pro-preview(流式)", {"endpoint": "gemini.stream"}), ("gpt-image-2", {}),
])
def test_a_menu_suffix_selects_options_from_the_family_data(name: str, preset: dict) -> None:
    assert catalog.model(name).preset == preset


@pytest.mark.parametrize(("display", "mid"), list(DISPLAY_TO_ID.items()))
def test_display_names_map_to_ids(display: str, mid: str) -> None:
    assert catalog.model(display).id == mid


def test_lookup_is_case_and_space_tolerant() -> None:
    assert catalog.model("gpt image-2").id == "gpt-image-2"
    assert catalog.model("  MINIMAX-HAILUO-2.3 ").id == "MiniMax-Hailuo-2.3"
    assert catalog.model("gpt_5.2").id == "gpt-5.2"


@pytest.mark.parametrize(
    ("alias", "mid"),
    [("seedream-4.5", "doubao-seedream-4-5-251128"), ("hailuo-2.3", "MiniMax-Hailuo-2.3"),
     ("claude-opus", "claude-opus-4-6"), ("seedance-2.0-fast", "doubao-seedance-2.0-fast"),
     ("nano-banana", "gemini-2.5-flash-image"), ("whisper", "whisper-1"), ("gemini-tts", "gemini-2.5-flash-preview-tts")],
)
def test_aliases(alias: str, mid: str) -> None:
    assert catalog.model(alias).id == mid


def test_families_and_endpoints() -> None:
    fam = {m.id: m.family for m in catalog.models()}
    assert fam["gpt-image-2"] == "openai-image"
    assert fam["wan2.6-image"] == "wan-image"
    assert fam["qwen-image-edit-max-2026-01-16"] == "qwen-image"
    assert fam["gemini-3-pro-image-preview"] == "gemini-image"
    assert fam["doubao-seedance-2.0-V2V"] == "seedance"
    assert fam["MiniMax-Hailuo-02"] == "hailuo"
    assert fam["happyhorse-1.0-video-edit"] == "happyhorse"
    assert fam["whisper-1"] == "whisper"
    assert catalog.model("gpt-5.2").endpoints == ("chat.completions", "responses")
    assert catalog.model("claude-opus-4-6-cc").endpoints[0] == "messages"
    assert catalog.model("claude-opus-4-6").endpoints[0] == "chat.completions"
    assert catalog.model("gemini-3.1-pro-preview").endpoints[0] == "gemini.generate"
    assert catalog.model("gemini-2.5-flash-preview-tts").endpoints == ("gemini.generate", "audio.speech")
    assert catalog.model("whisper-1").endpoints == ("audio.transcriptions", "audio.translations")


def test_every_model_names_a_known_family_with_consistent_kind() -> None:
    for entry in MODELS:
        assert entry["family"] in FAMILIES, entry["id"]
    for name, spec in FAMILIES.items():
        assert spec["kind"] in catalog.KINDS, name
        assert spec["endpoints"], name


def test_edit_pages_mean_edit_capability() -> None:
    for name in MENU["image"]:
        if "图片编辑" in name:
            assert catalog.model(name).can("edit"), name
    assert not catalog.model("dall-e-3").can("edit")
    assert catalog.model("dall-e-2").can("mask")
    assert not catalog.model("doubao-seedream-4-5-251128").can("mask")
    assert catalog.model("qwen-image-edit-max-2026-01-16").can("edit_only")


def test_capability_data_from_the_reference() -> None:
    tts = catalog.model("gemini-2.5-flash-preview-tts")
    voices = tts.choices("voices")
    assert len(voices) == 30 and len(set(voices)) == 30
    assert {"Kore", "Puck", "Charon", "Fenrir", "Aoede", "Leda", "Orus", "Zephyr"} <= set(voices)
    assert tts.defaults["voice"] == "Kore"
    assert catalog.model("MiniMax-Hailuo-2.3").choices("resolutions") == ["768P", "1080P"]
    assert catalog.model("MiniMax-Hailuo-02").choices("resolutions") == ["512P", "768P", "1080P"]
    assert catalog.model("doubao-seedance-2.0").choices("resolutions") == ["480p", "720p", "1080p", "4k"]
    assert catalog.model("doubao-seedance-2.0-fast").choices("resolutions") == ["480p", "720p"]
    assert catalog.model("happyhorse-1.0-t2v").choices("durations") == list(range(3, 16))
    assert catalog.model("happyhorse-1.0-i2v").choices("ratios") == []
    assert catalog.model("doubao-seedream-4-5-251128").defaults["size"] == "2K"
    assert catalog.model("dall-e-3").capabilities["max_n"] == 1
    assert "verbose_json" in catalog.model("whisper-1").choices("formats")
    assert "zh" in catalog.model("whisper-1").choices("languages")


@pytest.mark.parametrize(
    ("typo", "expected"),
    [("gpt-image2", "gpt-image-2"), ("seedanse-2.0", "doubao-seedance-2.0"), ("claude-opus-4.5", "claude-opus-4-6"),
     ("gemini-2.5-flash-tts", "gemini-2.5-flash-preview-tts"), ("hailuo-23", "MiniMax-Hailuo-2.3"),
     ("wan2.6", "wan2.6-image"), ("whisper-2", "whisper-1")],
)
def test_unknown_names_suggest_the_closest(typo: str, expected: str) -> None:
    if typo == "wan2.6":  # an alias, resolves directly
        assert catalog.model(typo).id == expected
        return
    with pytest.raises(UnknownModelError) as exc:
        catalog.model(typo)
    assert exc.value.suggestions[0] == expected, exc.value.suggestions
    assert repr(expected) in str(exc.value)
    assert "family=" in str(exc.value)


def test_suggest_filters_by_kind_and_falls_back_to_substrings() -> None:
    assert all(catalog.model(s).kind == "video" for s in catalog.suggest("seedance", kind="video"))
    assert set(catalog.suggest("seedream")) <= {m.id for m in catalog.models(family="seedream")}
    assert catalog.suggest("seedream")
    with pytest.raises(UnknownModelError):
        catalog.model("gpt-image-2", kind="video")


def test_family_builds_unlisted_models() -> None:
    m = catalog.model("gpt-6-preview", family="openai-responses")
    assert not m.listed and m.kind == "chat" and m.id == "gpt-6-preview"
    assert m.endpoints == ("chat.completions", "responses")
    t = catalog.model("tts-1", family="openai-tts")
    assert t.kind == "audio" and "alloy" in t.choices("voices")
    with pytest.raises(UnknownFamilyError) as exc:
        catalog.model("x", family="seedanse")
    assert "seedance" in exc.value.suggestions
    # a listed name wins over family=
    assert catalog.model("gpt-5.2", family="openai-chat").listed


def test_aliases_never_collide() -> None:
    owners: dict[str, set[str]] = {}
    for m in catalog.models():
        for name in (m.id, *m.display_names, *m.aliases):
            owners.setdefault(catalog._norm(name), set()).add(m.id)
    clashes = {k: v for k, v in owners.items() if len(v) > 1}
    assert not clashes
    ids = Counter(m["id"] for m in MODELS)
    assert max(ids.values()) == 1


def test_exactly_one_default_per_kind() -> None:
    for kind in catalog.KINDS:
        flagged = [m.id for m in catalog.models(kind) if m.defaults.get("default_for_kind")]
        assert len(flagged) == 1, (kind, flagged)
        assert catalog.default_model(kind).id == flagged[0]
    assert catalog.default_model("image").id == "doubao-seedream-4-5-251128"
    assert catalog.default_model("chat").id == "gpt-5.2"
    assert catalog.default_model("audio").id == "gemini-2.5-flash-preview-tts"
    assert catalog.default_model("video").id == "doubao-seedance-2.0-fast"


def test_families_index_and_as_dict() -> None:
    fams = catalog.families()
    assert fams["seedance"] == "video" and fams["whisper"] == "audio" and fams["gemini-image"] == "image"
    d = catalog.model("GPT Image-2").as_dict()
    assert d["id"] == "gpt-image-2" and d["kind"] == "image" and "GPT Image-2" in d["aliases"]
    assert "gpt-image-2" in catalog.model("gpt-image-2")._repr_html_()


# -- models the catalogue does not list: built from their family's data ----------------------------------------
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_an_unlisted_model_takes_its_familys_defaults(family: str) -> None:
    spec = FAMILIES[family]
    m = catalog.model("  brand-new-model-x1  ", family=family)
    assert (m.id, m.family, m.kind, m.listed) == ("brand-new-model-x1", family, spec["kind"], False)
    assert m.endpoints == tuple(spec["endpoints"])
    assert m.defaults == spec.get("defaults", {})
    assert m.capabilities == spec.get("capabilities", {})
    assert m.vendor == spec.get("vendor", "")
    assert m.ref == {"id": "brand-new-model-x1", "family": family}
    assert not m.defaults.get("default_for_kind")


def test_an_unlisted_models_options_are_its_own_copy() -> None:
    m = catalog.model("brand-new-seedream", family="seedream")
    m.defaults["size"] = "changed"
    m.capabilities["seed"] = "changed"
    again = catalog.model("brand-new-seedream", family="seedream")
    assert again.defaults["size"] == FAMILIES["seedream"]["defaults"]["size"] != "changed"
    assert again.capabilities["seed"] != "changed"


def test_the_recorded_form_of_an_unlisted_model_resolves_back() -> None:
    m = catalog.model({"id": "brand-new-tts", "family": "openai-tts"})
    assert (m.id, m.family, m.kind, m.listed) == ("brand-new-tts", "openai-tts", "audio", False)
    assert catalog.model(m.ref).defaults == m.defaults
    assert catalog.model({"id": "gpt-image-2"}).listed  # a listed id needs no family
    with pytest.raises(UnknownModelError):
        catalog.model({"id": "brand-new-tts"})  # unlisted, and no family given


@pytest.mark.parametrize("name", [5, None, ["gpt-5.2"], b"gpt-5.2", " ", {"name": "gpt-5.2"}, {"id": 5}])
def test_a_model_named_by_no_str_is_one_input_error(name: Any) -> None:
    """Not an AttributeError ('int' has no 'strip') or a KeyError ('id') from inside the lookup."""
    with pytest.raises(InputError) as info:
        catalog.model(name)
    assert "\n" not in str(info.value) and "model" in str(info.value).lower()


def test_a_kind_or_family_that_does_not_exist_is_refused_not_an_empty_list() -> None:
    """``tokenhot_nb.models("imgae")`` was [] (as if there were no image model); ``model(x, kind="chatz")`` said
    "Unknown chatz model" of a listed chat model."""
    with pytest.raises(InputError, match=r"There is no model kind 'imgae'\. Did you mean 'image'\?"):
        catalog.models("imgae")
    with pytest.raises(InputError, match="There is no model kind 5"):
        catalog.models(5)  # type: ignore[arg-type]
    with pytest.raises(UnknownFamilyError):
        catalog.models(family="openai-chatt")
    with pytest.raises(InputError, match="There is no model kind 'chatz'"):
        catalog.model("gpt-5.2", kind="chatz")
    assert catalog.models("image") and catalog.models(family="claude")


def test_a_listed_model_of_another_kind_is_not_returned() -> None:
    with pytest.raises(UnknownModelError) as info:
        catalog.model("gpt-image-2", kind="chat")
    assert all(catalog.model(s).kind == "chat" for s in info.value.suggestions)
    built = catalog.model("gpt-image-2", kind="chat", family="openai-chat")
    assert not built.listed and built.kind == "chat"


def test_an_unknown_family_suggests_close_family_names() -> None:
    with pytest.raises(UnknownFamilyError) as info:
        catalog.model("x", family="open-tts")
    assert "openai-tts" in info.value.suggestions and len(info.value.suggestions) <= 3
    with pytest.raises(UnknownFamilyError) as far:
        catalog.model("x", family="zzzzzzzz")
    assert far.value.suggestions == []
    assert str(far.value).startswith("There is no model family 'zzzzzzzz'. ")


def test_a_family_typo_is_never_an_unknown_model_with_families_as_model_suggestions() -> None:
    """It read "Unknown model 'x'. Did you mean 'seedance', 'seedream'…?": family names offered as models."""
    with pytest.raises(InputError) as info:
        catalog.model("brand-new-video", family="seedanse")
    err = info.value
    assert not isinstance(err, UnknownModelError) and "Unknown model" not in str(err)
    assert err.message == "There is no model family 'seedanse'. Did you mean 'seedance', 'seedream' or " \
                          "'openai-responses'?"
    assert set(err.suggestions) <= set(FAMILIES) and not set(err.suggestions) & {m["id"] for m in MODELS}
    assert "catalog.families()" in err.hint


def test_a_family_typo_is_said_even_for_a_listed_name_and_a_recorded_gone_family_is_not() -> None:
    with pytest.raises(UnknownFamilyError, match=r"no model family 'openai-chatt'\. Did you mean 'openai-chat'"):
        catalog.model("gpt-5.2", family="openai-chatt")  # was ignored: the listed name won
    with pytest.raises(UnknownFamilyError):
        catalog.model("gpt-5.2", family=["openai-chat"])  # type: ignore[arg-type]
    # a history row's recorded family that no longer exists: its id is still listed, so it still resolves
    assert catalog.model({"id": "gpt-5.2", "family": "renamed-since"}).id == "gpt-5.2"
    with pytest.raises(UnknownFamilyError):  # not listed: nothing to build it from
        catalog.model({"id": "brand-new-x", "family": "renamed-since"})


# -- suggest's fallbacks ------------------------------------------------------------------------------------
def test_suggest_falls_back_to_substrings_when_nothing_is_close() -> None:
    hits = catalog.suggest("dream")  # too short to be "close" to any id, but part of several
    assert hits and all("dream" in h for h in hits)
    assert len(hits) == 3
    assert catalog.suggest("dream", n=1) == hits[:1]
    assert catalog.suggest("dream", kind="video") == []  # the kind filter applies to the fallback too


def test_suggest_finds_nothing_for_nonsense_and_returns_each_id_once() -> None:
    assert catalog.suggest("qqqqqqqqq") == []
    hits = catalog.suggest("gpt image 2")  # matches the id and its display name
    assert hits[0] == "gpt-image-2" and len(hits) == len(set(hits))
    assert catalog.suggest("gpt-image-2", n=5)[:1] == ["gpt-image-2"]
    assert len(catalog.suggest("gpt", n=5)) <= 5


def test_suggest_respects_the_kind() -> None:
    for kind in catalog.KINDS:
        assert all(catalog.model(h).kind == kind for h in catalog.suggest("gemini", kind=kind))
    assert catalog.suggest("gemini-2.5-flash-preview-tts", kind="audio")[0] == "gemini-2.5-flash-preview-tts"


# -- default_model's fallback -----------------------------------------------------------------------------------
def _clear_catalogue_caches() -> None:
    for name in ("_tables", "builtin"):
        cached = getattr(catalog, name, None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()


def test_default_model_falls_back_to_the_first_of_its_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenhot_nb import _catalog_data

    flagged = {kind: catalog.default_model(kind).id for kind in catalog.KINDS}
    firsts = {kind: catalog.models(kind)[0].id for kind in catalog.KINDS}
    assert flagged != firsts  # else this test could not tell the fallback from the flag
    unflagged = []
    for entry in MODELS:
        copy = dict(entry)
        copy["defaults"] = {k: v for k, v in entry.get("defaults", {}).items() if k != "default_for_kind"}
        unflagged.append(copy)
    monkeypatch.setattr(_catalog_data, "MODELS", unflagged)
    _clear_catalogue_caches()
    try:
        assert {kind: catalog.default_model(kind).id for kind in catalog.KINDS} == firsts
    finally:
        monkeypatch.undo()
        _clear_catalogue_caches()
    assert {kind: catalog.default_model(kind).id for kind in catalog.KINDS} == flagged


def test_model_info_accessors() -> None:
    m = catalog.model("GPT Image-2")
    assert m.name == "GPT Image-2" and m.ref == "gpt-image-2"
    assert m.can("edit") and not m.can("no-such-capability")
    assert m.choices("no-such-option") == []
    bare = catalog.model("bare-id", family="openai-chat")
    assert bare.name == "bare-id"
    html = catalog.model("gpt-image-2")._repr_html_()
    assert "<b>gpt-image-2</b>" in html and "family <code>openai-image</code>" in html


@pytest.mark.parametrize(
    ("name", "key"),
    [("GPT Image-2", "gpt-image-2"), ("gpt_image  2", "gpt-image-2"), ("Seedream(图片编辑)", "seedream"),
     ("x（流式）", "x"), ("  -a b-  ", "a-b"), ("A (one) B (two)", "a-b")],
)
def test_name_folding(name: str, key: str) -> None:
    assert catalog._norm(name) == key


# -- a tiny catalogue of our own, so the lookups are tested apart from the real menu's data --------------------
@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> Any:
    from tokenhot_nb import _catalog_data

    families = {
        "bare": {"kind": "chat", "endpoints": ["chat.completions"]},  # no vendor, defaults or capabilities
        "full": {"kind": "image", "endpoints": ["images.generations", "images.edits"], "vendor": "Acme",
                 "defaults": {"size": "1K"}, "capabilities": {"edit": True, "sizes": ["1K", "2K"], "mask": False}},
    }
    models_ = [
        {"id": "alpha-chat-one", "family": "bare", "display_names": ["Alpha Chat 1"], "aliases": ["alpha-one"]},
        {"id": "alpha-chat-two", "family": "bare", "defaults": {"default_for_kind": True}},
        {"id": "beta-picture", "family": "full", "display_names": ["Beta Picture"], "aliases": ["beta-pic"]},
        # an entry that overrides its family's data
        {"id": "delta-retouch", "family": "full", "endpoints": ["images.edits"], "vendor": "Delta Labs",
         "capabilities": {"mask": True, "max_n": 4}, "defaults": {"quality": "high"}, "notes": "edits only"},
    ]
    monkeypatch.setattr(_catalog_data, "FAMILIES", families)
    monkeypatch.setattr(_catalog_data, "MODELS", models_)
    _clear_catalogue_caches()
    yield catalog
    monkeypatch.undo()
    _clear_catalogue_caches()


def test_a_family_without_defaults_or_vendor_builds_empty_ones(tiny: Any) -> None:
    m = tiny.model("gamma", family="bare")
    assert (m.defaults, m.capabilities, m.vendor, m.endpoints) == ({}, {}, "", ("chat.completions",))
    listed = tiny.model("Alpha Chat 1")
    assert (listed.id, listed.vendor, listed.capabilities) == ("alpha-chat-one", "", {})


def test_the_substring_fallback_names_each_model_once(tiny: Any) -> None:
    # "cha" is close to no name (all under the 0.45 cutoff), but part of two models' names, one of them twice
    assert tiny.suggest("cha") == ["alpha-chat-one", "alpha-chat-two"]
    assert tiny.suggest("cha", n=1) == ["alpha-chat-one"]
    assert tiny.suggest("pic", kind="chat") == []
    assert tiny.suggest("pic", kind="image") == ["beta-picture"]


def test_a_near_miss_at_the_cutoff_is_still_suggested(tiny: Any) -> None:
    # 0.67 like "alpha-chat-two", 0.53 like "alpha-chat-1" (a name of alpha-chat-one): both, closest first
    assert tiny.suggest("chat-tw") == ["alpha-chat-two", "alpha-chat-one"]
    assert tiny.suggest("chat-tw", n=1) == ["alpha-chat-two"]


def test_unknown_model_errors_name_the_model_and_the_kind(tiny: Any) -> None:
    with pytest.raises(UnknownModelError) as info:
        tiny.model("nothing-like-it", kind="image")
    assert (info.value.name, info.value.kind) == ("nothing-like-it", "image")
    assert "Unknown image model 'nothing-like-it'" in str(info.value)
    with pytest.raises(UnknownFamilyError) as fam:
        tiny.model("new-one", kind="chat", family="bar")
    assert (fam.value.family, fam.value.suggestions) == ("bar", ["bare"])
    with pytest.raises(UnknownFamilyError) as loose:
        tiny.model("new-one", family="fu")  # 0.4 similar to "full": still suggested
    assert loose.value.suggestions == ["full"]


def test_the_recorded_form_keeps_the_kind(tiny: Any) -> None:
    with pytest.raises(UnknownModelError):
        tiny.model({"id": "alpha-chat-one"}, kind="image")
    assert tiny.model({"id": "alpha-chat-one"}, kind="chat").id == "alpha-chat-one"


def test_as_dict_and_html_in_full(tiny: Any) -> None:
    m = tiny.model("beta-pic")
    assert m.as_dict() == {
        "id": "beta-picture", "name": "Beta Picture", "kind": "image", "family": "full", "vendor": "Acme",
        "endpoints": ["images.generations", "images.edits"], "aliases": ["Beta Picture", "beta-pic"],
        "capabilities": {"edit": True, "sizes": ["1K", "2K"], "mask": False}, "defaults": {"size": "1K"},
        "source": "built-in", "price": None,
    }
    assert m._repr_html_() == (
        "<b>beta-picture</b> <i>image</i> · family <code>full</code> · endpoints images.generations, images.edits"
        " · built-in<br><small>edit=True, sizes=[&#x27;1K&#x27;, &#x27;2K&#x27;]</small>"
    )


def test_default_model_of_the_tiny_catalogue(tiny: Any) -> None:
    assert tiny.default_model("chat").id == "alpha-chat-two"
    assert tiny.default_model("image").id == "beta-picture"  # nothing flagged: the first
    assert [m.id for m in tiny.models("chat")] == ["alpha-chat-one", "alpha-chat-two"]
    assert [m.id for m in tiny.models(family="full")] == ["beta-picture", "delta-retouch"]
    assert tiny.families() == {"bare": "chat", "full": "image"}


def test_a_menu_entrys_own_data_wins_over_its_familys(tiny: Any) -> None:
    m = tiny.model("delta-retouch")
    assert m.endpoints == ("images.edits",)  # its own endpoints, not the family's two
    assert m.capabilities == {"edit": True, "sizes": ["1K", "2K"], "mask": True, "max_n": 4}  # family's, then its own
    assert m.defaults == {"size": "1K", "quality": "high"}
    assert (m.vendor, m.notes) == ("Delta Labs", "edits only")
    assert (tiny.model("beta-picture").vendor, tiny.model("beta-picture").notes) == ("Acme", "")  # the family's


def test_suggestions_are_as_many_different_models_as_asked(tiny: Any) -> None:
    assert len(tiny.suggest("alpha")) == 2  # only two close models: fewer is fine
    with pytest.raises(UnknownModelError) as info:
        tiny.model("alpha-chat")
    assert info.value.suggestions == ["alpha-chat-one", "alpha-chat-two"]  # close ones, by default up to three
    assert tiny.suggest("alpha", kind="audio") == []  # no model of that kind at all
    assert tiny.suggest("zzz", kind="video") == []


def test_a_model_with_many_names_does_not_crowd_out_the_other_close_models() -> None:
    fams = {"draw": {"kind": "image", "endpoints": ["images.generations"]}}
    snapshots = tuple(f"acme-draw-1{c}" for c in "abcdefgh")  # nine names, all close to the typo
    crowded = catalog.Catalog([
        catalog.ModelInfo("acme-draw-1", "image", "draw", ("images.generations",), aliases=snapshots),
        catalog.ModelInfo("acme-draws", "image", "draw", ("images.generations",)),  # a little less close
        catalog.ModelInfo("zeta-video", "image", "draw", ("images.generations",)),  # not close at all
    ], fams)
    assert crowded.suggest("acme-draw-2") == ["acme-draw-1", "acme-draws"]
    assert crowded.suggest("acme-draw-2", n=2) == ["acme-draw-1", "acme-draws"]
    assert crowded.suggest("acme-draw-2", n=1) == ["acme-draw-1"]
    with pytest.raises(UnknownModelError) as info:
        crowded.model("acme-draw-2")
    assert info.value.suggestions == ["acme-draw-1", "acme-draws"]


def test_a_loose_family_name_still_suggests_the_families_it_is_part_of() -> None:
    with pytest.raises(UnknownFamilyError) as info:
        catalog.model("my-voice", family="tts")  # under 0.6 alike, over 0.4: both text-to-speech families
    assert sorted(info.value.suggestions) == ["gemini-tts", "openai-tts"]
    with pytest.raises(UnknownFamilyError) as close:
        catalog.model("my-voice", family="opena")  # at most three, closest first
    assert close.value.suggestions == ["openai-tts", "openai-chat", "openai-image"]  # not openai-responses too


def test_an_unknown_name_suggests_three_models_when_more_are_close() -> None:
    assert len(catalog.suggest("gpt-6", n=5)) == 5  # five are close…
    with pytest.raises(UnknownModelError) as info:
        catalog.model("gpt-6")
    assert info.value.suggestions == ["gpt-5", "gpt-5.4", "gpt-5.2"]  # …the error names the closest three
    assert catalog.builtin().suggest("gpt-6") == info.value.suggestions


@pytest.mark.parametrize(("name", "kind", "family"), [
    ("doubao-seedance-9-0-pro", None, "seedance"),  # the id prefix, with no kind asked for
    ("doubao-seedance-9-0-pro", "video", "seedance"),
    ("qwen-image-edit-9", "image", "qwen-image"),  # not the kind's example (openai-image)
    ("qwen-image-edit-9", None, "qwen-image"),
    ("doubao-seedance-2.0-turbo", None, "seedance"),  # the listed model it varies
    ("wan9-video", None, "wan-video"), ("wan9-image", None, "wan-image"),  # the kind the id's words say
    ("zzz-unheard-of", "video", "seedance"), ("zzz-unheard-of", None, "openai-chat"),  # nothing says: the example
])
def test_an_unknown_models_family_hint_reads_its_id(name: str, kind: str | None, family: str) -> None:
    """The ``family=`` an unknown model's hint shows comes from the rules the catalogue derives variants by (id
    prefixes, the listed model an id varies), not from the kind alone: ``qwen-image-edit-9`` is a Qwen model."""
    with pytest.raises(UnknownModelError) as info:
        catalog.model(name, kind)
    assert f"tokenhot_nb.model({name!r}, family={family!r})" in str(info.value)
    assert UnknownModelError(name, [], kind).hint == info.value.hint  # the sites that build it alone say the same


def test_a_folded_name_is_kept_only_for_short_names_and_folds_the_same() -> None:
    """Each call resolves its model's name (two regex passes, ~1 µs): the fold is kept per name, but not for a
    name of a megabyte (it is folded each time, never held), and the memo stays bounded."""
    from tokenhot_nb import catalog as cat

    for name in ("GPT Image-2 (图片编辑)", " gpt_image 2 ", "gpt-5.4-mini", "Doubao Seedance 2.0"):
        assert cat._norm(name) == cat._fold(name) == cat._norm(name)
        assert cat._NORMS[name] == cat._fold(name)
    huge = "x" * 1_000_000
    assert cat._norm(huge) == huge and huge not in cat._NORMS
    for i in range(5000):
        cat._norm(f"model-{i}")
    assert len(cat._NORMS) <= 4096
