"""What a pass must look at, decided from documents and the state of the last pass. Pure: no I/O.

A region's row in its parent's table (candidate votes and TPS progress) is reduced to a fingerprint. A region whose
row still has the fingerprint its subtree was last fully synced to is skipped with everything below it; the others
are descended into. At the bottom, a TPS file is fetched only when the desa's row for that TPS shows votes that
differ from the current tally. So a pass costs in proportion to what changed, not to the size of the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from sirekap.codes import document_path
from sirekap.documents import ChildRow, Progress, RegionFile

ELECTIONS = {"ppwp": "pemilu", "pkwkp": "pilkada", "pkwkk": "pilkada"}


@dataclass(frozen=True)
class RaceTarget:
    """A race to sync as configured: Sirekap's race code and the race's region code (`""`: the whole country)."""

    kind: str
    region_code: str

    @classmethod
    def parse(cls, text: str) -> RaceTarget:
        """`"pkwkk 5304"`, `"pkwkp 53"`, `"ppwp"` (or `"ppwp 0"`) for the presidential race."""
        parts = text.split()
        if not parts or parts[0] not in ELECTIONS or len(parts) > 2:
            raise ValueError(f"race {text!r}: expected 'KIND REGION' with KIND one of {', '.join(ELECTIONS)}")
        region = parts[1] if len(parts) == 2 else ""
        region = "" if region == "0" else region
        if region and not region.isdigit():
            raise ValueError(f"race {text!r}: region must be a region code")
        if (parts[0] == "ppwp") != (region == ""):
            raise ValueError(f"race {text!r}: ppwp covers the whole country; pkwkp/pkwkk need a region")
        return cls(parts[0], region)

    @property
    def label(self) -> str:
        """The `race` label of the sync metrics: `pkwkk-5304`, `ppwp-0`."""
        return f"{self.kind}-{self.region_code or '0'}"

    def __str__(self) -> str:
        return f"{self.kind} {self.region_code or '0'}"


@dataclass(frozen=True)
class Layout:
    """Sirekap's paths for one race kind."""

    kind: str

    @property
    def election(self) -> str:
        return ELECTIONS[self.kind]

    def region_file(self, code: str) -> str:
        """The aggregated file of a region, or the TPS file of a TPS code."""
        return document_path(self.election, "hhcw", self.kind, code)

    def region_list(self, code: str) -> str:
        """The `/wilayah/…` list of a region's children (`""`: the provinces)."""
        return document_path(self.election, "wilayah", self.kind, code)

    def candidates(self) -> str:
        return f"/pemilu/{self.kind}.json" if self.election == "pemilu" else f"/pilkada/paslon/{self.kind}.json"


def fingerprint(votes: Mapping[str, int] | None, progress: Progress | None, persen: float | None = None) -> str:
    """A short digest of the numbers of a region as a table row or a chart shows them."""
    parts = [f"{key}={value}" for key, value in sorted((votes or {}).items())]
    if progress is not None:
        parts.append(f"tps={progress.tps_in}/{progress.tps_total}")
    elif persen is not None:
        parts.append(f"persen={persen:.2f}")
    return hashlib.blake2b(";".join(parts).encode(), digest_size=16).hexdigest()


def row_fingerprint(row: ChildRow) -> str:
    return fingerprint(row.votes, row.progress, row.persen)


def chart_fingerprint(doc: RegionFile) -> str:
    return fingerprint(doc.votes, doc.progress)


def changed_children(doc: RegionFile, synced: Mapping[str, str | None], *, full: bool = False) -> list[ChildRow]:
    """The rows of `doc` whose subtree is not synced to what the row now shows (`synced`: code → fingerprint)."""
    if full:
        return list(doc.children.values())
    return [row for row in doc.children.values() if synced.get(row.code) != row_fingerprint(row)]


def changed_tps(
    doc: RegionFile, current: Mapping[str, Mapping[str, int]], *, full: bool = False
) -> tuple[list[str], list[str]]:
    """The TPS of a desa file to fetch, and those it lists that are still empty upstream.

    `current` maps TPS code → votes by upstream candidate id of its current tally. A TPS whose row has no votes is
    not fetched: before upload there is nothing to store, and a TPS whose data vanished upstream keeps its last good
    tally. A row whose votes equal the current tally is not fetched either (unless `full`).
    """
    fetch: list[str] = []
    empty: list[str] = []
    for code, row in doc.children.items():
        if row.votes is None:
            empty.append(code)
        elif full or dict(current.get(code, {})) != row.votes:
            fetch.append(code)
    return fetch, empty
