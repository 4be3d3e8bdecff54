"""Giving freed image buffers back to the system.

A 2048² image decodes into a 16 MiB buffer. glibc's ``malloc`` serves the first such buffers with ``mmap`` and
unmaps them when freed, but each free raises its mmap threshold, after which buffers that size come from the heap
and stay there, free, once released: a kernel that made a few hundred images held one or two of them (17–35 MiB)
for good, depending on which threads freed them. :func:`release_freed` asks glibc to return free heap memory
(``malloc_trim(0)``, all arenas, about 2 µs when there is nothing to return); the thumbnail worker and a result's
display copy call it after each full-size decode. Elsewhere (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
_looked = False


def release_freed() -> bool:
    """Return the heap's free memory to the system where the C library can (glibc); whether it could."""
    global _trim, _looked
    if not _looked:
        _looked = True
        if sys.platform.startswith("linux"):
            try:
                _trim = ctypes.CDLL(None).malloc_trim
            except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
                _trim = None
    if _trim is None:
        return False
    _trim(0)
    return True
