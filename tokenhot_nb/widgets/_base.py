"""What every panel shares: the session, busy state, the error box, model pickers and background work.

Panels are a thin skin over the :class:`~tokenhot_nb.session.Session`: they read widgets, call the
session's sync methods on a worker thread (so the kernel stays free) and write results back into
widgets. Widget trait updates from a thread are safe; ``display()`` from a thread is not, so panels
only ever set values and children.
"""

from __future__ import annotations

import html
import io
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w

#: The notebook server drops comm messages around 10 MB; media above this goes through files.
INLINE_LIMIT = 8 * 1024 * 1024
#: The "default" entry of an option dropdown (not None: a Dropdown reads None as "nothing selected").
UNSET = ""
#: Largest side of a gallery thumbnail pushed through the widget channel.
THUMB_SIDE = 512


def get_session(session: Any = None) -> Any:
    """The session passed in, else the shared default one (so everything lands in the same history)."""
    if session is not None:
        return session
    import tokenhot_nb

    return tokenhot_nb.session()


def error_text(exc: BaseException) -> str:
    """Plain words for the user: a TokenhotError's message and hint, else the exception's own text."""
    from ..errors import TokenhotError

    if isinstance(exc, TokenhotError):
        return str(exc)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


class Panel(w.VBox):
    """Base panel: a VBox with a status line, an error box and one background job at a time."""

    kind = ""

    def __init__(self, session: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = get_session(session)
        self.status = w.HTML(value="", layout=w.Layout(min_height="1.5em"))
        self.error_box = w.HTML(value="", layout=w.Layout(display="none"))
        self.error_box.add_class("tokenhot-error")
        self.busy_widgets: list[w.Widget] = []
        self.thread: threading.Thread | None = None
        self._job = 0
        self.last_error: BaseException | None = None
        self.add_class("tokenhot-panel")
        if self.kind:
            self.add_class(f"tokenhot-{self.kind}")

    # -- feedback -------------------------------------------------------------------------------
    def show_error(self, exc: BaseException | str | None) -> None:
        """Put an error in the panel (never raise into the kernel: the user is looking at the panel)."""
        if exc is None:
            self.error_box.value = ""
            self.error_box.layout.display = "none"
            return
        text = exc if isinstance(exc, str) else error_text(exc)
        if not isinstance(exc, str):
            self.last_error = exc
        self.error_box.value = (
            '<div style="color:#a00;background:#fee;border:1px solid #e99;padding:6px;border-radius:4px;'
            f'white-space:pre-wrap">{html.escape(text)}</div>'
        )
        self.error_box.layout.display = None

    def say(self, text: str) -> None:
        self.status.value = f"<small>{html.escape(text)}</small>"

    def required(self, widget: w.ValueWidget, message: str) -> str:
        """The widget's text, stripped; empty, with ``message`` in the error box, when nothing was typed."""
        text = str(widget.value or "").strip()
        if not text:
            self.show_error(message)
        return text

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _set_busy(self, busy: bool) -> None:
        for widget in self.busy_widgets:
            widget.disabled = busy

    # -- background work -------------------------------------------------------------------------
    def run(
        self,
        work: Callable[[], Any],
        done: Callable[[Any], None] | None = None,
        *,
        label: str = "Working…",
        failed: Callable[[BaseException], None] | None = None,
    ) -> threading.Thread | None:
        """Run ``work`` on a daemon thread; ``done(result)`` or the error box afterwards.

        Buttons in ``busy_widgets`` are disabled meanwhile, so a double click cannot start two calls.
        """
        if self.busy:
            self.say("Still working on the previous request…")
            return None
        self.show_error(None)
        self._set_busy(True)
        self.say(label)
        label_html = self.status.value
        started = time.monotonic()
        self._job += 1
        job = self._job

        def target() -> None:
            try:
                result = work()
            except BaseException as exc:  # shown in the panel, never lost in a thread
                if job != self._job:  # detached (e.g. a stopped stream): nothing to report
                    return
                if failed is not None:
                    failed(exc)
                self.show_error(exc)
                self.say("Failed.")
            else:
                if job != self._job:
                    return
                try:
                    if done is not None:
                        done(result)
                    if self.status.value == label_html:
                        self.say(f"Done in {time.monotonic() - started:.1f} s.")
                except BaseException as exc:
                    self.show_error(exc)
            finally:
                if job == self._job:
                    self._set_busy(False)

        self.thread = threading.Thread(target=target, name=f"tokenhot-{self.kind or 'panel'}", daemon=True)
        self.thread.start()
        return self.thread

    def detach(self) -> None:
        """Forget the running job (its late results are dropped) and free the panel for the next one."""
        self._job += 1
        self.thread = None
        self._set_busy(False)

    def is_current(self, job: int) -> bool:
        return job == self._job

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the current job ends (tests and scripts); raises TimeoutError if it does not."""
        thread = self.thread
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"the {self.kind or 'panel'} job did not finish within {timeout} s")


class MediaPanel(Panel):
    """A panel that ends in a player (video, speech): the last result, the player box, and the step from a
    finished call to a player for its first output file."""

    def __init__(self, session: Any = None, *, inline_limit: int = INLINE_LIMIT) -> None:
        super().__init__(session)
        self.inline_limit = inline_limit
        self.result: Any = None
        self.player = w.Box()
        self.player.add_class("tokenhot-player")

    def show_output(self, result: Any, role: str, make_player: Callable[[Path, dict[str, Any]], w.Widget], *,
                    missing: str, ready: str) -> Path | None:
        """A player for ``result``'s first ``role`` output, and "<ready> · N KB · entry #id" in the status line;
        ``missing`` in the error box (and None) when the call left no such file."""
        self.result = result
        entry = entry_of(result)
        items = outputs(self.session, entry, (role,)) if entry is not None else []
        if not items:
            self.show_error(missing)
            return None
        path, art = items[0]
        self.player.children = [make_player(path, art)]
        self.say(f"{ready} · {path.stat().st_size // 1024} KB · entry #{getattr(entry, 'id', '?')}")
        return path


def follow(widget: w.ValueWidget, handler: Callable[..., Any]) -> None:
    """Call ``handler`` now and whenever ``widget``'s value changes (options that follow a model picker)."""
    widget.observe(handler, names="value")
    handler()


# -- models ----------------------------------------------------------------------------------------
def catalog_models(kind: str, keep: Callable[[Any], bool] | None = None) -> list[Any]:
    from .. import catalog

    return [m for m in catalog.models(kind) if keep is None or keep(m)]


def default_model_id(session: Any, kind: str, options: Sequence[Any]) -> Any:
    """The session's default for a kind when it is among the options, else the catalogue's, else the first."""
    ids = [m.id for m in options]
    defaults = getattr(session, "defaults", None) or {}
    try:
        want = defaults.get(kind)
    except Exception:
        want = None
    if want in ids:
        return want
    try:
        from .. import catalog

        cat_default = catalog.default_model(kind).id
        if cat_default in ids:
            return cat_default
    except Exception:
        pass
    return ids[0] if ids else None


def model_picker(session: Any, kind: str, keep: Callable[[Any], bool] | None = None,
                 description: str = "Model") -> w.Dropdown:
    """A dropdown of the catalogue's models of one kind (label: display name, value: id)."""
    models = catalog_models(kind, keep)
    options = [(m.name if m.name == m.id else f"{m.name} ({m.id})", m.id) for m in models]
    return w.Dropdown(
        options=options,
        value=default_model_id(session, kind, models),
        description=description,
        layout=w.Layout(width="max-content", min_width="320px"),
    )


def model_info(model_id: str) -> Any:
    from .. import catalog

    return catalog.model(model_id)


def chosen(dropdown: w.Dropdown) -> Any:
    """The dropdown's value, or None when it is on "default"."""
    value = dropdown.value
    return None if value in (None, UNSET) else value


def set_options(dropdown: w.Dropdown, values: Iterable[Any], *, blank: str | None = "default",
                prefer: Any = None) -> None:
    """Replace a dropdown's options, keeping the current choice when the new model still offers it,
    else the model's default (``prefer``), else "default" (let the session decide)."""
    current = dropdown.value
    opts: list[tuple[str, Any]] = [(blank, UNSET)] if blank is not None else []
    opts += [(str(v), v) for v in values]
    dropdown.options = opts
    allowed = [v for _, v in opts]
    if current not in (None, UNSET) and current in allowed:
        dropdown.value = current
    elif prefer not in (None, UNSET) and prefer in allowed:
        dropdown.value = prefer
    elif allowed:
        dropdown.value = allowed[0]
    dropdown.layout.display = None if len(opts) > (1 if blank is not None else 0) else "none"


# -- history and artifacts -------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def entry_of(result: Any) -> Any:
    """The HistoryEntry behind a result (results carry it as ``.entry``)."""
    return _get(result, "entry")


def history_entries(session: Any, kinds: Iterable[str] | None = None, status: Iterable[str] | None = None,
                    limit: int | None = None, text: str | None = None) -> list[Any]:
    """Entries newest first, filtered by kind, status and (full-text) words."""
    kinds = list(kinds) if kinds is not None else None
    status = list(status) if status is not None else None
    try:
        view = session.history.filter(kind=kinds, status=status, text=text or None)
        entries = list(view[-limit:]) if limit else list(view)
    except Exception:
        return []
    entries.sort(key=lambda e: (_get(e, "started") or 0, _get(e, "id") or 0), reverse=True)
    return entries


def artifact_path(session: Any, artifact: Any) -> Path | None:
    """Where an output artifact lives on disk, asking the session's store."""
    path = _get(artifact, "path")
    if path:
        return Path(path)
    sha = _get(artifact, "sha256")
    if not sha:
        return None
    for owner in (getattr(getattr(session, "history", None), "store", None), getattr(session, "store", None)):
        if owner is not None and hasattr(owner, "path_of"):
            try:
                return Path(owner.path_of(sha))
            except Exception:
                continue
    return None


def outputs(session: Any, entry: Any, roles: Iterable[str]) -> list[tuple[Path, dict[str, Any]]]:
    """(path, artifact dict) for an entry's outputs with one of ``roles``, in order."""
    roles = set(roles)
    found: list[tuple[Path, dict[str, Any]]] = []
    for art in _get(entry, "outputs") or []:
        role = _get(art, "role") or ""
        mime = _get(art, "mime") or ""
        if role in roles or (not role and mime.split("/")[0] in roles):
            path = artifact_path(session, art)
            if path is not None and path.exists():
                found.append((path, dict(art) if isinstance(art, dict) else {"sha256": _get(art, "sha256"), "mime": mime}))
    return found


def entry_thumbs(session: Any, entries: Iterable[Any], roles: Iterable[str], max_side: int,
                 limit: int | None = None) -> list[w.Widget]:
    """Captioned thumbnails of each entry's first output with one of ``roles`` (at most ``limit``); files
    that cannot be read as images are skipped."""
    roles = tuple(roles)
    thumbs: list[w.Widget] = []
    for entry in entries:
        if limit is not None and len(thumbs) >= limit:
            break
        for path, _art in outputs(session, entry, roles)[:1]:
            try:
                thumbs.append(small_thumb(path, entry_label(entry), max_side))
            except Exception:
                continue
    return thumbs


def entry_label(entry: Any, width: int = 60) -> str:
    """One line for pickers: '#12 image · gpt-image-1 · a cat on a…'."""
    params = _get(entry, "params") or {}
    text = params.get("prompt") or params.get("text") or params.get("message") or _get(entry, "text") or ""
    if isinstance(text, list):
        text = text[-1] if text else ""
    text = " ".join(str(text).split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f"#{_get(entry, 'id')} {_get(entry, 'kind')} · {_get(entry, 'model')} · {text}"


# -- media -----------------------------------------------------------------------------------------
def thumbnail(source: bytes | Path | str, max_side: int = THUMB_SIDE) -> tuple[bytes, str, tuple[int, int]]:
    """A downscaled copy for the widget channel: (bytes, format, (width, height)).

    PNG keeps transparency and small drawings sharp; large photos go as JPEG to stay light.
    """
    from PIL import Image

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        im = img.copy()
    im.thumbnail((max_side, max_side))
    out = io.BytesIO()
    if im.mode in ("RGBA", "LA", "P") or im.width * im.height <= 256 * 256:
        if im.mode not in ("RGB", "RGBA", "L", "LA"):
            im = im.convert("RGBA")
        im.save(out, format="PNG", optimize=False)
        fmt = "png"
    else:
        im.convert("RGB").save(out, format="JPEG", quality=88)
        fmt = "jpeg"
    return out.getvalue(), fmt, (im.width, im.height)


def image_widget(source: bytes | Path | str, max_side: int = THUMB_SIDE) -> w.Image:
    # No tooltip on Image: @jupyter-widgets/controls' ImageView fails to render one (updateTooltip bug).
    data, fmt, (width, _height) = thumbnail(source, max_side)
    img = w.Image(value=data, format=fmt, layout=w.Layout(max_width=f"{width}px", height="auto"))
    img.add_class("tokenhot-thumb")
    return img


def small_thumb(source: Path, label: str, max_side: int) -> w.VBox:
    """A small thumbnail with a short caption (the full label as the caption's tooltip)."""
    caption = w.HTML(f"<small>{html.escape(label.split(' ', 1)[0])}</small>", tooltip=label)
    box = w.VBox([image_widget(source, max_side), caption], layout=w.Layout(margin="0 4px 0 0"))
    box.add_class("tokenhot-small-thumb")
    return box


def served_urls(path: Path) -> list[str]:
    """URLs under which Jupyter's file handler serves ``path`` (for media too big for the widget channel).

    The kernel finds its server in the runtime dir and makes the path relative to its root; the plain
    relative ``files/…`` form is the fallback for servers it cannot see. The server refuses hidden paths such
    as ``.tokenhot/…`` unless it runs with ``--ContentsManager.allow_hidden=True``: :func:`media_html` first
    publishes such files to a visible folder (see :mod:`tokenhot_nb.results._serve`).
    """
    path = Path(path).resolve()
    urls: list[str] = []
    try:
        from jupyter_server.serverapp import list_running_servers

        servers = list(list_running_servers())
    except Exception:
        servers = []
    for info in servers:
        root = info.get("root_dir") or info.get("notebook_dir")
        if not root:
            continue
        try:
            rel = path.relative_to(Path(root).resolve())
        except ValueError:
            continue
        base = info.get("base_url") or "/"
        urls.append(f"{base.rstrip('/')}/files/{rel.as_posix()}")
    try:
        rel_cwd = os.path.relpath(path, Path.cwd())
        urls.append(f"/files/{Path(rel_cwd).as_posix()}")
        urls.append(f"/voila/files/{Path(rel_cwd).as_posix()}")
    except ValueError:
        pass
    return list(dict.fromkeys(urls))


def media_html(tag: str, path: Path, mime: str) -> str:
    """An ``<audio>``/``<video>`` tag that tries each served URL in turn (no bytes over the comm).

    A file Jupyter would not serve (in the hidden default store, or outside the notebook's folder) is first
    published to ``tokenhot-media/`` (a hard link) and offered from there; the store's own URLs follow, for
    servers started with ``--ContentsManager.allow_hidden=True``.
    """
    from ..results._serve import servable_path

    urls = served_urls(servable_path(path)) + served_urls(path)
    sources = "".join(f'<source src="{html.escape(u)}" type="{html.escape(mime)}">' for u in dict.fromkeys(urls))
    style = ' style="max-width:100%;max-height:480px"' if tag == "video" else ""
    return f'<{tag} controls preload="auto"{style}>{sources}</{tag}>'


def video_widget(path: Path, limit: int = INLINE_LIMIT) -> w.Widget:
    """A player for a video file: inline bytes when small, else the file served by Jupyter."""
    size = path.stat().st_size
    if size <= limit:
        video = w.Video(value=path.read_bytes(), format=path.suffix.lstrip(".") or "mp4", controls=True,
                        autoplay=False, loop=False, layout=w.Layout(max_width="640px"))
        video.add_class("tokenhot-video")
        return video
    box = w.HTML(value=media_html("video", path, "video/mp4"))
    box.add_class("tokenhot-video")
    return box


def audio_widget(data_or_path: bytes | Path, mime: str = "audio/wav", limit: int = INLINE_LIMIT) -> w.Widget:
    """A player for audio: ``widgets.Audio`` with the bytes when small, else the file served by Jupyter."""
    fmt = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/ogg": "ogg"}.get(mime, "wav")
    if isinstance(data_or_path, bytes) or data_or_path.stat().st_size <= limit:
        data = data_or_path if isinstance(data_or_path, bytes) else data_or_path.read_bytes()
        audio = w.Audio(value=data, format=fmt, autoplay=False, loop=False, controls=True)
        audio.add_class("tokenhot-audio")
        return audio
    box = w.HTML(value=media_html("audio", data_or_path, mime))
    box.add_class("tokenhot-audio")
    return box


def uploaded(upload: w.FileUpload) -> list[tuple[bytes, str, str]]:
    """(bytes, name, mime) of each file in a FileUpload (ipywidgets 8 value shape)."""
    files: list[tuple[bytes, str, str]] = []
    for item in upload.value or ():
        content = _get(item, "content")
        files.append((bytes(content), _get(item, "name") or "upload", _get(item, "type") or ""))
    return files


def clear_upload(upload: w.FileUpload) -> None:
    try:
        upload.value = ()
    except Exception:
        pass


def save_copy(src: Path, name: str, folder: Path | str = ".") -> Path:
    """Copy an artifact next to the notebook under a readable name, never overwriting a file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = Path(name).stem, Path(name).suffix or src.suffix
    dest = folder / f"{stem}{suffix}"
    i = 1
    while dest.exists():
        dest = folder / f"{stem}-{i}{suffix}"
        i += 1
    dest.write_bytes(src.read_bytes())
    return dest
