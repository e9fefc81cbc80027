"""The background sync as the API starts it: on when PANTAU_SIREKAP_URL is set; what it stores is what `/metrics`
exports."""

import asyncio
import time
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.live.broadcast import Change
from api.services import Services
from api.settings import Settings
from api.storage.db import create_engine, sessionmaker
from api.storage.models import Source, Tally
from api.sync.background import background_sync, start_background_sync
from api.sync.metric_store import StoredSyncMetrics
from sirekap.sim.belu_timeline import WITA
from sirekap.sim.testing import running_simulator

LABEL = {"race": "pkwkk-5304"}
NOW = datetime(2020, 12, 11, 10, 30, tzinfo=UTC)


class Heard:
    """A listener of the broadcast that keeps what it hears."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.ready = asyncio.Event()

    def received(self, change: Change) -> None:
        self.changes.append(change)

    def connected(self, *, again: bool) -> None:
        self.ready.set()


async def exported_after_passes(sessions: async_sessionmaker[AsyncSession], passes: int) -> CollectorRegistry:
    """The sync metrics as an API process exports them, once `passes` successful passes are stored."""
    registry = CollectorRegistry()
    stored = StoredSyncMetrics(sessions, lambda: NOW)
    stored.register(registry)
    deadline = time.monotonic() + 60
    while registry.get_sample_value("pantau_sync_passes_total", LABEL | {"outcome": "success"}) != passes:
        assert time.monotonic() < deadline, generate_latest(registry).decode()
        await asyncio.sleep(0.05)
        await stored.refresh()
    return registry


async def test_no_background_sync_without_an_upstream(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await start_background_sync(Settings(database_url=database_url), sessionmaker(engine)) is None
        registry = CollectorRegistry()
        stored = StoredSyncMetrics(sessionmaker(engine), lambda: NOW)
        stored.register(registry)
        await stored.refresh()
        assert b"pantau_sync" not in generate_latest(registry)  # nothing synced, nothing reported
    finally:
        await engine.dispose()


async def test_background_sync_follows_the_upstream_and_the_api_exports_what_it_stored(database_url: str) -> None:
    with running_simulator("belu-2020", at=datetime(2020, 12, 11, 18, 15, tzinfo=WITA)) as sim:
        settings = Settings(database_url=database_url, sirekap_url=sim.base_url, sync_races=("pkwkk 5304 2020",))
        services = Services.build(settings)
        try:
            async with background_sync(services):
                registry = await exported_after_passes(services.sessions, 1)
            assert registry.get_sample_value("pantau_sync_tps_in", LABEL) == 163
            assert registry.get_sample_value("pantau_sync_tps_total", LABEL) == 426
            assert registry.get_sample_value("pantau_sync_documents_total", LABEL | {"outcome": "changed"}) == 163
            assert registry.get_sample_value("pantau_sync_up", LABEL) == 1
            upstream = registry.get_sample_value("pantau_sync_upstream_timestamp_seconds", LABEL)
            assert upstream == datetime(2020, 12, 11, 18, 15, tzinfo=WITA).timestamp()
            # the lag is measured against the exporting process's clock
            assert registry.get_sample_value("pantau_sync_upstream_lag_seconds", LABEL) == NOW.timestamp() - upstream
        finally:
            await services.close()


async def test_a_sync_pass_announces_each_kecamatan_it_moved_once(database_url: str) -> None:
    with running_simulator("belu-2020", at=datetime(2020, 12, 11, 18, 15, tzinfo=WITA)) as sim:
        settings = Settings(database_url=database_url, sirekap_url=sim.base_url, sync_races=("pkwkk 5304 2020",))
        services = Services.build(settings)
        heard = Heard()  # hears the process's transport: in-process on SQLite, LISTEN on PostgreSQL
        listening = asyncio.create_task(services.live.transport.listen(heard))
        try:
            await asyncio.wait_for(heard.ready.wait(), 10)
            async with background_sync(services):
                await exported_after_passes(services.sessions, 1)  # announced before it was recorded
            async with services.sessions() as session:
                synced = await session.scalars(
                    select(Tally.subject_code).where(Tally.source == Source.SIREKAP, Tally.is_current)
                )
                moved = {code[:6] for code in synced}
        finally:
            listening.cancel()
            await services.close()
    assert len(moved) > 1
    assert sorted(c.subject_code for c in heard.changes) == sorted(moved)
    assert {(c.race, c.source, c.version) for c in heard.changes} == {(heard.changes[0].race, "sirekap", 0)}
    assert heard.changes[0].race.startswith("pkwkk-5304")
