"""Client.download: content addressed, streamed, capped, scheme-checked, and the key stays home."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokenhot_nb import errors as E
from tokenhot_nb._config import Settings
from tokenhot_nb.client import Client, Download, RetryPolicy
from tokenhot_nb.client import _download as _dl
from tokenhot_nb.client._body import media_type
from tokenhot_nb.client._download import (
    TempWriter,
    check_scheme,
    decode_data_url,
    describe_url,
    human_size,
)

KEY = "sk-dltest-SECRET98765"
BASE = "https://api.tokenhot.test"


def make_client(handler: Callable[[httpx.Request], Any], **overrides: Any) -> Client:
    async def no_sleep(delay: float) -> None:
        return None

    settings = Settings(api_key=KEY, base_url=BASE, mode="live", **overrides)
    return Client(settings, transport=httpx.MockTransport(handler), retry=RetryPolicy(sleep=no_sleep))


def download(client: Client, url: str, dest: Path, **kw: Any) -> Download:
    async def run() -> Download:
        try:
            return await client.download(url, dest, **kw)
        finally:
            await client.aclose()

    return asyncio.run(run())


def leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def test_download_is_content_addressed(tmp_path: Path) -> None:
    payload = b"\x00\x01video bytes" * 100_000  # > several chunks
    digest = hashlib.sha256(payload).hexdigest()
    client = make_client(lambda r: httpx.Response(200, content=payload, headers={"content-type": "video/mp4; x=1"}))
    result = download(client, "https://cdn.vendor.test/v.mp4?sig=abc", tmp_path / "art", suffix=".mp4")
    assert result.sha256 == digest and result.size == len(payload)
    assert result.path == tmp_path / "art" / f"{digest}.mp4"
    assert result.path.read_bytes() == payload
    assert result.content_type == "video/mp4"
    assert leftovers(tmp_path / "art") == [f"{digest}.mp4"]


def test_streamed_body_is_written_in_chunks(tmp_path: Path) -> None:
    async def body() -> AsyncIterator[bytes]:
        for i in range(50):
            yield bytes([i]) * 10_000

    client = make_client(lambda r: httpx.Response(200, content=body()))
    result = download(client, "https://cdn.vendor.test/big", tmp_path)
    assert result.size == 500_000
    assert result.sha256 == hashlib.sha256(b"".join(bytes([i]) * 10_000 for i in range(50))).hexdigest()


def test_auth_only_for_the_api_host(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"x")

    download(make_client(handler), f"{BASE}/v1/videos/task_1/content", tmp_path)
    download(make_client(handler), "/v1/videos/task_2/content", tmp_path)  # relative → API host
    download(make_client(handler), "https://cdn.vendor.test/file.png", tmp_path)
    download(make_client(handler), "http://api.tokenhot.test/insecure", tmp_path)  # other scheme: other origin
    assert [str(r.url) for r in seen][:2] == [f"{BASE}/v1/videos/task_1/content", f"{BASE}/v1/videos/task_2/content"]
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert seen[1].headers["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in seen[2].headers
    assert "authorization" not in seen[3].headers


def test_redirect_to_cdn_drops_the_key(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.tokenhot.test":
            return httpx.Response(302, headers={"location": "https://cdn.vendor.test/signed.mp4?s=1"})
        return httpx.Response(200, content=b"movie")

    result = download(make_client(handler), "/v1/videos/task_1/content", tmp_path)
    assert result.size == 5
    assert "authorization" in seen[0].headers and "authorization" not in seen[1].headers


def test_cap_from_content_length_and_while_streaming(tmp_path: Path) -> None:
    client = make_client(lambda r: httpx.Response(200, content=b"x" * 1000))
    with pytest.raises(E.DownloadError, match="larger than the limit") as info:
        download(client, "https://cdn.vendor.test/a", tmp_path, max_bytes=999)
    assert "download_cap" in str(info.value)
    assert leftovers(tmp_path) == []

    async def no_length() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 100

    client = make_client(lambda r: httpx.Response(200, content=no_length()))
    with pytest.raises(E.DownloadError, match="larger than the limit"):
        download(client, "https://cdn.vendor.test/b", tmp_path, max_bytes=550)
    assert leftovers(tmp_path) == []


def test_default_cap_is_settings_download_cap(tmp_path: Path) -> None:
    client = make_client(lambda r: httpx.Response(200, content=b"z" * 100), download_cap=50)
    with pytest.raises(E.DownloadError):
        download(client, "https://cdn.vendor.test/c", tmp_path)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("status", [403, 404, 410])
def test_expired_urls(tmp_path: Path, status: int) -> None:
    client = make_client(lambda r: httpx.Response(status, text="AccessDenied: Request has expired"))
    with pytest.raises(E.DownloadError, match="no longer available") as info:
        download(client, "https://cdn.vendor.test/old.mp4?Expires=1&Signature=SECRETSIG", tmp_path)
    assert "expire" in info.value.hint and "about a day" in info.value.hint
    assert "SECRETSIG" not in str(info.value)  # query strings (signatures) are not shown
    assert leftovers(tmp_path) == []


def test_other_http_errors_and_broken_downloads(tmp_path: Path) -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(502, text="bad gateway") if calls == 1 else httpx.Response(200, content=b"ok")

    assert download(make_client(flaky), "https://cdn.vendor.test/x", tmp_path).size == 2  # retried

    async def breaks() -> AsyncIterator[bytes]:
        yield b"part"
        raise httpx.ReadError("reset")

    with pytest.raises(E.DownloadError, match="broke after"):
        download(make_client(lambda r: httpx.Response(200, content=breaks())), "https://cdn.vendor.test/y",
                 tmp_path / "d")
    assert leftovers(tmp_path / "d") == []

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(E.DownloadError, match="Could not connect"):
        download(make_client(refused), "https://cdn.vendor.test/z", tmp_path)


def test_data_urls(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\nrest"
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    client = make_client(lambda r: pytest.fail("data: URLs need no request"))
    result = download(client, url, tmp_path, suffix=".png")
    assert result.path.read_bytes() == png and result.content_type == "image/png"
    assert result.path.name == hashlib.sha256(png).hexdigest() + ".png"

    unpadded = "data:image/png;base64," + base64.b64encode(b"ab").decode().rstrip("=")
    assert download(make_client(lambda r: httpx.Response(500)), unpadded, tmp_path).size == 2

    text = download(make_client(lambda r: httpx.Response(500)), "data:,hello%20world", tmp_path)
    assert text.path.read_bytes() == b"hello world" and text.content_type == "text/plain"

    with pytest.raises(E.DownloadError, match="larger than the limit"):
        download(make_client(lambda r: httpx.Response(500)), url, tmp_path / "cap", max_bytes=3)
    assert leftovers(tmp_path / "cap") == []

    with pytest.raises(E.DownloadError, match="base64"):
        download(make_client(lambda r: httpx.Response(500)), "data:image/png;base64,!!!", tmp_path)


@pytest.mark.parametrize("url", ["ftp://example.com/f", "file:///etc/passwd", "javascript:alert(1)"])
def test_other_schemes_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(E.DownloadError, match=r"only http://, https:// and data: URLs"):
        download(make_client(lambda r: httpx.Response(200)), url, tmp_path)


def test_same_content_twice_is_one_file(tmp_path: Path) -> None:
    client = make_client(lambda r: httpx.Response(200, content=b"same"))
    a = download(client, "https://cdn.vendor.test/1", tmp_path)
    b = download(make_client(lambda r: httpx.Response(200, content=b"same")), "https://cdn.vendor.test/2", tmp_path)
    assert a.path == b.path and leftovers(tmp_path) == [a.path.name]


def test_download_sync(tmp_path: Path) -> None:
    client = make_client(lambda r: httpx.Response(200, content=b"sync"))
    try:
        assert client.download_sync("https://cdn.vendor.test/s", tmp_path).size == 4
    finally:
        client.close()


def test_invalid_url_and_redirect_loop(tmp_path: Path) -> None:
    with pytest.raises(E.DownloadError, match="not valid"):
        download(make_client(lambda r: httpx.Response(200)), "https://[::1/broken", tmp_path)

    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": str(request.url)})

    with pytest.raises(E.DownloadError, match="redirected too many times"):
        download(make_client(loop), "https://cdn.vendor.test/loop", tmp_path)


# -- the temp file, its folder and its cleanup --------------------------------------------------------------
def test_the_temp_file_lives_in_the_destination_folder(tmp_path: Path) -> None:
    """Written beside its final name, so the closing rename stays on one file system (atomic)."""
    dest = tmp_path / "store" / "art"
    seen: list[list[str]] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"first half "
        seen.append(leftovers(dest))  # mid-download: only the temp file, in dest itself
        yield b"second half"

    result = download(make_client(lambda r: httpx.Response(200, content=body())), "https://cdn.vendor.test/v", dest,
                      suffix=".mp4")
    assert len(seen) == 1 and len(seen[0]) == 1
    assert seen[0][0].startswith(".download-") and seen[0][0].endswith(".part")
    assert leftovers(dest) == [result.path.name]
    assert leftovers(tmp_path) == ["store"] and leftovers(tmp_path / "store") == ["art"]


def test_temp_writer_renames_within_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moves: list[tuple[Path, Path]] = []
    real_replace = _dl.os.replace

    def replace(src: Any, dst: Any) -> None:
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(_dl.os, "replace", replace)
    writer = TempWriter(tmp_path / "new" / "dir", "https://x.test/f", cap=100)
    assert writer.tmp.parent == tmp_path / "new" / "dir" and writer.tmp.exists()
    writer.write(b"abc")
    done = writer.finish(".bin", "application/x-test")
    assert moves == [(writer.tmp, done.path)]
    assert done.path == tmp_path / "new" / "dir" / (hashlib.sha256(b"abc").hexdigest() + ".bin")
    assert (done.size, done.content_type, done.path.read_bytes()) == (3, "application/x-test", b"abc")
    assert not writer.tmp.exists()


def test_discard_closes_and_deletes_the_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Any] = []
    real_fdopen = _dl.os.fdopen

    def fdopen(fd: int, mode: str) -> Any:
        handle = real_fdopen(fd, mode)
        opened.append(handle)
        return handle

    monkeypatch.setattr(_dl.os, "fdopen", fdopen)
    writer = TempWriter(tmp_path, "https://x.test/f", cap=100)
    writer.write(b"partial")
    assert len(opened) == 1 and not opened[0].closed
    writer.discard()
    assert opened[0].closed
    assert not writer.tmp.exists() and leftovers(tmp_path) == []
    writer.discard()  # twice is harmless

    finished = TempWriter(tmp_path, "https://x.test/g", cap=100)
    finished.write(b"kept")
    result = finished.finish("", "text/plain")
    assert opened[1].closed
    finished.discard()  # after finish: the saved file stays
    assert result.path.read_bytes() == b"kept"


# -- the cap boundary ----------------------------------------------------------------------------------------
def test_cap_boundary_in_the_writer(tmp_path: Path) -> None:
    writer = TempWriter(tmp_path, "https://x.test/f", cap=10)
    writer.write(b"12345")
    writer.write(b"67890")  # exactly the cap: fine
    assert writer.size == 10
    with pytest.raises(E.DownloadError, match="larger than the limit of 10 bytes"):
        writer.write(b"!")
    assert writer.size == 10
    writer.discard()


@pytest.mark.parametrize(("size", "ok"), [(99, True), (100, True), (101, False)])
def test_cap_boundary_with_content_length(tmp_path: Path, size: int, ok: bool) -> None:
    requests: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(1)
        return httpx.Response(200, content=b"x" * size)

    client = make_client(handler)
    if ok:
        assert download(client, "https://cdn.vendor.test/a", tmp_path, max_bytes=100).size == size
    else:
        with pytest.raises(E.DownloadError, match="larger than the limit of 100 bytes"):
            download(client, "https://cdn.vendor.test/a", tmp_path, max_bytes=100)
        assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("size", "ok"), [(100, True), (101, False)])
def test_cap_boundary_while_streaming(tmp_path: Path, size: int, ok: bool) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"y" * (size - 1)
        yield b"y"

    client = make_client(lambda r: httpx.Response(200, content=body()))
    if ok:
        assert download(client, "https://cdn.vendor.test/b", tmp_path, max_bytes=100).size == size
    else:
        with pytest.raises(E.DownloadError, match="larger than the limit"):
            download(client, "https://cdn.vendor.test/b", tmp_path, max_bytes=100)
        assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("size", "ok"), [(4, True), (5, False)])
def test_cap_boundary_for_data_urls(tmp_path: Path, size: int, ok: bool) -> None:
    url = "data:application/octet-stream;base64," + base64.b64encode(b"d" * size).decode()
    client = make_client(lambda r: pytest.fail("data: URLs need no request"))
    if ok:
        assert download(client, url, tmp_path, max_bytes=4).size == size
    else:
        with pytest.raises(E.DownloadError, match="larger than the limit of 4 bytes"):
            download(client, url, tmp_path, max_bytes=4)
        assert leftovers(tmp_path) == []


def test_a_non_numeric_content_length_is_ignored(tmp_path: Path) -> None:
    client = make_client(lambda r: httpx.Response(200, content=b"abc", headers={"content-length": "3"}))
    assert download(client, "https://cdn.vendor.test/a", tmp_path, max_bytes=3).size == 3


# -- data: URLs --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "data", "mime"),
    [
        ("data:text/plain,a,b,c", b"a,b,c", "text/plain"),
        ("data:,one,two", b"one,two", "text/plain"),
        ("data:text/csv;charset=utf-8,x,y%2Cz", b"x,y,z", "text/csv"),
        ("data:;base64," + base64.b64encode(b"no mime").decode(), b"no mime", "text/plain"),
        ("data:IMAGE/PNG;BASE64," + base64.b64encode(b"\x89PNG").decode(), b"\x89PNG", "image/png"),
        ("data:image/png;name=a.png;base64," + base64.b64encode(b"named").decode(), b"named", "image/png"),
        ("data:application/json;base64,eyJh\nIjog\r\nMX0=", b'{"a": 1}', "application/json"),
        ("data:application/json;base64,eyJhIjog%0AMX0%3D", b'{"a": 1}', "application/json"),
        ("data:text/plain;base64x,aGk=", b"aGk=", "text/plain"),  # "base64x" is not the base64 flag
        ("data:base64,aGk=", b"aGk=", "text/plain"),  # the first parameter is the media type, not the flag
    ],
)
def test_data_url_forms(url: str, data: bytes, mime: str) -> None:
    assert decode_data_url(url) == (data, mime)


def test_data_url_errors() -> None:
    with pytest.raises(E.DownloadError, match="has no comma"):
        decode_data_url("data:text/plain;base64")
    with pytest.raises(E.DownloadError, match="not hold valid base64"):
        decode_data_url("data:image/png;base64,a,b")  # a comma is not base64


def test_a_data_url_with_commas_downloads_whole(tmp_path: Path) -> None:
    client = make_client(lambda r: pytest.fail("no request"))
    result = download(client, "data:text/plain,1,2,3", tmp_path, suffix=".txt")
    assert result.path.read_bytes() == b"1,2,3" and result.content_type == "text/plain"


def test_a_large_data_url_is_written_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    real_write = TempWriter.write

    def write(self: TempWriter, chunk: bytes) -> None:
        writes.append(len(chunk))
        real_write(self, chunk)

    monkeypatch.setattr(TempWriter, "write", write)
    payload = bytes(range(256)) * 2049  # a little over two chunks
    url = "data:application/octet-stream;base64," + base64.b64encode(payload).decode()
    result = download(make_client(lambda r: pytest.fail("no request")), url, tmp_path)
    assert result.path.read_bytes() == payload
    assert writes == [_dl.CHUNK_SIZE, _dl.CHUNK_SIZE, len(payload) - 2 * _dl.CHUNK_SIZE]


def test_a_failed_data_url_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def finish(self: TempWriter, suffix: str, content_type: str) -> Download:
        raise OSError("disk full")

    monkeypatch.setattr(TempWriter, "finish", finish)
    with pytest.raises(OSError, match="disk full"):
        download(make_client(lambda r: pytest.fail("no request")), "data:,abc", tmp_path / "d")
    assert leftovers(tmp_path / "d") == []


# -- what the user is shown --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("data:image/png;base64,AAAA", "data:image/png;base64,…"),
        ("data:" + "x" * 100 + ",AAAA", "data:" + "x" * 55 + ",…"),
        ("data:no-comma-at-all-and-quite-long-indeed-more-than-forty", "data:no-comma-at-all-and-quite-long-inde,…"),
        ("https://cdn.test/a/b.mp4?sig=SECRET", "https://cdn.test/a/b.mp4?…"),
        ("https://cdn.test:8443/a", "https://cdn.test:8443/a"),
        ("http://cdn.test/a", "http://cdn.test/a"),
        ("/v1/videos/t/content", "/v1/videos/t/content"),
        ("https://cdn.test:99999/a?sig=SECRET", "https://cdn.test:99999/a"),
    ],
)
def test_describe_url(url: str, shown: str) -> None:
    assert describe_url(url) == shown


@pytest.mark.parametrize(("url", "scheme"), [("HTTPS://x.test/a", "https"), ("/rel", ""), ("data:,x", "data")])
def test_check_scheme(url: str, scheme: str) -> None:
    assert check_scheme(url) == scheme


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (1024**2, "1.0 MiB"),
     (5 * 1024**3, "5.0 GiB"), (3 * 1024**4, "3072.0 GiB")],
)
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


@pytest.mark.parametrize(
    ("given", "media"),
    [(None, "application/octet-stream"), ("", "application/octet-stream"), (" ; x=1", "application/octet-stream"),
     ("Video/MP4; codecs=avc1", "video/mp4"), ("image/png", "image/png")],
)
def test_media_type(given: str | None, media: str) -> None:
    assert media_type(given) == media


def test_broken_download_says_how_far_it_got(tmp_path: Path) -> None:
    async def breaks() -> AsyncIterator[bytes]:
        yield b"1" * _dl.CHUNK_SIZE  # one whole chunk written (smaller pieces are buffered first)
        raise httpx.RemoteProtocolError("peer closed connection")

    with pytest.raises(E.DownloadError) as info:
        download(make_client(lambda r: httpx.Response(200, content=breaks())), "https://cdn.vendor.test/y?s=1", tmp_path)
    assert info.value.message.startswith("The download of https://cdn.vendor.test/y?… broke after 262144 bytes: ")
    assert "Try again" in (info.value.hint or "")


def test_user_facing_texts_in_full() -> None:
    cap = _dl.cap_error("https://cdn.test/v.mp4?sig=1", 2048)
    assert cap.message == "The download of https://cdn.test/v.mp4?… is larger than the limit of 2.0 KiB and was stopped."
    assert cap.hint == "If you expect a file this large, raise the limit: session.settings.download_cap = <bytes>."
    expired = _dl.expired_error("https://cdn.test/v.mp4?sig=1", 410)
    assert expired.message == "The file at https://cdn.test/v.mp4?… is no longer available (HTTP 410)."
    assert expired.hint == (
        "Vendor download URLs expire, usually within about a day. Fetch a fresh URL (for a video: "
        "session.resume(task_id)) and download it right away."
    )
    with pytest.raises(E.DownloadError) as info:
        decode_data_url("data:text/plain")
    assert info.value.message == "This data: URL has no comma, so it carries no data."


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("data:text/plain,a,b", "data:text/plain,…"),  # the header ends at the first comma
        ("https:///only-a-path", "https:///only-a-path"),
        ("/v1/videos/t/content?sig=SECRET", "/v1/videos/t/content"),
        ("https://cdn.test:99999/a?x=1?y=2", "https://cdn.test:99999/a"),
        ("https://cdn.test:99999/" + "p" * 200, ("https://cdn.test:99999/" + "p" * 200)[:120]),
    ],
)
def test_describe_url_edges(url: str, shown: str) -> None:
    assert describe_url(url) == shown


def test_media_type_takes_the_first_part_only() -> None:
    assert media_type("Video/MP4; codecs=avc1; profile=high") == "video/mp4"


def test_describe_a_url_with_neither_scheme_nor_path() -> None:
    fragment = "#" + "f" * 100
    assert describe_url(fragment) == fragment[:80]


# -- the bytes must be the media asked for ------------------------------------------------------------------------


def _image_bytes(fmt: str) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_raster_images_pass_the_image_check(fmt: str) -> None:
    head = _image_bytes(fmt)[:64]
    assert _dl.raster_format(head) == fmt
    _dl.check_media(head, "application/octet-stream", "image", "https://cdn.test/i")  # no error


@pytest.mark.parametrize(("head", "ctype", "what"), [
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">', "image/svg+xml", "an SVG drawing"),
    (b"\n <!-- generator --><svg><script>x</script></svg>", "image/png", "an SVG drawing"),
    (b"<!DOCTYPE html><html>", "image/png", "an HTML page"),
    (b"<?xml version='1.0'?><Error/>", "image/png", "XML or other markup"),
    (b'{"error": "expired"}', "image/png", "JSON"),
    (b"Forbidden", "text/plain", "text/plain"),
    (b"", "image/png", "an empty file"),
    (b"\x00\x01\x02\x03\x04\x05\x06\x07\x08", "image/png",
     "bytes in no format it can read (sent as image/png, starting 00 01 02 03 04 05 06 07)"),
    (b"\x00\x00\x00\x1cftypisom" + b"\x00" * 20, "image/png", "bytes in no format"),  # a video is no image
], ids=["svg", "svg-after-comment", "html", "xml", "json", "text", "empty", "garbage", "mp4"])
def test_an_image_download_must_be_a_raster_format(head: bytes, ctype: str, what: str) -> None:
    with pytest.raises(E.DownloadError) as info:
        _dl.check_media(head, ctype, "image", "https://cdn.test/i.png?sig=SECRET")
    assert info.value.message.startswith("The file at https://cdn.test/i.png?… is not an image: the server sent ")
    assert what in info.value.message and info.value.message.endswith("instead; nothing was stored.")
    assert "SECRET" not in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("expect", ["audio", "video"])
def test_markup_is_never_audio_or_video(expect: str) -> None:
    with pytest.raises(E.DownloadError, match=f"is not an? {expect}: the server sent an SVG drawing"):
        _dl.check_media(b"<svg onload=alert(1)>", "image/svg+xml", expect, "https://cdn.test/m")
    with pytest.raises(E.DownloadError, match="the server sent XML or other markup"):
        _dl.check_media(b"<Error>denied</Error>", "application/octet-stream", expect, "https://cdn.test/m")
    _dl.check_media(b"\x00\x00\x01\xba" + b"\x00" * 60, "application/octet-stream", expect, "https://cdn.test/m")


def test_unknown_binary_may_be_audio_but_is_never_a_video() -> None:
    """A paid task's video is done once its file is one: bytes in no video container (an expired link's plain-text
    error, a cut piece of garbage, served as video/mp4) are refused; audio still lets unknown binary through."""
    for head, what in ((b"AccessDenied: Request has expired", "plain text (sent as video/mp4)"),
                       ("Доступ запрещён: ссылка устарела".encode()[:45], "plain text (sent as video/mp4)"),
                       (b"\x8b\x1f\x08\x00" + bytes(60), "bytes in no format it can read (sent as video/mp4, starting "
                                                     "8b 1f 08 00 00 00 00 00)")):
        with pytest.raises(E.DownloadError) as info:
            _dl.check_media(head, "video/mp4", "video", "https://cdn.test/v.mp4?sig=SECRET")
        assert info.value.message == f"The file at https://cdn.test/v.mp4?… is not a video: the server sent {what} " \
                                     "instead; nothing was stored."
        assert "SECRET" not in str(info.value) and "\n" not in str(info.value)
        _dl.check_media(head, "audio/mpeg", "audio", "https://cdn.test/a")  # no error


@pytest.mark.parametrize(("head", "mime"), [
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
    (b"\x00\x00\x00\x08wide\x00\x10\x00\x00mdat", "video/quicktime"),  # an old QuickTime file: no ftyp
    (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webmB\x87", "video/webm"),
    (b"\x1aE\xdf\xa3\xa3B\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x88matroska", "video/x-matroska"),
    (b"RIFF\x00\x10\x00\x00AVI LIST", "video/x-msvideo"),
    (b"FLV\x01\x05\x00\x00\x00\x09", "video/x-flv"),
], ids=["mp4", "mov", "mov-without-ftyp", "webm", "mkv", "avi", "flv"])
def test_video_containers_are_known_by_their_bytes(head: bytes, mime: str) -> None:
    assert _dl.video_mime(head) == mime
    _dl.check_media(head, "application/octet-stream", "video", "https://cdn.test/v")  # no error


def test_a_real_clip_is_a_video_by_its_bytes() -> None:
    from tokenhot_nb.sim import media

    assert _dl.video_mime(media.encode_mp4("kite", 1, 32, 32, 1, 2)[:64]) == "video/mp4"


def test_an_svg_data_url_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    svg = base64.b64encode(b"<svg onload='alert(1)'/>").decode()
    client = make_client(lambda r: httpx.Response(500))
    with pytest.raises(E.DownloadError, match="is not an image: the server sent an SVG drawing"):
        download(client, f"data:image/svg+xml;base64,{svg}", tmp_path / "art", expect="image")
    assert leftovers(tmp_path / "art") == []


def test_a_streamed_garbage_image_leaves_no_file(tmp_path: Path) -> None:
    client = make_client(lambda r: httpx.Response(200, content=bytes(range(256)) * 1024,
                                                  headers={"content-type": "image/png"}))
    with pytest.raises(E.DownloadError, match=r"sent as image/png, starting 00 01 02"):
        download(client, "https://cdn.vendor.test/i.png", tmp_path / "art", suffix=".png", expect="image")
    assert leftovers(tmp_path / "art") == []
    png = _image_bytes("PNG")
    ok = make_client(lambda r: httpx.Response(200, content=png, headers={"content-type": "image/png"}))
    assert download(ok, "https://cdn.vendor.test/i.png", tmp_path / "art", suffix=".png", expect="image").size == len(png)


@pytest.mark.parametrize("location", ["http://api.tokenhot.test/v1/videos/t/raw",  # https → http, same host
                                      "https://api.tokenhot.test:8443/v1/videos/t/raw",  # another port
                                      "https://tokenhot.test.evil.example/v1/videos/t/raw"])
def test_a_redirect_away_from_the_api_origin_never_carries_the_key(location: str, tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(302, headers={"location": location})
        return httpx.Response(200, content=b"movie")

    download(make_client(handler), "/v1/videos/t/content", tmp_path)
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert str(seen[1].url) == location and "authorization" not in seen[1].headers
    assert all(KEY not in v for v in seen[1].headers.values())


def test_a_public_cdn_redirecting_into_this_machine_is_refused_before_the_request(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://127.0.0.1:8888/api/contents"})

    with pytest.raises(E.DownloadError, match=r"127\.0\.0\.1/api/contents: that is a private or loopback address"):
        download(make_client(handler), "https://cdn.vendor.test/v.mp4", tmp_path)
    assert seen == ["https://cdn.vendor.test/v.mp4"] and leftovers(tmp_path) == []


@pytest.mark.parametrize("link", ["https://cdn.vendor.test/v.mp4", "https://api.tokenhot.test/v1/files/v.mp4"])
def test_a_download_that_breaks_keeps_no_key_from_its_links_query_in_the_chained_request(link: str,
                                                                                          tmp_path: Path) -> None:
    """The error's chain keeps the httpx error (``__context__``), and that keeps its request: a link (or the
    redirect it led to) that carried the key in its query showed it in ``repr(err.__context__.request)``, to a
    debugger or anything that walks the chain."""
    def handler(request: httpx.Request) -> httpx.Response:
        if "token" not in request.url.params:
            return httpx.Response(302, headers={"Location": f"https://cdn.vendor.test/f?token={KEY}&n=1"})

        async def breaks() -> AsyncIterator[bytes]:
            yield b"\x00\x00\x00\x18ftypmp42" * 4
            raise httpx.RemoteProtocolError("peer closed connection", request=request)

        return httpx.Response(200, content=breaks())

    with pytest.raises(E.DownloadError, match="broke after") as info:
        download(make_client(handler), link, tmp_path)
    seen: list[BaseException] = []
    err: BaseException | None = info.value
    while err is not None and err not in seen:
        seen.append(err)
        err = err.__cause__ or err.__context__
    requests = [e.request for e in seen if isinstance(e, httpx.RequestError)]
    assert requests, "the chain keeps the httpx error (its detail)"
    for request in requests:
        shown = repr(request) + str(request.url) + str(dict(request.headers))
        assert KEY not in shown and KEY.removeprefix("sk-") not in shown, shown
        assert "cdn.vendor.test/f" in shown  # where it broke is still said


def test_a_web_page_where_an_answer_should_be_is_told_apart_where_bodies_are_read() -> None:
    """``web_page`` (and the line that names it) live with the body handling (``_body``), which the answer, stream
    and recording paths all read through; a JSON or binary body is no page, a captive portal's is, by its title."""
    from tokenhot_nb.client import _body, _sse

    portal = b"<!DOCTYPE html><html><head><title>Hotel &amp; Wi-Fi\n sign-in</title></head><body>...</body></html>"
    assert _body.web_page(portal, "text/html; charset=utf-8") == "Hotel & Wi-Fi sign-in"
    assert _body.web_page(b"<html><body>no title</body></html>", None) == ""
    assert _body.web_page(b'{"ok": true}', "application/json") is None
    assert _body.web_page(b"\x89PNG\r\n\x1a\n", "image/png") is None
    line = _body.page_instead_of_api(200, "Hotel & Wi-Fi sign-in")
    assert "web page ('Hotel & Wi-Fi sign-in')" in line and "Wi-Fi sign-in page" in line
    assert "TOKENHOT_BASE_URL" in _body.PAGE_HINT
    assert _sse.web_page is _body.web_page and _sse.page_instead_of_api is _body.page_instead_of_api  # one home


