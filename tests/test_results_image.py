"""Showing stored images that cannot be decoded: a short escaped line in the output, never a traceback.

A store written by an older version, an inline (base64) image a relay filled with SVG or junk, or a file that
broke on disk all reach the renderers; each test fails if IPython's display would raise or print a traceback.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from _hostile import Hostile, response
from IPython.core.formatters import DisplayFormatter
from PIL import Image

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb.results import AudioResult, ImageItem, ImageResult, VideoResult
from tokenhot_nb.results._base import UnreadableImageError, thumbnail

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><script>alert(1)</script></svg>'


def png_bytes(size: tuple[int, int] = (64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(buf, "PNG")  # noise: does not compress to a few bytes
    return buf.getvalue()


def stored(tmp_path: Path, name: str, data: bytes) -> ImageItem:
    path = tmp_path / name
    path.write_bytes(data)
    return ImageItem(path, "image/png", "0" * 64)


BAD = {
    "svg": SVG,
    "garbage": bytes(range(256)) * 4,
    "html": b"<html><body>Login required</body></html>",
    # a real PNG header, the pixels cut off (wider than shown, so it is decoded to be scaled; a small one is
    # passed to the browser as it is and shows as a broken image)
    "truncated-body": png_bytes((1000, 20))[:300],
    "header-only": png_bytes()[:24],
}


def display(obj: Any, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """What IPython's display machinery makes of ``obj`` (its formatters print a traceback when one raises)."""
    data, _meta = DisplayFormatter().format(obj)
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    return data


