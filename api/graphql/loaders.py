"""Per-request DataLoaders: a breakdown of N children costs the same few statements as one region.

What rarely changes (regions, the tree, races, paslon) comes from the process's catalog; numbers come from the
database, batched per (race, source).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from api.read.catalog import Catalog, RegionRow
from api.read.results import SourceResult, claim_results, results_for
from api.read.tps import TpsState, tally_histories, tps_states
from api.storage.db import shielded
from api.storage.models import RaceRegion, Source, Tally

K = TypeVar("K")


def _by_race(keys: Sequence[tuple[int, K]]) -> dict[int, list[K]]:
    grouped: dict[int, list[K]] = defaultdict(list)
    for race_id, key in keys:
        grouped[race_id].append(key)
    return grouped


class Loaders:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: Catalog | None = None) -> None:
        self.sessions = sessions
        #: The process's catalog; a request without one keeps its own, which then lives as long as the request.
        self.catalog = catalog or Catalog(sessions)

    # Each loader is made when a field first asks for it (a write or a TPS page needs one or none of them), and each
    # batch reads in a task of its own: a field cancelled by a failing sibling never cuts a read short.

    @cached_property
    def region(self) -> DataLoader[str, RegionRow | None]:
        return DataLoader(shielded(self._regions))

    @cached_property
    def children(self) -> DataLoader[tuple[int, str], list[RegionRow]]:
        return DataLoader(shielded(self._children))

    @cached_property
    def race_region(self) -> DataLoader[tuple[int, str], tuple[int, int, int] | None]:
        return DataLoader(shielded(self._race_regions))

    @cached_property
    def result(self) -> DataLoader[tuple[int, Source, str], SourceResult | None]:
        return DataLoader(shielded(self._results))

    @cached_property
    def claims(self) -> DataLoader[tuple[int, str], list[SourceResult]]:
        return DataLoader(shielded(self._claims))

    @cached_property
    def tps_state(self) -> DataLoader[tuple[int, int, str], TpsState]:
        return DataLoader(shielded(self._tps_states))

    @cached_property
    def history(self) -> DataLoader[int, list[tuple[Tally, dict[int, int]]]]:
        return DataLoader(shielded(self._histories))

    async def _regions(self, codes: Sequence[str]) -> list[RegionRow | None]:
        found = await self.catalog.regions(codes)
        return [found.get(code) for code in codes]

    async def _children(self, keys: Sequence[tuple[int, str]]) -> list[list[RegionRow]]:
        """Children of (race, region) that the race covers, by code."""
        found: dict[tuple[int, str], list[RegionRow]] = {}
        for race_id, parents in _by_race(keys).items():
            for parent, children in (await self.catalog.children(race_id, parents)).items():
                found[(race_id, parent)] = children
        return [found[key] for key in keys]

    async def _race_regions(self, keys: Sequence[tuple[int, str]]) -> list[tuple[int, int, int] | None]:
        """(TPS total, registered voters, TPS whose DPT is unknown) of (race, region); registered voters grow as TPS
        report their DPT."""
        found: dict[tuple[int, str], tuple[int, int, int]] = {}
        async with self.sessions() as session:
            for race_id, codes in _by_race(keys).items():
                rows = await session.execute(
                    select(
                        RaceRegion.region_code,
                        RaceRegion.tps_total,
                        RaceRegion.registered_voters,
                        RaceRegion.tps_without_dpt,
                    ).where(RaceRegion.race_id == race_id, RaceRegion.region_code.in_(codes))
                )
                for code, tps_total, registered, unknown in rows:
                    found[(race_id, code)] = (tps_total, registered, unknown)
        return [found.get(key) for key in keys]

    async def _results(self, keys: Sequence[tuple[int, Source, str]]) -> list[SourceResult | None]:
        grouped: dict[tuple[int, Source], list[str]] = defaultdict(list)
        for race_id, source, code in keys:
            grouped[(race_id, source)].append(code)
        found: dict[tuple[int, Source, str], SourceResult] = {}
        async with self.sessions() as session:
            for (race_id, source), codes in grouped.items():
                results = await results_for(session, race_id, source, codes, self.catalog.units_below)
                for code, result in results.items():
                    found[(race_id, source, code)] = result
        return [found.get(key) for key in keys]

    async def _claims(self, keys: Sequence[tuple[int, str]]) -> list[list[SourceResult]]:
        found: dict[tuple[int, str], list[SourceResult]] = {}
        async with self.sessions() as session:
            for race_id, codes in _by_race(keys).items():
                for code, claims in (await claim_results(session, race_id, codes)).items():
                    found[(race_id, code)] = claims
        return [found.get(key, []) for key in keys]

    async def _tps_states(self, keys: Sequence[tuple[int, int, str]]) -> list[TpsState]:
        """Where each (race, TPS id, TPS code) stands: a page of 100 TPS costs two statements, not 200."""
        found: dict[int, TpsState] = {}
        grouped: dict[int, dict[int, str]] = defaultdict(dict)
        for race_id, tps_id, code in keys:
            grouped[race_id][tps_id] = code
        async with self.sessions() as session:
            for race_id, codes in grouped.items():
                found.update(await tps_states(session, race_id, codes))
        return [found[tps_id] for _, tps_id, _ in keys]

    async def _histories(self, tps_ids: Sequence[int]) -> list[list[tuple[Tally, dict[int, int]]]]:
        """Every tally version of each TPS (by id), oldest first: a page of TPS costs two statements."""
        async with self.sessions() as session:
            found = await tally_histories(session, tps_ids)
        return [found[tps_id] for tps_id in tps_ids]