# -- a data: URL too large is refused before decoding ----------------------------------------------------------
@pytest.mark.parametrize(("url", "refused"), [
    ("data:;base64," + "A" * 42, False),  # decodes to at least (42 - 2) // 4 = 10 bytes: at the cap
    ("data:;base64," + "A" * 45, False),
    ("data:;base64," + "A" * 46, True),  # at least 11
    ("data:image/png;BASE64," + "A" * 46, True),  # (the base64 flag in any case)
    ("data:text/plain," + "x" * 32, False),  # at least 32 // 3 = 10 (every byte could be %XX)
    ("data:text/plain," + "x" * 33, True),
    ("data:text/plain," + "," * 33, True),  # the payload starts after the first comma
    ("data:text/plain;charset=utf-8" + "x" * 60, False),  # no comma: no payload (refused later, as such)
])
def test_a_data_url_is_refused_by_its_least_decoded_size(url: str, refused: bool) -> None:
    if not refused:
        _dl.check_data_url_size(url, 10)
        return
    with pytest.raises(E.DownloadError) as info:
        _dl.check_data_url_size(url, 10)
    assert info.value.message == (f"The download of {describe_url(url)} is larger than the limit of 10 bytes and was "
                                  "stopped.")


# -- what arrived instead of the media, in full -------------------------------------------------------------------
_IMAGE_HINT = ("Generated images must be PNG, JPEG, WEBP, GIF, BMP, TIFF or AVIF. If the link expired or needs a "
               "login, fetch a fresh result and try again.")
