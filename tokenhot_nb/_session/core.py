"""Session: the one front door. Every call goes through here, is recorded, and returns a result object.

``Session.image/edit/video/speak/transcribe/translate/chat/embed/rerank/compare`` each have an awaitable twin
(``aimage``…). The work always runs on tokenhot_nb's background event loop (the one the HTTP client's
connection pool lives on), so the sync methods work inside a running Jupyter kernel and the async ones can
be awaited from the kernel's own loop (top-level ``await``). This class holds the settings, the client, the
store and the defaults; each method is a short delegation to the module that does that kind of call.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .. import cost as _cost
from .._config import Settings
from .._front_door import front_doors
from .._progress import Progress
from .._threads import DEFAULT_THREAD, Threads
from ..catalog import ModelInfo, ModelList
from ..errors import ReplayMissError, TokenhotError
from ..families._types import ChatDelta, TaskStatus
from ..history._problems import check_root
from ..results import (
    AudioResult,
    BatchResult,
    ChatResult,
    EmbeddingResult,
    ImageResult,
    RerankResult,
    TranscriptResult,
    VideoResult,
    VideoTask,
)
from . import audio as _audio
from . import balance as _balance
from . import batch as _batch
from . import budget as _budget
from . import chat as _chat
from . import checks as _checks
from . import embeddings as _embeddings
from . import images as _images
from . import loop as _loop
from . import models as _models
from . import recording as _recording
from . import rerank as _rerank
from . import video as _video
from .catalog import SessionCatalog

if TYPE_CHECKING:
    from ..client import Client
    from ..history import History, HistoryEntry, Store
    from ..results import CompareResult

T = TypeVar("T")


AsyncMethod = TypeVar("AsyncMethod", bound=Callable[..., Awaitable[Any]])

_RESOLVED: ContextVar[list[ModelInfo] | None] = ContextVar("tokenhot_resolved_model", default=None)
"""The model the call now running resolved to (the default, when none was named): what a refusal records."""


def _resolved(info: ModelInfo) -> ModelInfo:
    """Note ``info`` as the model of the call now running (the first one resolved counts)."""
    found = _RESOLVED.get()
    if found is not None and not found:
        found.append(info)
    return info


def _refusals_recorded(kind: str) -> Callable[[AsyncMethod], AsyncMethod]:
    """Record a call that fails before reaching the API; calls that reached it record themselves."""

    def wrap(fn: AsyncMethod) -> AsyncMethod:
        sig = inspect.signature(fn)
        named = _checks.parameters(fn)
        known = frozenset(named)  # (a call naming only these has no option to check: the usual call)
        item = list(sig.parameters)[1]  # what a batch is a list of (prompt, message)

        @functools.wraps(fn)
        async def inner(self: Session, *args: Any, **kwargs: Any) -> Any:
            resolved: list[ModelInfo] = []
            token = _RESOLVED.set(resolved)
            self._begin()
            try:
                if not kwargs.keys() <= known:
                    _checks.check_option_names(kwargs, named, kind)
                if any(isinstance(v, str) and not v.strip() for v in (*args, *kwargs.values())):  # (binding costs)
                    _checks.check_blanks(sig.bind_partial(self, *args, **kwargs).arguments)
                args = tuple(_checks.plain(a) for a in args)
                kwargs = {k: _checks.plain(v) for k, v in kwargs.items()}
                result = await fn(self, *args, **kwargs)
                if isinstance(result, BatchResult):  # its items refused before sending: as this call's refusal is
                    _batch.record_refusals(self, kind, sig.bind_partial(self, *args, **kwargs).arguments, item,
                                           resolved[0] if resolved else None, result)
                return result
            except TokenhotError as exc:
                if not isinstance(exc, ReplayMissError) and _budget.estimates(self) is None:  # an estimate is no call
                    bound = sig.bind_partial(self, *args, **kwargs)
                    _recording.record_refusal(self, kind, dict(bound.arguments), exc,
                                              resolved[0] if resolved else None)
                raise
            except (asyncio.CancelledError, KeyboardInterrupt, _loop.Interrupted) as stop:  # a batch stopped midway
                _batch.record_stopped(self, kind, sig.bind_partial(self, *args, **kwargs).arguments, item,
                                      resolved[0] if resolved else None, stop)
                raise
            finally:
                _RESOLVED.reset(token)
                self._end()

        return inner  # type: ignore[return-value]

    return wrap


_closing: set[asyncio.Future[None]] = set()
"""Closings of sessions whose last call ended on the background loop (kept referenced until they are done)."""


async def _aclose_detached(client: Client | None, store: Store | None) -> None:
    try:
        if client is not None:
            try:
                await client.aclose()
            except Exception:
                pass
        if store is not None:
            await asyncio.to_thread(store.close)
    finally:
        current = asyncio.current_task()
        _closing.discard(current)  # type: ignore[arg-type]


@front_doors
class Session:
    """The front door to Tokenhot: one settings object, one HTTP client, one history.

    ``Session(api_key=None, base_url=None, mode=None, store=None, transport=None, *, seed=None, defaults=None,
    budget=None, **settings)``: arguments win over ``TOKENHOT_*`` variables (see
    :class:`~tokenhot_nb._config.Settings`); with no key the session runs on the offline simulator. ``defaults``
    maps a method or kind ("image", "chat", "speak"…) to the model used when none is named; ``seed`` is passed to
    models that take one; ``budget`` (``2.5``, ``"$2.50"``, ``"¥20"``) refuses calls that would cross it, as
    :meth:`set_budget` does.

    Every method takes ``**options``: extra body fields for the model (recorded in ``params``), ``raw={…}`` to
    replace the body whole, and ``headers={…}`` for extra HTTP headers (not recorded; e.g. ``X-Sim-Faults``).
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, mode: str | None = None,
                 store: str | Path | None = None, transport: Any = None, *, seed: int | None = None,
                 defaults: dict[str, str] | None = None, budget: float | str | None = None,
                 **settings: Any) -> None:
        self.settings = Settings.from_env(api_key=api_key, base_url=base_url, mode=mode, store=store, **settings)
        # the folder as of now: a relative store (the default '.tokenhot') stays where the session was made after a
        # ``%cd`` before its first call, which opens it (it opened in the new folder, with a second catalogue cache)
        self.settings.store = self.settings.store.expanduser().absolute()
        check_root(self.settings.store)  # (no database opened: that waits for the first call)
        self.id = uuid.uuid4().hex[:12]
        self.seed = seed  # (checked by the setter)
        self._defaults = _models.Defaults(self, _models.check_defaults(defaults))
        self._transport = _checks.check_transport(transport)
        self._client: Client | None = None
        self._store: Store | None = None
        self._history: History | None = None
        self._lock = threading.Lock()
        self._calls = 0  # calls in flight (under _lock): close() waits for them to end before closing anything
        self._close_pending = False  # close() was asked while calls were in flight: the last one to end closes
        self.threads = Threads(lambda: self.store)
        #: replay key → how many calls with that key this session has replayed (the next gets the next recording)
        self.replay_turns: dict[str, int] = {}
        #: The newest row this session has replayed (None before the first): where its history views end.
        self.replay_position: int | None = None
        #: history id of a replayed video row → how many of its recorded statuses this session has played back
        self.replay_polls: dict[int, int] = {}
        #: history id of a replayed video row → how many of its recorded wait ends (``response["ends"]``) were used
        self.replay_ends: dict[int, int] = {}
        #: task id → when this session began playing its recorded wait back (ended: removed); an interrupt names it,
        #: as a live one names the task left pending
        self.replay_waits: dict[str, float] = {}
        #: What the calls this session replayed cost when recorded (USD): a replay's budget counts it
        self.replay_spent_usd = 0.0
        #: This session's model table: built-in ⊕ the service's (read lazily, cached on disk).
        self.catalog = SessionCatalog(self)
        _models.check_default_models(self)
        self.spending = _budget.Spending()
        if budget is not None:  # (no network here: a yuan amount is converted at the site's rate when counted)
            _budget.set_budget(self, budget, rate=_budget.site_rate(self))

    # -- plumbing -------------------------------------------------------------------------------------
    @property
    def defaults(self) -> _models.Defaults:
        """Method or kind → the model a call uses when it names none (``s.defaults['image'] = 'seedream-4.5'``):
        a dict whose writes are checked as ``Session(defaults=…)`` is, refused at once with the old value kept."""
        return self._defaults

    @defaults.setter
    def defaults(self, value: dict[str, str] | None) -> None:
        fresh = _models.Defaults(self, _models.check_defaults(value))
        _models.check_default_models(self, fresh)
        self._defaults = fresh

    @property
    def seed(self) -> int | None:
        """The seed sent to models that take one when a call names none (None: no seed)."""
        return self._seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        # (checked where it is set: s.seed = "7" was taken, and refused by every later call that reads it)
        value = _checks.whole(value)
        _checks.check_seed(value)
        self._seed: int | None = value

    @property
    def mode(self) -> str:
        return self.settings.mode

    @property
    def client(self) -> Client:
        client = self._client  # (read ~5 times a call: the lock is for making one, or taking it away on close)
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                from ..client import Client

                self._client = Client(self.settings, transport=self._transport)
            return self._client

    @property
    def store(self) -> Store:
        store = self._store  # (read ~5 times a call: the lock is for opening one, or taking it away on close)
        if store is not None:
            return store
        with self._lock:
            if self._store is None:
                from ..history import Store

                self._store = Store(self.settings.store, secrets=[self.settings.api_key])
            return self._store

    @property
    def history(self) -> History:
        if self._history is None:
            from ..history import History

            self._history = History(self.store, session=self)
        return self._history

    def __repr__(self) -> str:
        key = "set" if self.settings.api_key else "not set"
        return (f"Session(mode={self.mode!r}, base_url={self.settings.base_url!r}, "
                f"store={str(self.settings.store)!r}, key {key})")

    def close(self) -> None:
        """Close the HTTP connections and the history database; used again, the session opens them anew.

        Calls still in flight on other threads or tasks (a panel's stream, a video wait, an awaited call) finish
        first: closing under them cut a paid answer short with a "connection broke" error. So close() returns at
        once and the last of them closes on its way out (waiting here instead could hang the cell for as long as a
        stream or a video wait runs, and a bounded wait would still have to cut or leave them at its end).
        """
        taken = self._take_to_close()
        if taken is not None:
            self._close_detached(*taken)

    def _take_to_close(self) -> tuple[Client | None, Store | None] | None:
        """The client and store to close now, taken out; None when calls are in flight (the last one closes)."""
        with self._lock:
            if self._calls:
                self._close_pending = True
                return None
            self._close_pending = False
            return self._detach()

    def _begin(self) -> None:
        """A call begins: resources stay open until it ends (see :meth:`close`)."""
        with self._lock:
            self._calls += 1

    def _end(self) -> None:
        """A call ends: the last one of a session asked to close closes it."""
        with self._lock:
            self._calls -= 1
            if self._calls or not self._close_pending:
                return
            self._close_pending = False
            client, store = self._detach()
        self._close_detached(client, store)

    def _detach(self) -> tuple[Client | None, Store | None]:
        """Take the client and store out (under ``_lock``): a later call opens fresh ones."""
        client, store = self._client, self._store
        self._client = self._store = self._history = None
        return client, store

    @staticmethod
    def _close_detached(client: Client | None, store: Store | None) -> None:
        from ..client import in_loop_thread, run_sync

        if in_loop_thread():  # (the last call ended on the loop itself, e.g. unwinding after a Ctrl-C: no waiting)
            _closing.add(asyncio.ensure_future(_aclose_detached(client, store)))
            return
        if client is not None:
            try:
                run_sync(client.aclose(), timeout=10)
            except Exception:
                pass
        if store is not None:
            store.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """``async with Session(…) as s:`` closes as :meth:`close` does, its connections and history closed on the
        background loop while the running loop goes on: close() there would block every other task of the loop
        (a cell's, a panel's) until they were."""
        taken = self._take_to_close()
        if taken is not None:
            from ..client import run_async

            await run_async(_aclose_detached(*taken))

    def _sync(self, coro: Coroutine[Any, Any, T], task: VideoTask | None = None) -> T:
        """Run on the background loop and wait (see :func:`.loop.run_blocking`)."""
        return _loop.run_blocking(self, coro, task)

    def _batch(self, coro: Coroutine[Any, Any, T], bar: Progress | None) -> T:
        """:meth:`_sync` for a call that may be a batch, whose bar shows at once: refused before any of its calls
        ended, the bar is taken away (an empty "0/3" bar stayed beside the error)."""
        try:
            return self._sync(coro)
        except Exception:  # (a Ctrl-C keeps it: it says how far the batch got)
            if bar is not None and bar.done == 0:
                bar.discard()
            raise

    def _here(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run on this thread, in the client's blocking lane (see :func:`.loop.run_here`)."""
        return _loop.run_here(self, coro)

    async def _hop(self, coro: Coroutine[Any, Any, T], task: VideoTask | None = None, *, here: bool = False) -> T:
        """Await ``coro`` on the background loop from any loop (see :func:`.loop.hop`)."""
        return await _loop.hop(self, coro, task, here=here)

    @staticmethod
    def in_background_loop() -> bool:
        """Whether this code runs on the background loop's thread, where every call does its work (its HTTP
        connections live there). Callbacks (``on_delta``, ``on_progress``) run where the call was made, so False in
        them; code that is True here must await the ``a*`` twins (a sync call there is refused: it would wait for ever)."""
        return _loop.in_background_loop()

    async def _model(self, method: str, name: str | ModelInfo | None, *, instead: bool = False) -> ModelInfo:
        """The model for ``name`` (None: the default), noted as the running call's (``instead``: in place of the
        one noted first, which the call no longer uses: a refusal then records the model it was refused for)."""
        info = await _models.resolve(self, method, name)
        found = _RESOLVED.get() if instead else None
        if found:
            found[0] = info
        return _resolved(info)

    # ================================================================ the catalogue
    def models(self, kind: str | None = None, refresh: bool = False) -> ModelList:
        """The models this session's service offers: the built-in catalogue merged with the service's price
        table (and, with a key, the key's model list), cached on disk for ``catalog_ttl`` hours.

        Each :class:`ModelInfo` says where it comes from (``source``: built-in / live / both) and carries its
        ``price``. ``refresh=True`` reads the service again; if that fails, the last good table is kept.
        """
        return self._sync(self.amodels(kind, refresh=refresh))

    async def amodels(self, kind: str | None = None, refresh: bool = False) -> ModelList:
        """Awaitable twin of :meth:`models`."""
        _models.check_model_kind(kind)
        refresh = bool(_checks.flag(refresh, "refresh"))
        cat = await self._hop(self.catalog.ensure(refresh))
        return ModelList(cat.models(kind), unclassified=() if kind else cat.unclassified.values(),
                         note=self.catalog.note())

    def model(self, name: str | ModelInfo | dict[str, str], family: str | None = None,
              refresh: bool = False) -> ModelInfo:
        """One model of this session's service by id, display name, alias or ``.``/``-`` variant, with its price.

        ``family=`` calls a model whose protocol cannot be told from the service's table (or that it does not
        list): ``session.model("new-model", family="openai-chat")``, then pass it as ``model=…``.
        """
        return self._sync(self.amodel(name, family=family, refresh=refresh))

    async def amodel(self, name: str | ModelInfo | dict[str, str], family: str | None = None,
                     refresh: bool = False) -> ModelInfo:
        """Awaitable twin of :meth:`model`."""
        _checks.check_model_name(name)
        refresh = bool(_checks.flag(refresh, "refresh"))
        if refresh:
            await self._hop(self.catalog.ensure(refresh=True))
        if isinstance(name, ModelInfo):
            return self.catalog.snapshot().with_price(name)
        return await self._hop(self.catalog.resolve(name, family=family))

    # ================================================================ images
    def image(self, prompt: str | Sequence[str], model: str | ModelInfo | None = None, n: int | None = None,
              size: str | None = None, seed: int | None = None, quality: str | None = None,
              negative: str | None = None, concurrency: int = 8, progress: bool | None = None,
              **options: Any) -> ImageResult | BatchResult:
        """Generate images. A list of prompts runs as a batch (``concurrency`` at a time) → :class:`BatchResult`.

        ``**options`` are extra body fields for the model (``raw={…}`` replaces the body whole).
        """
        progress = _checks.flag(progress, "progress")
        bar = Progress(len(prompt), "images", enabled=progress) if isinstance(prompt, (list, tuple)) else None
        return self._batch(self.aimage(prompt, model=model, n=n, size=size, seed=seed, quality=quality,
                                       negative=negative, concurrency=concurrency, progress=progress, _bar=bar,
                                       **options), bar)

    @_refusals_recorded("image")
    async def aimage(self, prompt: str | Sequence[str], model: str | ModelInfo | None = None,
                     n: int | None = None, size: str | None = None, seed: int | None = None,
                     quality: str | None = None, negative: str | None = None, concurrency: int = 8,
                     progress: bool | None = None, _bar: Progress | None = None, **options: Any,
                     ) -> ImageResult | BatchResult:
        """Awaitable twin of :meth:`image`."""
        progress = _checks.flag(progress, "progress")
        concurrency = _checks.check_count(concurrency, "concurrency")  # (one prompt sends one call: still a mistake)
        if isinstance(prompt, (list, tuple)) and not prompt:
            from ..errors import InputError

            raise InputError("The list of prompts is empty: there is nothing to generate.",
                             hint="Pass one prompt, or a list with at least one.")
        info = await self._model("image", model)
        kw = {"n": n, "size": size, "seed": seed, "quality": quality, "negative": negative, **options}
        if isinstance(prompt, (list, tuple)):
            bar = _bar or Progress(len(prompt), "images", enabled=progress)
            return await _batch.batch(self, "image", list(prompt), lambda p: _images.image_one(self, p, info, kw),
                                      concurrency, bar, info.id)
        result = await self._hop(_images.image_one(self, prompt, info, kw))
        assert isinstance(result, ImageResult)
        return result

    def edit(self, images: Any, prompt: str, mask: Any = None, model: str | ModelInfo | None = None, *,
             n: int | None = None, size: str | None = None, seed: int | None = None, quality: str | None = None,
             negative: str | None = None, **options: Any) -> ImageResult:
        """Edit one or more images (paths, bytes, PIL images, URLs, earlier results) guided by ``prompt``."""
        return self._sync(self.aedit(images, prompt, mask=mask, model=model, n=n, size=size, seed=seed,
                                     quality=quality, negative=negative, **options))

    @_refusals_recorded("edit")
    async def aedit(self, images: Any, prompt: str, mask: Any = None, model: str | ModelInfo | None = None, *,
                    n: int | None = None, size: str | None = None, seed: int | None = None,
                    quality: str | None = None, negative: str | None = None, **options: Any) -> ImageResult:
        """Awaitable twin of :meth:`edit`."""
        _models.require_key(self)  # (the default edit model is chosen without the catalogue, which checks it)
        info = _resolved(_models.default_model(self.defaults, "edit", mask=mask is not None)) if model is None and not (
            self.defaults.get("edit") or self.defaults.get("image")) else await self._model("edit", model)
        kw = {"n": n, "size": size, "seed": seed, "quality": quality, "negative": negative, **options}
        result = await self._hop(_images.edit_one(self, images, prompt, mask, info, kw))
        assert isinstance(result, ImageResult)
        return result

    # ================================================================ speech
    def speak(self, text: str, model: str | ModelInfo | None = None, voice: str | None = None,
              **options: Any) -> AudioResult:
        """Text to speech → :class:`AudioResult` (a player; ``.wav`` bytes)."""
        return self._sync(self.aspeak(text, model=model, voice=voice, **options))

    @_refusals_recorded("speak")
    async def aspeak(self, text: str, model: str | ModelInfo | None = None, voice: str | None = None,
                     **options: Any) -> AudioResult:
        """Awaitable twin of :meth:`speak`."""
        info = await self._model("speak", model)
        result = await self._hop(_audio.speak_one(self, text, info, voice, options))
        assert isinstance(result, AudioResult)
        return result

    def transcribe(self, audio: Any, model: str | ModelInfo | None = "whisper-1", language: str | None = None,
                   format: str = "json", **options: Any) -> TranscriptResult:
        """Speech to text (``format``: json, text, srt, vtt, verbose_json) → :class:`TranscriptResult`."""
        return self._sync(self.atranscribe(audio, model=model, language=language, format=format, **options))

    @_refusals_recorded("transcribe")
    async def atranscribe(self, audio: Any, model: str | ModelInfo | None = "whisper-1",
                          language: str | None = None, format: str = "json", **options: Any) -> TranscriptResult:
        """Awaitable twin of :meth:`transcribe`."""
        info = await self._model("transcribe", model)
        result = await self._hop(_audio.transcribe_one(self, "transcribe", audio, info, language, format, options))
        assert isinstance(result, TranscriptResult)
        return result

    def translate(self, audio: Any, model: str | ModelInfo | None = "whisper-1", format: str = "json",
                  **options: Any) -> TranscriptResult:
        """Speech in any language to English text → :class:`TranscriptResult`."""
        return self._sync(self.atranslate(audio, model=model, format=format, **options))

    @_refusals_recorded("translate")
    async def atranslate(self, audio: Any, model: str | ModelInfo | None = "whisper-1", format: str = "json",
                         **options: Any) -> TranscriptResult:
        """Awaitable twin of :meth:`translate`."""
        info = await self._model("translate", model)
        result = await self._hop(_audio.transcribe_one(self, "translate", audio, info, None, format, options))
        assert isinstance(result, TranscriptResult)
        return result

    # ================================================================ chat
    def chat(self, message: str | Sequence[Any] = "", model: str | ModelInfo | None = None, system: str | None = None,
             stream: bool = True, thread: str | Literal[False] | None = None, new_thread: bool = False,
             temperature: float | None = None, max_tokens: int | None = None, images: Any = (),
             endpoint: str | None = None, on_delta: Callable[[ChatDelta, str], Any] | None = None,
             concurrency: int = 8, progress: bool | None = None, *, schema: Any = None, json: bool = False,
             tools: Sequence[dict[str, Any]] | None = None, tool_choice: Any = None,
             tool_results: dict[str, Any] | None = None, cache: bool | str | None = None,
             **options: Any) -> ChatResult | BatchResult:
        """Ask a chat model. Follow-ups in the same ``thread`` (default "default") carry the conversation;
        ``thread=False`` asks a one-off question with no context (and keeps it out of every thread).

        A list of strings runs as a batch of independent questions → :class:`BatchResult`; a list of
        ``{"role", "content"}`` dicts is sent as the conversation itself. ``on_delta(delta, text_so_far)`` is
        called for each streamed piece (on the thread that made the call, so its output lands in that cell);
        ``delta.text`` is what the piece added to ``text_so_far`` (a key a relay echoed is masked in both).

        ``schema=`` (a pydantic model class or a JSON-schema dict) asks for data of that shape and ``json=True``
        for any JSON: the checked answer is ``result.data``. ``tools=`` (OpenAI function schemas) lets the model
        call functions (``tool_choice``: "auto", "required", "none" or a tool name): they come back as
        ``result.tool_calls``; send their results with ``chat(tool_results={call.id: value})`` in the same thread.

        ``cache=True`` (or "5m", or "1h") marks Claude's prompt-cache breakpoints (the system prompt and the last
        message), so the next turn, or the next question on the same long system prompt, reads that prefix from
        the cache at about a tenth of the input price; the first write costs 1.25× (2× for "1h"). Other models
        cache long prompts on their own: there it changes nothing.

        ``n=3`` (chat completions only) asks for three answers, each paid for: all are in ``result.choices``
        (the first is ``result.text``); a thread goes on from the first.
        """
        stream, progress = bool(_checks.flag(stream, "stream")), _checks.flag(progress, "progress")
        is_batch = isinstance(message, (list, tuple)) and bool(message) and all(isinstance(m, str) for m in message)
        bar = Progress(len(message), "chats", enabled=progress) if is_batch else None
        work = self.achat(message, model=model, system=system, stream=stream, thread=thread,
                          new_thread=new_thread, temperature=temperature, max_tokens=max_tokens, images=images,
                          endpoint=endpoint, on_delta=on_delta, concurrency=concurrency, progress=progress,
                          _bar=bar, schema=schema, json=json, tools=tools, tool_choice=tool_choice,
                          tool_results=tool_results, cache=cache, **options)
        if not stream and not is_batch and self.client.blocking_ok:  # an answer read whole: no hop
            return self._here(work)
        return self._batch(work, bar)

    @_refusals_recorded("chat")
    async def achat(self, message: str | Sequence[Any] = "", model: str | ModelInfo | None = None,
                    system: str | None = None, stream: bool = True, thread: str | Literal[False] | None = None,
                    new_thread: bool = False, temperature: float | None = None, max_tokens: int | None = None,
                    images: Any = (), endpoint: str | None = None,
                    on_delta: Callable[[ChatDelta, str], Any] | None = None, concurrency: int = 8,
                    progress: bool | None = None, _bar: Progress | None = None, *, schema: Any = None,
                    json: bool = False, tools: Sequence[dict[str, Any]] | None = None, tool_choice: Any = None,
                    tool_results: dict[str, Any] | None = None, cache: bool | str | None = None,
                    **options: Any) -> ChatResult | BatchResult:
        """Awaitable twin of :meth:`chat`."""
        stream, new_thread, json = (bool(_checks.flag(stream, "stream")), bool(_checks.flag(new_thread, "new_thread")),
                                    bool(_checks.flag(json, "json")))
        progress = _checks.flag(progress, "progress")
        concurrency = _checks.check_count(concurrency, "concurrency")
        _checks.check_tools(tools)
        th = self.threads.get(thread or DEFAULT_THREAD) if model is None and not new_thread \
            and (thread is None or isinstance(thread, str)) and isinstance(message, str) else None
        # a follow-up goes on with the model of the thread's last turn (in this session): the model it has now,
        # which chat_one checks again once the turn is this call's (a turn before it may switch it)
        guessed = th.model if th is not None else None
        info = await self._model("chat", guessed if guessed is not None else model)
        kw = {"system": system, "stream": stream, "temperature": temperature, "max_tokens": max_tokens,
              "endpoint": endpoint, "schema": schema, "json": json, "tools": list(tools) if tools else None,
              "tool_choice": tool_choice, "tool_results": tool_results, "cache": cache, **options}
        _checks.check_callable(on_delta, "on_delta", ("delta", "text"))
        if isinstance(message, (list, tuple)) and message and all(isinstance(m, str) for m in message):
            msgs = list(message)
            _batch.check_chat_batch(thread, new_thread, on_delta, tool_results)
            bar = _bar or Progress(len(msgs), "chats", enabled=progress)
            return await _batch.batch(
                self, "chat", msgs, lambda m: _chat.chat_one(self, m, info, kw, thread=None, use_thread=False,
                                                             images=images),
                concurrency, bar, info.id)

        here = not _chat.streams(info, kw)  # (first: a bad endpoint= is refused here, before a coroutine is made)
        result = await self._hop(_chat.chat_one(self, message, info, kw, thread=thread, new_thread=new_thread,
                                                images=images, on_delta=on_delta,
                                                use_thread=not isinstance(message, (list, tuple)),
                                                follow=th is not None, guessed=guessed), here=here)
        assert isinstance(result, ChatResult)
        return result

    # ================================================================ embeddings
    def embed(self, texts: str | Sequence[str], model: str | ModelInfo | None = None,
              dimensions: int | None = None, **options: Any) -> EmbeddingResult:
        """Texts to vectors → :class:`EmbeddingResult` (one vector per text, in order; ``.similarity(i, j)``).

        One string or a list of them, sent in one request. ``dimensions=N`` asks for shorter vectors where the model
        can (``jina-embeddings-v4``: 1 to 2048); ``encoding_format="base64"`` asks the relay for the packed form
        (both forms are read, whichever comes back).
        """
        work = self.aembed(texts, model=model, dimensions=dimensions, **options)
        if self.client.blocking_ok:  # an answer read whole: no hop to the background loop
            return self._here(work)
        return self._sync(work)

    @_refusals_recorded("embed")
    async def aembed(self, texts: str | Sequence[str], model: str | ModelInfo | None = None,
                     dimensions: int | None = None, **options: Any) -> EmbeddingResult:
        """Awaitable twin of :meth:`embed`."""
        info = await self._model("embed", model)
        result = await self._hop(_embeddings.embed_one(self, texts, info, dimensions, options), here=True)
        assert isinstance(result, EmbeddingResult)
        return result

    # ================================================================ rerank
    def rerank(self, query: str, documents: Sequence[str], model: str | ModelInfo | None = None,
               top_n: int | None = None, **options: Any) -> RerankResult:
        """Documents ranked by relevance to ``query`` → :class:`RerankResult` (``.results``: ``(index, score,
        text)``, best first; ``.top(n)``). ``top_n=N`` asks the relay for the N best only. Billed per input token,
        like embeddings."""
        work = self.arerank(query, documents, model=model, top_n=top_n, **options)
        if self.client.blocking_ok:  # an answer read whole: no hop to the background loop
            return self._here(work)
        return self._sync(work)

    @_refusals_recorded("rerank")
    async def arerank(self, query: str, documents: Sequence[str], model: str | ModelInfo | None = None,
                      top_n: int | None = None, **options: Any) -> RerankResult:
        """Awaitable twin of :meth:`rerank`."""
        info = await self._model("rerank", model)
        result = await self._hop(_rerank.rerank_one(self, query, documents, info, top_n, options), here=True)
        assert isinstance(result, RerankResult)
        return result

    # ================================================================ video
    def video(self, prompt: str, model: str | ModelInfo | None = None, image: Any = None, images: Any = (),
              video: Any = None, duration: int | None = None, resolution: str | None = None,
              ratio: str | None = None, seed: int | None = None, wait: bool = True, progress: bool | None = True,
              on_progress: Callable[[TaskStatus], Any] | None = None, *, last_frame: Any = None,
              references: Any = None, audio: Any = None, **options: Any) -> VideoResult | VideoTask:
        """Create a video task; with ``wait=True`` poll it to the end → :class:`VideoResult`, else a :class:`VideoTask`.

        Inputs (each a path, URL, bytes, PIL image or earlier result; what a model takes is in
        ``s.model(name).capabilities``: ``first_frame``, ``last_frame``, ``reference_images``…), the same as
        ``%%th_video``'s options:

        - ``image``: the first frame (``--image``).
        - ``last_frame``: the last frame, with ``image`` (``--last``).
        - ``references``: reference images, one or a list (``--ref``).
        - ``images``: images whose role is not said (one: the first frame; two: first and last frame where the
          model takes one; more: references), or say it per image:
          ``{"image": x, "role": "first_frame" | "last_frame" | "reference_image"}``.
        - ``video``: input video(s): V2V, video edit, Seedance 2.x references (``--video``).
        - ``audio``: reference audio(s), Seedance 2.x (``--audio``).

        The task id is recorded at once, so an interrupted wait can be resumed: ``session.resume(task_id)`` or
        ``session.resume(entry_id)``.
        """
        wait, progress = bool(_checks.flag(wait, "wait")), _checks.flag(progress, "progress")
        bar = Progress(None, "video", enabled=progress) if wait else None
        return self._sync(self.avideo(prompt, model=model, image=image, images=images, video=video,
                                      duration=duration, resolution=resolution, ratio=ratio, seed=seed, wait=wait,
                                      progress=progress, on_progress=on_progress, last_frame=last_frame,
                                      references=references, audio=audio, _bar=bar, **options))

    @_refusals_recorded("video")
    async def avideo(self, prompt: str, model: str | ModelInfo | None = None, image: Any = None,
                     images: Any = (), video: Any = None, duration: int | None = None,
                     resolution: str | None = None, ratio: str | None = None, seed: int | None = None,
                     wait: bool = True, progress: bool | None = True,
                     on_progress: Callable[[TaskStatus], Any] | None = None, *, last_frame: Any = None,
                     references: Any = None, audio: Any = None, _bar: Progress | None = None,
                     **options: Any) -> VideoResult | VideoTask:
        """Awaitable twin of :meth:`video`."""
        wait, progress = bool(_checks.flag(wait, "wait")), _checks.flag(progress, "progress")
        _checks.check_callable(on_progress, "on_progress", ("status",))
        image, images = _video.named_inputs(image, images, last_frame, references)
        info = await self._model("video", model)
        bar = _bar if _bar is not None else (Progress(None, "video", enabled=progress) if wait else None)
        kw = {"image": image, "images": images, "video": video, "audio": audio, "duration": duration,
              "resolution": resolution, "ratio": ratio, "seed": seed, **options}
        try:
            result = await self._hop(_video.video_one(self, prompt, info, kw, wait=wait, on_progress=on_progress,
                                                      bar=bar))
        finally:
            if bar is not None:
                _loop.call_user(bar.close)
        assert isinstance(result, (VideoResult, VideoTask))
        return result

    @overload
    def resume(self, task_id: str, model: str | None = None) -> VideoTask: ...
    @overload
    def resume(self, task_id: int | HistoryEntry, model: None = None) -> ImageResult | VideoTask: ...
    def resume(self, task_id: str | int | HistoryEntry, model: str | None = None) -> ImageResult | VideoTask:
        """Pick up paid work that did not finish (this session's, or a previous kernel's on the same store).

        A video task id (a string) → a :class:`VideoTask`: ``.wait()`` it to get the video; a task that already
        finished comes back done, with no request. A history entry (its id, or the entry) of an image or edit call
        whose images could not all be downloaded → those images fetched now from the links its row kept, stored
        in the same row → :class:`ImageResult` (no new call, no new charge; an expired link is said so). A row
        that is complete comes back from the store; a video call's row gives its task.
        """
        if model is not None:
            _checks.check_model_name(model)
        if isinstance(task_id, str):
            return _video.resume(self, task_id, model)
        return self._sync(self.aresume(task_id))

    @overload
    async def aresume(self, task_id: str, model: str | None = None) -> VideoTask: ...
    @overload
    async def aresume(self, task_id: int | HistoryEntry, model: None = None) -> ImageResult | VideoTask: ...
    async def aresume(self, task_id: str | int | HistoryEntry,
                      model: str | None = None) -> ImageResult | VideoTask:
        """Awaitable twin of :meth:`resume` (a video task id makes no request)."""
        if model is not None:
            _checks.check_model_name(model)
        if isinstance(task_id, str):
            return _video.resume(self, task_id, model)
        result = await self._hop(_images.resume_entry(self, task_id))
        assert isinstance(result, (ImageResult, VideoTask))
        return result

    async def _apoll_task(self, task: VideoTask) -> TaskStatus:
        """One status request for a task (used by :class:`VideoTask`), as the user is shown it."""
        return (await _video.poll_task(self, task)).shown()

    async def _await_task(self, task: VideoTask, *, timeout: float | None = None, progress: bool | None = None,
                          on_progress: Callable[[TaskStatus], Any] | None = None,
                          bar: Progress | None = None) -> VideoResult:
        """Poll a task to the end and store its video (used by :class:`VideoTask`)."""
        timeout = _checks.check_timeout(timeout)
        _checks.check_callable(on_progress, "on_progress", ("status",))
        return await _video.await_task(self, task, timeout=timeout, progress=progress, on_progress=on_progress,
                                       bar=bar)

    # ================================================================ cost, budget, balance
    @property
    def budget(self) -> _budget.BudgetStatus:
        """The budget (kept in the store: it survives a restart), what this period spent and what is left."""
        return _budget.status(self)

    def set_budget(self, amount: float | str | None, *, new_period: bool = False,
                   allow_unknown: bool | None = None) -> _budget.BudgetStatus:
        """Limit spending: ``2.5`` or ``"$2.50"`` (USD), ``"¥20"`` (yuan); ``None`` removes the limit.

        Every call is checked before it is sent; one that would cross the budget raises
        :class:`~tokenhot_nb.errors.BudgetExceededError` and sends nothing. So is one whose cost cannot be
        estimated before it runs (a video priced per task, a model without a price), unless ``allow_unknown=True``
        lets such calls through while budget is left (None: as the budget had it). Offline (simulated) calls count
        against an offline budget only.
        """
        new_period = bool(_checks.flag(new_period, "new_period"))
        allow_unknown = _checks.flag(allow_unknown, "allow_unknown")
        if self.mode != "replay" and self.catalog.table is None and _budget.is_yuan(amount):
            try:  # a yuan amount converts at the site's top-up rate (``/api/status``), read with the price table
                self._sync(self.catalog.ensure())
            except TokenhotError:
                pass  # (counted at the site's rate once the table is read)
        _budget.set_budget(self, amount, rate=_budget.site_rate(self), new_period=new_period,
                           allow_unknown=allow_unknown)
        return self.budget

    def reset_budget(self) -> _budget.BudgetStatus:
        """Start a new budget period now (what was spent before no longer counts)."""
        _budget.reset_period(self)
        return self.budget

    _ESTIMABLE = frozenset({"image", "edit", "video", "speak", "transcribe", "translate", "chat", "embed",
                            "rerank", "compare"})

    def estimate(self, method: str | Callable[..., Any], *args: Any, **kwargs: Any) -> _cost.Cost:
        """What ``method(*args, **kwargs)`` would cost, without sending it: ``s.estimate("image", "a cat", n=2)``.

        Exact for per-call prices and embeddings, a range (``usd``…``usd_max``) for per-token chat, unknown for
        video priced per task. A batch or comparison is the sum of its calls.
        """
        name = method if isinstance(method, str) else getattr(method, "__name__", "")
        if name not in self._ESTIMABLE:
            from ..errors import InputError

            what = repr(name) if isinstance(method, str) or name else f"{type(method).__name__} ({method!r:.40})"
            raise InputError(f"Cannot estimate {what}: use one of {', '.join(sorted(self._ESTIMABLE))}.",
                             hint="Name the method, then its arguments: s.estimate('image', 'a cat', n=2).")
        twins: dict[str, Callable[..., Coroutine[Any, Any, Any]]] = {
            "image": self.aimage, "edit": self.aedit, "video": self.avideo, "speak": self.aspeak,
            "transcribe": self.atranscribe, "translate": self.atranslate, "chat": self.achat,
            "embed": self.aembed, "rerank": self.arerank, "compare": self.acompare}
        twin = twins[name]
        try:  # (estimate('image') was "TypeError: Session.aimage() missing 1 required positional argument")
            inspect.signature(twin).bind(*args, **kwargs)
        except TypeError as exc:
            from ..errors import InputError

            raise InputError(f"estimate({name!r}, …) takes the arguments of {name}(): {exc}.",
                             hint=f"e.g. s.estimate('image', 'a cat', n=2): the call to {name}() as you would make it."
                             ) from None
        accepted = inspect.signature(twin).parameters
        if "progress" in accepted:
            kwargs.setdefault("progress", False)
        if "wait" in accepted:
            kwargs.setdefault("wait", False)
        sink: list[_cost.Cost] = []
        token = _budget.ESTIMATING.set((self, sink))
        try:
            self._sync(twin(*args, **kwargs))
        except _budget.EstimateOnly:
            pass
        finally:
            _budget.ESTIMATING.reset(token)
        return _cost.total(sink)

    def balance(self) -> _cost.Balance:
        """What the key may still spend, from the relay's billing routes (``known=False`` if it does not say)."""
        return self._sync(self.abalance())

    async def abalance(self) -> _cost.Balance:
        """Awaitable twin of :meth:`balance`."""
        return await self._hop(_balance.balance(self))

    # ================================================================ comparisons
    def compare(self, prompt: Any, models: Sequence[str | ModelInfo], kind: str | None = None,
                progress: bool | None = None, **options: Any) -> CompareResult:
        """The same prompt on several models at once, shown side by side → :class:`CompareResult`: image, chat,
        speak, video or rerank models (for rerank the prompt is the query, and ``documents=[…]`` what is ranked)."""
        try:
            progress = _checks.flag(progress, "progress")
            _batch.check_model_list(models)
        except TokenhotError as exc:  # (as the comparison's own refusals are: a row saying what was tried)
            _batch.record_compare_refusal(self, prompt, models, kind, options, exc)
            raise
        bar = Progress(len(models), "models", enabled=progress)
        return self._batch(self.acompare(prompt, models, kind=kind, progress=progress, _bar=bar, **options), bar)

    async def acompare(self, prompt: Any, models: Sequence[str | ModelInfo], kind: str | None = None,
                       progress: bool | None = None, _bar: Progress | None = None, **options: Any) -> CompareResult:
        """Awaitable twin of :meth:`compare`."""
        try:
            progress = _checks.flag(progress, "progress")
        except TokenhotError as exc:
            _batch.record_compare_refusal(self, prompt, models, kind, options, exc)
            raise
        return await _batch.compare(self, prompt, models, kind, progress, _bar, options)
