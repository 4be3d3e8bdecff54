"""IPython magics: ``%%th_image``, ``%%th_chat``, ``%%th_video``, ``%%th_audio``, ``%%th_embed``, ``%%th_rerank``,
``%th_transcribe``, ``%th_translate``, ``%th_models``, ``%th_history``, ``%th_config``, ``%th_balance``, ``%th_panel``.

A thin skin over the default :class:`~tokenhot_nb.Session` (``tokenhot_nb.session()``): options in, result objects
out.
Loading is cheap: nothing heavy (httpx, PIL, av, ipywidgets, sqlite) is imported until a magic runs.
"""

from __future__ import annotations

from typing import Any

#: The last exception a magic turned into a short message (with its traceback), for inspection.
last_error: BaseException | None = None
#: When True, a failed call also raises a one-line error after the message (stops "Run All").
raise_errors: bool = False

__all__ = ["last_error", "raise_errors", "register"]


def register(ipython: Any) -> None:
    """Register every ``th_*`` magic on ``ipython`` (called by ``%load_ext tokenhot_nb``)."""
    from ._magics import TokenhotMagics

    ipython.register_magics(TokenhotMagics)
