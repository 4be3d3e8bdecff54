"""ImageResult: one or many generated images, shown as lean inline thumbnails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from .._config import redact
from .._safe import text_html as escape
from ._base import (
    FileRef,
    PixelBombError,
    Result,
    UnreadableImageError,
    data_url,
    thumbnail,
    unreadable,
)
from ._save import destinations, save_image

if TYPE_CHECKING:
    from PIL.Image import Image

    from .._session import Session
    from ..history import HistoryEntry

SINGLE_PX = 768  # one image: big enough to judge, small enough to keep the notebook lean
GRID_PX = 256
ALT_CHARS = 100  # alt text: the prompt's start, enough to say what the picture is


class ImageItem(FileRef):
    """One stored image and its vendor-revised prompt."""

    @property
    def revised_prompt(self) -> str | None:
        value = self.extra.get("revised_prompt")
        return str(value) if value else None


def placeholder(exc: BaseException) -> str:
    """The line shown in place of an image that cannot be decoded (the message; a TokenhotError's without hint)."""
    return str(getattr(exc, "message", None) or exc)


class ImageResult(Result):
    """Images from ``image``/``edit``: ``res[i]``, ``.pil()``, ``.save(dir)``, ``.paths``, ``.revised_prompt``."""

    kind = "image"

    def __init__(self, items: list[ImageItem], *, prompt: str = "", text: str = "", model: str = "",
                 entry: HistoryEntry | None = None, session: Session | None = None) -> None:
        super().__init__(model=model, entry=entry, session=session)
        self.items = items
        self.prompt = prompt
        self.text = text  # any text the model returned beside the images (Gemini)
        self._thumbs: dict[tuple[int, int], tuple[bytes, str, int, int]] = {}

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> ImageResult: ...
    @overload
    def __getitem__(self, index: slice) -> ImageResult: ...
    def __getitem__(self, index: int | slice) -> ImageResult:
        items = self.items[index] if isinstance(index, slice) else [self._item(index)]
        return ImageResult(items, prompt=self.prompt, text=self.text, model=self.model, entry=self.entry,
                           session=self.session)

    def _item(self, index: int) -> ImageItem:
        """The image at ``index``; a position it has not, or one that is no whole number, is one clear line."""
        import operator

        from ..errors import OutOfRangeError, WrongTypeError

        try:
            i = operator.index(index)
        except TypeError:
            raise WrongTypeError(f"Image positions are whole numbers or slices, not {type(index).__name__} "
                                 f"({index!r:.40}).", hint="e.g. result[0] (the first), result[-1] (the last).") from None
        if not -len(self.items) <= i < len(self.items):
            raise OutOfRangeError(f"There is no image {i}: this result has {len(self.items)} "
                                  f"({f'0 to {len(self.items) - 1}' if self.items else 'none'}).",
                                  hint="Count from 0; result[-1] is the last; len(result) says how many.")
        return self.items[i]

    def __iter__(self) -> Iterator[ImageResult]:
        for i in range(len(self.items)):
            yield self[i]

    @property
    def paths(self) -> list[Path]:
        return [it.path for it in self.items]

    @property
    def path(self) -> Path:
        return self.items[0].path

    @property
    def mime(self) -> str:
        return self.items[0].mime

    @property
    def sha256(self) -> str:
        return self.items[0].sha256

    @property
    def revised_prompt(self) -> str | None:
        for it in self.items:
            if it.revised_prompt:
                return it.revised_prompt
        return None

    def data(self, index: int = 0) -> bytes:
        return self._item(index).path.read_bytes()

    def pil(self, index: int = 0) -> Image:
        """The image as a PIL image (loaded, so the file is not kept open)."""
        from PIL import Image as PILImage

        path = self._item(index).path
        try:
            with PILImage.open(path) as img:
                img.load()
                return img.copy()
        except FileNotFoundError:
            raise
        except PILImage.DecompressionBombError:  # (Pillow's error came with a traceback through its internals)
            raise UnreadableImageError(
                f"The image {path.name} has more pixels than Pillow decodes ({(PILImage.MAX_IMAGE_PIXELS or 0) * 2:,}), "
                "which protects this kernel's memory from a small file that decodes to gigabytes. The file is kept.",
                hint=f"If you trust it, raise PIL.Image.MAX_IMAGE_PIXELS and call .pil() again ({path}).") from None
        except Exception as exc:  # not an image, or a broken one: one line saying so
            raise unreadable(path, exc) from None

    def save(self, path: str | os.PathLike[str] = ".", stem: str | None = None) -> list[Path]:
        """Copy the images out of the store and return the new paths: to a folder (``<stem>[-i].<ext>``, by
        default ``tokenhot-<entry id>``), or under a file name like Pillow's ``save`` (``"cat.png"``; several get
        ``cat-0.png``…; another image format converts: ``"cat.jpg"``)."""
        default = f"tokenhot-{self.entry_id}" if self.entry_id is not None else "tokenhot-image"
        dests = destinations(path, default, stem, [it.path.suffix for it in self.items])
        return [save_image(it.path, dest) for it, dest in zip(self.items, dests, strict=True)]

    def thumb(self, index: int = 0, max_px: int = GRID_PX) -> tuple[bytes, str, int, int]:
        item, size = self._item(index), _size(max_px, "max_px", "thumb(0, max_px=128)")
        key = (int(index) % len(self.items), size)  # (index is a valid position now: -1 and the last are one)
        if key not in self._thumbs:
            self._thumbs[key] = thumbnail(item.path, size)
        return self._thumbs[key]

    def alt_text(self, index: int = 0, width: int = ALT_CHARS) -> str:
        """What an image shows, for screen readers and broken images: the prompt, shortened (plain text;
        the caller escapes it)."""
        # redacted before the cut: cut first, a key pasted into the prompt would lose its end and go unrecognised
        width = _size(width, "width", "alt_text(0, width=60)")
        if self.items:  # (alt_text(5) said "6 of 2", alt_text(-1) "0 of 2")
            self._item(index)
            index = int(index) % len(self.items)
        text = redact(" ".join(str(self.prompt or self.revised_prompt or "").split())) or f"image from {self.model}"
        if len(text) > width:
            text = text[: width - 1].rstrip() + "…"
        return f"{text} ({index + 1} of {len(self.items)})" if len(self.items) > 1 else text

    def html(self, max_px: int = GRID_PX, caption: bool = True) -> str:
        """A grid of inline thumbnails (used for several images, batches and comparisons)."""
        max_px = _size(max_px, "max_px", "html(max_px=256)")
        cells = []
        for i in range(len(self.items)):
            try:
                data, mime, w, h = self.thumb(i, max_px)
            except (PixelBombError, UnreadableImageError) as exc:  # a placeholder line, the other images shown
                cells.append(f'<div style="font:12px sans-serif;margin:2px">{escape(placeholder(exc))}</div>')
                continue
            cells.append(
                f'<img src="{data_url(data, mime)}" alt="{escape(self.alt_text(i))}" width="{w}" height="{h}" '
                f'style="max-width:min({max_px}px,100%);height:auto;margin:2px" title="{i}">'
            )
        out = '<div style="display:flex;flex-wrap:wrap;align-items:flex-start">' + "".join(cells) + "</div>"
        if caption:
            if self.revised_prompt:
                out += f'<div style="font:12px sans-serif"><i>{escape(self.revised_prompt)}</i></div>'
            out += self._footer()
        return out

    def _plain(self) -> str:
        where = f", history #{self.entry_id}" if self.entry_id is not None else ""
        count = f"{len(self.items)} images" if len(self.items) != 1 else "1 image"
        first = f", {self.items[0].path}" if len(self.items) == 1 else ""
        rp = f"\nrevised prompt: {self.revised_prompt}" if self.revised_prompt else ""
        return f"<ImageResult {count} from {self.model}{where}{first}>{rp}"

    def _bundle(self) -> dict[str, Any]:
        """One image is shown once, as HTML: the only form in which every front end (JupyterLab included)
        gets its ``alt`` text (the prompt) and the footer; a second ``image/png`` copy would double the
        notebook. JupyterLab's sanitiser keeps ``data:`` images, so it shows in untrusted notebooks too."""
        if not self.items:
            return {}
        return {"text/html": self.html(SINGLE_PX) if len(self.items) == 1 else self.html()}


def _size(value: Any, name: str, example: str) -> int:
    """A pixel or character count given to a display method: a whole number above 0, else one clear line."""
    import operator

    from ..errors import InputError, WrongTypeError

    try:
        n = operator.index(value)
    except TypeError:
        raise WrongTypeError(f"{name} is a whole number, not {type(value).__name__} ({value!r:.40}).",
                             hint=f"e.g. result.{example}.") from None
    if n < 1:
        raise InputError(f"{name} must be 1 or more, not {n}.", hint=f"e.g. result.{example}.")
    return n
