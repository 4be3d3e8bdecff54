"""Per-server mutable state: current faults, fail-first counters, stored files and video tasks."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import random
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .faults import Faults


@dataclass
class StoredFile:
    data: bytes
    content_type: str


class FileStore:
    """The simulator's served files, kept on disk (a private temp folder), not in memory.

    A long offline session makes hundreds of images and videos; holding them all would grow the kernel without
    bound. Names are content-addressed, so a file is written once; reading one back (``get`` / ``[]``) gives a
    :class:`StoredFile` whose bytes live only as long as the response that sends them. The folder is removed when
    the state is garbage-collected or the process exits.
    """

    def __init__(self) -> None:
        self._types: dict[str, str] = {}
        self._dir: str | None = None
        self._lock = threading.Lock()

    def _folder(self) -> str:
        with self._lock:
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="tokenhot-sim-files-")
                weakref.finalize(self, shutil.rmtree, self._dir, True)
            return self._dir

    def put(self, name: str, data: bytes, content_type: str) -> None:
        if name in self._types:
            return
        path = os.path.join(self._folder(), name)
        tmp = f"{path}.{threading.get_ident()}.part"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        self._types[name] = content_type

    def get(self, name: str, default: StoredFile | None = None) -> StoredFile | None:
        content_type = self._types.get(name)
        if content_type is None or self._dir is None:
            return default
        try:
            with open(os.path.join(self._dir, name), "rb") as f:
                return StoredFile(f.read(), content_type)
        except FileNotFoundError:
            return default

    def __getitem__(self, name: str) -> StoredFile:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __len__(self) -> int:
        return len(self._types)


@dataclass
class VideoTask:
    """A simulated video job; it advances one stage per poll, never by wall clock."""

    id: str
    model: str
    prompt: str
    created_at: int
    seconds: float
    width: int
    height: int
    resolution: str
    ratio: str
    seed: int
    steps: int
    fail: bool
    polls: int = 0
    video_sha: str | None = None
    body: dict[str, Any] = field(default_factory=dict)
    first_frame: str | None = None
    quota: int = 0
    #: a digest of the token that created it: new-api looks tasks up by user and id, so another key's poll is
    #: told the task does not exist ("": a task saved by an older simulator, any key's)
    owner: str = ""
    #: how many videos the finished task lists (``Faults.video_count`` at its create)
    videos: int = 1


#: Claude prompt prefixes remembered per key and model (digests only: the prompts themselves are not kept).
PREFIXES_KEPT = 64


def loop_time() -> float:
    """The running event loop's clock (monotonic, or virtual under tests/_clock.py), else the monotonic clock."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


