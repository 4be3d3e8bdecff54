"""The catalogue a session answers with: built-in ⊕ its service's live table, kept in memory, on disk and fresh.

A lookup answers with the service's table merged in (its price, its spelling of the id), whatever was asked
before it: the table is read once per TTL (in-process offline) on the first lookup, listing or call, and
cached on disk beside the history, so later sessions answer at once. In offline mode the simulator is the
service (read in-process every session; a copy is written for replay, never read back); replay mode never
reads anything: it uses the disk cache of its service, else the simulator's copy (a recording made offline),
and the models the history recorded (id + family) for what no table knows. A failed read
keeps the last good table, says so once and is not tried again for a while (``refresh=True`` does).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .._config import SIM_BASE_URL
from .._warn import warn
from ..catalog import Catalog, ModelInfo, builtin
from ..client._loop import AnyLoopLock
from ..errors import ConfigError, TokenhotError

if TYPE_CHECKING:
    from .. import _catalog_live as live
    from .core import Session


#: Seconds a failed read of the service's table is not tried again (``refresh=True`` still does): a service
#: that cannot be reached must not cost every call a connection timeout.
RETRY_FAILED_READ = 120.0
#: Hours a table read only in part (the limiter turned away ``/api/status`` or ``/v1/models``) is trusted before it
#: is read again (``catalog_ttl`` when shorter): its prices are good, but a later session must not keep the gaps
#: for a whole TTL, nor without saying so.
PARTIAL_TTL = RETRY_FAILED_READ / 3600.0
#: The name the embedded simulator's table is cached under (offline mode's service).
SIMULATOR = "tokenhot-nb://simulator"


class SessionCatalog:
    """One session's model table (see the module docstring). ``note`` says where the current one came from."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._table: live.LiveTable | None = None
        self._merged: Catalog | None = None
        self._disk_read = False
        self._fetched = False  # read from the service by this session
        self._failure: str | None = None
        self._failed_at = 0.0  # time.monotonic() of the last failed read
        self._warned = False
        self._partial_said = ""  # the gaps of a partly read table last said in this session
        self._recorded = 0  # replay: models only the history knows
        self._state = threading.Lock()
        self._reading = AnyLoopLock()  # (calls on several loops and threads may wait for one read)
        self._group_error: ConfigError | None = None
        self._groupless_said = False  # price_group set, the table states no group ratios: said  # price_group names no group of the table
        if session.settings.price_group and session.settings.mode != "replay":  # a typo is said where it is set,
            self.check_group(session.settings.price_group, read=False)  # (replay's table opens the history: later)

    # -- where the table lives --------------------------------------------------------------------------
    @property
    def cache_path(self) -> Path:
        """The disk cache of this session's service. Offline, the simulator's: written when it is read (in-process,
        every session), never read back, so that a replay of an offline recording prices and lists models with
        the table the recording used."""
        settings = self._session.settings
        from .. import _catalog_live as live  # the live-table code loads on first use, not with Session()

        return live.cache_path(settings.store, SIMULATOR if settings.mode == "offline" else settings.base_url)

    @property
    def table(self) -> live.LiveTable | None:
        return self._table

    def _set(self, table: live.LiveTable | None) -> Catalog:
        from .. import _catalog_live as live

        group = self._session.settings.price_group
        self._group_error = unknown_group(table.group_ratio if table is not None else None, group)
        merged = live.merge(builtin(), table, group)
        if self._session.settings.mode == "replay":
            merged = self._with_history(merged)
        with self._state:
            self._table, self._merged = table, merged
        if table is not None and group.strip() not in ("", "default") and not table.group_ratio \
                and not self._groupless_said and not self._expired():  # (expired: read first, it may state them)
            self._groupless_said = True  # (a guess: the key's group may be dearer or cheaper; said once)
            warn(f"tokenhot_nb: price_group {group.strip()!r} is set, but the model table of {table.base_url} states "
                 "no group ratios: prices and budgets use its default group's (×1), which your group may not pay.")
        return merged

    def _expired(self) -> bool:
        table = self._table
        if table is None:
            return True
        if self._session.settings.mode == "offline":
            return not self._fetched
        ttl = self._session.settings.catalog_ttl
        return table.age_hours() >= (min(ttl, PARTIAL_TTL) if table.notes else ttl)

    def _stale(self) -> bool:
        """Worth reading the service now: the table expired and no read failed a moment ago."""
        if self._failure is not None and time.monotonic() - self._failed_at < RETRY_FAILED_READ:
            return False
        return self._expired()

    def _with_history(self, cat: Catalog) -> Catalog:
        """Replay: ``cat`` plus the models only the history knows, as their rows recorded them (``{"id",
        "family"}`` of a model the service's table listed when the call was made), so a recorded call replays
        where that table was never read (another machine, a fresh checkout, an offline recording)."""
        from ..history._store import DB_NAME
        from .models import METHOD_KIND

        if not (Path(self._session.settings.store) / DB_NAME).exists():
            return cat  # no history: nothing recorded (and a lookup creates no store)
        try:
            rows = self._session.store.select(
                [("id IN (SELECT MAX(id) FROM entries WHERE params LIKE '%\"family\"%' GROUP BY model, kind)", ())],
                columns="model, kind, params")
        except (TokenhotError, OSError):
            return cat
        extra: dict[str, ModelInfo] = {}
        for mid, kind, params in rows:
            ref = _recorded_ref(params)
            if ref is None or ref[0] != mid or cat.find(mid) is not None or mid in extra:
                continue
            family = ref[1]  # (the row's kind is its method: an edit row's model is an image model)
            if family not in cat.families or cat.families[family]["kind"] != METHOD_KIND.get(kind, kind):
                continue
            info = cat.unlisted(mid, family)
            extra[mid] = replace(info, listed=True, source="live",
                                 notes="Recorded in the history (the service's table was not read).")
        self._recorded = len(extra)
        if not extra:
            return cat
        return Catalog([*cat.by_id.values(), *extra.values()], cat.families, cat.unclassified.values())

    # -- reading ----------------------------------------------------------------------------------------
    def snapshot(self) -> Catalog:
        """The best table there is without the network: memory, else the disk cache, else built-in."""
        if self._merged is not None:
            return self._merged
        mode = self._session.settings.mode
        if not self._disk_read and mode != "offline":  # (offline reads the simulator itself, always)
            self._disk_read = True
            from .. import _catalog_live as live

            table = live.load_cache(self.cache_path)
            if table is None and mode == "replay":  # a recording made offline: the simulator's table it used
                table = live.load_cache(live.cache_path(self._session.settings.store, SIMULATOR))
            if table is not None or mode == "replay":
                merged = self._set(table)
                if table is not None and table.gaps() and mode != "replay" and not self._expired():
                    self._say_partial(table)  # (expired: the service is read first; only a failure keeps it; a
                    # replay shows what its recording showed, and the session that read the table said it)
                return merged
        return builtin()

    async def ensure(self, refresh: bool = False) -> Catalog:
        """The table, read from the service first when asked, when expired, or when there is none yet; refused
        while ``price_group`` names no group of it (a listing would show the default group's prices as the key's)."""
        cat = await self._ensure(refresh)
        self._check_group()
        return cat

    async def _ensure(self, refresh: bool) -> Catalog:
        current = self.snapshot()
        mode = self._session.settings.mode
        if mode == "replay" or not (refresh or self._stale()):
            return current
        async with self._reading:  # concurrent first calls read the service once
            if not refresh and not self._stale():
                return self._merged or current
            return await self._read(mode)

    async def _read(self, mode: str) -> Catalog:
        from .. import _catalog_live as live

        settings = self._session.settings
        try:
            table = await live.fetch(self._session.client, with_key=bool(settings.api_key) or mode == "offline")
        except Exception as exc:  # network, relay, parse: keep what we have
            self._fail(exc)
            return self._merged or builtin()
        table = live.patched(table, self._table)  # (a part the limiter turned away: the last table's, if it had it)
        self._fetched, self._failure, self._warned = True, None, False
        if table.gaps() and mode != "offline":  # (a limiter's empty 429 on the status or the key's list, §10.5)
            self._say_partial(table)
        path = self.cache_path
        try:
            live.save_cache(path, table)
        except OSError as exc:
            if mode != "offline":  # (offline, the copy only serves a later replay: no need to say)
                warn(f"tokenhot_nb: could not cache the model table in {path} ({exc}).")
        return self._set(table)

    def _say_partial(self, table: live.LiveTable) -> None:
        """One line, once per session, for a table read only in part: what is missing, until when it is kept."""
        if table.gaps() == self._partial_said:  # (read again every 2 min while the limiter refuses: said once)
            return
        self._partial_said = table.gaps()
        missing = table.gaps()
        read = "" if self._fetched else f" {_ago(table.fetched_at)} (cached)"
        from ..cost import DEFAULT_RATE

        lacks = [said for route, said in (
            ("/api/status", f"amounts in ¥ are at Tokenhot's rate (¥{DEFAULT_RATE:g} a USD)"),
            ("/v1/models", "which models this key may call is not known")) if any(n.startswith(route) for n in table.notes)]
        warn(f"tokenhot_nb: read the model table of {table.base_url}{read}, but not all of it ({missing}); "
             + "".join(f"{x}; " for x in lacks) + ("models(refresh=True) reads it again." if table.notes else
                                                    "ask the service's admin to trim it."))

    def _fail(self, exc: BaseException) -> None:
        from .._config import redact

        reason = redact(str(getattr(exc, "message", None) or exc) or type(exc).__name__, self._session.settings.api_key)
        self._failure = reason
        self._failed_at = time.monotonic()
        self._fetched = True  # offline: do not retry on every lookup; live: the TTL still applies
        if self._warned:
            return
        self._warned = True
        table = self._table
        kept = (f"using the table read {_ago(table.fetched_at)}" if table is not None
                else "using the built-in catalogue only")
        if table is not None and table.gaps():  # (a partly read table: its gaps are said in the same line)
            self._partial_said = table.gaps()
            kept += f", read only in part ({table.gaps()})"
        warn(f"tokenhot_nb: could not read the model table of {self._session.client.base_url} ({reason}); "
             f"{kept}.")

    async def resolve(self, name: str | Mapping[str, str], kind: str | None = None,
                      family: str | None = None) -> ModelInfo:
        """A name (or a recorded ``{"id", "family"}``) → :class:`ModelInfo`, with the service's table merged in.

        The table is read first when it is due (see the module docstring), so the answer (its id, its price)
        does not depend on whether anything read it before; a ``family=`` typo is said before any request.
        """
        if family is not None:
            builtin().check_family(family)
        if self._session.settings.mode != "replay" and self._stale():
            from .loop import hop

            await hop(self._session, self.ensure())
        cat = self.snapshot()
        self._check_group()
        return cat.with_price(cat.model(name, kind, family))

    async def priced(self, info: ModelInfo) -> ModelInfo:
        """``info`` (a :class:`ModelInfo` built elsewhere) with the price the service's table gives its id."""
        if info.price is None and self._session.settings.mode != "replay" and self._stale():
            from .loop import hop

            await hop(self._session, self.ensure())
        priced = self.snapshot().with_price(info)
        self._check_group()
        return priced

    def _check_group(self) -> None:
        """A ``price_group`` the service's table does not list would price every call at the wrong ratio: refused
        at each call until it is mended (the table is kept)."""
        if self._group_error is not None:
            raise self._group_error

    def check_group(self, group: str, *, read: bool = True) -> None:
        """Refuse ``group`` now when the service's table can tell it names no group (its ``group_ratio``).

        Offline (the stock simulator) the groups are data; otherwise the table in memory or a current copy on disk
        answers, and with ``read`` (``%th_config --price-group``) a table not read yet is read first. Without
        one (live, no current copy, ``read=False``) the first call, which reads it, refuses the group.
        """
        group = group.strip()
        if not group:
            return
        settings = self._session.settings
        if settings.mode == "offline" and self._session._transport is None and self._table is None:
            # (the simulator is the service offline: its groups are data)
            from ..sim._pricing import GROUP_RATIO

            groups: Mapping[str, float] | None = GROUP_RATIO
        else:
            self.snapshot()
            if read and settings.mode != "replay" and self._stale():
                from .loop import run_blocking

                run_blocking(self._session, self._ensure(False))  # (not ensure(): the group being set is checked)
            groups = self._table.group_ratio if self._table is not None else None
        problem = unknown_group(groups, group)
        if problem is not None:
            raise problem

    def note(self) -> str:
        """Where the current table came from, for listings: live / cached / built-in, and the last failure."""
        table = self._table
        if table is None:
            text = "built-in catalogue only (the service's table was not read)"
            if self._recorded:
                text += f" ⊕ {self._recorded} models recorded in the history"
        else:
            where = "the simulator" if table.base_url == SIM_BASE_URL else table.base_url  # (replay: its copy too)
            n_live = sum(1 for m in (self._merged or builtin()).models() if m.source != "built-in")
            text = f"built-in ⊕ {n_live} models from {where}'s table, read {_ago(table.fetched_at)}"
        if self._failure:
            text += f"; the last refresh failed ({self._failure})"
        return text


