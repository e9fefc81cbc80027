"""A region's numbers per source, read from rollups (TPS sources) or region tallies (claims and plenos).

Every function takes many region codes at once so a breakdown of N children costs a fixed number of statements.

One module past 300 lines: each source's read (rollups, region tallies, pleno sums) is a statement built once
here, beside the record they all return.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import TPS_SOURCES, RaceRegion, Rollup, RollupVote, Source, Tally, TallyStatus, TallyVote
from sirekap.codes import LENGTHS, Level, level_of

#: The level whose tallies a pleno source records, and the level it is counted in above that.
PLENO_LEVEL = {Source.PLENO_KECAMATAN: Level.KECAMATAN, Source.PLENO_KABUPATEN: Level.KABUPATEN}


@dataclass(frozen=True)
class SourceResult:
    """One source's numbers for one region."""

    source: Source
    region_code: str
    status: TallyStatus
    votes: dict[int, int]  # paslon id -> votes
    valid: int | None
    invalid: int | None
    total: int | None
    unit: str  # what coverage counts: "tps" or the level of the pleno ("kecamatan", "kabupaten")
    reported: int
    expected: int
    as_of: datetime | None
    received_at: datetime | None
    claimant: int = 0
    note: str | None = None
    findings: list[dict[str, str]] = field(default_factory=list)
    version: int | None = None
    as_of_date: date | None = None  # the source's day, when only the day is known


def _rollup_statement() -> Select[Any]:
    regions, rollups, votes = RaceRegion.__table__.c, Rollup.__table__.c, RollupVote.__table__.c
    return (
        select(
            regions.region_code,
            regions.tps_total,
            rollups.tps_in,
            rollups.valid,
            rollups.invalid,
            rollups.total,
            rollups.latest_source_ts,
            rollups.updated_at,
            votes.paslon_id,
            votes.votes,
        )
        .select_from(RaceRegion.__table__)
        .outerjoin(
            Rollup.__table__,
            and_(
                rollups.race_id == regions.race_id,
                rollups.source == bindparam("source"),
                rollups.region_code == regions.region_code,
            ),
        )
        .outerjoin(
            RollupVote.__table__,
            and_(
                votes.race_id == rollups.race_id,
                votes.source == rollups.source,
                votes.region_code == rollups.region_code,
            ),
        )
        .where(regions.race_id == bindparam("race_id"), regions.region_code.in_(bindparam("codes", expanding=True)))
    )


#: Built once: Core tables and bound parameters, so a request neither builds nor keys a new statement.
_ROLLUPS = _rollup_statement()


async def tps_source_results(
    session: AsyncSession, race_id: int, source: Source, codes: Sequence[str]
) -> dict[str, SourceResult]:
    """Sirekap or C.Hasil totals per region from the rollups, in one statement; regions with no TPS in get zeros."""
    rows = await session.execute(_ROLLUPS, {"source": source.value, "race_id": race_id, "codes": list(codes)})
    out: dict[str, SourceResult] = {}
    for code, expected, tps_in, valid, invalid, total, as_of, received, paslon_id, count in rows:
        result = out.get(code)
        if result is None:
            result = out[code] = SourceResult(
                source=source,
                region_code=code,
                status=TallyStatus.PROVISIONAL,
                votes={},
                valid=valid or 0,
                invalid=invalid or 0,
                total=total or 0,
                unit="tps",
                reported=tps_in or 0,
                expected=expected,
                as_of=as_of,
                received_at=received,
            )
        if paslon_id is not None:
            result.votes[paslon_id] = count
    return out


@dataclass(frozen=True)
class RegionTally:
    """The current tally of a region-level source (a claim or a pleno) with its votes."""

    subject_code: str
    claimant: int
    status: str
    valid: int | None
    invalid: int | None
    total: int | None
    tps_claimed: int | None
    source_ts: datetime | None
    source_date: date | None
    received_at: datetime
    note: str | None
    findings: list[dict[str, str]]
    version: int
    tps_total: int | None  # TPS below the region in the race
    votes: dict[int, int]


