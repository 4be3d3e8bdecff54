"""Result objects: lean, key-free mime bundles with provenance; file access; rebuilt equal from the history."""

from __future__ import annotations

import base64
import io
import json
import re
import wave
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder
from PIL import Image

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb.families._types import Segment, TaskStatus, Usage
from tokenhot_nb.results import (
    AudioResult,
    BatchResult,
    ChatResult,
    CompareResult,
    ImageItem,
    ImageResult,
    TranscriptResult,
    VideoResult,
    VideoTask,
)
from tokenhot_nb.results.media import extract_poster, media_duration

SECRET = "sk-results-SECRET-99887766"


def make_png(path: Path, size: tuple[int, int], mode: str = "RGB") -> Path:
    Image.new(mode, size, (10, 120, 200) if mode == "RGB" else (10, 120, 200, 128)).save(path, format="PNG")
    return path


def make_mp4(path: Path, frames: int = 12, size: tuple[int, int] = (64, 48)) -> Path:
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=12)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for i in range(frames):
            arr = np.full((size[1], size[0], 3), (i * 20) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_a_fork_after_a_poster_made_on_a_worker_thread_does_not_hang_the_child(tmp_path: Path) -> None:
    """PyAV 19 keeps one scaler per thread for ``frame.to_image()``. After a fork, Python 3.13 frees the states of
    the threads that did not come along, and with them that scaler, whose slice threads are gone too: the child
    hung in ``pthread_cond_destroy`` for good (seen with multiprocessing after a video's poster was made on the
    thumbnail worker). Posters are converted with a scaler of their own, freed where it was made."""
    import subprocess
    import sys
    import textwrap

    mp4 = make_mp4(tmp_path / "v.mp4", frames=3, size=(1280, 720))  # (big enough for a threaded scaler)
    code = f"""
        import os, sys, time
        from concurrent.futures import ThreadPoolExecutor
        from pathlib import Path
        from tokenhot_nb.results.media import extract_poster
        worker = ThreadPoolExecutor(1)  # (a worker that lives on, as the thumbnail worker does)
        assert worker.submit(extract_poster, Path({str(mp4)!r}), Path({str(tmp_path / "p.jpg")!r})).result()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                print("child exited")
                sys.exit(0)
            time.sleep(0.05)
        os.kill(pid, 9)
        print("child hung")
        sys.exit(0)
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "child exited", (result.stdout, result.stderr)


def make_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return path


# ---------------------------------------------------------------- images


def test_single_image_is_shown_once_with_its_alt_text_and_footer(tmp_path: Path) -> None:
    """One copy (HTML, not HTML + image/png), so the notebook stays lean and every front end gets alt text."""
    small = make_png(tmp_path / "s.png", (64, 48))
    res = ImageResult([ImageItem(small, "image/png", "a" * 64)], model="gpt-image-2", prompt="a <red> fox")
    data, meta = res._repr_mimebundle_()
    assert set(data) == {"text/html", "text/plain"}
    html = data["text/html"]
    srcs = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(srcs) == 1 and base64.b64decode(srcs[0]) == small.read_bytes()  # small: embedded as is
    assert 'alt="a &lt;red&gt; fox"' in html and 'width="64" height="48"' in html
    assert "max-width:min(768px,100%)" in html and "gpt-image-2" in html  # fits the page; the footer
    assert meta["tokenhot"]["model"] == "gpt-image-2" and meta["tokenhot"]["kind"] == "image"
    assert "1 image from gpt-image-2" in data["text/plain"]


def test_the_single_image_keeps_its_alt_text_in_an_html_export(tmp_path: Path) -> None:
    """nbconvert (lab and classic templates) writes the prompt, shortened and escaped, as the <img>'s alt."""
    import nbformat
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    prompt = 'a "red" <b>fox</b> & a hare ' + "under the winter moon " * 8
    res = ImageResult([ImageItem(make_png(tmp_path / "f.png", (32, 32)), "image/png", "f" * 64)],
                      model="m", prompt=prompt)
    data, meta = res._repr_mimebundle_()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("s.image(...)", outputs=[
        nbformat.v4.new_output("display_data", data=data, metadata=meta)])])
    for template in ("lab", "classic"):
        html, _ = HTMLExporter(template_name=template).from_notebook_node(nb)
        imgs = BeautifulSoup(html, "html.parser").find_all("img")
        assert len(imgs) == 1, template
        alt = imgs[0]["alt"]  # the attribute's value as a browser reads it
        assert alt.startswith('a "red" <b>fox</b> & a hare under the winter moon') and alt.endswith("…")
        assert len(alt) == 100 and "<b>fox</b>" not in html  # text in an attribute, never markup


