"""A region's numbers per source, read from rollups (TPS sources) or region tallies (claims and plenos).

Every function takes many region codes at once so a breakdown of N children costs a fixed number of statements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import TPS_SOURCES, RaceRegion, Rollup, RollupVote, Source, Tally, TallyStatus
from api.store import votes_of
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


async def tps_source_results(
    session: AsyncSession, race_id: int, source: Source, codes: Sequence[str]
) -> dict[str, SourceResult]:
    """Sirekap or C.Hasil totals per region from the rollups; regions with no TPS in yet get zeros."""
    totals = await _race_region_totals(session, race_id, codes)
    rollups = {
        r.region_code: r
        for r in await session.scalars(
            select(Rollup).where(Rollup.race_id == race_id, Rollup.source == source, Rollup.region_code.in_(codes))
        )
    }
    votes: dict[str, dict[int, int]] = defaultdict(dict)
    rows = await session.execute(
        select(RollupVote.region_code, RollupVote.paslon_id, RollupVote.votes).where(
            RollupVote.race_id == race_id, RollupVote.source == source, RollupVote.region_code.in_(codes)
        )
    )
    for code, paslon_id, count in rows:
        votes[code][paslon_id] = count
    out = {}
    for code in codes:
        if code not in totals:
            continue
        rollup = rollups.get(code)
        out[code] = SourceResult(
            source=source,
            region_code=code,
            status=TallyStatus.PROVISIONAL,
            votes=votes.get(code, {}),
            valid=rollup.valid if rollup else 0,
            invalid=rollup.invalid if rollup else 0,
            total=rollup.total if rollup else 0,
            unit="tps",
            reported=rollup.tps_in if rollup else 0,
            expected=totals[code],
            as_of=rollup.latest_source_ts if rollup else None,
            received_at=rollup.updated_at if rollup else None,
        )
    return out


async def _race_region_totals(session: AsyncSession, race_id: int, codes: Sequence[str]) -> dict[str, int]:
    rows = await session.execute(
        select(RaceRegion.region_code, RaceRegion.tps_total).where(
            RaceRegion.race_id == race_id, RaceRegion.region_code.in_(codes)
        )
    )
    return {code: total for code, total in rows}


async def current_region_tallies(
    session: AsyncSession,
    race_id: int,
    source: Source,
    subjects: Sequence[str] | None = None,
    prefixes: Sequence[str] = (),
) -> list[tuple[Tally, dict[int, int]]]:
    """Current tallies of a region-level source at exactly `subjects`, or below any of `prefixes`."""
    where = [Tally.race_id == race_id, Tally.source == source, Tally.is_current]
    if subjects is not None:
        where.append(Tally.subject_code.in_(subjects))
    if prefixes:
        where.append(or_(*(Tally.subject_code.startswith(p) for p in prefixes)))
    tallies = list(
        await session.scalars(select(Tally).where(and_(*where)).order_by(Tally.subject_code, Tally.claimant))
    )
    votes = await votes_of(session, [t.id for t in tallies])
    return [(t, votes[t.id]) for t in tallies]


def _from_tally(tally: Tally, votes: dict[int, int], unit: str, source: Source) -> SourceResult:
    return SourceResult(
        source=source,
        region_code=tally.subject_code,
        status=TallyStatus(tally.status),
        votes=votes,
        valid=tally.valid,
        invalid=tally.invalid,
        total=tally.total,
        unit=unit,
        reported=tally.tps_claimed if tally.tps_claimed is not None else 1,
        expected=1,
        as_of=tally.source_ts,
        received_at=tally.received_at,
        claimant=tally.claimant,
        note=tally.note,
        findings=list(tally.findings),
        version=tally.version,
    )


async def claim_results(session: AsyncSession, race_id: int, codes: Sequence[str]) -> dict[str, list[SourceResult]]:
    """Posko claims recorded for each region, one per claimant; coverage is the TPS each claims to cover."""
    totals = await _race_region_totals(session, race_id, codes)
    out: dict[str, list[SourceResult]] = defaultdict(list)
    for tally, votes in await current_region_tallies(session, race_id, Source.POSKO, subjects=codes):
        result = _from_tally(tally, votes, "tps", Source.POSKO)
        out[tally.subject_code].append(
            SourceResult(**{**result.__dict__, "expected": totals.get(tally.subject_code, 0)})
        )
    return out


async def pleno_results(
    session: AsyncSession, race_id: int, source: Source, codes: Sequence[str]
) -> dict[str, SourceResult]:
    """A pleno's result per region: the pleno itself at its own level, the sum of those done below it above that.

    Above its level, coverage counts plenos done out of the regions of that level (e.g. 3 of 12 kecamatan).
    Below its level there is no such result.
    """
    level = PLENO_LEVEL[source]
    length = LENGTHS[level]
    at_level = [c for c in codes if len(c) == length]
    above = [c for c in codes if len(c) < length]
    out: dict[str, SourceResult] = {}
    for tally, votes in await current_region_tallies(session, race_id, source, subjects=at_level):
        out[tally.subject_code] = _from_tally(tally, votes, level.value, source)
    if above:
        units = await _units_below(session, race_id, above, length)
        done = await current_region_tallies(session, race_id, source, prefixes=above)
        for code in above:
            parts = [(t, v) for t, v in done if t.subject_code.startswith(code)]
            out[code] = _sum_plenos(code, source, level.value, parts, units.get(code, 0))
    return out


async def _units_below(session: AsyncSession, race_id: int, codes: Sequence[str], length: int) -> dict[str, int]:
    rows = await session.execute(
        select(RaceRegion.region_code).where(
            RaceRegion.race_id == race_id, func.length(RaceRegion.region_code) == length
        )
    )
    units = [code for (code,) in rows]
    return {code: sum(1 for u in units if u.startswith(code)) for code in codes}


def _sum_plenos(
    code: str, source: Source, unit: str, parts: list[tuple[Tally, dict[int, int]]], expected: int
) -> SourceResult:
    votes: dict[int, int] = defaultdict(int)
    for _, part in parts:
        for paslon, count in part.items():
            votes[paslon] += count

    def total(name: str) -> int | None:
        values = [getattr(t, name) for t, _ in parts]
        return None if not values or any(v is None for v in values) else sum(values)

    stamps = [t.source_ts for t, _ in parts if t.source_ts is not None]
    received = [t.received_at for t, _ in parts]
    return SourceResult(
        source=source,
        region_code=code,
        status=TallyStatus.OFFICIAL if parts and len(parts) == expected else TallyStatus.PROVISIONAL,
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
    session: AsyncSession, race_id: int, source: Source, codes: Sequence[str]
) -> dict[str, SourceResult]:
    """Each region's result for one non-claim source."""
    if source in TPS_SOURCES:
        return await tps_source_results(session, race_id, source, codes)
    if source in PLENO_LEVEL:
        return await pleno_results(session, race_id, source, codes)
    raise ValueError(f"{source} has one result per claimant; use claim_results")


def applies(source: Source, code: str) -> bool:
    """Whether a source can have a result for a region of this level."""
    if source in PLENO_LEVEL:
        return len(code) <= LENGTHS[PLENO_LEVEL[source]]
    return level_of(code) is not Level.TPS
