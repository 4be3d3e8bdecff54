"""A 2xx answer read whole, and reading it as JSON: leniently when strict JSON refuses a paid answer, and with an
error that says what came instead (an event stream, a web page, an empty or broken body) when it is not JSON."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any

from .._config import redact
from ..errors import APIError
from ..families import _json
from ._body import PAGE_HINT, page_instead_of_api, web_page
from ._sse import looks_like_event_stream

#: Largest 2xx body read again leniently when strict JSON refuses it (answers are far smaller; inline media aside).
LENIENT_MAX = 64 * 1024 * 1024


def charset(content_type: str | None) -> str:
    """The answer's charset when Python knows it; UTF-8 otherwise (a relay's typo must not lose the answer)."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            name = value.strip().strip('"').strip()
            try:
                return codecs.lookup(name).name if name else "utf-8"
            except LookupError:
                return "utf-8"
    return "utf-8"


@dataclass
class Response:
    """A successful (2xx) answer, read whole."""

    status: int
    headers: dict[str, str]
    content: bytes
    request_id: str | None = None
    elapsed: float = 0.0
    url: str = ""
    _json: Any = field(default=None, repr=False, compare=False)
    #: the answer to a paid call (not a GET): one that cannot be read may still have been done and billed
    paid: bool = field(default=False, repr=False, compare=False)

    @property
    def text(self) -> str:
        return self.content.decode(charset(self.headers.get("content-type")), errors="replace")

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The decoded body; a body that is not JSON raises a readable :class:`APIError`."""
        if self._json is None:
            try:
                self._json = _json.loads(self.content)
            except ValueError as exc:
                if len(self.content) <= LENIENT_MAX:  # (a second full copy of a huge broken body buys nothing)
                    try:  # one byte that is not UTF-8, one absurd field: the paid answer is still read
                        self._json = _json.loads_lenient(self.content, charset(self.headers.get("content-type")))
                        return self._json
                    except ValueError:
                        pass
                raise self._not_json(exc) from exc
        return self._json

    @property
    def is_event_stream(self) -> bool:
        """Whether the body is an event stream (a relay that streams whatever was asked): see
        :meth:`Client.events_of` to read its frames."""
        head = self.content[:64]
        if head.lstrip()[:1] in (b"{", b"["):  # JSON, whatever the label says (a relay's wrong Content-Type)
            return False
        return self.content_type == "text/event-stream" or looks_like_event_stream(head)

    def _not_json(self, exc: ValueError) -> APIError:
        if self.is_event_stream:
            return APIError(  # (the answer is paid for, but its pieces are no reply to read)
                f"The server answered {self.status} with an event stream, not the JSON asked for.",
                status=self.status, request_id=self.request_id,
                hint="Only a chat answer is read from a stream (chat does so by itself); for this call the relay "
                     "should answer JSON. Check the base URL, or try again later.")
        page = web_page(self.content, self.content_type)
        if page is not None:
            return APIError(page_instead_of_api(self.status, page), status=self.status, request_id=self.request_id,
                            hint=PAGE_HINT)
        again = PAID_UNREAD_HINT if self.paid else "This is usually a temporary relay problem; try again."
        if not self.content.strip():
            return APIError(f"The server answered {self.status} with an empty body, not the JSON asked for.",
                            status=self.status, request_id=self.request_id, hint=again)
        deep = "nested too deeply" in str(exc)
        snippet = redact(self.text.strip()[:80 if deep else 200])
        return APIError(
            f"The server answered {self.status} but its body is "
            f"{'JSON nested too deeply to read' if deep else 'not valid JSON'}: {snippet!r}",
            status=self.status,
            request_id=self.request_id,
            hint=again,
        )


#: What to do about a paid call's 2xx answer that cannot be read (cut short, garbled): asking again may pay twice.
PAID_UNREAD_HINT = ("An answer cut short reads like this: the call may have been done and billed, so check the "
                    "history before trying again.")
