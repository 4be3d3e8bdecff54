"""Input media (images, audio, video given to a call): stored once so params can reference them, fetched when
an endpoint needs the bytes of a URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._inputs import Media, sniff_mime
from .recording import incoming

if TYPE_CHECKING:
    from .core import Session


def store_media(session: Session, media: Media) -> Media:
    """Put an input in the store once (dedup by hash) so params can reference it."""
    if media.url is None and media.sha256 is None and media.data is not None:
        art = session.store.add_bytes(media.data, media.mime, media.name)
        media.sha256 = art.sha256
    return media


async def fetch(session: Session, media: Media) -> Media:
    """Download a URL input (for endpoints that need the bytes), keeping its URL ref for params."""
    if media.data is None and media.url:
        dl = await session.client.download(media.url, incoming(session))
        data = dl.path.read_bytes()
        dl.path.unlink(missing_ok=True)
        media.data = data
        media.mime = sniff_mime(data, dl.content_type or media.mime)
    return media
