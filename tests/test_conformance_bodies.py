"""What the front door (Session, offline simulator) puts on the wire for the options a notebook user passes,
checked against the service reference (shared/reference/tokenhot-api.md, §10 first): each option lands where the
service reads it, or is refused before a paid call."""

from __future__ import annotations

import pytest
from _session_support import Recorder

from tokenhot_nb import Session
from tokenhot_nb.errors import APIError, InputError, UnsupportedOptionError

URL = "https://cdn.example.com/first.png"


# --- DashScope-style bodies keep options in `parameters` / `input` (§3.2, §5.4, §10.2, §10.4) -----------------


def test_happyhorse_options_go_into_parameters_and_input(s: Session, rec: Recorder) -> None:
    s.video("a horse", model="happyhorse-1.0-t2v", wait=False, watermark=True, negative_prompt="blurry")
    body = rec.json(path_part="/video/generations")
    assert body["parameters"]["watermark"] is True and "watermark" not in body
    assert body["input"]["negative_prompt"] == "blurry" and "negative_prompt" not in body


def test_happyhorse_video_edit_audio_setting_goes_into_parameters(s: Session, rec: Recorder) -> None:
    s.video("make it night", model="happyhorse-1.0-video-edit", video="https://cdn.example.com/in.mp4",
            wait=False, audio_setting="origin")
    body = rec.json(path_part="/video/generations")
    assert body["parameters"]["audio_setting"] == "origin" and "audio_setting" not in body


def test_wan_video_watermark_goes_into_parameters(s: Session, rec: Recorder) -> None:
    s.video("a river", model="wan3.0-video", wait=False, watermark=True, prompt_extend=False)
    body = rec.json(path_part="/video/generations")
    assert body["parameters"]["watermark"] is True and body["parameters"]["prompt_extend"] is False
    assert "watermark" not in body and "prompt_extend" not in body


def test_grok_video_options_go_into_input(s: Session, rec: Recorder) -> None:
    s.video("it moves", model="grok-imagine-video-1-5-preview", image=URL, wait=False, nsfw_checker=False)
    body = rec.json(path_part="/video/generations")
    assert body["input"]["nsfw_checker"] is False and "nsfw_checker" not in body


def test_qwen_and_wan_image_options_go_into_parameters(s: Session, rec: Recorder) -> None:
    s.image("a fox", model="qwen-image-max", watermark=True, prompt_extend=False)
    body = rec.json(path_part="/images/generations")
    assert body["parameters"]["watermark"] is True and body["parameters"]["prompt_extend"] is False
    assert "watermark" not in body and "prompt_extend" not in body
    s.image("a fox", model="wan2.6-t2i", watermark=True)
    body = rec.json(path_part="/images/generations")
    assert body["parameters"]["watermark"] is True and "watermark" not in body


# --- native chat protocols take OpenAI-style options in their own form (§2.3, §2.4) ---------------------------


def test_gemini_native_sampling_options_go_into_generation_config(s: Session, rec: Recorder) -> None:
    s.chat("hi", model="gemini-2.5-flash", thread=False, stream=False, top_p=0.5, top_k=4, stop="END", seed=3)
    body = rec.json(path_part=":generateContent")
    assert body["generationConfig"] == {"topP": 0.5, "topK": 4, "stopSequences": ["END"], "seed": 3}
    assert not {"top_p", "top_k", "stop", "seed"} & set(body)


def test_gemini_native_refuses_reasoning_effort_before_the_call(s: Session, rec: Recorder) -> None:
    with pytest.raises(UnsupportedOptionError, match=r"takes no reasoning_effort") as got:
        s.chat("hi", model="gemini-2.5-pro", thread=False, stream=False, reasoning_effort="high")
    assert "thinkingConfig" in (got.value.hint or "")
    assert not rec.posts(":generateContent")


