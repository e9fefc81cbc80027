"""One probe of one Sirekap document. A probe never raises: it returns a result with a reason.

Reasons, worst first: DOWN (refused, timeout, HTTP 5xx), ERROR_PAGE (HTML or another non-JSON body, also with
200), INVALID (JSON that the format library rejects), STALE (the document's own `ts` is too old), FROZEN (numbers
unchanged for too long while progress < 100%), UP.
"""

from __future__ import annotations

import enum
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from monitor.settings import Target
from sirekap.documents import DocumentError, parse_region_file


class Reason(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    ERROR_PAGE = "error_page"
    INVALID = "invalid"
    STALE = "stale"
    FROZEN = "frozen"


@dataclass(frozen=True)
class Freshness:
    """What the previous good probes saw: the numbers' hash and since when they have not changed."""

    content_hash: str
    unchanged_since: datetime


@dataclass(frozen=True)
class ProbeResult:
    target: str
    at: datetime
    reason: Reason
    detail: str
    status: int | None = None
    duration_seconds: float = 0.0
    data_ts: datetime | None = None
    tps_in: int | None = None
    tps_total: int | None = None
    content_hash: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is Reason.UP

    @property
    def progress(self) -> float | None:
        return self.tps_in / self.tps_total if self.tps_in is not None and self.tps_total else None


@dataclass(frozen=True)
class Thresholds:
    stale_after: timedelta
    frozen_after: timedelta
    source_zone: ZoneInfo


async def probe(
    client: httpx.AsyncClient,
    target: Target,
    *,
    now: datetime,
    thresholds: Thresholds,
    previous: Freshness | None = None,
) -> ProbeResult:
    """Fetch and classify one document. `now` is the probe's time; the HTTP timeout is the client's."""
    started = time.perf_counter()

    def result(reason: Reason, detail: str, status: int | None = None, **found: object) -> ProbeResult:
        return ProbeResult(target.name, now, reason, detail, status, time.perf_counter() - started, **found)  # type: ignore[arg-type]

    try:
        response = await client.get(target.url)
    except httpx.ConnectError:
        return result(Reason.DOWN, "connection refused")
    except httpx.TimeoutException:
        return result(Reason.DOWN, "timeout")
    except httpx.HTTPError as error:
        return result(Reason.DOWN, f"transport error: {type(error).__name__}")
    status = response.status_code
    if status >= 500:
        return result(Reason.DOWN, f"HTTP {status}", status)
    try:
        document = parse_region_file(response.content, source_zone=thresholds.source_zone)
    except DocumentError as error:
        if error.reason in ("html", "not_json"):
            return result(Reason.ERROR_PAGE, f"HTTP {status}: {error.reason.replace('_', ' ')} body", status)
        return result(Reason.INVALID, f"HTTP {status}: {error}", status)
    if status >= 400:
        return result(Reason.ERROR_PAGE, f"HTTP {status}", status)
    content = hashlib.sha256(
        json.dumps([document.votes, document.progress.tps_in, document.progress.tps_total], sort_keys=True).encode()
    ).hexdigest()[:16]
    found = {
        "data_ts": document.ts,
        "tps_in": document.progress.tps_in,
        "tps_total": document.progress.tps_total,
        "content_hash": content,
    }
    if document.ts is not None and now - document.ts > thresholds.stale_after:
        age = now - document.ts
        return result(Reason.STALE, f"data is {_duration(age)} old", status, **found)
    complete = document.progress.tps_total > 0 and document.progress.tps_in >= document.progress.tps_total
    if (
        previous is not None
        and previous.content_hash == content
        and not complete
        and now - previous.unchanged_since > thresholds.frozen_after
    ):
        return result(
            Reason.FROZEN, f"numbers unchanged for {_duration(now - previous.unchanged_since)}", status, **found
        )
    return result(Reason.UP, f"HTTP {status}", status, **found)


def next_freshness(previous: Freshness | None, result: ProbeResult) -> Freshness | None:
    """Carry the unchanged-since time forward while the numbers stay the same."""
    if result.content_hash is None:
        return previous
    if previous is not None and previous.content_hash == result.content_hash:
        return previous
    return Freshness(result.content_hash, result.at)


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
