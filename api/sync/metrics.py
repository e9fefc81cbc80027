"""Sync metrics: what the syncer reports about each race, and the collector that exports it.

The syncer stores its numbers in the database after every pass (`api.sync.metric_store`); every API worker and
replica exports them from there (`StoredSyncMetrics`), so all of them answer a scrape with the same values, and a
restart of either the syncer or the API loses nothing. All series carry a `race` label (`pkwkk-5304`, `ppwp-0`: the
configured kind and region code):

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

A new per-race gauge is one entry in `GAUGES` and one `stats.gauges[NAME] = value` where the sync knows the value:
it is stored, loaded and exported like the others.
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

LAST_ATTEMPT = "pantau_sync_last_attempt_timestamp_seconds"
LAST_SUCCESS = "pantau_sync_last_success_timestamp_seconds"
UP = "pantau_sync_up"
DURATION = "pantau_sync_pass_duration_seconds"
UPSTREAM_TS = "pantau_sync_upstream_timestamp_seconds"
TPS_IN = "pantau_sync_tps_in"
TPS_TOTAL = "pantau_sync_tps_total"
UNREADABLE = "pantau_sync_unreadable_documents"
LAG = "pantau_sync_upstream_lag_seconds"

#: Counter families (without `_total`): their help text and the label beside `race`. Each always reports the
#: values it lists, even at zero, so rates start from a known point.
COUNTERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "pantau_sync_passes": ("Sync passes by outcome.", "outcome", PASS_OUTCOMES),
    "pantau_sync_failures": ("Failed or refused documents and failed passes, by reason.", "reason", ()),
    "pantau_sync_documents": ("Documents seen by the sync, by outcome.", "outcome", DOCUMENT_OUTCOMES),
}
#: Per-race gauges, by name: help text. A gauge never set for a race is not exported for it.
GAUGES: dict[str, str] = {
    LAST_ATTEMPT: "When the last sync pass started.",
    LAST_SUCCESS: "When the last sync pass that walked the whole tree ended.",
    UP: "1 if the last sync pass walked the whole tree, 0 if it failed.",
    DURATION: "Duration of the last sync pass.",
    UPSTREAM_TS: "The upstream's data time (ts of the race file).",
    TPS_IN: "TPS with data upstream, for the race.",
    TPS_TOTAL: "TPS of the race upstream.",
    UNREADABLE: "Documents of the race that cannot be read now (as of the last pass).",
}


@dataclass
class RaceStats:
    """Counters and gauges of one race: of one pass while it runs, or summed over passes."""

    passes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    documents: Counter[str] = field(default_factory=Counter)
    #: By metric name (`GAUGES`); the newest value wins.
    gauges: dict[str, float] = field(default_factory=dict)

    def _counter(self, name: str) -> Counter[str]:
        by_name = {
            "pantau_sync_passes": self.passes,
            "pantau_sync_failures": self.failures,
            "pantau_sync_documents": self.documents,
        }
        return by_name[name]

    def counters(self) -> Iterator[tuple[str, str, float]]:
        """(family, label value, count) of every counter, zeros left out."""
        for name in COUNTERS:
            for label, count in sorted(self._counter(name).items()):
                if count:
                    yield name, label, float(count)

    def count(self, name: str, label: str, value: float) -> None:
        self._counter(name)[label] += int(value)

    def add(self, other: RaceStats) -> None:
        """Fold a pass into these totals."""
        for name, label, value in other.counters():
            self.count(name, label, value)
        self.gauges.update(other.gauges)


class SyncStats:
    """Stats by race label."""

    def __init__(self) -> None:
        self.races: dict[str, RaceStats] = {}

    def race(self, label: str) -> RaceStats:
        return self.races.setdefault(label, RaceStats())


class SyncCollector(Collector):
    """Fresh metric families on every scrape, from the stats `source` gives at that moment."""

    def __init__(self, source: Callable[[], SyncStats], clock: Callable[[], datetime]) -> None:
        self.source = source
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        stats = self.source()
        if not stats.races:
            return
        counters = {
            name: CounterMetricFamily(name, help_text, labels=["race", label])
            for name, (help_text, label, _) in COUNTERS.items()
        }
        gauges = {name: GaugeMetricFamily(name, help_text, labels=["race"]) for name, help_text in GAUGES.items()}
        lag = GaugeMetricFamily(LAG, "Now minus the upstream's data time.", labels=["race"])
        now = self.clock().timestamp()
        for race, totals in sorted(stats.races.items()):
            counts = {name: dict.fromkeys(always, 0.0) for name, (_, _, always) in COUNTERS.items()}
            for name, label, value in totals.counters():
                counts[name][label] = value
            for name, values in counts.items():
                for label, value in sorted(values.items()):
                    counters[name].add_metric([race, label], value)
            for name, value in totals.gauges.items():
                if name in gauges:
                    gauges[name].add_metric([race], value)
            if UPSTREAM_TS in totals.gauges:
                lag.add_metric([race], max(0.0, now - totals.gauges[UPSTREAM_TS]))
        yield from counters.values()
        yield from gauges.values()
        yield lag


def register_sync_metrics(registry: CollectorRegistry, stats: SyncStats, clock: Callable[[], datetime]) -> None:
    """Export a process's own stats (a sync that runs without a database-backed exporter, and tests)."""
    registry.register(SyncCollector(lambda: stats, clock))
