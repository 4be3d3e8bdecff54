"""Image family: generation/edit bodies per family, option validation, and every documented reply shape."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tokenhot_nb import catalog
from tokenhot_nb.errors import InputError, UnsupportedOptionError
from tokenhot_nb.families import images

FIX = Path(__file__).parent / "fixtures" / "reference"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text(encoding="utf-8"))


# --- generation bodies --------------------------------------------------------------------------------------


def test_gpt_image_2_matches_the_documented_request() -> None:
    doc = load("gpt_image_2_request.json")
    call = images.build_generate(catalog.model("GPT Image-2"), doc["prompt"])
    assert (call.method, call.path) == ("POST", "/v1/images/generations")
    assert call.json == doc
    call = images.build_generate(catalog.model("gpt-image-2"), "p", n=2, size="1536*1024", quality="HIGH")
    assert call.json == {"model": "gpt-image-2", "prompt": "p", "n": 2, "size": "1536x1024", "quality": "high"}


def test_dalle_options() -> None:
    call = images.build_generate(catalog.model("dall-e-3"), "p", quality="hd", response_format="b64_json")
    assert call.json == {"model": "dall-e-3", "prompt": "p", "size": "1024x1024", "quality": "hd",
                         "response_format": "b64_json"}
    with pytest.raises(UnsupportedOptionError, match=r"dall-e-3 makes 1 to 1 image"):
        images.build_generate(catalog.model("dall-e-3"), "p", n=2)
    with pytest.raises(UnsupportedOptionError, match=r"allowed: 256x256, 512x512, 1024x1024"):
        images.build_generate(catalog.model("dall-e-2"), "p", size="2048x2048")


def test_seedream_generation_body() -> None:
    m = catalog.model("seedream-4.5")
    assert images.build_generate(m, "a fox").json == {
        "model": "doubao-seedream-4-5-251128", "prompt": "a fox", "size": "2K",
        "sequential_image_generation": "disabled", "response_format": "url", "watermark": False,
    }
    body = images.build_generate(m, "a comic strip", n=4, size="2048x2048", seed=7).json
    assert body is not None
    assert body["sequential_image_generation"] == "auto"
    assert body["sequential_image_generation_options"] == {"max_images": 4}
    assert body["size"] == "2048x2048" and body["seed"] == 7
    # any WxH within 0.92–4.62 megapixels passes on seedream (§10.4); presets are checked case-insensitively
    assert images.build_generate(m, "p", size="2400x1600").json["size"] == "2400x1600"  # type: ignore[index]
    with pytest.raises(UnsupportedOptionError, match=r"size=3000x2000 \(6\.00 megapixels\); allowed: WIDTHxHEIGHT "
                       r"between 0\.92 and 4\.62 megapixels \(e\.g\. 2048x2048\), or 2K/4K\."):
        images.build_generate(m, "p", size="3000x2000")
    with pytest.raises(UnsupportedOptionError, match=r"0\.92 and 4\.62"):
        images.build_generate(m, "p", size="800x800")
    fixed = images.build_generate(m, "p").json
    assert fixed is not None and (fixed["watermark"], fixed["sequential_image_generation"],
                                  fixed["response_format"], fixed["size"]) == (False, "disabled", "url", "2K")
    assert images.build_generate(m, "p", size="4k").json["size"] == "4K"  # type: ignore[index]
    with pytest.raises(UnsupportedOptionError, match=r"allowed: 2K, 4K.*\(or any WIDTHxHEIGHT\)"):
        images.build_generate(m, "p", size="1K")


@pytest.mark.parametrize("model", catalog.models(family="seedream"), ids=lambda m: m.id)
def test_every_seedream_model_sends_the_fixed_fields(model: catalog.ModelInfo) -> None:
    """§10.4: the client always sends ``watermark: false``, ``sequential_image_generation: "disabled"`` (one
    image) and ``response_format: "url"``, from every name the model goes by, on generations and edits alike."""
    fixed = {"sequential_image_generation": "disabled", "response_format": "url", "watermark": False}
    for name in [model.id, *model.display_names]:
        m = catalog.model(name)
        assert m.id == model.id
        for call in (images.build_generate(m, "a fox"), images.build_edit(m, [(PNG, "image/png")], "at night"),
                     images.build_generate(m, "a fox", size="2560x1440", seed=1)):
            assert call.path == "/v1/images/generations" and call.json is not None
            assert {k: call.json.get(k) for k in fixed} == fixed, name
    sets = images.build_generate(model, "a comic", n=3).json
    assert sets is not None and (sets["sequential_image_generation"], sets["response_format"], sets["watermark"]) \
        == ("auto", "url", False)  # an image set switches sequential generation on, nothing else


def test_qwen_generation_body() -> None:
    call = images.build_generate(catalog.model("qwen-image-max"), "一只猫", negative="blurry", size="1664x928", seed=3)
    assert call.json == {"model": "qwen-image-max",
                         "input": {"messages": [{"role": "user", "content": [{"text": "一只猫"}]}]},
                         "parameters": {"size": "1664*928", "n": 1, "negative_prompt": "blurry", "seed": 3,
                                        "prompt_extend": True, "watermark": False}}
    with pytest.raises(UnsupportedOptionError, match=r"allowed: 1328\*1328"):
        images.build_generate(catalog.model("qwen-image-max"), "p", size="1024x1024")
    with pytest.raises(UnsupportedOptionError, match="only edits images"):
        images.build_generate(catalog.model("qwen-image-edit-max-2026-01-16"), "p")


def test_wan26_image_generation_uses_interleave_mode_without_streaming() -> None:
    doc = load("wan26_image_request.json")
    call = images.build_generate(catalog.model("wan2.6-image"), "秋天的画", size="1024x1024")
    assert call.path == "/v1/images/generations"
    body = call.json
    assert body is not None
    assert body["input"] == {"messages": [{"role": "user", "content": [{"text": "秋天的画"}]}]}
    # same parameter keys as the documented example, but never stream
    assert {k: body["parameters"][k] for k in ("enable_interleave", "max_images", "size")} == {
        k: doc["parameters"][k] for k in ("enable_interleave", "max_images", "size")}
    assert body["parameters"]["stream"] is False and "n" not in body["parameters"]


def test_wan_t2i_body_with_negative_and_seed() -> None:
    body = images.build_generate(catalog.model("wan2.6-t2i"), "p", n=2, negative="text", seed=9).json
    assert body == {"model": "wan2.6-t2i", "input": {"messages": [{"role": "user", "content": [{"text": "p"}]}]},
                    "parameters": {"size": "1280*1280", "n": 2, "negative_prompt": "text", "seed": 9,
                                   "watermark": False, "stream": False}}
    with pytest.raises(UnsupportedOptionError, match=r"1 to 4 image"):
        images.build_generate(catalog.model("wan2.6-t2i"), "p", n=5)


def test_gemini_image_generation_and_size_mapping() -> None:
    m = catalog.model("gemini-3-pro-image-preview")
    call = images.build_generate(m, "a banana", size="16:9 2K")
    assert call.path == "/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert call.json == {"contents": [{"role": "user", "parts": [{"text": "a banana"}]}],
                         "generationConfig": {"responseModalities": ["TEXT", "IMAGE"],
                                              "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}}
    cfg = images.build_generate(m, "p", size="1920x1080").json["generationConfig"]  # type: ignore[index]
    assert cfg["imageConfig"] == {"aspectRatio": "16:9"}
    plain = images.build_generate(catalog.model("nano-banana"), "p").json
    assert plain is not None and "imageConfig" not in plain["generationConfig"]
    with pytest.raises(UnsupportedOptionError, match=r"gemini-2\.5-flash-image does not accept size='4K'"):
        images.build_generate(catalog.model("gemini-2.5-flash-image"), "p", size="4K")
    with pytest.raises(UnsupportedOptionError, match=r"allowed: 1:1, 2:3"):
        images.build_generate(m, "p", size="7:5")


def test_option_validation_messages() -> None:
    with pytest.raises(UnsupportedOptionError, match="does not take the option 'negative'"):
        images.build_generate(catalog.model("gpt-image-2"), "p", negative="x")
    with pytest.raises(UnsupportedOptionError, match="does not take the option 'seed'"):
        images.build_generate(catalog.model("gpt-image-2"), "p", seed=1)
    with pytest.raises(UnsupportedOptionError, match=r"quality='ultra'; allowed: low, medium, high, auto"):
        images.build_generate(catalog.model("gpt-image-2"), "p", quality="ultra")
    with pytest.raises(UnsupportedOptionError, match="response_format"):
        images.build_generate(catalog.model("gpt-image-2"), "p", response_format="b64_json")
    with pytest.raises(InputError, match="prompt is empty"):
        images.build_generate(catalog.model("gpt-image-2"), "  ")
    with pytest.raises(UnsupportedOptionError, match="not an image model"):
        images.build_generate(catalog.model("gpt-5.2"), "p")


def test_extra_and_raw() -> None:
    m = catalog.model("wan2.6-t2i")
    body = images.build_generate(m, "p", extra={"parameters": {"prompt_extend": True}, "x": 1}).json
    assert body is not None
    assert body["parameters"]["prompt_extend"] is True and body["parameters"]["size"] == "1280*1280"
    assert body["x"] == 1
    assert images.build_generate(m, "p", raw={"model": "m", "anything": 1}).json == {"model": "m", "anything": 1}


# --- edits ---------------------------------------------------------------------------------------------------


def test_gpt_image_edit_is_multipart_with_image_array_and_mask() -> None:
    call = images.build_edit(catalog.model("GPT Image-2(图片编辑)"), [(PNG, "image/png"), (PNG, "image/jpeg")],
                             "add a hat", mask=(PNG, "image/png"), n=1, extra={"input_fidelity": "high"})
    assert (call.path, call.json) == ("/v1/images/edits", None)
    # issue #12: no forced 1024x1024 — without size= the service keeps the input's aspect
    assert call.data == {"model": "gpt-image-2", "prompt": "add a hat", "n": "1", "input_fidelity": "high"}
    sized = images.build_edit(catalog.model("gpt-image-1.5"), [(PNG, "image/png")], "p", size="1536x1024")
    assert sized.data is not None and sized.data["size"] == "1536x1024"
    assert [(f.field, f.filename, f.content_type) for f in call.files] == [
        ("image[]", "image_0.png", "image/png"), ("image[]", "image_1.jpg", "image/jpeg"),
        ("mask", "mask.png", "image/png")]
    assert call.files[0].data == PNG


def test_dalle2_edit_uses_single_image_field() -> None:
    call = images.build_edit(catalog.model("dall-e-2"), [(PNG, "image/png")], "p")
    assert [f.field for f in call.files] == ["image"]
    with pytest.raises(UnsupportedOptionError, match="at most 1 input image"):
        images.build_edit(catalog.model("dall-e-2"), [(PNG, "image/png")] * 2, "p")
    with pytest.raises(InputError, match="needs the image bytes"):
        images.build_edit(catalog.model("dall-e-2"), ["https://x/y.png"], "p")


def test_seedream_edit_sends_data_urls_in_the_generation_call() -> None:
    m = catalog.model("doubao-seedream-4-0-250828(图片编辑)")
    one = images.build_edit(m, [(PNG, "image/png")], "make it night")
    assert one.path == "/v1/images/generations"
    assert one.json is not None and one.json["image"] == PNG_URL
    two = images.build_edit(m, [(PNG, "image/png"), "https://x/ref.jpg"], "merge")
    assert two.json is not None and two.json["image"] == [PNG_URL, "https://x/ref.jpg"]
    with pytest.raises(UnsupportedOptionError, match=r"does not take a mask.*gpt-image-2"):
        images.build_edit(m, [(PNG, "image/png")], "p", mask=(PNG, "image/png"))


def test_wan_and_qwen_edit_bodies() -> None:
    wan = images.build_edit(catalog.model("wan2.6-image(图片编辑)"), [(PNG, "image/png")], "autumn", n=2).json
    assert wan == {"model": "wan2.6-image",
                   "input": {"messages": [{"role": "user", "content": [{"image": PNG_URL}, {"text": "autumn"}]}]},
                   "parameters": {"enable_interleave": False, "size": "1024*1024", "n": 2, "watermark": False,
                                  "stream": False}}
    qwen = images.build_edit(catalog.model("qwen-image-edit-max"), ["https://x/a.png"], "remove text",
                             negative="blur").json
    assert qwen == {"model": "qwen-image-edit-max-2026-01-16",
                    "input": {"messages": [{"role": "user", "content": [{"image": "https://x/a.png"},
                                                                        {"text": "remove text"}]}]},
                    "parameters": {"negative_prompt": "blur", "prompt_extend": True, "watermark": False}}
    with pytest.raises(UnsupportedOptionError, match="at most 3 input image"):
        images.build_edit(catalog.model("qwen-image-edit-max"), [(PNG, "image/png")] * 4, "p")


def test_gemini_edit_inline_parts() -> None:
    call = images.build_edit(catalog.model("gemini-2.5-flash-image"), [(PNG, "image/png")], "recolour", size="1:1")
    assert call.json is not None
    parts = call.json["contents"][0]["parts"]
    assert parts == [{"text": "recolour"}, {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}]
    assert call.json["generationConfig"]["imageConfig"] == {"aspectRatio": "1:1"}


def test_edit_refusals_name_the_models_that_can() -> None:
    with pytest.raises(UnsupportedOptionError, match="dall-e-3 cannot edit images") as exc:
        images.build_edit(catalog.model("dall-e-3"), [(PNG, "image/png")], "p")
    assert "gpt-image-2" in str(exc.value)
    with pytest.raises(InputError, match="No input image"):
        images.build_edit(catalog.model("gpt-image-2"), [], "p")


# --- parsing -------------------------------------------------------------------------------------------------


def test_parse_documented_gpt_image_2_response() -> None:
    reply = images.parse(catalog.model("gpt-image-2"), load("gpt_image_2_response.json"))
    assert [i.url for i in reply.images] == ["https://xxx/generated-image.png"]
    assert reply.usage.input_tokens == 24 and reply.usage.output_tokens == 1000 and reply.usage.total_tokens == 1024
    assert reply.usage.images == 1


def test_parse_documented_wan26_response_url_under_text() -> None:
    reply = images.parse(catalog.model("wan2.6-image"), load("wan26_image_response.json"))
    assert [i.url for i in reply.images] == ["https://api.wanx.example.com/outputs/cherry_blossom_river_01.png"]
    assert reply.text.startswith("为您生成了")
    assert reply.usage.total_tokens == 1500


def test_parse_newapi_metadata_choices_after_empty_data() -> None:
    reply = images.parse(None, load("wan_newapi_metadata_response.json"))
    assert [i.url for i in reply.images] == ["https://dashscope.example.com/a.png"]
    assert reply.text == "done"
    assert reply.usage.images == 1


def test_parse_output_choices_and_results() -> None:
    raw = load("wan_newapi_metadata_response.json")["metadata"]
    assert images.parse(None, raw).images[0].url == "https://dashscope.example.com/a.png"
    reply = images.parse(None, load("dashscope_results_response.json"))
    assert [i.url for i in reply.images] == ["https://dashscope.example.com/r1.png", "https://dashscope.example.com/r2.png"]
    assert reply.usage.images == 2


def test_parse_seedream_sets() -> None:
    reply = images.parse(None, load("seedream_response.json"))
    assert len(reply.images) == 2 and reply.usage.images == 2 and reply.usage.output_tokens == 32768


def test_an_item_with_no_image_to_read_is_named_not_left_out() -> None:
    """A relay's image list whose items hold a number for a URL, broken base64, nothing or no object: each is an
    image paid for and not delivered, counted and named by its place, never silently dropped."""
    good = {"url": "https://cdn.example/a.png"}
    body = {"data": [good, {"url": 5}, {"b64_json": "%%%"}, "x", {"revised_prompt": "a hat"}, {"url": None},
                     {"url": " "}]}
    reply = images.parse(catalog.model("gpt-image-2"), body)
    assert [i.url for i in reply.images] == ["https://cdn.example/a.png"]
    assert reply.unreadable == [(1, "its url is a number"), (2, "its b64_json is not base64"),
                                (3, "the item is a text, not an object"), (4, "it has no url or b64_json"),
                                (5, "its url is null"), (6, "its url is empty")]
    assert reply.usage.images == 7  # every item of the answer was paid for
    # the images found elsewhere (DashScope's output) make a data[] of something else no loss
    dash = images.parse(None, {"data": [{"id": 1}], "output": {"results": [{"url": "https://d.example/r.png"}]}})
    assert [i.url for i in dash.images] == ["https://d.example/r.png"] and dash.unreadable == []


def test_empty_url_falls_back_to_b64() -> None:
    body = {"data": [{"url": "", "b64_json": base64.b64encode(PNG).decode(), "revised_prompt": "a hat"}]}
    ref = images.parse(None, body).images[0]
    assert ref.url is None and ref.data == PNG and ref.mime == "image/png" and ref.revised_prompt == "a hat"


def test_parse_gemini_inline_data_both_spellings() -> None:
    reply = images.parse(None, load("gemini_image_response.json"))
    assert len(reply.images) == 1 and reply.images[0].data is not None and reply.images[0].data.startswith(b"\x89PNG")
    assert reply.text == "Here is your image."
    assert reply.usage.input_tokens == 10 and reply.usage.total_tokens == 1300
    snake = {"candidates": [{"content": {"parts": [{"inline_data": {"mime_type": "image/jpeg",
                                                                      "data": base64.b64encode(b"\xff\xd8\xff").decode()}}]}}]}
    ref = images.parse(None, snake).images[0]
    assert ref.mime == "image/jpeg" and ref.data == b"\xff\xd8\xff"


def test_parse_gemini_markdown_url_is_read_first() -> None:
    """§10.4: Tokenhot's Gemini image answer is a Markdown URL in the text part; it wins over inlineData."""
    body = {"candidates": [{"content": {"parts": [
        {"text": "Here it is:\n\n![image](https://cdn.example.com/a.png)"},
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}]}}]}
    reply = images.parse(catalog.model("nano-banana-pro"), body)
    assert [r.url for r in reply.images] == ["https://cdn.example.com/a.png"] and reply.text == "Here it is:"
    inline_only = {"candidates": [{"content": {"parts": [
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}]}}]}
    assert images.parse(None, inline_only).images[0].data == PNG


