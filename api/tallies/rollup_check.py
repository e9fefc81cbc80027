"""Recompute rollups from the current TPS tallies and report where the stored ones disagree.

Used by the test suite and after a crash: a rollup that disagrees with its TPS is a bug, never a state to live with.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import TPS_SOURCES, Rollup, RollupVote, Tally
from api.tallies.rollups import Numbers, Totals, delta
from api.tallies.writer import RaceInfo, votes_of


async def recomputed_rollups(session: AsyncSession, race: RaceInfo) -> dict[tuple[str, str], Totals]:
    """(source, region code) → totals summed from scratch over the current TPS tallies."""
    tallies = (
        await session.execute(
            select(
                Tally.id, Tally.source, Tally.subject_code, Tally.valid, Tally.invalid, Tally.total, Tally.voters_total
            ).where(Tally.race_id == race.id, Tally.is_current, Tally.source.in_([s.value for s in TPS_SOURCES]))
        )
    ).all()
    votes = await votes_of(session, [t.id for t in tallies])
    totals: dict[tuple[str, str], Totals] = defaultdict(Totals)
    for t in tallies:
        change = delta(None, Numbers(votes[t.id], t.valid, t.invalid, t.total, t.voters_total))
        for code in race.rollup_codes(t.subject_code):
            totals[(t.source, code)].add(change)
    return {key: value.without_zero_votes() for key, value in totals.items()}


async def stored_rollups(session: AsyncSession, race_id: int) -> dict[tuple[str, str], Totals]:
    stored: dict[tuple[str, str], Totals] = {}
    for r in await session.scalars(select(Rollup).where(Rollup.race_id == race_id)):
        stored[(r.source, r.region_code)] = Totals(r.tps_in, {}, r.valid, r.invalid, r.total, r.voters_total)
    for v in await session.scalars(select(RollupVote).where(RollupVote.race_id == race_id)):
        stored.setdefault((v.source, v.region_code), Totals()).votes[v.paslon_id] = v.votes
    return {key: value.without_zero_votes() for key, value in stored.items()}


async def rollup_mismatches(session: AsyncSession, race: RaceInfo) -> list[str]:
    """Descriptions of every rollup that differs from the sum of its current TPS tallies; empty when all agree."""
    expected = await recomputed_rollups(session, race)
    stored = await stored_rollups(session, race.id)
    empty = Totals()
    problems = []
    for key in sorted(set(expected) | set(stored)):
        want, have = expected.get(key, empty), stored.get(key, empty)
        if want != have:
            problems.append(f"rollup {key[0]} {key[1]}: stored {have}, expected {want}")
    return problems
