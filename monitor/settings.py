"""The monitor's settings, read once from `PANTAU_*` environment variables at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sirekap.codes import url_path

ELECTIONS = {"ppwp": "pemilu", "pkwkp": "pilkada", "pkwkk": "pilkada"}
WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")


@dataclass(frozen=True)
class Target:
    """A Sirekap document to probe, by name."""

    name: str
    url: str


@dataclass(frozen=True)
class Maintenance:
    """A window in local time that does not count against availability."""

    start: datetime
    end: datetime


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
    maintenance: tuple[Maintenance, ...] = ()
    #: A drill clock: the monitor's time starts here and runs `clock_speed` times faster (as `pantau sim` does).
    clock_start: datetime | None = None
    clock_speed: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        display = ZoneInfo(environ.get("PANTAU_DISPLAY_ZONE", "Asia/Makassar"))
        return cls(
            targets=targets_from(environ),
            database_url=environ.get("PANTAU_MONITOR_DATABASE_URL", "sqlite:///pantau-monitor.db"),
            interval_seconds=float(environ.get("PANTAU_PROBE_INTERVAL", "30")),
            timeout_seconds=float(environ.get("PANTAU_PROBE_TIMEOUT", "10")),
            failures_to_open=int(environ.get("PANTAU_INCIDENT_FAILURES", "3")),
            successes_to_close=int(environ.get("PANTAU_INCIDENT_RECOVERIES", "2")),
            stale_after_seconds=float(environ.get("PANTAU_STALE_AFTER", str(3 * 3600))),
            frozen_after_seconds=float(environ.get("PANTAU_FROZEN_AFTER", str(3 * 3600))),
            source_zone=ZoneInfo(environ.get("PANTAU_SIREKAP_ZONE", "Asia/Jakarta")),
            display_zone=display,
            maintenance=maintenance_from(environ.get("PANTAU_MAINTENANCE", ""), display),
            clock_start=_local(environ.get("PANTAU_CLOCK_START"), display),
            clock_speed=float(environ.get("PANTAU_CLOCK_SPEED", "1")),
        )


def race_file_url(base_url: str, kind: str, region_code: str) -> str:
    """The aggregated file of a race: `{base}/pilkada/hhcw/pkwkk/53/5304.json`, `{base}/pemilu/hhcw/ppwp.json`."""
    base = base_url.rstrip("/")
    election = ELECTIONS[kind]
    if not region_code:
        return f"{base}/{election}/hhcw/{kind}.json"
    return f"{base}/{election}/hhcw/{kind}/{url_path(region_code)}.json"


def targets_from(environ: Mapping[str, str]) -> tuple[Target, ...]:
    """Explicit `PANTAU_PROBE_TARGETS` (name=url, comma-separated), else the race files of PANTAU_SYNC_RACES."""
    explicit = [part.strip() for part in environ.get("PANTAU_PROBE_TARGETS", "").split(",") if part.strip()]
    if explicit:
        return tuple(Target(*part.split("=", 1)) for part in explicit)
    base = environ.get("PANTAU_SIREKAP_URL")
    if not base:
        return ()
    races = [part.split() for part in environ.get("PANTAU_SYNC_RACES", "").split(",") if part.strip()]
    return tuple(
        Target(f"{kind}-{code}" if code else kind, race_file_url(base, kind, code))
        for kind, *rest in races
        for code in [rest[0] if rest else ""]
    )


def maintenance_from(value: str, zone: ZoneInfo) -> tuple[Maintenance, ...]:
    """`2020-12-09T01:00/2020-12-09T03:00,…` in the display zone."""
    windows = []
    for part in value.split(","):
        if part.strip():
            start, end = (datetime.fromisoformat(t.strip()) for t in part.split("/", 1))
            windows.append(
                Maintenance(start.replace(tzinfo=start.tzinfo or zone), end.replace(tzinfo=end.tzinfo or zone))
            )
    return tuple(windows)


def _local(value: str | None, zone: ZoneInfo) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
