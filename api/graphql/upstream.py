"""The monitor's view of Sirekap, for frontends: is it up, and since when is it down ("the banner")."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import strawberry

from api.graphql.context import Info
from api.graphql.errors import PublicError


@strawberry.type(description="One Sirekap document the monitor probes, as the monitor sees it now.")
class UpstreamTarget:
    target: str = strawberry.field(description="The probe target's name, e.g. pkwkk-5304.")
    state: str = strawberry.field(description="up, degraded (last probe failed), down (incident open) or unknown.")
    reason: str | None = strawberry.field(description="up, down, error_page, invalid, stale or frozen.")
    headline: str = strawberry.field(description="One line for a banner: 'Sirekap down since 14:02 WITA (…)'.")
    since_local: str | None = strawberry.field(description="Start of the open incident, local time.")
    since_utc: str | None = strawberry.field(description="Start of the open incident, ISO 8601 UTC.")
    data_local: str | None = strawberry.field(description="The document's own time, local.")
    tps_in: int | None = strawberry.field(description="TPS in, as the document says.")
    tps_total: int | None = strawberry.field(description="TPS total, as the document says.")


@strawberry.type(description="An incident window: from the first failing probe to the first good one.")
class UpstreamIncident:
    target: str = strawberry.field(description="The probe target's name.")
    reason: str = strawberry.field(description="Why the probes failed.")
    started_local: str = strawberry.field(description="Start, local time.")
    ended_local: str | None = strawberry.field(description="End, local time; null while ongoing.")
    started_utc: str = strawberry.field(description="Start, ISO 8601 UTC.")
    ended_utc: str | None = strawberry.field(description="End, ISO 8601 UTC; null while ongoing.")


@strawberry.type(description="Sirekap's health as the monitor reports it.")
class Upstream:
    targets: list[UpstreamTarget] = strawberry.field(description="Every probed document.")
    incidents: list[UpstreamIncident] = strawberry.field(description="Incident windows, oldest first.")


async def upstream_status(info: Info) -> Upstream:
    """Ask the monitor; a clear error when it is not configured or does not answer."""
    base = info.context.settings.monitor_url
    if not base:
        raise PublicError("the upstream status is not available: no monitor is configured (PANTAU_MONITOR_URL)")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2.0) as client:
            # Both at once, each run to its end before the client closes.
            answers = await asyncio.gather(
                _json(client, "/api/status"), _json(client, "/api/incidents"), return_exceptions=True
            )
        status, incidents = (_raised(answer) for answer in answers)
    except (httpx.HTTPError, ValueError) as error:
        raise PublicError("the upstream status is not available: the monitor did not answer") from error
    return Upstream(
        targets=[_target(t) for t in status.get("targets", [])],
        incidents=[
            UpstreamIncident(
                target=i["target"],
                reason=i["reason"],
                started_local=i["started_local"],
                ended_local=i["ended_local"],
                started_utc=i["started_at"],
                ended_utc=i["ended_at"],
            )
            for i in incidents.get("incidents", [])
        ],
    )


def _raised(answer: Any) -> Any:
    if isinstance(answer, BaseException):
        raise answer
    return answer


async def _json(client: httpx.AsyncClient, path: str) -> Any:
    return (await client.get(path)).raise_for_status().json()


def _target(t: dict[str, Any]) -> UpstreamTarget:
    return UpstreamTarget(
        target=t["target"],
        state=t["state"],
        reason=t.get("reason"),
        headline=t["headline"],
        since_local=t.get("since_local"),
        since_utc=t.get("since"),
        data_local=t.get("data_ts_local"),
        tps_in=t.get("tps_in"),
        tps_total=t.get("tps_total"),
    )
