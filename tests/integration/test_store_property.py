"""After any sequence of TPS tally writes and corrections, rollups equal the sums of the current tallies below
them, and every version ever written is still in history."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import create_engine, sessionmaker
from api.models import Source, Tally, Tps
from api.rollup_check import rollup_mismatches
from api.store import RaceInfo, StoreError, TallyInput, VersionConflict, record_tps_tally

T0 = datetime(2020, 12, 9, 5, 30, tzinfo=UTC)

# A few TPS in two desa of one kecamatan and one TPS of another kecamatan: writes collide on shared rollups.
TPS_INDEXES = st.sampled_from([0, 1, 2, 3, 30, 200])
write = st.tuples(
    TPS_INDEXES,
    st.sampled_from([Source.SIREKAP, Source.CHASIL]),
    st.lists(st.integers(0, 400), min_size=2, max_size=2),
    st.integers(0, 20),
    st.booleans(),  # numbers incomplete (valid unknown)
)


async def _apply(
    sessions: async_sessionmaker[AsyncSession], writes: list[tuple[int, Source, list[int], int, bool]]
) -> None:
    async with sessions() as session:
        race = await RaceInfo.load(session, 1)
        tps = (await session.execute(select(Tps.id, Tps.code).order_by(Tps.code))).all()
        paslon = sorted(race.paslon_ids)
    before = await _versions(sessions)
    for step, (index, source, votes, invalid, incomplete) in enumerate(writes):
        tps_id, code = tps[index]
        valid = None if incomplete else sum(votes)
        tally = TallyInput(
            dict(zip(paslon, votes, strict=True)),
            valid=valid,
            invalid=invalid,
            total=None if valid is None else valid + invalid,
            voters_total=None if valid is None else valid + invalid,
            source_ts=T0 + timedelta(minutes=15 * step),
        )
        async with sessions.begin() as session:
            await record_tps_tally(
                session, race, tps_id=tps_id, tps_code=code, source=source, tally=tally, received_at=T0
            )
    async with sessions() as session:
        assert await rollup_mismatches(session, race) == []
    after = await _versions(sessions)
    assert all(after[subject][: len(versions)] == versions for subject, versions in before.items())
    for subject, versions in after.items():
        assert versions == list(range(1, len(versions) + 1)), subject


async def _versions(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, str, int], list[int]]:
    async with sessions() as session:
        subject = (Tally.source, Tally.subject_code, Tally.claimant)
        rows = await session.execute(select(*subject, Tally.version).order_by(Tally.version))
        out: dict[tuple[str, str, int], list[int]] = {}
        for source, code, claimant, version in rows:
            out.setdefault((source, code, claimant), []).append(version)
        current = await session.execute(select(*subject, func.count()).where(Tally.is_current).group_by(*subject))
        assert all(n == 1 for *_, n in current)
        return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(write, min_size=1, max_size=12))
def test_rollups_equal_sums_of_current_tallies(
    belu_database_url: str, writes: list[tuple[int, Source, list[int], int, bool]]
) -> None:
    async def run() -> None:
        engine = create_engine(belu_database_url)
        try:
            await _apply(sessionmaker(engine), writes)
        finally:
            await engine.dispose()

    asyncio.run(run())


async def test_stale_correction_is_a_conflict_and_changes_nothing(
    belu_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with belu_sessions() as session:
        race = await RaceInfo.load(session, 1)
        tps_id, code = (await session.execute(select(Tps.id, Tps.code).order_by(Tps.code).limit(1))).one()
    (a, b) = sorted(race.paslon_ids)

    async def write(votes: int, expected: int | None) -> int:
        async with belu_sessions.begin() as session:
            written = await record_tps_tally(
                session,
                race,
                tps_id=tps_id,
                tps_code=code,
                source=Source.CHASIL,
                tally=TallyInput({a: votes, b: 10}, valid=votes + 10),
                received_at=T0,
                expected_version=expected,
            )
            return written.version

    assert await write(948, expected=0) == 1
    assert await write(58, expected=1) == 2
    with pytest.raises(VersionConflict, match="version 1 is not current; the current version is 2"):
        await write(59, expected=1)
    with pytest.raises(StoreError, match="not in race"):
        async with belu_sessions.begin() as session:
            await record_tps_tally(
                session,
                race,
                tps_id=tps_id,
                tps_code=code,
                source=Source.CHASIL,
                tally=TallyInput({999: 1}),
                received_at=T0,
            )
    async with belu_sessions() as session:
        assert await rollup_mismatches(session, race) == []
        versions = (
            await session.scalars(select(Tally.valid).where(Tally.subject_code == code).order_by(Tally.version))
        ).all()
        assert versions == [958, 68]
