"""Saving a result's files out of the store: to a folder, or under a file name the way Pillow's ``save`` takes one.

``img.save("cat.png")`` writes ``cat.png`` (it once made a folder of that name); ``img.save("cat.jpg")`` converts
with Pillow; ``img.save("out")`` keeps the stored names. A file that cannot be written is one line naming the path
(the store keeps its own copy, so nothing is lost), never an ``OSError`` from inside ``shutil``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import InputError


def destinations(path: str | os.PathLike[str], default_stem: str, stem: str | None,
                 suffixes: list[str]) -> list[Path]:
    """Where each file goes: ``path`` is a file name when it has a suffix, is not a folder that exists and does
    not end with ``/`` (several files then get ``-0``, ``-1``… before it); otherwise a folder, the files named ``<stem>[-i]<suffix>``
    there with the stored suffixes."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"save() takes a folder or a file name, not {type(path).__name__}.",
                         hint="e.g. result.save('out') or result.save('cat.png').")
    if "\x00" in os.fspath(path) or (isinstance(stem, str) and "\x00" in stem):  # (a bare ValueError from the OS)
        raise InputError(f"save() was given a name holding a NUL character ({os.fspath(path)!r:.80}"
                         f"{f', stem={stem!r:.40}' if stem else ''}), which no file name can hold.",
                         hint="e.g. result.save('out') or result.save('out', stem='cat').")
    target = Path(path).expanduser()
    several = len(suffixes) > 1
    if target.suffix and not target.is_dir() and not str(path).endswith(("/", os.sep)):
        if stem is not None:
            raise InputError(f"save() takes a file name ({str(path)!r}) or stem=, not both.",
                             hint=f"e.g. result.save({str(target.parent)!r}, stem={stem!r}), or drop stem=.")
        if not several:
            return [target]
        return [target.with_name(f"{target.stem}-{i}{target.suffix}") for i in range(len(suffixes))]
    if stem and (not isinstance(stem, str) or Path(stem).name != stem or stem in (".", "..") or "/" in stem
                 or os.sep in stem):
        raise InputError(f"stem= is the start of the file names, not a path: {stem!r:.80}.",
                         hint="Put the folder in the path and the name in stem=, e.g. result.save('out', stem='cat').")
    base = stem or default_stem
    return [target / f"{base}-{i}{suf}" if several else target / f"{base}{suf}" for i, suf in enumerate(suffixes)]


def copy_out(src: Path, dest: Path, *, what: str) -> Path:
    """``src`` copied to ``dest`` as it is; a suffix of another format is refused (a video or sound is not
    converted here)."""
    if dest.suffix.lower() != src.suffix.lower() and not _same_kind(dest.suffix, src.suffix):
        raise InputError(f"This {what} is {src.suffix or 'a file with no suffix'}: it cannot be saved as "
                         f"{dest.suffix} without converting it.",
                         hint=f"Save it as {dest.with_suffix(src.suffix).name!r}, or to a folder.")
    _writable(dest)
    try:
        shutil.copyfile(src, dest)
    except OSError as exc:
        raise _cannot(dest, exc) from None
    return dest


def write_text(dest: Path, text: str) -> Path:
    """``text`` written to ``dest`` as UTF-8, its newlines as they are (a transcript, which the store also keeps)."""
    _writable(dest)
    try:
        dest.write_bytes(text.encode("utf-8"))
    except OSError as exc:
        raise _cannot(dest, exc) from None
    return dest


def save_image(src: Path, dest: Path) -> Path:
    """``src`` copied to ``dest``, or converted by Pillow when ``dest`` names another image format (to RGB for
    formats without transparency, such as JPEG)."""
    from PIL import Image

    from ..history._artifacts import eight_bit

    fmt = Image.registered_extensions().get(dest.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise InputError(f"{dest.suffix} is not an image format Pillow can write.",
                         hint=f"Name the file with .png, .jpg or .webp; to save into a new folder {dest.name!r}, "
                              f"end the path with '/'.")
    if _same_kind(dest.suffix, src.suffix) or Image.registered_extensions().get(src.suffix.lower()) == fmt:
        return copy_out(src, dest, what="image")
    _writable(dest)
    try:
        with Image.open(src) as im:
            # 16-bit grey to an 8-bit format: stretched, not clipped at 255 (which saved a white picture)
            wide = im if fmt in ("PNG", "TIFF") else eight_bit(im)
            out = wide if fmt not in ("JPEG", "BMP", "PPM") or wide.mode in ("RGB", "L") else wide.convert("RGB")
            out.save(dest, format=fmt)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        dest.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise _cannot(dest, exc) from None
        raise InputError(f"This image could not be converted to {fmt}: {exc}.",
                         hint=f"Save it in its own format: {dest.with_suffix(src.suffix).name!r}.") from None
    return dest


def _same_kind(a: str, b: str) -> bool:
    return {a.lower(), b.lower()} <= {".jpg", ".jpeg"} or {a.lower(), b.lower()} <= {".tif", ".tiff"}


def _writable(dest: Path) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot(dest, exc) from None
    if dest.is_dir():
        raise InputError(f"{str(dest)!r} is a folder.", hint="Pass the folder alone, or another file name.")


def _cannot(dest: Path, exc: OSError) -> InputError:
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, (FileExistsError, NotADirectoryError)):  # ("File exists": a file where a folder must be)
        blocking = next((p for p in dest.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            reason = f"{str(blocking)!r} on that path is a file, not a folder"
    return InputError(f"Cannot save to {str(dest)!r}: {reason}.",
                      hint="Pick a folder you can write to; the history keeps its own copy, so nothing is lost.")
