"""The Subscription type: changed results of a region, as writes land on any API worker (graphql-transport-ws).

Each event names what changed (source, TPS or region, version) and carries the subscribed region itself, so a
client selects the fresh results it shows (`region { results(source: CHASIL) { … } status }`) in the same message.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from sqlalchemy import select

from api import models
from api.broadcast import Broadcast
from api.graphql.context import Info
from api.graphql.errors import PublicError
from api.graphql.loaders import Loaders
from api.graphql.types import Region, Source
from sirekap.codes import CodeError, Level, level_of


@strawberry.type(description="A write or a sync pass changed results in or below the subscribed region.")
class ResultsChanged:
    race: str = strawberry.field(description="The race's slug.")
    source: Source = strawberry.field(description="The source written.")  # type: ignore[valid-type]
    subject_code: str = strawberry.field(
        description="The TPS or region whose numbers changed (for a sync pass: a kecamatan where TPS moved)."
    )
    claimant: int | None = strawberry.field(description="Claims: the claiming paslon's ballot number.")
    version: int = strawberry.field(description="The version now current (0 for a sync pass: many TPS at once).")
    at: datetime = strawberry.field(description="When the write was applied, UTC.")
    region: Region = strawberry.field(description="The subscribed region, read after the write.")


def _broadcast(info: Info) -> Broadcast:
    found: Broadcast | None = getattr(info.context.request.app.state, "broadcast", None)
    if found is None:
        raise PublicError("this server does not announce changes")
    return found


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Changes to the results of a region (and of any TPS or region below it).")
    async def results_changed(
        self, info: Info, region: str, race: str | None = None
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
        async with _broadcast(info).subscribe() as changes:
            async for change in changes:
                if not change.concerns(found_race.id, region):
                    continue
                # Loaders cache per request; a subscription is one long request, so each event reads afresh.
                info.context.loaders = Loaders(info.context.sessions)
                yield ResultsChanged(
                    race=change.race,
                    source=models.Source(change.source),
                    subject_code=change.subject_code,
                    claimant=change.claimant or None,
                    version=change.version,
                    at=datetime.fromisoformat(change.at),
                    region=Region.of(found_region, found_race),
                )
