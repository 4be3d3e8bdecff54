"""A model only the service's table lists that varies a known one (``-filter-off``, ``-free``, a dated snapshot…)
takes the known model's options, and words of its id (``edit``, ``i2v``, ``r2v``, ``v2v``…) add what they imply.

The audit: ``doubao-seedance-2-0-filter-off`` took no references (the seedance family's default) though the 2.0
model it varies does, and a new ``qwen-image-edit-*`` had ``edit: False`` and would have been sent a generation
body.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import catalog
from tokenhot_nb import errors as E
from tokenhot_nb._catalog_live import LiveTable, merge
from tokenhot_nb.sim import _pricing


def _video(name: str) -> dict[str, Any]:
    return {"model_name": name, "quota_type": 0, "model_ratio": 37.5, "supported_endpoint_types": ["openai-video"],
            "output_modalities": ["视频"]}


def _image(name: str) -> dict[str, Any]:
    return {"model_name": name, "quota_type": 1, "model_price": 0.05, "supported_endpoint_types": ["image-generation"],
            "input_modalities": ["文本", "图像"], "output_modalities": ["图像"]}


ROWS = [
    _video("doubao-seedance-2-0-filter-off"), _video("doubao-seedance-2-0-fast-filter-off"),
    _video("doubao-seedance-2-0-V2V-filter-off"), _video("doubao-seedance-1-5-pro-251215-filter-off"),
    _video("happyhorse-1.1-r2v"), _video("happyhorse-1.1-video-edit"), _video("mystery-video-i2v"),
    _image("qwen-image-edit-plus-2026-03-01"), _image("qwen-image-2.0-edit"), _image("qwen-image-2.0"),
    {"model_name": "gpt-5.4-mini-2026-05-01", "quota_type": 0, "model_ratio": 0.1,
     "supported_endpoint_types": ["openai", "openai-response"], "output_modalities": ["文本"]},
]


def merged() -> catalog.Catalog:
    return merge(catalog.builtin(), LiveTable(base_url="http://relay.test", fetched_at=time.time(), rows=ROWS))


def test_a_filter_off_seedance_takes_what_the_model_it_varies_takes() -> None:
    cat = merged()
    off = cat.model("doubao-seedance-2-0-filter-off")
    base = catalog.model("doubao-seedance-2.0")
    assert (off.family, off.source, off.endpoints) == ("seedance", "live", base.endpoints)
    assert off.capabilities == base.capabilities and off.capabilities["reference_images"] == 9
    assert off.can("video_input") and "doubao-seedance-2.0" in off.notes
    fast = cat.model("doubao-seedance-2.0-fast-filter-off")  # the '.'/'-' spelling finds it too
    assert fast.capabilities["resolutions"] == ["480p", "720p"] and fast.capabilities["reference_images"] == 9
    assert "default_for_kind" not in fast.defaults  # a variant never becomes the kind's default
    assert cat.default_model("video").id == "doubao-seedance-2-0-fast" or cat.default_model("video").source != "live"
    assert cat.model("doubao-seedance-2-0-V2V-filter-off").can("requires_video")
    late = merge(catalog.builtin(), LiveTable(base_url="http://relay.test", fetched_at=time.time(), rows=[
        _video("doubao-seedance-2-5-fast")])).model("doubao-seedance-2-5-fast")  # 2.5's options, fast's resolutions
    assert late.capabilities["reference_images"] == 30 and late.capabilities["resolutions"] == ["480p", "720p"]
    old = cat.model("doubao-seedance-1-5-pro-251215-filter-off")
    assert old.capabilities["reference_images"] == 0 and old.can("draft")


def test_a_new_qwen_image_edit_model_edits() -> None:
    cat = merged()
    for mid in ("qwen-image-edit-plus-2026-03-01", "qwen-image-2.0-edit"):  # a known prefix, or the id word
        info = cat.model(mid)
        assert info.family == "qwen-image" and info.can("edit") and info.can("edit_only"), (mid, info.capabilities)
        assert info.defaults.get("size") is None
    plain = cat.model("qwen-image-2.0")
    assert not plain.can("edit") and plain.defaults["size"] == "1328*1328"


def test_id_words_set_what_they_imply() -> None:
    cat = merged()
    r2v = cat.model("happyhorse-1.1-r2v")
    assert r2v.capabilities["mode"] == "r2v" and r2v.capabilities["reference_images"] == 9
    edit = cat.model("happyhorse-1.1-video-edit")
    assert edit.capabilities["mode"] == "video-edit" and edit.can("requires_video")
    generic = cat.model("mystery-video-i2v")
    assert generic.family == "video-generic" and generic.can("requires_image") and generic.can("first_frame")
    snap = cat.model("gpt-5.4-mini-2026-05-01")
    assert snap.capabilities["reasoning_efforts"] == catalog.model("gpt-5.4-mini").capabilities["reasoning_efforts"]


def test_an_id_word_never_lowers_what_the_parent_allowed() -> None:
    """``r2v`` implies references (at least 9, and an image is needed); Seedance 2.5 already takes 30, so its r2v
    variant keeps 30: a word adds what it implies and lowers no limit of the model it varies."""
    cat = merge(catalog.builtin(), LiveTable(base_url="http://relay.test", fetched_at=time.time(), rows=[
        _video("doubao-seedance-2-5-r2v"), _video("doubao-seedance-2-0-r2v"), _video("doubao-seedance-2-5-i2v")]))
    late = cat.model("doubao-seedance-2-5-r2v")
    assert late.capabilities["reference_images"] == 30 and late.can("requires_image")
    assert late.capabilities["durations"] == catalog.model("doubao-seedance-2.5").capabilities["durations"]
    assert cat.model("doubao-seedance-2-0-r2v").capabilities["reference_images"] == 9
    i2v = cat.model("doubao-seedance-2-5-i2v")  # flags are added, the parent's last frame is kept
    assert i2v.can("first_frame") and i2v.can("requires_image") and i2v.can("last_frame")
    assert i2v.capabilities["reference_images"] == 30
    assert catalog.model({"id": "doubao-seedance-2-5-r2v", "family": "seedance"}).capabilities["reference_images"] == 30


def test_a_recorded_live_variant_replays_with_the_same_options_without_the_table() -> None:
    """A live-only model records ``{"id", "family"}``; rebuilt where the table was never read, it must not lose
    the options it had when it ran."""
    info = merged().model("doubao-seedance-2-0-filter-off")
    again = catalog.model(info.ref)  # type: ignore[arg-type]
    assert again.capabilities == info.capabilities and not again.listed
    assert again.capabilities["reference_images"] == 9 and again.family == "seedance"


def test_an_explicit_row_names_the_model_an_id_varies(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenhot_nb import _catalog_data

    monkeypatch.setitem(_catalog_data.LIVE_VARIANT_OF, "seedance-pro-x", "doubao-seedance-2-5")
    info = merge(catalog.builtin(), LiveTable(base_url="http://relay.test", fetched_at=time.time(),
                                             rows=[_video("seedance-pro-x-260101")])).model("seedance-pro-x-260101")
    assert info.capabilities["reference_images"] == 30


@pytest.fixture
def variants(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator's table lists the variants (the service does: §10.1, "filter-off Seedance variants")."""
    monkeypatch.setattr(_pricing, "PRICING", [*_pricing.PRICING, *(
        _pricing._video(r["model_name"], 5) if "video" in r["supported_endpoint_types"][0]
        else _pricing._call(r["model_name"], 6, 0.05, ["image-generation"], inputs=("文本", "图像"))
        for r in ROWS if r["model_name"].startswith(("doubao", "qwen")))])


