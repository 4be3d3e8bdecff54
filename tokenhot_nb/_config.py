"""Settings: where the key, host, mode and limits come from.

The key is wrapped in :class:`Secret` the moment it is read, so no repr, log line,
exception or export can print it by accident.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import numbers
import operator
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Mode = Literal["live", "offline", "replay"]
MODES: tuple[str, ...] = ("live", "offline", "replay")
Compress = Literal["auto", "always", "never"]
COMPRESS_CHOICES: tuple[str, ...] = ("auto", "always", "never")

DEFAULT_BASE_URL = "https://api.tokenhot.cn"
ALT_BASE_URL = "https://api.tokenhot.ai"
#: Key used against the offline simulator; it accepts any ``sk-…`` key.
OFFLINE_KEY = "sk-offline-simulator"
#: Seconds between video polls against the simulator (live default: 5 s, as Tokenhot advises 5–15 s).
OFFLINE_POLL_INTERVAL = 0.5
#: The in-process simulator answers on this host; no request to it ever leaves the process.
SIM_BASE_URL = "http://tokenhot.sim"

#: Something shaped like a key nobody told us about. Real keys are long ("sk-learn" is not one) and random: glued
#: to a word ("risk-free-rate-of-return", "task-queue-based-design") only a tail with upper- and lower-case
#: letters and digits is taken for one (a key after ``\n`` in an escaped body, say), never a hyphenated phrase.
_KEY_RE = re.compile(r"sk-(?:(?<![A-Za-z0-9]sk-)|(?=[\w-]*?[0-9])(?=[\w-]*?[A-Z])(?=[\w-]*?[a-z]))"
                     r"[A-Za-z0-9_\-]{16,}", re.ASCII)  # (it starts with "sk-": re scans for that literal)
#: Settings for which 0 makes no sense (no time to connect or read, a poll loop that never sleeps, a cap that
#: refuses every answer and every file: each call paid for, then its answer or its file refused).
_POSITIVE = frozenset({"connect_timeout", "read_timeout", "poll_interval", "download_cap", "response_cap"})
#: Settings for which infinity makes no sense either: a poll interval of ``inf`` never polls again (a video wait
#: said at once it "was not done after 1800 s", its paid task left), a download floor of ``inf`` stops every download.
_FINITE = frozenset({"poll_interval", "download_min_rate"})
#: Shown instead of a key (or of anything shaped like one).
MASK = "sk-****"
#: Known keys shorter than this are not redacted by value: replacing every "ab" in every text would be noise.
MIN_KNOWN_KEY = 8

#: Every key value this process was given (by Settings, Secret or a Session): ``redact`` removes them from any
#: text even when they do not look like ``sk-…``. A set of strings: a few per process, never written anywhere.
_known_keys: set[str] = set()
#: Every shape of every known key (:func:`key_forms`), longest first: worked out once per key, searched on every
#: redaction.
_known_forms: tuple[str, ...] = ()

#: What may split a known key a relay echoes or wraps: whitespace and line breaks (a wrapped line), a line break
#: escaped inside JSON, a tag (``<wbr>``, ``<br>``, ``<b>``: an HTML page's text has its tags made spaces) and the
#: invisible characters (soft hyphen, zero-width space and joiners, word joiner, BOM). The key reads the same.
_SPLIT = r"(?:\s|\\[nrt]|<[^<>]{0,40}>|[\u00ad\u200b-\u200d\u2060\ufeff])*"
#: Known keys at least this long are also found split (shorter ones would be found in ordinary words).
MIN_SPLIT_KEY = 16
#: The pieces of a known key searched for first (plain substring searches), at every multiple of this length: the
#: split pattern runs only when one is there. A key split in a few places has a piece twice this long, which holds
#: one; a key cut into crumbs shorter than that is not looked for.
_TILE = 8
#: (the tiles, the pattern) of each known key's split form, and every tile (the pre-check of :func:`might_hold_key`)
_split_checks: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = ()
_split_tiles: tuple[str, ...] = ()

_URLSAFE = str.maketrans("+/", "-_")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _base64_forms(data: bytes) -> set[str]:
    """The base64 text ``data`` becomes inside any longer base64 string, in both alphabets.

    Where ``data`` starts in the encoded string (its offset modulo 3) changes every character, so each of the
    three alignments is encoded; the characters at either edge also carry bits of the neighbouring bytes
    (unknown) and are left out, leaving the run that is the same whatever surrounds the key.
    """
    out: set[str] = set()
    for lead in range(3):
        encoded = base64.b64encode(b"\0" * lead + data).decode("ascii")
        core = encoded[-(-8 * lead // 6):8 * (lead + len(data)) // 6]
        out.update((core, core.translate(_URLSAFE)))
    return out


@functools.lru_cache(maxsize=64)
def key_forms(raw: str) -> tuple[str, ...]:
    """``raw`` and the shapes a relay may echo it in, longest first: JSON-escaped (also with every non-alphanumeric
    or every character as ``\\uXXXX``), base64 (both alphabets, at any offset inside a longer string, e.g. a
    dumped ``Basic``/``Bearer`` header), percent-encoded (also every byte), hex, HTML character references,
    upper- and lower-cased, and without its ``sk-``.

    Values shorter than :data:`MIN_KNOWN_KEY` only match themselves: their encodings are a few characters that
    turn up in ordinary text.
    """
    forms = {raw}
    if len(raw) >= MIN_KNOWN_KEY:
        from urllib.parse import quote

        data = raw.encode("utf-8")
        forms.update(json.dumps(raw, ensure_ascii=as_ascii)[1:-1] for as_ascii in (True, False))
        forms.add(raw.replace("/", "\\/"))  # PHP's json_encode escapes the solidus; a cut body is kept as sent
        forms.update(_base64_forms(data))
        for safe in ("", "/"):
            quoted = quote(raw, safe=safe)
            forms.update((quoted, _PERCENT_ESCAPE.sub(lambda m: m.group().lower(), quoted)))
        forms.update((data.hex(), data.hex().upper()))
        forms.update((raw.upper(), raw.lower()))  # a relay that shouts its error text
        tail = raw.removeprefix("sk-")  # new-api keeps and looks up a key without its "sk-"
        if tail != raw and len(tail) >= MIN_KNOWN_KEY:
            forms.update((tail, tail.upper()))
        for fmt in ("\\u{:04x}", "\\u{:04X}"):  # JSON writers that escape more than json.dumps does
            forms.add("".join(ch if ch.isalnum() else fmt.format(ord(ch)) for ch in raw))
            forms.add("".join(fmt.format(ord(ch)) for ch in raw))
        forms.update("".join(fmt.format(b) for b in data) for fmt in ("%{:02X}", "%{:02x}"))  # every byte quoted
        forms.update("".join(fmt.format(ord(ch)) for ch in raw) for fmt in ("&#{};", "&#x{:x};", "&#x{:X};"))
    forms.discard("")
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


def _split_check(raw: str) -> tuple[tuple[str, ...], re.Pattern[str]]:
    """The tiles and split pattern of one key (and of its tail without ``sk-``, which new-api echoes)."""
    tail = raw.removeprefix("sk-")
    shapes = [raw] + ([tail] if tail != raw and len(tail) >= MIN_SPLIT_KEY else [])
    pattern = "|".join(_SPLIT.join(re.escape(ch) for ch in shape) for shape in shapes)
    tiles = tuple(raw[i:i + _TILE] for i in range(0, len(raw) - _TILE + 1, _TILE))
    return tiles, re.compile(pattern)


def remember_key(value: str) -> None:
    """Add ``value`` to the keys :func:`redact` removes by value (called for every key that is set)."""
    global _known_forms, _split_checks, _split_tiles
    value = value.strip()  # (a key refused for the spaces around it: its forms would hold back every space)
    if len(value) >= MIN_KNOWN_KEY and value not in _known_keys:
        _known_keys.add(value)
        _known_forms = tuple(sorted({f for k in _known_keys for f in key_forms(k)}, key=lambda f: (-len(f), f)))
        if len(value) >= MIN_SPLIT_KEY:
            _split_checks = (*_split_checks, _split_check(value))
            _split_tiles = tuple(sorted({t for tiles, _ in _split_checks for t in tiles}))


def key_problem(value: str) -> str | None:
    """What makes ``value`` unusable as an API key, described without quoting any of it; None when fine.

    An HTTP header cannot carry a line break or a non-ASCII character: httpx/h11 would refuse it with an
    error that quotes the whole header (the key). Whitespace is always a copy-paste accident.
    """
    for i, ch in enumerate(value):
        where = "at the start" if i == 0 else "at the end" if i == len(value) - 1 else f"at position {i + 1}"
        if ch in "\r\n":
            return f"a line break {where}"
        if ch.isspace():
            return f"whitespace {where}"
        if not ch.isascii():
            return f"a non-ASCII character {where}"
        if not ch.isprintable():
            return f"a control character {where}"
    return None


def check_key(value: str) -> None:
    """Refuse a key that cannot be sent as-is, with a message that shows none of it."""
    problem = key_problem(value)
    if problem is not None:
        from .errors import ConfigError

        raise ConfigError(
            f"The API key contains {problem} ({len(value)} characters in all; the key itself is not shown).",
            hint="Copy the key again from the Tokenhot console (only letters, digits, - and _) and set it "
            "without spaces or line breaks, e.g. `%th_config --key` for a hidden prompt.",
        )


class Secret:
    """A string that never shows itself in reprs, str() or f-strings.

    Creating one remembers the value for :func:`redact`; :class:`Settings` checks it (:func:`check_key`).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            from .errors import ConfigError

            raise ConfigError(f"The API key must be a string, not {type(value).__name__}.")
        self._value = value
        remember_key(value)

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')" if self._value else "Secret('')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # pickling would write the key to disk
        raise TypeError("a Secret cannot be pickled; store the key in TOKENHOT_API_KEY instead")


