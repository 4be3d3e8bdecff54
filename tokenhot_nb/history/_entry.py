"""One recorded call (:class:`HistoryEntry`) and one stored file (:class:`Artifact`).

Also the JSON normalisation every value goes through before it touches disk: it makes values
JSON-safe *and* redacts anything shaped like a key, so the store never holds a secret.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import importlib
import json
import keyword
import math
import re
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .. import _config
from .._config import Secret, key_forms, might_hold_key, redact

if TYPE_CHECKING:
    from ..cost import Cost
    from ._store import Store

SHA_RE = re.compile(r"^[0-9a-f]{64}$")

#: The public fields of an entry, in contract order (``id`` first).
ENTRY_FIELDS: tuple[str, ...] = (
    "id", "session_id", "started", "duration", "mode", "kind", "model", "endpoint", "params",
    "request", "response", "usage", "outputs", "text", "status", "error", "thread", "replay_key", "parent",
)
JSON_FIELDS: frozenset[str] = frozenset({"params", "request", "response", "usage", "outputs", "error"})
STATUSES: tuple[str, ...] = ("running", "ok", "error", "pending", "interrupted")


# ---------------------------------------------------------------- normalisation / redaction


def jsonable(value: Any, secrets: tuple[Secret | str, ...] = ()) -> Any:
    """A JSON-safe copy of ``value`` with every string redacted (keys too)."""
    if isinstance(value, str):
        return redact(value, *secrets)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, dict):
        return {redact(str(k), *secrets): jsonable(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v, secrets) for v in items]
    if isinstance(value, Secret):
        return "sk-****"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": len(value)}
    if isinstance(value, Path):
        return redact(str(value), *secrets)
    if isinstance(value, Artifact):
        return value.as_dict()
    if isinstance(value, BaseException):
        return error_dict(value, secrets)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    as_dict = getattr(value, "as_dict", None) or getattr(value, "to_dict", None)
    if callable(as_dict):
        try:
            return jsonable(as_dict(), secrets)
        except Exception:
            pass
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, secrets)
    return redact(repr(value), *secrets)


def error_dict(err: BaseException | dict[str, Any] | None, secrets: tuple[Secret | str, ...] = ()) -> Any:
    """``TokenhotError.to_dict()`` when available; any other exception becomes the same shape."""
    if err is None:
        return None
    if isinstance(err, dict):
        return jsonable(err, secrets)
    to_dict = getattr(err, "to_dict", None)
    if callable(to_dict):
        return jsonable(to_dict(), secrets)
    return {"error": type(err).__name__, "message": redact(str(err), *secrets), "hint": ""}


def _encoder(default: Callable[[Any], Any] | None = None, sort_keys: bool = False) -> Callable[[Any], str]:
    """Compact JSON encoding (``ensure_ascii=False``, ``allow_nan``), built once instead of on every call.

    ``json.dumps`` with options builds a new encoder each time (about 1.7 of a small dump's 2.7 µs). This is the C
    encoder ``json.dumps`` itself uses, kept: same text, without the circular-reference bookkeeping (a cycle ends
    in ``RecursionError``; callers treat it like any other value JSON cannot hold). Pure-Python ``json``: the
    encoder's ``encode``.
    """
    enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=default,
                           sort_keys=sort_keys)
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    try:
        chunks = make(None, enc.default, json.encoder.encode_basestring, None, ":", ",", sort_keys, False, True)
    except TypeError:  # no C encoder (make is None), or one of another signature: the encoder's own encode
        return enc.encode
    join = "".join

    def encode(value: Any) -> str:
        return join(chunks(value, 0))

    probe = {"b": [1.5, None, True, "é\n\""], "a": float("nan")}
    return encode if encode(probe) == enc.encode(probe) else enc.encode


_encode = _encoder()


class _NotPlainJSON(Exception):
    """A value JSON has no form for (bytes, paths, artifacts, dataclasses…) met by a strict encoder."""


def _refuse(odd: Any) -> Any:
    raise _NotPlainJSON


#: Strict encoders refuse values JSON has no form for: :func:`dumps_redacted` then takes the converting path.
_strict = _encoder(_refuse)
_strict_sorted = _encoder(_refuse, sort_keys=True)


def dumps(value: Any) -> str:
    """Compact JSON for storage (values must already be :func:`jsonable`)."""
    return _encode(value)


_escaped_cache: dict[tuple[Secret | str, ...], tuple[str, ...]] = {}


def escaped_secrets(secrets: tuple[Secret | str, ...]) -> tuple[str, ...]:
    """The secrets as they appear inside JSON strings when JSON escapes them (quotes, backslashes…)."""
    try:
        return _escaped_cache[secrets]
    except (KeyError, TypeError):  # not worked out yet (or not a hashable tuple)
        pass
    out = []
    for s in secrets:
        raw = s.get() if isinstance(s, Secret) else s
        if raw:
            escaped = json.dumps(raw, ensure_ascii=False)[1:-1]
            if escaped != raw:
                out.append(escaped)
    found = tuple(out)
    if isinstance(secrets, tuple):
        if len(_escaped_cache) >= 16:  # a few sets of secrets per process: a bound, never a leak
            _escaped_cache.clear()
        _escaped_cache[secrets] = found
    return found


def is_clean(text: str, secrets: tuple[Secret | str, ...], escaped: tuple[str, ...] | None = None) -> bool:
    """True when ``text`` (JSON) holds nothing :func:`redact` would change, escaped secrets included.

    Text that holds no ``sk-`` and no key this process knows (:func:`might_hold_key`, substring searches) can only
    be changed by ``secrets`` themselves: they are searched for, and :func:`redact` runs only when something may
    be found (it then decides as before).
    """
    if might_hold_key(text):
        if redact(text, *secrets) != text:
            return False
    else:
        for s in secrets:
            raw = s.get() if isinstance(s, Secret) else s
            if raw and raw not in _config._known_keys and any(form in text for form in key_forms(raw)):
                return False  # (a known key's forms were all searched for just above)
    if escaped is None:
        escaped = escaped_secrets(secrets)
    return not escaped or not any(e in text for e in escaped)


def dumps_redacted(value: Any, secrets: tuple[Secret | str, ...] = (), *, sort_keys: bool = False,
                   escaped: tuple[str, ...] | None = None) -> tuple[str, bool]:
    """``(dumps(jsonable(value, secrets)), clean)`` at the cost of one ``json.dumps`` and one redaction pass.

    The value is encoded once and :func:`redact` runs once over the whole text (a known key is a literal
    replace, the key pattern one regex scan), instead of once per nested string. Only when that finds
    something (rare: a key pasted into a prompt) is the value redacted string by string, so what is stored is
    exactly :func:`jsonable`'s result either way. ``clean`` says the text is ``value`` as given (nothing redacted
    or converted), so a caller may keep using ``value`` itself instead of decoding the text again.
    ``escaped``: :func:`escaped_secrets` of ``secrets`` when the caller has it.
    """
    converted = False
    try:
        text = (_strict_sorted if sort_keys else _strict)(value)
    except (TypeError, ValueError, RecursionError):  # keys JSON cannot hold, cycles: the careful path says what to do
        text = ""
    except _NotPlainJSON:  # values JSON has no form for (bytes, paths, artifacts, dataclasses…): converted

        def plain(odd: Any) -> Any:
            nonlocal converted
            converted = True
            return jsonable(odd)

        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=plain,
                              sort_keys=sort_keys)
        except (TypeError, ValueError):
            text = ""
    if text and is_clean(text, secrets, escaped):
        return text, not converted
    slow = jsonable(value, secrets)
    return json.dumps(slow, ensure_ascii=False, separators=(",", ":"), allow_nan=True, sort_keys=sort_keys), False


def canonical(value: Any) -> str:
    """The canonical form replay keys hash: sorted keys, no whitespace."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=True)


