"""Careless arguments are refused with one line before any request: empty messages, wrong types."""

from __future__ import annotations

import re
from typing import Any

import pytest
from _session_support import short_wav

from tokenhot_nb import errors as E


@pytest.mark.parametrize("kw,words", [
    ({"message": ""}, "message is empty"),
    ({"message": "   \n"}, "message is empty"),
    ({"message": "hi", "temperature": "hot"}, "temperature must be a number"),
    ({"message": "hi", "temperature": 7}, "temperature must be a number from 0 to 2"),
    ({"message": "hi", "temperature": float("nan")}, "temperature must be"),
    ({"message": "hi", "max_tokens": "100"}, "max_tokens must be a whole number"),
    ({"message": "hi", "max_tokens": True}, "max_tokens must be"),
])
def test_chat_arguments(s: Any, rec: Any, kw: dict[str, Any], words: str) -> None:
    message = kw.pop("message")
    with pytest.raises(E.InputError, match=words) as info:
        s.chat(message, stream=False, **kw)
    assert "\n" not in str(info.value)
    assert rec.posts() == []


@pytest.mark.parametrize("seed", ["42", 4.5, True, -1])
def test_seed_of_the_wrong_type(s: Any, rec: Any, seed: Any) -> None:
    with pytest.raises(E.InputError, match="seed must be a whole number"):
        s.image("a cat", seed=seed)
    assert rec.posts() == []


def test_good_arguments_still_pass(s: Any, rec: Any) -> None:
    assert s.chat("hi", model="claude-opus-4-6", stream=False, temperature=0.2, max_tokens=50).text
    assert s.image("a cat", seed=7)


# ---------------------------------------------------------------- what a prompt may be
def _pil() -> Any:
    from PIL import Image

    return Image.new("RGB", (8, 8), "red")


@pytest.mark.parametrize("prompt,words", [
    (42, r"must be text \(a str\), not int \(42\)"),
    (None, "not NoneType"),
    ({"prompt": "a cat"}, "not a dict"),
    (b"a cat", r"s.edit\(image"),
    ({"a cat", "a dog"}, "not a set"),
    ("", "prompt is empty"),
    ("a \ud800 cat", "lone surrogate, at position 2"),
])
def test_image_prompt_that_is_not_text_is_refused_before_sending(s: Any, rec: Any, prompt: Any, words: str) -> None:
    """str() of it would send (and pay for) "None", "b'a cat'" or a set's repr."""
    with pytest.raises(E.InputError, match=words) as info:
        s.image(prompt)
    assert "\n" not in str(info.value)
    assert rec.posts() == []


def test_a_pil_image_as_the_prompt_points_to_edit(s: Any, rec: Any) -> None:
    with pytest.raises(E.InputError, match=r"use s.edit\(image"):
        s.image(_pil())
    assert rec.posts() == []


def test_batch_keeps_the_good_prompts_and_sends_none_of_the_bad(s: Any, rec: Any) -> None:
    """A non-text item used to be sent as it was, paid for, then crash the recording step (a TypeError)."""
    res = s.image(["a cat", 3, None, "a dog"])
    assert [type(x).__name__ for x in res.items] == ["ImageResult", "InputError", "InputError", "ImageResult"]
    assert len(rec.posts("/images/")) == 2
    assert sorted(rec.json(i, "/images/")["prompt"] for i in (0, 1)) == ["a cat", "a dog"]


@pytest.mark.parametrize("prompt,words", [(3, "not int"), (None, "not NoneType"), ("  ", "edit prompt is empty")])
def test_edit_prompt_is_checked_before_sending(s: Any, rec: Any, prompt: Any, words: str) -> None:
    """An int prompt used to be sent (paid) and then crash; an empty one came back as a 400 after a round trip."""
    with pytest.raises(E.InputError, match=words):
        s.edit(_pil(), prompt)
    assert rec.posts() == []


def test_edit_with_its_arguments_swapped_says_the_order(s: Any, rec: Any) -> None:
    with pytest.raises(E.InputError, match="The image comes first"):
        s.edit(_pil(), _pil())
    assert rec.posts() == []


@pytest.mark.parametrize("message,words", [
    (42, r"not int \(42\)"),
    (b"hi", "not a bytes"),
    ({"role": "user", "content": "hi"}, "Wrap it in a list"),
    ([], "conversation is empty"),
    (["hi", 3], "mixes strings with int"),
    ([{"role": "user", "content": "x"}, "hi"], "mixes strings with a dict"),
    ([{"role": "usr", "content": "x"}], r"role 'usr', which is not one\. Did you mean 'user'\?"),
    ("a\ud800b", "lone surrogate"),
])
def test_chat_message_shapes(s: Any, rec: Any, message: Any, words: str) -> None:
    with pytest.raises(E.InputError, match=words) as info:
        s.chat(message, stream=False)
    assert "\n" not in str(info.value)
    assert rec.posts() == []


@pytest.mark.parametrize("messages", [
    [{"content": "What is a lighthouse?"}],  # no role: the user's, as the builders take it
    [{"role": "user", "content": "Hi"}, {"role": "model", "content": "Hello"}, {"role": "user", "content": "Bye"}],
])
def test_conversations_the_builders_take_are_sent(s: Any, rec: Any, messages: Any) -> None:
    """A message with no role and Gemini's "model" role were taken before the front door's checks came, and the
    builders still take them: they must not be refused."""
    assert s.chat(messages, stream=False, thread=False).text
    assert len(rec.posts()) == 1

def test_chat_with_an_image_as_the_message_points_to_images(s: Any, rec: Any) -> None:
    with pytest.raises(E.InputError, match="images="):
        s.chat(_pil(), stream=False)
    assert rec.posts() == []


