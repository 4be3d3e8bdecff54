"""Tools and structured output against hostile or odd answers: what a notebook is given, kept and told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import Recorder, make_session

from tokenhot_nb._safe import text_html
from tokenhot_nb.errors import SchemaMismatchError

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def sse(events: list[Any]) -> bytes:
    """An event stream: ``(name, data)`` pairs as named events (Responses, Claude), bare dicts as ``data:`` only, a
    string as it is (``[DONE]``)."""
    out = ""
    for ev in events:
        if isinstance(ev, tuple):
            out += f"event: {ev[0]}\ndata: {json.dumps(ev[1])}\n\n"
        elif isinstance(ev, str):
            out += f"data: {ev}\n\n"
        else:
            out += f"data: {json.dumps(ev)}\n\n"
    return out.encode()


class Answers(Recorder):
    """The simulator, except that chat calls get the given answers in turn (the last one again when they run out):
    a dict is a whole JSON answer, a list an event stream (written from the reference's wire formats, §2)."""

    def __init__(self, *answers: Any) -> None:
        super().__init__()
        self.answers = list(answers)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path in ("/v1/chat/completions", "/v1/responses", "/v1/messages") or "enerateContent" in path:
            body = await request.aread()
            self.requests.append({"method": "POST", "path": path, "headers": dict(request.headers), "body": body})
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            if isinstance(answer, list):
                return httpx.Response(200, content=sse(answer), headers={"content-type": "text/event-stream"})
            return httpx.Response(200, json=answer)
        return await super().handle_async_request(request)


def claude_stream(tool: str, partial_json: list[str], stop: str) -> list[Any]:
    """A Claude Messages stream (§2.3) of one tool_use block whose input comes in ``partial_json`` pieces."""
    return [("message_start", {"type": "message_start", "message": {
                "id": "msg_1", "type": "message", "role": "assistant", "content": [],
                "usage": {"input_tokens": 20, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_1", "name": tool, "input": {}}}),
            *[("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "input_json_delta", "partial_json": p}})
              for p in partial_json],
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop},
                               "usage": {"output_tokens": 64}}),
            ("message_stop", {"type": "message_stop"})]


NAMED = {"type": "object", "properties": {"name": {"type": "string"}}}


@pytest.mark.parametrize("ask", [{"json": True}, {"schema": NAMED}])
def test_a_claude_structured_answer_cut_at_max_tokens_is_not_taken_for_data(tmp_path: Path,
                                                                               ask: dict[str, Any]) -> None:
    """Claude's structured answer is its forced tool's input: cut short at max_tokens, it is no JSON. It was
    read as ``{"_raw": '{"name": "Par'}``, an object json=True and a schema with no required field took for the
    answer: ``.data`` was that, without a word. Now it is the text that came, refused as no JSON, kept."""
    rec = Answers(claude_stream("answer", ['{"name": ', '"Par'], "max_tokens"))
    with make_session(tmp_path / "st", rec) as s:
        with pytest.raises(SchemaMismatchError) as info:
            s.chat("Name a city", model="claude-opus-4-6-cc", thread=False, **ask)
        kept = info.value.result
        assert kept.text == '{"name": "Par' and kept.entry.status == "ok" and kept.tool_calls == []
        assert kept.usage.output_tokens == 64
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r, pytest.raises(SchemaMismatchError):
        r.chat("Name a city", model="claude-opus-4-6-cc", thread=False, **ask)


def test_a_whole_claude_structured_answer_is_still_its_data(tmp_path: Path) -> None:
    rec = Answers(claude_stream("answer", ['{"name": ', '"Paris"}'], "tool_use"))
    with make_session(tmp_path / "st", rec) as s:
        res = s.chat("Name a city", model="claude-opus-4-6-cc", thread=False, schema=NAMED)
    assert res.data == {"name": "Paris"} and json.loads(res.text) == {"name": "Paris"}


def test_an_answer_that_does_not_fit_is_one_row_the_paid_one(tmp_path: Path) -> None:
    """A schema mismatch is raised after its call was recorded (``ok``, paid): it was recorded again, as an
    error row "refused before sending" that cost nothing, which the history, its filters and a replay then showed
    as a second call never sent."""
    plain = {"object": "chat.completion", "model": "gpt-5.2", "usage": {"prompt_tokens": 5, "completion_tokens": 4},
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}]}
    with make_session(tmp_path / "st", Answers(plain)) as s:
        for ask in ({"json": True}, {"schema": NAMED}):
            with pytest.raises(SchemaMismatchError) as info:
                s.chat("Name a city", model="gpt-5.2", thread=False, stream=False, **ask)
            assert info.value.result.entry.status == "ok"
        rows = list(s.history)
    assert [(r.status, r.endpoint) for r in rows] == [("ok", "chat.completions")] * 2


def _two_calls() -> dict[str, Any]:
    """A chat completion that calls a tool twice (parallel tool calls, §2.1 ``tool_calls``)."""
    return {"object": "chat.completion", "model": "gpt-5.2", "usage": {"prompt_tokens": 9, "completion_tokens": 9},
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_a", "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                    {"id": "call_b", "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]}}]}


PLAIN = {"object": "chat.completion", "model": "gpt-5.2", "usage": {"prompt_tokens": 9, "completion_tokens": 2},
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}]}


def test_a_turn_that_leaves_a_tool_call_unanswered_is_refused_before_sending(tmp_path: Path) -> None:
    """Every protocol answers 400 (after the round trip) to a turn that leaves one of the last answer's calls
    without its result, or that follows them with a plain message; it went out. Now one line says which call."""
    from tokenhot_nb.errors import InputError

    rec = Answers(_two_calls(), PLAIN, PLAIN, _two_calls(), PLAIN)
    with make_session(tmp_path / "st", rec) as s:
        res = s.chat("Weather in Paris and Rome?", model="gpt-5.2", tools=[WEATHER], thread="w", stream=False)
        assert [c.id for c in res.tool_calls] == ["call_a", "call_b"]
        sent = len(rec.posts())
        with pytest.raises(InputError, match=r"no result for call_b \(get_weather\)") as info:
            s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", stream=False, tool_results={"call_a": "sunny"})
        assert "'not run'" in info.value.hint
        with pytest.raises(InputError, match=r"asked for tools \(call_a \(get_weather\), call_b \(get_weather\)\)"):
            s.chat("Never mind: a joke?", model="gpt-5.2", tools=[WEATHER], thread="w", stream=False)
        assert len(rec.posts()) == sent  # nothing went out
        done = s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", stream=False,
                      tool_results={"call_a": "sunny", "call_b": "rain"})
        assert done.text == "Done."
        body = rec.json()
        assert [m.get("tool_call_id") for m in body["messages"] if m["role"] == "tool"] == ["call_a", "call_b"]
        assert s.chat("Now a joke?", model="gpt-5.2", thread="w", stream=False).text == "Done."
        fresh = s.chat("Weather?", model="gpt-5.2", tools=[WEATHER], thread="w", stream=False)
        assert fresh.tool_calls and s.chat("Start over", model="gpt-5.2", thread="w", new_thread=True,
                                           stream=False).text