@pytest.mark.parametrize("kind", list(BAD))
def test_an_undecodable_image_renders_a_placeholder_line(kind: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    res = ImageResult([stored(tmp_path, f"{kind}.png", BAD[kind])], model="gpt-image-1.5", prompt="a cat")
    data = display(res, capsys)
    html = data["text/html"]
    assert f"The image {kind}.png cannot be shown: " in html and "The file is kept." in html
    assert "<img" not in html and "<svg" not in html and "<script" not in html and "Login required" not in html
    assert data["text/plain"].startswith("<ImageResult 1 image from gpt-image-1.5")


def test_the_reason_says_unknown_format_or_broken(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImageError, match=r"^The image svg.png cannot be shown: it is not in an image "
                                                   r"format Pillow reads\. The file is kept\."):
        thumbnail(stored(tmp_path, "svg.png", SVG).path, 256)
    with pytest.raises(UnreadableImageError, match=r"cannot be shown: it is broken \((OSError|SyntaxError|"
                                                   r"ValueError): [^\n]+\)\. The file is kept\."):
        thumbnail(stored(tmp_path, "cut.png", BAD["truncated-body"]).path, 32)


def test_good_images_beside_a_bad_one_still_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [stored(tmp_path, "a.png", png_bytes()), stored(tmp_path, "b.png", SVG),
             stored(tmp_path, "c.png", png_bytes((8, 8)))]
    html = display(ImageResult(items, model="m", prompt="three"), capsys)["text/html"]
    assert html.count('<img src="data:image/png;base64,') == 2
    assert html.count("cannot be shown") == 1 and "b.png" in html


def test_a_file_name_with_markup_is_escaped_in_the_placeholder(tmp_path: Path) -> None:
    res = ImageResult([stored(tmp_path, "x<img src=x onerror=alert(1)>.png", SVG)], model="m")
    html = res._repr_mimebundle_()[0]["text/html"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html


def test_pil_of_an_undecodable_image_is_a_one_line_error(tmp_path: Path) -> None:
    res = ImageResult([stored(tmp_path, "junk.png", BAD["garbage"])], model="m")
    with pytest.raises(UnreadableImageError) as info:
        res.pil()
    err = info.value
    assert isinstance(err, E.TokenhotError) and isinstance(err, OSError)  # callers catching OSError still do
    assert err.__cause__ is None and err.__suppress_context__
    block = err._render_traceback_()
    assert block[0].endswith("The image junk.png cannot be shown: it is not in an image format Pillow reads. "
                             "The file is kept.")
    assert len(block) <= 4 and "PIL" not in "".join(block)


def test_pil_of_a_pixel_bomb_is_a_one_line_error_that_says_how_to_open_it_anyway(tmp_path: Path) -> None:
    """A 60000×60000 header in a small file: ``pil()`` let Pillow's DecompressionBombError out, a traceback
    through Pillow's internals; it is one line now, naming the file and the setting to raise."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 180001)) + chunk(b"IEND", b""))
    res = ImageResult([stored(tmp_path, "bomb.png", bomb)], model="m")
    with pytest.raises(UnreadableImageError) as info:
        res.pil()
    block = info.value._render_traceback_()
    assert "bomb.png has more pixels than Pillow decodes" in block[0] and "The file is kept" in block[0]
    assert "PIL.Image.MAX_IMAGE_PIXELS" in "".join(block) and len(block) <= 4
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_missing_file_renders_an_error_line_not_a_traceback(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    res = ImageResult([ImageItem(tmp_path / "gone.png", "image/png", "0" * 64)], model="m")
    html = display(res, capsys)["text/html"]
    assert "FileNotFoundError" in html and "gone.png" in html and "<img" not in html


def test_a_video_with_an_undecodable_poster_still_shows_its_player(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    poster = tmp_path / "poster.jpg"
    poster.write_bytes(SVG)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    html = display(VideoResult(video, poster=poster, model="m"), capsys)["text/html"]
    assert "<video" in html and "<svg" not in html and "data:image" not in html


def test_audio_stored_with_a_page_type_is_not_played(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "a.html"
    page.write_bytes(b"<html><script>alert(1)</script></html>")
    html = display(AudioResult(page, mime="text/html", model="m"), capsys)["text/html"]
    assert "This output is not audio (text/html); it is not played." in html
    assert "data:text/html" not in html and "<audio" not in html and "<script" not in html


HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script>Please sign in</body></html>"
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash-image:generateContent"


def _openai_item(item: dict[str, str]) -> bytes:
    return response(200, json.dumps({"created": 1, "data": [item]}).encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("ext", ["jpg", "webp", "gif", "bmp"])
def test_a_16_bit_png_saved_in_an_8_bit_format_keeps_its_picture(ext: str, tmp_path: Path) -> None:
    """``save("x.jpg")`` of a 16-bit PNG clipped every grey above 255: the file saved was nearly all white."""
    src = tmp_path / "grey.png"
    src.write_bytes(_grey16_png(256))
    (saved,) = ImageResult([ImageItem(src, "image/png", "0" * 64)], model="m").save(tmp_path / f"out.{ext}")
    lo, hi = _spread(saved.read_bytes())
    assert lo < 30 and hi > 220


@pytest.mark.parametrize(("name", "data", "why"), [
    ("garbage", b"\x00\x01" * 500, "PyAV cannot read it (InvalidDataError"),
    ("id3-then-junk", b"ID3\x04\x00" + b"\x00" * 40, "PyAV cannot read it"),
])
def test_wav_of_audio_pyav_cannot_read_is_one_line_and_the_file_is_kept(
        name: str, data: bytes, why: str, tmp_path: Path) -> None:
    """A speech answer stored as audio (its header said MP3, or a download of unknown binary) that PyAV cannot
    decode: ``.wav`` raised PyAV's own error with its traceback; it is one line now."""
    path = tmp_path / f"{name}.mp3"
    path.write_bytes(data)
    with pytest.raises(E.TokenhotError) as info:
        _ = AudioResult(path, mime="audio/mpeg", model="m").wav
    assert type(info.value).__name__ == "UnreadableAudioError"
    block = info.value._render_traceback_()
    assert f"The audio {name}.mp3 (audio/mpeg) cannot be converted to WAV: {why}" in block[0]
    assert "The file is kept" in block[0] and len(block) <= 4 and isinstance(info.value, OSError)
    assert path.read_bytes() == data


def test_wav_of_a_file_without_an_audio_stream_is_one_line_not_stop_iteration(tmp_path: Path) -> None:
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), dtype="uint8"), format="rgb24")))
        out.mux(stream.encode(None))
    path = tmp_path / "speech.m4a"
    path.write_bytes(buf.getvalue())
    with pytest.raises(E.TokenhotError, match=r"speech\.m4a \(audio/mp4\) cannot be converted to WAV: "
                                                   r"it holds no audio stream"):
        _ = AudioResult(path, mime="audio/mp4", model="m").wav


