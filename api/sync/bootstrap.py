"""Bootstrap a race from the upstream: its paslon from the candidate file and its region tree, down to the TPS, from
the `/wilayah/…` lists, so pointing Pantau at a new election needs no hand-made fixture.

The lists are the real layout's (`sirekap.races`): a bupati/walikota race names its province and kab/kota from the
governor's lists (`/wilayah/pilkada/pkwkp/0.json`, `…/pkwkp/{p}.json`) and its own tree starts at
`/wilayah/pilkada/pkwkk/{p}/{kk}.json`.

The race's identity comes from the configured target, never from a document: a race already in the database (same
kind, region and voting day) is reused: missing regions and TPS are added, and paslon without an upstream id get the
candidate file's id of their ballot number. A new race is created with:
  - slug and voting day from the target's election (`pkwkk-5304-2024`, 2024-11-27),
  - title from the kind and the region's name ("Pemilihan Bupati BELU", "Pemilihan Presiden"),
  - time zone from the province (`sirekap.zones`),
  - per-TPS voter cap of the election's rules (300 in Pemilu 2024, 500 in Pilkada 2020, 600 in Pilkada 2024),
  - TPS with 0 registered voters until a TPS file states its `pemilih_dpt_j` (the only place the layout gives it).
Everything is fetched first and written in one transaction: a bootstrap cut short writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.storage.models import Paslon, Race, RaceRegion, Region, Tps
from api.sync.fetcher import Fetcher
from api.sync.pool import bounded_map
from api.sync.state import ensure_sync_race
from sirekap.codes import LENGTHS, Level, ancestors_of, level_of, parent_of
from sirekap.documents import Candidate, DocumentError, RegionEntry, parse_candidates, parse_region_list
from sirekap.races import RaceTarget

_T = TypeVar("_T")


class BootstrapFailed(Exception):
    """The upstream could not give what a bootstrap needs; `reason` is a failure reason, `path` the document."""

    def __init__(self, reason: str, path: str, detail: str) -> None:
        super().__init__(f"{reason}: {path}: {detail}")
        self.reason = reason
        self.path = path
        self.detail = detail


@dataclass(frozen=True)
class Bootstrapped:
    race_id: int
    created: bool
    regions_added: int
    tps_added: int
    paslon_linked: int
    documents: int


@dataclass
class _Tree:
    regions: dict[str, tuple[str, Level, str | None]]  # code → name, level, parent
    tps: list[str]


async def bootstrap_race(
    sessions: async_sessionmaker[AsyncSession],
    fetcher: Fetcher,
    target: RaceTarget,
    *,
    source_zone: ZoneInfo,
    now: datetime,
    concurrency: int = 16,
) -> Bootstrapped:
    """Fetch the candidates and the region tree of `target` and write what the database lacks. Raises
    BootstrapFailed when a document cannot be had; nothing is written then."""
    documents = 0

    async def get(path: str) -> bytes:
        nonlocal documents
        fetched = await fetcher.get(path)
        documents += 1
        if fetched.status != "ok":
            raise BootstrapFailed(fetched.reason or "transport", path, fetched.detail)
        return fetched.body

    def parsed(path: str, parse: Callable[[bytes], _T], raw: bytes) -> _T:
        try:
            return parse(raw)
        except DocumentError as error:
            raise BootstrapFailed(error.reason, path, str(error)) from None

    candidates_path = target.candidates_path()
    candidate_file = parsed(
        candidates_path,
        lambda raw: parse_candidates(raw, source_zone=source_zone),
        await get(candidates_path),
    )
    race_key = target.region_code if target.family == "pilkada" else ""
    candidates = candidate_file.races.get(race_key)
    if not candidates:
        raise BootstrapFailed("shape", candidates_path, f"no candidates for race region {race_key or '0'}")

    async with sessions() as session:
        race = await find_race(session, target)
        known_regions = set((await session.scalars(select(Region.code))).all())

    tree = _Tree({}, [])
    # names of the race region and its ancestors, from their parents' lists
    for code in [*ancestors_of(target.region_code), target.region_code] if target.region_code else []:
        if code in known_regions:
            continue
        parent = parent_of(code) or ""
        path = target.region_list_path(parent)
        entries = parsed(path, parse_region_list, await get(path))
        match = [e for e in entries if e.code == code]
        if not match:
            raise BootstrapFailed("shape", path, f"region {code} is not listed")
        tree.regions[code] = (match[0].name, level_of(code), parent or None)

    # the tree below the race region, one level at a time
    level_codes = [target.region_code]
    while level_codes:

        async def children(code: str) -> list[RegionEntry]:
            path = target.region_list_path(code)
            return parsed(path, parse_region_list, await get(path))

        listed = await bounded_map(children, level_codes, concurrency)
        next_codes: list[str] = []
        for parent, entries in zip(level_codes, listed, strict=True):
            for entry in entries:
                if not entry.code.startswith(parent):
                    path = target.region_list_path(parent)
                    raise BootstrapFailed("shape", path, f"{entry.code} is not below {parent}")
                if entry.level is Level.TPS:
                    tree.tps.append(entry.code)
                else:
                    tree.regions[entry.code] = (entry.name, entry.level, parent or None)
                    next_codes.append(entry.code)
        level_codes = next_codes

    async with sessions.begin() as session:
        result = await _write(session, target, candidates, tree, now)
    return Bootstrapped(result[0], race is None, result[1], result[2], result[3], documents)


async def find_race(session: AsyncSession, target: RaceTarget) -> Race | None:
    """The race of this kind over this region on the target's voting day, if the database has one."""
    race: Race | None = await session.scalar(
        select(Race).where(
            Race.kind == target.kind,
            Race.region_code == target.region_code,
            Race.voting_day == target.election.day,
        )
    )
    return race


