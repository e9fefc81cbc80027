"""Loading a race dataset (`pantau load NAME`): regions, TPS, paslon and the published region-level results.

Everything is checked before anything is written, and the whole load is one transaction: bad data fails with a
message that names the offending record and leaves the database as it was. Loading the same race twice is a no-op.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Paslon, Race, RaceRegion, Region, Source, TallyStatus, Tps
from api.store import RaceInfo, TallyInput, record_region_tally
from sirekap.belu import SYNTHETIC_NOTE, Belu2020, belu_2020
from sirekap.codes import Level, ancestors_of, level_of

DATASETS: dict[str, Callable[[], Belu2020]] = {"belu-2020": belu_2020}


class LoadError(ValueError):
    """A dataset that cannot be loaded; the message names the offending record."""


@dataclass(frozen=True)
class LoadResult:
    race_id: int
    slug: str
    created: bool
    regions: int = 0
    tps: int = 0
    tallies: int = 0


def race_slug(data: Belu2020) -> str:
    return f"{data.kind}-{data.region_code}-{data.voting_day.year}"


async def load_race(session: AsyncSession, data: Belu2020, *, now: datetime) -> LoadResult:
    """Load a race dataset in the caller's transaction. The caller commits."""
    slug = race_slug(data)
    existing = await session.scalar(select(Race.id).where(Race.slug == slug))
    if existing is not None:
        return LoadResult(existing, slug, created=False)
    known = set((await session.scalars(select(Region.code))).all())
    _check(data, known)

    new_regions = [r for r in data.regions if r.code not in known]
    if new_regions:
        await session.execute(
            insert(Region),
            [
                {"code": r.code, "name": r.name, "level": r.level.value, "parent_code": r.parent_code}
                for r in new_regions
            ],
        )
    race_id = await session.scalar(
        insert(Race)
        .values(
            slug=slug,
            kind=data.kind,
            title=data.title,
            region_code=data.region_code,
            voting_day=data.voting_day,
            time_zone=data.time_zone,
            voter_cap_per_tps=data.voter_cap_per_tps,
        )
        .returning(Race.id)
    )
    assert race_id is not None
    paslon_ids: dict[int, int] = {}
    for p in data.paslon:
        paslon_ids[p.number] = await _insert_id(
            session,
            Paslon,
            race_id=race_id,
            number=p.number,
            calon=p.calon,
            wakil=p.wakil,
            short_name=p.short_name,
            colour=p.colour,
        )
    await session.execute(
        insert(Tps),
        [
            {
                "race_id": race_id,
                "code": t.code,
                "number": t.number,
                "desa_code": t.desa_code,
                "kecamatan_code": t.code[:6],
                "kabupaten_code": t.code[:4],
                "provinsi_code": t.code[:2],
                "registered_voters": t.registered_voters,
            }
            for t in data.tps
        ],
    )
    await session.execute(insert(RaceRegion), _race_regions(race_id, data))
    tallies = await _published_results(
        session, RaceInfo(race_id, data.region_code, frozenset(paslon_ids.values())), data, paslon_ids, now
    )
    return LoadResult(race_id, slug, True, len(new_regions), len(data.tps), tallies)


async def _insert_id(session: AsyncSession, model: type[Paslon], **values: object) -> int:
    new_id: int | None = await session.scalar(insert(model).values(**values).returning(model.id))
    assert new_id is not None
    return new_id


