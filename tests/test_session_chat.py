"""Chat through the Session: menu entries that name an endpoint, options refused before any request."""

from __future__ import annotations

import pytest
from _session_support import Recorder

from tokenhot_nb import Session
from tokenhot_nb.errors import UnsupportedOptionError


@pytest.mark.parametrize(("entry", "mid"), [("GPT 5(Responses)", "gpt-5"), ("GPT 5.2(Responses)", "gpt-5.2"),
                                            ("GPT 5.4(Responses)", "gpt-5.4")])
def test_a_responses_menu_entry_goes_to_the_responses_endpoint(s: Session, rec: Recorder, entry: str,
                                                               mid: str) -> None:
    res = s.chat("Which endpoint?", model=entry, thread=False)
    assert [r["path"] for r in rec.posts()] == ["/v1/responses"]
    assert rec.json()["model"] == mid and res.entry.endpoint == "responses"
    assert res.entry.params["endpoint"] == "responses" and "Which endpoint?" in res.text
    plain = s.chat("Which endpoint?", model=mid, thread=False, stream=False)
    assert rec.posts()[-1]["path"] == "/v1/chat/completions" and plain.entry.endpoint == "chat.completions"
    explicit = s.chat("Which endpoint?", model=entry, thread=False, endpoint="chat")  # the call's own choice wins
    assert explicit.entry.endpoint == "chat.completions"


def test_the_streaming_gemini_menu_entry_streams(s: Session, rec: Recorder) -> None:
    s.chat("Stream me", model="gemini-3.1-pro-preview(流式)", thread=False, stream=False)
    assert rec.posts()[-1]["path"].endswith(":streamGenerateContent")


def test_temperature_on_the_gpt5_family_is_refused_before_any_request(s: Session, rec: Recorder) -> None:
    with pytest.raises(UnsupportedOptionError, match=r"gpt-5\.4 does not take temperature"):
        s.chat("hi", model="gpt-5.4", temperature=0.2)
    with pytest.raises(UnsupportedOptionError, match=r"reasoning_effort='extreme'; allowed: none, minimal"):
        s.chat("hi", model="GPT 5.2(Responses)", reasoning_effort="extreme")
    with pytest.raises(UnsupportedOptionError, match=r"gpt-5 does not accept reasoning_effort='xhigh'"):
        s.chat("hi", model="gpt-5", reasoning={"effort": "xhigh"}, endpoint="responses")
    assert rec.posts() == []
    refused = [e for e in s.history if e.kind == "chat"]
    assert len(refused) == 3 and all(e.status == "error" and e.endpoint == "" for e in refused)
    ok = s.chat("hi", model="gpt-5.4", reasoning_effort="HIGH", temperature=None, thread=False)
    assert ok.entry.status == "ok" and rec.json()["reasoning_effort"] == "high"  # the catalogue spelling
    assert s.chat("hi", model="claude-sonnet", temperature=0.2, thread=False).entry.status == "ok"


def test_the_simulator_refuses_temperature_on_gpt5_like_the_service(s: Session) -> None:
    from tokenhot_nb.errors import APIError

    with pytest.raises(APIError, match="temperature") as info:
        s.chat("hi", model="gpt-5", raw={"model": "gpt-5", "temperature": 0.3,
                                         "messages": [{"role": "user", "content": "hi"}]}, stream=False,
               thread=False)
    assert info.value.status == 400
