"""Tally writes: a new version and the rollups above it, in the caller's transaction.

Nothing here commits. A write either adds a version (moving `is_current` off the previous one) and applies the
difference to every rollup above the TPS, or, when the numbers are unchanged, does nothing at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from api import findings as stored_findings
from api.models import (
    TPS_SOURCES,
    Paslon,
    Race,
    Source,
    Tally,
    TallyStatus,
    TallyVote,
    table_of,
)
from api.rollup_writes import add_to_rollups
from api.rollups import Delta, Numbers, Totals, delta
from sirekap.codes import LENGTHS, Level

# Writes go through the tables (Core statements): they are compiled once and skip the ORM's bulk machinery.
TALLIES = table_of(Tally)
TALLY_VOTES = table_of(TallyVote)

# Statements built once: their compiled form is found in the cache without rebuilding its key.
_RETIRE = update(TALLIES).where(TALLIES.c.id == bindparam("retired")).values(is_current=False)
_INSERT_TALLY = insert(TALLIES).returning(TALLIES.c.id)
_INSERT_VOTES = insert(TALLY_VOTES)
_CURRENT = (
    select(Tally, TallyVote.paslon_id, TallyVote.votes)
    .outerjoin(TallyVote, TallyVote.tally_id == Tally.id)
    .where(
        Tally.race_id == bindparam("race_id"),
        Tally.source == bindparam("source"),
        Tally.subject_code == bindparam("subject"),
        Tally.claimant == bindparam("claimant"),
        Tally.is_current,
    )
    .with_for_update(of=Tally)
)

#: The current version of a tally (None for none yet) and its votes by paslon id.
Current = tuple[Tally | None, dict[int, int]]


class StoreError(ValueError):
    """A write that the store refuses; nothing was changed."""


class VersionConflict(StoreError):
    """A correction named a version that is no longer current."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"tally version {expected} is not current; the current version is {current}")
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class RaceInfo:
    """What a write needs to know about its race, loaded once per batch."""

    id: int
    region_code: str
    paslon_ids: frozenset[int]

    @classmethod
    async def load(cls, session: AsyncSession, race_id: int) -> RaceInfo:
        race = await session.get_one(Race, race_id)
        ids = (await session.scalars(select(Paslon.id).where(Paslon.race_id == race_id))).all()
        return cls(race.id, race.region_code, frozenset(ids))

    def rollup_codes(self, tps_code: str) -> list[str]:
        """The regions whose rollups a TPS feeds: its ancestors from the race's own region down to its desa."""
        top = len(self.region_code)
        return [tps_code[:n] for n in sorted(set(LENGTHS.values())) if top <= n < LENGTHS[Level.TPS]]


@dataclass(frozen=True)
class TallyInput:
    """One source's numbers as submitted or fetched."""

    votes: Mapping[int, int]  # paslon id -> votes
    valid: int | None = None
    invalid: int | None = None
    total: int | None = None
    voters_dpt: int | None = None
    voters_dptb: int | None = None
    voters_non_dpt: int | None = None
    voters_total: int | None = None
    tps_claimed: int | None = None
    source_ts: datetime | None = None
    source_date: date | None = None  # for a fact known only by its day (then source_ts is None)
    status: TallyStatus = TallyStatus.PROVISIONAL
    findings: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    entered_by: str | None = None
    note: str | None = None

    def numbers(self) -> Numbers:
        return Numbers(dict(self.votes), self.valid, self.invalid, self.total, self.voters_total)


COMPARED_FIELDS = (
    "valid",
    "invalid",
    "total",
    "voters_dpt",
    "voters_dptb",
    "voters_non_dpt",
    "voters_total",
    "tps_claimed",
)


@dataclass(frozen=True)
class Written:
    """The outcome of a write: the current version and whether this write created it."""

    tally_id: int
    version: int
    changed: bool


async def record_tps_tally(
    session: AsyncSession,
    race: RaceInfo,
    *,
    tps_id: int,
    tps_code: str,
    source: Source,
    tally: TallyInput,
    received_at: datetime,
    expected_version: int | None = None,
    current: Current | None = None,
) -> Written:
    """Record a TPS-level tally (Sirekap or C.Hasil) and update the rollups above the TPS.

    `current` is the tally's current version as the caller already read it with `current_tally` (locked), if so.
    """
    if source not in TPS_SOURCES:
        raise StoreError(f"source {source} is not counted per TPS")
    old, old_votes = current or await current_tally(session, race.id, source, tps_code, 0)
    written = await _write(
        session, race, source, tps_code, 0, tps_id, tally, received_at, expected_version, old, old_votes
    )
    if written.changed:
        old_numbers = None if old is None else Numbers(old_votes, old.valid, old.invalid, old.total, old.voters_total)
        change = delta(old_numbers, tally.numbers())
        await _apply(session, race, source, race.rollup_codes(tps_code), change, tally.source_ts, received_at)
    return written


