"""Sync metrics: a custom collector that builds fresh metric families from `SyncStats` on every scrape.

All series carry a `race` label (`pkwkk-5304`, `ppwp-0`: the configured kind and region code):

    pantau_sync_passes_total{race,outcome}           passes by outcome: success | partial | failure
    pantau_sync_failures_total{race,reason}          failed or refused documents and failed passes, by reason
    pantau_sync_documents_total{race,outcome}        fetched (200) | not_modified (304) | changed | rejected
    pantau_sync_last_attempt_timestamp_seconds       when the last pass started
    pantau_sync_last_success_timestamp_seconds       when the last pass that walked the whole tree ended
                                                     (outcome success or partial)
    pantau_sync_up                                   1 if the last pass walked the whole tree, else 0
    pantau_sync_pass_duration_seconds                how long the last pass took
    pantau_sync_upstream_timestamp_seconds           the upstream's own data time: `ts` of the race's file
    pantau_sync_upstream_lag_seconds                 now minus that `ts` (grows while Sirekap is down or frozen)
    pantau_sync_tps_in / pantau_sync_tps_total       the upstream's progress for the race (TPS in, TPS total)
    pantau_sync_unreadable_documents                 documents of the race that cannot be read now (HTML, truncated,
                                                     not JSON, wrong shape, a 404 or other 4xx for that document),
                                                     as of the last pass

`reason` values: the fetch reasons of `api.sync.fetcher` (refused, timeout, transport, http_5xx, http_4xx, throttled,
not_found, circuit_open), the document reasons of `sirekap.documents` (html, truncated, not_json, shape), and
stale (a `ts` older than one already stored), unknown_region, database, bootstrap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

PASS_OUTCOMES = ("success", "partial", "failure")
DOCUMENT_OUTCOMES = ("fetched", "not_modified", "changed", "rejected")


@dataclass
class RaceStats:
    """Counters since the process started, and the state of the last pass, for one race."""

    passes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    documents: Counter[str] = field(default_factory=Counter)
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    up: bool | None = None
    duration_seconds: float | None = None
    upstream_ts: datetime | None = None
    tps_in: int | None = None
    tps_total: int | None = None
    unreadable: int | None = None


class SyncStats:
    """What the sync reports about itself; the service writes it, the collector reads it."""

    def __init__(self) -> None:
        self.races: dict[str, RaceStats] = {}

    def race(self, label: str) -> RaceStats:
        return self.races.setdefault(label, RaceStats())


class SyncCollector(Collector):
    def __init__(self, stats: SyncStats, clock: Callable[[], datetime]) -> None:
        self.stats = stats
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        passes = CounterMetricFamily("pantau_sync_passes", "Sync passes by outcome.", labels=["race", "outcome"])
        failures = CounterMetricFamily(
            "pantau_sync_failures",
            "Failed or refused documents and failed passes, by reason.",
            labels=["race", "reason"],
        )
        documents = CounterMetricFamily(
            "pantau_sync_documents", "Documents seen by the sync, by outcome.", labels=["race", "outcome"]
        )
        attempt = _gauge("pantau_sync_last_attempt_timestamp_seconds", "When the last sync pass started.")
        success = _gauge(
            "pantau_sync_last_success_timestamp_seconds", "When the last sync pass that walked the whole tree ended."
        )
        up = _gauge("pantau_sync_up", "1 if the last sync pass walked the whole tree, 0 if it failed.")
        duration = _gauge("pantau_sync_pass_duration_seconds", "Duration of the last sync pass.")
        upstream = _gauge("pantau_sync_upstream_timestamp_seconds", "The upstream's data time (ts of the race file).")
        lag = _gauge("pantau_sync_upstream_lag_seconds", "Now minus the upstream's data time.")
        tps_in = _gauge("pantau_sync_tps_in", "TPS with data upstream, for the race.")
        tps_total = _gauge("pantau_sync_tps_total", "TPS of the race upstream.")
        unreadable = _gauge(
            "pantau_sync_unreadable_documents", "Documents of the race that cannot be read now (as of the last pass)."
        )
        now = self.clock()
        for label, race in sorted(self.stats.races.items()):
            for outcome in PASS_OUTCOMES:
                passes.add_metric([label, outcome], race.passes[outcome])
            for reason, count in sorted(race.failures.items()):
                failures.add_metric([label, reason], count)
            for outcome in DOCUMENT_OUTCOMES:
                documents.add_metric([label, outcome], race.documents[outcome])
            if race.last_attempt is not None:
                attempt.add_metric([label], race.last_attempt.timestamp())
            if race.last_success is not None:
                success.add_metric([label], race.last_success.timestamp())
            if race.up is not None:
                up.add_metric([label], 1.0 if race.up else 0.0)
            if race.duration_seconds is not None:
                duration.add_metric([label], race.duration_seconds)
            if race.upstream_ts is not None:
                upstream.add_metric([label], race.upstream_ts.timestamp())
                lag.add_metric([label], max(0.0, (now - race.upstream_ts).total_seconds()))
            if race.tps_in is not None:
                tps_in.add_metric([label], race.tps_in)
            if race.tps_total is not None:
                tps_total.add_metric([label], race.tps_total)
            if race.unreadable is not None:
                unreadable.add_metric([label], race.unreadable)
        yield from (passes, failures, documents, attempt, success, up, duration, upstream, lag, tps_in, tps_total)
        yield unreadable


def _gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=["race"])


def register_sync_metrics(registry: CollectorRegistry, stats: SyncStats, clock: Callable[[], datetime]) -> None:
    registry.register(SyncCollector(stats, clock))
