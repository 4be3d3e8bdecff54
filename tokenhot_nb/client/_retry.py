"""When to retry a request and how long to wait first.

Relays shed load with 429/503 and sometimes drop connections; a short exponential backoff with jitter
rides those out. Never retried blindly: a 429 that says the quota is used up (waiting will not refill it), and
a paid request (every POST: chat, images, audio, embeddings, video creates) that may already have reached the
server: a connection that broke after it was sent, a gateway that timed out while the relay worked on it, or a
gateway's error page (502, 520…) in place of the relay's own error JSON, could mean the work was done and billed,
and a retry would pay twice. A video create is never sent twice on any answer (the reference's rule, §1.4): only a
connection that failed before sending is tried again.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx

from ..errors import APIError, ModelNotServedError, QuotaExhaustedError, RateLimitError

#: Statuses worth another try (besides every 5xx).
RETRY_STATUSES = frozenset({408, 409, 429})
#: 5xx answers that never change on another try: 501 Not Implemented (new-api's ``api_not_implemented``, §1.4: a
#: route it does not offer) and 505 (an HTTP version the server does not speak). Nothing was done.
FINAL_5XX = frozenset({501, 505})
#: Gateway timeouts (nginx/Cloudflare 504, Cloudflare 524): the request reached the server behind the gateway,
#: which may still finish (and bill) it; a paid request answered so is not sent again.
GATEWAY_TIMEOUTS = frozenset({504, 524})
#: Gateway answers that say the request never reached the server behind (Cloudflare: 521 web server down, 523
#: origin unreachable, 525 TLS handshake failed, 526 invalid certificate): a paid request may be sent again.
NOT_PASSED_ON = frozenset({521, 523, 525, 526})
#: Methods whose repetition costs nothing (every other method of this API is a paid call).
FREE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Transport errors raised before the request could have been sent.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Transport errors worth retrying for an idempotent request. A read timeout is not among them: the
#: server may still be working, and the read timeout is already long.
RETRY_ERRORS: tuple[type[httpx.TransportError], ...] = (
    *NOT_SENT_ERRORS,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)

Sleep = Callable[[float], Awaitable[None]]


def parse_retry_after(headers: Mapping[str, str] | httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``Retry-After`` seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000.0
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    ra = ra.strip()
    try:
        value = float(ra)
        return value if math.isfinite(value) and value >= 0 else None  # "inf"/"nan" are no number of seconds
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class LongWait:
    """The server asked to wait longer than the client will sleep silently."""

    seconds: float

    @property
    def until(self) -> float:
        return time.time() + self.seconds

    def __str__(self) -> str:
        return f"{self.seconds:g} s"

    def annotate(self, error: APIError) -> APIError:
        """``error`` with its hint saying when to try again (and ``retry_after``/``retry_at`` set)."""
        until = self.until  # once: the hint's clock time and ``retry_at`` are the same instant
        try:
            at = "after " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(until))
        except (OverflowError, OSError, ValueError):  # past what the platform's clock can name
            at = "much later"
        error.retry_after = self.seconds
        error.retry_at = until
        error.hint = (f"The server asked to wait {self.seconds:g} s{_roughly(self.seconds)} before trying again: "
                      f"try again {at}. It was not retried automatically.")
        return error


def _roughly(seconds: float) -> str:
    """`` (about 3 h)`` for a long wait; nothing under two minutes."""
    if seconds < 120:
        return ""
    if seconds < 2 * 3600:
        return f" (about {seconds / 60:.0f} min)"
    if seconds < 2 * 86400:
        return f" (about {seconds / 3600:.0f} h)"
    if seconds < 365 * 86400:
        return f" (about {seconds / 86400:.0f} days)"
    return " (more than a year)"


def too_long_to_wait(headers: Mapping[str, str] | httpx.Headers, limit: float) -> LongWait | None:
    """A :class:`LongWait` when the answer's ``Retry-After`` asks for more than ``limit`` seconds."""
    asked = parse_retry_after(headers)
    if asked is None or asked <= limit:
        return None
    return LongWait(asked)


