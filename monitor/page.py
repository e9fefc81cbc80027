"""The status page: server-rendered HTML with inline SVG, readable on a phone, every time in the display zone.

Timelines draw what the monitor saw: green up, red an incident, grey time nobody observed (the monitor was not
running), blue hatching maintenance. No script: the page refreshes itself every 30 seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from monitor.incidents import Incident, Span, observed
from monitor.probe import ProbeResult
from monitor.runner import TargetView
from monitor.views import headline, local, state

WIDTH = 600
STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:52rem;padding:1rem;color:#222;line-height:1.4}
h1{font-size:1.3rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem;margin:1.2rem 0 .3rem}
.banner{padding:1rem;border-radius:.5rem;font-size:1.3rem;font-weight:600;margin:.5rem 0}
.up{background:#e6f4ea;color:#1e6b34}.down{background:#fdecea;color:#a1271c}.degraded{background:#fef7e0;color:#7a5200}
.unknown{background:#eee}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{text-align:left;padding:.3rem;border-bottom:1px solid #ddd}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #ddd}svg text{font-size:15px;fill:#444}
.muted{color:#666;font-size:.85rem}.key span{display:inline-block;width:.8rem;height:.8rem;margin:0 .2rem 0 .6rem}
"""
COLOURS = {"up": "#34a853", "down": "#d93025", "unknown": "#d0d0d0"}


@dataclass(frozen=True)
class TargetPage:
    """What the page shows of one target: its view, incidents of the last 7 days, probes of the last 24 h and
    when it was probed over the last 7 days."""

    view: TargetView
    incidents: list[Incident]
    probes: list[ProbeResult]
    probe_times: list[datetime]


def render(
    targets: Sequence[TargetPage],
    now: datetime,
    zone: ZoneInfo,
    *,
    vouch: timedelta,
    maintenance: Callable[[datetime, datetime], list[Span]],
) -> str:
    sections = "".join(_target(t, now, zone, vouch, maintenance) for t in targets)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta http-equiv='refresh' content='30'><title>Sirekap status</title><style>{STYLE}</style></head><body>"
        f"<h1>Sirekap status</h1><p class='muted'>As of {escape(local(now, zone) or '')}; every time in "
        f"{escape(now.astimezone(zone).tzname() or str(zone))}.</p>{sections}</body></html>"
    )


def _target(
    page: TargetPage,
    now: datetime,
    zone: ZoneInfo,
    vouch: timedelta,
    maintenance: Callable[[datetime, datetime], list[Span]],
) -> str:
    view = page.view
    facts = []
    if view.latest is not None:
        latest = view.latest
        facts.append(f"last probe {local(latest.at, zone)}: {latest.reason.value.replace('_', ' ')} ({latest.detail})")
    if view.last_read is not None:
        read = view.last_read
        if read.data_ts:
            facts.append(f"data as of {local(read.data_ts, zone)}")
        if read.tps_in is not None and read.tps_total:
            facts.append(f"{read.tps_in} of {read.tps_total} TPS in ({read.tps_in / read.tps_total:.0%})")
    rows = "".join(
        f"<tr><td>{escape(w)}</td><td>{_percent(a.ratio)}</td><td>{a.coverage:.0%}</td>"
        f"<td>{_hours(timedelta(seconds=a.unknown_seconds))}</td></tr>"
        for w, a in view.availability.items()
    )
    seen = observed(page.probe_times, end=now, vouch=vouch)
    day, week = (now - timedelta(hours=24), now), (now - timedelta(days=7), now)
    return (
        f"<section><h2>{escape(view.target.name)}</h2>"
        f"<div class='banner {state(view)}'>{escape(headline(view, zone))}</div>"
        f"<p class='muted'>{escape(' · '.join(facts))}</p>"
        "<h3>Availability</h3><table><tr><th>window</th><th>available</th><th>coverage</th><th>not observed</th></tr>"
        f"{rows}</table><p class='muted'>Availability counts only the time the monitor observed, less maintenance; "
        "coverage is the share it observed.</p>"
        f"<h3>Incidents, last 24 h</h3>{_timeline(page.incidents, seen, maintenance(*day), *day, zone, _hour_ticks)}"
        f"<h3>Incidents, last 7 days</h3>{_timeline(page.incidents, seen, maintenance(*week), *week, zone, _day_ticks)}"
        f"{_key()}{_incident_table(page.incidents, now, zone)}"
        f"<h3>TPS progress, last 24 h</h3>{_progress_chart(page.probes, *day, zone)}</section>"
    )


def _percent(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2%}"


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _x(at: datetime, start: datetime, end: datetime) -> float:
    return max(0.0, min(WIDTH, (at - start) / (end - start) * WIDTH))


def _bars(spans: Sequence[Span], start: datetime, end: datetime, y: int, height: int, fill: str, title: str) -> str:
    return "".join(
        f"<rect x='{_x(s, start, end):.1f}' y='{y}' height='{height}' fill='{fill}' "
        f"width='{max(0.5, _x(e, start, end) - _x(s, start, end)):.1f}'><title>{escape(title)}</title></rect>"
        for s, e in spans
        if e > start and s < end
    )