def test_empty_image_batch_is_refused(s: Any, rec: Any) -> None:
    with pytest.raises(E.InputError, match="list of prompts is empty"):
        s.image([])


@pytest.mark.parametrize("call,words", [
    (lambda s: s.video(42, wait=False), "prompt must be text"),
    (lambda s: s.speak(42), "text to speak must be text"),
    (lambda s: s.speak(["a", "b"]), "one text, not a list"),
    (lambda s: s.compare(None, ["dall-e-3"]), "prompt must be text"),
    (lambda s: s.compare(3, ["gpt-5.2"]), "chat message must be text"),
    (lambda s: s.compare("a cat", "gpt-5.2"), "takes a list of models, not str"),
    (lambda s: s.compare("a cat", [3]), "model= takes a model name"),
    (lambda s: s.image("a cat", model=3), r"model= takes a model name \(a str\), not int"),
    (lambda s: s.image("a cat", model=["dall-e-3"]), r"compare\(prompt, models"),
    (lambda s: s.image(["a", "b"], concurrency="2"), "concurrency must be a whole number"),
    (lambda s: s.chat(["a", "b"], concurrency=0), "concurrency must be a whole number"),
    (lambda s: s.chat("hi", on_delta=5), "on_delta must be a function"),
    (lambda s: s.video("a cat", on_progress="yes", wait=False), "on_progress must be a function"),
    (lambda s: s.image("a cat", seed=2**64), "from 0 to 4294967295"),
    (lambda s: s.video("a cat", seed=2**40, wait=False), "from 0 to 4294967295"),
    (lambda s: s.image("a cat", extra=["watermark"]), "extra= takes a dict"),
])
def test_wrong_arguments_are_one_line_before_any_request(s: Any, rec: Any, call: Any, words: str) -> None:
    """Each of these used to be sent as str(value), or end in an AttributeError/TypeError from inside."""
    with pytest.raises(E.InputError, match=words) as info:
        call(s)
    assert "\n" not in str(info.value)
    assert rec.posts() == []


def test_transcribe_language_of_the_wrong_type(s: Any, rec: Any, tmp_path: Any) -> None:
    import wave

    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    with pytest.raises(E.InputError, match="language must be text"):
        s.transcribe(path, language=3)
    assert rec.posts() == []


# ---------------------------------------------------------------- option typos and the extra= escape hatch
@pytest.mark.parametrize("call,typo,meant", [
    (lambda s: s.image("a cat", sed=7), "sed", "seed"),
    (lambda s: s.chat("hi", temprature=0.2, stream=False), "temprature", "temperature"),
    (lambda s: s.chat("hi", max_token=5, stream=False), "max_token", "max_tokens"),
    (lambda s: s.video("a cat", durration=5, wait=False), "durration", "duration"),
    (lambda s: s.embed("a", dimension=8), "dimension", "dimensions"),
])
def test_an_option_one_typo_from_an_argument_is_refused(s: Any, rec: Any, call: Any, typo: str, meant: str) -> None:
    """It used to go to the service as an unknown body field and silently do nothing."""
    with pytest.raises(E.InputError, match=f"no argument '{typo}'. Did you mean {meant}=") as info:
        call(s)
    assert f"extra={{'{typo}'" in info.value.hint
    assert rec.posts() == []


def test_extra_fields_go_into_the_body_unchecked(s: Any, rec: Any) -> None:
    """The hatch every "not supported" message names: its fields are sent as given, not as a field "extra"."""
    s.image("a cat", extra={"quality": "ultra", "sed": 7})
    body = rec.json(-1, "/images/")
    assert body["quality"] == "ultra" and body["sed"] == 7 and "extra" not in body
    s.chat("hi", stream=False, extra={"top_k": 3}, top_p=0.5)
    body = rec.json(-1, "/chat/")
    assert body["top_k"] == 3 and body["top_p"] == 0.5 and "extra" not in body
    assert s.history[-1].params["extra"] == {"top_k": 3}  # recorded as given: to_code() passes it back


def test_legitimate_extra_options_are_still_sent(s: Any, rec: Any) -> None:
    s.chat("hi", stream=False, top_p=0.5, max_completion_tokens=20)
    body = rec.json(-1, "/chat/")
    assert body["top_p"] == 0.5 and body["max_completion_tokens"] == 20


@pytest.mark.parametrize("task_id", ["", "   ", "\n"])
def test_an_empty_task_id_is_refused(s: Any, rec: Any, task_id: str) -> None:
    """It used to give a VideoTask with no id and record a pending row for it."""
    with pytest.raises(E.InputError, match="video task id is empty"):
        s.resume(task_id)
    assert len(s.history) == 0 and rec.requests == []


def test_a_pasted_task_id_with_spaces_finds_its_row(s: Any) -> None:
    task = s.video("a paper boat", wait=False)
    again = s.resume(f" {task.task_id}\n")
    assert again.task_id == task.task_id and again.entry.id == task.entry.id
    assert len(s.history) == 1


def test_an_empty_model_name_and_a_nul_only_prompt(s: Any, rec: Any) -> None:
    with pytest.raises(E.InputError, match="model= is empty"):
        s.image("a cat", model="  ")
    with pytest.raises(E.InputError, match="prompt is empty"):
        s.image("\x00 \x00")
    assert rec.posts() == []