def unknown_group(groups: Mapping[str, float] | None, group: str) -> ConfigError | None:
    """The error for a ``price_group`` a table's ``group_ratio`` (``groups``) does not name (None: fine, or nothing
    to check against: no table, or one stating no groups)."""
    if not group or not groups or group in groups:
        return None
    from .._suggest import did_you_mean

    names = sorted(groups)
    return ConfigError(f"price_group {group!r} is not a group of the service's price table "
                       f"({', '.join(names[:12])}).{did_you_mean(group, names)}",
                       hint="Use the group your key belongs to (Session(price_group=…) or TOKENHOT_PRICE_GROUP); "
                            "leave it unset for the service's default group.")


def _recorded_ref(params: object) -> tuple[str, str] | None:
    """(id, family) of the ``model`` a history row's params recorded as ``{"id", "family"}``, else None."""
    import json

    try:
        model = json.loads(params).get("model") if isinstance(params, (str, bytes)) else None
    except (ValueError, AttributeError):
        return None
    if not isinstance(model, dict):
        return None
    mid, family = model.get("id"), model.get("family")
    return (mid, family) if isinstance(mid, str) and isinstance(family, str) and mid.strip() else None


def _ago(when: float) -> str:
    secs = max(0.0, time.time() - when)
    if secs < 90:
        return "just now"
    if secs < 5400:
        return f"{secs / 60:.0f} min ago"
    if secs < 48 * 3600:
        return f"{secs / 3600:.1f} h ago"
    return f"{secs / 86400:.0f} days ago"
