"""Chat panel, headless: streaming grows the answer, Stop keeps the partial text, threads carry on."""

from __future__ import annotations

import _widgets_support as support
import pytest
from _widgets_support import wait_until

from tokenhot_nb.widgets import panel

fake = support.fake  # fixture
offline = support.offline  # fixture


def test_send_streams_and_passes_exact_parameters(fake):
    p = panel("chat", fake)
    p.model.value = "claude-opus-4-6"
    p.system.value = "Be brief."
    p.input.value = "hi"
    p.send.click()
    p.wait(30)
    kind, args, kw = fake.calls[0]
    assert kind == "chat" and args == ("hi",)
    assert kw == {"model": "claude-opus-4-6", "stream": True, "system": "Be brief.", "thread": p.thread_id,
                  "new_thread": True}
    assert p.text == "Hello from the fake." and "Hello from the fake." in p.answer.value
    assert p.input.value == "" and p.stop.disabled and not p.send.disabled
    # the follow-up stays in the same thread, without starting it again
    p.input.value = "more"
    p.send.click()
    p.wait(30)
    assert fake.calls[1][2]["thread"] == p.thread_id and "new_thread" not in fake.calls[1][2]
    old = p.thread_id
    p.new_thread.click()
    assert p.thread_id != old and p.thread_box.children == ()


def test_api_picker_offers_the_models_endpoints(fake):
    p = panel("chat", fake)
    p.model.value = "gpt-5"
    assert [label for label, _ in p.api.options] == ["Chat Completions", "Responses (OpenAI)"]
    assert p.api.value == "chat.completions" and p.api.layout.display is None
    p.model.value = "grok-4.1"
    assert p.api.layout.display == "none" and p.endpoint() is None
    p.model.value = "claude-opus-4-6-cc"
    assert p.api.value == "messages" and p.endpoint() is None  # its default: no endpoint option sent
    p.model.value = "gemini-2.5-pro"
    assert [v for _, v in p.api.options] == ["gemini.stream", "chat.completions"]
    p.api.value = "chat.completions"
    p.input.value = "hi"
    p.send.click()
    p.wait(30)
    assert fake.calls[-1][2]["endpoint"] == "chat.completions"
    p.model.value = "gpt-5"
    p.api.value = "responses"
    p.input.value = "again"
    p.send.click()
    p.wait(30)
    assert fake.calls[-1][2]["endpoint"] == "responses" and fake.calls[-1][2]["model"] == "gpt-5"
    p.api.value = "chat.completions"
    p.input.value = "once more"
    p.send.click()
    p.wait(30)
    assert "endpoint" not in fake.calls[-1][2]


def test_each_api_answers_on_the_simulator(offline):
    p = panel("chat", offline)
    for model, api in (("gpt-5.4", "responses"), ("claude-sonnet-4-5-20250929", "messages"),
                       ("gemini-3-flash-preview", "gemini.stream"), ("gemini-3-flash-preview", "chat.completions")):
        p.model.value = model
        p.api.value = api
        p.input.value = f"hello through {api}"
        p.send.click()
        p.wait(60)
        assert p.error_box.value == "", p.error_box.value
        entry = offline.history.last
        assert (entry.model, entry.endpoint, entry.status) == (model, api, "ok")
        assert p.text and p.text in entry.text and "via" in p.status.value


def test_real_stream_grows_then_is_final(offline):
    p = panel("chat", offline)
    seen: list[str] = []
    p.answer_observer = None
    p.input.value = "tell me about foxes"
    p.send.click()
    wait_until(lambda: p.answer is not None, what="the answer bubble")
    p.answer.observe(lambda c: seen.append(c["new"]), names="value")
    p.wait(60)
    assert p.error_box.value == ""
    assert "tokenhot-final" in p.answer._dom_classes
    entry = offline.history.last
    assert entry.kind == "chat" and entry.status == "ok" and entry.thread == p.thread_id
    assert p.text and p.text in entry.text
    assert len(seen) >= 2  # it grew piece by piece


@pytest.fixture
def slow(tmp_path):
    """An offline session whose answers stream slowly (a piece each 0.1 s): time to click while one streams."""
    from tokenhot_nb import Session
    from tokenhot_nb.sim import Faults, SimTransport

    session = Session(mode="offline", store=tmp_path / "s", transport=SimTransport(faults=Faults(chunk_delay=0.1)))
    yield session
    session.close()


def _streaming(session):
    """A chat panel on ``session`` with a long answer streaming (its first piece shown), and the worker thread."""
    p = panel("chat", session)
    p.input.value = "a long answer please"
    p.send.click()
    worker = p.thread
    wait_until(lambda: len(p.text) > 0, what="the first streamed piece")
    return p, worker


