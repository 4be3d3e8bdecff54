"""Seedream sizes on the simulator as §10.4 says the service takes them ("2K", "4K", or ``WxH`` of 0.92–4.62
megapixels; anything else a 400 in the relay's envelope), and the catalogue offering and refusing the same sizes."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from tokenhot_nb import Session, catalog
from tokenhot_nb.errors import UnsupportedOptionError
from tokenhot_nb.families import images
from tokenhot_nb.sim import create_app

AUTH = {"Authorization": "Bearer sk-test-images-0000"}
SEEDREAM = catalog.models(family="seedream")
#: The pixel budget as the catalogue states it; the probes below sit on and just past its edges.
LO, HI = SEEDREAM[0].capabilities["pixel_range"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    return TestClient(create_app(task_dir=tmp_path_factory.mktemp("tasks")))


def generate(sim: TestClient, model: str, size: Any) -> Any:
    body = {"model": model, "prompt": "a lighthouse", "response_format": "b64_json", "watermark": False,
            "sequential_image_generation": "disabled"}
    if size is not None:
        body["size"] = size
    return sim.post("/v1/images/generations", json=body, headers=AUTH)


def test_the_catalogue_lists_the_three_seedream_versions() -> None:
    assert {m.id for m in SEEDREAM} == {"doubao-seedream-4-0-250828", "doubao-seedream-4-5-251128",
                                        "doubao-seedream-5-0-260128"}
    assert (LO, HI) == (920_000, 4_620_000)  # §10.4's 0.92–4.62 megapixels


@pytest.mark.parametrize("model", [m.id for m in SEEDREAM])
def test_sizes_in_the_range_or_named_are_drawn_as_asked(sim: TestClient, model: str) -> None:
    for size, pixels in (("2K", (2048, 2048)), ("4k", (4096, 4096)), (None, (2048, 2048)),
                         (f"1000x{LO // 1000}", (1000, LO // 1000)), (f"1000x{HI // 1000}", (1000, HI // 1000)),
                         ("2560x1440", (2560, 1440))):
        r = generate(sim, model, size)
        assert r.status_code == 200, (size, r.text)
        item = r.json()["data"][0]
        assert item["size"] == f"{pixels[0]}x{pixels[1]}", size
        assert Image.open(io.BytesIO(base64.b64decode(item["b64_json"]))).size == pixels  # never fitted


@pytest.mark.parametrize("model", [m.id for m in SEEDREAM])
@pytest.mark.parametrize(("size", "why"), [
    ("512x512", "0.26 megapixels"), ("8000x8000", "64.00 megapixels"),
    (f"{1000 - 1}x{LO // 1000}", "outside the allowed range"), (f"{1000 + 1}x{HI // 1000}", "outside the allowed range"),
    ("3K", "'3K' is not supported"), ("1K", "'1K' is not supported"), ("auto", "not supported"), ("", "not supported"),
])
def test_other_sizes_are_refused_naming_the_limit(sim: TestClient, model: str, size: str, why: str) -> None:
    r = generate(sim, model, size)
    assert r.status_code == 400
    err = r.json()["error"]  # the relay's OpenAI envelope (§1.4)
    assert set(err) >= {"message", "type", "code"} and why in err["message"]
    assert '"2K" or "4K"' in err["message"] and "0.92-4.62 megapixels" in err["message"]
    assert "(request id: " in err["message"]


@pytest.mark.parametrize("model", SEEDREAM, ids=lambda m: m.id)
def test_the_catalogue_and_the_simulator_agree_on_every_size(sim: TestClient, model: catalog.ModelInfo) -> None:
    """What the client lets through the service takes, and what it refuses the service refuses too."""
    offered = model.choices("sizes")
    assert {s for s in offered if "x" not in s} == {"2K", "4K"}  # §10.4's named forms, for every version
    assert model.capabilities["pixel_range"] == [LO, HI]
    probes = [*offered, "1K", "3K", "512x512", "8000x8000", f"1000x{LO // 1000}", f"999x{LO // 1000}",
              f"1000x{HI // 1000}", f"1001x{HI // 1000}"]
    for size in probes:
        try:
            sent = images.build_generate(model, "p", size=size).json["size"]  # type: ignore[index]
        except UnsupportedOptionError:
            sent = None
        if sent is None:
            assert generate(sim, model.id, size).status_code == 400, f"{size}: the client refuses, the service takes"
        else:
            assert generate(sim, model.id, sent).status_code == 200, f"{size}: the client sends what is refused"
    assert images.build_generate(model, "p", size="4K").json["size"] == "4K"  # type: ignore[index]
    with pytest.raises(UnsupportedOptionError, match="2K, 4K"):
        images.build_generate(model, "p", size="3K")


def test_the_default_size_of_every_seedream_model_is_accepted(sim: TestClient) -> None:
    for model in SEEDREAM:
        body = images.build_generate(model, "p").json
        assert body is not None and generate(sim, model.id, body["size"]).status_code == 200



# --- OpenAI image models: what the vendor refuses, the simulator refuses (reference §3.2) -----------------------


def openai_generate(sim: TestClient, **body: Any) -> Any:
    return sim.post("/v1/images/generations", json={"prompt": "a lighthouse", **body}, headers=AUTH)


@pytest.mark.parametrize(("body", "why"), [
    ({"model": "dall-e-3", "size": "512x512"}, "Invalid value: '512x512'"),
    ({"model": "dall-e-2", "size": "1792x1024"}, "Invalid value: '1792x1024'"),
    ({"model": "gpt-image-1.5", "size": "256x256"}, "Invalid value: '256x256'"),
    ({"model": "dall-e-3", "n": 2}, "between 1 and 1"),
    ({"model": "dall-e-3", "quality": "high"}, "Supported values for quality"),
    ({"model": "dall-e-2", "quality": "hd"}, "Supported values for quality"),
    ({"model": "gpt-image-2", "style": "vivid"}, "'style' is not supported"),
    ({"model": "dall-e-3", "background": "opaque"}, "'background' is not supported"),
    ({"model": "gpt-image-2", "background": "transparent"}, "not supported for gpt-image-2"),
])
def test_openai_image_fields_the_vendor_refuses(sim: TestClient, body: dict[str, Any], why: str) -> None:
    r = openai_generate(sim, **body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert why in err["message"] and err["type"] == "invalid_request_error"


@pytest.mark.parametrize("body", [
    {"model": "dall-e-3", "size": "1792x1024", "quality": "hd", "style": "natural"},
    {"model": "dall-e-2", "size": "256x256", "n": 3},
    {"model": "gpt-image-1.5", "size": "auto", "quality": "low", "background": "transparent", "output_format": "webp"},
    {"model": "gpt-image-2", "size": "2048x1152", "background": "opaque"},
])
def test_openai_image_fields_the_vendor_takes(sim: TestClient, body: dict[str, Any]) -> None:
    assert openai_generate(sim, **body).status_code == 200


def test_dall_e_3_edits_are_refused(sim: TestClient) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "PNG")
    r = sim.post("/v1/images/edits", data={"model": "dall-e-3", "prompt": "x"},
                 files={"image": ("a.png", buf.getvalue(), "image/png")}, headers=AUTH)
    assert r.status_code == 400 and "does not support image edits" in r.json()["error"]["message"]


@pytest.mark.parametrize("model", [m.id for m in catalog.models(family="openai-image")])
def test_the_catalogue_sizes_of_openai_image_models_are_accepted(sim: TestClient, model: str) -> None:
    for size in catalog.model(model).choices("sizes"):
        assert openai_generate(sim, model=model, size=size).status_code == 200, (model, size)


@pytest.mark.parametrize(("refs", "n", "ok"), [(0, 15, True), (0, 16, False), (14, 1, True), (13, 2, True),
                                               (14, 2, False), (15, 0, False)])
def test_seedream_image_counts(sim: TestClient, refs: int, n: int, ok: bool) -> None:
    body: dict[str, Any] = {"model": "doubao-seedream-4-5-251128", "prompt": "a set", "size": "2K",
                            "response_format": "url", "watermark": False, "sequential_image_generation": "disabled"}
    if refs:
        body["image"] = ["https://cdn.example.com/ref.png"] * refs
    if n:
        body["sequential_image_generation"] = "auto"
        body["sequential_image_generation_options"] = {"max_images": n}
    r = sim.post("/v1/images/generations", json=body, headers=AUTH)
    assert (r.status_code == 200) is ok, r.text


# --- Gemini image settings (§3.2): Google refuses ratios and sizes it does not make ---------------------------


def gemini_image(sim: TestClient, model: str, **image_config: Any) -> Any:
    body = {"contents": [{"role": "user", "parts": [{"text": "a fox"}]}],
            "generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": image_config}}
    return sim.post(f"/v1beta/models/{model}:generateContent", json=body, headers=AUTH)


@pytest.mark.parametrize(("model", "cfg", "ok"), [
    ("gemini-3-pro-image-preview", {"aspectRatio": "16:9", "imageSize": "2K"}, True),
    ("gemini-3-pro-image-preview", {"aspectRatio": "7:3"}, False),
    ("gemini-3-pro-image-preview", {"imageSize": "8K"}, False),
    ("gemini-2.5-flash-image", {"aspectRatio": "21:9"}, True),
    ("gemini-2.5-flash-image", {"imageSize": "2K"}, False),
])
def test_gemini_image_config(sim: TestClient, model: str, cfg: dict[str, str], ok: bool) -> None:
    r = gemini_image(sim, model, **cfg)
    assert (r.status_code == 200) is ok, r.text


@pytest.mark.parametrize("model", [m.id for m in catalog.models(family="gemini-image")])
def test_every_gemini_image_setting_the_catalogue_offers_is_accepted(sim: TestClient, model: str) -> None:
    info = catalog.model(model)
    for size in [*info.choices("ratios"), *info.choices("image_sizes")]:
        body = images.build_generate(info, "a fox", size=size).json
        r = sim.post(f"/v1beta/models/{model}:generateContent", json=body, headers=AUTH)
        assert r.status_code == 200, (size, r.text)


# --- Long prompts: drawn, or refused as the vendor refuses them (§3.2), never a simulator crash ------------------

LONG = "x" * 300_000  # one "word" the width of 300,000 characters: a caption line Pillow will not draw in one piece


@pytest.mark.parametrize("model", ["doubao-seedream-4-5-251128", "gpt-image-2", "wan2.6-image", "qwen-image-max"])
def test_a_very_long_prompt_is_drawn(sim: TestClient, model: str) -> None:
    r = openai_generate(sim, model=model, prompt=LONG, response_format="b64_json")
    assert r.status_code == 200, r.text[:300]


def test_a_very_long_prompt_to_gemini_image_is_drawn(sim: TestClient) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": LONG}]}],
            "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}}
    r = sim.post("/v1beta/models/gemini-2.5-flash-image:generateContent", json=body, headers=AUTH)
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize(("model", "most"), [("dall-e-2", 1000), ("dall-e-3", 4000)])
def test_dall_e_prompts_past_the_vendor_limit_are_refused(sim: TestClient, model: str, most: int) -> None:
    assert openai_generate(sim, model=model, prompt="y" * most).status_code == 200
    r = openai_generate(sim, model=model, prompt="y" * (most + 1))
    assert r.status_code == 400, r.text[:300]
    err = r.json()["error"]
    assert f"maximum length {most}" in err["message"] and err["type"] == "invalid_request_error"


def test_a_dall_e_2_edit_past_the_prompt_limit_is_refused(sim: TestClient) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "PNG")
    r = sim.post("/v1/images/edits", data={"model": "dall-e-2", "prompt": "z" * 1001},
                 files={"image": ("a.png", buf.getvalue(), "image/png")}, headers=AUTH)
    assert r.status_code == 400 and "maximum length 1000" in r.json()["error"]["message"]


def test_an_offline_session_draws_a_very_long_prompt(tmp_path: Path) -> None:
    """The crash the user saw: ``Session(mode="offline").image(prompt="x" * 100000)`` answered 500 from the sim."""
    with Session(mode="offline", store=tmp_path / "store") as s:
        result = s.image(prompt=LONG)
    assert len(result) == 1 and result.pil().size == (2048, 2048)  # Seedream's default 2K, drawn