@pytest.mark.parametrize("kw,words", [
    ({"seed": "7"}, "seed must be a whole number"),
    ({"seed": -3}, "seed must be a whole number"),
    ({"defaults": {"imgae": "dall-e-3"}}, "defaults has the key 'imgae', which no call reads. Did you mean 'image'"),
    ({"defaults": "dall-e-3"}, "defaults= takes a dict"),
    ({"defaults": {"chat": 5}}, r"defaults\['chat'\] takes a model name"),
])
def test_session_arguments_are_checked_when_it_is_made(tmp_path: Any, kw: dict[str, Any], words: str) -> None:
    """A bad seed failed every later call; a mistyped defaults key was ignored without a word."""
    from _session_support import make_session

    with pytest.raises(E.InputError, match=words):
        make_session(tmp_path / "st", **kw)


def test_models_and_model_arguments(s: Any) -> None:
    with pytest.raises(E.InputError, match=r"no model kind 'imgae'\. Did you mean 'image'"):
        s.models("imgae")  # it listed nothing, as if there were no image model
    with pytest.raises(E.InputError, match="model= takes a model name"):
        s.model(3)  # an AttributeError from the catalogue
    with pytest.raises(E.InputError, match=r"no model family 'openai-chatt'\. Did you mean 'openai-chat'"):
        s.model("new-model", family="openai-chatt")  # "Unknown model 'new-model'. Did you mean 'openai-chat'…"
    assert s.model("new-model", family="openai-chat").kind == "chat"


@pytest.mark.parametrize("kw,words", [
    ({"system": ["Be terse"]}, "system prompt must be text"),  # was sent as a list content
    ({"thread": {"name": "a"}}, "thread= takes a conversation's name"),  # was a TypeError (unhashable)
    ({"thread": 5}, "not int \\(5\\)"),
    ({"tool_choice": "required"}, "tool_choice='required' needs tools"),  # was sent: the service refuses it
])
def test_chat_options_the_service_would_refuse(s: Any, rec: Any, kw: dict[str, Any], words: str) -> None:
    with pytest.raises(E.InputError, match=words):
        s.chat("hi", stream=False, **kw)
    assert rec.posts() == []


@pytest.mark.parametrize("call,words", [
    (lambda s: s.chat("hi", on_delta=lambda delta: None), r"on_delta is called with 2 arguments \(delta, text\)"),
    (lambda s: s.video("a cat", on_progress=lambda: None), r"on_progress is called with 1 argument \(status\)"),
])
def test_a_callback_that_takes_other_arguments_is_refused_before_sending(s: Any, rec: Any, call: Any,
                                                                          words: str) -> None:
    """It failed with a TypeError from inside once the call was made: a video task then stayed paid and pending
    with no word on how to resume it."""
    with pytest.raises(E.InputError, match=words):
        call(s)
    assert rec.posts() == []


def test_a_task_wait_callback_is_checked_too(s: Any) -> None:
    task = s.video("a cat", wait=False)
    with pytest.raises(E.InputError, match="on_progress is called with 1 argument"):
        task.wait(on_progress=lambda a, b: None)
    assert task.wait(on_progress=lambda status: None).path.exists()  # the task is still there to wait for


@pytest.mark.parametrize("timeout,words", [(-1, "above 0, not -1"), (0, "above 0, not 0"),
                                           (float("nan"), "above 0, not nan"), ("5", "(a number), not a str"),
                                           (True, "(a number), not bool")])
def test_a_task_wait_timeout_is_checked_before_polling(s: Any, rec: Any, timeout: Any, words: str) -> None:
    """timeout="5" was a TypeError from inside the poll loop; -1 polled once, then said the task "was not done
    after -1 s" (an APITimeoutError with a resume hint, for a typo)."""
    task = s.video("a cat", wait=False)
    polls = len(rec.requests)
    with pytest.raises(E.InputError, match=r"^timeout .*" + re.escape(words)):
        task.wait(timeout=timeout)
    assert len(rec.requests) == polls  # nothing was asked of the service
    assert task.wait(timeout=60).path.exists()


def test_callbacks_of_any_fitting_shape_pass(s: Any) -> None:
    seen: list[Any] = []
    s.chat("hi", on_delta=lambda *args: seen.append(args))
    s.chat("hi", on_delta=lambda d, t, extra=None: None)
    assert seen


def test_compare_checks_option_names_and_kind(s: Any, rec: Any) -> None:
    """compare() is not one of the recorded twins: its options went to every model unchecked."""
    with pytest.raises(E.InputError, match=r"compare\(\) has no argument 'sed'\. Did you mean seed="):
        s.compare("a cat", ["dall-e-3", "doubao-seedream-4-5-251128"], sed=7)
    with pytest.raises(E.InputError, match=r"not imgae\. Did you mean kind='image'"):
        s.compare("a cat", ["gpt-5.2"], kind="imgae")
    assert rec.posts() == []


def test_n_true_and_a_format_that_is_not_text(s: Any, rec: Any, tmp_path: Any) -> None:
    import wave

    with pytest.raises(E.InputError, match="n is how many images"):
        s.image("a cat", n=True)  # was sent as one image
    with pytest.raises(E.InputError, match="negative prompt must be text"):
        s.image("a cat", model="qwen-image-max", negative=5)  # was sent as "negative_prompt": 5
    path = tmp_path / "a.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    with pytest.raises(E.InputError, match="format must be text"):
        s.transcribe(path, format=3)  # an AttributeError from the request builder
    assert rec.posts() == []


def test_an_estimate_of_bad_input_says_so_and_records_nothing(s: Any, rec: Any) -> None:
    """s.estimate(...) asks what a call would cost: refusing it must not add an "error" row as if it was tried."""
    with pytest.raises(E.UnsupportedOptionError, match="got n=99"):
        s.estimate("image", "a cat", n=99)
    with pytest.raises(E.InputError, match="Did you mean seed="):
        s.estimate("image", "a cat", sed=3)
    assert len(s.history) == 0 and rec.posts() == []
    with pytest.raises(E.UnsupportedOptionError):
        s.image("a cat", n=99)
    assert len(s.history) == 1  # a real call's refusal is still recorded


