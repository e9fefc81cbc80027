"""What a writer submits (a TPS C.Hasil entry, a posko claim, a pleno result) and its validation, pure.

Validation sorts problems in two: **hard** ones no paper form can have (a negative or non-integer count, a paslon
not in the race, a paslon left out) always reject the entry; **contradictions** between the numbers (the consistency
checks of docs/sirekap-format.md) reject it unless the writer says the numbers match the paper form, in which case
they are stored on the tally as findings. Field names are the GraphQL input's, so a client can mark the field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sirekap.checks import COUNT_LIMIT, Finding, check_tally

#: The input field each consistency check points at.
CHECK_FIELDS = {
    "votes_sum_valid": "valid",
    "valid_invalid_total": "total",
    "total_within_voters": "total",
    "voters_groups_sum": "votersTotal",
    "dpt_users_within_registered": "votersDpt",
    "within_registered_reserve": "total",
    "within_tps_cap": "total",
}
#: The checks that apply to a region's numbers (plenos, claims): the others need one TPS's voters and caps.
REGION_CHECKS = frozenset({"votes_sum_valid", "valid_invalid_total"})


@dataclass(frozen=True)
class FieldError:
    """Why one field of an entry was refused. `overridable`: resubmit with matchesPaperForm if the form says so."""

    field: str
    message: str
    check: str | None = None
    overridable: bool = False


@dataclass(frozen=True)
class TpsEntry:
    """A C.Hasil tally of one TPS as an operator types it; `votes` by ballot number."""

    tps_code: str
    votes: Mapping[int, int]
    valid: int
    invalid: int
    total: int
    voters_dpt: int | None = None
    voters_dptb: int | None = None
    voters_non_dpt: int | None = None
    voters_total: int | None = None
    matches_paper_form: bool = False
    #: The version this entry corrects; None for a first entry.
    corrects_version: int | None = None
    note: str | None = None
    race: str | None = None

    def counts(self) -> dict[str, int | None]:
        return {
            **{f"votes[{n}]": v for n, v in sorted(self.votes.items())},
            "valid": self.valid,
            "invalid": self.invalid,
            "total": self.total,
            "votersDpt": self.voters_dpt,
            "votersDptb": self.voters_dptb,
            "votersNonDpt": self.voters_non_dpt,
            "votersTotal": self.voters_total,
        }


@dataclass(frozen=True)
class RegionEntry:
    """A region's numbers: a posko claim (with the TPS it claims to cover) or a pleno result (D.Hasil)."""

    region_code: str
    votes: Mapping[int, int]
    valid: int | None = None
    invalid: int | None = None
    total: int | None = None
    tps_claimed: int | None = None
    #: The claiming paslon's ballot number (posko claims by admins; an observer's token names its own).
    claimant: int | None = None
    #: When the pleno read the result or the post published the claim.
    as_of: datetime | None = None
    #: The day, when only the day is known (then `as_of` is None).
    as_of_date: date | None = None
    matches_paper_form: bool = False
    corrects_version: int | None = None
    note: str | None = None
    race: str | None = None

    @property
    def derived_valid(self) -> int:
        """Valid votes as given, else the sum of the paslon's votes (what a D.Hasil table adds up to)."""
        return self.valid if self.valid is not None else sum(self.votes.values())

    @property
    def derived_total(self) -> int | None:
        if self.total is not None:
            return self.total
        return None if self.invalid is None else self.derived_valid + self.invalid

    def counts(self) -> dict[str, int | None]:
        return {
            **{f"votes[{n}]": v for n, v in sorted(self.votes.items())},
            "valid": self.valid,
            "invalid": self.invalid,
            "total": self.total,
            "tpsClaimed": self.tps_claimed,
        }


