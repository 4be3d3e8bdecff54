"""One short message and the fix for a failed call, instead of a traceback.

The full exception stays inspectable as ``tokenhot_nb.magics.last_error`` (and, for calls the
session made, in the history entry); ``%th_config --last-error`` prints it in full.
"""

from __future__ import annotations

from typing import Any

from .._safe import text_html as escape
from ..errors import FALLBACK_FIX, TITLES, error_parts, full_report, title_for

DETAILS = "Details: tokenhot_nb.magics.last_error or %th_config --last-error."
INTERRUPTED = "Interrupted."
_STYLE = (
    "border-left:4px solid #d9534f;background:rgba(217,83,79,.08);padding:6px 10px;"
    "margin:2px 0;font-family:var(--jp-ui-font-family,sans-serif);font-size:13px"
)


def parts(err: BaseException) -> tuple[str, str, str]:
    """(title, message, fix) for ``err``, all redacted (the error tree's own short form)."""
    return error_parts(err)


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


__all__ = ["DETAILS", "FALLBACK_FIX", "INTERRUPTED", "TITLES", "ErrorView", "full_report", "parts",
           "title_for"]