def test_claude_messages_stop_is_stop_sequences(s: Session, rec: Recorder) -> None:
    s.chat("hi", model="claude-opus-4-6-cc", thread=False, stream=False, stop=["x", "y"])
    body = rec.json(path_part="/v1/messages")
    assert body["stop_sequences"] == ["x", "y"] and "stop" not in body


def test_openai_chat_keeps_openai_names(s: Session, rec: Recorder) -> None:
    s.chat("hi", model="grok-4.1", thread=False, stream=False, top_p=0.5, stop="END", reasoning_effort="high")
    body = rec.json(path_part="/chat/completions")
    assert body["top_p"] == 0.5 and body["stop"] == "END" and body["reasoning_effort"] == "high"


# --- OpenAI image options the catalogue lists per model (§3.2) ---------------------------------------------------


def test_gpt_image_2_refuses_a_transparent_background_before_the_call(s: Session, rec: Recorder) -> None:
    with pytest.raises(UnsupportedOptionError, match=r"gpt-image-2 does not accept background='transparent'; "
                                                     r"allowed: opaque, auto"):
        s.image("a logo", model="gpt-image-2", background="transparent")
    assert not rec.posts("/images/")
    s.image("a logo", model="gpt-image-1.5", background="Transparent", output_format="webp")
    body = rec.json(path_part="/images/generations")
    assert body["background"] == "transparent" and body["output_format"] == "webp"


def test_style_is_dall_e_3_only(s: Session, rec: Recorder) -> None:
    for model in ("gpt-image-2", "dall-e-2"):
        with pytest.raises(UnsupportedOptionError, match=rf"{model} does not take the option 'style'"):
            s.image("a fox", model=model, style="vivid")
    with pytest.raises(UnsupportedOptionError, match=r"allowed: vivid, natural"):
        s.image("a fox", model="dall-e-3", style="cartoon")
    s.image("a fox", model="dall-e-3", style="natural")
    assert rec.json(path_part="/images/generations")["style"] == "natural"


def test_extra_stays_the_escape_hatch_for_listed_options(s: Session, rec: Recorder) -> None:
    with pytest.raises(APIError, match=r"not supported for gpt-image-2"):  # sent as given; the service says no
        s.image("a logo", model="gpt-image-2", extra={"background": "transparent"})
    assert rec.json(path_part="/images/generations")["background"] == "transparent"


# --- speech: the audio format and OpenAI-only fields (§6.1, §6.3) -------------------------------------------


def test_gemini_tts_takes_no_other_audio_format_and_sends_none(s: Session, rec: Recorder) -> None:
    with pytest.raises(UnsupportedOptionError, match=r"response_format='mp3'; allowed: wav"):
        s.speak("hello", model="gemini-2.5-flash-preview-tts", response_format="mp3")
    s.speak("hello", model="gemini-2.5-flash-preview-tts", response_format="wav")
    body = rec.json(path_part=":generateContent")
    assert "response_format" not in body and body["generationConfig"]["responseModalities"] == ["AUDIO"]


def test_gemini_tts_refuses_openai_speed(s: Session, rec: Recorder) -> None:
    with pytest.raises(UnsupportedOptionError, match=r"takes no speed"):
        s.speak("hello", model="gemini-2.5-flash-preview-tts", speed=1.5)
    assert not rec.posts(":generateContent")


def test_openai_speech_sends_the_asked_format_once(s: Session, rec: Recorder) -> None:
    s.speak("hello", model="gemini-2.5-flash-preview-tts", endpoint="audio.speech", format="wav")
    body = rec.json(path_part="/audio/speech")
    assert body["response_format"] == "wav" and "format" not in body


# --- Seedream: references + images made ≤ 15 (§3.2) ----------------------------------------------------------