def test_tool_results_that_are_not_json_are_sent_kept_and_replayed_as_one_json(tmp_path: Path) -> None:
    """A datetime in a result went to Gemini as a TypeError from deep in the HTTP library; on the other protocols
    the wire had ``str(value)`` and the history another form (its ISO text, a bytes' size), so a thread rebuilt
    from the history sent something else. Now the result is JSON once, before anything: sent, kept and replayed
    the same; a NaN is refused in one line."""
    import datetime

    from tokenhot_nb.errors import InputError

    when = datetime.datetime(2026, 1, 2, 3, 4)
    for model in ("gemini-2.5-flash", "gpt-5.2"):
        rec = Recorder()
        with make_session(tmp_path / model, rec) as s:
            call = s.chat("Weather in Oslo?", model=model, tools=[WEATHER], thread="t", tool_choice="required")
            cid = call.tool_calls[0].id
            with pytest.raises(InputError, match=r"cannot be sent as JSON \(Out of range float"):
                s.chat(model=model, tools=[WEATHER], thread="t", tool_results={cid: float("nan")})
            done = s.chat(model=model, tools=[WEATHER], thread="t", tool_results={cid: {"at": when, "t": 21}})
            assert "2026-01-02 03:04:00" in rec.posts()[-1]["body"].decode()
            assert done.entry.params["tool_results"] == {cid: {"at": "2026-01-02 03:04:00", "t": 21}}
        with make_session(tmp_path / model, Recorder(), mode="replay") as r:
            r.chat("Weather in Oslo?", model=model, tools=[WEATHER], thread="t", tool_choice="required")
            again = r.chat(model=model, tools=[WEATHER], thread="t", tool_results={cid: {"at": when, "t": 21}})
            assert again.text == done.text and again.entry.id == done.entry.id


@pytest.mark.parametrize("value", ["datetime", "nan"])
def test_a_recording_kept_before_results_were_made_json_still_replays(tmp_path: Path, value: str) -> None:
    """Rows recorded before results were made JSON kept them as given (the store writes a datetime as its ISO text,
    a NaN as NaN) under a key of that form: their replay said "never recorded" (a datetime, now made ``str()``
    text) or refused the NaN as no JSON, though the notebook was the one recorded. It plays as recorded; a new
    live call is still refused (``test_tool_results_that_are_not_json_are_sent_kept_and_replayed_as_one_json``)."""
    import datetime

    from tokenhot_nb.history._entry import jsonable

    given = datetime.datetime(2026, 1, 2, 3, 4) if value == "datetime" else float("nan")
    rec = Recorder()
    with make_session(tmp_path / "st", rec) as s:
        cid = s.chat("Weather in Oslo?", model="gpt-5.2", tools=[WEATHER], thread="t",
                     tool_choice="required").tool_calls[0].id
        done = s.chat(model="gpt-5.2", tools=[WEATHER], thread="t", tool_results={cid: "21 C"})
        row = done.entry  # now as the older code wrote it: the result as given, and the key of that form
        older = {**row.params, "tool_results": {cid: {"at": given}}}
        s.store.connection().execute(
            "UPDATE entries SET params=?, replay_key=? WHERE id=?",
            (json.dumps(jsonable(older)), s.store.key_for("chat", row.model, row.endpoint, older), row.id))
        s.store.connection().commit()
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        r.chat("Weather in Oslo?", model="gpt-5.2", tools=[WEATHER], thread="t", tool_choice="required")
        again = r.chat(model="gpt-5.2", tools=[WEATHER], thread="t", tool_results={cid: {"at": given}})
        assert again.text == done.text and again.entry.id == row.id


def _gemini_frame(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
    """One ``streamGenerateContent?alt=sse`` frame (§2.4): a candidate's parts, the last frame with its finish."""
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    return {"candidates": [cand], "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 6,
                                                     "totalTokenCount": 14}}


def test_gemini_calls_streamed_in_separate_frames_are_each_kept_and_answerable(tmp_path: Path) -> None:
    """Gemini sends each function call whole, with no id; two calls of one tool in two frames were read as one
    call (the first, paid for, lost: the second replaced it)."""
    paris = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    rome = {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}
    rec = Answers([_gemini_frame([paris]), _gemini_frame([rome], "STOP")], [_gemini_frame([{"text": "ok"}], "STOP")])
    with make_session(tmp_path / "st", rec) as s:
        res = s.chat("Weather in Paris and Rome?", model="gemini-2.5-flash", tools=[WEATHER], thread="g")
        assert [c.arguments["city"] for c in res.tool_calls] == ["Paris", "Rome"]
        ids = [c.id for c in res.tool_calls]
        assert len(set(ids)) == 2 and [c["id"] for c in res.entry.response["tool_calls"]] == ids
        s.chat(model="gemini-2.5-flash", tools=[WEATHER], thread="g", tool_results={ids[0]: "20", ids[1]: "25"})
        sent = rec.json()["contents"]
        assert [p["functionResponse"]["response"]["result"] for p in sent[-1]["parts"]] == ["20", "25"]
        assert [p["functionCall"]["args"]["city"] for p in sent[-2]["parts"]] == ["Paris", "Rome"]


