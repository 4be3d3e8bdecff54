"""Video and audio panels, headless: capabilities drive the options, progress and players update."""

from __future__ import annotations

import json

import _widgets_support as support
import ipywidgets as w
import pytest
from _widgets_support import png_bytes, upload_value, wait_until

from tokenhot_nb.widgets import panel
from tokenhot_nb.widgets._media import served_urls, video_widget

fake = support.fake  # fixture
offline = support.offline  # fixture


def test_video_options_follow_the_model(fake):
    p = panel("video", fake)
    p.model.value = "MiniMax-Hailuo-02"
    assert [v for _, v in p.duration.options] == ["", 6, 10] and p.duration.value == 6
    assert p.resolution.value == "768P"
    assert p.ratio.layout.display == "none"  # no ratios for this model
    assert p.upload.description == "First frame"
    p.model.value = "happyhorse-1.0-t2v"
    assert p.upload.layout.display == "none" and p.ratio.layout.display is None


def test_video_passes_exact_parameters_and_shows_progress(fake):
    p = panel("video", fake)
    p.model.value = "doubao-seedance-1-5-pro-251215"
    p.prompt.value = "waves at dusk"
    p.duration.value = 8
    p.resolution.value = "1080p"
    p.ratio.value = "16:9"
    frame = png_bytes()
    p.upload.value = upload_value(frame, "f.png", "image/png")
    states: list[int] = []
    p.progress.observe(lambda c: states.append(c["new"]), names="value")
    p.generate.click()
    p.wait(30)
    kind, args, kw = fake.calls[0]
    assert kind == "video" and args == ("waves at dusk",)
    assert kw["model"] == "doubao-seedance-1-5-pro-251215" and kw["duration"] == 8
    assert kw["resolution"] == "1080p" and kw["ratio"] == "16:9" and kw["image"] == frame
    assert kw["wait"] is True and kw["progress"] is False and callable(kw["on_progress"])
    assert states[:2] == [10, 60] and p.progress.value == 100
    assert isinstance(p.player.children[0], w.Video)


def test_video_for_an_image_model_needs_an_image(fake):
    p = panel("video", fake)
    p.model.value = "happyhorse-1.0-i2v"
    p.prompt.value = "move"
    p.generate.click()
    assert "upload one first" in p.error_box.value and fake.calls == []


def test_video_input_models_take_an_upload_or_a_url(fake):
    p = panel("video", fake)
    p.model.value = "MiniMax-Hailuo-02"
    assert p.video_box.layout.display == "none"  # no video input for this model
    p.model.value = "doubao-seedance-2.0-V2V"
    assert p.video_box.layout.display is None and p.generate.description == "Edit video"
    # Seedance takes videos by URL only (§5.1): no upload offered
    assert p.video_upload.layout.display == "none" and "upload" not in [v for _, v in p.video_source.options]
    p.model.value = "happyhorse-1.0-video-edit"
    assert p.video_upload.layout.display is None
    p.prompt.value = "make it night"
    p.generate.click()
    assert "transforms a video" in p.error_box.value and fake.calls == []
    clip = b"\x00\x00\x00 ftypisom" + b"\x01" * 64
    p.video_upload.value = upload_value(clip, "clip.mp4", "video/mp4")
    assert p.video_source.value == "upload" and p.video_source.label == "uploaded: clip.mp4"
    p.generate.click()
    p.wait(30)
    kind, args, kw = fake.calls[-1]
    assert (kind, args, kw["model"], kw["video"]) == ("video", ("make it night",), "happyhorse-1.0-video-edit", clip)
    # the result is offered as the source of the next edit
    assert p.video_source.value == "upload" and any(v.startswith("#") for _, v in p.video_source.options)
    p.video_url.value = "ftp://example.com/a.mp4"
    assert p.video_source.value == "url"
    p.generate.click()
    assert "must start with http:// or https://" in p.error_box.value and len(fake.calls) == 1
    p.video_url.value = "https://example.com/a.mp4"
    p.generate.click()
    p.wait(30)
    assert fake.calls[-1][2]["video"] == "https://example.com/a.mp4"
    assert fake.calls[-1][2]["model"] == "happyhorse-1.0-video-edit"
    p.model.value = "doubao-seedance-2.0"  # takes a video but does not need one: none picked, none sent
    p.video_url.value = ""
    p.generate.click()
    p.wait(30)
    assert "video" not in fake.calls[-1][2]


