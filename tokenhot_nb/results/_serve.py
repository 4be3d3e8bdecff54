"""Put a stored media file where the notebook front end can fetch it, for players that reference files.

HTML outputs reference media by a path relative to the kernel's working directory (the notebook's folder).
JupyterLab and Notebook 7 resolve such a path through the server's ``/files/`` handler, which refuses
*hidden* paths (any part starting with ``.``) unless the server runs with
``--ContentsManager.allow_hidden=True``; an exported HTML page next to the notebook resolves it on disk.
The default store, ``.tokenhot/``, is hidden, and a store may also live outside the notebook's folder.

The rule (:func:`servable_path`): a file whose relative path is *servable* (inside the working directory,
no hidden part) is referenced where it is. Any other file is *published* once, lazily, when a player for it
is first displayed: hard-linked (copied when links are impossible, e.g. across file systems) to
``tokenhot-media/<sha256><suffix>`` in a visible folder — next to the store folder when that place is
servable, else in the working directory; ``TOKENHOT_MEDIA_DIR`` names another folder — and that copy is
referenced. Hard links cost no disk space; the name is the content hash, so publishing is idempotent and two
kernels never clash. Nothing is embedded. Delete the folder at any time (the next display recreates what it
needs); add it to ``.gitignore``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

#: Name of the visible folder that published media go to.
MEDIA_DIR = "tokenhot-media"
#: Environment variable naming that folder explicitly (relative to the working directory, or absolute).
MEDIA_DIR_ENV = "TOKENHOT_MEDIA_DIR"

_SHA = re.compile(r"[0-9a-f]{64}")


def _relative(path: Path, cwd: Path) -> Path | None:
    """``path`` relative to ``cwd`` when it lies inside it (lexically, symlinks not followed), else None."""
    try:
        rel = Path(os.path.relpath(Path(path).absolute(), cwd.absolute()))
    except ValueError:  # another drive on Windows
        return None
    if rel.parts and rel.parts[0] == os.pardir:
        return None
    return rel


def servable(path: Path, cwd: Path | None = None) -> bool:
    """True when a front end serving the working directory can fetch ``path`` by its relative path:
    inside ``cwd`` and no part of the relative path is hidden (starts with ``.``)."""
    rel = _relative(path, cwd or Path.cwd())
    return rel is not None and not any(part.startswith(".") for part in rel.parts)


def media_dir(path: Path, cwd: Path | None = None) -> Path:
    """Where ``path`` is published: ``$TOKENHOT_MEDIA_DIR`` when set, else ``tokenhot-media/`` next to its
    store folder when that is servable (``<store>/artifacts/ab/<sha>.mp4`` → ``<store>/../tokenhot-media``),
    else ``tokenhot-media/`` in the working directory."""
    cwd = cwd or Path.cwd()
    configured = os.environ.get(MEDIA_DIR_ENV, "").strip()
    if configured:
        return (cwd / Path(configured).expanduser()).absolute()
    path = Path(path).absolute()
    if len(path.parents) >= 4 and path.parents[1].name == "artifacts":
        beside_store = path.parents[3] / MEDIA_DIR
        if servable(beside_store, cwd):
            return beside_store
    return cwd.absolute() / MEDIA_DIR


def _content_name(path: Path, sha256: str) -> str:
    if _SHA.fullmatch(path.stem):
        return path.name
    if not _SHA.fullmatch(sha256 or ""):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        sha256 = digest.hexdigest()
    return sha256 + path.suffix


def publish(path: Path, sha256: str = "", cwd: Path | None = None) -> Path:
    """A hard link (or copy) of ``path`` in :func:`media_dir`, named by content; made once, reused after."""
    path = Path(path)
    folder = media_dir(path, cwd)
    dest = folder / _content_name(path, sha256)
    if dest.exists() and dest.stat().st_size == path.stat().st_size:
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{dest.name}.{uuid.uuid4().hex}.tmp"
    try:
        try:
            os.link(path, tmp)
        except OSError:  # no hard links here (another file system, FAT, some network shares): copy
            shutil.copyfile(path, tmp)
        os.replace(tmp, dest)  # atomic: a reader never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def servable_path(path: Path, sha256: str = "", cwd: Path | None = None) -> Path:
    """``path`` itself when it is servable, else its published copy (see the module docstring).

    Never fails a display: when publishing is impossible (read-only folder…) the original path is returned.
    """
    if servable(path, cwd):
        return Path(path)
    try:
        return publish(path, sha256, cwd)
    except OSError:
        return Path(path)


__all__ = ["MEDIA_DIR", "MEDIA_DIR_ENV", "media_dir", "publish", "servable", "servable_path"]
