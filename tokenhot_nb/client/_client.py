"""The HTTP client: auth, retries, typed errors, streams and downloads for every family.

The client knows nothing about models: families hand it an :class:`HttpCall` and parse what comes back.
It owns one ``httpx.AsyncClient`` per event loop, because an httpx connection pool must only be used on the
loop that created it; the sync facade always runs on the one background loop (see ``_loop.py``), so in
practice that is a single pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import threading
import time
import urllib.request
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import httpx

from .._config import SIM_BASE_URL, Settings, redact
from .._timeout import within
from ..errors import (
    APIError,
    APITimeoutError,
    DownloadError,
    InputError,
    RateLimitError,
    ReplayMissError,
    TokenhotError,
    without_key,
)
from ..families._types import HttpCall
from . import _lane, _logs, _loop
from ._body import (
    ACCEPT_ENCODING,
    BodyRefused,
    bound_body,
    media_type,
)
from ._compress import MIN_SIZE, Gzip, loopback
from ._download import (
    CHUNK_SIZE,
    EXPIRED_STATUSES,
    REFUSED_KEEP,
    Download,
    TempWriter,
    cap_error,
    check_data_url_size,
    check_media,
    check_scheme,
    decode_data_url,
    describe_url,
    expired_error,
)
from ._errors import (
    error_from_response,
    error_from_transport,
    not_http_reply,
    request_id_from_headers,
    scrub_error,
)
from ._guard import ApiPlace, check_download_host
from ._response import Response as Response
from ._retry import (
    FREE_METHODS,
    NOT_SENT_ERRORS,
    RetryBudget,
    RetryPolicy,
    may_be_done,
    too_long_to_wait,
)
from ._sse import EventStream, SSEEvent
from ._watch import BodyBroke, Deadline, Progress, TooSlow, Watched, chunks_of, read_whole

log = logging.getLogger("tokenhot_nb")
_logs.install()  # the HTTP stack's log records lose any key before a handler sees them
T = TypeVar("T")

ANTHROPIC_VERSION = "2023-06-01"

PAID_SENT: ContextVar[list[str] | None] = ContextVar("tokenhot_paid_sent", default=None)
"""Set to a list by a caller that must know whether a paid request of its work went out (what a Ctrl-C may have
left billed): ``"METHOD /path"`` is appended each time one is handed to the network, before it is written."""


class _Written(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A request body that knows whether it was handed to the connection only in part (:attr:`cut`): a paid request
    stopped while its body was still going out (a large upload) cannot have been done, nor billed, as the server
    waits for the rest of the body its Content-Length announced; a Ctrl-C then said the server "may still do and
    charge" it. A transport that reads the body its own way (in-process) leaves it not cut: it may have been sent."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.started = self.done = False

    @classmethod
    def around(cls, request: httpx.Request) -> _Written:
        request.stream = body = cls(request.stream)
        return body

    @property
    def cut(self) -> bool:
        return self.started and not self.done

    def __iter__(self) -> Iterator[bytes]:
        self.started = True
        yield from self._stream
        self.done = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.started = True
        async for part in self._stream:
            yield part
        self.done = True


#: Seconds an idle pooled connection is kept: under the 5 s after which many servers close one (uvicorn, Node,
#: Apache; httpx's own default is 5 s too). A paid request sent on a connection the server closes as it arrives
#: fails and is not sent again (it may have reached the server), so such races must stay rare.
KEEPALIVE_EXPIRY = 4.0
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY)
ERROR_BODY_CAP = 1024 * 1024
#: Longest event-stream line accepted (a frame carrying an inline image can be several MiB).
MAX_SSE_LINE = 64 * 1024 * 1024


def _amend(error: TokenhotError, sentence: str, hint: str) -> None:
    """Add ``sentence`` to ``error``'s message (after the cut of a long server text, so it always shows) and set
    its hint."""
    for name in ("message", "full_message"):
        setattr(error, name, getattr(error, name).rstrip().removesuffix(".") + ". " + sentence)
    error.args = (error.message, *error.args[1:])
    error.hint = hint


def _not_sent_again(error: TokenhotError, why: str, *, task: bool = False) -> None:
    """Say on ``error`` (a paid call that failed after it may have reached the server) that it was not sent again,
    and what to check before sending it yourself: asking again could pay twice. ``task``: a billed task create,
    whose id (all the history could hold of it) never arrived."""
    _amend(error, f"It was not sent again: {why}.",
           "A task may have been created without its id reaching you: look for it in the service's console and "
           "check your balance (session.balance()) before creating another." if task else
           "Check the history and the service's console (its usage log; your balance: session.balance()) before "
           "trying again: the call may have been done and charged.")


def _create_not_sent_again(error: APIError) -> None:
    """Say on ``error`` (an answer that would be retried for any other call) that a billed task create is never sent
    twice by the client (§1.4), and what to do: a limiter's refusal made no task; another failure may have."""
    if isinstance(error, RateLimitError) or error.status == 429:
        _amend(error, "It was not sent again: the client never sends a video create twice by itself.",
               "The service's limiter turned the create away before taking it, so no task was made: wait a moment "
               "and create it again.")
    else:
        _not_sent_again(error, "the client never sends a video create twice by itself, and the service may have "
                               "made the task", task=True)


