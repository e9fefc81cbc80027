"""What changes only when a race is loaded or bootstrapped, kept per process: races, paslon, regions, the tree.

Races, paslon, region names and which regions a race covers change only when a race, its paslon or its TPS are
added. The catalog keeps them in memory and checks the structure version (newest race, paslon and TPS ids) at
most once per `check_seconds`; when it moved, everything is dropped and read again. So a results page costs the
statements for its numbers only, and a new race shows up within `check_seconds`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.read.results import count_units_below
from api.storage.db import shielded_read
from api.storage.models import Paslon, Race, RaceRegion, Region, Tps

T = TypeVar("T")

#: Regions kept at most; a national tree has about 91,600.
MAX_REGIONS = 250_000


@dataclass(frozen=True)
class RaceRow:
    id: int
    slug: str
    kind: str
    title: str
    region_code: str
    voting_day: date
    time_zone: str
    voter_cap_per_tps: int


@dataclass(frozen=True)
class PaslonRow:
    id: int
    race_id: int
    number: int
    calon: str
    wakil: str
    short_name: str
    colour: str | None


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(frozen=True)
class _Races:
    """Every race and each race's paslon, as one read."""

    races: list[RaceRow]
    paslon: dict[int, list[PaslonRow]]


async def structure_version(session: AsyncSession) -> tuple[int, int, int]:
    """Newest race, paslon and TPS ids: a bootstrap or a load adds at least one of them."""
    newest = [select(func.max(model.id)).scalar_subquery() for model in (Race, Paslon, Tps)]
    row = (await session.execute(select(*newest))).one()
    return (row[0] or 0, row[1] or 0, row[2] or 0)