def test_the_session_sends_references_to_a_filter_off_seedance(tmp_path: Path, variants: None) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "store", rec)
    try:
        ref = "https://cdn.example.com/ref.png"
        task = s.video("in this style", model="doubao-seedance-2-0-filter-off", references=[ref, ref], wait=False)
        body = rec.json(-1, "/video/generations")
        assert body["model"] == "doubao-seedance-2-0-filter-off"
        assert [c.get("role") for c in body["content"]][1:] == ["reference_image", "reference_image"]
        assert task.entry.status == "pending"
    finally:
        s.close()


def test_the_session_edits_with_a_new_qwen_image_edit_model(tmp_path: Path, variants: None) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "store", rec)
    try:
        src = s.image("a cat", model="gpt-image-2")
        res = s.edit(src, "make it blue", model="qwen-image-edit-plus-2026-03-01")
        body = rec.json(-1, "/images/generations")
        parts = body["input"]["messages"][0]["content"]
        assert any("image" in p for p in parts) and any("text" in p for p in parts)
        assert res.entry.status == "ok"
        sent = len(rec.posts())
        with pytest.raises(E.UnsupportedOptionError, match="only edits images"):  # no source image: said before anything is paid for
            s.image("a cat", model="qwen-image-edit-plus-2026-03-01")
        assert len(rec.posts()) == sent
    finally:
        s.close()


