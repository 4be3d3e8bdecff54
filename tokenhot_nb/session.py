"""Session: the one front door. Every call goes through here, is recorded, and returns a result object.

``Session.image/edit/video/speak/transcribe/translate/chat/compare`` each have an awaitable twin
(``aimage``…). The work always runs on tokenhot_nb's background event loop (the one the HTTP client's
connection pool lives on), so the sync methods work inside a running Jupyter kernel and the async ones can
be awaited from the kernel's own loop (top-level ``await``).

Recording: a call is inserted in the history as ``running`` just before the request, and finished with its
response metadata, usage and outputs (downloaded into the content-addressed store at once, because vendor
URLs expire). Errors are recorded too, then raised. In replay mode a call with a recorded twin (same
replay key) is rebuilt from the store with no request; a miss names the nearest recording.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import types
import uuid
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import catalog
from ._config import Settings
from ._inputs import Media, ext_for, sniff_mime, to_media, to_media_list
from ._progress import Progress
from ._threads import DEFAULT_THREAD, Threads, user_message
from .catalog import ModelInfo
from .errors import (
    APIError,
    InputError,
    ReplayMissError,
    StreamError,
    TaskFailedError,
    UnknownModelError,
    UnsupportedOptionError,
)
from .families._types import ChatDelta, HttpCall, TaskStatus, Usage
from .results import (
    AudioResult,
    BatchResult,
    ChatResult,
    CompareResult,
    ImageItem,
    ImageResult,
    TranscriptResult,
    VideoResult,
    VideoTask,
    from_entry,
)
from .results._base import Result

if TYPE_CHECKING:
    from .client import Client, Response
    from .history import History, HistoryEntry, Store

T = TypeVar("T")

#: Session method → catalogue kind of the model it takes.
METHOD_KIND = {"image": "image", "edit": "image", "video": "video", "speak": "audio", "transcribe": "audio",
               "translate": "audio", "chat": "chat"}
#: Catalogue kind → the method to use instead (for "wrong kind" errors).
KIND_METHOD = {"image": "image", "video": "video", "chat": "chat", "audio": "speak"}

_ENDPOINT_BY_PATH = (
    ("/v1/images/generations", "images.generations"),
    ("/v1/images/edits", "images.edits"),
    ("/v1/video/generations", "video.generations"),
    ("/v1/videos", "videos"),
    ("/v1/audio/speech", "audio.speech"),
    ("/v1/audio/transcriptions", "audio.transcriptions"),
    ("/v1/audio/translations", "audio.translations"),
    ("/v1/chat/completions", "chat.completions"),
    ("/v1/responses", "responses"),
    ("/v1/messages", "messages"),
)


def endpoint_name(call: HttpCall) -> str:
    """The catalogue's name for the endpoint a call goes to (recorded in the history, part of the replay key)."""
    path = call.path.split("?", 1)[0].rstrip("/")
    if path.endswith(":streamGenerateContent"):
        return "gemini.stream"
    if path.endswith(":generateContent"):
        return "gemini.generate"
    for prefix, name in _ENDPOINT_BY_PATH:
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return path


class Interrupted(BaseException):
    """A KeyboardInterrupt raised by a user callback on the loop thread, carried out of the loop safely.

    A bare KeyboardInterrupt inside an asyncio task would stop the background loop itself.
    """


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> None:
        try:
            fn(*args)
        except KeyboardInterrupt as exc:
            from .client import in_loop_thread

            if in_loop_thread():
                raise Interrupted(str(exc) or "interrupted") from None
            raise

    return run


def _call_user(fn: Callable[..., Any] | None, *args: Any) -> None:
    """Run a callback (on_delta, on_progress, a progress bar) where the call was made.

    Sync calls wait on the caller's thread and run it there (so displays land in the right cell, and an
    exception or Ctrl-C in it cancels the work); awaited calls run it on the caller's loop.
    """
    if fn is None:
        return
    from .client._loop import call_in_caller

    call_in_caller(_guarded(fn), *args)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class _Recording:
    """The history row of one call: inserted as running, finished as ok / error / pending."""

    def __init__(self, session: Session, entry: HistoryEntry) -> None:
        self.session = session
        self.entry = entry
        self.store = session.store
        self.id = self.store.insert(entry)
        self.t0 = time.monotonic()

    def update(self, **fields: Any) -> None:
        self.store.update(self.id, **fields)

    def ok(self, *, response: dict[str, Any], usage: Usage | dict[str, Any] | None,
           outputs: list[dict[str, Any]], text: str | None = None) -> HistoryEntry:
        fields: dict[str, Any] = {
            "status": "ok",
            "duration": time.monotonic() - self.t0,
            "response": response,
            "usage": usage.as_dict() if isinstance(usage, Usage) else (usage or {}),
            "outputs": outputs,
        }
        if text is not None:
            fields["text"] = text
        self.update(**fields)
        return self.final()

    def fail(self, err: BaseException, *, status: str | None = None, **extra: Any) -> None:
        if status is None:
            status = "interrupted" if isinstance(err, (asyncio.CancelledError, KeyboardInterrupt, Interrupted)) \
                else "error"
        try:
            self.update(status=status, duration=time.monotonic() - self.t0, error=err, **extra)
        except Exception:  # recording must never hide the real error
            pass

    def final(self) -> HistoryEntry:
        entry = self.store.get(self.id)
        entry.bind(self.store, self.session)
        return entry


