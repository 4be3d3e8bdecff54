"""A long conversation gets the same answers and refusals from the simulator as before its checks were made
cheaper (issue #13: a 400-turn body cost the simulator several ms of its own).

The expected values below are what the simulator answered at 34faf07, before its per-message checks were made
cheaper; each is also checked against what it is derived from where a plain definition exists (the prompt's
tokens, the cache's share). Over real loopback HTTP, parsed by hand.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

import httpx
import pytest

from tokenhot_nb.sim import Server, _common
from tokenhot_nb.sim._common import seed_of
from tokenhot_nb.sim._state import SimState

#: These tests read the simulator's spending before and after a call (tests/conftest.py).
OWN_SIMULATOR = True

_TOKEN_RE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af]|[A-Za-z0-9]+|[^\sA-Za-z0-9]")


def ref_tokens(obj: Any) -> int:
    """The simulator's prompt estimate by its plain definition: tokens of the JSON text."""
    text = json.dumps(obj, ensure_ascii=False)
    return max(1, math.ceil(len(_TOKEN_RE.findall(text)) * 1.1)) // 2 + 3


def turns(n: int, tag: str = "") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": f"Be terse{tag}. Ünïcødé ✓ 中文 한국어"}]
    for i in range(n):
        out.append({"role": "user", "content": f"question {i}{tag}: what about the lighthouse?"})
        out.append({"role": "assistant", "content": f"answer {i}{tag}: it stands 3.5 km (≈2 mi) away, \"north\"."})
    return out


def mixed(n: int) -> list[Any]:
    """A long thread holding every kind of turn: parts with images, tool calls and results, extra keys, a null."""
    out: list[Any] = turns(n, " mixed")
    out[101] = {"role": "user", "content": [{"type": "text", "text": "what is in these?"},
                                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                                            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}
    out[202] = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"}},
        {"id": "c2", "type": "function", "function": {"name": "lookup_2", "arguments": "{}"}}]}
    out[203] = {"role": "tool", "tool_call_id": "c1", "content": "18C"}
    out[301] = {"role": "user", "content": "from bob", "name": "bob", "weight": 5, "flags": [True, 1.5]}
    out[402] = None
    out[503] = {"role": "user", "content": [{"text": "no type"}, {"image": "x"}, {"type": "input_text", "text": "t"}]}
    out += [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c3", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "c3", "content": "3C and snow"}]
    return out


TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}},
         {"type": "function", "function": {"name": "lookup_2", "parameters": {"type": "object"}}}]


