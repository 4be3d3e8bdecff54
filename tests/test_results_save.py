"""Saving results out of the store: a folder keeps the stored names, a file name is taken as Pillow takes it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _session_support import make_session
from PIL import Image
from test_results import make_mp4, make_png, make_wav

from tokenhot_nb import errors as E
from tokenhot_nb.results import AudioResult, ImageItem, ImageResult, TranscriptResult, VideoResult


def _images(tmp_path: Path, n: int = 1, mode: str = "RGB") -> ImageResult:
    src = tmp_path / "store"
    src.mkdir(exist_ok=True)
    items = [ImageItem(make_png(src / f"{i}.png", (40, 30), mode), "image/png", str(i) * 64, {}) for i in range(n)]
    return ImageResult(items, model="m", prompt="cats")


def _one_line(err: E.TokenhotError) -> None:
    assert "\n" not in err.message and err.hint and "\n" not in err.hint
    assert len(err._render_traceback_()) <= 6  # the short block, no frames


def test_a_file_name_is_the_file_written(tmp_path: Path) -> None:
    res = _images(tmp_path)
    out = res.save(tmp_path / "cat.png")
    assert out == [tmp_path / "cat.png"] and out[0].is_file()
    assert out[0].read_bytes() == res.items[0].path.read_bytes()


def test_another_image_format_converts_and_transparency_goes_to_rgb_for_jpeg(tmp_path: Path) -> None:
    res = _images(tmp_path, mode="RGBA")
    (jpg,) = res.save(tmp_path / "sub" / "cat.JPG")  # a folder that does not exist yet is made
    with Image.open(jpg) as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (40, 30))
    (webp,) = res.save(tmp_path / "cat.webp")
    with Image.open(webp) as im:
        assert im.format == "WEBP" and im.mode == "RGBA"


def test_several_images_under_one_file_name_are_numbered(tmp_path: Path) -> None:
    out = _images(tmp_path, 3).save(tmp_path / "cats.png")
    assert [p.name for p in out] == ["cats-0.png", "cats-1.png", "cats-2.png"] and all(p.is_file() for p in out)


def test_a_folder_keeps_the_stored_names(tmp_path: Path) -> None:
    res = _images(tmp_path)
    assert res.save(tmp_path / "out") == [tmp_path / "out" / "tokenhot-image.png"]
    (tmp_path / "v1.2").mkdir()  # a folder that exists, whatever its name
    assert res.save(tmp_path / "v1.2") == [tmp_path / "v1.2" / "tokenhot-image.png"]
    assert res.save(f"{tmp_path / 'v2.0'}{os.sep}", stem="cat") == [tmp_path / "v2.0" / "cat.png"]  # ends with /
    assert _images(tmp_path, 2).save(tmp_path / "two", stem="c") == [tmp_path / "two" / "c-0.png",
                                                                      tmp_path / "two" / "c-1.png"]


@pytest.mark.parametrize(("name", "says"), [
    ("cat.txt", ".txt is not an image format"),
    ("cat.png\0", None),
])
def test_a_name_that_is_no_image_format_is_one_line_and_writes_nothing(tmp_path: Path, name: str,
                                                                       says: str | None) -> None:
    res = _images(tmp_path)
    with pytest.raises(E.InputError) as exc:
        res.save(tmp_path / name)
    _one_line(exc.value)
    if says:
        assert says in exc.value.message and "end the path with '/'" in exc.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_a_file_name_and_a_stem_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(E.InputError, match=r"file name .* or stem=, not both") as exc:
        _images(tmp_path).save(tmp_path / "cat.png", stem="dog")
    _one_line(exc.value)


@pytest.mark.parametrize("stem", ["../../escape", "sub/cat", ".."])
def test_a_stem_is_a_name_never_a_path(tmp_path: Path, stem: str) -> None:
    """``save('out', stem='../../escape')`` wrote ``escape.png`` two folders above ``out``: a stem is the start of
    the file names in the folder given, so one holding a path is refused, and nothing is written."""
    with pytest.raises(E.InputError, match="stem= is the start of the file names, not a path") as exc:
        _images(tmp_path).save(tmp_path / "a" / "b" / "out", stem=stem)
    _one_line(exc.value)
    assert not (tmp_path / "a").exists() and not list(tmp_path.glob("escape*"))


def test_a_place_that_cannot_be_written_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    res = _images(tmp_path)
    for where in (tmp_path / "a-file" / "cat.png", tmp_path / "a-file" / "out"):
        with pytest.raises(E.InputError, match=r"Cannot save to .*a-file") as exc:
            res.save(where)
        _one_line(exc.value)
        assert "nothing is lost" in exc.value.hint
        assert f"{str(tmp_path / 'a-file')!r} on that path is a file, not a folder" in exc.value.message  # (it
        # said "File exists", of a file the user never named)
    with pytest.raises(E.InputError, match="takes a folder or a file name, not int"):
        res.save(123)  # type: ignore[arg-type]


def test_a_video_or_sound_is_saved_in_its_own_format_only(tmp_path: Path) -> None:
    video = VideoResult(make_mp4(tmp_path / "v.mp4"), model="m")
    assert video.save(tmp_path / "clip.mp4").read_bytes() == video.path.read_bytes()
    assert video.save(tmp_path / "out") == tmp_path / "out" / "tokenhot-video.mp4"
    with pytest.raises(E.InputError, match=r"This video is \.mp4: it cannot be saved as \.mov") as exc:
        video.save(tmp_path / "clip.mov")
    assert "'clip.mp4'" in exc.value.hint
    _one_line(exc.value)
    assert not (tmp_path / "clip.mov").exists()
    audio = AudioResult(make_wav(tmp_path / "a.wav", 0.2), model="tts")
    assert audio.save(tmp_path / "speech.wav").read_bytes() == audio.path.read_bytes()


@pytest.mark.parametrize("path,stem", [("out\x00", None), ("out", "c\x00t")])
def test_a_name_holding_a_nul_is_one_line(tmp_path: Path, path: str, stem: str | None) -> None:
    """``save('out', stem='c\\x00t')`` was a bare ``ValueError: embedded null byte`` from the OS."""
    for res in (_images(tmp_path), VideoResult(make_mp4(tmp_path / "v.mp4"), model="m")):
        with pytest.raises(E.InputError, match="holding a NUL character") as exc:
            res.save(str(tmp_path / path), stem=stem)
        _one_line(exc.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("width,words", [(0, "width must be 1 or more, not 0"), (-5, "not -5"),
                                         ('480" onload="x', "width is a whole number, not str"),
                                         (None, "not NoneType")])
def test_a_video_players_width_is_a_whole_number(tmp_path: Path, width: object, words: str) -> None:
    """``html(width='…')`` went into the ``<video>`` tag as it was (a quote in it closed the attribute)."""
    video = VideoResult(make_mp4(tmp_path / "v.mp4"), model="m")
    with pytest.raises(E.InputError, match=words) as exc:
        video.html(width)  # type: ignore[arg-type]
    assert "\n" not in str(exc.value)
    assert 'width="320"' in video.html(320)


def test_alt_text_of_an_image_the_result_has_not_is_refused(tmp_path: Path) -> None:
    """``alt_text(5)`` of two images said "cats (6 of 2)"; ``alt_text(-1)`` "cats (0 of 2)"."""
    res = _images(tmp_path, 2)
    with pytest.raises(E.OutOfRangeError, match="There is no image 5"):
        res.alt_text(5)
    assert res.alt_text(-1) == "cats (2 of 2)" and res.alt_text(0) == "cats (1 of 2)"


def _transcript(fmt: str, **kw: object) -> TranscriptResult:
    from tokenhot_nb.families._types import Segment

    segs = [Segment(0.0, 1.5, "Hello there."), Segment(1.5, 3.0, "Général Kenobi.")]
    return TranscriptResult("Hello there. Général Kenobi.", segments=segs, format=fmt, model="whisper-1",
                            **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt,suffix", [("srt", ".srt"), ("vtt", ".vtt"), ("json", ".json"),
                                        ("verbose_json", ".json"), ("text", ".txt")])
def test_a_transcript_saves_to_a_folder_with_its_formats_extension(tmp_path: Path, fmt: str, suffix: str) -> None:
    """A transcript had no ``.save()``, while every stored file of a result has one."""
    res = _transcript(fmt)
    out = res.save(tmp_path / "out")
    assert out == tmp_path / "out" / f"tokenhot-transcribe{suffix}" and out.is_file()
    assert res.save(tmp_path / "out", stem="talk") == tmp_path / "out" / f"talk{suffix}"
    written = out.read_text(encoding="utf-8")
    if fmt == "srt":
        assert written == res.srt and "00:00:01,500 --> 00:00:03,000\nGénéral Kenobi." in written
    elif fmt == "vtt":
        assert written == res.vtt and written.startswith("WEBVTT")
    elif fmt == "text":
        assert written == "Hello there. Général Kenobi.\n"
    else:
        obj = json.loads(written)
        assert obj["text"] == res.text and [s["end"] for s in obj["segments"]] == [1.5, 3.0]


def test_a_transcript_saved_under_a_file_name_takes_the_form_its_suffix_names(tmp_path: Path) -> None:
    body = '{"text": "Hello there.", "language": "en", "x-relay": 1}'
    res = _transcript("verbose_json", body=body)
    assert res.save(tmp_path / "t.json").read_text(encoding="utf-8") == body  # the JSON as received
    assert res.save(tmp_path / "t.srt").read_text(encoding="utf-8") == res.srt
    assert res.save(tmp_path / "t.VTT").read_text(encoding="utf-8") == res.vtt
    assert res.save(tmp_path / "t.txt").read_text(encoding="utf-8") == res.text + "\n"
    plain = TranscriptResult("just words", format="text", body="just words\n", model="whisper-1")
    with pytest.raises(E.InputError, match=r"no timed segments: it cannot be saved as \.srt") as exc:
        plain.save(tmp_path / "p.srt")
    _one_line(exc.value)
    assert "'p.txt'" in exc.value.hint and not (tmp_path / "p.srt").exists()
    assert json.loads(plain.save(tmp_path / "p.json").read_text(encoding="utf-8")) == {"text": "just words"}
    with pytest.raises(E.InputError, match=r"saved as \.txt, \.srt, \.vtt or \.json, not \.docx") as exc:
        plain.save(tmp_path / "p.docx")
    _one_line(exc.value)
    assert not (tmp_path / "p.docx").exists()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(E.InputError, match=r"Cannot save to .*a-file") as exc:
        plain.save(tmp_path / "a-file" / "p.txt")
    _one_line(exc.value)


def test_a_transcript_from_the_relay_saves_under_its_entry_id(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st")
    try:
        tr = s.transcribe(make_wav(tmp_path / "a.wav", 0.5), format="srt", language="en")
        out = tr.save(tmp_path / "subs")
        assert out == tmp_path / "subs" / f"tokenhot-{tr.entry_id}.srt"
        assert out.read_text(encoding="utf-8") == tr.srt and "-->" in out.read_text(encoding="utf-8")
    finally:
        s.close()


def test_a_chat_answer_saves_as_markdown_text_or_json(tmp_path: Path) -> None:
    """A chat answer had no ``.save()``, while every other result has one."""
    s = make_session(tmp_path / "st")
    try:
        res = s.chat("hello there", stream=False)
        out = res.save(tmp_path / "out")
        assert out == tmp_path / "out" / f"tokenhot-{res.entry_id}.md"
        assert out.read_text(encoding="utf-8") == res.text + "\n" and res.text
        assert res.save(tmp_path / "out", stem="a").name == "a.md"
        assert res.save(tmp_path / "a.TXT").read_text(encoding="utf-8") == res.text + "\n"
        obj = json.loads(res.save(tmp_path / "a.json").read_text(encoding="utf-8"))
        assert obj["text"] == res.text and obj["model"] == res.model and obj["history_id"] == res.entry_id
        assert obj["usage"]["total_tokens"] == res.usage.total_tokens > 0 and obj["prompt"] == "hello there"
        with pytest.raises(E.InputError, match=r"saved as \.md, \.txt or \.json, not \.pdf") as exc:
            res.save(tmp_path / "a.pdf")
        _one_line(exc.value)
        assert not (tmp_path / "a.pdf").exists()
    finally:
        s.close()


def test_a_structured_chat_answer_saves_its_data_as_json(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    s = make_session(tmp_path / "st")
    try:
        res = s.chat("a city, as JSON", json=True, stream=False)
        out = res.save(tmp_path / "out")  # structured: JSON by default
        assert out.suffix == ".json" and json.loads(out.read_text(encoding="utf-8")) == res.data
        typed = s.chat("a city", schema=City, stream=False)
        assert isinstance(typed.data, City)
        saved = json.loads(typed.save(tmp_path / "city.json").read_text(encoding="utf-8"))
        assert saved == typed.data.model_dump(mode="json")
        assert typed.save(tmp_path / "city.md").read_text(encoding="utf-8") == typed.text + "\n"
    finally:
        s.close()
