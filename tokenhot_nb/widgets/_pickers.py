"""Model pickers and the option dropdowns that follow them (sizes, durations, voices…).

Every choice a panel offers comes from the catalogue (:mod:`tokenhot_nb.catalog`): the panels never know a
model by its id, they read its capabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w

if TYPE_CHECKING:
    from .._session import Session
    from ..catalog import ModelInfo

#: The "default" entry of an option dropdown (not None: a Dropdown reads None as "nothing selected").
UNSET = ""


def catalog_models(kind: str, keep: Callable[[ModelInfo], bool] | None = None,
                   session: Session | None = None) -> list[ModelInfo]:
    """The models of one kind: the session's service's (built-in ⊕ its price table), else the built-in ones."""
    from .. import catalog

    models: list[ModelInfo] = catalog.models(kind)
    if session is not None:
        try:
            models = list(session.models(kind))
        except Exception:  # a panel must open even when the service's table cannot be read
            models = session.catalog.snapshot().models(kind)
    return [m for m in models if keep is None or keep(m)]


#: Every model a picker offered, by id, so an option chosen from the live table resolves (see model_info).
_offered: dict[str, ModelInfo] = {}


def default_model_id(session: Session, kind: str, options: Sequence[ModelInfo]) -> str | None:
    """The session's default for a kind when it is among the options, else the catalogue's, else the first."""
    from .. import catalog

    ids = [m.id for m in options]
    defaults: dict[str, Any] = session.defaults or {}
    want = defaults.get(kind)
    if want in ids:
        return want
    try:
        cat_default = catalog.default_model(kind).id
    except LookupError:
        cat_default = None
    if cat_default in ids:
        return cat_default
    return ids[0] if ids else None


def model_label(info: ModelInfo) -> str:
    """How a picker names a model: its display name (with the id when they differ), where the entry comes
    from (built-in / live / both) and its price when the service's table was read."""
    name = info.name if info.name == info.id else f"{info.name} ({info.id})"
    return " · ".join(x for x in (name, info.source, info.price_label()) if x)


def model_picker(session: Session, kind: str, keep: Callable[[ModelInfo], bool] | None = None,
                 description: str = "Model") -> w.Dropdown:
    """A dropdown of the catalogue's models of one kind (label: display name, value: id)."""
    models = catalog_models(kind, keep, session)
    _offered.update((m.id, m) for m in models)
    return w.Dropdown(
        options=[(model_label(m), m.id) for m in models],
        value=default_model_id(session, kind, models),
        description=description,
        layout=w.Layout(width="max-content", min_width="320px"),
    )


def model_info(model_id: str) -> ModelInfo:
    from .. import catalog

    return _offered.get(model_id) or catalog.model(model_id)


def chosen(dropdown: w.Dropdown) -> Any:
    """The dropdown's value, or None when it is on "default"."""
    value = dropdown.value
    return None if value in (None, UNSET) else value


def set_options(dropdown: w.Dropdown, values: Iterable[Any], *, blank: str | None = "default",
                prefer: Any = None, labels: Callable[[Any], str] = str) -> None:
    """Replace a dropdown's options, keeping the current choice when the new model still offers it,
    else the model's default (``prefer``), else "default" (let the session decide)."""
    current = dropdown.value
    opts: list[tuple[str, Any]] = [(blank, UNSET)] if blank is not None else []
    opts += [(labels(v), v) for v in values]
    dropdown.options = opts
    allowed = [v for _, v in opts]
    if current not in (None, UNSET) and current in allowed:
        dropdown.value = current
    elif prefer not in (None, UNSET) and prefer in allowed:
        dropdown.value = prefer
    elif allowed:
        dropdown.value = allowed[0]
    dropdown.layout.display = None if len(opts) > (1 if blank is not None else 0) else "none"
