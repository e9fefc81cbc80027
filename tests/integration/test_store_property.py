"""After any sequence of tally writes and corrections through the one tally writer, for every source, one at a time or
in batches, rollups equal the sums of the current tallies below them, and every version ever written is still in
history."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.storage.db import create_engine, sessionmaker
from api.storage.models import Source, Tally, Tps
from api.tallies.rollup_check import rollup_mismatches
from api.tallies.writer import RaceInfo, TallyError, TallyInput, TallyWrite, VersionConflict, record_tallies

T0 = datetime(2020, 12, 9, 5, 30, tzinfo=UTC)

# A few TPS in two desa of one kecamatan and one TPS of another kecamatan: writes collide on shared rollups. Region
# subjects: a kecamatan's pleno, the kabupaten's, and both posts' claims.
SUBJECTS = st.one_of(
    st.tuples(st.sampled_from([0, 1, 2, 3, 30, 200]), st.sampled_from([Source.SIREKAP, Source.CHASIL]), st.just(0)),
    st.tuples(st.just(-1), st.sampled_from([Source.PLENO_KECAMATAN, Source.PLENO_KABUPATEN]), st.just(0)),
    st.tuples(st.just(-1), st.just(Source.POSKO), st.sampled_from([1, 2])),
)
write = st.tuples(
    SUBJECTS,
    st.lists(st.integers(0, 400), min_size=2, max_size=2),
    st.integers(0, 20),
    st.booleans(),  # numbers incomplete (valid unknown)
    st.booleans(),  # written in one batch with the write before it, where it can be
)
Write = tuple[tuple[int, Source, int], list[int], int, bool, bool]
REGION = {Source.PLENO_KECAMATAN: "530412", Source.PLENO_KABUPATEN: "5304", Source.POSKO: "5304"}


async def _apply(sessions: async_sessionmaker[AsyncSession], writes: list[Write]) -> None:
    async with sessions() as session:
        race = await RaceInfo.load(session, 1)
        tps = (await session.execute(select(Tps.id, Tps.code).order_by(Tps.code))).all()
        paslon = sorted(race.paslon_ids)
    before = await _versions(sessions)
    batches: list[tuple[Source, list[TallyWrite]]] = []
    for step, ((index, source, claimant), votes, invalid, incomplete, together) in enumerate(writes):
        valid = None if incomplete else sum(votes)
        tally = TallyInput(
            dict(zip(paslon, votes, strict=True)),
            valid=valid,
            invalid=invalid,
            total=None if valid is None else valid + invalid,
            voters_total=None if valid is None else valid + invalid,
            tps_claimed=10 if source is Source.POSKO else None,
            source_ts=T0 + timedelta(minutes=15 * step),
        )
        tps_id, code = tps[index] if index >= 0 else (None, REGION[source])
        item = TallyWrite(code, tally, tps_id=tps_id, claimant=claimant)
        last = batches[-1] if batches else None
        if together and last and last[0] is source and item.key not in {w.key for w in last[1]}:
            last[1].append(item)
        else:
            batches.append((source, [item]))
    for source, batch in batches:
        async with sessions.begin() as session:
            await record_tallies(session, race, source, batch, received_at=T0)
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
def test_rollups_equal_sums_of_current_tallies(belu_race_database_url: str, writes: list[Write]) -> None:
    async def run() -> None:
        engine = create_engine(belu_race_database_url)
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
        entry = TallyWrite(
            code, TallyInput({a: votes, b: 10}, valid=votes + 10), tps_id=tps_id, expected_version=expected
        )
        async with belu_sessions.begin() as session:
            (written,) = await record_tallies(session, race, Source.CHASIL, [entry], received_at=T0)
            return written.version

    assert await write(948, expected=0) == 1
    assert await write(58, expected=1) == 2
    with pytest.raises(VersionConflict, match="version 1 is not current; the current version is 2"):
        await write(59, expected=1)
    with pytest.raises(TallyError, match="not in race"):
        async with belu_sessions.begin() as session:
            stranger = TallyWrite(code, TallyInput({999: 1}), tps_id=tps_id)
            await record_tallies(session, race, Source.CHASIL, [stranger], received_at=T0)
    with pytest.raises(TallyError, match="appears twice in one batch"):
        async with belu_sessions.begin() as session:
            twice = TallyWrite(code, TallyInput({a: 1, b: 1}), tps_id=tps_id)
            await record_tallies(session, race, Source.CHASIL, [twice, twice], received_at=T0)
    async with belu_sessions() as session:
        assert await rollup_mismatches(session, race) == []
        versions = (
            await session.scalars(select(Tally.valid).where(Tally.subject_code == code).order_by(Tally.version))
        ).all()
        assert versions == [958, 68]
