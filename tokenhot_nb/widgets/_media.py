"""Thumbnails and players: images, videos and audio pushed through the widget channel, or served by Jupyter
when they are too big for it."""

from __future__ import annotations

import html
import io
import os
from pathlib import Path

import ipywidgets as w

#: The notebook server drops comm messages around 10 MB; media above this goes through files.
INLINE_LIMIT = 8 * 1024 * 1024
#: Largest side of a gallery thumbnail pushed through the widget channel.
THUMB_SIDE = 512


def thumbnail(source: bytes | Path | str, max_side: int = THUMB_SIDE) -> tuple[bytes, str, tuple[int, int]]:
    """A downscaled copy for the widget channel: (bytes, format, (width, height)).

    PNG keeps transparency and small drawings sharp; large photos go as JPEG to stay light. An image of more
    pixels than the notebook decodes for display (a small file claiming 12000×12000 decoded to half a gigabyte
    per preview) raises :class:`~tokenhot_nb.results._base.PixelBombError` before any pixel is decoded.
    """
    from PIL import Image

    from ..history._artifacts import eight_bit
    from ..results._base import PixelBombError, check_pixels

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:  # (no warnings filter here: panels call this on their worker threads, where changing one is not safe)
        opened = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise PixelBombError(f"This image is too large to decode for display ({exc}); the file is kept.") from None
    with opened as img:
        check_pixels(*img.size)
        img.draft("RGB", (max_side, max_side))  # (a JPEG decodes at a fraction of its size)
        img.load()
        im = eight_bit(img.copy())
    im.thumbnail((max_side, max_side))
    out = io.BytesIO()
    if im.mode in ("RGBA", "LA", "P") or im.width * im.height <= 256 * 256:
        if im.mode not in ("RGB", "RGBA", "L", "LA"):
            im = im.convert("RGBA")
        im.save(out, format="PNG", optimize=False)
        fmt = "png"
    else:
        im.convert("RGB").save(out, format="JPEG", quality=88)
        fmt = "jpeg"
    return out.getvalue(), fmt, (im.width, im.height)


def image_widget(source: bytes | Path | str, max_side: int = THUMB_SIDE) -> w.Image:
    # No tooltip on Image: @jupyter-widgets/controls' ImageView fails to render one (updateTooltip bug).
    data, fmt, (width, _height) = thumbnail(source, max_side)
    img = w.Image(value=data, format=fmt, layout=w.Layout(max_width=f"{width}px", height="auto"))
    img.add_class("tokenhot-thumb")
    return img


def small_thumb(source: Path, label: str, max_side: int) -> w.VBox:
    """A small thumbnail with a short caption (the full label as the caption's tooltip)."""
    caption = w.HTML(f"<small>{html.escape(label.split(' ', 1)[0])}</small>", tooltip=label)
    box = w.VBox([image_widget(source, max_side), caption], layout=w.Layout(margin="0 4px 0 0"))
    box.add_class("tokenhot-small-thumb")
    return box


def served_urls(path: Path) -> list[str]:
    """URLs under which Jupyter's file handler serves ``path`` (for media too big for the widget channel).

    The kernel finds its server in the runtime dir and makes the path relative to its root; the plain
    relative ``files/…`` form is the fallback for servers it cannot see. The server refuses hidden paths such
    as ``.tokenhot/…`` unless it runs with ``--ContentsManager.allow_hidden=True``: :func:`media_html` first
    publishes such files to a visible folder (see :mod:`tokenhot_nb.results._serve`).
    """
    from urllib.parse import quote  # (a URL: a folder named "runs #2" or "100%" must not end or break it)

    path = Path(path).resolve()
    urls: list[str] = []
    try:
        from jupyter_server.serverapp import list_running_servers

        servers = list(list_running_servers())
    except Exception:  # no jupyter_server installed, or an unreadable runtime dir: the fallbacks remain
        servers = []
    for info in servers:
        root = info.get("root_dir") or info.get("notebook_dir")
        if not root:
            continue
        try:
            rel = path.relative_to(Path(root).resolve())
        except ValueError:
            continue
        base = info.get("base_url") or "/"
        urls.append(f"{base.rstrip('/')}/files/{quote(rel.as_posix())}")
    try:
        rel_cwd = os.path.relpath(path, Path.cwd())
        urls.append(f"/files/{quote(Path(rel_cwd).as_posix())}")
        urls.append(f"/voila/files/{quote(Path(rel_cwd).as_posix())}")
    except ValueError:
        pass
    return list(dict.fromkeys(urls))


def media_html(tag: str, path: Path, mime: str) -> str:
    """An ``<audio>``/``<video>`` tag that tries each served URL in turn (no bytes over the comm).

    A file Jupyter would not serve (in the hidden default store, or outside the notebook's folder) is first
    published to ``tokenhot-media/`` (a hard link) and offered from there; the store's own URLs follow, for
    servers started with ``--ContentsManager.allow_hidden=True``.
    """
    from ..results._serve import servable_path

    urls = served_urls(servable_path(path)) + served_urls(path)
    sources = "".join(f'<source src="{html.escape(u)}" type="{html.escape(mime)}">' for u in dict.fromkeys(urls))
    style = ' style="max-width:100%;max-height:480px"' if tag == "video" else ""
    return f'<{tag} controls preload="auto"{style}>{sources}</{tag}>'


#: A stored video's type by its suffix (the store names a file by the type its bytes say): a WebM offered to the
#: browser as ``type="video/mp4"`` may be skipped as a type it cannot play.
_VIDEO_TYPES = {".webm": "video/webm", ".mkv": "video/x-matroska", ".mov": "video/quicktime",
                ".avi": "video/x-msvideo", ".flv": "video/x-flv", ".mpg": "video/mpeg", ".mpeg": "video/mpeg"}


def video_widget(path: Path, limit: int = INLINE_LIMIT) -> w.Widget:
    """A player for a video file: inline bytes when small, else the file served by Jupyter."""
    size = path.stat().st_size
    if size <= limit:
        video = w.Video(value=path.read_bytes(), format=path.suffix.lstrip(".") or "mp4", controls=True,
                        autoplay=False, loop=False, layout=w.Layout(max_width="640px"))
        video.add_class("tokenhot-video")
        return video
    box = w.HTML(value=media_html("video", path, _VIDEO_TYPES.get(path.suffix.lower(), "video/mp4")))
    box.add_class("tokenhot-video")
    return box


def audio_widget(data_or_path: bytes | Path, mime: str = "audio/wav", limit: int = INLINE_LIMIT) -> w.Widget:
    """A player for audio: ``widgets.Audio`` with the bytes when small, else the file served by Jupyter."""
    fmt = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/ogg": "ogg"}.get(mime, "wav")
    if isinstance(data_or_path, bytes) or data_or_path.stat().st_size <= limit:
        data = data_or_path if isinstance(data_or_path, bytes) else data_or_path.read_bytes()
        audio = w.Audio(value=data, format=fmt, autoplay=False, loop=False, controls=True)
        audio.add_class("tokenhot-audio")
        return audio
    box = w.HTML(value=media_html("audio", data_or_path, mime))
    box.add_class("tokenhot-audio")
    return box
