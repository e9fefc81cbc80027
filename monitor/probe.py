"""One probe of one Sirekap document. A probe never raises: it returns a result with a reason.

Reasons, worst first: DOWN (refused, timeout, HTTP 5xx), ERROR_PAGE (HTML or another non-JSON body, also with
200; any HTTP 4xx), INVALID (JSON that the format library rejects, a truncated body included), STALE (the
document's own `ts` is too old), FROZEN (numbers unchanged for too long while the count is under way: some TPS
in, not all; a count that has not started yet, before the polls close, is expected to stand still), UP.

The timeout is a deadline for the whole answer, not per read: a server that trickles bytes is DOWN "timeout" too.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import httpx

from monitor.settings import Target
from sirekap.documents import DocumentError, RegionFile, parse_region_file
from sirekap.reaching import connect_failure

log = logging.getLogger(__name__)


class Reason(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    ERROR_PAGE = "error_page"
    INVALID = "invalid"
    STALE = "stale"
    FROZEN = "frozen"


class Answer(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...


class Client(Protocol):
    """What a probe fetches with: `monitor.client.ProbeClient`, or an `httpx.AsyncClient` (tests hand it one with a
    MockTransport). Transport failures are httpx's exceptions either way."""

    async def get(self, url: str) -> Answer: ...


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
    #: The deadline for the whole answer; None leaves it to the client's own (per-read) timeouts.
    timeout_seconds: float | None = None


async def probe(
    client: Client,
    target: Target,
    *,
    now: datetime,
    thresholds: Thresholds,
    previous: Freshness | None = None,
) -> ProbeResult:
    """Fetch and classify one document. `now` is the probe's time; `previous` what the last probes read."""
    started = time.perf_counter()

    def result(
        reason: Reason,
        detail: str,
        status: int | None = None,
        read: RegionFile | None = None,
        content: str | None = None,
    ) -> ProbeResult:
        duration = time.perf_counter() - started
        if read is None:
            return ProbeResult(target.name, now, reason, detail, status, duration)
        progress = read.progress
        return ProbeResult(
            target.name, now, reason, detail, status, duration, read.ts, progress.tps_in, progress.tps_total, content
        )

    try:
        async with asyncio.timeout(thresholds.timeout_seconds):
            response = await _get(client, target.url)
    except httpx.ConnectError as error:
        return result(Reason.DOWN, _connect_detail(error))
    except (httpx.TimeoutException, TimeoutError):
        return result(Reason.DOWN, "timeout")
    except (httpx.HTTPError, OSError) as error:
        return result(Reason.DOWN, f"transport error: {type(error).__name__}")
    status = response.status_code
    if status >= 500:
        return result(Reason.DOWN, f"HTTP {status}", status)
    try:
        document = parse_region_file(response.content, source_zone=thresholds.source_zone)
    except DocumentError as error:
        if error.reason in ("html", "not_json") or status >= 400:
            return result(Reason.ERROR_PAGE, f"HTTP {status}: {error.reason.replace('_', ' ')} body", status)
        return result(Reason.INVALID, f"HTTP {status}: {error}", status)
    except Exception as error:  # a body the format library chokes on is still the upstream's fault: report it
        log.exception("the format library failed on %s", target.url)
        return result(Reason.INVALID, f"HTTP {status}: unreadable ({type(error).__name__})", status)
    if status >= 400:  # a 4xx that carries a region file is still not the answer asked for
        return result(Reason.ERROR_PAGE, f"HTTP {status}", status)
    content = hashlib.sha256(
        json.dumps([document.votes, document.progress.tps_in, document.progress.tps_total], sort_keys=True).encode()
    ).hexdigest()[:16]
    if document.ts is not None and now - document.ts > thresholds.stale_after:
        age = now - document.ts
        return result(Reason.STALE, f"data is {_duration(age)} old", status, document, content)
    # only a count under way can freeze: before the first TPS (polls still open) and after the last nothing moves
    counting = 0 < document.progress.tps_in < document.progress.tps_total
    if (
        previous is not None
        and previous.content_hash == content
        and counting
        and now - previous.unchanged_since > thresholds.frozen_after
    ):
        unchanged = _duration(now - previous.unchanged_since)
        return result(Reason.FROZEN, f"numbers unchanged for {unchanged}", status, document, content)
    return result(Reason.UP, f"HTTP {status}", status, document, content)


async def _get(client: Client, url: str) -> Answer:
    """GET, once more on a fresh connection when a kept-alive one turns out to be closed by the server (as idle
    connections are, and all of them when a server goes down): the probe asks whether a client can read the
    document, not whether an old connection survived."""
    try:
        return await client.get(url)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        return await client.get(url)


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


def _connect_detail(error: BaseException) -> str:
    kind, reason = connect_failure(error)
    if kind == "tls":
        return f"TLS handshake failed ({reason})"
    return "host name not found" if kind == "unknown_host" else "connection refused"
