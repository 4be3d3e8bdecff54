"""Front doors: the public methods a user calls, whose errors show the user's own frames and that call, not a
dozen of tokenhot_nb's, the event loop's and ``concurrent.futures``' (``errors.shortened``).

Outside IPython (where errors render themselves through ``_render_traceback_``) a script's traceback is all the
user sees of an error; the frames cut stay on the error (``err.details()``, ``%th_config --last-error``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

C = TypeVar("C", bound=type)


def front_doors(cls: C) -> C:
    """Wrap ``cls``'s public methods (and ``__init__``) so that a TokenhotError or an interrupt leaves them with
    a short traceback: the caller's frames and the front door's, not the loop's and the library's
    (:func:`~tokenhot_nb.errors.shortened`; the frames cut stay in ``err.details()``)."""
    for name, fn in list(vars(cls).items()):
        if name != "__init__" and name.startswith("_"):
            continue
        if inspect.isfunction(fn):
            setattr(cls, name, _front_door(fn))
        elif isinstance(fn, classmethod) and inspect.isfunction(fn.__func__):  # (History.load)
            setattr(cls, name, classmethod(_front_door(fn.__func__)))
    return cls


def _front_door(fn: Callable[..., Any]) -> Callable[..., Any]:
    from .errors import TokenhotError, shortened

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def front_door_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except (TokenhotError, KeyboardInterrupt) as exc:
                raise shortened(exc)  # noqa: B904 (the same error; all its frames: %th_config --last-error)

        return front_door_async

    @functools.wraps(fn)
    def front_door(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TokenhotError, KeyboardInterrupt) as exc:
            raise shortened(exc)  # noqa: B904 (the same error; all its frames: %th_config --last-error)

    return front_door
