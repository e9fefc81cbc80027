"""Sync metrics live in the database: any API process exports the same values, and neither a restarted syncer nor a
restarted API loses or resets them."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest

from api.storage.db import create_engine, sessionmaker
from api.sync.metric_store import StoredSyncMetrics
from sirekap.sim.belu_timeline import WITA
from sirekap.sim.testing import running_simulator
from tests.integration.test_sync_support import FakeClock, sync_harness

LABEL = {"race": "pkwkk-5304"}
EVENING = datetime(2020, 12, 11, 18, 15, tzinfo=WITA)
NEXT_DAY = datetime(2020, 12, 12, 21, 0, tzinfo=WITA)


async def exported(database_url: str, now: datetime) -> CollectorRegistry:
    """What a freshly started API process answers on /metrics for the sync."""
    engine = create_engine(database_url)
    try:
        registry = CollectorRegistry()
        stored = StoredSyncMetrics(sessionmaker(engine), lambda: now)
        stored.register(registry)
        await stored.refresh()
        return registry
    finally:
        await engine.dispose()


async def one_pass(database_url: str, base_url: str, at: datetime) -> None:
    """A syncer process that starts, makes one pass and ends."""
    async with sync_harness(database_url, base_url, FakeClock(at)) as h:
        assert (await h.service.sync_race(h.service.config.targets[0])).outcome == "success"


async def test_counters_add_up_across_restarts_of_the_syncer_and_of_the_api(database_url: str) -> None:
    with running_simulator("belu-2020", at=EVENING) as sim:
        await one_pass(database_url, sim.base_url, EVENING)
        first = await exported(database_url, EVENING)
        assert first.get_sample_value("pantau_sync_passes_total", LABEL | {"outcome": "success"}) == 1
        assert first.get_sample_value("pantau_sync_documents_total", LABEL | {"outcome": "changed"}) == 163
        assert first.get_sample_value("pantau_sync_tps_in", LABEL) == 163

        sim.set_clock(at=NEXT_DAY)
        await one_pass(database_url, sim.base_url, NEXT_DAY)  # another syncer process
    later = await exported(database_url, NEXT_DAY)  # another API process
    assert later.get_sample_value("pantau_sync_passes_total", LABEL | {"outcome": "success"}) == 2
    changed = later.get_sample_value("pantau_sync_documents_total", LABEL | {"outcome": "changed"})
    tps_in = later.get_sample_value("pantau_sync_tps_in", LABEL)
    assert changed is not None and tps_in is not None and tps_in > 163 and changed == tps_in  # each TPS written once
    assert later.get_sample_value("pantau_sync_last_success_timestamp_seconds", LABEL) == NEXT_DAY.timestamp()
    assert later.get_sample_value("pantau_sync_upstream_timestamp_seconds", LABEL) == NEXT_DAY.timestamp()


async def test_every_api_process_exports_the_same_sync_metrics(database_url: str) -> None:
    with running_simulator("belu-2020", at=EVENING) as sim:
        await one_pass(database_url, sim.base_url, EVENING)
    one, two = await exported(database_url, NEXT_DAY), await exported(database_url, NEXT_DAY)
    assert generate_latest(one) == generate_latest(two)
    assert one.get_sample_value("pantau_sync_upstream_lag_seconds", LABEL) == (NEXT_DAY - EVENING).total_seconds()


async def test_a_race_that_never_bootstrapped_still_reports_its_failed_passes(database_url: str) -> None:
    with running_simulator("belu-2020", at=EVENING) as sim:
        sim.add_fault("error", status=503)
        async with sync_harness(database_url, sim.base_url, FakeClock(EVENING)) as h:
            result = await h.service.sync_race(h.service.config.targets[0])
    assert (result.outcome, result.reason) == ("failure", "http_5xx")
    registry = await exported(database_url, EVENING)
    assert registry.get_sample_value("pantau_sync_passes_total", LABEL | {"outcome": "failure"}) == 1
    assert registry.get_sample_value("pantau_sync_failures_total", LABEL | {"reason": "http_5xx"}) == 1
    assert registry.get_sample_value("pantau_sync_up", LABEL) == 0
    assert registry.get_sample_value("pantau_sync_last_attempt_timestamp_seconds", LABEL) == EVENING.timestamp()
    assert registry.get_sample_value("pantau_sync_last_success_timestamp_seconds", LABEL) is None
