"""``{name}`` interpolation of cell text from the user namespace, like jupyter-ai's.

Only fields that look like a Python reference (``{x}``, ``{obj.attr}``, ``{In[3]}``, ``{Out[3]}``,
``{x!r}``, ``{x:.2f}``) are replaced; anything that does not resolve, and any other braces
(JSON, code), is left exactly as written. ``{{`` and ``}}`` give literal braces.
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Mapping
from typing import Any

_FIELD = re.compile(
    r"\{\{|\}\}|\{(?P<ref>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\[\]{}]+\])*)(?P<conv>![rsa])?(?P<spec>:[^{}]*)?\}"
)
_MISSING = object()
_formatter = string.Formatter()


def lookup(ref: str, namespace: Mapping[str, Any]) -> Any:
    """Resolve ``name``, ``name.attr`` or ``name[key]`` in ``namespace``; ``_MISSING`` when it fails."""
    try:
        value, _ = _formatter.get_field(ref, (), _NS(namespace))
    except Exception:
        return _MISSING
    return value


class _NS(dict):  # type: ignore[type-arg]
    """Adapts any mapping to ``Formatter.get_field`` without copying it."""

    def __init__(self, ns: Mapping[str, Any]) -> None:
        super().__init__()
        self._ns = ns

    def __getitem__(self, key: Any) -> Any:
        return self._ns[key]


UNRESOLVED = ("⚠ {fields} in the cell {verb} no variable, so {it} went into the prompt as written. "
              "Define {them} first, or write {{{{name}}}} for literal braces.")


def interpolate(text: str, namespace: Mapping[str, Any], *, warn: bool = True) -> str:
    """Replace resolvable ``{ref}`` fields in ``text``; leave everything else as written.

    A field that names no variable stays as written, with a one-line warning on stderr (``warn``): a typo in
    ``{topic}`` should not silently send the braces to a paid model.
    """
    unresolved: list[str] = []

    def sub(m: re.Match[str]) -> str:
        whole = m.group(0)
        if whole == "{{":
            return "{"
        if whole == "}}":
            return "}"
        value = lookup(m.group("ref"), namespace)
        if value is _MISSING:
            unresolved.append(whole)
            return whole
        try:
            conv = m.group("conv")
            if conv:
                value = _formatter.convert_field(value, conv[1])
            return format(value, (m.group("spec") or ":")[1:])
        except Exception:
            return whole

    out = _FIELD.sub(sub, text)
    if warn and unresolved:
        names = list(dict.fromkeys(unresolved))
        one = len(names) == 1
        print(UNRESOLVED.format(fields=", ".join(names), verb="names" if one else "name",
                                it="it" if one else "they", them="it" if one else "them"), file=sys.stderr)
    return out


def resolve_source(source: str, namespace: Mapping[str, Any]) -> Any:
    """An input given on the line: a variable (``img``, ``Out[3]``, ``_``, ``res.images[0]``) or else the text
    itself (a path or URL, which the session opens)."""
    if _FIELD.fullmatch("{" + source + "}"):
        value = lookup(source, namespace)
        if value is not _MISSING:
            return value
    return source
