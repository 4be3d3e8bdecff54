"""Fault injection settings for the simulator.

One :class:`Faults` value is held per server; a request may override fields with the
``X-Sim-Faults: <json>`` header, and a running server can be changed with ``PUT /sim/faults``.
Everything is off by default so the simulator answers like a healthy relay.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

FAULTS_HEADER = "x-sim-faults"

#: Canned errors of the real service (§10.5 of the API notes) for ``Faults.service_error``.
SERVICE_ERRORS: dict[str, str] = {
    "quota-403": "403 insufficient_user_quota: the user's balance is used up (never worth a retry)",
    "pre-consume-403": "403 pre_consume_token_quota_failed: the token's quota cannot cover the call",
    "empty-429": "429 with an empty body and no Retry-After (the global rate limiter)",
    "chinese-429": "429, code \"\", Chinese wording (请求数限制), no Retry-After (the per-user model limiter)",
    "busy-429": "429, code \"\", 访问量过大 (the upstream is overloaded), no Retry-After",
    "middleware-500": "500 in the middleware envelope {error: {message, type: new_api_error, code: \"\"}}",
}
#: The SERVICE_ERRORS of the relay's quota guard: only calls that spend meet them (``app._api`` ``paid``).
QUOTA_ERRORS = frozenset({"quota-403", "pre-consume-403"})
#: What a video create may answer with HTTP 200 and no task (``Faults.video_create_error``): the relay's refusal in
#: either envelope it speaks (§1.4.1, §1.4.3); no task is made and nothing charged.
VIDEO_CREATE_ERRORS: dict[str, str] = {
    "openai": "200 with {error: {message: \"… (request id: …)\", type: new_api_error, code: model_price_error}}",
    "task": "200 with the task envelope {code: model_price_error, message: \"…\", data: null}",
}
#: What a finished task's video link may serve instead of the video, labelled ``video/mp4``
#: (``Faults.video_not_video``): an expired or refused link's page, a gateway's JSON error.
VIDEO_NOT_VIDEO: dict[str, str] = {
    "html": "an HTML error page (a CDN's \"link expired\" page)",
    "json": "a JSON error ({\"error\": {\"message\": …}}), as an object store or gateway answers",
}
#: Hostile stream shapes for ``Faults.stream_shape`` (applied after the first frame).
STREAM_SHAPES: dict[str, str] = {
    "surrogates": "an emoji sent as two frames, each holding one UTF-16 surrogate half (chat completions)",
    "null": "a frame whose data is JSON null",
    "list": "a frame whose data is a JSON list",
    "keepalive": "only keep-alive comments from then on, forever (a dead stream that looks alive)",
    "drip": "one byte every 0.1 s from then on, never a whole frame",
}


@dataclass
class Faults:
    """What should go wrong (or slow down). All off by default."""

    latency: float = 0.0  #: seconds before any answer
    ttfb: float = 0.0  #: seconds between the stream headers and the first stream byte
    chunk_delay: float = 0.0  #: seconds between stream chunks
    error_rates: dict[int, float] = field(default_factory=dict)  #: status -> probability
    retry_after: float | None = None  #: Retry-After on injected 429/503 (None: none, as the real limiters)
    fail_first: dict[int, int] = field(default_factory=dict)  #: status -> fail the first N requests
    truncate_stream_after: int | None = None  #: drop the connection after N chunks
    stall_stream_after: int | None = None  #: stop sending (keep the connection) after N chunks
    stream_error_after: int | None = None  #: after N chunks an error frame in the protocol's own form ends the stream
    malformed_json: bool = False  #: JSON bodies and one stream frame are cut short
    video_failure: bool = False  #: video tasks end failed with a vendor reason
    expire_downloads: bool = False  #: /sim/files URLs answer 403 (expired signature)
    video_steps: int = 3  #: polls from queued to done
    video_create_error: str | None = None  #: a video create is answered 200 with one of VIDEO_CREATE_ERRORS, no task
    #: a video create is answered 200 with its task failed already (the upstream refused it at submit), the vendor's
    #: reason given; its polls say FAILURE with that reason at once (refunded: nothing charged)
    video_create_failed: bool = False
    #: a finished video task lists this many videos (each a clip of its own), where its answers name a link
    video_count: int = 1
    #: a finished task's video link (the relay's ``/content`` route and the file URL) serves one of VIDEO_NOT_VIDEO,
    #: with a 200 and ``Content-Type: video/mp4``
    video_not_video: str | None = None
    stream_chunks: int | None = None  #: force this many chat text chunks
    download_size: int | None = None  #: file URLs serve this many streamed bytes instead
    billing_error: bool = False  #: billing endpoints answer HTTP 200 with an ``{"error": …}`` body
    answer: str | None = None  #: every chat answer is this text (e.g. hostile Markdown, to see it rendered inert)
    #: a chat answer's last tool call (chat completions, Responses, a Claude stream's ``input_json_delta`` pieces) has
    #: arguments that stop mid-value though the answer ends as usual (finish ``tool_calls`` / ``completed`` /
    #: ``tool_use``): a model's own slip, which the relay passes on as it came. Not in a whole Claude answer nor on
    #: Gemini: their wire carries the arguments as an object (``tool_use.input``, ``functionCall.args``), never text
    bad_tool_arguments: bool = False
    #: Responses calls fail once their output is made: a stream ends ``response.failed`` (in place of
    #: ``response.completed``), a whole answer comes back ``status: "failed"``; both carry the usage consumed. The
    #: whole answer is billed that usage; the stream, as the relay bills one that did not complete (its own count
    #: of the text deltas and of the request: ``_pricing.responses_billed_usage``)
    responses_failed: bool = False
    # -- hostile or unusual answers a real relay gives (see SERVICE_ERRORS / STREAM_SHAPES) -----------------------
    service_error: str | None = None  #: answer API calls with one of SERVICE_ERRORS instead of doing the work
    service_error_first: int = 0  #: with ``service_error``: only the first N requests (0: every request)
    #: the global limiter (§10.5: an empty-body 429, no Retry-After) answers the first N reads of the catalogue
    #: routes (``/api/pricing``, ``/api/status``, ``/v1/models``, ``/v1beta/models``), which it guards too
    catalogue_429: int = 0
    stream_shape: str | None = None  #: one of STREAM_SHAPES, applied after the first stream frame
    gzip_bomb: bool = False  #: JSON answers and file URLs are a gzip bomb (260 KiB on the wire, 256 MiB inflated)
    echo_key: bool = False  #: chat answers and error messages repeat the key the request presented
    html_download: bool = False  #: file URLs answer 200 with an HTML login page instead of the media
    result_host: str | None = None  #: result URLs point at this host instead (e.g. "169.254.169.254")
    #: the group of the presented key (new-api's 分组): every charge × its ``group_ratio`` in the price table
    key_group: str = "default"

    @classmethod
    def demo(cls) -> Faults:
        """Gentle pacing for notebooks: streams visibly type, videos take a few polls."""
        return cls(chunk_delay=0.015, ttfb=0.05, latency=0.05, video_steps=3)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["error_rates"] = {str(k): v for k, v in self.error_rates.items()}
        d["fail_first"] = {str(k): v for k, v in self.fail_first.items()}
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        return cls().merged(data)

    def merged(self, overrides: dict[str, Any]) -> Faults:
        """A copy with ``overrides`` applied; unknown names raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - names
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
        values = dataclasses.asdict(self)
        for key, value in overrides.items():
            if key == "error_rates":
                values[key] = {int(k): float(v) for k, v in (value or {}).items()}
            elif key == "fail_first":
                values[key] = {int(k): int(v) for k, v in (value or {}).items()}
            else:
                values[key] = value
        out = Faults(**values)
        out.validate()
        return out

    def validate(self) -> None:
        for name in ("latency", "ttfb", "chunk_delay"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0")
        for status, p in self.error_rates.items():
            if not 400 <= status <= 599 or not 0.0 <= p <= 1.0:
                raise ValueError(f"error_rates: bad entry {status}={p}")
        for status in self.fail_first:
            if not 400 <= status <= 599:
                raise ValueError(f"fail_first: bad status {status}")
        if self.video_steps < 1:
            raise ValueError("video_steps must be >= 1")
        if self.stream_error_after is not None and (isinstance(self.stream_error_after, bool)
                                                    or not isinstance(self.stream_error_after, int)
                                                    or self.stream_error_after < 0):
            raise ValueError("stream_error_after must be a whole number >= 0")
        if self.video_create_error is not None and self.video_create_error not in VIDEO_CREATE_ERRORS:
            raise ValueError(f"video_create_error must be one of: {', '.join(VIDEO_CREATE_ERRORS)}")
        if self.video_not_video is not None and self.video_not_video not in VIDEO_NOT_VIDEO:
            raise ValueError(f"video_not_video must be one of: {', '.join(VIDEO_NOT_VIDEO)}")
        if isinstance(self.video_count, bool) or not isinstance(self.video_count, int) or not 1 <= self.video_count <= 8:
            raise ValueError("video_count must be a whole number from 1 to 8")
        if self.service_error is not None and self.service_error not in SERVICE_ERRORS:
            raise ValueError(f"service_error must be one of: {', '.join(SERVICE_ERRORS)}")
        if self.stream_shape is not None and self.stream_shape not in STREAM_SHAPES:
            raise ValueError(f"stream_shape must be one of: {', '.join(STREAM_SHAPES)}")
        if self.service_error_first < 0:
            raise ValueError("service_error_first must be >= 0")
        if isinstance(self.catalogue_429, bool) or not isinstance(self.catalogue_429, int) or self.catalogue_429 < 0:
            raise ValueError("catalogue_429 must be a whole number >= 0")

    @classmethod
    def from_header(cls, base: Faults, header: str | None) -> Faults:
        if not header:
            return base
        data = json.loads(header)
        if not isinstance(data, dict):
            raise ValueError("X-Sim-Faults must be a JSON object")
        return base.merged(data)


def parse_rates(items: list[str], *, as_int: bool = False) -> dict[int, Any]:
    """Parse CLI pairs like ``429=0.1`` (or ``503=2`` with ``as_int``)."""
    out: dict[int, Any] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            status, _, value = part.partition("=")
            out[int(status)] = int(value) if as_int else float(value)
    return out
