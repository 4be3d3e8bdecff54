"""Only real media in: an input that is not the kind expected, too big, or a pixel bomb is refused before any
request with one line naming it; a pixel bomb among results is not decoded for display."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder, make_session, short_wav
from PIL import Image

from tokenhot_nb import errors as E
from tokenhot_nb._inputs import MAX_INPUT_BYTES, to_media


def png_header(w: int, h: int) -> bytes:
    """A PNG whose header claims w×h pixels (a few hundred bytes on disk: a pixel bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def real_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("name,data,kind,words", [
    ("notes.png", b"just some text, not an image", "image", "is not an image"),
    ("page.jpg", b"<!doctype html><html><body>error</body></html>", "image", "is not an image"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image", "is not an image"),
    ("song.mp3", b"<html>403 Forbidden</html>", "audio", "is not an audio"),
    ("song.wav", real_png(), "audio", "looks like image/png"),
    ("clip.mp4", b'{"error": "json, not video"}', "video", "is not a video"),
])
def test_wrong_kind_is_refused_naming_the_file(tmp_path: Path, name: str, data: bytes, kind: Any,
                                               words: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(E.InputError, match=words) as info:
        to_media(path, kind)
    assert repr(name) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(E.InputError, match=words):
        to_media(data, kind)  # bytes too


def test_pixel_bomb_input_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header(30_000, 30_000))
    assert path.stat().st_size < 1000
    with pytest.raises(E.InputError, match=r"too many pixels.*refused before decoding"):
        to_media(path, "image")
    path.write_bytes(png_header(9000, 9000))  # under Pillow's own limit, over ours
    with pytest.raises(E.InputError, match=r"9000×9000 pixels"):
        to_media(path, "image")


def test_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MAX_INPUT_BYTES, "image", 1000)
    path = tmp_path / "big.png"
    buf = io.BytesIO()
    Image.effect_noise((64, 64), 50).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    with pytest.raises(E.InputError, match=r"'big.png' is .* MB, over the"):
        to_media(path, "image")


def test_real_media_still_accepted(tmp_path: Path) -> None:
    assert to_media(real_png(), "image").mime == "image/png"


def test_refused_before_any_request(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "store", rec)
    (tmp_path / "notes.png").write_text("not an image")
    try:
        with pytest.raises(E.InputError, match=r"notes\.png"):
            s.edit(tmp_path / "notes.png", "add a hat")
        with pytest.raises(E.InputError, match="not an audio"):
            s.transcribe(b"<html>nope</html>")
    finally:
        s.close()
    assert rec.posts() == []


def test_pixel_bomb_result_not_decoded_for_display(tmp_path: Path) -> None:
    from tokenhot_nb.results.image import ImageItem as FileRef
    from tokenhot_nb.results.image import ImageResult

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(8_000, 8_000))  # 64 MP: Pillow would decode it, we do not
    res = ImageResult([FileRef(bomb, "image/png")], model="m")
    data, _ = res._repr_mimebundle_()
    assert "too large to decode for display" in data["text/html"]
    two = ImageResult([FileRef(bomb, "image/png"), FileRef(bomb, "image/png")], model="m")
    assert "too large" in two._repr_mimebundle_()[0]["text/html"]


# ---------------------------------------------------------------- inputs people pass by mistake
def test_a_numpy_image_is_an_image() -> None:
    """Pixels in a numpy array (what OpenCV, imageio and matplotlib give) used to be refused."""
    import numpy as np

    arr = np.zeros((12, 20, 3), dtype=np.uint8)
    arr[..., 0] = 255
    media = to_media(arr, "image")
    assert media.mime == "image/png"
    with Image.open(io.BytesIO(media.data or b"")) as img:
        assert img.size == (20, 12) and img.getpixel((3, 3)) == (255, 0, 0)


@pytest.mark.parametrize("shape,dtype", [((4, 4, 3), "float64"), ((4, 4, 5), "uint8")])
def test_an_array_that_is_no_image_says_what_is_taken(shape: tuple[int, ...], dtype: str) -> None:
    import numpy as np

    with pytest.raises(E.InputError, match=r"Cannot use an array of shape .* as an image") as info:
        to_media(np.zeros(shape, dtype=dtype), "image")
    assert "uint8" in (info.value.hint or "")


def test_a_folder_is_named_as_a_folder(tmp_path: Path) -> None:
    with pytest.raises(E.InputError, match="is a folder, not an audio file"):
        to_media(tmp_path, "audio")


@pytest.mark.parametrize("url", ["ftp://host/x.png", "s3://bucket/x.png"])
def test_a_url_of_another_scheme_is_refused_as_such(url: str) -> None:
    """It used to be read as a path and shown mangled ("No image file at 'ftp:/host/x.png'")."""
    with pytest.raises(E.InputError, match=f"Cannot read the image input '{url}': only http\\(s\\) and data: URLs"):
        to_media(url, "image")


def test_file_urls_and_upper_case_schemes(tmp_path: Path) -> None:
    path = tmp_path / "a b.png"
    path.write_bytes(real_png())
    assert to_media(path.as_uri(), "image").data == path.read_bytes()
    assert to_media("HTTPS://example.com/x.png", "image").url == "HTTPS://example.com/x.png"


def test_an_audio_input_of_the_wrong_type_names_audio_results() -> None:
    with pytest.raises(E.InputError) as info:
        to_media(3.5, "audio")
    assert "AudioResult" in (info.value.hint or "") and "ImageResult" not in (info.value.hint or "")


