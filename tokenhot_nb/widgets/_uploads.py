"""Files coming in through ``FileUpload`` widgets, and copies going out next to the notebook."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w


def uploaded(upload: w.FileUpload) -> list[tuple[bytes, str, str]]:
    """(bytes, name, mime) of each file in a FileUpload (ipywidgets 8 value shape: a tuple of dicts)."""
    files: list[tuple[bytes, str, str]] = []
    for item in upload.value or ():
        files.append((bytes(item["content"]), item.get("name") or "upload", item.get("type") or ""))
    return files


def clear_upload(upload: w.FileUpload) -> None:
    upload.value = ()


def save_copy(src: Path, name: str, folder: Path | str = ".") -> Path:
    """Copy an artifact next to the notebook under a readable name, never overwriting a file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = Path(name).stem, Path(name).suffix or src.suffix
    dest = folder / f"{stem}{suffix}"
    i = 1
    while dest.exists():
        dest = folder / f"{stem}-{i}{suffix}"
        i += 1
    dest.write_bytes(src.read_bytes())
    return dest