_MEDIA_HINT = "The result link may have expired or need a login; fetch a fresh result and try again."


@pytest.mark.parametrize(("head", "ctype", "what"), [
    (b"", "image/png", "an empty file"),
    (b"<!DOCTYPE html><html>", "image/png", "an HTML page"),
    (b'{"error": "expired"}', "image/png", "JSON"),
    (b'[{"error": "expired"}]', "image/png", "JSON"),
    (b'\n  {"error": "expired"}', "image/png", "JSON"),
    (b"Forbidden", "text/plain", "text/plain"),
    (b"Forbidden", "application/x-unknown", "plain text (sent as application/x-unknown)"),
    (b"\x00Forbidden", "application/x-unknown", "bytes in no format it can read (sent as application/x-unknown, "
                                                "starting 00 46 6f 72 62 69 64 64)"),
])
def test_an_image_refused_says_what_arrived_and_what_to_do(head: bytes, ctype: str, what: str) -> None:
    with pytest.raises(E.DownloadError) as info:
        _dl.check_media(head, ctype, "image", "https://cdn.test/i.png")
    assert info.value.message == (f"The file at https://cdn.test/i.png is not an image: the server sent {what} "
                                  "instead; nothing was stored.")
    assert info.value.hint == _IMAGE_HINT


@pytest.mark.parametrize(("expect", "article"), [("audio", "an"), ("video", "a")])
@pytest.mark.parametrize(("head", "ctype", "what"), [
    (b"Access denied", "text/plain", "text/plain"),  # text by its label alone
    (b"\x00\x01\x02\x03", "application/json", "bytes in no format it can read (sent as application/json, starting "
                                              "00 01 02 03)"),
    (b"\x00\x01\x02\x03", "application/xml", "bytes in no format"),
    (b"\x00\x01\x02\x03", "application/problem+json", "bytes in no format"),
    (b"\x00\x01\x02\x03", "image/svg+xml", "bytes in no format"),
    (b'\n {"error": "expired"}', "application/octet-stream", "JSON"),  # text by how it starts, past blanks
])
def test_text_is_never_audio_or_video(expect: str, article: str, head: bytes, ctype: str, what: str) -> None:
    with pytest.raises(E.DownloadError) as info:
        _dl.check_media(head, ctype, expect, "https://cdn.test/m")
    message = info.value.message
    assert message.startswith(f"The file at https://cdn.test/m is not {article} {expect}: the server sent {what}")
    assert message.endswith(" instead; nothing was stored.") and info.value.hint == _MEDIA_HINT


