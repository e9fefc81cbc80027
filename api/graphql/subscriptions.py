"""The Subscription type: changed results of a region, as writes and sync passes land on any API worker
(graphql-transport-ws).

Each event is either CHANGES, listing every change it covers (a burst within a short window is one event), or a
RESYNC: the client may have missed changes (it read too slowly, or the server lost its feed for a while) and should
re-read what it shows beyond the event. Both carry the subscribed region, read after the changes, and the data
version. The numbers are read once per flush of events for all the subscribers on a worker (`RegionSnapshots`).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.graphql.context import Info, live_loaders
from api.graphql.errors import PublicError
from api.graphql.loaders import Loaders
from api.graphql.types import Region, Source
from api.live.broadcast import Change
from api.live.updates import LiveEvent, LiveUpdates, ResyncReason, Topic
from api.read.catalog import Catalog
from api.storage import models
from sirekap.codes import CodeError, Level, level_of


@strawberry.enum(name="ResyncReason", description="Why a RESYNC event was sent.")
class LiveResync(enum.Enum):
    SUBSCRIBED = strawberry.enum_value(
        ResyncReason.SUBSCRIBED.value, description="The region as it stands when the subscription starts listening."
    )
    BEHIND = strawberry.enum_value(
        ResyncReason.BEHIND.value, description="The client read more slowly than changes came: some were not listed."
    )
    RECONNECTED = strawberry.enum_value(
        ResyncReason.RECONNECTED.value, description="The server lost its feed of changes for a while and has it again."
    )


@strawberry.enum(description="What a live event says.")
class LiveEventKind(enum.Enum):
    CHANGES = strawberry.enum_value(
        "changes", description="The changes listed in `changes`, and the region after them."
    )
    RESYNC = strawberry.enum_value(
        "resync", description="Changes may have been missed: re-read what you show; `region` is as it stands."
    )


@strawberry.type(description="One write or sync pass that changed numbers in or below the subscribed region.")
class ResultChange:
    source: Source = strawberry.field(description="The source written.")  # type: ignore[valid-type]
    subject_code: str = strawberry.field(
        description="The TPS or region whose numbers changed (for a sync pass: a kecamatan where TPS moved)."
    )
    claimant: int | None = strawberry.field(description="Claims: the claiming paslon's ballot number.")
    version: int = strawberry.field(description="The version now current (0 for a sync pass: many TPS at once).")
    at: datetime = strawberry.field(description="When it was applied, UTC.")

    @classmethod
    def of(cls, change: Change) -> ResultChange:
        return cls(
            source=models.Source(change.source),
            subject_code=change.subject_code,
            claimant=change.claimant or None,
            version=change.version,
            at=datetime.fromisoformat(change.at),
        )


_LISTED = "An event may cover several changes: read `changes`."


@strawberry.type(description="Results changed in or below the subscribed region, or a resync.")
class ResultsChanged:
    kind: LiveEventKind = strawberry.field(description="CHANGES, or RESYNC when changes may have been missed.")
    resync_reason: LiveResync | None = strawberry.field(description="Why, for a RESYNC; null for CHANGES.")
    data_version: int = strawberry.field(
        description="The newest write in the database when this event's region was read. It grows with every write: "
        "of two events, the one with the larger version carries the newer numbers."
    )
    changes: list[ResultChange] = strawberry.field(description="Every change this event covers, oldest first.")
    race: str = strawberry.field(description="The race's slug.")
    region: Region = strawberry.field(description="The subscribed region, read after the changes.")
    source: Source | None = strawberry.field(  # type: ignore[valid-type]
        description="The newest change's source; null on a RESYNC.", deprecation_reason=_LISTED
    )
    subject_code: str | None = strawberry.field(
        description="The newest change's TPS or region; null on a RESYNC.", deprecation_reason=_LISTED
    )
    claimant: int | None = strawberry.field(description="The newest change's claimant.", deprecation_reason=_LISTED)
    version: int | None = strawberry.field(
        description="The newest change's version; null on a RESYNC.", deprecation_reason=_LISTED
    )
    at: datetime | None = strawberry.field(
        description="When the newest change was applied, UTC; null on a RESYNC.", deprecation_reason=_LISTED
    )

    @classmethod
    def of(cls, event: LiveEvent, race: models.Race, region: models.Region) -> ResultsChanged:
        snapshot: RegionSnapshot = event.snapshot
        changes = [ResultChange.of(c) for c in event.changes]
        newest = changes[-1] if changes else None
        return cls(
            kind=LiveEventKind.RESYNC if event.resync else LiveEventKind.CHANGES,
            resync_reason=LiveResync(event.resync.value) if event.resync else None,
            data_version=snapshot.data_version,
            changes=changes,
            race=race.slug,
            region=Region.of(region, race),
            source=newest.source if newest else None,
            subject_code=newest.subject_code if newest else None,
            claimant=newest.claimant if newest else None,
            version=newest.version if newest else None,
            at=newest.at if newest else None,
        )


@dataclass(frozen=True)
class RegionSnapshot:
    #: Fresh for each flush: the first subscriber to resolve a field reads it (batched with the other regions of the
    #: flush), the others get it from these.
    loaders: Loaders
    data_version: int


class RegionSnapshots:
    """`prepare` of the live updates: what the events of one flush share among their subscribers."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: Catalog) -> None:
        self.sessions = sessions
        self.catalog = catalog

    async def __call__(self) -> RegionSnapshot:
        async with self.sessions() as session:
            version = await session.scalar(select(func.max(models.Tally.id)))
        return RegionSnapshot(Loaders(self.sessions, self.catalog), version or 0)


def _live(info: Info) -> LiveUpdates:
    services = info.context.services
    if services is None:
        raise PublicError("this server does not announce changes")
    return services.live


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Changes to the results of a region (and of any TPS or region below it).")
    async def results_changed(
        self,
        info: Info,
        region: str,
        race: str | None = None,
        initial: Annotated[
            bool,
            strawberry.argument(
                description="Start with a RESYNC (SUBSCRIBED) event carrying the region as it stands, sent once the "
                "subscription listens: nothing after it is missed."
            ),
        ] = False,
    ) -> AsyncGenerator[ResultsChanged, None]:
        try:
            if level_of(region) is Level.TPS:
                raise PublicError(f"{region} is a TPS code; subscribe to its desa or a region above")
        except CodeError as error:
            raise PublicError(str(error)) from error
        async with info.context.sessions() as session:
            query = select(models.Race).order_by(models.Race.voting_day.desc(), models.Race.id)
            races = list(await session.scalars(query if race is None else query.where(models.Race.slug == race)))
            found_race = next((r for r in races if region.startswith(r.region_code)), None)
            found_region = await session.get(models.Region, region)
        if found_race is None or found_region is None:
            raise PublicError(f"no race covers region {region}")
        async with _live(info).subscribe(Topic(found_race.id, region), initial=initial) as events:
            async for event in events:
                live_loaders.set(event.snapshot.loaders)
                yield ResultsChanged.of(event, found_race, found_region)
