"""VideoResult and AudioResult: players that reference stored files instead of embedding them."""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._safe import text_html as escape
from ..errors import TokenhotError
from ._base import Result, data_url, rel_url, thumbnail
from ._save import copy_out, destinations

if TYPE_CHECKING:
    from PIL.Image import Image

    from .._session import Session
    from ..history import HistoryEntry

INLINE_AUDIO_MAX = 1_500_000  # bytes; speech clips are small, long audio is referenced by path


def extract_poster(video: Path, dest: Path, at: float = 0.5) -> Path | None:
    """Grab one frame (near ``at`` seconds) as a JPEG with PyAV; None when the file has no video frame."""
    try:
        import av
        from av.video.reformatter import VideoReformatter
    except ImportError:
        return None
    from . import _base

    try:
        with av.open(str(video)) as container:
            stream = next(iter(container.streams.video), None)
            if stream is None:
                return None
            # a frame of more pixels than a display decodes (a hostile file: 16000×16000 is over a gigabyte as
            # RGB) gives no poster; the video itself is kept and plays in the browser, or not, as it may
            big = _base.MAX_DISPLAY_PIXELS
            if (stream.codec_context.width or 0) * (stream.codec_context.height or 0) > big:
                return None
            frame = None
            for i, frm in enumerate(container.decode(stream)):
                if not isinstance(frm, av.VideoFrame):  # (typed so for every PyAV release)
                    continue
                if frm.width * frm.height > big:  # (a stream may change its size after its header)
                    return None
                frame = frm
                if (frm.time or 0) >= at or i > 60:
                    break
            if frame is None:
                return None
            # (a scaler of its own, freed here: PyAV 19's per-thread one, left on a pool thread, hangs a forked
            # child on Python 3.13, which frees it there while its slice threads are gone)
            img = VideoReformatter().reformat(frame, format="rgb24").to_image()
        img.thumbnail((640, 640))
        img.convert("RGB").save(dest, format="JPEG", quality=80)
        return dest
    except Exception:  # a broken or unusual file: no poster, never a failed call
        return None