def test_two_calls_given_one_id_can_each_be_answered(tmp_path: Path) -> None:
    """A relay that gives two calls one id: ``tool_results`` (by id) could answer only one, and the turn then
    went out without the other's result. The second gets its own id; both go back consistent."""
    twice = _two_calls()
    for c in twice["choices"][0]["message"]["tool_calls"]:
        c["id"] = "call_same"
    rec = Answers(twice, PLAIN)
    with make_session(tmp_path / "st", rec) as s:
        res = s.chat("Weather in Paris and Rome?", model="gpt-5.2", tools=[WEATHER], thread="w", stream=False)
        assert [c.id for c in res.tool_calls] == ["call_same", "call_same_2"]
        s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", stream=False,
               tool_results={"call_same": "sunny", "call_same_2": "rain"})
        messages = rec.json()["messages"]
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["call_same", "call_same_2"]
    assert [(m["tool_call_id"], m["content"]) for m in messages[2:]] == [("call_same", "sunny"),
                                                                          ("call_same_2", "rain")]


REFUSAL = "I'm sorry, I can't help with that."


def _responses_refusal(stream: bool) -> Any:
    """A Responses answer whose message is a refusal part (``{"type": "refusal", "refusal"}``), whole or streamed
    (``response.refusal.delta`` / ``.done``), as OpenAI's Responses API sends one."""
    part = {"type": "refusal", "refusal": REFUSAL}
    item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [part]}
    usage = {"input_tokens": 12, "output_tokens": 9, "total_tokens": 21}
    whole = {"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5.4", "output": [item],
             "usage": usage}
    if not stream:
        return whole
    at = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    return [("response.created", {"type": "response.created", "sequence_number": 0,
                                  "response": {**whole, "status": "in_progress", "output": [], "usage": None}}),
            ("response.output_item.added", {"type": "response.output_item.added", "sequence_number": 1,
                                            "output_index": 0, "item": {**item, "content": []}}),
            ("response.content_part.added", {"type": "response.content_part.added", "sequence_number": 2, **at,
                                             "part": {"type": "refusal", "refusal": ""}}),
            *[("response.refusal.delta", {"type": "response.refusal.delta", "sequence_number": 3 + i, **at,
                                          "delta": piece}) for i, piece in enumerate((REFUSAL[:10], REFUSAL[10:]))],
            ("response.refusal.done", {"type": "response.refusal.done", "sequence_number": 5, **at,
                                       "refusal": REFUSAL}),
            ("response.content_part.done", {"type": "response.content_part.done", "sequence_number": 6, **at,
                                            "part": part}),
            ("response.output_item.done", {"type": "response.output_item.done", "sequence_number": 7,
                                           "output_index": 0, "item": item}),
            ("response.completed", {"type": "response.completed", "sequence_number": 8, "response": whole})]


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_refusal_is_the_answer_not_nothing(tmp_path: Path, stream: bool) -> None:
    """A Responses answer that declines carries its words in a ``refusal`` part (streamed as
    ``response.refusal.delta``): they were dropped, the paid answer came back empty, and a schema= call said only
    that '' is not JSON. Its words are the answer, as a chat completion's ``refusal`` is."""
    with make_session(tmp_path / "st", Answers(_responses_refusal(stream))) as s:
        res = s.chat("Something forbidden", model="GPT 5.4(Responses)", thread=False, stream=stream)
        assert res.text == REFUSAL and res.usage.output_tokens == 9
        with pytest.raises(SchemaMismatchError, match="sorry") as info:
            s.chat("Something forbidden", model="GPT 5.4(Responses)", thread=False, stream=stream, schema=NAMED)
        assert info.value.result.text == REFUSAL


def _cut_answer(protocol: str) -> Any:
    """An answer cut at its token limit midway through its JSON, whole, in each protocol's own words (§2)."""
    cut = '{"name": "Par'
    if protocol == "chat":
        return {"object": "chat.completion", "model": "gpt-5.2", "usage": {"prompt_tokens": 5, "completion_tokens": 8},
                "choices": [{"index": 0, "message": {"role": "assistant", "content": cut}, "finish_reason": "length"}]}
    if protocol == "responses":
        return {"id": "resp_1", "object": "response", "status": "incomplete", "model": "gpt-5.4",
                "incomplete_details": {"reason": "max_output_tokens"},
                "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": cut}]}],
                "usage": {"input_tokens": 5, "output_tokens": 8, "total_tokens": 13}}
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": cut}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 8, "totalTokenCount": 13}}


@pytest.mark.parametrize(("protocol", "model"), [("chat", "gpt-5.2"), ("responses", "GPT 5.4(Responses)"),
                                                 ("gemini", "gemini-2.5-flash")])
def test_a_structured_answer_cut_at_its_token_limit_says_so(tmp_path: Path, protocol: str, model: str) -> None:
    """It said only "not JSON (Unterminated string …)": nothing told that the answer had hit max_tokens."""
    said = r"cut short \(finish reason '(length|max_output_tokens|MAX_TOKENS)'\) before its JSON ended"
    with make_session(tmp_path / "st", Answers(_cut_answer(protocol))) as s, \
            pytest.raises(SchemaMismatchError, match=said) as info:
        s.chat("Name a city", model=model, thread=False, stream=False, schema=NAMED, max_tokens=8)
    assert "max_tokens=" in info.value.hint and info.value.result.text == '{"name": "Par'


