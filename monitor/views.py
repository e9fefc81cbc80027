"""What the JSON API and the status page show about a target, in UTC and in the display zone."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.incidents import Incident
from monitor.runner import TargetView

INCIDENT_FIELDS = [
    "id",
    "target",
    "reason",
    "detail",
    "started_at",
    "ended_at",
    "started_local",
    "ended_local",
    "duration_seconds",
]


def local(at: datetime | None, zone: ZoneInfo) -> str | None:
    """`2020-12-09 14:02 WITA`."""
    if at is None:
        return None
    moment = at.astimezone(zone)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()}"


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def state(view: TargetView) -> str:
    """up; degraded (failing, not yet an incident); down (an open incident, whatever its reason); unknown."""
    if view.state.incident is not None:
        return "down"
    if view.latest is None:
        return "unknown"
    return "up" if view.latest.ok else "degraded"


def status(view: TargetView, zone: ZoneInfo) -> dict[str, Any]:
    latest, incident, read = view.latest, view.state.incident, view.last_read
    return {
        "target": view.target.name,
        "url": view.target.url,
        "state": state(view),
        "reason": (incident.reason.value if incident else latest.reason.value if latest else None),
        "detail": (incident.detail if incident else latest.detail if latest else None),
        "since": iso(incident.started_at) if incident else None,
        "since_local": local(incident.started_at, zone) if incident else None,
        "headline": headline(view, zone),
        "last_probe_at": iso(latest.at) if latest else None,
        "last_success_at": iso(view.last_success_at),
        # as last read from the document, also while it cannot be read
        "data_ts": iso(read.data_ts) if read else None,
        "data_ts_local": local(read.data_ts, zone) if read else None,
        "tps_in": read.tps_in if read else None,
        "tps_total": read.tps_total if read else None,
        "availability": {
            window: {
                "ratio": a.ratio,
                "coverage": a.coverage,
                "up_seconds": a.up_seconds,
                "down_seconds": a.down_seconds,
                "unknown_seconds": a.unknown_seconds,
            }
            for window, a in view.availability.items()
        },
    }


def headline(view: TargetView, zone: ZoneInfo) -> str:
    """One line a person reads: "Sirekap down since 14:02 WITA"."""
    incident = view.state.incident
    if incident is not None:
        moment = incident.started_at.astimezone(zone)
        return f"Sirekap {_words(incident)} since {moment:%H:%M} {moment.tzname()} ({moment:%d %b %Y})"
    if view.latest is None:
        return "Sirekap not probed yet"
    return "Sirekap up" if view.latest.ok else f"Sirekap {view.latest.reason.value.replace('_', ' ')}"


def _words(incident: Incident) -> str:
    return {"down": "down", "error_page": "serving error pages", "invalid": "serving invalid data",
            "stale": "data stale", "frozen": "numbers frozen"}[incident.reason.value]  # fmt: skip


def incident_record(incident: Incident, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": incident.id,
        "target": incident.target,
        "reason": incident.reason.value,
        "detail": incident.detail,
        "started_at": iso(incident.started_at),
        "ended_at": iso(incident.ended_at),
        "started_local": local(incident.started_at, zone),
        "ended_local": local(incident.ended_at, zone),
        "duration_seconds": incident.duration(incident.ended_at).total_seconds() if incident.ended_at else None,
    }


def incidents_csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=INCIDENT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if record[k] is None else record[k] for k in INCIDENT_FIELDS})
    return out.getvalue()