def redact(text: str, *secrets: Secret | str | None) -> str:
    """Remove ``secrets``, every key this process was given, and anything shaped like ``sk-…`` from ``text``.

    Keys given to a Session/Settings are removed by value whatever they look like (a key need not start with
    ``sk-``), and in every shape :func:`key_forms` knows (a relay may echo one base64- or percent-encoded), also
    split by line breaks, tags or invisible characters (:data:`_SPLIT`; keys of :data:`MIN_SPLIT_KEY` or more);
    the pattern catches keys nobody told us about (e.g. another key echoed by a relay). Text holding none of
    these comes back as the same object after a few substring searches, so call sites need no pre-check.
    """
    for s in secrets:
        raw = s.get() if isinstance(s, Secret) else s
        if raw and raw not in _known_keys:  # (a known key's forms are all removed just below)
            for form in key_forms(raw):
                if form in text:
                    text = text.replace(form, MASK)
    for form in _known_forms:
        if form in text:
            text = text.replace(form, MASK)
    for tiles, split in _split_checks:  # a known key split by a line break, a tag or an invisible character
        for tile in tiles:
            if tile in text:
                text = split.sub(MASK, text)
                break
    return _KEY_RE.sub(MASK, text) if "sk-" in text else text  # (clean text comes back as it is, not copied)