@pytest.mark.parametrize(("answer", "model", "what"), [
    (_openai_item({"b64_json": _b64(SVG)}), "gpt-image-1.5", "an SVG drawing"),
    (_openai_item({"b64_json": _b64(BAD["garbage"])}), "gpt-image-1.5", "bytes in no format it can read"),
    (_openai_item({"url": "data:text/html;base64," + _b64(HTML)}), "gpt-image-1.5", "an HTML page"),
    (_openai_item({"url": "data:text/plain,upstream%20busy"}), "gpt-image-1.5", "text/plain"),
    (response(200, json.dumps({"candidates": [{"content": {"parts": [{"inlineData": {
        "mimeType": "image/png", "data": _b64(HTML)}}]}}]}).encode()), "gemini-2.5-flash-image", "an HTML page"),
], ids=["b64-svg", "b64-garbage", "data-url-html", "data-url-text", "gemini-inline-html"])
def test_inline_bytes_that_are_not_an_image_make_an_error_row_and_are_kept_as_bin(
        answer: bytes, model: str, what: str, tmp_path: Path) -> None:
    """End to end over loopback: the same rule as a downloaded image. The call (paid) is an error row with one
    line saying what arrived; the bytes are kept under a neutral type (never .html/.svg), nothing is an image."""
    with Hostile({"/v1/images/generations": lambda *a: answer, GEMINI_PATH: lambda *a: answer}) as relay:
        s = Session(api_key="sk-results-image-KEY-0123456789", base_url=relay.url, mode="live",
                    store=tmp_path / "store")
        with pytest.raises(E.APIError, match=f"^{model} answered with {what}.*, not an image") as info:
            s.image("a cat", model=model)
    block = info.value._render_traceback_()
    assert len(block) <= 4 and "Traceback" not in "".join(block)
    entry = s.history[-1]
    assert entry.status == "error" and entry.error["error"] == "APIError" and "not an image" in entry.error["message"]
    assert [o["role"] for o in entry.outputs] == ["raw"] and entry.outputs[0]["mime"] == "application/octet-stream"
    (ref,) = entry.response["images"]
    assert ref["inline"] is True and ref["raw"] == entry.outputs[0]["sha256"] and "sha256" not in ref
    kept = s.store.read_artifact(entry.outputs[0]["sha256"])
    assert kept in (SVG, BAD["garbage"], HTML, b"upstream busy")  # the paid bytes, as they came
    files = [p for p in (tmp_path / "store" / "artifacts").rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix.lower() in (".html", ".htm", ".svg", ".png", ".txt")]
    assert entry.usage["cost"]  # what the call cost is kept too
    with pytest.raises(E.DownloadError, match="Nothing is left to fetch"):  # nothing to download again
        s.resume(entry.id)


