"""The catalogue a session answers with: built-in ⊕ its service's live table, kept in memory, on disk and fresh.

Lookups never wait for the network when they need not: a name the built-in catalogue or the cached table
knows resolves at once; only a name nobody knows yet (or ``models()``/``refresh=True``) reads the service's
tables. In offline mode the simulator is the service (read in-process, never cached on disk); replay mode never
reads anything and uses the disk cache when there is one. A failed read keeps the last good table and says
so once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .._warn import warn
from ..catalog import Catalog, ModelInfo, builtin
from ..errors import UnknownModelError

if TYPE_CHECKING:
    from .. import _catalog_live as live
    from .core import Session


class SessionCatalog:
    """One session's model table (see the module docstring). ``note`` says where the current one came from."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._table: live.LiveTable | None = None
        self._merged: Catalog | None = None
        self._disk_read = False
        self._fetched = False  # read from the service by this session
        self._failure: str | None = None
        self._warned = False
        self._state = threading.Lock()
        self._reading: asyncio.Lock | None = None

    # -- where the table lives --------------------------------------------------------------------------
    @property
    def cache_path(self) -> Path | None:
        """The disk cache of this session's service (None offline: the simulator is read in-process)."""
        settings = self._session.settings
        if settings.mode == "offline":
            return None
        from .. import _catalog_live as live  # the live-table code loads on first use, not with Session()

        return live.cache_path(settings.store, settings.base_url)

    @property
    def table(self) -> live.LiveTable | None:
        return self._table

    def _set(self, table: live.LiveTable | None) -> Catalog:
        from .. import _catalog_live as live

        merged = live.merge(builtin(), table)
        with self._state:
            self._table, self._merged = table, merged
        return merged

    def _expired(self) -> bool:
        table = self._table
        if table is None:
            return True
        if self._session.settings.mode == "offline":
            return not self._fetched
        return table.age_hours() >= self._session.settings.catalog_ttl

    # -- reading ----------------------------------------------------------------------------------------
    def snapshot(self) -> Catalog:
        """The best table there is without the network: memory, else the disk cache, else built-in."""
        if self._merged is not None:
            return self._merged
        if not self._disk_read:
            self._disk_read = True
            path = self.cache_path
            from .. import _catalog_live as live

            table = live.load_cache(path) if path is not None else None
            if table is not None:
                return self._set(table)
        return builtin()

    async def ensure(self, refresh: bool = False) -> Catalog:
        """The table, read from the service first when asked, when expired, or when there is none yet."""
        current = self.snapshot()
        mode = self._session.settings.mode
        if mode == "replay" or not (refresh or self._expired()):
            return current
        if self._reading is None:
            self._reading = asyncio.Lock()
        async with self._reading:  # concurrent first calls read the service once
            if not refresh and not self._expired():
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
        self._fetched, self._failure, self._warned = True, None, False
        path = self.cache_path
        if path is not None:
            try:
                live.save_cache(path, table)
            except OSError as exc:
                warn(f"tokenhot_nb: could not cache the model table in {path} ({exc}).")
        return self._set(table)

    def _fail(self, exc: BaseException) -> None:
        from .._config import redact

        reason = redact(str(getattr(exc, "message", None) or exc) or type(exc).__name__, self._session.settings.api_key)
        self._failure = reason
        self._fetched = True  # offline: do not retry on every lookup; live: the TTL still applies
        if self._warned:
            return
        self._warned = True
        table = self._table
        kept = (f"using the table read {_ago(table.fetched_at)}" if table is not None
                else "using the built-in catalogue only")
        warn(f"tokenhot_nb: could not read the model table of {self._session.client.base_url} ({reason}); "
             f"{kept}.")

    async def resolve(self, name: str | Mapping[str, str], kind: str | None = None,
                      family: str | None = None) -> ModelInfo:
        """A name (or a recorded ``{"id", "family"}``) → :class:`ModelInfo`; reads the service only for names
        that nothing known so far matches."""
        cat = self.snapshot()
        try:
            return cat.with_price(cat.model(name, kind, family))
        except UnknownModelError:  # only a name nothing knows yet is worth reading the service again for
            if self._session.settings.mode == "replay" or not self._expired():
                raise
        from .loop import hop

        cat = await hop(self._session, self.ensure())
        return cat.with_price(cat.model(name, kind, family))

    def note(self) -> str:
        """Where the current table came from, for listings: live / cached / built-in, and the last failure."""
        table = self._table
        if table is None:
            text = "built-in catalogue only (the service's table was not read)"
        else:
            where = "the simulator" if self._session.settings.mode == "offline" else table.base_url
            n_live = sum(1 for m in (self._merged or builtin()).models() if m.source != "built-in")
            text = f"built-in ⊕ {n_live} models from {where}'s table, read {_ago(table.fetched_at)}"
        if self._failure:
            text += f"; the last refresh failed ({self._failure})"
        return text


def _ago(when: float) -> str:
    secs = max(0.0, time.time() - when)
    if secs < 90:
        return "just now"
    if secs < 5400:
        return f"{secs / 60:.0f} min ago"
    if secs < 48 * 3600:
        return f"{secs / 3600:.1f} h ago"
    return f"{secs / 86400:.0f} days ago"
