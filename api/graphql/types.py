"""The GraphQL types, in the domain's words. They wrap read-side records; the ORM never leaks through.

One module past 300 lines: a region, its results and their comparison refer to one another, and strawberry resolves
them best from one namespace; the rules they show are pure code in `api.read.standings`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import strawberry

from api.graphql.context import Info
from api.read import results as read
from api.read import standings
from api.read.catalog import PaslonRow, RaceRow, RegionRow
from api.read.findings import Severity
from api.storage import models
from sirekap.codes import Level, level_of
from sirekap.findings import severity_of

Source = strawberry.enum(models.Source, description="Where numbers come from; sources are never mixed silently.")
ResultStatus = strawberry.enum(
    models.TallyStatus,
    description="PROVISIONAL counts, a CLAIM by one paslon's post, a RECAP step (a pleno below the race's own "
    "level), or the OFFICIAL result (the pleno at the race's own level).",
)
RegionLevel = strawberry.enum(Level, description="A level of the region tree.")
RegionStatus = strawberry.enum(
    standings.RegionStatus, description="Where a region stands on the way to its official result."
)
FindingSeverity = strawberry.enum(
    Severity,
    name="FindingSeverity",
    description="How much a finding matters: ANOMALY (a consistency rule failed), INCOMPLETE (a number a check needs"
    " is missing), NOTE (only a field the upstream may leave out is missing).",
)


@strawberry.type(description="A moment, in UTC and in the race's local time zone.")
class Timestamp:
    utc: datetime = strawberry.field(description="The moment in UTC.")
    zone: str = strawberry.field(description="The local zone's abbreviation, e.g. WITA.")
    local: str = strawberry.field(description="Local time as people read it, e.g. '2020-12-09 14:00 WITA'.")

    @classmethod
    def of(cls, at: datetime | None, time_zone: str) -> Timestamp | None:
        if at is None:
            return None
        local = at.astimezone(ZoneInfo(time_zone))
        zone = local.tzname() or time_zone
        return cls(utc=at, zone=zone, local=f"{local:%Y-%m-%d %H:%M} {zone}")


@strawberry.type(description="A candidate pair (pasangan calon) with its ballot number.")
class Paslon:
    number: int = strawberry.field(description="Ballot number (nomor urut).")
    calon: str = strawberry.field(description="The candidate for head of region.")
    wakil: str = strawberry.field(description="The candidate for deputy.")
    short_name: str = strawberry.field(description="The pair's short name or package, e.g. SEHATI.")
    colour: str | None = strawberry.field(description="Display colour, #rrggbb.")

    @classmethod
    def of(cls, p: PaslonRow | models.Paslon) -> Paslon:
        return cls(number=p.number, calon=p.calon, wakil=p.wakil, short_name=p.short_name, colour=p.colour)


@strawberry.type(description="Votes for one paslon in one result.")
class PaslonVotes:
    paslon: Paslon = strawberry.field(description="The pair.")
    votes: int = strawberry.field(description="Votes counted for the pair.")
    share: float | None = strawberry.field(description="Share of the votes for all pairs in this result, 0..1.")


@strawberry.type(description="How complete a result is: units reported out of units expected.")
class Coverage:
    unit: str = strawberry.field(description="What is counted: 'tps', or the level of the plenos ('kecamatan').")
    reported: int = strawberry.field(description="Units in (for a claim: the TPS it claims to cover).")
    expected: int = strawberry.field(description="Units in the region.")
    ratio: float | None = strawberry.field(description="reported / expected, 0..1.")


@strawberry.type(description="A consistency check that failed or could not run, and how much that matters.")
class Finding:
    check: str = strawberry.field(description="The check's stable name, e.g. votes_sum_valid.")
    kind: str = strawberry.field(description="'invalid' (a contradiction) or 'incomplete' (numbers missing).")
    severity: FindingSeverity = strawberry.field(description="Anomaly, incomplete or note.")  # type: ignore[valid-type]
    message: str = strawberry.field(description="What failed, with the numbers.")

    @classmethod
    def many(cls, findings: list[dict[str, str]]) -> list[Finding]:
        return [
            cls(
                check=f.get("check", ""),
                kind=f.get("kind", ""),
                severity=Severity(severity_of(f)),
                message=f.get("message", ""),
            )
            for f in findings
        ]


@functools.lru_cache(maxsize=1024)
def _paslon_of(row: PaslonRow) -> Paslon:
    """One Paslon per catalog row: a breakdown's results share them instead of building one per result."""
    return Paslon.of(row)