@pytest.mark.parametrize("model", ["gpt-5.2", "GPT 5.4(Responses)", "gemini-2.5-flash"])
@pytest.mark.parametrize("stream", [False, True])
def test_the_simulator_cuts_a_structured_answer_at_max_tokens_as_a_model_does(s: Any, model: str,
                                                                             stream: bool) -> None:
    """The simulator answered a schema in full whatever max_tokens said, so a notebook never met the cut answer
    a real model gives (finish reason length / max_output_tokens / MAX_TOKENS) before paying for one."""
    with pytest.raises(SchemaMismatchError, match="cut short") as info:
        s.chat("Describe Paris", model=model, schema=NAMED, max_tokens=3, thread=False, stream=stream)
    cut = info.value.result
    assert cut.text and not cut.text.endswith("}") and cut.usage.output_tokens <= 3
    whole = s.chat("Describe Paris", model=model, schema=NAMED, thread=False, stream=stream)
    assert isinstance(whole.data["name"], str) and whole.text.startswith(cut.text)


def test_tool_results_beside_a_conversation_passed_whole_are_refused_not_dropped(s: Any, rec: Recorder) -> None:
    """``chat([…], tool_results=…)``: the results went nowhere (the body held the calls unanswered, which the
    services refuse) and the row said they had been given. The conversation carries its own results."""
    from tokenhot_nb.errors import InputError

    conversation = [{"role": "user", "content": "Weather in Rome?"},
                    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_9", "type": "function", "function": {
                        "name": "get_weather", "arguments": '{"city": "Rome"}'}}]}]
    with pytest.raises(InputError, match="a conversation you pass carries its own") as info:
        s.chat(conversation, tools=[WEATHER], tool_results={"call_9": "30 C"}, model="gpt-5.2", stream=False)
    assert "'role': 'tool'" in info.value.hint and rec.posts() == []
    res = s.chat([*conversation, {"role": "tool", "tool_call_id": "call_9", "content": "30 C"}], tools=[WEATHER],
                 model="gpt-5.2", stream=False)
    assert "30 C" in res.text


@pytest.mark.parametrize("answer", ['```JSON\n{"name": "Paris"}\n```',
                                    'Here is the JSON:\n\n```json\n{"name": "Paris"}\n```\nHope it helps.'])
def test_json_in_a_fence_a_model_wrote_its_own_way_is_the_data(tmp_path: Path, answer: str) -> None:
    """A model that ignores the JSON mode fences its JSON its own way: ```JSON (upper case), or a line of prose
    before the fence. Both were "not JSON", and the paid answer an error; the one fenced block is the data."""
    body = {"object": "chat.completion", "model": "gpt-5.2", "usage": {"prompt_tokens": 5, "completion_tokens": 9},
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]}
    with make_session(tmp_path / "st", Answers(body)) as s:
        res = s.chat("Name a city", model="gpt-5.2", thread=False, stream=False, schema=NAMED)
        assert res.data == {"name": "Paris"} and res.text == answer
        two = answer + '\n```json\n{"name": "Rome"}\n```'
    from tokenhot_nb._schema import parse_json

    with pytest.raises(ValueError):  # two fenced blocks: which is the answer is not guessed
        parse_json(two)


@pytest.mark.parametrize(("model", "answer"), [
    ("claude-opus-4-6-cc", {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-6-cc",
                            "stop_reason": "tool_use", "usage": {"input_tokens": 9, "output_tokens": 9},
                            "content": [{"type": "tool_use", "name": "get_weather", "input": {"city": "Oslo"}}]}),
    ("GPT 5.4(Responses)", {"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5.4",
                            "usage": {"input_tokens": 9, "output_tokens": 9, "total_tokens": 18},
                            "output": [{"type": "function_call", "name": "get_weather",
                                        "arguments": '{"city": "Oslo"}'}]})])
def test_a_whole_answer_whose_call_has_no_id_gets_one_the_thread_can_answer(tmp_path: Path, model: str,
                                                                          answer: dict[str, Any]) -> None:
    """A whole Claude or Responses answer whose call came without an id made a call of id "": answered, the
    thread sent it back as such (Claude refuses an empty tool_use id). A streamed one was already named by place."""
    rec = Answers(answer, PLAIN)
    with make_session(tmp_path / "st", rec) as s:
        res = s.chat("Weather in Oslo?", model=model, tools=[WEATHER], thread="t", stream=False)
        assert [c.id for c in res.tool_calls] == ["call_0"] and res.tool_calls[0].arguments == {"city": "Oslo"}
        rec.answers = [answer]  # (the follow-up's answer does not matter: what it sends does)
        s.chat(model=model, tools=[WEATHER], thread="t", stream=False, tool_results={"call_0": "-3 C"})
        sent = rec.json()
    if model.startswith("claude"):
        blocks = [b for m in sent["messages"] if isinstance(m["content"], list) for b in m["content"]]
        assert [b.get("id") or b.get("tool_use_id") for b in blocks] == ["call_0", "call_0"]
    else:
        assert [i.get("call_id") for i in sent["input"] if i.get("type")] == ["call_0", "call_0"]


def test_a_tool_named_like_claudes_structured_answer_is_refused_before_sending(s: Any, rec: Recorder) -> None:
    """On Claude a schema is a forced tool named after it ('answer' untitled): a tool of the same name went out
    beside it, a body Claude refuses (tool names must be unique) after the round trip."""
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match=r"a tool named 'answer', and one of the tools has that name too"):
        s.chat("x", model="claude-opus-4-6-cc", schema=NAMED, tools=[{"name": "answer"}], thread=False)
    assert rec.posts() == []
    res = s.chat("x", model="claude-opus-4-6-cc", schema={**NAMED, "title": "City"}, tools=[{"name": "answer"}],
                 thread=False)
    assert isinstance(res.data, dict) and [t["name"] for t in rec.json()["tools"]] == ["answer", "City"]


@pytest.mark.parametrize("params", ["object", {"type": "objekt"}, {"type": "string"}, ["city"]])
def test_tool_parameters_that_are_no_objects_schema_are_refused_before_sending(s: Any, rec: Recorder,
                                                                               params: Any) -> None:
    """Every protocol takes a function's parameters as the JSON schema of an object (a 400 otherwise, after the
    round trip); anything else went out as given."""
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match=r"parameters of the tool 'f' must be the JSON schema of an object"):
        s.chat("x", tools=[{"name": "f", "parameters": params}], thread=False)
    assert rec.posts() == []
    for fine in ({"type": "object"}, {"properties": {"a": {"type": "string"}}}, {"type": "OBJECT"}, None):
        assert s.chat("x", tools=[{"name": "f", "parameters": fine}], thread=False).entry.status == "ok"


