"""Turn what the server or the network said into the typed errors of :mod:`tokenhot_nb.errors`.

Tokenhot is a relay, so one error can arrive in several shapes (see the API notes §1.4): the OpenAI envelope,
the Claude envelope, the task envelope of the video routes, the Google envelope of Gemini-style relays, or
plain text / an HTML error page from a proxy in between. Every shape ends up as the same attributes:
``status``, ``code``, ``type``, ``message`` and ``request_id``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .._config import DEFAULT_BASE_URL, Secret, redact
from ..errors import (
    QUOTA_CODES,
    APIConnectionError,
    APIError,
    APITimeoutError,
    QuotaExhaustedError,
    RateLimitError,
    StreamError,
    class_for_status,
    split_request_id,
)
from ..families import _json
from ._download import describe_url

#: Headers a relay may put the request id in (new-api uses ``X-Oneapi-Request-Id``).
REQUEST_ID_HEADERS = ("x-request-id", "x-oneapi-request-id", "x-new-api-request-id", "request-id")

_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
RAW_LIMIT = 300


@dataclass
class ErrorInfo:
    """The parts of an error body, whatever its envelope."""

    message: str = ""
    code: str | None = None
    type: str | None = None
    request_id: str | None = None
    status: int | None = None  # a status written inside the body (Google envelope, stream error frames)
    body: Any = None


def request_id_from_headers(headers: Mapping[str, str] | httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)
    return None


def _text_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _http_status(value: Any) -> int | None:
    """``value`` when it is an HTTP status (an int 100–599), else None (codes like ``"1008"`` stay codes)."""
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return None


def _plain_text(text: str) -> str:
    """Raw bodies (HTML error pages from proxies, plain text) reduced to one readable line (the error class cuts
    it to :data:`~tokenhot_nb.errors.MESSAGE_LIMIT` and keeps the whole in ``full_message``)."""
    if "<" in text and ">" in text:
        text = html.unescape(_TAG.sub(" ", text))
    return _SPACE.sub(" ", text).strip()


def info_from_data(data: Any) -> ErrorInfo | None:
    """Read any known envelope from decoded JSON; None when ``data`` does not look like an error."""
    if not isinstance(data, dict):
        return None
    err = data.get("error")
    if isinstance(err, dict):
        # OpenAI {"error":{message,type,code,param}}, Claude {"type":"error","error":{type,message}},
        # Google {"error":{"code":400,"message","status"}}.
        message = str(err.get("message") or err.get("msg") or "")
        raw_code, raw_status = err.get("code"), err.get("status")
        status = _http_status(raw_status) or _http_status(raw_code)
        google_status = raw_status if isinstance(raw_status, str) and not raw_status.isdigit() else None
        code = google_status or (None if _http_status(raw_code) else _text_or_none(raw_code))
        etype = _text_or_none(err.get("type")) or google_status
        return ErrorInfo(message=message, code=code, type=etype, status=status, body=data)
    if isinstance(err, str) and err:
        # {"error": "text"} (some proxies) possibly with a sibling code/type.
        return ErrorInfo(
            message=err,
            code=_text_or_none(data.get("code")),
            type=_text_or_none(data.get("type")),
            status=_http_status(data.get("status")),
            body=data,
        )
    if data.get("type") == "error" and ("message" in data or "code" in data):
        # Responses-API stream error event: {"type":"error","code","message","param"}.
        return ErrorInfo(
            message=str(data.get("message") or ""),
            code=_text_or_none(data.get("code")),
            type="error",
            body=data,
        )
    if "message" in data and ("code" in data or "data" in data):
        # Task envelope of the video routes: {"code":"task_not_exist","message":"…","data":null}.
        return ErrorInfo(message=str(data.get("message") or ""), code=_text_or_none(data.get("code")), body=data)
    for key in ("message", "detail", "msg"):
        if isinstance(data.get(key), str) and data[key]:
            return ErrorInfo(message=data[key], code=_text_or_none(data.get("code")), body=data)
    return None


def parse_error_body(content: bytes) -> ErrorInfo:
    """Parse an error body of any shape; never raises."""
    text = content.decode("utf-8", errors="replace")
    data: Any = None
    stripped = text.strip()
    if stripped[:1] in ("{", "[") or stripped == "null":
        try:
            data = _json.loads(stripped)
        except ValueError:
            data = None
    info = info_from_data(data) if data is not None else None
    if info is None and stripped in ("{}", "[]", "null"):  # nothing said: the caller's "no explanation" line
        info = ErrorInfo(body=data)
    if info is None:
        # (redacted before the cut: a key across it would lose its end, and its start be no key to redaction)
        info = ErrorInfo(message=_plain_text(text), body=data if data is not None else redact(text)[: 4 * RAW_LIMIT])
    message, rid = split_request_id(info.message.strip())
    info.message = message
    info.request_id = rid
    return info


def _redacted_body(body: Any, secrets: tuple[Secret | str | None, ...]) -> Any:
    """The body kept on the error for debugging, with any key-shaped text removed."""
    if isinstance(body, str):
        return redact(body, *secrets)
    if body is None:
        return None
    try:
        dumped = json.dumps(body, ensure_ascii=False)
    except (TypeError, ValueError):
        return None
    cleaned = redact(dumped, *secrets)
    return body if cleaned == dumped else json.loads(cleaned)


#: Wording of new-api's limiters (per-user model limit, global limiter, upstream throttling): a rate limit,
#: whatever the status it came with (§10.5).
RATE_LIMIT_WORDS = ("请求数限制", "访问量过大", "限流", "请求过于频繁", "too many requests")
#: Wording of an exhausted balance when the code is missing ("用户额度不足" = the user's quota is used up).
QUOTA_WORDS = ("额度不足", "余额不足", "insufficient_user_quota", "pre_consume_token_quota_failed")


def is_quota(info: ErrorInfo) -> bool:
    if any(v is not None and str(v) in QUOTA_CODES for v in (info.code, info.type)):
        return True
    return any(w in info.message for w in QUOTA_WORDS)


def is_rate_limit(info: ErrorInfo) -> bool:
    low = info.message.lower()
    return any(w in low for w in RATE_LIMIT_WORDS)


def error_from_response(
    status: int,
    headers: Mapping[str, str] | httpx.Headers,
    content: bytes,
    *,
    secrets: tuple[Secret | str | None, ...] = (),
) -> APIError:
    """The typed :class:`APIError` for a non-2xx answer."""
    if 300 <= status < 400:
        return _redirect_error(status, headers, secrets)
    info = parse_error_body(content)
    request_id = request_id_from_headers(headers) or info.request_id
    if is_quota(info):
        cls: type[APIError] = QuotaExhaustedError
    elif is_rate_limit(info):
        cls = RateLimitError
    else:
        cls = class_for_status(status, info.code)
    message = info.message
    if not message and status == 429:
        message = "The service is limiting requests (HTTP 429 with no explanation)."
    elif not message:
        reason = httpx.codes.get_reason_phrase(status)
        message = f"The server answered HTTP {status}{' ' + reason if reason else ''} with no explanation."
    return cls(
        redact(message, *secrets),
        status=status,
        code=_redacted(info.code, secrets),
        type=_redacted(info.type, secrets),
        request_id=_redacted(request_id, secrets),
        body=_redacted_body(info.body, secrets),
    )


def _redirect_error(status: int, headers: Mapping[str, str] | httpx.Headers,
                    secrets: tuple[Secret | str | None, ...]) -> APIError:
    """A 3xx to an API call: never followed (the key would go along to wherever it points), so say where it
    points and that the base URL is what to fix (``http://`` for an ``https://`` service is the usual cause)."""
    location = (headers.get("location") or "").strip()
    reason = httpx.codes.get_reason_phrase(status)
    hint = "API calls do not follow redirects, so the key is never sent elsewhere. Check the base URL " \
           "(Session(base_url=…) or TOKENHOT_BASE_URL)"
    if not location:
        message = f"The server answered HTTP {status}{' ' + reason if reason else ''} (a redirect) without saying where to."
        return APIError(message, status=status, request_id=request_id_from_headers(headers), hint=hint + ".")
    shown = redact(describe_url(location), *secrets)
    message = f"The server redirected the request (HTTP {status}{' ' + reason if reason else ''}) to {shown}."
    try:
        target = httpx.URL(location)
    except httpx.InvalidURL:
        target = None
    if target is not None and target.scheme in ("http", "https") and target.host:
        prefix = target.path.split("/v1/", 1)[0].split("/v1beta/", 1)[0].rstrip("/") if "/v1" in target.path else ""
        port = f":{target.port}" if target.port else ""
        hint += f": if the service moved, use {target.scheme}://{target.host}{port}{redact(prefix, *secrets)}"
    return APIError(message, status=status, request_id=request_id_from_headers(headers), hint=hint + ".")


def _redacted(value: str | None, secrets: tuple[Secret | str | None, ...]) -> str | None:
    """Every field that came from the server is text a relay chose: it may quote the key."""
    return None if value is None else redact(value, *secrets)


def _where(request: httpx.Request | None) -> str:
    if request is None:
        return "the server"
    url = request.url
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"


def not_http_reply(exc: BaseException) -> bytes | None:
    """What the server sent before the connection failed, when it is not HTTP (an SSH banner, a database's error
    line, binary): then something other than a web server listens at the base URL's address. None when nothing
    arrived, or what arrived starts as an HTTP answer does.

    httpx says only "Server disconnected without sending a response" (or a bare ReadError); the bytes are still in
    the HTTP/1.1 connection's parser (h11's public ``trailing_data``, and ``their_http_version``, None until an
    answer's head came), reached through the failing frames."""
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen:
        seen.append(link)
        tb = link.__traceback__
        while tb is not None:
            parser = getattr(tb.tb_frame.f_locals.get("self"), "_h11_state", None)  # (httpcore's HTTP11Connection)
            trailing = getattr(parser, "trailing_data", None)
            if isinstance(trailing, tuple) and trailing and isinstance(trailing[0], bytes):
                if getattr(parser, "their_http_version", None) is not None:  # (an answer's head came: it is HTTP)
                    return None
                bad = next((m for m in map(_BAD_STATUS.match, map(str, seen)) if m), None)
                if bad is not None:  # a whole head came, its first line no status line: h11 took it from the buffer
                    line = _bytes_shown(bad.group(1))
                    return None if line.startswith(b"HTTP/") else line  # (HTTP, if broken)
                data = trailing[0].lstrip(b"\r\n")  # (h11 skips blank lines before a status line too)
                return data if data and not data.startswith(b"HTTP/") else None
            tb = tb.tb_next
        link = link.__cause__ or link.__context__
    return None


#: OpenSSL's reasons for a handshake answered by something that is not TLS: a plain-HTTP server's "HTTP/1.0 400"
#: read as a TLS record (WRONG_VERSION_NUMBER; 3.x may say PACKET_LENGTH_TOO_LONG or RECORD_LAYER_FAILURE).
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"})


def not_tls(exc: BaseException) -> bool:
    """Whether an https connection failed because the server answered the TLS handshake with something else (a
    plain-HTTP server at an ``https://`` base URL): OpenSSL's "wrong version number" said nothing of that."""
    import ssl

    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        link = todo.pop()
        if link in seen:
            continue
        seen.append(link)
        if isinstance(link, ssl.SSLError) and getattr(link, "reason", None) in _NOT_TLS:
            return True
        todo += [a for a in (link.__cause__, link.__context__, *link.args) if isinstance(a, BaseException)]
    return False


#: h11's words for a head whose first line is no HTTP status line; the line follows, as a ``bytearray`` repr.
_BAD_STATUS = re.compile(r"illegal status line: bytearray\((b'.*'|b\".*\")\)\Z", re.S)


def _bytes_shown(literal: str) -> bytes:
    """The bytes a ``b'…'`` repr stands for (b"?" when it does not read as one: something non-HTTP came all the
    same)."""
    import ast

    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return b"?"
    return value if isinstance(value, bytes) and value else b"?"


def _first_line(data: bytes, secrets: tuple[Secret | str | None, ...]) -> str:
    """The start of a non-HTTP reply as it may be shown: its first line quoted (cut, any key masked), or its size
    when it is not text."""
    line = data.split(b"\n", 1)[0].rstrip(b"\r")
    text = line[:60].decode("ascii", "replace")
    if not text or not text.isprintable():
        return f"{len(data)} bytes that are not text"
    return repr(redact(text, *secrets)) + ("…" if len(line) > 60 else "")


#: Transport errors after which the bytes the server sent are worth a look (:func:`not_http_reply`).
_READ_FAILURES = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def error_from_transport(
    exc: httpx.RequestError, *, secrets: tuple[Secret | str | None, ...] = ()
) -> APIConnectionError:
    """A user-facing connection/timeout error (the caller chains it with ``from exc``)."""
    try:
        request: httpx.Request | None = exc.request
    except RuntimeError:
        request = None
    where = _where(request)
    detail = str(exc).strip()
    detail = f" ({type(exc).__name__}: {detail})" if detail else f" ({type(exc).__name__})"
    foreign = not_http_reply(exc) if isinstance(exc, _READ_FAILURES) else None
    if foreign is not None:
        err: APIConnectionError = APIConnectionError(
            f"The server at {where} did not answer in HTTP (it sent {_first_line(foreign, secrets)}): something "
            "other than a web server listens at that address.",
            hint="Check the base URL and its port (TOKENHOT_BASE_URL, base_url=… or %th_config --base-url); the "
                 f"service's is {DEFAULT_BASE_URL}.",
        )
    elif isinstance(exc, httpx.ConnectTimeout):
        err = APITimeoutError(
            f"Could not connect to {where} in time{detail}.",
            hint="Check your network and TOKENHOT_BASE_URL, or raise connect_timeout.",
        )
    elif isinstance(exc, httpx.PoolTimeout):
        err = APITimeoutError(
            f"Too many requests were waiting for a free connection to {where}{detail}.",
            hint="Lower the batch concurrency or try again.",
        )
    elif isinstance(exc, httpx.TimeoutException):
        err = APITimeoutError(f"{where} took too long to answer{detail}.")
    elif isinstance(exc, httpx.ConnectError) and request is not None and request.url.scheme == "https" \
            and not_tls(exc):
        err = APIConnectionError(
            f"The server at {where} does not speak TLS, so no https connection could be made.",
            hint=f"Use http://{where.partition('://')[2]} if it is a plain-HTTP server (base_url=…, "
                 f"TOKENHOT_BASE_URL or %th_config --base-url); the service's is {DEFAULT_BASE_URL}.")
    elif isinstance(exc, httpx.ConnectError):
        err = APIConnectionError(f"Could not connect to {where}{detail}.")
    elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        err = APIConnectionError(f"The connection to {where} broke{detail}.")
    elif isinstance(exc, httpx.TooManyRedirects):
        err = APIConnectionError(f"{where} redirected too many times{detail}.")
    elif isinstance(exc, httpx.UnsupportedProtocol):
        err = APIConnectionError(f"Cannot send a request to {where}{detail}.", hint="Check the URL (http or https).")
    else:
        err = APIConnectionError(f"The request to {where} failed{detail}.")
    err.message = redact(err.message, *secrets)
    return err


def stream_error_from_data(
    data: Any, *, event: str = "message", secrets: tuple[Secret | str | None, ...] = ()
) -> StreamError:
    """A :class:`StreamError` for an error frame that arrived inside a stream."""
    info = info_from_data(data)
    if info is None:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        info = ErrorInfo(message=_plain_text(text or ""))
    message, rid = split_request_id(info.message.strip())
    what = message or f"an {event!r} event without a message"
    code = info.code or (info.type if info.type not in (None, "error") else None)
    return StreamError(
        redact(f"The stream was interrupted by an error from the server: {what}", *secrets),
        status=info.status,
        code=_redacted(code, secrets),
        request_id=_redacted(rid, secrets),  # shown after the (cut) message, like an APIError's
    )


#: Request headers that carry a credential; scrubbed from every request object once it is sent.
SECRET_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")


def scrub_error(exc: BaseException) -> None:
    """Give an httpx error a copy of its request without credential headers, and with any key in its URL masked.

    httpx errors keep their request, headers and URL included, and they end up chained (``__cause__`` /
    ``__context__``) under the errors we raise: no traceback, debugger or ``err.details()`` that walks the
    chain may find the key there (a download link, or the redirect it led to, may carry it in its query).
    The original request object is left alone. The messages down the chain are redacted too: h11 quotes a
    malformed header line whole ("illegal header line: …"), and a relay may echo the key there.
    """
    if not isinstance(exc, httpx.RequestError):
        return
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen:
        seen.append(link)
        if any(isinstance(a, str) and redact(a) != a for a in link.args):
            link.args = tuple(redact(a) if isinstance(a, str) else a for a in link.args)
        link = link.__cause__ or link.__context__
    try:
        request = exc.request
    except RuntimeError:
        return
    url = str(request.url)
    shown = redact(url)
    if shown == url and not any(name in request.headers for name in SECRET_HEADERS):
        return
    headers = httpx.Headers(
        [(k, "****" if k.lower() in SECRET_HEADERS else v) for k, v in request.headers.multi_items()]
    )
    exc.request = httpx.Request(request.method, shown, headers=headers, extensions=request.extensions)
