"""Which model a call uses: a live call without a key is refused before anything is sent; a name nothing knows
says what a call takes instead; a model the service does not serve is one clear error."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import httpx
import pytest
from _session_support import Recorder, make_session

import tokenhot_nb
from tokenhot_nb import Session
from tokenhot_nb.catalog import ModelInfo
from tokenhot_nb.errors import MissingKeyError, ModelNotServedError, UnknownModelError, error_parts


def test_a_live_call_without_a_key_is_refused_before_any_request(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKENHOT_API_KEY", raising=False)
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"success": True, "data": []})

    with Session(mode="live", base_url="https://relay.test", store=tmp_path,
                 transport=httpx.MockTransport(handler)) as s:
        for call in (lambda: s.chat("hi"), lambda: s.image("a cat", model="gpt-image-2"),
                     lambda: s.chat("hi", model="deepseek-v4-pro"), lambda: s.embed("x"),
                     lambda: s.compare("hi", models=["deepseek-v4-pro", "gpt-5.2"]),
                     lambda: s.edit(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "make it blue")):  # (the default edit model)
            with pytest.raises(MissingKeyError, match="No Tokenhot API key"):
                call()
        assert sent == []  # not even the (public) price table
        s.estimate("image", "a cat", model="gpt-image-2")  # an estimate needs no key: the table is public
        assert "/api/pricing" in sent and "/v1/images/generations" not in sent


class _NoPriceTable(Recorder):
    """The simulator with its price table down: the session knows only the built-in catalogue."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/pricing":
            return httpx.Response(502, text="<html>502 Bad Gateway</html>", headers={"content-type": "text/html"})
        return await super().handle_async_request(request)


def _suggested(err: UnknownModelError) -> ModelInfo:
    """Run the ``model=…`` the error's hint suggests, as a user would paste it."""
    import tokenhot_nb

    found = re.search(r"model=(tokenhot_nb\.model\([^)]*\))", err.hint)
    assert found is not None, err.hint
    made = eval(found.group(1), {"tokenhot_nb": tokenhot_nb})  # the hint's own code
    assert isinstance(made, ModelInfo)
    return made


def test_the_hint_for_an_unknown_name_is_code_that_works(tmp_path: Path) -> None:
    """The hint used to say "name its family: tokenhot_nb.model(…)"; retrying with the name raised the same
    error. It now names what a call takes, and that works for a model the service sells."""
    with make_session(tmp_path / "a", _NoPriceTable()) as s, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (the table being down is said once)
        with pytest.raises(UnknownModelError) as exc:
            s.chat("hi", model="deepseek-v4-pro", stream=False)
        res = s.chat("hi", model=_suggested(exc.value), stream=False)
        assert res.text and res.entry.params["model"] == {"id": "deepseek-v4-pro", "family": "openai-chat"}


def test_a_model_no_channel_serves_is_one_clear_error_naming_it(tmp_path: Path) -> None:
    """The simulator served any id not naming "unknown"; the service refuses a model no channel serves (new-api's
    distributor: 503 model_not_found), and so does the simulator now: one error, naming the model."""
    rec = Recorder()
    with make_session(tmp_path / "b", rec) as s:
        with pytest.raises(UnknownModelError) as exc:
            s.image("a", model="gpt-imag-2")
        assert "did you mean 'gpt-image-2'" in str(exc.value).lower()
        with pytest.raises(ModelNotServedError) as refused:
            s.image("a", model=_suggested(exc.value))
        err = refused.value
        assert (err.status, err.code, err.model) == (503, "model_not_found", "gpt-imag-2")
        assert "'gpt-imag-2'" in err.hint and "Did you mean 'gpt-image-2'" in err.hint
        assert "gpt-imag-2" in err.message and error_parts(err)[0] == "No channel serves this model"
        assert s.history[-1].status == "error"  # recorded, as every refusal is
        assert len(rec.posts("/v1/images/generations")) == 1  # the service said it, once: asked again, it says it
        with pytest.raises(ModelNotServedError):                # again (it was retried twice, 1.4 s for nothing)
            s.chat("hi", model=tokenhot_nb.model("gpt-5-typo", family="openai-chat"), stream=False)
        assert len(rec.posts("/v1/chat/completions")) == 1
