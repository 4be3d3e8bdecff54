"""Content-addressed downloads of generated media.

Videos can be gigabytes, so the body is streamed to a temporary file next to its destination and hashed
on the way; the finished file is renamed (atomically) to ``<sha256><suffix>``, which makes the artifact
store deduplicate for free. A failed or capped download leaves nothing behind.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote_to_bytes, urlsplit

from .. import _host
from ..errors import DownloadError
from ..families._common import looks_like_html
from ._body import human_size

CHUNK_SIZE = 256 * 1024
#: Download temp files: ``.download-<pid>-<host tag>-<random>.part`` (see :func:`sweep_partial`).
PART_PREFIX = ".download-"
_HOST_TAG = hashlib.sha256(_host.ID.encode()).hexdigest()[:8]  #: this host and its process-id namespace
ALLOWED_SCHEMES = ("http", "https", "data")
EXPIRED_STATUSES = frozenset({403, 404, 410})


@dataclass
class Download:
    """A finished download: ``path`` is ``dest_dir / (sha256 + suffix)``."""

    path: Path
    sha256: str
    size: int
    content_type: str


def describe_url(url: str) -> str:
    """A URL safe to show: no query string (signed vendor URLs carry credentials there)."""
    if url.startswith("data:"):
        head = url[: url.find(",")] if "," in url else url[:40]
        return f"{head[:60]},…"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. a port out of range: show the URL without its query
        return url.split("?", 1)[0][:120]
    if not parts.scheme:
        return parts.path or url[:80]
    if not parts.netloc and parts.scheme not in ("http", "https"):  # javascript:…, mailto:… (no "//" to add)
        return f"{parts.scheme}:{parts.path}"[:80]
    shown = f"{parts.scheme}://{parts.hostname or ''}{f':{port}' if port else ''}{parts.path}"
    return shown + ("?…" if parts.query else "")


def check_scheme(url: str) -> str:
    """The URL's scheme ("" for a relative URL); any scheme other than http(s)/data raises."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise DownloadError(f"Cannot download {describe_url(url)!r}: the URL is not valid ({exc}).") from exc
    if scheme and scheme not in ALLOWED_SCHEMES:
        raise DownloadError(
            f"Cannot download {describe_url(url)!r}: only http://, https:// and data: URLs are allowed "
            f"(got {scheme}:).",
        )
    return scheme


#: Bytes kept of a file refused as not the media asked for (an error page served as the video): its start, for the
#: row (``DownloadError.refused_body``); the rest is not read.
REFUSED_KEEP = 64 * 1024

#: The words of :func:`cap_error`, by which a kept error is known as one (a resume stops there again until the
#: limit is raised).
OVER_CAP = " is larger than the limit of "


def cap_error(url: str, cap: int) -> DownloadError:
    return DownloadError(
        f"The download of {describe_url(url)}{OVER_CAP}{human_size(cap)} and was stopped.",
        hint="If you expect a file this large, raise the limit: session.settings.download_cap = <bytes>.",
    )


class TempWriter:
    """Write chunks to a temp file in ``dest_dir`` while hashing; ``finish`` renames, ``discard`` deletes."""

    def __init__(self, dest_dir: Path, url: str, cap: int) -> None:
        dest_dir.mkdir(parents=True, exist_ok=True)
        self.dest_dir = dest_dir
        self.url = url
        self.cap = cap
        self.size = 0
        self._hash = hashlib.sha256()
        fd, name = tempfile.mkstemp(prefix=f"{PART_PREFIX}{os.getpid()}-{_HOST_TAG}-", suffix=".part", dir=dest_dir)
        self.tmp = Path(name)
        self._file: IO[bytes] | None = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        if self.size + len(chunk) > self.cap:
            raise cap_error(self.url, self.cap)
        assert self._file is not None
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)
        self.tail = (self.tail + chunk[-_TAIL:])[-_TAIL:]

    tail = b""  #: the last bytes written, for :func:`cut_short`

    def cut_short(self, head: bytes) -> str | None:
        """:func:`cut_short` of what was written (its start: ``head``)."""
        assert self._file is not None
        self._file.flush()
        return cut_short(head, self.tail, self.size, self.tmp)

    def finish(self, suffix: str, content_type: str) -> Download:
        assert self._file is not None
        # no fsync: the rename below is what makes a sha-named file always complete (the page cache outlives
        # a killed process), and an fsync here would block the event loop, and every download in flight
        self._file.close()
        self._file = None
        digest = self._hash.hexdigest()
        final = self.dest_dir / f"{digest}{suffix}"
        os.replace(self.tmp, final)
        return Download(path=final, sha256=digest, size=self.size, content_type=content_type)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass


