"""Which model a call uses: an explicit name, the session's ``defaults``, then the catalogue; and its seed."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import catalog
from .._suggest import did_you_mean
from .._warn import warn
from ..catalog import ModelInfo, UnclassifiedModelError
from ..errors import InputError, UnknownModelError, UnsupportedOptionError
from . import budget as _budget
from .checks import check_model_name, check_seed, whole, with_article

if TYPE_CHECKING:
    from .core import Session

#: Session method → catalogue kind of the model it takes.
METHOD_KIND = {"image": "image", "edit": "image", "video": "video", "speak": "audio", "transcribe": "audio",
               "translate": "audio", "chat": "chat", "embed": "embed", "rerank": "rerank"}
#: Catalogue kind → the method to use instead (for "wrong kind" errors).
KIND_METHOD = {"image": "image", "video": "video", "chat": "chat", "audio": "speak", "embed": "embed",
               "rerank": "rerank"}


async def resolve(session: Session, method: str, name: str | ModelInfo | Mapping[str, str] | None) -> ModelInfo:
    """Resolve a model for a method: explicit name, then ``defaults``, then the catalogue default.

    Names resolve against the session's catalogue (built-in ⊕ the service's table, see ``catalog.py``), so a
    model only the service lists works like a built-in one; ``{"id", "family"}`` (what a history entry
    records for such a model) works anywhere.
    """
    require_key(session)
    kind = METHOD_KIND[method]
    defaults = session.defaults
    if name is None:
        name = defaults.get(method) or (defaults.get(kind) if method in ("image", "video", "chat", "speak")
                                        else None)
    if name is None:
        return default_model(defaults, method)
    check_model_name(name)
    if isinstance(name, ModelInfo):
        info = await session.catalog.priced(name)
    else:
        try:
            info = await session.catalog.resolve(name)
        except UnclassifiedModelError as exc:
            exc.kind = kind
            raise
        except UnknownModelError:
            label = name if isinstance(name, str) else str(name.get("id", name))
            raise UnknownModelError(label, session.catalog.snapshot().suggest(label, kind), kind) from None
    check_kind(method, info)
    return info


def require_key(session: Session) -> None:
    """A live call without a key is refused before anything is sent (the catalogue read included): it could
    only fail, after a wait. :meth:`Session.estimate` needs no key (the price table is public)."""
    settings = session.settings
    if settings.mode == "live" and not settings.api_key and _budget.estimates(session) is None:
        settings.key_for_requests()  # raises MissingKeyError, the one place that says how to set a key


def other_spellings(info: ModelInfo, params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(model id, params) of the same call as recorded under another ``.``/``-`` spelling of its model.

    Which spelling a call sent used to depend on whether the service's table had been read
    (``doubao-seedance-2.0`` before, ``doubao-seedance-2-0`` as a live-only ``{"id", "family"}`` after), so a
    replay that misses under the spelling sent now tries those: recordings of every earlier version replay.
    """
    from ..catalog import _loose

    if "model" not in params:
        return []
    want = _loose(info.id)
    out: list[tuple[str, dict[str, Any]]] = []
    for name in dict.fromkeys((info.id, *info.display_names, *info.aliases)):
        if _loose(name) != want:
            continue
        for ref in (name, {"id": name, "family": info.family}):
            if ref != params["model"]:
                out.append((name, {**params, "model": ref}))
    return out


def check_defaults(defaults: Any) -> dict[str, Any]:
    """``Session(defaults=…)``: a key no call reads (``"imgae"``) would be ignored without a word."""
    if defaults is None:
        return {}
    if not isinstance(defaults, Mapping):
        raise InputError(f"defaults= takes a dict of method or kind → model, not {type(defaults).__name__}.",
                         hint="e.g. Session(defaults={'image': 'seedream-4.5', 'chat': 'claude-sonnet'}).")
    keys = sorted({*METHOD_KIND, *METHOD_KIND.values()})
    for key, value in defaults.items():
        if key not in keys:
            raise InputError(f"defaults has the key {key!r}, which no call reads." + did_you_mean(key, keys),
                             hint=f"Its keys are methods or kinds: {', '.join(keys)}.")
        try:
            check_model_name(value)
        except InputError as exc:  # (said of the default, not of a model= no call was given)
            raise InputError(exc.message.replace("model=", f"defaults[{key!r}]", 1),
                             hint=f"e.g. defaults[{key!r}] = {_example(key)!r} (tokenhot_nb.models("
                                  f"{METHOD_KIND.get(key, key)!r}) lists them); del defaults[{key!r}] for none.",
                             ) from None
    return {str(k): v for k, v in defaults.items()}


