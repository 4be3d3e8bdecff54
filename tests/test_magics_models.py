"""``%th_models``: the session's service as a table (source, price), ``--refresh``, ``--builtin``."""

from __future__ import annotations

from typing import Any

import pytest
from test_magics import ip, offline, run  # noqa: F401  (fixtures)

from tokenhot_nb.sim import _pricing


def test_th_models_lists_live_models_with_source_and_price(ip: Any, offline: Any) -> None:  # noqa: F811
    res, _ = run(ip, "%th_models deepseek")
    text = res.result._repr_mimebundle_()["text/plain"]
    assert "deepseek-v4-pro" in text and "live" in text and "$0.56/M in" in text
    html = res.result._repr_mimebundle_()["text/html"]
    assert "<th" in html and "source" in html and "price" in html
    res, _ = run(ip, "%th_models gpt-image-2")
    assert "both" in res.result.text() and "$0.028/call" in res.result.text()
    res, _ = run(ip, "%th_models --kind video")
    assert {r[1] for r in res.result.rows} == {"video"}


def test_th_models_builtin_and_refresh(ip: Any, offline: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    res, _ = run(ip, "%th_models deepseek --builtin")
    assert len(res.result) == 0 and "No model matches" in res.result.text()
    # the service starts listing a model of a protocol no Session method speaks
    monkeypatch.setattr(_pricing, "PRICING", [*_pricing.PRICING, {
        "model_name": "suno-v4", "quota_type": 1, "model_price": 0.1, "supported_endpoint_types": ["suno"],
        "input_modalities": ["文本"]}])
    res, _ = run(ip, "%th_models --refresh")
    assert res.error_in_exec is None and "read just now" in res.result.title
    res, _ = run(ip, "%th_models suno")  # listed by the service, protocol unknown: shown, with the way out
    assert len(res.result) == 1 and "protocol unknown (endpoint types: suno" in res.result.text()
    assert "family=" in res.result.html()


def test_th_models_lists_the_embeddings_kind(ip: Any, offline: Any) -> None:  # noqa: F811
    res, _ = run(ip, "%th_models --kind embed")
    assert [r[:4] for r in res.result.rows] == [["jina-embeddings-v4", "embed", "openai-embeddings", "both"]]
    assert "$0.05/M in" in res.result.text() and "/M out" not in res.result.text()  # no output tokens
    res, _ = run(ip, "%th_models jina-embeddings")  # the service's embeddings row is a model like any other now
    assert len(res.result) == 1 and "protocol unknown" not in res.result.text()
    res, _ = run(ip, "%th_config --default-embed jina-v4")  # an alias: stored as the id
    assert res.error_in_exec is None and offline.defaults["embed"] == "jina-embeddings-v4"


def test_th_models_lists_the_rerank_kind(ip: Any, offline: Any) -> None:  # noqa: F811
    res, _ = run(ip, "%th_models --kind rerank")
    assert [r[:4] for r in res.result.rows] == [["jina-reranker-m0", "rerank", "jina-rerank", "both"]]
    assert "$0.02/M in" in res.result.text() and "/M out" not in res.result.text()  # billed for input only
    res, _ = run(ip, "%th_config --default-rerank jina-reranker")  # an alias: stored as the id
    assert res.error_in_exec is None and offline.defaults["rerank"] == "jina-reranker-m0"


def test_the_magics_kind_lists_are_the_packages_own() -> None:
    """``_args`` writes its kind lists out (``%load_ext`` must not import the history or the catalogue): they
    must stay what those modules say, or a kind added there is missing from ``--kind`` and ``--default-…``."""
    from tokenhot_nb import catalog
    from tokenhot_nb.history._validate import KINDS as METHOD_KINDS
    from tokenhot_nb.magics import _args

    assert _args.KINDS == METHOD_KINDS and _args.MODEL_KINDS == catalog.KINDS


@pytest.mark.parametrize("line", ["%th_models --kind nope", "%th_models --refresh=yes"])
def test_th_models_bad_options_are_one_line(ip: Any, offline: Any, line: str) -> None:  # noqa: F811
    _, cap = run(ip, line)
    shown = cap.stdout + cap.stderr + "".join(str(o.data) for o in cap.outputs)
    assert "Traceback" not in shown and ("nope" in shown or "--refresh" in shown), shown


def test_a_default_of_another_kind_is_named_as_such(ip: Any, offline: Any) -> None:  # noqa: F811
    """``--default-chat dall-e-3`` used to say "Unknown chat model 'dall-e-3'", as if it did not exist."""
    _, cap = run(ip, "%th_config --default-chat dall-e-3")
    text = " ".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "dall-e-3 is an image model, not a chat one" in text and "--default-image dall-e-3" in text
    assert "Unknown" not in text and "chat" not in offline.defaults
    _, cap = run(ip, "%th_config --default-image dall-e3")  # a near miss still suggests the close one
    assert "Did you mean 'dall-e-3'" in " ".join(o.data.get("text/plain", "") for o in cap.outputs)


def test_a_default_hint_never_pastes_a_service_id_into_a_magic_line(
        ip: Any, offline: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """The "use --default-image ID" hint wrote the service's model id into a magic line, where IPython evaluates
    ``{…}`` before the magic runs: an id that is not one plain word gets a Python line built with ``repr``."""
    from tokenhot_nb.errors import UnsupportedOptionError
    from tokenhot_nb.magics._config_magic import _default

    evil = "pic.{__import__('os').getpid()}"
    monkeypatch.setattr(_pricing, "PRICING", [*_pricing.PRICING, {
        "model_name": evil, "quota_type": 1, "model_price": 0.01, "supported_endpoint_types": ["image-generation"],
        "input_modalities": ["文本"], "output_modalities": ["图片"]}])
    run(ip, "%th_models --refresh")
    with pytest.raises(UnsupportedOptionError) as got:
        _default(offline, evil.replace(".", "-"), "chat")  # the user's spelling resolves to the service's id
    hint = got.value.hint or ""
    assert "--default-image" not in hint and f"tokenhot_nb.session().defaults['image'] = {evil!r}" in hint
    with pytest.raises(UnsupportedOptionError) as got:  # a plain id keeps the magic's own spelling
        _default(offline, "dall-e-3", "chat")
    assert "Use --default-image dall-e-3," in (got.value.hint or "")


def test_a_default_may_be_a_model_only_the_service_lists(ip: Any, offline: Any) -> None:  # noqa: F811
    """``-m deepseek-v4-pro`` worked but ``--default-chat deepseek-v4-pro`` said "Unknown chat model": the default
    was looked up in the built-in catalogue only."""
    res, _ = run(ip, "%th_config --default-chat deepseek-v4-pro")
    assert res.error_in_exec is None and offline.defaults["chat"] == "deepseek-v4-pro"
    _, cap = run(ip, "%th_config --default-audio whisper-1")  # a transcriber is no voice for %%th_audio
    assert "whisper-1 turns speech into text" in " ".join(o.data.get("text/plain", "") for o in cap.outputs)
    assert "audio" not in offline.defaults
