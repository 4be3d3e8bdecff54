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


@dataclass
class Faults:
    """What should go wrong (or slow down). All off by default."""

    latency: float = 0.0  #: seconds before any answer
    ttfb: float = 0.0  #: seconds between the stream headers and the first stream byte
    chunk_delay: float = 0.0  #: seconds between stream chunks
    error_rates: dict[int, float] = field(default_factory=dict)  #: status -> probability
    retry_after: float | None = None  #: value of Retry-After on 429/503 (None: 0)
    fail_first: dict[int, int] = field(default_factory=dict)  #: status -> fail the first N requests
    truncate_stream_after: int | None = None  #: drop the connection after N chunks
    stall_stream_after: int | None = None  #: stop sending (keep the connection) after N chunks
    malformed_json: bool = False  #: JSON bodies and one stream frame are cut short
    video_failure: bool = False  #: video tasks end failed with a vendor reason
    expire_downloads: bool = False  #: /sim/files URLs answer 403 (expired signature)
    video_steps: int = 3  #: polls from queued to done
    stream_chunks: int | None = None  #: force this many chat text chunks
    download_size: int | None = None  #: file URLs serve this many streamed bytes instead
    billing_error: bool = False  #: billing endpoints answer HTTP 200 with an ``{"error": …}`` body
    answer: str | None = None  #: every chat answer is this text (e.g. hostile Markdown, to see it rendered inert)

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
