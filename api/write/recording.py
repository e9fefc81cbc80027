"""The write use cases: a TPS C.Hasil entry or correction, a posko claim, a pleno kecamatan or kabupaten result.

Each runs in the caller's transaction and returns a value, never raising for an expected failure: `Accepted` (the
version written, its findings), `Rejected` (reasons per field), `Conflict` (a stale version was named) or `Refused`
(the token may not write this). Only an `Accepted` outcome is to be committed; it has already written its audit
entry. Every entry names the version it corrects (none for a first entry), so two writers never overwrite each
other unseen. An entry that passes its checks becomes a `PlannedWrite`, applied at once (`api.write.planned`), or,
in a group commit's planning session, with the rest of its group.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth.tokens import Principal, Role
from api.read.catalog import Catalog
from api.read.standings import pleno_status
from api.storage.models import RaceRegion, Source, TallyStatus, Tps
from api.tallies.writer import TallyInput
from api.write.entries import Checked, FieldError, RegionEntry, TpsEntry, check_region_entry, check_tps_entry
from api.write.outcomes import Accepted, Outcome, Refused, Rejected
from api.write.planned import PlannedWrite, WriteRace, apply, planning
from api.write.pleno_findings import pleno_against_chasil, pleno_against_kecamatan
from sirekap.codes import CodeError, Level, level_of

#: Who may write each source.
WRITERS = {
    Source.CHASIL: {Role.OPERATOR, Role.ADMIN},
    Source.POSKO: {Role.OBSERVER, Role.ADMIN},
    Source.PLENO_KECAMATAN: {Role.RECAP_OFFICER, Role.ADMIN},
    Source.PLENO_KABUPATEN: {Role.RECAP_OFFICER, Role.ADMIN},
}
WHAT = {
    Source.CHASIL: "enter C.Hasil tallies",
    Source.POSKO: "record posko claims",
    Source.PLENO_KECAMATAN: "record pleno kecamatan results",
    Source.PLENO_KABUPATEN: "record pleno kabupaten results",
}


def _refusal(principal: Principal, source: Source, code: str) -> Refused | None:
    if principal.role not in WRITERS[source]:
        return Refused(f"a {principal.role} token may not {WHAT[source]}")
    if not principal.covers(code):
        return Refused(f"{code} is outside this token's region {principal.region_code}")
    return None


async def _race(catalog: Catalog, slug: str | None, code: str) -> WriteRace | None:
    """The race named by slug, else the newest race whose region covers the code (as the read side does)."""
    races = await catalog.races()
    found = next((r for r in races if (slug is None or r.slug == slug) and code.startswith(r.region_code)), None)
    if found is None:
        return None
    return WriteRace(found, {p.number: p.id for p in await catalog.paslon(found.id)})


def _no_race(slug: str | None, code: str) -> Rejected:
    if slug is not None:
        return Rejected([FieldError("race", f"no race {slug!r} covers {code}")])
    return Rejected([FieldError("race", f"no race covers {code}")])


async def _write(
    session: AsyncSession,
    principal: Principal,
    race: WriteRace,
    *,
    source: Source,
    subject: str,
    claimant: int,
    tally: TallyInput,
    votes_by_number: Mapping[int, int],
    corrects: int | None,
    now: datetime,
    tps_id: int | None = None,
) -> Outcome:
    plan = PlannedWrite(principal, race, source, subject, claimant, tally, votes_by_number, corrects, now, tps_id)
    planner = planning(session)
    if planner is None:
        (outcome,) = await apply(session, [plan], received_at=now)
        return outcome
    # Part of a group commit: the group applies the plan, and its outcome is decided there.
    planner.planned = plan
    return Accepted(race.row.slug, race.row.id, source, subject, claimant, (corrects or 0) + 1, changed=True)


def _check_code(field_name: str, code: str, levels: set[Level]) -> Rejected | None:
    try:
        level = level_of(code)
    except CodeError as error:
        return Rejected([FieldError(field_name, str(error))])
    if level not in levels:
        wanted = " or ".join(sorted(lv.value for lv in levels))
        return Rejected([FieldError(field_name, f"{code} is a {level.value} code; a {wanted} code is needed")])
    return None


#: Most TPS a planning keeps (`Planning.known_tps`).
MAX_KNOWN_TPS = 1_000_000
_TPS = select(Tps.id, Tps.registered_voters).where(Tps.race_id == bindparam("race_id"), Tps.code == bindparam("code"))


async def _tps(session: AsyncSession, race_id: int, code: str) -> tuple[int, int] | None:
    """A TPS's id and DPT, or None if the race has no such TPS."""
    planner = planning(session)
    known = planner.known_tps if planner is not None else {}
    tps = known.get((race_id, code))
    if tps is None:
        found = (await session.execute(_TPS, {"race_id": race_id, "code": code})).one_or_none()
        if found is None:
            return None
        tps = (found.id, found.registered_voters)
        if planner is not None and found.registered_voters > 0:
            if len(known) >= MAX_KNOWN_TPS:
                known.clear()
            known[(race_id, code)] = tps
    return tps


