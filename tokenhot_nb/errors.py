"""Every error tokenhot_nb raises, each with a message written for the user and a fix.

Tree::

    TokenhotError
    ├── ConfigError ── MissingKeyError
    ├── UnknownModelError (also a ValueError)
    ├── UnsupportedOptionError (also a ValueError)
    ├── InputError (also a ValueError)
    │   └── WrongTypeError (TypeError) · NoEntryError (KeyError) · OutOfRangeError (IndexError)
    ├── StoreError                    (the history store or an export cannot be read/written; names the path)
    ├── APIError                      (anything the server answered with a non-2xx status)
    │   ├── AuthenticationError       401
    │   ├── PermissionDeniedError     403
    │   ├── NotFoundError             404 ── ModelNotServedError (code model_not_found: no channel serves the model)
    │   ├── BadRequestError           400 / 413 / 422
    │   ├── RateLimitError            429 ── QuotaExhaustedError (never retried)
    │   └── ServerError               5xx
    ├── APIConnectionError ── APITimeoutError
    ├── StreamError                   (a stream broke or stalled; keeps the partial text)
    ├── TaskFailedError               (a video task ended in failure; carries the vendor's reason)
    ├── DownloadError
    ├── BudgetExceededError           (a call would cross the session's budget: nothing was sent)
    └── ReplayMissError               (replay mode found no recording of a call)

Every message is one line: a server's error text can be megabytes long, span lines, or carry terminal escapes
(``\x1b[2J`` clears a screen). ``err.message`` has control characters removed, whitespace collapsed and is cut
at about :data:`MESSAGE_LIMIT` characters (saying how many more there were); ``err.full_message`` keeps the
whole text (control characters removed, line breaks kept, the key redacted) for whoever needs it.
"""

from __future__ import annotations

import os
import re
import traceback
from types import TracebackType
from typing import Any, TypeVar

from ._config import redact, redact_cut
from ._suggest import phrase

E = TypeVar("E", bound=BaseException)

#: The last TokenhotError IPython showed (through ``_render_traceback_``) or a magic reported; full chain:
#: ``%th_config --last-error``.
last_error: BaseException | None = None

QUOTA_CODES = frozenset(
    {
        "insufficient_user_quota",
        "insufficient_quota",
        "pre_consume_token_quota_failed",
        "quota_not_enough",  # new-api's task submit (a video create): 403 in the task envelope
        "quota_exhausted",
        "billing_hard_limit_reached",
        "1008",
    }
)


#: Most characters of an error's one-line message (the whole text stays in ``err.full_message``).
MESSAGE_LIMIT = 300
#: Terminal escape sequences: CSI (``ESC [ … final``), OSC (``ESC ] … BEL/ST``) and two-character ones.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?")
#: C0/C1 controls but tab and line feed, DEL, and the bidi controls that reorder what is read.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile("\r\n?|[\u2028\u2029\x85]")


def clean_text(text: str) -> str:
    """``text`` without terminal escapes or control characters (line breaks and tabs kept): shown in a cell,
    a terminal or a log, server text cannot clear the screen, recolour the output or reorder what is read."""
    return _CONTROLS.sub("", _ESCAPES.sub("", _BREAKS.sub("\n", text)))


def one_line(text: str, limit: int = MESSAGE_LIMIT, *, kept_in: str | None = ".full_message") -> str:
    """``text`` cleaned, on one line, cut after ``limit`` characters with a note of how many more there were
    (and ``kept_in``: where the whole text is)."""
    flat = " ".join(clean_text(text).split())
    if len(flat) <= limit:
        return flat
    kept = flat[:limit].rstrip()
    where = f" in {kept_in}" if kept_in else ""
    return f"{kept}… ({len(flat) - len(kept)} more characters{where})"


def _short(value: str | None, limit: int = 200) -> str | None:
    """A short server field (code, type, request id) redacted and on one line."""
    return one_line(redact(clean_text(value)), limit, kept_in=None) if isinstance(value, str) else value


#: new-api appends `` (request id: …)`` to every message it sends (fullwidth brackets too).
_REQUEST_ID_SUFFIX = re.compile(r"\s*[(（]\s*request id:\s*([^)）]+?)\s*[)）]\s*$", re.IGNORECASE)