Ticks = Callable[[datetime, datetime, ZoneInfo], list[tuple[datetime, str]]]


def _hour_ticks(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, str]]:
    first = start.astimezone(zone).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    hours = (first + timedelta(hours=h) for h in range(25))
    return [(at, f"{at:%H:%M}") for at in hours if at < end and at.hour % 6 == 0]


def _day_ticks(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, str]]:
    first = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    days = (first + timedelta(days=d) for d in range(8))
    return [(at, f"{at:%d %b}") for at in days if at < end]


def _axis(start: datetime, end: datetime, zone: ZoneInfo, ticks: Ticks, top: int, bottom: int) -> str:
    return "".join(
        f"<line x1='{_x(at, start, end):.1f}' x2='{_x(at, start, end):.1f}' y1='{top}' y2='{bottom}' stroke='#999'/>"
        f"<text x='{_x(at, start, end):.1f}' y='{bottom + 15}' text-anchor='middle'>{escape(label)}</text>"
        for at, label in ticks(start, end, zone)
    )


def _timeline(
    incidents: list[Incident],
    seen: list[Span],
    maintenance: list[Span],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    ticks: Ticks,
) -> str:
    down = [(i.started_at, i.ended_at or end) for i in incidents]
    return (
        f"<svg viewBox='0 0 {WIDTH} 56' role='img' aria-label='incident timeline'>"
        f"{_bars([(start, end)], start, end, 5, 26, COLOURS['unknown'], 'not observed')}"
        f"{_bars(seen, start, end, 5, 26, COLOURS['up'], 'up')}"
        + "".join(
            _bars(_clip(span, seen), start, end, 5, 26, COLOURS["down"], i.reason.value.replace("_", " "))
            for i, span in zip(incidents, down, strict=True)
        )
        + f"{_bars(maintenance, start, end, 5, 26, 'url(#hatch)', 'maintenance')}"
        "<defs><pattern id='hatch' width='6' height='6' patternUnits='userSpaceOnUse' patternTransform='rotate(45)'>"
        "<rect width='3' height='6' fill='#4a7bd0' fill-opacity='.6'/></pattern></defs>"
        f"{_axis(start, end, zone, ticks, 31, 36)}</svg>"
    )


def _clip(span: Span, seen: list[Span]) -> list[Span]:
    return [(max(span[0], s), min(span[1], e)) for s, e in seen if max(span[0], s) < min(span[1], e)]


def _key() -> str:
    return (
        "<p class='muted key'>"
        f"<span style='background:{COLOURS['up']}'></span>up<span style='background:{COLOURS['down']}'></span>incident"
        f"<span style='background:{COLOURS['unknown']}'></span>not observed"
        "<span style='background:#4a7bd0;opacity:.6'></span>maintenance</p>"
    )


def _incident_table(incidents: list[Incident], now: datetime, zone: ZoneInfo) -> str:
    if not incidents:
        return "<p>No incidents in the last 7 days.</p>"
    rows = "".join(
        f"<tr><td>{escape(local(i.started_at, zone) or '')}</td><td>{escape(local(i.ended_at, zone) or 'ongoing')}</td>"
        f"<td>{escape(i.reason.value.replace('_', ' '))}</td><td>{_hours(i.duration(now))}</td></tr>"
        for i in reversed(incidents)
    )
    return f"<table><tr><th>from</th><th>until</th><th>reason</th><th>duration</th></tr>{rows}</table>"


def _progress_chart(probes: list[ProbeResult], start: datetime, end: datetime, zone: ZoneInfo) -> str:
    points = [(p.at, p.progress) for p in probes if p.progress is not None]
    if not points:
        return "<p>No progress read yet.</p>"

    def y(value: float) -> float:
        return 115 - value * 100

    line = " ".join(f"{_x(at, start, end):.1f},{y(value):.1f}" for at, value in points)
    grid = "".join(
        f"<line x1='0' y1='{y(v)}' x2='{WIDTH}' y2='{y(v)}' stroke='#ccc'/>"
        f"<text x='2' y='{y(v) + (14 if v else -3)}'>{v:.0%}</text>"
        for v in (0.0, 0.5, 1.0)
    )
    first, last = points[0], points[-1]
    return (
        f"<svg viewBox='0 0 {WIDTH} 140' role='img' aria-label='TPS progress over time'>{grid}"
        f"{_axis(start, end, zone, _hour_ticks, 115, 120)}"
        f"<polyline fill='none' stroke='#1a73e8' stroke-width='2' points='{line}'/></svg>"
        f"<p class='muted'>{last[1]:.0%} of TPS in at {escape(local(last[0], zone) or '')} "
        f"(from {first[1]:.0%} at {escape(local(first[0], zone) or '')})</p>"
    )
