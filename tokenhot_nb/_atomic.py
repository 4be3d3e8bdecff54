"""Files that appear whole or not at all: written beside their final name, then renamed over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(dest: Path, *, prefix: str = ".tmp-", suffix: str = ".part") -> Iterator[tuple[int, str]]:
    """A temp file in ``dest``'s folder (its open descriptor, which the block closes, and its path) that
    becomes ``dest`` with ``os.replace`` when the block ends; any error removes it. A reader never sees half a
    file, and a writer killed half-way leaves only a temp file (named ``prefix…suffix``, so it can be swept)."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dest.parent)
    try:
        yield fd, tmp
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