#: The start of something shaped like a key, too short yet for :data:`_KEY_RE` (which masks it once complete).
_KEY_START = r"s(?:k(?:-[A-Za-z0-9_\-]{0,15})?)?"
#: (the forms :data:`_held` was made for, the pattern, how far back a match may start)
_held: tuple[tuple[str, ...], re.Pattern[str], int] | None = None


def _held_pattern() -> tuple[re.Pattern[str], int]:
    """One pattern for "the text ends in the first part of a key": each known form's proper prefixes, nested
    (``a(?:b(?:c)?)?``), and the ``sk-`` shape. Made again when a key is added."""
    global _held
    forms = _known_forms
    if _held is None or _held[0] is not forms:
        def starts(form: str) -> str:
            out = ""
            for ch in reversed(form[:-1]):  # proper prefixes: a whole form is redacted, not held
                out = re.escape(ch) + (f"(?:{out})?" if out else "")
            return out

        parts = [starts(f) for f in forms if len(f) > 1] + [_KEY_START]
        _held = forms, re.compile(f"(?:{'|'.join(parts)})\\Z"), max([19, *map(len, forms)])
    return _held[1], _held[2]


def key_start_at_end(text: str) -> int:
    """How many trailing characters of ``text`` may be the first part of a key still arriving (0: none).

    Redaction needs the whole key, so a view of a stream holds these back until the rest arrives: shown as
    they come, the first part of a key echoed across several frames would be on screen (or printed, for good)
    before the end of it made it recognisable. Held characters are shown with the next delta that rules the key
    out (usually the next one), or replaced by the mask.
    """
    pattern, span = _held_pattern()
    m = pattern.search(text, max(0, len(text) - span))
    return max(len(text) - m.start() if m is not None else 0, _split_start_at_end(text))