async def record_region_tally(
    session: AsyncSession,
    race: RaceInfo,
    *,
    region_code: str,
    source: Source,
    tally: TallyInput,
    received_at: datetime,
    claimant: int = 0,
    expected_version: int | None = None,
    current: Current | None = None,
) -> Written:
    """Record a region-level tally: a posko claim (with its claimant's ballot number) or a pleno result."""
    if source in TPS_SOURCES:
        raise StoreError(f"source {source} is counted per TPS, not per region")
    old, old_votes = current or await current_tally(session, race.id, source, region_code, claimant)
    return await _write(
        session,
        race,
        source,
        region_code,
        claimant,
        None,
        tally,
        received_at,
        expected_version,
        old,
        old_votes,
    )


async def votes_of(session: AsyncSession, tally_ids: Sequence[int], chunk: int = 500) -> dict[int, dict[int, int]]:
    """Votes per paslon of each tally version, by tally id (every id present, empty when it has none)."""
    votes: dict[int, dict[int, int]] = {tally_id: {} for tally_id in tally_ids}
    ids = list(votes)
    for start in range(0, len(ids), chunk):
        rows = await session.execute(
            select(TallyVote.tally_id, TallyVote.paslon_id, TallyVote.votes).where(
                TallyVote.tally_id.in_(ids[start : start + chunk])
            )
        )
        for tally_id, paslon_id, count in rows:
            votes[tally_id][paslon_id] = count
    return votes


async def current_tally(session: AsyncSession, race_id: int, source: Source, subject: str, claimant: int) -> Current:
    """The current version of a tally with its votes, in one statement, locked until the transaction ends."""
    rows = await session.execute(
        _CURRENT, {"race_id": race_id, "source": source, "subject": subject, "claimant": claimant}
    )
    old: Tally | None = None
    votes: dict[int, int] = {}
    for tally, paslon_id, count in rows:
        old = tally
        if paslon_id is not None:
            votes[paslon_id] = count
    return old, votes


def unchanged(old: Tally, old_votes: Mapping[int, int], new: TallyInput) -> bool:
    """Whether a tally input repeats the current version exactly (writing it would add nothing)."""
    return (
        dict(old_votes) == dict(new.votes)
        and all(getattr(old, name) == getattr(new, name) for name in COMPARED_FIELDS)
        and list(old.findings) == stored_findings.stored(new.findings)
        and old.status == new.status
        and old.source_date == new.source_date
    )


async def _write(
    session: AsyncSession,
    race: RaceInfo,
    source: Source,
    subject: str,
    claimant: int,
    tps_id: int | None,
    tally: TallyInput,
    received_at: datetime,
    expected_version: int | None,
    old: Tally | None,
    old_votes: dict[int, int],
) -> Written:
    unknown = set(tally.votes) - race.paslon_ids
    if unknown:
        raise StoreError(f"votes for paslon {sorted(unknown)} who are not in race {race.id}")
    negative = {p: v for p, v in tally.votes.items() if v < 0}
    if negative:
        raise StoreError(f"negative votes {negative} for {subject}")
    current_version = old.version if old else 0
    if expected_version is not None and expected_version != current_version:
        raise VersionConflict(expected_version, current_version)
    if old is not None and unchanged(old, old_votes, tally):
        return Written(old.id, old.version, changed=False)
    if old is not None:
        await session.execute(_RETIRE, {"retired": old.id})
        set_committed_value(old, "is_current", False)
    row = {
        "race_id": race.id,
        "source": source,
        "subject_code": subject,
        "claimant": claimant,
        "tps_id": tps_id,
        "version": current_version + 1,
        "is_current": True,
        "status": tally.status,
        **{name: getattr(tally, name) for name in COMPARED_FIELDS},
        "source_ts": tally.source_ts,
        "source_date": tally.source_date,
        "received_at": received_at,
        "findings": stored_findings.stored(tally.findings),
        "finding_count": len(tally.findings),
        "anomaly_count": stored_findings.anomaly_count(tally.findings),
        "entered_by": tally.entered_by,
        "note": tally.note,
    }
    tally_id = await session.scalar(_INSERT_TALLY, row)
    assert tally_id is not None
    await stored_findings.insert_rows(
        session, stored_findings.rows(tally_id, race.id, source, subject, row["findings"])
    )
    if tally.votes:
        await session.execute(
            _INSERT_VOTES,
            [{"tally_id": tally_id, "paslon_id": p, "votes": v} for p, v in sorted(tally.votes.items())],
        )
    return Written(tally_id, current_version + 1, changed=True)


async def _apply(
    session: AsyncSession,
    race: RaceInfo,
    source: Source,
    codes: list[str],
    change: Delta,
    source_ts: datetime | None,
    now: datetime,
) -> None:
    totals = Totals()
    totals.add(change)
    await add_to_rollups(session, race.id, source, {code: (totals, source_ts) for code in codes}, now)