def hard_errors(
    counts: Mapping[str, int | None],
    votes: Mapping[int, int],
    paslon: Collection[int],
    corrects: int | None,
    limit: int | None = COUNT_LIMIT,
) -> list[FieldError]:
    """Problems no paper form can have: counts below 0 or over `limit` (one TPS sheet holds at most 9999), paslon
    not in the race or left out."""
    allowed = "a whole number of 0 or more" if limit is None else f"a whole number from 0 to {limit - 1}"
    errors = [
        FieldError(name, f"must be {allowed}, not {value!r}", "count_range")
        for name, value in counts.items()
        if value is not None and not (type(value) is int and value >= 0 and (limit is None or value < limit))
    ]
    known = ", ".join(str(n) for n in sorted(paslon))
    errors += [
        FieldError(f"votes[{n}]", f"paslon {n} is not in this race (paslon: {known})", "unknown_candidate")
        for n in sorted(set(votes) - set(paslon))
    ]
    errors += [
        FieldError(f"votes[{n}]", f"no count for paslon {n}: give every paslon's votes, 0 included", "missing_field")
        for n in sorted(set(paslon) - set(votes))
    ]
    if corrects is not None and corrects < 1:
        errors.append(FieldError("correctsVersion", "versions start at 1"))
    return errors


def contradictions(findings: list[Finding], checks: Collection[str] | None = None) -> list[Finding]:
    """The `invalid` findings (contradictions), leaving out range checks already reported as hard errors."""
    return [
        f
        for f in findings
        if f.kind == "invalid" and f.check != "count_range" and (checks is None or f.check in checks)
    ]


def as_reasons(found: list[Finding]) -> list[FieldError]:
    hint = " (if the paper form says so, resubmit with matchesPaperForm: true)"
    return [FieldError(CHECK_FIELDS.get(f.check, "votes"), f.message + hint, f.check, True) for f in found]


@dataclass(frozen=True)
class Checked:
    """The outcome of validation: reasons to refuse, or the findings to store with the tally."""

    reasons: list[FieldError]
    findings: list[dict[str, Any]]


def check_tps_entry(
    entry: TpsEntry, *, paslon: Collection[int], registered_voters: int, voter_cap: int, reserve: float = 0.02
) -> Checked:
    errors = hard_errors(entry.counts(), entry.votes, paslon, entry.corrects_version)
    if errors:
        return Checked(errors, [])
    found = contradictions(
        check_tally(
            votes=dict(entry.votes),
            valid=entry.valid,
            invalid=entry.invalid,
            total=entry.total,
            voters_total=entry.voters_total,
            voters_dpt=entry.voters_dpt,
            voters_dptb=entry.voters_dptb,
            voters_non_dpt=entry.voters_non_dpt,
            registered_voters=registered_voters,
            voter_cap=voter_cap,
            reserve=reserve,
        )
    )
    return _settle(found, entry.matches_paper_form)


def check_region_entry(entry: RegionEntry, *, paslon: Collection[int], tps_total: int) -> Checked:
    errors = hard_errors(entry.counts(), entry.votes, paslon, entry.corrects_version, limit=None)
    if entry.tps_claimed is not None and not errors and entry.tps_claimed > tps_total:
        errors.append(FieldError("tpsClaimed", f"the region has {tps_total} TPS, not {entry.tps_claimed}"))
    if entry.as_of is not None and entry.as_of.tzinfo is None:
        errors.append(FieldError("asOf", "needs its UTC offset, e.g. 2020-12-10T00:30:00+08:00"))
    if entry.as_of is not None and entry.as_of_date is not None:
        errors.append(FieldError("asOfDate", "give asOf when the time is known, asOfDate when only the day is"))
    if errors:
        return Checked(errors, [])
    found = contradictions(
        check_tally(
            votes=dict(entry.votes), valid=entry.derived_valid, invalid=entry.invalid, total=entry.derived_total
        ),
        REGION_CHECKS,
    )
    return _settle(found, entry.matches_paper_form)


def _settle(found: list[Finding], matches_paper_form: bool) -> Checked:
    if found and not matches_paper_form:
        return Checked(as_reasons(found), [])
    return Checked([], [f.as_dict() for f in found])