def test_numpy_values_are_taken_where_they_fit(s: Any, rec: Any) -> None:
    """A numpy pixel array as a chat image (its truth value raised numpy's "ambiguous" ValueError) and a numpy
    int as a batch's concurrency are what they look like."""
    import numpy as np

    pixels = np.zeros((8, 8, 3), dtype=np.uint8)
    assert s.chat("What is in this picture?", images=pixels, stream=False, thread=False).text
    batch = s.image(["a", "b"], concurrency=np.int64(2))
    assert len(batch) == 2 and not batch.failed


def test_numpy_whole_numbers_are_taken_as_counts_seeds_and_token_limits(s: Any, rec: Any, tmp_path: Any) -> None:
    """``n=np.int64(2)`` (from ``np.arange``, a pandas cell) was refused as "makes 1 to 15 image(s); got
    n=np.int64(2)", a numpy seed or max_tokens as "not a whole number": they go out as plain ints."""
    import numpy as np
    from _session_support import make_session

    s.image("a cat", n=np.int64(2), seed=np.int64(3))
    assert (rec.json(-1, "/images/")["seed"], len(s.history[-1].outputs)) == (3, 2)
    s.chat("hi", max_tokens=np.int32(30), thread=False)
    assert rec.json(-1, "/chat/")["max_completion_tokens"] == 30
    s.video("a boat", seed=np.uint32(5), wait=False)
    assert rec.json(-1, "/video/")["seed"] == 5
    assert type(make_session(tmp_path / "other", seed=np.int64(4)).seed) is int


def test_numpy_scalars_in_any_option_are_sent_recorded_and_replayed_as_plain_values(
        s: Any, rec: Any, tmp_path: Any) -> None:
    """A numpy number in an option sent as a body field (chat's seed / top_k / top_p, a stop list, extra={…})
    reached the JSON encoder as it was: a TypeError after the row was written, the row keeping "np.int64(3)"
    (so to_code() sent a string and replay missed). Every numpy scalar is a plain value from the front door."""
    import numpy as np
    from _session_support import Recorder, make_session

    kw: dict[str, Any] = {"seed": np.int64(3), "top_k": np.int32(4), "top_p": np.float32(0.5),
                          "temperature": np.float32(0.25), "stop": [np.str_("END")], "extra": {"n_probe": np.int16(2)}}
    first = s.chat("hi", model="gemini-2.5-pro", thread=False, **kw)
    sent = rec.json(-1)
    assert json_types(sent["generationConfig"]) and sent["generationConfig"]["topK"] == 4
    assert s.history[-1].params["seed"] == 3 and s.history[-1].params["top_p"] == 0.5
    again = make_session(tmp_path / "store", Recorder(), mode="replay")
    assert again.chat("hi", model="gemini-2.5-pro", thread=False, **kw).text == first.text
    again.close()


def json_types(d: dict[str, Any]) -> bool:
    import json

    return json.loads(json.dumps(d)) == d


@pytest.mark.parametrize("n", [2.0, "2", None.__class__])
def test_an_image_count_that_is_no_whole_number_says_so(s: Any, rec: Any, n: Any) -> None:
    """It said "makes 1 to 15 image(s) per call; got n=2.0": a range error for a number inside the range."""
    with pytest.raises(E.InputError, match=r"^n is how many images: a whole number, not ") as info:
        s.image("a cat", n=n)
    assert "per call" not in info.value.message and "e.g. n=2" in info.value.hint and rec.posts() == []


@pytest.mark.parametrize(("method", "field", "typo", "meant"), [
    ("video", "mode", "durration", "duration"), ("image", "speed", "sed", "seed"),
    ("chat", "image", "temprature", "temperature"), ("edit", "imageUrls", "sed", "seed"),
    ("video", "moderation", "sed", "seed"), ("embed", "text", "dimension", "dimensions")])
def test_a_documented_body_field_is_never_taken_for_a_typo(s: Any, method: str, field: str, typo: str,
                                                          meant: str) -> None:
    """``mode`` is a field of new-api's task body one letter from ``model``; it was refused as a typo ("did you
    mean model=?") though it worked before the typo check came. Typos are still refused."""
    from tokenhot_nb._session import checks

    named = checks.parameters(getattr(s, "a" + method))
    checks.check_option_names({field: "x"}, named, method)
    with pytest.raises(E.InputError, match=f"Did you mean {meant}="):
        checks.check_option_names({typo: 7}, named, method)


def test_set_session_and_estimate_of_the_wrong_thing_are_one_line(s: Any) -> None:
    """set_session(5) was a bare TypeError (a full traceback in a notebook); estimate(5) said "Cannot estimate ''"."""
    import tokenhot_nb

    with pytest.raises(E.InputError, match=r"^set_session\(\) takes a Session, not int\. e\.g\. ") as info:
        tokenhot_nb.set_session(5)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError) and "Session(" in info.value.hint
    with pytest.raises(E.InputError, match=r"^Cannot estimate int \(5\): use one of chat, ") as est:
        s.estimate(5, "a cat")
    assert "s.estimate('image', 'a cat'" in est.value.hint
    with pytest.raises(E.InputError, match=r"^Cannot estimate 'imagee'"):
        s.estimate("imagee", "a cat")
    assert s.estimate(s.image, "a cat").usd is not None