#: (the keys :data:`_split_held` was made for, the pattern, how far back a match may start)
_split_held: tuple[frozenset[str], re.Pattern[str] | None, int] | None = None
_SPLIT_RE = re.compile(_SPLIT)


def _split_start_at_end(text: str) -> int:
    """How many trailing characters of ``text`` are the first part of a known key split as :data:`_SPLIT` splits
    one (``sk-Ab3dEf6h\nIj9``): whole, redaction masks it; arriving, it is held back as an unsplit start is. Only
    a start holding :data:`_TILE` characters of the key or more: an ``s`` and a space end many a sentence."""
    global _split_held
    keys = frozenset(k for k in _known_keys if len(k) >= MIN_SPLIT_KEY)
    if _split_held is None or _split_held[0] != keys:
        def starts(form: str) -> str:
            out = ""
            for ch in reversed(form[:-1]):  # proper prefixes, each may end in separators
                out = re.escape(ch) + _SPLIT + (f"(?:{out})?" if out else "")
            return out

        shapes = {shape for k in keys for shape in (k, k.removeprefix("sk-")) if len(shape) >= MIN_SPLIT_KEY}
        either = "|".join(starts(f) for f in shapes)  # (ending, maybe, in a separator's first part: "<wb", "\\")
        pattern = re.compile(f"(?:{either})(?:<[^<>]{{0,40}}|\\\\)?\\Z") if shapes else None
        _split_held = keys, pattern, 4 * max([0, *map(len, shapes)]) + 64
    _, compiled, span = _split_held
    if compiled is None:
        return 0
    m = compiled.search(text, max(0, len(text) - span))
    if m is None or len(_SPLIT_RE.sub("", m.group())) < _TILE:
        return 0
    return len(text) - m.start()


def known_key_start(text: str) -> bool:
    """Whether ``text`` is the first part of a form of a key this process knows (:func:`key_forms`)."""
    return any(form.startswith(text) for form in _known_forms)


#: A cut tail shorter than this tells nothing of a key ("s", "sk", "sk-", or a key's first three characters).
_REVEALING = 4


def redact_cut(text: str) -> str:
    """``text`` cut short (an answer whose end never came), redacted as it is kept: a tail that may be the first
    part of a key (:func:`key_start_at_end`) is masked too, since no redaction can recognise it, and masked rather
    than dropped, so the reader sees something was cut there. Only a tail that would reveal part of a key: text
    cut after "…lighthouses" or "…task-q" keeps its words."""
    text = redact(text)
    held = key_start_at_end(text)
    if held < _REVEALING:
        return text
    tail, before = text[len(text) - held:], text[len(text) - held - 1:len(text) - held]
    if before.isalnum() and not known_key_start(tail):  # "sk-…" glued to a word: a word, not a key
        return text
    return text[:len(text) - held] + MASK


def might_hold_key(text: str) -> bool:
    """Cheap pre-check: could :func:`redact` change ``text``? (for hot paths such as stream deltas)"""
    if "sk-" in text:
        return True
    for form in _known_forms:
        if form in text:
            return True
    for tile in _split_tiles:  # noqa: SIM110 - (the same) a piece of a known key: it may be split
        if tile in text:
            return True
    return False