def is_ref(value: Any) -> bool:
    """An input-media reference ``{"artifact": "<sha256>", "mime": …}`` inside params."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("artifact"), str)
        and bool(SHA_RE.match(value["artifact"]))
        and set(value) <= {"artifact", "mime", "name", "size", "role"}
    )


def iter_refs(value: Any) -> Iterable[dict[str, Any]]:
    """Every artifact reference nested anywhere in ``value``."""
    if is_ref(value):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from iter_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from iter_refs(v)


def map_refs(value: Any, fn: Callable[[dict[str, Any]], Any]) -> Any:
    """``value`` with every artifact reference replaced by ``fn(ref)``."""
    if is_ref(value):
        return fn(value)
    if isinstance(value, dict):
        return {k: map_refs(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [map_refs(v, fn) for v in value]
    return value


# ---------------------------------------------------------------- Artifact


@dataclass(eq=True)
class Artifact:
    """A content-addressed file in a store: ``artifacts/<sha[:2]>/<sha256><suffix>``."""

    sha256: str
    mime: str
    size: int
    name: str = ""

    @property
    def path(self) -> Path:
        store = self.__dict__.get("_store")
        if store is None:
            raise LookupError(f"artifact {self.sha256[:12]}… is not bound to a store")
        return store.path_of(self.sha256)  # type: ignore[no-any-return]

    def bind(self, store: Store | None) -> Artifact:
        self.__dict__["_store"] = store
        return self

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "mime": self.mime, "size": self.size, "name": self.name}

    to_dict = as_dict

    def ref(self) -> dict[str, Any]:
        """The form input media take inside ``params``."""
        return {"artifact": self.sha256, "mime": self.mime}

    @classmethod
    def from_dict(cls, d: dict[str, Any], store: Store | None = None) -> Artifact:
        sha = d.get("sha256") or d.get("artifact") or ""
        return cls(str(sha), str(d.get("mime", "")), int(d.get("size", 0) or 0), str(d.get("name", ""))).bind(store)


# ---------------------------------------------------------------- HistoryEntry


def _new_dict() -> dict[str, Any]:
    return {}


@dataclass(repr=False)
class HistoryEntry:
    """One call as recorded: enough to show it, search it, replay it and write it again as code."""

    id: int | None = None
    session_id: str = ""
    started: float = field(default_factory=time.time)
    duration: float | None = None
    mode: str = "offline"
    kind: str = ""
    model: str = ""
    endpoint: str = ""
    params: dict[str, Any] = field(default_factory=_new_dict)
    request: dict[str, Any] = field(default_factory=_new_dict)
    response: dict[str, Any] = field(default_factory=_new_dict)
    usage: dict[str, Any] = field(default_factory=_new_dict)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    text: str = ""
    status: str = "running"
    error: dict[str, Any] | None = None
    thread: str | None = None
    replay_key: str = ""
    #: The previous turn of this entry's chat thread (``None``: the first turn, or not a thread). A turn's
    #: ``request`` then holds only what it adds; :meth:`wire_request` rebuilds the body that was sent.
    parent: int | None = None

    # -- binding (kept out of dataclass fields so asdict()/replace() never copy a store)
    def bind(self, store: Store | None, session: Any = None) -> HistoryEntry:
        self.__dict__["_store"] = store
        if session is not None:
            self.__dict__["_bound_session"] = session
        return self

    @property
    def store(self) -> Store | None:
        return self.__dict__.get("_store")

    @property
    def artifacts(self) -> list[Artifact]:
        """The outputs as :class:`Artifact` objects (``.path`` resolved by the store)."""
        return [Artifact.from_dict(o, self.store) for o in self.outputs if o.get("sha256")]

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def cost(self) -> Cost:
        """What this call cost (USD and the site's currency, and where the figure came from), or unknown."""
        from ..cost import Cost

        usage = self.usage if isinstance(self.usage, dict) else {}
        return Cost.from_dict(usage.get("cost"))

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ENTRY_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HistoryEntry:
        if not isinstance(d, dict):
            from ..errors import WrongTypeError

            raise WrongTypeError(f"HistoryEntry.from_dict() takes a dict (an exported entry), not {type(d).__name__}.",
                                 hint="e.g. HistoryEntry.from_dict(json.loads(line)) for a line of a .jsonl export.")
        known = {k: d[k] for k in ENTRY_FIELDS if k in d}
        return cls(**known)

    # -- code generation
    def to_code(self) -> str:
        """Python that makes this call again through ``tokenhot_nb`` (input media from the store)."""
        try:
            when = _dt.datetime.fromtimestamp(float(self.started)).isoformat(timespec="seconds")
        except (TypeError, ValueError, OverflowError, OSError):
            when = "at an unknown time"
        # every field is data (an imported history is untrusted): the comment is one printable line, the
        # call is built from repr() of values only, so no field can end the comment or start a statement
        head = [
            _comment(f"# {self.kind} call recorded {when} ({self.mode} mode)"
                     + (f" as history entry #{self.id}" if self.id is not None else "")),
            "import tokenhot_nb",
            "",
            "s = tokenhot_nb.session()",
        ]
        kept_not = _not_recorded(self.params)
        if kept_not:  # (a refused call's row: its marker is no value to send)
            head.append(_comment(f"# NOT RECORDED: {', '.join(kept_not)} (could not be stored, or too big): "
                                 "put the real value back before running this"))
        plain: list[str] = []
        odd: list[str] = []
        for k, v in (self.params if isinstance(self.params, dict) else {}).items():
            src = _py_src(v)
            if _plain_name(k):
                plain.append(f"{k}={src}")
            else:
                odd.append(f"{k!r}: {src}")
        args = plain + ([f"**{{{', '.join(odd)}}}"] if odd else [])
        target = f"s.{self.kind}" if _plain_name(self.kind) else f"getattr(s, {self.kind!r})"
        one_line = f"result = {target}({', '.join(args)})"
        if len(one_line) <= 100:
            call = one_line
        else:
            call = f"result = {target}(\n" + "".join(f"    {a},\n" for a in args) + ")"
        return "\n".join([*head, call]) + "\n"

    def wire_request(self) -> dict[str, Any]:
        """The main HTTP request as sent: ``request``, with a thread turn's earlier messages rebuilt from its rows.

        A chat turn stores each message once: its ``request`` holds the new message and a ``context`` note
        (``{"parent": id, "messages": n}``); the conversation before it is rebuilt from the parent rows.
        """
        req = self.request or {}
        ctx = req.get("context")
        if not isinstance(ctx, dict) or self.store is None:
            return req
        from .._threads import wire_request

        if ctx.get("parent") != self.parent:  # loaded by an older version into a store that held rows: the
            if self.parent is None:          # context kept the id from its own store, another row here
                return req
            moved = copy.copy(self)
            moved.request = {**req, "context": {**ctx, "parent": self.parent}}
            return wire_request(self.store, moved)
        return wire_request(self.store, self)

    def to_curl(self, base_url: str = "https://api.tokenhot.cn") -> str:
        """The main HTTP request as a curl command; the key comes from ``$TOKENHOT_API_KEY``."""
        from urllib.parse import urlsplit

        from ..errors import InputError

        if not isinstance(base_url, str) or not base_url.strip():
            what = "an empty string" if isinstance(base_url, str) else type(base_url).__name__
            raise InputError(f"entry.to_curl() takes the service's base URL (a string), not {what}.",
                             hint="e.g. entry.to_curl('https://api.tokenhot.cn'), or entry.to_curl() for that one.")
        base_url = base_url.strip()
        parts_of = urlsplit(base_url)
        if parts_of.scheme.lower() not in ("http", "https") or not parts_of.hostname:  # ('http://' went in as it was)
            raise InputError(f"entry.to_curl() takes an http(s) base URL with a host, not {base_url!r:.80}.",
                             hint="e.g. entry.to_curl('https://api.tokenhot.cn'), or entry.to_curl() for that one.")
        req = self.wire_request()
        if not req:  # (it wrote "curl -X POST https://api.tokenhot.cn/": a request to nowhere, never made)
            said = _shorten(str((self.error or {}).get("message") or ""), 80) if isinstance(self.error, dict) else ""
            how = (f"it was refused before anything was sent{f' ({said})' if said else ''}" if not self.endpoint
                   else "it was recorded without its request")
            raise InputError(redact(f"History entry #{self.id} holds no request to write as curl: {how}."),
                             hint="entry.to_code() gives the Python call: fix what was refused, then run it.")
        method = str(req.get("method", "POST")).upper()
        path = str(req.get("path", "/"))
        url = base_url.rstrip("/") + (path if path.startswith("/") else "/" + path)
        if isinstance(req.get("params"), dict) and req["params"]:
            url += "?" + urlencode(req["params"], doseq=True)
        body = req.get("json")
        first = "curl"
        if method != "GET" or body is not None or req.get("files") or req.get("data"):
            first += f" -X {shlex.quote(method)}"
        if isinstance(body, dict) and body.get("stream"):
            first += " -N"
        parts = [f"{first} {shlex.quote(url)}", '-H "Authorization: Bearer $TOKENHOT_API_KEY"']
        if body is not None:
            parts.append("-H 'Content-Type: application/json'")
            parts.append("-d " + shlex.quote(json.dumps(body, ensure_ascii=False, separators=(",", ":"))))
        data = req.get("data")
        for name, value in (data.items() if isinstance(data, dict) else []):
            for v in value if isinstance(value, list) else [value]:
                text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                parts.append("--form-string " + shlex.quote(f"{_form_name(name)}={text}"))
        files = req.get("files")
        for f in (files if isinstance(files, list) else []):
            if not isinstance(f, dict):
                continue
            # the file is read by curl from the working folder: only a plain file name, never a path elsewhere
            spec = f"{_form_name(f.get('field', 'file'))}=@{_form_file(f.get('filename', 'file'))}"
            if isinstance(f.get("content_type"), str) and _CURL_MIME.match(f["content_type"]):
                spec += f";type={f['content_type']}"
            parts.append("-F " + shlex.quote(spec))
        return redact(" \\\n  ".join(parts)) + "\n"

    # -- acting on the entry
    def _pick_session(self, session: Any, method: str, needs: str | None = None) -> Any:
        """The session to act in; anything without what ``method`` uses (an index, a path…) is refused here, in
        one line, rather than failing deep inside. Duck-typed: a stand-in with those attributes is taken."""
        if session is not None:
            if hasattr(session, "store") and (needs is None or callable(getattr(session, needs, None))):
                return session
            from ..errors import InputError

            raise InputError(f"entry.{method}() takes a Session to use (or nothing: the entry's own session), "
                             f"not {type(session).__name__}.",
                             hint=f"Pick the entry first, then call it: session.history.get(<entry id>).{method}() "
                                  f"or session.history[<index>].{method}().")
        bound = self.__dict__.get("_bound_session")
        if bound is not None:
            return bound
        return importlib.import_module("tokenhot_nb").session()

    def resolved_params(self) -> dict[str, Any]:
        """``params`` with artifact refs turned into paths in the store (what the session accepts)."""
        store = self.store
        if store is None:
            return dict(self.params)
        resolved = map_refs(self.params, lambda ref: store.path_of(ref["artifact"]))
        return resolved  # type: ignore[no-any-return]

    def rerun(self, session: Any = None) -> Any:
        """Make the same call again (a new history entry)."""
        from ._validate import KINDS

        if self.kind not in KINDS:
            from ..errors import InputError

            raise InputError(f"History entry #{self.id} has kind {str(self.kind)!r:.60}, which is not a call "
                             "that can be made again.", hint=f"Rerun works for {', '.join(KINDS)}.")
        kept_not = _not_recorded(self.params)
        if kept_not:
            from ..errors import InputError

            raise InputError(f"History entry #{self.id} kept no copy of {', '.join(kept_not)} (a refused call's "
                             "argument that could not be stored, or too big): made again, it would send another call.",
                             hint="Make the call again yourself with that argument (entry.params shows the rest).")
        s = self._pick_session(session, "rerun", self.kind)
        return getattr(s, self.kind)(**self.resolved_params())

    def resume(self, session: Any = None) -> Any:
        """Pick a video task up again by its task id; fetch the images an image/edit call could not download."""
        if session is not None:  # a wrong argument is said first, whatever the row
            self._pick_session(session, "resume", "resume")
        if self.kind in ("image", "edit"):
            return self._pick_session(session, "resume", "resume").resume(self)
        task_id = (self.response or {}).get("task_id")
        if not task_id:
            from ..errors import InputError

            raise InputError(
                f"History entry #{self.id} has no task id to resume.",
                hint="Only video calls that reached the server have one; use .rerun() instead.",
            )
        return self._pick_session(session, "resume", "resume").resume(task_id)

    def result(self, session: Any = None) -> Any:
        """The result object rebuilt from the stored artifacts (of the store this entry was read from)."""
        results = importlib.import_module("tokenhot_nb.results")
        if session is not None:
            self._pick_session(session, "result")
        session = session if session is not None else self.__dict__.get("_bound_session")
        if session is None and self.store is not None:  # History(path): its store, not the default session's
            return results.from_entry(self, None, self.store)
        return results.from_entry(self, session)

    # -- display
    @property
    def prompt(self) -> str:
        for key in ("prompt", "text", "message"):
            v = self.params.get(key)
            if isinstance(v, str):
                return v
            if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
                return " | ".join(v)
        return self.text

    def __repr__(self) -> str:
        when = _dt.datetime.fromtimestamp(self.started).strftime("%Y-%m-%d %H:%M:%S")
        snippet = _shorten(self.prompt, 50)
        return (
            f"HistoryEntry(id={self.id}, {_comment(str(self.kind))} {self.model!r}, status={self.status!r}, "
            f"started={when!r}, text={snippet!r})"
        )

    def _repr_html_(self) -> str:
        from ._history import entry_html

        return entry_html(self)


_CURL_MIME = re.compile(r"^[a-z]+/[A-Za-z0-9.+_-]{1,100}$")


def _form_name(name: Any) -> str:
    """A multipart field name curl reads literally (no ``=``, ``;``, ``@``, ``<`` or quotes)."""
    return re.sub(r"[^\w.\[\]-]", "_", str(name))[:100] or "field"


def _form_file(name: Any) -> str:
    """A file name in the current folder (a recorded path is untrusted: ``@/home/…`` would upload that file)."""
    base = re.split(r"[\\/]", str(name))[-1]
    return re.sub(r"[^\w.-]", "_", base).lstrip(".")[:100] or "file"


def _plain_name(name: Any) -> bool:
    """Whether ``name`` may be written bare (``name=…``, ``s.name``) in generated code and still be itself.

    Python reads identifiers NFKC-normalised (``ｍｏｄｅｌ`` and ``ﬁle`` are ``model`` and ``file``), so only ASCII
    names are written bare; ``__debug__`` cannot be an argument's name. Any other name is written as a string.
    """
    return (isinstance(name, str) and name.isascii() and name.isidentifier() and not keyword.iskeyword(name)
            and name != "__debug__")


_CODING = re.compile(r"(coding)(?=[:=])", re.IGNORECASE)


def _comment(text: str) -> str:
    """One line of printable text: line breaks and controls (which would end a ``#`` comment) become spaces, and
    no ``coding:`` (on the first line Python reads it as the file's encoding, PEP 263: in UTF-7 a ``+AAo-``
    inside a string value is a line break)."""
    return _CODING.sub(r"\1 ", "".join(ch if ch.isprintable() else " " for ch in text))


def _shorten(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _not_recorded(params: Any) -> list[str]:
    """The arguments of a refused call's row kept as a ``{"not_recorded": …}`` marker (anywhere inside them): a rerun
    would send the marker (merged into the body, through ``extra``) as if it were what the call asked."""
    def holds(v: Any) -> bool:
        if isinstance(v, dict):
            return (len(v) == 1 and isinstance(v.get("not_recorded"), str)) or any(holds(x) for x in v.values())
        return isinstance(v, list) and any(holds(x) for x in v)

    return [str(k) for k, v in params.items() if holds(v)] if isinstance(params, dict) else []


def _py_src(v: Any) -> str:
    """Python source for a JSON value; artifact refs become ``s.history.artifact("<sha>")``."""
    if is_ref(v):
        return f"s.history.artifact({v['artifact']!r})"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_py_src(k)}: {_py_src(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_py_src(x) for x in v) + "]"
    if isinstance(v, float) and not math.isfinite(v):
        return f"float({str(v)!r})"
    if v is None or isinstance(v, (bool, int, float, str)):
        return repr(v)
    return repr(str(v))


def escape(value: Any) -> str:
    """Text of a (possibly imported, untrusted) field for HTML: through the one safe renderer."""
    from .._safe import text_html

    return text_html(value)
