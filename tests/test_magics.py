"""Every magic through IPython's test shell against the offline simulator (real Session, tmp store)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import _magics_support as support
import pytest
from IPython.utils.capture import capture_output

import tokenhot_nb
import tokenhot_nb.magics as magics_pkg

SLOW_STREAM = json.dumps({"stream_chunks": 2000, "chunk_delay": 0.0005})

ip = support.ip  # fixture
offline = support.offline  # fixture


def run(ip: Any, source: str) -> tuple[Any, Any]:
    with capture_output(display=True) as cap:
        res = ip.run_cell(source)
    return res, cap


def last_data(cap: Any) -> dict[str, Any]:
    return dict(cap.outputs[-1].data)


def test_image_generate_and_edit(ip: Any, offline: Any) -> None:
    res, cap = run(ip, "%%th_image -n 1 --seed 5 -o fox\na red fox")
    assert res.error_in_exec is None, cap.stderr
    data = last_data(cap)
    assert any(k.startswith("image/") for k in data) or "<img" in data.get("text/html", "")
    assert cap.outputs[-1].update, "the placeholder is replaced in place"
    assert cap.outputs[-1].metadata["tokenhot"]["entry_id"] == ip.user_ns["fox"].entry_id
    assert ip.user_ns["_"] is ip.user_ns["fox"]
    res, cap = run(ip, "%%th_image --edit fox -o hat\nadd a hat")
    assert res.error_in_exec is None and type(ip.user_ns["hat"]).__name__ == "ImageResult"
    assert [e.kind for e in offline.history][-2:] == ["image", "edit"]


def test_streamed_chat_is_throttled(ip: Any, offline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenhot_nb.magics import _stream

    views: list[Any] = []
    ticks = iter(range(1, 1_000_000))
    real_view = _stream.StreamView

    def view(**kw: Any) -> Any:  # a clock that moves 1 ms per read (one read per chunk): no wall time involved
        views.append(real_view(clock=lambda: next(ticks) / 1000, **kw))
        return views[-1]

    monkeypatch.setattr(_stream, "StreamView", view)
    ip.user_ns["topic"] = "otters"
    res, cap = run(ip, f"%%th_chat -x 'headers={{\"X-Sim-Faults\": {json.dumps(SLOW_STREAM)}}}' -o ans\n"
                       "tell me about {topic}")
    assert res.error_in_exec is None, cap.stderr
    firsts = [o for o in cap.outputs if not o.update]
    updates = [o for o in cap.outputs if o.update]
    assert len(firsts) == 1 and len(views) == 1
    fake_seconds = (views[0].deltas + 1) / 1000
    assert views[0].deltas > 500  # the simulator's slow stream sends many small chunks
    assert 2 <= len(updates) <= _stream.MAX_UPDATES_PER_SECOND * fake_seconds + 1, (len(updates), fake_seconds)
    final = updates[-1]
    assert "text/html" in final.data and final.metadata["tokenhot"]["status"] == "done"
    assert final.metadata["tokenhot"]["history_id"] == ip.user_ns["ans"].entry_id
    assert "otters" in ip.user_ns["ans"].prompt
    assert ip.user_ns["_"] is ip.user_ns["ans"]


def test_chat_code_format_and_threads(ip: Any, offline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    got: list[str] = []
    monkeypatch.setattr(ip, "set_next_input", lambda s, replace=False: got.append(s))
    res, _ = run(ip, "%%th_chat -m claude-sonnet --thread t1 --new --no-stream --format code --temperature 0.1 "
                     "--max-tokens 200\nwrite python code that prints hello")
    assert res.error_in_exec is None and len(got) == 1 and got[0].strip()
    run(ip, "%%th_chat --thread t1\nand again")
    assert offline.history[-1].thread == "t1"


def test_menu_entries_pick_their_endpoint_and_options_are_checked(ip: Any, offline: Any) -> None:
    res, cap = run(ip, '%%th_chat -m "GPT 5.4(Responses)" --thread menu\nWhich endpoint?')
    assert res.error_in_exec is None, cap.stderr
    assert offline.history[-1].endpoint == "responses" and offline.history[-1].model == "gpt-5.4"
    res, cap = run(ip, "%%th_chat -m gpt-5.4 --temperature 0.3\nhi")
    assert "gpt-5.4 does not take temperature" in last_data(cap)["text/plain"]
    assert offline.history[-1].status == "error" and offline.history[-1].endpoint == ""
    run(ip, "%%th_audio -o menu_speech\nMenu entries matter.")
    res, cap = run(ip, '%th_transcribe menu_speech -m "whisper-1(音频翻译)" -o menu_tr')
    assert res.error_in_exec is None and offline.history[-1].endpoint == "audio.translations"
    res, cap = run(ip, "%th_translate menu_speech --language zh")
    assert "always outputs English" in last_data(cap)["text/plain"]


@pytest.mark.parametrize(("model", "endpoint", "more"), [
    ("gpt-5", "responses", ""), ("claude-opus-4-6", "messages", ""), ("gemini-2.5-flash", "gemini.stream", ""),
    ("gemini-2.5-flash", "gemini.generate", "--no-stream"), ("gemini-2.5-flash", "chat.completions", ""),
])
def test_chat_endpoint_option_asks_through_that_api(ip: Any, offline: Any, model: str, endpoint: str,
                                                    more: str) -> None:
    res, cap = run(ip, f"%%th_chat -m {model} --endpoint {endpoint} {more} --new -o ans\nWhich API?")
    assert res.error_in_exec is None, cap.stderr
    entry = offline.history[-1]
    assert (entry.status, entry.model, entry.endpoint) == ("ok", model, endpoint)
    assert entry.params["endpoint"] == endpoint and ip.user_ns["ans"].text


def test_chat_endpoint_option_is_checked_before_any_request(ip: Any, offline: Any) -> None:
    res, cap = run(ip, "%%th_chat -m grok-4.1 --endpoint responses\nhi")
    text = last_data(cap)["text/plain"]
    assert "grok-4.1 is not served on the 'responses' endpoint" in text and "chat.completions" in text
    assert "Traceback" not in cap.stdout + cap.stderr
    assert all(e.status != "ok" for e in offline.history)  # nothing answered, nothing billed
    res, cap = run(ip, "%%th_chat --endpoint openai-v2\nhi")
    assert type(res.error_in_exec).__name__ == "UsageError"
    assert "invalid choice: 'openai-v2'" in cap.stderr and "responses" in cap.stderr
    assert len(offline.history) <= 1


def test_chat_json_and_schema(ip: Any, offline: Any) -> None:
    res, cap = run(ip, "%%th_chat --json --thread data -o j\nthree colours")
    assert res.error_in_exec is None, cap.stderr
    assert isinstance(ip.user_ns["j"].data, dict) and offline.history[-1].params["json"] is True
    ip.user_ns["point_schema"] = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    res, cap = run(ip, "%%th_chat -m claude-opus-4-6-cc --schema point_schema -o p\na point")
    assert res.error_in_exec is None and isinstance(ip.user_ns["p"].data["x"], int)
    res, cap = run(ip, '%%th_chat --schema \'{"type": "object"}\' -o q\nanything')
    assert res.error_in_exec is None and isinstance(ip.user_ns["q"].data, dict)
    res, cap = run(ip, "%%th_chat --schema no_such_var\nx")
    assert "no such variable" in cap.stdout + cap.stderr + str(res.error_in_exec)


def test_a_structured_answer_that_does_not_fit_is_shown_whole_and_kept_under_its_name(ip: Any, offline: Any) -> None:
    """%%th_chat --schema … -o p whose answer did not fit (here: cut at --max-tokens): the paid answer was shown
    as a stream that "broke off", and p was never set, so the notebook had no handle on what it paid for."""
    from tokenhot_nb.magics._stream import BROKEN_OFF

    ip.user_ns.pop("p", None)
    ip.user_ns["named"] = {"type": "object", "properties": {"name": {"type": "string"}}}
    _, cap = run(ip, "%%th_chat --schema named --max-tokens 3 -o p\nDescribe Paris")
    kept = ip.user_ns["p"]
    assert kept.entry_id == offline.history[-1].id and kept.text and kept.finish_reason == "length"
    assert ip.user_ns["_"] is kept
    shown = [o.data.get("text/plain", "") for o in cap.outputs]
    assert not any(BROKEN_OFF.strip() in t for t in shown)
    assert "cut short" in shown[-1] and "--max-tokens" in shown[-1] and "Traceback" not in cap.stdout + cap.stderr
    assert "kept in _ (and -o NAME)" in shown[-1] and ".result.text" not in shown[-1]  # (what the magic set)


def test_chat_tools_ask_and_answer_from_the_magic(ip: Any, offline: Any) -> None:
    """--tools offers functions; the calls come back as .tool_calls and show in the cell; the line form
    ``%th_chat --tool-results`` answers them in the same thread, and the model's final answer is text."""
    ip.user_ns["weather_tool"] = {"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    res, cap = run(ip, "%%th_chat -m claude-sonnet --tools weather_tool --tool-choice required --thread w "
                       "-o ask\nWhat is the weather in Lisbon?")
    assert res.error_in_exec is None, cap.stderr
    ask = ip.user_ns["ask"]
    assert [c.name for c in ask.tool_calls] == ["get_weather"] and isinstance(ask.tool_calls[0].arguments, dict)
    assert "get_weather" in last_data(cap)["text/html"]
    assert offline.history[-1].params["tools"][0]["function"]["name"] == "get_weather"
    ip.user_ns["answers"] = {c.id: {"city": "Lisbon", "sky": "clear", "c": 21} for c in ask.tool_calls}
    res, cap = run(ip, "%th_chat -m claude-sonnet --tools weather_tool --thread w --tool-results answers -o done")
    assert res.error_in_exec is None, cap.stderr
    done = ip.user_ns["done"]
    assert done.tool_calls == [] and done.text
    assert offline.history[-1].thread == offline.history[-2].thread  # the same conversation went on

    # inline JSON works as a list; a wrong kind or an unknown name is one clear line, and nothing is sent
    n = len(offline.history)
    res, cap = run(ip, '%%th_chat --tools \'[{"name": "now", "parameters": {"type": "object"}}]\' -o t\nwhat time?')
    assert res.error_in_exec is None, cap.stderr
    assert offline.history[-1].params["tools"] == [{"name": "now", "parameters": {"type": "object"}}]
    ip.user_ns["not_a_tool"] = 42
    for line, says in (("--tools not_a_tool", "holds a int"), ("--tools nowhere", "no such variable"),
                       ("--tool-results not_a_tool", "holds a int")):
        res, cap = run(ip, f"%%th_chat {line}\nhi")
        said = cap.stdout + cap.stderr + str(res.error_in_exec)
        assert type(res.error_in_exec).__name__ == "UsageError", line
        assert says in said and "Traceback" not in said, said
    res, cap = run(ip, "%th_chat --thread elsewhere --tool-results answers")  # no calls pending there
    said = cap.stdout + cap.stderr + last_data(cap)["text/plain"]
    assert "asked for: none" in said and "Traceback" not in said
    res, cap = run(ip, "%th_chat -m claude-sonnet")  # the line form needs the results, or a cell
    assert "the cell is the message" in cap.stdout + cap.stderr + str(res.error_in_exec)
    assert len(offline.history) == n + 2 and offline.history[-1].status == "error"  # only the refused answer


