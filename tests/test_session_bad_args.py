"""Every public method of ``Session`` (and ``Session(…)`` itself, and each attribute it lets one set), each parameter
given a value of the wrong type or range: one clear line.

The methods come from ``inspect`` (a new one is swept without a word here); the bad values from a small table per
parameter annotation. Each must be refused with a :class:`~tokenhot_nb.errors.TokenhotError` whose text is one
line, never a TypeError/AttributeError/KeyError from inside, and before anything is sent.

Not swept, on purpose:

- ``**options`` (and ``estimate``'s ``*args, **kwargs``): extra body fields for the model, free-form by design
  (their names are checked elsewhere: ``test_session_checks``); ``estimate`` forwards the rest to the method swept.
- the ``a…`` twins: each sync method is a thin wrapper over its twin (same arguments, same checks).
- parameters whose annotation is ``Any`` take anything a family knows how to read (images: paths, bytes, PIL,
  URLs, results…); only ``5`` and ``object()`` (which nothing can read) are tried there.
- ``_``-prefixed parameters (``_bar``): internal.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _session_support import short_wav

from tokenhot_nb import Session
from tokenhot_nb.errors import TokenhotError

# --- what each method needs to be a good call, apart from the parameter swept ----------------------------------


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


#: method → the arguments of a call that would go through (so the bad one is what is refused).
GOOD: dict[str, dict[str, Any]] = {
    "image": {"prompt": "a cat", "progress": False},
    "edit": {"images": _png(), "prompt": "make it blue"},
    "video": {"prompt": "a cat", "wait": False, "progress": False},
    "speak": {"text": "hello"},
    "transcribe": {"audio": short_wav()},
    "translate": {"audio": short_wav()},
    "chat": {"message": "hi", "stream": False, "thread": False},
    "embed": {"texts": "hi"},
    "rerank": {"query": "hi", "documents": ["a", "b"]},
    "compare": {"prompt": "hi", "models": ["gpt-5.2", "claude-sonnet"], "progress": False},
    "model": {"name": "gpt-5.2"},
    "models": {},
    "resume": {"task_id": "task-that-is-not-there"},
    "set_budget": {"amount": 5.0},
    "estimate": {"method": "image"},
}

#: Methods with no parameter to sweep, or whose only ones are free-form (see the module notes).
NOTHING_TO_SWEEP = {"balance", "close", "reset_budget", "in_background_loop"}

OBJ = object()

#: A refusal leaves nothing half-made behind: a coroutine made and never awaited is a failure too.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning", "error::pytest.PytestUnraisableExceptionWarning")

# --- the bad values, by what the annotation says the parameter takes ---------------------------------------------
#: (predicate on the annotation text, bad values). The first row that matches wins.
BAD_BY_ANNOTATION: list[tuple[Callable[[str], bool], list[Any]]] = [
    (lambda a: a.startswith("bool"), [5, "yes", [], OBJ]),
    (lambda a: a.startswith("int"), ["3", 1.5, -1, 0, True, [], OBJ]),
    (lambda a: a.startswith("float"), ["lots", -1, math.nan, math.inf, True, [], OBJ]),
    (lambda a: a.startswith("Callable"), [5, "f", OBJ]),
    (lambda a: a.startswith("Sequence[str | ModelInfo]"), [5, "gpt-5.2", [], [5], OBJ]),  # models to compare
    (lambda a: "ModelInfo" in a, [5, "", [], OBJ]),  # a model: a name, a ModelInfo or {"id", "family"}
    (lambda a: a.startswith(("Sequence", "dict")), [5, "x", OBJ]),
    (lambda a: a.startswith("str"), [5, [], OBJ]),
    (lambda a: a == "Any", [5, OBJ]),
]


#: (method, parameter, repr of the value) → why the value is a good one after all.
ACCEPTED: dict[tuple[str, str, str], str] = {
    ("chat", "system", "''"): "a turn without the thread's system prompt",
    ("chat", "system", "'  '"): "a turn without the thread's system prompt",
    ("video", "duration", "-1"): "Seedance's 'auto' length (its catalogue entry lists -1 among its durations)",
}
#: (parameter, repr of the value) → why it is a good value wherever it is taken.
ACCEPTED_ANYWHERE: dict[tuple[str, str], str] = {("seed", "0"): "a seed like any other"}


def _bad_values(annotation: str) -> list[Any]:
    for matches, values in BAD_BY_ANNOTATION:
        if matches(annotation):
            return values
    raise AssertionError(f"no bad values for the annotation {annotation!r}: add a row to BAD_BY_ANNOTATION")


def _public_methods() -> list[str]:
    """Every public method, the awaitable twins too (``aimage``: :func:`_good` finds its good call under ``image``)."""
    names = []
    for name, member in inspect.getmembers(Session):
        if name.startswith("_") or isinstance(inspect.getattr_static(Session, name), property):
            continue
        if not callable(member) or name in NOTHING_TO_SWEEP or _sync_name(name) in NOTHING_TO_SWEEP:
            continue
        names.append(name)
    return names


def _sync_name(method: str) -> str:
    twin = method[1:]
    return twin if method.startswith("a") and inspect.iscoroutinefunction(getattr(Session, method)) else method


def _cases() -> Iterator[Any]:
    for method in _public_methods():
        assert _sync_name(method) in GOOD, \
            f"Session.{method} is new: add a good call of it to GOOD (or to NOTHING_TO_SWEEP)"
        for pname, p in inspect.signature(getattr(Session, method)).parameters.items():
            if pname == "self" or pname.startswith("_") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "Any")
            values = _bad_values(ann)
            if ann.startswith("str"):  # a text or name: blank is no better than none, and no way to ask for the
                values = [*values, "", "  "]  # default either (None is): voice='' was taken, the default used
            for value in values:
                label = "object()" if value is OBJ else repr(value)
                yield pytest.param(method, pname, value, id=f"{method}-{pname}={label}")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    s = Session(mode="offline", store=tmp_path_factory.mktemp("bad-args") / "store", poll_interval=0.001)
    yield s
    s.close()


@pytest.mark.parametrize("method,param,value", list(_cases()))
def test_a_wrong_argument_is_one_clear_line(session: Session, method: str, param: str, value: Any) -> None:
    kwargs = {**GOOD[_sync_name(method)], param: value}
    args = [kwargs.pop("method")] if method == "estimate" else []  # (estimate's first argument is positional-only)
    try:
        done = getattr(session, method)(*args, **kwargs)
        if inspect.iscoroutine(done):
            asyncio.run(done)
    except TokenhotError as exc:
        text = str(exc)
        assert "\n" not in text and text.strip(), f"{type(exc).__name__} of more than one line: {text!r}"
        return
    except Exception as exc:  # (what the sweep is for)
        pytest.fail(f"Session.{method}({param}={value!r:.40}) raised {type(exc).__name__} from inside: {exc!s:.300}")
    label = "object()" if value is OBJ else repr(value)
    if (_sync_name(method), param, label) not in ACCEPTED and (param, label) not in ACCEPTED_ANYWHERE:
        pytest.fail(f"Session.{method}({param}={value!r:.40}) was taken without a word")


def _constructor_cases() -> Iterator[Any]:
    for pname, p in inspect.signature(Session.__init__).parameters.items():
        if pname == "self" or p.kind is p.VAR_KEYWORD:  # (**settings: each setting's own checks, test_config)
            continue
        ann = p.annotation if isinstance(p.annotation, str) else "Any"
        values = _bad_values(ann) + (["", "  "] if ann.startswith("str") else [])  # (store='' was the default's)
        for value in values:
            yield pytest.param(pname, value, id=f"{pname}={'object()' if value is OBJ else repr(value)}")


@pytest.mark.parametrize("param,value", list(_constructor_cases()))
def test_a_wrong_argument_to_the_session_itself_is_one_clear_line(tmp_path: Path, param: str, value: Any) -> None:
    """``Session(base_url=[])`` and ``Session(store=[])`` were read as no argument (the default taken), a
    ``transport=5`` failed inside httpx at the first call."""
    kwargs: dict[str, Any] = {"mode": "offline", "store": tmp_path / "store", param: value}
    try:
        Session(**kwargs).close()
    except TokenhotError as exc:
        assert "\n" not in str(exc) and str(exc).strip()
        return
    except Exception as exc:  # (what the sweep is for)
        pytest.fail(f"Session({param}={value!r:.40}) raised {type(exc).__name__} from inside: {exc!s:.300}")
    if (param, "object()" if value is OBJ else repr(value)) not in ACCEPTED_ANYWHERE:
        pytest.fail(f"Session({param}={value!r:.40}) was taken without a word")


def _setter_cases() -> Iterator[Any]:
    for name, member in inspect.getmembers(Session, lambda m: isinstance(m, property) and m.fset is not None):
        ann = inspect.signature(member.fset).parameters["value"].annotation
        for value in _bad_values(ann if isinstance(ann, str) else "Any"):
            yield pytest.param(name, value, id=f"{name}={'object()' if value is OBJ else repr(value)}")


@pytest.mark.parametrize("name,value", list(_setter_cases()))
def test_a_wrong_value_set_on_the_session_is_one_clear_line_and_the_old_one_kept(
        session: Session, name: str, value: Any) -> None:
    """``s.seed = "7"`` and ``s.defaults = 5`` were taken, and refused by every later call that read them."""
    before = getattr(session, name)
    try:
        setattr(session, name, value)
    except TokenhotError as exc:
        assert "\n" not in str(exc) and str(exc).strip() and getattr(session, name) == before
        return
    except Exception as exc:  # (what the sweep is for)
        pytest.fail(f"s.{name} = {value!r:.40} raised {type(exc).__name__} from inside: {exc!s:.300}")
    if (name, "object()" if value is OBJ else repr(value)) not in ACCEPTED_ANYWHERE:
        pytest.fail(f"s.{name} = {value!r:.40} was taken without a word")
    setattr(session, name, before)


def test_the_sweep_reaches_every_public_method() -> None:
    swept = {_sync_name(m) for m in _public_methods()}
    assert swept | NOTHING_TO_SWEEP >= {n for n in dir(Session) if not n.startswith("_")} - {
        "budget", "client", "defaults", "history", "mode", "seed", "store", *(f"a{n}" for n in swept | NOTHING_TO_SWEEP)}
    assert swept == set(GOOD), "GOOD names a method that is gone"


def test_good_calls_go_through(session: Session, tmp_path: Path) -> None:
    """The table's good calls are good: what the sweep refuses is the one bad argument."""
    for method, kwargs in GOOD.items():
        if method in ("resume", "estimate"):
            continue
        getattr(session, method)(**kwargs)


