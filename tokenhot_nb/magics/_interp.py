"""``{name}`` interpolation of cell text from the user namespace, like jupyter-ai's.

Only fields that look like a Python reference (``{x}``, ``{obj.attr}``, ``{In[3]}``, ``{Out[3]}``,
``{x!r}``, ``{x:.2f}``) are replaced; anything that does not resolve, and any other braces
(JSON, code), is left exactly as written. ``{{x}}`` gives the literal ``{x}``; other doubled braces stay as they
are (``{"a": {"b": 1}}`` is JSON, not an escape: str.format's rule made it ``{"a": {"b": 1}``).
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Mapping
from typing import Any

_REF = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\[\]{}]+\])*"
_FIELD = re.compile(
    rf"(?<!\{{)\{{\{{(?P<literal>{_REF}(?:![rsa])?(?::[^{{}}]*)?)\}}\}}(?!\}})"  # {{x}}: the escape, the literal {x}
    rf"|\{{(?P<ref>{_REF})(?P<conv>![rsa])?(?P<spec>:[^{{}}]*)?\}}"
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
UNFORMATTED = ("⚠ {fields} in the cell could not be formatted with {its} spec, so {it} went into the prompt as "
               "written. Fix the spec, or write {{{{name}}}} for literal braces.")
#: The variable exists but cannot be turned into text: sending the braces would be a paid mistake.
NO_TEXT = ("{field} in the cell names a {type} whose text cannot be made ({error}); nothing was sent. "
           "Fix the variable, or write {{{{name}}}} for literal braces.")


def interpolate(text: str, namespace: Mapping[str, Any], *, warn: bool = True) -> str:
    """Replace resolvable ``{ref}`` fields in ``text``; leave everything else as written.

    A field that names no variable stays as written, with a one-line warning on stderr (``warn``): a typo in
    ``{topic}`` should not silently send the braces to a paid model.
    """
    unresolved: list[str] = []
    unformatted: list[str] = []

    def sub(m: re.Match[str]) -> str:
        whole = m.group(0)
        if m.group("literal") is not None:
            return "{" + m.group("literal") + "}"
        value = lookup(m.group("ref"), namespace)
        if value is _MISSING:
            unresolved.append(whole)
            return whole
        conv, spec = m.group("conv"), m.group("spec")
        try:
            value = _formatter.convert_field(value, conv[1]) if conv else value
            if not spec:
                return str(value)
        except Exception as exc:
            from ._args import MagicUsageError

            raise MagicUsageError(NO_TEXT.format(field=whole, type=type(value).__name__,
                                                 error=_short(exc))) from None
        try:
            return format(value, spec[1:])
        except Exception:
            unformatted.append(whole)
            return whole

    out = _FIELD.sub(sub, text)
    for found, message in ((unresolved, UNRESOLVED), (unformatted, UNFORMATTED)):
        if warn and found:
            names = list(dict.fromkeys(found))
            one = len(names) == 1
            print(message.format(fields=", ".join(names), verb="names" if one else "name", its="its" if one
                                 else "their", it="it" if one else "they", them="it" if one else "them"),
                  file=sys.stderr)
    return out


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def resolve_source(source: str, namespace: Mapping[str, Any]) -> Any:
    """An input given on the line: a variable (``img``, ``Out[3]``, ``_``, ``res.images[0]``) or else the text
    itself (a path or URL, which the session opens)."""
    m = _FIELD.fullmatch("{" + source + "}")
    if m is not None and m.group("ref") is not None:
        value = lookup(source, namespace)
        if value is None:  # e.g. an image that failed to load: the call would go on without it, silently
            from ._args import MagicUsageError

            raise MagicUsageError(f"{source!r} on the magic line names a variable that holds None, not an input; "
                                  "nothing was sent. Name the variable holding the image or file, or give its path.")
        if value is not _MISSING:
            return value
    return source