#: A video remix (§10.7: ``POST /v1/videos/{id}/remix``) makes a new task from a finished one, billed as a create.
_REMIX = re.compile(r"/v1/videos/[^/]+/remix/?")


def _creates_task(call: HttpCall) -> bool:
    """A billed task create: the families mark theirs; a remix sent through the client by hand is one too, so it is
    never sent twice either (§1.4)."""
    return call.billed_create or (call.method.upper() == "POST" and _REMIX.fullmatch(call.path.split("?", 1)[0])
                                  is not None)


def _refuse_websocket(call: HttpCall) -> None:
    """``/v1/realtime`` (§10.7) is the Realtime API, a WebSocket: over plain HTTP the relay can only refuse it, in
    words about a missing upgrade. Said here instead, before anything is sent."""
    if call.path.split("?", 1)[0].rstrip("/") == "/v1/realtime":
        raise InputError(f"{call.method.upper()} /v1/realtime is the Realtime API, a WebSocket route: tokenhot_nb "
                         "speaks HTTP only, so it was not sent.",
                         hint="Use a WebSocket client for it, or session.chat(…, stream=True) for a streamed answer.")


def _proxy_for(url: httpx.URL) -> tuple[str, str] | None:
    """The proxy from the environment a request to ``url`` goes through, as ``(address, variable)`` (the address
    without any user or password in it); None when there is none or NO_PROXY names the host. Read from the
    environment only (no system settings, which may look names up)."""
    proxies = urllib.request.getproxies_environment()
    scheme = url.scheme if url.scheme in proxies else "all"
    address = proxies.get(scheme)
    # (undocumented and not in typeshed; it reads NO_PROXY much as httpx does, with no system settings)
    if not address or urllib.request.proxy_bypass_environment(url.host, proxies):  # type: ignore[attr-defined]
        return None
    try:
        parsed = httpx.URL(address if "://" in address else f"http://{address}")
        shown = f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
    except httpx.InvalidURL:
        shown = "(an address that is not a valid URL)"
    return shown, f"{scheme.upper()}_PROXY"


#: Every client in this process, so a forked child can set their pooled connections aside (see below).
_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()
#: What forked children set aside: the parent's pools, kept alive so nothing in the child closes their sockets.
_INHERITED: list[tuple[dict[Any, httpx.AsyncClient], httpx.AsyncClient | None]] = []


def _after_fork_in_child() -> None:
    for client in list(_CLIENTS):
        client._leave_to_parent()


if hasattr(os, "register_at_fork"):  # (not on Windows, which has no fork)
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _form_value(value: Any) -> str | list[str] | None:
    """Multipart text fields must be strings; families may hand numbers, booleans or lists."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [v for v in (_form_value(x) for x in value) if isinstance(v, str)]
    if isinstance(value, (dict,)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, no NaN (what httpx 0.28's ``json=`` sends; the same JSON as older httpx sends)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, that reads an answer only when it sets a cookie. httpx hands every answer to
    ``http.cookiejar`` (two adapter objects, a ``urllib.request.Request`` that parses the URL, an ``email`` message
    of the headers): ~15 µs a call, to find no ``Set-Cookie`` in almost every API answer. The jar itself reads only
    ``Set-Cookie`` and ``Set-Cookie2``: an answer with either is read exactly as before, so a cookie a relay sets
    (a load balancer's) still goes back with the next request."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class _NoNetworkTransport(httpx.AsyncBaseTransport):
    """Replay mode without a replay transport: never touch the network."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise ReplayMissError(
            f"Replay mode has no recording to answer {request.method} {request.url.path}, "
            "and it never calls the network."
        )



def _httpx_timeout(read: float, connect: float) -> httpx.Timeout:
    """httpx's form of the session's timeouts: no limit (``read_timeout=math.inf``, a setting taken for "wait as
    long as it takes") is httpx's None; a socket given ``inf`` raised OverflowError from inside a sync request."""
    return httpx.Timeout(read if math.isfinite(read) else None, connect=connect if math.isfinite(connect) else None)