def split_request_id(message: str) -> tuple[str, str | None]:
    """``"bad thing (request id: 2025…)"`` → ``("bad thing", "2025…")``: shown apart, after a cut message."""
    m = _REQUEST_ID_SUFFIX.search(message)
    if not m:
        return message, None
    return message[: m.start()].rstrip(), m.group(1)


#: How a sentence may end: a server's message that ends otherwise ("Overloaded") gets a full stop before our words.
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？", ".)", ".\"", ".'", ".”")


def sentence(text: str) -> str:
    """``text`` ending as a sentence does: a server's message often has no full stop ("Overloaded"), and the words
    we put after it (a hint) ran into it ("…: Overloaded The text received so far…")."""
    text = text.rstrip()
    if not text or text.endswith(_SENTENCE_END):
        return text
    return (text.rstrip(" :;,-") or text) + "."  # ("failed:" → "failed.")


def joined(message: str, hint: str, tail: str = "") -> str:
    """``message`` (then ``tail``, a request id in brackets, which stays in its sentence) and ``hint`` as
    separate sentences."""
    if not hint:
        return f"{message}{tail}".strip()
    message = message.rstrip()
    if tail:  # (the request id stays in the sentence: "Overloaded (request id: …). Hint")
        ended = sentence(message) == message
        return f"{message}{tail}{'' if ended else '.'} {hint}".strip()
    return f"{sentence(message)} {hint}".strip()


class TokenhotError(Exception):
    """Base class. ``str(err)`` is the message plus the hint, never the API key.

    ``message`` is one line (see the module notes); ``full_message`` the whole text it was made from.
    """

    default_hint = ""
    #: What a paid call made before it failed, when it made something: an image call's ``ImageResult`` of the images
    #: that arrived, a video wait's ``VideoTask`` as far as it went (resume it with ``err.partial.wait()``); nothing
    #: paid for is lost with the error.
    partial: Any = None
    #: The usage a failed call reported (``families.Usage``), when it did: a Responses ``response.failed`` (streamed
    #: or whole) may carry what it consumed, and those tokens are billed; the history row keeps it and its cost.
    usage: Any = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # cleaned, then redacted whole: cleaning joins what escapes split (a key too), a cut must not leave half one
        self.full_message = redact(clean_text(message))
        self.message = one_line(self.full_message)
        self.hint = redact(clean_text(hint if hint is not None else self.default_hint))
        super().__init__(self.message)

    def __str__(self) -> str:
        return joined(self.message, self.hint)

    def summary(self) -> str:
        """One short line for a notebook cell."""
        return str(self)

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}

    def details(self) -> Details:
        """The whole chain with every frame (what IPython's short block leaves out), key redacted."""
        return Details(full_report(self))

    def _render_traceback_(self) -> list[str]:
        """IPython calls this instead of printing the traceback: a short block, no internal frames."""
        global last_error
        last_error = self
        title, message, fix = error_parts(self)
        lines = [f"\x1b[1;31m✖ {title}\x1b[0m: {message}", f"  Fix: {fix}"]
        where = _user_frame(self.__traceback__)
        if where:
            lines.append(f"  At: {where}")
        lines.append(f"  {DETAILS_HINT}")
        return lines


DETAILS_HINT = "Details: %th_config --last-error (or sys.last_value.details()) shows the full chain."


