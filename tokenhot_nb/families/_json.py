"""JSON that came over the network, read so that no shape of it raises anything but ``ValueError``.

Every parse of an answer is guarded by ``except ValueError``; ``json.loads`` raises ``RecursionError`` for
nesting deeper than the interpreter's stack (``[[[[…`` a few thousand deep fits in a few KiB), which would slip
past each of those guards as a traceback through the internals.
"""

from __future__ import annotations

import json
from typing import Any

#: Longest integer literal read as an int; past it (Python refuses to convert more than 4300 digits) a float.
_INT_DIGITS = 4000


def loads(data: str | bytes | bytearray) -> Any:
    """``json.loads``, with nesting too deep to read raised as a ``ValueError``."""
    try:
        return json.loads(data)
    except RecursionError:
        pass
    raise _too_deep()  # outside the handler: no RecursionError chained under it


def _int(text: str) -> int | float:
    return int(text) if len(text) <= _INT_DIGITS else float(text)  # (an absurd count: infinity, no exception)


def loads_lenient(data: bytes, encoding: str = "utf-8") -> Any:
    """A body strict JSON refuses over a detail, read anyway: bytes that are not text in ``encoding`` (the charset
    the answer declared; UTF-8 by default) become U+FFFD, raw control characters inside strings are taken as they
    are, and an integer too long for Python to convert becomes a float (infinity). A paid answer must not be lost
    to one bad byte or one absurd field; what still does not parse raises ``ValueError``."""
    text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    try:
        return json.loads(text, strict=False, parse_int=_int)
    except RecursionError:
        pass
    raise _too_deep()


def _too_deep() -> ValueError:
    return ValueError("the JSON is nested too deeply to read")