class Client:
    """Talks to Tokenhot (live), the simulator (offline) or a given transport.

    ``await send(call)`` → :class:`Response`; ``await stream(call)`` → :class:`EventStream` of
    :class:`SSEEvent`; ``await download(url, dest_dir)`` → :class:`Download`. Non-2xx answers raise the
    typed errors of :mod:`tokenhot_nb.errors`. From synchronous code use ``send_sync`` / ``stream_sync`` /
    ``download_sync`` / ``close`` (or ``run_sync``), which run on the background loop.
    """

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = SIM_BASE_URL if settings.mode == "offline" else settings.base_url
        self.retry = retry or RetryPolicy(max_retries=settings.max_retries)
        if transport is None and settings.mode == "offline":
            from ..sim import SimTransport

            transport = SimTransport()
        elif transport is None and settings.mode == "replay":
            transport = _NoNetworkTransport()
        self._transport = transport
        self._timeout_for = (settings.read_timeout, settings.connect_timeout)
        self._timeout = _httpx_timeout(*self._timeout_for)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._urls: dict[str, httpx.URL] = {}
        # httpx mounts a proxy named in the environment with its own async transport: such a client keeps the
        # background loop (a lane call would carry that transport's connections from one thread's loop to another)
        self._proxied = bool(urllib.request.getproxies())
        self._blocking: httpx.AsyncClient | None = None  # the lane's, shared by every calling thread
        self._blocking_lock = threading.Lock()
        self._closed = False
        _CLIENTS.add(self)
        self.gzip = Gzip()
        choice = settings.compress_requests
        #: whether large JSON bodies may go compressed (see ``_compress.py``)
        self._compressing = choice == "always" or (
            choice == "auto" and transport is None and not loopback(httpx.URL(self.base_url).host))

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, mode={self.settings.mode!r})"

    def _leave_to_parent(self) -> None:
        """In a forked child: set aside the connections the parent's pools hold (their sockets are the parent's
        too), so this process opens its own. They are kept referenced, never closed here: closing one from the
        child could end the parent's exchange on it."""
        _INHERITED.append((dict(self._clients), self._blocking))
        self._clients = weakref.WeakKeyDictionary()
        self._blocking = None
        self._blocking_lock = threading.Lock()  # (another thread may have held it at the fork)

    # -- plumbing ---------------------------------------------------------------------------------------
    @property
    def _secrets(self) -> tuple[Any, ...]:
        return (self.settings.api_key,)

    @property
    def blocking_ok(self) -> bool:
        """Whether a sync call made here may run in the blocking lane (``_lane.py``): on the network, not on a
        given transport (the simulator in-process, a replay, a test's), whose async code may need its own loop;
        not through a proxy from the environment; not from inside a call already in the lane (a callback's call
        hops to the background loop) nor on the background loop's own thread."""
        return _lane.AVAILABLE and self._transport is None and not self._closed and not self._proxied \
            and not _lane.active() and not _loop.in_loop_thread()

    def _http(self) -> httpx.AsyncClient:
        """The httpx client of the running loop, created on first use there; in the blocking lane, the lane's
        (callers keep streams, whose stall watchdog needs a free loop, out of the lane)."""
        if self._closed:
            raise TokenhotError("This client was closed.", hint="Create a new Session (or Client).")
        if self._transport is None and _lane.active():
            client = self._blocking_http()
        else:
            loop = asyncio.get_running_loop()
            made = self._clients.get(loop)
            if made is None or made.is_closed:
                made = self._clients[loop] = self._new_http(self._transport)
            client = made
        # a timeout changed on the session since (``session.settings.read_timeout = 600``, as a hint says) holds
        # from the next request: the httpx clients were made with the old one
        st = self.settings
        if (st.read_timeout, st.connect_timeout) != self._timeout_for:
            self._timeout_for = (st.read_timeout, st.connect_timeout)
            self._timeout = _httpx_timeout(*self._timeout_for)
        if client.timeout != self._timeout:
            client.timeout = self._timeout
        return client

    def _blocking_http(self) -> httpx.AsyncClient:
        with self._blocking_lock:
            if self._blocking is None or self._blocking.is_closed:
                self._blocking = self._new_http(_lane.BlockingTransport(limits=LIMITS))
            return self._blocking

    def _new_http(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=self._timeout,
            follow_redirects=False,
            headers={"User-Agent": "tokenhot-nb", "Accept-Encoding": ACCEPT_ENCODING},
            event_hooks={"request": [self._guard_request], "response": [self._guard_redirect]},
            limits=LIMITS,  # (for the transports httpx makes: the network's, a proxy's)
        )
        if type(getattr(client, "_cookies", None)) is httpx.Cookies:  # (the jar httpx reads every answer into)
            client._cookies = _Cookies()
        return client

    def _error_body_time(self) -> float:
        """Seconds an error answer's body may take: its start is what matters, so at most one read timeout."""
        deadline = self.settings.stream_deadline
        read = self.settings.read_timeout
        return min(deadline, read) if deadline > 0 else read

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.key_for_requests()}"}

    async def _guard_request(self, request: httpx.Request) -> None:
        """Every request a download makes (redirects included) must not go to a link-local/metadata address.

        The mark is ``"input"`` for the user's own link (it may be on their machine or network) or, for a result
        link (there only if the API is), the download's :class:`ApiPlace`, shared by its hops and retries."""
        mark = request.extensions.get("tokenhot_download")
        if mark:
            api = None if mark == "input" else mark if isinstance(mark, ApiPlace) else httpx.URL(self.base_url)
            await check_download_host(request.url, resolve=self._transport is None, api=api)

    async def _guard_redirect(self, response: httpx.Response) -> None:
        """A download's redirect must lead to an http(s) address: said here, where the redirect is known, instead
        of as "the URL is not valid" about the link given, or as a broken connection (retried)."""
        request = response.request
        if not request.extensions.get("tokenhot_download") or not response.has_redirect_location:
            return
        location = response.headers["location"].strip()
        try:
            target = request.url.join(location)
            usable = target.scheme in ("http", "https") and bool(target.host)
        except httpx.InvalidURL:
            usable = False
        if not usable:
            raise DownloadError(
                redact(f"{describe_url(str(request.url))} redirected to an address that cannot be downloaded "
                       f"({describe_url(location)!r}); nothing was stored.", *self._secrets),
                hint="Result links must lead to an http(s) file; fetch a fresh result and try again.",
            )

    def _build_request(self, call: HttpCall, *, stream: bool = False) -> httpx.Request:
        headers: dict[str, str] = {}
        if call.path.startswith("/v1/messages"):
            headers["anthropic-version"] = ANTHROPIC_VERSION
        if stream:
            headers["Accept"] = "text/event-stream"
            headers["Cache-Control"] = "no-store"
        headers.update(call.headers)
        if call.auth:
            headers.update(self._auth_headers())
        kwargs: dict[str, Any] = {}
        if call.files:
            kwargs["files"] = [(f.field, (f.filename, f.data, f.content_type)) for f in call.files]
            kwargs["data"] = {
                k: v for k, v in ((k, _form_value(v)) for k, v in (call.data or {}).items()) if v is not None
            }
        elif call.encoded is not None or call.json is not None:
            content = call.encoded  # a body the family encoded ahead (a thread's cached prefix spliced in)
            compress = self._compressing and self.gzip.usable
            if content is None and compress:
                with contextlib.suppress(TypeError, ValueError):  # not JSON: httpx says what is wrong below
                    content = _json_bytes(call.json)
            if content is None:
                kwargs["json"] = call.json
            else:
                if compress and len(content) >= MIN_SIZE:
                    packed = self.gzip.compress(content, call.stable)  # (stable is 0 unless encoded was given)
                    if packed is not None:
                        content = packed
                        headers["Content-Encoding"] = "gzip"
                kwargs["content"] = content
                if not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = "application/json"
        elif call.data:
            kwargs["data"] = {
                k: v for k, v in ((k, _form_value(v)) for k, v in call.data.items()) if v is not None
            }
        try:
            return self._http().build_request(
                call.method.upper(), self._url(call.path), params=call.params or None, headers=headers, **kwargs
            )
        except httpx.InvalidURL as exc:  # e.g. a relay's task id of 70,000 characters: past httpx's URL limit
            path = redact(call.path, *self._secrets)  # (before the cut: a key across it would show its start)
            shown = path if len(path) <= 60 else path[:60] + "…"
            error = InputError(
                redact(f"Cannot send {call.method.upper()} {shown} ({len(call.path)} characters): the URL is not "
                       f"valid ({exc}).", *self._secrets),
                hint="Check the id or path in it: one that came from the server's answer may be garbled.",
            )
        raise error  # outside the handler: no chained httpx request (it would hold the headers)

    def _url(self, path: str) -> httpx.URL:
        """``path`` on the base URL, as httpx merges it, kept: httpx parses a URL in pure Python (~40 µs a call
        for the merge), and a session sends the same few paths again and again."""
        url = self._urls.get(path)
        if url is None:
            url = self._http().build_request("GET", path).url
            if len(self._urls) >= 256:  # (task ids make paths of their own: keep it small)
                self._urls.clear()
            self._urls[path] = url
        return url

    async def _open(
        self,
        make_request: Callable[[], httpx.Request],
        *,
        billed: bool,
        cap: int,
        max_line: int | None = None,
        follow_redirects: bool = False,
        watch: Callable[[], Callable[[int], None]] | None = None,
        budget: RetryBudget | None = None,
    ) -> tuple[httpx.Response, float]:
        """Send with retries until a 2xx answer (returned unread, its body bounded by ``cap``) or a final error.

        Only the part before the answer's status line is ever retried here: once a 2xx answer has started, the
        server has taken (and may have billed) the request, so a body that breaks is the caller's error to
        report, not a reason to ask again. ``watch`` makes the time rule (:class:`Deadline`, :class:`Progress`)
        the 2xx body is read under; an error body gets at most one read timeout in all. ``budget``: the retries
        already used by the request this attempt is part of (a download's earlier attempts); a fresh one if None.
        """
        spent = RetryBudget() if budget is None else budget
        probe = False  # this is the plain resend of a compressed body the host refused
        reached = False  # an attempt may have reached the server (it answered, or broke after connecting)
        try:
            while True:
                request = make_request()
                compressed = request.headers.get("content-encoding") == "gzip"
                where = f"{request.method} {request.url.path}"
                paid = billed or request.method not in FREE_METHODS
                started = time.monotonic()
                sent = PAID_SENT.get() if paid else None
                upload = _Written.around(request) if sent is not None else None
                if sent is not None:
                    sent.append(where)
                try:
                    try:
                        response = await self._http().send(request, stream=True, follow_redirects=follow_redirects)
                    except (KeyboardInterrupt, asyncio.CancelledError):
                        if sent is not None and upload is not None and upload.cut:  # stopped mid-upload: the server
                            sent.remove(where)  # waits for the rest of the body it was announced, so did nothing
                        raise
                except httpx.RequestError as exc:
                    scrub_error(exc)
                    elapsed = time.monotonic() - started
                    reached = reached or not isinstance(exc, (*NOT_SENT_ERRORS, httpx.ProxyError))
                    if spent.used < self.retry.max_retries and self.retry.retry_exception(exc, paid=paid):
                        spent.used += 1
                        delay = self.retry.backoff(spent.used)
                        log.debug(
                            "%s failed after %.2fs (%s); retry %d in %.2fs",
                            where, elapsed, type(exc).__name__, spent.used, delay,
                        )
                        await self.retry.sleep(delay)
                        continue
                    log.debug("%s failed after %.2fs (%s)", where, elapsed, type(exc).__name__)
                    failed = error_from_transport(exc, secrets=self._secrets)
                    proxy = _proxy_for(request.url) if self._proxied else None
                    if proxy is not None and isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout,
                                                              httpx.ProxyError)):
                        _amend(failed, f"It went through the proxy {proxy[0]} (from {proxy[1]}).",
                               f"Check that proxy (the {proxy[1]} environment variable), or name the host in "
                               "NO_PROXY to reach it directly.")
                    if paid and (not reached or not_http_reply(exc) is not None):  # no attempt got through, or
                        failed.sent = False  # what answered is no web server (nor the relay): nothing was billed
                    if paid and failed.sent is not False and not isinstance(exc, (*NOT_SENT_ERRORS,
                                                                                  httpx.ProxyError)):  # (a refused tunnel)
                        _not_sent_again(failed, "the server may have received it and done (and billed) the work",
                                        task=billed)
                        if isinstance(exc, httpx.ReadTimeout):  # (an image can take minutes on a busy relay)
                            failed.hint = f"{failed.hint} If answers this slow are expected, raise read_timeout " \
                                          f"(Session(read_timeout=…), now {self.settings.read_timeout:g} s)."
                    raise failed from exc
                status = response.status_code
                reached = True
                if 200 <= status < 300:
                    if compressed or probe:
                        self.gzip.served(compressed)
                        probe = False
                    if watch is not None:
                        response.stream = Watched(response.stream, watch())  # type: ignore[arg-type]
                    try:
                        bound_body(response, cap, max_line=max_line)
                    except BodyRefused as exc:
                        await response.aclose()
                        raise APIError(f"The answer to {where} {exc.reason}; it was not read.", status=status,
                                       request_id=request_id_from_headers(response.headers)) from None
                    return response, started
                response.stream = Watched(response.stream, Deadline(self._error_body_time()))  # type: ignore[arg-type]
                try:
                    bound_body(response, min(cap, ERROR_BODY_CAP))
                    body = await read_whole(response)
                except TooSlow as exc:
                    body = exc.partial  # an error page that drips: its start says enough
                except (httpx.HTTPError, BodyRefused) as exc:
                    scrub_error(exc)
                    body = b""
                finally:
                    await response.aclose()
                elapsed = time.monotonic() - started
                error = error_from_response(status, response.headers, body, secrets=self._secrets)
                if compressed and self.gzip.refused(status, body):
                    log.debug("%s -> %d to a gzip body in %.2fs; sending it again as it is", where, status, elapsed)
                    probe = True
                    continue
                if status == 501 or error.code == "api_not_implemented":  # the same answer every time
                    _amend(error, redact(f"The service does not offer {where}; nothing was done.", *self._secrets),
                           "It gives this answer whatever is sent, so it was not asked again: check the method "
                           "and path.")
                    raise error
                why = may_be_done(error) if paid else None
                if why is not None:
                    _not_sent_again(error, why, task=billed)
                    raise error
                wait = too_long_to_wait(response.headers, self.retry.max_retry_after)
                if wait is not None and self.retry.retry_status(error):
                    log.debug("%s -> %d in %.2fs; the server asks to wait %s", where, status, elapsed, wait)
                    raise wait.annotate(error)
                if billed and self.retry.retry_status(error):
                    _create_not_sent_again(error)
                    log.debug("%s -> %d in %.2fs; a billed create is not sent again", where, status, elapsed)
                    raise error
                if spent.used < self.retry.max_retries and self.retry.retry_status(error, billed=billed, paid=paid):
                    spent.used += 1
                    delay = self.retry.delay(spent.used, response.headers)
                    log.debug("%s -> %d in %.2fs; retry %d in %.2fs", where, status, elapsed, spent.used, delay)
                    await self.retry.sleep(delay)
                    continue
                log.debug("%s -> %d in %.2fs", where, status, elapsed)
                raise error
        finally:
            if probe:  # the plain resend failed too: the request was at fault, not the compression
                self.gzip.plain_refused()

    # -- the API ----------------------------------------------------------------------------------------
    async def send(self, call: HttpCall) -> Response:
        """Send ``call`` and read the whole answer (at most ``settings.response_cap`` bytes); non-2xx raises.

        Connection failures and error statuses are retried per the policy. A 2xx answer whose body breaks
        or runs over the cap is not: the request reached the server, which may have done (and billed) it.
        """
        cap = self.settings.response_cap
        _refuse_websocket(call)
        billed = _creates_task(call)
        response, started = await self._open(lambda: self._build_request(call), billed=billed, cap=cap,
                                             watch=lambda: Deadline(self.settings.stream_deadline))
        where = f"{call.method.upper()} {call.path}"
        paid = billed or call.method.upper() not in FREE_METHODS
        parts: list[bytes] = []  # what arrived: a paid answer cut short keeps it (the error's partial_body)
        try:
            content = await read_whole(response, parts)
        except TooSlow as exc:
            raise APITimeoutError(
                f"The answer to {where} was still arriving after {exc.seconds:g} s, its time limit "
                f"({exc.size} bytes so far). It was not sent again: the server may have done (and billed) the work.",
                hint="Check the history before trying again; raise stream_deadline (Session(stream_deadline=…)) "
                "if answers this slow are expected.",
                partial_body=exc.partial if paid else None,
            ) from None
        except BodyRefused as exc:
            raise APIError(
                f"The answer to {where} {exc.reason}; it was refused.",
                status=response.status_code,
                request_id=request_id_from_headers(response.headers),
                hint="If you expect an answer this large, raise the limit: session.settings.response_cap = <bytes>."
                if "limit" in exc.reason else "Check the base URL: this does not look like the Tokenhot API.",
            ) from None
        except httpx.RequestError as exc:
            scrub_error(exc)
            cause = error_from_transport(exc, secrets=self._secrets)
            raise type(cause)(  # what it means first: the cause's text may be cut
                f"The answer to {where} broke after it had started; it was not sent again: the server may have "
                f"done (and billed) the work. {cause.message}",
                hint="Check the history before trying again." + (
                    " The part of the answer that arrived is kept (err.partial_body; a session keeps it in the "
                    "call's history row)." if paid and any(parts) else ""),
                partial_body=b"".join(parts) if paid else None,  # (a length that was not reached: the bytes so far)
            ) from exc
        finally:
            await response.aclose()
        log.debug("%s -> %d in %.2fs", where, response.status_code, time.monotonic() - started)
        headers = {k.lower(): v for k, v in response.headers.items()}
        return Response(
            status=response.status_code,
            headers=headers,
            content=content,
            request_id=request_id_from_headers(headers),
            elapsed=time.monotonic() - started,
            url=str(response.url.copy_with(query=None) if response.url.query else response.url),
            paid=paid,
        )

    def stream(self, call: HttpCall) -> EventStream:
        """The events of a streamed call (``call.stream`` names the format; "chat" when unset).

        Use ``await client.stream(call)`` to connect first (errors raise there) and then iterate, or
        iterate directly. Connection setup is retried like ``send``; once events flow, a break, stall or
        error frame raises :class:`StreamError`.
        """

        _refuse_websocket(call)

        async def connect() -> httpx.Response:
            response, started = await self._open(
                lambda: self._build_request(call, stream=True), billed=_creates_task(call),
                cap=self.settings.response_cap, max_line=min(self.settings.response_cap, MAX_SSE_LINE),
            )
            log.debug(
                "%s %s -> %d (stream opened in %.2fs)",
                call.method.upper(), call.path, response.status_code, time.monotonic() - started,
            )
            return response

        return EventStream(
            connect,
            fmt=call.stream,
            idle_timeout=self.settings.stream_idle_timeout,
            deadline=self.settings.stream_deadline,
            secrets=self._secrets,
            description=f"{call.method.upper()} {call.path}",
        )

    def events_of(self, response: Response, fmt: str | None) -> EventStream:
        """The events of an event stream that was read whole (a relay streamed an answer asked for whole), read
        with the same framing, error frames and end-marker checks as a live stream."""

        async def connect() -> httpx.Response:  # (no content-encoding: the body was decoded already)
            return httpx.Response(response.status, headers={"content-type": "text/event-stream"},
                                  content=response.content)

        return EventStream(connect, fmt=fmt, idle_timeout=self.settings.stream_idle_timeout,
                           deadline=self.settings.stream_deadline, secrets=self._secrets,
                           description="an event stream read whole")

    async def download(
        self, url: str, dest_dir: Path | str, *, max_bytes: int | None = None, suffix: str = "",
        expect: str | None = None, input: bool = False,
    ) -> Download:
        """Stream ``url`` to ``dest_dir/<sha256><suffix>``; see :mod:`._download`.

        ``expect`` ("image", "video", "audio"): the first bytes must be that kind of media; an HTML error page
        or a JSON body served with a 200 is refused, not stored under a media suffix. The key is sent only
        to the API host itself; link-local and metadata addresses are refused, redirects included, and so is
        this machine or a private network unless the API is there too or ``input`` (the user's own link).
        """
        dest = Path(dest_dir)
        cap = self.settings.download_cap if max_bytes is None else max_bytes
        scheme = check_scheme(url)
        if scheme == "data":
            check_data_url_size(url, cap)
            data, mime = decode_data_url(url)
            if len(data) > cap:
                raise cap_error(url, cap)
            check_media(data[:64], mime, expect, url)
            inline = TempWriter(dest, url, cap)
            try:
                for i in range(0, len(data), CHUNK_SIZE):
                    inline.write(data[i : i + CHUNK_SIZE])
                return inline.finish(suffix, mime)
            except BaseException:
                inline.discard()
                raise

        mark = "input" if input else ApiPlace(httpx.URL(self.base_url), resolve=self._transport is None)
        budget = RetryBudget()  # one for the whole download: retries before the headers and after a break alike
        broken = 0  # attempts whose body broke after its headers
        while True:
            try:
                return await self._download_once(url, dest, mark, cap=cap, suffix=suffix, expect=expect,
                                                 budget=budget)
            except BodyBroke as broke:
                failed = broke
                broken += 1
            except DownloadError as exc:
                if budget.used:  # the earlier attempts failed too (each retried as the policy allows)
                    _amend(exc, f"All {budget.used + 1} attempts failed.", exc.hint or "")
                raise
            # a GET costs nothing: a body cut after its headers is fetched again (the paid call that gave the link
            # is never repeated); what arrived of it was deleted, so a partial file is never kept or taken as whole
            if budget.used >= self.retry.max_retries or not self.retry.retry_exception(failed.cause):
                break
            budget.used += 1
            delay = self.retry.backoff(budget.used)
            log.debug("GET %s broke after %d bytes (%s); retry %d in %.2fs", describe_url(url), failed.size,
                      type(failed.cause).__name__, budget.used, delay)
            await self.retry.sleep(delay)
        error = failed.error
        if budget.used:
            attempts = budget.used + 1
            _amend(error, f"It broke on all {attempts} attempts." if broken == attempts
                   else f"All {attempts} attempts failed.", error.hint or "")
        raise error from failed.cause  # (scrubbed: its request holds no key, header or query)

    async def _download_once(self, url: str, dest: Path, mark: str | ApiPlace, *, cap: int, suffix: str,
                             expect: str | None, budget: RetryBudget) -> Download:
        """One attempt of :meth:`download` over the network; a body that breaks after its headers raises
        :class:`BodyBroke` (its temp file deleted) for the caller to decide whether to try again. Retries before
        the headers draw on ``budget``, the download's one retry budget."""

        def make_request() -> httpx.Request:
            http = self._http()
            request = http.build_request("GET", url, extensions={"tokenhot_download": mark})
            if self._same_host(request.url):
                request.headers.update(self._auth_headers())
            return request

        failure: TokenhotError | None = None
        try:
            response, started = await self._open(
                make_request, billed=False, cap=cap, follow_redirects=True,
                watch=lambda: Progress(self.settings.download_min_rate, self.settings.stream_idle_timeout),
                budget=budget,
            )
        except APIError as exc:
            if exc.status in EXPIRED_STATUSES:
                failure = expired_error(url, exc.status or 0)
            elif "not read" in exc.message and "than the limit" in exc.message:  # (a body read ahead, too large)
                failure = cap_error(url, cap)
            elif "not read" in exc.message:  # refused before reading (an encoding not asked for)
                failure = DownloadError(f"Could not download {describe_url(url)}: {exc.message}")
            else:  # (a redirect's hint is about API calls, which never follow one: not this download's)
                hint = None if 300 <= (exc.status or 0) < 400 else exc.hint
                failure = DownloadError(f"Could not download {describe_url(url)}: {exc.message}", hint=hint)
        except httpx.InvalidURL as exc:
            failure = DownloadError(f"Cannot download {describe_url(url)!r}: the URL is not valid ({exc}).")
        except DownloadError:
            raise
        except TokenhotError as exc:
            failure = DownloadError(f"Could not download {describe_url(url)}: {exc.message}", hint=exc.hint)
        if failure is not None:
            raise failure  # outside the except block: no chained httpx request (it held the headers)
        writer: TempWriter | None = None
        try:
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > cap:
                raise cap_error(url, cap)
            content_type = media_type(response.headers.get("content-type"))
            writer = TempWriter(dest, url, cap)
            checked = expect is None
            head = b""
            refused: DownloadError | None = None  # not the media asked for: what it sent is read on, to keep
            kept = bytearray()
            try:
                try:
                    async with chunks_of(response) as chunks:  # as it arrives (a chunker would hide a drip)
                        async for chunk in chunks:
                            if refused is not None:
                                kept += chunk[:REFUSED_KEEP - len(kept)]
                                if len(kept) >= REFUSED_KEEP:
                                    break
                                continue
                            if len(head) < 64:  # (the start: what the media is, where its container says it ends)
                                head += chunk[:64]
                                if not checked and len(head) >= 64:
                                    checked = True
                                    try:
                                        check_media(head, content_type, expect, url)
                                    except DownloadError as exc:
                                        refused = exc  # (what came before this chunk is in head: under 64 bytes)
                                        kept += (head[:writer.size] + chunk)[:REFUSED_KEEP]
                                        continue
                            writer.write(chunk)
                except (TooSlow, BodyRefused, httpx.RequestError) as exc:
                    if refused is None:
                        raise
                    if isinstance(exc, httpx.RequestError):
                        scrub_error(exc)  # (the refusal is what matters: what arrived of the rest is kept)
                if refused is not None:
                    refused.refused_body = without_key(bytes(kept))
                    raise refused
            except TooSlow as exc:
                raise DownloadError(
                    f"The download of {describe_url(url)} stalled: {exc.got} bytes in the last {exc.seconds:.0f} s "
                    f"(the floor is {self.settings.download_min_rate:g} bytes/s); it was stopped after "
                    f"{writer.size} bytes.",
                    hint="Try again later (the file was not saved); on a very slow link lower download_min_rate "
                    "(Session(download_min_rate=…), 0 for no floor).",
                ) from None
            except BodyRefused as exc:
                if "limit" in exc.reason:
                    raise cap_error(url, cap) from None
                raise DownloadError(f"The download of {describe_url(url)} {exc.reason}; it was stopped.") from None
            except httpx.RequestError as exc:
                scrub_error(exc)
                cause = error_from_transport(exc, secrets=self._secrets)
                raise BodyBroke(exc, writer.size, DownloadError(
                    f"The download of {describe_url(url)} broke after {writer.size} bytes: {cause.message}",
                    hint="Try again; the file was not saved.",
                )) from None
            if not checked:  # (a body under 64 bytes: all of it is in head)
                try:
                    check_media(head, content_type, expect, url)
                except DownloadError as exc:
                    exc.refused_body = without_key(head) if head else None
                    raise
            if response.http_version.startswith("HTTP/1") and "content-length" not in response.headers and \
                    "chunked" not in response.headers.get("transfer-encoding", "").lower():
                cut = writer.cut_short(head)  # its end was only the server closing: a drop looks the same
                if cut is not None:
                    raise BodyBroke(httpx.RemoteProtocolError(f"the body ended early ({cut})"), writer.size,
                                     DownloadError(f"The download of {describe_url(url)} ended early: the server "
                                                   f"closed the connection after {writer.size} bytes, {cut}.",
                                                   hint="Try again; the file was not saved."))
            elif expect == "video":  # the whole file as the server framed it, cut at its source: it would not play
                cut = writer.cut_short(head)
                if cut is not None:
                    raise DownloadError(f"The file at {describe_url(url)} is a video cut short ({cut}); nothing "
                                        "was stored.", hint="The file host holds an incomplete copy; try again later.")
            result = writer.finish(suffix, content_type)
            writer = None
            log.debug(
                "GET %s -> %d, %d bytes in %.2fs",
                describe_url(url), response.status_code, result.size, time.monotonic() - started,
            )
            return result
        finally:
            if writer is not None:
                writer.discard()
            await response.aclose()

    def _same_host(self, url: httpx.URL) -> bool:
        """Only the API host gets the key; a vendor CDN never does."""
        base = httpx.URL(self.base_url)
        return url.scheme == base.scheme and url.host == base.host and url.port == base.port

    async def aclose(self) -> None:
        """Close every connection pool (those of other live loops are closed on their own loop)."""
        self._closed = True
        blocking, self._blocking = self._blocking, None
        if blocking is not None:
            await blocking.aclose()  # (sync: closes the idle sockets of the lane's pool)
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        clients = list(self._clients.items())
        self._clients.clear()
        for loop, client in clients:
            if loop is current:
                await client.aclose()
            elif loop.is_running() and not loop.is_closed():
                future = asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                try:
                    await within(asyncio.wrap_future(future), 5)
                except Exception:
                    pass

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- sync facade ------------------------------------------------------------------------------------
    def send_sync(self, call: HttpCall, timeout: float | None = None) -> Response:
        """``send`` from sync code: on this thread (the blocking lane) when on the network with no ``timeout``
        (the transport's own timeouts apply), else on the background loop."""
        if timeout is None and self.blocking_ok:
            return _lane.run(self.send(call))
        return _loop.run_sync(self.send(call), timeout)

    def stream_sync(self, call: HttpCall, timeout: float | None = None) -> Iterator[SSEEvent]:
        """Iterate the events from sync code; connects (and raises setup errors) on the first step."""
        return _loop.iterate_sync(self.stream(call), timeout)

    def download_sync(
        self, url: str, dest_dir: Path | str, *, max_bytes: int | None = None, suffix: str = ""
    ) -> Download:
        return _loop.run_sync(self.download(url, dest_dir, max_bytes=max_bytes, suffix=suffix))

    def close(self) -> None:
        if _loop.in_loop_thread():
            raise RuntimeError("Use `await client.aclose()` on the event-loop thread.")
        _loop.run_sync(self.aclose())

    def run(self, aw: Awaitable[T], timeout: float | None = None) -> T:
        """Run any coroutine of this client from sync code (on the background loop)."""
        return _loop.run_sync(aw, timeout)