@pytest.mark.parametrize(("model", "choice", "sent"), [
    ("claude-opus-4-6-cc", {"type": "none"}, {"type": "none"}),
    ("claude-opus-4-6-cc", {"type": "auto"}, {"type": "auto"}),
    ("gpt-5.2", {"type": "none"}, "none"),
    ("gemini-2.5-flash", {"mode": "NONE"}, {"functionCallingConfig": {"mode": "NONE"}})])
def test_a_tool_choice_written_as_a_protocols_own_dict_keeps_its_mode(s: Any, rec: Recorder, model: str,
                                                                      choice: dict[str, Any], sent: Any) -> None:
    """``tool_choice={"type": "none"}`` (Claude's spelling) or ``{"mode": "NONE"}`` (Gemini's): any dict was read as
    a forced call, so the model was made to call a tool the user had just said it must not."""
    res = s.chat("Just say hi", model=model, tools=[WEATHER], tool_choice=choice, thread=False, stream=False)
    body = rec.json()
    assert (body["toolConfig"] if model.startswith("gemini") else body["tool_choice"]) == sent
    if choice.get("type", choice.get("mode", "")).lower() == "none":
        assert res.tool_calls == []


@pytest.mark.parametrize(("model", "answer"), [
    ("gpt-5.2", {"object": "chat.completion", "model": "gpt-5.2", "usage": {"prompt_tokens": 5, "completion_tokens": 0},
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": ""},
                              "finish_reason": "content_filter"}]}),
    ("gemini-2.5-flash", {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "SAFETY"}],
                          "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}}),
    ("gemini-2.5-flash", {"promptFeedback": {"blockReason": "SAFETY"}, "candidates": [],
                          "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}})])
def test_a_structured_answer_a_filter_stopped_says_so(tmp_path: Path, model: str, answer: dict[str, Any]) -> None:
    """A filtered or declined answer said "not JSON (Expecting value: line 1 column 1)": nothing told why."""
    with make_session(tmp_path / "st", Answers(answer)) as s, \
            pytest.raises(SchemaMismatchError, match=r"declined, or its answer was filtered \(finish reason "
                                                     r"'(content_filter|SAFETY)'\): no JSON came\.") as info:
        s.chat("Something", model=model, thread=False, stream=False, json=True)
    assert "Rephrase" in info.value.hint and info.value.result.entry.status == "ok"


TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}


@pytest.mark.parametrize("model", ["gpt-5.2", "GPT 5.4(Responses)", "claude-opus-4-6-cc", "gemini-3.1-pro-preview"])
@pytest.mark.parametrize("stream", [False, True])
def test_the_simulator_calls_each_tool_a_prompt_names_in_one_answer(s: Any, rec: Recorder, model: str,
                                                                    stream: bool) -> None:
    """Models call several tools in one answer (``tool_calls`` is a list; Responses and Claude list several
    items/blocks); the simulator made one call only, so a notebook's loop over calls met one, never several."""
    both = "Use get_weather for Oslo and get_time for its zone."
    res = s.chat(both, model=model, tools=[WEATHER, TIME], thread="p", stream=stream)
    assert [c.name for c in res.tool_calls] == ["get_weather", "get_time"]
    assert len({c.id for c in res.tool_calls}) == 2
    done = s.chat(model=model, tools=[WEATHER, TIME], thread="p", stream=stream,
                  tool_results={res.tool_calls[0].id: "-3 C", res.tool_calls[1].id: "CET"})
    assert done.tool_calls == [] and "-3 C" in done.text and "CET" in done.text
    one = s.chat("Use get_weather", model=model, tools=[WEATHER, TIME], thread=False, stream=stream)
    assert [c.name for c in one.tool_calls] == ["get_weather"]
    if model.startswith("gpt") or "Responses" in model:  # OpenAI's switch for one call at most
        single = s.chat(both, model=model, tools=[WEATHER, TIME], thread=False, stream=stream,
                        parallel_tool_calls=False)
        assert len(single.tool_calls) == 1 and rec.json()["parallel_tool_calls"] is False


@pytest.mark.parametrize("stream", [False, True])
def test_claudes_disable_parallel_tool_use_goes_out_in_its_tool_choice(s: Any, rec: Recorder, stream: bool) -> None:
    """``tool_choice={"type": "auto", "disable_parallel_tool_use": True}`` (Anthropic's own switch) was sent as
    ``{"type": "auto"}``: the switch dropped, the model called several tools the notebook meant to run one by one."""
    both = "Use get_weather for Oslo and get_time for its zone."
    res = s.chat(both, model="claude-opus-4-6-cc", tools=[WEATHER, TIME], thread=False, stream=stream,
                 tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert rec.json()["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert [c.name for c in res.tool_calls] == ["get_weather"]


def _cut_call(protocol: str) -> Any:
    """An answer that hit its token limit midway through its second tool call's arguments, in each protocol's own
    words (§2): the first call whole, the second's JSON text stopping mid-value."""
    whole, cut = '{"city": "Oslo"}', '{"city": "Ro'
    if protocol == "chat":
        return {"object": "chat.completion", "model": "gpt-5.2", "usage": {"prompt_tokens": 9, "completion_tokens": 8},
                "choices": [{"index": 0, "finish_reason": "length", "message": {
                    "role": "assistant", "content": None, "tool_calls": [
                        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": whole}},
                        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": cut}}]}}]}
    if protocol == "responses":
        return {"id": "resp_1", "object": "response", "status": "incomplete", "model": "gpt-5.4",
                "incomplete_details": {"reason": "max_output_tokens"},
                "output": [{"type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": whole},
                           {"type": "function_call", "call_id": "call_b", "name": "get_weather", "arguments": cut}],
                "usage": {"input_tokens": 9, "output_tokens": 8, "total_tokens": 17}}
    events = claude_stream("get_weather", [whole], "max_tokens")
    events[1][1]["content_block"]["id"] = "call_a"
    return [*events[:4],
            ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
                "type": "tool_use", "id": "call_b", "name": "get_weather", "input": {}}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                     "delta": {"type": "input_json_delta", "partial_json": cut}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 1}), *events[4:]]


#: A plain answer in each protocol's own words (§2).
DONE = {"chat": PLAIN,
        "responses": {"id": "resp_2", "object": "response", "status": "completed", "model": "gpt-5.4",
                      "output": [{"type": "message", "role": "assistant",
                                  "content": [{"type": "output_text", "text": "Done."}]}],
                      "usage": {"input_tokens": 9, "output_tokens": 2, "total_tokens": 11}},
        "claude": {"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-opus-4-6",
                   "content": [{"type": "text", "text": "Done."}], "stop_reason": "end_turn",
                   "usage": {"input_tokens": 9, "output_tokens": 2}}}


@pytest.mark.parametrize(("protocol", "model"), [("chat", "gpt-5.2"), ("responses", "GPT 5.4(Responses)"),
                                                 ("claude", "claude-opus-4-6-cc")])
def test_a_tool_call_cut_at_max_tokens_is_kept_apart_not_run_nor_awaited(tmp_path: Path, protocol: str,
                                                                         model: str) -> None:
    """An answer that ended on its token limit in a call's arguments left that call in ``.tool_calls`` with
    arguments ``{"_raw": '{"city": "Ro'}`` (``fn(**call.arguments)``: a TypeError) and the thread waiting for its
    result. Now it is in ``.cut_tool_calls`` (its text as it came, ``incomplete``), the whole call still to answer;
    the paid answer's row keeps both, and a replay gives the same."""
    rec = Answers(_cut_call(protocol), DONE[protocol])
    cut = [{"id": "call_b", "name": "get_weather", "arguments": '{"city": "Ro', "incomplete": True}]

    def turn(s: Any) -> Any:
        res = s.chat("Weather in Oslo and Rome?", model=model, tools=[WEATHER], thread="w", max_tokens=8)
        assert res.finish_reason.lower() in ("length", "max_output_tokens", "max_tokens")
        assert [(c.id, c.arguments) for c in res.tool_calls] == [("call_a", {"city": "Oslo"})]
        assert res.cut_tool_calls == cut and "cut at the token limit" in res.html()
        return res

    def answered(s: Any) -> None:  # the thread awaits the whole call only, and goes on
        assert s.chat(model=model, tools=[WEATHER], thread="w", tool_results={"call_a": "sunny"}).text == "Done."

    with make_session(tmp_path / "st", rec) as s:
        res = turn(s)
        assert res.entry.status == "ok" and res.entry.response["cut_tool_calls"] == cut
        answered(s)
        sent = json.dumps(rec.json())
        assert "call_a" in sent and "call_b" not in sent
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        turn(r)
        answered(r)


@pytest.mark.parametrize(("model", "stream"), [("gpt-5.2", False), ("gpt-5.2", True), ("GPT 5.4(Responses)", False),
                                               ("GPT 5.4(Responses)", True), ("claude-opus-4-6-cc", True)])
def test_the_simulator_cuts_a_tool_calls_arguments_at_max_tokens(s: Any, model: str, stream: bool) -> None:
    """The simulator sent whole tool calls whatever max_tokens said, so a notebook never met the call a real model
    leaves cut at its limit (finish ``length`` / ``max_output_tokens`` / ``max_tokens``, its arguments' JSON text
    stopping mid-value) before paying for one. (Claude's whole answer holds the input as an object: streamed only.)"""
    both = "Use get_weather for Oslo and get_time for its zone."
    limit = 16 if model.startswith("claude") else 3  # (Claude says "I will call …" first)
    res = s.chat(both, model=model, tools=[WEATHER, TIME], thread="t", stream=stream, max_tokens=limit)
    assert res.finish_reason in ("length", "max_output_tokens", "max_tokens") and res.tool_calls == []
    assert res.usage.output_tokens <= limit
    [cut] = res.cut_tool_calls
    assert cut["name"] == "get_weather" and cut["incomplete"] and cut["arguments"].startswith("{")
    with pytest.raises(ValueError):
        json.loads(cut["arguments"])
    again = s.chat(both, model=model, tools=[WEATHER, TIME], thread="t", stream=stream)
    assert [c.name for c in again.tool_calls] == ["get_weather", "get_time"] and again.cut_tool_calls == []


def _as_an_older_row(tmp_path: Path, rec: Any, question: str, raw: str) -> Any:
    """Ask ``question`` of ``rec`` in thread "w", then rewrite its row as a version before set-apart calls wrote it:
    the call ``call_b`` (arguments ``raw``, as the parser kept them then) in ``tool_calls``, no ``cut_tool_calls``."""
    with make_session(tmp_path / "st", rec) as s:
        row = s.chat(question, model="gpt-5.2", tools=[WEATHER], thread="w", stream=False).entry
        old = dict(row.response)
        old["tool_calls"] = [*old["tool_calls"], {"id": "call_b", "name": "get_weather", "arguments": {"_raw": raw}}]
        del old["cut_tool_calls"]
        s.store.connection().execute("UPDATE entries SET response=? WHERE id=?", (json.dumps(old), row.id))
        s.store.connection().commit()
    return row


def test_a_result_for_a_call_cut_at_max_tokens_is_refused_saying_so(tmp_path: Path) -> None:
    """Answering the call an answer had cut at max_tokens said only that the last answer "asked for: call_a": the
    id the notebook had from the row looked unknown. Now one line says that call was cut, before anything is sent."""
    from tokenhot_nb.errors import InputError

    rec = Answers(_cut_call("chat"), PLAIN)
    with make_session(tmp_path / "st", rec) as s:
        s.chat("Weather in Oslo and Rome?", model="gpt-5.2", tools=[WEATHER], thread="w", stream=False)
        sent = len(rec.posts())
        with pytest.raises(InputError, match=r"call_b \(get_weather\) was cut at max_tokens") as info:
            s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", tool_results={"call_a": "sunny", "call_b": "rain"})
        assert "max_tokens=" in info.value.hint and len(rec.posts()) == sent
        with pytest.raises(InputError, match=r"tool_results answers 'call_x'"):
            s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", tool_results={"call_a": "sunny", "call_x": "?"})
        assert s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", tool_results={"call_a": "sunny"}).text == "Done."


def test_a_thread_resumed_from_an_older_row_with_a_cut_call_does_not_wait_for_it(tmp_path: Path) -> None:
    """A row kept before cut calls were set apart holds the cut call in ``tool_calls`` (``{"_raw": …}``): a thread
    resumed from it waited for a result to that call (and was told, answering it, that it was cut). It is left
    out as a new row leaves it out; the whole call is still to answer, and the request rebuilt from the rows
    sends the whole call only."""
    rec = Answers(_cut_call("chat"), PLAIN)
    _as_an_older_row(tmp_path, rec, "Weather in Oslo and Rome?", '{"city": "Ro')
    with make_session(tmp_path / "st", rec) as s:
        assert s.threads.get("w").pending_calls() == {"call_a": "get_weather"}
        done = s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", stream=False, tool_results={"call_a": "sunny"})
        assert done.text == "Done." and "call_b" not in json.dumps(rec.json())
        assert "call_b" not in json.dumps(s.history.get(done.entry.id).wire_request())


@pytest.mark.parametrize("stream", [False, True])
def test_the_calls_of_n_choices_cut_at_max_tokens_are_set_apart_too(tmp_path: Path, stream: bool) -> None:
    """An ``n=`` answer's other choices kept their calls cut at max_tokens in ``.tool_calls`` (``{"_raw": …}``:
    ``fn(**call.arguments)`` a TypeError) when the first choice's were set apart. Every choice's are now, kept in
    the row and given again by a replay."""
    both = "Use get_weather for Oslo and get_time for its zone."

    def ask(s: Any) -> Any:
        res = s.chat(both, model="gpt-5.2", tools=[WEATHER, TIME], thread=False, stream=stream, max_tokens=3, n=2)
        assert len(res.choices) == 2
        for choice in res.choices:
            assert choice.finish_reason == "length" and choice.tool_calls == []
            assert [c["name"] for c in choice.cut_tool_calls] == ["get_weather"]
        assert "cut at the token limit" in res.html()
        return [c.as_dict() for c in res.choices]

    with make_session(tmp_path / "st", Recorder()) as s:
        live = ask(s)
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        assert ask(r) == live


def _bad_call(stream: bool, bad: str = '{"city": "Par') -> Any:
    """A chat answer that ended as usual (``tool_calls``, §2.1) with one whole call and one whose arguments are no
    JSON object (``bad``), as a model sometimes writes them: whole, or streamed in ``delta.tool_calls`` chunks."""
    whole = '{"city": "Oslo"}'
    if not stream:
        return {"object": "chat.completion", "model": "gpt-5.2", "usage": {"prompt_tokens": 9, "completion_tokens": 8},
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": None, "tool_calls": [
                        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": whole}},
                        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": bad}}]}}]}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"object": "chat.completion.chunk", "model": "gpt-5.2",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    return [chunk({"role": "assistant", "tool_calls": [
                {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": whole}}]}),
            chunk({"tool_calls": [
                {"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": bad}}]}),
            chunk({}, "tool_calls"),
            {"object": "chat.completion.chunk", "model": "gpt-5.2", "choices": [],
             "usage": {"prompt_tokens": 9, "completion_tokens": 8, "total_tokens": 17}}, "[DONE]"]


@pytest.mark.parametrize("bad", ['{"city": "Par', '["Paris"]', '"Paris"'])
@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_whose_arguments_the_model_sent_as_no_json_is_set_apart_saying_so(tmp_path: Path,
                                                                                      stream: bool, bad: str) -> None:
    """An answer that ended as usual (finish ``tool_calls``) with a call whose arguments are no JSON kept that call
    in ``.tool_calls`` as ``{"_raw": '{"city": "Par'}`` (``fn(**call.arguments)``: a TypeError far from the cause)
    and the thread waited for its result. It is set apart in ``.cut_tool_calls`` as a call cut at max_tokens is,
    marked ``not_json``; answering it is refused in one line saying why; the row and a replay give the same. So is
    a call whose arguments are JSON but no object (``["Paris"]``): it stayed in ``.tool_calls`` as
    ``{"_value": ["Paris"]}``, which ``fn(**args)`` took for an argument named ``_value``."""
    from tokenhot_nb.errors import InputError

    rec = Answers(_bad_call(stream, bad), PLAIN)
    apart = [{"id": "call_b", "name": "get_weather", "arguments": bad, "not_json": True}]

    def turn(s: Any) -> None:
        res = s.chat("Weather in Oslo and Paris?", model="gpt-5.2", tools=[WEATHER], thread="w", stream=stream)
        assert res.finish_reason == "tool_calls"
        assert [(c.id, c.arguments) for c in res.tool_calls] == [("call_a", {"city": "Oslo"})]
        assert res.cut_tool_calls == apart
        assert "arguments not a JSON object" in res.html() and "token limit" not in res.html()
        assert "get_weather(" + text_html(bad) + ")  [call_b]" in res.html()  # sent whole: not cut (no …)
        with pytest.raises(InputError, match=r"call_b \(get_weather\) was sent by the model with arguments that are "
                                             r"not a JSON object") as info:
            s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", tool_results={"call_a": "sunny", "call_b": "rain"})
        assert "cut_tool_calls" in info.value.hint and "\n" not in str(info.value)
        assert s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", tool_results={"call_a": "sunny"}).text == "Done."

    with make_session(tmp_path / "st", rec) as s:
        turn(s)
        row = s.history[0]
        assert row.response["cut_tool_calls"] == apart and "call_b" not in json.dumps(row.response["tool_calls"])
        assert "call_b" not in json.dumps(rec.json())  # the turn that answered sent the whole call only
    with make_session(tmp_path / "st", Recorder(), mode="replay") as r:
        turn(r)


def test_an_older_row_holding_a_call_with_no_json_arguments_is_read_as_a_new_one(tmp_path: Path) -> None:
    """A row kept before such calls were set apart holds the call in ``tool_calls`` (``{"_raw": …}``) under finish
    ``tool_calls``: its result (and replay) set it apart too, and a thread resumed from it does not wait for it."""
    rec = Answers(_bad_call(False), PLAIN)
    row = _as_an_older_row(tmp_path, rec, "Weather in Oslo and Paris?", '{"city": "Par')
    with make_session(tmp_path / "st", rec) as s:
        res = s.history.get(row.id).result()
        assert [c.id for c in res.tool_calls] == ["call_a"] and res.cut_tool_calls[0]["not_json"] is True
        assert s.threads.get("w").pending_calls() == {"call_a": "get_weather"}
        done = s.chat(model="gpt-5.2", tools=[WEATHER], thread="w", stream=False, tool_results={"call_a": "sunny"})
        assert done.text == "Done." and "call_b" not in json.dumps(rec.json())


@pytest.mark.parametrize(("model", "stream"), [("gpt-5.2", False), ("gpt-5.2", True), ("GPT 5.4(Responses)", False),
                                               ("GPT 5.4(Responses)", True), ("claude-opus-4-6-cc", True)])
def test_the_simulator_can_send_a_tool_call_whose_arguments_are_no_json(s: Any, rec: Recorder, model: str,
                                                                        stream: bool) -> None:
    """The simulator's calls always held whole JSON unless max_tokens cut them, so a notebook never met the call a
    model writes wrong under an ordinary finish; ``Faults(bad_tool_arguments=True)`` sends one (the last). On
    Claude's Messages only a stream can (its ``input_json_delta`` pieces; a whole answer's ``input`` is an
    object), and the client sets the call apart there as on the chat protocols."""
    from tokenhot_nb.sim import Faults

    both = "Use get_weather for Oslo and get_time for its zone."
    rec.set_faults(Faults(bad_tool_arguments=True))
    res = s.chat(both, model=model, tools=[WEATHER, TIME], thread="t", stream=stream)
    assert res.finish_reason in ("tool_calls", "completed", "tool_use")
    if model.startswith("claude"):  # (over Claude's own route, streamed: the input_json_delta pieces)
        assert rec.posts("/v1/messages") and rec.json(-1, "/v1/messages")["stream"] is True
    assert [c.name for c in res.tool_calls] == ["get_weather"]
    [apart] = res.cut_tool_calls
    assert apart["name"] == "get_time" and apart["not_json"] and apart["arguments"].startswith("{")
    with pytest.raises(ValueError):
        json.loads(apart["arguments"])
    assert s.threads.get("t").pending_calls() == {res.tool_calls[0].id: "get_weather"}


def test_a_tool_name_only_gemini_takes_is_refused_before_sending_where_it_is_not_taken(s: Any, rec: Recorder) -> None:
    """A tool named with '.' or ':' works on Gemini; a thread that went on from Gemini to Claude (or an OpenAI
    model) with it sent it there for a 400 after the round trip, paid for nothing. Now one line says so before
    sending, whether the name is in tools= or in an earlier turn's call, and the refusal is a history row."""
    from tokenhot_nb.errors import InputError

    tool = {"type": "function", "function": {**WEATHER["function"], "name": "weather.get"}}
    call = s.chat("Use weather.get for Oslo", model="gemini-2.5-flash", tools=[tool], thread="t")
    assert [c.name for c in call.tool_calls] == ["weather.get"]
    s.chat(model="gemini-2.5-flash", tools=[tool], thread="t", tool_results={call.tool_calls[0].id: "sunny"})
    sent = len(rec.posts())
    for model in ("claude-opus-4-6-cc", "gpt-5.2", "GPT 5.4(Responses)"):
        with pytest.raises(InputError, match=r"takes tool names of 1 to 64 letters, digits, '_' or '-' only: "
                                             r"'weather.get', a tool passed in tools=") as info:
            s.chat("And tomorrow?", model=model, tools=[tool], thread="t")
        assert "\n" not in str(info.value) and "new_thread=True" in info.value.hint
        with pytest.raises(InputError, match=r"'weather.get', a tool call of an earlier turn in the conversation"):
            s.chat("And tomorrow?", model=model, thread="t")
    assert len(rec.posts()) == sent
    assert s.history[-1].status == "error" and s.history[-1].cost.detail == "refused before sending"
    renamed = {"type": "function", "function": {**WEATHER["function"], "name": "weather_get"}}
    assert s.chat("Use weather_get for Oslo", model="claude-opus-4-6-cc", tools=[renamed], thread="t",
                  new_thread=True).tool_calls


def test_a_claude_tool_use_whose_streamed_input_is_no_json_is_set_apart_too(tmp_path: Path) -> None:
    """Claude streams a tool_use's input as ``input_json_delta`` pieces (§2.3); pieces that end as no JSON under
    ``stop_reason: tool_use`` are set apart as the chat protocols' are, and the thread waits for no result."""
    rec = Answers(claude_stream("get_weather", ['{"city": ', '"Par'], "tool_use"))
    with make_session(tmp_path / "st", rec) as s:
        res = s.chat("Weather in Paris?", model="claude-opus-4-6-cc", tools=[WEATHER], thread="w")
        assert res.finish_reason == "tool_use" and res.tool_calls == []
        assert res.cut_tool_calls == [{"id": "toolu_1", "name": "get_weather", "arguments": '{"city": "Par',
                                       "not_json": True}]
        assert s.threads.get("w").pending_calls() == {}
