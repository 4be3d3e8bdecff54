"""tokenhot_nb: the Tokenhot multi-model API, native in Jupyter.

Public names are imported lazily so ``%load_ext tokenhot_nb`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, tuple[str, str]] = {
    "Session": ("tokenhot_nb._session", "Session"),
    "session": ("tokenhot_nb._session", "session"),
    "set_session": ("tokenhot_nb._session", "set_session"),
    "models": ("tokenhot_nb.catalog", "models"),
    "model": ("tokenhot_nb.catalog", "model"),
    "ModelInfo": ("tokenhot_nb.catalog", "ModelInfo"),
    "Settings": ("tokenhot_nb._config", "Settings"),
    "panel": ("tokenhot_nb.widgets", "panel"),
    "studio": ("tokenhot_nb.widgets", "studio"),
    "errors": ("tokenhot_nb.errors", ""),
    "TokenhotError": ("tokenhot_nb.errors", "TokenhotError"),
}

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension", *_LAZY]

if TYPE_CHECKING:  # explicit re-exports for type checkers; at run time __getattr__ imports on demand
    from . import errors as errors
    from ._config import Settings as Settings
    from ._session import Session as Session
    from ._session import session as session
    from ._session import set_session as set_session
    from .catalog import ModelInfo as ModelInfo
    from .catalog import model as model
    from .catalog import models as models
    from .errors import TokenhotError as TokenhotError
    from .widgets import panel as panel
    from .widgets import studio as studio


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'tokenhot_nb' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = getattr(module, attr) if attr else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext tokenhot_nb``: registers the magics, importing nothing heavy."""
    from .magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    pass