async def _write(
    session: AsyncSession,
    target: RaceTarget,
    candidates: list[Candidate],
    tree: _Tree,
    now: datetime,
) -> tuple[int, int, int, int]:
    known = set((await session.scalars(select(Region.code))).all())
    missing = [
        {"code": code, "name": name[:120], "level": level.value, "parent_code": parent}
        for code, (name, level, parent) in sorted(tree.regions.items(), key=lambda item: (len(item[0]), item[0]))
        if code not in known
    ]
    if target.region_code == "" and "" not in known:
        missing.insert(0, {"code": "", "name": "INDONESIA", "level": Level.NATIONAL.value, "parent_code": None})
    for start in range(0, len(missing), 1000):
        await session.execute(insert(Region), missing[start : start + 1000])

    race = await find_race(session, target)
    if race is None:
        name = tree.regions.get(target.region_code, ("", Level.NATIONAL, None))[0]
        if target.region_code and name == "":
            name = await session.scalar(select(Region.name).where(Region.code == target.region_code)) or ""
        race_id = await session.scalar(
            insert(Race)
            .values(
                slug=target.slug,
                kind=target.kind,
                title=target.title(name),
                region_code=target.region_code,
                voting_day=target.election.day,
                time_zone=target.zone,
                voter_cap_per_tps=target.election.voter_cap,
            )
            .returning(Race.id)
        )
        assert race_id is not None
    else:
        race_id = race.id

    linked = 0
    existing = {p.number: p for p in await session.scalars(select(Paslon).where(Paslon.race_id == race_id))}
    for candidate in candidates:
        paslon = existing.get(candidate.number)
        if paslon is None:
            await session.execute(
                insert(Paslon).values(
                    race_id=race_id,
                    number=candidate.number,
                    calon=candidate.calon[:200],
                    wakil=candidate.wakil[:200],
                    short_name=candidate.calon.title()[:60] or f"Paslon {candidate.number}",
                    colour=candidate.colour,
                    upstream_id=candidate.upstream_id,
                )
            )
            linked += 1
        elif paslon.upstream_id != candidate.upstream_id:
            await session.execute(
                update(Paslon).where(Paslon.id == paslon.id).values(upstream_id=candidate.upstream_id)
            )
            linked += 1

    have_tps = set((await session.scalars(select(Tps.code).where(Tps.race_id == race_id))).all())
    new_tps = [
        {
            "race_id": race_id,
            "code": code,
            "number": int(code[10:]),
            "desa_code": code[:10],
            "kecamatan_code": code[:6],
            "kabupaten_code": code[:4],
            "provinsi_code": code[:2],
            "registered_voters": 0,
        }
        for code in sorted(set(tree.tps) - have_tps)
    ]
    for start in range(0, len(new_tps), 2000):
        await session.execute(insert(Tps), new_tps[start : start + 2000])
    if new_tps:
        await _recount_race_regions(session, race_id, target.region_code)
    sync = await ensure_sync_race(session, race_id, str(target))
    sync.bootstrapped_at = now
    return race_id, len(missing), len(new_tps), linked


async def _recount_race_regions(session: AsyncSession, race_id: int, top: str) -> None:
    """TPS, registered voters and TPS whose DPT is unknown (0) below each region of the race, counted from its TPS."""
    tps: dict[str, int] = defaultdict(int)
    voters: dict[str, int] = defaultdict(int)
    unknown: dict[str, int] = defaultdict(int)
    lengths = sorted(n for n in set(LENGTHS.values()) if len(top) <= n < LENGTHS[Level.TPS])
    rows = await session.execute(select(Tps.code, Tps.registered_voters).where(Tps.race_id == race_id))
    for code, registered in rows:
        for n in lengths:
            tps[code[:n]] += 1
            voters[code[:n]] += registered
            unknown[code[:n]] += registered == 0
    have = set((await session.scalars(select(RaceRegion.region_code).where(RaceRegion.race_id == race_id))).all())
    new = [
        {
            "race_id": race_id,
            "region_code": code,
            "tps_total": tps[code],
            "registered_voters": voters[code],
            "tps_without_dpt": unknown[code],
        }
        for code in sorted(tps)
        if code not in have
    ]
    for start in range(0, len(new), 2000):
        await session.execute(insert(RaceRegion), new[start : start + 2000])
    table: Table = RaceRegion.__table__  # type: ignore[assignment]
    changed = [
        {"code": code, "n": tps[code], "v": voters[code], "u": unknown[code]} for code in sorted(tps) if code in have
    ]
    if changed:
        await session.execute(
            update(table)
            .where(table.c.race_id == race_id, table.c.region_code == bindparam("code"))
            .values(tps_total=bindparam("n"), registered_voters=bindparam("v"), tps_without_dpt=bindparam("u")),
            changed,
        )
