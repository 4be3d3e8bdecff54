"""Video tasks kept on disk, so they outlive the process that created them (like the real service's).

A notebook that starts a task, then restarts its kernel, resumes the task from a new simulator: both read
the same folder (``$TOKENHOT_SIM_TASKS`` or ``<tmp>/tokenhot-sim-<user>/tasks``). Ids are unique (they hash
a time-stamped request id), so simulators sharing the folder never mix tasks up. Files older than the
service keeps its query results (7 days) are pruned when a simulator starts.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import os
import re
import tempfile
import time
from pathlib import Path

from ._state import VideoTask

KEEP_SECONDS = 7 * 86400
_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def default_dir() -> Path:
    env = os.environ.get("TOKENHOT_SIM_TASKS")
    if env:
        return Path(env)
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"tokenhot-sim-{user}" / "tasks"


class TaskBook:
    """``dict``-like access to tasks: memory first, then the folder; ``save`` writes one task atomically."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_dir()
        self._mem: dict[str, VideoTask] = {}
        self._prune()

    def _path(self, task_id: str) -> Path | None:
        return self.folder / f"{task_id}.json" if _ID.match(task_id) else None

    def _prune(self) -> None:
        try:
            entries = list(os.scandir(self.folder))[:10_000]
        except OSError:
            return
        cutoff = time.time() - KEEP_SECONDS
        for e in entries:
            try:
                if e.name.endswith(".json") and e.stat().st_mtime < cutoff:
                    os.unlink(e.path)
            except OSError:
                continue

    def __len__(self) -> int:
        return len(self._mem)

    def __contains__(self, task_id: object) -> bool:
        return isinstance(task_id, str) and self.get(task_id) is not None

    def __setitem__(self, task_id: str, task: VideoTask) -> None:
        self._mem[task_id] = task
        self.save(task)

    def get(self, task_id: str) -> VideoTask | None:
        task = self._mem.get(task_id)
        if task is not None:
            return task
        path = self._path(task_id)
        if path is None:
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            task = VideoTask(**data)
        except (OSError, ValueError, TypeError):
            return None
        self._mem[task_id] = task
        return task

    def save(self, task: VideoTask) -> None:
        path = self._path(task.id)
        if path is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(dataclasses.asdict(task), default=str), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only temp dir: tasks then live as long as this simulator
