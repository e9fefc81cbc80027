"""Support for the sync tests (no tests here): a sync service against a running simulator, and the simulator's own
numbers to compare with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.storage.db import create_engine, sessionmaker
from api.storage.models import Paslon, Race, Rollup, RollupVote, Source, Tally, TallyVote
from api.sync.fetcher import FetchPolicy
from api.sync.metrics import SyncStats
from api.sync.service import SyncConfig, SyncService
from api.tallies.rollup_check import rollup_mismatches
from api.tallies.writer import RaceInfo
from sirekap.codes import url_path
from sirekap.races import RaceTarget
from sirekap.timestamps import WIB

#: The belu-2020 scenario is Pilkada 2020: the race is named with its election.
BELU = RaceTarget.parse("pkwkk 5304 2020")
#: Quick to give up, so failure tests take a second, not a minute; still retries and still backs off.
TEST_POLICY = FetchPolicy(
    concurrency=8, timeout_seconds=5, retries=1, backoff_base_seconds=0.01, backoff_cap_seconds=0.05
)


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    service: SyncService
    sessions: async_sessionmaker[AsyncSession]
    stats: SyncStats


@asynccontextmanager
async def sync_harness(
    database_url: str,
    base_url: str,
    clock: FakeClock,
    policy: FetchPolicy = TEST_POLICY,
    targets: tuple[RaceTarget, ...] = (BELU,),
) -> AsyncIterator[Harness]:
    engine = create_engine(database_url)
    sessions = sessionmaker(engine)
    stats = SyncStats()
    config = SyncConfig(base_url, targets, source_zone=WIB, policy=policy)
    service = SyncService(config, sessions, stats=stats, clock=clock)
    try:
        yield Harness(service, sessions, stats)
    finally:
        await service.stop()
        await engine.dispose()


async def race_info(session: AsyncSession) -> RaceInfo:
    race_id = await session.scalar(select(Race.id).where(Race.kind == "pkwkk", Race.region_code == "5304"))
    assert race_id is not None
    return await RaceInfo.load(session, race_id)


async def upstream_ids(session: AsyncSession, race_id: int) -> dict[int, str]:
    rows = await session.execute(select(Paslon.id, Paslon.upstream_id).where(Paslon.race_id == race_id))
    return {paslon: str(upstream) for paslon, upstream in rows}


async def stored_rollups(session: AsyncSession, race_id: int) -> dict[str, tuple[int, dict[str, int]]]:
    """region code → (TPS in, votes by upstream candidate id) of the Sirekap rollups."""
    ids = await upstream_ids(session, race_id)
    found: dict[str, tuple[int, dict[str, int]]] = {}
    for r in await session.scalars(select(Rollup).where(Rollup.race_id == race_id, Rollup.source == Source.SIREKAP)):
        found[r.region_code] = (r.tps_in, {})
    for v in await session.scalars(
        select(RollupVote).where(RollupVote.race_id == race_id, RollupVote.source == Source.SIREKAP)
    ):
        if v.votes:
            found[v.region_code][1][ids[v.paslon_id]] = v.votes
    return found


async def stored_tps_votes(session: AsyncSession, race_id: int) -> dict[str, dict[str, int]]:
    ids = await upstream_ids(session, race_id)
    rows = await session.execute(
        select(Tally.subject_code, TallyVote.paslon_id, TallyVote.votes)
        .join(TallyVote, TallyVote.tally_id == Tally.id)
        .where(Tally.race_id == race_id, Tally.source == Source.SIREKAP, Tally.is_current)
    )
    votes: dict[str, dict[str, int]] = {}
    for code, paslon, count in rows:
        votes.setdefault(code, {})[ids[paslon]] = count
    return votes


def simulator_numbers(base_url: str, top: str = "5304") -> dict[str, tuple[int, dict[str, int]]]:
    """Every region and TPS below `top` as the simulator's aggregated files show it: (TPS in, votes)."""
    numbers: dict[str, tuple[int, dict[str, int]]] = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        queue = [top]
        while queue:
            code = queue.pop()
            body = client.get(f"/pilkada/hhcw/pkwkk/{url_path(code)}.json").json()
            chart = body["tungsura"]["chart"]
            numbers[code] = (body["progres"]["progres"], {k: v for k, v in chart.items() if k.isdigit()})
            for child, row in body["tungsura"]["table"].items():
                if len(child) == 13:
                    numbers[child] = (row["progres"]["progres"], {k: v for k, v in row.items() if k.isdigit()})
                else:
                    queue.append(child)
    return numbers


def with_data(numbers: dict[str, tuple[int, dict[str, int]]]) -> dict[str, tuple[int, dict[str, int]]]:
    return {code: value for code, value in numbers.items() if value[0]}


async def assert_matches_simulator(sessions: async_sessionmaker[AsyncSession], base_url: str) -> None:
    """TPS, desa, kecamatan and kabupaten numbers in the database equal the simulator's, and rollups agree."""
    expected = with_data(simulator_numbers(base_url))
    async with sessions() as session:
        race = await race_info(session)
        assert await rollup_mismatches(session, race) == []
        rollups = await stored_rollups(session, race.id)
        tps = await stored_tps_votes(session, race.id)
    got = {code: value for code, value in rollups.items() if len(code) >= 4 and value[0]}
    got |= {code: (1, votes) for code, votes in tps.items()}
    assert got == expected
