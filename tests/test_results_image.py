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


@pytest.mark.parametrize("payload", [SVG, bytes(range(256)) * 4], ids=["svg", "garbage"])
def test_an_inline_image_that_is_not_one_shows_a_placeholder(payload: bytes, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """End to end over loopback: a relay answers ``b64_json`` holding SVG or junk; the call (paid) is kept,
    and showing it never raises."""
    def generate(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        return response(200, json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(payload).decode()}]}
                                        ).encode())

    with Hostile({"/v1/images/generations": generate}) as relay:
        s = Session(api_key="sk-results-image-KEY-0123456789", base_url=relay.url, mode="live",
                    store=tmp_path / "store")
        res = s.image("a cat", model="gpt-image-1.5")
    html = display(res, capsys)["text/html"]
    assert "cannot be shown" in html and "<svg" not in html and "<script" not in html
    assert s.history[-1].status == "ok"