class Details(str):
    """A report that reads as text when it is a cell's value (not a quoted one-line repr)."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def full_report(err: BaseException | None) -> str:
    """The exception with its chained causes and every frame (tokenhot_nb's own too), redacted."""
    if err is None:
        return "No error so far in this kernel."
    return redact(clean_text("".join(traceback.format_exception(type(err), err, full_traceback(err)))))


_INTERNAL_TB = "_tokenhot_internal_traceback"


def shortened(err: E) -> E:
    """``err`` with its traceback cut at the front door, to re-raise from there: the user sees their own frames
    and the call they made, not a dozen of tokenhot_nb's, the event loop's and ``concurrent.futures``'.

    The frames cut are kept on the error (its ``__cause__`` and ``__context__`` are untouched):
    :func:`full_traceback`, ``err.details()`` and ``%th_config --last-error`` show them."""
    setattr(err, _INTERNAL_TB, full_traceback(err))
    return err.with_traceback(None)


def full_traceback(err: BaseException) -> TracebackType | None:
    """``err``'s whole traceback: the frames it passed since a front door re-raised it (:func:`shortened`),
    then those the front door cut (the re-raise's own entry is the same frame as the first of those)."""
    kept: TracebackType | None = getattr(err, _INTERNAL_TB, None)
    if kept is None:
        return err.__traceback__
    outer: list[TracebackType] = []
    tb = err.__traceback__
    while tb is not None:
        outer.append(tb)
        tb = tb.tb_next
    whole = kept
    for node in reversed(outer[:-1]):
        whole = TracebackType(whole, node.tb_frame, node.tb_lasti, node.tb_lineno)
    return whole


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frame(tb: Any) -> str:
    """Where in the user's code it failed (file and line only: the line's text could hold a key).

    The innermost frame outside tokenhot_nb, the standard library and site-packages."""
    found = ""
    stdlib = os.path.dirname(os.__file__)
    for frame, lineno in traceback.walk_tb(tb):
        name = frame.f_code.co_filename
        if name.startswith((_PACKAGE_DIR, stdlib)) or "site-packages" in name:
            continue
        label = "cell" if name.startswith("<") or "ipykernel_" in name else os.path.basename(name)
        found = f"{label} line {lineno}"
    return found


#: Title per error class name, most specific first (looked up along the MRO).
TITLES: dict[str, str] = {
    "MissingKeyError": "No API key",
    "AuthenticationError": "The API key was refused",
    "PermissionDeniedError": "Not allowed for this key",
    "UnknownModelError": "Unknown model",
    "UnsupportedOptionError": "Option not supported by this model",
    "InputError": "Bad input",
    "StoreError": "History store problem",
    "ConfigError": "Configuration problem",
    "QuotaExhaustedError": "Quota used up",
    "RateLimitError": "Rate limited",
    "ModelNotServedError": "No channel serves this model",
    "NotFoundError": "Not found",
    "BadRequestError": "Request rejected",
    "ServerError": "Tokenhot server error",
    "APITimeoutError": "Timed out",
    "APIConnectionError": "Network problem",
    "StreamError": "The stream broke off",
    "TaskFailedError": "Video task failed",
    "DownloadError": "Download failed",
    "ReplayMissError": "No recording to replay",
    "APIError": "API error",
    "TokenhotError": "Tokenhot error",
    "PermissionError": "Permission denied",
    "FileNotFoundError": "File not found",
    "IsADirectoryError": "That path is a folder",
    "NotADirectoryError": "That path is not a folder",
    "OSError": "File or system problem",
}
#: Fixes for errors that carry no hint of their own.
FALLBACK_FIX = "Check the options and try again."
_BUG_FIX = ("Check the options; if they look right this may be a bug in tokenhot_nb: report it with the "
            "traceback from %th_config --last-error.")
_OS_FIX = "Check that the path exists, is the kind expected (file or folder) and that you may write there."


def title_for(err: BaseException) -> str:
    for cls in type(err).__mro__:
        if cls.__name__ in TITLES:
            return TITLES[cls.__name__]
    return type(err).__name__


def error_parts(err: BaseException) -> tuple[str, str, str]:
    """(title, message, fix) for ``err``, redacted: the short form every front end shows."""
    message = redact(clean_text(getattr(err, "message", None) or str(err) or type(err).__name__))
    if not isinstance(err, TokenhotError):  # (ours are one line already, and cut once)
        message = one_line(message, kept_in="the details")
    status = getattr(err, "status", None)
    if status and not message.startswith("["):
        message = f"[{_short(str(status), 20)}] {message}"
    request_id = getattr(err, "request_id", None)
    if request_id:  # (ours are short and redacted already; another library's is whatever a relay sent)
        message += f" (request id: {_short(str(request_id))})"
    if isinstance(err, TokenhotError):
        fallback = FALLBACK_FIX
    elif isinstance(err, OSError):
        fallback = _OS_FIX
    else:
        fallback = _BUG_FIX
    fix = redact(clean_text(getattr(err, "hint", "") or fallback))
    return title_for(err), message, fix


class ConfigError(TokenhotError):
    pass


class MissingKeyError(ConfigError):
    #: (never ``%env TOKENHOT_API_KEY=…``: it prints the key into the cell's output, and a session already made
    #: does not read the variable again)
    default_hint = (
        "Run `%th_config --key` (a hidden prompt), or `%th_config --key-from-env` with TOKENHOT_API_KEY set where "
        "Jupyter starts; pass Session(api_key=…) to a session of your own; or use mode='offline' to run on the "
        "built-in simulator."
    )

    def __init__(self, message: str = "No Tokenhot API key is set for live mode.", **kw: Any) -> None:
        super().__init__(message, **kw)


_EXAMPLE_FAMILY = {"image": "openai-image", "video": "seedance", "audio": "whisper", "chat": "openai-chat",
                   "embed": "openai-embeddings", "rerank": "jina-rerank"}


def _family_from_name(name: str, kind: str | None) -> str | None:
    from .catalog import builtin  # (the catalogue imports this module)

    return builtin().family_for(name, kind) if isinstance(name, str) else None


#: The most characters of an unknown model's name its error shows.
_NAME_SHOWN = 100


class UnknownModelError(TokenhotError, ValueError):
    """``family``: the family the hint names, when the caller's catalogue worked it out; else the built-in
    catalogue's reading of the name (its id prefix and the listed model it varies), else an example of the kind."""

    def __init__(self, name: str, suggestions: list[str], kind: str | None = None, *, where: str = "",
                 family: str | None = None) -> None:
        self.name = name
        self.suggestions = suggestions
        self.kind = kind
        what = f"{kind} model" if kind else "model"
        # (a variable passed by mistake may hold a page of text: the message stays one line, its start shown)
        long = len(name) > _NAME_SHOWN
        named = f"{name[:_NAME_SHOWN]!r}… (a name of {len(name):,} characters)" if long else repr(name)
        msg = f"Unknown {what} {named}{where}." + phrase(suggestions)  # (where: " in defaults['image']")
        family = family or _family_from_name(name, kind) or _EXAMPLE_FAMILY.get(kind or "", "openai-chat")
        hint = (  # the name alone stays unknown: the model built from its family is what a call takes
            "See session.models() or %th_models for what the service offers. To call a model it does not list, "
            f"pass the model built from its family: model=tokenhot_nb.model({'name' if long else repr(name)}, "
            f"family={family!r}) (families: tokenhot_nb.catalog.families())."
        )
        super().__init__(msg, hint=hint)


class _OptionFields(TokenhotError):
    """What an error about one option says in structured form, for each front end to phrase its own fix: the
    option as named (``option``), the value given (``value``), and the argument it was likely meant to be
    (``suggestion``). Missing fields are None."""

    def __init__(self, message: str, *, hint: str | None = None, option: str | None = None, value: Any = None,
                 suggestion: str | None = None) -> None:
        self.option = option
        self.value = value
        self.suggestion = suggestion
        super().__init__(message, hint=hint)


class UnsupportedOptionError(_OptionFields, ValueError):
    pass


class InputError(_OptionFields, ValueError):
    pass


class WrongTypeError(InputError, TypeError):
    """An argument of the wrong type: one clear line, and still the TypeError that list-like code expects."""


class NoEntryError(InputError, KeyError):
    """No entry with that key or id: one clear line, and still the KeyError that dict-like code expects."""


class OutOfRangeError(InputError, IndexError):
    """No item at that position: one clear line, and still the IndexError that ends a sequence."""


class StoreError(TokenhotError):
    """The history store (or an export of it) could not be read or written; the message names the path."""


class UnrecordedWarning(UserWarning):
    """A call's answer arrived (and was paid for) but the history store could not record it: the result is
    returned anyway and holds the only copy."""


class APIError(TokenhotError):
    """The server answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        type: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        hint: str | None = None,
    ) -> None:
        self.status = status
        # the server chose these strings: a relay may quote the key in any of them (or escapes, or a novel)
        self.code = _short(code)
        self.type = _short(type)
        self.request_id = _short(request_id)
        self.body = body
        self.retry_after: float | None = None  #: seconds the server asked to wait (when beyond the retry limit)
        self.retry_at: float | None = None  #: when that wait ends (unix time)
        super().__init__(message, hint=hint)

    def __str__(self) -> str:
        head = f"[{self.status}] " if self.status else ""
        tail = f" (request id: {self.request_id})" if self.request_id else ""
        return joined(f"{head}{self.message}", self.hint, tail)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update(status=self.status, code=self.code, type=self.type, request_id=self.request_id)
        return d


class AuthenticationError(APIError):
    default_hint = "Check TOKENHOT_API_KEY (it should start with sk-) or run `%th_config --key`."


class PermissionDeniedError(APIError):
    default_hint = "Your key is not allowed to use this model or group; check it in the Tokenhot console."


class NotFoundError(APIError):
    default_hint = "Check the model name and the base URL (TOKENHOT_BASE_URL)."


class ModelNotServedError(NotFoundError):
    """No channel of the service serves the model (new-api's ``model_not_found``: "分组 default 下模型 X 无可用渠道
    （distributor）", HTTP 503): a misspelt id, one the key's group may not use, or one whose channels are all down.

    ``model`` is the id the service named (None when its text does not say); the hint names it in English.
    """

    def __init__(self, message: str, *, hint: str | None = None, **kw: Any) -> None:
        self.model = served_model(message)
        if hint is None:
            hint = _not_served_hint(self.model)
        super().__init__(message, hint=hint, **kw)


#: How new-api (Chinese and English) and OpenAI name the model they have no channel for.
_NOT_SERVED_RE = re.compile(r"下模型\s*(\S+?)\s*无可用渠道|for model\s+[`'\"]?([^\s`'\"]+)|"
                            r"[Tt]he model\s+[`'\"]([^`'\"]+)[`'\"]\s+does not exist")


def served_model(message: str) -> str | None:
    """The model id a "no channel for this model" answer names, or None."""
    m = _NOT_SERVED_RE.search(message or "")
    name = next((g for g in m.groups() if g), None) if m else None
    return _short(name, 100) if name else None


def _not_served_hint(model: str | None) -> str:
    what = f"model {model!r}" if model else "this model"
    near = ""
    if model:
        from .catalog import suggest  # (only when such an answer arrives)

        near = phrase([s for s in suggest(model) if s != model])
    return (f"The service has no channel serving {what} for your key's group: check the id.{near} "
            "session.models() lists what it serves. If it is listed there, its channels may be down for the "
            "moment: try again later.")


class BadRequestError(APIError):
    default_hint = "Check the options you passed; `tokenhot_nb.model(name).capabilities` lists what the model takes."


class RateLimitError(APIError):
    default_hint = "Too many requests: wait a little and try again, or lower the batch concurrency."


class QuotaExhaustedError(RateLimitError):
    default_hint = "Your Tokenhot balance or quota is used up: top it up in the console. Retrying will not help."


class ServerError(APIError):
    default_hint = "The service had a problem; try again in a moment."


class APIConnectionError(TokenhotError):
    """The connection could not be made, broke, or timed out.

    ``partial_body``: what had arrived of a paid call's 2xx answer before it was cut short (its Content-Length
    not reached, its time limit passed), else None. The call may have been done and billed, so the session keeps
    these bytes in the call's history row (a ``raw`` output). Any key in them is masked, and so is a tail that may
    be the first part of one (redaction needs a whole key); the bytes are otherwise as they came.

    ``sent``: False when a paid request certainly never reached the server (no attempt could connect), so nothing
    was billed; None when it may have (or the request was free).
    """

    default_hint = "Check your network connection and TOKENHOT_BASE_URL."

    def __init__(self, message: str, *, hint: str | None = None, partial_body: bytes | None = None) -> None:
        super().__init__(message, hint=hint)
        self.partial_body: bytes | None = without_key(partial_body) if partial_body else None
        self.sent: bool | None = None


def without_key(data: bytes) -> bytes:
    """``data`` with every key masked, byte for byte otherwise (keys and all their forms are ASCII, so a Latin-1
    view, which maps each byte to one character and back, finds them in text and binary alike)."""
    return redact_cut(data.decode("latin-1")).encode("latin-1")


class APITimeoutError(APIConnectionError):
    default_hint = "The request took too long; try again, or raise the timeout (Session(read_timeout=…))."


class StreamError(TokenhotError):
    """A stream broke, stalled or carried an error; ``partial_text`` keeps what arrived."""

    default_hint = "The text received so far is kept in .partial_text."

    def __init__(self, message: str, *, partial_text: str = "", status: int | None = None,
                 code: str | None = None, hint: str | None = None, request_id: str | None = None) -> None:
        self.partial_text = partial_text
        self.status = status
        self.code = _short(code)
        self.request_id = _short(request_id)  #: from an error frame's "(request id: …)" suffix
        super().__init__(message, hint=hint)

    def __str__(self) -> str:
        return joined(self.message, self.hint, f" (request id: {self.request_id})" if self.request_id else "")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()  # (the row keeps them: a replay raises the same error again, word for word)
        d.update(status=self.status, code=self.code, request_id=self.request_id)
        return d


class SchemaMismatchError(TokenhotError, ValueError):
    """A structured answer that is not JSON or does not fit the schema. The call itself succeeded and is in the
    history: ``.result`` is its :class:`ChatResult` (``.text`` the raw answer), ``.data`` the JSON if it parsed."""

    default_hint = "The raw answer is kept in .result.text; tighten the prompt or the schema and ask again."

    def __init__(self, message: str, *, result: Any = None, data: Any = None, hint: str | None = None) -> None:
        self.result = result
        self.data = data
        super().__init__(message, hint=hint)


class TaskFailedError(TokenhotError):
    """``reason`` is the vendor's whole text (control characters removed); the message shows its start."""

    def __init__(self, task_id: str, reason: str, *, code: str | None = None, hint: str | None = None) -> None:
        self.task_id = task_id
        self.reason = redact(clean_text(reason)) if isinstance(reason, str) else reason
        self.code = _short(code)
        super().__init__(
            # redacted before the cut: cut first, a key in the id would lose its end and go unrecognised
            f"Video task {one_line(redact(clean_text(str(task_id))), 80, kept_in='.task_id')} failed: "
            f"{reason or 'no reason given'}",
            hint=hint if hint is not None else "Change the prompt or options and try again; failed tasks are not billed.",
        )


class DownloadError(TokenhotError):
    """A file of a finished call could not be fetched. ``resumable`` is the history entry whose kept links
    ``session.resume`` can fetch (no new call, no new charge), or None. ``refused_body``: for a file refused as not
    the media asked for (an error page, JSON served as the video), what it sent (its start, at most 64 KiB; any key
    masked), else None: a session keeps it in the row, for the relay's support to see."""

    resumable: int | None = None
    refused_body: bytes | None = None


class BudgetExceededError(TokenhotError):
    """A call refused before any request because it would cross the budget; carries the figures."""

    default_hint = ("Raise the budget with Session(budget=…) or `%th_config --budget AMOUNT`, or start a new "
                    "period with `%th_config --budget-reset`.")

    def __init__(self, message: str, *, estimate_usd: float | None = None, left_usd: float = 0.0,
                 budget_usd: float = 0.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.estimate_usd = estimate_usd
        self.left_usd = left_usd
        self.budget_usd = budget_usd


class ReplayMissError(TokenhotError):
    def __init__(self, message: str, *, nearest: Any = None, differences: list[str] | None = None,
                 hint: str | None = None) -> None:
        self.nearest = nearest
        self.differences = differences or []
        super().__init__(
            message,
            hint=hint or "Run this call once in live or offline mode to record it, or match the recorded parameters.",
        )


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
}


def class_for_status(status: int, code: str | None = None) -> type[APIError]:
    """Pick the error class for a status (and code: a 429 about quota is not a rate limit, a 503 about a model
    no channel serves is not a server fault)."""
    if code and str(code) in QUOTA_CODES:
        return QuotaExhaustedError
    if code == "model_not_found":
        return ModelNotServedError
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return ServerError
    return APIError
