"""The simulator's model lists: OpenAI, Anthropic and Gemini shapes by credentials, one model by id."""

from __future__ import annotations

import httpx
import pytest

KEY = "sk-sim-models-0123456789"
BEARER = {"Authorization": f"Bearer {KEY}"}
ANTHROPIC = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
GOOG = {"x-goog-api-key": KEY}


def test_openai_list_with_a_bearer_key(sim_url: str) -> None:
    body = httpx.get(sim_url + "/v1/models", headers=BEARER).json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert {"gpt-5.2", "whisper-1", "doubao-seedance-2.0"} <= set(ids) and len(ids) == len(set(ids))
    first = body["data"][0]
    assert first["object"] == "model" and isinstance(first["created"], int) and "owned_by" in first
    assert isinstance(first["supported_endpoint_types"], list)


def test_anthropic_list_with_x_api_key_and_version(sim_url: str) -> None:
    body = httpx.get(sim_url + "/v1/models", headers=ANTHROPIC).json()
    assert body["has_more"] is False and body["first_id"] == body["data"][0]["id"]
    assert body["last_id"] == body["data"][-1]["id"]
    m = body["data"][0]
    assert m["type"] == "model" and m["display_name"] and m["created_at"].endswith("Z")
    # x-api-key alone (no anthropic-version) still authenticates, in OpenAI's shape
    assert httpx.get(sim_url + "/v1/models", headers={"x-api-key": KEY}).json()["object"] == "list"


@pytest.mark.parametrize(("path", "headers", "params"), [
    ("/v1beta/models", GOOG, {}), ("/v1beta/models", {}, {"key": KEY}), ("/v1/models", GOOG, {}),
    ("/v1/models", {}, {"key": KEY})])
def test_gemini_list_by_goog_key_or_query_key(sim_url: str, path: str, headers: dict[str, str],
                                              params: dict[str, str]) -> None:
    r = httpx.get(sim_url + path, headers=headers, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    names = [m["name"] for m in body["models"]]
    assert "models/gemini-2.5-flash" in names and all(n.startswith("models/") for n in names)
    assert "generateContent" in body["models"][0]["supportedGenerationMethods"] and "nextPageToken" in body


def test_one_model_by_id_in_each_shape(sim_url: str) -> None:
    one = httpx.get(sim_url + "/v1/models/gpt-5.2", headers=BEARER).json()
    assert one["id"] == "gpt-5.2" and one["object"] == "model"
    assert httpx.get(sim_url + "/v1/models/gpt-5.2", headers=ANTHROPIC).json()["type"] == "model"
    g = httpx.get(sim_url + "/v1beta/models/gemini-2.5-flash", params={"key": KEY}).json()
    assert g["name"] == "models/gemini-2.5-flash"


def test_an_unknown_model_is_404_in_the_shape_asked(sim_url: str) -> None:
    r = httpx.get(sim_url + "/v1/models/no-such-model", headers=BEARER)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found" and "no-such-model" in r.json()["error"]["message"]
    r = httpx.get(sim_url + "/v1/models/no-such-model", headers=ANTHROPIC)
    assert r.status_code == 404 and r.json()["type"] == "error"
    r = httpx.get(sim_url + "/v1beta/models/no-such-model", headers=GOOG)
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


def test_model_lists_need_a_key(sim_url: str) -> None:
    assert httpx.get(sim_url + "/v1/models").status_code == 401
    assert httpx.get(sim_url + "/v1beta/models").status_code == 401
    assert httpx.get(sim_url + "/v1/models/gpt-5.2").status_code == 401