def test_a_comparison_is_indexed_by_the_names_asked_and_says_what_it_holds(s: Any) -> None:
    """cmp['claude-opus'] was a KeyError although the comparison was asked with that name (its results are under
    the model id); a position past the end and batch['x'] leaked list's bare errors."""
    cmp = s.compare("hi", ["claude-opus", "gpt-5.2"])
    assert cmp["claude-opus"] is cmp["claude-opus-4-6"] is cmp[0]
    with pytest.raises(E.NoEntryError, match=r"^No model 'nope' in this comparison; it compared claude-opus-4-6, "
                                             r"gpt-5\.2\. ") as info:
        cmp["nope"]
    assert isinstance(info.value, KeyError)
    with pytest.raises(E.OutOfRangeError, match=r"There is no model 5: this result has 2 \(0 to 1\)\."):
        cmp[5]
    batch = s.image(["a", "b"])
    with pytest.raises(E.OutOfRangeError, match=r"There is no input 2: this result has 2 \(0 to 1\)\.") as past:
        batch[2]
    assert isinstance(past.value, IndexError) and list(batch) == [batch[0], batch[1]] and batch[-1] is batch[1]
    with pytest.raises(E.WrongTypeError, match=r"Positions are whole numbers, not str \('x'\)"):
        batch["x"]  # type: ignore[index]


@pytest.mark.parametrize("messages", [[{"role": "user"}], [{"role": "user", "content": None}],
                                      [{"role": "user", "content": "  "}, {"role": "assistant", "content": []}]])
def test_a_conversation_of_empty_messages_is_refused_before_sending(s: Any, rec: Any, messages: Any) -> None:
    """As s.chat("") is: it went out as {"content": []}, a paid answer to nothing (or a 400 from Claude)."""
    with pytest.raises(E.InputError, match=r"^Every message of the conversation is empty"):
        s.chat(messages)
    assert rec.posts() == []
    s.chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": ""}], stream=False)
    assert len(rec.posts()) == 1  # one message with text is enough


def test_an_endpoint_is_read_as_it_is_written(s: Any, rec: Any) -> None:
    """endpoint=5 was an AttributeError ('int' has no 'strip'); 'Responses' and the URL's 'chat/completions' were
    refused as endpoints the model is not served on, though it is."""
    with pytest.raises(E.InputError, match=r"^endpoint= takes an endpoint's name \(a str\), not int \(5\)") as info:
        s.chat("hi", endpoint=5, thread=False)
    assert "chat.completions, responses" in info.value.hint and rec.posts() == []
    s.chat("hi", endpoint=" Responses ", stream=False, thread=False)
    s.chat("hi", endpoint="chat/completions", stream=False, thread=False)
    assert [p["path"] for p in rec.posts()] == ["/v1/responses", "/v1/chat/completions"]


@pytest.mark.parametrize(("method", "args", "option", "value"), [
    ("video", ("a boat",), "wait", "no"), ("chat", ("hi",), "stream", "false"), ("chat", ("hi",), "json", "yes"),
    ("chat", ("hi",), "new_thread", 1), ("image", ("a cat",), "progress", "off"),
    ("compare", ("hi", ["gpt-5.2", "claude-opus"]), "progress", "no")])
def test_a_yes_no_option_given_something_else_is_refused_not_taken_by_its_truth(
        s: Any, rec: Any, method: str, args: tuple[Any, ...], option: str, value: Any) -> None:
    """``wait="no"`` waited for the video (and paid for the wait's polling), ``stream="false"`` streamed: any value
    was taken by its truth. Nothing is sent."""
    with pytest.raises(E.InputError, match=rf"^{option} is True or False, not {value!r}") as info:
        getattr(s, method)(*args, **{option: value})
    assert f"e.g. {option}=False" in (info.value.hint or "") and rec.posts() == []


def test_numpy_bools_are_yes_no_options(s: Any, rec: Any) -> None:
    import numpy as np

    task = s.video("a boat", wait=np.False_)
    assert type(task).__name__ == "VideoTask"
    s.chat("hi", stream=np.bool_(False), thread=False)
    assert rec.json(-1, "/chat/").get("stream") in (None, False)


def test_a_lone_surrogate_in_an_option_is_one_input_error(s: Any, rec: Any) -> None:
    """A prompt's lone surrogate was refused in one line, but one in a body option (``extra={…}`` or ``**options``)
    reached the JSON encoder: a UnicodeEncodeError traceback, and no request made."""
    with pytest.raises(E.InputError, match=r"^The parameter 'extra.user' holds .*lone surrogate"):
        s.chat("ok", thread=False, extra={"user": "x\udfff"})
    with pytest.raises(E.InputError, match=r"parameter 'metadata.tag\[0\]'"):
        s.image("a fox", model="gpt-image-2", metadata={"tag": ["\ud800"]})
    with pytest.raises(E.InputError, match=r"^The name of the parameter 'metadata\."):
        s.image("a fox", model="gpt-image-2", metadata={"\ud800": 1})
    assert rec.posts() == []


def test_a_lone_surrogate_in_a_raw_body_is_one_input_error(s: Any, rec: Any) -> None:
    """``raw=`` (the whole body, sent as given) is checked by the same catch-all as every option (the recording
    step, which no input path skips): one line naming where in the body the character is."""
    body = {"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi \ud83d"}]}
    with pytest.raises(E.InputError, match=r"^The parameter 'raw\.messages\[0\]\.content' holds an invalid character .*lone surrogate") as info:
        s.chat("ok", thread=False, stream=False, raw=body)
    assert "encode('utf-8', 'replace')" in info.value.hint
    assert rec.posts() == []