@functools.lru_cache(maxsize=32)
def _region_tallies_statement(subjects: bool, prefixes: int) -> Select[Any]:
    """Current tallies of one source with their votes, built once per shape: at the subjects in `subjects` (a bound
    list) and/or below `prefixes` patterns `prefix0`, `prefix1`… (LIKE, escaped), for `race_id` and `source`."""
    tallies, votes, regions = Tally.__table__.c, TallyVote.__table__.c, RaceRegion.__table__.c
    where = [tallies.race_id == bindparam("race_id"), tallies.source == bindparam("source"), tallies.is_current]
    if subjects:
        where.append(tallies.subject_code.in_(bindparam("subjects", expanding=True)))
    if prefixes:
        where.append(or_(*(tallies.subject_code.like(bindparam(f"prefix{i}"), escape="/") for i in range(prefixes))))
    return (
        select(
            tallies.id,
            tallies.subject_code,
            tallies.claimant,
            tallies.status,
            tallies.valid,
            tallies.invalid,
            tallies.total,
            tallies.tps_claimed,
            tallies.source_ts,
            tallies.source_date,
            tallies.received_at,
            tallies.note,
            tallies.findings,
            tallies.version,
            regions.tps_total,
            votes.paslon_id,
            votes.votes,
        )
        .select_from(Tally.__table__)
        .outerjoin(TallyVote.__table__, votes.tally_id == tallies.id)
        .outerjoin(
            RaceRegion.__table__,
            and_(regions.race_id == tallies.race_id, regions.region_code == tallies.subject_code),
        )
        .where(and_(*where))
        .order_by(tallies.subject_code, tallies.claimant)
    )