def check_base_url(url: object) -> str:
    """``url`` when it is an absolute http(s) URL; otherwise one clear line, before any request."""
    from urllib.parse import urlsplit

    from .errors import ConfigError

    if not isinstance(url, str):
        raise ConfigError(f"base_url must be a string like 'https://api.tokenhot.cn', not {type(url).__name__}.")
    text = url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        shown = redact(text)[:80]
        fix = f"https://{shown}" if parts is not None and not parts.scheme and shown else "https://api.tokenhot.cn"
        raise ConfigError(
            f"base_url {shown!r} is not an http(s) URL with a host.",
            hint=f"Write it with its scheme, e.g. {fix!r} (argument base_url=… or TOKENHOT_BASE_URL).",
        )
    extra = [what for what, there in (("a user name or password", parts.username is not None or parts.password),
                                      ("a query (?…)", parts.query), ("a fragment (#…)", parts.fragment),
                                      ("something shaped like a key", redact(text) != text))
             if there]
    if extra:  # a key put there would be in every repr, message and log line that names the service
        host = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        bare = host if redact(parts.path) != parts.path else host + parts.path
        raise ConfigError(
            f"base_url carries {' and '.join(extra)}: it must be only the service's address (paths are added "
            "to it, and a key written there would show wherever the address is shown).",
            hint=f"Use base_url={redact(bare)!r} and pass the key as api_key=… (or TOKENHOT_API_KEY).",
        )
    return text


_notice_shown = False


