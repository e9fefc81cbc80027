"""Standings, pure: who leads and by how much, which result is official, what a comparison is measured against,
and where a region stands on the way to its official result.

Only the pleno at the race's own level makes a result official: the kabupaten/kota pleno for a bupati/walikota race
(pkwkk), the province's for a governor race (pkwkp), the national one for the president (ppwp). The plenos below it
are steps of the tiered recap (`RECAP`): legal at their level, never the race's result. Pantau records plenos of
kecamatan and kabupaten/kota, so a pkwkp or ppwp race has no official result in it yet, and never a lower one in its
place.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.storage.models import RaceKind, Source, TallyStatus
from sirekap.codes import Level

#: The source that records the pleno at each race's own level, where Pantau records it.
OFFICIAL_SOURCE: dict[str, Source | None] = {
    RaceKind.PKWKK: Source.PLENO_KABUPATEN,
    RaceKind.PKWKP: None,
    RaceKind.PPWP: None,
}
PLENO_SOURCES = frozenset({Source.PLENO_KECAMATAN, Source.PLENO_KABUPATEN})


class RegionStatus(enum.Enum):
    WAITING = "waiting"
    PARTIAL = "partial"
    COUNT_COMPLETE = "count_complete"
    PLENO_KECAMATAN_DONE = "pleno_kecamatan_done"
    OFFICIAL = "official"


def official_source(race_kind: str) -> Source | None:
    return OFFICIAL_SOURCE.get(race_kind)


def pleno_status(race_kind: str, source: Source) -> TallyStatus:
    """The status a pleno result of `source` gets in a race of `race_kind`: official only at the race's level."""
    if source not in PLENO_SOURCES:
        raise ValueError(f"{source} is not a pleno")
    return TallyStatus.OFFICIAL if official_source(race_kind) is source else TallyStatus.RECAP


@dataclass(frozen=True)
class Lead:
    leader: int | None  # ballot number; None on a tie or with no votes
    margin: int | None  # votes between the first and the second; None with no votes


def lead(votes: Mapping[int, int]) -> Lead:
    """The leader by ballot number and the margin over the runner-up, from votes by ballot number."""
    ranked = sorted(votes.values(), reverse=True)
    if not ranked or ranked[0] <= 0:
        return Lead(None, None)
    margin = ranked[0] - (ranked[1] if len(ranked) > 1 else 0)
    if margin == 0:
        return Lead(None, 0)
    return Lead(next(number for number, count in votes.items() if count == ranked[0]), margin)


def shares(votes: Mapping[int, int]) -> dict[int, float | None]:
    """Each paslon's share of the votes counted for all paslon, 0..1; None when nothing was counted."""
    counted = sum(votes.values())
    return {number: (count / counted if counted else None) for number, count in votes.items()}


@dataclass(frozen=True)
class Standing:
    """What the rules need to know of one source's result for a region."""

    source: Source
    status: TallyStatus
    reported: int
    expected: int

    @property
    def is_official(self) -> bool:
        return self.status is TallyStatus.OFFICIAL and self.source is not Source.POSKO

    @property
    def complete(self) -> bool:
        return self.expected > 0 and self.reported >= self.expected


def official(results: Sequence[Standing]) -> Standing | None:
    return next((r for r in results if r.is_official), None)


def reference(results: Sequence[Standing]) -> Standing | None:
    """What the other sources are compared with: the official result, else a recap complete for the region, else
    Sirekap."""
    found = official(results)
    found = found or next((r for r in results if r.source is Source.PLENO_KECAMATAN and r.complete), None)
    return found or next((r for r in results if r.source is Source.SIREKAP), None)


def region_status(level: Level, results: Sequence[Standing], kecamatan_pleno_in: bool = False) -> RegionStatus:
    """Where a region stands. `kecamatan_pleno_in`: for a desa, whether its kecamatan's pleno is in."""
    if official(results) is not None:
        return RegionStatus.OFFICIAL
    recap = next((r for r in results if r.source is Source.PLENO_KECAMATAN), None)
    if (recap is not None and recap.complete) or (level is Level.DESA and kecamatan_pleno_in):
        return RegionStatus.PLENO_KECAMATAN_DONE
    counted = [r for r in results if r.source in (Source.SIREKAP, Source.CHASIL)]
    best = max((r.reported for r in counted), default=0)
    expected = max((r.expected for r in counted), default=0)
    if expected and best >= expected:
        return RegionStatus.COUNT_COMPLETE
    return RegionStatus.PARTIAL if best else RegionStatus.WAITING