@pytest.mark.parametrize(("expect", "head"), [
    ("audio", b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 22),  # an MP3
    ("video", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 20),  # an MP4
])
def test_media_that_sniffs_as_asked_passes_whatever_its_label(expect: str, head: bytes) -> None:
    _dl.check_media(head, "text/plain", expect, "https://cdn.test/m")  # no error: the bytes are the media


# -- a file cut short, by its container ------------------------------------------------------------------------
def _cut(tmp_path: Path, data: bytes) -> str | None:
    path = tmp_path / "f"
    path.write_bytes(data)
    return _dl.cut_short(data[:64], data[-64:], len(data), path)


def test_cut_short_names_what_is_missing(tmp_path: Path) -> None:
    assert _cut(tmp_path, b"\x89PNG\r\n\x1a\n" + b"\x00" * 40) == "a PNG without its end chunk (IEND)"
    assert _cut(tmp_path, b"\xff\xd8\xff\xe0" + b"\x00" * 40) == "a JPEG without its end marker"
    assert _cut(tmp_path, b"GIF87a" + b"\x00" * 40) == "a GIF without its trailer"
    assert _cut(tmp_path, b"GIF89a" + b"\x00" * 40) == "a GIF without its trailer"
    assert _cut(tmp_path, b"GIF89a" + b"\x00" * 40 + b";") is None
    assert _cut(tmp_path, b"RIFF\x10\x00\x00\x00") == "8 of the 24 bytes its header declares"  # a header alone
    assert _cut(tmp_path, b"RIFF\x10\x00\x00") is None  # too short to declare a length


