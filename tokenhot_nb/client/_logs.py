"""Log records of the HTTP stack hold no key.

httpcore's DEBUG trace prints every response's headers (a relay may echo the key in one) and httpx's INFO line
prints request URLs (a result link may carry it, as Gemini's ``?key=`` does). A filter on those loggers, and on
ours, redacts a record's text before any handler sees it. Filters run only for records a logger is enabled for,
so this costs nothing while logging is off.
"""

from __future__ import annotations

import logging

from .._config import might_hold_key, redact

#: The loggers of the HTTP stack (httpcore's are per module: a filter on "httpcore" would not see them).
LOGGERS = ("tokenhot_nb", "httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy",
           "httpcore.socks", "hpack.hpack")


class RedactKeys(logging.Filter):
    """Replaces a record's message by its redacted text when it may hold a key (the record is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: the handler reports that itself
            return True
        if might_hold_key(text):
            record.msg, record.args = redact(text), None
        return True


_FILTER = RedactKeys()


def install() -> None:
    """Add the filter to each logger of the stack (once; adding it again is a no-op)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