def test_an_answer_with_several_images_keeps_the_good_ones(tmp_path: Path) -> None:
    good = png_bytes()
    answer = response(200, json.dumps({"created": 1, "data": [
        {"b64_json": _b64(good)}, {"url": "data:text/html;base64," + _b64(HTML)}]}).encode())
    with Hostile({"/v1/images/generations": lambda *a: answer}) as relay:
        s = Session(api_key="sk-results-image-KEY-0123456789", base_url=relay.url, mode="live",
                    store=tmp_path / "store")
        with pytest.raises(E.APIError, match=r"^1 of 2 images arrived \(image 2: an HTML page, not an "
                                             r"image\)\. The call is paid for") as info:
            s.image("two cats", model="gpt-image-2", n=2, size="64x64")
    partial = info.value.partial
    assert isinstance(partial, ImageResult) and len(partial) == 1 and partial.data() == good
    entry = s.history[-1]
    assert entry.status == "error" and sorted(o["role"] for o in entry.outputs) == ["image", "raw"]
    raw = next(o for o in entry.outputs if o["role"] == "raw")
    assert s.store.read_artifact(raw["sha256"]) == HTML and s.store.path_of(raw["sha256"]).suffix == ".bin"


@pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")
@pytest.mark.parametrize(("how", "label"), [("download", "image/svg+xml"), ("download", "image/gif"),
                                             ("gemini", "text/html"), ("data-url", "image/svg+xml")])
def test_an_image_labelled_with_another_type_is_stored_and_saved_as_what_it_is(
        how: str, label: str, tmp_path: Path) -> None:
    """The image's own bytes say its type, not the label a relay or CDN gave it: a PNG sent as ``image/svg+xml``
    or ``text/html`` was stored as a .svg/.html file, and ``save()`` then refused it (".svg is not an image
    format Pillow can write") or wrote a PNG under a .gif name."""
    good = png_bytes()
    item = {"url": f"data:{label};base64,{_b64(good)}"} if how == "data-url" else {"url": "/cdn/cat"}
    gemini = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": label, "data": _b64(good)}}]}}]}

    def answer(*_: Any) -> bytes:
        body = gemini if how == "gemini" else {"data": [{**item, "url": relay.url + item["url"]}
                                                        if how == "download" else item]}
        return response(200, json.dumps(body).encode())

    routes = {"/v1/images/generations": answer, GEMINI_PATH: answer, "/cdn/cat": lambda *a: response(200, good, label)}
    with Hostile(routes) as relay:
        s = Session(api_key="sk-results-image-KEY-0123456789", base_url=relay.url, mode="live",
                    store=tmp_path / "store")
        res = s.image("a cat", model="gemini-2.5-flash-image" if how == "gemini" else "gpt-image-1.5")
    assert res.mime == "image/png" and res.path.suffix == ".png"
    assert s.history[-1].outputs[0]["mime"] == "image/png"
    (saved,) = res.save(tmp_path / "out/")
    assert saved.name == f"tokenhot-{res.entry_id}.png" and saved.read_bytes() == good
    s.close()


@pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")
@pytest.mark.parametrize("shape", ["gemini", "b64_json"])
def test_an_image_in_url_safe_base64_arrives_whole(shape: str, tmp_path: Path) -> None:
    """URL-safe base64 (``-`` and ``_``) was decoded with those characters dropped: a Gemini image was then lost
    ("answered without any image", blaming the prompt) and a ``b64_json`` one said "not base64", both paid for."""
    good = png_bytes()
    encoded = base64.urlsafe_b64encode(good).decode().rstrip("=")
    assert "-" in encoded or "_" in encoded
    wrapped = "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))  # (MIME line breaks, too)
    body = ({"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": wrapped}}]}}]}
            if shape == "gemini" else {"data": [{"b64_json": wrapped}]})
    answer = response(200, json.dumps(body).encode())
    with Hostile({"/v1/images/generations": lambda *a: answer, GEMINI_PATH: lambda *a: answer}) as relay:
        s = Session(api_key="sk-results-image-KEY-0123456789", base_url=relay.url, mode="live",
                    store=tmp_path / "store")
        res = s.image("a cat", model="gemini-2.5-flash-image" if shape == "gemini" else "gpt-image-1.5")
    assert res.data() == good and s.history[-1].status == "ok"
    s.close()


@pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")
@pytest.mark.parametrize(("data", "why"), [("upstream <b>error</b>: busy", "its inlineData is not base64"),
                                          ("  ", "its inlineData is empty")])
def test_a_gemini_inline_image_that_is_no_base64_is_said_as_such(data: str, why: str, tmp_path: Path) -> None:
    """Base64 is read strictly (so URL-safe base64 is not garbled): an inline part that is no base64 is said as
    the relay's fault, never dropped into "answered without any image" (which blames the prompt)."""
    body = {"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": data}}]}}]}
    answer = response(200, json.dumps(body).encode())
    with Hostile({GEMINI_PATH: lambda *a: answer}) as relay:
        s = Session(api_key="sk-results-image-KEY-0123456789", base_url=relay.url, mode="live",
                    store=tmp_path / "store")
        with pytest.raises(E.APIError) as info:
            s.image("a cat", model="gemini-2.5-flash-image")
    text = str(info.value)
    assert f"held no image to read (item 1: {why})" in text and "relay problem" in text and "\n" not in text
    assert s.history[-1].status == "error"
    s.close()


@pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")
def test_a_gemini_inline_image_given_as_a_link_is_downloaded(tmp_path: Path) -> None:
    """A relay that puts the image's link in ``inlineData.data`` (as some do for speech, reference §6.1): it is
    fetched, not read as base64 (which strict base64 refuses, and loose base64 turned into junk bytes)."""
    good = png_bytes()

    def answer(*_: Any) -> bytes:
        part = {"inlineData": {"mimeType": "image/png", "data": f" {relay.url}/cdn/cat.png?sig=1 "}}
        return response(200, json.dumps({"candidates": [{"content": {"parts": [part]}}]}).encode())

    with Hostile({GEMINI_PATH: answer, "/cdn/cat.png": lambda *a: response(200, good, "image/png")}) as relay:
        s = Session(api_key="sk-results-image-KEY-0123456789", base_url=relay.url, mode="live",
                    store=tmp_path / "store")
        res = s.image("a cat", model="gemini-2.5-flash-image")
    assert res.data() == good and s.history[-1].status == "ok"
    s.close()