@pytest.mark.parametrize("value", ["7", -1, 1.5, True])
def test_a_seed_set_after_the_session_is_made_is_refused_there(session: Session, value: Any) -> None:
    """``s.seed = "7"`` was taken, and every later call to a model that takes a seed refused it."""
    session.seed = 42
    with pytest.raises(TokenhotError, match=r"^seed must be a whole number"):
        session.seed = value
    assert session.seed == 42
    session.seed = None


@pytest.mark.parametrize(("method", "kwargs", "option"), [
    ("speak", {"text": "hello", "voice": ""}, "voice"),
    ("chat", {"message": "hi", "stream": False, "thread": ""}, "thread"),
    ("chat", {"message": "hi", "stream": False, "thread": " "}, "thread"),
    ("chat", {"message": "hi", "stream": False, "endpoint": ""}, "endpoint"),
    ("image", {"prompt": "a cat", "model": "qwen-image-max", "negative": ""}, "negative"),
    ("image", {"prompt": "a cat", "size": ""}, "size"),
    ("transcribe", {"audio": short_wav(), "format": ""}, "format"),
    ("compare", {"prompt": "hi", "models": ["gemini-tts", "gemini-tts-pro"], "voice": "", "progress": False},
     "voice"),
])
def test_a_blank_option_is_refused_naming_it_and_the_way_to_the_default(
        session: Session, method: str, kwargs: dict[str, Any], option: str) -> None:
    """``speak(voice='')`` and ``chat(thread='')`` were taken as not given: the default voice spoke, the default
    thread went on, without a word. Now one line names the option and says None (or leaving it out) is the default;
    nothing is sent."""
    sent = len(session.history)
    with pytest.raises(TokenhotError) as caught:
        getattr(session, method)(**kwargs)
    text = str(caught.value)
    assert text.startswith(f"{option}= is empty") and "\n" not in text
    assert f"Leave {option}= out" in text and ("(or pass None)" in text or option == "format")
    assert all(e.status == "error" for e in session.history[sent:])  # refused, never sent


@pytest.mark.parametrize("option", ["store", "api_key", "base_url", "mode"])
@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_setting_is_refused_not_taken_for_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, blank: str) -> None:
    """``Session(store='')`` used ``.tokenhot`` in the working folder, ``api_key=''`` (an empty prompt) the offline
    simulator instead of the service: now one line naming the setting and the default that leaving it out gives."""
    monkeypatch.chdir(tmp_path)
    kwargs: dict[str, Any] = {"mode": "offline", "store": tmp_path / "store", option: blank}
    with pytest.raises(TokenhotError, match=rf"^{option}= is empty") as caught:
        Session(**kwargs)
    assert "leave " + option + "= out (or pass None) for the default" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no store made
