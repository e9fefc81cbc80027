"""Planner statistics for the tables a sync fills in bulk.

PostgreSQL plans each statement from what it last learnt of a table's size and contents. A sync fills a whole race's
TPS and tallies from nothing, far faster than autovacuum looks (once a minute, if it is on at all): a planner that
still believes the tallies table empty reads a kecamatan's current tallies by scanning the race's, and a national
pass goes quadratic. So the sync analyses the tables it writes itself, as a bulk loader should: after a bootstrap,
and whenever it has written as many tallies again as there were at the last analysis (10,000 at least). SQLite's
planner needs no statistics for these lookups, and gets none.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

#: What a sync writes in bulk, in one ANALYZE.
SYNC_TABLES = ("tps", "tallies", "tally_votes", "tally_findings", "rollups", "rollup_votes", "sync_regions")
_ANALYZE = text("ANALYZE " + ", ".join(SYNC_TABLES))


class PlannerStatistics:
    """When to analyse the sync's tables again: each time the rows written since the last analysis reach the rows
    written before it (and `floor`)."""

    def __init__(self, floor: int = 10_000) -> None:
        self._floor = floor
        self._before = 0
        self._since = 0
        self.analyses = 0

    def wrote(self, rows: int) -> bool:
        """Count `rows` written; whether the tables have grown enough to be analysed again."""
        self._since += rows
        return self._since >= max(self._floor, self._before)

    async def refresh(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Analyse the sync's tables (PostgreSQL; a no-op on SQLite) in a transaction of their own, and start counting
        again. A failure is logged: stale statistics slow the sync down, they must not stop it."""
        try:
            async with sessions.begin() as session:
                if session.get_bind().dialect.name == "postgresql":
                    await session.execute(_ANALYZE)
        except Exception as error:
            log.warning("sync: could not analyse the tables: %r", error)
            return
        self.analysed()

    def analysed(self) -> None:
        """The tables were analysed: what was written so far is what the planner knows."""
        self._before += self._since
        self._since = 0
        self.analyses += 1
