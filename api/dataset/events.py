"""The results of a race's night that arrived later, as events in their own time: posko claims and plenos.

Pure: a dataset in, events out, oldest first. An event is played at `at`, the moment it became known. A fact known
only by its day (the SAHABAT claim "on 10 Dec") keeps its day (`as_of_date`), never an invented hour, and is played
at the close of that day (23:59 local), the first moment it is certainly known; the PPK plenos of 12-14 Dec, whose
days per kecamatan are not published, are played at the close of the last day. So a replay never shows a result
before it happened.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from api.storage.models import Source
from api.write.entries import RegionEntry
from sirekap.belu import PLENO_KECAMATAN_DAYS, Belu2020

#: When a fact known only by its day is certainly known: the close of that day.
CLOSE_OF_DAY = time(23, 59)


class Kind(enum.StrEnum):
    POSKO_CLAIM = "posko_claim"
    PLENO_KECAMATAN = "pleno_kecamatan"
    PLENO_KABUPATEN = "pleno_kabupaten"


SOURCES = {Kind.POSKO_CLAIM: Source.POSKO, Kind.PLENO_KECAMATAN: Source.PLENO_KECAMATAN,
           Kind.PLENO_KABUPATEN: Source.PLENO_KABUPATEN}  # fmt: skip
MUTATIONS = {Kind.POSKO_CLAIM: "recordPoskoClaim", Kind.PLENO_KECAMATAN: "recordPlenoKecamatan",
             Kind.PLENO_KABUPATEN: "recordPlenoKabupaten"}  # fmt: skip


@dataclass(frozen=True)
class Event:
    """One result that arrived in its own time; `votes` by ballot number."""

    key: str  # stable across runs: "pkwkk-5304-2020/pleno_kecamatan/530412"
    kind: Kind
    at: datetime  # when it became known, UTC
    region_code: str
    votes: Mapping[int, int]
    note: str
    what: str  # one line for a person reading a timeline
    as_of: datetime | None = None
    as_of_date: date | None = None
    invalid: int | None = None
    tps_claimed: int | None = None
    claimant: int | None = None

    @property
    def source(self) -> Source:
        return SOURCES[self.kind]

    def entry(self, race: str | None = None) -> RegionEntry:
        """The write it is, as the write use cases take it."""
        return RegionEntry(
            region_code=self.region_code,
            votes=dict(self.votes),
            invalid=self.invalid,
            tps_claimed=self.tps_claimed,
            claimant=self.claimant,
            as_of=self.as_of,
            as_of_date=self.as_of_date,
            note=self.note,
            race=race,
        )

    def mutation_input(self, race: str | None = None) -> dict[str, Any]:
        """The write it is, as the GraphQL mutation's `input` (RegionTallyInput)."""
        given: dict[str, Any] = {
            "region": self.region_code,
            "votes": [{"paslon": n, "votes": v} for n, v in sorted(self.votes.items())],
            "invalid": self.invalid,
            "tpsClaimed": self.tps_claimed,
            "claimant": self.claimant,
            "asOf": None if self.as_of is None else self.as_of.isoformat(),
            "asOfDate": None if self.as_of_date is None else self.as_of_date.isoformat(),
            "note": self.note,
            "race": race,
        }
        return {name: value for name, value in given.items() if value is not None}


def night_events(data: Belu2020, slug: str) -> list[Event]:
    """The claims and plenos of a race's dataset, oldest first."""
    zone = ZoneInfo(data.time_zone)
    names = {p.number: p.short_name for p in data.paslon}
    events: list[Event] = []
    for claim in data.posko_claims:
        at, as_of, as_of_date = _known(claim.at_local, zone)
        votes = _listing(claim.votes, names)
        events.append(
            Event(
                key=f"{slug}/{Kind.POSKO_CLAIM}/{claim.claimant}",
                kind=Kind.POSKO_CLAIM,
                at=at,
                region_code=data.region_code,
                votes=claim.votes,
                note=f"claim published by the {claim.short_name} post on {claim.at_local}",
                what=f"the {claim.short_name} post claims {votes} from {claim.tps_claimed} TPS",
                as_of=as_of,
                as_of_date=as_of_date,
                invalid=claim.invalid,
                tps_claimed=claim.tps_claimed,
                claimant=claim.claimant,
            )
        )
    first, last = PLENO_KECAMATAN_DAYS
    read = datetime.combine(last, CLOSE_OF_DAY, zone).astimezone(UTC)
    for row in data.pleno_kecamatan:
        events.append(
            Event(
                key=f"{slug}/{Kind.PLENO_KECAMATAN}/{row.kecamatan_code}",
                kind=Kind.PLENO_KECAMATAN,
                at=read,
                region_code=row.kecamatan_code,
                votes=row.votes,
                note=f"D.Hasil Kecamatan, read at the PPK plenos of {first:%d}-{last:%d %b %Y} (day not published)",
                what=f"PPK pleno of {row.name}: {_listing(row.votes, names)}",
            )
        )
    at, as_of, as_of_date = _known(data.pleno_kabupaten_at_local, zone)
    result = _listing(data.pleno_kabupaten, names)
    events.append(
        Event(
            key=f"{slug}/{Kind.PLENO_KABUPATEN}/{data.region_code}",
            kind=Kind.PLENO_KABUPATEN,
            at=at,
            region_code=data.region_code,
            votes=data.pleno_kabupaten,
            note="D.Hasil Kabupaten, KPU pleno",
            what=f"KPU pleno of the kabupaten: {result}",
            as_of=as_of,
            as_of_date=as_of_date,
        )
    )
    return sorted(events, key=lambda e: (e.at, e.key))


def _listing(votes: Mapping[int, int], names: Mapping[int, str]) -> str:
    """`SEHATI 50,623, SAHABAT 50,376`: most votes first."""
    return ", ".join(f"{names[n]} {v:,}" for n, v in sorted(votes.items(), key=lambda nv: (-nv[1], nv[0])))


def _known(at_local: str, zone: ZoneInfo) -> tuple[datetime, datetime | None, date | None]:
    """(when it became known, its time, its day) for a dataset's local `2020-12-10T00:30` or `2020-12-10`."""
    if "T" in at_local:
        moment = datetime.fromisoformat(at_local).replace(tzinfo=zone).astimezone(UTC)
        return moment, moment, None
    day = date.fromisoformat(at_local)
    return datetime.combine(day, CLOSE_OF_DAY, zone).astimezone(UTC), None, day
