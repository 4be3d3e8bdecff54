"""Where magic output goes: a placeholder shown at once, replaced in place by the result or the error.

In a notebook (any display publisher that understands updates) the cell gets one output that says
what is happening and then becomes the result; in a plain terminal nothing is pre-printed and the
result is the cell's value as usual.
"""

from __future__ import annotations

import time
from typing import Any

from .._safe import text_html as escape

WORKING = "⏳ {what}…"
ELAPSED = "{what} ({seconds:.1f}s)"


def live_display(shell: Any) -> bool:
    """True when displays can be updated in place (a kernel, or a capturing publisher in tests);
    False in a terminal IPython, whose publisher would print every update again."""
    from IPython.core.displaypub import DisplayPublisher

    pub = getattr(shell, "display_pub", None)
    return getattr(shell, "kernel", None) is not None or (pub is not None and type(pub) is not DisplayPublisher)


class Placeholder:
    """``Placeholder(what)`` shows "⏳ what…"; ``replace(obj)`` turns it into ``obj``'s rendering."""

    def __init__(self, what: str, *, metadata: dict[str, Any] | None = None) -> None:
        from IPython.display import display

        self.what = what
        self.started = time.monotonic()
        text = WORKING.format(what=what)
        self.handle = display(
            {"text/plain": text, "text/html": f"<div style='font:12px sans-serif;opacity:.75'>{escape(text)}</div>"},
            raw=True, display_id=True, metadata=metadata or {"tokenhot": {"status": "running"}},
        )

    def replace(self, obj: Any) -> None:
        self.handle.update(obj)
