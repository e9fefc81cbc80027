"""The monitor's Prometheus metrics, built fresh from the monitor's state on every scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.probe import Reason
from monitor.runner import Monitor


class MonitorCollector(Collector):
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        def gauge(name: str, doc: str, labels: tuple[str, ...] = ("target",)) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"pantau_monitor_{name}", doc, labels=list(labels))

        success = gauge("probe_success", "1 when the last probe found the target up, else 0.")
        duration = gauge("probe_duration_seconds", "How long the last probe took.")
        status = gauge("probe_http_status", "HTTP status of the last probe (0 when no answer).")
        probes = CounterMetricFamily(
            "pantau_monitor_probes", "Probes by reason since the monitor started.", labels=["target", "reason"]
        )
        incident_open = gauge("incident_open", "1 while an incident is open.")
        incident_start = gauge("incident_start_timestamp_seconds", "Start of the open incident (Unix time).")
        incident_info = gauge(
            "incident_info",
            "The open incident, its start in the display zone as a label.",
            ("target", "reason", "since_local"),
        )
        incidents = CounterMetricFamily("pantau_monitor_incidents", "Incidents opened, all time.", labels=["target"])
        upstream = gauge(
            "upstream_timestamp_seconds", "The document's own ts (Unix time), as last read; kept in an outage."
        )
        progress = gauge("progress_ratio", "TPS in over TPS total, as last read from the document; kept in an outage.")
        last_success = gauge("last_success_timestamp_seconds", "Time of the last good probe (Unix time).")
        ratio = gauge("availability_ratio", "Up time over observed time in the window.", ("target", "window"))
        coverage = gauge(
            "availability_coverage_ratio", "Observed time over the window (less maintenance).", ("target", "window")
        )
        for name, view in self.monitor.views.items():
            latest = view.latest
            if latest is not None:
                success.add_metric([name], 1.0 if latest.ok else 0.0)
                duration.add_metric([name], latest.duration_seconds)
                status.add_metric([name], float(latest.status or 0))
            read = view.last_read
            if read is not None:
                if read.data_ts is not None:
                    upstream.add_metric([name], read.data_ts.timestamp())
                if read.progress is not None:
                    progress.add_metric([name], read.progress)
            for reason in Reason:
                probes.add_metric([name, reason.value], float(view.probes[reason]))
            incident = view.state.incident
            incident_open.add_metric([name], 1.0 if incident else 0.0)
            if incident is not None:
                incident_start.add_metric([name], incident.started_at.timestamp())
                since = incident.started_at.astimezone(self.monitor.settings.display_zone)
                incident_info.add_metric([name, incident.reason.value, f"{since:%H:%M} {since.tzname()}"], 1.0)
            incidents.add_metric([name], float(view.incidents_total))
            if view.last_success_at is not None:
                last_success.add_metric([name], view.last_success_at.timestamp())
            for window, figures in view.availability.items():
                if figures.ratio is not None:
                    ratio.add_metric([name, window], figures.ratio)
                coverage.add_metric([name, window], figures.coverage)
        yield from (success, duration, status, probes, incident_open, incident_start, incident_info, incidents)
        yield from (upstream, progress)
        yield from (last_success, ratio, coverage)