def _starting_with(prefix: str) -> str:
    """A LIKE pattern (escape character `/`) for the codes that start with `prefix`."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


async def current_region_tallies(
    session: AsyncSession,
    race_id: int,
    source: Source,
    subjects: Sequence[str] | None = None,
    prefixes: Sequence[str] = (),
) -> list[RegionTally]:
    """Current tallies of a region-level source at exactly `subjects`, or below any of `prefixes`; one statement."""
    values: dict[str, Any] = {"race_id": race_id, "source": Source(source).value}
    if subjects is not None:
        values["subjects"] = list(subjects)
    for i, prefix in enumerate(prefixes):
        values[f"prefix{i}"] = _starting_with(prefix)
    rows = await session.execute(_region_tallies_statement(subjects is not None, len(prefixes)), values)
    found: dict[int, RegionTally] = {}
    for tally_id, *fields, paslon_id, count in rows:
        tally = found.get(tally_id)
        if tally is None:
            tally = found[tally_id] = RegionTally(*fields, votes={})  # type: ignore[misc]
        if paslon_id is not None:
            tally.votes[paslon_id] = count
    return list(found.values())


def _from_tally(tally: RegionTally, unit: str, source: Source, expected: int = 1) -> SourceResult:
    return SourceResult(
        source=source,
        region_code=tally.subject_code,
        status=TallyStatus(tally.status),
        votes=tally.votes,
        valid=tally.valid,
        invalid=tally.invalid,
        total=tally.total,
        unit=unit,
        reported=tally.tps_claimed if tally.tps_claimed is not None else 1,
        expected=expected,
        as_of=tally.source_ts,
        received_at=tally.received_at,
        claimant=tally.claimant,
        note=tally.note,
        findings=list(tally.findings),
        version=tally.version,
        as_of_date=tally.source_date,
    )


async def claim_results(session: AsyncSession, race_id: int, codes: Sequence[str]) -> dict[str, list[SourceResult]]:
    """Posko claims recorded for each region, one per claimant; coverage is the TPS each claims to cover."""
    out: dict[str, list[SourceResult]] = defaultdict(list)
    for tally in await current_region_tallies(session, race_id, Source.POSKO, subjects=codes):
        out[tally.subject_code].append(_from_tally(tally, "tps", Source.POSKO, tally.tps_total or 0))
    return out


#: How many regions of a code length a race covers below each code: (race id, codes, length) -> counts.
UnitsBelow = Callable[[int, Sequence[str], int], Awaitable[dict[str, int]]]


async def count_units_below(session: AsyncSession, race_id: int, codes: Sequence[str], length: int) -> dict[str, int]:
    """How many regions with codes of `length` the race covers below each code, in one statement."""
    if not codes:
        return {}
    counts = [
        select(func.count())
        .select_from(RaceRegion)
        .where(
            RaceRegion.race_id == race_id,
            func.length(RaceRegion.region_code) == length,
            RaceRegion.region_code.startswith(code, autoescape=True),
        )
        .scalar_subquery()
        for code in codes
    ]
    row = (await session.execute(select(*counts))).one()
    return {code: int(count) for code, count in zip(codes, row, strict=True)}


async def pleno_results(
    session: AsyncSession,
    race_id: int,
    source: Source,
    codes: Sequence[str],
    units_below: UnitsBelow | None = None,
) -> dict[str, SourceResult]:
    """A pleno's result per region: the pleno itself at its own level, the sum of those done below it above that.

    Above its level, coverage counts plenos done out of the regions of that level (e.g. 3 of 12 kecamatan), and the
    sum is a step of the recap, never an official result however complete. Below its level there is no such result.
    """
    level = PLENO_LEVEL[source]
    length = LENGTHS[level]
    at_level = [c for c in codes if len(c) == length]
    above = [c for c in codes if len(c) < length]
    out: dict[str, SourceResult] = {}
    if at_level:
        for tally in await current_region_tallies(session, race_id, source, subjects=at_level):
            out[tally.subject_code] = _from_tally(tally, level.value, source)
    if above:
        if units_below is None:
            units = await count_units_below(session, race_id, above, length)
        else:
            units = await units_below(race_id, above, length)
        done = await current_region_tallies(session, race_id, source, prefixes=above)
        for code in above:
            parts = [t for t in done if t.subject_code.startswith(code) and len(t.subject_code) == length]
            out[code] = _sum_plenos(code, source, level.value, parts, units.get(code, 0))
    return out


def _sum_plenos(code: str, source: Source, unit: str, parts: list[RegionTally], expected: int) -> SourceResult:
    votes: dict[int, int] = defaultdict(int)
    for part in parts:
        for paslon, count in part.votes.items():
            votes[paslon] += count

    def total(name: str) -> int | None:
        values = [getattr(t, name) for t in parts]
        return None if not values or any(v is None for v in values) else sum(values)

    stamps = [t.source_ts for t in parts if t.source_ts is not None]
    received = [t.received_at for t in parts]
    return SourceResult(
        source=source,
        region_code=code,
        status=TallyStatus.RECAP,
        votes=dict(votes),
        valid=total("valid"),
        invalid=total("invalid"),
        total=total("total"),
        unit=unit,
        reported=len(parts),
        expected=expected,
        as_of=max(stamps) if stamps else None,
        received_at=max(received) if received else None,
    )


async def results_for(
    session: AsyncSession,
    race_id: int,
    source: Source,
    codes: Sequence[str],
    units_below: UnitsBelow | None = None,
) -> dict[str, SourceResult]:
    """Each region's result for one non-claim source."""
    if source in TPS_SOURCES:
        return await tps_source_results(session, race_id, source, codes)
    if source in PLENO_LEVEL:
        return await pleno_results(session, race_id, source, codes, units_below)
    raise ValueError(f"{source} has one result per claimant; use claim_results")


def applies(source: Source, code: str) -> bool:
    """Whether a source can have a result for a region of this level."""
    if source in PLENO_LEVEL:
        return len(code) <= LENGTHS[PLENO_LEVEL[source]]
    return level_of(code) is not Level.TPS
