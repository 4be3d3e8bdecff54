"""families/embeddings.py: the /v1/embeddings body, the input checks, and the answer read in both forms."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

from tokenhot_nb import catalog
from tokenhot_nb.errors import APIError, InputError, UnsupportedOptionError
from tokenhot_nb.families import embeddings
from tokenhot_nb.families._types import EmbeddingReply

JINA = catalog.model("jina-embeddings-v4")


def floats(reply: EmbeddingReply) -> list[list[float]]:
    flat = list(struct.unpack(f"<{len(reply.data) // 4}f", reply.data))
    return [flat[i * reply.dimensions:(i + 1) * reply.dimensions] for i in range(reply.count)]


def b64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def answer(*vectors: Any, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"object": "list", "model": "jina-embeddings-v4",
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": usage or {"prompt_tokens": 7, "total_tokens": 7}}


# ----------------------------------------------------------------------------- the request


def test_build_sends_the_texts_as_given_and_asks_for_floats() -> None:
    one = embeddings.build(JINA, "a single text")
    assert (one.method, one.path) == ("POST", "/v1/embeddings")
    assert one.json == {"model": "jina-embeddings-v4", "input": "a single text", "encoding_format": "float"}
    many = embeddings.build(JINA, ("first", "second"), dimensions=256)
    assert many.json == {"model": "jina-embeddings-v4", "input": ["first", "second"], "encoding_format": "float",
                         "dimensions": 256}
    packed = embeddings.build(JINA, ["x"], extra={"encoding_format": "base64", "task": "retrieval.query"})
    assert packed.json is not None and packed.json["encoding_format"] == "base64"
    assert packed.json["task"] == "retrieval.query"  # a vendor option goes through as it is
    assert embeddings.build(JINA, ["x"], raw={"model": "m", "input": ["y", "z"]}).json == {"model": "m",
                                                                                          "input": ["y", "z"]}


@pytest.mark.parametrize(("texts", "words"), [
    ([], "empty"), ((), "empty"), ("", "empty"), ("   ", "empty"), (["ok", ""], "Text 1 is empty"),
    (["ok", 3], "Text 1 is a int"), ([None], "Text 0 is a NoneType"), (None, "not NoneType"),
    (42, "not int"), (b"bytes", "not bytes"), ({"a": 1}, "not dict"),
])
def test_bad_texts_are_one_line_before_any_request(texts: Any, words: str) -> None:
    with pytest.raises(InputError) as exc:
        embeddings.build(JINA, texts)
    assert words in exc.value.message and "\n" not in str(exc.value)


@pytest.mark.parametrize(("dimensions", "error", "words"), [
    (0, InputError, "at least 1"), (-3, InputError, "at least 1"), (2.5, InputError, "whole number"),
    (True, InputError, "whole number"), ("64", InputError, "whole number"),
    (2049, UnsupportedOptionError, "at most 2048"),
])
def test_dimensions_are_checked_against_the_model(dimensions: Any, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as exc:
        embeddings.build(JINA, "x", dimensions=dimensions)
    assert words in str(exc.value) and "\n" not in str(exc.value)
    assert embeddings.build(JINA, "x", dimensions=2048).json["dimensions"] == 2048  # type: ignore[index]


def test_a_live_embeddings_model_is_data_and_other_kinds_are_refused() -> None:
    fresh = catalog.model("bge-m3", family="openai-embeddings")  # a new model of the same protocol: data only
    assert fresh.kind == "embed" and embeddings.build(fresh, "x", dimensions=4096).json["dimensions"] == 4096  # type: ignore[index]
    with pytest.raises(UnsupportedOptionError, match="does not make embeddings"):
        embeddings.build(catalog.model("gpt-5.2"), "x")
    with pytest.raises(UnsupportedOptionError, match="encoding_format"):
        embeddings.build(JINA, "x", extra={"encoding_format": "binary"})


def test_sent_count() -> None:
    assert embeddings.sent_count({"input": "x"}) == 1
    assert embeddings.sent_count({"input": ["a", "b", "c"]}) == 3
    assert embeddings.sent_count({"inputs": ["a"]}) is None and embeddings.sent_count(None) is None


# ----------------------------------------------------------------------------- the answer


def test_float_and_base64_answers_read_alike_in_index_order() -> None:
    a, b = [0.5, -0.25, 0.125], [1.0, 2.0, -3.5]
    plain = embeddings.parse(answer(a, b), expected=2)
    packed = embeddings.parse(answer(b64(a), b64(b)), expected=2)
    assert (plain.count, plain.dimensions, plain.model) == (2, 3, "jina-embeddings-v4")
    assert floats(plain) == floats(packed) == [a, b]
    assert plain.data == packed.data and len(plain.data) == 2 * 3 * 4
    assert (plain.usage.input_tokens, plain.usage.output_tokens, plain.usage.total_tokens) == (7, 0, 7)
    shuffled = answer(a, b)
    shuffled["data"].reverse()  # index 1 first: the order is the index, not the position
    assert floats(embeddings.parse(shuffled, expected=2)) == [a, b]
    mixed = answer(a, b64(b))  # one relay, two forms: still read
    assert floats(embeddings.parse(mixed)) == [a, b]


def test_items_without_an_index_keep_their_position() -> None:
    body = {"data": [{"embedding": [1.0, 0.0]}, {"embedding": [0.0, 1.0]}]}
    reply = embeddings.parse(body, expected=2)
    assert floats(reply) == [[1.0, 0.0], [0.0, 1.0]] and reply.model is None and reply.usage.input_tokens == 0
    with pytest.raises(APIError, match="no vectors"):  # nothing to compare with (a raw= body): still refused
        embeddings.parse({"data": []})


def test_numbers_are_kept_as_float32() -> None:
    reply = embeddings.parse(answer([0.1, 1e-3]))
    assert floats(reply) == [list(struct.unpack("<2f", struct.pack("<2f", 0.1, 1e-3)))]


@pytest.mark.parametrize(("body", "words"), [
    (None, "not an object"), ([], "not an object"), ({"object": "list"}, "no 'data' list"),
    ({"data": []}, "0 vector(s) for 2 text(s)"),
    (answer([1.0]), "1 vector(s) for 2 text(s)"),
    (answer([1.0], [2.0], [3.0]), "3 vector(s) for 2 text(s)"),
    ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]}, "index 0 appears twice"),
    ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 5, "embedding": [2.0]}]}, "index 5, outside 0 to 1"),
    ({"data": [{"index": "0", "embedding": [1.0]}, {"index": 1, "embedding": [2.0]}]}, "index '0'"),
    ({"data": [1, 2]}, "item 0 of 'data' is not an object"),
    (answer([1.0, 2.0], None), "vector 1 is missing"),
    (answer([1.0, 2.0], {"x": 1}), "vector 1 is a dict"),
    (answer([1.0, 2.0], []), "vector 1 is empty"),
    (answer([1.0, 2.0], [1.0, "2"]), "vector 1 holds '2' at position 1, not a number"),
    (answer([1.0, 2.0], [1.0, None]), "not a number"),
    (answer([1.0, 2.0], [1.0, True]), "not a number"),
    (answer([1.0, 2.0], [1.0, float("nan")]), "vector 1 holds a number that is not finite"),
    (answer([1.0, 2.0], [float("inf"), 1.0]), "position 0"),
    (answer([1.0, 2.0], [1e300, 1.0]), "past float32"),
    (answer([1.0, 2.0], [1.0, 10**400]), "vector 1 holds a number too large for a float"),
    (answer([1.0, 2.0], [1.0, 2.0, 3.0]), "vector 1 has 3 numbers but vector 0 has 2"),
    (answer([1.0, 2.0], "not base64!"), "vector 1 is text that is not base64"),
    (answer([1.0, 2.0], base64.b64encode(b"12345").decode()), "5 bytes, not whole float32"),
    (answer([1.0, 2.0], b64([float("nan"), 1.0])), "not finite"),
])
def test_a_broken_answer_is_one_clear_error(body: Any, words: str) -> None:
    with pytest.raises(APIError) as exc:
        embeddings.parse(body, expected=2)
    text = str(exc.value)
    assert words in text and "\n" not in text and "history" in text, text