def _paslon(p: PaslonRow | models.Paslon) -> Paslon:
    return _paslon_of(p) if isinstance(p, PaslonRow) else Paslon.of(p)


@strawberry.type(description="One source's numbers for one region.")
class Result:
    #: The moments behind asOf and receivedAt, converted to the race's zone only when asked.
    as_of_utc: strawberry.Private[datetime | None]
    received_at_utc: strawberry.Private[datetime | None]
    time_zone: strawberry.Private[str]
    source: Source = strawberry.field(description="Where the numbers come from.")  # type: ignore[valid-type]
    status: ResultStatus = strawberry.field(description="Provisional, claim or official.")  # type: ignore[valid-type]
    votes: list[PaslonVotes] = strawberry.field(description="Votes per paslon, by ballot number.")
    valid: int | None = strawberry.field(description="Valid votes (suara sah).")
    invalid: int | None = strawberry.field(description="Invalid votes (suara tidak sah).")
    total: int | None = strawberry.field(description="All ballots cast.")
    coverage: Coverage = strawberry.field(description="How complete this source is for the region.")
    as_of: Timestamp | None = strawberry.field(
        resolver=lambda root: Timestamp.of(root.as_of_utc, root.time_zone),
        description="The source's own time for these numbers.",
    )
    as_of_date: date | None = strawberry.field(
        description="The source's day, when only the day is known (asOf is then null)."
    )
    received_at: Timestamp | None = strawberry.field(
        resolver=lambda root: Timestamp.of(root.received_at_utc, root.time_zone),
        description="When Pantau received them.",
    )
    leader: Paslon | None = strawberry.field(description="The pair with the most votes; null on a tie or no votes.")
    margin: int | None = strawberry.field(description="Votes between the leader and the runner-up.")
    claimant: Paslon | None = strawberry.field(description="For a posko claim: the pair whose post made it.")
    note: str | None = strawberry.field(description="Where the numbers were read or published.")
    findings: list[Finding] = strawberry.field(description="Failed consistency checks on these numbers.")
    is_official: bool = strawberry.field(description="True only for the pleno at the race's own level.")
    is_claim: bool = strawberry.field(description="True for a campaign post's claim: never a result.")

    @classmethod
    def of(cls, r: read.SourceResult, paslon: Sequence[PaslonRow | models.Paslon], time_zone: str) -> Result:
        ordered = sorted(paslon, key=lambda p: p.number)
        by_number = {p.number: r.votes.get(p.id, 0) for p in ordered}
        share = standings.shares(by_number)
        votes = [PaslonVotes(paslon=_paslon(p), votes=by_number[p.number], share=share[p.number]) for p in ordered]
        lead = standings.lead(by_number)
        leader = next((v.paslon for v in votes if v.paslon.number == lead.leader), None)
        claimant = next((p for p in paslon if p.number == r.claimant), None) if r.claimant else None
        return cls(
            source=r.source,
            status=r.status,
            votes=votes,
            valid=r.valid,
            invalid=r.invalid,
            total=r.total,
            coverage=Coverage(
                unit=r.unit,
                reported=r.reported,
                expected=r.expected,
                ratio=(r.reported / r.expected) if r.expected else None,
            ),
            as_of_utc=r.as_of,
            received_at_utc=r.received_at,
            time_zone=time_zone,
            as_of_date=r.as_of_date,
            leader=leader,
            margin=lead.margin,
            claimant=_paslon(claimant) if claimant else None,
            note=r.note,
            findings=Finding.many(r.findings),
            is_official=r.status is models.TallyStatus.OFFICIAL and r.source is not models.Source.POSKO,
            is_claim=r.source is models.Source.POSKO,
        )

    @property
    def standing(self) -> standings.Standing:
        return standings.Standing(self.source, self.status, self.coverage.reported, self.coverage.expected)

    def votes_of(self, number: int) -> int:
        return next((v.votes for v in self.votes if v.paslon.number == number), 0)


@strawberry.type(description="How far one source's votes for one paslon are from the reference result's.")
class Difference:
    source: Source = strawberry.field(description="The compared source.")  # type: ignore[valid-type]
    claimant: Paslon | None = strawberry.field(description="For a claim: whose claim.")
    reference: Source = strawberry.field(  # type: ignore[valid-type]
        description="The reference: the official result, else the kecamatan plenos once all are in, else Sirekap."
    )
    paslon: Paslon = strawberry.field(description="The pair.")
    difference: int = strawberry.field(description="Source's votes minus the reference's.")