def post(server: Server, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(server.url + path, content=json.dumps(body, ensure_ascii=False).encode(),
                      headers={**headers, "Content-Type": "application/json"}, timeout=60)


def spent(server: Server) -> int:
    return int(server.app.state.sim.spent_quota)


def answer(r: httpx.Response) -> dict[str, Any]:
    """An answer without what differs per call (its id, its time, the request id in its tool call ids)."""
    data = r.json()
    assert r.status_code == 200, r.text
    for choice in data["choices"]:
        for call in choice["message"].get("tool_calls") or []:
            call["id"] = "call_…"
    return {"choices": data["choices"], "usage": data["usage"]}


def refusal(r: httpx.Response) -> tuple[int, str]:
    data = r.json()
    err = data["error"]
    return r.status_code, re.sub(r" \(request id: [^)]*\)$", "", err["message"])


# ----------------------------------------------------------------------------- answers

def test_a_400_turn_thread_is_answered_and_billed_as_before(sim_server: Server, auth: dict[str, str]) -> None:
    msgs = [*turns(400), {"role": "user", "content": "question 400: and the harbour?"}]
    body = {"model": "gpt-5.4-mini", "messages": msgs}
    before = spent(sim_server)
    first = answer(post(sim_server, "/v1/chat/completions", body, auth))
    charged = spent(sim_server) - before
    assert first["usage"]["prompt_tokens"] == ref_tokens(msgs)
    assert first == PINNED["thread"]
    assert charged == PINNED["thread charged"]

    again = answer(post(sim_server, "/v1/chat/completions", body, auth))  # the same body: its prompt is cached
    assert again["choices"] == first["choices"]
    assert again["usage"]["prompt_tokens_details"]["cached_tokens"] == first["usage"]["prompt_tokens"]
    assert again["usage"] == PINNED["thread again"]

    text = first["choices"][0]["message"]["content"]
    longer = {"model": "gpt-5.4-mini", "messages": [*msgs, {"role": "assistant", "content": text},
                                                   {"role": "user", "content": "question 401: and the cliffs?"}],
              "stream": True, "stream_options": {"include_usage": True}}
    r = post(sim_server, "/v1/chat/completions", longer, auth)
    frames = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    streamed = "".join(f["choices"][0]["delta"].get("content") or "" for f in frames if f["choices"])
    usage = frames[-1]["usage"]
    assert usage["prompt_tokens"] == ref_tokens(longer["messages"])
    assert usage["prompt_tokens_details"]["cached_tokens"] == ref_tokens(msgs)  # the turns sent before
    assert [streamed, usage] == PINNED["thread longer"]


def test_a_long_mixed_thread_is_answered_and_billed_as_before(sim_server: Server, auth: dict[str, str]) -> None:
    msgs = mixed(300)
    body = {"model": "gpt-5.4-mini", "messages": msgs, "tools": TOOLS}
    before = spent(sim_server)
    got = answer(post(sim_server, "/v1/chat/completions", body, auth))
    charged = spent(sim_server) - before
    assert got["usage"]["prompt_tokens_details"]["image_tokens"] == 85 * 3
    assert got == PINNED["mixed"]
    assert charged == PINNED["mixed charged"]
    asked = {**body, "messages": [*msgs, {"role": "user", "content": "now call get_weather for Bergen"}]}
    assert answer(post(sim_server, "/v1/chat/completions", asked, auth)) == PINNED["mixed asked"]
    claude = {"model": "claude-opus-4-6", "max_tokens": 300,
              "messages": [m for m in turns(300, " claude")[1:]] + [{"role": "user", "content": "and now?"}]}
    r = post(sim_server, "/v1/messages", claude, auth)
    assert r.status_code == 200, r.text
    assert [r.json()["content"], r.json()["usage"]] == PINNED["claude"]
    responses = {"model": "gpt-5.4", "input": [m for m in msgs if m is not None and m.get("role") != "tool"
                                               and not m.get("tool_calls")]}
    r = post(sim_server, "/v1/responses", responses, auth)
    assert r.status_code == 200, r.text
    assert [[o["content"] for o in r.json()["output"]], r.json()["usage"]] == PINNED["responses"]


# ----------------------------------------------------------------------------- refusals deep in a long thread

def _chat(change: Any) -> tuple[str, dict[str, Any]]:
    msgs: list[Any] = turns(400, " refused")
    msgs.append({"role": "user", "content": "last"})
    change(msgs)
    return "/v1/chat/completions", {"model": "gpt-5.4-mini", "messages": msgs}


def _set(i: int, value: Any, key: str | None = None) -> Any:
    def change(msgs: list[Any]) -> None:
        if key is None:
            msgs[i] = value
        else:
            msgs[i][key] = value
    return change


def _two(*changes: Any) -> Any:
    def change(msgs: list[Any]) -> None:
        for c in changes:
            c(msgs)
    return change


_CALL = {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
REFUSED: dict[str, tuple[str, dict[str, Any]]] = {
    "content a number": _chat(_set(613, 5, "content")),
    "content an object": _chat(_set(613, {"text": "x"}, "content")),
    "a turn a string": _chat(_set(613, "hello")),
    "a turn a number": _chat(_set(613, 7)),
    "a turn a list": _chat(_set(613, [{"role": "user"}])),
    "role a list": _chat(_set(613, ["user"], "role")),
    "role a boolean": _chat(_set(613, True, "role")),
    "a part's text a number": _chat(_set(613, [{"type": "text", "text": "ok"}, {"type": "text", "text": 5}],
                                         "content")),
    "a part a string": _chat(_set(613, ["x"], "content")),
    "tool_calls an object": _chat(_set(613, {"id": "x"}, "tool_calls")),
    "tool_calls a string": _chat(_set(613, "x", "tool_calls")),
    "a call's name a number": _chat(_set(613, [{"id": "c", "function": {"name": 7}}], "tool_calls")),
    "a call's id a number": _chat(_set(613, [{"id": 1, "function": {"name": "f"}}], "tool_calls")),
    "a call's function a list": _chat(_set(613, [{"id": "c", "function": []}], "tool_calls")),
    "a call's name Gemini's": _chat(_set(613, [_CALL, {**_CALL, "function": {"name": "a.b", "arguments": "{}"}}],
                                         "tool_calls")),
    "the first of two": _chat(_two(_set(700, 5, "content"), _set(613, 6, "role"))),
    "a type and a name": _chat(_two(_set(700, 5, "content"),
                                    _set(613, [{"id": "c", "function": {"name": "a:b"}}], "tool_calls"))),
    "responses: a turn a number": ("/v1/responses", {"model": "gpt-5.4", "input": [
        *turns(400, " r")[1:300], 5, {"role": "user", "content": "x"}]}),
    "responses: a name Gemini's": ("/v1/responses", {"model": "gpt-5.4", "input": [
        *turns(400, " r")[1:], {"type": "function_call", "call_id": "c", "name": "a.b", "arguments": "{}"},
        {"role": "user", "content": "x"}]}),
    "claude: content a number": ("/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 50, "messages": [
        *turns(400, " c")[1:500], {"role": "user", "content": 5}, *turns(400, " c")[501:]]}),
    "claude: a system turn": ("/v1/messages", {"model": "claude-opus-4-6", "max_tokens": 50,
                                               "messages": turns(400, " c")}),
    "gemini: parts a number": ("/v1beta/models/gemini-2.5-flash:generateContent", {"contents": [
        *({"role": "user" if m["role"] == "user" else "model", "parts": [{"text": m["content"]}]}
          for m in turns(400, " g")[1:600]), {"role": "user", "parts": 5}]}),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_refusal_deep_in_a_long_thread_is_as_before_and_uncharged(sim_server: Server, auth: dict[str, str],
                                                                     name: str) -> None:
    path, body = REFUSED[name]
    before = spent(sim_server)
    r = post(sim_server, path, copy.deepcopy(body), {**auth, "x-goog-api-key": auth["Authorization"][7:]})
    got = refusal(r) if r.status_code >= 400 else (r.status_code, "")
    assert got == PINNED["refused"][name]
    assert spent(sim_server) == before


def test_what_only_looks_wrong_is_answered(sim_server: Server, auth: dict[str, str]) -> None:
    """Unknown keys, numbers under them, nulls and empty parts are not the relay's to refuse."""
    path, body = _chat(_two(_set(613, 5, "weight"), _set(614, None), _set(615, None, "content"),
                            _set(616, [], "content"), _set(617, None, "tool_calls"), _set(618, "x", "name")))
    got = answer(post(sim_server, path, body, auth))
    assert got == PINNED["only looks wrong"]


# ----------------------------------------------------------------------------- what a long thread costs
# (counted, not timed: how often the simulator walks the whole conversation for one call)


class Counted(dict[str, Any]):
    """A turn that counts how often it is compared with another."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        Counted.compared += 1
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]


def test_the_prompt_cache_compares_a_thread_with_its_longest_match_first() -> None:
    """A thread's last calls all start as it does: the longest that matches is the answer, found first."""
    state = SimState(None, None)
    for n in range(101, 401, 40):  # eight earlier calls of the thread, each a prefix of the next
        state.cached_items("k", "m", turns(200, " cache")[:n])
    Counted.compared = 0
    assert state.cached_items("k", "m", [Counted(m) for m in turns(200, " cache")]) == 381
    assert Counted.compared <= 381  # (every remembered call compared in turn: 1,928)


def test_the_seed_compares_a_thread_with_its_longest_remembered_start_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "_SEEN", [])
    for n in (200, 100, 200):  # two starts of the thread remembered, the shorter one longer ago
        seed_of({"messages": turns(150, " seen")[:n]})
    Counted.compared = 0
    thread = [Counted(m) for m in turns(150, " seen")]
    assert seed_of({"messages": thread}) == seed_of({"messages": turns(150, " seen")})
    assert Counted.compared <= 201  # (both compared: 302)


