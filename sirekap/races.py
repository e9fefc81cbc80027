"""The races Sirekap publishes, and how Pantau is told which to follow: one place for what the sync, the monitor and
the simulator know about them. Pure, standard library only.

Race kinds (Sirekap's race codes), each over one level of the region tree:

    ppwp    Pemilihan Presiden          Pemilu   the whole country (region "", written `ppwp` or `ppwp 0`)
    pkwkp   Pemilihan Gubernur          Pilkada  a provinsi (2 digits, `pkwkp 53`)
    pkwkk   Pemilihan Bupati/Walikota   Pilkada  a kabupaten/kota (4 digits, `pkwkk 5304`)

Known elections (voting day, the per-TPS voter cap of its rules): Pilkada 2020 (2020-12-09, 500), Pemilu 2024
(2024-02-14, 300), Pilkada 2024 (2024-11-27, 600). A race's identity is its kind, region and election, taken from
the configuration and never from a document's time.

Targets (`PANTAU_SYNC_RACES`, comma-separated): `KIND REGION [ELECTION]`, ELECTION a year of a known election of
the kind (`pkwkk 5304 2020`) or a voting day (`pkwkk 5304 2029-11-28`); without it, the newest known election of the
kind. A target's `label` (`pkwkk-5304`, `ppwp-0`) names it in both services' metrics; its `slug`
(`pkwkk-5304-2024`) names the race in the API.

Paths (docs/sirekap-format.md), for a target of each kind:

    candidates        /pemilu/ppwp.json                  /pilkada/paslon/{kind}.json
    region lists      /wilayah/pemilu/ppwp/0.json …      /wilayah/pilkada/pkwkp/0.json, /wilayah/pilkada/pkwkp/{p}.json,
                                                         then (pkwkp) /wilayah/pilkada/pkwkp/{p}/{kk}.json …
                                                         or   (pkwkk) /wilayah/pilkada/pkwkk/{p}/{kk}.json …
    aggregated files  /pemilu/hhcw/ppwp.json, …/{p}.json …            /pilkada/hhcw/{kind}/{p}.json, …/{p}/{kk}.json …
    TPS file          …/{p}/{kk}/{kec}/{desa}/{tps}.json

A bupati/walikota race has no province or kab/kota list of its own (there is no `/wilayah/pilkada/pkwkk/0.json` nor
`/wilayah/pilkada/pkwkk/{p}.json`): it names its province and kab/kota from the governor's lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sirekap.codes import LENGTHS, CodeError, Level, level_of, url_path
from sirekap.zones import zone_of

#: The zone KPU's national systems write `ts` in: the default source zone of the upstream's zone-less times.
SOURCE_ZONE = "Asia/Jakarta"

Document = Literal["candidates", "list", "file"]


class RaceError(ValueError):
    """A race target that cannot be followed; the message names the entry and says what to write instead."""


@dataclass(frozen=True)
class Kind:
    """A race kind: its code, the election family it belongs to, the level of its region, its title."""

    code: str
    family: str  # "pemilu" or "pilkada": the path segment of its documents
    level: Level
    title: str
    example: str


KINDS: dict[str, Kind] = {
    "ppwp": Kind("ppwp", "pemilu", Level.NATIONAL, "Pemilihan Presiden", "ppwp"),
    "pkwkp": Kind("pkwkp", "pilkada", Level.PROVINSI, "Pemilihan Gubernur", "pkwkp 53"),
    "pkwkk": Kind("pkwkk", "pilkada", Level.KABUPATEN, "Pemilihan Bupati", "pkwkk 5304"),
}


@dataclass(frozen=True)
class Election:
    """One election day: its family, its voting day, the most voters one TPS may have under its rules."""

    family: str
    day: date
    voter_cap: int

    @property
    def year(self) -> int:
        return self.day.year

    @property
    def name(self) -> str:
        return f"{self.family.capitalize()} {self.year}"


PILKADA_2020 = Election("pilkada", date(2020, 12, 9), 500)
PEMILU_2024 = Election("pemilu", date(2024, 2, 14), 300)
PILKADA_2024 = Election("pilkada", date(2024, 11, 27), 600)
#: Every election Pantau knows, oldest first.
ELECTIONS: tuple[Election, ...] = (PILKADA_2020, PEMILU_2024, PILKADA_2024)

_YEAR = re.compile(r"\d{4}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def election_for(kind: Kind, spec: str | None) -> Election:
    """The election named by `spec` (a year, a voting day, or None for the newest known) for a race kind."""
    known = [e for e in ELECTIONS if e.family == kind.family]
    if spec is None:
        return known[-1]
    if _YEAR.fullmatch(spec):
        found = [e for e in known if e.year == int(spec)]
        if not found:
            years = ", ".join(str(e.year) for e in known)
            raise RaceError(
                f"no known {kind.family.capitalize()} in {spec} (known: {years});"
                f" give its voting day instead, e.g. {spec}-11-27"
            )
        return found[0]
    if not _DAY.fullmatch(spec):
        raise RaceError(f"{spec!r} is neither a year nor a voting day (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(spec)
    except ValueError:
        raise RaceError(f"{spec!r} is not a date") from None
    same_year = [e for e in known if e.year == day.year]
    if same_year and same_year[0].day != day:
        raise RaceError(f"{same_year[0].name} voted on {same_year[0].day.isoformat()}, not {spec}")
    return same_year[0] if same_year else Election(kind.family, day, known[-1].voter_cap)


@dataclass(frozen=True)
class RaceTarget:
    """A race to follow: Sirekap's race kind, the race's region (`""`: the whole country) and its election."""

    kind: str
    region_code: str
    election: Election

    @classmethod
    def parse(cls, text: str) -> RaceTarget:
        """`"pkwkk 5304"`, `"pkwkk 5304 2020"`, `"pkwkp 53 2024-11-27"`, `"ppwp"` (or `"ppwp 0"`)."""
        parts = text.split()
        if not parts:
            raise RaceError("an empty race: write KIND REGION [ELECTION], e.g. 'pkwkk 5304'")
        kind = KINDS.get(parts[0])
        if kind is None:
            raise RaceError(f"unknown race {parts[0]!r} in {text.strip()!r}: the kinds are {', '.join(KINDS)}")
        try:
            if len(parts) > 3:
                raise RaceError("too many words: write KIND REGION [ELECTION]")
            region = "" if len(parts) < 2 or parts[1] == "0" else parts[1]
            _check_region(kind, region)
            return cls(kind.code, region, election_for(kind, parts[2] if len(parts) > 2 else None))
        except RaceError as error:
            raise RaceError(f"race {text.strip()!r}: {error}") from None

    @property
    def label(self) -> str:
        """The `race` label of both services' metrics: `pkwkk-5304`, `ppwp-0`."""
        return f"{self.kind}-{self.region_code or '0'}"

    @property
    def slug(self) -> str:
        """The race's slug in the API: `pkwkk-5304-2024`."""
        return f"{self.label}-{self.election.year}"

    @property
    def family(self) -> str:
        return KINDS[self.kind].family

    @property
    def zone(self) -> str:
        """The local zone of the race's region (WIB, WITA or WIT)."""
        return zone_of(self.region_code)

    def title(self, region_name: str) -> str:
        """`Pemilihan Bupati BELU`, `Pemilihan Walikota KOTA KUPANG`, `Pemilihan Presiden`."""
        title = KINDS[self.kind].title
        if self.kind == "pkwkk" and region_name.startswith("KOTA "):
            title = "Pemilihan Walikota"
        return f"{title} {region_name}".strip()

    def __str__(self) -> str:
        return f"{self.kind} {self.region_code or '0'} {self.election.day.isoformat()}"

    # paths

    def candidates_path(self) -> str:
        return "/pemilu/ppwp.json" if self.kind == "ppwp" else f"/pilkada/paslon/{self.kind}.json"

    def region_list_path(self, code: str) -> str:
        """The `/wilayah/…` list of the children of `code` (`""`: the provinces)."""
        level_of(code)
        if self.kind == "pkwkk" and len(code) < LENGTHS[Level.KABUPATEN]:
            return f"/wilayah/pilkada/pkwkp/{code or '0'}.json"
        return f"/wilayah/{self.family}/{self.kind}/{url_path(code) or '0'}.json"

    def region_file_path(self, code: str) -> str:
        """The aggregated file of a region (its counts and one row per child), or the TPS file of a TPS code."""
        path = url_path(code)
        return f"/{self.family}/hhcw/{self.kind}/{path}.json" if path else f"/{self.family}/hhcw/{self.kind}.json"

    def race_file_path(self) -> str:
        """The aggregated file of the race's own region: what the monitor probes and every pass starts from."""
        return self.region_file_path(self.region_code)

    def document_at(self, path: str) -> tuple[Document, str] | None:
        """What a path of this race's layout holds and for which code: ("candidates", ""), ("list", parent) or
        ("file", code); None for a path outside the layout (the inverse of the path methods). Whether the code
        exists is the caller's business."""
        if path == self.candidates_path():
            return "candidates", ""
        if path == self.region_file_path("") and KINDS[self.kind].level is Level.NATIONAL:
            return "file", ""
        code = _code_in(path, f"/{self.family}/hhcw/{self.kind}/")
        if code:
            return "file", code
        for prefix in (f"/wilayah/{self.family}/{self.kind}/", "/wilayah/pilkada/pkwkp/"):
            code = "" if path == f"{prefix}0.json" else _code_in(path, prefix)
            if code is not None and level_of(code) is not Level.TPS and self.region_list_path(code) == path:
                return "list", code
        return None