def test_parse_qwen_output_list_first() -> None:
    body = {"output": [{"type": "message", "content": [{"type": "text", "text": "ok"},
                                                        {"type": "image", "text": "https://o/1.png"}]}],
            "data": [{"url": "https://d/2.png"}]}
    assert images.parse(catalog.model("qwen-image-max"), body).images[0].url == "https://o/1.png"
    choices = {"output": {"choices": [{"message": {"content": [{"image": "https://c/3.png"}]}}]}}
    assert images.parse(catalog.model("qwen-image-max"), choices).images[0].url == "https://c/3.png"
    assert images.parse(catalog.model("qwen-image-max"), {"data": [{"url": "https://d/2.png"}]}).images[0].url \
        == "https://d/2.png"


def test_parse_gemini_text_with_data_uri_or_url() -> None:
    md = {"candidates": [{"content": {"parts": [{"text": f"Here you go ![img]({PNG_URL}) enjoy"}]}}]}
    ref = images.parse(None, md).images[0]
    assert ref.data == PNG and ref.url is None
    link = {"candidates": [{"content": {"parts": [{"text": "Image: https://cdn.example.com/x.png."}]}}]}
    assert images.parse(None, link).images[0].url == "https://cdn.example.com/x.png"


def test_parse_nothing_found() -> None:
    reply = images.parse(None, {"created": 1, "data": []})
    assert reply.images == [] and reply.usage.images == 0
    assert images.parse(None, "not json").images == []


@pytest.mark.parametrize(("model", "body"), [
    ("gemini-2.5-flash-image", {"candidates": [{"content": {"parts": [{"text": "I can't make that image."}]}}]}),
    ("qwen-image-max", {"output": {"choices": [{"message": {"content": [{"text": "I can't make that image."}]}}]}}),
])
def test_a_refusal_without_an_image_keeps_the_models_words(model: str, body: dict[str, Any]) -> None:
    """Each later reading of the reply replaced the text found so far, so a refusal read as "answered without any
    image." with the model's reason gone."""
    reply = images.parse(catalog.model(model), body)
    assert reply.images == [] and reply.text == "I can't make that image."