@dataclass
class Settings:
    """Everything a session needs to talk to Tokenhot (or its simulator)."""

    api_key: Secret = field(default_factory=lambda: Secret(""))
    base_url: str = DEFAULT_BASE_URL
    mode: Mode = "offline"
    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    max_retries: int = 2
    stream_idle_timeout: float = 60.0  #: seconds without new content (keep-alives do not count) before a stream is dead
    #: seconds a whole stream, or the body of an answer read whole, may take however it trickles (0: no limit)
    stream_deadline: float = 1800.0
    poll_interval: float = 5.0
    video_deadline: float = 1800.0
    download_cap: int = 2 * 1024**3
    #: bytes/s a download must average over each ``stream_idle_timeout`` window, else it is stopped as stalled
    #: (0: no floor); no total time limit, so a large file on a slow link still arrives
    download_min_rate: float = 1024.0
    response_cap: int = 512 * 1024**2  #: most bytes (decoded) of any JSON answer or event stream
    #: JSON request bodies of 32 KiB or more (a long thread's) go gzip-compressed: "auto" to a host that is not
    #: this machine, "always" to any host (the simulator's server too), "never"
    compress_requests: Compress = "auto"
    store: Path = field(default_factory=lambda: Path(".tokenhot"))
    #: Hours the service's model table (``/api/pricing``…) is reused from the disk cache before it is read
    #: again (``TOKENHOT_CATALOG_TTL``); ``session.models(refresh=True)`` reads it now.
    catalog_ttl: float = 24.0
    #: The key's group on the service (new-api's 分组; ``TOKENHOT_PRICE_GROUP``): costs and estimates use the
    #: price table's ``group_ratio`` of it. "" is the service's ``default`` group.
    price_group: str = ""

    def __setattr__(self, name: str, value: Any) -> None:
        """A key set later (``session.settings.api_key = "sk-…"``) is kept as one given at the start: a
        :class:`Secret` (remembered for redaction), checked; a plain string there broke every call. A number
        (``session.settings.download_cap = …``) is checked as ``Session(…)`` checks it."""
        if name == "api_key":
            raw = value.get() if isinstance(value, Secret) else value
            if isinstance(raw, str):  # refuse one that cannot be sent, quoting none of it (before it is remembered)
                check_key(raw)
            if not isinstance(value, Secret):
                value = Secret(value)  # (one that is no string is refused here)
        elif name in _numeric_fields():  # (set later too, as a hint says: checked as at Session(…))
            value = _checked_number(_numeric_fields()[name], value)
        object.__setattr__(self, name, value)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            from .errors import ConfigError

            raise ConfigError(
                f"Unknown mode {self.mode!r}.",
                hint="Use one of: live, offline, replay (argument mode=… or TOKENHOT_MODE).",
            )
        if self.compress_requests not in COMPRESS_CHOICES:
            from .errors import ConfigError

            raise ConfigError(
                f"Unknown compress_requests {self.compress_requests!r}.",
                hint="Use one of: auto, always, never (argument compress_requests=…).",
            )
        self.base_url = check_base_url(self.base_url).rstrip("/")
        if self.base_url.endswith("/v1"):
            self.base_url = self.base_url[: -len("/v1")]
        if not isinstance(self.store, (str, os.PathLike)):
            from .errors import ConfigError

            raise ConfigError(f"store must be a folder path, not {type(self.store).__name__}.",
                              hint="e.g. Session(store='.tokenhot') or TOKENHOT_STORE=/path/to/folder.")
        self.store = Path(self.store)
        if not isinstance(self.price_group, str):
            from .errors import ConfigError

            raise ConfigError(f"price_group must be a group name, not {type(self.price_group).__name__}.",
                              hint="e.g. Session(price_group='vip'), the group your key belongs to on the service.")
        self.price_group = self.price_group.strip()
        self._check_numbers()

    def _check_numbers(self) -> None:
        """A timeout of "slow" or -1 would only fail (or wait forever) deep inside the first call."""
        for f in _numeric_fields().values():
            object.__setattr__(self, f.name, _checked_number(f, getattr(self, f.name)))

    @classmethod
    def from_env(
        cls,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        mode: str | None = None,
        store: str | os.PathLike[str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Arguments win over ``TOKENHOT_*`` variables; with no key and no mode, run offline."""
        _check_names(cls, overrides)
        _refuse_blank(api_key=api_key, base_url=base_url, mode=mode, store=store)
        if api_key is not None and not isinstance(api_key, (str, Secret)):
            from .errors import ConfigError

            raise ConfigError(f"The API key must be a string, not {type(api_key).__name__}.",
                              hint="e.g. Session(api_key=os.environ['TOKENHOT_API_KEY']).")
        if mode is not None and not isinstance(mode, str):
            from .errors import ConfigError

            raise ConfigError(f"mode must be a string, not {type(mode).__name__}.",
                              hint="Use one of: live, offline, replay.")
        key = api_key if api_key is not None else os.environ.get("TOKENHOT_API_KEY", "")
        # whitespace around a pasted key is dropped; inside it, the key is refused (check_key)
        secret = key if isinstance(key, Secret) else Secret(key.strip())
        chosen = mode or os.environ.get("TOKENHOT_MODE") or ("live" if secret else "offline")
        chosen = chosen.strip().lower()
        if chosen == "offline" and not mode and not os.environ.get("TOKENHOT_MODE"):
            _say_offline_once()
        # (only None means not given: base_url=[] or store=[] was read as no argument and the default taken)
        url = base_url if base_url is not None else (os.environ.get("TOKENHOT_BASE_URL") or DEFAULT_BASE_URL)
        folder = store if store is not None else (os.environ.get("TOKENHOT_STORE") or ".tokenhot")
        if store is None and not str(folder).strip():  # (it made a folder named "  ")
            from .errors import ConfigError

            raise ConfigError("TOKENHOT_STORE holds only whitespace.",
                              hint="Name the store folder in it (e.g. TOKENHOT_STORE=/data/tokenhot), or unset it for "
                                   ".tokenhot in the working folder.")
        if not isinstance(folder, (str, os.PathLike)):
            from .errors import ConfigError

            raise ConfigError(f"store must be a folder path, not {type(folder).__name__}.",
                              hint="e.g. Session(store='.tokenhot') or TOKENHOT_STORE=/path/to/folder.")
        group = os.environ.get("TOKENHOT_PRICE_GROUP", "").strip()
        if group and "price_group" not in overrides:
            overrides["price_group"] = group
        ttl = os.environ.get("TOKENHOT_CATALOG_TTL", "").strip()
        if ttl and "catalog_ttl" not in overrides:
            overrides["catalog_ttl"] = _hours(ttl)
        if chosen == "offline":
            # The simulator advances a task one step per poll: waiting 5 s per step would only slow tutorials.
            overrides.setdefault("poll_interval", OFFLINE_POLL_INTERVAL)
        return cls(api_key=secret, base_url=url, mode=chosen, store=Path(folder), **overrides)  # type: ignore[arg-type]

    def key_for_requests(self) -> str:
        """The key actually sent: the real one live, a placeholder for the simulator."""
        if self.mode == "live":
            if not self.api_key:
                from .errors import MissingKeyError

                raise MissingKeyError()
            return self.api_key.get()
        return self.api_key.get() or OFFLINE_KEY

    def public(self) -> dict[str, Any]:
        """Settings safe to show or record: the key is reduced to whether it is set."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key":
                out["api_key"] = "set" if value else "not set"
            else:
                out[f.name] = str(value) if isinstance(value, Path) else value
        return out

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.public().items())
        return f"Settings({inner})"


@functools.cache
def _numeric_fields() -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(Settings) if f.type in ("float", "int", float, int)}