def _box(kind: bytes, payload: bytes = b"", length: int | None = None) -> bytes:
    return (length if length is not None else 8 + len(payload)).to_bytes(4, "big") + kind + payload


def _large_box(kind: bytes, length: int, payload: bytes) -> bytes:
    return (1).to_bytes(4, "big") + kind + length.to_bytes(8, "big") + payload


def test_cut_short_walks_mp4_boxes_with_64_bit_lengths(tmp_path: Path) -> None:
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00")
    whole = ftyp + _large_box(b"mdat", 16 + 24, b"m" * 24) + _box(b"moov", b"v" * 8)
    assert _cut(tmp_path, whole) is None
    cut = whole[:-4]
    assert _cut(tmp_path, cut) == f"{len(cut)} bytes, while its boxes run to {len(whole)}"
    huge = ftyp + _large_box(b"mdat", 2**60, b"m" * 24)  # (its top byte counts too)
    assert _cut(tmp_path, huge) == f"{len(huge)} bytes, while its boxes run to {len(ftyp) + 2**60}"


def test_cut_short_reads_a_last_box_header_of_exactly_8_bytes(tmp_path: Path) -> None:
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00")
    data = ftyp + _box(b"mdat", length=256)  # the header came, its 248 bytes did not
    assert _cut(tmp_path, data) == f"{len(data)} bytes, while its boxes run to {len(ftyp) + 256}"
    assert _cut(tmp_path, ftyp + _box(b"mdat", length=0) + b"m" * 10) is None  # 0: runs to the end of the file


