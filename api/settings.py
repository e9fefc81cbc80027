"""The API's settings, read once from `PANTAU_*` environment variables at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sirekap.clock import Clock

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
    #: Prefix of every Redis key Pantau writes, so several deployments can share one Redis.
    redis_prefix: str = "pantau"
    development: bool = False
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)
    #: GraphQL limits
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_batch: int = 5
    #: Query cost a client may spend per minute; 0 turns rate limiting off.
    rate_limit_per_minute: int = 3000
    #: Cache-Control max-age of GET responses, seconds.
    cache_max_age: int = 5
    #: How long a read of the data version (behind ETags) is reused, seconds.
    cache_version_seconds: float = 1.0
    #: How long a query's answer is kept under its data version (in each worker and in Redis), seconds; 0: never.
    answer_cache_seconds: int = 60
    #: "Now" for writes, the audit log and the sync: the wall clock, or a drill's (`PANTAU_CLOCK_*`).
    clock: Clock = field(default_factory=Clock)
    #: Request bodies larger than this are refused (413) before they are read, bytes.
    max_body_bytes: int = 256 * 1024
    #: GraphQL documents longer than this are refused before they are parsed, bytes.
    max_document_bytes: int = 32 * 1024
    #: Values a query may make the server resolve, estimated before it runs (`api.graphql.complexity`).
    max_complexity: int = 15_000

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
            redis_prefix=environ.get("PANTAU_REDIS_PREFIX", "pantau"),
            development=environ.get("PANTAU_DEVELOPMENT", "").lower() in {"1", "true", "yes"},
            allowed_origins=split("PANTAU_ALLOWED_ORIGINS"),
            max_depth=int(environ.get("PANTAU_MAX_DEPTH", "10")),
            max_aliases=int(environ.get("PANTAU_MAX_ALIASES", "15")),
            max_tokens=int(environ.get("PANTAU_MAX_TOKENS", "2000")),
            max_batch=int(environ.get("PANTAU_MAX_BATCH", "5")),
            rate_limit_per_minute=int(environ.get("PANTAU_RATE_LIMIT", "3000")),
            cache_max_age=int(environ.get("PANTAU_CACHE_MAX_AGE", "5")),
            cache_version_seconds=float(environ.get("PANTAU_CACHE_VERSION_SECONDS", "1")),
            answer_cache_seconds=int(environ.get("PANTAU_ANSWER_CACHE_SECONDS", "60")),
            clock=Clock.from_env(environ),
            max_body_bytes=int(environ.get("PANTAU_MAX_BODY_BYTES", str(256 * 1024))),
            max_document_bytes=int(environ.get("PANTAU_MAX_DOCUMENT_BYTES", str(32 * 1024))),
            max_complexity=int(environ.get("PANTAU_MAX_COMPLEXITY", "15000")),
        )
