"""What the calls of a budget period cost, counted once and then only where rows changed.

A budget is checked before every call, and summing every row of the period each time made that check grow with
the history (about 4 ms a call at 10,000 rows). A tally remembers, per connection and period, the total of the rows
that had ended when it was taken (their cost is final) and the ids still running or pending (counted afresh each
time). The next check reads only rows added since and those ids. The tally is dropped when another connection
committed (``PRAGMA data_version``), or when this process rewrote or deleted a row it had counted as final.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from dataclasses import dataclass

#: A row without a known cost counts what its call reserved of the budget (``usage.reserved``, its estimate, written
#: when a budget is set): a call in flight in another kernel on the same store counts against the shared budget,
#: and so does one that ended without its cost being told (a 5xx, a broken answer, an interrupt: the relay may
#: have billed it), which keeps its reservation. A spending cap must never read an unknown as $0.
#: A negative amount (an edited or imported row) counts as none: no call pays money back, and a budget that took
#: one as such let more calls through.
_USD = "MAX(COALESCE(json_extract(usage, '$.cost.usd'), json_extract(usage, '$.reserved.usd'), 0), 0)"
_USD_OPEN = _USD
_SIMULATED = "COALESCE(json_extract(usage, '$.cost.simulated'), json_extract(usage, '$.reserved.simulated'), 0)"
_OPEN = "status IN ('running', 'pending')"
#: A finished call that sent a request (a refusal before any request has no endpoint) and whose cost is unknown.
_UNKNOWN = f"NOT {_OPEN} AND endpoint <> '' AND json_extract(usage, '$.cost.usd') IS NULL"
#: Simulated or real, for a row that may hold neither a cost nor a reservation: its session's mode then says.
_SIMULATED_ROW = ("COALESCE(json_extract(usage, '$.cost.simulated'), json_extract(usage, '$.reserved.simulated'), "
                  "mode <> 'live')")

#: Changes remembered for tallies to look through (a tally older than that is taken again).
_LOG = 4096

#: The total the tally stands for, in one statement (what the store answered before tallies; tests compare).
PLAIN_SQL = f"SELECT COALESCE(SUM({_USD_OPEN}), 0) FROM entries WHERE started >= ? AND {_SIMULATED} = ?"


@dataclass(frozen=True)
class Unknown:
    """The calls of a budget period that ended with their cost unknown, for the budget to say so."""

    calls: int = 0
    counted_usd: float = 0.0  #: what they count for: their reservations (estimates)
    unestimated: int = 0  #: of them, those that had no estimate either: they count for nothing


def unknown(conn: sqlite3.Connection, since: float, simulated: bool) -> Unknown:
    """:class:`Unknown` of the period that began at ``since`` (one read; for messages, not for every check)."""
    calls, usd, bare = conn.execute(
        f"SELECT COUNT(*), COALESCE(SUM(json_extract(usage, '$.reserved.usd')), 0), "
        f"COALESCE(SUM(json_extract(usage, '$.reserved.usd') IS NULL), 0) FROM entries "
        f"WHERE started >= ? AND {_UNKNOWN} AND {_SIMULATED_ROW} = ?", (since, 1 if simulated else 0)).fetchone()
    return Unknown(int(calls), float(usd), int(bare))


@dataclass
class _Tally:
    version: int  #: ``PRAGMA data_version`` when taken: another connection's commit changes it
    rewrites: int  #: :attr:`Spending.rewrites` when taken
    upto: int  #: the highest id counted
    final: float  #: cost of the rows up to ``upto`` that had ended
    open: tuple[int, ...]  #: rows up to ``upto`` still running or pending: counted afresh each time
    changes: int | None = None  #: the store's count of changes to finished rows when taken (None: not kept)


class Spending:
    """The tallies of one store. Each thread's connection keeps its own (``data_version`` is per connection), in
    that thread's storage, so they go with the connection. Rows this process changes are logged: a tally that
    counted one of them as final is taken again."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.rewrites = 0  #: sequence number of the last change logged
        self._log: deque[tuple[int, int]] = deque(maxlen=_LOG)  #: (sequence number, id; 0: every row)

    def rewritten(self, *entry_ids: int) -> None:
        """This process changed (or deleted) these rows."""
        with self._lock:
            for entry_id in entry_ids:
                self.rewrites += 1
                self._log.append((self.rewrites, entry_id))

    def reset(self) -> None:
        """Rows were changed in bulk: every tally is taken again."""
        self.rewritten(0)

    def _stale(self, tally: _Tally) -> bool:
        """Whether a row ``tally`` counted as final was changed by this process since it was taken."""
        if tally.rewrites == self.rewrites:
            return False
        with self._lock:
            if not self._log or self._log[0][0] > tally.rewrites + 1:  # the log no longer reaches back to it
                return True
            for seq, i in reversed(self._log):  # the newest first: usually a few calls' worth
                if seq <= tally.rewrites:
                    return False
                if i == 0 or (i <= tally.upto and i not in tally.open):
                    return True
        return False

    def spent(self, conn: sqlite3.Connection, since: float, simulated: bool) -> float:
        sim = 1 if simulated else 0
        began = not conn.in_transaction
        if began:
            conn.execute("BEGIN")  # one snapshot: a row ending between two of these reads is counted once
        try:
            return self._count(conn, since, sim)
        finally:
            if began and conn.in_transaction:  # (a failed read may have ended it already: its error is the one raised)
                conn.execute("COMMIT")

    def _count(self, conn: sqlite3.Connection, since: float, sim: int) -> float:
        mine: tuple[sqlite3.Connection, dict[tuple[float, int], _Tally]] | None = getattr(self._local, "tallies", None)
        if mine is None or mine[0] is not conn:  # (a store reopened in this thread: a new connection)
            mine = self._local.tallies = (conn, {})
        tallies = mine[1]
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        row = conn.execute("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'final_changes'").fetchone()
        changes = int(row[0]) if row is not None else None
        old = tallies.get((since, sim))
        rewrites = self.rewrites  # (read first: a change logged while this counts makes the next count look)
        if old is None or (old.changes != changes if changes is not None else
                           (old.version != version or self._stale(old))):
            old = _Tally(version, rewrites, 0, 0.0, (), changes)
        top = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM entries").fetchone()[0])
        final = old.final
        check = list(old.open)
        if top > old.upto:
            final += float(conn.execute(
                f"SELECT COALESCE(SUM({_USD}), 0) FROM entries WHERE id > ? AND id <= ? AND NOT {_OPEN} "
                f"AND started >= ? AND {_SIMULATED} = ?", (old.upto, top, since, sim)).fetchone()[0])
            check += [int(r[0]) for r in conn.execute(
                f"SELECT id FROM entries WHERE id > ? AND id <= ? AND {_OPEN} AND started >= ?",
                (old.upto, top, since))]
        live, still = 0.0, []
        for i in range(0, len(check), 500):
            part = check[i:i + 500]
            for entry_id, is_open, usd, matches in conn.execute(
                    f"SELECT id, {_OPEN}, CAST({_USD_OPEN} AS REAL), {_SIMULATED} = ? FROM entries WHERE id IN "
                    f"({', '.join('?' * len(part))})", (sim, *part)):
                if is_open:
                    still.append(int(entry_id))
                    live += float(usd) if matches else 0.0
                elif matches:
                    final += float(usd)
        tallies[(since, sim)] = _Tally(version, rewrites, top, final, tuple(still), changes)
        return final + live
