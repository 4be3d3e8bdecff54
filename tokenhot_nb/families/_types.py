"""What the endpoint families hand to the client and get back from their parsers.

Families are pure: they build an :class:`HttpCall` from a model and options and turn a decoded
response into one of the parsed types below. They never do I/O and never display anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

StreamFormat = Literal["chat", "responses", "claude", "gemini"]
TaskState = Literal["pending", "running", "succeeded", "failed", "unknown"]


@dataclass
class FilePart:
    """One file of a multipart body."""

    field: str
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


_edits = 0  # edits made to any KeptMessage so far (see message_edits)


def message_edits() -> int:
    """How many edits were made to :class:`KeptMessage` objects so far, in this process."""
    return _edits


def _edited() -> None:
    global _edits
    _edits += 1


class KeptMessage(dict):  # type: ignore[type-arg]
    """A message a conversation keeps (a thread's turn): a plain dict to whoever reads or edits it, which counts
    every edit made to it (:func:`message_edits`). A thread's kept body (``chat.Prefix``) holds these very objects
    and tells in one pointer compare per message that its earlier turns are as they were, as long as no edit was
    counted since; comparing each message with a copy of it touched every message's memory on every turn (~0.1 to
    0.2 ms at turn 400)."""

    __slots__ = ()

    # (each counts its edit once made: a body built meanwhile, from the message as it was, is then seen as stale)
    def __setitem__(self, key: Any, value: Any) -> None:
        try:
            dict.__setitem__(self, key, value)
        finally:
            _edited()

    def __delitem__(self, key: Any) -> None:
        try:
            dict.__delitem__(self, key)
        finally:
            _edited()

    def __ior__(self, other: Any) -> KeptMessage:  # type: ignore[override,misc]
        try:
            dict.update(self, other)
        finally:
            _edited()
        return self

    def update(self, *args: Any, **kwargs: Any) -> None:
        try:
            dict.update(self, *args, **kwargs)
        finally:
            _edited()

    def pop(self, *args: Any) -> Any:
        try:
            return dict.pop(self, *args)
        finally:
            _edited()

    def popitem(self) -> tuple[Any, Any]:
        try:
            return dict.popitem(self)
        finally:
            _edited()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        try:
            return dict.setdefault(self, key, default)
        finally:
            _edited()

    def clear(self) -> None:
        try:
            dict.clear(self)
        finally:
            _edited()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        live = bool(self)  # (called again on one in use, it edits it; a new one is empty here)
        try:
            dict.__init__(self, *args, **kwargs)
        finally:
            if live:
                _edited()


@dataclass
class HttpCall:
    """A request, independent of any HTTP library. ``path`` starts with ``/``."""

    method: str
    path: str
    json: dict[str, Any] | None = None
    data: dict[str, Any] | None = None  # multipart text fields (values: str or list[str])
    files: list[FilePart] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    stream: StreamFormat | None = None  # set when the response is SSE in that format
    billed_create: bool = False  # a billed task create: never retried once it may have reached the server
    expect: Literal["json", "text", "bytes"] = "json"
    auth: bool = True  # False for the service's public pages (price table, status): no key sent
    #: ``json`` already encoded exactly as the client would (compact, UTF-8), when a family could reuse most of
    #: it (a thread's earlier turns, see ``chat.Prefix``); the client then sends these bytes as they are.
    encoded: bytes | None = field(default=None, repr=False, compare=False)
    #: How many leading bytes of ``encoded`` the next turn's body will start with (the conversation so far): a
    #: compressing client keeps its state there (``client/_compress.py``). 0: no such promise.
    stable: int = field(default=0, repr=False, compare=False)

    def describe(self) -> dict[str, Any]:
        """A JSON-safe view for history, curl and replay keys (file bytes replaced by size + name)."""
        out: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.params:
            out["params"] = dict(self.params)
        if self.json is not None:
            out["json"] = self.json
        if self.data:
            out["data"] = self.data
        if self.files:
            out["files"] = [
                {"field": f.field, "filename": f.filename, "content_type": f.content_type, "size": len(f.data)}
                for f in self.files
            ]
        return out


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0
    video_seconds: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)
    audio_seconds: float = 0.0  # Whisper bills by the input's duration (``usage.seconds``)
    #: The part of ``input_tokens`` read from the prompt cache (billed at the price row's ``cache_ratio``).
    cached_tokens: int = 0
    #: The part of ``input_tokens`` written to the prompt cache (Anthropic's ``cache_creation_input_tokens``): new-api
    #: bills it at the row's ``create_cache_ratio``, not at the plain input price.
    cache_write_tokens: int = 0
    #: Of ``cache_write_tokens``, those written for an hour (``cache_creation.ephemeral_1h_input_tokens``): billed at
    #: ``create_cache_ratio`` × :data:`tokenhot_nb.cost.CACHE_WRITE_1H_MULTIPLIER`.
    cache_write_1h_tokens: int = 0

    def add(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.images + other.images,
            self.video_seconds + other.video_seconds,
            audio_seconds=self.audio_seconds + other.audio_seconds,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens + other.cache_write_1h_tokens,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "images": self.images,
            "video_seconds": self.video_seconds,
            **({"audio_seconds": self.audio_seconds} if self.audio_seconds else {}),
            **({"cached_tokens": self.cached_tokens} if self.cached_tokens else {}),
            **({"cache_write_tokens": self.cache_write_tokens} if self.cache_write_tokens else {}),
            **({"cache_write_1h_tokens": self.cache_write_1h_tokens} if self.cache_write_1h_tokens else {}),
        }


@dataclass
class ToolCall:
    """A function the model asked to call: ``arguments`` decoded (``{}`` when the model sent none).

    ``signature`` is Gemini 3's ``thoughtSignature`` on the call's part (reference §2.4): opaque, kept so the
    thread sends it back with the call, as Google needs to continue from the model's thinking."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    signature: str | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "name": self.name, "arguments": self.arguments}
        return {**out, "signature": self.signature} if self.signature else out


