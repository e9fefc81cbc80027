"""The monitor's settings, read once from `PANTAU_*` environment variables at start-up.

A value that cannot be read raises `SettingsError` naming the variable, so `pantau monitor` stops with one clear
line instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sirekap.races import parse_targets, race_file_url

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
Span = tuple[datetime, datetime]
T = TypeVar("T")


class SettingsError(ValueError):
    """A `PANTAU_*` variable the monitor cannot use; the message names it."""


@dataclass(frozen=True)
class Target:
    """A Sirekap document to probe, by name."""

    name: str
    url: str


@dataclass(frozen=True)
class Maintenance:
    """A one-off window that does not count against availability (configured in local time, stored aware)."""

    start: datetime
    end: datetime

    def spans(self, start: datetime, end: datetime) -> list[Span]:
        return [(self.start, self.end)] if self.start < end and self.end > start else []


@dataclass(frozen=True)
class DailyMaintenance:
    """A window that recurs every day at the same local time; it may run past midnight (`23:30/00:30`)."""

    start: time
    end: time
    zone: ZoneInfo

    def spans(self, start: datetime, end: datetime) -> list[Span]:
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        found = []
        while day <= last:
            opens = datetime.combine(day, self.start, self.zone)
            closes = datetime.combine(day + timedelta(days=self.end <= self.start), self.end, self.zone)
            if opens < end and closes > start:
                found.append((opens, closes))
            day += timedelta(days=1)
        return found


@dataclass(frozen=True)
class Settings:
    targets: tuple[Target, ...] = ()
    database_url: str = "sqlite:///pantau-monitor.db"
    interval_seconds: float = 30.0
    timeout_seconds: float = 10.0
    failures_to_open: int = 3
    successes_to_close: int = 2
    stale_after_seconds: float = 3 * 3600.0
    frozen_after_seconds: float = 3 * 3600.0
    source_zone: ZoneInfo = WIB
    display_zone: ZoneInfo = WITA
    maintenance: tuple[Maintenance | DailyMaintenance, ...] = ()
    #: Probes older than this are deleted (incidents are kept); the page and availability read the last 7 days at most.
    retention_days: float = 8.0

    def vouch(self, speed: float = 1.0) -> timedelta:
        """How long one probe vouches for, in clock time: two intervals, plus a round that waited for a hanging
        target (the timeout is real time, so it counts `speed` times over on a drill clock)."""
        return timedelta(seconds=2 * self.interval_seconds + self.timeout_seconds * speed)

    def maintenance_spans(self, start: datetime, end: datetime) -> list[Span]:
        return [span for window in self.maintenance for span in window.spans(start, end)]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def read(name: str, default: str, parse: Callable[[str], T]) -> T:
            value = environ.get(name, "").strip() or default
            try:
                return parse(value)
            except (ValueError, ZoneInfoNotFoundError) as error:
                raise SettingsError(f"{name}={value!r}: {error}") from None

        display = read("PANTAU_DISPLAY_ZONE", "Asia/Makassar", ZoneInfo)
        try:
            targets = targets_from(environ)
        except ValueError as error:
            variables = "PANTAU_PROBE_TARGETS" if environ.get("PANTAU_PROBE_TARGETS") else "PANTAU_SYNC_RACES"
            raise SettingsError(f"{variables}: {error}") from None
        return cls(
            targets=targets,
            database_url=read("PANTAU_MONITOR_DATABASE_URL", "sqlite:///pantau-monitor.db", str),
            interval_seconds=read("PANTAU_PROBE_INTERVAL", "30", _positive(float)),
            timeout_seconds=read("PANTAU_PROBE_TIMEOUT", "10", _positive(float)),
            failures_to_open=read("PANTAU_INCIDENT_FAILURES", "3", _positive(int)),
            successes_to_close=read("PANTAU_INCIDENT_RECOVERIES", "2", _positive(int)),
            stale_after_seconds=read("PANTAU_STALE_AFTER", str(3 * 3600), _positive(float)),
            frozen_after_seconds=read("PANTAU_FROZEN_AFTER", str(3 * 3600), _positive(float)),
            source_zone=read("PANTAU_SIREKAP_ZONE", "Asia/Jakarta", ZoneInfo),
            display_zone=display,
            maintenance=read("PANTAU_MAINTENANCE", "", lambda value: maintenance_from(value, display)),
            retention_days=read("PANTAU_PROBE_RETENTION_DAYS", "8", _positive(float)),
        )


def _positive(parse: Callable[[str], T]) -> Callable[[str], T]:
    def positive(value: str) -> T:
        number = parse(value)
        if not number > 0:  # type: ignore[operator]
            raise ValueError("must be greater than 0")
        return number

    return positive


def targets_from(environ: Mapping[str, str]) -> tuple[Target, ...]:
    """Explicit `PANTAU_PROBE_TARGETS` (name=url, comma-separated), else the race files of PANTAU_SYNC_RACES, each
    named by its race's label as in the sync's metrics (`sirekap.races`: `pkwkk-5304`, `ppwp-0`)."""
    explicit = [part.strip() for part in environ.get("PANTAU_PROBE_TARGETS", "").split(",") if part.strip()]
    if explicit:
        targets = []
        for part in explicit:
            name, equals, url = part.partition("=")
            if not (equals and name.strip() and url.strip().startswith(("http://", "https://"))):
                raise ValueError(f"{part!r} is not name=http(s)://url")
            targets.append(Target(name.strip(), url.strip()))
        if len({t.name for t in targets}) < len(targets):
            raise ValueError("target names must be unique")
        return tuple(targets)
    base = environ.get("PANTAU_SIREKAP_URL")
    if not base:
        return ()
    races = parse_targets(environ.get("PANTAU_SYNC_RACES", ""))
    return tuple(Target(race.label, race_file_url(base, race)) for race in races)


def maintenance_from(value: str, zone: ZoneInfo) -> tuple[Maintenance | DailyMaintenance, ...]:
    """Comma-separated windows in the display zone: one-off `2020-12-09T01:00/2020-12-09T03:00`, or daily
    `01:00/03:00`."""
    windows: list[Maintenance | DailyMaintenance] = []
    for part in value.split(","):
        if not part.strip():
            continue
        first, slash, second = part.strip().partition("/")
        if not slash:
            raise ValueError(f"{part.strip()!r} is not start/end")
        if "T" not in first and "T" not in second:
            windows.append(DailyMaintenance(time.fromisoformat(first), time.fromisoformat(second), zone))
            continue
        start, end = (datetime.fromisoformat(t) for t in (first, second))
        window = Maintenance(start.replace(tzinfo=start.tzinfo or zone), end.replace(tzinfo=end.tzinfo or zone))
        if window.end <= window.start:
            raise ValueError(f"{part.strip()!r} ends before it starts")
        windows.append(window)
    return tuple(windows)