def _check_region(kind: Kind, region: str) -> None:
    if kind.level is Level.NATIONAL:
        if region:
            raise RaceError(f"{kind.code} covers the whole country: write '{kind.code}' or '{kind.code} 0'")
        return
    if not region:
        raise RaceError(f"{kind.code} needs a {kind.level} code, e.g. '{kind.example}'")
    try:
        level = level_of(region)
    except CodeError as error:
        raise RaceError(str(error)) from None
    if level is not kind.level:
        raise RaceError(f"{kind.code} needs a {kind.level} code ({LENGTHS[kind.level]} digits), not {region!r}")


def _code_in(path: str, prefix: str) -> str | None:
    if not (path.startswith(prefix) and path.endswith(".json")):
        return None
    chain = path[len(prefix) : -5]
    code = chain.rpartition("/")[2]
    try:
        return code if code and url_path(code) == chain else None
    except CodeError:
        return None


def parse_targets(entries: str | tuple[str, ...] | list[str]) -> tuple[RaceTarget, ...]:
    """Every target of a `PANTAU_SYNC_RACES` value (comma-separated, or already split); each race once."""
    parts = entries.split(",") if isinstance(entries, str) else list(entries)
    targets: list[RaceTarget] = []
    for part in parts:
        if not part.strip():
            continue
        target = RaceTarget.parse(part)
        if any(t.label == target.label for t in targets):
            raise RaceError(f"race {part.strip()!r}: {target.kind} {target.region_code or '0'} is listed twice")
        targets.append(target)
    return tuple(targets)


def race_file_url(base_url: str, target: RaceTarget) -> str:
    """The race's aggregated file under a data host: `{base}/pilkada/hhcw/pkwkk/53/5304.json`."""
    return base_url.rstrip("/") + target.race_file_path()
