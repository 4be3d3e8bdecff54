"""Content-addressed artifact files: ``<folder>/<sha[:2]>/<sha256><suffix>``, written atomically.

Every large file is written to a temp file in its final folder, then ``os.replace``d to ``<sha256><suffix>``; a
small one (a chat answer) is one ``write`` to an exclusively created file. Either way a file with a sha name is
complete once its writer moves on, and a killed process never leaves half of one (the page cache outlives it, and
a single small write is not interrupted half-way); there is no fsync, so the newest writes may be lost on power
loss, never half-written. Images get their thumbnail when they are stored (``artifacts/thumbs/<sha>-96.jpg``, made
by a background worker), so showing the history never decodes a full image.

:class:`ArtifactFiles` is a mixin of :class:`~tokenhot_nb.history._store.Store`: the files live here, while
each artifact's metadata row (mime, size, name, suffix) is read and written in the store's database through
the store's ``_conn`` / ``_tx``, and every :class:`Artifact` returned is bound to the store itself.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import io
import json
import mimetypes
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .._atomic import replacing
from .._config import Secret
from .._memory import release_freed
from ._entry import SHA_RE, Artifact, jsonable

if TYPE_CHECKING:
    from ._store import Store

THUMB_PX = 96
TEMP_PREFIX = ".tmp-"
#: Artifacts up to this size are written with one ``write`` (see :meth:`ArtifactFiles._write_new`).
SMALL_WRITE = 64 * 1024
#: Texts up to this size are kept in the database (``artifacts.data``) instead of a file of their own: a chat
#: answer then costs no file creation (5–300 µs of kernel time on a shared VM, and an inode per call). A file is
#: made the first time something asks for its path (:meth:`ArtifactFiles.path_of`).
INLINE_MAX = 64 * 1024


def kept_inline(mime: str, size: int) -> bool:
    """Whether an artifact of this type and size lives in the database rather than in a file."""
    return size <= INLINE_MAX and (mime.startswith("text/") or mime == "application/json")

_T = TypeVar("_T")
#: A metadata row; an artifact kept in the database brings its bytes (``data``), which also fill a row registered
#: before without them (its file lost).
_REGISTER_SQL = ("INSERT INTO artifacts(sha256, mime, size, name, suffix, created, data) VALUES (?,?,?,?,?,?,?) "
                 "ON CONFLICT(sha256) DO UPDATE SET data=excluded.data "
                 "WHERE artifacts.data IS NULL AND excluded.data IS NOT NULL")
_Row = tuple[str, str, int, str, str, float, "bytes | None"]
_ARTIFACT_NAME = re.compile(r"^([0-9a-f]{64})(\.[A-Za-z0-9]{1,10})?$")

_MIME_SUFFIX = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/webp": ".webp", "image/gif": ".gif",
    "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov",
    "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/mpeg": ".mp3", "audio/mp3": ".mp3",
    "audio/ogg": ".ogg", "audio/flac": ".flac", "audio/aac": ".aac", "audio/opus": ".opus", "audio/pcm": ".pcm",
    "text/plain": ".txt", "application/json": ".json", "application/x-subrip": ".srt", "text/vtt": ".vtt",
}


def suffix_for(mime: str, name: str = "") -> str:
    """File suffix for an artifact: from the MIME type, else from the name."""
    mime = (mime or "").split(";")[0].strip().lower()
    if mime in _MIME_SUFFIX:
        return _MIME_SUFFIX[mime]
    guessed = mimetypes.guess_extension(mime) if mime else None
    if guessed and re.fullmatch(r"\.[A-Za-z0-9]{1,10}", guessed):
        return guessed
    suf = Path(name).suffix
    return suf if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suf) else ""


def mime_for(path: str | Path) -> str:
    suf = Path(path).suffix.lower()
    for mime, s in _MIME_SUFFIX.items():
        if s == suf:
            return mime
    return mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def eight_bit(img: Any) -> Any:
    """``img`` (a PIL image) with 16- and 32-bit grey (``I;16``, ``I``, ``F``) stretched to 8-bit ``L``, else
    itself: Pillow cannot shrink an ``I;16`` image ("image has wrong mode", so a valid 16-bit PNG showed as
    broken) and its ``convert("RGB")`` clips every value above 255, which turned such an image white."""
    if not (img.mode.startswith("I;16") or img.mode in ("I", "F")):
        return img
    wide = img if img.mode in ("I", "F") else img.convert("I")
    lo, hi = wide.getextrema()
    scale = 255.0 / (hi - lo) if hi > lo else 1.0
    return wide.point(lambda v: v * scale - lo * scale).convert("L")


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


_THUMB_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_THUMB_POOL_LOCK = threading.Lock()


def _thumb_pool() -> concurrent.futures.ThreadPoolExecutor:
    """One background worker for thumbnails (shared by every store; started on first use)."""
    global _THUMB_POOL
    with _THUMB_POOL_LOCK:
        if _THUMB_POOL is None:
            _THUMB_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenhot-thumbs",
                                                                initializer=_thumb_worker_started)
        return _THUMB_POOL


#: Forks this process came through: a store's thumbnail jobs from before the last one will never end here.
_forks = 0


def _after_fork() -> None:
    """The child has none of its parent's threads: the pool's worker is not there to run anything submitted."""
    global _THUMB_POOL, _THUMB_POOL_LOCK, _forks
    _THUMB_POOL, _THUMB_POOL_LOCK = None, threading.Lock()
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _thumb_worker_started() -> None:
    """A store closed while the worker holds a connection to it has the worker close it, as its next job."""
    from ._store import serves_later

    serves_later(_thumb_pool().submit)


class ArtifactFiles:
    """The artifact-file half of :class:`Store`: ``root/artifacts/<sha[:2]>/<sha><suffix>`` + ``thumbs/``.

    The host class provides ``root``, ``secrets``, ``_conn()``, ``_tx()`` and ``count()`` (the database).
    """

    root: Path
    secrets: tuple[Secret | str, ...]
    artifacts_dir: Path
    thumbs_dir: Path
    _thumb_cache: dict[tuple[str, int], str | None]
    _audio_cache: dict[str, float | None]
    read_only: bool

    if TYPE_CHECKING:

        def problem(self, exc: BaseException) -> BaseException: ...

        def read_only_error(self) -> BaseException: ...

        def _conn(self) -> sqlite3.Connection: ...

        def _tx(self, fn: Callable[[sqlite3.Connection], _T], conn: sqlite3.Connection | None = None) -> _T: ...

        def count(self, conds: Sequence[Any] = ()) -> int: ...

    def _init_artifact_files(self) -> None:
        self._thumb_jobs: list[concurrent.futures.Future[None]] = []
        self._thumb_forks = _forks  #: :data:`_forks` when ``_thumb_jobs`` was started
        self._pending: list[_Row] = []
        self._pending_lock = threading.Lock()
        self.artifacts_dir = self.root / "artifacts"
        self.thumbs_dir = self.artifacts_dir / "thumbs"
        self._thumb_cache = {}
        self._audio_cache = {}
        self._unsaved: dict[str, Path] = {}
        self._unsaved_dir: Path | None = None

    def _bind(self, artifact: Artifact) -> Artifact:
        """``artifact`` bound to the store (``self``), so ``artifact.path`` resolves through it."""
        return artifact.bind(cast("Store", self))

    # ------------------------------------------------------------ files

    def _shard(self, sha: str) -> Path:
        return self.artifacts_dir / sha[:2]

    def _check_sha(self, sha: str) -> str:
        sha = str(sha).lower()
        if not SHA_RE.match(sha):
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return sha

    def _existing(self, sha: str, suffix: str | None = None) -> Path | None:
        """The file holding ``sha``: the ``suffix`` guess, the registered suffix, else any suffix on disk."""
        shard = self._shard(sha)
        if suffix is not None:
            p = shard / f"{sha}{suffix}"
            if p.exists():
                return p
        row = self._conn().execute("SELECT suffix FROM artifacts WHERE sha256=?", (sha,)).fetchone()
        if row is not None and row[0] != suffix:
            p = shard / f"{sha}{row[0]}"
            if p.exists():
                return p
        try:  # a file written by a writer killed before it registered it, or one with another suffix
            with os.scandir(shard) as it:
                for e in it:
                    if e.name.startswith(sha) and _ARTIFACT_NAME.match(e.name):
                        return shard / e.name
        except (FileNotFoundError, NotADirectoryError):
            pass
        return None

    def path_of(self, sha256: str) -> Path:
        """Where an artifact lives; ``FileNotFoundError`` when the store does not hold it."""
        sha = self._check_sha(sha256)
        p = self._existing(sha) or self._unsaved.get(sha) or self._file_from_database(sha)
        if p is None:
            raise FileNotFoundError(f"artifact {sha} is not in the store {self.root}")
        return p

    def _inline(self, sha: str) -> tuple[bytes, str, str] | None:
        """``(bytes, mime, suffix)`` of an artifact kept in the database (or about to be: its row waits for the
        next commit), else ``None``."""
        with self._pending_lock:
            for row in reversed(self._pending):
                if row[0] == sha and row[6] is not None:
                    return row[6], row[1], row[4]
        try:
            got = self._conn().execute("SELECT data, mime, suffix FROM artifacts WHERE sha256=? AND data IS NOT NULL",
                                       (sha,)).fetchone()
        except sqlite3.OperationalError:  # a schema 3 store read as it is: every artifact is a file
            return None
        return None if got is None else (bytes(got[0]), str(got[1]), str(got[2]))

    def _file_from_database(self, sha: str) -> Path | None:
        """The file of an artifact kept in the database, written the first time its path is asked for (in the
        store; a read-only store's goes to this process's private temp folder)."""
        found = self._inline(sha)
        if found is None:
            return None
        data, mime, suffix = found
        if not self.read_only:
            dest = self._shard(sha) / f"{sha}{suffix}"
            try:
                self._write_new(dest, data)
                return dest
            except OSError:
                pass
        try:
            self.keep_unsaved(data, mime)
        except OSError:
            return None
        return self._unsaved.get(sha)

    def read_artifact(self, sha256: str) -> bytes:
        """An artifact's bytes (from the database for one kept there: no file is made)."""
        sha = self._check_sha(sha256)
        found = self._inline(sha)
        return found[0] if found is not None else self.path_of(sha).read_bytes()

    def keep_unsaved(self, data: bytes, mime: str) -> Artifact:
        """An output the store could not take (disk full, read-only), kept for this process only: written to a
        private temporary folder outside the store, found by :meth:`path_of`, never recorded. A result already
        paid for still shows and saves; ``OSError`` when even that is impossible."""
        data = bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        if self._unsaved_dir is None:
            import atexit

            self._unsaved_dir = Path(tempfile.mkdtemp(prefix="tokenhot-unsaved-"))
            atexit.register(shutil.rmtree, self._unsaved_dir, ignore_errors=True)  # this process's copies only
        dest = self._unsaved_dir / f"{sha}{suffix_for(mime)}"
        if not dest.exists():
            self._atomic_write(dest, data)
        self._unsaved[sha] = dest
        return self._bind(Artifact(sha, mime, len(data), ""))

    def has(self, sha256: str) -> bool:
        try:
            sha = self._check_sha(sha256)
        except ValueError:
            return False
        return self._existing(sha) is not None or self._inline(sha) is not None

    def artifact(self, sha256: str) -> Artifact:
        """Metadata of a stored artifact (``KeyError`` when unknown)."""
        sha = self._check_sha(sha256)
        row = self._conn().execute("SELECT mime, size, name FROM artifacts WHERE sha256=?", (sha,)).fetchone()
        if row is None:
            p = self.path_of(sha)
            return self._bind(Artifact(sha, mime_for(p), p.stat().st_size, ""))
        return self._bind(Artifact(sha, row[0], row[1], row[2]))

    def _register(self, sha: str, mime: str, size: int, name: str, suffix: str, *, now: bool = True,
                  data: bytes | None = None) -> None:
        """Record an artifact's metadata row; ``now=False`` leaves it for the store's next transaction.

        A recorded call stores its answer and then finishes its history row: deferring the metadata row into
        that same transaction saves one commit per call. Until then (or if the process dies first) the file is
        complete and found by :meth:`path_of`, like a file whose writer died before registering it.
        """
        row: _Row = (sha, mime, size, name, suffix, time.time(), data)
        if now:
            self._tx(lambda c: c.executemany(_REGISTER_SQL, [row]))
        else:
            with self._pending_lock:
                self._pending.append(row)

    def _flush_pending(self, conn: sqlite3.Connection) -> list[_Row]:
        """Inside a transaction: write the metadata rows left by ``_register(now=False)``; returns them so a
        transaction that is rolled back can put them back (:meth:`_restore_pending`)."""
        if not self._pending:
            return []
        with self._pending_lock:
            rows, self._pending = self._pending, []
        try:
            conn.executemany(_REGISTER_SQL, rows)
        except BaseException:  # not written (disk full…): they wait for the next transaction, as if never taken
            self._restore_pending(rows)
            raise
        return rows

    def _restore_pending(self, rows: list[_Row]) -> None:
        if rows:
            with self._pending_lock:
                self._pending[:0] = rows

    @staticmethod
    def _via_temp(dest: Path, fill: Callable[[int, str], None]) -> None:
        """``fill(fd, temp_path)`` a temp file in the final folder, then ``os.replace`` it to ``dest``: a reader
        (or a writer killed half-way) never sees half a file under a sha name. ``fill`` closes ``fd``."""
        with replacing(dest, prefix=TEMP_PREFIX, suffix=".part") as (fd, tmp):
            fill(fd, tmp)

    def _atomic_write(self, dest: Path, data: bytes) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)

        def write(fd: int, _tmp: str) -> None:
            with os.fdopen(fd, "wb") as f:
                f.write(data)

        self._via_temp(dest, write)

    def _write_new(self, dest: Path, data: bytes) -> bool:
        """A new artifact file. Small ones are one ``write`` to an exclusively created file: a killed process
        cannot stop a single small write half-way, so the temp file + rename (and its extra syscalls) buys
        nothing there; large ones go through :meth:`_atomic_write`."""
        if len(data) > SMALL_WRITE:
            self._atomic_write(dest, data)
            return True
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            try:
                fd = os.open(dest, flags, 0o644)
            except FileNotFoundError:  # the shard's first file
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(dest, flags, 0o644)
        except FileExistsError:  # stored before (a writer that died before registering it, or another writer)
            return False
        ok = False
        try:
            ok = os.write(fd, data) == len(data)
        finally:
            os.close(fd)
            if not ok:  # failed or short (disk full…): never leave a partial file under a sha name
                try:
                    os.unlink(dest)
                except OSError:
                    pass
        if not ok:
            self._atomic_write(dest, data)
        return True

    def _thumbnail_now(self, sha: str, mime: str) -> None:
        """Start an image's thumbnail as it is stored (once), so showing the history never decodes a full image.

        It is made on a background worker: decoding a 2048² image takes tens of milliseconds that the call
        itself need not wait for. Showing the image before it is done makes it then (same file, written
        atomically); :meth:`wait_thumbnails` waits for the started ones (``Store.close`` does).
        """
        if not mime.startswith("image/") or mime in ("image/svg+xml",):
            return
        self._forked()
        with self._pending_lock:
            self._thumb_jobs = [f for f in self._thumb_jobs if not f.done()]
            self._thumb_jobs.append(_thumb_pool().submit(self._thumb_file, sha))

    def _forked(self) -> None:
        """In a forked child: forget the parent's thumbnail jobs (no worker here will end them: waiting for them
        would take the whole timeout) and its lock (a parent's thread may have held it)."""
        if self._thumb_forks != _forks:
            self._pending_lock = threading.Lock()
            self._thumb_jobs = []
            self._thumb_forks = _forks

    def _thumb_file(self, sha: str) -> None:
        jpg = self.thumbs_dir / f"{sha}-{THUMB_PX}.jpg"
        png = self.thumbs_dir / f"{sha}-{THUMB_PX}.png"
        if jpg.exists() or png.exists():
            return
        try:
            self._make_thumbnail(sha, THUMB_PX, jpg, png)
        except Exception:  # a broken or unsupported image is still stored; it just has no thumbnail
            pass
        finally:
            release_freed()  # the full-size buffer just decoded (and the call's own, freed before it)

    def wait_thumbnails(self, timeout: float | None = 60.0) -> None:
        """Wait until the thumbnails started for stored images are written."""
        self._forked()
        with self._pending_lock:
            jobs, self._thumb_jobs = self._thumb_jobs, []
        concurrent.futures.wait(jobs, timeout=timeout)

    def add_bytes(self, data: bytes, mime: str, name: str = "", *, register_now: bool = True) -> Artifact:
        """Store bytes once (dedup by sha256), atomically.

        ``register_now=False``: the metadata row waits for the store's next transaction (the recording step
        finishes the call's row right after, so both land in one commit).
        """
        self._conn()  # opening the store finds out whether it can be written
        if self.read_only:
            raise self.read_only_error()
        try:
            return self._add_bytes(data, mime, name, register_now)
        except OSError as exc:  # disk full, folder not writable…: one StoreError naming the store
            raise self.problem(exc) from exc

    def _add_bytes(self, data: bytes, mime: str, name: str, register_now: bool) -> Artifact:
        data = bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        name = jsonable(name, self.secrets) if name else ""
        suffix = suffix_for(mime, name)
        if kept_inline(mime, len(data)):  # in the database: the metadata row's upsert is the dedup
            self._register(sha, mime, len(data), name, suffix, now=register_now, data=data)
            return self._bind(Artifact(sha, mime, len(data), name))
        if len(data) <= SMALL_WRITE:  # one exclusive create: an existing file (same bytes) is the dedup
            registered = self._registered_suffix(sha)
            if registered is not None and (self._shard(sha) / f"{sha}{registered}").exists():
                suffix = registered
            elif self._write_new(self._shard(sha) / f"{sha}{suffix}", data):
                self._thumbnail_now(sha, mime)
        else:
            existing = self._existing(sha, suffix)
            if existing is None:
                self._write_new(self._shard(sha) / f"{sha}{suffix}", data)
                self._thumbnail_now(sha, mime)
            else:
                suffix = existing.name[64:]
        self._register(sha, mime, len(data), name, suffix, now=register_now)
        return self._bind(Artifact(sha, mime, len(data), name))

    def _registered_suffix(self, sha: str) -> str | None:
        row = self._conn().execute("SELECT suffix FROM artifacts WHERE sha256=?", (sha,)).fetchone()
        return None if row is None else str(row[0])

    def add_file(
        self, path: str | os.PathLike[str], mime: str, name: str = "", sha256: str | None = None,
        *, keep_source: bool = False,
    ) -> Artifact:
        """Move a (downloaded temp) file into the store; ``keep_source=True`` copies instead."""
        self._conn()  # opening the store finds out whether it can be written
        if self.read_only:
            raise self.read_only_error()
        try:
            return self._add_file(path, mime, name, sha256, keep_source)
        except FileNotFoundError:
            raise
        except OSError as exc:  # disk full, folder not writable…: one StoreError naming the store
            raise self.problem(exc) from exc

    def _add_file(self, path: str | os.PathLike[str], mime: str, name: str, sha256: str | None,
                  keep_source: bool) -> Artifact:
        src = Path(path)
        sha = sha256_file(src) if sha256 is None else self._check_sha(sha256)
        size = src.stat().st_size
        name = jsonable(name or "", self.secrets)
        suffix = suffix_for(mime, name or src.name)
        existing = self._existing(sha, suffix)
        if existing is not None:
            suffix = existing.name[64:]
            if not keep_source:
                src.unlink(missing_ok=True)
        else:
            dest = self._shard(sha) / f"{sha}{suffix}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            moved = False
            if not keep_source:  # a complete file renamed in at once (atomic); a copy goes through a temp file
                try:
                    os.replace(src, dest)
                    moved = True
                except OSError:  # another file system: copy below
                    moved = False
            if not moved:

                def copy(fd: int, tmp: str) -> None:
                    os.close(fd)
                    shutil.copyfile(src, tmp)

                self._via_temp(dest, copy)
                if not keep_source:
                    src.unlink(missing_ok=True)
            self._thumbnail_now(sha, mime)
        self._register(sha, mime, size, name, suffix)
        return self._bind(Artifact(sha, mime, size, name))

    def artifact_files(self) -> Iterator[Path]:
        """Complete artifact files on disk (temp files and thumbnails are not artifacts)."""
        if not self.artifacts_dir.is_dir():
            return
        for shard in sorted(self.artifacts_dir.iterdir()):
            if shard.is_dir() and re.fullmatch(r"[0-9a-f]{2}", shard.name):
                for p in sorted(shard.iterdir()):
                    if _ARTIFACT_NAME.match(p.name):
                        yield p

    def temp_files(self) -> list[Path]:
        return sorted(self.artifacts_dir.glob(f"*/{TEMP_PREFIX}*")) if self.artifacts_dir.is_dir() else []

    def cleanup_temp(self, max_age: float = 3600.0) -> int:
        """Delete temp files left by killed writers (older than ``max_age`` s, so live writes are safe)."""
        n = 0
        cutoff = time.time() - max_age
        for p in self.temp_files():
            try:
                if p.stat().st_mtime <= cutoff:
                    p.unlink()
                    n += 1
            except OSError:
                pass
        return n

    def check(self, *, hash_artifacts: bool = True) -> dict[str, Any]:
        """Integrity report: SQLite ``integrity_check``, artifacts referenced but missing, corrupt files."""
        conn = self._conn()
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        corrupt: list[str] = []
        on_disk: set[str] = set()
        for p in self.artifact_files():
            sha = p.name[:64]
            on_disk.add(sha)
            if hash_artifacts and sha256_file(p) != sha:
                corrupt.append(sha)
        try:
            kept = conn.execute("SELECT sha256, data FROM artifacts WHERE data IS NOT NULL").fetchall()
        except sqlite3.OperationalError:  # a schema 3 store read as it is: every artifact is a file
            kept = []
        for sha, data in kept:
            if sha not in on_disk and hash_artifacts and hashlib.sha256(data).hexdigest() != sha:
                corrupt.append(sha)
            on_disk.add(sha)
        referenced: set[str] = set()
        for (outputs,) in conn.execute("SELECT outputs FROM entries"):
            for o in json.loads(outputs or "[]"):
                if isinstance(o, dict) and o.get("sha256"):
                    referenced.add(o["sha256"])
        return {
            "integrity": integrity,
            "entries": self.count(),
            "artifacts": len(on_disk),
            "missing": sorted(referenced - on_disk),
            "corrupt": corrupt,
            "temp_files": len(self.temp_files()),
        }

    # ------------------------------------------------------------ thumbnails / media facts

    def thumbnail(self, sha256: str, max_px: int = THUMB_PX) -> str | None:
        """A small JPEG/PNG data URI of an image artifact, cached on disk under ``artifacts/thumbs``."""
        key = (sha256, max_px)
        if key in self._thumb_cache:
            return self._thumb_cache[key]
        uri: str | None = None
        try:
            sha = self._check_sha(sha256)
            jpg = self.thumbs_dir / f"{sha}-{max_px}.jpg"
            png = self.thumbs_dir / f"{sha}-{max_px}.png"
            for p, mime in ((jpg, "image/jpeg"), (png, "image/png")):
                try:
                    uri = f"data:{mime};base64," + base64.b64encode(p.read_bytes()).decode("ascii")
                    break
                except FileNotFoundError:
                    continue
            if uri is None:
                uri = self._make_thumbnail(sha, max_px, jpg, png)
        except (OSError, ValueError, SyntaxError):
            uri = None
        except Exception:  # PIL raises its own errors on broken images
            uri = None
        if len(self._thumb_cache) > 4096:
            self._thumb_cache.clear()
        self._thumb_cache[key] = uri
        return uri

    def _make_thumbnail(self, sha: str, max_px: int, jpg: Path, png: Path) -> str | None:
        from PIL import Image

        src = self.path_of(sha)
        with Image.open(src) as im:
            if im.size[0] * im.size[1] > 40_000_000:  # a pixel bomb: not decoded for a thumbnail
                return None
            im.draft("RGB", (max_px, max_px))
            small = eight_bit(im)
            small.thumbnail((max_px, max_px))
            buf = io.BytesIO()
            if small.mode in ("RGBA", "LA") or (small.mode == "P" and "transparency" in small.info):
                small.convert("RGBA").save(buf, "PNG", optimize=True)
                dest, mime = png, "image/png"
            else:
                small.convert("RGB").save(buf, "JPEG", quality=75)
                dest, mime = jpg, "image/jpeg"
        data = buf.getvalue()
        if not self.read_only:  # a read-only store still shows thumbnails; it just does not keep them
            try:
                self._atomic_write(dest, data)
            except OSError:
                pass
        return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")

    def audio_duration(self, sha256: str) -> float | None:
        """Seconds of a WAV artifact (read from its header), else ``None``."""
        if sha256 in self._audio_cache:
            return self._audio_cache[sha256]
        seconds: float | None = None
        try:
            with wave.open(str(self.path_of(sha256)), "rb") as w:
                rate = w.getframerate()
                seconds = w.getnframes() / rate if rate else None
        except (OSError, ValueError, EOFError, wave.Error):
            seconds = None
        self._audio_cache[sha256] = seconds
        return seconds