@pytest.mark.parametrize("payload", [SVG, BAD["garbage"]], ids=["svg", "garbage"])
def test_a_row_an_older_version_stored_with_a_non_image_still_shows_a_placeholder(
        payload: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Older versions kept such inline bytes as an ``ok`` image: rebuilding that row never raises."""
    from tokenhot_nb.history import HistoryEntry, Store

    store = Store(tmp_path / "store")
    art = store.add_bytes(payload, "image/svg+xml" if payload == SVG else "image/png")
    entry = HistoryEntry(kind="image", model="gpt-image-1.5", params={"prompt": "a cat"},
                         outputs=[{**art.as_dict(), "role": "image"}])
    store.insert(entry)
    store.update(entry.id or 0, status="ok")
    res = store.get(entry.id or 0).bind(store).result()
    html = display(res, capsys)["text/html"]
    assert isinstance(res, ImageResult) and "cannot be shown" in html
    assert "<svg" not in html and "<script" not in html and "<img" not in html


@pytest.mark.parametrize("index", [2, -3, 10**30])
def test_a_position_past_the_images_is_one_clear_line(tmp_path: Path, index: int) -> None:
    """``res[5]``, ``res.pil(5)``, ``res.data(5)``, ``res.thumb(5)`` leaked list's bare IndexError."""
    res = ImageResult([stored(tmp_path, f"{i}.png", png_bytes()) for i in range(2)], model="m")
    for use in (lambda: res[index], lambda: res.pil(index), lambda: res.data(index), lambda: res.thumb(index)):
        with pytest.raises(E.OutOfRangeError, match=r"There is no image .*: this result has 2 \(0 to 1\)\.") as info:
            use()
        assert isinstance(info.value, IndexError)
    assert [r.sha256 for r in res] == ["0" * 64] * 2 and res[-2].path.name == "0.png"  # iteration still ends


@pytest.mark.parametrize("index", ["0", 1.0, None])
def test_a_position_that_is_no_whole_number_is_one_clear_line(tmp_path: Path, index: Any) -> None:
    res = ImageResult([stored(tmp_path, "0.png", png_bytes())], model="m")
    for use in (lambda: res[index], lambda: res.pil(index), lambda: res.thumb(index)):
        with pytest.raises(E.WrongTypeError, match="Image positions are whole numbers or slices"):
            use()


@pytest.mark.parametrize(("call", "error"), [
    (lambda r: r.thumb(index=[0]), E.WrongTypeError),  # 'unhashable type: list' from the cache's key
    (lambda r: r.thumb(0, max_px=[96]), E.WrongTypeError),
    (lambda r: r.thumb(0, max_px=0), E.InputError),
    (lambda r: r.html(max_px=[256]), E.WrongTypeError),  # the same, through every thumbnail
    (lambda r: r.alt_text(0, width=object()), E.WrongTypeError),  # a comparison TypeError
    (lambda r: r.alt_text(0, width=-5), E.InputError),
])
def test_display_arguments_of_the_wrong_kind_are_one_clear_line(tmp_path: Path, call: Any,
                                                                 error: type[Exception]) -> None:
    res = ImageResult([stored(tmp_path, "a", png_bytes()), stored(tmp_path, "b", png_bytes((32, 32)))], prompt="cats")
    with pytest.raises(error) as info:
        call(res)
    assert "\n" not in str(info.value) and "e.g. result" in (info.value.hint or "")
    assert res.thumb(-1) == res.thumb(1) and res.thumb(0, max_px=48)[2] <= 48  # good ones still work


def _grey16_png(side: int = 1024) -> bytes:
    """A valid 16-bit greyscale PNG: a gradient from black to white."""
    ramp = [round(i * 65535 / (side * side - 1)) for i in range(side * side)]
    im = Image.new("I;16", (side, side))
    im.putdata(ramp)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _spread(data: bytes) -> tuple[int, int]:
    """The darkest and lightest grey of an image that must be the black-to-white ramp of :func:`_grey16_png`
    (its mean grey mid-way: a ramp clipped at 255 is nearly all white)."""
    from PIL import ImageStat

    with Image.open(io.BytesIO(data)) as im:
        grey = im.convert("L")
        lo, hi = grey.getextrema()
        mean = ImageStat.Stat(grey).mean[0]
    assert 90 < mean < 165, f"mean grey {mean:.0f}: not the ramp"
    return lo, hi


def test_a_16_bit_png_is_shown_as_its_gradient_not_broken_or_white(tmp_path: Path) -> None:
    """A valid 16-bit PNG showed as "it is broken (ValueError: image has wrong mode)" once shrunk (Pillow cannot
    reduce I;16), the history kept no thumbnail of it, and grey above 255 turned white on conversion."""
    from tokenhot_nb.history import Store
    from tokenhot_nb.widgets._media import thumbnail as widget_thumbnail

    data = _grey16_png()
    path = tmp_path / "grey.png"
    path.write_bytes(data)
    shown, _mime, w, h = thumbnail(path, 256)
    assert (w, h) == (256, 256)
    lo, hi = _spread(shown)
    assert lo < 30 and hi > 220  # black to white, as the image is

    store = Store(tmp_path / "store")
    art = store.add_bytes(data, "image/png")
    store.wait_thumbnails()
    uri = store.thumbnail(art.sha256)
    assert uri is not None
    lo, hi = _spread(base64.b64decode(uri.split(",", 1)[1]))
    assert lo < 30 and hi > 220
    store.close()

    pushed, _fmt, _size = widget_thumbnail(data, 128)
    lo, hi = _spread(pushed)
    assert lo < 30 and hi > 220
