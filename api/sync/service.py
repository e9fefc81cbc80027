"""The sync service: passes over the configured races, once (`pantau sync`) or in a loop (`pantau sync --follow`,
and inside `pantau api` when `PANTAU_SIREKAP_URL` is set).

A race that is not in the database yet, or whose tree was never bootstrapped, is bootstrapped first
(`api.sync.bootstrap`). Each pass records its outcome in `sync_races` and its counters and gauges in `sync_metrics`
(which every API process exports), in one transaction.

The loop syncs only while this process holds the deployment's sync lock (`api.sync.election`): of all the processes
that follow, one syncs and the others stand by, checking every `standby_seconds`. Each pass starts `interval` after
the previous one started. After a failed pass the next comes sooner, not later: `retry_seconds`, doubling with each
failure in a row but never beyond the interval, so the sync catches up within one interval of the upstream or the
database coming back, while a long outage costs one cheap pass per interval (the fetcher's circuit breaker stops a
pass at the first failures). Time comes from an injected clock and sleep.

Wiring it into the API's lifespan (`api.app.create_app(settings, background=[background_sync])`):

    service = await start_background_sync(settings, sessions, clock, broadcast)   # None when sync is off
    ...
    await service.stop()

One module past 300 lines: a pass, its accounting and the loop that schedules passes share the service's state
(the lock, the failures in a row, the stats); the API's wiring is `api.sync.background`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.live.broadcast import Broadcast, Change
from api.settings import Settings
from api.storage.models import Race, Source
from api.sync.bootstrap import BootstrapFailed, bootstrap_race, find_race
from api.sync.election import AlwaysHeld, SyncLock
from api.sync.fetcher import Fetcher, FetchPolicy, create_client
from api.sync.metric_store import store_pass_metrics
from api.sync.metrics import (
    DURATION,
    LAST_ATTEMPT,
    LAST_SUCCESS,
    TPS_IN,
    TPS_TOTAL,
    UNREADABLE,
    UP,
    UPSTREAM_TS,
    RaceStats,
    SyncStats,
)
from api.sync.pass_result import PassResult
from api.sync.race_context import RaceContext
from api.sync.state import (
    ensure_sync_race,
    prune_rejections,
    record_rejections,
    record_unreadable,
    sync_race,
    unreadable_count,
)
from api.sync.statistics import PlannerStatistics
from api.sync.walker import SyncPass
from api.sync.writer import Writer
from sirekap.races import RaceError, RaceTarget, parse_targets

log = logging.getLogger("api.sync")
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SyncConfig:
    base_url: str
    targets: tuple[RaceTarget, ...]
    source_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    interval_seconds: float = 60.0
    #: The wait after a failed pass; it doubles with each failure in a row, up to the interval.
    retry_seconds: float = 5.0
    policy: FetchPolicy = field(default_factory=FetchPolicy)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SyncConfig:
        if not settings.sirekap_url:
            raise ValueError("PANTAU_SIREKAP_URL is not set: there is nothing to sync from")
        if not settings.sync_races:
            raise ValueError("PANTAU_SYNC_RACES is not set: say which races to sync, e.g. 'pkwkk 5304'")
        try:
            targets = parse_targets(settings.sync_races)
        except RaceError as error:
            raise ValueError(f"PANTAU_SYNC_RACES: {error}") from None
        config = cls(
            base_url=settings.sirekap_url,
            targets=targets,
            source_zone=ZoneInfo(settings.sirekap_zone),
            interval_seconds=settings.sync_interval_seconds,
        )
        return replace(config, **overrides)

    def wait_after(self, failures_in_a_row: int) -> float:
        """Seconds from the start of one pass to the start of the next: the interval, and sooner after a failure."""
        if failures_in_a_row == 0:
            return self.interval_seconds
        return min(self.interval_seconds, self.retry_seconds * 2.0 ** min(failures_in_a_row - 1, 16))

    @property
    def standby_seconds(self) -> float:
        """How often a process that does not hold the sync lock tries to take it."""
        return min(self.interval_seconds, self.retry_seconds)


class SyncService:
    def __init__(
        self,
        config: SyncConfig,
        sessions: async_sessionmaker[AsyncSession],
        *,
        stats: SyncStats | None = None,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
        broadcast: Broadcast | None = None,
        lock: SyncLock | None = None,
    ) -> None:
        self.config = config
        self.broadcast = broadcast
        #: Taken before each pass of the loop; single passes (`run_pass`) do not ask for it.
        self.lock: SyncLock = lock or AlwaysHeld()
        self.sessions = sessions
        self.stats = stats or SyncStats()
        self.clock = clock
        self._sleep = sleep
        self._own_client = client is None
        self.client = client or create_client(config.base_url, config.policy)
        self.fetcher = Fetcher(self.client, config.policy, sleep=sleep, rng=rng)
        self._task: asyncio.Task[None] | None = None
        self.failures_in_a_row = 0
        #: Kept across passes: when the tables the sync fills were last analysed, and how large they were then.
        self.statistics = PlannerStatistics()

    async def run_pass(self, *, full: bool = False) -> dict[str, PassResult]:
        """One pass over every configured race, one race after the other."""
        return {target.label: await self.sync_race(target, full=full) for target in self.config.targets}

    async def sync_race(self, target: RaceTarget, *, full: bool = False) -> PassResult:
        stats = RaceStats()  # this pass's: added to the stored totals when the pass is recorded
        started, start = self.clock(), time.monotonic()
        self.fetcher.reset()
        race_id: int | None = None
        try:
            race_id = await self._bootstrapped(target)
            async with self.sessions() as session:
                ctx = await RaceContext.load(session, race_id, target, self.config.source_zone)
            async with Writer(self.sessions, statistics=self.statistics) as writer:
                result = await SyncPass(ctx, self.fetcher, self.sessions, writer, stats, self.clock, full=full).run()
        except BootstrapFailed as error:
            stats.failures[error.reason] += 1
            result = PassResult("failure", error.reason, f"bootstrap: {error}")
        except (SQLAlchemyError, OSError) as error:
            log.exception("sync of %s: database error", target)
            stats.failures["database"] += 1
            result = PassResult("failure", "database", str(error)[:500])
        duration = time.monotonic() - start
        if race_id is not None:
            # Subscribers hear of a pass before it counts as done: a pass seen in the metrics has been announced.
            await self._announce(race_id, result)
        self._account(target, stats, result, started, duration)
        self.stats.race(target.label).add(stats)
        try:
            await self._record(race_id, target, result, started, stats)
        except (SQLAlchemyError, OSError):
            log.exception("sync of %s: could not record the pass", target)
        return result

    async def _announce(self, race_id: int, result: PassResult) -> None:
        """Tell subscribers which kecamatan moved: one change per kecamatan per pass, however many TPS."""
        if self.broadcast is None or not result.changed_kecamatan:
            return
        try:
            async with self.sessions() as session:
                slug = (await session.get_one(Race, race_id)).slug
            at = self.clock().isoformat()
            for code in sorted(result.changed_kecamatan):
                await self.broadcast.publish(Change(race_id, slug, Source.SIREKAP.value, code, 0, 0, at))
        except Exception:
            # The pass is committed; subscribers missing an announcement must not fail the sync.
            log.exception("sync: could not announce the changes of race %d", race_id)

    async def _bootstrapped(self, target: RaceTarget) -> int:
        async with self.sessions() as session:
            race = await find_race(session, target)
            row = None if race is None else await sync_race(session, race.id)
        if race is not None and row is not None and row.bootstrapped_at is not None:
            return race.id
        outcome = await bootstrap_race(
            self.sessions,
            self.fetcher,
            target,
            source_zone=self.config.source_zone,
            now=self.clock(),
            concurrency=self.config.policy.concurrency,
        )
        await self.statistics.refresh(self.sessions)  # the race's TPS, all at once
        log.info(
            "bootstrapped %s: race %s%s, %d regions and %d TPS added, %d paslon linked, %d documents",
            target,
            outcome.race_id,
            " (new)" if outcome.created else "",
            outcome.regions_added,
            outcome.tps_added,
            outcome.paslon_linked,
            outcome.documents,
        )
        return outcome.race_id

    def _account(
        self, target: RaceTarget, stats: RaceStats, result: PassResult, started: datetime, duration: float
    ) -> None:
        stats.passes[result.outcome] += 1
        gauges = stats.gauges
        gauges[LAST_ATTEMPT] = started.timestamp()
        gauges[DURATION] = duration
        gauges[UP] = 0.0 if result.outcome == "failure" else 1.0
        if result.outcome != "failure":
            gauges[LAST_SUCCESS] = self.clock().timestamp()
        if result.upstream_ts is not None:
            gauges[UPSTREAM_TS] = result.upstream_ts.timestamp()
        if result.tps_total is not None:
            gauges[TPS_IN], gauges[TPS_TOTAL] = float(result.tps_in or 0), float(result.tps_total)
        level = logging.WARNING if result.outcome != "success" else logging.INFO
        summary = result.summary()
        log.log(
            level,
            "sync %s: %s%s in %.1fs, %d TPS written, %d rejected",
            target,
            result.outcome,
            f" ({summary})" if summary else "",
            duration,
            result.tps_written,
            len(result.rejections),
        )

    async def _record(
        self, race_id: int | None, target: RaceTarget, result: PassResult, started: datetime, stats: RaceStats
    ) -> None:
        """The pass's outcome, rejections and metrics, in one transaction (metrics too for a race not bootstrapped)."""
        now = self.clock()
        async with self.sessions.begin() as session:
            if race_id is not None:
                row = await ensure_sync_race(session, race_id, str(target))
                row.last_attempt_at = started
                row.last_outcome = result.outcome
                row.last_reason = f"{result.reason}: {result.detail}"[:500] if result.reason else None
                if result.outcome != "failure":
                    row.last_success_at = now
                if result.upstream_ts is not None:
                    row.upstream_ts = result.upstream_ts
                if result.tps_total is not None:
                    row.tps_in, row.tps_total = result.tps_in, result.tps_total
                if result.rebootstrap:
                    row.bootstrapped_at = None
                await record_rejections(session, race_id, result.rejections, now)
                await prune_rejections(session, race_id)
                await record_unreadable(
                    session, race_id, result.unreadable, read=result.read, settled=result.settled, now=now
                )
                unreadable = float(await unreadable_count(session, race_id))
                stats.gauges[UNREADABLE] = self.stats.race(target.label).gauges[UNREADABLE] = unreadable
            await store_pass_metrics(session, target.label, stats)

    # the loop

    async def follow(self) -> None:
        """Pass after pass until cancelled, while this process holds the sync lock; see the module's docstring."""
        while True:
            began = time.monotonic()
            await self._sleep(max(0.0, await self._turn() - (time.monotonic() - began)))

    async def _turn(self) -> float:
        """A pass if this process is the syncer; the seconds from this turn's start to the next."""
        try:
            elected = await self.lock.held()
            if elected:
                await self._database_ready()
        except Exception as error:  # the database is unreachable: nobody can sync now
            log.warning("sync: cannot reach the database (%s: %s)", type(error).__name__, error)
            self.failures_in_a_row += 1
            return self.config.wait_after(self.failures_in_a_row)
        if not elected:
            self.failures_in_a_row = 0
            return self.config.standby_seconds
        results = await self.run_pass()
        failed = any(r.outcome == "failure" for r in results.values())
        self.failures_in_a_row = self.failures_in_a_row + 1 if failed else 0
        return self.config.wait_after(self.failures_in_a_row)

    async def _database_ready(self) -> None:
        """One statement through the pool before a pass. After a database outage the first use of a stale pooled
        connection fails, and SQLAlchemy then drops every connection of the pool; this way that happens here rather
        than in the first pass after the outage, which would fail and make the sync wait for its next turn."""
        for attempt in (1, 2):
            try:
                async with self.sessions() as session:
                    await session.execute(text("SELECT 1"))
                return
            except (SQLAlchemyError, OSError):
                if attempt == 2:
                    raise

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._follow_logged(), name="pantau-sync")

    async def _follow_logged(self) -> None:
        try:
            await self.follow()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the sync loop stopped")
            raise

    async def stop(self) -> None:
        """Stop the loop (a pass in progress is abandoned: its committed work stays, the rest is redone next time)
        and hand the sync lock over."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with suppress(Exception):
            await self.lock.release()
        if self._own_client:
            await self.client.aclose()
