"""What the API's requests and background tasks share, built once per process and typed: a resolver or the
background sync asks for what it uses by name.

    services = Services.build(settings)     # in create_app
    ...
    await services.close()                  # at shutdown
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.graphql.subscriptions import RegionSnapshots
from api.live.broadcast import broadcast_for
from api.live.updates import LiveUpdates
from api.read.catalog import Catalog
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from api.write.submissions import Submissions


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    #: Sessions for writes: the caller owns the transaction.
    sessions: async_sessionmaker[AsyncSession]
    #: Sessions for reads, in autocommit: no BEGIN and ROLLBACK round trips per statement.
    reads: async_sessionmaker[AsyncSession]
    #: The process's metrics (the HTTP metrics and the sync metrics the syncer stored).
    registry: CollectorRegistry
    #: Races, paslon and the region tree, read once per process.
    catalog: Catalog
    #: Changes announced to every worker, delivered to subscribers coalesced per region.
    live: LiveUpdates
    #: The boundary of every write.
    submissions: Submissions
    redis: Redis | None

    @classmethod
    def build(cls, settings: Settings) -> Services:
        engine = create_engine(settings.database_url)
        reads = sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
        sessions = sessionmaker(engine)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        catalog = Catalog(reads, settings.cache_version_seconds)
        transport = broadcast_for(settings.database_url, redis, settings.redis_prefix)
        live = LiveUpdates(transport, RegionSnapshots(reads, catalog))
        submissions = Submissions(sessions, live, clock=settings.clock.now, catalog=catalog, reads=reads)
        return cls(settings, engine, sessions, reads, CollectorRegistry(), catalog, live, submissions, redis)

    async def close(self) -> None:
        await self.live.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
