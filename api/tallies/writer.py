"""The one tally writer: new versions of any source's tallies and the rollups above them, batch first, in the
caller's transaction. C.Hasil entries, plenos and claims write one item; a sync pass writes a kecamatan at a time.

Nothing here commits. A tally whose numbers, findings, status and day are those of the current version gets no new
version; a changed one gets version n+1 (the old one stays in the history with `is_current` false, so a correction
that lowers a count keeps both), and for a source counted per TPS every rollup above it moves by the difference.

One module past 300 lines: the writer's statements, its inputs and its one field list belong together: that
there is one of each is the point.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import TPS_SOURCES, Paslon, Race, Source, Tally, TallyStatus, TallyVote, table_of
from api.tallies import findings as stored_findings
from api.tallies.rollup_sql import add_to_rollups
from api.tallies.rollups import Numbers, Totals, delta
from sirekap.codes import LENGTHS, Level

#: The counts a tally version carries besides its votes, compared to tell a new version from a repeat.
COMPARED_FIELDS = ("valid", "invalid", "total", "voters_dpt", "voters_dptb", "voters_non_dpt", "voters_total",
                   "tps_claimed")  # fmt: skip
_CHUNK = 500

# Writes go through the tables (Core statements), built once: compiled once, no ORM bookkeeping.
TALLIES = table_of(Tally)
TALLY_VOTES = table_of(TallyVote)
_RETIRE = update(TALLIES).where(TALLIES.c.id.in_(bindparam("retired", expanding=True))).values(is_current=False)
_INSERT_TALLIES = insert(TALLIES).returning(TALLIES.c.id, sort_by_parameter_order=True)
_INSERT_VOTES = insert(TALLY_VOTES)
_STATE = (TALLIES.c.id, TALLIES.c.subject_code, TALLIES.c.claimant, TALLIES.c.version, TALLIES.c.status,
          TALLIES.c.findings, TALLIES.c.source_ts, TALLIES.c.source_date)  # fmt: skip
#: The current versions of some subjects with their votes, in one statement, locked until the transaction ends.
_CURRENT = (
    select(*_STATE, *(TALLIES.c[name] for name in COMPARED_FIELDS), TALLY_VOTES.c.paslon_id, TALLY_VOTES.c.votes)
    .select_from(TALLIES.outerjoin(TALLY_VOTES, TALLY_VOTES.c.tally_id == TALLIES.c.id))
    .where(
        TALLIES.c.race_id == bindparam("race_id"),
        TALLIES.c.source == bindparam("source"),
        TALLIES.c.subject_code.in_(bindparam("subjects", expanding=True)),
        TALLIES.c.claimant.in_(bindparam("claimants", expanding=True)),
        TALLIES.c.is_current,
    )
    .with_for_update(of=TALLIES)
)

#: A tally's subject: a TPS or region code, and the claiming paslon's ballot number (0 for every other source).
Key = tuple[str, int]


class TallyError(ValueError):
    """A write the tally writer refuses; nothing was changed."""


class VersionConflict(TallyError):
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


@dataclass(frozen=True)
class CurrentTally:
    """The version in force of one subject's tally."""

    id: int
    version: int
    votes: dict[int, int]
    counts: dict[str, int | None]  # COMPARED_FIELDS
    findings: list[Any]
    status: str
    source_ts: datetime | None
    source_date: date | None

    @property
    def numbers(self) -> Numbers:
        c = self.counts
        return Numbers(self.votes, c["valid"], c["invalid"], c["total"], c["voters_total"])


@dataclass(frozen=True)
class TallyWrite:
    """One subject's new numbers. `expected_version`: the version they replace (0: none yet), or None to replace
    whatever is current (the sync)."""

    subject_code: str
    tally: TallyInput
    tps_id: int | None = None  # for a source counted per TPS
    claimant: int = 0
    expected_version: int | None = None

    @property
    def key(self) -> Key:
        return (self.subject_code, self.claimant)


@dataclass(frozen=True)
class Written:
    """What a write came to: the version now current and whether this write made it."""

    subject_code: str
    tally_id: int
    version: int
    changed: bool


async def current_tallies(
    session: AsyncSession, race_id: int, source: Source, keys: Sequence[Key]
) -> dict[Key, CurrentTally]:
    """The current version of each subject that has one, locked until the transaction ends."""
    found: dict[Key, CurrentTally] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        wanted = set(chunk)
        params = {"race_id": race_id, "source": source, "subjects": sorted({s for s, _ in chunk}),
                  "claimants": sorted({c for _, c in chunk})}  # fmt: skip
        for row in await session.execute(_CURRENT, params):
            key = (row.subject_code, row.claimant)
            if key not in wanted:
                continue
            current = found.get(key)
            if current is None:
                counts = {name: getattr(row, name) for name in COMPARED_FIELDS}
                current = found[key] = CurrentTally(row.id, row.version, {}, counts, list(row.findings), row.status,
                                                    row.source_ts, row.source_date)  # fmt: skip
            if row.paslon_id is not None:
                current.votes[row.paslon_id] = row.votes
    return found


