"""Chat through the Session: menu entries that name an endpoint, options refused before any request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import Session
from tokenhot_nb.errors import InputError, QuotaExhaustedError, UnsupportedOptionError
from tokenhot_nb.families._types import ChatDelta


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


# --- structured output --------------------------------------------------------------------------------------

pydantic = pytest.importorskip("pydantic")


class City(pydantic.BaseModel):
    name: str
    population: int
    tags: list[str]


CITY_SCHEMA = {"title": "City", "type": "object", "required": ["name", "population"],
               "properties": {"name": {"type": "string"}, "population": {"type": "integer", "minimum": 0}}}

#: (model, the path the request goes to, where the schema is in the body)
SCHEMA_FORMS = [
    ("gpt-5.2", "/v1/chat/completions", lambda b: b["response_format"]["json_schema"]["schema"]),
    ("GPT 5.2(Responses)", "/v1/responses", lambda b: b["text"]["format"]["schema"]),
    ("claude-opus-4-6-cc", "/v1/messages", lambda b: next(t["input_schema"] for t in b["tools"]
                                                           if t["name"] == b["tool_choice"]["name"])),
    ("gemini-2.5-flash", "enerateContent", lambda b: b["generationConfig"]["responseSchema"]),
]


@pytest.mark.parametrize(("model", "path", "where"), SCHEMA_FORMS)
@pytest.mark.parametrize("stream", [False, True])
def test_schema_is_sent_per_endpoint_and_comes_back_as_data(s: Session, rec: Recorder, model: str, path: str,
                                                            where: Any, stream: bool) -> None:
    res = s.chat("Describe Paris", model=model, schema=City, thread=False, stream=stream)
    body = rec.json()
    assert path in rec.posts()[-1]["path"]
    sent = where(body)
    assert set(sent["properties"]) == {"name", "population", "tags"}
    assert isinstance(res.data, City) and res.data.population >= 0 and res.data.tags
    assert City.model_validate_json(res.text) == res.data  # the text is the JSON itself (also on Claude)
    assert res.entry.params["schema"]["title"] == "City" and res.tool_calls == []
    d = s.chat("Describe Lyon", model=model, schema=CITY_SCHEMA, thread=False, stream=stream)
    assert isinstance(d.data, dict) and isinstance(d.data["population"], int) and d.data["population"] >= 0


def test_json_mode_per_endpoint(s: Session, rec: Recorder) -> None:
    for model, check in [("gpt-5.2", lambda b: b["response_format"] == {"type": "json_object"}),
                         ("GPT 5(Responses)", lambda b: b["text"] == {"format": {"type": "json_object"}}),
                         ("gemini-2.5-pro", lambda b: b["generationConfig"]["responseMimeType"] == "application/json"),
                         ("claude-opus-4-6-cc", lambda b: b["tool_choice"]["type"] == "tool")]:
        res = s.chat("list three colours", model=model, json=True, thread=False)
        assert check(rec.json()), model
        assert isinstance(res.data, dict) and res.data and res.entry.params["json"] is True


class _Answers(Recorder):
    """The simulator, except that chat answers are the given text (a model that ignores the schema)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    async def handle_async_request(self, request: Any) -> Any:
        import httpx

        if request.url.path == "/v1/chat/completions":
            await request.aread()
            return httpx.Response(200, json={"object": "chat.completion", "model": "gpt-5.2", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": self.text}, "finish_reason": "stop"}]})
        return await super().handle_async_request(request)


@pytest.mark.parametrize(("answer", "match"), [('{"name": "Paris"}', r"population: Field required"),
                                               ("Paris is big.", "not JSON"),
                                               ('{"name": "Paris", "population": -3, "tags": []}', None)])
def test_an_answer_that_does_not_fit_says_so_and_is_kept(tmp_path: Any, answer: str, match: str | None) -> None:
    from _session_support import make_session

    from tokenhot_nb.errors import SchemaMismatchError

    s = make_session(tmp_path / "st", _Answers(answer))
    if match is None:  # pydantic model: any int fits; the dict schema's minimum does not
        assert s.chat("x", schema=City, stream=False, thread=False).data.population == -3
        with pytest.raises(SchemaMismatchError, match=r"population: -3 is less than the minimum of 0"):
            s.chat("x", schema=CITY_SCHEMA, stream=False, thread=False)
    else:
        with pytest.raises(SchemaMismatchError, match=match) as info:
            s.chat("x", schema=City, stream=False, thread=False)
        assert info.value.result.text == answer and info.value.result.entry.status == "ok"
    s.close()


def test_bad_schemas_are_refused_before_any_request(s: Session, rec: Recorder) -> None:
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match="pydantic model class or a JSON-schema dict"):
        s.chat("x", schema="City")
    with pytest.raises(InputError, match="not a valid JSON schema"):
        s.chat("x", schema={"type": "objekt"})
    assert rec.posts() == []


def test_structured_calls_replay_with_their_data(tmp_path: Any) -> None:
    from _session_support import make_session

    s = make_session(tmp_path / "st", Recorder())
    first = s.chat("Describe Rome", schema=City, thread=False)
    s.close()
    r = make_session(tmp_path / "st", Recorder(), mode="replay")
    again = r.chat("Describe Rome", schema=City, thread=False)
    assert isinstance(again.data, City) and again.data == first.data
    assert again.entry.result(r).data == first.data.model_dump()  # rebuilt without the class: the dict
    r.close()


# --- tools --------------------------------------------------------------------------------------------------

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                   "unit": {"type": "string", "enum": ["C", "F"]}},
                   "required": ["city"]}}}
TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}

#: (model, where the tools are in the body, how the forced choice of get_time looks there)
TOOL_FORMS = [
    ("gpt-5.2", lambda b: [t["function"]["name"] for t in b["tools"]],
     {"type": "function", "function": {"name": "get_time"}}),
    ("GPT 5.4(Responses)", lambda b: [t["name"] for t in b["tools"]], {"type": "function", "name": "get_time"}),
    ("claude-opus-4-6-cc", lambda b: [t["name"] for t in b["tools"]], {"type": "tool", "name": "get_time"}),
    ("gemini-2.5-flash", lambda b: [d["name"] for d in b["tools"][0]["functionDeclarations"]], None),
]


@pytest.mark.parametrize(("model", "names", "forced"), TOOL_FORMS)
@pytest.mark.parametrize("stream", [False, True])
def test_tools_call_and_the_thread_continues_with_results(s: Session, rec: Recorder, model: str, names: Any,
                                                          forced: Any, stream: bool) -> None:
    res = s.chat("What's the weather in Paris?", model=model, tools=[WEATHER, TIME], thread="w", stream=stream)
    assert names(rec.json()) == ["get_weather", "get_time"]
    assert [c.name for c in res.tool_calls] == ["get_weather"] and isinstance(res.tool_calls[0].arguments["city"], str)
    assert res.tool_calls[0].arguments.get("unit", "C") in ("C", "F")
    assert res.entry.response["tool_calls"][0]["name"] == "get_weather"
    follow = s.chat(model=model, tools=[WEATHER, TIME], thread="w", stream=stream,
                    tool_results={res.tool_calls[0].id: {"temperature": 21}})
    assert follow.tool_calls == [] and "21" in follow.text
    assert "What's the weather in Paris?" in rec.posts()[-1]["body"].decode()  # the whole thread went along
    pick = s.chat("And the time?", model=model, tools=[WEATHER, TIME], tool_choice="get_time", thread=False,
                  stream=stream)
    assert [c.name for c in pick.tool_calls] == ["get_time"]
    body = rec.json()
    if forced is not None:
        assert body["tool_choice"] == forced
    else:
        assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}}
    none = s.chat("No tools now", model=model, tools=[WEATHER], tool_choice="none", thread=False, stream=stream)
    assert none.tool_calls == [] and "No tools now" in none.text


