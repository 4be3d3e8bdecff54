"""What every result shares: its history entry, provenance metadata, and key-free rendering helpers."""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config import redact
from .._memory import release_freed
from .._safe import text_html as escape
from ..errors import TokenhotError, clean_text

if TYPE_CHECKING:
    from .._session import Session
    from ..cost import Cost
    from ..history import HistoryEntry

MimeBundle = tuple[dict[str, Any], dict[str, Any]]


class Result:
    """Base of every result: knows the history entry it came from and renders without the key."""

    kind: str = ""

    def __init__(self, *, model: str = "", entry: HistoryEntry | None = None,
                 session: Session | None = None) -> None:
        self.model = model
        self.entry = entry
        self.session = session

    @property
    def entry_id(self) -> int | None:
        return getattr(self.entry, "id", None)

    def _session_said(self) -> str:
        """How a line this result offers names its session: ``tokenhot_nb.session()`` for the shared one (a magic's
        or a panel's, whose user has no variable for it), else ``session``."""
        from .._session.default import current

        return "tokenhot_nb.session()" if self.session is not None and self.session is current() else "session"

    @property
    def cost(self) -> Cost:
        """What the call cost, as its history row recorded it; unknown (``cost.known`` False, never an error) for a
        result that was not recorded or whose price nobody told."""
        from ..cost import UNKNOWN

        return self.entry.cost if self.entry is not None else UNKNOWN

    def provenance(self) -> dict[str, Any]:
        """Goes into every output's metadata so a saved notebook says where each output came from."""
        meta: dict[str, Any] = {"model": self.model, "kind": self.kind, "entry_id": self.entry_id}
        if self.entry is not None:
            meta["replay_key"] = getattr(self.entry, "replay_key", None)
            meta["session_id"] = getattr(self.entry, "session_id", None)
        return {"tokenhot": meta}

    def _plain(self) -> str:  # overridden
        return f"<{type(self).__name__} {self.model}>"

    def __repr__(self) -> str:
        # what a terminal prints (and every text/plain): no escape a relay sent may drive it (clipboard, screen)
        return redact(clean_text(self._plain()))  # (cleaned first: removing escapes may join a key they split)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _bundle(self) -> dict[str, Any]:  # overridden: the rich parts
        return {}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> MimeBundle:
        try:
            bundle = self._bundle()
        except Exception as exc:  # a stored file that went bad: one escaped line, never a traceback in the cell
            bundle = {"text/html": error_html(exc)}
        data = {k: (redact(v) if isinstance(v, str) and not k.startswith("image/") else v)
                for k, v in bundle.items()}
        data["text/plain"] = repr(self)
        meta = self.provenance()
        meta.update(self._bundle_metadata())
        return data, _redacted(meta)  # saved with the notebook too: a model or task id the relay chose is text

    def _bundle_metadata(self) -> dict[str, Any]:
        return {}

    def _footer(self) -> str:
        bits = [escape(self.model)] if self.model else []
        if self.entry_id is not None:
            bits.append(f"history #{self.entry_id}")
        if self.entry is not None and self.entry.cost.known:
            bits.append(escape(str(self.entry.cost)))
        return '<div style="font:11px sans-serif;color:#888">' + " · ".join(bits) + "</div>" if bits else ""


def _redacted(value: Any) -> Any:
    """``value`` (output metadata: dicts, lists and scalars) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_redacted(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    return value


@dataclass
class FileRef:
    """One stored output file."""

    path: Path
    mime: str
    sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def rel_url(path: Path) -> str:
    """A path relative to the kernel's working directory (the notebook's folder), for src= attributes.

    Frontends serve files relative to the notebook, so the output stays small and the file is not embedded. It
    is a URL, percent-encoded: a store folder named ``runs #2`` or ``100%`` gave ``src="runs #2/…"``, whose ``#``
    starts a fragment (JupyterLab decodes the path it asks its server for, and ``%`` alone fails to decode).
    """
    from urllib.parse import quote

    try:
        rel = os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive on Windows
        rel = str(path)
    return quote(rel.replace(os.sep, "/"))


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


#: An image with more pixels than this is not decoded for display (a "pixel bomb": a small file that would
#: decode to gigabytes); the output says so instead.
MAX_DISPLAY_PIXELS = 40_000_000


class PixelBombError(ValueError):
    """An image too large (in pixels) to decode for display."""


def check_pixels(w: int, h: int, what: str = "This image") -> None:
    if w * h > MAX_DISPLAY_PIXELS:
        raise PixelBombError(f"{what} is {w}×{h} pixels: too large to decode for display (the file is kept).")


class UnreadableImageError(TokenhotError, OSError):
    """A stored image Pillow cannot decode (not an image, an unknown format, a broken file): rendered as a
    short placeholder line, never a traceback; the file stays in the store."""


def unreadable(path: Path, exc: BaseException) -> UnreadableImageError:
    """The one-line error for a stored image that cannot be decoded (``exc``: what Pillow raised)."""
    from PIL import UnidentifiedImageError

    why = "it is not in an image format Pillow reads" if isinstance(exc, UnidentifiedImageError) else (
        f"it is broken ({type(exc).__name__}: {' '.join(str(exc).split())[:100]})")
    return UnreadableImageError(
        f"The image {path.name} cannot be shown: {why}. The file is kept.",
        hint=f"Open it with another viewer ({path}) or generate it again.",
    )


def thumbnail(path: Path, max_px: int, max_bytes: int = 150_000) -> tuple[bytes, str, int, int]:
    """A display copy: the file itself when small, else downscaled (JPEG unless it has transparency).

    Raises :class:`PixelBombError` (before decoding) for an image of more than ``MAX_DISPLAY_PIXELS`` and
    :class:`UnreadableImageError` for a file that is not a readable image."""
    try:
        return _thumbnail(path, max_px, max_bytes)
    except (PixelBombError, UnreadableImageError, FileNotFoundError):
        raise
    except Exception as exc:  # Pillow raises many kinds (OSError, SyntaxError, struct.error…) for a bad file
        raise unreadable(path, exc) from None
    finally:
        release_freed()  # the full-size image just decoded (see tokenhot_nb._memory)


def _thumbnail(path: Path, max_px: int, max_bytes: int) -> tuple[bytes, str, int, int]:
    from PIL import Image

    from ..history._artifacts import eight_bit

    try:
        img = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise PixelBombError(f"This image is too large to decode for display ({exc}); the file is kept.") from exc
    with img:
        w, h = img.size
        check_pixels(w, h)
        fmt = (img.format or "").upper()
        size = path.stat().st_size
        if w <= max_px and h <= max_px and size <= max_bytes and fmt in ("PNG", "JPEG", "GIF", "WEBP"):
            return path.read_bytes(), Image.MIME.get(fmt, "image/png"), w, h
        img.load()
        copy = eight_bit(img.copy())
    copy.thumbnail((max_px, max_px))
    buf = io.BytesIO()
    if copy.mode in ("RGBA", "LA") or (copy.mode == "P" and "transparency" in copy.info):
        copy.save(buf, format="PNG", optimize=True)
        mime = "image/png"
    else:
        copy.convert("RGB").save(buf, format="JPEG", quality=85)
        mime = "image/jpeg"
    return buf.getvalue(), mime, copy.width, copy.height


def error_html(err: BaseException) -> str:
    return (
        '<div style="font:12px sans-serif;color:#a94442;background:#f2dede;padding:6px;border-radius:3px">'
        f"<b>{escape(type(err).__name__)}</b>: {escape(redact(clean_text(str(err))))}</div>"
    )