def test_a_cell_that_leaves_tool_calls_unanswered_says_how_to_answer_them_in_the_magic(ip: Any, offline: Any) -> None:
    """A new message in a thread whose last answer asked for tools is refused (the services answer it 400); in a
    magic its fix names the magic's flags (--tool-results, --new), not Python's new_thread=True."""
    ip.user_ns["weather_tool"] = {"name": "get_weather", "parameters": {"type": "object"}}
    res, cap = run(ip, "%%th_chat --tools weather_tool --tool-choice required --thread pend -o ask\nWeather?")
    assert res.error_in_exec is None and ip.user_ns["ask"].tool_calls, cap.stderr
    n = len(offline.history)
    res, cap = run(ip, "%%th_chat --thread pend\nNever mind, a joke?")
    said = last_data(cap)["text/plain"]
    assert "asked for tools" in said and "--tool-results" in said and "--new" in said, said
    assert "new_thread" not in said and "Traceback" not in cap.stdout + cap.stderr
    assert len(offline.history) == n + 1 and offline.history[-1].endpoint == ""  # refused, nothing sent
    res, cap = run(ip, "%%th_chat --thread pend --new\nA joke, then?")
    assert res.error_in_exec is None and offline.history[-1].status == "ok", cap.stderr


def test_audio_transcribe_translate(ip: Any, offline: Any) -> None:
    res, cap = run(ip, "%%th_audio -o hello\nHello there")
    assert res.error_in_exec is None, cap.stderr
    assert "<audio" in last_data(cap).get("text/html", "")
    res, cap = run(ip, "%th_transcribe hello --format srt --language en -o subs")
    assert res.error_in_exec is None and "Hello" in ip.user_ns["subs"].text
    res, cap = run(ip, "x = %th_translate hello --format text")
    assert res.error_in_exec is None and type(ip.user_ns["x"]).__name__ == "TranscriptResult"