def test_stop_keeps_the_partial_answer(slow):
    session = slow  # (its answer streams a piece each 0.1 s)
    p, worker = _streaming(session)
    p.stop.click()
    partial = p.text
    assert p.stopped and "(stopped)" in p.answer.value and not p.send.disabled and p.stop.disabled
    worker.join(30)
    assert not worker.is_alive()
    assert p.text == partial  # nothing more was consumed into the panel
    wait_until(lambda: session.history.last is not None and session.history.last.status != "running",
               what="the entry to be closed")
    entry = session.history.last
    assert entry.status in ("interrupted", "error") and partial in entry.text


def test_empty_message_is_refused(fake):
    p = panel("chat", fake)
    p.send.click()
    assert "Type a message" in p.error_box.value and fake.calls == []


def test_json_answers_are_data_shown_formatted(offline):
    """"Answer as JSON" asks in JSON mode; the bubble shows the parsed value as a JSON block (escaped), and
    the panel's result holds it as .data."""
    p = panel("chat", offline)
    p.as_json.value = True
    p.input.value = "three colours as a list under 'colours'"
    p.send.click()
    p.wait(60)
    assert p.error_box.value == "", p.error_box.value
    entry = offline.history.last
    assert entry.params["json"] is True and entry.status == "ok"
    assert isinstance(p.result.data, (dict, list))
    html = p.answer.value
    assert "<pre" in html and "<code" in html and "json" in html
    first_key = next(iter(p.result.data)) if isinstance(p.result.data, dict) else None
    assert first_key is None or f"&quot;{first_key}&quot;" in html or f'"{first_key}"' in html
    p.as_json.value = False
    p.input.value = "now in words"
    p.send.click()
    p.wait(60)
    assert "json" not in offline.history.last.params and p.result.data is None


def test_no_bubble_shows_a_key(tmp_path):
    """Bubbles are widget state, saved with the notebook: the message typed (a pasted key) and the answer (a key
    the relay spelled with Markdown escapes, which rendering turns back into the key) show the mask instead."""
    from tokenhot_nb import Session
    from tokenhot_nb.sim import Faults, SimTransport

    key = "sk-WIDGET-bubble-KEY-0123456789"
    answer = "Your key is " + key.replace("-", "\\-") + ", keep it safe."
    session = Session(mode="offline", store=tmp_path / "store", transport=SimTransport(faults=Faults(answer=answer)))
    try:
        p = panel("chat", session)
        p.model.value = "gpt-5.2"
        p.input.value = f"is {key} my key?"
        p.send.click()  # refused: the key is masked in the box (see test_widgets_panel.py); sent masked next
        assert len(session.history) == 0 and p.input.value == "is sk-**** my key?"
        p.send.click()
        p.wait(30)
        shown = [child.value for child in p.thread_box.children]
        assert len(shown) == 2 and "keep it safe" in shown[1] and "sk-****" in shown[0] and "sk-****" in shown[1]
        assert all(key not in html and key[3:] not in html for html in shown), shown
    finally:
        session.close()