def relay_wrote(error: APIError) -> bool:
    """Whether an error answer is new-api's own JSON (§1.4: the OpenAI/Claude envelope, or the task envelope): the
    relay handled the request and reports it failed, so it charged nothing (it refunds what it took on failure)."""
    body = error.body
    if not isinstance(body, dict):
        return False
    return isinstance(body.get("error"), dict) or ("code" in body and "message" in body)


def may_be_done(error: APIError) -> str | None:
    """Why a paid request answered with ``error`` may have been done (and billed) by the relay behind a gateway, or
    None when asking again cannot pay twice: a gateway timeout (504, 524), or another 5xx that is not the relay's
    own error (an HTML page from Cloudflare or nginx: 502, 520…), which may have passed the request on."""
    status = error.status or 0
    if status in GATEWAY_TIMEOUTS:
        return "a gateway gave up waiting, but the server behind it may still do (and bill) the work"
    if status < 500 or status in NOT_PASSED_ON or status in FINAL_5XX or relay_wrote(error) or \
            isinstance(error, RateLimitError):
        return None
    return (f"the answer (HTTP {status}) came from a gateway in front of the relay, not from the relay itself, and "
            "the relay may have received it and done (and billed) the work")


@dataclass
class RetryBudget:
    """The retries one request has used. A download passes the same budget to each of its attempts, so failures
    before the headers and after a body break draw on one ``max_retries`` (not ``max_retries`` each: (n+1)² GETs).
    """

    used: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """Retry rules; pass ``sleep`` (and ``rand``) to make tests instant and deterministic."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0  #: a longer Retry-After is not slept: the error says when to try again
    jitter: float = 0.25  # fraction of the delay taken off at random, so parallel clients spread out
    sleep: Sleep = field(default=asyncio.sleep, compare=False)
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, retry: int) -> float:
        """Delay before retry number ``retry`` (1-based): 0.5, 1, 2, 4, 8, 8 … s, minus up to 25 % jitter."""
        delay = min(self.max_delay, self.base_delay * (2 ** max(0, retry - 1)))
        return max(0.0, delay * (1.0 - self.jitter * self.rand()))

    def delay(self, retry: int, headers: Mapping[str, str] | httpx.Headers | None = None) -> float:
        """The server's ``Retry-After`` when it gave one (capped), else the backoff."""
        if headers is not None:
            asked = parse_retry_after(headers)
            if asked is not None:
                return min(asked, self.max_retry_after)
        return self.backoff(retry)

    def retry_status(self, error: APIError, *, billed: bool = False, paid: bool = False) -> bool:
        """Whether an error answer may be retried (ignoring the attempt count). ``paid``: a paid request, not
        retried after a gateway's timeout or error page (the server behind may have done it, :func:`may_be_done`).
        ``billed``: a task create, never retried on an answer (§1.4: not even a 429 or 503; the caller is told and
        creates it again). A route the service does not offer (501) is never asked again."""
        status = error.status or 0
        if billed or isinstance(error, (QuotaExhaustedError, ModelNotServedError)):  # billed: never twice
            return False
        if isinstance(error, RateLimitError):  # limiter wording on any status: the request was turned away
            return True
        if status in FINAL_5XX or error.code == "api_not_implemented":  # the same answer every time
            return False
        if paid and may_be_done(error) is not None:
            return False
        return status in RETRY_STATUSES or status >= 500

    def retry_exception(self, exc: BaseException, *, billed: bool = False, paid: bool = False) -> bool:
        """Whether a transport error may be retried; a paid request (a billed create included) only when nothing
        was sent."""
        if billed or paid:
            return isinstance(exc, NOT_SENT_ERRORS)
        return isinstance(exc, RETRY_ERRORS)