def test_video_waits_with_progress(ip: Any, offline: Any) -> None:
    res, cap = run(ip, "%%th_video --duration 5 --ratio 16:9 -o clip\na wave")
    assert res.error_in_exec is None, cap.stderr
    assert "<video" in last_data(cap).get("text/html", "")
    assert any("%" in o.data.get("text/plain", "") for o in cap.outputs[:-1]), "progress was shown"


def test_video_no_wait_and_resume(ip: Any, offline: Any) -> None:
    res, cap = run(ip, "%%th_video --no-wait -o task\na sunrise")
    assert res.error_in_exec is None, cap.stderr
    task = ip.user_ns["task"]
    assert type(task).__name__ == "VideoTask"
    res, cap = run(ip, f"%th_video --resume {task.task_id} -o again")
    assert res.error_in_exec is None, cap.stderr
    assert "<video" in last_data(cap).get("text/html", "")
    res, cap = run(ip, "%th_video --resume abc\nsome prompt")
    assert res.error_in_exec is None  # line magic: the second line is Python, a NameError would show
    res, cap = run(ip, "%%th_video --resume abc\nsome prompt")
    assert type(res.error_in_exec).__name__ == "UsageError"


def test_video_resume_takes_a_history_number_as_session_resume_does(ip: Any, offline: Any) -> None:
    """``s.resume(3)`` takes an entry id; ``%th_video --resume 3`` said "No video task with id '3'"."""
    run(ip, "%%th_video -o clip\na wave")
    clip = ip.user_ns["clip"]
    res, cap = run(ip, f"%th_video --resume {clip.entry_id} -o again")
    assert res.error_in_exec is None and magics_pkg.last_error is None, cap.stderr
    assert ip.user_ns["again"].sha256 == clip.sha256 and "<video" in last_data(cap)["text/html"]
    offline.chat("hi", stream=False)  # a row of another kind: refused, naming both readings
    chat_id = offline.history[-1].id
    res, cap = run(ip, f"%th_video --resume {chat_id}")
    text = last_data(cap)["text/plain"]
    assert f"History entry #{chat_id} is a chat call, not a video call" in text
    assert f"resume('{chat_id}')" in text and len(cap.outputs) == 1  # the error alone: no progress panel
    # all digits but no such row (a vendor's numeric task id): a task id, as before
    res, cap = run(ip, "%th_video --resume 106916112212032")
    assert "No video task with id '106916112212032'" in last_data(cap)["text/plain"]
    assert offline.history[-1].response["task_id"] == "106916112212032"


