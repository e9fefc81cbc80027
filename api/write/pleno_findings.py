"""Findings of a pleno against what is below it: a pleno is authoritative, and where it differs, that is shown.

A pleno kecamatan is compared with the sum of its TPS C.Hasil entries once every TPS is in; a pleno kabupaten with
the sum of its kecamatan plenos once every one is done. A difference never rejects the pleno: it becomes a finding
stored with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.storage.models import RaceRegion, Rollup, RollupVote, Source, Tally
from api.tallies.writer import votes_of
from api.write.entries import RegionEntry


def _differences(pleno: Mapping[int, int], other: Mapping[int, int]) -> str:
    return ", ".join(
        f"paslon {n}: {pleno.get(n, 0)} vs {other.get(n, 0)} ({pleno.get(n, 0) - other.get(n, 0):+d})"
        for n in sorted(set(pleno) | set(other))
        if pleno.get(n, 0) != other.get(n, 0)
    )


async def pleno_against_chasil(
    session: AsyncSession, race_id: int, numbers: Mapping[int, int], entry: RegionEntry, tps_total: int
) -> list[dict[str, Any]]:
    """The pleno is authoritative; where every TPS's C.Hasil is in and they sum to other numbers, say so."""
    rollup = await session.get(Rollup, (race_id, Source.CHASIL.value, entry.region_code))
    if rollup is None or rollup.tps_in < tps_total:
        return []
    by_id = {paslon_id: number for number, paslon_id in numbers.items()}
    rows = await session.execute(
        select(RollupVote.paslon_id, RollupVote.votes).where(
            RollupVote.race_id == race_id,
            RollupVote.source == Source.CHASIL,
            RollupVote.region_code == entry.region_code,
        )
    )
    summed = {by_id[paslon_id]: votes for paslon_id, votes in rows}
    return _findings("pleno_vs_chasil", f"the {rollup.tps_in} TPS C.Hasil entries", entry.votes, summed)


async def pleno_against_kecamatan(
    session: AsyncSession, race_id: int, numbers: Mapping[int, int], entry: RegionEntry
) -> list[dict[str, Any]]:
    """Where every kecamatan pleno below is done and they sum to other numbers than the kabupaten pleno, say so."""
    kecamatan = list(
        await session.scalars(
            select(RaceRegion.region_code).where(
                RaceRegion.race_id == race_id, RaceRegion.region_code.startswith(entry.region_code)
            )
        )
    )
    expected = {code for code in kecamatan if len(code) == 6}
    done = list(
        await session.scalars(
            select(Tally).where(
                Tally.race_id == race_id,
                Tally.source == Source.PLENO_KECAMATAN,
                Tally.is_current,
                Tally.subject_code.startswith(entry.region_code),
            )
        )
    )
    if not expected or {t.subject_code for t in done} != expected:
        return []
    by_id = {paslon_id: number for number, paslon_id in numbers.items()}
    summed: dict[int, int] = {}
    for votes in (await votes_of(session, [t.id for t in done])).values():
        for paslon_id, count in votes.items():
            summed[by_id[paslon_id]] = summed.get(by_id[paslon_id], 0) + count
    return _findings("pleno_vs_kecamatan", f"the {len(done)} kecamatan plenos", entry.votes, summed)


def _findings(check: str, below: str, pleno: Mapping[int, int], summed: Mapping[int, int]) -> list[dict[str, Any]]:
    """One finding when the pleno differs from the sum of what is below it, else none."""
    differences = _differences(pleno, summed)
    if not differences:
        return []
    return [{"check": check, "kind": "invalid", "message": f"the pleno differs from the sum of {below}: {differences}"}]