def _checked_number(f: dataclasses.Field[Any], value: Any) -> float | int:
    """``value`` as the number setting ``f`` takes, else one ConfigError line (at ``Session(…)`` and when set
    later, ``session.settings.download_cap = …``, as a hint says: a "2GB" there failed inside the next paid call)."""
    import math

    from .errors import ConfigError

    whole = f.type in ("int", int)
    positive = f.name in _POSITIVE  # 0 would mean no time at all (a poll loop that never sleeps)
    number: float | None = None
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value):
        if not whole:
            number = float(value)
        elif isinstance(value, numbers.Integral) or float(value).is_integer():  # numpy ints, 1e9
            number = int(float(value)) if not isinstance(value, numbers.Integral) else operator.index(value)
    if number is None or number < 0 or (positive and number == 0) or (
            f.name in _FINITE and not math.isfinite(number)):
        finite = " (finite)" if f.name in _FINITE else ""
        raise ConfigError(f"{f.name} must be {'a whole number' if whole else 'a number'} "
                          f"{'> 0' if positive else '>= 0'}{finite}, not {redact(repr(value))[:40]}.",
                          hint=f"e.g. {f.name}={f.default!r} (the default).")
    return number


#: What each setting falls back to when left out: said when a blank one is refused.
_LEFT_OUT = {"api_key": "TOKENHOT_API_KEY, else the offline simulator (mode='offline' says so outright)",
             "base_url": f"TOKENHOT_BASE_URL, else {DEFAULT_BASE_URL}",
             "mode": "TOKENHOT_MODE, else live with a key and offline without",
             "store": "TOKENHOT_STORE, else .tokenhot"}


def _refuse_blank(**given: Any) -> None:
    """A blank argument (``store=''``, ``api_key=''`` from an empty prompt) was taken as not given and the default
    used without a word (the key's: the simulator answered instead of the service). Never quotes the value."""
    for name, value in given.items():
        if isinstance(value, str) and not value.strip():
            from .errors import ConfigError

            raise ConfigError(f"{name}= is empty{' (only whitespace)' if value else ''}.",
                              hint=f"Give one, or leave {name}= out (or pass None) for the default: "
                                   f"{_LEFT_OUT[name]}.")


def _check_names(cls: type, overrides: dict[str, Any]) -> None:
    """``Session(read_timout=5)``: name the setting meant, not "__init__() got an unexpected keyword argument"."""
    from ._suggest import did_you_mean

    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in overrides:
        if key not in names:
            from .errors import ConfigError

            raise ConfigError(f"Unknown setting {key!r}." + did_you_mean(key, names, show="{}=".format),
                              hint="The settings are: " + ", ".join(n for n in names if n != "api_key") + ".")


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        from .errors import ConfigError

        raise ConfigError(f"TOKENHOT_CATALOG_TTL={text!r} is not a number of hours.",
                          hint="Use e.g. TOKENHOT_CATALOG_TTL=24 (0 reads the model table on every session).")
    return value


def _say_offline_once() -> None:
    global _notice_shown
    if not _notice_shown:
        _notice_shown = True
        from ._warn import warn

        # (a variable set after the session is made is not read: a notebook's session takes the key from %th_config)
        warn("tokenhot_nb: no TOKENHOT_API_KEY set, using the offline simulator. To call the real API, set "
             "TOKENHOT_API_KEY before the session is made or pass api_key=…; in a notebook, run "
             "%th_config --mode live --key.")