def _check(data: Belu2020, known: set[str]) -> None:
    codes = set(known)
    for region in data.regions:
        if region.parent_code is not None and region.parent_code not in codes:
            raise LoadError(f"region {region.code} ({region.name}): unknown parent code {region.parent_code}")
        if level_of(region.code) is not region.level:
            raise LoadError(f"region {region.code} ({region.name}): code length does not match level {region.level}")
        codes.add(region.code)
    if data.region_code not in codes:
        raise LoadError(f"race region {data.region_code} is not in the region tree")
    duplicates = [code for code, n in Counter(t.code for t in data.tps).items() if n > 1]
    if duplicates:
        raise LoadError(f"duplicate TPS {duplicates[0]}")
    for t in data.tps:
        if t.desa_code not in codes or not t.code.startswith(t.desa_code) or level_of(t.code) is not Level.TPS:
            raise LoadError(f"TPS {t.code}: not a TPS of a known desa/kelurahan ({t.desa_code})")
    numbers = {p.number for p in data.paslon}
    if len(numbers) != len(data.paslon):
        raise LoadError("two paslon share a ballot number")
    records = [(f"pleno kecamatan {r.kecamatan_code} ({r.name})", r.votes) for r in data.pleno_kecamatan]
    records.append((f"pleno kabupaten {data.region_code}", data.pleno_kabupaten))
    records += [(f"posko claim of {c.short_name} ({c.at_local})", c.votes) for c in data.posko_claims]
    records += [(f"TPS {t.code}", t.count.votes) for t in data.tps]
    for name, votes in records:
        unknown = sorted(set(votes) - numbers)
        if unknown:
            raise LoadError(f"{name}: votes for paslon number {unknown[0]}, who is not in the race")
    for claim in data.posko_claims:
        if claim.claimant not in numbers:
            raise LoadError(f"posko claim ({claim.at_local}): claimant {claim.claimant} is not in the race")
    for row in data.pleno_kecamatan:
        if row.kecamatan_code not in codes:
            raise LoadError(f"pleno kecamatan {row.kecamatan_code} ({row.name}): unknown kecamatan")


def _race_regions(race_id: int, data: Belu2020) -> list[dict[str, int | str]]:
    tps: dict[str, int] = defaultdict(int)
    voters: dict[str, int] = defaultdict(int)
    top = len(data.region_code)
    for t in data.tps:
        for code in ancestors_of(t.code):
            if len(code) >= top:
                tps[code] += 1
                voters[code] += t.registered_voters
    return [
        {"race_id": race_id, "region_code": code, "tps_total": tps[code], "registered_voters": voters[code]}
        for code in sorted(tps)
    ]


def _local(data: Belu2020, at_local: str) -> datetime | None:
    """A local timestamp from the dataset; None where only the day is known."""
    if "T" not in at_local:
        return None
    return datetime.fromisoformat(at_local).replace(tzinfo=ZoneInfo(data.time_zone))


async def _published_results(
    session: AsyncSession, race: RaceInfo, data: Belu2020, paslon_ids: dict[int, int], now: datetime
) -> int:
    def by_id(votes: dict[int, int]) -> dict[int, int]:
        return {paslon_ids[number]: v for number, v in votes.items()}

    count = 0
    for row in data.pleno_kecamatan:
        tally = TallyInput(
            by_id(row.votes),
            valid=sum(row.votes.values()),
            status=TallyStatus.OFFICIAL,
            entered_by="dataset",
            note="D.Hasil Kecamatan, read at the PPK plenos of 12-14 Dec 2020",
        )
        await record_region_tally(
            session, race, region_code=row.kecamatan_code, source=Source.PLENO_KECAMATAN, tally=tally, received_at=now
        )
        count += 1
    kabupaten = TallyInput(
        by_id(data.pleno_kabupaten),
        valid=sum(data.pleno_kabupaten.values()),
        source_ts=_local(data, data.pleno_kabupaten_at_local),
        status=TallyStatus.OFFICIAL,
        entered_by="dataset",
        note="D.Hasil Kabupaten, KPU Belu pleno",
    )
    await record_region_tally(
        session, race, region_code=data.region_code, source=Source.PLENO_KABUPATEN, tally=kabupaten, received_at=now
    )
    count += 1
    for claim in data.posko_claims:
        valid = sum(claim.votes.values())
        tally = TallyInput(
            by_id(claim.votes),
            valid=valid,
            invalid=claim.invalid,
            total=None if claim.invalid is None else valid + claim.invalid,
            tps_claimed=claim.tps_claimed,
            source_ts=_local(data, claim.at_local),
            status=TallyStatus.CLAIM,
            entered_by="dataset",
            note=f"claim published by the {claim.short_name} post on {claim.at_local}",
        )
        await record_region_tally(
            session,
            race,
            region_code=data.region_code,
            source=Source.POSKO,
            tally=tally,
            received_at=now,
            claimant=claim.claimant,
        )
        count += 1
    return count


__all__ = ["DATASETS", "SYNTHETIC_NOTE", "LoadError", "LoadResult", "load_dataset", "load_race"]


async def load_dataset(database_url: str, name: str, *, now: datetime) -> LoadResult:
    """Migrate the database if needed and load dataset `name` in one transaction."""
    from api.db import create_engine, sessionmaker
    from api.migrate import upgrade

    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        async with sessionmaker(engine).begin() as session:
            return await load_race(session, DATASETS[name](), now=now)
    finally:
        await engine.dispose()