def test_a_notebook_chatting_through_a_panel_replays(tmp_path):
    """The panel's thread name is part of each chat call's replay key: a random one (``panel-6c6e…``) made every
    panel chat of a notebook re-run in replay mode a miss. Two fresh processes, as a recording run and its
    replay: the replay answers from the store."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "import tokenhot_nb\n"
        "from tokenhot_nb.widgets import panel\n"
        "s = tokenhot_nb.Session(store=sys.argv[1])\n"
        "p = panel('chat', s)\n"
        "for text in ('Suggest a name for a balloon festival.', 'And a slogan?'):\n"
        "    p.input.value = text\n"
        "    p.send.click()\n"
        "    p.wait(60)\n"
        "    assert not p.error_box.value, p.error_box.value\n"
        "    print(s.mode, p.thread_id, repr(p.text))\n"
        "p.new_thread.click()\n"
        "p.input.value = 'A third, in a new thread.'\n"
        "p.send.click()\n"
        "p.wait(60)\n"
        "assert not p.error_box.value, p.error_box.value\n"
        "print(s.mode, p.thread_id, repr(p.text))\n"
        "s.close()\n")
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENHOT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    runs = []
    for mode in ("offline", "replay"):
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "st")], capture_output=True, text=True,
                             env={**env, "TOKENHOT_MODE": mode}, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        runs.append(out.stdout.splitlines())
    recorded, replayed = runs
    assert len(recorded) == 3 and [line.split(" ", 1)[0] for line in replayed] == ["replay"] * 3
    assert [line.split(" ", 1)[1] for line in replayed] == [line.split(" ", 1)[1] for line in recorded]
    assert len({line.split(" ")[1] for line in recorded}) == 2  # the new thread has a new name


def test_a_second_send_while_answering_keeps_the_message_and_stop_still_stops(slow):
    """A Send click queued before the button greyed out (or start() called again) during a stream: it cleared the
    typed message, added a bubble nobody answered, and pointed Stop at that bubble, so Stop no longer stopped the
    paid stream. Now it is refused in the status line, the message stays typed and Stop stops the stream."""
    session = slow
    p, worker = _streaming(session)
    p.input.value = "a second question"
    p.send.click()
    assert p.input.value == "a second question" and "Still answering" in p.status.value
    assert len(p.thread_box.children) == 2 and p.thread is worker
    p.stop.click()
    worker.join(30)
    assert not worker.is_alive()
    wait_until(lambda: session.history.last is not None and session.history.last.status != "running",
               what="the entry to be closed")
    assert len(session.history) == 1 and session.history.last.status in ("interrupted", "error")


@pytest.mark.parametrize("message, why", [("hi there", "budget"), ("bad \ud800 char", "invalid character")])
def test_a_refused_message_goes_back_in_the_box(tmp_path, message, why):
    """A message refused before any answer (over the budget, a lone surrogate) was gone from the box, the answer
    bubble left on '…' for good; now the message is back to fix or resend and the bubble says there was none."""
    from tokenhot_nb import Session

    session = Session(mode="offline", store=tmp_path / "s", budget=0.00001)
    try:
        p = panel("chat", session)
        p.input.value = message
        p.send.click()
        p.wait(30)
        assert why in p.error_box.value and p.error_box.value.count("\n") == 0
        assert p.input.value == message and len(session.history.filter(status="ok")) == 0
        assert "no answer" in p.answer.value and "…" not in p.answer.value
        assert not p.send.disabled and p.stop.disabled
    finally:
        session.close()


def _input_tokens(line: str) -> int:
    import re

    found = re.search(r"~([\d,]+) input tokens", line)
    assert found, line
    return int(found.group(1).replace(",", ""))


def test_the_chat_panel_says_what_a_message_costs_with_its_thread(slow):
    """Each Send is paid for, and a follow-up carries the whole thread: the line under Send gives the estimate of the
    message as typed, in its thread (longer after each answer, back to the message alone in a new thread). Working it
    out while the first answer streams (the next message being typed) sends nothing and takes nothing from the
    thread: such an estimate emptied it, and the next message went without the first turn."""
    p = panel("chat", slow)
    p.input.value = "Tell me about the sea."
    first = _input_tokens(p.price.value)
    assert "Cost: " in p.price.value and "simulated" in p.price.value
    p.send.click()
    wait_until(lambda: len(p.text) > 0, what="the first streamed piece")
    p.input.value = "Tell me about the"  # (typed while it streams)
    wait_until(lambda: not p.busy, timeout=60, what="the answer")
    p.input.value = "Tell me about the sea."
    assert _input_tokens(p.price.value) > first + 10  # (the first turn, question and answer, goes with it)
    p.new_thread.click()
    assert _input_tokens(p.price.value) == first
    assert len(slow.history) == 1 and slow.history.last.status == "ok"


def test_a_json_answer_that_is_not_json_stays_a_turn_of_the_thread(tmp_path):
    """"Answer as JSON" and a model that answered in words: the whole, paid answer was shown "(interrupted)",
    and the next message started a new thread, leaving that turn (and the first question) behind."""
    import json

    import httpx
    from _session_support import Recorder, make_session

    class Words(Recorder):  # the simulator, except that chat completions answer in words, JSON mode or not
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path != "/v1/chat/completions":
                return await super().handle_async_request(request)
            self.requests.append({"method": "POST", "path": request.url.path, "body": await request.aread()})
            return httpx.Response(200, json={"object": "chat.completion", "model": "gpt-5.2", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "Red, green and blue."},
                 "finish_reason": "stop"}], "usage": {"prompt_tokens": 9, "completion_tokens": 6}})

    rec = Words()
    session = make_session(tmp_path / "st", rec)
    try:
        p = panel("chat", session)
        p.model.value = "gpt-5.2"
        p.as_json.value = True
        p.input.value = "three colours"
        p.send.click()
        p.wait(60)
        assert "not JSON" in p.error_box.value and "(interrupted)" not in p.answer.value
        assert "Red, green and blue." in p.answer.value and p.result.text == "Red, green and blue."
        p.as_json.value = False
        p.input.value = "and a fourth?"
        p.send.click()
        p.wait(60)
        sent = json.loads(rec.requests[-1]["body"])["messages"]
        assert [m["content"] for m in sent] == ["three colours", "Red, green and blue.", "and a fourth?"]
    finally:
        session.close()