# -- URLs shown, temp files swept ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "shown"), [
    ("ftp://files.test/a.mp4?sig=1", "ftp://files.test/a.mp4?…"),
    ("javascript:alert(1)", "javascript:alert(1)"),
    ("javascript:" + "a" * 100, ("javascript:" + "a" * 100)[:80]),
    ("http:///only-a-path", "http:///only-a-path"),
])
def test_describe_url_of_other_schemes(url: str, shown: str) -> None:
    assert describe_url(url) == shown


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_pid_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _dl._pid_alive(child.pid) and child.poll() is None  # asked with signal 0: still running
    finally:
        child.kill()
        child.wait()
    assert not _dl._pid_alive(child.pid)
    calls: list[tuple[int, int]] = []

    def kill(pid: int, sig: int) -> None:
        calls.append((pid, sig))
        raise PermissionError("not yours")

    monkeypatch.setattr(_dl.os, "kill", kill)
    assert _dl._pid_alive(1) and calls == [(1, 0)]  # it runs, under another user
    assert not _dl._pid_alive(0) and not _dl._pid_alive(-5) and calls == [(1, 0)]  # never asked: no such pid


def test_sweep_removes_what_dead_writers_of_this_host_left_and_old_files_of_others(tmp_path: Path) -> None:
    import os
    import time

    def part(name: str, age: float = 0.0) -> Path:
        path = tmp_path / f"{_dl.PART_PREFIX}{name}.part"
        path.write_bytes(b"x")
        if age:
            os.utime(path, (time.time() - age, time.time() - age))
        return path

    dead = _dead_pid()
    tag = _dl._HOST_TAG
    gone = [part(f"{dead}-{tag}-ab-cd"), part(f"{dead}-other000-x", age=86400.5), part("no-pid", age=86400.5)]
    kept = [part(f"{os.getpid()}-{tag}-x"), part(f"{dead}-other000-y"), part("no-pid-fresh"), part("plain")]
    (tmp_path / "unrelated.part").write_bytes(b"x")
    assert _dl.sweep_partial(tmp_path) == 3
    assert [p.exists() for p in gone] == [False] * 3 and [p.exists() for p in kept] == [True] * 4
    assert _dl.sweep_partial(tmp_path / "missing") == 0


