"""What one pass over one race did: its outcome, what it wrote, and the documents it could not use."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from api.sync.state import Rejection, describe

Outcome = Literal["success", "partial", "failure"]


@dataclass
class PassResult:
    outcome: Outcome
    reason: str | None = None
    detail: str = ""
    upstream_ts: datetime | None = None
    tps_in: int | None = None
    tps_total: int | None = None
    tps_written: int = 0
    #: Kecamatan with a TPS written this pass: what the pass announces to subscribers.
    changed_kecamatan: set[str] = field(default_factory=set)
    rejections: list[Rejection] = field(default_factory=list)
    #: Documents of a region or TPS that could not be fetched this pass, with the fetch's reason.
    unfetched: list[Rejection] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    rebootstrap: bool = False
    #: Regions and TPS whose document was read this pass, and desa whose every TPS is synced: no longer unreadable.
    read: set[str] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)

    @property
    def unreadable(self) -> list[Rejection]:
        """The documents that cannot be read whatever the host's health (`api.sync.state.UNREADABLE_REASONS`)."""
        return [r for r in self.rejections + self.unfetched if r.unreadable]

    def summary(self) -> str:
        """What went wrong, in one line: the reason and detail of a failed pass; the documents a partial pass could
        not use, by path."""
        if self.outcome == "failure":
            return f"{self.reason}: {self.detail}"
        return describe(self.rejections + self.unfetched)


@dataclass(frozen=True)
class DptOnly:
    """A TPS file with no votes yet that states the TPS's registered voters (DPT)."""

    tps_id: int
    tps_code: str
    registered_voters: int