def sweep_partial(folder: Path, *, max_age: float = 86400.0) -> int:
    """Delete download temp files whose writer is gone (killed mid-download); returns how many.

    A temp file names its writer (pid + host): one of this host whose process no longer runs is removed at
    once; any other only once it is older than ``max_age`` s (it may belong to a live writer elsewhere).
    """
    if not folder.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - max_age
    for path in folder.glob(f"{PART_PREFIX}*.part"):
        parts = path.name[len(PART_PREFIX):].split("-", 2)
        try:
            pid = int(parts[0]) if len(parts) == 3 else -1
            mine = len(parts) == 3 and parts[1] == _HOST_TAG
            if (mine and pid != os.getpid() and not _pid_alive(pid)) or path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except (OSError, ValueError):
            continue
    return removed


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def decode_data_url(url: str) -> tuple[bytes, str]:
    """``data:[<mime>][;base64],<payload>`` → (bytes, mime)."""
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise DownloadError("This data: URL has no comma, so it carries no data.")
    params = [p.strip() for p in header.split(";")]
    mime = params[0].lower() if params and "/" in params[0] else "text/plain"
    if any(p.lower() == "base64" for p in params[1:]):
        try:
            raw = b"".join(unquote_to_bytes(payload).split())
            data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DownloadError(f"This data: URL does not hold valid base64 ({exc}).") from exc
        return data, mime
    return unquote_to_bytes(payload), mime


def check_data_url_size(url: str, cap: int) -> None:
    """Refuse a ``data:`` URL that must decode to more than ``cap`` bytes, before decoding any of it.

    The bound is the least the payload can decode to (every character percent-encoded), so a URL near the cap
    is never refused wrongly; the exact size is checked once decoded.
    """
    comma = url.find(",")
    payload = len(url) - comma - 1 if comma >= 0 else 0
    base64 = ";base64" in url[: max(comma, 0)].lower()
    least = (payload - 2) // 4 if base64 else payload // 3
    if least > cap:
        raise cap_error(url, cap)


#: First bytes of answers that are not media: HTML/XML/SVG pages, JSON, plain-text errors.
_TEXT_STARTS = (b"<", b"{", b"[")
#: Pillow formats accepted as a generated image: raster formats it decodes (HEIF when pillow-heif registers it).
RASTER_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "AVIF", "HEIF", "JPEG2000")


def raster_format(head: bytes) -> str | None:
    """The Pillow format whose header ``head`` (at least 16 bytes when the file has them) starts with, or None.

    Pillow's own header tests, so what passes is what the notebook can decode; a test that answers with a
    message instead of True means the format is known but its decoder is missing."""
    from PIL import Image

    Image.init()
    for name in RASTER_FORMATS:
        entry = Image.OPEN.get(name)
        accept = entry[1] if entry else None
        if accept is not None:
            verdict = accept(head[:16])
            if verdict and not isinstance(verdict, str):
                return name
    return None


def raster_mime(head: bytes) -> str | None:
    """The media type of the raster image ``head`` starts with (:func:`raster_format`), or None. An image is stored
    under this, not under the type its sender declared: a PNG labelled ``image/svg+xml`` or ``text/html`` became a
    ``.svg``/``.html`` file that ``save()`` refused and other programs misread."""
    from PIL import Image

    fmt = raster_format(head)
    return None if fmt is None else Image.MIME.get(fmt) or f"image/{fmt.lower()}"


#: ISO base media boxes an old QuickTime file may start with instead of ``ftyp``.
_QT_FIRST = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def video_mime(head: bytes) -> str | None:
    """The media type of the video container ``head`` (a file's first bytes) starts with, or None: MP4/MOV (ISO
    boxes), WebM/Matroska (EBML), AVI, FLV, MPEG-PS. A video is known by its own bytes: an expired link's error
    page or a cut piece of garbage served as ``video/mp4`` was stored and its paid task marked done."""
    box = int.from_bytes(head[:4], "big") if len(head) >= 8 else -1
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[4:8] in _QT_FIRST and (box in (0, 1) or box >= 8):
        return "video/quicktime"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(b"FLV\x01"):
        return "video/x-flv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "video/mpeg"
    return None


#: Bytes of a download's end kept for :func:`cut_short`.
_TAIL = 64
#: The top-level boxes of an MP4/MOV file walked at most (a hostile file cannot make the walk long).
_MAX_BOXES = 4096