def media_duration(path: Path) -> float | None:
    """Duration in seconds: WAV from its header, anything else through PyAV."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate() or 1)
    except (wave.Error, EOFError, OSError):
        pass
    try:
        import av

        with av.open(str(path)) as c:
            if c.duration is not None:
                return float(c.duration) / 1_000_000
            for s in c.streams:
                if s.duration is not None and s.time_base is not None:
                    return float(s.duration * s.time_base)
    except Exception:
        return None
    return None


class UnreadableAudioError(TokenhotError, OSError):
    """A stored audio file PyAV cannot convert to WAV: one line, the file stays in the store."""


class _StoredMedia(Result):
    """A result that is one stored media file: its path, hash, duration and saving are alike for all."""

    path: Path
    _duration: float | None = None

    @property
    def duration(self) -> float | None:
        if self._duration is None:
            self._duration = media_duration(self.path)
        return self._duration

    def save(self, path: str | os.PathLike[str] = ".", stem: str | None = None) -> Path:
        """Copy the file out of the store: to a folder (``<stem><ext>``, by default ``tokenhot-<entry id>``) or
        under a file name of the same format (``"clip.mp4"``); returns the new path."""
        default = f"tokenhot-{self.entry_id}" if self.entry_id is not None else f"tokenhot-{self.kind}"
        return copy_out(self.path, destinations(path, default + self._nth(), stem, [self.path.suffix])[0],
                        what=self.kind)

    def _nth(self) -> str:
        """What tells this file's default name from its call's other files' (none: it is the call's only one)."""
        return ""


class VideoResult(_StoredMedia):
    """A finished video: ``.path`` (in the store), ``.poster``, ``.save(dir)``, ``.duration``, ``.task_id``.

    A task that made several videos (each paid for) keeps them all: this result is the first, ``.videos`` lists
    every one (each a VideoResult of its own, to play or ``.save()``), ``.paths`` their files; it shows them all.

    Displayed as a ``<video controls>`` player that references the file (never embeds it), so notebooks stay
    lean. The reference is a path relative to the working directory (the notebook's folder). When the file
    is not servable there — the default store ``.tokenhot/`` is hidden, and JupyterLab's file handler
    refuses hidden paths; a store may also lie outside the notebook's folder — the video (and its poster)
    is first hard-linked (copied if links are impossible) to ``tokenhot-media/<sha256>.mp4`` in a visible
    folder and that is referenced. See :mod:`tokenhot_nb.results._serve` for the exact rule.
    """

    kind = "video"

    def __init__(self, path: Path, *, mime: str = "video/mp4", sha256: str = "", poster: Path | None = None,
                 task_id: str | None = None, prompt: str = "", model: str = "",
                 entry: HistoryEntry | None = None, session: Session | None = None,
                 more: list[VideoResult] | None = None, index: int = 0) -> None:
        super().__init__(model=model, entry=entry, session=session)
        self.path = path
        self.mime = mime
        self.sha256 = sha256
        self.poster = poster
        self.task_id = task_id
        self.prompt = prompt
        self._duration: float | None = None
        self._more = list(more or [])  # the task's other videos, in the order its answer named them
        self._index = index  # this video's place among them (0: the first)

    def _nth(self) -> str:
        return f"-{self._index}" if self._index else ""  # (the task's 2nd video: tokenhot-<id>-1.mp4)

    @property
    def videos(self) -> list[VideoResult]:
        """Every video the task made, this one first (one, unless the task answered several)."""
        return [self, *self._more]

    @property
    def paths(self) -> list[Path]:
        """The stored file of every video the task made (:attr:`videos`)."""
        return [v.path for v in self.videos]

    @property
    def url(self) -> str | None:
        """The service's own link to this video, as its task answered (``None`` when the row kept none). Vendor
        links expire, usually within about a day; models that take input videos only by URL (Seedance) are sent
        an earlier result by this link."""
        response = self.entry.response if self.entry is not None else None
        if not isinstance(response, dict):
            return None
        links = response.get("urls")
        if isinstance(links, list) and len(links) > 1:  # (a task that made several: this one's own)
            link = links[self._index] if self._index < len(links) else None
        else:
            link = response.get("url") if self._index == 0 else None
        return link if isinstance(link, str) and link[:8].lower().startswith(("http://", "https://")) else None

    def poster_pil(self) -> Image | None:
        if self.poster is None:
            return None
        from PIL import Image as PILImage

        with PILImage.open(self.poster) as img:
            img.load()
            return img.copy()

    def html(self, width: int = 480) -> str:
        """A player sized to fit (portrait clips by height, never taller than the view), and a one-line note
        for static exports (nbconvert HTML, nbviewer, GitHub), where the file beside the notebook is missing:
        the poster stays visible and the note names the file. No script and no ``on*`` handler: outputs stay
        inert, so the short note is always shown."""
        from urllib.parse import unquote

        from ._serve import servable_path
        from .image import _size

        width = _size(width, "width", "html(width=480)")  # (width='x' went into the tag as it was)
        players, srcs = zip(*(v._player(width, servable_path) for v in self.videos), strict=True)
        result = (f"tokenhot_nb.session().history.get({self.entry_id}).result()" if self.entry_id is not None
                  else "result")
        files = ", ".join(f"<code>{escape(unquote(src))}</code>" for src in srcs)
        if len(srcs) == 1:
            said = f"Video file: {files}, next to the notebook. In a static export, download it with the notebook " \
                   f"or save it again with <code>{escape(result + '.save()')}</code>."
        else:
            said = (f"This task made {len(srcs)} videos. Video files: {files}, next to the notebook. In a static "
                    "export, download them with the notebook or save them again with "
                    f"<code>{escape(f'[v.save() for v in {result}.videos]')}</code>.")
        note = f'<div class="tokenhot-video-note" style="font:11px sans-serif;color:#666">{said}</div>'
        return "".join(players) + note + self._footer()

    def _player(self, width: int, servable_path: Any) -> tuple[str, str]:
        """This video's ``<video>`` tag, and the file URL it plays."""
        src = rel_url(servable_path(self.path, self.sha256))
        poster = f' poster="{escape(self._poster_url(width))}"' if self.poster else ""
        w, h = self._frame_size()
        box = f'height="{width}"' if h > w else f'width="{width}"'
        return (f'<video controls preload="metadata" {box}{poster} src="{escape(src)}" '
                'style="max-width:100%;max-height:70vh"></video>'), src

    def _frame_size(self) -> tuple[int, int]:
        """The clip's shape, from its poster (a few KB); landscape when unknown."""
        if self.poster is not None:
            try:
                from PIL import Image as PILImage

                with PILImage.open(self.poster) as img:
                    return img.size
            except OSError:
                pass
        return 16, 9

    def _poster_url(self, width: int) -> str:
        """The poster as a small inline JPEG: front ends rewrite ``src`` URLs to their file handler but not
        ``poster`` (JupyterLab resolves it against the page and gets HTML back), and it is only a few KB."""
        assert self.poster is not None
        try:
            data, mime, _, _ = thumbnail(self.poster, width, max_bytes=40_000)
        except OSError:
            return rel_url(self.poster)
        return data_url(data, mime)

    def _plain(self) -> str:
        where = f", history #{self.entry_id}" if self.entry_id is not None else ""
        more = f", and {len(self._more)} more video{'s' if len(self._more) > 1 else ''} (.videos)" if self._more else ""
        return f"<VideoResult from {self.model}{where}, {self.path}{more}>"

    def _bundle(self) -> dict[str, Any]:
        return {"text/html": self.html()}

    def _bundle_metadata(self) -> dict[str, Any]:
        return {"text/html": {"isolated": False}}


class AudioResult(_StoredMedia):
    """Speech: a player, ``.wav`` bytes, ``.save(dir)``, ``.duration``, ``.path``."""

    kind = "audio"

    def __init__(self, path: Path, *, mime: str = "audio/wav", sha256: str = "", text: str = "",
                 model: str = "", entry: HistoryEntry | None = None, session: Session | None = None,
                 finish_reason: str | None = None) -> None:
        super().__init__(model=model, entry=entry, session=session)
        self.path = path
        self.mime = mime
        self.sha256 = sha256
        self.text = text
        self.finish_reason = finish_reason
        self._duration: float | None = None

    @property
    def cut(self) -> bool:
        """Whether the speech stopped at the model's output limit (``finishReason: MAX_TOKENS``), before the end
        of its text: the audio is what was paid for, the rest of the text is not in it."""
        return (self.finish_reason or "").upper() in ("MAX_TOKENS", "LENGTH")

    def _cut_note(self) -> str:
        return ('<div style="font:11px sans-serif;color:#a60">The speech stopped at the model\'s output limit '
                f"(finish: {escape(str(self.finish_reason))}): the end of the text is not in it. Speak the rest "
                "separately, or split the text.</div>") if self.cut else ""

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def wav(self) -> bytes:
        """The audio as WAV bytes (converted with PyAV when the model sent another format). A file PyAV cannot
        convert (no audio stream, broken or unknown data) is one line, :class:`UnreadableAudioError`, not PyAV's
        traceback (or a bare ``StopIteration``)."""
        raw = self.path.read_bytes()
        if raw[:4] == b"RIFF" and raw[8:12] == b"WAVE":
            return raw
        try:
            return _to_wav(self.path)
        except StopIteration:
            why = "it holds no audio stream"
        except Exception as exc:  # PyAV's errors (InvalidDataError…), or PyAV missing
            why = f"PyAV cannot read it ({type(exc).__name__}: {' '.join(str(exc).split())[:100]})"
        raise UnreadableAudioError(f"The audio {self.path.name} ({self.mime}) cannot be converted to WAV: {why}. "
                                   "The file is kept.",
                                   hint=f"Play or convert it with another program ({self.path}), or .save() it.")

    def html(self) -> str:
        from ._serve import servable_path

        if not self.mime.lower().startswith(("audio/", "video/")):  # a page an older version stored as speech
            return (f'<div style="font:12px sans-serif">This output is not audio ({escape(self.mime or "no type")});'
                    " it is not played.</div>" + self._footer())
        size = self.path.stat().st_size if self.path.exists() else 0
        note = ""
        if 0 < size <= INLINE_AUDIO_MAX:
            src = data_url(self.path.read_bytes(), self.mime)
        else:  # long audio is referenced, from a place the front end may fetch (see _serve)
            from urllib.parse import unquote

            src = rel_url(servable_path(self.path, self.sha256))
            # (a static export, nbviewer or GitHub has no file beside the notebook: the player stays silent there)
            result = (f"tokenhot_nb.session().history.get({self.entry_id}).result()" if self.entry_id is not None
                      else "result")
            note = (f'<div class="tokenhot-audio-note" style="font:11px sans-serif;color:#666">Audio file: '
                    f"<code>{escape(unquote(src))}</code>, next to the notebook. In a static export, download it "
                    f"with the notebook or save it again with <code>{escape(result + '.save()')}</code>.</div>")
        return f'<audio controls preload="metadata" src="{escape(src)}"></audio>' + note + self._cut_note() \
            + self._footer()

    def _plain(self) -> str:
        d = self.duration
        dur = f", {d:.1f} s" if d else ""
        where = f", history #{self.entry_id}" if self.entry_id is not None else ""
        cut = f", cut at the output limit (finish: {self.finish_reason})" if self.cut else ""
        return f"<AudioResult from {self.model}{dur}{where}{cut}, {self.path}>"

    def _bundle(self) -> dict[str, Any]:
        return {"text/html": self.html()}


def _to_wav(path: Path) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(str(path)) as src:
        stream = next(iter(src.streams.audio))
        rate = stream.rate or 24000
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        pcm = bytearray()
        for frame in src.decode(stream):
            if not isinstance(frame, av.AudioFrame):
                continue
            for f in resampler.resample(frame):
                pcm += bytes(f.planes[0])[: f.samples * 2]
        for f in resampler.resample(None):
            pcm += bytes(f.planes[0])[: f.samples * 2]
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(pcm))
    return out.getvalue()


__all__ = ["AudioResult", "UnreadableAudioError", "VideoResult", "extract_poster", "media_duration", "thumbnail"]