def test_video_inputs_build_the_same_body_from_the_magic_and_from_python(ip: Any, offline: Any) -> None:
    """``--last``/``--ref``/``--audio`` and ``last_frame=``/``references=``/``audio=`` send the same request; ``--ref``
    images said they were references (untagged, two were taken for first and last frame)."""
    first, last, ref, sound = (f"https://cdn.example.com/{n}" for n in ("first.png", "last.png", "ref.png", "a.mp3"))
    model = "-m doubao-seedance-2.0 --duration 4"
    for line, kwargs in (
            (f"--image {first} --last {last}", {"image": first, "last_frame": last}),
            (f"--ref {first} --ref {ref} --audio {sound}", {"references": [first, ref], "audio": sound})):
        res, cap = run(ip, f"%%th_video {model} {line} -o clip\nthe same")
        assert res.error_in_exec is None and magics_pkg.last_error is None, cap.stderr
        by_magic = ip.user_ns["clip"].entry
        by_python = offline.video("the same", model="doubao-seedance-2.0", duration=4, wait=False, **kwargs).entry
        assert by_magic.request == by_python.request and by_magic.params == by_python.params
        assert by_magic.replay_key == by_python.replay_key
    roles = [c.get("role") for c in by_magic.request["json"]["content"]]
    assert roles == [None, "reference_image", "reference_image", "reference_audio"]