def test_tool_calls_are_recorded_replayable_and_survive_a_restart(tmp_path: Any) -> None:
    from _session_support import make_session

    s = make_session(tmp_path / "st", Recorder())
    call = s.chat("Weather in Oslo?", tools=[WEATHER], thread="trip", tool_choice="required")
    s.close()
    s2 = make_session(tmp_path / "st", Recorder())  # a new kernel: the thread is rebuilt from the history
    done = s2.chat(tools=[WEATHER], thread="trip", tool_results={call.tool_calls[0].id: "-2 C, snow"})
    assert "-2 C, snow" in done.text
    s2.close()
    rec = Recorder()
    r = make_session(tmp_path / "st", rec, mode="replay")
    again = r.chat("Weather in Oslo?", tools=[WEATHER], thread="trip", tool_choice="required")
    assert [c.as_dict() for c in again.tool_calls] == [c.as_dict() for c in call.tool_calls]
    assert r.chat(tools=[WEATHER], thread="trip",
                  tool_results={call.tool_calls[0].id: "-2 C, snow"}).text == done.text
    assert rec.requests == []
    r.close()


def test_tool_results_must_answer_the_pending_calls(s: Session, rec: Recorder) -> None:
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match="asked for: none"):
        s.chat(tool_results={"call_1": 1}, thread="empty")
    s.chat("Weather?", tools=[WEATHER], thread="x")
    n = len(rec.posts())
    with pytest.raises(InputError, match=r"'nope'.*get_weather"):
        s.chat(tools=[WEATHER], thread="x", tool_results={"nope": 1})
    with pytest.raises(InputError, match="OpenAI function schema"):
        s.chat("x", tools=[{"description": "no name"}], thread=False)
    with pytest.raises(InputError, match="not among the tools"):
        s.chat("x", tools=[WEATHER], tool_choice="get_time", thread=False)
    assert len(rec.posts()) == n


