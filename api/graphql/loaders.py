"""Per-request DataLoaders: a breakdown of N children costs the same few statements as one region."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from api.models import Paslon, Race, RaceRegion, Region, Source
from api.read.results import SourceResult, claim_results, results_for

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Loaders:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.region = DataLoader(self._regions)
        self.children = DataLoader(self._children)
        self.race_region = DataLoader(self._race_regions)
        self.race = DataLoader(self._races)
        self.paslon = DataLoader(self._paslon)
        self.result = DataLoader(self._results)
        self.claims = DataLoader(self._claims)

    async def _read(self, work: Callable[[AsyncSession], Awaitable[V]]) -> V:
        async with self.sessions() as session:
            return await work(session)

    async def _regions(self, codes: Sequence[str]) -> list[Region | None]:
        found = await self._read(lambda s: _all(s, select(Region).where(Region.code.in_(codes))))
        by_code = {r.code: r for r in found}
        return [by_code.get(code) for code in codes]

    async def _children(self, keys: Sequence[tuple[int, str]]) -> list[list[Region]]:
        """Children of (race, region) that the race covers, by code."""

        async def work(session: AsyncSession) -> list[list[Region]]:
            by_key: dict[tuple[int, str], list[Region]] = defaultdict(list)
            for race_id in {race for race, _ in keys}:
                parents = [code for race, code in keys if race == race_id]
                rows = await session.scalars(
                    select(Region)
                    .join(RaceRegion, RaceRegion.region_code == Region.code)
                    .where(RaceRegion.race_id == race_id, Region.parent_code.in_(parents))
                    .order_by(Region.code)
                )
                for region in rows:
                    assert region.parent_code is not None
                    by_key[(race_id, region.parent_code)].append(region)
            return [by_key.get(key, []) for key in keys]

        return await self._read(work)

    async def _race_regions(self, keys: Sequence[tuple[int, str]]) -> list[RaceRegion | None]:
        async def work(session: AsyncSession) -> list[RaceRegion | None]:
            found: dict[tuple[int, str], RaceRegion] = {}
            for race_id in {race for race, _ in keys}:
                codes = [code for race, code in keys if race == race_id]
                for row in await session.scalars(
                    select(RaceRegion).where(RaceRegion.race_id == race_id, RaceRegion.region_code.in_(codes))
                ):
                    found[(race_id, row.region_code)] = row
            return [found.get(key) for key in keys]

        return await self._read(work)

    async def _races(self, ids: Sequence[int]) -> list[Race | None]:
        found = await self._read(lambda s: _all(s, select(Race).where(Race.id.in_(ids))))
        by_id = {r.id: r for r in found}
        return [by_id.get(i) for i in ids]

    async def _paslon(self, race_ids: Sequence[int]) -> list[list[Paslon]]:
        found = await self._read(
            lambda s: _all(s, select(Paslon).where(Paslon.race_id.in_(race_ids)).order_by(Paslon.number))
        )
        by_race: dict[int, list[Paslon]] = defaultdict(list)
        for p in found:
            by_race[p.race_id].append(p)
        return [by_race.get(i, []) for i in race_ids]

    async def _results(self, keys: Sequence[tuple[int, Source, str]]) -> list[SourceResult | None]:
        async def work(session: AsyncSession) -> list[SourceResult | None]:
            found: dict[tuple[int, Source, str], SourceResult] = {}
            for race_id, source in {(race, source) for race, source, _ in keys}:
                codes = [code for r, s, code in keys if (r, s) == (race_id, source)]
                for code, result in (await results_for(session, race_id, source, codes)).items():
                    found[(race_id, source, code)] = result
            return [found.get(key) for key in keys]

        return await self._read(work)

    async def _claims(self, keys: Sequence[tuple[int, str]]) -> list[list[SourceResult]]:
        async def work(session: AsyncSession) -> list[list[SourceResult]]:
            found: dict[tuple[int, str], list[SourceResult]] = {}
            for race_id in {race for race, _ in keys}:
                codes = [code for race, code in keys if race == race_id]
                for code, claims in (await claim_results(session, race_id, codes)).items():
                    found[(race_id, code)] = claims
            return [found.get(key, []) for key in keys]

        return await self._read(work)


async def _all(session: AsyncSession, statement: select) -> list:  # type: ignore[type-arg,valid-type]
    return list(await session.scalars(statement))