def test_last_frame_goes_with_a_first_frame(fake):
    p = panel("video", fake)
    p.model.value = "MiniMax-Hailuo-2.3"
    assert p.last_frame.layout.display == "none"  # this model takes no last frame
    p.model.value = "doubao-seedance-1-5-pro-251215"
    assert p.last_frame.layout.display is None
    p.prompt.value = "dawn to dusk"
    last = png_bytes(color="navy")
    p.last_frame.value = upload_value(last, "last.png", "image/png")
    p.generate.click()
    assert "needs a first frame" in p.error_box.value and fake.calls == []
    first = png_bytes(color="gold")
    p.upload.value = upload_value(first, "first.png", "image/png")
    p.generate.click()
    p.wait(30)
    kw = fake.calls[-1][2]
    assert kw["image"] == first and kw["images"] == [{"image": last, "role": "last_frame"}]


def test_real_first_and_last_frame(offline):
    p = panel("video", offline)
    p.model.value = "doubao-seedance-1-5-pro-251215"
    p.prompt.value = "dawn to dusk"
    p.upload.value = upload_value(png_bytes(color="gold"), "first.png", "image/png")
    p.last_frame.value = upload_value(png_bytes(color="navy"), "last.png", "image/png")
    p.generate.click()
    p.wait(120)
    assert p.error_box.value == "", p.error_box.value
    entry = offline.history.last
    assert entry.status == "ok" and isinstance(p.player.children[0], w.Video)
    assert entry.params["images"][0]["role"] == "last_frame"
    assert '"role": "last_frame"' in json.dumps(entry.request)  # the body the simulator accepted says so


def test_real_video_to_video_from_an_earlier_video(offline):
    first = offline.video("a paper boat", model="doubao-seedance-2.0", progress=False)
    p = panel("video", offline)
    p.model.value = "doubao-seedance-2.0-fast-V2V"
    assert p.video_source.value == f"#{first.entry.id}"  # no upload: the earlier video is picked
    p.prompt.value = "the boat sails at night"
    p.generate.click()
    p.wait(120)
    assert p.error_box.value == "", p.error_box.value
    entry = offline.history.last
    assert (entry.model, entry.status) == ("doubao-seedance-2.0-fast-V2V", "ok")
    assert entry.params["video"] == {"url": first.url}  # Seedance fetches it: sent by its own link
    assert isinstance(p.player.children[0], w.Video)
    # an edit model that takes the bytes gets the same pick as a file
    p.model.value = "happyhorse-1.0-video-edit"
    p.video_source.value = f"#{first.entry.id}"
    p.generate.click()
    p.wait(120)
    assert p.error_box.value == "", p.error_box.value
    assert offline.history.last.params["video"]["artifact"] == first.sha256


def test_a_video_nobody_picked_is_never_sent(offline):
    """Seedance 2.0 takes reference videos but needs none: the panel picked the newest video of the history as
    its source, so after any video a plain text-to-video call went out with that video as a reference."""
    offline.video("a paper boat", model="happyhorse-1.0-t2v", progress=False)
    p = panel("video", offline)
    p.model.value = "doubao-seedance-2.0"
    assert p.video_box.layout.display is None and p.video_source.value == "none"
    p.prompt.value = "a kite over the sea"
    p.generate.click()
    p.wait(120)
    assert p.error_box.value == "", p.error_box.value
    entry = offline.history.last
    assert entry.model == "doubao-seedance-2.0" and "video" not in entry.params


def test_real_video_then_resume_a_pending_task(offline):
    p = panel("video", offline)
    p.prompt.value = "a paper boat"
    p.generate.click()
    p.wait(120)
    assert p.error_box.value == "", p.error_box.value
    assert isinstance(p.player.children[0], w.Video) and p.player.children[0].value[4:8] == b"ftyp"
    assert p.progress.value == 100 and "succeeded" in p.task_status.value
    # a task left pending (e.g. the kernel restarted) is offered and can be resumed
    task = offline.video("a kite", wait=False, progress=False)
    p.refresh_pending()
    assert task.task_id in [v for _, v in p.pending.options]
    p.pending.value = task.task_id
    p.resume_button.click()
    p.wait(120)
    assert p.error_box.value == "", p.error_box.value
    assert isinstance(p.player.children[0], w.Video)
    assert task.task_id not in [v for _, v in p.pending.options]


def test_big_video_is_served_as_a_file_not_pushed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / ".tokenhot" / "artifacts" / "ab" / "x.mp4"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00" * 2048)
    widget = video_widget(path, limit=1024)
    assert isinstance(widget, w.HTML) and "<video" in widget.value
    assert 'src="/files/.tokenhot/artifacts/ab/x.mp4"' in widget.value
    assert "/files/.tokenhot/artifacts/ab/x.mp4" in served_urls(path)


@pytest.mark.parametrize(("suffix", "mime"), [(".mp4", "video/mp4"), (".webm", "video/webm"),
                                              (".mov", "video/quicktime")])