@strawberry.type(description="Every source side by side for one region.")
class Comparison:
    official: Result | None = strawberry.field(description="The official result for this region, once it exists.")
    results: list[Result] = strawberry.field(description="Sirekap, C.Hasil and the plenos that apply here.")
    claims: list[Result] = strawberry.field(description="Each posko claim: claims, never results.")
    differences: list[Difference] = strawberry.field(description="Per-paslon differences against the reference.")


def compare(results: list[Result], claims: list[Result]) -> Comparison:
    official = next((r for r in results if r.is_official), None)
    chosen = standings.reference([r.standing for r in results])
    reference = next((r for r in results if chosen is not None and r.source is chosen.source), None)
    differences = []
    if reference is not None:
        for other in [*results, *claims]:
            if other is reference:
                continue
            for v in other.votes:
                differences.append(
                    Difference(
                        source=other.source,
                        claimant=other.claimant,
                        reference=reference.source,
                        paslon=v.paslon,
                        difference=v.votes - reference.votes_of(v.paslon.number),
                    )
                )
    return Comparison(official=official, results=results, claims=claims, differences=differences)


REGION_SOURCES = [
    models.Source.SIREKAP,
    models.Source.CHASIL,
    models.Source.PLENO_KECAMATAN,
    models.Source.PLENO_KABUPATEN,
]


@strawberry.type(description="A region of the tree as covered by one race: provinsi, kabupaten/kota, kecamatan, desa.")
class Region:
    race_id: strawberry.Private[int]
    time_zone: strawberry.Private[str]
    parent_code: strawberry.Private[str | None]
    code: str = strawberry.field(description="Kemendagri code without dots, e.g. 530412.")
    name: str = strawberry.field(description="Name as Sirekap spells it.")
    level: RegionLevel = strawberry.field(description="Level in the tree.")  # type: ignore[valid-type]

    @classmethod
    def of(cls, region: RegionRow | models.Region, race: RaceRow | models.Race) -> Region:
        return cls(
            race_id=race.id,
            time_zone=race.time_zone,
            parent_code=region.parent_code,
            code=region.code,
            name=region.name,
            level=Level(region.level),
        )

    async def _race(self, info: Info) -> RaceRow:
        race = await info.context.loaders.catalog.race_by_id(self.race_id)
        assert race is not None
        return race

    @strawberry.field(description="The region above; null at the top of the tree.")
    async def parent(self, info: Info) -> Region | None:
        if self.parent_code is None:
            return None
        found = await info.context.loaders.region.load(self.parent_code)
        return Region.of(found, await self._race(info)) if found else None

    @strawberry.field(description="Every region above, top first.")
    async def ancestors(self, info: Info) -> list[Region]:
        race = await self._race(info)
        codes = [self.code[:n] for n in (2, 4, 6) if n < len(self.code)]
        found = await info.context.loaders.region.load_many(codes)
        return [Region.of(r, race) for r in found if r is not None]

    @strawberry.field(description="The regions directly below that the race covers, by code.")
    async def children(self, info: Info) -> list[Region]:
        race = await self._race(info)
        return [Region.of(r, race) for r in await info.context.loaders.children.load((self.race_id, self.code))]

    @strawberry.field(description="TPS below this region in the race.")
    async def tps_total(self, info: Info) -> int:
        return (await info.context.loaders.catalog.tps_totals(self.race_id, [self.code])).get(self.code, 0)

    @strawberry.field(description="Registered voters (DPT) below this region in the race.")
    async def registered_voters(self, info: Info) -> int:
        row = await info.context.loaders.race_region.load((self.race_id, self.code))
        return row[1] if row else 0

    @strawberry.field(
        description="TPS below whose DPT no Sirekap document has stated yet (a TPS file states it once uploaded and"
        " readable): registeredVoters counts only the others, so it is complete when this is 0."
    )
    async def tps_without_registered_voters(self, info: Info) -> int:
        row = await info.context.loaders.race_region.load((self.race_id, self.code))
        return row[2] if row else 0

    @strawberry.field(description="One source's result here; null when the source has none for this level.")
    async def results(self, info: Info, source: Source) -> Result | None:  # type: ignore[valid-type]
        return (await _results(info, [(self, source)]))[0]

    @strawberry.field(description="The posko claims made for this region, one per claiming paslon.")
    async def claims(self, info: Info) -> list[Result]:
        paslon = await info.context.loaders.catalog.paslon(self.race_id)
        found = await info.context.loaders.claims.load((self.race_id, self.code))
        return [Result.of(c, paslon, self.time_zone) for c in found]

    @strawberry.field(description="Every source side by side, with the official result marked and claims apart.")
    async def comparison(self, info: Info) -> Comparison:
        found = await _results(info, [(self, s) for s in REGION_SOURCES])
        return compare([r for r in found if r is not None], await self.claims(info))

    @strawberry.field(description="Each child region with its result for one source, in one query.")
    async def breakdown(self, info: Info, source: Source) -> list[RegionResult]:  # type: ignore[valid-type]
        children = await self.children(info)
        found = await _results(info, [(child, source) for child in children])
        return [RegionResult(region=c, result=r) for c, r in zip(children, found, strict=True)]

    @strawberry.field(description="Where the region stands: waiting, partial, count complete, plenos done, official.")
    async def status(self, info: Info) -> RegionStatus:  # type: ignore[valid-type]
        found = await _results(info, [(self, s) for s in REGION_SOURCES])
        level = level_of(self.code)
        kecamatan_pleno_in = False
        if level is Level.DESA:
            key = (self.race_id, models.Source.PLENO_KECAMATAN, self.code[:6])
            kecamatan_pleno_in = await info.context.loaders.result.load(key) is not None
        return standings.region_status(level, [r.standing for r in found if r is not None], kecamatan_pleno_in)


