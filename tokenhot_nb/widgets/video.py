"""Video: prompt (and first frame / references, or a source video) → a task polled in the background → the player.

Polling runs on the panel's worker thread, so the kernel stays free for other cells meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .._safe import text_html
from ._entries import entry_label, history_entries, outputs
from ._media import INLINE_LIMIT, video_widget
from ._panel import MediaPanel
from ._pickers import chosen, model_info, model_picker, set_options
from ._uploads import uploaded

if TYPE_CHECKING:
    from .._session import Session
    from ..families._types import TaskStatus
    from ..history import HistoryEntry
    from ..results import VideoResult, VideoTask


#: Values of the source-video picker besides earlier videos (``#<history id>``).
VIDEO_NONE = "none"
VIDEO_UPLOAD = "upload"
VIDEO_URL = "url"


def _task_id(entry: HistoryEntry) -> str | None:
    task_id = (entry.response or {}).get("task_id") or (entry.params or {}).get("task_id")
    return str(task_id) if task_id else None


class VideoPanel(MediaPanel):
    """Make a video; duration, resolution and ratio come from the model; pending tasks can be resumed."""

    kind = "video"

    def __init__(self, session: Session | None = None, *, inline_limit: int = INLINE_LIMIT) -> None:
        super().__init__(session, inline_limit=inline_limit)
        self.prompt = w.Textarea(placeholder="Describe the video…", layout=w.Layout(width="100%", height="5em"))
        self.model = model_picker(self.session, "video")
        self.duration = w.Dropdown(description="Seconds", layout=w.Layout(width="180px"))
        self.resolution = w.Dropdown(description="Resolution", layout=w.Layout(width="220px"))
        self.ratio = w.Dropdown(description="Ratio", layout=w.Layout(width="180px"))
        self.upload = w.FileUpload(accept="image/*", multiple=True, description="First frame")
        self.last_frame = w.FileUpload(accept="image/*", multiple=False, description="Last frame")
        # the source video of video-to-video and video-edit models: an upload, a URL or an earlier video
        self.video_source = w.Dropdown(description="Video", layout=w.Layout(width="max-content", min_width="320px"))
        self.video_upload = w.FileUpload(accept="video/*", multiple=False, description="Upload video")
        self.video_url = w.Text(placeholder="https://… (a video URL)", layout=w.Layout(width="320px"))
        self.video_box = w.HBox([self.video_source, self.video_upload, self.video_url],
                                layout=w.Layout(flex_flow="row wrap"))
        self.generate = w.Button(description="Make video", button_style="primary", icon="film")
        self.price = w.HTML(layout=w.Layout(min_height="1.2em"))
        self.progress = w.IntProgress(value=0, min=0, max=100, description="", layout=w.Layout(width="320px"))
        self.task_status = w.HTML("")
        self.pending = w.Dropdown(description="Pending", layout=w.Layout(width="max-content", min_width="320px"))
        self.resume_button = w.Button(description="Resume", icon="play")
        self.refresh_button = w.Button(description="", icon="refresh", tooltip="Look for pending tasks",
                                       layout=w.Layout(width="40px"))
        self.busy_widgets = [self.generate, self.resume_button, self.model]

        self.video_upload.observe(self.shielded(lambda: self.refresh_videos(select=VIDEO_UPLOAD)), names="value")
        self.video_url.observe(self.shielded(self._url_typed), names="value")
        self.refresh_videos()
        self.follow(self.model, self._model_changed)
        self.generate.on_click(self.shielded(self.start))
        self.resume_button.on_click(self.shielded(self.resume))
        self.refresh_button.on_click(self.shielded(self.refresh_pending))
        self.refresh_pending()
        self.priced(self.price, [self.prompt, self.model, self.duration, self.resolution, self.ratio, self.upload,
                                 self.last_frame], lambda: ("video", (self.prompt.value.strip() or "a video",),
                                                            self.params()))
        self.children = [
            w.HTML("<b>Video</b>"),
            self.prompt,
            w.HBox([self.model, self.upload, self.last_frame], layout=w.Layout(flex_flow="row wrap")),
            self.video_box,
            w.HBox([self.duration, self.resolution, self.ratio], layout=w.Layout(flex_flow="row wrap")),
            self.generate,
            self.price,
            w.HBox([self.progress, self.task_status]),
            self.status,
            self.error_box,
            self.player,
            w.HBox([self.pending, self.resume_button, self.refresh_button], layout=w.Layout(flex_flow="row wrap")),
        ]

    def _model_changed(self, _change: object = None) -> None:
        info = model_info(self.model.value)
        set_options(self.duration, info.choices("durations"), prefer=info.defaults.get("duration"))
        set_options(self.resolution, info.choices("resolutions"), prefer=info.defaults.get("resolution"))
        set_options(self.ratio, info.choices("ratios"), prefer=info.defaults.get("ratio"))
        takes_images = info.can("first_frame") or int(info.capabilities.get("reference_images") or 0) > 0
        self.upload.layout.display = None if takes_images else "none"
        self.upload.description = "First frame" if info.can("first_frame") else "Reference images"
        self.last_frame.layout.display = None if info.can("last_frame") else "none"
        self.video_box.layout.display = None if info.can("video_input") else "none"
        self.video_upload.layout.display = "none" if info.can("media_urls_only") else None
        self.generate.description = "Edit video" if info.can("requires_video") else "Make video"
        self.refresh_videos()

    # -- the source video ------------------------------------------------------------------------
    def refresh_videos(self, select: str | None = None) -> None:
        """Upload, URL, and the videos this history already holds (to chain edits); "no video" first for a model
        that takes one but needs none (a Seedance 2.0 reference), which is then the default: a video the user did
        not pick is never sent. No upload for a model that takes videos by URL only (its service fetches them)."""
        info = model_info(self.model.value)
        files = uploaded(self.video_upload)
        opts: list[tuple[str, str]] = [] if info.can("requires_video") else [("no video", VIDEO_NONE)]
        if not info.can("media_urls_only"):
            opts.append((f"uploaded: {files[0][1]}" if files else "uploaded file", VIDEO_UPLOAD))
        opts.append(("the URL", VIDEO_URL))
        earlier = len(opts)
        for entry in history_entries(self.session, ("video",), ("ok",), limit=20):
            if outputs(self.session, entry, ("video",))[:1]:
                opts.append((entry_label(entry, 40), f"#{entry.id}"))
        current = select if select is not None else self.video_source.value
        values = [v for _, v in opts]
        if current not in values or (current == VIDEO_UPLOAD and not files and select is None):
            if self.video_url.value.strip():
                current = VIDEO_URL
            elif not info.can("requires_video"):
                current = VIDEO_NONE
            elif files and VIDEO_UPLOAD in values:
                current = VIDEO_UPLOAD
            else:  # a model that needs a video: the newest one made here, else the upload (or the URL)
                current = values[earlier] if len(values) > earlier else values[0]
        self.video_source.options = opts
        self.video_source.value = current

    def _url_typed(self, _change: object = None) -> None:
        if self.video_url.value.strip() and self.video_source.value != VIDEO_URL:
            self.video_source.value = VIDEO_URL

    def source_video(self) -> bytes | str | VideoResult | None:
        """The video to transform, from the picked source; None when there is none. An earlier video is its
        result (sent by its link to a model that takes videos by URL only). Raises ValueError with what to do
        when the picked source is empty or not a URL."""
        source = self.video_source.value
        if source == VIDEO_UPLOAD:
            files = uploaded(self.video_upload)
            return files[0][0] if files else None
        if source == VIDEO_URL:
            url = self.video_url.value.strip()
            if url and not url.startswith(("http://", "https://")):
                raise ValueError(f"The video URL must start with http:// or https://, not {url[:40]!r}.")
            return url or None
        if isinstance(source, str) and source.startswith("#"):
            from ..results import VideoResult as Video  # (loaded with the first call, not with the panel)

            result = self.session.history.get(int(source[1:])).result(self.session)
            return result if isinstance(result, Video) else None
        return None

    def params(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": self.model.value}
        for name, dropdown in (("duration", self.duration), ("resolution", self.resolution), ("ratio", self.ratio)):
            value = chosen(dropdown)
            if value is not None:
                kw[name] = value
        if self.video_box.layout.display != "none":
            video = self.source_video()
            if video is not None:
                kw["video"] = video
        files = [data for data, _n, _m in uploaded(self.upload)] if self.upload.layout.display != "none" else []
        last = uploaded(self.last_frame) if self.last_frame.layout.display != "none" else []
        if last and not (files and model_info(self.model.value).can("first_frame")):
            raise ValueError("A last frame needs a first frame too: upload it under First frame.")
        images: list[Any] = []
        if files:
            if model_info(self.model.value).can("first_frame"):
                kw["image"] = files[0]
                images = files[1:]
            else:
                images = files
        if last:  # the session sends it in the role the model's protocol gives a last frame
            images = [{"image": last[0][0], "role": "last_frame"}, *images]
        if images:
            kw["images"] = images
        return kw

    def on_status(self, status: TaskStatus) -> None:
        """Progress callback from the poller: bar and task state."""
        self.progress.value = max(0, min(100, int(status.progress or 0)))
        state = status.state or ""
        task = status.task_id or ""
        # the relay's words: controls dropped and a key masked (text_html), as every renderer of network text
        self.task_status.value = f"<small>{text_html(state)} · task {text_html(task)}</small>"
        self.progress.bar_style = "danger" if state == "failed" else ("success" if state == "succeeded" else "")

    def start(self) -> None:
        if not self.keyless((self.prompt, "prompt"), (self.video_url, "video URL")):
            return
        try:
            kw = self.params()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        prompt = self.required(self.prompt, "Write a prompt first: it says what the video should show.")
        if not prompt:
            return
        info = model_info(self.model.value)
        if info.can("requires_image") and "image" not in kw and "images" not in kw:
            self.show_error(f"{info.id} makes videos from images: upload one first.")
            return
        if info.can("requires_video") and "video" not in kw:
            self.show_error(f"{info.id} transforms a video: upload one, give its URL, or pick an earlier video "
                            "under Video.")
            return
        session = self.session
        self._track(lambda: session.video(prompt, wait=True, progress=False, on_progress=self.on_status, **kw),
                    "Submitting the task…")

    def _track(self, work: Callable[[], Any], label: str) -> None:
        """Run a task to its end on the worker thread: progress bar reset, then the player or the failure."""
        if self.still_busy():
            return
        self.progress.value = 0
        self.progress.bar_style = ""
        self.task_status.value = ""
        self.player.children = []
        self.run(work, self._show, label=label, failed=lambda _e: self._failed())

    def _failed(self) -> None:
        self.progress.bar_style = "danger"
        self.refresh_pending()

    def _show(self, result: VideoResult) -> None:
        if self.show_output(result, "video", lambda path, _art: video_widget(path, self.inline_limit),
                            missing="The task finished but no video file came back.", ready="Video ready",
                            every=True):
            self.progress.value = 100
            self.progress.bar_style = "success"
        self.refresh_pending()
        self.refresh_videos()

    # -- pending tasks -------------------------------------------------------------------------------
    def on_show(self) -> None:
        self.refresh_pending()
        self.refresh_videos()

    def refresh_pending(self) -> None:
        """Video tasks still pending in the history (e.g. from a kernel that restarted) can be resumed."""
        entries = [e for e in history_entries(self.session, ("video",), ("pending", "running", "interrupted"))
                   if _task_id(e)]
        self.pending.options = [(entry_label(e, 40), _task_id(e)) for e in entries] or [("none", None)]
        self.pending.value = self.pending.options[0][1]
        show = None if entries else "none"
        self.pending.layout.display = show
        self.resume_button.layout.display = show

    def resume(self, task_id: str | None = None) -> None:
        task_id = task_id or self.pending.value
        if not task_id:
            self.show_error("No pending task to resume.")
            return
        session = self.session
        self._track(lambda: _wait_task(session.resume(task_id), self.on_status), f"Resuming task {task_id}…")


def _wait_task(task: VideoTask, on_progress: Callable[[TaskStatus], None]) -> VideoResult:
    """Poll a VideoTask until done (no text progress bar: the panel has its own)."""
    return task.wait(progress=False, on_progress=on_progress)
