"""The reproducible record of every call a session makes.

``Store`` (SQLite WAL + content-addressed artifacts), ``History`` (list-like views, search, usage,
export/load), ``HistoryEntry`` (one call: to_code, to_curl, rerun, resume, result) and ``Artifact``.
"""

from __future__ import annotations

from ._entry import Artifact, HistoryEntry
from ._history import History, UsageSummary
from ._replay import replay_key
from ._store import SCHEMA_VERSION, Store

__all__ = ["SCHEMA_VERSION", "Artifact", "History", "HistoryEntry", "Store", "UsageSummary", "replay_key"]
