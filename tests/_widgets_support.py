"""Helpers for the widget tests: a real offline session on a tmp store, a recording fake, and waits."""

from __future__ import annotations

import datetime
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image


def png_bytes(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def upload_value(data: bytes, name: str, mime: str) -> tuple[dict[str, Any], ...]:
    """What ipywidgets 8's FileUpload holds after the browser sends a file."""
    return ({"name": name, "type": mime, "size": len(data), "content": memoryview(data),
             "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def wait_until(pred: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll a condition that another thread makes true (short naps, a hard deadline)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


@dataclass
class FakeEntry:
    id: int
    kind: str
    model: str
    params: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"
    text: str = ""
    started: float = field(default_factory=time.time)
    response: dict[str, Any] = field(default_factory=dict)
    thread: str | None = None
    endpoint: str = ""
    duration: float = 0.1
    error: dict[str, Any] | None = None

    def to_code(self) -> str:
        return f"# entry {self.id}"

    def rerun(self, session: Any = None) -> Any:
        return (session or FAKE).calls_rerun(self)


class FakeResult:
    def __init__(self, entry: FakeEntry, text: str = "", body: str = "") -> None:
        self.entry = entry
        self.entry_id = entry.id
        self.text = text
        self.body = body
        self.data: Any = None  # ChatResult.data: no JSON mode in the fake


class FakeHistory(list):  # type: ignore[type-arg]
    def filter(self, kind: Any = None, status: Any = None, text: Any = None, **_: Any) -> list[Any]:
        def ok(e: FakeEntry) -> bool:
            return ((kind is None or e.kind in kind) and (status is None or e.status in status)
                    and (not text or text.lower() in (e.text + str(e.params)).lower()))

        return [e for e in self if ok(e)]

    def export(self, path: Any) -> Path:
        Path(path).write_text(str(len(self)))
        return Path(path)


FAKE: Any = None


class RecordingSession:
    """Records every call with its exact arguments and answers with files in ``root``."""

    def __init__(self, root: Path, gate: threading.Event | None = None) -> None:
        self.root = root
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.history = FakeHistory()
        self.defaults: dict[str, str] = {}
        self.mode = "offline"
        self.gate = gate
        self.fail: Exception | None = None
        #: how the next speech ends (the relay's finish reason: "MAX_TOKENS" is a speech cut at the output limit)
        self.speech_finish: str | None = None

    def models(self, kind: str | None = None) -> list[Any]:
        """The session's model table: here the built-in catalogue (a real session merges the service's)."""
        import tokenhot_nb

        return tokenhot_nb.models(kind)

    def _file(self, name: str, data: bytes) -> dict[str, Any]:
        path = self.root / name
        path.write_bytes(data)
        return {"path": str(path), "mime": "", "sha256": name}

    def _record(self, kind: str, args: tuple[Any, ...], kw: dict[str, Any], outputs: list[dict[str, Any]],
                text: str = "") -> FakeResult:
        self.calls.append((kind, args, kw))
        if self.gate is not None:
            assert self.gate.wait(30), "test gate never opened"
        if self.fail is not None:
            raise self.fail
        entry = FakeEntry(len(self.history) + 1, kind, kw.get("model", ""), {"prompt": args[-1] if args else ""},
                          outputs, text=text)
        self.history.append(entry)
        return FakeResult(entry, text=text)

    def image(self, prompt: str, **kw: Any) -> FakeResult:
        out = {**self._file(f"img{len(self.calls)}.png", png_bytes((40, 30))), "mime": "image/png", "role": "image"}
        return self._record("image", (prompt,), kw, [out])

    def edit(self, images: Any, prompt: str, **kw: Any) -> FakeResult:
        out = {**self._file(f"edit{len(self.calls)}.png", png_bytes((30, 30))), "mime": "image/png", "role": "image"}
        return self._record("edit", (images, prompt), kw, [out])

    def chat(self, message: str, on_delta: Any = None, **kw: Any) -> FakeResult:
        text = ""
        for piece in ("Hello", " from", " the", " fake."):
            text += piece
            if on_delta is not None:
                on_delta(None, text)
        return self._record("chat", (message,), kw, [], text=text)

    def video(self, prompt: str, **kw: Any) -> FakeResult:
        cb = kw.get("on_progress")
        for pct, state in ((10, "pending"), (60, "running"), (100, "succeeded")):
            if cb is not None:
                cb(type("S", (), {"progress": pct, "state": state, "task_id": "task-1"})())
        out = {**self._file("v.mp4", b"\x00\x00\x00 ftypisom" + b"\x00" * 64), "mime": "video/mp4", "role": "video"}
        return self._record("video", (prompt,), kw, [out])

    def speak(self, text: str, **kw: Any) -> Any:
        """A real :class:`AudioResult` (what the panel reads of it, ``.cut`` included, is what a session returns)."""
        from tokenhot_nb.results import AudioResult

        out = {**self._file("a.wav", b"RIFF" + b"\x00" * 40), "mime": "audio/wav", "role": "audio"}
        entry = self._record("speak", (text,), kw, [out]).entry
        return AudioResult(Path(out["path"]), mime=out["mime"], sha256=out["sha256"], text=text, model=entry.model,
                           entry=entry, finish_reason=self.speech_finish)  # type: ignore[arg-type]

    def transcribe(self, audio: Any, **kw: Any) -> FakeResult:
        return self._record("transcribe", (audio,), kw, [], text="a transcript")

    def translate(self, audio: Any, **kw: Any) -> FakeResult:
        return self._record("translate", (audio,), kw, [], text="a translation")

    def calls_rerun(self, entry: FakeEntry) -> FakeResult:
        return self._record("rerun", (entry.id,), {"model": entry.model}, list(entry.outputs))


# -- fixtures (imported by the test modules) -------------------------------------------------------------
import pytest  # noqa: E402


@pytest.fixture
def offline(tmp_path: Path) -> Any:
    """A real Session on the in-process simulator with its own store; video polls fast."""
    from tokenhot_nb import Session

    session = Session(mode="offline", store=tmp_path / "store", poll_interval=0.05)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def fake(tmp_path: Path) -> RecordingSession:
    return RecordingSession(tmp_path)


@pytest.fixture
def shared_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The magics' shared session (``tokenhot_nb.session()``, what a panel made with no session uses), offline on
    its own store; video polls fast. Reset and closed after the test."""
    import tokenhot_nb

    monkeypatch.setenv("TOKENHOT_MODE", "offline")
    monkeypatch.setenv("TOKENHOT_STORE", str(tmp_path / "shared"))
    monkeypatch.delenv("TOKENHOT_API_KEY", raising=False)
    try:
        yield tokenhot_nb.session(reset=True, poll_interval=0.05)
    finally:
        tokenhot_nb.session(reset=True).close()