def test_sweep_removes_others_files_only_once_older_than_max_age(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    now = 2_000_000_000
    monkeypatch.setattr(_dl.time, "time", lambda: float(now))
    at_max_age = tmp_path / f"{_dl.PART_PREFIX}1-other000-a.part"
    past_it = tmp_path / f"{_dl.PART_PREFIX}1-other000-b.part"
    for path, age in ((at_max_age, 86400), (past_it, 86401)):
        path.write_bytes(b"x")
        os.utime(path, (now - age, now - age))
    assert _dl.sweep_partial(tmp_path) == 1 and at_max_age.exists() and not past_it.exists()


def test_sweep_leaves_a_file_of_another_container_with_the_same_host_name(tmp_path: Path) -> None:
    """A download in flight in another container (same host name, its own process ids) is not this host's: the
    sweep does not look its writer's id up here, and leaves it until it is older than ``max_age``."""
    import hashlib

    from tokenhot_nb import _host

    elsewhere = hashlib.sha256(f"{_host.NAME} pid:[1]".encode()).hexdigest()[:8]
    assert _dl._HOST_TAG == hashlib.sha256(_host.ID.encode()).hexdigest()[:8] != elsewhere
    theirs = tmp_path / f"{_dl.PART_PREFIX}{_dead_pid()}-{elsewhere}-a.part"
    mine = tmp_path / f"{_dl.PART_PREFIX}{_dead_pid()}-{_dl._HOST_TAG}-b.part"
    for path in (theirs, mine):
        path.write_bytes(b"x")
    assert _dl.sweep_partial(tmp_path) == 1 and theirs.exists() and not mine.exists()


def test_sweep_goes_on_past_a_name_it_cannot_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unreadable = tmp_path / f"{_dl.PART_PREFIX}-x-y.part"  # no pid: int("") fails
    dead = tmp_path / f"{_dl.PART_PREFIX}{_dead_pid()}-{_dl._HOST_TAG}-z.part"
    for path in (unreadable, dead):
        path.write_bytes(b"x")
    glob = type(tmp_path).glob
    monkeypatch.setattr(type(tmp_path), "glob", lambda self, pattern: iter(sorted(glob(self, pattern))))
    assert _dl.sweep_partial(tmp_path) == 1 and unreadable.exists() and not dead.exists()


def test_the_writer_keeps_the_last_bytes_written_for_cut_short(tmp_path: Path) -> None:
    writer = TempWriter(tmp_path, "https://x.test/f", cap=1000)
    writer.write(b"a" * 10)
    writer.write(b"b" * 10)
    assert writer.tail == b"a" * 10 + b"b" * 10
    writer.write(b"c" * 100)
    assert writer.tail == b"c" * 64
    writer.discard()


@pytest.mark.parametrize("size", [40, 3000, 200_000])
def test_a_file_refused_as_no_video_carries_what_it_sent_with_no_key(tmp_path: Path, size: int) -> None:
    """A link on the API host (it gets the key) answering an error page that echoes the key, labelled video/mp4,
    in many small chunks: the refusal carries what was sent (``refused_body``: its start, at most REFUSED_KEEP
    bytes, so a session can keep it), the key masked in it; nothing is left in the folder."""
    page = (b"<!DOCTYPE html><html><body>denied for Bearer " + KEY.encode() + b" " + b"x" * size)[:max(size, 40)]
    if size == 40:
        page = b"{\"error\": \"no: " + KEY.encode()[:8] + b"\"}"  # (under 64 bytes: the check at its end)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(page), 1000):
            yield page[i:i + 1000]

    client = make_client(lambda r: httpx.Response(200, headers={"content-type": "video/mp4"}, content=chunks()))
    with pytest.raises(E.DownloadError, match="is not a video") as info:
        download(client, BASE + "/v1/videos/task_1/content", tmp_path / "d", expect="video")
    kept = info.value.refused_body
    assert kept is not None and KEY.encode() not in kept
    assert kept == E.without_key(page[:_dl.REFUSED_KEEP]) and kept[:20] == page[:20]
    assert leftovers(tmp_path / "d") == []