def test_grid_images_say_what_they_show(tmp_path: Path) -> None:
    """alt is the prompt, shortened and escaped (a prompt is user text that may hold markup)."""
    prompt = 'A "quoted" <script>alert(1)</script> fox ' + "in a very long meadow " * 10
    items = [ImageItem(make_png(tmp_path / f"{i}.png", (40, 40)), "image/png", str(i) * 64) for i in range(2)]
    html = ImageResult(items, model="m", prompt=prompt).html()
    alts = re.findall(r'alt="([^"]*)"', html)
    assert len(alts) == 2 and alts[0].endswith("… (1 of 2)") and alts[1].endswith("… (2 of 2)")
    assert alts[0].startswith("A &quot;quoted&quot; &lt;script&gt;alert(1)&lt;/script&gt; fox in a very")
    assert "<script>" not in html and len(alts[0]) < 160
    assert ImageResult(items[:1], model="m", prompt="").alt_text() == "image from m"


def test_large_images_are_downscaled_for_display(tmp_path: Path) -> None:
    big = make_png(tmp_path / "big.png", (2048, 1024))
    res = ImageResult([ImageItem(big, "image/png", "b" * 64)], model="m")
    data, _ = res._repr_mimebundle_()
    jpeg = re.findall(r'src="data:image/jpeg;base64,([^"]+)"[^>]*width="768" height="384"', data["text/html"])
    assert len(jpeg) == 1 and len(base64.b64decode(jpeg[0])) < big.stat().st_size
    alpha = make_png(tmp_path / "alpha.png", (1600, 1600), mode="RGBA")
    data2, _ = ImageResult([ImageItem(alpha, "image/png", "c" * 64)], model="m")._repr_mimebundle_()
    assert "data:image/png;base64," in data2["text/html"]  # transparency kept


def test_several_images_render_a_grid(tmp_path: Path) -> None:
    items = [ImageItem(make_png(tmp_path / f"{i}.png", (300, 300)), "image/png", str(i) * 64,
                       {"revised_prompt": "a <b>bold</b> cat" if i == 1 else None}) for i in range(3)]
    res = ImageResult(items, model="m", prompt="cats")
    data, _ = res._repr_mimebundle_()
    assert set(data) == {"text/html", "text/plain"}
    html = data["text/html"]
    assert html.count("<img") == 3 and 'width="256"' in html and "&lt;b&gt;bold" in html
    assert res.revised_prompt == "a <b>bold</b> cat" and len(res[0:2]) == 2
    saved = res.save(tmp_path / "out", stem="cat")
    assert [p.name for p in saved] == ["cat-0.png", "cat-1.png", "cat-2.png"]
    assert res.pil(1).size == (300, 300) and res.paths[2] == items[2].path


def test_image_result_from_a_session(s: Session, tmp_path: Path) -> None:
    res = s.image("a fox", model="gpt-image-2")
    _, meta = res._repr_mimebundle_()
    assert meta["tokenhot"]["entry_id"] == res.entry_id and meta["tokenhot"]["replay_key"] == res.entry.replay_key
    out = res.save(tmp_path / "saved")
    assert out[0].name == f"tokenhot-{res.entry_id}{res.path.suffix}" and out[0].read_bytes() == res.data()


# ---------------------------------------------------------------- video / audio


