"""Sync metrics kept in the database (`sync_metrics`): the syncer adds each pass's counters and sets its gauges in
the transaction that records the pass; every API process reads them back to export them.

Counters are sums over every pass any syncer ever made, so a scrape of any worker or replica, before or after any
restart, sees the same monotonic values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client.registry import CollectorRegistry
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.sync.metrics import COUNTERS, RaceStats, SyncCollector, SyncStats
from api.sync.models import SyncMetric

log = logging.getLogger("api.sync")


async def store_pass_metrics(session: AsyncSession, race: str, stats: RaceStats) -> None:
    """Add a pass's counters to the stored ones and set its gauges, in the caller's transaction."""
    counters = [{"race": race, "name": n, "label": label, "value": v} for n, label, v in stats.counters()]
    gauges = [{"race": race, "name": n, "label": "", "value": v} for n, v in stats.gauges.items()]
    upsert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    keys = [SyncMetric.race, SyncMetric.name, SyncMetric.label]
    if counters:
        stmt = upsert(SyncMetric).values(counters)
        await session.execute(
            stmt.on_conflict_do_update(index_elements=keys, set_={"value": SyncMetric.value + stmt.excluded.value})
        )
    if gauges:
        stmt = upsert(SyncMetric).values(gauges)
        await session.execute(stmt.on_conflict_do_update(index_elements=keys, set_={"value": stmt.excluded.value}))


async def load_sync_stats(session: AsyncSession) -> SyncStats:
    stats = SyncStats()
    rows = await session.execute(select(SyncMetric.race, SyncMetric.name, SyncMetric.label, SyncMetric.value))
    for race, name, label, value in rows:
        if name in COUNTERS:
            stats.race(race).count(name, label, value)
        else:
            stats.race(race).gauges[name] = value
    return stats


class StoredSyncMetrics:
    """The sync metrics as stored by whichever process syncs: `refresh()` reads them (before each scrape), the
    collector exports what was read last."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.stats = SyncStats()
        self.collector = SyncCollector(lambda: self.stats, clock)

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(self.collector)

    async def refresh(self) -> None:
        """Read the stored metrics; when the database cannot be read, the last values stay (and the lag grows)."""
        try:
            async with self.sessions() as session:
                self.stats = await load_sync_stats(session)
        except (SQLAlchemyError, OSError) as error:
            log.warning("sync metrics: could not read them (%s); exporting the last read", error)
