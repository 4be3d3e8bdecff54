"""Freed image buffers go back to the system (glibc), after each thumbnail decode."""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tokenhot_nb import _memory
from tokenhot_nb.history import Store, _artifacts
from tokenhot_nb.results import _base

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

_HELD = """
import sys
from PIL import Image
from tokenhot_nb._memory import release_freed

def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))

for _ in range(4):  # the first frees raise glibc's mmap threshold; later 16 MiB buffers come from the heap
    Image.new("RGB", (2048, 2048), (1, 2, 3)).load()
held = rss_kib()
released = release_freed()
print(released, held - rss_kib())
"""


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's (elsewhere release_freed does nothing)")
def test_a_freed_image_buffer_the_heap_kept_is_given_back() -> None:
    proc = subprocess.run([sys.executable, "-c", _HELD], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    released, freed_kib = proc.stdout.split()
    assert released == "True" and int(freed_kib) >= 8 * 1024, proc.stdout  # one 16 MiB buffer, at least half


def test_without_glibc_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_memory, "_looked", True)
    monkeypatch.setattr(_memory, "_trim", None)
    assert _memory.release_freed() is False


def _png(size: tuple[int, int] = (900, 700)) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def test_the_thumbnail_worker_and_the_display_copy_release_what_they_decoded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(_artifacts, "release_freed", lambda: calls.append("worker") or True)
    monkeypatch.setattr(_base, "release_freed", lambda: calls.append("display") or True)
    store = Store(tmp_path)
    art = store.add_bytes(_png(), "image/png")
    store.wait_thumbnails()
    assert calls == ["worker"]
    _base.thumbnail(store.path_of(art.sha256), 256)
    assert calls == ["worker", "display"]
    store.close()
