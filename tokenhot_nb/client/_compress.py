"""Large JSON request bodies, sent gzip-compressed.

new-api relays decode ``Content-Encoding: gzip`` (also br and zstd) on every relay route before anything reads
the body (its ``DecompressRequestMiddleware``). A long conversation's body is mostly text that compresses 4-30×,
so on a real link a thread uploads a fraction of its body. On loopback, or through a given transport (the
simulator in-process, a replay), there is nothing to save and bodies go as they are (``auto``). A large body that
hardly shrinks (inline base64 media) goes as it is too: a sample of it is tried first.

A thread's next body begins with this one's conversation: the compressor's state is kept at that point (the
call's ``stable`` length) and copied for the next turn, so a turn compresses only the bytes it adds and its cost
stays flat however long the thread. A deflate stream continued from a copy decodes to the same body (with
zlib it is the one-shot stream, byte for byte).

A relay that does not decode gzip reads the compressed bytes as broken JSON and answers 400 saying so, or 415
(not served, not billed): the call is sent again as it is, once, and when that works nothing more is compressed
to that host. Once a compressed body was served, nothing is ever sent twice.
"""

from __future__ import annotations

import ipaddress
import threading
import zlib
from dataclasses import dataclass
from typing import Literal

#: Bodies smaller than this go as they are: the saving would not pay for the compressing.
MIN_SIZE = 32 * 1024
#: zlib's fastest level: text still shrinks 4-6× (repetitive conversations far more), at ~150 MB/s.
LEVEL = 1
#: Past this many bytes to compress, a sample is tried first: base64 media shrinks by a quarter at best.
TRIAL_ABOVE = 1024 * 1024
TRIAL = 64 * 1024
#: Words of a 400 that says the body could not be read (Go's JSON errors, new-api's wrappers): "this host does not
#: decode gzip". Any other 400 is the request's own fault and is not sent again.
_UNREAD = ("json", "invalid character", "unmarshal", "decode", "parse", "gzip", "encoding", "body")
#: Conversations whose compressor state is kept (the last few threads used).
KEEP = 4

State = Literal["unknown", "on", "trying-plain", "off"]


def unread(status: int, body: bytes) -> bool:
    """An error answer that says the body could not be read: 415, or a 400 that is empty or speaks of JSON/body."""
    if status == 415:
        return True
    if status != 400:
        return False
    text = body[:4096].decode("utf-8", "replace").lower()
    return not text.strip() or any(word in text for word in _UNREAD)


def loopback(host: str) -> bool:
    """``host`` is this machine (nothing to save by compressing)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass
class _Kept:
    """A compressor that has taken ``prefix`` (not flushed), and what it has written so far."""

    prefix: bytes
    compressor: zlib._Compress
    written: bytes


class Gzip:
    """Compresses request bodies for one client and remembers whether its host takes them."""

    def __init__(self) -> None:
        #: unknown (nothing learnt yet), on (a compressed body was served), trying-plain (a compressed body was
        #: refused and is being sent as it is), off (the plain body was served: this host does not decode gzip)
        self.state: State = "unknown"
        self._kept: list[_Kept] = []
        self._lock = threading.Lock()

    @property
    def usable(self) -> bool:
        return self.state in ("unknown", "on")

    def compress(self, body: bytes, stable: int = 0) -> bytes | None:
        """``body`` as one gzip member (None: it would hardly shrink, send it as it is); its first ``stable`` bytes
        (the next turn's start) are kept compressed."""
        base = self._find(body)
        if base is None:
            compressor, written, done = zlib.compressobj(LEVEL, zlib.DEFLATED, 31), [], 0
        else:
            compressor, written, done = base.compressor.copy(), [base.written], len(base.prefix)
        view = memoryview(body)
        todo = len(body) - done
        if todo > TRIAL_ABOVE:
            middle = done + todo // 2
            sample = view[middle:middle + TRIAL]
            if len(zlib.compress(sample, LEVEL)) * 4 > len(sample) * 3:
                return None
        if stable > done and stable <= len(body):
            written.append(compressor.compress(view[done:stable]))
            self._keep(_Kept(body[:stable], compressor.copy(), b"".join(written)))
            done = stable
        written.append(compressor.compress(view[done:]))
        written.append(compressor.flush())
        return b"".join(written)

    def _find(self, body: bytes) -> _Kept | None:
        with self._lock:
            best = None
            for kept in self._kept:
                if len(kept.prefix) <= len(body) and (best is None or len(kept.prefix) > len(best.prefix)) \
                        and body.startswith(kept.prefix):
                    best = kept
            return best

    def _keep(self, kept: _Kept) -> None:
        with self._lock:
            # the conversation it continues is not needed again: its next body starts with this one
            self._kept = [k for k in self._kept if not kept.prefix.startswith(k.prefix)][-(KEEP - 1):]
            self._kept.append(kept)

    # -- what the host said ----------------------------------------------------------------------------------
    def served(self, compressed: bool) -> None:
        """A 2xx answer to a compressed body (the host decodes gzip) or to the plain retry (it does not)."""
        if compressed:
            self.state = "on"
        elif self.state == "trying-plain":
            self.state = "off"
            with self._lock:
                self._kept.clear()

    def refused(self, status: int, body: bytes) -> bool:
        """A compressed body got ``status`` (``body``): True when it should be sent again as it is (once), because
        the host may not decode gzip. Calls in flight together each go again; the first one decides."""
        if self.state == "on" or not unread(status, body):
            return False
        if self.state == "unknown":
            self.state = "trying-plain"
        return True

    def plain_refused(self) -> None:
        """The plain retry failed too: the request itself was at fault, not the compression."""
        if self.state == "trying-plain":
            self.state = "unknown"