class Session:
    """The front door to Tokenhot: one settings object, one HTTP client, one history.

    ``Session(api_key=None, base_url=None, mode=None, store=None, transport=None, seed=None, **settings)``:
    arguments win over ``TOKENHOT_*`` variables (see :class:`~tokenhot_nb._config.Settings`); with no key the
    session runs on the offline simulator. ``defaults`` maps a method or kind ("image", "chat", "speak"…) to
    the model used when none is named; ``seed`` is passed to models that take one.

    Every method takes ``**options``: extra body fields for the model (recorded in ``params``), ``raw={…}`` to
    replace the body whole, and ``headers={…}`` for extra HTTP headers (not recorded; e.g. ``X-Sim-Faults``).
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, mode: str | None = None,
                 store: str | Path | None = None, transport: Any = None, *, seed: int | None = None,
                 defaults: dict[str, str] | None = None, **settings: Any) -> None:
        self.settings = Settings.from_env(api_key=api_key, base_url=base_url, mode=mode, store=store, **settings)
        self.id = uuid.uuid4().hex[:12]
        self.seed = seed
        self.defaults: dict[str, str] = dict(defaults or {})
        self._transport = transport
        self._client: Client | None = None
        self._store: Store | None = None
        self._history: History | None = None
        self._lock = threading.Lock()
        self.threads = Threads(lambda: self.store)

    # -- plumbing -------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.settings.mode

    @property
    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                from .client import Client

                self._client = Client(self.settings, transport=self._transport)
            return self._client

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from .history import Store

                self._store = Store(self.settings.store, secrets=[self.settings.api_key])
            return self._store

    @property
    def history(self) -> History:
        if self._history is None:
            from .history import History

            self._history = History(self.store, session=self)
        return self._history

    def __repr__(self) -> str:
        key = "set" if self.settings.api_key else "not set"
        return (f"Session(mode={self.mode!r}, base_url={self.settings.base_url!r}, "
                f"store={str(self.settings.store)!r}, key {key})")

    def close(self) -> None:
        """Close the HTTP connections and the history database."""
        from .client import run_sync

        if self._client is not None:
            try:
                run_sync(self._client.aclose(), timeout=10)
            except Exception:
                pass
            self._client = None
        if self._store is not None:
            self._store.close()
            self._store = None
            self._history = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sync(self, coro: Coroutine[Any, Any, T], task: VideoTask | None = None) -> T:
        """Run on the background loop and wait; an interrupt says which video task is kept and how to resume."""
        from .client import run_sync

        since = time.time()
        try:
            return run_sync(coro)
        except (KeyboardInterrupt, Interrupted) as exc:
            raise KeyboardInterrupt(self._interrupt_message(exc, task, since)) from None

    async def _hop(self, coro: Coroutine[Any, Any, T], task: VideoTask | None = None) -> T:
        """Await ``coro`` on the background loop (where the client's connections live) from any loop.

        Callbacks run on the awaiting loop; one that raises cancels the work and its error is re-raised here.
        """
        from .client import in_loop_thread
        from .client._loop import relayed, submit

        if in_loop_thread():
            return await coro
        loop = asyncio.get_running_loop()
        failure: list[BaseException] = []
        holder: list[Any] = []

        def post(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
            def run() -> None:
                try:
                    fn(*args)
                except BaseException as exc:
                    if not failure:
                        failure.append(exc)
                    holder[0].cancel()

            try:
                loop.call_soon_threadsafe(run)
            except RuntimeError:  # the awaiting loop is gone: nobody is left to show this to
                pass

        since = time.time()
        future = submit(relayed(coro, post))
        holder.append(future)
        try:
            return await asyncio.wrap_future(future)
        except (asyncio.CancelledError, Interrupted, KeyboardInterrupt) as exc:
            err = failure[0] if failure else exc
            if isinstance(err, (KeyboardInterrupt, Interrupted)):
                raise KeyboardInterrupt(self._interrupt_message(err, task, since)) from None
            if failure:
                raise err from None
            raise

    def _interrupt_message(self, exc: BaseException, task: VideoTask | None, since: float) -> str:
        """Name the video task an interrupt left running (recorded as pending), else keep the message."""
        task_id = task.task_id if task is not None else None
        if task_id is None and self._store is not None:
            rows = self._store.select_entries(
                [("kind = ?", ("video",)), ("status = ?", ("pending",)), ("session_id = ?", (self.id,)),
                 ("started >= ?", (since - 1,))], desc=True, limit=1)
            if rows:
                task_id = (rows[0].response or {}).get("task_id")
        if task_id:
            return self._resume_hint(task_id)
        return str(exc)

    def _bar(self, total: int | None, label: str, progress: bool | None) -> Progress:
        return Progress(total, label, enabled=progress)

    def _resume_hint(self, task_id: str) -> str:
        return (f"Stopped waiting for video task {task_id}. It keeps running on the server and is recorded in "
                f"the history as pending: resume it with session.resume({task_id!r}) or history[i].resume() "
                "(this also works after a kernel restart, with a Session on the same store).")

    # -- models, seeds, inputs ----------------------------------------------------------------------------
    def _model(self, method: str, name: str | ModelInfo | None) -> ModelInfo:
        """Resolve a model for a method: explicit name, then ``defaults``, then the catalogue default."""
        kind = METHOD_KIND[method]
        if name is None:
            name = self.defaults.get(method) or (self.defaults.get(kind) if method in ("image", "video", "chat", "speak")
                                                 else None)
        if name is None:
            return self._default_model(method)
        if isinstance(name, ModelInfo):
            info = name
        else:
            try:
                info = catalog.model(name)
            except UnknownModelError:
                raise UnknownModelError(name, catalog.suggest(name, kind), kind) from None
        self._check_kind(method, info)
        return info

    def _default_model(self, method: str, mask: bool = False) -> ModelInfo:
        kind = METHOD_KIND[method]
        candidates: list[ModelInfo] = [catalog.default_model(kind), *catalog.models(kind)]
        if method == "edit" and self.defaults.get("image"):
            candidates.insert(0, catalog.model(self.defaults["image"]))
        for info in candidates:
            try:
                self._check_kind(method, info)
            except (UnsupportedOptionError, InputError):
                continue
            if mask and not info.can("mask"):
                continue
            return info
        raise UnsupportedOptionError(f"The catalogue has no model for {method}().")

    @staticmethod
    def _check_kind(method: str, info: ModelInfo) -> None:
        kind = METHOD_KIND[method]
        if info.kind != kind:
            use = KIND_METHOD.get(info.kind, info.kind)
            if info.kind == "audio" and info.can("transcribe"):
                use = "transcribe"
            raise UnsupportedOptionError(
                f"{info.id} is a {info.kind} model, so {method}() cannot use it.",
                hint=f"Call session.{use}(…) with it, or pick a {kind} model: tokenhot_nb.models({kind!r}).",
            )
        if method == "edit" and not info.can("edit"):
            raise UnsupportedOptionError(
                f"{info.id} cannot edit images.",
                hint="Models that can: " + ", ".join(m.id for m in catalog.models("image") if m.can("edit")) + ".",
            )
        if method == "image" and info.can("edit_only"):
            raise UnsupportedOptionError(f"{info.id} only edits images.",
                                         hint=f"Use session.edit(images, prompt, model={info.id!r}).")
        if method == "speak" and (info.can("transcribe") or info.can("translate")):
            raise UnsupportedOptionError(f"{info.id} turns speech into text; it does not speak.",
                                         hint="Use session.transcribe(audio) with it, or a TTS model for speak().")
        if method in ("transcribe", "translate") and not info.can(method):
            raise UnsupportedOptionError(f"{info.id} cannot {method} audio.",
                                         hint="Use whisper-1 (the default).")

    def _seed(self, info: ModelInfo, seed: int | None) -> int | None:
        """The seed to send: explicit or the session's, and only to models that take one."""
        if seed is None:
            return self.seed if self.seed is not None and info.can("seed") else None
        if not info.can("seed"):
            warnings.warn(f"{info.id} takes no seed; seed={seed} is ignored.", UserWarning, stacklevel=4)
            return None
        return seed

    def _store_media(self, media: Media) -> Media:
        """Put an input in the store once (dedup by hash) so params can reference it."""
        if media.url is None and media.sha256 is None and media.data is not None:
            art = self.store.add_bytes(media.data, media.mime, media.name)
            media.sha256 = art.sha256
        return media

    async def _fetch(self, media: Media) -> Media:
        """Download a URL input (for endpoints that need the bytes), keeping its URL ref for params."""
        if media.data is None and media.url:
            dl = await self.client.download(media.url, self._incoming())
            data = dl.path.read_bytes()
            dl.path.unlink(missing_ok=True)
            media.data = data
            media.mime = sniff_mime(data, dl.content_type or media.mime)
        return media

    def _incoming(self) -> Path:
        folder = self.store.artifacts_dir / "incoming"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # -- recording / replay --------------------------------------------------------------------------------
    def _entry(self, kind: str, info: ModelInfo, endpoint: str, params: dict[str, Any],
               call: HttpCall | None, thread: str | None, text: str) -> HistoryEntry:
        from .history import HistoryEntry

        return HistoryEntry(session_id=self.id, started=time.time(), mode=self.mode, kind=kind, model=info.id,
                            endpoint=endpoint, params=params, request=call.describe() if call else {},
                            status="running", thread=thread, text=text)

    def _replayed(self, kind: str, info: ModelInfo, endpoint: str, params: dict[str, Any]) -> HistoryEntry:
        """The recorded twin of a call, or :class:`ReplayMissError` naming the nearest recording."""
        store = self.store
        key = store.key_for(kind, info.id, endpoint, params)
        entry = store.find_replay(key)
        if entry is not None:
            return entry.bind(store, self)
        nearest, diffs = store.nearest(kind, info.id, params, endpoint)
        msg = f"Replay mode: this {kind} call to {info.id} was never recorded in {store.root}."
        if nearest is not None:
            msg += (f" The nearest recording is history #{nearest.id} ({nearest.kind}, {nearest.model}); "
                    "it differs in: " + ("; ".join(diffs[:8]) or "nothing visible (check inputs)") + ".")
        else:
            msg += f" There is no recorded {kind} call at all."
        raise ReplayMissError(msg, nearest=nearest, differences=diffs)

    async def _store_download(self, url: str, mime_hint: str, role: str, **extra: Any) -> dict[str, Any]:
        """Download an output into the store right away (vendor links expire) → an output dict."""
        dl = await self.client.download(url, self._incoming(), suffix=ext_for(mime_hint))
        mime = dl.content_type if dl.content_type and dl.content_type.split("/")[0] == mime_hint.split("/")[0] \
            else mime_hint
        if mime in ("application/octet-stream", "binary/octet-stream", ""):
            with open(dl.path, "rb") as f:
                mime = sniff_mime(f.read(16), mime_hint)
        # off the loop: the fsyncs of a large file would stall every other request in flight
        art = await asyncio.to_thread(self.store.add_file, dl.path, mime, sha256=dl.sha256)
        return {**art.as_dict(), "role": role, **_drop_none(extra)}

    def _store_bytes(self, data: bytes, mime: str, role: str, **extra: Any) -> dict[str, Any]:
        art = self.store.add_bytes(data, mime)
        return {**art.as_dict(), "role": role, **_drop_none(extra)}

    async def _send_recorded(self, kind: str, info: ModelInfo, params: dict[str, Any], call: HttpCall,
                             finish: Callable[[_Recording, Response], Awaitable[Result]], *,
                             thread: str | None = None, text: str = "") -> Result:
        """Record, send, let ``finish`` parse + store + build the result; record errors and re-raise."""
        rec = _Recording(self, self._entry(kind, info, endpoint_name(call), params, call, thread, text))
        try:
            resp = await self.client.send(call)
            return await finish(rec, resp)
        except BaseException as exc:
            rec.fail(exc)
            raise

    # ================================================================ images
    def image(self, prompt: str | Sequence[str], model: str | ModelInfo | None = None, n: int | None = None,
              size: str | None = None, seed: int | None = None, quality: str | None = None,
              negative: str | None = None, concurrency: int = 8, progress: bool | None = None,
              **options: Any) -> ImageResult | BatchResult:
        """Generate images. A list of prompts runs as a batch (``concurrency`` at a time) → :class:`BatchResult`.

        ``**options`` are extra body fields for the model (``raw={…}`` replaces the body whole).
        """
        bar = self._bar(len(prompt), "images", progress) if isinstance(prompt, (list, tuple)) else None
        return self._sync(self.aimage(prompt, model=model, n=n, size=size, seed=seed, quality=quality,
                                      negative=negative, concurrency=concurrency, progress=progress, _bar=bar,
                                      **options))

    async def aimage(self, prompt: str | Sequence[str], model: str | ModelInfo | None = None,
                     n: int | None = None, size: str | None = None, seed: int | None = None,
                     quality: str | None = None, negative: str | None = None, concurrency: int = 8,
                     progress: bool | None = None, _bar: Progress | None = None, **options: Any,
                     ) -> ImageResult | BatchResult:
        """Awaitable twin of :meth:`image`."""
        info = self._model("image", model)
        kw = {"n": n, "size": size, "seed": seed, "quality": quality, "negative": negative, **options}
        if isinstance(prompt, (list, tuple)):
            return await self._batch("image", list(prompt), lambda p: self._image_one(p, info, kw),
                                     concurrency, _bar or self._bar(len(prompt), "images", progress), info.id)
        result = await self._hop(self._image_one(str(prompt), info, kw))
        assert isinstance(result, ImageResult)
        return result

    def _image_params(self, info: ModelInfo, kw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(params for the history, builder kwargs) with the seed resolved and options split out."""
        kw = dict(kw)
        headers = kw.pop("headers", None)
        seed = self._seed(info, kw.pop("seed", None))
        named = {k: kw.pop(k, None) for k in ("n", "size", "quality", "negative", "response_format")}
        raw = kw.pop("raw", None)
        params = _drop_none({**named, "seed": seed, **kw, "raw": raw})
        build = {**named, "seed": seed, "extra": kw or None, "raw": raw, "_headers": headers}
        return params, build

    async def _image_one(self, prompt: str, info: ModelInfo, kw: dict[str, Any]) -> Result:
        from .families import images

        extra_params, build = self._image_params(info, kw)
        params = {"prompt": prompt, "model": info.id, **extra_params}
        headers = build.pop("_headers")
        call = images.build_generate(info, prompt, **build)
        call.headers.update(headers or {})
        if self.mode == "replay":
            return from_entry(self._replayed("image", info, endpoint_name(call), params), self)
        return await self._send_recorded("image", info, params, call,
                                         lambda rec, resp: self._finish_images(rec, resp, info, prompt),
                                         text=prompt)

    async def _finish_images(self, rec: _Recording, resp: Response, info: ModelInfo, prompt: str) -> Result:
        from .families import images

        reply = images.parse(info, resp.json())
        if not reply.images:
            raise APIError(f"{info.id} answered without any image" + (f": {reply.text[:200]}" if reply.text else "."),
                           status=resp.status, request_id=resp.request_id,
                           hint="The prompt may have been refused; rephrase it and try again.")

        async def one(ref: Any) -> dict[str, Any]:
            if ref.data is not None:
                return self._store_bytes(ref.data, ref.mime or sniff_mime(ref.data, "image/png"), "image",
                                         revised_prompt=ref.revised_prompt)
            return await self._store_download(ref.url, ref.mime or "image/png", "image",
                                              revised_prompt=ref.revised_prompt)

        outputs = list(await asyncio.gather(*(one(r) for r in reply.images)))
        if reply.text:
            outputs.append(self._store_bytes(reply.text.encode("utf-8"), "text/plain", "text"))
        usage = reply.usage
        if not usage.images:
            usage.images = len(reply.images)
        revised = next((r.revised_prompt for r in reply.images if r.revised_prompt), None)
        entry = rec.ok(response=_drop_none({"request_id": resp.request_id, "status": resp.status,
                                            "revised_prompt": revised}),
                       usage=usage, outputs=outputs, text="\n\n".join(t for t in (prompt, revised, reply.text) if t))
        items = [ImageItem(self.store.path_of(o["sha256"]), o["mime"], o["sha256"],
                           _drop_none({"revised_prompt": o.get("revised_prompt")}))
                 for o in outputs if o["role"] == "image"]
        return ImageResult(items, prompt=prompt, text=reply.text, model=info.id, entry=entry, session=self)

    # ================================================================ edit
    def edit(self, images: Any, prompt: str, mask: Any = None, model: str | ModelInfo | None = None, *,
             n: int | None = None, size: str | None = None, seed: int | None = None, quality: str | None = None,
             negative: str | None = None, **options: Any) -> ImageResult:
        """Edit one or more images (paths, bytes, PIL images, URLs, earlier results) guided by ``prompt``."""
        return self._sync(self.aedit(images, prompt, mask=mask, model=model, n=n, size=size, seed=seed,
                                     quality=quality, negative=negative, **options))

    async def aedit(self, images: Any, prompt: str, mask: Any = None, model: str | ModelInfo | None = None, *,
                    n: int | None = None, size: str | None = None, seed: int | None = None,
                    quality: str | None = None, negative: str | None = None, **options: Any) -> ImageResult:
        """Awaitable twin of :meth:`edit`."""
        info = self._default_model("edit", mask=mask is not None) if model is None and not (
            self.defaults.get("edit") or self.defaults.get("image")) else self._model("edit", model)
        kw = {"n": n, "size": size, "seed": seed, "quality": quality, "negative": negative, **options}
        result = await self._hop(self._edit_one(images, prompt, mask, info, kw))
        assert isinstance(result, ImageResult)
        return result

    async def _edit_one(self, images_in: Any, prompt: str, mask_in: Any, info: ModelInfo,
                        kw: dict[str, Any]) -> Result:
        from .families import images

        store = self.store
        media = [self._store_media(m) for m in to_media_list(images_in, "image", store)]
        if not media:
            raise InputError("No image to edit.", hint="Pass a path, bytes, a PIL image, a URL or an earlier result.")
        mask = self._store_media(to_media(mask_in, "image", store)) if mask_in is not None else None
        extra_params, build = self._image_params(info, kw)
        params = _drop_none({"images": [m.ref() for m in media], "prompt": prompt,
                             "mask": mask.ref() if mask else None, "model": info.id, **extra_params})
        headers = build.pop("_headers")
        needs_bytes = info.family == "openai-image"  # multipart: URL inputs must be fetched
        if self.mode == "replay":
            endpoint = "images.edits" if needs_bytes else info.endpoints[0]
            return from_entry(self._replayed("edit", info, endpoint, params), self)
        if needs_bytes:
            media = [await self._fetch(m) for m in media]
            if mask is not None:
                mask = await self._fetch(mask)
        pairs: list[Any] = [m.wire() for m in media]
        mask_arg = None if mask is None else mask.wire()
        call = images.build_edit(info, pairs, prompt, mask=mask_arg, **build)
        call.headers.update(headers or {})
        return await self._send_recorded("edit", info, params, call,
                                         lambda rec, resp: self._finish_images(rec, resp, info, prompt),
                                         text=prompt)

    # ================================================================ speech
    def speak(self, text: str, model: str | ModelInfo | None = None, voice: str | None = None,
              **options: Any) -> AudioResult:
        """Text to speech → :class:`AudioResult` (a player; ``.wav`` bytes)."""
        return self._sync(self.aspeak(text, model=model, voice=voice, **options))

    async def aspeak(self, text: str, model: str | ModelInfo | None = None, voice: str | None = None,
                     **options: Any) -> AudioResult:
        """Awaitable twin of :meth:`speak`."""
        info = self._model("speak", model)
        result = await self._hop(self._speak_one(text, info, voice, options))
        assert isinstance(result, AudioResult)
        return result

    async def _speak_one(self, text: str, info: ModelInfo, voice: str | None, options: dict[str, Any]) -> Result:
        from .families import audio

        options = dict(options)
        headers = options.pop("headers", None)
        raw = options.pop("raw", None)
        endpoint = options.pop("endpoint", None)
        params = _drop_none({"text": text, "model": info.id, "voice": voice, "endpoint": endpoint, **options,
                             "raw": raw})
        call = audio.build_speech(info, text, voice=voice, endpoint=endpoint, extra=options or None, raw=raw)
        call.headers.update(headers or {})
        if self.mode == "replay":
            return from_entry(self._replayed("speak", info, endpoint_name(call), params), self)

        async def finish(rec: _Recording, resp: Response) -> Result:
            body: Any = resp.json() if "json" in resp.content_type else resp.content
            reply = audio.parse_speech(info, body, resp.headers.get("content-type"))
            if reply.wav:
                out = self._store_bytes(reply.wav, reply.mime or "audio/wav", "audio")
            elif reply.url:
                out = await self._store_download(reply.url, reply.mime or "audio/wav", "audio")
            else:
                raise APIError(f"{info.id} answered without audio.", status=resp.status, request_id=resp.request_id)
            entry = rec.ok(response=_drop_none({"request_id": resp.request_id, "status": resp.status}),
                           usage=reply.usage, outputs=[out])
            return AudioResult(self.store.path_of(out["sha256"]), mime=out["mime"], sha256=out["sha256"], text=text,
                               model=info.id, entry=entry, session=self)

        return await self._send_recorded("speak", info, params, call, finish, text=text)

    def transcribe(self, audio: Any, model: str | ModelInfo | None = "whisper-1", language: str | None = None,
                   format: str = "json", **options: Any) -> TranscriptResult:
        """Speech to text (``format``: json, text, srt, vtt, verbose_json) → :class:`TranscriptResult`."""
        return self._sync(self.atranscribe(audio, model=model, language=language, format=format, **options))

    async def atranscribe(self, audio: Any, model: str | ModelInfo | None = "whisper-1",
                          language: str | None = None, format: str = "json", **options: Any) -> TranscriptResult:
        """Awaitable twin of :meth:`transcribe`."""
        info = self._model("transcribe", model)
        result = await self._hop(self._transcribe_one("transcribe", audio, info, language, format, options))
        assert isinstance(result, TranscriptResult)
        return result

    def translate(self, audio: Any, model: str | ModelInfo | None = "whisper-1", format: str = "json",
                  **options: Any) -> TranscriptResult:
        """Speech in any language to English text → :class:`TranscriptResult`."""
        return self._sync(self.atranslate(audio, model=model, format=format, **options))

    async def atranslate(self, audio: Any, model: str | ModelInfo | None = "whisper-1", format: str = "json",
                         **options: Any) -> TranscriptResult:
        """Awaitable twin of :meth:`translate`."""
        info = self._model("translate", model)
        result = await self._hop(self._transcribe_one("translate", audio, info, None, format, options))
        assert isinstance(result, TranscriptResult)
        return result

    async def _transcribe_one(self, kind: str, audio_in: Any, info: ModelInfo, language: str | None, fmt: str,
                              options: dict[str, Any]) -> Result:
        from .families import audio

        options = dict(options)
        headers = options.pop("headers", None)
        prompt = options.pop("prompt", None)
        media = self._store_media(to_media(audio_in, "audio", self.store))
        params = _drop_none({"audio": media.ref(), "model": info.id, "language": language, "format": fmt,
                             "prompt": prompt, **options})
        endpoint = "audio.translations" if kind == "translate" else "audio.transcriptions"
        if self.mode == "replay":
            return from_entry(self._replayed(kind, info, endpoint, params), self)
        media = await self._fetch(media)
        data, _ = media.pair()
        call = audio.build_transcription(info, data, media.filename, language=language, format=fmt, prompt=prompt,
                                         translate=kind == "translate", extra=options or None)
        call.headers.update(headers or {})

        async def finish(rec: _Recording, resp: Response) -> Result:
            body = resp.text
            reply = audio.parse_transcription(fmt, body)
            role = "subtitles" if fmt in ("srt", "vtt") else "text"
            mime = "application/json" if fmt in ("json", "verbose_json") else (
                "text/vtt" if fmt == "vtt" else "text/plain")
            out = self._store_bytes(body.encode("utf-8"), mime, role)
            entry = rec.ok(response=_drop_none({"request_id": resp.request_id, "status": resp.status,
                                                "language": reply.language}),
                           usage=Usage(), outputs=[out], text=reply.text)
            res = TranscriptResult(reply.text, segments=reply.segments, format=fmt, body=reply.body or body,
                                   language=reply.language, duration=reply.duration, model=info.id, entry=entry,
                                   session=self)
            res.kind = kind
            return res

        return await self._send_recorded(kind, info, params, call, finish, text=str(prompt or ""))

    # ================================================================ chat
    def chat(self, message: str | Sequence[Any], model: str | ModelInfo | None = None, system: str | None = None,
             stream: bool = True, thread: str | Literal[False] | None = None, new_thread: bool = False,
             temperature: float | None = None, max_tokens: int | None = None, images: Any = (),
             endpoint: str | None = None, on_delta: Callable[[ChatDelta, str], Any] | None = None,
             concurrency: int = 8, progress: bool | None = None, **options: Any) -> ChatResult | BatchResult:
        """Ask a chat model. Follow-ups in the same ``thread`` (default "default") carry the conversation;
        ``thread=False`` asks a one-off question with no context (and keeps it out of every thread).

        A list of strings runs as a batch of independent questions → :class:`BatchResult`; a list of
        ``{"role", "content"}`` dicts is sent as the conversation itself. ``on_delta(delta, text_so_far)`` is
        called (on the session's loop thread) for each streamed piece.
        """
        is_batch = isinstance(message, (list, tuple)) and all(isinstance(m, str) for m in message)
        bar = self._bar(len(message), "chats", progress) if is_batch else None
        return self._sync(self.achat(message, model=model, system=system, stream=stream, thread=thread,
                                     new_thread=new_thread, temperature=temperature, max_tokens=max_tokens,
                                     images=images, endpoint=endpoint, on_delta=on_delta, concurrency=concurrency,
                                     progress=progress, _bar=bar, **options))

    async def achat(self, message: str | Sequence[Any], model: str | ModelInfo | None = None,
                    system: str | None = None, stream: bool = True, thread: str | Literal[False] | None = None,
                    new_thread: bool = False, temperature: float | None = None, max_tokens: int | None = None,
                    images: Any = (), endpoint: str | None = None,
                    on_delta: Callable[[ChatDelta, str], Any] | None = None, concurrency: int = 8,
                    progress: bool | None = None, _bar: Progress | None = None,
                    **options: Any) -> ChatResult | BatchResult:
        """Awaitable twin of :meth:`chat`."""
        info = self._model("chat", model)
        kw = {"system": system, "stream": stream, "temperature": temperature, "max_tokens": max_tokens,
              "endpoint": endpoint, **options}
        if isinstance(message, (list, tuple)) and all(isinstance(m, str) for m in message):
            msgs = list(message)
            return await self._batch("chat", msgs,
                                     lambda m: self._chat_one(m, info, kw, thread=None, use_thread=False),
                                     concurrency, _bar or self._bar(len(msgs), "chats", progress), info.id)
        result = await self._hop(self._chat_one(message, info, kw, thread=thread, new_thread=new_thread,
                                                images=images, on_delta=on_delta,
                                                use_thread=not isinstance(message, (list, tuple))))
        assert isinstance(result, ChatResult)
        return result

    async def _chat_one(self, message: Any, info: ModelInfo, kw: dict[str, Any], *,
                        thread: str | Literal[False] | None,
                        new_thread: bool = False, images: Any = (), use_thread: bool = True,
                        on_delta: Callable[[ChatDelta, str], Any] | None = None) -> Result:
        from .families import chat

        kw = dict(kw)
        headers = kw.pop("headers", None)
        raw = kw.pop("raw", None)
        system, stream = kw.pop("system", None), bool(kw.pop("stream", True))
        temperature, max_tokens = kw.pop("temperature", None), kw.pop("max_tokens", None)
        endpoint = kw.pop("endpoint", None)
        store = self.store
        media = [self._store_media(m) for m in to_media_list(images, "image", store)] if images else []
        name = (thread or DEFAULT_THREAD) if use_thread and thread is not False else None
        th = self.threads.get(name, new=new_thread) if name is not None else None
        if th is not None and system is None:
            system = th.system
        if isinstance(message, (list, tuple)):  # an explicit conversation
            messages = list(message)
            user = None
            text = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        else:
            text = str(message)
            user = user_message(text, [m.wire() for m in media])
            messages = [*(th.messages if th is not None else []), user]
        params = _drop_none({
            "message": message if isinstance(message, str) else messages,
            "model": info.id, "system": system, "stream": stream, "thread": name if name is not None else False,
            "new_thread": True if new_thread else None, "temperature": temperature, "max_tokens": max_tokens,
            "images": [m.ref() for m in media] or None, "endpoint": endpoint, **kw, "raw": raw,
        })
        if not isinstance(message, str):
            params["message"] = _jsonable_messages(messages)
        call = chat.build(info, messages, endpoint=endpoint, system=system, temperature=temperature,
                          max_tokens=max_tokens, stream=stream, extra=kw or None, raw=raw)
        call.headers.update(headers or {})
        ep = endpoint_name(call)
        if self.mode == "replay":
            entry = self._replayed("chat", info, ep, params)
            res = from_entry(entry, self)
            assert isinstance(res, ChatResult)
            if th is not None and user is not None:
                th.add(user, res.text)
                if system:
                    th.system = system
            _call_user(on_delta, ChatDelta(text=res.text, reasoning=res.reasoning, done=True), res.text)
            return res

        rec = _Recording(self, self._entry("chat", info, ep, params, call, name, text))
        acc = chat.Accumulator()
        request_id: str | None = None
        response_id: str | None = None
        try:
            if stream and call.stream:
                events = await self.client.stream(call)
                request_id = events.request_id
                try:
                    async for ev in events:
                        delta = chat.parse_event(call.stream, ev.data)
                        acc.add(delta)
                        if delta.text or delta.reasoning:
                            _call_user(on_delta, delta, acc.text)
                        if delta.done:
                            break
                finally:
                    await events.aclose()
                reply = acc.reply(info.id)
            else:
                resp = await self.client.send(call)
                request_id = resp.request_id
                reply = chat.parse(info, ep, resp.json())
                response_id = reply.response_id
                _call_user(on_delta, ChatDelta(text=reply.text, reasoning=reply.reasoning, done=True), reply.text)
        except BaseException as exc:
            partial = acc.text
            if isinstance(exc, StreamError) and partial and not exc.partial_text:
                exc.partial_text = partial
            outputs = [self._store_bytes(partial.encode("utf-8"), "text/plain", "text")] if partial else []
            rec.fail(exc, outputs=outputs, text=text + ("\n\n" + partial if partial else ""),
                     response=_drop_none({"request_id": request_id, "partial": bool(partial) or None}))
            raise
        outputs = [self._store_bytes(reply.text.encode("utf-8"), "text/plain", "text")]
        if reply.reasoning:
            outputs.append(self._store_bytes(reply.reasoning.encode("utf-8"), "text/plain", "reasoning"))
        entry = rec.ok(response=_drop_none({"request_id": request_id, "finish_reason": reply.finish_reason,
                                            "response_id": response_id or reply.response_id}),
                       usage=reply.usage, outputs=outputs, text=f"{text}\n\n{reply.text}")
        if th is not None and user is not None:
            th.add(user, reply.text)
            if system:
                th.system = system
        return ChatResult(reply.text, reasoning=reply.reasoning, usage=reply.usage, finish_reason=reply.finish_reason,
                          thread=name, prompt=text, model=info.id, entry=entry, session=self)

    # ================================================================ video
    def video(self, prompt: str, model: str | ModelInfo | None = None, image: Any = None, images: Any = (),
              video: Any = None, duration: int | None = None, resolution: str | None = None,
              ratio: str | None = None, seed: int | None = None, wait: bool = True, progress: bool | None = True,
              on_progress: Callable[[TaskStatus], Any] | None = None, **options: Any) -> VideoResult | VideoTask:
        """Create a video task; with ``wait=True`` poll it to the end → :class:`VideoResult`, else a :class:`VideoTask`.

        The task id is recorded at once, so an interrupted wait can be resumed (``session.resume(task_id)``).
        """
        bar = self._bar(None, "video", progress) if wait else None
        return self._sync(self.avideo(prompt, model=model, image=image, images=images, video=video,
                                      duration=duration, resolution=resolution, ratio=ratio, seed=seed, wait=wait,
                                      progress=progress, on_progress=on_progress, _bar=bar, **options))

    async def avideo(self, prompt: str, model: str | ModelInfo | None = None, image: Any = None,
                     images: Any = (), video: Any = None, duration: int | None = None,
                     resolution: str | None = None, ratio: str | None = None, seed: int | None = None,
                     wait: bool = True, progress: bool | None = True,
                     on_progress: Callable[[TaskStatus], Any] | None = None, _bar: Progress | None = None,
                     **options: Any) -> VideoResult | VideoTask:
        """Awaitable twin of :meth:`video`."""
        info = self._model("video", model)
        bar = _bar if _bar is not None else (self._bar(None, "video", progress) if wait else None)
        kw = {"image": image, "images": images, "video": video, "duration": duration, "resolution": resolution,
              "ratio": ratio, "seed": seed, **options}
        try:
            result = await self._hop(self._video_one(prompt, info, kw, wait=wait, on_progress=on_progress, bar=bar))
        finally:
            if bar is not None:
                _call_user(bar.close)
        assert isinstance(result, (VideoResult, VideoTask))
        return result

    async def _video_one(self, prompt: str, info: ModelInfo, kw: dict[str, Any], *, wait: bool,
                         on_progress: Callable[[TaskStatus], Any] | None = None,
                         bar: Progress | None = None) -> Result:
        from .families import video as vfam

        kw = dict(kw)
        headers, raw = kw.pop("headers", None), kw.pop("raw", None)
        store = self.store
        first = [self._store_media(m) for m in to_media_list(kw.pop("image", None), "image", store)]
        # images=[…] may say what each one is for: {"image": <input>, "role": "last_frame"}
        more_in = kw.pop("images", None) or []
        roles: list[str | None] = []
        more_m: list[Media] = []
        for it in more_in if isinstance(more_in, (list, tuple)) else [more_in]:
            role = it.get("role") if isinstance(it, dict) and "image" in it else None
            got = [to_media(it["image"], "image", store)] if role else to_media_list(it, "image", store)
            more_m += [self._store_media(m) for m in got]
            roles += [role] * len(got)
        vid_in = kw.pop("video", None)
        vid = self._store_media(to_media(vid_in, "video", store)) if vid_in is not None else None
        seed = self._seed(info, kw.pop("seed", None))
        named = {k: kw.pop(k, None) for k in ("duration", "resolution", "ratio")}
        params = _drop_none({
            "prompt": prompt, "model": info.id,
            "image": first[0].ref() if len(first) == 1 else ([m.ref() for m in first] or None),
            "images": [{"image": m.ref(), "role": r} if r else m.ref() for m, r in zip(more_m, roles, strict=True)]
            or None,
            "video": vid.ref() if vid else None, **named, "seed": seed, **kw, "raw": raw,
        })
        wire: list[Any] = [m.wire() for m in first]
        wire += [{"image": m.wire(), "role": r} if r else m.wire() for m, r in zip(more_m, roles, strict=True)]
        call = vfam.build_create(info, prompt, images=wire,
                                 video=None if vid is None else vid.wire(), seed=seed,
                                 extra=kw or None, raw=raw, **named)
        call.headers.update(headers or {})
        ep = endpoint_name(call)
        if self.mode == "replay":
            entry = self._replayed("video", info, ep, params)
            res = from_entry(entry, self)
            if wait or not isinstance(res, VideoResult):
                return res
            task = VideoTask(self, str(res.task_id or ""), model=info.id, entry=entry, prompt=prompt)
            task._result = res
            return task
        rec = _Recording(self, self._entry("video", info, ep, params, call, None, prompt))
        try:
            resp = await self.client.send(call)
            st = vfam.parse_create(resp.json())
        except BaseException as exc:
            rec.fail(exc)
            raise
        rec.update(status="pending", response=_drop_none({"task_id": st.task_id, "request_id": resp.request_id,
                                                          "status": st.raw_status or st.state}))
        task = VideoTask(self, st.task_id, model=info.id, entry=rec.final(), prompt=prompt)
        task.last = st
        if not wait:
            return task
        return await self._await_task(task, on_progress=on_progress, bar=bar)

    def _poll_style(self, model_id: str) -> str:
        try:
            info = catalog.model(model_id)
        except (UnknownModelError, ValueError):
            return "generations"
        return "videos" if info.endpoints and info.endpoints[0] == "videos" else "generations"

    async def _apoll_task(self, task: VideoTask) -> TaskStatus:
        """One status request for a task."""
        from .families import video as vfam

        if self.mode == "replay":
            raise ReplayMissError(f"Replay mode cannot poll video task {task.task_id}: it never calls the network.")
        resp = await self.client.send(vfam.build_poll(task.task_id, self._poll_style(task.model)))
        st = vfam.parse_status(task.task_id, resp.json())
        task.last = st
        return st

    async def _await_task(self, task: VideoTask, *, timeout: float | None = None, progress: bool | None = None,
                          on_progress: Callable[[TaskStatus], Any] | None = None,
                          bar: Progress | None = None) -> VideoResult:
        """Poll until done (or the deadline), then download the video and its poster into the store."""
        own_bar = bar is None and progress is not False
        if not self.in_background_loop():  # awaited from the kernel's loop: the bar belongs to the caller
            if own_bar:
                bar = self._bar(None, "video", progress)
            try:
                return await self._hop(self._await_task(task, timeout=timeout, progress=False,
                                                        on_progress=on_progress, bar=bar), task=task)
            finally:
                if own_bar and bar is not None:
                    bar.close()
        store = self.store
        entry_id = task.entry_id
        limit = timeout if timeout is not None else self.settings.video_deadline
        deadline = time.monotonic() + limit
        try:
            while True:
                st = await self._apoll_task(task)
                if bar is not None:
                    _call_user(bar.update, st.progress, None, st.state, True)
                _call_user(on_progress, st)
                if st.state == "succeeded":
                    break
                if st.state == "failed":
                    err = TaskFailedError(task.task_id, st.error or "", code=st.error_code)
                    if entry_id is not None:
                        store.update(entry_id, status="error", error=err,
                                     response=_drop_none({"task_id": task.task_id, "status": st.raw_status or "failed",
                                                          "error_code": st.error_code}))
                    raise err
                if time.monotonic() + self.settings.poll_interval > deadline:
                    from .errors import APITimeoutError

                    raise APITimeoutError(
                        f"Video task {task.task_id} was not done after {limit:g} s; it is still running on the server.",
                        hint=f"Resume it later with session.resume({task.task_id!r}), or wait longer "
                             "(task.wait(timeout=…) / Session(video_deadline=…)).",
                    )
                await asyncio.sleep(self.settings.poll_interval)
        finally:
            if bar is not None:
                _call_user(bar.close)
        if not st.url:
            raise APIError(f"Video task {task.task_id} finished without a video URL.",
                           hint="Try session.resume(task_id) again in a moment.")
        out = await self._store_download(st.url, "video/mp4", "video")
        outputs = [out]
        poster = await asyncio.to_thread(self._poster, store.path_of(out["sha256"]))
        if poster is not None:
            outputs.append(poster)
        usage = st.usage
        response = _drop_none({"task_id": task.task_id, "status": st.raw_status or "succeeded",
                               "request_id": (task.entry.response or {}).get("request_id") if task.entry else None})
        if entry_id is not None:
            store.update(entry_id, status="ok", response=response, usage=usage.as_dict(), outputs=outputs, error=None)
            entry: HistoryEntry | None = store.get(entry_id).bind(store, self)
        else:
            entry = None
        task.entry = entry
        return VideoResult(store.path_of(out["sha256"]), mime=out["mime"], sha256=out["sha256"],
                           poster=store.path_of(poster["sha256"]) if poster else None, task_id=task.task_id,
                           prompt=task.prompt, model=task.model, entry=entry, session=self)

    def _poster(self, video_path: Path) -> dict[str, Any] | None:
        from .results.media import extract_poster

        tmp = self._incoming() / f"poster-{uuid.uuid4().hex}.jpg"
        try:
            if extract_poster(video_path, tmp) is None:
                return None
            art = self.store.add_file(tmp, "image/jpeg")
            return {**art.as_dict(), "role": "poster"}
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def in_background_loop() -> bool:
        from .client import in_loop_thread

        return in_loop_thread()

    def resume(self, task_id: str, model: str | None = None) -> VideoTask:
        """A handle on a video task recorded earlier (this session, or a previous kernel on the same store).

        ``.wait()`` it to get the video. A task that already finished comes back done, with no request.
        """
        store = self.store
        rows = store.select_entries([("kind = ?", ("video",)),
                                     ("json_extract(response, '$.task_id') = ?", (task_id,))], desc=True, limit=1)
        if rows:
            entry = rows[0].bind(store, self)
            task = VideoTask(self, task_id, model=entry.model, entry=entry,
                             prompt=str((entry.params or {}).get("prompt") or ""))
            if entry.status == "ok":
                res = from_entry(entry, self)
                assert isinstance(res, VideoResult)
                task._result = res
            return task
        if self.mode == "replay":
            raise ReplayMissError(f"Replay mode: video task {task_id} is not in the history at {store.root}.")
        info = catalog.model(model) if model else None
        from .history import HistoryEntry

        entry = HistoryEntry(session_id=self.id, mode=self.mode, kind="video", model=info.id if info else "",
                             endpoint=info.endpoints[0] if info else "video.generations",
                             params=_drop_none({"task_id": task_id, "model": info.id if info else None}),
                             response={"task_id": task_id}, status="pending")
        store.insert(entry)
        return VideoTask(self, task_id, model=entry.model, entry=entry.bind(store, self))

    async def aresume(self, task_id: str, model: str | None = None) -> VideoTask:
        """Awaitable twin of :meth:`resume` (it makes no request)."""
        return self.resume(task_id, model)

    # ================================================================ batches and comparisons
    async def _batch(self, kind: str, inputs: list[Any], one: Callable[[Any], Awaitable[Result]],
                     concurrency: int, bar: Progress | None, model: str) -> BatchResult:
        if concurrency < 1:
            raise InputError("concurrency must be at least 1.")

        async def rerun(indices: list[int]) -> list[Any]:
            return await self._hop(self._gather([inputs[i] for i in indices], one, concurrency, None))

        try:
            items = await self._hop(self._gather(inputs, one, concurrency, bar))
        finally:
            if bar is not None:
                _call_user(bar.close)
        return BatchResult(items, inputs, kind=kind, model=model, rerun=rerun, session=self)

    async def _gather(self, inputs: list[Any], one: Callable[[Any], Awaitable[Any]], concurrency: int,
                      bar: Progress | None) -> list[Any]:
        """Run ``one`` over inputs, at most ``concurrency`` at a time; a failure becomes that item's value."""
        sem = asyncio.Semaphore(concurrency)
        counts = {"done": 0, "failed": 0}

        async def run(x: Any) -> Any:
            async with sem:
                try:
                    out: Any = await one(x)
                except Exception as exc:  # kept in the batch; KeyboardInterrupt/cancel stop it
                    out = exc
                    counts["failed"] += 1
            counts["done"] += 1
            if bar is not None:
                _call_user(bar.update, counts["done"], counts["failed"])
            return out

        tasks = [asyncio.ensure_future(run(x)) for x in inputs]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            raise

    def compare(self, prompt: Any, models: Sequence[str | ModelInfo], kind: str | None = None,
                progress: bool | None = None, **options: Any) -> CompareResult:
        """The same prompt on several models at once, shown side by side → :class:`CompareResult`."""
        bar = self._bar(len(models), "models", progress)
        return self._sync(self.acompare(prompt, models, kind=kind, progress=progress, _bar=bar, **options))

    async def acompare(self, prompt: Any, models: Sequence[str | ModelInfo], kind: str | None = None,
                       progress: bool | None = None, _bar: Progress | None = None, **options: Any) -> CompareResult:
        """Awaitable twin of :meth:`compare`."""
        if not models:
            raise InputError("Name at least one model to compare.", hint="compare(prompt, models=['a', 'b']).")
        first = models[0] if isinstance(models[0], ModelInfo) else catalog.model(models[0])
        method = kind or KIND_METHOD.get(first.kind, "chat")
        if method not in ("image", "chat", "speak", "video"):
            raise InputError(f"compare() runs image, chat, speak or video calls, not {method}.")
        infos: dict[str, ModelInfo] = {}
        for m in models:
            info = self._model(method, m)
            infos.setdefault(info.id, info)

        def one(info: ModelInfo) -> Awaitable[Result]:
            if method == "image":
                return self._image_one(str(prompt), info, dict(options))
            if method == "speak":
                return self._speak_one(str(prompt), info, options.get("voice"),
                                       {k: v for k, v in options.items() if k != "voice"})
            if method == "video":
                return self._video_one(str(prompt), info, dict(options), wait=True)
            return self._chat_one(prompt, info, {"stream": False, **options}, thread=None, use_thread=False)

        bar = _bar or self._bar(len(infos), "models", progress)
        try:
            results = await self._hop(self._gather(list(infos.values()), one, len(infos), bar))
        finally:
            _call_user(bar.close)
        return CompareResult(prompt, dict(zip(infos, results, strict=True)), of=method, session=self)


def _jsonable_messages(messages: list[Any]) -> list[Any]:
    """Explicit conversations in params: bytes parts become sizes (the history never stores raw bytes)."""
    out: list[Any] = []
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            parts = [{k: ({"bytes": len(v)} if isinstance(v, (bytes, bytearray)) else v) for k, v in p.items()}
                     if isinstance(p, dict) else p for p in m["content"]]
            out.append({**m, "content": parts})
        else:
            out.append(m)
    return out


# ==================================================================== the shared default session
_default: Session | None = None
_default_lock = threading.Lock()


def session(reset: bool = False, **kwargs: Any) -> Session:
    """The shared default session (the magics and widgets use it). ``reset=True`` (or kwargs) makes a new one."""
    global _default
    with _default_lock:
        if _default is None or reset or kwargs:
            old = _default
            _default = Session(**kwargs)
            if old is not None:
                try:
                    old.close()
                except Exception:
                    pass
        return _default


def set_session(s: Session) -> Session:
    """Make ``s`` the shared default session."""
    global _default
    if not isinstance(s, Session):
        raise TypeError(f"set_session() takes a Session, not {type(s).__name__}")
    with _default_lock:
        _default = s
    return s


class _CallableModule(types.ModuleType):
    """``tokenhot_nb.session()`` must work even after ``import tokenhot_nb.session`` made the name the module."""

    def __call__(self, reset: bool = False, **kwargs: Any) -> Session:
        return session(reset, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["Interrupted", "Session", "endpoint_name", "session", "set_session"]
