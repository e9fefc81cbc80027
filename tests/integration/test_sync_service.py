"""The background sync as the API starts it: on when PANTAU_SIREKAP_URL is set, metrics on the app's registry."""

import asyncio
import time
from datetime import datetime
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select

from api.broadcast import Change, LocalBroadcast
from api.db import create_engine, sessionmaker
from api.models import Source, Tally
from api.settings import Settings
from api.sync.service import background_sync, start_background_sync
from sirekap.sim.belu_timeline import WITA
from sirekap.sim.testing import running_simulator

LABEL = {"race": "pkwkk-5304"}


async def test_no_background_sync_without_an_upstream(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        registry = CollectorRegistry()
        assert await start_background_sync(Settings(database_url=database_url), sessionmaker(engine), registry) is None
        assert b"pantau_sync" not in generate_latest(registry)
    finally:
        await engine.dispose()


async def test_background_sync_follows_the_upstream_and_reports_on_the_registry(database_url: str) -> None:
    with running_simulator("belu-2020", at=datetime(2020, 12, 11, 18, 15, tzinfo=WITA)) as sim:
        settings = Settings(database_url=database_url, sirekap_url=sim.base_url, sync_races=("pkwkk 5304 2020",))
        engine = create_engine(database_url)
        registry = CollectorRegistry()
        state = SimpleNamespace(settings=settings, sessions=sessionmaker(engine), registry=registry)
        try:
            async with background_sync(state):
                deadline = time.monotonic() + 60
                while registry.get_sample_value("pantau_sync_passes_total", LABEL | {"outcome": "success"}) != 1:
                    assert time.monotonic() < deadline, generate_latest(registry).decode()
                    await asyncio.sleep(0.05)
            assert registry.get_sample_value("pantau_sync_tps_in", LABEL) == 163
            assert registry.get_sample_value("pantau_sync_tps_total", LABEL) == 426
            assert registry.get_sample_value("pantau_sync_documents_total", LABEL | {"outcome": "changed"}) == 163
        finally:
            await engine.dispose()


async def test_a_sync_pass_announces_each_kecamatan_it_moved_once(database_url: str) -> None:
    with running_simulator("belu-2020", at=datetime(2020, 12, 11, 18, 15, tzinfo=WITA)) as sim:
        settings = Settings(database_url=database_url, sirekap_url=sim.base_url, sync_races=("pkwkk 5304 2020",))
        engine = create_engine(database_url)
        registry, broadcast = CollectorRegistry(), LocalBroadcast()
        state = SimpleNamespace(
            settings=settings, sessions=sessionmaker(engine), registry=registry, broadcast=broadcast
        )
        heard: list[Change] = []
        try:
            async with broadcast.subscribe() as changes:

                async def listen() -> None:
                    async for change in changes:
                        heard.append(change)

                listener = asyncio.create_task(listen())
                async with background_sync(state):
                    deadline = time.monotonic() + 60
                    while registry.get_sample_value("pantau_sync_passes_total", LABEL | {"outcome": "success"}) != 1:
                        assert time.monotonic() < deadline, generate_latest(registry).decode()
                        await asyncio.sleep(0.05)
                await asyncio.sleep(0.1)
                listener.cancel()
            async with state.sessions() as session:
                synced = await session.scalars(
                    select(Tally.subject_code).where(Tally.source == Source.SIREKAP, Tally.is_current)
                )
                moved = {code[:6] for code in synced}
        finally:
            await engine.dispose()
    assert len(moved) > 1
    assert sorted(c.subject_code for c in heard) == sorted(moved)
    assert {(c.race, c.source, c.version) for c in heard} == {(heard[0].race, "sirekap", 0)}
    assert heard[0].race.startswith("pkwkk-5304")