# ----------------------------------------------------------------------------- the simulator serves them as their base

SIM_AUTH = {"Authorization": "Bearer sk-test-variants-0000"}


def _sim() -> Any:
    from starlette.testclient import TestClient

    from tokenhot_nb.sim import create_app

    return TestClient(create_app())


def test_the_simulator_serves_a_filter_off_seedance_as_its_base(variants: None) -> None:
    sim = _sim()
    ref = "https://cdn.example.com/ref.png"

    def create(model: str, **extra: Any) -> Any:
        return sim.post("/v1/video/generations", headers=SIM_AUTH, json={"model": model, "content": [
            {"type": "text", "text": "in this style"},
            {"type": "image_url", "image_url": {"url": ref}, "role": "reference_image"}], **extra})

    assert create("doubao-seedance-2-0-filter-off").status_code == 200
    assert "does not take reference media" in create("doubao-seedance-1-5-pro-251215-filter-off").text
    assert "resolution" in create("doubao-seedance-2-0-fast-filter-off", resolution="1080p").text
    assert "reference_video" in create("doubao-seedance-2-0-V2V-filter-off").text


def test_the_simulator_refuses_a_generation_body_to_a_qwen_edit_model(variants: None) -> None:
    """DashScope's qwen-image-edit models edit only: a body without an ``{image}`` item is refused, as the service
    does, so a client that sends a new edit model a generation body is caught offline."""
    sim = _sim()
    for model in ("qwen-image-edit-max-2026-01-16", "qwen-image-edit-plus-2026-03-01"):
        r = sim.post("/v1/images/generations", headers=SIM_AUTH, json={
            "model": model, "input": {"messages": [{"role": "user", "content": [{"text": "a cat"}]}]}})
        assert r.status_code == 400 and "image" in r.json()["error"]["message"], r.text
    ok = sim.post("/v1/images/generations", headers=SIM_AUTH, json={"model": "qwen-image-2.0", "prompt": "a cat"})
    assert ok.status_code == 200, ok.text  # a generation model still generates


def test_a_live_only_model_used_only_to_edit_replays_where_the_table_was_never_read(
        tmp_path: Path, variants: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay knows a model only the service's table listed from the rows that recorded it; the row's kind
    (``edit``, ``speak``, ``transcribe``) was compared with the family's kind (``image``, ``audio``), so a model
    used only to edit was unknown in a loaded history or a fresh checkout: a replay of the recorded call failed."""
    from tokenhot_nb.history import History

    s = make_session(tmp_path / "store", Recorder())
    src = s.image("a cat", model="gpt-image-2")
    res = s.edit(src, "make it blue", model="qwen-image-edit-plus-2026-03-01")
    s.history.export(tmp_path / "h.json", include_artifacts=True)
    s.close()
    monkeypatch.setattr(_pricing, "PRICING", [r for r in _pricing.PRICING if "edit-plus" not in str(r)])
    History.load(tmp_path / "h.json", tmp_path / "elsewhere")
    quiet = Recorder()
    again = make_session(tmp_path / "elsewhere", quiet, mode="replay")
    try:
        assert again.model("qwen-image-edit-plus-2026-03-01").can("edit")
        assert again.edit(src, "make it blue", model="qwen-image-edit-plus-2026-03-01").sha256 == res.sha256
        assert quiet.requests == []
    finally:
        again.close()
