"""Argument checks the session makes before any request: a wrong type or an empty message is one clear line,
not a 400 from the service after a paid round trip (or a silently ignored option)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import InputError


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_chat(message: Any, temperature: Any, max_tokens: Any, *, answering_tools: bool = False) -> None:
    """``answering_tools``: the turn carries tool results, so an empty message is fine."""
    if not answering_tools and (message is None or (isinstance(message, str) and not message.strip())):
        raise InputError("The chat message is empty.", hint="Pass the text to send, e.g. s.chat('Hello').")
    if isinstance(message, (list, tuple)) and not message:
        raise InputError("The chat conversation is empty (no messages).",
                         hint="Pass a message, or a list of {'role': …, 'content': …} dicts.")
    if temperature is not None and (not _number(temperature) or not math.isfinite(temperature)
                                    or not 0 <= temperature <= 2):
        raise InputError(f"temperature must be a number from 0 to 2, not {temperature!r:.40}.",
                         hint="e.g. temperature=0.2 (lower is more focused).")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)
                                   or max_tokens < 1):
        raise InputError(f"max_tokens must be a whole number of at least 1, not {max_tokens!r:.40}.",
                         hint="e.g. max_tokens=500.")


def check_seed(seed: Any) -> None:
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise InputError(f"seed must be a whole number >= 0, not {seed!r:.40}.", hint="e.g. seed=42.")
