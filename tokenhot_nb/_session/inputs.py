"""Input media (images, audio, video given to a call): stored once so params can reference them, fetched when
an endpoint needs the bytes of a URL."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from .._config import redact
from .._inputs import MAX_INPUT_BYTES, Media, MediaKind, check_media
from ..errors import DownloadError, InputError
from .budget import estimates
from .recording import incoming

if TYPE_CHECKING:
    from .core import Session


def store_media(session: Session, media: Media) -> Media:
    """Put an input in the store once (dedup by hash) so params can reference it. Under an estimate only its hash
    is taken (the reference it would have): no call is made, so nothing is kept (a panel prices each file picked)."""
    if media.url is None and media.sha256 is None and media.data is not None:
        if estimates(session) is not None:
            media.sha256 = hashlib.sha256(media.data).hexdigest()
            return media
        art = session.store.add_bytes(media.data, media.mime, media.name)
        media.sha256 = art.sha256
    return media


async def fetch(session: Session, media: Media, kind: MediaKind) -> Media:
    """Download a URL input (for endpoints that need the bytes), keeping its URL ref for params. What arrives is
    checked like a file would be: a login page or an MP3 behind an image URL is not sent on to a paid call."""
    if media.data is None and media.url:
        try:
            dl = await session.client.download(media.url, incoming(session), expect=kind,
                                               max_bytes=MAX_INPUT_BYTES[kind], input=True)
        except DownloadError as exc:  # its message speaks of expiring vendor links: this is the user's own URL
            status = re.search(r"\(HTTP (\d{3})\)", exc.message)
            raise InputError(f"Could not download the input {redact(media.url)[:120]}"
                             + (f" (HTTP {status.group(1)})." if status else f": {exc.message}"),
                             hint="Check the URL (it must be public), or download the file and pass its path.") from None
        data = dl.path.read_bytes()
        dl.path.unlink(missing_ok=True)
        media.mime = check_media(data, kind, repr(redact(media.url)[:120]))  # redacted before the cut
        media.data = data
    return media