def test_seedream_refuses_more_than_15_images_in_and_out(s: Session, rec: Recorder) -> None:
    with pytest.raises(UnsupportedOptionError, match=r"at most 15 images per call, inputs and outputs together"):
        s.edit([URL] * 14, "same style", model="doubao-seedream-4-5-251128", n=2)
    assert not rec.posts("/images/")
    s.edit([URL] * 13, "same style", model="doubao-seedream-4-5-251128", n=2)
    body = rec.json(path_part="/images/generations")
    assert len(body["image"]) == 13 and body["sequential_image_generation_options"] == {"max_images": 2}


def test_responses_endpoint_takes_chat_fields_in_its_own_form(s: Session, rec: Recorder) -> None:
    s.chat("hi", model="GPT 5.2(Responses)", thread=False, stream=False, max_completion_tokens=64,
           response_format={"type": "json_object"})
    body = rec.json(path_part="/v1/responses")
    assert body["max_output_tokens"] == 64 and body["text"] == {"format": {"type": "json_object"}}
    assert "max_completion_tokens" not in body and "response_format" not in body
    with pytest.raises(UnsupportedOptionError, match=r"Responses endpoint takes no stop"):
        s.chat("hi", model="GPT 5.2(Responses)", thread=False, stream=False, stop="END")


# --- HappyHorse seeds are 0…2147483647 (§5.4) -------------------------------------------------------------------


def test_happyhorse_refuses_a_seed_past_its_range_before_the_call(s: Session, rec: Recorder) -> None:
    with pytest.raises(InputError, match=r"happyhorse-1.0-t2v takes a seed from 0 to 2147483647, not 3000000000"):
        s.video("a horse", model="happyhorse-1.0-t2v", wait=False, seed=3_000_000_000)
    assert not rec.posts("/video/generations")
    s.video("a horse", model="doubao-seedance-2.0", wait=False, seed=3_000_000_000)  # Seedance: up to 2^32-1
    assert rec.json(path_part="/video/generations")["seed"] == 3_000_000_000


def test_a_session_seed_past_a_models_range_says_it_is_the_sessions(s: Session, rec: Recorder) -> None:
    """The call named no seed: "not 3000000000" sent the user looking for a number they never passed."""
    s.seed = 3_000_000_000
    with pytest.raises(InputError, match=r"2147483647; this call would send the session's seed=3000000000") as info:
        s.video("a horse", model="happyhorse-1.0-t2v", wait=False)
    assert "Pass seed=" in (info.value.hint or "") and not rec.posts("/video/generations")
    s.video("a horse", model="happyhorse-1.0-t2v", wait=False, seed=7)  # a seed of the call's own wins
    assert rec.json(path_part="/video/generations")["parameters"]["seed"] == 7


def test_gemini_edit_labels_a_linked_image_with_its_own_type(s: Session, rec: Recorder) -> None:
    s.edit(["https://cdn.example.com/a.jpg?sig=1", "https://cdn.example.com/b"], "make it blue",
           model="gemini-3-pro-image-preview")
    parts = rec.json(path_part=":generateContent")["contents"][0]["parts"]
    assert [p["fileData"]["mimeType"] for p in parts[1:]] == ["image/jpeg", "image/png"]


def test_happyhorse_audio_setting_is_video_edits_and_checked(s: Session, rec: Recorder) -> None:
    with pytest.raises(UnsupportedOptionError, match=r"audio_setting='loud'; allowed: auto, origin"):
        s.video("night", model="happyhorse-1.0-video-edit", video="https://cdn.example.com/in.mp4", wait=False,
                audio_setting="loud")
    with pytest.raises(UnsupportedOptionError, match=r"happyhorse-1.0-t2v does not take the option 'audio_setting'"):
        s.video("night", model="happyhorse-1.0-t2v", wait=False, audio_setting="auto")
    assert not rec.posts("/video/generations")


def test_gemini_native_thinking_options_go_into_thinking_config(s: Session, rec: Recorder) -> None:
    s.chat("hi", model="gemini-2.5-pro", thread=False, stream=False, thinking_budget=1024, include_thoughts=True)
    body = rec.json(path_part=":generateContent")
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    assert "thinking_budget" not in body and "include_thoughts" not in body
