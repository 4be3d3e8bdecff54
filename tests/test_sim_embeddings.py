"""The simulator's POST /v1/embeddings over loopback HTTP, checked against the OpenAI embeddings wire format
(read here by hand: struct for base64 float32, never the client's parser)."""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

import httpx
import pytest

from tokenhot_nb.sim._common import count_tokens
from tokenhot_nb.sim._embeddings import DIMENSIONS

#: Some tests here read the simulator's total spending before and after a call: a server of this module's own
#: (tests/conftest.py), none of another module's calls billed in between.
OWN_SIMULATOR = True

MODEL = "jina-embeddings-v4"


def post(url: str, auth: dict[str, str], body: Any, **headers: str) -> httpx.Response:
    return httpx.post(url + "/v1/embeddings", headers={**auth, **headers}, json=body, timeout=60)


def norm(vec: list[float]) -> float:
    return math.sqrt(math.fsum(x * x for x in vec))


def cosine(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


def unpack(text: str) -> list[float]:
    raw = base64.b64decode(text)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def test_floats_one_text_and_many(sim_url: str, auth: dict[str, str]) -> None:
    r = post(sim_url, auth, {"model": MODEL, "input": "a red bicycle"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert (body["object"], body["model"], len(body["data"])) == ("list", MODEL, 1)
    item = body["data"][0]
    assert DIMENSIONS[MODEL] == 2048  # the sim's data: jina-embeddings-v4 makes 2048 numbers
    assert (item["object"], item["index"], len(item["embedding"])) == ("embedding", 0, 2048)
    assert abs(norm(item["embedding"]) - 1) < 1e-5  # a unit vector
    assert body["usage"] == {"prompt_tokens": count_tokens("a red bicycle"), "total_tokens": count_tokens(
        "a red bicycle")}
    texts = ["a red bicycle", "the weather today", "a red bicycle"]
    many = post(sim_url, auth, {"model": MODEL, "input": texts, "encoding_format": "float"}).json()
    assert [d["index"] for d in many["data"]] == [0, 1, 2]
    vecs = [d["embedding"] for d in many["data"]]
    assert vecs[0] == vecs[2] == item["embedding"]  # deterministic: the same text, the same vector
    assert vecs[0] != vecs[1]
    assert many["usage"]["prompt_tokens"] == sum(count_tokens(t) for t in texts)
    assert all(struct.unpack("<f", struct.pack("<f", x))[0] == x for x in vecs[1][:64])  # float32 values


def test_texts_sharing_words_point_closer(sim_url: str, auth: dict[str, str]) -> None:
    texts = ["the cat sat on the mat", "the cat sat on a mat today", "quarterly revenue grew sharply"]
    vecs = [d["embedding"] for d in post(sim_url, auth, {"model": MODEL, "input": texts}).json()["data"]]
    assert cosine(vecs[0], vecs[1]) > 0.5 > abs(cosine(vecs[0], vecs[2]))


def test_base64_is_little_endian_float32_of_the_same_numbers(sim_url: str, auth: dict[str, str]) -> None:
    texts = ["one", "two"]
    plain = post(sim_url, auth, {"model": MODEL, "input": texts}).json()
    packed = post(sim_url, auth, {"model": MODEL, "input": texts, "encoding_format": "base64"}).json()
    for p, q in zip(plain["data"], packed["data"], strict=True):
        assert isinstance(q["embedding"], str) and len(base64.b64decode(q["embedding"])) == 2048 * 4
        assert unpack(q["embedding"]) == p["embedding"]


def test_dimensions_shorten_to_a_unit_prefix(sim_url: str, auth: dict[str, str]) -> None:
    full = post(sim_url, auth, {"model": MODEL, "input": "matryoshka"}).json()["data"][0]["embedding"]
    short = post(sim_url, auth, {"model": MODEL, "input": "matryoshka", "dimensions": 64}).json()["data"][0][
        "embedding"]
    assert len(short) == 64 and abs(norm(short) - 1) < 1e-5
    assert cosine(short, full[:64]) > 0.9999  # the same direction as the full vector's first 64 numbers
    one = post(sim_url, auth, {"model": MODEL, "input": "x", "dimensions": 1}).json()["data"][0]["embedding"]
    assert len(one) == 1 and abs(abs(one[0]) - 1) < 1e-6
    top = post(sim_url, auth, {"model": MODEL, "input": "x", "dimensions": 2048}).json()["data"][0]["embedding"]
    assert len(top) == 2048


@pytest.mark.parametrize(("body", "words"), [
    ({"model": MODEL}, "input is required"),
    ({"model": MODEL, "input": []}, "input must not be empty"),
    ({"model": MODEL, "input": ""}, "input[0] must not be empty"),
    ({"model": MODEL, "input": ["ok", ""]}, "input[1] must not be empty"),
    ({"model": MODEL, "input": ["ok", 7]}, "input[1] must be a string"),
    ({"model": MODEL, "input": [["nested"]]}, "input[0] must be a string"),
    ({"model": MODEL, "input": 7}, "must be a string or an array"),
    ({"model": MODEL, "input": {"text": "x"}}, "must be a string or an array"),
    ({"model": MODEL, "input": "x", "dimensions": 0}, "from 1 to 2048"),
    ({"model": MODEL, "input": "x", "dimensions": 2049}, "from 1 to 2048"),
    ({"model": MODEL, "input": "x", "dimensions": "64"}, "from 1 to 2048"),
    ({"model": MODEL, "input": "x", "dimensions": True}, "from 1 to 2048"),
    ({"model": MODEL, "input": "x", "encoding_format": "binary"}, "encoding_format"),
    ({"model": "gpt-5.2", "input": "x"}, "not an embeddings model"),
    ({"model": "gpt-image-2", "input": "x"}, "not an embeddings model"),
])
def test_refusals_are_400_in_the_openai_envelope(sim_url: str, auth: dict[str, str], body: dict[str, Any],
                                                 words: str) -> None:
    r = post(sim_url, auth, body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert words in err["message"] and "(request id: " in err["message"]
    assert err["type"] == "invalid_request_error" and err["param"] == ""  # the relay's envelope (OpenAI)


def test_the_middleware_refuses_first(sim_url: str, auth: dict[str, str]) -> None:
    missing = post(sim_url, auth, {"input": "x"})
    assert missing.status_code == 400 and "model is required" in missing.json()["error"]["message"]
    assert "param" not in missing.json()["error"]  # the middleware's envelope
    unknown = post(sim_url, auth, {"model": "unknown-embedder", "input": "x"})
    assert unknown.status_code == 503 and unknown.json()["error"]["code"] == "model_not_found"
    assert httpx.post(sim_url + "/v1/embeddings", json={"model": MODEL, "input": "x"}, timeout=30).status_code == 401
    faulted = post(sim_url, auth, {"model": MODEL, "input": "x"},
                   **{"X-Sim-Faults": json.dumps({"fail_first": {"429": 1}})})
    assert faulted.status_code == 429


def test_calls_are_charged_per_input_token(sim_url: str, auth: dict[str, str]) -> None:
    def used() -> float:
        return float(httpx.get(sim_url + "/v1/dashboard/billing/usage", headers=auth, timeout=30)
                     .json()["total_usage"])

    texts = [f"sentence number {i} about embeddings and their many uses in search" for i in range(300)]
    before = used()
    r = post(sim_url, auth, {"model": MODEL, "input": texts, "dimensions": 8})
    tokens = r.json()["usage"]["prompt_tokens"]
    # $0.05 per 1M input tokens (model_ratio 0.025): ratio × tokens quota, in hundredths of ¥ (¥7 per USD)
    quota = round(0.025 * tokens)
    assert quota > 0 and abs(used() - before - quota / 500_000 * 7 * 100) < 1e-6
    before = used()
    assert post(sim_url, auth, {"model": MODEL, "input": [""]}).status_code == 400
    assert used() == before  # a refused call is not charged