@dataclass
class ToolCallPart:
    """A piece of a streamed tool call: the call at ``index`` gets its id/name and an ``arguments`` fragment
    (JSON text), or its whole ``complete`` arguments at once (Gemini). ``index`` None: the relay sent none (a
    piece with a new id starts a call, one without continues the last)."""

    index: int | str | None
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    complete: dict[str, Any] | None = None
    signature: str | None = None
    #: a call sent whole in one piece (Gemini): another such piece at the same index is another call
    whole: bool = False


@dataclass
class ThinkingPart:
    """A piece of one of Claude's thinking blocks (content block ``index``): its text, its ``signature``, or a
    ``redacted_thinking`` block's opaque ``data``."""

    index: int | str | None
    thinking: str = ""
    signature: str = ""
    redacted: str = ""


#: How a set-apart call (``chat.cut_at_limit``) whose answer ended as usual is marked: the model sent arguments that
#: are not a JSON object (a call cut at the token limit, or by a broken stream, is marked ``incomplete``).
NOT_JSON = "not_json"


def set_apart_said(call: dict[str, Any]) -> str:
    """Why a set-apart call was not run, in a few words (its display)."""
    return "arguments not a JSON object as the model sent them, not run" if call.get(NOT_JSON) \
        else "cut at the token limit, not run"


@dataclass
class Choice:
    """One answer of a call that asked for several (``n=`` on chat completions, Gemini's
    ``generationConfig.candidateCount``): each is paid for, so each is kept. ``str(choice)`` is its text."""

    text: str
    reasoning: str = ""
    finish_reason: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    #: its calls cut at max_tokens before their arguments ended (``ChatResult.cut_tool_calls``): never to be run
    cut_tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.text

    def as_dict(self) -> dict[str, Any]:
        """The choice as a history row keeps it (empty fields left out)."""
        out: dict[str, Any] = {"text": self.text}
        if self.reasoning:
            out["reasoning"] = self.reasoning
        if self.finish_reason is not None:
            out["finish_reason"] = self.finish_reason
        if self.tool_calls:
            out["tool_calls"] = [c.as_dict() for c in self.tool_calls]
        if self.cut_tool_calls:
            out["cut_tool_calls"] = self.cut_tool_calls
        return out