def _example(key: str) -> str:
    """A model that would do as ``defaults[key]`` (the catalogue's first that the call reading it can use)."""
    return default_model({}, key if key in METHOD_KIND else KIND_METHOD[key]).id


class Defaults(dict[str, Any]):
    """``session.defaults``: method or kind → the model a call uses when it names none. A dict, whose every write
    (``d[k] = v``, ``update``, ``setdefault``, ``|=``) is checked as ``Session(defaults=…)`` is: a mistyped key, a
    name the session can already tell is unknown, a model of another kind or one the call cannot use is refused
    where it is set, and the old value is kept (it was taken, and refused only at the next call)."""

    def __init__(self, session: Session, items: Mapping[str, Any] = ()) -> None:  # type: ignore[assignment]
        super().__init__(items)
        self._session = weakref.ref(session)  # (no cycle: a session's defaults do not keep it alive)

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, *args: Any, **kw: Any) -> None:  # type: ignore[override]
        if len(args) > 1:
            raise InputError(f"defaults.update() takes one dict, not {len(args)} arguments.",
                             hint="e.g. s.defaults.update({'image': 'seedream-4.5', 'chat': 'claude-sonnet'}).")
        items = args[0] if args else {}
        new = check_defaults({**(dict(items) if isinstance(items, Mapping) else _pairs(items)), **kw})
        session = self._session()
        if session is not None:
            check_default_models(session, new)
        super().update(new)

    def setdefault(self, key: str, value: Any = None) -> Any:
        if key not in self:
            self[key] = value
        return self[key]

    def __ior__(self, other: Any) -> Defaults:  # type: ignore[override,misc]
        self.update(other)
        return self

    def copy(self) -> dict[str, Any]:
        return dict(self)

    def __reduce__(self) -> Any:  # (a copy or a pickle is the plain dict: the session does not travel with it)
        return dict, (dict(self),)


def _pairs(items: Any) -> dict[Any, Any]:
    """``update([(k, v), …])`` as a dict, or the one line saying what ``update`` takes."""
    try:
        return dict(items)
    except (TypeError, ValueError):
        raise InputError(f"defaults.update() takes a dict of method or kind → model, not {type(items).__name__}.",
                         hint="e.g. s.defaults.update({'image': 'seedream-4.5'}).") from None


def check_default_models(session: Session, defaults: Mapping[str, Any] | None = None) -> None:
    """``Session(defaults={'image': 'dall-e-4'})`` was taken and refused only at the first image call: a default the
    session can already tell is unknown, is a model of another kind, or is one the call it serves cannot use (an
    edit-only model as ``image``, which generates) is refused when it is set.

    A name the session cannot know yet waits for the first call (which reads the service's table and refuses it
    there, with the same suggestions): see :func:`_known_now`.
    """
    for key, value in (session.defaults if defaults is None else defaults).items():
        kind = METHOD_KIND.get(key, key)  # (the keys are methods or kinds)
        info = value if isinstance(value, ModelInfo) else _known_now(session, value, key, kind) \
            if isinstance(value, str) else None  # ({"id", "family"} names its own family: its call says more)
        if info is None:
            continue
        if info.kind != kind:
            raise UnsupportedOptionError(
                f"defaults[{key!r}] is {info.id}, {with_article(info.kind)} model, not {with_article(kind)} one.",
                hint=f"Pick {with_article(kind)} model for it: tokenhot_nb.models({kind!r}).")
        _check_default_ability(key, kind, info)


def _check_default_ability(key: str, kind: str, info: ModelInfo) -> None:
    """``info`` as ``defaults[key]``: refused when the call that reads it could never use it (the catalogue's
    ``edit_only``, ``edit``, ``transcribe``/``translate`` marks), naming a model that would do.

    A video model that ``requires_image`` is kept: a default serves image-to-video calls as well as text ones."""
    method = key if key in METHOD_KIND else KIND_METHOD[kind]
    try:
        check_kind(method, info)
    except UnsupportedOptionError as exc:
        good = _example(key)
        also = f"; for edits, s.defaults['edit'] = {info.id!r}" if method == "image" and info.can("edit") else ""
        raise UnsupportedOptionError(
            f"defaults[{key!r}] is {info.id}, which {method}() cannot use: {exc.message}",
            hint=f"Pick one that can, e.g. s.defaults[{key!r}] = {good!r}{also}.") from None


