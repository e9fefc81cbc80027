"""The GraphQL types of a TPS: where it stands (its status, an unreadable document) and its numbers' history."""

from __future__ import annotations

import strawberry

from api.graphql.context import Info
from api.graphql.types import Region, Result, Source, Timestamp
from api.read import results as read
from api.read.tps import TpsStatus
from api.storage import models

TpsStatusEnum = strawberry.enum(
    TpsStatus,
    name="TpsStatus",
    description="Where a TPS stands: WAITING (no numbers), REPORTED, ANOMALY (a consistency rule failed on its"
    " numbers) or UNREADABLE (its latest Sirekap document cannot be read; the last good numbers are kept).",
)


@strawberry.type(description="One version of one source's numbers for a TPS.")
class TallyVersion:
    source: Source = strawberry.field(description="Where the numbers come from.")  # type: ignore[valid-type]
    version: int = strawberry.field(description="1 for the first numbers; each correction adds one.")
    is_current: bool = strawberry.field(description="Whether this is the version in force.")
    result: Result = strawberry.field(description="The numbers of this version.")
    entered_by: str | None = strawberry.field(description="Who or what recorded it.")


@strawberry.type(description="A Sirekap document that cannot be read now (its last good numbers are kept).")
class UnreadableDocument:
    path: str = strawberry.field(description="The document's path on the data host.")
    reason: str = strawberry.field(description="html (an error or WAF page), truncated, not_json or shape.")
    detail: str = strawberry.field(description="What the sync saw, e.g. where the JSON ends.")
    since: Timestamp = strawberry.field(description="The first pass that could not read it (this time).")
    last_tried: Timestamp = strawberry.field(description="The last pass that tried.")


@strawberry.type(description="A polling station (tempat pemungutan suara).")
class Tps:
    id: strawberry.Private[int]
    race_id: strawberry.Private[int]
    time_zone: strawberry.Private[str]
    desa_code: strawberry.Private[str]
    code: str = strawberry.field(description="13-digit code: desa code + TPS number.")
    number: int = strawberry.field(description="TPS number within its desa/kelurahan.")
    registered_voters: int = strawberry.field(description="Registered voters (DPT).")

    @strawberry.field(description="Where the TPS stands: WAITING, REPORTED, ANOMALY or UNREADABLE.")
    async def status(self, info: Info) -> TpsStatusEnum:  # type: ignore[valid-type]
        return (await info.context.loaders.tps_state.load((self.race_id, self.id, self.code))).status

    @strawberry.field(description="Its latest Sirekap document when it cannot be read (status UNREADABLE), else null.")
    async def unreadable(self, info: Info) -> UnreadableDocument | None:
        found = (await info.context.loaders.tps_state.load((self.race_id, self.id, self.code))).unreadable
        if found is None:
            return None
        since, last = Timestamp.of(found.since, self.time_zone), Timestamp.of(found.seen_at, self.time_zone)
        assert since is not None and last is not None
        return UnreadableDocument(
            path=found.path, reason=found.reason, detail=found.detail, since=since, last_tried=last
        )

    @strawberry.field(description="The desa/kelurahan of the TPS.")
    async def desa(self, info: Info) -> Region:
        race = await info.context.loaders.catalog.race_by_id(self.race_id)
        found = await info.context.loaders.region.load(self.desa_code)
        assert race is not None and found is not None
        return Region.of(found, race)

    @strawberry.field(description="Every version of every source's numbers for this TPS, oldest first.")
    async def history(self, info: Info) -> list[TallyVersion]:
        versions = await info.context.loaders.history.load(self.id)
        paslon = await info.context.loaders.catalog.paslon(self.race_id)
        return [
            TallyVersion(
                source=models.Source(t.source),
                version=t.version,
                is_current=t.is_current,
                result=Result.of(_tps_result(t, votes, self.registered_voters), paslon, self.time_zone),
                entered_by=t.entered_by,
            )
            for t, votes in versions
        ]

    @strawberry.field(description="The current numbers of one source for this TPS; null before any arrive.")
    async def results(self, info: Info, source: Source) -> Result | None:  # type: ignore[valid-type]
        current = [v for v in await self.history(info) if v.is_current and v.source is source]
        return current[0].result if current else None


def _tps_result(t: models.Tally, votes: dict[int, int], registered: int) -> read.SourceResult:
    return read.SourceResult(
        source=models.Source(t.source),
        region_code=t.subject_code,
        status=models.TallyStatus(t.status),
        votes=votes,
        valid=t.valid,
        invalid=t.invalid,
        total=t.total,
        unit="tps",
        reported=1,
        expected=1,
        as_of=t.source_ts,
        received_at=t.received_at,
        note=t.note,
        findings=list(t.findings),
        version=t.version,
    )