def test_video_interrupt_says_how_to_resume(ip: Any, offline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real = offline.video

    def interrupted(prompt: str, **kw: Any) -> Any:
        kw["on_progress"](type("S", (), {"task_id": "task_xyz", "state": "running", "progress": 40})())
        raise KeyboardInterrupt("Stopped waiting for video task task_xyz. It keeps running")

    monkeypatch.setattr(offline, "video", interrupted)
    res, cap = run(ip, "%%th_video\na wave")
    monkeypatch.setattr(offline, "video", real)
    assert type(res.error_in_exec).__name__ == "UsageError"
    assert "%th_video --resume task_xyz" in cap.stderr and "Traceback" not in cap.stderr
    assert "%th_video --resume task_xyz" in last_data(cap)["text/plain"]


def test_a_refused_video_shows_only_its_error(ip: Any, offline: Any) -> None:
    """``%%th_video -m gpt-image-2`` drew "🎬 failed · 0% · 0s" above the error, though nothing had started."""
    res, cap = run(ip, "%%th_video -m gpt-image-2\na wave")
    assert res.error_in_exec is None
    shown = [o.data.get("text/plain", "") for o in cap.outputs]
    assert not any("failed" in text for text in shown)
    assert shown[-1].startswith("✖ ") and "gpt-image-2 is an image model" in shown[-1]
    assert cap.outputs[-1].update, "the error takes the progress panel's place"


def test_a_video_model_no_channel_serves_shows_only_its_error(ip: Any, offline: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A 503 model_not_found is a NotFoundError, caught as "the service does not know the task": with no task at
    all it drew "🎬 failed · 0%" above the error, as any refusal before a task exists must not."""
    from tokenhot_nb.errors import ModelNotServedError

    def not_served(*args: Any, **kwargs: Any) -> Any:
        raise ModelNotServedError("分组 default 下模型 no-such-video-9 无可用渠道（distributor）")

    monkeypatch.setattr(offline, "video", not_served)
    res, cap = run(ip, "%%th_video\na wave")
    assert res.error_in_exec is None
    shown = [o.data.get("text/plain", "") for o in cap.outputs]
    assert not any("failed" in text for text in shown)
    assert shown[-1].startswith("✖ ") and "no-such-video-9" in shown[-1]


def test_a_stopped_background_wait_says_the_task_runs_on(ip: Any, offline: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """IPython exiting cancels a ``--no-wait`` poll: the panel said "failed … CancelledError:" with no message,
    though the task ran on and its row stayed pending (resumable)."""
    import concurrent.futures

    from tokenhot_nb.magics import _magics

    def cancelled(task: Any, on_status: Any) -> Any:
        raise concurrent.futures.CancelledError()

    from tokenhot_nb.magics import _video

    threads: list[Any] = []
    start = _video.in_background
    monkeypatch.setattr(_video, "in_background", lambda target: threads.append(start(target)) or threads[-1])
    monkeypatch.setattr(_magics, "_task_wait", cancelled)
    with capture_output(display=True) as cap:
        ip.run_cell("%%th_video --no-wait -o task\na sunrise")
        threads[0].join(5)  # the thread updates the panel (after the cell, in a notebook)
    task = ip.user_ns["task"]
    final = cap.outputs[-1].data["text/plain"]
    assert final.startswith("🎬 stopped waiting (the task keeps running)") and "failed" not in final
    assert "cancelled" in final and f"%th_video --resume {task.task_id}" in final
    assert offline.history.get(task.entry_id).status == "pending"
    # a wait that ends with an error while the task runs on (the deadline): stopped, not failed, in the foreground
    from tokenhot_nb.errors import APITimeoutError

    def deadline(task: Any, on_status: Any) -> Any:
        raise APITimeoutError(f"Video task {task.task_id} was not done after 1 s; it is still running on the server.")

    monkeypatch.setattr(_magics, "_task_wait", deadline)
    _, cap = run(ip, f"%th_video --resume {task.entry_id}")
    panel, error = (o.data["text/plain"] for o in cap.outputs[-2:])
    assert panel.startswith("🎬 stopped waiting") and f"--resume {task.task_id}" in panel and "failed" not in panel
    assert error.startswith("✖ ") and "still running on the server" in error


def test_unknown_model_suggests(ip: Any, offline: Any) -> None:
    res, cap = run(ip, "%%th_image -m seedrem\na cat")
    assert res.error_in_exec is None and "Traceback" not in cap.stdout + cap.stderr
    data = last_data(cap)
    assert "Did you mean" in data["text/plain"] and "seedream" in data["text/plain"]
    assert type(magics_pkg.last_error).__name__ == "UnknownModelError"


def test_history_and_models_print_tables_in_a_terminal(ip: Any, offline: Any) -> None:
    """In IPython's terminal ``%th_history`` (and ``s.history``) printed one line, ``s.models()`` ~65 KB of reprs."""
    run(ip, "%%th_image\na cat on a roof")
    res, _ = run(ip, "%th_history")
    text = ip.display_formatter.format(res.result)[0]["text/plain"]
    assert text.splitlines()[1].split()[:3] == ["#", "time", "kind"] and "a cat on a roof" in text
    res, _ = run(ip, "import tokenhot_nb\ntokenhot_nb.session().models()")
    text = ip.display_formatter.format(res.result)[0]["text/plain"]
    assert "ModelInfo(" not in text and text.splitlines()[1].split()[:3] == ["id", "kind", "family"]
    assert len(text) < 30_000


def test_models_history_config(ip: Any, offline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    res, cap = run(ip, "%th_models seedream --kind image")
    table = res.result
    assert len(table) >= 1 and "<table" in table._repr_mimebundle_()["text/html"]
    run(ip, "%%th_image\na cat")
    run(ip, "%%th_audio\nhi")
    res, _ = run(ip, "%th_history 5 --kind image")
    assert [e.kind for e in res.result] == ["image"]
    out = Path(offline.settings.store) / "export.json"
    res, cap = run(ip, f"%th_history --export {out}")
    assert out.exists() and "Exported" in cap.stdout
    # the key: only through getpass / the environment, never shown
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "sk-secret-abcdef123456")
    res, cap = run(ip, "%th_config --mode offline --key --default-image seedream-4.5")
    assert res.error_in_exec is None, cap.stderr
    shown = res.result._repr_mimebundle_()
    assert "sk-secret" not in str(shown) + cap.stdout + cap.stderr
    s = tokenhot_nb.session()
    assert s is not offline and s.settings.api_key.get() == "sk-secret-abcdef123456"
    assert s.defaults["image"] == "doubao-seedream-4-5-251128"
    monkeypatch.setenv("MY_KEY", "sk-fromenv-abcdef123456")
    res, cap = run(ip, "%th_config --key-from-env MY_KEY")
    assert tokenhot_nb.session().settings.api_key.get() == "sk-fromenv-abcdef123456"
    assert "sk-fromenv" not in str(res.result._repr_mimebundle_()) + cap.stdout
    res, cap = run(ip, "%th_config --key-from-env NOPE_NOT_SET")
    assert "NOPE_NOT_SET is not set" in last_data(cap)["text/plain"]


#: A key as the service also takes it, without its "sk-" (nothing shaped like a key to redaction)
BARE_KEY = "Zt4hYq8wPx2nVb6mKr1sLd9fGj3cHa7eUo5iTy0pWq2eRk8mNb4v"


@pytest.mark.parametrize("line", [f"--key {BARE_KEY}", f"--key={BARE_KEY}", f"--mode offline --key {BARE_KEY}",
                                  f"--key-from-env {BARE_KEY}", f"--key-from-env=sk-{BARE_KEY}"])
def test_a_key_typed_on_the_th_config_line_is_refused_without_being_shown(ip: Any, offline: Any, line: str) -> None:
    """``%th_config --key <key>`` (``--key`` prompts, it takes no value) said "unrecognized arguments: <key>", and
    ``--key-from-env <key>`` said "Environment variable <key> is not set": the key in the cell's output."""
    _res, cap = run(ip, f"%th_config {line}")
    said = "".join(str(o.data) for o in cap.outputs) + cap.stdout + cap.stderr
    assert BARE_KEY not in said and BARE_KEY[:20] not in said and BARE_KEY[-20:] not in said
    assert "not shown" in said and "delete it from this cell" in said
    assert tokenhot_nb.session() is offline  # nothing changed


@pytest.mark.parametrize("no_input", [EOFError, "stdin"])
def test_a_key_prompt_where_the_front_end_takes_no_input_is_one_line(ip: Any, offline: Any, no_input: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A front end with no input box (IPython's StdinNotImplementedError) or no stdin (EOFError) showed
    "EOFError: EOFError ... may be a bug in tokenhot_nb"."""
    from IPython.core.error import StdinNotImplementedError

    error = EOFError() if no_input is EOFError else StdinNotImplementedError("raw_input was called, but this "
                                                                             "frontend does not support input")

    def refuse(prompt: str = "") -> str:
        raise error

    monkeypatch.setattr("getpass.getpass", refuse)
    _res, cap = run(ip, "%th_config --key")
    text = last_data(cap)["text/plain"]
    assert "cannot ask for input" in text and "--key-from-env" in text and "bug" not in text
    assert tokenhot_nb.session() is offline  # nothing changed


def test_panel(ip: Any, offline: Any) -> None:
    res, cap = run(ip, "%th_panel image")
    assert res.error_in_exec is None, cap.stderr


def test_config_change_keeps_every_other_setting(ip: Any, offline: Any) -> None:
    """A %th_config change rebuilds the session but carries every setting, the defaults, the seed and a
    custom transport over; only what was asked changes."""
    import dataclasses

    from tokenhot_nb.sim import Faults, SimTransport

    transport = SimTransport(faults=Faults())
    custom = tokenhot_nb.session(
        transport=transport, seed=42, defaults={"chat": "claude-opus-4-6"}, poll_interval=0.25,
        connect_timeout=3.5, read_timeout=77.0, max_retries=5, stream_idle_timeout=9.0, video_deadline=99.0,
        download_cap=12345678, store=offline.settings.store, mode="offline",
    )
    def settings_of(sess: Any) -> dict[str, Any]:
        return {f.name: getattr(sess.settings, f.name) for f in dataclasses.fields(sess.settings)}

    before = settings_of(custom)
    res, cap = run(ip, "%th_config --base-url http://127.0.0.1:9/v1 --default-image nano-banana")
    assert res.error_in_exec is None, cap.stderr
    s = tokenhot_nb.session()
    assert s is not custom
    after = settings_of(s)
    assert after.pop("base_url") == "http://127.0.0.1:9" and before.pop("base_url") != "http://127.0.0.1:9"
    assert after == before  # poll_interval, timeouts, retries, caps, key, mode, store: all kept
    assert s.seed == 42 and s._transport is transport
    assert s.defaults == {"chat": "claude-opus-4-6", "image": "gemini-2.5-flash-image"}
    # the carried transport still serves calls (it was not closed with the old session)
    assert s.chat("hi", stream=False).text
    # each further change again keeps the rest
    run(ip, "%th_config --mode replay")
    s2 = tokenhot_nb.session()
    assert s2.settings.mode == "replay" and s2.settings.poll_interval == 0.25 and s2.settings.max_retries == 5
    assert s2.settings.base_url == "http://127.0.0.1:9" and s2.seed == 42 and s2._transport is transport
    assert s2.defaults["image"] == "gemini-2.5-flash-image"
    # going live drops the simulator transport (a live session must not answer from the simulator)
    run(ip, "%th_config --mode live")
    s3 = tokenhot_nb.session()
    assert s3.settings.mode == "live" and s3._transport is None and s3.settings.read_timeout == 77.0
    # --reset starts over from the environment
    run(ip, "%th_config --reset")
    s4 = tokenhot_nb.session()
    assert s4.settings.poll_interval != 0.25 and s4.seed is None and s4._transport is None and not s4.defaults


def test_a_chat_follow_up_is_labelled_with_the_model_the_thread_goes_on_with(ip: Any, offline: Any) -> None:
    run(ip, "%%th_chat -m claude-opus-4-6 --no-stream\nhi")
    res, cap = run(ip, "%%th_chat\nand then?")
    assert res.error_in_exec is None
    labels = [json.dumps(o.metadata) for o in cap.outputs]
    assert labels and all("claude-opus-4-6" in m for m in labels), labels


def test_a_no_wait_task_names_what_the_magic_user_holds(ip: Any, offline: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """``%%th_video --no-wait`` hands the task out as ``-o NAME`` (or as ``_`` alone); its lines said ``task.wait()``
    and ``task.result()``, a variable the magic user does not have. They name NAME, else the resume that finds the
    task by its id (``_`` is replaced by the next cell's output); a Python task keeps ``task``."""
    import concurrent.futures
    import re

    from tokenhot_nb.magics import _magics, _video

    def cancelled(task: Any, on_status: Any) -> Any:  # (the panel's wait: ends at once, the task left pending)
        raise concurrent.futures.CancelledError()

    threads: list[Any] = []
    start = _video.in_background
    monkeypatch.setattr(_video, "in_background", lambda target: threads.append(start(target)) or threads[-1])
    monkeypatch.setattr(_magics, "_task_wait", cancelled)
    run(ip, "%%th_video --no-wait -o clip\na sunrise")
    clip = ip.user_ns["clip"]
    assert f"clip.wait() to finish, or tokenhot_nb.session().resume({clip.task_id!r}) later" in repr(clip)
    assert "<code>clip.wait()</code>" in clip._repr_mimebundle_()[0]["text/html"]
    assert not re.search(r"(?<![\w.])task\.", repr(clip) + clip._repr_mimebundle_()[0]["text/html"])
    run(ip, "clip.wait(progress=False)")
    html = clip._repr_mimebundle_()[0]["text/html"]
    assert "clip.result() is the video" in repr(clip) and "<code>clip.result()</code>" in html

    run(ip, "%%th_video --no-wait\na sunset")
    held = ip.user_ns["_"]
    line = re.search(r"tokenhot_nb\.session\(\)\.resume\('[^']+'\)\.wait\(\)", repr(held))
    assert line is not None and "task." not in repr(held), repr(held)
    res, _ = run(ip, f"import tokenhot_nb\nresumed = {line.group(0)}")  # the line works as written
    assert res.error_in_exec is None and ip.user_ns["resumed"].path.is_file()
    for t in threads:
        t.join(5)
    python = offline.video("a sunrise", wait=False)
    assert "task.wait() to finish" in repr(python)
    assert "Call <code>.wait()</code>" in python._repr_mimebundle_()[0]["text/html"]
