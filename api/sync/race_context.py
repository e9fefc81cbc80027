"""What a sync pass needs to know about its race: its identity, its target upstream, its paslon by upstream id."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import Paslon, Race
from api.tallies.writer import RaceInfo
from sirekap.races import RaceTarget


@dataclass(frozen=True)
class RaceContext:
    """What a pass needs to know about its race, loaded once."""

    race: RaceInfo
    target: RaceTarget
    paslon_by_upstream: dict[str, int]
    voter_cap: int
    source_zone: ZoneInfo

    @property
    def upstream_by_paslon(self) -> dict[int, str]:
        return {paslon: upstream for upstream, paslon in self.paslon_by_upstream.items()}

    @classmethod
    async def load(cls, session: AsyncSession, race_id: int, target: RaceTarget, source_zone: ZoneInfo) -> RaceContext:
        race = await session.get_one(Race, race_id)
        rows = await session.execute(select(Paslon.id, Paslon.upstream_id).where(Paslon.race_id == race_id))
        pairs = list(rows)
        return cls(
            RaceInfo(race.id, race.region_code, frozenset(p for p, _ in pairs)),
            target,
            {upstream: paslon for paslon, upstream in pairs if upstream},
            race.voter_cap_per_tps,
            source_zone,
        )