async def submit_tps_tally(
    session: AsyncSession, catalog: Catalog, principal: Principal, entry: TpsEntry, now: datetime
) -> Outcome:
    """An operator's C.Hasil tally of one TPS: a first entry, or a correction of the version it names."""
    bad = _check_code("tps", entry.tps_code, {Level.TPS})
    if bad is not None:
        return bad
    refused = _refusal(principal, Source.CHASIL, entry.tps_code)
    if refused is not None:
        return refused
    race = await _race(catalog, entry.race, entry.tps_code)
    if race is None:
        return _no_race(entry.race, entry.tps_code)
    tps = await _tps(session, race.row.id, entry.tps_code)
    if tps is None:
        return Rejected([FieldError("tps", f"no TPS {entry.tps_code} in race {race.row.slug}")])
    tps_id, registered_voters = tps
    checked = check_tps_entry(
        entry, paslon=race.numbers, registered_voters=registered_voters, voter_cap=race.row.voter_cap_per_tps
    )
    if checked.reasons:
        return Rejected(checked.reasons)
    tally = TallyInput(
        votes={race.numbers[n]: v for n, v in entry.votes.items()},
        valid=entry.valid,
        invalid=entry.invalid,
        total=entry.total,
        voters_dpt=entry.voters_dpt,
        voters_dptb=entry.voters_dptb,
        voters_non_dpt=entry.voters_non_dpt,
        voters_total=entry.voters_total,
        source_ts=now,
        findings=checked.findings,
        entered_by=principal.label[:64],
        note=entry.note,
    )
    return await _write(
        session,
        principal,
        race,
        source=Source.CHASIL,
        subject=entry.tps_code,
        claimant=0,
        tally=tally,
        votes_by_number=entry.votes,
        corrects=entry.corrects_version,
        now=now,
        tps_id=tps_id,
    )


async def record_claim(
    session: AsyncSession, catalog: Catalog, principal: Principal, entry: RegionEntry, now: datetime
) -> Outcome:
    """A posko claim for a region: the claiming paslon's numbers and the TPS it claims to cover."""
    bad = _check_code("region", entry.region_code, {Level.PROVINSI, Level.KABUPATEN, Level.KECAMATAN, Level.DESA})
    if bad is not None:
        return bad
    refused = _refusal(principal, Source.POSKO, entry.region_code)
    if refused is not None:
        return refused
    claimant = entry.claimant
    if principal.role is Role.OBSERVER:
        if claimant is not None and claimant != principal.paslon:
            return Rejected([FieldError("claimant", f"this token speaks for paslon {principal.paslon} only")])
        claimant = principal.paslon
    if claimant is None:
        return Rejected([FieldError("claimant", "name the paslon whose post makes the claim")])
    if entry.tps_claimed is None:
        return Rejected([FieldError("tpsClaimed", "say how many TPS the claim covers")])
    return await _region_write(session, catalog, principal, entry, Source.POSKO, claimant, TallyStatus.CLAIM, now)


async def record_pleno(
    session: AsyncSession, catalog: Catalog, principal: Principal, entry: RegionEntry, source: Source, now: datetime
) -> Outcome:
    """A pleno result: D.Hasil Kecamatan (source PLENO_KECAMATAN) or D.Hasil Kabupaten/Kota (PLENO_KABUPATEN).

    Official only at the race's own level (see `api.read.standings`); a pleno below it is a step of the recap."""
    level = Level.KECAMATAN if source is Source.PLENO_KECAMATAN else Level.KABUPATEN
    bad = _check_code(level.value, entry.region_code, {level})
    if bad is not None:
        return bad
    refused = _refusal(principal, source, entry.region_code)
    if refused is not None:
        return refused
    return await _region_write(session, catalog, principal, entry, source, 0, None, now)


async def _region_write(
    session: AsyncSession,
    catalog: Catalog,
    principal: Principal,
    entry: RegionEntry,
    source: Source,
    claimant: int,
    status: TallyStatus | None,
    now: datetime,
) -> Outcome:
    """A region-level write; `status` None for a pleno, whose status follows from the race's kind."""
    race = await _race(catalog, entry.race, entry.region_code)
    if race is None:
        return _no_race(entry.race, entry.region_code)
    covered = await session.get(RaceRegion, (race.row.id, entry.region_code))
    if covered is None:
        return Rejected([FieldError("region", f"{entry.region_code} is not in race {race.row.slug}")])
    if source is Source.POSKO and claimant not in race.numbers:
        return Rejected([FieldError("claimant", f"paslon {claimant} is not in race {race.row.slug}")])
    checked: Checked = check_region_entry(entry, paslon=race.numbers, tps_total=covered.tps_total)
    if checked.reasons:
        return Rejected(checked.reasons)
    findings = list(checked.findings)
    if source is Source.PLENO_KECAMATAN:
        findings += await pleno_against_chasil(session, race.row.id, race.numbers, entry, covered.tps_total)
    elif source is Source.PLENO_KABUPATEN:
        findings += await pleno_against_kecamatan(session, race.row.id, race.numbers, entry)
    tally = TallyInput(
        votes={race.numbers[n]: v for n, v in entry.votes.items()},
        valid=entry.derived_valid,
        invalid=entry.invalid,
        total=entry.derived_total,
        tps_claimed=entry.tps_claimed,
        source_ts=entry.as_of or (None if entry.as_of_date else now),
        source_date=entry.as_of_date,
        status=status or pleno_status(race.row.kind, source),
        findings=findings,
        entered_by=principal.label[:64],
        note=entry.note,
    )
    return await _write(
        session,
        principal,
        race,
        source=source,
        subject=entry.region_code,
        claimant=claimant,
        tally=tally,
        votes_by_number=entry.votes,
        corrects=entry.corrects_version,
        now=now,
    )