@dataclass
class ChatReply:
    text: str
    reasoning: str = ""
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None
    response_id: str | None = None
    raw: Any = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    #: Claude's thinking blocks as it sent them (``{"type": "thinking", "thinking", "signature"}`` or
    #: ``{"type": "redacted_thinking", "data"}``): a turn that calls tools with thinking on must get them back,
    #: unchanged, ahead of its ``tool_use`` blocks when the thread continues, or Anthropic refuses it.
    thinking_blocks: list[dict[str, str]] = field(default_factory=list)
    #: The other answers of an ``n=`` call (choice 1 on; this reply is choice 0).
    others: list[Choice] = field(default_factory=list)


@dataclass
class ChatDelta:
    """What one stream event adds. ``done`` marks a terminal event."""

    text: str = ""
    reasoning: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    done: bool = False
    tool_calls: list[ToolCallPart] = field(default_factory=list)
    thinking: list[ThinkingPart] = field(default_factory=list)
    #: The pieces of the other answers of an ``n=`` stream, by choice index (this delta is choice 0's).
    others: dict[int, ChatDelta] = field(default_factory=dict)


@dataclass
class ImageRef:
    """One generated image: a URL to download now, or the bytes themselves."""

    url: str | None = None
    data: bytes | None = None
    mime: str = "image/png"
    revised_prompt: str | None = None


@dataclass
class ImageReply:
    images: list[ImageRef]
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    raw: Any = None
    #: items of the answer's image list that held no image to read: (their place in it, why); paid for all the same
    unreadable: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class TaskStatus:
    task_id: str
    state: TaskState
    progress: int = 0  # 0..100
    url: str | None = None
    error: str | None = None
    error_code: str | None = None
    raw_status: str | None = None
    usage: Usage = field(default_factory=Usage)
    raw: Any = None
    quota: int | None = None  # what the task cost (TaskDto ``data.quota``; quota units, not USD)
    last_frame_url: str | None = None  # Seedance ``return_last_frame``
    #: every video link the task names, ``url`` first: a task may make several, each paid for
    urls: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "failed")

    def shown(self) -> TaskStatus:
        """This status as the user is handed it (``on_progress``, ``task.status()``): the relay's words with any key
        it echoed masked, the links too (a result link may carry the key, as ``?key=…``). The links as they came
        stay on the session's own copy, which downloads them."""
        from .._config import redact

        def masked(text: str | None) -> str | None:
            return redact(text) if isinstance(text, str) else text

        url, frame, raw_status = masked(self.url), masked(self.last_frame_url), masked(self.raw_status)
        task_id, urls = redact(self.task_id), [redact(u) for u in self.urls]
        if (url, frame, raw_status, task_id, urls) == (self.url, self.last_frame_url, self.raw_status, self.task_id,
                                                       self.urls):
            return self  # (nothing to mask: this status itself)
        return replace(self, url=url, last_frame_url=frame, raw_status=raw_status, task_id=task_id, urls=urls)

    def __repr__(self) -> str:  # (``task.last`` in a cell: its links may carry the key)
        from .._config import redact

        return redact(f"TaskStatus({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in fields(self))})")


@dataclass
class AudioReply:
    """Speech: WAV bytes, or a URL to fetch (then ``wav`` is empty)."""

    wav: bytes = b""
    url: str | None = None
    mime: str = "audio/wav"
    usage: Usage = field(default_factory=Usage)
    raw: Any = None
    #: Gemini's ``finishReason`` (reference §2.4): ``MAX_TOKENS`` is a speech that stopped mid-text.
    finish_reason: str | None = None


@dataclass
class Segment:
    start: float
    end: float
    text: str


@dataclass
class TranscriptReply:
    text: str
    format: str = "json"
    body: str = ""  # the raw body for text / srt / vtt
    language: str | None = None
    duration: float | None = None
    segments: list[Segment] = field(default_factory=list)
    raw: Any = None
    usage: Usage = field(default_factory=Usage)


@dataclass
class EmbeddingReply:
    """Embeddings in input order: ``data`` is ``count × dimensions`` little-endian float32 (what the store keeps,
    so a replayed result is the very same numbers), ``model`` what the answer named."""

    data: bytes
    count: int
    dimensions: int
    usage: Usage = field(default_factory=Usage)
    model: str | None = None


@dataclass
class RerankReply:
    """Rerank scores, best first: ``results`` holds ``(index, score, text)``, ``index`` the document's place in the
    list that was sent and ``text`` the document as the answer echoed it (None when it did not)."""

    results: list[tuple[int, float, str | None]]
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    id: str | None = None
