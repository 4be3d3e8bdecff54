"""VideoTask: a handle on a video being generated, which survives interrupts and kernel restarts."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from .._front_door import front_doors
from .._safe import text_html as escape
from ._base import Result

if TYPE_CHECKING:
    from .._session import Session
    from .._session.video import ReplayPlan
    from ..families._types import TaskStatus
    from ..history import HistoryEntry
    from .media import VideoResult


@front_doors
class VideoTask(Result):
    """``task.status()`` polls once; ``task.wait()`` polls until done and returns a :class:`VideoResult`.

    The task id is in the history from the moment it is created, so ``session.resume(task_id)`` or
    ``history[i].resume()`` picks it up again after an interrupt or in a new kernel.
    """

    kind = "video"
    #: How the user holds this handle, for the lines it offers (``task.wait()``): ``task`` in Python code; a
    #: magic's ``-o NAME``; None for a magic's handle that is only ``_`` (the next output replaces it), which the
    #: lines then find again by its id (``tokenhot_nb.session().resume('…')``: after a restart too).
    _held_as: str | None = "task"

    def __init__(self, session: Session, task_id: str, *, model: str, entry: HistoryEntry | None = None,
                 prompt: str = "") -> None:
        super().__init__(model=model, entry=entry, session=session)
        self.task_id = task_id
        self.prompt = prompt
        self.last: TaskStatus | None = None
        self._result: VideoResult | None = None
        #: the statuses this task was seen in, as its row keeps them (live; see ``_session.video.note_state``)
        self._states: list[list[Any]] | None = None
        #: replay: the recorded statuses still to play back and the video they end with
        self._replay: ReplayPlan | None = None

    @property
    def done(self) -> bool:
        return self._result is not None or (self.last is not None and self.last.done)

    async def astatus(self) -> TaskStatus:
        assert self.session is not None
        return await self.session._hop(self.session._apoll_task(self))

    def status(self) -> TaskStatus:
        """Ask the server once where the task is (also records the progress on this handle)."""
        assert self.session is not None
        return self.session._sync(self.astatus())

    async def await_(self, timeout: float | None = None, progress: bool | None = None,
                     on_progress: Callable[[TaskStatus], Any] | None = None, _bar: Any = None) -> VideoResult:
        """Async twin of :meth:`wait` (``await task`` works too)."""
        if self._result is not None:
            return self._result
        assert self.session is not None
        self._result = await self.session._await_task(self, timeout=timeout, progress=progress,
                                                      on_progress=on_progress, bar=_bar)
        return self._result

    def wait(self, timeout: float | None = None, progress: bool | None = True,
             on_progress: Callable[[TaskStatus], Any] | None = None) -> VideoResult:
        """Poll every ``settings.poll_interval`` s until done (at most ``timeout``, default the video deadline).

        Downloads the video into the store at once (vendor links expire) and extracts a poster frame.
        Raises :class:`~tokenhot_nb.errors.TaskFailedError` with the vendor's reason when the task fails.
        """
        if self._result is not None:
            return self._result
        assert self.session is not None
        from .._progress import Progress

        bar = Progress(None, "video", enabled=progress)
        try:
            return self.session._sync(self.await_(timeout, progress, on_progress, _bar=bar), task=self)
        finally:
            bar.close()

    def result(self) -> VideoResult:
        """The finished video (waits, without a progress bar, if it is not done yet)."""
        return self.wait(progress=False)

    def __await__(self) -> Generator[Any, None, VideoResult]:
        return self.await_().__await__()

    def _end(self) -> tuple[str, bool]:
        """(where the task is, whether that is its end), as far as this handle knows: nothing is asked of the
        server. A handle from ``session.resume`` starts from its history row (a finished task comes back done)."""
        st = self.last
        if self._result is not None:
            return "done", True
        if st is not None and st.state == "failed":  # (the vendor's text: maybe many lines, long)
            from ..errors import one_line

            why = one_line(st.error, 200, kept_in="task.last.error") if st.error else "the service gave no reason"
            return f"failed: {why}", True
        if st is not None:
            return f"{st.state} · {st.progress}%", False
        entry = self.entry
        if entry is not None and entry.status == "error":
            error = entry.error or {}
            return f"ended with an error: {error.get('message') or 'no reason recorded'}", True
        if entry is not None and entry.status == "pending" and (entry.response or {}).get("status"):
            return "pending (as last recorded)", False  # (a row made by resume() for an id it never saw: no state)
        return "created", False

    def _handle_said(self) -> str:
        """How a line this handle offers names it: as the user holds it (:attr:`_held_as`), else by its id."""
        return self._held_as or f"{self._session_said()}.resume({self.task_id!r})"

    def _plain(self) -> str:
        state, ended = self._end()
        handle = self._handle_said()
        if self._result is not None:
            where = f", history #{self._result.entry_id}" if self._result.entry_id is not None else ""
            hint = f"{handle}.result() is the video{where}"
        elif ended:
            hint = "nothing more will come of it"
        elif self._held_as is None:  # (found by its id: the same line now or later)
            hint = f"{handle}.wait() to finish, now or later"
        else:
            hint = f"{handle}.wait() to finish, or {self._session_said()}.resume({self.task_id!r}) later"
        return f"<VideoTask {self.task_id} ({self.model}): {state.replace(' · ', ' ').rstrip('.')}. {hint}>"

    def _bundle(self) -> dict[str, Any]:
        state, ended = self._end()
        head = (f'<div style="font:12px sans-serif">Video task <code>{escape(self.task_id)}</code> '
                f"({escape(self.model)}): <b>{escape(state)}</b>.")
        handle = escape(self._handle_said())
        if self._result is not None:  # its real end: the video itself
            return {"text/html": f"{head} <code>{handle}.result()</code> is the video.</div>{self._result.html()}"}
        if ended:
            return {"text/html": head + "</div>"}
        if self._held_as is None:
            return {"text/html": f"{head} Call <code>{handle}.wait()</code> to finish it, now or later.</div>"}
        call = ".wait()" if self._held_as == "task" else f"{handle}.wait()"
        return {"text/html": (
            f"{head} Call <code>{call}</code> to finish it, or "
            f"<code>{self._session_said()}.resume({escape(repr(self.task_id))})</code> later.</div>")}

    def _bundle_metadata(self) -> dict[str, Any]:
        return self._result._bundle_metadata() if self._result is not None else {}

    def provenance(self) -> dict[str, Any]:
        meta = super().provenance()
        meta["tokenhot"]["task_id"] = self.task_id
        return meta
