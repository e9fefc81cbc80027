"""The sync loop's timing, with a fake sleep: after failures it retries sooner, never later than the interval, so it
catches up within one interval of the upstream or the database coming back; and only the holder of the sync lock
syncs."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from api.storage.db import create_engine, sessionmaker
from api.sync.election import SyncLock, sync_lock_for
from api.sync.fetcher import FetchPolicy
from api.sync.service import SyncConfig, SyncService
from sirekap.races import RaceTarget
from sirekap.sim.belu_timeline import WITA
from sirekap.sim.testing import running_simulator
from sirekap.timestamps import WIB
from tests.integration.test_sync_metrics_stored import exported

AT = datetime(2020, 12, 11, 18, 15, tzinfo=WITA)
LABEL = {"race": "pkwkk-5304"}
#: No retries inside a pass, so every call of the fake sleep is the loop's own wait.
POLICY = FetchPolicy(concurrency=8, timeout_seconds=5, retries=0)


class Stop(Exception):
    pass


@dataclass
class FakeSleep:
    """Records the loop's waits without waiting; `hooks[n]` runs during the n-th wait (1-based), as if the world
    changed while the loop slept. The wait numbered `stop_at` ends the loop."""

    stop_at: int
    hooks: dict[int, Callable[[], object]] = field(default_factory=dict)
    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) in self.hooks:
            self.hooks[len(self.waits)]()
        if len(self.waits) >= self.stop_at:
            raise Stop
        await asyncio.sleep(0)


def config(base_url: str, interval: float = 60.0) -> SyncConfig:
    return SyncConfig(
        base_url, (RaceTarget.parse("pkwkk 5304 2020"),), source_zone=WIB, interval_seconds=interval, policy=POLICY
    )


async def follow_until_stopped(
    database_url: str, base_url: str, sleep: FakeSleep, lock: SyncLock | None = None
) -> None:
    engine = create_engine(database_url)
    service = SyncService(config(base_url), sessionmaker(engine), sleep=sleep, clock=lambda: AT, lock=lock)
    try:
        with pytest.raises(Stop):
            await service.follow()
    finally:
        await service.stop()
        await engine.dispose()


async def stored_passes(database_url: str) -> dict[str, float | None]:
    registry = await exported(database_url, AT)
    return {
        outcome: registry.get_sample_value("pantau_sync_passes_total", LABEL | {"outcome": outcome})
        for outcome in ("success", "failure")
    }


def test_waits_after_failures_double_from_the_retry_delay_and_never_pass_the_interval() -> None:
    sixty = config("http://sirekap.invalid")
    assert [sixty.wait_after(n) for n in range(7)] == [60, 5, 10, 20, 40, 60, 60]
    assert max(sixty.wait_after(n) for n in range(1000)) == 60
    fast = config("http://sirekap.invalid", interval=1)
    assert [fast.wait_after(n) for n in range(3)] == [1, 1, 1] and fast.standby_seconds == 1


async def test_after_a_long_outage_the_sync_catches_up_within_one_interval(database_url: str) -> None:
    with running_simulator("belu-2020", at=AT) as sim:
        sim.add_fault("error", status=503)
        sleep = FakeSleep(stop_at=8, hooks={7: sim.clear_faults})  # Sirekap is back during the 7th wait
        await follow_until_stopped(database_url, sim.base_url, sleep)
    # seconds from one failed pass's start to the next's (less the pass itself); after the good one, the interval
    expected = [5, 10, 20, 40, 60, 60, 60]
    assert all(e - 2 < w <= e for w, e in zip(sleep.waits, expected, strict=False)), sleep.waits
    assert len(sleep.waits) == 8 and 0 < sleep.waits[-1] <= 60
    # Sirekap came back during a wait of at most one interval, and the very next pass synced: caught up in time.
    assert await stored_passes(database_url) == {"success": 1, "failure": 7}


async def test_an_unreachable_lock_is_a_failure_retried_as_soon(database_url: str) -> None:
    class DatabaseAway:
        """The sync lock of a deployment whose database is down for the first three checks."""

        def __init__(self) -> None:
            self.checks = 0

        async def held(self) -> bool:
            self.checks += 1
            if self.checks <= 3:
                raise OSError("connection refused")
            return True

        async def release(self) -> None:
            pass

    with running_simulator("belu-2020", at=AT) as sim:
        sleep = FakeSleep(stop_at=4)
        await follow_until_stopped(database_url, sim.base_url, sleep, DatabaseAway())
    assert [round(w) for w in sleep.waits[:3]] == [5, 10, 20] and sleep.waits[3] <= 60
    assert await stored_passes(database_url) == {"success": 1, "failure": 0}


async def test_only_the_holder_of_the_sync_lock_syncs_and_another_takes_over_when_it_stops(database_url: str) -> None:
    with running_simulator("belu-2020", at=AT) as sim:
        engine = create_engine(database_url)
        sessions = sessionmaker(engine)
        first_sleep, second_sleep = FakeSleep(stop_at=3), FakeSleep(stop_at=3)
        first = SyncService(
            config(sim.base_url), sessions, sleep=first_sleep, clock=lambda: AT, lock=sync_lock_for(database_url)
        )
        second = SyncService(
            config(sim.base_url), sessions, sleep=second_sleep, clock=lambda: AT, lock=sync_lock_for(database_url)
        )
        try:
            with pytest.raises(Stop):
                await first.follow()  # three turns holding the lock: three passes
            assert await stored_passes(database_url) == {"success": 3, "failure": 0}
            with pytest.raises(Stop):
                await second.follow()  # three turns standing by: no pass, and a check every standby_seconds
            assert second_sleep.waits == pytest.approx([5, 5, 5], abs=1)
            assert await stored_passes(database_url) == {"success": 3, "failure": 0}
            await first.stop()  # hands the lock over
            second_sleep.waits.clear()
            with pytest.raises(Stop):
                await second.follow()
            assert await stored_passes(database_url) == {"success": 6, "failure": 0}
        finally:
            await first.stop()
            await second.stop()
            await engine.dispose()


async def test_a_single_pass_refuses_while_another_process_syncs(database_url: str) -> None:
    lock = sync_lock_for(database_url)  # as the sync service holds it
    assert await lock.held()
    try:
        env = os.environ | {
            "PANTAU_DATABASE_URL": database_url,
            "PANTAU_SIREKAP_URL": "http://127.0.0.1:9",  # never asked: the pass does not start
            "PANTAU_SYNC_RACES": "pkwkk 5304 2020",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.sync", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await lock.release()
    assert process.returncode == 3, output.decode()
    assert b"another process is syncing this database" in output
    assert await stored_passes(database_url) == {"success": None, "failure": None}
