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
