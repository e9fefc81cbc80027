"""The status page: server-rendered HTML, readable on a phone, every time in the display zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from monitor.incidents import Incident
from monitor.probe import ProbeResult
from monitor.runner import TargetView
from monitor.views import headline, local

STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:52rem;padding:1rem;color:#222}
h1{font-size:1.3rem}.banner{padding:1rem;border-radius:.5rem;font-size:1.3rem;font-weight:600;margin:.5rem 0}
.up{background:#e6f4ea;color:#1e6b34}.down{background:#fdecea;color:#a1271c}.unknown{background:#eee}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{text-align:left;padding:.3rem;border-bottom:1px solid #ddd}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #ddd}.muted{color:#666;font-size:.85rem}
"""


def render(views: list[tuple[TargetView, list[Incident], list[ProbeResult]]], now: datetime, zone: ZoneInfo) -> str:
    sections = "".join(_target(view, incidents, probes, now, zone) for view, incidents, probes in views)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta http-equiv='refresh' content='30'><title>Sirekap status</title><style>{STYLE}</style></head><body>"
        f"<h1>Sirekap status</h1><p class='muted'>As of {escape(local(now, zone) or '')}</p>{sections}</body></html>"
    )


def _target(
    view: TargetView, incidents: list[Incident], probes: list[ProbeResult], now: datetime, zone: ZoneInfo
) -> str:
    state = "down" if view.state.incident else ("unknown" if view.latest is None else "up")
    latest = view.latest
    facts = []
    if latest is not None:
        facts.append(f"last probe {local(latest.at, zone)}: {latest.reason.value} ({latest.detail})")
        if latest.data_ts:
            facts.append(f"data as of {local(latest.data_ts, zone)}")
        if latest.tps_in is not None and latest.tps_total:
            facts.append(f"{latest.tps_in} of {latest.tps_total} TPS in ({latest.tps_in / latest.tps_total:.0%})")
    rows = "".join(
        f"<tr><td>{escape(w)}</td><td>{_percent(a.ratio)}</td><td>{a.coverage:.0%}</td></tr>"
        for w, a in view.availability.items()
    )
    return (
        f"<section><h2>{escape(view.target.name)}</h2>"
        f"<div class='banner {state}'>{escape(headline(view, zone))}</div>"
        f"<p class='muted'>{escape(' · '.join(facts))}</p>"
        f"<h3>Availability</h3><table><tr><th>window</th><th>available</th><th>coverage</th></tr>{rows}</table>"
        f"<h3>Incidents, last 24 h</h3>{_timeline(incidents, now - timedelta(hours=24), now)}"
        f"<h3>Incidents, last 7 days</h3>{_timeline(incidents, now - timedelta(days=7), now)}"
        f"{_incident_table(incidents, now, zone)}"
        f"<h3>TPS progress</h3>{_progress_chart(probes, now - timedelta(hours=24), now, zone)}</section>"
    )


def _percent(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2%}"


def _x(at: datetime, start: datetime, end: datetime, width: float = 600) -> float:
    return max(0.0, min(width, (at - start) / (end - start) * width))


def _timeline(incidents: list[Incident], start: datetime, end: datetime) -> str:
    bars = "".join(
        f"<rect x='{_x(i.started_at, start, end):.1f}' y='5' height='20' fill='#d93025' "
        f"width='{max(1.0, _x(i.ended_at or end, start, end) - _x(i.started_at, start, end)):.1f}'>"
        f"<title>{escape(i.reason.value)}</title></rect>"
        for i in incidents
        if (i.ended_at or end) > start and i.started_at < end
    )
    return f"<svg viewBox='0 0 600 30' role='img' aria-label='incident timeline'>{bars}</svg>"


def _incident_table(incidents: list[Incident], now: datetime, zone: ZoneInfo) -> str:
    if not incidents:
        return "<p>No incidents in the last 7 days.</p>"
    rows = "".join(
        f"<tr><td>{escape(local(i.started_at, zone) or '')}</td><td>{escape(local(i.ended_at, zone) or 'ongoing')}</td>"
        f"<td>{escape(i.reason.value)}</td><td>{_hours(i.duration(now))}</td></tr>"
        for i in reversed(incidents)
    )
    return f"<table><tr><th>from</th><th>until</th><th>reason</th><th>duration</th></tr>{rows}</table>"


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _progress_chart(probes: list[ProbeResult], start: datetime, end: datetime, zone: ZoneInfo) -> str:
    points = [(p.at, p.progress) for p in probes if p.progress is not None]
    if not points:
        return "<p>No progress read yet.</p>"
    line = " ".join(f"{_x(at, start, end):.1f},{110 - value * 100:.1f}" for at, value in points)
    first, last = points[0], points[-1]
    return (
        "<svg viewBox='0 0 600 120' role='img' aria-label='TPS progress over time'>"
        "<line x1='0' y1='10' x2='600' y2='10' stroke='#ccc'/><line x1='0' y1='110' x2='600' y2='110' stroke='#ccc'/>"
        f"<polyline fill='none' stroke='#1a73e8' stroke-width='2' points='{line}'/></svg>"
        f"<p class='muted'>{last[1]:.0%} of TPS in at {escape(local(last[0], zone) or '')} "
        f"(from {first[1]:.0%} at {escape(local(first[0], zone) or '')})</p>"
    )
