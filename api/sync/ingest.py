"""Documents into the database: Sirekap tallies of many TPS at once, in the caller's transaction. Nothing here commits.

`record_tps_tallies` is the batch form of `api.store.record_tps_tally`, with the same rules: a TPS whose numbers,
findings and status are unchanged gets no new version; a changed one gets version n+1 (the old version stays in the
history with `is_current` false, so a correction that lowers a count keeps both); every rollup above the batch moves
by the summed difference, in the same transaction. It exists because a national pass writes 823,236 tallies, and
one statement per row per rollup level would take the better part of an hour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api import findings as stored_findings
from api.models import RaceRegion, Source, Tally, TallyVote, Tps, table_of
from api.rollup_writes import add_to_rollups
from api.rollups import Numbers, Totals, delta
from api.store import COMPARED_FIELDS, RaceInfo, StoreError, TallyInput, votes_of

_CHUNK = 500


@dataclass(frozen=True)
class TpsTally:
    """One TPS's tally to record; `registered_voters` fills in a TPS created without its DPT (0)."""

    tps_id: int
    tps_code: str
    tally: TallyInput
    registered_voters: int | None = None


@dataclass(frozen=True)
class CurrentTally:
    id: int
    version: int
    numbers: Numbers
    fields: dict[str, Any]
    findings: list[Any]
    status: str
    source_ts: datetime | None


async def current_tallies(
    session: AsyncSession, race_id: int, codes: Sequence[str], *, source: Source = Source.SIREKAP, lock: bool = False
) -> dict[str, CurrentTally]:
    """The current tally of each TPS code that has one."""
    found: dict[str, CurrentTally] = {}
    for start in range(0, len(codes), _CHUNK):
        chunk = list(codes[start : start + _CHUNK])
        query = select(Tally).where(
            Tally.race_id == race_id, Tally.source == source, Tally.is_current, Tally.subject_code.in_(chunk)
        )
        if lock:
            query = query.with_for_update()
        tallies = (await session.scalars(query)).all()
        votes = await votes_of(session, [t.id for t in tallies])
        for t in tallies:
            found[t.subject_code] = CurrentTally(
                t.id,
                t.version,
                Numbers(votes[t.id], t.valid, t.invalid, t.total, t.voters_total),
                {name: getattr(t, name) for name in COMPARED_FIELDS},
                list(t.findings),
                t.status,
                t.source_ts,
            )
    return found


def _unchanged(old: CurrentTally, new: TallyInput) -> bool:
    return (
        dict(old.numbers.votes) == dict(new.votes)
        and all(old.fields[name] == getattr(new, name) for name in COMPARED_FIELDS)
        and old.findings == stored_findings.stored(new.findings)
        and old.status == new.status
    )


async def record_tps_tallies(
    session: AsyncSession,
    race: RaceInfo,
    tallies: Sequence[TpsTally],
    *,
    received_at: datetime,
    source: Source = Source.SIREKAP,
) -> list[str]:
    """Record a batch of TPS tallies (each TPS at most once) and move the rollups above them; returns the codes
    that got a new version."""
    if len({t.tps_code for t in tallies}) != len(tallies):
        raise StoreError("a TPS appears twice in one batch")
    for item in tallies:
        unknown = set(item.tally.votes) - race.paslon_ids
        if unknown:
            raise StoreError(f"votes for paslon {sorted(unknown)} who are not in race {race.id}")
        if any(v < 0 for v in item.tally.votes.values()):
            raise StoreError(f"negative votes for {item.tps_code}")
    await fill_registered_voters(
        session, race, [(t.tps_id, t.tps_code, t.registered_voters) for t in tallies if t.registered_voters]
    )
    old = await current_tallies(session, race.id, [t.tps_code for t in tallies], source=source, lock=True)
    changed = [t for t in tallies if t.tps_code not in old or not _unchanged(old[t.tps_code], t.tally)]
    if not changed:
        return []
    superseded = [old[t.tps_code].id for t in changed if t.tps_code in old]
    for start in range(0, len(superseded), _CHUNK):
        ids = superseded[start : start + _CHUNK]
        await session.execute(update(Tally).where(Tally.id.in_(ids)).values(is_current=False))
    rows = [_tally_row(race, source, t, old.get(t.tps_code), received_at) for t in changed]
    tallies_table = table_of(Tally)
    result = await session.execute(
        insert(tallies_table).returning(tallies_table.c.id, sort_by_parameter_order=True), rows
    )
    ids = list(result.scalars())
    await stored_findings.insert_rows(
        session,
        [
            found
            for tally_id, row in zip(ids, rows, strict=True)
            for found in stored_findings.rows(tally_id, race.id, source, row["subject_code"], row["findings"])
        ],
    )
    votes = [
        {"tally_id": tally_id, "paslon_id": paslon, "votes": count}
        for tally_id, t in zip(ids, changed, strict=True)
        for paslon, count in sorted(t.tally.votes.items())
    ]
    if votes:
        await session.execute(insert(table_of(TallyVote)), votes)
    await _move_rollups(session, race, source, changed, old, received_at)
    return [t.tps_code for t in changed]


def _tally_row(
    race: RaceInfo, source: Source, item: TpsTally, old: CurrentTally | None, received_at: datetime
) -> dict[str, Any]:
    tally = item.tally
    return {
        "race_id": race.id,
        "source": source,
        "subject_code": item.tps_code,
        "claimant": 0,
        "tps_id": item.tps_id,
        "version": (old.version if old else 0) + 1,
        "is_current": True,
        "status": tally.status,
        **{name: getattr(tally, name) for name in COMPARED_FIELDS},
        "source_ts": tally.source_ts,
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
    changed: Sequence[TpsTally],
    old: Mapping[str, CurrentTally],
    now: datetime,
) -> None:
    changes: dict[str, tuple[Totals, datetime | None]] = defaultdict(lambda: (Totals(), None))
    for item in changed:
        previous = old.get(item.tps_code)
        change = delta(None if previous is None else previous.numbers, item.tally.numbers())
        ts = item.tally.source_ts
        for code in race.rollup_codes(item.tps_code):
            total, latest = changes[code]
            total.add(change)
            if ts is not None and (latest is None or ts > latest):
                changes[code] = (total, ts)
    await add_to_rollups(session, race.id, source, changes, now)


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