def test_a_big_video_is_offered_under_its_own_type(tmp_path, monkeypatch, suffix, mime):
    """A video stored as the WebM it is was offered to the browser as ``type="video/mp4"``."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"x{suffix}"
    path.write_bytes(b"\x00" * 2048)
    html = video_widget(path, limit=1024).value
    assert html.count("<source ") >= 1 and html.count(f'type="{mime}"') == html.count("<source ")


@pytest.mark.parametrize("folder", ["runs #2", "100% done", "a?b"])
def test_a_served_file_is_a_url_whatever_its_folder_is_called(tmp_path, monkeypatch, folder):
    """``/files/runs #2/x.mp4`` asked the server for ``runs `` (the rest a fragment); a lone ``%`` is no URL."""
    from urllib.parse import quote

    monkeypatch.chdir(tmp_path)
    path = tmp_path / folder / "x.mp4"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00" * 2048)
    assert f"/files/{quote(folder)}/x.mp4" in served_urls(path)
    assert f'src="/files/{quote(folder)}/x.mp4"' in video_widget(path, limit=1024).value


def test_audio_speak_and_transcribe_exact_parameters(fake):
    p = panel("audio", fake)
    p.tts_model.value = "gemini-2.5-pro-preview-tts"
    assert p.voice.value == "Kore"
    p.voice.value = "Puck"
    p.text.value = "hello"
    p.speak_button.click()
    p.wait(30)
    assert fake.calls[-1] == ("speak", ("hello",), {"model": "gemini-2.5-pro-preview-tts", "voice": "Puck"})
    assert isinstance(p.player.children[0], w.Audio)
    # the spoken audio is offered for transcription
    assert p.source.value.endswith("a.wav")
    p.format.value = "srt"
    p.language.value = "en"
    p.listen_button.click()
    p.wait(30)
    kind, args, kw = fake.calls[-1]
    assert kind == "transcribe" and str(args[0]).endswith("a.wav")
    assert kw == {"model": "whisper-1", "format": "srt", "language": "en"}
    p.task.value = "translate"
    assert p.language.layout.display == "none" and p.listen_button.description == "Translate"
    wav = b"RIFF" + b"\x01" * 100
    p.upload.value = upload_value(wav, "me.wav", "audio/wav")
    assert p.source.value == ""
    p.format.value = "text"
    p.listen_button.click()
    p.wait(30)
    assert fake.calls[-1] == ("translate", (wav,), {"model": "whisper-1", "format": "text"})
    assert p.transcript.value == "a translation"


def test_real_speech_round_trip(offline):
    p = panel("audio", offline)
    p.text.value = "the quick brown fox"
    p.speak_button.click()
    p.wait(60)
    assert p.error_box.value == "", p.error_box.value
    audio = p.player.children[0]
    assert isinstance(audio, w.Audio) and audio.value[:4] == b"RIFF"
    p.listen_button.click()
    p.wait(60)
    assert p.error_box.value == "", p.error_box.value
    assert "quick brown fox" in p.transcript.value.lower()
    assert [e.kind for e in offline.history][-2:] == ["speak", "transcribe"]


def test_a_speech_cut_at_the_output_limit_says_so_in_the_panel(offline, monkeypatch):
    """A speech that stopped at the model's output limit showed "Speech ready" like a whole one."""
    from tokenhot_nb.sim import media

    monkeypatch.setattr(media, "MAX_TTS_OUTPUT_TOKENS", 25)  # one second
    p = panel("audio", offline)
    p.text.value = "A text that takes longer than one second to say."
    p.speak_button.click()
    p.wait(60)
    assert p.error_box.value == "", p.error_box.value
    assert "output limit: the end of the text is not in it" in p.status.value and isinstance(p.player.children[0], w.Audio)


def test_a_cut_speech_shows_its_note_and_a_whole_one_none(fake):
    """The panel reads the result's own ``cut`` (``AudioResult.cut``: the relay's finish reason at the limit)."""
    p = panel("audio", fake)
    p.text.value = "hello"
    p.speak_button.click()
    p.wait(30)
    assert "Speech ready ·" in p.status.value and "output limit" not in p.status.value, p.status.value
    fake.speech_finish = "MAX_TOKENS"
    p.speak_button.click()
    p.wait(30)
    assert "output limit: the end of the text is not in it" in p.status.value, p.status.value
    assert isinstance(p.player.children[0], w.Audio) and p.error_box.value == ""


def test_task_status_from_the_relay_shows_as_inert_key_free_text(fake):
    """The task id and state are the relay's words: markup as text, controls dropped, a key (one split by a
    control character included) masked."""
    from tokenhot_nb.families._types import TaskStatus

    key = "sk-VIDEOSTATUS-echo-KEY-0123456789"
    p = panel("video", fake)
    p.on_status(TaskStatus(task_id=f"task-{key[:7]}\x00{key[7:]}", state="<img src=x onerror=alert(1)>\x1b[2J",
                           progress=40))
    shown = p.task_status.value
    assert key not in shown and "sk-****" in shown and "\x1b" not in shown and "\x00" not in shown
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown and p.progress.value == 40


