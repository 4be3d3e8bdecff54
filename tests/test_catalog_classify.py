"""A model only the service's table knows gets a family from its endpoint types, modalities and id."""

from __future__ import annotations

from typing import Any

import pytest

from tokenhot_nb._catalog_classify import classify, words
from tokenhot_nb._catalog_data import FAMILIES

FAMS: dict[str, dict[str, Any]] = FAMILIES


@pytest.mark.parametrize(("row", "family", "kind"), [
    ({"model_name": "deepseek-v4-pro", "supported_endpoint_types": ["openai"], "output_modalities": ["文本"]},
     "openai-chat", "chat"),
    ({"model_name": "deepseek-v4-pro", "supported_endpoint_types": "openai"}, "openai-chat", "chat"),
    ({"model_name": "claude-opus-5", "supported_endpoint_types": ["openai", "anthropic"]}, "claude", "chat"),
    ({"model_name": "some-model", "supported_endpoint_types": ["anthropic"]}, "claude", "chat"),
    ({"model_name": "gpt-5.5", "supported_endpoint_types": ["openai"]}, "openai-responses", "chat"),
    ({"model_name": "gemini-4-pro", "supported_endpoint_types": ["gemini", "openai"],
      "output_modalities": ["文本"]}, "gemini", "chat"),
    ({"model_name": "nano-banana-3", "supported_endpoint_types": ["gemini"], "output_modalities": ["文本", "图像"]},
     "gemini-image", "image"),
    ({"model_name": "gemini-4-flash-image", "supported_endpoint_types": ["gemini"]}, "gemini-image", "image"),
    ({"model_name": "doubao-seedream-6-0", "supported_endpoint_types": ["image-generation"]}, "seedream", "image"),
    ({"model_name": "acme-painter", "supported_endpoint_types": ["image-generation"]}, "openai-image", "image"),
    ({"model_name": "kling-v3-turbo", "supported_endpoint_types": ["openai-video"],
      "output_modalities": ["视频"]}, "kling", "video"),
    ({"model_name": "kling-v4"}, "kling", "video"),  # the id alone, through the id hints
    ({"model_name": "doubao-seedance-3-0", "output_modalities": ["视频"]}, "seedance", "video"),
    ({"model_name": "wan3.5-video", "supported_endpoint_types": ["openai-video"]}, "wan-video", "video"),
    ({"model_name": "wan3.0-image", "supported_endpoint_types": ["image-generation"]}, "wan-image", "image"),
    ({"model_name": "mystery-video-1", "supported_endpoint_types": ["openai-video"]}, "video-generic", "video"),
    ({"model_name": "mimo-v2.5-tts", "supported_endpoint_types": ["openai"], "output_modalities": ["音频"]},
     "openai-tts", "audio"),
    ({"model_name": "sensevoice", "input_modalities": ["音频"], "output_modalities": ["文本"]}, "whisper", "audio"),
    # embeddings: the endpoint type names the kind, though Tokenhot writes the vectors' modality as 文本 (text)
    ({"model_name": "jina-embeddings-v4", "supported_endpoint_types": ["embeddings"], "input_modalities": ["文本", "图像"],
      "output_modalities": ["文本"]}, "openai-embeddings", "embed"),
    ({"model_name": "bge-m3", "supported_endpoint_types": ["embedding"]}, "openai-embeddings", "embed"),
    ({"model_name": "text-embedding-3-small"}, "openai-embeddings", "embed"),  # the id alone
    # a chat model that also lists the embeddings route stays a chat model
    ({"model_name": "qwen3-max", "supported_endpoint_types": ["openai", "embeddings"], "output_modalities": ["文本"]},
     "openai-chat", "chat"),
    # rerank: scores, written 文本 like vectors; the endpoint type, else the id's words, says so
    ({"model_name": "jina-reranker-m0", "supported_endpoint_types": ["jina-rerank"], "output_modalities": ["文本"]},
     "jina-rerank", "rerank"),
    ({"model_name": "bge-reranker", "supported_endpoint_types": ["jina-rerank"]}, "jina-rerank", "rerank"),
    ({"model_name": "qwen3-reranker-8b", "supported_endpoint_types": ["rerank"], "input_modalities": ["文本"],
      "output_modalities": ["文本"]}, "jina-rerank", "rerank"),
    ({"model_name": "jina-reranker-v2-base-multilingual"}, "jina-rerank", "rerank"),  # the id alone
])
def test_rows_find_their_family(row: dict[str, Any], family: str, kind: str) -> None:
    verdict = classify(row, FAMS)
    assert (verdict.family, verdict.kind) == (family, kind), verdict


@pytest.mark.parametrize("row", [
    {"model_name": "suno-v4", "supported_endpoint_types": ["suno"], "input_modalities": ["文本"]},
    {"model_name": "deepseek-v4-pro"},  # nothing to go on
    {"model_name": "mystery-video-1", "supported_endpoint_types": ["openai-video"]},  # no generic video family
])
def test_rows_nothing_fits_say_what_was_seen(row: dict[str, Any]) -> None:
    no_generic = {k: v for k, v in FAMS.items() if k != "video-generic"}
    verdict = classify(row, no_generic if "mystery" in row["model_name"] else FAMS)
    assert verdict.family is None
    assert "endpoint types: " + (", ".join(row.get("supported_endpoint_types", [])) or "none") in verdict.seen


def test_a_hint_naming_a_family_that_does_not_exist_is_skipped() -> None:
    fams = {k: v for k, v in FAMS.items() if k != "kling"}
    verdict = classify({"model_name": "kling-v3", "supported_endpoint_types": ["openai-video"]}, fams)
    assert verdict.family == "video-generic"


def test_list_cells_come_as_lists_or_comma_strings() -> None:
    assert words("结构化输出,函数调用，工具调用") == ["结构化输出", "函数调用", "工具调用"]
    assert words(["openai", " gemini ", 3, None, {"x": 1}]) == ["openai", "gemini", "3"]
    assert words(None) == [] and words({"a": 1}) == []


def test_a_variant_extends_a_listed_name_at_a_word_boundary() -> None:
    from tokenhot_nb._catalog_classify import id_words, variant_base

    names = {"doubao-seedance-2-0": "doubao-seedance-2.0", "doubao-seedance-2-0-fast": "doubao-seedance-2.0-fast"}
    assert variant_base("doubao-seedance-2.0-fast-filter-off", names) == ("doubao-seedance-2.0-fast", "-filter-off")
    assert variant_base("doubao-seedance-2-0x", names) == (None, "doubao-seedance-2-0x")  # no word boundary
    assert id_words("-2-0-edit", "image", "qwen-image")[0] == "qwen-image-edit-max-2026-01-16"  # the family's row
    assert id_words("-video-i2v", "video", "video-generic") == (
        None, [{"capabilities": {"first_frame": True, "requires_image": True}}])  # else the kind's
    assert id_words("-credit-tts", "image", "openai-image") == (None, [])  # whole words only
