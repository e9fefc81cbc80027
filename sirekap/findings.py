"""Findings: what a consistency check says about a set of numbers, and how much it matters. Pure.

Each finding has a `kind` (what happened to the check) and a `severity` (what a reader should make of it):

    kind "invalid"     the numbers contradict each other          → severity "anomaly"
    kind "incomplete"  the check could not run: inputs missing    → severity "incomplete" when a required number is
                                                                    missing (nothing uploaded, a candidate's count,
                                                                    suara_sah …), "note" when every missing input is
                                                                    an optional field the upstream may leave out

Only an anomaly makes a TPS an anomaly. Pilkada 2024 TPS files publish no `pengguna_total_*`, `pengguna_dptb_*` or
`pengguna_non_dpt_*`: the checks that need them are noted as not run, and the TPS is not an anomaly for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sirekap.tps_files import OPTIONAL_ADMINISTRASI_KEYS

Kind = Literal["incomplete", "invalid"]
Severity = Literal["anomaly", "incomplete", "note"]
SEVERITIES: tuple[Severity, ...] = ("anomaly", "incomplete", "note")


@dataclass(frozen=True)
class Finding:
    """One check that failed (`invalid`) or could not run (`incomplete`); `message` names the numbers."""

    check: str
    kind: Kind
    message: str
    severity: Severity

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "kind": self.kind, "severity": self.severity, "message": self.message}


def contradiction(check: str, message: str) -> Finding:
    """A failed consistency rule: an anomaly."""
    return Finding(check, "invalid", message, "anomaly")


def not_checked(check: str, missing: Iterable[str]) -> Finding:
    """A check that could not run because `missing` inputs are absent: a note when all of them are optional."""
    names = list(missing)
    severity: Severity = "note" if names and all(is_optional(name) for name in names) else "incomplete"
    return Finding(check, "incomplete", f"cannot check: {', '.join(names)} missing", severity)


def is_optional(name: str) -> bool:
    """Whether an input (an administrasi key, or `votes[…]`) is one the upstream may leave out."""
    return name in OPTIONAL_ADMINISTRASI_KEYS


def severity_of(finding: Mapping[str, Any]) -> Severity:
    """The severity of a stored finding; findings stored before severities existed have only their kind."""
    stated = finding.get("severity")
    if stated in SEVERITIES:
        return stated  # type: ignore[no-any-return]
    return "anomaly" if finding.get("kind") == "invalid" else "incomplete"
