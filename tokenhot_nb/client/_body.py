"""Bounded response bodies: every byte the client reads goes through one capped, self-decoding stream.

A relay (or anything between it and us) decides how big an answer is and how it is compressed. So the client
decodes ``gzip``/``deflate`` itself, a small step at a time (``zlib`` with ``max_length``), counts the decoded
bytes against a cap, refuses a body whose decoded size runs away from its wire size (a decompression bomb is
refused after about a MiB, never inflated), and refuses encodings it did not ask for. Memory stays within a
small multiple of the cap whatever the server sends. What a body is comes here too: its media type, and a web
page (a captive portal's, a website's) where the API's answer should be (:func:`web_page`).
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import AsyncIterator

import httpx

from .._config import redact

#: What the client asks for: only encodings it decodes itself, step by step.
ACCEPT_ENCODING = "gzip, deflate"
#: Most bytes one decoding step may produce.
STEP = 256 * 1024
#: A body whose decoded size passes this and is more than ``MAX_RATIO`` times its wire size is a bomb.
BOMB_FLOOR = 1024 * 1024
MAX_RATIO = 200


class BodyRefused(Exception):
    """Internal: the body broke a limit; ``reason`` is a sentence for the user ("is larger than …")."""

    def __init__(self, reason: str, *, size: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.size = size


class _Decoder:
    """Incremental gzip/deflate with a bounded output per step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        wbits = zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._z = zlib.decompressobj(wbits)
        self._first = True

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            piece = self._z.decompress(data, STEP)
        except zlib.error:
            if not (self._first and self.encoding == "deflate"):
                raise
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" without the zlib header
            piece = self._z.decompress(data, STEP)
        self._first = False
        out.append(piece)
        while self._z.unconsumed_tail:
            out.append(self._z.decompress(self._z.unconsumed_tail, STEP))
        return out

    def drain(self) -> list[bytes]:
        return [self._z.flush()]  # all input is consumed by now: what is left is at most a window

    @property
    def complete(self) -> bool:
        """Whether the compressed data came to its own end (its trailer arrived)."""
        return self._z.eof


class BoundedStream(httpx.AsyncByteStream):
    """The decoded body of a response, refused (:class:`BodyRefused`) once it passes ``cap`` bytes.

    ``max_line``: also refuse a single line longer than this (event streams are read line by line, and a
    line with no end would otherwise grow without limit in the line reader).
    """

    def __init__(self, inner: httpx.AsyncByteStream, *, cap: int, encoding: str = "",
                 max_line: int | None = None) -> None:
        self._inner = inner
        self.cap = cap
        self.max_line = max_line
        self.wire = 0
        self.size = 0
        self._line = 0
        self._decoder = _Decoder(encoding) if encoding else None

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.cap:
            raise BodyRefused(f"is larger than the limit of {human_size(self.cap)}", size=self.size)
        if self._decoder is not None and self.size > BOMB_FLOOR and self.size > MAX_RATIO * max(1, self.wire):
            raise BodyRefused(
                f"decompresses to more than {MAX_RATIO} times its size on the wire (a decompression bomb)",
                size=self.size,
            )
        if self.max_line is not None:
            end = piece.rfind(b"\n")
            self._line = len(piece) - end - 1 if end >= 0 else self._line + len(piece)
            if self._line > self.max_line:
                raise BodyRefused(f"has a line longer than {human_size(self.max_line)}", size=self.size)
        return piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for raw in self._inner:
            self.wire += len(raw)
            if self._decoder is None:
                yield self._count(raw)
                continue
            try:
                pieces = self._decoder.feed(raw)
            except zlib.error as exc:
                raise BodyRefused(f"is not valid {self._decoder.encoding} data ({exc})", size=self.size) from None
            for piece in pieces:
                if piece:
                    yield self._count(piece)
        if self._decoder is not None:
            for piece in self._decoder.drain():
                yield self._count(piece)
            if self.wire and not self._decoder.complete:
                # a body that ends with the connection (no Content-Length) and was cut short reads as whole to
                # HTTP; the compressed data itself says it is not: the answer is broken, not shorter
                raise httpx.RemoteProtocolError(
                    f"the connection ended inside the {self._decoder.encoding} body, before its end")

    async def aclose(self) -> None:
        await self._inner.aclose()


def bound_body(response: httpx.Response, cap: int, *, max_line: int | None = None) -> BoundedStream:
    """Replace ``response``'s body with a :class:`BoundedStream` (httpx's own decoding is switched off)."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("identity",):
        encoding = ""
    if encoding and encoding not in ("gzip", "x-gzip", "deflate"):
        raise BodyRefused(f"uses the content encoding {encoding[:40]!r}, which was not asked for")
    if response.is_stream_consumed and len(response.content) > cap:  # read ahead (a response built from bytes, as
        # a transport of one's own may answer): the bytes are all here already, past the stream this bounds
        raise BodyRefused(f"is larger than the limit of {human_size(cap)}", size=len(response.content))
    bounded = BoundedStream(response.stream, cap=cap, encoding=encoding, max_line=max_line)  # type: ignore[arg-type]
    response.stream = bounded
    if "content-encoding" in response.headers:
        del response.headers["content-encoding"]  # decoded above: httpx must pass the bytes through as they are
    return bounded


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower-cased, without its parameters."""
    value = (content_type or "").split(";", 1)[0].strip().lower()
    return value or "application/octet-stream"


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
#: What to do about a web page where the API should answer (see :func:`page_instead_of_api`).
PAGE_HINT = "Sign in to the network in a browser, or check TOKENHOT_BASE_URL; then check the history before trying again."


def web_page(body: bytes, content_type: str | None) -> str | None:
    """The title of ``body`` ("" when it has none) when it is an HTML page, else None."""
    head = body[:4096].lstrip().lower()
    if media_type(content_type) not in ("text/html", "application/xhtml+xml") \
            and not head.startswith((b"<!doctype html", b"<html")):
        return None
    found = _TITLE.search(body[:65536])
    title = html.unescape(found.group(1).decode("utf-8", "replace")) if found else ""
    return " ".join(redact(title).split())[:80]  # (redacted before the cut: a key across it would show its start)


def page_instead_of_api(status: int, title: str) -> str:
    """One line for a 2xx web page where the API's answer should be: the request most likely never reached the
    API (a captive portal answers every address with its sign-in page), or the base URL is a website."""
    named = f" ({title!r})" if title else ""
    return (f"The server answered {status} with a web page{named}, not the API's answer: a Wi-Fi sign-in page, a "
            "proxy's page, or a base URL that is a website.")