def _known_now(session: Session, name: str, key: str, kind: str) -> ModelInfo | None:
    """The model ``name`` means, when the session can tell without the network; raises UnknownModelError when it
    can tell there is none; None when it cannot know yet.

    Built-in names are known. Offline, the service is the stock simulator, whose table is data: a name neither lists
    is refused. Live, the service's table may list models the built-in catalogue does not (a live-only model must
    work as a default): only when a current copy of that table is on disk (the first call would not read it again)
    is a name missing from it refused. Otherwise (live with no current copy, replay, whose table also holds the
    models the history recorded, a transport of one's own) the name is accepted and the first call decides.
    """
    found = catalog.builtin().find(name)
    if found is not None:
        return found
    mode = session.settings.mode
    if mode == "offline" and session._transport is None:
        from ..catalog import _loose
        from ..sim._models import listed

        if _loose(name) in {_loose(m["id"]) for m in listed()}:
            return None  # (classified, or not, when the simulator's table is merged at the first call)
        suggestions = catalog.builtin().suggest(name, kind)
    elif mode == "live":
        cat = session.catalog
        table = cat.snapshot()  # (the disk copy, read as the first call would)
        if cat.table is None or cat._stale():
            return None
        found = table.find(name)
        if found is not None or table.find_unclassified(name) is not None:
            return found
        suggestions = table.suggest(name, kind)
    else:
        return None
    raise UnknownModelError(name, suggestions, kind, where=f" in defaults[{key!r}]")


check_model_kind = catalog.check_kind


def default_model(defaults: Mapping[str, str], method: str, mask: bool = False) -> ModelInfo:
    """The first catalogue model that can do ``method`` (and masks, when asked)."""
    kind = METHOD_KIND[method]
    candidates: list[ModelInfo] = [catalog.default_model(kind), *catalog.models(kind)]
    if method == "edit" and defaults.get("image"):
        candidates.insert(0, catalog.model(defaults["image"]))
    for info in candidates:
        try:
            check_kind(method, info)
        except (UnsupportedOptionError, InputError):
            continue
        if mask and not info.can("mask"):
            continue
        return info
    raise UnsupportedOptionError(f"The catalogue has no model for {method}().")


def check_kind(method: str, info: ModelInfo) -> None:
    """Raise a helpful error when ``info`` cannot serve ``method``."""
    kind = METHOD_KIND[method]
    if info.kind != kind:
        use = KIND_METHOD.get(info.kind, info.kind)
        if info.kind == "audio" and info.can("transcribe"):
            use = "transcribe"
        raise UnsupportedOptionError(
            f"{info.id} is {with_article(info.kind)} model, so {method}() cannot use it.",
            hint=f"Call session.{use}(…) with it, or pick {with_article(kind)} model: tokenhot_nb.models({kind!r}).",
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


def seed_for(session_seed: int | None, info: ModelInfo, seed: int | None) -> int | None:
    """The seed to send: explicit or the session's, and only to models that take one."""
    seed = whole(seed)
    check_seed(seed)
    check_seed(session_seed)
    if seed is None:
        if session_seed is not None and info.can("seed"):
            _check_max_seed(info, session_seed, from_session=True)
            return session_seed
        return None
    if not info.can("seed"):
        warn(f"{info.id} takes no seed; seed={seed} is ignored.")
        return None
    _check_max_seed(info, seed)
    return seed


def _check_max_seed(info: ModelInfo, seed: int, *, from_session: bool = False) -> None:
    """A model with a narrower seed range than :data:`checks.MAX_SEED` (``max_seed``: HappyHorse's 0…2^31-1)
    refuses a larger one: say so before the (paid) call, and where the seed came from when the call named none."""
    top = info.capabilities.get("max_seed")
    if not isinstance(top, int) or seed <= top:
        return
    if from_session:
        raise InputError(f"{info.id} takes a seed from 0 to {top}; this call would send the session's seed={seed}.",
                         hint=f"Pass seed={seed % (top + 1)} to this call, or give the session a seed of at most "
                              f"{top} (s.seed = …).")
    raise InputError(f"{info.id} takes a seed from 0 to {top}, not {seed}.", hint=f"e.g. seed={seed % (top + 1)}.")