def test_a_call_walks_its_thread_through_the_remembered_conversations_once(
        sim_server: Server, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Its seed, its prompt's tokens and the cached share of a resent thread come from one look-up."""
    looked: list[int] = []
    conversation = _common._conversation

    def spy(items: list[Any]) -> tuple[str, int]:
        looked.append(len(items))
        return conversation(items)

    msgs = [*turns(400, " once"), {"role": "user", "content": "and?"}]
    body = {"model": "gpt-5.4-mini", "messages": msgs}
    post(sim_server, "/v1/chat/completions", body, auth)
    monkeypatch.setattr(_common, "_conversation", spy)
    again = answer(post(sim_server, "/v1/chat/completions", body, auth))
    assert again["usage"]["prompt_tokens_details"]["cached_tokens"] == again["usage"]["prompt_tokens"]
    assert looked == [len(msgs)]  # (before: 3)
    looked.clear()
    longer = {**body, "messages": [*msgs, {"role": "assistant", "content": "so"}, {"role": "user", "content": "?"}]}
    post(sim_server, "/v1/chat/completions", longer, auth)
    assert looked == [len(msgs) + 2, len(msgs)]  # the call, and the start the cache holds


#: What the simulator answered at 34faf07 (request ids and times left out).
PINNED: dict[str, Any] = {'thread': {'choices': [{'index': 0,
                         'message': {'role': 'assistant',
                                     'content': 'You said: "question 400: and the harbour?". This is gpt-5.4-mini '
                                                'in the Tokenhot simulator. Long prompts give longer replies when '
                                                'max_tokens allows it. Faults such as latency, errors and broken '
                                                'streams can be switched on for tests.',
                                     'refusal': None},
                         'logprobs': None,
                         'finish_reason': 'stop'}],
            'usage': {'prompt_tokens': 14115,
                      'completion_tokens': 61,
                      'total_tokens': 14176,
                      'prompt_tokens_details': {'cached_tokens': 0,
                                                'text_tokens': 14115,
                                                'audio_tokens': 0,
                                                'image_tokens': 0},
                      'completion_tokens_details': {'reasoning_tokens': 0,
                                                    'audio_tokens': 0,
                                                    'accepted_prediction_tokens': 0,
                                                    'rejected_prediction_tokens': 0}}},
 'thread charged': 5430,
 'thread again': {'prompt_tokens': 14115,
                  'completion_tokens': 61,
                  'total_tokens': 14176,
                  'prompt_tokens_details': {'cached_tokens': 14115,
                                            'text_tokens': 14115,
                                            'audio_tokens': 0,
                                            'image_tokens': 0},
                  'completion_tokens_details': {'reasoning_tokens': 0,
                                                'audio_tokens': 0,
                                                'accepted_prediction_tokens': 0,
                                                'rejected_prediction_tokens': 0}},
 'thread longer': ['You said: "question 401: and the cliffs?". This is gpt-5.4-mini in the Tokenhot simulator. '
                   'This text stands in for what a real model would write. Long prompts give longer replies when '
                   'max_tokens allows it. Usage numbers follow the prompt and the reply length.',
                   {'prompt_tokens': 14169,
                    'completion_tokens': 68,
                    'total_tokens': 14237,
                    'prompt_tokens_details': {'cached_tokens': 14115,
                                              'text_tokens': 14169,
                                              'audio_tokens': 0,
                                              'image_tokens': 0},
                    'completion_tokens_details': {'reasoning_tokens': 0,
                                                  'audio_tokens': 0,
                                                  'accepted_prediction_tokens': 0,
                                                  'rejected_prediction_tokens': 0}}],
 'mixed': {'choices': [{'index': 0,
                        'message': {'role': 'assistant',
                                    'content': 'The tools returned: 3C and snow. That answers the question.',
                                    'refusal': None},
                        'logprobs': None,
                        'finish_reason': 'stop'}],
           'usage': {'prompt_tokens': 11390,
                     'completion_tokens': 15,
                     'total_tokens': 11405,
                     'prompt_tokens_details': {'cached_tokens': 0,
                                               'text_tokens': 11135,
                                               'audio_tokens': 0,
                                               'image_tokens': 255},
                     'completion_tokens_details': {'reasoning_tokens': 0,
                                                   'audio_tokens': 0,
                                                   'accepted_prediction_tokens': 0,
                                                   'rejected_prediction_tokens': 0}}},
 'mixed charged': 4305,
 'mixed asked': {'choices': [{'index': 0,
                              'message': {'role': 'assistant',
                                          'content': None,
                                          'refusal': None,
                                          'tool_calls': [{'id': 'call_…',
                                                          'type': 'function',
                                                          'function': {'name': 'get_weather',
                                                                       'arguments': '{"city": "city lantern"}'}}]},
                              'logprobs': None,
                              'finish_reason': 'tool_calls'}],
                 'usage': {'prompt_tokens': 11403,
                           'completion_tokens': 11,
                           'total_tokens': 11414,
                           'prompt_tokens_details': {'cached_tokens': 11135,
                                                     'text_tokens': 11148,
                                                     'audio_tokens': 0,
                                                     'image_tokens': 255},
                           'completion_tokens_details': {'reasoning_tokens': 0,
                                                         'audio_tokens': 0,
                                                         'accepted_prediction_tokens': 0,
                                                         'rejected_prediction_tokens': 0}}},
 'claude': [[{'type': 'text',
              'text': 'You said: "and now?". This is claude-opus-4-6 in the Tokenhot simulator. Usage numbers '
                      'follow the prompt and the reply length. Images, videos and speech are generated locally and '
                      'served from the simulator. Long prompts give longer replies when max_tokens allows it. '
                      'Faults such as latency, errors and broken streams can be switched on for tests. Streaming '
                      'arrives in small pieces, just like the real relay sends them. A second call with the same '
                      'options gives this exact answer again. Every answer is derived from the prompt and is the '
                      'same for the same request. The simulator answers offline, so no key and no network are '
                      'needed. Try changing the prompt to see a different reply. This text stands in for what a '
                      'real model would write. Usage numbers follow the prompt and the reply length. Images, '
                      'videos and speech are generated locally and served from the simulator. Long prompts give '
                      'longer replies when max_tokens allows it.'}],
            {'input_tokens': 10905,
             'output_tokens': 210,
             'cache_creation_input_tokens': 0,
             'cache_read_input_tokens': 0}],
 'responses': [[[{'type': 'output_text',
                  'text': 'You said: "question 299 mixed: what about the lighthouse?". This is gpt-5.4 in the '
                          'Tokenhot simulator. A second call with the same options gives this exact answer again. '
                          'Every answer is derived from the prompt and is the same for the same request.',
                  'annotations': [],
                  'logprobs': []}]],
               {'input_tokens': 11185,
                'input_tokens_details': {'cached_tokens': 0},
                'output_tokens': 62,
                'output_tokens_details': {'reasoning_tokens': 0},
                'total_tokens': 11247}],
 'refused': {'content a number': (400,
                                  'invalid request body: messages[613].content must be a string or an array, not a '
                                  'number'),
             'content an object': (400,
                                   'invalid request body: messages[613].content must be a string or an array, not '
                                   'an object'),
             'a turn a string': (400, 'invalid request body: messages[613] must be an object, not a string'),
             'a turn a number': (400, 'invalid request body: messages[613] must be an object, not a number'),
             'a turn a list': (400, 'invalid request body: messages[613] must be an object, not an array'),
             'role a list': (400, 'invalid request body: messages[613].role must be a string, not an array'),
             'role a boolean': (400, 'invalid request body: messages[613].role must be a string, not a boolean'),
             "a part's text a number": (400,
                                        'invalid request body: messages[613].content[1].text must be a string, not '
                                        'a number'),
             'a part a string': (400,
                                 'invalid request body: messages[613].content[0] must be an object, not a string'),
             'tool_calls an object': (400,
                                      'invalid request body: messages[613].tool_calls must be an array, not an '
                                      'object'),
             'tool_calls a string': (400,
                                     'invalid request body: messages[613].tool_calls must be an array, not a '
                                     'string'),
             "a call's name a number": (400,
                                        'invalid request body: messages[613].tool_calls[0].function.name must be a '
                                        'string, not a number'),
             "a call's id a number": (400,
                                      'invalid request body: messages[613].tool_calls[0].id must be a string, not '
                                      'a number'),
             "a call's function a list": (400,
                                          'invalid request body: messages[613].tool_calls[0].function must be an '
                                          'object, not an array'),
             "a call's name Gemini's": (400,
                                        "Invalid 'messages[613].tool_calls[1].function.name': string does not "
                                        'match pattern. Expected a string that matches the pattern '
                                        "'^[a-zA-Z0-9_-]+$'."),
             'the first of two': (400, 'invalid request body: messages[613].role must be a string, not a number'),
             'a type and a name': (400,
                                   'invalid request body: messages[700].content must be a string or an array, not '
                                   'a number'),
             'responses: a turn a number': (400,
                                            'invalid request body: input[299] must be an object, not a number'),
             "responses: a name Gemini's": (400,
                                            "Invalid 'input[800].name': string does not match pattern. Expected a "
                                            "string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
             'claude: content a number': (400,
                                          'invalid request body: messages[499].content must be a string or an '
                                          'array, not a number'),
             'claude: a system turn': (400,
                                       'messages: Unexpected role "system". The Messages API accepts a top-level '
                                       '`system` parameter, and only "user" and "assistant" turns in messages.'),
             'gemini: parts a number': (400,
                                        'invalid request body: contents[599].parts must be an array, not a '
                                        'number')},
 'only looks wrong': {'choices': [{'index': 0,
                                   'message': {'role': 'assistant',
                                               'content': 'You said: "last". This is gpt-5.4-mini in the Tokenhot '
                                                          'simulator. The simulator answers offline, so no key and '
                                                          'no network are needed. Every answer is derived from the '
                                                          'prompt and is the same for the same request. Usage '
                                                          'numbers follow the prompt and the reply length.',
                                               'refusal': None},
                                   'logprobs': None,
                                   'finish_reason': 'stop'}],
                      'usage': {'prompt_tokens': 14525,
                                'completion_tokens': 68,
                                'total_tokens': 14593,
                                'prompt_tokens_details': {'cached_tokens': 0,
                                                          'text_tokens': 14525,
                                                          'audio_tokens': 0,
                                                          'image_tokens': 0},
                                'completion_tokens_details': {'reasoning_tokens': 0,
                                                              'audio_tokens': 0,
                                                              'accepted_prediction_tokens': 0,
                                                              'rejected_prediction_tokens': 0}}}}
