"""One short message and the fix for a failed call, instead of a traceback.

The full exception stays inspectable as ``tokenhot_nb.magics.last_error`` (and, for calls the
session made, in the history entry); ``%th_config --last-error`` prints it in full.
"""

from __future__ import annotations

import traceback
from typing import Any

from .._safe import text_html as escape

DETAILS = "Details: tokenhot_nb.magics.last_error or %th_config --last-error."
INTERRUPTED = "Interrupted."
#: Title per error class name, most specific first (looked up along the MRO).
TITLES: dict[str, str] = {
    "MissingKeyError": "No API key",
    "AuthenticationError": "The API key was refused",
    "PermissionDeniedError": "Not allowed for this key",
    "UnknownModelError": "Unknown model",
    "UnsupportedOptionError": "Option not supported by this model",
    "InputError": "Bad input",
    "ConfigError": "Configuration problem",
    "QuotaExhaustedError": "Quota used up",
    "RateLimitError": "Rate limited",
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
}
#: Fixes for errors that carry no hint of their own.
FALLBACK_FIX = "Check the options and try again."

_STYLE = (
    "border-left:4px solid #d9534f;background:rgba(217,83,79,.08);padding:6px 10px;"
    "margin:2px 0;font-family:var(--jp-ui-font-family,sans-serif);font-size:13px"
)


def title_for(err: BaseException) -> str:
    for cls in type(err).__mro__:
        if cls.__name__ in TITLES:
            return TITLES[cls.__name__]
    return type(err).__name__


def parts(err: BaseException) -> tuple[str, str, str]:
    """(title, message, fix) for ``err``, all already redacted by the error itself."""
    message = getattr(err, "message", None) or str(err)
    if getattr(err, "status", None) and not message.startswith("["):
        message = f"[{err.status}] {message}"  # type: ignore[attr-defined]
    request_id = getattr(err, "request_id", None)
    if request_id:
        message += f" (request id: {request_id})"
    fix = getattr(err, "hint", "") or FALLBACK_FIX
    return title_for(err), message, fix


class ErrorView:
    """The rendered error: HTML box plus a plain-text fallback (terminal, logs, nbconvert)."""

    def __init__(self, err: BaseException, *, extra: str = "") -> None:
        self.error = err
        self.title, self.message, self.fix = parts(err)
        self.extra = extra

    def text(self) -> str:
        lines = [f"✖ {self.title}: {self.message}", f"  Fix: {self.fix}"]
        if self.extra:
            lines.append(f"  {self.extra}")
        lines.append(f"  {DETAILS}")
        return "\n".join(lines)

    def html(self) -> str:
        extra = f"<div>{escape(self.extra)}</div>" if self.extra else ""
        return (
            f'<div class="tokenhot-error" style="{_STYLE}"><b>✖ {escape(self.title)}</b>: '
            f"{escape(self.message)}<div><b>Fix:</b> {escape(self.fix)}</div>{extra}"
            f'<div style="opacity:.7"><small>{escape(DETAILS)}</small></div></div>'
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, str], dict[str, Any]]:
        meta = {"tokenhot": {"error": type(self.error).__name__}}
        return {"text/plain": self.text(), "text/html": self.html()}, meta

    def __repr__(self) -> str:
        return self.text()


def full_report(err: BaseException | None) -> str:
    """The whole exception with its traceback, for ``%th_config --last-error``."""
    if err is None:
        return "No error so far in this kernel."
    return "".join(traceback.format_exception(type(err), err, err.__traceback__))
