"""``%th_config``: show the settings (never the key) and change them by rebuilding the default session.

The key is only ever read from a hidden ``getpass`` prompt or an environment variable, so it never
appears in a cell's source or output.
"""

from __future__ import annotations

import dataclasses
import getpass
import importlib
import os
import shlex
from typing import Any

from ._args import MODEL_KINDS
from ._tables import Table, settings_table

KEY_PROMPT = "Tokenhot API key (hidden; it is not saved in the notebook): "
KEY_NOT_IN_ENV = "Environment variable {var} is not set."
#: (not "or with os.environ": a key assigned in a cell is in the notebook's source, and travels with it)
KEY_NOT_IN_ENV_FIX = "Set it where Jupyter starts, or use %th_config --key for a hidden prompt."
KEY_NO_PROMPT = "This front end cannot ask for input (no input box, or no stdin), so --key cannot prompt for the key."
KEY_NO_PROMPT_FIX = ("Set TOKENHOT_API_KEY where Jupyter starts, then %th_config --key-from-env (or --key-from-env "
                     "MY_VAR for another variable).")
KEY_AS_VAR = ("--key-from-env takes the name of an environment variable, and what was given ({n} characters, not "
              "shown) looks like a key, not a variable's name; no such variable is set.")
KEY_AS_VAR_FIX = ("If it is your key, delete it from this cell (IPython keeps the line in its history too), put it in "
                  "TOKENHOT_API_KEY where Jupyter starts and run %th_config --key-from-env, or use %th_config --key "
                  "for a hidden prompt.")
KEY_EMPTY = "No key entered; the settings were not changed."
KEY_SET = "API key set for this session (hidden)."
#: A session that ran offline keeps its mode (only what is named changes), so the key alone calls nothing real.
KEY_SET_OFFLINE = ("API key set for this session (hidden); it still runs offline, on the simulator: "
                   "%th_config --mode live calls Tokenhot with the key (paid).")


def _session() -> Any:
    from . import _magics

    return _magics._session()


def read_key(prompt: bool, env_var: str | None) -> str | None:
    """The key from a hidden prompt or an environment variable; None when nothing was asked."""
    from ..errors import ConfigError

    if prompt:
        try:
            return getpass.getpass(KEY_PROMPT).strip()
        except (EOFError, NotImplementedError):  # (IPython's StdinNotImplementedError is a NotImplementedError)
            raise ConfigError(KEY_NO_PROMPT, hint=KEY_NO_PROMPT_FIX) from None
    if env_var:
        value = os.environ.get(env_var, "").strip()
        if not value and _key_shaped(env_var):  # the key itself given as the variable's name: never say it back
            raise ConfigError(KEY_AS_VAR.format(n=len(env_var)), hint=KEY_AS_VAR_FIX)
        if not value:
            raise ConfigError(KEY_NOT_IN_ENV.format(var=env_var), hint=KEY_NOT_IN_ENV_FIX)
        return value
    return None


def _key_shaped(name: str) -> bool:
    """Whether ``name`` (given as an environment variable's name) looks like a key: something redaction masks, no
    variable name at all, or a long mix of lower- and upper-case letters and digits (variable names are words,
    mostly in capitals; a key is random)."""
    from .._config import redact

    if redact(name) != name or not name.replace("_", "a").isalnum() or not name.isascii() or name[0].isdigit():
        return True
    return len(name) >= 20 and any(c.islower() for c in name) and any(c.isupper() for c in name) \
        and any(c.isdigit() for c in name)