@pytest.mark.parametrize("reset", [5, "yes", 0, None, [True]])
def test_the_default_session_takes_reset_as_a_bool_only(reset: Any) -> None:
    """``tokenhot_nb.session(5)`` was read as reset=True (the session and its settings thrown away), ``session(0)``
    as False: a value given in the wrong place is a clear error, not a flag by its truth."""
    import tokenhot_nb

    with pytest.raises(E.WrongTypeError, match=r"session\(\) takes reset=True or False, not "):
        tokenhot_nb.session(reset)


def test_the_default_session_takes_numpy_bools_as_bools() -> None:
    np = pytest.importorskip("numpy")
    import tokenhot_nb

    s = tokenhot_nb.session()
    assert tokenhot_nb.session(np.False_) is s


@pytest.mark.parametrize("defaults,error,words", [
    ({"image": "dall-e-4"}, E.UnknownModelError,
     r"^Unknown image model 'dall-e-4' in defaults\['image'\]\. Did you mean 'dall-e-3'"),
    ({"image": "gpt-5.2"}, E.UnsupportedOptionError, r"defaults\['image'\] is gpt-5\.2, a chat model, not an image"),
    ({"audio": "DALL-E-3"}, E.UnsupportedOptionError, r"defaults\['audio'\] is dall-e-3, an image model"),
    ({"speak": "gemini-tts-typo"}, E.UnknownModelError, r"Unknown audio model 'gemini-tts-typo' in defaults"),
])
def test_an_offline_default_model_is_refused_when_the_session_is_made(tmp_path: Any, defaults: dict[str, str],
                                                                      error: type, words: str) -> None:
    """``Session(defaults={'image': 'dall-e-4'})`` was taken and refused only at the first image call. Offline the
    service is the simulator, whose table is data: the session can tell at once."""
    from tokenhot_nb import Session

    with pytest.raises(error, match=words):
        Session(mode="offline", store=tmp_path / "st", defaults=defaults)


@pytest.mark.parametrize("write", [
    lambda d: d.__setitem__("image", "dall-e-4"),
    lambda d: d.update({"image": "dall-e-4"}),
    lambda d: d.update(image="dall-e-4"),
    lambda d: d.update([("image", "dall-e-4")]),
    lambda d: d.setdefault("speak", "dall-e-4"),
    lambda d: d.__ior__({"image": "dall-e-4"}),
])
def test_a_default_set_after_the_session_is_made_is_checked_as_one_given_to_it(tmp_path: Any, write: Any) -> None:
    """``s.defaults['image'] = 'dall-e-4'`` was taken, and refused only at the next image call: it is refused where
    it is set, with the "did you mean" of ``Session(defaults=…)``, and the old value is kept."""
    from tokenhot_nb import Session

    s = Session(mode="offline", store=tmp_path / "st", defaults={"image": "dall-e-3"})
    with pytest.raises(E.UnknownModelError, match=r"^Unknown (image|audio) model 'dall-e-4' in defaults\[") as info:
        write(s.defaults)
    assert "\n" not in str(info.value)
    assert s.defaults == {"image": "dall-e-3"}


def test_every_way_of_writing_the_defaults_is_checked_and_the_dict_kept(tmp_path: Any) -> None:
    from tokenhot_nb import Session

    s = Session(mode="offline", store=tmp_path / "st", defaults={"image": "dall-e-3"})
    with pytest.raises(E.InputError, match=r"defaults has the key 'imgae'.*Did you mean 'image'"):
        s.defaults["imgae"] = "dall-e-3"
    with pytest.raises(E.InputError, match=r"^defaults\['video'\] takes a model name \(a str\), not int"):
        s.defaults.update({"chat": "gpt-5.2", "image": "dall-e-2", "video": 5})  # one bad: none is taken
    with pytest.raises(E.UnsupportedOptionError, match=r"defaults\['image'\] is gpt-5\.2, a chat model"):
        s.defaults = {"image": "gpt-5.2"}  # (the whole dict replaced: checked too)
    assert s.defaults == {"image": "dall-e-3"} and isinstance(s.defaults, dict)
    s.defaults["chat"] = "claude-sonnet"
    s.defaults |= {"embed": "jina-embeddings-v4"}
    del s.defaults["image"]
    assert dict(s.defaults) == s.defaults.copy() == {"chat": "claude-sonnet", "embed": "jina-embeddings-v4"}
    s.defaults = {"image": "dall-e-2"}
    assert s.defaults == {"image": "dall-e-2"} and s.image("a cat").model == "dall-e-2"
    with pytest.raises(E.UnsupportedOptionError, match="only edits images"):  # (still checked after a swap)
        s.defaults["image"] = "qwen-image-edit-max"


@pytest.mark.parametrize("key,name,words,good", [
    ("image", "qwen-image-edit-max", r"^defaults\['image'\] is qwen-image-edit-max-2026-01-16, which image\(\) cannot "
     r"use: .* only edits images\.", r"s\.defaults\['edit'\] = 'qwen-image-edit-max-2026-01-16'"),
    ("edit", "dall-e-3", r"^defaults\['edit'\] is dall-e-3, which edit\(\) cannot use: dall-e-3 cannot edit", ""),
    ("audio", "whisper-1", r"^defaults\['audio'\] is whisper-1, which speak\(\) cannot use: .*does not speak", ""),
    ("speak", "whisper-1", r"^defaults\['speak'\] is whisper-1, which speak\(\) cannot use", ""),
    ("transcribe", "gemini-2.5-flash-preview-tts", r"which transcribe\(\) cannot use: .* cannot transcribe", ""),
])
@pytest.mark.parametrize("when", ["made", "set"])
def test_a_default_the_call_could_never_use_is_refused_where_it_is_set(
        tmp_path: Any, key: str, name: str, words: str, good: str, when: str) -> None:
    """An edit-only model as the ``image`` default (image() generates), a TTS model to transcribe: the right kind, the
    wrong ability, refused only at the call. The catalogue's marks tell at once; the fix names a model that would do,
    and that model is taken."""
    from tokenhot_nb import Session

    s = Session(mode="offline", store=tmp_path / "st")
    with pytest.raises(E.UnsupportedOptionError, match=words) as info:
        if when == "made":
            Session(mode="offline", store=tmp_path / "st", defaults={key: name})
        else:
            s.defaults[key] = name
    fix = re.search(r"e\.g\. s\.defaults\[(.+?)\] = '([^']+)'", str(info.value))
    assert fix is not None and re.search(good, str(info.value)) and "\n" not in str(info.value), str(info.value)
    assert key not in s.defaults
    s.defaults[key] = fix.group(2)  # the model the message names would do


