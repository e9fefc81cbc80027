from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.dataset.loader import LoadError, load_dataset, load_race
from api.storage.models import Paslon, Race, RaceRegion, Region, Source, Tally, TallyVote, Tps
from sirekap.belu import Belu2020, PlenoRow, belu_2020
from sirekap.belu import Region as DataRegion
from sirekap.codes import Level

WITA = ZoneInfo("Asia/Makassar")


async def _votes_by_number(session: AsyncSession, source: Source, subject: str, claimant: int = 0) -> dict[int, int]:
    rows = await session.execute(
        select(Paslon.number, TallyVote.votes)
        .join(TallyVote, TallyVote.paslon_id == Paslon.id)
        .join(Tally, Tally.id == TallyVote.tally_id)
        .where(Tally.source == source, Tally.subject_code == subject, Tally.claimant == claimant, Tally.is_current)
    )
    return dict(rows.all())


async def test_belu_fixture_reproduces_the_facts(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    async with belu_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Tps)) == 426
        assert await session.scalar(select(func.sum(Tps.registered_voters))) == 118_005
        levels = dict((await session.execute(select(Region.level, func.count()).group_by(Region.level))).all())
        assert levels == {"provinsi": 1, "kabupaten": 1, "kecamatan": 12, "desa": 81}
        race = await session.scalar(select(Race))
        assert race is not None
        assert (race.kind, race.region_code, race.time_zone, race.voter_cap_per_tps) == (
            "pkwkk",
            "5304",
            "Asia/Makassar",
            500,
        )
        paslon = (await session.scalars(select(Paslon).order_by(Paslon.number))).all()
        assert [(p.number, p.short_name) for p in paslon] == [(1, "SAHABAT"), (2, "SEHATI")]

        assert await _votes_by_number(session, Source.PLENO_KABUPATEN, "5304") == {1: 50_376, 2: 50_623}
        for row in belu_2020().pleno_kecamatan:
            assert await _votes_by_number(session, Source.PLENO_KECAMATAN, row.kecamatan_code) == row.votes
        assert await _votes_by_number(session, Source.POSKO, "5304", claimant=2) == {1: 48_206, 2: 48_742}
        assert await _votes_by_number(session, Source.POSKO, "5304", claimant=1) == {1: 48_424, 2: 48_267}
        sahabat = await session.scalar(select(Tally).where(Tally.source == Source.POSKO, Tally.claimant == 1))
        assert sahabat is not None and sahabat.tps_claimed == 408
        # known only by its day: the day is kept, no hour is invented, and it was received at the close of that day
        assert (sahabat.source_ts, sahabat.source_date) == (None, date(2020, 12, 10))
        assert sahabat.received_at == datetime(2020, 12, 10, 23, 59, tzinfo=WITA)
        statuses = dict((await session.execute(select(Tally.source, Tally.status).distinct())).all())
        assert statuses == {"pleno_kecamatan": "recap", "pleno_kabupaten": "official", "posko": "claim"}
        kpu = await session.scalar(select(Tally).where(Tally.source == Source.PLENO_KABUPATEN))
        assert kpu is not None and kpu.received_at == kpu.source_ts == datetime(2020, 12, 16, 18, tzinfo=WITA)

        kabupaten = await session.get(RaceRegion, (race.id, "5304"))
        assert kabupaten is not None and (kabupaten.tps_total, kabupaten.registered_voters) == (426, 118_005)
        atambua = await session.get(RaceRegion, (race.id, "530412"))
        assert atambua is not None and (atambua.tps_total, atambua.registered_voters) == (53, 16_238)


async def test_loading_twice_is_a_no_op(belu_sessions: async_sessionmaker[AsyncSession]) -> None:
    async with belu_sessions.begin() as session:
        result = await load_race(session, belu_2020())
    assert not result.created
    async with belu_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Tps)) == 426
        assert await session.scalar(select(func.count()).select_from(Race)) == 1
        assert await session.scalar(select(func.count()).select_from(Tally)) == 15


def _bad_parent(data: Belu2020) -> Belu2020:
    stray = DataRegion("5304992001", "NOWHERE", Level.DESA, "530499")
    return replace(data, regions=(*data.regions, stray))


def _duplicate_tps(data: Belu2020) -> Belu2020:
    return replace(data, tps=(*data.tps, data.tps[7]))


def _stranger_votes(data: Belu2020) -> Belu2020:
    row = data.pleno_kecamatan[0]
    bad = PlenoRow(row.kecamatan_code, row.name, {**row.votes, 3: 10})
    return replace(data, pleno_kecamatan=(bad, *data.pleno_kecamatan[1:]))


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_bad_parent, "region 5304992001 (NOWHERE): unknown parent code 530499"),
        (_duplicate_tps, f"duplicate TPS {belu_2020().tps[7].code}"),
        (_stranger_votes, "pleno kecamatan 530412 (KOTA ATAMBUA): votes for paslon number 3, who is not in the race"),
    ],
    ids=["unknown-parent", "duplicate-tps", "paslon-not-in-race"],
)
async def test_bad_data_fails_naming_the_record_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], spoil: object, message: str
) -> None:
    assert callable(spoil)
    with pytest.raises(LoadError) as error:
        async with sessions.begin() as session:
            await load_race(session, spoil(belu_2020()))
    assert str(error.value) == message
    async with sessions() as session:
        for model in (Region, Race, Tps, Tally):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def _tallies(url: str) -> list[tuple[str, str, int]]:
    from api.storage.db import create_engine, sessionmaker

    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as session:
            rows = await session.execute(select(Tally.source, Tally.subject_code, Tally.claimant).order_by(Tally.id))
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


async def test_the_race_loads_alone_and_its_events_up_to_a_moment(database_url: str) -> None:
    alone = await load_dataset(database_url, "belu-2020")
    assert alone.created and alone.tps == 426 and not alone.recorded
    assert await _tallies(database_url) == []

    night = await load_dataset(database_url, "belu-2020", until=datetime(2020, 12, 10, 1, 0, tzinfo=WITA))
    assert not night.created
    assert [e.key for e in night.recorded] == ["pkwkk-5304-2020/posko_claim/2"]  # SEHATI's, at 00:30
    assert await _tallies(database_url) == [("posko", "5304", 2)]

    rest = await load_dataset(database_url, "belu-2020", until=datetime(2020, 12, 16, 18, 0, tzinfo=WITA))
    assert [e.key for e in rest.already] == ["pkwkk-5304-2020/posko_claim/2"]
    kinds = [e.kind.value for e in rest.recorded]
    assert kinds == ["posko_claim"] + ["pleno_kecamatan"] * 12 + ["pleno_kabupaten"]
    assert len(await _tallies(database_url)) == 15
    assert (await load_dataset(database_url, "belu-2020", until=datetime(2021, 1, 1, tzinfo=UTC))).recorded == ()