def test_a_click_that_fails_before_any_call_says_why_in_the_panel(offline):
    """The earlier video picked as the source lost its file from the store meanwhile: rebuilding it raised inside
    the click handler, and ipywidgets sends a handler's exception to the log, so the click did nothing visible.
    Now the one line is in the panel, and nothing was sent."""
    import os

    first = offline.video("a paper boat", model="doubao-seedance-2.0", progress=False)
    p = panel("video", offline)
    p.model.value = "happyhorse-1.0-video-edit"
    p.video_source.value = f"#{first.entry.id}"
    os.remove(offline.store.path_of(first.sha256))
    p.prompt.value = "the boat sails at night"
    p.generate.click()
    p.wait(30)
    assert "is missing from" in p.error_box.value and p.error_box.layout.display is None
    assert p.error_box.value.count("\n") == 0 and len(offline.history) == 1


def test_a_click_while_busy_keeps_what_the_panel_shows(fake):
    """Transcribe (or Make video) clicked while another job of the panel ran: the run was refused, but only after
    the transcript (or the player and progress bar) had been cleared, so a paid result vanished from view."""
    import threading

    p = panel("audio", fake)
    p.upload.value = upload_value(b"RIFF" + b"\x00" * 40, "a.wav", "audio/wav")
    p.listen_button.click()
    p.wait(30)
    assert p.transcript.value == "a transcript"
    fake.gate = threading.Event()
    p.text.value = "say this"
    p.speak_button.click()
    assert p.busy
    p.listen_button.click()
    assert p.transcript.value == "a transcript" and "Still working" in p.status.value
    fake.gate.set()
    p.wait(30)
    assert [c[0] for c in fake.calls] == ["transcribe", "speak"]

    fake.gate = threading.Event()
    v = panel("video", fake)
    v.model.value = "happyhorse-1.0-t2v"
    v.prompt.value = "waves"
    v.generate.click()
    wait_until(lambda: len(fake.calls) == 3, what="the video call")
    status = v.task_status.value
    assert v.busy and v.progress.value == 100 and "succeeded" in status
    v.generate.click()
    assert v.progress.value == 100 and v.task_status.value == status and "Still working" in v.status.value
    fake.gate.set()
    v.wait(30)
    assert len(fake.calls) == 3 and v.player.children


def test_a_video_task_that_made_several_videos_shows_each_in_the_panel(tmp_path):
    """The panel played the first of a task's videos only; the others, paid for, were nowhere in it."""
    from _session_support import make_session
    from _video_support import SeveralVideos

    with make_session(tmp_path / "st", SeveralVideos()) as s:
        res = s.video("a kite over the sea", progress=False)
        p = panel("video", s)
        p._show(res)
        assert len(p.player.children) == 3 and p.error_box.value == ""
        assert "3 videos" in p.status.value


def test_the_video_and_speech_panels_say_what_a_click_costs(offline):
    """A video is charged per task, known only once it ends: the video panel says so under its button, rather than
    nothing. The speech panel gives its range, from the words typed so far (a longer text, more input tokens)."""
    v = panel("video", offline)
    assert "Cost: not known before it runs" in v.price.value and "charged per task" in v.price.value
    a = panel("audio", offline)
    a.text.value = "Hello."
    short = a.speak_price.value
    a.text.value = "Hello there, this is a much longer text to read aloud. " * 20
    assert "Cost: " in short and "simulated" in short and short != a.speak_price.value
    assert "input tokens" in a.speak_price.value and len(offline.history) == 0


def test_the_transcription_panel_says_what_a_click_costs(offline):
    """The speech panel said what a click costs; the transcription panel said nothing before its paid upload. It
    gives the estimate of the call a click would make now, once there is audio to send, and sends nothing for it."""
    from tokenhot_nb.families.audio import pcm_to_wav

    a = panel("audio", offline)
    assert a.listen_price.value == ""  # (no audio yet: the click would ask for one)
    a.upload.value = upload_value(pcm_to_wav(b"\x01\x02" * 2400), "me.wav", "audio/wav")
    said = a.listen_price.value
    assert "Cost: $0.006" in said and "simulated" in said  # (whisper-1: per call, in the simulator's table)
    assert offline.estimate("transcribe", a.audio_input(), model="whisper-1").usd == pytest.approx(0.006)
    a.task.value = "translate"
    assert a.listen_price.value == said and a.children.index(a.listen_price) == a.children.index(a.listen_button) + 1
    assert len(offline.history) == 0