def test_a_video_frame_too_large_to_display_gives_no_poster_and_is_never_decoded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The poster decoded the first frames whatever their size: a hostile 16000×16000 video cost over a gigabyte
    after every call. A frame past the display limit now gives no poster (the limit is lowered here, so a small
    clip stands in for a huge one), checked before any frame is decoded."""
    import av

    from tokenhot_nb.results import _base

    mp4 = make_mp4(tmp_path / "v.mp4")
    decoded: list[int] = []
    real_open = av.open

    class Watched:  # (PyAV 17's container type is immutable: its decode cannot be patched, so it is wrapped)
        def __init__(self, container: Any) -> None:
            self.container = container

        def __enter__(self) -> Watched:
            self.container.__enter__()
            return self

        def __exit__(self, *exc: Any) -> Any:
            return self.container.__exit__(*exc)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.container, name)

        def decode(self, *args: Any, **kw: Any) -> Any:
            decoded.append(1)
            return self.container.decode(*args, **kw)

    monkeypatch.setattr(_base, "MAX_DISPLAY_PIXELS", 64 * 48 - 1)
    monkeypatch.setattr(av, "open", lambda *a, **kw: Watched(real_open(*a, **kw)))
    assert extract_poster(mp4, tmp_path / "p.jpg") is None and not (tmp_path / "p.jpg").exists()
    assert decoded == []
    monkeypatch.setattr(_base, "MAX_DISPLAY_PIXELS", 64 * 48)
    assert extract_poster(mp4, tmp_path / "p.jpg") == tmp_path / "p.jpg" and decoded


def test_video_result_references_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "store").mkdir()
    mp4 = make_mp4(tmp_path / "store" / "v.mp4")
    poster = extract_poster(mp4, tmp_path / "store" / "poster.jpg")
    assert poster is not None and Image.open(poster).size == (64, 48)
    res = VideoResult(mp4, poster=poster, task_id="task_1", model="seedance")
    data, meta = res._repr_mimebundle_()
    html = data["text/html"]
    assert 'src="store/v.mp4"' in html and 'poster="data:image/jpeg;base64,' in html and "data:video" not in html
    assert meta["tokenhot"]["model"] == "seedance"
    assert res.duration == pytest.approx(1.0, abs=0.2)
    assert extract_poster(make_wav(tmp_path / "a.wav", 0.1), tmp_path / "y.jpg") is None  # no video stream


@pytest.mark.parametrize("folder", ["runs #2", "100% done", "a?b"])
def test_a_referenced_file_is_a_url_whatever_its_folder_is_called(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str) -> None:
    """``src="runs #2/v.mp4"`` asked the server for ``runs `` (the rest a fragment); ``100%`` fails JupyterLab's
    decoding of the path. The note for static exports names the file as it is on disk."""
    from urllib.parse import quote

    monkeypatch.chdir(tmp_path)
    (tmp_path / folder).mkdir()
    html = VideoResult(make_mp4(tmp_path / folder / "v.mp4"), model="m").html()
    assert f'src="{quote(folder)}/v.mp4"' in html and f"<code>{folder}/v.mp4</code>" in html
    wav = make_wav(tmp_path / folder / "long.wav", 0.1)
    monkeypatch.setattr("tokenhot_nb.results.media.INLINE_AUDIO_MAX", 10)  # referenced, not inlined
    assert f'src="{quote(folder)}/long.wav"' in AudioResult(wav, model="m").html()


def test_referenced_audio_says_where_its_file_is_for_static_exports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Speech past the inline limit (about 30 s of WAV) is played from a file beside the notebook; an HTML export,
    nbviewer or GitHub showed a silent player and said nothing. Like a video, it now names the file and how to
    save it again; inlined speech needs no note."""
    monkeypatch.chdir(tmp_path)
    wav = make_wav(tmp_path / "long <b>.wav", 0.1)
    assert "tokenhot-audio-note" not in AudioResult(wav, model="m").html()
    monkeypatch.setattr("tokenhot_nb.results.media.INLINE_AUDIO_MAX", 10)
    html = AudioResult(wav, model="m").html()
    assert "Audio file: <code>long &lt;b&gt;.wav</code>, next to the notebook" in html and "<b>" not in html
    assert "<code>result.save()</code>" in html