@pytest.mark.parametrize("text,words", [
    ("x" * 5000, r"No audio file at 'x{100}…' \(File name too long\)"),  # e.g. a transcript passed as the audio
    ("a\x00b.wav", "a path cannot hold a NUL character"),
], ids=["long-text", "nul"])
def test_a_path_the_system_cannot_look_up_is_one_line(text: str, words: str) -> None:
    """It used to end in an OSError / ValueError from pathlib."""
    with pytest.raises(E.InputError, match=words):
        to_media(text, "audio")


def test_none_inside_a_list_of_inputs_is_refused(tmp_path: Path) -> None:
    """``images=[photo, None]`` (a load that failed) used to send the call with the one image, silently."""
    path = tmp_path / "a.png"
    path.write_bytes(real_png())
    from tokenhot_nb._inputs import to_media_list

    with pytest.raises(E.InputError, match="Item 1 of the image inputs is None"):
        to_media_list([path, None], "image")
    assert to_media_list(None, "image") == []  # None for "no inputs at all" stays fine
    assert len(to_media_list((path, path), "image")) == 2


def test_an_earlier_result_of_another_kind_is_refused(tmp_path: Path) -> None:
    """An AudioResult given as the image of an edit was sent as it was: a paid edit of WAV bytes."""
    s = make_session(tmp_path / "st", rec := Recorder())
    speech, picture = s.speak("hello"), s.image("a cat")
    sent = len(rec.posts())
    with pytest.raises(E.InputError, match="That is an AudioResult, not an image"):
        s.edit(speech, "make it blue")
    with pytest.raises(E.InputError, match="That is an ImageResult, not audio"):
        s.transcribe(picture)  # it said "That result holds 1 images; pick one"
    assert len(rec.posts()) == sent
    assert s.transcribe(s.video("a paper boat")).text  # a video's sound track is audio (Whisper takes MP4)
    s.close()


def test_a_stored_artifact_is_checked_like_any_input(tmp_path: Path) -> None:
    """A history artifact (or its {"artifact": sha} ref, what to_code() writes) went out unchecked: a stored WAV was
    sent as the image of a paid edit, whatever mime the ref claimed."""
    s = make_session(tmp_path / "st", rec := Recorder())
    s.speak("hello")
    wav = s.history[-1].artifacts[0]
    sent = len(rec.posts())
    for given in (wav, {"artifact": wav.sha256, "mime": "image/png"}):
        with pytest.raises(E.InputError, match=r"image input \(history artifact .*\) is not an image .*audio/wav"):
            s.edit(given, "make it blue")
    assert len(rec.posts()) == sent
    s.image("a cat")
    assert s.edit(s.history[-1].artifacts[0], "make it blue").entry.ok  # an image artifact still works
    s.close()


class _Files(Recorder):
    """The simulator, plus a host that serves what a test puts in ``files`` (path → (content type, body))."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[str, bytes]] = {}

    async def handle_async_request(self, request: Any) -> Any:
        import httpx

        if request.url.host == "files.example":
            kind, body = self.files.get(request.url.path, ("text/plain", b""))
            return httpx.Response(200 if body else 404, content=body, headers={"content-type": kind})
        return await super().handle_async_request(request)


def test_a_url_input_is_checked_once_downloaded(tmp_path: Path) -> None:
    """What a URL input served went on to the paid call unchecked (a login page as the audio to transcribe), and a
    URL that failed spoke of expiring vendor links."""
    rec = _Files()
    rec.files = {"/login.wav": ("text/html", b"<!doctype html><html><body>Sign in</body></html>"),
                 "/song.png": ("image/png", short_wav()), "/ok.wav": ("audio/wav", short_wav())}
    s = make_session(tmp_path / "st", rec)
    with pytest.raises(E.InputError, match=r"https://files\.example/login\.wav"):
        s.transcribe("https://files.example/login.wav")
    with pytest.raises(E.InputError, match="is not an image"):
        s.edit("https://files.example/song.png", "make it blue", model="gpt-image-2")
    with pytest.raises(E.InputError, match=r"Could not download the input https://files.example/gone.wav \(HTTP 404\)"):
        s.transcribe("https://files.example/gone.wav")
    assert rec.posts("/v1/") == []
    assert s.transcribe("https://files.example/ok.wav").text
    s.close()


@pytest.mark.parametrize("kind", ["audio", "video"])
def test_a_pil_image_is_no_audio_or_video(kind: str) -> None:
    """It was turned into a PNG and sent as the audio of a paid transcription."""
    with pytest.raises(E.InputError, match=f"Cannot use an Image as {kind} input"):
        to_media(Image.new("RGB", (4, 4)), kind)  # type: ignore[arg-type]


def test_an_artifact_already_stored_is_not_held_to_the_input_limits(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A result the service made (a 4K image can pass 20 MB) is edited live through its ImageResult with no size
    check; the same call rerun or replayed reads it back by its artifact reference, which was then held to the
    input limits and refused. Its kind is still checked: a stored WAV is no image."""
    rec = Recorder()
    s = make_session(tmp_path / "store", rec)
    try:
        art = s.store.add_bytes(real_png(), "image/png", "result.png")
        monkeypatch.setitem(MAX_INPUT_BYTES, "image", 10)  # the stored image is "over the limit" now
        assert to_media({"artifact": art.sha256}, "image", s.store).mime == "image/png"
        wav = s.store.add_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40, "audio/wav", "a.wav")
        with pytest.raises(E.InputError, match="not an image"):
            to_media({"artifact": wav.sha256}, "image", s.store)
    finally:
        s.close()
