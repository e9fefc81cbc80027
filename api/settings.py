"""The API's settings, read once from `PANTAU_*` environment variables at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite:///pantau.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    sirekap_url: str | None = None
    #: Sirekap's `ts` carries no zone; national files are in WIB.
    sirekap_zone: str = "Asia/Jakarta"
    #: Races to sync, as "kind region" pairs such as "pkwkk 5304".
    sync_races: tuple[str, ...] = ()
    sync_interval_seconds: float = 60.0
    monitor_url: str | None = None
    redis_url: str | None = None
    development: bool = False
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def split(name: str) -> tuple[str, ...]:
            return tuple(p.strip() for p in environ.get(name, "").split(",") if p.strip())

        return cls(
            database_url=environ.get("PANTAU_DATABASE_URL", DEFAULT_DATABASE_URL),
            sirekap_url=environ.get("PANTAU_SIREKAP_URL") or None,
            sirekap_zone=environ.get("PANTAU_SIREKAP_ZONE", "Asia/Jakarta"),
            sync_races=split("PANTAU_SYNC_RACES"),
            sync_interval_seconds=float(environ.get("PANTAU_SYNC_INTERVAL", "60")),
            monitor_url=environ.get("PANTAU_MONITOR_URL") or None,
            redis_url=environ.get("PANTAU_REDIS_URL") or None,
            development=environ.get("PANTAU_DEVELOPMENT", "").lower() in {"1", "true", "yes"},
            allowed_origins=split("PANTAU_ALLOWED_ORIGINS"),
        )