def unchanged(old: CurrentTally, new: TallyInput) -> bool:
    """Whether new numbers repeat the current version exactly (writing them would add nothing)."""
    return (
        old.votes == dict(new.votes)
        and all(old.counts[name] == getattr(new, name) for name in COMPARED_FIELDS)
        and old.findings == stored_findings.stored(new.findings)
        and old.status == new.status
        and old.source_date == new.source_date
    )


async def record_tallies(
    session: AsyncSession,
    race: RaceInfo,
    source: Source,
    writes: Sequence[TallyWrite],
    *,
    received_at: datetime,
    current: Mapping[Key, CurrentTally] | None = None,
) -> list[Written]:
    """Record a batch of one source's tallies (each subject at most once) and move the rollups above them.

    `current`: the subjects' current versions as the caller already read them with `current_tallies`, if so.
    Raises TallyError (VersionConflict for a stale `expected_version`) before anything is written."""
    _check(race, source, writes)
    old = current if current is not None else await current_tallies(session, race.id, source, [w.key for w in writes])
    written: dict[Key, Written] = {}
    changed: list[tuple[TallyWrite, CurrentTally | None]] = []
    for w in writes:
        before = old.get(w.key)
        version = before.version if before else 0
        if w.expected_version is not None and w.expected_version != version:
            raise VersionConflict(w.expected_version, version)
        if before is not None and unchanged(before, w.tally):
            written[w.key] = Written(w.subject_code, before.id, version, changed=False)
        else:
            changed.append((w, before))
    if changed:
        retired = [before.id for _, before in changed if before is not None]
        for start in range(0, len(retired), _CHUNK):
            await session.execute(_RETIRE, {"retired": retired[start : start + _CHUNK]})
        rows = [_row(race, source, w, before, received_at) for w, before in changed]
        ids = list((await session.execute(_INSERT_TALLIES, rows)).scalars())
        found = [f for i, row in zip(ids, rows, strict=True)
                 for f in stored_findings.rows(i, race.id, source, row["subject_code"], row["findings"])]  # fmt: skip
        await stored_findings.insert_rows(session, found)
        votes = [{"tally_id": i, "paslon_id": p, "votes": v}
                 for i, (w, _) in zip(ids, changed, strict=True) for p, v in sorted(w.tally.votes.items())]  # fmt: skip
        if votes:
            await session.execute(_INSERT_VOTES, votes)
        for i, row, (w, _) in zip(ids, rows, changed, strict=True):
            written[w.key] = Written(w.subject_code, i, row["version"], changed=True)
        if source in TPS_SOURCES:
            await _move_rollups(session, race, source, changed, received_at)
    return [written[w.key] for w in writes]


def _check(race: RaceInfo, source: Source, writes: Sequence[TallyWrite]) -> None:
    if len({w.key for w in writes}) != len(writes):
        raise TallyError("a subject appears twice in one batch")
    per_tps = source in TPS_SOURCES
    for w in writes:
        if (w.tps_id is not None) != per_tps:
            raise TallyError(f"source {source} is {'' if per_tps else 'not '}counted per TPS ({w.subject_code})")
        unknown = set(w.tally.votes) - race.paslon_ids
        if unknown:
            raise TallyError(f"votes for paslon {sorted(unknown)} who are not in race {race.id}")
        negative = {p: v for p, v in w.tally.votes.items() if v < 0}
        if negative:
            raise TallyError(f"negative votes {negative} for {w.subject_code}")


def _row(
    race: RaceInfo, source: Source, w: TallyWrite, before: CurrentTally | None, received_at: datetime
) -> dict[str, Any]:
    """The one field list of a tally version."""
    tally = w.tally
    return {
        "race_id": race.id,
        "source": source,
        "subject_code": w.subject_code,
        "claimant": w.claimant,
        "tps_id": w.tps_id,
        "version": (before.version if before else 0) + 1,
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


async def _move_rollups(
    session: AsyncSession,
    race: RaceInfo,
    source: Source,
    changed: Sequence[tuple[TallyWrite, CurrentTally | None]],
    now: datetime,
) -> None:
    """Every rollup above the changed TPS moves by the summed difference, newest source time kept."""
    changes: dict[str, tuple[Totals, datetime | None]] = defaultdict(lambda: (Totals(), None))
    for w, before in changed:
        change = delta(None if before is None else before.numbers, w.tally.numbers())
        ts = w.tally.source_ts
        for code in race.rollup_codes(w.subject_code):
            total, latest = changes[code]
            total.add(change)
            if ts is not None and (latest is None or ts > latest):
                changes[code] = (total, ts)
    await add_to_rollups(session, race.id, source, changes, now)


async def votes_of(session: AsyncSession, tally_ids: Sequence[int], chunk: int = _CHUNK) -> dict[int, dict[int, int]]:
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
