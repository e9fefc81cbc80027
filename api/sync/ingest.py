"""Documents into the database: Sirekap tallies of many TPS at once, and the DPT their files state, in the caller's
transaction. Nothing here commits.

The tallies go through the one tally writer (`api.tallies.writer.record_tallies`) as one batch: a national pass writes
823,236 tallies, and one statement per row per rollup level would take the better part of an hour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import RaceRegion, Source, Tps, table_of
from api.sync.state import RegionState, save_region_states
from api.tallies.writer import RaceInfo, TallyInput, TallyWrite, record_tallies


@dataclass(frozen=True)
class TpsTally:
    """One TPS's tally to record; `registered_voters` fills in a TPS created without its DPT (0)."""

    tps_id: int
    tps_code: str
    tally: TallyInput
    registered_voters: int | None = None


@dataclass(frozen=True, eq=False)
class TallyBatch:
    """A writer job: TPS tallies, DPT learnt from files without votes (`(tps id, code, pemilih_dpt_j)`), and the sync
    state of the regions they settle. Batches committed together are written together (`run_together`): one
    `record_tallies` for all of them rather than one each."""

    race: RaceInfo
    tallies: Sequence[TpsTally]
    dpt_only: Sequence[tuple[int, str, int]]
    states: Sequence[tuple[str, RegionState]]
    received_at: datetime

    async def __call__(self, session: AsyncSession) -> list[str]:
        """The codes of the TPS that got a new version."""
        return (await TallyBatch.run_together(session, [self]))[0]

    @staticmethod
    async def run_together(session: AsyncSession, batches: Sequence[TallyBatch]) -> list[list[str]]:
        """Write batches of one race (each TPS in at most one of them) at once; each one's new versions."""
        race, now = batches[0].race, max(b.received_at for b in batches)
        tallies = [t for b in batches for t in b.tallies]
        written = set(await record_tps_tallies(session, race, tallies, received_at=now)) if tallies else set()
        await fill_registered_voters(session, race, [item for b in batches for item in b.dpt_only])
        await save_region_states(session, race.id, [state for b in batches for state in b.states], now=now)
        return [[t.tps_code for t in b.tallies if t.tps_code in written] for b in batches]


async def record_tps_tallies(
    session: AsyncSession,
    race: RaceInfo,
    tallies: Sequence[TpsTally],
    *,
    received_at: datetime,
    source: Source = Source.SIREKAP,
) -> list[str]:
    """Record a batch of TPS tallies (each TPS at most once) and the DPT their files state; returns the codes that
    got a new version."""
    writes = [TallyWrite(t.tps_code, t.tally, tps_id=t.tps_id) for t in tallies]
    written = await record_tallies(session, race, source, writes, received_at=received_at)
    await fill_registered_voters(
        session, race, [(t.tps_id, t.tps_code, t.registered_voters) for t in tallies if t.registered_voters]
    )
    return [w.subject_code for w in written if w.changed]


async def fill_registered_voters(session: AsyncSession, race: RaceInfo, items: Sequence[tuple[int, str, int]]) -> None:
    """Give TPS created without a DPT (0) the DPT their file states (`(tps id, code, pemilih_dpt_j)`), and add it to
    the regions above them. A DPT once known is kept."""
    if not items:
        return
    ids = [tps_id for tps_id, _, _ in items]
    now = {tid: n for tid, n in await session.execute(select(Tps.id, Tps.registered_voters).where(Tps.id.in_(ids)))}
    filled = [(tps_id, code, voters) for tps_id, code, voters in items if now.get(tps_id) == 0 and voters]
    if not filled:
        return
    tps = table_of(Tps)
    await session.execute(
        update(tps).where(tps.c.id == bindparam("tid")).values(registered_voters=bindparam("voters")),
        [{"tid": tps_id, "voters": voters} for tps_id, _, voters in filled],
    )
    added: dict[str, int] = defaultdict(int)
    known: dict[str, int] = defaultdict(int)
    for _, code, voters in filled:
        for region in race.rollup_codes(code):
            added[region] += voters
            known[region] += 1
    regions = table_of(RaceRegion)
    await session.execute(
        update(regions)
        .where(regions.c.race_id == race.id, regions.c.region_code == bindparam("code"))
        .values(
            registered_voters=regions.c.registered_voters + bindparam("added"),
            tps_without_dpt=regions.c.tps_without_dpt - bindparam("known"),
        ),
        [{"code": code, "added": n, "known": known[code]} for code, n in sorted(added.items())],
    )