def test_a_video_default_that_needs_an_input_image_is_kept(tmp_path: Any) -> None:
    """``requires_image`` marks a model that makes video from an image: as a default it serves image-to-video
    calls, which pass one, so it is not refused (a call without an image is, with its own line)."""
    from tokenhot_nb import Session

    s = Session(mode="offline", store=tmp_path / "st", defaults={"video": "grok-video"})
    s.defaults["video"] = "happyhorse-1.0-i2v"


def test_a_default_the_simulator_lists_beyond_the_catalogue_is_taken_offline(tmp_path: Any) -> None:
    from tokenhot_nb import Session

    with Session(mode="offline", store=tmp_path / "st", defaults={"chat": "deepseek-v4-pro", "image": "dall-e-3"}) as s:
        assert s.chat("hi", stream=False).model == "deepseek-v4-pro"


@pytest.mark.parametrize("tools,words", [
    (5, r"^tools= takes a list of OpenAI function schemas, not int \(5\)\. e\.g\. tools=\[\{"),
    ("lookup", r"tools= takes a list of OpenAI function schemas, not a str"),  # was "got 'l'", a letter of it
    ({"type": "function", "function": {"name": "f", "parameters": {}}}, r"not a dict \(one schema: put it in a list"),
])
def test_tools_that_are_not_a_list_are_one_clear_line(s: Any, rec: Any, tools: Any, words: str) -> None:
    """tools=5 was "TypeError: 'int' object is not iterable" from inside; a str or one schema was taken item by item."""
    with pytest.raises(E.WrongTypeError, match=words):
        s.chat("hi", tools=tools, stream=False)
    assert rec.posts() == []


def test_compare_with_models_that_are_not_a_list_is_one_clear_line(s: Any, rec: Any) -> None:
    """compare('a cat', models=5) was "TypeError: object of type 'int' has no len()" from the progress bar."""
    with pytest.raises(E.InputError, match=r"compare\(\) takes a list of models, not int"):
        s.compare("a cat", models=5)
    assert rec.posts() == []


@pytest.mark.parametrize("call", [lambda t: t.get(object()), lambda t: t.get(5), lambda t: t.forget(["a", 3]),
                                  lambda t: t[7]])
def test_a_conversation_name_that_is_not_a_str_is_one_clear_line(s: Any, call: Any) -> None:
    """``s.threads.get(object())`` was an sqlite ProgrammingError from inside, ``forget([…])`` "unhashable type"."""
    with pytest.raises(E.WrongTypeError, match=r"^A conversation is named by a str, not "):
        call(s.threads)
    s.threads.forget()  # (no name: all of them, as before)


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_conversation_name_is_refused(s: Any, blank: str) -> None:
    """``s.threads.get('')`` made (or read) a conversation no chat can reach, since ``chat(thread='')`` is refused:
    one line, nothing made."""
    with pytest.raises(E.InputError, match=r"^A conversation's name is empty\. .*'default'") as info:
        s.threads.get(blank)
    assert "\n" not in str(info.value) and blank not in s.threads


_HATCH_CALLS: dict[str, Any] = {
    "image": lambda s, **kw: s.image("a cat", progress=False, **kw),
    "video": lambda s, **kw: s.video("a cat", wait=False, progress=False, **kw),
    "speak": lambda s, **kw: s.speak("hello", **kw),
    "transcribe": lambda s, **kw: s.transcribe(short_wav(), **kw),
    "chat": lambda s, **kw: s.chat("hi", thread=False, **kw),
    "embed": lambda s, **kw: s.embed("hi", **kw),
    "rerank": lambda s, **kw: s.rerank("hi", ["a", "b"], **kw),
    "compare": lambda s, **kw: s.compare("hi", ["gpt-5.2", "claude-sonnet"], progress=False, **kw),
}


