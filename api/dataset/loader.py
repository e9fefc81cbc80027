"""Loading a race dataset (`pantau load NAME`): the race as it stood before its night (regions, TPS with their
DPT, paslon), and, up to a moment, the results that came later (`--until`).

The race is checked before anything is written and loaded in one transaction: bad data fails with a message that
names the offending record and leaves the database as it was. Loading the same race twice is a no-op. Results (posko
claims, plenos) are events with their own time (`api.dataset.events`); `until` records those known by then, each
through the same write use cases as the write API, received at its own time. An event already recorded is left as
it is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth.tokens import Principal, Role
from api.dataset.events import Event, Kind, night_events
from api.read.catalog import Catalog
from api.storage.models import Paslon, Race, RaceRegion, Region, Tps
from api.write.outcomes import Accepted, Conflict, Outcome, Refused, Rejected
from api.write.recording import record_claim, record_pleno
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
    #: Events recorded by this load, and those found already recorded.
    recorded: tuple[Event, ...] = ()
    already: tuple[Event, ...] = ()


def race_slug(data: Belu2020) -> str:
    return f"{data.kind}-{data.region_code}-{data.voting_day.year}"


async def load_race(session: AsyncSession, data: Belu2020) -> LoadResult:
    """Load a race as it stood before its night, in the caller's transaction. The caller commits."""
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
    return LoadResult(race_id, slug, True, len(new_regions), len(data.tps))


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


def loader(name: str) -> Principal:
    """Who records the events of a load, in the audit log and on each tally: `pantau load NAME`, not a token."""
    return Principal(None, "", f"pantau load {name}", Role.ADMIN, region_code=None, paslon=None)


async def record_events(
    sessions: async_sessionmaker[AsyncSession], events: list[Event], slug: str, principal: Principal
) -> tuple[list[Event], list[Event]]:
    """Record events through the write use cases, each received at its own time, one transaction each.

    Returns (recorded, already recorded). An event the write rules refuse raises LoadError naming it."""
    catalog = Catalog(sessions, check_seconds=0.0)
    recorded, already = [], []
    for event in events:
        async with sessions() as session:
            outcome = await _record(session, catalog, principal, event, slug)
            if isinstance(outcome, Accepted):
                await session.commit()
                recorded.append(event)
            elif isinstance(outcome, Conflict):
                already.append(event)
            else:
                raise LoadError(f"{event.key} ({event.what}): refused: {_why(outcome)}")
    return recorded, already


def _why(outcome: Rejected | Refused) -> str:
    if isinstance(outcome, Rejected):
        return "; ".join(f"{reason.field}: {reason.message}" for reason in outcome.reasons)
    return outcome.message


async def _record(session: AsyncSession, catalog: Catalog, principal: Principal, event: Event, slug: str) -> Outcome:
    entry = event.entry(race=slug)
    if event.kind is Kind.POSKO_CLAIM:
        return await record_claim(session, catalog, principal, entry, event.at)
    return await record_pleno(session, catalog, principal, entry, event.source, event.at)


__all__ = ["DATASETS", "SYNTHETIC_NOTE", "LoadError", "LoadResult", "load_dataset", "load_race", "record_events"]


async def load_dataset(database_url: str, name: str, *, until: datetime | None = None) -> LoadResult:
    """Migrate the database if needed, load race `name` in one transaction, then record its events known by
    `until` (none without it)."""
    from api.storage.db import create_engine, sessionmaker
    from api.storage.migrate import upgrade

    await upgrade(database_url)
    engine = create_engine(database_url)
    data = DATASETS[name]()
    try:
        sessions = sessionmaker(engine)
        async with sessions.begin() as session:
            result = await load_race(session, data)
        if until is None:
            return result
        due = [e for e in night_events(data, result.slug) if e.at <= until]
        recorded, already = await record_events(sessions, due, result.slug, loader(name))
        return replace(result, recorded=tuple(recorded), already=tuple(already))
    finally:
        await engine.dispose()