def cut_short(head: bytes, tail: bytes, size: int, path: Path) -> str | None:
    """Why a file whose end its container marks stops before that end, or None (whole, or a format with no end
    mark). Only for a body whose length the response never stated (no Content-Length, not chunked: it ends when
    the server closes), where a connection dropped mid-file looks like a clean end."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None if tail.endswith(b"IEND\xaeB`\x82") else "a PNG without its end chunk (IEND)"
    if head.startswith(b"\xff\xd8\xff"):  # (only the end-of-image marker is FF D9 outside a thumbnail)
        return None if b"\xff\xd9" in tail else "a JPEG without its end marker"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return None if tail.endswith(b";") else "a GIF without its trailer"
    if head.startswith(b"RIFF") and len(head) >= 8:  # WEBP, WAV, AVI: the header gives the length
        declared = int.from_bytes(head[4:8], "little") + 8
        return f"{size} of the {declared} bytes its header declares" if size < declared else None
    if head[4:8] == b"ftyp":  # MP4 / MOV: its top-level boxes must end at the end of the file
        return _boxes_cut(path, size)
    return None


def _boxes_cut(path: Path, size: int) -> str | None:
    with open(path, "rb") as f:
        at = 0
        for _ in range(_MAX_BOXES):
            if at >= size:
                break
            f.seek(at)
            header = f.read(16)
            if len(header) < 8:
                break
            length = int.from_bytes(header[:4], "big")
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:  # the last box runs to the end of the file
                return None
            if length < 8:
                return None  # not a box structure we can follow: say nothing
            at += length
        else:
            return None
    return f"{size} bytes, while its boxes run to {at}" if at > size else None


def _arrived(head: bytes, content_type: str) -> str:
    """What arrived instead of the media, for the error message."""
    stripped = head.lstrip().lower()
    if not head:
        return "an empty file"
    if looks_like_html(head):
        return "an HTML page"
    if b"<svg" in stripped:
        return "an SVG drawing (vector markup that can carry scripts)"
    if stripped.startswith(b"<"):
        return "XML or other markup"
    if stripped.startswith((b"{", b"[")):
        return "JSON"
    if content_type.startswith("text/"):
        return content_type
    text = head.decode("utf-8", "ignore")
    if len(text.encode()) >= len(head) - 3 and all(c.isprintable() or c in "\r\n\t" for c in text):  # (a cut last char)
        return f"plain text (sent as {content_type or 'no type'})"  # an expired link's "AccessDenied…"
    return f"bytes in no format it can read (sent as {content_type}, starting {head[:8].hex(' ')})"


def check_media(head: bytes, content_type: str, expect: str | None, url: str) -> None:
    """Refuse bytes that are not the media asked for (an HTML error page or JSON served with a 200).

    An image must be a raster format Pillow reads: SVG, other markup and unknown bytes are refused (they could
    not be shown, and SVG can carry scripts). A video must be a container :func:`video_mime` knows (a paid task's
    video is done only once it is one). Audio lets unknown binary through (newer formats are not sniffed) but
    never text or markup."""
    if expect is None:
        return
    if expect == "image":
        if raster_format(head) is not None:
            return
        raise DownloadError(
            f"The file at {describe_url(url)} is not an image: the server sent {_arrived(head, content_type)} "
            "instead; nothing was stored.",
            hint="Generated images must be PNG, JPEG, WEBP, GIF, BMP, TIFF or AVIF. If the link expired or needs a "
                 "login, fetch a fresh result and try again.",
        )
    from .._inputs import sniff_mime

    if expect == "video":
        refused = video_mime(head) is None
    else:
        if sniff_mime(head, "").split("/")[0] == expect:
            return
        stripped = head.lstrip().lower()
        declared = content_type.split("/")[0]
        looks_textual = stripped.startswith(_TEXT_STARTS) or declared in ("text",) or content_type in (
            "application/json", "application/xml", "application/problem+json", "image/svg+xml")
        refused = looks_textual or not head  # unknown binary passes: newer formats are not sniffed
    if refused:
        raise DownloadError(
            f"The file at {describe_url(url)} is not {'an' if expect[0] in 'aeiou' else 'a'} {expect}: "
            f"the server sent {_arrived(head, content_type)} instead; nothing was stored.",
            hint="The result link may have expired or need a login; fetch a fresh result and try again.",
        )


def expired_error(url: str, status: int) -> DownloadError:
    return DownloadError(
        f"The file at {describe_url(url)} is no longer available (HTTP {status}).",
        hint=(
            "Vendor download URLs expire, usually within about a day. Fetch a fresh URL (for a video: "
            "session.resume(task_id)) and download it right away."
        ),
    )