def carried_over(old: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """Everything ``old`` was built with, as ``Session`` keyword arguments: every ``Settings`` field (key,
    base URL, mode, store, timeouts, retries, poll interval, caps…), its default models, its seed and the
    transport it was given. ``changes`` is not applied here; it only says which carried things no longer fit:
    a simulator transport is dropped when the user switches to live mode (else "live" would keep answering
    from the simulator)."""
    kwargs: dict[str, Any] = {}
    st = getattr(old, "settings", None)
    if st is not None and dataclasses.is_dataclass(st) and not isinstance(st, type):
        kwargs.update({f.name: getattr(st, f.name) for f in dataclasses.fields(st) if f.init})
    defaults = getattr(old, "defaults", None)
    if isinstance(defaults, dict) and defaults:
        kwargs["defaults"] = dict(defaults)
    if getattr(old, "seed", None) is not None:
        kwargs["seed"] = old.seed
    transport = getattr(old, "_transport", None)
    if transport is not None and not (changes.get("mode") == "live" and _is_simulator(transport)):
        kwargs["transport"] = transport
    return kwargs


def _is_simulator(transport: Any) -> bool:
    return type(transport).__module__.startswith("tokenhot_nb.sim")


def rebuild(old: Any, changes: dict[str, Any], *, from_env: bool) -> Any:
    """A new default session with ``changes`` on top of everything the old one carried (see
    :func:`carried_over`), or with ``from_env`` (``--reset``) on top of the environment alone."""
    mod = importlib.import_module("tokenhot_nb._session")
    kwargs: dict[str, Any] = {}
    if not from_env and old is not None:
        kwargs = carried_over(old, changes)
    kwargs.update(changes)
    return mod.session(reset=True, **kwargs)


def _default(s: Any, name: str, kind: str) -> str:
    """The model id for ``--default-KIND NAME``, from the session's catalogue (built-in ⊕ the service's table, as
    ``-m`` resolves): the built-in one alone called a model only the service lists unknown. A model of another
    kind is named as such."""
    from .._session.checks import with_article
    from .._session.models import KIND_METHOD, check_kind
    from ..errors import UnknownModelError, UnsupportedOptionError

    try:
        info = s.model(name)
    except UnknownModelError:
        raise UnknownModelError(name, s.catalog.snapshot().suggest(name, kind), kind) from None
    if info.kind != kind:
        raise UnsupportedOptionError(f"{info.id} is {with_article(info.kind)} model, not {with_article(kind)} one.",
                                     hint=f"Use {_as_default(info.kind, info.id)}, or pick {with_article(kind)} "
                                          f"model: %th_models --kind {kind}.")
    check_kind(KIND_METHOD[kind], info)  # e.g. whisper-1 as the voice of %%th_audio
    return str(info.id)


def _as_default(kind: str, model_id: str) -> str:
    """How to make ``model_id`` the default, to paste. The id is the service's text, and IPython expands ``{…}`` and
    ``$name`` in a magic's line before the magic reads it: an id that is not one plain word gets the Python line."""
    if shlex.quote(model_id) == model_id:  # (shlex's plain words hold no quote, space, brace or $)
        return f"--default-{kind} {model_id}"
    return f"tokenhot_nb.session().defaults[{kind!r}] = {model_id!r}"


def apply_config(a: Any) -> Table | None:
    changes: dict[str, Any] = {}
    for name in ("base_url", "mode", "store", "price_group"):
        value = getattr(a, name)
        if value is not None and not value.strip():  # it was ignored without a word ('' would be the cwd)
            from ._args import MagicUsageError

            raise MagicUsageError(f"%th_config --{name.replace('_', '-')} needs a value; it was given empty.")
        if value:
            changes[name] = value
    key = read_key(a.key, a.key_from_env)
    if key is not None:
        if not key:
            print(KEY_EMPTY)
            return None
        changes["api_key"] = key
    s = _session()
    allow = None if a.budget_unknown is None else a.budget_unknown == "allow"
    kept = None if a.no_budget or allow is None else s.budget.budget
    if allow is not None and a.budget is None and kept is None:  # (said before anything changes)
        from ._args import MagicUsageError

        raise MagicUsageError("%th_config --budget-unknown applies to a budget: there is none; add --budget AMOUNT.")
    picked = {kind: _default(s, getattr(a, f"default_{kind}"), kind)
              for kind in MODEL_KINDS if getattr(a, f"default_{kind}")}  # validate before rebuilding
    if "price_group" in changes and not {"base_url", "mode"} & changes.keys():  # (the table is read if need be)
        s.catalog.check_group(changes["price_group"])
    if changes or a.reset:
        s = rebuild(s, changes, from_env=a.reset)
    if picked:
        s.defaults.update(picked)
    if key:
        print(KEY_SET_OFFLINE if s.settings.mode == "offline" and a.mode is None else KEY_SET)  # (not when asked)
    if a.no_budget:
        print(s.set_budget(None))
    if a.budget is not None:
        print(s.set_budget(a.budget, allow_unknown=allow))
    elif allow is not None and kept is not None:  # (the store's budget now, when --store changed the store)
        print(s.set_budget((s.budget.budget or kept).written, allow_unknown=allow))
    if a.budget_reset:
        print(s.reset_budget())
    return settings_table(s.settings.public(), getattr(s, "defaults", None))
