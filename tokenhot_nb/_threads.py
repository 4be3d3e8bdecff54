"""Chat conversations: one message list per thread name, rebuilt from the history after a restart.

A thread's messages are its ``ok`` chat entries in order (each: the user message, then the answer),
starting at the last entry that asked for ``new_thread=True``. Images sent in a turn are kept (from the
store) so follow-ups about them still have them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .history import HistoryEntry, Store

DEFAULT_THREAD = "default"


@dataclass
class Thread:
    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    system: str | None = None

    def add(self, user: dict[str, Any], answer: str) -> None:
        self.messages.append(user)
        self.messages.append({"role": "assistant", "content": answer})

    @property
    def turns(self) -> int:
        return len(self.messages) // 2

    def __repr__(self) -> str:
        return f"<Thread {self.name!r}: {self.turns} turns>"


def user_message(text: str, images: list[tuple[bytes, str] | str]) -> dict[str, Any]:
    """The neutral message shape the chat family converts per endpoint."""
    if not images:
        return {"role": "user", "content": text}
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for im in images:
        if isinstance(im, str):
            parts.append({"type": "image", "url": im})
        else:
            parts.append({"type": "image", "data": im[0], "mime": im[1]})
    return {"role": "user", "content": parts}


class Threads:
    """The session's conversations by name; loads a name from the store on first use."""

    def __init__(self, store_getter: Any) -> None:
        self._store = store_getter  # a callable: the store is opened lazily by the session
        self._threads: dict[str, Thread] = {}
        self._lock = threading.Lock()

    def get(self, name: str, *, new: bool = False) -> Thread:
        with self._lock:
            if new:
                self._threads[name] = Thread(name)
            elif name not in self._threads:
                self._threads[name] = self._load(name)
            return self._threads[name]

    def __getitem__(self, name: str) -> Thread:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._threads

    def names(self) -> list[str]:
        return sorted(self._threads)

    def forget(self, name: str | None = None) -> None:
        """Drop the in-memory copy (all of them with no name); the next use reloads from the history."""
        with self._lock:
            if name is None:
                self._threads.clear()
            else:
                self._threads.pop(name, None)

    def _load(self, name: str) -> Thread:
        store: Store = self._store()
        entries = store.select_entries(
            [("kind = ?", ("chat",)), ("status = ?", ("ok",)), ("thread = ?", (name,))]
        )
        start = 0
        for i, e in enumerate(entries):
            if (e.params or {}).get("new_thread"):
                start = i
        thread = Thread(name)
        for e in entries[start:]:
            thread.add(_rebuilt_user(store, e), _answer(store, e))
            if (e.params or {}).get("system"):
                thread.system = e.params["system"]
        return thread


def _answer(store: Store, entry: HistoryEntry) -> str:
    for o in entry.outputs or []:
        if o.get("role") == "text":
            try:
                return store.path_of(o["sha256"]).read_text("utf-8")
            except (FileNotFoundError, ValueError):
                return ""
    return ""


def _rebuilt_user(store: Store, entry: HistoryEntry) -> dict[str, Any]:
    params = entry.params or {}
    images: list[tuple[bytes, str] | str] = []
    for ref in params.get("images") or []:
        if isinstance(ref, dict) and ref.get("url"):
            images.append(str(ref["url"]))
        elif isinstance(ref, dict) and ref.get("artifact"):
            try:
                images.append((store.path_of(ref["artifact"]).read_bytes(), str(ref.get("mime", "image/png"))))
            except (FileNotFoundError, ValueError):
                continue
    return user_message(str(params.get("message") or ""), images)
