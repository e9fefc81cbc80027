"""The probe loop: probes every target each interval, keeps incident windows and the figures the metrics show."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Histogram

from monitor.incidents import Availability, Incident, Round, TargetState, availability, step
from monitor.probe import Client, Freshness, ProbeResult, Reason, Thresholds, next_freshness, probe
from monitor.settings import Settings, Target
from monitor.store import Store
from sirekap.clock import Clock

log = logging.getLogger(__name__)
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
#: Availability reads the stored probes, so it is recomputed at most this often (clock time), not after every round.
AVAILABILITY_EVERY = timedelta(seconds=30)
#: Old probes are deleted this often (see Settings.retention_days).
PRUNE_EVERY = timedelta(hours=1)


@dataclass
class TargetView:
    """What the monitor currently knows about one target."""

    target: Target
    state: TargetState = field(default_factory=TargetState)
    freshness: Freshness | None = None
    latest: ProbeResult | None = None
    #: The last probe that read the document (up, stale or frozen): its `ts` and progress outlive an outage.
    last_read: ProbeResult | None = None
    last_success_at: datetime | None = None
    probes: Counter[Reason] = field(default_factory=Counter)
    incidents_total: int = 0
    availability: dict[str, Availability] = field(default_factory=dict)


class Monitor:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clients: Mapping[str, Client],
        *,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clients = clients  # one per target, by name
        self.clock = clock or Clock()
        #: How long one probe vouches for, in clock time.
        self.vouch = settings.vouch(self.clock.speed)
        #: This run of the monitor, and its round count: streaks go on only from one round to the next of a run.
        self.run_id = uuid.uuid4().hex[:12]
        self.rounds = 0
        self.views = {t.name: TargetView(t) for t in settings.targets}
        self.thresholds = Thresholds(
            timedelta(seconds=settings.stale_after_seconds),
            timedelta(seconds=settings.frozen_after_seconds),
            settings.source_zone,
            settings.timeout_seconds,
        )
        self._availability_at: datetime | None = None
        self._pruned_at: datetime | None = None
        self.durations = Histogram(
            "pantau_monitor_incident_duration_seconds",
            "Durations of closed incidents.",
            ["target"],
            buckets=(60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 72 * 3600),
            registry=registry,
        )

    async def start(self) -> None:
        """Pick up where the last run stopped: open incidents, failure streaks, unchanged-since times."""
        await self.store.create()
        for name, (state, freshness) in (await self.store.states()).items():
            if name in self.views:
                self.views[name].state, self.views[name].freshness = state, freshness
        for name, at in (await self.store.last_successes()).items():
            if name in self.views:
                self.views[name].last_success_at = at
        for name, view in self.views.items():
            view.last_read = await self.store.last_read(name)
        for incident in await self.store.incidents():
            if incident.target in self.views:
                self.views[incident.target].incidents_total += 1
        await self.refresh_availability(self.clock.now())

    async def probe_all(self) -> list[ProbeResult]:
        self.rounds += 1
        round_ = Round(self.run_id, self.rounds)
        now = self.clock.now()
        results = await asyncio.gather(
            *(
                probe(self.clients[name], v.target, now=now, thresholds=self.thresholds, previous=v.freshness)
                for name, v in self.views.items()
            )
        )
        transitions = []
        for result in results:
            view = self.views[result.target]
            transition = step(
                view.state,
                result,
                round_,
                failures_to_open=self.settings.failures_to_open,
                successes_to_close=self.settings.successes_to_close,
            )
            view.freshness = next_freshness(view.freshness, result)
            transitions.append((result, transition.state, view.freshness, transition.opened, transition.closed))
        states = await self.store.record(transitions)
        for (result, _, _, opened, closed), state in zip(transitions, states, strict=True):
            self._note(result, state, opened, closed)
        if self._availability_at is None or abs(now - self._availability_at) >= AVAILABILITY_EVERY:
            await self.refresh_availability(now)
            self._availability_at = now
        if self._pruned_at is None or abs(now - self._pruned_at) >= PRUNE_EVERY:
            await self.store.prune(now - timedelta(days=self.settings.retention_days))
            self._pruned_at = now
        return list(results)

    def _note(self, result: ProbeResult, state: TargetState, opened: Incident | None, closed: Incident | None) -> None:
        view = self.views[result.target]
        view.state = state
        view.latest = result
        if result.tps_total is not None:
            view.last_read = result
        view.probes[result.reason] += 1
        if result.ok:
            view.last_success_at = result.at
        if opened is not None:
            view.incidents_total += 1
            log.warning("incident opened: %s %s since %s", result.target, opened.reason, self._shown(opened.started_at))
        if closed is not None:
            self.durations.labels(result.target).observe(closed.duration(result.at).total_seconds())
            log.warning("incident closed: %s at %s", result.target, self._shown(closed.ended_at))

    def _shown(self, moment: datetime | None) -> str:
        """`2020-12-09 14:02:24 WITA (06:02:24 UTC)`: the local time people read, and the UTC one logs line up on."""
        if moment is None:
            return "unknown"
        local = moment.astimezone(self.settings.display_zone)
        return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({moment.astimezone(UTC):%H:%M:%S} UTC)"

    async def refresh_availability(self, now: datetime) -> None:
        """Availability over each window, from the stored probes: a restart loses nothing but the time it was off."""
        vouch, widest = self.vouch, max(WINDOWS.values())
        times = await self.store.probe_times(now - widest - vouch, now + timedelta(microseconds=1))
        incidents: dict[str, list[Incident]] = {name: [] for name in self.views}
        for incident in await self.store.incidents(start=now - widest, end=now):
            incidents.setdefault(incident.target, []).append(incident)
        for label, width in WINDOWS.items():
            start = now - width
            maintenance = self.settings.maintenance_spans(start, now)
            for name, view in self.views.items():
                view.availability[label] = availability(
                    times.get(name, []), incidents[name], start=start, end=now, vouch=vouch, maintenance=maintenance
                )

    async def run(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Probe every interval (clock time), on a fixed cadence: a slow round shortens the wait, never shifts the
        schedule."""
        interval = self.clock.real_seconds(self.settings.interval_seconds)
        while True:
            started = time.monotonic()
            try:
                await self.probe_all()
            except Exception:  # a broken store must not stop the probing for good
                log.exception("probe round failed")
            await sleep(max(0.0, interval - (time.monotonic() - started)))

    def open_incidents(self) -> list[Incident]:
        return [v.state.incident for v in self.views.values() if v.state.incident is not None]