@pytest.mark.parametrize("tools,words", [
    ([{"type": "function", "function": {"name": "get weather"}}], r"The tool name 'get weather' is not one"),
    ([{"name": "x" * 65}], r"is not one the services take: 1 to 64 letters"),
    ([{"name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}],
     r"Two tools are named 'get_weather'")])
def test_tool_names_every_service_refuses_are_refused_before_sending(s: Session, rec: Recorder, tools: Any,
                                                                     words: str) -> None:
    """A name with a space, past 64 characters, or two tools of one name went out; every protocol answers 400."""
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match=words):
        s.chat("Weather?", tools=tools, thread=False)
    assert rec.posts() == []


def test_an_explicit_openai_style_conversation_with_tool_messages(s: Session, rec: Recorder) -> None:
    conversation = [
        {"role": "user", "content": "Weather in Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "30 C"},
    ]
    for model in ("claude-sonnet", "claude-opus-4-6-cc", "gemini-2.5-flash", "GPT 5(Responses)"):
        res = s.chat(conversation, model=model, tools=[WEATHER], stream=False)
        assert "30 C" in res.text, model
    body = rec.json()
    assert [i.get("type", "message") for i in body["input"]] == ["message", "function_call", "function_call_output"]


def test_every_choice_of_n_is_kept_streamed_or_whole_and_replays_offline(tmp_path: Path) -> None:
    """``n=3`` is three paid answers: the result, its row and a replay keep all three (the first is ``.text``,
    the one the thread keeps); the view says there are three, and ``to_code()`` still compiles."""
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    streamed = s.chat("Three answers", model="grok-4.1", n=3, thread="t")
    whole = s.chat("Three answers", model="grok-4.1", n=3, thread=False, stream=False)
    texts = [c.text for c in whole.choices]
    assert len(texts) == 3 and len(set(texts)) == 3 and texts[0] == whole.text  # three different answers
    assert [c.text for c in streamed.choices] == texts  # the stream's interleaved choices, each put together
    assert [c.finish_reason for c in streamed.choices] == ["stop"] * 3
    assert [m["content"] for m in s.threads.get("t").messages if m["role"] == "assistant"] == [texts[0]]
    shown = streamed.html()
    assert "3 choices" in shown and texts[2][:30] in shown
    compile(streamed.entry.to_code(), "<to_code>", "exec")
    assert "n=3" in streamed.entry.to_code()
    s.close()
    replay = Session(mode="replay", store=tmp_path / "st")
    again = replay.chat("Three answers", model="grok-4.1", n=3, thread=False, stream=False)
    assert [c.text for c in again.choices] == texts and again.entry.id == whole.entry.id
    replay.close()


def test_the_other_choices_are_network_text_escaped_in_the_view(tmp_path: Path) -> None:
    from tokenhot_nb.sim import Faults

    rec = Recorder(Faults(answer="<script>alert(1)</script> **two**"))
    with make_session(tmp_path / "st", rec) as s:
        res = s.chat("x", model="grok-4.1", n=2, thread=False, stream=False)
    assert len(res.choices) == 2 and "<script>" in res.choices[1].text
    assert "<script>" not in res.html() and "2 choices" in res.html()


def test_a_key_echoed_in_another_choice_is_masked_everywhere(tmp_path: Path) -> None:
    from tokenhot_nb.sim import Faults

    key = "sk-choices-echo-0123456789abcdef"
    with make_session(tmp_path / "st", Recorder(Faults(echo_key=True)), api_key=key, mode="live") as s:
        res = s.chat("x", model="grok-4.1", n=2, thread=False, stream=False)
        streamed = s.chat("x", model="grok-4.1", n=2, thread=False)
    for r in (res, streamed):
        assert len(r.choices) == 2 and "Your key is sk-****" in r.choices[1].text
        assert key not in repr(r.choices) and key not in r.html() and key not in json.dumps(r.entry.response)
    assert key.encode() not in (tmp_path / "st" / "history.sqlite").read_bytes()


def test_a_broken_n_stream_keeps_what_arrived_of_every_choice(tmp_path: Path) -> None:
    """Cut mid-stream, each choice's text so far is paid for: the row keeps the others beside the first."""
    from tokenhot_nb.errors import StreamError
    from tokenhot_nb.sim import Faults

    with make_session(tmp_path / "st", Recorder(Faults(truncate_stream_after=12))) as s:
        with pytest.raises(StreamError) as info:
            s.chat("Two long answers", model="grok-4.1", n=2, thread=False)
        row = s.history[-1]
    assert row.status == "error" and info.value.partial_text
    others = row.response["choices"]
    assert len(others) == 1 and others[0]["text"]


@pytest.mark.parametrize(("model", "endpoint"), [("claude-opus-4-6-cc", "messages"), ("gemini-2.5-flash", None),
                                                 ("gpt-5", "responses")])
def test_n_is_refused_before_sending_where_the_protocol_has_no_n(s: Session, rec: Recorder, model: str,
                                                                 endpoint: str | None) -> None:
    with pytest.raises(UnsupportedOptionError, match=r"takes no n\b.*chat"):
        s.chat("Two answers", model=model, endpoint=endpoint, n=2, thread=False)
    assert rec.posts() == []


def test_a_tool_turn_stored_once_rebuilds_the_body_it_sent(s: Session, rec: Recorder) -> None:
    from tokenhot_nb._threads import wire_request

    call = s.chat("Weather in Bergen?", model="claude-opus-4-6-cc", tools=[WEATHER], thread="b")
    done = s.chat(model="claude-opus-4-6-cc", tools=[WEATHER], thread="b",
                  tool_results={call.tool_calls[0].id: "rain"})
    assert done.entry.parent == call.entry_id
    rebuilt = wire_request(s.store, done.entry)["json"]
    assert rebuilt == rec.json()  # the stored rows give back exactly the body that went out
    kinds = [b["type"] for m in rebuilt["messages"] if isinstance(m["content"], list) for b in m["content"]]
    assert "tool_use" in kinds and "tool_result" in kinds


class Contrary(Recorder):
    """A relay that ignores the stream setting (some relays and channels do): a stream call gets the whole JSON
    answer (Gemini: the array ``streamGenerateContent`` gives without ``alt=sse``), a whole call an event stream.
    The simulator writes both answers; only the request's stream setting is turned around on the way."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body, url = await request.aread(), request.url
        if url.path.endswith(":streamGenerateContent"):
            url = url.copy_remove_param("alt")
        elif url.path.endswith(":generateContent"):
            url = url.copy_with(path=url.path.replace(":generateContent", ":streamGenerateContent")) \
                .copy_set_param("alt", "sse")
        elif url.path.startswith("/v1/") and body:
            data = json.loads(body)
            data["stream"] = not data.get("stream", False)
            data.pop("stream_options", None)
            if data["stream"] and url.path == "/v1/chat/completions":  # (as new-api asks, to bill the stream)
                data["stream_options"] = {"include_usage": True}
            body = json.dumps(data).encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        return await super().handle_async_request(httpx.Request(request.method, url, headers=headers, content=body))


CONTRARY = [("gpt-5.4", "chat"), ("gpt-5.4", "responses"), ("claude-opus-4-6", "claude"),
            ("gemini-2.5-flash", "gemini")]


@pytest.mark.parametrize(("model", "endpoint"), CONTRARY)
def test_a_stream_answered_whole_is_the_paid_answer(tmp_path: Path, model: str, endpoint: str) -> None:
    honest = make_session(tmp_path / "honest", Recorder())
    expected = honest.chat("Tell me about the sea", model=model, endpoint=endpoint, thread=False, stream=False)
    s = make_session(tmp_path / "st", Contrary())
    seen: list[tuple[ChatDelta, str]] = []
    res = s.chat("Tell me about the sea", model=model, endpoint=endpoint, on_delta=lambda d, t: seen.append((d, t)))
    assert res.text == expected.text and res.text
    assert [(d.done, d.text, t) for d, t in seen] == [(True, res.text, res.text)]  # once, with the whole text
    row = s.history[-1]
    assert row.status == "ok" and row.text == f"Tell me about the sea\n\n{res.text}"
    assert res.usage.output_tokens == expected.usage.output_tokens > 0
    assert row.cost is not None and row.cost.usd == expected.entry.cost.usd and row.cost.usd > 0
    assert s.chat("And the mountains?", model=model, endpoint=endpoint).text  # the thread took the answer
    honest.close()
    s.close()


@pytest.mark.parametrize(("model", "endpoint"), CONTRARY)
def test_a_whole_call_answered_with_a_stream_is_read_from_its_frames(tmp_path: Path, model: str,
                                                                     endpoint: str) -> None:
    honest = make_session(tmp_path / "honest", Recorder())
    expected = honest.chat("Tell me about the sea", model=model, endpoint=endpoint, thread=False)
    s = make_session(tmp_path / "st", Contrary())
    seen: list[tuple[ChatDelta, str]] = []
    res = s.chat("Tell me about the sea", model=model, endpoint=endpoint, thread=False, stream=False,
                 on_delta=lambda d, t: seen.append((d, t)))
    assert res.text == expected.text and res.text
    assert [(d.done, t) for d, t in seen] == [(True, res.text)]  # stream=False: the whole answer, once
    assert s.history[-1].status == "ok" and res.usage.output_tokens == expected.usage.output_tokens
    honest.close()
    s.close()


def test_an_error_answered_whole_to_a_stream_call_stays_an_error(tmp_path: Path) -> None:
    class Envelope(Recorder):  # the error in a 200 JSON answer, where the event stream should be
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path != "/v1/chat/completions":
                return await super().handle_async_request(request)
            return httpx.Response(200, json={"error": {"message": "quota used up", "type": "new_api_error",
                                                       "code": "insufficient_user_quota"}})

    s = make_session(tmp_path / "st", Envelope())
    with pytest.raises(QuotaExhaustedError, match="quota used up"):
        s.chat("hi", model="gpt-5.4")
    assert s.history[-1].status == "error" and not s.history[-1].outputs
    s.close()


@pytest.mark.parametrize("n", [0, -1, True, 1.5, "3"])
def test_a_number_of_answers_that_is_none_is_refused_before_sending(tmp_path: Path, n: object) -> None:
    """``chat(n=0)`` was sent and answered with nothing to show, ``n=True`` was a 400 after the round trip: one line
    now, nothing sent."""
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    with pytest.raises(InputError) as exc:
        s.chat("hi", n=n, stream=False)
    assert str(exc.value).startswith("n is how many answers (a whole number of at least 1), not ")
    assert rec.posts() == []
    assert len(s.chat("hi", n=2, stream=False).choices) == 2
    s.close()
