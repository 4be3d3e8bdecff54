"""JSON that came over the network, read so that no shape of it raises anything but ``ValueError``.

Every parse of an answer is guarded by ``except ValueError``; ``json.loads`` raises ``RecursionError`` for
nesting deeper than the interpreter's stack (``[[[[…`` a few thousand deep fits in a few KiB), which would slip
past each of those guards as a traceback through the internals. A garbage collection that fires inside such a
parse runs unrelated objects' finalizers with no stack left, and Python prints their ``RecursionError`` as
"Exception ignored in …", so a body that may nest deep is parsed with collection paused.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")

#: Longest integer literal read as an int; past it (Python refuses to convert more than 4300 digits) a float.
_INT_DIGITS = 4000
#: Deepest nesting read. Python 3.13's parser reads far deeper than 3.12's (which stops at the stack), and then
#: any code walking the value recursively (redaction, encoding) would hit the stack instead; no API answer nests
#: anywhere near this.
MAX_DEPTH = 128


def loads(data: str | bytes | bytearray) -> Any:
    """``json.loads``, with nesting too deep to read raised as a ``ValueError``."""
    deep = may_nest_deep(data)
    try:
        value = paused_collection(json.loads, data) if deep else json.loads(data)
    except RecursionError:
        value = _TOO_DEEP
    if value is _TOO_DEEP:  # (raised outside the handler: no RecursionError chained under it)
        raise _too_deep()
    return _shallow(value) if deep else value


def may_nest_deep(data: str | bytes | bytearray) -> bool:
    """Whether ``data`` holds enough brackets to nest past :data:`MAX_DEPTH`: counting them is C-fast, and almost
    every answer holds too few."""
    if isinstance(data, str):
        return data.count("[") + data.count("{") > MAX_DEPTH
    return data.count(b"[") + data.count(b"{") > MAX_DEPTH


def paused_collection(parse: Callable[[Any], _T], data: Any) -> _T:
    """``parse(data)`` with the garbage collector paused (see the module's docstring), as it was before."""
    was = gc.isenabled()
    gc.disable()
    try:
        return parse(data)
    finally:
        if was:
            gc.enable()


def _shallow(value: Any) -> Any:
    """``value`` when it nests at most :data:`MAX_DEPTH` deep, walked iteratively."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            items: Any = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise _too_deep()
        stack.extend((v, depth + 1) for v in items)
    return value


def _int(text: str) -> int | float:
    return int(text) if len(text) <= _INT_DIGITS else float(text)  # (an absurd count: infinity, no exception)


def loads_lenient(data: bytes, encoding: str = "utf-8") -> Any:
    """A body strict JSON refuses over a detail, read anyway: bytes that are not text in ``encoding`` (the charset
    the answer declared; UTF-8 by default) become U+FFFD, raw control characters inside strings are taken as they
    are, and an integer too long for Python to convert becomes a float (infinity). A paid answer must not be lost
    to one bad byte or one absurd field; what still does not parse raises ``ValueError``."""
    text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    deep = may_nest_deep(text)
    try:
        value = paused_collection(_LENIENT.decode, text) if deep else _LENIENT.decode(text)
    except RecursionError:
        value = _TOO_DEEP
    if value is _TOO_DEEP:
        raise _too_deep()
    return _shallow(value) if deep else value


_LENIENT = json.JSONDecoder(strict=False, parse_int=_int)
_TOO_DEEP = object()


def _too_deep() -> ValueError:
    return ValueError("the JSON is nested too deeply to read")
