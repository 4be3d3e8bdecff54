"""Request bodies as new-api's ``DecompressRequestMiddleware`` hands them on (QuantumNous/new-api
``middleware/gzip.go``, on every relay route before the key is checked; GET requests are passed through).

What the service does, and so the simulator:

- ``Content-Encoding: gzip`` (the value compared exactly as sent, so ``GZIP`` is not gzip to it): the gzip
  header is read at once; a missing or broken one is answered 400 with an EMPTY body, before auth. The data
  after it inflates as the body is read: corrupt or truncated data fails that read, which the distributor
  answers with the middleware's 400 (for a JSON body, the simulator's usual "invalid JSON" one).
- ``br`` and ``zstd`` are decoded by the service too. The simulator decodes ``zstd`` when the ``zstandard``
  package is importable, and ``br`` with ``brotli`` 1.2 or later (the first whose decompressor stops at an
  output limit; an older one could be made to inflate a bomb whole). Without them such a body is refused with
  a 400 in the middleware envelope saying so. That is a gap: the service would decode it. A truncated zstd
  stream decodes as far as it goes (zstandard's streaming writer cannot tell), so the JSON check refuses what
  is left; a truncated br stream is corrupt data.
- any other value (``deflate``, ``identity``, ``x-gzip`` …) is not decoded: the raw bytes reach the parser.
- the body as read, decoded or plain, is limited to :data:`MAX_REQUEST_BODY` (``MaxRequestBodyMB``: 128 MiB unless
  the operator sets ``MAX_REQUEST_BODY_MB``, common/init.go; the middleware's own 32 is only a fallback for 0),
  through ``http.MaxBytesReader``; past it the read fails. Where the distributor reads the body for its model (a
  JSON body naming it) that failure is its 400 "invalid request, …"; elsewhere (a form, a model in the path) the
  relay answers 413.

Decoding is incremental and bounded: never more than the limit + 1 decoded bytes are produced (plus one
64 KiB zstd block, or what brotli writes past its output limit), so a bomb costs the simulator little memory.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive

#: The most a request body may hold once decoded (new-api's ``MaxRequestBodyMB`` default); tests lower it.
MAX_REQUEST_BODY = 128 * 1024**2

_GZIP_MAGIC = b"\x1f\x8b\x08"  # ID1, ID2, CM=deflate
_FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 2, 4, 8, 16
_GO_STRING_MAX = 512  # Go's gzip reader refuses a name/comment (with its NUL) longer than its 512-byte buffer


class BodyError(Exception):
    """A body that could not be read; ``status``/``code`` are what the service answers for it."""

    status = 400
    code = "invalid_request"


class BodyTooLarge(BodyError):
    status = 413
    code = "read_request_body_failed"

    def __init__(self) -> None:
        super().__init__("request body too large")


class BodyCorrupt(BodyError):
    """Compressed data that does not decode (after a valid header)."""


class EncodingUnsupported(BodyError):
    """An encoding the service decodes but this simulator cannot (see the module docstring)."""


class Decoder(Protocol):
    def feed(self, data: bytes, room: int) -> bytes:
        """Decode more input; stop once ``room`` bytes are out (more may be pending, which the caller refuses)."""

    def end(self) -> None:
        """The input is over: raise :class:`BodyCorrupt` if the stream is incomplete."""


class _Gunzip:
    """gzip, members one after another (Go's reader is multistream); output bounded by ``room``."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes, room: int) -> bytes:
        out: list[bytes] = []
        try:
            while room > 0:
                if self._z.eof:  # a member ended: what follows must be another one
                    data = self._z.unused_data + data
                    if not data:
                        break
                    self._z = zlib.decompressobj(wbits=31)
                chunk = self._z.decompress(data, room)
                data = self._z.unconsumed_tail
                out.append(chunk)
                room -= len(chunk)
                if not data and not self._z.eof:
                    break
        except zlib.error as exc:
            raise BodyCorrupt(f"corrupt gzip data ({exc})") from None
        return b"".join(out)

    def end(self) -> None:
        if not self._z.eof:
            raise BodyCorrupt("truncated gzip data")


class _Full(Exception):
    pass


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.room = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.room -= len(data)
        if self.room <= 0:
            raise _Full  # stops the decompressor mid-stream: a bomb never inflates further
        return len(data)


class _Unzstd:
    """zstd through ``zstandard``'s streaming writer, which hands its output on in 64 KiB blocks."""

    def __init__(self, module: Any) -> None:
        self._sink = _Sink()
        self._error: type[Exception] = module.ZstdError
        self._writer = module.ZstdDecompressor().stream_writer(self._sink, write_size=1 << 16)

    def feed(self, data: bytes, room: int) -> bytes:
        self._sink.room = room
        try:
            self._writer.write(data)
        except _Full:
            pass
        except self._error as exc:
            raise BodyCorrupt(f"corrupt zstd data ({exc})") from None
        out = b"".join(self._sink.parts)
        self._sink.parts.clear()
        return out

    def end(self) -> None:
        pass


class _Unbrotli:
    """br through ``brotli``'s decompressor, asked for at most ``room`` bytes of output a step."""

    def __init__(self, module: Any) -> None:
        self._d = module.Decompressor()
        self._error: type[Exception] = module.error

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            return bytes(self._d.process(data, output_buffer_limit=room))
        except self._error as exc:
            raise BodyCorrupt(f"corrupt br data ({exc})") from None

    def end(self) -> None:
        if not self._d.is_finished():
            raise BodyCorrupt("truncated br data")


class _Unsupported:
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding

    def feed(self, data: bytes, room: int) -> bytes:
        raise EncodingUnsupported(f"the simulator cannot decode Content-Encoding: {self.encoding} (the service "
                                  "can); send the body plain or with Content-Encoding: gzip")

    def end(self) -> None:
        pass


def _optional_decoders() -> dict[str, Callable[[], Decoder]]:
    found: dict[str, Callable[[], Decoder]] = {}
    try:
        zstandard = importlib.import_module("zstandard")
    except ImportError:
        pass
    else:
        found["zstd"] = lambda: _Unzstd(zstandard)
    try:
        brotli = importlib.import_module("brotli")
    except ImportError:
        pass
    else:
        if tuple(int(p) for p in brotli.__version__.split(".")[:2] if p.isdigit()) >= (1, 2):
            found["br"] = lambda: _Unbrotli(brotli)
    return found


#: Decoders for the encodings the service decodes besides gzip, when this Python can (tests may remove them).
OPTIONAL_DECODERS: dict[str, Callable[[], Decoder]] = _optional_decoders()
_SERVICE_DECODES = ("br", "zstd")


class _Wire:
    """The raw body as it arrives, with a look-ahead for the gzip header."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self._buf = b""
        self._more = True
        self.done = False

    async def _pull(self) -> None:
        message = await self.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        self._buf += message.get("body", b"")
        self._more = bool(message.get("more_body", False))

    async def peek(self, n: int) -> bytes:
        """Up to ``n`` leading bytes (fewer only if the body is shorter); they are still read later."""
        while len(self._buf) < n and self._more:
            await self._pull()
        return self._buf[:n]

    async def next(self) -> tuple[bytes, bool]:
        if not self._buf and self._more:
            await self._pull()
        data, self._buf = self._buf, b""
        self.done = not self._more
        return data, self._more


async def _gzip_header_ok(wire: _Wire) -> bool:
    """Whether the body starts with a gzip header Go's ``gzip.NewReader`` accepts (RFC 1952 §2.3)."""
    head = await wire.peek(10)
    if len(head) < 10 or head[:3] != _GZIP_MAGIC:
        return False
    flags, end = head[3], 10
    if flags & _FEXTRA:
        head = await wire.peek(end + 2)
        if len(head) < end + 2:
            return False
        end += 2 + int.from_bytes(head[end:end + 2], "little")
        if len(await wire.peek(end)) < end:
            return False
    for flag in (_FNAME, _FCOMMENT):
        if flags & flag:
            nul = (await wire.peek(end + _GO_STRING_MAX)).find(b"\0", end)
            if nul < 0:
                return False
            end = nul + 1
    if flags & _FHCRC:
        head = await wire.peek(end + 2)
        if len(head) < end + 2 or int.from_bytes(head[end:end + 2], "little") != zlib.crc32(head[:end]) & 0xFFFF:
            return False
    return True


def _limited(wire: _Wire, decoder: Decoder | None, limit: int) -> Receive:
    """An ASGI ``receive`` giving the decoded body, refusing it past ``limit`` bytes (``http.MaxBytesReader``)."""
    total = 0

    async def receive() -> Message:
        nonlocal total
        if wire.done:  # the body is over: later calls wait for the disconnect, as usual
            return await wire.receive()
        data, more = await wire.next()
        if decoder is not None:
            data = decoder.feed(data, limit - total + 1)
        total += len(data)
        if total > limit:
            raise BodyTooLarge()
        if decoder is not None and not more:
            decoder.end()
        return {"type": "http.request", "body": data, "more_body": more}

    return receive


async def decode_request(request: Request) -> Request | Response:
    """``request`` with a body that reads decoded and size-limited, or the empty 400 the service answers at
    once for a gzip body without a valid header. Reading the returned request's body may raise a
    :class:`BodyError`: the caller answers it where the service reads the body (after auth)."""
    if request.method == "GET":
        return request
    encoding = request.headers.get("content-encoding", "")
    wire = _Wire(request.receive)
    decoder: Decoder | None = None
    if encoding == "gzip":
        if not await _gzip_header_ok(wire):
            return Response(status_code=400)
        decoder = _Gunzip()
    elif encoding in _SERVICE_DECODES:
        make = OPTIONAL_DECODERS.get(encoding)
        decoder = make() if make is not None else _Unsupported(encoding)
    return Request(request.scope, _limited(wire, decoder, MAX_REQUEST_BODY))