async def _results(info: Info, wanted: Sequence[tuple[Region, models.Source]]) -> list[Result | None]:
    """Each (region, source)'s result, null where the source has none for the region's level: one load of the
    request's DataLoader for all of them (a breakdown's children, a comparison's sources), no task per result."""
    asked = [source is not models.Source.POSKO and read.applies(source, region.code) for region, source in wanted]
    keys = [(region.race_id, source, region.code) for (region, source), ask in zip(wanted, asked, strict=True) if ask]
    loaded = iter(await info.context.loaders.result.load_many(keys) if keys else [])
    out: list[Result | None] = []
    paslon: dict[int, list[PaslonRow]] = {}
    for (region, _source), ask in zip(wanted, asked, strict=True):
        found = next(loaded) if ask else None
        if found is None:
            out.append(None)
            continue
        if region.race_id not in paslon:
            paslon[region.race_id] = await info.context.loaders.catalog.paslon(region.race_id)
        out.append(Result.of(found, paslon[region.race_id], region.time_zone))
    return out


@strawberry.type(description="A child region and its result for the requested source.")
class RegionResult:
    region: Region = strawberry.field(description="The child region.")
    result: Result | None = strawberry.field(description="Its result; null when the source has none there.")


@strawberry.type(description="An election contest over one region, e.g. the bupati race of Belu.")
class Race:
    id: strawberry.Private[int]
    region_code: strawberry.Private[str]
    slug: str = strawberry.field(description="Stable identifier, e.g. pkwkk-5304-2020.")
    kind: str = strawberry.field(description="pkwkk (bupati/walikota), pkwkp (gubernur) or ppwp (presiden).")
    title: str = strawberry.field(description="The race's official title.")
    voting_day: date = strawberry.field(description="Voting day.")
    time_zone: str = strawberry.field(description="IANA zone of the race's region, e.g. Asia/Makassar.")
    voter_cap_per_tps: int = strawberry.field(description="Most voters a TPS may have in this race.")

    @classmethod
    def of(cls, race: RaceRow | models.Race) -> Race:
        return cls(
            id=race.id,
            region_code=race.region_code,
            slug=race.slug,
            kind=race.kind,
            title=race.title,
            voting_day=race.voting_day,
            time_zone=race.time_zone,
            voter_cap_per_tps=race.voter_cap_per_tps,
        )

    @strawberry.field(description="The region the race covers.")
    async def region(self, info: Info) -> Region:
        race = await info.context.loaders.catalog.race_by_id(self.id)
        found = await info.context.loaders.region.load(self.region_code)
        assert race is not None and found is not None
        return Region.of(found, race)

    @strawberry.field(description="The candidate pairs, by ballot number.")
    async def paslon(self, info: Info) -> list[Paslon]:
        return [Paslon.of(p) for p in await info.context.loaders.catalog.paslon(self.id)]


Cursor = Annotated[str, strawberry.argument(description="An opaque cursor from a previous page.")]
