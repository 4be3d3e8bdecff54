"""Input coercion: paths, bytes, PIL images, URLs, earlier results and recorded refs → bytes + mime (or a URL)."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path

import httpx
import pytest
from _session_support import Recorder, make_session
from PIL import Image

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb._inputs import Media, sniff_mime, to_media, to_media_list


def png_bytes(size: tuple[int, int] = (32, 24), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def wav_bytes(seconds: float = 0.5, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * int(seconds * rate))
    return buf.getvalue()


@pytest.mark.parametrize(("head", "mime"), [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "image/png"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 12, "image/jpeg"),
    (b"GIF89a" + b"\0" * 10, "image/gif"),
    (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
    (b"RIFF\0\0\0\0WAVEfmt ", "audio/wav"),
    (b"ID3\x04" + b"\0" * 12, "audio/mpeg"),
    (b"\xff\xfb\x90\x00" + b"\0" * 12, "audio/mpeg"),
    (b"OggS" + b"\0" * 12, "audio/ogg"),
    (b"fLaC" + b"\0" * 12, "audio/flac"),
    (b"\0\0\0\x18ftypmp42" + b"\0" * 4, "video/mp4"),
    (b"\0\0\0\x18ftypM4A " + b"\0" * 4, "audio/mp4"),
    (b"hello world, plain", "application/octet-stream"),
])
def test_sniff_mime(head: bytes, mime: str) -> None:
    assert sniff_mime(head) == mime


def test_each_input_type(tmp_path: Path) -> None:
    data = png_bytes()
    path = tmp_path / "in.png"
    path.write_bytes(data)
    for value in (str(path), path, data, bytearray(data), memoryview(data)):
        m = to_media(value, "image")
        assert m.data == data and m.mime == "image/png"
    pil = to_media(Image.new("RGBA", (8, 8)), "image")
    assert pil.mime == "image/png" and Image.open(io.BytesIO(pil.data or b"")).size == (8, 8)
    cmyk = to_media(Image.new("CMYK", (4, 4)), "image")
    assert Image.open(io.BytesIO(cmyk.data or b"")).mode == "RGB"
    import base64

    du = to_media("data:image/png;base64," + base64.b64encode(data).decode(), "image")
    assert du.data == data and du.mime == "image/png"
    url = to_media("https://example.com/pics/cat.jpg?sig=abc", "image")
    assert url.data is None and url.url and url.mime == "image/jpeg" and url.ref() == {"url": url.url}
    assert url.wire() == url.url
    wav = to_media(wav_bytes(), "audio")
    assert wav.mime == "audio/wav" and wav.filename == "input.wav"


def test_bad_inputs_say_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(E.InputError, match="No image file") as info:
        to_media(tmp_path / "missing.png", "image")
    assert "PIL image" in str(info.value)
    with pytest.raises(E.InputError, match="Cannot use an int"):
        to_media(42, "audio")
    with pytest.raises(E.InputError, match="empty"):
        to_media(b"", "image")
    with pytest.raises(E.InputError, match="artifact"):
        to_media({"nope": 1}, "image")
    with pytest.raises(E.InputError, match="needs a session store"):
        to_media({"artifact": "0" * 64}, "image")
    with pytest.raises(E.InputError, match="not been downloaded"):
        Media(None, "image/png", url="https://x/y.png").pair()


def test_results_refs_and_artifacts_as_inputs(s: Session) -> None:
    res = s.image("four tiles", model="gpt-image-2", n=4)
    assert len(to_media_list(res, "image")) == 4
    with pytest.raises(E.InputError, match="pick one"):
        to_media(res, "image")
    one = to_media(res[2], "image")
    assert one.sha256 == res.items[2].sha256 and one.data == res.data(2)
    ref = {"artifact": res.sha256, "mime": res.mime}
    again = to_media(ref, "image", s.store)
    assert again.data == res.data(0) and again.ref() == ref
    art = s.store.artifact(res.sha256)
    assert to_media(art, "image").sha256 == res.sha256
    with pytest.raises(E.InputError, match="not in the store"):
        to_media({"artifact": "f" * 64}, "image", s.store)
    # history's to_code form: s.history.artifact(sha) is a path in the store
    assert to_media(s.history.artifact(res.sha256), "image").data == res.data(0)
    nested = to_media_list([res[0], [res[1], ref]], "image", s.store)
    assert [m.sha256 for m in nested] == [res.items[0].sha256, res.items[1].sha256, res.sha256]


def sim_image_url(s: Session) -> str:
    """A file URL the simulator serves (like a vendor CDN link)."""
    from tokenhot_nb import model
    from tokenhot_nb.client import run_sync
    from tokenhot_nb.families import images

    resp = run_sync(s.client.send(images.build_generate(model("dall-e-2"), "x", response_format="url")))
    url = images.parse(model("dall-e-2"), resp.json()).images[0].url
    assert url and url.startswith("http")
    return url


@pytest.mark.parametrize("kind", ["path", "bytes", "pil", "url", "result", "index", "ref", "list"])
def test_edit_accepts_every_input(s: Session, rec: Recorder, tmp_path: Path, kind: str) -> None:
    data = png_bytes((40, 40))
    path = tmp_path / "x.png"
    path.write_bytes(data)
    base = s.image("two", model="gpt-image-2", n=2)
    value = {
        "path": path, "bytes": data, "pil": Image.open(io.BytesIO(data)), "url": sim_image_url(s),
        "result": base[0], "index": base[1], "ref": {"artifact": base.sha256, "mime": base.mime},
        "list": [path, base[1]],
    }[kind]
    res = s.edit(value, "make it pop", model="gpt-image-2")
    params_images = res.entry.params["images"]
    assert len(params_images) == (2 if kind == "list" else 1)
    if kind == "url":
        assert params_images == [{"url": value}]
    else:
        assert all(s.store.has(r["artifact"]) for r in params_images)
    assert b'name="image' in rec.posts("/images/edits")[-1]["body"]


def test_url_passes_through_where_the_family_takes_urls(s: Session, rec: Recorder) -> None:
    url = "https://cdn.example.com/ref.png"
    s.edit(url, "restyle", model="doubao-seedream-4-5-251128")
    assert url in str(rec.json(-1, "/images/generations"))


@pytest.mark.parametrize("url,why", [("http://", "it names no host"), ("https:///cat.png", "it names no host"),
                                     ("https://exa mple.com/a.png", "it holds a space"),
                                     ("https://example.com/a.png\n", "it holds '\\n'"),
                                     ("http://[::1/a.png", "it names no host")])
def test_a_url_that_cannot_be_fetched_is_refused_before_the_call(s: Session, rec: Recorder, url: str,
                                                                  why: str) -> None:
    """It went to the model as it was (a paid call the model could only fail); "" was "'.' is a folder"."""
    with pytest.raises(E.InputError, match=re.escape(f"cannot be fetched: {why}")) as info:
        s.edit(url, "restyle", model="doubao-seedream-4-5-251128")
    assert "https://example.com/cat.png" in info.value.hint and rec.posts() == []
    with pytest.raises(E.InputError, match="The audio input is an empty string"):
        to_media("", "audio")
    assert to_media("https://example.com/a.png?x=1&y=%20", "image").url  # a good one still passes


@pytest.mark.parametrize("url", [
    "https://relay.test/v1beta/files/abc:download?alt=media&key={key} ",  # a pasted line: a trailing space
    "ftp://relay.test/v1beta/files/abc/download/x.png?alt=media&key={key}",  # no http(s)
])
def test_a_refused_url_holding_the_key_shows_none_of_it(tmp_path: Path, url: str) -> None:
    """The message quotes the URL cut to 80 characters; cut before redaction, a key (Gemini's ``?key=``) across
    the cut lost its end, was no longer recognised and showed its first part."""
    import traceback

    key = "tkn_PLAINKEY_inputs_no_prefix_98765abcdef"
    sess = make_session(tmp_path / "st", Recorder(), api_key=key)
    with pytest.raises(E.InputError) as info:
        sess.edit(url.format(key=key), "restyle", model="doubao-seedream-4-5-251128")
    sess.close()
    shown = str(info.value) + "".join(traceback.format_exception(info.value))
    assert "key=sk-****" in shown and key[:12] not in shown


class CdnRecorder(Recorder):
    """The simulator plus a fake CDN host serving one WAV file (a remote audio input)."""

    def __init__(self, wav: bytes) -> None:
        super().__init__()
        self.wav = wav

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.example.com":
            self.requests.append({"method": request.method, "path": request.url.path, "headers": {}, "body": b""})
            return httpx.Response(200, content=self.wav, headers={"content-type": "audio/wav"})
        return await super().handle_async_request(request)


@pytest.mark.parametrize("kind", ["path", "bytes", "result", "url"])
def test_transcribe_accepts_every_input(tmp_path: Path, kind: str) -> None:
    wav = wav_bytes(1.0)
    rec = CdnRecorder(wav)
    s = make_session(tmp_path / "st", rec)
    path = tmp_path / "a.wav"
    path.write_bytes(wav)
    spoken = s.speak("testing one two")
    value = {"path": path, "bytes": wav, "result": spoken, "url": "https://cdn.example.com/talk.wav"}[kind]
    tr = s.transcribe(value)
    assert tr.text
    ref = tr.entry.params["audio"]
    if kind == "url":
        assert ref == {"url": value} and any(r["path"] == "/talk.wav" for r in rec.requests)
        assert b"RIFF" in rec.posts("/audio/transcriptions")[-1]["body"]
    else:
        assert s.store.has(ref["artifact"])
    s.close()


def test_an_input_url_that_fails_to_download_shows_none_of_a_key_in_it(tmp_path: Path) -> None:
    """The message quotes the URL cut to 120 characters; cut before redaction, a key in its query across the cut
    (Gemini's ``?key=``) was no longer recognised and showed its first part."""
    key = "tkn_PLAINKEY_fetch_no_prefix_98765abcdef"
    url = "https://relay.test/v1beta/files/" + "p" * 45 + ":download?alt=media&key=" + key
    sess = make_session(tmp_path / "st", Recorder(), api_key=key)
    with pytest.raises(E.InputError, match="Could not download the input") as info:
        sess.transcribe(url)
    sess.close()
    assert "key=sk-****" in str(info.value) and key[:5] not in str(info.value)