class SimState:
    """Shared by every request of one app; ``set_faults`` may be called from another thread."""

    def __init__(self, faults: Faults | None = None, task_dir: Path | None = None) -> None:
        from ._tasks import TaskBook

        self._lock = threading.Lock()
        self.faults = faults or Faults()
        self.fail_counts: dict[tuple[str, int], int] = {}
        self.rng = random.Random(0)
        self.files = FileStore()
        self.tasks = TaskBook(task_dir)  # on disk: tasks outlive this simulator, as the service's do
        self.video_cache: dict[str, str] = {}
        self._seq = itertools.count(1)
        self.spent_quota = 0  #: what simulated calls have been charged (the billing endpoints show it)
        self._charged_tasks: set[str] = set()
        self.clock: Callable[[], float] = loop_time  #: seconds, for the rate limiter's window (tests may replace it)
        self._served: dict[tuple[str, str], deque[float]] = {}  #: (key digest, model) → times of served calls
        #: (key digest, model) → the conversations sent lately (prompt caching: a prefix sent before is cached)
        self._prompts: dict[tuple[str, str], deque[list[Any]]] = {}
        #: (key digest, model) → digests of Claude prompt prefixes marked ``cache_control`` → when each expires
        self._prefixes: dict[tuple[str, str], OrderedDict[str, float]] = {}

    def set_faults(self, faults: Faults) -> None:
        faults.validate()
        with self._lock:
            self.faults = faults
            self.fail_counts.clear()
            self.rng = random.Random(0)
            self._served.clear()  # a fresh start for the limiter too, as for the fail-first counters

    def next_seq(self) -> int:
        return next(self._seq)

    def injected_status(self, faults: Faults) -> int | None:
        """The error status this request must answer with, if any (fail_first, then error_rates)."""
        with self._lock:
            tag = json.dumps(faults.fail_first, sort_keys=True)
            for status in sorted(faults.fail_first):
                key = (tag, status)
                used = self.fail_counts.get(key, 0)
                if used < faults.fail_first[status]:
                    self.fail_counts[key] = used + 1
                    return status
            for status in sorted(faults.error_rates):
                if self.rng.random() < faults.error_rates[status]:
                    return status
        return None

    @staticmethod
    def _limit_key(key: str, model: str) -> tuple[str, str]:
        return hashlib.sha256(key.encode()).hexdigest()[:16], model  # the key itself is not kept

    def rate_limited(self, key: str, model: str, limit: int, window: float) -> bool:
        """Whether ``key`` already had ``limit`` calls of ``model`` served in the last ``window`` seconds."""
        now = self.clock()
        with self._lock:
            served = self._served.get(self._limit_key(key, model))
            if served is None:
                return False
            while served and served[0] <= now - window:
                served.popleft()
            return len(served) >= limit

    def served(self, key: str, model: str) -> None:
        """Count a served call for the limiter (new-api counts the successful requests only)."""
        now = self.clock()
        with self._lock:
            self._served.setdefault(self._limit_key(key, model), deque()).append(now)

    def cached_items(self, key: str, model: str, items: list[Any]) -> int:
        """Prompt caching: how many leading items of ``items`` a conversation this key sent to ``model`` lately
        (the last 8) began with; ``items`` is remembered for the next call."""
        with self._lock:
            sent = self._prompts.setdefault(self._limit_key(key, model), deque(maxlen=8))
            # the longest first: the first that matches is the answer (a thread's turns all share its start, so
            # each comparison may walk the whole conversation)
            known = next((len(old) for old in sorted(sent, key=len, reverse=True)
                          if len(old) <= len(items) and items[:len(old)] == old), 0)
            sent.append(list(items))
        return known

    def cached_prefixes(self, key: str, model: str, prefixes: list[tuple[str, float]]) -> int:
        """Claude's prompt caching: how many of ``prefixes`` (digests of ever longer prompt prefixes, each ending at
        a ``cache_control`` breakpoint, with its TTL in seconds) lead up to the longest this key cached for
        ``model`` and is still alive (0: none). From now on each is cached for its TTL (a hit refreshes it), at
        most :data:`PREFIXES_KEPT` per key and model: the least lately used go first."""
        now = self.clock()
        with self._lock:
            book = self._prefixes.setdefault(self._limit_key(key, model), OrderedDict())
            hit = max((i + 1 for i, (digest, _) in enumerate(prefixes) if book.get(digest, now) > now), default=0)
            for digest, ttl in prefixes:
                book[digest] = max(book.get(digest, now), now + ttl)
                book.move_to_end(digest)
            while len(book) > PREFIXES_KEPT:
                book.popitem(last=False)
        return hit

    def prefixes_alive(self, key: str, model: str, digests: list[str]) -> list[bool]:
        """Which of ``digests`` this key cached for ``model`` and are still alive (looked up, nothing refreshed)."""
        now = self.clock()
        with self._lock:
            book = self._prefixes.get(self._limit_key(key, model))
            return [book is not None and book.get(d, now) > now for d in digests]

    def charge(self, quota: int) -> None:
        with self._lock:
            self.spent_quota += max(0, quota)

    def charge_task(self, task_id: str, quota: int) -> None:
        """A finished task is charged once, however often it is polled."""
        with self._lock:
            if task_id not in self._charged_tasks:
                self._charged_tasks.add(task_id)
                self.spent_quota += max(0, quota)

    def service_error(self, faults: Faults) -> str | None:
        """The canned error (``Faults.service_error``) this request gets, counting ``service_error_first``."""
        name, first = faults.service_error, faults.service_error_first
        if name is None:
            return None
        if not first:
            return name
        with self._lock:
            key = (f"service_error:{name}", first)
            used = self.fail_counts.get(key, 0)
            if used >= first:
                return None
            self.fail_counts[key] = used + 1
        return name

    def catalogue_limited(self, faults: Faults) -> bool:
        """Whether the global limiter turns this catalogue read away (``Faults.catalogue_429``: the first N)."""
        first = faults.catalogue_429
        if not first:
            return False
        with self._lock:
            key = ("catalogue_429", first)
            used = self.fail_counts.get(key, 0)
            if used >= first:
                return False
            self.fail_counts[key] = used + 1
        return True

    def put_file(self, data: bytes, content_type: str, ext: str) -> str:
        """Store bytes content-addressed; returns the file name ``<sha>.<ext>``."""
        sha = hashlib.sha256(data).hexdigest()[:32]
        name = f"{sha}.{ext}"
        self.files.put(name, data, content_type)
        return name