@pytest.mark.parametrize("method", list(_HATCH_CALLS))
@pytest.mark.parametrize("kw,words", [
    ({"raw": 5}, r"raw= takes the whole request body as a dict, not int"),
    ({"raw": "x"}, r"raw= takes the whole request body as a dict, not a str"),
    ({"headers": 5}, r"headers= takes a dict of HTTP header names and values, not int"),
    ({"headers": {"X-A": 5}}, r"the value of 'X-A' must be text \(a str\), not int"),
    ({"headers": {"X-A": None}}, r"the value of 'X-A' must be text"),
    ({"headers": {5: "v"}}, r"headers= has 5, which is no HTTP header name"),
    ({"headers": {"Bad Name": "v"}}, r"'Bad Name', which is no HTTP header name"),
    ({"headers": {"X-A": "v\r\nX-B: w"}}, r"holds a line break or NUL"),
    ({"headers": {"X-A": "café"}}, r"holds non-ASCII text"),
    ({"extra": 5}, r"extra= takes a dict of body fields, not int"),
    ({"extra": {5: 1}}, r"extra= has the key 5 \(int\): a body field's name is text"),
    ({"extra": {"tags": {"a", "b"}}}, r"extra field 'tags' holds a set, which a JSON body cannot carry"),
    ({"extra": {"blob": b"x"}}, r"extra field 'blob' holds a bytes"),
    ({"extra": {"w": float("nan")}}, r"extra field 'w' is nan"),
    ({"watermark": float("inf")}, r"option 'watermark' is inf"),
    ({"metadata": {"k": object()}}, r"option 'metadata' holds an object"),
])
def test_escape_hatches_of_the_wrong_shape_are_one_line_before_any_request(
        s: Any, rec: Any, method: str, kw: dict[str, Any], words: str) -> None:
    """``raw=5``, ``headers=5``, a header value that is no text, a set/bytes/nan in a body field: each was a
    TypeError or ValueError from inside httpx or the JSON encoder (or, for compare, one per model inside the
    result); a header with a line break or a space in its name was taken."""
    with pytest.raises(E.InputError, match=words) as info:
        _HATCH_CALLS[method](s, **kw)
    assert "\n" not in str(info.value) and "café" not in str(info.value)  # (a header's value is never quoted)
    assert rec.posts() == []


def test_escape_hatches_of_the_right_shape_are_sent(s: Any, rec: Any) -> None:
    import numpy as np

    s.chat("hi", thread=False, stream=False, headers=[("X-Pair", "1")], top_k=np.int64(3),
           extra={"metadata": {"n": [1, 2.5, None, True]}})
    sent = rec.posts()[-1]
    assert sent["headers"]["x-pair"] == "1"
    assert rec.json()["top_k"] == 3 and rec.json()["metadata"] == {"n": [1, 2.5, None, True]}
    s.chat("hi", thread=False, stream=False, headers={"X-Bytes": b"v"}, raw={"model": "gpt-5.2",
                                                                          "messages": [{"role": "user", "content": "x"}]})
    assert rec.json()["messages"][0]["content"] == "x"


def test_transcribe_refuses_raw_which_it_sent_as_a_form_field(s: Any, rec: Any) -> None:
    """``transcribe(audio, raw={…})`` sent a form field named "raw" holding the dict's repr, without a word."""
    with pytest.raises(E.UnsupportedOptionError, match=r"transcribe\(\) sends the audio as a multipart form"):
        s.transcribe(short_wav(), raw={"model": "whisper-1"})
    assert rec.posts() == []


@pytest.mark.parametrize("kind,models,extra", [
    (None, ["gpt-5.2", "claude-sonnet"], {}),
    ("image", ["dall-e-3", "seedream-4.5"], {}),
])
def test_compare_of_a_list_of_prompts_is_one_line(s: Any, rec: Any, kind: Any, models: list[str],
                                                    extra: dict[str, Any]) -> None:
    """``compare(['a', 'b'], models=[…])`` on chat models was "RuntimeError: coroutine raised StopIteration"."""
    with pytest.raises(E.InputError, match=r"compare\(\) asks every model one prompt, not a list of prompts"):
        s.compare(["a", "b"], models, kind=kind, progress=False, **extra)
    assert rec.posts() == []


def test_a_conversation_check_given_only_strings_says_so() -> None:
    from tokenhot_nb._session.checks import check_conversation

    with pytest.raises(E.InputError, match="a list of strings is a batch"):
        check_conversation(["a", "b"])


def test_resume_of_an_id_past_sqlites_integers_is_one_line(s: Any) -> None:
    """``resume(10**30)`` was an OverflowError from SQLite."""
    with pytest.raises(E.InputError, match=r"There is no history entry #1000000000000000000000000000000 in "):
        s.resume(10**30)


@pytest.mark.parametrize("args,kwargs,words", [
    (("image",), {}, r"estimate\('image', …\) takes the arguments of image\(\): missing a required argument: 'prompt'"),
    (("rerank", "q"), {}, r"takes the arguments of rerank\(\): missing a required argument: 'documents'"),
    (("embed", "a", "m", 3, 4), {}, r"takes the arguments of embed\(\): too many positional arguments"),
])
def test_estimate_with_the_methods_arguments_missing_is_one_line(s: Any, rec: Any, args: tuple[Any, ...],
                                                                 kwargs: dict[str, Any], words: str) -> None:
    """``s.estimate('image')`` was "TypeError: Session.aimage() missing 1 required positional argument"."""
    with pytest.raises(E.InputError, match=words) as info:
        s.estimate(*args, **kwargs)
    assert "\n" not in str(info.value) and rec.posts() == []


@pytest.mark.parametrize("messages,words", [
    ([{"role": "user", "content": ["What is it?", 5]}], r"A message part is a string or a \{'type': …\} dict, not int"),
    ([{"role": "user", "content": "hi", "metadata": {1, 2}}], r"message 0's 'metadata' holds a set"),
    ([{"role": "user", "content": "hi", "weight": float("nan")}], r"message 0's 'weight' is nan"),
])
def test_a_conversation_with_a_part_or_field_no_body_can_carry_is_one_line(s: Any, rec: Any, messages: Any,
                                                                          words: str) -> None:
    """A part that is no string or dict was "AttributeError: 'int' object has no attribute 'get'", a set in a
    message's field a TypeError from the JSON encoder."""
    with pytest.raises(E.InputError, match=words) as info:
        s.chat(messages, thread=False, stream=False)
    assert "\n" not in str(info.value) and rec.posts() == []
    assert s.chat([{"role": "user", "content": ["What is it?", {"type": "text", "text": "a cat"}],
                    "name": "ann"}], thread=False, stream=False).text
