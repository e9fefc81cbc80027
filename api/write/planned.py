"""Planned writes and how they are applied: the version check, the audit entry, the tally and the rollups above it.

A use case of `api.write.recording` validates an entry and plans its write (`PlannedWrite`); `apply` applies plans
in the caller's transaction: the current versions of all their subjects read (and locked) in one statement per race
and source, a stale version named answered as a `Conflict`, the audit entries of those applied in one insert, and their
tallies given to `record_tallies` at once, so each rollup row above them moves once. One submission applies its one
plan at once; a group commit (`api.write.submissions`) has its use cases plan in a `Planning` session, and applies
the plans of the whole group in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.tokens import Principal
from api.read.catalog import RaceRow
from api.storage.models import Source, Tally
from api.tallies.writer import (
    COMPARED_FIELDS,
    CurrentTally,
    Key,
    RaceInfo,
    TallyInput,
    TallyWrite,
    current_tallies,
    record_tallies,
    unchanged,
)
from api.write import audit
from api.write.outcomes import Accepted, Conflict, Outcome

_SESSION_KEY = "pantau.planning"

#: What two plans must not share in one transaction: race, source, subject code, claimant.
Subject = tuple[int, Source, str, int]


@dataclass(frozen=True)
class WriteRace:
    """The race a write goes to, with its paslon by ballot number."""

    row: RaceRow
    numbers: dict[int, int]  # ballot number -> paslon id

    @property
    def info(self) -> RaceInfo:
        return RaceInfo(self.row.id, self.row.region_code, frozenset(self.numbers.values()))


@dataclass(frozen=True)
class PlannedWrite:
    """A validated entry, to become version `corrects + 1` of its subject if that version is still current."""

    principal: Principal
    race: WriteRace
    source: Source
    subject_code: str
    claimant: int
    tally: TallyInput
    votes_by_number: Mapping[int, int]
    corrects: int | None
    at: datetime
    tps_id: int | None = None

    @property
    def subject(self) -> Subject:
        return (self.race.row.id, self.source, self.subject_code, self.claimant)


class Planning:
    """Attached to a session, it makes a use case plan its write here (`planned`) instead of applying it. `known_tps`:
    TPS (id, DPT) by race id and code, kept by the caller from one planning to the next; only a DPT already known
    (above 0) is kept, as a known DPT never changes."""

    def __init__(self, session: AsyncSession, known_tps: dict[tuple[int, str], tuple[int, int]] | None = None) -> None:
        self.planned: PlannedWrite | None = None
        self.known_tps = known_tps if known_tps is not None else {}
        session.info[_SESSION_KEY] = self


def planning(session: AsyncSession) -> Planning | None:
    """The planning a session is for, or None when its writes are applied at once."""
    found: Planning | None = session.info.get(_SESSION_KEY)
    return found


async def apply(session: AsyncSession, plans: Sequence[PlannedWrite], *, received_at: datetime) -> list[Outcome]:
    """Apply plans of distinct subjects in the caller's transaction: each one's outcome, in order."""
    assert len({p.subject for p in plans}) == len(plans), "one plan per subject"
    groups: dict[tuple[int, Source], list[int]] = {}
    for i, plan in enumerate(plans):
        groups.setdefault((plan.race.row.id, plan.source), []).append(i)
    outcomes: list[Outcome | None] = [None] * len(plans)
    entries: list[dict[str, Any]] = []
    batches: list[tuple[RaceInfo, Source, list[TallyWrite], dict[Key, CurrentTally]]] = []
    for (race_id, source), members in sorted(groups.items()):
        current = await current_tallies(session, race_id, source, [(plans[i].subject_code, plans[i].claimant)
                                                                   for i in members])  # fmt: skip
        writes: list[TallyWrite] = []
        for i in members:
            plan = plans[i]
            old = current.get((plan.subject_code, plan.claimant))
            outcomes[i] = await _decide(session, plan, old, writes, entries)
        if writes:
            batches.append((plans[members[0]].race.info, source, writes, current))
    # The audit entries go first: the rollups, last, lock rows that every write shares (the kabupaten's), so they
    # are held for as short a time as possible.
    await audit.insert_entries(session, entries)
    for race, source, writes, current in batches:
        await record_tallies(session, race, source, writes, received_at=received_at, current=current)
    return [outcome for outcome in outcomes if outcome is not None]


async def _decide(
    session: AsyncSession,
    plan: PlannedWrite,
    old: CurrentTally | None,
    writes: list[TallyWrite],
    entries: list[dict[str, Any]],
) -> Outcome:
    expected = plan.corrects or 0
    if old is None and expected:
        # Waiting for a lock on a version another writer has just replaced finds no current row at all: read again
        # to name the version that replaced it.
        newest = await session.scalar(
            select(func.max(Tally.version)).where(
                Tally.race_id == plan.race.row.id,
                Tally.source == plan.source,
                Tally.subject_code == plan.subject_code,
                Tally.claimant == plan.claimant,
            )
        )
        return Conflict(expected, newest or 0)
    if old is not None and old.version != expected:
        return Conflict(expected, old.version)
    tally = plan.tally
    changed = old is None or not unchanged(old, tally)
    accepted = Accepted(
        race=plan.race.row.slug,
        race_id=plan.race.row.id,
        source=plan.source,
        subject_code=plan.subject_code,
        claimant=plan.claimant,
        version=expected + 1 if changed else expected,
        changed=changed,
        findings=[dict(f) for f in tally.findings],
    )
    if not changed:
        return accepted
    counts = {name: getattr(tally, name) for name in COMPARED_FIELDS}
    entries.append(
        audit.entry(
            at=plan.at,
            actor=plan.principal.label,
            action=("correct_" if old else "submit_") + plan.source.value,
            token_id=plan.principal.token_id,
            race_id=plan.race.row.id,
            source=plan.source.value,
            subject_code=plan.subject_code,
            claimant=plan.claimant or None,
            version=expected + 1,
            old=_values(old, plan.race.numbers),
            new=_snapshot(expected + 1, plan.votes_by_number, counts, [dict(f) for f in tally.findings]),
        )
    )
    writes.append(
        TallyWrite(plan.subject_code, tally, tps_id=plan.tps_id, claimant=plan.claimant, expected_version=expected)
    )
    return accepted


def _values(tally: CurrentTally | None, numbers: Mapping[int, int]) -> dict[str, Any] | None:
    """A tally version as the audit log shows it: votes by ballot number and every count."""
    if tally is None:
        return None
    by_id = {paslon_id: number for number, paslon_id in numbers.items()}
    return _snapshot(tally.version, {by_id[p]: v for p, v in tally.votes.items()}, tally.counts, tally.findings)


def _snapshot(
    version: int, votes: Mapping[int, int], counts: Mapping[str, int | None], findings: list[Any]
) -> dict[str, Any]:
    return {
        "version": version,
        "votes": {str(n): v for n, v in sorted(votes.items())},
        **{name: value for name, value in counts.items() if value is not None},
        "findings": findings,
    }