class Catalog:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        check_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.check_seconds = check_seconds
        self.clock = clock
        self._checked_at: float | None = None
        self._checking = asyncio.Lock()
        self._version: tuple[int, int, int] | None = None
        self._races: _Races | None = None
        self._regions: dict[str, RegionRow] = {}
        self._children: dict[tuple[int, str], list[RegionRow]] = {}
        self._units: dict[tuple[int, str, int], int] = {}
        self._tps_totals: dict[tuple[int, str], int | None] = {}

    def _due(self) -> bool:
        return self._checked_at is None or self.clock() - self._checked_at >= self.check_seconds

    async def _fresh(self, session: AsyncSession) -> None:
        # One check at a time: callers that find it due while another checks use the catalog as it is (at most one
        # check stale) rather than each reading the version at once, as a flush of live events would. They do not
        # wait either: a caller may hold a pooled connection, and the check needs one.
        if not self._due() or self._checking.locked():
            return
        async with self._checking:
            await self._check(session)

    async def _check(self, session: AsyncSession) -> None:
        now = self.clock()
        version = await structure_version(session)
        self._checked_at = now
        if version != self._version:
            self._version = version
            self._races = None
            self._regions = {}
            self._children = {}
            self._units = {}
            self._tps_totals = {}

    async def _reading(self, load: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`load` in a session of its own once the catalog is checked fresh, run to its end whatever befalls the
        caller (`api.storage.db.shielded_read`)."""

        async def fresh_then_load(session: AsyncSession) -> T:
            await self._fresh(session)
            return await load(session)

        return await shielded_read(self.sessions, fresh_then_load)

    async def races(self) -> list[RaceRow]:
        """Every race, newest voting day first."""
        return (await self._race_list()).races

    async def _race_list(self) -> _Races:
        """The races with their paslon, read together: a check running meanwhile may drop them, never half."""
        known = self._races
        if known is None or self._due():
            known = await self._reading(self._load_races)
        return known

    async def _load_races(self, session: AsyncSession) -> _Races:
        if self._races is not None:  # the check found them current
            return self._races
        rows = await session.execute(
            select(
                Race.id,
                Race.slug,
                Race.kind,
                Race.title,
                Race.region_code,
                Race.voting_day,
                Race.time_zone,
                Race.voter_cap_per_tps,
            ).order_by(Race.voting_day.desc(), Race.id)
        )
        races = [RaceRow(*row) for row in rows]
        paslon: dict[int, list[PaslonRow]] = {race.id: [] for race in races}
        for row in await session.execute(
            select(
                Paslon.id, Paslon.race_id, Paslon.number, Paslon.calon, Paslon.wakil, Paslon.short_name, Paslon.colour
            ).order_by(Paslon.race_id, Paslon.number)
        ):
            paslon.setdefault(row[1], []).append(PaslonRow(*row))
        self._races = _Races(races, paslon)
        return self._races

    async def race(self, slug: str) -> RaceRow | None:
        return next((r for r in await self.races() if r.slug == slug), None)

    async def race_by_id(self, race_id: int) -> RaceRow | None:
        return next((r for r in await self.races() if r.id == race_id), None)

    async def race_covering(self, code: str) -> RaceRow | None:
        """The newest race whose region contains the code."""
        return next((r for r in await self.races() if code.startswith(r.region_code)), None)

    async def paslon(self, race_id: int) -> list[PaslonRow]:
        """The race's paslon by ballot number."""
        return (await self._race_list()).paslon.get(race_id, [])

    async def regions(self, codes: Iterable[str]) -> dict[str, RegionRow]:
        wanted = set(codes)
        known = self._regions
        if self._due() or not wanted <= known.keys():
            known = await self._reading(partial(self._load_regions, wanted))
        return {code: known[code] for code in wanted if code in known}

    async def _load_regions(self, wanted: set[str], session: AsyncSession) -> dict[str, RegionRow]:
        """Fills and returns the regions known now: a check running meanwhile may start a new dict."""
        known = self._regions
        missing = sorted(wanted - known.keys())
        if missing:
            if len(known) + len(missing) > MAX_REGIONS:
                known = self._regions = {}
            rows = await session.execute(
                select(Region.code, Region.name, Region.level, Region.parent_code).where(Region.code.in_(missing))
            )
            for row in rows:
                known[row[0]] = RegionRow(*row)
        return known

    async def children(self, race_id: int, parents: Sequence[str]) -> dict[str, list[RegionRow]]:
        """The regions directly below each parent that the race covers, by code."""
        known = self._children
        if self._due() or any((race_id, p) not in known for p in parents):
            known = await self._reading(partial(self._load_children, race_id, parents))
        return {p: known[(race_id, p)] for p in parents}

    async def _load_children(
        self, race_id: int, parents: Sequence[str], session: AsyncSession
    ) -> dict[tuple[int, str], list[RegionRow]]:
        """Fills and returns the children known now: a check running meanwhile may start a new dict."""
        known = self._children
        missing = sorted({p for p in parents if (race_id, p) not in known})
        if missing:
            found: dict[str, list[RegionRow]] = {p: [] for p in missing}
            rows = await session.execute(
                select(Region.code, Region.name, Region.level, Region.parent_code)
                .join(RaceRegion, RaceRegion.region_code == Region.code)
                .where(RaceRegion.race_id == race_id, Region.parent_code.in_(missing))
                .order_by(Region.code)
            )
            for row in rows:
                region = RegionRow(*row)
                assert region.parent_code is not None
                found[region.parent_code].append(region)
            for parent, children in found.items():
                known[(race_id, parent)] = children
        return known

    async def units_below(self, race_id: int, codes: Sequence[str], length: int) -> dict[str, int]:
        """How many regions with codes of `length` the race covers below each code (e.g. kecamatan of a kabupaten)."""
        known = self._units
        if self._due() or any((race_id, c, length) not in known for c in codes):
            known = await self._reading(partial(self._load_units, race_id, codes, length))
        return {c: known[(race_id, c, length)] for c in codes}

    async def _load_units(
        self, race_id: int, codes: Sequence[str], length: int, session: AsyncSession
    ) -> dict[tuple[int, str, int], int]:
        known = self._units
        missing = sorted({c for c in codes if (race_id, c, length) not in known})
        for code, count in (await count_units_below(session, race_id, missing, length)).items():
            known[(race_id, code, length)] = count
        return known

    async def tps_totals(self, race_id: int, codes: Sequence[str]) -> dict[str, int]:
        """TPS below each region the race covers; regions it does not cover are left out."""
        known = self._tps_totals
        if self._due() or any((race_id, c) not in known for c in codes):
            known = await self._reading(partial(self._load_tps_totals, race_id, codes))
        totals = {c: known[(race_id, c)] for c in codes}
        return {c: n for c, n in totals.items() if n is not None}

    async def _load_tps_totals(
        self, race_id: int, codes: Sequence[str], session: AsyncSession
    ) -> dict[tuple[int, str], int | None]:
        known = self._tps_totals
        missing = sorted({c for c in codes if (race_id, c) not in known})
        if missing:
            rows = await session.execute(
                select(RaceRegion.region_code, RaceRegion.tps_total).where(
                    RaceRegion.race_id == race_id, RaceRegion.region_code.in_(missing)
                )
            )
            found = {code: total for code, total in rows}
            for code in missing:
                known[(race_id, code)] = found.get(code)
        return known