def test_video_in_a_hidden_store_is_published_where_jupyter_serves_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default store ``.tokenhot/`` is hidden (JupyterLab's /files/ refuses it): a displayed video and its
    poster are hard-linked to ``tokenhot-media/<sha>`` beside the store, once, and referenced there."""
    import hashlib
    import os

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOKENHOT_MEDIA_DIR", raising=False)
    art = tmp_path / ".tokenhot" / "artifacts" / "ab"
    art.mkdir(parents=True)
    raw = make_mp4(tmp_path / "raw.mp4")
    sha = hashlib.sha256(raw.read_bytes()).hexdigest()
    mp4 = raw.rename(art / f"{sha}.mp4")
    poster = extract_poster(mp4, art / ("0" * 64 + ".jpg"))
    assert poster is not None
    res = VideoResult(mp4, sha256=sha, poster=poster, model="seedance")
    html = res._repr_mimebundle_()[0]["text/html"]
    assert f'src="tokenhot-media/{sha}.mp4"' in html and 'poster="data:image/jpeg;base64,' in html
    assert ".tokenhot" not in html and "data:video" not in html
    published = tmp_path / "tokenhot-media" / f"{sha}.mp4"
    assert published.read_bytes() == mp4.read_bytes() and os.path.samefile(published, mp4)  # a link, no copy
    assert res.html() == res.html() and sorted(os.listdir(tmp_path / "tokenhot-media")) == [
        f"{sha}.mp4"]  # idempotent, no temp files left; the small poster is inline


def test_video_outside_the_notebook_folder_is_published_in_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from tokenhot_nb.results import _serve

    nb = tmp_path / "nb"
    nb.mkdir()
    monkeypatch.chdir(nb)
    monkeypatch.delenv("TOKENHOT_MEDIA_DIR", raising=False)
    store = tmp_path / "shared-store" / "artifacts" / "cd"
    store.mkdir(parents=True)
    mp4 = make_mp4(store / "clip.mp4")
    html = VideoResult(mp4, model="m").html()
    assert 'src="tokenhot-media/' in html and "shared-store" not in html and ".." not in html
    [published] = (nb / "tokenhot-media").iterdir()
    assert published.read_bytes() == mp4.read_bytes() and len(published.stem) == 64
    # links impossible (another file system): a copy; publishing impossible: the original path, no failure
    publish = _serve.publish
    monkeypatch.setattr(_serve.os, "link", lambda *a: (_ for _ in ()).throw(OSError("EXDEV")))
    other = make_mp4(store / "other.mp4", frames=6)
    copied = _serve.servable_path(other)
    assert copied.parent == nb / "tokenhot-media" and not os.path.samefile(copied, other)
    monkeypatch.setattr(_serve, "publish", lambda *a, **k: (_ for _ in ()).throw(PermissionError("ro")))
    assert _serve.servable_path(other) == other
    # a visible store under the notebook folder is referenced in place
    (nb / "videos").mkdir()
    visible = make_mp4(nb / "videos" / "v.mp4")
    assert _serve.servable_path(visible) == visible
    # TOKENHOT_MEDIA_DIR names the folder (relative to the working directory)
    monkeypatch.setattr(_serve, "publish", publish)
    monkeypatch.setenv("TOKENHOT_MEDIA_DIR", "served/media")
    assert VideoResult(mp4, model="m").html().count('src="served/media/') == 1


def test_audio_result(tmp_path: Path) -> None:
    wav = make_wav(tmp_path / "a.wav", 1.5)
    res = AudioResult(wav, model="tts")
    assert res.duration == pytest.approx(1.5) and res.wav == wav.read_bytes()
    data, _ = res._repr_mimebundle_()
    assert "<audio controls" in data["text/html"] and "data:audio/wav;base64," in data["text/html"]
    assert "1.5 s" in data["text/plain"]
    long = AudioResult(make_wav(tmp_path / "long.wav", 120, rate=16000), model="tts")
    assert "base64" not in long._repr_mimebundle_()[0]["text/html"]  # large audio is referenced, not embedded


def test_audio_converts_to_wav(tmp_path: Path) -> None:
    import av
    import numpy as np

    path = tmp_path / "a.flac"
    with av.open(str(path), "w") as out:
        st = out.add_stream("flac", rate=16000)
        st.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 16000
        for p in st.encode(frame):
            out.mux(p)
        for p in st.encode():
            out.mux(p)
    res = AudioResult(path, mime="audio/flac", model="tts")
    wav = res.wav
    assert wav[:4] == b"RIFF"
    with wave.open(io.BytesIO(wav)) as w:
        assert w.getframerate() == 16000 and w.getnframes() == pytest.approx(16000, abs=2000)
    assert media_duration(path) == pytest.approx(1.0, abs=0.1)


# ---------------------------------------------------------------- text


def test_chat_result_renders_markdown_as_safe_html() -> None:
    res = ChatResult("**Hello** there", reasoning="I think <so>", usage=Usage(total_tokens=12), model="gpt-5.2",
                     thread="default", finish_reason="length")
    assert str(res) == "**Hello** there" and repr(res) == "**Hello** there"
    data, meta = res._repr_mimebundle_()
    html = data["text/html"]
    assert html.index("<details>") < html.index("<strong>Hello</strong>") and "I think &lt;so&gt;" in html
    assert "12 tokens" in html and "finish: length" in html and "thread &#x27;default&#x27;" in html
    # a trusted notebook runs raw Markdown's HTML: the answer is never offered as text/markdown
    assert data["text/plain"] == "**Hello** there" and "text/markdown" not in data
    assert meta["tokenhot"]["model"] == "gpt-5.2"
    plain = ChatResult("hi", model="m")._repr_mimebundle_()[0]["text/html"]
    assert "<details>" not in plain


def test_transcript_subtitles() -> None:
    segs = [Segment(0.0, 1.5, " Hello"), Segment(1.5, 3661.25, "world ")]
    res = TranscriptResult("Hello world", segments=segs, model="whisper-1")
    assert res.srt == "1\n00:00:00,000 --> 00:00:01,500\nHello\n\n2\n00:00:01,500 --> 01:01:01,250\nworld\n"
    assert res.vtt is not None and res.vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello")
    assert TranscriptResult("x").srt is None
    body = "1\n00:00:00,000 --> 00:00:01,000\nHi\n"
    assert TranscriptResult("Hi", format="srt", body=body).srt == body
    html = res._repr_mimebundle_()[0]["text/html"]
    assert "2 segments" in html and str(res) == "Hello world"


# ---------------------------------------------------------------- batches, comparisons, tasks, keys


def test_batch_and_compare_render_errors_escaped(tmp_path: Path) -> None:
    ok = ChatResult("fine", model="m")
    err = E.BadRequestError("bad <input>", status=400)
    batch = BatchResult([ok, err], ["q1", "q2 " * 40], kind="chat", model="m")
    html = batch._repr_mimebundle_()[0]["text/html"]
    assert "bad &lt;input&gt;" in html and "1 ok, 1 failed" in html and "…" in html
    assert batch.errors == [err] and batch.ok == [ok] and batch.entry_ids == [None, None]
    with pytest.raises(E.TokenhotError, match="no session to rerun its 1 failed input"):
        batch.retry()
    cmp = CompareResult("p", {"a": ok, "b": err}, of="chat")
    data, meta = cmp._repr_mimebundle_()
    assert "fine" in data["text/html"] and meta["tokenhot"]["models"] == ["a", "b"]
    assert cmp["a"] is ok and cmp[1] is err and cmp.failed == {"b": err} and len(cmp) == 2


def test_video_task_repr(s: Session) -> None:
    task = VideoTask(s, "task_abc", model="seedance")
    assert "created" in repr(task)
    task.last = TaskStatus("task_abc", "running", progress=40)
    data, meta = task._repr_mimebundle_()
    assert "running · 40%" in data["text/html"] and meta["tokenhot"]["task_id"] == "task_abc"


def test_a_resumed_task_shows_where_it_really_ended(s: Session, rec: Recorder, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``s.resume(id)`` of a finished video said "created. task.wait() to finish…" though ``.done`` was True."""
    from tokenhot_nb.sim import Faults

    monkeypatch.chdir(tmp_path)
    video = s.video("waves", progress=False)
    task = s.resume(video.entry_id)
    assert task.done
    assert repr(task) == (f"<VideoTask {task.task_id} ({task.model}): done. task.result() is the video, "
                          f"history #{video.entry_id}>")
    data, meta = task._repr_mimebundle_()
    assert "<b>done</b>" in data["text/html"] and "<video" in data["text/html"] and ".wait()" not in data["text/html"]
    assert "created" not in data["text/html"] and meta["text/html"] == {"isolated": False}
    assert s.resume(video.task_id)._repr_mimebundle_()[0]["text/html"] == data["text/html"]  # by task id the same
    rec.set_faults(Faults(video_failure=True))
    with pytest.raises(E.TaskFailedError) as failure:
        s.video("something forbidden", progress=False)
    failed = s.resume(s.history[-1].id)
    assert f": ended with an error: {failure.value.message.rstrip('.')}. nothing more will come of it>" in repr(failed)
    assert "<b>ended with an error: Video task " in failed._repr_mimebundle_()[0]["text/html"]
    failed.last = TaskStatus(failed.task_id, "failed", error="too dark")  # what a poll says wins over the row
    assert repr(failed).endswith(": failed: too dark. nothing more will come of it>")
    rec.set_faults(Faults())
    pending = s.resume(s.video("later", wait=False).entry_id)
    assert "pending (as last recorded). task.wait() to finish" in repr(pending)
    unseen = s.resume("task_nobody_recorded_123")  # a new row for an id never seen: no recorded state to claim
    assert ": created. task.wait() to finish" in repr(unseen) and "as last recorded" not in repr(unseen)


def test_reprs_are_key_free(tmp_path: Path) -> None:
    s = Session(api_key=SECRET, mode="offline", store=tmp_path / "st", transport=Recorder(), poll_interval=0.001)
    results = [s.chat(f"my key is {SECRET}", model="gpt-5.2"), s.image(f"poster saying {SECRET}", model="gpt-image-2"),
               s.speak("hi"), s.transcribe(s.speak("hello"))]
    for r in results:
        data, meta = r._repr_mimebundle_()
        blob = json.dumps(data) + json.dumps(meta, default=str) + repr(r)
        assert SECRET not in blob
    assert SECRET not in json.dumps([e.to_dict() for e in s.history])
    s.close()


def test_long_audio_in_a_hidden_store_is_published_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOKENHOT_MEDIA_DIR", raising=False)
    art = tmp_path / ".tokenhot" / "artifacts" / "cd"
    art.mkdir(parents=True)
    raw = make_wav(tmp_path / "long.wav", 120, rate=16000)
    sha = hashlib.sha256(raw.read_bytes()).hexdigest()
    wav = raw.rename(art / f"{sha}.wav")
    html = AudioResult(wav, sha256=sha, model="tts")._repr_mimebundle_()[0]["text/html"]
    assert f'src="tokenhot-media/{sha}.wav"' in html and ".tokenhot" not in html
    assert (tmp_path / "tokenhot-media" / f"{sha}.wav").exists()


def test_video_player_fits_and_names_its_file_for_static_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #12: portrait clips are sized by height (max 70vh); a static export keeps the poster and a note
    naming the file."""
    from PIL import Image

    from tokenhot_nb.results import VideoResult

    monkeypatch.chdir(tmp_path)
    mp4 = tmp_path / "clip.mp4"
    mp4.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    tall, wide = tmp_path / "tall.jpg", tmp_path / "wide.jpg"
    Image.new("RGB", (90, 160)).save(tall)
    Image.new("RGB", (160, 90)).save(wide)
    portrait = VideoResult(mp4, poster=tall, model="m").html()
    assert 'height="480"' in portrait and 'width="480"' not in portrait and "max-height:70vh" in portrait
    assert 'poster="data:image/jpeg;base64,' in portrait
    assert "tokenhot-video-note" in portrait and "clip.mp4" in portrait
    assert " on" not in portrait.split("<video", 1)[1].split(">", 1)[0]  # no event handlers: outputs stay inert
    assert 'width="480"' in VideoResult(mp4, poster=wide, model="m").html()


def test_output_metadata_is_key_free_too() -> None:
    """The metadata of an output is saved with the notebook like its data: a task id or a model id the relay
    chose (an echo of the key) is masked there as in the HTML."""
    task = VideoTask(None, f"task-{SECRET}", model=f"relay-model-{SECRET}")  # type: ignore[arg-type]
    compare = CompareResult("p", {f"m-{SECRET}": ChatResult("a", model=f"m-{SECRET}")}, of="chat")
    batch = BatchResult([ChatResult("a")], ["p"], kind="chat", model=f"m-{SECRET}")
    for r in (task, compare, batch, ChatResult("a", model=f"m-{SECRET}")):
        data, meta = r._repr_mimebundle_()
        assert SECRET not in json.dumps(data) and SECRET not in json.dumps(meta, default=str), meta
        assert "sk-****" in json.dumps(meta)


@pytest.mark.parametrize("lead", [60, 70, 85, 95])
def test_texts_cut_for_display_are_redacted_before_the_cut(tmp_path: Path, lead: int) -> None:
    """A prompt or input is shown cut short (alt text, an embeddings row, a batch label); cut first, a key that
    straddles the cut loses its end and its first part survives the redaction of the output."""
    import struct

    from tokenhot_nb._config import Secret
    from tokenhot_nb.results import EmbeddingResult

    key = "tkn_PLAINKEY_cuts_no_prefix_98765abcdef"
    Secret(key)  # a key this process was given, that a user pasted into a prompt
    text = "a" * lead + " " + key + " and more"
    image = ImageResult([ImageItem(make_png(tmp_path / "i.png", (8, 8)), "image/png", "a" * 64)], prompt=text)
    vectors = EmbeddingResult(struct.pack("<2f", 0.5, 0.25), count=1, dimensions=2, texts=[text])
    batch = BatchResult([ChatResult("ok")], [text], kind="chat")
    for r in (image, vectors, batch):
        shown = json.dumps(r._repr_mimebundle_()[0]) + repr(r)
        assert key[:8] not in shown, shown


# ---------------------------------------------------------------- what a call cost


def test_every_result_says_what_its_call_cost(s: Session) -> None:
    """``img.cost`` and ``chat.cost`` raised AttributeError: only embeddings had ``.cost`` (others: ``.entry.cost``)."""
    img = s.image("a red kite", model="gpt-image-2")
    chat = s.chat("hi", model="gpt-5.2", stream=False)
    task = s.video("waves", wait=False)
    results = [img, chat, s.speak("hello"), s.embed(["a", "b"]), task]
    for r in results:
        assert r.cost == r.entry.cost, type(r).__name__
    assert img.cost.known and img.cost.usd == pytest.approx(img.entry.usage["cost"]["usd"]) and img.cost.simulated
    assert chat.cost.known and chat.cost.source == "per-token"
    assert not task.cost.known  # a task's cost arrives with its quota, at the end
    done = task.wait(progress=False)
    assert task.cost.known and done.cost == s.history.get(done.entry_id).cost
    # a result nobody recorded (built by hand, or rebuilt without its row): unknown, never an AttributeError
    loose = ChatResult("fine", model="m")
    assert not loose.cost.known and str(loose.cost) == "cost unknown"
    # a batch or a comparison: what its successful calls cost together
    batch = s.image(["a cat", "a dog"], model="gpt-image-2")
    assert isinstance(batch, BatchResult)
    assert batch.cost.usd == pytest.approx(sum(r.cost.usd for r in batch.ok))
    cmp = CompareResult("p", {"a": chat, "b": E.BadRequestError("bad", status=400)}, of="chat")
    assert cmp.cost.usd == pytest.approx(chat.cost.usd)
    assert not CompareResult("p", {"a": chat, "b": loose}, of="chat").cost.known  # a part unknown: unknown


def test_a_failed_tasks_long_reason_stays_on_one_short_line_in_its_repr() -> None:
    """The vendor's reason went into the handle's one-line repr whole: many lines, thousands of characters."""
    task = VideoTask(None, "task_abc", model="seedance")  # type: ignore[arg-type]
    task.last = TaskStatus("task_abc", "failed", 0, error="line one\nline two " + "x" * 2000)
    text = repr(task)
    assert "\n" not in text and len(text) < 400 and "failed: line one line two" in text
    assert "task.last.error" in text and "line one" in task._bundle()["text/html"]


def test_a_task_of_the_shared_session_says_to_resume_it_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``%%th_video --no-wait -o t`` then ``t``: the task said ``session.resume('…')``, a name a magic user does not
    have; a task of the notebook's own session keeps the Python form."""
    from html import escape

    import tokenhot_nb

    monkeypatch.setenv("TOKENHOT_MODE", "offline")
    monkeypatch.setenv("TOKENHOT_STORE", str(tmp_path / "shared"))
    monkeypatch.delenv("TOKENHOT_API_KEY", raising=False)
    shared = tokenhot_nb.session(reset=True, poll_interval=0.001)
    own = Session(mode="offline", store=tmp_path / "own", poll_interval=0.001)
    try:
        for s, said in ((shared, "tokenhot_nb.session().resume("), (own, " session.resume(")):
            task = s.video("waves", wait=False)
            assert f"{said}{task.task_id!r}) later" in repr(task), repr(task)
            assert f"{said.strip()}{escape(repr(task.task_id))})" in task._repr_mimebundle_()[0]["text/html"]
    finally:
        own.close()
        tokenhot_nb.session(reset=True).close()
