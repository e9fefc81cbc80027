"""Rollup arithmetic, pure: how a tally write changes the sums of the regions above its TPS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

NUMBER_FIELDS = ("valid", "invalid", "total", "voters_total")


@dataclass(frozen=True)
class Numbers:
    """The numbers of one tally that roll up. Unknown (None) counts as 0 in sums."""

    votes: Mapping[int, int] = field(default_factory=dict)  # paslon id -> votes
    valid: int | None = None
    invalid: int | None = None
    total: int | None = None
    voters_total: int | None = None


@dataclass(frozen=True)
class Delta:
    """What to add to every rollup above a TPS."""

    tps_in: int = 0
    votes: Mapping[int, int] = field(default_factory=dict)
    valid: int = 0
    invalid: int = 0
    total: int = 0
    voters_total: int = 0

    def is_zero(self) -> bool:
        return not (
            self.tps_in or any(self.votes.values()) or self.valid or self.invalid or self.total or self.voters_total
        )


def _value(numbers: Numbers | None, name: str) -> int:
    if numbers is None:
        return 0
    value: int | None = getattr(numbers, name)
    return value or 0


def delta(old: Numbers | None, new: Numbers | None) -> Delta:
    """The change from `old` (None: the TPS had no tally) to `new` (None: the tally is withdrawn)."""
    paslon = set(old.votes if old else ()) | set(new.votes if new else ())
    return Delta(
        tps_in=(new is not None) - (old is not None),
        votes={p: (new.votes.get(p, 0) if new else 0) - (old.votes.get(p, 0) if old else 0) for p in sorted(paslon)},
        **{name: _value(new, name) - _value(old, name) for name in NUMBER_FIELDS},
    )


@dataclass
class Totals:
    """A region's sums, as a rollup holds them."""

    tps_in: int = 0
    votes: dict[int, int] = field(default_factory=dict)
    valid: int = 0
    invalid: int = 0
    total: int = 0
    voters_total: int = 0

    def add(self, change: Delta) -> None:
        self.tps_in += change.tps_in
        for paslon, votes in change.votes.items():
            self.votes[paslon] = self.votes.get(paslon, 0) + votes
        self.valid += change.valid
        self.invalid += change.invalid
        self.total += change.total
        self.voters_total += change.voters_total

    def without_zero_votes(self) -> Totals:
        return Totals(
            self.tps_in,
            {p: v for p, v in sorted(self.votes.items()) if v},
            self.valid,
            self.invalid,
            self.total,
            self.voters_total,
        )


def sum_tallies(tallies: Iterable[Numbers]) -> Totals:
    """The totals of a set of current TPS tallies, computed from scratch."""
    totals = Totals()
    for numbers in tallies:
        totals.add(delta(None, numbers))
    return totals
